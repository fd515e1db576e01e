//! The SQL of [`noegle_core::store::GuessStore`]: the per-address guess count every node shares.

use async_trait::async_trait;
use noegle_core::store::{GuessStore, StoreResult};

use super::backend::{Backend, Sql};
use super::{Pools, SqlStore, column};

#[async_trait]
impl<B: Backend> GuessStore for SqlStore<B> {
    async fn count_guess(&self, address: &str, window: i64) -> StoreResult<i64> {
        let sql = Sql::new(
            "INSERT INTO guess_windows (address, window_start, guesses) VALUES ($1, $2, 1) \
             ON CONFLICT (address, window_start) DO UPDATE SET guesses = guess_windows.guesses + 1 \
             RETURNING guesses",
        )
        .bind(address)
        .bind(window);
        column(self.writer(), sql).await?.ok_or_else(|| crate::backend(sqlx::Error::RowNotFound))
    }
}

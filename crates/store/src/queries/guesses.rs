//! The SQL of [`noegle_core::store::GuessStore`]: the per-address guess count every node shares. Expanded by
//! `impl_store!` for each backend.

/// Implements `GuessStore` for `$store` over the sqlx database `$db`.
macro_rules! impl_guesses {
    ($store:ty, $db:ty) => {
        #[async_trait]
        impl GuessStore for $store {
            async fn count_guess(&self, address: &str, window: i64) -> StoreResult<i64> {
                let row = sqlx::query(
                    "INSERT INTO guess_windows (address, window_start, guesses) VALUES ($1, $2, 1) \
                     ON CONFLICT (address, window_start) DO UPDATE SET guesses = guess_windows.guesses + 1 \
                     RETURNING guesses",
                )
                .bind(address)
                .bind(window)
                .fetch_one(&self.writer)
                .await
                .db()?;
                row.try_get(0).db()
            }
        }
    };
}

pub(crate) use impl_guesses;

//! A database made before a migration opens with its rows carried over (a restored backup is such a
//! database: the archive holds the file whole, and opening it runs the migrations it lacks). These tests
//! need the databases themselves: the memory store has no schema.
use noegle_core::UnixTime;
use noegle_core::device::Device;
use sqlx::migrate::Migrator;

/// The rows of a database before its devices had two moments (migration 8): `d-plain` activated at 50
/// after its wait ended at 40, `d-reset` activated at 50 and cooling off until 900 after a code reset,
/// `d-pending` waiting until 80.
const BEFORE_THE_SPLIT: &str = "\
    INSERT INTO users (sub, user_id, display_name, password_hash, created_at) VALUES ('s', 'alice', 'A', 'h', 1);
    INSERT INTO devices (device_id, serial, sub, public_key, platform, os_version, name, status, created_at,
        ready_at, expires_at, activated_at) VALUES
        ('d-plain', '1', 's', 'k', 'web', '1', 'p', 'active', 10, 40, 100, 50),
        ('d-reset', '2', 's', 'k', 'web', '1', 'r', 'active', 10, 900, 100, 50),
        ('d-pending', '3', 's', 'k', 'web', '1', 'w', 'pending', 20, 80, 100, NULL);";

/// The migrations of `all` up to and including `version`.
fn up_to(all: Migrator, version: i64) -> Migrator {
    let migrations: Vec<_> = all.iter().filter(|m| m.version <= version).cloned().collect();
    Migrator { migrations: migrations.into(), ..all }
}

/// Checks the three devices of [`BEFORE_THE_SPLIT`] after the store opened (and migrated) their database.
async fn each_moment_is_in_its_own_field(url: &str) {
    let store = noegle_store::open(url).await.unwrap();
    let moments = |d: Device| (d.second_login_from, d.cooling_off_until, d.ready_at());
    let plain = moments(store.device(&"d-plain".into()).await.unwrap().unwrap());
    assert_eq!(plain, (UnixTime(40), None, UnixTime(40)), "never reset: its moment is the second log-in's");
    let reset = store.device(&"d-reset".into()).await.unwrap().unwrap();
    assert!(reset.cooling_off(UnixTime(899)) && !reset.cooling_off(UnixTime(900)), "still cooling off");
    assert_eq!(moments(reset), (UnixTime(50), Some(UnixTime(900)), UnixTime(900)), "reset: moved over");
    let pending = store.device(&"d-pending".into()).await.unwrap().unwrap();
    assert!(pending.ready_for_second_login(UnixTime(80)) && !pending.ready_for_second_login(UnixTime(79)));
    assert_eq!(moments(pending), (UnixTime(80), None, UnixTime(80)));
}

#[tokio::test]
async fn a_sqlite_database_from_before_the_split_of_ready_at_keeps_each_devices_moments() {
    let dir = tempfile::tempdir().unwrap();
    let url = noegle_store::testing::sqlite_url(dir.path());
    let options = url.parse::<sqlx::sqlite::SqliteConnectOptions>().unwrap().create_if_missing(true);
    let pool = sqlx::SqlitePool::connect_with(options).await.unwrap();
    up_to(sqlx::migrate!("../../migrations/sqlite"), 8).run(&pool).await.unwrap();
    sqlx::raw_sql(BEFORE_THE_SPLIT).execute(&pool).await.unwrap();
    pool.close().await;
    each_moment_is_in_its_own_field(&url).await;
}

#[tokio::test]
async fn a_postgres_database_from_before_the_split_of_ready_at_keeps_each_devices_moments() {
    let url = noegle_store::testing::fresh_postgres_database().await.unwrap();
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    up_to(sqlx::migrate!("../../migrations/postgres"), 8).run(&pool).await.unwrap();
    sqlx::raw_sql(BEFORE_THE_SPLIT).execute(&pool).await.unwrap();
    pool.close().await;
    each_moment_is_in_its_own_field(&url).await;
}

//! Test support: a fresh Postgres database per test, dropped afterwards, so tests that touch
//! Postgres run in parallel and leave nothing behind.
//!
//! The admin connection comes from `DATABASE_URL` (as `scripts/services.sh` exports it), or
//! `postgres://postgres@127.0.0.1:5432/postgres`. Databases are named
//! `authz_test_<created, unix seconds>_<hex>`; [`drop_leftovers`] removes those a killed run
//! left (older than an hour, so runs going on meanwhile keep theirs), and so does
//! `psql "$DATABASE_URL" -f crates/authz-testdb/drop_leftovers.sql` from a script.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection};

/// The admin connection used when `DATABASE_URL` is not set.
pub const DEFAULT_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// The prefix of every database this crate creates.
pub const PREFIX: &str = "authz_test_";

/// Why a test database could not be made or removed.
#[derive(Debug, thiserror::Error)]
pub enum TestDbError {
    #[error("admin url `{url}` is invalid: {source}")]
    Url { url: String, source: sqlx::Error },
    #[error("postgres at `{url}`: {source}")]
    Postgres { url: String, source: sqlx::Error },
}

/// The admin URL: `DATABASE_URL`, or [`DEFAULT_ADMIN_URL`].
pub fn admin_url() -> String {
    std::env::var("DATABASE_URL")
        .ok()
        .filter(|url| !url.is_empty())
        .unwrap_or_else(|| DEFAULT_ADMIN_URL.to_owned())
}

/// A database of its own for one test; dropping this value drops the database.
#[derive(Debug)]
pub struct TestDatabase {
    name: String,
    admin: PgConnectOptions,
    options: PgConnectOptions,
}

impl TestDatabase {
    /// Creates an empty database `authz_test_<random hex>`.
    pub async fn create() -> Result<TestDatabase, TestDbError> {
        let url = admin_url();
        let admin: PgConnectOptions = url.parse().map_err(|source| TestDbError::Url {
            url: url.clone(),
            source,
        })?;
        let postgres = |source| TestDbError::Postgres {
            url: url.clone(),
            source,
        };
        let mut connection = admin.connect().await.map_err(postgres)?;
        // The server's clock stamps the name, so leftovers are told from running tests' by age.
        let created: i64 = sqlx::query_scalar("SELECT extract(epoch FROM now())::bigint")
            .fetch_one(&mut connection)
            .await
            .map_err(postgres)?;
        let name = format!("{PREFIX}{created}_{}", random_hex());
        // The name is ours (prefix and hex digits): nothing to quote.
        sqlx::raw_sql(&format!("CREATE DATABASE {name}"))
            .execute(&mut connection)
            .await
            .map_err(postgres)?;
        connection.close().await.map_err(postgres)?;
        let options = admin.clone().database(&name);
        Ok(TestDatabase {
            name,
            admin,
            options,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Options that connect to this database as the admin user.
    pub fn options(&self) -> PgConnectOptions {
        self.options.clone()
    }

    /// The URL of this database.
    pub fn url(&self) -> String {
        self.options.to_url_lossy().to_string()
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        // Drop runs inside the test's runtime, where blocking on async work panics: the drop
        // happens on a thread of its own with a small runtime of its own, joined here so the
        // database is gone when the test ends.
        let admin = self.admin.clone();
        let name = self.name.clone();
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(drop_database(&admin, &name))
        })
        .join();
        match dropped {
            Ok(Ok(())) => {}
            Ok(Err(error)) => eprintln!("test database {} was not dropped: {error}", self.name),
            Err(_) => eprintln!("test database {}: the drop thread panicked", self.name),
        }
    }
}

async fn drop_database(admin: &PgConnectOptions, name: &str) -> Result<(), std::io::Error> {
    let other = |error: sqlx::Error| std::io::Error::other(error.to_string());
    let mut connection = admin.connect().await.map_err(other)?;
    // FORCE: pools of the test may still hold connections (they close asynchronously).
    sqlx::raw_sql(&format!(r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#))
        .execute(&mut connection)
        .await
        .map_err(other)?;
    connection.close().await.map_err(other)
}

/// Test databases older than this are leftovers of killed runs: no test runs that long.
pub const LEFTOVER_AGE_SECS: i64 = 3600;

/// Drops the `authz_test_<created>_<hex>` databases created more than [`LEFTOVER_AGE_SECS`]
/// ago (left by killed test runs; those of tests running now are younger); returns their
/// names.
pub async fn drop_leftovers() -> Result<Vec<String>, TestDbError> {
    let url = admin_url();
    let admin: PgConnectOptions = url.parse().map_err(|source| TestDbError::Url {
        url: url.clone(),
        source,
    })?;
    let postgres = |source| TestDbError::Postgres {
        url: url.clone(),
        source,
    };
    let mut connection = admin.connect().await.map_err(postgres)?;
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT datname FROM pg_database \
         WHERE datname ~ ('^' || $1 || '[0-9]+_[0-9a-f]+$') \
           AND split_part(substr(datname, length($1) + 1), '_', 1)::bigint \
               < extract(epoch FROM now()) - $2 \
         ORDER BY datname",
    )
    .bind(PREFIX)
    .bind(LEFTOVER_AGE_SECS)
    .fetch_all(&mut connection)
    .await
    .map_err(postgres)?;
    connection.close().await.map_err(postgres)?;
    for name in &names {
        drop_database(&admin, name)
            .await
            .map_err(|error| postgres(sqlx::Error::Io(error)))?;
    }
    Ok(names)
}

/// 64 random bits as hex: the std hasher's per-process random keys, a counter, the process
/// id (no dependency for a name).
fn random_hex() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    hasher.write_u32(std::process::id());
    format!("{:016x}", hasher.finish())
}

//! Postgres errors in the store's terms: what the caller did wrong is `InvalidInput`, a lost
//! race to create is `AlreadyExists`, everything else is `Unavailable` (the call did not
//! happen; the transaction rolled back).

use authz_store::StoreError;

/// Why the store could not start.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    // The url is kept for the caller but never printed: it may hold a password.
    #[error("the database url is invalid: {source}")]
    Url { url: String, source: sqlx::Error },
    #[error("cannot connect to postgres: {0}")]
    Connect(sqlx::Error),
    #[error("cannot listen for commits: {0}")]
    Listen(sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(sqlx::migrate::MigrateError),
}

/// Any error of a store call. Postgres refuses some values the model allows (text with NUL
/// characters, timestamps out of its range): those are the request's fault, not the store's.
pub(crate) fn unavailable(error: sqlx::Error) -> StoreError {
    if let sqlx::Error::Database(database) = &error
        && database.code().is_some_and(|code| code.starts_with("22"))
    {
        return StoreError::invalid_input(
            "request",
            format!("cannot be stored: {}", database.message()),
        );
    }
    StoreError::Unavailable(error.to_string())
}

/// Whether `error` is a unique violation (a concurrent create got there first).
pub(crate) fn is_unique_violation(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(database) if database.is_unique_violation())
}

/// The store holds something it could not have written: a bug or a hand edit.
pub(crate) fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(format!("stored data is unreadable: {what}"))
}

//! Why a store operation failed, in terms the edge maps to a gRPC status in one place.

use authz_core::PolicyError;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The policy does not compile; nothing was written.
    #[error("policy of tenant `{tenant}` is invalid: {error}")]
    InvalidPolicy { tenant: String, error: PolicyError },
    /// A field of the request is invalid; nothing was written. `field` is the request's field
    /// path (`writes[3].relationship`).
    #[error("`{field}`: {why}")]
    InvalidInput { field: String, why: String },
    #[error("{what} `{id}` does not exist")]
    NotFound { what: &'static str, id: String },
    #[error("{what} `{id}` already exists")]
    AlreadyExists { what: &'static str, id: String },
    /// The write was conditional on a revision that is no longer current.
    #[error("tenant `{tenant}` is at revision {current}, not {expected}")]
    RevisionConflict {
        tenant: String,
        expected: u64,
        current: u64,
    },
    /// The store cannot be reached or failed; the write, if any, did not happen.
    #[error("store is unavailable: {0}")]
    Unavailable(String),
}

impl StoreError {
    pub fn invalid_input(field: impl Into<String>, why: impl Into<String>) -> StoreError {
        StoreError::InvalidInput {
            field: field.into(),
            why: why.into(),
        }
    }
}

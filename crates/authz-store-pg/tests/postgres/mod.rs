//! What only the Postgres backend has, beyond the conformance suite.

mod feed;
mod imports;
mod listener;
mod migrations;
mod pooler;
mod security;

use authz_core::TenantPolicy;
use authz_store::Store;

use crate::conformance;

/// Writes `policy` (which must be accepted); returns its revision.
pub(crate) async fn put(store: &dyn Store, policy: TenantPolicy) -> u64 {
    conformance::put(store, policy).await
}

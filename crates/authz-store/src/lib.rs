//! Where tenant policies live. The [`Store`] trait is what the server loads from; this stage
//! ships the in-memory backend (embedded mode and tests). The Postgres backend arrives with the
//! admin API and must pass the same conformance tests.
//!
//! Stores only load and persist; they never decide.

use std::collections::BTreeMap;
use std::sync::Arc;

use authz_core::{PolicyError, Snapshot, TenantPolicy};
use tokio::sync::RwLock;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("policy of tenant `{tenant}` is invalid: {error}")]
    InvalidPolicy { tenant: String, error: PolicyError },
    #[error("store is unavailable: {0}")]
    Unavailable(String),
}

/// One tenant's policy at the revision it was last written.
#[derive(Debug, Clone)]
pub struct StoredTenant {
    pub policy: Arc<TenantPolicy>,
    pub revision: u64,
}

/// The source of truth for tenant policies.
#[async_trait::async_trait]
pub trait Store: std::fmt::Debug + Send + Sync + 'static {
    /// Every tenant (the platform tenant excluded), with the revision of its last write.
    async fn tenants(&self) -> Result<Vec<StoredTenant>, StoreError>;
    /// The platform tenant's policy, if platform staff are configured.
    async fn platform(&self) -> Result<Option<StoredTenant>, StoreError>;
    /// The revision of `tenant_id`'s latest committed write (`None`: no such tenant) — what a
    /// `fully_consistent` check must be decided at.
    async fn revision(&self, tenant_id: &str) -> Result<Option<u64>, StoreError>;
    /// Replaces (or creates) a tenant's policy after checking it compiles against the current
    /// platform policy; returns the new revision. An invalid policy writes nothing, and the
    /// platform's reserved id is refused: only [`Store::put_platform`] writes platform staff.
    async fn put_tenant(&self, policy: TenantPolicy) -> Result<u64, StoreError>;
    /// Replaces (or creates) the platform tenant's policy (id `platform`) after checking it
    /// compiles; returns the new revision. An invalid policy writes nothing.
    async fn put_platform(&self, policy: TenantPolicy) -> Result<u64, StoreError>;
}

/// Tenant policies held in memory: the embedded mode of `authz-server` and the test backend.
#[derive(Debug, Default)]
pub struct InMemoryStore {
    inner: RwLock<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    revision: u64,
    tenants: BTreeMap<String, StoredTenant>,
    platform: Option<StoredTenant>,
}

impl InMemoryStore {
    pub fn new() -> Self {
        InMemoryStore::default()
    }
}

#[async_trait::async_trait]
impl Store for InMemoryStore {
    async fn tenants(&self) -> Result<Vec<StoredTenant>, StoreError> {
        Ok(self.inner.read().await.tenants.values().cloned().collect())
    }

    async fn platform(&self) -> Result<Option<StoredTenant>, StoreError> {
        Ok(self.inner.read().await.platform.clone())
    }

    async fn revision(&self, tenant_id: &str) -> Result<Option<u64>, StoreError> {
        let inner = self.inner.read().await;
        Ok(inner.tenants.get(tenant_id).map(|stored| stored.revision))
    }

    async fn put_tenant(&self, policy: TenantPolicy) -> Result<u64, StoreError> {
        let mut inner = self.inner.write().await;
        let revision = inner.revision + 1;
        let platform = inner.platform.as_ref().map(|stored| &*stored.policy);
        Snapshot::compile(&policy, platform, revision).map_err(|error| invalid(&policy, error))?;
        inner.revision = revision;
        let id = policy.tenant.id.clone();
        let stored = StoredTenant {
            policy: Arc::new(policy),
            revision,
        };
        inner.tenants.insert(id, stored);
        Ok(revision)
    }

    async fn put_platform(&self, policy: TenantPolicy) -> Result<u64, StoreError> {
        let mut inner = self.inner.write().await;
        let revision = inner.revision + 1;
        Snapshot::compile_platform(&policy, revision).map_err(|error| invalid(&policy, error))?;
        inner.revision = revision;
        inner.platform = Some(StoredTenant {
            policy: Arc::new(policy),
            revision,
        });
        Ok(revision)
    }
}

fn invalid(policy: &TenantPolicy, error: PolicyError) -> StoreError {
    StoreError::InvalidPolicy {
        tenant: policy.tenant.id.clone(),
        error,
    }
}

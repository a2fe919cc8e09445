//! Where tenants live: the [`Store`] trait the server loads from and writes through, and the
//! in-memory backend (embedded mode and tests). The Postgres backend (`authz-store-pg`) passes
//! the same conformance suite.
//!
//! Stores only load and persist; they never decide. Every write is all-or-nothing, bumps the
//! tenant's revision once, and appends the change events followers (replicas, caches) read.

mod diff;
mod error;
mod memory;
pub mod page;
mod records;
pub mod validate;

use authz_core::TenantPolicy;
use authz_core::model::{PLATFORM_TENANT_ID, Tenant, TenantStatus};
use tokio::sync::broadcast;

pub use diff::{MAX_RELATIONSHIP_EVENTS, PolicyDiff, relationship_delta};
pub use error::StoreError;
pub use memory::InMemoryStore;
pub use page::{Cursor, Page, PageRequest};
pub use records::{
    Change, ChangeEvent, ChangeFeed, ChangeKind, Committed, ImportOptions, ImportReport, KeyOwner,
    PolicyChange, RelationshipFilter, RelationshipOp, RelationshipPage, RelationshipWrite,
    StoredTenant, TenantRecord, relationship_key,
};

/// The source of truth for tenants, their policies and relationships.
#[async_trait::async_trait]
pub trait Store: std::fmt::Debug + Send + Sync + 'static {
    // ---- reading, for serving ----

    /// The ids of every tenant, the platform tenant excluded, in id order.
    async fn tenant_ids(&self) -> Result<Vec<String>, StoreError>;
    /// A tenant's whole policy (relationships included) at its current revision. Also answers
    /// for the platform tenant.
    async fn load_tenant(&self, tenant_id: &str) -> Result<Option<StoredTenant>, StoreError>;
    /// Every tenant's current revision, the platform's included, in one read: how a follower
    /// finds what it missed (and tenants created or gone) without asking tenant by tenant.
    async fn revisions(&self) -> Result<Vec<(String, u64)>, StoreError>;
    /// A tenant's policy without its relationships (left empty), at its current revision: what
    /// a replica reloads when the policy part changed, without reading every relationship.
    async fn load_policy(&self, tenant_id: &str) -> Result<Option<StoredTenant>, StoreError> {
        Ok(self.load_tenant(tenant_id).await?.map(|stored| {
            let mut policy = (*stored.policy).clone();
            policy.relationships = Vec::new();
            StoredTenant {
                policy: std::sync::Arc::new(policy),
                revision: stored.revision,
            }
        }))
    }
    /// The revision of `tenant_id`'s latest committed write (`None`: no such tenant) — what a
    /// `fully_consistent` check must be decided at.
    async fn revision(&self, tenant_id: &str) -> Result<Option<u64>, StoreError>;
    /// What changed in `tenant_id` after revision `after`, at most about `limit` events (a
    /// write's events are never split).
    async fn changes_since(
        &self,
        tenant_id: &str,
        after: u64,
        limit: usize,
    ) -> Result<ChangeFeed, StoreError>;
    /// Announcements of commits, as they happen. A lagging receiver must catch up from
    /// [`Store::changes_since`]; announcements are a hint to read soon, never the data.
    fn subscribe(&self) -> broadcast::Receiver<Committed>;

    /// The API keys, in any tenant, whose secret hashes to `secret_hash` (hex SHA-256): how an
    /// admin call's bearer secret finds its principal. Normally one; several means the same
    /// secret was registered twice, which callers must refuse as ambiguous.
    async fn find_api_key(&self, secret_hash: &str) -> Result<Vec<KeyOwner>, StoreError>;

    // ---- tenants ----

    /// Creates an empty tenant (no catalog, roles or principals) at revision 1.
    async fn create_tenant(&self, tenant: Tenant) -> Result<u64, StoreError>;
    /// Sets a tenant's status; returns the new revision (the current one when unchanged).
    async fn set_tenant_status(
        &self,
        tenant_id: &str,
        status: TenantStatus,
    ) -> Result<u64, StoreError>;
    async fn tenant(&self, tenant_id: &str) -> Result<Option<TenantRecord>, StoreError>;
    /// Tenants in id order, the platform tenant excluded.
    async fn list_tenants(&self, page: &PageRequest) -> Result<Page<TenantRecord>, StoreError>;

    // ---- writes ----

    /// Replaces an existing tenant's whole policy with `policy` (the policy-file format):
    /// diffs it against the stored state, refuses it unless it compiles, and applies the
    /// difference in one transaction. Importing what is stored changes nothing and spends no
    /// revision. The tenant's status is not imported: it must equal the stored one.
    async fn import_policy(
        &self,
        policy: TenantPolicy,
        options: ImportOptions,
    ) -> Result<ImportReport, StoreError>;
    /// Applies every write or none; returns the revision they committed at (the current one
    /// when none changed anything).
    async fn write_relationships(
        &self,
        tenant_id: &str,
        writes: &[RelationshipWrite],
    ) -> Result<u64, StoreError>;
    /// Relationships matching `filter`, in key order, one page at a time.
    async fn read_relationships(
        &self,
        tenant_id: &str,
        filter: &RelationshipFilter,
        page: &PageRequest,
    ) -> Result<RelationshipPage, StoreError>;

    // ---- conveniences over the above ----

    /// The platform tenant's policy, if platform staff are configured.
    async fn platform(&self) -> Result<Option<StoredTenant>, StoreError> {
        self.load_tenant(PLATFORM_TENANT_ID).await
    }

    /// Every tenant's policy, the platform's excluded.
    async fn tenants(&self) -> Result<Vec<StoredTenant>, StoreError> {
        let mut tenants = Vec::new();
        for id in self.tenant_ids().await? {
            // A tenant listed and then gone was deleted in between: it is simply not served.
            if let Some(stored) = self.load_tenant(&id).await? {
                tenants.push(stored);
            }
        }
        Ok(tenants)
    }

    /// Creates the tenant if it is new, then imports `policy`; returns the revision. The
    /// platform's reserved id is refused: only [`Store::put_platform`] writes platform staff.
    async fn put_tenant(&self, policy: TenantPolicy) -> Result<u64, StoreError> {
        if policy.tenant.id == PLATFORM_TENANT_ID {
            return Err(StoreError::InvalidPolicy {
                tenant: policy.tenant.id.clone(),
                error: authz_core::PolicyError::ReservedTenant(policy.tenant.id.clone()),
            });
        }
        put(self, policy).await
    }

    /// Creates or replaces the platform tenant's policy (id `platform`); returns the revision.
    async fn put_platform(&self, policy: TenantPolicy) -> Result<u64, StoreError> {
        if policy.tenant.id != PLATFORM_TENANT_ID {
            return Err(StoreError::InvalidPolicy {
                tenant: policy.tenant.id.clone(),
                error: authz_core::PolicyError::InvalidId {
                    what: "platform tenant",
                    id: policy.tenant.id.clone(),
                    why: "the platform policy must use the reserved id `platform`".into(),
                },
            });
        }
        put(self, policy).await
    }
}

async fn put<S: Store + ?Sized>(store: &S, policy: TenantPolicy) -> Result<u64, StoreError> {
    // Check first so an invalid policy creates no empty tenant either.
    validate::compiles(store, &policy).await?;
    if store.tenant(&policy.tenant.id).await?.is_none() {
        let tenant = Tenant {
            status: policy.tenant.status,
            ..policy.tenant.clone()
        };
        match store.create_tenant(tenant).await {
            Ok(_) | Err(StoreError::AlreadyExists { .. }) => {}
            Err(error) => return Err(error),
        }
    }
    let report = store
        .import_policy(policy, ImportOptions::default())
        .await?;
    Ok(report.revision)
}

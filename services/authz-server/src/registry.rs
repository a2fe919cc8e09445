//! The compiled snapshot of every tenant, swapped atomically when a policy changes. The check
//! path reads it without locks: one `ArcSwap` load and one hash lookup.

use std::collections::HashMap;
use std::sync::Arc;

use arc_swap::ArcSwap;
use authz_core::{PolicyError, Snapshot};
use authz_store::{Store, StoreError};

/// Why the registry could not be (re)loaded.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("tenant `{tenant}` does not compile: {error}")]
    Compile { tenant: String, error: PolicyError },
}

/// Compiled snapshots by tenant id.
#[derive(Debug, Default)]
pub struct TenantRegistry {
    snapshots: ArcSwap<HashMap<String, Arc<Snapshot>>>,
}

impl TenantRegistry {
    /// Compiles every tenant of `store`; fails without serving anything if one does not compile.
    pub async fn load(store: &dyn Store) -> Result<TenantRegistry, RegistryError> {
        let registry = TenantRegistry::default();
        registry.reload(store).await?;
        Ok(registry)
    }

    /// Recompiles every tenant and swaps them in at once. On error the old snapshots stay.
    pub async fn reload(&self, store: &dyn Store) -> Result<(), RegistryError> {
        let platform = store.platform().await?;
        let platform_policy = platform.as_ref().map(|stored| &*stored.policy);
        let mut compiled = HashMap::new();
        for tenant in store.tenants().await? {
            let snapshot = Snapshot::compile(&tenant.policy, platform_policy, tenant.revision)
                .map_err(|error| RegistryError::Compile {
                    tenant: tenant.policy.tenant.id.clone(),
                    error,
                })?;
            compiled.insert(tenant.policy.tenant.id.clone(), Arc::new(snapshot));
        }
        self.snapshots.store(Arc::new(compiled));
        Ok(())
    }

    /// The current snapshot of `tenant_id`.
    pub fn get(&self, tenant_id: &str) -> Option<Arc<Snapshot>> {
        self.snapshots.load().get(tenant_id).cloned()
    }

    pub fn tenant_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.snapshots.load().keys().cloned().collect();
        ids.sort();
        ids
    }
}

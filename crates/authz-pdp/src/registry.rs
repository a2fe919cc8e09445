//! The compiled snapshot of every tenant, swapped atomically when a policy changes. The check
//! path reads it without locks: one `ArcSwap` load and one hash lookup. Every swap is
//! announced, so a check that asked for a revision the replica has not reached yet can wait
//! for it instead of polling.

use std::collections::HashMap;
use std::sync::Arc;

use arc_swap::ArcSwap;
use authz_core::model::PLATFORM_TENANT_ID;
use authz_core::{PolicyError, Snapshot};
use authz_store::{Store, StoreError};
use tokio::sync::watch;
use tokio::time::Instant;

/// Why the registry could not be (re)loaded.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("tenant `{tenant}` does not compile: {error}")]
    Compile { tenant: String, error: PolicyError },
}

/// Compiled snapshots by tenant id.
#[derive(Debug)]
pub struct TenantRegistry {
    snapshots: ArcSwap<HashMap<String, Arc<Snapshot>>>,
    /// Bumped after every swap; waiters re-read the snapshots when it moves.
    swaps: watch::Sender<u64>,
}

impl Default for TenantRegistry {
    fn default() -> Self {
        TenantRegistry {
            snapshots: ArcSwap::default(),
            swaps: watch::Sender::new(0),
        }
    }
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
        self.swaps.send_modify(|swaps| *swaps += 1);
        Ok(())
    }

    /// Serves `snapshot` for its tenant from now on, unless what is served is already newer (a
    /// slow reload must not undo a faster delta).
    pub fn replace(&self, snapshot: Arc<Snapshot>) {
        let tenant_id = snapshot.tenant_id().to_owned();
        self.snapshots.rcu(|current| {
            let mut next = HashMap::clone(current);
            match next.get(&tenant_id) {
                Some(served) if served.revision() > snapshot.revision() => {}
                _ => {
                    next.insert(tenant_id.clone(), Arc::clone(&snapshot));
                }
            }
            next
        });
        self.swaps.send_modify(|swaps| *swaps += 1);
    }

    /// Stops serving `tenant_id` (it is gone from the store).
    pub fn remove(&self, tenant_id: &str) {
        self.snapshots.rcu(|current| {
            let mut next = HashMap::clone(current);
            next.remove(tenant_id);
            next
        });
        self.swaps.send_modify(|swaps| *swaps += 1);
    }

    /// The current snapshot of `tenant_id`.
    pub fn get(&self, tenant_id: &str) -> Option<Arc<Snapshot>> {
        self.snapshots.load().get(tenant_id).cloned()
    }

    /// The snapshot of `tenant_id` once it has reached `revision`, waiting until `deadline` at
    /// most. `Err` carries what is served when the deadline passes (`None`: no such tenant).
    pub async fn at_least(
        &self,
        tenant_id: &str,
        revision: u64,
        deadline: Instant,
    ) -> Result<Arc<Snapshot>, Option<Arc<Snapshot>>> {
        // Subscribe before reading: a swap between the read and the wait still wakes us.
        let mut swaps = self.swaps.subscribe();
        loop {
            let current = self.get(tenant_id);
            match current {
                Some(snapshot) if snapshot.revision() >= revision => return Ok(snapshot),
                _ => {}
            }
            match tokio::time::timeout_at(deadline, swaps.changed()).await {
                Ok(Ok(())) => {}
                // The deadline passed, or the registry is being dropped: answer with what is here.
                Ok(Err(_)) | Err(_) => return Err(self.get(tenant_id)),
            }
        }
    }

    /// The tenants served, the platform's own snapshot (admin authorisation) excluded.
    pub fn tenant_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self
            .snapshots
            .load()
            .keys()
            .filter(|id| *id != PLATFORM_TENANT_ID)
            .cloned()
            .collect();
        ids.sort();
        ids
    }
}

#[cfg(test)]
mod tests {
    //! A reload that fails — the store cannot answer, or a tenant does not compile — keeps
    //! serving the old snapshots unchanged: same `Arc`, same revision, same decisions.

    use std::sync::Mutex;

    use authz_core::model::{Tenant, TenantStatus};
    use authz_core::{Attributes, CheckRequest, PrincipalRef, Reason, ResourceRef, TenantPolicy};
    use authz_store::{
        ChangeFeed, Committed, ImportOptions, ImportReport, KeyOwner, Page, PageRequest,
        RelationshipFilter, RelationshipPage, RelationshipWrite, StoredTenant, TenantRecord,
    };
    use tokio::sync::broadcast;

    use super::*;

    const DEMO: &str = "sunrise-home-health";
    const DEMO_POLICY: &str = include_str!("../../../deploy/examples/home-health.yaml");

    /// A store that answers what the test last told it to.
    #[derive(Debug)]
    struct Scripted {
        answers: Mutex<Answers>,
    }

    #[derive(Debug, Clone)]
    struct Answers {
        tenants: Result<Vec<StoredTenant>, String>,
        platform: Result<Option<StoredTenant>, String>,
    }

    impl Scripted {
        fn new(tenants: Vec<StoredTenant>) -> Scripted {
            Scripted {
                answers: Mutex::new(Answers {
                    tenants: Ok(tenants),
                    platform: Ok(None),
                }),
            }
        }

        fn answer(&self, change: impl FnOnce(&mut Answers)) {
            change(&mut self.answers.lock().unwrap());
        }

        fn now(&self) -> Answers {
            self.answers.lock().unwrap().clone()
        }
    }

    #[async_trait::async_trait]
    impl Store for Scripted {
        async fn tenant_ids(&self) -> Result<Vec<String>, StoreError> {
            let tenants = self.now().tenants.map_err(StoreError::Unavailable)?;
            Ok(tenants.iter().map(|t| t.policy.tenant.id.clone()).collect())
        }

        async fn load_tenant(&self, tenant_id: &str) -> Result<Option<StoredTenant>, StoreError> {
            let answers = self.now();
            if tenant_id == PLATFORM_TENANT_ID {
                return answers.platform.map_err(StoreError::Unavailable);
            }
            let tenants = answers.tenants.map_err(StoreError::Unavailable)?;
            Ok(tenants
                .into_iter()
                .find(|stored| stored.policy.tenant.id == tenant_id))
        }

        async fn revisions(&self) -> Result<Vec<(String, u64)>, StoreError> {
            let tenants = self.now().tenants.map_err(StoreError::Unavailable)?;
            Ok(tenants
                .iter()
                .map(|t| (t.policy.tenant.id.clone(), t.revision))
                .collect())
        }

        async fn revision(&self, tenant_id: &str) -> Result<Option<u64>, StoreError> {
            Ok(self.load_tenant(tenant_id).await?.map(|t| t.revision))
        }

        async fn changes_since(&self, _: &str, _: u64, _: usize) -> Result<ChangeFeed, StoreError> {
            Err(read_only())
        }

        async fn find_api_key(&self, _: &str) -> Result<Vec<KeyOwner>, StoreError> {
            Err(read_only())
        }

        fn subscribe(&self) -> broadcast::Receiver<Committed> {
            broadcast::channel(1).1
        }

        async fn create_tenant(&self, _: Tenant) -> Result<u64, StoreError> {
            Err(read_only())
        }

        async fn set_tenant_status(&self, _: &str, _: TenantStatus) -> Result<u64, StoreError> {
            Err(read_only())
        }

        async fn tenant(&self, _: &str) -> Result<Option<TenantRecord>, StoreError> {
            Err(read_only())
        }

        async fn list_tenants(&self, _: &PageRequest) -> Result<Page<TenantRecord>, StoreError> {
            Err(read_only())
        }

        async fn import_policy(
            &self,
            _: TenantPolicy,
            _: ImportOptions,
        ) -> Result<ImportReport, StoreError> {
            Err(read_only())
        }

        async fn write_relationships(
            &self,
            _: &str,
            _: &[RelationshipWrite],
        ) -> Result<u64, StoreError> {
            Err(read_only())
        }

        async fn read_relationships(
            &self,
            _: &str,
            _: &RelationshipFilter,
            _: &PageRequest,
        ) -> Result<RelationshipPage, StoreError> {
            Err(read_only())
        }
    }

    fn read_only() -> StoreError {
        StoreError::Unavailable("read-only test store".to_owned())
    }

    fn stored(policy: TenantPolicy, revision: u64) -> StoredTenant {
        StoredTenant {
            policy: Arc::new(policy),
            revision,
        }
    }

    fn demo() -> TenantPolicy {
        TenantPolicy::from_yaml(DEMO_POLICY).unwrap()
    }

    /// The demo without rita's bindings: she can no longer view her patients.
    fn demo_without_rita() -> TenantPolicy {
        let mut policy = demo();
        policy
            .bindings
            .retain(|binding| binding.principal != "rita");
        policy
    }

    /// A tenant that parses but does not compile: its role names an unknown permission.
    fn broken() -> TenantPolicy {
        TenantPolicy::from_yaml(
            "tenant: { id: broken }\nroles:\n  - { id: r, role_type: x, grants: [ { permission: patient.fly } ] }\n",
        )
        .unwrap()
    }

    /// What the registry serves for the demo: the snapshot, its revision and rita's answer.
    fn serving(registry: &TenantRegistry) -> (Arc<Snapshot>, u64, Reason) {
        let snapshot = registry.get(DEMO).expect("the demo is served");
        let attributes = Attributes::new();
        let request = CheckRequest {
            principal: PrincipalRef::user("rita"),
            action: "view",
            resource: ResourceRef {
                resource_type: "patient",
                id: "p-100",
                attributes: &attributes,
            },
            context: &attributes,
            on_behalf_of: None,
            now: chrono::DateTime::from_timestamp(1_748_876_400, 0).unwrap(),
        };
        let reason = snapshot.check(&request).reason;
        let revision = snapshot.revision();
        (snapshot, revision, reason)
    }

    #[track_caller]
    fn assert_unchanged(registry: &TenantRegistry, before: &(Arc<Snapshot>, u64, Reason)) {
        let now = serving(registry);
        assert!(
            Arc::ptr_eq(&now.0, &before.0),
            "the demo snapshot was replaced"
        );
        assert_eq!((now.1, now.2), (before.1, before.2));
        assert_eq!(registry.tenant_ids(), [DEMO]);
    }

    #[tokio::test]
    async fn a_reload_the_store_cannot_answer_keeps_the_old_snapshots() {
        let store = Scripted::new(vec![stored(demo(), 1)]);
        let registry = TenantRegistry::load(&store).await.unwrap();
        let before = serving(&registry);
        assert_eq!((before.1, before.2), (1, Reason::Granted));

        store.answer(|answers| answers.tenants = Err("connection refused".to_owned()));
        let failed = registry.reload(&store).await;
        assert!(
            matches!(
                failed,
                Err(RegistryError::Store(StoreError::Unavailable(_)))
            ),
            "{failed:?}"
        );
        assert_unchanged(&registry, &before);

        store.answer(|answers| {
            answers.tenants = Ok(vec![stored(demo_without_rita(), 2)]);
            answers.platform = Err("connection reset".to_owned());
        });
        let failed = registry.reload(&store).await;
        assert!(
            matches!(
                failed,
                Err(RegistryError::Store(StoreError::Unavailable(_)))
            ),
            "{failed:?}"
        );
        assert_unchanged(&registry, &before);
    }

    #[tokio::test]
    async fn a_reload_with_a_tenant_that_does_not_compile_keeps_every_old_snapshot() {
        let store = Scripted::new(vec![stored(demo(), 1)]);
        let registry = TenantRegistry::load(&store).await.unwrap();
        let before = serving(&registry);

        // The demo changed (rita lost her role) and a broken tenant arrived: nothing is swapped
        // in, not even the demo, which compiles.
        store.answer(|answers| {
            answers.tenants = Ok(vec![stored(demo_without_rita(), 2), stored(broken(), 3)]);
        });
        let failed = registry.reload(&store).await;
        assert!(
            matches!(&failed, Err(RegistryError::Compile { tenant, .. }) if tenant == "broken"),
            "{failed:?}"
        );
        assert_unchanged(&registry, &before);

        // Once the broken tenant is gone the change is served, whole.
        store.answer(|answers| answers.tenants = Ok(vec![stored(demo_without_rita(), 2)]));
        registry.reload(&store).await.unwrap();
        let (_, revision, reason) = serving(&registry);
        assert_eq!((revision, reason), (2, Reason::NoMatchingGrant));
    }

    #[tokio::test]
    async fn a_first_load_that_fails_serves_nothing() {
        let store = Scripted::new(vec![stored(demo(), 1), stored(broken(), 2)]);
        let failed = TenantRegistry::load(&store).await;
        assert!(
            matches!(&failed, Err(RegistryError::Compile { tenant, .. }) if tenant == "broken"),
            "{:?}",
            failed.map(|registry| registry.tenant_ids())
        );
    }
}

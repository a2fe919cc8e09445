//! Tenants held in memory: the embedded mode of `authz-server` and the reference backend the
//! conformance suite is written against. One lock serialises writes, so revision order is
//! commit order, as in Postgres.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::ops::Bound;
use std::sync::Arc;

use authz_core::TenantPolicy;
use authz_core::model::{PLATFORM_TENANT_ID, Relationship, Tenant, TenantStatus};
use tokio::sync::{RwLock, broadcast};

use crate::diff::{MAX_RELATIONSHIP_EVENTS, PolicyDiff, relationship_delta};
use crate::page::{Page, PageRequest};
use crate::records::{
    Change, ChangeEvent, ChangeFeed, Committed, ImportOptions, ImportReport, KeyOwner,
    RelationshipFilter, RelationshipOp, RelationshipPage, RelationshipWrite, StoredTenant,
    TenantRecord, relationship_key,
};
use crate::{Store, StoreError, validate};

/// Change events kept per tenant; a follower further behind reloads the tenant whole.
const MAX_LOG_EVENTS: usize = 100_000;

/// Tenants held in memory.
#[derive(Debug)]
pub struct InMemoryStore {
    inner: RwLock<BTreeMap<String, Entry>>,
    commits: broadcast::Sender<Committed>,
}

impl Default for InMemoryStore {
    fn default() -> Self {
        InMemoryStore {
            inner: RwLock::default(),
            commits: broadcast::Sender::new(1024),
        }
    }
}

impl InMemoryStore {
    pub fn new() -> Self {
        InMemoryStore::default()
    }

    fn announce(&self, tenant_id: &str, revision: u64) {
        // Nobody listening is fine: followers also poll.
        let _ = self.commits.send(Committed {
            tenant_id: tenant_id.to_owned(),
            revision,
        });
    }
}

#[derive(Debug)]
struct Entry {
    /// The policy without its relationships, which live in `relationships`.
    policy: TenantPolicy,
    relationships: BTreeSet<Relationship>,
    revision: u64,
    log: VecDeque<Change>,
}

impl Entry {
    fn whole(&self) -> TenantPolicy {
        TenantPolicy {
            relationships: self.relationships.iter().cloned().collect(),
            ..self.policy.clone()
        }
    }

    /// Commits `events` at the next revision.
    fn commit(&mut self, events: Vec<ChangeEvent>) -> u64 {
        self.revision += 1;
        for event in events {
            self.log.push_back(Change {
                revision: self.revision,
                event,
            });
        }
        while self.log.len() > MAX_LOG_EVENTS {
            self.log.pop_front();
        }
        self.revision
    }
}

fn not_found(tenant_id: &str) -> StoreError {
    StoreError::NotFound {
        what: "tenant",
        id: tenant_id.to_owned(),
    }
}

fn record(entry: &Entry) -> TenantRecord {
    TenantRecord {
        tenant: entry.policy.tenant.clone(),
        revision: entry.revision,
    }
}

#[async_trait::async_trait]
impl Store for InMemoryStore {
    async fn tenant_ids(&self) -> Result<Vec<String>, StoreError> {
        let inner = self.inner.read().await;
        Ok(inner
            .keys()
            .filter(|id| *id != PLATFORM_TENANT_ID)
            .cloned()
            .collect())
    }

    async fn load_tenant(&self, tenant_id: &str) -> Result<Option<StoredTenant>, StoreError> {
        let inner = self.inner.read().await;
        Ok(inner.get(tenant_id).map(|entry| StoredTenant {
            policy: Arc::new(entry.whole()),
            revision: entry.revision,
        }))
    }

    async fn load_policy(&self, tenant_id: &str) -> Result<Option<StoredTenant>, StoreError> {
        let inner = self.inner.read().await;
        Ok(inner.get(tenant_id).map(|entry| StoredTenant {
            policy: Arc::new(entry.policy.clone()),
            revision: entry.revision,
        }))
    }

    async fn revisions(&self) -> Result<Vec<(String, u64)>, StoreError> {
        let inner = self.inner.read().await;
        Ok(inner
            .iter()
            .map(|(id, entry)| (id.clone(), entry.revision))
            .collect())
    }

    async fn revision(&self, tenant_id: &str) -> Result<Option<u64>, StoreError> {
        let inner = self.inner.read().await;
        Ok(inner.get(tenant_id).map(|entry| entry.revision))
    }

    async fn changes_since(
        &self,
        tenant_id: &str,
        after: u64,
        limit: usize,
    ) -> Result<ChangeFeed, StoreError> {
        let inner = self.inner.read().await;
        let entry = inner.get(tenant_id).ok_or_else(|| not_found(tenant_id))?;
        if after >= entry.revision {
            return Ok(ChangeFeed::Changes(Vec::new()));
        }
        // The log must hold every event after `after`: its first revision must be at most
        // `after + 1` (and a trimmed log may have lost part of that revision's events).
        let complete = entry
            .log
            .front()
            .is_some_and(|first| first.revision <= after + 1)
            && entry.log.len() < MAX_LOG_EVENTS;
        if !complete {
            return Ok(ChangeFeed::Reload {
                revision: entry.revision,
            });
        }
        let mut changes: Vec<Change> = Vec::new();
        for change in entry.log.iter().filter(|change| change.revision > after) {
            let ends_a_write = changes
                .last()
                .is_some_and(|last| last.revision != change.revision);
            if changes.len() >= limit.max(1) && ends_a_write {
                break;
            }
            changes.push(change.clone());
        }
        Ok(ChangeFeed::Changes(changes))
    }

    async fn find_api_key(&self, secret_hash: &str) -> Result<Vec<KeyOwner>, StoreError> {
        let inner = self.inner.read().await;
        let mut owners = Vec::new();
        for (tenant_id, entry) in inner.iter() {
            for principal in &entry.policy.principals {
                for key in principal
                    .api_keys
                    .iter()
                    .filter(|key| !key.secret_hash.is_empty() && key.secret_hash == secret_hash)
                {
                    owners.push(KeyOwner {
                        tenant_id: tenant_id.clone(),
                        principal_id: principal.id.clone(),
                        principal_kind: principal.kind,
                        key_id: key.id.clone(),
                        revoked: key.revoked,
                        expires_at: key.expires_at,
                    });
                }
            }
        }
        Ok(owners)
    }

    fn subscribe(&self) -> broadcast::Receiver<Committed> {
        self.commits.subscribe()
    }

    async fn create_tenant(&self, tenant: Tenant) -> Result<u64, StoreError> {
        validate::tenant_id("tenant.id", &tenant.id)?;
        let policy = TenantPolicy {
            tenant,
            ..TenantPolicy::default()
        };
        let mut inner = self.inner.write().await;
        if inner.contains_key(&policy.tenant.id) {
            return Err(StoreError::AlreadyExists {
                what: "tenant",
                id: policy.tenant.id.clone(),
            });
        }
        let platform = inner.get(PLATFORM_TENANT_ID).map(Entry::whole);
        validate::compile(&policy, platform.as_ref())?;
        let id = policy.tenant.id.clone();
        let mut entry = Entry {
            policy,
            relationships: BTreeSet::new(),
            revision: 0,
            log: VecDeque::new(),
        };
        let revision = entry.commit(vec![ChangeEvent::Tenant]);
        inner.insert(id.clone(), entry);
        drop(inner);
        self.announce(&id, revision);
        Ok(revision)
    }

    async fn set_tenant_status(
        &self,
        tenant_id: &str,
        status: TenantStatus,
    ) -> Result<u64, StoreError> {
        validate::tenant_id("tenant_id", tenant_id)?;
        let mut inner = self.inner.write().await;
        let entry = inner
            .get_mut(tenant_id)
            .ok_or_else(|| not_found(tenant_id))?;
        if entry.policy.tenant.status == status {
            return Ok(entry.revision);
        }
        entry.policy.tenant.status = status;
        let revision = entry.commit(vec![ChangeEvent::Tenant]);
        drop(inner);
        self.announce(tenant_id, revision);
        Ok(revision)
    }

    async fn tenant(&self, tenant_id: &str) -> Result<Option<TenantRecord>, StoreError> {
        let inner = self.inner.read().await;
        Ok(inner.get(tenant_id).map(record))
    }

    async fn list_tenants(&self, page: &PageRequest) -> Result<Page<TenantRecord>, StoreError> {
        let after = page.after(1)?;
        let inner = self.inner.read().await;
        let start = match after {
            Some([last]) => Bound::Excluded(last.clone()),
            _ => Bound::Unbounded,
        };
        let items = inner
            .range((start, Bound::Unbounded))
            .filter(|(id, _)| *id != PLATFORM_TENANT_ID)
            .take(page.limit() + 1)
            .map(|(_, entry)| record(entry))
            .collect();
        Ok(Page::from_overfetch(items, page.limit(), |last| {
            vec![last.tenant.id.clone()]
        }))
    }

    async fn import_policy(
        &self,
        mut policy: TenantPolicy,
        options: ImportOptions,
    ) -> Result<ImportReport, StoreError> {
        let tenant_id = policy.tenant.id.clone();
        validate::tenant_id("policy.tenant.id", &tenant_id)?;
        let mut inner = self.inner.write().await;
        let platform = if tenant_id == PLATFORM_TENANT_ID {
            None
        } else {
            inner.get(PLATFORM_TENANT_ID).map(Entry::whole)
        };
        let entry = inner
            .get_mut(&tenant_id)
            .ok_or_else(|| not_found(&tenant_id))?;
        if let Some(expected) = options.expected_revision
            && expected != entry.revision
        {
            return Err(StoreError::RevisionConflict {
                tenant: tenant_id,
                expected,
                current: entry.revision,
            });
        }
        validate::imported_status(entry.policy.tenant.status, policy.tenant.status)?;
        validate::compile(&policy, platform.as_ref())?;

        let stored = entry.whole();
        let diff = PolicyDiff::between(&stored, &policy);
        let (added, removed) = relationship_delta(&entry.relationships, &policy.relationships);
        let mut report = ImportReport {
            revision: entry.revision,
            changes: diff.changes.clone(),
            relationships_added: added.len() as u64,
            relationships_removed: removed.len() as u64,
        };
        if options.dry_run || report.is_empty() {
            return Ok(report);
        }
        let mut events = diff.events(&stored, &policy);
        if added.len() + removed.len() > MAX_RELATIONSHIP_EVENTS {
            events.push(ChangeEvent::Reload);
        } else {
            events.extend(
                removed
                    .iter()
                    .cloned()
                    .map(ChangeEvent::RelationshipDeleted),
            );
            events.extend(added.iter().cloned().map(ChangeEvent::RelationshipTouched));
        }
        for relationship in removed {
            entry.relationships.remove(&relationship);
        }
        entry.relationships.extend(added);
        policy.relationships = Vec::new();
        entry.policy = policy;
        report.revision = entry.commit(events);
        drop(inner);
        self.announce(&tenant_id, report.revision);
        Ok(report)
    }

    async fn write_relationships(
        &self,
        tenant_id: &str,
        writes: &[RelationshipWrite],
    ) -> Result<u64, StoreError> {
        validate::tenant_id("tenant_id", tenant_id)?;
        let mut inner = self.inner.write().await;
        let entry = inner
            .get_mut(tenant_id)
            .ok_or_else(|| not_found(tenant_id))?;
        validate::relationship_writes(&entry.policy.catalog, writes)?;
        let mut events = Vec::new();
        for write in writes {
            let relationship = &write.relationship;
            match write.op {
                RelationshipOp::Touch if entry.relationships.insert(relationship.clone()) => {
                    events.push(ChangeEvent::RelationshipTouched(relationship.clone()));
                }
                RelationshipOp::Delete if entry.relationships.remove(relationship) => {
                    events.push(ChangeEvent::RelationshipDeleted(relationship.clone()));
                }
                RelationshipOp::Touch | RelationshipOp::Delete => {}
            }
        }
        if events.is_empty() {
            return Ok(entry.revision);
        }
        let revision = entry.commit(events);
        drop(inner);
        self.announce(tenant_id, revision);
        Ok(revision)
    }

    async fn read_relationships(
        &self,
        tenant_id: &str,
        filter: &RelationshipFilter,
        page: &PageRequest,
    ) -> Result<RelationshipPage, StoreError> {
        validate::tenant_id("tenant_id", tenant_id)?;
        validate::relationship_filter(filter)?;
        let after = page.after(5)?;
        let inner = self.inner.read().await;
        let entry = inner.get(tenant_id).ok_or_else(|| not_found(tenant_id))?;
        let start = match after {
            Some(
                [
                    resource_type,
                    resource_id,
                    relation,
                    subject_type,
                    subject_id,
                ],
            ) => Bound::Excluded(Relationship {
                resource_type: resource_type.clone(),
                resource_id: resource_id.clone(),
                relation: relation.clone(),
                subject_type: subject_type.clone(),
                subject_id: subject_id.clone(),
            }),
            _ => Bound::Unbounded,
        };
        let limit = page.limit();
        let items = entry
            .relationships
            .range((start, Bound::Unbounded))
            .filter(|relationship| filter.matches(relationship))
            .take(limit + 1)
            .cloned()
            .collect();
        let page = Page::from_overfetch(items, limit, relationship_key);
        Ok(RelationshipPage {
            page,
            revision: entry.revision,
        })
    }
}

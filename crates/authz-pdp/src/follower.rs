//! Keeps a replica's snapshots current with the store: commit announcements say which tenant
//! moved, a periodic read of every tenant's revision is the safety net (a lost announcement, a
//! listener that reconnected, a tenant created or gone), and each tenant catches up from the
//! change feed.
//!
//! A replica that cannot reach the store keeps serving what it has (reads stay available);
//! only `fully_consistent` checks, which must read the store, deny `unavailable`.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use authz_core::model::PLATFORM_TENANT_ID;
use authz_core::{RelationshipChange, Snapshot, TenantPolicy};
use authz_store::{Change, ChangeEvent, ChangeFeed, Store, StoreError};
use tokio::sync::broadcast::error::RecvError;

use crate::registry::{RegistryError, TenantRegistry};

/// How often a follower compares every tenant's revision with what it serves, unless the
/// server is configured otherwise.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(1);

/// Change events read per request when catching up.
const FEED_BATCH: usize = 10_000;

/// Follows one store for one registry.
#[derive(Debug)]
pub struct Follower {
    store: Arc<dyn Store>,
    registry: Arc<TenantRegistry>,
    poll_interval: Duration,
    /// The platform policy tenants are compiled with, and its revision.
    platform: tokio::sync::Mutex<Option<(u64, Arc<TenantPolicy>)>>,
}

impl Follower {
    pub fn new(
        store: Arc<dyn Store>,
        registry: Arc<TenantRegistry>,
        poll_interval: Duration,
    ) -> Follower {
        Follower {
            store,
            registry,
            poll_interval,
            platform: tokio::sync::Mutex::new(None),
        }
    }

    /// Loads every tenant the store holds (the platform's staff first). A tenant that cannot be
    /// loaded is not served — its checks deny `tenant_unknown` — and is returned with why, so
    /// the caller can say so loudly; the others are served.
    pub async fn load_all(&self) -> Result<Vec<(String, RegistryError)>, StoreError> {
        self.refresh_platform().await?;
        let mut failed = Vec::new();
        for tenant_id in self.store.tenant_ids().await? {
            if let Err(error) = self.reload(&tenant_id).await {
                failed.push((tenant_id, error));
            }
        }
        Ok(failed)
    }

    /// Follows until `shutdown` resolves. Failures are logged and retried on the next
    /// announcement or poll; they never stop the follower.
    pub async fn run(self: Arc<Self>, shutdown: impl std::future::Future<Output = ()>) {
        let mut commits = self.store.subscribe();
        let mut poll = tokio::time::interval(self.poll_interval);
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                () = &mut shutdown => return,
                commit = commits.recv() => match commit {
                    Ok(commit) => {
                        let mut moved = BTreeSet::from([commit.tenant_id]);
                        // Take whatever else arrived meanwhile: one catch-up per tenant.
                        while let Ok(more) = commits.try_recv() {
                            moved.insert(more.tenant_id);
                        }
                        self.catch_up(&moved).await;
                    }
                    Err(RecvError::Lagged(missed)) => {
                        tracing::warn!(missed, "commit announcements lagged; comparing every tenant's revision");
                        self.poll_once().await;
                    }
                    Err(RecvError::Closed) => {
                        tracing::warn!("the store stopped announcing commits; following by polling only");
                        commits = self.store.subscribe();
                        poll.tick().await;
                        self.poll_once().await;
                    }
                },
                _ = poll.tick() => self.poll_once().await,
            }
        }
    }

    /// Compares every tenant's committed revision with what is served and catches up the ones
    /// behind, loads the new ones and drops the gone ones.
    pub async fn poll_once(&self) {
        let revisions = match self.store.revisions().await {
            Ok(revisions) => revisions,
            Err(error) => {
                tracing::warn!(%error, "cannot read tenant revisions; serving the last snapshots");
                return;
            }
        };
        let committed: HashMap<String, u64> = revisions.into_iter().collect();
        let mut behind = BTreeSet::new();
        for (tenant_id, revision) in &committed {
            let served = if tenant_id == PLATFORM_TENANT_ID {
                self.platform
                    .lock()
                    .await
                    .as_ref()
                    .map(|(revision, _)| *revision)
            } else {
                self.registry
                    .get(tenant_id)
                    .map(|snapshot| snapshot.revision())
            };
            if served.is_none_or(|served| served < *revision) {
                behind.insert(tenant_id.clone());
            }
        }
        for gone in self
            .registry
            .tenant_ids()
            .into_iter()
            .filter(|id| !committed.contains_key(id))
        {
            tracing::info!(tenant = %gone, "tenant is gone from the store; no longer served");
            self.registry.remove(&gone);
        }
        self.catch_up(&behind).await;
    }

    /// Brings each of `tenant_ids` up to its committed revision; the platform first, since
    /// every tenant compiles its staff in.
    pub async fn catch_up(&self, tenant_ids: &BTreeSet<String>) {
        if tenant_ids.contains(PLATFORM_TENANT_ID) {
            match self.refresh_platform().await {
                Ok(true) => {
                    // Platform staff changed: every tenant recompiles its policy part with
                    // them, keeping its relationship graph.
                    for tenant_id in self.registry.tenant_ids() {
                        if let Err(error) = self.advance(&tenant_id, true).await {
                            tracing::warn!(tenant = %tenant_id, %error, "cannot recompile with the new platform staff; serving the last snapshot");
                        }
                    }
                }
                Ok(false) => {}
                Err(error) => tracing::warn!(%error, "cannot read the platform policy"),
            }
        }
        for tenant_id in tenant_ids.iter().filter(|id| *id != PLATFORM_TENANT_ID) {
            if let Err(error) = self.advance(tenant_id, false).await {
                tracing::warn!(tenant = %tenant_id, %error, "cannot catch up; serving the last snapshot");
            }
        }
    }

    /// Reads the platform policy when it moved; `true` when it did.
    async fn refresh_platform(&self) -> Result<bool, StoreError> {
        let Some(stored) = self.store.platform().await? else {
            self.registry.remove(PLATFORM_TENANT_ID);
            return Ok(self.platform.lock().await.take().is_some());
        };
        let mut platform = self.platform.lock().await;
        if platform
            .as_ref()
            .is_some_and(|(revision, _)| *revision >= stored.revision)
        {
            return Ok(false);
        }
        // The platform's own snapshot answers platform staff's admin calls.
        match Snapshot::compile_platform(&stored.policy, stored.revision) {
            Ok(snapshot) => self.registry.replace(Arc::new(snapshot)),
            Err(error) => {
                tracing::error!(%error, "the platform policy does not compile; platform admin calls are refused")
            }
        }
        *platform = Some((stored.revision, stored.policy));
        Ok(true)
    }

    /// One tenant, from the change feed: relationship writes patch the served snapshot's
    /// graph; anything else reloads the policy part (never the relationships) and brings the
    /// graph to the same revision; `force_policy` reloads the policy part even when only
    /// relationships moved (the platform's staff changed). Anything unexpected — a gap, an
    /// event that does not apply — falls back to loading the tenant whole.
    async fn advance(&self, tenant_id: &str, force_policy: bool) -> Result<(), RegistryError> {
        let started = std::time::Instant::now();
        let Some(served) = self.registry.get(tenant_id) else {
            return self.reload(tenant_id).await;
        };
        let mut changes = match self.feed(tenant_id, served.revision()).await? {
            Some(changes) => changes,
            None => return self.reload(tenant_id).await,
        };
        if changes
            .iter()
            .any(|change| change.event == ChangeEvent::Reload)
        {
            return self.reload(tenant_id).await;
        }
        let policy_moved =
            force_policy || changes.iter().any(|change| !change.event.is_relationship());
        let next = if policy_moved {
            let Some(stored) = self.store.load_policy(tenant_id).await? else {
                self.registry.remove(tenant_id);
                return Ok(());
            };
            // The policy part is at `stored.revision`; the graph must reach exactly that too.
            while changes
                .last()
                .map_or(served.revision(), |last| last.revision)
                < stored.revision
            {
                let from = changes
                    .last()
                    .map_or(served.revision(), |last| last.revision);
                match self.feed(tenant_id, from).await? {
                    Some(more) if !more.is_empty() => changes.extend(more),
                    _ => return self.reload(tenant_id).await,
                }
            }
            changes.retain(|change| change.revision <= stored.revision);
            let platform = self.platform.lock().await.clone();
            served
                .with_relationships(relationship_changes(&changes), served.revision())
                .and_then(|patched| {
                    patched.with_policy(
                        &stored.policy,
                        platform.as_ref().map(|(_, policy)| &**policy),
                        stored.revision,
                    )
                })
        } else {
            let Some(last) = changes.last().map(|change| change.revision) else {
                return Ok(());
            };
            served.with_relationships(relationship_changes(&changes), last)
        };
        match next {
            Ok(snapshot) => {
                tracing::debug!(
                    tenant = %tenant_id,
                    revision = snapshot.revision(),
                    events = changes.len(),
                    policy_reloaded = policy_moved,
                    elapsed_us = started.elapsed().as_micros() as u64,
                    "caught up"
                );
                self.registry.replace(Arc::new(snapshot));
                Ok(())
            }
            Err(error) => {
                tracing::warn!(tenant = %tenant_id, %error, "a change does not apply to the served snapshot; reloading the tenant whole");
                self.reload(tenant_id).await
            }
        }
    }

    /// Every change after `after`, up to the current revision (`None`: the log no longer
    /// reaches back that far).
    async fn feed(&self, tenant_id: &str, after: u64) -> Result<Option<Vec<Change>>, StoreError> {
        let mut all = Vec::new();
        let mut from = after;
        loop {
            match self
                .store
                .changes_since(tenant_id, from, FEED_BATCH)
                .await?
            {
                ChangeFeed::Reload { .. } => return Ok(None),
                ChangeFeed::Changes(changes) if changes.is_empty() => return Ok(Some(all)),
                ChangeFeed::Changes(changes) => {
                    from = changes.last().map_or(from, |last| last.revision);
                    let full = changes.len() >= FEED_BATCH;
                    all.extend(changes);
                    if !full {
                        return Ok(Some(all));
                    }
                }
            }
        }
    }

    /// Loads and compiles one tenant whole.
    async fn reload(&self, tenant_id: &str) -> Result<(), RegistryError> {
        let Some(stored) = self.store.load_tenant(tenant_id).await? else {
            self.registry.remove(tenant_id);
            return Ok(());
        };
        let platform = self.platform.lock().await.clone();
        let snapshot = Snapshot::compile(
            &stored.policy,
            platform.as_ref().map(|(_, policy)| &**policy),
            stored.revision,
        )
        .map_err(|error| RegistryError::Compile {
            tenant: tenant_id.to_owned(),
            error,
        })?;
        self.registry.replace(Arc::new(snapshot));
        Ok(())
    }
}

/// The relationship writes among `changes`, in order, as the engine takes them.
fn relationship_changes(changes: &[Change]) -> impl Iterator<Item = RelationshipChange<'_>> {
    changes.iter().filter_map(|change| match &change.event {
        ChangeEvent::RelationshipTouched(relationship) => {
            Some(RelationshipChange::Touch(relationship))
        }
        ChangeEvent::RelationshipDeleted(relationship) => {
            Some(RelationshipChange::Delete(relationship))
        }
        _ => None,
    })
}

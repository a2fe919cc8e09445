//! What followers read: every committed change in revision order with no gaps, split only
//! between writes; commits announced as they happen; concurrent writers serialised by the
//! tenant; and tenants that never see each other's writes.

use authz_core::model::TenantStatus;
use authz_store::{Change, ChangeEvent, ChangeFeed, Store};

use super::{all_relationships, clinic, delete, put, rel, touch};

async fn feed(store: &dyn Store, tenant_id: &str, after: u64, limit: usize) -> Vec<Change> {
    match store.changes_since(tenant_id, after, limit).await {
        Ok(ChangeFeed::Changes(changes)) => changes,
        other => panic!("changes of {tenant_id} after {after}: {other:?}"),
    }
}

pub(crate) async fn the_change_feed_holds_every_write_in_revision_order(store: &dyn Store) {
    let imported = put(store, clinic("acme")).await;
    let written = store
        .write_relationships(
            "acme",
            &[
                touch("patient:p5#assignee@user:bob"),
                delete("patient:p1#assignee@user:ann"),
            ],
        )
        .await
        .unwrap_or_else(|error| panic!("{error}"));
    let suspended = store
        .set_tenant_status("acme", TenantStatus::Suspended)
        .await
        .unwrap_or_else(|error| panic!("{error}"));

    let changes = feed(store, "acme", 0, 1000).await;
    let revisions: Vec<u64> = changes.iter().map(|change| change.revision).collect();
    assert!(
        revisions.windows(2).all(|pair| pair[0] <= pair[1]),
        "{revisions:?}"
    );
    let mut distinct = revisions.clone();
    distinct.dedup();
    assert_eq!(
        distinct,
        (1..=suspended).collect::<Vec<_>>(),
        "every revision from creation on, none missing"
    );
    let at = |revision: u64| -> Vec<ChangeEvent> {
        changes
            .iter()
            .filter(|change| change.revision == revision)
            .map(|change| change.event.clone())
            .collect()
    };
    assert_eq!(at(1), [ChangeEvent::Tenant], "creation");
    let import = at(imported);
    assert!(import.contains(&ChangeEvent::Policy), "{import:?}");
    for principal in ["ann", "bob"] {
        assert!(
            import.contains(&ChangeEvent::Principal(principal.to_owned())),
            "{import:?}"
        );
    }
    assert!(
        import.contains(&ChangeEvent::RelationshipTouched(rel(
            "patient:p1#assignee@user:ann"
        ))),
        "{import:?}"
    );
    let mut relationship_events = at(written);
    relationship_events.sort_by_key(|event| format!("{event:?}"));
    assert_eq!(
        relationship_events,
        [
            ChangeEvent::RelationshipDeleted(rel("patient:p1#assignee@user:ann")),
            ChangeEvent::RelationshipTouched(rel("patient:p5#assignee@user:bob")),
        ]
    );
    assert_eq!(at(suspended), [ChangeEvent::Tenant]);

    assert_eq!(feed(store, "acme", suspended, 1000).await, []);
    assert_eq!(
        feed(store, "acme", written, 1000).await,
        changes
            .iter()
            .filter(|c| c.revision > written)
            .cloned()
            .collect::<Vec<_>>()
    );
}

/// A limit never splits one write's events: a follower applies whole writes only.
pub(crate) async fn the_change_feed_splits_only_between_writes(store: &dyn Store) {
    put(store, clinic("acme")).await;
    let base = store
        .revision("acme")
        .await
        .ok()
        .flatten()
        .unwrap_or_default();
    let writes: Vec<_> = (0..5)
        .map(|n| touch(&format!("patient:q{n}#assignee@user:ann")))
        .collect();
    let big = store
        .write_relationships("acme", &writes)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let small = store
        .write_relationships("acme", &[touch("patient:q9#assignee@user:bob")])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let first = feed(store, "acme", base, 2).await;
    assert_eq!(first.len(), 5, "the 5-event write comes whole: {first:?}");
    assert!(first.iter().all(|change| change.revision == big));
    let rest = feed(store, "acme", big, 2).await;
    assert_eq!(rest.iter().map(|c| c.revision).collect::<Vec<_>>(), [small]);
}

pub(crate) async fn commits_are_announced(store: &dyn Store) {
    put(store, clinic("acme")).await;
    let mut commits = store.subscribe();
    let revision = store
        .write_relationships("acme", &[touch("patient:p7#assignee@user:ann")])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let announced = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        loop {
            match commits.recv().await {
                Ok(commit) if commit.tenant_id == "acme" && commit.revision == revision => {
                    return true;
                }
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return false,
            }
        }
    })
    .await;
    assert_eq!(
        announced,
        Ok(true),
        "revision {revision} of acme was announced"
    );
}

/// Writers of one tenant are serialised by it: concurrent writes get consecutive revisions,
/// each exactly once, and all of them land.
pub(crate) async fn concurrent_writes_to_one_tenant_get_consecutive_revisions(store: &dyn Store) {
    let base = put(store, clinic("acme")).await;
    let writers = (0..16).map(|n| async move {
        store
            .write_relationships("acme", &[touch(&format!("patient:c{n}#assignee@user:ann"))])
            .await
    });
    let mut revisions: Vec<u64> = futures_util::future::join_all(writers)
        .await
        .into_iter()
        .map(|written| written.unwrap_or_else(|error| panic!("a concurrent write failed: {error}")))
        .collect();
    revisions.sort_unstable();
    assert_eq!(revisions, (base + 1..=base + 16).collect::<Vec<_>>());
    assert_eq!(all_relationships(store, "acme").await.len(), 3 + 16);
}

/// Two tenants with the same ids: what is written to one is never read, listed or announced
/// as the other's.
pub(crate) async fn nothing_written_to_one_tenant_shows_in_another(store: &dyn Store) {
    put(store, clinic("acme")).await;
    let beta = put(store, clinic("beta")).await;
    let beta_before = all_relationships(store, "beta").await;
    store
        .write_relationships("acme", &[touch("patient:p8#assignee@user:ann")])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let mut changed = clinic("acme");
    changed.principals.retain(|principal| principal.id != "bob");
    changed
        .bindings
        .retain(|binding| binding.principal != "bob");
    store
        .import_policy(changed, authz_store::ImportOptions::default())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    store
        .set_tenant_status("acme", TenantStatus::Suspended)
        .await
        .unwrap_or_else(|e| panic!("{e}"));

    assert_eq!(all_relationships(store, "beta").await, beta_before);
    assert_eq!(store.revision("beta").await.ok().flatten(), Some(beta));
    let stored = store.load_tenant("beta").await.ok().flatten();
    assert_eq!(
        stored.map(|s| (*s.policy).clone()),
        Some({
            let mut want = clinic("beta");
            want.relationships.sort();
            want
        })
    );
    assert!(
        feed(store, "beta", 0, 1000)
            .await
            .iter()
            .all(|c| c.revision <= beta)
    );
}

//! Imports on Postgres: a failure at any step leaves nothing behind; values Postgres cannot
//! keep exactly are refused up front; the imported order is kept as the in-memory store keeps
//! it; large relationship sets are diffed in SQL and announced as one reload.

use authz_core::AttrValue;
use authz_core::model::Session;
use authz_store::{
    ChangeEvent, ChangeFeed, ImportOptions, InMemoryStore, MAX_RELATIONSHIP_EVENTS, Store,
    StoreError,
};
use chrono::DateTime;

use super::put;
use crate::conformance::{all_relationships, clinic, contents, rel};
use crate::fresh;

async fn feed(store: &dyn Store, tenant_id: &str) -> ChangeFeed {
    store.changes_since(tenant_id, 0, 100_000).await.unwrap()
}

#[tokio::test]
async fn a_failed_import_leaves_nothing_behind() {
    let store = fresh().await;
    put(&*store, clinic("acme")).await;
    let before = (contents(&*store).await, feed(&*store, "acme").await);

    // Postgres refuses a NUL character in text only when the principal is written, after the
    // relationships changed: the whole transaction rolls back.
    let mut late = clinic("acme");
    late.relationships.retain(|r| r.resource_id != "p2");
    late.relationships.push(rel("patient:p7#assignee@user:bob"));
    late.principals[0].display_name = "Ann\0".to_owned();
    let refused = store.import_policy(late, ImportOptions::default()).await;
    assert!(
        matches!(&refused, Err(StoreError::InvalidInput { .. })),
        "{refused:?}"
    );

    // Values that would not read back equal are refused before anything is written.
    let mut nan = clinic("acme");
    nan.principals[0]
        .attributes
        .insert("score".to_owned(), AttrValue::Double(f64::NAN));
    let refused = store.import_policy(nan, ImportOptions::default()).await;
    assert!(
        matches!(&refused, Err(StoreError::InvalidInput { field, .. }) if field.contains("attributes")),
        "{refused:?}"
    );
    let mut fine = clinic("acme");
    fine.principals[0].sessions.push(Session {
        id: "s1".to_owned(),
        revoked: false,
        expires_at: DateTime::from_timestamp(1_900_000_000, 1),
    });
    let refused = store.import_policy(fine, ImportOptions::default()).await;
    assert!(
        matches!(&refused, Err(StoreError::InvalidInput { field, .. }) if field.contains("expires_at")),
        "{refused:?}"
    );

    let after = (contents(&*store).await, feed(&*store, "acme").await);
    assert_eq!(after, before);
}

/// The same writes on both backends give back the same policies, in the same order: a
/// reordering alone is no change (the stored order stays), a reordering with a change stores
/// the new order.
#[tokio::test]
async fn imports_keep_the_order_the_in_memory_store_keeps() {
    let store = fresh().await;
    let memory = InMemoryStore::new();
    let reordered = {
        let mut policy = clinic("acme");
        policy.roles.reverse();
        policy.principals.reverse();
        policy.bindings.reverse();
        policy
    };
    let mut changed = reordered.clone();
    changed.principals[0].display_name = "Bob B.".to_owned();
    let mut shrunk = clinic("acme");
    shrunk.bindings.retain(|b| b.id != "b-bob");
    shrunk.roles.retain(|r| r.id != "manager");
    let mut regrown = shrunk.clone();
    regrown.roles.insert(0, clinic("acme").roles[1].clone());
    regrown.bindings.push(clinic("acme").bindings[1].clone());
    for step in [clinic("acme"), reordered, changed, shrunk, regrown] {
        let want = put(&memory, step.clone()).await;
        let got = put(&*store, step).await;
        assert_eq!(got, want);
        assert_eq!(contents(&*store).await, contents(&memory).await);
    }
}

#[tokio::test]
async fn a_large_relationship_import_is_one_reload() {
    let store = fresh().await;
    let base = put(&*store, clinic("acme")).await;
    let mut large = clinic("acme");
    let extra = MAX_RELATIONSHIP_EVENTS + 1;
    large
        .relationships
        .extend((0..extra).map(|n| rel(&format!("patient:x{n}#assignee@user:ann"))));
    let report = store
        .import_policy(large.clone(), ImportOptions::default())
        .await
        .unwrap();
    assert_eq!(
        (
            report.revision,
            report.relationships_added,
            report.relationships_removed
        ),
        (base + 1, extra as u64, 0)
    );
    let ChangeFeed::Changes(changes) = store.changes_since("acme", base, 10).await.unwrap() else {
        panic!("the log reaches back");
    };
    assert_eq!(
        changes
            .iter()
            .map(|c| (c.revision, &c.event))
            .collect::<Vec<_>>(),
        [(base + 1, &ChangeEvent::Reload)]
    );
    large.relationships.reverse();
    let again = store
        .import_policy(large, ImportOptions::default())
        .await
        .unwrap();
    assert!(again.is_empty(), "{again:?}");
    assert_eq!(all_relationships(&*store, "acme").await.len(), 3 + extra);
}

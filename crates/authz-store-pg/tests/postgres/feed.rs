//! The change log's floor: once the log is pruned past a revision, a follower asking from
//! before it reloads the tenant whole.

use authz_store::{ChangeFeed, Store};

use super::put;
use crate::conformance::{clinic, touch};
use crate::fresh;

#[tokio::test]
async fn a_follower_behind_the_pruned_log_reloads() {
    let store = fresh().await;
    let imported = put(&*store, clinic("acme")).await;
    let written = store
        .write_relationships("acme", &[touch("patient:p5#assignee@user:bob")])
        .await
        .unwrap();
    // Prune as an operator would: drop the log up to the import, raise the floor.
    let mut admin = store.pool().begin().await.unwrap();
    sqlx::query("DELETE FROM changes WHERE tenant_id = 'acme' AND revision <= $1")
        .bind(i64::try_from(imported).unwrap())
        .execute(&mut *admin)
        .await
        .unwrap();
    sqlx::query("UPDATE tenants SET changes_floor = $1 WHERE tenant_id = 'acme'")
        .bind(i64::try_from(imported).unwrap())
        .execute(&mut *admin)
        .await
        .unwrap();
    admin.commit().await.unwrap();

    let behind = store
        .changes_since("acme", imported - 1, 100)
        .await
        .unwrap();
    assert_eq!(behind, ChangeFeed::Reload { revision: written });
    let ChangeFeed::Changes(changes) = store.changes_since("acme", imported, 100).await.unwrap()
    else {
        panic!("the log reaches back to the floor");
    };
    assert!(
        changes.iter().all(|change| change.revision == written),
        "{changes:?}"
    );
    assert_eq!(changes.len(), 1);
}

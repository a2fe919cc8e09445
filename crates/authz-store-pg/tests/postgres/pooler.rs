//! Behind a transaction-mode pooler without prepared-statement support, the store uses only
//! unnamed statements: nothing of a call outlives its transaction on the server connection.

use authz_store_pg::PgStore;

use crate::conformance;
use crate::fresh_with;

/// Named prepared statements left on the one connection `store`'s pool holds.
async fn prepared_statements(store: &PgStore) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM pg_prepared_statements")
        .persistent(false)
        .fetch_one(store.pool())
        .await
        .unwrap()
}

#[tokio::test]
async fn without_prepared_statements_the_store_leaves_none_behind() {
    let unnamed = || fresh_with(|options| options.prepared_statements(false).max_connections(1));
    let store = unnamed().await;
    conformance::export_then_import_changes_nothing(&*store).await;
    assert_eq!(prepared_statements(&store).await, 0);
    let store = unnamed().await;
    conformance::relationships_are_read_in_pages_with_stable_cursors(&*store).await;
    conformance::the_change_feed_splits_only_between_writes(&*store).await;
    assert_eq!(prepared_statements(&store).await, 0);
}

//! Migrations run at every server start and from `authz-server migrate`: running them again
//! changes nothing, and databases of one cluster migrate side by side (the application role is
//! cluster-wide).

use authz_store_pg::{PgStore, PgStoreOptions};
use authz_testdb::TestDatabase;

use super::put;
use crate::conformance::{clinic, contents};
use crate::{fresh, fresh_with};

#[tokio::test]
async fn migrating_again_changes_nothing() {
    let store = fresh().await;
    put(&*store, clinic("acme")).await;
    let before = contents(&*store).await;
    store.migrate().await.unwrap();
    store.migrate().await.unwrap();
    assert_eq!(contents(&*store).await, before);
    let applied: i64 = sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations")
        .fetch_one(store.pool())
        .await
        .unwrap();
    let shipped = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"))
        .unwrap()
        .filter(|entry| {
            entry
                .as_ref()
                .is_ok_and(|entry| entry.path().extension().is_some_and(|ext| ext == "sql"))
        })
        .count();
    assert_eq!(
        applied,
        i64::try_from(shipped).unwrap(),
        "each migration applied once"
    );
}

#[tokio::test]
async fn databases_migrate_concurrently() {
    let mut stores = Vec::new();
    let mut databases = Vec::new();
    for _ in 0..3 {
        let db = TestDatabase::create().await.unwrap();
        stores.push(
            PgStore::connect(PgStoreOptions::new(db.options()))
                .await
                .unwrap(),
        );
        databases.push(db);
    }
    let migrated = futures_util::future::join_all(stores.iter().map(PgStore::migrate)).await;
    assert!(migrated.iter().all(Result::is_ok), "{migrated:?}");
    for store in &stores {
        put(store, clinic("acme")).await;
    }
    // Two servers migrating one database: one waits for the other.
    let shared = fresh_with(|options| options).await;
    let second = PgStore::connect(PgStoreOptions::new(shared.db.options()))
        .await
        .unwrap();
    let (a, b) = tokio::join!(shared.migrate(), second.migrate());
    assert!(a.is_ok() && b.is_ok(), "{a:?} {b:?}");
    drop(stores);
}

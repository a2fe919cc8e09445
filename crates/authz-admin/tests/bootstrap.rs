//! The first platform admin of a fresh database comes from the bootstrap key, once: a key left
//! in the environment never re-opens a platform that has keys of its own, and a guessable key
//! is refused.

#![allow(
    clippy::expect_used,
    reason = "test fixtures: a failed setup must stop the test loudly"
)]

use authz_admin::{BOOTSTRAP_KEY_MIN_LEN, bootstrap_platform, secret_hash};
use authz_store::{InMemoryStore, Store, StoreError};

const SECRET: &str = "a-bootstrap-secret-of-forty-characters!!";

#[tokio::test]
async fn a_fresh_platform_gets_its_first_admin_once() {
    let store = InMemoryStore::new();
    assert!(
        bootstrap_platform(&store, SECRET)
            .await
            .expect("bootstraps")
    );
    let owners = store
        .find_api_key(&secret_hash(SECRET))
        .await
        .expect("lookup");
    let found: Vec<_> = owners
        .iter()
        .map(|o| {
            (
                o.tenant_id.as_str(),
                o.principal_id.as_str(),
                o.key_id.as_str(),
            )
        })
        .collect();
    assert_eq!(found, [("platform", "bootstrap-admin", "bootstrap")]);
    let platform = store.platform().await.expect("read").expect("exists");

    // Started again with the same (or another) bootstrap key: nothing changes.
    let other = "another-bootstrap-secret-of-forty-chars!";
    assert!(!bootstrap_platform(&store, SECRET).await.expect("no-op"));
    assert!(!bootstrap_platform(&store, other).await.expect("no-op"));
    let after = store.platform().await.expect("read").expect("exists");
    assert_eq!(
        (after.revision, &*after.policy),
        (platform.revision, &*platform.policy)
    );
    assert!(
        store
            .find_api_key(&secret_hash(other))
            .await
            .expect("lookup")
            .is_empty()
    );
}

#[tokio::test]
async fn a_short_bootstrap_key_is_refused() {
    let store = InMemoryStore::new();
    let short = "x".repeat(BOOTSTRAP_KEY_MIN_LEN - 1);
    let refused = bootstrap_platform(&store, &short).await;
    assert!(
        matches!(&refused, Err(StoreError::InvalidInput { field, .. }) if field == "AUTHZ_BOOTSTRAP_KEY"),
        "{refused:?}"
    );
    assert!(store.platform().await.expect("read").is_none());
}

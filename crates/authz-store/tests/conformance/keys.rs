//! The reads that serve replicas and admin authentication: every tenant's revision at once,
//! the policy part without relationships, and an API key's owner by its secret's hash — in
//! whichever tenant holds it, and only the key whose secret it is.

use authz_core::PrincipalKind;
use authz_core::model::{ApiKey, PLATFORM_TENANT_ID};
use authz_store::Store;

use super::{clinic, platform, put};

const HASH: &str = "5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8";

pub(crate) async fn every_tenants_revision_is_read_at_once(store: &dyn Store) {
    let acme = put(store, clinic("acme")).await;
    let beta = put(store, clinic("beta")).await;
    let staff = put(store, platform()).await;
    let mut revisions = store
        .revisions()
        .await
        .unwrap_or_else(|error| panic!("reading revisions: {error}"));
    revisions.sort();
    assert_eq!(
        revisions,
        [
            ("acme".to_owned(), acme),
            ("beta".to_owned(), beta),
            (PLATFORM_TENANT_ID.to_owned(), staff),
        ]
    );
}

pub(crate) async fn the_policy_part_is_loaded_without_relationships(store: &dyn Store) {
    let revision = put(store, clinic("acme")).await;
    let part = store
        .load_policy("acme")
        .await
        .unwrap_or_else(|error| panic!("loading acme's policy: {error}"));
    let Some(part) = part else {
        panic!("acme's policy is missing")
    };
    let mut want = clinic("acme");
    want.relationships.clear();
    assert_eq!((&*part.policy, part.revision), (&want, revision));
    assert!(matches!(store.load_policy("nobody").await, Ok(None)));
}

pub(crate) async fn api_keys_are_found_by_the_hash_of_their_secret(store: &dyn Store) {
    let mut acme = clinic("acme");
    acme.principals[1].kind = PrincipalKind::Service;
    acme.principals[1].api_keys.push(ApiKey {
        id: "k-bob".to_owned(),
        scopes: vec!["patient.view".to_owned()],
        secret_hash: HASH.to_owned(),
        revoked: true,
        ..ApiKey::default()
    });
    put(store, acme).await;
    put(store, clinic("beta")).await;
    let owners = store
        .find_api_key(HASH)
        .await
        .unwrap_or_else(|error| panic!("finding the key: {error}"));
    let found: Vec<_> = owners
        .iter()
        .map(|owner| {
            (
                owner.tenant_id.as_str(),
                owner.principal_id.as_str(),
                owner.principal_kind,
                owner.key_id.as_str(),
                owner.revoked,
            )
        })
        .collect();
    assert_eq!(
        found,
        [("acme", "bob", PrincipalKind::Service, "k-bob", true)]
    );
    let nobody = store.find_api_key(&"0".repeat(64)).await;
    assert!(
        matches!(&nobody, Ok(owners) if owners.is_empty()),
        "{nobody:?}"
    );
    let empty = store.find_api_key("").await;
    assert!(
        matches!(&empty, Ok(owners) if owners.is_empty()),
        "{empty:?}"
    );
}

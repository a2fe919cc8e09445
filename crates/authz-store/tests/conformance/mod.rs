//! What every [`Store`] must do, written against `&dyn Store` so each backend runs the same
//! suite: `mod conformance;` in the backend's test file, then one test per function here, each
//! given an empty store.
//!
//! The rules: every write gets a higher revision; a tenant's write replaces it; the platform
//! policy (tenant id `platform`) is written only through `put_platform`, kept apart and never
//! listed among tenants; and a policy that does not compile is refused, naming its tenant, and
//! writes nothing at all.

#![allow(
    dead_code,
    reason = "each backend's test file uses the functions it runs"
)]
#![allow(clippy::panic, reason = "suite functions fail the test by panicking")]

use std::collections::BTreeMap;

use authz_core::model::PLATFORM_TENANT_ID;
use authz_core::{PolicyError, TenantPolicy};
use authz_store::{Store, StoreError, StoredTenant};

/// A small valid tenant whose one role holds `permissions` (`patient.view`, `patient.edit`).
pub(crate) fn tenant(id: &str, permissions: &[&str]) -> TenantPolicy {
    policy(&format!(
        r#"
tenant: {{ id: {id} }}
catalog:
  resource_types:
    patient:
      actions: {{ view: {{}}, edit: {{}} }}
roles:
  - {{ id: staff, role_type: staff, grants: [{{ permissions: {permissions:?} }}] }}
principals: [{{ id: ann }}]
bindings: [{{ id: b-ann, principal: ann, role: staff }}]
"#
    ))
}

/// Platform staff: a support engineer who reads every tenant.
pub(crate) fn platform() -> TenantPolicy {
    policy(
        r#"
tenant: { id: platform }
roles:
  - { id: support_engineer, role_type: platform_support, grants: [{ permission: "*.view" }] }
principals: [{ id: pete }]
bindings: [{ id: pb-pete, principal: pete, role: support_engineer, tenants: [acme] }]
"#,
    )
}

#[track_caller]
fn policy(yaml: &str) -> TenantPolicy {
    match TenantPolicy::from_yaml(yaml) {
        Ok(policy) => policy,
        Err(error) => panic!("test policy does not parse: {error}\n{yaml}"),
    }
}

/// Writes `policy` (through `put_platform` when it is the platform's), which must be accepted;
/// returns its revision.
async fn put(store: &dyn Store, policy: TenantPolicy) -> u64 {
    let id = policy.tenant.id.clone();
    match write(store, policy).await {
        Ok(revision) => revision,
        Err(error) => panic!("writing tenant `{id}` failed: {error}"),
    }
}

async fn write(store: &dyn Store, policy: TenantPolicy) -> Result<u64, StoreError> {
    if policy.tenant.id == PLATFORM_TENANT_ID {
        store.put_platform(policy).await
    } else {
        store.put_tenant(policy).await
    }
}

/// Writes `policy` as [`put`] does, which must be refused as invalid; returns why.
async fn refused(store: &dyn Store, policy: TenantPolicy) -> PolicyError {
    let id = policy.tenant.id.clone();
    match write(store, policy).await {
        Err(StoreError::InvalidPolicy { tenant, error }) => {
            assert_eq!(tenant, id, "the refusal names the tenant written");
            error
        }
        Err(other) => panic!("writing `{id}`: expected an invalid policy, got {other}"),
        Ok(revision) => panic!("writing `{id}` was accepted at revision {revision}"),
    }
}

/// Everything a store holds, to compare before and after: tenant id → (revision, policy), and
/// the platform's.
type Contents = (
    BTreeMap<String, (u64, TenantPolicy)>,
    Option<(u64, TenantPolicy)>,
);

async fn contents(store: &dyn Store) -> Contents {
    let unpack = |stored: StoredTenant| (stored.revision, (*stored.policy).clone());
    let tenants = match store.tenants().await {
        Ok(tenants) => tenants,
        Err(error) => panic!("listing tenants failed: {error}"),
    };
    let count = tenants.len();
    let by_id: BTreeMap<_, _> = tenants
        .into_iter()
        .map(|stored| (stored.policy.tenant.id.clone(), unpack(stored)))
        .collect();
    assert_eq!(by_id.len(), count, "a tenant is listed twice");
    let platform = match store.platform().await {
        Ok(platform) => platform.map(unpack),
        Err(error) => panic!("reading the platform tenant failed: {error}"),
    };
    (by_id, platform)
}

pub(crate) async fn an_empty_store_holds_nothing(store: &dyn Store) {
    assert_eq!(contents(store).await, (BTreeMap::new(), None));
}

pub(crate) async fn every_write_gets_a_higher_revision(store: &dyn Store) {
    let first = put(store, tenant("acme", &["patient.view"])).await;
    let second = put(store, tenant("beta", &["patient.view"])).await;
    let third = put(store, tenant("acme", &["patient.edit"])).await;
    let fourth = put(store, platform()).await;
    assert!(
        first < second && second < third && third < fourth,
        "revisions {first}, {second}, {third}, {fourth} must increase"
    );
}

pub(crate) async fn writing_a_tenant_again_replaces_it(store: &dyn Store) {
    put(store, tenant("acme", &["patient.view"])).await;
    let beta = put(store, tenant("beta", &["patient.view"])).await;
    let acme = put(store, tenant("acme", &["patient.view", "patient.edit"])).await;
    let (tenants, platform) = contents(store).await;
    let want = BTreeMap::from([
        (
            "acme".to_owned(),
            (acme, tenant("acme", &["patient.view", "patient.edit"])),
        ),
        ("beta".to_owned(), (beta, tenant("beta", &["patient.view"]))),
    ]);
    assert_eq!(tenants, want);
    assert_eq!(platform, None);
}

pub(crate) async fn the_platform_policy_is_kept_apart(store: &dyn Store) {
    let acme = put(store, tenant("acme", &["patient.view"])).await;
    let staff = put(store, platform()).await;
    let (tenants, platform_policy) = contents(store).await;
    assert_eq!(
        tenants.keys().collect::<Vec<_>>(),
        ["acme"],
        "the platform is never listed among tenants"
    );
    assert_eq!(
        tenants.get("acme").map(|(revision, _)| *revision),
        Some(acme)
    );
    assert_eq!(platform_policy, Some((staff, platform())));
    assert_eq!(platform().tenant.id, PLATFORM_TENANT_ID);

    // Writing the platform again replaces it.
    let mut narrower = platform();
    narrower.bindings.clear();
    let again = put(store, narrower.clone()).await;
    let (tenants_after, platform_after) = contents(store).await;
    assert_eq!(platform_after, Some((again, narrower)));
    assert_eq!(
        tenants_after, tenants,
        "tenants are untouched by a platform write"
    );
}

/// The architecture's invariant: an invalid policy is never served, so the store never holds
/// one. A refused write leaves the store as it was — contents and revision counter alike.
pub(crate) async fn a_policy_that_does_not_compile_writes_nothing(store: &dyn Store) {
    put(store, tenant("acme", &["patient.view"])).await;
    let last = put(store, platform()).await;
    let before = contents(store).await;

    // A new tenant, the same tenant again, and the platform, each naming a permission no
    // catalog declares.
    let error = refused(store, tenant("beta", &["patient.fly"])).await;
    assert!(
        matches!(&error, PolicyError::UnknownPermission { permission, .. } if permission == "patient.fly"),
        "{error}"
    );
    refused(store, tenant("acme", &["patient.fly"])).await;
    let mut broken_platform = platform();
    broken_platform.bindings[0].role = "no_such_role".to_owned();
    let error = refused(store, broken_platform).await;
    assert!(
        matches!(&error, PolicyError::UnknownReference { id, .. } if id == "no_such_role"),
        "{error}"
    );
    assert_eq!(
        contents(store).await,
        before,
        "a refused write changed the store"
    );

    // No revision was spent on them: the next write gets the next one.
    let next = put(store, tenant("beta", &["patient.view"])).await;
    assert_eq!(next, last + 1);
}

/// A tenant can never take the platform's id by the back door: a policy under any other id is a
/// tenant policy, and what only the platform may state (bindings that list tenants) is refused.
pub(crate) async fn a_platform_policy_under_another_id_is_a_tenant(store: &dyn Store) {
    let mut staff = platform();
    staff.tenant.id = "platform-staff".to_owned();
    let error = refused(store, staff).await;
    assert!(
        matches!(&error, PolicyError::TenantsOnTenantBinding(binding) if binding == "pb-pete"),
        "{error}"
    );
    assert_eq!(contents(store).await, (BTreeMap::new(), None));
}

/// Only `put_platform` writes platform staff: a tenant write under the reserved id is refused,
/// and so is a platform write under any other id — either way, nothing is written.
pub(crate) async fn the_platform_id_is_written_only_as_the_platform(store: &dyn Store) {
    let mut posing = tenant("acme", &["patient.view"]);
    posing.tenant.id = PLATFORM_TENANT_ID.to_owned();
    match store.put_tenant(posing).await {
        Err(StoreError::InvalidPolicy { tenant, error }) => {
            assert_eq!(tenant, PLATFORM_TENANT_ID);
            assert!(matches!(error, PolicyError::ReservedTenant(_)), "{error}");
        }
        other => panic!("a tenant write under the platform id: expected a refusal, got {other:?}"),
    }
    let mut elsewhere = platform();
    elsewhere.tenant.id = "acme".to_owned();
    match store.put_platform(elsewhere).await {
        Err(StoreError::InvalidPolicy { tenant, .. }) => assert_eq!(tenant, "acme"),
        other => panic!("a platform write under another id: expected a refusal, got {other:?}"),
    }
    assert_eq!(contents(store).await, (BTreeMap::new(), None));
}

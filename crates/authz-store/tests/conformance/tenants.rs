//! Tenants and whole-policy writes: per-tenant revisions, the platform kept apart, refused
//! writes that leave nothing behind, tenant rows created once, listed in pages, suspended.

use std::collections::BTreeMap;

use authz_core::PolicyError;
use authz_core::model::{PLATFORM_TENANT_ID, Tenant, TenantStatus};
use authz_store::{PageRequest, Store, StoreError};

use super::{contents, platform, put, refused, tenant};

pub(crate) async fn an_empty_store_holds_nothing(store: &dyn Store) {
    assert_eq!(contents(store).await, (BTreeMap::new(), None));
    let listed = store.list_tenants(&PageRequest::first(10)).await;
    assert!(
        matches!(&listed, Ok(page) if page.items.is_empty() && page.next.is_none()),
        "{listed:?}"
    );
    assert!(matches!(store.revision("acme").await, Ok(None)));
    assert!(matches!(store.tenant("acme").await, Ok(None)));
}

/// Revisions are per tenant: each write that changes a tenant spends exactly the next one, and
/// another tenant's writes do not move it.
pub(crate) async fn every_write_gets_a_higher_revision(store: &dyn Store) {
    let first = put(store, tenant("acme", &["patient.view"])).await;
    put(store, tenant("beta", &["patient.view"])).await;
    let second = put(store, tenant("acme", &["patient.edit"])).await;
    let suspended = store
        .set_tenant_status("acme", TenantStatus::Suspended)
        .await
        .unwrap_or_else(|error| panic!("suspending acme: {error}"));
    assert_eq!(
        (second, suspended),
        (first + 1, first + 2),
        "acme's writes spend consecutive revisions whatever beta does"
    );
    assert_eq!(store.revision("acme").await.ok().flatten(), Some(suspended));
    let staff = put(store, platform()).await;
    let again = put(store, {
        let mut narrower = platform();
        narrower.bindings.clear();
        narrower
    })
    .await;
    assert!(
        again > staff,
        "platform revisions {staff}, {again} must increase"
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
    put(store, platform()).await;
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

    // No revision was spent on them: acme's next write gets the next one.
    let acme = store.revision("acme").await.ok().flatten();
    let next = put(store, tenant("acme", &["patient.edit"])).await;
    assert_eq!(Some(next), acme.map(|revision| revision + 1));
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

/// A tenant is created once, empty, at its first revision; listed in id order in pages (the
/// platform never among them); its status changes spend a revision only when it changes.
pub(crate) async fn tenants_are_created_once_listed_in_pages_and_suspended(store: &dyn Store) {
    let named = |id: &str| Tenant {
        id: id.to_owned(),
        name: format!("{id} home health"),
        ..Tenant::default()
    };
    for id in ["delta", "alpha", "charlie", "bravo", "echo"] {
        let created = store.create_tenant(named(id)).await;
        assert!(matches!(created, Ok(1)), "creating {id}: {created:?}");
    }
    put(store, platform()).await;
    let again = store.create_tenant(named("alpha")).await;
    assert!(
        matches!(&again, Err(StoreError::AlreadyExists { what: "tenant", id }) if id == "alpha"),
        "{again:?}"
    );
    let alpha = store.tenant("alpha").await.ok().flatten();
    assert_eq!(
        alpha.map(|record| (record.tenant.name, record.revision)),
        Some(("alpha home health".to_owned(), 1)),
        "a refused create leaves the tenant as it was"
    );
    let empty = store.load_tenant("alpha").await.ok().flatten();
    assert!(
        empty.is_some_and(|stored| stored.policy.roles.is_empty()
            && stored.policy.principals.is_empty()
            && stored.policy.catalog.resource_types.is_empty()),
        "a new tenant is empty"
    );

    let mut listed = Vec::new();
    let mut page = PageRequest::first(2);
    loop {
        let got = store
            .list_tenants(&page)
            .await
            .unwrap_or_else(|error| panic!("listing tenants: {error}"));
        assert!(got.items.len() <= 2);
        listed.extend(got.items.into_iter().map(|record| record.tenant.id));
        match got.next {
            Some(cursor) => page.cursor = Some(cursor),
            None => break,
        }
    }
    assert_eq!(listed, ["alpha", "bravo", "charlie", "delta", "echo"]);
    assert_eq!(store.tenant_ids().await.ok(), Some(listed.clone()));
    assert!(!listed.iter().any(|id| id == PLATFORM_TENANT_ID));

    let suspended = store
        .set_tenant_status("bravo", TenantStatus::Suspended)
        .await;
    assert!(matches!(suspended, Ok(2)), "{suspended:?}");
    let unchanged = store
        .set_tenant_status("bravo", TenantStatus::Suspended)
        .await;
    assert!(
        matches!(unchanged, Ok(2)),
        "the same status spends no revision: {unchanged:?}"
    );
    let bravo = store.tenant("bravo").await.ok().flatten();
    assert_eq!(
        bravo.map(|r| r.tenant.status),
        Some(TenantStatus::Suspended)
    );
    let missing = store
        .set_tenant_status("zulu", TenantStatus::Suspended)
        .await;
    assert!(
        matches!(&missing, Err(StoreError::NotFound { what: "tenant", id }) if id == "zulu"),
        "{missing:?}"
    );
}

/// Bad input names its field and writes nothing.
pub(crate) async fn bad_tenant_input_is_refused_naming_the_field(store: &dyn Store) {
    for (id, why) in [
        ("", "empty"),
        ("two words", "whitespace"),
        (&*"x".repeat(257), "257 bytes"),
    ] {
        let created = store
            .create_tenant(Tenant {
                id: id.to_owned(),
                ..Tenant::default()
            })
            .await;
        assert!(
            matches!(&created, Err(StoreError::InvalidInput { field, .. }) if field == "tenant.id"),
            "an id that is {why}: {created:?}"
        );
    }
    let zone = store
        .create_tenant(Tenant {
            id: "acme".to_owned(),
            time_zone: "Mars/Olympus".to_owned(),
            ..Tenant::default()
        })
        .await;
    assert!(
        matches!(
            &zone,
            Err(StoreError::InvalidPolicy {
                error: PolicyError::UnknownTimeZone(_),
                ..
            })
        ),
        "{zone:?}"
    );
    let bad_cursor = store
        .list_tenants(&PageRequest {
            size: 10,
            cursor: Some(authz_store::Cursor::after(vec!["a".into(), "b".into()])),
        })
        .await;
    assert!(
        matches!(&bad_cursor, Err(StoreError::InvalidInput { field, .. }) if field == "page.cursor"),
        "{bad_cursor:?}"
    );
    assert_eq!(contents(store).await, (BTreeMap::new(), None));
}

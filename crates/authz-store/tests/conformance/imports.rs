//! Importing a whole tenant: a diff by id against what is stored, applied in one write, reported
//! entity by entity; a dry run writes nothing; importing what is stored (or its export) changes
//! nothing and spends no revision; an import that cannot apply leaves everything as it was.

use authz_core::model::TenantStatus;
use authz_store::{ChangeKind, ImportOptions, Store, StoreError};

use super::{all_relationships, clinic, put, rel};

async fn import(
    store: &dyn Store,
    policy: authz_core::TenantPolicy,
    options: ImportOptions,
) -> authz_store::ImportReport {
    let id = policy.tenant.id.clone();
    store
        .import_policy(policy, options)
        .await
        .unwrap_or_else(|error| panic!("importing {id}: {error}"))
}

pub(crate) async fn importing_what_is_stored_changes_nothing(store: &dyn Store) {
    let revision = put(store, clinic("acme")).await;
    let mut reordered = clinic("acme");
    reordered.roles.reverse();
    reordered.principals.reverse();
    reordered.relationships.reverse();
    let report = import(store, reordered, ImportOptions::default()).await;
    assert!(report.is_empty(), "{report:?}");
    assert_eq!(report.revision, revision, "no revision is spent on nothing");
    assert_eq!(store.revision("acme").await.ok().flatten(), Some(revision));
}

pub(crate) async fn an_import_reports_its_changes_and_a_dry_run_writes_nothing(store: &dyn Store) {
    let revision = put(store, clinic("acme")).await;
    let before = store
        .load_tenant("acme")
        .await
        .ok()
        .flatten()
        .map(|s| (*s.policy).clone());

    let mut changed = clinic("acme");
    changed.roles.retain(|role| role.id != "manager");
    changed.bindings.retain(|binding| binding.id != "b-bob");
    changed.roles[0].grants[0].scope = authz_core::model::GrantScope::Tenant;
    changed.relationships.retain(|r| r.resource_id != "p2");
    changed
        .relationships
        .push(rel("patient:p3#assignee@user:bob"));
    changed
        .relationships
        .push(rel("patient:p3#location@location:north"));

    let dry = import(
        store,
        changed.clone(),
        ImportOptions {
            dry_run: true,
            ..ImportOptions::default()
        },
    )
    .await;
    let mut named: Vec<(ChangeKind, &str, &str)> = dry
        .changes
        .iter()
        .map(|change| (change.kind, change.what, change.id.as_str()))
        .collect();
    named.sort();
    assert_eq!(
        named,
        [
            (ChangeKind::Removed, "binding", "b-bob"),
            (ChangeKind::Removed, "role", "manager"),
            (ChangeKind::Modified, "role", "nurse"),
        ]
    );
    assert_eq!((dry.relationships_added, dry.relationships_removed), (2, 1));
    assert_eq!(
        dry.revision, revision,
        "a dry run reports the current revision"
    );
    let after_dry = store
        .load_tenant("acme")
        .await
        .ok()
        .flatten()
        .map(|s| (*s.policy).clone());
    assert_eq!(after_dry, before, "a dry run writes nothing");
    assert_eq!(store.revision("acme").await.ok().flatten(), Some(revision));

    let applied = import(store, changed.clone(), ImportOptions::default()).await;
    assert_eq!(
        applied.changes, dry.changes,
        "the dry run said what the import did"
    );
    assert_eq!(applied.revision, revision + 1, "one import, one revision");
    let stored = store.load_tenant("acme").await.ok().flatten();
    let stored = stored.map(|s| (*s.policy).clone()).unwrap_or_default();
    assert_eq!(stored.roles, changed.roles);
    assert_eq!(stored.bindings, changed.bindings);
    let mut want = changed.relationships.clone();
    want.sort();
    assert_eq!(all_relationships(store, "acme").await, want);
}

/// Refused imports — unknown tenant, stale expected revision, a status change, a policy that
/// does not compile — leave the tenant exactly as it was.
pub(crate) async fn an_import_is_refused_when_it_cannot_apply(store: &dyn Store) {
    let unknown = store
        .import_policy(clinic("nobody"), ImportOptions::default())
        .await;
    assert!(
        matches!(&unknown, Err(StoreError::NotFound { what: "tenant", id }) if id == "nobody"),
        "{unknown:?}"
    );
    let revision = put(store, clinic("acme")).await;
    let before = store
        .load_tenant("acme")
        .await
        .ok()
        .flatten()
        .map(|s| (*s.policy).clone());

    let mut changed = clinic("acme");
    changed.principals.push(authz_core::model::Principal {
        id: "cy".to_owned(),
        ..Default::default()
    });
    let stale = store
        .import_policy(
            changed.clone(),
            ImportOptions {
                expected_revision: Some(revision - 1),
                ..ImportOptions::default()
            },
        )
        .await;
    assert!(
        matches!(stale, Err(StoreError::RevisionConflict { expected, current, .. }) if expected == revision - 1 && current == revision),
        "{stale:?}"
    );

    let mut suspending = changed.clone();
    suspending.tenant.status = TenantStatus::Suspended;
    let status = store
        .import_policy(suspending, ImportOptions::default())
        .await;
    assert!(
        matches!(&status, Err(StoreError::InvalidInput { field, .. }) if field == "policy.tenant.status"),
        "{status:?}"
    );

    let mut broken = changed.clone();
    broken.bindings[0].role = "no_such_role".to_owned();
    let invalid = store.import_policy(broken, ImportOptions::default()).await;
    assert!(
        matches!(invalid, Err(StoreError::InvalidPolicy { .. })),
        "{invalid:?}"
    );

    let mut dangling = changed;
    dangling
        .relationships
        .push(rel("patient:p9#owner@user:ann"));
    let relationship = store
        .import_policy(dangling, ImportOptions::default())
        .await;
    assert!(
        matches!(relationship, Err(StoreError::InvalidPolicy { .. })),
        "{relationship:?}"
    );

    let after = store
        .load_tenant("acme")
        .await
        .ok()
        .flatten()
        .map(|s| (*s.policy).clone());
    assert_eq!(after, before);
    assert_eq!(store.revision("acme").await.ok().flatten(), Some(revision));

    // With the right expected revision it applies.
    let mut changed = clinic("acme");
    changed.tenant.name = "Acme".to_owned();
    let report = store
        .import_policy(
            changed,
            ImportOptions {
                expected_revision: Some(revision),
                ..ImportOptions::default()
            },
        )
        .await;
    assert!(
        matches!(&report, Ok(r) if r.revision == revision + 1),
        "{report:?}"
    );
}

pub(crate) async fn export_then_import_changes_nothing(store: &dyn Store) {
    put(store, clinic("acme")).await;
    store
        .set_tenant_status("acme", TenantStatus::Suspended)
        .await
        .unwrap_or_else(|error| panic!("suspending: {error}"));
    let exported = store
        .load_tenant("acme")
        .await
        .ok()
        .flatten()
        .map(|stored| (*stored.policy).clone())
        .unwrap_or_default();
    assert_eq!(exported.tenant.status, TenantStatus::Suspended);
    // Through the file format, as `authzctl export` and `apply` carry it.
    let text = exported
        .to_yaml()
        .unwrap_or_else(|error| panic!("export: {error}"));
    let reread = authz_core::TenantPolicy::from_yaml(&text)
        .unwrap_or_else(|error| panic!("re-reading the export: {error}\n{text}"));
    let revision = store.revision("acme").await.ok().flatten();
    let report = import(store, reread, ImportOptions::default()).await;
    assert!(report.is_empty(), "{report:?}");
    assert_eq!(Some(report.revision), revision);
}

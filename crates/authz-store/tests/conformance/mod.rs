//! What every [`Store`] must do, written against `&dyn Store` so each backend runs the same
//! cases: a backend's test file says `mod conformance;` (or includes this file by path) and
//! `conformance::suite!(make)`, where `make` is an expression giving a future of a fresh, empty
//! store (anything that derefs to a `Store`; a Postgres one in its own database).
//!
//! The rules: revisions are per tenant and every write that changes something spends exactly
//! one; a write that changes nothing spends none; a refused write leaves the store exactly as
//! it was; the platform policy (tenant id `platform`) is written only as the platform's, kept
//! apart and never listed among tenants; imports are diffs by id and export round-trips;
//! relationship writes are idempotent and all-or-nothing; pages have stable cursors; every
//! change is in the feed, in revision order; and nothing written to one tenant shows in
//! another.

#![allow(
    dead_code,
    reason = "each backend's test file uses the functions it runs"
)]
#![allow(clippy::panic, reason = "suite functions fail the test by panicking")]

mod feed;
mod imports;
mod keys;
mod relationships;
mod tenants;

pub(crate) use feed::*;
pub(crate) use imports::*;
pub(crate) use keys::*;
pub(crate) use relationships::*;
pub(crate) use tenants::*;

/// One `#[tokio::test]` per conformance case, each on a fresh store from `$make`.
macro_rules! suite {
    ($make:expr) => {
        $crate::conformance::suite!(@cases $make;
            an_empty_store_holds_nothing,
            every_write_gets_a_higher_revision,
            writing_a_tenant_again_replaces_it,
            the_platform_policy_is_kept_apart,
            a_policy_that_does_not_compile_writes_nothing,
            a_platform_policy_under_another_id_is_a_tenant,
            the_platform_id_is_written_only_as_the_platform,
            tenants_are_created_once_listed_in_pages_and_suspended,
            bad_tenant_input_is_refused_naming_the_field,
            importing_what_is_stored_changes_nothing,
            an_import_reports_its_changes_and_a_dry_run_writes_nothing,
            an_import_is_refused_when_it_cannot_apply,
            export_then_import_changes_nothing,
            relationship_writes_are_idempotent,
            relationship_writes_are_all_or_nothing,
            relationships_are_read_in_pages_with_stable_cursors,
            relationship_reads_filter_by_resource_and_subject,
            the_change_feed_holds_every_write_in_revision_order,
            the_change_feed_splits_only_between_writes,
            commits_are_announced,
            concurrent_writes_to_one_tenant_get_consecutive_revisions,
            nothing_written_to_one_tenant_shows_in_another,
            every_tenants_revision_is_read_at_once,
            the_policy_part_is_loaded_without_relationships,
            api_keys_are_found_by_the_hash_of_their_secret
        );
    };
    (@cases $make:expr; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $case() {
                let store = $make.await;
                $crate::conformance::$case(&*store).await;
            }
        )*
    };
}
pub(crate) use suite;

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

/// A tenant with relationships: patients sit in locations, nurses are assigned to patients.
pub(crate) fn clinic(id: &str) -> TenantPolicy {
    policy(&format!(
        r#"
tenant: {{ id: {id}, name: {id} clinic }}
catalog:
  resource_types:
    location: {{ container: true, actions: {{ view: {{}} }} }}
    patient:
      relations:
        location: {{ container: location }}
        assignee: {{ subject: user }}
      actions: {{ view: {{}}, edit: {{}} }}
roles:
  - {{ id: nurse, role_type: nurse, grants: [{{ permission: patient.view, scope: "related:assignee" }}] }}
  - {{ id: manager, role_type: manager, grants: [{{ permissions: [patient.view, patient.edit], scope: location }}] }}
principals: [{{ id: ann }}, {{ id: bob }}]
bindings:
  - {{ id: b-ann, principal: ann, role: nurse }}
  - {{ id: b-bob, principal: bob, role: manager, locations: ["location:north"] }}
relationships:
  - patient:p1#location@location:north
  - patient:p1#assignee@user:ann
  - patient:p2#location@location:south
"#
    ))
}

/// `patient:ID#relation@subject`, parsed.
#[track_caller]
pub(crate) fn rel(text: &str) -> authz_core::model::Relationship {
    match authz_core::model::Relationship::parse(text) {
        Ok(relationship) => relationship,
        Err(error) => panic!("test relationship `{text}`: {error}"),
    }
}

pub(crate) fn touch(text: &str) -> authz_store::RelationshipWrite {
    authz_store::RelationshipWrite {
        op: authz_store::RelationshipOp::Touch,
        relationship: rel(text),
    }
}

pub(crate) fn delete(text: &str) -> authz_store::RelationshipWrite {
    authz_store::RelationshipWrite {
        op: authz_store::RelationshipOp::Delete,
        relationship: rel(text),
    }
}

/// Every relationship of `tenant_id`, read page by page.
pub(crate) async fn all_relationships(
    store: &dyn Store,
    tenant_id: &str,
) -> Vec<authz_core::model::Relationship> {
    let mut all = Vec::new();
    let mut page = authz_store::PageRequest::first(authz_store::page::MAX_PAGE_SIZE);
    loop {
        let got = store
            .read_relationships(
                tenant_id,
                &authz_store::RelationshipFilter::default(),
                &page,
            )
            .await
            .unwrap_or_else(|error| panic!("reading {tenant_id}'s relationships: {error}"));
        all.extend(got.page.items);
        match got.page.next {
            Some(cursor) => page.cursor = Some(cursor),
            None => return all,
        }
    }
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
pub(crate) fn policy(yaml: &str) -> TenantPolicy {
    match TenantPolicy::from_yaml(yaml) {
        Ok(policy) => policy,
        Err(error) => panic!("test policy does not parse: {error}\n{yaml}"),
    }
}

/// Writes `policy` (through `put_platform` when it is the platform's), which must be accepted;
/// returns its revision.
pub(crate) async fn put(store: &dyn Store, policy: TenantPolicy) -> u64 {
    let id = policy.tenant.id.clone();
    match write(store, policy).await {
        Ok(revision) => revision,
        Err(error) => panic!("writing tenant `{id}` failed: {error}"),
    }
}

pub(crate) async fn write(store: &dyn Store, policy: TenantPolicy) -> Result<u64, StoreError> {
    if policy.tenant.id == PLATFORM_TENANT_ID {
        store.put_platform(policy).await
    } else {
        store.put_tenant(policy).await
    }
}

/// Writes `policy` as [`put`] does, which must be refused as invalid; returns why.
pub(crate) async fn refused(store: &dyn Store, policy: TenantPolicy) -> PolicyError {
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
pub(crate) type Contents = (
    BTreeMap<String, (u64, TenantPolicy)>,
    Option<(u64, TenantPolicy)>,
);

pub(crate) async fn contents(store: &dyn Store) -> Contents {
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

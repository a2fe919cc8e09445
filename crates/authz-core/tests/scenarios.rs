//! Scenario tests: each proves one rule of the authorization model, on the demo home-health
//! tenant (`deploy/examples/home-health.yaml`) or on a small inline policy written for it.

mod common;

use authz_core::condition::ConditionError;
use authz_core::model::{Binding, Principal, TenantStatus};
use authz_core::{FieldVisibility, PolicyError, Reason, Snapshot, StepOutcome, TenantPolicy};
use chrono::TimeDelta;
use common::{
    Expect::{Allow, Deny, DenyAnyOf},
    ask, at, check, check_all, compile, explain, home_health, home_health_policy, outcome, parse,
    parse_role, relationship,
};

use Reason::{
    ApiKeyInvalid, ApiKeyScope, ConditionNotMet, DelegationInvalid, ForbiddenByConstraint,
    NoMatchingGrant, OutOfScope, PrincipalInactive, PrincipalUnknown, SessionInvalid,
    TenantInactive, TokenVersionStale, UnknownAction, UnknownResourceType,
};

fn one_microsecond() -> TimeDelta {
    TimeDelta::microseconds(1)
}

// ---------------------------------------------------------------------------------------------
// Separation of duties
// ---------------------------------------------------------------------------------------------

/// Seed 003, 3.4: "Can't approve own documents even with APPROVE_DOCUMENT permission".
#[test]
fn separation_of_duties_nobody_approves_their_own_document() {
    let demo = home_health();
    // carla holds document.approve: she may approve rita's doc-200…
    check(&demo, &ask("carla", "document.approve", "doc-200"), Allow);
    // …but not doc-100, which she authored, nor return it.
    for permission in ["document.approve", "document.return"] {
        let decision = check(
            &demo,
            &ask("carla", permission, "doc-100"),
            Deny(ForbiddenByConstraint),
        );
        assert_eq!(decision.basis.constraint_id, "no_self_approval");
        assert_eq!(decision.basis.permission, permission);
    }
    // The constraint names approve and return only: reviewing her own document is fine.
    check(&demo, &ask("carla", "document.review", "doc-100"), Allow);
}

#[test]
fn separation_of_duties_binds_admins_with_every_permission_too() {
    let mut policy = home_health_policy();
    policy.relationships.extend([
        relationship("document:doc-300#patient@patient:p-200"),
        relationship("document:doc-300#author@user:ada"),
    ]);
    let demo = compile(&policy);
    let decision = check(
        &demo,
        &ask("ada", "document.approve", "doc-300"),
        Deny(ForbiddenByConstraint),
    );
    assert_eq!(decision.basis.constraint_id, "no_self_approval");
    // ada's `*` still approves what others wrote.
    check(&demo, &ask("ada", "document.approve", "doc-100"), Allow);
    check(&demo, &ask("ada", "document.approve", "doc-200"), Allow);
}

// ---------------------------------------------------------------------------------------------
// Scopes
// ---------------------------------------------------------------------------------------------

const NOTES: &str = r#"
tenant: { id: notes-clinic }
catalog:
  resource_types:
    note:
      relations:
        author: { subject: user }
      actions: { view: {}, edit: {} }
roles:
  - id: clinician
    role_type: clinician
    grants:
      - permission: note.view
      - permission: note.edit
        scope: related:author
  - id: supervisor
    role_type: supervisor
    grants:
      - permissions: [note.view, note.edit]
principals: [{ id: cleo }, { id: nat }, { id: sid }]
bindings:
  - { id: b-cleo, principal: cleo, role: clinician }
  - { id: b-nat, principal: nat, role: clinician }
  - { id: b-sid, principal: sid, role: supervisor }
relationships:
  - note:n-1#author@user:cleo
  - note:n-2#author@user:nat
"#;

#[test]
fn edit_own_vs_edit_all() {
    let notes = compile(&parse(NOTES));
    check_all(
        &notes,
        &[
            // `related:author`: only the notes they wrote.
            (ask("cleo", "note.edit", "n-1"), Allow),
            (ask("cleo", "note.edit", "n-2"), Deny(OutOfScope)),
            (ask("cleo", "note.edit", "n-new"), Deny(OutOfScope)),
            (ask("nat", "note.edit", "n-2"), Allow),
            (ask("nat", "note.edit", "n-1"), Deny(OutOfScope)),
            // Viewing is tenant-wide for both.
            (ask("cleo", "note.view", "n-2"), Allow),
            // Tenant scope: every note, known or not.
            (ask("sid", "note.edit", "n-1"), Allow),
            (ask("sid", "note.edit", "n-2"), Allow),
            (ask("sid", "note.edit", "n-new"), Allow),
        ],
    );
    let own = check(&notes, &ask("cleo", "note.edit", "n-1"), Allow);
    assert_eq!(own.basis.scope, Some("related:author"));
    let all = check(&notes, &ask("sid", "note.edit", "n-2"), Allow);
    assert_eq!(all.basis.scope, Some("tenant"));
}

const CASELOAD: &str = r#"
tenant: { id: caseload }
catalog:
  sensitivity_classes:
    pii: { default_visibility: "off" }
  resource_types:
    patient:
      relations:
        assignee: { subject: user }
      fields: { ssn: pii }
      actions: { view: {} }
roles:
  # View assigned, with their identifiers.
  - id: nurse
    role_type: clinician
    grants:
      - permission: patient.view
        scope: related:assignee
        fields: { pii: full }
  # View all, without identifiers.
  - id: census
    role_type: office
    grants:
      - permission: patient.view
  # Both grants in one role.
  - id: charge_nurse
    role_type: clinician
    grants:
      - permission: patient.view
        scope: related:assignee
      - permission: patient.view
principals: [{ id: ann }, { id: bea }, { id: cy }]
bindings:
  - { id: b-ann, principal: ann, role: nurse }
  - { id: b-bea-nurse, principal: bea, role: nurse }
  - { id: b-bea-census, principal: bea, role: census }
  - { id: b-cy, principal: cy, role: charge_nurse }
relationships:
  - patient:1#assignee@user:ann
  - patient:1#assignee@user:bea
  - patient:1#assignee@user:cy
"#;

#[test]
fn view_assigned_plus_view_all_is_view_all() {
    let caseload = compile(&parse(CASELOAD));
    check_all(
        &caseload,
        &[
            (ask("ann", "patient.view", "1"), Allow),
            (ask("ann", "patient.view", "2"), Deny(OutOfScope)),
            // Two roles, one scoped to the caseload and one tenant-wide: all patients.
            (ask("bea", "patient.view", "1"), Allow),
            (ask("bea", "patient.view", "2"), Allow),
            // One role with both grants: all patients.
            (ask("cy", "patient.view", "1"), Allow),
            (ask("cy", "patient.view", "2"), Allow),
        ],
    );
    // Access is the union of what the grants show: bea sees her assigned patient's SSN (nurse)
    // and only the name of the others (census).
    let assigned = check(&caseload, &ask("bea", "patient.view", "1"), Allow);
    assert_eq!(assigned.field_visibility("ssn"), FieldVisibility::Full);
    let other = check(&caseload, &ask("bea", "patient.view", "2"), Allow);
    assert_eq!(other.field_visibility("ssn"), FieldVisibility::Off);
    assert_eq!(other.basis.role_id, "census");
}

/// nora is an RN case manager at location:north and a clinical manager at location:south
/// (demo bindings `b-nora-north` and `b-nora-south`); she is assigned to p-100 (north) and
/// p-200 (south). Each binding only reaches resources inside its location.
#[test]
fn different_roles_per_location() {
    let mut policy = home_health_policy();
    // A QA document on the south patient, written by rita.
    policy.relationships.extend([
        relationship("document:doc-300#patient@patient:p-200"),
        relationship("document:doc-300#author@user:rita"),
    ]);
    let demo = compile(&policy);
    #[rustfmt::skip]
    let cases = [
        // In the south she is a clinical manager: tenant-scope grants, limited to the south.
        ("care_order.create",  "co-200",  Ok(("clinical_manager", "b-nora-south"))),
        ("document.approve",   "doc-300", Ok(("clinical_manager", "b-nora-south"))),
        ("visit.document_pt",  "v-200",   Ok(("clinical_manager", "b-nora-south"))),
        ("patient.edit",       "p-200",   Ok(("clinical_manager", "b-nora-south"))),
        // In the north she is an RN: her caseload (p-100 is assigned to her)…
        ("care_order.create",  "co-100",  Ok(("rn_case_manager", "b-nora-north"))),
        ("patient.edit",       "p-100",   Ok(("rn_case_manager", "b-nora-north"))),
        ("visit.document_sn",  "v-100",   Ok(("rn_case_manager", "b-nora-north"))),
        // …and no more: an RN approves nothing, and her south role does not reach the north.
        ("document.approve",   "doc-200", Err(OutOfScope)),
        ("visit.document_pt",  "v-100",   Err(OutOfScope)),
        // A location-bound binding never reaches a resource in no location (a report), nor
        // one not yet known (a patient being created).
        ("report.view",        "r-100",   Err(OutOfScope)),
        ("patient.create",     "p-300",   Err(OutOfScope)),
        // Nothing in either role.
        ("claim.generate",     "cl-100",  Err(NoMatchingGrant)),
    ];
    let mut failures = Vec::new();
    for (permission, resource, expected) in cases {
        let request = ask("nora", permission, resource);
        let decision = common::decide(&demo, &request);
        let seen = if decision.allowed {
            Ok((decision.basis.role_id, decision.basis.binding_id))
        } else {
            Err(decision.reason)
        };
        if seen != expected {
            failures.push(format!(
                "  {}: expected {expected:?}, got {}",
                request.describe(),
                outcome(&decision)
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "nora's per-location roles:\n{}",
        failures.join("\n")
    );
}

const REGIONS: &str = r#"
tenant: { id: regional-agency }
catalog:
  resource_types:
    region: { container: true }
    location:
      container: true
      relations:
        parent: { container: region }
    patient:
      relations:
        location: { container: location }
      actions: { view: {} }
roles:
  - id: director
    role_type: director
    grants:
      - permission: patient.view
  - id: floater
    role_type: clinician
    grants:
      - permission: patient.view
        scope: location
principals: [{ id: rex }, { id: lou }, { id: fay }]
bindings:
  - { id: b-rex, principal: rex, role: director, locations: ["region:west"] }
  - { id: b-lou, principal: lou, role: director, locations: ["location:north"] }
  - { id: b-fay, principal: fay, role: floater }
relationships:
  - location:north#parent@region:west
  - location:south#parent@region:west
  - location:harbor#parent@region:east
  - patient:1#location@location:north
  - patient:2#location@location:south
  - patient:3#location@location:harbor
"#;

#[test]
fn region_binding_reaches_every_location_in_the_region() {
    let regional = compile(&parse(REGIONS));
    check_all(
        &regional,
        &[
            // Bound at region:west: north and south, not the east's harbor, not unlocated.
            (ask("rex", "patient.view", "1"), Allow),
            (ask("rex", "patient.view", "2"), Allow),
            (ask("rex", "patient.view", "3"), Deny(OutOfScope)),
            (ask("rex", "patient.view", "4"), Deny(OutOfScope)),
            // Bound at location:north only.
            (ask("lou", "patient.view", "1"), Allow),
            (ask("lou", "patient.view", "2"), Deny(OutOfScope)),
            // `scope: location` on a tenant-wide binding: any patient inside some location.
            (ask("fay", "patient.view", "1"), Allow),
            (ask("fay", "patient.view", "3"), Allow),
            (ask("fay", "patient.view", "4"), Deny(OutOfScope)),
        ],
    );
}

// ---------------------------------------------------------------------------------------------
// Time
// ---------------------------------------------------------------------------------------------

const TEMPS: &str = r#"
tenant: { id: temp-staffing }
catalog:
  resource_types:
    chart:
      actions: { view: {} }
roles:
  - id: reader
    role_type: staff
    grants:
      - permission: chart.view
principals:
  - id: tim
    sessions:
      - { id: tim-shift, expires_at: "2025-06-01T12:00:00Z" }
bindings:
  - id: b-tim
    principal: tim
    role: reader
    not_before: "2025-06-01T08:00:00Z"
    expires_at: "2025-06-01T17:00:00Z"
"#;

#[test]
fn binding_window_starts_inclusive_and_ends_exclusive() {
    let temps = compile(&parse(TEMPS));
    let not_before = at("2025-06-01T08:00:00Z");
    let expires_at = at("2025-06-01T17:00:00Z");
    let view = || ask("tim", "chart.view", "c-1");
    check_all(
        &temps,
        &[
            (
                view().at(not_before - one_microsecond()),
                Deny(NoMatchingGrant),
            ),
            (view().at(not_before), Allow),
            (view().at(expires_at - one_microsecond()), Allow),
            (view().at(expires_at), Deny(NoMatchingGrant)),
        ],
    );
}

#[test]
fn session_expiry_is_exclusive() {
    let temps = compile(&parse(TEMPS));
    let expires_at = at("2025-06-01T12:00:00Z");
    let view = || ask("tim", "chart.view", "c-1").session("tim-shift");
    check_all(
        &temps,
        &[
            (view().at(expires_at - one_microsecond()), Allow),
            (view().at(expires_at), Deny(SessionInvalid)),
        ],
    );
}

// ---------------------------------------------------------------------------------------------
// Who is asking
// ---------------------------------------------------------------------------------------------

#[test]
fn suspended_user_is_denied_whatever_their_role() {
    let demo = home_health();
    // sue is bound to the biller role, like bo.
    check(&demo, &ask("bo", "claim.view", "cl-100"), Allow);
    check(
        &demo,
        &ask("sue", "claim.view", "cl-100"),
        Deny(PrincipalInactive),
    );
}

#[test]
fn revoked_or_unknown_session_is_denied() {
    let demo = home_health();
    let view = || ask("rita", "patient.view", "p-100");
    check_all(
        &demo,
        &[
            (view().session("rita-laptop"), Allow),
            (view().session("rita-old-phone"), Deny(SessionInvalid)),
            (view().session("rita-stolen-tablet"), Deny(SessionInvalid)),
            // Another user's session is unknown for rita.
            (view().session("leo-phone"), Deny(SessionInvalid)),
        ],
    );
}

#[test]
fn stale_token_version_is_denied() {
    let demo = home_health();
    let view = || ask("rita", "patient.view", "p-100");
    check_all(
        &demo,
        &[
            (view().token_version(3), Allow),
            (view().token_version(2), Deny(TokenVersionStale)),
            (view().token_version(0), Deny(TokenVersionStale)),
            // Without a token version there is nothing to compare.
            (view(), Allow),
        ],
    );
}

#[test]
fn api_key_narrows_what_its_service_may_do() {
    let demo = home_health();
    let sync = |permission, resource| ask("billing-sync", permission, resource).service();
    check_all(
        &demo,
        &[
            (sync("claim.view", "cl-100").api_key("key-claims-ro"), Allow),
            (
                sync("patient.view", "p-100").api_key("key-claims-ro"),
                Allow,
            ),
            // The biller role holds claim.generate; the read-only key does not.
            (
                sync("claim.generate", "cl-100").api_key("key-claims-ro"),
                Deny(ApiKeyScope),
            ),
            (
                sync("claim.view", "cl-100").api_key("key-forged"),
                Deny(ApiKeyInvalid),
            ),
            // The id names a service account: asking as a user finds no such user.
            (
                ask("billing-sync", "claim.view", "cl-100").api_key("key-claims-ro"),
                Deny(PrincipalUnknown),
            ),
        ],
    );
}

// ---------------------------------------------------------------------------------------------
// Constraints
// ---------------------------------------------------------------------------------------------

const RECORDS: &str = r#"
tenant: { id: records-co }
catalog:
  resource_types:
    record:
      actions:
        view: {}
        edit: {}
        export: { category: phi_export }
roles:
  - id: admin
    role_type: admin
    grants:
      - permission: "*"
  - id: support
    role_type: support
    grants:
      - permission: "record.*"
constraints:
  - id: no_export
    description: records never leave the system
    permissions: [record.export]
  - id: support_read_only
    description: support staff never change records
    permissions: [record.edit]
    role_types: [support]
principals: [{ id: ada }, { id: sid }, { id: mo }, { id: max }]
bindings:
  - { id: b-ada, principal: ada, role: admin }
  - { id: b-sid, principal: sid, role: support }
  # mo is an admin who also holds a support binding.
  - { id: b-mo-admin, principal: mo, role: admin }
  - { id: b-mo-support, principal: mo, role: support }
  # max's support binding has ended.
  - { id: b-max-admin, principal: max, role: admin }
  - { id: b-max-support, principal: max, role: support, expires_at: "2025-01-01T00:00:00Z" }
"#;

#[test]
fn forbid_constraint_beats_every_grant() {
    let records = compile(&parse(RECORDS));
    for principal in ["ada", "sid", "mo", "max"] {
        let decision = check(
            &records,
            &ask(principal, "record.export", "rec-1"),
            Deny(ForbiddenByConstraint),
        );
        assert_eq!(decision.basis.constraint_id, "no_export");
        check(&records, &ask(principal, "record.view", "rec-1"), Allow);
    }
}

#[test]
fn role_type_constraint_applies_only_to_holders_of_that_role_type() {
    let records = compile(&parse(RECORDS));
    check_all(
        &records,
        &[
            (ask("ada", "record.edit", "rec-1"), Allow),
            (
                ask("sid", "record.edit", "rec-1"),
                Deny(ForbiddenByConstraint),
            ),
            // Holding a support binding is enough, even though the admin role grants `*`.
            (
                ask("mo", "record.edit", "rec-1"),
                Deny(ForbiddenByConstraint),
            ),
            // Only an active binding counts: max's support binding has expired.
            (ask("max", "record.edit", "rec-1"), Allow),
        ],
    );
    let decision = check(
        &records,
        &ask("mo", "record.edit", "rec-1"),
        Deny(ForbiddenByConstraint),
    );
    assert_eq!(decision.basis.constraint_id, "support_read_only");
}

// ---------------------------------------------------------------------------------------------
// Tenants
// ---------------------------------------------------------------------------------------------

const TENANT_A: &str = r#"
tenant: { id: tenant-a }
catalog:
  resource_types:
    patient:
      relations:
        assignee: { subject: user }
      actions: { view: {}, edit: {} }
roles:
  - { id: admin, role_type: admin, grants: [{ permission: "patient.*" }] }
  - { id: nurse, role_type: clinician, grants: [{ permission: patient.view, scope: "related:assignee" }] }
principals: [{ id: alice }, { id: carol }, { id: erin }]
bindings:
  - { id: b-alice, principal: alice, role: admin }
  - { id: b-carol, principal: carol, role: nurse }
  - { id: b-erin, principal: erin, role: admin }
relationships:
  - patient:1#assignee@user:carol
"#;

const TENANT_B: &str = r#"
tenant: { id: tenant-b }
catalog:
  resource_types:
    patient:
      relations:
        assignee: { subject: user }
      actions: { view: {}, edit: {} }
roles:
  - { id: admin, role_type: admin, grants: [{ permission: "patient.*" }] }
  - { id: nurse, role_type: clinician, grants: [{ permission: patient.view, scope: "related:assignee" }] }
principals: [{ id: alice }, { id: bob }, { id: carol }]
bindings:
  - { id: b-alice, principal: alice, role: nurse }
  - { id: b-bob, principal: bob, role: nurse }
  - { id: b-carol, principal: carol, role: nurse }
relationships:
  - patient:1#assignee@user:bob
"#;

#[test]
fn cross_tenant_ids_never_match() {
    let a = compile(&parse(TENANT_A));
    let b = compile(&parse(TENANT_B));
    assert_ne!(a.tenant_id(), b.tenant_id());
    check_all(
        &a,
        &[
            (ask("alice", "patient.edit", "1"), Allow),
            (ask("carol", "patient.view", "1"), Allow),
            (ask("erin", "patient.view", "1"), Allow),
            (ask("bob", "patient.view", "1"), Deny(PrincipalUnknown)),
        ],
    );
    check_all(
        &b,
        &[
            // Same id, different bindings: alice is an admin only in A.
            (ask("alice", "patient.edit", "1"), Deny(NoMatchingGrant)),
            (ask("alice", "patient.view", "1"), Deny(OutOfScope)),
            // carol's assignment to patient:1 is a fact of tenant A only.
            (ask("carol", "patient.view", "1"), Deny(OutOfScope)),
            // erin exists only in A.
            (ask("erin", "patient.view", "1"), Deny(PrincipalUnknown)),
            (ask("bob", "patient.view", "1"), Allow),
        ],
    );
}

#[test]
fn inactive_tenant_denies_everyone() {
    for status in [TenantStatus::Suspended, TenantStatus::Deactivated] {
        let mut policy = home_health_policy();
        policy.tenant.status = status;
        let demo = compile(&policy);
        check(
            &demo,
            &ask("ada", "patient.view", "p-100"),
            Deny(TenantInactive),
        );
        check(
            &demo,
            &ask("ada", "agency.manage_settings", "sunrise"),
            Deny(TenantInactive),
        );
    }
}

#[test]
fn unknown_resource_type_and_action_are_denied_with_their_reason() {
    let demo = home_health();
    check_all(
        &demo,
        &[
            (
                ask("ada", "spaceship.launch", "s-1"),
                Deny(UnknownResourceType),
            ),
            (ask("ada", "patient.teleport", "p-100"), Deny(UnknownAction)),
            // `*` covers the catalog, not what is outside it.
            (ask("ada", "patient.", "p-100"), Deny(UnknownAction)),
        ],
    );
}

// ---------------------------------------------------------------------------------------------
// Delegation
// ---------------------------------------------------------------------------------------------

const APPEALS: &str = r#"
tenant: { id: appeals-office }
catalog:
  resource_types:
    appeal:
      actions: { view: {}, sign: {} }
roles:
  - { id: provider, role_type: provider, grants: [{ permissions: [appeal.view, appeal.sign] }] }
  - { id: staff, role_type: staff, grants: [{ permission: appeal.view }] }
principals: [{ id: dr-lee }, { id: dr-kim }, { id: sam }, { id: tess }]
bindings:
  - { id: b-lee, principal: dr-lee, role: provider }
  - { id: b-kim, principal: dr-kim, role: provider }
  - { id: b-sam, principal: sam, role: staff }
  - { id: b-tess, principal: tess, role: staff }
delegations:
  - id: d-lee-sam
    delegator: dr-lee
    delegate: sam
    permissions: [appeal.sign]
    not_before: "2025-06-01T00:00:00Z"
    expires_at: "2025-06-08T00:00:00Z"
    reason: vacation cover
  - id: d-kim-sam
    delegator: dr-kim
    delegate: sam
    permissions: [appeal.sign]
    revoked: true
  - id: d-tess-sam
    delegator: tess
    delegate: sam
    permissions: [appeal.sign]
"#;

#[test]
fn delegation_lets_a_delegate_act_for_the_delegator_within_its_window() {
    let appeals = compile(&parse(APPEALS));
    let not_before = at("2025-06-01T00:00:00Z");
    let expires_at = at("2025-06-08T00:00:00Z");
    let sign_for_lee = || ask("sam", "appeal.sign", "ap-1").on_behalf_of("dr-lee");

    let decision = check(&appeals, &sign_for_lee(), Allow);
    assert_eq!(decision.basis.delegation_id, "d-lee-sam");
    // The grant that decides is the delegator's.
    assert_eq!(decision.basis.role_id, "provider");
    assert_eq!(decision.basis.binding_id, "b-lee");

    check_all(
        &appeals,
        &[
            // On their own, staff cannot sign.
            (ask("sam", "appeal.sign", "ap-1"), Deny(NoMatchingGrant)),
            // The window: inclusive start, exclusive end.
            (
                sign_for_lee().at(not_before - one_microsecond()),
                Deny(DelegationInvalid),
            ),
            (sign_for_lee().at(not_before), Allow),
            (sign_for_lee().at(expires_at - one_microsecond()), Allow),
            (sign_for_lee().at(expires_at), Deny(DelegationInvalid)),
            // Only the delegated permission.
            (
                ask("sam", "appeal.view", "ap-1").on_behalf_of("dr-lee"),
                Deny(DelegationInvalid),
            ),
            // Only the named delegate.
            (
                ask("tess", "appeal.sign", "ap-1").on_behalf_of("dr-lee"),
                Deny(DelegationInvalid),
            ),
            // A revoked delegation is no delegation.
            (
                ask("sam", "appeal.sign", "ap-1").on_behalf_of("dr-kim"),
                Deny(DelegationInvalid),
            ),
        ],
    );
}

#[test]
fn delegation_never_exceeds_what_the_delegator_holds() {
    let appeals = compile(&parse(APPEALS));
    // tess delegated appeal.sign to sam, but tess cannot sign herself.
    let decision = check(
        &appeals,
        &ask("sam", "appeal.sign", "ap-1").on_behalf_of("tess"),
        Deny(NoMatchingGrant),
    );
    assert_eq!(decision.basis.delegation_id, "d-tess-sam");
}

// ---------------------------------------------------------------------------------------------
// Platform staff
// ---------------------------------------------------------------------------------------------

const PLATFORM: &str = r#"
tenant: { id: platform, name: Platform staff }
roles:
  - id: support_engineer
    role_type: platform_support
    description: read-only access to agencies
    grants:
      - permission: "*.view"
  - id: super_admin
    role_type: platform_admin
    grants:
      - permission: "*"
principals: [{ id: pete }, { id: sasha }, { id: olga }]
bindings:
  - { id: pb-pete, principal: pete, role: support_engineer }
  - { id: pb-sasha, principal: sasha, role: super_admin }
  # olga supports one other agency only.
  - { id: pb-olga, principal: olga, role: support_engineer, tenants: [other-agency] }
"#;

#[test]
fn platform_support_reads_any_agency_but_changes_nothing() {
    let platform = parse(PLATFORM);
    assert!(Snapshot::compile_platform(&platform, 1).is_ok());
    let demo = match Snapshot::compile(&home_health_policy(), Some(&platform), 1) {
        Ok(snapshot) => snapshot,
        Err(error) => panic!("demo with platform staff does not compile: {error}"),
    };
    check_all(
        &demo,
        &[
            (ask("pete", "patient.view", "p-200").platform(), Allow),
            (ask("pete", "claim.view", "cl-100").platform(), Allow),
            (
                ask("pete", "patient.edit", "p-200").platform(),
                Deny(NoMatchingGrant),
            ),
            (
                ask("pete", "agency.manage_settings", "sunrise").platform(),
                Deny(NoMatchingGrant),
            ),
            (ask("sasha", "patient.edit", "p-200").platform(), Allow),
            (
                ask("sasha", "agency.manage_settings", "sunrise").platform(),
                Allow,
            ),
            // Platform staff are not tenant principals: without the platform flag, unknown.
            (ask("pete", "patient.view", "p-200"), Deny(PrincipalUnknown)),
            // A binding limited to another tenant does not reach this one.
            (
                ask("olga", "patient.view", "p-200").platform(),
                Deny(PrincipalUnknown),
            ),
            // Tenant users cannot claim to be platform staff.
            (
                ask("ada", "patient.view", "p-200").platform(),
                Deny(PrincipalUnknown),
            ),
        ],
    );
    let decision = check(
        &demo,
        &ask("pete", "patient.view", "p-200").platform(),
        Allow,
    );
    assert_eq!(decision.basis.role_id, "support_engineer");
    // Read-only support sees the chart, not the identifiers: the grant shows no classes.
    assert_eq!(decision.field_visibility("ssn"), FieldVisibility::Off);
}

/// Compiles the demo with `platform` as its platform tenant, or says why not.
fn demo_with_platform(platform: &TenantPolicy) -> Result<Snapshot, PolicyError> {
    Snapshot::compile(&home_health_policy(), Some(platform), 1)
}

/// Platform staff are principals of the `platform` tenant. A tenant's relationships name the
/// tenant's own users: `patient:p-100#assignee@user:rita` is about sunrise's rita, never about
/// a platform engineer who happens to have the id `rita`.
#[test]
fn platform_staff_never_match_a_tenant_user_with_the_same_id() {
    let platform = parse(
        r#"
tenant: { id: platform }
roles:
  - id: field_support
    role_type: platform_support
    grants:
      - permission: patient.view
        scope: related:assignee
principals: [{ id: rita }, { id: pete }]
bindings:
  - { id: pb-rita, principal: rita, role: field_support }
  - { id: pb-pete, principal: pete, role: field_support }
"#,
    );
    let demo = match demo_with_platform(&platform) {
        Ok(snapshot) => snapshot,
        Err(error) => panic!("demo with platform staff does not compile: {error}"),
    };
    check_all(
        &demo,
        &[
            // The tenant's rita is assigned to p-100.
            (ask("rita", "patient.view", "p-100"), Allow),
            // Platform rita and platform pete are assigned to nothing in this tenant.
            (
                ask("pete", "patient.view", "p-100").platform(),
                Deny(OutOfScope),
            ),
            (
                ask("rita", "patient.view", "p-100").platform(),
                Deny(OutOfScope),
            ),
        ],
    );
}

/// A binding's `locations` limit it. A platform binding that names locations must not become
/// tenant-wide: either the policy is rejected, or the binding reaches those locations only.
#[test]
fn platform_binding_limited_to_a_location_never_reaches_beyond_it() {
    let platform = parse(
        r#"
tenant: { id: platform }
roles:
  - { id: support_engineer, role_type: platform_support, grants: [{ permission: "*.view" }] }
principals: [{ id: pete }]
bindings:
  - { id: pb-pete, principal: pete, role: support_engineer, locations: ["location:north"] }
"#,
    );
    let Ok(demo) = demo_with_platform(&platform) else {
        // Rejected: also a correct answer.
        return;
    };
    check(
        &demo,
        &ask("pete", "patient.view", "p-200").platform(),
        Deny(OutOfScope),
    );
}

#[test]
fn a_tenant_cannot_take_the_platform_id() {
    let mut policy = home_health_policy();
    policy.tenant.id = "platform".to_owned();
    match Snapshot::compile(&policy, None, 1) {
        Err(PolicyError::ReservedTenant(id)) => assert_eq!(id, "platform"),
        Err(other) => panic!("expected ReservedTenant, got {other}"),
        Ok(_) => panic!("a tenant policy with id `platform` compiled"),
    }
}

// ---------------------------------------------------------------------------------------------
// Policy load errors
// ---------------------------------------------------------------------------------------------

const LOAD_BASE: &str = r#"
tenant: { id: acme }
entitlements: { custom_role_limit: 1 }
catalog:
  sensitivity_classes:
    pii: { default_visibility: "off" }
  resource_types:
    patient:
      fields: { ssn: pii }
      actions: { view: {}, edit: {} }
    user:
      actions: { view: {}, create: {} }
locked_grants:
  admin: [user.view, user.create]
"#;

fn load(yaml: &str) -> Result<Snapshot, PolicyError> {
    let policy = TenantPolicy::from_yaml(yaml)?;
    Snapshot::compile(&policy, None, 1)
}

#[test]
fn policy_load_errors_name_the_offending_item() {
    type Matcher = fn(&PolicyError) -> bool;
    #[rustfmt::skip]
    let cases: [(&str, &str, Matcher, &[&str]); 10] = [
        (
            "unknown permission in a role",
            "roles:\n  - { id: nurse, role_type: clinician, built_in: true, grants: [{ permission: patient.teleport }] }",
            |e| matches!(e, PolicyError::UnknownPermission { permission, .. } if permission == "patient.teleport"),
            &["patient.teleport", "nurse"],
        ),
        (
            "invalid CEL condition",
            "roles:\n  - { id: nurse, role_type: clinician, built_in: true, grants: [{ permission: patient.view, condition: \"context.level >\" }] }",
            |e| matches!(e, PolicyError::Condition { error: ConditionError::Parse(_), .. }),
            &["context.level >", "nurse"],
        ),
        (
            "unknown CEL variable",
            "roles:\n  - { id: nurse, role_type: clinician, built_in: true, grants: [{ permission: patient.view, condition: \"request.ip == '10.0.0.1'\" }] }",
            |e| matches!(e, PolicyError::Condition { error: ConditionError::UnknownVariable(name), .. } if name == "request"),
            &["request", "nurse"],
        ),
        (
            "inheritance cycle",
            "roles:\n  - { id: lead, role_type: clinician, built_in: true, parent: deputy }\n  - { id: deputy, role_type: clinician, built_in: true, parent: lead }",
            |e| matches!(e, PolicyError::InheritanceCycle(role) if role == "lead"),
            &["`lead`", "inherits from itself"],
        ),
        (
            "removing a locked grant",
            "roles:\n  - { id: owner, role_type: admin, built_in: true, grants: [{ permission: \"*\" }] }\n  - { id: office_admin, role_type: admin, parent: owner, remove: [user.create] }",
            |e| matches!(e, PolicyError::LockedGrantRemoved { role, permission, .. } if role == "office_admin" && permission == "user.create"),
            &["office_admin", "user.create", "admin"],
        ),
        (
            "unknown YAML key",
            "roles:\n  - { id: nurse, role_type: clinician, colour: teal }",
            |e| matches!(e, PolicyError::Parse(_)),
            &["colour"],
        ),
        (
            "binding to an unknown role",
            "roles:\n  - { id: nurse, role_type: clinician, built_in: true }\nprincipals: [{ id: ann }]\nbindings:\n  - { id: b-ann, principal: ann, role: nures }",
            |e| matches!(e, PolicyError::UnknownReference { what: "role", id, .. } if id == "nures"),
            &["nures", "b-ann"],
        ),
        (
            "a scope naming a relation no type declares",
            "roles:\n  - { id: nurse, role_type: clinician, built_in: true, grants: [{ permission: patient.view, scope: \"related:assignee\" }] }",
            |e| matches!(e, PolicyError::UnknownRelation { location, relation } if location == "role `nurse`" && relation == "assignee"),
            &["related:assignee", "nurse"],
        ),
        (
            "field visibility for a field no type classifies (a typo)",
            "roles:\n  - { id: nurse, role_type: clinician, built_in: true, grants: [{ permission: patient.view, fields: { ssm: mask } }] }",
            |e| matches!(e, PolicyError::UnknownField { location, key } if location == "role `nurse`" && key == "ssm"),
            &["ssm", "nurse"],
        ),
        (
            "custom roles over the plan's limit",
            "roles:\n  - { id: one, role_type: custom }\n  - { id: two, role_type: custom }",
            |e| matches!(e, PolicyError::CustomRoleLimit { count: 2, limit: 1 }),
            &["2 custom roles", "limit of 1"],
        ),
    ];
    let mut failures = Vec::new();
    for (name, roles, is_expected, needles) in cases {
        let yaml = format!("{LOAD_BASE}{roles}\n");
        match load(&yaml) {
            Ok(_) => failures.push(format!("  {name}: the policy loaded")),
            Err(error) => {
                let message = error.to_string();
                if !is_expected(&error) {
                    failures.push(format!("  {name}: unexpected error {error:?}"));
                }
                for needle in needles {
                    if !message.contains(needle) {
                        failures.push(format!(
                            "  {name}: message `{message}` does not name `{needle}`"
                        ));
                    }
                }
            }
        }
    }
    // The base itself is fine, and so is naming a classified field or its class: each failure
    // above is the case's own.
    assert!(load(LOAD_BASE).is_ok());
    assert!(load(&format!(
        "{LOAD_BASE}roles:\n  - {{ id: nurse, role_type: clinician, built_in: true, grants: [{{ permission: patient.view, fields: {{ ssn: mask, pii: full }} }}] }}\n"
    ))
    .is_ok());
    assert!(
        failures.is_empty(),
        "policy load errors:\n{}",
        failures.join("\n")
    );
}

// ---------------------------------------------------------------------------------------------
// Explain
// ---------------------------------------------------------------------------------------------

#[test]
fn explain_ends_with_a_decision_step_matching_the_verdict() {
    let demo = home_health();
    let cases = [
        ask("carla", "document.approve", "doc-200"),
        ask("carla", "document.approve", "doc-100"),
        ask("rita", "patient.view", "p-200"),
        ask("bo", "patient.edit", "p-100").ctx("section", "clinical"),
        ask("bo", "patient.edit", "p-100"),
        ask("rita", "patient.view", "p-100").session("rita-old-phone"),
        ask("sue", "claim.view", "cl-100"),
        ask("nobody", "claim.view", "cl-100"),
        ask("ada", "patient.teleport", "p-100"),
    ];
    for request in &cases {
        let verdict = common::decide(&demo, request);
        let (decision, steps) = explain(&demo, request);
        assert_eq!(
            (decision.allowed, decision.reason),
            (verdict.allowed, verdict.reason),
            "{}: explain and check disagree",
            request.describe()
        );
        let last = steps.last();
        assert_eq!(
            last.map(|step| step.stage),
            Some("decision"),
            "{}",
            request.describe()
        );
        let expected = if decision.allowed {
            StepOutcome::Pass
        } else {
            StepOutcome::Fail
        };
        assert_eq!(
            last.map(|step| step.outcome),
            Some(expected),
            "{}",
            request.describe()
        );
        assert!(
            last.is_some_and(|step| step.detail.starts_with(decision.reason.code())),
            "{}: last step {last:?} does not name {}",
            request.describe(),
            decision.reason.code()
        );
    }
}

#[test]
fn explain_shows_the_constraint_that_forbade() {
    let demo = home_health();
    let (decision, steps) = explain(&demo, &ask("carla", "document.approve", "doc-100"));
    assert_eq!(decision.reason, ForbiddenByConstraint);
    let constraint = steps.iter().find(|step| step.stage == "constraint");
    assert!(
        constraint
            .is_some_and(|step| step.outcome == StepOutcome::Match
                && step.constraint_id == "no_self_approval"),
        "no matching constraint step in {steps:#?}"
    );
    // On someone else's document the same constraint is evaluated and does not match.
    let (decision, steps) = explain(&demo, &ask("carla", "document.approve", "doc-200"));
    assert!(decision.allowed, "{}", outcome(&decision));
    assert!(
        steps.iter().any(|step| step.stage == "constraint"
            && step.outcome == StepOutcome::NoMatch
            && step.constraint_id == "no_self_approval"),
        "{steps:#?}"
    );
    assert!(
        steps.iter().any(|step| step.stage == "grant"
            && step.outcome == StepOutcome::Match
            && step.role_id == "clinical_manager"),
        "{steps:#?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Custom roles
// ---------------------------------------------------------------------------------------------

/// quinn is a QA specialist: the clinical manager role minus everything but review.
#[test]
fn custom_role_inherits_its_parent_minus_removals() {
    let demo = home_health();
    check_all(
        &demo,
        &[
            // Inherited from clinical_manager.
            (ask("quinn", "document.approve", "doc-200"), Allow),
            (ask("quinn", "document.review", "doc-100"), Allow),
            (ask("quinn", "patient.view", "p-200"), Allow),
            (ask("quinn", "care_order.view", "co-200"), Allow),
            // Removed.
            (
                ask("quinn", "patient.create", "p-300"),
                Deny(NoMatchingGrant),
            ),
            (ask("quinn", "patient.edit", "p-200"), Deny(NoMatchingGrant)),
            (
                ask("quinn", "care_order.create", "co-200"),
                Deny(NoMatchingGrant),
            ),
            (
                ask("quinn", "visit.reschedule", "v-200"),
                Deny(NoMatchingGrant),
            ),
            (
                ask("quinn", "oasis.submit", "oa-100"),
                Deny(NoMatchingGrant),
            ),
            // Never had it.
            (
                ask("quinn", "claim.generate", "cl-100"),
                Deny(NoMatchingGrant),
            ),
        ],
    );
    let decision = check(&demo, &ask("quinn", "document.approve", "doc-200"), Allow);
    assert_eq!(decision.basis.role_id, "qa_specialist");
}

/// The demo plus `otto`, bound to a custom admin role (`role_type: admin`) given as YAML.
fn demo_with_office_admin(role: &str) -> Snapshot {
    let mut policy = home_health_policy();
    policy.roles.push(parse_role(role));
    policy.principals.push(Principal {
        id: "otto".to_owned(),
        ..Default::default()
    });
    policy.bindings.push(Binding {
        id: "b-otto".to_owned(),
        principal: "otto".to_owned(),
        role: "office_admin".to_owned(),
        ..Default::default()
    });
    compile(&policy)
}

/// `locked_grants`: "permissions every role of a role type keeps, whatever its grants or
/// removals say (e.g. admins always keep user management)".
#[test]
fn admins_keep_user_management_their_custom_role_leaves_out() {
    let demo = demo_with_office_admin(
        "{ id: office_admin, role_type: admin, grants: [{ permission: report.view }] }",
    );
    check_all(
        &demo,
        &[
            (ask("otto", "report.view", "r-1"), Allow),
            (ask("otto", "patient.view", "p-100"), Deny(NoMatchingGrant)),
            (ask("otto", "user.view", "u-1"), Allow),
            (ask("otto", "user.create", "u-1"), Allow),
            (ask("otto", "user.edit", "u-1"), Allow),
            (ask("otto", "user.assign_roles", "u-1"), Allow),
        ],
    );
}

/// Removing a locked permission is a load error (`policy_load_errors_name_the_offending_item`);
/// granting it narrowly (with a condition, or a location scope) must not take it away either:
/// the admin keeps it tenant-wide and unconditionally, whatever the grant says. (A
/// `related:assignee` scope, as this test once used, is refused at load: users hold no
/// `assignee` relation in this catalog.)
#[test]
fn admins_keep_user_management_their_custom_role_narrows() {
    let demo = demo_with_office_admin(
        r#"
id: office_admin
role_type: admin
grants:
  - permission: user.edit
    condition: context.mfa == true
  - permission: user.view
    scope: location
"#,
    );
    check_all(
        &demo,
        &[
            (ask("otto", "user.edit", "u-1").ctx("mfa", true), Allow),
            (ask("otto", "user.edit", "u-1"), Allow),
            (ask("otto", "user.edit", "u-1").ctx("mfa", false), Allow),
            (ask("otto", "user.view", "u-1"), Allow),
        ],
    );
}

/// Conditions fail closed: a condition that cannot be evaluated never allows.
#[test]
fn condition_that_cannot_be_evaluated_denies() {
    let demo = home_health();
    check_all(
        &demo,
        &[
            (
                ask("bo", "patient.edit", "p-100").ctx("section", "billing"),
                Allow,
            ),
            (
                ask("bo", "patient.edit", "p-100").ctx("section", "clinical"),
                Deny(ConditionNotMet),
            ),
            // No `section` in the context; or one of the wrong type.
            (
                ask("bo", "patient.edit", "p-100"),
                Deny(Reason::ConditionError),
            ),
            (
                ask("bo", "patient.edit", "p-100").ctx("section", 7_i64),
                DenyAnyOf(&[Reason::ConditionError, ConditionNotMet]),
            ),
        ],
    );
}

// ---------------------------------------------------------------------------------------------
// Obligations, categories, principal attributes
// ---------------------------------------------------------------------------------------------

const CHARTS: &str = r#"
tenant: { id: chart-room }
catalog:
  sensitivity_classes:
    pii: { default_visibility: "off" }
    clinical: { default_visibility: mask }
  resource_types:
    chart:
      fields: { ssn: pii, mrn: pii, diagnosis: clinical }
      actions:
        view: {}
        sign: {}
        export: { category: phi_export }
        print: { category: phi_export }
roles:
  - id: clerk
    role_type: office
    grants:
      # The class says mask; the field-level entry wins for the record number.
      - permission: chart.view
        fields: { pii: mask, mrn: full }
      - permissions: [chart.export, chart.print]
  - id: physician
    role_type: clinician
    grants:
      - permission: chart.view
        fields: { pii: full, clinical: full }
        step_up: true
      - permission: chart.sign
        condition: principal.license == "MD"
constraints:
  - id: no_phi_export_off_network
    description: protected health information leaves only from the internal network
    categories: [phi_export]
    condition: context.network != "internal"
principals:
  - { id: cal }
  - { id: dr-md, attributes: { license: MD } }
  - { id: dr-np, attributes: { license: NP } }
  - { id: pat }
bindings:
  - { id: b-cal, principal: cal, role: clerk }
  - { id: b-dr-md, principal: dr-md, role: physician }
  - { id: b-dr-np, principal: dr-np, role: physician }
  - { id: b-pat-clerk, principal: pat, role: clerk }
  - { id: b-pat-physician, principal: pat, role: physician }
"#;

#[test]
fn field_visibility_and_step_up_are_the_union_of_the_allowing_grants() {
    use FieldVisibility::{Full, Mask, Off};
    let charts = compile(&parse(CHARTS));
    #[rustfmt::skip]
    let cases = [
        // principal  ssn   mrn   diagnosis step_up
        ("cal",       Mask, Full, Mask,     false),
        ("dr-md",     Full, Full, Full,     true),
        // Both roles: the widest view of each field, and no step-up, since the clerk grant
        // allows without one.
        ("pat",       Full, Full, Full,     false),
    ];
    for (principal, ssn, mrn, diagnosis, step_up) in cases {
        let decision = check(&charts, &ask(principal, "chart.view", "c-1"), Allow);
        let seen = (
            decision.field_visibility("ssn"),
            decision.field_visibility("mrn"),
            decision.field_visibility("diagnosis"),
            decision.obligations.step_up,
        );
        assert_eq!(
            seen,
            (ssn, mrn, diagnosis, step_up),
            "{principal} viewing c-1"
        );
        // Unclassified fields are shown in full.
        assert_eq!(decision.field_visibility("name"), Full);
    }
    // A denied decision shows nothing.
    let denied = check(
        &charts,
        &ask("nobody", "chart.view", "c-1"),
        Deny(PrincipalUnknown),
    );
    assert_eq!(denied.field_visibility("name"), Off);
}

#[test]
fn conditions_read_principal_attributes() {
    let charts = compile(&parse(CHARTS));
    check_all(
        &charts,
        &[
            (ask("dr-md", "chart.sign", "c-1"), Allow),
            (ask("dr-np", "chart.sign", "c-1"), Deny(ConditionNotMet)),
            // No license attribute at all: the condition cannot be evaluated.
            (
                ask("pat", "chart.sign", "c-1"),
                Deny(Reason::ConditionError),
            ),
        ],
    );
}

#[test]
fn constraint_by_category_with_a_condition_fails_closed() {
    let charts = compile(&parse(CHARTS));
    check_all(
        &charts,
        &[
            (
                ask("cal", "chart.export", "c-1").ctx("network", "internal"),
                Allow,
            ),
            (
                ask("cal", "chart.print", "c-1").ctx("network", "internal"),
                Allow,
            ),
            (
                ask("cal", "chart.export", "c-1").ctx("network", "home-wifi"),
                Deny(ForbiddenByConstraint),
            ),
            (
                ask("cal", "chart.print", "c-1").ctx("network", "home-wifi"),
                Deny(ForbiddenByConstraint),
            ),
            // Without the attribute the constraint's condition cannot be evaluated: it applies.
            (
                ask("cal", "chart.export", "c-1"),
                Deny(ForbiddenByConstraint),
            ),
            // Actions outside the category are not affected.
            (
                ask("cal", "chart.view", "c-1").ctx("network", "home-wifi"),
                Allow,
            ),
        ],
    );
}

//! The guards around a grant, each proved as a product rule: API keys (revoked, expired, out of
//! scope), token versions (older and newer than the snapshot), the delegator's kind, which deny
//! reason is reported when several grants fail, how several allowing grants combine their
//! obligations, and conditions that yield something other than a bool.

mod common;

use authz_core::{FieldVisibility, Reason, Snapshot};
use chrono::TimeDelta;
use common::{
    Ask,
    Expect::{self, Allow, Deny},
    ask, at, check, check_all, compile, explain, parse,
};

use Reason::{
    ApiKeyInvalid, ApiKeyScope, ConditionError, ConditionNotMet, DelegationInvalid,
    ForbiddenByConstraint, NoMatchingGrant, OutOfScope, Stale, TokenVersionStale,
};

// ---------------------------------------------------------------------------------------------
// API keys and token versions
// ---------------------------------------------------------------------------------------------

const ACCESS: &str = r#"
tenant: { id: access-co }
catalog:
  resource_types:
    claim: { actions: { view: {}, submit: {}, void: {} } }
roles:
  - { id: biller, role_type: billing, grants: [{ permissions: [claim.view, claim.submit] }] }
principals:
  - id: sync
    type: service
    api_keys:
      - { id: key-read, scopes: [claim.view] }
      - { id: key-all, scopes: ["claim.*"] }
      - { id: key-revoked, scopes: ["claim.*"], revoked: true }
      - { id: key-expiring, scopes: ["claim.*"], expires_at: "2025-06-02T18:00:00Z" }
  - id: other
    type: service
    api_keys: [{ id: key-other, scopes: ["claim.*"] }]
  - { id: una, token_version: 3 }
  - { id: neo }
bindings:
  - { id: b-sync, principal: sync, role: biller }
  - { id: b-other, principal: other, role: biller }
  - { id: b-una, principal: una, role: biller }
  - { id: b-neo, principal: neo, role: biller }
"#;

fn access() -> Snapshot {
    compile(&parse(ACCESS))
}

#[test]
fn an_api_key_must_be_live_owned_and_in_scope() {
    let sync = |permission, key| ask("sync", permission, "cl-1").service().api_key(key);
    check_all(
        &access(),
        &[
            (sync("claim.view", "key-read"), Allow),
            // The key narrows what its service may do…
            (sync("claim.submit", "key-read"), Deny(ApiKeyScope)),
            (sync("claim.submit", "key-all"), Allow),
            // …and never widens it: the role holds no claim.void.
            (sync("claim.void", "key-all"), Deny(NoMatchingGrant)),
            // A revoked API key is refused even in scope.
            (sync("claim.view", "key-revoked"), Deny(ApiKeyInvalid)),
            // Another principal's key, or a made-up one, is unknown for this principal.
            (sync("claim.view", "key-other"), Deny(ApiKeyInvalid)),
            (sync("claim.view", "key-forged"), Deny(ApiKeyInvalid)),
        ],
    );
}

#[test]
fn an_expired_key_is_refused_at_its_expiry_instant_and_accepted_one_microsecond_before() {
    let expires_at = at("2025-06-02T18:00:00Z");
    let view = || {
        ask("sync", "claim.view", "cl-1")
            .service()
            .api_key("key-expiring")
    };
    check_all(
        &access(),
        &[
            (view().at(expires_at - TimeDelta::microseconds(1)), Allow),
            (view().at(expires_at), Deny(ApiKeyInvalid)),
            (
                view().at(expires_at + TimeDelta::days(365)),
                Deny(ApiKeyInvalid),
            ),
        ],
    );
}

/// una's token version is 3, neo's the default 0. An older token was issued before an admin
/// forced a sign-out (`token_version_stale`: sign in again); a newer one after a bump this
/// snapshot has not seen yet (`stale`: retry later).
#[test]
fn a_token_version_newer_than_the_snapshot_is_stale_and_an_older_one_token_version_stale() {
    let view = |principal| ask(principal, "claim.view", "cl-1");
    check_all(
        &access(),
        &[
            (view("una").token_version(3), Allow),
            (view("una").token_version(4), Deny(Stale)),
            (view("una").token_version(u64::MAX), Deny(Stale)),
            (view("una").token_version(2), Deny(TokenVersionStale)),
            (view("una").token_version(0), Deny(TokenVersionStale)),
            (view("una"), Allow),
            (view("neo").token_version(0), Allow),
            (view("neo").token_version(1), Deny(Stale)),
        ],
    );
}

// ---------------------------------------------------------------------------------------------
// Delegation: the delegator's kind
// ---------------------------------------------------------------------------------------------

const APPEALS: &str = r#"
tenant: { id: appeals-co }
catalog:
  resource_types:
    appeal: { actions: { view: {}, sign: {} } }
roles:
  - { id: signer, role_type: staff, grants: [{ permissions: [appeal.view, appeal.sign] }] }
principals:
  - { id: tess }
  - { id: batch, type: service }
  - { id: sam }
bindings:
  - { id: b-tess, principal: tess, role: signer }
  - { id: b-batch, principal: batch, role: signer }
delegations:
  - { id: d-tess-sam, delegator: tess, delegate: sam, permissions: [appeal.sign] }
  - { id: d-batch-sam, delegator: batch, delegate: sam, permissions: [appeal.sign] }
"#;

/// A delegation names its delegator by id; the request must also name the right kind: a user
/// is not a service account with the same id, nor the other way round.
#[test]
fn a_delegator_named_with_the_wrong_kind_is_refused() {
    let sign = || ask("sam", "appeal.sign", "ap-1");
    check_all(
        &compile(&parse(APPEALS)),
        &[
            (sign().on_behalf_of("tess"), Allow),
            (sign().on_behalf_of_service("tess"), Deny(DelegationInvalid)),
            (sign().on_behalf_of_service("batch"), Allow),
            (sign().on_behalf_of("batch"), Deny(DelegationInvalid)),
        ],
    );
}

// ---------------------------------------------------------------------------------------------
// Which deny is reported when several grants fail
// ---------------------------------------------------------------------------------------------

/// Roles that each fail `note.view` on `n-2` one way, asked with `section: clinical` and no
/// `level` in the context.
const PRECEDENCE: &str = r#"
tenant: { id: precedence }
catalog:
  resource_types:
    location: { container: true, actions: { view: {} } }
    note:
      relations:
        assignee: { subject: user }
        location: { container: location }
      actions: { view: {}, edit: {} }
roles:
  # No grant of note.view: no_matching_grant.
  - { id: editor, role_type: staff, grants: [{ permission: note.edit }] }
  # Nobody is assigned n-2: out_of_scope.
  - { id: assigned, role_type: staff, grants: [{ permission: note.view, scope: "related:assignee" }] }
  # Bound at north (below), while n-2 is in south: out_of_scope.
  - { id: reader, role_type: staff, grants: [{ permission: note.view }] }
  # The section is clinical: condition_not_met.
  - { id: billing, role_type: staff, grants: [{ permission: note.view, condition: 'context.section == "billing"' }] }
  # There is no level: condition_error.
  - { id: leveled, role_type: staff, grants: [{ permission: note.view, condition: "context.level > 2" }] }
  # The three grant failures in one role, in both orders.
  - id: mixed
    role_type: staff
    grants:
      - { permission: note.view, scope: "related:assignee" }
      - { permission: note.view, condition: 'context.section == "billing"' }
      - { permission: note.view, condition: "context.level > 2" }
  - id: mixed_reversed
    role_type: staff
    grants:
      - { permission: note.view, condition: "context.level > 2" }
      - { permission: note.view, condition: 'context.section == "billing"' }
      - { permission: note.view, scope: "related:assignee" }
relationships:
  - note:n-1#location@location:north
  - note:n-2#location@location:south
"#;

/// `role` or `role@north` (bound at location north only).
fn binding_yaml(principal: &str, index: usize, spec: &str) -> String {
    let (role, locations) = match spec.split_once('@') {
        Some((role, location)) => (role, format!(", locations: [\"location:{location}\"]")),
        None => (spec, String::new()),
    };
    format!(
        "  - {{ id: b-{principal}-{index}, principal: {principal}, role: {role}{locations} }}\n"
    )
}

/// [`PRECEDENCE`] plus one principal per holding, with its bindings in the given order, and a
/// twin holding them in reverse. A principal's id is its roles joined by `+`.
fn precedence(holdings: &[&[&str]]) -> Snapshot {
    let mut principals = String::from("principals:\n");
    let mut bindings = String::from("bindings:\n");
    for specs in holdings {
        let reversed: Vec<&str> = specs.iter().rev().copied().collect();
        for order in [specs.to_vec(), reversed] {
            let id = order.join("+").replace('@', "-at-");
            if principals.contains(&format!("id: {id} ")) {
                continue;
            }
            principals.push_str(&format!("  - {{ id: {id} }}\n"));
            for (index, spec) in order.iter().enumerate() {
                bindings.push_str(&binding_yaml(&id, index, spec));
            }
        }
    }
    compile(&parse(&format!("{PRECEDENCE}{principals}{bindings}")))
}

/// When no grant allows, the deny closest to an allow is reported — `condition_error` over
/// `condition_not_met` over `out_of_scope` over `no_matching_grant` — whatever the order of
/// the bindings, or of the grants within a role.
#[test]
fn the_deny_closest_to_an_allow_is_reported_whatever_the_order() {
    #[rustfmt::skip]
    let holdings: [(&[&str], Reason); 13] = [
        (&["editor"],                                           NoMatchingGrant),
        (&["assigned"],                                         OutOfScope),
        (&["reader@north"],                                     OutOfScope),
        (&["billing"],                                          ConditionNotMet),
        (&["leveled"],                                          ConditionError),
        (&["editor", "assigned"],                               OutOfScope),
        (&["editor", "reader@north"],                           OutOfScope),
        (&["assigned", "billing"],                              ConditionNotMet),
        (&["reader@north", "billing"],                          ConditionNotMet),
        (&["billing", "leveled"],                               ConditionError),
        (&["editor", "assigned", "reader@north", "billing", "leveled"], ConditionError),
        // The grant order within one role does not matter either.
        (&["mixed"],                                            ConditionError),
        (&["mixed_reversed"],                                   ConditionError),
    ];
    let snapshot = precedence(&holdings.map(|(specs, _)| specs));
    let mut principals = Vec::new();
    for (specs, reason) in holdings {
        let reversed: Vec<&str> = specs.iter().rev().copied().collect();
        for order in [specs.to_vec(), reversed] {
            principals.push((order.join("+").replace('@', "-at-"), reason));
        }
    }
    let cases: Vec<_> = principals
        .iter()
        .map(|(id, reason)| {
            let view = ask(id, "note.view", "n-2").ctx("section", "clinical");
            (view, Deny(*reason))
        })
        .collect();
    check_all(&snapshot, &cases);
}

/// One grant that allows wins over every failing one, wherever it sits.
#[test]
fn any_allowing_grant_beats_every_failing_one() {
    let all: &[&str] = &["editor", "assigned", "reader@north", "billing", "leveled"];
    let snapshot = precedence(&[all, &["mixed"], &["mixed_reversed"]]);
    let view = |principal, resource| ask(principal, "note.view", resource);
    let forward = "editor+assigned+reader-at-north+billing+leveled";
    let backward = "leveled+billing+reader-at-north+assigned+editor";
    let mut cases = Vec::new();
    for principal in [forward, backward, "mixed", "mixed_reversed"] {
        cases.extend([
            (view(principal, "n-2").ctx("section", "billing"), Allow),
            (view(principal, "n-2").ctx("level", 3_i64), Allow),
            (
                view(principal, "n-2")
                    .ctx("section", "clinical")
                    .ctx("level", 1_i64),
                Deny(ConditionNotMet),
            ),
        ]);
    }
    // reader's binding reaches north.
    cases.push((view(forward, "n-1"), Allow));
    check_all(&snapshot, &cases);
}

// ---------------------------------------------------------------------------------------------
// Obligations when several grants allow
// ---------------------------------------------------------------------------------------------

const CHARTS: &str = r#"
tenant: { id: visibility }
catalog:
  sensitivity_classes:
    pii: {}
    clinical: { default_visibility: mask }
  resource_types:
    patient:
      relations: { assignee: { subject: user } }
      fields: { ssn: pii, mrn: pii, diagnosis: clinical, medications: clinical }
      actions: { view: {} }
roles:
  # Identifiers masked; clinical at its default (mask).
  - { id: front_desk, role_type: office, grants: [{ permission: patient.view, fields: { pii: mask } }] }
  # Clinical in full; identifiers at their default (off); re-authenticate.
  - { id: clinician, role_type: clinical, grants: [{ permission: patient.view, fields: { clinical: full }, step_up: true }] }
  # The SSN in full (a field entry), clinical off; re-authenticate.
  - id: verifier
    role_type: office
    grants: [{ permission: patient.view, fields: { ssn: full, clinical: "off" }, step_up: true }]
  # Everything in full, but only for assigned patients, or only when on call.
  - id: case_nurse
    role_type: clinical
    grants: [{ permission: patient.view, scope: "related:assignee", fields: { pii: full, clinical: full } }]
  - id: on_call
    role_type: clinical
    grants: [{ permission: patient.view, condition: "context.on_call", fields: { pii: full, clinical: full } }]
  # front_desk's and clinician's grants in one role, in both orders.
  - id: combined
    role_type: office
    grants:
      - { permission: patient.view, fields: { pii: mask } }
      - { permission: patient.view, fields: { clinical: full }, step_up: true }
  - id: combined_reversed
    role_type: office
    grants:
      - { permission: patient.view, fields: { clinical: full }, step_up: true }
      - { permission: patient.view, fields: { pii: mask } }
relationships:
  - patient:p-1#assignee@user:front_desk+case_nurse
  - patient:p-1#assignee@user:case_nurse+front_desk
"#;

/// [`CHARTS`] with one principal per holding (and its reversed twin), like [`precedence`].
fn charts(holdings: &[&[&str]]) -> Snapshot {
    let mut principals = String::from("principals:\n");
    let mut bindings = String::from("bindings:\n");
    for specs in holdings {
        let reversed: Vec<&str> = specs.iter().rev().copied().collect();
        for order in [specs.to_vec(), reversed] {
            let id = order.join("+");
            if principals.contains(&format!("id: {id} ")) {
                continue;
            }
            principals.push_str(&format!("  - {{ id: {id} }}\n"));
            for (index, role) in order.iter().enumerate() {
                bindings.push_str(&binding_yaml(&id, index, role));
            }
        }
    }
    compile(&parse(&format!("{CHARTS}{principals}{bindings}")))
}

/// Several allowing grants show the union of what each shows, field by field, and require
/// step-up only when every one of them does — whatever the order of bindings or grants.
#[test]
fn allowing_grants_widen_visibility_field_by_field_and_step_up_only_if_all_require_it() {
    use FieldVisibility::{Full, Mask, Off};
    type Shown = (
        FieldVisibility,
        FieldVisibility,
        FieldVisibility,
        FieldVisibility,
        bool,
    );
    #[rustfmt::skip]
    let rows: [(&[&str], &str, Option<bool>, Shown); 13] = [
        // holding                      patient on_call   ssn   mrn   diagnosis medications step_up
        (&["front_desk"],               "p-2",  None,        (Mask, Mask, Mask, Mask, false)),
        (&["clinician"],                "p-2",  None,        (Off,  Off,  Full, Full, true)),
        (&["verifier"],                 "p-2",  None,        (Full, Off,  Off,  Off,  true)),
        // pii masked by one, clinical full by the other; one needs no step-up, so none.
        (&["front_desk", "clinician"],  "p-2",  None,        (Mask, Mask, Full, Full, false)),
        (&["combined"],                 "p-2",  None,        (Mask, Mask, Full, Full, false)),
        (&["combined_reversed"],        "p-2",  None,        (Mask, Mask, Full, Full, false)),
        // Both require step-up: it is required. The SSN entry beats the class default.
        (&["clinician", "verifier"],    "p-2",  None,        (Full, Off,  Full, Full, true)),
        (&["front_desk", "verifier"],   "p-2",  None,        (Full, Mask, Mask, Mask, false)),
        // Only grants that allow widen: not one out of scope or whose condition fails.
        (&["front_desk", "case_nurse"], "p-2",  None,        (Mask, Mask, Mask, Mask, false)),
        (&["front_desk", "case_nurse"], "p-1",  None,        (Full, Full, Full, Full, false)),
        (&["front_desk", "on_call"],    "p-2",  Some(false), (Mask, Mask, Mask, Mask, false)),
        (&["front_desk", "on_call"],    "p-2",  None,        (Mask, Mask, Mask, Mask, false)),
        (&["front_desk", "on_call"],    "p-2",  Some(true),  (Full, Full, Full, Full, false)),
    ];
    let snapshot = charts(&rows.map(|(holding, ..)| holding));
    let mut wrong = Vec::new();
    for (holding, patient, on_call, want) in rows {
        let reversed: Vec<&str> = holding.iter().rev().copied().collect();
        for order in [holding.to_vec(), reversed] {
            let id = order.join("+");
            let mut view = ask(&id, "patient.view", patient);
            if let Some(on_call) = on_call {
                view = view.ctx("on_call", on_call);
            }
            let decision = check(&snapshot, &view, Allow);
            let field = |name| decision.field_visibility(name);
            let shown = (
                field("ssn"),
                field("mrn"),
                field("diagnosis"),
                field("medications"),
                decision.obligations.step_up,
            );
            if shown != want {
                wrong.push(format!(
                    "  {}: expected {want:?}, got {shown:?}",
                    view.describe()
                ));
            }
            // The explanation, which looks at every grant, agrees.
            let (explained, _) = explain(&snapshot, &view);
            if explained.obligations != decision.obligations {
                wrong.push(format!(
                    "  {}: explain shows other obligations",
                    view.describe()
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "wrong obligations:\n{}", wrong.join("\n"));
}

// ---------------------------------------------------------------------------------------------
// Conditions that do not yield a bool
// ---------------------------------------------------------------------------------------------

const FLAGS: &str = r#"
tenant: { id: flags }
catalog:
  resource_types:
    record: { actions: { view: {}, print: {}, export: {} } }
roles:
  - id: clerk
    role_type: staff
    grants:
      - { permission: record.view, condition: "context.flag" }
      - { permission: record.print, condition: "1 + 1" }
      - { permission: record.export }
constraints:
  - id: no_risky_export
    description: risky exports are forbidden
    permissions: [record.export]
    condition: "context.risky"
principals: [{ id: fay }]
bindings: [{ id: b-fay, principal: fay, role: clerk }]
"#;

/// A condition allows only when it yields `true`. Anything else that is not `false` — a string
/// (even `"true"`), a number, a missing attribute — is `condition_error`, never an allow; and in
/// a constraint, an erroring condition applies the forbid.
#[test]
fn a_condition_that_yields_no_bool_never_allows_and_always_forbids() {
    let fay = |permission| ask("fay", permission, "r-1");
    let cases: Vec<(Ask<'_>, Expect)> = vec![
        (fay("record.view").ctx("flag", true), Allow),
        (fay("record.view").ctx("flag", false), Deny(ConditionNotMet)),
        (fay("record.view").ctx("flag", "true"), Deny(ConditionError)),
        (fay("record.view").ctx("flag", 1_i64), Deny(ConditionError)),
        (fay("record.view"), Deny(ConditionError)),
        // A condition that is a number whatever the request.
        (fay("record.print"), Deny(ConditionError)),
        (fay("record.export").ctx("risky", false), Allow),
        (
            fay("record.export").ctx("risky", true),
            Deny(ForbiddenByConstraint),
        ),
        (
            fay("record.export").ctx("risky", "no"),
            Deny(ForbiddenByConstraint),
        ),
        (
            fay("record.export").ctx("risky", 0_i64),
            Deny(ForbiddenByConstraint),
        ),
        (fay("record.export"), Deny(ForbiddenByConstraint)),
    ];
    check_all(&compile(&parse(FLAGS)), &cases);
}

// ---------------------------------------------------------------------------------------------
// Conditions over the tenant and the clock
// ---------------------------------------------------------------------------------------------

const HOURS: &str = r#"
tenant: { id: night-owls, time_zone: America/Chicago }
catalog:
  resource_types:
    schedule: { actions: { edit: {}, view: {} } }
roles:
  - id: scheduler
    role_type: staff
    grants:
      # Business hours in the tenant's time zone (CDT in June: UTC-5).
      - permission: schedule.edit
        condition: now.getHours(tenant.time_zone) >= 8 && now.getHours(tenant.time_zone) < 18
      - permission: schedule.view
        condition: tenant.id == "night-owls" && tenant.name == "Night Owls"
principals: [{ id: sol }]
bindings: [{ id: b-sol, principal: sol, role: scheduler }]
"#;

/// Seed 003's "business hours" rule: a condition reads the request's time in the tenant's time
/// zone, and the tenant's own id and name.
#[test]
fn conditions_read_the_clock_in_the_tenant_time_zone_and_the_tenant_itself() {
    let mut policy = parse(HOURS);
    policy.tenant.name = "Night Owls".to_owned();
    let hours = compile(&policy);
    let edit_at = |instant| ask("sol", "schedule.edit", "week-23").at(at(instant));
    let cases: Vec<(Ask<'_>, Expect)> = vec![
        // 08:00 in Chicago is the first minute of business; 17:59 the last.
        (edit_at("2025-06-02T13:00:00Z"), Allow),
        (edit_at("2025-06-02T22:59:59Z"), Allow),
        (edit_at("2025-06-02T12:59:59Z"), Deny(ConditionNotMet)),
        (edit_at("2025-06-02T23:00:00Z"), Deny(ConditionNotMet)),
        // 09:00 UTC (business hours at UTC) is 04:00 in Chicago: the zone is the tenant's.
        (edit_at("2025-06-02T09:00:00Z"), Deny(ConditionNotMet)),
        (ask("sol", "schedule.view", "week-23"), Allow),
    ];
    check_all(&hours, &cases);

    policy.tenant.name = "Night Hawks".to_owned();
    check(
        &compile(&policy),
        &ask("sol", "schedule.view", "week-23"),
        Deny(ConditionNotMet),
    );
}

/// A delegation is between two of the tenant's people. Platform staff who share an id with the
/// delegate never act under it.
#[test]
fn platform_staff_never_act_under_a_tenant_delegation() {
    let platform = parse(
        r#"
tenant: { id: platform }
roles:
  - { id: support, role_type: platform_support, grants: [{ permission: appeal.view }] }
principals: [{ id: sam }]
bindings: [{ id: pb-sam, principal: sam, role: support, tenants: [appeals-co] }]
"#,
    );
    let appeals = match Snapshot::compile(&parse(APPEALS), Some(&platform), 1) {
        Ok(snapshot) => snapshot,
        Err(error) => panic!("appeals with platform staff does not compile: {error}"),
    };
    let sign = || ask("sam", "appeal.sign", "ap-1").on_behalf_of("tess");
    check_all(
        &appeals,
        &[
            (sign(), Allow),
            (sign().platform(), Deny(DelegationInvalid)),
        ],
    );
}

/// Platform roles are written once for every tenant, so they name permissions, relations and
/// fields of the tenants' catalogs. The platform policy loads with them; each tenant compiles
/// in what its catalog has and skips the rest, where a tenant's own role would be refused.
#[test]
fn platform_roles_name_other_catalogs_and_each_tenant_takes_what_it_has() {
    let platform = parse(
        r#"
tenant: { id: platform }
roles:
  - id: support
    role_type: platform_support
    grants:
      - { permissions: [appeal.view, invoice.view], fields: { pii: mask, ssn: "off" } }
      - { permission: appeal.sign, scope: "related:assignee" }
principals:
  - { id: pia, api_keys: [{ id: pia-key, scopes: [appeal.view, invoice.view] }] }
bindings: [{ id: pb-pia, principal: pia, role: support }]
"#,
    );
    assert!(
        Snapshot::compile_platform(&platform, 1).is_ok(),
        "the platform policy loads though its own catalog declares none of these"
    );
    let appeals = match Snapshot::compile(&parse(APPEALS), Some(&platform), 1) {
        Ok(snapshot) => snapshot,
        Err(error) => panic!("a tenant without invoices or assignees does not compile: {error}"),
    };
    check_all(
        &appeals,
        &[
            (ask("pia", "appeal.view", "ap-1").platform(), Allow),
            (
                ask("pia", "appeal.view", "ap-1")
                    .platform()
                    .api_key("pia-key"),
                Allow,
            ),
            // The tenant has no `assignee`: the grant that needs it is not there.
            (
                ask("pia", "appeal.sign", "ap-1").platform(),
                Deny(NoMatchingGrant),
            ),
        ],
    );
}

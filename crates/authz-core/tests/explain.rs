//! What a decision says to the admin reading it: a deny's message names what failed (the
//! binding, the role, the grant's scope, the condition and why it failed, a binding that has
//! expired or not started), and an explanation
//! lists every grant it looked at — each allowing grant, even after the widest allow, and a
//! condition that could not be evaluated marked as an error, not a plain mismatch.

mod common;

use authz_core::{Reason, StepOutcome};
use common::{Expect, ask, at, check, compile, explain, parse};

const CLINIC: &str = r#"
tenant: { id: clinic }
catalog:
  sensitivity_classes:
    pii: { default_visibility: "off" }
  resource_types:
    location: { container: true, actions: { view: {} } }
    chart:
      relations: { location: { container: location }, assignee: { subject: user } }
      fields: { ssn: pii }
      actions: { view: {}, sign: {} }
roles:
  - id: nurse
    role_type: clinician
    grants:
      - { permission: chart.view, scope: "related:assignee" }
      - { permission: chart.sign, condition: "context.shift == 'day'" }
  - id: night_nurse
    role_type: clinician
    grants:
      - { permission: chart.sign, condition: "context.minutes > 30" }
  - id: records
    role_type: records
    grants:
      - { permission: chart.view, fields: { pii: full } }
  - id: auditor
    role_type: auditor
    grants:
      - { permission: chart.view, fields: { pii: full } }
principals: [{ id: nia }, { id: rex }]
bindings:
  - { id: b-nia-north, principal: nia, role: nurse, locations: [location:north] }
  - { id: b-nia-night, principal: nia, role: night_nurse }
  - { id: b-rex-records, principal: rex, role: records }
  - { id: b-rex-audit, principal: rex, role: auditor }
relationships:
  - chart:c-north#location@location:north
  - chart:c-south#location@location:south
"#;

#[test]
fn a_deny_names_what_failed() {
    let clinic = compile(&parse(CLINIC));
    let cases = [
        // Not assigned: the grant's scope, its role and the chart.
        (
            ask("nia", "chart.view", "c-north"),
            Reason::OutOfScope,
            &["nurse", "related:assignee", "chart:c-north"][..],
        ),
        // Outside the binding's location: the binding, its role and the chart.
        (
            ask("nia", "chart.view", "c-south"),
            Reason::OutOfScope,
            &["b-nia-north", "nurse", "chart:c-south"][..],
        ),
        // A condition that is false: its text and its role.
        (
            ask("nia", "chart.sign", "c-north")
                .ctx("shift", "night")
                .ctx("minutes", 10_i64),
            Reason::ConditionNotMet,
            &["context.shift == 'day'", "nurse"][..],
        ),
        // A condition that cannot be evaluated: its text, its role and the reason.
        (
            ask("nia", "chart.sign", "c-north").ctx("shift", "night"),
            Reason::ConditionError,
            &["context.minutes > 30", "night_nurse", "failed"][..],
        ),
        (
            ask("rex", "chart.sign", "c-north"),
            Reason::NoMatchingGrant,
            &["rex", "chart.sign"][..],
        ),
    ];
    for (request, reason, named) in cases {
        let decision = check(&clinic, &request, Expect::Deny(reason));
        for word in named {
            assert!(
                decision.message.contains(word),
                "{}: the message `{}` does not name `{word}`",
                request.describe(),
                decision.message
            );
        }
    }
}

#[test]
fn an_explanation_marks_a_condition_that_could_not_be_evaluated_as_an_error() {
    let clinic = compile(&parse(CLINIC));
    let (decision, steps) = explain(
        &clinic,
        &ask("nia", "chart.sign", "c-north").ctx("shift", "night"),
    );
    assert_eq!(decision.reason, Reason::ConditionError);
    let outcome = |role: &str| {
        steps
            .iter()
            .find(|step| step.stage == "grant" && step.role_id == role)
            .map(|step| step.outcome)
    };
    // `context.shift == 'day'` is false; `context.minutes > 30` has no `minutes` to read.
    assert_eq!(outcome("nurse"), Some(StepOutcome::NoMatch), "{steps:#?}");
    assert_eq!(
        outcome("night_nurse"),
        Some(StepOutcome::Error),
        "{steps:#?}"
    );
}

/// A check stops at the first grant that shows every field in full (nothing could widen it);
/// an explanation still lists every allowing grant, so an admin sees each way in.
#[test]
fn an_explanation_lists_every_allowing_grant() {
    let clinic = compile(&parse(CLINIC));
    let request = ask("rex", "chart.view", "c-south");
    let decision = check(&clinic, &request, Expect::Allow);
    assert_eq!(decision.basis.binding_id, "b-rex-records");
    let (_, steps) = explain(&clinic, &request);
    let matched: Vec<&str> = steps
        .iter()
        .filter(|step| step.stage == "grant" && step.outcome == StepOutcome::Match)
        .map(|step| step.binding_id.as_str())
        .collect();
    assert_eq!(matched, ["b-rex-records", "b-rex-audit"], "{steps:#?}");
}

/// Every decision carries the revision of the snapshot that made it (what `at_least_revision`
/// compares against); a snapshot and a condition name themselves in logs.
#[test]
fn a_decision_carries_its_snapshot_revision_and_logs_name_what_they_show() {
    let policy = parse(CLINIC);
    let snapshot = match authz_core::Snapshot::compile(&policy, None, 41) {
        Ok(snapshot) => snapshot,
        Err(error) => panic!("the clinic does not compile: {error}"),
    };
    assert_eq!(snapshot.revision(), 41);
    for request in [
        ask("rex", "chart.view", "c-south"),
        ask("nia", "chart.view", "c-south"),
    ] {
        assert_eq!(
            common::decide(&snapshot, &request).revision,
            41,
            "{}",
            request.describe()
        );
    }
    let logged = format!("{snapshot:?}");
    assert!(
        logged.contains("clinic") && logged.contains("41"),
        "{logged}"
    );

    let env = cel::Env::stdlib();
    let condition = match authz_core::condition::Condition::compile(&env, "context.minutes > 30") {
        Ok(condition) => condition,
        Err(error) => panic!("the condition does not compile: {error}"),
    };
    assert_eq!(condition.source(), "context.minutes > 30");
    assert!(format!("{condition:?}").contains("context.minutes > 30"));
}

/// A staffing agency's contracts: bindings with validity windows, seen on 2026-05-15.
const CONTRACTS: &str = r#"
tenant: { id: staffing }
catalog:
  resource_types:
    location: { container: true, actions: { view: {} } }
    chart:
      relations: { location: { container: location } }
      actions: { view: {}, sign: {} }
roles:
  - { id: nurse, role_type: clinician, grants: [{ permission: chart.view }] }
  - { id: float_nurse, role_type: clinician, grants: [{ permission: chart.view, scope: location }] }
  - { id: scheduler, role_type: scheduler, grants: [{ permission: location.view }] }
principals: [{ id: ana }, { id: ben }, { id: cy }, { id: dee }]
bindings:
  # Ana's contract ended; Ben's starts next month.
  - { id: b-7, principal: ana, role: nurse, expires_at: 2026-05-01T00:00:00Z }
  - { id: b-8, principal: ben, role: nurse, not_before: 2026-06-01T00:00:00Z }
  # Cy's expired binding never granted charts.
  - { id: b-9, principal: cy, role: scheduler, expires_at: 2026-05-01T00:00:00Z }
  # Dee's contract ended too, but she floats now: an active grant that does not cover c-1.
  - { id: b-10, principal: dee, role: nurse, expires_at: 2026-05-01T00:00:00Z }
  - { id: b-11, principal: dee, role: float_nurse }
"#;

/// A binding outside its validity window grants nothing; when it is the only one that would
/// have granted the permission, the deny says so (the reason stays `no_matching_grant`), and the
/// explanation's step for that binding says the same.
#[test]
fn a_deny_says_when_the_binding_that_would_grant_has_expired_or_not_started() {
    let contracts = compile(&parse(CONTRACTS));
    let now = at("2026-05-15T09:30:00Z");
    let cases = [
        (
            "ana",
            Expect::Deny(Reason::NoMatchingGrant),
            "no active binding of `ana` grants `chart.view`: binding `b-7` of role `nurse` expired at 2026-05-01T00:00:00Z",
        ),
        (
            "ben",
            Expect::Deny(Reason::NoMatchingGrant),
            "no active binding of `ben` grants `chart.view`: binding `b-8` of role `nurse` is not valid until 2026-06-01T00:00:00Z",
        ),
        // An expired binding of a role without the permission explains nothing.
        (
            "cy",
            Expect::Deny(Reason::NoMatchingGrant),
            "no active binding of `cy` grants `chart.view`",
        ),
        // An active binding's miss is closer to an allow than an expired binding.
        (
            "dee",
            Expect::Deny(Reason::OutOfScope),
            "grant of role `float_nurse` has scope `location`, which does not cover `chart:c-1`",
        ),
    ];
    for (principal, expect, message) in cases {
        let request = ask(principal, "chart.view", "c-1").at(now);
        let decision = check(&contracts, &request, expect);
        assert_eq!(decision.message, message, "{}", request.describe());
        let (explained, _) = explain(&contracts, &request);
        assert_eq!(
            explained.message,
            message,
            "explain: {}",
            request.describe()
        );
    }

    let (_, steps) = explain(&contracts, &ask("ana", "chart.view", "c-1").at(now));
    let skipped = steps
        .iter()
        .find(|step| step.stage == "binding" && step.binding_id == "b-7");
    assert_eq!(
        skipped.map(|step| (step.outcome, step.detail.as_str())),
        Some((
            StepOutcome::Skip,
            "binding `b-7` of role `nurse` expired at 2026-05-01T00:00:00Z"
        )),
        "{steps:#?}"
    );
    // Within the contract, the same request is allowed.
    check(
        &contracts,
        &ask("ana", "chart.view", "c-1").at(at("2026-04-30T23:59:59Z")),
        Expect::Allow,
    );
}

//! Decisions back to the wire: every reason keeps its own code, an allow keeps its basis,
//! obligations, revision and trace, and a deny shows nothing.

use std::collections::HashMap;

use authz_core::decision::{ExplainStep, FieldVisibilities, StepOutcome};
use authz_core::model::BindingSource;
use authz_core::{Decision, DecisionBasis, FieldVisibility, Obligations, Reason};
use authz_proto::convert::{decision_to_proto, reason_to_proto};
use authz_proto::pb;

const REASONS: [Reason; 20] = [
    Reason::Granted,
    Reason::NoMatchingGrant,
    Reason::OutOfScope,
    Reason::ConditionNotMet,
    Reason::ConditionError,
    Reason::ForbiddenByConstraint,
    Reason::NotEntitled,
    Reason::TenantUnknown,
    Reason::TenantInactive,
    Reason::PrincipalUnknown,
    Reason::PrincipalInactive,
    Reason::SessionInvalid,
    Reason::TokenVersionStale,
    Reason::ApiKeyInvalid,
    Reason::ApiKeyScope,
    Reason::DelegationInvalid,
    Reason::UnknownResourceType,
    Reason::UnknownAction,
    Reason::Stale,
    Reason::Unavailable,
];

/// Each reason has a wire code of its own, named after its snake_case code, and together they
/// cover every code of the contract but `UNSPECIFIED`.
#[test]
fn every_reason_has_its_own_wire_code() {
    let mut seen = HashMap::new();
    for reason in REASONS {
        let code = reason_to_proto(reason);
        let want = format!("REASON_CODE_{}", reason.code().to_uppercase());
        assert_eq!(code.as_str_name(), want, "{reason:?}");
        if let Some(other) = seen.insert(code, reason) {
            panic!("{reason:?} and {other:?} share {}", code.as_str_name());
        }
    }
    let unmapped: Vec<_> = (0..=100)
        .filter_map(|number| pb::ReasonCode::try_from(number).ok())
        .filter(|code| *code != pb::ReasonCode::Unspecified && !seen.contains_key(code))
        .collect();
    assert!(unmapped.is_empty(), "no reason maps to {unmapped:?}");
}

fn shown(fields: &[(&str, FieldVisibility)]) -> Option<FieldVisibilities> {
    Some(
        fields
            .iter()
            .map(|(name, visibility)| ((*name).into(), *visibility))
            .collect(),
    )
}

fn step(outcome: StepOutcome) -> ExplainStep {
    ExplainStep {
        stage: "grant",
        outcome,
        detail: format!("{outcome:?}"),
        role_id: "rn_case_manager".into(),
        binding_id: "b-rita".into(),
        permission: "patient.view".into(),
        constraint_id: String::new(),
    }
}

#[test]
fn an_allow_keeps_its_basis_obligations_revision_and_trace() {
    use FieldVisibility::{Full, Mask, Off};
    let decision = Decision {
        allowed: true,
        reason: Reason::Granted,
        message: "granted".into(),
        basis: DecisionBasis {
            role_id: "rn_case_manager",
            binding_id: "b-rita",
            permission: "patient.view",
            scope: Some("related:assignee"),
            constraint_id: "",
            delegation_id: "d-tess-rita",
            source: Some(BindingSource::Delegation),
        },
        obligations: Obligations {
            field_visibility: shown(&[("diagnoses", Full), ("ssn", Mask), ("notes", Off)]),
            step_up: true,
        },
        revision: 42,
    };
    let outcomes = [
        (StepOutcome::Pass, pb::StepOutcome::Pass),
        (StepOutcome::Fail, pb::StepOutcome::Fail),
        (StepOutcome::Skip, pb::StepOutcome::Skip),
        (StepOutcome::Match, pb::StepOutcome::Match),
        (StepOutcome::NoMatch, pb::StepOutcome::NoMatch),
        (StepOutcome::Error, pb::StepOutcome::Error),
    ];
    let trace = outcomes.iter().map(|(outcome, _)| step(*outcome)).collect();
    let response = decision_to_proto(&decision, Some(trace), "req-7");

    assert_eq!(response.decision, pb::Decision::Allow as i32);
    assert_eq!(response.reason, pb::ReasonCode::Granted as i32);
    assert_eq!(response.message, "granted");
    assert_eq!(
        (response.revision, response.request_id.as_str()),
        (42, "req-7")
    );
    let basis = pb::DecisionBasis {
        role_id: "rn_case_manager".into(),
        binding_id: "b-rita".into(),
        permission: "patient.view".into(),
        scope: "related:assignee".into(),
        constraint_id: String::new(),
        delegation_id: "d-tess-rita".into(),
        source: pb::BindingSource::Delegation as i32,
    };
    assert_eq!(response.decided_by, Some(basis));
    let obligations = response.obligations.unwrap_or_default();
    let fields = HashMap::from([
        ("diagnoses".to_owned(), pb::FieldVisibility::Full as i32),
        ("ssn".to_owned(), pb::FieldVisibility::Mask as i32),
        ("notes".to_owned(), pb::FieldVisibility::Off as i32),
    ]);
    assert_eq!(obligations.field_visibility, fields);
    let step_up = obligations.step_up.unwrap_or_default();
    assert!(
        step_up.required && !step_up.reason.is_empty(),
        "{step_up:?}"
    );
    let steps = response.explain.unwrap_or_default().steps;
    let want: Vec<_> = outcomes
        .iter()
        .map(|(outcome, wire)| pb::ExplainStep {
            stage: "grant".into(),
            outcome: *wire as i32,
            detail: format!("{outcome:?}"),
            role_id: "rn_case_manager".into(),
            binding_id: "b-rita".into(),
            permission: "patient.view".into(),
            constraint_id: String::new(),
        })
        .collect();
    assert_eq!(steps, want);
}

#[test]
fn an_allow_without_step_up_or_classified_fields_carries_neither() {
    let mut decision = Decision::deny(Reason::Granted, "granted", 3);
    decision.allowed = true;
    let response = decision_to_proto(&decision, Some(Vec::new()), "");
    let obligations = response.obligations.unwrap_or_default();
    assert!(obligations.field_visibility.is_empty(), "{obligations:?}");
    assert_eq!(obligations.step_up, None);
    // An explanation was asked for: an empty trace is still a trace.
    assert_eq!(
        response.explain,
        Some(pb::ExplainTrace { steps: Vec::new() })
    );
}

#[test]
fn every_binding_source_reaches_the_wire() {
    let sources = [
        (None, pb::BindingSource::Unspecified),
        (Some(BindingSource::Direct), pb::BindingSource::Direct),
        (
            Some(BindingSource::Delegation),
            pb::BindingSource::Delegation,
        ),
        (Some(BindingSource::Elevation), pb::BindingSource::Elevation),
        (
            Some(BindingSource::BreakGlass),
            pb::BindingSource::BreakGlass,
        ),
        (Some(BindingSource::Scim), pb::BindingSource::Scim),
    ];
    for (source, want) in sources {
        let mut decision = Decision::deny(Reason::Granted, "granted", 1);
        decision.allowed = true;
        decision.basis.source = source;
        let response = decision_to_proto(&decision, None, "");
        let got = response.decided_by.map(|basis| basis.source);
        assert_eq!(got, Some(want as i32), "{source:?}");
    }
}

#[test]
fn a_deny_keeps_its_reason_and_constraint_and_shows_nothing() {
    let mut decision = Decision::deny(
        Reason::ForbiddenByConstraint,
        "constraint `no_self_approval` forbids `document.approve`",
        9,
    );
    decision.basis.permission = "document.approve";
    decision.basis.constraint_id = "no_self_approval";
    let response = decision_to_proto(&decision, None, "req-8");
    assert_eq!(response.decision, pb::Decision::Deny as i32);
    assert_eq!(
        response.reason,
        pb::ReasonCode::ForbiddenByConstraint as i32
    );
    assert_eq!(response.message, decision.message);
    assert_eq!(
        (response.revision, response.request_id.as_str()),
        (9, "req-8")
    );
    let basis = pb::DecisionBasis {
        permission: "document.approve".into(),
        constraint_id: "no_self_approval".into(),
        source: pb::BindingSource::Unspecified as i32,
        ..Default::default()
    };
    assert_eq!(response.decided_by, Some(basis));
    let obligations = response.obligations.unwrap_or_default();
    assert!(obligations.field_visibility.is_empty(), "{obligations:?}");
    assert_eq!(obligations.step_up, None);
    assert_eq!(response.explain, None, "no trace was asked for");

    // Every reason but `granted` is a deny on the wire.
    for reason in REASONS
        .into_iter()
        .filter(|reason| *reason != Reason::Granted)
    {
        let response = decision_to_proto(&Decision::deny(reason, "", 1), None, "");
        assert_eq!(response.decision, pb::Decision::Deny as i32, "{reason:?}");
        assert_eq!(
            response.reason,
            reason_to_proto(reason) as i32,
            "{reason:?}"
        );
    }
}

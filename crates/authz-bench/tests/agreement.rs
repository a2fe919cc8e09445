//! Differential test: our engine and cedar-policy, given equivalent policies (the demo tenant
//! plus windowed and location-bound bindings), agree on every decision of a wide universe, and
//! that universe holds enough decisions of each kind for the agreement to mean something. The
//! benchmark's speed comparison is only meaningful because of this.

use authz_bench::differential::differential_report;
use authz_bench::universe::{RESOURCES, differential_policy};
use authz_core::Reason;

#[test]
fn ours_and_cedar_agree_on_every_decision_of_the_differential_universe() {
    let report = differential_report();
    eprintln!("{report}");

    let shown: Vec<String> = report
        .disagreements
        .iter()
        .take(20)
        .map(ToString::to_string)
        .collect();
    assert!(
        report.disagreements.is_empty(),
        "ours and Cedar disagree on {} of {} decisions, first ones:\n{}",
        report.disagreements.len(),
        report.compared(),
        shown.join("\n")
    );

    // Every resource type with actions is asked about, and answered both ways by principals
    // whose answers depend on the question.
    let policy = differential_policy();
    for (resource_type, definition) in &policy.catalog.resource_types {
        if definition.actions.is_empty() {
            continue;
        }
        assert!(
            RESOURCES.iter().any(|(asked, _)| asked == resource_type),
            "no resource of type `{resource_type}` is asked about"
        );
        let tally = report.by_resource_type[resource_type.as_str()];
        assert!(
            tally.allows > 0 && tally.denies > 0,
            "`{resource_type}` is not answered both ways: {tally}"
        );
    }

    // Every grant-stage and principal-stage reason the tenant can produce.
    for reason in [
        Reason::Granted,
        Reason::NoMatchingGrant,
        Reason::OutOfScope,
        Reason::ConditionNotMet,
        Reason::ConditionError,
        Reason::ForbiddenByConstraint,
        Reason::PrincipalInactive,
    ] {
        assert!(report.reason(reason) > 0, "no `{}` decision", reason.code());
    }
    assert!(report.forbid_over_allow > 0, "no forbid over an allow");

    // Location-bound bindings: dozens of each verdict, and allows they granted.
    assert!(
        report.location_bound.allows >= 24 && report.location_bound.denies >= 24,
        "location-bound: {}",
        report.location_bound
    );
    assert!(report.granted_by_location_binding >= 24);

    // Windows: decisions on both sides of every edge, and allows on the inside of each.
    assert!(!report.edges.is_empty(), "no windowed binding");
    for edge in &report.edges {
        let (inside, outside) = match edge.edge {
            "not_before" => (edge.at_edge, edge.just_before),
            _ => (edge.just_before, edge.at_edge),
        };
        assert!(
            inside.allows > 0 && outside.total() > 0,
            "{} {}: inside {inside}, outside {outside}",
            edge.binding,
            edge.edge
        );
    }

    // Trivial principals are a small share, so agreement is not padded.
    assert!(
        report.trivial.total() * 10 < report.compared(),
        "trivial principals: {} of {}",
        report.trivial,
        report.compared()
    );
}

//! In-process engine benchmark: warm checks on the demo tenant, ours against cedar-policy on the same decisions.
//!
//! Everything is built once, outside the timing loops: our snapshot, Cedar's policy set and
//! entities, and both engines' requests (ours is a struct of borrowed references, so building
//! Cedar's `Request` outside the loop too is the fair choice). Timed: `Snapshot::check` (or
//! `explain`) against `Authorizer::is_authorized`, nothing else.
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "a measurement harness, not a service: a broken fixture must stop the run loudly"
)]

use std::hint::black_box;
use std::time::Duration;

use authz_bench::differential::differential_report;
use authz_bench::{CASES, EXPLAIN_CASE, case, demo_cedar_fixture, demo_policy, demo_snapshot};
use criterion::{Criterion, criterion_group, criterion_main};

fn engine(c: &mut Criterion) {
    let policy = demo_policy();
    let snapshot = demo_snapshot(&policy);
    let cedar = demo_cedar_fixture(&policy);

    // The comparison is of equal decisions: first across the differential universe (the demo
    // tenant widened, see `authz_bench::universe`), then for each timed case, with the reason
    // our engine must give.
    let report = differential_report();
    assert!(
        report.disagreements.is_empty(),
        "ours and Cedar disagree: {}",
        report.disagreements[0]
    );
    eprintln!(
        "cross-check: ours and Cedar agree on {} decisions ({} allows)",
        report.compared(),
        report.all.allows
    );

    for case in CASES {
        let ours = case.ours();
        let ours_request = ours.request();
        let cedar_request = case.cedar();

        let decision = snapshot.check(&ours_request);
        assert_eq!(
            decision.reason, case.expected,
            "ours on {}: {}",
            case.name, decision.message
        );
        assert_eq!(
            decision.allowed,
            cedar.allowed(&cedar_request),
            "ours and Cedar disagree on {}",
            case.name
        );

        c.bench_function(&format!("ours/{}", case.name), |b| {
            b.iter(|| snapshot.check(black_box(&ours_request)).allowed);
        });
        c.bench_function(&format!("cedar/{}", case.name), |b| {
            b.iter(|| {
                cedar
                    .authorizer
                    .is_authorized(black_box(&cedar_request), &cedar.policies, &cedar.entities)
                    .decision()
            });
        });
    }

    let explained = case(EXPLAIN_CASE);
    let ours = explained.ours();
    let request = ours.request();
    let (decision, steps) = snapshot.explain(&request);
    assert_eq!(decision.reason, explained.expected);
    assert!(!steps.is_empty());
    c.bench_function(
        &format!(
            "ours/explain/{}",
            explained.name.rsplit('/').next().unwrap_or_default()
        ),
        |b| {
            b.iter(|| snapshot.explain(black_box(&request)).0.allowed);
        },
    );
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = engine
}
criterion_main!(benches);

//! Relationship writes on a large tenant (10,000 users, a million relationships: see
//! `authz_bench::large`): one write applied to the snapshot (`Snapshot::with_relationships`,
//! which copies the shard or two it changes), the cold build of the whole snapshot from
//! streamed relationships, and checks that walk the graph on that tenant.
//!
//! The setup prints the cold build's time and how much the process grew to hold the snapshot
//! (resident set, from `/proc/self/status`).
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "a measurement harness, not a service: a broken fixture must stop the run loudly"
)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use authz_bench::large::{self, RELATIONSHIPS};
use authz_bench::now;
use authz_core::model::Relationship;
use authz_core::{Attributes, CheckRequest, PrincipalRef, Reason, RelationshipChange, ResourceRef};
use criterion::{Criterion, criterion_group, criterion_main};

/// The resident set size in KiB, where the platform reports it.
fn resident_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn relationship(text: &str) -> Relationship {
    Relationship::parse(text).expect("the benchmark's relationship parses")
}

fn deltas(c: &mut Criterion) {
    let policy = large::policy();
    let before = resident_kib();
    let started = Instant::now();
    let snapshot = large::snapshot(&policy);
    let built = started.elapsed();
    let after = resident_kib();
    eprintln!(
        "cold build of {RELATIONSHIPS} relationships: {built:.2?}, {} resources; resident set grew by {} MiB (to {} MiB)",
        snapshot.resource_count(),
        after
            .zip(before)
            .map_or(0, |(a, b)| a.saturating_sub(b) / 1024),
        after.unwrap_or_default() / 1024,
    );

    let writes = [
        // An existing patient gets a fourth assignee: one shard copied.
        ("touch_assignee", true, "patient:p123456#assignee@user:u42"),
        // An existing patient loses one: one shard copied.
        (
            "delete_assignee",
            false,
            &*format!(
                "patient:p123456#assignee@user:u{}",
                large::assignee_of(123_456, 0)
            ),
        ),
        // A new patient at a known location: its shard and the location's.
        (
            "touch_new_patient",
            true,
            "patient:p-new#location@location:l7",
        ),
    ];
    for (name, touch, text) in writes {
        let written = relationship(text);
        let change = if touch {
            RelationshipChange::Touch(&written)
        } else {
            RelationshipChange::Delete(&written)
        };
        let patched = snapshot.with_relationships([change], 2).unwrap();
        let sharing = patched.sharing_with(&snapshot);
        eprintln!(
            "{name}: {} of {} shards copied",
            sharing.graph_shards - sharing.shared_graph_shards,
            sharing.graph_shards
        );
        assert!(sharing.policy && sharing.graph_shards - sharing.shared_graph_shards >= 1);
        c.bench_function(&format!("deltas/one_write/{name}"), |b| {
            b.iter(|| {
                snapshot
                    .with_relationships([black_box(change)], 2)
                    .map(|patched| patched.revision())
            });
        });
    }

    // Checks on the large tenant: a nurse on an assigned patient (`related:assignee`), the
    // branch manager on a patient at their location (`location`, through the patient's
    // container), and the nurse on a patient not assigned to her (a deny).
    let attributes = Attributes::new();
    let assigned = format!("p{}", 123_456);
    let nurse = format!("u{}", large::assignee_of(123_456, 1));
    let checks = [
        (
            "related_allow",
            nurse.as_str(),
            assigned.as_str(),
            Reason::Granted,
        ),
        ("location_allow", "u0", "p1000", Reason::Granted),
        ("related_deny", nurse.as_str(), "p1", Reason::OutOfScope),
    ];
    for (name, principal, patient, expected) in checks {
        let request = CheckRequest {
            principal: PrincipalRef::user(principal),
            action: "view",
            resource: ResourceRef {
                resource_type: "patient",
                id: patient,
                attributes: &attributes,
            },
            context: &attributes,
            on_behalf_of: None,
            now: now(),
        };
        let decision = snapshot.check(&request);
        assert_eq!(decision.reason, expected, "{name}: {}", decision.message);
        c.bench_function(&format!("deltas/check/{name}"), |b| {
            b.iter(|| snapshot.check(black_box(&request)).allowed);
        });
    }
    drop(snapshot);

    let mut cold = c.benchmark_group("deltas/cold_build");
    cold.sample_size(10)
        .measurement_time(Duration::from_secs(20));
    cold.bench_function("1m_relationships", |b| {
        b.iter(|| large::snapshot(black_box(&policy)).resource_count());
    });
    cold.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = deltas
}
criterion_main!(benches);

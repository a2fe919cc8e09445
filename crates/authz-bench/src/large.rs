//! A large tenant for the relationship-write benchmarks: 10,000 users and a million
//! relationships (250,000 patients, each at one of 1,000 locations with three assignees).
//!
//! The relationships are generated one at a time ([`relationships`]), the way a store streams
//! them to a cold load, so the benchmark holds only the snapshot's graph, never a million
//! `Relationship` values at once.

use authz_core::model::{Binding, Principal, Relationship};
use authz_core::{Snapshot, TenantPolicy};

/// Users `u0` … `u9999`.
pub const USERS: usize = 10_000;
/// Patients `p0` … `p249999`.
pub const PATIENTS: usize = 250_000;
/// Locations `l0` … `l999`.
pub const LOCATIONS: usize = 1_000;
/// Assignees per patient.
pub const ASSIGNEES: usize = 3;

/// How many relationships [`relationships`] yields.
pub const RELATIONSHIPS: usize = PATIENTS * (1 + ASSIGNEES);

const POLICY: &str = r#"
tenant: { id: metro-home-health }
catalog:
  resource_types:
    location: { container: true, actions: { view: {} } }
    patient:
      container: true
      relations: { location: { container: location }, assignee: { subject: user } }
      actions: { view: {}, edit: {} }
roles:
  - id: nurse
    role_type: clinician
    grants: [ { permission: patient.view, scope: "related:assignee" } ]
  - id: branch_manager
    role_type: manager
    grants: [ { permission: "*", scope: location } ]
"#;

/// The tenant without its relationships: every user a nurse, and `u0` also manager of `l0`.
pub fn policy() -> TenantPolicy {
    let mut policy = TenantPolicy::from_yaml(POLICY).expect("the large tenant parses");
    for user in 0..USERS {
        let id = format!("u{user}");
        policy.principals.push(Principal {
            id: id.clone(),
            ..Principal::default()
        });
        policy.bindings.push(Binding {
            id: format!("b-{id}"),
            principal: id,
            role: "nurse".to_owned(),
            ..Binding::default()
        });
    }
    policy.bindings.push(Binding {
        id: "b-u0-manager".to_owned(),
        principal: "u0".to_owned(),
        role: "branch_manager".to_owned(),
        locations: vec!["location:l0".to_owned()],
        ..Binding::default()
    });
    policy
}

/// Patient `p`'s location.
pub fn location_of(patient: usize) -> usize {
    patient % LOCATIONS
}

/// Patient `p`'s `n`th assignee (of [`ASSIGNEES`]).
pub fn assignee_of(patient: usize, n: usize) -> usize {
    (patient * 7 + n * 3_331) % USERS
}

fn relationship(
    resource: &str,
    relation: &str,
    subject_type: &str,
    subject: String,
) -> Relationship {
    Relationship {
        resource_type: "patient".to_owned(),
        resource_id: resource.to_owned(),
        relation: relation.to_owned(),
        subject_type: subject_type.to_owned(),
        subject_id: subject,
    }
}

/// Every relationship of the tenant, generated one at a time.
pub fn relationships() -> impl Iterator<Item = Relationship> {
    (0..PATIENTS).flat_map(|patient| {
        let id = format!("p{patient}");
        let located = relationship(
            &id,
            "location",
            "location",
            format!("l{}", location_of(patient)),
        );
        let assigned = (0..ASSIGNEES).map(move |n| {
            relationship(
                &id,
                "assignee",
                "user",
                format!("u{}", assignee_of(patient, n)),
            )
        });
        std::iter::once(located).chain(assigned)
    })
}

/// The tenant compiled with all its relationships at revision 1: the cold load.
pub fn snapshot(policy: &TenantPolicy) -> Snapshot {
    Snapshot::compile_with_relationships(policy, None, relationships(), 1)
        .expect("the large tenant compiles")
}

//! Policy limits from both sides: every kind of id is accepted at [`MAX_ID_LEN`] bytes (and
//! still decides) and refused one byte past it, naming what is wrong; the same for conditions at
//! [`MAX_CONDITION_LEN`] and for the plan's custom role limit; empty ids, ids with whitespace or
//! control characters, and resource types that would make permission names ambiguous are
//! refused.

mod common;

use authz_core::condition::{ConditionError, MAX_CONDITION_LEN};
use authz_core::{MAX_ID_LEN, PolicyError, Snapshot, TenantPolicy};
use common::{Expect, ask, check};

/// A small tenant in which every id is a placeholder, so each case can stretch one of them.
const TEMPLATE: &str = r#"
tenant: { id: TENANT }
catalog:
  resource_types:
    location: { container: true, actions: { view: {} } }
    TYPE:
      relations: { location: { container: location }, RELATION: { subject: user } }
      actions: { ACTION: {} }
roles:
  - id: ROLE
    role_type: clinician
    grants:
      - { permission: TYPE.ACTION, scope: location, condition: "CONDITION" }
principals:
  - { id: PRINCIPAL, sessions: [ { id: SESSION } ], api_keys: [ { id: KEY, scopes: [TYPE.ACTION] } ] }
  - { id: ben }
bindings:
  - { id: BINDING, principal: PRINCIPAL, role: ROLE, locations: [location:north, location:LOCATION] }
relationships:
  - TYPE:RESOURCE#location@location:north
  - TYPE:RESOURCE#RELATION@user:ben
constraints:
  - { id: CONSTRAINT, permissions: [TYPE.ACTION], condition: "context.level > 5" }
delegations:
  - { id: DELEGATION, delegator: PRINCIPAL, delegate: ben, permissions: [TYPE.ACTION] }
"#;

/// Placeholder, its value in the baseline tenant, what a refusal names it, and whether it
/// stands alone as a whole YAML scalar everywhere (so any string can be put in quotes there).
const IDS: [(&str, &str, &str, bool); 13] = [
    ("TENANT", "acme", "tenant", true),
    ("TYPE", "patient", "resource type", false),
    ("RELATION", "assignee", "relation", false),
    ("ACTION", "view", "action", false),
    ("ROLE", "nurse", "role", true),
    ("PRINCIPAL", "ana", "principal", true),
    ("SESSION", "ana-phone", "session", true),
    ("KEY", "ana-key", "api key", true),
    ("BINDING", "b-ana", "binding", true),
    ("LOCATION", "south", "location", false),
    ("RESOURCE", "p1", "relationship part", false),
    ("CONSTRAINT", "calm-days-only", "constraint", true),
    ("DELEGATION", "d-ana-ben", "delegation", true),
];

const CONDITION: &str = "context.level > 1";

/// The template with `placeholder` set to `value` and every other id at its baseline.
fn tenant(placeholder: &str, value: &str, condition: &str) -> Result<TenantPolicy, String> {
    let mut yaml = TEMPLATE.replace(placeholder, value);
    for (other, baseline, _, _) in IDS {
        yaml = yaml.replace(other, baseline);
    }
    TenantPolicy::from_yaml(&yaml.replace("CONDITION", condition)).map_err(|e| e.to_string())
}

fn compile(policy: &TenantPolicy) -> Result<Snapshot, PolicyError> {
    Snapshot::compile(policy, None, 1)
}

#[test]
fn every_id_is_accepted_at_the_limit_and_refused_one_byte_past_it() {
    for (placeholder, _, what, _) in IDS {
        let at_limit = "i".repeat(MAX_ID_LEN);
        let policy = tenant(placeholder, &at_limit, CONDITION).expect("the template parses");
        match compile(&policy) {
            Ok(snapshot) => {
                // A long id works end to end: the principal still gets in.
                let principal = if placeholder == "PRINCIPAL" {
                    &at_limit
                } else {
                    "ana"
                };
                let kind = if placeholder == "TYPE" {
                    &at_limit
                } else {
                    "patient"
                };
                let action = if placeholder == "ACTION" {
                    &at_limit
                } else {
                    "view"
                };
                let resource = if placeholder == "RESOURCE" {
                    &at_limit
                } else {
                    "p1"
                };
                let permission = format!("{kind}.{action}");
                check(
                    &snapshot,
                    &ask(principal, &permission, resource).ctx("level", 2),
                    Expect::Allow,
                );
            }
            Err(error) => panic!("{what} of {MAX_ID_LEN} bytes refused: {error}"),
        }

        let past = "i".repeat(MAX_ID_LEN + 1);
        let policy = tenant(placeholder, &past, CONDITION).expect("the template parses");
        match compile(&policy) {
            Err(PolicyError::InvalidId {
                what: named, id, ..
            }) => {
                assert_eq!((named, id.len()), (what, MAX_ID_LEN + 1), "{placeholder}");
            }
            other => panic!(
                "{what} of {} bytes: expected InvalidId, got {other:?}",
                MAX_ID_LEN + 1
            ),
        }
    }
}

#[test]
fn ids_that_are_empty_or_carry_whitespace_or_control_characters_are_refused() {
    for (placeholder, _, what, _) in IDS.iter().filter(|(_, _, _, alone)| *alone) {
        for bad in ["", "two words", "tab\there", "line\nbreak", "nul\u{0}"] {
            // Quoted, so YAML keeps the characters as they are.
            let policy = tenant(placeholder, &format!("{bad:?}"), CONDITION)
                .unwrap_or_else(|error| panic!("{what} {bad:?}: template does not parse: {error}"));
            match compile(&policy) {
                Err(PolicyError::InvalidId {
                    what: named, id, ..
                }) => {
                    assert_eq!((named, id.as_str()), (*what, bad), "{placeholder}");
                }
                other => panic!("{what} {bad:?}: expected InvalidId, got {other:?}"),
            }
        }
    }
}

#[test]
fn a_condition_is_accepted_at_its_length_limit_and_refused_one_byte_past_it() {
    let padded = |length: usize| {
        // `context.level > 1 || context.note == "…"`, padded to exactly `length` bytes.
        let head = "context.level > 1 || context.note == '";
        let padding = "x".repeat(length - head.len() - 1);
        format!("{head}{padding}'")
    };
    let at_limit = padded(MAX_CONDITION_LEN);
    assert_eq!(at_limit.len(), MAX_CONDITION_LEN);
    let policy = tenant("", "", &at_limit).expect("the template parses");
    let snapshot = compile(&policy).expect("a condition at the limit compiles");
    check(
        &snapshot,
        &ask("ana", "patient.view", "p1").ctx("level", 2),
        Expect::Allow,
    );

    let past = padded(MAX_CONDITION_LEN + 1);
    let policy = tenant("", "", &past).expect("the template parses");
    match compile(&policy) {
        Err(PolicyError::Condition {
            error, location, ..
        }) => {
            assert_eq!(error, ConditionError::TooLong);
            assert_eq!(location, "role `nurse`");
        }
        other => panic!("expected the condition refused as too long, got {other:?}"),
    }
}

#[test]
fn custom_roles_are_accepted_up_to_the_plan_limit_and_refused_past_it() {
    let tenant = |custom: usize| {
        let mut yaml = String::from(
            "tenant: { id: acme }\nentitlements: { custom_role_limit: 2 }\ncatalog:\n  resource_types:\n    patient: { actions: { view: {} } }\nroles:\n  - { id: shipped, role_type: staff, built_in: true }\n",
        );
        for index in 0..custom {
            yaml.push_str(&format!("  - {{ id: custom-{index}, role_type: staff }}\n"));
        }
        TenantPolicy::from_yaml(&yaml).expect("the tenant parses")
    };
    assert!(
        compile(&tenant(2)).is_ok(),
        "two custom roles on a plan of two"
    );
    match compile(&tenant(3)) {
        Err(PolicyError::CustomRoleLimit { count: 3, limit: 2 }) => {}
        other => panic!("three custom roles on a plan of two: {other:?}"),
    }
}

/// `patient.view` names type `patient` and action `view`; `location:north` names a container. A
/// type whose name holds `.` or `:` would make those ambiguous.
#[test]
fn a_resource_type_may_not_contain_a_dot_or_a_colon() {
    for name in ["pa.tient", "pa:tient"] {
        let yaml = format!(
            "tenant: {{ id: acme }}\ncatalog:\n  resource_types:\n    {name:?}: {{ actions: {{ view: {{}} }} }}\n"
        );
        let policy = TenantPolicy::from_yaml(&yaml).expect("the catalog parses");
        match compile(&policy) {
            Err(PolicyError::InvalidId {
                what: "resource type",
                id,
                ..
            }) => assert_eq!(id, name),
            other => panic!("resource type `{name}`: expected InvalidId, got {other:?}"),
        }
    }
}

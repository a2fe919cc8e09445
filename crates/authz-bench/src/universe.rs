//! The differential test's tenant and the questions it asks.
//!
//! The tenant is the demo tenant plus a few principals, bindings and relationships added here,
//! because the demo has no windowed bindings and only one location-bound principal. The
//! universe is every permission of the catalog on a few resources of its type, asked by every
//! principal, in several contexts and at several instants where those can change the answer
//! (see [`questions`]). Principals whose answers do not depend on the question are asked a thin
//! slice only, so agreement is not padded with trivial decisions.

use authz_core::TenantPolicy;
use authz_core::model::{Binding, GrantScope, Principal, PrincipalStatus, Relationship};
use chrono::{DateTime, TimeDelta, Utc};

use crate::{Pairs, Question, demo_policy, now};

/// The resources asked about, by resource type. Those that appear in no relationship are
/// unknown to our engine's snapshot (tenant-wide bindings still reach them); Cedar gets an
/// entity for each, in the tenant root.
pub const RESOURCES: &[(&str, &[&str])] = &[
    ("location", &["north", "south"]),
    ("user", &["rita", "sue"]),
    // p-300 sits in no location.
    ("patient", &["p-100", "p-200", "p-300"]),
    ("care_order", &["co-100", "co-200"]),
    ("schedule", &["agency"]),
    // v-100: Leo's and Hank's; v-101: Tara's and Wren's; v-200: Theo's (in p-200).
    ("visit", &["v-100", "v-101", "v-200"]),
    ("hha_care_plan", &["hcp-100", "hcp-200"]),
    // oa-101 is in no patient; oa-200 has no primary discipline.
    ("oasis", &["oa-100", "oa-101", "oa-200"]),
    // Authors: doc-100 Carla, doc-200 Rita, doc-300 Nora, doc-400 Cole.
    ("document", &["doc-100", "doc-200", "doc-300", "doc-400"]),
    ("claim", &["cl-100", "cl-200"]),
    ("fee_schedule", &["medicare-2027"]),
    ("report", &["ar-aging"]),
    ("payer", &["medicare"]),
    ("pharmacy", &["corner-pharmacy"]),
    ("physician", &["dr-lee"]),
    ("agency", &["sunrise-home-health"]),
];

/// Attributes a caller sends with the resource (the YAML has none; conditions read them),
/// by resource type and id. Cedar gets the same values as attributes of the resource entity.
const RESOURCE_ATTRIBUTES: &[(&str, &str, Pairs<'static>)] = &[
    ("oasis", "oa-100", &[("primary_discipline", "therapy")]),
    ("oasis", "oa-101", &[("primary_discipline", "nursing")]),
];

/// The contexts a question is asked in where a condition reads the context: none (a condition
/// reading `context.section` errors in ours, is false in Cedar), the one the biller's condition
/// wants, and another.
pub const CONTEXTS: &[Pairs<'static>] =
    &[&[], &[("section", "billing")], &[("section", "clinical")]];

/// The attributes of resource `resource_type:id`.
pub fn resource_attributes(resource_type: &str, id: &str) -> Pairs<'static> {
    RESOURCE_ATTRIBUTES
        .iter()
        .find(|(ty, rid, _)| *ty == resource_type && *rid == id)
        .map_or(&[], |(_, _, attributes)| attributes)
}

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap_or_else(|error| panic!("`{text}` is not RFC 3339: {error}"))
        .to_utc()
}

fn principal(id: &str, display_name: &str) -> Principal {
    Principal {
        id: id.to_owned(),
        display_name: display_name.to_owned(),
        ..Principal::default()
    }
}

fn binding(id: &str, principal: &str, role: &str, locations: &[&str]) -> Binding {
    Binding {
        id: id.to_owned(),
        principal: principal.to_owned(),
        role: role.to_owned(),
        locations: locations
            .iter()
            .map(|&location| location.to_owned())
            .collect(),
        ..Binding::default()
    }
}

/// The demo tenant plus what the demo lacks: windowed bindings (Bea's starts, Theo's ended,
/// Wren's is a window at one location, Ina administers the agency for two weeks), a binding on
/// a region (Cole), an administrator bound to one location (Abe), an unlocated patient and
/// more documents with authors, so that forbid-over-allow happens through tenant-wide,
/// location and region bindings alike.
pub fn differential_policy() -> TenantPolicy {
    let mut policy = demo_policy();
    policy.principals.extend([
        principal("bea", "Bea (Biller from December)"),
        principal("theo", "Theo (Therapist, left in November)"),
        principal("cole", "Cole (Clinical Manager for region West)"),
        principal("wren", "Wren (travel RN at North for a week)"),
        principal("abe", "Abe (Branch Administrator at South)"),
        principal("ina", "Ina (interim Agency Administrator for two weeks)"),
    ]);
    policy.bindings.extend([
        Binding {
            not_before: Some(at("2026-12-01T00:00:00Z")),
            ..binding("b-bea", "bea", "biller", &[])
        },
        Binding {
            expires_at: Some(at("2026-11-20T00:00:00Z")),
            ..binding("b-theo", "theo", "therapist", &[])
        },
        binding("b-cole", "cole", "clinical_manager", &["region:west"]),
        Binding {
            not_before: Some(at("2026-11-22T08:00:00Z")),
            expires_at: Some(at("2026-11-29T20:00:00Z")),
            ..binding("b-wren", "wren", "rn_case_manager", &["location:north"])
        },
        binding("b-abe", "abe", "agency_admin", &["location:south"]),
        Binding {
            not_before: Some(at("2026-11-16T00:00:00Z")),
            expires_at: Some(at("2026-12-01T00:00:00Z")),
            ..binding("b-ina", "ina", "agency_admin", &[])
        },
    ]);
    policy.relationships.extend(
        [
            "patient:p-200#assignee@user:theo",
            "visit:v-200#clinician@user:theo",
            "patient:p-100#assignee@user:wren",
            // Assigned, but outside every binding's reach.
            "patient:p-200#assignee@user:wren",
            "patient:p-300#assignee@user:nora",
            "patient:p-300#assignee@user:rita",
            "visit:v-101#clinician@user:wren",
            "hha_care_plan:hcp-200#patient@patient:p-200",
            "oasis:oa-200#patient@patient:p-200",
            "document:doc-300#patient@patient:p-200",
            "document:doc-300#author@user:nora",
            "document:doc-400#patient@patient:p-200",
            "document:doc-400#author@user:cole",
            "claim:cl-200#patient@patient:p-200",
        ]
        .map(|text| Relationship::parse(text).expect("the extra relationship parses")),
    );
    policy
}

/// Whether `binding` is valid at `now` (inclusive start, exclusive end).
pub fn in_window(binding: &Binding, now: DateTime<Utc>) -> bool {
    binding.not_before.is_none_or(|start| start <= now)
        && binding.expires_at.is_none_or(|end| now < end)
}

/// Whether `binding` has a validity window.
pub fn windowed(binding: &Binding) -> bool {
    binding.not_before.is_some() || binding.expires_at.is_some()
}

/// [`NOW`](crate::NOW), and one second before and exactly at every window edge of `bindings`.
pub fn instants<'a>(bindings: impl IntoIterator<Item = &'a Binding>) -> Vec<DateTime<Utc>> {
    let mut instants = vec![now()];
    for edge in bindings
        .into_iter()
        .flat_map(|binding| [binding.not_before, binding.expires_at])
        .flatten()
    {
        instants.extend([edge - TimeDelta::seconds(1), edge]);
    }
    instants.sort();
    instants.dedup();
    instants
}

/// Whether a condition that could decide `permission` (a grant's or a constraint's) reads
/// `variable` (`context`, `now`). Wildcard patterns and categories count for every permission:
/// erring this way only asks more questions.
fn condition_reads(policy: &TenantPolicy, permission: &str, variable: &str) -> bool {
    let covers = |pattern: &str| pattern.contains('*') || pattern == permission;
    let reads = |condition: &Option<String>| {
        condition.as_deref().is_some_and(|text| {
            text.split(|c: char| !(c.is_alphanumeric() || c == '_'))
                .any(|word| word == variable)
        })
    };
    policy
        .roles
        .iter()
        .flat_map(|role| &role.grants)
        .any(|grant| reads(&grant.condition) && grant.permission_names().any(covers))
        || policy.constraints.iter().any(|constraint| {
            reads(&constraint.condition)
                && (!constraint.categories.is_empty()
                    || constraint.permissions.iter().any(|pattern| covers(pattern)))
        })
}

/// Whether every answer to `principal` is known without looking at the question: inactive or
/// unbound (always deny), or bound tenant-wide at all times to a role granting `*` unscoped
/// and unconditionally (always allow, but for constraints).
pub fn trivial(policy: &TenantPolicy, principal: &Principal) -> bool {
    let mut bindings = policy
        .bindings
        .iter()
        .filter(|binding| binding.principal == principal.id)
        .peekable();
    if principal.status != PrincipalStatus::Active || bindings.peek().is_none() {
        return true;
    }
    bindings.any(|binding| {
        binding.locations.is_empty()
            && !windowed(binding)
            && policy.roles.iter().any(|role| {
                role.id == binding.role
                    && role.grants.iter().any(|grant| {
                        grant.permission_names().any(|name| name == "*")
                            && grant.scope == GrantScope::Tenant
                            && grant.condition.is_none()
                    })
            })
    })
}

/// Every question of the universe: each principal × every action of the catalog on each of
/// [`RESOURCES`] of its type × contexts × instants.
///
/// Cedar in a debug build takes ~0.2 ms a decision, so contexts and instants vary only where
/// they can change an answer (the rest would repeat the same decision): all [`CONTEXTS`] for
/// permissions some condition reads `context` for, else none; [`NOW`](crate::NOW) and either
/// side of the principal's own window edges, or of every edge for permissions some condition
/// reads `now` for. Trivial principals are asked with no context at [`NOW`](crate::NOW) only.
pub fn questions(policy: &TenantPolicy) -> Vec<Question<'_>> {
    let every_instant = instants(&policy.bindings);
    let mut questions = Vec::new();
    for principal in &policy.principals {
        let trivial = trivial(policy, principal);
        let own_instants = if trivial {
            vec![now()]
        } else {
            instants(
                policy
                    .bindings
                    .iter()
                    .filter(|binding| binding.principal == principal.id),
            )
        };
        for (resource_type, ids) in RESOURCES {
            let actions = &policy
                .catalog
                .resource_types
                .get(*resource_type)
                .unwrap_or_else(|| panic!("`{resource_type}` is not in the catalog"))
                .actions;
            for action in actions.keys() {
                let permission = format!("{resource_type}.{action}");
                let contexts = if !trivial && condition_reads(policy, &permission, "context") {
                    CONTEXTS
                } else {
                    &CONTEXTS[..1]
                };
                let instants = if !trivial && condition_reads(policy, &permission, "now") {
                    &every_instant
                } else {
                    &own_instants
                };
                for resource_id in *ids {
                    for context in contexts {
                        for now in instants {
                            questions.push(Question {
                                principal_kind: principal.kind,
                                principal: &principal.id,
                                resource_type,
                                action,
                                resource_id,
                                context,
                                now: *now,
                            });
                        }
                    }
                }
            }
        }
    }
    questions
}

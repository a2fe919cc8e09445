//! Fixtures shared by the engine benchmarks: the demo tenant's snapshot, the benchmark cases, and the same decisions expressed in Cedar.
//!
//! Both engines decide from the one source of truth, `deploy/examples/home-health.yaml`: our
//! snapshot compiles it, and [`cedar_fixture`] derives Cedar entities from its bindings and
//! relationships, with the hand-written policies of `cedar/home-health.cedar`. [`cross_check`]
//! proves the two agree on every request of a small universe before anything is timed.
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "a measurement harness, not a service: a broken fixture must stop the run loudly"
)]

use std::collections::{BTreeMap, HashMap, HashSet};
use std::str::FromStr;

use authz_core::model::{PrincipalKind, PrincipalStatus};
use authz_core::{
    AttrValue, Attributes, CheckRequest, PrincipalRef, Reason, ResourceRef, Snapshot, TenantPolicy,
};
use cedar_policy::{
    Authorizer, Context, Decision, Entities, Entity, EntityId, EntityTypeName, EntityUid,
    PolicySet, Request, RestrictedExpression,
};
use chrono::{DateTime, Utc};

/// The demo tenant, as `authz-server` loads it.
pub const DEMO_TENANT_YAML: &str = include_str!("../../../deploy/examples/home-health.yaml");

/// The Cedar rendering of the parts of the demo tenant the benchmarks decide.
pub const CEDAR_POLICIES: &str = include_str!("../cedar/home-health.cedar");

/// The instant every check is made at.
pub const NOW: &str = "2026-11-25T12:00:00Z";

/// String attributes: `(name, value)` pairs.
type Pairs = &'static [(&'static str, &'static str)];

/// Attributes a caller sends with the resource (the YAML has none; conditions read them),
/// by resource type and id. Cedar gets the same values as attributes of the resource entity.
const RESOURCE_ATTRIBUTES: &[(&str, &str, Pairs)] = &[
    ("oasis", "oa-100", &[("primary_discipline", "therapy")]),
    ("oasis", "oa-101", &[("primary_discipline", "nursing")]),
];

/// One timed decision, run through both engines under `ours/{name}` and `cedar/{name}`.
#[derive(Debug, Clone, Copy)]
pub struct Case {
    pub name: &'static str,
    pub principal: &'static str,
    pub resource_type: &'static str,
    pub action: &'static str,
    pub resource_id: &'static str,
    pub context: &'static [(&'static str, &'static str)],
    /// What our engine must answer; Cedar must agree on allow/deny.
    pub expected: Reason,
}

/// The benchmark cases, on the demo tenant.
pub const CASES: &[Case] = &[
    Case {
        name: "no_condition/allow_tenant_scope",
        principal: "ada",
        resource_type: "patient",
        action: "view",
        resource_id: "p-100",
        context: &[],
        expected: Reason::Granted,
    },
    Case {
        name: "no_condition/allow_related",
        principal: "rita",
        resource_type: "patient",
        action: "view",
        resource_id: "p-100",
        context: &[],
        expected: Reason::Granted,
    },
    Case {
        name: "no_condition/deny_out_of_scope",
        principal: "rita",
        resource_type: "patient",
        action: "view",
        resource_id: "p-200",
        context: &[],
        expected: Reason::OutOfScope,
    },
    Case {
        name: "no_condition/deny_constraint",
        principal: "carla",
        resource_type: "document",
        action: "approve",
        resource_id: "doc-100",
        context: &[],
        expected: Reason::ForbiddenByConstraint,
    },
    Case {
        name: "condition/allow",
        principal: "bo",
        resource_type: "patient",
        action: "edit",
        resource_id: "p-100",
        context: &[("section", "billing")],
        expected: Reason::Granted,
    },
    Case {
        name: "condition/deny",
        principal: "bo",
        resource_type: "patient",
        action: "edit",
        resource_id: "p-100",
        context: &[("section", "clinical")],
        expected: Reason::ConditionNotMet,
    },
];

/// The case the `ours/explain/...` benchmark explains.
pub const EXPLAIN_CASE: &str = "no_condition/allow_related";

/// The case named `name`.
pub fn case(name: &str) -> &'static Case {
    CASES
        .iter()
        .find(|case| case.name == name)
        .unwrap_or_else(|| panic!("no benchmark case `{name}`"))
}

/// The parsed demo tenant.
pub fn demo_policy() -> TenantPolicy {
    TenantPolicy::from_yaml(DEMO_TENANT_YAML).expect("the demo tenant parses")
}

/// The demo tenant compiled at revision 1, with no platform tenant.
pub fn demo_snapshot(policy: &TenantPolicy) -> Snapshot {
    Snapshot::compile(policy, None, 1).expect("the demo tenant compiles")
}

/// [`NOW`] as a timestamp.
pub fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(NOW)
        .expect("NOW is RFC 3339")
        .to_utc()
}

fn string_attributes(pairs: &[(&str, &str)]) -> Attributes {
    pairs
        .iter()
        .map(|(name, value)| ((*name).to_owned(), AttrValue::from(*value)))
        .collect()
}

fn resource_attributes(resource_type: &str, id: &str) -> Pairs {
    RESOURCE_ATTRIBUTES
        .iter()
        .find(|(ty, rid, _)| *ty == resource_type && *rid == id)
        .map_or(&[], |(_, _, attributes)| attributes)
}

/// The owned inputs of one of our checks; [`OursInput::request`] borrows them, as a caller
/// (the gRPC edge) would after decoding a request.
#[derive(Debug, Clone)]
pub struct OursInput {
    pub principal: String,
    pub resource_type: String,
    pub action: String,
    pub resource_id: String,
    pub attributes: Attributes,
    pub context: Attributes,
    pub now: DateTime<Utc>,
}

impl OursInput {
    pub fn new(
        principal: &str,
        resource_type: &str,
        action: &str,
        resource_id: &str,
        context: &[(&str, &str)],
    ) -> Self {
        OursInput {
            principal: principal.to_owned(),
            resource_type: resource_type.to_owned(),
            action: action.to_owned(),
            resource_id: resource_id.to_owned(),
            attributes: string_attributes(resource_attributes(resource_type, resource_id)),
            context: string_attributes(context),
            now: now(),
        }
    }

    /// The check: a struct of borrowed references, no allocation.
    pub fn request(&self) -> CheckRequest<'_> {
        CheckRequest {
            principal: PrincipalRef::user(&self.principal),
            action: &self.action,
            resource: ResourceRef {
                resource_type: &self.resource_type,
                id: &self.resource_id,
                attributes: &self.attributes,
            },
            context: &self.context,
            on_behalf_of: None,
            now: self.now,
        }
    }
}

impl Case {
    pub fn ours(&self) -> OursInput {
        OursInput::new(
            self.principal,
            self.resource_type,
            self.action,
            self.resource_id,
            self.context,
        )
    }

    pub fn cedar(&self) -> Request {
        cedar_request(
            self.principal,
            self.resource_type,
            self.action,
            self.resource_id,
            self.context,
        )
    }
}

/// `care_order` → `CareOrder`: our resource type as a Cedar entity type name.
pub fn cedar_type_name(resource_type: &str) -> String {
    resource_type
        .split('_')
        .map(|word| {
            let mut chars = word.chars();
            chars.next().map_or_else(String::new, |first| {
                first.to_ascii_uppercase().to_string() + chars.as_str()
            })
        })
        .collect()
}

fn uid(entity_type: &str, id: &str) -> EntityUid {
    let type_name = EntityTypeName::from_str(entity_type)
        .unwrap_or_else(|error| panic!("`{entity_type}` is not a Cedar type name: {error}"));
    EntityUid::from_type_name_and_id(type_name, EntityId::new(id))
}

fn resource_uid(resource_type: &str, id: &str) -> EntityUid {
    uid(&cedar_type_name(resource_type), id)
}

/// The Cedar request for the same question; `Action::"patient.view"` for `view` on `patient`.
pub fn cedar_request(
    principal: &str,
    resource_type: &str,
    action: &str,
    resource_id: &str,
    context: &[(&str, &str)],
) -> Request {
    let context = Context::from_pairs(context.iter().map(|(name, value)| {
        (
            (*name).to_owned(),
            RestrictedExpression::new_string((*value).to_owned()),
        )
    }))
    .expect("the context builds");
    Request::new(
        uid("User", principal),
        uid("Action", &format!("{resource_type}.{action}")),
        resource_uid(resource_type, resource_id),
        context,
        None,
    )
    .expect("the request builds without a schema")
}

/// Cedar's side, built once: the policies, the entities and the authorizer.
#[derive(Debug)]
pub struct CedarFixture {
    pub authorizer: Authorizer,
    pub policies: PolicySet,
    pub entities: Entities,
}

impl CedarFixture {
    /// Cedar's verdict; evaluation errors would make a decision incomparable, so none is allowed.
    pub fn allowed(&self, request: &Request) -> bool {
        let response = self
            .authorizer
            .is_authorized(request, &self.policies, &self.entities);
        let errors: Vec<String> = response
            .diagnostics()
            .errors()
            .map(ToString::to_string)
            .collect();
        assert!(errors.is_empty(), "Cedar errors on {request}: {errors:?}");
        response.decision() == Decision::Allow
    }
}

/// Whether `principal` is modelled in Cedar: users only, and not those with location-bound
/// bindings (Cedar here has no per-location roles).
fn modelled(policy: &TenantPolicy, principal: &str) -> bool {
    policy
        .principals
        .iter()
        .any(|p| p.id == principal && p.kind == PrincipalKind::User)
        && !policy
            .bindings
            .iter()
            .any(|b| b.principal == principal && !b.locations.is_empty())
}

/// Cedar entities derived from the tenant: users in their roles (active users, tenant-wide
/// bindings), containers as parents, `author` as a single `User` attribute, every other
/// subject relation as a `Set<User>` attribute named in the plural (`assignees`), plus
/// [`RESOURCE_ATTRIBUTES`].
pub fn cedar_entities(policy: &TenantPolicy) -> Entities {
    let mut entities = Vec::new();

    let mut roles: HashSet<&str> = HashSet::new();
    for principal in &policy.principals {
        if !modelled(policy, &principal.id) {
            continue;
        }
        let parents: HashSet<EntityUid> = if principal.status == PrincipalStatus::Active {
            policy
                .bindings
                .iter()
                .filter(|b| b.principal == principal.id)
                .map(|b| {
                    roles.insert(&b.role);
                    uid("Role", &b.role)
                })
                .collect()
        } else {
            HashSet::new()
        };
        entities.push(Entity::new_no_attrs(uid("User", &principal.id), parents));
    }
    entities.extend(
        roles
            .into_iter()
            .map(|role| Entity::new_no_attrs(uid("Role", role), HashSet::new())),
    );

    // Resources: (type, id) -> (parents, attributes).
    type Node = (HashSet<EntityUid>, BTreeMap<String, Vec<EntityUid>>);
    let mut nodes: BTreeMap<(String, String), Node> = BTreeMap::new();
    for (type_name, resource_type) in &policy.catalog.resource_types {
        let subject_relations: Vec<&String> = resource_type
            .relations
            .iter()
            .filter(|(name, relation)| relation.subject.is_some() && *name != "author")
            .map(|(name, _)| name)
            .collect();
        for relationship in policy
            .relationships
            .iter()
            .filter(|r| r.resource_type == *type_name)
        {
            let (parents, attributes) = nodes
                .entry((type_name.clone(), relationship.resource_id.clone()))
                .or_default();
            // Every entity of the type carries each set attribute, empty or not.
            for relation in &subject_relations {
                attributes.entry(format!("{relation}s")).or_default();
            }
            let relation = resource_type
                .relations
                .get(&relationship.relation)
                .unwrap_or_else(|| panic!("relation `{}` is undeclared", relationship.relation));
            if relation.container.is_some() {
                parents.insert(resource_uid(
                    &relationship.subject_type,
                    &relationship.subject_id,
                ));
            } else {
                let name = if relationship.relation == "author" {
                    "author".to_owned()
                } else {
                    format!("{}s", relationship.relation)
                };
                attributes
                    .entry(name)
                    .or_default()
                    .push(uid("User", &relationship.subject_id));
            }
        }
    }
    for (resource_type, id, _) in RESOURCE_ATTRIBUTES {
        nodes
            .entry(((*resource_type).to_owned(), (*id).to_owned()))
            .or_default();
    }
    for ((resource_type, id), (parents, relations)) in nodes {
        let mut attributes: HashMap<String, RestrictedExpression> = relations
            .into_iter()
            .map(|(name, subjects)| {
                let value = if name == "author" {
                    assert_eq!(subjects.len(), 1, "{resource_type}:{id} has one author");
                    RestrictedExpression::new_entity_uid(subjects[0].clone())
                } else {
                    RestrictedExpression::new_set(
                        subjects
                            .into_iter()
                            .map(RestrictedExpression::new_entity_uid),
                    )
                };
                (name, value)
            })
            .collect();
        for (name, value) in resource_attributes(&resource_type, &id) {
            attributes.insert(
                (*name).to_owned(),
                RestrictedExpression::new_string((*value).to_owned()),
            );
        }
        entities.push(
            Entity::new(resource_uid(&resource_type, &id), attributes, parents)
                .expect("the entity's attributes evaluate"),
        );
    }
    Entities::from_entities(entities, None).expect("the entities form a store")
}

/// The policies of [`CEDAR_POLICIES`] and the entities of [`cedar_entities`].
pub fn cedar_fixture(policy: &TenantPolicy) -> CedarFixture {
    CedarFixture {
        authorizer: Authorizer::new(),
        policies: PolicySet::from_str(CEDAR_POLICIES).expect("the Cedar policies parse"),
        entities: cedar_entities(policy),
    }
}

/// Decides every request of a small universe with both engines and panics on the first
/// disagreement: every modelled user × `patient.{view,create,edit,delete}` on p-100 and p-200,
/// `document.{review,approve,return}` on doc-100 and doc-200, `oasis.complete` on oa-100
/// (therapy) and oa-101 (nursing), each with no context, `section=billing` and
/// `section=clinical`. Returns how many decisions were compared and how many were allows.
pub fn cross_check(
    policy: &TenantPolicy,
    snapshot: &Snapshot,
    cedar: &CedarFixture,
) -> (usize, usize) {
    const QUESTIONS: &[(&str, &[&str], &[&str])] = &[
        (
            "patient",
            &["view", "create", "edit", "delete"],
            &["p-100", "p-200"],
        ),
        (
            "document",
            &["review", "approve", "return"],
            &["doc-100", "doc-200"],
        ),
        ("oasis", &["complete"], &["oa-100", "oa-101"]),
    ];
    const CONTEXTS: &[&[(&str, &str)]] =
        &[&[], &[("section", "billing")], &[("section", "clinical")]];
    let mut compared = 0;
    let mut allowed = 0;
    for principal in policy.principals.iter().filter(|p| modelled(policy, &p.id)) {
        for (resource_type, actions, ids) in QUESTIONS {
            for action in *actions {
                for id in *ids {
                    for context in CONTEXTS {
                        let ours =
                            OursInput::new(&principal.id, resource_type, action, id, context);
                        let decision = snapshot.check(&ours.request());
                        let theirs = cedar.allowed(&cedar_request(
                            &principal.id,
                            resource_type,
                            action,
                            id,
                            context,
                        ));
                        assert_eq!(
                            decision.allowed, theirs,
                            "ours ({:?}: {}) and Cedar disagree on {} {resource_type}.{action} {id} {context:?}",
                            decision.reason, decision.message, principal.id
                        );
                        compared += 1;
                        allowed += usize::from(theirs);
                    }
                }
            }
        }
    }
    (compared, allowed)
}

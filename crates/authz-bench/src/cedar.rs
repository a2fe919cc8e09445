//! Cedar's side of the comparison: entities derived from a tenant's data, the hand-written
//! templates of `cedar/home-health.cedar` linked once per binding, and the requests.
//!
//! Nothing here reads our engine: only the parsed policy file (principals, bindings,
//! relationships, the catalog's relation definitions) and the universe's resources. The
//! mapping from our model to Cedar is documented at the top of the `.cedar` file.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::str::FromStr;

use authz_core::TenantPolicy;
use authz_core::model::{Binding, PrincipalKind, PrincipalStatus, split_typed_ref};
use cedar_policy::{
    Authorizer, Context, Decision, Entities, Entity, EntityId, EntityTypeName, EntityUid, PolicyId,
    PolicySet, Request, RestrictedExpression, SlotId, Template,
};
use chrono::{DateTime, SecondsFormat, Utc};

use crate::Question;
use crate::universe::resource_attributes;

/// The hand-written Cedar policies and per-role templates for the demo tenant.
pub const CEDAR_POLICIES: &str = include_str!("../cedar/home-health.cedar");

/// The entity type of the tenant root that every top-level resource and container sits in.
const TENANT_ROOT_TYPE: &str = "Tenant";

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

fn principal_uid(kind: PrincipalKind, id: &str) -> EntityUid {
    uid(&cedar_type_name(kind.as_str()), id)
}

fn tenant_root(policy: &TenantPolicy) -> EntityUid {
    uid(TENANT_ROOT_TYPE, &policy.tenant.id)
}

/// `assignee` → (`AssigneeOf`, `assignee_of`): the group entity type of a subject relation and
/// the principal attribute naming the principal's group.
fn relation_group(relation: &str) -> (String, String) {
    (
        format!("{}Of", cedar_type_name(relation)),
        format!("{relation}_of"),
    )
}

/// An instant as Cedar's `datetime` extension reads it.
fn cedar_datetime(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// A resource or principal being assembled into an entity.
#[derive(Default)]
struct Node {
    attributes: BTreeMap<String, RestrictedExpression>,
    /// The containers it sits in; a node in none sits directly in the tenant root.
    containers: BTreeSet<EntityUid>,
    /// The relation groups of the principals related to it.
    groups: BTreeSet<EntityUid>,
}

/// Cedar entities for `policy`'s data plus the `resources` a universe asks about: principals
/// with `active` and their relation groups, resources in their containers (or the tenant root)
/// and in the groups of the principals related to them, and the universe's resource
/// attributes. A user principal is also the resource `user:<id>`, so it sits in the root too.
pub fn cedar_entities<'a>(
    policy: &TenantPolicy,
    resources: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Entities {
    let root = tenant_root(policy);
    let mut nodes: BTreeMap<EntityUid, Node> = BTreeMap::new();
    let mut groups: BTreeSet<EntityUid> = BTreeSet::new();

    // Subject relations by name, with the principal kind that holds them (`assignee` → user).
    let subject_relations: BTreeMap<&str, PrincipalKind> = policy
        .catalog
        .resource_types
        .values()
        .flat_map(|resource_type| &resource_type.relations)
        .filter_map(|(name, relation)| relation.subject.map(|kind| (name.as_str(), kind)))
        .collect();

    for principal in &policy.principals {
        let node = nodes
            .entry(principal_uid(principal.kind, &principal.id))
            .or_default();
        node.attributes.insert(
            "active".to_owned(),
            RestrictedExpression::new_bool(principal.status == PrincipalStatus::Active),
        );
        for (relation, kind) in &subject_relations {
            if *kind == principal.kind {
                let (group_type, attribute) = relation_group(relation);
                node.attributes.insert(
                    attribute,
                    RestrictedExpression::new_entity_uid(uid(&group_type, &principal.id)),
                );
            }
        }
    }

    for relationship in &policy.relationships {
        let definition = policy
            .catalog
            .resource_types
            .get(&relationship.resource_type)
            .and_then(|resource_type| resource_type.relations.get(&relationship.relation))
            .unwrap_or_else(|| panic!("relationship `{relationship}` is undeclared"));
        let resource = resource_uid(&relationship.resource_type, &relationship.resource_id);
        if definition.container.is_some() {
            let container = resource_uid(&relationship.subject_type, &relationship.subject_id);
            nodes.entry(container.clone()).or_default();
            nodes
                .entry(resource)
                .or_default()
                .containers
                .insert(container);
        } else {
            let (group_type, _) = relation_group(&relationship.relation);
            let group = uid(&group_type, &relationship.subject_id);
            groups.insert(group.clone());
            nodes.entry(resource).or_default().groups.insert(group);
        }
    }

    for location in policy
        .bindings
        .iter()
        .flat_map(|binding| &binding.locations)
    {
        let (resource_type, id) = split_typed_ref(location)
            .unwrap_or_else(|| panic!("binding location `{location}` is not `type:id`"));
        nodes.entry(resource_uid(resource_type, id)).or_default();
    }
    for (resource_type, id) in resources {
        let node = nodes.entry(resource_uid(resource_type, id)).or_default();
        for (name, value) in resource_attributes(resource_type, id) {
            node.attributes.insert(
                (*name).to_owned(),
                RestrictedExpression::new_string((*value).to_owned()),
            );
        }
    }

    let mut entities: Vec<Entity> = Vec::with_capacity(1 + groups.len() + nodes.len());
    entities.push(Entity::new_no_attrs(root.clone(), HashSet::new()));
    // A group is not a resource: it sits in nothing, not even the tenant root.
    entities.extend(
        groups
            .into_iter()
            .map(|group| Entity::new_no_attrs(group, HashSet::new())),
    );
    for (entity, node) in nodes {
        let mut parents: HashSet<EntityUid> = node.groups.into_iter().collect();
        if node.containers.is_empty() {
            parents.insert(root.clone());
        }
        parents.extend(node.containers);
        entities.push(
            Entity::new(entity, node.attributes.into_iter().collect(), parents)
                .expect("the entity's attributes evaluate"),
        );
    }
    Entities::from_entities(entities, None).expect("the entities form a store")
}

/// The window clause a windowed binding's links get; `None` for a binding valid at all times.
fn window_clause(binding: &Binding) -> Option<String> {
    let bounds: Vec<String> = [
        binding
            .not_before
            .map(|at| format!("context.now >= datetime(\"{}\")", cedar_datetime(at))),
        binding
            .expires_at
            .map(|at| format!("context.now < datetime(\"{}\")", cedar_datetime(at))),
    ]
    .into_iter()
    .flatten()
    .collect();
    (!bounds.is_empty()).then(|| format!("when {{ {} }}", bounds.join(" && ")))
}

/// The static policies of [`CEDAR_POLICIES`], and its templates linked once per binding of
/// `policy` and reach (see the mapping at the top of the file).
pub fn cedar_policies(policy: &TenantPolicy) -> PolicySet {
    let source = PolicySet::from_str(CEDAR_POLICIES).expect("the Cedar policies parse");
    // Policies are named by their @id, so Cedar's diagnostics say which one decided.
    let name = |annotation: Option<&str>, id: &PolicyId| -> PolicyId {
        PolicyId::new(annotation.unwrap_or_else(|| panic!("policy {id} has no @id")))
    };
    let mut policies = PolicySet::new();
    for static_policy in source.policies() {
        let id = name(static_policy.annotation("id"), static_policy.id());
        policies
            .add(static_policy.new_id(id))
            .expect("policy ids are distinct");
    }
    let mut templates_of: BTreeMap<&str, Vec<Template>> = BTreeMap::new();
    for template in source.templates() {
        let id = name(template.annotation("id"), template.id());
        let role = template
            .annotation("role")
            .unwrap_or_else(|| panic!("template `{id}` has no @role"));
        let template = template.new_id(id);
        policies
            .add_template(template.clone())
            .expect("policy ids are distinct");
        templates_of.entry(role).or_default().push(template);
    }

    let root = tenant_root(policy);
    for binding in &policy.bindings {
        let principal = policy
            .principals
            .iter()
            .find(|principal| principal.id == binding.principal)
            .unwrap_or_else(|| panic!("binding `{}` names no principal", binding.id));
        let principal = principal_uid(principal.kind, &principal.id);
        let reaches: Vec<EntityUid> = if binding.locations.is_empty() {
            vec![root.clone()]
        } else {
            binding
                .locations
                .iter()
                .map(|location| {
                    let (resource_type, id) = split_typed_ref(location)
                        .unwrap_or_else(|| panic!("location `{location}` is not `type:id`"));
                    resource_uid(resource_type, id)
                })
                .collect()
        };
        let templates = templates_of
            .get(binding.role.as_str())
            .unwrap_or_else(|| panic!("role `{}` has no Cedar templates", binding.role));
        for template in templates {
            let template_id = match window_clause(binding) {
                None => template.id().clone(),
                Some(window) => {
                    // A policy's text always ends in `;`; the window is one more clause.
                    let text = template.to_cedar();
                    let body = text
                        .trim_end()
                        .strip_suffix(';')
                        .expect("a Cedar policy ends in `;`");
                    let id = PolicyId::new(format!("{}@{}", template.id(), binding.id));
                    let windowed = Template::parse(Some(id.clone()), format!("{body}\n{window};"))
                        .expect("the windowed template parses");
                    policies
                        .add_template(windowed)
                        .expect("binding ids are distinct");
                    id
                }
            };
            for reach in &reaches {
                policies
                    .link(
                        template_id.clone(),
                        PolicyId::new(format!("{}/{}/{reach}", binding.id, template.id())),
                        HashMap::from([
                            (SlotId::principal(), principal.clone()),
                            (SlotId::resource(), reach.clone()),
                        ]),
                    )
                    .expect("every template has ?principal and ?resource slots");
            }
        }
    }
    policies
}

/// Cedar's side, built once: the policies, the entities and the authorizer.
#[derive(Debug)]
pub struct CedarFixture {
    pub authorizer: Authorizer,
    pub policies: PolicySet,
    pub entities: Entities,
}

impl CedarFixture {
    /// The policies of [`cedar_policies`] and the entities of [`cedar_entities`].
    pub fn new<'a>(
        policy: &TenantPolicy,
        resources: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Self {
        CedarFixture {
            authorizer: Authorizer::new(),
            policies: cedar_policies(policy),
            entities: cedar_entities(policy, resources),
        }
    }

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

/// The Cedar context of a question: its string pairs plus `now`.
pub fn cedar_context(pairs: &[(&str, &str)], now: DateTime<Utc>) -> Context {
    Context::from_pairs(
        pairs
            .iter()
            .map(|(name, value)| {
                (
                    (*name).to_owned(),
                    RestrictedExpression::new_string((*value).to_owned()),
                )
            })
            .chain([(
                "now".to_owned(),
                RestrictedExpression::new_datetime(cedar_datetime(now)),
            )]),
    )
    .expect("the context builds")
}

/// The Cedar request for `question` with an already built `context`;
/// `Action::"patient.view"` for `view` on `patient`.
pub fn cedar_request_in(question: &Question<'_>, context: Context) -> Request {
    Request::new(
        principal_uid(question.principal_kind, question.principal),
        uid(
            "Action",
            &format!("{}.{}", question.resource_type, question.action),
        ),
        resource_uid(question.resource_type, question.resource_id),
        context,
        None,
    )
    .expect("the request builds without a schema")
}

/// The Cedar request for `question`.
pub fn cedar_request(question: &Question<'_>) -> Request {
    cedar_request_in(question, cedar_context(question.context, question.now))
}

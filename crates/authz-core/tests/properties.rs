//! Properties of the engine over random small tenants.
//!
//! A generated tenant has one or two resource types (`doc`, `file`, each with a `pii` field
//! `secret`) with one to four actions each, a container type `location` (`loc-a`, `loc-b`), one
//! to three roles (later ones may inherit from earlier ones and remove permissions) with random
//! grants (scope tenant, location or `related:assignee`, optionally `context.level > N`,
//! optionally showing `pii` masked or in full), one to four principals (some suspended) with
//! random bindings (tenant-wide or at one location, optionally within a time window), random
//! relationships (resources in locations, assignees, some naming principals that do not exist),
//! optional forbid constraints and optional delegations. Requests range over those ids and over
//! ids that do not exist, some on behalf of another principal. Policies are built as values, not
//! YAML.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use authz_core::model::{
    Action, Binding, Catalog, Constraint, Delegation, Grant, GrantScope, Principal,
    PrincipalStatus, RelationDef, Relationship, ResourceType, Role, SensitivityClass, Tenant,
};
use authz_core::{Decision, FieldVisibility, PrincipalKind, Snapshot, TenantPolicy};
use chrono::{DateTime, TimeDelta, Utc};
use common::{Ask, ask, decide, explain, outcome, t0};
use proptest::prelude::*;
use proptest::sample::{Index, select, subsequence};
use proptest::test_runner::Config;

const TYPES: [&str; 2] = ["doc", "file"];
const ACTIONS: [&str; 4] = ["read", "write", "share", "delete"];
const LOCATIONS: [&str; 2] = ["loc-a", "loc-b"];
const ROLE_TYPES: [&str; 3] = ["staff", "contractor", "auditor"];
/// What grants, removals, constraints and delegations may name: exact permissions (dropped
/// when the generated catalog lacks them) and patterns.
const PERMISSIONS: [&str; 12] = [
    "doc.read",
    "doc.write",
    "doc.share",
    "doc.delete",
    "file.read",
    "file.write",
    "file.share",
    "file.delete",
    "location.view",
    "doc.*",
    "*.read",
    "*",
];
/// Requests also ask about a type and an action no catalog has.
const REQUEST_TYPES: [&str; 4] = ["doc", "file", "location", "ghost"];
const REQUEST_ACTIONS: [&str; 6] = ["read", "write", "share", "delete", "view", "teleport"];
/// Resources per generated type: `r0`..`r3`; requests also name `r4`, which is nowhere.
const RESOURCES_PER_TYPE: usize = 4;
/// Location ids a request may name; `loc-c` is nowhere.
const REQUEST_LOCATIONS: [&str; 5] = ["loc-a", "loc-b", "loc-c", "loc-a", "loc-b"];
/// Principal indexes a request may name; there are at most four principals.
const REQUEST_PRINCIPALS: usize = 5;

#[derive(Debug, Clone)]
struct GrantSpec {
    permission: usize,
    /// 0 tenant, 1 location, 2 related:assignee.
    scope: u8,
    /// `context.level > N`.
    condition: Option<i64>,
    /// What the grant shows of `pii`: nothing said (the class default, off), mask or full.
    pii: Option<FieldVisibility>,
}

#[derive(Debug, Clone)]
struct RoleSpec {
    role_type: usize,
    /// Inherit from an earlier role (index modulo this role's position).
    parent: Option<usize>,
    /// Inherited permissions (or patterns) to drop.
    remove: Vec<usize>,
    grants: Vec<GrantSpec>,
}

#[derive(Debug, Clone)]
struct BindingSpec {
    principal: usize,
    role: usize,
    location: Option<usize>,
    /// (start, length) in minutes from the base time.
    window: Option<(i64, i64)>,
}

#[derive(Debug, Clone)]
struct ConstraintSpec {
    permissions: Vec<usize>,
    role_type: Option<usize>,
    when_assignee: bool,
    condition: Option<i64>,
}

#[derive(Debug, Clone)]
struct DelegationSpec {
    delegator: usize,
    delegate: usize,
    permissions: Vec<usize>,
    window: Option<(i64, i64)>,
    revoked: bool,
}

#[derive(Debug, Clone)]
struct ResourceSpec {
    location: Option<usize>,
    /// Principal indexes, which may be past the last principal.
    assignees: Vec<usize>,
}

#[derive(Debug, Clone)]
struct TenantSpec {
    /// Actions of `doc` and, when present, `file`.
    actions: Vec<Vec<&'static str>>,
    roles: Vec<RoleSpec>,
    /// One entry per principal: suspended or not.
    suspended: Vec<bool>,
    bindings: Vec<BindingSpec>,
    /// `RESOURCES_PER_TYPE` per entry of `TYPES`, in order.
    resources: Vec<ResourceSpec>,
    constraints: Vec<ConstraintSpec>,
    delegations: Vec<DelegationSpec>,
}

#[derive(Debug, Clone)]
struct RequestSpec {
    principal: usize,
    on_behalf_of: Option<usize>,
    /// Ask as the delegate of one of the tenant's delegations, for its delegator (when the
    /// tenant has any), so delegations get exercised.
    delegation: Option<Index>,
    resource_type: usize,
    action: usize,
    resource: usize,
    level: Option<i64>,
    minutes: i64,
}

fn window() -> impl Strategy<Value = (i64, i64)> {
    (-120..120i64, 1..240i64)
}

fn grant_spec() -> impl Strategy<Value = GrantSpec> {
    (
        0..PERMISSIONS.len(),
        0..3u8,
        prop::option::weighted(0.3, 0..3i64),
        prop::option::of(select(vec![FieldVisibility::Mask, FieldVisibility::Full])),
    )
        .prop_map(|(permission, scope, condition, pii)| GrantSpec {
            permission,
            scope,
            condition,
            pii,
        })
}

fn role_spec() -> impl Strategy<Value = RoleSpec> {
    (
        0..ROLE_TYPES.len(),
        prop::option::weighted(0.4, 0..3usize),
        prop::collection::vec(0..PERMISSIONS.len(), 0..2),
        prop::collection::vec(grant_spec(), 0..5),
    )
        .prop_map(|(role_type, parent, remove, grants)| RoleSpec {
            role_type,
            parent,
            remove,
            grants,
        })
}

fn binding_spec() -> impl Strategy<Value = BindingSpec> {
    (
        0..4usize,
        0..3usize,
        prop::option::of(0..LOCATIONS.len()),
        prop::option::weighted(0.3, window()),
    )
        .prop_map(|(principal, role, location, window)| BindingSpec {
            principal,
            role,
            location,
            window,
        })
}

fn constraint_spec() -> impl Strategy<Value = ConstraintSpec> {
    (
        prop::collection::vec(0..PERMISSIONS.len(), 1..3),
        prop::option::of(0..ROLE_TYPES.len()),
        any::<bool>(),
        prop::option::weighted(0.3, 0..3i64),
    )
        .prop_map(
            |(permissions, role_type, when_assignee, condition)| ConstraintSpec {
                permissions,
                role_type,
                when_assignee,
                condition,
            },
        )
}

fn delegation_spec() -> impl Strategy<Value = DelegationSpec> {
    (
        0..4usize,
        0..4usize,
        prop::collection::vec(0..PERMISSIONS.len(), 1..3),
        prop::option::weighted(0.5, window()),
        prop::bool::weighted(0.2),
    )
        .prop_map(
            |(delegator, delegate, permissions, window, revoked)| DelegationSpec {
                delegator,
                delegate,
                permissions,
                window,
                revoked,
            },
        )
}

fn resource_spec() -> impl Strategy<Value = ResourceSpec> {
    (
        prop::option::of(0..LOCATIONS.len()),
        prop::collection::vec(0..REQUEST_PRINCIPALS, 0..3),
    )
        .prop_map(|(location, assignees)| ResourceSpec {
            location,
            assignees,
        })
}

fn tenant_spec() -> impl Strategy<Value = TenantSpec> {
    (
        prop::collection::vec(subsequence(ACTIONS.to_vec(), 1..=ACTIONS.len()), 1..=2),
        prop::collection::vec(role_spec(), 1..=3),
        prop::collection::vec(prop::bool::weighted(0.15), 1..=4),
        prop::collection::vec(binding_spec(), 0..7),
        prop::collection::vec(resource_spec(), TYPES.len() * RESOURCES_PER_TYPE),
        prop::collection::vec(constraint_spec(), 0..3),
        prop::collection::vec(delegation_spec(), 0..3),
    )
        .prop_map(
            |(actions, roles, suspended, bindings, resources, constraints, delegations)| {
                TenantSpec {
                    actions,
                    roles,
                    suspended,
                    bindings,
                    resources,
                    constraints,
                    delegations,
                }
            },
        )
}

fn request_spec() -> impl Strategy<Value = RequestSpec> {
    (
        0..REQUEST_PRINCIPALS,
        prop::option::weighted(0.15, 0..REQUEST_PRINCIPALS),
        prop::option::weighted(0.25, any::<Index>()),
        0..REQUEST_TYPES.len(),
        0..REQUEST_ACTIONS.len(),
        0..=RESOURCES_PER_TYPE,
        prop::option::weighted(0.7, 0..4i64),
        -180..180i64,
    )
        .prop_map(
            |(
                principal,
                on_behalf_of,
                delegation,
                resource_type,
                action,
                resource,
                level,
                minutes,
            )| {
                RequestSpec {
                    principal,
                    on_behalf_of,
                    delegation,
                    resource_type,
                    action,
                    resource,
                    level,
                    minutes,
                }
            },
        )
}

fn requests() -> impl Strategy<Value = Vec<RequestSpec>> {
    prop::collection::vec(request_spec(), 16)
}

fn minutes(offset: i64) -> DateTime<Utc> {
    t0() + TimeDelta::minutes(offset)
}

fn level_condition(n: i64) -> String {
    format!("context.level > {n}")
}

/// Principal `index` of a tenant whose principal ids start with `prefix`.
fn principal_id(prefix: &str, index: usize) -> String {
    format!("{prefix}{index}")
}

impl TenantSpec {
    fn catalog_permissions(&self) -> BTreeSet<String> {
        TYPES
            .iter()
            .zip(&self.actions)
            .flat_map(|(resource_type, actions)| {
                actions
                    .iter()
                    .map(move |action| format!("{resource_type}.{action}"))
            })
            .chain(["location.view".to_owned()])
            .collect()
    }

    /// The names among `indexes` the catalog can resolve (patterns always can).
    fn resolvable<'a>(&self, indexes: impl IntoIterator<Item = &'a usize>) -> Vec<String> {
        let catalog = self.catalog_permissions();
        indexes
            .into_iter()
            .map(|index| PERMISSIONS[*index])
            .filter(|name| name.contains('*') || catalog.contains(*name))
            .map(str::to_owned)
            .collect()
    }

    /// (type, id, facts) of each generated resource whose type is in the catalog.
    fn resources(&self) -> impl Iterator<Item = (&'static str, String, &ResourceSpec)> {
        self.resources
            .iter()
            .enumerate()
            .filter(|(index, _)| index / RESOURCES_PER_TYPE < self.actions.len())
            .map(|(index, resource)| {
                (
                    TYPES[index / RESOURCES_PER_TYPE],
                    format!("r{}", index % RESOURCES_PER_TYPE),
                    resource,
                )
            })
    }

    fn principal_index(&self, index: usize) -> usize {
        index % self.suspended.len()
    }

    fn binding_role_index(&self, binding: &BindingSpec) -> usize {
        binding.role % self.roles.len()
    }

    fn binding_role(&self, binding: &BindingSpec) -> &RoleSpec {
        &self.roles[self.binding_role_index(binding)]
    }

    /// The role `index` inherits from, if any: always an earlier one, so there is no cycle.
    fn parent(&self, index: usize) -> Option<usize> {
        self.roles[index]
            .parent
            .filter(|_| index > 0)
            .map(|parent| parent % index)
    }

    /// The policy of tenant `tenant_id`, whose principals are `{prefix}0`, `{prefix}1`…
    fn build(&self, tenant_id: &str, prefix: &str) -> TenantPolicy {
        let relations = BTreeMap::from([
            (
                "location".to_owned(),
                RelationDef {
                    container: Some("location".to_owned()),
                    subject: None,
                },
            ),
            (
                "assignee".to_owned(),
                RelationDef {
                    container: None,
                    subject: Some(PrincipalKind::User),
                },
            ),
        ]);
        let mut resource_types: BTreeMap<String, ResourceType> = TYPES
            .iter()
            .zip(&self.actions)
            .map(|(name, actions)| {
                let resource_type = ResourceType {
                    relations: relations.clone(),
                    fields: BTreeMap::from([("secret".to_owned(), "pii".to_owned())]),
                    actions: actions
                        .iter()
                        .map(|action| ((*action).to_owned(), Action::default()))
                        .collect(),
                    ..ResourceType::default()
                };
                ((*name).to_owned(), resource_type)
            })
            .collect();
        resource_types.insert(
            "location".to_owned(),
            ResourceType {
                container: true,
                actions: BTreeMap::from([("view".to_owned(), Action::default())]),
                ..ResourceType::default()
            },
        );
        let catalog = Catalog {
            sensitivity_classes: BTreeMap::from([(
                "pii".to_owned(),
                SensitivityClass {
                    description: String::new(),
                    default_visibility: FieldVisibility::Off,
                },
            )]),
            resource_types,
        };

        let roles = self
            .roles
            .iter()
            .enumerate()
            .map(|(index, role)| Role {
                id: format!("role{index}"),
                role_type: ROLE_TYPES[role.role_type].to_owned(),
                parent: self.parent(index).map(|parent| format!("role{parent}")),
                remove: self.resolvable(&role.remove),
                grants: role
                    .grants
                    .iter()
                    .filter_map(|grant| {
                        let permission = self.resolvable([&grant.permission]).pop()?;
                        Some(Grant {
                            permission: Some(permission),
                            scope: match grant.scope {
                                0 => GrantScope::Tenant,
                                1 => GrantScope::Location,
                                _ => GrantScope::Related("assignee".to_owned()),
                            },
                            condition: grant.condition.map(level_condition),
                            fields: grant
                                .pii
                                .map(|pii| BTreeMap::from([("pii".to_owned(), pii)]))
                                .unwrap_or_default(),
                            ..Grant::default()
                        })
                    })
                    .collect(),
                built_in: true,
                ..Role::default()
            })
            .collect();

        let principals = self
            .suspended
            .iter()
            .enumerate()
            .map(|(index, suspended)| Principal {
                id: principal_id(prefix, index),
                status: if *suspended {
                    PrincipalStatus::Suspended
                } else {
                    PrincipalStatus::Active
                },
                ..Principal::default()
            })
            .collect();

        let bindings = self
            .bindings
            .iter()
            .enumerate()
            .map(|(index, binding)| Binding {
                id: format!("b{index}"),
                principal: principal_id(prefix, self.principal_index(binding.principal)),
                role: format!("role{}", self.binding_role_index(binding)),
                locations: binding
                    .location
                    .map(|location| vec![format!("location:{}", LOCATIONS[location])])
                    .unwrap_or_default(),
                not_before: binding.window.map(|(start, _)| minutes(start)),
                expires_at: binding
                    .window
                    .map(|(start, length)| minutes(start + length)),
                ..Binding::default()
            })
            .collect();

        let mut relationships = Vec::new();
        for (resource_type, id, resource) in self.resources() {
            let fact = |relation: &str, subject_type: &str, subject_id: String| Relationship {
                resource_type: resource_type.to_owned(),
                resource_id: id.clone(),
                relation: relation.to_owned(),
                subject_type: subject_type.to_owned(),
                subject_id,
            };
            if let Some(location) = resource.location {
                relationships.push(fact("location", "location", LOCATIONS[location].to_owned()));
            }
            for assignee in &resource.assignees {
                relationships.push(fact("assignee", "user", principal_id(prefix, *assignee)));
            }
        }

        let constraints = self
            .constraints
            .iter()
            .enumerate()
            .filter_map(|(index, constraint)| {
                let permissions = self.resolvable(&constraint.permissions);
                (!permissions.is_empty()).then(|| Constraint {
                    id: format!("c{index}"),
                    permissions,
                    role_types: constraint
                        .role_type
                        .map(|role_type| vec![ROLE_TYPES[role_type].to_owned()])
                        .unwrap_or_default(),
                    when_related: constraint.when_assignee.then(|| "assignee".to_owned()),
                    condition: constraint.condition.map(level_condition),
                    ..Constraint::default()
                })
            })
            .collect();

        let delegations = self
            .delegations
            .iter()
            .enumerate()
            .map(|(index, delegation)| Delegation {
                id: format!("d{index}"),
                delegator: principal_id(prefix, self.principal_index(delegation.delegator)),
                delegate: principal_id(prefix, self.principal_index(delegation.delegate)),
                permissions: self.resolvable(&delegation.permissions),
                not_before: delegation.window.map(|(start, _)| minutes(start)),
                expires_at: delegation
                    .window
                    .map(|(start, length)| minutes(start + length)),
                revoked: delegation.revoked,
                ..Delegation::default()
            })
            .collect();

        TenantPolicy {
            tenant: Tenant {
                id: tenant_id.to_owned(),
                time_zone: "UTC".to_owned(),
                ..Tenant::default()
            },
            catalog,
            roles,
            principals,
            bindings,
            relationships,
            constraints,
            delegations,
            ..TenantPolicy::default()
        }
    }

    fn compile(&self, tenant_id: &str, prefix: &str) -> Result<Snapshot, TestCaseError> {
        let policy = self.build(tenant_id, prefix);
        Snapshot::compile(&policy, None, 1).map_err(|error| {
            TestCaseError::fail(format!("generated policy does not compile: {error}"))
        })
    }
}

/// A request with owned ids, turned into an [`Ask`] on demand.
#[derive(Debug)]
struct Request {
    principal: String,
    on_behalf_of: Option<String>,
    permission: String,
    resource: String,
    level: Option<i64>,
    now: DateTime<Utc>,
}

fn resource_id(spec: &RequestSpec) -> String {
    if REQUEST_TYPES[spec.resource_type] == "location" {
        REQUEST_LOCATIONS[spec.resource].to_owned()
    } else {
        format!("r{}", spec.resource)
    }
}

impl RequestSpec {
    /// (who asks, for whom) as principal indexes.
    fn actors(&self, tenant: &TenantSpec) -> (usize, Option<usize>) {
        match self.delegation {
            Some(index) if !tenant.delegations.is_empty() => {
                let delegation = &tenant.delegations[index.index(tenant.delegations.len())];
                (
                    tenant.principal_index(delegation.delegate),
                    Some(tenant.principal_index(delegation.delegator)),
                )
            }
            _ => (self.principal, self.on_behalf_of),
        }
    }
}

impl Request {
    fn new(spec: &RequestSpec, tenant: &TenantSpec, prefix: &str) -> Request {
        let (principal, on_behalf_of) = spec.actors(tenant);
        Request {
            principal: principal_id(prefix, principal),
            on_behalf_of: on_behalf_of.map(|index| principal_id(prefix, index)),
            permission: format!(
                "{}.{}",
                REQUEST_TYPES[spec.resource_type], REQUEST_ACTIONS[spec.action]
            ),
            resource: resource_id(spec),
            level: spec.level,
            now: minutes(spec.minutes),
        }
    }

    fn ask(&self) -> Ask<'_> {
        let mut request = ask(&self.principal, &self.permission, &self.resource).at(self.now);
        if let Some(delegator) = &self.on_behalf_of {
            request = request.on_behalf_of(delegator);
        }
        match self.level {
            Some(level) => request.ctx("level", level),
            None => request,
        }
    }
}

fn requests_for(specs: &[RequestSpec], tenant: &TenantSpec) -> Vec<Request> {
    specs
        .iter()
        .map(|spec| Request::new(spec, tenant, "p"))
        .collect()
}

/// Checks every request against `before` and `after`, failing when `after` allows what
/// `before` denied.
fn never_widens(
    before: &Snapshot,
    after: &Snapshot,
    requests: &[Request],
    change: &str,
) -> Result<(), TestCaseError> {
    for request in requests {
        let ask = request.ask();
        let old = decide(before, &ask);
        let new = decide(after, &ask);
        prop_assert!(
            old.allowed || !new.allowed,
            "{change} turned a deny into an allow: {}: before {}, after {}",
            ask.describe(),
            outcome(&old),
            outcome(&new)
        );
    }
    Ok(())
}

fn config() -> Config {
    Config {
        cases: 256,
        failure_persistence: None,
        ..Config::default()
    }
}

// ---------------------------------------------------------------------------------------------
// A reference model: the documented semantics, written independently of the engine, for the
// shapes of policy generated above.
// ---------------------------------------------------------------------------------------------

fn pattern_matches(pattern: &str, permission: &str) -> bool {
    match pattern {
        "*" => true,
        "*.read" => permission.ends_with(".read"),
        "doc.*" => permission.starts_with("doc."),
        exact => exact == permission,
    }
}

fn in_window(window: Option<(i64, i64)>, now: DateTime<Utc>) -> bool {
    window.is_none_or(|(start, length)| minutes(start) <= now && now < minutes(start + length))
}

impl TenantSpec {
    fn names_cover<'a>(
        &self,
        indexes: impl IntoIterator<Item = &'a usize>,
        permission: &str,
    ) -> bool {
        self.resolvable(indexes)
            .iter()
            .any(|name| pattern_matches(name, permission))
    }

    /// The grants of role `index` for `permission`: the parent's (unless removed), then its own.
    fn effective_grants(&self, index: usize, permission: &str) -> Vec<&GrantSpec> {
        let role = &self.roles[index];
        let mut grants = match self.parent(index) {
            Some(parent) if !self.names_cover(&role.remove, permission) => {
                self.effective_grants(parent, permission)
            }
            _ => Vec::new(),
        };
        grants.extend(
            role.grants
                .iter()
                .filter(|grant| self.names_cover([&grant.permission], permission)),
        );
        grants
    }

    fn bindings_of(&self, principal: usize) -> impl Iterator<Item = &BindingSpec> {
        self.bindings
            .iter()
            .filter(move |binding| self.principal_index(binding.principal) == principal)
    }
}

/// What the documented rules answer: `None` for a deny, or the visibility of field `secret`
/// (`Full` where the resource type has no classified field).
fn reference_decision(spec: &TenantSpec, request: &RequestSpec) -> Option<FieldVisibility> {
    let resource_type = REQUEST_TYPES[request.resource_type];
    let permission = format!("{resource_type}.{}", REQUEST_ACTIONS[request.action]);
    if !spec.catalog_permissions().contains(&permission) {
        return None;
    }
    let active = |principal: usize| spec.suspended.get(principal) == Some(&false);
    let (actor, on_behalf_of) = request.actors(spec);
    if !active(actor) {
        return None;
    }
    let now = minutes(request.minutes);
    let level = request.level;

    // Acting for someone needs a live delegation of this permission from them to the actor.
    let subject = match on_behalf_of {
        None => actor,
        Some(delegator) => {
            let delegated = spec.delegations.iter().any(|delegation| {
                !delegation.revoked
                    && spec.principal_index(delegation.delegate) == actor
                    && spec.principal_index(delegation.delegator) == delegator
                    && in_window(delegation.window, now)
                    && spec.names_cover(&delegation.permissions, &permission)
            });
            if !delegated || !active(delegator) {
                return None;
            }
            delegator
        }
    };

    // The resource's facts.
    let resource = resource_id(request);
    let facts = spec
        .resources()
        .find(|(kind, id, _)| *kind == resource_type && *id == resource)
        .map(|(_, _, facts)| facts);
    let location = facts.and_then(|facts| facts.location).map(|l| LOCATIONS[l]);
    let assigned =
        |principal: usize| facts.is_some_and(|facts| facts.assignees.contains(&principal));
    // A location is a known node once a relationship or a binding names it.
    let named = |at: Option<usize>| at.map(|l| LOCATIONS[l]) == Some(resource.as_str());
    let location_known = resource_type == "location"
        && (spec.resources().any(|(_, _, facts)| named(facts.location))
            || spec.bindings.iter().any(|binding| named(binding.location)));

    // Forbid wins, whether it applies to the actor or to whom they act for.
    let constraint_applies = |constraint: &ConstraintSpec, principal: usize| {
        let by_role_type = constraint.role_type.is_none_or(|role_type| {
            spec.bindings_of(principal).any(|binding| {
                in_window(binding.window, now) && spec.binding_role(binding).role_type == role_type
            })
        });
        let by_relation = !constraint.when_assignee || assigned(principal);
        // A condition that cannot be evaluated (no level) applies the constraint.
        let by_condition = constraint
            .condition
            .is_none_or(|n| level.is_none_or(|l| l > n));
        by_role_type && by_relation && by_condition
    };
    for constraint in &spec.constraints {
        if spec.names_cover(&constraint.permissions, &permission)
            && (constraint_applies(constraint, actor) || constraint_applies(constraint, subject))
        {
            return None;
        }
    }

    // The union of what every applicable grant of every active, reaching binding shows.
    let mut shown: Option<FieldVisibility> = None;
    for binding in spec.bindings_of(subject) {
        let reaches = match binding.location.map(|l| LOCATIONS[l]) {
            None => true,
            Some(at) => location == Some(at) || (resource_type == "location" && resource == at),
        };
        if !in_window(binding.window, now) || !reaches {
            continue;
        }
        for grant in spec.effective_grants(spec.binding_role_index(binding), &permission) {
            let in_scope = match grant.scope {
                0 => true,
                1 => location.is_some() || location_known,
                _ => assigned(subject),
            };
            let holds = grant.condition.is_none_or(|n| level.is_some_and(|l| l > n));
            if in_scope && holds {
                let pii = grant.pii.unwrap_or(FieldVisibility::Off);
                shown = Some(shown.map_or(pii, |seen| seen.max(pii)));
            }
        }
    }
    shown.map(|pii| {
        if resource_type == "location" {
            FieldVisibility::Full
        } else {
            pii
        }
    })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn no_binding_no_access(mut spec in tenant_spec(), specs in requests()) {
        spec.bindings.clear();
        let snapshot = spec.compile("acme", "p")?;
        for request in requests_for(&specs, &spec) {
            let ask = request.ask();
            let decision = decide(&snapshot, &ask);
            prop_assert!(
                !decision.allowed,
                "{} allowed with no binding: {}",
                ask.describe(),
                outcome(&decision)
            );
        }
    }

    #[test]
    fn adding_a_forbid_constraint_never_allows_more(
        spec in tenant_spec(),
        extra in constraint_spec(),
        specs in requests(),
    ) {
        let before = spec.compile("acme", "p")?;
        let mut narrowed = spec.clone();
        narrowed.constraints.push(extra);
        let after = narrowed.compile("acme", "p")?;
        never_widens(&before, &after, &requests_for(&specs, &spec), "adding a constraint")?;
    }

    #[test]
    fn removing_a_grant_never_allows_more(
        spec in tenant_spec(),
        role in any::<Index>(),
        grant in any::<Index>(),
        specs in requests(),
    ) {
        let role = role.index(spec.roles.len());
        prop_assume!(!spec.roles[role].grants.is_empty());
        let before = spec.compile("acme", "p")?;
        let mut narrowed = spec.clone();
        let grants = &mut narrowed.roles[role].grants;
        let removed = grants.remove(grant.index(grants.len()));
        let after = narrowed.compile("acme", "p")?;
        never_widens(
            &before,
            &after,
            &requests_for(&specs, &spec),
            &format!("removing {removed:?} from role{role}"),
        )?;
    }

    /// Holds except where a role-type constraint names the removed binding's role type: such a
    /// constraint applies *because* the principal holds that role type, so removing the binding
    /// lifts it, by design (`Constraint::role_types`). Those cases are left out.
    #[test]
    fn removing_a_binding_never_allows_more(
        spec in tenant_spec(),
        binding in any::<Index>(),
        specs in requests(),
    ) {
        prop_assume!(!spec.bindings.is_empty());
        let index = binding.index(spec.bindings.len());
        let role_type = spec.binding_role(&spec.bindings[index]).role_type;
        prop_assume!(spec
            .constraints
            .iter()
            .all(|constraint| constraint.role_type != Some(role_type)));
        let before = spec.compile("acme", "p")?;
        let mut narrowed = spec.clone();
        let removed = narrowed.bindings.remove(index);
        let after = narrowed.compile("acme", "p")?;
        never_widens(
            &before,
            &after,
            &requests_for(&specs, &spec),
            &format!("removing binding b{index} {removed:?}"),
        )?;
    }

    #[test]
    fn explain_reaches_the_same_decision_as_check(spec in tenant_spec(), specs in requests()) {
        let snapshot = spec.compile("acme", "p")?;
        for request in requests_for(&specs, &spec) {
            let ask = request.ask();
            let checked: Decision<'_> = decide(&snapshot, &ask);
            let (explained, steps) = explain(&snapshot, &ask);
            prop_assert_eq!(
                (checked.allowed, checked.reason),
                (explained.allowed, explained.reason),
                "{}",
                ask.describe()
            );
            prop_assert_eq!(&checked.basis, &explained.basis, "{}", ask.describe());
            prop_assert_eq!(&checked.obligations, &explained.obligations, "{}", ask.describe());
            prop_assert_eq!(steps.last().map(|step| step.stage), Some("decision"));
        }
    }

    #[test]
    fn another_tenant_never_answers_for_these_principals(
        spec in tenant_spec(),
        specs in requests(),
    ) {
        // The same shape, resource ids and roles, but its principals are q0, q1…
        let other = spec.compile("other", "q")?;
        for request in requests_for(&specs, &spec) {
            let ask = request.ask();
            let decision = decide(&other, &ask);
            prop_assert!(
                !decision.allowed,
                "{} allowed in another tenant: {}",
                ask.describe(),
                outcome(&decision)
            );
        }
    }

    #[test]
    fn check_agrees_with_the_reference_model(spec in tenant_spec(), specs in requests()) {
        let snapshot = spec.compile("acme", "p")?;
        for request_spec in &specs {
            let request = Request::new(request_spec, &spec, "p");
            let ask = request.ask();
            let decision = decide(&snapshot, &ask);
            let engine = decision.allowed.then(|| decision.field_visibility("secret"));
            let expected = reference_decision(&spec, request_spec);
            prop_assert_eq!(
                engine,
                expected,
                "{}: reference model {:?} (allowed, `secret` shown), engine {}",
                ask.describe(),
                expected,
                outcome(&decision)
            );
        }
    }
}

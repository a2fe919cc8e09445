//! Compiling a [`TenantPolicy`] into an immutable [`Snapshot`] optimised for checks.
//!
//! Everything a check would otherwise compute is resolved here, once per policy revision:
//! permission names become dense integer ids, each role carries a permission bitset and its
//! grants indexed by permission (inheritance, removals and locked grants already applied),
//! conditions are compiled, constraints are indexed by permission, entitlements are folded
//! into each permission, and every resource's container closure and inherited relations are
//! precomputed so a check never walks a graph.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use rustc_hash::{FxHashMap, FxHashSet};

use cel::common::types::CelString;
use cel::common::value::Val;

use crate::attr::owned_attributes_to_val;
use crate::condition::Condition;
use crate::decision::FieldVisibilities;
use crate::error::PolicyError;
use crate::model::{
    BindingSource, FieldVisibility, GrantScope, PLATFORM_TENANT_ID, PrincipalKind, PrincipalStatus,
    Relationship, TenantPolicy, TenantStatus, split_typed_ref,
};

/// Longest id of any kind (tenant, principal, role, resource, relation…), in bytes.
pub const MAX_ID_LEN: usize = 256;

pub(crate) type PermId = u32;
pub(crate) type NodeId = u32;
pub(crate) type RelationId = u16;

/// A set of permission ids.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct PermSet(Box<[u64]>);

impl PermSet {
    fn with_capacity(perms: usize) -> Self {
        PermSet(vec![0; perms.div_ceil(64)].into_boxed_slice())
    }

    #[inline]
    pub(crate) fn contains(&self, perm: PermId) -> bool {
        let word = (perm / 64) as usize;
        self.0
            .get(word)
            .is_some_and(|bits| bits & (1 << (perm % 64)) != 0)
    }

    fn insert(&mut self, perm: PermId) {
        let word = (perm / 64) as usize;
        if let Some(bits) = self.0.get_mut(word) {
            *bits |= 1 << (perm % 64);
        }
    }
}

#[derive(Debug)]
pub(crate) struct ResourceTypeEntry {
    pub(crate) container: bool,
    pub(crate) actions: FxHashMap<Box<str>, PermId>,
    /// Classified fields and their sensitivity class.
    pub(crate) classified_fields: Vec<(Arc<str>, Arc<str>)>,
    /// Default visibility per classified field, from its class.
    pub(crate) default_visibility: FieldVisibilities,
}

#[derive(Debug)]
pub(crate) struct PermissionEntry {
    pub(crate) name: Arc<str>,
    pub(crate) resource_type: u32,
    pub(crate) category: Arc<str>,
    pub(crate) feature: Option<Arc<str>>,
    /// The tenant has the feature this permission needs (or it needs none).
    pub(crate) entitled: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scope {
    Tenant,
    Location,
    Related(RelationId),
}

#[derive(Debug)]
pub(crate) struct CompiledGrant {
    pub(crate) scope: Scope,
    pub(crate) scope_text: Arc<str>,
    pub(crate) condition: Option<Arc<Condition>>,
    /// Visibility per classified field of the resource type; `None` when it has none.
    pub(crate) visibility: Option<FieldVisibilities>,
    pub(crate) all_full: bool,
    pub(crate) step_up: bool,
    /// The role that declared the grant (differs from the bound role when inherited).
    pub(crate) declared_by: Arc<str>,
}

impl CompiledGrant {
    fn new(
        scope: Scope,
        scope_text: Arc<str>,
        condition: Option<Arc<Condition>>,
        visibility: Option<FieldVisibilities>,
        step_up: bool,
        declared_by: Arc<str>,
    ) -> Arc<CompiledGrant> {
        Arc::new(CompiledGrant {
            all_full: all_full(visibility.as_deref()),
            scope,
            scope_text,
            condition,
            visibility,
            step_up,
            declared_by,
        })
    }
}

#[derive(Debug)]
pub(crate) struct CompiledRole {
    pub(crate) id: Arc<str>,
    pub(crate) role_type: Arc<str>,
    pub(crate) perms: PermSet,
    /// Grants per permission id; empty where the role does not hold it.
    pub(crate) grants: Vec<Vec<Arc<CompiledGrant>>>,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Window {
    pub(crate) not_before: i64,
    pub(crate) expires_at: i64,
}

impl Window {
    fn new(not_before: Option<DateTime<Utc>>, expires_at: Option<DateTime<Utc>>) -> Self {
        Window {
            not_before: not_before.map_or(i64::MIN, |at| at.timestamp_micros()),
            expires_at: expires_at.map_or(i64::MAX, |at| at.timestamp_micros()),
        }
    }

    /// Inclusive start, exclusive end.
    #[inline]
    pub(crate) fn contains(self, now: i64) -> bool {
        self.not_before <= now && now < self.expires_at
    }
}

#[derive(Debug)]
pub(crate) struct CompiledBinding {
    pub(crate) id: Arc<str>,
    pub(crate) role: u32,
    /// Container nodes the binding is limited to; `None` is tenant-wide.
    pub(crate) locations: Option<Box<[NodeId]>>,
    pub(crate) window: Window,
    pub(crate) source: BindingSource,
}

#[derive(Debug)]
pub(crate) struct SessionEntry {
    pub(crate) revoked: bool,
    pub(crate) expires_at: i64,
}

#[derive(Debug)]
pub(crate) struct ApiKeyEntry {
    pub(crate) scopes: PermSet,
    pub(crate) revoked: bool,
    pub(crate) expires_at: i64,
}

#[derive(Debug)]
pub(crate) struct CompiledPrincipal {
    pub(crate) id: Arc<str>,
    /// Platform staff reaching this tenant through a platform binding.
    pub(crate) platform: bool,
    pub(crate) kind: PrincipalKind,
    pub(crate) status: PrincipalStatus,
    pub(crate) token_version: u64,
    /// `principal` as conditions see it: attributes plus `id` and `type`.
    pub(crate) cel: Box<dyn Val>,
    pub(crate) sessions: FxHashMap<Box<str>, SessionEntry>,
    pub(crate) api_keys: FxHashMap<Box<str>, ApiKeyEntry>,
    pub(crate) bindings: Vec<CompiledBinding>,
}

#[derive(Debug)]
pub(crate) struct CompiledConstraint {
    pub(crate) id: Arc<str>,
    pub(crate) description: Arc<str>,
    pub(crate) role_types: Option<FxHashSet<Arc<str>>>,
    pub(crate) when_related: Option<RelationId>,
    pub(crate) condition: Option<Arc<Condition>>,
}

#[derive(Debug)]
pub(crate) struct CompiledDelegation {
    pub(crate) id: Arc<str>,
    pub(crate) delegator: Arc<str>,
    pub(crate) perms: PermSet,
    pub(crate) window: Window,
}

/// A resource (or container) that appears in relationships or binding locations.
#[derive(Debug, Default)]
pub(crate) struct ResourceFacts {
    /// Every container this resource sits in, transitively.
    pub(crate) ancestors: Box<[NodeId]>,
    /// Relations principals hold on it, directly or through a container.
    pub(crate) subjects: Box<[(RelationId, PrincipalKind, Arc<str>)]>,
}

/// The immutable, compiled form of one tenant's policy. Cheap to share behind an `Arc`;
/// replaced wholesale when the policy changes.
pub struct Snapshot {
    pub(crate) tenant_id: Arc<str>,
    pub(crate) tenant_status: TenantStatus,
    pub(crate) revision: u64,
    pub(crate) env: Arc<cel::Env>,
    /// `tenant` as conditions see it: `id`, `name`, `time_zone`.
    pub(crate) tenant_cel: Box<dyn Val>,
    pub(crate) types: Vec<ResourceTypeEntry>,
    pub(crate) type_index: FxHashMap<Box<str>, u32>,
    pub(crate) perms: Vec<PermissionEntry>,
    pub(crate) roles: Vec<CompiledRole>,
    pub(crate) principals: FxHashMap<Box<str>, CompiledPrincipal>,
    pub(crate) platform_principals: FxHashMap<Box<str>, CompiledPrincipal>,
    pub(crate) constraints: Vec<CompiledConstraint>,
    /// Constraint indexes per permission id.
    pub(crate) constraints_by_perm: Vec<Vec<u32>>,
    /// Resource nodes per resource type index, by resource id.
    pub(crate) nodes: Vec<FxHashMap<Box<str>, NodeId>>,
    pub(crate) facts: Vec<ResourceFacts>,
    /// Delegations by delegate id.
    pub(crate) delegations: FxHashMap<Box<str>, Vec<CompiledDelegation>>,
}

impl std::fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Snapshot")
            .field("tenant_id", &self.tenant_id)
            .field("revision", &self.revision)
            .field("permissions", &self.perms.len())
            .field("roles", &self.roles.len())
            .field("principals", &self.principals.len())
            .finish_non_exhaustive()
    }
}

impl Snapshot {
    pub fn tenant_id(&self) -> &str {
        &self.tenant_id
    }

    pub fn revision(&self) -> u64 {
        self.revision
    }

    /// Every permission name in the catalog, in id order.
    pub fn permission_names(&self) -> impl Iterator<Item = &str> {
        self.perms.iter().map(|perm| &*perm.name)
    }

    /// Compiles `policy` at `revision`. `platform` is the platform tenant's policy, whose
    /// bindings reach this tenant through its platform roles.
    pub fn compile(
        policy: &TenantPolicy,
        platform: Option<&TenantPolicy>,
        revision: u64,
    ) -> Result<Snapshot, PolicyError> {
        if policy.tenant.id == PLATFORM_TENANT_ID {
            return Err(PolicyError::ReservedTenant(policy.tenant.id.clone()));
        }
        compile_any(policy, platform, revision)
    }

    /// Compiles the platform tenant's own policy (its own catalog: tenants, onboarding…).
    pub fn compile_platform(policy: &TenantPolicy, revision: u64) -> Result<Snapshot, PolicyError> {
        if policy.tenant.id != PLATFORM_TENANT_ID {
            return Err(PolicyError::InvalidId {
                what: "platform tenant",
                id: policy.tenant.id.clone(),
                why: "the platform policy must use the reserved id `platform`",
            });
        }
        compile_any(policy, None, revision)
    }
}

fn validate_id(what: &'static str, id: &str) -> Result<(), PolicyError> {
    let why = if id.is_empty() {
        "it is empty"
    } else if id.len() > MAX_ID_LEN {
        "it is longer than 256 bytes"
    } else if id.chars().any(|c| c.is_control() || c.is_whitespace()) {
        "it contains whitespace or control characters"
    } else {
        return Ok(());
    };
    Err(PolicyError::InvalidId {
        what,
        id: id.to_owned(),
        why,
    })
}

/// Compiles an optional condition, naming `location` (the role or constraint) in the error.
fn compile_condition(
    env: &cel::Env,
    source: Option<&str>,
    location: &str,
) -> Result<Option<Arc<Condition>>, PolicyError> {
    source
        .map(|source| {
            Condition::compile(env, source)
                .map(Arc::new)
                .map_err(|error| PolicyError::Condition {
                    location: location.to_owned(),
                    source_text: source.to_owned(),
                    error,
                })
        })
        .transpose()
}

/// Whether a visibility shows every classified field in full (or there are none).
pub(crate) fn all_full(visibility: Option<&[(Arc<str>, FieldVisibility)]>) -> bool {
    visibility.is_none_or(|fields| fields.iter().all(|(_, v)| *v == FieldVisibility::Full))
}

/// Matches a permission pattern with `*` wildcards against a permission name.
pub(crate) fn pattern_matches(pattern: &str, name: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == name,
        Some((prefix, rest)) => {
            let Some(tail) = name.strip_prefix(prefix) else {
                return false;
            };
            if rest.is_empty() {
                return true;
            }
            (0..=tail.len())
                .filter(|at| tail.is_char_boundary(*at))
                .any(|at| pattern_matches(rest, &tail[at..]))
        }
    }
}

struct Catalog<'a> {
    types: Vec<ResourceTypeEntry>,
    type_index: FxHashMap<Box<str>, u32>,
    perms: Vec<PermissionEntry>,
    perm_index: FxHashMap<Arc<str>, PermId>,
    relations: FxHashMap<Box<str>, RelationId>,
    classes: &'a BTreeMap<String, crate::model::SensitivityClass>,
}

impl Catalog<'_> {
    /// Permission ids a name or pattern covers; `None` for an unknown exact name.
    fn expand(&self, pattern: &str) -> Option<Vec<PermId>> {
        if pattern.contains('*') {
            return Some(
                self.perms
                    .iter()
                    .enumerate()
                    .filter(|(_, perm)| pattern_matches(pattern, &perm.name))
                    .map(|(id, _)| id as PermId)
                    .collect(),
            );
        }
        self.perm_index.get(pattern).map(|id| vec![*id])
    }

    /// [`Catalog::expand`] where an unknown name is an error naming `location`, or — when
    /// `lenient` (platform staff, whose policy names another catalog's permissions) — nothing.
    fn expand_checked(
        &self,
        pattern: &str,
        location: &str,
        lenient: bool,
    ) -> Result<Vec<PermId>, PolicyError> {
        match self.expand(pattern) {
            Some(ids) => Ok(ids),
            None if lenient => Ok(Vec::new()),
            None => Err(PolicyError::UnknownPermission {
                location: location.to_owned(),
                permission: pattern.to_owned(),
            }),
        }
    }

    fn perm_set(
        &self,
        patterns: &[String],
        location: &str,
        lenient: bool,
    ) -> Result<PermSet, PolicyError> {
        let mut set = PermSet::with_capacity(self.perms.len());
        for pattern in patterns {
            for id in self.expand_checked(pattern, location, lenient)? {
                set.insert(id);
            }
        }
        Ok(set)
    }
}

fn compile_catalog(policy: &TenantPolicy) -> Result<Catalog<'_>, PolicyError> {
    let entitled: FxHashSet<&str> = policy
        .entitlements
        .features
        .iter()
        .map(String::as_str)
        .collect();
    let catalog = &policy.catalog;
    let mut types = Vec::new();
    let mut type_index = FxHashMap::default();
    let mut perms = Vec::new();
    let mut relations: FxHashMap<Box<str>, RelationId> = FxHashMap::default();

    for (type_name, definition) in &catalog.resource_types {
        validate_id("resource type", type_name)?;
        if type_name.contains('.') || type_name.contains(':') {
            return Err(PolicyError::InvalidId {
                what: "resource type",
                id: type_name.clone(),
                why: "it must not contain `.` or `:`",
            });
        }
        for (relation, target) in &definition.relations {
            validate_id("relation", relation)?;
            match (&target.container, &target.subject) {
                (Some(container), None) => {
                    let is_container = catalog
                        .resource_types
                        .get(container)
                        .is_some_and(|t| t.container);
                    if !is_container {
                        return Err(PolicyError::NotAContainer {
                            resource_type: type_name.clone(),
                            relation: relation.clone(),
                            target: container.clone(),
                        });
                    }
                }
                (None, Some(_)) => {}
                _ => {
                    return Err(PolicyError::RelationKind {
                        resource_type: type_name.clone(),
                        relation: relation.clone(),
                    });
                }
            }
            let next = relations.len() as RelationId;
            relations.entry(relation.as_str().into()).or_insert(next);
        }
        let mut classified_fields = Vec::new();
        for (field, class) in &definition.fields {
            if !catalog.sensitivity_classes.contains_key(class) {
                return Err(PolicyError::UnknownSensitivityClass {
                    resource_type: type_name.clone(),
                    field: field.clone(),
                    class: class.clone(),
                });
            }
            classified_fields.push((
                Arc::<str>::from(field.as_str()),
                Arc::<str>::from(class.as_str()),
            ));
        }
        let default_visibility = classified_fields
            .iter()
            .map(|(field, class)| {
                let visibility = catalog
                    .sensitivity_classes
                    .get(&**class)
                    .map_or(FieldVisibility::Off, |c| c.default_visibility);
                (Arc::clone(field), visibility)
            })
            .collect();
        let type_id = types.len() as u32;
        let mut actions = FxHashMap::default();
        for (action, definition) in &definition.actions {
            validate_id("action", action)?;
            let id = perms.len() as PermId;
            let name = format!("{type_name}.{action}");
            let feature = definition.feature.as_deref();
            perms.push(PermissionEntry {
                name: Arc::from(name.as_str()),
                resource_type: type_id,
                category: Arc::from(definition.category.as_str()),
                feature: feature.map(Arc::from),
                entitled: feature.is_none_or(|feature| entitled.contains(feature)),
            });
            actions.insert(action.as_str().into(), id);
        }
        type_index.insert(type_name.as_str().into(), type_id);
        types.push(ResourceTypeEntry {
            container: definition.container,
            actions,
            classified_fields,
            default_visibility,
        });
    }
    let perm_index = perms
        .iter()
        .enumerate()
        .map(|(id, perm)| (Arc::clone(&perm.name), id as PermId))
        .collect();
    Ok(Catalog {
        types,
        type_index,
        perms,
        perm_index,
        relations,
        classes: &catalog.sensitivity_classes,
    })
}

/// The nodes (resources and containers) a policy mentions, with their edges and facts.
#[derive(Default)]
struct NodeTable {
    by_type: Vec<FxHashMap<Box<str>, NodeId>>,
    parents: Vec<Vec<NodeId>>,
    own_subjects: Vec<Vec<(RelationId, PrincipalKind, Arc<str>)>>,
}

impl NodeTable {
    fn new(types: usize) -> Self {
        NodeTable {
            by_type: (0..types).map(|_| FxHashMap::default()).collect(),
            ..NodeTable::default()
        }
    }

    fn intern(&mut self, type_id: u32, id: &str) -> NodeId {
        let next = self.parents.len() as NodeId;
        let nodes = &mut self.by_type[type_id as usize];
        if let Some(node) = nodes.get(id) {
            return *node;
        }
        nodes.insert(id.into(), next);
        self.parents.push(Vec::new());
        self.own_subjects.push(Vec::new());
        next
    }

    /// Resolves every node's container closure and the relations it inherits through it.
    fn into_facts(self) -> (Vec<FxHashMap<Box<str>, NodeId>>, Vec<ResourceFacts>) {
        let mut facts = Vec::with_capacity(self.parents.len());
        for node in 0..self.parents.len() {
            let mut ancestors: Vec<NodeId> = Vec::new();
            let mut stack: Vec<NodeId> = self.parents[node].clone();
            // INVARIANT: `seen` holds the start node, so a containment cycle ends the walk
            // instead of looping.
            let mut seen: FxHashSet<NodeId> = FxHashSet::default();
            seen.insert(node as NodeId);
            while let Some(parent) = stack.pop() {
                if seen.insert(parent) {
                    ancestors.push(parent);
                    stack.extend(self.parents[parent as usize].iter().copied());
                }
            }
            let mut subjects = self.own_subjects[node].clone();
            for ancestor in &ancestors {
                subjects.extend(self.own_subjects[*ancestor as usize].iter().cloned());
            }
            subjects.sort();
            subjects.dedup();
            ancestors.sort_unstable();
            facts.push(ResourceFacts {
                ancestors: ancestors.into_boxed_slice(),
                subjects: subjects.into_boxed_slice(),
            });
        }
        (self.by_type, facts)
    }
}

fn compile_relationships(
    relationships: &[Relationship],
    policy: &TenantPolicy,
    catalog: &Catalog<'_>,
    nodes: &mut NodeTable,
) -> Result<(), PolicyError> {
    for relationship in relationships {
        let fail = |why: String| PolicyError::Relationship {
            relationship: relationship.to_string(),
            why,
        };
        for id in [
            &relationship.resource_id,
            &relationship.subject_id,
            &relationship.relation,
        ] {
            validate_id("relationship part", id)?;
        }
        let type_id = *catalog
            .type_index
            .get(relationship.resource_type.as_str())
            .ok_or_else(|| {
                fail(format!(
                    "unknown resource type `{}`",
                    relationship.resource_type
                ))
            })?;
        let definition = policy
            .catalog
            .resource_types
            .get(&relationship.resource_type)
            .and_then(|t| t.relations.get(&relationship.relation))
            .ok_or_else(|| {
                fail(format!(
                    "resource type `{}` declares no relation `{}`",
                    relationship.resource_type, relationship.relation
                ))
            })?;
        let relation = catalog
            .relations
            .get(relationship.relation.as_str())
            .copied()
            .ok_or_else(|| fail("relation not in catalog".to_owned()))?;
        let node = nodes.intern(type_id, &relationship.resource_id);
        match (&definition.container, definition.subject) {
            (Some(container_type), _) => {
                if &relationship.subject_type != container_type {
                    return Err(fail(format!(
                        "relation `{}` points at `{container_type}`, not `{}`",
                        relationship.relation, relationship.subject_type
                    )));
                }
                let container_id = catalog
                    .type_index
                    .get(container_type.as_str())
                    .copied()
                    .ok_or_else(|| fail(format!("unknown container type `{container_type}`")))?;
                let parent = nodes.intern(container_id, &relationship.subject_id);
                nodes.parents[node as usize].push(parent);
            }
            (None, Some(kind)) => {
                if relationship.subject_type != kind.as_str() {
                    return Err(fail(format!(
                        "relation `{}` points at a `{}`, not `{}`",
                        relationship.relation,
                        kind.as_str(),
                        relationship.subject_type
                    )));
                }
                nodes.own_subjects[node as usize].push((
                    relation,
                    kind,
                    Arc::from(relationship.subject_id.as_str()),
                ));
            }
            (None, None) => return Err(fail("relation has no target kind".to_owned())),
        }
    }
    Ok(())
}

type EffectiveGrants = Vec<(PermId, Arc<CompiledGrant>)>;

struct RoleCompiler<'a, 'c> {
    policy: &'a TenantPolicy,
    catalog: &'c Catalog<'c>,
    env: &'a cel::Env,
    /// Platform roles compile against another tenant's catalog: what it lacks is skipped.
    lenient: bool,
    index: FxHashMap<&'a str, usize>,
    memo: Vec<Option<EffectiveGrants>>,
    visiting: Vec<bool>,
}

impl<'a, 'c> RoleCompiler<'a, 'c> {
    fn new(
        policy: &'a TenantPolicy,
        catalog: &'c Catalog<'c>,
        env: &'a cel::Env,
        lenient: bool,
    ) -> Result<Self, PolicyError> {
        let mut index = FxHashMap::default();
        for (position, role) in policy.roles.iter().enumerate() {
            validate_id("role", &role.id)?;
            if index.insert(role.id.as_str(), position).is_some() {
                return Err(PolicyError::Duplicate {
                    what: "role",
                    id: role.id.clone(),
                });
            }
        }
        Ok(RoleCompiler {
            policy,
            catalog,
            env,
            lenient,
            index,
            memo: (0..policy.roles.len()).map(|_| None).collect(),
            visiting: vec![false; policy.roles.len()],
        })
    }

    fn expand(&self, pattern: &str, location: &str) -> Result<Vec<PermId>, PolicyError> {
        self.catalog.expand_checked(pattern, location, self.lenient)
    }

    fn visibility(
        &self,
        perm: PermId,
        fields: &BTreeMap<String, FieldVisibility>,
    ) -> Option<FieldVisibilities> {
        let resource_type =
            &self.catalog.types[self.catalog.perms[perm as usize].resource_type as usize];
        if resource_type.classified_fields.is_empty() {
            return None;
        }
        if fields.is_empty() {
            return Some(Arc::clone(&resource_type.default_visibility));
        }
        Some(
            resource_type
                .classified_fields
                .iter()
                .zip(resource_type.default_visibility.iter())
                .map(|((field, class), (_, default))| {
                    let visibility = fields
                        .get(&**field)
                        .or_else(|| fields.get(&**class))
                        .copied()
                        .unwrap_or(*default);
                    (Arc::clone(field), visibility)
                })
                .collect(),
        )
    }

    fn own_grants(&self, position: usize) -> Result<EffectiveGrants, PolicyError> {
        let role = &self.policy.roles[position];
        let location = format!("role `{}`", role.id);
        let declared_by: Arc<str> = Arc::from(role.id.as_str());
        let mut grants = Vec::new();
        for grant in &role.grants {
            let scope = match &grant.scope {
                GrantScope::Tenant => Scope::Tenant,
                GrantScope::Location => Scope::Location,
                GrantScope::Related(relation) => {
                    match self.catalog.relations.get(relation.as_str()) {
                        Some(id) => Scope::Related(*id),
                        None if self.lenient => continue,
                        None => {
                            return Err(PolicyError::UnknownRelation {
                                role: role.id.clone(),
                                relation: relation.clone(),
                            });
                        }
                    }
                }
            };
            for key in grant.fields.keys() {
                let known = self.catalog.classes.contains_key(key)
                    || self.catalog.types.iter().any(|t| {
                        t.classified_fields
                            .iter()
                            .any(|(field, _)| **field == **key)
                    });
                if !known && !self.lenient {
                    return Err(PolicyError::UnknownField {
                        role: role.id.clone(),
                        key: key.clone(),
                    });
                }
            }
            let condition = compile_condition(self.env, grant.condition.as_deref(), &location)?;
            let scope_text: Arc<str> = Arc::from(grant.scope.to_string().as_str());
            if grant.permission_names().next().is_none() {
                return Err(PolicyError::EmptyGrant(role.id.clone()));
            }
            for pattern in grant.permission_names() {
                for perm in self.expand(pattern, &location)? {
                    grants.push((
                        perm,
                        CompiledGrant::new(
                            scope,
                            Arc::clone(&scope_text),
                            condition.clone(),
                            self.visibility(perm, &grant.fields),
                            grant.step_up,
                            Arc::clone(&declared_by),
                        ),
                    ));
                }
            }
        }
        Ok(grants)
    }

    fn effective(&mut self, position: usize) -> Result<EffectiveGrants, PolicyError> {
        if let Some(done) = &self.memo[position] {
            return Ok(done.clone());
        }
        let role = &self.policy.roles[position];
        if self.visiting[position] {
            return Err(PolicyError::InheritanceCycle(role.id.clone()));
        }
        self.visiting[position] = true;
        let mut grants = match &role.parent {
            Some(parent) => {
                let parent_position = *self.index.get(parent.as_str()).ok_or_else(|| {
                    PolicyError::UnknownReference {
                        location: format!("role `{}`", role.id),
                        what: "parent role",
                        id: parent.clone(),
                    }
                })?;
                self.effective(parent_position)?
            }
            None => Vec::new(),
        };
        let location = format!("role `{}`", role.id);
        let locked: Vec<PermId> = match self.policy.locked_grants.get(&role.role_type) {
            Some(patterns) => {
                let mut ids = Vec::new();
                for pattern in patterns {
                    ids.extend(
                        self.expand(pattern, &format!("locked grants of `{}`", role.role_type))?,
                    );
                }
                ids
            }
            None => Vec::new(),
        };
        let mut removed: FxHashSet<PermId> = FxHashSet::default();
        for pattern in &role.remove {
            for perm in self.expand(pattern, &location)? {
                if locked.contains(&perm) {
                    return Err(PolicyError::LockedGrantRemoved {
                        role: role.id.clone(),
                        role_type: role.role_type.clone(),
                        permission: self.catalog.perms[perm as usize].name.to_string(),
                    });
                }
                removed.insert(perm);
            }
        }
        grants.retain(|(perm, _)| !removed.contains(perm));
        grants.extend(self.own_grants(position)?);
        let locked_by: Arc<str> = Arc::from(format!("locked:{}", role.role_type).as_str());
        // A locked permission is held tenant-wide and unconditionally, whatever narrower grant
        // the role also states for it.
        for perm in locked {
            let held_fully = grants.iter().any(|(held, grant)| {
                *held == perm && grant.scope == Scope::Tenant && grant.condition.is_none()
            });
            if !held_fully {
                grants.push((
                    perm,
                    CompiledGrant::new(
                        Scope::Tenant,
                        Arc::from("tenant"),
                        None,
                        self.visibility(perm, &BTreeMap::new()),
                        false,
                        Arc::clone(&locked_by),
                    ),
                ));
            }
        }
        self.visiting[position] = false;
        self.memo[position] = Some(grants.clone());
        Ok(grants)
    }

    fn compile_all(
        mut self,
    ) -> Result<(Vec<CompiledRole>, FxHashMap<&'a str, usize>), PolicyError> {
        let perm_count = self.catalog.perms.len();
        let mut roles = Vec::with_capacity(self.policy.roles.len());
        for position in 0..self.policy.roles.len() {
            let grants = self.effective(position)?;
            let role = &self.policy.roles[position];
            let mut perms = PermSet::with_capacity(perm_count);
            let mut by_perm: Vec<Vec<Arc<CompiledGrant>>> =
                (0..perm_count).map(|_| Vec::new()).collect();
            for (perm, grant) in grants {
                perms.insert(perm);
                by_perm[perm as usize].push(grant);
            }
            // Cheapest first: unconditional tenant-scope grants decide without touching the
            // resource, so they lead.
            for grants in &mut by_perm {
                grants
                    .sort_by_key(|grant| (grant.condition.is_some(), grant.scope != Scope::Tenant));
            }
            roles.push(CompiledRole {
                id: Arc::from(role.id.as_str()),
                role_type: Arc::from(role.role_type.as_str()),
                perms,
                grants: by_perm,
            });
        }
        Ok((roles, self.index))
    }
}

/// `platform`: platform staff, whose key scopes name permissions of another catalog (what
/// this tenant lacks is skipped rather than rejected).
fn compile_principal(
    principal: &crate::model::Principal,
    catalog: &Catalog<'_>,
    platform: bool,
) -> Result<CompiledPrincipal, PolicyError> {
    validate_id("principal", &principal.id)?;
    let mut sessions = FxHashMap::default();
    for session in &principal.sessions {
        validate_id("session", &session.id)?;
        let entry = SessionEntry {
            revoked: session.revoked,
            expires_at: session
                .expires_at
                .map_or(i64::MAX, |at| at.timestamp_micros()),
        };
        if sessions.insert(session.id.as_str().into(), entry).is_some() {
            return Err(PolicyError::Duplicate {
                what: "session",
                id: session.id.clone(),
            });
        }
    }
    let mut api_keys = FxHashMap::default();
    for key in &principal.api_keys {
        validate_id("api key", &key.id)?;
        let location = format!("api key `{}`", key.id);
        let scopes = catalog.perm_set(&key.scopes, &location, platform)?;
        let entry = ApiKeyEntry {
            scopes,
            revoked: key.revoked,
            expires_at: key.expires_at.map_or(i64::MAX, |at| at.timestamp_micros()),
        };
        if api_keys.insert(key.id.as_str().into(), entry).is_some() {
            return Err(PolicyError::Duplicate {
                what: "api key",
                id: key.id.clone(),
            });
        }
    }
    let cel = owned_attributes_to_val(
        &principal.attributes,
        [
            (
                "id",
                Box::new(CelString::from(principal.id.clone())) as Box<dyn Val>,
            ),
            ("type", Box::new(CelString::from(principal.kind.as_str()))),
        ],
    );
    Ok(CompiledPrincipal {
        id: Arc::from(principal.id.as_str()),
        platform,
        kind: principal.kind,
        status: principal.status,
        token_version: principal.token_version,
        cel,
        sessions,
        api_keys,
        bindings: Vec::new(),
    })
}

fn compile_window(
    what: &'static str,
    id: &str,
    not_before: Option<DateTime<Utc>>,
    expires_at: Option<DateTime<Utc>>,
) -> Result<Window, PolicyError> {
    if let (Some(start), Some(end)) = (not_before, expires_at)
        && end <= start
    {
        return Err(PolicyError::EmptyWindow {
            what,
            id: id.to_owned(),
        });
    }
    Ok(Window::new(not_before, expires_at))
}

fn compile_any(
    policy: &TenantPolicy,
    platform: Option<&TenantPolicy>,
    revision: u64,
) -> Result<Snapshot, PolicyError> {
    let tenant = &policy.tenant;
    validate_id("tenant", &tenant.id)?;
    if tenant.time_zone.parse::<chrono_tz::Tz>().is_err() {
        return Err(PolicyError::UnknownTimeZone(tenant.time_zone.clone()));
    }
    let is_platform = tenant.id == PLATFORM_TENANT_ID;
    let catalog = compile_catalog(policy)?;
    let env = Arc::new(cel::Env::stdlib());

    // Roles, with the plan's custom role limit.
    let (mut roles, role_index) =
        // The platform's roles name permissions of the tenants' catalogs, not only its own:
        // they are checked leniently here and resolved against each tenant as it compiles.
        RoleCompiler::new(policy, &catalog, &env, is_platform)?.compile_all()?;
    if let Some(limit) = policy.entitlements.custom_role_limit {
        let count = policy.roles.iter().filter(|role| !role.built_in).count();
        if count > limit as usize {
            return Err(PolicyError::CustomRoleLimit { count, limit });
        }
    }

    // Relationships and the containers bindings name.
    let mut nodes = NodeTable::new(catalog.types.len());
    compile_relationships(&policy.relationships, policy, &catalog, &mut nodes)?;

    // Principals and their bindings.
    let mut principals: FxHashMap<Box<str>, CompiledPrincipal> = FxHashMap::default();
    for principal in &policy.principals {
        let compiled = compile_principal(principal, &catalog, is_platform)?;
        if principals
            .insert(principal.id.as_str().into(), compiled)
            .is_some()
        {
            return Err(PolicyError::Duplicate {
                what: "principal",
                id: principal.id.clone(),
            });
        }
    }
    let mut binding_ids: FxHashSet<&str> = FxHashSet::default();
    for binding in &policy.bindings {
        validate_id("binding", &binding.id)?;
        if !binding_ids.insert(&binding.id) {
            return Err(PolicyError::Duplicate {
                what: "binding",
                id: binding.id.clone(),
            });
        }
        if !binding.tenants.is_empty() && !is_platform {
            return Err(PolicyError::TenantsOnTenantBinding(binding.id.clone()));
        }
        let location = format!("binding `{}`", binding.id);
        let role = *role_index.get(binding.role.as_str()).ok_or_else(|| {
            PolicyError::UnknownReference {
                location: location.clone(),
                what: "role",
                id: binding.role.clone(),
            }
        })?;
        let window = compile_window(
            "binding",
            &binding.id,
            binding.not_before,
            binding.expires_at,
        )?;
        let locations = if binding.locations.is_empty() {
            None
        } else {
            let mut ids = Vec::with_capacity(binding.locations.len());
            for container in &binding.locations {
                let not_container = || PolicyError::BindingLocation {
                    binding: binding.id.clone(),
                    location: container.clone(),
                };
                let (kind, id) = split_typed_ref(container).ok_or_else(not_container)?;
                let type_id = *catalog.type_index.get(kind).ok_or_else(not_container)?;
                if !catalog.types[type_id as usize].container {
                    return Err(not_container());
                }
                validate_id("location", id)?;
                ids.push(nodes.intern(type_id, id));
            }
            Some(ids.into_boxed_slice())
        };
        let principal = principals
            .get_mut(binding.principal.as_str())
            .ok_or_else(|| PolicyError::UnknownReference {
                location,
                what: "principal",
                id: binding.principal.clone(),
            })?;
        principal.bindings.push(CompiledBinding {
            id: Arc::from(binding.id.as_str()),
            role: role as u32,
            locations,
            window,
            source: binding.source,
        });
    }

    // Constraints, indexed by the permissions they forbid.
    let mut constraints = Vec::new();
    let mut constraints_by_perm: Vec<Vec<u32>> =
        (0..catalog.perms.len()).map(|_| Vec::new()).collect();
    let mut constraint_ids: FxHashSet<&str> = FxHashSet::default();
    for constraint in &policy.constraints {
        validate_id("constraint", &constraint.id)?;
        if !constraint_ids.insert(&constraint.id) {
            return Err(PolicyError::Duplicate {
                what: "constraint",
                id: constraint.id.clone(),
            });
        }
        if constraint.permissions.is_empty() && constraint.categories.is_empty() {
            return Err(PolicyError::EmptyConstraint(constraint.id.clone()));
        }
        let location = format!("constraint `{}`", constraint.id);
        let forbidden = catalog.perm_set(&constraint.permissions, &location, false)?;
        let when_related = constraint
            .when_related
            .as_deref()
            .map(|relation| {
                catalog.relations.get(relation).copied().ok_or_else(|| {
                    PolicyError::UnknownReference {
                        location: location.clone(),
                        what: "relation",
                        id: relation.to_owned(),
                    }
                })
            })
            .transpose()?;
        let condition = compile_condition(&env, constraint.condition.as_deref(), &location)?;
        let index = constraints.len() as u32;
        for (perm, entry) in catalog.perms.iter().enumerate() {
            let by_category = constraint
                .categories
                .iter()
                .any(|category| **category == *entry.category);
            if forbidden.contains(perm as PermId) || by_category {
                constraints_by_perm[perm].push(index);
            }
        }
        constraints.push(CompiledConstraint {
            id: Arc::from(constraint.id.as_str()),
            description: Arc::from(constraint.description.as_str()),
            role_types: (!constraint.role_types.is_empty()).then(|| {
                constraint
                    .role_types
                    .iter()
                    .map(|role_type| Arc::from(role_type.as_str()))
                    .collect()
            }),
            when_related,
            condition,
        });
    }

    // Delegations, by delegate.
    let mut delegations: FxHashMap<Box<str>, Vec<CompiledDelegation>> = FxHashMap::default();
    let mut delegation_ids: FxHashSet<&str> = FxHashSet::default();
    for delegation in &policy.delegations {
        validate_id("delegation", &delegation.id)?;
        if !delegation_ids.insert(&delegation.id) {
            return Err(PolicyError::Duplicate {
                what: "delegation",
                id: delegation.id.clone(),
            });
        }
        let location = format!("delegation `{}`", delegation.id);
        for party in [&delegation.delegator, &delegation.delegate] {
            if !principals.contains_key(party.as_str()) {
                return Err(PolicyError::UnknownReference {
                    location: location.clone(),
                    what: "principal",
                    id: party.clone(),
                });
            }
        }
        if delegation.revoked {
            continue;
        }
        let window = compile_window(
            "delegation",
            &delegation.id,
            delegation.not_before,
            delegation.expires_at,
        )?;
        delegations
            .entry(delegation.delegate.as_str().into())
            .or_default()
            .push(CompiledDelegation {
                id: Arc::from(delegation.id.as_str()),
                delegator: Arc::from(delegation.delegator.as_str()),
                perms: catalog.perm_set(&delegation.permissions, &location, false)?,
                window,
            });
    }

    // Platform staff whose platform bindings reach this tenant.
    let mut platform_principals = FxHashMap::default();
    if let Some(platform) = platform {
        let (platform_roles, platform_index) =
            RoleCompiler::new(platform, &catalog, &env, true)?.compile_all()?;
        let offset = roles.len() as u32;
        roles.extend(platform_roles);
        for principal in &platform.principals {
            let mut compiled = compile_principal(principal, &catalog, true)?;
            for binding in platform
                .bindings
                .iter()
                .filter(|b| b.principal == principal.id)
            {
                let reaches = binding.tenants.is_empty() || binding.tenants.contains(&tenant.id);
                let Some(role) = platform_index.get(binding.role.as_str()) else {
                    continue;
                };
                // Locations are honoured where this tenant has such a container; a binding
                // limited to containers this tenant lacks reaches nothing here.
                let locations = if binding.locations.is_empty() {
                    None
                } else {
                    let ids: Vec<NodeId> = binding
                        .locations
                        .iter()
                        .filter_map(|container| {
                            let (kind, id) = split_typed_ref(container)?;
                            let type_id = *catalog.type_index.get(kind)?;
                            catalog.types[type_id as usize]
                                .container
                                .then(|| nodes.intern(type_id, id))
                        })
                        .collect();
                    if ids.is_empty() {
                        continue;
                    }
                    Some(ids.into_boxed_slice())
                };
                if reaches {
                    compiled.bindings.push(CompiledBinding {
                        id: Arc::from(binding.id.as_str()),
                        role: offset + *role as u32,
                        locations,
                        window: Window::new(binding.not_before, binding.expires_at),
                        source: binding.source,
                    });
                }
            }
            if !compiled.bindings.is_empty() {
                platform_principals.insert(principal.id.as_str().into(), compiled);
            }
        }
    }

    let (nodes, facts) = nodes.into_facts();
    let tenant_cel = owned_attributes_to_val(
        &BTreeMap::new(),
        [
            (
                "id",
                Box::new(CelString::from(tenant.id.clone())) as Box<dyn Val>,
            ),
            ("name", Box::new(CelString::from(tenant.name.clone()))),
            (
                "time_zone",
                Box::new(CelString::from(tenant.time_zone.clone())),
            ),
        ],
    );
    Ok(Snapshot {
        tenant_id: Arc::from(tenant.id.as_str()),
        tenant_status: tenant.status,
        revision,
        env,
        tenant_cel,
        types: catalog.types,
        type_index: catalog.type_index,
        perms: catalog.perms,
        roles,
        principals,
        platform_principals,
        constraints,
        constraints_by_perm,
        nodes,
        facts,
        delegations,
    })
}

//! A generated tenant ("world"): roles, principals, bindings, relationships, constraints and
//! delegations over the fixed [`crate::catalog`], as plain values, and the policy it compiles
//! from.
//!
//! Every world is a valid policy by construction (a generated world that does not compile is a
//! bug in the generator, reported as such), so every request is decided rather than refused.

use std::collections::BTreeMap;

use authz_core::model::{
    ApiKey, Binding, BindingSource, Constraint, Delegation, Entitlements, Grant, GrantScope,
    LockedGrant, Principal, PrincipalStatus, Relationship, Role, Session, Tenant, TenantStatus,
};
use authz_core::{AttrValue, FieldVisibility, PrincipalKind, Snapshot, TenantPolicy};
use chrono::{DateTime, TimeDelta, Utc};

use crate::catalog::{self, EXPORTS_FEATURE, LOCKED, PRINCIPAL_IDS};

/// A condition a grant or constraint may carry, over the inputs generated requests vary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cond {
    /// `context.level > n`; an error when the request has no `level`.
    LevelAbove(i64),
    /// `resource.amount < n`; an error when the resource has no `amount`.
    AmountBelow(i64),
    /// `principal.clearance >= n`; an error when the principal has no `clearance`.
    ClearanceAtLeast(i64),
    /// `context.level`: never a bool, so it always fails to evaluate.
    NotABool,
}

impl Cond {
    /// The CEL source.
    pub fn source(self) -> String {
        match self {
            Cond::LevelAbove(n) => format!("context.level > {n}"),
            Cond::AmountBelow(n) => format!("resource.amount < {n}"),
            Cond::ClearanceAtLeast(n) => format!("principal.clearance >= {n}"),
            Cond::NotABool => "context.level".to_owned(),
        }
    }
}

/// Which resources a grant covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScopeDef {
    Tenant,
    Location,
    /// One of [`catalog::SUBJECT_RELATIONS`].
    Related(&'static str),
}

impl ScopeDef {
    pub fn text(self) -> String {
        match self {
            ScopeDef::Tenant => "tenant".to_owned(),
            ScopeDef::Location => "location".to_owned(),
            ScopeDef::Related(relation) => format!("related:{relation}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct GrantDef {
    /// An exact permission or a pattern.
    pub permission: &'static str,
    pub scope: ScopeDef,
    pub condition: Option<Cond>,
    /// Sensitivity class or classified field → visibility.
    pub fields: BTreeMap<&'static str, FieldVisibility>,
    pub step_up: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RoleDef {
    pub role_type: &'static str,
    /// An earlier role (so there is never a cycle).
    pub parent: Option<usize>,
    /// Inherited permissions (or patterns) dropped.
    pub remove: Vec<&'static str>,
    pub grants: Vec<GrantDef>,
}

/// `[start, end)` in minutes from [`base_time`]; `None` bounds are open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Window {
    pub start: Option<i64>,
    pub end: Option<i64>,
}

impl Window {
    pub fn always() -> Self {
        Window::default()
    }

    /// Inclusive start, exclusive end.
    pub fn contains(self, minute: i64) -> bool {
        self.start.is_none_or(|start| start <= minute) && self.end.is_none_or(|end| minute < end)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct SessionDef {
    pub revoked: bool,
    /// Minute at which it expires (exclusive).
    pub expires: Option<i64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ApiKeyDef {
    pub scopes: Vec<&'static str>,
    pub revoked: bool,
    pub expires: Option<i64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PrincipalDef {
    pub kind: PrincipalKind,
    pub status: PrincipalStatus,
    pub token_version: u64,
    /// `principal.clearance`, read by [`Cond::ClearanceAtLeast`].
    pub clearance: Option<i64>,
    pub sessions: Vec<SessionDef>,
    pub api_keys: Vec<ApiKeyDef>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct BindingDef {
    pub principal: usize,
    pub role: usize,
    /// Containers (`type`, `id`) the binding is limited to; empty is tenant-wide.
    pub locations: Vec<(&'static str, &'static str)>,
    pub window: Window,
    pub source: BindingSource,
}

/// What a relationship points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum FactSubject {
    Container(&'static str, &'static str),
    /// A user id, which may name no principal of the tenant (or a service principal).
    User(&'static str),
}

/// `resource_type:resource_id#relation@subject`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Fact {
    pub resource_type: &'static str,
    pub resource_id: &'static str,
    pub relation: &'static str,
    pub subject: FactSubject,
}

impl Fact {
    /// The relationship this fact is in a policy.
    pub fn relationship(&self) -> Relationship {
        relationship(self)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ConstraintDef {
    pub permissions: Vec<&'static str>,
    pub categories: Vec<&'static str>,
    /// Applies only to holders of an active binding of one of these role types.
    pub role_types: Vec<&'static str>,
    /// Applies only when the principal holds this relation on the resource.
    pub when_related: Option<&'static str>,
    pub condition: Option<Cond>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DelegationDef {
    pub delegator: usize,
    pub delegate: usize,
    pub permissions: Vec<&'static str>,
    pub window: Window,
    pub revoked: bool,
}

/// One generated tenant.
#[derive(Debug, Clone, PartialEq)]
pub struct World {
    pub suspended: bool,
    /// The tenant has the feature `patient.export` needs.
    pub entitled_exports: bool,
    /// What every `admin` role keeps of `patient.view` ([`LOCKED`]): nothing, the plain
    /// `locked_grants: {admin: [patient.view]}` (`Some(ScopeDef::Tenant)`), or a locked grant
    /// with another scope, `{admin: [{permission: patient.view, scope: …}]}`.
    pub locked: Option<ScopeDef>,
    pub roles: Vec<RoleDef>,
    pub principals: Vec<PrincipalDef>,
    pub bindings: Vec<BindingDef>,
    pub facts: Vec<Fact>,
    pub constraints: Vec<ConstraintDef>,
    pub delegations: Vec<DelegationDef>,
}

/// The instant minute 0 of every world stands for.
pub fn base_time() -> DateTime<Utc> {
    DateTime::from_timestamp(1_748_876_400, 0).unwrap_or_default()
}

/// The instant `minute` minutes after [`base_time`].
pub fn at_minute(minute: i64) -> DateTime<Utc> {
    base_time() + TimeDelta::minutes(minute)
}

pub fn role_id(index: usize) -> String {
    format!("role{index}")
}

pub fn binding_id(index: usize) -> String {
    format!("b{index}")
}

pub fn constraint_id(index: usize) -> String {
    format!("k{index}")
}

pub fn delegation_id(index: usize) -> String {
    format!("dg{index}")
}

pub fn session_id(principal: usize, index: usize) -> String {
    format!("{}-s{index}", PRINCIPAL_IDS[principal])
}

pub fn api_key_id(principal: usize, index: usize) -> String {
    format!("{}-k{index}", PRINCIPAL_IDS[principal])
}

fn owned(names: &[&'static str]) -> Vec<String> {
    names.iter().map(|name| (*name).to_owned()).collect()
}

impl World {
    pub fn principal_id(&self, index: usize) -> &'static str {
        PRINCIPAL_IDS[index]
    }

    /// The index of the principal with this id and kind.
    pub fn principal_index(&self, id: &str, kind: PrincipalKind) -> Option<usize> {
        (0..self.principals.len())
            .find(|index| PRINCIPAL_IDS[*index] == id && self.principals[*index].kind == kind)
    }

    /// Bindings of principal `index`, in declaration order, with their index.
    pub fn bindings_of(&self, principal: usize) -> impl Iterator<Item = (usize, &BindingDef)> {
        self.bindings
            .iter()
            .enumerate()
            .filter(move |(_, binding)| binding.principal == principal)
    }

    /// Every instant where something starts or stops being valid: window edges and expiries.
    pub fn edges(&self) -> Vec<i64> {
        let windows = self
            .bindings
            .iter()
            .map(|b| b.window)
            .chain(self.delegations.iter().map(|d| d.window));
        let mut edges: Vec<i64> = windows
            .flat_map(|w| w.start.into_iter().chain(w.end))
            .collect();
        for principal in &self.principals {
            edges.extend(principal.sessions.iter().filter_map(|s| s.expires));
            edges.extend(principal.api_keys.iter().filter_map(|k| k.expires));
        }
        edges.sort_unstable();
        edges.dedup();
        edges
    }

    /// The policy of tenant `tenant_id`.
    pub fn policy(&self, tenant_id: &str) -> TenantPolicy {
        TenantPolicy {
            tenant: Tenant {
                id: tenant_id.to_owned(),
                name: format!("generated tenant {tenant_id}"),
                status: if self.suspended {
                    TenantStatus::Suspended
                } else {
                    TenantStatus::Active
                },
                time_zone: "UTC".to_owned(),
            },
            entitlements: Entitlements {
                plan: "generated".to_owned(),
                features: if self.entitled_exports {
                    vec![EXPORTS_FEATURE.to_owned()]
                } else {
                    Vec::new()
                },
                custom_role_limit: None,
            },
            catalog: catalog::catalog(),
            locked_grants: self
                .locked
                .map(|scope| {
                    let entry = match scope {
                        ScopeDef::Tenant => LockedGrant::from(LOCKED.1),
                        scope => LockedGrant::Grant(grant(&GrantDef {
                            permission: LOCKED.1,
                            scope,
                            condition: None,
                            fields: BTreeMap::new(),
                            step_up: false,
                        })),
                    };
                    BTreeMap::from([(LOCKED.0.to_owned(), vec![entry])])
                })
                .unwrap_or_default(),
            roles: self.roles.iter().enumerate().map(role).collect(),
            constraints: self
                .constraints
                .iter()
                .enumerate()
                .map(constraint)
                .collect(),
            principals: self.principals.iter().enumerate().map(principal).collect(),
            bindings: self.bindings.iter().enumerate().map(binding).collect(),
            relationships: self.facts.iter().map(relationship).collect(),
            delegations: self
                .delegations
                .iter()
                .enumerate()
                .map(delegation)
                .collect(),
        }
    }

    /// Compiles [`World::policy`] at revision 1; a world that does not compile is a generator
    /// bug, returned as a message naming the tenant and the error.
    pub fn compile(&self, tenant_id: &str) -> Result<Snapshot, String> {
        Snapshot::compile(&self.policy(tenant_id), None, 1)
            .map_err(|error| format!("generated tenant `{tenant_id}` does not compile: {error}"))
    }
}

fn window_bounds(window: Window) -> (Option<DateTime<Utc>>, Option<DateTime<Utc>>) {
    (window.start.map(at_minute), window.end.map(at_minute))
}

fn role((index, def): (usize, &RoleDef)) -> Role {
    Role {
        id: role_id(index),
        name: format!("Role {index}"),
        role_type: def.role_type.to_owned(),
        parent: def.parent.map(role_id),
        remove: owned(&def.remove),
        grants: def.grants.iter().map(grant).collect(),
        built_in: true,
        ..Role::default()
    }
}

fn grant(def: &GrantDef) -> Grant {
    Grant {
        permission: Some(def.permission.to_owned()),
        permissions: Vec::new(),
        scope: match def.scope {
            ScopeDef::Tenant => GrantScope::Tenant,
            ScopeDef::Location => GrantScope::Location,
            ScopeDef::Related(relation) => GrantScope::Related(relation.to_owned()),
        },
        condition: def.condition.map(Cond::source),
        fields: def
            .fields
            .iter()
            .map(|(key, visibility)| ((*key).to_owned(), *visibility))
            .collect(),
        step_up: def.step_up,
    }
}

fn principal((index, def): (usize, &PrincipalDef)) -> Principal {
    Principal {
        id: PRINCIPAL_IDS[index].to_owned(),
        kind: def.kind,
        display_name: String::new(),
        status: def.status,
        token_version: def.token_version,
        attributes: def
            .clearance
            .map(|clearance| BTreeMap::from([("clearance".to_owned(), AttrValue::Int(clearance))]))
            .unwrap_or_default(),
        sessions: def
            .sessions
            .iter()
            .enumerate()
            .map(|(at, session)| Session {
                id: session_id(index, at),
                revoked: session.revoked,
                expires_at: session.expires.map(at_minute),
            })
            .collect(),
        api_keys: def
            .api_keys
            .iter()
            .enumerate()
            .map(|(at, key)| ApiKey {
                id: api_key_id(index, at),
                scopes: owned(&key.scopes),
                expires_at: key.expires.map(at_minute),
                revoked: key.revoked,
                rate_limit_per_second: None,
                secret_hash: String::new(),
            })
            .collect(),
    }
}

fn binding((index, def): (usize, &BindingDef)) -> Binding {
    let (not_before, expires_at) = window_bounds(def.window);
    Binding {
        id: binding_id(index),
        principal: PRINCIPAL_IDS[def.principal].to_owned(),
        role: role_id(def.role),
        locations: def
            .locations
            .iter()
            .map(|(kind, id)| format!("{kind}:{id}"))
            .collect(),
        tenants: Vec::new(),
        not_before,
        expires_at,
        source: def.source,
        reason: String::new(),
    }
}

fn relationship(fact: &Fact) -> Relationship {
    let (subject_type, subject_id) = match fact.subject {
        FactSubject::Container(kind, id) => (kind, id),
        FactSubject::User(id) => ("user", id),
    };
    Relationship {
        resource_type: fact.resource_type.to_owned(),
        resource_id: fact.resource_id.to_owned(),
        relation: fact.relation.to_owned(),
        subject_type: subject_type.to_owned(),
        subject_id: subject_id.to_owned(),
    }
}

fn constraint((index, def): (usize, &ConstraintDef)) -> Constraint {
    Constraint {
        id: constraint_id(index),
        description: format!("generated constraint {index}"),
        permissions: owned(&def.permissions),
        categories: owned(&def.categories),
        role_types: owned(&def.role_types),
        when_related: def.when_related.map(str::to_owned),
        condition: def.condition.map(Cond::source),
    }
}

fn delegation((index, def): (usize, &DelegationDef)) -> Delegation {
    let (not_before, expires_at) = window_bounds(def.window);
    Delegation {
        id: delegation_id(index),
        delegator: PRINCIPAL_IDS[def.delegator].to_owned(),
        delegate: PRINCIPAL_IDS[def.delegate].to_owned(),
        permissions: owned(&def.permissions),
        not_before,
        expires_at,
        revoked: def.revoked,
        reason: String::new(),
    }
}

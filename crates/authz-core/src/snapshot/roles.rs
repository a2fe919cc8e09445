//! Roles compiled to what a check reads: per role, a permission bitset and its grants indexed
//! by permission, with inheritance, removals and locked grants already applied.

use std::collections::BTreeMap;
use std::sync::Arc;

use rustc_hash::{FxHashMap, FxHashSet};

use super::catalog::{Catalog, PermId, PermSet, RelationId};
use super::compile_condition;
use super::ids::UniqueIds;
use crate::condition::Condition;
use crate::decision::FieldVisibilities;
use crate::error::PolicyError;
use crate::model::{FieldVisibility, Grant, GrantScope, Origin, Role, TenantPolicy};

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

/// Whether a visibility shows every classified field in full (or there are none).
pub(crate) fn all_full(visibility: Option<&[(Arc<str>, FieldVisibility)]>) -> bool {
    visibility.is_none_or(|fields| fields.iter().all(|(_, v)| *v == FieldVisibility::Full))
}

/// Refuses more custom (not built-in) roles than the plan allows.
pub(super) fn check_custom_role_limit(policy: &TenantPolicy) -> Result<(), PolicyError> {
    if let Some(limit) = policy.entitlements.custom_role_limit {
        let count = policy.roles.iter().filter(|role| !role.built_in).count();
        if count > limit as usize {
            return Err(PolicyError::CustomRoleLimit { count, limit });
        }
    }
    Ok(())
}

/// Role positions in the policy, by role id.
pub(super) type RoleIndex<'a> = FxHashMap<&'a str, usize>;

type EffectiveGrants = Vec<(PermId, Arc<CompiledGrant>)>;

pub(super) struct RoleCompiler<'a, 'c> {
    policy: &'a TenantPolicy,
    catalog: &'c Catalog<'c>,
    env: &'a cel::Env,
    /// Platform roles compile against another tenant's catalog: what it lacks is skipped
    /// (see [`Origin::lenient`]).
    origin: Origin,
    index: RoleIndex<'a>,
    /// Effective grants per role position, once computed.
    memo: Vec<Option<EffectiveGrants>>,
    /// Locked grants per role type, once compiled.
    locked: FxHashMap<&'a str, EffectiveGrants>,
    visiting: Vec<bool>,
}

impl<'a, 'c> RoleCompiler<'a, 'c> {
    pub(super) fn new(
        policy: &'a TenantPolicy,
        catalog: &'c Catalog<'c>,
        env: &'a cel::Env,
        origin: Origin,
    ) -> Result<Self, PolicyError> {
        let mut ids = UniqueIds::new("role");
        let mut index = FxHashMap::default();
        for (position, role) in policy.roles.iter().enumerate() {
            ids.claim(&role.id)?;
            index.insert(role.id.as_str(), position);
        }
        Ok(RoleCompiler {
            policy,
            catalog,
            env,
            origin,
            index,
            memo: (0..policy.roles.len()).map(|_| None).collect(),
            locked: FxHashMap::default(),
            visiting: vec![false; policy.roles.len()],
        })
    }

    fn expand(&self, pattern: &str, location: &str) -> Result<Vec<PermId>, PolicyError> {
        self.catalog
            .expand_checked(pattern, location, self.origin.lenient())
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

    /// The compiled scope of `grant`; `None` when a lenient compile skips a relation this
    /// catalog lacks.
    fn scope(&self, grant: &Grant, location: &str) -> Result<Option<Scope>, PolicyError> {
        Ok(Some(match &grant.scope {
            GrantScope::Tenant => Scope::Tenant,
            GrantScope::Location => Scope::Location,
            GrantScope::Related(relation) => match self.catalog.relations.get(relation.as_str()) {
                Some(id) => Scope::Related(*id),
                None if self.origin.lenient() => return Ok(None),
                None => {
                    return Err(PolicyError::UnknownRelation {
                        location: location.to_owned(),
                        relation: relation.clone(),
                    });
                }
            },
        }))
    }

    /// Refuses a `fields` key that is neither a sensitivity class nor a classified field: a
    /// typo would otherwise silently show the default.
    fn check_fields(&self, grant: &Grant, location: &str) -> Result<(), PolicyError> {
        if self.origin.lenient() {
            return Ok(());
        }
        match grant
            .fields
            .keys()
            .find(|key| !self.catalog.knows_field(key))
        {
            Some(key) => Err(PolicyError::UnknownField {
                location: location.to_owned(),
                key: key.clone(),
            }),
            None => Ok(()),
        }
    }

    /// One grant entry, per permission it covers. `location` names who states it in errors;
    /// `declared_by` in decisions and explanations.
    fn compile_grant(
        &self,
        grant: &Grant,
        location: &str,
        declared_by: &Arc<str>,
    ) -> Result<EffectiveGrants, PolicyError> {
        let Some(scope) = self.scope(grant, location)? else {
            return Ok(Vec::new());
        };
        self.check_fields(grant, location)?;
        let condition = compile_condition(self.env, grant.condition.as_deref(), location)?;
        let scope_text: Arc<str> = Arc::from(grant.scope.to_string().as_str());
        if grant.permission_names().next().is_none() {
            return Err(PolicyError::EmptyGrant {
                location: location.to_owned(),
            });
        }
        let mut grants = Vec::new();
        for pattern in grant.permission_names() {
            let mut perms = self.expand(pattern, location)?;
            if let (GrantScope::Related(name), Scope::Related(relation)) = (&grant.scope, scope) {
                perms = self.within_reach(perms, relation, || PolicyError::RelationOutOfReach {
                    location: location.to_owned(),
                    permission: pattern.to_owned(),
                    relation: name.clone(),
                })?;
            }
            for perm in perms {
                grants.push((
                    perm,
                    CompiledGrant::new(
                        scope,
                        Arc::clone(&scope_text),
                        condition.clone(),
                        self.visibility(perm, &grant.fields),
                        grant.step_up,
                        Arc::clone(declared_by),
                    ),
                ));
            }
        }
        Ok(grants)
    }

    /// The permissions among `perms` whose resources a principal can ever hold `relation` on.
    /// A pattern keeps those (the others could never be allowed through this scope); when none
    /// is left of a non-empty expansion (an exact permission that cannot hold it, or a pattern
    /// none of whose permissions can) the grant is `refused`, or skipped when compiling
    /// leniently.
    fn within_reach(
        &self,
        perms: Vec<PermId>,
        relation: RelationId,
        refused: impl FnOnce() -> PolicyError,
    ) -> Result<Vec<PermId>, PolicyError> {
        let reachable: Vec<PermId> = perms
            .iter()
            .copied()
            .filter(|perm| self.catalog.can_hold(*perm, relation))
            .collect();
        if reachable.is_empty() && !perms.is_empty() && !self.origin.lenient() {
            return Err(refused());
        }
        Ok(reachable)
    }

    fn own_grants(&self, role: &Role) -> Result<EffectiveGrants, PolicyError> {
        let location = format!("role `{}`", role.id);
        let declared_by: Arc<str> = Arc::from(role.id.as_str());
        let mut grants = Vec::new();
        for grant in &role.grants {
            grants.extend(self.compile_grant(grant, &location, &declared_by)?);
        }
        Ok(grants)
    }

    /// The grants role type `role_type` always keeps, compiled once per role type.
    fn locked(&mut self, role_type: &'a str) -> Result<EffectiveGrants, PolicyError> {
        if let Some(done) = self.locked.get(role_type) {
            return Ok(done.clone());
        }
        let mut grants = Vec::new();
        if let Some(entries) = self.policy.locked_grants.get(role_type) {
            let location = format!("locked grants of `{role_type}`");
            let declared_by: Arc<str> = Arc::from(format!("locked:{role_type}").as_str());
            for entry in entries {
                grants.extend(self.compile_grant(&entry.to_grant(), &location, &declared_by)?);
            }
        }
        self.locked.insert(role_type, grants.clone());
        Ok(grants)
    }

    fn effective(&mut self, position: usize) -> Result<EffectiveGrants, PolicyError> {
        if let Some(done) = &self.memo[position] {
            return Ok(done.clone());
        }
        let policy = self.policy;
        let role = &policy.roles[position];
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
        let locked = self.locked(&role.role_type)?;
        let mut removed: FxHashSet<PermId> = FxHashSet::default();
        for pattern in &role.remove {
            for perm in self.expand(pattern, &location)? {
                if locked.iter().any(|(held, _)| *held == perm) {
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
        grants.extend(self.own_grants(role)?);
        // A locked grant holds with its own scope and condition whatever the role states for
        // the permission (which holds as well). It adds nothing where the role already holds
        // the permission tenant-wide and unconditionally.
        for (perm, grant) in locked {
            let held_fully = grants.iter().any(|(held, grant)| {
                *held == perm && grant.scope == Scope::Tenant && grant.condition.is_none()
            });
            if !held_fully {
                grants.push((perm, grant));
            }
        }
        self.visiting[position] = false;
        self.memo[position] = Some(grants.clone());
        Ok(grants)
    }

    /// Every role of the policy, in policy order, with the index bindings resolve roles by.
    pub(super) fn compile_all(mut self) -> Result<(Vec<CompiledRole>, RoleIndex<'a>), PolicyError> {
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

//! The reference model: the documented decision rules (`ARCHITECTURE.md`, "The decision, in
//! order" and "Semantics worth knowing"), written a second time over a [`World`]'s plain values,
//! independently of the engine's compiled snapshot.
//!
//! It answers everything a caller reads from a decision — allow or deny, the reason code (with
//! the documented precedence among grant-stage denies), the deciding role, binding, scope,
//! constraint and delegation, the field visibility and step-up obligations — so a property can
//! compare them all, not just the verdict. It is slow and obvious on purpose: every rule is a
//! few lines that read like the documentation.

use std::collections::{BTreeMap, BTreeSet};

use authz_core::model::PrincipalStatus;
use authz_core::{FieldVisibility, PrincipalKind, Reason};

use crate::catalog::{self, CLASSES, EXPORTS_FEATURE, LOCKED, TypeDef};
pub use crate::expected::{Expected, Notes};
use crate::request::Request;
use crate::world::{
    BindingDef, Cond, FactSubject, ScopeDef, World, api_key_id, binding_id, constraint_id,
    delegation_id, role_id, session_id,
};

/// A resource or container, as `(type, id)`.
type Node<'a> = (&'a str, &'a str);

/// One grant a role holds for one permission, after inheritance, removals and locks.
#[derive(Debug, Clone)]
struct HeldGrant {
    scope: ScopeDef,
    condition: Option<Cond>,
    fields: BTreeMap<&'static str, FieldVisibility>,
    step_up: bool,
}

/// The grants role `role` holds for `permission`, in the order the documentation gives: the
/// parent's (unless this role removes the permission), then its own (a `related:` grant only
/// where the permission's resources can hold the relation), then a locked grant its
/// role type always keeps (with the locked grant's scope, unconditional) unless it already
/// holds one that is tenant-wide and unconditional.
fn held_grants(world: &World, role: usize, permission: &str) -> Vec<HeldGrant> {
    let def = &world.roles[role];
    let removed = def
        .remove
        .iter()
        .any(|pattern| catalog::covers(pattern, permission));
    let mut grants = match def.parent {
        Some(parent) if !removed => held_grants(world, parent, permission),
        _ => Vec::new(),
    };
    // A `related:` grant covers only the permissions whose resources can hold its relation.
    let reaches = |scope: ScopeDef| match scope {
        ScopeDef::Related(relation) => catalog::permission_can_hold(permission, relation),
        ScopeDef::Tenant | ScopeDef::Location => true,
    };
    grants.extend(
        def.grants
            .iter()
            .filter(|grant| catalog::covers(grant.permission, permission) && reaches(grant.scope))
            .map(|grant| HeldGrant {
                scope: grant.scope,
                condition: grant.condition,
                fields: grant.fields.clone(),
                step_up: grant.step_up,
            }),
    );
    let locked = world
        .locked
        .filter(|_| def.role_type == LOCKED.0 && permission == LOCKED.1);
    let held_fully = grants
        .iter()
        .any(|grant| grant.scope == ScopeDef::Tenant && grant.condition.is_none());
    if let Some(scope) = locked
        && !held_fully
    {
        grants.push(HeldGrant {
            scope,
            condition: None,
            fields: BTreeMap::new(),
            step_up: false,
        });
    }
    grants
}

/// The permissions role `role` holds, with any scope or condition.
pub fn role_permissions(world: &World, role: usize) -> Vec<&'static str> {
    catalog::PERMISSIONS
        .into_iter()
        .filter(|permission| !held_grants(world, role, permission).is_empty())
        .collect()
}

/// Resources of `permission`'s type that binding `binding` reaches and where one of its role's
/// grants for `permission` has scope, conditions aside: where the binding could allow.
/// Steers request generation towards allows; not part of the model.
pub fn fitting(world: &World, binding: usize, permission: &str) -> Vec<&'static str> {
    let (resource_type, _) = permission.split_once('.').unwrap_or((permission, ""));
    let Some(type_def) = catalog::type_def(resource_type) else {
        return Vec::new();
    };
    let def = &world.bindings[binding];
    let grants = held_grants(world, def.role, permission);
    type_def
        .ids
        .iter()
        .copied()
        .filter(|id| {
            let view = ResourceView::new(world, resource_type, id);
            view.reached_by(def)
                && grants
                    .iter()
                    .any(|grant| view.in_scope(grant.scope, def.principal, type_def))
        })
        .collect()
}

/// Where the resource sits and who holds which relation on it.
struct ResourceView<'w> {
    world: &'w World,
    node: Node<'w>,
    /// The resource appears in a relationship or a binding's locations.
    known: bool,
    /// Every container it sits in, transitively.
    ancestors: BTreeSet<Node<'static>>,
}

impl<'w> ResourceView<'w> {
    fn new(world: &'w World, resource_type: &'w str, id: &'w str) -> Self {
        let node = (resource_type, id);
        let known = world.facts.iter().any(|fact| {
            (fact.resource_type, fact.resource_id) == node
                || matches!(fact.subject, FactSubject::Container(kind, container) if (kind, container) == node)
        }) || world
            .bindings
            .iter()
            .any(|binding| binding.locations.iter().any(|(kind, id)| (*kind, *id) == node));
        let mut ancestors = BTreeSet::new();
        let mut frontier = vec![node];
        while let Some(at) = frontier.pop() {
            for fact in &world.facts {
                if let FactSubject::Container(kind, container) = fact.subject
                    && (fact.resource_type, fact.resource_id) == at
                    && ancestors.insert((kind, container))
                {
                    frontier.push((kind, container));
                }
            }
        }
        ResourceView {
            world,
            node,
            known,
            ancestors,
        }
    }

    /// Where principal `principal` holds `relation`: on the resource itself (`Some(false)`),
    /// only through a container (`Some(true)`), or not at all.
    fn relation(&self, principal: usize, relation: &str) -> Option<bool> {
        let def = &self.world.principals[principal];
        if def.kind != PrincipalKind::User {
            return None;
        }
        let id = self.world.principal_id(principal);
        let holds_on = |node: Node<'_>| {
            self.world.facts.iter().any(|fact| {
                (fact.resource_type, fact.resource_id) == node
                    && fact.relation == relation
                    && fact.subject == FactSubject::User(id)
            })
        };
        if !self.known {
            None
        } else if holds_on(self.node) {
            Some(false)
        } else if self.ancestors.iter().any(|ancestor| holds_on(*ancestor)) {
            Some(true)
        } else {
            None
        }
    }

    fn holds(&self, principal: usize, relation: &str) -> bool {
        self.relation(principal, relation).is_some()
    }

    /// A binding limited to containers reaches what sits inside one of them (or is one).
    fn reached_by(&self, binding: &BindingDef) -> bool {
        binding.locations.is_empty()
            || (self.known
                && binding
                    .locations
                    .iter()
                    .any(|location| *location == self.node || self.ancestors.contains(location)))
    }

    fn in_scope(&self, scope: ScopeDef, principal: usize, type_def: &TypeDef) -> bool {
        match scope {
            ScopeDef::Tenant => true,
            ScopeDef::Location => self.known && (type_def.container || !self.ancestors.is_empty()),
            ScopeDef::Related(relation) => self.holds(principal, relation),
        }
    }
}

/// A condition's value for `principal` asking `request`; `Err` when it cannot be evaluated.
fn evaluate(
    condition: Cond,
    world: &World,
    principal: usize,
    request: &Request,
) -> Result<bool, ()> {
    match condition {
        Cond::LevelAbove(n) => request.level.map(|level| level > n).ok_or(()),
        Cond::AmountBelow(n) => request.amount.map(|amount| amount < n).ok_or(()),
        Cond::ClearanceAtLeast(n) => world.principals[principal]
            .clearance
            .map(|clearance| clearance >= n)
            .ok_or(()),
        Cond::NotABool => Err(()),
    }
}

/// How much of each classified field of `type_def` a grant shows: what it says of the field,
/// else of the field's class, else the class default.
fn shown(type_def: &TypeDef, grant: &HeldGrant) -> Option<BTreeMap<String, FieldVisibility>> {
    if type_def.fields.is_empty() {
        return None;
    }
    Some(
        type_def
            .fields
            .iter()
            .map(|(field, class)| {
                let default = CLASSES
                    .iter()
                    .find(|(name, _)| name == class)
                    .map_or(FieldVisibility::Off, |(_, visibility)| *visibility);
                let visibility = grant
                    .fields
                    .get(field)
                    .or_else(|| grant.fields.get(class))
                    .copied()
                    .unwrap_or(default);
                ((*field).to_owned(), visibility)
            })
            .collect(),
    )
}

/// The grant stage for `subject`: the first matching grant decides the basis, every matching
/// grant widens the field visibility, step-up stays only if every one of them asks for it;
/// with no match, the deny closest to an allow.
fn grant_stage(
    world: &World,
    request: &Request,
    view: &ResourceView<'_>,
    type_def: &TypeDef,
    subject: usize,
) -> Expected {
    let permission = request.permission();
    let mut closest = Reason::NoMatchingGrant;
    let mut note = |reason: Reason| {
        let rank = |reason: Reason| match reason {
            Reason::ConditionError => 3,
            Reason::ConditionNotMet => 2,
            Reason::OutOfScope => 1,
            _ => 0,
        };
        if rank(reason) > rank(closest) {
            closest = reason;
        }
    };
    let mut allowed: Option<Expected> = None;
    for (index, binding) in world.bindings_of(subject) {
        if !binding.window.contains(request.minute) {
            continue;
        }
        let mut grants = held_grants(world, binding.role, &permission);
        if grants.is_empty() {
            continue;
        }
        if !view.reached_by(binding) {
            note(Reason::OutOfScope);
            continue;
        }
        // Unconditional tenant-wide grants are tried first (the documented order among a
        // role's grants), which decides the reported scope.
        grants.sort_by_key(|grant| (grant.condition.is_some(), grant.scope != ScopeDef::Tenant));
        for grant in &grants {
            if !view.in_scope(grant.scope, subject, type_def) {
                note(Reason::OutOfScope);
                continue;
            }
            if let Some(condition) = grant.condition {
                match evaluate(condition, world, subject, request) {
                    Ok(true) => {}
                    Ok(false) => {
                        note(Reason::ConditionNotMet);
                        continue;
                    }
                    Err(()) => {
                        note(Reason::ConditionError);
                        continue;
                    }
                }
            }
            let visibility = shown(type_def, grant);
            match &mut allowed {
                None => {
                    let through_container = match grant.scope {
                        ScopeDef::Related(relation) => {
                            view.relation(subject, relation) == Some(true)
                        }
                        _ => false,
                    };
                    allowed = Some(Expected {
                        allowed: true,
                        reason: Some(Reason::Granted),
                        permission: permission.clone(),
                        role_id: role_id(binding.role),
                        binding_id: binding_id(index),
                        scope: Some(grant.scope.text()),
                        source: Some(binding.source),
                        visibility,
                        step_up: grant.step_up,
                        notes: Notes {
                            related_through_container: through_container,
                            location_bound: !binding.locations.is_empty(),
                            windowed: binding.window.start.is_some()
                                || binding.window.end.is_some(),
                            ..Notes::default()
                        },
                        ..Expected::default()
                    });
                }
                Some(decided) => {
                    decided.step_up &= grant.step_up;
                    if let (Some(have), Some(more)) = (&mut decided.visibility, visibility) {
                        for (field, visibility) in more {
                            let entry = have.entry(field).or_insert(visibility);
                            *entry = (*entry).max(visibility);
                        }
                    }
                }
            }
        }
    }
    allowed.unwrap_or_else(|| Expected {
        permission,
        ..Expected::deny(closest)
    })
}

/// Whether `constraint` applies to `principal` on this request: every predicate it states
/// holds; a condition that cannot be evaluated applies it (fail closed).
fn constraint_applies(
    world: &World,
    request: &Request,
    view: &ResourceView<'_>,
    constraint: &crate::world::ConstraintDef,
    principal: usize,
) -> bool {
    let by_role_type = constraint.role_types.is_empty()
        || world.bindings_of(principal).any(|(_, binding)| {
            binding.window.contains(request.minute)
                && constraint
                    .role_types
                    .contains(&world.roles[binding.role].role_type)
        });
    let by_relation = constraint
        .when_related
        .is_none_or(|relation| view.holds(principal, relation));
    let by_condition = constraint
        .condition
        .is_none_or(|condition| evaluate(condition, world, principal, request).unwrap_or(true));
    by_role_type && by_relation && by_condition
}

/// What the documented rules answer for `request` in `world`.
pub fn expected(world: &World, request: &Request) -> Expected {
    use Reason::*;
    let now = request.minute;
    let permission = request.permission();
    if world.suspended {
        return Expected::deny(TenantInactive);
    }
    let Some(type_def) = catalog::type_def(&request.resource_type) else {
        return Expected::deny(UnknownResourceType);
    };
    let Some((category, feature)) = catalog::action_def(&permission) else {
        return Expected::deny(UnknownAction);
    };

    // Who asks: an active principal of this tenant, of the kind the caller says, with a live
    // session, a current token and an in-scope key when the caller presents them.
    let Some(actor) = world.principal_index(&request.principal, request.kind) else {
        return Expected::deny(PrincipalUnknown);
    };
    let actor_def = &world.principals[actor];
    if actor_def.status != PrincipalStatus::Active {
        return Expected::deny(PrincipalInactive);
    }
    if let Some(session) = &request.session_id {
        let live = actor_def.sessions.iter().enumerate().any(|(index, def)| {
            session_id(actor, index) == *session
                && !def.revoked
                && def.expires.is_none_or(|expires| now < expires)
        });
        if !live {
            return Expected::deny(SessionInvalid);
        }
    }
    match request.token_version {
        Some(version) if version > actor_def.token_version => return Expected::deny(Stale),
        Some(version) if version < actor_def.token_version => {
            return Expected::deny(TokenVersionStale);
        }
        _ => {}
    }
    if let Some(key) = &request.api_key_id {
        let found = actor_def
            .api_keys
            .iter()
            .enumerate()
            .find(|(index, _)| api_key_id(actor, *index) == *key);
        match found {
            Some((_, def)) if !def.revoked && def.expires.is_none_or(|expires| now < expires) => {
                if !def
                    .scopes
                    .iter()
                    .any(|scope| catalog::covers(scope, &permission))
                {
                    return Expected::deny(ApiKeyScope);
                }
            }
            _ => return Expected::deny(ApiKeyInvalid),
        }
    }

    // For whom: acting for someone needs a live delegation of this permission from them, and
    // them active; from here on their grants decide.
    let mut delegation = String::new();
    let subject = match &request.on_behalf_of {
        None => actor,
        Some((delegator, kind)) => {
            let found = world.delegations.iter().enumerate().find(|(_, def)| {
                !def.revoked
                    && def.delegate == actor
                    && world.principal_id(def.delegator) == delegator
                    && def.window.contains(now)
                    && def
                        .permissions
                        .iter()
                        .any(|p| catalog::covers(p, &permission))
            });
            let Some((index, _)) = found else {
                return Expected::deny(DelegationInvalid);
            };
            let Some(subject) = world.principal_index(delegator, *kind) else {
                return Expected::deny(DelegationInvalid);
            };
            if world.principals[subject].status != PrincipalStatus::Active {
                return Expected::deny(PrincipalInactive);
            }
            delegation = delegation_id(index);
            subject
        }
    };

    if feature.is_some_and(|feature| !(feature == EXPORTS_FEATURE && world.entitled_exports)) {
        return Expected::deny(NotEntitled);
    }

    // Forbid wins, for the actor or for whom they act.
    let view = ResourceView::new(world, &request.resource_type, &request.resource_id);
    for (index, constraint) in world.constraints.iter().enumerate() {
        let forbids = constraint
            .permissions
            .iter()
            .any(|pattern| catalog::covers(pattern, &permission))
            || constraint.categories.contains(&category);
        let applies = forbids
            && (constraint_applies(world, request, &view, constraint, actor)
                || (subject != actor
                    && constraint_applies(world, request, &view, constraint, subject)));
        if applies {
            let grants = grant_stage(world, request, &view, type_def, subject);
            return Expected {
                permission,
                constraint_id: constraint_id(index),
                delegation_id: delegation,
                notes: Notes {
                    forbid_over_allow: grants.allowed,
                    ..Notes::default()
                },
                ..Expected::deny(ForbiddenByConstraint)
            };
        }
    }

    Expected {
        delegation_id: delegation,
        ..grant_stage(world, request, &view, type_def, subject)
    }
}

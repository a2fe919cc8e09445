//! Evaluating a check against a [`Snapshot`].
//!
//! Order (the architecture's): tenant active → resource type and action known → principal
//! active, session valid, token version current → API key scope → delegation → tenant
//! entitlement → constraints (forbid wins) → active bindings' grants whose scope and condition
//! hold. Deny by default. Check and explain run this one function; only the tracer differs.

use std::cell::OnceCell;

use chrono::{DateTime, SecondsFormat, Utc};

use cel::common::types::{CelString, CelTimestamp};
use cel::common::value::Val;

use crate::attr::{Attributes, attributes_to_val};
use crate::condition::ConditionInput;
use crate::decision::{
    Decision, DecisionBasis, ExplainStep, FieldVisibilities, NoTrace, Obligations, Reason,
    StepOutcome, Tracer,
};
use crate::model::{Origin, PrincipalKind, PrincipalStatus, TenantStatus};
use crate::snapshot::{
    Ancestry, CompiledBinding, CompiledGrant, CompiledPrincipal, NodeFacts, PermId, RelationId,
    Scope, Snapshot, all_full,
};

/// Who is asking, as the caller's token says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrincipalRef<'a> {
    pub kind: PrincipalKind,
    pub id: &'a str,
    pub session_id: Option<&'a str>,
    pub api_key_id: Option<&'a str>,
    /// The token version the caller's token carries; must equal the principal's current one.
    pub token_version: Option<u64>,
    /// [`Origin::Platform`] for platform staff, resolved through the platform tenant's
    /// bindings.
    pub origin: Origin,
}

impl<'a> PrincipalRef<'a> {
    /// A user with no session, key or token version to verify.
    pub fn user(id: &'a str) -> Self {
        PrincipalRef {
            kind: PrincipalKind::User,
            id,
            session_id: None,
            api_key_id: None,
            token_version: None,
            origin: Origin::Tenant,
        }
    }
}

/// The resource acted on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ResourceRef<'a> {
    pub resource_type: &'a str,
    pub id: &'a str,
    pub attributes: &'a Attributes,
}

/// One authorization question.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CheckRequest<'a> {
    pub principal: PrincipalRef<'a>,
    /// Action name within the resource type (`view` on `patient` is `patient.view`).
    pub action: &'a str,
    pub resource: ResourceRef<'a>,
    pub context: &'a Attributes,
    /// The delegator `principal` acts for.
    pub on_behalf_of: Option<PrincipalRef<'a>>,
    pub now: DateTime<Utc>,
}

/// Request-scoped state shared by the stages.
struct Evaluation<'s, 'r> {
    snapshot: &'s Snapshot,
    request: &'r CheckRequest<'r>,
    now: i64,
    perm: PermId,
    /// The resource's type id.
    type_id: u32,
    /// The resource's node in the graph (`None` when no relationship names it), looked up on
    /// first use: a tenant-wide grant never needs it.
    node: OnceCell<Option<&'s NodeFacts>>,
    /// The containers the resource sits in, walked on first use (see `snapshot::graph`).
    ancestry: OnceCell<Ancestry<'s>>,
    resource_is_container: bool,
    /// CEL values of `resource`, `context` and `now`, each built on first use, borrowing the
    /// request.
    cel_resource: Option<Box<dyn Val + 'r>>,
    cel_context: Option<Box<dyn Val + 'r>>,
    cel_now: Option<CelTimestamp>,
}

/// Why a grant stage did not allow, kept as references so a check formats a message once,
/// for the final decision, and only when it denies.
enum Miss<'s> {
    /// No active binding's role holds the permission.
    NoGrant,
    /// No active binding's role holds the permission, but this binding's role does: the
    /// binding is outside its validity window.
    Inactive(&'s CompiledBinding, &'s str, Validity),
    /// The binding's locations do not contain the resource.
    Unreached(&'s CompiledBinding, &'s str),
    /// The grant's scope does not cover the resource.
    Scope(&'s CompiledGrant),
    ConditionFalse(&'s CompiledGrant),
    ConditionError(&'s CompiledGrant, String),
}

impl Miss<'_> {
    fn reason(&self) -> Reason {
        match self {
            Miss::NoGrant | Miss::Inactive(..) => Reason::NoMatchingGrant,
            Miss::Unreached(..) | Miss::Scope(_) => Reason::OutOfScope,
            Miss::ConditionFalse(_) => Reason::ConditionNotMet,
            Miss::ConditionError(..) => Reason::ConditionError,
        }
    }

    fn message(&self, principal: &str, permission: &str, resource: &ResourceRef<'_>) -> String {
        let target = format_args!("`{}:{}`", resource.resource_type, resource.id);
        match self {
            Miss::NoGrant => format!("no active binding of `{principal}` grants `{permission}`"),
            Miss::Inactive(binding, role, validity) => format!(
                "no active binding of `{principal}` grants `{permission}`: {}",
                validity.describe(binding, role)
            ),
            Miss::Unreached(binding, role) => {
                format!(
                    "binding `{}` of role `{role}` does not reach {target}",
                    binding.id
                )
            }
            Miss::Scope(grant) => format!(
                "grant of role `{}` has scope `{}`, which does not cover {target}",
                grant.declared_by, grant.scope_text
            ),
            Miss::ConditionFalse(grant) => format!(
                "condition `{}` of role `{}` is false",
                grant.condition.as_deref().map_or("", |c| c.source()),
                grant.declared_by
            ),
            Miss::ConditionError(grant, error) => format!(
                "condition `{}` of role `{}` failed: {error}",
                grant.condition.as_deref().map_or("", |c| c.source()),
                grant.declared_by
            ),
        }
    }
}

/// Where a binding outside its validity window stands.
#[derive(Clone, Copy)]
enum Validity {
    Expired,
    NotYetValid,
}

impl Validity {
    /// `None` while the binding is valid at `now`: on the hot path, the same one comparison
    /// pair as `Window::contains`.
    #[inline]
    fn of(binding: &CompiledBinding, now: i64) -> Option<Validity> {
        if binding.window.contains(now) {
            None
        } else if now >= binding.window.expires_at {
            Some(Validity::Expired)
        } else {
            Some(Validity::NotYetValid)
        }
    }

    /// "binding `b-7` of role `nurse` expired at 2026-05-01T00:00:00Z".
    fn describe(self, binding: &CompiledBinding, role: &str) -> String {
        let (what, at) = match self {
            Validity::Expired => ("expired at", binding.window.expires_at),
            Validity::NotYetValid => ("is not valid until", binding.window.not_before),
        };
        let at = DateTime::from_timestamp_micros(at).map_or_else(
            || format!("{at} µs after the epoch"),
            |at| at.to_rfc3339_opts(SecondsFormat::AutoSi, true),
        );
        format!("binding `{}` of role `{role}` {what} {at}", binding.id)
    }
}

enum GrantOutcome<'s> {
    Allowed {
        basis: DecisionBasis<'s>,
        obligations: Obligations,
    },
    Denied {
        reason: Reason,
        message: String,
    },
}

impl Snapshot {
    /// Decides `request`. Never fails: anything unproven is a deny with a reason.
    pub fn check<'s>(&'s self, request: &CheckRequest<'_>) -> Decision<'s> {
        self.evaluate(request, &mut NoTrace)
    }

    /// Decides `request` and returns every step that led there.
    pub fn explain<'s>(&'s self, request: &CheckRequest<'_>) -> (Decision<'s>, Vec<ExplainStep>) {
        let mut trace = Vec::new();
        let decision = self.evaluate(request, &mut trace);
        let detail = if decision.allowed {
            format!(
                "{}: allowed by role `{}` through binding `{}`",
                decision.reason.code(),
                decision.basis.role_id,
                decision.basis.binding_id
            )
        } else {
            format!("{}: {}", decision.reason.code(), decision.message)
        };
        let outcome = if decision.allowed {
            StepOutcome::Pass
        } else {
            StepOutcome::Fail
        };
        trace.push(ExplainStep::new("decision", outcome, detail));
        (decision, trace)
    }

    fn deny<T: Tracer>(
        &self,
        trace: &mut T,
        stage: &'static str,
        reason: Reason,
        message: String,
    ) -> Decision<'_> {
        trace.step(|| ExplainStep::new(stage, StepOutcome::Fail, message.clone()));
        Decision::deny(reason, message, self.revision)
    }

    fn evaluate<'s, T: Tracer>(
        &'s self,
        request: &CheckRequest<'_>,
        trace: &mut T,
    ) -> Decision<'s> {
        if self.policy.tenant_status != TenantStatus::Active {
            return self.deny(
                trace,
                "tenant",
                Reason::TenantInactive,
                format!(
                    "tenant `{}` is {:?}",
                    self.policy.tenant_id, self.policy.tenant_status
                )
                .to_lowercase(),
            );
        }
        trace.step(|| {
            ExplainStep::new(
                "tenant",
                StepOutcome::Pass,
                format!("tenant `{}` is active", self.policy.tenant_id),
            )
        });

        let resource = &request.resource;
        let Some(type_id) = self.policy.type_index.get(resource.resource_type).copied() else {
            return self.deny(
                trace,
                "permission",
                Reason::UnknownResourceType,
                format!(
                    "resource type `{}` is not in the catalog",
                    resource.resource_type
                ),
            );
        };
        let resource_type = &self.policy.types[type_id as usize];
        let Some(perm) = resource_type.actions.get(request.action).copied() else {
            return self.deny(
                trace,
                "permission",
                Reason::UnknownAction,
                format!(
                    "resource type `{}` has no action `{}`",
                    resource.resource_type, request.action
                ),
            );
        };
        let permission = &*self.policy.perms[perm as usize].name;

        let now = request.now.timestamp_micros();
        let actor = match self.authenticate(&request.principal, perm, now, trace) {
            Ok(actor) => actor,
            Err(decision) => return *decision,
        };

        let mut delegation_id = "";
        let subject = match &request.on_behalf_of {
            None => actor,
            Some(delegator) => {
                let found = (request.principal.origin == Origin::Tenant
                    && delegator.origin == Origin::Tenant)
                    .then(|| self.policy.delegations.get(actor.id.as_ref()))
                    .flatten()
                    .and_then(|delegations| {
                        delegations.iter().find(|d| {
                            *d.delegator == *delegator.id
                                && d.window.contains(now)
                                && d.perms.contains(perm)
                        })
                    });
                let Some(delegation) = found else {
                    return self.deny(
                        trace,
                        "delegation",
                        Reason::DelegationInvalid,
                        format!(
                            "no active delegation lets `{}` exercise `{permission}` for `{}`",
                            actor.id, delegator.id
                        ),
                    );
                };
                let subject = match self.policy.principals.get(delegator.id) {
                    Some(subject) if subject.kind == delegator.kind => subject,
                    _ => {
                        return self.deny(
                            trace,
                            "delegation",
                            Reason::DelegationInvalid,
                            format!(
                                "delegator `{}` is not a principal of this tenant",
                                delegator.id
                            ),
                        );
                    }
                };
                if subject.status != PrincipalStatus::Active {
                    return self.deny(
                        trace,
                        "delegation",
                        Reason::PrincipalInactive,
                        format!("delegator `{}` is {:?}", subject.id, subject.status)
                            .to_lowercase(),
                    );
                }
                delegation_id = &delegation.id;
                trace.step(|| {
                    ExplainStep::new(
                        "delegation",
                        StepOutcome::Pass,
                        format!(
                            "`{}` acts for `{}` under delegation `{}`",
                            actor.id, subject.id, delegation.id
                        ),
                    )
                    .permission(permission)
                });
                subject
            }
        };

        let entry = &self.policy.perms[perm as usize];
        if !entry.entitled {
            return self.deny(
                trace,
                "entitlement",
                Reason::NotEntitled,
                format!(
                    "`{permission}` needs feature `{}`, which the tenant lacks",
                    entry.feature.as_deref().unwrap_or_default()
                ),
            );
        }
        trace.step(|| {
            ExplainStep::new("entitlement", StepOutcome::Pass, "the tenant is entitled")
                .permission(permission)
        });

        let mut evaluation = Evaluation {
            snapshot: self,
            request,
            now,
            perm,
            type_id,
            node: OnceCell::new(),
            ancestry: OnceCell::new(),
            resource_is_container: resource_type.container,
            cel_resource: None,
            cel_context: None,
            cel_now: None,
        };

        // Forbid wins: a constraint that applies to the actor or to the principal they act
        // for denies whatever the grants say.
        for index in &self.policy.constraints_by_perm[perm as usize] {
            let constraint = &self.policy.constraints[*index as usize];
            let applies = evaluation.constraint_applies(*index, actor, trace)
                || (!std::ptr::eq(actor, subject)
                    && evaluation.constraint_applies(*index, subject, trace));
            if applies {
                let mut decision = self.deny(
                    trace,
                    "constraint",
                    Reason::ForbiddenByConstraint,
                    format!(
                        "constraint `{}` forbids `{permission}`: {}",
                        constraint.id, constraint.description
                    ),
                );
                decision.basis = DecisionBasis {
                    permission,
                    constraint_id: &constraint.id,
                    delegation_id,
                    ..DecisionBasis::default()
                };
                return decision;
            }
        }

        match evaluation.grants(subject, trace) {
            GrantOutcome::Allowed {
                mut basis,
                obligations,
            } => {
                basis.delegation_id = delegation_id;
                Decision {
                    allowed: true,
                    reason: Reason::Granted,
                    message: "granted".into(),
                    basis,
                    obligations,
                    revision: self.revision,
                }
            }
            GrantOutcome::Denied { reason, message } => {
                let mut decision = Decision::deny(reason, message, self.revision);
                decision.basis.permission = permission;
                decision.basis.delegation_id = delegation_id;
                decision
            }
        }
    }

    /// Principal active, session valid, token version current, API key valid and in scope.
    fn authenticate<'s, T: Tracer>(
        &'s self,
        principal: &PrincipalRef<'_>,
        perm: PermId,
        now: i64,
        trace: &mut T,
    ) -> Result<&'s CompiledPrincipal, Box<Decision<'s>>> {
        let directory = match principal.origin {
            Origin::Tenant => &self.policy.principals,
            Origin::Platform => &self.policy.platform_principals,
        };
        let found = directory
            .get(principal.id)
            .filter(|candidate| candidate.kind == principal.kind);
        let Some(actor) = found else {
            let whose = match principal.origin {
                Origin::Tenant => "principal of",
                Origin::Platform => "platform staff reaching",
            };
            return Err(Box::new(self.deny(
                trace,
                "principal",
                Reason::PrincipalUnknown,
                format!(
                    "{} `{}` is not a {whose} tenant `{}`",
                    principal.kind.as_str(),
                    principal.id,
                    self.policy.tenant_id
                ),
            )));
        };
        if actor.status != PrincipalStatus::Active {
            return Err(Box::new(self.deny(
                trace,
                "principal",
                Reason::PrincipalInactive,
                format!("principal `{}` is {:?}", actor.id, actor.status).to_lowercase(),
            )));
        }
        trace.step(|| {
            ExplainStep::new(
                "principal",
                StepOutcome::Pass,
                format!("`{}` is active", actor.id),
            )
        });

        match principal.session_id {
            None => trace
                .step(|| ExplainStep::new("session", StepOutcome::Skip, "no session to verify")),
            Some(session_id) => match actor.sessions.get(session_id) {
                Some(session) if !session.revoked && now < session.expires_at => {
                    trace.step(|| {
                        ExplainStep::new(
                            "session",
                            StepOutcome::Pass,
                            format!("session `{session_id}` is valid"),
                        )
                    });
                }
                Some(session) => {
                    let why = if session.revoked {
                        "revoked"
                    } else {
                        "expired"
                    };
                    return Err(Box::new(self.deny(
                        trace,
                        "session",
                        Reason::SessionInvalid,
                        format!("session `{session_id}` is {why}"),
                    )));
                }
                None => {
                    return Err(Box::new(self.deny(
                        trace,
                        "session",
                        Reason::SessionInvalid,
                        format!("session `{session_id}` is unknown for `{}`", actor.id),
                    )));
                }
            },
        }

        match principal.token_version {
            None => trace.step(|| {
                ExplainStep::new(
                    "token_version",
                    StepOutcome::Skip,
                    "no token version to verify",
                )
            }),
            Some(version) if version == actor.token_version => {
                trace.step(|| {
                    ExplainStep::new(
                        "token_version",
                        StepOutcome::Pass,
                        format!("token version {version} is current"),
                    )
                });
            }
            Some(version) if version > actor.token_version => {
                return Err(Box::new(self.deny(
                    trace,
                    "token_version",
                    Reason::Stale,
                    format!(
                        "token version {version} is newer than this snapshot's {} (revision {}): retry after it catches up",
                        actor.token_version, self.revision
                    ),
                )));
            }
            Some(version) => {
                return Err(Box::new(self.deny(
                    trace,
                    "token_version",
                    Reason::TokenVersionStale,
                    format!(
                        "token version {version} is not the current {}: sign in again",
                        actor.token_version
                    ),
                )));
            }
        }

        match principal.api_key_id {
            None => trace.step(|| ExplainStep::new("api_key", StepOutcome::Skip, "no api key")),
            Some(key_id) => match actor.api_keys.get(key_id) {
                Some(key) if !key.revoked && now < key.expires_at => {
                    if !key.scopes.contains(perm) {
                        return Err(Box::new(self.deny(
                            trace,
                            "api_key",
                            Reason::ApiKeyScope,
                            format!(
                                "api key `{key_id}` is not scoped for `{}`",
                                self.policy.perms[perm as usize].name
                            ),
                        )));
                    }
                    trace.step(|| {
                        ExplainStep::new(
                            "api_key",
                            StepOutcome::Pass,
                            format!("api key `{key_id}` is valid and in scope"),
                        )
                    });
                }
                Some(key) => {
                    let why = if key.revoked { "revoked" } else { "expired" };
                    return Err(Box::new(self.deny(
                        trace,
                        "api_key",
                        Reason::ApiKeyInvalid,
                        format!("api key `{key_id}` is {why}"),
                    )));
                }
                None => {
                    return Err(Box::new(self.deny(
                        trace,
                        "api_key",
                        Reason::ApiKeyInvalid,
                        format!("api key `{key_id}` is unknown for `{}`", actor.id),
                    )));
                }
            },
        }
        Ok(actor)
    }
}

/// Whether a principal holds a relation on the resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Held {
    Yes,
    No,
    /// Not on the resource nor on the containers seen, but the resource sits in more
    /// containers than a check walks (`Ancestry::truncated`): unknown.
    NotSeen,
}

impl<'s> Evaluation<'s, '_> {
    fn node(&self) -> Option<&'s NodeFacts> {
        *self.node.get_or_init(|| {
            self.snapshot
                .graph
                .get(self.type_id, self.request.resource.id)
        })
    }

    fn ancestry(&self) -> &Ancestry<'s> {
        self.ancestry.get_or_init(|| match self.node() {
            Some(node) if node.has_parents() => {
                self.snapshot
                    .graph
                    .ancestry(self.type_id, self.request.resource.id, node)
            }
            _ => Ancestry::EMPTY,
        })
    }

    fn holds_relation(&self, relation: RelationId, principal: &CompiledPrincipal) -> Held {
        // INVARIANT: relationships name the tenant's own principals; platform staff share no
        // identity with them even when the ids are equal.
        if principal.origin != Origin::Tenant {
            return Held::No;
        }
        let Some(node) = self.node() else {
            return Held::No;
        };
        let holds = |facts: &NodeFacts| facts.holds(relation, principal.kind, &principal.id);
        if holds(node) {
            return Held::Yes;
        }
        // No container type of the resource's declares the relation: nothing to walk.
        if !self.snapshot.policy.schema.inherits(self.type_id, relation) {
            return Held::No;
        }
        let ancestry = self.ancestry();
        if ancestry.iter().any(|(_, facts)| holds(facts)) {
            Held::Yes
        } else if ancestry.truncated() {
            Held::NotSeen
        } else {
            Held::No
        }
    }

    /// Whether the binding's locations (if any) contain the resource.
    fn reaches(&self, binding: &CompiledBinding) -> bool {
        let Some(locations) = &binding.locations else {
            return true;
        };
        let resource = self.request.resource.id;
        if locations
            .iter()
            .any(|location| location.is(self.type_id, resource))
        {
            return true;
        }
        let Some(node) = self.node() else {
            return false;
        };
        // The resource's own containers are at hand; the walk is needed only past them, and
        // only when the resource can sit in a container of a location's type at all.
        if node.parents().any(|parent| locations.contains(parent)) {
            return true;
        }
        let schema = &self.snapshot.policy.schema;
        if !locations
            .iter()
            .any(|location| schema.can_sit_in(self.type_id, location.type_id))
        {
            return false;
        }
        self.ancestry()
            .iter()
            .any(|(container, _)| locations.contains(container))
    }

    fn scope_holds(&self, scope: Scope, principal: &CompiledPrincipal) -> bool {
        match scope {
            Scope::Tenant => true,
            // The resource is a container the tenant knows (a relationship or a binding names
            // it), or sits in one.
            Scope::Location => {
                let node = self.node();
                (self.resource_is_container
                    && (node.is_some()
                        || self
                            .snapshot
                            .policy
                            .named_containers
                            .contains(self.type_id, self.request.resource.id)))
                    || node.is_some_and(NodeFacts::has_parents)
            }
            Scope::Related(relation) => self.holds_relation(relation, principal) == Held::Yes,
        }
    }

    fn evaluate_condition(
        &mut self,
        condition: &crate::condition::Condition,
        principal: &CompiledPrincipal,
    ) -> Result<bool, String> {
        let request = self.request;
        if condition.uses_resource && self.cel_resource.is_none() {
            let resource = &request.resource;
            self.cel_resource = Some(attributes_to_val(
                resource.attributes,
                [
                    ("id", Box::new(CelString::from(resource.id)) as Box<dyn Val>),
                    ("type", Box::new(CelString::from(resource.resource_type))),
                ],
            ));
        }
        if condition.uses_context && self.cel_context.is_none() {
            self.cel_context = Some(attributes_to_val(request.context, []));
        }
        let now = self
            .cel_now
            .get_or_insert_with(|| CelTimestamp::from(request.now.fixed_offset()));
        condition.evaluate(
            &self.snapshot.policy.env,
            &ConditionInput {
                principal: &*principal.cel,
                resource: self.cel_resource.as_deref(),
                context: self.cel_context.as_deref(),
                tenant: &*self.snapshot.policy.tenant_cel,
                now,
            },
        )
    }

    fn constraint_applies<T: Tracer>(
        &mut self,
        index: u32,
        principal: &CompiledPrincipal,
        trace: &mut T,
    ) -> bool {
        let snapshot = self.snapshot;
        let constraint = &snapshot.policy.constraints[index as usize];
        let mut applies = true;
        if let Some(role_types) = &constraint.role_types {
            applies = principal.bindings.iter().any(|binding| {
                binding.window.contains(self.now)
                    && role_types.contains(&snapshot.policy.roles[binding.role as usize].role_type)
            });
        }
        let mut detail = String::new();
        if let (true, Some(relation)) = (applies, constraint.when_related) {
            let held = self.holds_relation(relation, principal);
            // Fail closed: past the bound of the walk, a relation not seen may still be held.
            applies = held != Held::No;
            if T::ENABLED && held == Held::NotSeen {
                detail = format!(
                    "`{}` applies: the resource sits in more containers than a check walks, so `{}` may hold the relation",
                    constraint.id, principal.id
                );
            }
        }
        if let (true, Some(condition)) = (applies, &constraint.condition) {
            {
                applies = match self.evaluate_condition(condition, principal) {
                    Ok(result) => result,
                    Err(error) => {
                        if T::ENABLED {
                            detail = format!(
                                "condition failed to evaluate, so the constraint applies: {error}"
                            );
                        }
                        true
                    }
                };
            }
        }
        trace.step(|| {
            let outcome = if applies {
                StepOutcome::Match
            } else {
                StepOutcome::NoMatch
            };
            let detail = if detail.is_empty() || !applies {
                format!(
                    "`{}` {} for `{}`",
                    constraint.id,
                    if applies { "applies" } else { "does not apply" },
                    principal.id
                )
            } else {
                detail
            };
            ExplainStep::new("constraint", outcome, detail).constraint(&constraint.id)
        });
        applies
    }

    fn grants<T: Tracer>(
        &mut self,
        principal: &'s CompiledPrincipal,
        trace: &mut T,
    ) -> GrantOutcome<'s> {
        let snapshot = self.snapshot;
        let permission = &*snapshot.policy.perms[self.perm as usize].name;
        // The deny closest to an allow is the one reported.
        let mut closest = Miss::NoGrant;
        let mut note = |miss: Miss<'s>| {
            if miss.reason().grant_stage_rank() > closest.reason().grant_stage_rank() {
                closest = miss;
            }
        };
        let mut allowed: Option<(DecisionBasis<'s>, Obligations)> = None;
        let resource = &self.request.resource;

        'bindings: for binding in &principal.bindings {
            let role = &snapshot.policy.roles[binding.role as usize];
            if let Some(validity) = Validity::of(binding, self.now) {
                trace.step(|| {
                    ExplainStep::new(
                        "binding",
                        StepOutcome::Skip,
                        validity.describe(binding, &role.id),
                    )
                    .binding(&binding.id)
                    .role(&role.id)
                });
                continue;
            }
            if !role.perms.contains(self.perm) {
                trace.step(|| {
                    ExplainStep::new(
                        "binding",
                        StepOutcome::NoMatch,
                        format!("role `{}` does not grant `{permission}`", role.id),
                    )
                    .binding(&binding.id)
                    .role(&role.id)
                });
                continue;
            }
            if !self.reaches(binding) {
                let miss = Miss::Unreached(binding, &role.id);
                trace.step(|| {
                    ExplainStep::new(
                        "binding",
                        StepOutcome::NoMatch,
                        miss.message(&principal.id, permission, resource),
                    )
                    .binding(&binding.id)
                    .role(&role.id)
                });
                note(miss);
                continue;
            }
            for grant in &role.grants[self.perm as usize] {
                if let Some(miss) = self.grant_misses(grant, principal) {
                    trace.step(|| {
                        let outcome = if miss.reason() == Reason::ConditionError {
                            StepOutcome::Error
                        } else {
                            StepOutcome::NoMatch
                        };
                        ExplainStep::new(
                            "grant",
                            outcome,
                            miss.message(&principal.id, permission, resource),
                        )
                        .binding(&binding.id)
                        .role(&role.id)
                        .permission(permission)
                    });
                    note(miss);
                    continue;
                }
                trace.step(|| {
                    ExplainStep::new(
                        "grant",
                        StepOutcome::Match,
                        format!(
                            "role `{}` grants `{permission}` with scope `{}`",
                            grant.declared_by, grant.scope_text
                        ),
                    )
                    .binding(&binding.id)
                    .role(&role.id)
                    .permission(permission)
                });
                let widest = match &mut allowed {
                    None => {
                        let basis = DecisionBasis {
                            role_id: &role.id,
                            binding_id: &binding.id,
                            permission,
                            scope: Some(&grant.scope_text),
                            constraint_id: "",
                            delegation_id: "",
                            source: Some(binding.source),
                        };
                        let obligations = Obligations {
                            field_visibility: grant.visibility.clone(),
                            step_up: grant.step_up,
                        };
                        allowed = Some((basis, obligations));
                        grant.all_full && !grant.step_up
                    }
                    Some((_, obligations)) => {
                        obligations.step_up &= grant.step_up;
                        merge_visibility(&mut obligations.field_visibility, grant);
                        !obligations.step_up && all_full(obligations.field_visibility.as_deref())
                    }
                };
                // Further grants could only repeat the widest answer; an explanation still
                // lists them.
                if widest && !T::ENABLED {
                    break 'bindings;
                }
            }
        }
        match allowed {
            Some((basis, obligations)) => GrantOutcome::Allowed { basis, obligations },
            None => {
                // Only a deny looks for a binding that would have granted had it been valid.
                if let Miss::NoGrant = closest
                    && let Some(inactive) = self.inactive_grantor(principal)
                {
                    closest = inactive;
                }
                GrantOutcome::Denied {
                    reason: closest.reason(),
                    message: closest.message(&principal.id, permission, resource),
                }
            }
        }
    }

    /// The first binding outside its validity window whose role holds the permission.
    fn inactive_grantor(&self, principal: &'s CompiledPrincipal) -> Option<Miss<'s>> {
        principal.bindings.iter().find_map(|binding| {
            let role = &self.snapshot.policy.roles[binding.role as usize];
            let validity = Validity::of(binding, self.now)?;
            role.perms
                .contains(self.perm)
                .then_some(Miss::Inactive(binding, &role.id, validity))
        })
    }

    fn grant_misses(
        &mut self,
        grant: &'s CompiledGrant,
        principal: &CompiledPrincipal,
    ) -> Option<Miss<'s>> {
        if !self.scope_holds(grant.scope, principal) {
            return Some(Miss::Scope(grant));
        }
        let condition = grant.condition.as_deref()?;
        match self.evaluate_condition(condition, principal) {
            Ok(true) => None,
            Ok(false) => Some(Miss::ConditionFalse(grant)),
            Err(error) => Some(Miss::ConditionError(grant, error)),
        }
    }
}

/// Widens `current` field by field with what `grant` shows: the union of access.
fn merge_visibility(current: &mut Option<FieldVisibilities>, grant: &CompiledGrant) {
    let (Some(have), Some(more)) = (current.as_deref(), grant.visibility.as_deref()) else {
        return;
    };
    if have.iter().zip(more).all(|((_, a), (_, b))| a >= b) {
        return;
    }
    *current = Some(
        have.iter()
            .zip(more)
            .map(|((field, a), (_, b))| (std::sync::Arc::clone(field), (*a).max(*b)))
            .collect(),
    );
}

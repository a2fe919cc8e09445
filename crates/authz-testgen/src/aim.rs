//! Requests aimed at a world.
//!
//! Requests are drawn as index-based specs and resolved against a world, so most of them are
//! *valid* questions — an existing principal, a declared permission, often one the principal's
//! active bindings hold, a resource those bindings reach, an instant on the edge of some window
//! — with a controlled share of invalid ones (unknown principal, type, action or resource,
//! wrong kind, unknown credentials). A property therefore compares allows with allows, not a
//! deny with a deny; [`crate::mix::OutcomeMix`] measures and asserts that it does.

use authz_core::PrincipalKind;
use proptest::prelude::*;
use proptest::sample::Index;

use crate::catalog::{self, PERMISSIONS, UNKNOWN_PRINCIPAL};
use crate::reference;
use crate::request::Request;
use crate::world::{World, api_key_id, session_id};

/// Who asks.
#[derive(Debug, Clone, Copy)]
pub enum ActorPick {
    /// A principal with a binding active at the request's instant (any principal when none
    /// has one).
    Bound(Index),
    Known(Index),
    /// An id no generated tenant has.
    Unknown,
}

/// A session or API key the request presents.
#[derive(Debug, Clone, Copy)]
pub enum CredentialPick {
    None,
    /// One of the actor's own (none when the actor has none).
    Own(Index),
    Unknown,
}

#[derive(Debug, Clone, Copy)]
pub enum TokenPick {
    None,
    Current,
    Older,
    Newer,
}

/// Whom the actor acts for.
#[derive(Debug, Clone, Copy)]
pub enum ActingFor {
    Nobody,
    /// Ask as the delegate of one of the world's delegations, for its delegator.
    Delegation(Index),
    /// Any principal, delegation or not.
    Anyone(Index),
}

/// What is asked.
#[derive(Debug, Clone, Copy)]
pub enum TargetPick {
    /// A permission one of the deciding principal's active bindings holds (any, when they hold
    /// none).
    Held(Index),
    Any(Index),
    UnknownType,
    UnknownAction,
}

/// On which resource.
#[derive(Debug, Clone, Copy)]
pub enum ResourcePick {
    /// For a held permission, a resource the holding binding reaches and one of its grants
    /// covers (any known one when there is none).
    Fitting(Index),
    Known(Index),
    Unknown,
}

/// When.
#[derive(Debug, Clone, Copy)]
pub enum WhenPick {
    Minute(i64),
    /// On an instant where some window opens or closes (or a minute before it).
    Edge(Index, bool),
}

/// A request as indexes, resolved against a world by [`RequestSpec::resolve`].
#[derive(Debug, Clone)]
pub struct RequestSpec {
    pub actor: ActorPick,
    pub wrong_kind: bool,
    pub session: CredentialPick,
    pub api_key: CredentialPick,
    pub token: TokenPick,
    pub acting_for: ActingFor,
    pub target: TargetPick,
    pub resource: ResourcePick,
    pub amount: Option<i64>,
    pub level: Option<i64>,
    pub when: WhenPick,
}

fn credential(own: u32, unknown: u32) -> impl Strategy<Value = CredentialPick> {
    prop_oneof![
        100 - own - unknown => Just(CredentialPick::None),
        own => any::<Index>().prop_map(CredentialPick::Own),
        unknown => Just(CredentialPick::Unknown),
    ]
}

pub fn request() -> impl Strategy<Value = RequestSpec> {
    (
        prop_oneof![
            72 => any::<Index>().prop_map(ActorPick::Bound),
            25 => any::<Index>().prop_map(ActorPick::Known),
            3 => Just(ActorPick::Unknown),
        ],
        prop::bool::weighted(0.02),
        credential(20, 1),
        credential(12, 1),
        prop_oneof![
            76 => Just(TokenPick::None),
            18 => Just(TokenPick::Current),
            3 => Just(TokenPick::Older),
            3 => Just(TokenPick::Newer),
        ],
        prop_oneof![
            74 => Just(ActingFor::Nobody),
            25 => any::<Index>().prop_map(ActingFor::Delegation),
            1 => any::<Index>().prop_map(ActingFor::Anyone),
        ],
        prop_oneof![
            88 => any::<Index>().prop_map(TargetPick::Held),
            8 => any::<Index>().prop_map(TargetPick::Any),
            2 => Just(TargetPick::UnknownType),
            2 => Just(TargetPick::UnknownAction),
        ],
        prop_oneof![
            75 => any::<Index>().prop_map(ResourcePick::Fitting),
            20 => any::<Index>().prop_map(ResourcePick::Known),
            5 => Just(ResourcePick::Unknown),
        ],
        prop::option::weighted(0.75, 0..10i64),
        prop::option::weighted(0.75, 0..5i64),
        prop_oneof![
            5 => (-180..180i64).prop_map(WhenPick::Minute),
            5 => (any::<Index>(), prop::bool::weighted(0.3)).prop_map(|(edge, before)| WhenPick::Edge(edge, before)),
        ],
    )
        .prop_map(
            |(actor, wrong_kind, session, api_key, token, acting_for, target, resource, amount, level, when)| {
                RequestSpec {
                    actor,
                    wrong_kind,
                    session,
                    api_key,
                    token,
                    acting_for,
                    target,
                    resource,
                    amount,
                    level,
                    when,
                }
            },
        )
}

/// `count` requests for one world.
pub fn requests(count: usize) -> impl Strategy<Value = Vec<RequestSpec>> {
    prop::collection::vec(request(), count)
}

impl RequestSpec {
    /// The concrete request this spec stands for in `world`.
    pub fn resolve(&self, world: &World) -> Request {
        let principals = world.principals.len();
        let minute = match self.when {
            WhenPick::Minute(minute) => minute,
            WhenPick::Edge(index, before) => {
                let edges = world.edges();
                if edges.is_empty() {
                    0
                } else {
                    edges[index.index(edges.len())] - i64::from(before)
                }
            }
        };
        let known = match self.actor {
            ActorPick::Bound(index) => {
                let mut bound: Vec<usize> = world
                    .bindings
                    .iter()
                    .filter(|binding| binding.window.contains(minute))
                    .map(|binding| binding.principal)
                    .collect();
                bound.sort_unstable();
                bound.dedup();
                Some(if bound.is_empty() {
                    index.index(principals)
                } else {
                    bound[index.index(bound.len())]
                })
            }
            ActorPick::Known(index) => Some(index.index(principals)),
            ActorPick::Unknown => None,
        };
        let delegation = match self.acting_for {
            ActingFor::Delegation(index) if known.is_some() && !world.delegations.is_empty() => {
                Some(&world.delegations[index.index(world.delegations.len())])
            }
            _ => None,
        };
        let (actor, on_behalf_of) = match (known, self.acting_for, delegation) {
            (None, _, _) => (None, None),
            (_, _, Some(delegation)) => (Some(delegation.delegate), Some(delegation.delegator)),
            (Some(actor), ActingFor::Anyone(delegator), _) => {
                (Some(actor), Some(delegator.index(principals)))
            }
            (Some(actor), _, _) => (Some(actor), None),
        };
        // The principal whose grants decide, when the request is valid, and what a delegation
        // in use lets them exercise.
        let decider = on_behalf_of.or(actor);
        let delegated = delegation.map(|delegation| &delegation.permissions[..]);
        let (permission, holder) = self.permission(world, decider, delegated, minute);
        let resource_id = self.resource_id(world, &permission, holder);
        let (principal, kind) = match actor {
            Some(actor) => (world.principal_id(actor), world.principals[actor].kind),
            None => (UNKNOWN_PRINCIPAL, PrincipalKind::User),
        };
        let kind = if self.wrong_kind { flip(kind) } else { kind };
        let mut request = Request::new(principal, &permission, &resource_id, minute)
            .with_inputs(self.amount, self.level);
        request.kind = kind;
        request.on_behalf_of = on_behalf_of.map(|delegator| {
            (
                world.principal_id(delegator).to_owned(),
                world.principals[delegator].kind,
            )
        });
        if let Some(actor) = actor {
            let def = &world.principals[actor];
            request.session_id =
                credential_id(self.session, def.sessions.len(), |at| session_id(actor, at));
            request.api_key_id =
                credential_id(self.api_key, def.api_keys.len(), |at| api_key_id(actor, at));
            request.token_version = match self.token {
                TokenPick::None => None,
                TokenPick::Current => Some(def.token_version),
                TokenPick::Older => Some(def.token_version.saturating_sub(1)),
                TokenPick::Newer => Some(def.token_version + 1),
            };
        }
        request
    }

    /// The permission asked, and the binding that holds it when it was aimed at one.
    fn permission(
        &self,
        world: &World,
        decider: Option<usize>,
        delegated: Option<&[&str]>,
        minute: i64,
    ) -> (String, Option<usize>) {
        let index = match self.target {
            TargetPick::UnknownType => return ("ward.view".to_owned(), None),
            TargetPick::UnknownAction => return ("patient.teleport".to_owned(), None),
            TargetPick::Any(index) => {
                return (PERMISSIONS[index.index(PERMISSIONS.len())].to_owned(), None);
            }
            TargetPick::Held(index) => index,
        };
        let allowed_by_delegation = |permission: &str| {
            delegated.is_none_or(|patterns| {
                patterns
                    .iter()
                    .any(|pattern| catalog::covers(pattern, permission))
            })
        };
        // (binding, permission) pairs the decider's active bindings hold.
        let held: Vec<(usize, &'static str)> = decider
            .map(|decider| {
                world
                    .bindings_of(decider)
                    .filter(|(_, binding)| binding.window.contains(minute))
                    .flat_map(|(at, binding)| {
                        reference::role_permissions(world, binding.role)
                            .into_iter()
                            .map(move |permission| (at, permission))
                    })
                    .filter(|(_, permission)| allowed_by_delegation(permission))
                    .collect()
            })
            .unwrap_or_default();
        // Aiming at a fitting resource: prefer what some resource fits.
        let fits = |(binding, permission): &(usize, &str)| {
            !reference::fitting(world, *binding, permission).is_empty()
        };
        let held = match self.resource {
            ResourcePick::Fitting(_) if held.iter().any(fits) => {
                held.into_iter().filter(|pair| fits(pair)).collect()
            }
            _ => held,
        };
        if let Some((binding, permission)) = held.get(index.index(held.len().max(1))) {
            return ((*permission).to_owned(), Some(*binding));
        }
        let pool: Vec<&str> = PERMISSIONS
            .iter()
            .copied()
            .filter(|permission| allowed_by_delegation(permission))
            .collect();
        let pool = if pool.is_empty() {
            PERMISSIONS.to_vec()
        } else {
            pool
        };
        (pool[index.index(pool.len())].to_owned(), None)
    }

    fn resource_id(&self, world: &World, permission: &str, holder: Option<usize>) -> String {
        let (resource_type, _) = permission.split_once('.').unwrap_or((permission, ""));
        let known = catalog::type_def(resource_type).map_or(&[][..], |t| t.ids);
        match self.resource {
            _ if known.is_empty() => "r-unknown".to_owned(),
            ResourcePick::Unknown => format!("{resource_type}-unknown"),
            ResourcePick::Known(index) => known[index.index(known.len())].to_owned(),
            ResourcePick::Fitting(index) => {
                let fitting = holder
                    .map(|binding| reference::fitting(world, binding, permission))
                    .unwrap_or_default();
                let pool = if fitting.is_empty() {
                    known.to_vec()
                } else {
                    fitting
                };
                pool[index.index(pool.len())].to_owned()
            }
        }
    }
}

fn flip(kind: PrincipalKind) -> PrincipalKind {
    match kind {
        PrincipalKind::User => PrincipalKind::Service,
        PrincipalKind::Service => PrincipalKind::User,
    }
}

fn credential_id(pick: CredentialPick, own: usize, id: impl Fn(usize) -> String) -> Option<String> {
    match pick {
        CredentialPick::None => None,
        CredentialPick::Own(_) if own == 0 => None,
        CredentialPick::Own(index) => Some(id(index.index(own))),
        CredentialPick::Unknown => Some("forged".to_owned()),
    }
}

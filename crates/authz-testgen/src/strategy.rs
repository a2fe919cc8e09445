//! Proptest strategies: worlds, and requests aimed at them.
//!
//! Requests are drawn as index-based specs and resolved against a world, so most of them are
//! *valid* questions — an existing principal, a declared permission, often one the principal's
//! roles hold, a resource the tenant knows, an instant on the edge of some window — with a
//! controlled share of invalid ones (unknown principal, type, action or resource, wrong kind,
//! unknown credentials). A property therefore compares allows with allows, not a deny with a
//! deny; [`crate::mix::OutcomeMix`] measures and asserts that it does.

use authz_core::model::{BindingSource, PrincipalStatus};
use authz_core::{FieldVisibility, PrincipalKind};
use proptest::prelude::*;
use proptest::sample::{Index, select};

use crate::catalog::{
    self, CATEGORIES, FIELD_KEYS, LOCKED, PATTERNS, PERMISSIONS, PRINCIPAL_IDS, ROLE_TYPES,
    SUBJECT_RELATIONS, UNKNOWN_PRINCIPAL,
};
use crate::reference;
use crate::request::Request;
use crate::world::{
    ApiKeyDef, BindingDef, Cond, ConstraintDef, DelegationDef, Fact, FactSubject, GrantDef,
    PrincipalDef, RoleDef, ScopeDef, SessionDef, Window, World, api_key_id, session_id,
};

/// Most principals a world has (one id of [`PRINCIPAL_IDS`] stays free for "ghost" subjects).
const MAX_PRINCIPALS: usize = PRINCIPAL_IDS.len() - 1;

/// An exact permission most of the time, sometimes a pattern.
fn permission_name() -> impl Strategy<Value = &'static str> {
    prop_oneof![
        8 => select(PERMISSIONS.to_vec()),
        2 => select(PATTERNS.to_vec()),
    ]
}

fn condition() -> impl Strategy<Value = Cond> {
    prop_oneof![
        3 => (0..4i64).prop_map(Cond::LevelAbove),
        2 => (1..10i64).prop_map(Cond::AmountBelow),
        2 => (0..3i64).prop_map(Cond::ClearanceAtLeast),
        1 => Just(Cond::NotABool),
    ]
}

fn scope() -> impl Strategy<Value = ScopeDef> {
    prop_oneof![
        4 => Just(ScopeDef::Tenant),
        2 => Just(ScopeDef::Location),
        3 => Just(ScopeDef::Related("assignee")),
        1 => Just(ScopeDef::Related("author")),
    ]
}

fn visibility() -> impl Strategy<Value = FieldVisibility> {
    select(vec![
        FieldVisibility::Off,
        FieldVisibility::Mask,
        FieldVisibility::Full,
    ])
}

fn grant() -> impl Strategy<Value = GrantDef> {
    (
        permission_name(),
        scope(),
        prop::option::weighted(0.3, condition()),
        prop::collection::btree_map(select(FIELD_KEYS.to_vec()), visibility(), 0..=2),
        prop::bool::weighted(0.1),
    )
        .prop_map(|(permission, scope, condition, fields, step_up)| GrantDef {
            permission,
            scope,
            condition,
            fields,
            step_up,
        })
}

/// Role `position`, which may inherit from an earlier one.
fn role(position: usize) -> impl Strategy<Value = RoleDef> {
    let parent = if position == 0 {
        Just(None).boxed()
    } else {
        prop::option::weighted(0.35, 0..position).boxed()
    };
    (
        select(ROLE_TYPES.to_vec()),
        parent,
        prop::collection::vec(permission_name(), 0..=1),
        prop::collection::vec(grant(), 1..=4),
    )
        .prop_map(|(role_type, parent, remove, grants)| RoleDef {
            role_type,
            parent,
            remove,
            grants,
        })
}

/// `[start, end)` in minutes around 0, or always.
fn window() -> impl Strategy<Value = Window> {
    prop_oneof![
        7 => Just(Window::always()),
        3 => (prop::option::of(-120..120i64), prop::option::of(1..240i64)).prop_map(
            |(start, length)| Window {
                start,
                end: length.map(|length| start.unwrap_or(-60) + length),
            }
        ),
    ]
}

fn expiry() -> impl Strategy<Value = Option<i64>> {
    prop::option::weighted(0.3, -120..120i64)
}

/// What an API key is scoped to: patterns as often as exact permissions.
fn scope_name() -> impl Strategy<Value = &'static str> {
    prop_oneof![
        1 => select(PERMISSIONS.to_vec()),
        1 => select(PATTERNS.to_vec()),
    ]
}

fn principal() -> impl Strategy<Value = PrincipalDef> {
    (
        prop::bool::weighted(0.15),
        prop_oneof![
            94 => Just(PrincipalStatus::Active),
            2 => Just(PrincipalStatus::Suspended),
            2 => Just(PrincipalStatus::Invited),
            2 => Just(PrincipalStatus::Deactivated),
        ],
        0..3u64,
        prop::option::weighted(0.7, 0..3i64),
        prop::collection::vec(
            (prop::bool::weighted(0.1), expiry())
                .prop_map(|(revoked, expires)| SessionDef { revoked, expires }),
            0..=2,
        ),
        prop::collection::vec(
            (
                prop::collection::vec(scope_name(), 1..=3),
                prop::bool::weighted(0.15),
                expiry(),
            )
                .prop_map(|(scopes, revoked, expires)| ApiKeyDef {
                    scopes,
                    revoked,
                    expires,
                }),
            0..=2,
        ),
    )
        .prop_map(
            |(service, status, token_version, clearance, sessions, api_keys)| PrincipalDef {
                kind: if service {
                    PrincipalKind::Service
                } else {
                    PrincipalKind::User
                },
                status,
                token_version,
                clearance,
                sessions,
                api_keys,
            },
        )
}

/// Containers a binding may be limited to.
const BINDABLE: [(&str, &str); 8] = [
    ("location", "north"),
    ("location", "south"),
    ("location", "harbor"),
    ("region", "west"),
    ("region", "east"),
    ("queue", "q-denials"),
    ("queue", "q-appeals"),
    ("patient", "p0"),
];

fn binding(principals: usize, roles: usize) -> impl Strategy<Value = BindingDef> {
    (
        0..principals,
        0..roles,
        prop_oneof![
            6 => Just(Vec::new()),
            4 => prop::collection::vec(select(BINDABLE.to_vec()), 1..=2),
        ],
        window(),
        prop_oneof![
            6 => Just(BindingSource::Direct),
            1 => Just(BindingSource::Delegation),
            1 => Just(BindingSource::Elevation),
            1 => Just(BindingSource::BreakGlass),
            1 => Just(BindingSource::Scim),
        ],
    )
        .prop_map(|(principal, role, locations, window, source)| BindingDef {
            principal,
            role,
            locations,
            window,
            source,
        })
}

fn ids(type_name: &str) -> Vec<&'static str> {
    catalog::type_def(type_name).map_or_else(Vec::new, |t| t.ids.to_vec())
}

/// A user a relationship names: usually one of the world's principals, sometimes an id the
/// world lacks (which another generated tenant may well have).
fn user(principals: usize) -> impl Strategy<Value = &'static str> {
    prop_oneof![
        9 => select(PRINCIPAL_IDS[..principals].to_vec()),
        1 => Just(PRINCIPAL_IDS[principals]),
    ]
}

/// Where every resource of the catalog sits and who is assigned to it or wrote it.
fn facts(principals: usize) -> impl Strategy<Value = Vec<Fact>> {
    let fact = |resource_type, resource_id, relation, subject| Fact {
        resource_type,
        resource_id,
        relation,
        subject,
    };
    let locations = ids("location")
        .into_iter()
        .map(move |id| {
            prop::option::weighted(0.7, select(ids("region")))
                .prop_map(move |region| {
                    region
                        .map(|region| {
                            fact(
                                "location",
                                id,
                                "parent",
                                FactSubject::Container("region", region),
                            )
                        })
                        .into_iter()
                        .collect::<Vec<_>>()
                })
                .boxed()
        })
        .collect::<Vec<_>>();
    let queues = ids("queue")
        .into_iter()
        .map(move |id| {
            prop::collection::vec(user(principals), 0..=2)
                .prop_map(move |users| {
                    users
                        .into_iter()
                        .map(|user| fact("queue", id, "assignee", FactSubject::User(user)))
                        .collect::<Vec<_>>()
                })
                .boxed()
        })
        .collect::<Vec<_>>();
    let patients =
        ids("patient")
            .into_iter()
            .map(move |id| {
                (
                    prop::option::weighted(0.8, select(ids("location"))),
                    prop::collection::vec(user(principals), 0..=2),
                )
                    .prop_map(move |(location, users)| {
                        let located = location.map(|location| {
                            fact(
                                "patient",
                                id,
                                "location",
                                FactSubject::Container("location", location),
                            )
                        });
                        located
                            .into_iter()
                            .chain(users.into_iter().map(|user| {
                                fact("patient", id, "assignee", FactSubject::User(user))
                            }))
                            .collect::<Vec<_>>()
                    })
                    .boxed()
            })
            .collect::<Vec<_>>();
    let documents = ids("document")
        .into_iter()
        .map(move |id| {
            (
                prop::option::weighted(0.85, select(ids("patient"))),
                prop::option::weighted(0.7, user(principals)),
            )
                .prop_map(move |(patient, author)| {
                    let inside = patient.map(|patient| {
                        fact(
                            "document",
                            id,
                            "patient",
                            FactSubject::Container("patient", patient),
                        )
                    });
                    let written = author
                        .map(|author| fact("document", id, "author", FactSubject::User(author)));
                    inside.into_iter().chain(written).collect::<Vec<_>>()
                })
                .boxed()
        })
        .collect::<Vec<_>>();
    let claims = ids("claim")
        .into_iter()
        .map(move |id| {
            (
                prop::option::weighted(0.6, select(ids("queue"))),
                prop::option::weighted(0.6, select(ids("patient"))),
            )
                .prop_map(move |(queue, patient)| {
                    let queued = queue.map(|queue| {
                        fact("claim", id, "queue", FactSubject::Container("queue", queue))
                    });
                    let about = patient.map(|patient| {
                        fact(
                            "claim",
                            id,
                            "patient",
                            FactSubject::Container("patient", patient),
                        )
                    });
                    queued.into_iter().chain(about).collect::<Vec<_>>()
                })
                .boxed()
        })
        .collect::<Vec<_>>();
    (locations, queues, patients, documents, claims).prop_map(
        |(locations, queues, patients, documents, claims)| {
            let mut facts: Vec<Fact> = [locations, queues, patients, documents, claims]
                .into_iter()
                .flatten()
                .flatten()
                .collect();
            facts.sort();
            facts.dedup();
            facts
        },
    )
}

/// A forbid constraint over the catalog's permissions, categories, role types and relations.
pub fn constraint() -> impl Strategy<Value = ConstraintDef> {
    (
        prop::collection::vec(permission_name(), 0..=2),
        prop::collection::vec(select(CATEGORIES.to_vec()), 0..=1),
        prop::collection::vec(select(ROLE_TYPES.to_vec()), 0..=1),
        prop::option::weighted(0.4, select(SUBJECT_RELATIONS.to_vec())),
        prop::option::weighted(0.25, condition()),
    )
        .prop_map(
            |(permissions, mut categories, role_types, when_related, condition)| {
                // A constraint must forbid something.
                if permissions.is_empty() && categories.is_empty() {
                    categories.push("qa");
                }
                ConstraintDef {
                    permissions,
                    categories,
                    role_types,
                    when_related,
                    condition,
                }
            },
        )
}

fn delegation(principals: usize) -> impl Strategy<Value = DelegationDef> {
    (
        0..principals,
        0..principals,
        prop::collection::vec(permission_name(), 1..=2),
        window(),
        prop::bool::weighted(0.1),
    )
        .prop_map(
            |(delegator, delegate, permissions, window, revoked)| DelegationDef {
                delegator,
                delegate,
                permissions,
                window,
                revoked,
            },
        )
}

/// A tenant: one to four roles, two to five principals and everything that relates them.
pub fn world() -> impl Strategy<Value = World> {
    (1..=4usize, 2..=MAX_PRINCIPALS).prop_flat_map(|(roles, principals)| {
        (
            (
                prop::bool::weighted(0.03),
                prop::bool::weighted(0.6),
                prop::bool::weighted(0.4),
            ),
            (0..roles).map(role).collect::<Vec<_>>(),
            prop::collection::vec(principal(), principals),
            prop::collection::vec(binding(principals, roles), 2..=9),
            facts(principals),
            prop::collection::vec(constraint(), 0..=2),
            prop::collection::vec(delegation(principals), 0..=3),
        )
            .prop_map(
                |(
                    (suspended, entitled_exports, locked),
                    mut roles,
                    principals,
                    bindings,
                    facts,
                    constraints,
                    delegations,
                )| {
                    // A role never removes what its role type always keeps (that policy would
                    // be refused at load, and the generator only makes valid tenants).
                    if locked {
                        for role in roles.iter_mut().filter(|role| role.role_type == LOCKED.0) {
                            role.remove
                                .retain(|pattern| !catalog::covers(pattern, LOCKED.1));
                        }
                    }
                    World {
                        suspended,
                        entitled_exports,
                        locked,
                        roles,
                        principals,
                        bindings,
                        facts,
                        constraints,
                        delegations,
                    }
                },
            )
    })
}

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

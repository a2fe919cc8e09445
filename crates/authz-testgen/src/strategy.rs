//! Proptest strategies for worlds: valid tenants over the fixed [`crate::catalog`], with every
//! part of a policy varied — roles with inheritance, removals and locked grants; scoped,
//! conditional, field-restricted and step-up grants; principals of both kinds and every status
//! with sessions, token versions and API keys; bindings limited to containers and windows;
//! relationships through nested containers; constraints; delegations.

use authz_core::model::{BindingSource, PrincipalStatus};
use authz_core::{FieldVisibility, PrincipalKind};
use proptest::prelude::*;
use proptest::sample::select;

use crate::catalog::{
    self, CATEGORIES, FIELD_KEYS, LOCKED, PATTERNS, PERMISSIONS, PRINCIPAL_IDS, ROLE_TYPES,
    SUBJECT_RELATIONS,
};
use crate::world::{
    ApiKeyDef, BindingDef, Cond, ConstraintDef, DelegationDef, Fact, FactSubject, GrantDef,
    PrincipalDef, RoleDef, ScopeDef, SessionDef, Window, World,
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

/// The scope of the locked `patient.view` ([`LOCKED`]): tenant-wide (the plain form) or one a
/// patient can hold.
fn locked_scope() -> impl Strategy<Value = ScopeDef> {
    prop_oneof![
        2 => Just(ScopeDef::Tenant),
        1 => Just(ScopeDef::Location),
        1 => Just(ScopeDef::Related("assignee")),
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
            scope: fitting_scope(permission, scope),
            condition,
            fields,
            step_up,
        })
}

/// `scope`, unless it is a `related:` scope no permission `permission` covers can ever hold
/// (a load error): then `location`, so the tenant stays valid.
fn fitting_scope(permission: &str, scope: ScopeDef) -> ScopeDef {
    match scope {
        ScopeDef::Related(relation)
            if !PERMISSIONS.iter().any(|covered| {
                catalog::covers(permission, covered)
                    && catalog::permission_can_hold(covered, relation)
            }) =>
        {
            ScopeDef::Location
        }
        scope => scope,
    }
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
                prop::option::weighted(0.4, locked_scope()),
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
                    if locked.is_some() {
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

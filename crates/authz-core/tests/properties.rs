//! Properties of the engine over generated tenants.
//!
//! Tenants and requests come from `authz-testgen`: valid tenants over a small home-health
//! catalog (nested containers, assignees and authors, classified fields, a feature-gated
//! action) with inheritance, removals, locked grants, scoped and conditional grants, step-up,
//! principals of every status with sessions, token versions and API keys, location-bound and
//! windowed bindings, constraints and delegations; requests aimed at them, mostly valid and
//! often allowed. Each property prints the seed that replays it (`PROPTEST_RNG_SEED=…`) and
//! the outcome mix it saw, and fails if that mix is too thin to mean anything (under 25%
//! allows, or fewer than dozens of allows per scope kind, delegated allows or forbids over an
//! allow).

use std::cell::RefCell;

use authz_core::model::PrincipalStatus;
use authz_core::{Decision, Reason, Snapshot};
use authz_testgen::world::{ConstraintDef, constraint_id};
use authz_testgen::{OutcomeMix, Request, RequestSpec, World, expected, runner};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::TestCaseError;

/// Failures are persisted here and replayed first by every later run.
const REGRESSIONS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/proptest-regressions/properties.txt"
);

/// Tenants per property run, and requests per tenant: 4,096 decisions a property.
const WORLDS: u32 = 128;
const REQUESTS: usize = 32;

fn cases() -> impl Strategy<Value = (World, Vec<RequestSpec>)> {
    (authz_testgen::world(), authz_testgen::requests(REQUESTS))
}

fn compile(world: &World, tenant: &str) -> Result<Snapshot, TestCaseError> {
    world.compile(tenant).map_err(TestCaseError::fail)
}

fn resolve(world: &World, specs: &[RequestSpec]) -> Vec<Request> {
    specs.iter().map(|spec| spec.resolve(world)).collect()
}

fn outcome(decision: &Decision<'_>) -> String {
    if decision.allowed {
        format!(
            "allow via role `{}` binding `{}` scope {:?}",
            decision.basis.role_id, decision.basis.binding_id, decision.basis.scope
        )
    } else {
        format!("deny ({}): {}", decision.reason.code(), decision.message)
    }
}

/// Prints the mix a property saw and fails the test if it was too thin.
#[track_caller]
fn report(property: &str, mix: &OutcomeMix, extra: &str) {
    println!("{property} outcome mix:\n{mix}{extra}");
    mix.assert_meaningful(property);
}

/// A change an admin makes to a tenant, for the "never allows more" properties.
struct Change {
    world: World,
    /// What changed, for failure messages.
    what: String,
    /// A role type some principal no longer holds: constraints that apply only to holders of
    /// that role type (`Constraint::role_types`) are lifted with it, by design.
    lifted_role_type: Option<&'static str>,
}

/// For each generated tenant and change, no request the tenant denied is allowed after the
/// change — unless the deny came from a constraint on the role type the change took away.
/// Records the decisions before the change in the outcome mix and asserts the changes took
/// allows away dozens of times (so the property is not vacuous).
#[track_caller]
fn never_allows_more<C: Strategy>(
    property: &str,
    changes: C,
    apply: impl Fn(&World, C::Value) -> Change,
) {
    let mix = RefCell::new(OutcomeMix::default());
    let narrowed = RefCell::new(0usize);
    runner::check(
        property,
        WORLDS,
        REGRESSIONS,
        (cases(), changes),
        |((world, specs), change)| {
            let before = compile(&world, "acme")?;
            let change = apply(&world, change);
            let after = compile(&change.world, "acme")?;
            let lifted_by_design = |old: &Decision<'_>| {
                old.reason == Reason::ForbiddenByConstraint
                    && change.lifted_role_type.is_some_and(|role_type| {
                        world
                            .constraints
                            .iter()
                            .enumerate()
                            .any(|(at, constraint)| {
                                constraint_id(at) == old.basis.constraint_id
                                    && constraint.role_types.contains(&role_type)
                            })
                    })
            };
            for request in resolve(&world, &specs) {
                let old = before.check(&request.check());
                let new = after.check(&request.check());
                mix.borrow_mut()
                    .record(&request, &old, &expected(&world, &request));
                prop_assert!(
                    old.allowed || !new.allowed || lifted_by_design(&old),
                    "{} turned a deny into an allow: {}: before {}, after {}",
                    change.what,
                    request.describe(),
                    outcome(&old),
                    outcome(&new)
                );
                *narrowed.borrow_mut() += usize::from(old.allowed && !new.allowed);
            }
            Ok(())
        },
    );
    let narrowed = narrowed.into_inner();
    report(
        property,
        &mix.borrow(),
        &format!("\n  allows the changes took away: {narrowed}"),
    );
    assert!(
        narrowed >= authz_testgen::mix::AT_LEAST,
        "{property}: the changes took away only {narrowed} allows"
    );
}

/// Runs a property over every request of every generated tenant: `each` gets the tenant, its
/// snapshot, the request and the engine's decision, and fails the case by returning an error.
/// Every decision is recorded in the outcome mix, which is printed and asserted at the end.
#[track_caller]
fn for_every_request(
    property: &str,
    each: impl Fn(&World, &Snapshot, &Request, &Decision<'_>) -> Result<(), TestCaseError>,
) {
    let mix = RefCell::new(OutcomeMix::default());
    runner::check(property, WORLDS, REGRESSIONS, cases(), |(world, specs)| {
        let snapshot = compile(&world, "acme")?;
        for request in resolve(&world, &specs) {
            let decision = snapshot.check(&request.check());
            mix.borrow_mut()
                .record(&request, &decision, &expected(&world, &request));
            each(&world, &snapshot, &request, &decision)?;
        }
        Ok(())
    });
    report(property, &mix.borrow(), "");
}

#[test]
fn check_agrees_with_the_reference_model() {
    for_every_request(
        "check_agrees_with_the_reference_model",
        |world, _, request, decision| {
            expected(world, request)
                .compare(decision)
                .map_err(|why| TestCaseError::fail(format!("{}: {why}", request.describe())))
        },
    );
}

#[test]
fn explain_reaches_the_same_decision_as_check() {
    for_every_request(
        "explain_reaches_the_same_decision_as_check",
        |_, snapshot, request, checked| {
            let (explained, steps) = snapshot.explain(&request.check());
            prop_assert_eq!(checked, &explained, "{}", request.describe());
            prop_assert_eq!(
                steps.last().map(|step| step.stage),
                Some("decision"),
                "{}",
                request.describe()
            );
            Ok(())
        },
    );
}

/// Deny by default: with no binding, nothing is allowed — asked of the same requests that, with
/// the bindings, are allowed often (the mix reports those).
#[test]
fn no_binding_no_access() {
    let mix = RefCell::new(OutcomeMix::default());
    runner::check(
        "no_binding_no_access",
        WORLDS,
        REGRESSIONS,
        cases(),
        |(world, specs)| {
            let bound = compile(&world, "acme")?;
            let unbound_world = World {
                bindings: Vec::new(),
                ..world.clone()
            };
            let unbound = compile(&unbound_world, "acme")?;
            for request in resolve(&world, &specs) {
                let with = bound.check(&request.check());
                mix.borrow_mut()
                    .record(&request, &with, &expected(&world, &request));
                let without = unbound.check(&request.check());
                prop_assert!(
                    !without.allowed,
                    "{} allowed with no binding: {}",
                    request.describe(),
                    outcome(&without)
                );
            }
            Ok(())
        },
    );
    report("no_binding_no_access", &mix.borrow(), "");
}

#[test]
fn adding_a_forbid_constraint_never_allows_more() {
    never_allows_more(
        "adding_a_forbid_constraint_never_allows_more",
        authz_testgen::strategy::constraint(),
        |world, extra: ConstraintDef| {
            let mut changed = world.clone();
            changed.constraints.push(extra.clone());
            Change {
                world: changed,
                what: format!("adding {extra:?}"),
                lifted_role_type: None,
            }
        },
    );
}

#[test]
fn removing_a_grant_never_allows_more() {
    never_allows_more(
        "removing_a_grant_never_allows_more",
        (any::<Index>(), any::<Index>()),
        |world, (role, grant)| {
            let mut changed = world.clone();
            let role = role.index(changed.roles.len());
            let grants = &mut changed.roles[role].grants;
            let removed = grants.remove(grant.index(grants.len()));
            Change {
                world: changed,
                what: format!("removing {removed:?} from role{role}"),
                lifted_role_type: None,
            }
        },
    );
}

/// Removing a binding never allows more — except by design where a constraint applies only to
/// holders of the removed binding's role type (`Constraint::role_types`): losing the role lifts
/// that constraint. Such a widening is accepted only when the earlier deny came from exactly
/// such a constraint.
#[test]
fn removing_a_binding_never_allows_more() {
    never_allows_more(
        "removing_a_binding_never_allows_more",
        any::<Index>(),
        |world, binding| {
            let mut changed = world.clone();
            let index = binding.index(changed.bindings.len());
            let removed = changed.bindings.remove(index);
            Change {
                world: changed,
                what: format!("removing binding b{index} {removed:?}"),
                lifted_role_type: Some(world.roles[removed.role].role_type),
            }
        },
    );
}

/// What an admin revokes.
#[derive(Debug, Clone, Copy)]
enum Revocation {
    Suspend(Index),
    Session(Index, Index),
    ApiKey(Index, Index),
    Delegation(Index),
}

fn revocation() -> impl Strategy<Value = Revocation> {
    prop_oneof![
        any::<Index>().prop_map(Revocation::Suspend),
        (any::<Index>(), any::<Index>()).prop_map(|(p, s)| Revocation::Session(p, s)),
        (any::<Index>(), any::<Index>()).prop_map(|(p, k)| Revocation::ApiKey(p, k)),
        any::<Index>().prop_map(Revocation::Delegation),
    ]
}

impl Revocation {
    /// Applies the revocation to `world`; false when there was nothing of that kind to revoke.
    fn apply(self, world: &mut World) -> bool {
        let principals = world.principals.len();
        match self {
            Revocation::Suspend(who) => {
                world.principals[who.index(principals)].status = PrincipalStatus::Suspended;
            }
            Revocation::Session(who, which) => {
                let sessions = &mut world.principals[who.index(principals)].sessions;
                if sessions.is_empty() {
                    return false;
                }
                let at = which.index(sessions.len());
                sessions[at].revoked = true;
            }
            Revocation::ApiKey(who, which) => {
                let keys = &mut world.principals[who.index(principals)].api_keys;
                if keys.is_empty() {
                    return false;
                }
                let at = which.index(keys.len());
                keys[at].revoked = true;
            }
            Revocation::Delegation(which) => {
                if world.delegations.is_empty() {
                    return false;
                }
                let at = which.index(world.delegations.len());
                world.delegations[at].revoked = true;
            }
        }
        true
    }
}

/// Suspending a principal, revoking a session, an API key or a delegation never allows more.
#[test]
fn revoking_access_never_allows_more() {
    never_allows_more(
        "revoking_access_never_allows_more",
        revocation(),
        |world, revocation| {
            let mut changed = world.clone();
            // With nothing of that kind to revoke, the tenant must answer as it did.
            if !revocation.apply(&mut changed) {
                changed = world.clone();
            }
            Change {
                world: changed,
                what: format!("{revocation:?}"),
                lifted_role_type: None,
            }
        },
    );
}

/// A delegate never receives what the delegator lacks: whatever is allowed on behalf of
/// someone is allowed to that someone asking themselves.
#[test]
fn a_delegated_allow_is_an_allow_for_the_delegator() {
    for_every_request(
        "a_delegated_allow_is_an_allow_for_the_delegator",
        |_, snapshot, request, decision| {
            let Some((delegator, kind)) = request.on_behalf_of.clone().filter(|_| decision.allowed)
            else {
                return Ok(());
            };
            let mut direct = Request::new(
                &delegator,
                &request.permission(),
                &request.resource_id,
                request.minute,
            )
            .with_inputs(request.amount, request.level);
            direct.kind = kind;
            let own = snapshot.check(&direct.check());
            prop_assert!(
                own.allowed,
                "{} allowed on behalf of `{delegator}`, who is denied: {}",
                request.describe(),
                outcome(&own)
            );
            Ok(())
        },
    );
}

/// Two tenants with the same ids — principals, roles, resources, bindings — and different
/// data: each answers from its own data only (the reference model of that tenant), and the two
/// answer differently often enough that leaked data would show.
#[test]
fn tenants_with_the_same_ids_answer_from_their_own_data() {
    let mix = RefCell::new(OutcomeMix::default());
    let differing = RefCell::new(0usize);
    runner::check(
        "tenants_with_the_same_ids_answer_from_their_own_data",
        WORLDS,
        REGRESSIONS,
        (cases(), authz_testgen::world()),
        |((ours, specs), theirs)| {
            let ours_snapshot = compile(&ours, "acme")?;
            let theirs_snapshot = compile(&theirs, "globex")?;
            for request in resolve(&ours, &specs) {
                let in_ours = ours_snapshot.check(&request.check());
                let in_theirs = theirs_snapshot.check(&request.check());
                let want_ours = expected(&ours, &request);
                let want_theirs = expected(&theirs, &request);
                want_ours.compare(&in_ours).map_err(|why| {
                    TestCaseError::fail(format!("acme: {}: {why}", request.describe()))
                })?;
                want_theirs.compare(&in_theirs).map_err(|why| {
                    TestCaseError::fail(format!("globex: {}: {why}", request.describe()))
                })?;
                *differing.borrow_mut() += usize::from(in_ours.allowed != in_theirs.allowed);
                mix.borrow_mut().record(&request, &in_ours, &want_ours);
            }
            Ok(())
        },
    );
    let differing = differing.into_inner();
    report(
        "tenants_with_the_same_ids_answer_from_their_own_data",
        &mix.borrow(),
        &format!("\n  requests the two tenants answer differently: {differing}"),
    );
    assert!(
        differing * 10 >= mix.borrow().decisions,
        "the two tenants differ on only {differing} requests: isolation would hardly show"
    );
}

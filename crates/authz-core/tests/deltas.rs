//! Patching a snapshot instead of recompiling it: relationship writes
//! ([`Snapshot::with_relationships`]) and policy changes ([`Snapshot::with_policy`]).
//!
//! A replica keeps one compiled snapshot per tenant and applies each write to it. What it must
//! be able to rely on, and what these tests show:
//!
//! - a patched snapshot decides every request exactly as a snapshot compiled from scratch with
//!   the same relationships (a property over generated tenants, and worked examples);
//! - a patch shares what it did not change: the compiled policy, and every shard of the
//!   relationship graph no write touched; a resource nothing names any more is forgotten;
//! - a new policy keeps the relationship graph as it is when the catalog reads it the same;
//! - a relationship the catalog refuses is refused by name, and the snapshot it was meant for
//!   is left as it was;
//! - a check walks at most 32 containers up from its resource: past that, a `when_related`
//!   forbid constraint applies (fail closed).

mod common;

use std::cell::RefCell;

use authz_core::model::Relationship;
use authz_core::{PolicyError, Reason, RelationshipChange, Snapshot, StepOutcome, TenantPolicy};
use authz_testgen::world::Fact;
use authz_testgen::{OutcomeMix, RequestSpec, World, expected, runner};
use common::{Ask, Expect, ask, check_all, compile, decide, explain, outcome, parse, relationship};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

use Expect::{Allow, Deny};
use Reason::{ForbiddenByConstraint, OutOfScope};

/// Failures are persisted here and replayed first by every later run.
const REGRESSIONS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/proptest-regressions/deltas.txt"
);

/// A home-health agency: patients at locations in regions, assignees, documents with authors.
const RIVERSIDE: &str = r#"
tenant: { id: riverside }
catalog:
  resource_types:
    region: { container: true, actions: { view: {} } }
    location:
      container: true
      relations: { region: { container: region } }
      actions: { view: {} }
    patient:
      container: true
      relations: { location: { container: location }, assignee: { subject: user } }
      actions: { view: {}, edit: {} }
    document:
      relations: { patient: { container: patient }, author: { subject: user } }
      actions: { view: {}, approve: {} }
roles:
  - id: nurse
    role_type: clinician
    grants:
      - { permission: patient.view, scope: "related:assignee" }
      - { permission: document.view, scope: "related:assignee" }
  - id: branch_manager
    role_type: manager
    grants: [ { permission: "*", scope: location } ]
  - id: reviewer
    role_type: qa
    grants: [ { permission: document.approve } ]
principals: [ { id: rita }, { id: mo }, { id: rae }, { id: carla } ]
bindings:
  - { id: b-rita, principal: rita, role: nurse }
  - { id: b-mo, principal: mo, role: branch_manager, locations: [location:north] }
  - { id: b-rae, principal: rae, role: branch_manager, locations: [region:west] }
  - { id: b-carla, principal: carla, role: reviewer }
constraints:
  - { id: no_self_approval, permissions: [document.approve], when_related: author }
relationships:
  - location:north#region@region:west
  - patient:p1#location@location:north
  - patient:p1#assignee@user:rita
  - document:d1#patient@patient:p1
  - document:d1#author@user:carla
  - patient:p2#location@location:south
"#;

fn riverside() -> TenantPolicy {
    parse(RIVERSIDE)
}

/// One write, as the tests spell it.
#[derive(Debug, Clone, Copy)]
enum Write {
    Touch(&'static str),
    Delete(&'static str),
}

use Write::{Delete, Touch};

/// Applies `writes` to `snapshot` at revision 1 (as [`compile`] compiles), in one batch.
fn patch(snapshot: &Snapshot, writes: &[Write]) -> Result<Snapshot, PolicyError> {
    let parsed: Vec<(bool, Relationship)> = writes
        .iter()
        .map(|write| match write {
            Touch(text) => (true, relationship(text)),
            Delete(text) => (false, relationship(text)),
        })
        .collect();
    snapshot.with_relationships(
        parsed.iter().map(|(touch, relationship)| {
            if *touch {
                RelationshipChange::Touch(relationship)
            } else {
                RelationshipChange::Delete(relationship)
            }
        }),
        1,
    )
}

#[track_caller]
#[expect(clippy::panic, reason = "a refused write fails the test that made it")]
fn patched(snapshot: &Snapshot, writes: &[Write]) -> Snapshot {
    patch(snapshot, writes).unwrap_or_else(|error| panic!("{writes:?} refused: {error}"))
}

/// `policy` with `writes` applied to its relationships, the way a store would hold them.
fn written(policy: &TenantPolicy, writes: &[Write]) -> TenantPolicy {
    let mut policy = policy.clone();
    for write in writes {
        match write {
            Touch(text) => {
                let added = relationship(text);
                if !policy.relationships.contains(&added) {
                    policy.relationships.push(added);
                }
            }
            Delete(text) => {
                let gone = relationship(text);
                policy.relationships.retain(|kept| *kept != gone);
            }
        }
    }
    policy
}

/// Every question the worked examples ask: each principal, each permission, each resource.
fn every_question() -> Vec<Ask<'static>> {
    let resources: [(&str, &[&str]); 4] = [
        ("region", &["west", "east"]),
        ("location", &["north", "south", "harbor"]),
        ("patient", &["p1", "p2", "p3"]),
        ("document", &["d1", "d2"]),
    ];
    let actions: [(&str, &[&str]); 4] = [
        ("region", &["region.view"]),
        ("location", &["location.view"]),
        ("patient", &["patient.view", "patient.edit"]),
        ("document", &["document.view", "document.approve"]),
    ];
    let mut asks = Vec::new();
    for principal in ["rita", "mo", "rae", "carla"] {
        for ((_, ids), (_, permissions)) in resources.iter().zip(actions) {
            for permission in permissions {
                for id in *ids {
                    asks.push(ask(principal, permission, id));
                }
            }
        }
    }
    asks
}

/// `patched` decides every question exactly as `fresh` does.
#[track_caller]
fn decides_like(patched: &Snapshot, fresh: &Snapshot, asks: &[Ask<'_>]) {
    for ask in asks {
        let (ours, theirs) = (decide(patched, ask), decide(fresh, ask));
        assert_eq!(
            ours,
            theirs,
            "{}: patched {}, compiled {}",
            ask.describe(),
            outcome(&ours),
            outcome(&theirs)
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Writes take effect
// ---------------------------------------------------------------------------------------------

/// Each case: what an admin writes, and what that changes for whom. After each, the patched
/// snapshot answers every question as a snapshot compiled with the same relationships does,
/// and the snapshot it was patched from still answers as it did.
#[test]
fn relationship_writes_take_effect_as_a_recompile_would() {
    type Case = (&'static str, &'static [Write], Vec<(Ask<'static>, Expect)>);
    let cases: Vec<Case> = vec![
        (
            "assigning rita to p2 lets her see it",
            &[Touch("patient:p2#assignee@user:rita")],
            vec![(ask("rita", "patient.view", "p2"), Allow)],
        ),
        (
            "unassigning rita from p1 takes p1 and the documents in it away from her",
            &[Delete("patient:p1#assignee@user:rita")],
            vec![
                (ask("rita", "patient.view", "p1"), Deny(OutOfScope)),
                (ask("rita", "document.view", "d1"), Deny(OutOfScope)),
            ],
        ),
        (
            "moving p1 from north to south takes it out of mo's reach",
            &[
                Delete("patient:p1#location@location:north"),
                Touch("patient:p1#location@location:south"),
            ],
            vec![
                (ask("mo", "patient.view", "p1"), Deny(OutOfScope)),
                (ask("mo", "document.view", "d1"), Deny(OutOfScope)),
                (ask("rae", "patient.view", "p1"), Deny(OutOfScope)),
            ],
        ),
        (
            "south joining region west brings its patients into rae's reach",
            &[Touch("location:south#region@region:west")],
            vec![
                (ask("rae", "patient.view", "p2"), Allow),
                (ask("rae", "location.view", "south"), Allow),
                (ask("mo", "patient.view", "p2"), Deny(OutOfScope)),
            ],
        ),
        (
            "a document filed in p1 is within mo's location and rita's assignment",
            &[Touch("document:d2#patient@patient:p1")],
            vec![
                (ask("mo", "document.view", "d2"), Allow),
                (ask("rita", "document.view", "d2"), Allow),
            ],
        ),
        (
            "carla authoring d1 was what forbade her approving it",
            &[Delete("document:d1#author@user:carla")],
            vec![(ask("carla", "document.approve", "d1"), Allow)],
        ),
        (
            "touching what exists and deleting what does not changes nothing",
            &[
                Touch("patient:p1#assignee@user:rita"),
                Delete("patient:p3#assignee@user:rita"),
                Delete("patient:p1#location@location:south"),
            ],
            vec![
                (ask("rita", "patient.view", "p1"), Allow),
                (ask("rita", "patient.view", "p3"), Deny(OutOfScope)),
                (
                    ask("carla", "document.approve", "d1"),
                    Deny(ForbiddenByConstraint),
                ),
            ],
        ),
        (
            "a write undone in the same batch leaves nothing behind",
            &[
                Touch("patient:p3#location@location:harbor"),
                Touch("patient:p3#assignee@user:rita"),
                Delete("patient:p3#assignee@user:rita"),
                Delete("patient:p3#location@location:harbor"),
            ],
            vec![
                (ask("rita", "patient.view", "p3"), Deny(OutOfScope)),
                (ask("mo", "patient.view", "p3"), Deny(OutOfScope)),
            ],
        ),
    ];
    let policy = riverside();
    let original = compile(&policy);
    let questions = every_question();
    let before: Vec<String> = questions
        .iter()
        .map(|ask| outcome(&decide(&original, ask)))
        .collect();
    for (what, writes, expectations) in &cases {
        let after = patched(&original, writes);
        check_all(&after, expectations);
        let fresh = compile(&written(&policy, writes));
        decides_like(&after, &fresh, &questions);
        assert_eq!(after.resource_count(), fresh.resource_count(), "{what}");
        let still: Vec<String> = questions
            .iter()
            .map(|ask| outcome(&decide(&original, ask)))
            .collect();
        assert_eq!(before, still, "{what}: the original snapshot changed");
    }
}

// ---------------------------------------------------------------------------------------------
// Sharing
// ---------------------------------------------------------------------------------------------

/// A tenant large enough for several shards: 4,000 patients at 20 locations, each with an
/// assignee.
fn large_riverside() -> TenantPolicy {
    let mut policy = riverside();
    for patient in 0..4_000 {
        policy.relationships.push(relationship(&format!(
            "patient:lp{patient}#location@location:l{}",
            patient % 20
        )));
        policy.relationships.push(relationship(&format!(
            "patient:lp{patient}#assignee@user:rita"
        )));
    }
    policy
}

/// A write copies the shards it changes (the resource's, and a new container's) and shares
/// every other with the snapshot it was applied to, and the compiled policy too.
#[test]
fn a_write_copies_only_the_shards_it_changes() {
    let cases: [(&str, &[Write], usize); 5] = [
        (
            "assigning a patient someone",
            &[Touch("patient:lp7#assignee@user:mo")],
            1,
        ),
        (
            "unassigning a patient",
            &[Delete("patient:lp7#assignee@user:rita")],
            1,
        ),
        (
            "a new patient at a known location (its shard, and the location's)",
            &[Touch("patient:new#location@location:l3")],
            2,
        ),
        (
            "touching a relationship the tenant has",
            &[Touch("patient:lp7#assignee@user:rita")],
            0,
        ),
        (
            "deleting one it lacks",
            &[Delete("patient:lp7#assignee@user:carla")],
            0,
        ),
    ];
    let original = compile(&large_riverside());
    for (what, writes, copied_at_most) in cases {
        let after = patched(&original, writes);
        let sharing = after.sharing_with(&original);
        assert!(sharing.policy, "{what}: the compiled policy is copied");
        assert!(sharing.graph_shards >= 8, "{what}: {sharing:?}");
        let copied = sharing.graph_shards - sharing.shared_graph_shards;
        assert!(
            copied <= copied_at_most && (copied_at_most == 0 || copied >= 1),
            "{what}: {copied} shards copied, expected at most {copied_at_most} ({sharing:?})"
        );
    }
}

/// A resource or container nothing names any more is forgotten: the snapshot counts what a
/// recompile would, and a container no relationship and no binding names is no longer one the
/// tenant knows (a `location` scope does not hold on it).
#[test]
fn deleting_the_last_relationship_of_a_resource_forgets_it() {
    // (what, writes, resources forgotten)
    let cases: [(&str, &[Write], usize); 5] = [
        (
            "p1 still sits in north after losing its assignee",
            &[Delete("patient:p1#assignee@user:rita")],
            0,
        ),
        (
            "d1 goes with its last two relationships; p1 still has its own",
            &[
                Delete("document:d1#patient@patient:p1"),
                Delete("document:d1#author@user:carla"),
            ],
            1,
        ),
        (
            "p2 goes with its only relationship, and south with the last patient in it",
            &[Delete("patient:p2#location@location:south")],
            2,
        ),
        (
            "north stays while p1 sits in it; west goes with north's region",
            &[Delete("location:north#region@region:west")],
            1,
        ),
        (
            "p1 stays while d1 sits in it, after losing its location and assignee",
            &[
                Delete("patient:p1#location@location:north"),
                Delete("patient:p1#assignee@user:rita"),
            ],
            0,
        ),
    ];
    let policy = riverside();
    let original = compile(&policy);
    for (what, writes, forgotten) in cases {
        let after = patched(&original, writes);
        assert_eq!(
            original.resource_count() - after.resource_count(),
            forgotten,
            "{what}"
        );
        let fresh = compile(&written(&policy, writes));
        assert_eq!(after.resource_count(), fresh.resource_count(), "{what}");
        decides_like(&after, &fresh, &every_question());
    }
    // A `location` scope holds on a container only while the tenant knows it: ask as a
    // tenant-wide branch manager.
    let mut wide = riverside();
    wide.bindings.push(parse_binding(
        "{ id: b-wide, principal: carla, role: branch_manager }",
    ));
    let known = compile(&wide);
    let forgotten = patched(&known, &[Delete("patient:p2#location@location:south")]);
    check_all(&known, &[(ask("carla", "location.view", "south"), Allow)]);
    check_all(
        &forgotten,
        &[(ask("carla", "location.view", "south"), Deny(OutOfScope))],
    );
}

#[track_caller]
fn parse_binding(yaml: &str) -> authz_core::model::Binding {
    let wrapped = format!("tenant: {{ id: riverside }}\nbindings: [ {yaml} ]\n");
    parse(&wrapped).bindings.remove(0)
}

// ---------------------------------------------------------------------------------------------
// A new policy over the same relationships
// ---------------------------------------------------------------------------------------------

/// What the admin changes in the policy, and whether the relationship graph is kept shard for
/// shard. Either way the snapshot answers as one compiled from the new policy with the
/// snapshot's relationships.
#[test]
fn a_new_policy_keeps_the_relationship_graph_when_the_catalog_reads_it_the_same() {
    type Change = fn(&mut TenantPolicy);
    let cases: [(&str, Change, bool); 4] = [
        (
            "a role loses a grant",
            |policy| policy.roles[0].grants.truncate(1),
            true,
        ),
        (
            "a principal and a binding are added",
            |policy| {
                policy.principals.push(parse_principal("{ id: nina }"));
                policy.bindings.push(parse_binding(
                    "{ id: b-nina, principal: nina, role: nurse }",
                ));
            },
            true,
        ),
        (
            "an action is added to a type",
            |policy| {
                if let Some(patient) = policy.catalog.resource_types.get_mut("patient") {
                    patient
                        .actions
                        .insert("discharge".into(), Default::default());
                }
            },
            true,
        ),
        (
            "a relation is added (relation ids move: the graph is rebuilt under the new ones)",
            |policy| {
                if let Some(document) = policy.catalog.resource_types.get_mut("document") {
                    document.relations.insert(
                        "a_cosigner".into(),
                        authz_core::model::RelationDef {
                            container: None,
                            subject: Some(authz_core::PrincipalKind::User),
                        },
                    );
                }
            },
            false,
        ),
    ];
    let original = compile(&large_riverside());
    for (what, change, kept) in cases {
        let mut policy = large_riverside();
        change(&mut policy);
        // The relationships of the policy given are ignored: the snapshot's are kept.
        let mut without_relationships = policy.clone();
        without_relationships.relationships.clear();
        let after = original
            .with_policy(&without_relationships, None, 1)
            .unwrap_or_else(|error| panic!("{what}: refused: {error}"));
        let sharing = after.sharing_with(&original);
        assert!(!sharing.policy, "{what}");
        assert_eq!(
            sharing.shared_graph_shards == sharing.graph_shards,
            kept,
            "{what}: {sharing:?}"
        );
        decides_like(&after, &compile(&policy), &every_question());
    }
}

#[track_caller]
fn parse_principal(yaml: &str) -> authz_core::model::Principal {
    parse(&format!(
        "tenant: {{ id: riverside }}\nprincipals: [ {yaml} ]\n"
    ))
    .principals
    .remove(0)
}

#[test]
fn a_new_policy_whose_catalog_no_longer_fits_a_relationship_is_refused_naming_it() {
    let original = compile(&riverside());
    let mut policy = riverside();
    if let Some(document) = policy.catalog.resource_types.get_mut("document") {
        document.relations.remove("author");
    }
    policy.constraints.clear();
    let refused = original.with_policy(&policy, None, 2);
    assert!(
        matches!(
            &refused,
            Err(PolicyError::Relationship { relationship, .. })
                if relationship == "document:d1#author@user:carla"
        ),
        "{refused:?}"
    );

    let mut other = riverside();
    other.tenant.id = "lakeside".into();
    assert_eq!(
        original.with_policy(&other, None, 2).map(|_| ()),
        Err(PolicyError::OtherTenant {
            snapshot: "riverside".into(),
            policy: "lakeside".into()
        })
    );
}

// ---------------------------------------------------------------------------------------------
// Refused writes
// ---------------------------------------------------------------------------------------------

/// A write the catalog refuses is refused naming the relationship (or the id that breaks the
/// id rule), whatever came before it in the batch; the snapshot it was meant for still answers
/// as it did.
#[test]
fn an_invalid_relationship_is_refused_naming_it_and_changes_nothing() {
    let long = "p".repeat(authz_core::MAX_ID_LEN + 1);
    let long_write = format!("patient:{long}#assignee@user:rita");
    let cases: [(&str, &str); 6] = [
        ("patient:p1#assignee@user:nina", ""),
        ("ward:w1#assignee@user:rita", "unknown resource type `ward`"),
        (
            "patient:p1#author@user:rita",
            "resource type `patient` declares no relation `author`",
        ),
        (
            "patient:p1#assignee@service:billing-bot",
            "relation `assignee` points at a `user`, not `service`",
        ),
        (
            "patient:p1#location@region:west",
            "relation `location` points at `location`, not `region`",
        ),
        (&long_write, "must be at most 256 bytes"),
    ];
    let original = compile(&riverside());
    let questions = every_question();
    for (text, why) in cases {
        let bad = relationship(text);
        let good = relationship("patient:p2#assignee@user:rita");
        let changes = [
            RelationshipChange::Touch(&good),
            RelationshipChange::Touch(&bad),
        ];
        match original.with_relationships(changes, 2) {
            // A valid write to a principal the tenant lacks is a fact like any other.
            Ok(_) if why.is_empty() => {}
            Ok(_) => panic!("`{text}` accepted"),
            Err(error) => {
                let message = error.to_string();
                assert!(
                    message.contains(why) && (message.contains(text) || message.contains(&long)),
                    "`{text}`: {message}"
                );
            }
        }
        // Deleting it is refused the same way.
        if !why.is_empty() {
            assert!(
                original
                    .with_relationships([RelationshipChange::Delete(&bad)], 2)
                    .is_err()
            );
        }
        decides_like(&original, &compile(&riverside()), &questions);
    }
}

// ---------------------------------------------------------------------------------------------
// The bound of the container walk
// ---------------------------------------------------------------------------------------------

/// Files in folders in folders: a chain (or a cycle) of folders as deep as a test wants.
const ARCHIVE: &str = r#"
tenant: { id: archive }
catalog:
  resource_types:
    folder:
      container: true
      relations: { parent: { container: folder }, owner: { subject: user } }
      actions: { view: {} }
    file:
      relations:
        folder: { container: folder }
        owner: { subject: user }
        locker: { subject: user }
      actions: { view: {}, delete: {}, rename: {} }
roles:
  - id: owner_view
    role_type: staff
    grants: [ { permission: file.view, scope: "related:owner" } ]
  - id: cleaner
    role_type: staff
    grants: [ { permission: file.delete }, { permission: file.rename } ]
principals: [ { id: olga } ]
bindings:
  - { id: b-view, principal: olga, role: owner_view }
  - { id: b-clean, principal: olga, role: cleaner }
constraints:
  - id: owners_keep_their_files
    description: what someone owns, directly or through a folder, is theirs to keep
    permissions: [file.delete]
    when_related: owner
  - { id: locked_files_keep_their_names, permissions: [file.rename], when_related: locker }
"#;

/// `file:f` in `depth` nested folders (`folder:f0` the innermost); the last points back at the
/// first when `cycle`; olga owns the folder at `owner` levels up (1 is `f0`).
fn archive(depth: usize, cycle: bool, owner: Option<usize>) -> Snapshot {
    let mut policy = parse(ARCHIVE);
    let mut add = |text: String| policy.relationships.push(relationship(&text));
    add("file:f#folder@folder:f0".into());
    for level in 1..depth {
        add(format!("folder:f{}#parent@folder:f{level}", level - 1));
    }
    if cycle {
        add(format!("folder:f{}#parent@folder:f0", depth - 1));
    }
    if let Some(level) = owner {
        add(format!("folder:f{}#owner@user:olga", level - 1));
    }
    compile(&policy)
}

/// A check walks up to 32 containers. Within the bound every container counts; past it a
/// `related:` grant sees only the nearest 32 (it can only allow less), and a `when_related`
/// constraint that did not find its relation applies: what the walk did not see may hold it.
/// A containment cycle ends the walk where it comes back.
#[test]
fn containment_past_the_walk_bound_fails_closed_for_when_related_constraints() {
    // (folders, cycle, owner's level, file.view, file.delete)
    let cases = [
        (3, false, Some(3), Allow, Deny(ForbiddenByConstraint)),
        (3, false, None, Deny(OutOfScope), Allow),
        (32, false, Some(32), Allow, Deny(ForbiddenByConstraint)),
        (32, false, None, Deny(OutOfScope), Allow),
        (33, false, Some(32), Allow, Deny(ForbiddenByConstraint)),
        // Past the bound: the owner is not seen, and the constraint applies anyway.
        (
            33,
            false,
            Some(33),
            Deny(OutOfScope),
            Deny(ForbiddenByConstraint),
        ),
        (
            40,
            false,
            None,
            Deny(OutOfScope),
            Deny(ForbiddenByConstraint),
        ),
        (5, true, None, Deny(OutOfScope), Allow),
        (5, true, Some(5), Allow, Deny(ForbiddenByConstraint)),
        (32, true, None, Deny(OutOfScope), Allow),
        (
            40,
            true,
            None,
            Deny(OutOfScope),
            Deny(ForbiddenByConstraint),
        ),
    ];
    for (depth, cycle, owner, view, delete) in cases {
        let snapshot = archive(depth, cycle, owner);
        let label = format!("{depth} folders, cycle {cycle}, owner at {owner:?}");
        for (permission, expect) in [("file.view", view), ("file.delete", delete)] {
            let ask = ask("olga", permission, "f");
            let decision = decide(&snapshot, &ask);
            assert!(
                expect.matches(&decision),
                "{label}: {}: expected {}, got {}",
                ask.describe(),
                expect.describe(),
                outcome(&decision)
            );
        }
    }
    // No folder declares `locker`: it is never held through one, so however deep the folders
    // go, a constraint on it knows whether it applies.
    let deep = archive(40, false, None);
    let locked = patched(&deep, &[Touch("file:f#locker@user:olga")]);
    check_all(&deep, &[(ask("olga", "file.rename", "f"), Allow)]);
    check_all(
        &locked,
        &[(ask("olga", "file.rename", "f"), Deny(ForbiddenByConstraint))],
    );
    // An explanation says why the constraint applied.
    let (_, steps) = explain(&archive(40, false, None), &ask("olga", "file.delete", "f"));
    assert!(
        steps.iter().any(|step| step.stage == "constraint"
            && step.outcome == StepOutcome::Match
            && step.detail.contains("more containers than a check walks")),
        "{steps:#?}"
    );
}

// ---------------------------------------------------------------------------------------------
// The property
// ---------------------------------------------------------------------------------------------

/// Tenants per run, and requests per tenant.
const WORLDS: u32 = 128;
const REQUESTS: usize = 32;

/// How one generated tenant's relationships are split and replayed: per relationship, whether
/// it is in the starting snapshot, whether it is in the final one, whether the replay adds
/// noise (a redundant touch, a touch undone later, a delete of what is absent); a sort key per
/// relationship that shuffles the writes; and how many writes go in a batch.
#[derive(Debug, Clone)]
struct Plan {
    start: Vec<bool>,
    end: Vec<bool>,
    noise: Vec<bool>,
    order: Vec<u32>,
    batch: usize,
}

/// Generated worlds have at most ~35 relationships.
const MAX_FACTS: usize = 64;

fn plan() -> impl Strategy<Value = Plan> {
    (
        prop::collection::vec(any::<bool>(), MAX_FACTS),
        prop::collection::vec(any::<bool>(), MAX_FACTS),
        prop::collection::vec(prop::bool::weighted(0.3), MAX_FACTS),
        prop::collection::vec(any::<u32>(), MAX_FACTS),
        1..=5usize,
    )
        .prop_map(|(start, end, noise, order, batch)| Plan {
            start,
            end,
            noise,
            order,
            batch,
        })
}

/// The starting facts, the final facts, and the writes (in batches) that lead from one to the
/// other.
struct Replay {
    start: Vec<Fact>,
    end: Vec<Fact>,
    /// `(true, fact)` touches, `(false, fact)` deletes.
    batches: Vec<Vec<(bool, Fact)>>,
}

fn replay(world: &World, plan: &Plan) -> Replay {
    let mut facts = world.facts.clone();
    facts.sort();
    facts.dedup();
    facts.truncate(MAX_FACTS);
    let pick = |flags: &[bool]| -> Vec<Fact> {
        facts
            .iter()
            .zip(flags)
            .filter(|(_, keep)| **keep)
            .map(|(fact, _)| *fact)
            .collect()
    };
    let (start, end) = (pick(&plan.start), pick(&plan.end));
    // First every touch and delete that leads from start to end (with redundant touches and
    // touches undone in the second phase), shuffled; then the undoing deletes, and deletes of
    // what is absent.
    let mut first = Vec::new();
    let mut second = Vec::new();
    for (at, fact) in facts.iter().enumerate() {
        let (was, will, noise) = (plan.start[at], plan.end[at], plan.noise[at]);
        match (was, will) {
            (false, true) => first.push((plan.order[at], (true, *fact))),
            (true, false) => first.push((plan.order[at], (false, *fact))),
            (true, true) if noise => first.push((plan.order[at], (true, *fact))),
            (false, false) if noise => {
                first.push((plan.order[at], (true, *fact)));
                second.push((plan.order[at], (false, *fact)));
            }
            (false, false) if plan.order[at].is_multiple_of(2) => {
                second.push((plan.order[at], (false, *fact)));
            }
            _ => {}
        }
    }
    first.sort_by_key(|(key, _)| *key);
    second.sort_by_key(|(key, _)| *key);
    let writes: Vec<(bool, Fact)> = first.into_iter().chain(second).map(|(_, w)| w).collect();
    let batches = writes.chunks(plan.batch).map(<[_]>::to_vec).collect();
    Replay {
        start,
        end,
        batches,
    }
}

fn world_with(world: &World, facts: Vec<Fact>) -> World {
    World {
        facts,
        ..world.clone()
    }
}

fn compile_world(world: &World) -> Result<Snapshot, TestCaseError> {
    world.compile("acme").map_err(TestCaseError::fail)
}

/// A generated tenant's relationships are split into a starting set and a shuffled sequence of
/// touches and deletes (with redundant touches, touches undone and deletes of what is absent),
/// applied in batches. The patched snapshot decides every generated request exactly as a
/// snapshot compiled from scratch with the final relationships does (and as the reference
/// model says), and the starting snapshot still decides as it did.
#[test]
fn a_patched_snapshot_decides_like_one_compiled_from_scratch() {
    let mix = RefCell::new(OutcomeMix::default());
    runner::check(
        "a_patched_snapshot_decides_like_one_compiled_from_scratch",
        WORLDS,
        REGRESSIONS,
        (
            authz_testgen::world(),
            authz_testgen::requests(REQUESTS),
            plan(),
        ),
        |(world, specs, plan)| {
            let Replay {
                start,
                end,
                batches,
            } = replay(&world, &plan);
            let start_world = world_with(&world, start);
            let end_world = world_with(&world, end);
            let starting = compile_world(&start_world)?;
            let fresh = compile_world(&end_world)?;
            let requests: Vec<_> = specs.iter().map(|spec| spec.resolve(&end_world)).collect();
            let before: Vec<_> = requests
                .iter()
                .map(|r| starting.check(&r.check()))
                .collect();

            let mut patched = starting.with_relationships([], 1).map_err(fail)?;
            for batch in &batches {
                let relationships: Vec<(bool, Relationship)> = batch
                    .iter()
                    .map(|(touch, fact)| (*touch, fact.relationship()))
                    .collect();
                let changes = relationships.iter().map(|(touch, relationship)| {
                    if *touch {
                        RelationshipChange::Touch(relationship)
                    } else {
                        RelationshipChange::Delete(relationship)
                    }
                });
                patched = patched.with_relationships(changes, 1).map_err(fail)?;
            }
            prop_assert!(patched.sharing_with(&starting).policy);
            prop_assert_eq!(patched.resource_count(), fresh.resource_count());
            for (request, earlier) in requests.iter().zip(&before) {
                let ours = patched.check(&request.check());
                let theirs = fresh.check(&request.check());
                prop_assert_eq!(&ours, &theirs, "{}", request.describe());
                let want = expected(&end_world, request);
                want.compare(&ours)
                    .map_err(|why| TestCaseError::fail(format!("{}: {why}", request.describe())))?;
                mix.borrow_mut().record(request, &ours, &want);
                prop_assert_eq!(
                    earlier,
                    &starting.check(&request.check()),
                    "the starting snapshot changed: {}",
                    request.describe()
                );
            }
            Ok(())
        },
    );
    let mix = mix.borrow();
    println!("outcome mix:\n{mix}");
    mix.assert_meaningful("a_patched_snapshot_decides_like_one_compiled_from_scratch");
}

/// A snapshot given another generated tenant's policy (same catalog) keeps its relationship
/// graph and decides as that policy compiled with the snapshot's relationships.
#[test]
fn a_snapshot_given_a_new_policy_decides_like_one_compiled_from_scratch() {
    runner::check(
        "a_snapshot_given_a_new_policy_decides_like_one_compiled_from_scratch",
        WORLDS / 2,
        REGRESSIONS,
        (
            authz_testgen::world(),
            authz_testgen::world(),
            authz_testgen::requests(REQUESTS),
        ),
        |(ours, theirs, specs): (World, World, Vec<RequestSpec>)| {
            let snapshot = compile_world(&ours)?;
            let combined = world_with(&theirs, ours.facts.clone());
            let fresh = compile_world(&combined)?;
            let mut policy = theirs.policy("acme");
            policy.relationships.clear();
            let changed = snapshot.with_policy(&policy, None, 1).map_err(fail)?;
            let sharing = changed.sharing_with(&snapshot);
            prop_assert_eq!(sharing.shared_graph_shards, sharing.graph_shards);
            for spec in &specs {
                let request = spec.resolve(&combined);
                prop_assert_eq!(
                    changed.check(&request.check()),
                    fresh.check(&request.check()),
                    "{}",
                    request.describe()
                );
            }
            Ok(())
        },
    );
}

fn fail(error: PolicyError) -> TestCaseError {
    TestCaseError::fail(error.to_string())
}

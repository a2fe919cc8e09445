//! A replica follows the store: writes show up in what it serves without a restart, through
//! commit announcements or, when those are lost, the periodic revision poll; new tenants are
//! served, platform staff changes reach every tenant, and a caller that passes the revision of
//! its write never gets an answer from before it.

#![allow(
    clippy::expect_used,
    reason = "test fixtures: a failed setup must stop the test loudly"
)]

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use authz_clock::FixedClock;
use authz_core::model::{Relationship, Tenant};
use authz_core::{Attributes, Consistency, PrincipalRef, Reason, ResourceRef, TenantPolicy};
use authz_pdp::{DecisionPoint, Follower, Question, TenantRegistry};
use authz_store::{InMemoryStore, RelationshipOp, RelationshipWrite, Store};
use chrono::DateTime;

const CLINIC: &str = r#"
tenant: { id: acme }
catalog:
  resource_types:
    patient:
      relations: { assignee: { subject: user } }
      actions: { view: {} }
roles:
  - { id: nurse, role_type: nurse, grants: [{ permission: patient.view, scope: "related:assignee" }] }
principals: [{ id: ann }]
bindings: [{ id: b-ann, principal: ann, role: nurse }]
relationships: ["patient:p1#assignee@user:ann"]
"#;

const PLATFORM: &str = r#"
tenant: { id: platform }
roles:
  - { id: support, role_type: platform_support, grants: [{ permission: "*.view" }] }
principals: [{ id: pete }]
bindings: [{ id: pb-pete, principal: pete, role: support }]
"#;

struct Replica {
    store: Arc<InMemoryStore>,
    follower: Arc<Follower>,
    point: DecisionPoint<FixedClock>,
}

async fn replica(policies: &[&str]) -> Replica {
    let store = Arc::new(InMemoryStore::new());
    for text in policies {
        let policy = TenantPolicy::from_yaml(text).expect("test policy parses");
        if policy.tenant.id == "platform" {
            store.put_platform(policy).await.expect("platform compiles");
        } else {
            store.put_tenant(policy).await.expect("tenant compiles");
        }
    }
    let registry = Arc::new(TenantRegistry::default());
    let follower = Arc::new(Follower::new(
        store.clone(),
        Arc::clone(&registry),
        Duration::from_secs(3600),
    ));
    let failed = follower.load_all().await.expect("the store answers");
    assert!(failed.is_empty(), "{failed:?}");
    let clock = FixedClock(DateTime::from_timestamp(1_748_876_400, 0).expect("an instant"));
    let point = DecisionPoint::new(registry, store.clone(), clock, Duration::from_secs(5));
    Replica {
        store,
        follower,
        point,
    }
}

impl Replica {
    async fn ask(&self, who: &str, patient: &str, consistency: Consistency) -> (Reason, u64) {
        let attributes = Attributes::new();
        let mut principal = PrincipalRef::user(who);
        // Platform staff say so in their token.
        if who == "pete" {
            principal.origin = authz_core::Origin::Platform;
        }
        let question = Question {
            tenant_id: "acme",
            principal,
            on_behalf_of: None,
            action: "view",
            resource: ResourceRef {
                resource_type: "patient",
                id: patient,
                attributes: &attributes,
            },
            context: &attributes,
            consistency,
            explain: false,
        };
        self.point
            .decide(&question, |answer| {
                (answer.decision.reason, answer.decision.revision)
            })
            .await
    }

    async fn assign(&self, op: RelationshipOp, patient: &str) -> u64 {
        let relationship = Relationship::parse(&format!("patient:{patient}#assignee@user:ann"))
            .expect("a relationship");
        self.store
            .write_relationships("acme", &[RelationshipWrite { op, relationship }])
            .await
            .expect("the write commits")
    }
}

#[tokio::test]
async fn a_write_reaches_the_replica_through_the_announcement() {
    let replica = replica(&[CLINIC]).await;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let following = tokio::spawn(Arc::clone(&replica.follower).run(async {
        let _ = stopped.await;
    }));
    let revision = replica.assign(RelationshipOp::Touch, "p2").await;
    let answer = replica
        .ask("ann", "p2", Consistency::AtLeastRevision(revision))
        .await;
    assert_eq!(answer, (Reason::Granted, revision));
    let _ = stop.send(());
    following.await.expect("the follower stops cleanly");
}

#[tokio::test]
async fn the_poll_finds_what_no_announcement_said() {
    let replica = replica(&[CLINIC]).await;
    // Nobody follows the announcements here: only the poll can see the revocation.
    let revision = replica.assign(RelationshipOp::Delete, "p1").await;
    let stale = replica.ask("ann", "p1", Consistency::MinimizeLatency).await;
    assert_eq!(stale.0, Reason::Granted, "not followed yet");
    replica.follower.poll_once().await;
    let answer = replica
        .ask("ann", "p1", Consistency::AtLeastRevision(revision))
        .await;
    assert_eq!(answer, (Reason::OutOfScope, revision));
}

#[tokio::test]
async fn new_tenants_and_platform_staff_changes_are_followed() {
    let replica = replica(&[CLINIC]).await;
    // Pete is not platform staff yet.
    assert_eq!(
        replica
            .ask("pete", "p1", Consistency::MinimizeLatency)
            .await
            .0,
        Reason::PrincipalUnknown
    );
    replica
        .store
        .put_platform(TenantPolicy::from_yaml(PLATFORM).expect("parses"))
        .await
        .expect("platform compiles");
    replica
        .store
        .create_tenant(Tenant {
            id: "beta".to_owned(),
            ..Tenant::default()
        })
        .await
        .expect("beta is created");
    replica.follower.poll_once().await;
    assert_eq!(
        replica
            .ask("pete", "p1", Consistency::MinimizeLatency)
            .await
            .0,
        Reason::Granted,
        "platform staff reach acme once the platform policy is followed"
    );
    assert!(
        replica.point.registry().get("beta").is_some(),
        "a new tenant is served"
    );
}

/// The read-your-writes loop: revoke, check at the write's revision, restore, check again —
/// a thousand times, never once the old answer.
#[tokio::test]
async fn at_least_the_written_revision_never_sees_the_old_answer() {
    let replica = replica(&[CLINIC]).await;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let following = tokio::spawn(Arc::clone(&replica.follower).run(async {
        let _ = stopped.await;
    }));
    let mut stale = BTreeSet::new();
    for round in 0..1000 {
        let (op, want) = if round % 2 == 0 {
            (RelationshipOp::Delete, Reason::OutOfScope)
        } else {
            (RelationshipOp::Touch, Reason::Granted)
        };
        let revision = replica.assign(op, "p1").await;
        let (reason, at) = replica
            .ask("ann", "p1", Consistency::AtLeastRevision(revision))
            .await;
        if reason != want || at < revision {
            stale.insert((round, reason.code(), at, revision));
        }
    }
    assert!(stale.is_empty(), "stale answers: {stale:?}");
    let _ = stop.send(());
    following.await.expect("the follower stops cleanly");
}

/// A relationship write patches the served snapshot (same compiled policy, the untouched
/// graph shards shared); a role change recompiles the policy part and keeps the graph.
#[tokio::test]
async fn relationship_writes_patch_and_policy_changes_keep_the_graph() {
    let replica = replica(&[CLINIC]).await;
    let registry = replica.point.registry();
    let before = registry.get("acme").expect("acme is served");
    let revision = replica.assign(RelationshipOp::Touch, "p2").await;
    replica.follower.poll_once().await;
    let patched = registry.get("acme").expect("acme is served");
    assert_eq!(patched.revision(), revision);
    let sharing = patched.sharing_with(&before);
    assert!(
        sharing.policy,
        "a relationship write must not recompile the policy"
    );

    let mut renamed = TenantPolicy::from_yaml(CLINIC).expect("parses");
    renamed.roles[0].name = "Registered nurse".to_owned();
    renamed.relationships = vec![
        Relationship::parse("patient:p1#assignee@user:ann").expect("relationship"),
        Relationship::parse("patient:p2#assignee@user:ann").expect("relationship"),
    ];
    let imported = replica.store.put_tenant(renamed).await.expect("imports");
    replica.follower.poll_once().await;
    let recompiled = registry.get("acme").expect("acme is served");
    assert_eq!(recompiled.revision(), imported);
    let sharing = recompiled.sharing_with(&patched);
    assert!(!sharing.policy, "a role change recompiles the policy part");
    assert_eq!(
        sharing.shared_graph_shards, sharing.graph_shards,
        "and keeps every shard of the graph"
    );
    assert_eq!(
        replica
            .ask("ann", "p2", Consistency::AtLeastRevision(imported))
            .await,
        (Reason::Granted, imported)
    );
}

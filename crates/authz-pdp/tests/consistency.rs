//! Consistency tokens, as a caller lives with them: `minimize_latency` answers from what the
//! replica holds, `at_least_revision` never answers from an older snapshot (it waits, bounded,
//! then denies `stale`), `fully_consistent` reads the committed revision and waits for it, and
//! a store that cannot say denies `unavailable`. Every answer carries its revision.

#![allow(
    clippy::expect_used,
    reason = "test fixtures: a failed setup must stop the test loudly"
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use authz_clock::FixedClock;
use authz_core::{Attributes, Consistency, PrincipalRef, Reason, ResourceRef, TenantPolicy};
use authz_pdp::{DecisionPoint, Question, RevisionSource, TenantRegistry};
use authz_store::{InMemoryStore, Store, StoreError};
use chrono::DateTime;

const DEMO: &str = "sunrise-home-health";
const DEMO_POLICY: &str = include_str!("../../../deploy/examples/home-health.yaml");
const WAIT: Duration = Duration::from_millis(200);

fn demo() -> TenantPolicy {
    TenantPolicy::from_yaml(DEMO_POLICY).expect("the demo parses")
}

/// The demo without rita's bindings: she can no longer view her patients.
fn demo_without_rita() -> TenantPolicy {
    let mut policy = demo();
    policy
        .bindings
        .retain(|binding| binding.principal != "rita");
    policy
}

/// The in-memory store's committed revisions, with a switch that makes them unreachable.
#[derive(Debug)]
struct Flaky {
    store: Arc<InMemoryStore>,
    down: AtomicBool,
}

#[async_trait::async_trait]
impl RevisionSource for Flaky {
    async fn committed_revision(&self, tenant_id: &str) -> Result<Option<u64>, StoreError> {
        if self.down.load(Ordering::SeqCst) {
            return Err(StoreError::Unavailable("connection refused".to_owned()));
        }
        self.store.revision(tenant_id).await
    }
}

struct Fixture {
    store: Arc<InMemoryStore>,
    revisions: Arc<Flaky>,
    point: DecisionPoint<FixedClock>,
    /// The demo's revision when the replica loaded it.
    initial: u64,
}

async fn fixture() -> Fixture {
    let store = Arc::new(InMemoryStore::new());
    let initial = store.put_tenant(demo()).await.expect("the demo compiles");
    let registry = TenantRegistry::load(&*store)
        .await
        .expect("the registry loads");
    let revisions = Arc::new(Flaky {
        store: Arc::clone(&store),
        down: AtomicBool::new(false),
    });
    let clock = FixedClock(DateTime::from_timestamp(1_748_876_400, 0).expect("a valid instant"));
    let point = DecisionPoint::new(Arc::new(registry), revisions.clone(), clock, WAIT);
    Fixture {
        store,
        revisions,
        point,
        initial,
    }
}

impl Fixture {
    /// Rita viewing her patient, at `consistency`: (reason, revision, message).
    async fn ask(&self, tenant_id: &str, consistency: Consistency) -> (Reason, u64, String) {
        let attributes = Attributes::new();
        let question = Question {
            tenant_id,
            principal: PrincipalRef::user("rita"),
            on_behalf_of: None,
            action: "view",
            resource: ResourceRef {
                resource_type: "patient",
                id: "p-100",
                attributes: &attributes,
            },
            context: &attributes,
            consistency,
            explain: false,
        };
        self.point
            .decide(&question, |answer| {
                (
                    answer.decision.reason,
                    answer.decision.revision,
                    answer.decision.message.to_string(),
                )
            })
            .await
    }

    /// Commits a change to the store without this replica having applied it yet.
    async fn commit_revocation(&self) -> u64 {
        self.store
            .put_tenant(demo_without_rita())
            .await
            .expect("the revocation commits")
    }

    async fn apply(&self) {
        self.point
            .registry()
            .reload(&*self.store)
            .await
            .expect("the replica applies it");
    }
}

#[tokio::test]
async fn minimize_latency_answers_from_what_the_replica_holds() {
    let fixture = fixture().await;
    fixture.commit_revocation().await;
    let (reason, revision, _) = fixture.ask(DEMO, Consistency::MinimizeLatency).await;
    assert_eq!((reason, revision), (Reason::Granted, fixture.initial));
}

#[tokio::test]
async fn at_least_a_revision_the_replica_has_answers_at_once() {
    let fixture = fixture().await;
    let (reason, revision, _) = fixture
        .ask(DEMO, Consistency::AtLeastRevision(fixture.initial))
        .await;
    assert_eq!((reason, revision), (Reason::Granted, fixture.initial));
}

#[tokio::test]
async fn at_least_a_revision_not_reached_in_time_is_a_stale_deny_never_the_old_answer() {
    let fixture = fixture().await;
    let committed = fixture.commit_revocation().await;
    let (reason, revision, message) = fixture
        .ask(DEMO, Consistency::AtLeastRevision(committed))
        .await;
    assert_eq!(
        (reason, revision),
        (Reason::Stale, fixture.initial),
        "{message}"
    );
    assert!(
        message.contains(&format!("revision {committed}")),
        "{message}"
    );
}

#[tokio::test]
async fn at_least_a_revision_applied_while_waiting_answers_at_that_revision() {
    let fixture = Arc::new(fixture().await);
    let committed = fixture.commit_revocation().await;
    let asking = {
        let fixture = Arc::clone(&fixture);
        tokio::spawn(async move {
            fixture
                .ask(DEMO, Consistency::AtLeastRevision(committed))
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(20)).await;
    fixture.apply().await;
    let (reason, revision, _) = asking.await.expect("the waiting check finishes");
    assert_eq!((reason, revision), (Reason::NoMatchingGrant, committed));
}

#[tokio::test]
async fn fully_consistent_waits_for_the_committed_revision() {
    let fixture = fixture().await;
    // Nothing newer committed: answered at once at the replica's revision.
    let (reason, revision, _) = fixture.ask(DEMO, Consistency::FullyConsistent).await;
    assert_eq!((reason, revision), (Reason::Granted, fixture.initial));

    // A revocation committed but not applied here: never the old allow.
    let committed = fixture.commit_revocation().await;
    let (reason, _, message) = fixture.ask(DEMO, Consistency::FullyConsistent).await;
    assert_eq!(reason, Reason::Stale, "{message}");

    fixture.apply().await;
    let (reason, revision, _) = fixture.ask(DEMO, Consistency::FullyConsistent).await;
    assert_eq!((reason, revision), (Reason::NoMatchingGrant, committed));
}

#[tokio::test]
async fn fully_consistent_without_the_store_is_an_unavailable_deny() {
    let fixture = fixture().await;
    fixture.revisions.down.store(true, Ordering::SeqCst);
    let (reason, revision, message) = fixture.ask(DEMO, Consistency::FullyConsistent).await;
    assert_eq!(
        (reason, revision),
        (Reason::Unavailable, fixture.initial),
        "{message}"
    );
    assert!(message.contains("connection refused"), "{message}");
    // Reads that need no committed revision stay available.
    let (reason, _, _) = fixture.ask(DEMO, Consistency::MinimizeLatency).await;
    assert_eq!(reason, Reason::Granted);
}

#[tokio::test]
async fn an_unknown_tenant_is_denied_at_every_consistency() {
    let fixture = fixture().await;
    for (consistency, expected) in [
        (Consistency::MinimizeLatency, Reason::TenantUnknown),
        (Consistency::FullyConsistent, Reason::TenantUnknown),
        // A revision of a tenant this replica has never seen may still be on its way.
        (Consistency::AtLeastRevision(1), Reason::Stale),
    ] {
        let (reason, revision, message) = fixture.ask("nobody", consistency).await;
        assert_eq!(
            (reason, revision),
            (expected, 0),
            "{consistency:?}: {message}"
        );
    }
}

//! Two replicas on one Postgres database: writes through one are reflected by `Check` on the
//! other — a relationship removed, a role's grant removed, a principal suspended — and a
//! caller that passes the revision its write returned never gets the answer from before it.

#![allow(
    clippy::expect_used,
    reason = "test helpers: a failed setup must stop the test loudly"
)]

use std::sync::Arc;

use authz_proto::pb;
use authz_proto::pb::admin_service_client::AdminServiceClient;
use authz_store::Store;
use authz_store_pg::{PgStore, PgStoreOptions};
use authz_testdb::TestDatabase;
use authz_tests::admin_fixtures::{self, OPS_SECRET, platform_policy};
use authz_tests::{TestServer, check_request, test_now, user};
use tonic::transport::Channel;

fn platform() -> String {
    platform_policy(OPS_SECRET)
}

const CLINIC: &str = r#"
tenant: { id: acme }
catalog:
  resource_types:
    patient:
      relations: { assignee: { subject: user } }
      actions: { view: {}, edit: {} }
roles:
  - { id: nurse, role_type: nurse, grants: [{ permissions: [patient.view, patient.edit], scope: "related:assignee" }] }
principals: [{ id: nina }]
bindings: [{ id: b-nina, principal: nina, role: nurse }]
relationships: ["patient:p1#assignee@user:nina"]
"#;

async fn store(database: &TestDatabase) -> Arc<dyn Store> {
    let store = PgStore::connect(PgStoreOptions::new(database.options()))
        .await
        .expect("connect to the test database");
    store.migrate().await.expect("migrate");
    Arc::new(store)
}

struct Pair {
    _database: TestDatabase,
    writer: TestServer,
    reader: TestServer,
}

async fn pair() -> Pair {
    let database = TestDatabase::create().await.expect("a test database");
    let seed = store(&database).await;
    seed.put_platform(authz_core::TenantPolicy::from_yaml(&platform()).expect("parses"))
        .await
        .expect("platform");
    seed.put_tenant(authz_core::TenantPolicy::from_yaml(CLINIC).expect("parses"))
        .await
        .expect("clinic");
    let writer = TestServer::over(store(&database).await, test_now(), Default::default()).await;
    let reader = TestServer::over(store(&database).await, test_now(), Default::default()).await;
    Pair {
        _database: database,
        writer,
        reader,
    }
}

fn with_key<T>(message: T) -> tonic::Request<T> {
    admin_fixtures::with_key(Some(OPS_SECRET), message)
}

async fn admin(server: &TestServer) -> AdminServiceClient<Channel> {
    AdminServiceClient::new(server.channel().await)
}

fn assign(op: pb::relationship_update::Operation, patient: &str) -> pb::WriteRelationshipsRequest {
    pb::WriteRelationshipsRequest {
        tenant_id: "acme".into(),
        updates: vec![pb::RelationshipUpdate {
            op: op as i32,
            relationship: Some(pb::Relationship {
                resource_type: "patient".into(),
                resource_id: patient.into(),
                relation: "assignee".into(),
                subject_type: "user".into(),
                subject_id: "nina".into(),
            }),
        }],
    }
}

/// Nina on `action` `patient`, at least at `revision`, asked of `server`.
async fn ask(
    server: &TestServer,
    action: &str,
    patient: &str,
    revision: u64,
) -> (i32, i32, u64, String) {
    let mut client = server.client().await;
    let mut request = check_request("acme", user("nina"), action, &format!("patient:{patient}"));
    request.consistency = Some(pb::Consistency {
        requirement: Some(pb::consistency::Requirement::AtLeastRevision(revision)),
    });
    let answer = client.check(request).await.expect("check").into_inner();
    (
        answer.decision,
        answer.reason,
        answer.revision,
        answer.message,
    )
}

async fn import(server: &TestServer, yaml: &str) -> u64 {
    admin(server)
        .await
        .import_policy(with_key(pb::ImportPolicyRequest {
            tenant_id: "acme".into(),
            format: "yaml".into(),
            document: yaml.as_bytes().to_vec(),
            dry_run: false,
            expected_revision: None,
        }))
        .await
        .expect("import")
        .into_inner()
        .revision
}

#[tokio::test]
async fn writes_through_one_replica_are_checked_on_the_other() {
    let pair = pair().await;
    let allow = pb::Decision::Allow as i32;
    let deny = pb::Decision::Deny as i32;
    assert_eq!(ask(&pair.reader, "view", "p1", 0).await.0, allow);

    // A relationship removed.
    let removed = admin(&pair.writer)
        .await
        .write_relationships(with_key(assign(
            pb::relationship_update::Operation::Delete,
            "p1",
        )))
        .await
        .expect("delete")
        .into_inner()
        .revision;
    let (decision, reason, at, message) = ask(&pair.reader, "view", "p1", removed).await;
    assert_eq!(
        (decision, reason),
        (deny, pb::ReasonCode::OutOfScope as i32),
        "{message}"
    );
    assert!(at >= removed);

    // A role's grant removed (edit), by importing the policy without it.
    let restored = admin(&pair.writer)
        .await
        .write_relationships(with_key(assign(
            pb::relationship_update::Operation::Touch,
            "p1",
        )))
        .await
        .expect("touch")
        .into_inner()
        .revision;
    assert_eq!(ask(&pair.reader, "edit", "p1", restored).await.0, allow);
    let narrowed = import(
        &pair.writer,
        &CLINIC.replace("[patient.view, patient.edit]", "[patient.view]"),
    )
    .await;
    let (decision, reason, _, message) = ask(&pair.reader, "edit", "p1", narrowed).await;
    assert_eq!(
        (decision, reason),
        (deny, pb::ReasonCode::NoMatchingGrant as i32),
        "{message}"
    );
    assert_eq!(ask(&pair.reader, "view", "p1", narrowed).await.0, allow);

    // A principal suspended.
    let suspended = import(
        &pair.writer,
        &CLINIC
            .replace("[patient.view, patient.edit]", "[patient.view]")
            .replace(
                "principals: [{ id: nina }]",
                "principals: [{ id: nina, status: suspended }]",
            ),
    )
    .await;
    let (decision, reason, _, message) = ask(&pair.reader, "view", "p1", suspended).await;
    assert_eq!(
        (decision, reason),
        (deny, pb::ReasonCode::PrincipalInactive as i32),
        "{message}"
    );
}

/// Revoke, check on the other replica at the write's revision, restore, check again: a
/// thousand times, and not once the answer from before the write.
#[tokio::test]
async fn at_least_the_written_revision_never_sees_the_old_answer_on_the_other_replica() {
    let pair = pair().await;
    let mut writer = admin(&pair.writer).await;
    let mut reader = pair.reader.client().await;
    let mut stale = Vec::new();
    for round in 0..1000_u32 {
        let (op, want) = if round % 2 == 0 {
            (
                pb::relationship_update::Operation::Delete,
                pb::Decision::Deny,
            )
        } else {
            (
                pb::relationship_update::Operation::Touch,
                pb::Decision::Allow,
            )
        };
        let revision = writer
            .write_relationships(with_key(assign(op, "p1")))
            .await
            .expect("write")
            .into_inner()
            .revision;
        let mut request = check_request("acme", user("nina"), "view", "patient:p1");
        request.consistency = Some(pb::Consistency {
            requirement: Some(pb::consistency::Requirement::AtLeastRevision(revision)),
        });
        let answer = reader.check(request).await.expect("check").into_inner();
        if answer.decision != want as i32 || answer.revision < revision {
            stale.push((
                round,
                answer.reason,
                answer.revision,
                revision,
                answer.message,
            ));
        }
    }
    assert!(
        stale.is_empty(),
        "{} stale answers, first: {:?}",
        stale.len(),
        stale.first()
    );
}

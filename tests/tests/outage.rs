//! Postgres lost while serving, and servers that stop mid-stream: reads stay available from
//! the last snapshot, while writes and `fully_consistent` checks fail closed (`UNAVAILABLE`, a
//! deny `unavailable`); when the database is back, so is everything. A server killed in the
//! middle of an import leaves nothing partial behind, and a replica restarted while writes go
//! on converges to the latest revision.

#![allow(
    clippy::expect_used,
    reason = "test helpers: a failed setup must stop the test loudly"
)]

use std::sync::Arc;
use std::time::Duration;

use authz_proto::pb;
use authz_proto::pb::admin_service_client::AdminServiceClient;
use authz_store::Store;
use authz_store_pg::{PgStore, PgStoreOptions};
use authz_testdb::TestDatabase;
use authz_tests::admin_fixtures::{self, OPS_SECRET, platform_policy};
use authz_tests::proxy::CuttableProxy;
use authz_tests::{TestServer, check_request, test_now, user};
use tonic::Code;

fn platform() -> String {
    platform_policy(OPS_SECRET)
}

const CLINIC: &str = r#"
tenant: { id: acme }
catalog:
  resource_types:
    patient:
      relations: { assignee: { subject: user } }
      actions: { view: {} }
roles:
  - { id: nurse, role_type: nurse, grants: [{ permission: patient.view, scope: "related:assignee" }] }
principals: [{ id: nina }]
bindings: [{ id: b-nina, principal: nina, role: nurse }]
relationships: ["patient:p1#assignee@user:nina"]
"#;

fn with_key<T>(message: T) -> tonic::Request<T> {
    admin_fixtures::with_key(Some(OPS_SECRET), message)
}

async fn seeded() -> TestDatabase {
    let database = TestDatabase::create().await.expect("a test database");
    let store = PgStore::connect(PgStoreOptions::new(database.options()))
        .await
        .expect("connect");
    store.migrate().await.expect("migrate");
    store
        .put_platform(authz_core::TenantPolicy::from_yaml(&platform()).expect("parses"))
        .await
        .expect("platform");
    store
        .put_tenant(authz_core::TenantPolicy::from_yaml(CLINIC).expect("parses"))
        .await
        .expect("clinic");
    database
}

fn touch(patient: &str) -> pb::WriteRelationshipsRequest {
    pb::WriteRelationshipsRequest {
        tenant_id: "acme".into(),
        updates: vec![pb::RelationshipUpdate {
            op: pb::relationship_update::Operation::Touch as i32,
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

fn consistency(requirement: pb::consistency::Requirement) -> Option<pb::Consistency> {
    Some(pb::Consistency {
        requirement: Some(requirement),
    })
}

#[tokio::test]
async fn a_lost_database_keeps_reads_and_fails_writes_closed() {
    let database = seeded().await;
    let postgres = database.options();
    let upstream = tokio::net::lookup_host((postgres.get_host(), postgres.get_port()))
        .await
        .expect("resolve postgres")
        .next()
        .expect("an address");
    let proxy = CuttableProxy::start(upstream).await.expect("proxy");
    let through_proxy = database
        .options()
        .host("127.0.0.1")
        .port(proxy.address.port());
    let store = PgStore::connect(
        PgStoreOptions::new(through_proxy).acquire_timeout(Duration::from_secs(2)),
    )
    .await
    .expect("connect through the proxy");
    let server = TestServer::over(Arc::new(store), test_now(), Default::default()).await;
    let mut checks = server.client().await;
    let mut admin = AdminServiceClient::new(server.channel().await);

    proxy.cut();
    let latest = check_request("acme", user("nina"), "view", "patient:p1");
    let answer = checks
        .check(latest.clone())
        .await
        .expect("check")
        .into_inner();
    assert_eq!(
        answer.decision,
        pb::Decision::Allow as i32,
        "reads stay available: {}",
        answer.message
    );

    let mut fresh = latest.clone();
    fresh.consistency = consistency(pb::consistency::Requirement::FullyConsistent(true));
    let answer = checks
        .check(fresh.clone())
        .await
        .expect("check")
        .into_inner();
    assert_eq!(
        (answer.decision, answer.reason),
        (
            pb::Decision::Deny as i32,
            pb::ReasonCode::Unavailable as i32
        ),
        "{}",
        answer.message
    );
    let refused = admin
        .write_relationships(with_key(touch("p2")))
        .await
        .expect_err("no database");
    assert_eq!(refused.code(), Code::Unavailable, "{}", refused.message());

    proxy.restore();
    // The pool reconnects on demand; the first call after the outage may still fail.
    let mut written = None;
    for _ in 0..50 {
        match admin.write_relationships(with_key(touch("p2"))).await {
            Ok(response) => {
                written = Some(response.into_inner().revision);
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    let revision = written.expect("writes work again once the database is back");
    let mut after = check_request("acme", user("nina"), "view", "patient:p2");
    after.consistency = consistency(pb::consistency::Requirement::AtLeastRevision(revision));
    let answer = checks.check(after).await.expect("check").into_inner();
    assert_eq!(
        answer.decision,
        pb::Decision::Allow as i32,
        "{}",
        answer.message
    );
    let answer = checks.check(fresh).await.expect("check").into_inner();
    assert_eq!(
        answer.decision,
        pb::Decision::Allow as i32,
        "{}",
        answer.message
    );
}

#[tokio::test]
async fn a_replica_restarted_while_writes_go_on_converges() {
    let database = seeded().await;
    let connect = || async {
        let store = PgStore::connect(PgStoreOptions::new(database.options()))
            .await
            .expect("connect");
        Arc::new(store) as Arc<dyn Store>
    };
    let writer = TestServer::over(connect().await, test_now(), Default::default()).await;
    let reader = TestServer::over(connect().await, test_now(), Default::default()).await;
    let mut admin = AdminServiceClient::new(writer.channel().await);
    let mut last = 0;
    for n in 0..20 {
        last = admin
            .write_relationships(with_key(touch(&format!("a{n}"))))
            .await
            .expect("write")
            .into_inner()
            .revision;
    }
    reader.stop().await;
    for n in 0..20 {
        last = admin
            .write_relationships(with_key(touch(&format!("b{n}"))))
            .await
            .expect("write")
            .into_inner()
            .revision;
    }
    let reader = TestServer::over(connect().await, test_now(), Default::default()).await;
    for n in 20..40 {
        last = admin
            .write_relationships(with_key(touch(&format!("c{n}"))))
            .await
            .expect("write")
            .into_inner()
            .revision;
    }
    let mut checks = reader.client().await;
    for patient in ["a0", "b19", "c39"] {
        let mut request =
            check_request("acme", user("nina"), "view", &format!("patient:{patient}"));
        request.consistency = consistency(pb::consistency::Requirement::AtLeastRevision(last));
        let answer = checks.check(request).await.expect("check").into_inner();
        assert_eq!(
            (answer.decision, answer.revision >= last),
            (pb::Decision::Allow as i32, true),
            "{patient}: {}",
            answer.message
        );
    }
}

//! The load generator against the real server: every answer verified, bounds honoured.

use std::time::Duration;

use authz_loadgen::{LoadConfig, Rpc, demo_workload, run};
use authz_tests::TestServer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_run_gets_every_answer_right() {
    let server = TestServer::demo().await;
    for batch in [1, 5] {
        let config = LoadConfig {
            server: format!("http://{}", server.address),
            concurrency: 4,
            connections: 2,
            requests: 400,
            duration: Duration::from_secs(30),
            batch,
            rpc: Rpc::Check,
        };
        let report = run(&config, &demo_workload()).await.expect("run starts");
        assert_eq!(report.requests, 400, "the request bound is exact");
        assert_eq!(report.checks, 400 * batch as u64);
        assert_eq!(report.errors, 0);
        assert_eq!(report.wrong_answers, 0);
        let l = report.latency_us;
        assert!(
            0.0 < l.p50 && l.p50 <= l.p90 && l.p90 <= l.p99 && l.p99 <= l.max,
            "{l:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_expectation_is_counted_not_hidden() {
    let server = TestServer::demo().await;
    let mut workload = demo_workload();
    // Flip every expectation: each answer must then be counted as wrong.
    for question in &mut workload {
        question.allowed = !question.allowed;
    }
    let config = LoadConfig {
        server: format!("http://{}", server.address),
        concurrency: 2,
        connections: 1,
        requests: 70,
        duration: Duration::from_secs(30),
        batch: 1,
        rpc: Rpc::Check,
    };
    let report = run(&config, &workload).await.expect("run starts");
    assert_eq!(report.wrong_answers, 70);
}

#[tokio::test]
async fn the_deadline_stops_a_run_and_bad_settings_are_refused() {
    let server = TestServer::demo().await;
    let config = LoadConfig {
        server: format!("http://{}", server.address),
        concurrency: 2,
        connections: 1,
        requests: u64::MAX,
        duration: Duration::from_millis(300),
        batch: 1,
        rpc: Rpc::Check,
    };
    let report = run(&config, &demo_workload()).await.expect("run starts");
    assert!(
        report.elapsed < Duration::from_secs(5),
        "{:?}",
        report.elapsed
    );
    assert!(report.requests > 0);

    let refused = run(
        &LoadConfig {
            batch: 0,
            ..config.clone()
        },
        &demo_workload(),
    )
    .await;
    assert!(refused.is_err());
    let unreachable = run(
        &LoadConfig {
            server: "http://127.0.0.1:1".to_owned(),
            ..config
        },
        &demo_workload(),
    )
    .await;
    assert!(unreachable.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_health_floor_is_measured_on_the_same_endpoint() {
    let server = TestServer::demo().await;
    let config = LoadConfig {
        server: format!("http://{}", server.address),
        concurrency: 2,
        connections: 1,
        requests: 100,
        duration: Duration::from_secs(30),
        batch: 1,
        rpc: Rpc::HealthFloor,
    };
    let report = run(&config, &demo_workload()).await.expect("run starts");
    assert_eq!(
        (report.requests, report.errors, report.wrong_answers),
        (100, 0, 0),
        "every health check answered SERVING"
    );
    assert_eq!(report.checks, 0, "the floor decides nothing");
    assert!(report.latency_us.p50 > 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replication_rounds_see_every_write() {
    let secret = "loadgen-platform-secret-0123456789abcdef";
    let platform = authz_tests::admin_fixtures::platform_policy(secret);
    let server = TestServer::start(&[&platform, authz_server::DEMO_POLICY]).await;
    let address = format!("http://{}", server.address);
    let config = authz_loadgen::ReplicationConfig {
        writer: address.clone(),
        reader: address,
        api_key: secret.to_owned(),
        tenant: "sunrise-home-health".to_owned(),
        resource_type: "patient".to_owned(),
        resource_id: "p-100".to_owned(),
        relation: "assignee".to_owned(),
        subject_id: "rita".to_owned(),
        action: "view".to_owned(),
        rounds: 20,
        timeout: Duration::from_secs(10),
    };
    let report = authz_loadgen::replication(&config)
        .await
        .expect("the rounds run");
    assert_eq!((report.rounds, report.unseen), (20, 0));
    assert!(report.visible_us.p50 > 0.0 && report.write_us.p50 > 0.0);
}

//! The real `authz-server` binary: starts with no policy (demo tenant), answers over gRPC,
//! reports serving on health, rejects a broken policy file at startup, and stops on SIGTERM.

#![allow(
    clippy::expect_used,
    reason = "test helpers: a failed setup must stop the test loudly"
)]

use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use authz_proto::pb;

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free port")
}

#[tokio::test]
async fn binary_serves_the_demo_tenant_and_stops_on_sigterm() {
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_authz-server"))
        .args([
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--shutdown-grace-seconds",
            "1",
        ])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("server starts");

    // Wait (bounded) until it accepts connections and reports serving.
    let deadline = Instant::now() + Duration::from_secs(20);
    let channel = loop {
        match tonic::transport::Channel::from_shared(format!("http://127.0.0.1:{port}"))
            .expect("uri")
            .connect()
            .await
        {
            Ok(channel) => break channel,
            Err(error) => {
                assert!(Instant::now() < deadline, "server never listened: {error}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel.clone());
    let status = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: "authz.v1.AuthorizationService".to_owned(),
        })
        .await
        .expect("health answers")
        .into_inner()
        .status;
    assert_eq!(
        status,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );

    let mut client = pb::authorization_service_client::AuthorizationServiceClient::new(channel);
    let response = client
        .check(pb::CheckRequest {
            tenant_id: "sunrise-home-health".to_owned(),
            principal: Some(pb::PrincipalRef {
                r#type: pb::PrincipalType::User as i32,
                id: "ada".to_owned(),
                ..Default::default()
            }),
            action: "post_payment".to_owned(),
            resource: Some(pb::ResourceRef {
                r#type: "claim".to_owned(),
                id: "cl-100".to_owned(),
                attributes: Default::default(),
            }),
            ..Default::default()
        })
        .await
        .expect("check answers")
        .into_inner();
    assert_eq!(
        response.decision,
        pb::Decision::Allow as i32,
        "{}",
        response.message
    );

    // The client's connection stays open: the server must still stop within its grace period.
    let pid = child.id().to_string();
    let killed = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill runs");
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    let exit = loop {
        if let Some(exit) = child.try_wait().expect("wait") {
            break exit;
        }
        assert!(Instant::now() < deadline, "server ignored SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(exit.success(), "clean exit on SIGTERM, got {exit:?}");
}

#[test]
fn binary_refuses_a_policy_that_does_not_compile() {
    let dir = std::env::temp_dir().join(format!("authz-bad-policy-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("bad.yaml");
    std::fs::write(
        &path,
        "tenant: { id: acme }\nroles:\n  - { id: r, role_type: x, grants: [ { permission: patient.fly } ] }\n",
    )
    .expect("write policy");
    let output = Command::new(env!("CARGO_BIN_EXE_authz-server"))
        .args([
            "--listen",
            &format!("127.0.0.1:{}", free_port()),
            "--policy",
        ])
        .arg(&path)
        .output()
        .expect("server runs");
    std::fs::remove_dir_all(&dir).expect("clean up");
    assert!(
        !output.status.success(),
        "a broken policy must not be served"
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("unknown permission `patient.fly`"),
        "stderr: {stderr}"
    );

    let output = Command::new(env!("CARGO_BIN_EXE_authz-server"))
        .args([
            "validate",
            concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../deploy/examples/home-health.yaml"
            ),
        ])
        .output()
        .expect("validate runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("ok (tenant `sunrise-home-health`)"));
}

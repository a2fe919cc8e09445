//! `authzctl check` against a live server: readable text, `--explain`, `--json`, exit codes.

#![allow(
    clippy::expect_used,
    reason = "test helpers: a failed setup must stop the test loudly"
)]

use std::process::Command;

use authz_tests::TestServer;

/// Runs the real CLI. It blocks, so it runs on a blocking thread: the in-process server needs
/// the runtime free to accept the CLI's connection.
async fn authzctl(server: &TestServer, args: &[&str]) -> (i32, String, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_authzctl"));
    command
        .arg("--server")
        .arg(format!("http://{}", server.address))
        .args(args);
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .expect("join the CLI thread")
        .expect("authzctl runs");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

const TENANT: [&str; 2] = ["--tenant", "sunrise-home-health"];

#[tokio::test]
async fn check_prints_decisions_and_exits_by_verdict() {
    let server = TestServer::demo().await;

    let (code, stdout, _) = authzctl(
        &server,
        &[
            &["check"],
            &TENANT[..],
            &[
                "-p",
                "user:rita",
                "-a",
                "view",
                "-r",
                "patient:p-100",
                "--explain",
            ],
        ]
        .concat(),
    )
    .await;
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.starts_with("ALLOW  (granted)"), "{stdout}");
    assert!(
        stdout.contains("role `rn_case_manager` via binding `b-rita`"),
        "{stdout}"
    );
    assert!(stdout.contains("field       ssn: full"), "{stdout}");
    assert!(
        stdout.contains("explain:") && stdout.contains("grant         match"),
        "{stdout}"
    );

    let (code, stdout, _) = authzctl(
        &server,
        &[
            &["check"],
            &TENANT[..],
            &[
                "-p",
                "user:carla",
                "-a",
                "approve",
                "-r",
                "document:doc-100",
            ],
        ]
        .concat(),
    )
    .await;
    assert_eq!(code, 1, "a deny exits 1: {stdout}");
    assert!(
        stdout.starts_with("DENY  (forbidden_by_constraint)"),
        "{stdout}"
    );

    let (code, stdout, _) = authzctl(
        &server,
        &[
            &["check"],
            &TENANT[..],
            &[
                "-p",
                "user:bo",
                "-a",
                "edit",
                "-r",
                "patient:p-100",
                "--context",
                "section=billing",
                "--json",
            ],
        ]
        .concat(),
    )
    .await;
    assert_eq!(code, 0, "{stdout}");
    let json: serde_json::Value = serde_json::from_str(stdout.trim()).expect("valid json");
    assert_eq!(json["allowed"], true);
    assert_eq!(json["reason"], "granted");
    assert_eq!(json["decided_by"]["role_id"], "biller");
    assert_eq!(json["obligations"]["field_visibility"]["ssn"], "off");
}

#[tokio::test]
async fn check_reports_rejected_requests_and_bad_arguments() {
    let server = TestServer::demo().await;
    let long = "x".repeat(300);
    let resource = format!("patient:{long}");
    let (code, _, stderr) = authzctl(
        &server,
        &[
            &["check"],
            &TENANT[..],
            &["-p", "user:rita", "-a", "view", "-r", &resource],
        ]
        .concat(),
    )
    .await;
    assert_eq!(code, 2);
    assert!(
        stderr.contains("InvalidArgument") && stderr.contains("resource.id"),
        "{stderr}"
    );

    let (code, _, stderr) = authzctl(
        &server,
        &[
            &["check"],
            &TENANT[..],
            &["-p", "rita", "-a", "view", "-r", "patient:p-100"],
        ]
        .concat(),
    )
    .await;
    assert_eq!(code, 2);
    assert!(
        stderr.contains("must be `user:ID` or `service:ID`"),
        "{stderr}"
    );
}

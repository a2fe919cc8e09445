//! The admin commands against a live server, as an operator types them: `tenant create`,
//! `apply -f` (the diff shown, then applied; again: no changes), `rel write|read|delete`,
//! `export` (which `apply` takes back without a change), `tenant suspend` — and refusals
//! without a key.

#![allow(
    clippy::expect_used,
    reason = "test helpers: a failed setup must stop the test loudly"
)]

use std::process::Command;

use authz_tests::TestServer;

const SECRET: &str = "cli-platform-secret-0123456789abcdefgh";

async fn authzctl(server: &TestServer, key: Option<&str>, args: &[&str]) -> (i32, String, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_authzctl"));
    command
        .arg("--server")
        .arg(format!("http://{}", server.address))
        .env_remove("AUTHZ_API_KEY")
        .args(args);
    if let Some(key) = key {
        command.env("AUTHZ_API_KEY", key);
    }
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

fn platform() -> String {
    authz_tests::admin_fixtures::platform_policy(SECRET)
}

const CLINIC: &str = r#"
tenant: { id: acme, name: Acme Home Health }
catalog:
  resource_types:
    patient:
      relations: { assignee: { subject: user } }
      actions: { view: {} }
roles:
  - { id: nurse, role_type: nurse, grants: [{ permission: patient.view, scope: "related:assignee" }] }
principals: [{ id: nina }]
bindings: [{ id: b-nina, principal: nina, role: nurse }]
"#;

#[tokio::test]
async fn an_operator_onboards_a_tenant_from_the_command_line() {
    let server = TestServer::start(&[&platform()]).await;
    let dir = std::env::temp_dir().join(format!("authzctl-admin-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("acme.yaml");
    std::fs::write(&file, CLINIC).expect("write the policy file");
    let file = file.to_str().expect("utf-8 path");
    let key = Some(SECRET);

    let (code, _, stderr) = authzctl(&server, None, &["tenant", "create", "acme"]).await;
    assert_eq!(code, 2, "no key: {stderr}");
    assert!(stderr.contains("Unauthenticated"), "{stderr}");

    let (code, stdout, stderr) = authzctl(&server, key, &["tenant", "create", "acme"]).await;
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.starts_with("acme\tactive\trevision 1"), "{stdout}");

    let (code, stdout, stderr) = authzctl(&server, key, &["apply", "-f", file, "--dry-run"]).await;
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("added role `nurse`"), "{stdout}");
    assert!(stdout.contains("dry run: nothing applied"), "{stdout}");
    let (code, stdout, stderr) = authzctl(&server, key, &["apply", "-f", file]).await;
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("applied at revision 2"), "{stdout}");
    let (code, stdout, _) = authzctl(&server, key, &["apply", "-f", file]).await;
    assert_eq!(
        (code, stdout.trim()),
        (0, "tenant `acme`: no changes (revision 2)")
    );

    let (code, stdout, stderr) = authzctl(
        &server,
        key,
        &[
            "rel",
            "write",
            "-t",
            "acme",
            "patient:p1#assignee@user:nina",
            "patient:p2#assignee@user:nina",
        ],
    )
    .await;
    assert_eq!((code, stdout.trim()), (0, "revision 3"), "{stderr}");
    let (code, stdout, _) = authzctl(
        &server,
        None,
        &[
            "check",
            "-t",
            "acme",
            "-p",
            "user:nina",
            "-a",
            "view",
            "-r",
            "patient:p2",
            "--at-least-revision",
            "3",
        ],
    )
    .await;
    assert_eq!(code, 0, "nina sees her patient: {stdout}");
    let (code, stdout, stderr) = authzctl(
        &server,
        key,
        &[
            "rel",
            "delete",
            "-t",
            "acme",
            "patient:p2#assignee@user:nina",
        ],
    )
    .await;
    assert_eq!((code, stdout.trim()), (0, "revision 4"), "{stderr}");
    let (code, stdout, _) = authzctl(
        &server,
        key,
        &["rel", "read", "-t", "acme", "--resource-type", "patient"],
    )
    .await;
    assert_eq!((code, stdout.trim()), (0, "patient:p1#assignee@user:nina"));

    let exported = dir.join("export.yaml");
    let exported = exported.to_str().expect("utf-8 path");
    let (code, _, stderr) = authzctl(&server, key, &["export", "-t", "acme", "-o", exported]).await;
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("at revision 4"), "{stderr}");
    let (code, stdout, _) = authzctl(&server, key, &["apply", "-f", exported]).await;
    assert_eq!(
        (code, stdout.trim()),
        (0, "tenant `acme`: no changes (revision 4)"),
        "export → apply changes nothing"
    );

    let (code, stdout, _) = authzctl(
        &server,
        key,
        &["tenant", "suspend", "acme", "--reason", "billing"],
    )
    .await;
    assert_eq!(code, 0);
    assert!(
        stdout.starts_with("acme\tsuspended\trevision 5"),
        "{stdout}"
    );
    let (code, stdout, _) = authzctl(&server, key, &["tenant", "list"]).await;
    assert_eq!(code, 0);
    assert!(stdout.starts_with("acme\tsuspended"), "{stdout}");
    let _ = std::fs::remove_dir_all(&dir);
}

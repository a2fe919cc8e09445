//! The real `authz-server` binary: starts with no policy (demo tenant), answers over gRPC,
//! reports serving on health, serves platform staff from `--platform-policy`, rejects a broken
//! policy file at startup and in `validate`, and stops on SIGTERM.
//!
//! Every server listens on `127.0.0.1:0` and reports the port it bound on stdout
//! (`listening on 127.0.0.1:PORT`), so no test races another process for a free port.

#![allow(
    clippy::expect_used,
    clippy::panic,
    reason = "test helpers: a failed setup must stop the test loudly"
)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use authz_proto::pb;
use pb::authorization_service_client::AuthorizationServiceClient;
use tonic::transport::Channel;

/// A directory of its own for one test, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(test: &str) -> TempDir {
        let path = std::env::temp_dir().join(format!(
            "authz-server-{test}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        // A leftover of an earlier run with the same pid would only hold our own files.
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("temp dir");
        TempDir(path)
    }

    fn write(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, contents).expect("write a test file");
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn server_binary() -> Command {
    Command::new(env!("CARGO_BIN_EXE_authz-server"))
}

/// The binary, running; killed when dropped so a failed test leaves no server behind.
struct Server {
    child: Child,
    address: SocketAddr,
}

impl Server {
    /// Starts `authz-server --listen 127.0.0.1:0 <args>` and waits for the address it bound.
    fn start(args: &[&Path]) -> Server {
        Server::start_with(args, &[])
    }

    /// [`Server::start`] with these environment variables set.
    fn start_with<A: AsRef<std::ffi::OsStr>>(args: &[A], env: &[(&str, &str)]) -> Server {
        let mut child = server_binary()
            .args(["--listen", "127.0.0.1:0", "--shutdown-grace-seconds", "1"])
            .args(args)
            .env("RUST_LOG", "warn")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("server starts");
        let stdout = child.stdout.take().expect("stdout is piped");
        let (bound, address) = mpsc::channel();
        // Reads stdout to its end, so the server never writes into a closed pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(address) = line.strip_prefix("listening on ") {
                    let _ = bound.send(address.parse::<SocketAddr>());
                }
            }
        });
        // A guard against a hang, not a performance bound: startup takes milliseconds.
        match address.recv_timeout(Duration::from_secs(60)) {
            Ok(Ok(address)) => Server { child, address },
            Ok(Err(error)) => panic!("the server printed a bad address: {error}"),
            Err(_) => {
                let exit = child.try_wait().expect("wait");
                let _ = child.kill();
                panic!("the server never said where it listens (exit: {exit:?})");
            }
        }
    }

    async fn channel(&self) -> Channel {
        Channel::from_shared(format!("http://{}", self.address))
            .expect("uri")
            .connect()
            .await
            .expect("the server accepts connections once it has bound")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `principal` (platform staff when `platform`) asks to `action` patient `patient` in the demo
/// tenant; returns the decision and its reason code.
async fn ask(
    client: &mut AuthorizationServiceClient<Channel>,
    principal: &str,
    platform: bool,
    action: &str,
    patient: &str,
) -> (pb::Decision, pb::ReasonCode) {
    let response = client
        .check(pb::CheckRequest {
            tenant_id: "sunrise-home-health".to_owned(),
            principal: Some(pb::PrincipalRef {
                r#type: pb::PrincipalType::User as i32,
                id: principal.to_owned(),
                platform,
                ..Default::default()
            }),
            action: action.to_owned(),
            resource: Some(pb::ResourceRef {
                r#type: "patient".to_owned(),
                id: patient.to_owned(),
                attributes: Default::default(),
            }),
            ..Default::default()
        })
        .await
        .expect("check answers")
        .into_inner();
    (response.decision(), response.reason())
}

#[tokio::test]
async fn binary_serves_the_demo_tenant_and_stops_on_sigterm() {
    let mut server = Server::start(&[]);
    let channel = server.channel().await;
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

    let mut client = AuthorizationServiceClient::new(channel);
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
    let pid = server.child.id().to_string();
    let killed = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill runs");
    assert!(killed.success());
    // A guard against a hang: the grace period is one second.
    let deadline = Instant::now() + Duration::from_secs(30);
    let exit = loop {
        if let Some(exit) = server.child.try_wait().expect("wait") {
            break exit;
        }
        assert!(Instant::now() < deadline, "server ignored SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(exit.success(), "clean exit on SIGTERM, got {exit:?}");
}

/// Platform staff read the demo agency through `--platform-policy` and get exactly their
/// platform role there: a platform `rita` reads every patient and edits none, while the
/// agency's own `rita` keeps her caseload only, and staff bound to another tenant get nothing.
const PLATFORM_POLICY: &str = r#"
tenant: { id: platform, name: Platform staff }
roles:
  - id: support_engineer
    role_type: platform_support
    grants:
      # Named permissions of the tenants' catalogs, and a pattern.
      - permissions: [patient.view, document.review]
      - permission: "claim.*"
        condition: context.section == "billing"
principals: [{ id: rita }, { id: pete }]
bindings:
  - { id: pb-rita, principal: rita, role: support_engineer, tenants: [sunrise-home-health] }
  - { id: pb-pete, principal: pete, role: support_engineer, tenants: [another-agency] }
"#;

#[tokio::test]
async fn binary_serves_platform_staff_their_access_and_nothing_more() {
    use pb::Decision::{Allow, Deny};
    use pb::ReasonCode::{Granted, NoMatchingGrant, OutOfScope, PrincipalUnknown};
    let dir = TempDir::new("platform");
    let platform = dir.write("platform.yaml", PLATFORM_POLICY);
    let validated = server_binary()
        .arg("validate")
        .arg(&platform)
        .output()
        .expect("validate runs");
    assert!(
        String::from_utf8_lossy(&validated.stdout).contains("ok (tenant `platform`)"),
        "validate accepts a platform policy: {}",
        String::from_utf8_lossy(&validated.stderr)
    );
    let server = Server::start(&[Path::new("--platform-policy"), platform.as_path()]);
    let mut client = AuthorizationServiceClient::new(server.channel().await);
    #[rustfmt::skip]
    let cases = [
        // who,   platform, action, patient, answer
        ("rita",  true,  "view", "p-200", (Allow, Granted)),
        ("rita",  true,  "view", "p-100", (Allow, Granted)),
        ("rita",  true,  "edit", "p-200", (Deny, NoMatchingGrant)),
        // The agency's rita is not the platform's: her caseload (p-100) only.
        ("rita",  false, "view", "p-100", (Allow, Granted)),
        ("rita",  false, "view", "p-200", (Deny, OutOfScope)),
        // pete's platform binding names another tenant; ada is the agency's, not platform staff.
        ("pete",  true,  "view", "p-200", (Deny, PrincipalUnknown)),
        ("ada",   true,  "view", "p-200", (Deny, PrincipalUnknown)),
    ];
    let mut wrong = Vec::new();
    for (principal, platform, action, patient, want) in cases {
        let got = ask(&mut client, principal, platform, action, patient).await;
        if got != want {
            let who = if platform { "platform:" } else { "" };
            wrong.push(format!(
                "  {who}{principal} {action} patient:{patient}: expected {want:?}, got {got:?}"
            ));
        }
    }
    assert!(wrong.is_empty(), "wrong answers:\n{}", wrong.join("\n"));
}

const BROKEN_POLICY: &str = "tenant: { id: acme }\nroles:\n  - { id: r, role_type: x, grants: [ { permission: patient.fly } ] }\n";

#[track_caller]
fn assert_refused(output: &Output, error: &str) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success(),
        "exit {:?}; stderr: {stderr}",
        output.status
    );
    assert!(stderr.contains(error), "stderr names `{error}`: {stderr}");
}

#[test]
fn binary_refuses_a_policy_that_does_not_compile() {
    let dir = TempDir::new("bad-policy");
    let path = dir.write("bad.yaml", BROKEN_POLICY);
    let output = server_binary()
        .args(["--listen", "127.0.0.1:0", "--policy"])
        .arg(&path)
        .output()
        .expect("server runs");
    assert_refused(&output, "unknown permission `patient.fly`");
    assert!(output.stdout.is_empty(), "a refused policy is never served");
}

#[test]
fn validate_reports_each_file() {
    let dir = TempDir::new("validate");
    let bad = dir.write("bad.yaml", BROKEN_POLICY);
    let output = server_binary()
        .arg("validate")
        .arg(&bad)
        .output()
        .expect("validate runs");
    assert_refused(
        &output,
        "bad.yaml: role `r`: unknown permission `patient.fly`",
    );

    let unreadable = dir.0.join("missing.yaml");
    let output = server_binary()
        .arg("validate")
        .arg(&unreadable)
        .output()
        .expect("validate runs");
    assert_refused(&output, "cannot read");

    let demo = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../deploy/examples/home-health.yaml"
    );
    let output = server_binary()
        .args(["validate", demo])
        .output()
        .expect("validate runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("ok (tenant `sunrise-home-health`)"));
}

const BOOTSTRAP_SECRET: &str = "bootstrap-secret-for-the-crash-test-0123456789";

fn with_key<T>(message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {BOOTSTRAP_SECRET}")
            .parse()
            .expect("header"),
    );
    request
}

/// A tenant with `count` assigned patients: big enough that importing it takes a while.
fn big_clinic(count: usize) -> String {
    let mut text = String::from(
        "tenant: { id: acme }\ncatalog:\n  resource_types:\n    patient:\n      relations: { assignee: { subject: user } }\n      actions: { view: {} }\nroles:\n  - { id: nurse, role_type: nurse, grants: [{ permission: patient.view, scope: \"related:assignee\" }] }\nprincipals: [{ id: nina }]\nbindings: [{ id: b-nina, principal: nina, role: nurse }]\nrelationships:\n",
    );
    for n in 0..count {
        text.push_str(&format!("  - patient:p{n}#assignee@user:nina\n"));
    }
    text
}

/// The server killed (SIGKILL) in the middle of an import: the import's transaction dies with
/// it, so what a new server sees is the tenant as it was before — or, had the commit won the
/// race, as it is after — never a part of it. A new server then imports normally.
#[tokio::test]
async fn a_server_killed_mid_import_leaves_nothing_partial() {
    let database = authz_testdb::TestDatabase::create()
        .await
        .expect("a test database");
    let url = database.url();
    let args = ["--database-url", url.as_str()];
    let env = [("AUTHZ_BOOTSTRAP_KEY", BOOTSTRAP_SECRET)];
    let export = |server: &Server| {
        let address = server.address;
        async move {
            let channel = Channel::from_shared(format!("http://{address}"))
                .expect("uri")
                .connect()
                .await
                .expect("connect");
            let exported = pb::admin_service_client::AdminServiceClient::new(channel)
                .export_policy(with_key(pb::ExportPolicyRequest {
                    tenant_id: "acme".into(),
                    format: "yaml".into(),
                }))
                .await
                .expect("export")
                .into_inner();
            (exported.revision, exported.document)
        }
    };
    let import = |channel: Channel, document: String| async move {
        pb::admin_service_client::AdminServiceClient::new(channel)
            .max_decoding_message_size(64 << 20)
            .import_policy(with_key(pb::ImportPolicyRequest {
                tenant_id: "acme".into(),
                format: "yaml".into(),
                document: document.into_bytes(),
                dry_run: false,
                expected_revision: None,
            }))
            .await
    };

    let first = Server::start_with(&args, &env);
    let channel = first.channel().await;
    pb::admin_service_client::AdminServiceClient::new(channel.clone())
        .create_tenant(with_key(pb::CreateTenantRequest {
            tenant_id: "acme".into(),
            ..Default::default()
        }))
        .await
        .expect("create acme");
    import(channel.clone(), big_clinic(10))
        .await
        .expect("a small import");
    let before = export(&first).await;

    let big = big_clinic(80_000);
    let importing = tokio::spawn(import(channel, big.clone()));
    // Well inside the import's transaction: parsing, compiling and writing 80,000
    // relationships takes seconds.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let mut first = first;
    first.child.kill().expect("kill the server");
    let _ = first.child.wait();
    let outcome = importing.await.expect("the import task ends");
    assert!(
        outcome.is_err(),
        "the killed server answered the import: {outcome:?}"
    );

    let second = Server::start_with(&args, &env);
    let after = export(&second).await;
    let committed = after.0 == before.0 + 1;
    eprintln!(
        "killed mid-import; the import {} committed",
        if committed { "had" } else { "had not" }
    );
    if committed {
        // The commit won the race: the whole import, nothing less.
        let reimport = import(second.channel().await, big)
            .await
            .expect("re-import")
            .into_inner();
        assert!(reimport.changes.is_empty(), "{:?}", reimport.changes);
    } else {
        assert_eq!(after, before, "a killed import left part of itself behind");
    }
    // Nothing is left locked: the next import goes through.
    let next = import(second.channel().await, big_clinic(20))
        .await
        .expect("an import after the crash")
        .into_inner();
    assert_eq!(next.revision, after.0 + 1);
}

/// A database that does not answer at start is retried, with a log line saying so, until it
/// answers or the server is stopped — never a crash loop, never serving without it.
#[test]
fn an_unreachable_database_at_start_is_retried_with_a_log_line() {
    let mut child = server_binary()
        .args(["--listen", "127.0.0.1:0"])
        // Port 1 on loopback: nothing listens there.
        .args(["--database-url", "postgres://postgres@127.0.0.1:1/authz"])
        .args(["--database-timeout-ms", "300"])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("server starts");
    let stderr = child.stderr.take().expect("stderr is piped");
    let (seen, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = seen.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut retried = 0;
    while retried < 2 && Instant::now() < deadline {
        if let Ok(line) = lines.recv_timeout(Duration::from_secs(1))
            && line.contains("Postgres is unreachable; retrying")
        {
            retried += 1;
        }
    }
    let still_running = child.try_wait().expect("wait").is_none();
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(retried, 2, "two retries logged");
    assert!(
        still_running,
        "the server keeps retrying rather than exiting"
    );
    let mut stdout = String::new();
    if let Some(mut out) = child.stdout.take() {
        let _ = std::io::Read::read_to_string(&mut out, &mut stdout);
    }
    assert!(
        !stdout.contains("listening on"),
        "it never served: {stdout}"
    );
}

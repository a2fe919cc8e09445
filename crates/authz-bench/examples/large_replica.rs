//! The 1M-relationship tenant on Postgres and a real replica, in one run (release build):
//!
//! 1. `ImportPolicy` of the whole tenant (10k principals, 1M relationships) through the store,
//!    then a re-import changing one relationship;
//! 2. a replica (`authz-server --database-url`, the binary given as the first argument) cold
//!    loading it: time until it serves, and its resident memory;
//! 3. one relationship write through the replica's admin API: the replica's own time to apply
//!    it (its `caught up` log line) and write → visible.
//!
//! `cargo run --release -p authz-bench --example large_replica -- target/release/authz-server`

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "a benchmark program"
)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use authz_bench::large;
use authz_core::model::{ApiKey, Binding, Grant, Principal, PrincipalKind, Role, Tenant};
use authz_proto::pb;
use authz_store::{ImportOptions, Store};
use authz_store_pg::{PgStore, PgStoreOptions};
use authz_testdb::TestDatabase;

const SECRET: &str = "large-replica-benchmark-secret-0123456789";

fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(0.0, |kib| kib / 1024.0)
}

#[tokio::main]
async fn main() {
    let server = std::env::args()
        .nth(1)
        .expect("the authz-server binary as first argument");
    let database = TestDatabase::create().await.expect("a database");
    let store = PgStore::connect(PgStoreOptions::new(database.options()))
        .await
        .expect("connect");
    store.migrate().await.expect("migrate");

    // An admin able to write the tenant's relationships.
    let mut policy = large::policy();
    policy.roles.push(Role {
        id: "admin".into(),
        role_type: "admin".into(),
        grants: vec![Grant {
            permission: Some("authz.*".into()),
            ..Grant::default()
        }],
        ..Role::default()
    });
    policy.principals.push(Principal {
        id: "ops".into(),
        kind: PrincipalKind::Service,
        api_keys: vec![ApiKey {
            id: "k-ops".into(),
            scopes: vec!["authz.*".into()],
            secret_hash: authz_admin::secret_hash(SECRET),
            ..ApiKey::default()
        }],
        ..Principal::default()
    });
    policy.bindings.push(Binding {
        id: "b-ops".into(),
        principal: "ops".into(),
        role: "admin".into(),
        ..Binding::default()
    });
    let tenant_id = policy.tenant.id.clone();
    store
        .create_tenant(Tenant {
            id: tenant_id.clone(),
            ..Tenant::default()
        })
        .await
        .expect("create");
    policy.relationships = large::relationships().collect();
    println!(
        "tenant: {} principals, {} roles, {} relationships",
        policy.principals.len(),
        policy.roles.len(),
        policy.relationships.len()
    );
    let started = Instant::now();
    let report = store
        .import_policy(policy.clone(), ImportOptions::default())
        .await
        .expect("import");
    println!(
        "ImportPolicy, first (store: validate, compile, diff, write): {:.2} s ({} relationships added)",
        started.elapsed().as_secs_f64(),
        report.relationships_added
    );
    policy.relationships.pop();
    let started = Instant::now();
    let report = store
        .import_policy(policy.clone(), ImportOptions::default())
        .await
        .expect("re-import");
    println!(
        "ImportPolicy, again with one relationship less: {:.2} s ({} removed)",
        started.elapsed().as_secs_f64(),
        report.relationships_removed
    );
    drop(policy);
    drop(store);

    // A replica, cold.
    let started = Instant::now();
    let mut child = Command::new(server)
        .args(["--listen", "127.0.0.1:0", "--database-url", &database.url()])
        .args(["--log-format", "json"])
        .env("RUST_LOG", "warn,authz_pdp=debug")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the replica starts");
    let stdout = child.stdout.take().unwrap();
    let stderr = child.stderr.take().unwrap();
    let (bound, address) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(address) = line.strip_prefix("listening on ") {
                let _ = bound.send(address.to_owned());
            }
        }
    });
    let (logged, log) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = logged.send(line);
        }
    });
    let address = address
        .recv_timeout(Duration::from_secs(300))
        .expect("the replica serves");
    let cold = started.elapsed();
    tokio::time::sleep(Duration::from_secs(2)).await;
    println!(
        "replica cold load (connect, load 1M relationships, compile) until it serves: {:.2} s; resident memory {:.0} MiB",
        cold.as_secs_f64(),
        rss_mib(child.id())
    );

    let channel = tonic::transport::Channel::from_shared(format!("http://{address}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut admin = pb::admin_service_client::AdminServiceClient::new(channel.clone());
    let mut checks = pb::authorization_service_client::AuthorizationServiceClient::new(channel);
    let mut applied = Vec::new();
    let mut visible = Vec::new();
    for round in 0..20 {
        let user = format!("u{}", 9_000 + round);
        let mut write = tonic::Request::new(pb::WriteRelationshipsRequest {
            tenant_id: tenant_id.clone(),
            updates: vec![pb::RelationshipUpdate {
                op: pb::relationship_update::Operation::Touch as i32,
                relationship: Some(pb::Relationship {
                    resource_type: "patient".into(),
                    resource_id: "p17".into(),
                    relation: "assignee".into(),
                    subject_type: "user".into(),
                    subject_id: user.clone(),
                }),
            }],
        });
        write
            .metadata_mut()
            .insert("authorization", format!("Bearer {SECRET}").parse().unwrap());
        admin.write_relationships(write).await.expect("write");
        let written = Instant::now();
        loop {
            let answer = checks
                .check(pb::CheckRequest {
                    tenant_id: tenant_id.clone(),
                    principal: Some(pb::PrincipalRef {
                        r#type: pb::PrincipalType::User as i32,
                        id: user.clone(),
                        ..Default::default()
                    }),
                    action: "view".into(),
                    resource: Some(pb::ResourceRef {
                        r#type: "patient".into(),
                        id: "p17".into(),
                        attributes: Default::default(),
                    }),
                    ..Default::default()
                })
                .await
                .expect("check")
                .into_inner();
            if answer.decision == pb::Decision::Allow as i32 {
                visible.push(written.elapsed().as_micros() as f64);
                break;
            }
            assert!(written.elapsed() < Duration::from_secs(10), "never visible");
        }
    }
    while let Ok(line) = log.recv_timeout(Duration::from_millis(500)) {
        if std::env::var_os("SHOW_LOG").is_some() {
            eprintln!("{line}");
        }
        if line.contains("caught up")
            && line.contains("\"policy_reloaded\":false")
            && let Some(value) = line.split("\"elapsed_us\":").nth(1)
            && let Some(us) = value
                .split(|c: char| !c.is_ascii_digit())
                .next()
                .and_then(|v| v.parse::<f64>().ok())
        {
            applied.push(us);
        }
    }
    let summary = |values: &mut Vec<f64>| {
        values.sort_by(f64::total_cmp);
        let at = |q: f64| {
            values
                .get(((values.len() as f64 - 1.0) * q).round() as usize)
                .copied()
                .unwrap_or(0.0)
        };
        format!(
            "p50 {:.0} µs, p99 {:.0} µs, max {:.0} µs ({} writes)",
            at(0.5),
            at(0.99),
            at(1.0),
            values.len()
        )
    };
    println!(
        "one relationship write applied by the replica (feed read + patch, no recompilation): {}",
        summary(&mut applied)
    );
    println!("write → visible on the replica: {}", summary(&mut visible));
    println!(
        "replica resident memory after the writes: {:.0} MiB",
        rss_mib(child.id())
    );
    let _ = child.kill();
    let _ = child.wait();
}

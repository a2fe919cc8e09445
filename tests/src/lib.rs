//! Test kit for end-to-end tests: starts the real authz-server (its library, on a real
//! `127.0.0.1:0` port) over the in-memory store, and hands out gRPC clients.

#![allow(
    clippy::expect_used,
    reason = "test kit: a setup that fails must stop the test loudly"
)]

pub mod admin_fixtures;
pub mod proxy;

use std::net::SocketAddr;
use std::sync::Arc;

use authz_clock::FixedClock;
use authz_core::TenantPolicy;
use authz_core::model::PLATFORM_TENANT_ID;
use authz_proto::pb;
use authz_proto::pb::authorization_service_client::AuthorizationServiceClient;
use authz_server::{DEMO_POLICY, ServeConfig};
use authz_store::{InMemoryStore, Store};
use chrono::{DateTime, Utc};
use tokio::sync::oneshot;
use tonic::transport::Channel;

/// The instant end-to-end tests run at.
pub fn test_now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-25T12:00:00Z")
        .map(|at| at.to_utc())
        .unwrap_or_default()
}

/// How long a test server lets a check wait for a revision it has not reached: short, so a
/// test of the `stale` deny does not sit out the production default.
pub const CONSISTENCY_WAIT: std::time::Duration = std::time::Duration::from_millis(250);

/// A running server; stops when dropped.
#[derive(Debug)]
pub struct TestServer {
    pub address: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    /// The revision each tenant was written at.
    revisions: std::collections::HashMap<String, u64>,
}

impl TestServer {
    /// Serves the demo tenant.
    pub async fn demo() -> TestServer {
        TestServer::start(&[DEMO_POLICY]).await
    }

    /// Serves these tenant policies (YAML); a policy with tenant id `platform` is the platform's.
    pub async fn start(policies: &[&str]) -> TestServer {
        let parsed: Vec<TenantPolicy> = policies
            .iter()
            .map(|text| TenantPolicy::from_yaml(text).expect("test policy parses"))
            .collect();
        TestServer::serve(parsed, test_now()).await
    }

    /// Serves these tenant policies with the clock stopped at `now`.
    pub async fn serve(mut policies: Vec<TenantPolicy>, now: DateTime<Utc>) -> TestServer {
        let store: Arc<dyn Store> = Arc::new(InMemoryStore::new());
        // The platform policy first: tenants compile its bindings in.
        policies.sort_by_key(|policy| policy.tenant.id != PLATFORM_TENANT_ID);
        let mut revisions = std::collections::HashMap::new();
        for policy in policies {
            let id = policy.tenant.id.clone();
            let written = if policy.tenant.id == PLATFORM_TENANT_ID {
                store.put_platform(policy).await
            } else {
                store.put_tenant(policy).await
            };
            revisions.insert(id, written.expect("test policy compiles"));
        }
        TestServer::over(store, now, revisions).await
    }

    /// Serves whatever `store` holds, following it, with the clock stopped at `now`.
    pub async fn over(
        store: Arc<dyn Store>,
        now: DateTime<Utc>,
        revisions: std::collections::HashMap<String, u64>,
    ) -> TestServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a free port");
        let address = listener.local_addr().expect("bound address");
        let (shutdown, stopped) = oneshot::channel::<()>();
        let (loaded, ready) = oneshot::channel::<()>();
        let config = ServeConfig {
            max_consistency_wait: CONSISTENCY_WAIT,
            poll_interval: std::time::Duration::from_millis(200),
            shutdown_grace: std::time::Duration::from_secs(2),
        };
        let task = tokio::spawn(async move {
            let stop = async {
                let _ = stopped.await;
            };
            let announce = move || {
                let _ = loaded.send(());
            };
            let result =
                authz_server::run(store, FixedClock(now), config, listener, announce, stop).await;
            if let Err(error) = result {
                eprintln!("test server failed: {error}");
            }
        });
        ready.await.expect("the test server loads its tenants");
        TestServer {
            address,
            shutdown: Some(shutdown),
            task: Some(task),
            revisions,
        }
    }

    /// The revision `tenant_id` was served at when the server started.
    pub fn revision(&self, tenant_id: &str) -> u64 {
        self.revisions.get(tenant_id).copied().unwrap_or_default()
    }

    pub async fn channel(&self) -> Channel {
        Channel::from_shared(format!("http://{}", self.address))
            .expect("valid uri")
            .connect()
            .await
            .expect("connect to test server")
    }

    pub async fn client(&self) -> AuthorizationServiceClient<Channel> {
        AuthorizationServiceClient::new(self.channel().await)
    }

    /// Stops the server and waits for it to finish.
    pub async fn stop(mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

/// A user principal reference.
pub fn user(id: &str) -> pb::PrincipalRef {
    pb::PrincipalRef {
        r#type: pb::PrincipalType::User as i32,
        id: id.to_owned(),
        ..Default::default()
    }
}

/// A check of `principal` doing `action` on `type:id` in `tenant`.
pub fn check_request(
    tenant: &str,
    principal: pb::PrincipalRef,
    action: &str,
    resource: &str,
) -> pb::CheckRequest {
    let (resource_type, resource_id) = resource.split_once(':').unwrap_or((resource, ""));
    pb::CheckRequest {
        tenant_id: tenant.to_owned(),
        principal: Some(principal),
        action: action.to_owned(),
        resource: Some(pb::ResourceRef {
            r#type: resource_type.to_owned(),
            id: resource_id.to_owned(),
            attributes: Default::default(),
        }),
        ..Default::default()
    }
}

pub fn string_value(text: &str) -> pb::AttributeValue {
    pb::AttributeValue {
        kind: Some(pb::attribute_value::Kind::StringValue(text.to_owned())),
    }
}

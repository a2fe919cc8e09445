//! authz-server: answers `Check` and `CheckBulk` over gRPC from compiled per-tenant snapshots
//! that follow the store, and the admin API's tenant, policy and relationship calls; with gRPC
//! health and server reflection. `ListAccessible`, `WatchInvalidations`, the rest of the admin
//! API and the audit API answer `UNIMPLEMENTED` until their stages land.
//!
//! [`serve`] takes a bound listener and a shutdown future, so tests run the real server on
//! `127.0.0.1:0`.

mod admin;
mod grpc;
mod status;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use authz_proto::pb::admin_service_server::AdminServiceServer;
use authz_proto::pb::audit_service_server::AuditServiceServer;
use authz_proto::pb::authorization_service_server::AuthorizationServiceServer;
use tokio::net::TcpListener;
use tonic::transport::server::TcpIncoming;

use authz_admin::Admin;
use authz_clock::Clock;
use authz_pdp::{DecisionPoint, Follower, StoreRevisions, TenantRegistry};
use authz_store::Store;

/// The demo tenant served when no policy is given: the home-health agency of seed 003.
pub const DEMO_POLICY: &str = include_str!("../../../deploy/examples/home-health.yaml");

/// Why the server stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("reflection service: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
    #[error("transport: {0}")]
    Transport(#[from] tonic::transport::Error),
}

/// How long open connections may drain after shutdown begins before the server stops anyway.
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// How a server follows its store and answers.
#[derive(Debug, Clone, Copy)]
pub struct ServeConfig {
    /// Longest a check waits for this replica to reach the revision it asked for.
    pub max_consistency_wait: Duration,
    /// How often every tenant's revision is compared with the store.
    pub poll_interval: Duration,
    /// How long open connections may drain after shutdown begins.
    pub shutdown_grace: Duration,
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            max_consistency_wait: authz_pdp::DEFAULT_MAX_CONSISTENCY_WAIT,
            poll_interval: authz_pdp::DEFAULT_POLL_INTERVAL,
            shutdown_grace: DEFAULT_SHUTDOWN_GRACE,
        }
    }
}

/// Why a server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("cannot load tenants: {0}")]
    Load(#[from] authz_store::StoreError),
    #[error(transparent)]
    Serve(#[from] ServeError),
}

/// Everything a server is, over `store`: loads every tenant, calls `ready`, follows the store,
/// and serves checks and admin calls on `listener` until `shutdown` resolves. Tenants that
/// cannot load are logged and not served; the others are.
pub async fn run<C: Clock>(
    store: Arc<dyn Store>,
    clock: C,
    config: ServeConfig,
    listener: TcpListener,
    ready: impl FnOnce(),
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), RunError> {
    let registry = Arc::new(TenantRegistry::default());
    let follower = Arc::new(Follower::new(
        Arc::clone(&store),
        Arc::clone(&registry),
        config.poll_interval,
    ));
    for (tenant, error) in follower.load_all().await? {
        tracing::error!(%tenant, %error, "tenant not served: its checks deny tenant_unknown");
    }
    tracing::info!(tenants = registry.tenant_ids().len(), "tenants loaded");
    ready();
    let (stop_following, following_stopped) = tokio::sync::oneshot::channel::<()>();
    let following = tokio::spawn(Arc::clone(&follower).run(async {
        let _ = following_stopped.await;
    }));
    let point = Arc::new(DecisionPoint::new(
        registry,
        Arc::new(StoreRevisions(Arc::clone(&store))),
        clock.clone(),
        config.max_consistency_wait,
    ));
    let admin = Arc::new(Admin::new(store, Arc::clone(&point), clock));
    let served = serve(listener, point, admin, shutdown, config.shutdown_grace).await;
    let _ = stop_following.send(());
    let _ = following.await;
    Ok(served?)
}

/// Serves the gRPC API on `listener` until `shutdown` resolves, then drains open connections
/// for at most `grace`: a client that keeps its connection open cannot hold a rollout hostage.
pub async fn serve<C: Clock>(
    listener: TcpListener,
    point: Arc<DecisionPoint<C>>,
    admin: Arc<Admin<C>>,
    shutdown: impl Future<Output = ()> + Send,
    grace: Duration,
) -> Result<(), ServeError> {
    let (health, health_service) = tonic_health::server::health_reporter();
    // Readiness is per named service: the registry was loaded before we got here, so the
    // authorization service is ready to answer.
    health
        .set_serving::<AuthorizationServiceServer<grpc::Authorization<C>>>()
        .await;
    let reflection_v1 = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(authz_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()?;
    let reflection_v1alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(authz_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1alpha()?;
    let authorization = grpc::Authorization::new(point);
    tracing::info!(address = ?listener.local_addr().ok(), "authz-server listening");
    // Without TCP_NODELAY a response that spans segments waits for the peer's delayed ACK
    // (~40 ms): a hundredfold latency cliff for CheckBulk. Keepalive finds dead peers.
    let incoming = TcpIncoming::from(listener)
        .with_nodelay(Some(true))
        .with_keepalive(Some(Duration::from_secs(60)));
    let draining = Arc::new(tokio::sync::Notify::new());
    let signal = {
        let draining = Arc::clone(&draining);
        async move {
            shutdown.await;
            draining.notify_one();
        }
    };
    let server = tonic::transport::Server::builder()
        .add_service(health_service)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(AuthorizationServiceServer::new(authorization))
        .add_service(AdminServiceServer::new(admin::AdminService::new(admin)))
        .add_service(AuditServiceServer::new(grpc::NotYetAudit))
        .serve_with_incoming_shutdown(incoming, signal);
    tokio::pin!(server);
    tokio::select! {
        result = &mut server => result?,
        () = async { draining.notified().await; tokio::time::sleep(grace).await } => {
            tracing::warn!(?grace, "connections still open after the shutdown grace period; stopping anyway");
        }
    }
    Ok(())
}

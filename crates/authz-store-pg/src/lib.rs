//! The Postgres backend of the authz `Store` trait: tenants, policies, relationships and the
//! change feed in Postgres, behaving exactly as the in-memory reference backend does (the
//! same conformance suite runs against both).
//!
//! Every call is one transaction: it runs as the row-level-secured role `authz_app`, scoped to
//! one tenant by transaction-local settings, so pooled connections carry no session state and
//! a transaction-mode pooler (PgBouncer) works. A write locks its tenant's row first, bumps the
//! revision only when something changed, and appends its change events and a
//! `pg_notify('authz_changes', '<tenant>:<revision>')` in the same transaction. Only the
//! listener behind [`Store::subscribe`] keeps a direct, long-lived connection.

mod entities;
mod error;
mod feed;
mod import;
mod keys;
mod listener;
mod policy;
mod relationships;
mod rows;
mod tenants;
mod tx;

use std::time::Duration;

use authz_core::TenantPolicy;
use authz_core::model::{Tenant, TenantStatus};
use authz_store::{
    ChangeFeed, Committed, ImportOptions, ImportReport, KeyOwner, Page, PageRequest,
    RelationshipFilter, RelationshipPage, RelationshipWrite, Store, StoreError, StoredTenant,
    TenantRecord,
};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{ConnectOptions, Connection};
use tokio::sync::broadcast;
use tokio::task::JoinHandle;

pub use error::ConnectError;
pub use listener::LISTENER_APPLICATION;

/// The channel commits are announced on.
pub const CHANNEL: &str = "authz_changes";

/// Named prepared statements each pooled connection keeps (parsed once per connection). The
/// store issues a few dozen distinct statements, so all of them stay cached.
pub const STATEMENT_CACHE_CAPACITY: usize = 256;

/// How to reach Postgres.
#[derive(Debug, Clone)]
pub struct PgStoreOptions {
    connect: PgConnectOptions,
    listen: Option<PgConnectOptions>,
    max_connections: u32,
    acquire_timeout: Duration,
    prepared_statements: bool,
}

impl PgStoreOptions {
    /// Pooled connections to `connect`; the listener connects there too unless
    /// [`PgStoreOptions::listen_with`] says otherwise.
    pub fn new(connect: PgConnectOptions) -> PgStoreOptions {
        PgStoreOptions {
            connect,
            listen: None,
            max_connections: 10,
            acquire_timeout: Duration::from_secs(10),
            prepared_statements: true,
        }
    }

    /// Options from a `postgres://` URL.
    pub fn from_url(url: &str) -> Result<PgStoreOptions, ConnectError> {
        let connect = url.parse().map_err(|source| ConnectError::Url {
            url: url.to_owned(),
            source,
        })?;
        Ok(PgStoreOptions::new(connect))
    }

    /// Where the listener and migrations connect: the database directly, when the pool goes
    /// through a transaction-mode pooler (`LISTEN` and the migrations' advisory lock need a
    /// session of their own).
    pub fn listen_with(mut self, listen: PgConnectOptions) -> PgStoreOptions {
        self.listen = Some(listen);
        self
    }

    pub fn max_connections(mut self, max_connections: u32) -> PgStoreOptions {
        self.max_connections = max_connections.max(1);
        self
    }

    /// How long a call waits for a pooled connection before it fails as unavailable.
    pub fn acquire_timeout(mut self, timeout: Duration) -> PgStoreOptions {
        self.acquire_timeout = timeout;
        self
    }

    /// Statement caching. By default (`true`) each connection keeps up to
    /// [`STATEMENT_CACHE_CAPACITY`] named prepared statements: right for a direct connection
    /// and for PgBouncer 1.21+ with `max_prepared_statements` set, which tracks them. Behind a
    /// transaction-mode pooler that does not (older PgBouncer), pass `false`: every statement
    /// is then unnamed, parsed per execution and valid only inside the transaction, so it does
    /// not matter which server connection the pooler picks.
    pub fn prepared_statements(mut self, prepared: bool) -> PgStoreOptions {
        self.prepared_statements = prepared;
        self
    }
}

/// Tenants in Postgres.
#[derive(Debug)]
pub struct PgStore {
    pool: PgPool,
    /// Named, cached statements (`true`) or unnamed ones (`false`): see
    /// [`PgStoreOptions::prepared_statements`].
    persistent: bool,
    /// The database itself, never a pooler: for migrations.
    direct: PgConnectOptions,
    commits: broadcast::Sender<Committed>,
    listener: JoinHandle<()>,
}

impl PgStore {
    /// Connects the pool and starts the listener; returns once the listener is listening, so
    /// a commit made after this returns is announced to [`Store::subscribe`]rs.
    ///
    /// The connecting user must be a member of `authz_app` (the migration grants it to the user
    /// who migrates; another service user needs `GRANT authz_app TO <user>`).
    pub async fn connect(options: PgStoreOptions) -> Result<PgStore, ConnectError> {
        let application = "authz-store-pg";
        let connect = options
            .connect
            .clone()
            .application_name(application)
            .statement_cache_capacity(if options.prepared_statements {
                STATEMENT_CACHE_CAPACITY
            } else {
                0
            });
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections)
            .acquire_timeout(options.acquire_timeout)
            .connect_with(connect)
            .await
            .map_err(ConnectError::Connect)?;
        let commits = broadcast::Sender::new(1024);
        let direct = options.listen.unwrap_or(options.connect);
        let listener = listener::start(direct.clone(), commits.clone())
            .await
            .map_err(ConnectError::Listen)?;
        Ok(PgStore {
            pool,
            persistent: options.prepared_statements,
            direct,
            commits,
            listener,
        })
    }

    /// Brings the schema up to date (idempotent; concurrent runs wait for each other). Runs on
    /// a direct connection of its own, not the pool: the migrator holds a session-level
    /// advisory lock and prepares its statements, neither of which a transaction-mode pooler
    /// keeps.
    pub async fn migrate(&self) -> Result<(), ConnectError> {
        let mut connection = self
            .direct
            .clone()
            .application_name("authz-store-pg migrate")
            .connect()
            .await
            .map_err(ConnectError::Connect)?;
        let migrated = sqlx::migrate!("./migrations").run(&mut connection).await;
        // Closing politely is a courtesy: the migration's outcome is what matters.
        let _ = connection.close().await;
        migrated.map_err(ConnectError::Migrate)
    }

    /// The pool, for tests and tools that look at the database directly.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    fn tx(&self) -> tx::Begin<'_> {
        tx::Begin::new(&self.pool, self.persistent)
    }
}

impl Drop for PgStore {
    fn drop(&mut self) {
        self.listener.abort();
    }
}

#[async_trait::async_trait]
impl Store for PgStore {
    async fn tenant_ids(&self) -> Result<Vec<String>, StoreError> {
        tenants::ids(self.tx()).await
    }

    async fn load_tenant(&self, tenant_id: &str) -> Result<Option<StoredTenant>, StoreError> {
        policy::load_tenant(self.tx(), tenant_id, true).await
    }

    async fn load_policy(&self, tenant_id: &str) -> Result<Option<StoredTenant>, StoreError> {
        policy::load_tenant(self.tx(), tenant_id, false).await
    }

    async fn revisions(&self) -> Result<Vec<(String, u64)>, StoreError> {
        keys::revisions(self.tx()).await
    }

    async fn find_api_key(&self, secret_hash: &str) -> Result<Vec<KeyOwner>, StoreError> {
        keys::find_api_key(self.tx(), secret_hash).await
    }

    async fn revision(&self, tenant_id: &str) -> Result<Option<u64>, StoreError> {
        tenants::revision(self.tx(), tenant_id).await
    }

    async fn changes_since(
        &self,
        tenant_id: &str,
        after: u64,
        limit: usize,
    ) -> Result<ChangeFeed, StoreError> {
        feed::changes_since(self.tx(), tenant_id, after, limit).await
    }

    fn subscribe(&self) -> broadcast::Receiver<Committed> {
        self.commits.subscribe()
    }

    async fn create_tenant(&self, tenant: Tenant) -> Result<u64, StoreError> {
        tenants::create(self.tx(), tenant).await
    }

    async fn set_tenant_status(
        &self,
        tenant_id: &str,
        status: TenantStatus,
    ) -> Result<u64, StoreError> {
        tenants::set_status(self.tx(), tenant_id, status).await
    }

    async fn tenant(&self, tenant_id: &str) -> Result<Option<TenantRecord>, StoreError> {
        tenants::get(self.tx(), tenant_id).await
    }

    async fn list_tenants(&self, page: &PageRequest) -> Result<Page<TenantRecord>, StoreError> {
        tenants::list(self.tx(), page).await
    }

    async fn import_policy(
        &self,
        policy: TenantPolicy,
        options: ImportOptions,
    ) -> Result<ImportReport, StoreError> {
        import::import_policy(self.tx(), policy, options).await
    }

    async fn write_relationships(
        &self,
        tenant_id: &str,
        writes: &[RelationshipWrite],
    ) -> Result<u64, StoreError> {
        relationships::write(self.tx(), tenant_id, writes).await
    }

    async fn read_relationships(
        &self,
        tenant_id: &str,
        filter: &RelationshipFilter,
        page: &PageRequest,
    ) -> Result<RelationshipPage, StoreError> {
        relationships::read(self.tx(), tenant_id, filter, page).await
    }
}

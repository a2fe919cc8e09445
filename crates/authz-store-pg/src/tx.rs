//! The transaction every call runs in, and its tenant scope.
//!
//! INVARIANT: nothing relies on session state. The role (`authz_app`, held to row-level
//! security) and the tenant scope are set with `set_config(..., true)`, which lasts until the
//! transaction ends, so a pooled connection comes back as it was lent and a transaction-mode
//! pooler may hand each transaction to any server connection.

use sqlx::postgres::{PgArguments, PgConnection, PgPool, PgRow};
use sqlx::query::{Query, QueryAs, QueryScalar};
use sqlx::{FromRow, Postgres, Transaction};

use authz_store::StoreError;

use crate::error::unavailable;

/// Starts transactions on a pool.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Begin<'a> {
    pool: &'a PgPool,
    persistent: bool,
}

impl<'a> Begin<'a> {
    pub(crate) fn new(pool: &'a PgPool, persistent: bool) -> Begin<'a> {
        Begin { pool, persistent }
    }

    /// A write of `tenant_id`. Read committed: once the writer holds its tenant's row lock,
    /// each statement sees every write committed before it, the previous writer's included.
    pub(crate) async fn write(self, tenant_id: &str) -> Result<Tx, StoreError> {
        self.begin(
            "BEGIN ISOLATION LEVEL READ COMMITTED",
            Scope::Tenant(tenant_id),
        )
        .await
    }

    /// A read of `tenant_id`: one snapshot for all its statements, so a tenant's policy,
    /// relationships and revision are read as of one commit.
    pub(crate) async fn read(self, tenant_id: &str) -> Result<Tx, StoreError> {
        self.begin(READ, Scope::Tenant(tenant_id)).await
    }

    /// A read of the tenants table across tenants: listing tenants, nothing else.
    pub(crate) async fn all_tenants(self) -> Result<Tx, StoreError> {
        self.begin(READ, Scope::AllTenants).await
    }

    /// A read of API keys across tenants, by a presented secret's hash: nothing else.
    pub(crate) async fn key_lookup(self) -> Result<Tx, StoreError> {
        self.begin(READ, Scope::KeyLookup).await
    }

    async fn begin(self, statement: &'static str, scope: Scope<'_>) -> Result<Tx, StoreError> {
        let inner = self.pool.begin_with(statement).await.map_err(unavailable)?;
        let mut tx = Tx {
            inner,
            persistent: self.persistent,
        };
        let (tenant_id, all_tenants, key_lookup) = match scope {
            Scope::Tenant(tenant_id) => (tenant_id, "off", "off"),
            Scope::AllTenants => ("", "on", "off"),
            Scope::KeyLookup => ("", "off", "on"),
        };
        tx.query(
            "SELECT set_config('role', 'authz_app', true), \
                    set_config('authz.tenant_id', $1, true), \
                    set_config('authz.all_tenants', $2, true), \
                    set_config('authz.key_lookup', $3, true)",
        )
        .bind(tenant_id)
        .bind(all_tenants)
        .bind(key_lookup)
        .execute(tx.conn())
        .await
        .map_err(unavailable)?;
        Ok(tx)
    }
}

const READ: &str = "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY";

enum Scope<'a> {
    Tenant(&'a str),
    AllTenants,
    KeyLookup,
}

/// One transaction, scoped to a tenant (or, read-only, to the tenant list). Dropping it
/// without [`Tx::commit`] rolls it back.
#[derive(Debug)]
pub(crate) struct Tx {
    inner: Transaction<'static, Postgres>,
    persistent: bool,
}

impl Tx {
    pub(crate) fn conn(&mut self) -> &mut PgConnection {
        &mut self.inner
    }

    /// Rescopes the transaction to another tenant: an import reads the platform policy its
    /// tenant compiles against, then its own rows.
    pub(crate) async fn scope(&mut self, tenant_id: &str) -> Result<(), StoreError> {
        self.query("SELECT set_config('authz.tenant_id', $1, true)")
            .bind(tenant_id)
            .execute(self.conn())
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    pub(crate) fn query<'q>(&self, sql: &'q str) -> Query<'q, Postgres, PgArguments> {
        sqlx::query(sql).persistent(self.persistent)
    }

    pub(crate) fn query_as<'q, O>(&self, sql: &'q str) -> QueryAs<'q, Postgres, O, PgArguments>
    where
        O: for<'r> FromRow<'r, PgRow>,
    {
        sqlx::query_as(sql).persistent(self.persistent)
    }

    pub(crate) fn query_scalar<'q, O>(
        &self,
        sql: &'q str,
    ) -> QueryScalar<'q, Postgres, O, PgArguments>
    where
        (O,): for<'r> FromRow<'r, PgRow>,
    {
        sqlx::query_scalar(sql).persistent(self.persistent)
    }

    pub(crate) async fn commit(self) -> Result<(), StoreError> {
        self.inner.commit().await.map_err(unavailable)
    }

    /// Ends a transaction that changed nothing (or must not: a dry run).
    pub(crate) async fn rollback(self) -> Result<(), StoreError> {
        self.inner.rollback().await.map_err(unavailable)
    }
}

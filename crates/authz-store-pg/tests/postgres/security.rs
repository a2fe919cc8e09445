//! Row-level security as defence in depth: the application role sees one tenant's rows, and
//! only when a transaction names that tenant.

use sqlx::{PgPool, Postgres, Transaction};

use super::put;
use crate::conformance::{clinic, platform};
use crate::fresh;

const TABLES: [&str; 11] = [
    "tenants",
    "policy_documents",
    "roles",
    "constraints",
    "principals",
    "sessions",
    "api_keys",
    "bindings",
    "delegations",
    "relationships",
    "changes",
];

/// A transaction as the application role with these settings.
async fn as_app(
    pool: &PgPool,
    tenant_id: Option<&str>,
    all_tenants: bool,
) -> Transaction<'static, Postgres> {
    let mut tx = pool.begin().await.unwrap();
    sqlx::query(
        "SELECT set_config('role', 'authz_app', true), \
                set_config('authz.tenant_id', coalesce($1, ''), true), \
                set_config('authz.all_tenants', $2, true)",
    )
    .bind(tenant_id)
    .bind(if all_tenants { "on" } else { "off" })
    .execute(&mut *tx)
    .await
    .unwrap();
    tx
}

async fn count(
    tx: &mut Transaction<'static, Postgres>,
    table: &str,
    tenant_id: Option<&str>,
) -> i64 {
    sqlx::query_scalar(&format!(
        "SELECT count(*) FROM {table} WHERE $1::text IS NULL OR tenant_id = $1"
    ))
    .bind(tenant_id)
    .fetch_one(&mut **tx)
    .await
    .unwrap()
}

#[tokio::test]
async fn the_application_role_sees_only_the_tenant_its_transaction_names() {
    let store = fresh().await;
    put(&*store, clinic("acme")).await;
    put(&*store, clinic("beta")).await;
    put(&*store, platform()).await;
    let pool = store.pool();

    // Unscoped, the application role sees nothing at all.
    let mut tx = as_app(pool, None, false).await;
    for table in TABLES {
        assert_eq!(
            count(&mut tx, table, None).await,
            0,
            "{table} without a tenant"
        );
    }
    tx.rollback().await.unwrap();

    // Scoped to acme: exactly acme's rows (the superuser, who bypasses security, counts them).
    let mut admin = pool.begin().await.unwrap();
    let mut tx = as_app(pool, Some("acme"), false).await;
    for table in TABLES {
        let all = count(&mut tx, table, None).await;
        let acme = count(&mut admin, table, Some("acme")).await;
        assert_eq!(
            all, acme,
            "{table} scoped to acme shows exactly acme's rows"
        );
    }
    assert!(count(&mut tx, "relationships", None).await > 0);
    // Nor can it write another tenant's rows.
    let foreign = sqlx::query(
        "INSERT INTO relationships VALUES ('beta', 'patient', 'p9', 'assignee', 'user', 'ann')",
    )
    .execute(&mut *tx)
    .await;
    let code = foreign.err().and_then(|error| {
        error
            .as_database_error()
            .and_then(|e| e.code().map(|c| c.into_owned()))
    });
    assert_eq!(
        code.as_deref(),
        Some("42501"),
        "insufficient privilege (row security)"
    );
    tx.rollback().await.unwrap();

    // The all-tenants scope reads the tenant list, and nothing else.
    let mut tx = as_app(pool, None, true).await;
    assert_eq!(count(&mut tx, "tenants", None).await, 3);
    for table in TABLES.iter().filter(|table| **table != "tenants") {
        assert_eq!(
            count(&mut tx, table, None).await,
            0,
            "{table} across tenants"
        );
    }
    let renamed = sqlx::query("UPDATE tenants SET name = 'x'")
        .execute(&mut *tx)
        .await
        .unwrap();
    assert_eq!(
        renamed.rows_affected(),
        0,
        "the all-tenants scope only reads"
    );
    tx.rollback().await.unwrap();
    admin.rollback().await.unwrap();
}

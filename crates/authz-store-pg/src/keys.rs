//! The two reads that span tenants on purpose, each under the narrowly used all-tenants
//! scope: every tenant's revision (a replica's safety-net poll, under the all-tenants scope)
//! and an API key's owner by its secret's hash (an admin call presents only the secret; under
//! the key-lookup scope, which opens `api_keys` and nothing else).

use authz_store::{KeyOwner, StoreError};
use chrono::{DateTime, Utc};

use crate::error::unavailable;
use crate::rows::{self, parse_principal_kind};
use crate::tx::Begin;

pub(crate) async fn revisions(begin: Begin<'_>) -> Result<Vec<(String, u64)>, StoreError> {
    let mut tx = begin.all_tenants().await?;
    let rows: Vec<(String, i64)> = tx
        .query_as("SELECT tenant_id, revision FROM tenants ORDER BY tenant_id")
        .fetch_all(tx.conn())
        .await
        .map_err(unavailable)?;
    tx.commit().await?;
    rows.into_iter()
        .map(|(tenant_id, revision)| Ok((tenant_id, rows::revision(revision)?)))
        .collect()
}

type KeyRow = (String, String, String, bool, Option<DateTime<Utc>>);

pub(crate) async fn find_api_key(
    begin: Begin<'_>,
    secret_hash: &str,
) -> Result<Vec<KeyOwner>, StoreError> {
    let mut tx = begin.key_lookup().await?;
    let rows: Vec<KeyRow> = tx
        .query_as(
            "SELECT tenant_id, principal_id, key_id, revoked, expires_at FROM api_keys \
             WHERE secret_hash = $1 AND secret_hash <> '' \
             ORDER BY tenant_id, principal_id, key_id",
        )
        .bind(secret_hash)
        .fetch_all(tx.conn())
        .await
        .map_err(unavailable)?;
    tx.commit().await?;
    let mut owners = Vec::with_capacity(rows.len());
    for (tenant_id, principal_id, key_id, revoked, expires_at) in rows {
        // The principal's kind, read in its own tenant's scope.
        let mut tx = begin.read(&tenant_id).await?;
        let kind: Option<String> = tx
            .query_scalar("SELECT kind FROM principals WHERE tenant_id = $1 AND principal_id = $2")
            .bind(&tenant_id)
            .bind(&principal_id)
            .fetch_optional(tx.conn())
            .await
            .map_err(unavailable)?;
        tx.commit().await?;
        let Some(kind) = kind else { continue };
        owners.push(KeyOwner {
            tenant_id,
            principal_id,
            principal_kind: parse_principal_kind(&kind)?,
            key_id,
            revoked,
            expires_at,
        });
    }
    Ok(owners)
}

//! Writing the policy part of an import: only the entities the diff names, plus the `ordinal`
//! of those that moved, so the stored order is the imported one. The [`Plan`] says what;
//! applying it only writes.

mod plan;

use authz_core::TenantPolicy;
use authz_store::StoreError;

use crate::error::unavailable;
use crate::tx::Tx;

pub(crate) use plan::Plan;
use plan::{BindingRows, Bodies, DelegationRows, Documents, PrincipalRows, Table, documents_of};

impl Plan {
    /// Writes the plan in `tx`, whose tenant row is locked.
    pub(crate) async fn apply(self, tx: &mut Tx, tenant_id: &str) -> Result<(), StoreError> {
        if let Some((name, time_zone)) = &self.tenant {
            tx.query("UPDATE tenants SET name = $2, time_zone = $3 WHERE tenant_id = $1")
                .bind(tenant_id)
                .bind(name)
                .bind(time_zone)
                .execute(tx.conn())
                .await
                .map_err(unavailable)?;
        }
        if let Some(documents) = &self.documents {
            put_documents(tx, tenant_id, documents).await?;
        }
        write_bodies(tx, tenant_id, BodyTable::Roles, self.roles).await?;
        write_bodies(tx, tenant_id, BodyTable::Constraints, self.constraints).await?;
        write_principals(tx, tenant_id, self.principals).await?;
        write_bindings(tx, tenant_id, self.bindings).await?;
        write_delegations(tx, tenant_id, self.delegations).await?;
        Ok(())
    }
}

/// Writes the catalog-level documents of `policy` (a new tenant's, or an import's).
pub(crate) async fn write_documents(
    tx: &mut Tx,
    tenant_id: &str,
    policy: &TenantPolicy,
) -> Result<(), StoreError> {
    put_documents(tx, tenant_id, &documents_of(policy)?).await
}

async fn put_documents(
    tx: &mut Tx,
    tenant_id: &str,
    documents: &Documents,
) -> Result<(), StoreError> {
    tx.query(
        "INSERT INTO policy_documents (tenant_id, entitlements, catalog, locked_grants) \
         VALUES ($1, $2::json, $3::json, $4::json) \
         ON CONFLICT (tenant_id) DO UPDATE SET entitlements = EXCLUDED.entitlements, \
             catalog = EXCLUDED.catalog, locked_grants = EXCLUDED.locked_grants",
    )
    .bind(tenant_id)
    .bind(&documents.entitlements)
    .bind(&documents.catalog)
    .bind(&documents.locked_grants)
    .execute(tx.conn())
    .await
    .map_err(unavailable)?;
    Ok(())
}
/// The entity tables an import keeps whole as JSON.
#[derive(Debug, Clone, Copy)]
pub(crate) enum BodyTable {
    Roles,
    Constraints,
}

impl BodyTable {
    pub(crate) fn table(self) -> &'static str {
        match self {
            BodyTable::Roles => "roles",
            BodyTable::Constraints => "constraints",
        }
    }

    pub(crate) fn id(self) -> &'static str {
        match self {
            BodyTable::Roles => "role_id",
            BodyTable::Constraints => "constraint_id",
        }
    }
}

/// Deletes `removed` and rewrites the `ordinal` of moved rows of `table` (keyed by `id`).
async fn remove_and_move<R>(
    tx: &mut Tx,
    tenant_id: &str,
    table: &str,
    id: &str,
    part: &Table<R>,
) -> Result<(), StoreError> {
    if !part.removed.is_empty() {
        tx.query(&format!(
            "DELETE FROM {table} WHERE tenant_id = $1 AND {id} = ANY($2::text[])"
        ))
        .bind(tenant_id)
        .bind(&part.removed)
        .execute(tx.conn())
        .await
        .map_err(unavailable)?;
    }
    if !part.moved_ids.is_empty() {
        tx.query(&format!(
            "UPDATE {table} t SET ordinal = m.ordinal \
             FROM UNNEST($2::text[], $3::integer[]) AS m(id, ordinal) \
             WHERE t.tenant_id = $1 AND t.{id} = m.id"
        ))
        .bind(tenant_id)
        .bind(&part.moved_ids)
        .bind(&part.moved_ordinals)
        .execute(tx.conn())
        .await
        .map_err(unavailable)?;
    }
    Ok(())
}

async fn write_bodies(
    tx: &mut Tx,
    tenant_id: &str,
    which: BodyTable,
    part: Bodies,
) -> Result<(), StoreError> {
    let (table, id) = (which.table(), which.id());
    remove_and_move(tx, tenant_id, table, id, &part).await?;
    let rows = part.written;
    if rows.ids.is_empty() {
        return Ok(());
    }
    tx.query(&format!(
        "INSERT INTO {table} (tenant_id, {id}, ordinal, body) \
         SELECT $1, w.id, w.ordinal, w.body::json \
         FROM UNNEST($2::text[], $3::integer[], $4::text[]) AS w(id, ordinal, body) \
         ON CONFLICT (tenant_id, {id}) DO UPDATE \
             SET ordinal = EXCLUDED.ordinal, body = EXCLUDED.body"
    ))
    .bind(tenant_id)
    .bind(rows.ids)
    .bind(rows.ordinals)
    .bind(rows.bodies)
    .execute(tx.conn())
    .await
    .map_err(unavailable)?;
    Ok(())
}

async fn write_principals(
    tx: &mut Tx,
    tenant_id: &str,
    part: Table<PrincipalRows>,
) -> Result<(), StoreError> {
    // Removing a principal removes its sessions and keys (ON DELETE CASCADE).
    remove_and_move(tx, tenant_id, "principals", "principal_id", &part).await?;
    let rows = part.written;
    if rows.ids.is_empty() {
        return Ok(());
    }
    tx.query(
        "INSERT INTO principals (tenant_id, principal_id, ordinal, kind, display_name, status, \
                                 token_version, attributes) \
         SELECT $1, w.id, w.ordinal, w.kind, w.display_name, w.status, \
                w.token_version::numeric, w.attributes::json \
         FROM UNNEST($2::text[], $3::integer[], $4::text[], $5::text[], $6::text[], \
                     $7::text[], $8::text[]) \
             AS w(id, ordinal, kind, display_name, status, token_version, attributes) \
         ON CONFLICT (tenant_id, principal_id) DO UPDATE SET ordinal = EXCLUDED.ordinal, \
             kind = EXCLUDED.kind, display_name = EXCLUDED.display_name, \
             status = EXCLUDED.status, token_version = EXCLUDED.token_version, \
             attributes = EXCLUDED.attributes",
    )
    .bind(tenant_id)
    .bind(&rows.ids)
    .bind(rows.ordinals)
    .bind(rows.kinds)
    .bind(rows.display_names)
    .bind(rows.statuses)
    .bind(rows.token_versions)
    .bind(rows.attributes)
    .execute(tx.conn())
    .await
    .map_err(unavailable)?;
    // A written principal's sessions and keys are replaced whole.
    for table in ["sessions", "api_keys"] {
        tx.query(&format!(
            "DELETE FROM {table} WHERE tenant_id = $1 AND principal_id = ANY($2::text[])"
        ))
        .bind(tenant_id)
        .bind(&rows.ids)
        .execute(tx.conn())
        .await
        .map_err(unavailable)?;
    }
    let sessions = rows.sessions;
    if !sessions.ids.is_empty() {
        tx.query(
            "INSERT INTO sessions (tenant_id, principal_id, session_id, ordinal, revoked, \
                                   expires_at) \
             SELECT $1, * FROM UNNEST($2::text[], $3::text[], $4::integer[], $5::boolean[], \
                                      $6::timestamptz[])",
        )
        .bind(tenant_id)
        .bind(sessions.principals)
        .bind(sessions.ids)
        .bind(sessions.ordinals)
        .bind(sessions.revoked)
        .bind(sessions.expires_at)
        .execute(tx.conn())
        .await
        .map_err(unavailable)?;
    }
    let keys = rows.api_keys;
    if !keys.ids.is_empty() {
        tx.query(
            "INSERT INTO api_keys (tenant_id, principal_id, key_id, ordinal, scopes, expires_at, \
                                   revoked, rate_limit_per_second, secret_hash) \
             SELECT $1, k.principal_id, k.key_id, k.ordinal, \
                    ARRAY(SELECT json_array_elements_text(k.scopes::json)), k.expires_at, \
                    k.revoked, k.rate_limit, k.secret_hash \
             FROM UNNEST($2::text[], $3::text[], $4::integer[], $5::text[], \
                         $6::timestamptz[], $7::boolean[], $8::bigint[], $9::text[]) \
                 AS k(principal_id, key_id, ordinal, scopes, expires_at, revoked, rate_limit, \
                      secret_hash)",
        )
        .bind(tenant_id)
        .bind(keys.principals)
        .bind(keys.ids)
        .bind(keys.ordinals)
        .bind(keys.scopes)
        .bind(keys.expires_at)
        .bind(keys.revoked)
        .bind(keys.rate_limits)
        .bind(keys.secret_hashes)
        .execute(tx.conn())
        .await
        .map_err(unavailable)?;
    }
    Ok(())
}

async fn write_bindings(
    tx: &mut Tx,
    tenant_id: &str,
    part: Table<BindingRows>,
) -> Result<(), StoreError> {
    remove_and_move(tx, tenant_id, "bindings", "binding_id", &part).await?;
    let rows = part.written;
    if rows.ids.is_empty() {
        return Ok(());
    }
    tx.query(
        "INSERT INTO bindings (tenant_id, binding_id, ordinal, principal_id, role_id, locations, \
                               tenants, not_before, expires_at, source, reason) \
         SELECT $1, b.id, b.ordinal, b.principal_id, b.role_id, \
                ARRAY(SELECT json_array_elements_text(b.locations::json)), \
                ARRAY(SELECT json_array_elements_text(b.tenants::json)), \
                b.not_before, b.expires_at, b.source, b.reason \
         FROM UNNEST($2::text[], $3::integer[], $4::text[], $5::text[], $6::text[], $7::text[], \
                     $8::timestamptz[], $9::timestamptz[], $10::text[], $11::text[]) \
             AS b(id, ordinal, principal_id, role_id, locations, tenants, not_before, \
                  expires_at, source, reason) \
         ON CONFLICT (tenant_id, binding_id) DO UPDATE SET ordinal = EXCLUDED.ordinal, \
             principal_id = EXCLUDED.principal_id, role_id = EXCLUDED.role_id, \
             locations = EXCLUDED.locations, tenants = EXCLUDED.tenants, \
             not_before = EXCLUDED.not_before, expires_at = EXCLUDED.expires_at, \
             source = EXCLUDED.source, reason = EXCLUDED.reason",
    )
    .bind(tenant_id)
    .bind(rows.ids)
    .bind(rows.ordinals)
    .bind(rows.principals)
    .bind(rows.roles)
    .bind(rows.locations)
    .bind(rows.tenants)
    .bind(rows.not_before)
    .bind(rows.expires_at)
    .bind(rows.sources)
    .bind(rows.reasons)
    .execute(tx.conn())
    .await
    .map_err(unavailable)?;
    Ok(())
}

async fn write_delegations(
    tx: &mut Tx,
    tenant_id: &str,
    part: Table<DelegationRows>,
) -> Result<(), StoreError> {
    remove_and_move(tx, tenant_id, "delegations", "delegation_id", &part).await?;
    let rows = part.written;
    if rows.ids.is_empty() {
        return Ok(());
    }
    tx.query(
        "INSERT INTO delegations (tenant_id, delegation_id, ordinal, delegator, delegate, \
                                  permissions, not_before, expires_at, revoked, reason) \
         SELECT $1, d.id, d.ordinal, d.delegator, d.delegate, \
                ARRAY(SELECT json_array_elements_text(d.permissions::json)), \
                d.not_before, d.expires_at, d.revoked, d.reason \
         FROM UNNEST($2::text[], $3::integer[], $4::text[], $5::text[], $6::text[], \
                     $7::timestamptz[], $8::timestamptz[], $9::boolean[], $10::text[]) \
             AS d(id, ordinal, delegator, delegate, permissions, not_before, expires_at, \
                  revoked, reason) \
         ON CONFLICT (tenant_id, delegation_id) DO UPDATE SET ordinal = EXCLUDED.ordinal, \
             delegator = EXCLUDED.delegator, delegate = EXCLUDED.delegate, \
             permissions = EXCLUDED.permissions, not_before = EXCLUDED.not_before, \
             expires_at = EXCLUDED.expires_at, revoked = EXCLUDED.revoked, \
             reason = EXCLUDED.reason",
    )
    .bind(tenant_id)
    .bind(rows.ids)
    .bind(rows.ordinals)
    .bind(rows.delegators)
    .bind(rows.delegates)
    .bind(rows.permissions)
    .bind(rows.not_before)
    .bind(rows.expires_at)
    .bind(rows.revoked)
    .bind(rows.reasons)
    .execute(tx.conn())
    .await
    .map_err(unavailable)?;
    Ok(())
}

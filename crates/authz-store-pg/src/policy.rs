//! Reading a tenant's policy back: the documents, entity tables in the order they were
//! imported (`ordinal`), relationships in key order — exactly what was imported, as the
//! in-memory store gives it back.

use std::collections::HashMap;
use std::sync::Arc;

use authz_core::TenantPolicy;
use authz_core::model::{
    ApiKey, Binding, Delegation, PLATFORM_TENANT_ID, Principal, Relationship, Session,
};
use authz_store::{StoreError, StoredTenant, TenantRecord};
use chrono::{DateTime, Utc};

use crate::entities::BodyTable;
use crate::error::{corrupt, unavailable};
use crate::rows::{self, from_json, parse_binding_source, parse_principal_kind};
use crate::tenants;
use crate::tx::{Begin, Tx};

/// Where each entity sits in the stored order, by table and id: an import rewrites the
/// `ordinal` of those that moved.
#[derive(Debug, Default)]
pub(crate) struct Ordinals {
    pub(crate) roles: HashMap<String, i32>,
    pub(crate) constraints: HashMap<String, i32>,
    pub(crate) principals: HashMap<String, i32>,
    pub(crate) bindings: HashMap<String, i32>,
    pub(crate) delegations: HashMap<String, i32>,
}

pub(crate) async fn load_tenant(
    begin: Begin<'_>,
    tenant_id: &str,
    with_relationships: bool,
) -> Result<Option<StoredTenant>, StoreError> {
    let mut tx = begin.read(tenant_id).await?;
    let Some(record) = tenants::read(&mut tx, tenant_id).await? else {
        return Ok(None);
    };
    let revision = record.revision;
    let (mut policy, _) = load_part(&mut tx, record).await?;
    if with_relationships {
        policy.relationships = relationships(&mut tx, tenant_id).await?;
    }
    tx.commit().await?;
    Ok(Some(StoredTenant {
        policy: Arc::new(policy),
        revision,
    }))
}

/// The platform policy `tenant_id` compiles against (`None` for the platform itself, or when
/// there is none), read in `tx`, which is left scoped to `tenant_id`.
pub(crate) async fn platform_for(
    tx: &mut Tx,
    tenant_id: &str,
) -> Result<Option<TenantPolicy>, StoreError> {
    if tenant_id == PLATFORM_TENANT_ID {
        return Ok(None);
    }
    tx.scope(PLATFORM_TENANT_ID).await?;
    let platform = match tenants::read(tx, PLATFORM_TENANT_ID).await? {
        Some(record) => {
            let (mut platform, _) = load_part(tx, record).await?;
            platform.relationships = relationships(tx, PLATFORM_TENANT_ID).await?;
            Some(platform)
        }
        None => None,
    };
    tx.scope(tenant_id).await?;
    Ok(platform)
}

/// Every relationship of the tenant, in key order.
pub(crate) async fn relationships(
    tx: &mut Tx,
    tenant_id: &str,
) -> Result<Vec<Relationship>, StoreError> {
    let rows: Vec<(String, String, String, String, String)> = tx
        .query_as(
            "SELECT resource_type, resource_id, relation, subject_type, subject_id \
             FROM relationships WHERE tenant_id = $1 \
             ORDER BY resource_type, resource_id, relation, subject_type, subject_id",
        )
        .bind(tenant_id)
        .fetch_all(tx.conn())
        .await
        .map_err(unavailable)?;
    Ok(rows
        .into_iter()
        .map(crate::relationships::from_row)
        .collect())
}

type DocumentsRow = (String, String, String);
type PrincipalRow = (String, i32, String, String, String, String, String);
type SessionRow = (String, String, bool, Option<DateTime<Utc>>);
type ApiKeyRow = (
    String,
    String,
    Vec<String>,
    Option<DateTime<Utc>>,
    bool,
    Option<i64>,
    String,
);
type BindingRow = (
    String,
    i32,
    String,
    String,
    Vec<String>,
    Vec<String>,
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
    String,
    String,
);
type DelegationRow = (
    String,
    i32,
    String,
    String,
    Vec<String>,
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
    bool,
    String,
);

/// The policy of the tenant `record` names, relationships left out, and where its entities
/// sit.
pub(crate) async fn load_part(
    tx: &mut Tx,
    record: TenantRecord,
) -> Result<(TenantPolicy, Ordinals), StoreError> {
    let tenant_id = record.tenant.id.clone();
    let id = tenant_id.as_str();
    let mut ordinals = Ordinals::default();
    let documents: Option<DocumentsRow> = tx
        .query_as(
            "SELECT entitlements::text, catalog::text, locked_grants::text \
             FROM policy_documents WHERE tenant_id = $1",
        )
        .bind(id)
        .fetch_optional(tx.conn())
        .await
        .map_err(unavailable)?;
    let (entitlements, catalog, locked_grants) =
        documents.ok_or_else(|| corrupt(format_args!("tenant `{id}` has no documents")))?;

    let roles = bodies(tx, BodyTable::Roles, id, &mut ordinals.roles).await?;
    let constraints = bodies(tx, BodyTable::Constraints, id, &mut ordinals.constraints).await?;

    let mut sessions: HashMap<String, Vec<Session>> = HashMap::new();
    let rows: Vec<SessionRow> = tx
        .query_as(
            "SELECT principal_id, session_id, revoked, expires_at FROM sessions \
             WHERE tenant_id = $1 ORDER BY principal_id, ordinal",
        )
        .bind(id)
        .fetch_all(tx.conn())
        .await
        .map_err(unavailable)?;
    for (principal, id, revoked, expires_at) in rows {
        sessions.entry(principal).or_default().push(Session {
            id,
            revoked,
            expires_at,
        });
    }
    let mut api_keys: HashMap<String, Vec<ApiKey>> = HashMap::new();
    let rows: Vec<ApiKeyRow> = tx
        .query_as(
            "SELECT principal_id, key_id, scopes, expires_at, revoked, rate_limit_per_second, \
                    secret_hash \
             FROM api_keys WHERE tenant_id = $1 ORDER BY principal_id, ordinal",
        )
        .bind(id)
        .fetch_all(tx.conn())
        .await
        .map_err(unavailable)?;
    for (principal, id, scopes, expires_at, revoked, rate_limit, secret_hash) in rows {
        let rate_limit_per_second = rate_limit
            .map(|limit| {
                u32::try_from(limit).map_err(|_| corrupt(format_args!("rate limit {limit}")))
            })
            .transpose()?;
        api_keys.entry(principal).or_default().push(ApiKey {
            id,
            scopes,
            expires_at,
            revoked,
            rate_limit_per_second,
            secret_hash,
        });
    }

    let rows: Vec<PrincipalRow> = tx
        .query_as(
            "SELECT principal_id, ordinal, kind, display_name, status, token_version::text, \
                    attributes::text \
             FROM principals WHERE tenant_id = $1 ORDER BY ordinal",
        )
        .bind(id)
        .fetch_all(tx.conn())
        .await
        .map_err(unavailable)?;
    let mut principals = Vec::with_capacity(rows.len());
    for (principal_id, ordinal, kind, display_name, status, token_version, attributes) in rows {
        ordinals.principals.insert(principal_id.clone(), ordinal);
        principals.push(Principal {
            kind: parse_principal_kind(&kind)?,
            display_name,
            status: rows::parse_principal_status(&status)?,
            token_version: token_version
                .parse()
                .map_err(|_| corrupt(format_args!("token version `{token_version}`")))?,
            attributes: from_json("principal attributes", &attributes)?,
            sessions: sessions.remove(&principal_id).unwrap_or_default(),
            api_keys: api_keys.remove(&principal_id).unwrap_or_default(),
            id: principal_id,
        });
    }

    let rows: Vec<BindingRow> = tx
        .query_as(
            "SELECT binding_id, ordinal, principal_id, role_id, locations, tenants, not_before, \
                    expires_at, source, reason \
             FROM bindings WHERE tenant_id = $1 ORDER BY ordinal",
        )
        .bind(id)
        .fetch_all(tx.conn())
        .await
        .map_err(unavailable)?;
    let mut bindings = Vec::with_capacity(rows.len());
    for (
        binding_id,
        ordinal,
        principal,
        role,
        locations,
        tenants,
        not_before,
        expires_at,
        source,
        reason,
    ) in rows
    {
        ordinals.bindings.insert(binding_id.clone(), ordinal);
        bindings.push(Binding {
            id: binding_id,
            principal,
            role,
            locations,
            tenants,
            not_before,
            expires_at,
            source: parse_binding_source(&source)?,
            reason,
        });
    }

    let rows: Vec<DelegationRow> = tx
        .query_as(
            "SELECT delegation_id, ordinal, delegator, delegate, permissions, not_before, \
                    expires_at, revoked, reason \
             FROM delegations WHERE tenant_id = $1 ORDER BY ordinal",
        )
        .bind(id)
        .fetch_all(tx.conn())
        .await
        .map_err(unavailable)?;
    let mut delegations = Vec::with_capacity(rows.len());
    for (
        delegation_id,
        ordinal,
        delegator,
        delegate,
        permissions,
        not_before,
        expires_at,
        revoked,
        reason,
    ) in rows
    {
        ordinals.delegations.insert(delegation_id.clone(), ordinal);
        delegations.push(Delegation {
            id: delegation_id,
            delegator,
            delegate,
            permissions,
            not_before,
            expires_at,
            revoked,
            reason,
        });
    }

    let policy = TenantPolicy {
        tenant: record.tenant,
        entitlements: from_json("entitlements", &entitlements)?,
        catalog: from_json("catalog", &catalog)?,
        locked_grants: from_json("locked grants", &locked_grants)?,
        roles,
        constraints,
        principals,
        bindings,
        relationships: Vec::new(),
        delegations,
    };
    Ok((policy, ordinals))
}

/// Entities kept whole as JSON (roles, constraints), in stored order.
async fn bodies<T: serde::de::DeserializeOwned>(
    tx: &mut Tx,
    which: BodyTable,
    tenant_id: &str,
    ordinals: &mut HashMap<String, i32>,
) -> Result<Vec<T>, StoreError> {
    let (table, id) = (which.table(), which.id());
    let rows: Vec<(String, i32, String)> = tx
        .query_as(&format!(
            "SELECT {id}, ordinal, body::text FROM {table} WHERE tenant_id = $1 ORDER BY ordinal"
        ))
        .bind(tenant_id)
        .fetch_all(tx.conn())
        .await
        .map_err(unavailable)?;
    let mut entities = Vec::with_capacity(rows.len());
    for (id, ordinal, body) in rows {
        entities.push(from_json(table, &body)?);
        ordinals.insert(id, ordinal);
    }
    Ok(entities)
}

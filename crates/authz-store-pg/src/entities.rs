//! Writing the policy part of an import: only the entities the diff names, plus the `ordinal`
//! of those that moved, so the stored order is the imported one.
//!
//! A [`Plan`] is made first, in Rust, and refuses values Postgres could not give back exactly;
//! applying it only writes.

use std::collections::{BTreeSet, HashMap};

use authz_core::TenantPolicy;
use authz_core::model::{Binding, Delegation, Principal};
use authz_store::{ChangeKind, PolicyDiff, StoreError};
use chrono::{DateTime, Utc};

use crate::error::unavailable;
use crate::policy::Ordinals;
use crate::rows::{binding_source, json, ordinal, principal_status, timestamp};
use crate::tx::Tx;

/// What an import writes besides relationships.
#[derive(Debug, Default)]
pub(crate) struct Plan {
    tenant: Option<(String, String)>,
    documents: Option<Documents>,
    roles: Bodies,
    constraints: Bodies,
    principals: Table<PrincipalRows>,
    bindings: Table<BindingRows>,
    delegations: Table<DelegationRows>,
}

#[derive(Debug)]
struct Documents {
    entitlements: String,
    catalog: String,
    locked_grants: String,
}

/// One entity table's part: ids removed, rows written (added or modified), ids moved.
#[derive(Debug, Default)]
struct Table<R> {
    removed: Vec<String>,
    written: R,
    moved_ids: Vec<String>,
    moved_ordinals: Vec<i32>,
}

type Bodies = Table<BodyRows>;

#[derive(Debug, Default)]
struct BodyRows {
    ids: Vec<String>,
    ordinals: Vec<i32>,
    bodies: Vec<String>,
}

#[derive(Debug, Default)]
struct PrincipalRows {
    ids: Vec<String>,
    ordinals: Vec<i32>,
    kinds: Vec<&'static str>,
    display_names: Vec<String>,
    statuses: Vec<&'static str>,
    token_versions: Vec<String>,
    attributes: Vec<String>,
    sessions: SessionRows,
    api_keys: ApiKeyRows,
}

#[derive(Debug, Default)]
struct SessionRows {
    principals: Vec<String>,
    ids: Vec<String>,
    ordinals: Vec<i32>,
    revoked: Vec<bool>,
    expires_at: Vec<Option<DateTime<Utc>>>,
}

#[derive(Debug, Default)]
struct ApiKeyRows {
    principals: Vec<String>,
    ids: Vec<String>,
    ordinals: Vec<i32>,
    scopes: Vec<String>,
    expires_at: Vec<Option<DateTime<Utc>>>,
    revoked: Vec<bool>,
    rate_limits: Vec<Option<i64>>,
    secret_hashes: Vec<String>,
}

#[derive(Debug, Default)]
struct BindingRows {
    ids: Vec<String>,
    ordinals: Vec<i32>,
    principals: Vec<String>,
    roles: Vec<String>,
    locations: Vec<String>,
    tenants: Vec<String>,
    not_before: Vec<Option<DateTime<Utc>>>,
    expires_at: Vec<Option<DateTime<Utc>>>,
    sources: Vec<&'static str>,
    reasons: Vec<String>,
}

#[derive(Debug, Default)]
struct DelegationRows {
    ids: Vec<String>,
    ordinals: Vec<i32>,
    delegators: Vec<String>,
    delegates: Vec<String>,
    permissions: Vec<String>,
    not_before: Vec<Option<DateTime<Utc>>>,
    expires_at: Vec<Option<DateTime<Utc>>>,
    revoked: Vec<bool>,
    reasons: Vec<String>,
}

/// The ids `diff` names for `what`: removed, and written (added or modified).
fn named(diff: &PolicyDiff, what: &str) -> (Vec<String>, BTreeSet<String>) {
    let mut removed = Vec::new();
    let mut written = BTreeSet::new();
    for change in diff.changes.iter().filter(|change| change.what == what) {
        match change.kind {
            ChangeKind::Removed => removed.push(change.id.clone()),
            ChangeKind::Added | ChangeKind::Modified => {
                written.insert(change.id.clone());
            }
        }
    }
    (removed, written)
}

/// Sorts `entities` into written rows (through `write`) and moved ids.
fn table<T, R: Default>(
    diff: &PolicyDiff,
    what: &str,
    entities: &[T],
    id: impl Fn(&T) -> &String,
    stored: &HashMap<String, i32>,
    mut write: impl FnMut(&mut R, i32, &T) -> Result<(), StoreError>,
) -> Result<Table<R>, StoreError> {
    let (removed, written) = named(diff, what);
    let mut part = Table {
        removed,
        written: R::default(),
        moved_ids: Vec::new(),
        moved_ordinals: Vec::new(),
    };
    for (index, entity) in entities.iter().enumerate() {
        let position = ordinal(index)?;
        if written.contains(id(entity)) {
            write(&mut part.written, position, entity)?;
        } else if stored.get(id(entity)) != Some(&position) {
            part.moved_ids.push(id(entity).clone());
            part.moved_ordinals.push(position);
        }
    }
    Ok(part)
}

impl Plan {
    /// What writing `imported` over `stored` (which `diff` compares) takes.
    pub(crate) fn new(
        stored: &TenantPolicy,
        ordinals: &Ordinals,
        imported: &TenantPolicy,
        diff: &PolicyDiff,
    ) -> Result<Plan, StoreError> {
        let mut plan = Plan::default();
        if diff.is_empty() {
            return Ok(plan);
        }
        if stored.tenant != imported.tenant {
            plan.tenant = Some((
                imported.tenant.name.clone(),
                imported.tenant.time_zone.clone(),
            ));
        }
        let documents = [
            "entitlements",
            "resource_type",
            "sensitivity_class",
            "locked_grants",
        ];
        if diff
            .changes
            .iter()
            .any(|change| documents.contains(&change.what))
        {
            plan.documents = Some(documents_of(imported)?);
        }
        plan.roles = table(
            diff,
            "role",
            &imported.roles,
            |r| &r.id,
            &ordinals.roles,
            |rows: &mut BodyRows, position, role| {
                rows.bodies.push(json("policy.roles", role)?);
                rows.ids.push(role.id.clone());
                rows.ordinals.push(position);
                Ok(())
            },
        )?;
        plan.constraints = table(
            diff,
            "constraint",
            &imported.constraints,
            |c| &c.id,
            &ordinals.constraints,
            |rows: &mut BodyRows, position, constraint| {
                rows.bodies.push(json("policy.constraints", constraint)?);
                rows.ids.push(constraint.id.clone());
                rows.ordinals.push(position);
                Ok(())
            },
        )?;
        plan.principals = table(
            diff,
            "principal",
            &imported.principals,
            |p| &p.id,
            &ordinals.principals,
            principal_rows,
        )?;
        plan.bindings = table(
            diff,
            "binding",
            &imported.bindings,
            |b| &b.id,
            &ordinals.bindings,
            binding_rows,
        )?;
        plan.delegations = table(
            diff,
            "delegation",
            &imported.delegations,
            |d| &d.id,
            &ordinals.delegations,
            delegation_rows,
        )?;
        Ok(plan)
    }

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

fn documents_of(policy: &TenantPolicy) -> Result<Documents, StoreError> {
    Ok(Documents {
        entitlements: json("policy.entitlements", &policy.entitlements)?,
        catalog: json("policy.catalog", &policy.catalog)?,
        locked_grants: json("policy.locked_grants", &policy.locked_grants)?,
    })
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

fn principal_rows(
    rows: &mut PrincipalRows,
    position: i32,
    principal: &Principal,
) -> Result<(), StoreError> {
    let field = |what: &str| format!("policy.principals[`{}`].{what}", principal.id);
    rows.ids.push(principal.id.clone());
    rows.ordinals.push(position);
    rows.kinds.push(principal.kind.as_str());
    rows.display_names.push(principal.display_name.clone());
    rows.statuses.push(principal_status(principal.status));
    rows.token_versions
        .push(principal.token_version.to_string());
    rows.attributes
        .push(json(&field("attributes"), &principal.attributes)?);
    for (index, session) in principal.sessions.iter().enumerate() {
        let sessions = &mut rows.sessions;
        sessions.principals.push(principal.id.clone());
        sessions.ids.push(session.id.clone());
        sessions.ordinals.push(ordinal(index)?);
        sessions.revoked.push(session.revoked);
        sessions.expires_at.push(timestamp(
            || field(&format!("sessions[`{}`].expires_at", session.id)),
            session.expires_at,
        )?);
    }
    for (index, key) in principal.api_keys.iter().enumerate() {
        let keys = &mut rows.api_keys;
        keys.principals.push(principal.id.clone());
        keys.ids.push(key.id.clone());
        keys.ordinals.push(ordinal(index)?);
        keys.scopes.push(json(&field("api_keys"), &key.scopes)?);
        keys.expires_at.push(timestamp(
            || field(&format!("api_keys[`{}`].expires_at", key.id)),
            key.expires_at,
        )?);
        keys.revoked.push(key.revoked);
        keys.rate_limits
            .push(key.rate_limit_per_second.map(i64::from));
        keys.secret_hashes.push(key.secret_hash.clone());
    }
    Ok(())
}

fn binding_rows(
    rows: &mut BindingRows,
    position: i32,
    binding: &Binding,
) -> Result<(), StoreError> {
    let field = |what: &str| format!("policy.bindings[`{}`].{what}", binding.id);
    rows.ids.push(binding.id.clone());
    rows.ordinals.push(position);
    rows.principals.push(binding.principal.clone());
    rows.roles.push(binding.role.clone());
    rows.locations
        .push(json(&field("locations"), &binding.locations)?);
    rows.tenants
        .push(json(&field("tenants"), &binding.tenants)?);
    rows.not_before
        .push(timestamp(|| field("not_before"), binding.not_before)?);
    rows.expires_at
        .push(timestamp(|| field("expires_at"), binding.expires_at)?);
    rows.sources.push(binding_source(binding.source));
    rows.reasons.push(binding.reason.clone());
    Ok(())
}

fn delegation_rows(
    rows: &mut DelegationRows,
    position: i32,
    delegation: &Delegation,
) -> Result<(), StoreError> {
    let field = |what: &str| format!("policy.delegations[`{}`].{what}", delegation.id);
    rows.ids.push(delegation.id.clone());
    rows.ordinals.push(position);
    rows.delegators.push(delegation.delegator.clone());
    rows.delegates.push(delegation.delegate.clone());
    rows.permissions
        .push(json(&field("permissions"), &delegation.permissions)?);
    rows.not_before
        .push(timestamp(|| field("not_before"), delegation.not_before)?);
    rows.expires_at
        .push(timestamp(|| field("expires_at"), delegation.expires_at)?);
    rows.revoked.push(delegation.revoked);
    rows.reasons.push(delegation.reason.clone());
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

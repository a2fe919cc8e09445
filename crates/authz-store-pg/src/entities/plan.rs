//! The plan of an import's policy part: which rows of which entity table to write, remove or
//! renumber, made in Rust before anything is written, refusing values Postgres could not give
//! back exactly.

use std::collections::{BTreeSet, HashMap};

use authz_core::TenantPolicy;
use authz_core::model::{Binding, Delegation, Principal};
use authz_store::{ChangeKind, PolicyDiff, StoreError};
use chrono::{DateTime, Utc};

use crate::policy::Ordinals;
use crate::rows::{binding_source, json, ordinal, principal_status, timestamp};

/// What an import writes besides relationships.
#[derive(Debug, Default)]
pub(crate) struct Plan {
    pub(super) tenant: Option<(String, String)>,
    pub(super) documents: Option<Documents>,
    pub(super) roles: Bodies,
    pub(super) constraints: Bodies,
    pub(super) principals: Table<PrincipalRows>,
    pub(super) bindings: Table<BindingRows>,
    pub(super) delegations: Table<DelegationRows>,
}

#[derive(Debug)]
pub(super) struct Documents {
    pub(super) entitlements: String,
    pub(super) catalog: String,
    pub(super) locked_grants: String,
}

/// One entity table's part: ids removed, rows written (added or modified), ids moved.
#[derive(Debug, Default)]
pub(super) struct Table<R> {
    pub(super) removed: Vec<String>,
    pub(super) written: R,
    pub(super) moved_ids: Vec<String>,
    pub(super) moved_ordinals: Vec<i32>,
}

pub(super) type Bodies = Table<BodyRows>;

#[derive(Debug, Default)]
pub(super) struct BodyRows {
    pub(super) ids: Vec<String>,
    pub(super) ordinals: Vec<i32>,
    pub(super) bodies: Vec<String>,
}

#[derive(Debug, Default)]
pub(super) struct PrincipalRows {
    pub(super) ids: Vec<String>,
    pub(super) ordinals: Vec<i32>,
    pub(super) kinds: Vec<&'static str>,
    pub(super) display_names: Vec<String>,
    pub(super) statuses: Vec<&'static str>,
    pub(super) token_versions: Vec<String>,
    pub(super) attributes: Vec<String>,
    pub(super) sessions: SessionRows,
    pub(super) api_keys: ApiKeyRows,
}

#[derive(Debug, Default)]
pub(super) struct SessionRows {
    pub(super) principals: Vec<String>,
    pub(super) ids: Vec<String>,
    pub(super) ordinals: Vec<i32>,
    pub(super) revoked: Vec<bool>,
    pub(super) expires_at: Vec<Option<DateTime<Utc>>>,
}

#[derive(Debug, Default)]
pub(super) struct ApiKeyRows {
    pub(super) principals: Vec<String>,
    pub(super) ids: Vec<String>,
    pub(super) ordinals: Vec<i32>,
    pub(super) scopes: Vec<String>,
    pub(super) expires_at: Vec<Option<DateTime<Utc>>>,
    pub(super) revoked: Vec<bool>,
    pub(super) rate_limits: Vec<Option<i64>>,
    pub(super) secret_hashes: Vec<String>,
}

#[derive(Debug, Default)]
pub(super) struct BindingRows {
    pub(super) ids: Vec<String>,
    pub(super) ordinals: Vec<i32>,
    pub(super) principals: Vec<String>,
    pub(super) roles: Vec<String>,
    pub(super) locations: Vec<String>,
    pub(super) tenants: Vec<String>,
    pub(super) not_before: Vec<Option<DateTime<Utc>>>,
    pub(super) expires_at: Vec<Option<DateTime<Utc>>>,
    pub(super) sources: Vec<&'static str>,
    pub(super) reasons: Vec<String>,
}

#[derive(Debug, Default)]
pub(super) struct DelegationRows {
    pub(super) ids: Vec<String>,
    pub(super) ordinals: Vec<i32>,
    pub(super) delegators: Vec<String>,
    pub(super) delegates: Vec<String>,
    pub(super) permissions: Vec<String>,
    pub(super) not_before: Vec<Option<DateTime<Utc>>>,
    pub(super) expires_at: Vec<Option<DateTime<Utc>>>,
    pub(super) revoked: Vec<bool>,
    pub(super) reasons: Vec<String>,
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
}

pub(super) fn documents_of(policy: &TenantPolicy) -> Result<Documents, StoreError> {
    Ok(Documents {
        entitlements: json("policy.entitlements", &policy.entitlements)?,
        catalog: json("policy.catalog", &policy.catalog)?,
        locked_grants: json("policy.locked_grants", &policy.locked_grants)?,
    })
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

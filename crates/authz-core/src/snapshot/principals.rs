//! Who may act: principals with their sessions and API keys, the bindings that give them roles,
//! and the delegations that let one act for another.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use rustc_hash::FxHashMap;

use cel::common::types::CelString;
use cel::common::value::Val;

use super::catalog::{Catalog, PermSet};
use super::graph::{NamedContainers, NodeKey, SubjectIds};
use super::ids::{UniqueIds, validate_id};
use super::roles::RoleIndex;
use crate::attr::owned_attributes_to_val;
use crate::error::PolicyError;
use crate::model::{
    Binding, BindingSource, Origin, Principal, PrincipalKind, PrincipalStatus, TenantPolicy,
};

#[derive(Debug, Clone, Copy)]
pub(crate) struct Window {
    pub(crate) not_before: i64,
    pub(crate) expires_at: i64,
}

impl Window {
    pub(super) fn new(
        not_before: Option<DateTime<Utc>>,
        expires_at: Option<DateTime<Utc>>,
    ) -> Self {
        Window {
            not_before: not_before.map_or(i64::MIN, |at| at.timestamp_micros()),
            expires_at: expires_at.map_or(i64::MAX, |at| at.timestamp_micros()),
        }
    }

    /// Inclusive start, exclusive end.
    #[inline]
    pub(crate) fn contains(self, now: i64) -> bool {
        self.not_before <= now && now < self.expires_at
    }
}

#[derive(Debug)]
pub(crate) struct CompiledBinding {
    pub(crate) id: Arc<str>,
    pub(crate) role: u32,
    /// Containers the binding is limited to; `None` is tenant-wide.
    pub(crate) locations: Option<Box<[NodeKey]>>,
    pub(crate) window: Window,
    pub(crate) source: BindingSource,
}

#[derive(Debug)]
pub(crate) struct SessionEntry {
    pub(crate) revoked: bool,
    pub(crate) expires_at: i64,
}

#[derive(Debug)]
pub(crate) struct ApiKeyEntry {
    pub(crate) scopes: PermSet,
    pub(crate) revoked: bool,
    pub(crate) expires_at: i64,
}

#[derive(Debug)]
pub(crate) struct CompiledPrincipal {
    pub(crate) id: Arc<str>,
    /// [`Origin::Platform`] for platform staff (and, in the platform tenant's own snapshot, for
    /// every principal: see `compile_any`).
    pub(crate) origin: Origin,
    pub(crate) kind: PrincipalKind,
    pub(crate) status: PrincipalStatus,
    pub(crate) token_version: u64,
    /// `principal` as conditions see it: attributes plus `id` and `type`.
    pub(crate) cel: Box<dyn Val>,
    pub(crate) sessions: FxHashMap<Box<str>, SessionEntry>,
    pub(crate) api_keys: FxHashMap<Box<str>, ApiKeyEntry>,
    pub(crate) bindings: Vec<CompiledBinding>,
}

#[derive(Debug)]
pub(crate) struct CompiledDelegation {
    pub(crate) id: Arc<str>,
    pub(crate) delegator: Arc<str>,
    pub(crate) perms: PermSet,
    pub(crate) window: Window,
}

/// Principals by id.
pub(super) type Directory = FxHashMap<Box<str>, CompiledPrincipal>;

/// Every principal of the policy, without bindings yet. Each id is the `Arc<str>` the resource
/// graph stores the principal's relations under (`subjects`).
pub(super) fn compile_principals(
    policy: &TenantPolicy,
    catalog: &Catalog<'_>,
    origin: Origin,
    subjects: &mut SubjectIds,
) -> Result<Directory, PolicyError> {
    let mut ids = UniqueIds::new("principal");
    let mut principals = Directory::default();
    for principal in &policy.principals {
        ids.claim(&principal.id)?;
        let id = subjects.share(&principal.id);
        let compiled = compile_principal(principal, id, catalog, origin)?;
        principals.insert(principal.id.as_str().into(), compiled);
    }
    Ok(principals)
}

/// The key scopes of platform staff name permissions of every tenant's catalog: what this
/// tenant lacks is skipped rather than rejected ([`Origin::lenient`]). The caller has checked
/// the id; `id` is the principal's id as the snapshot shares it.
pub(super) fn compile_principal(
    principal: &Principal,
    id: Arc<str>,
    catalog: &Catalog<'_>,
    origin: Origin,
) -> Result<CompiledPrincipal, PolicyError> {
    let mut session_ids = UniqueIds::new("session");
    let mut sessions = FxHashMap::default();
    for session in &principal.sessions {
        session_ids.claim(&session.id)?;
        let entry = SessionEntry {
            revoked: session.revoked,
            expires_at: session
                .expires_at
                .map_or(i64::MAX, |at| at.timestamp_micros()),
        };
        sessions.insert(session.id.as_str().into(), entry);
    }
    let mut key_ids = UniqueIds::new("api key");
    let mut api_keys = FxHashMap::default();
    for key in &principal.api_keys {
        key_ids.claim(&key.id)?;
        let location = format!("api key `{}`", key.id);
        let entry = ApiKeyEntry {
            scopes: catalog.perm_set(&key.scopes, &location, origin.lenient())?,
            revoked: key.revoked,
            expires_at: key.expires_at.map_or(i64::MAX, |at| at.timestamp_micros()),
        };
        api_keys.insert(key.id.as_str().into(), entry);
    }
    let cel = owned_attributes_to_val(
        &principal.attributes,
        [
            (
                "id",
                Box::new(CelString::from(principal.id.clone())) as Box<dyn Val>,
            ),
            ("type", Box::new(CelString::from(principal.kind.as_str()))),
        ],
    );
    Ok(CompiledPrincipal {
        id,
        origin,
        kind: principal.kind,
        status: principal.status,
        token_version: principal.token_version,
        cel,
        sessions,
        api_keys,
        bindings: Vec::new(),
    })
}

fn compile_window(
    what: &'static str,
    id: &str,
    not_before: Option<DateTime<Utc>>,
    expires_at: Option<DateTime<Utc>>,
) -> Result<Window, PolicyError> {
    if let (Some(start), Some(end)) = (not_before, expires_at)
        && end <= start
    {
        return Err(PolicyError::EmptyWindow {
            what,
            id: id.to_owned(),
        });
    }
    Ok(Window::new(not_before, expires_at))
}

/// Gives each principal the bindings that name it. Only the platform's bindings may list
/// tenants.
pub(super) fn compile_bindings(
    policy: &TenantPolicy,
    catalog: &Catalog<'_>,
    role_index: &RoleIndex<'_>,
    named: &mut NamedContainers,
    principals: &mut Directory,
    origin: Origin,
) -> Result<(), PolicyError> {
    let mut ids = UniqueIds::new("binding");
    for binding in &policy.bindings {
        ids.claim(&binding.id)?;
        if !binding.tenants.is_empty() && origin != Origin::Platform {
            return Err(PolicyError::TenantsOnTenantBinding(binding.id.clone()));
        }
        let location = format!("binding `{}`", binding.id);
        let role = *role_index.get(binding.role.as_str()).ok_or_else(|| {
            PolicyError::UnknownReference {
                location: location.clone(),
                what: "role",
                id: binding.role.clone(),
            }
        })?;
        let window = compile_window(
            "binding",
            &binding.id,
            binding.not_before,
            binding.expires_at,
        )?;
        let locations = binding_locations(binding, catalog, named)?;
        let principal = principals
            .get_mut(binding.principal.as_str())
            .ok_or_else(|| PolicyError::UnknownReference {
                location,
                what: "principal",
                id: binding.principal.clone(),
            })?;
        principal.bindings.push(CompiledBinding {
            id: Arc::from(binding.id.as_str()),
            role: role as u32,
            locations,
            window,
            source: binding.source,
        });
    }
    Ok(())
}

/// The containers a binding is limited to; `None` when it names none (tenant-wide).
fn binding_locations(
    binding: &Binding,
    catalog: &Catalog<'_>,
    named: &mut NamedContainers,
) -> Result<Option<Box<[NodeKey]>>, PolicyError> {
    if binding.locations.is_empty() {
        return Ok(None);
    }
    let mut ids = Vec::with_capacity(binding.locations.len());
    for container in &binding.locations {
        let (type_id, id) =
            catalog
                .container_ref(container)
                .ok_or_else(|| PolicyError::BindingLocation {
                    binding: binding.id.clone(),
                    location: container.clone(),
                })?;
        validate_id("location", id)?;
        ids.push(named.name(type_id, id));
    }
    Ok(Some(ids.into_boxed_slice()))
}

/// Active delegations, by delegate.
pub(super) fn compile_delegations(
    policy: &TenantPolicy,
    catalog: &Catalog<'_>,
    principals: &Directory,
) -> Result<FxHashMap<Box<str>, Vec<CompiledDelegation>>, PolicyError> {
    let mut delegations: FxHashMap<Box<str>, Vec<CompiledDelegation>> = FxHashMap::default();
    let mut ids = UniqueIds::new("delegation");
    for delegation in &policy.delegations {
        ids.claim(&delegation.id)?;
        let location = format!("delegation `{}`", delegation.id);
        for party in [&delegation.delegator, &delegation.delegate] {
            if !principals.contains_key(party.as_str()) {
                return Err(PolicyError::UnknownReference {
                    location: location.clone(),
                    what: "principal",
                    id: party.clone(),
                });
            }
        }
        if delegation.revoked {
            continue;
        }
        let window = compile_window(
            "delegation",
            &delegation.id,
            delegation.not_before,
            delegation.expires_at,
        )?;
        delegations
            .entry(delegation.delegate.as_str().into())
            .or_default()
            .push(CompiledDelegation {
                id: Arc::from(delegation.id.as_str()),
                delegator: Arc::from(delegation.delegator.as_str()),
                perms: catalog.perm_set(&delegation.permissions, &location, false)?,
                window,
            });
    }
    Ok(delegations)
}

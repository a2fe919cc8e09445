//! Compiling a [`TenantPolicy`] into an immutable [`Snapshot`] optimised for checks.
//!
//! Everything a check would otherwise compute is resolved here, once per policy revision:
//! permission names become dense integer ids, each role carries a permission bitset and its
//! grants indexed by permission (inheritance, removals and locked grants already applied),
//! conditions are compiled, constraints are indexed by permission, entitlements are folded
//! into each permission, and every resource's container closure and inherited relations are
//! precomputed so a check never walks a graph.
//!
//! One module per concern, in the order [`compile_any`] runs them: `catalog`, `roles`, `graph`
//! (relationships), `principals` (with sessions, keys, bindings and delegations),
//! `constraints`, then `platform` (platform staff reaching the tenant); `ids` applies the id
//! rule ([`crate::limits::check_id`]) and the duplicate check they all share.

mod catalog;
mod constraints;
mod graph;
mod ids;
mod platform;
mod principals;
mod roles;

use std::collections::BTreeMap;
use std::sync::Arc;

use rustc_hash::FxHashMap;

use cel::common::types::CelString;
use cel::common::value::Val;

pub(crate) use catalog::{PermId, RelationId};
pub(crate) use graph::{NodeId, ResourceFacts};
pub(crate) use principals::{CompiledBinding, CompiledPrincipal};
pub(crate) use roles::{CompiledGrant, Scope, all_full};

use crate::attr::owned_attributes_to_val;
use crate::condition::Condition;
use crate::error::PolicyError;
use crate::model::{Origin, PLATFORM_TENANT_ID, Tenant, TenantPolicy, TenantStatus};
use catalog::{PermissionEntry, ResourceTypeEntry, compile_catalog};
use constraints::{CompiledConstraint, compile_constraints};
use graph::{NodeTable, compile_relationships};
use ids::validate_id;
use principals::{CompiledDelegation, compile_bindings, compile_delegations, compile_principals};
use roles::{CompiledRole, RoleCompiler, check_custom_role_limit};

/// The immutable, compiled form of one tenant's policy. Cheap to share behind an `Arc`;
/// replaced wholesale when the policy changes.
pub struct Snapshot {
    pub(crate) tenant_id: Arc<str>,
    pub(crate) tenant_status: TenantStatus,
    pub(crate) revision: u64,
    pub(crate) env: Arc<cel::Env>,
    /// `tenant` as conditions see it: `id`, `name`, `time_zone`.
    pub(crate) tenant_cel: Box<dyn Val>,
    pub(crate) types: Vec<ResourceTypeEntry>,
    pub(crate) type_index: FxHashMap<Box<str>, u32>,
    pub(crate) perms: Vec<PermissionEntry>,
    pub(crate) roles: Vec<CompiledRole>,
    pub(crate) principals: FxHashMap<Box<str>, CompiledPrincipal>,
    pub(crate) platform_principals: FxHashMap<Box<str>, CompiledPrincipal>,
    pub(crate) constraints: Vec<CompiledConstraint>,
    /// Constraint indexes per permission id.
    pub(crate) constraints_by_perm: Vec<Vec<u32>>,
    /// Resource nodes per resource type index, by resource id.
    pub(crate) nodes: Vec<FxHashMap<Box<str>, NodeId>>,
    pub(crate) facts: Vec<ResourceFacts>,
    /// Delegations by delegate id.
    pub(crate) delegations: FxHashMap<Box<str>, Vec<CompiledDelegation>>,
}

impl std::fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Snapshot")
            .field("tenant_id", &self.tenant_id)
            .field("revision", &self.revision)
            .field("permissions", &self.perms.len())
            .field("roles", &self.roles.len())
            .field("principals", &self.principals.len())
            .finish_non_exhaustive()
    }
}

impl Snapshot {
    pub fn tenant_id(&self) -> &str {
        &self.tenant_id
    }

    pub fn revision(&self) -> u64 {
        self.revision
    }

    /// Every permission name in the catalog, in id order.
    pub fn permission_names(&self) -> impl Iterator<Item = &str> {
        self.perms.iter().map(|perm| &*perm.name)
    }

    /// Compiles `policy` at `revision`. `platform` is the platform tenant's policy, whose
    /// bindings reach this tenant through its platform roles.
    pub fn compile(
        policy: &TenantPolicy,
        platform: Option<&TenantPolicy>,
        revision: u64,
    ) -> Result<Snapshot, PolicyError> {
        if policy.tenant.id == PLATFORM_TENANT_ID {
            return Err(PolicyError::ReservedTenant(policy.tenant.id.clone()));
        }
        compile_any(policy, platform, revision)
    }

    /// Compiles the platform tenant's own policy (its own catalog: tenants, onboarding…).
    pub fn compile_platform(policy: &TenantPolicy, revision: u64) -> Result<Snapshot, PolicyError> {
        if policy.tenant.id != PLATFORM_TENANT_ID {
            return Err(PolicyError::InvalidId {
                what: "platform tenant",
                id: policy.tenant.id.clone(),
                why: "the platform policy must use the reserved id `platform`".into(),
            });
        }
        compile_any(policy, None, revision)
    }
}

/// Compiles an optional condition, naming `location` (the role or constraint) in the error.
fn compile_condition(
    env: &cel::Env,
    source: Option<&str>,
    location: &str,
) -> Result<Option<Arc<Condition>>, PolicyError> {
    source
        .map(|source| {
            Condition::compile(env, source)
                .map(Arc::new)
                .map_err(|error| PolicyError::Condition {
                    location: location.to_owned(),
                    source_text: source.to_owned(),
                    error,
                })
        })
        .transpose()
}

fn compile_any(
    policy: &TenantPolicy,
    platform: Option<&TenantPolicy>,
    revision: u64,
) -> Result<Snapshot, PolicyError> {
    let tenant = &policy.tenant;
    validate_id("tenant", &tenant.id)?;
    if tenant.time_zone.parse::<chrono_tz::Tz>().is_err() {
        return Err(PolicyError::UnknownTimeZone(tenant.time_zone.clone()));
    }
    let origin = Origin::of_tenant(&tenant.id);
    let catalog = compile_catalog(policy)?;
    let env = Arc::new(crate::condition::environment());

    // The platform's roles name permissions of the tenants' catalogs, not only its own: they
    // are checked leniently here and resolved against each tenant as it compiles.
    let (mut roles, role_index) =
        RoleCompiler::new(policy, &catalog, &env, origin)?.compile_all()?;
    check_custom_role_limit(policy)?;

    let mut nodes = NodeTable::new(catalog.types.len());
    compile_relationships(policy, &catalog, &mut nodes)?;

    // The platform tenant's own principals take its origin too: their key scopes may name any
    // tenant's permissions. It also means no relation ever holds for them in the platform's
    // own snapshot (`Evaluation::holds_relation`).
    let mut principals = compile_principals(policy, &catalog, origin)?;
    compile_bindings(
        policy,
        &catalog,
        &role_index,
        &mut nodes,
        &mut principals,
        origin,
    )?;
    let constraints = compile_constraints(policy, &catalog, &env)?;
    let delegations = compile_delegations(policy, &catalog, &principals)?;
    let platform_principals = match platform {
        Some(platform) => {
            platform::platform_staff(platform, &tenant.id, &catalog, &env, &mut nodes, &mut roles)?
        }
        None => FxHashMap::default(),
    };

    let (nodes, facts) = nodes.into_facts();
    Ok(Snapshot {
        tenant_id: Arc::from(tenant.id.as_str()),
        tenant_status: tenant.status,
        revision,
        tenant_cel: tenant_cel(tenant),
        env,
        types: catalog.types,
        type_index: catalog.type_index,
        perms: catalog.perms,
        roles,
        principals,
        platform_principals,
        constraints: constraints.all,
        constraints_by_perm: constraints.by_perm,
        nodes,
        facts,
        delegations,
    })
}

/// `tenant` as conditions see it.
fn tenant_cel(tenant: &Tenant) -> Box<dyn Val> {
    owned_attributes_to_val(
        &BTreeMap::new(),
        [
            (
                "id",
                Box::new(CelString::from(tenant.id.clone())) as Box<dyn Val>,
            ),
            ("name", Box::new(CelString::from(tenant.name.clone()))),
            (
                "time_zone",
                Box::new(CelString::from(tenant.time_zone.clone())),
            ),
        ],
    )
}

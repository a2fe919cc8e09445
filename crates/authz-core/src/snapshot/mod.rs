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

//! Compiling a [`TenantPolicy`] into an immutable [`Snapshot`] optimised for checks, and
//! patching a snapshot with relationship writes or a new policy without recompiling the rest.
//!
//! A snapshot is two parts. The *policy* part ([`CompiledPolicy`], shared behind an `Arc`) is
//! everything but relationships, resolved once per policy revision: permission names become
//! dense integer ids, each role carries a permission bitset and its grants indexed by
//! permission (inheritance, removals and locked grants already applied), conditions are
//! compiled, constraints are indexed by permission, entitlements are folded into each
//! permission. The *graph* ([`graph::ResourceGraph`]) holds the relationships as edges in
//! copy-on-write shards: [`Snapshot::with_relationships`] clones only the shards a write
//! touches, and [`Snapshot::with_policy`] recompiles the policy part and keeps the graph. A
//! check walks a resource's containers up the graph, bounded (see `graph`).
//!
//! One module per concern, in the order [`compile_parts`] runs them: `catalog`, `roles`,
//! `graph` (relationships), `principals` (with sessions, keys, bindings and delegations),
//! `constraints`, then `platform` (platform staff reaching the tenant); `ids` applies the id
//! rule ([`crate::limits::check_id`]) and the duplicate check they all share.

mod catalog;
mod constraints;
mod graph;
mod ids;
mod platform;
mod principals;
mod roles;

use std::borrow::Borrow;
use std::collections::BTreeMap;
use std::sync::Arc;

use rustc_hash::FxHashMap;

use cel::common::types::CelString;
use cel::common::value::Val;

pub(crate) use catalog::{PermId, RelationId};
pub(crate) use graph::{Ancestry, NodeFacts};
pub(crate) use principals::{CompiledBinding, CompiledPrincipal};
pub(crate) use roles::{CompiledGrant, Scope, all_full};

use crate::attr::owned_attributes_to_val;
use crate::condition::Condition;
use crate::error::PolicyError;
use crate::model::{Origin, PLATFORM_TENANT_ID, Relationship, Tenant, TenantPolicy, TenantStatus};
use catalog::{PermissionEntry, ResourceTypeEntry, compile_catalog};
use constraints::{CompiledConstraint, compile_constraints};
use graph::{GraphSchema, NamedContainers, ResourceGraph, SubjectIds};
use ids::validate_id;
use principals::{CompiledDelegation, compile_bindings, compile_delegations, compile_principals};
use roles::{CompiledRole, RoleCompiler, check_custom_role_limit};

/// The immutable, compiled form of one tenant's policy and relationships. Cheap to share
/// behind an `Arc`; patched into a new snapshot by [`Snapshot::with_relationships`] and
/// [`Snapshot::with_policy`], which share what did not change with this one.
pub struct Snapshot {
    pub(crate) policy: Arc<CompiledPolicy>,
    pub(crate) graph: ResourceGraph,
    pub(crate) revision: u64,
}

/// Everything of a compiled snapshot but the relationships: shared, unchanged, by every
/// snapshot patched with relationship writes.
pub(crate) struct CompiledPolicy {
    pub(crate) tenant_id: Arc<str>,
    pub(crate) tenant_status: TenantStatus,
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
    /// Delegations by delegate id.
    pub(crate) delegations: FxHashMap<Box<str>, Vec<CompiledDelegation>>,
    /// How relationships are read: the catalog's relation definitions, type and relation ids.
    pub(crate) schema: GraphSchema,
    /// Containers named by some binding's locations (the tenant's or the platform's).
    pub(crate) named_containers: NamedContainers,
}

/// One relationship write, as [`Snapshot::with_relationships`] applies it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelationshipChange<'a> {
    /// Adds the relationship; touching one the snapshot has already is a no-op.
    Touch(&'a Relationship),
    /// Removes the relationship; deleting one the snapshot lacks is a no-op.
    Delete(&'a Relationship),
}

/// What one snapshot shares with another ([`Snapshot::sharing_with`]): structural sharing is
/// what keeps a relationship write cheap, and this is how tests and metrics see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sharing {
    /// Both use the same compiled policy part.
    pub policy: bool,
    /// How many shards this snapshot's relationship graph has.
    pub graph_shards: usize,
    /// How many of them are the other snapshot's, not copies.
    pub shared_graph_shards: usize,
}

impl std::fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Snapshot")
            .field("tenant_id", &self.policy.tenant_id)
            .field("revision", &self.revision)
            .field("permissions", &self.policy.perms.len())
            .field("roles", &self.policy.roles.len())
            .field("principals", &self.policy.principals.len())
            .field("graph", &self.graph)
            .finish_non_exhaustive()
    }
}

impl Snapshot {
    pub fn tenant_id(&self) -> &str {
        &self.policy.tenant_id
    }

    pub fn revision(&self) -> u64 {
        self.revision
    }

    /// Every permission name in the catalog, in id order.
    pub fn permission_names(&self) -> impl Iterator<Item = &str> {
        self.policy.perms.iter().map(|perm| &*perm.name)
    }

    /// How many resources and containers the relationships name.
    pub fn resource_count(&self) -> usize {
        self.graph.node_count()
    }

    /// What this snapshot shares with `other` (compared shard by shard).
    pub fn sharing_with(&self, other: &Snapshot) -> Sharing {
        let shards = self.graph.shards();
        let theirs = other.graph.shards();
        Sharing {
            policy: Arc::ptr_eq(&self.policy, &other.policy),
            graph_shards: shards.len(),
            shared_graph_shards: if shards.len() == theirs.len() {
                shards
                    .iter()
                    .zip(theirs)
                    .filter(|(a, b)| Arc::ptr_eq(a, b))
                    .count()
            } else {
                0
            },
        }
    }

    /// Compiles `policy` at `revision`. `platform` is the platform tenant's policy, whose
    /// bindings reach this tenant through its platform roles.
    pub fn compile(
        policy: &TenantPolicy,
        platform: Option<&TenantPolicy>,
        revision: u64,
    ) -> Result<Snapshot, PolicyError> {
        Snapshot::compile_with_relationships(policy, platform, &[] as &[Relationship], revision)
    }

    /// [`Snapshot::compile`] with `relationships` added to the policy's own, read one at a time:
    /// a tenant's relationships can be streamed from a store (owned or borrowed) instead of
    /// collected into [`TenantPolicy::relationships`] first. The cold load of a large tenant.
    pub fn compile_with_relationships<I>(
        policy: &TenantPolicy,
        platform: Option<&TenantPolicy>,
        relationships: I,
        revision: u64,
    ) -> Result<Snapshot, PolicyError>
    where
        I: IntoIterator,
        I::Item: Borrow<Relationship>,
    {
        if policy.tenant.id == PLATFORM_TENANT_ID {
            return Err(PolicyError::ReservedTenant(policy.tenant.id.clone()));
        }
        compile_any(policy, platform, relationships, revision)
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
        compile_any(policy, None, &[] as &[Relationship], revision)
    }

    /// This snapshot with `changes` applied, in order, at `revision`. Each relationship is
    /// checked against the catalog ([`crate::relationship_rules::check_relationship`]); the
    /// first that does not fit is refused, naming it, and this snapshot is left as it was.
    /// Touching a relationship the snapshot has, or deleting one it lacks, changes nothing; a
    /// resource or container nothing names any more is forgotten.
    ///
    /// The result shares this snapshot's compiled policy and every shard of its graph that no
    /// change touched: a write costs the copy of one or two shards (a few hundred nodes),
    /// whatever the tenant's size.
    pub fn with_relationships<'a>(
        &self,
        changes: impl IntoIterator<Item = RelationshipChange<'a>>,
        revision: u64,
    ) -> Result<Snapshot, PolicyError> {
        let policy = &self.policy;
        let mut graph = self.graph.clone();
        let mut share = |id: &str| policy.subject_id(id);
        for change in changes {
            match change {
                RelationshipChange::Touch(relationship) => {
                    graph.touch(policy.schema.edge(relationship)?, &mut share);
                }
                RelationshipChange::Delete(relationship) => {
                    graph.delete(policy.schema.edge(relationship)?);
                }
            }
        }
        graph.rebalance();
        Ok(Snapshot {
            policy: Arc::clone(policy),
            graph,
            revision,
        })
    }

    /// This snapshot's relationships under `policy` (whose own relationships are ignored) at
    /// `revision`: the policy part is compiled as [`Snapshot::compile`] would (`platform` as
    /// there; ignored for the platform tenant's own snapshot) and the relationship graph is
    /// kept, shard for shard, when the catalog gives its types and relations the same ids and
    /// targets. When it does not (a catalog change: a type or relation added, removed or
    /// repointed), the graph is rebuilt under the new ids, and a relationship that no longer
    /// fits the catalog is refused, naming it.
    pub fn with_policy(
        &self,
        policy: &TenantPolicy,
        platform: Option<&TenantPolicy>,
        revision: u64,
    ) -> Result<Snapshot, PolicyError> {
        if *policy.tenant.id != *self.policy.tenant_id {
            return Err(PolicyError::OtherTenant {
                snapshot: self.policy.tenant_id.to_string(),
                policy: policy.tenant.id.clone(),
            });
        }
        let platform = platform.filter(|_| policy.tenant.id != PLATFORM_TENANT_ID);
        // The principals keep the ids the graph's subjects share.
        let mut subjects = SubjectIds::from_ids(self.policy.principals.values().map(|p| &p.id));
        let (compiled, _) = compile_parts(
            policy,
            platform,
            |schema, _| Ok(ResourceGraph::new(schema.types())),
            &mut subjects,
        )?;
        let graph = if compiled.schema.reads_like(&self.policy.schema) {
            self.graph.clone()
        } else {
            let relationships = self.graph.relationships(&self.policy.schema);
            ResourceGraph::build(&compiled.schema, &relationships, &mut subjects)?
        };
        Ok(Snapshot {
            policy: Arc::new(compiled),
            graph,
            revision,
        })
    }
}

impl CompiledPolicy {
    /// The `Arc<str>` a relationship's subject is stored as: the principal's own id when the
    /// tenant has such a principal.
    fn subject_id(&self, id: &str) -> Arc<str> {
        self.principals
            .get(id)
            .map_or_else(|| Arc::from(id), |principal| Arc::clone(&principal.id))
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

fn compile_any<I>(
    policy: &TenantPolicy,
    platform: Option<&TenantPolicy>,
    relationships: I,
    revision: u64,
) -> Result<Snapshot, PolicyError>
where
    I: IntoIterator,
    I::Item: Borrow<Relationship>,
{
    let (compiled, graph) = compile_parts(
        policy,
        platform,
        |schema, subjects| {
            let mut graph = ResourceGraph::new(schema.types());
            graph.extend(schema, &policy.relationships, subjects)?;
            graph.extend(schema, relationships, subjects)?;
            graph.rebalance();
            Ok(graph)
        },
        &mut SubjectIds::default(),
    )?;
    Ok(Snapshot {
        policy: Arc::new(compiled),
        graph,
        revision,
    })
}

/// The policy part of `policy`, and the graph `graph` builds where relationships have always
/// been compiled (so a policy with several faults reports the same one first).
fn compile_parts(
    policy: &TenantPolicy,
    platform: Option<&TenantPolicy>,
    graph: impl FnOnce(&GraphSchema, &mut SubjectIds) -> Result<ResourceGraph, PolicyError>,
    subjects: &mut SubjectIds,
) -> Result<(CompiledPolicy, ResourceGraph), PolicyError> {
    let tenant = &policy.tenant;
    validate_id("tenant", &tenant.id)?;
    if tenant.time_zone.parse::<chrono_tz::Tz>().is_err() {
        return Err(PolicyError::UnknownTimeZone(tenant.time_zone.clone()));
    }
    let origin = Origin::of_tenant(&tenant.id);
    let catalog = compile_catalog(policy)?;
    let schema = GraphSchema::new(policy, &catalog);
    let env = Arc::new(crate::condition::environment());

    // The platform's roles name permissions of the tenants' catalogs, not only its own: they
    // are checked leniently here and resolved against each tenant as it compiles.
    let (mut roles, role_index) =
        RoleCompiler::new(policy, &catalog, &env, origin)?.compile_all()?;
    check_custom_role_limit(policy)?;

    let graph = graph(&schema, subjects)?;

    // The platform tenant's own principals take its origin too: their key scopes may name any
    // tenant's permissions. It also means no relation ever holds for them in the platform's
    // own snapshot (`Evaluation::holds_relation`).
    let mut principals = compile_principals(policy, &catalog, origin, subjects)?;
    let mut named_containers = NamedContainers::new(catalog.types.len());
    compile_bindings(
        policy,
        &catalog,
        &role_index,
        &mut named_containers,
        &mut principals,
        origin,
    )?;
    let constraints = compile_constraints(policy, &catalog, &env)?;
    let delegations = compile_delegations(policy, &catalog, &principals)?;
    let platform_principals = match platform {
        Some(platform) => platform::platform_staff(
            platform,
            &tenant.id,
            &catalog,
            &env,
            &mut named_containers,
            &mut roles,
        )?,
        None => FxHashMap::default(),
    };

    let compiled = CompiledPolicy {
        tenant_id: Arc::from(tenant.id.as_str()),
        tenant_status: tenant.status,
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
        delegations,
        schema,
        named_containers,
    };
    Ok((compiled, graph))
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

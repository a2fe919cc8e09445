//! The resource graph: a tenant's relationships as edges between resources (and containers),
//! held so that one relationship write patches a snapshot instead of rebuilding it.
//!
//! # Edges only: the closure is walked at check time
//!
//! Each node keeps its *direct* container parents and the relations principals hold on it
//! *directly*; nothing inherited is stored. Precomputing every resource's container closure
//! and inherited relations made a check a lookup, but turned a write into a rebuild: one
//! `location:north#parent@region:west` changes what every patient, document and claim in
//! `north` inherits, and a tenant with a million relationships cannot pay that for each write.
//! With edges only, a write changes one or two nodes ([`ResourceGraph::touch`],
//! [`ResourceGraph::delete`]), and a check walks up its resource's containers
//! ([`ResourceGraph::ancestry`]) lazily, only when a `location` or `related:` scope, a
//! location-bound binding or a `when_related` constraint needs them.
//!
//! # What bounds the walk
//!
//! The walk is breadth first (nearest containers first) into a fixed array of
//! [`MAX_ANCESTORS`] entries that doubles as its queue: no allocation, and each container is
//! visited once, so a containment cycle ends it. Real tenants nest a few levels (region ⊃
//! location ⊃ patient ⊃ document). Past the bound the ancestry is *truncated*: grants use only
//! what was seen (so they can only allow less), and a `when_related` forbid constraint whose
//! relation was not found among what was seen applies (fail closed).
//!
//! # Sharing between snapshots
//!
//! Nodes live in a power-of-two number of shards of about [`NODES_PER_SHARD`] nodes (one for a
//! small tenant), each behind an `Arc`: a patched snapshot clones only the shards a change
//! touches and shares the others with the snapshot it came from. When a tenant grows past
//! twice its shards' target (or shrinks to an eighth of it) the shards are rebuilt
//! ([`ResourceGraph::rebalance`]). Keys are looked up by `(type id, &str)` without allocating;
//! ids are `Arc<str>` shared with the parent node's key (for container parents) and with the
//! compiled principal's id (for subjects).

use std::borrow::Borrow;
use std::hash::Hasher;
use std::sync::Arc;

use rustc_hash::{FxHashMap, FxHashSet, FxHasher};

use super::catalog::{Catalog, RelationId};
use super::ids::validate_id;
use crate::error::PolicyError;
use crate::model::{self, PrincipalKind, Relationship, TenantPolicy};
use crate::relationship_rules::check_relationship;

/// Most containers a check walks up from its resource (see the module docs).
pub(crate) const MAX_ANCESTORS: usize = 32;

/// About how many nodes one shard holds.
pub(crate) const NODES_PER_SHARD: usize = 512;

/// A resource or container: its type id and its id.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct NodeKey {
    pub(crate) type_id: u32,
    pub(crate) id: Arc<str>,
}

impl NodeKey {
    #[inline]
    pub(crate) fn is(&self, type_id: u32, id: &str) -> bool {
        self.type_id == type_id && *self.id == *id
    }
}

/// What the relationships say of one node, directly.
#[derive(Debug, Clone, Default)]
pub(crate) struct NodeFacts {
    /// The containers it sits in, with the relation that puts it there; sorted.
    parents: Box<[(RelationId, NodeKey)]>,
    /// Relations principals hold on it; sorted.
    subjects: Box<[(RelationId, PrincipalKind, Arc<str>)]>,
    /// How many parent edges point at it.
    children: u32,
}

impl NodeFacts {
    #[inline]
    pub(crate) fn has_parents(&self) -> bool {
        !self.parents.is_empty()
    }

    /// The containers it sits in directly.
    #[inline]
    pub(crate) fn parents(&self) -> impl Iterator<Item = &NodeKey> {
        self.parents.iter().map(|(_, parent)| parent)
    }

    /// Whether principal `kind:id` holds `relation` on this node itself.
    #[inline]
    pub(crate) fn holds(&self, relation: RelationId, kind: PrincipalKind, id: &str) -> bool {
        self.subject_at(relation, kind, id).is_ok()
    }

    #[inline]
    fn subject_at(
        &self,
        relation: RelationId,
        kind: PrincipalKind,
        id: &str,
    ) -> Result<usize, usize> {
        self.subjects.binary_search_by(|(held, by, subject)| {
            (*held, *by, &**subject).cmp(&(relation, kind, id))
        })
    }

    fn parent_at(&self, relation: RelationId, (type_id, id): (u32, &str)) -> Result<usize, usize> {
        self.parents.binary_search_by(|(held, parent)| {
            (*held, parent.type_id, &*parent.id).cmp(&(relation, type_id, id))
        })
    }

    /// A node nothing names any more leaves the graph.
    fn is_unused(&self) -> bool {
        self.parents.is_empty() && self.subjects.is_empty() && self.children == 0
    }
}

/// `slice` with `item` inserted at `at`, in one allocation.
fn inserted<T>(slice: &mut Box<[T]>, at: usize, item: T) {
    let mut items = std::mem::take(slice).into_vec();
    items.reserve_exact(1);
    items.insert(at, item);
    *slice = items.into_boxed_slice();
}

fn removed<T>(slice: &mut Box<[T]>, at: usize) {
    let mut items = std::mem::take(slice).into_vec();
    if at < items.len() {
        items.remove(at);
    }
    *slice = items.into_boxed_slice();
}

/// Nodes by type id, then id.
#[derive(Debug, Clone)]
pub(crate) struct Shard {
    by_type: Vec<FxHashMap<Arc<str>, NodeFacts>>,
}

impl Shard {
    fn new(types: usize) -> Shard {
        Shard {
            by_type: (0..types).map(|_| FxHashMap::default()).collect(),
        }
    }
}

/// The shard of `type_id:id` among `1 << bits`.
#[inline]
fn shard_index(bits: u32, type_id: u32, id: &str) -> usize {
    if bits == 0 {
        return 0;
    }
    let mut hasher = FxHasher::default();
    hasher.write_u32(type_id);
    hasher.write(id.as_bytes());
    // The maps inside a shard pick buckets with the low bits of their own hash of `id`: the
    // shard comes from the high bits of a remixed hash, so the two never correlate.
    (hasher.finish().wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - bits)) as usize
}

/// log2 of the shard count for `nodes` nodes: a power of two, about [`NODES_PER_SHARD`] each.
fn bits_for(nodes: usize) -> u32 {
    nodes
        .div_ceil(NODES_PER_SHARD)
        .max(1)
        .next_power_of_two()
        .trailing_zeros()
}

/// One relationship as the graph stores it, its names resolved to ids.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Edge<'r> {
    /// `node` sits in container `parent` (`patient:p1#location@location:north`).
    Parent {
        node: (u32, &'r str),
        relation: RelationId,
        parent: (u32, &'r str),
    },
    /// Principal `kind:subject` holds `relation` on `node` (`patient:p1#assignee@user:rita`).
    Subject {
        node: (u32, &'r str),
        relation: RelationId,
        kind: PrincipalKind,
        subject: &'r str,
    },
}

/// The resources and containers of a tenant and the edges between them.
#[derive(Clone)]
pub(crate) struct ResourceGraph {
    shards: Vec<Arc<Shard>>,
    /// `shards.len() == 1 << bits`.
    bits: u32,
    types: usize,
    nodes: usize,
}

impl std::fmt::Debug for ResourceGraph {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResourceGraph")
            .field("nodes", &self.nodes)
            .field("shards", &self.shards.len())
            .finish_non_exhaustive()
    }
}

/// Gets a `&mut` to the nodes of one type in the shard of `type_id:id`, cloning the shard if
/// another snapshot shares it. A free function so the caller can update the node count while
/// it holds the map.
fn nodes_mut<'g>(
    shards: &'g mut [Arc<Shard>],
    bits: u32,
    type_id: u32,
    id: &str,
) -> Option<&'g mut FxHashMap<Arc<str>, NodeFacts>> {
    let shard = shards.get_mut(shard_index(bits, type_id, id))?;
    Arc::make_mut(shard).by_type.get_mut(type_id as usize)
}

impl ResourceGraph {
    /// An empty graph over `types` resource types.
    pub(crate) fn new(types: usize) -> ResourceGraph {
        ResourceGraph::with_bits(types, 0)
    }

    fn with_bits(types: usize, bits: u32) -> ResourceGraph {
        ResourceGraph {
            shards: (0..1usize << bits)
                .map(|_| Arc::new(Shard::new(types)))
                .collect(),
            bits,
            types,
            nodes: 0,
        }
    }

    /// Builds the graph of `relationships`, each checked against `schema`.
    pub(crate) fn build<I>(
        schema: &GraphSchema,
        relationships: I,
        subjects: &mut SubjectIds,
    ) -> Result<ResourceGraph, PolicyError>
    where
        I: IntoIterator,
        I::Item: Borrow<Relationship>,
    {
        let mut graph = ResourceGraph::new(schema.types());
        graph.extend(schema, relationships, subjects)?;
        graph.rebalance();
        Ok(graph)
    }

    /// Adds `relationships`, each checked against `schema`; the caller rebalances after.
    pub(crate) fn extend<I>(
        &mut self,
        schema: &GraphSchema,
        relationships: I,
        subjects: &mut SubjectIds,
    ) -> Result<(), PolicyError>
    where
        I: IntoIterator,
        I::Item: Borrow<Relationship>,
    {
        for relationship in relationships {
            let edge = schema.edge(relationship.borrow())?;
            self.touch(edge, &mut |id| subjects.share(id));
        }
        Ok(())
    }

    pub(crate) fn node_count(&self) -> usize {
        self.nodes
    }

    pub(crate) fn shards(&self) -> &[Arc<Shard>] {
        &self.shards
    }

    /// The node `type_id:id`, if any relationship names it.
    #[inline(always)]
    pub(crate) fn get(&self, type_id: u32, id: &str) -> Option<&NodeFacts> {
        self.shards
            .get(shard_index(self.bits, type_id, id))?
            .by_type
            .get(type_id as usize)?
            .get(id)
    }

    /// The node `type_id:id`, created if missing.
    fn node_mut(&mut self, (type_id, id): (u32, &str)) -> Option<&mut NodeFacts> {
        let nodes = nodes_mut(&mut self.shards, self.bits, type_id, id)?;
        if !nodes.contains_key(id) {
            nodes.insert(Arc::from(id), NodeFacts::default());
            self.nodes += 1;
        }
        nodes.get_mut(id)
    }

    /// Applies `change` to node `type_id:id` (if it exists), and removes the node if nothing
    /// names it afterwards.
    fn edit(&mut self, (type_id, id): (u32, &str), change: impl FnOnce(&mut NodeFacts)) {
        let Some(nodes) = nodes_mut(&mut self.shards, self.bits, type_id, id) else {
            return;
        };
        let Some(facts) = nodes.get_mut(id) else {
            return;
        };
        change(facts);
        if facts.is_unused() {
            nodes.remove(id);
            self.nodes -= 1;
        }
    }

    /// Counts one more parent edge to container `type_id:id` (created if missing) and returns
    /// its key, for the child to share.
    fn adopt(&mut self, (type_id, id): (u32, &str)) -> Option<NodeKey> {
        let nodes = nodes_mut(&mut self.shards, self.bits, type_id, id)?;
        let id = match nodes.get_key_value(id) {
            Some((key, _)) => Arc::clone(key),
            None => {
                let key: Arc<str> = Arc::from(id);
                nodes.insert(Arc::clone(&key), NodeFacts::default());
                self.nodes += 1;
                key
            }
        };
        if let Some(facts) = nodes.get_mut(&*id) {
            facts.children += 1;
        }
        Some(NodeKey { type_id, id })
    }

    /// Adds `edge`; `false` (and no shard cloned) when the graph already has it. `share` gives
    /// the `Arc<str>` a new subject is stored as.
    pub(crate) fn touch(
        &mut self,
        edge: Edge<'_>,
        share: &mut dyn FnMut(&str) -> Arc<str>,
    ) -> bool {
        match edge {
            Edge::Parent {
                node,
                relation,
                parent,
            } => {
                let present = self.get(node.0, node.1);
                if present.is_some_and(|facts| facts.parent_at(relation, parent).is_ok()) {
                    return false;
                }
                let Some(key) = self.adopt(parent) else {
                    return false;
                };
                let Some(facts) = self.node_mut(node) else {
                    return false;
                };
                if let Err(at) = facts.parent_at(relation, parent) {
                    inserted(&mut facts.parents, at, (relation, key));
                }
                true
            }
            Edge::Subject {
                node,
                relation,
                kind,
                subject,
            } => {
                let present = self.get(node.0, node.1);
                if present.is_some_and(|facts| facts.holds(relation, kind, subject)) {
                    return false;
                }
                let Some(facts) = self.node_mut(node) else {
                    return false;
                };
                if let Err(at) = facts.subject_at(relation, kind, subject) {
                    inserted(&mut facts.subjects, at, (relation, kind, share(subject)));
                }
                true
            }
        }
    }

    /// Removes `edge`, and the nodes nothing names any more; `false` (and no shard cloned)
    /// when the graph does not have it.
    pub(crate) fn delete(&mut self, edge: Edge<'_>) -> bool {
        match edge {
            Edge::Parent {
                node,
                relation,
                parent,
            } => {
                let Some(Ok(at)) = self
                    .get(node.0, node.1)
                    .map(|facts| facts.parent_at(relation, parent))
                else {
                    return false;
                };
                self.edit(node, |facts| removed(&mut facts.parents, at));
                self.edit(parent, |facts| {
                    facts.children = facts.children.saturating_sub(1)
                });
                true
            }
            Edge::Subject {
                node,
                relation,
                kind,
                subject,
            } => {
                let Some(Ok(at)) = self
                    .get(node.0, node.1)
                    .map(|facts| facts.subject_at(relation, kind, subject))
                else {
                    return false;
                };
                self.edit(node, |facts| removed(&mut facts.subjects, at));
                true
            }
        }
    }

    /// Rebuilds the shards when the node count has outgrown twice their target, or shrunk to
    /// an eighth of it: O(nodes), rare, and it keeps a write's cost (one shard cloned) flat.
    pub(crate) fn rebalance(&mut self) {
        let capacity = self.shards.len() * NODES_PER_SHARD;
        let grown = self.nodes > 2 * capacity;
        let shrunk = self.shards.len() > 1 && self.nodes * 8 < capacity;
        if grown || shrunk {
            self.reshard(bits_for(self.nodes));
        }
    }

    fn reshard(&mut self, bits: u32) {
        let mut shards: Vec<Shard> = (0..1usize << bits)
            .map(|_| Shard::new(self.types))
            .collect();
        for shard in std::mem::take(&mut self.shards) {
            for (type_id, nodes) in Arc::unwrap_or_clone(shard).by_type.into_iter().enumerate() {
                for (id, facts) in nodes {
                    let at = shard_index(bits, type_id as u32, &id);
                    if let Some(target) =
                        shards.get_mut(at).and_then(|s| s.by_type.get_mut(type_id))
                    {
                        target.insert(id, facts);
                    }
                }
            }
        }
        self.shards = shards.into_iter().map(Arc::new).collect();
        self.bits = bits;
    }

    /// Every relationship the graph holds, named through `schema` (the one it was built with).
    /// For a catalog change: O(edges), allocating each one.
    pub(crate) fn relationships(&self, schema: &GraphSchema) -> Vec<Relationship> {
        let mut all = Vec::new();
        for shard in &self.shards {
            for (type_id, nodes) in shard.by_type.iter().enumerate() {
                let resource_type = schema.type_name(type_id as u32);
                for (id, facts) in nodes {
                    let relationship =
                        |relation: RelationId, subject_type: &str, subject_id: &str| Relationship {
                            resource_type: resource_type.to_owned(),
                            resource_id: id.to_string(),
                            relation: schema.relation_name(relation).to_owned(),
                            subject_type: subject_type.to_owned(),
                            subject_id: subject_id.to_owned(),
                        };
                    for (relation, parent) in &facts.parents {
                        all.push(relationship(
                            *relation,
                            schema.type_name(parent.type_id),
                            &parent.id,
                        ));
                    }
                    for (relation, kind, subject) in &facts.subjects {
                        all.push(relationship(*relation, kind.as_str(), subject));
                    }
                }
            }
        }
        all
    }

    /// The containers node `type_id:id` sits in, transitively, nearest first, up to
    /// [`MAX_ANCESTORS`] of them. Allocation-free.
    pub(crate) fn ancestry<'g>(
        &'g self,
        type_id: u32,
        id: &str,
        node: &'g NodeFacts,
    ) -> Ancestry<'g> {
        let mut ancestry = Ancestry {
            found: [None; MAX_ANCESTORS],
            len: 0,
            truncated: false,
        };
        // Breadth first, with `found` as the queue: `next` is the first found container whose
        // parents are not yet looked at.
        let mut current = node;
        let mut next = 0;
        loop {
            for (_, parent) in &current.parents {
                // INVARIANT: the resource itself and the containers found are skipped, so a
                // containment cycle ends the walk.
                if parent.is(type_id, id) || ancestry.iter().any(|(seen, _)| seen == parent) {
                    continue;
                }
                let Some(slot) = ancestry.found.get_mut(ancestry.len) else {
                    ancestry.truncated = true;
                    return ancestry;
                };
                // INVARIANT: a container with a child is a node (its `children` keeps it).
                let Some(facts) = self.get(parent.type_id, &parent.id) else {
                    continue;
                };
                *slot = Some((parent, facts));
                ancestry.len += 1;
            }
            match ancestry.found.get(next).copied().flatten() {
                Some((_, facts)) if next < ancestry.len => {
                    current = facts;
                    next += 1;
                }
                _ => return ancestry,
            }
        }
    }
}

/// The containers a resource sits in, as far as a check walked ([`ResourceGraph::ancestry`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ancestry<'g> {
    found: [Option<(&'g NodeKey, &'g NodeFacts)>; MAX_ANCESTORS],
    len: usize,
    truncated: bool,
}

impl<'g> Ancestry<'g> {
    /// No containers.
    pub(crate) const EMPTY: Ancestry<'static> = Ancestry {
        found: [None; MAX_ANCESTORS],
        len: 0,
        truncated: false,
    };

    pub(crate) fn iter(&self) -> impl Iterator<Item = (&'g NodeKey, &'g NodeFacts)> + '_ {
        self.found.iter().take(self.len).flatten().copied()
    }

    /// There were more containers than [`MAX_ANCESTORS`]: [`Ancestry::iter`] misses some.
    pub(crate) fn truncated(&self) -> bool {
        self.truncated
    }
}

/// What a relation points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Container(u32),
    Subject(PrincipalKind),
}

/// What is needed to read a relationship: the model catalog (for
/// [`check_relationship`]) and the type and relation ids the graph is keyed by.
#[derive(Debug)]
pub(crate) struct GraphSchema {
    catalog: model::Catalog,
    type_index: FxHashMap<Box<str>, u32>,
    type_names: Vec<Box<str>>,
    relations: FxHashMap<Box<str>, RelationId>,
    relation_names: Vec<Box<str>>,
    /// Per type id, what each of its relations points at, by relation id.
    targets: Vec<Vec<(RelationId, Target)>>,
    /// Per type id, the container types its resources can sit in, transitively; sorted.
    container_types: Vec<Vec<u32>>,
    /// Per type id, the subject relations its resources can hold through a container: those
    /// of its container types; sorted. A check walks the containers only for these.
    inherited: Vec<Vec<RelationId>>,
}

impl GraphSchema {
    pub(super) fn new(policy: &TenantPolicy, catalog: &Catalog<'_>) -> GraphSchema {
        let mut type_names: Vec<Box<str>> = vec![Box::from(""); catalog.types.len()];
        for (name, id) in &catalog.type_index {
            if let Some(slot) = type_names.get_mut(*id as usize) {
                *slot = name.clone();
            }
        }
        let mut relation_names: Vec<Box<str>> = vec![Box::from(""); catalog.relations.len()];
        for (name, id) in &catalog.relations {
            if let Some(slot) = relation_names.get_mut(*id as usize) {
                *slot = name.clone();
            }
        }
        let mut targets: Vec<Vec<(RelationId, Target)>> = vec![Vec::new(); catalog.types.len()];
        for (type_name, definition) in &policy.catalog.resource_types {
            let Some(type_targets) = catalog
                .type_index
                .get(type_name.as_str())
                .and_then(|id| targets.get_mut(*id as usize))
            else {
                continue;
            };
            for (relation, target) in &definition.relations {
                let Some(relation) = catalog.relations.get(relation.as_str()) else {
                    continue;
                };
                let target = match (&target.container, target.subject) {
                    (Some(container), _) => catalog
                        .type_index
                        .get(container.as_str())
                        .map(|id| Target::Container(*id)),
                    (None, Some(kind)) => Some(Target::Subject(kind)),
                    (None, None) => None,
                };
                type_targets.extend(target.map(|target| (*relation, target)));
            }
            type_targets.sort_unstable_by_key(|(relation, _)| *relation);
        }
        let container_types: Vec<Vec<u32>> = (0..targets.len())
            .map(|type_id| containers_above(&targets, type_id))
            .collect();
        let inherited = container_types
            .iter()
            .map(|containers| {
                let mut held: Vec<RelationId> = containers
                    .iter()
                    .filter_map(|container| targets.get(*container as usize))
                    .flatten()
                    .filter(|(_, target)| matches!(target, Target::Subject(_)))
                    .map(|(relation, _)| *relation)
                    .collect();
                held.sort_unstable();
                held.dedup();
                held
            })
            .collect();
        GraphSchema {
            container_types,
            inherited,
            catalog: policy.catalog.clone(),
            type_index: catalog.type_index.clone(),
            type_names,
            relations: catalog.relations.clone(),
            relation_names,
            targets,
        }
    }

    /// Whether resources of `type_id` can hold `relation` through a container (so a check
    /// must walk their containers to know).
    #[inline]
    pub(crate) fn inherits(&self, type_id: u32, relation: RelationId) -> bool {
        self.inherited
            .get(type_id as usize)
            .is_some_and(|held| held.binary_search(&relation).is_ok())
    }

    /// Whether resources of `type_id` can sit, transitively, in containers of `container`.
    #[inline]
    pub(crate) fn can_sit_in(&self, type_id: u32, container: u32) -> bool {
        self.container_types
            .get(type_id as usize)
            .is_some_and(|types| types.binary_search(&container).is_ok())
    }

    pub(crate) fn types(&self) -> usize {
        self.type_names.len()
    }

    fn type_name(&self, type_id: u32) -> &str {
        self.type_names
            .get(type_id as usize)
            .map_or("", |name| name)
    }

    fn relation_name(&self, relation: RelationId) -> &str {
        self.relation_names
            .get(relation as usize)
            .map_or("", |name| name)
    }

    /// Whether a graph built under `other` reads the same under `self`: the same type and
    /// relation ids, each relation pointing at the same kind of target.
    pub(crate) fn reads_like(&self, other: &GraphSchema) -> bool {
        self.type_names == other.type_names
            && self.relation_names == other.relation_names
            && self.targets == other.targets
    }

    /// `relationship` as a graph edge, or why the catalog refuses it. The rule is
    /// [`check_relationship`], the one every write path applies.
    pub(crate) fn edge<'r>(&self, relationship: &'r Relationship) -> Result<Edge<'r>, PolicyError> {
        let refused = |why: String| PolicyError::Relationship {
            relationship: relationship.to_string(),
            why,
        };
        if let Err(why) = check_relationship(&self.catalog, relationship) {
            // An id that breaks the id rule is refused as any other id of a policy is.
            for part in [
                &relationship.resource_id,
                &relationship.subject_id,
                &relationship.relation,
            ] {
                validate_id("relationship part", part)?;
            }
            return Err(refused(why));
        }
        // INVARIANT: the schema is compiled from this catalog, so what `check_relationship`
        // accepts has ids here.
        let missing = || refused("is not in the compiled catalog".to_owned());
        let type_id = *self
            .type_index
            .get(relationship.resource_type.as_str())
            .ok_or_else(missing)?;
        let relation = *self
            .relations
            .get(relationship.relation.as_str())
            .ok_or_else(missing)?;
        let target = self
            .targets
            .get(type_id as usize)
            .and_then(|targets| targets.iter().find(|(id, _)| *id == relation))
            .map(|(_, target)| *target)
            .ok_or_else(missing)?;
        let node = (type_id, relationship.resource_id.as_str());
        let subject = relationship.subject_id.as_str();
        Ok(match target {
            Target::Container(parent_type) => Edge::Parent {
                node,
                relation,
                parent: (parent_type, subject),
            },
            Target::Subject(kind) => Edge::Subject {
                node,
                relation,
                kind,
                subject,
            },
        })
    }
}

/// The container types resources of `type_id` can sit in, transitively (itself only through a
/// cycle); sorted.
fn containers_above(targets: &[Vec<(RelationId, Target)>], type_id: usize) -> Vec<u32> {
    let mut found: Vec<u32> = Vec::new();
    let mut stack = vec![type_id];
    while let Some(at) = stack.pop() {
        for (_, target) in targets.get(at).into_iter().flatten() {
            if let Target::Container(container) = target
                && !found.contains(container)
            {
                found.push(*container);
                stack.push(*container as usize);
            }
        }
    }
    found.sort_unstable();
    found
}

/// The `Arc<str>` each subject id is stored as while a graph is built: one per distinct id,
/// and the compiled principal's own when the subject is a principal of the tenant.
#[derive(Debug, Default)]
pub(crate) struct SubjectIds(FxHashSet<Arc<str>>);

impl SubjectIds {
    /// Starts from ids already in use (an earlier snapshot's principals).
    pub(crate) fn from_ids<'a>(ids: impl IntoIterator<Item = &'a Arc<str>>) -> SubjectIds {
        SubjectIds(ids.into_iter().cloned().collect())
    }

    pub(crate) fn share(&mut self, id: &str) -> Arc<str> {
        if let Some(shared) = self.0.get(id) {
            return Arc::clone(shared);
        }
        let shared: Arc<str> = Arc::from(id);
        self.0.insert(Arc::clone(&shared));
        shared
    }
}

/// The containers bindings' locations name, per type id. Such a container counts as known
/// to the tenant (a `location` scope holds on it) whether or not a relationship names it.
#[derive(Debug, Default)]
pub(crate) struct NamedContainers(Vec<FxHashSet<Arc<str>>>);

impl NamedContainers {
    pub(super) fn new(types: usize) -> NamedContainers {
        NamedContainers((0..types).map(|_| FxHashSet::default()).collect())
    }

    /// Records container `type_id:id` and returns its key.
    pub(super) fn name(&mut self, type_id: u32, id: &str) -> NodeKey {
        let id = match self.0.get_mut(type_id as usize) {
            Some(named) => match named.get(id) {
                Some(shared) => Arc::clone(shared),
                None => {
                    let shared: Arc<str> = Arc::from(id);
                    named.insert(Arc::clone(&shared));
                    shared
                }
            },
            None => Arc::from(id),
        };
        NodeKey { type_id, id }
    }

    #[inline]
    pub(crate) fn contains(&self, type_id: u32, id: &str) -> bool {
        self.0
            .get(type_id as usize)
            .is_some_and(|named| named.contains(id))
    }
}

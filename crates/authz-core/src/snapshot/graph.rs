//! The resource graph: the resources and containers a policy mentions, the relationships
//! between them, and each one's container closure and inherited relations, resolved once so a
//! check never walks a graph.

use std::sync::Arc;

use rustc_hash::{FxHashMap, FxHashSet};

use super::catalog::{Catalog, RelationId};
use super::ids::validate_id;
use crate::error::PolicyError;
use crate::model::{PrincipalKind, Relationship, TenantPolicy};

pub(crate) type NodeId = u32;

/// A resource (or container) that appears in relationships or binding locations.
#[derive(Debug, Default)]
pub(crate) struct ResourceFacts {
    /// Every container this resource sits in, transitively.
    pub(crate) ancestors: Box<[NodeId]>,
    /// Relations principals hold on it, directly or through a container.
    pub(crate) subjects: Box<[(RelationId, PrincipalKind, Arc<str>)]>,
}

/// The nodes (resources and containers) a policy mentions, with their edges and facts.
#[derive(Default)]
pub(super) struct NodeTable {
    by_type: Vec<FxHashMap<Box<str>, NodeId>>,
    parents: Vec<Vec<NodeId>>,
    own_subjects: Vec<Vec<(RelationId, PrincipalKind, Arc<str>)>>,
}

impl NodeTable {
    pub(super) fn new(types: usize) -> Self {
        NodeTable {
            by_type: (0..types).map(|_| FxHashMap::default()).collect(),
            ..NodeTable::default()
        }
    }

    pub(super) fn intern(&mut self, type_id: u32, id: &str) -> NodeId {
        let next = self.parents.len() as NodeId;
        let nodes = &mut self.by_type[type_id as usize];
        if let Some(node) = nodes.get(id) {
            return *node;
        }
        nodes.insert(id.into(), next);
        self.parents.push(Vec::new());
        self.own_subjects.push(Vec::new());
        next
    }

    /// Resolves every node's container closure and the relations it inherits through it.
    pub(super) fn into_facts(self) -> (Vec<FxHashMap<Box<str>, NodeId>>, Vec<ResourceFacts>) {
        let mut facts = Vec::with_capacity(self.parents.len());
        for node in 0..self.parents.len() {
            let mut ancestors: Vec<NodeId> = Vec::new();
            let mut stack: Vec<NodeId> = self.parents[node].clone();
            // INVARIANT: `seen` holds the start node, so a containment cycle ends the walk
            // instead of looping.
            let mut seen: FxHashSet<NodeId> = FxHashSet::default();
            seen.insert(node as NodeId);
            while let Some(parent) = stack.pop() {
                if seen.insert(parent) {
                    ancestors.push(parent);
                    stack.extend(self.parents[parent as usize].iter().copied());
                }
            }
            let mut subjects = self.own_subjects[node].clone();
            for ancestor in &ancestors {
                subjects.extend(self.own_subjects[*ancestor as usize].iter().cloned());
            }
            subjects.sort();
            subjects.dedup();
            ancestors.sort_unstable();
            facts.push(ResourceFacts {
                ancestors: ancestors.into_boxed_slice(),
                subjects: subjects.into_boxed_slice(),
            });
        }
        (self.by_type, facts)
    }
}

/// Adds every relationship to `nodes`: a container relation as an edge to the container, a
/// subject relation as a fact about who holds it.
pub(super) fn compile_relationships(
    policy: &TenantPolicy,
    catalog: &Catalog<'_>,
    nodes: &mut NodeTable,
) -> Result<(), PolicyError> {
    for relationship in &policy.relationships {
        compile_relationship(relationship, policy, catalog, nodes)?;
    }
    Ok(())
}

fn compile_relationship(
    relationship: &Relationship,
    policy: &TenantPolicy,
    catalog: &Catalog<'_>,
    nodes: &mut NodeTable,
) -> Result<(), PolicyError> {
    let fail = |why: String| PolicyError::Relationship {
        relationship: relationship.to_string(),
        why,
    };
    for id in [
        &relationship.resource_id,
        &relationship.subject_id,
        &relationship.relation,
    ] {
        validate_id("relationship part", id)?;
    }
    let type_id = *catalog
        .type_index
        .get(relationship.resource_type.as_str())
        .ok_or_else(|| {
            fail(format!(
                "unknown resource type `{}`",
                relationship.resource_type
            ))
        })?;
    let definition = policy
        .catalog
        .resource_types
        .get(&relationship.resource_type)
        .and_then(|t| t.relations.get(&relationship.relation))
        .ok_or_else(|| {
            fail(format!(
                "resource type `{}` declares no relation `{}`",
                relationship.resource_type, relationship.relation
            ))
        })?;
    let relation = catalog
        .relations
        .get(relationship.relation.as_str())
        .copied()
        .ok_or_else(|| fail("relation not in catalog".to_owned()))?;
    let node = nodes.intern(type_id, &relationship.resource_id);
    match (&definition.container, definition.subject) {
        (Some(container_type), _) => {
            if &relationship.subject_type != container_type {
                return Err(fail(format!(
                    "relation `{}` points at `{container_type}`, not `{}`",
                    relationship.relation, relationship.subject_type
                )));
            }
            let container_id = catalog
                .type_index
                .get(container_type.as_str())
                .copied()
                .ok_or_else(|| fail(format!("unknown container type `{container_type}`")))?;
            let parent = nodes.intern(container_id, &relationship.subject_id);
            nodes.parents[node as usize].push(parent);
        }
        (None, Some(kind)) => {
            if relationship.subject_type != kind.as_str() {
                return Err(fail(format!(
                    "relation `{}` points at a `{}`, not `{}`",
                    relationship.relation,
                    kind.as_str(),
                    relationship.subject_type
                )));
            }
            nodes.own_subjects[node as usize].push((
                relation,
                kind,
                Arc::from(relationship.subject_id.as_str()),
            ));
        }
        (None, None) => return Err(fail("relation has no target kind".to_owned())),
    }
    Ok(())
}

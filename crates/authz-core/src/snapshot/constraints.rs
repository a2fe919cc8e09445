//! Constraints (forbid rules) compiled and indexed by the permissions they forbid, so a check
//! looks only at those that could apply.

use std::sync::Arc;

use rustc_hash::FxHashSet;

use super::catalog::{Catalog, PermId, RelationId};
use super::compile_condition;
use super::ids::UniqueIds;
use crate::condition::Condition;
use crate::error::PolicyError;
use crate::model::{Constraint, TenantPolicy};

#[derive(Debug)]
pub(crate) struct CompiledConstraint {
    pub(crate) id: Arc<str>,
    pub(crate) description: Arc<str>,
    pub(crate) role_types: Option<FxHashSet<Arc<str>>>,
    pub(crate) when_related: Option<RelationId>,
    pub(crate) condition: Option<Arc<Condition>>,
}

/// Every constraint, and per permission id the indexes of those that forbid it.
pub(super) struct Constraints {
    pub(super) all: Vec<CompiledConstraint>,
    pub(super) by_perm: Vec<Vec<u32>>,
}

pub(super) fn compile_constraints(
    policy: &TenantPolicy,
    catalog: &Catalog<'_>,
    env: &cel::Env,
) -> Result<Constraints, PolicyError> {
    let mut constraints = Constraints {
        all: Vec::new(),
        by_perm: (0..catalog.perms.len()).map(|_| Vec::new()).collect(),
    };
    let mut ids = UniqueIds::new("constraint");
    for constraint in &policy.constraints {
        ids.claim(&constraint.id)?;
        let index = constraints.all.len() as u32;
        let (compiled, forbids) = compile_constraint(constraint, catalog, env)?;
        for perm in forbids {
            constraints.by_perm[perm as usize].push(index);
        }
        constraints.all.push(compiled);
    }
    Ok(constraints)
}

/// One constraint, with the permissions it forbids (by name, pattern or category).
fn compile_constraint(
    constraint: &Constraint,
    catalog: &Catalog<'_>,
    env: &cel::Env,
) -> Result<(CompiledConstraint, Vec<PermId>), PolicyError> {
    if constraint.permissions.is_empty() && constraint.categories.is_empty() {
        return Err(PolicyError::EmptyConstraint(constraint.id.clone()));
    }
    let location = format!("constraint `{}`", constraint.id);
    let forbidden = catalog.perm_set(&constraint.permissions, &location, false)?;
    let when_related =
        constraint
            .when_related
            .as_deref()
            .map(|relation| {
                catalog.relations.get(relation).copied().ok_or_else(|| {
                    PolicyError::UnknownReference {
                        location: location.clone(),
                        what: "relation",
                        id: relation.to_owned(),
                    }
                })
            })
            .transpose()?;
    let condition = compile_condition(env, constraint.condition.as_deref(), &location)?;
    let forbids = catalog
        .perms
        .iter()
        .enumerate()
        .filter(|(perm, entry)| {
            forbidden.contains(*perm as PermId)
                || constraint
                    .categories
                    .iter()
                    .any(|category| **category == *entry.category)
        })
        .map(|(perm, _)| perm as PermId)
        .collect();
    let compiled = CompiledConstraint {
        id: Arc::from(constraint.id.as_str()),
        description: Arc::from(constraint.description.as_str()),
        role_types: (!constraint.role_types.is_empty()).then(|| {
            constraint
                .role_types
                .iter()
                .map(|role_type| Arc::from(role_type.as_str()))
                .collect()
        }),
        when_related,
        condition,
    };
    Ok((compiled, forbids))
}

//! Which relationships a tenant's catalog admits: the one rule every write path and the
//! snapshot compiler apply, so a store never holds a relationship the engine would refuse.

use crate::limits::check_id;
use crate::model::{Catalog, Relationship};

/// Why `relationship` does not fit `catalog`, or `Ok` when it does: every part is a valid id,
/// the resource type exists and declares the relation, and the subject is of the kind the
/// relation points at (a container of the declared type, or a principal of the declared kind).
pub fn check_relationship(catalog: &Catalog, relationship: &Relationship) -> Result<(), String> {
    for (part, value) in [
        ("resource type", &relationship.resource_type),
        ("resource id", &relationship.resource_id),
        ("relation", &relationship.relation),
        ("subject type", &relationship.subject_type),
        ("subject id", &relationship.subject_id),
    ] {
        check_id(value).map_err(|why| format!("{part} {why}"))?;
    }
    let resource_type = catalog
        .resource_types
        .get(&relationship.resource_type)
        .ok_or_else(|| format!("unknown resource type `{}`", relationship.resource_type))?;
    let definition = resource_type
        .relations
        .get(&relationship.relation)
        .ok_or_else(|| {
            format!(
                "resource type `{}` declares no relation `{}`",
                relationship.resource_type, relationship.relation
            )
        })?;
    match (&definition.container, definition.subject) {
        (Some(container), _) if *container != relationship.subject_type => Err(format!(
            "relation `{}` points at `{container}`, not `{}`",
            relationship.relation, relationship.subject_type
        )),
        (None, Some(kind)) if kind.as_str() != relationship.subject_type => Err(format!(
            "relation `{}` points at a `{}`, not `{}`",
            relationship.relation,
            kind.as_str(),
            relationship.subject_type
        )),
        (None, None) => Err(format!(
            "relation `{}` has no target kind",
            relationship.relation
        )),
        _ => Ok(()),
    }
}

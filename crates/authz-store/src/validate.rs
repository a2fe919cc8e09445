//! Checks every backend runs before it writes, so both refuse the same input the same way:
//! ids, bounded sizes, relationships against the tenant's catalog, policies that compile.

use std::collections::HashMap;

use authz_core::model::{Catalog, PLATFORM_TENANT_ID, Relationship, TenantStatus};
use authz_core::relationship_rules::check_relationship;
use authz_core::{Snapshot, TenantPolicy};

use crate::records::{RelationshipFilter, RelationshipOp, RelationshipWrite};
use crate::{Store, StoreError};

/// The most relationship writes one call may carry.
pub const MAX_RELATIONSHIP_WRITES: usize = 1000;

/// A tenant id, as a request names it in `field`.
pub fn tenant_id(field: &str, id: &str) -> Result<(), StoreError> {
    check_id(field, id)
}

fn check_id(field: &str, id: &str) -> Result<(), StoreError> {
    authz_core::limits::check_id(id)
        .map_err(|why| StoreError::invalid_input(field, why.to_string()))
}

/// A batch of relationship writes against the tenant's catalog: at least one, at most
/// [`MAX_RELATIONSHIP_WRITES`], each admitted by the catalog, and no relationship both
/// touched and deleted.
pub fn relationship_writes(
    catalog: &Catalog,
    writes: &[RelationshipWrite],
) -> Result<(), StoreError> {
    if writes.is_empty() {
        return Err(StoreError::invalid_input(
            "writes",
            "must hold at least one write",
        ));
    }
    if writes.len() > MAX_RELATIONSHIP_WRITES {
        return Err(StoreError::invalid_input(
            "writes",
            format!(
                "must hold at most {MAX_RELATIONSHIP_WRITES} writes, got {}",
                writes.len()
            ),
        ));
    }
    let mut seen: HashMap<&Relationship, (usize, RelationshipOp)> = HashMap::new();
    for (index, write) in writes.iter().enumerate() {
        let field = format!("writes[{index}].relationship");
        check_relationship(catalog, &write.relationship)
            .map_err(|why| StoreError::invalid_input(&field, why))?;
        if let Some((first, op)) = seen.insert(&write.relationship, (index, write.op))
            && op != write.op
        {
            return Err(StoreError::invalid_input(
                field,
                format!("writes[{first}] already writes this relationship the other way"),
            ));
        }
    }
    Ok(())
}

/// The ids a relationship filter names.
pub fn relationship_filter(filter: &RelationshipFilter) -> Result<(), StoreError> {
    for (field, value) in [
        ("filter.resource_type", &filter.resource_type),
        ("filter.resource_id", &filter.resource_id),
        ("filter.relation", &filter.relation),
        ("filter.subject_type", &filter.subject_type),
        ("filter.subject_id", &filter.subject_id),
    ] {
        if let Some(value) = value {
            check_id(field, value)?;
        }
    }
    Ok(())
}

/// The status a policy file states must be the stored one: status changes go through
/// `UpdateTenantStatus`, never an import.
pub fn imported_status(stored: TenantStatus, imported: TenantStatus) -> Result<(), StoreError> {
    if stored == imported {
        return Ok(());
    }
    Err(StoreError::invalid_input(
        "policy.tenant.status",
        format!(
            "is `{}` but the tenant is `{}`: change a tenant's status with UpdateTenantStatus",
            status_name(imported),
            status_name(stored)
        ),
    ))
}

pub fn status_name(status: TenantStatus) -> &'static str {
    match status {
        TenantStatus::Active => "active",
        TenantStatus::Suspended => "suspended",
        TenantStatus::Deactivated => "deactivated",
    }
}

/// `policy` compiles — as the platform's own when it has the reserved id, otherwise against
/// `platform`, the platform policy whose staff reach the tenant.
pub fn compile(policy: &TenantPolicy, platform: Option<&TenantPolicy>) -> Result<(), StoreError> {
    let compiled = if policy.tenant.id == PLATFORM_TENANT_ID {
        Snapshot::compile_platform(policy, 0)
    } else {
        Snapshot::compile(policy, platform, 0)
    };
    compiled
        .map(drop)
        .map_err(|error| StoreError::InvalidPolicy {
            tenant: policy.tenant.id.clone(),
            error,
        })
}

/// [`compile`] against the platform policy `store` holds.
pub async fn compiles<S: Store + ?Sized>(
    store: &S,
    policy: &TenantPolicy,
) -> Result<(), StoreError> {
    tenant_id("policy.tenant.id", &policy.tenant.id)?;
    if policy.tenant.id == PLATFORM_TENANT_ID {
        return compile(policy, None);
    }
    let platform = store.platform().await?;
    compile(policy, platform.as_ref().map(|stored| &*stored.policy))
}

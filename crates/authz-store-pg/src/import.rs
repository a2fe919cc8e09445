//! `import_policy`: the same checks as every backend (`authz_store::validate`), the same diff
//! (`PolicyDiff`), applied in one transaction that spends one revision, or none when nothing
//! changed.

use authz_core::TenantPolicy;
use authz_store::{ImportOptions, ImportReport, PolicyDiff, StoreError, validate};

use crate::entities::Plan;
use crate::tx::Begin;
use crate::{feed, policy, relationships, tenants};

pub(crate) async fn import_policy(
    begin: Begin<'_>,
    mut policy: TenantPolicy,
    options: ImportOptions,
) -> Result<ImportReport, StoreError> {
    let tenant_id = policy.tenant.id.clone();
    validate::tenant_id("policy.tenant.id", &tenant_id)?;
    let mut tx = begin.write(&tenant_id).await?;
    // Locked first: the tenant's other writers wait, so what is read next is current.
    let locked = tenants::lock(&mut tx, &tenant_id).await?;
    let current = locked.record.revision;
    if let Some(expected) = options.expected_revision
        && expected != current
    {
        return Err(StoreError::RevisionConflict {
            tenant: tenant_id,
            expected,
            current,
        });
    }
    validate::imported_status(locked.record.tenant.status, policy.tenant.status)?;
    let platform = policy::platform_for(&mut tx, &tenant_id).await?;
    validate::compile(&policy, platform.as_ref())?;

    let (stored, ordinals) = policy::load_part(&mut tx, locked.record).await?;
    let diff = PolicyDiff::between(&stored, &policy);
    // Refuses what Postgres could not give back exactly, before anything is written.
    let plan = Plan::new(&stored, &ordinals, &policy, &diff)?;
    // Sorted and without duplicates: the diff inserts plainly, in key order (appending to
    // the primary key index rather than scattering over it).
    let mut imported = std::mem::take(&mut policy.relationships);
    imported.sort_unstable();
    imported.dedup();
    relationships::stage(&mut tx, &imported).await?;
    drop(imported);

    let mut report = ImportReport {
        revision: current,
        changes: diff.changes.clone(),
        relationships_added: 0,
        relationships_removed: 0,
    };
    let (added, removed) = if options.dry_run {
        relationships::count_delta(&mut tx, &tenant_id).await?
    } else {
        relationships::apply_delta(&mut tx, &tenant_id).await?
    };
    report.relationships_added = added;
    report.relationships_removed = removed;
    if options.dry_run || report.is_empty() {
        tx.rollback().await?;
        return Ok(report);
    }

    plan.apply(&mut tx, &tenant_id).await?;
    let events = diff.events(&stored, &policy);
    let revision = feed::bump(&mut tx, &tenant_id).await?;
    feed::append(&mut tx, &tenant_id, revision, 0, &events).await?;
    relationships::append_delta_events(
        &mut tx,
        &tenant_id,
        revision,
        events.len(),
        added + removed,
    )
    .await?;
    feed::notify(&mut tx, &tenant_id, revision).await?;
    tx.commit().await?;
    report.revision = revision;
    Ok(report)
}

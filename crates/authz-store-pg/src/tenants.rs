//! Tenant rows: creating, locking (the start of every write), status changes, listing.

use authz_core::TenantPolicy;
use authz_core::model::{PLATFORM_TENANT_ID, Tenant, TenantStatus};
use authz_store::{ChangeEvent, Page, PageRequest, StoreError, TenantRecord, validate};

use crate::error::{is_unique_violation, unavailable};
use crate::rows::{self, parse_tenant_status, tenant_status};
use crate::tx::{Begin, Tx};
use crate::{entities, feed, policy};

type TenantRow = (String, String, String, String, i64);

const COLUMNS: &str = "tenant_id, name, status, time_zone, revision";

fn record((id, name, status, time_zone, revision): TenantRow) -> Result<TenantRecord, StoreError> {
    Ok(TenantRecord {
        tenant: Tenant {
            id,
            name,
            status: parse_tenant_status(&status)?,
            time_zone,
        },
        revision: rows::revision(revision)?,
    })
}

pub(crate) fn not_found(tenant_id: &str) -> StoreError {
    StoreError::NotFound {
        what: "tenant",
        id: tenant_id.to_owned(),
    }
}

/// A tenant as a writer holds it: its row locked until the transaction ends.
#[derive(Debug)]
pub(crate) struct Locked {
    pub(crate) record: TenantRecord,
}

/// Locks `tenant_id`'s row: the first statement of every write, which serialises the
/// tenant's writers so revision order is commit order.
pub(crate) async fn lock(tx: &mut Tx, tenant_id: &str) -> Result<Locked, StoreError> {
    let row: Option<TenantRow> = tx
        .query_as(
            "SELECT tenant_id, name, status, time_zone, revision FROM tenants \
             WHERE tenant_id = $1 FOR UPDATE",
        )
        .bind(tenant_id)
        .fetch_optional(tx.conn())
        .await
        .map_err(unavailable)?;
    let row = row.ok_or_else(|| not_found(tenant_id))?;
    Ok(Locked {
        record: record(row)?,
    })
}

pub(crate) async fn read(tx: &mut Tx, tenant_id: &str) -> Result<Option<TenantRecord>, StoreError> {
    let row: Option<TenantRow> = tx
        .query_as(
            "SELECT tenant_id, name, status, time_zone, revision FROM tenants WHERE tenant_id = $1",
        )
        .bind(tenant_id)
        .fetch_optional(tx.conn())
        .await
        .map_err(unavailable)?;
    row.map(record).transpose()
}

pub(crate) async fn get(
    begin: Begin<'_>,
    tenant_id: &str,
) -> Result<Option<TenantRecord>, StoreError> {
    let mut tx = begin.read(tenant_id).await?;
    let record = read(&mut tx, tenant_id).await?;
    tx.commit().await?;
    Ok(record)
}

pub(crate) async fn revision(begin: Begin<'_>, tenant_id: &str) -> Result<Option<u64>, StoreError> {
    Ok(get(begin, tenant_id).await?.map(|record| record.revision))
}

pub(crate) async fn ids(begin: Begin<'_>) -> Result<Vec<String>, StoreError> {
    let mut tx = begin.all_tenants().await?;
    let ids = tx
        .query_scalar("SELECT tenant_id FROM tenants WHERE tenant_id <> $1 ORDER BY tenant_id")
        .bind(PLATFORM_TENANT_ID)
        .fetch_all(tx.conn())
        .await
        .map_err(unavailable)?;
    tx.commit().await?;
    Ok(ids)
}

pub(crate) async fn list(
    begin: Begin<'_>,
    page: &PageRequest,
) -> Result<Page<TenantRecord>, StoreError> {
    let after = page.after(1)?.and_then(|parts| parts.first().cloned());
    let limit = page.limit();
    let mut tx = begin.all_tenants().await?;
    let rows: Vec<TenantRow> = tx
        .query_as(&format!(
            "SELECT {COLUMNS} FROM tenants \
             WHERE tenant_id <> $1 AND ($2::text IS NULL OR tenant_id > $2) \
             ORDER BY tenant_id LIMIT $3"
        ))
        .bind(PLATFORM_TENANT_ID)
        .bind(after)
        .bind(i64::try_from(limit + 1).unwrap_or(i64::MAX))
        .fetch_all(tx.conn())
        .await
        .map_err(unavailable)?;
    tx.commit().await?;
    let items = rows
        .into_iter()
        .map(record)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Page::from_overfetch(items, limit, |last| {
        vec![last.tenant.id.clone()]
    }))
}

pub(crate) async fn create(begin: Begin<'_>, tenant: Tenant) -> Result<u64, StoreError> {
    validate::tenant_id("tenant.id", &tenant.id)?;
    let id = tenant.id.clone();
    let mut tx = begin.write(&id).await?;
    let exists = || StoreError::AlreadyExists {
        what: "tenant",
        id: id.clone(),
    };
    if read(&mut tx, &id).await?.is_some() {
        return Err(exists());
    }
    let policy = TenantPolicy {
        tenant,
        ..TenantPolicy::default()
    };
    let platform = policy::platform_for(&mut tx, &id).await?;
    validate::compile(&policy, platform.as_ref())?;
    let inserted = tx
        .query(
            "INSERT INTO tenants (tenant_id, name, status, time_zone, revision) \
             VALUES ($1, $2, $3, $4, 1)",
        )
        .bind(&id)
        .bind(&policy.tenant.name)
        .bind(tenant_status(policy.tenant.status))
        .bind(&policy.tenant.time_zone)
        .execute(tx.conn())
        .await;
    match inserted {
        // A concurrent create committed first.
        Err(error) if is_unique_violation(&error) => return Err(exists()),
        other => other.map_err(unavailable)?,
    };
    entities::write_documents(&mut tx, &id, &policy).await?;
    feed::append(&mut tx, &id, 1, 0, &[ChangeEvent::Tenant]).await?;
    feed::notify(&mut tx, &id, 1).await?;
    tx.commit().await?;
    Ok(1)
}

pub(crate) async fn set_status(
    begin: Begin<'_>,
    tenant_id: &str,
    status: TenantStatus,
) -> Result<u64, StoreError> {
    validate::tenant_id("tenant_id", tenant_id)?;
    let mut tx = begin.write(tenant_id).await?;
    let locked = lock(&mut tx, tenant_id).await?;
    if locked.record.tenant.status == status {
        tx.rollback().await?;
        return Ok(locked.record.revision);
    }
    tx.query("UPDATE tenants SET status = $2 WHERE tenant_id = $1")
        .bind(tenant_id)
        .bind(tenant_status(status))
        .execute(tx.conn())
        .await
        .map_err(unavailable)?;
    let revision = feed::commit(&mut tx, tenant_id, &[ChangeEvent::Tenant]).await?;
    tx.commit().await?;
    Ok(revision)
}

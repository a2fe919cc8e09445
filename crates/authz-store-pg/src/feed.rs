//! The change log (outbox) and commit announcements: every write appends its events at its
//! revision and notifies `authz_changes` in its own transaction, so both happen exactly when
//! it commits; followers read the log back with [`changes_since`].

use authz_core::model::Relationship;
use authz_store::{Change, ChangeEvent, ChangeFeed, StoreError};

use crate::CHANNEL;
use crate::error::{corrupt, unavailable};
use crate::rows;
use crate::tenants::not_found;
use crate::tx::{Begin, Tx};

/// Spends the next revision of the tenant whose row `tx` has locked, appends `events` at it
/// and announces it; returns it.
pub(crate) async fn commit(
    tx: &mut Tx,
    tenant_id: &str,
    events: &[ChangeEvent],
) -> Result<u64, StoreError> {
    let revision = bump(tx, tenant_id).await?;
    append(tx, tenant_id, revision, 0, events).await?;
    notify(tx, tenant_id, revision).await?;
    Ok(revision)
}

/// The tenant's next revision, spent.
pub(crate) async fn bump(tx: &mut Tx, tenant_id: &str) -> Result<u64, StoreError> {
    let revision: i64 = tx
        .query_scalar(
            "UPDATE tenants SET revision = revision + 1, updated_at = now() \
             WHERE tenant_id = $1 RETURNING revision",
        )
        .bind(tenant_id)
        .fetch_one(tx.conn())
        .await
        .map_err(unavailable)?;
    rows::revision(revision)
}

/// Queues the announcement `<tenant_id>:<revision>`; Postgres delivers it on commit (and
/// drops it on rollback).
pub(crate) async fn notify(tx: &mut Tx, tenant_id: &str, revision: u64) -> Result<(), StoreError> {
    tx.query("SELECT pg_notify($1, $2)")
        .bind(CHANNEL)
        .bind(format!("{tenant_id}:{revision}"))
        .execute(tx.conn())
        .await
        .map_err(unavailable)?;
    Ok(())
}

/// Appends `events` at `revision`, numbered from `first_seq`.
pub(crate) async fn append(
    tx: &mut Tx,
    tenant_id: &str,
    revision: u64,
    first_seq: usize,
    events: &[ChangeEvent],
) -> Result<(), StoreError> {
    if events.is_empty() {
        return Ok(());
    }
    let mut seqs = Vec::with_capacity(events.len());
    let mut kinds = Vec::with_capacity(events.len());
    let mut principals = Vec::with_capacity(events.len());
    let mut parts: [Vec<Option<&str>>; 5] = Default::default();
    for (index, event) in events.iter().enumerate() {
        seqs.push(rows::ordinal(first_seq + index)?);
        let (kind, principal, relationship) = match event {
            ChangeEvent::RelationshipTouched(r) => ("relationship_touched", None, Some(r)),
            ChangeEvent::RelationshipDeleted(r) => ("relationship_deleted", None, Some(r)),
            ChangeEvent::Policy => ("policy", None, None),
            ChangeEvent::Principal(id) => ("principal", Some(id.as_str()), None),
            ChangeEvent::Tenant => ("tenant", None, None),
            ChangeEvent::Reload => ("reload", None, None),
        };
        kinds.push(kind);
        principals.push(principal);
        let values = relationship.map(|r| {
            [
                &r.resource_type,
                &r.resource_id,
                &r.relation,
                &r.subject_type,
                &r.subject_id,
            ]
        });
        for (slot, part) in parts.iter_mut().enumerate() {
            part.push(values.map(|values| values[slot].as_str()));
        }
    }
    let [
        resource_types,
        resource_ids,
        relations,
        subject_types,
        subject_ids,
    ] = parts;
    tx.query(
        "INSERT INTO changes (tenant_id, revision, seq, kind, principal_id, resource_type, \
                              resource_id, relation, subject_type, subject_id) \
         SELECT $1, $2, * FROM UNNEST($3::integer[], $4::text[], $5::text[], $6::text[], \
                                      $7::text[], $8::text[], $9::text[], $10::text[])",
    )
    .bind(tenant_id)
    .bind(rows::bound(revision))
    .bind(seqs)
    .bind(kinds)
    .bind(principals)
    .bind(resource_types)
    .bind(resource_ids)
    .bind(relations)
    .bind(subject_types)
    .bind(subject_ids)
    .execute(tx.conn())
    .await
    .map_err(unavailable)?;
    Ok(())
}

type ChangeRow = (
    i64,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

pub(crate) async fn changes_since(
    begin: Begin<'_>,
    tenant_id: &str,
    after: u64,
    limit: usize,
) -> Result<ChangeFeed, StoreError> {
    let mut tx = begin.read(tenant_id).await?;
    let head: Option<(i64, i64)> = tx
        .query_as("SELECT revision, changes_floor FROM tenants WHERE tenant_id = $1")
        .bind(tenant_id)
        .fetch_optional(tx.conn())
        .await
        .map_err(unavailable)?;
    let (revision, floor) = head.ok_or_else(|| not_found(tenant_id))?;
    let (revision, floor) = (rows::revision(revision)?, rows::revision(floor)?);
    if after >= revision {
        return Ok(ChangeFeed::Changes(Vec::new()));
    }
    if after < floor {
        // The log was pruned past `after`.
        return Ok(ChangeFeed::Reload { revision });
    }
    // Every event up to the revision of the `limit`-th one: a write's events come whole.
    let rows: Vec<ChangeRow> = tx
        .query_as(
            "WITH cutoff AS ( \
                 SELECT revision FROM changes WHERE tenant_id = $1 AND revision > $2 \
                 ORDER BY revision, seq OFFSET $3 LIMIT 1) \
             SELECT revision, kind, principal_id, resource_type, resource_id, relation, \
                    subject_type, subject_id \
             FROM changes \
             WHERE tenant_id = $1 AND revision > $2 \
               AND revision <= COALESCE((SELECT revision FROM cutoff), $4) \
             ORDER BY revision, seq",
        )
        .bind(tenant_id)
        .bind(rows::bound(after))
        .bind(i64::try_from(limit.max(1) - 1).unwrap_or(i64::MAX))
        .bind(rows::bound(revision))
        .fetch_all(tx.conn())
        .await
        .map_err(unavailable)?;
    tx.commit().await?;
    let changes = rows
        .into_iter()
        .map(change)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(ChangeFeed::Changes(changes))
}

fn change(row: ChangeRow) -> Result<Change, StoreError> {
    let (revision, kind, principal, resource_type, resource_id, relation, subject_type, subject_id) =
        row;
    let relationship = || match (
        resource_type,
        resource_id,
        relation,
        subject_type,
        subject_id,
    ) {
        (
            Some(resource_type),
            Some(resource_id),
            Some(relation),
            Some(subject_type),
            Some(subject_id),
        ) => Ok(Relationship {
            resource_type,
            resource_id,
            relation,
            subject_type,
            subject_id,
        }),
        _ => Err(corrupt("a relationship event without its relationship")),
    };
    let event = match kind.as_str() {
        "relationship_touched" => ChangeEvent::RelationshipTouched(relationship()?),
        "relationship_deleted" => ChangeEvent::RelationshipDeleted(relationship()?),
        "policy" => ChangeEvent::Policy,
        "principal" => ChangeEvent::Principal(
            principal.ok_or_else(|| corrupt("a principal event without its principal"))?,
        ),
        "tenant" => ChangeEvent::Tenant,
        "reload" => ChangeEvent::Reload,
        other => return Err(corrupt(format_args!("change kind `{other}`"))),
    };
    Ok(Change {
        revision: rows::revision(revision)?,
        event,
    })
}

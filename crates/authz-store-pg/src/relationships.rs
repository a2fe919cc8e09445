//! Relationships: batched writes, keyset-paged reads, and the set difference an import
//! applies, computed in SQL so a tenant with a million relationships imports in seconds.

use std::collections::HashSet;
use std::fmt::Write as _;

use authz_core::model::{Catalog, Relationship};
use authz_store::{
    MAX_RELATIONSHIP_EVENTS, Page, PageRequest, RelationshipFilter, RelationshipOp,
    RelationshipPage, RelationshipWrite, StoreError, relationship_key, validate,
};

use crate::error::unavailable;
use crate::feed;
use crate::rows::{self, from_json};
use crate::tenants::{self, not_found};
use crate::tx::{Begin, Tx};

type Row = (String, String, String, String, String);

pub(crate) fn from_row(
    (resource_type, resource_id, relation, subject_type, subject_id): Row,
) -> Relationship {
    Relationship {
        resource_type,
        resource_id,
        relation,
        subject_type,
        subject_id,
    }
}

/// The five key columns of `relationships`, as arrays to `UNNEST`.
fn columns<'a>(relationships: impl Iterator<Item = &'a Relationship>) -> [Vec<&'a str>; 5] {
    let mut columns: [Vec<&str>; 5] = Default::default();
    for r in relationships {
        columns[0].push(&r.resource_type);
        columns[1].push(&r.resource_id);
        columns[2].push(&r.relation);
        columns[3].push(&r.subject_type);
        columns[4].push(&r.subject_id);
    }
    columns
}

pub(crate) async fn write(
    begin: Begin<'_>,
    tenant_id: &str,
    writes: &[RelationshipWrite],
) -> Result<u64, StoreError> {
    validate::tenant_id("tenant_id", tenant_id)?;
    let mut tx = begin.write(tenant_id).await?;
    let locked = tenants::lock(&mut tx, tenant_id).await?;
    let catalog: String = tx
        .query_scalar("SELECT catalog::text FROM policy_documents WHERE tenant_id = $1")
        .bind(tenant_id)
        .fetch_one(tx.conn())
        .await
        .map_err(unavailable)?;
    let catalog: Catalog = from_json("catalog", &catalog)?;
    validate::relationship_writes(&catalog, writes)?;

    let of = |op: RelationshipOp| {
        writes
            .iter()
            .filter(move |write| write.op == op)
            .map(|write| &write.relationship)
    };
    let [a, b, c, d, e] = columns(of(RelationshipOp::Touch));
    let touched: Vec<Row> = tx
        .query_as(
            "INSERT INTO relationships \
                 (tenant_id, resource_type, resource_id, relation, subject_type, subject_id) \
             SELECT $1, * FROM UNNEST($2::text[], $3::text[], $4::text[], $5::text[], $6::text[]) \
             ON CONFLICT DO NOTHING \
             RETURNING resource_type, resource_id, relation, subject_type, subject_id",
        )
        .bind(tenant_id)
        .bind(a)
        .bind(b)
        .bind(c)
        .bind(d)
        .bind(e)
        .fetch_all(tx.conn())
        .await
        .map_err(unavailable)?;
    let [a, b, c, d, e] = columns(of(RelationshipOp::Delete));
    let deleted: Vec<Row> = tx
        .query_as(
            "DELETE FROM relationships r \
             USING UNNEST($2::text[], $3::text[], $4::text[], $5::text[], $6::text[]) \
                 AS w(resource_type, resource_id, relation, subject_type, subject_id) \
             WHERE r.tenant_id = $1 AND r.resource_type = w.resource_type \
               AND r.resource_id = w.resource_id AND r.relation = w.relation \
               AND r.subject_type = w.subject_type AND r.subject_id = w.subject_id \
             RETURNING r.resource_type, r.resource_id, r.relation, r.subject_type, r.subject_id",
        )
        .bind(tenant_id)
        .bind(a)
        .bind(b)
        .bind(c)
        .bind(d)
        .bind(e)
        .fetch_all(tx.conn())
        .await
        .map_err(unavailable)?;

    // Events in the order of the writes, one per relationship that changed.
    let mut touched: HashSet<Relationship> = touched.into_iter().map(from_row).collect();
    let mut deleted: HashSet<Relationship> = deleted.into_iter().map(from_row).collect();
    let mut events = Vec::new();
    for write in writes {
        let relationship = &write.relationship;
        match write.op {
            RelationshipOp::Touch if touched.remove(relationship) => {
                events.push(authz_store::ChangeEvent::RelationshipTouched(
                    relationship.clone(),
                ));
            }
            RelationshipOp::Delete if deleted.remove(relationship) => {
                events.push(authz_store::ChangeEvent::RelationshipDeleted(
                    relationship.clone(),
                ));
            }
            RelationshipOp::Touch | RelationshipOp::Delete => {}
        }
    }
    if events.is_empty() {
        tx.rollback().await?;
        return Ok(locked.record.revision);
    }
    let revision = feed::commit(&mut tx, tenant_id, &events).await?;
    tx.commit().await?;
    Ok(revision)
}

const KEY: &str = "resource_type, resource_id, relation, subject_type, subject_id";

pub(crate) async fn read(
    begin: Begin<'_>,
    tenant_id: &str,
    filter: &RelationshipFilter,
    page: &PageRequest,
) -> Result<RelationshipPage, StoreError> {
    validate::tenant_id("tenant_id", tenant_id)?;
    validate::relationship_filter(filter)?;
    let after = page.after(5)?;
    let limit = page.limit();

    // Only the filters given become conditions, so each combination is its own statement
    // with its own plan (reads by subject use the subject index).
    let mut sql = format!("SELECT {KEY} FROM relationships WHERE tenant_id = $1");
    let mut values: Vec<&str> = Vec::new();
    for (column, value) in [
        ("resource_type", &filter.resource_type),
        ("resource_id", &filter.resource_id),
        ("relation", &filter.relation),
        ("subject_type", &filter.subject_type),
        ("subject_id", &filter.subject_id),
    ] {
        if let Some(value) = value {
            values.push(value);
            let _ = write!(sql, " AND {column} = ${}", values.len() + 1);
        }
    }
    if let Some(after) = after {
        let first = values.len() + 2;
        let _ = write!(
            sql,
            " AND ({KEY}) > (${first}::text COLLATE \"C\", ${}::text COLLATE \"C\", \
             ${}::text COLLATE \"C\", ${}::text COLLATE \"C\", ${}::text COLLATE \"C\")",
            first + 1,
            first + 2,
            first + 3,
            first + 4
        );
        values.extend(after.iter().map(String::as_str));
    }
    let _ = write!(sql, " ORDER BY {KEY} LIMIT ${}", values.len() + 2);

    let mut tx = begin.read(tenant_id).await?;
    let record = tenants::read(&mut tx, tenant_id)
        .await?
        .ok_or_else(|| not_found(tenant_id))?;
    let mut query = tx.query_as::<Row>(&sql).bind(tenant_id);
    for value in values {
        query = query.bind(value);
    }
    let rows = query
        .bind(i64::try_from(limit + 1).unwrap_or(i64::MAX))
        .fetch_all(tx.conn())
        .await
        .map_err(unavailable)?;
    tx.commit().await?;
    let items = rows.into_iter().map(from_row).collect();
    Ok(RelationshipPage {
        page: Page::from_overfetch(items, limit, relationship_key),
        revision: record.revision,
    })
}

/// Bytes per `COPY` message when staging an import.
const COPY_CHUNK: usize = 1 << 20;

/// Loads an import's relationships (sorted, without duplicates) into the temporary table
/// `imported_relationships` (dropped when `tx` ends), with `COPY`: the fastest way in for
/// millions of rows.
pub(crate) async fn stage(tx: &mut Tx, relationships: &[Relationship]) -> Result<(), StoreError> {
    // The diff joins and sorts the whole staged set: in memory, not in temporary files.
    tx.query("SET LOCAL work_mem = '256MB'")
        .execute(tx.conn())
        .await
        .map_err(unavailable)?;
    tx.query(
        "CREATE TEMPORARY TABLE imported_relationships ( \
             resource_type text COLLATE \"C\" NOT NULL, resource_id text COLLATE \"C\" NOT NULL, \
             relation text COLLATE \"C\" NOT NULL, subject_type text COLLATE \"C\" NOT NULL, \
             subject_id text COLLATE \"C\" NOT NULL \
         ) ON COMMIT DROP",
    )
    .execute(tx.conn())
    .await
    .map_err(unavailable)?;
    if relationships.is_empty() {
        return Ok(());
    }
    let mut copy = tx
        .conn()
        .copy_in_raw(&format!("COPY imported_relationships ({KEY}) FROM STDIN"))
        .await
        .map_err(unavailable)?;
    let mut buffer = String::with_capacity(COPY_CHUNK + 2048);
    for r in relationships {
        for (index, part) in [
            &r.resource_type,
            &r.resource_id,
            &r.relation,
            &r.subject_type,
            &r.subject_id,
        ]
        .into_iter()
        .enumerate()
        {
            if index > 0 {
                buffer.push('\t');
            }
            copy_text(&mut buffer, part);
        }
        buffer.push('\n');
        if buffer.len() >= COPY_CHUNK {
            copy.send(buffer.as_bytes()).await.map_err(unavailable)?;
            buffer.clear();
        }
    }
    if !buffer.is_empty() {
        copy.send(buffer.as_bytes()).await.map_err(unavailable)?;
    }
    copy.finish().await.map_err(unavailable)?;
    // A temporary table has no statistics until analysed; the diff's joins need them.
    tx.query("ANALYZE imported_relationships")
        .execute(tx.conn())
        .await
        .map_err(unavailable)?;
    Ok(())
}

/// `value` in `COPY`'s text format. Ids hold no whitespace or control characters (the policy
/// compiled), but the format's specials are escaped all the same.
fn copy_text(buffer: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '\\' => buffer.push_str("\\\\"),
            '\t' => buffer.push_str("\\t"),
            '\n' => buffer.push_str("\\n"),
            '\r' => buffer.push_str("\\r"),
            c => buffer.push(c),
        }
    }
}

const SAME_KEY: &str = "i.resource_type = r.resource_type AND i.resource_id = r.resource_id \
    AND i.relation = r.relation AND i.subject_type = r.subject_type \
    AND i.subject_id = r.subject_id";

/// How many staged relationships the tenant lacks, and how many it holds that are not
/// staged: what an import would add and remove.
pub(crate) async fn count_delta(tx: &mut Tx, tenant_id: &str) -> Result<(u64, u64), StoreError> {
    let (added, removed): (i64, i64) = tx
        .query_as(&format!(
            "SELECT \
                 (SELECT count(*) FROM imported_relationships i \
                  WHERE NOT EXISTS (SELECT 1 FROM relationships r \
                                    WHERE r.tenant_id = $1 AND {SAME_KEY})), \
                 (SELECT count(*) FROM relationships r WHERE r.tenant_id = $1 \
                  AND NOT EXISTS (SELECT 1 FROM imported_relationships i WHERE {SAME_KEY}))"
        ))
        .bind(tenant_id)
        .fetch_one(tx.conn())
        .await
        .map_err(unavailable)?;
    Ok((count(added), count(removed)))
}

fn count(value: i64) -> u64 {
    u64::try_from(value).unwrap_or_default()
}

/// Makes the tenant's relationships the staged ones; returns how many were added and
/// removed. What changed is kept in the temporary table `relationship_delta` for
/// [`append_delta_events`].
///
/// INVARIANT: the staged set holds no duplicates and `tx` holds the tenant's row lock (every
/// writer of the tenant takes it first), so the rows the anti-join picks cannot exist by the
/// time they are inserted: a plain insert, without `ON CONFLICT` (a third slower per row).
pub(crate) async fn apply_delta(tx: &mut Tx, tenant_id: &str) -> Result<(u64, u64), StoreError> {
    tx.query(
        "CREATE TEMPORARY TABLE relationship_delta ( \
             deleted boolean NOT NULL, \
             resource_type text COLLATE \"C\" NOT NULL, resource_id text COLLATE \"C\" NOT NULL, \
             relation text COLLATE \"C\" NOT NULL, subject_type text COLLATE \"C\" NOT NULL, \
             subject_id text COLLATE \"C\" NOT NULL \
         ) ON COMMIT DROP",
    )
    .execute(tx.conn())
    .await
    .map_err(unavailable)?;
    let removed = tx
        .query(&format!(
            "WITH removed AS ( \
                 DELETE FROM relationships r WHERE r.tenant_id = $1 \
                 AND NOT EXISTS (SELECT 1 FROM imported_relationships i WHERE {SAME_KEY}) \
                 RETURNING r.resource_type, r.resource_id, r.relation, r.subject_type, \
                           r.subject_id) \
             INSERT INTO relationship_delta SELECT true, * FROM removed"
        ))
        .bind(tenant_id)
        .execute(tx.conn())
        .await
        .map_err(unavailable)?
        .rows_affected();
    let added = tx
        .query(&format!(
            "WITH added AS ( \
                 INSERT INTO relationships (tenant_id, {KEY}) \
                 SELECT $1, i.* FROM imported_relationships i \
                 WHERE NOT EXISTS (SELECT 1 FROM relationships r \
                                   WHERE r.tenant_id = $1 AND {SAME_KEY}) \
                 RETURNING {KEY}) \
             INSERT INTO relationship_delta SELECT false, * FROM added"
        ))
        .bind(tenant_id)
        .execute(tx.conn())
        .await
        .map_err(unavailable)?
        .rows_affected();
    Ok((added, removed))
}

/// The events of an applied delta at `revision` from `first_seq`: removals, then additions,
/// each in key order (as the in-memory store lists them), or one `Reload` when there are more
/// than [`MAX_RELATIONSHIP_EVENTS`].
pub(crate) async fn append_delta_events(
    tx: &mut Tx,
    tenant_id: &str,
    revision: u64,
    first_seq: usize,
    changed: u64,
) -> Result<(), StoreError> {
    if changed == 0 {
        return Ok(());
    }
    if changed > MAX_RELATIONSHIP_EVENTS as u64 {
        return feed::append(
            tx,
            tenant_id,
            revision,
            first_seq,
            &[authz_store::ChangeEvent::Reload],
        )
        .await;
    }
    tx.query(&format!(
        "INSERT INTO changes (tenant_id, revision, seq, kind, {KEY}) \
         SELECT $1, $2, ($3 + row_number() OVER (ORDER BY deleted DESC, {KEY}) - 1)::integer, \
                CASE WHEN deleted THEN 'relationship_deleted' ELSE 'relationship_touched' END, \
                {KEY} \
         FROM relationship_delta"
    ))
    .bind(tenant_id)
    .bind(rows::bound(revision))
    .bind(i64::from(rows::ordinal(first_seq)?))
    .execute(tx.conn())
    .await
    .map_err(unavailable)?;
    Ok(())
}

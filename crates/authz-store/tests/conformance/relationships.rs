//! Relationship writes and reads: idempotent, all-or-nothing, validated against the catalog,
//! read in key order in pages whose cursors stay stable while others write.

use authz_store::{PageRequest, RelationshipFilter, Store, StoreError};

use super::{all_relationships, clinic, delete, put, rel, touch};

async fn write(
    store: &dyn Store,
    tenant_id: &str,
    writes: &[authz_store::RelationshipWrite],
) -> u64 {
    store
        .write_relationships(tenant_id, writes)
        .await
        .unwrap_or_else(|error| panic!("writing relationships of {tenant_id}: {error}"))
}

pub(crate) async fn relationship_writes_are_idempotent(store: &dyn Store) {
    let revision = put(store, clinic("acme")).await;
    let writes = [
        touch("patient:p3#assignee@user:ann"),
        touch("patient:p3#location@location:north"),
        delete("patient:p2#location@location:south"),
    ];
    let first = write(store, "acme", &writes).await;
    assert_eq!(first, revision + 1);
    let again = write(store, "acme", &writes).await;
    assert_eq!(
        again, first,
        "writing the same again changes nothing and spends nothing"
    );
    // Touching what exists and deleting what does not is no change either.
    let noop = write(
        store,
        "acme",
        &[
            touch("patient:p1#assignee@user:ann"),
            delete("patient:p9#assignee@user:ann"),
        ],
    )
    .await;
    assert_eq!(noop, first);
    assert_eq!(
        all_relationships(store, "acme").await,
        [
            rel("patient:p1#assignee@user:ann"),
            rel("patient:p1#location@location:north"),
            rel("patient:p3#assignee@user:ann"),
            rel("patient:p3#location@location:north"),
        ]
    );
}

/// One bad write refuses the whole batch, naming the write; nothing of it is written.
pub(crate) async fn relationship_writes_are_all_or_nothing(store: &dyn Store) {
    let revision = put(store, clinic("acme")).await;
    let before = all_relationships(store, "acme").await;
    let good = touch("patient:p4#assignee@user:ann");
    let cases: Vec<(Vec<authz_store::RelationshipWrite>, &str)> = vec![
        (
            vec![good.clone(), touch("patient:p4#owner@user:ann")],
            "writes[1].relationship",
        ),
        (
            vec![good.clone(), touch("invoice:i1#assignee@user:ann")],
            "writes[1].relationship",
        ),
        (
            vec![touch("patient:p4#location@user:ann"), good.clone()],
            "writes[0].relationship",
        ),
        (
            vec![touch("patient:p4#assignee@location:north")],
            "writes[0].relationship",
        ),
        (
            vec![good.clone(), delete("patient:p4#assignee@user:ann")],
            "writes[1].relationship",
        ),
        (
            vec![touch("patient:has space#assignee@user:ann")],
            "writes[0].relationship",
        ),
        (Vec::new(), "writes"),
        (vec![good.clone(); 1001], "writes"),
    ];
    for (writes, want_field) in cases {
        let refused = store.write_relationships("acme", &writes).await;
        assert!(
            matches!(&refused, Err(StoreError::InvalidInput { field, .. }) if field == want_field),
            "{} writes, expected {want_field}: {refused:?}",
            writes.len()
        );
    }
    let unknown = store.write_relationships("nobody", &[good]).await;
    assert!(
        matches!(unknown, Err(StoreError::NotFound { .. })),
        "{unknown:?}"
    );
    assert_eq!(all_relationships(store, "acme").await, before);
    assert_eq!(store.revision("acme").await.ok().flatten(), Some(revision));
}

/// Pages follow key order; a cursor names the last key returned, so writes behind the reader
/// are not seen again and writes ahead of it are, and nothing that existed throughout is
/// skipped or repeated.
pub(crate) async fn relationships_are_read_in_pages_with_stable_cursors(store: &dyn Store) {
    put(store, clinic("acme")).await;
    let patients: Vec<String> = (10..40)
        .map(|n| format!("patient:p{n}#assignee@user:ann"))
        .collect();
    let writes: Vec<_> = patients.iter().map(|text| touch(text)).collect();
    write(store, "acme", &writes).await;

    let filter = RelationshipFilter {
        relation: Some("assignee".to_owned()),
        ..RelationshipFilter::default()
    };
    let mut seen = Vec::new();
    let mut page = PageRequest::first(7);
    let mut pages = 0;
    loop {
        let got = store
            .read_relationships("acme", &filter, &page)
            .await
            .unwrap_or_else(|error| panic!("reading: {error}"));
        assert!(got.page.items.len() <= 7);
        pages += 1;
        seen.extend(got.page.items);
        if pages == 2 {
            // Behind the cursor (p10 sorts first) and ahead of it (p99 sorts last).
            write(
                store,
                "acme",
                &[
                    touch("patient:p100#assignee@user:ann"),
                    touch("patient:p99#assignee@user:ann"),
                    delete("patient:p38#assignee@user:ann"),
                ],
            )
            .await;
        }
        match got.page.next {
            Some(cursor) => page.cursor = Some(cursor),
            None => break,
        }
    }
    let mut want: Vec<_> = patients.iter().map(|text| rel(text)).collect();
    want.push(rel("patient:p1#assignee@user:ann"));
    want.push(rel("patient:p99#assignee@user:ann"));
    want.retain(|r| r.resource_id != "p38");
    want.sort();
    assert_eq!(seen, want);
}

pub(crate) async fn relationship_reads_filter_by_resource_and_subject(store: &dyn Store) {
    put(store, clinic("acme")).await;
    write(
        store,
        "acme",
        &[
            touch("patient:p2#assignee@user:bob"),
            touch("patient:p3#assignee@user:ann"),
        ],
    )
    .await;
    let read = |filter: RelationshipFilter| async move {
        store
            .read_relationships("acme", &filter, &PageRequest::first(100))
            .await
            .map(|got| {
                got.page
                    .items
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
            })
            .unwrap_or_else(|error| panic!("reading: {error}"))
    };
    let of = |field: &str, value: &str| {
        let mut filter = RelationshipFilter::default();
        let slot = match field {
            "resource_id" => &mut filter.resource_id,
            "subject_id" => &mut filter.subject_id,
            "subject_type" => &mut filter.subject_type,
            _ => &mut filter.relation,
        };
        *slot = Some(value.to_owned());
        filter
    };
    assert_eq!(
        read(of("resource_id", "p1")).await,
        [
            "patient:p1#assignee@user:ann",
            "patient:p1#location@location:north"
        ]
    );
    assert_eq!(
        read(of("subject_id", "ann")).await,
        [
            "patient:p1#assignee@user:ann",
            "patient:p3#assignee@user:ann"
        ]
    );
    assert_eq!(
        read(of("subject_type", "location")).await,
        [
            "patient:p1#location@location:north",
            "patient:p2#location@location:south"
        ]
    );
    let bad = store
        .read_relationships(
            "acme",
            &RelationshipFilter {
                subject_id: Some("a b".to_owned()),
                ..RelationshipFilter::default()
            },
            &PageRequest::first(10),
        )
        .await;
    assert!(
        matches!(&bad, Err(StoreError::InvalidInput { field, .. }) if field == "filter.subject_id"),
        "{bad:?}"
    );
}

//! The short, stable run of the `check_request` fuzz target (`fuzz/`): its corpus replayed,
//! and seeded properties over arbitrary bytes and over well-formed requests, all through the
//! target's own body so the fuzzer and this test cannot drift apart.

#[path = "../fuzz/src/lib.rs"]
pub mod fuzz_body;

use std::collections::HashMap;

use authz_proto::pb;
use authz_testgen::runner;
use proptest::prelude::*;
use prost::Message;

/// Failures of the short fuzz properties are persisted here and replayed first.
const REGRESSIONS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/proptest-regressions/fuzz_check_request.txt"
);

/// Cases per property: a short run, the fuzzer does the long ones.
const CASES: u32 = 256;

#[test]
fn the_check_request_fuzz_corpus_replays_cleanly() {
    let snapshot = fuzz_body::demo_snapshot();
    let directory = concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz/corpus/check_request");
    let replayed = runner::replay_corpus(directory, |data| {
        fuzz_body::check_request(&snapshot, data);
    });
    assert!(replayed >= 10, "only {replayed} corpus files");
}

#[test]
fn the_check_request_fuzz_target_survives_arbitrary_bytes() {
    let snapshot = fuzz_body::demo_snapshot();
    runner::check(
        "the_check_request_fuzz_target_survives_arbitrary_bytes",
        CASES,
        REGRESSIONS,
        prop::collection::vec(any::<u8>(), 0..512),
        |data| {
            fuzz_body::check_request(&snapshot, &data);
            Ok(())
        },
    );
}

/// Names from the demo tenant, and a few that are not in it.
fn name(names: &'static [&'static str]) -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(names).prop_map(str::to_owned),
        1 => "[a-z\\-\u{7}]{0,8}",
    ]
}

fn attribute_value() -> impl Strategy<Value = pb::AttributeValue> {
    use pb::attribute_value::Kind;
    let leaf = prop_oneof![
        "[a-z]{0,8}".prop_map(Kind::StringValue),
        any::<i64>().prop_map(Kind::IntValue),
        any::<f64>().prop_map(Kind::DoubleValue),
        any::<bool>().prop_map(Kind::BoolValue),
        (any::<i64>(), any::<i32>()).prop_map(|(seconds, nanos)| Kind::TimestampValue(
            prost_types::Timestamp { seconds, nanos }
        )),
    ]
    .prop_map(|kind| pb::AttributeValue { kind: Some(kind) });
    leaf.prop_recursive(6, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(|values| pb::AttributeValue {
                kind: Some(pb::attribute_value::Kind::ListValue(pb::AttributeList {
                    values
                })),
            }),
            prop::collection::hash_map("[a-z]{0,4}", inner, 0..6).prop_map(|fields| {
                pb::AttributeValue {
                    kind: Some(pb::attribute_value::Kind::MapValue(pb::AttributeMap {
                        fields,
                    })),
                }
            }),
        ]
    })
}

fn attributes() -> impl Strategy<Value = HashMap<String, pb::AttributeValue>> {
    prop::collection::hash_map(
        name(&["section", "primary_discipline", "level"]),
        attribute_value(),
        0..4,
    )
}

fn principal() -> impl Strategy<Value = pb::PrincipalRef> {
    (
        0..4i32,
        name(&[
            "rita",
            "carla",
            "bo",
            "sam",
            "tara",
            "hank",
            "nora",
            "sue",
            "billing-sync",
        ]),
        prop::option::of(name(&["rita-laptop", "rita-old-phone"])),
        prop::option::of(name(&["key-claims-ro"])),
        prop::option::of(0..5u64),
        any::<bool>(),
    )
        .prop_map(
            |(kind, id, session_id, api_key_id, token_version, platform)| pb::PrincipalRef {
                r#type: kind,
                id,
                session_id,
                api_key_id,
                token_version,
                platform,
            },
        )
}

/// Requests shaped like real ones: the demo tenant's principals, actions and resources with
/// attributes and context of every kind, delegation and consistency, some of them invalid.
fn check_request() -> impl Strategy<Value = pb::CheckRequest> {
    (
        name(&["sunrise-home-health"]),
        prop::option::of(principal()),
        name(&[
            "view",
            "edit",
            "approve",
            "complete",
            "reschedule",
            "teleport",
        ]),
        name(&["patient", "document", "visit", "oasis", "claim", "location"]),
        name(&[
            "p-100", "p-200", "doc-100", "v-100", "oa-100", "cl-100", "north",
        ]),
        (attributes(), attributes()),
        prop::option::of(principal()),
        prop::option::of(0..3u64),
        any::<bool>(),
    )
        .prop_map(
            |(
                tenant_id,
                principal,
                action,
                kind,
                id,
                (resource_attributes, context),
                on_behalf_of,
                consistency,
                explain,
            )| {
                use pb::consistency::Requirement;
                pb::CheckRequest {
                    tenant_id,
                    principal,
                    action,
                    resource: Some(pb::ResourceRef {
                        r#type: kind,
                        id,
                        attributes: resource_attributes,
                    }),
                    context,
                    on_behalf_of,
                    consistency: consistency.map(|choice| pb::Consistency {
                        requirement: Some(match choice {
                            0 => Requirement::MinimizeLatency(true),
                            1 => Requirement::AtLeastRevision(1),
                            _ => Requirement::FullyConsistent(true),
                        }),
                    }),
                    explain,
                    request_id: "req".to_owned(),
                }
            },
        )
}

#[test]
fn the_check_request_fuzz_target_decides_well_formed_requests() {
    let snapshot = fuzz_body::demo_snapshot();
    let strategy = prop_oneof![
        check_request().prop_map(|request| request.encode_to_vec()),
        prop::collection::vec(check_request(), 0..4)
            .prop_map(|items| pb::CheckBulkRequest { items }.encode_to_vec()),
    ];
    runner::check(
        "the_check_request_fuzz_target_decides_well_formed_requests",
        CASES,
        REGRESSIONS,
        strategy,
        |data| {
            fuzz_body::check_request(&snapshot, &data);
            Ok(())
        },
    );
}

//! Policy document parsing: legitimate tenants in MB/s, and how long hostile documents take to
//! be refused (deep nesting, alias and anchor floods, billion laughs, oversize): a refusal's
//! time is what matters, whatever the document's size, so that group reports no throughput.
//!
//! Every document is checked once before it is timed (a legitimate one parses and compiles, a
//! hostile one is refused for the limit it is built to cross), so a change that makes a
//! refusal come from somewhere else stops the run instead of timing the wrong thing.
#![allow(
    clippy::panic,
    reason = "a measurement harness, not a service: a broken fixture must stop the run loudly"
)]

mod documents;

use std::hint::black_box;
use std::time::Duration;

use authz_core::policy::{DocumentLimit, MAX_DOCUMENT_BYTES};
use authz_core::{PolicyError, Snapshot, TenantPolicy};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use documents::*;

fn legitimate(c: &mut Criterion) {
    let large = large_tenant(MAX_DOCUMENT_BYTES - 4096);
    let mut group = c.benchmark_group("parse");
    group.sample_size(20);
    group.measurement_time(Duration::from_secs(8));
    for (name, text) in [
        ("demo tenant (14 KB)", HOME_HEALTH_YAML.to_owned()),
        ("large tenant (4 MB)", large),
    ] {
        match TenantPolicy::from_yaml(&text).map(|policy| Snapshot::compile(&policy, None, 1)) {
            Ok(Ok(_)) => {}
            Ok(Err(error)) | Err(error) => panic!("{name} is not a valid tenant: {error}"),
        }
        group.throughput(Throughput::BytesDecimal(text.len() as u64));
        group.bench_function(name, |b| {
            b.iter(|| TenantPolicy::from_yaml(black_box(&text)));
        });
    }
    group.finish();
}

fn hostile(c: &mut Criterion) {
    let size = MAX_DOCUMENT_BYTES - 4096;
    let mut oversize = String::from("tenant: { id: acme }\n");
    oversize.push_str(&"#".repeat(MAX_DOCUMENT_BYTES + 1 - oversize.len()));
    let cases = [
        (
            "flow sequences, depth 100,000",
            with_attribute(&flow_sequences(100_000)),
            Some(DocumentLimit::Depth),
        ),
        (
            "flow mappings, depth 100,000",
            with_attribute(&flow_mappings(100_000)),
            Some(DocumentLimit::Depth),
        ),
        (
            "block sequences, depth 100,000",
            with_attribute(&block_sequences(100_000)),
            Some(DocumentLimit::Depth),
        ),
        (
            "block mappings, depth 2,000 (2 MB)",
            with_attribute(&block_mappings(2_000)),
            Some(DocumentLimit::Depth),
        ),
        (
            "flow sequences, 4 MiB",
            with_attribute(&flow_sequences(size / 2)),
            Some(DocumentLimit::Depth),
        ),
        // The policy's types refuse the first `[` (a parse error, not a limit).
        (
            "tenant: [[[…]]], depth 100,000",
            tenant_flow_sequences(100_000),
            None,
        ),
        (
            "alias flood, 4 MiB",
            alias_flood(size),
            Some(DocumentLimit::Aliases),
        ),
        (
            "anchor flood, 4 MiB",
            anchor_flood(size),
            Some(DocumentLimit::Anchors),
        ),
        (
            "billion laughs (9 levels)",
            billion_laughs(9),
            Some(DocumentLimit::AliasExpansion),
        ),
        ("one byte over 4 MiB", oversize, Some(DocumentLimit::Size)),
    ];
    let mut group = c.benchmark_group("refuse");
    group.sample_size(20);
    for (name, text, expected) in cases {
        match (TenantPolicy::from_yaml(&text), expected) {
            (Err(PolicyError::DocumentLimit { limit, .. }), Some(expected))
                if limit == expected => {}
            (Err(PolicyError::Parse(_)), None) => {}
            (outcome, _) => panic!("{name}: expected {expected:?}, got {outcome:?}"),
        }
        group.bench_function(name, |b| {
            b.iter(|| TenantPolicy::from_yaml(black_box(&text)).is_err());
        });
    }
    group.finish();
}

criterion_group!(benches, legitimate, hostile);
criterion_main!(benches);

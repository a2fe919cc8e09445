//! Arbitrary bytes as a `CheckRequest` and as a `CheckBulkRequest`: decode, validate, and
//! decide against the demo tenant.
#![no_main]

use std::sync::LazyLock;

use authz_core::Snapshot;

static DEMO: LazyLock<Snapshot> = LazyLock::new(authz_proto_fuzz::demo_snapshot);

libfuzzer_sys::fuzz_target!(|data: &[u8]| authz_proto_fuzz::check_request(&DEMO, data));

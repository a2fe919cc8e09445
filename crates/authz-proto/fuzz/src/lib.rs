//! The body of authz-proto's fuzz target, apart from libFuzzer so that the normal test suite
//! (`crates/authz-proto/tests/fuzz_check_request.rs`) replays the corpus through this very
//! code.
#![allow(
    clippy::panic,
    reason = "a fuzz harness: a broken fixture or a violated property must stop the run"
)]

use authz_core::{Snapshot, TenantPolicy};
use authz_proto::convert::{self, ValidatedCheck};
use authz_proto::pb;
use chrono::{DateTime, Utc};
use prost::Message;

/// The demo tenant the requests are decided against.
const DEMO_TENANT_YAML: &str = include_str!("../../../../deploy/examples/home-health.yaml");

/// The demo tenant, compiled (once per fuzzing process).
pub fn demo_snapshot() -> Snapshot {
    let policy = match TenantPolicy::from_yaml(DEMO_TENANT_YAML) {
        Ok(policy) => policy,
        Err(error) => panic!("the demo tenant does not parse: {error}"),
    };
    match Snapshot::compile(&policy, None, 1) {
        Ok(snapshot) => snapshot,
        Err(error) => panic!("the demo tenant does not compile: {error}"),
    }
}

/// `check_request`: any bytes, as a `CheckRequest` and as a `CheckBulkRequest` (what the
/// server decodes off the wire). Every input may be refused; none may panic, hang or take
/// memory out of proportion to its size. A request that validates is decided, its explained
/// decision agrees with the plain one, and its response encodes.
pub fn check_request(snapshot: &Snapshot, data: &[u8]) {
    if let Ok(message) = pb::CheckRequest::decode(data)
        && let Ok(check) = convert::validate_check(&message, "")
    {
        decide(snapshot, &check);
    }
    if let Ok(message) = pb::CheckBulkRequest::decode(data)
        && let Ok(checks) = convert::validate_bulk(&message)
    {
        assert!(checks.len() <= authz_core::limits::MAX_BULK_ITEMS);
        for check in &checks {
            decide(snapshot, check);
        }
    }
}

fn decide(snapshot: &Snapshot, check: &ValidatedCheck<'_>) {
    // Fixed: the engine reads no clock, and a fuzz run must be reproducible.
    let now = DateTime::<Utc>::from_timestamp(1_748_876_400, 0).unwrap_or_default();
    let request = check.request(now);
    let decision = snapshot.check(&request);
    let (explained, trace) = snapshot.explain(&request);
    assert_eq!(
        (decision.allowed, decision.reason),
        (explained.allowed, explained.reason),
        "check and explain disagree on {check:?}"
    );
    let response =
        convert::decision_to_proto(&decision, check.explain.then_some(trace), check.request_id);
    assert_eq!(
        response.decision == pb::Decision::Allow as i32,
        decision.allowed
    );
    let _ = response.encode_to_vec();
}

//! Differential test: our engine and cedar-policy, given equivalent policies for the demo
//! tenant, agree on every decision of the benchmark's request universe. The benchmark's
//! speed comparison is only meaningful because of this.

use authz_bench::{cedar_fixture, cross_check, demo_policy, demo_snapshot};

#[test]
fn ours_and_cedar_agree_on_every_decision_of_the_demo_universe() {
    let policy = demo_policy();
    let snapshot = demo_snapshot(&policy);
    let cedar = cedar_fixture(&policy);
    let (compared, allowed) = cross_check(&policy, &snapshot, &cedar);
    // The universe must exercise both verdicts, or agreement would prove little.
    assert!(compared >= 500, "only {compared} decisions compared");
    assert!(
        allowed > 0 && allowed < compared,
        "{allowed} of {compared} allowed"
    );
}

//! Tenant isolation from the outside: two generated tenants that use the same ids for
//! principals, roles, bindings and resources, but different data, served by one real server
//! over gRPC. A request naming one tenant is answered from that tenant's data alone — as the
//! reference model of that tenant says, and exactly as a server holding that tenant alone
//! answers.

#![allow(
    clippy::expect_used,
    reason = "test helpers: a failed setup must stop the test loudly"
)]

use std::collections::HashMap;

use authz_core::PrincipalKind;
use authz_proto::convert::{reason_to_proto, visibility_to_proto};
use authz_proto::pb;
use authz_testgen::world::base_time;
use authz_testgen::{Expected, Request, RequestSpec, World, expected, runner};
use authz_tests::TestServer;

/// Tenant pairs per run, and requests per pair.
const PAIRS: usize = 8;
const REQUESTS: usize = 24;

fn principal(id: &str, kind: PrincipalKind) -> pb::PrincipalRef {
    pb::PrincipalRef {
        r#type: match kind {
            PrincipalKind::User => pb::PrincipalType::User,
            PrincipalKind::Service => pb::PrincipalType::Service,
        } as i32,
        id: id.to_owned(),
        ..Default::default()
    }
}

fn int(value: i64) -> pb::AttributeValue {
    pb::AttributeValue {
        kind: Some(pb::attribute_value::Kind::IntValue(value)),
    }
}

/// The wire form of a generated request, in `tenant`.
fn wire(tenant: &str, request: &Request) -> pb::CheckRequest {
    let mut asker = principal(&request.principal, request.kind);
    asker.session_id = request.session_id.clone();
    asker.api_key_id = request.api_key_id.clone();
    asker.token_version = request.token_version;
    pb::CheckRequest {
        tenant_id: tenant.to_owned(),
        principal: Some(asker),
        action: request.action.clone(),
        resource: Some(pb::ResourceRef {
            r#type: request.resource_type.clone(),
            id: request.resource_id.clone(),
            attributes: request
                .amount
                .map(|amount| HashMap::from([("amount".to_owned(), int(amount))]))
                .unwrap_or_default(),
        }),
        context: request
            .level
            .map(|level| HashMap::from([("level".to_owned(), int(level))]))
            .unwrap_or_default(),
        on_behalf_of: request
            .on_behalf_of
            .as_ref()
            .map(|(id, kind)| principal(id, *kind)),
        ..Default::default()
    }
}

/// Every way `response` differs from what the reference model expects.
fn differences(response: &pb::CheckResponse, want: &Expected) -> Vec<String> {
    let basis = response.decided_by.clone().unwrap_or_default();
    let obligations = response.obligations.clone().unwrap_or_default();
    let visibility: HashMap<String, i32> = want
        .visibility
        .iter()
        .flatten()
        .map(|(field, shown)| (field.clone(), visibility_to_proto(*shown) as i32))
        .collect();
    let decision = if want.allowed {
        pb::Decision::Allow
    } else {
        pb::Decision::Deny
    };
    let pairs = [
        (
            "decision",
            format!("{}", decision as i32),
            response.decision.to_string(),
        ),
        (
            "reason",
            format!("{}", reason_to_proto(want.reason()) as i32),
            response.reason.to_string(),
        ),
        ("role_id", want.role_id.clone(), basis.role_id),
        ("binding_id", want.binding_id.clone(), basis.binding_id),
        ("scope", want.scope.clone().unwrap_or_default(), basis.scope),
        (
            "constraint_id",
            want.constraint_id.clone(),
            basis.constraint_id,
        ),
        (
            "delegation_id",
            want.delegation_id.clone(),
            basis.delegation_id,
        ),
        (
            "field_visibility",
            format!("{:?}", sorted(&visibility)),
            format!("{:?}", sorted(&obligations.field_visibility)),
        ),
        (
            "step_up",
            want.step_up.to_string(),
            obligations.step_up.is_some().to_string(),
        ),
    ];
    pairs
        .into_iter()
        .filter(|(_, want, got)| want != got)
        .map(|(what, want, got)| format!("{what}: expected {want}, served {got}"))
        .collect()
}

fn sorted(map: &HashMap<String, i32>) -> Vec<(&String, &i32)> {
    let mut entries: Vec<_> = map.iter().collect();
    entries.sort();
    entries
}

#[tokio::test]
async fn a_request_naming_one_tenant_is_answered_from_that_tenant_alone() {
    let cases: Vec<((World, World), Vec<RequestSpec>)> = runner::draw(
        "a_request_naming_one_tenant_is_answered_from_that_tenant_alone",
        (
            (authz_testgen::world(), authz_testgen::world()),
            authz_testgen::requests(REQUESTS),
        ),
        PAIRS,
    );
    let mut failures = Vec::new();
    let (mut asked, mut differing) = (0, 0);
    for (pair, ((acme, globex), specs)) in cases.iter().enumerate() {
        let shared = TestServer::serve(
            vec![acme.policy("acme"), globex.policy("globex")],
            base_time(),
        )
        .await;
        let alone = TestServer::serve(vec![acme.policy("acme")], base_time()).await;
        let mut shared_client = shared.client().await;
        let mut alone_client = alone.client().await;
        for spec in specs {
            // The servers' clocks stand at minute 0.
            let mut request = spec.resolve(acme);
            request.minute = 0;
            let mut served = Vec::new();
            for (tenant, world) in [("acme", acme), ("globex", globex)] {
                let response = shared_client
                    .check(wire(tenant, &request))
                    .await
                    .expect("check answers")
                    .into_inner();
                let wrong = differences(&response, &expected(world, &request));
                if !wrong.is_empty() {
                    failures.push(format!(
                        "pair {pair}, {tenant}: {}: {}",
                        request.describe(),
                        wrong.join("; ")
                    ));
                }
                served.push(response);
            }
            let by_itself = alone_client
                .check(wire("acme", &request))
                .await
                .expect("check answers")
                .into_inner();
            if by_itself != served[0] {
                failures.push(format!(
                    "pair {pair}: {}: served alone {by_itself:?}, served beside globex {:?}",
                    request.describe(),
                    served[0]
                ));
            }
            asked += 1;
            differing += usize::from(served[0].decision != served[1].decision);
        }
        shared.stop().await;
        alone.stop().await;
    }
    println!("{asked} requests, answered differently by the two tenants: {differing}");
    assert!(
        failures.is_empty(),
        "{} wrong answers:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(
        differing * 10 >= asked,
        "the tenants differ on only {differing} of {asked} requests: a leak would hardly show"
    );
}

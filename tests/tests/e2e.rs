//! End-to-end: the real server on a real port, called over gRPC with tonic clients.

#![allow(
    clippy::expect_used,
    reason = "test helpers: a failed setup must stop the test loudly"
)]

use authz_proto::pb;
use authz_tests::{TestServer, check_request, string_value, user};
use tonic::Code;
use tonic_types::StatusExt;

const DEMO: &str = "sunrise-home-health";

fn decision(response: &pb::CheckResponse) -> (pb::Decision, pb::ReasonCode) {
    (
        pb::Decision::try_from(response.decision).unwrap_or(pb::Decision::Unspecified),
        pb::ReasonCode::try_from(response.reason).unwrap_or(pb::ReasonCode::Unspecified),
    )
}

type Client =
    pb::authorization_service_client::AuthorizationServiceClient<tonic::transport::Channel>;

/// Asks one question; a transport or status error fails the test.
async fn ask(client: &mut Client, request: pb::CheckRequest) -> pb::CheckResponse {
    client
        .check(request)
        .await
        .expect("check answers")
        .into_inner()
}

/// The field named in the `BadRequest` detail of an `INVALID_ARGUMENT` status.
#[track_caller]
fn violated_field(status: &tonic::Status) -> String {
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    let bad_request = status
        .get_details_bad_request()
        .expect("BadRequest details");
    bad_request.field_violations[0].field.clone()
}

#[tokio::test]
async fn check_answers_the_demo_matrix_over_grpc() {
    let server = TestServer::demo().await;
    let mut client = server.client().await;
    let cases = [
        (
            "rita",
            "view",
            "patient:p-100",
            pb::Decision::Allow,
            pb::ReasonCode::Granted,
        ),
        (
            "rita",
            "view",
            "patient:p-200",
            pb::Decision::Deny,
            pb::ReasonCode::OutOfScope,
        ),
        (
            "sam",
            "document_sn",
            "visit:v-100",
            pb::Decision::Deny,
            pb::ReasonCode::NoMatchingGrant,
        ),
        (
            "carla",
            "approve",
            "document:doc-100",
            pb::Decision::Deny,
            pb::ReasonCode::ForbiddenByConstraint,
        ),
        (
            "carla",
            "approve",
            "document:doc-200",
            pb::Decision::Allow,
            pb::ReasonCode::Granted,
        ),
        (
            "sue",
            "view",
            "claim:cl-100",
            pb::Decision::Deny,
            pb::ReasonCode::PrincipalInactive,
        ),
        (
            "nobody",
            "view",
            "patient:p-100",
            pb::Decision::Deny,
            pb::ReasonCode::PrincipalUnknown,
        ),
        (
            "ada",
            "fly",
            "patient:p-100",
            pb::Decision::Deny,
            pb::ReasonCode::UnknownAction,
        ),
        (
            "ada",
            "view",
            "spaceship:1",
            pb::Decision::Deny,
            pb::ReasonCode::UnknownResourceType,
        ),
    ];
    for (principal, action, resource, want_decision, want_reason) in cases {
        let response = ask(
            &mut client,
            check_request(DEMO, user(principal), action, resource),
        )
        .await;
        assert_eq!(
            decision(&response),
            (want_decision, want_reason),
            "{principal} {action} {resource}: {}",
            response.message
        );
        assert_eq!(
            response.revision,
            server.revision(DEMO),
            "decisions carry the snapshot revision"
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn allow_carries_basis_and_field_visibility_obligations() {
    let server = TestServer::demo().await;
    let mut client = server.client().await;
    let response = ask(
        &mut client,
        check_request(DEMO, user("rita"), "view", "patient:p-100"),
    )
    .await;
    let basis = response.decided_by.expect("basis");
    assert_eq!(basis.role_id, "rn_case_manager");
    assert_eq!(basis.binding_id, "b-rita");
    assert_eq!(basis.scope, "related:assignee");
    let obligations = response.obligations.expect("obligations");
    assert_eq!(
        obligations.field_visibility.get("ssn"),
        Some(&(pb::FieldVisibility::Full as i32))
    );

    // The scheduler sees the patient but none of its classified fields.
    let response = ask(
        &mut client,
        check_request(DEMO, user("sam"), "view", "patient:p-100"),
    )
    .await;
    assert_eq!(decision(&response).0, pb::Decision::Allow);
    let fields = response.obligations.expect("obligations").field_visibility;
    assert_eq!(fields.get("ssn"), Some(&(pb::FieldVisibility::Off as i32)));
    assert_eq!(
        fields.get("diagnoses"),
        Some(&(pb::FieldVisibility::Off as i32))
    );
}

#[tokio::test]
async fn conditions_read_request_context() {
    let server = TestServer::demo().await;
    let mut client = server.client().await;
    for (section, want) in [
        ("billing", pb::ReasonCode::Granted),
        ("clinical", pb::ReasonCode::ConditionNotMet),
    ] {
        let mut request = check_request(DEMO, user("bo"), "edit", "patient:p-100");
        request
            .context
            .insert("section".to_owned(), string_value(section));
        let response = ask(&mut client, request).await;
        assert_eq!(
            decision(&response).1,
            want,
            "section {section}: {}",
            response.message
        );
    }
}

#[tokio::test]
async fn explain_returns_the_trace_with_the_same_verdict() {
    let server = TestServer::demo().await;
    let mut client = server.client().await;
    for (principal, action, resource) in [
        ("rita", "view", "patient:p-100"),
        ("carla", "approve", "document:doc-100"),
    ] {
        let plain = ask(
            &mut client,
            check_request(DEMO, user(principal), action, resource),
        )
        .await;
        let mut request = check_request(DEMO, user(principal), action, resource);
        request.explain = true;
        let explained = ask(&mut client, request).await;
        assert_eq!(decision(&plain), decision(&explained));
        assert!(plain.explain.is_none(), "no trace unless asked");
        let steps = explained.explain.expect("trace").steps;
        let last = steps.last().expect("a decision step");
        assert_eq!(last.stage, "decision");
        let want = if decision(&plain).0 == pb::Decision::Allow {
            pb::StepOutcome::Pass
        } else {
            pb::StepOutcome::Fail
        };
        assert_eq!(last.outcome, want as i32);
    }
}

#[tokio::test]
async fn session_and_token_version_are_verified() {
    let server = TestServer::demo().await;
    let mut client = server.client().await;
    let cases = [
        (Some("rita-laptop"), Some(3), pb::ReasonCode::Granted),
        (
            Some("rita-old-phone"),
            Some(3),
            pb::ReasonCode::SessionInvalid,
        ),
        (Some("stolen"), Some(3), pb::ReasonCode::SessionInvalid),
        (
            Some("rita-laptop"),
            Some(2),
            pb::ReasonCode::TokenVersionStale,
        ),
        // Issued after a bump this server has not seen yet: retry, do not trust.
        (Some("rita-laptop"), Some(4), pb::ReasonCode::Stale),
        (None, None, pb::ReasonCode::Granted),
    ];
    for (session, token_version, want) in cases {
        let mut principal = user("rita");
        principal.session_id = session.map(str::to_owned);
        principal.token_version = token_version;
        let response = ask(
            &mut client,
            check_request(DEMO, principal, "view", "patient:p-100"),
        )
        .await;
        assert_eq!(
            decision(&response).1,
            want,
            "{session:?} {token_version:?}: {}",
            response.message
        );
    }
}

#[tokio::test]
async fn check_bulk_answers_in_order() {
    let server = TestServer::demo().await;
    let mut client = server.client().await;
    let items = vec![
        check_request(DEMO, user("rita"), "view", "patient:p-100"),
        check_request(DEMO, user("rita"), "view", "patient:p-200"),
        check_request("no-such-tenant", user("rita"), "view", "patient:p-100"),
        check_request(DEMO, user("ada"), "manage_settings", "agency:sunrise"),
    ];
    let results = client
        .check_bulk(pb::CheckBulkRequest { items })
        .await
        .expect("bulk answers")
        .into_inner()
        .results;
    let got: Vec<_> = results.iter().map(decision).collect();
    assert_eq!(
        got,
        vec![
            (pb::Decision::Allow, pb::ReasonCode::Granted),
            (pb::Decision::Deny, pb::ReasonCode::OutOfScope),
            (pb::Decision::Deny, pb::ReasonCode::TenantUnknown),
            (pb::Decision::Allow, pb::ReasonCode::Granted),
        ]
    );
}

#[tokio::test]
async fn malformed_requests_are_invalid_argument_naming_the_field() {
    let server = TestServer::demo().await;
    let mut client = server.client().await;
    let valid = || check_request(DEMO, user("rita"), "view", "patient:p-100");
    let long_id = "x".repeat(257);
    let many_attributes: std::collections::HashMap<_, _> = (0..65)
        .map(|i| (format!("k{i}"), string_value("v")))
        .collect();
    let deep = (0..5).fold(string_value("leaf"), |inner, _| pb::AttributeValue {
        kind: Some(pb::attribute_value::Kind::ListValue(pb::AttributeList {
            values: vec![inner],
        })),
    });
    // 60 entries × a 20-element list: every level within its own bound, 1,260 values in all.
    let wide: std::collections::HashMap<_, _> = (0..60)
        .map(|i| {
            let list = pb::AttributeList {
                values: vec![string_value("v"); 20],
            };
            let value = pb::AttributeValue {
                kind: Some(pb::attribute_value::Kind::ListValue(list)),
            };
            (format!("k{i}"), value)
        })
        .collect();
    type Mutation = Box<dyn Fn(&mut pb::CheckRequest)>;
    let cases: Vec<(&str, Mutation)> = vec![
        ("tenant_id", Box::new(|r| r.tenant_id.clear())),
        ("principal", Box::new(|r| r.principal = None)),
        (
            "principal.id",
            Box::new(|r| r.principal.as_mut().expect("set").id.clear()),
        ),
        (
            "principal.type",
            Box::new(|r| r.principal.as_mut().expect("set").r#type = 0),
        ),
        (
            "principal.type",
            Box::new(|r| r.principal.as_mut().expect("set").r#type = 99),
        ),
        ("action", Box::new(|r| r.action.clear())),
        ("resource", Box::new(|r| r.resource = None)),
        ("resource.id", {
            let long_id = long_id.clone();
            Box::new(move |r| r.resource.as_mut().expect("set").id = long_id.clone())
        }),
        ("principal.session_id", {
            let long_id = long_id.clone();
            Box::new(move |r| r.principal.as_mut().expect("set").session_id = Some(long_id.clone()))
        }),
        (
            "context",
            Box::new(move |r| r.context = many_attributes.clone()),
        ),
        (
            "resource.attributes",
            Box::new(move |r| r.resource.as_mut().expect("set").attributes = wide.clone()),
        ),
        ("resource.attributes[\"deep\"]", {
            Box::new(move |r| {
                r.resource
                    .as_mut()
                    .expect("set")
                    .attributes
                    .insert("deep".to_owned(), deep.clone());
            })
        }),
        (
            "context[\"empty\"]",
            Box::new(|r| {
                r.context
                    .insert("empty".to_owned(), pb::AttributeValue { kind: None });
            }),
        ),
        (
            "on_behalf_of.id",
            Box::new(|r| {
                r.on_behalf_of = Some(pb::PrincipalRef {
                    r#type: pb::PrincipalType::User as i32,
                    ..Default::default()
                });
            }),
        ),
    ];
    for (want_field, mutate) in cases {
        let mut request = valid();
        mutate(&mut request);
        let status = client.check(request).await.expect_err("rejected");
        assert!(
            violated_field(&status).starts_with(want_field),
            "want `{want_field}`, got {status:?}"
        );
    }

    // Bulk: the bad item is named by its index; empty and oversized batches are rejected.
    let mut bad = valid();
    bad.action.clear();
    let status = client
        .check_bulk(pb::CheckBulkRequest {
            items: vec![valid(), bad],
        })
        .await
        .expect_err("rejected");
    assert_eq!(violated_field(&status), "items[1].action");
    let status = client
        .check_bulk(pb::CheckBulkRequest { items: vec![] })
        .await
        .expect_err("rejected");
    assert_eq!(violated_field(&status), "items");
    let status = client
        .check_bulk(pb::CheckBulkRequest {
            items: vec![valid(); 101],
        })
        .await
        .expect_err("rejected");
    assert_eq!(violated_field(&status), "items");

    // The server is still healthy after all of that.
    let response = ask(&mut client, valid()).await;
    assert_eq!(decision(&response).0, pb::Decision::Allow);
}

#[tokio::test]
async fn unknown_tenant_and_future_revision_deny_with_reason() {
    let server = TestServer::demo().await;
    let mut client = server.client().await;
    let response = ask(
        &mut client,
        check_request("acme", user("rita"), "view", "patient:p-100"),
    )
    .await;
    assert_eq!(
        decision(&response),
        (pb::Decision::Deny, pb::ReasonCode::TenantUnknown)
    );

    let mut request = check_request(DEMO, user("rita"), "view", "patient:p-100");
    request.consistency = Some(pb::Consistency {
        requirement: Some(pb::consistency::Requirement::AtLeastRevision(99)),
    });
    let response = ask(&mut client, request).await;
    assert_eq!(
        decision(&response),
        (pb::Decision::Deny, pb::ReasonCode::Stale)
    );
}

const TENANT_A: &str = r#"
tenant: { id: tenant-a }
catalog:
  resource_types:
    patient:
      relations: { assignee: { subject: user } }
      actions: { view: {} }
roles:
  - { id: nurse, role_type: clinician, grants: [ { permission: patient.view, scope: "related:assignee" } ] }
  - { id: admin, role_type: admin, grants: [ { permission: patient.view } ] }
principals: [ { id: alice }, { id: root } ]
bindings:
  - { id: b1, principal: alice, role: nurse }
  - { id: b2, principal: root, role: admin }
relationships: [ "patient:1#assignee@user:alice" ]
"#;

const TENANT_B: &str = r#"
tenant: { id: tenant-b }
catalog:
  resource_types:
    patient:
      relations: { assignee: { subject: user } }
      actions: { view: {} }
roles:
  - { id: nurse, role_type: clinician, grants: [ { permission: patient.view, scope: "related:assignee" } ] }
principals: [ { id: alice } ]
bindings: [ { id: b1, principal: alice, role: nurse } ]
relationships: [ "patient:2#assignee@user:alice" ]
"#;

#[tokio::test]
async fn tenant_boundaries_hold_from_the_outside() {
    let server = TestServer::start(&[TENANT_A, TENANT_B]).await;
    let mut client = server.client().await;
    let cases = [
        // Same ids in both tenants: each tenant's facts decide only there.
        ("tenant-a", "alice", "patient:1", pb::ReasonCode::Granted),
        ("tenant-b", "alice", "patient:1", pb::ReasonCode::OutOfScope),
        ("tenant-b", "alice", "patient:2", pb::ReasonCode::Granted),
        ("tenant-a", "alice", "patient:2", pb::ReasonCode::OutOfScope),
        // A tenant-wide admin of A is nobody in B.
        ("tenant-a", "root", "patient:2", pb::ReasonCode::Granted),
        (
            "tenant-b",
            "root",
            "patient:2",
            pb::ReasonCode::PrincipalUnknown,
        ),
        // The demo tenant is not loaded here.
        (DEMO, "alice", "patient:1", pb::ReasonCode::TenantUnknown),
    ];
    for (tenant, principal, resource, want) in cases {
        let response = ask(
            &mut client,
            check_request(tenant, user(principal), "view", resource),
        )
        .await;
        assert_eq!(
            decision(&response).1,
            want,
            "{tenant} {principal} {resource}: {}",
            response.message
        );
    }
}

#[tokio::test]
async fn stages_not_built_yet_answer_unimplemented() {
    let server = TestServer::demo().await;
    let channel = server.channel().await;
    let mut authorization =
        pb::authorization_service_client::AuthorizationServiceClient::new(channel.clone());
    let status = authorization
        .list_accessible(pb::ListAccessibleRequest::default())
        .await
        .expect_err("not built yet");
    assert_eq!(status.code(), Code::Unimplemented);
    let mut admin = pb::admin_service_client::AdminServiceClient::new(channel.clone());
    // Admin calls of the next stage (principals, roles, …) are stubs; this stage's are built.
    let status = admin
        .create_principal(pb::CreatePrincipalRequest::default())
        .await
        .expect_err("not built yet");
    assert_eq!(status.code(), Code::Unimplemented);
    let mut audit = pb::audit_service_client::AuditServiceClient::new(channel);
    let status = audit
        .verify(pb::VerifyRequest::default())
        .await
        .expect_err("not built yet");
    assert_eq!(status.code(), Code::Unimplemented);
}

#[tokio::test]
async fn health_and_reflection_are_served() {
    use tonic_health::pb::health_check_response::ServingStatus;
    use tonic_health::pb::health_client::HealthClient;
    use tonic_reflection::pb::v1::ServerReflectionRequest;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

    let server = TestServer::demo().await;
    let channel = server.channel().await;
    let mut health = HealthClient::new(channel.clone());
    let status = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: "authz.v1.AuthorizationService".to_owned(),
        })
        .await
        .expect("health answers")
        .into_inner()
        .status;
    assert_eq!(status, ServingStatus::Serving as i32);

    let mut reflection = ServerReflectionClient::new(channel);
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut responses = reflection
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .expect("reflection answers")
        .into_inner();
    let response = responses
        .message()
        .await
        .expect("a response")
        .expect("not empty");
    let Some(MessageResponse::ListServicesResponse(list)) = response.message_response else {
        panic!("unexpected reflection response: {response:?}");
    };
    let names: Vec<_> = list.service.iter().map(|s| s.name.as_str()).collect();
    for want in [
        "authz.v1.AuthorizationService",
        "authz.v1.AdminService",
        "authz.v1.AuditService",
        "grpc.health.v1.Health",
    ] {
        assert!(names.contains(&want), "{want} missing from {names:?}");
    }
}

const PLATFORM: &str = r#"
tenant: { id: platform }
catalog:
  resource_types:
    agency:
      actions: { create: {}, view: {} }
roles:
  - { id: support_engineer, role_type: support, grants: [ { permission: "*.view" } ] }
principals: [ { id: pat }, { id: sid } ]
bindings:
  - { id: pb-pat, principal: pat, role: support_engineer }
  - { id: pb-sid, principal: sid, role: support_engineer, tenants: [tenant-b] }
"#;

#[tokio::test]
async fn platform_staff_are_the_only_path_across_tenants() {
    let server = TestServer::start(&[PLATFORM, TENANT_A, TENANT_B]).await;
    let mut client = server.client().await;
    let staff = |id: &str| pb::PrincipalRef {
        platform: true,
        ..user(id)
    };
    let cases = [
        // Read-only support reaches every tenant it is bound to, and only reads.
        ("tenant-a", staff("pat"), "view", pb::ReasonCode::Granted),
        ("tenant-b", staff("pat"), "view", pb::ReasonCode::Granted),
        (
            "tenant-a",
            staff("sid"),
            "view",
            pb::ReasonCode::PrincipalUnknown,
        ),
        ("tenant-b", staff("sid"), "view", pb::ReasonCode::Granted),
        // Without the platform flag the same id is looked up among the tenant's own people.
        (
            "tenant-a",
            user("pat"),
            "view",
            pb::ReasonCode::PrincipalUnknown,
        ),
        // A tenant's own user cannot claim to be platform staff.
        (
            "tenant-a",
            staff("alice"),
            "view",
            pb::ReasonCode::PrincipalUnknown,
        ),
    ];
    for (tenant, principal, action, want) in cases {
        let who = format!(
            "{}{}",
            principal.id,
            if principal.platform {
                " (platform)"
            } else {
                ""
            }
        );
        let response = ask(
            &mut client,
            check_request(tenant, principal, action, "patient:1"),
        )
        .await;
        assert_eq!(
            decision(&response).1,
            want,
            "{tenant} {who}: {}",
            response.message
        );
    }
}

const APPEALS: &str = r#"
tenant: { id: denialbase }
catalog:
  resource_types:
    appeal:
      actions: { sign: {}, view: {} }
roles:
  - { id: provider, role_type: provider, grants: [ { permissions: [appeal.sign, appeal.view] } ] }
  - { id: staff, role_type: user, grants: [ { permission: appeal.view } ] }
principals: [ { id: dr-lee }, { id: sam } ]
bindings:
  - { id: b1, principal: dr-lee, role: provider }
  - { id: b2, principal: sam, role: staff }
delegations:
  - id: d-1
    delegator: dr-lee
    delegate: sam
    permissions: [appeal.sign]
    not_before: "2026-11-01T00:00:00Z"
    expires_at: "2026-12-01T00:00:00Z"
    reason: signs appeals while Dr. Lee is on leave
"#;

#[tokio::test]
async fn delegated_signing_names_both_identities() {
    let server = TestServer::start(&[APPEALS]).await;
    let mut client = server.client().await;

    // Sam alone may not sign.
    let response = ask(
        &mut client,
        check_request("denialbase", user("sam"), "sign", "appeal:a-1"),
    )
    .await;
    assert_eq!(decision(&response).1, pb::ReasonCode::NoMatchingGrant);

    // On Dr. Lee's behalf, inside the window, he may; the answer names the delegation.
    let mut request = check_request("denialbase", user("sam"), "sign", "appeal:a-1");
    request.on_behalf_of = Some(user("dr-lee"));
    let response = ask(&mut client, request).await;
    assert_eq!(
        decision(&response).1,
        pb::ReasonCode::Granted,
        "{}",
        response.message
    );
    let basis = response.decided_by.expect("basis");
    assert_eq!(basis.delegation_id, "d-1");
    assert_eq!(basis.role_id, "provider");

    // Nobody delegated to Dr. Lee: the reverse is refused.
    let mut request = check_request("denialbase", user("dr-lee"), "sign", "appeal:a-1");
    request.on_behalf_of = Some(user("sam"));
    let response = ask(&mut client, request).await;
    assert_eq!(decision(&response).1, pb::ReasonCode::DelegationInvalid);
}

//! The admin API from the outside: who may call (API keys as bearer secrets, authorised by the
//! engine against the built-in `authz.*` permissions), what a refused call leaves behind
//! (nothing), and what an accepted one changes (visible to `Check` at the revision it returns).

#![allow(
    clippy::expect_used,
    reason = "test helpers: a failed setup must stop the test loudly"
)]

use authz_admin::secret_hash;
use authz_proto::pb;
use authz_proto::pb::admin_service_client::AdminServiceClient;
use authz_tests::admin_fixtures::{OPS_SECRET, platform_policy, with_key};
use authz_tests::{TestServer, check_request, user};
use tonic::Code;
use tonic::transport::Channel;
use tonic_types::StatusExt;

const ADA_SECRET: &str = "acme-admin-secret-0123456789abcdefgh";
const NURSE_SECRET: &str = "acme-nurse-secret-0123456789abcdefgh";
const REVOKED_SECRET: &str = "acme-revoked-secret-0123456789abcdef";
const BETA_SECRET: &str = "beta-admin-secret-0123456789abcdefgh";

fn platform() -> String {
    platform_policy(OPS_SECRET)
}

fn clinic(id: &str, admin_secret: &str) -> String {
    format!(
        r#"
tenant: {{ id: {id} }}
catalog:
  resource_types:
    patient:
      relations: {{ assignee: {{ subject: user }} }}
      actions: {{ view: {{}} }}
roles:
  - {{ id: admin, role_type: admin, grants: [{{ permissions: ["*"] }}] }}
  - {{ id: nurse, role_type: nurse, grants: [{{ permission: patient.view, scope: "related:assignee" }}] }}
principals:
  - id: ada
    api_keys:
      - {{ id: k-ada, scopes: ["*"], secret_hash: "{admin}" }}
      - {{ id: k-old, scopes: ["*"], secret_hash: "{revoked}", revoked: true }}
  - id: nina
    api_keys: [{{ id: k-nina, scopes: ["*"], secret_hash: "{nurse}" }}]
bindings:
  - {{ id: b-ada, principal: ada, role: admin }}
  - {{ id: b-nina, principal: nina, role: nurse }}
relationships: ["patient:p1#assignee@user:nina"]
"#,
        admin = secret_hash(admin_secret),
        revoked = secret_hash(&format!("{id}-{REVOKED_SECRET}")),
        nurse = secret_hash(&format!("{id}-{NURSE_SECRET}")),
    )
}

async fn server() -> TestServer {
    TestServer::start(&[
        &platform(),
        &clinic("acme", ADA_SECRET),
        &clinic("beta", BETA_SECRET),
    ])
    .await
}

async fn admin(server: &TestServer) -> AdminServiceClient<Channel> {
    AdminServiceClient::new(server.channel().await)
}

fn touch(resource_id: &str, subject_id: &str) -> pb::RelationshipUpdate {
    pb::RelationshipUpdate {
        op: pb::relationship_update::Operation::Touch as i32,
        relationship: Some(pb::Relationship {
            resource_type: "patient".into(),
            resource_id: resource_id.into(),
            relation: "assignee".into(),
            subject_type: "user".into(),
            subject_id: subject_id.into(),
        }),
    }
}

/// Every admin call this stage serves, with `secret`, against tenant `tenant`: the status codes.
async fn every_call(
    client: &mut AdminServiceClient<Channel>,
    secret: Option<&str>,
    tenant: &str,
) -> Vec<(&'static str, Code)> {
    let code = |result: Result<_, tonic::Status>| {
        result.map_or_else(|status: tonic::Status| status.code(), |_| Code::Ok)
    };
    vec![
        (
            "write_relationships",
            code(
                client
                    .write_relationships(with_key(
                        secret,
                        pb::WriteRelationshipsRequest {
                            tenant_id: tenant.into(),
                            updates: vec![touch("p9", "nina")],
                        },
                    ))
                    .await
                    .map(drop),
            ),
        ),
        (
            "read_relationships",
            code(
                client
                    .read_relationships(with_key(
                        secret,
                        pb::ReadRelationshipsRequest {
                            tenant_id: tenant.into(),
                            filter: Some(pb::RelationshipFilter {
                                resource_type: "patient".into(),
                                ..Default::default()
                            }),
                            page_size: 10,
                            page_token: String::new(),
                        },
                    ))
                    .await
                    .map(drop),
            ),
        ),
        (
            "import_policy",
            code(
                client
                    .import_policy(with_key(
                        secret,
                        pb::ImportPolicyRequest {
                            tenant_id: tenant.into(),
                            format: "yaml".into(),
                            document: clinic(tenant, ADA_SECRET).into_bytes(),
                            dry_run: false,
                            expected_revision: None,
                        },
                    ))
                    .await
                    .map(drop),
            ),
        ),
        (
            "export_policy",
            code(
                client
                    .export_policy(with_key(
                        secret,
                        pb::ExportPolicyRequest {
                            tenant_id: tenant.into(),
                            format: "yaml".into(),
                        },
                    ))
                    .await
                    .map(drop),
            ),
        ),
        (
            "get_tenant",
            code(
                client
                    .get_tenant(with_key(
                        secret,
                        pb::GetTenantRequest {
                            tenant_id: tenant.into(),
                        },
                    ))
                    .await
                    .map(drop),
            ),
        ),
        (
            "update_tenant_status",
            code(
                client
                    .update_tenant_status(with_key(
                        secret,
                        pb::UpdateTenantStatusRequest {
                            tenant_id: tenant.into(),
                            status: pb::TenantStatus::Suspended as i32,
                            reason: String::new(),
                        },
                    ))
                    .await
                    .map(drop),
            ),
        ),
        (
            "create_tenant",
            code(
                client
                    .create_tenant(with_key(
                        secret,
                        pb::CreateTenantRequest {
                            tenant_id: "gamma".into(),
                            ..Default::default()
                        },
                    ))
                    .await
                    .map(drop),
            ),
        ),
        (
            "list_tenants",
            code(
                client
                    .list_tenants(with_key(secret, pb::ListTenantsRequest::default()))
                    .await
                    .map(drop),
            ),
        ),
    ]
}

/// What the server holds of `tenant`, by the platform's eyes: its export and revision.
async fn holdings(client: &mut AdminServiceClient<Channel>, tenant: &str) -> (u64, Vec<u8>) {
    let exported = client
        .export_policy(with_key(
            Some(OPS_SECRET),
            pb::ExportPolicyRequest {
                tenant_id: tenant.into(),
                format: "yaml".into(),
            },
        ))
        .await
        .expect("platform staff export")
        .into_inner();
    (exported.revision, exported.document)
}

#[tokio::test]
async fn refused_callers_write_nothing() {
    let server = server().await;
    let mut client = admin(&server).await;
    let before = (
        holdings(&mut client, "acme").await,
        holdings(&mut client, "beta").await,
    );
    let revoked = format!("acme-{REVOKED_SECRET}");
    let nurse = format!("acme-{NURSE_SECRET}");
    let cases: [(&str, Option<&str>, Code); 5] = [
        ("no key", None, Code::Unauthenticated),
        (
            "a key nobody has",
            Some("not-a-key-0123456789abcdefghijklmnop"),
            Code::Unauthenticated,
        ),
        ("a revoked key", Some(&revoked), Code::Unauthenticated),
        (
            "a tenant admin's key on another tenant",
            Some(BETA_SECRET),
            Code::PermissionDenied,
        ),
        (
            "a nurse's key (no admin permission)",
            Some(&nurse),
            Code::PermissionDenied,
        ),
    ];
    for (who, secret, want) in cases {
        for (call, got) in every_call(&mut client, secret, "acme").await {
            assert_eq!(got, want, "{who}: {call}");
        }
    }
    let after = (
        holdings(&mut client, "acme").await,
        holdings(&mut client, "beta").await,
    );
    assert_eq!(after, before, "a refused call changed something");
    let listed = client
        .list_tenants(with_key(
            Some(OPS_SECRET),
            pb::ListTenantsRequest::default(),
        ))
        .await
        .expect("platform staff list tenants")
        .into_inner();
    let ids: Vec<_> = listed
        .tenants
        .iter()
        .map(|tenant| tenant.id.as_str())
        .collect();
    assert_eq!(ids, ["acme", "beta"], "no tenant was created");
}

#[tokio::test]
async fn a_tenant_admin_changes_their_tenant_and_checks_see_it_at_the_returned_revision() {
    let server = server().await;
    let mut client = admin(&server).await;
    let mut checks = server.client().await;
    // Tenant-wide calls work; platform-wide ones are for platform staff.
    let calls = every_call(&mut client, Some(ADA_SECRET), "acme").await;
    let refused: Vec<_> = calls.iter().filter(|(_, code)| *code != Code::Ok).collect();
    assert_eq!(
        refused,
        [
            &("update_tenant_status", Code::PermissionDenied),
            &("create_tenant", Code::PermissionDenied),
            &("list_tenants", Code::PermissionDenied)
        ]
    );

    let written = client
        .write_relationships(with_key(
            Some(ADA_SECRET),
            pb::WriteRelationshipsRequest {
                tenant_id: "acme".into(),
                updates: vec![touch("p2", "nina")],
            },
        ))
        .await
        .expect("ada writes")
        .into_inner();
    let mut ask = check_request("acme", user("nina"), "view", "patient:p2");
    ask.consistency = Some(pb::Consistency {
        requirement: Some(pb::consistency::Requirement::AtLeastRevision(
            written.revision,
        )),
    });
    let answer = checks.check(ask).await.expect("check").into_inner();
    assert_eq!(
        (answer.decision, answer.revision >= written.revision),
        (pb::Decision::Allow as i32, true),
        "{}",
        answer.message
    );

    // Export, then import the export: nothing changes, no revision spent.
    let exported = client
        .export_policy(with_key(
            Some(ADA_SECRET),
            pb::ExportPolicyRequest {
                tenant_id: "acme".into(),
                format: "json".into(),
            },
        ))
        .await
        .expect("export")
        .into_inner();
    let reimported = client
        .import_policy(with_key(
            Some(ADA_SECRET),
            pb::ImportPolicyRequest {
                tenant_id: "acme".into(),
                format: "json".into(),
                document: exported.document,
                dry_run: false,
                expected_revision: Some(exported.revision),
            },
        ))
        .await
        .expect("re-import")
        .into_inner();
    assert_eq!(
        (
            reimported.applied,
            reimported.changes.len(),
            reimported.revision
        ),
        (false, 0, exported.revision)
    );
}

#[tokio::test]
async fn platform_staff_onboard_and_suspend_a_tenant() {
    let server = server().await;
    let mut client = admin(&server).await;
    let mut checks = server.client().await;
    let created = client
        .create_tenant(with_key(
            Some(OPS_SECRET),
            pb::CreateTenantRequest {
                tenant_id: "gamma".into(),
                name: "Gamma Health".into(),
                ..Default::default()
            },
        ))
        .await
        .expect("create")
        .into_inner();
    assert_eq!(
        created.tenant.as_ref().map(|t| t.status),
        Some(pb::TenantStatus::Active as i32)
    );
    let again = client
        .create_tenant(with_key(
            Some(OPS_SECRET),
            pb::CreateTenantRequest {
                tenant_id: "gamma".into(),
                ..Default::default()
            },
        ))
        .await
        .expect_err("gamma exists");
    assert_eq!(again.code(), Code::AlreadyExists);

    let dry = client
        .import_policy(with_key(
            Some(OPS_SECRET),
            pb::ImportPolicyRequest {
                tenant_id: "gamma".into(),
                format: "yaml".into(),
                document: clinic("gamma", "gamma-admin-secret-0123456789abcdefg").into_bytes(),
                dry_run: true,
                expected_revision: None,
            },
        ))
        .await
        .expect("dry run")
        .into_inner();
    assert!(!dry.applied);
    assert!(
        dry.changes
            .iter()
            .any(|change| change == "added role `nurse`"),
        "{:?}",
        dry.changes
    );
    let applied = client
        .import_policy(with_key(
            Some(OPS_SECRET),
            pb::ImportPolicyRequest {
                tenant_id: "gamma".into(),
                format: "yaml".into(),
                document: clinic("gamma", "gamma-admin-secret-0123456789abcdefg").into_bytes(),
                dry_run: false,
                expected_revision: Some(dry.revision),
            },
        ))
        .await
        .expect("import")
        .into_inner();
    assert_eq!(
        (applied.applied, applied.revision),
        (true, dry.revision + 1)
    );

    let mut ask = check_request("gamma", user("nina"), "view", "patient:p1");
    ask.consistency = Some(pb::Consistency {
        requirement: Some(pb::consistency::Requirement::AtLeastRevision(
            applied.revision,
        )),
    });
    let answer = checks.check(ask.clone()).await.expect("check").into_inner();
    assert_eq!(
        answer.decision,
        pb::Decision::Allow as i32,
        "{}",
        answer.message
    );

    let suspended = client
        .update_tenant_status(with_key(
            Some(OPS_SECRET),
            pb::UpdateTenantStatusRequest {
                tenant_id: "gamma".into(),
                status: pb::TenantStatus::Suspended as i32,
                reason: "billing".into(),
            },
        ))
        .await
        .expect("suspend")
        .into_inner();
    ask.consistency = Some(pb::Consistency {
        requirement: Some(pb::consistency::Requirement::AtLeastRevision(
            suspended.revision,
        )),
    });
    let answer = checks.check(ask).await.expect("check").into_inner();
    assert_eq!(
        (answer.decision, answer.reason),
        (
            pb::Decision::Deny as i32,
            pb::ReasonCode::TenantInactive as i32
        ),
        "{}",
        answer.message
    );
}

#[tokio::test]
async fn bad_admin_input_names_the_field_and_writes_nothing() {
    let server = server().await;
    let mut client = admin(&server).await;
    let before = holdings(&mut client, "acme").await;
    let mut bad_subject = touch("p3", "nina");
    if let Some(relationship) = bad_subject.relationship.as_mut() {
        relationship.subject_id = "has space".into();
    }
    let unknown_relation = pb::RelationshipUpdate {
        relationship: Some(pb::Relationship {
            relation: "owner".into(),
            ..touch("p3", "nina").relationship.expect("set")
        }),
        ..touch("p3", "nina")
    };
    let cases: Vec<(Vec<pb::RelationshipUpdate>, &str)> = vec![
        (
            vec![touch("p3", "nina"), bad_subject],
            "updates[1].relationship.subject_id",
        ),
        (
            vec![touch("p3", "nina"), unknown_relation],
            "updates[1].relationship",
        ),
        (vec![], "updates"),
    ];
    for (updates, field) in cases {
        let status = client
            .write_relationships(with_key(
                Some(ADA_SECRET),
                pb::WriteRelationshipsRequest {
                    tenant_id: "acme".into(),
                    updates,
                },
            ))
            .await
            .expect_err("refused");
        assert_eq!(status.code(), Code::InvalidArgument, "{}", status.message());
        let details = status.get_error_details();
        let fields: Vec<_> = details
            .bad_request()
            .map(|bad| {
                bad.field_violations
                    .iter()
                    .map(|v| v.field.clone())
                    .collect()
            })
            .unwrap_or_default();
        assert_eq!(fields, [field], "{}", status.message());
    }
    let broken = client
        .import_policy(with_key(Some(ADA_SECRET), pb::ImportPolicyRequest { tenant_id: "acme".into(), format: "yaml".into(), document: b"tenant: { id: acme }\nroles: [{ id: r, role_type: r, grants: [{ permission: patient.fly }] }]\n".to_vec(), dry_run: false, expected_revision: None }))
        .await
        .expect_err("does not compile");
    assert_eq!(broken.code(), Code::InvalidArgument);
    assert!(
        broken.message().contains("patient.fly"),
        "{}",
        broken.message()
    );
    assert_eq!(holdings(&mut client, "acme").await, before);
}

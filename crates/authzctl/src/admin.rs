//! Admin commands: `apply`, `export`, `rel`, `tenant`. Each authenticates with the API key's
//! secret as `authorization: Bearer <secret>` and reports what the server did, with the
//! revision to pass as `--at-least-revision` to read the write back.

use std::path::PathBuf;

use authz_core::model::Relationship;
use authz_proto::pb;
use authz_proto::pb::admin_service_client::AdminServiceClient;
use tonic::metadata::MetadataValue;
use tonic::transport::Channel;

type Client = AdminServiceClient<Channel>;

#[derive(Debug, clap::Args)]
pub(crate) struct ApplyArgs {
    /// The policy file (YAML or JSON).
    #[arg(long, short = 'f')]
    file: PathBuf,
    /// Tenant to import into; defaults to the file's `tenant.id`.
    #[arg(long, short = 't')]
    tenant: Option<String>,
    /// Show what would change; change nothing.
    #[arg(long)]
    dry_run: bool,
}

#[derive(Debug, clap::Args)]
pub(crate) struct ExportArgs {
    #[arg(long, short = 't', env = "AUTHZ_TENANT")]
    tenant: String,
    /// `yaml` or `json`.
    #[arg(long, default_value = "yaml")]
    format: String,
    /// Write to this file instead of standard output.
    #[arg(long, short = 'o')]
    output: Option<PathBuf>,
}

#[derive(Debug, clap::Subcommand)]
pub(crate) enum RelCommand {
    /// Add relationships (`patient:p-1#assignee@user:ann`); existing ones are kept.
    Write {
        #[arg(long, short = 't', env = "AUTHZ_TENANT")]
        tenant: String,
        #[arg(required = true)]
        relationships: Vec<String>,
    },
    /// Delete relationships; missing ones are no error.
    Delete {
        #[arg(long, short = 't', env = "AUTHZ_TENANT")]
        tenant: String,
        #[arg(required = true)]
        relationships: Vec<String>,
    },
    /// List relationships of a resource type, page by page.
    Read {
        #[arg(long, short = 't', env = "AUTHZ_TENANT")]
        tenant: String,
        /// Resource type (required by the server).
        #[arg(long)]
        resource_type: String,
        #[arg(long)]
        resource_id: Option<String>,
        #[arg(long)]
        relation: Option<String>,
        /// Subject as `TYPE:ID`.
        #[arg(long)]
        subject: Option<String>,
    },
}

#[derive(Debug, clap::Subcommand)]
pub(crate) enum TenantCommand {
    Create {
        id: String,
        #[arg(long, default_value = "")]
        name: String,
        /// IANA time zone; `UTC` when not given.
        #[arg(long, default_value = "")]
        time_zone: String,
    },
    /// Suspend a tenant: every check is denied until it is reactivated.
    Suspend {
        id: String,
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Make a suspended tenant active again.
    Activate {
        id: String,
        #[arg(long, default_value = "")]
        reason: String,
    },
    Get {
        id: String,
    },
    List,
}

async fn connect(server: &str) -> Result<Client, String> {
    AdminServiceClient::connect(server.to_owned())
        .await
        .map_err(|error| format!("cannot reach {server}: {error}"))
}

/// `message` with the bearer credentials attached.
fn authed<T>(api_key: Option<&str>, message: T) -> Result<tonic::Request<T>, String> {
    let mut request = tonic::Request::new(message);
    if let Some(secret) = api_key {
        let value = MetadataValue::try_from(format!("Bearer {secret}"))
            .map_err(|_| "the API key holds characters a header cannot carry".to_owned())?;
        request.metadata_mut().insert("authorization", value);
    }
    Ok(request)
}

fn failed(status: tonic::Status) -> String {
    let mut text = format!("{:?}: {}", status.code(), status.message());
    if let Ok(details) = <tonic::Status as tonic_types::StatusExt>::check_error_details(&status)
        && let Some(bad) = details.bad_request()
    {
        for violation in &bad.field_violations {
            text.push_str(&format!(
                "\n  {}: {}",
                violation.field, violation.description
            ));
        }
    }
    text
}

pub(crate) async fn apply(
    server: &str,
    api_key: Option<String>,
    args: ApplyArgs,
) -> Result<bool, String> {
    let document = std::fs::read(&args.file)
        .map_err(|error| format!("cannot read {}: {error}", args.file.display()))?;
    let tenant = match args.tenant {
        Some(tenant) => tenant,
        None => {
            let text = String::from_utf8_lossy(&document);
            authz_core::TenantPolicy::from_yaml(&text)
                .map_err(|error| format!("{}: {error}", args.file.display()))?
                .tenant
                .id
        }
    };
    let format = match args.file.extension().and_then(|e| e.to_str()) {
        Some("json") => "json",
        _ => "yaml",
    };
    let mut client = connect(server).await?;
    let import = |dry_run: bool, expected_revision: Option<u64>| pb::ImportPolicyRequest {
        tenant_id: tenant.clone(),
        format: format.to_owned(),
        document: document.clone(),
        dry_run,
        expected_revision,
    };
    let preview = client
        .import_policy(authed(api_key.as_deref(), import(true, None))?)
        .await
        .map_err(failed)?
        .into_inner();
    if preview.changes.is_empty() {
        println!(
            "tenant `{tenant}`: no changes (revision {})",
            preview.revision
        );
        return Ok(true);
    }
    println!("tenant `{tenant}` at revision {}:", preview.revision);
    for change in &preview.changes {
        println!("  {change}");
    }
    if args.dry_run {
        println!("dry run: nothing applied");
        return Ok(true);
    }
    // Applied only if nobody changed the tenant since the diff above was computed.
    let applied = client
        .import_policy(authed(
            api_key.as_deref(),
            import(false, Some(preview.revision)),
        )?)
        .await
        .map_err(|status| match status.code() {
            tonic::Code::FailedPrecondition => format!(
                "tenant `{tenant}` changed since the diff above; run apply again ({})",
                status.message()
            ),
            _ => failed(status),
        })?
        .into_inner();
    println!("applied at revision {}", applied.revision);
    Ok(true)
}

pub(crate) async fn export(
    server: &str,
    api_key: Option<String>,
    args: ExportArgs,
) -> Result<bool, String> {
    let mut client = connect(server).await?;
    let exported = client
        .export_policy(authed(
            api_key.as_deref(),
            pb::ExportPolicyRequest {
                tenant_id: args.tenant.clone(),
                format: args.format.clone(),
            },
        )?)
        .await
        .map_err(failed)?
        .into_inner();
    match &args.output {
        Some(path) => {
            std::fs::write(path, &exported.document)
                .map_err(|error| format!("cannot write {}: {error}", path.display()))?;
            eprintln!(
                "exported tenant `{}` at revision {} to {}",
                args.tenant,
                exported.revision,
                path.display()
            );
        }
        None => print!("{}", String::from_utf8_lossy(&exported.document)),
    }
    Ok(true)
}

fn relationship(text: &str) -> Result<pb::Relationship, String> {
    let parsed = Relationship::parse(text)?;
    Ok(authz_proto::admin::relationship_to_proto(&parsed))
}

pub(crate) async fn rel(
    server: &str,
    api_key: Option<String>,
    command: RelCommand,
) -> Result<bool, String> {
    let mut client = connect(server).await?;
    match command {
        RelCommand::Write {
            tenant,
            relationships,
        } => {
            write(
                &mut client,
                api_key.as_deref(),
                &tenant,
                &relationships,
                pb::relationship_update::Operation::Touch,
            )
            .await
        }
        RelCommand::Delete {
            tenant,
            relationships,
        } => {
            write(
                &mut client,
                api_key.as_deref(),
                &tenant,
                &relationships,
                pb::relationship_update::Operation::Delete,
            )
            .await
        }
        RelCommand::Read {
            tenant,
            resource_type,
            resource_id,
            relation,
            subject,
        } => {
            let (subject_type, subject_id) = match subject.as_deref() {
                None => (None, None),
                Some(text) => {
                    let (kind, id) = authz_core::model::split_typed_ref(text)
                        .ok_or_else(|| format!("subject `{text}` must be `TYPE:ID`"))?;
                    (Some(kind.to_owned()), Some(id.to_owned()))
                }
            };
            let filter = pb::RelationshipFilter {
                resource_type,
                resource_id,
                relation,
                subject_type,
                subject_id,
            };
            let mut page_token = String::new();
            loop {
                let page = client
                    .read_relationships(authed(
                        api_key.as_deref(),
                        pb::ReadRelationshipsRequest {
                            tenant_id: tenant.clone(),
                            filter: Some(filter.clone()),
                            page_size: 1000,
                            page_token: page_token.clone(),
                        },
                    )?)
                    .await
                    .map_err(failed)?
                    .into_inner();
                for r in &page.relationships {
                    println!(
                        "{}:{}#{}@{}:{}",
                        r.resource_type, r.resource_id, r.relation, r.subject_type, r.subject_id
                    );
                }
                if page.next_page_token.is_empty() {
                    eprintln!("(revision {})", page.revision);
                    return Ok(true);
                }
                page_token = page.next_page_token;
            }
        }
    }
}

async fn write(
    client: &mut Client,
    api_key: Option<&str>,
    tenant: &str,
    relationships: &[String],
    op: pb::relationship_update::Operation,
) -> Result<bool, String> {
    let updates = relationships
        .iter()
        .map(|text| {
            Ok(pb::RelationshipUpdate {
                op: op as i32,
                relationship: Some(relationship(text)?),
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    let written = client
        .write_relationships(authed(
            api_key,
            pb::WriteRelationshipsRequest {
                tenant_id: tenant.to_owned(),
                updates,
            },
        )?)
        .await
        .map_err(failed)?
        .into_inner();
    println!("revision {}", written.revision);
    Ok(true)
}

fn print_tenant(tenant: &pb::Tenant) {
    let status = pb::TenantStatus::try_from(tenant.status)
        .map(|s| {
            s.as_str_name()
                .trim_start_matches("TENANT_STATUS_")
                .to_lowercase()
        })
        .unwrap_or_else(|_| format!("unknown({})", tenant.status));
    println!(
        "{}\t{status}\trevision {}\t{}\t{}",
        tenant.id, tenant.revision, tenant.time_zone, tenant.name
    );
}

pub(crate) async fn tenant(
    server: &str,
    api_key: Option<String>,
    command: TenantCommand,
) -> Result<bool, String> {
    let mut client = connect(server).await?;
    let key = api_key.as_deref();
    match command {
        TenantCommand::Create {
            id,
            name,
            time_zone,
        } => {
            let created = client
                .create_tenant(authed(
                    key,
                    pb::CreateTenantRequest {
                        tenant_id: id,
                        name,
                        time_zone,
                        entitlements: None,
                    },
                )?)
                .await
                .map_err(failed)?
                .into_inner();
            if let Some(tenant) = &created.tenant {
                print_tenant(tenant);
            }
        }
        TenantCommand::Suspend { id, reason } => {
            set_status(&mut client, key, id, reason, pb::TenantStatus::Suspended).await?;
        }
        TenantCommand::Activate { id, reason } => {
            set_status(&mut client, key, id, reason, pb::TenantStatus::Active).await?;
        }
        TenantCommand::Get { id } => {
            let got = client
                .get_tenant(authed(key, pb::GetTenantRequest { tenant_id: id })?)
                .await
                .map_err(failed)?
                .into_inner();
            if let Some(tenant) = &got.tenant {
                print_tenant(tenant);
            }
        }
        TenantCommand::List => {
            let mut page_token = String::new();
            loop {
                let page = client
                    .list_tenants(authed(
                        key,
                        pb::ListTenantsRequest {
                            page_size: 1000,
                            page_token: page_token.clone(),
                            status: None,
                        },
                    )?)
                    .await
                    .map_err(failed)?
                    .into_inner();
                page.tenants.iter().for_each(print_tenant);
                if page.next_page_token.is_empty() {
                    break;
                }
                page_token = page.next_page_token;
            }
        }
    }
    Ok(true)
}

async fn set_status(
    client: &mut Client,
    api_key: Option<&str>,
    tenant_id: String,
    reason: String,
    status: pb::TenantStatus,
) -> Result<(), String> {
    let updated = client
        .update_tenant_status(authed(
            api_key,
            pb::UpdateTenantStatusRequest {
                tenant_id,
                status: status as i32,
                reason,
            },
        )?)
        .await
        .map_err(failed)?
        .into_inner();
    if let Some(tenant) = &updated.tenant {
        print_tenant(tenant);
    }
    Ok(())
}

//! Admin messages to and from store values, validated field by field: every refusal names the
//! request field it is about.

use authz_core::limits::{IdError, check_id};
use authz_core::model::{Relationship, Tenant, TenantStatus};
use authz_core::{MAX_ID_LEN, TenantPolicy};
use authz_store::{
    Cursor, ImportOptions, ImportReport, PageRequest, RelationshipFilter, RelationshipOp,
    RelationshipWrite, TenantRecord, page::MAX_PAGE_SIZE,
};

use crate::convert::FieldViolation;
use crate::pb;

/// Parts in a relationship cursor (its key) and a tenant cursor (its id).
const RELATIONSHIP_CURSOR_PARTS: usize = 5;
const TENANT_CURSOR_PARTS: usize = 1;

fn id(field: &str, value: &str) -> Result<String, FieldViolation> {
    match check_id(value) {
        Ok(()) => Ok(value.to_owned()),
        Err(IdError::Empty) => Err(FieldViolation::new(field, "is required")),
        Err(why) => Err(FieldViolation::new(field, why.to_string())),
    }
}

fn page(size: u32, token: &str, parts: usize) -> Result<PageRequest, FieldViolation> {
    let size = size as usize;
    if size > MAX_PAGE_SIZE {
        return Err(FieldViolation::new(
            "page_size",
            format!("must be at most {MAX_PAGE_SIZE}, got {size}"),
        ));
    }
    let cursor = if token.is_empty() {
        None
    } else {
        Some(Cursor::decode(token, parts).ok_or_else(|| {
            FieldViolation::new("page_token", "is not a token this listing returned")
        })?)
    };
    Ok(PageRequest { size, cursor })
}

pub fn status_from_proto(field: &str, status: i32) -> Result<TenantStatus, FieldViolation> {
    match pb::TenantStatus::try_from(status) {
        Ok(pb::TenantStatus::Active) => Ok(TenantStatus::Active),
        Ok(pb::TenantStatus::Suspended) => Ok(TenantStatus::Suspended),
        Ok(pb::TenantStatus::Deactivated) => Ok(TenantStatus::Deactivated),
        _ => Err(FieldViolation::new(
            field,
            "must be TENANT_STATUS_ACTIVE, TENANT_STATUS_SUSPENDED or TENANT_STATUS_DEACTIVATED",
        )),
    }
}

pub fn status_to_proto(status: TenantStatus) -> pb::TenantStatus {
    match status {
        TenantStatus::Active => pb::TenantStatus::Active,
        TenantStatus::Suspended => pb::TenantStatus::Suspended,
        TenantStatus::Deactivated => pb::TenantStatus::Deactivated,
    }
}

pub fn tenant_to_proto(record: &TenantRecord) -> pb::Tenant {
    pb::Tenant {
        id: record.tenant.id.clone(),
        name: record.tenant.name.clone(),
        status: status_to_proto(record.tenant.status) as i32,
        time_zone: record.tenant.time_zone.clone(),
        entitlements: None,
        revision: record.revision,
    }
}

pub fn create_tenant(message: &pb::CreateTenantRequest) -> Result<Tenant, FieldViolation> {
    if message.entitlements.is_some() {
        return Err(FieldViolation::new(
            "entitlements",
            "are set with ImportPolicy for now; create the tenant without them",
        ));
    }
    if message.name.len() > MAX_ID_LEN {
        return Err(FieldViolation::new(
            "name",
            format!("must be at most {MAX_ID_LEN} bytes"),
        ));
    }
    Ok(Tenant {
        id: id("tenant_id", &message.tenant_id)?,
        name: message.name.clone(),
        time_zone: if message.time_zone.is_empty() {
            Tenant::default().time_zone
        } else {
            id("time_zone", &message.time_zone)?
        },
        ..Tenant::default()
    })
}

pub fn tenant_id(message_tenant_id: &str) -> Result<String, FieldViolation> {
    id("tenant_id", message_tenant_id)
}

/// Which tenants to list, and the status to keep (`None`: any).
pub fn list_tenants(
    message: &pb::ListTenantsRequest,
) -> Result<(PageRequest, Option<TenantStatus>), FieldViolation> {
    let status = message
        .status
        .map(|status| status_from_proto("status", status))
        .transpose()?;
    Ok((
        page(message.page_size, &message.page_token, TENANT_CURSOR_PARTS)?,
        status,
    ))
}

pub fn relationship_from_proto(
    field: &str,
    message: Option<&pb::Relationship>,
) -> Result<Relationship, FieldViolation> {
    let Some(message) = message else {
        return Err(FieldViolation::new(field, "is required"));
    };
    let part = |name: &str, value: &str| id(&format!("{field}.{name}"), value);
    Ok(Relationship {
        resource_type: part("resource_type", &message.resource_type)?,
        resource_id: part("resource_id", &message.resource_id)?,
        relation: part("relation", &message.relation)?,
        subject_type: part("subject_type", &message.subject_type)?,
        subject_id: part("subject_id", &message.subject_id)?,
    })
}

pub fn relationship_to_proto(relationship: &Relationship) -> pb::Relationship {
    pb::Relationship {
        resource_type: relationship.resource_type.clone(),
        resource_id: relationship.resource_id.clone(),
        relation: relationship.relation.clone(),
        subject_type: relationship.subject_type.clone(),
        subject_id: relationship.subject_id.clone(),
    }
}

pub fn write_relationships(
    message: &pb::WriteRelationshipsRequest,
) -> Result<(String, Vec<RelationshipWrite>), FieldViolation> {
    let tenant = id("tenant_id", &message.tenant_id)?;
    if message.updates.len() > authz_store::validate::MAX_RELATIONSHIP_WRITES {
        return Err(FieldViolation::new(
            "updates",
            format!(
                "must hold at most {} updates, got {}",
                authz_store::validate::MAX_RELATIONSHIP_WRITES,
                message.updates.len()
            ),
        ));
    }
    if message.updates.is_empty() {
        return Err(FieldViolation::new(
            "updates",
            "must hold at least one update",
        ));
    }
    let writes = message
        .updates
        .iter()
        .enumerate()
        .map(|(index, update)| {
            let op = match pb::relationship_update::Operation::try_from(update.op) {
                Ok(pb::relationship_update::Operation::Touch) => RelationshipOp::Touch,
                Ok(pb::relationship_update::Operation::Delete) => RelationshipOp::Delete,
                _ => {
                    return Err(FieldViolation::new(
                        format!("updates[{index}].op"),
                        "must be OPERATION_TOUCH or OPERATION_DELETE",
                    ));
                }
            };
            Ok(RelationshipWrite {
                op,
                relationship: relationship_from_proto(
                    &format!("updates[{index}].relationship"),
                    update.relationship.as_ref(),
                )?,
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok((tenant, writes))
}

pub fn read_relationships(
    message: &pb::ReadRelationshipsRequest,
) -> Result<(String, RelationshipFilter, PageRequest), FieldViolation> {
    let tenant = id("tenant_id", &message.tenant_id)?;
    let Some(filter) = &message.filter else {
        return Err(FieldViolation::new("filter", "is required"));
    };
    let optional = |name: &str, value: &Option<String>| {
        value
            .as_deref()
            .map(|value| id(&format!("filter.{name}"), value))
            .transpose()
    };
    let filter = RelationshipFilter {
        resource_type: Some(id("filter.resource_type", &filter.resource_type)?),
        resource_id: optional("resource_id", &filter.resource_id)?,
        relation: optional("relation", &filter.relation)?,
        subject_type: optional("subject_type", &filter.subject_type)?,
        subject_id: optional("subject_id", &filter.subject_id)?,
    };
    let page = page(
        message.page_size,
        &message.page_token,
        RELATIONSHIP_CURSOR_PARTS,
    )?;
    Ok((tenant, filter, page))
}

/// The document format of an import or export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocumentFormat {
    Yaml,
    Json,
}

pub fn document_format(format: &str) -> Result<DocumentFormat, FieldViolation> {
    match format {
        "" | "yaml" => Ok(DocumentFormat::Yaml),
        "json" => Ok(DocumentFormat::Json),
        other => Err(FieldViolation::new(
            "format",
            format!("must be `yaml` or `json`, got `{other:.32}`"),
        )),
    }
}

/// The policy of an import, whose tenant must be the request's.
pub fn import_policy(
    message: &pb::ImportPolicyRequest,
) -> Result<(TenantPolicy, ImportOptions), FieldViolation> {
    let tenant = id("tenant_id", &message.tenant_id)?;
    // JSON documents are YAML too: one bounded parser reads both, once the format is known.
    document_format(&message.format)?;
    let text = std::str::from_utf8(&message.document)
        .map_err(|_| FieldViolation::new("document", "is not UTF-8"))?;
    let mut policy = TenantPolicy::from_yaml(text)
        .map_err(|error| FieldViolation::new("document", error.to_string()))?;
    if policy.tenant.id.is_empty() {
        policy.tenant.id = tenant.clone();
    }
    if policy.tenant.id != tenant {
        return Err(FieldViolation::new(
            "document",
            format!("describes tenant `{}`, not `{tenant}`", policy.tenant.id),
        ));
    }
    Ok((
        policy,
        ImportOptions {
            dry_run: message.dry_run,
            expected_revision: message.expected_revision,
        },
    ))
}

/// The changes of an import, one line each, as `authzctl apply` prints them.
pub fn import_report_to_proto(report: &ImportReport, dry_run: bool) -> pb::ImportPolicyResponse {
    let mut changes: Vec<String> = report
        .changes
        .iter()
        .map(|change| format!("{} {} `{}`", change.kind.as_str(), change.what, change.id))
        .collect();
    if report.relationships_added > 0 || report.relationships_removed > 0 {
        changes.push(format!(
            "relationships: {} added, {} removed",
            report.relationships_added, report.relationships_removed
        ));
    }
    pb::ImportPolicyResponse {
        revision: report.revision,
        applied: !dry_run && !report.is_empty(),
        changes,
    }
}

/// A policy in the document format asked for.
pub fn export_document(policy: &TenantPolicy, format: DocumentFormat) -> Result<Vec<u8>, String> {
    match format {
        DocumentFormat::Yaml => policy
            .to_yaml()
            .map(String::into_bytes)
            .map_err(|error| error.to_string()),
        DocumentFormat::Json => {
            serde_json::to_vec_pretty(policy).map_err(|error| error.to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relationship_updates_name_the_bad_field() {
        let good = pb::Relationship {
            resource_type: "patient".into(),
            resource_id: "p1".into(),
            relation: "assignee".into(),
            subject_type: "user".into(),
            subject_id: "ann".into(),
        };
        let update = |op: i32, relationship: Option<pb::Relationship>| pb::RelationshipUpdate {
            op,
            relationship,
        };
        let touch = pb::relationship_update::Operation::Touch as i32;
        let cases = [
            (vec![update(0, Some(good.clone()))], "updates[0].op"),
            (
                vec![update(touch, Some(good.clone())), update(touch, None)],
                "updates[1].relationship",
            ),
            (
                vec![update(
                    touch,
                    Some(pb::Relationship {
                        subject_id: "a b".into(),
                        ..good.clone()
                    }),
                )],
                "updates[0].relationship.subject_id",
            ),
            (
                vec![update(
                    touch,
                    Some(pb::Relationship {
                        resource_id: String::new(),
                        ..good.clone()
                    }),
                )],
                "updates[0].relationship.resource_id",
            ),
            (Vec::new(), "updates"),
            (vec![update(touch, Some(good.clone())); 1001], "updates"),
        ];
        for (updates, field) in cases {
            let message = pb::WriteRelationshipsRequest {
                tenant_id: "acme".into(),
                updates,
            };
            let refused = write_relationships(&message).map(|_| ());
            assert_eq!(
                refused.map_err(|violation| violation.field),
                Err(field.to_owned())
            );
        }
    }

    #[test]
    fn a_page_token_is_one_this_listing_returned() {
        let token = Cursor::after(vec!["acme".into()]).encode();
        let request = |page_token: &str, page_size: u32| pb::ListTenantsRequest {
            page_size,
            page_token: page_token.to_owned(),
            status: None,
        };
        assert!(list_tenants(&request(&token, 10)).is_ok());
        for (token, size, field) in [("xyz", 10, "page_token"), ("", 1001, "page_size")] {
            let refused = list_tenants(&request(token, size)).map(|_| ());
            assert_eq!(
                refused.map_err(|violation| violation.field),
                Err(field.to_owned())
            );
        }
    }

    #[test]
    fn an_import_names_a_document_of_another_tenant() {
        let message = pb::ImportPolicyRequest {
            tenant_id: "acme".into(),
            format: "yaml".into(),
            document: b"tenant: { id: beta }\n".to_vec(),
            dry_run: false,
            expected_revision: None,
        };
        let refused = import_policy(&message).map(|_| ());
        assert_eq!(
            refused.map_err(|violation| violation.field),
            Err("document".to_owned())
        );
        let bad_format = pb::ImportPolicyRequest {
            format: "toml".into(),
            ..message
        };
        let refused = import_policy(&bad_format).map(|_| ());
        assert_eq!(
            refused.map_err(|violation| violation.field),
            Err("format".to_owned())
        );
    }
}

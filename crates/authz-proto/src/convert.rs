//! Validated conversions at the edge. Input is checked field by field under the request limits
//! of [`authz_core::limits`] (ids follow the same rule as in a policy), and a violation names
//! the field path (`items[3].principal.id`) so the server can answer `INVALID_ARGUMENT`
//! precisely; decisions convert back with every deny reason preserved.

use std::collections::BTreeMap;

use authz_core::decision::{ExplainStep, StepOutcome};
use authz_core::limits::{
    MAX_ATTRIBUTE_DEPTH, MAX_ATTRIBUTE_KEY_LEN, MAX_ATTRIBUTE_VALUES, MAX_ATTRIBUTES,
    MAX_BULK_ITEMS, MAX_LIST_LEN, MAX_STRING_LEN, check_id,
};
use authz_core::model::{BindingSource, FieldVisibility, PrincipalKind};
use authz_core::{
    AttrValue, Attributes, CheckRequest, Decision, Origin, PrincipalRef, Reason, ResourceRef,
};
use chrono::{DateTime, Utc};

use crate::pb;

/// `google.protobuf.Timestamp.nanos` is below this.
const NANOS_PER_SECOND: u32 = 1_000_000_000;

/// One invalid field of a request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{field}`: {description}")]
pub struct FieldViolation {
    pub field: String,
    pub description: String,
}

impl FieldViolation {
    pub fn new(field: impl Into<String>, description: impl Into<String>) -> Self {
        FieldViolation {
            field: field.into(),
            description: description.into(),
        }
    }
}

pub use authz_core::Consistency;

/// A `CheckRequest` that passed validation, borrowing its strings from the message.
#[derive(Debug)]
pub struct ValidatedCheck<'a> {
    pub tenant_id: &'a str,
    pub principal: PrincipalRef<'a>,
    pub action: &'a str,
    pub resource_type: &'a str,
    pub resource_id: &'a str,
    pub resource_attributes: Attributes,
    pub context: Attributes,
    pub on_behalf_of: Option<PrincipalRef<'a>>,
    pub consistency: Consistency,
    pub explain: bool,
    pub request_id: &'a str,
}

impl ValidatedCheck<'_> {
    /// The engine's view of this request at `now`.
    pub fn request(&self, now: DateTime<Utc>) -> CheckRequest<'_> {
        CheckRequest {
            principal: self.principal,
            action: self.action,
            resource: ResourceRef {
                resource_type: self.resource_type,
                id: self.resource_id,
                attributes: &self.resource_attributes,
            },
            context: &self.context,
            on_behalf_of: self.on_behalf_of,
            now,
        }
    }
}

fn path(prefix: &str, field: &str) -> String {
    if prefix.is_empty() {
        field.to_owned()
    } else {
        format!("{prefix}.{field}")
    }
}

/// An id the request must carry, under the id rule.
fn require_id<'a>(prefix: &str, field: &str, value: &'a str) -> Result<&'a str, FieldViolation> {
    if value.is_empty() {
        return Err(FieldViolation::new(path(prefix, field), "is required"));
    }
    check_id(value)
        .map(|()| value)
        .map_err(|error| FieldViolation::new(path(prefix, field), error.to_string()))
}

/// An id the request may leave empty; when set, under the id rule.
fn optional_id<'a>(prefix: &str, field: &str, value: &'a str) -> Result<&'a str, FieldViolation> {
    if value.is_empty() {
        return Ok(value);
    }
    require_id(prefix, field, value)
}

fn parse_principal<'a>(
    prefix: &str,
    message: Option<&'a pb::PrincipalRef>,
) -> Result<PrincipalRef<'a>, FieldViolation> {
    let Some(message) = message else {
        return Err(FieldViolation::new(prefix, "is required"));
    };
    let kind = match pb::PrincipalType::try_from(message.r#type) {
        Ok(pb::PrincipalType::User) => PrincipalKind::User,
        Ok(pb::PrincipalType::Service) => PrincipalKind::Service,
        _ => {
            return Err(FieldViolation::new(
                path(prefix, "type"),
                "must be PRINCIPAL_TYPE_USER or PRINCIPAL_TYPE_SERVICE",
            ));
        }
    };
    Ok(PrincipalRef {
        kind,
        id: require_id(prefix, "id", &message.id)?,
        session_id: message
            .session_id
            .as_deref()
            .map(|id| require_id(prefix, "session_id", id))
            .transpose()?,
        api_key_id: message
            .api_key_id
            .as_deref()
            .map(|id| require_id(prefix, "api_key_id", id))
            .transpose()?,
        token_version: message.token_version,
        origin: if message.platform {
            Origin::Platform
        } else {
            Origin::Tenant
        },
    })
}

/// Converts one attribute tree, within the [`MAX_ATTRIBUTE_VALUES`] budget.
fn attribute_tree(
    field: &str,
    map: &std::collections::HashMap<String, pb::AttributeValue>,
) -> Result<Attributes, FieldViolation> {
    let mut budget = MAX_ATTRIBUTE_VALUES;
    attributes(field, map, 1, &mut budget)
}

fn spend(field: &str, budget: &mut usize) -> Result<(), FieldViolation> {
    *budget = budget.checked_sub(1).ok_or_else(|| {
        FieldViolation::new(
            field,
            format!("holds more than {MAX_ATTRIBUTE_VALUES} values in all"),
        )
    })?;
    Ok(())
}

fn attributes(
    field: &str,
    map: &std::collections::HashMap<String, pb::AttributeValue>,
    depth: usize,
    budget: &mut usize,
) -> Result<Attributes, FieldViolation> {
    if map.len() > MAX_ATTRIBUTES {
        return Err(FieldViolation::new(
            field,
            format!(
                "must have at most {MAX_ATTRIBUTES} entries, got {}",
                map.len()
            ),
        ));
    }
    let mut converted = BTreeMap::new();
    for (key, value) in map {
        if key.is_empty() || key.len() > MAX_ATTRIBUTE_KEY_LEN {
            return Err(FieldViolation::new(
                field,
                format!("keys must be 1 to {MAX_ATTRIBUTE_KEY_LEN} bytes"),
            ));
        }
        let value_path = format!("{field}[{key:?}]");
        converted.insert(key.clone(), attribute(&value_path, value, depth, budget)?);
    }
    Ok(converted)
}

fn attribute(
    field: &str,
    value: &pb::AttributeValue,
    depth: usize,
    budget: &mut usize,
) -> Result<AttrValue, FieldViolation> {
    use pb::attribute_value::Kind;
    spend(field, budget)?;
    if depth > MAX_ATTRIBUTE_DEPTH {
        return Err(FieldViolation::new(
            field,
            format!("nests deeper than {MAX_ATTRIBUTE_DEPTH} levels"),
        ));
    }
    Ok(match &value.kind {
        None => {
            return Err(FieldViolation::new(
                field,
                "must set exactly one value kind",
            ));
        }
        Some(Kind::StringValue(text)) => {
            if text.len() > MAX_STRING_LEN {
                return Err(FieldViolation::new(
                    field,
                    format!(
                        "strings must be at most {MAX_STRING_LEN} bytes, got {}",
                        text.len()
                    ),
                ));
            }
            AttrValue::String(text.clone())
        }
        Some(Kind::IntValue(number)) => AttrValue::Int(*number),
        Some(Kind::DoubleValue(number)) => {
            if !number.is_finite() {
                return Err(FieldViolation::new(field, "must be a finite number"));
            }
            AttrValue::Double(*number)
        }
        Some(Kind::BoolValue(flag)) => AttrValue::Bool(*flag),
        Some(Kind::TimestampValue(at)) => {
            // protobuf: `nanos` is in [0, 999_999_999]. chrono alone would take 1e9..2e9 as a
            // leap second when `seconds` ends a minute, so the range is checked here.
            let converted = u32::try_from(at.nanos)
                .ok()
                .filter(|nanos| *nanos < NANOS_PER_SECOND)
                .and_then(|nanos| DateTime::from_timestamp(at.seconds, nanos))
                .ok_or_else(|| FieldViolation::new(field, "is not a valid timestamp"))?;
            AttrValue::Timestamp(converted)
        }
        Some(Kind::ListValue(list)) => {
            if list.values.len() > MAX_LIST_LEN {
                return Err(FieldViolation::new(
                    field,
                    format!(
                        "lists must have at most {MAX_LIST_LEN} elements, got {}",
                        list.values.len()
                    ),
                ));
            }
            AttrValue::List(
                list.values
                    .iter()
                    .enumerate()
                    .map(|(index, item)| {
                        attribute(&format!("{field}[{index}]"), item, depth + 1, budget)
                    })
                    .collect::<Result<_, _>>()?,
            )
        }
        Some(Kind::MapValue(map)) => {
            AttrValue::Map(attributes(field, &map.fields, depth + 1, budget)?)
        }
    })
}

/// Validates one check; `prefix` is the field path of the message (`""` or `items[3]`).
pub fn validate_check<'a>(
    message: &'a pb::CheckRequest,
    prefix: &str,
) -> Result<ValidatedCheck<'a>, FieldViolation> {
    let tenant_id = require_id(prefix, "tenant_id", &message.tenant_id)?;
    let principal = parse_principal(&path(prefix, "principal"), message.principal.as_ref())?;
    let action = require_id(prefix, "action", &message.action)?;
    let resource_path = path(prefix, "resource");
    let resource = message
        .resource
        .as_ref()
        .ok_or_else(|| FieldViolation::new(&resource_path, "is required"))?;
    let resource_type = require_id(&resource_path, "type", &resource.r#type)?;
    let resource_id = require_id(&resource_path, "id", &resource.id)?;
    let resource_attributes =
        attribute_tree(&path(&resource_path, "attributes"), &resource.attributes)?;
    let context = attribute_tree(&path(prefix, "context"), &message.context)?;
    let on_behalf_of = message
        .on_behalf_of
        .as_ref()
        .map(|delegator| parse_principal(&path(prefix, "on_behalf_of"), Some(delegator)))
        .transpose()?;
    let consistency = match message.consistency.as_ref().and_then(|c| c.requirement) {
        None | Some(pb::consistency::Requirement::MinimizeLatency(_)) => {
            Consistency::MinimizeLatency
        }
        Some(pb::consistency::Requirement::AtLeastRevision(revision)) => {
            Consistency::AtLeastRevision(revision)
        }
        Some(pb::consistency::Requirement::FullyConsistent(_)) => Consistency::FullyConsistent,
    };
    Ok(ValidatedCheck {
        tenant_id,
        principal,
        action,
        resource_type,
        resource_id,
        resource_attributes,
        context,
        on_behalf_of,
        consistency,
        explain: message.explain,
        request_id: optional_id(prefix, "request_id", &message.request_id)?,
    })
}

/// Validates every item of a bulk check; the first bad item rejects the call.
pub fn validate_bulk(
    message: &pb::CheckBulkRequest,
) -> Result<Vec<ValidatedCheck<'_>>, FieldViolation> {
    if message.items.is_empty() {
        return Err(FieldViolation::new("items", "must hold at least one check"));
    }
    if message.items.len() > MAX_BULK_ITEMS {
        return Err(FieldViolation::new(
            "items",
            format!(
                "must hold at most {MAX_BULK_ITEMS} checks, got {}",
                message.items.len()
            ),
        ));
    }
    message
        .items
        .iter()
        .enumerate()
        .map(|(index, item)| validate_check(item, &format!("items[{index}]")))
        .collect()
}

pub fn reason_to_proto(reason: Reason) -> pb::ReasonCode {
    use pb::ReasonCode as Code;
    match reason {
        Reason::Granted => Code::Granted,
        Reason::NoMatchingGrant => Code::NoMatchingGrant,
        Reason::OutOfScope => Code::OutOfScope,
        Reason::ConditionNotMet => Code::ConditionNotMet,
        Reason::ConditionError => Code::ConditionError,
        Reason::ForbiddenByConstraint => Code::ForbiddenByConstraint,
        Reason::NotEntitled => Code::NotEntitled,
        Reason::TenantUnknown => Code::TenantUnknown,
        Reason::TenantInactive => Code::TenantInactive,
        Reason::PrincipalUnknown => Code::PrincipalUnknown,
        Reason::PrincipalInactive => Code::PrincipalInactive,
        Reason::SessionInvalid => Code::SessionInvalid,
        Reason::TokenVersionStale => Code::TokenVersionStale,
        Reason::ApiKeyInvalid => Code::ApiKeyInvalid,
        Reason::ApiKeyScope => Code::ApiKeyScope,
        Reason::DelegationInvalid => Code::DelegationInvalid,
        Reason::UnknownResourceType => Code::UnknownResourceType,
        Reason::UnknownAction => Code::UnknownAction,
        Reason::Stale => Code::Stale,
        Reason::Unavailable => Code::Unavailable,
    }
}

pub fn visibility_to_proto(visibility: FieldVisibility) -> pb::FieldVisibility {
    match visibility {
        FieldVisibility::Full => pb::FieldVisibility::Full,
        FieldVisibility::Mask => pb::FieldVisibility::Mask,
        FieldVisibility::Off => pb::FieldVisibility::Off,
    }
}

fn source_to_proto(source: BindingSource) -> pb::BindingSource {
    match source {
        BindingSource::Direct => pb::BindingSource::Direct,
        BindingSource::Delegation => pb::BindingSource::Delegation,
        BindingSource::Elevation => pb::BindingSource::Elevation,
        BindingSource::BreakGlass => pb::BindingSource::BreakGlass,
        BindingSource::Scim => pb::BindingSource::Scim,
    }
}

fn outcome_to_proto(outcome: StepOutcome) -> pb::StepOutcome {
    match outcome {
        StepOutcome::Pass => pb::StepOutcome::Pass,
        StepOutcome::Fail => pb::StepOutcome::Fail,
        StepOutcome::Skip => pb::StepOutcome::Skip,
        StepOutcome::Match => pb::StepOutcome::Match,
        StepOutcome::NoMatch => pb::StepOutcome::NoMatch,
        StepOutcome::Error => pb::StepOutcome::Error,
    }
}

/// The wire form of a decision, with the explain trace when one was recorded.
pub fn decision_to_proto(
    decision: &Decision<'_>,
    trace: Option<Vec<ExplainStep>>,
    request_id: &str,
) -> pb::CheckResponse {
    let basis = &decision.basis;
    let obligations = &decision.obligations;
    pb::CheckResponse {
        decision: if decision.allowed {
            pb::Decision::Allow
        } else {
            pb::Decision::Deny
        } as i32,
        reason: reason_to_proto(decision.reason) as i32,
        message: decision.message.to_string(),
        decided_by: Some(pb::DecisionBasis {
            role_id: basis.role_id.to_owned(),
            binding_id: basis.binding_id.to_owned(),
            permission: basis.permission.to_owned(),
            scope: basis.scope.unwrap_or_default().to_owned(),
            constraint_id: basis.constraint_id.to_owned(),
            delegation_id: basis.delegation_id.to_owned(),
            source: basis
                .source
                .map_or(pb::BindingSource::Unspecified, source_to_proto) as i32,
        }),
        obligations: Some(pb::Obligations {
            field_visibility: obligations
                .field_visibility
                .as_deref()
                .unwrap_or_default()
                .iter()
                .map(|(field, visibility)| {
                    (field.to_string(), visibility_to_proto(*visibility) as i32)
                })
                .collect(),
            step_up: obligations.step_up.then(|| pb::StepUp {
                required: true,
                reason: "the deciding grant requires re-authentication".to_owned(),
            }),
        }),
        revision: decision.revision,
        explain: trace.map(|steps| pb::ExplainTrace {
            steps: steps
                .into_iter()
                .map(|step| pb::ExplainStep {
                    stage: step.stage.to_owned(),
                    outcome: outcome_to_proto(step.outcome) as i32,
                    detail: step.detail,
                    role_id: step.role_id,
                    binding_id: step.binding_id,
                    permission: step.permission,
                    constraint_id: step.constraint_id,
                })
                .collect(),
        }),
        request_id: request_id.to_owned(),
    }
}

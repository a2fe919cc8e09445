//! `authzctl check`: one question, the decision printed as text (with `--explain`, the full
//! trace) or JSON.

use authz_proto::pb;
use authz_proto::pb::authorization_service_client::AuthorizationServiceClient;

#[derive(Debug, clap::Args)]
pub(crate) struct CheckArgs {
    /// Tenant id.
    #[arg(long, short = 't', env = "AUTHZ_TENANT")]
    tenant: String,
    /// Principal as `user:ID` or `service:ID`.
    #[arg(long, short = 'p')]
    principal: String,
    /// Action name within the resource type (e.g. `view`).
    #[arg(long, short = 'a')]
    action: String,
    /// Resource as `TYPE:ID` (e.g. `patient:p-100`).
    #[arg(long, short = 'r')]
    resource: String,
    /// Resource attribute `NAME=VALUE` (integers, decimals and true/false are typed); repeatable.
    #[arg(long = "attr")]
    attributes: Vec<String>,
    /// Context attribute `NAME=VALUE`; repeatable.
    #[arg(long = "context")]
    context: Vec<String>,
    /// Session id carried by the principal's token.
    #[arg(long)]
    session: Option<String>,
    /// API key id the principal authenticated with.
    #[arg(long)]
    api_key: Option<String>,
    /// Token version carried by the principal's token.
    #[arg(long)]
    token_version: Option<u64>,
    /// The principal is platform staff.
    #[arg(long)]
    platform: bool,
    /// The delegator (`user:ID`) the principal acts for.
    #[arg(long)]
    on_behalf_of: Option<String>,
    /// Require an answer computed at or after this revision.
    #[arg(long)]
    at_least_revision: Option<u64>,
    /// Print the evaluation trace.
    #[arg(long)]
    explain: bool,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

fn principal(
    text: &str,
    args: &CheckArgs,
    with_credentials: bool,
) -> Result<pb::PrincipalRef, String> {
    let (kind, id) = text
        .split_once(':')
        .ok_or_else(|| format!("principal `{text}` must be `user:ID` or `service:ID`"))?;
    let kind = match kind {
        "user" => pb::PrincipalType::User,
        "service" => pb::PrincipalType::Service,
        other => {
            return Err(format!(
                "principal type `{other}` must be `user` or `service`"
            ));
        }
    };
    Ok(pb::PrincipalRef {
        r#type: kind as i32,
        id: id.to_owned(),
        session_id: args.session.clone().filter(|_| with_credentials),
        api_key_id: args.api_key.clone().filter(|_| with_credentials),
        token_version: args.token_version.filter(|_| with_credentials),
        platform: args.platform && with_credentials,
    })
}

fn typed_value(text: &str) -> pb::AttributeValue {
    use pb::attribute_value::Kind;
    let kind = if let Ok(number) = text.parse::<i64>() {
        Kind::IntValue(number)
    } else if let Ok(number) = text.parse::<f64>() {
        Kind::DoubleValue(number)
    } else if let Ok(flag) = text.parse::<bool>() {
        Kind::BoolValue(flag)
    } else {
        Kind::StringValue(text.to_owned())
    };
    pb::AttributeValue { kind: Some(kind) }
}

fn attributes(
    pairs: &[String],
) -> Result<std::collections::HashMap<String, pb::AttributeValue>, String> {
    pairs
        .iter()
        .map(|pair| {
            let (name, value) = pair
                .split_once('=')
                .ok_or_else(|| format!("attribute `{pair}` must be `NAME=VALUE`"))?;
            Ok((name.to_owned(), typed_value(value)))
        })
        .collect()
}

fn build_request(args: &CheckArgs) -> Result<pb::CheckRequest, String> {
    let (resource_type, resource_id) = args
        .resource
        .split_once(':')
        .ok_or_else(|| format!("resource `{}` must be `TYPE:ID`", args.resource))?;
    Ok(pb::CheckRequest {
        tenant_id: args.tenant.clone(),
        principal: Some(principal(&args.principal, args, true)?),
        action: args.action.clone(),
        resource: Some(pb::ResourceRef {
            r#type: resource_type.to_owned(),
            id: resource_id.to_owned(),
            attributes: attributes(&args.attributes)?,
        }),
        context: attributes(&args.context)?,
        on_behalf_of: args
            .on_behalf_of
            .as_deref()
            .map(|text| principal(text, args, false))
            .transpose()?,
        consistency: args.at_least_revision.map(|revision| pb::Consistency {
            requirement: Some(pb::consistency::Requirement::AtLeastRevision(revision)),
        }),
        explain: args.explain,
        request_id: String::new(),
    })
}

fn enum_name(value: i32, name: impl Fn(i32) -> Option<&'static str>, prefix: &str) -> String {
    name(value)
        .map(|full| full.trim_start_matches(prefix).to_lowercase())
        .unwrap_or_else(|| format!("unknown({value})"))
}

fn reason(response: &pb::CheckResponse) -> String {
    enum_name(
        response.reason,
        |v| pb::ReasonCode::try_from(v).ok().map(|c| c.as_str_name()),
        "REASON_CODE_",
    )
}

fn outcome(value: i32) -> String {
    enum_name(
        value,
        |v| pb::StepOutcome::try_from(v).ok().map(|c| c.as_str_name()),
        "STEP_OUTCOME_",
    )
}

fn visibility(value: i32) -> String {
    enum_name(
        value,
        |v| {
            pb::FieldVisibility::try_from(v)
                .ok()
                .map(|c| c.as_str_name())
        },
        "FIELD_VISIBILITY_",
    )
}

fn allowed(response: &pb::CheckResponse) -> bool {
    response.decision == pb::Decision::Allow as i32
}

fn to_json(response: &pb::CheckResponse) -> serde_json::Value {
    let basis = response.decided_by.clone().unwrap_or_default();
    let obligations = response.obligations.clone().unwrap_or_default();
    let mut fields: Vec<(String, String)> = obligations
        .field_visibility
        .iter()
        .map(|(field, value)| (field.clone(), visibility(*value)))
        .collect();
    fields.sort();
    serde_json::json!({
        "allowed": allowed(response),
        "reason": reason(response),
        "message": response.message,
        "decided_by": {
            "role_id": basis.role_id,
            "binding_id": basis.binding_id,
            "permission": basis.permission,
            "scope": basis.scope,
            "constraint_id": basis.constraint_id,
            "delegation_id": basis.delegation_id,
        },
        "obligations": {
            "field_visibility": fields.into_iter().map(|(k, v)| (k, serde_json::Value::String(v))).collect::<serde_json::Map<_, _>>(),
            "step_up_required": obligations.step_up.is_some_and(|s| s.required),
        },
        "revision": response.revision,
        "explain": response.explain.as_ref().map(|trace| trace.steps.iter().map(|step| serde_json::json!({
            "stage": step.stage,
            "outcome": outcome(step.outcome),
            "detail": step.detail,
        })).collect::<Vec<_>>()),
    })
}

fn print_text(response: &pb::CheckResponse) {
    let verdict = if allowed(response) { "ALLOW" } else { "DENY" };
    println!("{verdict}  ({})  {}", reason(response), response.message);
    if let Some(basis) = &response.decided_by {
        if !basis.role_id.is_empty() {
            println!(
                "  decided by  role `{}` via binding `{}`, scope `{}`",
                basis.role_id, basis.binding_id, basis.scope
            );
        }
        if !basis.constraint_id.is_empty() {
            println!("  forbidden by constraint `{}`", basis.constraint_id);
        }
        if !basis.delegation_id.is_empty() {
            println!("  delegation  `{}`", basis.delegation_id);
        }
    }
    if let Some(obligations) = &response.obligations {
        let mut fields: Vec<_> = obligations.field_visibility.iter().collect();
        fields.sort();
        for (field, value) in fields {
            println!("  field       {field}: {}", visibility(*value));
        }
        if obligations.step_up.as_ref().is_some_and(|s| s.required) {
            println!("  step-up     required");
        }
    }
    println!("  revision    {}", response.revision);
    if let Some(trace) = &response.explain {
        println!("explain:");
        for (index, step) in trace.steps.iter().enumerate() {
            println!(
                "  {:>2}. {:<13} {:<9} {}",
                index + 1,
                step.stage,
                outcome(step.outcome),
                step.detail
            );
        }
    }
}

pub(crate) async fn check(server: String, args: CheckArgs) -> Result<bool, String> {
    let request = build_request(&args)?;
    let mut client = AuthorizationServiceClient::connect(server.clone())
        .await
        .map_err(|error| format!("cannot reach {server}: {error}"))?;
    let response = client
        .check(request)
        .await
        .map_err(|status| format!("{:?}: {}", status.code(), status.message()))?
        .into_inner();
    if args.json {
        println!("{}", to_json(&response));
    } else {
        print_text(&response);
    }
    Ok(allowed(&response))
}

//! The owned record of one decision: what the audit log writes and the decision cache keeps.
//!
//! A [`Decision`] borrows from the snapshot that made it, which is right for the hot path and
//! wrong for anything that outlives the check. This is the one owned form, built only where a
//! decision is kept.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::decision::{Decision, Obligations, Reason};
use crate::eval::{CheckRequest, PrincipalRef};
use crate::model::{BindingSource, PrincipalKind};

/// Who asked, as the request named them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedPrincipal {
    pub kind: PrincipalKind,
    pub id: String,
    pub session_id: Option<String>,
    pub api_key_id: Option<String>,
}

impl From<&PrincipalRef<'_>> for RecordedPrincipal {
    fn from(principal: &PrincipalRef<'_>) -> Self {
        RecordedPrincipal {
            kind: principal.kind,
            id: principal.id.to_owned(),
            session_id: principal.session_id.map(str::to_owned),
            api_key_id: principal.api_key_id.map(str::to_owned),
        }
    }
}

/// What decided, owned.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecordedBasis {
    pub role_id: String,
    pub binding_id: String,
    pub permission: String,
    pub scope: Option<String>,
    pub constraint_id: String,
    pub delegation_id: String,
    pub source: Option<BindingSource>,
}

/// One decision with the question it answered, owned and cheap to clone.
#[derive(Debug, Clone, PartialEq)]
pub struct DecisionRecord {
    pub tenant_id: Arc<str>,
    pub principal: RecordedPrincipal,
    pub on_behalf_of: Option<RecordedPrincipal>,
    /// Action name within the resource type.
    pub action: String,
    pub resource_type: String,
    pub resource_id: String,
    pub allowed: bool,
    pub reason: Reason,
    pub message: String,
    pub basis: RecordedBasis,
    pub obligations: Obligations,
    /// The tenant revision the decision was computed at.
    pub revision: u64,
    pub decided_at: DateTime<Utc>,
}

impl DecisionRecord {
    /// Records `decision`, the answer to `request` in `tenant_id`.
    pub fn new(tenant_id: &str, request: &CheckRequest<'_>, decision: &Decision<'_>) -> Self {
        let basis = &decision.basis;
        DecisionRecord {
            tenant_id: Arc::from(tenant_id),
            principal: RecordedPrincipal::from(&request.principal),
            on_behalf_of: request.on_behalf_of.as_ref().map(RecordedPrincipal::from),
            action: request.action.to_owned(),
            resource_type: request.resource.resource_type.to_owned(),
            resource_id: request.resource.id.to_owned(),
            allowed: decision.allowed,
            reason: decision.reason,
            message: decision.message.to_string(),
            basis: RecordedBasis {
                role_id: basis.role_id.to_owned(),
                binding_id: basis.binding_id.to_owned(),
                permission: basis.permission.to_owned(),
                scope: basis.scope.map(str::to_owned),
                constraint_id: basis.constraint_id.to_owned(),
                delegation_id: basis.delegation_id.to_owned(),
                source: basis.source,
            },
            obligations: decision.obligations.clone(),
            revision: decision.revision,
            decided_at: request.now,
        }
    }

    /// The permission asked for, `type.action`.
    pub fn permission(&self) -> String {
        format!("{}.{}", self.resource_type, self.action)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attr::Attributes;
    use crate::decision::DecisionBasis;
    use crate::eval::ResourceRef;

    #[test]
    fn a_record_keeps_every_field_of_the_decision_and_the_question() {
        let attributes = Attributes::new();
        let now = DateTime::from_timestamp(1_748_876_400, 0).unwrap();
        let mut nurse = PrincipalRef::user("rita");
        nurse.session_id = Some("s-1");
        let request = CheckRequest {
            principal: nurse,
            action: "view",
            resource: ResourceRef {
                resource_type: "patient",
                id: "p-100",
                attributes: &attributes,
            },
            context: &attributes,
            on_behalf_of: Some(PrincipalRef::user("dr-lee")),
            now,
        };
        let decision = Decision {
            allowed: true,
            reason: Reason::Granted,
            message: "granted by role `nurse`".into(),
            basis: DecisionBasis {
                role_id: "nurse",
                binding_id: "b-1",
                permission: "patient.view",
                scope: Some("location"),
                constraint_id: "",
                delegation_id: "d-1",
                source: Some(BindingSource::Delegation),
            },
            obligations: Obligations {
                field_visibility: None,
                step_up: true,
            },
            revision: 7,
        };
        let record = DecisionRecord::new("sunrise", &request, &decision);
        assert_eq!(&*record.tenant_id, "sunrise");
        assert_eq!(record.principal.id, "rita");
        assert_eq!(record.principal.session_id.as_deref(), Some("s-1"));
        assert_eq!(
            record.on_behalf_of.as_ref().map(|p| p.id.as_str()),
            Some("dr-lee")
        );
        assert_eq!(record.permission(), "patient.view");
        assert_eq!(record.resource_id, "p-100");
        assert!(record.allowed);
        assert_eq!(record.reason, Reason::Granted);
        assert_eq!(record.message, "granted by role `nurse`");
        assert_eq!(record.basis.scope.as_deref(), Some("location"));
        assert_eq!(record.basis.delegation_id, "d-1");
        assert_eq!(record.basis.source, Some(BindingSource::Delegation));
        assert!(record.obligations.step_up);
        assert_eq!((record.revision, record.decided_at), (7, now));
    }
}

//! What the reference model answers for a request, and how that compares with the engine's
//! [`Decision`]: every field a caller reads, not just the verdict.

use std::collections::BTreeMap;

use authz_core::model::BindingSource;
use authz_core::{Decision, FieldVisibility, Reason};

/// What the documented rules answer for one request.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Expected {
    pub allowed: bool,
    pub reason: Option<Reason>,
    /// The basis fields, as [`authz_core::DecisionBasis`] reports them.
    pub permission: String,
    pub role_id: String,
    pub binding_id: String,
    pub scope: Option<String>,
    pub constraint_id: String,
    pub delegation_id: String,
    pub source: Option<BindingSource>,
    /// Classified field → visibility, for allowed requests on types that have such fields.
    pub visibility: Option<BTreeMap<String, FieldVisibility>>,
    pub step_up: bool,
    /// Facts about how the answer came about, for the outcome mix; never compared.
    pub notes: Notes,
}

/// How a decision came about, beyond what the engine reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Notes {
    /// A constraint denied what the grants alone would have allowed.
    pub forbid_over_allow: bool,
    /// Allowed through a relation the principal holds on a container of the resource, not on
    /// the resource itself.
    pub related_through_container: bool,
    /// The deciding binding is limited to containers.
    pub location_bound: bool,
    /// The deciding binding has a validity window.
    pub windowed: bool,
}

impl Expected {
    pub(crate) fn deny(reason: Reason) -> Expected {
        Expected {
            reason: Some(reason),
            ..Expected::default()
        }
    }

    pub fn reason(&self) -> Reason {
        self.reason.unwrap_or(Reason::Unavailable)
    }

    /// Every difference between this expectation and the engine's `decision`, or `Ok`.
    pub fn compare(&self, decision: &Decision<'_>) -> Result<(), String> {
        let basis = &decision.basis;
        let visibility = decision
            .obligations
            .field_visibility
            .as_deref()
            .map(|fields| {
                fields
                    .iter()
                    .map(|(field, visibility)| (field.to_string(), *visibility))
                    .collect::<BTreeMap<_, _>>()
            });
        let scope = basis.scope.map(str::to_owned);
        let pairs: [(&str, String, String); 12] = [
            (
                "allowed",
                self.allowed.to_string(),
                decision.allowed.to_string(),
            ),
            (
                "reason",
                self.reason().code().to_owned(),
                decision.reason.code().to_owned(),
            ),
            (
                "basis.permission",
                self.permission.clone(),
                basis.permission.to_owned(),
            ),
            (
                "basis.role_id",
                self.role_id.clone(),
                basis.role_id.to_owned(),
            ),
            (
                "basis.binding_id",
                self.binding_id.clone(),
                basis.binding_id.to_owned(),
            ),
            (
                "basis.scope",
                format!("{:?}", self.scope),
                format!("{scope:?}"),
            ),
            (
                "basis.constraint_id",
                self.constraint_id.clone(),
                basis.constraint_id.to_owned(),
            ),
            (
                "basis.delegation_id",
                self.delegation_id.clone(),
                basis.delegation_id.to_owned(),
            ),
            (
                "basis.source",
                format!("{:?}", self.source),
                format!("{:?}", basis.source),
            ),
            (
                "obligations.field_visibility",
                format!("{:?}", self.visibility),
                format!("{visibility:?}"),
            ),
            (
                "obligations.step_up",
                self.step_up.to_string(),
                decision.obligations.step_up.to_string(),
            ),
            ("revision", "1".to_owned(), decision.revision.to_string()),
        ];
        let differences: Vec<String> = pairs
            .iter()
            .filter(|(_, want, got)| want != got)
            .map(|(what, want, got)| format!("{what}: reference {want}, engine {got}"))
            .collect();
        if differences.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "{} (engine message: {})",
                differences.join("; "),
                decision.message
            ))
        }
    }
}

//! What a check returns: a verdict with its reason, what decided it, obligations, and
//! optionally the full trace. A deny is a value, never an error.

use std::borrow::Cow;
use std::sync::Arc;

use crate::model::{BindingSource, FieldVisibility};

/// Why a decision came out the way it did. Every variant but [`Reason::Granted`] is a deny.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    Granted,
    /// Deny by default: no active binding grants the permission.
    NoMatchingGrant,
    /// A grant exists but its scope (or the binding's locations) does not cover the resource.
    OutOfScope,
    ConditionNotMet,
    /// A condition failed to evaluate; the grant does not apply (fail closed).
    ConditionError,
    ForbiddenByConstraint,
    NotEntitled,
    TenantUnknown,
    TenantInactive,
    PrincipalUnknown,
    PrincipalInactive,
    SessionInvalid,
    TokenVersionStale,
    ApiKeyInvalid,
    ApiKeyScope,
    DelegationInvalid,
    UnknownResourceType,
    UnknownAction,
    /// The requested consistency cannot be met by the data at hand.
    Stale,
    /// The decision could not be computed (store unreachable, no snapshot).
    Unavailable,
}

impl Reason {
    /// Stable snake_case code, as printed by `authzctl` and written to audit.
    pub fn code(self) -> &'static str {
        match self {
            Reason::Granted => "granted",
            Reason::NoMatchingGrant => "no_matching_grant",
            Reason::OutOfScope => "out_of_scope",
            Reason::ConditionNotMet => "condition_not_met",
            Reason::ConditionError => "condition_error",
            Reason::ForbiddenByConstraint => "forbidden_by_constraint",
            Reason::NotEntitled => "not_entitled",
            Reason::TenantUnknown => "tenant_unknown",
            Reason::TenantInactive => "tenant_inactive",
            Reason::PrincipalUnknown => "principal_unknown",
            Reason::PrincipalInactive => "principal_inactive",
            Reason::SessionInvalid => "session_invalid",
            Reason::TokenVersionStale => "token_version_stale",
            Reason::ApiKeyInvalid => "api_key_invalid",
            Reason::ApiKeyScope => "api_key_scope",
            Reason::DelegationInvalid => "delegation_invalid",
            Reason::UnknownResourceType => "unknown_resource_type",
            Reason::UnknownAction => "unknown_action",
            Reason::Stale => "stale",
            Reason::Unavailable => "unavailable",
        }
    }

    /// How informative a grant-stage deny reason is: when several grants fail for different
    /// reasons, the decision reports the one closest to an allow.
    pub(crate) fn grant_stage_rank(self) -> u8 {
        match self {
            Reason::NoMatchingGrant => 0,
            Reason::OutOfScope => 1,
            Reason::ConditionNotMet => 2,
            Reason::ConditionError => 3,
            _ => 0,
        }
    }
}

/// Which role, binding and grant (or which constraint) decided.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DecisionBasis<'s> {
    pub role_id: &'s str,
    pub binding_id: &'s str,
    pub permission: &'s str,
    pub scope: Option<&'s str>,
    pub constraint_id: &'s str,
    pub delegation_id: &'s str,
    pub source: Option<BindingSource>,
}

/// Visibility per classified field of a resource type, shared from the snapshot.
pub type FieldVisibilities = Arc<[(Arc<str>, FieldVisibility)]>;

/// Duties the caller takes on with an allow.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Obligations {
    /// Classified fields of the resource type and how much of each to show; fields not listed
    /// are shown in full.
    pub field_visibility: Option<FieldVisibilities>,
    /// The caller must re-authenticate before acting.
    pub step_up: bool,
}

/// The answer to a check.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision<'s> {
    pub allowed: bool,
    pub reason: Reason,
    pub message: Cow<'static, str>,
    pub basis: DecisionBasis<'s>,
    pub obligations: Obligations,
    pub revision: u64,
}

impl<'s> Decision<'s> {
    pub fn deny(reason: Reason, message: impl Into<Cow<'static, str>>, revision: u64) -> Self {
        Decision {
            allowed: false,
            reason,
            message: message.into(),
            basis: DecisionBasis::default(),
            obligations: Obligations::default(),
            revision,
        }
    }

    /// The visibility of `field` under this decision: off when denied, full when unclassified.
    pub fn field_visibility(&self, field: &str) -> FieldVisibility {
        if !self.allowed {
            return FieldVisibility::Off;
        }
        self.obligations
            .field_visibility
            .as_deref()
            .and_then(|fields| fields.iter().find(|(name, _)| &**name == field))
            .map_or(FieldVisibility::Full, |(_, visibility)| *visibility)
    }
}

/// The outcome of one step of the evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StepOutcome {
    Pass,
    Fail,
    Skip,
    Match,
    NoMatch,
    Error,
}

/// One line of an explain trace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExplainStep {
    /// `tenant`, `principal`, `session`, `token_version`, `api_key`, `delegation`,
    /// `entitlement`, `constraint`, `binding`, `grant`, `decision`.
    pub stage: &'static str,
    pub outcome: StepOutcome,
    pub detail: String,
    pub role_id: String,
    pub binding_id: String,
    pub permission: String,
    pub constraint_id: String,
}

/// Receives evaluation steps. The no-op implementation compiles away on the hot path, so a
/// check and its explanation run the same code and cannot disagree.
pub(crate) trait Tracer {
    const ENABLED: bool;
    fn step(&mut self, step: impl FnOnce() -> ExplainStep);
}

/// Discards every step.
#[derive(Debug)]
pub(crate) struct NoTrace;

impl Tracer for NoTrace {
    const ENABLED: bool = false;
    #[inline(always)]
    fn step(&mut self, _: impl FnOnce() -> ExplainStep) {}
}

impl Tracer for Vec<ExplainStep> {
    const ENABLED: bool = true;
    fn step(&mut self, step: impl FnOnce() -> ExplainStep) {
        self.push(step());
    }
}

impl ExplainStep {
    pub(crate) fn new(
        stage: &'static str,
        outcome: StepOutcome,
        detail: impl Into<String>,
    ) -> Self {
        ExplainStep {
            stage,
            outcome,
            detail: detail.into(),
            role_id: String::new(),
            binding_id: String::new(),
            permission: String::new(),
            constraint_id: String::new(),
        }
    }

    pub(crate) fn role(mut self, role_id: &str) -> Self {
        self.role_id = role_id.to_owned();
        self
    }

    pub(crate) fn binding(mut self, binding_id: &str) -> Self {
        self.binding_id = binding_id.to_owned();
        self
    }

    pub(crate) fn permission(mut self, permission: &str) -> Self {
        self.permission = permission.to_owned();
        self
    }

    pub(crate) fn constraint(mut self, constraint_id: &str) -> Self {
        self.constraint_id = constraint_id.to_owned();
        self
    }
}

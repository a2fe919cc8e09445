//! Errors raised while loading or compiling a policy. A check never errors: it denies.

use std::borrow::Cow;

use crate::condition::ConditionError;
use crate::policy::{DocumentLimit, TextPosition};

/// A policy that cannot be compiled into a snapshot. Each variant names what an admin must fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("policy file does not parse: {0}")]
    Parse(String),
    /// The document crossed one of the limits that keep parsing untrusted input cheap (see
    /// [`crate::policy`]); `position` is where the parser was when it crossed it.
    #[error("policy document exceeds the {limit}{}", crate::policy::at(.position))]
    DocumentLimit {
        limit: DocumentLimit,
        position: Option<TextPosition>,
    },
    /// `why` completes "`<id>` …": the id rule's [`crate::limits::IdError`], or a rule of its
    /// own kind.
    #[error("{what} `{id}` is not a valid identifier: {why}")]
    InvalidId {
        what: &'static str,
        id: String,
        why: Cow<'static, str>,
    },
    #[error("tenant id `{0}` is reserved for platform staff")]
    ReservedTenant(String),
    #[error("duplicate {what} `{id}`")]
    Duplicate { what: &'static str, id: String },
    #[error("unknown time zone `{0}`")]
    UnknownTimeZone(String),
    #[error(
        "resource type `{resource_type}`: relation `{relation}` must name exactly one of `container` or `subject`"
    )]
    RelationKind {
        resource_type: String,
        relation: String,
    },
    #[error(
        "resource type `{resource_type}`: relation `{relation}` points at `{target}`, which is not a container type in the catalog"
    )]
    NotAContainer {
        resource_type: String,
        relation: String,
        target: String,
    },
    #[error(
        "resource type `{resource_type}`: field `{field}` has unknown sensitivity class `{class}`"
    )]
    UnknownSensitivityClass {
        resource_type: String,
        field: String,
        class: String,
    },
    #[error("{location}: unknown permission `{permission}`")]
    UnknownPermission {
        location: String,
        permission: String,
    },
    #[error("{location}: unknown {what} `{id}`")]
    UnknownReference {
        location: String,
        what: &'static str,
        id: String,
    },
    /// `location` is the role (`role `nurse``) or the locked grants (`locked grants of
    /// `parent``) that state the grant.
    #[error("{location}: scope `related:{relation}` names a relation no resource type declares")]
    UnknownRelation { location: String, relation: String },
    /// A `related:R` scope on permissions whose resources can never hold `R`: their types
    /// declare no subject relation `R`, nor do the container types they sit in. `permission`
    /// is the exact name, or a pattern none of whose permissions could be covered.
    #[error(
        "{location}: scope `related:{relation}` can never cover `{permission}`: its resource types declare no relation `{relation}` a principal holds, nor do the container types they sit in"
    )]
    RelationOutOfReach {
        location: String,
        permission: String,
        relation: String,
    },
    #[error(
        "{location}: field visibility for `{key}`, which is neither a sensitivity class nor a classified field"
    )]
    UnknownField { location: String, key: String },
    #[error("role `{0}` inherits from itself through its parents")]
    InheritanceCycle(String),
    #[error("role `{role}` removes `{permission}`, which role type `{role_type}` always keeps")]
    LockedGrantRemoved {
        role: String,
        role_type: String,
        permission: String,
    },
    #[error("{count} custom roles exceed the plan's limit of {limit}")]
    CustomRoleLimit { count: usize, limit: u32 },
    #[error("{location}: invalid condition `{source_text}`: {error}")]
    Condition {
        location: String,
        source_text: String,
        error: ConditionError,
    },
    #[error("relationship `{relationship}`: {why}")]
    Relationship { relationship: String, why: String },
    #[error("binding `{binding}`: `{location}` is not a container (`type:id` of a container type)")]
    BindingLocation { binding: String, location: String },
    #[error("{what} `{id}`: window ends before it starts")]
    EmptyWindow { what: &'static str, id: String },
    #[error("{location}: a grant names no permission")]
    EmptyGrant { location: String },
    #[error("constraint `{0}` names no permission and no category")]
    EmptyConstraint(String),
    #[error("binding `{0}`: only platform bindings may list tenants")]
    TenantsOnTenantBinding(String),
    /// [`crate::Snapshot::with_policy`] was given another tenant's policy.
    #[error("the policy of tenant `{policy}` cannot replace that of tenant `{snapshot}`")]
    OtherTenant { snapshot: String, policy: String },
}

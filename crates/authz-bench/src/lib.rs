//! The engine benchmarks' fixtures and the differential test against cedar-policy.
//!
//! Both engines decide from one source of truth, the tenant policy: our snapshot compiles it,
//! and [`cedar`] derives Cedar entities from its data and links the hand-written templates of
//! `cedar/home-health.cedar` once per binding. [`differential`] asks both engines every
//! question of a wide universe ([`universe`]: the demo tenant plus windowed and
//! location-bound bindings, every permission on every resource type, several contexts and
//! instants) and reports what kinds of decisions it compared; the benchmarks then time the
//! [`CASES`] on the demo tenant, each checked to agree first.
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "a measurement harness, not a service: a broken fixture must stop the run loudly"
)]

pub mod cedar;
pub mod differential;
pub mod large;
pub mod universe;

use std::fmt;

use authz_core::model::PrincipalKind;
use authz_core::{
    AttrValue, Attributes, CheckRequest, PrincipalRef, Reason, ResourceRef, Snapshot, TenantPolicy,
};
use chrono::{DateTime, Utc};

pub use cedar::{CedarFixture, cedar_request};
pub use differential::{Report, cross_check};

/// The demo tenant, as `authz-server` loads it.
pub const DEMO_TENANT_YAML: &str = include_str!("../../../deploy/examples/home-health.yaml");

/// The instant every benchmark check is made at, and the differential's default instant.
pub const NOW: &str = "2026-11-25T12:00:00Z";

/// String attributes: `(name, value)` pairs.
pub type Pairs<'a> = &'a [(&'a str, &'a str)];

/// One authorization question, as both engines are asked it.
#[derive(Debug, Clone, Copy)]
pub struct Question<'a> {
    pub principal_kind: PrincipalKind,
    pub principal: &'a str,
    pub resource_type: &'a str,
    pub action: &'a str,
    pub resource_id: &'a str,
    pub context: Pairs<'a>,
    pub now: DateTime<Utc>,
}

impl<'a> Question<'a> {
    /// Our engine's check for this question, given the attribute maps of its resource and
    /// context.
    pub fn request(&self, attributes: &'a Attributes, context: &'a Attributes) -> CheckRequest<'a> {
        CheckRequest {
            principal: PrincipalRef {
                kind: self.principal_kind,
                ..PrincipalRef::user(self.principal)
            },
            action: self.action,
            resource: ResourceRef {
                resource_type: self.resource_type,
                id: self.resource_id,
                attributes,
            },
            context,
            on_behalf_of: None,
            now: self.now,
        }
    }
}

impl fmt::Display for Question<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{} {}.{} on {}:{}, context {{",
            self.principal_kind.as_str(),
            self.principal,
            self.resource_type,
            self.action,
            self.resource_type,
            self.resource_id
        )?;
        for (position, (name, value)) in self.context.iter().enumerate() {
            let separator = if position == 0 { "" } else { ", " };
            write!(f, "{separator}{name}: {value:?}")?;
        }
        write!(f, "}}, at {}", self.now.to_rfc3339())
    }
}

/// One timed decision, run through both engines under `ours/{name}` and `cedar/{name}`.
#[derive(Debug, Clone, Copy)]
pub struct Case {
    pub name: &'static str,
    pub principal: &'static str,
    pub resource_type: &'static str,
    pub action: &'static str,
    pub resource_id: &'static str,
    pub context: Pairs<'static>,
    /// What our engine must answer; Cedar must agree on allow/deny.
    pub expected: Reason,
}

/// The benchmark cases, on the demo tenant.
pub const CASES: &[Case] = &[
    Case {
        name: "no_condition/allow_tenant_scope",
        principal: "ada",
        resource_type: "patient",
        action: "view",
        resource_id: "p-100",
        context: &[],
        expected: Reason::Granted,
    },
    Case {
        name: "no_condition/allow_related",
        principal: "rita",
        resource_type: "patient",
        action: "view",
        resource_id: "p-100",
        context: &[],
        expected: Reason::Granted,
    },
    Case {
        name: "no_condition/deny_out_of_scope",
        principal: "rita",
        resource_type: "patient",
        action: "view",
        resource_id: "p-200",
        context: &[],
        expected: Reason::OutOfScope,
    },
    Case {
        name: "no_condition/deny_constraint",
        principal: "carla",
        resource_type: "document",
        action: "approve",
        resource_id: "doc-100",
        context: &[],
        expected: Reason::ForbiddenByConstraint,
    },
    Case {
        name: "condition/allow",
        principal: "bo",
        resource_type: "patient",
        action: "edit",
        resource_id: "p-100",
        context: &[("section", "billing")],
        expected: Reason::Granted,
    },
    Case {
        name: "condition/deny",
        principal: "bo",
        resource_type: "patient",
        action: "edit",
        resource_id: "p-100",
        context: &[("section", "clinical")],
        expected: Reason::ConditionNotMet,
    },
];

/// The case the `ours/explain/...` benchmark explains.
pub const EXPLAIN_CASE: &str = "no_condition/allow_related";

/// The case named `name`.
pub fn case(name: &str) -> &'static Case {
    CASES
        .iter()
        .find(|case| case.name == name)
        .unwrap_or_else(|| panic!("no benchmark case `{name}`"))
}

/// The parsed demo tenant.
pub fn demo_policy() -> TenantPolicy {
    TenantPolicy::from_yaml(DEMO_TENANT_YAML).expect("the demo tenant parses")
}

/// The demo tenant compiled at revision 1, with no platform tenant.
pub fn demo_snapshot(policy: &TenantPolicy) -> Snapshot {
    Snapshot::compile(policy, None, 1).expect("the demo tenant compiles")
}

/// Cedar's side of the demo tenant, with entities for the [`CASES`]' resources.
pub fn demo_cedar_fixture(policy: &TenantPolicy) -> CedarFixture {
    CedarFixture::new(
        policy,
        CASES
            .iter()
            .map(|case| (case.resource_type, case.resource_id)),
    )
}

/// [`NOW`] as a timestamp.
pub fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(NOW)
        .expect("NOW is RFC 3339")
        .to_utc()
}

/// Our engine's attribute map of `(name, value)` string pairs.
pub fn string_attributes(pairs: &[(&str, &str)]) -> Attributes {
    pairs
        .iter()
        .map(|(name, value)| ((*name).to_owned(), AttrValue::from(*value)))
        .collect()
}

/// The owned inputs of one of our checks; [`OursInput::request`] borrows them, as a caller
/// (the gRPC edge) would after decoding a request.
#[derive(Debug, Clone)]
pub struct OursInput {
    pub principal_kind: PrincipalKind,
    pub principal: String,
    pub resource_type: String,
    pub action: String,
    pub resource_id: String,
    pub attributes: Attributes,
    pub context: Attributes,
    pub now: DateTime<Utc>,
}

impl OursInput {
    pub fn new(question: &Question<'_>) -> Self {
        OursInput {
            principal_kind: question.principal_kind,
            principal: question.principal.to_owned(),
            resource_type: question.resource_type.to_owned(),
            action: question.action.to_owned(),
            resource_id: question.resource_id.to_owned(),
            attributes: string_attributes(universe::resource_attributes(
                question.resource_type,
                question.resource_id,
            )),
            context: string_attributes(question.context),
            now: question.now,
        }
    }

    /// The check: a struct of borrowed references, no allocation.
    pub fn request(&self) -> CheckRequest<'_> {
        let question = Question {
            principal_kind: self.principal_kind,
            principal: &self.principal,
            resource_type: &self.resource_type,
            action: &self.action,
            resource_id: &self.resource_id,
            context: &[],
            now: self.now,
        };
        question.request(&self.attributes, &self.context)
    }
}

impl Case {
    /// The case as a question from a user at [`NOW`].
    pub fn question(&self) -> Question<'static> {
        Question {
            principal_kind: PrincipalKind::User,
            principal: self.principal,
            resource_type: self.resource_type,
            action: self.action,
            resource_id: self.resource_id,
            context: self.context,
            now: now(),
        }
    }

    pub fn ours(&self) -> OursInput {
        OursInput::new(&self.question())
    }

    pub fn cedar(&self) -> cedar_policy::Request {
        cedar_request(&self.question())
    }
}

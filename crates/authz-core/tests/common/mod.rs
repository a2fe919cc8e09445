//! Shared test helpers: the demo tenants, a request builder and the one place that asks the
//! engine.
//!
//! Every test binary uses a different subset of these helpers, and they fail the test the way
//! `#[test]` functions do: by panicking with a message.
#![allow(dead_code)]
#![allow(clippy::panic)]

use std::fmt::Write as _;

use authz_core::model::{Relationship, Role};
use authz_core::{
    AttrValue, Attributes, CheckRequest, Decision, ExplainStep, Origin, PrincipalKind,
    PrincipalRef, Reason, ResourceRef, Snapshot, TenantPolicy,
};
use chrono::{DateTime, Utc};

/// The demo home-health agency (seed 003).
pub(crate) const HOME_HEALTH_YAML: &str =
    include_str!("../../../../deploy/examples/home-health.yaml");
/// The provider-screening client (seed 004).
pub(crate) const PROVIDER_SCREENING_YAML: &str =
    include_str!("../../../../deploy/examples/provider-screening.yaml");

/// A fixed "now" for every check that does not care about time.
pub(crate) fn t0() -> DateTime<Utc> {
    at("2025-06-02T15:00:00Z")
}

/// Parses an RFC 3339 instant.
#[track_caller]
pub(crate) fn at(text: &str) -> DateTime<Utc> {
    match DateTime::parse_from_rfc3339(text) {
        Ok(instant) => instant.with_timezone(&Utc),
        Err(error) => panic!("bad instant `{text}` in a test: {error}"),
    }
}

/// Parses a `type:id#relation@subject_type:subject_id` relationship.
#[track_caller]
pub(crate) fn relationship(text: &str) -> Relationship {
    match Relationship::parse(text) {
        Ok(relationship) => relationship,
        Err(error) => panic!("bad relationship in a test: {error}"),
    }
}

/// Parses one role, as it would appear under `roles:` in a policy file.
#[track_caller]
pub(crate) fn parse_role(yaml: &str) -> Role {
    match serde_saphyr::from_str(yaml) {
        Ok(role) => role,
        Err(error) => panic!("bad role in a test: {error}"),
    }
}

#[track_caller]
pub(crate) fn parse(yaml: &str) -> TenantPolicy {
    match TenantPolicy::from_yaml(yaml) {
        Ok(policy) => policy,
        Err(error) => panic!("test policy does not parse: {error}"),
    }
}

#[track_caller]
pub(crate) fn compile(policy: &TenantPolicy) -> Snapshot {
    match Snapshot::compile(policy, None, 1) {
        Ok(snapshot) => snapshot,
        Err(error) => panic!(
            "test policy `{}` does not compile: {error}",
            policy.tenant.id
        ),
    }
}

pub(crate) fn home_health_policy() -> TenantPolicy {
    parse(HOME_HEALTH_YAML)
}

/// The demo tenant, compiled.
pub(crate) fn home_health() -> Snapshot {
    compile(&home_health_policy())
}

pub(crate) fn provider_screening_policy() -> TenantPolicy {
    parse(PROVIDER_SCREENING_YAML)
}

/// One authorization question, written the way a test reads: who, which permission, on what.
#[derive(Debug, Clone)]
pub(crate) struct Ask<'a> {
    pub(crate) principal: &'a str,
    pub(crate) kind: PrincipalKind,
    pub(crate) origin: Origin,
    pub(crate) session: Option<&'a str>,
    pub(crate) api_key: Option<&'a str>,
    pub(crate) token_version: Option<u64>,
    /// `type.action`, as the catalog names permissions.
    pub(crate) permission: &'a str,
    pub(crate) resource: &'a str,
    pub(crate) attributes: Attributes,
    pub(crate) context: Attributes,
    pub(crate) on_behalf_of: Option<&'a str>,
    /// The delegator's kind: a user unless [`Ask::on_behalf_of_service`] says otherwise.
    pub(crate) delegator_kind: PrincipalKind,
    pub(crate) now: DateTime<Utc>,
}

/// `principal` asks for `permission` (`patient.view`) on the resource with id `resource`.
pub(crate) fn ask<'a>(principal: &'a str, permission: &'a str, resource: &'a str) -> Ask<'a> {
    Ask {
        principal,
        kind: PrincipalKind::User,
        origin: Origin::Tenant,
        session: None,
        api_key: None,
        token_version: None,
        permission,
        resource,
        attributes: Attributes::new(),
        context: Attributes::new(),
        on_behalf_of: None,
        delegator_kind: PrincipalKind::User,
        now: t0(),
    }
}

impl<'a> Ask<'a> {
    pub(crate) fn service(mut self) -> Self {
        self.kind = PrincipalKind::Service;
        self
    }

    pub(crate) fn platform(mut self) -> Self {
        self.origin = Origin::Platform;
        self
    }

    pub(crate) fn session(mut self, session: &'a str) -> Self {
        self.session = Some(session);
        self
    }

    pub(crate) fn api_key(mut self, key: &'a str) -> Self {
        self.api_key = Some(key);
        self
    }

    pub(crate) fn token_version(mut self, version: u64) -> Self {
        self.token_version = Some(version);
        self
    }

    /// A resource attribute.
    pub(crate) fn attr(mut self, name: &str, value: impl Into<AttrValue>) -> Self {
        self.attributes.insert(name.to_owned(), value.into());
        self
    }

    /// A request context attribute.
    pub(crate) fn ctx(mut self, name: &str, value: impl Into<AttrValue>) -> Self {
        self.context.insert(name.to_owned(), value.into());
        self
    }

    pub(crate) fn on_behalf_of(mut self, delegator: &'a str) -> Self {
        self.on_behalf_of = Some(delegator);
        self
    }

    /// Acting for `delegator`, named as a service account.
    pub(crate) fn on_behalf_of_service(mut self, delegator: &'a str) -> Self {
        self.on_behalf_of = Some(delegator);
        self.delegator_kind = PrincipalKind::Service;
        self
    }

    pub(crate) fn at(mut self, now: DateTime<Utc>) -> Self {
        self.now = now;
        self
    }

    /// `principal permission type:id [attrs] [context]`, for failure messages.
    pub(crate) fn describe(&self) -> String {
        let mut text = format!(
            "{}{} {} on {}",
            match self.origin {
                Origin::Tenant => "",
                Origin::Platform => "platform:",
            },
            self.principal,
            self.permission,
            self.resource
        );
        let extras = [
            ("session", self.session),
            ("api_key", self.api_key),
            ("on_behalf_of", self.on_behalf_of),
        ];
        for (name, value) in extras {
            if let Some(value) = value {
                let _ = write!(text, " {name}={value}");
            }
        }
        if self.on_behalf_of.is_some() && self.delegator_kind != PrincipalKind::User {
            let _ = write!(text, " (a {})", self.delegator_kind.as_str());
        }
        if let Some(version) = self.token_version {
            let _ = write!(text, " token_version={version}");
        }
        for (what, map) in [("resource", &self.attributes), ("context", &self.context)] {
            for (name, value) in map {
                let _ = write!(text, " {what}.{name}={value:?}");
            }
        }
        text
    }
}

fn principal_ref<'a>(ask: &Ask<'a>, id: &'a str) -> PrincipalRef<'a> {
    PrincipalRef {
        kind: ask.kind,
        id,
        session_id: ask.session,
        api_key_id: ask.api_key,
        token_version: ask.token_version,
        origin: ask.origin,
    }
}

fn with_request<R>(ask: &Ask<'_>, run: impl FnOnce(&CheckRequest<'_>) -> R) -> R {
    let (resource_type, action) = ask
        .permission
        .split_once('.')
        .unwrap_or((ask.permission, ""));
    let request = CheckRequest {
        principal: principal_ref(ask, ask.principal),
        action,
        resource: ResourceRef {
            resource_type,
            id: ask.resource,
            attributes: &ask.attributes,
        },
        context: &ask.context,
        on_behalf_of: ask.on_behalf_of.map(|id| PrincipalRef {
            kind: ask.delegator_kind,
            ..PrincipalRef::user(id)
        }),
        now: ask.now,
    };
    run(&request)
}

/// The one place the tests call [`Snapshot::check`].
pub(crate) fn decide<'s>(snapshot: &'s Snapshot, ask: &Ask<'_>) -> Decision<'s> {
    with_request(ask, |request| snapshot.check(request))
}

/// The one place the tests call [`Snapshot::explain`].
pub(crate) fn explain<'s>(
    snapshot: &'s Snapshot,
    ask: &Ask<'_>,
) -> (Decision<'s>, Vec<ExplainStep>) {
    with_request(ask, |request| snapshot.explain(request))
}

/// What a case expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Expect {
    Allow,
    Deny(Reason),
    /// Denied for one of these reasons.
    DenyAnyOf(&'static [Reason]),
}

impl Expect {
    pub(crate) fn matches(self, decision: &Decision<'_>) -> bool {
        match self {
            Expect::Allow => decision.allowed && decision.reason == Reason::Granted,
            Expect::Deny(reason) => !decision.allowed && decision.reason == reason,
            Expect::DenyAnyOf(reasons) => !decision.allowed && reasons.contains(&decision.reason),
        }
    }

    pub(crate) fn describe(self) -> String {
        match self {
            Expect::Allow => "allow".to_owned(),
            Expect::Deny(reason) => format!("deny ({})", reason.code()),
            Expect::DenyAnyOf(reasons) => {
                let codes: Vec<_> = reasons.iter().map(|reason| reason.code()).collect();
                format!("deny ({})", codes.join(" or "))
            }
        }
    }
}

/// `allow (granted) via role r` or `deny (reason): message`.
pub(crate) fn outcome(decision: &Decision<'_>) -> String {
    if decision.allowed {
        format!(
            "allow ({}) via role `{}` binding `{}`",
            decision.reason.code(),
            decision.basis.role_id,
            decision.basis.binding_id
        )
    } else {
        format!("deny ({}): {}", decision.reason.code(), decision.message)
    }
}

/// Asks the engine and asserts the verdict; returns the decision for further assertions.
#[track_caller]
pub(crate) fn check<'s>(snapshot: &'s Snapshot, ask: &Ask<'_>, expect: Expect) -> Decision<'s> {
    let decision = decide(snapshot, ask);
    assert!(
        expect.matches(&decision),
        "{}: expected {}, got {}",
        ask.describe(),
        expect.describe(),
        outcome(&decision)
    );
    decision
}

/// Runs every case and fails once, listing each wrong one, so a single run shows them all.
#[track_caller]
pub(crate) fn check_all(snapshot: &Snapshot, cases: &[(Ask<'_>, Expect)]) {
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|(ask, expect)| {
            let decision = decide(snapshot, ask);
            (!expect.matches(&decision)).then(|| {
                format!(
                    "  {}: expected {}, got {}",
                    ask.describe(),
                    expect.describe(),
                    outcome(&decision)
                )
            })
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} cases are wrong:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

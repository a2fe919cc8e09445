//! The differential check: both engines answer every question, and a [`Report`] says how many
//! decisions of each kind were compared, so that agreement can be judged meaningful.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use authz_core::model::Binding;
use authz_core::{Attributes, Reason, Snapshot, TenantPolicy};
use chrono::{DateTime, TimeDelta, Utc};

use crate::cedar::{CedarFixture, cedar_context, cedar_request_in};
use crate::universe::{
    RESOURCES, differential_policy, in_window, questions, resource_attributes, trivial, windowed,
};
use crate::{Question, string_attributes};

/// Allows and denies.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    pub allows: usize,
    pub denies: usize,
}

impl Tally {
    fn add(&mut self, allowed: bool) {
        if allowed {
            self.allows += 1;
        } else {
            self.denies += 1;
        }
    }

    pub fn total(self) -> usize {
        self.allows + self.denies
    }
}

impl fmt::Display for Tally {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:>6} ({:>5} allow, {:>5} deny)",
            self.total(),
            self.allows,
            self.denies
        )
    }
}

/// Decisions on either side of one window edge of one binding: one second before it and at it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EdgeTally {
    pub binding: String,
    /// `not_before` or `expires_at`.
    pub edge: &'static str,
    pub at: DateTime<Utc>,
    pub just_before: Tally,
    pub at_edge: Tally,
}

/// One question the engines answer differently.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disagreement {
    pub question: String,
    pub ours_allowed: bool,
    pub ours_reason: &'static str,
    pub ours_message: String,
}

impl fmt::Display for Disagreement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verdict = |allowed: bool| if allowed { "allow" } else { "deny" };
        write!(
            f,
            "{}: ours {} ({}: {}), Cedar {}",
            self.question,
            verdict(self.ours_allowed),
            self.ours_reason,
            self.ours_message,
            verdict(!self.ours_allowed)
        )
    }
}

/// What a differential run compared, by kind of decision.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub all: Tally,
    /// Our deny (or allow) reason code → decisions.
    pub by_reason: BTreeMap<&'static str, usize>,
    /// Decisions of non-trivial principals by resource type.
    pub by_resource_type: BTreeMap<String, Tally>,
    /// Principals whose answers do not depend on the question (see [`trivial`]).
    pub trivial: Tally,
    pub non_trivial: Tally,
    /// Decisions of principals holding a location-bound binding valid at the instant.
    pub location_bound: Tally,
    /// Allows granted through a location-bound binding.
    pub granted_by_location_binding: usize,
    /// Decisions of principals holding a windowed binding, at instants inside its window.
    pub inside_window: Tally,
    /// The same, at instants outside.
    pub outside_window: Tally,
    pub edges: Vec<EdgeTally>,
    /// Denied by a constraint where the grants alone would allow.
    pub forbid_over_allow: usize,
    pub disagreements: Vec<Disagreement>,
}

impl Report {
    pub fn compared(&self) -> usize {
        self.all.total()
    }

    pub fn reason(&self, reason: Reason) -> usize {
        self.by_reason.get(reason.code()).copied().unwrap_or(0)
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "decisions compared        {}", self.all)?;
        writeln!(f, "  trivial principals      {}", self.trivial)?;
        writeln!(f, "  non-trivial principals  {}", self.non_trivial)?;
        writeln!(f, "by our reason")?;
        for (reason, count) in &self.by_reason {
            writeln!(f, "  {reason:<24}{count:>6}")?;
        }
        writeln!(f, "by resource type (non-trivial principals)")?;
        for (resource_type, tally) in &self.by_resource_type {
            writeln!(f, "  {resource_type:<24}{tally}")?;
        }
        writeln!(f, "location-bound bindings   {}", self.location_bound)?;
        writeln!(
            f,
            "  granted through one     {:>6}",
            self.granted_by_location_binding
        )?;
        writeln!(f, "windowed bindings")?;
        writeln!(f, "  inside the window       {}", self.inside_window)?;
        writeln!(f, "  outside the window      {}", self.outside_window)?;
        for edge in &self.edges {
            writeln!(
                f,
                "  {} {} {}: 1 s before {} | at {}",
                edge.binding,
                edge.edge,
                edge.at.to_rfc3339(),
                edge.just_before,
                edge.at_edge
            )?;
        }
        writeln!(f, "forbid over allow         {:>6}", self.forbid_over_allow)?;
        write!(
            f,
            "disagreements             {:>6}",
            self.disagreements.len()
        )
    }
}

/// Asks our `snapshot` and `cedar` every one of `questions` on `policy`, and counts the kinds of
/// decision compared. Disagreements are collected, not fatal, so one run shows them all.
pub fn cross_check(
    policy: &TenantPolicy,
    snapshot: &Snapshot,
    cedar: &CedarFixture,
    questions: &[Question<'_>],
) -> Report {
    // The counterfactual that tells a forbid over an allow from a forbid over a deny.
    let unconstrained = Snapshot::compile(
        &TenantPolicy {
            constraints: Vec::new(),
            ..policy.clone()
        },
        None,
        snapshot.revision(),
    )
    .expect("the tenant without constraints compiles");
    let bindings_of = |principal: &str| -> Vec<&Binding> {
        policy
            .bindings
            .iter()
            .filter(|binding| binding.principal == principal)
            .collect()
    };
    let trivial_principals: Vec<&str> = policy
        .principals
        .iter()
        .filter(|principal| trivial(policy, principal))
        .map(|principal| principal.id.as_str())
        .collect();

    let mut report = Report::default();
    for binding in policy.bindings.iter().filter(|binding| windowed(binding)) {
        for (edge, at) in [
            ("not_before", binding.not_before),
            ("expires_at", binding.expires_at),
        ] {
            if let Some(at) = at {
                report.edges.push(EdgeTally {
                    binding: binding.id.clone(),
                    edge,
                    at,
                    just_before: Tally::default(),
                    at_edge: Tally::default(),
                });
            }
        }
    }

    // Built once per distinct context, instant and resource: Cedar's contexts parse `now`.
    let mut our_contexts: HashMap<&[(&str, &str)], Attributes> = HashMap::new();
    let mut cedar_contexts = HashMap::new();
    let mut resource_attributes_of: HashMap<(&str, &str), Attributes> = HashMap::new();
    for question in questions {
        let our_context = our_contexts
            .entry(question.context)
            .or_insert_with(|| string_attributes(question.context));
        let attributes = resource_attributes_of
            .entry((question.resource_type, question.resource_id))
            .or_insert_with(|| {
                string_attributes(resource_attributes(
                    question.resource_type,
                    question.resource_id,
                ))
            });
        let request = question.request(attributes, our_context);
        let decision = snapshot.check(&request);
        let cedar_context = cedar_contexts
            .entry((question.context, question.now))
            .or_insert_with(|| cedar_context(question.context, question.now))
            .clone();
        let theirs = cedar.allowed(&cedar_request_in(question, cedar_context));
        if decision.allowed != theirs {
            report.disagreements.push(Disagreement {
                question: question.to_string(),
                ours_allowed: decision.allowed,
                ours_reason: decision.reason.code(),
                ours_message: decision.message.to_string(),
            });
        }

        let allowed = decision.allowed;
        report.all.add(allowed);
        *report.by_reason.entry(decision.reason.code()).or_default() += 1;
        if trivial_principals.contains(&question.principal) {
            report.trivial.add(allowed);
        } else {
            report.non_trivial.add(allowed);
            report
                .by_resource_type
                .entry(question.resource_type.to_owned())
                .or_default()
                .add(allowed);
        }
        let bindings = bindings_of(question.principal);
        if bindings
            .iter()
            .any(|binding| !binding.locations.is_empty() && in_window(binding, question.now))
        {
            report.location_bound.add(allowed);
        }
        if allowed
            && bindings.iter().any(|binding| {
                *binding.id == *decision.basis.binding_id && !binding.locations.is_empty()
            })
        {
            report.granted_by_location_binding += 1;
        }
        for binding in bindings.iter().filter(|binding| windowed(binding)) {
            if in_window(binding, question.now) {
                report.inside_window.add(allowed);
            } else {
                report.outside_window.add(allowed);
            }
        }
        for edge in report
            .edges
            .iter_mut()
            .filter(|edge| bindings.iter().any(|binding| binding.id == edge.binding))
        {
            if question.now == edge.at - TimeDelta::seconds(1) {
                edge.just_before.add(allowed);
            } else if question.now == edge.at {
                edge.at_edge.add(allowed);
            }
        }
        if decision.reason == Reason::ForbiddenByConstraint && unconstrained.check(&request).allowed
        {
            report.forbid_over_allow += 1;
        }
    }
    report
}

/// The whole differential: [`differential_policy`], every question of the universe, both
/// engines.
pub fn differential_report() -> Report {
    let policy = differential_policy();
    let snapshot = Snapshot::compile(&policy, None, 1).expect("the differential tenant compiles");
    let cedar = CedarFixture::new(
        &policy,
        RESOURCES
            .iter()
            .flat_map(|(resource_type, ids)| ids.iter().map(move |id| (*resource_type, *id))),
    );
    cross_check(&policy, &snapshot, &cedar, &questions(&policy))
}

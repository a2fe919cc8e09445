//! What a property run actually exercised: allows, each deny reason, each scope kind,
//! delegation, forbid over allow. A property over generated tenants proves little if it only
//! ever compares a deny with a deny, so every property records its decisions here, prints the
//! mix and asserts it.

use std::collections::BTreeMap;
use std::fmt;

use authz_core::{Decision, FieldVisibility};

use crate::reference::Expected;
use crate::request::Request;

/// "Dozens": the least number of times a property must see each kind of outcome it relies on.
pub const AT_LEAST: usize = 24;

/// The least share of allows among a property's decisions.
pub const MIN_ALLOW_SHARE: f64 = 0.25;

/// Counts of outcomes over one property run.
#[derive(Debug, Clone, Default)]
pub struct OutcomeMix {
    pub decisions: usize,
    pub allows: usize,
    /// Deny reason code → count.
    pub denies: BTreeMap<&'static str, usize>,
    /// Deciding scope (`tenant`, `location`, `related:assignee` …) → allows.
    pub allows_by_scope: BTreeMap<String, usize>,
    /// Allowed through a relation held on a container of the resource.
    pub related_through_container: usize,
    pub delegated_allows: usize,
    pub forbid_over_allow: usize,
    pub location_bound_allows: usize,
    pub windowed_allows: usize,
    pub step_up_allows: usize,
    /// Allows that hide or mask at least one classified field.
    pub restricted_fields: usize,
    pub api_key_allows: usize,
    pub session_allows: usize,
}

impl OutcomeMix {
    /// Records the engine's `decision` on `request`, with what the reference model knows of
    /// how it came about.
    pub fn record(&mut self, request: &Request, decision: &Decision<'_>, expected: &Expected) {
        self.decisions += 1;
        self.forbid_over_allow += usize::from(expected.notes.forbid_over_allow);
        if !decision.allowed {
            *self.denies.entry(decision.reason.code()).or_default() += 1;
            return;
        }
        self.allows += 1;
        let scope = decision.basis.scope.unwrap_or("none").to_owned();
        *self.allows_by_scope.entry(scope).or_default() += 1;
        let notes = expected.notes;
        self.related_through_container += usize::from(notes.related_through_container);
        self.location_bound_allows += usize::from(notes.location_bound);
        self.windowed_allows += usize::from(notes.windowed);
        self.delegated_allows += usize::from(!decision.basis.delegation_id.is_empty());
        self.step_up_allows += usize::from(decision.obligations.step_up);
        self.restricted_fields += usize::from(
            decision
                .obligations
                .field_visibility
                .as_deref()
                .is_some_and(|fields| fields.iter().any(|(_, v)| *v != FieldVisibility::Full)),
        );
        self.api_key_allows += usize::from(request.api_key_id.is_some());
        self.session_allows += usize::from(request.session_id.is_some());
    }

    pub fn allow_share(&self) -> f64 {
        if self.decisions == 0 {
            0.0
        } else {
            self.allows as f64 / self.decisions as f64
        }
    }

    fn scope_allows(&self, prefix: &str) -> usize {
        self.allows_by_scope
            .iter()
            .filter(|(scope, _)| scope.starts_with(prefix))
            .map(|(_, count)| count)
            .sum()
    }

    /// What this run fell short of: at least [`MIN_ALLOW_SHARE`] allows, and [`AT_LEAST`] of
    /// each scope kind, of delegated allows and of forbids over an allow.
    pub fn shortfalls(&self) -> Vec<String> {
        let mut missing = Vec::new();
        if self.allow_share() < MIN_ALLOW_SHARE {
            missing.push(format!(
                "allows are {:.1}% of decisions, under {:.0}%",
                100.0 * self.allow_share(),
                100.0 * MIN_ALLOW_SHARE
            ));
        }
        let kinds = [
            ("tenant-scope allows", self.scope_allows("tenant")),
            ("location-scope allows", self.scope_allows("location")),
            ("related-scope allows", self.scope_allows("related:")),
            ("delegated allows", self.delegated_allows),
            ("forbids over an allow", self.forbid_over_allow),
        ];
        for (what, count) in kinds {
            if count < AT_LEAST {
                missing.push(format!("{what}: {count}, under {AT_LEAST}"));
            }
        }
        missing
    }

    /// Fails (panics, as a test does) when the run fell short, naming what it lacked and
    /// printing the whole mix.
    #[track_caller]
    pub fn assert_meaningful(&self, property: &str) {
        let missing = self.shortfalls();
        assert!(
            missing.is_empty(),
            "{property} did not exercise enough to mean anything: {}\n{self}",
            missing.join("; ")
        );
    }
}

impl fmt::Display for OutcomeMix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "  decisions {:>6}   allows {:>6} ({:.1}%)",
            self.decisions,
            self.allows,
            100.0 * self.allow_share()
        )?;
        let scopes: Vec<String> = self
            .allows_by_scope
            .iter()
            .map(|(scope, count)| format!("{scope} {count}"))
            .collect();
        writeln!(f, "  allows by scope: {}", scopes.join(", "))?;
        writeln!(
            f,
            "  allows: related through a container {}, delegated {}, location-bound {}, \
             windowed {}, step-up {}, fields hidden or masked {}, with api key {}, with session {}",
            self.related_through_container,
            self.delegated_allows,
            self.location_bound_allows,
            self.windowed_allows,
            self.step_up_allows,
            self.restricted_fields,
            self.api_key_allows,
            self.session_allows
        )?;
        writeln!(f, "  forbids over an allow: {}", self.forbid_over_allow)?;
        let denies: Vec<String> = self
            .denies
            .iter()
            .map(|(reason, count)| format!("{reason} {count}"))
            .collect();
        write!(f, "  denies: {}", denies.join(", "))
    }
}

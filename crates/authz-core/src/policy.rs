//! The policy document: one YAML document describes a tenant (catalog, roles, constraints,
//! principals, bindings, relationships, delegations). See `deploy/examples/`. JSON is YAML,
//! so a JSON document (`ImportPolicy` with format `json`) takes the same path and limits.
//!
//! A document is untrusted input as soon as `ImportPolicy` accepts it over gRPC. It is parsed
//! under limits no real tenant reaches, checked on the parser's event stream as it goes, so
//! any document is accepted or refused in time linear in its size: at most
//! [`MAX_DOCUMENT_BYTES`], nested at most [`MAX_NESTING_DEPTH`] deep, with at most
//! [`MAX_ANCHORS`] anchors and [`MAX_ALIASES`] aliases that together replay at most
//! [`MAX_ALIAS_EXPANSION`] nodes, and at most [`MAX_SCALAR_BYTES`] of text once expanded.
//! Crossing one is [`PolicyError::DocumentLimit`], naming the limit and the line and column.
//!
//! Why serde-saphyr and not serde_norway (libyaml), measured on a release build:
//! - libyaml's scanner does work quadratic in nesting depth before any caller can stop it:
//!   `tenant: [[[…]]]` took 0.16 s at depth 10,000 and 37 s at 100,000, and `{a: {a: …}}`
//!   67 s at 100,000. It also expands aliases without bound: 4 MiB of `*a` (an anchor of ten
//!   scalars) took 6.2 s and was accepted as ten million values.
//! - A byte pre-scan in front of libyaml would be fast, but it is safe only if it tracks
//!   quotes, comments, block scalars and plain-scalar continuations exactly as the parser
//!   does: `[a'b, [[[…]]], c'd]` is valid YAML nested to any depth in which a naive quote
//!   tracker sees depth 1. Two parsers that can disagree are a bypass; that also rules out
//!   serde-saphyr's budget check as a pre-pass in front of serde_norway (and the two passes
//!   would parse a 4 MiB tenant at ~20 MB/s).
//! - serde-saphyr's parser (granit-parser) enforces these budgets itself, on the very event
//!   stream that is deserialized (alias replays included), so no syntax can hide nesting or
//!   expansion from the count; the scanner refuses deep flow collections before its own
//!   per-token work grows. Deep nesting is refused in microseconds whatever the depth, a
//!   4 MiB alias flood in 2.4 ms, billion laughs in 15 ms; a 4 MiB tenant parses at 25 MB/s
//!   (serde_norway: ~34 MB/s); both example tenants parse to the same `TenantPolicy` as
//!   before, and the options below keep serde_norway's scalar rules (`off`, `yes` and `1_000`
//!   stay strings).

use std::fmt;

use serde_saphyr::budget::BudgetBreach;
use serde_saphyr::granit_parser::ErrorKind;
use serde_saphyr::options::{AliasLimits, MergeKeyPolicy};
use serde_saphyr::{ExternalMessageSource, NonFiniteFloatPolicy};

use crate::error::PolicyError;
use crate::model::TenantPolicy;

/// Largest policy document accepted, in bytes (4 MiB). The demo tenant is 14 KB; a tenant of
/// 12,000 principals, each with a binding and two relationships, is about 4 MB.
pub const MAX_DOCUMENT_BYTES: usize = 4 * 1024 * 1024;

/// Deepest nesting of collections (the document's top-level mapping is depth 1). The deepest
/// legitimate policy is about 8 (an attribute list inside a principal); 64 leaves room for
/// nested attribute values and keeps every recursive step (parser, serde, `Drop`) shallow.
pub const MAX_NESTING_DEPTH: usize = 64;

/// Most anchors (`&name`) in one document. Anchors are a convenience a tenant uses a handful
/// of times; each one retains a copy of the events it names.
pub const MAX_ANCHORS: usize = 1024;

/// Most aliases (`*name`) in one document: 4 MiB of `*a, ` is a million of them.
pub const MAX_ALIASES: usize = 1024;

/// Most nodes (scalars, and the starts and ends of collections) that aliases replay in all,
/// which is also the most that anchors may retain. Bounds "billion laughs": nested anchors
/// that each repeat the previous one grow exponentially, and are refused once they reach this.
pub const MAX_ALIAS_EXPANSION: usize = 65_536;

/// Most bytes of scalar text (and tag names) in one document once aliases are expanded.
/// Without aliases the text is at most about 1.5 times the document (an escape like `\L`
/// decodes to more bytes than it takes), so only aliases of long scalars reach this.
pub const MAX_SCALAR_BYTES: usize = 4 * MAX_DOCUMENT_BYTES;

/// Which limit on a policy document was crossed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DocumentLimit {
    /// [`MAX_DOCUMENT_BYTES`].
    Size,
    /// [`MAX_NESTING_DEPTH`].
    Depth,
    /// [`MAX_ANCHORS`].
    Anchors,
    /// [`MAX_ALIASES`].
    Aliases,
    /// [`MAX_ALIAS_EXPANSION`].
    AliasExpansion,
    /// [`MAX_SCALAR_BYTES`].
    ScalarBytes,
}

impl DocumentLimit {
    /// The limit's value, in the unit its message names.
    pub fn max(self) -> usize {
        match self {
            DocumentLimit::Size => MAX_DOCUMENT_BYTES,
            DocumentLimit::Depth => MAX_NESTING_DEPTH,
            DocumentLimit::Anchors => MAX_ANCHORS,
            DocumentLimit::Aliases => MAX_ALIASES,
            DocumentLimit::AliasExpansion => MAX_ALIAS_EXPANSION,
            DocumentLimit::ScalarBytes => MAX_SCALAR_BYTES,
        }
    }
}

impl fmt::Display for DocumentLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let max = self.max();
        match self {
            DocumentLimit::Size => write!(f, "size limit of {max} bytes"),
            DocumentLimit::Depth => write!(f, "nesting depth limit of {max} levels"),
            DocumentLimit::Anchors => write!(f, "limit of {max} anchors"),
            DocumentLimit::Aliases => write!(f, "limit of {max} aliases"),
            DocumentLimit::AliasExpansion => {
                write!(f, "alias expansion limit of {max} nodes")
            }
            DocumentLimit::ScalarBytes => {
                write!(f, "limit of {max} bytes of text once aliases are expanded")
            }
        }
    }
}

/// Where in a document something happened (1-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TextPosition {
    pub line: u64,
    pub column: u64,
}

/// ` at line L column C`, or nothing when the position is unknown (for error messages).
pub(crate) fn at(position: &Option<TextPosition>) -> String {
    position.map_or_else(String::new, |position| {
        format!(" at line {} column {}", position.line, position.column)
    })
}

impl TenantPolicy {
    /// Parses a policy document (YAML, or JSON, which is YAML). Unknown keys are errors, so a
    /// typo never silently drops a rule; a document over one of this module's limits is
    /// refused with [`PolicyError::DocumentLimit`] as soon as the parser reaches the point
    /// where it crosses it.
    pub fn from_yaml(text: &str) -> Result<TenantPolicy, PolicyError> {
        if text.len() > MAX_DOCUMENT_BYTES {
            return Err(PolicyError::DocumentLimit {
                limit: DocumentLimit::Size,
                position: None,
            });
        }
        serde_saphyr::from_str_with_options(text, parse_options()).map_err(policy_error)
    }

    /// The policy as a document [`TenantPolicy::from_yaml`] reads back to an equal policy
    /// (what `ExportPolicy` returns).
    pub fn to_yaml(&self) -> Result<String, PolicyError> {
        serde_saphyr::to_string(self).map_err(|error| PolicyError::Parse(error.to_string()))
    }
}

fn parse_options() -> serde_saphyr::Options {
    let mut budget = serde_saphyr::Budget::default();
    budget.max_depth = MAX_NESTING_DEPTH;
    // The scanner's own cap on open `[`/`{`: deeper flow is refused before the scanner keeps
    // per-level state for it. A flow level is also a depth level, so this never refuses a
    // document `max_depth` accepts (see `limit_of`).
    budget.flow_nesting_limit = MAX_NESTING_DEPTH;
    budget.max_anchors = MAX_ANCHORS;
    budget.max_aliases = MAX_ALIASES;
    budget.max_recorded_anchor_events = MAX_ALIAS_EXPANSION;
    budget.max_recorded_anchor_bytes = MAX_SCALAR_BYTES;
    budget.max_total_scalar_bytes = MAX_SCALAR_BYTES;
    // Without aliases the document's size bounds these; with aliases, the expansion limit
    // does. A count of its own would only refuse large legitimate tenants (the default of
    // 250,000 nodes refuses a 4 MB one).
    budget.max_events = usize::MAX;
    budget.max_nodes = usize::MAX;
    // A ratio of aliases to anchors is a heuristic; the absolute limits above already bound
    // the work, and the ratio would refuse a tenant that reuses one anchor a hundred times.
    budget.enforce_alias_anchor_ratio = false;

    let mut alias_limits = AliasLimits::default();
    alias_limits.max_total_replayed_events = MAX_ALIAS_EXPANSION;
    alias_limits.max_replay_stack_depth = MAX_NESTING_DEPTH;

    let mut options = serde_saphyr::Options::default();
    options.budget = Some(budget);
    options.alias_limits = alias_limits;
    // One line per error: messages travel in gRPC errors and CLI output; they carry the line
    // and column.
    options.with_snippet = false;
    // serde_norway's scalar rules, so every existing policy means what it meant: YAML 1.2
    // booleans only (`off`, `yes` and `on` are strings), `0755` and `1_000` are strings, `~`
    // in a string field is the text `~`, `.inf` is a number, `!!binary` text is left as
    // written, and `<<` is an ordinary key (no merge expansion; a struct refuses it as an
    // unknown field).
    options.strict_booleans = true;
    options.leading_zero_numbers_as_strings = true;
    options.underscored_numbers_as_strings = true;
    options.null_as_string = true;
    options.non_finite_float_policy = NonFiniteFloatPolicy::PassThrough;
    options.ignore_binary_tag_for_string = true;
    options.merge_keys = MergeKeyPolicy::AsOrdinary;
    // An application tag (`!secret x`) means nothing here: refuse it rather than drop it.
    options.reject_unsupported_tags = true;
    options
}

fn policy_error(error: serde_saphyr::Error) -> PolicyError {
    let position = error.location().map(|location| TextPosition {
        line: location.line(),
        column: location.column(),
    });
    if let Some(limit) = limit_of(&error) {
        return PolicyError::DocumentLimit { limit, position };
    }
    match error {
        // Its own message names serde-saphyr functions to call instead.
        serde_saphyr::Error::MultipleDocuments { .. } => PolicyError::Parse(format!(
            "a second YAML document starts{}, and a policy file is one document",
            at(&position)
        )),
        error => PolicyError::Parse(error.to_string()),
    }
}

/// The document limit an error reports, if it reports one.
fn limit_of(error: &serde_saphyr::Error) -> Option<DocumentLimit> {
    use serde_saphyr::Error;
    match error {
        Error::Budget { breach, .. } => match breach {
            BudgetBreach::Depth { .. } => Some(DocumentLimit::Depth),
            BudgetBreach::Anchors { .. } => Some(DocumentLimit::Anchors),
            BudgetBreach::Aliases { .. } => Some(DocumentLimit::Aliases),
            BudgetBreach::RecordedAnchorEvents { .. }
            | BudgetBreach::Events { .. }
            | BudgetBreach::Nodes { .. } => Some(DocumentLimit::AliasExpansion),
            BudgetBreach::ScalarBytes { .. } | BudgetBreach::RecordedAnchorBytes { .. } => {
                Some(DocumentLimit::ScalarBytes)
            }
            _ => None,
        },
        Error::AliasReplayLimitExceeded { .. }
        | Error::AliasExpansionLimitExceeded { .. }
        | Error::AliasReplayStackDepthExceeded { .. }
        | Error::AliasReplayCounterOverflow { .. } => Some(DocumentLimit::AliasExpansion),
        Error::AliasError { error, .. } => limit_of(error),
        // The scanner's nesting caps (`flow_nesting_limit`, and the block limit, which is above
        // `max_depth`) report themselves as a recursion limit: only nesting reaches them.
        Error::ExternalMessage { source, .. } => match source.as_ref() {
            ExternalMessageSource::Parser(scan)
                if matches!(scan.kind(), ErrorKind::RecursionLimitExceeded) =>
            {
                Some(DocumentLimit::Depth)
            }
            _ => None,
        },
        _ => None,
    }
}

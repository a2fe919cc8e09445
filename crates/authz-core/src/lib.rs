//! The authorization engine: domain model, policy compilation, evaluation and explanation.
//!
//! Pure by design (no I/O, no async, no clock): a [`TenantPolicy`] compiles into an immutable
//! [`Snapshot`]; [`Snapshot::check`] turns a [`CheckRequest`] into a [`Decision`], and
//! [`Snapshot::explain`] does the same while recording every step. Time is a parameter
//! (`CheckRequest::now`) so tests control it. A snapshot is patched rather than recompiled when
//! relationships are written ([`Snapshot::with_relationships`]) or the policy changes
//! ([`Snapshot::with_policy`]): the new snapshot shares what did not change with the old one.

pub mod admin_catalog;
pub mod attr;
pub mod condition;
pub mod consistency;
pub mod decision;
pub mod error;
mod eval;
pub mod limits;
pub mod model;
pub mod policy;
pub mod record;
pub mod relationship_rules;
mod snapshot;

pub use attr::{AttrValue, Attributes};
pub use consistency::Consistency;
pub use decision::{Decision, DecisionBasis, ExplainStep, Obligations, Reason, StepOutcome};
pub use error::PolicyError;
pub use eval::{CheckRequest, PrincipalRef, ResourceRef};
pub use limits::MAX_ID_LEN;
pub use model::{FieldVisibility, Origin, PrincipalKind, TenantPolicy};
pub use record::DecisionRecord;
pub use snapshot::{RelationshipChange, Sharing, Snapshot};

//! Transport-neutral serving: the tenant registry, consistency (revision waits) and deciding.
//!
//! The gRPC service, and later AuthZEN, Envoy ext_authz and the sidecar, are thin adapters
//! over [`DecisionPoint`]: they validate and convert their wire format into a [`Question`] and
//! render the [`Answer`] back. Nothing here knows a transport.

mod follower;
mod point;
mod registry;

pub use follower::{DEFAULT_POLL_INTERVAL, Follower};
pub use point::{
    Answer, DEFAULT_MAX_CONSISTENCY_WAIT, DecisionPoint, Question, RevisionSource, StoreRevisions,
};
pub use registry::{RegistryError, TenantRegistry};

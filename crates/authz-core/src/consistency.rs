//! How fresh a caller needs an answer to be: the consistency token of a check.

/// What a check asks of the data it is decided on. Every answer carries the revision it was
/// decided at, so a caller can pass it back as [`Consistency::AtLeastRevision`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Consistency {
    /// Whatever the replica holds now: the fastest answer.
    #[default]
    MinimizeLatency,
    /// Never an answer computed before this revision of the tenant (read your own writes,
    /// and the "new enemy" problem after a revocation).
    AtLeastRevision(u64),
    /// The tenant's latest committed revision, read from the source of truth.
    FullyConsistent,
}

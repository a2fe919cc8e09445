//! The id rule for everything a policy names, and the one place a duplicate id is refused.

use rustc_hash::FxHashSet;

use crate::error::PolicyError;

/// Longest id of any kind (tenant, principal, role, resource, relation…), in bytes.
pub const MAX_ID_LEN: usize = 256;

/// Refuses an id that is empty, too long, or carries whitespace or control characters, naming
/// `what` it identifies.
pub(super) fn validate_id(what: &'static str, id: &str) -> Result<(), PolicyError> {
    let why = if id.is_empty() {
        "it is empty"
    } else if id.len() > MAX_ID_LEN {
        "it is longer than 256 bytes"
    } else if id.chars().any(|c| c.is_control() || c.is_whitespace()) {
        "it contains whitespace or control characters"
    } else {
        return Ok(());
    };
    Err(PolicyError::InvalidId {
        what,
        id: id.to_owned(),
        why,
    })
}

/// The ids of one kind of entry (roles, bindings, one principal's sessions…) a policy declares:
/// each must follow the id rule and be used once.
pub(super) struct UniqueIds<'a> {
    what: &'static str,
    seen: FxHashSet<&'a str>,
}

impl<'a> UniqueIds<'a> {
    pub(super) fn new(what: &'static str) -> Self {
        UniqueIds {
            what,
            seen: FxHashSet::default(),
        }
    }

    /// Checks `id` and records it; an id recorded before is [`PolicyError::Duplicate`].
    pub(super) fn claim(&mut self, id: &'a str) -> Result<(), PolicyError> {
        validate_id(self.what, id)?;
        if !self.seen.insert(id) {
            return Err(PolicyError::Duplicate {
                what: self.what,
                id: id.to_owned(),
            });
        }
        Ok(())
    }
}

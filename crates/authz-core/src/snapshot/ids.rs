//! The id rule applied to everything a policy names, and the one place a duplicate id is
//! refused.

use rustc_hash::FxHashSet;

use crate::error::PolicyError;
use crate::limits::check_id;

/// Refuses an id that breaks the id rule ([`check_id`]), naming `what` it identifies.
pub(super) fn validate_id(what: &'static str, id: &str) -> Result<(), PolicyError> {
    check_id(id).map_err(|error| PolicyError::InvalidId {
        what,
        id: id.to_owned(),
        why: error.to_string().into(),
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

//! Every size limit on a request or a policy, and the one rule every id follows.
//!
//! The limits are enforced where the input arrives: request limits by `authz-proto`'s
//! `convert` (a violation is `INVALID_ARGUMENT` naming the field), condition limits when a
//! condition compiles ([`crate::condition`]), document limits while a policy document parses
//! ([`crate::policy`]). They are all listed here so there is one place to read them.
//!
//! The id rule ([`check_id`]) is the same for a policy (tenant, principal, role, resource,
//! relation, binding…) and a request (the ids it names, and its request id): an id a policy
//! could never declare is refused at the edge rather than denied later as unknown.

pub use crate::condition::{MAX_COMPREHENSION_DEPTH, MAX_CONDITION_LEN};
pub use crate::policy::{
    MAX_ALIAS_EXPANSION, MAX_ALIASES, MAX_ANCHORS, MAX_DOCUMENT_BYTES, MAX_NESTING_DEPTH,
    MAX_SCALAR_BYTES,
};

/// Longest id of any kind, in bytes.
pub const MAX_ID_LEN: usize = 256;

/// Longest attribute name (a key of resource attributes, context or a nested map), in bytes.
/// Attribute names are not ids: any non-empty text up to this length.
pub const MAX_ATTRIBUTE_KEY_LEN: usize = MAX_ID_LEN;

/// Most entries in one attribute map (resource attributes, context, a nested map).
pub const MAX_ATTRIBUTES: usize = 64;

/// Deepest nesting of attribute values (a scalar is 1).
pub const MAX_ATTRIBUTE_DEPTH: usize = 4;

/// Longest string attribute value, in bytes.
pub const MAX_STRING_LEN: usize = 4096;

/// Most elements in one attribute list. Conditions may nest comprehensions
/// [`MAX_COMPREHENSION_DEPTH`] deep over such lists, so this bounds their work too.
pub const MAX_LIST_LEN: usize = 256;

/// Most attribute values (scalars, lists and maps, at every depth) in one attribute tree
/// (a request's resource attributes, or its context): bounds the memory one request can cost.
pub const MAX_ATTRIBUTE_VALUES: usize = 1024;

/// Most checks in one `CheckBulk` call.
pub const MAX_BULK_ITEMS: usize = 100;

/// Why a text is not a valid id. The message completes "`<field>` …".
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("must not be empty")]
    Empty,
    /// The id's length in bytes.
    #[error("must be at most {MAX_ID_LEN} bytes, got {0}")]
    TooLong(usize),
    #[error("must not contain whitespace or control characters")]
    WhitespaceOrControl,
}

/// The id rule: an id is non-empty, at most [`MAX_ID_LEN`] bytes, and contains no whitespace
/// or control characters (Unicode's definitions: a no-break space and a line separator are
/// whitespace, a tab and `U+0085` both).
pub fn check_id(value: &str) -> Result<(), IdError> {
    if value.is_empty() {
        Err(IdError::Empty)
    } else if value.len() > MAX_ID_LEN {
        Err(IdError::TooLong(value.len()))
    } else if value.chars().any(|c| c.is_control() || c.is_whitespace()) {
        Err(IdError::WhitespaceOrControl)
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_is_short_non_empty_text_without_whitespace_or_controls() {
        let cases: [(String, Result<(), IdError>); 9] = [
            ("rita".into(), Ok(())),
            ("p-100_x:y.z@w".into(), Ok(())),
            ("i".repeat(MAX_ID_LEN), Ok(())),
            ("é".repeat(MAX_ID_LEN / 2), Ok(())),
            (String::new(), Err(IdError::Empty)),
            (
                "i".repeat(MAX_ID_LEN + 1),
                Err(IdError::TooLong(MAX_ID_LEN + 1)),
            ),
            ("two words".into(), Err(IdError::WhitespaceOrControl)),
            ("no\u{a0}break".into(), Err(IdError::WhitespaceOrControl)),
            ("nul\u{0}".into(), Err(IdError::WhitespaceOrControl)),
        ];
        for (id, want) in cases {
            assert_eq!(check_id(&id), want, "{id:?}");
        }
        assert_eq!(
            IdError::TooLong(300).to_string(),
            "must be at most 256 bytes, got 300"
        );
    }
}

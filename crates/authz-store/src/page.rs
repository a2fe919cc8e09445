//! Pagination with stable cursors: a cursor names the last key a page returned, so rows
//! written or deleted elsewhere never make a reader skip or repeat one that existed throughout.

/// The most items one page may hold, whatever the caller asks for.
pub const MAX_PAGE_SIZE: usize = 1000;
/// Items per page when the caller names no size.
pub const DEFAULT_PAGE_SIZE: usize = 100;
/// The longest cursor accepted back (a key of five ids of at most 256 bytes, hex-encoded).
pub const MAX_CURSOR_LEN: usize = 4096;

/// Which page to read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageRequest {
    /// `0` means [`DEFAULT_PAGE_SIZE`]; more than [`MAX_PAGE_SIZE`] is refused at the edge.
    pub size: usize,
    /// The `next` of the previous page; `None` for the first.
    pub cursor: Option<Cursor>,
}

impl PageRequest {
    pub fn first(size: usize) -> PageRequest {
        PageRequest { size, cursor: None }
    }

    /// The number of items to return.
    pub fn limit(&self) -> usize {
        match self.size {
            0 => DEFAULT_PAGE_SIZE,
            size => size.min(MAX_PAGE_SIZE),
        }
    }

    /// The key parts of the cursor to read after (`None`: the first page), which must be a
    /// cursor of a listing whose keys have `parts` parts.
    pub fn after(&self, parts: usize) -> Result<Option<&[String]>, crate::StoreError> {
        match &self.cursor {
            None => Ok(None),
            Some(cursor) if cursor.parts().len() == parts => Ok(Some(cursor.parts())),
            Some(_) => Err(crate::StoreError::invalid_input(
                "page.cursor",
                "is not a cursor of this listing",
            )),
        }
    }
}

impl<T> Page<T> {
    /// The page of `items`, read as up to `limit + 1` rows in key order: one more than `limit`
    /// means there is a next page, which starts after the last item kept.
    pub fn from_overfetch(
        mut items: Vec<T>,
        limit: usize,
        key: impl FnOnce(&T) -> Vec<String>,
    ) -> Page<T> {
        let next = if items.len() > limit {
            items.truncate(limit);
            items.last().map(|last| Cursor::after(key(last)))
        } else {
            None
        };
        Page { items, next }
    }
}

/// One page of results and where the next one starts (`None`: this was the last).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<Cursor>,
}

/// An opaque position: the key of the last item returned, as a list of its parts.
///
/// On the wire it is the hex encoding of the parts joined by NUL (ids never hold control
/// characters, so the encoding is unambiguous). Callers must treat it as opaque.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Cursor(Vec<String>);

impl Cursor {
    pub fn after(parts: Vec<String>) -> Cursor {
        Cursor(parts)
    }

    pub fn parts(&self) -> &[String] {
        &self.0
    }

    pub fn encode(&self) -> String {
        let joined = self.0.join("\0");
        let mut text = String::with_capacity(joined.len() * 2);
        for byte in joined.bytes() {
            text.push(char::from(HEX[usize::from(byte >> 4)]));
            text.push(char::from(HEX[usize::from(byte & 0xf)]));
        }
        text
    }

    /// Reads back what [`Cursor::encode`] wrote, expecting `parts` parts; `None` when the text
    /// is not such a cursor.
    pub fn decode(text: &str, parts: usize) -> Option<Cursor> {
        if text.len() > MAX_CURSOR_LEN || !text.len().is_multiple_of(2) {
            return None;
        }
        let bytes = text
            .as_bytes()
            .chunks(2)
            .map(|pair| Some((nibble(pair[0])? << 4) | nibble(pair[1])?))
            .collect::<Option<Vec<u8>>>()?;
        let joined = String::from_utf8(bytes).ok()?;
        let split: Vec<String> = joined.split('\0').map(str::to_owned).collect();
        (split.len() == parts).then_some(Cursor(split))
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn nibble(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_reads_back_what_it_wrote() {
        let cursor = Cursor::after(vec!["patient".into(), "p-1 ü".into(), "assignee".into()]);
        let text = cursor.encode();
        assert!(text.bytes().all(|b| b.is_ascii_hexdigit()), "{text}");
        assert_eq!(Cursor::decode(&text, 3), Some(cursor));
    }

    #[test]
    fn anything_else_is_not_a_cursor() {
        let good = Cursor::after(vec!["a".into(), "b".into()]).encode();
        for (text, parts) in [
            ("zz", 1),
            ("abc", 1),
            ("ff", 1), // not UTF-8
            (good.as_str(), 3),
            (&"00".repeat(MAX_CURSOR_LEN), 1),
        ] {
            assert_eq!(
                Cursor::decode(text, parts),
                None,
                "{text:.20} as {parts} parts"
            );
        }
    }

    #[test]
    fn a_page_read_one_past_its_limit_has_a_next() {
        let key = |n: &u32| vec![n.to_string()];
        let full = Page::from_overfetch(vec![1, 2, 3], 2, key);
        assert_eq!(full.items, [1, 2]);
        assert_eq!(full.next, Some(Cursor::after(vec!["2".into()])));
        let last = Page::from_overfetch(vec![1, 2], 2, key);
        assert_eq!((last.items, last.next), (vec![1, 2], None));
    }

    #[test]
    fn page_sizes_are_bounded() {
        assert_eq!(PageRequest::first(0).limit(), DEFAULT_PAGE_SIZE);
        assert_eq!(PageRequest::first(7).limit(), 7);
        assert_eq!(PageRequest::first(1_000_000).limit(), MAX_PAGE_SIZE);
    }
}

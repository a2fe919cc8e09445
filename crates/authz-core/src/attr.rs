//! Attribute values carried by principals, resources and request context.

use std::collections::{BTreeMap, HashMap};

use cel::common::types::{
    CelBool, CelDouble, CelInt, CelList, CelMap, CelMapKey, CelString, CelTimestamp,
};
use cel::common::value::Val;
use chrono::{DateTime, Utc};
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};

/// An attribute map: resource attributes, request context, principal attributes.
pub type Attributes = BTreeMap<String, AttrValue>;

/// A typed attribute value; lists and maps nest (the edge bounds their depth and size).
///
/// In a policy document a value is read by its YAML type (see the `Deserialize` impl below);
/// timestamps are written as text and read back as text.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum AttrValue {
    Bool(bool),
    Int(i64),
    Double(f64),
    String(String),
    Timestamp(DateTime<Utc>),
    List(Vec<AttrValue>),
    Map(BTreeMap<String, AttrValue>),
}

impl AttrValue {
    /// The CEL value of this attribute, borrowing its strings.
    pub fn to_val(&self) -> Box<dyn Val + '_> {
        match self {
            AttrValue::Bool(value) => Box::new(CelBool::from(*value)),
            AttrValue::Int(value) => Box::new(CelInt::from(*value)),
            AttrValue::Double(value) => Box::new(CelDouble::from(*value)),
            AttrValue::String(value) => Box::new(CelString::from(value.as_str())),
            AttrValue::Timestamp(value) => Box::new(CelTimestamp::from(value.fixed_offset())),
            AttrValue::List(values) => Box::new(CelList::from(
                values.iter().map(AttrValue::to_val).collect::<Vec<_>>(),
            )),
            AttrValue::Map(fields) => attributes_to_val(fields, []),
        }
    }

    /// The CEL value of this attribute, owning copies of its strings (for values kept in a
    /// snapshot).
    pub fn to_owned_val(&self) -> Box<dyn Val> {
        match self {
            AttrValue::String(value) => Box::new(CelString::from(value.clone())),
            AttrValue::List(values) => Box::new(CelList::from(
                values
                    .iter()
                    .map(AttrValue::to_owned_val)
                    .collect::<Vec<_>>(),
            )),
            AttrValue::Map(fields) => owned_attributes_to_val(fields, []),
            AttrValue::Bool(value) => Box::new(CelBool::from(*value)),
            AttrValue::Int(value) => Box::new(CelInt::from(*value)),
            AttrValue::Double(value) => Box::new(CelDouble::from(*value)),
            AttrValue::Timestamp(value) => Box::new(CelTimestamp::from(value.fixed_offset())),
        }
    }
}

/// Reads a value by the type the document gives it, in one pass. (A derived `untagged`
/// deserializer buffers every value and tries each variant in turn: a tenant heavy with
/// attributes parsed several times slower.) Integers that fit `i64` are `Int`, other numbers
/// `Double`; text is `String`.
impl<'de> Deserialize<'de> for AttrValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(AttrValueVisitor)
    }
}

struct AttrValueVisitor;

impl<'de> Visitor<'de> for AttrValueVisitor {
    type Value = AttrValue;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a bool, number, string, list or map")
    }

    fn visit_bool<E: de::Error>(self, value: bool) -> Result<AttrValue, E> {
        Ok(AttrValue::Bool(value))
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<AttrValue, E> {
        Ok(AttrValue::Int(value))
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<AttrValue, E> {
        Ok(i64::try_from(value).map_or(AttrValue::Double(value as f64), AttrValue::Int))
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<AttrValue, E> {
        Ok(AttrValue::Double(value))
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<AttrValue, E> {
        Ok(AttrValue::String(value.to_owned()))
    }

    fn visit_string<E: de::Error>(self, value: String) -> Result<AttrValue, E> {
        Ok(AttrValue::String(value))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<AttrValue, A::Error> {
        let mut values = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(256));
        while let Some(value) = seq.next_element()? {
            values.push(value);
        }
        Ok(AttrValue::List(values))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<AttrValue, A::Error> {
        let mut fields = BTreeMap::new();
        while let Some((name, value)) = map.next_entry::<String, AttrValue>()? {
            fields.insert(name, value);
        }
        Ok(AttrValue::Map(fields))
    }
}

impl From<&str> for AttrValue {
    fn from(value: &str) -> Self {
        AttrValue::String(value.to_owned())
    }
}

impl From<i64> for AttrValue {
    fn from(value: i64) -> Self {
        AttrValue::Int(value)
    }
}

impl From<bool> for AttrValue {
    fn from(value: bool) -> Self {
        AttrValue::Bool(value)
    }
}

/// A CEL map of `fields` plus extra entries (e.g. `id` and `type`), which win on a clash;
/// borrows the attributes.
pub(crate) fn attributes_to_val<'a>(
    fields: &'a Attributes,
    extra: impl IntoIterator<Item = (&'static str, Box<dyn Val + 'a>)>,
) -> Box<dyn Val + 'a> {
    let mut map: HashMap<CelMapKey<'a>, Box<dyn Val + 'a>> = fields
        .iter()
        .map(|(name, value)| {
            (
                CelMapKey::String(CelString::from(name.as_str())),
                value.to_val(),
            )
        })
        .collect();
    for (name, value) in extra {
        map.insert(CelMapKey::String(CelString::from(name)), value);
    }
    Box::new(CelMap::from(map))
}

/// [`attributes_to_val`] owning its strings.
pub(crate) fn owned_attributes_to_val(
    fields: &Attributes,
    extra: impl IntoIterator<Item = (&'static str, Box<dyn Val>)>,
) -> Box<dyn Val> {
    let mut map: HashMap<CelMapKey<'static>, Box<dyn Val>> = fields
        .iter()
        .map(|(name, value)| {
            (
                CelMapKey::String(CelString::from(name.clone())),
                value.to_owned_val(),
            )
        })
        .collect();
    for (name, value) in extra {
        map.insert(CelMapKey::String(CelString::from(name)), value);
    }
    Box::new(CelMap::from(map))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_is_read_by_its_type() {
        let cases: [(&str, Option<AttrValue>); 8] = [
            ("true", Some(AttrValue::Bool(true))),
            ("-7", Some(AttrValue::Int(-7))),
            ("9223372036854775807", Some(AttrValue::Int(i64::MAX))),
            (
                "18446744073709551615",
                Some(AttrValue::Double(u64::MAX as f64)),
            ),
            ("2.5", Some(AttrValue::Double(2.5))),
            (
                "\"2026-11-25T12:00:00Z\"",
                Some(AttrValue::from("2026-11-25T12:00:00Z")),
            ),
            (
                "[1, {\"k\": \"v\"}]",
                Some(AttrValue::List(vec![
                    AttrValue::Int(1),
                    AttrValue::Map(BTreeMap::from([("k".to_owned(), AttrValue::from("v"))])),
                ])),
            ),
            ("null", None),
        ];
        for (text, want) in cases {
            let got: Option<AttrValue> = serde_json::from_str(text).ok();
            assert_eq!(got, want, "{text}");
        }
    }
}

//! Attribute values carried by principals, resources and request context.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// An attribute map: resource attributes, request context, principal attributes.
pub type Attributes = BTreeMap<String, AttrValue>;

/// A typed attribute value; lists and maps nest (the edge bounds their depth and size).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
    /// The CEL value of this attribute.
    pub fn to_cel(&self) -> cel::Value {
        match self {
            AttrValue::Bool(value) => cel::Value::Bool(*value),
            AttrValue::Int(value) => cel::Value::Int(*value),
            AttrValue::Double(value) => cel::Value::Float(*value),
            AttrValue::String(value) => cel::Value::String(Arc::new(value.clone())),
            AttrValue::Timestamp(value) => cel::Value::Timestamp(value.fixed_offset()),
            AttrValue::List(values) => {
                cel::Value::List(Arc::new(values.iter().map(AttrValue::to_cel).collect()))
            }
            AttrValue::Map(fields) => attributes_to_cel(fields, []),
        }
    }

    /// Nesting depth: a scalar is 1, a list of scalars 2.
    pub fn depth(&self) -> usize {
        match self {
            AttrValue::List(values) => 1 + values.iter().map(AttrValue::depth).max().unwrap_or(0),
            AttrValue::Map(fields) => 1 + fields.values().map(AttrValue::depth).max().unwrap_or(0),
            _ => 1,
        }
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

/// A CEL map of `fields` plus extra entries (e.g. `id` and `type`), which win on a clash.
pub(crate) fn attributes_to_cel<'a>(
    fields: &BTreeMap<String, AttrValue>,
    extra: impl IntoIterator<Item = (&'a str, cel::Value)>,
) -> cel::Value {
    let mut map: HashMap<cel::objects::Key, cel::Value> = fields
        .iter()
        .map(|(name, value)| (cel::objects::Key::from(name.clone()), value.to_cel()))
        .collect();
    for (name, value) in extra {
        map.insert(cel::objects::Key::from(name.to_owned()), value);
    }
    cel::Value::Map(cel::objects::Map { map: Arc::new(map) })
}

//! Attribute values carried by principals, resources and request context.

use std::collections::{BTreeMap, HashMap};

use cel::common::types::{
    CelBool, CelDouble, CelInt, CelList, CelMap, CelMapKey, CelString, CelTimestamp,
};
use cel::common::value::Val;
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

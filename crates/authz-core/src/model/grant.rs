//! What a role holds: a grant (permission + scope + condition + fields + step-up), its scope,
//! and the locked grants a role type always keeps.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::FieldVisibility;

/// Permission + scope + optional condition + optional field visibility.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grant {
    /// One permission (`patient.view`) or a pattern (`patient.*`, `*.view`, `*`).
    #[serde(default)]
    pub permission: Option<String>,
    /// Shorthand for several grants that share scope, condition and fields.
    #[serde(default)]
    pub permissions: Vec<String>,
    #[serde(default)]
    pub scope: GrantScope,
    /// CEL over `principal`, `resource`, `context`, `tenant` and `now`; must yield a bool.
    #[serde(default)]
    pub condition: Option<String>,
    /// Sensitivity class or field name → visibility.
    #[serde(default)]
    pub fields: BTreeMap<String, FieldVisibility>,
    /// The caller must re-authenticate before acting on this grant.
    #[serde(default)]
    pub step_up: bool,
}

impl Grant {
    /// The permission names (or patterns) this grant entry covers.
    pub fn permission_names(&self) -> impl Iterator<Item = &str> {
        self.permission
            .iter()
            .map(String::as_str)
            .chain(self.permissions.iter().map(String::as_str))
    }
}

/// Which resources a grant covers, within the binding's reach.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub enum GrantScope {
    /// Every resource the binding reaches.
    #[default]
    Tenant,
    /// Resources inside a container (a location, region, queue…) the binding reaches.
    Location,
    /// Resources where the principal holds this relation, directly or through a container.
    Related(String),
}

impl GrantScope {
    pub fn parse(text: &str) -> Option<GrantScope> {
        match text {
            "tenant" => Some(GrantScope::Tenant),
            "location" => Some(GrantScope::Location),
            _ => text
                .strip_prefix("related:")
                .filter(|relation| !relation.is_empty())
                .map(|relation| GrantScope::Related(relation.to_owned())),
        }
    }
}

impl fmt::Display for GrantScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GrantScope::Tenant => f.write_str("tenant"),
            GrantScope::Location => f.write_str("location"),
            GrantScope::Related(relation) => write!(f, "related:{relation}"),
        }
    }
}

impl Serialize for GrantScope {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for GrantScope {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        GrantScope::parse(&text).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "invalid scope `{text}`: expected `tenant`, `location` or `related:<relation>`"
            ))
        })
    }
}

/// One entry of `locked_grants`: what every role of a role type keeps.
///
/// Written either as a permission (or pattern), held tenant-wide and unconditionally, or as a
/// grant with the fields of a role's grant, held with its own scope and condition:
///
/// ```yaml
/// locked_grants:
///   admin: [user.view, user.create]
///   parent:
///     - { permission: client.view_portal, scope: "related:guardian" }
/// ```
///
/// Each form is written back the way it was read, so an exported policy keeps its shape.
#[derive(Debug, Clone, PartialEq)]
pub enum LockedGrant {
    /// `user.view`: tenant-wide, unconditional, default field visibility, no step-up.
    Permission(String),
    Grant(Grant),
}

impl LockedGrant {
    /// The grant this entry stands for.
    pub fn to_grant(&self) -> Grant {
        match self {
            LockedGrant::Permission(permission) => Grant {
                permission: Some(permission.clone()),
                ..Grant::default()
            },
            LockedGrant::Grant(grant) => grant.clone(),
        }
    }
}

impl From<&str> for LockedGrant {
    fn from(permission: &str) -> Self {
        LockedGrant::Permission(permission.to_owned())
    }
}

impl Serialize for LockedGrant {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            LockedGrant::Permission(permission) => serializer.serialize_str(permission),
            LockedGrant::Grant(grant) => grant.serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for LockedGrant {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(LockedGrantVisitor)
    }
}

/// Reads a locked grant by its YAML shape: text is a permission, a mapping is a grant (whose
/// own deserializer refuses unknown fields, so a typo is still an error naming the field).
struct LockedGrantVisitor;

impl<'de> Visitor<'de> for LockedGrantVisitor {
    type Value = LockedGrant;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a permission, or a grant with `permission` or `permissions`")
    }

    fn visit_str<E: de::Error>(self, permission: &str) -> Result<LockedGrant, E> {
        Ok(LockedGrant::Permission(permission.to_owned()))
    }

    fn visit_string<E: de::Error>(self, permission: String) -> Result<LockedGrant, E> {
        Ok(LockedGrant::Permission(permission))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<LockedGrant, A::Error> {
        Grant::deserialize(de::value::MapAccessDeserializer::new(map)).map(LockedGrant::Grant)
    }
}

//! The domain model as an admin writes it: one [`TenantPolicy`] describes a tenant's catalog,
//! roles, constraints, principals, bindings, relationships and delegations.
//!
//! These are plain values (serde for the YAML policy file, and the shape the stores persist).
//! Nothing here is optimised for checks: [`crate::Snapshot::compile`] turns a policy into the
//! immutable, indexed form the evaluator reads.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::attr::AttrValue;

mod grant;

pub use grant::{Grant, GrantScope, LockedGrant};

/// The tenant id reserved for platform staff (super admin, onboarding, support).
///
/// Its roles are the only path to cross-tenant access; a tenant policy can never use this id.
pub const PLATFORM_TENANT_ID: &str = "platform";

/// Everything that describes one tenant. The unit a store loads and a snapshot compiles.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantPolicy {
    pub tenant: Tenant,
    #[serde(default)]
    pub entitlements: Entitlements,
    #[serde(default)]
    pub catalog: Catalog,
    /// Grants every role of a role type keeps, whatever its grants or removals say (e.g.
    /// admins always keep user management; parents always see the portal of the clients they
    /// are guardians of).
    #[serde(default)]
    pub locked_grants: BTreeMap<String, Vec<LockedGrant>>,
    #[serde(default)]
    pub roles: Vec<Role>,
    #[serde(default)]
    pub constraints: Vec<Constraint>,
    #[serde(default)]
    pub principals: Vec<Principal>,
    #[serde(default)]
    pub bindings: Vec<Binding>,
    /// Data-level facts in `type:id#relation@subject_type:subject_id` form.
    #[serde(default)]
    pub relationships: Vec<Relationship>,
    #[serde(default)]
    pub delegations: Vec<Delegation>,
}

/// The isolation boundary: a practice, agency or client organisation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tenant {
    pub id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub status: TenantStatus,
    /// IANA time zone for business-hours conditions (`tenant.time_zone` in CEL).
    #[serde(default = "default_time_zone")]
    pub time_zone: String,
}

fn default_time_zone() -> String {
    "UTC".to_owned()
}

impl Default for Tenant {
    /// As a policy file that names only the id reads: active, in UTC.
    fn default() -> Self {
        Tenant {
            id: String::new(),
            name: String::new(),
            status: TenantStatus::default(),
            time_zone: default_time_zone(),
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TenantStatus {
    #[default]
    Active,
    Suspended,
    Deactivated,
}

/// What the tenant has contracted or switched on.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entitlements {
    #[serde(default)]
    pub plan: String,
    /// Feature flags and modules; a permission tagged with a feature is denied
    /// (`not_entitled`) when the tenant lacks it.
    #[serde(default)]
    pub features: Vec<String>,
    /// How many non-built-in roles the plan allows; `None` means no limit.
    #[serde(default)]
    pub custom_role_limit: Option<u32>,
}

/// The per-tenant permission catalog (schema).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Catalog {
    /// Sensitivity classes of fields (e.g. `pii`) and what a grant shows when it says nothing.
    #[serde(default)]
    pub sensitivity_classes: BTreeMap<String, SensitivityClass>,
    #[serde(default)]
    pub resource_types: BTreeMap<String, ResourceType>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SensitivityClass {
    #[serde(default)]
    pub description: String,
    /// Visibility when an allowing grant does not mention this class. Defaults to `off`:
    /// sensitive data is shown only where a role says so.
    #[serde(default = "FieldVisibility::off")]
    pub default_visibility: FieldVisibility,
}

/// A kind of resource, its actions, relations and classified fields.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceType {
    #[serde(default)]
    pub description: String,
    /// Resources of this type group others (locations, regions, queues, customer orgs).
    #[serde(default)]
    pub container: bool,
    #[serde(default)]
    pub relations: BTreeMap<String, RelationDef>,
    #[serde(default)]
    pub actions: BTreeMap<String, Action>,
    /// Field name → sensitivity class.
    #[serde(default)]
    pub fields: BTreeMap<String, String>,
}

/// What a relation on a resource points at: exactly one of `container` or `subject`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RelationDef {
    /// The target is a container resource of this type: what holds for it holds for this
    /// resource (`patient:1#location@location:north`).
    #[serde(default)]
    pub container: Option<String>,
    /// The target is a principal of this kind (`patient:1#assignee@user:alice`).
    #[serde(default)]
    pub subject: Option<PrincipalKind>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Action {
    #[serde(default)]
    pub description: String,
    /// Grouping for the role editor and for constraints (`phi_export`).
    #[serde(default)]
    pub category: String,
    /// The entitlement feature this action needs.
    #[serde(default)]
    pub feature: Option<String>,
}

/// A named, customisable wrapper around a permission set.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Role {
    pub id: String,
    #[serde(default)]
    pub name: String,
    /// Stable identifier the application routes on (`admin`, `bcba`, `rbt`, `parent`).
    pub role_type: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub color: String,
    /// Inherit the parent's grants, then apply `remove`, then add `grants`.
    #[serde(default)]
    pub parent: Option<String>,
    /// Inherited permissions this role drops.
    #[serde(default)]
    pub remove: Vec<String>,
    #[serde(default)]
    pub grants: Vec<Grant>,
    /// Shipped by a template pack (does not count against the custom role limit).
    #[serde(default)]
    pub built_in: bool,
}

/// How much of a classified field a decision lets the caller show.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum FieldVisibility {
    /// Hidden entirely.
    #[default]
    Off,
    /// Last four characters only.
    Mask,
    Full,
}

impl FieldVisibility {
    fn off() -> Self {
        FieldVisibility::Off
    }
}

#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum PrincipalKind {
    #[default]
    User,
    Service,
}

impl PrincipalKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PrincipalKind::User => "user",
            PrincipalKind::Service => "service",
        }
    }

    pub fn parse(text: &str) -> Option<PrincipalKind> {
        match text {
            "user" => Some(PrincipalKind::User),
            "service" => Some(PrincipalKind::Service),
            _ => None,
        }
    }
}

/// Where a principal, or the policy that declares it, comes from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Origin {
    /// The tenant's own directory.
    #[default]
    Tenant,
    /// The platform tenant ([`PLATFORM_TENANT_ID`]): staff reaching a tenant through platform
    /// bindings. They share no identity with the tenant's principals, even under the same id.
    Platform,
}

impl Origin {
    /// The origin of `tenant_id`'s policy.
    pub(crate) fn of_tenant(tenant_id: &str) -> Origin {
        if tenant_id == PLATFORM_TENANT_ID {
            Origin::Platform
        } else {
            Origin::Tenant
        }
    }

    /// Whether compiling this origin's roles and keys skips the permissions, relations and
    /// fields the catalog at hand lacks instead of refusing them: the platform's name those
    /// of every tenant's catalog, and each tenant takes what it has.
    pub(crate) fn lenient(self) -> bool {
        self == Origin::Platform
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PrincipalStatus {
    Invited,
    #[default]
    Active,
    Suspended,
    Deactivated,
}

/// A user (staff, parent/guardian) or a service account. Never hard-deleted.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Principal {
    pub id: String,
    #[serde(default, rename = "type")]
    pub kind: PrincipalKind,
    #[serde(default)]
    pub display_name: String,
    #[serde(default)]
    pub status: PrincipalStatus,
    /// Bumped by an admin to force re-login: tokens carrying an older version are denied.
    #[serde(default)]
    pub token_version: u64,
    /// Visible to conditions as `principal.<name>`.
    #[serde(default)]
    pub attributes: BTreeMap<String, AttrValue>,
    #[serde(default)]
    pub sessions: Vec<Session>,
    #[serde(default)]
    pub api_keys: Vec<ApiKey>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Session {
    pub id: String,
    #[serde(default)]
    pub revoked: bool,
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
}

/// A credential of a service account or user; only its hash is ever stored.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKey {
    pub id: String,
    /// Permissions (or patterns) the key may exercise; a subset of what its owner holds.
    pub scopes: Vec<String>,
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub revoked: bool,
    #[serde(default)]
    pub rate_limit_per_second: Option<u32>,
    /// Hex SHA-256 of the secret; never the secret itself.
    #[serde(default)]
    pub secret_hash: String,
}

/// Principal × role × where × when × why.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Binding {
    pub id: String,
    pub principal: String,
    pub role: String,
    /// Containers (`location:north`, `region:west`) the binding is limited to; empty means
    /// tenant-wide.
    #[serde(default)]
    pub locations: Vec<String>,
    /// Platform bindings only: the tenants this platform role applies to; empty means all.
    #[serde(default)]
    pub tenants: Vec<String>,
    /// Inclusive start of validity.
    #[serde(default)]
    pub not_before: Option<DateTime<Utc>>,
    /// Exclusive end of validity.
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub source: BindingSource,
    #[serde(default)]
    pub reason: String,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BindingSource {
    #[default]
    Direct,
    Delegation,
    Elevation,
    BreakGlass,
    Scim,
}

/// A data-level fact: `resource_type:resource_id#relation@subject_type:subject_id`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Relationship {
    pub resource_type: String,
    pub resource_id: String,
    pub relation: String,
    pub subject_type: String,
    pub subject_id: String,
}

impl Relationship {
    /// Parses `patient:123#assignee@user:alice`.
    pub fn parse(text: &str) -> Result<Relationship, String> {
        let (resource, rest) = text
            .split_once('#')
            .ok_or_else(|| format!("relationship `{text}` has no `#relation`"))?;
        let (relation, subject) = rest
            .split_once('@')
            .ok_or_else(|| format!("relationship `{text}` has no `@subject`"))?;
        let (resource_type, resource_id) = split_typed_ref(resource)
            .ok_or_else(|| format!("relationship `{text}`: resource must be `type:id`"))?;
        let (subject_type, subject_id) = split_typed_ref(subject)
            .ok_or_else(|| format!("relationship `{text}`: subject must be `type:id`"))?;
        if relation.is_empty() {
            return Err(format!("relationship `{text}` has an empty relation"));
        }
        Ok(Relationship {
            resource_type: resource_type.to_owned(),
            resource_id: resource_id.to_owned(),
            relation: relation.to_owned(),
            subject_type: subject_type.to_owned(),
            subject_id: subject_id.to_owned(),
        })
    }
}

/// Splits `type:id` into its non-empty halves.
pub fn split_typed_ref(text: &str) -> Option<(&str, &str)> {
    text.split_once(':')
        .filter(|(kind, id)| !kind.is_empty() && !id.is_empty())
}

impl std::fmt::Display for Relationship {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}#{}@{}:{}",
            self.resource_type, self.resource_id, self.relation, self.subject_type, self.subject_id
        )
    }
}

impl Serialize for Relationship {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Relationship {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Relationship::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// A forbid rule no grant overrides. All the predicates it states must hold for it to apply.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Constraint {
    pub id: String,
    #[serde(default)]
    pub description: String,
    /// Permissions (or patterns) it forbids.
    #[serde(default)]
    pub permissions: Vec<String>,
    /// Action categories it forbids, in addition to `permissions`.
    #[serde(default)]
    pub categories: Vec<String>,
    /// Applies to principals holding an active binding of one of these role types; empty
    /// means everyone.
    #[serde(default)]
    pub role_types: Vec<String>,
    /// Applies when the principal holds this relation on the resource (e.g. `author`).
    #[serde(default)]
    pub when_related: Option<String>,
    /// Applies when this CEL expression is true; an evaluation error applies it (fail closed).
    #[serde(default)]
    pub condition: Option<String>,
}

/// Delegator lets delegate act on their behalf for some permissions within a window.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Delegation {
    pub id: String,
    pub delegator: String,
    pub delegate: String,
    /// Permissions (or patterns) delegated.
    pub permissions: Vec<String>,
    #[serde(default)]
    pub not_before: Option<DateTime<Utc>>,
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub revoked: bool,
    #[serde(default)]
    pub reason: String,
}

//! The values stores take and give: tenant rows, relationship writes and reads, import
//! reports, and the change feed replicas and caches follow.

use std::sync::Arc;

use authz_core::TenantPolicy;
use authz_core::model::{Relationship, Tenant};

use crate::page::Page;

/// One tenant's policy at the revision it was last written.
#[derive(Debug, Clone)]
pub struct StoredTenant {
    pub policy: Arc<TenantPolicy>,
    pub revision: u64,
}

/// A tenant as listed: who it is and where its revision stands.
#[derive(Debug, Clone, PartialEq)]
pub struct TenantRecord {
    pub tenant: Tenant,
    pub revision: u64,
}

/// Add a relationship (idempotent: touching one that exists changes nothing) or delete one
/// (deleting one that does not exist changes nothing).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RelationshipOp {
    Touch,
    Delete,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RelationshipWrite {
    pub op: RelationshipOp,
    pub relationship: Relationship,
}

/// Which relationships to read; every field left `None` matches anything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RelationshipFilter {
    pub resource_type: Option<String>,
    pub resource_id: Option<String>,
    pub relation: Option<String>,
    pub subject_type: Option<String>,
    pub subject_id: Option<String>,
}

impl RelationshipFilter {
    pub fn matches(&self, relationship: &Relationship) -> bool {
        let fits =
            |wanted: &Option<String>, value: &str| wanted.as_deref().is_none_or(|w| w == value);
        fits(&self.resource_type, &relationship.resource_type)
            && fits(&self.resource_id, &relationship.resource_id)
            && fits(&self.relation, &relationship.relation)
            && fits(&self.subject_type, &relationship.subject_type)
            && fits(&self.subject_id, &relationship.subject_id)
    }
}

/// A page of relationships and the revision it was read at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelationshipPage {
    pub page: Page<Relationship>,
    pub revision: u64,
}

/// The key a relationship sorts and pages by: resource type, resource id, relation, subject
/// type, subject id.
pub fn relationship_key(relationship: &Relationship) -> Vec<String> {
    vec![
        relationship.resource_type.clone(),
        relationship.resource_id.clone(),
        relationship.relation.clone(),
        relationship.subject_type.clone(),
        relationship.subject_id.clone(),
    ]
}

/// How to import a policy.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportOptions {
    /// Report what would change; write nothing.
    pub dry_run: bool,
    /// Refuse with [`crate::StoreError::RevisionConflict`] unless the tenant is at this revision
    /// (optimistic concurrency for read-modify-write tools).
    pub expected_revision: Option<u64>,
}

/// What an import changed (or, dry, would change).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// The tenant's revision after the import: the new one when something changed, the current
    /// one when nothing did or on a dry run.
    pub revision: u64,
    pub changes: Vec<PolicyChange>,
    pub relationships_added: u64,
    pub relationships_removed: u64,
}

impl ImportReport {
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty() && self.relationships_added == 0 && self.relationships_removed == 0
    }
}

/// One entity an import adds, removes or modifies.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct PolicyChange {
    pub kind: ChangeKind,
    /// `tenant`, `entitlements`, `resource_type`, `sensitivity_class`, `locked_grants`, `role`,
    /// `constraint`, `principal`, `binding`, `delegation`.
    pub what: &'static str,
    pub id: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ChangeKind {
    Added,
    Removed,
    Modified,
}

impl ChangeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Added => "added",
            ChangeKind::Removed => "removed",
            ChangeKind::Modified => "modified",
        }
    }
}

/// One committed change of a tenant, as replicas and caches follow it. Events of one write
/// share its revision; revisions of a tenant have no gaps, so a follower that sees one knows
/// it missed something.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub revision: u64,
    pub event: ChangeEvent,
}

/// What changed. Relationship events carry the relationship, so a replica patches its graph
/// without reading it back; every other event names what a cache must forget and makes a
/// replica reload the tenant's policy part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangeEvent {
    RelationshipTouched(Relationship),
    RelationshipDeleted(Relationship),
    /// Catalog, roles, constraints, entitlements or locked grants: every decision of the tenant.
    Policy,
    /// A principal's status, attributes, bindings, sessions, keys or delegations.
    Principal(String),
    /// The tenant's status, name or time zone.
    Tenant,
    /// Too much changed to list (a large import): reload the tenant whole.
    Reload,
}

impl ChangeEvent {
    pub fn is_relationship(&self) -> bool {
        matches!(
            self,
            ChangeEvent::RelationshipTouched(_) | ChangeEvent::RelationshipDeleted(_)
        )
    }
}

/// What a follower must do to catch up from a revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangeFeed {
    /// The changes after the revision asked for, in revision order, up to the tenant's current
    /// revision or the limit asked for (then ask again from the last one).
    Changes(Vec<Change>),
    /// The log no longer reaches back that far (or the tenant was recreated): load the tenant
    /// whole, at this revision or later.
    Reload { revision: u64 },
}

/// A commit announced to followers: `tenant_id` reached `revision`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Committed {
    pub tenant_id: String,
    pub revision: u64,
}

/// Who an API key belongs to, found by the hash of its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyOwner {
    pub tenant_id: String,
    pub principal_id: String,
    pub principal_kind: authz_core::PrincipalKind,
    pub key_id: String,
    pub revoked: bool,
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
}

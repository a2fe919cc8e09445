//! What an import changes: the stored policy against the imported one, entity by entity (by
//! id, so order in the file does not matter), and the change events followers need.

use std::collections::{BTreeMap, BTreeSet};

use authz_core::TenantPolicy;
use authz_core::model::Relationship;

use crate::records::{ChangeEvent, ChangeKind, PolicyChange};

/// More relationship changes than this in one import are announced as one
/// [`ChangeEvent::Reload`] rather than one event each: a follower reloads the tenant whole.
pub const MAX_RELATIONSHIP_EVENTS: usize = 10_000;

/// The entities (everything but relationships) an import adds, removes or modifies.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PolicyDiff {
    pub changes: Vec<PolicyChange>,
}

impl PolicyDiff {
    pub fn between(stored: &TenantPolicy, imported: &TenantPolicy) -> PolicyDiff {
        let mut changes = Vec::new();
        let mut single = |what: &'static str, id: &str, same: bool| {
            if !same {
                changes.push(PolicyChange {
                    kind: ChangeKind::Modified,
                    what,
                    id: id.to_owned(),
                });
            }
        };
        let tenant_id = &imported.tenant.id;
        single("tenant", tenant_id, stored.tenant == imported.tenant);
        single(
            "entitlements",
            tenant_id,
            stored.entitlements == imported.entitlements,
        );
        compare(
            &mut changes,
            "resource_type",
            &stored.catalog.resource_types,
            &imported.catalog.resource_types,
        );
        compare(
            &mut changes,
            "sensitivity_class",
            &stored.catalog.sensitivity_classes,
            &imported.catalog.sensitivity_classes,
        );
        compare(
            &mut changes,
            "locked_grants",
            &stored.locked_grants,
            &imported.locked_grants,
        );
        compare(
            &mut changes,
            "role",
            &stored.roles.iter().map(|r| (r.id.clone(), r)).collect(),
            &imported.roles.iter().map(|r| (r.id.clone(), r)).collect(),
        );
        compare(
            &mut changes,
            "constraint",
            &stored
                .constraints
                .iter()
                .map(|c| (c.id.clone(), c))
                .collect(),
            &imported
                .constraints
                .iter()
                .map(|c| (c.id.clone(), c))
                .collect(),
        );
        compare(
            &mut changes,
            "principal",
            &stored
                .principals
                .iter()
                .map(|p| (p.id.clone(), p))
                .collect(),
            &imported
                .principals
                .iter()
                .map(|p| (p.id.clone(), p))
                .collect(),
        );
        compare(
            &mut changes,
            "binding",
            &stored.bindings.iter().map(|b| (b.id.clone(), b)).collect(),
            &imported
                .bindings
                .iter()
                .map(|b| (b.id.clone(), b))
                .collect(),
        );
        compare(
            &mut changes,
            "delegation",
            &stored
                .delegations
                .iter()
                .map(|d| (d.id.clone(), d))
                .collect(),
            &imported
                .delegations
                .iter()
                .map(|d| (d.id.clone(), d))
                .collect(),
        );
        PolicyDiff { changes }
    }

    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// The events followers need for these changes: one `Policy` for anything that shapes
    /// every decision, one `Principal` per principal touched (directly, or through a binding
    /// or delegation of theirs), one `Tenant` for the tenant row. Deduplicated, in order.
    pub fn events(&self, stored: &TenantPolicy, imported: &TenantPolicy) -> Vec<ChangeEvent> {
        let mut policy = false;
        let mut tenant = false;
        let mut principals = BTreeSet::new();
        for change in &self.changes {
            match change.what {
                "tenant" => tenant = true,
                "principal" => {
                    principals.insert(change.id.clone());
                }
                "binding" => {
                    for side in [stored, imported] {
                        for binding in side.bindings.iter().filter(|b| b.id == change.id) {
                            principals.insert(binding.principal.clone());
                        }
                    }
                }
                "delegation" => {
                    for side in [stored, imported] {
                        for delegation in side.delegations.iter().filter(|d| d.id == change.id) {
                            principals.insert(delegation.delegator.clone());
                            principals.insert(delegation.delegate.clone());
                        }
                    }
                }
                _ => policy = true,
            }
        }
        let mut events = Vec::new();
        if tenant {
            events.push(ChangeEvent::Tenant);
        }
        if policy {
            events.push(ChangeEvent::Policy);
        }
        events.extend(principals.into_iter().map(ChangeEvent::Principal));
        events
    }
}

fn compare<T: PartialEq>(
    changes: &mut Vec<PolicyChange>,
    what: &'static str,
    stored: &BTreeMap<String, T>,
    imported: &BTreeMap<String, T>,
) {
    for (id, old) in stored {
        let kind = match imported.get(id) {
            None => ChangeKind::Removed,
            Some(new) if new != old => ChangeKind::Modified,
            Some(_) => continue,
        };
        changes.push(PolicyChange {
            kind,
            what,
            id: id.clone(),
        });
    }
    for id in imported.keys().filter(|id| !stored.contains_key(*id)) {
        changes.push(PolicyChange {
            kind: ChangeKind::Added,
            what,
            id: id.clone(),
        });
    }
}

/// Relationships `imported` holds that `stored` lacks (added) and the reverse (removed), each
/// sorted.
pub fn relationship_delta(
    stored: &BTreeSet<Relationship>,
    imported: &[Relationship],
) -> (Vec<Relationship>, Vec<Relationship>) {
    let imported: BTreeSet<&Relationship> = imported.iter().collect();
    let added = imported
        .iter()
        .filter(|relationship| !stored.contains(**relationship))
        .map(|relationship| (*relationship).clone())
        .collect();
    let removed = stored
        .iter()
        .filter(|relationship| !imported.contains(relationship))
        .cloned()
        .collect();
    (added, removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(yaml: &str) -> TenantPolicy {
        TenantPolicy::from_yaml(yaml).unwrap()
    }

    const BEFORE: &str = r#"
tenant: { id: acme }
catalog:
  resource_types:
    patient: { actions: { view: {}, edit: {} } }
roles:
  - { id: nurse, role_type: nurse, grants: [{ permission: patient.view }] }
  - { id: admin, role_type: admin, grants: [{ permission: "patient.*" }] }
principals: [{ id: ann }, { id: bob }]
bindings:
  - { id: b-ann, principal: ann, role: nurse }
  - { id: b-bob, principal: bob, role: admin }
"#;

    #[test]
    fn the_same_policy_in_another_order_changes_nothing() {
        let before = parse(BEFORE);
        let mut reordered = before.clone();
        reordered.roles.reverse();
        reordered.principals.reverse();
        reordered.bindings.reverse();
        assert!(PolicyDiff::between(&before, &reordered).is_empty());
    }

    #[test]
    fn changes_are_named_entity_by_entity_with_the_events_followers_need() {
        let before = parse(BEFORE);
        let mut after = before.clone();
        after.roles[0].grants[0].permission = Some("patient.edit".to_owned()); // nurse modified
        after.bindings.retain(|b| b.id != "b-bob"); // bob's binding removed
        after
            .principals
            .push(parse("tenant: { id: x }\nprincipals: [{ id: cy }]").principals[0].clone());
        after.tenant.name = "Acme Home Health".to_owned();
        let diff = PolicyDiff::between(&before, &after);
        let mut named: Vec<(ChangeKind, &str, &str)> = diff
            .changes
            .iter()
            .map(|c| (c.kind, c.what, c.id.as_str()))
            .collect();
        named.sort();
        assert_eq!(
            named,
            [
                (ChangeKind::Added, "principal", "cy"),
                (ChangeKind::Removed, "binding", "b-bob"),
                (ChangeKind::Modified, "role", "nurse"),
                (ChangeKind::Modified, "tenant", "acme"),
            ]
        );
        assert_eq!(
            diff.events(&before, &after),
            [
                ChangeEvent::Tenant,
                ChangeEvent::Policy,
                ChangeEvent::Principal("bob".to_owned()),
                ChangeEvent::Principal("cy".to_owned()),
            ]
        );
    }

    #[test]
    fn relationships_are_compared_as_sets() {
        let rel = |text: &str| Relationship::parse(text).unwrap();
        let stored: BTreeSet<Relationship> = [
            rel("patient:1#owner@user:ann"),
            rel("patient:2#owner@user:ann"),
        ]
        .into();
        let imported = vec![
            rel("patient:3#owner@user:ann"),
            rel("patient:1#owner@user:ann"),
            rel("patient:1#owner@user:ann"),
        ];
        let (added, removed) = relationship_delta(&stored, &imported);
        assert_eq!(added, [rel("patient:3#owner@user:ann")]);
        assert_eq!(removed, [rel("patient:2#owner@user:ann")]);
    }
}

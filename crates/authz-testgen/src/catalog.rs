//! The catalog every generated tenant shares: a small home-health back office with containers
//! that nest (region ⊃ location ⊃ patient ⊃ document / claim, and work queues), subject
//! relations (`assignee`, `author`), classified fields and a feature-gated action.
//!
//! It is fixed on purpose: what varies between generated tenants is who holds what, where and
//! when — the part of a policy admins change every day — and a fixed catalog keeps the
//! reference model small enough to read.

use std::collections::BTreeMap;

use authz_core::FieldVisibility;
use authz_core::PrincipalKind;
use authz_core::model::{Action, Catalog, RelationDef, ResourceType, SensitivityClass};

/// What a relation of a resource type points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// A container of this type: what holds for it holds for the resource.
    Container(&'static str),
    /// A user principal.
    User,
}

/// One resource type of the catalog.
#[derive(Debug, Clone, Copy)]
pub struct TypeDef {
    pub name: &'static str,
    pub container: bool,
    /// `(action, category, feature)`.
    pub actions: &'static [(&'static str, &'static str, Option<&'static str>)],
    pub relations: &'static [(&'static str, Target)],
    /// `(field, sensitivity class)`, in field-name order.
    pub fields: &'static [(&'static str, &'static str)],
    /// The resource ids generated tenants know of this type.
    pub ids: &'static [&'static str],
}

/// The catalog's resource types; containers come before what they contain.
pub const TYPES: [TypeDef; 6] = [
    TypeDef {
        name: "region",
        container: true,
        actions: &[("view", "setup", None)],
        relations: &[],
        fields: &[],
        ids: &["west", "east"],
    },
    TypeDef {
        name: "location",
        container: true,
        actions: &[("view", "setup", None)],
        relations: &[("parent", Target::Container("region"))],
        fields: &[],
        ids: &["north", "south", "harbor"],
    },
    TypeDef {
        name: "queue",
        container: true,
        actions: &[("view", "billing", None), ("work", "billing", None)],
        relations: &[("assignee", Target::User)],
        fields: &[],
        ids: &["q-denials", "q-appeals"],
    },
    TypeDef {
        name: "patient",
        container: true,
        actions: &[
            ("view", "clinical", None),
            ("edit", "clinical", None),
            ("export", "phi_export", Some(EXPORTS_FEATURE)),
        ],
        relations: &[
            ("location", Target::Container("location")),
            ("assignee", Target::User),
        ],
        fields: &[("diagnoses", "clinical"), ("ssn", "pii")],
        ids: &["p0", "p1", "p2", "p3"],
    },
    TypeDef {
        name: "document",
        container: false,
        actions: &[("view", "clinical", None), ("approve", "qa", None)],
        relations: &[
            ("patient", Target::Container("patient")),
            ("author", Target::User),
        ],
        fields: &[],
        ids: &["d0", "d1", "d2"],
    },
    TypeDef {
        name: "claim",
        container: false,
        actions: &[("view", "billing", None), ("post", "billing", None)],
        relations: &[
            ("queue", Target::Container("queue")),
            ("patient", Target::Container("patient")),
        ],
        fields: &[("member_id", "pii")],
        ids: &["c0", "c1", "c2"],
    },
];

/// The feature `patient.export` needs.
pub const EXPORTS_FEATURE: &str = "exports";

/// Sensitivity classes and the visibility a grant that names neither them nor their fields
/// gives: `pii` hidden, `clinical` masked.
pub const CLASSES: [(&str, FieldVisibility); 2] = [
    ("pii", FieldVisibility::Off),
    ("clinical", FieldVisibility::Mask),
];

/// What a grant's `fields` may name: a class or a classified field.
pub const FIELD_KEYS: [&str; 5] = ["pii", "clinical", "ssn", "diagnoses", "member_id"];

/// Role types; `admin` is the one whose `patient.view` may be locked.
pub const ROLE_TYPES: [&str; 4] = ["admin", "clinician", "biller", "auditor"];

/// The role type and permission a tenant may lock (`locked_grants`).
pub const LOCKED: (&str, &str) = ("admin", "patient.view");

/// Action categories a constraint may forbid.
pub const CATEGORIES: [&str; 3] = ["phi_export", "qa", "billing"];

/// Subject relations a grant scope or a constraint may name.
pub const SUBJECT_RELATIONS: [&str; 2] = ["assignee", "author"];

/// Principal ids, the same in every generated tenant (tenant isolation is tested with equal
/// ids), plus one no tenant has.
pub const PRINCIPAL_IDS: [&str; 6] = ["ana", "ben", "cai", "dee", "eli", "fay"];
pub const UNKNOWN_PRINCIPAL: &str = "zed";

/// The type named `name`.
pub fn type_def(name: &str) -> Option<&'static TypeDef> {
    TYPES.iter().find(|t| t.name == name)
}

/// Every permission of [`TYPES`], `type.action`, in catalog order (a unit test keeps the two
/// in step).
pub const PERMISSIONS: [&str; 11] = [
    "region.view",
    "location.view",
    "queue.view",
    "queue.work",
    "patient.view",
    "patient.edit",
    "patient.export",
    "document.view",
    "document.approve",
    "claim.view",
    "claim.post",
];

/// Patterns grants, removals, delegations, keys and constraints may name besides exact
/// permissions.
pub const PATTERNS: [&str; 4] = ["patient.*", "*.view", "claim.*", "*"];

/// Whether a permission name or pattern (`*` matches any run of characters) covers
/// `permission`.
pub fn covers(pattern: &str, permission: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == permission,
        Some((prefix, suffix)) => {
            permission.len() >= prefix.len() + suffix.len()
                && permission.starts_with(prefix)
                && permission.ends_with(suffix)
        }
    }
}

/// Whether a principal can ever hold `relation` on a resource of type `type_name`: the type
/// declares it as a subject relation, or a container type it sits in does, transitively. A
/// `related:` scope on a permission whose type cannot hold its relation is a load error (a
/// pattern keeps the permissions whose type can). Containers come before what they contain,
/// so the walk ends.
pub fn can_hold(type_name: &str, relation: &str) -> bool {
    type_def(type_name).is_some_and(|def| {
        def.relations.iter().any(|(name, target)| match target {
            Target::User => *name == relation,
            Target::Container(container) => can_hold(container, relation),
        })
    })
}

/// Whether a principal can ever hold `relation` on what `permission` acts on.
pub fn permission_can_hold(permission: &str, relation: &str) -> bool {
    permission
        .split_once('.')
        .is_some_and(|(type_name, _)| can_hold(type_name, relation))
}

/// The category and feature of `permission`, if it is in the catalog.
pub fn action_def(permission: &str) -> Option<(&'static str, Option<&'static str>)> {
    let (type_name, action) = permission.split_once('.')?;
    type_def(type_name)?
        .actions
        .iter()
        .find(|(name, _, _)| *name == action)
        .map(|(_, category, feature)| (*category, *feature))
}

/// The catalog as a policy section.
pub(crate) fn catalog() -> Catalog {
    let sensitivity_classes = CLASSES
        .iter()
        .map(|(name, default_visibility)| {
            let class = SensitivityClass {
                description: String::new(),
                default_visibility: *default_visibility,
            };
            ((*name).to_owned(), class)
        })
        .collect();
    let resource_types = TYPES
        .iter()
        .map(|t| {
            let relations = t
                .relations
                .iter()
                .map(|(name, target)| {
                    let def = match target {
                        Target::Container(container) => RelationDef {
                            container: Some((*container).to_owned()),
                            subject: None,
                        },
                        Target::User => RelationDef {
                            container: None,
                            subject: Some(PrincipalKind::User),
                        },
                    };
                    ((*name).to_owned(), def)
                })
                .collect();
            let actions = t
                .actions
                .iter()
                .map(|(name, category, feature)| {
                    let action = Action {
                        description: String::new(),
                        category: (*category).to_owned(),
                        feature: feature.map(str::to_owned),
                    };
                    ((*name).to_owned(), action)
                })
                .collect();
            let fields = t
                .fields
                .iter()
                .map(|(field, class)| ((*field).to_owned(), (*class).to_owned()))
                .collect::<BTreeMap<_, _>>();
            let resource_type = ResourceType {
                description: String::new(),
                container: t.container,
                relations,
                actions,
                fields,
            };
            (t.name.to_owned(), resource_type)
        })
        .collect();
    Catalog {
        sensitivity_classes,
        resource_types,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_cover_what_their_name_says() {
        let cases = [
            ("patient.view", "patient.view", true),
            ("patient.view", "patient.edit", false),
            ("patient.*", "patient.export", true),
            ("patient.*", "claim.view", false),
            ("*.view", "region.view", true),
            ("*.view", "queue.work", false),
            ("*", "document.approve", true),
        ];
        for (pattern, permission, want) in cases {
            assert_eq!(
                covers(pattern, permission),
                want,
                "{pattern} vs {permission}"
            );
        }
        for pattern in PATTERNS {
            assert_eq!(
                pattern.matches('*').count(),
                1,
                "one wildcard per pattern: {pattern}"
            );
        }
    }

    #[test]
    fn a_relation_is_held_on_its_type_and_on_everything_inside_its_containers() {
        let cases = [
            ("patient", "assignee", true),
            ("document", "author", true),
            // Through a container: a document sits in a patient, a claim in a queue.
            ("document", "assignee", true),
            ("claim", "assignee", true),
            ("patient", "author", false),
            ("claim", "author", false),
            // Containers of containers declare no subject relation.
            ("location", "assignee", false),
            ("region", "assignee", false),
            // A container relation is not one a principal holds.
            ("patient", "location", false),
        ];
        for (type_name, relation, want) in cases {
            assert_eq!(
                can_hold(type_name, relation),
                want,
                "{type_name} {relation}"
            );
        }
    }

    #[test]
    fn permissions_list_every_action_of_the_types_in_order() {
        let derived: Vec<String> = TYPES
            .iter()
            .flat_map(|t| {
                t.actions
                    .iter()
                    .map(move |(action, _, _)| format!("{}.{action}", t.name))
            })
            .collect();
        assert_eq!(derived, PERMISSIONS);
    }
}

//! The compiled catalog: resource types, permissions as dense ids, relations, and the
//! permission patterns (`patient.*`, `*.view`) that name sets of them.

use std::collections::BTreeMap;
use std::sync::Arc;

use rustc_hash::{FxHashMap, FxHashSet};

use super::ids::validate_id;
use crate::admin_catalog::{
    ADMIN_CATEGORY, ADMIN_RESOURCE_TYPE, PLATFORM_ADMIN_ACTIONS, TENANT_ADMIN_ACTIONS,
};
use crate::decision::FieldVisibilities;
use crate::error::PolicyError;
use crate::model::{
    FieldVisibility, PLATFORM_TENANT_ID, ResourceType, SensitivityClass, TenantPolicy,
    split_typed_ref,
};

pub(crate) type PermId = u32;
pub(crate) type RelationId = u16;

/// A set of permission ids.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct PermSet(Box<[u64]>);

impl PermSet {
    pub(super) fn with_capacity(perms: usize) -> Self {
        PermSet(vec![0; perms.div_ceil(64)].into_boxed_slice())
    }

    #[inline]
    pub(crate) fn contains(&self, perm: PermId) -> bool {
        let word = (perm / 64) as usize;
        self.0
            .get(word)
            .is_some_and(|bits| bits & (1 << (perm % 64)) != 0)
    }

    pub(super) fn insert(&mut self, perm: PermId) {
        let word = (perm / 64) as usize;
        if let Some(bits) = self.0.get_mut(word) {
            *bits |= 1 << (perm % 64);
        }
    }
}

/// Classified fields of a resource type, each with its sensitivity class.
pub(crate) type ClassifiedFields = Vec<(Arc<str>, Arc<str>)>;

#[derive(Debug)]
pub(crate) struct ResourceTypeEntry {
    pub(crate) container: bool,
    pub(crate) actions: FxHashMap<Box<str>, PermId>,
    pub(crate) classified_fields: ClassifiedFields,
    /// Default visibility per classified field, from its class.
    pub(crate) default_visibility: FieldVisibilities,
}

#[derive(Debug)]
pub(crate) struct PermissionEntry {
    pub(crate) name: Arc<str>,
    pub(crate) resource_type: u32,
    pub(crate) category: Arc<str>,
    pub(crate) feature: Option<Arc<str>>,
    /// The tenant has the feature this permission needs (or it needs none).
    pub(crate) entitled: bool,
}

/// Matches a permission pattern with `*` wildcards against a permission name.
pub(crate) fn pattern_matches(pattern: &str, name: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == name,
        Some((prefix, rest)) => {
            let Some(tail) = name.strip_prefix(prefix) else {
                return false;
            };
            if rest.is_empty() {
                return true;
            }
            (0..=tail.len())
                .filter(|at| tail.is_char_boundary(*at))
                .any(|at| pattern_matches(rest, &tail[at..]))
        }
    }
}

/// The catalog as the rest of compilation reads it.
pub(super) struct Catalog<'a> {
    pub(super) types: Vec<ResourceTypeEntry>,
    pub(super) type_index: FxHashMap<Box<str>, u32>,
    pub(super) perms: Vec<PermissionEntry>,
    perm_index: FxHashMap<Arc<str>, PermId>,
    pub(super) relations: FxHashMap<Box<str>, RelationId>,
    /// Per type, the subject relations a principal can hold on its resources: its own and
    /// those of every container type it can sit in, transitively. Sorted.
    holdable: Vec<Vec<RelationId>>,
    pub(super) classes: &'a BTreeMap<String, SensitivityClass>,
}

impl Catalog<'_> {
    /// Permission ids a name or pattern covers; `None` for an unknown exact name.
    fn expand(&self, pattern: &str) -> Option<Vec<PermId>> {
        if pattern.contains('*') {
            return Some(
                self.perms
                    .iter()
                    .enumerate()
                    .filter(|(_, perm)| pattern_matches(pattern, &perm.name))
                    .map(|(id, _)| id as PermId)
                    .collect(),
            );
        }
        self.perm_index.get(pattern).map(|id| vec![*id])
    }

    /// [`Catalog::expand`] where an unknown name is an error naming `location`, or — when
    /// `lenient` (platform staff, whose policy names another catalog's permissions) — nothing.
    pub(super) fn expand_checked(
        &self,
        pattern: &str,
        location: &str,
        lenient: bool,
    ) -> Result<Vec<PermId>, PolicyError> {
        match self.expand(pattern) {
            Some(ids) => Ok(ids),
            None if lenient => Ok(Vec::new()),
            None => Err(PolicyError::UnknownPermission {
                location: location.to_owned(),
                permission: pattern.to_owned(),
            }),
        }
    }

    pub(super) fn perm_set(
        &self,
        patterns: &[String],
        location: &str,
        lenient: bool,
    ) -> Result<PermSet, PolicyError> {
        let mut set = PermSet::with_capacity(self.perms.len());
        for pattern in patterns {
            for id in self.expand_checked(pattern, location, lenient)? {
                set.insert(id);
            }
        }
        Ok(set)
    }

    /// The container type and id a `type:id` reference names, when `type` is a container type.
    pub(super) fn container_ref<'r>(&self, reference: &'r str) -> Option<(u32, &'r str)> {
        let (kind, id) = split_typed_ref(reference)?;
        let type_id = *self.type_index.get(kind)?;
        self.types[type_id as usize]
            .container
            .then_some((type_id, id))
    }

    /// Whether a principal can ever hold `relation` on a resource `perm` acts on.
    pub(super) fn can_hold(&self, perm: PermId, relation: RelationId) -> bool {
        let resource_type = self.perms[perm as usize].resource_type;
        self.holdable
            .get(resource_type as usize)
            .is_some_and(|held| held.binary_search(&relation).is_ok())
    }

    /// Whether `key` of a grant's `fields` names a sensitivity class or a classified field.
    pub(super) fn knows_field(&self, key: &str) -> bool {
        self.classes.contains_key(key)
            || self
                .types
                .iter()
                .any(|t| t.classified_fields.iter().any(|(field, _)| **field == *key))
    }
}

pub(super) fn compile_catalog(policy: &TenantPolicy) -> Result<Catalog<'_>, PolicyError> {
    let entitled: FxHashSet<&str> = policy
        .entitlements
        .features
        .iter()
        .map(String::as_str)
        .collect();
    let catalog = &policy.catalog;
    let mut types = Vec::new();
    let mut type_index = FxHashMap::default();
    let mut perms = Vec::new();
    let mut relations: FxHashMap<Box<str>, RelationId> = FxHashMap::default();

    for (type_name, definition) in &catalog.resource_types {
        check_type_name(type_name)?;
        for relation in check_relations(type_name, definition, policy)? {
            let next = relations.len() as RelationId;
            relations.entry(relation.into()).or_insert(next);
        }
        let (classified_fields, default_visibility) =
            classify_fields(type_name, definition, &catalog.sensitivity_classes)?;
        let type_id = types.len() as u32;
        let mut actions = FxHashMap::default();
        for (action, definition) in &definition.actions {
            validate_id("action", action)?;
            let id = perms.len() as PermId;
            let name = format!("{type_name}.{action}");
            let feature = definition.feature.as_deref();
            perms.push(PermissionEntry {
                name: Arc::from(name.as_str()),
                resource_type: type_id,
                category: Arc::from(definition.category.as_str()),
                feature: feature.map(Arc::from),
                entitled: feature.is_none_or(|feature| entitled.contains(feature)),
            });
            actions.insert(action.as_str().into(), id);
        }
        type_index.insert(type_name.as_str().into(), type_id);
        types.push(ResourceTypeEntry {
            container: definition.container,
            actions,
            classified_fields,
            default_visibility,
        });
    }
    add_admin_type(policy, &mut types, &mut type_index, &mut perms);
    let perm_index = perms
        .iter()
        .enumerate()
        .map(|(id, perm)| (Arc::clone(&perm.name), id as PermId))
        .collect();
    let mut holdable = holdable_relations(catalog, &relations);
    // The admin type holds no relation.
    holdable.resize_with(types.len(), Vec::new);
    Ok(Catalog {
        types,
        type_index,
        perms,
        perm_index,
        relations,
        holdable,
        classes: &catalog.sensitivity_classes,
    })
}

/// The built-in `authz` type: the admin actions on a tenant, and on the platform's catalog the
/// platform-wide ones too. Not a container, no relations, no classified fields.
fn add_admin_type(
    policy: &TenantPolicy,
    types: &mut Vec<ResourceTypeEntry>,
    type_index: &mut FxHashMap<Box<str>, u32>,
    perms: &mut Vec<PermissionEntry>,
) {
    let type_id = types.len() as u32;
    let platform_wide: &[&str] = if policy.tenant.id == PLATFORM_TENANT_ID {
        PLATFORM_ADMIN_ACTIONS
    } else {
        &[]
    };
    let mut actions = FxHashMap::default();
    for action in TENANT_ADMIN_ACTIONS.iter().chain(platform_wide) {
        actions.insert((*action).into(), perms.len() as PermId);
        perms.push(PermissionEntry {
            name: Arc::from(format!("{ADMIN_RESOURCE_TYPE}.{action}").as_str()),
            resource_type: type_id,
            category: Arc::from(ADMIN_CATEGORY),
            feature: None,
            entitled: true,
        });
    }
    type_index.insert(ADMIN_RESOURCE_TYPE.into(), type_id);
    types.push(ResourceTypeEntry {
        container: false,
        actions,
        classified_fields: Vec::new(),
        default_visibility: Arc::from([]),
    });
}

/// `patient.view` names type `patient` and action `view`; `location:north` names a container.
/// A type whose name holds `.` or `:` would make those ambiguous.
fn check_type_name(type_name: &str) -> Result<(), PolicyError> {
    validate_id("resource type", type_name)?;
    if type_name == ADMIN_RESOURCE_TYPE {
        return Err(PolicyError::InvalidId {
            what: "resource type",
            id: type_name.to_owned(),
            why: "is reserved for the built-in admin permissions (`authz.import_policy`, …)".into(),
        });
    }
    if type_name.contains('.') || type_name.contains(':') {
        return Err(PolicyError::InvalidId {
            what: "resource type",
            id: type_name.to_owned(),
            why: "must not contain `.` or `:`".into(),
        });
    }
    Ok(())
}

/// The names of the relations `type_name` declares, once each points at exactly one container
/// type or principal kind.
fn check_relations<'p>(
    type_name: &str,
    definition: &'p ResourceType,
    policy: &TenantPolicy,
) -> Result<Vec<&'p str>, PolicyError> {
    let mut names = Vec::with_capacity(definition.relations.len());
    for (relation, target) in &definition.relations {
        validate_id("relation", relation)?;
        match (&target.container, &target.subject) {
            (Some(container), None) => {
                let is_container = policy
                    .catalog
                    .resource_types
                    .get(container)
                    .is_some_and(|t| t.container);
                if !is_container {
                    return Err(PolicyError::NotAContainer {
                        resource_type: type_name.to_owned(),
                        relation: relation.clone(),
                        target: container.clone(),
                    });
                }
            }
            (None, Some(_)) => {}
            _ => {
                return Err(PolicyError::RelationKind {
                    resource_type: type_name.to_owned(),
                    relation: relation.clone(),
                });
            }
        }
        names.push(relation.as_str());
    }
    Ok(names)
}

/// The classified fields of a type with their class, and the visibility each class gives them
/// when a grant says nothing.
fn classify_fields(
    type_name: &str,
    definition: &ResourceType,
    classes: &BTreeMap<String, SensitivityClass>,
) -> Result<(ClassifiedFields, FieldVisibilities), PolicyError> {
    let mut classified_fields = Vec::new();
    for (field, class) in &definition.fields {
        if !classes.contains_key(class) {
            return Err(PolicyError::UnknownSensitivityClass {
                resource_type: type_name.to_owned(),
                field: field.clone(),
                class: class.clone(),
            });
        }
        classified_fields.push((
            Arc::<str>::from(field.as_str()),
            Arc::<str>::from(class.as_str()),
        ));
    }
    let default_visibility = classified_fields
        .iter()
        .map(|(field, class)| {
            let visibility = classes
                .get(&**class)
                .map_or(FieldVisibility::Off, |c| c.default_visibility);
            (Arc::clone(field), visibility)
        })
        .collect();
    Ok((classified_fields, default_visibility))
}

/// Per type, in type order, the subject relations a principal can hold on its resources: a
/// relationship gives a principal relation `R` on a resource directly (a subject relation of
/// its type) or through a container it sits in, transitively (one of the container type's).
fn holdable_relations(
    catalog: &crate::model::Catalog,
    relations: &FxHashMap<Box<str>, RelationId>,
) -> Vec<Vec<RelationId>> {
    catalog
        .resource_types
        .keys()
        .map(|type_name| {
            let mut held = Vec::new();
            let mut seen: FxHashSet<&str> = FxHashSet::default();
            let mut stack = vec![type_name.as_str()];
            while let Some(at) = stack.pop() {
                let Some(definition) = catalog.resource_types.get(at) else {
                    continue;
                };
                if !seen.insert(at) {
                    continue;
                }
                for (relation, target) in &definition.relations {
                    match &target.container {
                        Some(container) => stack.push(container),
                        None => held.extend(relations.get(relation.as_str())),
                    }
                }
            }
            held.sort_unstable();
            held.dedup();
            held
        })
        .collect()
}

//! Platform staff reaching a tenant: the platform tenant's roles, compiled against this
//! tenant's catalog, and the staff whose platform bindings reach this tenant.

use std::sync::Arc;

use super::catalog::Catalog;
use super::graph::{NamedContainers, NodeKey};
use super::ids::validate_id;
use super::principals::{CompiledBinding, Directory, Window, compile_principal};
use super::roles::{CompiledRole, RoleCompiler};
use crate::error::PolicyError;
use crate::model::{Binding, Origin, TenantPolicy};

/// The platform staff whose bindings reach tenant `tenant_id`, by id. Their roles are appended
/// to `roles`.
///
/// The platform's policy names permissions, relations, fields and containers of every
/// tenant's catalog, not only its own: what this tenant lacks is skipped, never an error.
pub(super) fn platform_staff(
    platform: &TenantPolicy,
    tenant_id: &str,
    catalog: &Catalog<'_>,
    env: &cel::Env,
    named: &mut NamedContainers,
    roles: &mut Vec<CompiledRole>,
) -> Result<Directory, PolicyError> {
    let (platform_roles, platform_index) =
        RoleCompiler::new(platform, catalog, env, Origin::Platform)?.compile_all()?;
    let offset = roles.len() as u32;
    roles.extend(platform_roles);
    let mut staff = Directory::default();
    for principal in &platform.principals {
        validate_id("principal", &principal.id)?;
        let id = Arc::from(principal.id.as_str());
        let mut compiled = compile_principal(principal, id, catalog, Origin::Platform)?;
        for binding in platform
            .bindings
            .iter()
            .filter(|b| b.principal == principal.id)
        {
            let reaches =
                binding.tenants.is_empty() || binding.tenants.iter().any(|t| t == tenant_id);
            let Some(role) = platform_index.get(binding.role.as_str()) else {
                continue;
            };
            // Locations are honoured where this tenant has such a container; a binding
            // limited to containers this tenant lacks reaches nothing here.
            let locations = if binding.locations.is_empty() {
                None
            } else {
                let ids = containers_here(binding, catalog, named);
                if ids.is_empty() {
                    continue;
                }
                Some(ids)
            };
            if reaches {
                compiled.bindings.push(CompiledBinding {
                    id: Arc::from(binding.id.as_str()),
                    role: offset + *role as u32,
                    locations,
                    window: Window::new(binding.not_before, binding.expires_at),
                    source: binding.source,
                });
            }
        }
        if !compiled.bindings.is_empty() {
            staff.insert(principal.id.as_str().into(), compiled);
        }
    }
    Ok(staff)
}

/// The binding's locations that are containers of this tenant's catalog.
fn containers_here(
    binding: &Binding,
    catalog: &Catalog<'_>,
    named: &mut NamedContainers,
) -> Box<[NodeKey]> {
    binding
        .locations
        .iter()
        .filter_map(|container| {
            let (type_id, id) = catalog.container_ref(container)?;
            Some(named.name(type_id, id))
        })
        .collect()
}

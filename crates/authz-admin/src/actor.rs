//! Who is calling and what they ask to do, in the terms the engine authorises.

use sha2::{Digest, Sha256};

/// The principal an admin call authenticated as: the owner of the API key it presented.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// The tenant the key's principal belongs to (`platform` for platform staff).
    pub tenant_id: String,
    pub principal_id: String,
    pub principal_kind: authz_core::PrincipalKind,
    pub key_id: String,
}

/// The admin permissions, as actions of the built-in `authz` resource type: a caller may do
/// one to tenant T when T's policy allows it `authz.<action>` on `authz:T` (tenant-wide ones),
/// or, for the platform-wide ones, when the platform's policy allows it on `authz:platform`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AdminAction {
    ReadTenant,
    ExportPolicy,
    ImportPolicy,
    ReadRelationships,
    WriteRelationships,
    /// Platform-wide.
    CreateTenant,
    /// Platform-wide.
    UpdateTenantStatus,
    /// Platform-wide.
    ListTenants,
}

impl AdminAction {
    /// The action name within the `authz` resource type.
    pub fn action(self) -> &'static str {
        match self {
            AdminAction::ReadTenant => "read_tenant",
            AdminAction::ExportPolicy => "export_policy",
            AdminAction::ImportPolicy => "import_policy",
            AdminAction::ReadRelationships => "read_relationships",
            AdminAction::WriteRelationships => "write_relationships",
            AdminAction::CreateTenant => "create_tenant",
            AdminAction::UpdateTenantStatus => "update_tenant_status",
            AdminAction::ListTenants => "list_tenants",
        }
    }

    /// Authorised against the platform's policy rather than the tenant acted on.
    pub fn is_platform_wide(self) -> bool {
        matches!(
            self,
            AdminAction::CreateTenant | AdminAction::UpdateTenantStatus | AdminAction::ListTenants
        )
    }
}

/// The hex SHA-256 of an API key's secret: the only form a secret is stored in.
pub fn secret_hash(secret: &str) -> String {
    let digest = Sha256::digest(secret.as_bytes());
    let mut hex = String::with_capacity(64);
    for byte in digest {
        hex.push(char::from(b"0123456789abcdef"[usize::from(byte >> 4)]));
        hex.push(char::from(b"0123456789abcdef"[usize::from(byte & 0xf)]));
    }
    hex
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_admin_action_is_in_the_catalog_it_is_checked_against() {
        use authz_core::admin_catalog::{PLATFORM_ADMIN_ACTIONS, TENANT_ADMIN_ACTIONS};
        let all = [
            AdminAction::ReadTenant,
            AdminAction::ExportPolicy,
            AdminAction::ImportPolicy,
            AdminAction::ReadRelationships,
            AdminAction::WriteRelationships,
            AdminAction::CreateTenant,
            AdminAction::UpdateTenantStatus,
            AdminAction::ListTenants,
        ];
        for action in all {
            let list = if action.is_platform_wide() {
                PLATFORM_ADMIN_ACTIONS
            } else {
                TENANT_ADMIN_ACTIONS
            };
            assert!(list.contains(&action.action()), "{action:?}");
        }
        assert_eq!(
            all.len(),
            PLATFORM_ADMIN_ACTIONS.len() + TENANT_ADMIN_ACTIONS.len()
        );
    }

    #[test]
    fn a_secret_hashes_to_its_hex_sha256() {
        assert_eq!(
            secret_hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}

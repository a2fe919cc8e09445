//! The admin permissions every catalog carries: actions of the built-in resource type
//! `authz`, checked on resource `authz:<tenant id>`. The admin API authorises each call through
//! the engine with them, so who may import a policy or write relationships is a grant like any
//! other ("agency administrators hold `authz.*`").

/// The reserved resource type of the admin permissions; a catalog may not declare it.
pub const ADMIN_RESOURCE_TYPE: &str = "authz";

/// Admin actions on one tenant, in every catalog.
pub const TENANT_ADMIN_ACTIONS: &[&str] = &[
    "read_tenant",
    "export_policy",
    "import_policy",
    "read_relationships",
    "write_relationships",
];

/// Admin actions across tenants, in the platform's catalog only.
pub const PLATFORM_ADMIN_ACTIONS: &[&str] =
    &["create_tenant", "update_tenant_status", "list_tenants"];

/// The category the admin actions are grouped under in a role editor.
pub const ADMIN_CATEGORY: &str = "administration";

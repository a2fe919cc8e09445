//! The YAML policy file: one document describes a tenant (catalog, roles, constraints,
//! principals, bindings, relationships, delegations). See `deploy/examples/`.

use crate::error::PolicyError;
use crate::model::TenantPolicy;

impl TenantPolicy {
    /// Parses a policy document. Unknown keys are errors, so a typo never silently drops a rule.
    pub fn from_yaml(text: &str) -> Result<TenantPolicy, PolicyError> {
        serde_norway::from_str(text).map_err(|error| PolicyError::Parse(error.to_string()))
    }

    pub fn to_yaml(&self) -> Result<String, PolicyError> {
        serde_norway::to_string(self).map_err(|error| PolicyError::Parse(error.to_string()))
    }
}

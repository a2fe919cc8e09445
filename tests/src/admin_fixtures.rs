//! What tests of the admin API share: a platform whose service principal `ops` holds every
//! admin permission through an API key, and requests that carry a key.

/// The secret of `ops`'s API key in [`platform_policy`].
pub const OPS_SECRET: &str = "platform-ops-secret-0123456789abcdef";

/// The platform tenant: `ops` (a service account) with `authz.*` in every tenant, through the
/// key whose secret is `secret`.
pub fn platform_policy(secret: &str) -> String {
    format!(
        r#"
tenant: {{ id: platform }}
roles:
  - {{ id: onboarding, role_type: platform_admin, grants: [{{ permission: "authz.*" }}] }}
principals:
  - {{ id: ops, type: service, api_keys: [{{ id: k-ops, scopes: ["authz.*"], secret_hash: "{}" }}] }}
bindings: [{{ id: pb-ops, principal: ops, role: onboarding }}]
"#,
        authz_admin::secret_hash(secret)
    )
}

/// `message`, carrying `secret` as `authorization: Bearer <secret>` (none when `None`).
pub fn with_key<T>(secret: Option<&str>, message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    if let Some(secret) = secret
        && let Ok(value) = format!("Bearer {secret}").parse()
    {
        request.metadata_mut().insert("authorization", value);
    }
    request
}

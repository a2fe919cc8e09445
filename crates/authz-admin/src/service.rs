//! The admin calls: authenticate, authorise through the engine, act on the store.

use std::sync::Arc;

use authz_clock::Clock;
use authz_core::admin_catalog::ADMIN_RESOURCE_TYPE;
use authz_core::model::{
    ApiKey, Binding, Grant, PLATFORM_TENANT_ID, Principal, PrincipalKind, Role, Tenant,
    TenantStatus,
};
use authz_core::{
    Attributes, Consistency, Origin, PrincipalRef, Reason, ResourceRef, TenantPolicy,
};
use authz_pdp::{DecisionPoint, Question};
use authz_store::{
    ImportOptions, ImportReport, Page, PageRequest, RelationshipFilter, RelationshipPage,
    RelationshipWrite, Store, StoreError, StoredTenant, TenantRecord,
};

use crate::actor::{Actor, AdminAction, secret_hash};

/// The shortest bootstrap secret accepted: a guessable first platform key would open every
/// tenant.
pub const BOOTSTRAP_KEY_MIN_LEN: usize = 32;

/// The longest bearer secret read; anything longer is refused before it is hashed.
const MAX_SECRET_LEN: usize = 1024;

/// Why an admin call was refused or failed. Nothing was written.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// No credentials, or ones that identify nobody (unknown, revoked, expired key).
    #[error("{0}")]
    Unauthenticated(String),
    /// A known caller that may not do this.
    #[error("{0}")]
    PermissionDenied(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Admin calls over one store, authorised by one decision point.
#[derive(Debug)]
pub struct Admin<C> {
    store: Arc<dyn Store>,
    point: Arc<DecisionPoint<C>>,
    clock: C,
}

impl<C: Clock> Admin<C> {
    pub fn new(store: Arc<dyn Store>, point: Arc<DecisionPoint<C>>, clock: C) -> Self {
        Admin {
            store,
            point,
            clock,
        }
    }

    /// The caller a bearer secret identifies.
    pub async fn authenticate(&self, secret: Option<&str>) -> Result<Actor, AdminError> {
        let secret = secret.map(str::trim).filter(|secret| !secret.is_empty());
        let Some(secret) = secret else {
            return Err(AdminError::Unauthenticated(
                "admin calls need an API key: `authorization: Bearer <secret>`".to_owned(),
            ));
        };
        if secret.len() > MAX_SECRET_LEN {
            return Err(AdminError::Unauthenticated(
                "the API key is malformed".to_owned(),
            ));
        }
        let owners = self.store.find_api_key(&secret_hash(secret)).await?;
        let owner = match owners.as_slice() {
            [] => {
                return Err(AdminError::Unauthenticated(
                    "the API key is not known".to_owned(),
                ));
            }
            [owner] => owner,
            _ => {
                tracing::error!(
                    keys = owners.len(),
                    "one secret is registered for several API keys; refusing it"
                );
                return Err(AdminError::Unauthenticated(
                    "the API key is ambiguous".to_owned(),
                ));
            }
        };
        if owner.revoked {
            return Err(AdminError::Unauthenticated(format!(
                "API key `{}` is revoked",
                owner.key_id
            )));
        }
        if owner
            .expires_at
            .is_some_and(|expires_at| expires_at <= self.clock.now())
        {
            return Err(AdminError::Unauthenticated(format!(
                "API key `{}` has expired",
                owner.key_id
            )));
        }
        Ok(Actor {
            tenant_id: owner.tenant_id.clone(),
            principal_id: owner.principal_id.clone(),
            principal_kind: owner.principal_kind,
            key_id: owner.key_id.clone(),
        })
    }

    /// May `actor` do `action` to `tenant_id`? Decided by the engine, fully consistent: a
    /// revoked admin is refused as soon as the revocation commits.
    pub async fn authorize(
        &self,
        actor: &Actor,
        tenant_id: &str,
        action: AdminAction,
    ) -> Result<(), AdminError> {
        let target = if action.is_platform_wide() {
            PLATFORM_TENANT_ID
        } else {
            tenant_id
        };
        let staff = actor.tenant_id == PLATFORM_TENANT_ID;
        if !staff && actor.tenant_id != target {
            return Err(AdminError::PermissionDenied(format!(
                "a key of tenant `{}` cannot act on tenant `{target}`",
                actor.tenant_id
            )));
        }
        let mut principal = PrincipalRef::user(&actor.principal_id);
        principal.kind = actor.principal_kind;
        principal.api_key_id = Some(&actor.key_id);
        if staff && target != PLATFORM_TENANT_ID {
            principal.origin = Origin::Platform;
        }
        let attributes = Attributes::new();
        let question = Question {
            tenant_id: target,
            principal,
            on_behalf_of: None,
            action: action.action(),
            resource: ResourceRef {
                resource_type: ADMIN_RESOURCE_TYPE,
                id: target,
                attributes: &attributes,
            },
            context: &attributes,
            consistency: Consistency::FullyConsistent,
            explain: false,
        };
        let (allowed, reason, message) = self
            .point
            .decide_admin(&question, |answer| {
                (
                    answer.decision.allowed,
                    answer.decision.reason,
                    answer.decision.message.to_string(),
                )
            })
            .await;
        match reason {
            _ if allowed => Ok(()),
            Reason::Stale | Reason::Unavailable => Err(AdminError::Store(StoreError::Unavailable(
                format!("cannot authorise the call: {message}"),
            ))),
            Reason::TenantUnknown if self.store.tenant(target).await?.is_none() => {
                Err(AdminError::Store(no_tenant(target)))
            }
            _ => Err(AdminError::PermissionDenied(format!(
                "`{}` may not {} on tenant `{target}` ({}: {message})",
                actor.principal_id,
                action.action(),
                reason.code()
            ))),
        }
    }

    pub async fn create_tenant(
        &self,
        actor: &Actor,
        tenant: Tenant,
    ) -> Result<(TenantRecord, u64), AdminError> {
        self.authorize(actor, &tenant.id, AdminAction::CreateTenant)
            .await?;
        if tenant.id == PLATFORM_TENANT_ID {
            return Err(StoreError::invalid_input(
                "tenant_id",
                "`platform` is reserved for platform staff",
            )
            .into());
        }
        let id = tenant.id.clone();
        let revision = self.store.create_tenant(tenant).await?;
        let record = self
            .store
            .tenant(&id)
            .await?
            .ok_or_else(|| no_tenant(&id))?;
        Ok((record, revision))
    }

    pub async fn get_tenant(
        &self,
        actor: &Actor,
        tenant_id: &str,
    ) -> Result<TenantRecord, AdminError> {
        self.authorize(actor, tenant_id, AdminAction::ReadTenant)
            .await?;
        self.get_record(tenant_id).await
    }

    pub async fn list_tenants(
        &self,
        actor: &Actor,
        page: &PageRequest,
    ) -> Result<Page<TenantRecord>, AdminError> {
        self.authorize(actor, PLATFORM_TENANT_ID, AdminAction::ListTenants)
            .await?;
        Ok(self.store.list_tenants(page).await?)
    }

    pub async fn set_tenant_status(
        &self,
        actor: &Actor,
        tenant_id: &str,
        status: TenantStatus,
    ) -> Result<(TenantRecord, u64), AdminError> {
        self.authorize(actor, tenant_id, AdminAction::UpdateTenantStatus)
            .await?;
        let revision = self.store.set_tenant_status(tenant_id, status).await?;
        let record = self.get_record(tenant_id).await?;
        Ok((record, revision))
    }

    pub async fn import_policy(
        &self,
        actor: &Actor,
        policy: TenantPolicy,
        options: ImportOptions,
    ) -> Result<ImportReport, AdminError> {
        self.authorize(actor, &policy.tenant.id, AdminAction::ImportPolicy)
            .await?;
        Ok(self.store.import_policy(policy, options).await?)
    }

    pub async fn export_policy(
        &self,
        actor: &Actor,
        tenant_id: &str,
    ) -> Result<StoredTenant, AdminError> {
        self.authorize(actor, tenant_id, AdminAction::ExportPolicy)
            .await?;
        Ok(self
            .store
            .load_tenant(tenant_id)
            .await?
            .ok_or_else(|| no_tenant(tenant_id))?)
    }

    pub async fn write_relationships(
        &self,
        actor: &Actor,
        tenant_id: &str,
        writes: &[RelationshipWrite],
    ) -> Result<u64, AdminError> {
        self.authorize(actor, tenant_id, AdminAction::WriteRelationships)
            .await?;
        Ok(self.store.write_relationships(tenant_id, writes).await?)
    }

    pub async fn read_relationships(
        &self,
        actor: &Actor,
        tenant_id: &str,
        filter: &RelationshipFilter,
        page: &PageRequest,
    ) -> Result<RelationshipPage, AdminError> {
        self.authorize(actor, tenant_id, AdminAction::ReadRelationships)
            .await?;
        Ok(self
            .store
            .read_relationships(tenant_id, filter, page)
            .await?)
    }

    async fn get_record(&self, tenant_id: &str) -> Result<TenantRecord, AdminError> {
        Ok(self
            .store
            .tenant(tenant_id)
            .await?
            .ok_or_else(|| no_tenant(tenant_id))?)
    }
}

fn no_tenant(tenant_id: &str) -> StoreError {
    StoreError::NotFound {
        what: "tenant",
        id: tenant_id.to_owned(),
    }
}

/// Gives a fresh database its first platform admin: principal `bootstrap-admin` holding every
/// admin permission in every tenant, through API key `bootstrap` whose secret is `secret`.
/// Does nothing (returns `false`) once the platform has any API key: a bootstrap secret left in
/// the environment can never re-open a database whose keys were rotated.
pub async fn bootstrap_platform(store: &dyn Store, secret: &str) -> Result<bool, StoreError> {
    if secret.trim().len() < BOOTSTRAP_KEY_MIN_LEN {
        return Err(StoreError::invalid_input(
            "AUTHZ_BOOTSTRAP_KEY",
            format!("must be at least {BOOTSTRAP_KEY_MIN_LEN} characters"),
        ));
    }
    let mut platform = match store.platform().await? {
        Some(stored) => (*stored.policy).clone(),
        None => TenantPolicy {
            tenant: Tenant {
                id: PLATFORM_TENANT_ID.to_owned(),
                name: "Platform staff".to_owned(),
                ..Tenant::default()
            },
            ..TenantPolicy::default()
        },
    };
    if platform
        .principals
        .iter()
        .any(|principal| !principal.api_keys.is_empty())
    {
        return Ok(false);
    }
    const ROLE: &str = "platform_admin";
    const PRINCIPAL: &str = "bootstrap-admin";
    if !platform.roles.iter().any(|role| role.id == ROLE) {
        platform.roles.push(Role {
            id: ROLE.to_owned(),
            name: "Platform administrator".to_owned(),
            role_type: ROLE.to_owned(),
            description: "Every admin permission in every tenant (created by bootstrap)".to_owned(),
            grants: vec![Grant {
                permission: Some(format!("{ADMIN_RESOURCE_TYPE}.*")),
                ..Grant::default()
            }],
            built_in: true,
            ..Role::default()
        });
    }
    platform
        .principals
        .retain(|principal| principal.id != PRINCIPAL);
    platform.principals.push(Principal {
        id: PRINCIPAL.to_owned(),
        kind: PrincipalKind::Service,
        display_name: "Bootstrap administrator".to_owned(),
        api_keys: vec![ApiKey {
            id: "bootstrap".to_owned(),
            scopes: vec![format!("{ADMIN_RESOURCE_TYPE}.*")],
            secret_hash: secret_hash(secret.trim()),
            ..ApiKey::default()
        }],
        ..Principal::default()
    });
    platform
        .bindings
        .retain(|binding| binding.principal != PRINCIPAL);
    platform.bindings.push(Binding {
        id: format!("pb-{PRINCIPAL}"),
        principal: PRINCIPAL.to_owned(),
        role: ROLE.to_owned(),
        reason: "bootstrap: the first platform admin of a fresh database".to_owned(),
        ..Binding::default()
    });
    store.put_platform(platform).await?;
    Ok(true)
}

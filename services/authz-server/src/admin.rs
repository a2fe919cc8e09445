//! The admin gRPC service: bearer credentials from metadata, messages validated into store
//! values, the call made through `authz-admin`, errors mapped to status codes in one place.
//! RPCs of later stages keep answering `UNIMPLEMENTED`.

use std::sync::Arc;

use authz_admin::{Actor, Admin, AdminError};
use authz_clock::Clock;
use authz_proto::admin as convert;
use authz_proto::pb;
use authz_store::StoreError;
use tonic::metadata::MetadataMap;
use tonic::{Request, Response, Status};

use crate::status::invalid_argument;

pub(crate) struct AdminService<C> {
    admin: Arc<Admin<C>>,
}

impl<C: Clock> AdminService<C> {
    pub(crate) fn new(admin: Arc<Admin<C>>) -> Self {
        AdminService { admin }
    }

    async fn actor(&self, metadata: &MetadataMap) -> Result<Actor, Status> {
        let header =
            match metadata.get("authorization") {
                None => None,
                Some(value) => Some(value.to_str().map_err(|_| {
                    Status::unauthenticated("the authorization header is not text")
                })?),
            };
        let secret = match header {
            None => None,
            Some(header) => Some(
                header
                    .strip_prefix("Bearer ")
                    .or_else(|| header.strip_prefix("bearer "))
                    .ok_or_else(|| {
                        Status::unauthenticated(
                            "the authorization header must be `Bearer <secret>`",
                        )
                    })?,
            ),
        };
        self.admin.authenticate(secret).await.map_err(admin_status)
    }
}

/// The one place admin failures become status codes.
pub(crate) fn admin_status(error: AdminError) -> Status {
    match error {
        AdminError::Unauthenticated(message) => Status::unauthenticated(message),
        AdminError::PermissionDenied(message) => Status::permission_denied(message),
        AdminError::Store(error) => store_status(error),
    }
}

fn store_status(error: StoreError) -> Status {
    match error {
        StoreError::InvalidInput { field, why } => {
            invalid_argument(authz_proto::convert::FieldViolation::new(field, why))
        }
        StoreError::InvalidPolicy { .. } => invalid_argument(
            authz_proto::convert::FieldViolation::new("document", error.to_string()),
        ),
        StoreError::NotFound { .. } => Status::not_found(error.to_string()),
        StoreError::AlreadyExists { .. } => Status::already_exists(error.to_string()),
        StoreError::RevisionConflict { .. } => Status::failed_precondition(error.to_string()),
        StoreError::Unavailable(_) => Status::unavailable(error.to_string()),
    }
}

#[tonic::async_trait]
impl<C: Clock> pb::admin_service_server::AdminService for AdminService<C> {
    async fn create_tenant(
        &self,
        request: Request<pb::CreateTenantRequest>,
    ) -> Result<Response<pb::CreateTenantResponse>, Status> {
        let actor = self.actor(request.metadata()).await?;
        let tenant = convert::create_tenant(request.get_ref()).map_err(invalid_argument)?;
        let (record, revision) = self
            .admin
            .create_tenant(&actor, tenant)
            .await
            .map_err(admin_status)?;
        Ok(Response::new(pb::CreateTenantResponse {
            tenant: Some(convert::tenant_to_proto(&record)),
            revision,
        }))
    }

    async fn get_tenant(
        &self,
        request: Request<pb::GetTenantRequest>,
    ) -> Result<Response<pb::GetTenantResponse>, Status> {
        let actor = self.actor(request.metadata()).await?;
        let tenant_id =
            convert::tenant_id(&request.get_ref().tenant_id).map_err(invalid_argument)?;
        let record = self
            .admin
            .get_tenant(&actor, &tenant_id)
            .await
            .map_err(admin_status)?;
        Ok(Response::new(pb::GetTenantResponse {
            tenant: Some(convert::tenant_to_proto(&record)),
        }))
    }

    async fn list_tenants(
        &self,
        request: Request<pb::ListTenantsRequest>,
    ) -> Result<Response<pb::ListTenantsResponse>, Status> {
        let actor = self.actor(request.metadata()).await?;
        let (page, status) = convert::list_tenants(request.get_ref()).map_err(invalid_argument)?;
        let listed = self
            .admin
            .list_tenants(&actor, &page)
            .await
            .map_err(admin_status)?;
        // The status filter thins a page; the token still walks every tenant.
        Ok(Response::new(pb::ListTenantsResponse {
            tenants: listed
                .items
                .iter()
                .filter(|record| status.is_none_or(|status| record.tenant.status == status))
                .map(convert::tenant_to_proto)
                .collect(),
            next_page_token: listed
                .next
                .map(|cursor| cursor.encode())
                .unwrap_or_default(),
        }))
    }

    async fn update_tenant_status(
        &self,
        request: Request<pb::UpdateTenantStatusRequest>,
    ) -> Result<Response<pb::UpdateTenantStatusResponse>, Status> {
        let actor = self.actor(request.metadata()).await?;
        let message = request.get_ref();
        let tenant_id = convert::tenant_id(&message.tenant_id).map_err(invalid_argument)?;
        let status =
            convert::status_from_proto("status", message.status).map_err(invalid_argument)?;
        let (record, revision) = self
            .admin
            .set_tenant_status(&actor, &tenant_id, status)
            .await
            .map_err(admin_status)?;
        Ok(Response::new(pb::UpdateTenantStatusResponse {
            tenant: Some(convert::tenant_to_proto(&record)),
            revision,
        }))
    }

    async fn write_relationships(
        &self,
        request: Request<pb::WriteRelationshipsRequest>,
    ) -> Result<Response<pb::WriteRelationshipsResponse>, Status> {
        let actor = self.actor(request.metadata()).await?;
        let (tenant_id, writes) =
            convert::write_relationships(request.get_ref()).map_err(invalid_argument)?;
        let revision = self
            .admin
            .write_relationships(&actor, &tenant_id, &writes)
            .await
            .map_err(|error| match error {
                // The store names `writes[i]`; the request calls them `updates[i]`.
                AdminError::Store(StoreError::InvalidInput { field, why }) => {
                    admin_status(AdminError::Store(StoreError::InvalidInput {
                        field: field.replacen("writes", "updates", 1),
                        why,
                    }))
                }
                other => admin_status(other),
            })?;
        Ok(Response::new(pb::WriteRelationshipsResponse { revision }))
    }

    async fn read_relationships(
        &self,
        request: Request<pb::ReadRelationshipsRequest>,
    ) -> Result<Response<pb::ReadRelationshipsResponse>, Status> {
        let actor = self.actor(request.metadata()).await?;
        let (tenant_id, filter, page) =
            convert::read_relationships(request.get_ref()).map_err(invalid_argument)?;
        let read = self
            .admin
            .read_relationships(&actor, &tenant_id, &filter, &page)
            .await
            .map_err(admin_status)?;
        Ok(Response::new(pb::ReadRelationshipsResponse {
            relationships: read
                .page
                .items
                .iter()
                .map(convert::relationship_to_proto)
                .collect(),
            next_page_token: read
                .page
                .next
                .map(|cursor| cursor.encode())
                .unwrap_or_default(),
            revision: read.revision,
        }))
    }

    async fn import_policy(
        &self,
        request: Request<pb::ImportPolicyRequest>,
    ) -> Result<Response<pb::ImportPolicyResponse>, Status> {
        let actor = self.actor(request.metadata()).await?;
        let (policy, options) =
            convert::import_policy(request.get_ref()).map_err(invalid_argument)?;
        let report = self
            .admin
            .import_policy(&actor, policy, options)
            .await
            .map_err(admin_status)?;
        Ok(Response::new(convert::import_report_to_proto(
            &report,
            options.dry_run,
        )))
    }

    async fn export_policy(
        &self,
        request: Request<pb::ExportPolicyRequest>,
    ) -> Result<Response<pb::ExportPolicyResponse>, Status> {
        let actor = self.actor(request.metadata()).await?;
        let message = request.get_ref();
        let tenant_id = convert::tenant_id(&message.tenant_id).map_err(invalid_argument)?;
        let format = convert::document_format(&message.format).map_err(invalid_argument)?;
        let stored = self
            .admin
            .export_policy(&actor, &tenant_id)
            .await
            .map_err(admin_status)?;
        let document = convert::export_document(&stored.policy, format)
            .map_err(|error| Status::internal(format!("cannot write the document: {error}")))?;
        Ok(Response::new(pb::ExportPolicyResponse {
            format: match format {
                convert::DocumentFormat::Yaml => "yaml",
                convert::DocumentFormat::Json => "json",
            }
            .to_owned(),
            document,
            revision: stored.revision,
        }))
    }
}

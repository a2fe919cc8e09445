//! The gRPC services. Validation failures become `INVALID_ARGUMENT` with a `BadRequest` field
//! violation here, in one place; everything else is a decision value (a deny has a reason).

use std::sync::Arc;

use authz_core::{Decision, Reason};
use authz_proto::convert::{self, Consistency, FieldViolation, ValidatedCheck};
use authz_proto::pb;
use tonic::{Request, Response, Status};
use tonic_types::{ErrorDetails, StatusExt};

use crate::clock::Clock;
use crate::registry::TenantRegistry;

pub(crate) struct Authorization<C> {
    registry: Arc<TenantRegistry>,
    clock: C,
}

impl<C: Clock> Authorization<C> {
    pub(crate) fn new(registry: Arc<TenantRegistry>, clock: C) -> Self {
        Authorization { registry, clock }
    }

    fn decide(&self, check: &ValidatedCheck<'_>) -> pb::CheckResponse {
        let Some(snapshot) = self.registry.get(check.tenant_id) else {
            let decision = Decision::deny(
                Reason::TenantUnknown,
                format!("tenant `{}` is not served here", check.tenant_id),
                0,
            );
            return convert::decision_to_proto(&decision, None, check.request_id);
        };
        if let Consistency::AtLeastRevision(wanted) = check.consistency
            && wanted > snapshot.revision()
        {
            let decision = Decision::deny(
                Reason::Stale,
                format!(
                    "revision {wanted} is not known here yet (current {})",
                    snapshot.revision()
                ),
                snapshot.revision(),
            );
            return convert::decision_to_proto(&decision, None, check.request_id);
        }
        let request = check.request(self.clock.now());
        if check.explain {
            let (decision, trace) = snapshot.explain(&request);
            convert::decision_to_proto(&decision, Some(trace), check.request_id)
        } else {
            let decision = snapshot.check(&request);
            convert::decision_to_proto(&decision, None, check.request_id)
        }
    }
}

fn invalid_argument(violation: FieldViolation) -> Status {
    Status::with_error_details(
        tonic::Code::InvalidArgument,
        violation.to_string(),
        ErrorDetails::with_bad_request_violation(violation.field, violation.description),
    )
}

#[tonic::async_trait]
impl<C: Clock> pb::authorization_service_server::AuthorizationService for Authorization<C> {
    async fn check(
        &self,
        request: Request<pb::CheckRequest>,
    ) -> Result<Response<pb::CheckResponse>, Status> {
        let message = request.into_inner();
        let check = convert::validate_check(&message, "").map_err(invalid_argument)?;
        Ok(Response::new(self.decide(&check)))
    }

    async fn check_bulk(
        &self,
        request: Request<pb::CheckBulkRequest>,
    ) -> Result<Response<pb::CheckBulkResponse>, Status> {
        let message = request.into_inner();
        let checks = convert::validate_bulk(&message).map_err(invalid_argument)?;
        let results = checks.iter().map(|check| self.decide(check)).collect();
        Ok(Response::new(pb::CheckBulkResponse { results }))
    }
}

/// The admin API: every RPC answers `UNIMPLEMENTED` until the Postgres stage builds it.
pub(crate) struct NotYetAdmin;

impl pb::admin_service_server::AdminService for NotYetAdmin {}

/// The audit API: every RPC answers `UNIMPLEMENTED` until the audit stage builds it.
pub(crate) struct NotYetAudit;

impl pb::audit_service_server::AuditService for NotYetAudit {}

//! The gRPC services: thin adapters over the decision point. Validation failures become `INVALID_ARGUMENT` with a `BadRequest` field
//! violation here, in one place; everything else is a decision value (a deny has a reason).

use std::sync::Arc;

use authz_clock::Clock;
use authz_core::ResourceRef;
use authz_pdp::{DecisionPoint, Question};
use authz_proto::convert::{self, ValidatedCheck};
use authz_proto::pb;
use tonic::{Request, Response, Status};

use crate::status::invalid_argument;

/// The authorization service: validation and wire conversion around the decision point.
pub(crate) struct Authorization<C> {
    point: Arc<DecisionPoint<C>>,
}

impl<C: Clock> Authorization<C> {
    pub(crate) fn new(point: Arc<DecisionPoint<C>>) -> Self {
        Authorization { point }
    }

    async fn decide(&self, check: &ValidatedCheck<'_>) -> pb::CheckResponse {
        let question = Question {
            tenant_id: check.tenant_id,
            principal: check.principal,
            on_behalf_of: check.on_behalf_of,
            action: check.action,
            resource: ResourceRef {
                resource_type: check.resource_type,
                id: check.resource_id,
                attributes: &check.resource_attributes,
            },
            context: &check.context,
            consistency: check.consistency,
            explain: check.explain,
        };
        self.point
            .decide(&question, |answer| {
                convert::decision_to_proto(&answer.decision, answer.trace, check.request_id)
            })
            .await
    }
}

#[tonic::async_trait]
impl<C: Clock> pb::authorization_service_server::AuthorizationService for Authorization<C> {
    async fn check(
        &self,
        request: Request<pb::CheckRequest>,
    ) -> Result<Response<pb::CheckResponse>, Status> {
        let message = request.into_inner();
        let check = convert::validate_check(&message, "").map_err(invalid_argument)?;
        Ok(Response::new(self.decide(&check).await))
    }

    async fn check_bulk(
        &self,
        request: Request<pb::CheckBulkRequest>,
    ) -> Result<Response<pb::CheckBulkResponse>, Status> {
        let message = request.into_inner();
        let checks = convert::validate_bulk(&message).map_err(invalid_argument)?;
        let mut results = Vec::with_capacity(checks.len());
        for check in &checks {
            results.push(self.decide(check).await);
        }
        Ok(Response::new(pb::CheckBulkResponse { results }))
    }
}

/// The audit API: every RPC answers `UNIMPLEMENTED` until the audit stage builds it.
pub(crate) struct NotYetAudit;

impl pb::audit_service_server::AuditService for NotYetAudit {}

//! Deciding one question: the tenant's snapshot at the revision the caller's consistency asks
//! for (waiting, bounded, for a replica to catch up), the time from the clock, the engine.
//!
//! Every way this can fail is a deny with a reason — `tenant_unknown`, `stale`, `unavailable` —
//! never an error a caller could mistake for an allow.

use std::sync::Arc;
use std::time::Duration;

use authz_clock::Clock;
use authz_core::model::PLATFORM_TENANT_ID;
use authz_core::{
    Attributes, CheckRequest, Consistency, Decision, ExplainStep, PrincipalRef, Reason,
    ResourceRef, Snapshot,
};
use authz_store::{Store, StoreError};
use tokio::time::Instant;

use crate::registry::TenantRegistry;

/// How long a check may wait for this replica to reach the revision it asked for, unless the
/// server is configured otherwise.
pub const DEFAULT_MAX_CONSISTENCY_WAIT: Duration = Duration::from_secs(1);

/// One authorization question, as any transport delivers it.
#[derive(Debug, Clone, Copy)]
pub struct Question<'a> {
    pub tenant_id: &'a str,
    pub principal: PrincipalRef<'a>,
    pub on_behalf_of: Option<PrincipalRef<'a>>,
    /// Action name within the resource type.
    pub action: &'a str,
    pub resource: ResourceRef<'a>,
    pub context: &'a Attributes,
    pub consistency: Consistency,
    /// Record every step of the evaluation.
    pub explain: bool,
}

/// The answer to a [`Question`]: the request as the engine saw it (time stamped), the
/// decision, and the trace when one was asked for.
#[derive(Debug)]
pub struct Answer<'x> {
    pub request: CheckRequest<'x>,
    pub decision: Decision<'x>,
    pub trace: Option<Vec<ExplainStep>>,
}

/// Where `fully_consistent` checks learn a tenant's committed revision: any [`Store`].
#[async_trait::async_trait]
pub trait RevisionSource: std::fmt::Debug + Send + Sync + 'static {
    async fn committed_revision(&self, tenant_id: &str) -> Result<Option<u64>, StoreError>;
}

#[async_trait::async_trait]
impl<S: Store> RevisionSource for S {
    async fn committed_revision(&self, tenant_id: &str) -> Result<Option<u64>, StoreError> {
        self.revision(tenant_id).await
    }
}

/// A store chosen at run time (embedded or Postgres) as a revision source.
#[derive(Debug)]
pub struct StoreRevisions(pub Arc<dyn Store>);

#[async_trait::async_trait]
impl RevisionSource for StoreRevisions {
    async fn committed_revision(&self, tenant_id: &str) -> Result<Option<u64>, StoreError> {
        self.0.revision(tenant_id).await
    }
}

/// Decides questions against the tenant registry, honouring consistency tokens.
#[derive(Debug)]
pub struct DecisionPoint<C> {
    registry: Arc<TenantRegistry>,
    revisions: Arc<dyn RevisionSource>,
    clock: C,
    max_wait: Duration,
}

impl<C: Clock> DecisionPoint<C> {
    /// `revisions` answers `fully_consistent` checks (the committed revision: the store);
    /// `max_wait` bounds how long a check waits for this replica to reach a revision before
    /// denying `stale`.
    pub fn new(
        registry: Arc<TenantRegistry>,
        revisions: Arc<dyn RevisionSource>,
        clock: C,
        max_wait: Duration,
    ) -> Self {
        DecisionPoint {
            registry,
            revisions,
            clock,
            max_wait,
        }
    }

    pub fn registry(&self) -> &Arc<TenantRegistry> {
        &self.registry
    }

    /// Decides `question` and hands the answer to `render` (which borrows the snapshot that
    /// decided, so nothing is copied on the way out). The platform tenant is not checked
    /// here: platform staff are checked in the tenant they act on.
    pub async fn decide<R>(
        &self,
        question: &Question<'_>,
        render: impl for<'x> FnOnce(Answer<'x>) -> R,
    ) -> R {
        if question.tenant_id == PLATFORM_TENANT_ID {
            return render(Answer {
                request: self.request(question),
                decision: unknown(question.tenant_id),
                trace: None,
            });
        }
        self.decide_in(question, render).await
    }

    /// [`DecisionPoint::decide`], the platform tenant included: how the admin API authorises
    /// platform staff's platform-wide calls (creating tenants) against the platform's own
    /// policy.
    pub async fn decide_admin<R>(
        &self,
        question: &Question<'_>,
        render: impl for<'x> FnOnce(Answer<'x>) -> R,
    ) -> R {
        self.decide_in(question, render).await
    }

    async fn decide_in<R>(
        &self,
        question: &Question<'_>,
        render: impl for<'x> FnOnce(Answer<'x>) -> R,
    ) -> R {
        let snapshot = match self.snapshot_for(question).await {
            Ok(snapshot) => snapshot,
            Err(decision) => {
                return render(Answer {
                    request: self.request(question),
                    decision,
                    trace: None,
                });
            }
        };
        let request = self.request(question);
        if question.explain {
            let (decision, trace) = snapshot.explain(&request);
            render(Answer {
                request,
                decision,
                trace: Some(trace),
            })
        } else {
            let decision = snapshot.check(&request);
            render(Answer {
                request,
                decision,
                trace: None,
            })
        }
    }

    fn request<'a>(&self, question: &Question<'a>) -> CheckRequest<'a> {
        CheckRequest {
            principal: question.principal,
            action: question.action,
            resource: question.resource,
            context: question.context,
            on_behalf_of: question.on_behalf_of,
            now: self.clock.now(),
        }
    }

    /// The snapshot the question may be decided on, or the deny that says why there is none.
    async fn snapshot_for(
        &self,
        question: &Question<'_>,
    ) -> Result<Arc<Snapshot>, Decision<'static>> {
        let tenant_id = question.tenant_id;
        let wanted = match question.consistency {
            Consistency::MinimizeLatency => {
                return self
                    .registry
                    .get(tenant_id)
                    .ok_or_else(|| unknown(tenant_id));
            }
            Consistency::AtLeastRevision(revision) => revision,
            Consistency::FullyConsistent => {
                match self.revisions.committed_revision(tenant_id).await {
                    Ok(Some(revision)) => revision,
                    Ok(None) => return Err(unknown(tenant_id)),
                    Err(error) => {
                        return Err(Decision::deny(
                            Reason::Unavailable,
                            format!(
                                "the committed revision of tenant `{tenant_id}` cannot be read: {error}"
                            ),
                            self.registry.get(tenant_id).map_or(0, |s| s.revision()),
                        ));
                    }
                }
            }
        };
        let deadline = Instant::now() + self.max_wait;
        match self.registry.at_least(tenant_id, wanted, deadline).await {
            Ok(snapshot) => Ok(snapshot),
            Err(None) => Err(Decision::deny(
                Reason::Stale,
                format!(
                    "tenant `{tenant_id}` at revision {wanted} is not served here yet (waited {:?})",
                    self.max_wait
                ),
                0,
            )),
            Err(Some(current)) => Err(Decision::deny(
                Reason::Stale,
                format!(
                    "revision {wanted} is not known here yet (current {}, waited {:?})",
                    current.revision(),
                    self.max_wait
                ),
                current.revision(),
            )),
        }
    }
}

fn unknown(tenant_id: &str) -> Decision<'static> {
    Decision::deny(
        Reason::TenantUnknown,
        format!("tenant `{tenant_id}` is not served here"),
        0,
    )
}

//! Write → visible on another replica: a relationship write through one server's admin API,
//! then checks on another server (`minimize_latency`, what callers use by default) until the
//! answer flips. The time from the write's response to the first flipped answer is how long a
//! revocation takes to reach a replica.

use std::time::{Duration, Instant};

use authz_proto::pb;
use authz_proto::pb::admin_service_client::AdminServiceClient;
use authz_proto::pb::authorization_service_client::AuthorizationServiceClient;
use tonic::transport::Endpoint;

use crate::{LoadError, Percentiles, percentile};

/// Where to write, where to read, as whom, how often.
#[derive(Debug, Clone)]
pub struct ReplicationConfig {
    pub writer: String,
    pub reader: String,
    /// API key secret allowed to write relationships of `tenant`.
    pub api_key: String,
    pub tenant: String,
    /// The relationship toggled, `patient:p1#assignee@user:nina`; its subject checks
    /// `action` on its resource, which it may do exactly while the relationship exists.
    pub resource_type: String,
    pub resource_id: String,
    pub relation: String,
    pub subject_id: String,
    pub action: String,
    pub rounds: usize,
    /// Longest one round waits for the reader before it counts as never seen.
    pub timeout: Duration,
}

/// What the rounds measured.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplicationReport {
    pub rounds: usize,
    /// Rounds the reader never reflected within the timeout.
    pub unseen: usize,
    /// Write response → first reflecting answer, in microseconds.
    pub visible_us: Percentiles,
    /// The write itself (request → response), in microseconds.
    pub write_us: Percentiles,
}

pub async fn replication(config: &ReplicationConfig) -> Result<ReplicationReport, LoadError> {
    let connect = |server: &str| {
        let server = server.to_owned();
        async move {
            Endpoint::from_shared(server.clone())
                .map_err(|_| LoadError::Address(server.clone()))?
                .tcp_nodelay(true)
                .connect()
                .await
                .map_err(|error| LoadError::Connect { server, error })
        }
    };
    let mut admin = AdminServiceClient::new(connect(&config.writer).await?);
    let mut checks = AuthorizationServiceClient::new(connect(&config.reader).await?);
    let bearer: tonic::metadata::MetadataValue<_> = format!("Bearer {}", config.api_key)
        .parse()
        .map_err(|_| LoadError::Config("the API key cannot be sent as a header".to_owned()))?;
    let check = pb::CheckRequest {
        tenant_id: config.tenant.clone(),
        principal: Some(pb::PrincipalRef {
            r#type: pb::PrincipalType::User as i32,
            id: config.subject_id.clone(),
            ..Default::default()
        }),
        action: config.action.clone(),
        resource: Some(pb::ResourceRef {
            r#type: config.resource_type.clone(),
            id: config.resource_id.clone(),
            attributes: Default::default(),
        }),
        ..Default::default()
    };
    let mut visible = Vec::with_capacity(config.rounds);
    let mut writes = Vec::with_capacity(config.rounds);
    let mut unseen = 0;
    for round in 0..config.rounds {
        let (op, allowed) = if round % 2 == 0 {
            (pb::relationship_update::Operation::Delete, false)
        } else {
            (pb::relationship_update::Operation::Touch, true)
        };
        let mut write = tonic::Request::new(pb::WriteRelationshipsRequest {
            tenant_id: config.tenant.clone(),
            updates: vec![pb::RelationshipUpdate {
                op: op as i32,
                relationship: Some(pb::Relationship {
                    resource_type: config.resource_type.clone(),
                    resource_id: config.resource_id.clone(),
                    relation: config.relation.clone(),
                    subject_type: "user".to_owned(),
                    subject_id: config.subject_id.clone(),
                }),
            }],
        });
        write.metadata_mut().insert("authorization", bearer.clone());
        let sent = Instant::now();
        admin
            .write_relationships(write)
            .await
            .map_err(|status| LoadError::Config(format!("the write failed: {status}")))?;
        let written = Instant::now();
        writes.push(duration_ns(written - sent));
        loop {
            let answer = checks
                .check(check.clone())
                .await
                .map_err(|status| LoadError::Config(format!("the check failed: {status}")))?
                .into_inner();
            if (answer.decision == pb::Decision::Allow as i32) == allowed {
                visible.push(duration_ns(written.elapsed()));
                break;
            }
            if written.elapsed() > config.timeout {
                unseen += 1;
                break;
            }
        }
    }
    visible.sort_unstable();
    writes.sort_unstable();
    let summary = |sorted: &[u64]| Percentiles {
        p50: percentile(sorted, 0.50),
        p90: percentile(sorted, 0.90),
        p99: percentile(sorted, 0.99),
        p999: percentile(sorted, 0.999),
        max: percentile(sorted, 1.0),
    };
    Ok(ReplicationReport {
        rounds: config.rounds,
        unseen,
        visible_us: summary(&visible),
        write_us: summary(&writes),
    })
}

fn duration_ns(duration: Duration) -> u64 {
    duration.as_nanos().min(u128::from(u64::MAX)) as u64
}

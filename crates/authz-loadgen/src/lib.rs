//! A gRPC load generator for authz-server: drives `Check` (or `CheckBulk`) from many
//! concurrent callers over a few HTTP/2 connections, verifies every answer against the
//! decision it must be, and reports throughput and latency percentiles.
//!
//! Load is bounded twice, by a request count and by a deadline, so a run always stops by
//! itself. It targets whatever address it is given; the benchmarks point it at loopback.

mod replication;

pub use replication::{ReplicationConfig, ReplicationReport, replication};

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use authz_proto::pb;
use authz_proto::pb::authorization_service_client::AuthorizationServiceClient;
use tonic::transport::{Channel, Endpoint};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

/// Most requests one run may send.
pub const MAX_REQUESTS: u64 = 5_000_000;
/// Longest a run may last.
pub const MAX_DURATION: Duration = Duration::from_secs(600);

/// What to send and how hard.
#[derive(Debug, Clone)]
pub struct LoadConfig {
    /// `http://host:port` of the server.
    pub server: String,
    /// Concurrent callers, each with one request in flight.
    pub concurrency: usize,
    /// HTTP/2 connections the callers share, round robin.
    pub connections: usize,
    /// Stop after this many requests…
    pub requests: u64,
    /// …or after this long, whichever comes first.
    pub duration: Duration,
    /// Checks per request: 1 sends `Check`, more send `CheckBulk` with that many items.
    pub batch: usize,
    /// What each request is.
    pub rpc: Rpc,
}

/// The RPC a run sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Rpc {
    /// The workload's questions, as `Check` (or `CheckBulk`), every answer verified.
    #[default]
    Check,
    /// `grpc.health.v1.Health/Check` on the same endpoint: the no-op floor (HTTP/2, protobuf,
    /// scheduling, loopback) that every `Check` pays before the engine runs.
    HealthFloor,
}

/// One question of the workload and the decision it must get.
#[derive(Debug, Clone)]
pub struct Question {
    pub label: &'static str,
    pub request: pb::CheckRequest,
    pub allowed: bool,
}

/// What a run measured.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadReport {
    pub requests: u64,
    pub checks: u64,
    /// RPCs that failed (transport or status errors).
    pub errors: u64,
    /// Checks answered with a decision other than the expected one.
    pub wrong_answers: u64,
    pub elapsed: Duration,
    /// Latency percentiles of successful RPCs, in microseconds: p50, p90, p99, p99.9, max.
    pub latency_us: Percentiles,
}

#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Percentiles {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
}

impl LoadReport {
    pub fn requests_per_second(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64().max(f64::EPSILON)
    }

    pub fn checks_per_second(&self) -> f64 {
        self.checks as f64 / self.elapsed.as_secs_f64().max(f64::EPSILON)
    }

    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "requests": self.requests,
            "checks": self.checks,
            "errors": self.errors,
            "wrong_answers": self.wrong_answers,
            "elapsed_seconds": self.elapsed.as_secs_f64(),
            "requests_per_second": self.requests_per_second(),
            "checks_per_second": self.checks_per_second(),
            "latency_us": {
                "p50": self.latency_us.p50,
                "p90": self.latency_us.p90,
                "p99": self.latency_us.p99,
                "p99_9": self.latency_us.p999,
                "max": self.latency_us.max,
            },
        })
    }
}

/// Why a run could not start.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("invalid server address `{0}`")]
    Address(String),
    #[error("cannot connect to {server}: {error}")]
    Connect {
        server: String,
        error: tonic::transport::Error,
    },
    #[error("{0}")]
    Config(String),
}

fn user(id: &str) -> pb::PrincipalRef {
    pb::PrincipalRef {
        r#type: pb::PrincipalType::User as i32,
        id: id.to_owned(),
        ..Default::default()
    }
}

fn question(
    label: &'static str,
    principal: &str,
    action: &str,
    resource: &str,
    allowed: bool,
) -> Question {
    let (resource_type, resource_id) = resource.split_once(':').unwrap_or((resource, ""));
    Question {
        label,
        request: pb::CheckRequest {
            tenant_id: "sunrise-home-health".to_owned(),
            principal: Some(user(principal)),
            action: action.to_owned(),
            resource: Some(pb::ResourceRef {
                r#type: resource_type.to_owned(),
                id: resource_id.to_owned(),
                attributes: Default::default(),
            }),
            ..Default::default()
        },
        allowed,
    }
}

/// A mix of the demo tenant's everyday questions: allows and denies, tenant-wide and
/// relationship scopes, a constraint, and a CEL condition.
pub fn demo_workload() -> Vec<Question> {
    let mut billing = question(
        "biller edits billing info (condition)",
        "bo",
        "edit",
        "patient:p-100",
        true,
    );
    billing.request.context.insert(
        "section".to_owned(),
        pb::AttributeValue {
            kind: Some(pb::attribute_value::Kind::StringValue("billing".to_owned())),
        },
    );
    vec![
        question(
            "RN views an assigned patient",
            "rita",
            "view",
            "patient:p-100",
            true,
        ),
        question(
            "RN views another patient",
            "rita",
            "view",
            "patient:p-200",
            false,
        ),
        question(
            "admin posts a payment",
            "ada",
            "post_payment",
            "claim:cl-100",
            true,
        ),
        question(
            "manager approves own document",
            "carla",
            "approve",
            "document:doc-100",
            false,
        ),
        question(
            "scheduler views a patient",
            "sam",
            "view",
            "patient:p-100",
            true,
        ),
        question(
            "LPN reschedules own visit",
            "leo",
            "reschedule",
            "visit:v-100",
            true,
        ),
        billing,
    ]
}

pub(crate) fn percentile(sorted: &[u64], fraction: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((sorted.len() as f64 - 1.0) * fraction).round() as usize;
    sorted[rank.min(sorted.len() - 1)] as f64 / 1000.0
}

/// Runs the load and reports what it measured.
pub async fn run(config: &LoadConfig, workload: &[Question]) -> Result<LoadReport, LoadError> {
    if workload.is_empty() {
        return Err(LoadError::Config("the workload is empty".to_owned()));
    }
    if config.concurrency == 0 || config.connections == 0 || config.batch == 0 || config.batch > 100
    {
        return Err(LoadError::Config(
            "concurrency and connections must be at least 1, batch between 1 and 100".to_owned(),
        ));
    }
    let requests = config.requests.min(MAX_REQUESTS);
    let duration = config.duration.min(MAX_DURATION);
    let endpoint = Endpoint::from_shared(config.server.clone())
        .map_err(|_| LoadError::Address(config.server.clone()))?
        .tcp_nodelay(true);
    let mut channels = Vec::with_capacity(config.connections);
    for _ in 0..config.connections {
        let channel = endpoint
            .connect()
            .await
            .map_err(|error| LoadError::Connect {
                server: config.server.clone(),
                error,
            })?;
        channels.push(channel);
    }

    let workload: Arc<[Question]> = workload.into();
    let issued = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + duration;
    let mut callers = Vec::with_capacity(config.concurrency);
    for caller in 0..config.concurrency {
        let channel = channels[caller % channels.len()].clone();
        let plan = Plan {
            rpc: config.rpc,
            requests,
            deadline,
            batch: config.batch,
        };
        callers.push(tokio::spawn(call_until_done(
            plan,
            channel,
            Arc::clone(&workload),
            Arc::clone(&issued),
            caller,
        )));
    }
    let mut latencies = Vec::new();
    let mut report = LoadReport {
        requests: 0,
        checks: 0,
        errors: 0,
        wrong_answers: 0,
        elapsed: Duration::ZERO,
        latency_us: Percentiles::default(),
    };
    for caller in callers {
        let tally = caller
            .await
            .map_err(|error| LoadError::Config(format!("a caller failed: {error}")))?;
        report.requests += tally.requests;
        report.checks += tally.checks;
        report.errors += tally.errors;
        report.wrong_answers += tally.wrong_answers;
        latencies.extend(tally.latencies_ns);
    }
    report.elapsed = started.elapsed();
    latencies.sort_unstable();
    report.latency_us = Percentiles {
        p50: percentile(&latencies, 0.50),
        p90: percentile(&latencies, 0.90),
        p99: percentile(&latencies, 0.99),
        p999: percentile(&latencies, 0.999),
        max: percentile(&latencies, 1.0),
    };
    Ok(report)
}

#[derive(Debug, Default)]
struct Tally {
    requests: u64,
    checks: u64,
    errors: u64,
    wrong_answers: u64,
    latencies_ns: Vec<u64>,
}

/// What every caller of a run sends, and until when.
#[derive(Debug, Clone, Copy)]
struct Plan {
    rpc: Rpc,
    requests: u64,
    deadline: Instant,
    batch: usize,
}

async fn call_until_done(
    plan: Plan,
    channel: Channel,
    workload: Arc<[Question]>,
    issued: Arc<AtomicU64>,
    caller: usize,
) -> Tally {
    let Plan {
        rpc,
        requests,
        deadline,
        batch,
    } = plan;
    let mut tally = Tally::default();
    let mut next = caller;
    let mut client = AuthorizationServiceClient::new(channel.clone());
    let mut health = HealthClient::new(channel);
    while Instant::now() < deadline && issued.fetch_add(1, Ordering::Relaxed) < requests {
        if rpc == Rpc::HealthFloor {
            let sent = Instant::now();
            let answer = health
                .check(HealthCheckRequest {
                    service: "authz.v1.AuthorizationService".to_owned(),
                })
                .await;
            let latency = sent.elapsed();
            tally.requests += 1;
            match answer {
                Ok(answer) if answer.get_ref().status == ServingStatus::Serving as i32 => {
                    tally
                        .latencies_ns
                        .push(latency.as_nanos().min(u128::from(u64::MAX)) as u64);
                }
                Ok(_) => tally.wrong_answers += 1,
                Err(_) => tally.errors += 1,
            }
            continue;
        }
        let questions: Vec<&Question> = (0..batch)
            .map(|offset| &workload[(next + offset) % workload.len()])
            .collect();
        next = next.wrapping_add(batch);
        let sent = Instant::now();
        let answers: Result<Vec<pb::CheckResponse>, tonic::Status> = if batch == 1 {
            client
                .check(questions[0].request.clone())
                .await
                .map(|response| vec![response.into_inner()])
        } else {
            let items = questions.iter().map(|q| q.request.clone()).collect();
            client
                .check_bulk(pb::CheckBulkRequest { items })
                .await
                .map(|response| response.into_inner().results)
        };
        let latency = sent.elapsed();
        tally.requests += 1;
        match answers {
            Ok(answers) => {
                tally
                    .latencies_ns
                    .push(latency.as_nanos().min(u128::from(u64::MAX)) as u64);
                tally.checks += answers.len() as u64;
                let wrong = questions
                    .iter()
                    .zip(answers.iter().map(Some).chain(std::iter::repeat(None)))
                    .filter(|(question, answer)| {
                        answer.is_none_or(|a| {
                            (a.decision == pb::Decision::Allow as i32) != question.allowed
                        })
                    })
                    .count();
                tally.wrong_answers += wrong as u64;
            }
            Err(_) => tally.errors += 1,
        }
    }
    tally
}

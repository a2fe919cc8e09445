//! `authz-loadgen`: bounded `Check` load against authz-server, with latency percentiles.

use std::process::ExitCode;
use std::time::Duration;

use authz_loadgen::{
    LoadConfig, LoadReport, ReplicationConfig, Rpc, demo_workload, replication, run,
};
use clap::Parser;

#[derive(Debug, Parser)]
#[command(
    name = "authz-loadgen",
    version,
    about = "gRPC load generator for authz-server (demo tenant workload)"
)]
struct Cli {
    #[arg(long, default_value = "http://127.0.0.1:50051")]
    server: String,
    /// Concurrent callers, each with one request in flight.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// HTTP/2 connections shared by the callers.
    #[arg(long, default_value_t = 4)]
    connections: usize,
    /// Stop after this many requests (at most 5,000,000)…
    #[arg(long, default_value_t = 200_000)]
    requests: u64,
    /// …or after this many seconds (at most 600).
    #[arg(long, default_value_t = 30)]
    seconds: u64,
    /// Checks per request: 1 uses Check, more use CheckBulk.
    #[arg(long, default_value_t = 1)]
    batch: usize,
    /// Warm-up requests sent (and not measured) before the run.
    #[arg(long, default_value_t = 2_000)]
    warmup: u64,
    /// Print JSON.
    #[arg(long)]
    json: bool,
    /// Skip the `grpc.health.v1` floor run that is otherwise measured first.
    #[arg(long)]
    no_floor: bool,
    /// Instead of load: measure write → visible. Relationship writes go to `--server`'s admin
    /// API; checks go to this replica until they reflect each write.
    #[arg(long)]
    replicate_to: Option<String>,
    /// API key secret for the replication writes.
    #[arg(long, env = "AUTHZ_API_KEY", hide_env_values = true)]
    api_key: Option<String>,
    /// Write/check rounds of the replication measurement.
    #[arg(long, default_value_t = 200)]
    rounds: usize,
}

fn print(label: &str, report: &LoadReport) {
    let l = report.latency_us;
    println!(
        "{label}: {} requests ({} checks) in {:.2}s: {:.0} req/s, {:.0} checks/s; {} errors, {} wrong answers",
        report.requests,
        report.checks,
        report.elapsed.as_secs_f64(),
        report.requests_per_second(),
        report.checks_per_second(),
        report.errors,
        report.wrong_answers
    );
    println!(
        "{label}: latency µs: p50 {:.0}  p90 {:.0}  p99 {:.0}  p99.9 {:.0}  max {:.0}",
        l.p50, l.p90, l.p99, l.p999, l.max
    );
}

async fn replicate(cli: &Cli, reader: &str) -> ExitCode {
    let Some(api_key) = cli.api_key.clone() else {
        eprintln!("authz-loadgen: --replicate-to needs --api-key (or AUTHZ_API_KEY)");
        return ExitCode::from(2);
    };
    // The demo tenant: rita may view p-100 exactly while she is its assignee.
    let config = ReplicationConfig {
        writer: cli.server.clone(),
        reader: reader.to_owned(),
        api_key,
        tenant: "sunrise-home-health".to_owned(),
        resource_type: "patient".to_owned(),
        resource_id: "p-100".to_owned(),
        relation: "assignee".to_owned(),
        subject_id: "rita".to_owned(),
        action: "view".to_owned(),
        rounds: cli.rounds,
        timeout: Duration::from_secs(5),
    };
    match replication(&config).await {
        Ok(report) => {
            let (v, w) = (report.visible_us, report.write_us);
            println!(
                "{} writes, {} never seen within 5 s",
                report.rounds, report.unseen
            );
            println!(
                "write (RPC) µs: p50 {:.0}  p90 {:.0}  p99 {:.0}  max {:.0}",
                w.p50, w.p90, w.p99, w.max
            );
            println!(
                "write → visible on the other replica µs: p50 {:.0}  p90 {:.0}  p99 {:.0}  max {:.0}",
                v.p50, v.p90, v.p99, v.max
            );
            if report.unseen > 0 {
                return ExitCode::from(1);
            }
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("authz-loadgen: {error}");
            ExitCode::from(2)
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(reader) = cli.replicate_to.clone() {
        return replicate(&cli, &reader).await;
    }
    let workload = demo_workload();
    let mut config = LoadConfig {
        server: cli.server.clone(),
        concurrency: cli.concurrency,
        connections: cli.connections,
        requests: cli.warmup,
        duration: Duration::from_secs(cli.seconds),
        batch: cli.batch,
        rpc: Rpc::Check,
    };
    if cli.warmup > 0
        && let Err(error) = run(&config, &workload).await
    {
        eprintln!("authz-loadgen: {error}");
        return ExitCode::from(2);
    }
    config.requests = cli.requests;
    // The floor first, on the same endpoint with the same callers: what any RPC costs here.
    let floor = if cli.no_floor {
        None
    } else {
        let floor_config = LoadConfig {
            rpc: Rpc::HealthFloor,
            batch: 1,
            ..config.clone()
        };
        match run(&floor_config, &workload).await {
            Ok(report) => Some(report),
            Err(error) => {
                eprintln!("authz-loadgen: {error}");
                return ExitCode::from(2);
            }
        }
    };
    let report = match run(&config, &workload).await {
        Ok(report) => report,
        Err(error) => {
            eprintln!("authz-loadgen: {error}");
            return ExitCode::from(2);
        }
    };
    if cli.json {
        println!(
            "{}",
            serde_json::json!({
                "floor": floor.as_ref().map(LoadReport::to_json),
                "check": report.to_json(),
            })
        );
    } else {
        if let Some(floor) = &floor {
            print("health floor", floor);
        }
        print("check", &report);
        if let Some(floor) = &floor {
            println!(
                "check/floor: throughput {:.2}, p50 {:.2}, p99 {:.2}",
                report.requests_per_second() / floor.requests_per_second().max(f64::EPSILON),
                report.latency_us.p50 / floor.latency_us.p50.max(f64::EPSILON),
                report.latency_us.p99 / floor.latency_us.p99.max(f64::EPSILON),
            );
        }
    }
    let failed = |report: &LoadReport| report.errors > 0 || report.wrong_answers > 0;
    if failed(&report) || floor.as_ref().is_some_and(failed) {
        return ExitCode::from(1);
    }
    ExitCode::SUCCESS
}

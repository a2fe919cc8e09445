//! `authz-server`: run with no arguments for the embedded in-memory store and the demo tenant.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use authz_clock::SystemClock;
use authz_core::model::PLATFORM_TENANT_ID;
use authz_core::{Snapshot, TenantPolicy};
use authz_server::{DEMO_POLICY, ServeConfig};
use authz_store::{InMemoryStore, Store};
use authz_store_pg::{PgStore, PgStoreOptions};
use clap::{Parser, Subcommand, ValueEnum};
use tracing_subscriber::EnvFilter;

#[derive(Debug, Parser)]
#[command(
    name = "authz-server",
    version,
    about = "Multi-tenant authorization service (policy decision point)"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve gRPC (the default).
    Serve(ServeArgs),
    /// Compile policy files and report errors, without serving.
    Validate {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Bring the Postgres schema up to date, then exit (serving does this too).
    Migrate {
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

#[derive(Debug, Clone, clap::Args)]
struct DatabaseArgs {
    /// Postgres as the source of truth (`postgres://user@host:5432/db`). Without it the server
    /// runs the embedded in-memory store.
    #[arg(long, env = "AUTHZ_DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
    /// A direct connection for the change listener (`LISTEN` needs a session of its own) when
    /// `--database-url` goes through a transaction-mode pooler such as PgBouncer.
    #[arg(long, env = "AUTHZ_DATABASE_LISTEN_URL", hide_env_values = true)]
    database_listen_url: Option<String>,
    /// Pooled connections to Postgres.
    #[arg(long, env = "AUTHZ_DATABASE_MAX_CONNECTIONS", default_value_t = 10)]
    database_max_connections: u32,
    /// How long a call waits for a database connection before it fails as unavailable, in
    /// milliseconds.
    #[arg(long, env = "AUTHZ_DATABASE_TIMEOUT_MS", default_value_t = 10_000)]
    database_timeout_ms: u64,
    /// Send every statement unnamed: for a transaction-mode pooler that does not track
    /// prepared statements (PgBouncer before 1.21, or without `max_prepared_statements`).
    #[arg(long, env = "AUTHZ_DATABASE_NO_PREPARED_STATEMENTS")]
    no_prepared_statements: bool,
}

#[derive(Debug, Clone, clap::Args)]
struct ServeArgs {
    #[command(flatten)]
    database: DatabaseArgs,
    /// Address to listen on.
    #[arg(long, env = "AUTHZ_LISTEN", default_value = "127.0.0.1:50051")]
    listen: SocketAddr,
    /// Tenant policy files (YAML) to load into the in-memory store; repeatable. Without any,
    /// the demo home-health tenant is served.
    #[arg(long = "policy", env = "AUTHZ_POLICY", value_delimiter = ',')]
    policies: Vec<PathBuf>,
    /// The platform tenant's policy (platform staff roles and bindings).
    #[arg(long, env = "AUTHZ_PLATFORM_POLICY")]
    platform_policy: Option<PathBuf>,
    /// Longest a check waits for this replica to reach the revision its consistency token asks
    /// for before it is denied `stale`, in milliseconds.
    #[arg(long, env = "AUTHZ_MAX_CONSISTENCY_WAIT_MS", default_value_t = 1000)]
    max_consistency_wait_ms: u64,
    /// How often the replica compares every tenant's revision with the store (the safety net
    /// behind commit announcements), in milliseconds.
    #[arg(long, env = "AUTHZ_POLL_INTERVAL_MS", default_value_t = 1000)]
    poll_interval_ms: u64,
    /// A file holding the first platform admin's API key secret (at least 32 characters),
    /// used only while the platform has no API key. `AUTHZ_BOOTSTRAP_KEY` gives it directly.
    #[arg(long, env = "AUTHZ_BOOTSTRAP_KEY_FILE")]
    bootstrap_key_file: Option<PathBuf>,
    /// Seconds open connections may drain after SIGTERM before the server stops anyway.
    #[arg(long, env = "AUTHZ_SHUTDOWN_GRACE_SECONDS", default_value_t = 10)]
    shutdown_grace_seconds: u64,
    /// Log format.
    #[arg(long, env = "AUTHZ_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

fn read_policy(path: &PathBuf) -> Result<TenantPolicy, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|error| format!("cannot read {}: {error}", path.display()))?;
    TenantPolicy::from_yaml(&text).map_err(|error| format!("{}: {error}", path.display()))
}

/// The embedded store: the demo tenant (or the policy files given) in memory.
async fn embedded_store(args: &ServeArgs) -> Result<Arc<dyn Store>, String> {
    let store = Arc::new(InMemoryStore::new());
    // The platform policy goes first: tenant snapshots compile its bindings in.
    if let Some(path) = &args.platform_policy {
        store
            .put_platform(read_policy(path)?)
            .await
            .map_err(|error| error.to_string())?;
    }
    if args.policies.is_empty() {
        let demo = TenantPolicy::from_yaml(DEMO_POLICY)
            .map_err(|error| format!("demo policy: {error}"))?;
        store
            .put_tenant(demo)
            .await
            .map_err(|error| error.to_string())?;
    }
    for path in &args.policies {
        store
            .put_tenant(read_policy(path)?)
            .await
            .map_err(|error| format!("{}: {error}", path.display()))?;
    }
    Ok(store)
}

/// The first platform admin key, from `--bootstrap-key-file` or `AUTHZ_BOOTSTRAP_KEY`.
fn bootstrap_secret(args: &ServeArgs) -> Result<Option<String>, String> {
    if let Some(path) = &args.bootstrap_key_file {
        let text = std::fs::read_to_string(path)
            .map_err(|error| format!("cannot read {}: {error}", path.display()))?;
        return Ok(Some(text.trim().to_owned()));
    }
    Ok(std::env::var("AUTHZ_BOOTSTRAP_KEY")
        .ok()
        .map(|key| key.trim().to_owned())
        .filter(|key| !key.is_empty()))
}

/// The Postgres store, connected (retrying, with a log line each time, until it answers or the
/// server is stopped) and migrated.
async fn postgres_store(database: &DatabaseArgs, url: &str) -> Result<Arc<PgStore>, String> {
    let mut options = PgStoreOptions::from_url(url)
        .map_err(|error| error.to_string())?
        .max_connections(database.database_max_connections)
        .acquire_timeout(Duration::from_millis(database.database_timeout_ms))
        .prepared_statements(!database.no_prepared_statements);
    if let Some(listen) = &database.database_listen_url {
        let listen = listen
            .parse()
            .map_err(|error| format!("the database listen url is invalid: {error}"))?;
        options = options.listen_with(listen);
    }
    let mut delay = Duration::from_secs(1);
    let store = loop {
        match PgStore::connect(options.clone()).await {
            Ok(store) => break store,
            Err(error) => {
                tracing::warn!(%error, retry_in = ?delay, "Postgres is unreachable; retrying");
                tokio::select! {
                    () = tokio::time::sleep(delay) => {}
                    () = shutdown_signal() => return Err("stopped before Postgres answered".to_owned()),
                }
                delay = (delay * 2).min(Duration::from_secs(30));
            }
        }
    };
    store.migrate().await.map_err(|error| error.to_string())?;
    tracing::info!("connected to Postgres; schema up to date");
    Ok(Arc::new(store))
}

async fn run(args: ServeArgs) -> Result<(), String> {
    let store: Arc<dyn Store> = match &args.database.database_url {
        Some(url) => {
            if !args.policies.is_empty() || args.platform_policy.is_some() {
                return Err(
                    "--policy and --platform-policy load the embedded store; with --database-url, import policies with `authzctl apply`"
                        .to_owned(),
                );
            }
            postgres_store(&args.database, url).await?
        }
        None => embedded_store(&args).await?,
    };
    if let Some(secret) = bootstrap_secret(&args)? {
        let created = authz_admin::bootstrap_platform(&*store, &secret)
            .await
            .map_err(|error| format!("bootstrap key: {error}"))?;
        if created {
            tracing::info!("created the first platform admin (`bootstrap-admin`, key `bootstrap`)");
        } else {
            tracing::info!("the platform already has API keys; the bootstrap key is not used");
        }
    }
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|error| format!("cannot listen on {}: {error}", args.listen))?;
    let bound = listener
        .local_addr()
        .map_err(|error| format!("cannot read the bound address: {error}"))?;
    let config = ServeConfig {
        max_consistency_wait: Duration::from_millis(args.max_consistency_wait_ms),
        poll_interval: Duration::from_millis(args.poll_interval_ms),
        shutdown_grace: Duration::from_secs(args.shutdown_grace_seconds),
    };
    // Announced once the tenants are loaded: the one line on stdout (logs go to stderr),
    // machine-readable. With `--listen host:0`, whoever started the server learns the port
    // from it, with no race for a free one. Nobody reading it (a closed pipe) is no reason not
    // to serve, so a failed write is ignored.
    let ready = move || {
        let _ = writeln!(std::io::stdout(), "listening on {bound}");
    };
    authz_server::run(
        store,
        SystemClock,
        config,
        listener,
        ready,
        shutdown_signal(),
    )
    .await
    .map_err(|error| error.to_string())
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate = match tokio::signal::unix::signal(
            tokio::signal::unix::SignalKind::terminate(),
        ) {
            Ok(signal) => signal,
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM; only ctrl-c stops the server");
                let _ = interrupt.await;
                return;
            }
        };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
    tracing::info!("shutting down");
}

fn init_tracing(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // Logs go to stderr: stdout carries only the `listening on` line.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Command::Validate { files }) => files.iter().try_for_each(|path| {
            let policy = read_policy(path)?;
            // A file with the platform's reserved id is a platform policy.
            let compiled = if policy.tenant.id == PLATFORM_TENANT_ID {
                Snapshot::compile_platform(&policy, 1)
            } else {
                Snapshot::compile(&policy, None, 1)
            };
            compiled
                .map(|_| println!("{}: ok (tenant `{}`)", path.display(), policy.tenant.id))
                .map_err(|error| format!("{}: {error}", path.display()))
        }),
        Some(Command::Migrate { database }) => {
            init_tracing(LogFormat::Text);
            match &database.database_url {
                None => Err("migrate needs --database-url (or AUTHZ_DATABASE_URL)".to_owned()),
                Some(url) => postgres_store(&database, url).await.map(|_| {
                    println!("schema up to date");
                }),
            }
        }
        Some(Command::Serve(args)) => {
            init_tracing(args.log_format);
            run(args).await
        }
        None => {
            init_tracing(cli.serve.log_format);
            run(cli.serve).await
        }
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("authz-server: {message}");
            std::process::ExitCode::FAILURE
        }
    }
}

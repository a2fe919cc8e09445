//! `authzctl`: command-line client for authz-server. `check` asks one question and prints the
//! decision (and, with `--explain`, the full trace); `--json` prints it for scripts. `apply`,
//! `export`, `rel` and `tenant` are admin calls, authenticated with `--api-key`.
//!
//! Exit status: 0 allowed (or the admin call succeeded), 1 denied, 2 the question or call could
//! not be made (bad arguments, unreachable server, rejected request).

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod admin;
mod check;

#[derive(Debug, Parser)]
#[command(
    name = "authzctl",
    version,
    about = "Command-line client for authz-server"
)]
struct Cli {
    /// Server address.
    #[arg(
        long,
        global = true,
        env = "AUTHZ_SERVER",
        default_value = "http://127.0.0.1:50051"
    )]
    server: String,
    /// API key secret for admin commands (sent as `authorization: Bearer <secret>`).
    #[arg(long, global = true, env = "AUTHZ_API_KEY", hide_env_values = true)]
    api_key: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// May PRINCIPAL do ACTION on RESOURCE?
    Check(check::CheckArgs),
    /// Import a whole tenant from a policy file: shows what changes, then applies it.
    Apply(admin::ApplyArgs),
    /// Print a tenant's policy in the policy-file format.
    Export(admin::ExportArgs),
    /// Write, delete or read relationships.
    #[command(subcommand)]
    Rel(admin::RelCommand),
    /// Create, suspend, reactivate, show and list tenants (platform staff).
    #[command(subcommand)]
    Tenant(admin::TenantCommand),
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Check(args) => check::check(cli.server, args).await,
        Command::Apply(args) => admin::apply(&cli.server, cli.api_key, args).await,
        Command::Export(args) => admin::export(&cli.server, cli.api_key, args).await,
        Command::Rel(command) => admin::rel(&cli.server, cli.api_key, command).await,
        Command::Tenant(command) => admin::tenant(&cli.server, cli.api_key, command).await,
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(message) => {
            eprintln!("authzctl: {message}");
            ExitCode::from(2)
        }
    }
}

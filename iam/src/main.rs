//! `iam`: the IAM service as its own process, serving gRPC (`crates/iam-api/proto/iam.proto`)
//! to `s3-frontend` (`CLOUDSTORE_IAM_GRPC`). Health: the `Ready` RPC.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;
use cloudstore_iam::api::InProcessIam;
use cloudstore_iam::config::{IamArgs, IdentityDb};
use cloudstore_iam::service::ServiceConfig;
use cloudstore_iam_api::grpc::ServiceToken;

/// cloudstore's IAM service (accounts, sessions, access keys, policies, IAM/STS APIs) over gRPC.
#[derive(Debug, Parser)]
#[command(name = "iam", version, about)]
struct Cli {
    /// Address (host:port) the gRPC service listens on.
    #[arg(long, env = "CLOUDSTORE_IAM_LISTEN", default_value = "127.0.0.1:50051")]
    listen: SocketAddr,
    /// Where the embedded identity database (SQLite) and the generated master key live.
    #[arg(long, env = "CLOUDSTORE_DATA_DIR", default_value = "./data")]
    data_dir: PathBuf,
    /// PostgreSQL URL of the identity database; SQLite `<data dir>/metadata.sqlite` when unset.
    #[arg(long, env = "CLOUDSTORE_POSTGRES_URL", hide_env_values = true)]
    postgres_url: Option<String>,
    /// The secret every caller (s3-frontend) must present; required.
    #[arg(long, env = "CLOUDSTORE_IAM_SERVICE_TOKEN", hide_env_values = true)]
    service_token: Option<String>,
    /// File holding the service token.
    #[arg(long, env = "CLOUDSTORE_IAM_SERVICE_TOKEN_FILE")]
    service_token_file: Option<PathBuf>,
    /// The auth side for password changes, when this process serves the profile side apart
    /// (`http://host:port` of another `iam`); this process itself when unset. Uses the same
    /// service token.
    #[arg(long, env = "CLOUDSTORE_IAM_AUTH_GRPC")]
    auth_grpc: Option<String>,
    #[command(flatten)]
    iam: IamArgs,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    cloudstore_telemetry::init("cloudstore_iam=info,iam=info,warn");
    match run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("iam: {e}");
            std::process::ExitCode::from(2)
        }
    }
}

async fn run(cli: Cli) -> Result<(), String> {
    let token = ServiceToken::required(cli.service_token.as_deref(), cli.service_token_file.as_deref())
        .map_err(|e| e.to_string())?;
    let db = match &cli.postgres_url {
        Some(url) if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) => {
            return Err("CLOUDSTORE_POSTGRES_URL must start with postgres://".into());
        }
        Some(url) => IdentityDb::Postgres(url.clone()),
        None => {
            std::os::unix::fs::DirBuilderExt::mode(std::fs::DirBuilder::new().recursive(true), 0o700)
                .create(&cli.data_dir)
                .map_err(|e| format!("{}: {e}", cli.data_dir.display()))?;
            IdentityDb::Sqlite(cli.data_dir.join("metadata.sqlite"))
        }
    };
    // Checked before anything is opened or generated.
    let auth = match &cli.auth_grpc {
        Some(url) => Some(
            cloudstore_iam::grpc::GrpcPasswordAuthority::connect_lazy(url, &token)
                .map_err(|e| format!("CLOUDSTORE_IAM_AUTH_GRPC: {e}"))?,
        ),
        None => None,
    };
    // Identity events go to the shared database's outbox, which the gateway's relay publishes.
    let events = std::env::var("CLOUDSTORE_EVENTS").map_or(true, |v| v.trim() != "off");
    let cfg = ServiceConfig { events, ..ServiceConfig::default() };
    let mut svc = cloudstore_iam::config::open(&cli.iam, &db, &cli.data_dir, cfg)
        .await
        .map_err(|e| format!("IAM service: {e}"))?;
    if let Some(auth) = auth {
        svc = svc.with_password_authority(std::sync::Arc::new(auth));
        tracing::info!("password changes go to the auth side over gRPC (CLOUDSTORE_IAM_AUTH_GRPC)");
    }
    let listener =
        tokio::net::TcpListener::bind(cli.listen).await.map_err(|e| format!("cannot listen on {}: {e}", cli.listen))?;
    let addr = listener.local_addr().map_or_else(|_| cli.listen.to_string(), |a| a.to_string());
    println!("cloudstore iam listening on http://{addr} (gRPC)");
    tracing::info!(%addr, identity_db = db_kind(&db), sessions = session_kind(&cli.iam), "IAM service started");
    cloudstore_iam::grpc::serve(listener, InProcessIam::new(svc), &token, shutdown_signal())
        .await
        .map_err(|e| format!("gRPC server: {e}"))?;
    tracing::info!("IAM service stopped");
    Ok(())
}

fn db_kind(db: &IdentityDb) -> &'static str {
    match db {
        IdentityDb::Sqlite(_) => "sqlite",
        IdentityDb::Postgres(_) => "postgres",
    }
}

fn session_kind(args: &IamArgs) -> &'static str {
    if args.redis_url.is_some() { "redis" } else { "in-process" }
}

/// Completes on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = ctrl_c => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = ctrl_c.await;
        }
    }
    tracing::info!("shutting down");
}

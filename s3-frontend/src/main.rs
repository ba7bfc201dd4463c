//! `s3-frontend`: the S3 gateway as its own process.

use clap::Parser;
use s3_frontend::{App, ServeArgs};
use tokio_util::sync::CancellationToken;

/// cloudstore's S3 frontend: S3 API, health and metrics on one port.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    #[command(flatten)]
    serve: ServeArgs,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    cloudstore_telemetry::init("s3_frontend=info,cloudstore=info,s3s=off,warn");
    match run(cli.serve).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("s3-frontend: {e:#}");
            std::process::ExitCode::from(2)
        }
    }
}

async fn run(args: ServeArgs) -> anyhow::Result<()> {
    // Until the gRPC client lands, the standalone gateway authenticates the root key only.
    tracing::warn!("standalone s3-frontend: no IAM service configured; only the root key pair authenticates");
    let app = App::build(&args, std::sync::Arc::new(s3_frontend::identity::RootOnlyIam)).await?;
    s3_frontend::app::announce(&app, &args);
    let shutdown = CancellationToken::new();
    tokio::spawn(s3_frontend::app::cancel_on_signal(shutdown.clone()));
    app.run(shutdown).await;
    Ok(())
}

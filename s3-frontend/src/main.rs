//! `s3-frontend`: the S3 gateway as its own process.

use std::path::PathBuf;
use std::sync::Arc;

use clap::Parser;
use cloudstore_iam_api::IamApi;
use cloudstore_iam_api::grpc::{GrpcIam, ServiceToken};
use s3_frontend::{App, ServeArgs};
use tokio_util::sync::CancellationToken;

/// cloudstore's S3 frontend: S3 API, health and metrics on one port.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    #[command(flatten)]
    serve: ServeArgs,
    #[command(flatten)]
    iam: IamLink,
}

/// Where the IAM service is when it runs as its own process (`iam`).
#[derive(Debug, clap::Args)]
struct IamLink {
    /// The `iam` service's gRPC address (http://host:port). Unset: no IAM service, only the
    /// root key pair authenticates.
    #[arg(long, env = "CLOUDSTORE_IAM_GRPC")]
    iam_grpc: Option<String>,
    /// The secret presented to `iam` on every call (the same as iam's); required with --iam-grpc.
    #[arg(long, env = "CLOUDSTORE_IAM_SERVICE_TOKEN", hide_env_values = true)]
    iam_service_token: Option<String>,
    /// File holding the service token.
    #[arg(long, env = "CLOUDSTORE_IAM_SERVICE_TOKEN_FILE")]
    iam_service_token_file: Option<PathBuf>,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    cloudstore_telemetry::init("s3_frontend=info,cloudstore=info,s3s=off,warn");
    let result = s3_frontend::runtime::build(cli.serve.worker_threads)
        .map_err(anyhow::Error::from)
        .and_then(|rt| rt.block_on(run(cli.serve, cli.iam)));
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("s3-frontend: {e:#}");
            std::process::ExitCode::from(2)
        }
    }
}

/// The IAM service the gateway uses: `iam` over gRPC, or none (the root key pair only).
async fn iam_service(link: &IamLink) -> anyhow::Result<Arc<dyn IamApi>> {
    let Some(url) = &link.iam_grpc else {
        tracing::warn!(
            "standalone s3-frontend: no IAM service configured (CLOUDSTORE_IAM_GRPC); only the root key pair \
             authenticates"
        );
        return Ok(Arc::new(s3_frontend::identity::RootOnlyIam));
    };
    // One line each (the messages already name their cause).
    let token = ServiceToken::required(link.iam_service_token.as_deref(), link.iam_service_token_file.as_deref())
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let iam = GrpcIam::connect_lazy(url, &token).map_err(|e| anyhow::anyhow!("{e}"))?;
    // Not fatal: the gateway starts and answers 503 for IAM until `iam` is up.
    match iam.ready().await {
        Ok(()) => tracing::info!(url = %url, "IAM service reachable over gRPC"),
        Err(e) => tracing::warn!(url = %url, error = %e, "IAM service not ready yet"),
    }
    Ok(Arc::new(iam))
}

async fn run(args: ServeArgs, link: IamLink) -> anyhow::Result<()> {
    let iam = iam_service(&link).await?;
    let app = App::build(&args, iam).await?;
    s3_frontend::app::announce(&app, &args);
    let shutdown = CancellationToken::new();
    tokio::spawn(s3_frontend::app::cancel_on_signal(shutdown.clone()));
    app.run(shutdown).await;
    Ok(())
}

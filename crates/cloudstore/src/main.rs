//! `cloudstore`: the composition root. `serve` runs every service in one process (the S3
//! gateway with the IAM service in process); with no backend settings it uses the embedded
//! defaults (SQLite and local files under --data-dir). `admin` talks to a running server.

mod admin;

use std::sync::Arc;

use clap::{Parser, Subcommand};
use cloudstore_iam::api::InProcessIam;
use cloudstore_iam::config::{IamArgs, IdentityDb};
use cloudstore_iam::service::ServiceConfig;
use s3_frontend::config::MetadataBackend;
use s3_frontend::{App, ServeArgs};
use tokio_util::sync::CancellationToken;

/// S3-compatible object storage with IAM-style auth.
#[derive(Debug, Parser)]
#[command(name = "cloudstore", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run every service in one process (embedded SQLite + local files unless backends are set).
    Serve {
        #[command(flatten)]
        serve: Box<ServeArgs>,
        #[command(flatten)]
        iam: IamArgs,
    },
    /// Manage a running server: accounts, IAM entities, policy explanations.
    Admin(admin::AdminArgs),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve { serve: args, iam } => {
            cloudstore_telemetry::init(
                "cloudstore=info,s3_frontend=info,cloudstore_iam=info,cloudstore_notifier=info,s3s=off,warn",
            );
            s3_frontend::runtime::build(args.worker_threads)
                .map_err(anyhow::Error::from)
                .and_then(|rt| rt.block_on(serve(*args, iam)))
        }
        Command::Admin(args) => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(anyhow::Error::from)
            .and_then(|rt| rt.block_on(admin::run(args))),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cloudstore: {e:#}");
            std::process::ExitCode::from(2)
        }
    }
}

async fn serve(args: ServeArgs, iam_args: IamArgs) -> anyhow::Result<()> {
    let db = match args.metadata_backend()? {
        MetadataBackend::Sqlite(path) => {
            // Before the IAM service creates its files there.
            s3_frontend::config::private_data_dir(&args.data_dir)?;
            IdentityDb::Sqlite(path)
        }
        MetadataBackend::Postgres(url) => IdentityDb::Postgres(url),
    };
    let cfg = ServiceConfig { events: args.events == "on", ..ServiceConfig::default() };
    let iam = cloudstore_iam::config::open(&iam_args, &db, &args.data_dir, cfg)
        .await
        .map_err(|e| anyhow::anyhow!("IAM service: {e}"))?;
    let app = App::build(&args, Arc::new(InProcessIam::new(iam))).await?;
    s3_frontend::app::announce(&app, &args);
    // With Kafka and ClickHouse both configured, the notifier's consumer runs here too.
    let notifier_config = cloudstore_notifier::ConsumerConfig::from_env()?;
    let shutdown = CancellationToken::new();
    tokio::spawn(s3_frontend::app::cancel_on_signal(shutdown.clone()));
    let notifier = notifier_config.map(|config| {
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            if let Err(e) = cloudstore_notifier::run(config, shutdown).await {
                tracing::error!(error = %e, "notifier stopped; events stay in Kafka until it runs again");
            }
        })
    });
    app.run(shutdown.clone()).await;
    if let Some(notifier) = notifier {
        shutdown.cancel();
        if tokio::time::timeout(std::time::Duration::from_secs(15), notifier).await.is_err() {
            tracing::warn!("notifier did not stop within 15 s");
        }
    }
    Ok(())
}

//! `cloudstore`: the composition root. `serve` runs every service in one process; with no
//! backend settings it uses the embedded defaults (SQLite and local files under --data-dir).

use clap::{Parser, Subcommand};
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
    Serve(ServeArgs),
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    cloudstore_telemetry::init("cloudstore=info,s3_frontend=info,s3s=off,warn");
    let result = match cli.command {
        Command::Serve(args) => serve(args).await,
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cloudstore: {e:#}");
            std::process::ExitCode::from(2)
        }
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let app = App::build(&args).await?;
    s3_frontend::app::announce(&app, &args);
    let shutdown = CancellationToken::new();
    tokio::spawn(s3_frontend::app::cancel_on_signal(shutdown.clone()));
    app.run(shutdown).await;
    Ok(())
}

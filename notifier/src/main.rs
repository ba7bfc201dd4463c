//! `notifier`: the notification service as its own process. Consumes events from Kafka into
//! ClickHouse (see `cloudstore_notifier::consumer`) and answers `GET /health/live`,
//! `GET /health/ready` and `GET /metrics` on its own port.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use cloudstore_notifier::consumer::{ConsumerConfig, DEFAULT_GROUP_ID, Fault};
use cloudstore_notifier::health::{self, Probe};
use cloudstore_notifier::{Notifier, consumer};
use tokio_util::sync::CancellationToken;

/// cloudstore's notifier: events from Kafka into ClickHouse.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    /// Kafka bootstrap servers, host:port[,host:port].
    #[arg(long, env = "CLOUDSTORE_KAFKA_BROKERS")]
    kafka_brokers: String,
    /// ClickHouse's HTTP URL, http://host:port.
    #[arg(long, env = "CLOUDSTORE_CLICKHOUSE_URL")]
    clickhouse_url: String,
    /// The ClickHouse database (created at start with its `events` table).
    #[arg(long, env = "CLOUDSTORE_CLICKHOUSE_DATABASE", default_value = "cloudstore")]
    clickhouse_database: String,
    /// The clickhouse crate's schema validation: must be off for ClickHouse 18.16; a current
    /// ClickHouse works either way.
    #[arg(long, env = "CLOUDSTORE_CLICKHOUSE_VALIDATION", default_value = "false", value_parser = parse_bool)]
    clickhouse_validation: bool,
    /// Address of the health and metrics listener.
    #[arg(long, env = "CLOUDSTORE_NOTIFIER_LISTEN", default_value = "127.0.0.1:9102")]
    listen: SocketAddr,
    /// The Kafka consumer group.
    #[arg(long, env = "CLOUDSTORE_NOTIFIER_GROUP", default_value = DEFAULT_GROUP_ID)]
    group: String,
    /// The events topic.
    #[arg(long, env = "CLOUDSTORE_NOTIFIER_TOPIC", default_value = cloudstore_events::EVENTS_TOPIC)]
    topic: String,
    /// Where messages that are not events go, with the reason.
    #[arg(long, env = "CLOUDSTORE_NOTIFIER_DEAD_LETTER_TOPIC", default_value = cloudstore_events::DEAD_LETTER_TOPIC)]
    dead_letter_topic: String,
    /// Partitions of the topics when the notifier creates them.
    #[arg(long, env = "CLOUDSTORE_NOTIFIER_TOPIC_PARTITIONS", default_value_t = 6)]
    topic_partitions: i32,
    /// Replication factor of the topics when the notifier creates them.
    #[arg(long, env = "CLOUDSTORE_NOTIFIER_TOPIC_REPLICATION", default_value_t = 1)]
    topic_replication: i32,
    /// At most this many messages per ClickHouse insert.
    #[arg(long, env = "CLOUDSTORE_NOTIFIER_BATCH_SIZE", default_value_t = 5_000)]
    batch_size: usize,
    /// A batch is inserted at most this many milliseconds after its first message.
    #[arg(long, env = "CLOUDSTORE_NOTIFIER_BATCH_WAIT_MS", default_value_t = 250)]
    batch_wait_ms: u64,
    /// Test hook, never for production: `abort-after-insert` aborts the process right after
    /// the first batch ClickHouse acknowledged, before its offsets are committed.
    #[arg(long, env = "CLOUDSTORE_NOTIFIER_FAULT", hide = true)]
    fault: Option<String>,
}

fn parse_bool(v: &str) -> Result<bool, String> {
    consumer::parse_bool(v).ok_or_else(|| format!("{v:?} is not a boolean (true/false)"))
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    cloudstore_telemetry::init("notifier=info,cloudstore_notifier=info,warn");
    let result = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(anyhow::Error::from)
        .and_then(|rt| rt.block_on(run(cli)));
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("notifier: {e:#}");
            std::process::ExitCode::from(2)
        }
    }
}

fn config(cli: &Cli) -> anyhow::Result<ConsumerConfig> {
    let mut c = ConsumerConfig::new(&cli.kafka_brokers, &cli.clickhouse_url);
    c.clickhouse_database.clone_from(&cli.clickhouse_database);
    c.clickhouse_validation = cli.clickhouse_validation;
    c.group_id.clone_from(&cli.group);
    c.topic.clone_from(&cli.topic);
    c.dead_letter_topic.clone_from(&cli.dead_letter_topic);
    c.topic_partitions = cli.topic_partitions;
    c.topic_replication = cli.topic_replication;
    c.max_batch = cli.batch_size;
    c.max_wait = Duration::from_millis(cli.batch_wait_ms);
    c.fault = cli.fault.as_deref().filter(|f| !f.is_empty()).map(str::parse::<Fault>).transpose()?;
    c.validate()?;
    Ok(c)
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let config = config(&cli)?;
    if let Some(fault) = config.fault {
        tracing::warn!(?fault, "test fault hook enabled (CLOUDSTORE_NOTIFIER_FAULT)");
    }
    let listener =
        tokio::net::TcpListener::bind(cli.listen).await.with_context(|| format!("listening on {}", cli.listen))?;
    tracing::info!(listen = %cli.listen, "health and metrics on http://{}/", cli.listen);
    let probe = Arc::new(Probe::new(&config)?);
    let notifier = Notifier::new(config);
    let shutdown = CancellationToken::new();
    tokio::spawn(cancel_on_signal(shutdown.clone()));
    let http = tokio::spawn(health::serve(listener, probe, notifier.metrics(), shutdown.clone()));
    let result = notifier.run(shutdown.clone()).await;
    shutdown.cancel();
    let _ = http.await;
    Ok(result?)
}

/// Cancels `shutdown` on SIGINT or SIGTERM.
async fn cancel_on_signal(shutdown: CancellationToken) {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
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
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
    tracing::info!("shutting down");
    shutdown.cancel();
}

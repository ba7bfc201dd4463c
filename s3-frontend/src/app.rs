//! Wiring only: turns settings into stores, the S3 service, the collector and the HTTP
//! frontend. The only place that names concrete store types.

use std::sync::Arc;
use std::time::Duration;

use cloudstore_store_api::{BlobStore, MetadataStore, StoreError};
use s3s::service::S3ServiceBuilder;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use cloudstore_iam_api::IamApi;

use crate::access::PolicyAccess;
use crate::api::ApiRoutes;
use crate::auth::{IamAuth, RootCredentials};
use crate::config::{BlobBackend, ConfigError, MetadataBackend, ServeArgs};
use crate::gc::Collector;
use crate::host::Domains;
use crate::identity::{BucketCache, KeyCache};
use crate::metrics::Metrics;
use crate::s3::{Gateway, GatewayConfig};
use crate::server::{Frontend, Limits, serve};

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Bad settings.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A backend could not be opened.
    #[error("{what}: {source}")]
    Backend {
        /// Which backend.
        what: &'static str,
        /// Why.
        #[source]
        source: StoreError,
    },
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: std::net::SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// Opens the metadata store a backend setting names.
pub async fn open_metadata(b: &MetadataBackend) -> Result<Arc<dyn MetadataStore>, StartError> {
    let err = |source| StartError::Backend { what: "metadata store", source };
    Ok(match b {
        MetadataBackend::Sqlite(path) => {
            Arc::new(cloudstore_store_sqlite::SqliteMetadataStore::open(path).await.map_err(err)?)
        }
        MetadataBackend::Postgres(url) => {
            Arc::new(cloudstore_store_pg::PgMetadataStore::connect(url).await.map_err(err)?)
        }
    })
}

/// Opens the blob store a backend setting names.
pub async fn open_blobs(b: &BlobBackend, region: &str) -> Result<Arc<dyn BlobStore>, StartError> {
    let err = |source| StartError::Backend { what: "blob store", source };
    Ok(match b {
        BlobBackend::Fs(root) => Arc::new(cloudstore_blob_fs::FsBlobStore::open(root).map_err(err)?),
        BlobBackend::S3 { endpoint, access_key, secret_key, bucket } => Arc::new(
            cloudstore_blob_minio::MinioBlobStore::new(endpoint, access_key, secret_key, bucket, region)
                .await
                .map_err(err)?,
        ),
    })
}

/// The local event store `<data dir>/events.sqlite` (0600, in the private data dir), opened
/// once: the relay writes it when events do not go to Kafka, analytics read it when there is
/// no ClickHouse.
async fn open_local_events(data_dir: &std::path::Path) -> Result<cloudstore_notifier::LocalEventStore, StartError> {
    crate::config::private_data_dir(data_dir)?;
    cloudstore_notifier::LocalEventStore::open(&data_dir.join("events.sqlite"))
        .await
        .map_err(|e| StartError::Backend { what: "local event store", source: StoreError::unavailable(e) })
}

/// Where the outbox relay publishes: Kafka when brokers are set, else the local event store.
fn open_publisher(
    args: &ServeArgs,
    meta: Arc<dyn MetadataStore>,
    local: Option<&cloudstore_notifier::LocalEventStore>,
) -> Result<Arc<dyn cloudstore_outbox::Publisher>, StartError> {
    if let Some(brokers) = args.kafka_brokers.as_deref().filter(|b| !b.trim().is_empty()) {
        let p = cloudstore_notifier::publish::KafkaPublisher::new(brokers, &args.events_topic)
            .map_err(|e| StartError::Backend { what: "Kafka producer", source: StoreError::unavailable(e) })?
            .with_bucket_notifications(meta, &args.region);
        return Ok(Arc::new(p));
    }
    let local = local.ok_or_else(|| StartError::Backend {
        what: "local event store",
        source: StoreError::unavailable("not opened"),
    })?;
    Ok(Arc::new(cloudstore_notifier::publish::LocalPublisher::new(local.clone())))
}

/// Opens where analytics read events: ClickHouse when `CLOUDSTORE_CLICKHOUSE_URL` is set (the
/// database and table are created if missing), else the local event store (the embedded
/// default, fed by the outbox relay).
pub async fn open_analytics(
    a: &crate::analytics::AnalyticsArgs,
    local: Option<cloudstore_notifier::LocalEventStore>,
) -> Result<Arc<dyn cloudstore_notifier::Analytics>, StartError> {
    let err = |e: String| StartError::Backend { what: "analytics event store", source: StoreError::unavailable(e) };
    Ok(match (&a.clickhouse_url, local) {
        (Some(url), _) => Arc::new(
            cloudstore_notifier::ClickHouseSink::connect(url, &a.clickhouse_database, a.clickhouse_validation)
                .await
                .map_err(|e| err(e.to_string()))?,
        ),
        (None, Some(local)) => Arc::new(local),
        (None, None) => return Err(err("no ClickHouse and no local event store".into())),
    })
}

/// A server ready to run.
#[derive(Debug)]
pub struct App {
    /// The bound public listener.
    pub listener: TcpListener,
    /// The request handler.
    pub frontend: Arc<Frontend>,
    /// The background collector.
    pub collector: Collector,
    /// The lifecycle worker.
    pub lifecycle: crate::s3::LifecycleWorker,
    /// The root key pair, and whether it was generated at this start.
    pub root: (RootCredentials, bool),
    /// The outbox relay, when events are on.
    pub relay: Option<cloudstore_outbox::Relay>,
    /// Stops the read-event buffer (after the server stopped, so it flushes what is left).
    pub events_stop: CancellationToken,
}

impl App {
    /// Builds everything from settings and binds the listener; identities come from `iam`.
    pub async fn build(args: &ServeArgs, iam: Arc<dyn IamApi>) -> Result<Self, StartError> {
        let meta_backend = args.metadata_backend()?;
        let blob_backend = args.blob_backend()?;
        if matches!(meta_backend, MetadataBackend::Sqlite(_)) || matches!(blob_backend, BlobBackend::Fs(_)) {
            crate::config::private_data_dir(&args.data_dir)?;
        }
        let root = args.root_credentials()?;
        let (sse_master, sse_generated) = args.sse_master_key()?;
        if sse_generated {
            tracing::info!(path = %args.data_dir.join("sse-master.key").display(), "generated the SSE master key (encryption at rest); keep a copy: without it encrypted objects cannot be read");
        }
        tracing::info!(metadata = ?meta_backend_kind(&meta_backend), blobs = ?blob_backend, "opening backends");
        let meta = open_metadata(&meta_backend).await?;
        let blobs = open_blobs(&blob_backend, &args.region).await?;
        let cfg = GatewayConfig {
            region: args.region.clone(),
            gc_grace: Duration::from_secs(args.gc_grace_secs),
            pending_ttl: Duration::from_secs(args.pending_ttl_secs),
            lifecycle_day: Duration::from_secs(args.lifecycle_day_secs),
            default_ownership: args.default_object_ownership,
            sse: Some(cloudstore_sse::Keyring::new(&sse_master)),
            ..GatewayConfig::default()
        };
        let metrics = Arc::new(Metrics::default());
        let nofile = crate::runtime::raise_open_file_limit();
        let health_reserve = Limits::default().health_reserve;
        let limits = Limits {
            max_connections: args.max_connections.map_or_else(
                || Limits::max_connections_for(nofile, health_reserve),
                |n| usize::try_from(n).unwrap_or(usize::MAX),
            ),
            health_reserve,
            body_idle_timeout: Duration::from_secs(args.body_idle_timeout_secs),
        };
        tracing::info!(open_files = nofile, max_connections = limits.max_connections, "connection limit");
        let events_stop = CancellationToken::new();
        let kafka = args.kafka_brokers.as_deref().is_some_and(|b| !b.trim().is_empty());
        let events_on = args.events == "on";
        let clickhouse = args.analytics.clickhouse_url.is_some();
        // The local store: fed by the relay without Kafka; read by analytics without ClickHouse
        // (with Kafka and no ClickHouse nothing feeds it: no analytics then, rather than empty ones).
        let local =
            if !kafka && (events_on || !clickhouse) { Some(open_local_events(&args.data_dir).await?) } else { None };
        let analytics = if clickhouse || !kafka {
            Some(open_analytics(&args.analytics, local.clone()).await?)
        } else {
            tracing::warn!(
                "events go to Kafka and no ClickHouse is set: the analytics API answers 503 (set CLOUDSTORE_CLICKHOUSE_URL)"
            );
            None
        };
        let (events, relay) = if events_on {
            let publisher = open_publisher(args, meta.clone(), local.as_ref())?;
            let outbox_metrics = Arc::new(cloudstore_outbox::OutboxMetrics::default());
            let _ = metrics.events.set(outbox_metrics.clone());
            let buffer =
                cloudstore_outbox::EventBuffer::start(meta.clone(), outbox_metrics.clone(), events_stop.clone());
            let relay = cloudstore_outbox::Relay::new(
                meta.clone(),
                publisher,
                cloudstore_outbox::RelayConfig::default(),
                outbox_metrics.clone(),
            );
            (Some(crate::events::Events::new(buffer, outbox_metrics)), Some(relay))
        } else {
            (None, None)
        };
        let notifications = events.is_some() && kafka;
        let cfg = GatewayConfig { events, notifications, ..cfg };
        let lifecycle = crate::s3::LifecycleWorker::new(
            Gateway::new(meta.clone(), blobs.clone(), cfg.clone()),
            Duration::from_secs(args.lifecycle_interval_secs),
        );
        let public_url = args.public_url.as_deref().map(crate::shares::public_base).transpose()?;
        let mut frontend = frontend(meta.clone(), blobs.clone(), cfg, root.0.clone(), &args.domains, metrics, iam)?
            .with_limits(limits);
        frontend.public_url = public_url;
        if let Some(analytics) = analytics {
            frontend = frontend.with_analytics(analytics);
        }
        let frontend = Arc::new(frontend);
        let mut collector = Collector::new(meta, blobs);
        collector.upload_ttl = Duration::from_secs(args.upload_ttl_secs);
        collector.interval = Duration::from_secs(args.gc_interval_secs.max(1));
        let listener =
            TcpListener::bind(args.listen).await.map_err(|source| StartError::Listen { addr: args.listen, source })?;
        Ok(Self { listener, frontend, collector, lifecycle, root, relay, events_stop })
    }

    /// Serves until `shutdown` is cancelled; the collector and the outbox relay run alongside.
    pub async fn run(self, shutdown: CancellationToken) {
        let gc = tokio::spawn(self.collector.run(shutdown.clone()));
        let lifecycle = tokio::spawn(self.lifecycle.run(shutdown.clone()));
        let relay = self.relay.map(|r| tokio::spawn(r.run(shutdown.clone())));
        serve(self.listener, self.frontend, shutdown).await;
        // The buffer's last events reach the outbox; the relay publishes them at the next start.
        self.events_stop.cancel();
        let _ = gc.await;
        let _ = lifecycle.await;
        if let Some(r) = relay {
            let _ = r.await;
        }
    }
}

fn meta_backend_kind(b: &MetadataBackend) -> &'static str {
    match b {
        MetadataBackend::Sqlite(_) => "sqlite",
        MetadataBackend::Postgres(_) => "postgres",
    }
}

/// How long a resolved access key is trusted before the IAM service is asked again: a
/// disabled or deleted key is refused within this time.
pub const KEY_CACHE_TTL: Duration = Duration::from_secs(2);
/// How long a bucket's owner and policy are cached (this process's own changes invalidate).
pub const BUCKET_CACHE_TTL: Duration = Duration::from_secs(2);

/// The HTTP frontend over given stores and IAM service: s3s with IAM authentication and
/// policy-based, deny-by-default access; path- and virtual-host-style addressing; the IAM,
/// STS and account API routes.
pub fn frontend(
    meta: Arc<dyn MetadataStore>,
    blobs: Arc<dyn BlobStore>,
    cfg: GatewayConfig,
    root: RootCredentials,
    domains: &[String],
    metrics: Arc<Metrics>,
    iam: Arc<dyn IamApi>,
) -> Result<Frontend, StartError> {
    let events = cfg.events.clone();
    let region = cfg.region.clone();
    let accounts = Arc::new(crate::identity::Accounts::new(iam.clone()));
    let sse = Arc::new(cfg.sse.clone().unwrap_or_else(cloudstore_sse::Keyring::ephemeral));
    let cfg = GatewayConfig { sse: Some((*sse).clone()), ..cfg };
    let keys = Arc::new(KeyCache::new(iam, &root, KEY_CACHE_TTL));
    let buckets = Arc::new(BucketCache::new(meta.clone(), BUCKET_CACHE_TTL));
    let gateway =
        Gateway::new(meta.clone(), blobs.clone(), cfg).with_bucket_cache(buckets.clone()).with_accounts(accounts);
    let mut access = PolicyAccess::new(keys.clone(), buckets.clone(), metrics.clone());
    if let Some(events) = events.clone() {
        access = access.with_events(events);
    }
    let mut builder = S3ServiceBuilder::new(gateway.clone());
    builder.set_auth(IamAuth::new(keys.clone()));
    builder.set_access(access);
    builder.set_host(Domains::new(domains));
    // PostObject is served before s3s (server.rs, post_object.rs, ADR 0015); should a form
    // ever get through to s3s, it buffers no form file and next to no fields.
    let mut s3_config = s3s::config::S3Config::default();
    s3_config.post_object_max_file_size = 0;
    s3_config.form_max_field_size = 1024;
    s3_config.form_max_fields_size = 4096;
    builder.set_config(Arc::new(s3s::config::StaticConfigProvider::new(Arc::new(s3_config))));
    let api = Arc::new(ApiRoutes {
        keys,
        buckets,
        signing_keys: cloudstore_sigv4::SigningKeyCache::default(),
        region,
        analytics: std::sync::OnceLock::new(),
    });
    Ok(Frontend {
        s3: builder.build(),
        gateway,
        meta,
        blobs,
        metrics,
        api,
        domains: Domains::new(domains),
        limits: Limits::default(),
        events,
        sse,
        share_guesses: Arc::default(),
        share_links: Arc::default(),
        public_url: None,
    })
}

/// Prints where the server listens and, the first time only, the generated root key pair.
pub fn announce(app: &App, args: &ServeArgs) {
    let addr = app.listener.local_addr().map_or_else(|_| args.listen.to_string(), |a| a.to_string());
    let (root, generated) = &app.root;
    println!("cloudstore listening on http://{addr}");
    if *generated {
        println!(
            "Generated the root key pair (saved in {}, shown only this once):",
            args.data_dir.join("root-credentials.json").display()
        );
        println!("  AWS_ACCESS_KEY_ID={}", root.access_key);
        println!("  AWS_SECRET_ACCESS_KEY={}", root.secret_key);
    } else {
        println!("root access key: {}", root.access_key);
    }
}

/// Cancels `token` on SIGINT or SIGTERM.
pub async fn cancel_on_signal(token: CancellationToken) {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => {
                let _ = ctrl_c.await;
                token.cancel();
                return;
            }
        };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
    tracing::info!("shutting down");
    token.cancel();
}

//! The notifier's HTTP listener: `GET /health/live`, `GET /health/ready` (200 only when Kafka
//! answers a metadata request and ClickHouse answers a query; the JSON body says which) and
//! `GET /metrics` (Prometheus text).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use rdkafka::admin::AdminClient;
use rdkafka::config::ClientConfig;
use serde::Serialize;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::consumer::{ConsumerConfig, ConsumerError};
use crate::kafka::KafkaLog;
use crate::metrics::Metrics;

/// How long one readiness check waits for each service.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// Asks Kafka and ClickHouse whether they answer.
pub struct Probe {
    kafka: Arc<AdminClient<KafkaLog>>,
    topic: String,
    clickhouse: clickhouse::Client,
}

impl std::fmt::Debug for Probe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Probe").field("topic", &self.topic).finish_non_exhaustive()
    }
}

/// One service's answer.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Check {
    /// Whether it answered.
    pub ok: bool,
    /// Why not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Check {
    fn of<E: std::fmt::Display>(r: Result<(), E>) -> Self {
        match r {
            Ok(()) => Self { ok: true, error: None },
            Err(e) => Self { ok: false, error: Some(e.to_string()) },
        }
    }
}

/// The body of `/health/ready`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Readiness {
    /// Both answered.
    pub ready: bool,
    /// Kafka: a metadata request for the events topic.
    pub kafka: Check,
    /// ClickHouse: `SELECT 1`.
    pub clickhouse: Check,
}

impl Probe {
    /// A probe for the consumer's Kafka and ClickHouse (clients of its own).
    ///
    /// # Errors
    /// [`ConsumerError::Kafka`] when the Kafka client cannot be created (bad settings).
    pub fn new(config: &ConsumerConfig) -> Result<Self, ConsumerError> {
        let kafka: AdminClient<KafkaLog> = ClientConfig::new()
            .set("bootstrap.servers", &config.brokers)
            .set("client.id", "cloudstore-notifier-health")
            .set("reconnect.backoff.max.ms", "2000")
            .create_with_context(KafkaLog::default())?;
        let clickhouse = clickhouse::Client::default()
            .with_url(&config.clickhouse_url)
            .with_validation(config.clickhouse_validation);
        Ok(Self { kafka: Arc::new(kafka), topic: config.topic.clone(), clickhouse })
    }

    /// Asks both, at most [`PROBE_TIMEOUT`] each, at the same time.
    pub async fn check(&self) -> Readiness {
        let kafka = async {
            let admin = Arc::clone(&self.kafka);
            let topic = self.topic.clone();
            let asked = tokio::task::spawn_blocking(move || {
                admin.inner().fetch_metadata(Some(&topic), PROBE_TIMEOUT).map(|m| m.brokers().len())
            })
            .await;
            match asked {
                Ok(Ok(0)) => Err("no broker in the metadata".to_owned()),
                Ok(Ok(_)) => Ok(()),
                Ok(Err(e)) => Err(e.to_string()),
                Err(e) => Err(e.to_string()),
            }
        };
        let clickhouse = async {
            match tokio::time::timeout(PROBE_TIMEOUT, self.clickhouse.query("SELECT 1").fetch_one::<u8>()).await {
                Ok(Ok(1)) => Ok(()),
                Ok(Ok(n)) => Err(format!("SELECT 1 answered {n}")),
                Ok(Err(e)) => Err(e.to_string()),
                Err(_) => Err(format!("no answer within {} s", PROBE_TIMEOUT.as_secs())),
            }
        };
        let (kafka, clickhouse) = tokio::join!(kafka, clickhouse);
        let (kafka, clickhouse) = (Check::of(kafka), Check::of(clickhouse));
        Readiness { ready: kafka.ok && clickhouse.ok, kafka, clickhouse }
    }
}

/// Serves the health and metrics routes on `listener` until `shutdown` is cancelled.
pub async fn serve(listener: TcpListener, probe: Arc<Probe>, metrics: Arc<Metrics>, shutdown: CancellationToken) {
    loop {
        let accepted = tokio::select! {
            () = shutdown.cancelled() => return,
            a = listener.accept() => a,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                tracing::warn!(error = %e, "health listener: accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let (probe, metrics) = (Arc::clone(&probe), Arc::clone(&metrics));
        tokio::spawn(async move {
            let svc = service_fn(move |req: Request<Incoming>| {
                let (probe, metrics) = (Arc::clone(&probe), Arc::clone(&metrics));
                async move { Ok::<_, std::convert::Infallible>(route(&req, &probe, &metrics).await) }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .header_read_timeout(Some(Duration::from_secs(10)))
                .timer(hyper_util::rt::TokioTimer::new())
                .serve_connection(TokioIo::new(stream), svc);
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "health connection ended");
            }
        });
    }
}

async fn route(req: &Request<Incoming>, probe: &Probe, metrics: &Metrics) -> Response<Full<Bytes>> {
    let reply = |status: StatusCode, content_type: &'static str, body: Vec<u8>| {
        let mut r = Response::new(Full::new(Bytes::from(body)));
        *r.status_mut() = status;
        r.headers_mut().insert(header::CONTENT_TYPE, header::HeaderValue::from_static(content_type));
        r
    };
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return reply(StatusCode::METHOD_NOT_ALLOWED, "text/plain", b"method not allowed\n".to_vec());
    }
    match req.uri().path() {
        "/health/live" => reply(StatusCode::OK, "text/plain", b"ok\n".to_vec()),
        "/health/ready" => {
            let r = probe.check().await;
            let status = if r.ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
            reply(status, "application/json", serde_json::to_vec(&r).unwrap_or_default())
        }
        "/metrics" => reply(StatusCode::OK, "text/plain; version=0.0.4", metrics.render().into_bytes()),
        _ => reply(StatusCode::NOT_FOUND, "text/plain", b"not found\n".to_vec()),
    }
}

//! The transactional outbox of the events pipeline (ADR 0006).
//!
//! - [`sql_outbox!`]: the outbox's SQL, written once for both metadata databases.
//! - [`Relay`]: publishes the outbox (to Kafka, or to the local event store) in id order, one
//!   relay at a time per database (a lease), removing rows once the [`Publisher`] has them
//!   durably. No high-water mark: ids are handed out before commit, so it reads what is still
//!   unpublished rather than "ids after the last one seen".
//! - [`EventBuffer`]: events that describe no state change (downloads, denials) are buffered in
//!   memory and appended to the outbox in batches (every 100 ms or 1,000 events), so a read
//!   costs no metadata write of its own. A kill -9 loses at most what the buffer held.

pub mod sql;

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use cloudstore_store_api::sql::now_ms;
use cloudstore_store_api::{MetadataStore, OutboxEvent, OutboxRow};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// Why a batch was not published.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct PublishError(pub String);

/// Where the relay sends the outbox.
#[async_trait::async_trait]
pub trait Publisher: Send + Sync + std::fmt::Debug {
    /// Publishes `rows` in order; `Ok` only once every row is durably accepted (a failed batch
    /// is sent again whole: the receiving side deduplicates on the event id).
    async fn publish(&self, rows: &[OutboxRow]) -> Result<(), PublishError>;
}

/// Counters of the events pipeline on the producing side (exported by `/metrics`).
#[derive(Debug, Default)]
pub struct OutboxMetrics {
    /// Events written to the outbox (with a change, or appended from the buffer).
    pub produced: AtomicU64,
    /// Events the relay published.
    pub published: AtomicU64,
    /// Batches that failed to publish (each retried).
    pub publish_failures: AtomicU64,
    /// Buffered events dropped because the buffer was full (the database refused appends for long).
    pub dropped: AtomicU64,
    /// Unpublished outbox rows, as last measured.
    pub backlog: AtomicU64,
    /// Age in milliseconds of the oldest unpublished row, as last measured (0: none).
    pub oldest_age_ms: AtomicI64,
}

impl OutboxMetrics {
    /// Prometheus text lines.
    #[must_use]
    pub fn render(&self) -> String {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        format!(
            "# TYPE cloudstore_events_produced_total counter\ncloudstore_events_produced_total {}\n\
             # TYPE cloudstore_events_published_total counter\ncloudstore_events_published_total {}\n\
             # TYPE cloudstore_events_publish_failures_total counter\ncloudstore_events_publish_failures_total {}\n\
             # TYPE cloudstore_events_dropped_total counter\ncloudstore_events_dropped_total {}\n\
             # TYPE cloudstore_outbox_backlog gauge\ncloudstore_outbox_backlog {}\n\
             # TYPE cloudstore_outbox_oldest_age_seconds gauge\ncloudstore_outbox_oldest_age_seconds {:.3}\n",
            g(&self.produced),
            g(&self.published),
            g(&self.publish_failures),
            g(&self.dropped),
            g(&self.backlog),
            self.oldest_age_ms.load(Ordering::Relaxed) as f64 / 1000.0,
        )
    }
}

/// Settings of the relay.
#[derive(Debug, Clone)]
pub struct RelayConfig {
    /// This relay's name in the lease (unique per process).
    pub owner: String,
    /// Rows per batch.
    pub batch: usize,
    /// How long to wait when the outbox is empty.
    pub idle_poll: Duration,
    /// How long a lease lasts without renewal (another relay takes over after it).
    pub lease_ttl: Duration,
    /// How often the backlog gauges are measured.
    pub backlog_every: Duration,
}

impl Default for RelayConfig {
    fn default() -> Self {
        Self {
            owner: format!("relay-{}-{}", std::process::id(), now_ms()),
            batch: 5000,
            idle_poll: Duration::from_millis(100),
            lease_ttl: Duration::from_secs(10),
            backlog_every: Duration::from_secs(2),
        }
    }
}

/// Publishes the outbox of one metadata store.
#[derive(Debug)]
pub struct Relay {
    store: Arc<dyn MetadataStore>,
    publisher: Arc<dyn Publisher>,
    cfg: RelayConfig,
    metrics: Arc<OutboxMetrics>,
}

impl Relay {
    #[must_use]
    pub fn new(
        store: Arc<dyn MetadataStore>,
        publisher: Arc<dyn Publisher>,
        cfg: RelayConfig,
        metrics: Arc<OutboxMetrics>,
    ) -> Self {
        Self { store, publisher, cfg, metrics }
    }

    /// Relays until `stop` is cancelled.
    pub async fn run(self, stop: CancellationToken) {
        let mut failing_since: Option<tokio::time::Instant> = None;
        let mut backoff = Duration::from_millis(100);
        let mut lease_renewed: Option<tokio::time::Instant> = None;
        // Measured apart from publishing, which may wait long on a broker that is down.
        tokio::spawn(measure(self.store.clone(), self.metrics.clone(), self.cfg.backlog_every, stop.clone()));
        loop {
            if stop.is_cancelled() {
                return;
            }
            let wait = match self.step(&mut lease_renewed).await {
                Ok(step) => {
                    if let Some(t) = failing_since.take() {
                        tracing::info!(after_ms = t.elapsed().as_millis() as u64, "event relay: publishing again");
                    }
                    backoff = Duration::from_millis(100);
                    match step {
                        Step::More => Duration::ZERO,
                        Step::Idle => self.cfg.idle_poll,
                        Step::NotLeader => self.cfg.lease_ttl / 4,
                    }
                }
                Err(e) => {
                    self.metrics.publish_failures.fetch_add(1, Ordering::Relaxed);
                    if failing_since.is_none() {
                        tracing::warn!(error = %e, "event relay: publishing failed; the outbox keeps the events and is retried");
                        failing_since = Some(tokio::time::Instant::now());
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                    backoff
                }
            };
            if !wait.is_zero() {
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = tokio::time::sleep(wait) => {}
                }
            }
        }
    }

    /// One batch: `More` if a full batch went out (more may be waiting).
    async fn step(&self, lease_renewed: &mut Option<tokio::time::Instant>) -> Result<Step, PublishError> {
        let due = lease_renewed.is_none_or(|t| t.elapsed() >= self.cfg.lease_ttl / 3);
        if due {
            let held = self
                .store
                .outbox_lease(&self.cfg.owner, self.cfg.lease_ttl)
                .await
                .map_err(|e| PublishError(format!("outbox lease: {e}")))?;
            if !held {
                *lease_renewed = None;
                return Ok(Step::NotLeader);
            }
            *lease_renewed = Some(tokio::time::Instant::now());
        }
        let rows =
            self.store.outbox_rows(self.cfg.batch).await.map_err(|e| PublishError(format!("outbox read: {e}")))?;
        if rows.is_empty() {
            return Ok(Step::Idle);
        }
        self.publisher.publish(&rows).await?;
        let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
        self.store.outbox_remove(&ids).await.map_err(|e| PublishError(format!("outbox remove: {e}")))?;
        self.metrics.published.fetch_add(rows.len() as u64, Ordering::Relaxed);
        Ok(if rows.len() >= self.cfg.batch { Step::More } else { Step::Idle })
    }
}

/// Measures the backlog gauges every `every` until `stop`.
async fn measure(store: Arc<dyn MetadataStore>, metrics: Arc<OutboxMetrics>, every: Duration, stop: CancellationToken) {
    loop {
        match store.outbox_backlog().await {
            Ok(b) => {
                metrics.backlog.store(b.rows, Ordering::Relaxed);
                let age = b.oldest_ms.map_or(0, |t| (now_ms() - t).max(0));
                metrics.oldest_age_ms.store(age, Ordering::Relaxed);
            }
            Err(e) => tracing::debug!(error = %e, "event relay: backlog unknown"),
        }
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(every) => {}
        }
    }
}

enum Step {
    More,
    Idle,
    NotLeader,
}

/// Most events the buffer holds while the database refuses appends; past it, new ones are
/// dropped and counted (`cloudstore_events_dropped_total`).
pub const BUFFER_CAP: usize = 100_000;

/// Buffered appends of events that describe no state change (see the crate docs).
#[derive(Debug, Clone)]
pub struct EventBuffer {
    inner: Arc<BufferInner>,
}

#[derive(Debug)]
struct BufferInner {
    queue: Mutex<Vec<OutboxEvent>>,
    wake: Notify,
    metrics: Arc<OutboxMetrics>,
}

/// Flush when this many events are waiting, or [`FLUSH_EVERY`] after the first.
pub const FLUSH_AT: usize = 1000;
/// The longest an event waits in the buffer (while the database answers).
pub const FLUSH_EVERY: Duration = Duration::from_millis(100);

impl EventBuffer {
    /// A buffer appending to `store`'s outbox; the flusher runs until `stop`, then flushes
    /// what is left.
    #[must_use]
    pub fn start(store: Arc<dyn MetadataStore>, metrics: Arc<OutboxMetrics>, stop: CancellationToken) -> Self {
        let inner = Arc::new(BufferInner { queue: Mutex::new(Vec::new()), wake: Notify::new(), metrics });
        tokio::spawn(flusher(inner.clone(), store, stop));
        Self { inner }
    }

    /// Queues one event.
    pub fn push(&self, event: OutboxEvent) {
        let mut q = self.inner.queue.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if q.len() >= BUFFER_CAP {
            drop(q);
            self.inner.metrics.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        q.push(event);
        let full = q.len() >= FLUSH_AT;
        drop(q);
        if full {
            self.inner.wake.notify_one();
        }
    }
}

async fn flusher(inner: Arc<BufferInner>, store: Arc<dyn MetadataStore>, stop: CancellationToken) {
    let mut backoff = FLUSH_EVERY;
    let mut failing = false;
    loop {
        let stopping = tokio::select! {
            () = stop.cancelled() => true,
            () = inner.wake.notified() => false,
            () = tokio::time::sleep(backoff) => false,
        };
        let batch = std::mem::take(&mut *inner.queue.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
        if !batch.is_empty() {
            match store.append_events(&batch).await {
                Ok(()) => {
                    inner.metrics.produced.fetch_add(batch.len() as u64, Ordering::Relaxed);
                    if failing {
                        tracing::info!("event buffer: appending again");
                    }
                    failing = false;
                    backoff = FLUSH_EVERY;
                }
                Err(e) => {
                    if !failing {
                        tracing::warn!(error = %e, events = batch.len(), "event buffer: the outbox refused an append; keeping the events and retrying");
                    }
                    failing = true;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                    // Put them back in front, in order, within the cap.
                    let mut q = inner.queue.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                    let newer = std::mem::take(&mut *q);
                    let mut kept = batch;
                    kept.extend(newer);
                    if kept.len() > BUFFER_CAP {
                        let over = kept.len() - BUFFER_CAP;
                        inner.metrics.dropped.fetch_add(over as u64, Ordering::Relaxed);
                        kept.truncate(BUFFER_CAP);
                    }
                    *q = kept;
                    if stopping {
                        return;
                    }
                    continue;
                }
            }
        }
        if stopping {
            return;
        }
    }
}

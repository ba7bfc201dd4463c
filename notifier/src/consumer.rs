//! The Kafka consumer (ADR 0006 §5): a consumer group on the events topic, batches bounded by
//! size and by time, each inserted into ClickHouse through [`ClickHouseSink`], and the
//! batch's offsets committed (synchronously) **only after ClickHouse acknowledged** it.
//!
//! - Auto-commit and the automatic offset store are off: the only offsets ever committed are
//!   the ones computed here, one past the last message of an inserted batch.
//! - A ClickHouse that fails gets the same batch again, with capped backoff, logged once per
//!   episode; nothing is read, committed or dropped meanwhile.
//! - A message that does not decode goes to the dead-letter topic (the reason in a header and
//!   in a JSON envelope with the original bytes in base64, topic, partition and offset) before
//!   the batch's offsets are committed, and the stream continues.
//! - Rebalances: offsets are committed only for partitions this consumer still holds; an
//!   inserted batch of a lost partition is delivered again to its new owner, and the
//!   `event_id` deduplication of the queries makes that harmless.
//! - Shutdown: the batch being read is still inserted (one attempt); if that fails it is
//!   abandoned uncommitted, to be delivered again at the next start.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::future::Future;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use cloudstore_events::Event;
use rdkafka::admin::AdminClient;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{Header, Message, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use rdkafka::util::Timeout;
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::kafka::KafkaLog;
use crate::metrics::Metrics;
use crate::{ClickHouseSink, SinkError};

/// The header of a dead-lettered message that carries the reason.
pub const DEAD_LETTER_REASON_HEADER: &str = "cloudstore-dead-letter-reason";

/// The consumer group used when none is configured.
pub const DEFAULT_GROUP_ID: &str = "cloudstore-notifier";

/// A deliberate crash for fault tests (`CLOUDSTORE_NOTIFIER_FAULT`); never set in production.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// `abort-after-insert`: `std::process::abort()` right after the first batch ClickHouse
    /// acknowledged, before its offsets are committed (a kill -9 between insert and commit).
    AbortAfterInsert,
}

impl FromStr for Fault {
    type Err = ConsumerError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "abort-after-insert" => Ok(Self::AbortAfterInsert),
            other => Err(ConsumerError::Config(format!("unknown fault {other:?} (known: abort-after-insert)"))),
        }
    }
}

/// What the consumer needs. [`ConsumerConfig::new`] gives the defaults.
#[derive(Debug, Clone)]
pub struct ConsumerConfig {
    /// Kafka bootstrap servers, `host:port[,host:port]` (`CLOUDSTORE_KAFKA_BROKERS`).
    pub brokers: String,
    /// The consumer group (default [`DEFAULT_GROUP_ID`]).
    pub group_id: String,
    /// The topic read (default [`cloudstore_events::EVENTS_TOPIC`]).
    pub topic: String,
    /// Where messages that are not events go (default [`cloudstore_events::DEAD_LETTER_TOPIC`]).
    pub dead_letter_topic: String,
    /// Partitions of the two topics when this consumer creates them (default 6).
    pub topic_partitions: i32,
    /// Replication factor of the two topics when this consumer creates them (default 1).
    pub topic_replication: i32,
    /// ClickHouse's HTTP URL (`CLOUDSTORE_CLICKHOUSE_URL`).
    pub clickhouse_url: String,
    /// The ClickHouse database (default `cloudstore`).
    pub clickhouse_database: String,
    /// The `clickhouse` crate's schema validation: off for ClickHouse 18.16, either for a
    /// current release (default off).
    pub clickhouse_validation: bool,
    /// At most this many messages per batch (default 5,000).
    pub max_batch: usize,
    /// A batch is inserted at most this long after its first message arrived (default 250 ms).
    pub max_wait: Duration,
    /// How often the consumer lag is measured (default 5 s).
    pub lag_interval: Duration,
    /// A test hook; `None` in production.
    pub fault: Option<Fault>,
}

impl ConsumerConfig {
    /// The defaults for these brokers and this ClickHouse.
    #[must_use]
    pub fn new(brokers: impl Into<String>, clickhouse_url: impl Into<String>) -> Self {
        Self {
            brokers: brokers.into(),
            group_id: DEFAULT_GROUP_ID.to_owned(),
            topic: cloudstore_events::EVENTS_TOPIC.to_owned(),
            dead_letter_topic: cloudstore_events::DEAD_LETTER_TOPIC.to_owned(),
            topic_partitions: 6,
            topic_replication: 1,
            clickhouse_url: clickhouse_url.into(),
            clickhouse_database: "cloudstore".to_owned(),
            clickhouse_validation: false,
            max_batch: 5_000,
            max_wait: Duration::from_millis(250),
            lag_interval: Duration::from_secs(5),
            fault: None,
        }
    }

    /// The configuration `cloudstore serve` uses to run the consumer in process: `Some` when
    /// both `CLOUDSTORE_KAFKA_BROKERS` and `CLOUDSTORE_CLICKHOUSE_URL` are set (non-empty),
    /// with `CLOUDSTORE_CLICKHOUSE_DATABASE`, `CLOUDSTORE_CLICKHOUSE_VALIDATION`,
    /// `CLOUDSTORE_NOTIFIER_GROUP`, `CLOUDSTORE_NOTIFIER_TOPIC` (else the gateway's
    /// `CLOUDSTORE_EVENTS_TOPIC`) and
    /// `CLOUDSTORE_NOTIFIER_DEAD_LETTER_TOPIC` when set (the `notifier` binary's settings).
    ///
    /// # Errors
    /// [`ConsumerError::Config`] for a value that does not parse.
    pub fn from_env() -> Result<Option<Self>, ConsumerError> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let (Some(brokers), Some(url)) = (var("CLOUDSTORE_KAFKA_BROKERS"), var("CLOUDSTORE_CLICKHOUSE_URL")) else {
            return Ok(None);
        };
        let mut config = Self::new(brokers, url);
        if let Some(db) = var("CLOUDSTORE_CLICKHOUSE_DATABASE") {
            config.clickhouse_database = db;
        }
        if let Some(v) = var("CLOUDSTORE_CLICKHOUSE_VALIDATION") {
            config.clickhouse_validation = parse_bool(&v).ok_or_else(|| {
                ConsumerError::Config(format!("CLOUDSTORE_CLICKHOUSE_VALIDATION: {v:?} is not a boolean"))
            })?;
        }
        if let Some(group) = var("CLOUDSTORE_NOTIFIER_GROUP") {
            config.group_id = group;
        }
        if let Some(topic) = var("CLOUDSTORE_NOTIFIER_TOPIC").or_else(|| var("CLOUDSTORE_EVENTS_TOPIC")) {
            config.topic = topic;
        }
        if let Some(topic) = var("CLOUDSTORE_NOTIFIER_DEAD_LETTER_TOPIC") {
            config.dead_letter_topic = topic;
        }
        config.validate()?;
        Ok(Some(config))
    }

    /// Checks what can be checked without the services.
    ///
    /// # Errors
    /// [`ConsumerError::Config`] naming the first bad value.
    pub fn validate(&self) -> Result<(), ConsumerError> {
        let bad = |m: &str| Err(ConsumerError::Config(m.to_owned()));
        if self.brokers.trim().is_empty() {
            return bad("no Kafka brokers");
        }
        if self.group_id.is_empty() || self.topic.is_empty() || self.dead_letter_topic.is_empty() {
            return bad("empty consumer group or topic name");
        }
        if self.topic == self.dead_letter_topic {
            return bad("the dead-letter topic must differ from the events topic");
        }
        if self.max_batch == 0 || self.max_wait.is_zero() {
            return bad("the batch size and wait must be positive");
        }
        if self.topic_partitions < 1 || self.topic_replication < 1 {
            return bad("topic partitions and replication must be at least 1");
        }
        let db = &self.clickhouse_database;
        if db.is_empty() || !db.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err(ConsumerError::Config(format!(
                "invalid ClickHouse database name {db:?}: letters, digits and _ only"
            )));
        }
        Ok(())
    }
}

/// `true`/`false`, `1`/`0`, `yes`/`no`, `on`/`off`.
#[must_use]
pub fn parse_bool(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Some(true),
        "0" | "false" | "no" | "off" => Some(false),
        _ => None,
    }
}

/// Why the consumer stopped or could not start.
#[derive(Debug, thiserror::Error)]
pub enum ConsumerError {
    /// A setting is wrong.
    #[error("notifier configuration: {0}")]
    Config(String),
    /// Kafka refused a client setting or an operation that is not retried.
    #[error("kafka: {0}")]
    Kafka(#[from] KafkaError),
    /// ClickHouse: an error that is not retried.
    #[error(transparent)]
    Sink(#[from] SinkError),
}

/// The consumer: build with [`Notifier::new`], watch with [`Notifier::metrics`], run with
/// [`Notifier::run`].
#[derive(Debug)]
pub struct Notifier {
    config: ConsumerConfig,
    metrics: Arc<Metrics>,
}

/// Runs the consumer with its own metrics until `shutdown` is cancelled (what `cloudstore
/// serve` calls when Kafka and ClickHouse are configured).
///
/// # Errors
/// See [`Notifier::run`].
pub async fn run(config: ConsumerConfig, shutdown: CancellationToken) -> Result<(), ConsumerError> {
    Notifier::new(config).run(shutdown).await
}

impl Notifier {
    /// A consumer with fresh metrics.
    #[must_use]
    pub fn new(config: ConsumerConfig) -> Self {
        Self { config, metrics: Arc::default() }
    }

    /// The consumer's metrics (shared; render them with [`Metrics::render`]).
    #[must_use]
    pub fn metrics(&self) -> Arc<Metrics> {
        Arc::clone(&self.metrics)
    }

    /// Creates the topics (if missing) and the ClickHouse database and table, then consumes
    /// until `shutdown` is cancelled. Kafka or ClickHouse being down at start, or later, is
    /// waited out (retried with backoff), not an error.
    ///
    /// # Errors
    /// [`ConsumerError::Config`] for bad settings, [`ConsumerError::Kafka`] when a Kafka client
    /// cannot be created or the subscription is refused.
    pub async fn run(self, shutdown: CancellationToken) -> Result<(), ConsumerError> {
        let config = &self.config;
        config.validate()?;
        tracing::info!(
            brokers = %config.brokers,
            group = %config.group_id,
            topic = %config.topic,
            database = %config.clickhouse_database,
            "notifier starting"
        );
        let admin: AdminClient<KafkaLog> = crate::kafka::client_config(&config.brokers)
            .set("client.id", "cloudstore-notifier-admin")
            .create_with_context(KafkaLog::default())?;
        let created = retry("creating the Kafka topics", &shutdown, || create_topics(&admin, config)).await;
        if created.is_none() {
            return Ok(());
        }
        let sink = retry("connecting to ClickHouse", &shutdown, || async {
            match ClickHouseSink::connect(
                &config.clickhouse_url,
                &config.clickhouse_database,
                config.clickhouse_validation,
            )
            .await
            {
                Err(SinkError::BadDatabase(db)) => Ok(Err(SinkError::BadDatabase(db))),
                other => other.map(Ok),
            }
        })
        .await;
        let sink = match sink {
            None => return Ok(()),
            Some(sink) => sink?,
        };

        let consumer: StreamConsumer<KafkaLog> = crate::kafka::client_config(&config.brokers)
            .set("group.id", &config.group_id)
            .set("client.id", "cloudstore-notifier")
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            .set("enable.partition.eof", "false")
            // a fetch waits at most 100 ms for data (librdkafka's 500 ms default doubled the
            // end-to-end lag on Tansu; docs/benchmarks.md "Notifier")
            .set("fetch.wait.max.ms", "100")
            .set("session.timeout.ms", "30000")
            .set("max.poll.interval.ms", "300000")
            .create_with_context(KafkaLog::default())?;
        let consumer = Arc::new(consumer);
        consumer.subscribe(&[config.topic.as_str()])?;
        let producer: FutureProducer<KafkaLog> = crate::kafka::client_config(&config.brokers)
            .set("client.id", "cloudstore-notifier-dead-letter")
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("message.timeout.ms", "30000")
            .set("linger.ms", "5")
            .create_with_context(KafkaLog::default())?;

        let lag = tokio::spawn(measure_lag(
            Arc::clone(&consumer),
            Arc::clone(&self.metrics),
            config.lag_interval,
            shutdown.clone(),
        ));
        let worker = Worker { config, consumer: &consumer, producer: &producer, sink: &sink, metrics: &self.metrics };
        worker.consume(&shutdown).await;
        lag.abort();
        let _ = lag.await;
        // Closing the consumer leaves the group (its partitions go to the others at once);
        // librdkafka's close blocks, so not on a runtime thread.
        let _ = tokio::task::spawn_blocking(move || drop(consumer)).await;
        tracing::info!("notifier stopped");
        Ok(())
    }
}

/// Creates the events and dead-letter topics; both existing already is success.
async fn create_topics(admin: &AdminClient<KafkaLog>, config: &ConsumerConfig) -> Result<(), KafkaError> {
    let topics = [config.topic.as_str(), config.dead_letter_topic.as_str()];
    crate::kafka::ensure_topics(admin, &topics, config.topic_partitions, config.topic_replication).await
}

/// Runs `attempt` until it succeeds, with backoff from 100 ms doubling to 5 s, logging the
/// first failure of an episode as a warning and the recovery as info. `None` when `shutdown`
/// was cancelled before it succeeded.
async fn retry<T, E, F, Fut>(what: &str, shutdown: &CancellationToken, mut attempt: F) -> Option<T>
where
    E: fmt::Display,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let mut backoff = Duration::from_millis(100);
    let mut failures = 0u32;
    loop {
        match attempt().await {
            Ok(v) => {
                if failures > 0 {
                    tracing::info!(failures, "{what}: succeeded again");
                }
                return Some(v);
            }
            Err(e) => {
                if failures == 0 {
                    tracing::warn!(error = %e, "{what} failed; retrying with backoff (logged once)");
                } else {
                    tracing::debug!(error = %e, failures, "{what} failed again");
                }
                failures += 1;
            }
        }
        tokio::select! {
            () = shutdown.cancelled() => return None,
            () = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
}

impl ConsumerContext for KafkaLog {
    fn post_rebalance(&self, _: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        match rebalance {
            Rebalance::Assign(tpl) => tracing::info!(partitions = %describe(tpl), "partitions assigned"),
            Rebalance::Revoke(tpl) => tracing::info!(partitions = %describe(tpl), "partitions revoked"),
            Rebalance::Error(e) => tracing::warn!(error = %e, "rebalance failed"),
        }
    }
}

fn describe(tpl: &TopicPartitionList) -> String {
    let parts: Vec<String> = tpl.elements().iter().map(|e| format!("{}/{}", e.topic(), e.partition())).collect();
    parts.join(",")
}

/// A message that is not an event, as it goes to the dead-letter topic.
#[derive(Debug, Serialize)]
struct DeadLetter {
    reason: String,
    topic: String,
    partition: i32,
    offset: i64,
    /// The message's timestamp (ms), if it had one.
    timestamp: Option<i64>,
    /// The original key, base64.
    key_base64: Option<String>,
    /// The original payload, base64.
    payload_base64: String,
    #[serde(skip)]
    key: Option<Vec<u8>>,
}

/// What one batch read from Kafka holds.
struct Batch {
    events: Vec<Event>,
    dead: Vec<DeadLetter>,
    /// (topic, partition) → the largest offset read.
    offsets: BTreeMap<(String, i32), i64>,
    messages: u64,
    started: Instant,
}

impl Batch {
    fn new() -> Self {
        Self { events: Vec::new(), dead: Vec::new(), offsets: BTreeMap::new(), messages: 0, started: Instant::now() }
    }

    fn add<M: Message>(&mut self, m: &M) {
        if self.messages == 0 {
            self.started = Instant::now();
        }
        self.messages += 1;
        let slot = self.offsets.entry((m.topic().to_owned(), m.partition())).or_insert(m.offset());
        *slot = (*slot).max(m.offset());
        let payload = m.payload().unwrap_or_default();
        let reason = if payload.is_empty() {
            "not a cloudstore event: empty message".to_owned()
        } else {
            match cloudstore_events::decode(payload) {
                Ok(e) => {
                    self.events.push(e);
                    return;
                }
                Err(e) => e.to_string(),
            }
        };
        let b64 = base64::engine::general_purpose::STANDARD;
        tracing::warn!(
            topic = m.topic(),
            partition = m.partition(),
            offset = m.offset(),
            reason = %reason,
            "message is not an event; sending it to the dead-letter topic"
        );
        self.dead.push(DeadLetter {
            reason,
            topic: m.topic().to_owned(),
            partition: m.partition(),
            offset: m.offset(),
            timestamp: m.timestamp().to_millis(),
            key_base64: m.key().map(|k| b64.encode(k)),
            payload_base64: b64.encode(payload),
            key: m.key().map(<[u8]>::to_vec),
        });
    }
}

struct Worker<'a> {
    config: &'a ConsumerConfig,
    consumer: &'a Arc<StreamConsumer<KafkaLog>>,
    producer: &'a FutureProducer<KafkaLog>,
    sink: &'a ClickHouseSink,
    metrics: &'a Metrics,
}

impl Worker<'_> {
    async fn consume(&self, shutdown: &CancellationToken) {
        let mut last_error_log: Option<Instant> = None;
        while !shutdown.is_cancelled() {
            let batch = self.read_batch(shutdown, &mut last_error_log).await;
            if batch.messages == 0 {
                continue;
            }
            self.metrics.count_consumed(batch.messages);
            // After a shutdown (while reading or inserting) each step gets one more attempt;
            // if that fails the batch is abandoned.
            if !self.process(batch, shutdown).await {
                tracing::info!("shutdown: the batch in flight is abandoned uncommitted (it will be delivered again)");
                return;
            }
        }
    }

    /// Reads until the batch is full, `max_wait` after its first message, or shutdown.
    async fn read_batch(&self, shutdown: &CancellationToken, last_error_log: &mut Option<Instant>) -> Batch {
        let mut batch = Batch::new();
        let mut deadline: Option<tokio::time::Instant> = None;
        while batch.events.len() + batch.dead.len() < self.config.max_batch {
            let wait_until = async {
                match deadline {
                    Some(d) => tokio::time::sleep_until(d).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                biased;
                () = shutdown.cancelled() => break,
                () = wait_until => break,
                received = self.consumer.recv() => match received {
                    Ok(m) => {
                        batch.add(&m);
                        if deadline.is_none() {
                            deadline = Some(tokio::time::Instant::now() + self.config.max_wait);
                        }
                    }
                    Err(e) => {
                        // Broker down, rebalance in progress, ...: librdkafka reconnects by
                        // itself; say so every 30 s at most.
                        if last_error_log.is_none_or(|t| t.elapsed() > Duration::from_secs(30)) {
                            tracing::warn!(error = %e, "Kafka consumer error (librdkafka retries; logged every 30 s at most)");
                            *last_error_log = Some(Instant::now());
                        } else {
                            tracing::debug!(error = %e, "Kafka consumer error");
                        }
                    }
                },
            }
        }
        batch
    }

    /// Dead letters, insert, commit. `false` if `stop` cut it short (nothing committed).
    async fn process(&self, batch: Batch, stop: &CancellationToken) -> bool {
        for dead in &batch.dead {
            let sent = retry("sending to the dead-letter topic", stop, || self.send_dead_letter(dead)).await;
            if sent.is_none() {
                return false;
            }
            self.metrics.count_dead_lettered();
        }
        let inserted = retry("inserting into ClickHouse", stop, || async {
            let attempt = tokio::time::timeout(Duration::from_secs(30), self.sink.insert(&batch.events)).await;
            let result = match attempt {
                Ok(r) => r.map_err(|e| e.to_string()),
                Err(_) => Err("no answer from ClickHouse within 30 s".to_owned()),
            };
            if result.is_err() {
                self.metrics.count_insert_failure();
            }
            result
        })
        .await;
        if inserted.is_none() {
            return false;
        }
        self.metrics.count_inserted(batch.events.len() as u64);
        if self.config.fault == Some(Fault::AbortAfterInsert) {
            tracing::error!(events = batch.events.len(), "fault hook abort-after-insert: aborting before the commit");
            std::process::abort();
        }
        self.commit(&batch.offsets).await;
        self.metrics.observe_batch(batch.started.elapsed());
        true
    }

    async fn send_dead_letter(&self, dead: &DeadLetter) -> Result<(), KafkaError> {
        let envelope = serde_json::to_vec(dead).unwrap_or_default();
        let partition = dead.partition.to_string();
        let offset = dead.offset.to_string();
        let headers = OwnedHeaders::new()
            .insert(Header { key: DEAD_LETTER_REASON_HEADER, value: Some(dead.reason.as_bytes()) })
            .insert(Header { key: "cloudstore-original-topic", value: Some(dead.topic.as_bytes()) })
            .insert(Header { key: "cloudstore-original-partition", value: Some(partition.as_bytes()) })
            .insert(Header { key: "cloudstore-original-offset", value: Some(offset.as_bytes()) });
        let mut record = FutureRecord::to(&self.config.dead_letter_topic).payload(&envelope).headers(headers);
        if let Some(key) = &dead.key {
            record = record.key(key);
        }
        self.producer.send(record, Timeout::After(Duration::from_secs(5))).await.map(|_| ()).map_err(|(e, _)| e)
    }

    /// Commits one past the last offset read of each partition still held.
    async fn commit(&self, offsets: &BTreeMap<(String, i32), i64>) {
        let held: HashSet<(String, i32)> = match self.consumer.assignment() {
            Ok(tpl) if !self.consumer.assignment_lost() => {
                tpl.elements().iter().map(|e| (e.topic().to_owned(), e.partition())).collect()
            }
            Ok(_) => HashSet::new(),
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the assignment; not committing this batch");
                self.metrics.count_commit_failure();
                return;
            }
        };
        let mut tpl = TopicPartitionList::new();
        for ((topic, partition), offset) in offsets {
            if !held.contains(&(topic.clone(), *partition)) {
                tracing::info!(topic = %topic, partition, "partition lost during the batch; its offset is not committed");
                continue;
            }
            if let Err(e) = tpl.add_partition_offset(topic, *partition, Offset::Offset(offset + 1)) {
                tracing::warn!(error = %e, "bad offset; not committed");
            }
        }
        if tpl.count() == 0 {
            return;
        }
        let consumer = Arc::clone(self.consumer);
        let result = tokio::task::spawn_blocking(move || consumer.commit(&tpl, CommitMode::Sync)).await;
        match result {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                self.metrics.count_commit_failure();
                tracing::warn!(error = %e, "offset commit failed; the inserted events will be delivered again (deduplicated)");
            }
            Err(e) => {
                self.metrics.count_commit_failure();
                tracing::warn!(error = %e, "offset commit task failed");
            }
        }
    }
}

/// Every `interval`: high watermark − committed offset of each partition held.
async fn measure_lag(
    consumer: Arc<StreamConsumer<KafkaLog>>,
    metrics: Arc<Metrics>,
    interval: Duration,
    shutdown: CancellationToken,
) {
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(interval) => {}
        }
        let c = Arc::clone(&consumer);
        let lag = tokio::task::spawn_blocking(move || -> Result<BTreeMap<(String, i32), i64>, KafkaError> {
            let timeout = Duration::from_secs(2);
            let committed = c.committed_offsets(c.assignment()?, timeout)?;
            let mut lag = BTreeMap::new();
            for e in committed.elements() {
                let (low, high) = c.fetch_watermarks(e.topic(), e.partition(), timeout)?;
                let from = match e.offset() {
                    Offset::Offset(n) => n,
                    _ => low,
                };
                lag.insert((e.topic().to_owned(), e.partition()), (high - from).max(0));
            }
            Ok(lag)
        })
        .await;
        match lag {
            Ok(Ok(lag)) => metrics.set_lag(lag),
            Ok(Err(e)) => tracing::debug!(error = %e, "consumer lag not measured"),
            Err(e) => tracing::debug!(error = %e, "consumer lag task failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_validation() {
        let c = ConsumerConfig::new("127.0.0.1:9092", "http://127.0.0.1:8123");
        assert_eq!((c.group_id.as_str(), c.topic.as_str()), (DEFAULT_GROUP_ID, cloudstore_events::EVENTS_TOPIC));
        assert_eq!((c.max_batch, c.max_wait), (5_000, Duration::from_millis(250)));
        c.validate().expect("defaults are valid");
        let mut bad = c.clone();
        bad.clickhouse_database = "x; DROP".into();
        assert!(matches!(bad.validate(), Err(ConsumerError::Config(_))));
        let mut bad = c.clone();
        bad.dead_letter_topic = bad.topic.clone();
        assert!(bad.validate().is_err());
        let mut bad = c;
        bad.max_batch = 0;
        assert!(bad.validate().is_err());
    }

    #[test]
    fn faults_and_booleans_parse() {
        assert_eq!("abort-after-insert".parse::<Fault>().expect("known"), Fault::AbortAfterInsert);
        assert!("explode".parse::<Fault>().is_err());
        assert_eq!(parse_bool("On"), Some(true));
        assert_eq!(parse_bool("0"), Some(false));
        assert_eq!(parse_bool("maybe"), None);
    }

    #[test]
    fn dead_letters_carry_the_original_bytes_and_where_they_were() {
        let d = DeadLetter {
            reason: "not a cloudstore event: x".into(),
            topic: "t".into(),
            partition: 2,
            offset: 41,
            timestamp: Some(5),
            key_base64: None,
            payload_base64: base64::engine::general_purpose::STANDARD.encode(b"{oops"),
            key: None,
        };
        let v: serde_json::Value = serde_json::from_slice(&serde_json::to_vec(&d).expect("json")).expect("json");
        assert_eq!(v["payload_base64"], "e29vcHM=");
        assert_eq!((v["partition"].as_i64(), v["offset"].as_i64()), (Some(2), Some(41)));
        assert!(v.get("key").is_none());
    }
}

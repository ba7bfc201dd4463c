//! Helpers of the notifier's tests: the real services of the test stack
//! (`source "$(scripts/stack.sh start clickhouse kafka s3)"`), private ClickHouse and Tansu
//! instances for fault tests, the `notifier` binary as a child process, and a producer.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code, unreachable_pub)]

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cloudstore_events::{Event, EventType};
use cloudstore_notifier::ClickHouseSink;
pub use cloudstore_test_services::*;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{FutureProducer, FutureRecord};

pub fn kafka() -> String {
    stack_env("CLOUDSTORE_TEST_KAFKA_BROKERS")
}

pub fn clickhouse() -> String {
    stack_env("CLOUDSTORE_TEST_CLICKHOUSE_URL")
}

/// `n` events of a few types over a few objects, each with a fresh id.
pub fn events(n: usize, tag: &str) -> Vec<Event> {
    let now = now_ms();
    (0..n)
        .map(|i| {
            let t = if i % 3 == 0 { EventType::FileUploaded } else { EventType::FileDownloaded };
            let mut e = Event::new(t, now);
            e.bucket = Some(format!("bucket-{tag}"));
            e.object_key = Some(format!("obj-{}", i % 17));
            e.bytes = Some(i as u64);
            e.status = Some(200);
            e
        })
        .collect()
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}

pub async fn create_topic(brokers: &str, topic: &str, partitions: i32) {
    let admin: AdminClient<DefaultClientContext> =
        ClientConfig::new().set("bootstrap.servers", brokers).create().expect("admin client");
    let t = NewTopic::new(topic, partitions, TopicReplication::Fixed(1));
    for r in admin.create_topics([&t], &AdminOptions::new()).await.expect("create topics") {
        match r {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((t, e)) => panic!("creating topic {t}: {e}"),
        }
    }
}

/// An idempotent producer with acks=all, as the relay's.
pub fn producer(brokers: &str) -> FutureProducer {
    ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", "5")
        .set("message.timeout.ms", "120000")
        .set("queue.buffering.max.messages", "1000000")
        .create()
        .expect("producer")
}

/// A producer that sends every message in a record batch of its own. Tansu 0.6 has a fetch bug
/// (seen here): a fetch from an offset inside a record batch returns the *next* batch, so a
/// consumer resuming from a committed offset that falls mid-batch (after a rebalance or a
/// restart) skips the rest of that batch. Kafka returns the containing batch. Tests that
/// resume from committed offsets of partly consumed batches use this producer, so that every
/// offset is a batch boundary on the test broker.
pub fn producer_unbatched(brokers: &str) -> FutureProducer {
    ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", "0")
        .set("batch.num.messages", "1")
        .set("message.timeout.ms", "120000")
        .set("queue.buffering.max.messages", "1000000")
        .create()
        .expect("producer")
}

/// Publishes `events` (value `Event::encode()`, key `Event::partition_key()`) and waits until
/// the broker acknowledged every one; panics on any failure.
pub async fn produce(producer: &FutureProducer, topic: &str, events: &[Event]) {
    let messages: Vec<(String, Vec<u8>)> = events.iter().map(|e| (e.partition_key(), e.encode())).collect();
    produce_raw(producer, topic, &messages).await;
}

/// Publishes raw (key, payload) pairs and waits for every acknowledgement.
pub async fn produce_raw(producer: &FutureProducer, topic: &str, messages: &[(String, Vec<u8>)]) {
    let mut pending = Vec::with_capacity(messages.len());
    for (key, payload) in messages {
        let mut record = FutureRecord::to(topic).key(key.as_str()).payload(payload.as_slice());
        loop {
            match producer.send_result(record) {
                Ok(delivery) => {
                    pending.push(delivery);
                    break;
                }
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                    record = r;
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                Err((e, _)) => panic!("produce: {e}"),
            }
        }
    }
    for d in pending {
        match d.await {
            Ok(Ok(_)) => {}
            Ok(Err((e, _))) => panic!("delivery failed: {e}"),
            Err(_) => panic!("delivery cancelled"),
        }
    }
}

/// The `notifier` binary running as a child process, killed (SIGKILL) on drop.
pub struct NotifierProcess {
    child: Child,
    pub port: u16,
    pub log: PathBuf,
}

/// What a test's notifier reads and where it writes.
#[derive(Clone)]
pub struct Setup {
    pub brokers: String,
    pub clickhouse: String,
    pub topic: String,
    pub dead_letter_topic: String,
    pub group: String,
    pub database: String,
}

impl Setup {
    /// Fresh topic, group and database names on the test stack's services.
    pub fn fresh() -> Self {
        Self::on(kafka(), clickhouse())
    }

    pub fn on(brokers: String, clickhouse: String) -> Self {
        let u = unique();
        Self {
            brokers,
            clickhouse,
            topic: format!("test.events.{u}"),
            dead_letter_topic: format!("test.events.{u}.dead-letter"),
            group: format!("test-notifier-{u}"),
            database: format!("cs_test_{u}"),
        }
    }

    /// The sink on the test's database (creates it, as the notifier does).
    pub async fn sink(&self) -> ClickHouseSink {
        ClickHouseSink::connect(&self.clickhouse, &self.database, false).await.expect("clickhouse")
    }

    /// Rows of the test's `events` table after deduplication (`FINAL`).
    pub async fn final_rows(&self) -> u64 {
        clickhouse::Client::default()
            .with_url(&self.clickhouse)
            .with_database(&self.database)
            .with_validation(false)
            .query("SELECT count() FROM events FINAL")
            .fetch_one::<u64>()
            .await
            .expect("count FINAL")
    }

    /// Drops the test's database (best effort).
    pub async fn drop_database(&self) {
        let _ = clickhouse::Client::default()
            .with_url(&self.clickhouse)
            .with_validation(false)
            .query(&format!("DROP DATABASE IF EXISTS {}", self.database))
            .execute()
            .await;
    }

    /// Starts the notifier binary on this setup, with `extra` environment.
    pub fn start(&self, extra: &[(&str, &str)]) -> NotifierProcess {
        let port = free_port();
        let dir = std::env::temp_dir().join(format!("cs-notifier-test-{}", unique()));
        std::fs::create_dir_all(&dir).unwrap();
        let log = dir.join("notifier.log");
        let out = std::fs::File::create(&log).unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_notifier"));
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("RUST_LOG", "cloudstore_notifier=debug,notifier=debug,warn")
            .env("CLOUDSTORE_KAFKA_BROKERS", &self.brokers)
            .env("CLOUDSTORE_CLICKHOUSE_URL", &self.clickhouse)
            .env("CLOUDSTORE_CLICKHOUSE_DATABASE", &self.database)
            .env("CLOUDSTORE_NOTIFIER_LISTEN", format!("127.0.0.1:{port}"))
            .env("CLOUDSTORE_NOTIFIER_GROUP", &self.group)
            .env("CLOUDSTORE_NOTIFIER_TOPIC", &self.topic)
            .env("CLOUDSTORE_NOTIFIER_DEAD_LETTER_TOPIC", &self.dead_letter_topic)
            .env("CLOUDSTORE_NOTIFIER_TOPIC_PARTITIONS", "3")
            .env("CLOUDSTORE_NOTIFIER_BATCH_SIZE", "500")
            .env("CLOUDSTORE_NOTIFIER_BATCH_WAIT_MS", "100")
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out);
        for (k, v) in extra {
            cmd.env(k, v);
        }
        let child = cmd.spawn().expect("start the notifier binary");
        NotifierProcess { child, port, log }
    }
}

impl NotifierProcess {
    /// GET `path` on the notifier's listener: (status, body); (0, "") if it does not answer.
    pub fn get(&self, path: &str) -> (u16, String) {
        http_get(self.port, path)
    }

    /// The value of an unlabelled metric.
    pub fn metric(&self, name: &str) -> Option<f64> {
        let (status, body) = self.get("/metrics");
        assert!(status == 200 || status == 0, "/metrics answered {status}");
        body.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
    }

    /// Waits until `/health/ready` answers `want`.
    pub fn wait_ready(&self, want: u16, timeout: Duration) -> String {
        let t0 = Instant::now();
        loop {
            let (status, body) = self.get("/health/ready");
            if status == want {
                return body;
            }
            assert!(
                t0.elapsed() < timeout,
                "/health/ready answered {status} ({body}) for {timeout:?}, waiting for {want}; log:\n{}",
                self.log_tail()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Waits for the process to exit (a crash hook), returning its status.
    pub fn wait_exit(&mut self, timeout: Duration) -> std::process::ExitStatus {
        let t0 = Instant::now();
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s;
            }
            assert!(t0.elapsed() < timeout, "the notifier did not exit within {timeout:?}; log:\n{}", self.log_tail());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGKILL, and reap.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, and the exit status (a graceful stop).
    pub fn terminate(&mut self, timeout: Duration) -> std::process::ExitStatus {
        let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        self.wait_exit(timeout)
    }

    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }
}

impl Drop for NotifierProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if !std::thread::panicking() {
            if let Some(dir) = self.log.parent() {
                let _ = std::fs::remove_dir_all(dir);
            }
        } else {
            eprintln!("notifier log ({}):\n{}", self.log.display(), self.log_tail());
        }
    }
}

/// Polls `count_events` until it reaches `want` or `timeout` passes; returns the last count.
pub async fn wait_count(sink: &ClickHouseSink, want: u64, timeout: Duration) -> u64 {
    let t0 = Instant::now();
    loop {
        let n = sink.count_events(None).await.unwrap_or(0);
        if n >= want || t0.elapsed() > timeout {
            return n;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

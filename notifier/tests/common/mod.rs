//! Helpers of the notifier's tests: the real services of the test stack
//! (`source "$(scripts/stack.sh start clickhouse kafka s3)"`), private ClickHouse and Tansu
//! instances for fault tests, the `notifier` binary as a child process, and a producer.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code, unreachable_pub)]

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cloudstore_events::{Event, EventType};
use cloudstore_notifier::ClickHouseSink;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{FutureProducer, FutureRecord};

/// A variable the test stack sets; without it the test fails (it never skips).
pub fn stack_env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "{name} is not set: start the test stack with `source \"$(scripts/stack.sh start clickhouse kafka s3)\"`"
        )
    })
}

pub fn kafka() -> String {
    stack_env("CLOUDSTORE_TEST_KAFKA_BROKERS")
}

pub fn clickhouse() -> String {
    stack_env("CLOUDSTORE_TEST_CLICKHOUSE_URL")
}

/// A short unique suffix for topic, group and database names.
pub fn unique() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..12].to_owned()
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
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

/// A minimal HTTP/1.0 GET: (status, body); (0, "") when nothing answers.
pub fn http_get(port: u16, path: &str) -> (u16, String) {
    let Ok(mut s) = TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_secs(2)) else {
        return (0, String::new());
    };
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    if s.write_all(format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").as_bytes()).is_err() {
        return (0, String::new());
    }
    let mut buf = String::new();
    if s.read_to_string(&mut buf).is_err() {
        return (0, String::new());
    }
    let status = buf.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = buf.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
    (status, body)
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

// ------------------------------------------------------------------ private services

/// A process started by a test, killed (SIGKILL) on drop.
pub struct Service {
    child: Option<Child>,
    name: &'static str,
    log: PathBuf,
}

impl Service {
    fn spawn(name: &'static str, mut cmd: Command, log: &Path) -> Self {
        let out = std::fs::OpenOptions::new().create(true).append(true).open(log).unwrap();
        cmd.stdin(Stdio::null()).stdout(out.try_clone().unwrap()).stderr(out);
        let child = cmd.spawn().unwrap_or_else(|e| panic!("start {name}: {e}"));
        Self { child: Some(child), name, log: log.to_owned() }
    }

    /// SIGKILL and reap.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM, then SIGKILL after `grace`.
    pub fn stop(&mut self, grace: Duration) {
        if let Some(c) = &mut self.child {
            let _ = Command::new("kill").arg("-TERM").arg(c.id().to_string()).status();
            let t0 = Instant::now();
            while t0.elapsed() < grace {
                if matches!(c.try_wait(), Ok(Some(_))) {
                    self.child = None;
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        self.kill();
    }

    fn alive(&mut self) -> bool {
        self.child.as_mut().is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    fn wait_until(&mut self, timeout: Duration, mut ready: impl FnMut() -> bool) {
        let t0 = Instant::now();
        while !ready() {
            assert!(self.alive(), "{} exited; log:\n{}", self.name, self.log_tail());
            assert!(t0.elapsed() < timeout, "{} not ready after {timeout:?}; log:\n{}", self.name, self.log_tail());
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A ClickHouse of the test's own (config as scripts/stack.sh writes it), on free ports, in a
/// temporary directory removed on drop.
pub struct PrivateClickHouse {
    pub server: Service,
    pub dir: PathBuf,
    pub http_port: u16,
    tcp_port: u16,
}

impl PrivateClickHouse {
    pub fn start() -> Self {
        let dir = std::env::temp_dir().join(format!("cs-test-clickhouse-{}", unique()));
        for d in ["data", "tmp", "user_files", "format_schemas"] {
            std::fs::create_dir_all(dir.join(d)).unwrap();
        }
        let (http_port, tcp_port) = (free_port(), free_port());
        let s = dir.display();
        std::fs::write(
            dir.join("config.xml"),
            format!(
                r#"<?xml version="1.0"?>
<yandex>
    <logger><level>warning</level><log>{s}/server.log</log><errorlog>{s}/server.err.log</errorlog><size>10M</size><count>1</count></logger>
    <http_port>{http_port}</http_port>
    <tcp_port>{tcp_port}</tcp_port>
    <listen_host>127.0.0.1</listen_host>
    <max_connections>256</max_connections>
    <keep_alive_timeout>3</keep_alive_timeout>
    <max_concurrent_queries>50</max_concurrent_queries>
    <mark_cache_size>67108864</mark_cache_size>
    <uncompressed_cache_size>67108864</uncompressed_cache_size>
    <path>{s}/data/</path>
    <tmp_path>{s}/tmp/</tmp_path>
    <user_files_path>{s}/user_files/</user_files_path>
    <format_schema_path>{s}/format_schemas/</format_schema_path>
    <users_config>{s}/users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <timezone>UTC</timezone>
</yandex>
"#
            ),
        )
        .unwrap();
        std::fs::write(
            dir.join("users.xml"),
            r#"<?xml version="1.0"?>
<yandex>
    <profiles><default><max_memory_usage>2000000000</max_memory_usage></default></profiles>
    <users><default><password></password><networks><ip>::/0</ip></networks><profile>default</profile><quota>default</quota></default></users>
    <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors><result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas>
</yandex>
"#,
        )
        .unwrap();
        let server = Self::spawn_server(&dir, http_port);
        Self { server, dir, http_port, tcp_port }
    }

    fn spawn_server(dir: &Path, http_port: u16) -> Service {
        let mut cmd = Command::new("clickhouse-server");
        cmd.arg(format!("--config-file={}", dir.join("config.xml").display()));
        let mut server = Service::spawn("clickhouse-server", cmd, &dir.join("stdout.log"));
        server.wait_until(Duration::from_secs(60), || {
            http_get(http_port, "/ping").1.trim() == "Ok." && http_post_ok(http_port, "SELECT 1")
        });
        server
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.http_port)
    }

    /// Stops it (SIGKILL: what an outage looks like to the notifier).
    pub fn stop(&mut self) {
        self.server.kill();
        assert!(http_get(self.http_port, "/ping").0 == 0, "ClickHouse still answers after the kill");
    }

    /// Starts it again on the same data and ports.
    pub fn restart(&mut self) {
        self.server = Self::spawn_server(&self.dir, self.http_port);
    }
}

impl Drop for PrivateClickHouse {
    fn drop(&mut self) {
        self.server.kill();
        let _ = self.tcp_port;
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

fn http_post_ok(port: u16, sql: &str) -> bool {
    let Ok(mut s) = TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_secs(2)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let req = format!("POST / HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Length: {}\r\n\r\n{sql}", sql.len());
    let mut buf = String::new();
    s.write_all(req.as_bytes()).is_ok()
        && s.read_to_string(&mut buf).is_ok()
        && (buf.starts_with("HTTP/1.0 200") || buf.starts_with("HTTP/1.1 200"))
}

/// The Tansu binary: `CLOUDSTORE_TEST_TANSU_BIN` (the stack's env file sets it), else
/// `$CLOUDSTORE_TOOLS_DIR/bin/tansu` (default tools dir `/var/tmp/cloudstore/tools`).
pub fn tansu_bin() -> PathBuf {
    if let Ok(p) = std::env::var("CLOUDSTORE_TEST_TANSU_BIN") {
        return PathBuf::from(p);
    }
    let tools = std::env::var("CLOUDSTORE_TOOLS_DIR").unwrap_or_else(|_| "/var/tmp/cloudstore/tools".to_owned());
    let p = Path::new(&tools).join("bin/tansu");
    assert!(p.exists(), "no Tansu binary at {} (scripts/stack.sh install kafka builds it)", p.display());
    p
}

/// A Tansu broker of the test's own with durable `s3://` storage in a bucket of its own on the
/// test stack's S3 server (SeaweedFS); the bucket is emptied and removed on drop.
pub struct PrivateTansu {
    pub broker: Service,
    pub port: u16,
    bucket: String,
    dir: PathBuf,
}

impl PrivateTansu {
    pub fn start() -> Self {
        let bucket = format!("tansu-test-{}", unique());
        let code = s3curl(&["-X", "PUT", &format!("{}/{bucket}", s3_endpoint())]);
        assert_eq!(code, "200", "creating bucket {bucket} on the test S3 server");
        let dir = std::env::temp_dir().join(format!("cs-test-tansu-{}", unique()));
        std::fs::create_dir_all(&dir).unwrap();
        let port = free_port();
        let broker = Self::spawn_broker(&dir, port, &bucket);
        Self { broker, port, bucket, dir }
    }

    fn spawn_broker(dir: &Path, port: u16, bucket: &str) -> Service {
        let mut cmd = Command::new(tansu_bin());
        cmd.arg("broker")
            .arg("--listener-url")
            .arg(format!("tcp://127.0.0.1:{port}"))
            .arg("--advertised-listener-url")
            .arg(format!("tcp://127.0.0.1:{port}"))
            .arg("--storage-engine")
            .arg(format!("s3://{bucket}/"))
            .env("AWS_ACCESS_KEY_ID", stack_env("CLOUDSTORE_TEST_S3_ACCESS_KEY"))
            .env("AWS_SECRET_ACCESS_KEY", stack_env("CLOUDSTORE_TEST_S3_SECRET_KEY"))
            .env("AWS_ENDPOINT", s3_endpoint())
            .env("AWS_REGION", "us-east-1")
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .env("AWS_ALLOW_HTTP", "true");
        let mut broker = Service::spawn("tansu", cmd, &dir.join("tansu.log"));
        broker.wait_until(Duration::from_secs(30), || {
            TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_secs(1)).is_ok()
        });
        broker
    }

    pub fn brokers(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Stops the broker (SIGTERM, then SIGKILL).
    pub fn stop(&mut self) {
        self.broker.stop(Duration::from_secs(5));
    }

    /// Starts it again on the same storage and port.
    pub fn restart(&mut self) {
        self.broker = Self::spawn_broker(&self.dir, self.port, &self.bucket);
    }
}

impl Drop for PrivateTansu {
    fn drop(&mut self) {
        self.broker.kill();
        // Empty and remove the bucket: list the keys, delete them, delete the bucket.
        let base = format!("{}/{}", s3_endpoint(), self.bucket);
        for _ in 0..20 {
            let listing = s3curl_body(&["-f", &format!("{base}?list-type=2&max-keys=1000")]);
            let keys: Vec<String> = listing
                .split("<Key>")
                .skip(1)
                .filter_map(|s| s.split_once("</Key>").map(|(k, _)| k.to_owned()))
                .collect();
            if keys.is_empty() {
                break;
            }
            for k in keys {
                let _ = s3curl(&["-X", "DELETE", &format!("{base}/{}", k.replace(' ', "%20"))]);
            }
        }
        let _ = s3curl(&["-X", "DELETE", &base]);
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

fn s3_endpoint() -> String {
    stack_env("CLOUDSTORE_TEST_S3_ENDPOINT")
}

/// curl with SigV4 on the test S3 server; the HTTP status.
fn s3curl(args: &[&str]) -> String {
    let out = Command::new("curl")
        .args([
            "-sS",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "--max-time",
            "20",
            "--aws-sigv4",
            "aws:amz:us-east-1:s3",
        ])
        .arg("--user")
        .arg(format!("{}:{}", stack_env("CLOUDSTORE_TEST_S3_ACCESS_KEY"), stack_env("CLOUDSTORE_TEST_S3_SECRET_KEY")))
        .args(args)
        .output()
        .expect("curl");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn s3curl_body(args: &[&str]) -> String {
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "20", "--aws-sigv4", "aws:amz:us-east-1:s3"])
        .arg("--user")
        .arg(format!("{}:{}", stack_env("CLOUDSTORE_TEST_S3_ACCESS_KEY"), stack_env("CLOUDSTORE_TEST_S3_SECRET_KEY")))
        .args(args)
        .output()
        .expect("curl");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

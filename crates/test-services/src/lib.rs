//! Real services for tests that must stop and start them: a ClickHouse or a Tansu broker of a
//! test's own (on free ports, killed and cleaned up on drop), processes killed on drop, and
//! the test stack's settings (`source "$(scripts/stack.sh start ...)"`). Test support only:
//! a dev-dependency of the crates whose fault tests need it; never a mock.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, unreachable_pub, missing_debug_implementations)]

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A variable the test stack sets; without it the test fails (it never skips).
pub fn stack_env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "{name} is not set: start the test stack with `source \"$(scripts/stack.sh start clickhouse kafka s3)\"`"
        )
    })
}

/// A short unique suffix for topic, group and database names.
pub fn unique() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..12].to_owned()
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
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

// ------------------------------------------------------------------ private services

/// A process started by a test, killed (SIGKILL) on drop.
pub struct Service {
    child: Option<Child>,
    name: &'static str,
    log: PathBuf,
}

impl Service {
    /// Starts `cmd` with its output appended to `log`.
    pub fn spawn(name: &'static str, mut cmd: Command, log: &Path) -> Self {
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

    /// Whether it still runs.
    pub fn alive(&mut self) -> bool {
        self.child.as_mut().is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// The last lines of its log.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// Waits until `ready` (panics if it exits or `timeout` passes).
    pub fn wait_until(&mut self, timeout: Duration, mut ready: impl FnMut() -> bool) {
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

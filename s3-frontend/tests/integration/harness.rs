//! The test harness: a frontend served in-process on `127.0.0.1:0` over one of the two backend
//! sets, an `aws-sdk-s3` client for it, a raw HTTP/1.1 client with a small SigV4 signer for
//! requests the SDK refuses to send, and assertion helpers.

use std::fmt::Debug;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_s3::Client;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use cloudstore_store_api::{BlobStore, MetadataStore};
use s3_frontend::auth::RootCredentials;
use s3_frontend::gc::Collector;
use s3_frontend::metrics::Metrics;
use s3_frontend::s3::GatewayConfig;
use sha2::{Digest as _, Sha256};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

/// The two backend sets every case runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// SQLite + local files in a temporary directory.
    Embedded,
    /// PostgreSQL (a fresh database per test) + the S3 backend (SeaweedFS in tests).
    PostgresS3,
}

fn required_env(name: &str) -> String {
    match std::env::var(name) {
        Ok(v) if !v.is_empty() => v,
        _ => panic!(
            "{name} is not set: the postgres_s3 integration tests need PostgreSQL and an S3 backend. Start them with \
             `source \"$(scripts/stack.sh start postgres s3)\"` (see scripts/README.md), which sets \
             CLOUDSTORE_TEST_POSTGRES_URL and CLOUDSTORE_TEST_S3_ENDPOINT / _ACCESS_KEY / _SECRET_KEY. \
             These tests never skip."
        ),
    }
}

/// A random lowercase hex string of `n` characters.
pub fn random_hex(n: usize) -> String {
    (0..n).map(|_| char::from(b"0123456789abcdef"[usize::from(rand::random::<u8>() % 16)])).collect()
}

/// `url` with its database name replaced by `db`.
fn with_database(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let host_part = match base[scheme_end..].find('/') {
        Some(i) => &base[..scheme_end + i],
        None => base,
    };
    match query {
        Some(q) => format!("{host_part}/{db}?{q}"),
        None => format!("{host_part}/{db}"),
    }
}

/// Creates an empty database next to the one `url` names and returns its URL, so each test
/// has its own metadata (the collector test needs a queue no other test touches).
async fn fresh_database(url: &str) -> String {
    use sqlx::Connection as _;
    let mut conn = sqlx::PgConnection::connect(url)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to CLOUDSTORE_TEST_POSTGRES_URL ({url}): {e}"));
    let name = format!("it_{}", random_hex(16));
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("CREATE DATABASE {name}: {e}"));
    let _ = conn.close().await;
    with_database(url, &name)
}

/// The backend bucket the blobs go to. Fixed, not per run: blob ids are unique UUIDs, so tests
/// and runs can share it, and SeaweedFS gives every new bucket its own volumes (a new bucket
/// per run would exhaust a long-lived test stack's volumes after a few runs).
const BLOB_BUCKET: &str = "cloudstore-it-blobs";

/// A running frontend and everything a case needs to talk to it and look behind it.
pub struct Harness {
    /// The SDK client (path style, us-east-1, default checksum behaviour, no retries).
    pub client: Client,
    /// Where the frontend listens.
    pub addr: SocketAddr,
    /// The root key pair the frontend accepts.
    pub root: RootCredentials,
    /// The metadata store behind the frontend.
    pub meta: Arc<dyn MetadataStore>,
    /// The blob store behind the frontend.
    pub blobs: Arc<dyn BlobStore>,
    /// The IAM service behind the frontend (in process, on the same database).
    pub iam: cloudstore_iam::service::IamService,
    shutdown: CancellationToken,
    server: Option<tokio::task::JoinHandle<()>>,
    _dir: Option<tempfile::TempDir>,
    database: Option<(String, String)>,
    /// The test database's URL (PostgreSQL backends only), for benchmarks that load rows.
    pub pg_url: Option<String>,
    /// The frontend's events (into the outbox), for [`Harness::gateway_with_events`].
    events: Option<s3_frontend::events::Events>,
}

impl Harness {
    /// Opens the stores of `backend` and serves a frontend over them.
    pub async fn start(backend: Backend) -> Self {
        let mut dir = None;
        let mut database = None;
        let mut pg_url = None;
        let iam_store: Arc<dyn cloudstore_iam::store::IamStore>;
        let sessions: Arc<dyn cloudstore_iam::session::SessionStore>;
        let (meta, blobs): (Arc<dyn MetadataStore>, Arc<dyn BlobStore>) = match backend {
            Backend::Embedded => {
                let d = tempfile::tempdir().expect("tempdir");
                let meta = cloudstore_store_sqlite::SqliteMetadataStore::open(&d.path().join("metadata.sqlite"))
                    .await
                    .expect("open sqlite");
                let blobs = cloudstore_blob_fs::FsBlobStore::open(&d.path().join("blobs")).expect("open fs blobs");
                iam_store = Arc::new(
                    cloudstore_iam::store::SqliteIamStore::open(&d.path().join("metadata.sqlite"))
                        .await
                        .expect("open the identity store"),
                );
                sessions = Arc::new(cloudstore_iam::session::MemorySessionStore::new());
                dir = Some(d);
                (Arc::new(meta), Arc::new(blobs))
            }
            Backend::PostgresS3 => {
                let admin_url = required_env("CLOUDSTORE_TEST_POSTGRES_URL");
                let endpoint = required_env("CLOUDSTORE_TEST_S3_ENDPOINT");
                let access_key = required_env("CLOUDSTORE_TEST_S3_ACCESS_KEY");
                let secret_key = required_env("CLOUDSTORE_TEST_S3_SECRET_KEY");
                let url = fresh_database(&admin_url).await;
                let meta =
                    cloudstore_store_pg::PgMetadataStore::connect(&url).await.expect("connect to the test database");
                iam_store =
                    Arc::new(cloudstore_iam::store::PgIamStore::connect(&url).await.expect("open the identity store"));
                let redis = required_env("CLOUDSTORE_TEST_REDIS_URL");
                sessions = Arc::new(
                    cloudstore_iam::session::RedisSessionStore::connect_with_prefix(
                        &redis,
                        &format!("it-{}:", random_hex(12)),
                    )
                    .await
                    .expect("connect to Redis"),
                );
                let blobs = cloudstore_blob_minio::MinioBlobStore::new(
                    &endpoint,
                    &access_key,
                    &secret_key,
                    BLOB_BUCKET,
                    "us-east-1",
                )
                .await
                .expect("open the S3 blob backend");
                pg_url = Some(url.clone());
                database = Some((
                    admin_url,
                    url.rsplit('/').next().unwrap_or_default().split('?').next().unwrap_or_default().to_owned(),
                ));
                (Arc::new(meta), Arc::new(blobs))
            }
        };
        let root = RootCredentials::generate();
        let keyring = cloudstore_iam::crypto::Keyring::new(&[7u8; 32]).expect("keyring");
        let iam = cloudstore_iam::service::IamService::new(
            iam_store,
            sessions,
            keyring,
            cloudstore_iam::service::ServiceConfig {
                events: true,
                ..cloudstore_iam::service::ServiceConfig::default()
            },
        )
        .await
        .expect("start the IAM service");
        // Replaced blobs become collectable at once, so the collector test needs no waiting.
        // Events on, as `cloudstore serve` runs by default; no relay: tests read the outbox.
        let shutdown = CancellationToken::new();
        let outbox = Arc::new(cloudstore_outbox::OutboxMetrics::default());
        let buffer = cloudstore_outbox::EventBuffer::start(meta.clone(), outbox.clone(), shutdown.clone());
        let events = Some(s3_frontend::events::Events::new(buffer, outbox));
        let cfg = GatewayConfig { gc_grace: Duration::ZERO, events: events.clone(), ..GatewayConfig::default() };
        let frontend = s3_frontend::app::frontend(
            meta.clone(),
            blobs.clone(),
            cfg,
            root.clone(),
            &[],
            Arc::new(Metrics::default()),
            Arc::new(cloudstore_iam::api::InProcessIam::new(iam.clone())),
        )
        .expect("build the frontend");
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        let server = tokio::spawn(s3_frontend::server::serve(listener, Arc::new(frontend), shutdown.clone()));
        let client = sdk_client(addr, &root.access_key, &root.secret_key);
        Self {
            client,
            addr,
            root,
            meta,
            blobs,
            iam,
            shutdown,
            server: Some(server),
            _dir: dir,
            database,
            pg_url,
            events,
        }
    }

    /// Stops the server and drops the test database.
    pub async fn finish(mut self) {
        self.shutdown.cancel();
        if let Some(s) = self.server.take() {
            s.abort();
            let _ = s.await;
        }
        if let Some((admin, db)) = self.database.take() {
            use sqlx::Connection as _;
            if let Ok(mut conn) = sqlx::PgConnection::connect(&admin).await {
                let _ = sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)")))
                    .execute(&mut conn)
                    .await;
                let _ = conn.close().await;
            }
        }
    }

    /// A collector over the frontend's stores.
    pub fn collector(&self) -> Collector {
        Collector::new(self.meta.clone(), self.blobs.clone())
    }

    /// A gateway over the frontend's stores (without events), for the lifecycle pass.
    pub fn gateway(&self) -> s3_frontend::s3::Gateway {
        s3_frontend::s3::Gateway::new(self.meta.clone(), self.blobs.clone(), GatewayConfig::default())
    }

    /// A gateway over the frontend's stores writing events as the frontend does (into the
    /// outbox), for the lifecycle pass's events.
    pub fn gateway_with_events(&self) -> s3_frontend::s3::Gateway {
        let cfg = GatewayConfig { events: self.events.clone(), ..GatewayConfig::default() };
        s3_frontend::s3::Gateway::new(self.meta.clone(), self.blobs.clone(), cfg)
    }

    /// Creates a bucket with a unique name starting with `prefix`.
    pub async fn bucket(&self, prefix: &str) -> String {
        let name = format!("{prefix}-{}", random_hex(10));
        self.client
            .create_bucket()
            .bucket(&name)
            .send()
            .await
            .unwrap_or_else(|e| panic!("create bucket {name}: {e:?}"));
        name
    }

    /// PUTs `body` at `bucket/key` with the SDK's defaults; returns the ETag (with quotes).
    pub async fn put(&self, bucket: &str, key: &str, body: impl Into<Vec<u8>>) -> String {
        let out = self
            .client
            .put_object()
            .bucket(bucket)
            .key(key)
            .body(ByteStream::from(body.into()))
            .send()
            .await
            .unwrap_or_else(|e| panic!("put {bucket}/{key}: {e:?}"));
        out.e_tag().expect("etag").to_owned()
    }

    /// GETs `bucket/key` and returns its body.
    pub async fn get(&self, bucket: &str, key: &str) -> Vec<u8> {
        let out = self
            .client
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .unwrap_or_else(|e| panic!("get {bucket}/{key}: {e:?}"));
        out.body.collect().await.expect("read body").into_bytes().to_vec()
    }

    /// Whether `bucket/key` exists (HEAD 200 vs 404).
    pub async fn exists(&self, bucket: &str, key: &str) -> bool {
        match self.client.head_object().bucket(bucket).key(key).send().await {
            Ok(_) => true,
            Err(e) if status_of(&e) == 404 => false,
            Err(e) => panic!("head {bucket}/{key}: {e:?}"),
        }
    }

    /// Every key of `bucket`, through ListObjectsV2 pages.
    pub async fn keys(&self, bucket: &str) -> Vec<String> {
        let mut keys = Vec::new();
        let mut token = None;
        loop {
            let out = self
                .client
                .list_objects_v2()
                .bucket(bucket)
                .set_continuation_token(token.take())
                .send()
                .await
                .unwrap_or_else(|e| panic!("list {bucket}: {e:?}"));
            keys.extend(out.contents().iter().filter_map(|o| o.key().map(str::to_owned)));
            match out.next_continuation_token() {
                Some(t) if out.is_truncated() == Some(true) => token = Some(t.to_owned()),
                _ => return keys,
            }
        }
    }

    /// A signer for raw requests with the root key pair.
    pub fn signer(&self) -> Signer {
        Signer {
            access_key: self.root.access_key.clone(),
            secret_key: self.root.secret_key.clone(),
            region: "us-east-1".into(),
            host: self.addr.to_string(),
        }
    }

    /// Sends a raw request; see [`RawRequest`].
    pub async fn raw(&self, req: RawRequest) -> RawResponse {
        req.send(self.addr).await
    }
}

/// The SDK client for `addr`: path style, us-east-1, the SDK's default checksum behaviour, and
/// no retries (every error surfaces as it is).
pub fn sdk_client(addr: SocketAddr, access_key: &str, secret_key: &str) -> Client {
    sdk_client_with_token(addr, access_key, secret_key, None)
}

/// An SDK client for temporary credentials (with a session token).
pub fn sdk_client_with_token(addr: SocketAddr, access_key: &str, secret_key: &str, token: Option<String>) -> Client {
    let conf = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(format!("http://{addr}"))
        .credentials_provider(Credentials::new(access_key, secret_key, token, None, "integration-tests"))
        .force_path_style(true)
        .retry_config(aws_sdk_s3::config::retry::RetryConfig::disabled())
        .build();
    Client::from_conf(conf)
}

/// The HTTP status of an SDK error (panics if there was no response at all).
pub fn status_of<E: Debug>(e: &SdkError<E, HttpResponse>) -> u16 {
    match e.raw_response() {
        Some(r) => r.status().as_u16(),
        None => panic!("no HTTP response: {e:?}"),
    }
}

/// Asserts that `res` failed with HTTP `status` and (when given) S3 error `code`.
#[track_caller]
pub fn expect_err<T: Debug, E: ProvideErrorMetadata + Debug>(
    res: Result<T, SdkError<E, HttpResponse>>,
    status: u16,
    code: Option<&str>,
) {
    match res {
        Ok(v) => panic!("expected HTTP {status} {code:?}, got success: {v:?}"),
        Err(e) => {
            let got = status_of(&e);
            assert_eq!(got, status, "HTTP status of {e:?}");
            if let Some(code) = code {
                assert_eq!(e.code(), Some(code), "S3 error code of {e:?}");
            }
        }
    }
}

/// `n` deterministic pseudo-random bytes; different `seed`s give different data.
pub fn pattern(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x.to_le_bytes()[0]
        })
        .collect()
}

/// Hex MD5.
pub fn md5_hex(data: &[u8]) -> String {
    hex::encode(md5::Md5::digest(data))
}

/// Base64 of MD5 (a `Content-MD5` value).
pub fn md5_b64(data: &[u8]) -> String {
    b64(&md5::Md5::digest(data))
}

/// Standard base64.
pub fn b64(data: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(data)
}

/// Hex SHA-256.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// `"<etag>"`, as S3 sends ETags.
pub fn quoted(s: &str) -> String {
    format!("\"{s}\"")
}

// ---------------------------------------------------------------------------------------------
// Raw HTTP

/// A raw HTTP/1.1 request, sent on a fresh connection with `Connection: close`.
#[derive(Debug, Clone)]
pub struct RawRequest {
    /// Method.
    pub method: String,
    /// Path, already percent-encoded (`/bucket/key`).
    pub path: String,
    /// Query parameters, already percent-encoded, in the order given.
    pub query: Vec<(String, String)>,
    /// Headers besides `Host`, `Content-Length` and `Connection`.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
    /// Send only this many bytes of the body (with the full `Content-Length`), then close the
    /// sending side.
    pub truncate_at: Option<usize>,
    /// Send from this local address (any of 127.0.0.0/8 reaches the harness): the server sees
    /// another client address.
    pub from: Option<std::net::IpAddr>,
    /// Send the body with `Transfer-Encoding: chunked` (one chunk) instead of `Content-Length`.
    pub chunked: bool,
}

impl RawRequest {
    /// A request with no query, headers or body.
    pub fn new(method: &str, path: &str) -> Self {
        Self {
            method: method.into(),
            path: path.into(),
            query: Vec::new(),
            headers: Vec::new(),
            body: Vec::new(),
            truncate_at: None,
            from: None,
            chunked: false,
        }
    }

    /// Sends from the local address `ip` (e.g. `127.0.0.2`).
    #[must_use]
    pub fn from(mut self, ip: std::net::IpAddr) -> Self {
        self.from = Some(ip);
        self
    }

    /// Adds a query parameter.
    #[must_use]
    pub fn query(mut self, k: &str, v: &str) -> Self {
        self.query.push((k.into(), v.into()));
        self
    }

    /// Adds a header.
    #[must_use]
    pub fn header(mut self, k: &str, v: &str) -> Self {
        self.headers.push((k.into(), v.into()));
        self
    }

    /// Sets the body.
    #[must_use]
    pub fn body(mut self, b: impl Into<Vec<u8>>) -> Self {
        self.body = b.into();
        self
    }

    fn target(&self) -> String {
        if self.query.is_empty() {
            self.path.clone()
        } else {
            let q: Vec<String> = self.query.iter().map(|(k, v)| format!("{k}={v}")).collect();
            format!("{}?{}", self.path, q.join("&"))
        }
    }

    /// Sends the request to `addr` and reads the whole response.
    pub async fn send(self, addr: SocketAddr) -> RawResponse {
        let fut = async {
            let mut stream = match self.from {
                None => TcpStream::connect(addr).await.expect("connect"),
                Some(ip) => {
                    let socket =
                        if ip.is_ipv4() { tokio::net::TcpSocket::new_v4() } else { tokio::net::TcpSocket::new_v6() }
                            .expect("socket");
                    socket.bind(SocketAddr::new(ip, 0)).expect("bind the local address");
                    socket.connect(addr).await.expect("connect")
                }
            };
            let mut head =
                format!("{} {} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n", self.method, self.target());
            if self.chunked {
                head.push_str("Transfer-Encoding: chunked\r\n");
            } else if !self.body.is_empty() || matches!(self.method.as_str(), "PUT" | "POST") {
                head.push_str(&format!("Content-Length: {}\r\n", self.body.len()));
            }
            for (k, v) in &self.headers {
                head.push_str(&format!("{k}: {v}\r\n"));
            }
            head.push_str("\r\n");
            stream.write_all(head.as_bytes()).await.expect("write head");
            let sent = self.truncate_at.unwrap_or(self.body.len()).min(self.body.len());
            // The server may answer (and close) before reading everything: ignore write errors.
            if self.chunked {
                let framed = [format!("{:x}\r\n", sent).as_bytes(), &self.body[..sent], b"\r\n0\r\n\r\n"].concat();
                let _ = stream.write_all(&framed).await;
            } else {
                let _ = stream.write_all(&self.body[..sent]).await;
            }
            if self.truncate_at.is_some() {
                let _ = stream.flush().await;
                let _ = stream.shutdown().await;
            }
            let mut buf = Vec::new();
            // A reset after a complete response is fine; keep what arrived.
            let _ = stream.read_to_end(&mut buf).await;
            RawResponse::parse(&buf)
        };
        // A guard against a hung connection, not a timing assertion.
        tokio::time::timeout(Duration::from_secs(60), fut).await.expect("raw request timed out")
    }
}

/// A parsed raw response. `status` is 0 when the server closed the connection without one.
#[derive(Debug, Clone)]
pub struct RawResponse {
    /// Status code.
    pub status: u16,
    /// Headers, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// The body (de-chunked).
    pub body: Vec<u8>,
}

impl RawResponse {
    fn parse(buf: &[u8]) -> Self {
        let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
            return Self { status: 0, headers: Vec::new(), body: buf.to_vec() };
        };
        let head = String::from_utf8_lossy(&buf[..end]);
        let mut lines = head.split("\r\n");
        let status = lines.next().and_then(|l| l.split(' ').nth(1)).and_then(|s| s.parse().ok()).unwrap_or(0);
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        let mut body = buf[end + 4..].to_vec();
        if headers.iter().any(|(k, v)| k == "transfer-encoding" && v.eq_ignore_ascii_case("chunked")) {
            body = dechunk(&body);
        }
        Self { status, headers, body }
    }

    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The `<Code>` of an S3 error body.
    pub fn code(&self) -> Option<String> {
        let t = self.text();
        let start = t.find("<Code>")? + "<Code>".len();
        let end = t[start..].find("</Code>")? + start;
        Some(t[start..end].to_owned())
    }

    /// Asserts status and error code.
    #[track_caller]
    pub fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(
            (self.status, self.code().as_deref()),
            (status, Some(code)),
            "response: {} {}",
            self.status,
            self.text()
        );
    }
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(nl) = b.windows(2).position(|w| w == b"\r\n") else { return out };
        let size_text = String::from_utf8_lossy(&b[..nl]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16).unwrap_or(0);
        b = &b[nl + 2..];
        if size == 0 || b.len() < size {
            out.extend_from_slice(&b[..size.min(b.len())]);
            return out;
        }
        out.extend_from_slice(&b[..size]);
        b = b.get(size + 2..).unwrap_or_default();
    }
}

// ---------------------------------------------------------------------------------------------
// SigV4 for raw requests

/// Signs raw requests with AWS Signature Version 4 (header auth, service `s3`).
#[derive(Debug, Clone)]
pub struct Signer {
    /// Access key id.
    pub access_key: String,
    /// Secret key.
    pub secret_key: String,
    /// Region of the scope.
    pub region: String,
    /// The `Host` header the request will carry (`send` sends the server's address).
    pub host: String,
}

fn hmac_sha256(key: &[u8], msg: &[u8]) -> [u8; 32] {
    let mut k = [0u8; 64];
    if key.len() > 64 {
        k[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let ipad: Vec<u8> = k.iter().map(|b| b ^ 0x36).collect();
    let opad: Vec<u8> = k.iter().map(|b| b ^ 0x5c).collect();
    let inner = Sha256::new().chain_update(&ipad).chain_update(msg).finalize();
    Sha256::new().chain_update(&opad).chain_update(inner).finalize().into()
}

impl Signer {
    /// Adds `x-amz-date`, `x-amz-content-sha256` (`payload_hash`, else the body's SHA-256) and
    /// `Authorization` to `req`, signed at `at`. Signs `host` and every header of `req`.
    pub fn sign(&self, req: RawRequest, payload_hash: Option<&str>, at: time::OffsetDateTime) -> RawRequest {
        self.sign_service("s3", req, payload_hash, at, false)
    }

    /// Like [`Signer::sign`], dated by a signed `Date` header instead of `x-amz-date` (as
    /// botocore signs when the caller sets `Date`).
    pub fn sign_dated(&self, req: RawRequest, at: time::OffsetDateTime) -> RawRequest {
        self.sign_service("s3", req, None, at, true)
    }

    fn sign_service(
        &self,
        service: &str,
        mut req: RawRequest,
        payload_hash: Option<&str>,
        at: time::OffsetDateTime,
        date_header: bool,
    ) -> RawRequest {
        let amz_date = at
            .format(time::macros::format_description!("[year][month][day]T[hour][minute][second]Z"))
            .expect("format date");
        let date = &amz_date[..8];
        let payload_hash = payload_hash.map_or_else(|| sha256_hex(&req.body), str::to_owned);
        if date_header {
            req.headers.push(("date".into(), httpdate::fmt_http_date(std::time::SystemTime::from(at))));
        } else {
            req.headers.push(("x-amz-date".into(), amz_date.clone()));
        }
        req.headers.push(("x-amz-content-sha256".into(), payload_hash.clone()));

        let mut headers: Vec<(String, String)> =
            req.headers.iter().map(|(k, v)| (k.to_ascii_lowercase(), v.trim().to_owned())).collect();
        headers.push(("host".into(), self.host.clone()));
        headers.sort();
        let signed = headers.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>().join(";");
        let canonical_headers: String = headers.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
        let mut query = req.query.clone();
        query.sort();
        let canonical_query = query.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&");
        let canonical_request =
            format!("{}\n{}\n{canonical_query}\n{canonical_headers}\n{signed}\n{payload_hash}", req.method, req.path);
        let scope = format!("{date}/{}/{service}/aws4_request", self.region);
        let string_to_sign =
            format!("AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}", sha256_hex(canonical_request.as_bytes()));
        let k_date = hmac_sha256(format!("AWS4{}", self.secret_key).as_bytes(), date.as_bytes());
        let k_region = hmac_sha256(&k_date, self.region.as_bytes());
        let k_service = hmac_sha256(&k_region, service.as_bytes());
        let k_signing = hmac_sha256(&k_service, b"aws4_request");
        let signature = hex::encode(hmac_sha256(&k_signing, string_to_sign.as_bytes()));
        req.headers.push((
            "Authorization".into(),
            format!(
                "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed}, Signature={signature}",
                self.access_key
            ),
        ));
        req
    }
}

impl Signer {
    /// `req` as a SigV4 presigned URL made at `at`, valid for `expires` (sent as given, so a
    /// test can send values no SDK would), signing `host` only, as the SDKs do. The caller's
    /// own headers are left unsigned.
    pub fn presign(&self, mut req: RawRequest, expires: &str, at: time::OffsetDateTime) -> RawRequest {
        let amz_date = at
            .format(time::macros::format_description!("[year][month][day]T[hour][minute][second]Z"))
            .expect("format date");
        let date = &amz_date[..8];
        let scope = format!("{date}/{}/s3/aws4_request", self.region);
        for (k, v) in [
            ("X-Amz-Algorithm", "AWS4-HMAC-SHA256".to_owned()),
            ("X-Amz-Credential", format!("{}%2F{}", self.access_key, scope.replace('/', "%2F"))),
            ("X-Amz-Date", amz_date.clone()),
            ("X-Amz-Expires", expires.to_owned()),
            ("X-Amz-SignedHeaders", "host".to_owned()),
        ] {
            req.query.push((k.to_owned(), v));
        }
        let mut query = req.query.clone();
        query.sort();
        let canonical_query = query.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&");
        let canonical_request =
            format!("{}\n{}\n{canonical_query}\nhost:{}\n\nhost\nUNSIGNED-PAYLOAD", req.method, req.path, self.host);
        let string_to_sign =
            format!("AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}", sha256_hex(canonical_request.as_bytes()));
        let k_date = hmac_sha256(format!("AWS4{}", self.secret_key).as_bytes(), date.as_bytes());
        let k_region = hmac_sha256(&k_date, self.region.as_bytes());
        let k_service = hmac_sha256(&k_region, b"s3");
        let k_signing = hmac_sha256(&k_service, b"aws4_request");
        let signature = hex::encode(hmac_sha256(&k_signing, string_to_sign.as_bytes()));
        req.query.push(("X-Amz-Signature".into(), signature));
        req
    }

    /// `req` signed with SigV2 header auth (`Authorization: AWS key:signature`), dated `at`
    /// in its `Date` header. For a request without a query, body or `x-amz-*` headers.
    pub fn sign_v2(&self, mut req: RawRequest, at: time::OffsetDateTime) -> RawRequest {
        use hmac::Mac as _;
        let date = httpdate::fmt_http_date(std::time::SystemTime::from(at));
        let string_to_sign = format!("{}\n\n\n{date}\n{}", req.method, req.path);
        let mut mac = hmac::Hmac::<sha1::Sha1>::new_from_slice(self.secret_key.as_bytes()).expect("hmac key");
        mac.update(string_to_sign.as_bytes());
        let signature = b64(&mac.finalize().into_bytes());
        req.headers.push(("Date".into(), date));
        req.headers.push(("Authorization".into(), format!("AWS {}:{signature}", self.access_key)));
        req
    }
}

impl Signer {
    /// `req` as a SigV2 presigned URL (`AWSAccessKeyId`, `Expires`, `Signature`) valid until
    /// `expires` (unix seconds), made as botocore's `HmacV1QueryAuth` makes it: a session
    /// `token` is signed as an `x-amz-security-token` header and sent as a lower-case query
    /// parameter of that name (`send_token: false` leaves it out of the URL, signed or not).
    /// For a request without a query, body or headers of its own.
    pub fn presign_v2(&self, mut req: RawRequest, expires: i64, token: Option<&str>, send_token: bool) -> RawRequest {
        use hmac::Mac as _;
        let amz = token.map(|t| format!("x-amz-security-token:{t}\n")).unwrap_or_default();
        let string_to_sign = format!("{}\n\n\n{expires}\n{amz}{}", req.method, req.path);
        let mut mac = hmac::Hmac::<sha1::Sha1>::new_from_slice(self.secret_key.as_bytes()).expect("hmac key");
        mac.update(string_to_sign.as_bytes());
        let signature = b64(&mac.finalize().into_bytes());
        let enc = |v: &str| urlencoding::encode(v).into_owned();
        req.query.push(("AWSAccessKeyId".into(), enc(&self.access_key)));
        req.query.push(("Signature".into(), enc(&signature)));
        if let (Some(t), true) = (token, send_token) {
            req.query.push(("x-amz-security-token".into(), enc(t)));
        }
        req.query.push(("Expires".into(), expires.to_string()));
        req
    }
}

// ---------------------------------------------------------------------------------------------
// SigV4 for the other services of the port (IAM, STS and the admin REST calls)

impl Signer {
    /// Like [`Signer::sign`], with credential scope service `service` (`iam`, `sts`) and the
    /// body's SHA-256 as the payload hash.
    pub fn sign_for(&self, service: &str, req: RawRequest, at: time::OffsetDateTime) -> RawRequest {
        self.sign_service(service, req, None, at, false)
    }
}

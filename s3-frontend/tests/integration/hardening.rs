//! Hardening cases that need a server of their own (a umask, settings, a file limit), so they
//! are not in the `suite!`: embedded backends only, loopback only, every wait bounded.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use aws_sdk_s3::primitives::ByteStream;
use clap::Parser as _;
use s3_frontend::{App, ServeArgs};
use tokio_util::sync::CancellationToken;

use crate::harness::sdk_client;

#[derive(clap::Parser)]
struct Cli {
    #[command(flatten)]
    args: ServeArgs,
}

/// Settings as the command line `argv` gives them.
fn serve_args(argv: &[&str]) -> ServeArgs {
    let mut full = vec!["test"];
    full.extend_from_slice(argv);
    Cli::try_parse_from(full).map(|c| c.args).unwrap_or_else(|e| panic!("{e}"))
}

/// Every entry under `dir` (itself included) with its permission bits.
fn modes(dir: &Path) -> Vec<(PathBuf, bool, u32)> {
    use std::os::unix::fs::PermissionsExt as _;
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(p) = todo.pop() {
        let meta = std::fs::symlink_metadata(&p).expect("stat");
        if meta.is_dir() {
            todo.extend(std::fs::read_dir(&p).expect("read_dir").map(|e| e.expect("entry").path()));
        }
        out.push((p, meta.is_dir(), meta.permissions().mode() & 0o777));
    }
    out
}

/// Whatever the umask, the embedded server's data dir is 0700 and every file in it 0600: the
/// SQLite database and its -wal/-shm, blobs, the master key and root credentials. An existing
/// data dir left world-readable is tightened.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_dir_is_private() {
    use std::os::unix::fs::PermissionsExt as _;
    let old_umask = rustix::process::umask(rustix::fs::Mode::empty());
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    std::fs::create_dir(&data).expect("mkdir");
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let args = serve_args(&["--data-dir", data.to_str().expect("utf-8"), "--listen", "127.0.0.1:0"]);
    // As `cloudstore serve` opens them: the IAM service (master key, identity tables in the
    // same SQLite file), then the gateway.
    let iam = cloudstore_iam::config::open(
        &cloudstore_iam::config::IamArgs::default(),
        &cloudstore_iam::config::IdentityDb::Sqlite(data.join("metadata.sqlite")),
        &data,
        cloudstore_iam::service::ServiceConfig::default(),
    )
    .await
    .expect("open the IAM service");
    let app = App::build(&args, Arc::new(cloudstore_iam::api::InProcessIam::new(iam))).await.expect("build");
    let addr = app.listener.local_addr().expect("addr");
    let client = sdk_client(addr, &app.root.0.access_key, &app.root.0.secret_key);
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(app.run(shutdown.clone()));
    client.create_bucket().bucket("private").send().await.expect("create bucket");
    client.put_object().bucket("private").key("k").body(ByteStream::from_static(b"secret")).send().await.expect("put");

    let found = modes(&data);
    rustix::process::umask(old_umask);
    let names: Vec<String> =
        found.iter().filter_map(|(p, _, _)| p.file_name().map(|n| n.to_string_lossy().into_owned())).collect();
    for expected in
        ["metadata.sqlite", "metadata.sqlite-wal", "metadata.sqlite-shm", "master.key", "root-credentials.json"]
    {
        assert!(names.iter().any(|n| n == expected), "no {expected} in {names:?}");
    }
    assert!(found.iter().any(|(p, dir, _)| !dir && p.starts_with(data.join("blobs"))), "no blob file in {found:?}");
    let open: Vec<String> = found
        .iter()
        .filter(|(_, dir, mode)| *mode != if *dir { 0o700 } else { 0o600 })
        .map(|(path, _, mode)| format!("{} {mode:o}", path.display()))
        .collect();
    assert!(open.is_empty(), "not private: {open:#?}");
    shutdown.cancel();
    let _ = tokio::time::timeout(std::time::Duration::from_secs(15), server).await;
}

// ---------------------------------------------------------------------------------------------
// Servers with their own limits, and requests held open

use std::net::SocketAddr;
use std::time::Duration;

use s3_frontend::auth::RootCredentials;
use s3_frontend::server::Limits;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::harness::{Backend, Harness, RawRequest, Signer};

/// A frontend on embedded stores (root key pair only) with `limits`.
struct Dedicated {
    addr: SocketAddr,
    root: RootCredentials,
    dir: tempfile::TempDir,
    shutdown: CancellationToken,
    server: tokio::task::JoinHandle<()>,
}

impl Dedicated {
    async fn start(limits: Limits) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let meta = cloudstore_store_sqlite::SqliteMetadataStore::open(&dir.path().join("metadata.sqlite"))
            .await
            .expect("open sqlite");
        let blobs = cloudstore_blob_fs::FsBlobStore::open(&dir.path().join("blobs")).expect("open fs blobs");
        let root = RootCredentials::generate();
        let frontend = s3_frontend::app::frontend(
            Arc::new(meta),
            Arc::new(blobs),
            s3_frontend::s3::GatewayConfig::default(),
            root.clone(),
            &[],
            Arc::new(s3_frontend::metrics::Metrics::default()),
            Arc::new(s3_frontend::identity::RootOnlyIam),
        )
        .expect("frontend")
        .with_limits(limits);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let shutdown = CancellationToken::new();
        let server = tokio::spawn(s3_frontend::server::serve(listener, Arc::new(frontend), shutdown.clone()));
        Self { addr, root, dir, shutdown, server }
    }

    fn signer(&self) -> Signer {
        Signer {
            access_key: self.root.access_key.clone(),
            secret_key: self.root.secret_key.clone(),
            region: "us-east-1".into(),
            host: self.addr.to_string(),
        }
    }

    /// `req` signed by root, payload unsigned.
    fn signed(&self, req: RawRequest) -> RawRequest {
        self.signer().sign(req, Some("UNSIGNED-PAYLOAD"), time::OffsetDateTime::now_utc())
    }

    async fn finish(self) {
        self.shutdown.cancel();
        let _ = tokio::time::timeout(Duration::from_secs(15), self.server).await;
    }
}

/// Sends the head of `req` declaring a body of `len` bytes, and none of the body; the
/// connection stays open.
async fn send_head(addr: SocketAddr, req: &RawRequest, len: usize) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let target = if req.query.is_empty() {
        req.path.clone()
    } else {
        let q: Vec<String> = req.query.iter().map(|(k, v)| format!("{k}={v}")).collect();
        format!("{}?{}", req.path, q.join("&"))
    };
    let mut head = format!("{} {target} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {len}\r\n", req.method);
    for (k, v) in &req.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await.expect("write head");
    stream
}

/// The status and text of what the server sends on `stream` within `wait` (status 0: nothing).
async fn response<R: tokio::io::AsyncRead + Unpin>(stream: &mut R, wait: Duration) -> (u16, String) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let _ = tokio::time::timeout(wait, async {
        loop {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    buf.extend_from_slice(&chunk[..n]);
                    // An error body is small and complete once its closing tag arrives.
                    if buf.windows(8).any(|w| w == b"</Error>") || buf.windows(4).any(|w| w == b"ok\n") {
                        break;
                    }
                }
            }
        }
    })
    .await;
    let text = String::from_utf8_lossy(&buf).into_owned();
    let status = text.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, text)
}

/// Whether the server closed `stream` within `wait`.
async fn closed(stream: &mut TcpStream, wait: Duration) -> bool {
    let mut b = [0u8; 1];
    matches!(tokio::time::timeout(wait, stream.read(&mut b)).await, Ok(Ok(0) | Err(_)))
}

/// Bodies the gateway reads whole are checked and authorized before a byte is read: a
/// declared size over the limit is a 400, a stranger's DeleteObjects a 403, and when the
/// bytes held for such bodies across requests reach the budget, a 503 SlowDown.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whole_read_bodies_are_bounded_and_authorized_first() {
    let h = Harness::start(Backend::Embedded).await;
    let b = h.bucket("xml").await;
    let now = time::OffsetDateTime::now_utc;
    let signed = |req: RawRequest| h.signer().sign(req, Some("UNSIGNED-PAYLOAD"), now());
    let wait = Duration::from_secs(10);

    // Over the limit, declared: refused without reading (no body is ever sent here).
    let policy = signed(RawRequest::new("PUT", &format!("/{b}")).query("policy", ""));
    let (status, text) = response(&mut send_head(h.addr, &policy, 21 << 20).await, wait).await;
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("<Code>MaxMessageLengthExceeded</Code>"), "{text}");
    let delete = || signed(RawRequest::new("POST", &format!("/{b}")).query("delete", ""));
    let (status, text) = response(&mut send_head(h.addr, &delete(), 9 << 20).await, wait).await;
    assert_eq!((status, text.contains("MaxMessageLengthExceeded")), (400, true), "{text}");

    // Another account's root, and the bucket has no policy: nothing could allow it.
    let (_, key) = h.iam.admin_create_account("stranger", None, None, &Default::default()).await.expect("account");
    let stranger = Signer { access_key: key.access_key_id.clone(), secret_key: key.secret.0.clone(), ..h.signer() };
    let req =
        stranger.sign(RawRequest::new("POST", &format!("/{b}")).query("delete", ""), Some("UNSIGNED-PAYLOAD"), now());
    let (status, text) = response(&mut send_head(h.addr, &req, 1000).await, wait).await;
    assert_eq!(status, 403, "{text}");
    assert!(text.contains("<Code>AccessDenied</Code>"), "{text}");

    // The budget: 8 bodies of the largest size, announced and not sent, hold all of it.
    let max = usize::try_from(s3_frontend::xml_body::MAX_XML_BODY).expect("usize");
    let holders = s3_frontend::xml_body::XML_BODY_BUDGET / max;
    let mut held = Vec::new();
    for _ in 0..holders {
        held.push(send_head(h.addr, &delete(), max).await);
    }
    // Each is authorized (and holds its share) once the server has read its head.
    let mut refused = (0, String::new());
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        refused = response(&mut send_head(h.addr, &delete(), 100).await, Duration::from_secs(2)).await;
        if refused.0 == 503 {
            break;
        }
    }
    assert_eq!(refused.0, 503, "{}", refused.1);
    assert!(refused.1.contains("<Code>SlowDown</Code>"), "{}", refused.1);
    drop(held);
    // Given back when those requests end.
    let mut ok = false;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let r = h
            .client
            .delete_objects()
            .bucket(&b)
            .delete(
                aws_sdk_s3::types::Delete::builder()
                    .objects(aws_sdk_s3::types::ObjectIdentifier::builder().key("k").build().expect("id"))
                    .build()
                    .expect("delete"),
            )
            .send()
            .await;
        if r.is_ok() {
            ok = true;
            break;
        }
    }
    assert!(ok, "DeleteObjects still refused after the holders left");
    h.finish().await;
}

/// At the connection cap a new connection closes an idle one; when all are busy, health
/// checks still answer from the reserve and S3 requests get 503 SlowDown.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_are_capped_idle_ones_shed_first() {
    let limits = Limits { max_connections: 4, health_reserve: 2, ..Limits::default() };
    let d = Dedicated::start(limits).await;
    let wait = Duration::from_secs(5);
    let ok = d.signed(RawRequest::new("PUT", "/capped")).send(d.addr).await;
    assert_eq!(ok.status, 200, "{}", ok.text());

    let mut idle = Vec::new();
    for _ in 0..limits.max_connections {
        idle.push(TcpStream::connect(d.addr).await.expect("connect"));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let list = d.signed(RawRequest::new("GET", "/")).send(d.addr).await;
    assert_eq!(list.status, 200, "{}", list.text());
    // The longest-idle connection made room.
    assert!(closed(&mut idle[0], wait).await, "the oldest idle connection is still open");
    drop(idle);

    // Every connection busy: a request each, its body not sent.
    let mut busy = Vec::new();
    for i in 0..limits.max_connections {
        let put = d.signed(RawRequest::new("PUT", &format!("/capped/k{i}")));
        busy.push(send_head(d.addr, &put, 10).await);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let health = RawRequest::new("GET", "/health/live").send(d.addr).await;
    assert_eq!((health.status, health.text().as_str()), (200, "ok\n"));
    let refused = d.signed(RawRequest::new("GET", "/")).send(d.addr).await;
    refused.assert_error(503, "SlowDown");
    for s in &mut busy {
        assert!(!closed(s, Duration::from_millis(10)).await, "a busy connection was closed");
    }
    drop(busy);
    d.finish().await;
}

/// A body sending a byte every 2 s fails after the idle timeout (1 s here) with 400
/// RequestTimeout, and nothing is stored: for a streamed body (PutObject) and one s3s reads
/// whole (DeleteObjects).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trickling_bodies_time_out_and_store_nothing() {
    let limits = Limits { body_idle_timeout: Duration::from_secs(1), ..Limits::default() };
    let d = Dedicated::start(limits).await;
    let ok = d.signed(RawRequest::new("PUT", "/slow")).send(d.addr).await;
    assert_eq!(ok.status, 200, "{}", ok.text());

    for req in [RawRequest::new("PUT", "/slow/k"), RawRequest::new("POST", "/slow").query("delete", "")] {
        let mut s = send_head(d.addr, &d.signed(req.clone()), 100).await;
        let (mut rd, mut wr) = s.split();
        let trickle = async {
            for _ in 0..10 {
                if wr.write_all(b"x").await.is_err() {
                    break;
                }
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
            std::future::pending::<()>().await;
        };
        // Bounded: without a timeout the server would wait for the rest forever.
        let (status, text) = tokio::select! {
            r = response(&mut rd, Duration::from_secs(20)) => r,
            () = trickle => (0, String::new()),
        };
        assert_eq!(status, 400, "{} {}: {text}", req.method, req.path);
        assert!(text.contains("<Code>RequestTimeout</Code>"), "{text}");
    }
    let head = d.signed(RawRequest::new("HEAD", "/slow/k")).send(d.addr).await;
    assert_eq!(head.status, 404);
    let stored: Vec<_> = modes(&d.dir.path().join("blobs")).into_iter().filter(|(_, dir, _)| !dir).collect();
    assert!(stored.is_empty(), "{stored:?}");
    d.finish().await;
}

/// A client that stops reading a streamed response holds its connection only until the cap is
/// reached and it has read nothing for the idle timeout: then it is dropped for a new client.
/// Until then the reserve answers exactly the health checks, nothing else.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_readers_are_shed_at_the_cap() {
    let limits = Limits { max_connections: 1, health_reserve: 2, body_idle_timeout: Duration::from_secs(1) };
    let d = Dedicated::start(limits).await;
    let created = d.signed(RawRequest::new("PUT", "/stall")).send(d.addr).await;
    assert_eq!(created.status, 200, "{}", created.text());
    let big = vec![7u8; 32 << 20];
    let put = d.signed(RawRequest::new("PUT", "/stall/big").body(big.clone())).send(d.addr).await;
    assert_eq!(put.status, 200, "{}", put.text());

    // A GET whose reader never reads past the first bytes.
    let get = d.signed(RawRequest::new("GET", "/stall/big"));
    let mut stalled = send_head(d.addr, &get, 0).await;
    let mut first = [0u8; 64];
    stalled.read_exact(&mut first).await.expect("the response starts");
    // At the cap, streaming but not yet stalled: the reserve answers health checks only.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let health = RawRequest::new("GET", "/health/live").send(d.addr).await;
    assert_eq!(health.status, 200, "{}", health.text());
    let not_health = d.signed(RawRequest::new("PUT", "/health/x").body("x")).send(d.addr).await;
    not_health.assert_error(503, "SlowDown");

    // Past the idle timeout the stalled reader makes room for a new client.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let list = d.signed(RawRequest::new("GET", "/")).send(d.addr).await;
    assert_eq!(list.status, 200, "{}", list.text());
    // The stalled connection was dropped: reading it ends before the whole object.
    let mut got = first.len();
    let mut buf = vec![0u8; 1 << 20];
    let read_all = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match stalled.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got += n,
            }
        }
    })
    .await;
    assert!(read_all.is_ok(), "the stalled connection is still open");
    assert!(got < big.len(), "the whole object arrived ({got} bytes): the connection was not dropped");
    d.finish().await;
}

//! The metadata conformance suite against a real PostgreSQL, plus Postgres-specific checks.
//!
//! Needs `CLOUDSTORE_TEST_POSTGRES_URL` (e.g. `postgres://postgres@127.0.0.1:55433/postgres`);
//! without it the tests fail: a suite that silently skips is a defect. Runs can repeat against
//! one database (every run uses fresh names and cleans up).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use cloudstore_store_api::testkit::object;
use cloudstore_store_api::{BlobId, Bucket, DeleteCondition, MetadataStore, ObjectMeta, StoreError, WriteCondition};
use cloudstore_store_pg::PgMetadataStore;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgSslMode};
use time::{Duration, OffsetDateTime};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};

fn url() -> String {
    match std::env::var("CLOUDSTORE_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => url,
        _ => panic!(
            "CLOUDSTORE_TEST_POSTGRES_URL is not set: the Postgres conformance suite needs a server \
             (see BACKENDS.md, e.g. postgres://postgres@127.0.0.1:55433/postgres); it never skips"
        ),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_metadata_conformance() {
    let store = PgMetadataStore::connect(&url()).await.expect("connect to CLOUDSTORE_TEST_POSTGRES_URL");
    cloudstore_store_api::testkit::metadata_suite(Arc::new(store)).await;
}

#[tokio::test]
async fn key_columns_use_the_c_collation() {
    let url = url();
    // Migrations ran (or run now), so the schema is there.
    let _store = PgMetadataStore::connect(&url).await.expect("connect");
    let pool = sqlx::PgPool::connect(&url).await.expect("connect");
    let rows: Vec<(String, String, Option<String>)> = sqlx::query_as(
        "SELECT table_name::text, column_name::text, collation_name::text FROM information_schema.columns \
         WHERE table_schema = current_schema() AND (table_name, column_name) IN \
         (('objects', 'bucket'), ('objects', 'key'), ('uploads', 'key'), ('uploads', 'upload_id'), ('buckets', 'name'))",
    )
    .fetch_all(&pool)
    .await
    .expect("query the schema");
    assert_eq!(rows.len(), 5, "{rows:?}");
    for (table, column, collation) in rows {
        assert_eq!(collation.as_deref(), Some("C"), "{table}.{column} must be COLLATE \"C\"");
    }
}

#[tokio::test]
async fn unreachable_server_is_unavailable() {
    // Nothing listens on port 1.
    match PgMetadataStore::connect("postgres://postgres@127.0.0.1:1/postgres").await {
        Err(StoreError::Unavailable(_)) => {}
        other => panic!("expected Unavailable, got {other:?}"),
    }
}

/// A TCP proxy in front of the test server that counts the statements its clients send (the
/// protocol's Query `Q` and Execute `E` messages) and their round trips (Sync `S` messages, each
/// of which the client waits on, and simple Queries). A statement's first use on a connection
/// adds a Parse round trip; sqlx's pool adds a bare Sync (a ping) whenever a connection goes
/// back to it.
struct StatementCounter {
    addr: SocketAddr,
    statements: Arc<AtomicUsize>,
    round_trips: Arc<AtomicUsize>,
}

impl StatementCounter {
    async fn start() -> Self {
        let server: PgConnectOptions = url().parse().expect("parse CLOUDSTORE_TEST_POSTGRES_URL");
        let upstream = format!("{}:{}", server.get_host(), server.get_port());
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the proxy");
        let addr = listener.local_addr().expect("proxy address");
        let statements = Arc::new(AtomicUsize::new(0));
        let round_trips = Arc::new(AtomicUsize::new(0));
        let counter = Counters { statements: Arc::clone(&statements), round_trips: Arc::clone(&round_trips) };
        tokio::spawn(async move {
            loop {
                let (client, _) = listener.accept().await.expect("accept");
                let server = TcpStream::connect(&upstream).await.expect("connect to the server");
                let (client_read, mut client_write) = client.into_split();
                let (mut server_read, server_write) = server.into_split();
                tokio::spawn(forward_counting(client_read, server_write, counter.clone()));
                tokio::spawn(async move { tokio::io::copy(&mut server_read, &mut client_write).await });
            }
        });
        Self { addr, statements, round_trips }
    }

    /// A store whose one connection goes through the proxy.
    async fn store(&self) -> PgMetadataStore {
        let options: PgConnectOptions = url().parse().expect("parse CLOUDSTORE_TEST_POSTGRES_URL");
        // No TLS, so that the proxy reads plain messages.
        let options = options.host("127.0.0.1").port(self.addr.port()).ssl_mode(PgSslMode::Disable);
        let pool = PgPoolOptions::new().max_connections(1).connect_with(options).await.expect("connect via the proxy");
        PgMetadataStore::from_pool(pool).await.expect("migrate")
    }

    /// The result of `op` and how many statements it sent.
    async fn count<T>(&self, op: impl Future<Output = T>) -> (T, usize) {
        let (out, statements, _) = self.count_both(op).await;
        (out, statements)
    }

    /// The result of `op`, how many statements it sent and how many round trips it made,
    /// including any the pool makes in the background once `op` is done.
    async fn count_both<T>(&self, op: impl Future<Output = T>) -> (T, usize, usize) {
        let (s0, r0) = (self.statements.load(Ordering::SeqCst), self.round_trips.load(Ordering::SeqCst));
        let out = op.await;
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let (s1, r1) = (self.statements.load(Ordering::SeqCst), self.round_trips.load(Ordering::SeqCst));
        (out, s1 - s0, r1 - r0)
    }
}

#[derive(Clone)]
struct Counters {
    statements: Arc<AtomicUsize>,
    round_trips: Arc<AtomicUsize>,
}

/// Forwards a client's bytes to the server, counting its Query and Execute messages. The first
/// message (StartupMessage) has no type byte; every later one is a type byte, then a length
/// that counts itself. A message is counted before its last byte is forwarded, so before the
/// server can answer it.
async fn forward_counting(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, counters: Counters) {
    let mut chunk = vec![0u8; 64 * 1024];
    let mut unparsed: Vec<u8> = Vec::new();
    let mut startup = true;
    loop {
        let n = match from.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        unparsed.extend_from_slice(&chunk[..n]);
        loop {
            let at = usize::from(!startup);
            let Some(len) = unparsed.get(at..at + 4) else { break };
            let len = u32::from_be_bytes(len.try_into().expect("four bytes"));
            let end = at + usize::try_from(len).expect("message length");
            if unparsed.len() < end {
                break;
            }
            if !startup && matches!(unparsed[0], b'Q' | b'E') {
                counters.statements.fetch_add(1, Ordering::SeqCst);
            }
            if !startup && matches!(unparsed[0], b'Q' | b'S') {
                counters.round_trips.fetch_add(1, Ordering::SeqCst);
            }
            startup = false;
            unparsed.drain(..end);
        }
        if to.write_all(&chunk[..n]).await.is_err() {
            break;
        }
    }
    let _ = to.shutdown().await;
}

/// Creates a bucket named `prefix` plus a fresh id, and returns its name.
async fn new_bucket(store: &PgMetadataStore, prefix: &str) -> String {
    let name = format!("{prefix}-{}", BlobId::generate().as_str());
    let record = Bucket {
        name: name.clone(),
        owner: "suite-owner".to_owned(),
        region: "us-east-1".to_owned(),
        created_at: OffsetDateTime::now_utc(),
        policy: None,
        notification: None,
        cors: None,
        public_access_block: None,
        tagging: None,
        lifecycle: None,
        acl: None,
        object_ownership: None,
        encryption: None,
        versioning: None,
        object_lock: None,
    };
    store.create_bucket(&record, &[]).await.expect("create_bucket");
    name
}

/// `put_object` is one statement (so one round trip, in autocommit), whatever its outcome; the
/// semantics themselves are the conformance suite's.
#[tokio::test]
async fn put_object_is_one_statement() {
    let proxy = StatementCounter::start().await;
    let store = proxy.store().await;
    let grace = Duration::minutes(15);
    let bucket = new_bucket(&store, "cst-rt").await;
    let pending = |n: usize| {
        let blobs: Vec<BlobId> = (0..n).map(|_| BlobId::generate()).collect();
        let store = store.clone();
        async move {
            store.register_blobs(&blobs, OffsetDateTime::now_utc() + Duration::hours(1)).await.expect("register_blobs");
            blobs
        }
    };
    let plain = WriteCondition::default();
    let create_only = WriteCondition { if_match: None, if_none_match: true };

    let b = pending(3).await;
    let first = object(&bucket, "k", &b[0..1]);
    let (r, n) = proxy.count(store.put_object(&first, &plain, grace, &[])).await;
    assert!(matches!((r, n), (Ok(()), 1)), "new key: {n} statements");
    let second = object(&bucket, "k", &b[1..2]);
    let if_match = WriteCondition { if_match: Some(first.etag.clone()), if_none_match: false };
    let (r, n) = proxy.count(store.put_object(&second, &if_match, grace, &[])).await;
    assert!(matches!((r, n), (Ok(()), 1)), "overwrite: {n} statements");
    let (r, n) = proxy.count(store.put_object(&object(&bucket, "k", &b[2..3]), &create_only, grace, &[])).await;
    assert!(matches!((r, n), (Err(StoreError::PreconditionFailed), 1)), "If-None-Match on an existing key: {n}");
    let (r, n) = proxy.count(store.put_object(&object(&bucket, "k2", &[BlobId::generate()]), &plain, grace, &[])).await;
    assert!(matches!((r, n), (Err(StoreError::BlobReclaimed), 1)), "unregistered blob: {n} statements");
    let (r, n) =
        proxy.count(store.put_object(&object(&format!("{bucket}-gone"), "k", &b[2..3]), &plain, grace, &[])).await;
    assert!(matches!((r, n), (Err(StoreError::NoSuchBucket), 1)), "missing bucket: {n} statements");
    assert_eq!(store.get_object(&bucket, "k").await.expect("get_object"), Some(second.clone()));

    // Once a statement is prepared on the connection, the hot path costs one round trip each:
    // no ping when the connection is handed back.
    let (r, n, trips) = proxy.count_both(store.get_object(&bucket, "k")).await;
    assert_eq!((r.expect("get_object"), n, trips), (Some(second.clone()), 1, 1), "get_object");
    let more = pending(2).await;
    let (r, n, trips) = proxy.count_both(store.register_blobs(&more[..1], OffsetDateTime::now_utc())).await;
    assert!(matches!((r, n, trips), (Ok(()), 1, 1)), "register_blobs: {n} statements, {trips} round trips");
    let third = object(&bucket, "k", &more[1..2]);
    let (r, n, trips) = proxy.count_both(store.put_object(&third, &plain, grace, &[])).await;
    assert!(matches!((r, n, trips), (Ok(()), 1, 1)), "put_object: {n} statements, {trips} round trips");
    store.abandon_blobs(&more[..1]).await.expect("abandon_blobs");

    store
        .delete_object(&bucket, "k", &DeleteCondition::default(), grace, &|_| Vec::new())
        .await
        .expect("delete_object");
    store.abandon_blobs(&b[2..]).await.expect("abandon_blobs");
    store.delete_bucket(&bucket, &[]).await.expect("delete_bucket");
}

/// The hot path's own connections (handed back without a ping) recover when the server drops
/// them all, as in a restart: a read is retried on a new connection and clears the dead idle
/// ones, so the writes after it work too.
#[tokio::test]
async fn hot_connections_recover_when_the_server_drops_them() {
    let app = format!("cst-hot-{}", BlobId::generate().as_str());
    let sep = if url().contains('?') { '&' } else { '?' };
    let store = PgMetadataStore::connect(&format!("{}{sep}application_name={app}", url())).await.expect("connect");
    let grace = Duration::minutes(15);
    let bucket = new_bucket(&store, "cst-hot").await;
    let put = async |key: &str| {
        let blob = BlobId::generate();
        store.register_blobs(std::slice::from_ref(&blob), OffsetDateTime::now_utc() + Duration::hours(1)).await?;
        let obj = object(&bucket, key, std::slice::from_ref(&blob));
        store.put_object(&obj, &WriteCondition::default(), grace, &[]).await.map(|()| obj)
    };
    let first = put("a").await.expect("put a");
    assert_eq!(store.get_object(&bucket, "a").await.expect("get a"), Some(first.clone()));

    let admin = sqlx::PgPool::connect(&url()).await.expect("connect");
    let killed: Vec<(bool,)> =
        sqlx::query_as("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1")
            .bind(&app)
            .fetch_all(&admin)
            .await
            .expect("terminate the store's connections");
    assert!(killed.len() >= 2, "the store had {} connections", killed.len());

    assert_eq!(store.get_object(&bucket, "a").await.expect("get a after the drop"), Some(first));
    let second = put("b").await.expect("put b after the drop");
    assert_eq!(store.get_object(&bucket, "b").await.expect("get b"), Some(second));

    for key in ["a", "b"] {
        store
            .delete_object(&bucket, key, &DeleteCondition::default(), grace, &|_| Vec::new())
            .await
            .expect("delete_object");
    }
    store.delete_bucket(&bucket, &[]).await.expect("delete_bucket");
}

/// Concurrent reads share statements, and each still gets its own row: every key (present,
/// missing, asked several times) answers exactly as a lone read would.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_reads_share_statements_and_get_their_own_rows() {
    let proxy = StatementCounter::start().await;
    let store = proxy.store().await;
    let grace = Duration::minutes(15);
    let bucket = new_bucket(&store, "cst-batch").await;
    let mut written = Vec::new();
    for i in 0..20 {
        let blob = BlobId::generate();
        store
            .register_blobs(std::slice::from_ref(&blob), OffsetDateTime::now_utc() + Duration::hours(1))
            .await
            .expect("register");
        let obj = object(&bucket, &format!("k{i:02}"), std::slice::from_ref(&blob));
        store.put_object(&obj, &WriteCondition::default(), grace, &[]).await.expect("put_object");
        written.push(obj);
    }
    // 200 reads at once: each of the 20 keys 8 times, and 40 reads of missing keys.
    let reads = (0..200).map(|i| {
        let store = store.clone();
        let key = if i < 160 { format!("k{:02}", i % 20) } else { format!("missing{i}") };
        let bucket = bucket.clone();
        async move { (key.clone(), store.get_object(&bucket, &key).await.expect("get_object")) }
    });
    let (results, statements) = proxy.count(futures::future::join_all(reads)).await;
    for (key, got) in results {
        let want = written.iter().find(|o| o.key == key).cloned();
        assert_eq!(got, want, "{key}");
    }
    assert!(statements < 200, "200 concurrent reads took {statements} statements");

    for o in &written {
        store
            .delete_object(&bucket, &o.key, &DeleteCondition::default(), grace, &|_| Vec::new())
            .await
            .expect("delete_object");
    }
    store.delete_bucket(&bucket, &[]).await.expect("delete_bucket");
}

/// Pending blob ids, registered.
async fn registered(store: &PgMetadataStore, n: usize) -> Vec<BlobId> {
    let blobs: Vec<BlobId> = (0..n).map(|_| BlobId::generate()).collect();
    store.register_blobs(&blobs, OffsetDateTime::now_utc() + Duration::hours(1)).await.expect("register_blobs");
    blobs
}

/// Which of `blobs` have a row in `blob_gc` (pending or queued for collection).
async fn in_blob_gc(blobs: &[BlobId]) -> Vec<bool> {
    let admin = sqlx::PgPool::connect(&url()).await.expect("connect");
    let mut found = Vec::new();
    for b in blobs {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM blob_gc WHERE blob = $1")
            .bind(b.as_str())
            .fetch_one(&admin)
            .await
            .expect("read blob_gc");
        found.push(n == 1);
    }
    found
}

/// Concurrent PUTs share commits (group commit), and each gets the outcome it would have had
/// alone: refused ones write nothing and leave their blobs pending, the others are live, and
/// an object replaced inside a batch has its blob queued for collection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_puts_share_commits_and_get_their_own_outcomes() {
    let proxy = StatementCounter::start().await;
    let store = proxy.store().await;
    let grace = Duration::minutes(15);
    let bucket = new_bucket(&store, "cst-gc").await;
    let taken = object(&bucket, "taken", &registered(&store, 1).await);
    store.put_object(&taken, &WriteCondition::default(), grace, &[]).await.expect("put taken");

    let plain = WriteCondition::default();
    let create_only = WriteCondition { if_match: None, if_none_match: true };
    let mut puts = Vec::new();
    for (i, b) in registered(&store, 20).await.into_iter().enumerate() {
        puts.push(("fresh", object(&bucket, &format!("p{i:02}"), &[b]), plain.clone()));
    }
    for b in registered(&store, 10).await {
        puts.push(("race", object(&bucket, "race", &[b]), create_only.clone()));
    }
    for b in registered(&store, 5).await {
        puts.push(("taken", object(&bucket, "taken", &[b]), create_only.clone()));
    }
    for _ in 0..5 {
        puts.push(("unregistered", object(&bucket, "u", &[BlobId::generate()]), plain.clone()));
    }
    for b in registered(&store, 5).await {
        puts.push(("no-bucket", object(&format!("{bucket}-gone"), "k", &[b]), plain.clone()));
    }
    for b in registered(&store, 5).await {
        puts.push(("same", object(&bucket, "same", &[b]), plain.clone()));
    }
    let n = puts.len();
    let runs = puts.iter().map(|(_, obj, cond)| store.put_object(obj, cond, grace, &[]));
    let (results, statements) = proxy.count(futures::future::join_all(runs)).await;
    assert!(statements < n, "{n} concurrent PUTs took {statements} statements");

    let mut race_winners = Vec::new();
    for ((kind, obj, _), result) in puts.iter().zip(results) {
        match (*kind, result) {
            ("fresh" | "same", Ok(())) => {}
            ("race", Ok(())) => race_winners.push(obj.clone()),
            ("race" | "taken", Err(StoreError::PreconditionFailed)) => {}
            ("unregistered", Err(StoreError::BlobReclaimed)) => {}
            ("no-bucket", Err(StoreError::NoSuchBucket)) => {}
            (kind, other) => panic!("{kind} PUT of {}: {other:?}", obj.key),
        }
    }
    assert_eq!(race_winners.len(), 1, "If-None-Match: exactly one winner");
    let winner = race_winners.pop().expect("one winner");
    assert_eq!(store.get_object(&bucket, "race").await.expect("get race"), Some(winner.clone()));
    assert_eq!(store.get_object(&bucket, "taken").await.expect("get taken"), Some(taken.clone()));
    assert_eq!(store.get_object(&bucket, "u").await.expect("get u"), None);
    for (kind, obj, _) in puts.iter().filter(|(kind, _, _)| *kind == "fresh") {
        assert_eq!(store.get_object(&bucket, &obj.key).await.expect("get"), Some(obj.clone()), "{kind}");
    }
    // "same": one of the five is live; the other four were replaced, their blobs queued.
    let live = store.get_object(&bucket, "same").await.expect("get same").expect("same exists");
    let same: Vec<&ObjectMeta> = puts.iter().filter(|(k, _, _)| *k == "same").map(|(_, o, _)| o).collect();
    assert!(same.iter().any(|o| **o == live), "the live object is one of the PUTs");
    let blobs = |objs: &[&ObjectMeta]| -> Vec<BlobId> { objs.iter().map(|o| o.parts[0].blob.clone()).collect() };
    let queued = in_blob_gc(&blobs(&same)).await;
    for (o, q) in same.iter().zip(queued) {
        assert_eq!(q, **o != live, "blob of a 'same' PUT: queued unless live");
    }
    // Refused PUTs leave their blobs pending; written ones cleared theirs.
    let refused: Vec<&ObjectMeta> = puts
        .iter()
        .filter(|(k, o, _)| matches!(*k, "taken" | "no-bucket") || (*k == "race" && *o != winner))
        .map(|(_, o, _)| o)
        .collect();
    assert!(in_blob_gc(&blobs(&refused)).await.iter().all(|q| *q), "refused PUTs keep their blobs pending");
    let fresh: Vec<&ObjectMeta> = puts.iter().filter(|(k, _, _)| *k == "fresh").map(|(_, o, _)| o).collect();
    assert!(in_blob_gc(&blobs(&fresh)).await.iter().all(|q| !*q), "written PUTs cleared their pending blobs");

    let mut keys: Vec<String> = fresh.iter().map(|o| o.key.clone()).collect();
    keys.extend(["race", "taken", "same"].map(str::to_owned));
    for key in keys {
        store
            .delete_object(&bucket, &key, &DeleteCondition::default(), grace, &|_| Vec::new())
            .await
            .expect("delete_object");
    }
    store.delete_bucket(&bucket, &[]).await.expect("delete_bucket");
}

/// Two gateways (two stores, each batching its own PUTs) writing the same keys at once in
/// opposite orders: batches lock rows in key order, so none deadlocks and every PUT succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overlapping_put_batches_do_not_deadlock() {
    let a = PgMetadataStore::connect(&url()).await.expect("connect a");
    let b = PgMetadataStore::connect(&url()).await.expect("connect b");
    let grace = Duration::minutes(15);
    let bucket = new_bucket(&a, "cst-order").await;
    let keys: Vec<String> = (0..8).map(|i| format!("k{i}")).collect();
    let plain = WriteCondition::default();
    for round in 0..5 {
        let mut puts = Vec::new();
        for (store, reversed) in [(&a, false), (&b, true)] {
            let blobs = registered(store, keys.len() * 4).await;
            for (i, blob) in blobs.into_iter().enumerate() {
                let k = i % keys.len();
                let key = if reversed { &keys[keys.len() - 1 - k] } else { &keys[k] };
                puts.push((store, object(&bucket, key, &[blob])));
            }
        }
        let results =
            futures::future::join_all(puts.iter().map(|(store, obj)| store.put_object(obj, &plain, grace, &[]))).await;
        for ((_, obj), r) in puts.iter().zip(results) {
            assert!(r.is_ok(), "round {round}, {}: {r:?}", obj.key);
        }
    }
    for key in &keys {
        a.delete_object(&bucket, key, &DeleteCondition::default(), grace, &|_| Vec::new())
            .await
            .expect("delete_object");
    }
    a.delete_bucket(&bucket, &[]).await.expect("delete_bucket");
}

/// One item the server refuses (a NUL byte, which PostgreSQL text cannot hold) fails alone:
/// the batch is refused as a whole, rolled back, and every item runs again on its own.
/// Current-thread runtime: all the requests queue before the batch statement takes them.
#[tokio::test]
async fn a_refused_item_fails_alone() {
    let proxy = StatementCounter::start().await;
    let store = proxy.store().await;
    let grace = Duration::minutes(15);
    let bucket = new_bucket(&store, "cst-refused").await;
    let mut objects = Vec::new();
    for (i, b) in registered(&store, 11).await.into_iter().enumerate() {
        let key = if i == 5 { "bad\0key".to_owned() } else { format!("k{i:02}") };
        objects.push(object(&bucket, &key, &[b]));
    }
    let plain = WriteCondition::default();
    let (results, statements) =
        proxy.count(futures::future::join_all(objects.iter().map(|o| store.put_object(o, &plain, grace, &[])))).await;
    assert!(statements > objects.len(), "one batch, then each alone: {statements} statements");
    for (o, r) in objects.iter().zip(&results) {
        if o.key.contains('\0') {
            assert!(matches!(r, Err(StoreError::Backend(_))), "NUL key: {r:?}");
        } else {
            assert!(r.is_ok(), "{}: {r:?}", o.key);
        }
    }
    // Reads the same way: the NUL key's read fails, the others get their rows.
    let (reads, statements) =
        proxy.count(futures::future::join_all(objects.iter().map(|o| store.get_object(&bucket, &o.key)))).await;
    assert!(statements > objects.len(), "one batch, then each alone: {statements} statements");
    for (o, r) in objects.iter().zip(reads) {
        if o.key.contains('\0') {
            assert!(r.is_err(), "NUL key read: {r:?}");
        } else {
            assert_eq!(r.expect("read"), Some(o.clone()));
        }
    }
    for o in objects.iter().filter(|o| !o.key.contains('\0')) {
        store
            .delete_object(&bucket, &o.key, &DeleteCondition::default(), grace, &|_| Vec::new())
            .await
            .expect("delete_object");
    }
    store.abandon_blobs(std::slice::from_ref(&objects[5].parts[0].blob)).await.expect("abandon");
    store.delete_bucket(&bucket, &[]).await.expect("delete_bucket");
}

/// `put_objects` takes each item's blobs as a run of its blob arrays, so they must come grouped
/// by item, in item order (as the batcher sends them). Blobs in any other order refuse the
/// whole batch: nothing is written and every registration stays pending.
#[tokio::test]
async fn put_objects_refuses_blobs_out_of_item_order() {
    let store = PgMetadataStore::connect(&url()).await.expect("connect");
    let bucket = new_bucket(&store, "cst-order-check").await;
    let blobs = registered(&store, 2).await;
    let admin = sqlx::PgPool::connect(&url()).await.expect("connect");
    let call = |items: Vec<i32>| {
        sqlx::query_scalar::<_, Vec<i32>>(
            "SELECT put_objects($1, $2, $3, $4, $5, $6, $6, $6, $6, $6, $6, $7, $6, $6, $6, $8, $9, $7, $10, \
             $11, $6, $12, $5)",
        )
        .bind(vec![bucket.clone(), bucket.clone()])
        .bind(vec!["a", "b"])
        .bind(vec![10_i64, 10])
        .bind(vec!["\"e\"", "\"e\""])
        .bind(vec![0_i64, 0])
        .bind(vec![None::<String>, None])
        .bind(vec!["{}", "{}"])
        .bind(vec!["[]", "[]"])
        .bind(vec![None::<i32>, None])
        .bind(vec![blobs[0].as_str(), blobs[1].as_str()])
        .bind(items)
        .bind(vec![false, false])
        .fetch_one(&admin)
    };
    let refused = call(vec![2, 1]).await.expect_err("blobs out of item order");
    assert!(refused.to_string().contains("must group the blobs by item"), "{refused}");
    assert_eq!(store.get_object(&bucket, "a").await.expect("get a"), None);
    assert_eq!(store.get_object(&bucket, "b").await.expect("get b"), None);
    assert_eq!(in_blob_gc(&blobs).await, [true, true], "registrations stay pending");
    // The same batch in order is written.
    assert_eq!(call(vec![1, 2]).await.expect("in order"), [0, 0]);
    assert_eq!(in_blob_gc(&blobs).await, [false, false], "written: registrations cleared");
    for key in ["a", "b"] {
        store
            .delete_object(&bucket, key, &DeleteCondition::default(), Duration::minutes(15), &|_| Vec::new())
            .await
            .expect("delete_object");
    }
    store.delete_bucket(&bucket, &[]).await.expect("delete_bucket");
}

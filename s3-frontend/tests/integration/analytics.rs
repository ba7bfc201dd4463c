//! `GET /_api/v1/analytics/...` through the gateway's port, over a local event store filled
//! with events of two accounts: who may ask (anonymous and bad tokens refused, an account's
//! principals see their account only, an IAM user needs `cloudstore:GetAnalytics`, the
//! platform admin sees all), and what the answers hold.

use std::net::SocketAddr;
use std::sync::Arc;

use cloudstore_events::{Event, EventType};
use cloudstore_iam::Audit;
use cloudstore_iam::store::{InlinePolicy, OwnerKind, User};
use cloudstore_notifier::LocalEventStore;
use s3_frontend::auth::RootCredentials;
use s3_frontend::metrics::Metrics;
use s3_frontend::s3::GatewayConfig;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::harness::{RawRequest, Signer, random_hex};

const API: &str = "/_api/v1";
const PASSWORD: &str = "correct-horse-9";
const DAY: i64 = 86_400_000;

struct Server {
    addr: SocketAddr,
    root: RootCredentials,
    iam: cloudstore_iam::service::IamService,
    events: LocalEventStore,
    shutdown: CancellationToken,
    _dir: tempfile::TempDir,
}

impl Server {
    /// The embedded backend set with analytics from a local event store.
    async fn start() -> Self {
        let d = tempfile::tempdir().expect("tempdir");
        let meta = cloudstore_store_sqlite::SqliteMetadataStore::open(&d.path().join("metadata.sqlite"))
            .await
            .expect("open sqlite");
        let blobs = cloudstore_blob_fs::FsBlobStore::open(&d.path().join("blobs")).expect("blobs");
        let iam_store = Arc::new(
            cloudstore_iam::store::SqliteIamStore::open(&d.path().join("metadata.sqlite")).await.expect("iam store"),
        );
        let sessions = Arc::new(cloudstore_iam::session::MemorySessionStore::new());
        let keyring = cloudstore_iam::crypto::Keyring::new(&[7u8; 32]).expect("keyring");
        let iam = cloudstore_iam::service::IamService::new(
            iam_store,
            sessions,
            keyring,
            cloudstore_iam::service::ServiceConfig::default(),
        )
        .await
        .expect("iam service");
        let events = LocalEventStore::open(&d.path().join("events.sqlite")).await.expect("event store");
        let root = RootCredentials::generate();
        let frontend = s3_frontend::app::frontend(
            Arc::new(meta),
            Arc::new(blobs),
            GatewayConfig::default(),
            root.clone(),
            &[],
            Arc::new(Metrics::default()),
            Arc::new(cloudstore_iam::api::InProcessIam::new(iam.clone())),
        )
        .expect("frontend")
        .with_analytics(Arc::new(events.clone()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let shutdown = CancellationToken::new();
        tokio::spawn(s3_frontend::server::serve(listener, Arc::new(frontend), shutdown.clone()));
        Self { addr, root, iam, events, shutdown, _dir: d }
    }

    fn signer(&self, access_key: &str, secret_key: &str) -> Signer {
        Signer {
            access_key: access_key.into(),
            secret_key: secret_key.into(),
            region: "us-east-1".into(),
            host: self.addr.to_string(),
        }
    }

    fn admin(&self) -> Signer {
        self.signer(&self.root.access_key, &self.root.secret_key)
    }

    async fn send(&self, req: RawRequest) -> (u16, Value) {
        let resp = req.send(self.addr).await;
        let text = resp.text();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        if !text.is_empty() {
            assert_eq!(resp.header("content-type"), Some("application/json"), "{} {text}", resp.status);
        }
        (resp.status, body)
    }

    /// `GET /_api/v1/analytics/{q}` with a bearer token.
    async fn bearer(&self, token: &str, q: &str) -> (u16, Value) {
        self.send(get(q).header("Authorization", &format!("Bearer {token}"))).await
    }

    /// `GET /_api/v1/analytics/{q}` signed by `signer`.
    async fn signed(&self, signer: &Signer, q: &str) -> (u16, Value) {
        self.send(signer.sign_for("iam", get(q), time::OffsetDateTime::now_utc())).await
    }

    /// Registers `name` (an account and its root user); returns (account id, access token).
    async fn account(&self, name: &str) -> (String, String) {
        let body = json!({ "username": name, "password": PASSWORD }).to_string();
        let post = |path: &str| {
            RawRequest::new("POST", &format!("{API}{path}"))
                .header("Content-Type", "application/json")
                .body(body.clone())
        };
        let (s, profile) = self.send(post("/auth/register")).await;
        assert_eq!(s, 201, "{profile}");
        let (s, tokens) = self.send(post("/auth/login")).await;
        assert_eq!(s, 200, "{tokens}");
        (
            profile["account_id"].as_str().expect("account_id").to_owned(),
            tokens["access_token"].as_str().expect("token").to_owned(),
        )
    }

    /// An IAM user of `account` with an access key, and optionally an inline policy.
    async fn user(&self, account: &str, policy: Option<Value>) -> (User, Signer) {
        let u = User {
            id: cloudstore_iam::ids::unique_id("AIDA"),
            account_id: account.to_owned(),
            name: format!("u{}", random_hex(6)),
            path: "/".into(),
            is_root: false,
            email: None,
            display_name: None,
            password_hash: None,
            created_at: 0,
            presigned_not_before: None,
        };
        self.iam.store().create_user(&u, &[]).await.expect("create user");
        if let Some(doc) = policy {
            let p = InlinePolicy { name: "analytics".into(), document: doc.to_string() };
            self.iam.store().put_inline_policy(OwnerKind::User, &u.id, &p, &[]).await.expect("policy");
        }
        let key = self.iam.create_access_key(&u, Audit::none()).await.expect("key");
        let signer = self.signer(&key.access_key_id, &key.secret.0);
        (u, signer)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// `GET /_api/v1/analytics/{q}` where `q` may carry a query string.
fn get(q: &str) -> RawRequest {
    let (path, query) = q.split_once('?').unwrap_or((q, ""));
    let mut req = RawRequest::new("GET", &format!("{API}/analytics/{path}"));
    for kv in query.split('&').filter(|s| !s.is_empty()) {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        req = req.query(k, v);
    }
    req
}

fn error_code(v: &Value) -> &str {
    v["error"]["code"].as_str().unwrap_or_else(|| panic!("not an error document: {v}"))
}

/// Downloads, uploads and denials of `account` in bucket `bucket`, by `principal`.
fn events_of(account: &str, bucket: &str, access_key: &str, now: i64) -> Vec<Event> {
    let mut out = Vec::new();
    for (i, t) in [
        EventType::FileUploaded,
        EventType::FileDownloaded,
        EventType::FileDownloaded,
        EventType::AccessDenied,
        EventType::FileDownloaded,
    ]
    .into_iter()
    .enumerate()
    {
        let mut e = Event::new(t.clone(), now - DAY + i64::try_from(i).unwrap_or(0) * 1000);
        e.account_id = Some(account.into());
        e.user_id = Some(format!("U{account}"));
        e.principal_arn = Some(format!("arn:aws:iam::{account}:root"));
        e.access_key = Some(access_key.into());
        e.bucket = Some(bucket.into());
        e.object_key = Some(if i == 4 { "b.txt".into() } else { "a.txt".into() });
        e.bytes = Some(100);
        e.source_ip = Some("10.0.0.7".into());
        if t == EventType::AccessDenied {
            e.detail.insert("action".into(), "s3:DeleteObject".into());
        }
        out.push(e);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn analytics_are_each_accounts_own_and_the_admins_whole() {
    let s = Server::start().await;
    let (alice, alice_token) = s.account(&format!("alice{}", random_hex(6))).await;
    let (bob, bob_token) = s.account(&format!("bob{}", random_hex(6))).await;
    let now = time::OffsetDateTime::now_utc().unix_timestamp() * 1000;
    let mut events = events_of(&alice, "alice-photos", "AKIAALICEUSED", now);
    events.extend(events_of(&bob, "bob-docs", "AKIABOBUSED", now));
    s.events.insert(&events).await.expect("events");

    // Nobody, a forged token, a wrong signature: refused, and nothing of the data shown.
    let (st, v) = s.send(get("top-objects")).await;
    assert_eq!((st, error_code(&v)), (401, "Unauthorized"), "{v}");
    let (st, v) = s.bearer("not-a-token", "top-objects").await;
    assert_eq!(st, 401, "{v}");
    assert!(v.get("rows").is_none());
    let (st, v) = s.signed(&s.signer(&s.root.access_key, "wrong-secret"), "top-objects").await;
    assert_eq!((st, error_code(&v)), (403, "SignatureDoesNotMatch"), "{v}");
    let (st, v) = s.signed(&s.signer("AKIANOSUCHKEY0000000", "x"), "top-objects").await;
    assert_eq!(st, 403, "{v}");

    // Each account sees its own only, whatever it asks.
    let (st, v) = s.bearer(&alice_token, "top-objects").await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["account_id"], alice.as_str());
    assert_eq!(
        v["rows"],
        json!([
            { "bucket": "alice-photos", "key": "a.txt", "downloads": 2, "bytes": 200 },
            { "bucket": "alice-photos", "key": "b.txt", "downloads": 1, "bytes": 100 },
        ])
    );
    for q in [
        "traffic?group_by=bucket",
        "traffic?group_by=account",
        "top-principals",
        "denied",
        "object-history?bucket=bob-docs&key=a.txt",
    ] {
        let (st, v) = s.bearer(&alice_token, q).await;
        assert_eq!(st, 200, "{q}: {v}");
        assert!(!v.to_string().contains(&bob) && !v.to_string().contains("bob-docs"), "{q}: alice sees bob's: {v}");
    }
    let (_, v) = s.bearer(&alice_token, "object-history?bucket=bob-docs&key=a.txt").await;
    assert_eq!(v["rows"], json!([]));
    // Asking for another account is refused, by token and by signature.
    let (st, v) = s.bearer(&alice_token, &format!("top-objects?account={bob}")).await;
    assert_eq!((st, error_code(&v)), (403, "AccessDenied"), "{v}");
    let (st, v) = s.bearer(&bob_token, "denied").await;
    assert_eq!(st, 200);
    assert_eq!(v["rows"][0]["action"], "s3:DeleteObject");
    assert_eq!(v["rows"][0]["principal_arn"], format!("arn:aws:iam::{bob}:root"));
    assert_eq!(v["rows"].as_array().map(Vec::len), Some(1));

    // An IAM user of alice's account: refused without the permission, its account only with it.
    let (_, plain) = s.user(&alice, None).await;
    let (st, v) = s.signed(&plain, "top-objects").await;
    assert_eq!((st, error_code(&v)), (403, "AccessDenied"), "{v}");
    let allow = json!({ "Version": "2012-10-17", "Statement": [
        { "Effect": "Allow", "Action": "cloudstore:GetAnalytics", "Resource": "*" } ] });
    let (_, analyst) = s.user(&alice, Some(allow)).await;
    let (st, v) = s.signed(&analyst, "traffic?group_by=account").await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(
        v["rows"],
        json!([{ "day": v["rows"][0]["day"], "group": alice, "uploads": 1, "upload_bytes": 100,
                 "downloads": 3, "download_bytes": 300 }])
    );
    let (st, v) = s.signed(&analyst, &format!("traffic?account={bob}")).await;
    assert_eq!((st, error_code(&v)), (403, "AccessDenied"), "{v}");
    // An S3-only policy does not grant analytics.
    let s3_only = json!({ "Version": "2012-10-17", "Statement": [
        { "Effect": "Allow", "Action": "s3:*", "Resource": "*" } ] });
    let (_, s3user) = s.user(&alice, Some(s3_only)).await;
    let (st, _) = s.signed(&s3user, "top-objects").await;
    assert_eq!(st, 403);

    // The platform admin sees every account, or the one asked for.
    let (st, v) = s.signed(&s.admin(), "traffic?group_by=account").await;
    assert_eq!(st, 200, "{v}");
    let groups: Vec<&str> = v["rows"].as_array().expect("rows").iter().filter_map(|r| r["group"].as_str()).collect();
    let mut both = vec![alice.as_str(), bob.as_str()];
    both.sort_unstable();
    assert_eq!(groups, both);
    let (st, v) = s.signed(&s.admin(), &format!("top-objects?account={bob}&limit=1")).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["rows"], json!([{ "bucket": "bob-docs", "key": "a.txt", "downloads": 2, "bytes": 200 }]));

    // Time ranges: nothing after now.
    let (_, v) = s.bearer(&alice_token, &format!("top-objects?from={}", now + 1)).await;
    assert_eq!(v["rows"], json!([]));

    // Bad questions.
    for (q, status) in [
        ("nonsense", 404),
        ("traffic?group_by=colour", 400),
        ("top-objects?limit=0", 400),
        ("top-objects?from=yesterday", 400),
        ("object-history?bucket=alice-photos", 400),
        ("unused-keys", 400),
    ] {
        let (st, v) = s.bearer(&alice_token, q).await;
        assert_eq!(st, status, "{q}: {v}");
        assert!(v["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{q}: {v}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unused_keys_join_the_accounts_keys_with_their_last_use() {
    let s = Server::start().await;
    let (alice, alice_token) = s.account(&format!("alice{}", random_hex(6))).await;
    let (bob, _) = s.account(&format!("bob{}", random_hex(6))).await;
    let (_, used) = s.user(&alice, None).await;
    let (idle_user, idle) = s.user(&alice, None).await;
    let (_, bobs) = s.user(&bob, None).await;
    let now = time::OffsetDateTime::now_utc().unix_timestamp() * 1000;
    // `used` signed something an hour ago; `idle` 40 days ago; bob's key just now.
    let mut events = events_of(&alice, "alice-photos", &used.access_key, now - DAY + 3_600_000);
    events.extend(events_of(&alice, "alice-photos", &idle.access_key, now - 39 * DAY));
    events.extend(events_of(&bob, "bob-docs", &bobs.access_key, now));
    s.events.insert(&events).await.expect("events");

    // Keys made just now and never used are not unused for 1 day yet; the one last used 40
    // days ago is.
    let (st, v) = s.bearer(&alice_token, "unused-keys?days=30").await;
    assert_eq!(st, 200, "{v}");
    let rows = v["rows"].as_array().expect("rows");
    assert_eq!(rows.len(), 1, "{v}");
    assert_eq!(rows[0]["access_key"], idle.access_key.as_str());
    assert_eq!(rows[0]["user_name"], idle_user.name.as_str());
    assert!(rows[0]["last_used_at"].as_i64().is_some_and(|t| t < now - 38 * DAY));
    // With 0 days every key of alice's account not used since now counts, never-used ones
    // (from their creation) included, and none of bob's.
    let (_, v) = s.bearer(&alice_token, "unused-keys?days=0").await;
    let keys: Vec<&str> = v["rows"].as_array().expect("rows").iter().filter_map(|r| r["access_key"].as_str()).collect();
    assert!(keys.contains(&idle.access_key.as_str()) && keys.contains(&used.access_key.as_str()), "{v}");
    assert!(!keys.contains(&bobs.access_key.as_str()), "alice sees bob's key: {v}");

    // An IAM user with analytics but without iam:ListUsers cannot list the account's keys.
    let allow = json!({ "Version": "2012-10-17", "Statement": [
        { "Effect": "Allow", "Action": "cloudstore:GetAnalytics", "Resource": "*" } ] });
    let (_, analyst) = s.user(&alice, Some(allow)).await;
    let (st, v) = s.signed(&analyst, "unused-keys?days=0").await;
    assert_eq!(st, 403, "{v}");

    // The admin, for bob's account: bob's key was used just now.
    let (st, v) = s.signed(&s.admin(), &format!("unused-keys?days=1&account={bob}")).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["rows"], json!([]));
    // And for all accounts: alice's idle key is among them, bob's is not.
    let (st, v) = s.signed(&s.admin(), "unused-keys?days=30").await;
    assert_eq!(st, 200, "{v}");
    let keys: Vec<&str> = v["rows"].as_array().expect("rows").iter().filter_map(|r| r["access_key"].as_str()).collect();
    assert_eq!(keys, [idle.access_key.as_str()]);
}

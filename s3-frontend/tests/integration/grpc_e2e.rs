//! The services apart: the gateway with `GrpcIam` (what the standalone `s3-frontend` uses with
//! `CLOUDSTORE_IAM_GRPC`) talking over a real socket to the IAM service's gRPC server. An
//! account registered through the gateway's REST API, a key made with its session, S3 with the
//! SDK and the IAM Query API signed with that key, and 503 once the IAM service is gone.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_s3::error::ProvideErrorMetadata as _;
use aws_sdk_s3::primitives::ByteStream;
use cloudstore_iam::api::InProcessIam;
use cloudstore_iam_api::grpc::{GrpcIam, ServiceToken};
use s3_frontend::auth::RootCredentials;
use s3_frontend::metrics::Metrics;
use s3_frontend::s3::GatewayConfig;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::harness::{RawRequest, RawResponse, Signer, random_hex, sdk_client, status_of};

const TOKEN: &str = "e2e-service-token-0123456789abcdef";

async fn rest(addr: SocketAddr, method: &str, path: &str, bearer: Option<&str>, body: &Value) -> (u16, Value) {
    let mut req = RawRequest::new(method, &format!("/_api/v1{path}"));
    if !body.is_null() {
        req = req.header("Content-Type", "application/json").body(body.to_string());
    }
    if let Some(t) = bearer {
        req = req.header("Authorization", &format!("Bearer {t}"));
    }
    let resp = req.send(addr).await;
    let text = resp.text();
    let json = if text.trim().is_empty() { Value::Null } else { serde_json::from_str(&text).expect("JSON") };
    (resp.status, json)
}

async fn iam_query(addr: SocketAddr, access_key: &str, secret_key: &str, form: &str) -> RawResponse {
    let signer = Signer {
        access_key: access_key.to_owned(),
        secret_key: secret_key.to_owned(),
        region: "us-east-1".into(),
        host: addr.to_string(),
    };
    let req = RawRequest::new("POST", "/")
        .header("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
        .body(form.to_owned());
    signer.sign_for("iam", req, time::OffsetDateTime::now_utc()).send(addr).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_and_iam_apart_over_grpc() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("metadata.sqlite");

    // The IAM service, alone, on its own port.
    let iam_store = cloudstore_iam::store::SqliteIamStore::open(&db).await.expect("identity store");
    let svc = cloudstore_iam::service::IamService::new(
        Arc::new(iam_store),
        Arc::new(cloudstore_iam::session::MemorySessionStore::new()),
        cloudstore_iam::crypto::Keyring::new(&[7u8; 32]).expect("keyring"),
        cloudstore_iam::service::ServiceConfig::default(),
    )
    .await
    .expect("IAM service");
    let token = ServiceToken::new(TOKEN).expect("token");
    let grpc_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind gRPC");
    let grpc_addr = grpc_listener.local_addr().expect("addr");
    let iam_stop = CancellationToken::new();
    let iam_server = tokio::spawn({
        let (token, stop) = (token.clone(), iam_stop.clone());
        async move {
            cloudstore_iam::grpc::serve(grpc_listener, InProcessIam::new(svc), &token, stop.cancelled_owned()).await
        }
    });

    // The gateway, knowing the IAM service only by its address and the service token.
    let meta = cloudstore_store_sqlite::SqliteMetadataStore::open(&db).await.expect("metadata store");
    let blobs = cloudstore_blob_fs::FsBlobStore::open(&dir.path().join("blobs")).expect("blobs");
    let grpc_iam = GrpcIam::connect_lazy(&format!("http://{grpc_addr}"), &token).expect("gRPC client");
    let frontend = s3_frontend::app::frontend(
        Arc::new(meta),
        Arc::new(blobs),
        GatewayConfig::default(),
        RootCredentials::generate(),
        &[],
        Arc::new(Metrics::default()),
        Arc::new(grpc_iam),
    )
    .expect("frontend");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind gateway");
    let addr = listener.local_addr().expect("addr");
    let shutdown = CancellationToken::new();
    let gateway = tokio::spawn(s3_frontend::server::serve(listener, Arc::new(frontend), shutdown.clone()));

    let ready = RawRequest::new("GET", "/health/ready").send(addr).await;
    assert_eq!(ready.status, 200, "{}", ready.text());

    // An account through the gateway's REST API (handed to iam over gRPC), and a key for it.
    let name = format!("grpc-{}", random_hex(8));
    let (status, profile) =
        rest(addr, "POST", "/auth/register", None, &json!({"username": name, "password": "correct-horse-9"})).await;
    assert_eq!(status, 201, "{profile}");
    let (status, tokens) =
        rest(addr, "POST", "/auth/login", None, &json!({"username": name, "password": "correct-horse-9"})).await;
    assert_eq!(status, 200, "{tokens}");
    let access = tokens["access_token"].as_str().expect("access token");
    let (status, key) = rest(addr, "POST", "/users/me/keys", Some(access), &Value::Null).await;
    assert_eq!(status, 201, "{key}");
    let ak = key["access_key_id"].as_str().expect("key id").to_owned();
    let sk = key["secret_access_key"].as_str().expect("secret").to_owned();

    // S3 with that key: the gateway resolves it with the KeyGrant RPC.
    let c = sdk_client(addr, &ak, &sk);
    let bucket = format!("grpc-e2e-{}", random_hex(8));
    c.create_bucket().bucket(&bucket).send().await.expect("create bucket");
    c.put_object()
        .bucket(&bucket)
        .key("hello.txt")
        .body(ByteStream::from_static(b"over gRPC"))
        .send()
        .await
        .expect("put object");
    let got = c.get_object().bucket(&bucket).key("hello.txt").send().await.expect("get object");
    assert_eq!(got.body.collect().await.expect("body").into_bytes().as_ref(), b"over gRPC");
    let wrong = sdk_client(addr, &ak, "not-the-secret-0000000000000000000000000");
    let e = wrong.get_object().bucket(&bucket).key("hello.txt").send().await.expect_err("bad signature");
    assert_eq!((status_of(&e), e.code()), (403, Some("SignatureDoesNotMatch")));

    // The IAM Query API signed with that key: the Query RPC.
    let r = iam_query(addr, &ak, &sk, "Action=CreateUser&UserName=worker&Version=2010-05-08").await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = iam_query(addr, &ak, &sk, "Action=ListUsers&Version=2010-05-08").await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.text().contains("<UserName>worker</UserName>"), "{}", r.text());

    // The IAM service stops: a key the gateway hasn't cached can't be checked, so 503, not 403.
    iam_stop.cancel();
    tokio::time::timeout(Duration::from_secs(10), iam_server)
        .await
        .expect("iam stops in time")
        .expect("iam task")
        .expect("iam ends cleanly");
    let stranger = sdk_client(addr, "AKIANOTCACHEDYET0000", "whatever-secret-0000000000000000000000");
    let e = stranger.list_buckets().send().await.expect_err("IAM is down");
    assert_eq!(status_of(&e), 503, "{e:?}");
    let ready = RawRequest::new("GET", "/health/ready").send(addr).await;
    assert_eq!(ready.status, 503, "{}", ready.text());

    shutdown.cancel();
    gateway.abort();
    let _ = gateway.await;
}

//! The IAM service over gRPC on a real socket: the server of `cloudstore_iam::grpc` on
//! 127.0.0.1:0 over a real service (SQLite store, in-memory sessions), called through the
//! gateway's client `GrpcIam` and through `GrpcPasswordAuthority`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::params;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cloudstore_iam::Audit;
use cloudstore_iam::api::InProcessIam;
use cloudstore_iam::error::Error;
use cloudstore_iam::grpc::GrpcPasswordAuthority;
use cloudstore_iam::service::{IamService, PasswordAuthority, user_principal};
use cloudstore_iam_api::grpc::{GrpcIam, ServiceToken};
use cloudstore_iam_api::{
    ApiResponse, Caller, IamApi, IamApiError, PrincipalKind, QueryService, RequestMeta, RestRequest,
};
use serde_json::{Value, json};
use tokio::sync::oneshot;

const TOKEN: &str = "test-service-token-0123456789abcdef";

/// A gRPC server over a fresh service, and a client with the right token.
struct Stack {
    svc: IamService,
    addr: SocketAddr,
    iam: GrpcIam,
    stop: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<Result<(), tonic::transport::Error>>>,
    _dir: tempfile::TempDir,
}

impl Stack {
    async fn start() -> Self {
        let (svc, dir) = common::service().await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (stop, stopped) = oneshot::channel::<()>();
        let token = ServiceToken::new(TOKEN).expect("token");
        let inner = InProcessIam::new(svc.clone());
        let server = tokio::spawn(async move {
            cloudstore_iam::grpc::serve(listener, inner, &token, async {
                let _ = stopped.await;
            })
            .await
        });
        let iam = client(addr, TOKEN);
        Self { svc, addr, iam, stop: Some(stop), server: Some(server), _dir: dir }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops the server gracefully and waits for it.
    async fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            let res = tokio::time::timeout(Duration::from_secs(10), server).await.expect("server stops in time");
            res.expect("server task").expect("server ends cleanly");
        }
    }
}

fn client(addr: SocketAddr, token: &str) -> GrpcIam {
    GrpcIam::connect_lazy(&format!("http://{addr}"), &ServiceToken::new(token).expect("token")).expect("client")
}

fn meta() -> RequestMeta {
    RequestMeta {
        source_ip: Some("203.0.113.7".into()),
        user_agent: Some("grpc-test".into()),
        request_id: "req-grpc-1".into(),
        secure: false,
    }
}

/// The text of the first `<tag>…</tag>`.
fn field(body: &str, tag: &str) -> Option<String> {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    let start = body.find(&open)? + open.len();
    let end = body[start..].find(&close)? + start;
    Some(body[start..end].to_owned())
}

fn rest_req(method: &str, path: &str, bearer: Option<&str>, body: &Value) -> RestRequest {
    RestRequest {
        method: method.into(),
        path: path.into(),
        query: String::new(),
        bearer: bearer.map(str::to_owned),
        admin: false,
        body: if body.is_null() { Vec::new() } else { body.to_string().into_bytes() },
        meta: meta(),
    }
}

fn json_of(r: &ApiResponse) -> Value {
    serde_json::from_str(&r.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", r.body))
}

/// Registers `name` (an account and its root) directly on the service; the root's caller.
async fn register_root(svc: &IamService, name: &str) -> Caller {
    let profile = svc.register(name, None, "s3cret-pass1", &meta()).await.expect("register");
    let user = svc.store().get_user(&profile.user_id).await.expect("get").expect("root user");
    Caller { principal: user_principal(&user), access_key: "AKIAROOTCALLER000000".into(), policies: vec![] }
}

async fn query(iam: &dyn IamApi, caller: &Caller, p: &[(&str, &str)]) -> ApiResponse {
    iam.query(QueryService::Iam, caller, params(p), &meta()).await.expect("query RPC")
}

#[track_caller]
fn ok_xml(r: &ApiResponse, action: &str) -> String {
    assert_eq!(r.status, 200, "{action}: {}", r.body);
    assert_eq!(r.content_type, "text/xml");
    assert!(r.body.contains(&format!("<{action}Response xmlns=")), "{action}: {}", r.body);
    r.body.clone()
}

const POLICY: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#;

#[tokio::test]
async fn key_grants_principals_and_queries_over_grpc() {
    let mut s = Stack::start().await;
    let root = register_root(&s.svc, "alice").await;
    let account = root.principal.account_id.clone();

    // IAM Query API through the RPC: a user with an inline policy and an access key.
    ok_xml(
        &query(&s.iam, &root, &[("Action", "CreateUser"), ("UserName", "bob"), ("Path", "/team/")]).await,
        "CreateUser",
    );
    ok_xml(
        &query(
            &s.iam,
            &root,
            &[("Action", "PutUserPolicy"), ("UserName", "bob"), ("PolicyName", "read"), ("PolicyDocument", POLICY)],
        )
        .await,
        "PutUserPolicy",
    );
    let body =
        ok_xml(&query(&s.iam, &root, &[("Action", "CreateAccessKey"), ("UserName", "bob")]).await, "CreateAccessKey");
    let key = field(&body, "AccessKeyId").expect("key id");
    let secret = field(&body, "SecretAccessKey").expect("secret");

    // ListUsers as the account root returns the XML, request id included.
    let body = ok_xml(&query(&s.iam, &root, &[("Action", "ListUsers")]).await, "ListUsers");
    assert_eq!(field(&body, "UserName").as_deref(), Some("bob"), "{body}");
    assert!(body.contains("<RequestId>req-grpc-1</RequestId>"), "{body}");

    // KeyGrant: the secret round-trips, and the principal and policies are the service's own.
    let grant = s.iam.key_grant(&key).await.expect("rpc").expect("known key");
    let local = s.svc.key_grant(&key).await.expect("local").expect("known key");
    assert_eq!(grant.secret_key, secret);
    assert_eq!(grant.principal, local.principal);
    assert_eq!(grant.principal.kind, PrincipalKind::User);
    assert_eq!(grant.principal.arn, format!("arn:aws:iam::{account}:user/team/bob"));
    assert_eq!(grant.principal.account_id, account);
    assert_eq!(grant.principal.name, "bob");
    assert!(grant.principal.user_id.starts_with("AIDA"), "{}", grant.principal.user_id);
    assert_eq!(grant.policies, local.policies);
    assert_eq!(grant.policies.len(), 1);
    assert!(grant.policies[0].label.contains("read"), "{:?}", grant.policies[0].label);
    assert_eq!(grant.policies[0].document, POLICY);
    assert_eq!((grant.session_token_hash, grant.expires_at), (None, None));

    // Unknown and empty keys grant nothing.
    assert!(s.iam.key_grant("AKIADOESNOTEXIST0000").await.expect("rpc").is_none());
    assert!(s.iam.key_grant("").await.expect("rpc").is_none());

    // STS through the RPC: temporary credentials carry their token hash and expiry.
    let bob = Caller { principal: local.principal.clone(), access_key: key.clone(), policies: local.policies.clone() };
    let r = s.iam.query(QueryService::Sts, &bob, params(&[("Action", "GetSessionToken")]), &meta()).await.expect("rpc");
    assert_eq!(r.status, 200, "{}", r.body);
    let temp_key = field(&r.body, "AccessKeyId").expect("temporary key");
    let temp = s.iam.key_grant(&temp_key).await.expect("rpc").expect("temporary grant");
    assert_eq!(temp.secret_key, field(&r.body, "SecretAccessKey").expect("temporary secret"));
    assert_eq!(temp.session_token_hash.as_ref().map(String::len), Some(64));
    assert!(temp.expires_at.is_some_and(|t| t > time_now()), "{:?}", temp.expires_at);

    // PrincipalGrant: a known ARN, the root's, and an unknown one.
    let (p, policies) = s.iam.principal_grant(&grant.principal.arn).await.expect("rpc").expect("known arn");
    assert_eq!(p, grant.principal);
    assert_eq!(policies, grant.policies);
    let (p, policies) = s.iam.principal_grant(&root.principal.arn).await.expect("rpc").expect("root arn");
    assert_eq!((p.kind, policies.len()), (PrincipalKind::AccountRoot, 0));
    assert!(s.iam.principal_grant(&format!("arn:aws:iam::{account}:user/nobody")).await.expect("rpc").is_none());

    // API errors are answers, not RPC failures.
    let r = query(&s.iam, &root, &[("Action", "GetUser"), ("UserName", "nobody")]).await;
    assert_eq!((r.status, field(&r.body, "Code").as_deref()), (404, Some("NoSuchEntity")), "{}", r.body);

    s.iam.ready().await.expect("ready");
    s.stop().await;
}

fn time_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs() as i64
}

#[tokio::test]
async fn rest_register_login_and_profile_over_grpc() {
    let mut s = Stack::start().await;
    let r = s
        .iam
        .rest(rest_req("POST", "/auth/register", None, &json!({"username": "carol", "password": "s3cret-pass1"})))
        .await
        .expect("rpc");
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.content_type, "application/json");
    assert_eq!(json_of(&r)["username"], "carol");

    let r = s
        .iam
        .rest(rest_req("POST", "/auth/login", None, &json!({"username": "carol", "password": "s3cret-pass1"})))
        .await
        .expect("rpc");
    assert_eq!(r.status, 200, "{}", r.body);
    let access = json_of(&r)["access_token"].as_str().expect("access token").to_owned();

    let r = s.iam.rest(rest_req("GET", "/users/me", Some(&access), &Value::Null)).await.expect("rpc");
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(json_of(&r)["username"], "carol");

    // A REST error travels as an answer with its JSON body.
    let r = s
        .iam
        .rest(rest_req("POST", "/auth/login", None, &json!({"username": "carol", "password": "wrong-pass9"})))
        .await
        .expect("rpc");
    assert_eq!(r.status, 401, "{}", r.body);
    assert!(json_of(&r)["error"]["code"].is_string(), "{}", r.body);
    s.stop().await;
}

#[tokio::test]
async fn a_wrong_service_token_is_refused_and_changes_nothing() {
    let mut s = Stack::start().await;
    let root = register_root(&s.svc, "dave").await;
    let key = s
        .svc
        .create_access_key(
            &s.svc.store().get_user(&root.principal.user_id).await.expect("get").expect("root"),
            Audit::none(),
        )
        .await
        .expect("key");

    for token in ["another-token-0123456789abcdef", "test-service-token-0123456789abcdeX"] {
        let bad = client(s.addr, token);
        let refused = |r: Result<(), IamApiError>, what: &str| {
            let IamApiError::Unavailable(m) = r.expect_err(what);
            assert!(m.contains("service token"), "{what}: {m}");
        };
        refused(bad.key_grant(&key.access_key_id).await.map(drop), "key_grant");
        refused(bad.principal_grant(&root.principal.arn).await.map(drop), "principal_grant");
        refused(
            bad.query(QueryService::Iam, &root, params(&[("Action", "CreateUser"), ("UserName", "eve")]), &meta())
                .await
                .map(drop),
            "query",
        );
        refused(
            bad.rest(rest_req(
                "POST",
                "/auth/register",
                None,
                &json!({"username": "mallory", "password": "s3cret-pass1"}),
            ))
            .await
            .map(drop),
            "rest",
        );
        refused(bad.ready().await, "ready");
        let pw =
            GrpcPasswordAuthority::connect_lazy(&s.url(), &ServiceToken::new(token).expect("token")).expect("client");
        let e = pw
            .change_password(&root.principal.user_id, None, "s3cret-pass1", "n3w-secret-pass", &meta())
            .await
            .expect_err("refused");
        assert!(matches!(e, Error::Unavailable(_)), "{e:?}");
    }

    // Nothing happened: no user eve, no account mallory, the password unchanged.
    let body = ok_xml(&query(&s.iam, &root, &[("Action", "ListUsers")]).await, "ListUsers");
    assert!(!body.contains("eve"), "{body}");
    assert!(s.svc.store().find_account("mallory").await.expect("find").is_none());
    s.svc.login("dave", "s3cret-pass1", &meta()).await.expect("old password still works");
    assert!(s.iam.key_grant(&key.access_key_id).await.expect("rpc").is_some());
    s.stop().await;
}

#[tokio::test]
async fn password_change_goes_to_the_auth_side_over_grpc() {
    let mut s = Stack::start().await;
    s.svc.register("erin", None, "s3cret-pass1", &meta()).await.expect("register");
    let first = s.svc.login("erin", "s3cret-pass1", &meta()).await.expect("login 1");
    let second = s.svc.login("erin", "s3cret-pass1", &meta()).await.expect("login 2");
    let token = ServiceToken::new(TOKEN).expect("token");

    // The profile side: the same stores, its password changes sent to the auth side over gRPC.
    let profile_side = s
        .svc
        .clone()
        .with_password_authority(Arc::new(GrpcPasswordAuthority::connect_lazy(&s.url(), &token).expect("client")));
    let profile_api = InProcessIam::new(profile_side);
    let change = |old: &str, new: &str, bearer: &str| {
        rest_req("POST", "/users/me/password", Some(bearer), &json!({"old_password": old, "new_password": new}))
    };

    // Wrong current password: refused, as the REST API's 403, and nothing changes.
    let r = profile_api.rest(change("wrong-pass9", "n3w-secret-pass", &first.access_token)).await.expect("rest");
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(json_of(&r)["error"]["code"], "AccessDenied", "{}", r.body);
    // A weak new password: the auth side's validation error comes back as 400.
    let r = profile_api.rest(change("s3cret-pass1", "short", &first.access_token)).await.expect("rest");
    assert_eq!(r.status, 400, "{}", r.body);
    s.svc.authenticate_bearer(&second.access_token).await.expect("second session still alive");
    s.svc.login("erin", "s3cret-pass1", &meta()).await.expect("old password unchanged");

    // The right one: changed, every other session ended, the asking one kept.
    let r = profile_api.rest(change("s3cret-pass1", "n3w-secret-pass", &first.access_token)).await.expect("rest");
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(json_of(&r)["revoked_sessions"].as_u64().is_some_and(|n| n >= 2), "{}", r.body);
    s.svc.authenticate_bearer(&first.access_token).await.expect("the asking session stays");
    assert!(s.svc.authenticate_bearer(&second.access_token).await.is_err(), "the other session ended");
    assert!(s.svc.login("erin", "s3cret-pass1", &meta()).await.is_err(), "old password refused");
    s.svc.login("erin", "n3w-secret-pass", &meta()).await.expect("new password works");

    // Directly through the trait: a wrong old password is AccessDenied.
    let pw = GrpcPasswordAuthority::connect_lazy(&s.url(), &token).expect("client");
    let user_id = s.svc.authenticate_bearer(&first.access_token).await.expect("alive").user.id;
    let e = pw.change_password(&user_id, None, "s3cret-pass1", "an0ther-pass", &meta()).await.expect_err("wrong old");
    assert!(matches!(e, Error::AccessDenied(_)), "{e:?}");
    let e = pw.change_password("AIDANOSUCHUSER000000", None, "x", "an0ther-pass", &meta()).await.expect_err("no user");
    assert!(matches!(e, Error::NoSuchEntity(_)), "{e:?}");
    s.stop().await;
}

#[tokio::test]
async fn a_stopped_server_is_unavailable_not_a_hang() {
    let mut s = Stack::start().await;
    s.iam.ready().await.expect("ready");
    s.stop().await;
    let started = Instant::now();
    assert!(matches!(s.iam.key_grant("AKIAANY").await, Err(IamApiError::Unavailable(_))));
    assert!(matches!(s.iam.ready().await, Err(IamApiError::Unavailable(_))));
    // A guard, not a timing assertion: refused connections fail fast, well within the timeout.
    assert!(started.elapsed() < Duration::from_secs(12), "{:?}", started.elapsed());
}

/// Prints the mean latency of KeyGrant over loopback (run with `--no-capture` to see it).
#[tokio::test]
async fn key_grant_latency_on_loopback() {
    let mut s = Stack::start().await;
    let root = register_root(&s.svc, "frank").await;
    let user = s.svc.store().get_user(&root.principal.user_id).await.expect("get").expect("root");
    let key = s.svc.create_access_key(&user, Audit::none()).await.expect("key").access_key_id;
    for _ in 0..50 {
        s.iam.key_grant(&key).await.expect("warm-up").expect("grant");
    }
    const N: u32 = 1000;
    let mut rpc = Vec::with_capacity(N as usize);
    for _ in 0..N {
        let t = Instant::now();
        s.iam.key_grant(&key).await.expect("rpc").expect("grant");
        rpc.push(t.elapsed());
    }
    let t = Instant::now();
    for _ in 0..N {
        s.svc.key_grant(&key).await.expect("local").expect("grant");
    }
    let local = t.elapsed() / N;
    rpc.sort();
    let mean = rpc.iter().sum::<Duration>() / N;
    eprintln!(
        "KeyGrant over gRPC on loopback, {N} sequential calls: mean {mean:?}, p50 {:?}, p99 {:?}; \
         the same lookup in process: mean {local:?}",
        rpc[N as usize / 2],
        rpc[N as usize * 99 / 100],
    );
    s.stop().await;
}

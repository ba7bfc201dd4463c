//! The account REST API (`/_api/v1/...`) and the platform admin's endpoints, end to end
//! through the gateway's port: registration, login, rotating refresh tokens, logout, sessions,
//! profiles, password changes, access keys (used with the SDK), login rate limits, account
//! management and policy explanations signed with the root key, and unknown routes. Every
//! answer is checked for its status and its JSON body (`{"error": {"code", "message"}}` on
//! errors).

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use aws_sdk_s3::Client;
use aws_sdk_s3::error::ProvideErrorMetadata as _;
use aws_sdk_s3::primitives::ByteStream;
use cloudstore_iam::Audit;
use cloudstore_iam::store::{InlinePolicy, OwnerKind, User};
use serde_json::{Value, json};

use crate::harness::{Harness, RawRequest, Signer, random_hex, sdk_client, status_of};

const API: &str = "/_api/v1";
/// The password every test account registers with (it contains none of the usernames).
const PASSWORD: &str = "correct-horse-9";
/// How long a disabled or deleted key may keep working: the gateway's key cache TTL (2 s)
/// plus slack.
const CACHE_DEADLINE: Duration = Duration::from_millis(2500);

// ---------------------------------------------------------------------------------------------
// JSON over raw HTTP

/// A parsed answer of the API.
#[derive(Debug)]
struct Reply {
    status: u16,
    content_type: Option<String>,
    /// The `Retry-After` header.
    retry_after: Option<String>,
    text: String,
    body: Value,
}

impl Reply {
    /// Asserts the status and returns the JSON body.
    #[track_caller]
    fn expect(self, status: u16) -> Value {
        assert_eq!(self.status, status, "unexpected answer: {} {}", self.status, self.text);
        if !self.text.is_empty() && status != 204 {
            assert_eq!(self.content_type.as_deref(), Some("application/json"), "content type of {}", self.text);
        }
        self.body
    }

    /// Asserts an error answer `{"error": {"code", "message"}}` with this status and code (and
    /// nothing else in the document but, in a 429, `retry_after_secs`, also sent as
    /// `Retry-After`); returns the message.
    #[track_caller]
    fn error(&self, status: u16, code: &str) -> String {
        assert_eq!(
            (self.status, self.body["error"]["code"].as_str()),
            (status, Some(code)),
            "unexpected answer: {} {}",
            self.status,
            self.text
        );
        assert_eq!(self.content_type.as_deref(), Some("application/json"), "content type of {}", self.text);
        let obj = self.body.as_object().expect("an object");
        assert_eq!(obj.keys().collect::<Vec<_>>(), ["error"], "error document: {}", self.text);
        let err = self.body["error"].as_object().expect("error object");
        let mut keys = BTreeSet::from(["code", "message"]);
        if status == 429 {
            keys.insert("retry_after_secs");
            let secs = self.body["error"]["retry_after_secs"].as_u64().expect("retry_after_secs");
            assert!(secs >= 1, "{}", self.text);
            assert_eq!(self.retry_after.as_deref(), Some(secs.to_string().as_str()), "Retry-After of {}", self.text);
        }
        assert_eq!(err.keys().map(String::as_str).collect::<BTreeSet<_>>(), keys);
        let message = self.body["error"]["message"].as_str().expect("message").to_owned();
        assert!(!message.is_empty(), "empty error message: {}", self.text);
        message
    }
}

async fn send(h: &Harness, req: RawRequest) -> Reply {
    let resp = h.raw(req).await;
    let text = resp.text();
    let body = if text.trim().is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {} {text}", resp.status))
    };
    Reply {
        status: resp.status,
        content_type: resp.header("content-type").map(str::to_owned),
        retry_after: resp.header("retry-after").map(str::to_owned),
        text,
        body,
    }
}

/// `method /_api/v1{path}` with a JSON body and, if given, a Bearer token.
fn request(method: &str, path: &str, token: Option<&str>, body: Option<&Value>) -> RawRequest {
    let mut req = RawRequest::new(method, &format!("{API}{path}"));
    if let Some(b) = body {
        req = req.header("Content-Type", "application/json").body(b.to_string());
    }
    if let Some(t) = token {
        req = req.header("Authorization", &format!("Bearer {t}"));
    }
    req
}

async fn call(h: &Harness, method: &str, path: &str, token: Option<&str>, body: Option<&Value>) -> Reply {
    send(h, request(method, path, token, body)).await
}

/// A call signed (SigV4, service `iam`) by `signer`.
async fn signed(h: &Harness, signer: &Signer, method: &str, path: &str, body: Option<&Value>) -> Reply {
    let req = signer.sign_for("iam", request(method, path, None, body), time::OffsetDateTime::now_utc());
    send(h, req).await
}

/// A call signed by the platform admin (the root key pair).
async fn admin(h: &Harness, method: &str, path: &str, body: Option<&Value>) -> Reply {
    signed(h, &h.signer(), method, path, body).await
}

/// A signer for another key pair.
fn signer_for(h: &Harness, access_key: &str, secret_key: &str) -> Signer {
    Signer { access_key: access_key.to_owned(), secret_key: secret_key.to_owned(), ..h.signer() }
}

// ---------------------------------------------------------------------------------------------
// Accounts and sessions

/// What a login answers.
#[derive(Debug, Clone)]
struct Tokens {
    access: String,
    refresh: String,
    session_id: String,
}

/// Registers `username` with [`PASSWORD`]; returns the profile.
async fn register(h: &Harness, username: &str) -> Value {
    call(h, "POST", "/auth/register", None, Some(&json!({ "username": username, "password": PASSWORD })))
        .await
        .expect(201)
}

async fn login(h: &Harness, username: &str, password: &str) -> Reply {
    call(h, "POST", "/auth/login", None, Some(&json!({ "username": username, "password": password }))).await
}

/// A login sent from the local address `from` (the server sees that client address).
async fn login_from(h: &Harness, from: &str, username: &str, password: &str) -> Reply {
    let body = json!({ "username": username, "password": password });
    send(h, request("POST", "/auth/login", None, Some(&body)).from(from.parse().expect("address"))).await
}

fn tokens_of(v: &Value) -> Tokens {
    let s = |k: &str| v[k].as_str().unwrap_or_else(|| panic!("{k} in {v}")).to_owned();
    Tokens { access: s("access_token"), refresh: s("refresh_token"), session_id: s("session_id") }
}

/// A new session of `username` (password [`PASSWORD`]).
async fn session(h: &Harness, username: &str) -> Tokens {
    tokens_of(&login(h, username, PASSWORD).await.expect(200))
}

/// `GET /users/me` with `token`: the status.
async fn me_status(h: &Harness, token: &str) -> u16 {
    call(h, "GET", "/users/me", Some(token), None).await.status
}

/// Asserts `token` is refused with 401 Unauthorized.
async fn assert_refused(h: &Harness, token: &str, what: &str) {
    let r = call(h, "GET", "/users/me", Some(token), None).await;
    assert_eq!(r.status, 401, "{what}: {}", r.text);
    r.error(401, "Unauthorized");
}

/// An IAM user (no password) in `account_id` with inline policies `(name, document)`.
async fn iam_user(h: &Harness, account_id: &str, name: &str, policies: &[(&str, String)]) -> User {
    let u = User {
        id: cloudstore_iam::ids::unique_id("AIDA"),
        account_id: account_id.to_owned(),
        name: name.to_owned(),
        path: "/".into(),
        is_root: false,
        email: None,
        display_name: None,
        password_hash: None,
        created_at: 0,
        presigned_not_before: None,
    };
    h.iam.store().create_user(&u, &[]).await.expect("create user");
    for (policy, document) in policies {
        add_policy(h, &u, policy, document).await;
    }
    u
}

async fn add_policy(h: &Harness, u: &User, name: &str, document: &str) {
    let p = InlinePolicy { name: name.to_owned(), document: document.to_owned() };
    h.iam.store().put_inline_policy(OwnerKind::User, &u.id, &p, &[]).await.expect("put inline policy");
}

fn policy(statements: &Value) -> String {
    json!({ "Version": "2012-10-17", "Statement": statements }).to_string()
}

// ---------------------------------------------------------------------------------------------
// S3 with REST-made keys

/// The outcome of listing `bucket`: `Ok` or (HTTP status, error code).
async fn list_outcome(c: &Client, bucket: &str) -> Result<(), (u16, Option<String>)> {
    match c.list_objects_v2().bucket(bucket).send().await {
        Ok(_) => Ok(()),
        Err(e) => Err((status_of(&e), e.code().map(str::to_owned))),
    }
}

/// Polls `check` until it holds; fails if that takes longer than [`CACHE_DEADLINE`] from
/// `since` (when the change was made).
async fn eventually(what: &str, since: Instant, check: impl AsyncFn() -> bool) {
    loop {
        if check().await {
            return;
        }
        assert!(since.elapsed() < CACHE_DEADLINE, "{what}: still not the case after {:?}", since.elapsed());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until `c` is refused with `InvalidAccessKeyId`.
async fn until_key_refused(c: &Client, bucket: &str, since: Instant, what: &str) {
    eventually(what, since, async || match list_outcome(c, bucket).await {
        Ok(()) => false,
        Err((403, Some(code))) if code == "InvalidAccessKeyId" => true,
        Err(other) => panic!("{what}: unexpected refusal {other:?}"),
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// Cases

pub async fn rest_register(h: &Harness) {
    let created = call(
        h,
        "POST",
        "/auth/register",
        None,
        Some(&json!({ "username": "alice", "email": "alice@example.com", "password": PASSWORD })),
    )
    .await
    .expect(201);
    let account_id = created["account_id"].as_str().expect("account_id");
    assert!(!account_id.is_empty());
    assert!(created["user_id"].as_str().is_some_and(|u| !u.is_empty()), "{created}");
    assert_eq!(created["username"], "alice");
    assert_eq!(created["email"], "alice@example.com");
    assert_eq!(created["arn"], format!("arn:aws:iam::{account_id}:root"));
    let text = created.to_string();
    assert!(!text.contains(PASSWORD) && !text.contains("password"), "the profile shows the password: {text}");

    // The same name, in any case, is taken.
    for name in ["alice", "ALICE", "Alice"] {
        let r = call(h, "POST", "/auth/register", None, Some(&json!({ "username": name, "password": PASSWORD }))).await;
        r.error(409, "EntityAlreadyExists");
    }

    // Invalid input: 400 ValidationError, nothing created.
    let bad: Vec<(&str, RawRequest)> = vec![
        ("too short a name", register_req(&json!({ "username": "ab", "password": PASSWORD }))),
        ("name starting with -", register_req(&json!({ "username": "-bob", "password": PASSWORD }))),
        ("name with a space", register_req(&json!({ "username": "bo b", "password": PASSWORD }))),
        ("name with a slash", register_req(&json!({ "username": "bo/b", "password": PASSWORD }))),
        ("non-ASCII name", register_req(&json!({ "username": "böb", "password": PASSWORD }))),
        ("65-character name", register_req(&json!({ "username": "b".repeat(65), "password": PASSWORD }))),
        ("short password", register_req(&json!({ "username": "bob", "password": "x1-y2" }))),
        ("letters-only password", register_req(&json!({ "username": "bob", "password": "onlyletters" }))),
        ("digits-only password", register_req(&json!({ "username": "bob", "password": "12345678901" }))),
        ("password containing the name", register_req(&json!({ "username": "bob", "password": "xxBOB-2024" }))),
        ("bad email", register_req(&json!({ "username": "bob", "email": "bob-at-example", "password": PASSWORD }))),
        ("email with a space", register_req(&json!({ "username": "bob", "email": "b b@x.io", "password": PASSWORD }))),
        ("unknown field", register_req(&json!({ "username": "bob", "password": PASSWORD, "is_admin": true }))),
        ("missing password", register_req(&json!({ "username": "bob" }))),
        ("wrong type", register_req(&json!({ "username": 42, "password": PASSWORD }))),
        (
            "form body",
            RawRequest::new("POST", &format!("{API}/auth/register"))
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body(format!("username=bob&password={PASSWORD}")),
        ),
        ("empty body", RawRequest::new("POST", &format!("{API}/auth/register"))),
        (
            "truncated JSON",
            RawRequest::new("POST", &format!("{API}/auth/register")).body(r#"{"username": "bob", "pass"#),
        ),
    ];
    for (what, req) in bad {
        let r = send(h, req).await;
        assert_eq!(r.status, 400, "{what}: {}", r.text);
        r.error(400, "ValidationError");
    }

    // Over-long bodies: past the IAM service's limit (64 KiB) a validation error, past the
    // gateway's (256 KiB) 413 before anything is parsed.
    let padded = |n: usize| json!({ "username": "bob", "password": PASSWORD, "email": "x".repeat(n) });
    let r = send(h, register_req(&padded(100 * 1024))).await;
    r.error(400, "ValidationError");
    assert!(r.text.contains("too large"), "{}", r.text);
    let r = send(h, register_req(&padded(300 * 1024))).await;
    r.error(413, "RequestEntityTooLarge");

    assert!(h.iam.store().find_account("bob").await.expect("find").is_none(), "a refused registration created bob");
    // A valid registration after all those still works; the name is free for the asking.
    let bob = register(h, "bob").await;
    assert_eq!(bob["username"], "bob");
    assert!(bob["email"].is_null(), "{bob}");
    assert_ne!(bob["account_id"], created["account_id"], "two registrations share an account");
}

fn register_req(body: &Value) -> RawRequest {
    request("POST", "/auth/register", None, Some(body))
}

pub async fn rest_login(h: &Harness) {
    let profile = register(h, "carol").await;
    let r = login(h, "carol", PASSWORD).await.expect(200);
    let tokens = tokens_of(&r);
    let access = r["access_token"].as_str().expect("access_token");
    let parts: Vec<&str> = access.split('.').collect();
    assert_eq!(parts.len(), 3, "a JWT has three parts: {access}");
    assert!(parts.iter().all(|p| !p.is_empty()), "{access}");
    assert!(r["refresh_token"].as_str().is_some_and(|t| t.len() >= 32), "{r}");
    assert_eq!(r["token_type"], "Bearer");
    assert_eq!(r["expires_in"], 900);
    assert!(r["session_id"].as_str().is_some_and(|s| !s.is_empty()), "{r}");
    let text = r.to_string();
    assert!(!text.contains(PASSWORD), "{text}");

    // Wrong password and unknown user: the same 401, the same message.
    let wrong = login(h, "carol", "wrong-password-1").await;
    let unknown = login(h, "nobody-here", PASSWORD).await;
    let m1 = wrong.error(401, "Unauthorized");
    let m2 = unknown.error(401, "Unauthorized");
    assert_eq!(m1, m2, "the messages tell users apart");
    // An empty password is just wrong, too.
    login(h, "carol", "").await.error(401, "Unauthorized");
    // A malformed login is a validation error.
    call(h, "POST", "/auth/login", None, Some(&json!({ "username": "carol" }))).await.error(400, "ValidationError");

    // The token opens the profile.
    let me = call(h, "GET", "/users/me", Some(access), None).await.expect(200);
    for k in ["account_id", "user_id", "username", "arn"] {
        assert_eq!(me[k], profile[k], "{k}: {me}");
    }

    // Without a token, with garbage, with another scheme, with a tampered token: 401.
    let r = call(h, "GET", "/users/me", None, None).await;
    r.error(401, "Unauthorized");
    let r =
        send(h, RawRequest::new("GET", &format!("{API}/users/me")).header("Authorization", "Basic Y2Fyb2w6eA==")).await;
    r.error(401, "Unauthorized");
    assert_refused(h, "garbage", "garbage token").await;
    assert_refused(h, "a.b.c", "three garbage parts").await;
    assert_refused(h, &format!("{}.{}.", parts[0], parts[1]), "no signature").await;
    let mut sig = parts[2].to_owned();
    let last = sig.pop().expect("non-empty");
    sig.push(if last == 'A' { 'B' } else { 'A' });
    assert_refused(h, &format!("{}.{}.{sig}", parts[0], parts[1]), "tampered signature").await;
    // The payload re-encoded with another subject, the old signature kept.
    let tampered_payload = tamper_payload(parts[1]);
    assert_refused(h, &format!("{}.{tampered_payload}.{}", parts[0], parts[2]), "tampered payload").await;
    // An unsigned token ("alg": "none").
    let none_header = b64url(br#"{"alg":"none","typ":"JWT"}"#);
    assert_refused(h, &format!("{none_header}.{}.", parts[1]), "alg none").await;
    // The refresh token is not an access token.
    assert_refused(h, &tokens.refresh, "refresh token as access token").await;

    // And the token still works after all that.
    assert_eq!(me_status(h, access).await, 200);
}

fn b64url(data: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(data)
}

/// The JWT payload `p` with its `sub` changed.
fn tamper_payload(p: &str) -> String {
    use base64::Engine as _;
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(p).expect("base64url payload");
    let mut claims: Value = serde_json::from_slice(&raw).expect("JSON claims");
    claims["sub"] = json!("AIDASOMEONEELSE00000");
    b64url(claims.to_string().as_bytes())
}

pub async fn rest_refresh_rotation(h: &Harness) {
    register(h, "dave").await;
    let t1 = session(h, "dave").await;
    let refresh = |t: &str| json!({ "refresh_token": t });

    let t2 = tokens_of(&call(h, "POST", "/auth/refresh", None, Some(&refresh(&t1.refresh))).await.expect(200));
    assert_ne!(t2.refresh, t1.refresh, "the refresh token was not rotated");
    // (The access token may equal the old one: same session, same second, no nonce.)
    assert_eq!(t2.session_id, t1.session_id, "a refresh keeps the session");
    assert_eq!(me_status(h, &t2.access).await, 200);
    // A second rotation works with the newest token.
    let t3 = tokens_of(&call(h, "POST", "/auth/refresh", None, Some(&refresh(&t2.refresh))).await.expect(200));
    assert_eq!(me_status(h, &t3.access).await, 200);

    // Used refresh tokens are dead. The one just replaced, presented again, is a replay
    // (token theft): it ends the whole session. (The store remembers only the previous
    // secret; t1, two rotations old, is merely refused.)
    let r = call(h, "POST", "/auth/refresh", None, Some(&refresh(&t1.refresh))).await;
    let dead_message = r.error(401, "Unauthorized");
    let r = call(h, "POST", "/auth/refresh", None, Some(&refresh(&t2.refresh))).await;
    assert_eq!(r.error(401, "Unauthorized"), dead_message);
    assert_refused(h, &t3.access, "access token of a session whose used refresh token was replayed").await;
    let r = call(h, "POST", "/auth/refresh", None, Some(&refresh(&t3.refresh))).await;
    assert_eq!(r.error(401, "Unauthorized"), dead_message);

    // The same after a single rotation, while another session of the user goes on.
    let a = session(h, "dave").await;
    let other = session(h, "dave").await;
    let a2 = tokens_of(&call(h, "POST", "/auth/refresh", None, Some(&refresh(&a.refresh))).await.expect(200));
    assert_eq!(me_status(h, &a2.access).await, 200);
    call(h, "POST", "/auth/refresh", None, Some(&refresh(&a.refresh))).await.error(401, "Unauthorized");
    assert_refused(h, &a2.access, "access token of a session whose used refresh token was replayed").await;
    call(h, "POST", "/auth/refresh", None, Some(&refresh(&a2.refresh))).await.error(401, "Unauthorized");
    assert_eq!(me_status(h, &other.access).await, 200, "the replay ended another session too");
    call(h, "POST", "/auth/refresh", None, Some(&refresh(&other.refresh))).await.expect(200);

    // Malformed refresh tokens.
    let mut flipped = t3.refresh.clone();
    let last = flipped.pop().expect("non-empty");
    flipped.push(if last == 'A' { 'B' } else { 'A' });
    for bad in ["", "garbage", "a.b", "a.b.c", &format!("{}.", t3.session_id), &flipped, &t3.access] {
        let r = call(h, "POST", "/auth/refresh", None, Some(&refresh(bad))).await;
        assert_eq!(r.status, 401, "refresh token {bad:?}: {}", r.text);
        r.error(401, "Unauthorized");
    }
    call(h, "POST", "/auth/refresh", None, Some(&json!({}))).await.error(400, "ValidationError");
    call(h, "POST", "/auth/refresh", None, Some(&json!({ "refresh_token": t3.refresh, "x": 1 })))
        .await
        .error(400, "ValidationError");
}

pub async fn rest_logout(h: &Harness) {
    register(h, "erin").await;
    let s1 = session(h, "erin").await;
    let s2 = session(h, "erin").await;
    assert_ne!(s1.session_id, s2.session_id);

    call(h, "POST", "/auth/logout", None, None).await.error(401, "Unauthorized");
    call(h, "POST", "/auth/logout", Some("garbage"), None).await.error(401, "Unauthorized");

    let r = call(h, "POST", "/auth/logout", Some(&s1.access), None).await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert_refused(h, &s1.access, "a logged-out access token").await;
    call(h, "POST", "/auth/logout", Some(&s1.access), None).await.error(401, "Unauthorized");
    let r = call(h, "POST", "/auth/refresh", None, Some(&json!({ "refresh_token": s1.refresh }))).await;
    r.error(401, "Unauthorized");

    // The other session goes on.
    assert_eq!(me_status(h, &s2.access).await, 200);
    call(h, "POST", "/auth/refresh", None, Some(&json!({ "refresh_token": s2.refresh }))).await.expect(200);
}

pub async fn rest_sessions(h: &Harness) {
    register(h, "frank").await;
    register(h, "grace").await;
    let login_with_agent = async |agent: &str| {
        let req = request("POST", "/auth/login", None, Some(&json!({ "username": "frank", "password": PASSWORD })))
            .header("User-Agent", agent);
        tokens_of(&send(h, req).await.expect(200))
    };
    let s1 = login_with_agent("rest-tests/laptop").await;
    let s2 = login_with_agent("rest-tests/phone").await;
    let g = session(h, "grace").await;

    let list = call(h, "GET", "/auth/sessions", Some(&s1.access), None).await.expect(200);
    let sessions = list["sessions"].as_array().expect("sessions");
    assert_eq!(sessions.len(), 2, "{list}");
    let ids: BTreeSet<&str> = sessions.iter().filter_map(|s| s["id"].as_str()).collect();
    assert_eq!(ids, BTreeSet::from([s1.session_id.as_str(), s2.session_id.as_str()]));
    for s in sessions {
        let mine = s["id"] == s1.session_id.as_str();
        assert_eq!(s["current"], mine, "current flag of {s}");
        assert_eq!(s["user_agent"], if mine { "rest-tests/laptop" } else { "rest-tests/phone" }, "{s}");
        assert_eq!(s["source_ip"], "127.0.0.1", "{s}");
        for k in ["created_at", "last_used_at", "expires_at"] {
            assert!(s[k].as_i64().is_some_and(|t| t > 0), "{k} of {s}");
        }
        let text = s.to_string();
        assert!(!text.contains(&s1.refresh) && !text.contains(&s2.refresh), "a session shows its refresh token");
    }
    // Seen from the other session, the flags swap.
    let list = call(h, "GET", "/auth/sessions", Some(&s2.access), None).await.expect(200);
    let current: Vec<&Value> =
        list["sessions"].as_array().expect("sessions").iter().filter(|s| s["current"] == true).collect();
    assert_eq!(current.len(), 1, "{list}");
    assert_eq!(current[0]["id"], s2.session_id.as_str());
    call(h, "GET", "/auth/sessions", None, None).await.error(401, "Unauthorized");

    // Another user can't end frank's session, nor learn whether it exists.
    let r = call(h, "DELETE", &format!("/auth/sessions/{}", s2.session_id), Some(&g.access), None).await;
    let not_yours = r.error(404, "NoSuchEntity");
    let r = call(h, "DELETE", "/auth/sessions/no-such-session", Some(&g.access), None).await;
    assert_eq!(r.error(404, "NoSuchEntity"), not_yours, "the messages tell sessions apart");
    assert_eq!(me_status(h, &s2.access).await, 200);
    let theirs = call(h, "GET", "/auth/sessions", Some(&g.access), None).await.expect(200);
    assert_eq!(theirs["sessions"].as_array().map(Vec::len), Some(1), "{theirs}");

    // Frank ends his other session.
    let r = call(h, "DELETE", &format!("/auth/sessions/{}", s2.session_id), Some(&s1.access), None).await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert_refused(h, &s2.access, "the access token of a revoked session").await;
    call(h, "POST", "/auth/refresh", None, Some(&json!({ "refresh_token": s2.refresh })))
        .await
        .error(401, "Unauthorized");
    let list = call(h, "GET", "/auth/sessions", Some(&s1.access), None).await.expect(200);
    let ids: Vec<&str> =
        list["sessions"].as_array().expect("sessions").iter().filter_map(|s| s["id"].as_str()).collect();
    assert_eq!(ids, [s1.session_id.as_str()]);
    call(h, "DELETE", &format!("/auth/sessions/{}", s2.session_id), Some(&s1.access), None)
        .await
        .error(404, "NoSuchEntity");
    // Grace is unaffected.
    assert_eq!(me_status(h, &g.access).await, 200);
}

pub async fn rest_profile(h: &Harness) {
    let profile = register(h, "heidi").await;
    let s = session(h, "heidi").await;
    let me = call(h, "GET", "/users/me", Some(&s.access), None).await.expect(200);
    assert!(me["email"].is_null() && me["display_name"].is_null(), "{me}");

    let patch = json!({ "email": "heidi@example.org", "display_name": "Heidi K." });
    let updated = call(h, "PATCH", "/users/me", Some(&s.access), Some(&patch)).await.expect(200);
    assert_eq!(updated["email"], "heidi@example.org");
    assert_eq!(updated["display_name"], "Heidi K.");
    assert_eq!(updated["user_id"], profile["user_id"]);
    let me = call(h, "GET", "/users/me", Some(&s.access), None).await.expect(200);
    assert_eq!(me["email"], "heidi@example.org");
    assert_eq!(me["display_name"], "Heidi K.");
    assert_eq!(me["username"], "heidi");

    // A field left out stays as it is.
    let updated =
        call(h, "PATCH", "/users/me", Some(&s.access), Some(&json!({ "display_name": "H" }))).await.expect(200);
    assert_eq!((updated["email"].as_str(), updated["display_name"].as_str()), (Some("heidi@example.org"), Some("H")));

    // Bad input changes nothing.
    for (what, body) in [
        ("bad email", json!({ "email": "heidi.example.org" })),
        ("display name with a control character", json!({ "display_name": "a\u{7}b" })),
        ("too long a display name", json!({ "display_name": "d".repeat(129) })),
        ("unknown field", json!({ "username": "root" })),
        ("wrong type", json!({ "email": 5 })),
    ] {
        let r = call(h, "PATCH", "/users/me", Some(&s.access), Some(&body)).await;
        assert_eq!(r.status, 400, "{what}: {}", r.text);
        r.error(400, "ValidationError");
    }
    let r = send(
        h,
        RawRequest::new("PATCH", &format!("{API}/users/me"))
            .header("Authorization", &format!("Bearer {}", s.access))
            .body("not json"),
    )
    .await;
    r.error(400, "ValidationError");
    let me = call(h, "GET", "/users/me", Some(&s.access), None).await.expect(200);
    assert_eq!((me["email"].as_str(), me["display_name"].as_str()), (Some("heidi@example.org"), Some("H")));
    assert_eq!(me["username"], "heidi");

    call(h, "PATCH", "/users/me", None, Some(&patch)).await.error(401, "Unauthorized");
}

pub async fn rest_password_change(h: &Harness) {
    register(h, "ivan").await;
    let s1 = session(h, "ivan").await;
    let s2 = session(h, "ivan").await;
    let s3 = session(h, "ivan").await;
    const NEW: &str = "battery-staple-42";
    let change = |old: &str, new: &str| json!({ "old_password": old, "new_password": new });

    let r = call(h, "POST", "/users/me/password", Some(&s1.access), Some(&change("wrong-password-1", NEW))).await;
    r.error(403, "AccessDenied");
    for weak in ["short-1", "onlyletters", "xxIVANxx-1"] {
        let r = call(h, "POST", "/users/me/password", Some(&s1.access), Some(&change(PASSWORD, weak))).await;
        assert_eq!(r.status, 400, "weak password {weak}: {}", r.text);
        r.error(400, "ValidationError");
    }
    call(h, "POST", "/users/me/password", Some(&s1.access), Some(&change(PASSWORD, PASSWORD)))
        .await
        .error(400, "ValidationError");
    call(h, "POST", "/users/me/password", Some(&s1.access), Some(&json!({ "new_password": NEW })))
        .await
        .error(400, "ValidationError");
    call(h, "POST", "/users/me/password", None, Some(&change(PASSWORD, NEW))).await.error(401, "Unauthorized");
    // Nothing changed so far.
    for s in [&s1, &s2, &s3] {
        assert_eq!(me_status(h, &s.access).await, 200);
    }

    let r = call(h, "POST", "/users/me/password", Some(&s1.access), Some(&change(PASSWORD, NEW))).await.expect(200);
    assert_eq!(r, json!({ "revoked_sessions": 2 }));
    assert_refused(h, &s2.access, "another session after a password change").await;
    assert_refused(h, &s3.access, "another session after a password change").await;
    call(h, "POST", "/auth/refresh", None, Some(&json!({ "refresh_token": s2.refresh })))
        .await
        .error(401, "Unauthorized");
    assert_eq!(me_status(h, &s1.access).await, 200, "the session that changed the password ended");

    login(h, "ivan", PASSWORD).await.error(401, "Unauthorized");
    let s4 = tokens_of(&login(h, "ivan", NEW).await.expect(200));
    assert_eq!(me_status(h, &s4.access).await, 200);
}

pub async fn rest_access_keys(h: &Harness) {
    let profile = register(h, "judy").await;
    register(h, "mallory").await;
    let s = session(h, "judy").await;
    let m = session(h, "mallory").await;

    let key = call(h, "POST", "/users/me/keys", Some(&s.access), None).await.expect(201);
    let ak = key["access_key_id"].as_str().expect("access_key_id").to_owned();
    let sk = key["secret_access_key"].as_str().expect("secret_access_key").to_owned();
    assert!(ak.starts_with("AKIA") && ak.len() >= 16, "{key}");
    assert!(sk.len() >= 32, "{key}");
    assert_eq!(key["status"], "Active");
    assert_eq!(key["user_name"], "judy");
    call(h, "POST", "/users/me/keys", None, None).await.error(401, "Unauthorized");

    // The pair works with the SDK: the account root owns what it creates.
    let c = sdk_client(h.addr, &ak, &sk);
    let bucket = format!("rest-keys-{}", random_hex(8));
    c.create_bucket().bucket(&bucket).send().await.expect("create bucket with a REST-made key");
    c.put_object()
        .bucket(&bucket)
        .key("hello.txt")
        .body(ByteStream::from_static(b"hi there"))
        .send()
        .await
        .expect("put");
    let got = c.get_object().bucket(&bucket).key("hello.txt").send().await.expect("get");
    assert_eq!(got.body.collect().await.expect("body").into_bytes().as_ref(), b"hi there");
    let listed = c.list_buckets().send().await.expect("list buckets");
    assert!(listed.buckets().iter().any(|b| b.name() == Some(bucket.as_str())), "own bucket not listed");
    let record = h.meta.get_bucket(&bucket).await.expect("get bucket").expect("bucket record");
    assert_eq!(Some(record.owner.as_str()), profile["account_id"].as_str(), "the bucket's owner is not the account");

    // Listed without its secret.
    let r = call(h, "GET", "/users/me/keys", Some(&s.access), None).await;
    assert!(!r.text.contains(&sk), "the key list shows the secret: {}", r.text);
    let list = r.expect(200);
    let keys = list["keys"].as_array().expect("keys");
    assert_eq!(keys.len(), 1, "{list}");
    assert_eq!(keys[0]["access_key_id"], ak.as_str());
    assert_eq!(keys[0]["status"], "Active");
    assert!(keys[0].get("secret_access_key").is_none(), "{list}");
    // Mallory sees none of judy's keys.
    let theirs = call(h, "GET", "/users/me/keys", Some(&m.access), None).await.expect(200);
    assert_eq!(theirs, json!({ "keys": [] }));

    // Disabled: refused within the cache TTL; enabled again: works again.
    let path = format!("/users/me/keys/{ak}");
    let since = Instant::now();
    let r = call(h, "PATCH", &path, Some(&s.access), Some(&json!({ "status": "Inactive" }))).await;
    assert_eq!(r.status, 204, "{}", r.text);
    until_key_refused(&c, &bucket, since, "a disabled key").await;
    let list = call(h, "GET", "/users/me/keys", Some(&s.access), None).await.expect(200);
    assert_eq!(list["keys"][0]["status"], "Inactive");
    for bad in [
        json!({ "status": "inactive" }),
        json!({ "status": "Bogus" }),
        json!({}),
        json!({ "status": "Active", "x": 1 }),
    ] {
        let r = call(h, "PATCH", &path, Some(&s.access), Some(&bad)).await;
        assert_eq!(r.status, 400, "{bad}: {}", r.text);
        r.error(400, "ValidationError");
    }
    let since = Instant::now();
    let r = call(h, "PATCH", &path, Some(&s.access), Some(&json!({ "status": "Active" }))).await;
    assert_eq!(r.status, 204, "{}", r.text);
    eventually("a re-enabled key", since, async || list_outcome(&c, &bucket).await.is_ok()).await;

    // Another user can neither change nor delete it.
    let r = call(h, "PATCH", &path, Some(&m.access), Some(&json!({ "status": "Inactive" }))).await;
    r.error(404, "NoSuchEntity");
    call(h, "DELETE", &path, Some(&m.access), None).await.error(404, "NoSuchEntity");
    call(h, "DELETE", &path, None, None).await.error(401, "Unauthorized");
    tokio::time::sleep(CACHE_DEADLINE).await;
    list_outcome(&c, &bucket).await.expect("the key still works after a stranger's attempts");
    let list = call(h, "GET", "/users/me/keys", Some(&s.access), None).await.expect(200);
    assert_eq!(list["keys"][0]["status"], "Active");

    // Deleted: gone from the list, refused by S3.
    let since = Instant::now();
    let r = call(h, "DELETE", &path, Some(&s.access), None).await;
    assert_eq!(r.status, 204, "{}", r.text);
    let list = call(h, "GET", "/users/me/keys", Some(&s.access), None).await.expect(200);
    assert_eq!(list, json!({ "keys": [] }));
    until_key_refused(&c, &bucket, since, "a deleted key").await;
    call(h, "DELETE", &path, Some(&s.access), None).await.error(404, "NoSuchEntity");
    call(h, "PATCH", &path, Some(&s.access), Some(&json!({ "status": "Active" }))).await.error(404, "NoSuchEntity");

    // A new key of the same account still owns the bucket.
    let key2 = call(h, "POST", "/users/me/keys", Some(&s.access), None).await.expect(201);
    let c2 = sdk_client(
        h.addr,
        key2["access_key_id"].as_str().expect("id"),
        key2["secret_access_key"].as_str().expect("secret"),
    );
    let got = c2.get_object().bucket(&bucket).key("hello.txt").send().await.expect("get with the new key");
    assert_eq!(got.body.collect().await.expect("body").into_bytes().as_ref(), b"hi there");
}

pub async fn rest_login_rate_limit(h: &Harness) {
    register(h, "kim").await;
    register(h, "leo").await;
    // Five failures for one name from one address (also counted for the address: 5 of its 20)...
    for i in 0..5 {
        let r = login(h, "kim", &format!("wrong-password-{i}")).await;
        assert_eq!(r.status, 401, "attempt {i}: {}", r.text);
    }
    // ...and the sixth attempt from that address is refused, even with the right password,
    // in any case, with a Retry-After of the window's rest.
    let r = login(h, "kim", PASSWORD).await;
    let message = r.error(429, "TooManyRequests");
    assert!(message.contains("retry in"), "{message}");
    let secs: u64 = r.retry_after.as_deref().and_then(|v| v.parse().ok()).expect("Retry-After");
    assert!((890..=900).contains(&secs), "Retry-After {secs}");
    login(h, "KIM", PASSWORD).await.error(429, "TooManyRequests");

    // The guesser did not lock the owner out: from another address the right password works
    // (and a wrong one is a plain 401).
    login_from(h, "127.0.0.2", "kim", "wrong-password-x").await.error(401, "Unauthorized");
    let kim = tokens_of(&login_from(h, "127.0.0.2", "kim", PASSWORD).await.expect(200));
    // The owner is told: the lockout of 127.0.0.1, on the profile and the sessions list.
    let me = call(h, "GET", "/users/me", Some(&kim.access), None).await.expect(200);
    let lockouts = me["login_lockouts"].as_array().expect("login_lockouts");
    assert_eq!(lockouts.len(), 1, "{me}");
    assert_eq!((lockouts[0]["kind"].as_str(), lockouts[0]["source"].as_str()), (Some("address"), Some("127.0.0.1")));
    let (at, until) = (lockouts[0]["at"].as_i64().expect("at"), lockouts[0]["until"].as_i64().expect("until"));
    assert!((890..=901).contains(&(until - at)), "{me}");
    let list = call(h, "GET", "/auth/sessions", Some(&kim.access), None).await.expect(200);
    assert_eq!(list["login_lockouts"], me["login_lockouts"], "{list}");
    // Nobody else sees them.
    let leo = session(h, "leo").await;
    let theirs = call(h, "GET", "/users/me", Some(&leo.access), None).await.expect(200);
    assert_eq!(theirs["login_lockouts"], json!([]), "{theirs}");
    call(h, "GET", "/auth/sessions", None, None).await.error(401, "Unauthorized");

    // Other names from the same address: still a plain 401 for a wrong password, and leo can
    // log in (which doesn't reset the address's count).
    login(h, "leo", "wrong-password-x").await.error(401, "Unauthorized");
    let leo = session(h, "leo").await;
    assert_eq!(me_status(h, &leo.access).await, 200);
    // 6 failures so far from 127.0.0.1; 14 more reach the per-address limit of 20.
    for i in 0..14 {
        let r = login(h, &format!("guess-{i}"), "wrong-password-x").await;
        assert_eq!(r.status, 401, "failure {} from the address: {}", 7 + i, r.text);
        r.error(401, "Unauthorized");
    }
    // Now every login from the address is refused, right password or not.
    login(h, "leo", PASSWORD).await.error(429, "TooManyRequests");
    login(h, "someone-new", "wrong-password-x").await.error(429, "TooManyRequests");
    // Sessions that exist go on, and other addresses log in.
    assert_eq!(me_status(h, &leo.access).await, 200);
    login_from(h, "127.0.0.3", "leo", PASSWORD).await.expect(200);
}

pub async fn rest_admin_accounts(h: &Harness) {
    let body = json!({ "name": "acme", "email": "ops@acme.example" });
    let created = admin(h, "POST", "/admin/accounts", Some(&body)).await.expect(201);
    let account_id = created["account"]["account_id"].as_str().expect("account_id").to_owned();
    assert_eq!(created["account"]["username"], "acme");
    assert_eq!(created["account"]["email"], "ops@acme.example");
    assert_eq!(created["account"]["arn"], format!("arn:aws:iam::{account_id}:root"));
    let ak = created["access_key"]["access_key_id"].as_str().expect("access_key_id").to_owned();
    let sk = created["access_key"]["secret_access_key"].as_str().expect("secret").to_owned();
    assert_eq!(created["access_key"]["status"], "Active");

    // The key works for S3, as the new account's root.
    let c = sdk_client(h.addr, &ak, &sk);
    let bucket = format!("acme-{}", random_hex(8));
    c.create_bucket().bucket(&bucket).send().await.expect("create bucket with the admin-made key");
    c.put_object().bucket(&bucket).key("k").body(ByteStream::from_static(b"v")).send().await.expect("put");
    let record = h.meta.get_bucket(&bucket).await.expect("get bucket").expect("bucket record");
    assert_eq!(record.owner, account_id, "the bucket's owner is not the new account");

    // Listed (the platform's own account is not).
    let list = admin(h, "GET", "/admin/accounts", None).await.expect(200);
    let accounts = list["accounts"].as_array().expect("accounts");
    let names: Vec<&str> = accounts.iter().filter_map(|a| a["name"].as_str()).collect();
    assert_eq!(names, ["acme"], "{list}");
    assert_eq!(accounts[0]["account_id"], account_id.as_str());

    // The same name again; bad input.
    admin(h, "POST", "/admin/accounts", Some(&json!({ "name": "ACME" }))).await.error(409, "EntityAlreadyExists");
    admin(h, "POST", "/admin/accounts", Some(&json!({ "name": "a" }))).await.error(400, "ValidationError");
    admin(h, "POST", "/admin/accounts", Some(&json!({ "name": "beta", "owner": "x" })))
        .await
        .error(400, "ValidationError");
    admin(h, "POST", "/admin/accounts", Some(&json!({ "name": "beta", "password": "weak" })))
        .await
        .error(400, "ValidationError");

    // With a password, the account's root can log in too.
    let beta =
        admin(h, "POST", "/admin/accounts", Some(&json!({ "name": "beta", "password": PASSWORD }))).await.expect(201);
    assert_eq!(beta["account"]["username"], "beta");
    let b = session(h, "beta").await;

    // Nobody else may manage accounts: an account's own key, a web session, anonymous, a
    // wrong signature.
    let acme_signer = signer_for(h, &ak, &sk);
    let other = json!({ "name": "intruder" });
    signed(h, &acme_signer, "POST", "/admin/accounts", Some(&other)).await.error(403, "AccessDenied");
    signed(h, &acme_signer, "GET", "/admin/accounts", None).await.error(403, "AccessDenied");
    signed(h, &acme_signer, "DELETE", "/admin/accounts/beta", None).await.error(403, "AccessDenied");
    call(h, "POST", "/admin/accounts", Some(&b.access), Some(&other)).await.error(403, "AccessDenied");
    call(h, "GET", "/admin/accounts", Some(&b.access), None).await.error(403, "AccessDenied");
    let r = call(h, "POST", "/admin/accounts", None, Some(&other)).await;
    assert!(matches!(r.status, 401 | 403), "anonymous: {} {}", r.status, r.text);
    call(h, "DELETE", "/admin/accounts/beta", None, None).await.error(403, "AccessDenied");
    let forged = signer_for(h, &h.root.access_key, "0000000000000000000000000000000000000000");
    signed(h, &forged, "POST", "/admin/accounts", Some(&other)).await.error(403, "SignatureDoesNotMatch");
    // A body changed after signing.
    let mut req = h.signer().sign_for(
        "iam",
        request("POST", "/admin/accounts", None, Some(&other)),
        time::OffsetDateTime::now_utc(),
    );
    req.body = json!({ "name": "intrudes" }).to_string().into_bytes();
    send(h, req).await.error(403, "SignatureDoesNotMatch");
    let unknown = signer_for(h, "AKIAUNKNOWNUNKNOWN00", "0000000000000000000000000000000000000000");
    signed(h, &unknown, "POST", "/admin/accounts", Some(&other)).await.error(403, "InvalidClientTokenId");
    // A signature from the distant past.
    let old = h.signer().sign_for(
        "iam",
        request("GET", "/admin/accounts", None, None),
        time::OffsetDateTime::now_utc() - time::Duration::hours(1),
    );
    send(h, old).await.error(403, "RequestExpired");
    assert!(h.iam.store().find_account("intruder").await.expect("find").is_none(), "a refused call created it");
    assert!(h.iam.store().find_account("intrudes").await.expect("find").is_none(), "a refused call created it");

    // Deleting the account ends its key.
    let since = Instant::now();
    let r = admin(h, "DELETE", "/admin/accounts/acme", None).await;
    assert_eq!(r.status, 204, "{}", r.text);
    until_key_refused(&c, &bucket, since, "the key of a deleted account").await;
    let list = admin(h, "GET", "/admin/accounts", None).await.expect(200);
    let names: Vec<&str> =
        list["accounts"].as_array().expect("accounts").iter().filter_map(|a| a["name"].as_str()).collect();
    assert_eq!(names, ["beta"], "{list}");
    admin(h, "DELETE", "/admin/accounts/acme", None).await.error(404, "NoSuchEntity");
    admin(h, "DELETE", "/admin/accounts/admin", None).await.error(404, "NoSuchEntity");
    // The deleted account's name is free again.
    admin(h, "POST", "/admin/accounts", Some(&json!({ "name": "acme" }))).await.expect(201);
}

pub async fn rest_admin_explain(h: &Harness) {
    // Account "owner" with a bucket; its users "reader" (allowed to read), "idle" (no policy).
    let owner = register(h, "owner").await;
    let owner_id = owner["account_id"].as_str().expect("account_id").to_owned();
    let s = session(h, "owner").await;
    let key = call(h, "POST", "/users/me/keys", Some(&s.access), None).await.expect(201);
    let (ak, sk) = (key["access_key_id"].as_str().expect("id"), key["secret_access_key"].as_str().expect("secret"));
    let owner_client = sdk_client(h.addr, ak, sk);
    let bucket = format!("explain-{}", random_hex(8));
    owner_client.create_bucket().bucket(&bucket).send().await.expect("create bucket");
    owner_client
        .put_object()
        .bucket(&bucket)
        .key("photo.jpg")
        .body(ByteStream::from_static(b"jpg"))
        .send()
        .await
        .expect("put");

    let read = policy(&json!([{
        "Effect": "Allow", "Action": "s3:GetObject", "Resource": format!("arn:aws:s3:::{bucket}/*"),
    }]));
    let reader = iam_user(h, &owner_id, "reader", &[("read", read)]).await;
    let reader_arn = format!("arn:aws:iam::{owner_id}:user/reader");
    let ask = |principal: &str| json!({ "principal": principal, "action": "s3:GetObject", "resource": format!("arn:aws:s3:::{bucket}/photo.jpg") });

    // (a) allowed by the user's inline policy.
    let r = admin(h, "POST", "/admin/explain", Some(&ask(&reader_arn))).await.expect(200);
    assert_eq!(r["allowed"], true, "{r}");
    assert_eq!(r["decision"], "Allow", "{r}");
    assert_eq!(r["statement"]["policy"], "user/inline/read", "{r}");
    assert_eq!(r["statement"]["effect"], "Allow", "{r}");
    assert_eq!(r["statement"]["index"], 0, "{r}");
    assert_eq!(r["principal"], reader_arn.as_str());
    assert_eq!(r["action"], "s3:GetObject");
    assert_eq!(r["resource"], format!("arn:aws:s3:::{bucket}/photo.jpg"));
    assert_eq!(r["bucket_owner"], owner_id.as_str());
    assert_eq!(r["policies_considered"], json!(["user/inline/read"]));
    assert!(r["reason"].as_str().is_some_and(|s| s.contains("identity-based policy")), "{r}");
    // The explanation matches what S3 does with the user's key.
    let rk = h.iam.create_access_key(&reader, Audit::none()).await.expect("key");
    let reader_client = sdk_client(h.addr, &rk.access_key_id, &rk.secret.0);
    reader_client.get_object().bucket(&bucket).key("photo.jpg").send().await.expect("the reader reads");

    // (b) the same user with an extra Deny.
    let deny = policy(&json!([{
        "Sid": "NoPhotos", "Effect": "Deny", "Action": "s3:GetObject", "Resource": format!("arn:aws:s3:::{bucket}/*.jpg"),
    }]));
    add_policy(h, &reader, "no-photos", &deny).await;
    let r = admin(h, "POST", "/admin/explain", Some(&ask(&reader_arn))).await.expect(200);
    assert_eq!((r["allowed"].as_bool(), r["decision"].as_str()), (Some(false), Some("ExplicitDeny")), "{r}");
    assert_eq!(r["statement"]["policy"], "user/inline/no-photos", "{r}");
    assert_eq!(r["statement"]["sid"], "NoPhotos", "{r}");
    assert_eq!(r["statement"]["effect"], "Deny", "{r}");
    assert!(r["reason"].as_str().is_some_and(|s| s.contains("Deny")), "{r}");
    let considered: BTreeSet<&str> =
        r["policies_considered"].as_array().expect("list").iter().filter_map(Value::as_str).collect();
    assert_eq!(considered, BTreeSet::from(["user/inline/read", "user/inline/no-photos"]));
    eventually("the Deny reaching S3", Instant::now(), async || {
        reader_client.get_object().bucket(&bucket).key("photo.jpg").send().await.is_err()
    })
    .await;

    // (c) no policy at all.
    iam_user(h, &owner_id, "idle", &[]).await;
    let r =
        admin(h, "POST", "/admin/explain", Some(&ask(&format!("arn:aws:iam::{owner_id}:user/idle")))).await.expect(200);
    assert_eq!((r["allowed"].as_bool(), r["decision"].as_str()), (Some(false), Some("ImplicitDeny")), "{r}");
    assert!(r["statement"].is_null(), "{r}");
    let reason = r["reason"].as_str().expect("reason");
    assert!(reason.split_whitespace().count() >= 4 && reason.contains("implicit deny"), "reason: {reason}");
    assert_eq!(r["policies_considered"], json!([]));

    // The owner's root: allowed as the owner, with no statement.
    let r = admin(h, "POST", "/admin/explain", Some(&ask(&format!("arn:aws:iam::{owner_id}:root")))).await.expect(200);
    assert_eq!((r["allowed"].as_bool(), r["decision"].as_str()), (Some(true), Some("Allow")), "{r}");
    assert!(r["reason"].as_str().is_some_and(|s| s.contains("root user of the account that owns")), "{r}");

    // (d) another account's user, granted by the bucket policy (and its own policy).
    let partner = register(h, "partner").await;
    let partner_id = partner["account_id"].as_str().expect("account_id").to_owned();
    let own = policy(&json!([{ "Effect": "Allow", "Action": "s3:GetObject", "Resource": "*" }]));
    let viewer = iam_user(h, &partner_id, "viewer", &[("own", own)]).await;
    let viewer_arn = format!("arn:aws:iam::{partner_id}:user/viewer");
    let r = admin(h, "POST", "/admin/explain", Some(&ask(&viewer_arn))).await.expect(200);
    assert_eq!((r["allowed"].as_bool(), r["decision"].as_str()), (Some(false), Some("ImplicitDeny")), "{r}");
    assert!(r["reason"].as_str().is_some_and(|s| s.contains("another account")), "{r}");
    let grant = policy(&json!([
        { "Sid": "Other", "Effect": "Allow", "Principal": { "AWS": format!("arn:aws:iam::{owner_id}:root") },
          "Action": "s3:ListBucket", "Resource": format!("arn:aws:s3:::{bucket}") },
        { "Sid": "PartnerRead", "Effect": "Allow", "Principal": { "AWS": viewer_arn.as_str() },
          "Action": "s3:GetObject", "Resource": format!("arn:aws:s3:::{bucket}/*") },
    ]));
    owner_client.put_bucket_policy().bucket(&bucket).policy(&grant).send().await.expect("put bucket policy");
    let r = admin(h, "POST", "/admin/explain", Some(&ask(&viewer_arn))).await.expect(200);
    assert_eq!((r["allowed"].as_bool(), r["decision"].as_str()), (Some(true), Some("Allow")), "{r}");
    assert_eq!(r["statement"]["policy"], "bucket-policy", "{r}");
    assert_eq!(r["statement"]["sid"], "PartnerRead", "{r}");
    assert_eq!(r["statement"]["index"], 1, "{r}");
    assert_eq!(r["bucket_owner"], owner_id.as_str());
    assert_eq!(r["policies_considered"], json!(["user/inline/own", "bucket-policy"]));
    assert!(r["reason"].as_str().is_some_and(|s| s.contains("both")), "{r}");
    let vk = h.iam.create_access_key(&viewer, Audit::none()).await.expect("key");
    sdk_client(h.addr, &vk.access_key_id, &vk.secret.0)
        .get_object()
        .bucket(&bucket)
        .key("photo.jpg")
        .send()
        .await
        .expect("the partner's viewer reads, as explained");

    // The platform admin may do everything.
    let r = admin(h, "POST", "/admin/explain", Some(&ask("arn:aws:iam::000000000000:root"))).await.expect(200);
    assert_eq!((r["allowed"].as_bool(), r["decision"].as_str()), (Some(true), Some("Allow")), "{r}");
    assert!(r["reason"].as_str().is_some_and(|s| s.contains("platform administrator")), "{r}");

    // Anonymous principals are explained too.
    let r = admin(h, "POST", "/admin/explain", Some(&ask("*"))).await.expect(200);
    assert_eq!((r["allowed"].as_bool(), r["decision"].as_str()), (Some(false), Some("ImplicitDeny")), "{r}");

    // Only the platform admin may ask.
    let body = ask(&reader_arn);
    call(h, "POST", "/admin/explain", None, Some(&body)).await.error(403, "AccessDenied");
    call(h, "POST", "/admin/explain", Some(&s.access), Some(&body)).await.error(403, "AccessDenied");
    signed(h, &signer_for(h, ak, sk), "POST", "/admin/explain", Some(&body)).await.error(403, "AccessDenied");
    let forged = signer_for(h, &h.root.access_key, "0000000000000000000000000000000000000000");
    signed(h, &forged, "POST", "/admin/explain", Some(&body)).await.error(403, "SignatureDoesNotMatch");

    // Unknown principals, bad questions.
    let ghost = ask(&format!("arn:aws:iam::{owner_id}:user/ghost"));
    admin(h, "POST", "/admin/explain", Some(&ghost)).await.error(404, "NoSuchEntity");
    admin(h, "POST", "/admin/explain", Some(&ask("arn:aws:iam::999999999999:root"))).await.error(404, "NoSuchEntity");
    admin(h, "POST", "/admin/explain", Some(&ask("not-an-arn"))).await.error(404, "NoSuchEntity");
    admin(h, "POST", "/admin/explain", Some(&json!({ "principal": reader_arn }))).await.error(400, "ValidationError");
    let mut extra = ask(&reader_arn);
    extra["verbose"] = json!(true);
    admin(h, "POST", "/admin/explain", Some(&extra)).await.error(400, "ValidationError");
    admin(h, "GET", "/admin/explain", None).await.error(405, "MethodNotAllowed");
}

pub async fn rest_unknown_paths(h: &Harness) {
    for path in ["/nope", "/", "", "/shares/../auth/login", "/v2/auth/login", "/nope/auth/login"] {
        let r = call(h, "GET", path, None, None).await;
        assert_eq!(r.status, 404, "GET {API}{path}: {}", r.text);
        r.error(404, "NotFound");
    }
    let r = call(h, "POST", "/nope", None, Some(&json!({}))).await;
    r.error(404, "NotFound");

    for (method, path) in [
        ("GET", "/auth/login"),
        ("PUT", "/auth/register"),
        ("DELETE", "/users/me"),
        ("POST", "/users/me"),
        ("GET", "/users/me/password"),
        ("PUT", "/users/me/keys"),
        ("GET", "/users/me/nothing"),
        ("POST", "/auth/sessions"),
        ("PUT", "/admin/accounts"),
    ] {
        let r = call(h, method, path, None, None).await;
        assert_eq!(r.status, 400, "{method} {API}{path}: {}", r.text);
        r.error(400, "InvalidAction");
    }
    // With a valid session, the same.
    register(h, "olga").await;
    let s = session(h, "olga").await;
    call(h, "DELETE", "/users/me", Some(&s.access), None).await.error(400, "InvalidAction");
    assert_eq!(me_status(h, &s.access).await, 200, "a refused call ended the session");
    // Paths next to the API are S3's, not the API's.
    let r = h.raw(RawRequest::new("GET", "/_api/v2/auth/login")).await;
    assert!(r.status != 200 && r.header("content-type") != Some("application/json"), "{} {}", r.status, r.text());
}

/// Identity events (ADR 0006) in the outbox, by account.
async fn identity_events(h: &Harness, account_id: &str) -> Vec<cloudstore_events::Event> {
    let rows = h.meta.outbox_rows(100_000).await.expect("outbox rows");
    rows.iter()
        .map(|r| cloudstore_events::decode(r.body.as_bytes()).expect("an event"))
        .filter(|e| e.account_id.as_deref() == Some(account_id))
        .collect()
}

pub async fn rest_identity_events(h: &Harness) {
    let name = format!("idev{}", random_hex(8));
    let profile = register(h, &name).await;
    let account_id = profile["account_id"].as_str().expect("account id").to_owned();
    login(h, &name, "not-the-password").await.error(401, "Unauthorized");
    let s = session(h, &name).await;
    call(h, "PATCH", "/users/me", Some(&s.access), Some(&json!({ "display_name": "Ev" }))).await.expect(200);
    let key = call(h, "POST", "/users/me/keys", Some(&s.access), None).await.expect(201);
    let key_id = key["access_key_id"].as_str().expect("key id").to_owned();
    call(h, "DELETE", &format!("/users/me/keys/{key_id}"), Some(&s.access), None).await.expect(204);
    // A refused change writes no event.
    call(h, "DELETE", &format!("/users/me/keys/{key_id}"), Some(&s.access), None).await.error(404, "NoSuchEntity");
    let new_password = "battery-staple-7";
    let body = json!({ "old_password": PASSWORD, "new_password": new_password });
    call(h, "POST", "/users/me/password", Some(&s.access), Some(&body)).await.expect(200);
    call(h, "POST", "/auth/logout", Some(&s.access), None).await.expect(204);

    let events = identity_events(h, &account_id).await;
    let types: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(
        types,
        [
            "user_registered",
            "login_failed",
            "user_logged_in",
            "profile_updated",
            "access_key_created",
            "access_key_deleted",
            "password_changed",
            "session_revoked"
        ]
    );
    let failed = &events[1];
    assert_eq!(failed.detail.get("username").map(String::as_str), Some(name.as_str()));
    assert_eq!(failed.status, Some(401));
    assert!(failed.user_id.is_none(), "a failed login names no user: {failed:?}");
    for e in &events {
        assert_eq!(e.source_ip.as_deref(), Some("127.0.0.1"), "{e:?}");
        assert!(e.request_id.as_deref().is_some_and(|r| !r.is_empty()), "{e:?}");
    }
    assert_eq!(events[4].detail.get("key_id"), Some(&key_id));
    assert_eq!(events[2].principal_arn.as_deref(), Some(format!("arn:aws:iam::{account_id}:root").as_str()));
    // Nothing secret in any of them.
    for e in &events {
        let body = String::from_utf8(e.encode()).expect("utf-8");
        assert!(
            !body.contains(PASSWORD)
                && !body.contains(new_password)
                && !body.contains("not-the-password")
                && !body.contains(&s.access),
            "{body}"
        );
    }
}

/// IAM Query API changes and the platform admin's account changes write their events with the
/// change; refused ones write none.
pub async fn iam_query_and_admin_events(h: &Harness) {
    let name = format!("qev{}", random_hex(8));
    let (profile, key) =
        h.iam.admin_create_account(&name, None, None, &Default::default()).await.expect("create account");
    let account_id = profile.account_id.clone();
    let signer = signer_for(h, &key.access_key_id, &key.secret.0);
    let iam = |query: &str| {
        let req = RawRequest::new("POST", "/")
            .header("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
            .body(format!("{query}&Version=2010-05-08").into_bytes());
        signer.sign_for("iam", req, time::OffsetDateTime::now_utc())
    };
    let doc = "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Action%22%3A%22s3%3AGetObject%22%2C%22Resource%22%3A%22*%22%7D%5D%7D";
    for (query, status) in [
        ("Action=CreateUser&UserName=worker".to_owned(), 200),
        ("Action=CreateUser&UserName=WORKER".to_owned(), 409),
        (format!("Action=PutUserPolicy&UserName=worker&PolicyName=read&PolicyDocument={doc}"), 200),
        ("Action=DeleteUserPolicy&UserName=worker&PolicyName=nosuch".to_owned(), 404),
        ("Action=CreateAccessKey&UserName=worker".to_owned(), 200),
        ("Action=ListUsers".to_owned(), 200),
        ("Action=CreateGroup&GroupName=devs".to_owned(), 200),
        ("Action=DeleteUser&UserName=worker".to_owned(), 409),
    ] {
        let resp = h.raw(iam(&query)).await;
        assert_eq!(resp.status, status, "{query}: {}", resp.text());
    }
    let events = identity_events(h, &account_id).await;
    let types: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(
        types,
        [
            "user_registered",
            "access_key_created",
            "user_created",
            "policy_changed",
            "access_key_created",
            "identity_changed"
        ],
        "{events:?}"
    );
    let admin_arn = format!("arn:aws:iam::{}:root", cloudstore_iam_api::ADMIN_ACCOUNT_ID);
    assert_eq!(events[0].principal_arn.as_deref(), Some(admin_arn.as_str()), "the admin created the account");
    assert_eq!(events[1].detail.get("key_id"), Some(&key.access_key_id));
    let root_arn = format!("arn:aws:iam::{account_id}:root");
    for e in &events[2..] {
        assert_eq!(e.principal_arn.as_deref(), Some(root_arn.as_str()), "{e:?}");
        assert_eq!(e.access_key.as_deref(), Some(key.access_key_id.as_str()), "{e:?}");
    }
    assert_eq!(events[2].detail.get("UserName").map(String::as_str), Some("worker"));
    assert_eq!(events[3].detail.get("action").map(String::as_str), Some("iam:PutUserPolicy"));
    assert!(events[4].detail.get("key_id").is_some_and(|k| k.starts_with("AKIA")), "{:?}", events[4]);

    // The admin deletes the account: its last event.
    admin(h, "DELETE", &format!("/admin/accounts/{name}"), None).await.expect(204);
    let events = identity_events(h, &account_id).await;
    let last = events.last().expect("events");
    assert_eq!(last.event_type.as_str(), "identity_changed");
    assert_eq!(last.detail.get("action").map(String::as_str), Some("DeleteAccount"));
    assert_eq!(last.principal_arn.as_deref(), Some(admin_arn.as_str()));
}

/// A user revokes the presigned URLs of one of its keys, or of all of them, through the REST
/// API; another user's key is not theirs to revoke.
pub async fn rest_presigned_revocation(h: &Harness) {
    let name = format!("prv{}", random_hex(8));
    register(h, &name).await;
    let s = session(h, &name).await;
    let key = call(h, "POST", "/users/me/keys", Some(&s.access), None).await.expect(201);
    let key_id = key["access_key_id"].as_str().expect("key id").to_owned();
    let secret = key["secret_access_key"].as_str().expect("secret").to_owned();
    let client = sdk_client(h.addr, &key_id, &secret);
    let bucket = format!("prv-{}", random_hex(10));
    client.create_bucket().bucket(&bucket).send().await.expect("bucket");
    client.put_object().bucket(&bucket).key("a.txt").body(ByteStream::from_static(b"a")).send().await.expect("put");
    let cfg = || aws_sdk_s3::presigning::PresigningConfig::expires_in(Duration::from_secs(300)).expect("config");
    let url = client.get_object().bucket(&bucket).key("a.txt").presigned(cfg()).await.expect("presign");
    assert_eq!(h.raw(crate::auth::presigned_raw(&url, b"")).await.status, 200);

    // Someone else's key: not found, nothing revoked.
    let other = format!("prv{}", random_hex(8));
    register(h, &other).await;
    let o = session(h, &other).await;
    call(h, "POST", &format!("/users/me/keys/{key_id}/revoke-presigned"), Some(&o.access), None)
        .await
        .error(404, "NoSuchEntity");
    call(h, "POST", &format!("/users/me/keys/{key_id}/revoke-presigned"), None, None).await.error(401, "Unauthorized");

    let revoked =
        call(h, "POST", &format!("/users/me/keys/{key_id}/revoke-presigned"), Some(&s.access), None).await.expect(200);
    let at = revoked["presigned_not_before"].as_i64().expect("time");
    let keys = call(h, "GET", "/users/me/keys", Some(&s.access), None).await.expect(200);
    assert_eq!(keys["keys"][0]["presigned_not_before"].as_i64(), Some(at), "{keys}");
    tokio::time::sleep(Duration::from_millis(2300)).await;
    h.raw(crate::auth::presigned_raw(&url, b"")).await.assert_error(403, "AccessDenied");
    let fresh = client.get_object().bucket(&bucket).key("a.txt").presigned(cfg()).await.expect("presign");
    assert_eq!(h.raw(crate::auth::presigned_raw(&fresh, b"")).await.status, 200, "signed after the revocation");

    call(h, "POST", "/users/me/revoke-presigned", Some(&s.access), None).await.expect(200);
    tokio::time::sleep(Duration::from_millis(2300)).await;
    h.raw(crate::auth::presigned_raw(&fresh, b"")).await.assert_error(403, "AccessDenied");
    client.head_object().bucket(&bucket).key("a.txt").send().await.expect("the key itself still works");
}

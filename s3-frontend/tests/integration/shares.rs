//! Public share links (issue #13 item 1, ADR 0010) with raw requests, as curl sends them:
//! creation and management under `/_api/v1/shares` (SigV4-signed), downloads from `/s/{token}`
//! with no credentials — bytes, ranges, headers, the download count (a range from byte 0 counts,
//! other ranges and HEAD do not), expiry, revocation, a creator losing access, strangers
//! refused, and the `share_accessed` events.

use std::time::Duration;

use aws_sdk_s3::primitives::ByteStream;
use cloudstore_events::Event;
use cloudstore_iam::store::OwnerKind;
use serde_json::{Value, json};

use crate::harness::{Harness, RawRequest, RawResponse, Signer, pattern, random_hex};

pub(crate) const API: &str = "/_api/v1/shares";

/// An account's root: (SDK client, account id, signer for REST calls).
pub(crate) async fn account(h: &Harness, name: &str) -> (aws_sdk_s3::Client, String, Signer) {
    let (profile, key) =
        h.iam.admin_create_account(name, None, None, &Default::default()).await.expect("create account");
    let client = crate::harness::sdk_client(h.addr, &key.access_key_id, &key.secret.0);
    let signer = Signer { access_key: key.access_key_id.clone(), secret_key: key.secret.0.clone(), ..h.signer() };
    (client, profile.account_id, signer)
}

/// A REST call signed by `signer`.
pub(crate) async fn call(h: &Harness, signer: &Signer, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
    let mut req = RawRequest::new(method, &format!("{API}{path}"));
    if let Some(b) = body {
        req = req.header("Content-Type", "application/json").body(b.to_string());
    }
    let req = signer.sign_for("s3", req, time::OffsetDateTime::now_utc());
    let resp = h.raw(req).await;
    let v = if resp.body.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&resp.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", resp.text()))
    };
    (resp.status, v)
}

/// Creates a link; returns (id, path of the link).
pub(crate) async fn create(h: &Harness, signer: &Signer, body: &Value) -> (String, String) {
    let (status, v) = call(h, signer, "POST", "", Some(body)).await;
    assert_eq!(status, 201, "{v}");
    let url = v["url"].as_str().expect("url");
    let path = url.split_once("://").map(|(_, rest)| &rest[rest.find('/').expect("path")..]).expect("absolute url");
    assert!(path.starts_with("/s/") && path.len() >= 3 + 22, "{url}");
    (v["id"].as_str().expect("id").to_owned(), path.to_owned())
}

pub(crate) async fn link(h: &Harness, method: &str, path: &str, range: Option<&str>) -> RawResponse {
    let mut req = RawRequest::new(method, path);
    if let Some(r) = range {
        req = req.header("Range", r);
    }
    h.raw(req).await
}

pub(crate) async fn downloads(h: &Harness, signer: &Signer, id: &str) -> u64 {
    let (status, v) = call(h, signer, "GET", &format!("/{id}"), None).await;
    assert_eq!(status, 200, "{v}");
    v["downloads"].as_u64().expect("downloads")
}

pub(crate) fn assert_link_headers(r: &RawResponse) {
    assert_eq!(r.header("referrer-policy"), Some("no-referrer"));
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(r.header("cache-control"), Some("private, no-store"));
}

/// Downloads, ranges, HEAD, the limit, expiry, revocation, headers and events.
pub async fn share_links_download_and_count(h: &Harness) {
    let tag = random_hex(6);
    let (owner, account_id, signer) = account(h, &format!("sharer-{tag}")).await;
    let bucket = format!("share-{}", random_hex(10));
    owner.create_bucket().bucket(&bucket).send().await.expect("create bucket");
    let data = pattern(100_000, 7);
    owner
        .put_object()
        .bucket(&bucket)
        .key("docs/page.html")
        .content_type("text/html")
        .body(ByteStream::from(data.clone()))
        .send()
        .await
        .expect("put");

    let (id, path) = create(
        h,
        &signer,
        &json!({ "bucket": bucket, "key": "docs/page.html", "expires_in": 3600, "max_downloads": 2, "filename": "résumé 1.html" }),
    )
    .await;

    // A browser gets a page, which never counts; curl (Accept: */*) gets the bytes.
    let browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
    let page = h.raw(RawRequest::new("GET", &path).header("Accept", browser)).await;
    assert_eq!(page.status, 200);
    assert_eq!(page.header("content-type"), Some("text/html; charset=utf-8"));
    let html = page.text();
    assert!(
        html.contains("résumé 1.html") && html.contains("97.7 KiB") && html.contains("href=\"?download=1\""),
        "{html}"
    );
    assert!(html.contains("Downloads left: 2") && !html.contains("<script"), "{html}");
    assert_link_headers(&page);
    assert_eq!(downloads(h, &signer, &id).await, 0);

    // HEAD never counts.
    let head = link(h, "HEAD", &path, None).await;
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-length"), Some("100000"));
    assert!(head.body.is_empty());
    assert_link_headers(&head);
    assert_eq!(downloads(h, &signer, &id).await, 0);

    // A whole download (the page's button): the bytes, the headers; HTML is never served as a
    // page.
    let got = h.raw(RawRequest::new("GET", &format!("{path}?download=1")).header("Accept", browser)).await;
    assert_eq!(got.status, 200);
    assert!(got.body == data, "the downloaded bytes match");
    assert_link_headers(&got);
    assert_eq!(got.header("content-type"), Some("application/octet-stream"));
    assert_eq!(
        got.header("content-disposition"),
        Some("attachment; filename=\"r_sum_ 1.html\"; filename*=UTF-8''r%C3%A9sum%C3%A9%201.html")
    );
    assert_eq!(downloads(h, &signer, &id).await, 1);

    // A download in ranges counts once: the range from byte 0, not the ones after it.
    let first = link(h, "GET", &path, Some("bytes=0-49999")).await;
    assert_eq!(first.status, 206);
    assert_eq!(first.header("content-range"), Some("bytes 0-49999/100000"));
    let second = link(h, "GET", &path, Some("bytes=50000-")).await;
    assert_eq!(second.status, 206);
    assert!([first.body, second.body].concat() == data, "the ranges join to the object");
    assert_eq!(downloads(h, &signer, &id).await, 2);

    // Used up: a new download is 410; the last download may still resume for a while.
    let refused = link(h, "GET", &path, None).await;
    assert_eq!(refused.status, 410, "{}", refused.text());
    assert_link_headers(&refused);
    assert_eq!(link(h, "GET", &path, Some("bytes=0-")).await.status, 410);
    let resumed = link(h, "GET", &path, Some("bytes=99990-")).await;
    assert_eq!(resumed.status, 206);
    assert!(resumed.body == data[99_990..]);
    assert_eq!(link(h, "GET", &path, Some("bytes=100000-")).await.status, 416);
    assert_eq!(downloads(h, &signer, &id).await, 2);

    // A page of another origin may fetch the link (no credentials): preflight and headers.
    let pre = h
        .raw(
            RawRequest::new("OPTIONS", &path)
                .header("Origin", "https://elsewhere.example")
                .header("Access-Control-Request-Method", "GET")
                .header("Access-Control-Request-Headers", "range"),
        )
        .await;
    assert_eq!(pre.status, 204, "{}", pre.text());
    assert_eq!(pre.header("access-control-allow-origin"), Some("*"));
    assert!(pre.header("access-control-allow-headers").is_some_and(|v| v.contains("range")));
    let put = h
        .raw(
            RawRequest::new("OPTIONS", &path)
                .header("Origin", "https://elsewhere.example")
                .header("Access-Control-Request-Method", "PUT"),
        )
        .await;
    assert_eq!(put.status, 403, "links are read-only");
    let cross = h.raw(RawRequest::new("HEAD", &path).header("Origin", "https://elsewhere.example")).await;
    assert_eq!(cross.header("access-control-allow-origin"), Some("*"));
    assert!(cross.header("access-control-expose-headers").is_some_and(|v| v.contains("content-disposition")));

    // Unknown tokens are 404.
    assert_eq!(link(h, "GET", "/s/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", None).await.status, 404);

    // Expiry: 410, the object untouched.
    let (_, short) = create(h, &signer, &json!({ "bucket": bucket, "key": "docs/page.html", "expires_in": 1 })).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(link(h, "GET", &short, None).await.status, 410);
    assert_eq!(link(h, "HEAD", &short, None).await.status, 410);

    // Revocation: 204, then the link is 404 and shows as revoked.
    let (rid, rpath) =
        create(h, &signer, &json!({ "bucket": bucket, "key": "docs/page.html", "expires_in": 60 })).await;
    assert_eq!(link(h, "GET", &rpath, Some("bytes=0-0")).await.status, 206);
    assert_eq!(call(h, &signer, "DELETE", &format!("/{rid}"), None).await.0, 204);
    assert_eq!(link(h, "GET", &rpath, None).await.status, 404);
    let (status, shown) = call(h, &signer, "GET", &format!("/{rid}"), None).await;
    assert_eq!((status, shown["revoked"].as_bool(), shown["downloads"].as_u64()), (200, Some(true), Some(1)));
    assert!(shown["last_used_at"].is_string(), "{shown}");

    // The listing has the account's three links.
    let (status, list) = call(h, &signer, "GET", "", None).await;
    assert_eq!(status, 200);
    assert_eq!(list["shares"].as_array().map(Vec::len), Some(3), "{list}");

    // Validation.
    for bad in [
        json!({ "bucket": bucket, "key": "docs/page.html", "expires_in": 8 * 24 * 3600 }),
        json!({ "bucket": bucket, "key": "docs/page.html", "expires_in": 0 }),
        json!({ "bucket": bucket, "key": "docs/page.html", "expires_in": 60, "max_downloads": 0 }),
        json!({ "bucket": bucket, "key": "docs/page.html", "expires_in": 60, "filename": "a/b" }),
        json!({ "bucket": bucket, "expires_in": 60 }),
    ] {
        assert_eq!(call(h, &signer, "POST", "", Some(&bad)).await.0, 400, "{bad}");
    }
    let missing = json!({ "bucket": bucket, "key": "nope", "expires_in": 60 });
    assert_eq!(call(h, &signer, "POST", "", Some(&missing)).await.0, 404);

    // Every use is a share_accessed event of the owner's account, with the link's id.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let rows = h.meta.outbox_rows(100_000).await.expect("outbox rows");
    let events: Vec<Event> = rows
        .iter()
        .filter_map(|r| cloudstore_events::decode(r.body.as_bytes()).ok())
        .filter(|e| e.bucket.as_deref() == Some(bucket.as_str()))
        .collect();
    let accessed: Vec<&Event> = events
        .iter()
        .filter(|e| e.event_type.as_str() == "share_accessed" && e.detail.get("share_id") == Some(&id))
        .collect();
    // Served: the page, HEAD, the whole download, two ranges, the resumed range, the
    // cross-origin HEAD; refused: two new downloads of the used-up link (410) and a range past
    // the end (416).
    let served: Vec<&&Event> = accessed.iter().filter(|e| e.status.is_some_and(|s| s < 300)).collect();
    assert_eq!(served.len(), 7, "{served:?}");
    let refused: Vec<u16> = accessed.iter().filter_map(|e| e.status).filter(|s| *s >= 400).collect();
    assert_eq!(refused, [410, 410, 416], "{accessed:?}");
    let counted = accessed.iter().filter(|e| e.detail.get("counted").map(String::as_str) == Some("true")).count();
    assert_eq!(counted, 2);
    assert!(accessed.iter().all(|e| e.account_id.as_deref() == Some(account_id.as_str())));
    let created = events.iter().filter(|e| e.event_type.as_str() == "share_created").count();
    assert_eq!(created, 3);
}

/// Strangers can't share others' objects or see and revoke others' links; anonymous callers
/// manage nothing; a link dies when its creator loses read access.
pub async fn share_links_refuse_strangers(h: &Harness) {
    let tag = random_hex(6);
    let (owner, account_id, signer) = account(h, &format!("owner-{tag}")).await;
    let (_, _, stranger) = account(h, &format!("stranger-{tag}")).await;
    let bucket = format!("share-{}", random_hex(10));
    owner.create_bucket().bucket(&bucket).send().await.expect("create bucket");
    owner.put_object().bucket(&bucket).key("f.txt").body(ByteStream::from_static(b"mine")).send().await.expect("put");
    let ask = json!({ "bucket": bucket, "key": "f.txt", "expires_in": 600 });

    assert_eq!(call(h, &stranger, "POST", "", Some(&ask)).await.0, 403, "a stranger may not share it");
    let anonymous =
        h.raw(RawRequest::new("POST", API).header("Content-Type", "application/json").body(ask.to_string())).await;
    assert_eq!(anonymous.status, 401);
    assert_eq!(h.raw(RawRequest::new("GET", API)).await.status, 401);

    let (id, path) = create(h, &signer, &ask).await;
    // A web session (bearer token) is a caller too: its own empty list, the owner's link
    // unseen, the owner's object not its to share.
    let token = session(h, &format!("webby{tag}")).await;
    let bearer = |method: &str, p: &str| {
        RawRequest::new(method, &format!("{API}{p}")).header("Authorization", &format!("Bearer {token}"))
    };
    let r = h.raw(bearer("GET", "")).await;
    assert_eq!((r.status, r.text()), (200, r#"{"shares":[]}"#.to_owned()));
    assert_eq!(h.raw(bearer("GET", &format!("/{id}"))).await.status, 404);
    let r = h.raw(bearer("POST", "").header("Content-Type", "application/json").body(ask.to_string())).await;
    assert_eq!(r.status, 403, "{}", r.text());
    let r = h.raw(RawRequest::new("GET", API).header("Authorization", "Bearer not-a-token")).await;
    assert_eq!(r.status, 401, "{}", r.text());

    assert_eq!(call(h, &stranger, "GET", &format!("/{id}"), None).await.0, 404);
    assert_eq!(call(h, &stranger, "DELETE", &format!("/{id}"), None).await.0, 404);
    let (_, list) = call(h, &stranger, "GET", "", None).await;
    assert_eq!(list["shares"].as_array().map(Vec::len), Some(0), "{list}");
    let got = link(h, "GET", &path, None).await;
    assert_eq!((got.status, got.body.as_slice()), (200, b"mine".as_slice()), "the stranger's refusals changed nothing");

    // An IAM user's link lives as long as its creator may read the object.
    let policy = crate::iam::allow_bucket(&bucket);
    let (_, user, key_id, secret) = crate::iam::user(h, &account_id, &format!("u-{tag}"), Some(policy)).await;
    let user_signer = Signer { access_key: key_id, secret_key: secret, ..h.signer() };
    let (uid, upath) = create(h, &user_signer, &ask).await;
    assert_eq!(link(h, "GET", &upath, None).await.status, 200);
    // The account root sees and manages its users' links; the user only its own.
    assert_eq!(call(h, &signer, "GET", &format!("/{uid}"), None).await.0, 200);
    assert_eq!(call(h, &user_signer, "GET", &format!("/{id}"), None).await.0, 404);
    h.iam.store().delete_inline_policy(OwnerKind::User, &user.id, "p", &[]).await.expect("delete policy");
    // A creator's grant is cached as briefly as a signer's (KEY_CACHE_TTL).
    tokio::time::sleep(s3_frontend::app::KEY_CACHE_TTL + Duration::from_millis(100)).await;
    let dead = link(h, "GET", &upath, None).await;
    assert_eq!(dead.status, 404, "the creator lost read access: {}", dead.text());
    // The root's link is unaffected.
    assert_eq!(link(h, "HEAD", &path, None).await.status, 200);
}

/// Registers `username` over REST and logs in; returns the access token.
async fn session(h: &Harness, username: &str) -> String {
    let creds = json!({ "username": username, "password": "correct-horse-42" }).to_string();
    let post = |p: &str| {
        RawRequest::new("POST", &format!("/_api/v1{p}")).header("Content-Type", "application/json").body(creds.clone())
    };
    let r = h.raw(post("/auth/register")).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let r = h.raw(post("/auth/login")).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let v: Value = serde_json::from_slice(&r.body).expect("JSON");
    v["access_token"].as_str().expect("access_token").to_owned()
}

/// `Authorization: Basic` with an empty user name and `password`.
pub(crate) fn basic(password: &str) -> String {
    use base64::Engine as _;
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!(":{password}")))
}

/// A password-protected link: 401 without or with a wrong password (never a hint about the
/// object), the bytes with the right one; wrong guesses are limited per link (429 with
/// `Retry-After`, the right password included), and the owner sees the lockout.
pub async fn share_links_with_password(h: &Harness) {
    let (owner, _, signer) = account(h, &format!("pw-{}", random_hex(6))).await;
    let bucket = format!("share-{}", random_hex(10));
    owner.create_bucket().bucket(&bucket).send().await.expect("create bucket");
    owner
        .put_object()
        .bucket(&bucket)
        .key("s.bin")
        .body(ByteStream::from_static(b"guarded"))
        .send()
        .await
        .expect("put");
    let ask = json!({ "bucket": bucket, "key": "s.bin", "expires_in": 600, "password": "open-sesame-7" });
    let (id, path) = create(h, &signer, &ask).await;
    let (_, shown) = call(h, &signer, "GET", &format!("/{id}"), None).await;
    assert_eq!((shown["password"].as_bool(), shown["locked_until"].is_null()), (Some(true), true), "{shown}");
    assert!(!shown.to_string().contains("argon2"), "the hash is never shown: {shown}");

    let with = |pw: Option<&str>, method: &str| {
        let mut r = RawRequest::new(method, &path);
        if let Some(pw) = pw {
            r = r.header("Authorization", &basic(pw));
        }
        r
    };
    let none = h.raw(with(None, "GET")).await;
    assert_eq!(none.status, 401);
    assert!(none.header("www-authenticate").is_some_and(|v| v.starts_with("Basic")));
    assert_link_headers(&none);
    assert_eq!(h.raw(with(None, "HEAD")).await.status, 401, "HEAD needs the password too");
    assert_eq!(h.raw(with(Some("wrong"), "GET")).await.status, 401);
    let right = h.raw(with(Some("open-sesame-7"), "GET")).await;
    assert_eq!((right.status, right.body.as_slice()), (200, b"guarded".as_slice()));
    // Right passwords are not charged: many downloads, no lockout.
    for _ in 0..3 {
        assert_eq!(h.raw(with(Some("open-sesame-7"), "HEAD")).await.status, 200);
    }
    // One address: four more wrong guesses reach its limit (five); then even its right one
    // waits, while another address is still served.
    for _ in 0..4 {
        assert_eq!(h.raw(with(Some("guess"), "GET")).await.status, 401);
    }
    let locked = h.raw(with(Some("open-sesame-7"), "GET")).await;
    assert_eq!(locked.status, 429, "{}", locked.text());
    assert!(locked.header("retry-after").and_then(|v| v.parse::<u64>().ok()).is_some_and(|s| s > 0 && s <= 900));
    let other: std::net::IpAddr = "127.0.0.2".parse().unwrap();
    let ok = h.raw(with(Some("open-sesame-7"), "GET").from(other)).await;
    assert_eq!(ok.status, 200, "one address's guesses lock out nobody else");
    let (_, shown) = call(h, &signer, "GET", &format!("/{id}"), None).await;
    assert!(shown["locked_until"].is_null(), "{shown}");

    // Nine more addresses together reach the link's limit (fifty wrong in the window): then the
    // link refuses every address, and the owner sees the lockout.
    for n in 3..12u8 {
        let from = std::net::IpAddr::from([127, 0, 0, n]);
        for _ in 0..5 {
            assert_eq!(h.raw(with(Some("guess"), "GET").from(from)).await.status, 401);
        }
    }
    let everyone = h.raw(with(Some("open-sesame-7"), "GET").from(other)).await;
    assert_eq!(everyone.status, 429, "{}", everyone.text());
    let (_, shown) = call(h, &signer, "GET", &format!("/{id}"), None).await;
    assert!(shown["locked_until"].is_string(), "the owner sees the lockout: {shown}");
    assert_eq!(shown["downloads"].as_u64(), Some(2));

    // Bad passwords at creation.
    for bad in ["", &"x".repeat(1025)] {
        let ask = json!({ "bucket": bucket, "key": "s.bin", "expires_in": 600, "password": bad });
        assert_eq!(call(h, &signer, "POST", "", Some(&ask)).await.0, 400);
    }
}

/// On a virtual-hosted bucket's host, `/s/...` is that bucket's object key (an S3 request, here
/// refused anonymously with S3's XML), not a share link.
pub async fn virtual_hosted_s_paths_stay_s3(h: &Harness) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let shutdown = tokio_util::sync::CancellationToken::new();
    let frontend = s3_frontend::app::frontend(
        h.meta.clone(),
        h.blobs.clone(),
        s3_frontend::s3::GatewayConfig::default(),
        h.root.clone(),
        &["s3.test".to_owned()],
        std::sync::Arc::new(s3_frontend::metrics::Metrics::default()),
        std::sync::Arc::new(cloudstore_iam::api::InProcessIam::new(h.iam.clone())),
    )
    .expect("frontend");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = tokio::spawn(s3_frontend::server::serve(listener, std::sync::Arc::new(frontend), shutdown.clone()));
    let get = |host: String| async move {
        let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let head = format!(
            "GET /s/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
        );
        s.write_all(head.as_bytes()).await.expect("write");
        let mut buf = Vec::new();
        s.read_to_end(&mut buf).await.expect("read");
        String::from_utf8_lossy(&buf).into_owned()
    };
    let bucket = h.bucket("vh").await;
    let s3 = get(format!("{bucket}.s3.test")).await;
    assert!(s3.starts_with("HTTP/1.1 403") && s3.contains("<Code>AccessDenied</Code>"), "{s3}");
    let link = get(addr.to_string()).await;
    assert!(link.starts_with("HTTP/1.1 404") && link.contains("no such link"), "{link}");
    shutdown.cancel();
    server.abort();
}

/// A file upload to an upload link, as `curl -F file=@name` sends it.
async fn drop_file(
    h: &Harness,
    path: &str,
    name: &str,
    content_type: &str,
    data: &[u8],
    auth: Option<&str>,
) -> RawResponse {
    let boundary = "dropboundary7MA4YWxkTrZu0gW";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: {content_type}\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(data);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let mut req = RawRequest::new("POST", path)
        .header("Content-Type", &format!("multipart/form-data; boundary={boundary}"))
        .body(body);
    if let Some(a) = auth {
        req = req.header("Authorization", a);
    }
    h.raw(req).await
}

/// Upload-only links (file drops, ADR 0015): strangers upload into the prefix only, within the
/// size, type and count limits, never replacing a file, and see nothing else; the page has no
/// script; a password guards uploads; the link dies with revocation and with its creator's
/// write access; each use is an event.
pub async fn upload_links(h: &Harness) {
    let tag = random_hex(6);
    let (owner, account_id, signer) = account(h, &format!("dropper-{tag}")).await;
    let (_, _, stranger) = account(h, &format!("dropstranger-{tag}")).await;
    let bucket = format!("drop-{}", random_hex(10));
    owner.create_bucket().bucket(&bucket).send().await.expect("create bucket");
    owner
        .put_object()
        .bucket(&bucket)
        .key("inbox/taken.txt")
        .body(ByteStream::from_static(b"old"))
        .send()
        .await
        .unwrap();
    owner.put_object().bucket(&bucket).key("secret.txt").body(ByteStream::from_static(b"secret")).send().await.unwrap();

    // Validation, and strangers may not make links into others' buckets.
    for bad in [
        json!({ "bucket": bucket, "kind": "upload", "expires_in": 600 }),
        json!({ "bucket": bucket, "kind": "upload", "prefix": "", "expires_in": 600 }),
        json!({ "bucket": bucket, "kind": "upload", "prefix": "inbox/", "key": "k", "expires_in": 600 }),
        json!({ "bucket": bucket, "kind": "upload", "prefix": "inbox/", "max_uploads": 0, "expires_in": 600 }),
        json!({ "bucket": bucket, "kind": "upload", "prefix": "inbox/", "content_types": ["text"], "expires_in": 600 }),
        json!({ "bucket": bucket, "kind": "sideways", "prefix": "inbox/", "expires_in": 600 }),
        json!({ "bucket": bucket, "key": "secret.txt", "max_bytes": 5, "expires_in": 600 }),
    ] {
        assert_eq!(call(h, &signer, "POST", "", Some(&bad)).await.0, 400, "{bad}");
    }
    let ask = json!({ "bucket": bucket, "kind": "upload", "prefix": "inbox/", "expires_in": 600,
                      "max_bytes": 1000, "content_types": ["text/plain", "image/*"], "max_uploads": 3 });
    assert_eq!(call(h, &stranger, "POST", "", Some(&ask)).await.0, 403, "a stranger may not open a drop");
    let (id, path) = create(h, &signer, &ask).await;
    let (_, v) = call(h, &signer, "GET", &format!("/{id}"), None).await;
    assert_eq!(
        (v["kind"].as_str(), v["prefix"].as_str(), v["uploads"].as_u64()),
        (Some("upload"), Some("inbox/"), Some(0)),
        "{v}"
    );
    assert_eq!(v["content_types"], json!(["text/plain", "image/*"]));

    // The page: a form, no script, forms only to itself; it never counts.
    let page = h.raw(RawRequest::new("GET", &path).header("Accept", "text/html")).await;
    assert_eq!(page.status, 200);
    let html = page.text();
    assert!(
        html.contains("enctype=\"multipart/form-data\"") && html.contains("name=\"file\"") && !html.contains("<script"),
        "{html}"
    );
    assert!(html.contains("Uploads left: 3") && !html.contains("inbox/"), "the page does not show the prefix: {html}");
    let csp = page.header("content-security-policy").unwrap_or_default();
    assert!(
        csp.contains("default-src 'none'") && csp.contains("form-action 'self'") && !csp.contains("script-src"),
        "{csp}"
    );
    assert_eq!(page.header("referrer-policy"), Some("no-referrer"));
    // Tools get the same page: there is nothing to download.
    let r = h.raw(RawRequest::new("GET", &path).query("download", "1")).await;
    assert!(!r.text().contains("secret") && !r.text().contains("taken.txt"));

    // An upload: stored under the prefix with its type; the answer names only the file.
    let r = drop_file(h, &path, "notes.txt", "text/plain", b"dropped notes", None).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let v: Value = serde_json::from_slice(&r.body).expect("JSON");
    assert_eq!((v["name"].as_str(), v["size"].as_u64()), (Some("notes.txt"), Some(13)), "{v}");
    let got = owner.get_object().bucket(&bucket).key("inbox/notes.txt").send().await.expect("stored");
    assert_eq!(got.content_type(), Some("text/plain"));
    // A browser gets a page; a path in the name keeps only its last segment.
    let r = {
        let boundary = "b1";
        let body = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"C:\\\\x\\\\photo.png\"\r\nContent-Type: image/png\r\n\r\npng\r\n--{boundary}--\r\n"
        );
        h.raw(
            RawRequest::new("POST", &path)
                .header("Content-Type", &format!("multipart/form-data; boundary={boundary}"))
                .header("Accept", "text/html")
                .body(body),
        )
        .await
    };
    assert_eq!(r.status, 201, "{}", r.text());
    assert!(r.text().contains("photo.png"), "{}", r.text());
    assert!(h.exists(&bucket, "inbox/photo.png").await);

    // Refusals: an existing name (never replaced), a type not allowed, a file too large, a
    // name that would leave the prefix — none counts or stores anything.
    assert_eq!(drop_file(h, &path, "taken.txt", "text/plain", b"new", None).await.status, 409, "a taken name");
    assert_eq!(h.get(&bucket, "inbox/taken.txt").await, b"old");
    assert_eq!(drop_file(h, &path, "page.html", "text/html", b"<script>", None).await.status, 415);
    let r = drop_file(h, &path, "big.txt", "text/plain", &pattern(5000, 1), None).await;
    assert_eq!(r.status, 413, "{}", r.text());
    assert!(!h.exists(&bucket, "inbox/big.txt").await);
    assert_eq!(drop_file(h, &path, "..", "text/plain", b"x", None).await.status, 400);
    let keys = h.keys(&bucket).await;
    assert!(keys.iter().all(|k| k.starts_with("inbox/") || k == "secret.txt"), "{keys:?}");
    let (_, v) = call(h, &signer, "GET", &format!("/{id}"), None).await;
    assert_eq!(v["uploads"].as_u64(), Some(2), "only stored uploads count: {v}");

    // The third upload uses the link up; the fourth is refused (410).
    assert_eq!(drop_file(h, &path, "c.txt", "text/plain", b"c", None).await.status, 201);
    assert_eq!(drop_file(h, &path, "d.txt", "text/plain", b"d", None).await.status, 410);
    assert!(!h.exists(&bucket, "inbox/d.txt").await);

    // The link cannot be used to read: a download link's POST and an S3 listing are refused.
    let anon_list = h.raw(RawRequest::new("GET", &format!("/{bucket}"))).await;
    assert_eq!(anon_list.status, 403);

    // A password-protected drop: 401 without the password, 201 with it.
    let ask =
        json!({ "bucket": bucket, "kind": "upload", "prefix": "guarded/", "expires_in": 600, "password": "drop-it-9" });
    let (gid, gpath) = create(h, &signer, &ask).await;
    let r = drop_file(h, &gpath, "a.txt", "text/plain", b"a", None).await;
    assert_eq!(r.status, 401);
    assert!(r.header("www-authenticate").is_some());
    assert!(!h.exists(&bucket, "guarded/a.txt").await);
    assert_eq!(drop_file(h, &gpath, "a.txt", "text/plain", b"a", Some(&basic("drop-it-9"))).await.status, 201);
    assert_eq!(h.raw(RawRequest::new("GET", &gpath).header("Accept", "text/html")).await.status, 401);

    // Revoked: 404.
    assert_eq!(call(h, &signer, "DELETE", &format!("/{gid}"), None).await.0, 204);
    assert_eq!(drop_file(h, &gpath, "b.txt", "text/plain", b"b", Some(&basic("drop-it-9"))).await.status, 404);

    // An IAM user's drop dies when the user may no longer write there.
    let grant = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"s3:PutObject","Resource":"arn:aws:s3:::{bucket}/*"}}]}}"#
    );
    let (_, user, key_id, secret) = crate::iam::user(h, &account_id, &format!("du-{tag}"), Some(grant)).await;
    let user_signer = Signer { access_key: key_id, secret_key: secret, ..h.signer() };
    let ask = json!({ "bucket": bucket, "kind": "upload", "prefix": "users/", "expires_in": 600 });
    let (_, upath) = create(h, &user_signer, &ask).await;
    assert_eq!(drop_file(h, &upath, "u.txt", "text/plain", b"u", None).await.status, 201);
    h.iam.store().delete_inline_policy(OwnerKind::User, &user.id, "p", &[]).await.expect("delete policy");
    // A creator's grant is cached as briefly as a signer's (KEY_CACHE_TTL).
    tokio::time::sleep(s3_frontend::app::KEY_CACHE_TTL + Duration::from_millis(100)).await;
    assert_eq!(drop_file(h, &upath, "v.txt", "text/plain", b"v", None).await.status, 404);
    // A user without a grant cannot open one.
    let (_, _, idle_key, idle_secret) = crate::iam::user(h, &account_id, &format!("idle-{tag}"), None).await;
    let idle = Signer { access_key: idle_key, secret_key: idle_secret, ..h.signer() };
    assert_eq!(call(h, &idle, "POST", "", Some(&ask)).await.0, 403);

    // Events: every use of the drop, and each stored file with the link's id.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let rows = h.meta.outbox_rows(100_000).await.expect("outbox rows");
    let events: Vec<Event> = rows
        .iter()
        .filter_map(|r| cloudstore_events::decode(r.body.as_bytes()).ok())
        .filter(|e| e.bucket.as_deref() == Some(bucket.as_str()))
        .collect();
    let uses: Vec<&Event> = events
        .iter()
        .filter(|e| e.event_type.as_str() == "share_accessed" && e.detail.get("share_id") == Some(&id))
        .collect();
    let uploads = uses.iter().filter(|e| e.detail.get("method").map(String::as_str) == Some("UPLOAD")).count();
    assert_eq!(uploads, 8, "{uses:?}");
    let files = events
        .iter()
        .filter(|e| e.event_type.as_str() == "file_uploaded" && e.detail.get("share_id") == Some(&id))
        .count();
    assert_eq!(files, 3);
    assert!(uses.iter().all(|e| e.account_id.as_deref() == Some(account_id.as_str())));
}

/// The policy explain tool answers "why is this object public?" with the live share links that
/// serve it (its own and the folder links over it; not revoked, expired, used-up or upload
/// links), and whether each still works (its creator may still read the object).
pub async fn explain_lists_share_links(h: &Harness) {
    let tag = random_hex(6);
    let (owner, account_id, signer) = account(h, &format!("explainer-{tag}")).await;
    let bucket = format!("share-{}", random_hex(10));
    owner.create_bucket().bucket(&bucket).send().await.expect("create bucket");
    for key in ["a/x.txt", "a/y.txt", "ab.txt", "b/z.txt"] {
        owner.put_object().bucket(&bucket).key(key).body(ByteStream::from_static(b"data")).send().await.expect("put");
    }
    let (object_link, _) = create(h, &signer, &json!({ "bucket": bucket, "key": "a/x.txt", "expires_in": 600 })).await;
    let (folder_link, _) = create(h, &signer, &json!({ "bucket": bucket, "prefix": "a/", "expires_in": 600 })).await;
    let (revoked, _) = create(h, &signer, &json!({ "bucket": bucket, "key": "a/x.txt", "expires_in": 600 })).await;
    assert_eq!(call(h, &signer, "DELETE", &format!("/{revoked}"), None).await.0, 204);
    let (used_up, used_path) =
        create(h, &signer, &json!({ "bucket": bucket, "key": "b/z.txt", "expires_in": 600, "max_downloads": 1 })).await;
    assert_eq!(link(h, "GET", &used_path, None).await.status, 200);
    let ids = |why: &Value| -> Vec<(String, bool)> {
        why["share_links"]
            .as_array()
            .expect("share_links")
            .iter()
            .map(|l| (l["id"].as_str().expect("id").to_owned(), l["works"].as_bool().expect("works")))
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect()
    };
    let sorted = |mut v: Vec<(String, bool)>| {
        v.sort();
        v
    };

    let why = crate::acl::explain(h, "anonymous", "s3:GetObject", &format!("arn:aws:s3:::{bucket}/a/x.txt")).await;
    assert_eq!(why["allowed"], false, "{why}");
    assert_eq!(ids(&why), sorted(vec![(object_link.clone(), true), (folder_link.clone(), true)]), "{why}");
    let why = crate::acl::explain(h, "anonymous", "s3:GetObject", &format!("arn:aws:s3:::{bucket}/a/y.txt")).await;
    assert_eq!(ids(&why), [(folder_link.clone(), true)], "{why}");
    // "ab.txt" is not under the folder "a/"; b/z.txt's only link is used up.
    for key in ["ab.txt", "b/z.txt"] {
        let why = crate::acl::explain(h, "anonymous", "s3:GetObject", &format!("arn:aws:s3:::{bucket}/{key}")).await;
        assert!(ids(&why).is_empty(), "{key}: {why}");
    }
    // The bucket: every live download link in it.
    let why = crate::acl::explain(h, "anonymous", "s3:ListBucket", &format!("arn:aws:s3:::{bucket}")).await;
    assert_eq!(ids(&why), sorted(vec![(object_link.clone(), true), (folder_link.clone(), true)]), "{why}");
    assert!(!ids(&why).iter().any(|(id, _)| *id == used_up || *id == revoked));

    // A link whose creator lost read access is listed as not working.
    let policy = crate::iam::allow_bucket(&bucket);
    let (_, user, key_id, secret) = crate::iam::user(h, &account_id, &format!("u-{tag}"), Some(policy)).await;
    let user_signer = Signer { access_key: key_id, secret_key: secret, ..h.signer() };
    let (user_link, _) =
        create(h, &user_signer, &json!({ "bucket": bucket, "key": "a/y.txt", "expires_in": 600 })).await;
    h.iam.store().delete_inline_policy(OwnerKind::User, &user.id, "p", &[]).await.expect("delete policy");
    tokio::time::sleep(s3_frontend::app::KEY_CACHE_TTL + Duration::from_millis(100)).await;
    let why = crate::acl::explain(h, "anonymous", "s3:GetObject", &format!("arn:aws:s3:::{bucket}/a/y.txt")).await;
    assert_eq!(ids(&why), sorted(vec![(folder_link, true), (user_link, false)]), "{why}");
}

/// A link revoked by another gateway process (straight in the store, so this process's link
/// cache still holds it) is refused at its next use: every use passes the store's atomic
/// count, whatever the cache says.
pub async fn revoked_elsewhere_is_refused_at_once(h: &Harness) {
    let (owner, _, signer) = account(h, &format!("elsewhere-{}", random_hex(6))).await;
    let bucket = format!("share-{}", random_hex(10));
    owner.create_bucket().bucket(&bucket).send().await.expect("create bucket");
    owner.put_object().bucket(&bucket).key("f.txt").body(ByteStream::from_static(b"data")).send().await.expect("put");
    let (id, path) = create(h, &signer, &json!({ "bucket": bucket, "key": "f.txt", "expires_in": 600 })).await;
    assert_eq!(link(h, "GET", &path, None).await.status, 200, "the link is now cached");
    assert!(h.meta.revoke_share(&id).await.expect("revoke in the store"));
    for method in ["GET", "HEAD"] {
        let r = link(h, method, &path, None).await;
        assert!(r.status == 410 || r.status == 404, "{method}: {}", r.status);
    }
    let page = h.raw(RawRequest::new("GET", &path).header("Accept", "text/html")).await;
    assert!(page.status == 410 || page.status == 404, "page: {}", page.status);
    assert_eq!(downloads(h, &signer, &id).await, 1, "nothing counted after the revocation");
}

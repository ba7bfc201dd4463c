//! Folder share links and share links in a browser (issue #13 item 1, ADR 0010), with raw
//! requests: a folder's listing as JSON and HTML, paginated; its files with ranges, the count
//! and the same headers; path traversal refused; every refusal (stranger, expired, revoked,
//! used up, creator lost access); the landing page's image preview; the password form with
//! its `SameSite=Strict` unlock cookie, CSRF refusal and guess limits.

use std::time::Duration;

use aws_sdk_s3::primitives::ByteStream;
use cloudstore_iam::store::{InlinePolicy, OwnerKind};
use serde_json::{Value, json};

use crate::harness::{Harness, RawRequest, RawResponse, Signer, random_hex};
use crate::shares::{account, assert_link_headers, basic, call, create, downloads, link};

const BROWSER: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

async fn put(client: &aws_sdk_s3::Client, bucket: &str, key: &str, content_type: &str, body: &[u8]) {
    client
        .put_object()
        .bucket(bucket)
        .key(key)
        .content_type(content_type)
        .body(ByteStream::from(body.to_vec()))
        .send()
        .await
        .unwrap_or_else(|e| panic!("put {key}: {e:?}"));
}

fn json_of(r: &RawResponse) -> Value {
    serde_json::from_slice(&r.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", r.text()))
}

fn names(listing: &Value) -> Vec<String> {
    listing["files"].as_array().expect("files").iter().map(|f| f["name"].as_str().expect("name").to_owned()).collect()
}

/// A folder link: listing (JSON, HTML, pages), files with ranges and the shared count,
/// headers, and traversal refused.
pub async fn folder_links(h: &Harness) {
    let tag = random_hex(6);
    let (owner, _, signer) = account(h, &format!("folder-{tag}")).await;
    let bucket = format!("fold-{}", random_hex(10));
    owner.create_bucket().bucket(&bucket).send().await.expect("create bucket");
    put(&owner, &bucket, "docs/a.txt", "text/plain", b"alpha").await;
    put(&owner, &bucket, "docs/page.html", "text/html", b"<script>alert(1)</script>").await;
    put(&owner, &bucket, "docs/sub/b c.txt", "text/plain", b"bravo charlie").await;
    put(&owner, &bucket, "docs/odd//x.txt", "text/plain", b"odd").await;
    put(&owner, &bucket, "docs-private/x.txt", "text/plain", b"neighbour").await;
    put(&owner, &bucket, "secret.txt", "text/plain", b"secret").await;

    // Validation: a folder prefix ends with "/" (else "docs" would share "docs-private/").
    for bad in [
        json!({ "bucket": bucket, "prefix": "docs", "expires_in": 60 }),
        json!({ "bucket": bucket, "prefix": "docs/", "key": "docs/a.txt", "expires_in": 60 }),
        json!({ "bucket": bucket, "prefix": "docs/", "filename": "x", "expires_in": 60 }),
        json!({ "bucket": bucket, "prefix": "docs/", "expires_in": 0 }),
    ] {
        assert_eq!(call(h, &signer, "POST", "", Some(&bad)).await.0, 400, "{bad}");
    }
    let (status, v) =
        call(h, &signer, "POST", "", Some(&json!({ "bucket": "no-such-bucket-x", "prefix": "d/", "expires_in": 60 })))
            .await;
    assert_eq!(status, 404, "{v}");

    let (id, path) =
        create(h, &signer, &json!({ "bucket": bucket, "prefix": "docs/", "expires_in": 3600, "max_downloads": 3 }))
            .await;
    let (_, shown) = call(h, &signer, "GET", &format!("/{id}"), None).await;
    assert_eq!((shown["kind"].as_str(), shown["prefix"].as_str()), (Some("folder"), Some("docs/")), "{shown}");

    // A tool gets JSON; the listing never counts; keys with unsafe segments and keys outside
    // the prefix are never listed.
    let listing = link(h, "GET", &path, None).await;
    assert_eq!(listing.status, 200, "{}", listing.text());
    assert_eq!(listing.header("content-type"), Some("application/json"));
    assert_link_headers(&listing);
    let v = json_of(&listing);
    assert_eq!(names(&v), ["a.txt", "page.html", "sub/b c.txt"], "{v}");
    assert_eq!(v["files"][0]["size"].as_u64(), Some(5));
    assert!(v["next"].is_null(), "{v}");
    let token = path.trim_start_matches("/s/");
    assert_eq!(v["files"][2]["path"].as_str(), Some(format!("{token}/sub/b%20c.txt").as_str()));
    let asked = h.raw(RawRequest::new("GET", &path).query("format", "json").header("Accept", BROWSER)).await;
    assert_eq!(names(&json_of(&asked)), names(&v), "?format=json wins over a browser's Accept");
    let head = link(h, "HEAD", &path, None).await;
    assert_eq!((head.status, head.body.is_empty()), (200, true));

    // A browser gets the listing as a page of links, with no script.
    let page = h.raw(RawRequest::new("GET", &path).header("Accept", BROWSER)).await;
    assert_eq!(page.status, 200);
    assert_eq!(page.header("content-type"), Some("text/html; charset=utf-8"));
    assert_link_headers(&page);
    let html = page.text();
    assert!(html.contains(&format!("href=\"{token}/sub/b%20c.txt?download=1\"")), "{html}");
    assert!(html.contains("b c.txt") && html.contains("Downloads left: 3") && !html.contains("<script"), "{html}");
    assert!(!html.contains("secret") && !html.contains("neighbour"), "{html}");
    assert_eq!(downloads(h, &signer, &id).await, 0, "listings never count");

    // Files: the bytes, the headers, HTML never served as a page; one count per download
    // however many ranges.
    let a = link(h, "GET", &format!("{path}/a.txt"), None).await;
    assert_eq!((a.status, a.body.as_slice()), (200, b"alpha".as_slice()));
    assert_link_headers(&a);
    assert_eq!(a.header("content-disposition"), Some("attachment; filename=\"a.txt\"; filename*=UTF-8''a.txt"));
    assert_eq!(downloads(h, &signer, &id).await, 1);
    // A browser opening a file gets its landing page, which does not count either.
    let file_page = h.raw(RawRequest::new("GET", &format!("{path}/a.txt")).header("Accept", BROWSER)).await;
    assert_eq!(file_page.status, 200);
    assert!(file_page.text().contains("href=\"?download=1\""), "{}", file_page.text());
    assert_eq!(downloads(h, &signer, &id).await, 1);
    let html_file = link(h, "GET", &format!("{path}/page.html"), None).await;
    assert_eq!(html_file.header("content-type"), Some("application/octet-stream"));
    assert!(html_file.header("content-disposition").is_some_and(|d| d.starts_with("attachment;")));
    assert_eq!(downloads(h, &signer, &id).await, 2);
    let first = link(h, "GET", &format!("{path}/sub/b%20c.txt"), Some("bytes=0-5")).await;
    assert_eq!((first.status, first.body.as_slice()), (206, b"bravo ".as_slice()));
    let rest = link(h, "GET", &format!("{path}/sub/b%20c.txt"), Some("bytes=6-")).await;
    assert_eq!((rest.status, rest.body.as_slice()), (206, b"charlie".as_slice()));
    assert_eq!(rest.header("content-range"), Some("bytes 6-12/13"));
    assert_eq!(link(h, "HEAD", &format!("{path}/a.txt"), None).await.status, 200);
    assert_eq!(downloads(h, &signer, &id).await, 3);

    // Traversal and paths naming no listed key: 404, whatever is behind them.
    for bad in [
        "/../secret.txt",
        "/%2e%2e/secret.txt",
        "/..%2Fsecret.txt",
        "/sub%2Fb%20c.txt",
        "/sub/..%2F..%2Fsecret.txt",
        "/.%2e/docs-private/x.txt",
        "/./a.txt",
        "//a.txt",
        "/a.txt/",
        "/odd//x.txt",
        "/sub%5Cb%20c.txt",
        "/a.txt%00",
        "/nope.txt",
        "/",
    ] {
        let r = link(h, "GET", &format!("{path}{bad}"), None).await;
        assert_eq!(r.status, 404, "{bad}: {}", r.text());
        assert!(!r.text().contains("secret") && !r.text().contains("neighbour"), "{bad}");
        assert_link_headers(&r);
    }

    // Used up (three file downloads in all): a new download is 410, the listing too; the last
    // download may still resume for a while.
    let over = link(h, "GET", &format!("{path}/a.txt"), None).await;
    assert_eq!(over.status, 410, "{}", over.text());
    assert_eq!(link(h, "GET", &path, None).await.status, 410);
    assert_eq!(link(h, "GET", &format!("{path}/sub/b%20c.txt"), Some("bytes=6-")).await.status, 206);
    assert_eq!(downloads(h, &signer, &id).await, 3);

    // Pagination: more files than a page; `next` continues, and the pages join to all files.
    for i in 0..210 {
        put(&owner, &bucket, &format!("many/f{i:03}.txt"), "text/plain", b"x").await;
    }
    let (_, many) = create(h, &signer, &json!({ "bucket": bucket, "prefix": "many/", "expires_in": 600 })).await;
    let one = json_of(&link(h, "GET", &many, None).await);
    let next = one["next"].as_str().expect("a next page").to_owned();
    assert_eq!(names(&one).len(), 200);
    let two = json_of(&h.raw(RawRequest::new("GET", &format!("{many}{next}"))).await);
    assert_eq!(names(&two).len(), 10, "{two}");
    assert!(two["next"].is_null());
    let all: Vec<String> = names(&one).into_iter().chain(names(&two)).collect();
    let expected: Vec<String> = (0..210).map(|i| format!("f{i:03}.txt")).collect();
    assert_eq!(all, expected);
    let html = h.raw(RawRequest::new("GET", &many).header("Accept", BROWSER)).await.text();
    assert!(html.contains("Next page") && html.contains("?after=f199.txt"), "{html}");

    // The whole bucket (an empty prefix) lists everything listable.
    let (_, whole) = create(h, &signer, &json!({ "bucket": bucket, "prefix": "", "expires_in": 600 })).await;
    let root = json_of(&link(h, "GET", &whole, None).await);
    assert!(names(&root).contains(&"docs-private/x.txt".to_owned()), "{}", root["next"]);
    let s = link(h, "GET", &format!("{whole}/docs-private/x.txt"), None).await;
    assert_eq!((s.status, s.body.as_slice()), (200, b"neighbour".as_slice()));

    // An object link has no files below it.
    let (_, object) = create(h, &signer, &json!({ "bucket": bucket, "key": "docs/a.txt", "expires_in": 60 })).await;
    assert_eq!(link(h, "GET", &format!("{object}/a.txt"), None).await.status, 404);
    assert_eq!(link(h, "GET", &object, None).await.status, 200);
}

/// Every refusal of a folder link: strangers, expiry, revocation, a password, a creator
/// losing access (to the prefix or to part of it).
pub async fn folder_link_refusals(h: &Harness) {
    let tag = random_hex(6);
    let (owner, account_id, signer) = account(h, &format!("frefuse-{tag}")).await;
    let (_, _, stranger) = account(h, &format!("fstranger-{tag}")).await;
    let bucket = format!("fold-{}", random_hex(10));
    owner.create_bucket().bucket(&bucket).send().await.expect("create bucket");
    put(&owner, &bucket, "team/a.txt", "text/plain", b"alpha").await;
    put(&owner, &bucket, "team/private/p.txt", "text/plain", b"private").await;
    let ask = json!({ "bucket": bucket, "prefix": "team/", "expires_in": 600 });

    // A stranger may not share the folder; an anonymous caller manages nothing.
    assert_eq!(call(h, &stranger, "POST", "", Some(&ask)).await.0, 403);
    let anon = h
        .raw(
            RawRequest::new("POST", crate::shares::API)
                .header("Content-Type", "application/json")
                .body(ask.to_string()),
        )
        .await;
    assert_eq!(anon.status, 401);

    // A user allowed to read objects but not to list the bucket may not share a folder.
    let read_only = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::{bucket}/*"}}]}}"#
    );
    let (_, _, rk, rs) = crate::iam::user(h, &account_id, &format!("ro-{tag}"), Some(read_only)).await;
    let reader = Signer { access_key: rk, secret_key: rs, ..h.signer() };
    assert_eq!(call(h, &reader, "POST", "", Some(&ask)).await.0, 403, "no s3:ListBucket");
    let file_ask = json!({ "bucket": bucket, "key": "team/a.txt", "expires_in": 600 });
    assert_eq!(call(h, &reader, "POST", "", Some(&file_ask)).await.0, 201, "one object is still shareable");

    // A user's folder link dies when the user loses read access; a Deny on part of the prefix
    // hides that part.
    let (_, user, key_id, secret) =
        crate::iam::user(h, &account_id, &format!("u-{tag}"), Some(crate::iam::allow_bucket(&bucket))).await;
    let user_signer = Signer { access_key: key_id, secret_key: secret, ..h.signer() };
    let (_, upath) = create(h, &user_signer, &ask).await;
    assert_eq!(names(&json_of(&link(h, "GET", &upath, None).await)), ["a.txt", "private/p.txt"]);
    let deny_part = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"s3:*","Resource":["arn:aws:s3:::{bucket}","arn:aws:s3:::{bucket}/*"]}},{{"Effect":"Deny","Action":"s3:GetObject","Resource":"arn:aws:s3:::{bucket}/team/private/*"}}]}}"#
    );
    h.iam
        .store()
        .put_inline_policy(OwnerKind::User, &user.id, &InlinePolicy { name: "p".into(), document: deny_part }, &[])
        .await
        .expect("put policy");
    tokio::time::sleep(s3_frontend::app::KEY_CACHE_TTL + Duration::from_millis(100)).await;
    assert_eq!(names(&json_of(&link(h, "GET", &upath, None).await)), ["a.txt"], "the denied part is not listed");
    assert_eq!(link(h, "GET", &format!("{upath}/private/p.txt"), None).await.status, 404);
    assert_eq!(link(h, "GET", &format!("{upath}/a.txt"), None).await.status, 200);
    h.iam.store().delete_inline_policy(OwnerKind::User, &user.id, "p", &[]).await.expect("delete policy");
    // A creator's grant is cached as briefly as a signer's (KEY_CACHE_TTL).
    tokio::time::sleep(s3_frontend::app::KEY_CACHE_TTL + Duration::from_millis(100)).await;
    assert_eq!(link(h, "GET", &upath, None).await.status, 404, "the creator lost access");
    assert_eq!(link(h, "GET", &format!("{upath}/a.txt"), None).await.status, 404);

    // Expired: 410; revoked: 404.
    let (_, short) = create(h, &signer, &json!({ "bucket": bucket, "prefix": "team/", "expires_in": 1 })).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(link(h, "GET", &short, None).await.status, 410);
    assert_eq!(link(h, "GET", &format!("{short}/a.txt"), None).await.status, 410);
    let (rid, rpath) = create(h, &signer, &ask).await;
    assert_eq!(call(h, &signer, "DELETE", &format!("/{rid}"), None).await.0, 204);
    assert_eq!(link(h, "GET", &rpath, None).await.status, 404);
    assert_eq!(link(h, "GET", &format!("{rpath}/a.txt"), None).await.status, 404);

    // A password guards the listing and every file (HTTP Basic for tools; a browser gets the
    // form); wrong guesses are limited per address.
    let (_, ppath) = create(
        h,
        &signer,
        &json!({ "bucket": bucket, "prefix": "team/", "expires_in": 600, "password": "folder-pw-1" }),
    )
    .await;
    let none = link(h, "GET", &ppath, None).await;
    assert_eq!(none.status, 401);
    assert!(none.header("www-authenticate").is_some_and(|v| v.starts_with("Basic")));
    assert_eq!(link(h, "GET", &format!("{ppath}/a.txt"), None).await.status, 401);
    let form = h.raw(RawRequest::new("GET", &ppath).header("Accept", BROWSER)).await;
    assert_eq!(form.status, 401);
    assert!(form.header("www-authenticate").is_none(), "a browser gets the form, not a dialog");
    assert!(form.text().contains("<form method=\"post\""), "{}", form.text());
    let file_form = h.raw(RawRequest::new("GET", &format!("{ppath}/a.txt")).header("Accept", BROWSER)).await;
    let ptoken = ppath.trim_start_matches("/s/");
    assert!(file_form.text().contains(&format!("action=\"../{ptoken}\"")), "{}", file_form.text());
    let ok =
        h.raw(RawRequest::new("GET", &format!("{ppath}/a.txt")).header("Authorization", &basic("folder-pw-1"))).await;
    assert_eq!((ok.status, ok.body.as_slice()), (200, b"alpha".as_slice()));
    let from: std::net::IpAddr = "127.0.0.31".parse().unwrap();
    for _ in 0..5 {
        let r = h.raw(RawRequest::new("GET", &ppath).header("Authorization", &basic("nope")).from(from)).await;
        assert_eq!(r.status, 401);
    }
    let locked = h.raw(RawRequest::new("GET", &ppath).header("Authorization", &basic("folder-pw-1")).from(from)).await;
    assert_eq!(locked.status, 429, "locked out after five wrong guesses");
}

/// POSTs the password form as the link's own page would (same origin).
async fn unlock(h: &Harness, path: &str, password: &str, from: Option<std::net::IpAddr>) -> RawResponse {
    let body = form_urlencoded::Serializer::new(String::new()).append_pair("password", password).finish();
    let mut req = RawRequest::new("POST", path)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .header("Sec-Fetch-Site", "same-origin")
        .header("Accept", BROWSER)
        .body(body);
    if let Some(ip) = from {
        req = req.from(ip);
    }
    h.raw(req).await
}

/// The landing page's preview (raster images of links without a limit only, never SVG, never
/// counted) and the password form (303 with a `SameSite=Strict` cookie for this link only; a
/// wrong password, a cross-site post, too many guesses refused).
pub async fn landing_page_preview_and_password_form(h: &Harness) {
    let tag = random_hex(6);
    let (owner, _, signer) = account(h, &format!("browser-{tag}")).await;
    let bucket = format!("land-{}", random_hex(10));
    owner.create_bucket().bucket(&bucket).send().await.expect("create bucket");
    let png = b"\x89PNG\r\n\x1a\nnot-really-a-png".to_vec();
    put(&owner, &bucket, "pic.png", "image/png", &png).await;
    put(
        &owner,
        &bucket,
        "draw.svg",
        "image/svg+xml",
        b"<svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(1)</script></svg>",
    )
    .await;

    // No download limit: the page shows the image, the preview is served inline, uncounted.
    let (id, path) = create(h, &signer, &json!({ "bucket": bucket, "key": "pic.png", "expires_in": 600 })).await;
    let page = h.raw(RawRequest::new("GET", &path).header("Accept", BROWSER)).await;
    assert_eq!(page.status, 200);
    let html = page.text();
    assert!(
        html.contains("<img src=\"?preview=1\"") && html.contains("pic.png") && html.contains("Available until"),
        "{html}"
    );
    assert!(
        page.header("content-security-policy")
            .is_some_and(|c| c.contains("img-src 'self'") && c.contains("default-src 'none'"))
    );
    assert_link_headers(&page);
    let preview = h.raw(RawRequest::new("GET", &path).query("preview", "1").header("Accept", "image/*")).await;
    assert_eq!((preview.status, preview.body.clone()), (200, png.clone()));
    assert_eq!(preview.header("content-type"), Some("image/png"));
    assert!(
        preview.header("content-disposition").is_some_and(|d| d.starts_with("inline;")),
        "{:?}",
        preview.header("content-disposition")
    );
    assert_link_headers(&preview);
    assert_eq!(downloads(h, &signer, &id).await, 0, "a preview never counts");
    // A preview is never a range and never a download in disguise.
    let ranged = h.raw(RawRequest::new("GET", &path).query("preview", "1").header("Range", "bytes=5-")).await;
    assert_eq!(ranged.status, 200);

    // A download limit: no preview at all (it would skip the count).
    let (lid, limited) =
        create(h, &signer, &json!({ "bucket": bucket, "key": "pic.png", "expires_in": 600, "max_downloads": 1 })).await;
    let page = h.raw(RawRequest::new("GET", &limited).header("Accept", BROWSER)).await.text();
    assert!(!page.contains("<img") && page.contains("Downloads left: 1"), "{page}");
    assert_eq!(h.raw(RawRequest::new("GET", &limited).query("preview", "1")).await.status, 404);
    assert_eq!(downloads(h, &signer, &lid).await, 0);

    // SVG is never previewed and never served as an image of ours.
    let (_, svg) = create(h, &signer, &json!({ "bucket": bucket, "key": "draw.svg", "expires_in": 600 })).await;
    let page = h.raw(RawRequest::new("GET", &svg).header("Accept", BROWSER)).await.text();
    assert!(!page.contains("<img"), "{page}");
    assert_eq!(h.raw(RawRequest::new("GET", &svg).query("preview", "1")).await.status, 404);
    let got = link(h, "GET", &svg, None).await;
    assert_eq!(got.header("content-type"), Some("application/octet-stream"));
    assert!(got.header("content-disposition").is_some_and(|d| d.starts_with("attachment;")));

    // A password: a browser gets the form (401, no Basic dialog), the preview needs it too.
    let (pid, ppath) = create(
        h,
        &signer,
        &json!({ "bucket": bucket, "key": "pic.png", "expires_in": 600, "password": "pw-for-the-form" }),
    )
    .await;
    let ptoken = ppath.trim_start_matches("/s/").to_owned();
    let form = h.raw(RawRequest::new("GET", &ppath).header("Accept", BROWSER)).await;
    assert_eq!(form.status, 401);
    assert!(form.header("www-authenticate").is_none());
    let html = form.text();
    assert!(
        html.contains(&format!("<form method=\"post\" action=\"{ptoken}\">")) && html.contains("type=\"password\""),
        "{html}"
    );
    assert!(!html.contains("<img") && !html.contains("<script"), "nothing of the file before the password: {html}");
    assert!(form.header("content-security-policy").is_some_and(|c| c.contains("form-action 'self'")));
    assert_link_headers(&form);
    assert_eq!(h.raw(RawRequest::new("GET", &ppath).query("preview", "1")).await.status, 401);

    // Wrong: the form again, 401. From another site: 403, nothing charged or checked.
    let wrong = unlock(h, &ppath, "nope", None).await;
    assert_eq!(wrong.status, 401);
    assert!(wrong.text().contains("Wrong password") && wrong.header("set-cookie").is_none());
    let body = "password=pw-for-the-form";
    let csrf = h
        .raw(
            RawRequest::new("POST", &ppath)
                .header("Content-Type", "application/x-www-form-urlencoded")
                .header("Sec-Fetch-Site", "cross-site")
                .header("Origin", "https://evil.example")
                .body(body),
        )
        .await;
    assert_eq!(csrf.status, 403);
    assert!(csrf.header("set-cookie").is_none());
    let old_origin = h
        .raw(
            RawRequest::new("POST", &ppath)
                .header("Content-Type", "application/x-www-form-urlencoded")
                .header("Origin", "https://evil.example")
                .body(body),
        )
        .await;
    assert_eq!(old_origin.status, 403, "an Origin of another host");
    // A password in the URL is no password.
    let in_url = h.raw(RawRequest::new("GET", &ppath).query("password", "pw-for-the-form")).await;
    assert_eq!(in_url.status, 401);

    // Right: 303 back to the link with the unlock cookie (this link's path, HttpOnly,
    // SameSite=Strict), which opens the page, the preview and the download.
    let right = unlock(h, &ppath, "pw-for-the-form", None).await;
    assert_eq!(right.status, 303, "{}", right.text());
    assert_eq!(right.header("location"), Some(ptoken.as_str()));
    assert_link_headers(&right);
    let set = right.header("set-cookie").expect("a cookie").to_owned();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict") && set.contains(&format!("Path={ppath};")),
        "{set}"
    );
    assert!(!set.contains("pw-for-the-form"), "{set}");
    let cookie = set.split(';').next().expect("pair").to_owned();
    let with_cookie = |p: &str| RawRequest::new("GET", p).header("Cookie", &cookie);
    let page = h.raw(with_cookie(&ppath).header("Accept", BROWSER)).await;
    assert_eq!(page.status, 200, "{}", page.text());
    assert!(page.text().contains("<img src=\"?preview=1\""));
    let preview = h.raw(with_cookie(&ppath).query("preview", "1")).await;
    assert_eq!((preview.status, preview.body.clone()), (200, png.clone()));
    let got = h.raw(with_cookie(&ppath).query("download", "1").header("Accept", BROWSER)).await;
    assert_eq!((got.status, got.body.clone()), (200, png.clone()));
    assert_eq!(downloads(h, &signer, &pid).await, 1, "the cookie's download counts");
    // The cookie is this link's only, and a forged one is nothing.
    let (_, other) = create(
        h,
        &signer,
        &json!({ "bucket": bucket, "key": "pic.png", "expires_in": 600, "password": "pw-for-the-form" }),
    )
    .await;
    assert_eq!(h.raw(with_cookie(&other)).await.status, 401);
    let (name, value) = cookie.split_once('=').expect("pair");
    let (exp, mac) = value.split_once('.').expect("dot");
    let forged = format!("{name}={}.{mac}", exp.parse::<i64>().expect("int") + 86_400);
    assert_eq!(h.raw(RawRequest::new("GET", &ppath).header("Cookie", &forged)).await.status, 401);

    // The form's guesses are the same limited guesses: five wrong from one address, then 429
    // even for the right password.
    let from: std::net::IpAddr = "127.0.0.41".parse().unwrap();
    for _ in 0..5 {
        assert_eq!(unlock(h, &other, "nope", Some(from)).await.status, 401);
    }
    let locked = unlock(h, &other, "pw-for-the-form", Some(from)).await;
    assert_eq!(locked.status, 429, "{}", locked.text());
    assert!(locked.header("retry-after").is_some());
    assert_eq!(unlock(h, &other, "pw-for-the-form", Some("127.0.0.42".parse().unwrap())).await.status, 303);

    // A dead link's form is refused like the link.
    let (rid, rpath) =
        create(h, &signer, &json!({ "bucket": bucket, "key": "pic.png", "expires_in": 600, "password": "x-y-z" }))
            .await;
    assert_eq!(call(h, &signer, "DELETE", &format!("/{rid}"), None).await.0, 204);
    assert_eq!(unlock(h, &rpath, "x-y-z", None).await.status, 404);
}

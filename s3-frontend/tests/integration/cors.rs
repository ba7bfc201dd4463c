//! CORS (issue #13 item 5): Put/Get/DeleteBucketCors through the SDK and raw requests,
//! unsigned preflights, the headers of actual responses (error answers included), and the
//! REST API's fixed policy. Each behaviour Ceph s3-tests checks (`test_set_cors`,
//! `test_cors_origin_response`, `test_cors_origin_wildcard`, `test_cors_header_option`,
//! `test_cors_presigned_*`) has its case here, since CI cannot fetch that suite.

use aws_sdk_s3::error::ProvideErrorMetadata as _;
use aws_sdk_s3::types::{CorsConfiguration, CorsRule};

use crate::harness::{Harness, RawRequest, md5_b64, random_hex, sdk_client, status_of};

fn now() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc()
}

fn rule(origins: &[&str], methods: &[&str]) -> aws_sdk_s3::types::builders::CorsRuleBuilder {
    let mut b = CorsRule::builder();
    for o in origins {
        b = b.allowed_origins(*o);
    }
    for m in methods {
        b = b.allowed_methods(*m);
    }
    b
}

fn config(rules: Vec<CorsRule>) -> CorsConfiguration {
    CorsConfiguration::builder().set_cors_rules(Some(rules)).build().expect("cors configuration")
}

/// The rules of s3-tests' `test_cors_origin_response`.
fn origin_rules() -> CorsConfiguration {
    config(vec![
        rule(&["*suffix"], &["GET"]).build().expect("rule"),
        rule(&["start*end"], &["GET"]).build().expect("rule"),
        rule(&["prefix*"], &["GET"]).build().expect("rule"),
        rule(&["*.put"], &["PUT"]).build().expect("rule"),
    ])
}

/// Sends `method path` unsigned with `headers`; returns the response.
async fn unsigned(h: &Harness, method: &str, path: &str, headers: &[(&str, &str)]) -> crate::harness::RawResponse {
    let mut r = RawRequest::new(method, path);
    for (k, v) in headers {
        r = r.header(k, v);
    }
    h.raw(r).await
}

/// (status, Access-Control-Allow-Origin, Access-Control-Allow-Methods) of a response.
fn cors_of(r: &crate::harness::RawResponse) -> (u16, Option<&str>, Option<&str>) {
    (r.status, r.header("access-control-allow-origin"), r.header("access-control-allow-methods"))
}

fn cors_body(rules: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><CORSConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">{rules}</CORSConfiguration>"#
    )
}

/// A signed `PUT ?cors` with `body` and a correct `Content-MD5`.
async fn put_cors_raw(h: &Harness, bucket: &str, body: &str) -> crate::harness::RawResponse {
    let req = RawRequest::new("PUT", &format!("/{bucket}"))
        .query("cors", "")
        .header("content-md5", &md5_b64(body.as_bytes()))
        .header("content-type", "application/xml")
        .body(body.as_bytes().to_vec());
    h.raw(h.signer().sign(req, None, now())).await
}

pub async fn bucket_cors_configuration(h: &Harness) {
    let bucket = h.bucket("cors").await;
    let c = &h.client;
    // None yet: 404 NoSuchCORSConfiguration.
    let e = c.get_bucket_cors().bucket(&bucket).send().await.expect_err("no configuration");
    assert_eq!((status_of(&e), e.code()), (404, Some("NoSuchCORSConfiguration")));

    let full = rule(&["https://app.example", "*.example.org"], &["GET", "PUT", "HEAD"])
        .id("web")
        .allowed_headers("x-amz-*")
        .allowed_headers("Content-Type")
        .expose_headers("ETag")
        .expose_headers("x-amz-request-id")
        .max_age_seconds(3000)
        .build()
        .expect("rule");
    let plain = rule(&["*"], &["GET"]).build().expect("rule");
    c.put_bucket_cors()
        .bucket(&bucket)
        .cors_configuration(config(vec![full.clone(), plain.clone()]))
        .send()
        .await
        .expect("put cors");
    let got = c.get_bucket_cors().bucket(&bucket).send().await.expect("get cors");
    assert_eq!(got.cors_rules(), [full, plain.clone()]);

    // Replaced whole.
    c.put_bucket_cors().bucket(&bucket).cors_configuration(config(vec![plain.clone()])).send().await.expect("replace");
    let got = c.get_bucket_cors().bucket(&bucket).send().await.expect("get cors");
    assert_eq!(got.cors_rules(), [plain]);

    // Deleted: 204, then 404 again; deleting again is 204 too.
    let del =
        h.raw(h.signer().sign(RawRequest::new("DELETE", &format!("/{bucket}")).query("cors", ""), None, now())).await;
    assert_eq!(del.status, 204, "{}", del.text());
    let e = c.get_bucket_cors().bucket(&bucket).send().await.expect_err("deleted");
    assert_eq!((status_of(&e), e.code()), (404, Some("NoSuchCORSConfiguration")));
    c.delete_bucket_cors().bucket(&bucket).send().await.expect("delete again");

    // Content-MD5 accepted (raw, as boto3 sends it).
    let ok = put_cors_raw(
        h,
        &bucket,
        &cors_body("<CORSRule><ID>r1</ID><AllowedOrigin>*</AllowedOrigin><AllowedMethod>DELETE</AllowedMethod><AllowedMethod>POST</AllowedMethod><MaxAgeSeconds>5</MaxAgeSeconds></CORSRule>"),
    )
    .await;
    assert_eq!(ok.status, 200, "{}", ok.text());
    let got = c.get_bucket_cors().bucket(&bucket).send().await.expect("get cors");
    assert_eq!(got.cors_rules()[0].id(), Some("r1"));
    assert_eq!(got.cors_rules()[0].allowed_methods(), ["DELETE", "POST"]);
    assert_eq!(got.cors_rules()[0].max_age_seconds(), Some(5));

    // Refusals, with AWS's codes and messages; the stored configuration stays.
    let bad = put_cors_raw(
        h,
        &bucket,
        &cors_body("<CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>PATCH</AllowedMethod></CORSRule>"),
    )
    .await;
    bad.assert_error(400, "InvalidRequest");
    assert!(
        bad.text().contains("Found unsupported HTTP method in CORS config. Unsupported method is PATCH"),
        "{}",
        bad.text()
    );
    put_cors_raw(
        h,
        &bucket,
        &cors_body("<CORSRule><AllowedOrigin>*.a.*</AllowedOrigin><AllowedMethod>GET</AllowedMethod></CORSRule>"),
    )
    .await
    .assert_error(400, "InvalidRequest");
    put_cors_raw(
        h,
        &bucket,
        &cors_body("<CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod><AllowedHeader>x-*-*</AllowedHeader></CORSRule>"),
    )
    .await
    .assert_error(400, "InvalidRequest");
    let many = "<CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod></CORSRule>".repeat(101);
    put_cors_raw(h, &bucket, &cors_body(&many)).await.assert_error(400, "MalformedXML");
    let hundred = "<CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod></CORSRule>".repeat(100);
    assert_eq!(put_cors_raw(h, &bucket, &cors_body(&hundred)).await.status, 200);
    assert_eq!(c.get_bucket_cors().bucket(&bucket).send().await.expect("get").cors_rules().len(), 100);

    // Content-MD5 is checked: a body that does not match it is 400 BadDigest, a value that
    // is no MD5 400 InvalidDigest, and the stored configuration stays.
    let body = cors_body("<CORSRule><AllowedOrigin>x</AllowedOrigin><AllowedMethod>GET</AllowedMethod></CORSRule>");
    let req = |md5: &str| {
        RawRequest::new("PUT", &format!("/{bucket}"))
            .query("cors", "")
            .header("content-md5", md5)
            .body(body.as_bytes().to_vec())
    };
    h.raw(h.signer().sign(req(&md5_b64(b"something else")), None, now())).await.assert_error(400, "BadDigest");
    h.raw(h.signer().sign(req("bm90IGFuIG1kNQ=="), None, now())).await.assert_error(400, "InvalidDigest");
    assert_eq!(c.get_bucket_cors().bucket(&bucket).send().await.expect("get").cors_rules().len(), 100);

    // A missing bucket.
    let e = c.get_bucket_cors().bucket(format!("nope-{}", random_hex(8))).send().await.expect_err("missing");
    assert_eq!((status_of(&e), e.code()), (404, Some("NoSuchBucket")));

    // Only the owner (by default): another account is refused all three, and nothing changes.
    let tag = random_hex(6);
    let (profile, key) = h
        .iam
        .admin_create_account(&format!("cors-stranger-{tag}"), None, None, &Default::default())
        .await
        .expect("account");
    let stranger = sdk_client(h.addr, &key.access_key_id, &key.secret.0);
    let e = stranger.get_bucket_cors().bucket(&bucket).send().await.expect_err("stranger get");
    assert_eq!((status_of(&e), e.code()), (403, Some("AccessDenied")));
    let e = stranger
        .put_bucket_cors()
        .bucket(&bucket)
        .cors_configuration(origin_rules())
        .send()
        .await
        .expect_err("stranger put");
    assert_eq!((status_of(&e), e.code()), (403, Some("AccessDenied")));
    let e = stranger.delete_bucket_cors().bucket(&bucket).send().await.expect_err("stranger delete");
    assert_eq!((status_of(&e), e.code()), (403, Some("AccessDenied")));
    // Anonymous callers too.
    unsigned(h, "GET", &format!("/{bucket}?cors"), &[]).await.assert_error(403, "AccessDenied");
    assert_eq!(c.get_bucket_cors().bucket(&bucket).send().await.expect("get").cors_rules().len(), 100);
    // A bucket policy may grant reading the rules to another account; writing stays refused.
    let policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{}:root"}},"Action":"s3:GetBucketCORS","Resource":"arn:aws:s3:::{bucket}"}}]}}"#,
        profile.account_id
    );
    c.put_bucket_policy().bucket(&bucket).policy(policy).send().await.expect("put policy");
    let got = stranger.get_bucket_cors().bucket(&bucket).send().await.expect("granted get");
    assert_eq!(got.cors_rules().len(), 100);
    let e = stranger.delete_bucket_cors().bucket(&bucket).send().await.expect_err("stranger delete");
    assert_eq!((status_of(&e), e.code()), (403, Some("AccessDenied")));
}

pub async fn cors_preflight(h: &Harness) {
    let bucket = h.bucket("cors-pre").await;
    let url = format!("/{bucket}");
    let obj = format!("/{bucket}/bar");
    // Before any configuration: the request must still name an origin and a method.
    let r = unsigned(h, "OPTIONS", &url, &[]).await;
    r.assert_error(400, "BadRequest");
    assert!(r.text().contains("Insufficient information. Origin request header needed."), "{}", r.text());
    unsigned(h, "OPTIONS", &url, &[("Origin", "foo.suffix")]).await.assert_error(400, "BadRequest");
    unsigned(h, "OPTIONS", &url, &[("Origin", "foo"), ("Access-Control-Request-Method", "PATCH")])
        .await
        .assert_error(400, "BadRequest");
    let r = unsigned(h, "OPTIONS", &obj, &[("Origin", "foo.suffix"), ("Access-Control-Request-Method", "GET")]).await;
    r.assert_error(403, "CORSResponse");
    assert!(r.text().contains("CORS is not enabled for this bucket."), "{}", r.text());
    assert_eq!(r.header("access-control-allow-origin"), None);
    // A missing bucket.
    unsigned(
        h,
        "OPTIONS",
        &format!("/nope-{}/k", random_hex(8)),
        &[("Origin", "a"), ("Access-Control-Request-Method", "GET")],
    )
    .await
    .assert_error(404, "NoSuchBucket");

    h.client.put_bucket_cors().bucket(&bucket).cors_configuration(origin_rules()).send().await.expect("put cors");
    for (path, origin, method, want) in [
        (&obj, "foo.suffix", "GET", Some("GET")),
        (&url, "foo.bar", "GET", None),
        (&url, "foo.suffix.get", "GET", None),
        (&url, "startend", "GET", Some("GET")),
        (&url, "start1end", "GET", Some("GET")),
        (&url, "start12end", "GET", Some("GET")),
        (&url, "0start12end", "GET", None),
        (&url, "prefix", "GET", Some("GET")),
        (&url, "prefix.suffix", "GET", Some("GET")),
        (&url, "bla.prefix", "GET", None),
        (&url, "foo.put", "GET", None),
        (&url, "foo.put", "PUT", Some("PUT")),
    ] {
        let r = unsigned(h, "OPTIONS", path, &[("Origin", origin), ("Access-Control-Request-Method", method)]).await;
        match want {
            Some(m) => {
                assert_eq!(cors_of(&r), (200, Some(origin), Some(m)), "{origin} {method}: {}", r.text());
                assert_eq!(r.header("vary"), Some(s3_frontend::cors::VARY));
            }
            None => {
                r.assert_error(403, "CORSResponse");
                assert!(r.text().contains("This CORS request is not allowed."), "{}", r.text());
                assert_eq!(cors_of(&r), (403, None, None), "{origin} {method}");
            }
        }
    }

    // Headers: allowed ones are echoed (case-insensitively matched), others refuse the
    // preflight; exposure and max age from the rule; any-origin rules answer `*`.
    let web = rule(&["https://app.example"], &["PUT", "GET"])
        .allowed_headers("X-Amz-*")
        .allowed_headers("content-type")
        .expose_headers("ETag")
        .max_age_seconds(600)
        .build()
        .expect("rule");
    let any = rule(&["*"], &["GET"]).expose_headers("x-amz-meta-header1").build().expect("rule");
    h.client.put_bucket_cors().bucket(&bucket).cors_configuration(config(vec![web, any])).send().await.expect("put");
    let r = unsigned(
        h,
        "OPTIONS",
        &obj,
        &[
            ("Origin", "https://app.example"),
            ("Access-Control-Request-Method", "PUT"),
            ("Access-Control-Request-Headers", "Content-Type, x-amz-date"),
        ],
    )
    .await;
    assert_eq!(cors_of(&r), (200, Some("https://app.example"), Some("PUT, GET")), "{}", r.text());
    assert_eq!(r.header("access-control-allow-headers"), Some("content-type, x-amz-date"));
    assert_eq!(r.header("access-control-expose-headers"), Some("ETag"));
    assert_eq!(r.header("access-control-max-age"), Some("600"));
    assert_eq!(r.header("access-control-allow-credentials"), Some("true"));
    assert_eq!(r.headers.iter().filter(|(k, _)| k == "access-control-allow-origin").count(), 1);
    let r = unsigned(
        h,
        "OPTIONS",
        &obj,
        &[
            ("Origin", "https://app.example"),
            ("Access-Control-Request-Method", "PUT"),
            ("Access-Control-Request-Headers", "x-custom"),
        ],
    )
    .await;
    r.assert_error(403, "CORSResponse");
    // test_cors_header_option: a header no rule allows.
    unsigned(
        h,
        "OPTIONS",
        &obj,
        &[
            ("Origin", "example.origin"),
            ("Access-Control-Request-Headers", "x-amz-meta-header2"),
            ("Access-Control-Request-Method", "GET"),
        ],
    )
    .await
    .assert_error(403, "CORSResponse");
    let r =
        unsigned(h, "OPTIONS", &obj, &[("Origin", "example.origin"), ("Access-Control-Request-Method", "GET")]).await;
    assert_eq!(cors_of(&r), (200, Some("*"), Some("GET")), "{}", r.text());
    assert_eq!(r.header("access-control-expose-headers"), Some("x-amz-meta-header1"));
    assert_eq!(r.header("access-control-allow-credentials"), None);

    // A presigned URL's preflight: its query string changes nothing, no signature is checked
    // (test_cors_presigned_*).
    h.client
        .put_bucket_cors()
        .bucket(&bucket)
        .cors_configuration(config(vec![rule(&["example"], &["PUT"]).build().expect("rule")]))
        .send()
        .await
        .expect("put");
    let presigned = h.signer().presign(RawRequest::new("PUT", &obj), "3600", now());
    let mut pre =
        RawRequest::new("OPTIONS", &obj).header("Origin", "example").header("Access-Control-Request-Method", "PUT");
    pre.query = presigned.query.clone();
    let r = h.raw(pre).await;
    assert_eq!(cors_of(&r), (200, Some("example"), Some("PUT")), "{}", r.text());
    let mut pre = RawRequest::new("OPTIONS", &obj);
    pre.query = presigned.query;
    h.raw(pre).await.assert_error(400, "BadRequest");

    // Deleting the configuration turns CORS off again.
    h.client.delete_bucket_cors().bucket(&bucket).send().await.expect("delete");
    unsigned(h, "OPTIONS", &obj, &[("Origin", "example"), ("Access-Control-Request-Method", "PUT")])
        .await
        .assert_error(403, "CORSResponse");
}

pub async fn cors_actual_responses(h: &Harness) {
    let bucket = h.bucket("cors-act").await;
    h.put(&bucket, "foo", b"hello".to_vec()).await;
    let obj = format!("/{bucket}/foo");
    let missing = format!("/{bucket}/bar");
    let signer = h.signer();
    let signed_get =
        |path: &str, origin: &str| signer.sign(RawRequest::new("GET", path).header("Origin", origin), None, now());

    // No configuration: no CORS headers at all, and the answer is otherwise the same.
    let r = h.raw(signed_get(&obj, "foo.suffix")).await;
    assert_eq!((r.status, r.text().as_str()), (200, "hello"));
    assert!(r.headers.iter().all(|(k, _)| !k.starts_with("access-control-")), "{:?}", r.headers);
    assert_eq!(r.header("vary"), None);

    h.client.put_bucket_cors().bucket(&bucket).cors_configuration(origin_rules()).send().await.expect("put cors");
    // Without Origin: nothing.
    let r = h.raw(signer.sign(RawRequest::new("GET", &obj), None, now())).await;
    assert_eq!(cors_of(&r), (200, None, None));
    // A match, signed: the origin echoed once, with Vary and credentials.
    let r = h.raw(signed_get(&obj, "foo.suffix")).await;
    assert_eq!(cors_of(&r), (200, Some("foo.suffix"), Some("GET")));
    assert_eq!(r.text(), "hello");
    assert_eq!(r.header("vary"), Some(s3_frontend::cors::VARY));
    assert_eq!(r.header("access-control-allow-credentials"), Some("true"));
    assert_eq!(r.headers.iter().filter(|(k, _)| k == "access-control-allow-origin").count(), 1);
    // No match: nothing.
    for origin in ["foo.bar", "foo.suffix.get", "0start12end", "bla.prefix"] {
        let r = h.raw(signed_get(&obj, origin)).await;
        assert_eq!(cors_of(&r), (200, None, None), "{origin}");
        assert_eq!(r.header("vary"), None);
    }
    for origin in ["startend", "start12end", "prefix", "prefix.suffix"] {
        assert_eq!(cors_of(&h.raw(signed_get(&obj, origin)).await), (200, Some(origin), Some("GET")), "{origin}");
    }
    // Error answers carry them too (test_cors_origin_response): a missing key...
    let r = h.raw(signed_get(&missing, "foo.suffix")).await;
    r.assert_error(404, "NoSuchKey");
    assert_eq!(cors_of(&r), (404, Some("foo.suffix"), Some("GET")));
    // ...and anonymous PUTs refused 403, matched by Access-Control-Request-Method when sent,
    // else by their own method.
    let put = |origin: &str, acrm: Option<&str>| {
        let mut r = RawRequest::new("PUT", &missing).header("Origin", origin);
        if let Some(m) = acrm {
            r = r.header("Access-Control-Request-Method", m);
        }
        r
    };
    for (origin, acrm, want) in [
        ("foo.suffix", Some("GET"), Some(("foo.suffix", "GET"))),
        ("foo.suffix", Some("PUT"), None),
        ("foo.suffix", Some("DELETE"), None),
        ("foo.suffix", None, None),
        ("foo.put", None, Some(("foo.put", "PUT"))),
    ] {
        let r = h.raw(put(origin, acrm)).await;
        r.assert_error(403, "AccessDenied");
        assert_eq!(cors_of(&r), (403, want.map(|w| w.0), want.map(|w| w.1)), "{origin} {acrm:?}");
    }
    // A presigned GET from a page: the origin matches, the answer carries the headers.
    let presigned = signer.presign(RawRequest::new("GET", &obj).header("Origin", "prefix.x"), "600", now());
    let r = h.raw(presigned).await;
    assert_eq!(cors_of(&r), (200, Some("prefix.x"), Some("GET")), "{}", r.text());

    // A rule for any origin: `*` to requests without Authorization, the origin to signed ones.
    h.client
        .put_bucket_cors()
        .bucket(&bucket)
        .cors_configuration(config(vec![rule(&["*"], &["GET", "HEAD"]).build().expect("rule")]))
        .send()
        .await
        .expect("put cors");
    let r = h.raw(signer.presign(RawRequest::new("GET", &obj).header("Origin", "example.origin"), "600", now())).await;
    assert_eq!(cors_of(&r), (200, Some("*"), Some("GET, HEAD")));
    assert_eq!(r.header("access-control-allow-credentials"), None);
    let r = h.raw(signed_get(&obj, "example.origin")).await;
    assert_eq!(cors_of(&r), (200, Some("example.origin"), Some("GET, HEAD")));
    // Anonymous GET refused, with the headers (the browser then shows the 403 to the page).
    let r = unsigned(h, "GET", &obj, &[("Origin", "example.origin")]).await;
    r.assert_error(403, "AccessDenied");
    assert_eq!(cors_of(&r), (403, Some("*"), Some("GET, HEAD")));
}

pub async fn rest_api_cors_policy(h: &Harness) {
    // Preflight: any origin, the API's methods and headers, no credentials.
    let r = unsigned(
        h,
        "OPTIONS",
        "/_api/v1/auth/login",
        &[
            ("Origin", "https://console.example"),
            ("Access-Control-Request-Method", "POST"),
            ("Access-Control-Request-Headers", "content-type"),
        ],
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.text());
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    assert!(r.header("access-control-allow-methods").is_some_and(|m| m.contains("POST") && m.contains("PATCH")));
    assert!(r.header("access-control-allow-headers").is_some_and(|m| m.contains("authorization")));
    assert_eq!(r.header("access-control-allow-credentials"), None);
    unsigned(h, "OPTIONS", "/_api/v1/users/me", &[]).await.assert_error(400, "BadRequest");
    // Actual answers (errors too) say `*` and expose the request id; none without Origin.
    let r = unsigned(h, "GET", "/_api/v1/users/me", &[("Origin", "https://console.example")]).await;
    assert_eq!(r.status, 401, "{}", r.text());
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    assert!(r.header("access-control-expose-headers").is_some_and(|e| e.contains("x-amz-request-id")));
    let r = unsigned(h, "GET", "/_api/v1/users/me", &[]).await;
    assert_eq!(r.header("access-control-allow-origin"), None);
}

/// An event's type, `config` and `rules` details, and status.
type EventSummary<'a> = (&'a str, Option<&'a str>, Option<&'a str>, Option<u16>);

pub async fn cors_changes_become_events(h: &Harness) {
    let bucket = h.bucket("cors-ev").await;
    let c = &h.client;
    c.put_bucket_cors().bucket(&bucket).cors_configuration(origin_rules()).send().await.expect("put cors");
    // A refused configuration changes nothing and writes no event; nor does a preflight.
    put_cors_raw(
        h,
        &bucket,
        &cors_body("<CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>PATCH</AllowedMethod></CORSRule>"),
    )
    .await
    .assert_error(400, "InvalidRequest");
    let r = unsigned(
        h,
        "OPTIONS",
        &format!("/{bucket}/k"),
        &[("Origin", "a.put"), ("Access-Control-Request-Method", "PUT")],
    )
    .await;
    assert_eq!(r.status, 200);
    c.delete_bucket_cors().bucket(&bucket).send().await.expect("delete cors");
    // The buffer appends every 100 ms.
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    let events: Vec<cloudstore_events::Event> = h
        .meta
        .outbox_rows(100_000)
        .await
        .expect("outbox rows")
        .iter()
        .map(|r| cloudstore_events::decode(r.body.as_bytes()).expect("event"))
        .filter(|e| e.bucket.as_deref() == Some(bucket.as_str()))
        .collect();
    let got: Vec<EventSummary<'_>> = events
        .iter()
        .map(|e| {
            (
                e.event_type.as_str(),
                e.detail.get("config").map(String::as_str),
                e.detail.get("rules").map(String::as_str),
                e.status,
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("bucket_created", None, None, Some(200)),
            ("bucket_config_changed", Some("cors"), Some("4"), Some(200)),
            ("bucket_config_changed", Some("cors"), Some("0"), Some(204)),
        ]
    );
}

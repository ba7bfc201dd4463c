//! Sign-then-verify round trips, and every kind of tampering refused with the right error.

use std::time::Duration;

use cloudstore_sigv4::{
    AuthorizationHeader, Credentials, DEFAULT_MAX_SKEW, Error, SigningKeyCache, SigningParams, UNSIGNED_PAYLOAD,
    VerifyParams, encode_query, parse_authorization, payload_hash, sign, verify, verify_with,
};
use http::HeaderValue;
use http::request::Parts;
use time::OffsetDateTime;
use time::macros::datetime;

const AK: &str = "AKIAEXAMPLEIAMUSER01";
const SK: &str = "s3cr3t/K7MDENG+bPxRfiCYEXAMPLEKEYxyz";
const TOKEN: &str = "FwoGZXIvYXdzEXAMPLE+session/token==";
const T: OffsetDateTime = datetime!(2024-06-01 08:30:00 UTC);
const FORM: &str = "Action=ListUsers&Version=2010-05-08";
const FORM_TYPE: &str = "application/x-www-form-urlencoded; charset=utf-8";

fn request(method: &str, url: &str, headers: &[(&str, &str)]) -> Parts {
    let mut b = http::Request::builder().method(method).uri(url);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(()).expect("valid request").into_parts().0
}

fn iam_params() -> SigningParams<'static> {
    SigningParams { region: "us-east-1", service: "iam", time: T }
}

/// `POST /` with the IAM form body, signed for service `iam`.
fn signed_iam_post(creds: &Credentials) -> Parts {
    let mut p = request("POST", "http://localhost:9000/", &[("host", "localhost:9000"), ("content-type", FORM_TYPE)]);
    sign(&mut p, &payload_hash(FORM.as_bytes()), creds, &iam_params()).expect("signs");
    p
}

fn auth_of(p: &Parts) -> AuthorizationHeader {
    parse_authorization(p.headers.get("authorization").expect("signed").to_str().expect("ascii")).expect("parses")
}

fn check(p: &Parts, auth: &AuthorizationHeader, secret: &str, body: &str, now: OffsetDateTime) -> Result<(), Error> {
    verify(p, auth, secret, &payload_hash(body.as_bytes()), now, DEFAULT_MAX_SKEW)
}

#[test]
fn iam_form_post_round_trip() {
    let p = signed_iam_post(&Credentials::new(AK, SK));
    let auth = auth_of(&p);
    assert_eq!(auth.access_key, AK);
    assert_eq!(auth.date, "20240601");
    assert_eq!((auth.region.as_str(), auth.service.as_str()), ("us-east-1", "iam"));
    assert_eq!(auth.signed_headers, ["content-type", "host", "x-amz-content-sha256", "x-amz-date"]);
    assert_eq!(p.headers.get("x-amz-date").expect("set"), "20240601T083000Z");
    assert_eq!(p.headers.get("x-amz-content-sha256").expect("set"), payload_hash(FORM.as_bytes()).as_str());
    assert!(p.headers.get("x-amz-security-token").is_none());
    check(&p, &auth, SK, FORM, T).expect("verifies");
    // Through the cache too, twice (the second time from the cache).
    let cache = SigningKeyCache::default();
    let hash = payload_hash(FORM.as_bytes());
    for _ in 0..2 {
        cache.verify_cached(&p, &auth, SK, &VerifyParams::new(&hash, T)).expect("verifies");
    }
    assert_eq!(cache.len(), 1);
}

#[test]
fn signing_with_the_cache_is_the_same() {
    let creds = Credentials::new(AK, SK);
    let cache = SigningKeyCache::new(8);
    let plain = signed_iam_post(&creds);
    for _ in 0..2 {
        let mut p =
            request("POST", "http://localhost:9000/", &[("host", "localhost:9000"), ("content-type", FORM_TYPE)]);
        cache.sign_cached(&mut p, &payload_hash(FORM.as_bytes()), &creds, &iam_params()).expect("signs");
        assert_eq!(p.headers.get("authorization"), plain.headers.get("authorization"));
    }
}

#[test]
fn tampered_method_path_or_query_is_refused() {
    let p = signed_iam_post(&Credentials::new(AK, SK));
    let auth = auth_of(&p);
    let mut q = p.clone();
    q.method = http::Method::PUT;
    assert_eq!(check(&q, &auth, SK, FORM, T), Err(Error::SignatureDoesNotMatch));
    let mut q = p.clone();
    q.uri = "http://localhost:9000/admin".parse().expect("uri");
    assert_eq!(check(&q, &auth, SK, FORM, T), Err(Error::SignatureDoesNotMatch));
    let mut q = p.clone();
    q.uri = "http://localhost:9000/?Action=DeleteUser".parse().expect("uri");
    assert_eq!(check(&q, &auth, SK, FORM, T), Err(Error::SignatureDoesNotMatch));
}

#[test]
fn tampered_query_value_is_refused() {
    let creds = Credentials::new(AK, SK);
    let url = format!("http://localhost:9000/?{}", encode_query(&[("Action", "GetUser"), ("UserName", "alice")]));
    let mut p = request("GET", &url, &[("host", "localhost:9000")]);
    sign(&mut p, &payload_hash(b""), &creds, &iam_params()).expect("signs");
    let auth = auth_of(&p);
    check(&p, &auth, SK, "", T).expect("verifies");
    p.uri = "http://localhost:9000/?Action=GetUser&UserName=mallory".parse().expect("uri");
    assert_eq!(check(&p, &auth, SK, "", T), Err(Error::SignatureDoesNotMatch));
}

#[test]
fn tampered_signed_header_is_refused() {
    let p = signed_iam_post(&Credentials::new(AK, SK));
    let auth = auth_of(&p);
    let mut q = p.clone();
    q.headers.insert("content-type", HeaderValue::from_static("application/json"));
    assert_eq!(check(&q, &auth, SK, FORM, T), Err(Error::SignatureDoesNotMatch));
    let mut q = p.clone();
    q.headers.insert("host", HeaderValue::from_static("evil.example:9000"));
    assert_eq!(check(&q, &auth, SK, FORM, T), Err(Error::SignatureDoesNotMatch));
    // A second value for a signed header.
    let mut q = p.clone();
    q.headers.append("content-type", HeaderValue::from_static("text/plain"));
    assert_eq!(check(&q, &auth, SK, FORM, T), Err(Error::SignatureDoesNotMatch));
    // A signed header removed.
    let mut q = p.clone();
    q.headers.remove("content-type");
    assert!(matches!(check(&q, &auth, SK, FORM, T), Err(Error::Malformed(_))));
}

#[test]
fn unsigned_headers_added_later_are_ignored() {
    let p = signed_iam_post(&Credentials::new(AK, SK));
    let auth = auth_of(&p);
    let mut q = p.clone();
    q.headers.insert("content-length", HeaderValue::from_static("35"));
    q.headers.insert("user-agent", HeaderValue::from_static("curl/8"));
    q.headers.insert("x-forwarded-for", HeaderValue::from_static("10.0.0.1"));
    check(&q, &auth, SK, FORM, T).expect("verifies");
}

#[test]
fn tampered_body_is_refused() {
    let p = signed_iam_post(&Credentials::new(AK, SK));
    let auth = auth_of(&p);
    let evil = "Action=DeleteUser&UserName=alice&Version=2010-05-08";
    assert_eq!(check(&p, &auth, SK, evil, T), Err(Error::ContentSha256Mismatch));
    // Without x-amz-content-sha256 the body hash goes into the signature directly.
    let mut q = p.clone();
    q.headers.remove("x-amz-content-sha256");
    let signed_without: Vec<String> =
        auth.signed_headers.iter().filter(|h| *h != "x-amz-content-sha256").cloned().collect();
    let auth_without = AuthorizationHeader { signed_headers: signed_without, ..auth.clone() };
    assert_eq!(check(&q, &auth_without, SK, evil, T), Err(Error::SignatureDoesNotMatch));
}

#[test]
fn payload_hash_header_is_compared_case_insensitively() {
    let creds = Credentials::new(AK, SK);
    let p = signed_iam_post(&creds);
    let auth = auth_of(&p);
    let upper = payload_hash(FORM.as_bytes()).to_uppercase();
    verify(&p, &auth, SK, &upper, T, DEFAULT_MAX_SKEW).expect("same hash, other case");
}

#[test]
fn wrong_secret_is_refused() {
    let p = signed_iam_post(&Credentials::new(AK, SK));
    let auth = auth_of(&p);
    assert_eq!(check(&p, &auth, "another-secret", FORM, T), Err(Error::SignatureDoesNotMatch));
    assert_eq!(check(&p, &auth, "", FORM, T), Err(Error::SignatureDoesNotMatch));
}

#[test]
fn tampered_signature_or_scope_is_refused() {
    let p = signed_iam_post(&Credentials::new(AK, SK));
    let auth = auth_of(&p);
    let mut a = auth.clone();
    a.signature = "0".repeat(64);
    assert_eq!(check(&p, &a, SK, FORM, T), Err(Error::SignatureDoesNotMatch));
    let mut a = auth.clone();
    a.signature.truncate(63);
    assert_eq!(check(&p, &a, SK, FORM, T), Err(Error::SignatureDoesNotMatch));
    // Same secret, other region or service: a different signing key.
    let mut a = auth.clone();
    a.region = "eu-west-1".into();
    assert_eq!(check(&p, &a, SK, FORM, T), Err(Error::SignatureDoesNotMatch));
    let mut a = auth.clone();
    a.service = "sts".into();
    assert_eq!(check(&p, &a, SK, FORM, T), Err(Error::SignatureDoesNotMatch));
}

#[test]
fn request_time_outside_the_skew_is_refused() {
    let p = signed_iam_post(&Credentials::new(AK, SK));
    let auth = auth_of(&p);
    let fifteen = time::Duration::minutes(15);
    let second = time::Duration::seconds(1);
    check(&p, &auth, SK, FORM, T + fifteen).expect("15 minutes late is fine");
    check(&p, &auth, SK, FORM, T - fifteen).expect("15 minutes early is fine");
    assert_eq!(check(&p, &auth, SK, FORM, T + fifteen + second), Err(Error::RequestTimeTooSkewed));
    assert_eq!(check(&p, &auth, SK, FORM, T - fifteen - second), Err(Error::RequestTimeTooSkewed));
    assert_eq!(check(&p, &auth, SK, FORM, T + time::Duration::days(365)), Err(Error::RequestTimeTooSkewed));
    let hash = payload_hash(FORM.as_bytes());
    let strict = Duration::from_secs(60);
    assert_eq!(verify(&p, &auth, SK, &hash, T + time::Duration::minutes(2), strict), Err(Error::RequestTimeTooSkewed));
    verify(&p, &auth, SK, &hash, T + time::Duration::seconds(59), strict).expect("within a minute");
}

#[test]
fn scope_date_mismatch_is_refused() {
    let p = signed_iam_post(&Credentials::new(AK, SK));
    let mut auth = auth_of(&p);
    auth.date = "20240531".into();
    assert_eq!(check(&p, &auth, SK, FORM, T), Err(Error::ScopeDateMismatch));
    // Also when x-amz-date is moved to another day (checked before the signature).
    let auth = auth_of(&p);
    let mut q = p.clone();
    q.headers.insert("x-amz-date", HeaderValue::from_static("20240602T083000Z"));
    assert_eq!(check(&q, &auth, SK, FORM, T), Err(Error::ScopeDateMismatch));
    // Same day, other time: within the skew, but signed.
    q.headers.insert("x-amz-date", HeaderValue::from_static("20240601T083100Z"));
    assert_eq!(check(&q, &auth, SK, FORM, T), Err(Error::SignatureDoesNotMatch));
}

#[test]
fn unsigned_host_or_date_is_refused() {
    let p = signed_iam_post(&Credentials::new(AK, SK));
    let auth = auth_of(&p);
    let without = |name: &str| AuthorizationHeader {
        signed_headers: auth.signed_headers.iter().filter(|h| *h != name).cloned().collect(),
        ..auth.clone()
    };
    assert_eq!(check(&p, &without("host"), SK, FORM, T), Err(Error::HeaderNotSigned("host")));
    assert_eq!(check(&p, &without("x-amz-date"), SK, FORM, T), Err(Error::HeaderNotSigned("x-amz-date")));
    let mut q = p.clone();
    q.headers.remove("x-amz-date");
    assert_eq!(check(&q, &without("x-amz-date"), SK, FORM, T), Err(Error::MissingHeader("x-amz-date")));
    q.headers.insert("date", HeaderValue::from_static("Sat, 01 Jun 2024 08:30:00 GMT"));
    assert_eq!(check(&q, &without("x-amz-date"), SK, FORM, T), Err(Error::HeaderNotSigned("date")));
}

#[test]
fn malformed_dates_are_refused() {
    let p = signed_iam_post(&Credentials::new(AK, SK));
    let auth = auth_of(&p);
    for bad in ["2024-06-01T08:30:00Z", "20240601T083000", "20240631T083000Z", "yesterday"] {
        let mut q = p.clone();
        q.headers.insert("x-amz-date", HeaderValue::from_static(bad));
        assert!(matches!(check(&q, &auth, SK, FORM, T), Err(Error::Malformed(_))), "{bad}");
    }
}

#[test]
fn host_falls_back_to_the_uri_authority() {
    let creds = Credentials::new(AK, SK);
    // No Host header: the signer takes it from the URI...
    let mut p = request("POST", "http://localhost:9000/", &[("content-type", FORM_TYPE)]);
    sign(&mut p, &payload_hash(FORM.as_bytes()), &creds, &iam_params()).expect("signs");
    assert_eq!(p.headers.get("host").expect("set"), "localhost:9000");
    let auth = auth_of(&p);
    check(&p, &auth, SK, FORM, T).expect("verifies");
    // ...and the verifier too (HTTP/2 requests carry :authority, not Host).
    p.headers.remove("host");
    check(&p, &auth, SK, FORM, T).expect("verifies with the authority");
    p.uri = "/".parse().expect("uri");
    assert_eq!(check(&p, &auth, SK, FORM, T), Err(Error::MissingHeader("host")));
    // Nothing to sign a host with.
    let mut p = request("POST", "/", &[("content-type", FORM_TYPE)]);
    assert_eq!(sign(&mut p, &payload_hash(FORM.as_bytes()), &creds, &iam_params()), Err(Error::MissingHeader("host")));
}

#[test]
fn unsigned_payload_needs_permission() {
    let creds = Credentials::new(AK, SK);
    let mut p = request("PUT", "http://localhost:9000/admin/blob", &[("host", "localhost:9000")]);
    sign(&mut p, UNSIGNED_PAYLOAD, &creds, &iam_params()).expect("signs");
    let auth = auth_of(&p);
    let body_hash = payload_hash(b"anything");
    assert_eq!(verify(&p, &auth, SK, &body_hash, T, DEFAULT_MAX_SKEW), Err(Error::UnsignedPayloadNotAllowed));
    let allowed = VerifyParams { allow_unsigned_payload: true, ..VerifyParams::new(&body_hash, T) };
    verify_with(&p, &auth, SK, &allowed).expect("allowed");
}

#[test]
fn session_token_is_signed() {
    let creds = Credentials::new(AK, SK).with_session_token(TOKEN);
    let p = signed_iam_post(&creds);
    assert_eq!(p.headers.get("x-amz-security-token").expect("set"), TOKEN);
    let auth = auth_of(&p);
    assert!(auth.signs("x-amz-security-token"));
    check(&p, &auth, SK, FORM, T).expect("verifies");
    let mut q = p.clone();
    q.headers.insert("x-amz-security-token", HeaderValue::from_static("another-token"));
    assert_eq!(check(&q, &auth, SK, FORM, T), Err(Error::SignatureDoesNotMatch));
    // A token that is sent but not signed is refused.
    let plain = signed_iam_post(&Credentials::new(AK, SK));
    let plain_auth = auth_of(&plain);
    let mut q = plain.clone();
    q.headers.insert("x-amz-security-token", HeaderValue::from_static("smuggled"));
    assert_eq!(check(&q, &plain_auth, SK, FORM, T), Err(Error::HeaderNotSigned("x-amz-security-token")));
}

#[test]
fn signing_again_replaces_the_previous_signature() {
    let creds = Credentials::new(AK, SK).with_session_token(TOKEN);
    let mut p = signed_iam_post(&creds);
    let later = SigningParams { time: T + time::Duration::minutes(5), ..iam_params() };
    sign(&mut p, &payload_hash(FORM.as_bytes()), &Credentials::new(AK, SK), &later).expect("signs");
    for name in ["authorization", "x-amz-date", "x-amz-content-sha256"] {
        assert_eq!(p.headers.get_all(name).iter().count(), 1, "{name}");
    }
    assert!(p.headers.get("x-amz-security-token").is_none());
    let auth = auth_of(&p);
    check(&p, &auth, SK, FORM, T + time::Duration::minutes(5)).expect("verifies");
}

#[test]
fn double_encoded_paths_round_trip() {
    let creds = Credentials::new(AK, SK);
    for service in ["iam", "sts", "s3", "admin"] {
        let params = SigningParams { region: "us-east-1", service, time: T };
        let mut p = request("GET", "http://h/users/a%20b/c%2Fd/%E2%82%AC?x=%2F&a=b%20c", &[("host", "h")]);
        sign(&mut p, &payload_hash(b""), &creds, &params).expect("signs");
        let auth = auth_of(&p);
        check(&p, &auth, SK, "", T).unwrap_or_else(|e| panic!("{service}: {e}"));
        // The encoded slash is part of the segment, not a separator.
        let mut q = p.clone();
        q.uri = "http://h/users/a%20b/c/d/%E2%82%AC?x=%2F&a=b%20c".parse().expect("uri");
        assert_eq!(check(&q, &auth, SK, "", T), Err(Error::SignatureDoesNotMatch), "{service}");
    }
}

#[test]
fn s3_paths_are_not_normalized_but_other_services_are() {
    let creds = Credentials::new(AK, SK);
    for (service, same) in [("s3", false), ("iam", true)] {
        let params = SigningParams { region: "us-east-1", service, time: T };
        let mut p = request("GET", "http://h/a/./b//c", &[("host", "h")]);
        sign(&mut p, &payload_hash(b""), &creds, &params).expect("signs");
        let auth = auth_of(&p);
        let mut q = p.clone();
        q.uri = "http://h/a/b/c".parse().expect("uri");
        assert_eq!(check(&q, &auth, SK, "", T).is_ok(), same, "{service}");
    }
}

#[test]
fn signer_rejects_bad_inputs() {
    let creds = Credentials::new(AK, SK);
    let hash = payload_hash(FORM.as_bytes());
    let mut p = request("POST", "http://localhost:9000/", &[]);
    for bad in ["", "abc", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", &hash.to_uppercase()] {
        assert!(matches!(sign(&mut p, bad, &creds, &iam_params()), Err(Error::Malformed(_))), "{bad:?}");
    }
    for (ak, region, service) in
        [("", "r", "iam"), ("A/K", "r", "iam"), (AK, "", "iam"), (AK, "r", "i am"), (AK, "r/x", "iam")]
    {
        let params = SigningParams { region, service, time: T };
        let result = sign(&mut p, &hash, &Credentials::new(ak, SK), &params);
        assert!(matches!(result, Err(Error::Malformed(_))), "{ak:?} {region:?} {service:?}");
    }
    let bad_token = Credentials::new(AK, SK).with_session_token("line\nbreak");
    assert!(matches!(sign(&mut p, &hash, &bad_token, &iam_params()), Err(Error::Malformed(_))));
}

#[test]
fn errors_never_show_secrets() {
    let creds = Credentials::new(AK, SK).with_session_token("tok\nen-secret");
    let mut p = request("POST", "http://localhost:9000/", &[]);
    let err = sign(&mut p, &payload_hash(b""), &creds, &iam_params()).expect_err("bad token");
    let good = signed_iam_post(&Credentials::new(AK, SK));
    let auth = auth_of(&good);
    let errors = [
        err,
        check(&good, &auth, "wrong", FORM, T).expect_err("wrong secret"),
        check(&good, &auth, SK, "other body", T).expect_err("wrong body"),
    ];
    for e in errors {
        let shown = format!("{e} {e:?}");
        assert!(!shown.contains(SK) && !shown.contains("secret") && !shown.contains(&auth.signature), "{shown}");
    }
}

//! Property tests: the header parser never panics, and whatever the signer signs verifies.

use cloudstore_sigv4::{
    AuthorizationHeader, Credentials, DEFAULT_MAX_SKEW, Error, SigningParams, parse_authorization, payload_hash, sign,
    uri_encode, verify,
};
use proptest::prelude::*;
use time::OffsetDateTime;

fn fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("AWS4-HMAC-SHA256".to_owned()),
        Just(" ".to_owned()),
        Just(",".to_owned()),
        Just(", ".to_owned()),
        Just("=".to_owned()),
        Just("/".to_owned()),
        Just(";".to_owned()),
        Just("Credential=".to_owned()),
        Just("SignedHeaders=".to_owned()),
        Just("Signature=".to_owned()),
        Just("aws4_request".to_owned()),
        Just("20240101".to_owned()),
        Just("host;x-amz-date".to_owned()),
        Just("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef".to_owned()),
        "[a-zA-Z0-9\\-_]{0,12}",
        any::<String>(),
    ]
}

fn valid_header() -> impl Strategy<Value = AuthorizationHeader> {
    (
        "[A-Z0-9]{1,24}",
        (2000u32..2100, 1u32..13, 1u32..29).prop_map(|(y, m, d)| format!("{y:04}{m:02}{d:02}")),
        "[a-z0-9-]{1,16}",
        "[a-z0-9-]{1,10}",
        proptest::collection::btree_set("[a-z0-9-]{1,16}", 1..6),
        "[0-9a-f]{64}",
    )
        .prop_map(|(access_key, date, region, service, names, signature)| AuthorizationHeader {
            access_key,
            date,
            region,
            service,
            signed_headers: names.into_iter().collect(),
            signature,
        })
}

/// A path segment: either arbitrary text, encoded, or raw characters a URI path may hold.
fn segment() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>().prop_map(|s| uri_encode(&s)),
        "[A-Za-z0-9._~!$&'()*+,;=:@-]{0,8}",
        Just("..".to_owned()),
        Just(".".to_owned())
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn parse_never_panics_on_anything(s in any::<String>()) {
        let _ = parse_authorization(&s);
    }

    #[test]
    fn parse_never_panics_on_near_misses(parts in proptest::collection::vec(fragment(), 0..16)) {
        let s = parts.concat();
        if let Ok(h) = parse_authorization(&s) {
            // Whatever parses displays to something that parses to the same.
            prop_assert_eq!(parse_authorization(&h.to_string()), Ok(h));
        }
    }

    #[test]
    fn display_parse_round_trip(h in valid_header()) {
        prop_assert_eq!(parse_authorization(&h.to_string()), Ok(h));
    }

    #[test]
    fn whatever_is_signed_verifies(
        method in prop_oneof![Just("GET"), Just("POST"), Just("PUT"), Just("DELETE"), Just("HEAD")],
        service in prop_oneof![Just("s3"), Just("iam"), Just("sts"), Just("admin")],
        segments in proptest::collection::vec(segment(), 0..5),
        trailing_slash in any::<bool>(),
        query in proptest::collection::vec((any::<String>(), any::<String>()), 0..4),
        headers in proptest::collection::vec(("x-[a-z]{1,8}", "[ -~\t]{0,24}"), 0..4),
        body in proptest::collection::vec(any::<u8>(), 0..64),
        unix in 946_684_800i64..4_102_444_800,
        secret in "[ -~]{0,48}",
        token in proptest::option::of("[A-Za-z0-9+/=]{1,40}"),
    ) {
        let mut path = format!("/{}", segments.join("/"));
        if trailing_slash && !segments.is_empty() {
            path.push('/');
        }
        let query: Vec<String> = query.iter().map(|(k, v)| format!("{}={}", uri_encode(k), uri_encode(v))).collect();
        let url = if query.is_empty() { format!("http://example.com{path}") } else { format!("http://example.com{path}?{}", query.join("&")) };
        let mut b = http::Request::builder().method(method).uri(&url).header("host", "example.com");
        for (k, v) in &headers {
            b = b.header(k.as_str(), v.as_str());
        }
        let (mut parts, ()) = b.body(()).expect("valid request").into_parts();
        let time = OffsetDateTime::from_unix_timestamp(unix).expect("in range");
        let mut creds = Credentials::new("AKIDPROPTEST", secret.clone());
        creds.session_token = token;
        let hash = payload_hash(&body);
        sign(&mut parts, &hash, &creds, &SigningParams { region: "us-east-1", service, time }).expect("signs");
        let header = parts.headers.get("authorization").expect("signed").to_str().expect("ascii").to_owned();
        let mut auth = parse_authorization(&header).expect("own header parses");
        prop_assert_eq!(verify(&parts, &auth, &secret, &hash, time, DEFAULT_MAX_SKEW), Ok(()));
        let flipped = if auth.signature.ends_with('0') { '1' } else { '0' };
        auth.signature.pop();
        auth.signature.push(flipped);
        prop_assert_eq!(verify(&parts, &auth, &secret, &hash, time, DEFAULT_MAX_SKEW), Err(Error::SignatureDoesNotMatch));
    }
}

//! Published vectors: the AWS SigV4 test suite (`aws-sig-v4-test-suite`) and the examples of the
//! AWS SigV4 and S3 documentation. Each was also cross-checked against botocore.

use cloudstore_sigv4::{
    Credentials, DEFAULT_MAX_SKEW, EMPTY_PAYLOAD_SHA256, Error, SigningParams, parse_authorization, payload_hash, sign,
    verify,
};
use http::request::Parts;
use time::OffsetDateTime;
use time::macros::datetime;

const SUITE_AK: &str = "AKIDEXAMPLE";
const SUITE_SK: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const SUITE_TIME: OffsetDateTime = datetime!(2015-08-30 12:36:00 UTC);

const S3_DOC_AK: &str = "AKIAIOSFODNN7EXAMPLE";
const S3_DOC_SK: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const S3_DOC_TIME: OffsetDateTime = datetime!(2013-05-24 00:00:00 UTC);

fn parts(method: &str, url: &str, headers: &[(&str, &str)]) -> Parts {
    let mut b = http::Request::builder().method(method).uri(url);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(()).expect("valid request").into_parts().0
}

/// Verifies a test-suite request carrying the expected signature, and checks that one changed
/// hex digit is refused.
fn check_suite(method: &str, path: &str, extra: &[(&str, &str)], body: &str, signed: &str, signature: &str) {
    let mut headers = vec![("host", "example.amazonaws.com"), ("x-amz-date", "20150830T123600Z")];
    headers.extend_from_slice(extra);
    let p = parts(method, path, &headers);
    let header = format!(
        "AWS4-HMAC-SHA256 Credential={SUITE_AK}/20150830/us-east-1/service/aws4_request, \
         SignedHeaders={signed}, Signature={signature}"
    );
    let mut auth = parse_authorization(&header).expect("valid header");
    let hash = payload_hash(body.as_bytes());
    verify(&p, &auth, SUITE_SK, &hash, SUITE_TIME, DEFAULT_MAX_SKEW).unwrap_or_else(|e| panic!("{path}: {e}"));
    let flipped = if auth.signature.starts_with('0') { "1" } else { "0" };
    auth.signature.replace_range(..1, flipped);
    assert_eq!(verify(&p, &auth, SUITE_SK, &hash, SUITE_TIME, DEFAULT_MAX_SKEW), Err(Error::SignatureDoesNotMatch));
}

#[test]
fn suite_get_vanilla() {
    check_suite(
        "GET",
        "/",
        &[],
        "",
        "host;x-amz-date",
        "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
    );
}

#[test]
fn suite_post_vanilla() {
    check_suite(
        "POST",
        "/",
        &[],
        "",
        "host;x-amz-date",
        "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b",
    );
}

#[test]
fn suite_get_vanilla_query_order_key_case() {
    check_suite(
        "GET",
        "/?Param2=value2&Param1=value1",
        &[],
        "",
        "host;x-amz-date",
        "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500",
    );
}

#[test]
fn suite_get_unreserved() {
    check_suite(
        "GET",
        "/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
        &[],
        "",
        "host;x-amz-date",
        "07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f",
    );
}

#[test]
fn suite_post_x_www_form_urlencoded() {
    check_suite(
        "POST",
        "/",
        &[("content-type", "application/x-www-form-urlencoded")],
        "Param1=value1",
        "content-type;host;x-amz-date",
        "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a",
    );
}

/// The IAM `ListUsers` example of the SigV4 documentation ("Create a signed AWS API request").
#[test]
fn aws_documented_iam_list_users() {
    let p = parts(
        "GET",
        "https://iam.amazonaws.com/?Action=ListUsers&Version=2010-05-08",
        &[
            ("host", "iam.amazonaws.com"),
            ("content-type", "application/x-www-form-urlencoded; charset=utf-8"),
            ("x-amz-date", "20150830T123600Z"),
        ],
    );
    let auth = parse_authorization(
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, \
         SignedHeaders=content-type;host;x-amz-date, \
         Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7",
    )
    .expect("valid header");
    verify(&p, &auth, SUITE_SK, EMPTY_PAYLOAD_SHA256, SUITE_TIME, DEFAULT_MAX_SKEW).expect("verifies");
}

fn s3_doc_sign(method: &str, url: &str, headers: &[(&str, &str)], payload: &str) -> (Parts, String) {
    let mut p = parts(method, url, headers);
    let creds = Credentials::new(S3_DOC_AK, S3_DOC_SK);
    sign(&mut p, payload, &creds, &SigningParams { region: "us-east-1", service: "s3", time: S3_DOC_TIME })
        .expect("signs");
    let authorization = p.headers.get("authorization").expect("signed").to_str().expect("ascii").to_owned();
    let auth = parse_authorization(&authorization).expect("own header parses");
    verify(&p, &auth, S3_DOC_SK, payload, S3_DOC_TIME, DEFAULT_MAX_SKEW).expect("own signature verifies");
    (p, authorization)
}

/// The "GET Object" example of the S3 SigV4 header-auth documentation.
#[test]
fn aws_documented_s3_get_object() {
    let (_, authorization) = s3_doc_sign(
        "GET",
        "/test.txt",
        &[("host", "examplebucket.s3.amazonaws.com"), ("range", "bytes=0-9")],
        EMPTY_PAYLOAD_SHA256,
    );
    assert_eq!(
        authorization,
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, \
         SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, \
         Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
    );
}

/// The "PUT Object" example: a `$` in the key, and both `Date` and `x-amz-date` signed.
#[test]
fn aws_documented_s3_put_object() {
    let body = "Welcome to Amazon S3.";
    let hash = payload_hash(body.as_bytes());
    assert_eq!(hash, "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
    let (_, authorization) = s3_doc_sign(
        "PUT",
        "/test$file.text",
        &[
            ("host", "examplebucket.s3.amazonaws.com"),
            ("date", "Fri, 24 May 2013 00:00:00 GMT"),
            ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
        ],
        &hash,
    );
    assert_eq!(
        authorization,
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, \
         SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class, \
         Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"
    );
}

/// The "GET Bucket (List Objects)" example: query string signing.
#[test]
fn aws_documented_s3_list_objects() {
    let (_, authorization) = s3_doc_sign(
        "GET",
        "/?max-keys=2&prefix=J",
        &[("host", "examplebucket.s3.amazonaws.com")],
        EMPTY_PAYLOAD_SHA256,
    );
    assert!(
        authorization.ends_with("Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"),
        "{authorization}"
    );
}

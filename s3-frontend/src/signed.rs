//! What a signed S3 request must meet besides a valid signature. s3s checks the signature
//! itself (over the headers the client chose to sign); these rules close what that leaves
//! open, as AWS does:
//!
//! - **Every `x-amz-*` header must be signed** (`x-amz-content-sha256` excepted), and so must
//!   `Host`. Otherwise the holder of a presigned URL — or of a captured request — could add a
//!   header that changes what the request does: `x-amz-copy-source` turns a presigned PUT
//!   into a copy of any object the signer may read. AWS answers `AccessDenied`, "There were
//!   headers present in the request which were not signed".
//! - **A presigned URL lives at most a week**: `X-Amz-Expires` in 1..=604800, as on AWS
//!   (`AuthorizationQueryParametersError`). SigV2's `Expires` (an absolute time) is held to
//!   the same week.
//! - **A SigV2 header-signed request is at most 15 minutes from now** (`RequestTimeTooSkewed`):
//!   s3s checks only that it has a date, so one captured request could be replayed forever.
//!
//! Anonymous requests have no signature and none of these rules.

use http::HeaderMap;
use s3s::{S3Error, S3ErrorCode, s3_error};
use time::OffsetDateTime;

/// The longest a presigned URL may be valid, in seconds: seven days.
pub const MAX_PRESIGNED_EXPIRES: i64 = 7 * 24 * 3600;

/// How far a SigV2 request's date may be from the server's clock, in seconds (SigV4's 15
/// minutes; s3s enforces that one for SigV4 itself).
pub const MAX_SKEW: i64 = 15 * 60;

/// Checks a request that carries a signature (s3s found credentials in it) against the rules
/// in the module docs. `query` is the URI's query string.
pub fn check(query: Option<&str>, headers: &HeaderMap, now: OffsetDateTime) -> Result<(), S3Error> {
    let authorization = headers.get(http::header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    if let Some(auth) = authorization.filter(|a| a.starts_with("AWS4-HMAC-SHA256")) {
        let parsed = cloudstore_sigv4::parse_authorization(auth)
            .map_err(|e| s3_error!(AuthorizationHeaderMalformed, "The authorization header is malformed: {e}"))?;
        return all_signed(headers, &parsed.signed_headers);
    }
    if authorization.is_some_and(|a| a.starts_with("AWS ")) {
        return v2_date_fresh(headers, now);
    }
    let params = QueryParams::parse(query);
    if params.get("X-Amz-Signature").is_some() {
        let expires = params.get("X-Amz-Expires").unwrap_or_default();
        match expires.parse::<i64>() {
            Ok(secs) if (1..=MAX_PRESIGNED_EXPIRES).contains(&secs) => {}
            _ => {
                return Err(query_parameters_error(format!(
                    "X-Amz-Expires must be a number of seconds from 1 to {MAX_PRESIGNED_EXPIRES} (a week); \
                         got {expires:?}"
                )));
            }
        }
        let signed: Vec<String> =
            params.get("X-Amz-SignedHeaders").unwrap_or_default().split(';').map(str::to_ascii_lowercase).collect();
        return all_signed(headers, &signed);
    }
    if params.get("Signature").is_some() {
        // SigV2 query auth: `Expires` is the end of validity in seconds since the epoch (s3s
        // refuses it once past).
        let expires = params.get("Expires").unwrap_or_default();
        match expires.parse::<i64>() {
            Ok(at) if at <= now.unix_timestamp().saturating_add(MAX_PRESIGNED_EXPIRES) => {}
            _ => {
                return Err(query_parameters_error(format!(
                    "Expires must be at most a week ({MAX_PRESIGNED_EXPIRES} seconds) from now; got {expires:?}"
                )));
            }
        }
    }
    Ok(())
}

/// AWS's answer to bad presigned-URL parameters: 400 `AuthorizationQueryParametersError`.
fn query_parameters_error(message: String) -> S3Error {
    let mut e = S3Error::with_message(S3ErrorCode::Custom("AuthorizationQueryParametersError".into()), message);
    e.set_status_code(http::StatusCode::BAD_REQUEST);
    e
}

/// `Host` and every `x-amz-*` header but `x-amz-content-sha256` must be among `signed`
/// (lower-case names).
fn all_signed(headers: &HeaderMap, signed: &[String]) -> Result<(), S3Error> {
    let is_signed = |name: &str| signed.iter().any(|s| s == name);
    let mut unsigned: Vec<&str> = headers
        .keys()
        .map(http::HeaderName::as_str)
        .filter(|name| name.starts_with("x-amz-") && *name != "x-amz-content-sha256" && !is_signed(name))
        .collect();
    if headers.contains_key(http::header::HOST) && !is_signed("host") {
        unsigned.insert(0, "host");
    }
    if unsigned.is_empty() {
        return Ok(());
    }
    unsigned.dedup();
    Err(s3_error!(
        AccessDenied,
        "There were headers present in the request which were not signed (HeadersNotSigned: {})",
        unsigned.join(", ")
    ))
}

/// A SigV2 header-signed request's date (`x-amz-date`, else `Date`) is within [`MAX_SKEW`].
fn v2_date_fresh(headers: &HeaderMap, now: OffsetDateTime) -> Result<(), S3Error> {
    let value = headers.get("x-amz-date").or_else(|| headers.get(http::header::DATE)).and_then(|v| v.to_str().ok());
    let Some(at) = value.and_then(parse_date) else {
        return Err(s3_error!(AccessDenied, "AWS authentication requires a valid Date or x-amz-date header"));
    };
    if (at - now.unix_timestamp()).abs() > MAX_SKEW {
        return Err(s3_error!(
            RequestTimeTooSkewed,
            "The difference between the request time and the current time is too large."
        ));
    }
    Ok(())
}

/// Seconds since the epoch of an HTTP date (`Tue, 27 Mar 2007 19:36:42 GMT` and its two
/// obsolete forms) or of an ISO 8601 basic one (`20070327T193642Z`).
fn parse_date(s: &str) -> Option<i64> {
    if let Ok(t) = httpdate::parse_http_date(s) {
        return t.duration_since(std::time::UNIX_EPOCH).ok().and_then(|d| i64::try_from(d.as_secs()).ok());
    }
    let format = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
    time::PrimitiveDateTime::parse(s, &format).ok().map(|t| t.assume_utc().unix_timestamp())
}

/// The query's parameters, percent-decoded; a repeated name keeps its first value.
struct QueryParams(Vec<(String, String)>);

impl QueryParams {
    fn parse(query: Option<&str>) -> Self {
        Self(
            query
                .map(|q| form_urlencoded::parse(q.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())).collect())
                .unwrap_or_default(),
        )
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn now() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_790_000_000).expect("time")
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).expect("value"));
        }
        h
    }

    fn v4_auth(signed: &str) -> String {
        format!(
            "AWS4-HMAC-SHA256 Credential=AKID/20260921/us-east-1/s3/aws4_request, SignedHeaders={signed}, \
             Signature={}",
            "0".repeat(64)
        )
    }

    fn code(r: Result<(), S3Error>) -> String {
        r.expect_err("refused").code().as_str().to_owned()
    }

    #[test]
    fn header_auth_with_every_amz_header_signed_passes() {
        let auth = v4_auth("host;x-amz-content-sha256;x-amz-copy-source;x-amz-date");
        let h = headers(&[
            ("host", "s3.local"),
            ("authorization", &auth),
            ("x-amz-date", "20260921T000000Z"),
            ("x-amz-content-sha256", "UNSIGNED-PAYLOAD"),
            ("x-amz-copy-source", "b/k"),
            ("user-agent", "test"),
        ]);
        check(None, &h, now()).expect("allowed");
    }

    #[test]
    fn header_auth_refuses_an_unsigned_amz_header_or_host() {
        let auth = v4_auth("host;x-amz-date");
        let h = headers(&[
            ("host", "s3.local"),
            ("authorization", &auth),
            ("x-amz-date", "20260921T000000Z"),
            ("x-amz-copy-source", "b/secret"),
        ]);
        let e = check(None, &h, now()).expect_err("refused");
        assert_eq!(e.code().as_str(), "AccessDenied");
        assert!(e.message().is_some_and(|m| m.contains("x-amz-copy-source")), "{e:?}");
        // The payload hash header may go unsigned, as AWS allows.
        let h = headers(&[
            ("host", "s3.local"),
            ("authorization", &auth),
            ("x-amz-date", "20260921T000000Z"),
            ("x-amz-content-sha256", "UNSIGNED-PAYLOAD"),
        ]);
        check(None, &h, now()).expect("allowed");
        let auth = v4_auth("x-amz-date");
        let h = headers(&[("host", "s3.local"), ("authorization", &auth), ("x-amz-date", "20260921T000000Z")]);
        assert_eq!(code(check(None, &h, now())), "AccessDenied");
    }

    #[test]
    fn presigned_url_refuses_unsigned_headers_and_long_or_odd_expiry() {
        let q = |expires: &str, signed: &str| {
            format!(
                "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKID%2F20260921%2Fus-east-1%2Fs3%2Faws4_request\
                 &X-Amz-Date=20260921T000000Z&X-Amz-Expires={expires}&X-Amz-SignedHeaders={signed}&X-Amz-Signature=00"
            )
        };
        let plain = headers(&[("host", "s3.local")]);
        check(Some(&q("3600", "host")), &plain, now()).expect("allowed");
        check(Some(&q("604800", "host")), &plain, now()).expect("a week is allowed");
        for bad in ["604801", "4294967295", "0", "-1", "soon", ""] {
            let e = check(Some(&q(bad, "host")), &plain, now()).expect_err("refused");
            assert_eq!(e.code().as_str(), "AuthorizationQueryParametersError", "{bad}");
            assert_eq!(e.status_code(), Some(http::StatusCode::BAD_REQUEST), "{bad}");
        }
        let copy = headers(&[("host", "s3.local"), ("x-amz-copy-source", "b/secret")]);
        assert_eq!(code(check(Some(&q("3600", "host")), &copy, now())), "AccessDenied");
        check(Some(&q("3600", "host%3Bx-amz-copy-source")), &copy, now()).expect("signed copy source");
        assert_eq!(code(check(Some(&q("3600", "x-amz-date")), &plain, now())), "AccessDenied");
    }

    #[test]
    fn sigv2_header_auth_must_be_recent() {
        let at = |t: OffsetDateTime| httpdate::fmt_http_date(std::time::SystemTime::from(t));
        let fresh = headers(&[("authorization", "AWS AKID:c2ln"), ("date", &at(now()))]);
        check(None, &fresh, now()).expect("fresh");
        let old = headers(&[("authorization", "AWS AKID:c2ln"), ("date", &at(now() - time::Duration::hours(1)))]);
        assert_eq!(code(check(None, &old, now())), "RequestTimeTooSkewed");
        let ahead = headers(&[("authorization", "AWS AKID:c2ln"), ("date", &at(now() + time::Duration::minutes(16)))]);
        assert_eq!(code(check(None, &ahead, now())), "RequestTimeTooSkewed");
        // x-amz-date wins over Date, in either form.
        let amz = headers(&[
            ("authorization", "AWS AKID:c2ln"),
            ("date", &at(now() - time::Duration::days(3))),
            ("x-amz-date", &at(now())),
        ]);
        check(None, &amz, now()).expect("x-amz-date is fresh");
        let iso = headers(&[("authorization", "AWS AKID:c2ln"), ("x-amz-date", "20260921T000000Z")]);
        assert_eq!(code(check(None, &iso, now())), "RequestTimeTooSkewed");
        let junk = headers(&[("authorization", "AWS AKID:c2ln"), ("date", "yesterday")]);
        assert_eq!(code(check(None, &junk, now())), "AccessDenied");
    }

    #[test]
    fn sigv2_presigned_url_lives_at_most_a_week() {
        let q = |expires: i64| format!("AWSAccessKeyId=AKID&Expires={expires}&Signature=c2ln");
        let plain = headers(&[("host", "s3.local")]);
        check(Some(&q(now().unix_timestamp() + 3600)), &plain, now()).expect("an hour");
        check(Some(&q(now().unix_timestamp() + MAX_PRESIGNED_EXPIRES)), &plain, now()).expect("a week");
        assert_eq!(
            code(check(Some(&q(now().unix_timestamp() + MAX_PRESIGNED_EXPIRES + 1)), &plain, now())),
            "AuthorizationQueryParametersError"
        );
        assert_eq!(
            code(check(Some("AWSAccessKeyId=AKID&Expires=x&Signature=c2ln"), &plain, now())),
            "AuthorizationQueryParametersError"
        );
    }
}

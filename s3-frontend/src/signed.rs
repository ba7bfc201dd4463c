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
//!
//! One gap is closed before s3s instead ([`v2_query_token_as_header`]): a SigV2 presigned URL
//! made with temporary credentials carries its session token as the query parameter
//! `x-amz-security-token`, which the signer (botocore's `HmacV1QueryAuth`, as AWS) signs as an
//! `x-amz-security-token` header; s3s builds SigV2's string to sign from the request's headers
//! only, so without the header such a URL never verifies.

use http::HeaderMap;
use s3s::{S3Error, S3ErrorCode, s3_error};
use time::OffsetDateTime;

/// The SigV2 presigned-URL query parameter (and header) that carries an STS session token.
const SECURITY_TOKEN: &str = "x-amz-security-token";

/// Gives a SigV2 presigned request (s3s's pick: a query `Signature`) its session token as the
/// `x-amz-security-token` header the signer signed, when the token is given exactly once as a
/// query parameter of that name (any case, as botocore writes it lower-case) and not also as
/// a header. s3s then puts it among the canonical amz headers, as AWS does; a token added to
/// a URL after signing therefore breaks the signature, and access control reads the token it
/// checks from the header. Anything else is left as it is (and fails verification as before).
pub fn v2_query_token_as_header<B>(mut req: http::Request<B>) -> http::Request<B> {
    let Some(query) = req.uri().query() else { return req };
    let params = QueryParams::parse(Some(query));
    if params.count("Signature") == 0 || req.headers().contains_key(SECURITY_TOKEN) {
        return req;
    }
    let mut tokens = params.0.iter().filter(|(k, _)| k.eq_ignore_ascii_case(SECURITY_TOKEN)).map(|(_, v)| v);
    let (Some(token), None) = (tokens.next(), tokens.next()) else { return req };
    if let Ok(value) = http::HeaderValue::from_str(token) {
        req.headers_mut().insert(SECURITY_TOKEN, value);
    }
    req
}

/// The longest a presigned URL may be valid, in seconds: seven days.
pub const MAX_PRESIGNED_EXPIRES: i64 = 7 * 24 * 3600;

/// How far a SigV2 request's date may be from the server's clock, in seconds (SigV4's 15
/// minutes; s3s enforces that one for SigV4 itself).
pub const MAX_SKEW: i64 = 15 * 60;

/// Checks a request that carries a signature (s3s found credentials in it) against the rules
/// in the module docs. `query` is the URI's query string.
///
/// The rules must apply to the signature s3s verified, so this picks it as s3s does (its
/// `SignatureContext::check`): a query `Signature` (SigV2 presigned), else a single
/// `Authorization` header of SigV2's form (`AWS key:signature`), else a query
/// `X-Amz-Signature` (SigV4 presigned), else a single `Authorization` header (SigV4). A request
/// carrying more than one of these — which s3s would resolve by that order, leaving the others
/// unchecked — is refused first, as AWS does ("Only one auth mechanism allowed").
pub fn check(query: Option<&str>, headers: &HeaderMap, now: OffsetDateTime) -> Result<(), S3Error> {
    // s3s leaves a header whose value is not UTF-8 out of what it signs (and out of SigV2's
    // canonical amz headers) yet may still read it: such a value is never one we accept.
    if let Some((name, _)) =
        headers.iter().find(|(name, value)| is_guarded(name.as_str()) && std::str::from_utf8(value.as_bytes()).is_err())
    {
        return Err(s3_error!(InvalidArgument, "The value of the {name} header is not valid UTF-8."));
    }
    let params = QueryParams::parse(query);
    let v2_query = params.count("Signature") > 0;
    let v4_query = params.count("X-Amz-Signature") > 0;
    let auth_headers = headers.get_all(http::header::AUTHORIZATION).iter().count();
    if usize::from(v2_query) + usize::from(v4_query) + auth_headers > 1 {
        return Err(s3_error!(
            InvalidArgument,
            "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string \
             parameter or the Authorization header should be specified"
        ));
    }
    if v2_query {
        // `Expires` is the end of validity in seconds since the epoch (s3s refuses it once
        // past); a client's clock may run ahead of ours by the usual skew.
        let expires = params.unique("Expires").unwrap_or_default();
        return match expires.parse::<i64>() {
            Ok(at) if at <= now.unix_timestamp().saturating_add(MAX_PRESIGNED_EXPIRES + MAX_SKEW) => Ok(()),
            _ => Err(query_parameters_error(format!(
                "Expires must be at most a week ({MAX_PRESIGNED_EXPIRES} seconds) from now; got {expires:?}"
            ))),
        };
    }
    let authorization = match headers.get(http::header::AUTHORIZATION).map(http::HeaderValue::to_str) {
        None => None,
        Some(Ok(v)) => Some(v),
        Some(Err(_)) => return Err(s3_error!(AuthorizationHeaderMalformed, "The authorization header is malformed.")),
    };
    if authorization.is_some_and(is_v2_authorization) {
        return v2_date_fresh(headers, now);
    }
    if v4_query {
        let expires = params.unique("X-Amz-Expires").unwrap_or_default();
        match expires.parse::<i64>() {
            Ok(secs) if (1..=MAX_PRESIGNED_EXPIRES).contains(&secs) => {}
            _ => {
                return Err(query_parameters_error(format!(
                    "X-Amz-Expires must be a number of seconds from 1 to {MAX_PRESIGNED_EXPIRES} (a week); got {expires:?}"
                )));
            }
        }
        let signed = params
            .unique("X-Amz-SignedHeaders")
            .ok_or_else(|| query_parameters_error("X-Amz-SignedHeaders must be given exactly once".to_owned()))?;
        return all_signed(headers, &signed_names(signed));
    }
    if let Some(auth) = authorization {
        let signed = v4_signed_headers(auth).ok_or_else(|| {
            s3_error!(
                AuthorizationHeaderMalformed,
                "The authorization header is malformed; only AWS4-HMAC-SHA256 is accepted."
            )
        })?;
        return all_signed(headers, &signed_names(signed));
    }
    Ok(())
}

/// The `SignedHeaders` list of a SigV4 `Authorization` header, read where s3s reads it (its
/// components come in a fixed order: `Credential=…/aws4_request, SignedHeaders=…,
/// Signature=…`); `None` unless the algorithm is `AWS4-HMAC-SHA256` (s3s takes any word there,
/// and the word is not signed).
fn v4_signed_headers(auth: &str) -> Option<&str> {
    let rest = auth.strip_prefix("AWS4-HMAC-SHA256")?;
    if !rest.starts_with(|c: char| c.is_ascii_whitespace()) {
        return None;
    }
    let rest = rest.trim_start().strip_prefix("Credential=")?;
    let (_, rest) = rest.split_once("/aws4_request,")?;
    let rest = rest.trim_start().strip_prefix("SignedHeaders=")?;
    Some(rest.split_once(',').map_or(rest, |(list, _)| list))
}

/// The names of a `;`-separated signed-header list, exactly as written: s3s looks each up as
/// written among the request's (lower-case) header names and leaves out of the signed request
/// any it does not find, so ` x-amz-copy-source` or `X-Amz-Copy-Source` in an (unsigned)
/// `Authorization` header signs nothing and must count for nothing here either.
fn signed_names(list: &str) -> Vec<&str> {
    list.split(';').collect()
}

/// AWS's answer to bad presigned-URL parameters: 400 `AuthorizationQueryParametersError`.
fn query_parameters_error(message: String) -> S3Error {
    let mut e = S3Error::with_message(S3ErrorCode::Custom("AuthorizationQueryParametersError".into()), message);
    e.set_status_code(http::StatusCode::BAD_REQUEST);
    e
}

/// A header the signature must cover: `Host` and every `x-amz-*` one.
fn is_guarded(name: &str) -> bool {
    name == "host" || name.starts_with("x-amz-")
}

/// `Host` and every `x-amz-*` header but `x-amz-content-sha256` must be among `signed`
/// (compared byte for byte with the request's lower-case names).
fn all_signed(headers: &HeaderMap, signed: &[&str]) -> Result<(), S3Error> {
    let is_signed = |name: &str| signed.contains(&name);
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

/// Marks a request whose `x-amz-date` was derived here from its signed `Date` header
/// ([`amz_date_from_date`]): that header is not the client's, so it needs no signature.
#[derive(Debug, Clone, Copy)]
pub struct DerivedAmzDate;

/// SigV4 lets a client date its request with the `Date` header alone (botocore does when
/// given one), signing `date` and using its time; s3s reads the time from `x-amz-date` only.
/// For a SigV4 header-signed request without `x-amz-date` whose signed `Date` is a valid date,
/// this adds `x-amz-date` with the same time and marks the request [`DerivedAmzDate`].
pub fn amz_date_from_date(req: &mut http::Request<s3s::Body>) {
    let headers = req.headers();
    if headers.contains_key("x-amz-date") {
        return;
    }
    let Some(signed) =
        headers.get(http::header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(v4_signed_headers)
    else {
        return;
    };
    if !signed_names(signed).contains(&"date") {
        return;
    }
    let Some(at) = headers.get(http::header::DATE).and_then(|v| v.to_str().ok()).and_then(parse_date) else { return };
    let Ok(at) = OffsetDateTime::from_unix_timestamp(at) else { return };
    let format = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
    let Some(value) = at.format(&format).ok().and_then(|v| http::HeaderValue::from_str(&v).ok()) else { return };
    req.headers_mut().insert("x-amz-date", value);
    req.extensions_mut().insert(DerivedAmzDate);
}

/// An `Authorization` value of SigV2's form, `AWS key:signature`.
fn is_v2_authorization(auth: &str) -> bool {
    auth.strip_prefix("AWS ").is_some_and(|rest| rest.contains(':'))
}

/// Whether s3s will check this request's SigV2 `Authorization` header (one header, of SigV2's
/// form, and no query signature, which s3s would check first).
pub fn is_v2_header_auth(headers: &HeaderMap) -> bool {
    let mut auth = headers.get_all(http::header::AUTHORIZATION).iter();
    matches!((auth.next().map(http::HeaderValue::to_str), auth.next()), (Some(Ok(a)), None) if is_v2_authorization(a))
}

/// A SigV2 header-signed request's date (`x-amz-date` when present, even empty, else `Date`)
/// is a valid date after 1970 (else 403 AccessDenied) within [`MAX_SKEW`] of `now` (else 403
/// RequestTimeTooSkewed), as AWS answers.
pub fn v2_date_fresh(headers: &HeaderMap, now: OffsetDateTime) -> Result<(), S3Error> {
    let value = headers.get("x-amz-date").or_else(|| headers.get(http::header::DATE)).and_then(|v| v.to_str().ok());
    let Some(at) = value.and_then(parse_date).filter(|t| *t >= 0) else {
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

/// Seconds since the epoch of a date as SigV2 clients send it: an HTTP date (`Tue, 27 Mar 2007
/// 19:36:42 GMT` and its two obsolete forms, or with `UTC`), an RFC 2822 one with a numeric
/// zone (`+0000`), or ISO 8601 basic (`20070327T193642Z`).
fn parse_date(s: &str) -> Option<i64> {
    let s = s.trim();
    let http = |v: &str| {
        httpdate::parse_http_date(v)
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .and_then(|d| i64::try_from(d.as_secs()).ok())
    };
    if let Some(t) = http(s) {
        return Some(t);
    }
    // RFC 1123 with another name for UTC (Go's time.RFC1123 writes `UTC`, as rclone sends).
    for zone in [" UTC", " UT", " Z"] {
        if let Some(t) = s.strip_suffix(zone).and_then(|d| http(&format!("{d} GMT"))) {
            return Some(t);
        }
    }
    // RFC 2822 with a numeric zone (`+0000`, as s3cmd sends).
    if let Ok(t) = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc2822) {
        return Some(t.unix_timestamp());
    }
    // An HTTP date of a year httpdate does not take (before 1970, after 9999 is not a date):
    // still a date, so that it is judged by its time, not refused as malformed.
    let gmt = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    if let Ok(t) = time::PrimitiveDateTime::parse(s, &gmt) {
        return Some(t.assume_utc().unix_timestamp());
    }
    let format = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
    time::PrimitiveDateTime::parse(s, &format).ok().map(|t| t.assume_utc().unix_timestamp())
}

/// Refuses a presigned request (SigV4 or SigV2 query auth) signed at or before `not_before`
/// (unix seconds): the owner of its key revoked the presigned URLs signed so far, of that key
/// or of its user (`KeyGrant::presigned_not_before`). Other requests pass.
///
/// SigV4 URLs are dated (`X-Amz-Date`, which the signature covers). A SigV2 URL carries only
/// its expiry, so it counts as signed a week (the longest life allowed) before it expires:
/// after a revocation, SigV2 URLs of that key that expire within the week are refused too,
/// including ones signed after it (sign with SigV4 to avoid that). An undated one is refused.
pub fn check_not_revoked(query: Option<&str>, not_before: Option<i64>) -> Result<(), S3Error> {
    let Some(not_before) = not_before else { return Ok(()) };
    let params = QueryParams::parse(query);
    let signed_at = if params.count("Signature") > 0 {
        params.unique("Expires").and_then(|e| e.parse::<i64>().ok()).map(|e| e.saturating_sub(MAX_PRESIGNED_EXPIRES))
    } else if params.count("X-Amz-Signature") > 0 {
        params.unique("X-Amz-Date").and_then(parse_date)
    } else {
        return Ok(());
    };
    match signed_at {
        Some(t) if t > not_before => Ok(()),
        _ => Err(s3_error!(AccessDenied, "This presigned URL was revoked by its owner.")),
    }
}

/// The query's parameters, percent-decoded.
struct QueryParams(Vec<(String, String)>);

impl QueryParams {
    fn parse(query: Option<&str>) -> Self {
        Self(
            query
                .map(|q| form_urlencoded::parse(q.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())).collect())
                .unwrap_or_default(),
        )
    }

    fn count(&self, name: &str) -> usize {
        self.0.iter().filter(|(k, _)| k == name).count()
    }

    /// The value of `name` if it is given exactly once (s3s reads such values the same way).
    fn unique(&self, name: &str) -> Option<&str> {
        let mut values = self.0.iter().filter(|(k, _)| k == name).map(|(_, v)| v.as_str());
        let first = values.next()?;
        values.next().is_none().then_some(first)
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
        // As the public suite's SigV2 date cases expect of AWS: an x-amz-date that is empty or
        // not a date, or before 1970, is AccessDenied (whatever Date says); one far ahead or
        // behind is RequestTimeTooSkewed.
        for (amz, want) in [
            ("", "AccessDenied"),
            ("Bad Date", "AccessDenied"),
            ("Tue, 07 Jul 1950 21:53:04 GMT", "AccessDenied"),
            ("Tue, 07 Jul 2010 21:53:04 GMT", "RequestTimeTooSkewed"),
            ("Tue, 07 Jul 2030 21:53:04 GMT", "RequestTimeTooSkewed"),
            ("Tue, 07 Jul 9999 21:53:04 GMT", "RequestTimeTooSkewed"),
        ] {
            let h = headers(&[("authorization", "AWS AKID:c2ln"), ("date", &at(now())), ("x-amz-date", amz)]);
            assert_eq!(code(v2_date_fresh(&h, now())), want, "x-amz-date {amz:?}");
        }
        assert!(is_v2_header_auth(&fresh));
        assert!(!is_v2_header_auth(&headers(&[("authorization", "AWS4-HMAC-SHA256 Credential=x")])));
    }

    #[test]
    fn presigned_urls_signed_up_to_a_revocation_are_refused() {
        let revoked_at = 1_790_000_000; // 2026-09-21T14:13:20Z
        let v4 = |date: &str| {
            format!("X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date={date}&X-Amz-Expires=60&X-Amz-Signature=00")
        };
        let refused = |q: &str| code(check_not_revoked(Some(q), Some(revoked_at)));
        assert_eq!(refused(&v4("20260921T141319Z")), "AccessDenied", "signed before");
        assert_eq!(refused(&v4("20260921T141320Z")), "AccessDenied", "signed in the same second");
        check_not_revoked(Some(&v4("20260921T141321Z")), Some(revoked_at)).expect("signed after");
        assert_eq!(refused("X-Amz-Signature=00&X-Amz-Date=yesterday"), "AccessDenied", "undated");
        // SigV2: signed at the latest a week before it expires.
        let v2 = |expires: i64| format!("AWSAccessKeyId=AKIA&Expires={expires}&Signature=00");
        assert_eq!(refused(&v2(revoked_at + 3600)), "AccessDenied");
        assert_eq!(refused(&v2(revoked_at + MAX_PRESIGNED_EXPIRES)), "AccessDenied");
        check_not_revoked(Some(&v2(revoked_at + MAX_PRESIGNED_EXPIRES + 1)), Some(revoked_at)).expect("after");
        // Nothing revoked, or not presigned: nothing to check.
        check_not_revoked(Some(&v4("20200101T000000Z")), None).expect("no revocation");
        check_not_revoked(None, Some(revoked_at)).expect("header-signed");
        check_not_revoked(Some("prefix=a"), Some(revoked_at)).expect("header-signed");
    }

    #[test]
    fn sigv2_presigned_url_lives_at_most_a_week() {
        let q = |expires: i64| format!("AWSAccessKeyId=AKID&Expires={expires}&Signature=c2ln");
        let plain = headers(&[("host", "s3.local")]);
        check(Some(&q(now().unix_timestamp() + 3600)), &plain, now()).expect("an hour");
        check(Some(&q(now().unix_timestamp() + MAX_PRESIGNED_EXPIRES)), &plain, now()).expect("a week");
        let week_and_skew = now().unix_timestamp() + MAX_PRESIGNED_EXPIRES + MAX_SKEW;
        check(Some(&q(week_and_skew)), &plain, now()).expect("a week from a client whose clock runs ahead");
        assert_eq!(code(check(Some(&q(week_and_skew + 1)), &plain, now())), "AuthorizationQueryParametersError");
        assert_eq!(
            code(check(Some("AWSAccessKeyId=AKID&Expires=x&Signature=c2ln"), &plain, now())),
            "AuthorizationQueryParametersError"
        );
    }

    #[test]
    fn a_sigv2_presigned_token_becomes_the_header_it_was_signed_as() {
        let lifted = |uri: &str, header: Option<&str>| {
            let mut req = http::Request::builder().uri(uri);
            if let Some(h) = header {
                req = req.header(SECURITY_TOKEN, h);
            }
            let req = v2_query_token_as_header(req.body(()).expect("request"));
            req.headers()
                .get_all(SECURITY_TOKEN)
                .iter()
                .map(|v| v.to_str().expect("text").to_owned())
                .collect::<Vec<_>>()
        };
        // As botocore writes it: lower-case, percent-encoded.
        let url = "/b/k?AWSAccessKeyId=ASIAX&Signature=c2ln&x-amz-security-token=TOKEN%2Fa%2Bb%3D&Expires=1";
        assert_eq!(lifted(url, None), ["TOKEN/a+b="]);
        assert_eq!(lifted("/b/k?AWSAccessKeyId=ASIAX&Signature=c2ln&X-Amz-Security-Token=T&Expires=1", None), ["T"]);
        // Not SigV2 presigned, given twice, or already a header: left alone.
        assert!(lifted("/b/k?X-Amz-Signature=00&x-amz-security-token=T", None).is_empty());
        assert!(lifted("/b/k?Signature=c2ln&x-amz-security-token=T&x-amz-security-token=U", None).is_empty());
        assert!(lifted("/b/k?Signature=c2ln", None).is_empty());
        assert_eq!(lifted("/b/k?Signature=c2ln&x-amz-security-token=T", Some("H")), ["H"]);
    }

    #[test]
    fn one_auth_mechanism_per_request() {
        let auth = v4_auth("host;x-amz-copy-source;x-amz-date");
        let presigned = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Expires=60&X-Amz-SignedHeaders=host&X-Amz-Signature=00";
        // A forged header beside a presigned URL (s3s would check the URL and ignore it).
        let h = headers(&[("host", "s3.local"), ("authorization", &auth), ("x-amz-copy-source", "b/secret")]);
        assert_eq!(code(check(Some(presigned), &h, now())), "InvalidArgument");
        let h = headers(&[("host", "s3.local"), ("authorization", "AWS AKID:c2ln")]);
        assert_eq!(code(check(Some("AWSAccessKeyId=A&Expires=1&Signature=c2ln"), &h, now())), "InvalidArgument");
        assert_eq!(
            code(check(Some("Signature=c2ln&Expires=1&X-Amz-Signature=00&X-Amz-Expires=60"), &headers(&[]), now())),
            "InvalidArgument"
        );
        // Two Authorization headers (s3s would see neither and fall through).
        let h = headers(&[("host", "s3.local"), ("authorization", &auth), ("authorization", &auth)]);
        assert_eq!(code(check(None, &h, now())), "InvalidArgument");
    }

    #[test]
    fn a_sigv4_header_must_name_its_algorithm_and_list_its_headers_where_s3s_reads_them() {
        // s3s accepts any word as the algorithm (it is not signed): a captured request with the
        // word changed must not escape the rules.
        let forged = v4_auth("host;x-amz-date").replacen("AWS4-HMAC-SHA256", "X", 1);
        let h = headers(&[("host", "s3.local"), ("authorization", &forged), ("x-amz-copy-source", "b/secret")]);
        assert_eq!(code(check(None, &h, now())), "AuthorizationHeaderMalformed");
        let as_v2 = v4_auth("host;x-amz-date").replacen("AWS4-HMAC-SHA256", "AWS", 1);
        let h = headers(&[("host", "s3.local"), ("authorization", &as_v2), ("x-amz-copy-source", "b/secret")]);
        assert_eq!(code(check(None, &h, now())), "AuthorizationHeaderMalformed", "no ':' is not SigV2's form");
        // Lists are read as s3s reads them: in any order, but names exactly as written (s3s
        // signs nothing for a name it cannot find among the lower-case header names).
        let h = |list: &str| {
            headers(&[
                ("host", "s3.local"),
                ("authorization", &v4_auth(list)),
                ("x-amz-date", "20260921T000000Z"),
                ("x-amz-copy-source", "b/secret"),
            ])
        };
        check(None, &h("x-amz-date;host;x-amz-copy-source"), now()).expect("signed, in another order");
        for list in [
            "host;X-Amz-Copy-Source;x-amz-date",
            "host; x-amz-copy-source;x-amz-date",
            "host;x-amz-copy-source ;x-amz-date",
            "Host;x-amz-copy-source;x-amz-date",
        ] {
            assert_eq!(code(check(None, &h(list), now())), "AccessDenied", "{list}");
        }
    }

    #[test]
    fn sigv2_dates_in_the_forms_clients_send() {
        let t = now();
        let fmt = |f: &[time::format_description::BorrowedFormatItem<'_>]| t.format(f).expect("format");
        let gmt = httpdate::fmt_http_date(std::time::SystemTime::from(t));
        let utc = gmt.replace("GMT", "UTC");
        let offset = fmt(time::macros::format_description!(
            "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] +0000"
        ));
        for date in
            [gmt, utc, offset, fmt(time::macros::format_description!("[year][month][day]T[hour][minute][second]Z"))]
        {
            assert_eq!(parse_date(&date), Some(t.unix_timestamp()), "{date}");
        }
        assert_eq!(parse_date("yesterday"), None);
    }

    #[test]
    fn a_guarded_header_that_is_not_utf8_is_refused() {
        for (name, auth) in [("x-amz-max-parts", v4_auth("host;x-amz-max-parts")), ("host", v4_auth("host"))] {
            let mut h = headers(&[("authorization", &auth)]);
            h.insert(
                http::HeaderName::from_static(name),
                HeaderValue::from_bytes(b"1\xff").expect("opaque bytes are a valid header value"),
            );
            assert_eq!(code(check(None, &h, now())), "InvalidArgument", "{name}");
        }
        // SigV2 too, whose canonical amz headers would leave it out.
        let mut h = headers(&[("authorization", "AWS AKID:c2ln")]);
        h.insert("x-amz-max-parts", HeaderValue::from_bytes(b"1\xff").expect("value"));
        assert_eq!(code(check(None, &h, now())), "InvalidArgument");
    }
}

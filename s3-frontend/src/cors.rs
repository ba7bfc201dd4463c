//! Cross-origin resource sharing (issue #13 item 5, ADR 0007).
//!
//! - **Buckets** carry CORS rules as AWS S3 does (Put/Get/DeleteBucketCors, stored with the
//!   bucket as JSON of [`Rules`]). A preflight (`OPTIONS` with `Origin` and
//!   `Access-Control-Request-Method`) is answered from them without a signature; any other
//!   request with `Origin` gets the `Access-Control-*` headers of the first matching rule, on
//!   error answers too. No configuration or no match: no CORS headers on actual requests; a
//!   preflight is refused 403 `CORSResponse`.
//! - **The REST API** (`/_api/v1/`) has one fixed policy ([`rest_preflight`],
//!   [`rest_headers`]): any origin, no credentials (it authenticates with bearer tokens or
//!   SigV4 in headers, never cookies, so a foreign page can only use a token it already holds).
//!   Share links (`/s/{token}`, not built yet) are to get the same kind of fixed policy, read
//!   only: see ADR 0007.
//!
//! Matching follows AWS: the first rule whose `AllowedOrigin` (case-sensitive, at most one `*`)
//! matches the origin, whose `AllowedMethod` holds the method (for a preflight, and for an
//! actual request that sends one, `Access-Control-Request-Method`; else the request's method),
//! and whose `AllowedHeader`s (case-insensitive, at most one `*` each) cover every header of
//! `Access-Control-Request-Headers`.

use http::{HeaderMap, HeaderName, HeaderValue, header};
use serde::{Deserialize, Serialize};

/// Most rules a bucket's configuration may hold.
pub const MAX_RULES: usize = 100;

/// Longest rule id.
pub const MAX_ID_LEN: usize = 255;

/// The methods a rule may allow.
pub const METHODS: [&str; 5] = ["GET", "PUT", "POST", "DELETE", "HEAD"];

/// The `Vary` value of every answer carrying CORS headers: those depend on these request
/// headers, so a cache must not reuse them for another origin.
pub const VARY: &str = "Origin, Access-Control-Request-Headers, Access-Control-Request-Method";

/// A bucket's CORS configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rules {
    pub rules: Vec<Rule>,
}

/// One `CORSRule`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rule {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub allowed_origins: Vec<String>,
    pub allowed_methods: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_headers: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expose_headers: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_age_seconds: Option<i32>,
}

/// Why a configuration is refused, each with AWS's code and message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Invalid {
    /// No rules, a rule without an origin or a method, or more than [`MAX_RULES`] rules.
    #[error("The XML you provided was not well-formed or did not validate against our published schema")]
    Malformed,
    #[error("Found unsupported HTTP method in CORS config. Unsupported method is {0}")]
    Method(String),
    #[error("AllowedOrigin \"{0}\" can not have more than one wildcard.")]
    OriginWildcards(String),
    #[error("AllowedHeader \"{0}\" can not have more than one wildcard.")]
    HeaderWildcards(String),
    #[error("ExposeHeader \"{0}\" contains wildcard. We currently do not support wildcard for ExposeHeader.")]
    ExposeWildcard(String),
    #[error("The ID of a CORS rule may have at most {MAX_ID_LEN} characters.")]
    IdTooLong,
}

impl Invalid {
    /// AWS's error code.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::Malformed => "MalformedXML",
            _ => "InvalidRequest",
        }
    }
}

impl Rules {
    /// Checks the configuration as AWS does when it is put.
    pub fn validate(&self) -> Result<(), Invalid> {
        if self.rules.is_empty() || self.rules.len() > MAX_RULES {
            return Err(Invalid::Malformed);
        }
        for r in &self.rules {
            if r.allowed_origins.is_empty() || r.allowed_methods.is_empty() {
                return Err(Invalid::Malformed);
            }
            if let Some(m) = r.allowed_methods.iter().find(|m| !METHODS.contains(&m.as_str())) {
                return Err(Invalid::Method(m.clone()));
            }
            if let Some(o) = r.allowed_origins.iter().find(|o| o.matches('*').count() > 1) {
                return Err(Invalid::OriginWildcards(o.clone()));
            }
            if let Some(h) = r.allowed_headers.iter().find(|h| h.matches('*').count() > 1) {
                return Err(Invalid::HeaderWildcards(h.clone()));
            }
            if let Some(h) = r.expose_headers.iter().find(|h| h.contains('*')) {
                return Err(Invalid::ExposeWildcard(h.clone()));
            }
            if r.id.as_ref().is_some_and(|id| id.chars().count() > MAX_ID_LEN) {
                return Err(Invalid::IdTooLong);
            }
        }
        Ok(())
    }

    /// The first rule that allows `origin` to use `method` with `headers` (lower case).
    #[must_use]
    pub fn find(&self, origin: &str, method: &str, headers: &[String]) -> Option<&Rule> {
        self.rules.iter().find(|r| r.allows(origin, method, headers))
    }
}

/// `value` matches `pattern` with at most one `*` standing for any run of characters.
fn wildcard(pattern: &str, value: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == value,
        Some((pre, suf)) => value.len() >= pre.len() + suf.len() && value.starts_with(pre) && value.ends_with(suf),
    }
}

impl Rule {
    fn allows(&self, origin: &str, method: &str, headers: &[String]) -> bool {
        self.allowed_origins.iter().any(|o| wildcard(o, origin))
            && self.allowed_methods.iter().any(|m| m == method)
            && headers.iter().all(|h| self.allowed_headers.iter().any(|a| wildcard(&a.to_ascii_lowercase(), h)))
    }

    /// Whether one of its origins is exactly `*`.
    fn any_origin(&self) -> bool {
        self.allowed_origins.iter().any(|o| o == "*")
    }
}

/// What a request asks of CORS: its origin, the method it wants (the preflight's
/// `Access-Control-Request-Method`, else its own), the headers it wants to send, and whether
/// it carries an `Authorization` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ask {
    pub origin: String,
    pub method: Option<String>,
    pub headers: Vec<String>,
    pub signed: bool,
}

/// The comma-separated header names of `Access-Control-Request-Headers`, lower case.
fn requested_headers(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all("access-control-request-headers")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|h| h.trim().to_ascii_lowercase())
        .filter(|h| !h.is_empty())
        .collect()
}

fn request_method(headers: &HeaderMap) -> Option<String> {
    headers.get("access-control-request-method").and_then(|v| v.to_str().ok()).map(|m| m.trim().to_owned())
}

impl Ask {
    /// The CORS side of an actual request; `None` without an `Origin` header (the hot path:
    /// one header lookup).
    #[must_use]
    pub fn of(method: &http::Method, headers: &HeaderMap) -> Option<Self> {
        let origin = headers.get(header::ORIGIN)?.to_str().ok()?.to_owned();
        Some(Self {
            origin,
            method: Some(request_method(headers).unwrap_or_else(|| method.as_str().to_owned())),
            headers: requested_headers(headers),
            signed: headers.contains_key(header::AUTHORIZATION),
        })
    }

    /// Sets the `Access-Control-*` headers of `rule` on `out`, and `Vary`.
    pub fn apply(&self, rule: &Rule, out: &mut HeaderMap) {
        // As AWS (and Ceph RGW): a rule allowing any origin answers `*` to requests that carry
        // no Authorization header; otherwise exactly the request's origin, once, with
        // credentials allowed.
        if rule.any_origin() && !self.signed {
            out.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
        } else if let Ok(v) = HeaderValue::from_str(&self.origin) {
            out.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
            out.insert(header::ACCESS_CONTROL_ALLOW_CREDENTIALS, HeaderValue::from_static("true"));
        }
        set_list(out, header::ACCESS_CONTROL_ALLOW_METHODS, &rule.allowed_methods);
        set_list(out, header::ACCESS_CONTROL_ALLOW_HEADERS, &self.headers);
        set_list(out, header::ACCESS_CONTROL_EXPOSE_HEADERS, &rule.expose_headers);
        if let Some(age) = rule.max_age_seconds {
            out.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from(age));
        }
        add_vary(out, VARY);
    }
}

fn set_list(out: &mut HeaderMap, name: HeaderName, values: &[String]) {
    if values.is_empty() {
        return;
    }
    if let Ok(v) = HeaderValue::from_str(&values.join(", ")) {
        out.insert(name, v);
    }
}

/// Adds `value` to the response's `Vary` (one line).
fn add_vary(out: &mut HeaderMap, value: &'static str) {
    match out.get(header::VARY).and_then(|v| v.to_str().ok()) {
        Some(old) if !old.is_empty() => {
            if let Ok(v) = HeaderValue::from_str(&format!("{old}, {value}")) {
                out.insert(header::VARY, v);
            }
        }
        _ => {
            out.insert(header::VARY, HeaderValue::from_static(value));
        }
    }
}

/// Why a preflight is refused (before the bucket's rules are read).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PreflightError {
    /// 400 BadRequest: no `Origin`.
    NoOrigin,
    /// 400 BadRequest: no or no valid `Access-Control-Request-Method`.
    BadMethod(Option<String>),
}

impl PreflightError {
    /// The S3 error answered.
    #[must_use]
    pub fn to_s3(&self) -> s3s::S3Error {
        let msg = match self {
            Self::NoOrigin => "Insufficient information. Origin request header needed.".to_owned(),
            Self::BadMethod(None) => {
                "Insufficient information. Access-Control-Request-Method header needed.".to_owned()
            }
            Self::BadMethod(Some(m)) => format!("Invalid Access-Control-Request-Method: {m}"),
        };
        custom_error("BadRequest", http::StatusCode::BAD_REQUEST, msg)
    }
}

/// An S3 error with a code s3s does not know.
#[must_use]
pub fn custom_error(code: &'static str, status: http::StatusCode, msg: String) -> s3s::S3Error {
    let mut e = s3s::S3Error::with_message(s3s::S3ErrorCode::Custom(code.into()), msg);
    e.set_status_code(status);
    e
}

/// 403 CORSResponse: the bucket has no CORS configuration.
#[must_use]
pub fn not_enabled() -> s3s::S3Error {
    custom_error("CORSResponse", http::StatusCode::FORBIDDEN, "CORS is not enabled for this bucket.".to_owned())
}

/// 403 CORSResponse: no rule matches.
#[must_use]
pub fn not_allowed() -> s3s::S3Error {
    custom_error(
        "CORSResponse",
        http::StatusCode::FORBIDDEN,
        "This CORS request is not allowed. This is usually because the evalution of Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the resource's CORS spec.".to_owned(),
    )
}

/// What a preflight asks: origin and a valid `Access-Control-Request-Method` are required.
pub fn preflight_ask(headers: &HeaderMap) -> Result<Ask, PreflightError> {
    let origin = headers
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .filter(|o| !o.is_empty())
        .ok_or(PreflightError::NoOrigin)?
        .to_owned();
    let method = match request_method(headers) {
        None => return Err(PreflightError::BadMethod(None)),
        Some(m) if m.is_empty() => return Err(PreflightError::BadMethod(None)),
        Some(m) if !METHODS.contains(&m.as_str()) => return Err(PreflightError::BadMethod(Some(m))),
        Some(m) => m,
    };
    Ok(Ask {
        origin,
        method: Some(method),
        headers: requested_headers(headers),
        signed: headers.contains_key(header::AUTHORIZATION),
    })
}

/// The bucket an S3 request addresses: the virtual host's, else the first path segment.
#[must_use]
pub fn bucket_of(uri: &http::Uri, headers: &HeaderMap, domains: &crate::host::Domains) -> Option<String> {
    use s3s::host::S3Host as _;
    if let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok())
        && let Ok(v) = domains.parse_host_header(host)
        && let Some(b) = v.bucket()
    {
        return Some(b.to_owned());
    }
    let first = uri.path().trim_start_matches('/').split('/').next().unwrap_or("");
    (!first.is_empty()).then(|| first.to_owned())
}

/// The methods the REST API answers.
const REST_METHODS: &str = "GET, POST, PUT, PATCH, DELETE";
/// The request headers a REST client may send.
const REST_HEADERS: &str = "authorization, content-type, x-amz-date, x-amz-content-sha256, x-amz-security-token";
/// The response headers a REST client may read.
const REST_EXPOSE: &str = "x-amz-request-id, retry-after";
/// How long a browser may cache a REST preflight: 10 minutes.
const REST_MAX_AGE: u32 = 600;

/// The answer to a preflight of the REST API: 204 with the fixed policy, for any origin (400
/// BadRequest without `Origin` or `Access-Control-Request-Method`, as for buckets).
pub fn rest_preflight(headers: &HeaderMap) -> Result<http::Response<s3s::Body>, PreflightError> {
    let _ = preflight_ask(headers)?;
    let mut resp = http::Response::new(s3s::Body::empty());
    *resp.status_mut() = http::StatusCode::NO_CONTENT;
    let h = resp.headers_mut();
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    h.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static(REST_METHODS));
    h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, HeaderValue::from_static(REST_HEADERS));
    h.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from(REST_MAX_AGE));
    Ok(resp)
}

/// The fixed policy's headers on an actual REST answer to a request with `Origin`.
pub fn rest_headers(out: &mut HeaderMap) {
    out.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    out.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, HeaderValue::from_static(REST_EXPOSE));
}

/// The methods a share link answers (ADR 0010).
const SHARE_METHODS: &str = "GET, HEAD";
/// The request headers a page may send to a share link: a range, a link password.
const SHARE_HEADERS: &str = "range, authorization";
/// The response headers a page may read from a share link.
const SHARE_EXPOSE: &str =
    "content-length, content-range, content-disposition, etag, accept-ranges, retry-after, www-authenticate";

/// A preflight for a share link (`/s/{token}`): the fixed, read-only policy of ADR 0010 — any
/// origin, GET and HEAD, no credentials (a link password travels in `Authorization`, which a
/// page must set itself).
pub fn share_preflight(headers: &HeaderMap) -> Result<http::Response<s3s::Body>, s3s::S3Error> {
    let ask = preflight_ask(headers).map_err(|e| e.to_s3())?;
    if !ask.method.as_deref().is_some_and(|m| SHARE_METHODS.split(", ").any(|s| s == m)) {
        return Err(not_allowed());
    }
    let mut resp = http::Response::new(s3s::Body::empty());
    *resp.status_mut() = http::StatusCode::NO_CONTENT;
    let h = resp.headers_mut();
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    h.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static(SHARE_METHODS));
    h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, HeaderValue::from_static(SHARE_HEADERS));
    h.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from(REST_MAX_AGE));
    Ok(resp)
}

/// The share-link policy's headers on an actual answer to a request with `Origin`.
pub fn share_headers(out: &mut HeaderMap) {
    out.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    out.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, HeaderValue::from_static(SHARE_EXPOSE));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(origins: &[&str], methods: &[&str]) -> Rule {
        Rule {
            allowed_origins: origins.iter().map(|s| (*s).to_owned()).collect(),
            allowed_methods: methods.iter().map(|s| (*s).to_owned()).collect(),
            ..Rule::default()
        }
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        pairs.iter().map(|(k, v)| (HeaderName::from_static(k), HeaderValue::from_str(v).expect("value"))).collect()
    }

    #[test]
    fn origins_match_with_one_wildcard_case_sensitively() {
        assert!(wildcard("*suffix", "foo.suffix"));
        assert!(wildcard("*suffix", "suffix"));
        assert!(!wildcard("*suffix", "foo.suffix.get"));
        assert!(wildcard("start*end", "startend"));
        assert!(wildcard("start*end", "start12end"));
        assert!(!wildcard("start*end", "0start12end"));
        // Prefix and suffix may not overlap.
        assert!(!wildcard("ab*ba", "aba"));
        assert!(wildcard("prefix*", "prefix.suffix"));
        assert!(!wildcard("prefix*", "bla.prefix"));
        assert!(wildcard("*", "anything"));
        assert!(wildcard("http://a.example", "http://a.example"));
        assert!(!wildcard("http://a.example", "http://A.example"));
    }

    #[test]
    fn the_first_rule_matching_origin_method_and_headers_wins() {
        let mut with_headers = rule(&["https://app.example"], &["PUT"]);
        with_headers.allowed_headers = vec!["X-Amz-*".into(), "content-type".into()];
        with_headers.id = Some("h".into());
        let rules = Rules {
            rules: vec![rule(&["*suffix"], &["GET"]), with_headers, rule(&["https://app.example"], &["PUT", "GET"])],
        };
        assert_eq!(rules.find("foo.suffix", "GET", &[]), Some(&rules.rules[0]));
        assert_eq!(rules.find("foo.suffix", "PUT", &[]), None);
        let h = vec!["x-amz-date".to_owned(), "content-type".to_owned()];
        assert_eq!(rules.find("https://app.example", "PUT", &h).and_then(|r| r.id.as_deref()), Some("h"));
        // A header the first rule does not allow: the next rule (which allows none) fails too.
        assert_eq!(rules.find("https://app.example", "PUT", &["x-other".to_owned()]), None);
        assert_eq!(rules.find("https://app.example", "GET", &[]), Some(&rules.rules[2]));
        assert_eq!(rules.find("https://app.example", "DELETE", &[]), None);
    }

    #[test]
    fn configurations_are_checked_as_aws_checks_them() {
        let ok = Rules { rules: vec![rule(&["*"], &["GET", "PUT", "POST", "DELETE", "HEAD"])] };
        assert_eq!(ok.validate(), Ok(()));
        assert_eq!(Rules::default().validate(), Err(Invalid::Malformed));
        let bad = Rules { rules: vec![rule(&["*"], &["GET", "PATCH"])] };
        assert_eq!(bad.validate(), Err(Invalid::Method("PATCH".into())));
        assert_eq!(
            bad.validate().err().map(|e| e.to_string()).as_deref(),
            Some("Found unsupported HTTP method in CORS config. Unsupported method is PATCH")
        );
        assert_eq!(bad.validate().err().map(|e| e.code()), Some("InvalidRequest"));
        assert_eq!(
            Rules { rules: vec![rule(&["*a*"], &["GET"])] }.validate(),
            Err(Invalid::OriginWildcards("*a*".into()))
        );
        let mut h = rule(&["*"], &["GET"]);
        h.allowed_headers = vec!["x-*-*".into()];
        assert_eq!(Rules { rules: vec![h] }.validate(), Err(Invalid::HeaderWildcards("x-*-*".into())));
        let mut e = rule(&["*"], &["GET"]);
        e.expose_headers = vec!["x-*".into()];
        assert_eq!(Rules { rules: vec![e] }.validate(), Err(Invalid::ExposeWildcard("x-*".into())));
        let many = Rules { rules: vec![rule(&["*"], &["GET"]); MAX_RULES + 1] };
        assert_eq!(many.validate(), Err(Invalid::Malformed));
        assert_eq!(Rules { rules: vec![rule(&["*"], &["GET"]); MAX_RULES] }.validate(), Ok(()));
        assert_eq!(Rules { rules: vec![rule(&[], &["GET"])] }.validate(), Err(Invalid::Malformed));
        let mut long = rule(&["*"], &["GET"]);
        long.id = Some("x".repeat(MAX_ID_LEN + 1));
        assert_eq!(Rules { rules: vec![long] }.validate(), Err(Invalid::IdTooLong));
    }

    #[test]
    fn headers_of_a_match() {
        let mut r = rule(&["https://app.example"], &["GET", "PUT"]);
        r.expose_headers = vec!["ETag".into(), "x-amz-request-id".into()];
        r.max_age_seconds = Some(3000);
        let ask = Ask {
            origin: "https://app.example".into(),
            method: Some("PUT".into()),
            headers: vec!["content-type".into()],
            signed: false,
        };
        let mut out = headers(&[("vary", "Accept-Encoding")]);
        ask.apply(&r, &mut out);
        assert_eq!(out["access-control-allow-origin"], "https://app.example");
        assert_eq!(out["access-control-allow-credentials"], "true");
        assert_eq!(out["access-control-allow-methods"], "GET, PUT");
        assert_eq!(out["access-control-allow-headers"], "content-type");
        assert_eq!(out["access-control-expose-headers"], "ETag, x-amz-request-id");
        assert_eq!(out["access-control-max-age"], "3000");
        assert_eq!(out["vary"], format!("Accept-Encoding, {VARY}").as_str());
        assert_eq!(out.get_all("access-control-allow-origin").iter().count(), 1);

        // A rule for any origin: `*` without credentials, unless the request is signed.
        let any = rule(&["*"], &["GET"]);
        let mut out = HeaderMap::new();
        Ask { signed: false, ..ask.clone() }.apply(&any, &mut out);
        assert_eq!(out["access-control-allow-origin"], "*");
        assert!(!out.contains_key("access-control-allow-credentials"));
        assert!(!out.contains_key("access-control-max-age"));
        let mut out = HeaderMap::new();
        Ask { signed: true, ..ask }.apply(&any, &mut out);
        assert_eq!(out["access-control-allow-origin"], "https://app.example");
    }

    #[test]
    fn what_requests_ask() {
        assert_eq!(Ask::of(&http::Method::GET, &HeaderMap::new()), None);
        let a = Ask::of(&http::Method::PUT, &headers(&[("origin", "o"), ("authorization", "AWS4-HMAC-SHA256 x")]));
        assert_eq!(a.as_ref().and_then(|a| a.method.as_deref()), Some("PUT"));
        assert!(a.is_some_and(|a| a.signed));
        let a = Ask::of(&http::Method::PUT, &headers(&[("origin", "o"), ("access-control-request-method", "GET")]));
        assert_eq!(a.and_then(|a| a.method), Some("GET".into()));

        assert_eq!(preflight_ask(&HeaderMap::new()), Err(PreflightError::NoOrigin));
        assert_eq!(preflight_ask(&headers(&[("origin", "o")])), Err(PreflightError::BadMethod(None)));
        assert_eq!(
            preflight_ask(&headers(&[("origin", "o"), ("access-control-request-method", "PATCH")])),
            Err(PreflightError::BadMethod(Some("PATCH".into())))
        );
        let a = preflight_ask(&headers(&[
            ("origin", "o"),
            ("access-control-request-method", "PUT"),
            ("access-control-request-headers", "Content-Type, X-Amz-Date,,"),
        ]))
        .expect("valid");
        assert_eq!(a.headers, ["content-type", "x-amz-date"]);
        assert_eq!(PreflightError::NoOrigin.to_s3().status_code(), Some(http::StatusCode::BAD_REQUEST));
        assert_eq!(not_enabled().code().as_str(), "CORSResponse");
    }

    #[test]
    fn the_bucket_of_a_request() {
        let d = crate::host::Domains::new(&["localhost".into()]);
        let uri: http::Uri = "/photos/a/b.jpg?x=1".parse().expect("uri");
        assert_eq!(bucket_of(&uri, &HeaderMap::new(), &d).as_deref(), Some("photos"));
        let vh = headers(&[("host", "pics.localhost:9000")]);
        assert_eq!(bucket_of(&uri, &vh, &d).as_deref(), Some("pics"));
        assert_eq!(bucket_of(&"/".parse().expect("uri"), &HeaderMap::new(), &d), None);
    }
}

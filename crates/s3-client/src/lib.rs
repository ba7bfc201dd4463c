//! A lean S3 client for the data path.
//!
//! [`S3Client`] builds path-style requests (`http://host:port/bucket/key?query`), signs them
//! with SigV4 and `UNSIGNED-PAYLOAD` (the signed headers are `host`, `x-amz-content-sha256`,
//! `x-amz-date` and any `x-amz-*` the caller adds; `content-length` is added unsigned), and
//! sends them over one keep-alive hyper pool with `TCP_NODELAY` on every socket. Bodies stream
//! both ways: the request body is any [`http_body::Body`], the response body is hyper's
//! [`Incoming`], read as it arrives.
//!
//! Why not a full SDK: on the gateway's hot path each request costs what the client does per
//! request. Here that is a canonical request, a string to sign and one HMAC with a signing key
//! derived once a day ([`SigningKeyCache`]), and no payload hashing (ADR 0005). Used by the
//! gateway's S3 blob store (`cloudstore-blob-minio`) for object data and by the load
//! generator.
//!
//! Error replies are read into [`Error::Status`] with the S3 error code from the XML body.

use std::fmt;
use std::time::Duration;

use bytes::Bytes;
use cloudstore_sigv4::{Credentials, SigningKeyCache, SigningParams, UNSIGNED_PAYLOAD, encode_query, uri_encode};
use http::header::{CONTENT_LENGTH, HOST};
use http::{HeaderName, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::BodyExt as _;
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use time::OffsetDateTime;

pub use cloudstore_sigv4::uri_encode_path;

/// The largest error body read to find its code; the rest is dropped.
const MAX_ERROR_BODY: usize = 64 * 1024;

/// What can go wrong.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The settings cannot work (endpoint, region, credentials).
    #[error("invalid S3 client setting: {0}")]
    Config(String),
    /// The request could not be sent or its answer not read (connection refused, reset,
    /// closed early, timed out).
    #[error("S3 request failed: {0}")]
    Transport(String),
    /// The server answered with an error status.
    #[error("S3 answered HTTP {status} {code}: {message}")]
    Status {
        status: StatusCode,
        /// The S3 error code (`NoSuchKey`, `SlowDown`, ...), empty if the body had none.
        code: String,
        message: String,
    },
}

impl Error {
    /// Whether trying again later may succeed: transport failures, 5xx, 408, 429 and the
    /// throttling codes.
    pub fn is_unavailable(&self) -> bool {
        match self {
            Error::Config(_) => false,
            Error::Transport(_) => true,
            Error::Status { status, code, .. } => {
                status.is_server_error()
                    || *status == StatusCode::TOO_MANY_REQUESTS
                    || *status == StatusCode::REQUEST_TIMEOUT
                    || RETRYABLE_CODES.iter().any(|c| c.eq_ignore_ascii_case(code))
            }
        }
    }

    /// Whether the server said the key does not exist (`NoSuchKey`; a bare 404 might be a
    /// missing bucket or a proxy's page, so it does not count).
    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::Status { code, .. } if code == "NoSuchKey")
    }
}

/// S3 error codes that mean "try again later".
const RETRYABLE_CODES: [&str; 8] = [
    "SlowDown",
    "ServiceUnavailable",
    "InternalError",
    "RequestTimeout",
    "Throttling",
    "RequestLimitExceeded",
    "XMinioServerNotInitialized",
    "XMinioServerBusy",
];

/// Where and how to connect.
#[derive(Clone)]
pub struct Config {
    /// `http://host:port` (plain HTTP: loopback or a private network).
    pub endpoint: String,
    pub access_key: String,
    pub secret_key: String,
    /// Empty means `us-east-1`.
    pub region: String,
    /// Idle keep-alive connections kept open.
    pub max_idle: usize,
    pub connect_timeout: Duration,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("endpoint", &self.endpoint)
            .field("access_key", &self.access_key)
            .field("secret_key", &"<redacted>")
            .field("region", &self.region)
            .field("max_idle", &self.max_idle)
            .finish_non_exhaustive()
    }
}

impl Config {
    /// Defaults: region `us-east-1`, 64 idle connections, 10 s connect timeout.
    pub fn new(endpoint: &str, access_key: &str, secret_key: &str) -> Self {
        Config {
            endpoint: endpoint.to_owned(),
            access_key: access_key.to_owned(),
            secret_key: secret_key.to_owned(),
            region: String::new(),
            max_idle: 64,
            connect_timeout: Duration::from_secs(10),
        }
    }

    /// The region to sign for (empty: `us-east-1`).
    #[must_use]
    pub fn region(mut self, region: &str) -> Self {
        region.clone_into(&mut self.region);
        self
    }

    /// How many idle keep-alive connections to keep.
    #[must_use]
    pub fn max_idle(mut self, n: usize) -> Self {
        self.max_idle = n;
        self
    }
}

/// What to ask: method, bucket and key (empty: the bucket itself), the unencoded query pairs,
/// extra headers (signed) and the body's length (sent unsigned).
#[derive(Debug, Clone)]
pub struct Call<'a> {
    pub method: Method,
    pub bucket: &'a str,
    pub key: &'a str,
    pub query: &'a [(&'a str, &'a str)],
    pub headers: &'a [(HeaderName, HeaderValue)],
    pub content_length: Option<u64>,
}

impl<'a> Call<'a> {
    /// `method` on `bucket`/`key`, no query, no extra headers, no length.
    pub fn new(method: Method, bucket: &'a str, key: &'a str) -> Self {
        Call { method, bucket, key, query: &[], headers: &[], content_length: None }
    }

    #[must_use]
    pub fn query(mut self, query: &'a [(&'a str, &'a str)]) -> Self {
        self.query = query;
        self
    }

    #[must_use]
    pub fn headers(mut self, headers: &'a [(HeaderName, HeaderValue)]) -> Self {
        self.headers = headers;
        self
    }

    #[must_use]
    pub fn content_length(mut self, len: u64) -> Self {
        self.content_length = Some(len);
        self
    }
}

/// A signing S3 client over a keep-alive pool; `B` is the request body type. Cheap to share
/// behind an `Arc`; `Debug` never shows the secret.
pub struct S3Client<B> {
    http: Client<HttpConnector, B>,
    /// `http://host:port`, no trailing slash.
    base: String,
    /// `host:port` as sent in the Host header and signed.
    host: String,
    creds: Credentials,
    region: String,
    /// Signing keys change once a day: the cache spares the four derivation HMACs per request.
    keys: SigningKeyCache,
}

impl<B> fmt::Debug for S3Client<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Client").field("base", &self.base).field("creds", &self.creds).finish_non_exhaustive()
    }
}

impl<B> S3Client<B>
where
    B: http_body::Body<Data = Bytes> + Send + 'static + Unpin,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    /// A client for `cfg.endpoint`; connects lazily.
    pub fn new(cfg: &Config) -> Result<Self, Error> {
        let uri: http::Uri =
            cfg.endpoint.parse().map_err(|e| Error::Config(format!("endpoint {:?}: {e}", cfg.endpoint)))?;
        match uri.scheme_str() {
            Some("http") => {}
            Some(other) => {
                return Err(Error::Config(format!("endpoint scheme {other:?} is not supported: use http://host:port")));
            }
            None => return Err(Error::Config(format!("endpoint {:?} needs a scheme: http://host:port", cfg.endpoint))),
        }
        if !matches!(uri.path(), "" | "/") {
            return Err(Error::Config(format!("endpoint {:?} must not have a path", cfg.endpoint)));
        }
        let host = uri.authority().ok_or_else(|| Error::Config("endpoint has no host".into()))?.as_str().to_owned();
        let region = if cfg.region.is_empty() { "us-east-1" } else { cfg.region.as_str() };
        if !region.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return Err(Error::Config(format!("region {region:?}")));
        }
        let mut conn = HttpConnector::new();
        conn.set_nodelay(true);
        conn.set_keepalive(Some(Duration::from_secs(30)));
        conn.set_connect_timeout(Some(cfg.connect_timeout));
        let http = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(cfg.max_idle)
            .pool_idle_timeout(Duration::from_secs(50))
            .build(conn);
        Ok(S3Client {
            http,
            base: format!("http://{host}"),
            host,
            creds: Credentials::new(cfg.access_key.clone(), cfg.secret_key.clone()),
            region: region.to_owned(),
            keys: SigningKeyCache::new(4),
        })
    }

    /// The signed path-style request `call` with `body`.
    pub fn request(&self, call: &Call<'_>, body: B) -> Result<Request<B>, Error> {
        let mut uri = String::with_capacity(self.base.len() + call.bucket.len() + call.key.len() * 3 / 2 + 8);
        uri.push_str(&self.base);
        uri.push('/');
        uri.push_str(&uri_encode(call.bucket));
        if !call.key.is_empty() {
            uri.push('/');
            uri.push_str(&uri_encode_path(call.key));
        }
        if !call.query.is_empty() {
            uri.push('?');
            uri.push_str(&encode_query(call.query));
        }
        let (mut parts, ()) = Request::builder()
            .method(call.method.clone())
            .uri(uri)
            .header(HOST, &self.host)
            .body(())
            .map_err(|e| Error::Config(format!("request: {e}")))?
            .into_parts();
        for (name, value) in call.headers {
            parts.headers.insert(name.clone(), value.clone());
        }
        let params = SigningParams { region: &self.region, service: "s3", time: OffsetDateTime::now_utc() };
        self.keys
            .sign_cached(&mut parts, UNSIGNED_PAYLOAD, &self.creds, &params)
            .map_err(|e| Error::Config(format!("signing: {e}")))?;
        if let Some(len) = call.content_length {
            parts.headers.insert(CONTENT_LENGTH, len.into());
        }
        Ok(Request::from_parts(parts, body))
    }

    /// Sends `req` and returns the response, whatever its status.
    pub async fn send(&self, req: Request<B>) -> Result<Response<Incoming>, Error> {
        self.http.request(req).await.map_err(|e| Error::Transport(error_chain(&e)))
    }

    /// Sends `req`; a non-2xx answer becomes [`Error::Status`] (its body read for the code).
    pub async fn send_ok(&self, req: Request<B>) -> Result<Response<Incoming>, Error> {
        let resp = self.send(req).await?;
        if resp.status().is_success() { Ok(resp) } else { Err(status_error(resp).await) }
    }
}

/// Reads a small body whole (at most 64 KiB are kept).
pub async fn read_small(resp: Response<Incoming>) -> Result<Bytes, Error> {
    let mut body = resp.into_body();
    let mut out = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| Error::Transport(format!("reading body: {}", error_chain(&e))))?;
        if let Ok(data) = frame.into_data()
            && out.len() < MAX_ERROR_BODY
        {
            let room = MAX_ERROR_BODY - out.len();
            out.extend_from_slice(&data[..data.len().min(room)]);
        }
    }
    Ok(Bytes::from(out))
}

/// Turns an error reply into [`Error::Status`], with the code and message of its XML body.
pub async fn status_error(resp: Response<Incoming>) -> Error {
    let status = resp.status();
    let body = read_small(resp).await.unwrap_or_default();
    let text = String::from_utf8_lossy(&body);
    Error::Status {
        status,
        code: xml_text(&text, "Code").map(xml_unescape).unwrap_or_default(),
        message: xml_text(&text, "Message").map(xml_unescape).unwrap_or_default(),
    }
}

/// The text of the first `<tag>...</tag>` (no nesting, no attributes: enough for S3 replies).
pub fn xml_text<'a>(doc: &'a str, tag: &str) -> Option<&'a str> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let start = doc.find(&open)? + open.len();
    let end = doc[start..].find(&close)? + start;
    Some(&doc[start..end])
}

/// Decodes XML character and entity references; anything unknown stays as it is.
pub fn xml_unescape(s: &str) -> String {
    if !s.contains('&') {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let Some(end) = rest.find(';') else { break };
        let entity = &rest[1..end];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            e if e.starts_with("#x") => u32::from_str_radix(&e[2..], 16).ok().and_then(char::from_u32),
            e if e.starts_with('#') => e[1..].parse().ok().and_then(char::from_u32),
            _ => None,
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// An error with its sources, `: `-separated.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::Empty;

    fn client() -> S3Client<Empty<Bytes>> {
        S3Client::new(&Config::new("http://127.0.0.1:9000", "AKIDLOADGEN", "secret/key").region("us-east-1"))
            .expect("client")
    }

    #[test]
    fn requests_are_signed_for_s3_with_unsigned_payload() {
        let s3 = client();
        let extra = [(HeaderName::from_static("x-amz-meta-a"), HeaderValue::from_static("1"))];
        let req = s3
            .request(
                &Call::new(Method::GET, "lg-bucket", "")
                    .query(&[("prefix", "lg/a b"), ("list-type", "2")])
                    .headers(&extra)
                    .content_length(0),
                Empty::new(),
            )
            .expect("request");
        assert_eq!(req.uri(), "http://127.0.0.1:9000/lg-bucket?list-type=2&prefix=lg%2Fa%20b");
        let (parts, _) = req.into_parts();
        assert_eq!(parts.headers[HOST], "127.0.0.1:9000");
        assert_eq!(parts.headers["x-amz-content-sha256"], UNSIGNED_PAYLOAD);
        assert_eq!(parts.headers[CONTENT_LENGTH], "0");
        let auth = cloudstore_sigv4::parse_authorization(parts.headers["authorization"].to_str().expect("ascii"))
            .expect("parses");
        assert_eq!(auth.signed_headers, ["host", "x-amz-content-sha256", "x-amz-date", "x-amz-meta-a"]);
        assert_eq!(
            (auth.access_key.as_str(), auth.region.as_str(), auth.service.as_str()),
            ("AKIDLOADGEN", "us-east-1", "s3")
        );
        let params = cloudstore_sigv4::VerifyParams {
            allow_unsigned_payload: true,
            ..cloudstore_sigv4::VerifyParams::new(cloudstore_sigv4::EMPTY_PAYLOAD_SHA256, OffsetDateTime::now_utc())
        };
        cloudstore_sigv4::verify_with(&parts, &auth, "secret/key", &params).expect("verifies");
        // The wrong secret does not verify.
        assert!(cloudstore_sigv4::verify_with(&parts, &auth, "secret/kez", &params).is_err());

        let req = s3.request(&Call::new(Method::PUT, "lg-bucket", "dir/ké y+1"), Empty::new()).expect("request");
        assert_eq!(req.uri().path(), "/lg-bucket/dir/k%C3%A9%20y%2B1");
        assert!(req.headers().get(CONTENT_LENGTH).is_none());
    }

    #[test]
    fn bad_settings_are_refused() {
        for endpoint in ["https://s3.example.com", "127.0.0.1:9000", "http://h:1/prefix", "not a url"] {
            let cfg = Config::new(endpoint, "a", "b");
            assert!(matches!(S3Client::<Empty<Bytes>>::new(&cfg), Err(Error::Config(_))), "{endpoint}");
        }
        let mut cfg = Config::new("http://h:1", "a", "b");
        cfg.region = "us/east".into();
        assert!(matches!(S3Client::<Empty<Bytes>>::new(&cfg), Err(Error::Config(_))));
    }

    #[test]
    fn debug_hides_the_secret() {
        let shown = format!("{:?} {:?}", client(), Config::new("http://h:1", "AKID", "topsecret"));
        assert!(!shown.contains("secret/key") && !shown.contains("topsecret"), "{shown}");
        assert!(shown.contains("AKID"));
    }

    #[test]
    fn errors_classify() {
        let status = |status: u16, code: &str| Error::Status {
            status: StatusCode::from_u16(status).expect("status"),
            code: code.into(),
            message: String::new(),
        };
        assert!(status(503, "").is_unavailable());
        assert!(status(400, "SlowDown").is_unavailable());
        assert!(status(429, "").is_unavailable());
        assert!(!status(403, "AccessDenied").is_unavailable());
        assert!(Error::Transport("reset".into()).is_unavailable());
        assert!(status(404, "NoSuchKey").is_not_found());
        assert!(!status(404, "").is_not_found());
        assert!(!status(404, "NoSuchBucket").is_not_found());
    }

    #[test]
    fn xml_helpers() {
        let doc = "<ListBucketResult><IsTruncated>true</IsTruncated><Key>a</Key><Key>b</Key>\
                   <NextContinuationToken>x&amp;y&#47;z&#x41;</NextContinuationToken></ListBucketResult>";
        assert_eq!(xml_text(doc, "IsTruncated"), Some("true"));
        assert_eq!(xml_unescape(xml_text(doc, "NextContinuationToken").expect("token")), "x&y/zA");
        assert_eq!(xml_unescape("a&b;c&"), "a&b;c&");
        assert_eq!(xml_text(doc, "Missing"), None);
    }

    #[tokio::test]
    async fn connection_refused_is_a_transport_error() {
        // Port 9 (discard) on loopback: nothing listens there on these machines.
        let s3: S3Client<Empty<Bytes>> = S3Client::new(&Config::new("http://127.0.0.1:9", "a", "b")).expect("client");
        let req = s3.request(&Call::new(Method::GET, "b", "k"), Empty::new()).expect("request");
        let err = s3.send(req).await.expect_err("nothing listens");
        assert!(matches!(err, Error::Transport(_)) && err.is_unavailable(), "{err}");
    }
}

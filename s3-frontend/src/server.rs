//! The public HTTP port: accepts connections (TCP_NODELAY on each), gives every request an id
//! and a tracing span, answers `/health/*` and `/metrics` itself and hands everything else to
//! the s3s service. Shuts down gracefully: stops accepting, lets requests in flight finish
//! for up to [`DRAIN_DEADLINE`].
//!
//! Connections are bounded ([`Limits`]): at `max_connections` a new connection closes the
//! longest-idle one (no request in flight) to take its place; when every connection is busy it
//! is served from a small reserve that answers only `/health/*` (anything else 503 SlowDown),
//! and past the reserve it is closed at once. Accept errors (EMFILE when the open-file limit is
//! reached anyway) close an idle connection and back off, logging once per episode. A request
//! body that sends no data for `body_idle_timeout` fails, answered 400 RequestTimeout.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use cloudstore_store_api::{BlobStore, MetadataStore};
use http::{Request, Response, StatusCode};
use http_body::{Frame, SizeHint};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use s3s::Body;
use s3s::service::S3Service;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument as _;

use crate::metrics::Metrics;

/// How long in-flight requests may run after shutdown starts.
pub const DRAIN_DEADLINE: Duration = Duration::from_secs(10);

/// How long a client may take to send a request's headers.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Limits of the HTTP server (settings in `config.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Connections served at once.
    pub max_connections: usize,
    /// Connections beyond `max_connections`, while none is idle, answering only `/health/*`.
    pub health_reserve: usize,
    /// How long a request body may send no data before the request fails.
    pub body_idle_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self { max_connections: 1024, health_reserve: 8, body_idle_timeout: Duration::from_secs(30) }
    }
}

impl Limits {
    /// The connection cap for an open-file limit of `nofile`: half of what remains after 64
    /// descriptors for the process (databases, logs), leaving the other half for what requests
    /// open besides their connection (a blob file, a backend connection), less the reserve.
    #[must_use]
    pub fn max_connections_for(nofile: u64, health_reserve: usize) -> usize {
        let usable = usize::try_from(nofile.saturating_sub(64) / 2).unwrap_or(usize::MAX);
        usable.saturating_sub(health_reserve).max(1)
    }
}

/// Everything a request may reach.
#[derive(Debug, Clone)]
pub struct Frontend {
    pub(crate) s3: S3Service,
    /// The S3 operations themselves, for the routes served before s3s (PostObject).
    pub(crate) gateway: crate::s3::Gateway,
    pub(crate) meta: Arc<dyn MetadataStore>,
    pub(crate) blobs: Arc<dyn BlobStore>,
    pub(crate) metrics: Arc<Metrics>,
    /// IAM, STS and account REST routes.
    pub(crate) api: Arc<crate::api::ApiRoutes>,
    /// Base domains of virtual-hosted-style requests.
    pub(crate) domains: crate::host::Domains,
    pub(crate) limits: Limits,
    /// Where share-link uses are recorded (events on).
    pub(crate) events: Option<crate::events::Events>,
    /// The keys of encryption at rest (ADR 0014), shared with the gateway.
    pub(crate) sse: Arc<cloudstore_sse::Keyring>,
    /// Share-link password guesses per link and client address.
    pub(crate) share_guesses: Arc<crate::shares::GuessLimiter>,
    /// Download links by token hash, briefly (the lookup each download starts with).
    pub(crate) share_links: Arc<crate::shares::LinkCache>,
    /// The public base URL of share links (`CLOUDSTORE_PUBLIC_URL`), without a trailing `/`.
    pub(crate) public_url: Option<String>,
}

/// The client's address, stored in request extensions.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub SocketAddr);

fn text(status: StatusCode, body: impl Into<String>) -> Response<Body> {
    let mut r = Response::new(Body::from(body.into()));
    *r.status_mut() = status;
    r.headers_mut().insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("text/plain; charset=utf-8"));
    r
}

impl Frontend {
    /// This frontend with the server `limits`.
    #[must_use]
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Answers one request.
    pub async fn handle(&self, mut req: Request<Body>, peer: Option<SocketAddr>) -> Response<Body> {
        let request_id = cloudstore_telemetry::new_request_id();
        let span = tracing::info_span!("request", %request_id, method = %req.method(), path = %req.uri().path());
        let started = Instant::now();
        if let Some(peer) = peer {
            req.extensions_mut().insert(ClientAddr(peer));
        }
        req.extensions_mut().insert(crate::events::RequestId(request_id.clone()));
        // Every body, whatever route reads it (S3, IAM/STS Query, REST), fails once idle.
        let (req, timed_out) = self.idle_timeout(req);
        let mut resp = async {
            match (req.method(), req.uri().path()) {
                (&http::Method::GET, "/health/live") => text(StatusCode::OK, "ok\n"),
                (&http::Method::GET, "/health/ready") => self.ready().await,
                (&http::Method::GET, "/metrics") => {
                    let mut r = text(StatusCode::OK, self.metrics.render());
                    r.headers_mut().insert(
                        http::header::CONTENT_TYPE,
                        http::HeaderValue::from_static("text/plain; version=0.0.4"),
                    );
                    r
                }
                // The S3 Control API's account-wide Block Public Access (ADR 0011), by path and
                // header, whatever the host (the SDKs put the account id in front of it).
                _ if crate::s3_control::is_control_request(&req) => self.s3_control(req).await,
                // The REST API's fixed CORS policy (ADR 0007): preflights answered here.
                (&http::Method::OPTIONS, path) if crate::api::is_rest_path(path) => {
                    crate::cors::rest_preflight(req.headers()).unwrap_or_else(|e| error_response(e.to_s3()))
                }
                // The platform's KMS keys (ADR 0014): the platform admin's, under the REST API.
                (_, path) if crate::kms::is_api_path(path) => self.kms_api(req, &request_id).await,
                // Share links (ADR 0010): managed under the REST API, with its CORS policy.
                (_, path) if crate::shares::is_api_path(path) => {
                    let origin = req.headers().contains_key(http::header::ORIGIN);
                    let mut resp = self.shares_api(req, &request_id).await;
                    if origin {
                        crate::cors::rest_headers(resp.headers_mut());
                    }
                    resp
                }
                // An upload link's file (ADR 0015): no credentials, the link is the key.
                (&http::Method::POST, path)
                    if let Some(token) = crate::shares::link_token(path)
                        && !req
                            .headers()
                            .get(http::header::HOST)
                            .and_then(|h| h.to_str().ok())
                            .is_some_and(|h| self.domains.names_bucket(h)) =>
                {
                    let token = token.to_owned();
                    self.drop_upload(req, &token).await
                }
                // A share link's download: no credentials, the link is the key. On a
                // virtual-hosted bucket's host, `/s/...` is that bucket's object key instead.
                (&http::Method::GET | &http::Method::HEAD | &http::Method::OPTIONS, path)
                    if let Some((token, file)) = crate::shares::link_path(path)
                        && !req
                            .headers()
                            .get(http::header::HOST)
                            .and_then(|h| h.to_str().ok())
                            .is_some_and(|h| self.domains.names_bucket(h)) =>
                {
                    // Their own fixed, read-only CORS policy (ADR 0010).
                    if req.method() == http::Method::OPTIONS {
                        crate::cors::share_preflight(req.headers()).unwrap_or_else(error_response)
                    } else {
                        let mut resp = self.share_link(&req, token, file).await;
                        if req.headers().contains_key(http::header::ORIGIN) {
                            crate::cors::share_headers(resp.headers_mut());
                        }
                        resp
                    }
                }
                _ if let Some(route) = crate::api::classify(&req) => match route {
                    crate::api::Route::Query(service) => self.api.query(service, req, &request_id).await,
                    crate::api::Route::Rest => {
                        let origin = req.headers().contains_key(http::header::ORIGIN);
                        let mut resp = self.api.rest(req, &request_id).await;
                        if origin {
                            crate::cors::rest_headers(resp.headers_mut());
                        }
                        resp
                    }
                },
                // Share links (`/s/{token}`, CORS included) are routed above (ADR 0010).
                // A bucket's CORS preflight: answered from its rules, never signed.
                (&http::Method::OPTIONS, _) => self.preflight(&req).await,
                // PostObject, before s3s, which would buffer the form's file before access
                // control runs (ADR 0015). The bucket's CORS rules apply, as to any S3 answer.
                _ if is_post_form(&req) => {
                    let cors = crate::cors::Ask::of(req.method(), req.headers())
                        .and_then(|ask| Some((ask, crate::cors::bucket_of(req.uri(), req.headers(), &self.domains)?)));
                    let mut resp = match self.post_object(req).await {
                        Ok(r) => r,
                        Err(_) if timed_out.as_ref().is_some_and(crate::body_timeout::TimedOut::get) => {
                            error_response(s3s::s3_error!(
                                RequestTimeout,
                                "Your socket connection to the server was not read from or written to within the timeout period."
                            ))
                        }
                        Err(e) => error_response(e),
                    };
                    if let Some((ask, bucket)) = cors {
                        self.cors_headers(&ask, &bucket, resp.headers_mut()).await;
                    }
                    resp
                }
                _ => {
                    // Only a request with `Origin` costs a bucket lookup (the bucket cache,
                    // which access control has just filled).
                    let cors = crate::cors::Ask::of(req.method(), req.headers())
                        .and_then(|ask| Some((ask, crate::cors::bucket_of(req.uri(), req.headers(), &self.domains)?)));
                    let attributes = is_get_object_attributes(&req);
                    // s3s never compares a whole-read body with its Content-MD5.
                    let (req, md5) = match content_md5_checked(req) {
                        Ok(checked) => checked,
                        Err(e) => return error_response(e),
                    };
                    let resp = match before_s3s(req, &self.domains) {
                        Err(e) => error_response(e),
                        Ok(req) => match self.s3.call(crate::chunk_limit::limit(req)).await {
                            Ok(r) => r,
                            Err(e) => {
                                tracing::error!(error = ?e, "s3 service failed");
                                text(StatusCode::INTERNAL_SERVER_ERROR, "internal error\n")
                            }
                        },
                    };
                    let resp = if attributes { unquote_attributes_etag(resp) } else { resp };
                    // However the operation reported its broken body (s3s: 500 for the
                    // bodies it reads whole), the client hears why.
                    let mut resp = match &timed_out {
                        Some(t) if t.get() && !resp.status().is_success() => error_response(s3s::s3_error!(
                            RequestTimeout,
                            "Your socket connection to the server was not read from or written to within the timeout period."
                        )),
                        _ if md5.as_ref().is_some_and(crate::content_md5::Mismatch::get) => error_response(
                            s3s::s3_error!(BadDigest, "The Content-MD5 you specified did not match what we received."),
                        ),
                        _ => resp,
                    };
                    if let Some((ask, bucket)) = cors {
                        self.cors_headers(&ask, &bucket, resp.headers_mut()).await;
                    }
                    resp
                }
            }
        }
        .instrument(span.clone())
        .await;
        let status = resp.status().as_u16();
        let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        self.metrics.count_response(status, micros);
        if let Ok(v) = http::HeaderValue::from_str(&request_id) {
            resp.headers_mut().insert("x-amz-request-id", v);
        }
        with_request_id(&mut resp, &request_id);
        span.in_scope(|| {
            if status >= 500 {
                tracing::warn!(status, micros, "request failed");
            } else {
                tracing::debug!(status, micros, "request done");
            }
        });
        resp
    }

    /// `req` with its body failing after [`Limits::body_idle_timeout`] without data; no
    /// wrapper for a request without a body.
    fn idle_timeout(&self, req: Request<Body>) -> (Request<Body>, Option<crate::body_timeout::TimedOut>) {
        if http_body::Body::is_end_stream(req.body()) {
            return (req, None);
        }
        let (parts, body) = req.into_parts();
        // Bodies read whole (XML of POST requests and of bucket PUTs; IAM and REST calls) hold
        // a share of a bounded budget: they must also arrive within a total time.
        // A POST form (PostObject, a file drop) streams its file: only the idle limit applies.
        let form = parts.method == http::Method::POST
            && !crate::api::is_rest_path(parts.uri.path())
            && crate::post_object::boundary(&parts.headers).is_some();
        let whole = (parts.method == http::Method::POST && !form)
            || (parts.method == http::Method::PUT
                && parts.uri.path().trim_start_matches('/').trim_end_matches('/').find('/').is_none());
        let total = whole.then_some(WHOLE_BODY_DEADLINE);
        let (body, flag) = crate::body_timeout::wrap(body, self.limits.body_idle_timeout, total);
        (Request::from_parts(parts, body), Some(flag))
    }

    /// A bucket's CORS preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`),
    /// answered from its rules without a signature, as AWS does.
    async fn preflight(&self, req: &Request<Body>) -> Response<Body> {
        let ask = match crate::cors::preflight_ask(req.headers()) {
            Ok(a) => a,
            Err(e) => return error_response(e.to_s3()),
        };
        let Some(bucket) = crate::cors::bucket_of(req.uri(), req.headers(), &self.domains) else {
            return error_response(crate::cors::not_enabled());
        };
        let info = match self.api.buckets.get(&bucket).await {
            Ok(Some(info)) => info,
            Ok(None) => return error_response(s3s::s3_error!(NoSuchBucket, "The specified bucket does not exist")),
            Err(e) => return error_response(crate::error::store_error(e)),
        };
        let Some(rules) = &info.cors else { return error_response(crate::cors::not_enabled()) };
        let Some(rule) = rules.find(&ask.origin, ask.method.as_deref().unwrap_or(""), &ask.headers) else {
            return error_response(crate::cors::not_allowed());
        };
        let mut resp = Response::new(Body::empty());
        ask.apply(rule, resp.headers_mut());
        resp
    }

    /// The `Access-Control-*` headers of the bucket's first rule matching `ask`, if any; a
    /// bucket without rules (or that cannot be read now) gets none.
    async fn cors_headers(&self, ask: &crate::cors::Ask, bucket: &str, out: &mut http::HeaderMap) {
        let info = match self.api.buckets.get(bucket).await {
            Ok(Some(info)) => info,
            Ok(None) => return,
            Err(e) => {
                tracing::debug!(error = %e, "bucket lookup for CORS headers failed");
                return;
            }
        };
        if let Some(rule) =
            info.cors.as_ref().and_then(|r| r.find(&ask.origin, ask.method.as_deref().unwrap_or(""), &ask.headers))
        {
            ask.apply(rule, out);
        }
    }

    async fn ready(&self) -> Response<Body> {
        let (m, b, i) = tokio::join!(self.meta.ping(), self.blobs.ping(), self.api.keys.iam().ready());
        match (m, b) {
            (Ok(()), Ok(())) if i.is_ok() => text(StatusCode::OK, "ready\n"),
            (m, b) => {
                let mut why = String::new();
                if let Err(e) = i {
                    why.push_str(&format!("{e}\n"));
                }
                if let Err(e) = m {
                    why.push_str(&format!("metadata store: {e}\n"));
                }
                if let Err(e) = b {
                    why.push_str(&format!("blob store: {e}\n"));
                }
                text(StatusCode::SERVICE_UNAVAILABLE, why)
            }
        }
    }
}

/// A PutBucketCors body checked against its `Content-MD5` as s3s reads it (the flag says
/// whether it failed); other requests as they are.
fn content_md5_checked(
    req: Request<Body>,
) -> Result<(Request<Body>, Option<crate::content_md5::Mismatch>), s3s::S3Error> {
    if !crate::content_md5::is_put_bucket_cors(&req) {
        return Ok((req, None));
    }
    let Some(header) = req.headers().get("content-md5").map(|v| v.to_str().unwrap_or("?").to_owned()) else {
        return Ok((req, None));
    };
    let (parts, body) = req.into_parts();
    let (body, flag) = crate::content_md5::wrap(body, &header)?;
    Ok((Request::from_parts(parts, body), Some(flag)))
}

/// An S3 error answered here, before s3s, serialized by s3s as it serializes its own.
fn error_response(e: s3s::S3Error) -> Response<Body> {
    e.to_http_response().unwrap_or_else(|_| text(StatusCode::INTERNAL_SERVER_ERROR, "internal error\n"))
}

/// A POST with a `multipart/form-data` body, recognised exactly as s3s recognises a PostObject
/// form (whatever the path): the one `Content-Type` header that is UTF-8 (s3s ignores others),
/// parsed as a MIME type. A form is never an operation we implement.
fn is_post_form(req: &Request<Body>) -> bool {
    if req.method() != http::Method::POST {
        return false;
    }
    let mut values =
        req.headers().get_all(http::header::CONTENT_TYPE).iter().filter_map(|v| std::str::from_utf8(v.as_bytes()).ok());
    let (Some(value), None) = (values.next(), values.next()) else { return false };
    value.parse::<mime::Mime>().is_ok_and(|m| m.type_() == mime::MULTIPART && m.subtype() == mime::FORM_DATA)
}

/// What the request needs before s3s reads it: its `Content-Encoding` lines joined, a SigV2
/// presigned URL's session token given as the header it was signed as, and the time of a
/// SigV4 request dated by `Date` alone given as `x-amz-date`. A SigV2
/// header-signed request is refused here when its date is missing or off (s3s would answer
/// SignatureDoesNotMatch first), and a path-style bucket path gets the trailing `/` SigV2
/// clients sign (`/bucket/`; s3s signs the path as sent).
fn before_s3s(req: Request<Body>, domains: &crate::host::Domains) -> Result<Request<Body>, s3s::S3Error> {
    let mut req = crate::signed::v2_query_token_as_header(merge_content_encoding(req));
    // An empty Authorization header carries no credentials: the request is anonymous, as on
    // AWS (403 unless a bucket policy grants it), not malformed.
    if req.headers().get_all(http::header::AUTHORIZATION).iter().all(|v| v.as_bytes().trim_ascii().is_empty()) {
        req.headers_mut().remove(http::header::AUTHORIZATION);
    }
    crate::signed::amz_date_from_date(&mut req);
    if crate::signed::is_v2_header_auth(req.headers()) {
        crate::signed::v2_date_fresh(req.headers(), time::OffsetDateTime::now_utc())?;
        let virtual_host = req
            .headers()
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .is_some_and(|h| domains.names_bucket(h));
        if !virtual_host {
            v2_bucket_path(&mut req);
        }
    }
    Ok(req)
}

/// `/bucket` → `/bucket/` (path-style, one segment, no `/` after it), the resource SigV2
/// clients sign for a bucket: botocore and s3cmd sign `/bucket/` whatever path they send.
fn v2_bucket_path(req: &mut Request<Body>) {
    let path = req.uri().path();
    if path.len() < 2 || path[1..].contains('/') {
        return;
    }
    let pq = match req.uri().query() {
        Some(q) => format!("{path}/?{q}"),
        None => format!("{path}/"),
    };
    let mut parts = req.uri().clone().into_parts();
    if let Ok(pq) = pq.parse() {
        parts.path_and_query = Some(pq);
        if let Ok(uri) = http::Uri::from_parts(parts) {
            *req.uri_mut() = uri;
        }
    }
}

/// `GET /bucket/key?attributes`: GetObjectAttributes.
fn is_get_object_attributes(req: &Request<Body>) -> bool {
    req.method() == http::Method::GET
        && req.uri().query().is_some_and(|q| q.split('&').any(|p| p == "attributes" || p.starts_with("attributes=")))
}

/// AWS writes GetObjectAttributes' `ETag` without quotes (unlike every other ETag); s3s
/// always quotes it, so the answer's one top-level `<ETag>"…"</ETag>` loses its quotes here.
fn unquote_attributes_etag(mut resp: Response<Body>) -> Response<Body> {
    if resp.status() != StatusCode::OK {
        return resp;
    }
    let Some(bytes) = resp.body().bytes() else { return resp };
    let Ok(text) = std::str::from_utf8(&bytes) else { return resp };
    if !text.contains("<GetObjectAttributesResponse") {
        return resp;
    }
    let Some(start) = text.find("<ETag>\"") else { return resp };
    let value_start = start + "<ETag>\"".len();
    let Some(len) = text[value_start..].find("\"</ETag>") else { return resp };
    let out = format!(
        "{}<ETag>{}</ETag>{}",
        &text[..start],
        &text[value_start..value_start + len],
        &text[value_start + len + "\"</ETag>".len()..]
    );
    if resp.headers().contains_key(http::header::CONTENT_LENGTH) {
        resp.headers_mut().insert(http::header::CONTENT_LENGTH, http::HeaderValue::from(out.len()));
    }
    *resp.body_mut() = Body::from(out);
    resp
}

/// An error answer made by s3s carries no `RequestId` in its XML: the one in the
/// `x-amz-request-id` header is added, so the body and the header name the same request.
fn with_request_id(resp: &mut Response<Body>, request_id: &str) {
    let xml =
        resp.headers().get(http::header::CONTENT_TYPE).is_some_and(|v| v.as_bytes().starts_with(b"application/xml"));
    if resp.status().as_u16() < 300 || !xml {
        return;
    }
    let Some(bytes) = resp.body().bytes() else { return };
    let Some(at) = bytes.windows(8).rposition(|w| w == b"</Error>") else { return };
    if bytes.windows(11).any(|w| w == b"<RequestId>") {
        return;
    }
    let mut out = Vec::with_capacity(bytes.len() + request_id.len() + 23);
    out.extend_from_slice(&bytes[..at]);
    out.extend_from_slice(b"<RequestId>");
    out.extend_from_slice(request_id.as_bytes());
    out.extend_from_slice(b"</RequestId>");
    out.extend_from_slice(&bytes[at..]);
    if resp.headers().contains_key(http::header::CONTENT_LENGTH) {
        resp.headers_mut().insert(http::header::CONTENT_LENGTH, http::HeaderValue::from(out.len()));
    }
    *resp.body_mut() = Body::from(bytes::Bytes::from(out));
}

/// Joins repeated `Content-Encoding` lines into one comma-separated value (RFC 9110 §5.3: the
/// same field). aws-sdk-rust sends `Content-Encoding: gzip` and `Content-Encoding: aws-chunked`
/// as two lines for a streamed upload with an encoding, and s3s refuses repeated headers.
/// SigV4 canonicalises both forms alike (values joined by commas), so signatures still match.
fn merge_content_encoding(mut req: Request<Body>) -> Request<Body> {
    let headers = req.headers_mut();
    if headers.get_all(http::header::CONTENT_ENCODING).iter().nth(1).is_none() {
        return req;
    }
    let joined: Vec<&str> =
        headers.get_all(http::header::CONTENT_ENCODING).iter().filter_map(|v| v.to_str().ok()).map(str::trim).collect();
    if let Ok(v) = http::HeaderValue::from_str(&joined.join(",")) {
        headers.insert(http::header::CONTENT_ENCODING, v);
    }
    req
}

/// One open connection: requests in flight, when it was last active, and how to close it.
#[derive(Debug)]
struct Conn {
    in_flight: AtomicUsize,
    /// Milliseconds since the registry's start at the last request's start or end.
    last_active: AtomicU64,
    /// Cancelled to close the connection gracefully (after a request in flight).
    close: CancellationToken,
    /// Cancelled to drop the connection at once (a response its client stopped reading).
    abort: CancellationToken,
    /// Responses streaming on it (their bodies count as in flight too).
    streaming: AtomicUsize,
}

impl Conn {
    fn new(now: u64, close: CancellationToken) -> Self {
        Self {
            in_flight: AtomicUsize::new(0),
            last_active: AtomicU64::new(now),
            close,
            abort: CancellationToken::new(),
            streaming: AtomicUsize::new(0),
        }
    }
}

/// The open connections, for the cap and for shedding idle ones.
#[derive(Debug)]
struct Conns {
    start: Instant,
    open: Mutex<HashMap<u64, Arc<Conn>>>,
    next_id: AtomicU64,
    /// Connections served from the health reserve.
    reserve: AtomicUsize,
}

impl Conns {
    fn now(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn len(&self) -> usize {
        self.open.lock().map_or(0, |m| m.len())
    }

    fn add(&self, close: CancellationToken) -> (u64, Arc<Conn>) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let conn = Arc::new(Conn::new(self.now(), close));
        if let Ok(mut m) = self.open.lock() {
            m.insert(id, conn.clone());
        }
        (id, conn)
    }

    fn remove(&self, id: u64) {
        if let Ok(mut m) = self.open.lock() {
            m.remove(&id);
        }
    }

    /// Closes the longest-idle connection (none in flight) and forgets it at once; else drops
    /// one whose streaming response its client has not read for `stalled` (a reader that
    /// stopped would hold its connection forever). Whether there was one.
    fn shed_idle(&self, stalled: Duration) -> bool {
        let Ok(mut m) = self.open.lock() else { return false };
        let idle = m
            .iter()
            .filter(|(_, c)| c.in_flight.load(Ordering::Acquire) == 0)
            .min_by_key(|(id, c)| (c.last_active.load(Ordering::Relaxed), **id))
            .map(|(id, _)| *id);
        if let Some(c) = idle.and_then(|id| m.remove(&id)) {
            c.close.cancel();
            return true;
        }
        let before = self.now().saturating_sub(u64::try_from(stalled.as_millis()).unwrap_or(u64::MAX));
        let stuck = m
            .iter()
            .filter(|(_, c)| {
                c.streaming.load(Ordering::Acquire) > 0
                    && c.in_flight.load(Ordering::Acquire) == c.streaming.load(Ordering::Acquire)
                    && c.last_active.load(Ordering::Relaxed) < before
            })
            .min_by_key(|(id, c)| (c.last_active.load(Ordering::Relaxed), **id))
            .map(|(id, _)| *id);
        match stuck.and_then(|id| m.remove(&id)) {
            Some(c) => {
                tracing::info!("connection limit reached; dropping a connection whose client stopped reading");
                c.abort.cancel();
                true
            }
            None => false,
        }
    }
}

/// Marks a request in flight on its connection until dropped (with the response body).
struct InFlight {
    conns: Arc<Conns>,
    conn: Arc<Conn>,
}

impl InFlight {
    fn enter(conns: &Arc<Conns>, conn: &Arc<Conn>) -> Self {
        conn.in_flight.fetch_add(1, Ordering::AcqRel);
        conn.last_active.store(conns.now(), Ordering::Relaxed);
        Self { conns: conns.clone(), conn: conn.clone() }
    }

    /// The client read more of the response.
    fn touch(&self) {
        self.conn.last_active.store(self.conns.now(), Ordering::Relaxed);
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.conn.last_active.store(self.conns.now(), Ordering::Relaxed);
        self.conn.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A streamed response body that keeps its request in flight until it ends, and records
/// when its client last took data (hyper asks for more only once the last is written).
struct Guarded {
    inner: Body,
    in_flight: InFlight,
}

impl Guarded {
    fn new(inner: Body, in_flight: InFlight) -> Self {
        in_flight.conn.streaming.fetch_add(1, Ordering::AcqRel);
        Self { inner, in_flight }
    }
}

impl Drop for Guarded {
    fn drop(&mut self) {
        self.in_flight.conn.streaming.fetch_sub(1, Ordering::AcqRel);
    }
}

impl http_body::Body for Guarded {
    type Data = Bytes;
    type Error = s3s::StdError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        self.in_flight.touch();
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The longest a body read whole (XML, IAM and REST calls; at most 8 MiB) may take to arrive.
const WHOLE_BODY_DEADLINE: Duration = Duration::from_secs(60);

/// How long a reserve connection may take to send its request's headers: the reserve is for
/// health checks, which send theirs at once.
const RESERVE_HEADER_TIMEOUT: Duration = Duration::from_secs(2);

/// The requests a reserve connection answers: exactly `GET /health/live` and `/health/ready`.
fn is_health_check<B>(req: &Request<B>) -> bool {
    req.method() == http::Method::GET && matches!(req.uri().path(), "/health/live" | "/health/ready")
}

/// The pause after the `failures`-th accept error in a row: 10 ms doubling up to 1 s.
fn accept_backoff(failures: u32) -> Duration {
    Duration::from_millis(10u64 << failures.min(7)).min(Duration::from_secs(1))
}

/// How a connection is served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Admission {
    Full,
    HealthOnly,
}

/// Serves `frontend` on `listener` until `shutdown` is cancelled, then drains.
pub async fn serve(listener: TcpListener, frontend: Arc<Frontend>, shutdown: CancellationToken) {
    let limits = frontend.limits;
    let conns = Arc::new(Conns {
        start: Instant::now(),
        open: Mutex::new(HashMap::new()),
        next_id: AtomicU64::new(0),
        reserve: AtomicUsize::new(0),
    });
    let tasks = TaskTracker::new();
    let mut failures = 0u32;
    loop {
        let (stream, peer) = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    failures = failures.saturating_add(1);
                    if failures == 1 {
                        tracing::warn!(error = %e, "accept failed; closing an idle connection and backing off");
                    }
                    // Out of descriptors (EMFILE/ENFILE) or not: an idle connection frees one.
                    conns.shed_idle(limits.body_idle_timeout);
                    tokio::time::sleep(accept_backoff(failures)).await;
                    continue;
                }
            },
        };
        if failures > 0 {
            tracing::info!(failures, "accepting connections again");
            failures = 0;
        }
        let admission = if conns.len() < limits.max_connections || conns.shed_idle(limits.body_idle_timeout) {
            Admission::Full
        } else if conns.reserve.fetch_add(1, Ordering::AcqRel) < limits.health_reserve {
            Admission::HealthOnly
        } else {
            conns.reserve.fetch_sub(1, Ordering::AcqRel);
            tracing::debug!(%peer, "connection limit reached; connection refused");
            continue;
        };
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!(error = %e, "set_nodelay failed");
        }
        let close = shutdown.child_token();
        let (id, conn) = match admission {
            Admission::Full => conns.add(close.clone()),
            Admission::HealthOnly => (u64::MAX, Arc::new(Conn::new(0, close.clone()))),
        };
        let abort = conn.abort.clone();
        let fe = frontend.clone();
        let svc_conns = conns.clone();
        let svc = service_fn(move |req: Request<Incoming>| {
            let fe = fe.clone();
            let in_flight = InFlight::enter(&svc_conns, &conn);
            async move {
                if admission == Admission::HealthOnly && !is_health_check(&req) {
                    return Ok::<_, Infallible>(error_response(s3s::s3_error!(
                        SlowDown,
                        "Please reduce your request rate."
                    )));
                }
                let resp = fe.handle(req.map(Body::from), Some(peer)).await;
                // A body still to stream keeps the request in flight until it ends.
                Ok(if resp.body().bytes().is_some() {
                    resp
                } else {
                    resp.map(|inner| Body::http_body_unsync(Guarded::new(inner, in_flight)))
                })
            }
        });
        let conn = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(if admission == Admission::Full {
                HEADER_READ_TIMEOUT
            } else {
                RESERVE_HEADER_TIMEOUT
            })
            .keep_alive(admission == Admission::Full)
            .serve_connection(TokioIo::new(stream), svc);
        let conns = conns.clone();
        tasks.spawn(async move {
            let mut conn = std::pin::pin!(conn);
            let result = tokio::select! {
                r = conn.as_mut() => r,
                () = abort.cancelled() => Ok(()),
                () = close.cancelled() => {
                    conn.as_mut().graceful_shutdown();
                    tokio::select! {
                        r = conn.as_mut() => r,
                        () = abort.cancelled() => Ok(()),
                    }
                }
            };
            if let Err(e) = result {
                tracing::debug!(error = %e, "connection ended with an error");
            }
            match admission {
                Admission::Full => conns.remove(id),
                Admission::HealthOnly => {
                    conns.reserve.fetch_sub(1, Ordering::AcqRel);
                }
            }
        });
    }
    tasks.close();
    tokio::select! {
        () = tasks.wait() => tracing::info!("all connections drained"),
        () = tokio::time::sleep(DRAIN_DEADLINE) => tracing::warn!("drain deadline passed; closing remaining connections"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_connection_cap_stays_below_the_file_limit() {
        assert_eq!(Limits::max_connections_for(256, 8), 88);
        assert!(Limits::max_connections_for(1024, 8) + 8 < 1024 / 2);
        assert_eq!(Limits::max_connections_for(10, 8), 1);
    }

    #[test]
    fn accept_errors_back_off() {
        assert_eq!(accept_backoff(1), Duration::from_millis(20));
        assert_eq!(accept_backoff(50), Duration::from_secs(1));
    }
}

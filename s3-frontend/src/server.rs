//! The public HTTP port: accepts connections (TCP_NODELAY on each), gives every request an id
//! and a tracing span, answers `/health/*` and `/metrics` itself and hands everything else to
//! the s3s service. Shuts down gracefully: stops accepting, lets requests in flight finish
//! for up to [`DRAIN_DEADLINE`].

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cloudstore_store_api::{BlobStore, MetadataStore};
use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use s3s::Body;
use s3s::service::S3Service;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;

use crate::metrics::Metrics;

/// How long in-flight requests may run after shutdown starts.
pub const DRAIN_DEADLINE: Duration = Duration::from_secs(10);

/// Everything a request may reach.
#[derive(Debug, Clone)]
pub struct Frontend {
    pub(crate) s3: S3Service,
    pub(crate) meta: Arc<dyn MetadataStore>,
    pub(crate) blobs: Arc<dyn BlobStore>,
    pub(crate) metrics: Arc<Metrics>,
    /// IAM, STS and account REST routes.
    pub(crate) api: Arc<crate::api::ApiRoutes>,
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
    /// Answers one request.
    pub async fn handle(&self, mut req: Request<Body>, peer: Option<SocketAddr>) -> Response<Body> {
        let request_id = cloudstore_telemetry::new_request_id();
        let span = tracing::info_span!("request", %request_id, method = %req.method(), path = %req.uri().path());
        let started = Instant::now();
        if let Some(peer) = peer {
            req.extensions_mut().insert(ClientAddr(peer));
        }
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
                _ if let Some(route) = crate::api::classify(&req) => match route {
                    crate::api::Route::Query(service) => self.api.query(service, req, &request_id).await,
                    crate::api::Route::Rest => self.api.rest(req, &request_id).await,
                },
                // Before s3s, which would buffer the form's file (PostObject) before access
                // control runs: we do not implement PostObject, so its body is never read.
                _ if is_post_form(&req) => {
                    error_response(s3s::s3_error!(NotImplemented, "POST form uploads (PostObject) are not supported."))
                }
                _ => match self.s3.call(crate::chunk_limit::limit(before_s3s(req))).await {
                    Ok(r) => r,
                    Err(e) => {
                        tracing::error!(error = ?e, "s3 service failed");
                        text(StatusCode::INTERNAL_SERVER_ERROR, "internal error\n")
                    }
                },
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
        span.in_scope(|| {
            if status >= 500 {
                tracing::warn!(status, micros, "request failed");
            } else {
                tracing::debug!(status, micros, "request done");
            }
        });
        resp
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

/// What the request needs before s3s reads it: its `Content-Encoding` lines joined, and a
/// SigV2 presigned URL's session token given as the header it was signed as.
fn before_s3s(req: Request<Body>) -> Request<Body> {
    crate::signed::v2_query_token_as_header(merge_content_encoding(req))
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

/// Serves `frontend` on `listener` until `shutdown` is cancelled, then drains.
pub async fn serve(listener: TcpListener, frontend: Arc<Frontend>, shutdown: CancellationToken) {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    loop {
        let (stream, peer) = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!(error = %e, "set_nodelay failed");
        }
        let fe = frontend.clone();
        let svc = service_fn(move |req: Request<Incoming>| {
            let fe = fe.clone();
            async move { Ok::<_, Infallible>(fe.handle(req.map(Body::from), Some(peer)).await) }
        });
        let conn = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(Duration::from_secs(30))
            .keep_alive(true)
            .serve_connection(TokioIo::new(stream), svc);
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
    tokio::select! {
        () = graceful.shutdown() => tracing::info!("all connections drained"),
        () = tokio::time::sleep(DRAIN_DEADLINE) => tracing::warn!("drain deadline passed; closing remaining connections"),
    }
}

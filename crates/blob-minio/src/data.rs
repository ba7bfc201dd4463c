//! The data path: object bytes moved by [`cloudstore_s3_client`], streaming both ways.
//!
//! A blob of known size up to [`MAX_SINGLE_PUT`] is one streaming PutObject whose body is the
//! incoming body itself, checked against the declared size on the way ([`UploadBody`]); a get
//! is one GetObject whose response body is handed on as it arrives. Nothing is buffered but
//! the chunk in flight. See ADR 0005 for why this path does not go through the `minio` crate.

use std::io;
use std::ops::Range;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use cloudstore_s3_client::{Call, Config, Error as ClientError, S3Client, read_small};
use cloudstore_store_api::{ByteStream, Result, StoreError};
use futures::{StreamExt, TryStreamExt};
use http::{HeaderValue, Method, StatusCode};
use http_body::{Frame, SizeHint};
use http_body_util::BodyDataStream;
use tokio::sync::oneshot;

/// The largest blob sent as one PutObject (the S3 limit); larger ones go multipart.
pub(crate) const MAX_SINGLE_PUT: u64 = 5 * 1024 * 1024 * 1024;

/// A request body: nothing, or an upload streamed from the client.
#[derive(Debug)]
pub(crate) enum Payload {
    Empty,
    Upload(UploadBody),
}

/// Streams a [`ByteStream`] of exactly `declared` bytes; anything else fails the request
/// (hyper then drops the connection, and the backend never completes the object).
pub(crate) struct UploadBody {
    stream: ByteStream,
    declared: u64,
    sent: u64,
    /// The chunk that completed the declared size, sent once the stream has ended.
    held: Option<Bytes>,
    /// The stream has ended cleanly (and `held` was handed out).
    finished: bool,
    /// Fired when the whole body has been handed to hyper: the response timeout starts then.
    done: Option<oneshot::Sender<()>>,
    /// What the stall watchdog of [`DataClient::put`] looks at.
    progress: Arc<Progress>,
}

/// Whether an upload waits on the backend (hyper holds data it cannot send) and since when.
#[derive(Debug)]
struct Progress {
    origin: Instant,
    /// Milliseconds from `origin` to when the last chunk was handed to hyper.
    handed_at_ms: AtomicU64,
    /// A chunk was handed to hyper and hyper has not asked for the next one yet.
    waiting_on_backend: AtomicBool,
}

impl Progress {
    fn new() -> Self {
        Progress { origin: Instant::now(), handed_at_ms: AtomicU64::new(0), waiting_on_backend: AtomicBool::new(false) }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn handed(&self) {
        self.handed_at_ms.store(self.now_ms(), Ordering::Relaxed);
        self.waiting_on_backend.store(true, Ordering::Relaxed);
    }

    /// How long the backend has left data unsent, if it is what the upload waits on.
    fn backend_stall(&self) -> Option<Duration> {
        self.waiting_on_backend
            .load(Ordering::Relaxed)
            .then(|| Duration::from_millis(self.now_ms().saturating_sub(self.handed_at_ms.load(Ordering::Relaxed))))
    }
}

impl std::fmt::Debug for UploadBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UploadBody").field("declared", &self.declared).field("sent", &self.sent).finish()
    }
}

impl http_body::Body for Payload {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<io::Result<Frame<Bytes>>>> {
        let body = match self.get_mut() {
            Payload::Empty => return Poll::Ready(None),
            Payload::Upload(b) => b,
        };
        if body.finished {
            return Poll::Ready(None);
        }
        // Asked again: hyper has sent what it had.
        body.progress.waiting_on_backend.store(false, Ordering::Relaxed);
        loop {
            return match body.stream.as_mut().poll_next(cx) {
                Poll::Pending => Poll::Pending,
                Poll::Ready(Some(Ok(chunk))) if chunk.is_empty() => continue,
                Poll::Ready(Some(Ok(chunk))) => {
                    body.sent += chunk.len() as u64;
                    if body.sent > body.declared {
                        return Poll::Ready(Some(Err(invalid_input(format!(
                            "body is longer than the declared {} bytes",
                            body.declared
                        )))));
                    }
                    if body.sent == body.declared {
                        // Hold the last bytes back until the body has ended cleanly: hyper
                        // stops reading once it has sent Content-Length bytes, and a body
                        // that fails after that (a bad trailing checksum) must fail the put.
                        body.held = Some(chunk);
                        continue;
                    }
                    body.progress.handed();
                    Poll::Ready(Some(Ok(Frame::data(chunk))))
                }
                Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e))),
                Poll::Ready(None) if body.sent != body.declared => Poll::Ready(Some(Err(invalid_input(format!(
                    "body ended after {} of the declared {} bytes",
                    body.sent, body.declared
                ))))),
                Poll::Ready(None) => {
                    body.finished = true;
                    if let Some(done) = body.done.take() {
                        let _ = done.send(());
                    }
                    body.progress.handed();
                    Poll::Ready(body.held.take().map(|c| Ok(Frame::data(c))))
                }
            };
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self, Payload::Empty)
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Payload::Empty => SizeHint::with_exact(0),
            Payload::Upload(b) => SizeHint::with_exact(b.declared.saturating_sub(b.sent)),
        }
    }
}

/// Object bytes in one backend bucket.
#[derive(Debug)]
pub(crate) struct DataClient {
    client: S3Client<Payload>,
    bucket: String,
    timeout: Duration,
}

impl DataClient {
    pub(crate) fn new(
        endpoint: &str,
        access_key: &str,
        secret_key: &str,
        region: &str,
        bucket: &str,
        timeout: Duration,
    ) -> Result<Self> {
        let cfg = Config::new(endpoint, access_key, secret_key).region(region).max_idle(256);
        let client = S3Client::new(&cfg).map_err(map_err)?;
        Ok(DataClient { client, bucket: bucket.to_owned(), timeout })
    }

    /// Streams exactly `size` bytes of `body` into `key` as one PutObject.
    pub(crate) async fn put(&self, key: &str, mut body: ByteStream, size: u64) -> Result<()> {
        if size == 0 {
            // hyper never polls a body declared empty: check it here, then send none.
            while let Some(chunk) = body.next().await {
                if !chunk.map_err(StoreError::backend)?.is_empty() {
                    return Err(invalid("body is longer than the declared 0 bytes".into()));
                }
            }
            let req = self
                .client
                .request(&Call::new(Method::PUT, &self.bucket, key).content_length(0), Payload::Empty)
                .map_err(map_err)?;
            let resp = self.timed(self.client.send_ok(req)).await?;
            return read_small(resp).await.map(drop).map_err(map_err);
        }
        let (done, body_sent) = oneshot::channel();
        let progress = Arc::new(Progress::new());
        let payload = Payload::Upload(UploadBody {
            stream: body,
            declared: size,
            sent: 0,
            held: None,
            finished: false,
            done: Some(done),
            progress: progress.clone(),
        });
        let req = self
            .client
            .request(&Call::new(Method::PUT, &self.bucket, key).content_length(size), payload)
            .map_err(map_err)?;
        let send = self.client.send_ok(req);
        tokio::pin!(send);
        // Neither timeout covers the client's own pace (a slow client may take long; a
        // stalled one is its connection's business): one starts once the body is sent, the
        // other fires when the backend has left data unsent for as long.
        let stalled = async {
            loop {
                tokio::time::sleep(self.timeout / 4).await;
                if progress.backend_stall().is_some_and(|d| d > self.timeout) {
                    return;
                }
            }
        };
        let resp = tokio::select! {
            r = &mut send => r,
            _ = body_sent => match tokio::time::timeout(self.timeout, &mut send).await {
                Ok(r) => r,
                Err(_) => return Err(self.timed_out()),
            },
            () = stalled => return Err(self.timed_out()),
        }
        .map_err(map_err)?;
        read_small(resp).await.map_err(map_err)?;
        Ok(())
    }

    /// Reads `key`, or its bytes `range` (not empty), as a stream.
    pub(crate) async fn get(&self, key: &str, range: Option<&Range<u64>>) -> Result<ByteStream> {
        let mut headers = Vec::new();
        if let Some(r) = range {
            let value = format!("bytes={}-{}", r.start, r.end - 1);
            headers.push((http::header::RANGE, HeaderValue::try_from(value).map_err(StoreError::backend)?));
        }
        let req = self
            .client
            .request(&Call::new(Method::GET, &self.bucket, key).headers(&headers), Payload::Empty)
            .map_err(map_err)?;
        let resp = self.timed(self.client.send_ok(req)).await?;
        let want = match range {
            Some(r) => {
                if resp.status() != StatusCode::PARTIAL_CONTENT {
                    return Err(invalid(format!("asked for bytes {r:?} of {key}, got HTTP {}", resp.status())));
                }
                Some(r.end - r.start)
            }
            None => None,
        };
        let len = content_length(&resp);
        if let (Some(want), Some(len)) = (want, len)
            && want != len
        {
            // S3 clips a range that runs past the end; we do not.
            return Err(invalid(format!("range {range:?} is outside blob {key} ({len} bytes returned)")));
        }
        // hyper fails the body if the connection ends before Content-Length bytes arrived.
        Ok(Box::pin(BodyDataStream::new(resp.into_body()).map_err(io::Error::other)))
    }

    /// The size of `key`.
    pub(crate) async fn size(&self, key: &str) -> Result<u64> {
        let req = self.client.request(&Call::new(Method::HEAD, &self.bucket, key), Payload::Empty).map_err(map_err)?;
        let resp = self.timed(self.client.send(req)).await?;
        if !resp.status().is_success() {
            // A HEAD answer has no body to carry a code.
            let code = if resp.status() == StatusCode::NOT_FOUND { "NoSuchKey" } else { "" };
            return Err(map_err(ClientError::Status {
                status: resp.status(),
                code: code.into(),
                message: String::new(),
            }));
        }
        content_length(&resp).ok_or_else(|| invalid(format!("HEAD {key}: no Content-Length")))
    }

    /// Deletes `key`; a missing key is fine.
    pub(crate) async fn delete(&self, key: &str) -> Result<()> {
        let req =
            self.client.request(&Call::new(Method::DELETE, &self.bucket, key), Payload::Empty).map_err(map_err)?;
        match self.timed(self.client.send_ok(req)).await {
            Ok(resp) => read_small(resp).await.map(drop).map_err(map_err),
            Err(StoreError::BlobNotFound) => Ok(()),
            Err(e) => Err(e),
        }
    }

    async fn timed<T>(&self, fut: impl Future<Output = std::result::Result<T, ClientError>>) -> Result<T> {
        match tokio::time::timeout(self.timeout, fut).await {
            Ok(r) => r.map_err(map_err),
            Err(_) => Err(self.timed_out()),
        }
    }

    fn timed_out(&self) -> StoreError {
        StoreError::unavailable(io::Error::new(
            io::ErrorKind::TimedOut,
            format!("no answer from the S3 backend within {:?}", self.timeout),
        ))
    }
}

fn content_length(resp: &http::Response<hyper::body::Incoming>) -> Option<u64> {
    resp.headers().get(http::header::CONTENT_LENGTH)?.to_str().ok()?.parse().ok()
}

pub(crate) fn invalid(msg: String) -> StoreError {
    StoreError::backend(invalid_input(msg))
}

fn invalid_input(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

/// Maps a client error: not found, unavailable (retry later), or a backend failure.
pub(crate) fn map_err(e: ClientError) -> StoreError {
    if e.is_not_found() {
        StoreError::BlobNotFound
    } else if e.is_unavailable() {
        StoreError::unavailable(e)
    } else {
        StoreError::backend(e)
    }
}

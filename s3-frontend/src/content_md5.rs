//! `Content-MD5` of a configuration body s3s reads whole (PutBucketCors): s3s parses the header
//! but never compares it. The body is wrapped in [`Md5Body`], which hashes it as s3s reads it
//! (after access control, like any whole-read body) and fails at its end on a mismatch; the
//! server then answers 400 BadDigest, as AWS does, and the operation never ran.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Frame, SizeHint};
use s3s::Body;
use s3s::crypto::{Checksum as _, Md5};

/// Whether the body did not match its `Content-MD5`.
#[derive(Debug, Clone, Default)]
pub struct Mismatch(Arc<AtomicBool>);

impl Mismatch {
    /// Whether it did not match.
    #[must_use]
    pub fn get(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// Whether `req` is a PutBucketCors (`PUT` with the `cors` sub-resource).
#[must_use]
pub fn is_put_bucket_cors<B>(req: &http::Request<B>) -> bool {
    req.method() == http::Method::PUT
        && req.uri().query().is_some_and(|q| q.split('&').any(|p| p == "cors" || p.starts_with("cors=")))
}

/// `body` checked against the `Content-MD5` value `header` (400 InvalidDigest when it is not
/// base64 of 16 bytes), and the flag set on a mismatch.
pub fn wrap(body: Body, header: &str) -> Result<(Body, Mismatch), s3s::S3Error> {
    let expected = crate::s3::checksum::parse_content_md5(header)?;
    let flag = Mismatch::default();
    let wrapped = Md5Body { inner: body, hasher: Some(Md5::new()), expected, mismatch: flag.clone() };
    Ok((Body::http_body_unsync(wrapped), flag))
}

/// The checking body.
struct Md5Body {
    inner: Body,
    /// `None` once the end was checked.
    hasher: Option<Md5>,
    expected: [u8; 16],
    mismatch: Mismatch,
}

impl http_body::Body for Md5Body {
    type Data = Bytes;
    type Error = s3s::StdError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let (Some(h), Some(data)) = (this.hasher.as_mut(), frame.data_ref()) {
                    h.update(data);
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(None) => {
                if this.hasher.take().is_some_and(|h| h.finalize() != this.expected) {
                    this.mismatch.0.store(true, Ordering::Relaxed);
                    return Poll::Ready(Some(Err("the body does not match its Content-MD5".into())));
                }
                Poll::Ready(None)
            }
            other => other,
        }
    }

    fn is_end_stream(&self) -> bool {
        // Not before its end was checked.
        self.hasher.is_none() && self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt as _;

    fn md5_b64(data: &[u8]) -> String {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(Md5::checksum(data))
    }

    #[tokio::test]
    async fn matching_bodies_pass_and_others_fail() {
        let (body, flag) = wrap(Body::from("<CORSConfiguration/>".to_owned()), &md5_b64(b"<CORSConfiguration/>"))
            .expect("valid header");
        let got = body.collect().await.expect("matches").to_bytes();
        assert_eq!(got.as_ref(), b"<CORSConfiguration/>");
        assert!(!flag.get());

        let (body, flag) = wrap(Body::from("tampered".to_owned()), &md5_b64(b"original")).expect("valid header");
        assert!(body.collect().await.is_err());
        assert!(flag.get());

        assert!(wrap(Body::empty(), "not base64").is_err());
        assert!(is_put_bucket_cors(&http::Request::put("/b?cors").body(()).expect("request")));
        assert!(!is_put_bucket_cors(&http::Request::get("/b?cors").body(()).expect("request")));
        assert!(!is_put_bucket_cors(&http::Request::put("/b/cors").body(()).expect("request")));
    }
}

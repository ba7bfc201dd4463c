//! Integrity: the ETag's MD5 and the `x-amz-checksum-*` algorithms, computed while the body
//! streams to the blob store, and the client-side body failures observed on the way.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use bytes::Bytes;
use cloudstore_store_api::ByteStream;
use cloudstore_types::{Checksum, ChecksumAlgorithm, ChecksumType};
use futures::Stream;
use s3s::crypto::{Checksum as _, Crc32, Crc32c, Crc64Nvme, Md5, Sha1, Sha256};
use s3s::dto::StreamingBlob;
use s3s::{S3Error, S3Result, s3_error};

enum AnyHasher {
    Crc32(Crc32),
    Crc32c(Crc32c),
    Crc64(Crc64Nvme),
    Sha1(Sha1),
    Sha256(Sha256),
}

impl AnyHasher {
    fn new(a: ChecksumAlgorithm) -> Self {
        match a {
            ChecksumAlgorithm::Crc32 => Self::Crc32(Crc32::new()),
            ChecksumAlgorithm::Crc32c => Self::Crc32c(Crc32c::new()),
            ChecksumAlgorithm::Crc64nvme => Self::Crc64(Crc64Nvme::new()),
            ChecksumAlgorithm::Sha1 => Self::Sha1(Sha1::new()),
            ChecksumAlgorithm::Sha256 => Self::Sha256(Sha256::new()),
        }
    }

    fn update(&mut self, data: &[u8]) {
        match self {
            Self::Crc32(h) => h.update(data),
            Self::Crc32c(h) => h.update(data),
            Self::Crc64(h) => h.update(data),
            Self::Sha1(h) => h.update(data),
            Self::Sha256(h) => h.update(data),
        }
    }

    fn finalize(self) -> Vec<u8> {
        match self {
            Self::Crc32(h) => h.finalize().as_ref().to_vec(),
            Self::Crc32c(h) => h.finalize().as_ref().to_vec(),
            Self::Crc64(h) => h.finalize().as_ref().to_vec(),
            Self::Sha1(h) => h.finalize().as_ref().to_vec(),
            Self::Sha256(h) => h.finalize().as_ref().to_vec(),
        }
    }
}

/// Digest of raw bytes with one algorithm (used for composite checksums).
pub(crate) fn digest(a: ChecksumAlgorithm, data: &[u8]) -> Vec<u8> {
    let mut h = AnyHasher::new(a);
    h.update(data);
    h.finalize()
}

/// What a fully read body hashed to.
#[derive(Debug, Clone)]
pub(crate) struct Digests {
    /// MD5 of the body.
    pub(crate) md5: [u8; 16],
    /// The requested checksum: algorithm and raw digest.
    pub(crate) checksum: Option<(ChecksumAlgorithm, Vec<u8>)>,
    /// Bytes read.
    pub(crate) len: u64,
}

impl Digests {
    /// Hex MD5, the ETag of a simple object or a part.
    pub(crate) fn etag(&self) -> String {
        hex::encode(self.md5)
    }

    /// The checksum in base64, as S3 sends it.
    pub(crate) fn checksum_b64(&self) -> Option<String> {
        self.checksum.as_ref().map(|(_, v)| B64.encode(v))
    }
}

#[derive(Default)]
enum Outcome {
    #[default]
    Running,
    Done(Digests),
    /// The client's body failed (truncated, bad chunk signature, too large...).
    ClientError(S3Error),
}

/// The shared end of a [`hashing_body`] stream: after the blob store has consumed the stream,
/// tells what it hashed to, or what was wrong with the client's body.
#[derive(Clone)]
pub(crate) struct BodyResult(Arc<Mutex<Outcome>>);

impl BodyResult {
    /// The digests, if the body was read to its end without error.
    pub(crate) fn digests(&self) -> Option<Digests> {
        match &*self.0.lock().ok()? {
            Outcome::Done(d) => Some(d.clone()),
            _ => None,
        }
    }

    /// The client-side error that stopped the body, if any.
    pub(crate) fn client_error(&self) -> Option<S3Error> {
        match &*self.0.lock().ok()? {
            Outcome::ClientError(e) => {
                let mut copy = S3Error::with_message(e.code().clone(), e.message().unwrap_or_default().to_owned());
                // Custom codes (XAmzContentSHA256Mismatch) carry their status; keep it.
                if let Some(status) = e.status_code() {
                    copy.set_status_code(status);
                }
                Some(copy)
            }
            _ => None,
        }
    }

    fn set(&self, o: Outcome) {
        if let Ok(mut g) = self.0.lock() {
            *g = o;
        }
    }
}

struct HashingBody {
    inner: StreamingBlob,
    md5: Option<Md5>,
    sum: Option<(ChecksumAlgorithm, AnyHasher)>,
    len: u64,
    expected_len: Option<u64>,
    max_len: u64,
    result: BodyResult,
}

fn client_body_error(e: &dyn std::error::Error) -> S3Error {
    let text = e.to_string();
    if text.contains("SignatureMismatch") {
        s3_error!(SignatureDoesNotMatch, "The chunk signature does not match.")
    } else if text.contains(crate::chunk_limit::TOO_LARGE) {
        s3_error!(InvalidRequest, "An aws-chunked chunk may hold at most {} bytes.", crate::chunk_limit::MAX_CHUNK)
    } else if text.contains("Sha256Mismatch") {
        custom_error(
            "XAmzContentSHA256Mismatch",
            http::StatusCode::BAD_REQUEST,
            "The provided x-amz-content-sha256 header does not match what was computed.",
        )
    } else {
        s3_error!(IncompleteBody, "The request body ended before its declared length.")
    }
}

impl HashingBody {
    fn fail(&mut self, e: S3Error) -> Poll<Option<std::io::Result<Bytes>>> {
        let msg = e.message().unwrap_or("request body error").to_owned();
        self.result.set(Outcome::ClientError(e));
        Poll::Ready(Some(Err(std::io::Error::other(msg))))
    }
}

impl Stream for HashingBody {
    type Item = std::io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        match Pin::new(&mut self.inner).poll_next(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Some(Ok(chunk))) => {
                self.len += chunk.len() as u64;
                if self.len > self.max_len || self.expected_len.is_some_and(|n| self.len > n) {
                    return self
                        .fail(s3_error!(EntityTooLarge, "Your proposed upload exceeds the maximum allowed size."));
                }
                if let Some(h) = &mut self.md5 {
                    h.update(&chunk);
                }
                if let Some((_, h)) = &mut self.sum {
                    h.update(&chunk);
                }
                Poll::Ready(Some(Ok(chunk)))
            }
            Poll::Ready(Some(Err(e))) => {
                let err = client_body_error(e.as_ref());
                self.fail(err)
            }
            Poll::Ready(None) => {
                if self.expected_len.is_some_and(|n| self.len != n) {
                    return self.fail(s3_error!(IncompleteBody, "The request body ended before its declared length."));
                }
                let md5 = self.md5.take().map(|h| {
                    let mut out = [0u8; 16];
                    out.copy_from_slice(h.finalize().as_ref());
                    out
                });
                let checksum = self.sum.take().map(|(a, h)| (a, h.finalize()));
                let len = self.len;
                if let Some(md5) = md5 {
                    self.result.set(Outcome::Done(Digests { md5, checksum, len }));
                }
                Poll::Ready(None)
            }
        }
    }
}

/// Wraps a request body so it is hashed (MD5 plus `algorithm`) and measured while it streams.
/// The stream fails if the body exceeds `max_len` or differs from `expected_len`.
pub(crate) fn hashing_body(
    body: StreamingBlob,
    algorithm: Option<ChecksumAlgorithm>,
    expected_len: Option<u64>,
    max_len: u64,
) -> (ByteStream, BodyResult) {
    let result = BodyResult(Arc::new(Mutex::new(Outcome::Running)));
    let stream = HashingBody {
        inner: body,
        md5: Some(Md5::new()),
        sum: algorithm.map(|a| (a, AnyHasher::new(a))),
        len: 0,
        expected_len,
        max_len,
        result: result.clone(),
    };
    (Box::pin(stream), result)
}

/// An S3 error code s3s has no variant for.
pub(crate) fn custom_error(code: &'static str, status: http::StatusCode, msg: &'static str) -> S3Error {
    let mut e = S3Error::with_message(s3s::S3ErrorCode::Custom(code.into()), msg);
    e.set_status_code(status);
    e
}

/// Decodes a `Content-MD5` header: base64 of 16 bytes, else `InvalidDigest`.
pub(crate) fn parse_content_md5(v: &str) -> S3Result<[u8; 16]> {
    let raw =
        B64.decode(v.trim()).map_err(|_| s3_error!(InvalidDigest, "The Content-MD5 you specified is not valid."))?;
    raw.try_into().map_err(|_| s3_error!(InvalidDigest, "The Content-MD5 you specified is not valid."))
}

/// Checks a client-supplied checksum (base64) against the computed one. A value that is not
/// a checksum of this algorithm at all (bad base64, wrong length) cannot match either: AWS
/// answers both with `BadDigest`.
pub(crate) fn verify_checksum(algorithm: ChecksumAlgorithm, expected_b64: &str, actual: &[u8]) -> S3Result<()> {
    let expected = B64.decode(expected_b64.trim()).ok();
    if expected.as_deref() != Some(actual) {
        return Err(s3_error!(
            BadDigest,
            "The {} you specified did not match the calculated checksum.",
            algorithm.as_str()
        ));
    }
    Ok(())
}

/// Checksum fields as s3s DTOs carry them, by algorithm.
#[derive(Debug, Default, Clone)]
pub(crate) struct ChecksumFields {
    pub(crate) crc32: Option<String>,
    pub(crate) crc32c: Option<String>,
    pub(crate) crc64nvme: Option<String>,
    pub(crate) sha1: Option<String>,
    pub(crate) sha256: Option<String>,
}

impl ChecksumFields {
    /// The one checksum value given, with its algorithm. More than one is `InvalidRequest`.
    pub(crate) fn single(&self) -> S3Result<Option<(ChecksumAlgorithm, String)>> {
        let all = [
            (ChecksumAlgorithm::Crc32, &self.crc32),
            (ChecksumAlgorithm::Crc32c, &self.crc32c),
            (ChecksumAlgorithm::Crc64nvme, &self.crc64nvme),
            (ChecksumAlgorithm::Sha1, &self.sha1),
            (ChecksumAlgorithm::Sha256, &self.sha256),
        ];
        let mut found = all.into_iter().filter_map(|(a, v)| v.clone().map(|v| (a, v)));
        let first = found.next();
        if found.next().is_some() {
            return Err(s3_error!(
                InvalidRequest,
                "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed."
            ));
        }
        Ok(first)
    }

    /// Fields holding `value` under `algorithm`.
    pub(crate) fn with(algorithm: ChecksumAlgorithm, value: String) -> Self {
        let mut f = Self::default();
        match algorithm {
            ChecksumAlgorithm::Crc32 => f.crc32 = Some(value),
            ChecksumAlgorithm::Crc32c => f.crc32c = Some(value),
            ChecksumAlgorithm::Crc64nvme => f.crc64nvme = Some(value),
            ChecksumAlgorithm::Sha1 => f.sha1 = Some(value),
            ChecksumAlgorithm::Sha256 => f.sha256 = Some(value),
        }
        f
    }

    /// Fields for a stored object checksum.
    pub(crate) fn of(c: &Checksum) -> Self {
        Self::with(c.algorithm, c.value.clone())
    }
}

/// The checksum value a streaming upload sent in its trailer, if it declared one.
pub(crate) fn trailer_checksum(trailers: Option<&s3s::TrailingHeaders>) -> Option<(ChecksumAlgorithm, String)> {
    let trailers = trailers?;
    trailers
        .read(|h| {
            ChecksumAlgorithm::ALL
                .into_iter()
                .find_map(|a| h.get(a.header_name()).and_then(|v| v.to_str().ok()).map(|v| (a, v.to_owned())))
        })
        .flatten()
}

/// The algorithm a request announces without (yet) sending a value: `x-amz-trailer`
/// naming a checksum header, or `x-amz-sdk-checksum-algorithm`.
pub(crate) fn announced_algorithm(headers: &http::HeaderMap) -> Option<ChecksumAlgorithm> {
    announced_trailer(headers).or_else(|| {
        headers.get("x-amz-sdk-checksum-algorithm").and_then(|v| v.to_str().ok()).and_then(ChecksumAlgorithm::parse)
    })
}

/// The checksum header `x-amz-trailer` announces, if it names one.
fn announced_trailer(headers: &http::HeaderMap) -> Option<ChecksumAlgorithm> {
    let t = headers.get("x-amz-trailer")?.to_str().ok()?.trim().to_ascii_lowercase();
    ChecksumAlgorithm::ALL.into_iter().find(|a| a.header_name() == t)
}

/// Refuses a body that announced a checksum trailer (`x-amz-trailer`) and ended without it:
/// nothing could be verified. 400 `MalformedTrailerError`, AWS's code for a bad trailer.
pub(crate) fn check_announced_trailer(
    headers: &http::HeaderMap,
    trailers: Option<&s3s::TrailingHeaders>,
) -> S3Result<()> {
    let Some(a) = announced_trailer(headers) else { return Ok(()) };
    let sent = trailers.and_then(|t| t.read(|h| h.contains_key(a.header_name()))).unwrap_or(false);
    if sent {
        Ok(())
    } else {
        Err(custom_error(
            "MalformedTrailerError",
            http::StatusCode::BAD_REQUEST,
            "The request contained trailing data that was not well-formed or did not conform to our published schema.",
        ))
    }
}

/// Converts between s3s's and our algorithm enums.
pub(crate) fn from_dto_algorithm(a: &s3s::dto::ChecksumAlgorithm) -> S3Result<ChecksumAlgorithm> {
    ChecksumAlgorithm::parse(a.as_str())
        .ok_or_else(|| s3_error!(InvalidRequest, "Checksum algorithm {} is not supported.", a.as_str()))
}

/// Our checksum type as an s3s DTO.
pub(crate) fn to_dto_type(t: ChecksumType) -> s3s::dto::ChecksumType {
    s3s::dto::ChecksumType::from(t.as_str().to_owned())
}

/// Our algorithm as an s3s DTO.
pub(crate) fn to_dto_algorithm(a: ChecksumAlgorithm) -> s3s::dto::ChecksumAlgorithm {
    s3s::dto::ChecksumAlgorithm::from(a.as_str().to_owned())
}

/// The full-object CRC of a concatenation, from the parts' CRCs and sizes.
pub(crate) fn combine_crc(algorithm: ChecksumAlgorithm, parts: &[(Vec<u8>, u64)]) -> Option<Vec<u8>> {
    let crc_alg = match algorithm {
        ChecksumAlgorithm::Crc32 => crc_fast::CrcAlgorithm::Crc32IsoHdlc,
        ChecksumAlgorithm::Crc32c => crc_fast::CrcAlgorithm::Crc32Iscsi,
        ChecksumAlgorithm::Crc64nvme => crc_fast::CrcAlgorithm::Crc64Nvme,
        ChecksumAlgorithm::Sha1 | ChecksumAlgorithm::Sha256 => return None,
    };
    let width = if algorithm == ChecksumAlgorithm::Crc64nvme { 8 } else { 4 };
    let mut acc: Option<u64> = None;
    for (bytes, size) in parts {
        if bytes.len() != width {
            return None;
        }
        let mut buf = [0u8; 8];
        buf[8 - width..].copy_from_slice(bytes);
        let v = u64::from_be_bytes(buf);
        acc = Some(match acc {
            None => v,
            Some(a) => crc_fast::checksum_combine(crc_alg, a, v, *size),
        });
    }
    let v = acc.unwrap_or_else(|| {
        u64::from_be_bytes({
            let mut buf = [0u8; 8];
            let empty = digest(algorithm, b"");
            buf[8 - width..].copy_from_slice(&empty);
            buf
        })
    });
    Some(v.to_be_bytes()[8 - width..].to_vec())
}

/// Base64 helpers.
pub(crate) fn b64(data: &[u8]) -> String {
    B64.encode(data)
}

/// Decodes base64, `None` if invalid.
pub(crate) fn unb64(s: &str) -> Option<Vec<u8>> {
    B64.decode(s.trim()).ok()
}

/// A stored checksum from a computed one.
pub(crate) fn full_object(algorithm: ChecksumAlgorithm, raw: &[u8]) -> Checksum {
    Checksum { algorithm, value: b64(raw), kind: ChecksumType::FullObject }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_combination_matches_a_single_pass() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i * 31 % 251) as u8).collect();
        for a in [ChecksumAlgorithm::Crc32, ChecksumAlgorithm::Crc32c, ChecksumAlgorithm::Crc64nvme] {
            let whole = digest(a, &data);
            let parts: Vec<(Vec<u8>, u64)> = data.chunks(30_000).map(|c| (digest(a, c), c.len() as u64)).collect();
            assert_eq!(combine_crc(a, &parts), Some(whole), "{a}");
        }
        assert_eq!(combine_crc(ChecksumAlgorithm::Sha256, &[]), None);
    }

    #[test]
    fn known_vectors() {
        // CRC32("123456789") = 0xCBF43926, CRC32C = 0xE3069283.
        assert_eq!(digest(ChecksumAlgorithm::Crc32, b"123456789"), 0xCBF4_3926u32.to_be_bytes());
        assert_eq!(digest(ChecksumAlgorithm::Crc32c, b"123456789"), 0xE306_9283u32.to_be_bytes());
        assert_eq!(b64(&digest(ChecksumAlgorithm::Sha256, b"")), "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
    }

    #[test]
    fn content_md5_and_checksum_validation() {
        assert!(parse_content_md5("1B2M2Y8AsgTpgAmY7PhCfg==").is_ok());
        assert_eq!(
            parse_content_md5("nope").map_err(|e| e.code().clone()).err(),
            Some(s3s::S3ErrorCode::InvalidDigest)
        );
        let good = digest(ChecksumAlgorithm::Crc32, b"abc");
        assert!(verify_checksum(ChecksumAlgorithm::Crc32, &b64(&good), &good).is_ok());
        let other = digest(ChecksumAlgorithm::Crc32, b"abd");
        let e = verify_checksum(ChecksumAlgorithm::Crc32, &b64(&other), &good).err();
        assert_eq!(e.map(|e| e.code().clone()), Some(s3s::S3ErrorCode::BadDigest));
        for malformed in ["AAAA", "bad", ""] {
            let e = verify_checksum(ChecksumAlgorithm::Crc32, malformed, &good).err();
            assert_eq!(e.map(|e| e.code().clone()), Some(s3s::S3ErrorCode::BadDigest), "{malformed:?}");
        }
    }
}

//! A bound on the chunks of an `aws-chunked` request body, enforced while the body streams in,
//! before s3s decodes it. s3s collects each chunk whole (it checks the chunk's signature over
//! all of it) and reads the chunk size as any 32-bit hex number, so one authorized upload
//! could make the server hold 4 GiB. The SDKs send chunks of 64 KiB to a few MiB; like MinIO we
//! refuse a chunk over [`MAX_CHUNK`] when its size line arrives, before any of its data.
//!
//! The scan mirrors s3s's framing: a size line `hex[;extension]\r\n`, `size` bytes of data and
//! `\r\n`, until a zero-size chunk, after which come the trailers (not scanned). A size line
//! that is not hex, or one longer than s3s accepts, is left to s3s to refuse.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{HeaderMap, Request};
use http_body::{Frame, SizeHint};
use s3s::Body;

/// The largest chunk of an `aws-chunked` body, in bytes: 16 MiB.
pub const MAX_CHUNK: u64 = 16 << 20;

/// The longest size line s3s reads (its chunk metadata limit); past it we stop scanning.
const MAX_LINE: usize = 1024;

/// What the body error says, so the S3 error can be told apart (`s3::checksum`).
pub const TOO_LARGE: &str = "aws-chunked chunk larger than the limit";

/// `req`, with its body checked as it streams when it is `aws-chunked` (its
/// `x-amz-content-sha256` is one of the `STREAMING-*` values); other requests unchanged.
pub fn limit(req: Request<Body>) -> Request<Body> {
    if !is_aws_chunked(req.headers()) {
        return req;
    }
    req.map(|body| Body::http_body_unsync(ChunkLimit { inner: body, scan: Scan::default() }))
}

fn is_aws_chunked(headers: &HeaderMap) -> bool {
    headers.get("x-amz-content-sha256").is_some_and(|v| v.as_bytes().starts_with(b"STREAMING-"))
}

/// The body wrapper: passes every frame on after scanning its bytes.
struct ChunkLimit {
    inner: Body,
    scan: Scan,
}

impl http_body::Body for ChunkLimit {
    type Data = Bytes;
    type Error = s3s::StdError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref()
                    && this.scan.feed(data).is_err()
                {
                    return Poll::Ready(Some(
                        Err(format!("{TOO_LARGE}: at most {MAX_CHUNK} bytes are allowed").into()),
                    ));
                }
                Poll::Ready(Some(Ok(frame)))
            }
            other => other,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Where the scan is in the framing, which it reads exactly as s3s does: a size line ends at
/// the first `\n`; its value is its leading hex digits, at most 8 (nom's `hex_u32`, which
/// ignores what follows them); the chunk's data is followed by `\r\n` (anything else s3s
/// refuses); a zero-size chunk is the last, and what follows it are trailers.
/// A size line declared a chunk over [`MAX_CHUNK`].
#[derive(Debug, PartialEq, Eq)]
struct TooLarge;

#[derive(Debug, PartialEq, Eq)]
enum Scan {
    /// In a size line: the value of its digits so far, how many, whether digits may still
    /// come, the line's length so far.
    Line { size: u64, digits: u8, reading: bool, len: usize },
    /// In a chunk's data and its closing CRLF: bytes left.
    Data(u64),
    /// Past the last chunk, or past something s3s refuses: nothing more to check.
    Done,
}

impl Default for Scan {
    fn default() -> Self {
        Scan::Line { size: 0, digits: 0, reading: true, len: 0 }
    }
}

impl Scan {
    /// Scans the next `bytes` of the body; an error as soon as a size line's digits make more
    /// than [`MAX_CHUNK`].
    fn feed(&mut self, mut bytes: &[u8]) -> Result<(), TooLarge> {
        while let Some((&b, rest)) = bytes.split_first() {
            match self {
                Scan::Done => return Ok(()),
                Scan::Data(left) => {
                    let n = bytes.len().min(usize::try_from(*left).unwrap_or(usize::MAX));
                    bytes = &bytes[n..];
                    *left -= n as u64;
                    if *left == 0 {
                        *self = Scan::default();
                    }
                }
                Scan::Line { size, digits, reading, len } => {
                    bytes = rest;
                    *len += 1;
                    if b == b'\n' {
                        *self = match (*digits, *size) {
                            // No digits: s3s refuses the line. Size 0: the last chunk.
                            (0, _) | (_, 0) => Scan::Done,
                            (_, size) => Scan::Data(size + 2),
                        };
                    } else if *len > MAX_LINE {
                        // s3s refuses a longer line.
                        *self = Scan::Done;
                    } else if *reading {
                        match (b as char).to_digit(16) {
                            Some(d) if *digits < 8 => {
                                *size = *size * 16 + u64::from(d);
                                *digits += 1;
                                if *size > MAX_CHUNK {
                                    return Err(TooLarge);
                                }
                            }
                            _ => *reading = false,
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `parts` in turn; the first refusal's size, if any.
    fn scan(parts: &[&[u8]]) -> (Scan, Result<(), TooLarge>) {
        let mut s = Scan::default();
        for p in parts {
            if let Err(e) = s.feed(p) {
                return (s, Err(e));
            }
        }
        (s, Ok(()))
    }

    #[test]
    fn well_formed_bodies_pass_in_any_split() {
        let sig = format!(";chunk-signature={}", "a".repeat(64));
        let body =
            format!("10{sig}\r\n0123456789abcdef\r\n4{sig}\r\nwxyz\r\n0{sig}\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n");
        for cut in 0..body.len() {
            let (a, b) = body.as_bytes().split_at(cut);
            let (state, r) = scan(&[a, b]);
            assert_eq!(r, Ok(()), "split at {cut}");
            assert_eq!(state, Scan::Done, "split at {cut}");
        }
        let unsigned = b"400\r\n";
        let (state, r) = scan(&[unsigned, &[b'z'; 0x400], b"\r\n0\r\n"]);
        assert_eq!((state, r), (Scan::Done, Ok(())));
    }

    #[test]
    fn a_chunk_over_the_limit_is_refused_at_its_size_line() {
        let limit = format!("{MAX_CHUNK:x}\r\n");
        assert_eq!(scan(&[limit.as_bytes()]).1, Ok(()), "exactly the limit");
        assert_eq!(scan(&[b"ffffffff\r\n"]).1, Err(TooLarge));
        assert_eq!(scan(&[b"1000001;chunk-signature=00\r\n"]).1, Err(TooLarge));
        assert_eq!(scan(&[b"1000000;chunk-signature=00\r\n"]).1, Ok(()));
        // Split inside the digits, after a first chunk.
        assert_eq!(scan(&[b"2\r\nab\r\nff", b"fffff"]).1, Err(TooLarge));
        assert_eq!(scan(&[b"2\r\nab\r\nff", b"ffff\r\n"]).0, Scan::Data(0xff_ffff + 2), "one byte under");
        // Leading zeros count as digits, as in s3s: 8 digits read, the rest ignored.
        assert_eq!(scan(&[b"0000000ffffffff\r\n"]).0, Scan::Data(0xf + 2));
        assert_eq!(scan(&[b"01000001\r\n"]).1, Err(TooLarge));
    }

    #[test]
    fn what_s3s_refuses_ends_the_scan() {
        assert_eq!(scan(&[b"zz\r\n"]).0, Scan::Done);
        assert_eq!(scan(&[&[b'1'; 2000]]).1, Err(TooLarge), "digits past the limit");
        assert_eq!(scan(&[b"1;", &[b'x'; 2000]]).0, Scan::Done, "an over-long line");
    }
}

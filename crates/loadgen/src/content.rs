//! Deterministic object content derived from the key, so downloads can be verified without a
//! stored copy and without holding a whole body.
//!
//! Byte `i` of the object with key `k` is byte `i % 8` (little-endian) of
//! `splitmix64(seed(k), i / 8)`, where `seed(k)` is FNV-1a of the key. Any offset can be generated
//! or checked on its own, so uploads are produced chunk by chunk and downloads are verified as
//! they stream, at several GB/s per core.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use http_body::{Body, Frame, SizeHint};

/// Upload chunk size for generated bodies.
const CHUNK: u64 = 256 * 1024;

pub(crate) fn key_seed(key: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in key.as_bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    mix(h)
}

#[inline]
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The `idx`-th 8-byte word of the stream for `seed`.
#[inline]
fn word(seed: u64, idx: u64) -> u64 {
    mix(seed.wrapping_add(idx.wrapping_add(1).wrapping_mul(0x9e37_79b9_7f4a_7c15)))
}

/// Fills `buf` with the content of the object with `seed`, starting at byte `offset`.
pub(crate) fn fill(seed: u64, offset: u64, buf: &mut [u8]) {
    let head = (((8 - offset % 8) % 8) as usize).min(buf.len());
    if head > 0 {
        let w = word(seed, offset / 8).to_le_bytes();
        let start = (offset % 8) as usize;
        buf[..head].copy_from_slice(&w[start..start + head]);
    }
    let mut idx = (offset + head as u64) / 8;
    let mut chunks = buf[head..].chunks_exact_mut(8);
    for c in &mut chunks {
        c.copy_from_slice(&word(seed, idx).to_le_bytes());
        idx += 1;
    }
    let tail = chunks.into_remainder();
    if !tail.is_empty() {
        let w = word(seed, idx).to_le_bytes();
        let n = tail.len();
        tail.copy_from_slice(&w[..n]);
    }
}

/// Checks that `data` is the content at `offset`; returns the offset of the first wrong byte.
pub(crate) fn check(seed: u64, offset: u64, data: &[u8]) -> Result<(), u64> {
    let head = (((8 - offset % 8) % 8) as usize).min(data.len());
    let mut expect = [0u8; 8];
    if head > 0 {
        fill(seed, offset, &mut expect[..head]);
        if data[..head] != expect[..head] {
            return Err(offset + first_diff(&data[..head], &expect[..head]));
        }
    }
    let base = offset + head as u64;
    let mut idx = base / 8;
    let mut chunks = data[head..].chunks_exact(8);
    for (n, c) in (&mut chunks).enumerate() {
        let got = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        let want = word(seed, idx);
        if got != want {
            let pos = base + 8 * n as u64;
            return Err(pos + first_diff(c, &want.to_le_bytes()));
        }
        idx += 1;
    }
    let tail = chunks.remainder();
    if !tail.is_empty() {
        let w = word(seed, idx).to_le_bytes();
        if tail != &w[..tail.len()] {
            let pos = offset + (data.len() - tail.len()) as u64;
            return Err(pos + first_diff(tail, &w[..tail.len()]));
        }
    }
    Ok(())
}

fn first_diff(a: &[u8], b: &[u8]) -> u64 {
    a.iter().zip(b).position(|(x, y)| x != y).unwrap_or(0) as u64
}

/// Streaming verifier for one download.
#[derive(Debug)]
pub(crate) struct Verifier {
    seed: u64,
    pos: u64,
    expected_len: u64,
    check_content: bool,
}

impl Verifier {
    pub(crate) fn new(key: &str, expected_len: u64, check_content: bool) -> Self {
        Verifier { seed: key_seed(key), pos: 0, expected_len, check_content }
    }

    pub(crate) fn update(&mut self, chunk: &[u8]) -> Result<(), String> {
        let end = self.pos + chunk.len() as u64;
        if end > self.expected_len {
            return Err(format!("body longer than expected {} bytes", self.expected_len));
        }
        if self.check_content
            && let Err(at) = check(self.seed, self.pos, chunk)
        {
            return Err(format!("body content differs at byte {at}"));
        }
        self.pos = end;
        Ok(())
    }

    pub(crate) fn finish(&self) -> Result<u64, String> {
        if self.pos != self.expected_len {
            return Err(format!("body has {} bytes, expected {}", self.pos, self.expected_len));
        }
        Ok(self.pos)
    }
}

/// Request body: empty, or generated content of a known length produced chunk by chunk.
#[derive(Debug)]
pub(crate) enum ReqBody {
    Empty,
    Pattern { seed: u64, pos: u64, len: u64 },
}

impl ReqBody {
    pub(crate) fn pattern(key: &str, len: u64) -> Self {
        ReqBody::Pattern { seed: key_seed(key), pos: 0, len }
    }
}

impl Body for ReqBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        match self.get_mut() {
            ReqBody::Empty => Poll::Ready(None),
            ReqBody::Pattern { seed, pos, len } => {
                if *pos >= *len {
                    return Poll::Ready(None);
                }
                let n = (*len - *pos).min(CHUNK) as usize;
                let mut buf = BytesMut::zeroed(n);
                fill(*seed, *pos, &mut buf);
                *pos += n as u64;
                Poll::Ready(Some(Ok(Frame::data(buf.freeze()))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            ReqBody::Empty => true,
            ReqBody::Pattern { pos, len, .. } => pos >= len,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            ReqBody::Empty => SizeHint::with_exact(0),
            ReqBody::Pattern { pos, len, .. } => SizeHint::with_exact(len - pos),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fill_is_offset_independent() {
        let seed = key_seed("lg/obj-4096/00000001");
        let mut whole = vec![0u8; 1000];
        fill(seed, 0, &mut whole);
        for (off, len) in [(0usize, 1usize), (1, 7), (3, 20), (8, 8), (13, 987), (999, 1), (5, 3)] {
            let mut part = vec![0u8; len];
            fill(seed, off as u64, &mut part);
            assert_eq!(part, whole[off..off + len], "offset {off} len {len}");
            assert_eq!(check(seed, off as u64, &whole[off..off + len]), Ok(()));
        }
    }

    #[test]
    fn check_finds_first_bad_byte() {
        let seed = key_seed("k");
        let mut data = vec![0u8; 100];
        fill(seed, 0, &mut data);
        for bad in [0usize, 3, 8, 50, 97, 99] {
            let mut d = data.clone();
            d[bad] ^= 1;
            assert_eq!(check(seed, 0, &d), Err(bad as u64));
            assert_eq!(check(seed, 2, &d[2..]).err(), if bad >= 2 { Some(bad as u64) } else { None });
        }
        assert!(check(key_seed("other"), 0, &data).is_err());
    }

    #[test]
    fn verifier_streams_and_checks_length() {
        let key = "lg/x";
        let mut data = vec![0u8; 70_000];
        fill(key_seed(key), 0, &mut data);
        let mut v = Verifier::new(key, 70_000, true);
        for c in data.chunks(4093) {
            v.update(c).expect("chunk verifies");
        }
        assert_eq!(v.finish(), Ok(70_000));
        let mut short = Verifier::new(key, 70_001, true);
        short.update(&data).expect("prefix verifies");
        assert!(short.finish().is_err());
        let mut long = Verifier::new(key, 10, false);
        assert!(long.update(&data).is_err());
    }

    #[test]
    fn body_yields_exact_content() {
        use http_body_util::BodyExt;
        let key = "lg/big";
        let len = 3 * CHUNK + 5;
        let body = ReqBody::pattern(key, len);
        assert_eq!(body.size_hint().exact(), Some(len));
        let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
        let bytes = rt.block_on(body.collect()).expect("infallible").to_bytes();
        assert_eq!(bytes.len() as u64, len);
        assert_eq!(check(key_seed(key), 0, &bytes), Ok(()));
    }
}

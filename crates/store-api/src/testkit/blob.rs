//! The [`BlobStore`] conformance suite.
//!
//! Data is generated deterministically from a seed and streamed in irregular chunks (some of
//! them empty, some one byte long), so no test holds a whole blob in memory and expected bytes
//! of any range can be regenerated. Contents are compared by length and SHA-256.
//!
//! Semantics the suite pins down beyond the trait docs:
//! - a stream that yields fewer or more bytes than a declared `size` fails the put;
//! - a range must lie within the blob (`start <= end <= len`); one that does not is an error
//!   (from `get` or from the stream), never silently clipped data;
//! - an empty range of an existing blob is an empty stream;
//! - a get stream yields chunks of at most [`MAX_READ_CHUNK`] bytes.

use std::io;
use std::ops::Range;

use bytes::Bytes;
use futures::StreamExt;
use futures::future::join_all;
use futures::stream;
use sha2::{Digest, Sha256};

use crate::{BlobId, BlobStore, ByteStream, StoreError};

const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;

/// Largest chunk a get stream may yield (reads stream with bounded buffers).
const MAX_READ_CHUNK: usize = 8 * 1024 * 1024;

/// Chunk sizes a generated body cycles through: empty and one-byte chunks, and sizes that
/// never line up with 5 MiB part boundaries.
const CHUNK_CYCLE: [u64; 7] = [64 * KIB + 3, 0, 1, MIB, 7, 300 * KIB + 11, 2 * MIB - 5];

/// Deterministic blob content: byte `i` depends only on the seed and `i`.
#[derive(Debug, Clone, Copy)]
struct Pattern {
    seed: u64,
}

impl Pattern {
    fn new(seed: u64) -> Self {
        Self { seed }
    }

    fn word(self, k: u64) -> [u8; 8] {
        // SplitMix64 of (seed, word index).
        let mut z = self.seed ^ k.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)).to_le_bytes()
    }

    /// The bytes `offset .. offset + len`.
    fn bytes(self, offset: u64, len: usize) -> Bytes {
        let mut buf = vec![0u8; len];
        let mut pos = 0usize;
        let mut i = offset;
        while pos < len {
            let within = (i % 8) as usize;
            let n = (8 - within).min(len - pos);
            let w = self.word(i / 8);
            buf[pos..pos + n].copy_from_slice(&w[within..within + n]);
            pos += n;
            i += n as u64;
        }
        Bytes::from(buf)
    }

    /// A stream of the bytes in `range`, in irregular chunks.
    fn stream(self, range: Range<u64>) -> impl futures::Stream<Item = io::Result<Bytes>> + Send + 'static {
        stream::unfold((range.start, 0usize), move |(pos, turn)| async move {
            if pos >= range.end {
                return None;
            }
            let n = CHUNK_CYCLE[turn % CHUNK_CYCLE.len()].min(range.end - pos);
            let chunk = self.bytes(pos, n as usize);
            Some((Ok(chunk), (pos + n, turn + 1)))
        })
    }

    /// A body of the first `len` bytes.
    fn body(self, len: u64) -> ByteStream {
        Box::pin(self.stream(0..len))
    }

    /// SHA-256 of the bytes in `range`.
    fn digest(self, range: Range<u64>) -> [u8; 32] {
        let mut h = Sha256::new();
        let mut pos = range.start;
        while pos < range.end {
            let n = MIB.min(range.end - pos);
            h.update(self.bytes(pos, n as usize));
            pos += n;
        }
        h.finalize().into()
    }
}

/// Reads a stream to its end: (length, SHA-256), checking chunk sizes on the way.
async fn drain(mut s: ByteStream) -> io::Result<(u64, [u8; 32])> {
    let mut h = Sha256::new();
    let mut len = 0u64;
    while let Some(chunk) = s.next().await {
        let chunk = chunk?;
        assert!(
            chunk.len() <= MAX_READ_CHUNK,
            "get yielded a chunk of {} bytes; reads must stream in chunks of at most {MAX_READ_CHUNK}",
            chunk.len()
        );
        len += chunk.len() as u64;
        h.update(&chunk);
    }
    Ok((len, h.finalize().into()))
}

fn failing(before: ByteStream) -> ByteStream {
    let err = stream::once(async { Err(io::Error::new(io::ErrorKind::ConnectionReset, "injected body failure")) });
    Box::pin(before.chain(err))
}

async fn put_ok(store: &dyn BlobStore, id: &BlobId, p: Pattern, len: u64, declared: Option<u64>) {
    match store.put(id, p.body(len), declared).await {
        Ok(n) => assert_eq!(n, len, "put of {len} bytes (declared {declared:?}) reported {n} bytes written"),
        Err(e) => panic!("put of {len} bytes (declared {declared:?}) failed: {e:?}"),
    }
}

/// Checks that `id` (or `range` of it) reads back as the pattern's bytes.
async fn expect_content(store: &dyn BlobStore, id: &BlobId, p: Pattern, len: u64, range: Option<Range<u64>>) {
    let want = range.clone().unwrap_or(0..len);
    let s = match store.get(id, range.clone()).await {
        Ok(s) => s,
        Err(e) => panic!("get of blob ({len} bytes), range {range:?}, failed: {e:?}"),
    };
    let (got_len, got_digest) = match drain(s).await {
        Ok(r) => r,
        Err(e) => panic!("reading blob ({len} bytes), range {range:?}, failed midway: {e:?}"),
    };
    assert_eq!(got_len, want.end - want.start, "length of blob ({len} bytes), range {range:?}");
    assert!(got_digest == p.digest(want), "content of blob ({len} bytes), range {range:?}, differs (SHA-256)");
}

async fn expect_missing(store: &dyn BlobStore, id: &BlobId, what: &str) {
    for range in [None, Some(0..1)] {
        match store.get(id, range.clone()).await {
            Err(StoreError::BlobNotFound) => {}
            Err(e) => panic!("{what}: get (range {range:?}) should be BlobNotFound, got {e:?}"),
            Ok(s) => match drain(s).await {
                Ok((n, _)) => panic!("{what}: get (range {range:?}) should be BlobNotFound, but read {n} bytes"),
                Err(e) => panic!("{what}: get (range {range:?}) should be BlobNotFound, but the stream failed: {e:?}"),
            },
        }
    }
}

/// Checks that reading `range` of `id` does not succeed (an error from get or from the stream).
async fn expect_bad_range(store: &dyn BlobStore, id: &BlobId, len: u64, range: Range<u64>) {
    match store.get(id, Some(range.clone())).await {
        Err(StoreError::BlobNotFound) => panic!("range {range:?} of an existing blob ({len} bytes) gave BlobNotFound"),
        Err(_) => {}
        Ok(s) => {
            if let Ok((n, _)) = drain(s).await {
                panic!("range {range:?} of a blob of {len} bytes should fail, but read {n} bytes");
            }
        }
    }
}

async fn put_fails(store: &dyn BlobStore, id: &BlobId, body: ByteStream, declared: Option<u64>, what: &str) {
    if let Ok(n) = store.put(id, body, declared).await {
        panic!("{what}: put should fail, but reported {n} bytes written");
    }
    expect_missing(store, id, &format!("after a failed put ({what})")).await;
}

/// Runs every check against `store`. Uses fresh blob ids and deletes what it wrote, so it can
/// run against a shared backend. Panics on the first violation.
pub async fn blob_suite(store: &dyn BlobStore) {
    if let Err(e) = store.ping().await {
        panic!("ping failed: {e:?}");
    }
    let mut written = Vec::new();

    // ---- round trips, declared and undeclared sizes ----
    let sizes = [0, 1, 64 * KIB + 1, 5 * MIB, 6 * MIB + 7, 17 * MIB];
    let mut blobs = Vec::new();
    for (i, &len) in sizes.iter().enumerate() {
        let id = BlobId::generate();
        let p = Pattern::new(1000 + i as u64);
        put_ok(store, &id, p, len, Some(len)).await;
        expect_content(store, &id, p, len, None).await;
        written.push(id.clone());
        blobs.push((id, p, len));
    }
    for (i, &len) in [0, 64 * KIB + 1, 5 * MIB, 6 * MIB + 7].iter().enumerate() {
        let id = BlobId::generate();
        let p = Pattern::new(2000 + i as u64);
        put_ok(store, &id, p, len, None).await;
        expect_content(store, &id, p, len, None).await;
        written.push(id);
    }

    // ---- ranged reads ----
    let (id0, p0, _) = &blobs[0];
    expect_content(store, id0, *p0, 0, Some(0..0)).await;
    let (id1, p1, _) = &blobs[1];
    expect_content(store, id1, *p1, 1, Some(0..1)).await;
    expect_content(store, id1, *p1, 1, Some(1..1)).await;
    let (id6, p6, len6) = &blobs[4];
    for r in [0..*len6, 5 * MIB - 1..5 * MIB + 1, 5 * MIB..*len6, 4 * MIB..6 * MIB] {
        expect_content(store, id6, *p6, *len6, Some(r)).await;
    }
    let (id17, p17, len17) = &blobs[5];
    let len = *len17;
    let ranges = [
        0..1,                         // first byte
        0..100,                       // start
        0..64 * KIB + 1,              // start, past a typical buffer
        8 * MIB..8 * MIB + 100 * KIB, // middle
        len / 2..len / 2 + 1,         // a single byte in the middle
        len - 1000..len,              // end
        len - 1..len,                 // last byte
        5 * MIB - 3..5 * MIB + 3,     // across the first 5 MiB boundary
        10 * MIB - 1..10 * MIB + 1,   // across the second
        3 * MIB..16 * MIB + 5,        // spanning several parts
        7 * MIB..7 * MIB,             // empty
        0..len,                       // everything
    ];
    for r in ranges {
        expect_content(store, id17, *p17, len, Some(r)).await;
    }
    expect_bad_range(store, id17, len, len - 10..len + 10).await;
    expect_bad_range(store, id17, len, len + 1..len + 2).await;
    #[allow(clippy::reversed_empty_ranges)]
    let inverted = 10..5;
    expect_bad_range(store, id17, len, inverted).await;

    // ---- missing blobs ----
    expect_missing(store, &BlobId::generate(), "a blob never written").await;

    // ---- delete ----
    let id = BlobId::generate();
    if let Err(e) = store.delete(&id).await {
        panic!("delete of a blob that never existed should succeed, got {e:?}");
    }
    let p = Pattern::new(3000);
    put_ok(store, &id, p, 1000, Some(1000)).await;
    expect_content(store, &id, p, 1000, None).await;
    if let Err(e) = store.delete(&id).await {
        panic!("delete failed: {e:?}");
    }
    expect_missing(store, &id, "after delete").await;
    if let Err(e) = store.delete(&id).await {
        panic!("second delete of the same blob should succeed, got {e:?}");
    }

    // ---- failing bodies leave no blob ----
    let p = Pattern::new(4000);
    put_fails(store, &BlobId::generate(), failing(p.body(0)), Some(100), "body fails at once").await;
    put_fails(store, &BlobId::generate(), failing(p.body(100)), None, "body fails after 100 bytes").await;
    put_fails(store, &BlobId::generate(), failing(p.body(100)), Some(200), "body fails after 100 of 200 bytes").await;
    put_fails(store, &BlobId::generate(), failing(p.body(7 * MIB)), None, "body fails after 7 MiB").await;
    put_fails(store, &BlobId::generate(), failing(p.body(7 * MIB)), Some(8 * MIB), "body fails after 7 of 8 MiB").await;
    // Fails exactly at a part boundary, and after the declared length was reached.
    put_fails(store, &BlobId::generate(), failing(p.body(5 * MIB)), Some(10 * MIB), "body fails after 5 MiB").await;
    put_fails(store, &BlobId::generate(), failing(p.body(100)), Some(100), "body fails after all declared bytes").await;

    // ---- bodies shorter or longer than declared ----
    put_fails(store, &BlobId::generate(), p.body(5), Some(10), "5 bytes declared as 10").await;
    put_fails(store, &BlobId::generate(), p.body(0), Some(5 * MIB), "0 bytes declared as 5 MiB").await;
    put_fails(store, &BlobId::generate(), p.body(6 * MIB), Some(6 * MIB + 7), "6 MiB declared as 6 MiB + 7").await;
    put_fails(store, &BlobId::generate(), p.body(101), Some(100), "101 bytes declared as 100").await;
    put_fails(store, &BlobId::generate(), p.body(6 * MIB), Some(5 * MIB), "6 MiB declared as 5 MiB").await;

    // ---- concurrent puts of different ids ----
    let jobs: Vec<(BlobId, Pattern, u64)> = (0..8u64)
        .map(|i| {
            let len = if i % 4 == 0 { 6 * MIB + i } else { i * 700 * KIB + 13 };
            (BlobId::generate(), Pattern::new(5000 + i), len)
        })
        .collect();
    let puts = jobs.iter().map(|(id, p, len)| async move {
        let declared = if len % 2 == 0 { Some(*len) } else { None };
        (store.put(id, p.body(*len), declared).await, *len)
    });
    for (res, len) in join_all(puts).await {
        match res {
            Ok(n) => assert_eq!(n, len, "concurrent put of {len} bytes reported {n}"),
            Err(e) => panic!("concurrent put of {len} bytes failed: {e:?}"),
        }
    }
    join_all(jobs.iter().map(|(id, p, len)| expect_content(store, id, *p, *len, None))).await;
    written.extend(jobs.into_iter().map(|(id, _, _)| id));

    // ---- clean up ----
    for id in &written {
        if let Err(e) = store.delete(id).await {
            panic!("delete failed: {e:?}");
        }
    }
    expect_missing(store, &written[0], "after cleanup").await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pattern_ranges_agree_with_the_whole() {
        let p = Pattern::new(7);
        let all = p.bytes(0, 100);
        for start in 0..20u64 {
            let part = p.bytes(start, 50);
            assert_eq!(&all[start as usize..start as usize + 50], &part[..]);
        }
        assert_ne!(Pattern::new(8).bytes(0, 100), all);
    }

    #[tokio::test]
    async fn streams_match_digests() {
        let p = Pattern::new(9);
        let len = 3 * MIB + 17;
        let (n, d) = drain(p.body(len)).await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(n, len);
        assert_eq!(d, p.digest(0..len));
        let (n, d) = drain(Box::pin(p.stream(MIB..2 * MIB + 3))).await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(n, MIB + 3);
        assert_eq!(d, p.digest(MIB..2 * MIB + 3));
    }
}

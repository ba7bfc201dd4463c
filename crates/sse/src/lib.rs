//! Encryption at rest (ADR 0014), pure: the key hierarchy and the chunked AES-256-GCM format of
//! encrypted blobs. No I/O: the gateway hands byte streams in and gets byte streams out.
//!
//! Keys:
//! - the **master key** (32+ random bytes, held by the gateway only) derives two key-encryption
//!   keys with HMAC-SHA256 as a PRF: one seals SSE-S3 data keys, one seals KMS key material;
//! - each object (or multipart upload) has a random 256-bit **data key**, stored only sealed:
//!   under the SSE-S3 KEK, under a KMS key (SSE-KMS) or under the customer's key (SSE-C, which
//!   is never stored: a wrong key fails to open the sealed data key);
//! - each blob is encrypted under its own **blob key**, HMAC-SHA256(data key, blob id). Blob
//!   ids are never reused, so (blob key, chunk index) never repeats a nonce, even when a part
//!   is uploaded again under the same number.
//!
//! Blob format: the plaintext cut into [`CHUNK`]-byte chunks (the last may be shorter), each
//! stored as its AES-256-GCM ciphertext followed by its 16-byte tag, the nonce being the
//! chunk's index. A reader decrypts only the chunks its range covers; a chunk moved to another
//! index or another blob fails its tag, and a truncated blob is caught by length (the metadata
//! holds the plaintext size, so the sealed length is known).

use std::io;
use std::ops::Range;
use std::pin::Pin;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use bytes::{Bytes, BytesMut};
use futures::{Stream, StreamExt};
use hmac::{Hmac, Mac};
use rand::RngCore as _;
use sha2::Sha256;
use zeroize::Zeroize as _;

/// Plaintext bytes per chunk.
pub const CHUNK: usize = 64 * 1024;
/// Bytes an AES-GCM tag adds to each chunk.
pub const TAG: usize = 16;
const SEALED_CHUNK: u64 = (CHUNK + TAG) as u64;

/// A stream of bytes (as the blob stores read and write them).
pub type ByteStream = Pin<Box<dyn Stream<Item = io::Result<Bytes>> + Send + 'static>>;

/// What can go wrong with keys and sealed values.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A key given is malformed (its text says why; it never contains the key).
    #[error("{0}")]
    BadKey(&'static str),
    /// A sealed value did not open: wrong key, or the value was altered.
    #[error("the sealed value does not open with this key")]
    WrongKey,
}

/// `Result` of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The size of a blob holding `plain` bytes encrypted.
#[must_use]
pub fn sealed_len(plain: u64) -> u64 {
    plain + (TAG as u64) * plain.div_ceil(CHUNK as u64)
}

fn prf(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable_hmac());
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().into()
}

/// HMAC takes keys of any length: this cannot happen.
fn unreachable_hmac() -> Hmac<Sha256> {
    #[allow(clippy::expect_used)]
    <Hmac<Sha256> as Mac>::new_from_slice(&[0u8; 32]).expect("HMAC takes any key length")
}

fn aead(key: &[u8; 32]) -> Aes256Gcm {
    Aes256Gcm::new(key.into())
}

/// Seals `secret` under `cipher` with a random nonce, bound to `aad`: base64(nonce || ct || tag).
fn seal(cipher: &Aes256Gcm, aad: &[u8], secret: &[u8]) -> String {
    let mut nonce = [0u8; 12];
    rand::rng().fill_bytes(&mut nonce);
    // Encryption of an in-memory buffer cannot fail (only lengths over 64 GiB could).
    let ct = cipher.encrypt(&Nonce::from(nonce), Payload { msg: secret, aad }).unwrap_or_default();
    let mut out = Vec::with_capacity(12 + ct.len());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ct);
    B64.encode(out)
}

fn open(cipher: &Aes256Gcm, aad: &[u8], sealed: &str) -> Result<Vec<u8>> {
    let raw = B64.decode(sealed).map_err(|_| Error::WrongKey)?;
    if raw.len() < 12 + TAG {
        return Err(Error::WrongKey);
    }
    let (nonce, ct) = raw.split_at(12);
    let nonce = <[u8; 12]>::try_from(nonce).map_err(|_| Error::WrongKey)?;
    cipher.decrypt(&Nonce::from(nonce), Payload { msg: ct, aad }).map_err(|_| Error::WrongKey)
}

/// A 256-bit key, wiped from memory when dropped. `Debug` shows nothing.
#[derive(Clone)]
pub struct DataKey([u8; 32]);

impl Drop for DataKey {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKey(..)")
    }
}

impl DataKey {
    /// A fresh random key.
    #[must_use]
    pub fn generate() -> Self {
        let mut k = [0u8; 32];
        rand::rng().fill_bytes(&mut k);
        Self(k)
    }

    fn from_vec(mut v: Vec<u8>) -> Result<Self> {
        let out = <[u8; 32]>::try_from(v.as_slice()).map(Self).map_err(|_| Error::WrongKey);
        v.zeroize();
        out
    }

    /// The cipher of the blob named `blob_id` (a key of its own, derived from this one).
    #[must_use]
    pub fn blob_cipher(&self, blob_id: &str) -> BlobCipher {
        let mut k = prf(&self.0, &[b"cloudstore/sse/blob/v1\0", blob_id.as_bytes()]);
        let c = BlobCipher::new(&k);
        k.zeroize();
        c
    }

    /// An ETag for an object whose plaintext MD5 is `md5`, that tells nothing about the
    /// plaintext to whoever lacks this key (AWS's SSE-C and SSE-KMS ETags are not the MD5).
    #[must_use]
    pub fn opaque_etag(&self, md5: &[u8]) -> String {
        let d = prf(&self.0, &[b"cloudstore/sse/etag/v1\0", md5]);
        d[..16].iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Seals this key under `kek` (bound to `aad`).
    fn seal_under(&self, kek: &Aes256Gcm, aad: &[u8]) -> String {
        seal(kek, aad, &self.0)
    }
}

/// The master key: base64 of at least 32 random bytes. `Debug` shows nothing.
#[derive(Clone)]
pub struct MasterKey(Vec<u8>);

impl Drop for MasterKey {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(..)")
    }
}

impl MasterKey {
    /// Parses the key's text form (base64, at least 32 bytes once decoded).
    pub fn parse(text: &str) -> Result<Self> {
        let raw = B64.decode(text.trim()).map_err(|_| Error::BadKey("the SSE master key must be base64"))?;
        if raw.len() < 32 {
            return Err(Error::BadKey("the SSE master key must be at least 32 bytes (base64 of 32 random bytes)"));
        }
        Ok(Self(raw))
    }

    /// A fresh random key in its text form.
    #[must_use]
    pub fn generate_text() -> String {
        let mut k = [0u8; 32];
        rand::rng().fill_bytes(&mut k);
        let text = B64.encode(k);
        k.zeroize();
        text
    }
}

/// The keys the gateway derives from the master key. `Debug` shows nothing.
#[derive(Clone)]
pub struct Keyring {
    s3: Aes256Gcm,
    kms: Aes256Gcm,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keyring(..)")
    }
}

const AAD_S3: &[u8] = b"cloudstore/sse-s3/v1";
const AAD_C: &[u8] = b"cloudstore/sse-c/v1";

impl Keyring {
    /// Derives the key-encryption keys from `master`.
    #[must_use]
    pub fn new(master: &MasterKey) -> Self {
        let mut s3 = prf(&master.0, &[b"cloudstore/sse/kek/sse-s3/v1"]);
        let mut kms = prf(&master.0, &[b"cloudstore/sse/kek/kms/v1"]);
        let out = Self { s3: aead(&s3), kms: aead(&kms) };
        s3.zeroize();
        kms.zeroize();
        out
    }

    /// A keyring from a fresh random master key, for this process only (tests).
    #[must_use]
    pub fn ephemeral() -> Self {
        let mut k = vec![0u8; 32];
        rand::rng().fill_bytes(&mut k);
        Self::new(&MasterKey(k))
    }

    /// Seals a data key for SSE-S3.
    #[must_use]
    pub fn seal_s3(&self, key: &DataKey) -> String {
        key.seal_under(&self.s3, AAD_S3)
    }

    /// Opens an SSE-S3 sealed data key.
    pub fn open_s3(&self, sealed: &str) -> Result<DataKey> {
        DataKey::from_vec(open(&self.s3, AAD_S3, sealed)?)
    }

    /// Makes the material of a new KMS key `key_id`, sealed under the master key (the only form
    /// it is stored in).
    #[must_use]
    pub fn new_kms_key(&self, key_id: &str) -> String {
        let k = DataKey::generate();
        k.seal_under(&self.kms, &kms_aad(key_id))
    }

    /// Opens the KMS key `key_id` from its sealed material.
    pub fn open_kms_key(&self, key_id: &str, sealed: &str) -> Result<KmsKey> {
        let k = DataKey::from_vec(open(&self.kms, &kms_aad(key_id), sealed)?)?;
        Ok(KmsKey { aead: aead(&k.0), id: key_id.to_owned() })
    }
}

fn kms_aad(key_id: &str) -> Vec<u8> {
    [b"cloudstore/kms/v1\0".as_slice(), key_id.as_bytes()].concat()
}

/// An opened KMS key: seals and opens data keys of SSE-KMS objects. `Debug` shows the id only.
#[derive(Clone)]
pub struct KmsKey {
    aead: Aes256Gcm,
    id: String,
}

impl std::fmt::Debug for KmsKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KmsKey({})", self.id)
    }
}

impl KmsKey {
    /// Seals a data key under this KMS key.
    #[must_use]
    pub fn seal(&self, key: &DataKey) -> String {
        key.seal_under(&self.aead, &kms_aad(&self.id))
    }

    /// Opens a data key sealed under this KMS key.
    pub fn open(&self, sealed: &str) -> Result<DataKey> {
        DataKey::from_vec(open(&self.aead, &kms_aad(&self.id), sealed)?)
    }
}

/// A customer's key (SSE-C), as given with a request: never stored. `Debug` shows nothing.
#[derive(Clone)]
pub struct CustomerKey {
    aead: Aes256Gcm,
    md5_b64: String,
}

impl std::fmt::Debug for CustomerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CustomerKey(..)")
    }
}

impl CustomerKey {
    /// Checks a customer key (base64 of 32 bytes) against its MD5 (base64), as S3 does.
    pub fn parse(key_b64: &str, md5_b64: &str) -> Result<Self> {
        let mut raw = B64
            .decode(key_b64.trim())
            .map_err(|_| Error::BadKey("The secret key was invalid for the specified algorithm."))?;
        if raw.len() != 32 {
            raw.zeroize();
            return Err(Error::BadKey("The secret key was invalid for the specified algorithm."));
        }
        let given = B64.decode(md5_b64.trim()).map_err(|_| {
            Error::BadKey("The calculated MD5 hash of the key did not match the hash that was provided.")
        })?;
        let actual = md5(&raw);
        if !constant_time_eq(&given, &actual) {
            raw.zeroize();
            return Err(Error::BadKey("The calculated MD5 hash of the key did not match the hash that was provided."));
        }
        let mut k = [0u8; 32];
        k.copy_from_slice(&raw);
        raw.zeroize();
        let out = Self { aead: aead(&k), md5_b64: B64.encode(actual) };
        k.zeroize();
        Ok(out)
    }

    /// The key's MD5 in base64 (what responses echo).
    #[must_use]
    pub fn md5_b64(&self) -> &str {
        &self.md5_b64
    }

    /// Seals a data key under the customer's key.
    #[must_use]
    pub fn seal(&self, key: &DataKey) -> String {
        key.seal_under(&self.aead, AAD_C)
    }

    /// Opens a data key sealed under the customer's key: [`Error::WrongKey`] for another key.
    pub fn open(&self, sealed: &str) -> Result<DataKey> {
        DataKey::from_vec(open(&self.aead, AAD_C, sealed)?)
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn md5(data: &[u8]) -> [u8; 16] {
    use md5::Digest as _;
    md5::Md5::digest(data).into()
}

/// The cipher of one blob. `Debug` shows nothing.
///
/// The chunks are AES-256-GCM as the key-sealing above, but through `ring`, whose AES-GCM picks
/// VAES/VPCLMULQDQ (AVX2) or AES-NI/PCLMULQDQ code at run time: several times the throughput
/// of the `aes-gcm` crate on the same CPU (docs/benchmarks.md). The bytes are the same (a test
/// checks one against the other), so blobs written before read the same.
#[derive(Clone)]
pub struct BlobCipher(ring::aead::LessSafeKey);

impl std::fmt::Debug for BlobCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BlobCipher(..)")
    }
}

fn chunk_nonce(index: u64) -> ring::aead::Nonce {
    let mut n = [0u8; 12];
    n[4..].copy_from_slice(&index.to_be_bytes());
    ring::aead::Nonce::assume_unique_for_key(n)
}

impl BlobCipher {
    fn new(key: &[u8; 32]) -> Self {
        // A 32-byte key is what AES-256 takes: this cannot fail.
        let key = ring::aead::UnboundKey::new(&ring::aead::AES_256_GCM, key)
            .unwrap_or_else(|_| unreachable!("AES-256-GCM takes 32-byte keys"));
        Self(ring::aead::LessSafeKey::new(key))
    }

    /// Encrypts chunk `index` in place and appends its tag.
    fn seal_chunk(&self, index: u64, buf: &mut BytesMut) {
        // Cannot fail for chunks of this size.
        if let Ok(tag) = self.0.seal_in_place_separate_tag(chunk_nonce(index), ring::aead::Aad::empty(), buf) {
            buf.extend_from_slice(tag.as_ref());
        }
    }

    /// Decrypts chunk `index` (ciphertext and tag) in place, leaving the plaintext.
    fn open_chunk(&self, index: u64, buf: &mut BytesMut) -> io::Result<()> {
        if buf.len() < TAG {
            return Err(corrupt());
        }
        let plain =
            self.0.open_in_place(chunk_nonce(index), ring::aead::Aad::empty(), buf).map_err(|_| corrupt())?.len();
        buf.truncate(plain);
        Ok(())
    }
}

fn corrupt() -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, "an encrypted blob failed authentication (altered, moved or truncated)")
}

/// Encrypts a plaintext stream into the blob format.
#[must_use]
pub fn encrypt_stream(inner: ByteStream, cipher: BlobCipher) -> ByteStream {
    struct St {
        inner: ByteStream,
        buf: BytesMut,
        ended: bool,
        index: u64,
        cipher: BlobCipher,
    }
    let st = St { inner, buf: BytesMut::new(), ended: false, index: 0, cipher };
    Box::pin(futures::stream::unfold(st, |mut st| async move {
        while !st.ended && st.buf.len() < CHUNK {
            match st.inner.next().await {
                Some(Ok(b)) => {
                    if st.buf.is_empty() && st.buf.capacity() < CHUNK + TAG {
                        st.buf.reserve(CHUNK + TAG);
                    }
                    st.buf.extend_from_slice(&b);
                }
                Some(Err(e)) => {
                    st.ended = true;
                    st.buf.clear();
                    return Some((Err(e), st));
                }
                None => st.ended = true,
            }
        }
        if st.buf.is_empty() {
            return None;
        }
        let take = st.buf.len().min(CHUNK);
        let mut chunk = st.buf.split_to(take);
        chunk.reserve(TAG);
        st.cipher.seal_chunk(st.index, &mut chunk);
        st.index += 1;
        Some((Ok(chunk.freeze()), st))
    }))
}

/// Where a plaintext range of an encrypted blob lies: which sealed bytes to read and how to
/// cut the decrypted chunks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedRange {
    /// The sealed bytes to read from the blob (whole chunks).
    pub blob_range: Range<u64>,
    /// Index of the first chunk read.
    pub first_chunk: u64,
    /// Plaintext bytes to drop from the start of the first chunk.
    pub skip: u64,
    /// Plaintext bytes to return.
    pub take: u64,
}

/// Maps `range` of a blob of `plain_len` plaintext bytes onto its sealed form.
#[must_use]
pub fn sealed_range(plain_len: u64, range: &Range<u64>) -> SealedRange {
    let chunk = CHUNK as u64;
    let end = range.end.min(plain_len);
    let start = range.start.min(end);
    let first = start / chunk;
    let last = end.div_ceil(chunk); // exclusive
    let blob_end = (last * SEALED_CHUNK).min(sealed_len(plain_len));
    SealedRange {
        blob_range: first * SEALED_CHUNK..blob_end,
        first_chunk: first,
        skip: start - first * chunk,
        take: end - start,
    }
}

/// Sealed chunks decrypted together on a blocking thread (256 KiB of plaintext).
const BATCH: usize = 4;

/// Decrypts the sealed bytes `r.blob_range` of a blob (as `inner` yields them) to the plaintext
/// range `r` describes. Altered, moved or missing bytes end the stream with an error.
///
/// Chunks are opened in batches of up to [`BATCH`] on tokio's blocking pool while the next
/// batch is read, so concurrent downloads decrypt on every core and the runtime thread only
/// moves bytes; a range within one chunk is opened in place (a thread hop would cost more).
/// Must be polled inside a tokio runtime.
#[must_use]
pub fn decrypt_stream(inner: ByteStream, cipher: BlobCipher, r: &SealedRange) -> ByteStream {
    type Opened = io::Result<Vec<BytesMut>>;
    struct St {
        inner: ByteStream,
        /// Sealed bytes read and not yet handed to a batch.
        buf: BytesMut,
        /// Sealed bytes of the range not yet handed to a batch (read or not).
        expected: u64,
        /// Index of the next chunk to hand to a batch.
        index: u64,
        skip: usize,
        left: u64,
        cipher: BlobCipher,
        /// The batch being opened on a blocking thread.
        pending: Option<tokio::task::JoinHandle<Opened>>,
        /// Opened chunks not yet returned.
        ready: std::collections::VecDeque<BytesMut>,
        failed: bool,
    }
    const SEALED: usize = CHUNK + TAG;

    /// Reads until the buffer holds the next batch's sealed bytes (or all that is left).
    async fn fill(inner: &mut ByteStream, buf: &mut BytesMut, expected: u64) -> io::Result<()> {
        let want = usize::try_from(expected).unwrap_or(usize::MAX).min(BATCH * SEALED);
        while buf.len() < want {
            match inner.next().await {
                Some(Ok(b)) => {
                    if buf.capacity() - buf.len() < b.len() {
                        buf.reserve(want.max(b.len()));
                    }
                    buf.extend_from_slice(&b);
                }
                Some(Err(e)) => return Err(e),
                None => return Err(corrupt()),
            }
        }
        Ok(())
    }

    /// Splits the next batch of whole sealed chunks off the buffer (after `fill`).
    fn take_batch(st: &mut St) -> (u64, Vec<BytesMut>) {
        let first = st.index;
        let mut chunks = Vec::with_capacity(BATCH);
        while chunks.len() < BATCH && st.expected > 0 {
            let want = usize::try_from(st.expected).unwrap_or(usize::MAX).min(SEALED);
            if st.buf.len() < want {
                break;
            }
            chunks.push(st.buf.split_to(want));
            st.expected -= want as u64;
            st.index += 1;
        }
        (first, chunks)
    }

    fn open_all(cipher: &BlobCipher, first: u64, mut chunks: Vec<BytesMut>) -> Opened {
        for (i, chunk) in (first..).zip(chunks.iter_mut()) {
            cipher.open_chunk(i, chunk)?;
        }
        Ok(chunks)
    }

    /// Starts opening the next batch: in place when it is a single short chunk, else on a
    /// blocking thread.
    fn start_batch(st: &mut St) -> io::Result<()> {
        let (first, chunks) = take_batch(st);
        if chunks.is_empty() {
            return Ok(());
        }
        if chunks.len() == 1 && chunks[0].len() < SEALED {
            st.ready.extend(open_all(&st.cipher, first, chunks)?);
            return Ok(());
        }
        let cipher = st.cipher.clone();
        st.pending = Some(tokio::task::spawn_blocking(move || open_all(&cipher, first, chunks)));
        Ok(())
    }

    let st = St {
        inner,
        buf: BytesMut::new(),
        expected: r.blob_range.end - r.blob_range.start,
        index: r.first_chunk,
        skip: usize::try_from(r.skip).unwrap_or(usize::MAX),
        left: r.take,
        cipher,
        pending: None,
        ready: std::collections::VecDeque::new(),
        failed: false,
    };
    Box::pin(futures::stream::unfold(st, |mut st| async move {
        loop {
            if st.failed || st.left == 0 {
                return None;
            }
            if let Some(mut chunk) = st.ready.pop_front() {
                let skip = st.skip.min(chunk.len());
                let _ = chunk.split_to(skip);
                st.skip = 0;
                let n = usize::try_from(st.left).unwrap_or(usize::MAX).min(chunk.len());
                chunk.truncate(n);
                st.left -= n as u64;
                if chunk.is_empty() {
                    continue;
                }
                return Some((Ok(chunk.freeze()), st));
            }
            let step = if let Some(handle) = st.pending.take() {
                // Open this batch while the next one is read.
                let (opened, filled) =
                    futures::future::join(handle, fill(&mut st.inner, &mut st.buf, st.expected)).await;
                let opened = opened.unwrap_or_else(|e| Err(io::Error::other(e))).map(|c| st.ready.extend(c));
                opened.and(filled).and_then(|()| start_batch(&mut st))
            } else if st.expected == 0 {
                // Everything was opened and returned, yet `left` says more: the range asked
                // for more than the blob holds.
                Err(corrupt())
            } else {
                match fill(&mut st.inner, &mut st.buf, st.expected).await {
                    Ok(()) => start_batch(&mut st),
                    Err(e) => Err(e),
                }
            };
            if let Err(e) = step {
                st.failed = true;
                return Some((Err(e), st));
            }
        }
    }))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::cast_possible_truncation)]
mod tests {
    use super::*;

    fn stream_of(data: &[u8], piece: usize) -> ByteStream {
        let pieces: Vec<io::Result<Bytes>> = data.chunks(piece.max(1)).map(|c| Ok(Bytes::copy_from_slice(c))).collect();
        Box::pin(futures::stream::iter(pieces))
    }

    async fn collect(s: ByteStream) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        let mut s = s;
        while let Some(b) = s.next().await {
            out.extend_from_slice(&b?);
        }
        Ok(out)
    }

    fn data(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 31 % 251) as u8).collect()
    }

    #[tokio::test]
    async fn round_trips_every_range_shape() {
        let key = DataKey::generate();
        for n in [0usize, 1, 13, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 17] {
            let plain = data(n);
            let sealed = collect(encrypt_stream(stream_of(&plain, 1000), key.blob_cipher("b1"))).await.unwrap();
            assert_eq!(sealed.len() as u64, sealed_len(n as u64), "n={n}");
            if n > 0 {
                assert_ne!(&sealed[..n.min(64)], &plain[..n.min(64)]);
            }
            let ranges = [0..n as u64, 0..1, 1..n as u64, (n as u64 / 2)..n as u64, 5..(CHUNK as u64 + 9)];
            for r in ranges {
                let r = r.start.min(n as u64)..r.end.min(n as u64);
                if r.is_empty() {
                    continue;
                }
                let sr = sealed_range(n as u64, &r);
                let part = sealed[sr.blob_range.start as usize..sr.blob_range.end as usize].to_vec();
                let got = collect(decrypt_stream(stream_of(&part, 7000), key.blob_cipher("b1"), &sr)).await.unwrap();
                assert_eq!(got, plain[r.start as usize..r.end as usize], "n={n} r={r:?}");
            }
        }
    }

    #[tokio::test]
    async fn altered_moved_or_truncated_blobs_fail() {
        let key = DataKey::generate();
        let n = 2 * CHUNK + 5;
        let plain = data(n);
        let sealed = collect(encrypt_stream(stream_of(&plain, 4096), key.blob_cipher("b1"))).await.unwrap();
        let whole = sealed_range(n as u64, &(0..n as u64));
        // Another blob's key.
        assert!(collect(decrypt_stream(stream_of(&sealed, 4096), key.blob_cipher("b2"), &whole)).await.is_err());
        // A flipped bit.
        let mut bad = sealed.clone();
        bad[10] ^= 1;
        assert!(collect(decrypt_stream(stream_of(&bad, 4096), key.blob_cipher("b1"), &whole)).await.is_err());
        // Chunks swapped.
        let sc = CHUNK + TAG;
        let mut swapped = sealed[sc..2 * sc].to_vec();
        swapped.extend_from_slice(&sealed[..sc]);
        swapped.extend_from_slice(&sealed[2 * sc..]);
        assert!(collect(decrypt_stream(stream_of(&swapped, 4096), key.blob_cipher("b1"), &whole)).await.is_err());
        // Truncated at a chunk boundary.
        let short = sealed[..2 * sc].to_vec();
        assert!(collect(decrypt_stream(stream_of(&short, 4096), key.blob_cipher("b1"), &whole)).await.is_err());
    }

    /// The chunk format is plain AES-256-GCM: what `ring` seals, the `aes-gcm` crate (the
    /// chunk cipher of the first release) opens, and the other way round, so blobs written by
    /// either read the same.
    #[tokio::test]
    async fn chunks_are_the_same_aes_gcm_as_before() {
        use aes_gcm::aead::AeadInPlace as _;
        let key = DataKey::generate();
        let blob_key = prf(&key.0, &[b"cloudstore/sse/blob/v1\0", b"b1"]);
        let old = aead(&blob_key);
        let plain = data(CHUNK + 100);
        let sealed = collect(encrypt_stream(stream_of(&plain, 5000), key.blob_cipher("b1"))).await.unwrap();
        for (i, c) in sealed.chunks(CHUNK + TAG).enumerate() {
            let (ct, tag) = c.split_at(c.len() - TAG);
            let mut buf = ct.to_vec();
            let nonce = Nonce::from(chunk_nonce(i as u64).as_ref().to_owned());
            old.decrypt_in_place_detached(
                &nonce,
                b"",
                &mut buf,
                &aes_gcm::Tag::from(<[u8; TAG]>::try_from(tag).unwrap()),
            )
            .unwrap();
            assert_eq!(buf, plain[i * CHUNK..(i * CHUNK + buf.len())]);
        }
        // And a blob sealed the old way opens.
        let mut old_sealed = Vec::new();
        for (i, c) in plain.chunks(CHUNK).enumerate() {
            let mut buf = c.to_vec();
            let nonce = Nonce::from(chunk_nonce(i as u64).as_ref().to_owned());
            let tag = old.encrypt_in_place_detached(&nonce, b"", &mut buf).unwrap();
            old_sealed.extend_from_slice(&buf);
            old_sealed.extend_from_slice(&tag);
        }
        assert_eq!(old_sealed, sealed);
        let whole = sealed_range(plain.len() as u64, &(0..plain.len() as u64));
        let got = collect(decrypt_stream(stream_of(&old_sealed, 3000), key.blob_cipher("b1"), &whole)).await.unwrap();
        assert_eq!(got, plain);
    }

    #[test]
    fn sealed_keys_open_only_with_their_key() {
        let master = MasterKey::parse(&MasterKey::generate_text()).unwrap();
        let ring = Keyring::new(&master);
        let dk = DataKey::generate();
        let s = ring.seal_s3(&dk);
        assert_eq!(ring.open_s3(&s).unwrap().0, dk.0);
        let other = Keyring::new(&MasterKey::parse(&MasterKey::generate_text()).unwrap());
        assert!(other.open_s3(&s).is_err());

        let kms_material = ring.new_kms_key("k1");
        let kms = ring.open_kms_key("k1", &kms_material).unwrap();
        assert!(ring.open_kms_key("k2", &kms_material).is_err(), "material is bound to its id");
        let sealed = kms.seal(&dk);
        assert_eq!(kms.open(&sealed).unwrap().0, dk.0);
        assert!(ring.open_s3(&sealed).is_err());

        let ck =
            CustomerKey::parse("pO3upElrwuEXSoFwCfnZPdSsmt/xWeFa0N9KgDijwVs=", "DWygnHRtgiJ77HCm+1rvHw==").unwrap();
        let other_ck =
            CustomerKey::parse("6b+WOZ1T3cqZMxgThRcXAQBrS5mXKdDUphvpxptl9/4=", "arxBvwY2V4SiOne6yppVPQ==").unwrap();
        let sealed = ck.seal(&dk);
        assert_eq!(ck.open(&sealed).unwrap().0, dk.0);
        assert!(other_ck.open(&sealed).is_err());
    }

    #[test]
    fn customer_keys_are_checked_by_md5() {
        assert!(
            CustomerKey::parse("pO3upElrwuEXSoFwCfnZPdSsmt/xWeFa0N9KgDijwVs=", "AAAAAAAAAAAAAAAAAAAAAA==").is_err()
        );
        assert!(CustomerKey::parse("c2hvcnQ=", "AAAAAAAAAAAAAAAAAAAAAA==").is_err());
        assert_eq!(
            md5(b""),
            [0xd4, 0x1d, 0x8c, 0xd9, 0x8f, 0x00, 0xb2, 0x04, 0xe9, 0x80, 0x09, 0x98, 0xec, 0xf8, 0x42, 0x7e]
        );
        assert!(MasterKey::parse("c2hvcnQ=").is_err());
        assert!(MasterKey::parse("***").is_err());
    }

    #[test]
    fn sealed_sizes() {
        assert_eq!(sealed_len(0), 0);
        assert_eq!(sealed_len(1), 17);
        assert_eq!(sealed_len(CHUNK as u64), CHUNK as u64 + 16);
        assert_eq!(sealed_len(CHUNK as u64 + 1), CHUNK as u64 + 33);
        let r = sealed_range(3 * CHUNK as u64, &(CHUNK as u64 + 5..CHUNK as u64 + 10));
        assert_eq!(r, SealedRange { blob_range: SEALED_CHUNK..2 * SEALED_CHUNK, first_chunk: 1, skip: 5, take: 5 });
    }
}

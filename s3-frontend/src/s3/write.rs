//! The write path shared by PutObject, UploadPart, CopyObject and UploadPartCopy: register a
//! pending blob, stream the body into it while hashing, verify what the client declared.
//! Any failure abandons the blob, so nothing is left behind (the collector deletes it).

use std::ops::Range;

use cloudstore_store_api::{BlobId, ObjectMeta, StoreError};
use cloudstore_types::ChecksumAlgorithm;
use futures::StreamExt;
use s3s::dto::StreamingBlob;
use s3s::{S3Result, s3_error};

use super::Gateway;
use super::checksum::{Digests, hashing_body, parse_content_md5, verify_checksum};
use crate::error::store_error;

/// A body written to a pending blob (none for an empty body).
#[derive(Debug)]
pub(crate) struct Written {
    /// The new blob, still pending until a metadata commit makes it live.
    pub(crate) blob: Option<BlobId>,
    /// What the body hashed to.
    pub(crate) digests: Digests,
}

/// What the client declared about a body, to verify after reading it.
#[derive(Debug, Default)]
pub(crate) struct Declared<'a> {
    pub(crate) content_md5: Option<&'a str>,
    pub(crate) checksum: Option<(ChecksumAlgorithm, String)>,
}

impl Gateway {
    /// Streams `body` (of `len` bytes when known) into a new pending blob, computing MD5 and
    /// `algorithm` over the plaintext; with `seal`, the blob holds the data encrypted under
    /// that data key (ADR 0014), so the blob store never sees the plaintext.
    pub(crate) async fn write_body(
        &self,
        body: Option<StreamingBlob>,
        len: Option<u64>,
        algorithm: Option<ChecksumAlgorithm>,
        seal: Option<&cloudstore_sse::DataKey>,
    ) -> S3Result<Written> {
        self.write_body_max(body, len, algorithm, seal, self.cfg.max_object_size).await
    }

    /// [`Self::write_body`] of a body that may hold at most `max` bytes (`EntityTooLarge`).
    pub(crate) async fn write_body_max(
        &self,
        body: Option<StreamingBlob>,
        len: Option<u64>,
        algorithm: Option<ChecksumAlgorithm>,
        seal: Option<&cloudstore_sse::DataKey>,
        max: u64,
    ) -> S3Result<Written> {
        if len.is_some_and(|n| n > max) {
            return Err(s3_error!(EntityTooLarge, "Your proposed upload exceeds the maximum allowed size."));
        }
        let body = body
            .unwrap_or_else(|| StreamingBlob::wrap(futures::stream::empty::<Result<bytes::Bytes, std::io::Error>>()));
        let (mut stream, result) = hashing_body(body, algorithm, len, max);
        if len == Some(0) {
            // Nothing to store, but an aws-chunked body still carries its trailer: read it all.
            while let Some(chunk) = stream.next().await {
                if chunk.is_err() {
                    break;
                }
            }
            return match result.digests() {
                Some(digests) => Ok(Written { blob: None, digests }),
                None => Err(result.client_error().unwrap_or_else(|| s3_error!(IncompleteBody))),
            };
        }
        let blob = self.pending_blob().await?;
        let (stream, len) = match seal {
            Some(key) => (
                cloudstore_sse::encrypt_stream(stream, key.blob_cipher(blob.as_str())),
                len.map(cloudstore_sse::sealed_len),
            ),
            None => (stream, len),
        };
        match self.blobs.put(&blob, stream, len).await {
            Ok(_) => {}
            Err(e) => {
                self.abandon(&blob).await;
                return Err(result.client_error().unwrap_or_else(|| store_error(e)));
            }
        }
        match result.digests() {
            Some(digests) => Ok(Written { blob: Some(blob), digests }),
            None => {
                self.abandon(&blob).await;
                Err(result.client_error().unwrap_or_else(|| s3_error!(IncompleteBody)))
            }
        }
    }

    /// Copies `range` of `src` (read with its data key `src_key`) into a new pending blob
    /// (sealed under `seal`), computing MD5 and `algorithm`.
    pub(crate) async fn copy_range(
        &self,
        src: &ObjectMeta,
        src_key: Option<&cloudstore_sse::DataKey>,
        range: Range<u64>,
        algorithm: Option<ChecksumAlgorithm>,
        seal: Option<&cloudstore_sse::DataKey>,
    ) -> S3Result<Written> {
        let len = range.end - range.start;
        let stream = self.open_range(src, range, src_key).await?;
        let body = StreamingBlob::wrap(sync_wrapper::SyncStream::new(stream));
        self.write_body(Some(body), Some(len), algorithm, seal).await
    }

    /// Marks a pending blob as garbage now. Best effort: if this fails too, the blob's pending
    /// deadline still gets it collected.
    pub(crate) async fn abandon(&self, blob: &BlobId) {
        if let Err(e) = self.meta.abandon_blobs(std::slice::from_ref(blob)).await {
            tracing::warn!(%blob, error = %e, "could not mark blob as garbage; its deadline will");
        }
    }

    /// Abandons `w`'s blob (if any) and returns `err`: for failures after the body was written.
    pub(crate) async fn discard<T>(&self, w: &Written, err: s3s::S3Error) -> S3Result<T> {
        if let Some(b) = &w.blob {
            self.abandon(b).await;
        }
        Err(err)
    }

    /// A metadata commit of `w` failed. The blob is abandoned only when the failure is
    /// definite (the transaction certainly rolled back); after an unknown outcome (connection
    /// lost during commit) the commit may have succeeded, so the blob is left to its pending
    /// deadline, which the collector honours only if the commit did not happen.
    pub(crate) async fn commit_failed(&self, w: &Written, e: StoreError) -> s3s::S3Error {
        if matches!(e, StoreError::BlobReclaimed | StoreError::Unavailable(_)) {
            // Registrations commit asynchronously: after a database crash the reserved ids may
            // not be pending any more. Start over with fresh ones.
            self.reserve.clear();
        }
        let definite = !matches!(e, StoreError::Unavailable(_) | StoreError::Backend(_));
        if definite && let Some(b) = &w.blob {
            self.abandon(b).await;
        }
        store_error(e)
    }

    /// Verifies `Content-MD5` and a declared checksum against what was read; abandons the
    /// blob on mismatch.
    pub(crate) async fn verify_declared(&self, w: &Written, declared: &Declared<'_>) -> S3Result<()> {
        if let Some(md5) = declared.content_md5 {
            let expected = match parse_content_md5(md5) {
                Ok(v) => v,
                Err(e) => return self.discard(w, e).await,
            };
            if expected != w.digests.md5 {
                return self
                    .discard(w, s3_error!(BadDigest, "The Content-MD5 you specified did not match what we received."))
                    .await;
            }
        }
        if let Some((algorithm, value)) = &declared.checksum {
            let actual = match &w.digests.checksum {
                Some((a, v)) if a == algorithm => v.clone(),
                _ => {
                    return self.discard(w, s3_error!(InvalidRequest, "Checksum algorithm mismatch.")).await;
                }
            };
            if let Err(e) = verify_checksum(*algorithm, value, &actual) {
                return self.discard(w, e).await;
            }
        }
        Ok(())
    }
}

//! The collector: deletes blobs that are no longer live (replaced, deleted, aborted, or
//! pending past their deadline) and aborts multipart uploads abandoned for too long. Requests
//! never delete blobs themselves, so a failing request can't lose data or leak it.

use std::sync::Arc;
use std::time::Duration;

use cloudstore_store_api::{BlobStore, MetadataStore, Result};
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;

/// What one pass of the collector did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Collected {
    /// Blobs deleted.
    pub blobs: usize,
    /// Stale multipart uploads aborted.
    pub uploads: usize,
}

/// The background collector.
#[derive(Debug, Clone)]
pub struct Collector {
    meta: Arc<dyn MetadataStore>,
    blobs: Arc<dyn BlobStore>,
    /// Multipart uploads older than this are aborted.
    pub upload_ttl: Duration,
    /// Pause between passes.
    pub interval: Duration,
}

impl Collector {
    /// A collector with the defaults: aborts uploads idle for 7 days, runs every 30 s.
    pub fn new(meta: Arc<dyn MetadataStore>, blobs: Arc<dyn BlobStore>) -> Self {
        Self { meta, blobs, upload_ttl: Duration::from_secs(7 * 24 * 3600), interval: Duration::from_secs(30) }
    }

    /// One pass: everything due now.
    pub async fn run_once(&self) -> Result<Collected> {
        let mut done = Collected::default();
        let now = OffsetDateTime::now_utc();
        let ttl = time::Duration::try_from(self.upload_ttl).unwrap_or(time::Duration::days(7));
        loop {
            let stale = self.meta.stale_uploads(now - ttl, 100).await?;
            let n = stale.len();
            for u in stale {
                match self.meta.abort_upload(&u.bucket, &u.key, &u.upload_id).await {
                    Ok(()) | Err(cloudstore_store_api::StoreError::NoSuchUpload) => done.uploads += 1,
                    Err(e) => return Err(e),
                }
            }
            if n < 100 {
                break;
            }
        }
        loop {
            let due = self.meta.due_blobs(now, 500).await?;
            let n = due.len();
            for blob in due {
                if !self.meta.claim_blob(&blob, now).await? {
                    continue;
                }
                if let Err(e) = self.blobs.delete(&blob).await {
                    // Put it back in the queue; the next pass retries.
                    tracing::warn!(%blob, error = %e, "blob delete failed; will retry");
                    self.meta.abandon_blobs(std::slice::from_ref(&blob)).await?;
                    continue;
                }
                done.blobs += 1;
            }
            if n < 500 {
                break;
            }
        }
        Ok(done)
    }

    /// Runs passes until `shutdown` is cancelled.
    pub async fn run(self, shutdown: CancellationToken) {
        loop {
            match self.run_once().await {
                Ok(c) if c.blobs + c.uploads > 0 => tracing::info!(blobs = c.blobs, uploads = c.uploads, "collected"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "collector pass failed"),
            }
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(self.interval) => {}
            }
        }
    }
}

//! Pending blob ids registered ahead of need, so that most writes skip a metadata round trip.
//!
//! ADR 0001 registers every blob as pending before its bytes are written. Under load, doing
//! that one blob at a time costs a statement per PUT; here one statement registers a batch,
//! and writes take ids from the batch. The batch size adapts: it doubles (up to
//! [`MAX_BATCH`]) while batches run out within a second of each other, and falls back to one
//! when writes are rare, so a quiet server registers what it uses, one at a time, as before.
//!
//! An id's pending deadline starts when it is registered, so ids older than [`max_age`] (a
//! quarter of the pending TTL, at most a minute) are not handed out: every write still has at
//! least three quarters of the TTL to finish. Those left over are marked due at the next
//! refill, and the collector reclaims them like any abandoned blob (deleting a blob that was
//! never written is a no-op); ids still in the reserve when the process stops are reclaimed
//! when their deadline passes.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cloudstore_store_api::{BlobId, MetadataStore, StoreError};

/// Most ids registered by one statement.
pub(crate) const MAX_BATCH: usize = 64;

/// Batches used up faster than this make the next one bigger.
const BUSY: Duration = Duration::from_secs(1);

/// The longest an id waits in the reserve.
pub(crate) fn max_age(pending_ttl: Duration) -> Duration {
    (pending_ttl / 4).min(Duration::from_secs(60))
}

#[derive(Debug)]
pub(crate) struct BlobReserve {
    meta: Arc<dyn MetadataStore>,
    pending_ttl: Duration,
    state: Mutex<State>,
    /// One refill at a time; the others wait for it and take from its batch.
    refill: tokio::sync::Mutex<()>,
}

#[derive(Debug)]
struct State {
    /// Registered ids, newest last, with when they were registered.
    ids: Vec<(BlobId, Instant)>,
    batch: usize,
    last_refill: Option<Instant>,
}

impl BlobReserve {
    pub(crate) fn new(meta: Arc<dyn MetadataStore>, pending_ttl: Duration) -> Self {
        BlobReserve {
            meta,
            pending_ttl,
            state: Mutex::new(State { ids: Vec::new(), batch: 1, last_refill: None }),
            refill: tokio::sync::Mutex::new(()),
        }
    }

    /// A new blob id, registered as pending with at least three quarters of the pending TTL
    /// left.
    pub(crate) async fn take(&self) -> Result<BlobId, StoreError> {
        loop {
            if let Some(id) = self.pop_fresh() {
                return Ok(id);
            }
            let _refilling = self.refill.lock().await;
            if let Some(id) = self.pop_fresh() {
                return Ok(id);
            }
            let (size, stale) = self.next_batch();
            if !stale.is_empty()
                && let Err(e) = self.meta.abandon_blobs(&stale).await
            {
                // Their deadline still gets them collected.
                tracing::warn!(count = stale.len(), error = %e, "could not mark unused pending blobs as garbage");
            }
            let ids: Vec<BlobId> = (0..size).map(|_| BlobId::generate()).collect();
            let registered = Instant::now();
            let deadline = time::OffsetDateTime::now_utc()
                + time::Duration::try_from(self.pending_ttl).unwrap_or(time::Duration::hours(6));
            self.meta.register_blobs(&ids, deadline).await?;
            let mut state = self.lock();
            // Newest last; handed out from the end.
            state.ids.extend(ids.into_iter().rev().map(|id| (id, registered)));
        }
    }

    /// Forgets the reserved ids (they may have been lost: see `Gateway::commit_failed`); their
    /// deadlines get them collected.
    pub(crate) fn clear(&self) {
        self.lock().ids.clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn pop_fresh(&self) -> Option<BlobId> {
        let max_age = max_age(self.pending_ttl);
        let mut state = self.lock();
        match state.ids.last() {
            Some((_, at)) if at.elapsed() <= max_age => state.ids.pop().map(|(id, _)| id),
            _ => None,
        }
    }

    /// The size of the next batch, and the ids too old to hand out (taken out of the reserve).
    fn next_batch(&self) -> (usize, Vec<BlobId>) {
        let mut state = self.lock();
        let now = Instant::now();
        state.batch = match state.last_refill {
            Some(t) if now.duration_since(t) < BUSY => (state.batch * 2).min(MAX_BATCH),
            Some(t) if now.duration_since(t) < 10 * BUSY => state.batch,
            _ => 1,
        };
        state.last_refill = Some(now);
        let stale = std::mem::take(&mut state.ids).into_iter().map(|(id, _)| id).collect();
        (state.batch, stale)
    }

    #[cfg(test)]
    fn reserved(&self) -> usize {
        self.lock().ids.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_wait_at_most_a_quarter_of_the_ttl() {
        assert_eq!(max_age(Duration::from_secs(6 * 3600)), Duration::from_secs(60));
        assert_eq!(max_age(Duration::from_secs(8)), Duration::from_secs(2));
    }

    #[tokio::test]
    async fn batches_grow_under_load_and_every_id_is_registered_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let meta: Arc<dyn MetadataStore> = Arc::new(
            cloudstore_store_sqlite::SqliteMetadataStore::open(&dir.path().join("meta.db")).await.expect("open"),
        );
        let reserve = BlobReserve::new(meta.clone(), Duration::from_secs(3600));
        let mut seen = std::collections::HashSet::new();
        for _ in 0..40 {
            let id = reserve.take().await.expect("take");
            assert!(seen.insert(id.clone()), "{id} handed out twice");
        }
        // 1 + 2 + 4 + 8 + 16 + 32 = 63 registered for 40 takes in quick succession.
        assert_eq!(reserve.reserved(), 63 - 40);
        // Every id handed out is pending: a commit can claim it (abandoning it succeeds, and the
        // store's own suite checks that only registered ids can be claimed).
        let ids: Vec<BlobId> = seen.into_iter().collect();
        meta.abandon_blobs(&ids).await.expect("abandon");
    }

    #[tokio::test]
    async fn old_ids_are_not_handed_out() {
        let dir = tempfile::tempdir().expect("tempdir");
        let meta: Arc<dyn MetadataStore> = Arc::new(
            cloudstore_store_sqlite::SqliteMetadataStore::open(&dir.path().join("meta.db")).await.expect("open"),
        );
        // A 400 ms TTL: ids older than 100 ms are stale.
        let reserve = BlobReserve::new(meta, Duration::from_millis(400));
        reserve.take().await.expect("take");
        reserve.take().await.expect("take"); // second batch of 2: one left
        assert_eq!(reserve.reserved(), 1);
        tokio::time::sleep(Duration::from_millis(150)).await;
        reserve.take().await.expect("take");
        // The stale id was dropped (and marked due); a fresh batch was registered.
        assert!(reserve.lock().ids.iter().all(|(_, at)| at.elapsed() < Duration::from_millis(100)));
        reserve.clear();
        assert_eq!(reserve.reserved(), 0);
    }
}

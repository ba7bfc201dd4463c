//! Object reads from concurrent requests share statements.
//!
//! Every GET and HEAD reads one object row. Under load many such reads are waiting at once, and
//! each statement costs a round trip and a wake-up of a PostgreSQL backend (ADR 0005). Reads
//! here are queued; at most [`MAX_IN_FLIGHT`] statements run at a time, each fetching every
//! row queued when it starts (up to [`MAX_BATCH`]), so a quiet server sends one statement per
//! read, immediately, and a busy one a statement per batch.
//!
//! Freshness is that of a single read: a statement is always sent after every read it answers
//! was asked for, so it sees every write acknowledged before those reads began
//! (read-after-write holds). Statements run in spawned tasks: a request that goes away
//! (client disconnected) never cancels the reads of the others.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use cloudstore_store_api::{Result, StoreError};
use tokio::sync::oneshot;

use crate::codec::ObjectRow;
use crate::error::db_err;
use crate::hot::{self, HotPool};

/// Statements in flight at most.
pub(crate) const MAX_IN_FLIGHT: usize = 2;

/// Reads answered by one statement at most.
pub(crate) const MAX_BATCH: usize = 64;

type Reply = oneshot::Sender<Result<Option<ObjectRow>>>;

#[derive(Default)]
struct Queue {
    waiting: Vec<(String, String, Reply)>,
    in_flight: usize,
}

impl std::fmt::Debug for Queue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Queue").field("waiting", &self.waiting.len()).field("in_flight", &self.in_flight).finish()
    }
}

/// The batching reader. Cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct ObjectReader {
    hot: Arc<HotPool>,
    queue: Arc<Mutex<Queue>>,
}

impl ObjectReader {
    pub(crate) fn new(hot: Arc<HotPool>) -> Self {
        ObjectReader { hot, queue: Arc::new(Mutex::new(Queue::default())) }
    }

    /// The row of `bucket`/`key`, if any.
    pub(crate) async fn get(&self, bucket: &str, key: &str) -> Result<Option<ObjectRow>> {
        let (tx, rx) = oneshot::channel();
        let start = {
            let mut q = self.lock();
            q.waiting.push((bucket.to_owned(), key.to_owned(), tx));
            if q.in_flight < MAX_IN_FLIGHT {
                q.in_flight += 1;
                true
            } else {
                false
            }
        };
        if start {
            tokio::spawn(self.clone().drain());
        }
        match rx.await {
            Ok(r) => r,
            // The task ended without answering: only if the runtime is shutting down.
            Err(_) => Err(StoreError::unavailable(std::io::Error::other("object read abandoned"))),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Runs statements until nothing waits, then gives its slot back.
    async fn drain(self) {
        loop {
            let batch: Vec<(String, String, Reply)> = {
                let mut q = self.lock();
                if q.waiting.is_empty() {
                    q.in_flight -= 1;
                    return;
                }
                let n = q.waiting.len().min(MAX_BATCH);
                q.waiting.drain(..n).collect()
            };
            self.answer(batch).await;
        }
    }

    async fn answer(&self, batch: Vec<(String, String, Reply)>) {
        if let [(bucket, key, _)] = batch.as_slice() {
            let result = self.one(bucket, key).await;
            if let Some((_, _, reply)) = batch.into_iter().next() {
                let _ = reply.send(result);
            }
            return;
        }
        let buckets: Vec<&str> = batch.iter().map(|(b, _, _)| b.as_str()).collect();
        let keys: Vec<&str> = batch.iter().map(|(_, k, _)| k.as_str()).collect();
        match self.many(&buckets, &keys).await {
            Ok(rows) => {
                let mut by_id: HashMap<(String, String), ObjectRow> = HashMap::with_capacity(rows.len());
                for row in rows {
                    let (b, k) = row.id();
                    by_id.insert((b.to_owned(), k.to_owned()), row);
                }
                for (bucket, key, reply) in batch {
                    // The same key asked twice gets the same row twice.
                    let row = by_id.get(&(bucket, key)).cloned();
                    let _ = reply.send(Ok(row));
                }
            }
            Err(e) => {
                let message = e.to_string();
                let unavailable = matches!(e, StoreError::Unavailable(_));
                for (_, _, reply) in batch {
                    let err = std::io::Error::other(message.clone());
                    let _ = reply.send(Err(if unavailable {
                        StoreError::unavailable(err)
                    } else {
                        StoreError::backend(err)
                    }));
                }
            }
        }
    }

    async fn one(&self, bucket: &str, key: &str) -> Result<Option<ObjectRow>> {
        hot::hot!(self.hot, retry: true, |conn| {
            sqlx::query_as(concat!("SELECT ", object_columns!(), " FROM objects WHERE bucket = $1 AND key = $2"))
                .bind(bucket)
                .bind(key)
                .fetch_optional(conn)
        })
        .await
        .map_err(db_err)
    }

    async fn many(&self, buckets: &[&str], keys: &[&str]) -> Result<Vec<ObjectRow>> {
        hot::hot!(self.hot, retry: true, |conn| {
            sqlx::query_as(concat!(
                "SELECT ",
                object_columns!(),
                " FROM objects WHERE (bucket, key) IN (SELECT b, k FROM unnest($1::text[], $2::text[]) AS t(b, k))"
            ))
            .bind(buckets)
            .bind(keys)
            .fetch_all(conn)
        })
        .await
        .map_err(db_err)
    }
}

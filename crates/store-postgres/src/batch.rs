//! The statements of concurrent requests are shared: object reads (every GET and HEAD) and
//! PUT commits (group commit).
//!
//! Under load many such statements wait at once, and each costs a round trip and a wake-up of
//! a PostgreSQL backend — and a commit its own WAL flush (ADR 0005). A [`Batcher`] queues them;
//! at most [`MAX_IN_FLIGHT`] statements of a kind run at a time, each answering every request
//! queued when it starts (up to the batch limit), so a quiet server sends one statement per
//! request, at once, and a busy one a statement per batch. Before it takes its batch a
//! statement lets the requests that are ready to run in the same turn of the scheduler queue
//! theirs.
//!
//! - Freshness is that of a single statement: a statement is always sent after every request
//!   it answers was queued, so a read sees every write acknowledged before it began
//!   (read-after-write holds).
//! - Writes are acknowledged only after the statement that carries them committed. The items of
//!   one commit are ordered by bucket and key, so two commits lock object rows in the same
//!   order and cannot deadlock each other. An item that is refused (no bucket, precondition,
//!   reclaimed blob, conflict) writes nothing and does not affect the others. When the server
//!   refuses the whole statement (its transaction rolled back, nothing written), one item may
//!   be at fault, so each item runs again alone and gets its own outcome. Any other failure
//!   (the connection broke, a timeout, an answer that did not decode) may hide a commit: every
//!   item of the batch gets the error and none is retried.
//! - Statements run in spawned tasks: a request that goes away (client disconnected) never
//!   cancels the statements of the others; it is dropped from the queue if its statement has
//!   not started. A request queued longer than the batcher's `max_wait` is answered
//!   `Unavailable` without being run.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cloudstore_store_api::{Result, StoreError};
use cloudstore_store_sql::codec::ObjectRow;
use cloudstore_store_sql::object_columns;
use tokio::sync::oneshot;

use crate::error::{db_err, is_refusal};
use crate::hot::{self, HotPool};

/// Statements of one kind in flight at most.
pub(crate) const MAX_IN_FLIGHT: usize = 2;

/// Reads answered by one statement at most.
pub(crate) const MAX_READS: usize = 64;

/// PUT commits in one transaction at most (each is a subtransaction-free function call, but a
/// transaction that writes many rows holds their locks until its commit).
pub(crate) const MAX_COMMITS: usize = 32;

/// A kind of statement that answers many requests at once.
pub(crate) trait Job: Send + Sync + 'static {
    type Item: Send + 'static;
    type Output: Send + 'static;
    /// Answers every item, in order.
    fn run(&self, items: Vec<Self::Item>) -> impl Future<Output = Vec<Result<Self::Output>>> + Send;
}

type Reply<T> = oneshot::Sender<Result<T>>;

struct Queue<J: Job> {
    /// Requests in arrival order, with when each was queued.
    waiting: VecDeque<(J::Item, Reply<J::Output>, Instant)>,
    in_flight: usize,
}

/// Queues requests of one [`Job`] and runs them in shared statements. Cheap to clone.
pub(crate) struct Batcher<J: Job> {
    job: Arc<J>,
    queue: Arc<Mutex<Queue<J>>>,
    max_batch: usize,
    /// A request still queued after this long is answered `Unavailable` instead of run (the
    /// database is stalled or overloaded: callers get an answer, not an endless wait).
    max_wait: Duration,
}

impl<J: Job> Clone for Batcher<J> {
    fn clone(&self) -> Self {
        Batcher { job: self.job.clone(), queue: self.queue.clone(), max_batch: self.max_batch, max_wait: self.max_wait }
    }
}

impl<J: Job> std::fmt::Debug for Batcher<J> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let q = self.lock();
        f.debug_struct("Batcher").field("waiting", &q.waiting.len()).field("in_flight", &q.in_flight).finish()
    }
}

impl<J: Job> Batcher<J> {
    pub(crate) fn new(job: J, max_batch: usize, max_wait: Duration) -> Self {
        Batcher {
            job: Arc::new(job),
            queue: Arc::new(Mutex::new(Queue { waiting: VecDeque::new(), in_flight: 0 })),
            max_batch,
            max_wait,
        }
    }

    /// Queues `item` and waits for its answer.
    pub(crate) async fn submit(&self, item: J::Item) -> Result<J::Output> {
        let (tx, rx) = oneshot::channel();
        let start = {
            let mut q = self.lock();
            q.waiting.push_back((item, tx, Instant::now()));
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
            // The task ended without answering: the runtime is shutting down, or it panicked.
            Err(_) => Err(StoreError::unavailable(std::io::Error::other("statement abandoned"))),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Queue<J>> {
        self.queue.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Runs statements until nothing waits, then gives its slot back (also if a statement
    /// panics: see [`Slot`]). Requests whose caller went away are dropped unrun (a PUT whose
    /// client disconnected is not committed); requests queued longer than `max_wait` are
    /// answered `Unavailable` unrun.
    async fn drain(self) {
        let mut slot = Slot { batcher: self.clone(), held: true };
        loop {
            // Let every request that is ready to run in this turn of the scheduler queue
            // first: one statement then answers all of them.
            tokio::task::yield_now().await;
            let (batch, late) = {
                let mut q = self.lock();
                if q.waiting.is_empty() {
                    // Under the lock that `submit` takes: a request queued after this sees the
                    // free place and starts a new drain task.
                    q.in_flight -= 1;
                    slot.held = false;
                    return;
                }
                let mut batch = Vec::new();
                let mut late = Vec::new();
                while batch.len() < self.max_batch
                    && let Some((item, reply, since)) = q.waiting.pop_front()
                {
                    if reply.is_closed() {
                        continue;
                    }
                    if since.elapsed() > self.max_wait {
                        late.push(reply);
                    } else {
                        batch.push((item, reply));
                    }
                }
                (batch, late)
            };
            for reply in late {
                let waited = std::io::Error::other(format!("queued longer than {:?} for the database", self.max_wait));
                let _ = reply.send(Err(StoreError::unavailable(waited)));
            }
            if batch.is_empty() {
                continue;
            }
            let (items, replies): (Vec<_>, Vec<_>) = batch.into_iter().unzip();
            let answers = self.job.run(items).await;
            // A missing answer (never expected) drops its reply: that request sees an error.
            for (reply, answer) in replies.into_iter().zip(answers) {
                let _ = reply.send(answer);
            }
        }
    }
}

/// A drain task's place among the [`MAX_IN_FLIGHT`], for the task's abnormal ends (a statement
/// panicked, or the runtime dropped the task): the place goes back, or to a new drain task if
/// requests are waiting, so they are not left until the next request arrives.
struct Slot<J: Job> {
    batcher: Batcher<J>,
    /// Still counted in `in_flight` (the normal exit gives the place back itself).
    held: bool,
}

impl<J: Job> Drop for Slot<J> {
    fn drop(&mut self) {
        if !self.held {
            return;
        }
        let mut q = self.batcher.lock();
        if !q.waiting.is_empty()
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            // The place passes to a new drain task, which gives it back in turn.
            drop(q);
            runtime.spawn(self.batcher.clone().drain());
            return;
        }
        q.in_flight -= 1;
    }
}

/// The same failure for each of `n` items. A lone item gets the error itself; for more
/// (`StoreError` is not `Clone`) the message is kept, and whether it was `Unavailable`.
fn fan_out<T>(e: StoreError, n: usize) -> Vec<Result<T>> {
    if n == 1 {
        return vec![Err(e)];
    }
    let message = e.to_string();
    let unavailable = matches!(e, StoreError::Unavailable(_));
    (0..n)
        .map(|_| {
            let err = std::io::Error::other(message.clone());
            Err(if unavailable { StoreError::unavailable(err) } else { StoreError::backend(err) })
        })
        .collect()
}

/// Object reads: (bucket, key) → the row, if any.
#[derive(Debug)]
pub(crate) struct Reads {
    pub(crate) hot: Arc<HotPool>,
}

impl Job for Reads {
    type Item = (String, String);
    type Output = Option<ObjectRow>;

    async fn run(&self, items: Vec<(String, String)>) -> Vec<Result<Option<ObjectRow>>> {
        if let [(bucket, key)] = items.as_slice() {
            return vec![self.one(bucket, key).await];
        }
        let buckets: Vec<&str> = items.iter().map(|(b, _)| b.as_str()).collect();
        let keys: Vec<&str> = items.iter().map(|(_, k)| k.as_str()).collect();
        match self.many(&buckets, &keys).await {
            Ok(rows) => {
                let by_id: HashMap<(&str, &str), &ObjectRow> = rows.iter().map(|row| (row.id(), row)).collect();
                // The same key asked twice gets the same row twice.
                items.iter().map(|(b, k)| Ok(by_id.get(&(b.as_str(), k.as_str())).map(|row| (*row).clone()))).collect()
            }
            // The server refused the statement: one read may be at fault (a value it cannot
            // take), so each is asked alone and only that one fails.
            Err(e) if is_refusal(&e) => {
                tracing::debug!(error = %e, reads = items.len(), "batched read refused; reading one by one");
                let mut answers = Vec::with_capacity(items.len());
                for (bucket, key) in &items {
                    answers.push(self.one(bucket, key).await);
                }
                answers
            }
            Err(e) => fan_out(db_err(e), items.len()),
        }
    }
}

impl Reads {
    async fn one(&self, bucket: &str, key: &str) -> Result<Option<ObjectRow>> {
        hot::hot!(self.hot, retry: true, |conn| {
            sqlx::query_as(cloudstore_store_sql::OBJECT_BY_KEY)
                .bind(bucket)
                .bind(key)
                .fetch_optional(conn)
        })
        .await
        .map_err(db_err)
    }

    async fn many(&self, buckets: &[&str], keys: &[&str]) -> std::result::Result<Vec<ObjectRow>, sqlx::Error> {
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
    }
}

/// One PUT's commit: the object's columns as stored, the pending blobs it clears, its
/// condition and when the blobs of an object it replaces may be collected.
pub(crate) struct Commit {
    pub(crate) row: ObjectRow,
    pub(crate) blobs: Vec<String>,
    pub(crate) if_match: Option<String>,
    pub(crate) if_none_match: bool,
    pub(crate) not_before: i64,
    /// The events of this write, into the outbox if it is written (ADR 0006).
    pub(crate) events: Vec<cloudstore_store_api::OutboxEvent>,
}

/// PUT commits: the function `put_objects` (migrations 0004 and 0005), one transaction per
/// batch. Each item's blobs are sent grouped by item, in item order, as the function needs.
#[derive(Debug)]
pub(crate) struct Commits {
    pub(crate) hot: Arc<HotPool>,
}

impl Job for Commits {
    type Item = Commit;
    type Output = ();

    async fn run(&self, items: Vec<Commit>) -> Vec<Result<()>> {
        let n = items.len();
        // Lock order: by bucket, then key, in byte order (the key columns' collation "C").
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by(|&a, &b| {
            (items[a].row.bucket.as_bytes(), items[a].row.key.as_bytes())
                .cmp(&(items[b].row.bucket.as_bytes(), items[b].row.key.as_bytes()))
        });
        let sorted: Vec<&Commit> = order.iter().map(|&i| &items[i]).collect();
        let outcomes = match self.outcomes(&sorted).await {
            Ok(outcomes) => outcomes,
            // The server refused the statement, so its transaction rolled back and nothing of
            // the batch was written: one item may be at fault, so each runs alone and only
            // that one fails (with its own error: a deadlock stays a Conflict).
            Err(e) if n > 1 && is_refusal(&e) => {
                tracing::debug!(error = %e, commits = n, "batched commit refused; committing one by one");
                let mut alone = Vec::with_capacity(n);
                for item in &sorted {
                    alone.push(match self.outcomes(&[item]).await {
                        // `outcomes` answers one outcome per item.
                        Ok(mut one) => {
                            one.pop().unwrap_or_else(|| Err(StoreError::backend("put_objects answered nothing")))
                        }
                        Err(e) => Err(db_err(e)),
                    });
                }
                alone
            }
            // Anything else (the connection failed, the answer did not fit) may hide a
            // commit: every item gets the error, none is retried.
            Err(e) => return fan_out(db_err(e), n),
        };
        // Back into the callers' order (`order` is a permutation, one outcome per item).
        let mut answers: Vec<Result<()>> = (0..n).map(|_| Ok(())).collect();
        for (position, outcome) in order.into_iter().zip(outcomes) {
            answers[position] = outcome;
        }
        answers
    }
}

impl Commits {
    /// The outcome of each of `items`, in order (an answer of another length is an error).
    async fn outcomes(&self, items: &[&Commit]) -> std::result::Result<Vec<Result<()>>, sqlx::Error> {
        let codes = self.statement(items).await?;
        if codes.len() != items.len() {
            return Err(sqlx::Error::Protocol(format!(
                "put_objects answered {} of {} commits",
                codes.len(),
                items.len()
            )));
        }
        Ok(codes.into_iter().map(crate::put_outcome).collect())
    }

    async fn statement(&self, items: &[&Commit]) -> std::result::Result<Vec<i32>, sqlx::Error> {
        let col = |f: fn(&Commit) -> Option<&str>| -> Vec<Option<&str>> { items.iter().map(|c| f(c)).collect() };
        let bucket: Vec<&str> = items.iter().map(|c| c.row.bucket.as_str()).collect();
        let key: Vec<&str> = items.iter().map(|c| c.row.key.as_str()).collect();
        let size: Vec<i64> = items.iter().map(|c| c.row.size).collect();
        let etag: Vec<&str> = items.iter().map(|c| c.row.etag.as_str()).collect();
        let last_modified: Vec<i64> = items.iter().map(|c| c.row.last_modified).collect();
        let content_type = col(|c| c.row.content_type.as_deref());
        let content_encoding = col(|c| c.row.content_encoding.as_deref());
        let content_disposition = col(|c| c.row.content_disposition.as_deref());
        let content_language = col(|c| c.row.content_language.as_deref());
        let cache_control = col(|c| c.row.cache_control.as_deref());
        let expires = col(|c| c.row.expires.as_deref());
        let user_metadata: Vec<&str> = items.iter().map(|c| c.row.user_metadata.as_str()).collect();
        let checksum_algorithm = col(|c| c.row.checksum_algorithm.as_deref());
        let checksum_value = col(|c| c.row.checksum_value.as_deref());
        let checksum_type = col(|c| c.row.checksum_type.as_deref());
        let parts: Vec<&str> = items.iter().map(|c| c.row.parts.as_str()).collect();
        let multipart_parts: Vec<Option<i32>> = items.iter().map(|c| c.row.multipart_parts).collect();
        let attributes: Vec<&str> = items.iter().map(|c| c.row.attributes.as_str()).collect();
        let mut blob = Vec::new();
        let mut blob_item = Vec::new();
        for (i, c) in items.iter().enumerate() {
            let item = i32::try_from(i + 1).unwrap_or(i32::MAX);
            for b in &c.blobs {
                blob.push(b.as_str());
                blob_item.push(item);
            }
        }
        let if_match = col(|c| c.if_match.as_deref());
        let if_none_match: Vec<bool> = items.iter().map(|c| c.if_none_match).collect();
        let not_before: Vec<i64> = items.iter().map(|c| c.not_before).collect();
        // Events, one array element per event, each naming its item (most writes have one).
        let mut event_key: Vec<&str> = Vec::new();
        let mut event_body: Vec<&str> = Vec::new();
        let mut event_item: Vec<i32> = Vec::new();
        for (i, c) in items.iter().enumerate() {
            let item = i32::try_from(i + 1).unwrap_or(i32::MAX);
            for e in &c.events {
                event_key.push(e.key.as_str());
                event_body.push(e.body.as_str());
                event_item.push(item);
            }
        }
        let now = cloudstore_store_sql::codec::now_ms();
        // Autocommit: the statement's implicit transaction is the whole batch.
        let codes: (Vec<i32>,) = hot::hot!(self.hot, retry: false, |conn| {
            sqlx::query_as(
                "SELECT put_objects_with_events($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, \
                 $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27)",
            )
            .bind(&bucket)
            .bind(&key)
            .bind(&size)
            .bind(&etag)
            .bind(&last_modified)
            .bind(&content_type)
            .bind(&content_encoding)
            .bind(&content_disposition)
            .bind(&content_language)
            .bind(&cache_control)
            .bind(&expires)
            .bind(&user_metadata)
            .bind(&checksum_algorithm)
            .bind(&checksum_value)
            .bind(&checksum_type)
            .bind(&parts)
            .bind(&multipart_parts)
            .bind(&attributes)
            .bind(&blob)
            .bind(&blob_item)
            .bind(&if_match)
            .bind(&if_none_match)
            .bind(&not_before)
            .bind(&event_key)
            .bind(&event_body)
            .bind(&event_item)
            .bind(now)
            .fetch_one(conn)
        })
        .await?;
        Ok(codes.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::sync::Semaphore;

    /// Doubles each item; records every batch it ran; waits for a permit of `gate` per batch;
    /// panics on the item 13.
    struct Doubler {
        ran: Mutex<Vec<Vec<u32>>>,
        gate: Semaphore,
    }

    impl Job for Doubler {
        type Item = u32;
        type Output = u32;

        async fn run(&self, items: Vec<u32>) -> Vec<Result<u32>> {
            self.gate.acquire().await.expect("gate").forget();
            assert!(!items.contains(&13), "item 13 makes the statement panic");
            self.ran.lock().expect("lock").push(items.clone());
            items.into_iter().map(|i| Ok(i * 2)).collect()
        }
    }

    fn batcher(open: usize, max_wait: Duration) -> Batcher<Doubler> {
        let job = Doubler { ran: Mutex::new(Vec::new()), gate: Semaphore::new(open) };
        Batcher::new(job, 8, max_wait)
    }

    /// Lets the spawned drain tasks run until they wait (current-thread runtime).
    async fn settle() {
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
    }

    fn ran(b: &Batcher<Doubler>) -> Vec<u32> {
        b.job.ran.lock().expect("lock").iter().flatten().copied().collect()
    }

    /// Polls `submit(item)` once (queueing it) and returns the still pending request.
    async fn queued(b: &Batcher<Doubler>, item: u32) -> std::pin::Pin<Box<impl Future<Output = Result<u32>> + '_>> {
        let mut f = Box::pin(b.submit(item));
        assert!(futures::poll!(&mut f).is_pending());
        f
    }

    #[test]
    fn a_lone_failure_keeps_its_kind_and_shared_ones_keep_unavailable() {
        let lone: Vec<Result<()>> = fan_out(StoreError::Conflict, 1);
        assert!(matches!(lone.as_slice(), [Err(StoreError::Conflict)]));
        let shared: Vec<Result<()>> = fan_out(StoreError::unavailable(std::io::Error::other("down")), 3);
        assert!(shared.iter().all(|r| matches!(r, Err(StoreError::Unavailable(e)) if e.to_string().contains("down"))));
        let shared: Vec<Result<()>> = fan_out(StoreError::Conflict, 2);
        assert!(shared.iter().all(|r| matches!(r, Err(StoreError::Backend(_)))));
    }

    #[tokio::test]
    async fn concurrent_requests_share_batches_and_each_gets_its_answer() {
        let b = batcher(1000, Duration::from_secs(10));
        let answers = futures::future::join_all((20..40u32).map(|i| b.submit(i))).await;
        let answers: Vec<u32> = answers.into_iter().map(|a| a.expect("answer")).collect();
        assert_eq!(answers, (20..40).map(|i| i * 2).collect::<Vec<_>>());
        let batches = b.job.ran.lock().expect("lock").clone();
        assert!(batches.len() < 20 && batches.iter().all(|batch| batch.len() <= 8), "{batches:?}");
        settle().await;
        assert_eq!(b.lock().in_flight, 0);
    }

    #[tokio::test]
    async fn requests_whose_caller_went_away_are_not_run() {
        let b = batcher(0, Duration::from_secs(10));
        // Two statements start and wait at the gate, holding both places.
        let first = queued(&b, 1).await;
        settle().await;
        let second = queued(&b, 2).await;
        settle().await;
        // Queued behind them: 3 is given up by its caller, 4 is not.
        drop(queued(&b, 3).await);
        let fourth = queued(&b, 4).await;
        b.job.gate.add_permits(10);
        assert_eq!((first.await.expect("1"), second.await.expect("2"), fourth.await.expect("4")), (2, 4, 8));
        assert!(!ran(&b).contains(&3), "ran {:?}", ran(&b));
    }

    #[tokio::test]
    async fn requests_queued_too_long_are_answered_unavailable() {
        let b = batcher(0, Duration::from_millis(50));
        let first = queued(&b, 1).await;
        settle().await;
        let second = queued(&b, 2).await;
        settle().await;
        let late = queued(&b, 3).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        b.job.gate.add_permits(10);
        assert_eq!((first.await.expect("1"), second.await.expect("2")), (2, 4));
        assert!(matches!(late.await, Err(StoreError::Unavailable(_))));
        assert!(!ran(&b).contains(&3));
    }

    #[tokio::test]
    async fn a_panicking_statement_gives_its_place_back() {
        let b = batcher(1000, Duration::from_secs(10));
        // A place that is not given back shows as a request that never gets an answer.
        let answer = |item: u32| {
            let b = b.clone();
            async move { tokio::time::timeout(Duration::from_secs(5), b.submit(item)).await.expect("answered in time") }
        };
        // More panics than places: each must give its place back, or later requests hang.
        for _ in 0..=MAX_IN_FLIGHT {
            assert!(matches!(answer(13).await, Err(StoreError::Unavailable(_))));
        }
        assert_eq!(answer(5).await.expect("after the panics"), 10);
        // Requests queued behind a panicking statement are answered without a new request.
        let answers = futures::future::join_all([13, 6, 7].map(answer)).await;
        assert!(answers[0].is_err());
        // 6 and 7 shared the panicking statement (all failed) or ran in a new one (answered).
        let rest: Vec<Option<u32>> = answers[1..].iter().map(|a| a.as_ref().ok().copied()).collect();
        assert!(rest == [Some(12), Some(14)] || rest == [None, None], "{answers:?}");
        settle().await;
        assert_eq!(b.lock().in_flight, 0);
    }
}

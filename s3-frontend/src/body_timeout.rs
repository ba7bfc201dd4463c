//! A request body that stops sending data fails after an idle time: hyper times out slow
//! headers, not slow bodies, so a client trickling a byte now and then would hold a request
//! (and its connection, its pending blob) forever. The server wraps every request body in
//! [`IdleTimeout`]; when it fires the body fails (the operation stores nothing, as with any
//! broken body) and the server answers 400 RequestTimeout, as AWS does.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Frame, SizeHint};
use s3s::Body;
use tokio::time::{Instant, Sleep};

/// What the body error says.
pub const IDLE: &str = "request body idle timeout";

/// Whether a request's body timed out; the server checks it when the response is ready.
#[derive(Debug, Clone, Default)]
pub struct TimedOut(Arc<AtomicBool>);

impl TimedOut {
    /// Whether the body timed out.
    #[must_use]
    pub fn get(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// `body`, failing once no data arrived for `idle` (or, with `total`, once it has not ended
/// within `total` of its first read), and the flag that says it did.
pub fn wrap(body: Body, idle: Duration, total: Option<Duration>) -> (Body, TimedOut) {
    let flag = TimedOut::default();
    let wrapped = IdleTimeout {
        inner: body,
        idle,
        total,
        deadline: None,
        last: None,
        sleep: Box::pin(tokio::time::sleep(idle)),
        timed_out: flag.clone(),
    };
    (Body::http_body_unsync(wrapped), flag)
}

/// The body wrapper. The timer is not reset for every frame: each frame records its time,
/// and when the timer fires early it is re-armed for the last frame's time plus `idle`. The
/// clock starts at the first read, not at the wrap: hyper asks a client that sent
/// `Expect: 100-continue` for the body only then, after authorization and any lookups.
struct IdleTimeout {
    inner: Body,
    idle: Duration,
    /// The longest the whole body may take, from its first read.
    total: Option<Duration>,
    /// The first read plus `total`.
    deadline: Option<Instant>,
    /// When data last arrived, or the first read started; `None` before the first read.
    last: Option<Instant>,
    sleep: Pin<Box<Sleep>>,
    timed_out: TimedOut,
}

impl http_body::Body for IdleTimeout {
    type Data = Bytes;
    type Error = s3s::StdError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        let last = *this.last.get_or_insert_with(|| {
            let now = Instant::now();
            this.sleep.as_mut().reset(now + this.idle);
            this.deadline = this.total.map(|t| now + t);
            now
        });
        if this.deadline.is_some_and(|end| Instant::now() >= end) {
            this.timed_out.0.store(true, Ordering::Relaxed);
            let secs = this.total.map_or(0.0, |t| t.as_secs_f64());
            return Poll::Ready(Some(Err(format!("{IDLE}: the body took longer than {secs} s").into())));
        }
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Pending => {}
            ready => {
                this.last = Some(Instant::now());
                return ready;
            }
        }
        loop {
            if this.sleep.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            let idle_deadline = this.last.unwrap_or(last) + this.idle;
            let now = Instant::now();
            if now >= idle_deadline {
                this.timed_out.0.store(true, Ordering::Relaxed);
                return Poll::Ready(Some(Err(format!("{IDLE}: no data for {} s", this.idle.as_secs()).into())));
            }
            if let Some(end) = this.deadline {
                if now >= end {
                    this.timed_out.0.store(true, Ordering::Relaxed);
                    let secs = this.total.map_or(0.0, |t| t.as_secs_f64());
                    return Poll::Ready(Some(Err(format!("{IDLE}: the body took longer than {secs} s").into())));
                }
                this.sleep.as_mut().reset(idle_deadline.min(end));
            } else {
                this.sleep.as_mut().reset(idle_deadline);
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt as _;

    #[tokio::test]
    async fn a_body_fails_only_after_an_idle_gap() {
        let idle = Duration::from_millis(400);
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<Frame<Bytes>, s3s::StdError>>(4);
        let stream = http_body_util::StreamBody::new(futures::stream::poll_fn(move |cx| rx.poll_recv(cx)));
        let (mut body, flag) = wrap(Body::http_body_unsync(stream), idle, None);
        // Data every 200 ms keeps it alive well past 400 ms in total.
        for _ in 0..4 {
            tokio::time::sleep(idle / 2).await;
            tx.send(Ok(Frame::data(Bytes::from_static(b"x")))).await.expect("send");
            assert!(body.frame().await.is_some_and(|f| f.is_ok()));
        }
        assert!(!flag.get());
        let started = Instant::now();
        let err = body.frame().await.and_then(Result::err).expect("an error");
        assert!(err.to_string().contains(IDLE), "{err}");
        assert!(flag.get());
        assert!(started.elapsed() >= idle, "{:?}", started.elapsed());
        drop(tx);
    }

    #[tokio::test]
    async fn a_body_read_whole_has_a_total_deadline() {
        let idle = Duration::from_millis(300);
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<Frame<Bytes>, s3s::StdError>>(4);
        let stream = http_body_util::StreamBody::new(futures::stream::poll_fn(move |cx| rx.poll_recv(cx)));
        let (mut body, flag) = wrap(Body::http_body_unsync(stream), idle, Some(idle * 2));
        // Trickling within the idle time still ends at the total deadline.
        let mut failed = false;
        for _ in 0..8 {
            let sleep = tokio::time::sleep(idle / 2);
            let _ = tx.try_send(Ok(Frame::data(Bytes::from_static(b"x"))));
            match body.frame().await {
                Some(Ok(_)) => sleep.await,
                _ => {
                    failed = true;
                    break;
                }
            }
        }
        assert!(failed && flag.get(), "a trickle outlived the total deadline");
    }

    #[tokio::test]
    async fn the_clock_starts_at_the_first_read() {
        let idle = Duration::from_millis(300);
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<Frame<Bytes>, s3s::StdError>>(4);
        let stream = http_body_util::StreamBody::new(futures::stream::poll_fn(move |cx| rx.poll_recv(cx)));
        let (mut body, flag) = wrap(Body::http_body_unsync(stream), idle, None);
        // Longer than `idle` between the wrap and the first read (authorization, lookups);
        // then the data comes within `idle` of that read.
        tokio::time::sleep(idle * 2).await;
        let sender = tokio::spawn(async move {
            tokio::time::sleep(idle / 3).await;
            tx.send(Ok(Frame::data(Bytes::from_static(b"x")))).await.expect("send");
            tx
        });
        assert!(body.frame().await.is_some_and(|f| f.is_ok()), "the first read failed at once");
        let tx = sender.await.expect("sender");
        assert!(!flag.get());
        drop(tx);
    }
}

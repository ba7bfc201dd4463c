//! Benchmarks of the consumer (docs/benchmarks.md, "Notifier"), not timed tests: ignored by
//! default, run on the test stack's Tansu and ClickHouse with
//!   cargo test -p cloudstore-notifier --test bench -- --ignored --nocapture --test-threads 1
//! (the dev profile, dependencies at opt-level 1: what the numbers in the doc were measured with)
//! `CLOUDSTORE_BENCH_EVENTS` (default 200,000) and `CLOUDSTORE_BENCH_LAG_SECS` (default 30)
//! size them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use cloudstore_notifier::{ConsumerConfig, Notifier};
use common::{Setup, create_topic, events, now_ms, produce, producer};
use rdkafka::producer::FutureRecord;
use tokio_util::sync::CancellationToken;

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn notifier(setup: &Setup) -> Notifier {
    let mut c = ConsumerConfig::new(&setup.brokers, &setup.clickhouse);
    c.group_id.clone_from(&setup.group);
    c.topic.clone_from(&setup.topic);
    c.dead_letter_topic.clone_from(&setup.dead_letter_topic);
    c.clickhouse_database.clone_from(&setup.database);
    Notifier::new(c)
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "benchmark; see the file's doc"]
async fn insert_throughput() {
    let n = env_or("CLOUDSTORE_BENCH_EVENTS", 200_000);
    let setup = Setup::fresh();
    create_topic(&setup.brokers, &setup.topic, 6).await;
    let t = Instant::now();
    let sent = events(usize::try_from(n).unwrap(), "bench");
    produce(&producer(&setup.brokers), &setup.topic, &sent).await;
    let produce_secs = t.elapsed().as_secs_f64();
    println!("produced {n} events in {produce_secs:.1} s ({:.0}/s)", n as f64 / produce_secs);

    let notifier = notifier(&setup);
    let metrics = notifier.metrics();
    let shutdown = CancellationToken::new();
    let started = Instant::now();
    let running = tokio::spawn(notifier.run(shutdown.clone()));
    let mut first_insert = None;
    while metrics.inserted() < n {
        if first_insert.is_none() && metrics.inserted() > 0 {
            first_insert = Some(Instant::now());
        }
        assert!(started.elapsed() < Duration::from_secs(600), "stuck at {} inserted", metrics.inserted());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let done = Instant::now();
    let total = done - started;
    let steady = done - first_insert.unwrap_or(started);
    shutdown.cancel();
    running.await.unwrap().unwrap();
    let stored = setup.sink().await.count_events(None).await.unwrap();
    assert_eq!(stored, n, "every event stored once");
    println!(
        "notifier: {n} events into ClickHouse in {:.2} s from start ({:.0} events/s), {:.2} s from the first insert \
         ({:.0} events/s)",
        total.as_secs_f64(),
        n as f64 / total.as_secs_f64(),
        steady.as_secs_f64(),
        n as f64 / steady.as_secs_f64()
    );
    setup.drop_database().await;
}

#[derive(Debug, clickhouse::Row, serde::Deserialize)]
struct Seen {
    event_id: String,
    occurred_at: i64,
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "benchmark; see the file's doc"]
async fn end_to_end_lag_at_1000_events_per_second() {
    let secs = env_or("CLOUDSTORE_BENCH_LAG_SECS", 30);
    let setup = Setup::fresh();
    create_topic(&setup.brokers, &setup.topic, 6).await;
    let shutdown = CancellationToken::new();
    let running = tokio::spawn(notifier(&setup).run(shutdown.clone()));
    let sink = setup.sink().await;
    // Wait until the consumer runs (one event through).
    let warm = events(1, "warm");
    produce(&producer(&setup.brokers), &setup.topic, &warm).await;
    assert_eq!(common::wait_count(&sink, 1, Duration::from_secs(60)).await, 1);

    // 10 events every 10 ms, `occurred_at` = the time each is handed to the producer (as
    // the relay would, right after the client's 200).
    let p = producer(&setup.brokers);
    let topic = setup.topic.clone();
    let mut producing = Some(tokio::spawn(async move {
        let mut sent: HashMap<String, i64> = HashMap::new();
        let mut pending = Vec::new();
        let start = tokio::time::Instant::now();
        let mut tick = tokio::time::interval(Duration::from_millis(10));
        while start.elapsed() < Duration::from_secs(secs) {
            tick.tick().await;
            for mut e in events(10, "lag") {
                e.occurred_at = now_ms();
                let (key, payload) = (e.partition_key(), e.encode());
                let d = p
                    .send_result(FutureRecord::to(&topic).key(key.as_str()).payload(payload.as_slice()))
                    .map_err(|(e, _)| e)
                    .expect("enqueued");
                pending.push(d);
                sent.insert(e.event_id, e.occurred_at);
            }
        }
        for d in pending {
            d.await.unwrap().map_err(|(e, _)| e).expect("delivered");
        }
        sent
    }));

    // Poll what became queryable every 100 ms; an event's lag is the first poll that sees it.
    let client =
        clickhouse::Client::default().with_url(&setup.clickhouse).with_database(&setup.database).with_validation(false);
    let mut lags: HashMap<String, i64> = HashMap::new();
    let mut from = now_ms() - 1_000;
    let deadline = Instant::now() + Duration::from_secs(secs + 60);
    let mut sent = None;
    loop {
        let rows = client
            .query("SELECT event_id, occurred_at FROM events WHERE occurred_at >= ? AND bucket = 'bucket-lag'")
            .bind(from)
            .fetch_all::<Seen>()
            .await
            .unwrap();
        let now = now_ms();
        for r in rows {
            lags.entry(r.event_id).or_insert(now - r.occurred_at);
        }
        if producing.as_ref().is_some_and(tokio::task::JoinHandle::is_finished) {
            // from now on, poll only from the oldest event not yet seen
            sent = Some(producing.take().unwrap().await.unwrap());
        }
        if let Some(sent) = &sent {
            let unseen = sent.iter().filter(|(id, _)| !lags.contains_key(*id)).map(|(_, t)| *t).min();
            match unseen {
                None => break,
                Some(t) => from = t,
            }
        } else {
            // while producing: a 10 s window (a later lag would only be overestimated)
            from = from.max(now - 10_000);
        }
        assert!(Instant::now() < deadline, "not every event became queryable");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    shutdown.cancel();
    running.await.unwrap().unwrap();

    let mut v: Vec<i64> = lags.values().copied().collect();
    v.sort_unstable();
    let q = |p: f64| v[((v.len() as f64 * p).ceil() as usize).clamp(1, v.len()) - 1];
    println!(
        "end-to-end lag over {} events at ~1,000/s for {secs} s (produce → queryable, 100 ms polls): p50 {} ms, \
         p99 {} ms, max {} ms",
        v.len(),
        q(0.50),
        q(0.99),
        v[v.len() - 1]
    );
    setup.drop_database().await;
}

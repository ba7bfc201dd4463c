//! Fault tests of the `notifier` binary (issue #12 item 7) on private services the tests
//! start and kill themselves, never the shared stack's: ClickHouse stopped while the notifier
//! runs, and the Kafka broker (Tansu on durable `s3://` storage on the test stack's S3 server)
//! stopped for 30 s during traffic. After each, every acknowledged event is in ClickHouse
//! exactly once.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use cloudstore_events::Event;
use common::{PrivateClickHouse, PrivateTansu, Setup, events, produce, producer, wait_count};
use rdkafka::producer::{DeliveryFuture, FutureRecord};

#[tokio::test(flavor = "multi_thread")]
async fn clickhouse_down_while_the_notifier_runs_loses_nothing() {
    let mut ch = PrivateClickHouse::start();
    let setup = Setup::on(common::kafka(), ch.url());
    let notifier = setup.start(&[]);
    notifier.wait_ready(200, Duration::from_secs(60));
    let p = producer(&setup.brokers);

    let first = events(500, "e1");
    produce(&p, &setup.topic, &first).await;
    assert_eq!(wait_count(&setup.sink().await, 500, Duration::from_secs(60)).await, 500);

    ch.stop();
    let body = notifier.wait_ready(503, Duration::from_secs(20));
    assert!(body.contains(r#""clickhouse":{"ok":false"#) && body.contains(r#""kafka":{"ok":true}"#), "{body}");

    // Produced while ClickHouse is down: read, insert fails, retried, nothing committed.
    let second = events(700, "e2");
    produce(&p, &setup.topic, &second).await;
    let t0 = Instant::now();
    while notifier.metric("cloudstore_notifier_insert_failures_total").unwrap_or(0.0) < 2.0 {
        assert!(t0.elapsed() < Duration::from_secs(30), "no failed inserts seen; log:\n{}", notifier.log_tail());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(notifier.metric("cloudstore_notifier_events_inserted_total"), Some(500.0));
    assert!(notifier.wait_ready(503, Duration::from_secs(1)).contains(r#""clickhouse":{"ok":false"#));

    ch.restart();
    let sink = setup.sink().await;
    assert_eq!(wait_count(&sink, 1_200, Duration::from_secs(90)).await, 1_200, "log:\n{}", notifier.log_tail());
    assert_eq!(setup.final_rows().await, 1_200);
    for e in second.iter().step_by(50) {
        assert_eq!(sink.stored_bytes_of(&e.event_id).await.unwrap(), e.bytes);
    }
    notifier.wait_ready(200, Duration::from_secs(30));
}

/// Produces 5 events every 100 ms until `stop`, keeping each event and its delivery (a modest
/// rate: Tansu on `s3://` storage takes one S3 write per unbatched message, and CI runs this
/// beside the rest of the suite on two cores).
async fn traffic(
    producer: rdkafka::producer::FutureProducer,
    topic: String,
    stop: Arc<AtomicBool>,
) -> (rdkafka::producer::FutureProducer, Vec<(Event, DeliveryFuture)>) {
    let mut sent = Vec::new();
    let mut round = 0;
    while !stop.load(Ordering::Relaxed) {
        for e in events(5, &format!("f{round}")) {
            let (key, payload) = (e.partition_key(), e.encode());
            let record = FutureRecord::to(&topic).key(key.as_str()).payload(payload.as_slice());
            let delivery = producer.send_result(record).map_err(|(e, _)| e).expect("enqueued");
            sent.push((e, delivery));
        }
        round += 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The producer goes back with the deliveries: dropping it would purge what it still holds.
    (producer, sent)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_broker_down_for_30_s_during_traffic_loses_nothing() {
    let mut broker = PrivateTansu::start();
    let setup = Setup::on(broker.brokers(), common::clickhouse());
    let notifier = setup.start(&[]);
    notifier.wait_ready(200, Duration::from_secs(60));

    let stop = Arc::new(AtomicBool::new(false));
    // The group may rebalance after the restart and resume from committed offsets: unbatched
    // on Tansu (see producer_unbatched).
    let producing =
        tokio::spawn(traffic(common::producer_unbatched(&setup.brokers), setup.topic.clone(), Arc::clone(&stop)));
    let sink = setup.sink().await;
    // Traffic flows end to end before the outage.
    assert!(wait_count(&sink, 200, Duration::from_secs(60)).await >= 200, "log:\n{}", notifier.log_tail());

    broker.stop();
    let down = Instant::now();
    let body = notifier.wait_ready(503, Duration::from_secs(20));
    assert!(body.contains(r#""kafka":{"ok":false"#), "{body}");
    let during = sink.count_events(None).await.unwrap();
    tokio::time::sleep(Duration::from_secs(30).saturating_sub(down.elapsed())).await;
    broker.restart();
    notifier.wait_ready(200, Duration::from_secs(60));
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop.store(true, Ordering::Relaxed);

    let (_producer, sent) = producing.await.unwrap();
    let mut acknowledged = Vec::new();
    let mut failed = 0;
    let mut first_error = None;
    for (e, delivery) in sent {
        match delivery.await {
            Ok(Ok(_)) => acknowledged.push(e),
            Ok(Err((err, _))) => {
                failed += 1;
                first_error.get_or_insert(err.to_string());
            }
            Err(_) => failed += 1,
        }
    }
    let total = acknowledged.len() as u64;
    // librdkafka kept what was produced during the outage and sent it afterwards.
    assert_eq!(failed, 0, "deliveries failed across the broker restart: {first_error:?}");
    assert!(total > during + 100, "traffic went on during and after the outage: {total} vs {during}");

    assert_eq!(wait_count(&sink, total, Duration::from_secs(300)).await, total, "log:\n{}", notifier.log_tail());
    assert_eq!(setup.final_rows().await, total);
    for e in acknowledged.iter().step_by(41) {
        assert_eq!(sink.stored_bytes_of(&e.event_id).await.unwrap(), e.bytes, "event {}", e.event_id);
    }
    setup.drop_database().await;
}

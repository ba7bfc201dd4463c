//! The outbox relay on a real PostgreSQL (a fresh database per test): it never skips a row that
//! a slower transaction commits after a later id was published (the watermark bug ADR 0006
//! avoids), and several relays at once publish every event once, in order per key.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use cloudstore_outbox::{OutboxMetrics, PublishError, Publisher, Relay, RelayConfig};
use cloudstore_store_api::{MetadataStore, OutboxEvent, OutboxRow};
use cloudstore_store_pg::PgMetadataStore;
use sqlx::Connection as _;
use tokio_util::sync::CancellationToken;

/// A fresh database on the test server; its URL.
async fn fresh_database() -> String {
    let url = std::env::var("CLOUDSTORE_TEST_POSTGRES_URL").expect("CLOUDSTORE_TEST_POSTGRES_URL (the test stack)");
    let mut conn = sqlx::PgConnection::connect(&url).await.expect("connect");
    let name = format!("outbox_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&mut conn).await.expect("create db");
    let base = url.rsplit_once('/').map_or(url.as_str(), |(b, _)| b).to_owned();
    format!("{base}/{name}")
}

/// Remembers what it was given, in order; each relay its own name.
#[derive(Debug, Default)]
struct Recorder {
    published: Mutex<Vec<(String, OutboxRow)>>,
}

#[derive(Debug)]
struct Named(String, Arc<Recorder>);

#[async_trait::async_trait]
impl Publisher for Named {
    async fn publish(&self, rows: &[OutboxRow]) -> Result<(), PublishError> {
        let mut p = self.1.published.lock().expect("lock");
        p.extend(rows.iter().map(|r| (self.0.clone(), r.clone())));
        Ok(())
    }
}

impl Recorder {
    fn bodies(&self) -> Vec<String> {
        self.published.lock().expect("lock").iter().map(|(_, r)| r.body.clone()).collect()
    }
}

fn relay(store: &Arc<PgMetadataStore>, name: &str, rec: &Arc<Recorder>, stop: &CancellationToken) {
    let cfg = RelayConfig {
        owner: name.to_owned(),
        batch: 100,
        idle_poll: Duration::from_millis(20),
        lease_ttl: Duration::from_secs(2),
        backlog_every: Duration::from_millis(200),
    };
    let relay = Relay::new(
        store.clone() as Arc<dyn MetadataStore>,
        Arc::new(Named(name.to_owned(), rec.clone())),
        cfg,
        Arc::new(OutboxMetrics::default()),
    );
    tokio::spawn(relay.run(stop.child_token()));
}

async fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let started = std::time::Instant::now();
    while !done() {
        assert!(started.elapsed() < Duration::from_secs(20), "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_row_committed_after_a_later_id_was_published_is_still_published() {
    let url = fresh_database().await;
    let store = Arc::new(PgMetadataStore::connect(&url).await.expect("connect"));
    let rec = Arc::new(Recorder::default());
    let stop = CancellationToken::new();
    relay(&store, "only", &rec, &stop);

    // A slow transaction takes id N and does not commit yet.
    let mut slow = sqlx::PgConnection::connect(&url).await.expect("connect");
    let mut tx = slow.begin().await.expect("begin");
    sqlx::query("INSERT INTO event_outbox (key, body, created_at) VALUES ('a', 'slow', 0)")
        .execute(&mut *tx)
        .await
        .expect("insert");
    // A fast one takes N+1 and commits; the relay publishes it.
    store.append_events(&[OutboxEvent { key: "b".into(), body: "fast".into() }]).await.expect("append");
    wait_for("the fast event", || rec.bodies() == ["fast"]).await;
    // A relay keeping "the last id seen" would now skip id N forever.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(rec.bodies(), ["fast"], "an uncommitted row was published");
    tx.commit().await.expect("commit the slow transaction");
    wait_for("the slow event", || rec.bodies() == ["fast", "slow"]).await;
    // Removed once published (the relay removes after its publisher returned).
    let started = std::time::Instant::now();
    while !store.outbox_rows(10).await.expect("rows").is_empty() {
        assert!(started.elapsed() < Duration::from_secs(20), "published rows stay in the outbox");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.cancel();
    assert_eq!(rec.bodies(), ["fast", "slow"], "published once each");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relays_racing_publish_each_event_once_in_key_order() {
    let url = fresh_database().await;
    let store = Arc::new(PgMetadataStore::connect(&url).await.expect("connect"));
    let rec = Arc::new(Recorder::default());
    let stop = CancellationToken::new();
    for name in ["r1", "r2", "r3"] {
        relay(&store, name, &rec, &stop);
    }
    // 20 writers, each appending 10 batches of 10 events for its own key, in order.
    let mut writers = Vec::new();
    for w in 0..20 {
        let store = store.clone();
        writers.push(tokio::spawn(async move {
            for b in 0..10 {
                let events: Vec<OutboxEvent> = (0..10)
                    .map(|i| OutboxEvent { key: format!("k{w}"), body: format!("{w}:{:03}", b * 10 + i) })
                    .collect();
                store.append_events(&events).await.expect("append");
            }
        }));
    }
    for w in writers {
        w.await.expect("writer");
    }
    wait_for("2,000 events", || rec.bodies().len() >= 2000).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.cancel();
    let published = rec.published.lock().expect("lock").clone();
    assert_eq!(published.len(), 2000, "every event once, none twice");
    let mut seen = std::collections::HashSet::new();
    for (_, r) in &published {
        assert!(seen.insert(r.id), "row {} published twice", r.id);
    }
    for w in 0..20 {
        let ours: Vec<&str> =
            published.iter().filter(|(_, r)| r.key == format!("k{w}")).map(|(_, r)| r.body.as_str()).collect();
        let mut sorted = ours.clone();
        sorted.sort_unstable();
        assert_eq!(ours, sorted, "key k{w} published out of order");
    }
    assert!(store.outbox_rows(10).await.expect("rows").is_empty(), "published rows are removed");
}

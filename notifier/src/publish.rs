//! Where the outbox relay (crate `cloudstore-outbox`) sends events: Kafka with an idempotent
//! producer (`acks=all`, batched), or, in the embedded default, straight into the local event
//! store. Both are at-least-once; the event id makes a repeat harmless.

use std::sync::atomic::{AtomicBool, Ordering};

use cloudstore_outbox::{PublishError, Publisher};
use cloudstore_store_api::OutboxRow;
use rdkafka::admin::AdminClient;
use rdkafka::client::DefaultClientContext;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer as _};
use rdkafka::util::Timeout;

use crate::local::LocalEventStore;

/// Publishes outbox rows to a Kafka topic, in order per key.
pub struct KafkaPublisher {
    producer: FutureProducer,
    admin: AdminClient<DefaultClientContext>,
    topic: String,
    topic_ready: AtomicBool,
}

impl std::fmt::Debug for KafkaPublisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaPublisher").field("topic", &self.topic).finish_non_exhaustive()
    }
}

impl KafkaPublisher {
    /// A producer for `brokers` (`host:port[,host:port]`) publishing to `topic`.
    pub fn new(brokers: &str, topic: &str) -> Result<Self, KafkaError> {
        let producer: FutureProducer = crate::kafka::client_config(brokers)
            // Exactly the order sent, no duplicates from the producer's own retries.
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("linger.ms", "5")
            .set("batch.num.messages", "10000")
            .set("queue.buffering.max.messages", "200000")
            .set("message.timeout.ms", "30000")
            .create()?;
        let admin = crate::kafka::client_config(brokers).create()?;
        Ok(Self { producer, admin, topic: topic.to_owned(), topic_ready: AtomicBool::new(false) })
    }

    /// Whether a broker answers a metadata request within `timeout`.
    pub fn reachable(&self, timeout: std::time::Duration) -> bool {
        self.producer.client().fetch_metadata(Some(&self.topic), Timeout::After(timeout)).is_ok()
    }
}

#[async_trait::async_trait]
impl Publisher for KafkaPublisher {
    async fn publish(&self, rows: &[OutboxRow]) -> Result<(), PublishError> {
        if !self.topic_ready.load(Ordering::Relaxed) {
            crate::kafka::ensure_topics(&self.admin, &[&self.topic], crate::kafka::PARTITIONS, 1)
                .await
                .map_err(|e| PublishError(format!("creating topic {}: {e}", self.topic)))?;
            self.topic_ready.store(true, Ordering::Relaxed);
        }
        let mut pending = Vec::with_capacity(rows.len());
        for row in rows {
            loop {
                let record = FutureRecord::to(&self.topic).key(row.key.as_str()).payload(row.body.as_str());
                match self.producer.send_result(record) {
                    Ok(delivery) => {
                        pending.push(delivery);
                        break;
                    }
                    Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                        // The local queue is full: let what is in flight land first.
                        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                    }
                    Err((e, _)) => return Err(PublishError(format!("producing to {}: {e}", self.topic))),
                }
            }
        }
        for delivery in pending {
            match delivery.await {
                Ok(Ok(_)) => {}
                Ok(Err((e, _))) => return Err(PublishError(format!("delivery to {}: {e}", self.topic))),
                Err(_) => return Err(PublishError("the producer went away".into())),
            }
        }
        Ok(())
    }
}

/// Publishes outbox rows into the local event store (the embedded default, no Kafka).
#[derive(Debug)]
pub struct LocalPublisher {
    store: LocalEventStore,
}

impl LocalPublisher {
    #[must_use]
    pub fn new(store: LocalEventStore) -> Self {
        Self { store }
    }
}

#[async_trait::async_trait]
impl Publisher for LocalPublisher {
    async fn publish(&self, rows: &[OutboxRow]) -> Result<(), PublishError> {
        let mut events = Vec::with_capacity(rows.len());
        for row in rows {
            match cloudstore_events::decode(row.body.as_bytes()) {
                Ok(e) => events.push(e),
                // Our own producers wrote it; should one not decode, it is logged and skipped
                // rather than blocking the outbox (Kafka's path dead-letters it instead).
                Err(e) => tracing::warn!(outbox_id = row.id, error = %e, "skipping an outbox row that is not an event"),
            }
        }
        self.store.insert(&events).await.map_err(|e| PublishError(format!("local event store: {e}")))
    }
}

//! Where the outbox relay (crate `cloudstore-outbox`) sends events: Kafka with an idempotent
//! producer (`acks=all`, batched), or, in the embedded default, straight into the local event
//! store. Both are at-least-once; the event id makes a repeat harmless.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::Mutex;

use crate::kafka::KafkaLog;
use cloudstore_events::notification::Rules;
use cloudstore_outbox::{PublishError, Publisher};
use cloudstore_store_api::{MetadataStore, OutboxRow};
use rdkafka::admin::AdminClient;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{FutureProducer, FutureRecord};

use crate::local::LocalEventStore;

/// Publishes outbox rows to a Kafka topic, in order per key.
pub struct KafkaPublisher {
    brokers: String,
    /// Replaced after a failed batch (an idempotent producer whose messages timed out may be
    /// unusable for good: a fresh one starts a clean session).
    producer: Mutex<Arc<FutureProducer<KafkaLog>>>,
    admin: AdminClient<KafkaLog>,
    topic: String,
    /// Topics known to exist.
    ready: Mutex<HashSet<String>>,
    /// Bucket notifications: the buckets' rules, and the region named in messages.
    notifications: Option<(Arc<dyn MetadataStore>, String)>,
}

impl std::fmt::Debug for KafkaPublisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaPublisher").field("topic", &self.topic).finish_non_exhaustive()
    }
}

impl KafkaPublisher {
    /// A producer for `brokers` (`host:port[,host:port]`) publishing to `topic`.
    pub fn new(brokers: &str, topic: &str) -> Result<Self, KafkaError> {
        let producer = Mutex::new(Arc::new(Self::producer_for(brokers)?));
        let admin = crate::kafka::client_config(brokers).create_with_context(KafkaLog::default())?;
        Ok(Self {
            brokers: brokers.to_owned(),
            producer,
            admin,
            topic: topic.to_owned(),
            ready: Mutex::new(HashSet::new()),
            notifications: None,
        })
    }

    fn producer_for(brokers: &str) -> Result<FutureProducer<KafkaLog>, KafkaError> {
        let mut c = crate::kafka::client_config(brokers);
        // Exactly the order sent, no duplicates from the producer's own retries.
        c.set("enable.idempotence", "true")
            .set("acks", "all")
            .set("linger.ms", "5")
            .set("batch.num.messages", "10000")
            .set("queue.buffering.max.messages", "200000")
            .set("message.timeout.ms", "30000");
        crate::kafka::apply_options(&mut c);
        c.create_with_context(KafkaLog::default())
    }

    fn current(&self) -> Arc<FutureProducer<KafkaLog>> {
        self.producer.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// Starts a fresh producer after a failed batch; the old one is dropped off the runtime
    /// (librdkafka's teardown blocks).
    fn renew(&self, failed: &Arc<FutureProducer<KafkaLog>>) {
        match Self::producer_for(&self.brokers) {
            Ok(fresh) => {
                let mut slot = self.producer.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                if Arc::ptr_eq(&slot, failed) {
                    let old = std::mem::replace(&mut *slot, Arc::new(fresh));
                    drop(slot);
                    tokio::task::spawn_blocking(move || drop(old));
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot create a new Kafka producer; keeping the old one"),
        }
    }

    /// Also publishes each object event that a bucket's notification rules select, in the AWS
    /// S3 event message format, to the rule's topic (`region` is named in the messages).
    #[must_use]
    pub fn with_bucket_notifications(mut self, store: Arc<dyn MetadataStore>, region: &str) -> Self {
        self.notifications = Some((store, region.to_owned()));
        self
    }

    async fn ensure_topic(&self, topic: &str) -> Result<(), PublishError> {
        if self.ready.lock().unwrap_or_else(std::sync::PoisonError::into_inner).contains(topic) {
            return Ok(());
        }
        crate::kafka::ensure_topics(&self.admin, &[topic], crate::kafka::PARTITIONS, 1)
            .await
            .map_err(|e| PublishError(format!("creating topic {topic}: {e}")))?;
        self.ready.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(topic.to_owned());
        Ok(())
    }

    /// The notification messages of `rows`: (topic, key, message), in row order.
    async fn notifications_of(&self, rows: &[OutboxRow]) -> Result<Vec<(String, String, String)>, PublishError> {
        let Some((store, region)) = &self.notifications else { return Ok(Vec::new()) };
        let mut rules: HashMap<String, Option<(Rules, String)>> = HashMap::new();
        let mut out = Vec::new();
        // Only object events can match; their key `o:bucket/key` names the bucket (bucket names
        // have no `/`), so only events of buckets with rules are decoded.
        for row in rows {
            let Some((bucket, _)) = row.key.strip_prefix("o:").and_then(|k| k.split_once('/')) else { continue };
            if !rules.contains_key(bucket) {
                let found = store
                    .get_bucket(bucket)
                    .await
                    .map_err(|e| PublishError(format!("reading the notification rules of {bucket}: {e}")))?
                    .and_then(|b| Some((serde_json::from_str::<Rules>(b.notification.as_deref()?).ok()?, b.owner)));
                rules.insert(bucket.to_owned(), found);
            }
            let Some(Some((bucket_rules, owner))) = rules.get(bucket) else { continue };
            let Ok(mut event) = cloudstore_events::decode(row.body.as_bytes()) else { continue };
            event.detail.insert("bucket_owner".into(), owner.clone());
            for rule in bucket_rules.matching(&event) {
                let message = cloudstore_events::notification::aws_message(&event, rule, row.id, region);
                out.push((rule.topic.clone(), row.key.clone(), message));
            }
        }
        Ok(out)
    }
}

#[async_trait::async_trait]
impl Publisher for KafkaPublisher {
    async fn publish(&self, rows: &[OutboxRow]) -> Result<(), PublishError> {
        let producer = self.current();
        let sent = self.send(&producer, rows).await;
        if sent.is_err() {
            self.renew(&producer);
        }
        sent
    }
}

impl KafkaPublisher {
    /// Sends `rows` (and their notifications) with `producer`; `Ok` once all are acknowledged.
    async fn send(&self, producer: &FutureProducer<KafkaLog>, rows: &[OutboxRow]) -> Result<(), PublishError> {
        self.ensure_topic(&self.topic).await?;
        let notifications = self.notifications_of(rows).await?;
        for (topic, _, _) in &notifications {
            self.ensure_topic(topic).await?;
        }
        let mut pending = Vec::with_capacity(rows.len() + notifications.len());
        let messages = rows
            .iter()
            .map(|r| (self.topic.as_str(), r.key.as_str(), r.body.as_str()))
            .chain(notifications.iter().map(|(t, k, m)| (t.as_str(), k.as_str(), m.as_str())));
        for (topic, key, payload) in messages {
            loop {
                let record = FutureRecord::to(topic).key(key).payload(payload);
                match producer.send_result(record) {
                    Ok(delivery) => {
                        pending.push(delivery);
                        break;
                    }
                    Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                        // The local queue is full: let what is in flight land first.
                        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                    }
                    Err((e, _)) => return Err(PublishError(format!("producing to {topic}: {e}"))),
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

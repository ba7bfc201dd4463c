//! Kafka settings every client of the events pipeline shares, and topic creation.

use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::ClientContext;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};

/// Partitions of the topics the pipeline creates (events of one object stay on one).
pub const PARTITIONS: i32 = 6;

/// The settings every Kafka client of the pipeline starts from.
#[must_use]
pub fn client_config(brokers: &str) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", brokers).set("socket.keepalive.enable", "true").set("reconnect.backoff.max.ms", "2000");
    c
}

/// Creates `topics` with `partitions` and `replication`; a topic that exists already is fine.
pub async fn ensure_topics<C: ClientContext + 'static>(
    admin: &AdminClient<C>,
    topics: &[&str],
    partitions: i32,
    replication: i32,
) -> Result<(), KafkaError> {
    let new: Vec<NewTopic<'_>> =
        topics.iter().map(|t| NewTopic::new(t, partitions, TopicReplication::Fixed(replication))).collect();
    let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    for result in admin.create_topics(new.iter(), &opts).await? {
        match result {
            Ok(topic) => tracing::info!(topic = %topic, "created Kafka topic"),
            Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((topic, code)) => {
                tracing::debug!(topic = %topic, error = %code, "topic creation refused");
                return Err(KafkaError::AdminOp(code));
            }
        }
    }
    Ok(())
}

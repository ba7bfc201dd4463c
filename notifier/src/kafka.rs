//! Kafka settings every client of the events pipeline shares, and topic creation.

use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};

/// Partitions of the topics the pipeline creates (events of one object stay on one).
pub const PARTITIONS: i32 = 6;

/// The settings every Kafka client of the pipeline starts from, then the librdkafka properties
/// of `CLOUDSTORE_KAFKA_OPTIONS` (`name=value,name=value`: TLS, SASL, tuning), which override.
#[must_use]
pub fn client_config(brokers: &str) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", brokers).set("socket.keepalive.enable", "true").set("reconnect.backoff.max.ms", "2000");
    apply_options(&mut c);
    c
}

/// Applies `CLOUDSTORE_KAFKA_OPTIONS` to `c` (again, after a client's own settings, so the
/// operator's word is last).
pub fn apply_options(c: &mut ClientConfig) {
    if let Ok(options) = std::env::var("CLOUDSTORE_KAFKA_OPTIONS") {
        for (name, value) in parse_options(&options) {
            c.set(name, value);
        }
    }
}

/// `name=value` pairs separated by commas; blanks around them ignored, malformed ones skipped.
fn parse_options(options: &str) -> Vec<(&str, &str)> {
    options
        .split(',')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.trim(), v.trim()))
        .filter(|(k, _)| !k.is_empty())
        .collect()
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

/// The context of every Kafka client of the notifier: librdkafka's errors (a broker down
/// gives one per connection attempt) logged as a warning once per 30 s, the rest at debug;
/// and, for the consumer, its partition assignments and revocations (the commit step checks
/// the assignment itself).
#[derive(Debug, Default)]
pub struct KafkaLog {
    last_error: std::sync::Mutex<Option<Instant>>,
}

impl ClientContext for KafkaLog {
    /// librdkafka's own log lines: errors and warnings (a broker down says so every second)
    /// through the same once-per-30-s gate, the rest at debug.
    fn log(&self, level: RDKafkaLogLevel, fac: &str, log_message: &str) {
        let problem = matches!(
            level,
            RDKafkaLogLevel::Emerg
                | RDKafkaLogLevel::Alert
                | RDKafkaLogLevel::Critical
                | RDKafkaLogLevel::Error
                | RDKafkaLogLevel::Warning
        );
        if problem && self.loud() {
            tracing::warn!(facility = fac, "librdkafka: {log_message} (logged every 30 s at most)");
        } else {
            tracing::debug!(facility = fac, "librdkafka: {log_message}");
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        if self.loud() {
            tracing::warn!(error = %error, reason, "Kafka client error (librdkafka retries; logged every 30 s at most)");
        } else {
            tracing::debug!(error = %error, reason, "Kafka client error");
        }
    }
}

impl KafkaLog {
    /// Whether a problem may be logged loudly now (once per 30 s).
    fn loud(&self) -> bool {
        match self.last_error.lock() {
            Ok(mut last) if last.is_none_or(|t| t.elapsed() > Duration::from_secs(30)) => {
                *last = Some(Instant::now());
                true
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn options_are_name_value_pairs() {
        assert_eq!(
            super::parse_options(" batch.num.messages=1, linger.ms = 0,junk,=x,security.protocol=SASL_SSL"),
            [("batch.num.messages", "1"), ("linger.ms", "0"), ("security.protocol", "SASL_SSL")]
        );
    }
}

//! S3 bucket notifications (issue #12 item 6): a bucket's rules (from
//! PutBucketNotificationConfiguration), which events they select, and the AWS S3 event message
//! ("Records": eventName, s3.bucket, s3.object key/size/eTag/sequencer, ...) published for each
//! match, so consumers written for AWS or MinIO work unchanged.
//!
//! A rule's destination is a Kafka topic named by the last segment of its ARN
//! (`arn:aws:sns:us-east-1:123456789012:uploads` → topic `uploads`), for topic and queue
//! configurations alike. Pure logic, no I/O.

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::{Event, EventType};

/// The event names a rule may select (with `*` forms), as AWS and MinIO spell them.
pub const EVENT_NAMES: &[&str] = &[
    "s3:ObjectCreated:*",
    "s3:ObjectCreated:Put",
    "s3:ObjectCreated:Post",
    "s3:ObjectCreated:Copy",
    "s3:ObjectCreated:CompleteMultipartUpload",
    "s3:ObjectRemoved:*",
    "s3:ObjectRemoved:Delete",
    "s3:ObjectAccessed:*",
    "s3:ObjectAccessed:Get",
];

/// Why a configuration is refused (the message of the S3 error).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RuleError {
    #[error("The event {0} is not supported for notifications.")]
    UnknownEvent(String),
    #[error("A notification configuration must name at least one event.")]
    NoEvents,
    #[error("The destination ARN {0} is not valid: use arn:<partition>:sns|sqs:<region>:<account>:<kafka topic>.")]
    BadArn(String),
    #[error("Filter rule names must be prefix or suffix, each at most once.")]
    BadFilter,
    #[error("Configurations overlap: the same event and key can be selected twice for {0}.")]
    Overlap(String),
    #[error("The configuration id {0} is used twice.")]
    DuplicateId(String),
}

/// Which kind of AWS configuration a rule came from (to give it back as sent).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Destination {
    Topic,
    Queue,
}

/// One rule: which events, which keys, where to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rule {
    /// The configuration id (generated when none was sent).
    pub id: String,
    pub destination: Destination,
    /// The ARN as sent.
    pub arn: String,
    /// The Kafka topic (the ARN's last segment).
    pub topic: String,
    /// Event names from [`EVENT_NAMES`].
    pub events: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suffix: Option<String>,
}

/// A bucket's notification rules, as stored with the bucket (JSON).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rules {
    pub rules: Vec<Rule>,
}

/// The Kafka topic an ARN names: `arn:<partition>:sns|sqs:<region>:<account>:<topic>`, the topic
/// 1–249 of `[A-Za-z0-9._-]` (Kafka's rule).
pub fn topic_of(arn: &str) -> Result<String, RuleError> {
    let bad = || RuleError::BadArn(arn.to_owned());
    let parts: Vec<&str> = arn.split(':').collect();
    let [a, _partition, service, _region, _account, topic] = parts.as_slice() else { return Err(bad()) };
    if *a != "arn" || !matches!(*service, "sns" | "sqs") {
        return Err(bad());
    }
    let ok = !topic.is_empty()
        && topic.len() <= 249
        && topic.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok { Ok((*topic).to_owned()) } else { Err(bad()) }
}

impl Rule {
    /// Checks a rule as PutBucketNotificationConfiguration receives it.
    pub fn validate(&self) -> Result<(), RuleError> {
        if self.events.is_empty() {
            return Err(RuleError::NoEvents);
        }
        if let Some(e) = self.events.iter().find(|e| !EVENT_NAMES.contains(&e.as_str())) {
            return Err(RuleError::UnknownEvent(e.clone()));
        }
        topic_of(&self.arn).map(|_| ())
    }

    /// Whether this rule selects `name` (an event name such as `s3:ObjectCreated:Put`).
    fn selects(&self, name: &str) -> bool {
        self.events.iter().any(|e| match e.strip_suffix('*') {
            Some(family) => name.starts_with(family),
            None => e == name,
        })
    }

    fn keys_match(&self, key: &str) -> bool {
        self.prefix.as_deref().is_none_or(|p| key.starts_with(p))
            && self.suffix.as_deref().is_none_or(|s| key.ends_with(s))
    }
}

impl Rules {
    /// Checks every rule, that ids are unique, and (as AWS does) that no two rules with the
    /// same destination select the same event for overlapping keys.
    pub fn validate(&self) -> Result<(), RuleError> {
        for (i, r) in self.rules.iter().enumerate() {
            r.validate()?;
            for other in &self.rules[..i] {
                if other.id == r.id {
                    return Err(RuleError::DuplicateId(r.id.clone()));
                }
                let same_event = r.events.iter().any(|e| {
                    other.events.iter().any(|o| {
                        let (a, b) = (e.trim_end_matches('*'), o.trim_end_matches('*'));
                        a.starts_with(b) || b.starts_with(a)
                    })
                });
                let overlap = |x: &Option<String>, y: &Option<String>, starts: bool| match (x, y) {
                    (Some(x), Some(y)) => {
                        if starts {
                            x.starts_with(y.as_str()) || y.starts_with(x.as_str())
                        } else {
                            x.ends_with(y.as_str()) || y.ends_with(x.as_str())
                        }
                    }
                    _ => true,
                };
                if r.topic == other.topic
                    && same_event
                    && overlap(&r.prefix, &other.prefix, true)
                    && overlap(&r.suffix, &other.suffix, false)
                {
                    return Err(RuleError::Overlap(r.topic.clone()));
                }
            }
        }
        Ok(())
    }

    /// The rules an event matches (none for events that are no object event).
    #[must_use]
    pub fn matching(&self, event: &Event) -> Vec<&Rule> {
        let (Some(name), Some(key)) = (event_name(event), event.object_key.as_deref()) else { return Vec::new() };
        self.rules.iter().filter(|r| r.selects(name) && r.keys_match(key)).collect()
    }
}

/// The S3 event name of an object event (`None` for the others).
#[must_use]
pub fn event_name(event: &Event) -> Option<&'static str> {
    Some(match event.event_type {
        EventType::FileUploaded => "s3:ObjectCreated:Put",
        EventType::FileCopied => "s3:ObjectCreated:Copy",
        EventType::MultipartCompleted => "s3:ObjectCreated:CompleteMultipartUpload",
        EventType::FileDeleted => "s3:ObjectRemoved:Delete",
        EventType::FileDownloaded => "s3:ObjectAccessed:Get",
        _ => return None,
    })
}

/// An ISO 8601 UTC time with milliseconds, as AWS writes `eventTime`.
fn iso8601(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let millis = ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// An object key as AWS writes it in event messages (URL-encoded, spaces as `+`).
fn encode_key(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for b in key.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' | b'*' => {
                out.push(char::from(b))
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The AWS S3 event message for `event` matched by `rule`: one record. `sequencer` orders the
/// events of one key (the outbox id: larger is later); `region` is the gateway's.
#[must_use]
pub fn aws_message(event: &Event, rule: &Rule, sequencer: i64, region: &str) -> String {
    let name = event_name(event).unwrap_or("s3:ObjectCreated:Put");
    let bucket = event.bucket.clone().unwrap_or_default();
    let key = event.object_key.as_deref().unwrap_or_default();
    let principal = event.principal_arn.clone().or_else(|| event.user_id.clone()).unwrap_or_else(|| "anonymous".into());
    let mut object = json!({
        "key": encode_key(key),
        "sequencer": format!("{:016X}", sequencer.max(0)),
    });
    if event.event_type != EventType::FileDeleted {
        object["size"] = json!(event.bytes.unwrap_or(0));
        object["eTag"] = json!(event.etag.clone().unwrap_or_default());
    }
    if let Some(v) = &event.version_id {
        object["versionId"] = json!(v);
    }
    let record = json!({
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": region,
        "eventTime": iso8601(event.occurred_at),
        "eventName": name.trim_start_matches("s3:"),
        "userIdentity": { "principalId": principal },
        "requestParameters": { "sourceIPAddress": event.source_ip.clone().unwrap_or_default() },
        "responseElements": {
            "x-amz-request-id": event.request_id.clone().unwrap_or_default(),
            "x-amz-id-2": event.event_id,
        },
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": rule.id,
            "bucket": {
                "name": bucket,
                "ownerIdentity": { "principalId": event.detail.get("bucket_owner").cloned().unwrap_or_default() },
                "arn": format!("arn:aws:s3:::{bucket}"),
            },
            "object": object,
        },
    });
    json!({ "Records": [record] }).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(id: &str, events: &[&str], prefix: Option<&str>, suffix: Option<&str>) -> Rule {
        Rule {
            id: id.into(),
            destination: Destination::Topic,
            arn: "arn:aws:sns:us-east-1:123456789012:uploads".into(),
            topic: "uploads".into(),
            events: events.iter().map(|s| (*s).to_owned()).collect(),
            prefix: prefix.map(str::to_owned),
            suffix: suffix.map(str::to_owned),
        }
    }

    fn object_event(t: EventType, key: &str) -> Event {
        let mut e = Event::new(t, 1_700_000_000_123);
        e.bucket = Some("photos".into());
        e.object_key = Some(key.into());
        e.bytes = Some(42);
        e.etag = Some("abc".into());
        e
    }

    #[test]
    fn arns_name_a_kafka_topic() {
        assert_eq!(topic_of("arn:aws:sns:us-east-1:123456789012:uploads").as_deref(), Ok("uploads"));
        assert_eq!(topic_of("arn:minio:sqs::primary:my.topic_1").as_deref(), Ok("my.topic_1"));
        for bad in ["uploads", "arn:aws:lambda:us-east-1:1:f", "arn:aws:sns:us-east-1:1:", "arn:aws:sns:r:a:t/x"] {
            assert!(topic_of(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn rules_select_by_event_family_prefix_and_suffix() {
        let rules = Rules {
            rules: vec![
                rule("created-jpg", &["s3:ObjectCreated:*"], Some("img/"), Some(".jpg")),
                Rule { topic: "deletes".into(), ..rule("removed", &["s3:ObjectRemoved:Delete"], None, None) },
            ],
        };
        let ids = |e: &Event| rules.matching(e).iter().map(|r| r.id.clone()).collect::<Vec<_>>();
        assert_eq!(ids(&object_event(EventType::FileUploaded, "img/a.jpg")), ["created-jpg"]);
        assert_eq!(ids(&object_event(EventType::MultipartCompleted, "img/b.jpg")), ["created-jpg"]);
        assert!(ids(&object_event(EventType::FileUploaded, "img/a.png")).is_empty());
        assert!(ids(&object_event(EventType::FileUploaded, "doc/a.jpg")).is_empty());
        assert_eq!(ids(&object_event(EventType::FileDeleted, "img/a.jpg")), ["removed"]);
        assert!(ids(&object_event(EventType::FileDownloaded, "img/a.jpg")).is_empty());
        assert!(ids(&object_event(EventType::BucketCreated, "img/a.jpg")).is_empty());
    }

    #[test]
    fn validation_refuses_unknown_events_bad_arns_and_overlaps() {
        assert_eq!(
            rule("a", &["s3:ObjectCreated:Nope"], None, None).validate(),
            Err(RuleError::UnknownEvent("s3:ObjectCreated:Nope".into()))
        );
        assert_eq!(rule("a", &[], None, None).validate(), Err(RuleError::NoEvents));
        let overlapping = Rules {
            rules: vec![
                rule("a", &["s3:ObjectCreated:*"], Some("a/"), None),
                rule("b", &["s3:ObjectCreated:Put"], Some("a/b"), None),
            ],
        };
        assert_eq!(overlapping.validate(), Err(RuleError::Overlap("uploads".into())));
        let apart = Rules {
            rules: vec![
                rule("a", &["s3:ObjectCreated:*"], Some("a/"), None),
                rule("b", &["s3:ObjectCreated:Put"], Some("b/"), None),
            ],
        };
        assert_eq!(apart.validate(), Ok(()));
        let twice = Rules {
            rules: vec![
                rule("a", &["s3:ObjectCreated:*"], Some("a/"), None),
                rule("a", &["s3:ObjectRemoved:*"], None, None),
            ],
        };
        assert_eq!(twice.validate(), Err(RuleError::DuplicateId("a".into())));
    }

    #[test]
    fn the_message_has_the_aws_shape() {
        let mut e = object_event(EventType::FileUploaded, "img/a b+c.jpg");
        e.request_id = Some("req-1".into());
        e.source_ip = Some("10.0.0.1".into());
        e.principal_arn = Some("arn:aws:iam::123456789012:user/ann".into());
        let m: serde_json::Value =
            serde_json::from_str(&aws_message(&e, &rule("cfg", &["s3:ObjectCreated:*"], None, None), 255, "us-east-1"))
                .expect("json");
        let r = &m["Records"][0];
        assert_eq!(r["eventName"], "ObjectCreated:Put");
        assert_eq!(r["eventSource"], "aws:s3");
        assert_eq!(r["eventTime"], "2023-11-14T22:13:20.123Z");
        assert_eq!(r["awsRegion"], "us-east-1");
        assert_eq!(r["s3"]["configurationId"], "cfg");
        assert_eq!(r["s3"]["bucket"]["name"], "photos");
        assert_eq!(r["s3"]["bucket"]["arn"], "arn:aws:s3:::photos");
        assert_eq!(r["s3"]["object"]["key"], "img/a+b%2Bc.jpg");
        assert_eq!(r["s3"]["object"]["size"], 42);
        assert_eq!(r["s3"]["object"]["eTag"], "abc");
        assert_eq!(r["s3"]["object"]["sequencer"], "00000000000000FF");
        assert_eq!(r["requestParameters"]["sourceIPAddress"], "10.0.0.1");
        assert_eq!(r["responseElements"]["x-amz-request-id"], "req-1");
        assert_eq!(r["userIdentity"]["principalId"], "arn:aws:iam::123456789012:user/ann");
        let deleted = aws_message(
            &object_event(EventType::FileDeleted, "k"),
            &rule("c", &["s3:ObjectRemoved:*"], None, None),
            1,
            "r",
        );
        let d: serde_json::Value = serde_json::from_str(&deleted).expect("json");
        assert_eq!(d["Records"][0]["eventName"], "ObjectRemoved:Delete");
        assert!(d["Records"][0]["s3"]["object"].get("size").is_none(), "deletions carry no size, as on AWS");
    }
}

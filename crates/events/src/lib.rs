//! The event schema (issue #12, SPEC.md "Events"): one JSON document per event, versioned by
//! `schema_version`, shared by every producer (the gateway, the IAM service) and the notifier.
//!
//! Compatibility rules, so producers and consumers can be upgraded one at a time:
//! - a reader ignores fields it does not know and keeps event types it does not know
//!   ([`EventType::Other`]), so a newer producer never breaks an older notifier;
//! - new fields are optional (absent reads as `None` / empty), so an older producer never
//!   breaks a newer notifier;
//! - a change that would break either rule bumps [`SCHEMA_VERSION`];
//! - what cannot be read at all (not JSON, a required field missing) is a [`DecodeError`]
//!   whose text is the dead-letter reason.
//!
//! No I/O here: the outbox, the relay and the notifier build on these types.

pub mod notification;

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The schema version this crate writes.
pub const SCHEMA_VERSION: u16 = 1;

/// The Kafka topic events are published to.
pub const EVENTS_TOPIC: &str = "cloudstore.events";

/// The topic messages that cannot be read go to, with the reason.
pub const DEAD_LETTER_TOPIC: &str = "cloudstore.events.dead-letter";

macro_rules! event_types {
    ($($variant:ident => $name:literal,)*) => {
        /// What happened. Unknown names read as [`EventType::Other`] and are kept as they are.
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum EventType {
            $(#[doc = concat!("`", $name, "`")] $variant,)*
            /// A type this version does not know (written by a newer producer).
            Other(String),
        }

        impl EventType {
            /// Every type this version knows.
            pub const KNOWN: &'static [EventType] = &[$(EventType::$variant,)*];

            /// The name on the wire.
            #[must_use]
            pub fn as_str(&self) -> &str {
                match self {
                    $(EventType::$variant => $name,)*
                    EventType::Other(s) => s,
                }
            }
        }

        impl FromStr for EventType {
            type Err = std::convert::Infallible;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Ok(match s {
                    $($name => EventType::$variant,)*
                    other => EventType::Other(other.to_owned()),
                })
            }
        }
    };
}

event_types! {
    UserRegistered => "user_registered",
    UserLoggedIn => "user_logged_in",
    LoginFailed => "login_failed",
    SessionRevoked => "session_revoked",
    ProfileUpdated => "profile_updated",
    PasswordChanged => "password_changed",
    AccessKeyCreated => "access_key_created",
    AccessKeyDeleted => "access_key_deleted",
    AccessKeyUpdated => "access_key_updated",
    UserCreated => "user_created",
    UserDeleted => "user_deleted",
    IdentityChanged => "identity_changed",
    PolicyChanged => "policy_changed",
    BucketConfigChanged => "bucket_config_changed",
    BucketCreated => "bucket_created",
    BucketDeleted => "bucket_deleted",
    FileUploaded => "file_uploaded",
    FileCopied => "file_copied",
    MultipartCompleted => "multipart_completed",
    FileDownloaded => "file_downloaded",
    FileDeleted => "file_deleted",
    ObjectTagsChanged => "object_tags_changed",
    ObjectAclChanged => "object_acl_changed",
    ShareCreated => "share_created",
    ShareAccessed => "share_accessed",
    AccessDenied => "access_denied",
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for EventType {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for EventType {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Ok(s.parse().unwrap_or_else(|never: std::convert::Infallible| match never {}))
    }
}

/// One event: what happened, who did it, to what, from where, in which request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// The schema version the producer wrote.
    pub schema_version: u16,
    /// Unique per event (UUIDv7: time-ordered); consumers deduplicate on it.
    pub event_id: String,
    /// What happened.
    pub event_type: EventType,
    /// When, in milliseconds since the Unix epoch (UTC).
    pub occurred_at: i64,
    /// The account of the actor (or of the resource, for anonymous access).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    /// The acting user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// The access key the request was signed with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_key: Option<String>,
    /// The acting principal's ARN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal_arn: Option<String>,
    /// The bucket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bucket: Option<String>,
    /// The object key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_key: Option<String>,
    /// The object version, where there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
    /// The object's ETag (no quotes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    /// Bytes stored or sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
    /// The client's address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_ip: Option<String>,
    /// The client's User-Agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    /// The request id (`x-amz-request-id`), also the trace id of its logs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// The HTTP status answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Type-specific details (`action` and `reason` of a denial, a share's id, ...).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub detail: BTreeMap<String, String>,
}

impl Event {
    /// A new event of `event_type` at `occurred_at` (ms), with a fresh time-ordered id and
    /// nothing else set.
    #[must_use]
    pub fn new(event_type: EventType, occurred_at: i64) -> Self {
        Self {
            schema_version: SCHEMA_VERSION,
            event_id: uuid::Uuid::now_v7().to_string(),
            event_type,
            occurred_at,
            account_id: None,
            user_id: None,
            access_key: None,
            principal_arn: None,
            bucket: None,
            object_key: None,
            version_id: None,
            etag: None,
            bytes: None,
            source_ip: None,
            user_agent: None,
            request_id: None,
            status: None,
            detail: BTreeMap::new(),
        }
    }

    /// The message key that keeps related events in order on one partition: one object's
    /// events (`o:bucket/key`), else one bucket's (`b:bucket`), else one account's
    /// (`a:account`), else the event's own id.
    #[must_use]
    pub fn partition_key(&self) -> String {
        match (&self.bucket, &self.object_key, &self.account_id) {
            (Some(b), Some(k), _) => format!("o:{b}/{k}"),
            (Some(b), None, _) => format!("b:{b}"),
            (None, _, Some(a)) => format!("a:{a}"),
            (None, _, None) => format!("e:{}", self.event_id),
        }
    }

    /// The event as the JSON document that is published.
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        // Serializing these plain fields into a Vec cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// Why a message is not an event (the dead-letter reason).
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// Not JSON, or a required field is missing or of the wrong type.
    #[error("not a cloudstore event: {0}")]
    Malformed(#[from] serde_json::Error),
    /// An event id that is empty.
    #[error("not a cloudstore event: empty event_id")]
    EmptyId,
}

/// Reads a published event, tolerating fields and types it does not know.
///
/// # Errors
/// [`DecodeError`] when the bytes are not an event of any schema version.
pub fn decode(bytes: &[u8]) -> Result<Event, DecodeError> {
    let event: Event = serde_json::from_slice(bytes)?;
    if event.event_id.trim().is_empty() {
        return Err(DecodeError::EmptyId);
    }
    Ok(event)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn download() -> Event {
        let mut e = Event::new(EventType::FileDownloaded, 1_796_640_000_000);
        e.account_id = Some("123456789012".into());
        e.bucket = Some("photos".into());
        e.object_key = Some("cat.jpg".into());
        e.bytes = Some(4096);
        e.status = Some(200);
        e.detail.insert("range".into(), "bytes=0-4095".into());
        e
    }

    #[test]
    fn events_round_trip_and_carry_their_version() {
        let e = download();
        let json: serde_json::Value = serde_json::from_slice(&e.encode()).expect("json");
        assert_eq!(json["schema_version"], 1);
        assert_eq!(json["event_type"], "file_downloaded");
        assert!(json.get("user_agent").is_none(), "absent fields are left out: {json}");
        assert_eq!(decode(&e.encode()).expect("decode"), e);
    }

    #[test]
    fn every_known_type_has_its_name() {
        for t in EventType::KNOWN {
            assert_eq!(&t.as_str().parse::<EventType>().expect("infallible"), t);
            assert!(!matches!(t, EventType::Other(_)));
        }
        assert_eq!(EventType::KNOWN.len(), 26);
    }

    #[test]
    fn newer_producers_do_not_break_readers() {
        let newer = br#"{"schema_version":3,"event_id":"x1","event_type":"object_restored",
            "occurred_at":5,"bucket":"b","shiny_new_field":{"nested":[1,2]}}"#;
        let e = decode(newer).expect("tolerated");
        assert_eq!(e.schema_version, 3);
        assert_eq!(e.event_type, EventType::Other("object_restored".into()));
        assert_eq!(e.event_type.to_string(), "object_restored");
        assert_eq!(e.bucket.as_deref(), Some("b"));
        // Kept as it was when written again.
        assert!(String::from_utf8(e.encode()).expect("utf-8").contains(r#""event_type":"object_restored""#));
    }

    #[test]
    fn what_is_not_an_event_says_why() {
        for bad in [
            &b"not json"[..],
            br#"{"event_id":"x"}"#,
            br#"{"schema_version":1,"event_id":"","event_type":"file_uploaded","occurred_at":1}"#,
        ] {
            let err = decode(bad).expect_err("refused");
            assert!(err.to_string().starts_with("not a cloudstore event"), "{err}");
        }
    }

    #[test]
    fn related_events_share_a_partition_key() {
        let e = download();
        assert_eq!(e.partition_key(), "o:photos/cat.jpg");
        let mut b = Event::new(EventType::BucketCreated, 1);
        b.bucket = Some("photos".into());
        assert_eq!(b.partition_key(), "b:photos");
        let mut a = Event::new(EventType::AccessKeyCreated, 1);
        a.account_id = Some("123456789012".into());
        assert_eq!(a.partition_key(), "a:123456789012");
        let lone = Event::new(EventType::LoginFailed, 1);
        assert_eq!(lone.partition_key(), format!("e:{}", lone.event_id));
    }

    #[test]
    fn ids_are_unique_and_time_ordered() {
        let ids: Vec<String> = (0..100).map(|_| Event::new(EventType::FileUploaded, 0).event_id).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted, ids, "UUIDv7 ids sort in creation order and never repeat");
    }
}

use std::collections::BTreeMap;
use std::fmt;

use cloudstore_types::{Checksum, ChecksumAlgorithm, ChecksumType};
use time::OffsetDateTime;

/// The internal name of one immutable blob. Never derived from a user's key.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct BlobId(String);

impl BlobId {
    /// A fresh, unique id (UUID v7: time-ordered, so backends see sequential names).
    #[must_use]
    pub fn generate() -> Self {
        Self(uuid::Uuid::now_v7().simple().to_string())
    }

    /// Wraps an id read back from a store. Only `[0-9a-z-]` is accepted, so an id can never
    /// escape a directory or an S3 prefix.
    #[must_use]
    pub fn from_stored(s: impl Into<String>) -> Option<Self> {
        let s = s.into();
        let ok = !s.is_empty()
            && s.len() <= 64
            && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        ok.then_some(Self(s))
    }

    /// The id as a string slice.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for BlobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bucket {
    /// Globally unique name (validated by the frontend).
    pub name: String,
    /// Id of the owning account.
    pub owner: String,
    /// Region given at creation (`LocationConstraint`), or the server's region.
    pub region: String,
    /// Creation time.
    pub created_at: OffsetDateTime,
    /// The bucket policy document (JSON text, as given), if any. Opaque to the stores: the
    /// frontend parses and enforces it.
    pub policy: Option<String>,
    /// The notification rules (JSON of `cloudstore_events::notification::Rules`), if any.
    pub notification: Option<String>,
    /// The CORS configuration (JSON, of the frontend's rules), if any.
    pub cors: Option<String>,
    /// The Block Public Access settings (JSON, of the frontend's), if any.
    pub public_access_block: Option<String>,
    /// The bucket's tag set (JSON array of [`Tag`]), if any.
    pub tagging: Option<String>,
    /// The lifecycle configuration (JSON, of the frontend's rules), if any.
    pub lifecycle: Option<String>,
    /// The bucket's ACL grants (JSON, of the frontend's), if any; `None`: the owner's
    /// FULL_CONTROL only.
    pub acl: Option<String>,
    /// The Object Ownership setting, as the frontend names it, if any.
    pub object_ownership: Option<String>,
    /// The default encryption (JSON, of the frontend's), if any (ADR 0014).
    pub encryption: Option<String>,
    /// The versioning state (ADR 0017): `None` if versioning was never enabled.
    pub versioning: Option<Versioning>,
    /// The object lock configuration (JSON, of the frontend's; ADR 0018): `None` if object
    /// lock is not enabled on the bucket.
    pub object_lock: Option<String>,
}

/// A bucket's versioning state once it has been set (ADR 0017); a bucket that never had it
/// set is unversioned and can't go back to that state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Versioning {
    /// Every write makes a new version with a fresh id; deletes add delete markers.
    Enabled,
    /// Writes replace the "null" version; deletes add a "null" delete marker.
    Suspended,
}

impl Versioning {
    /// The stored (and S3) name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Enabled => "Enabled",
            Self::Suspended => "Suspended",
        }
    }

    /// The inverse of [`Self::as_str`].
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "Enabled" => Some(Self::Enabled),
            "Suspended" => Some(Self::Suspended),
            _ => None,
        }
    }
}

/// One version of an object as `object_versions` and `objects` hold it (ADR 0017): an object
/// version or a delete marker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectVersion {
    /// The version's metadata; for a delete marker only bucket, key, last-modified time and
    /// the version id in its attributes are meaningful (size 0, no parts).
    pub meta: ObjectMeta,
    /// Whether this is a delete marker.
    pub is_delete_marker: bool,
    /// Whether this is the newest version of its key.
    pub is_latest: bool,
    /// Its position among its key's versions (larger is newer; the current object is
    /// [`ObjectVersion::CURRENT`]). Listings continue from it.
    pub seq: i64,
}

impl ObjectVersion {
    /// The position of the current object (`objects` row) among its key's versions.
    pub const CURRENT: i64 = i64::MAX;

    /// The version id; `None` is the "null" version.
    #[must_use]
    pub fn version_id(&self) -> Option<&str> {
        self.meta.attributes.version_id.as_deref()
    }
}

/// A noncurrent version or delete marker the lifecycle pass found due (ADR 0016), and what
/// must still hold when [`crate::MetadataStore::delete_versions_if_due`] removes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueVersion {
    /// Its key.
    pub key: String,
    /// Its version id (`None`: the null version).
    pub version_id: Option<String>,
    /// Its position as the scan listed it ([`ObjectVersion::seq`]).
    pub seq: i64,
    /// Why it is due.
    pub due: VersionDue,
}

/// Why a version is due for removal by the lifecycle pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionDue {
    /// `NoncurrentVersionExpiration`: the version is noncurrent, became noncurrent at `since`
    /// or before (its successor, the next newer version or marker, was written then), and at
    /// least `newer` noncurrent versions (and markers) of its key are newer than it.
    Noncurrent {
        /// The latest time it may have become noncurrent.
        since: OffsetDateTime,
        /// How many newer noncurrent versions it needs (`NewerNoncurrentVersions`; 0: any).
        newer: u32,
    },
    /// An expired delete marker: the latest version of its key and the only one left.
    SoleMarker,
}

/// A bucket setting stored with the bucket, opaque to the stores (the frontend parses it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BucketConfig {
    /// The bucket policy.
    Policy,
    /// The notification configuration.
    Notification,
    /// The CORS configuration.
    Cors,
    /// The Block Public Access settings.
    PublicAccessBlock,
    /// The bucket's tag set.
    Tagging,
    /// The lifecycle configuration.
    Lifecycle,
    /// The bucket's ACL.
    Acl,
    /// The Object Ownership setting.
    ObjectOwnership,
    /// The default encryption.
    Encryption,
    /// The versioning state ([`Versioning::as_str`]).
    Versioning,
    /// The object lock configuration (ADR 0018).
    ObjectLock,
}

impl BucketConfig {
    /// Its column in `buckets`.
    #[must_use]
    pub fn column(self) -> &'static str {
        match self {
            Self::Policy => "policy",
            Self::Notification => "notification",
            Self::Cors => "cors",
            Self::PublicAccessBlock => "public_access_block",
            Self::Tagging => "tagging",
            Self::Lifecycle => "lifecycle",
            Self::Acl => "acl",
            Self::ObjectOwnership => "object_ownership",
            Self::Encryption => "encryption",
            Self::Versioning => "versioning",
            Self::ObjectLock => "object_lock",
        }
    }
}

/// An account-wide setting of the S3 data plane, stored in `account_settings`: one nullable
/// column each (absent row and NULL both mean "not configured").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountConfig {
    /// The account's Block Public Access settings (the S3 Control API's).
    PublicAccessBlock,
}

impl AccountConfig {
    /// Its column in `account_settings`.
    #[must_use]
    pub fn column(self) -> &'static str {
        match self {
            Self::PublicAccessBlock => "public_access_block",
        }
    }
}

/// One stored piece of an object's data, in order. A simple PUT has one; a completed
/// multipart upload has one per part.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BlobPart {
    /// The blob holding these bytes.
    pub blob: BlobId,
    /// Length in bytes.
    pub size: u64,
    /// Part number for multipart objects (1-based); 1 for a simple PUT.
    pub part_number: u32,
    /// The part's ETag (hex MD5, no quotes).
    pub etag: String,
    /// The part's checksum (base64), when one was computed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum: Option<String>,
}

/// Everything stored about a live object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectMeta {
    /// Bucket name.
    pub bucket: String,
    /// Object key (UTF-8, at most 1024 bytes).
    pub key: String,
    /// Total size in bytes.
    pub size: u64,
    /// ETag without quotes: hex MD5, or `hex-N` for multipart objects.
    pub etag: String,
    /// Time of the write that created this version (millisecond precision).
    pub last_modified: OffsetDateTime,
    /// `Content-Type`.
    pub content_type: Option<String>,
    /// `Content-Encoding`.
    pub content_encoding: Option<String>,
    /// `Content-Disposition`.
    pub content_disposition: Option<String>,
    /// `Content-Language`.
    pub content_language: Option<String>,
    /// `Cache-Control`.
    pub cache_control: Option<String>,
    /// `Expires`, as the client sent it.
    pub expires: Option<String>,
    /// `x-amz-meta-*` headers, names lower-cased without the prefix.
    pub user_metadata: BTreeMap<String, String>,
    /// Object checksum, when the client asked for one (or sent one).
    pub checksum: Option<Checksum>,
    /// The data, in order. Empty for a zero-byte object.
    pub parts: Vec<BlobPart>,
    /// Number of parts when the object came from a multipart upload.
    pub multipart_parts: Option<u32>,
    /// What the object carries beyond its HTTP metadata (tags, ...), stored as one JSON column.
    pub attributes: ObjectAttributes,
}

/// Per-object data beyond the HTTP metadata, kept in one JSON column (`objects.attributes`,
/// and in a multipart upload's template), so that a new per-object feature adds a field here
/// rather than a column and a new version of PostgreSQL's PUT functions (ADR 0012). Every
/// field is optional in the JSON: rows written before it existed decode to its default.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ObjectAttributes {
    /// The object's tag set, in the order it was given (at most 10, keys unique).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
    /// The object's access control list (ADR 0013) as the frontend wrote it (its owner and
    /// grants), opaque here; `None`: the default, the bucket owner's FULL_CONTROL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acl: Option<serde_json::Value>,
    /// How the object's data is encrypted at rest (ADR 0014); `None`: stored as sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption: Option<crate::ObjectEncryption>,
    /// The version id (ADR 0017); `None`: the "null" version (every object of a bucket that
    /// was never versioned, and those written while versioning is suspended).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
    /// The object lock retention mode (ADR 0018), with [`Self::retain_until`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lock_mode: Option<LockMode>,
    /// Until when the version is retained (milliseconds since the Unix epoch; ADR 0018).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retain_until: Option<i64>,
    /// The legal hold (ADR 0018): `Some(true)` on, `Some(false)` turned off, `None` never set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub legal_hold: Option<bool>,
}

/// An object lock retention mode (ADR 0018).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum LockMode {
    /// Those allowed `s3:BypassGovernanceRetention` may shorten or remove it.
    #[serde(rename = "GOVERNANCE")]
    Governance,
    /// Nobody shortens it or changes its mode, the platform admin included.
    #[serde(rename = "COMPLIANCE")]
    Compliance,
}

impl LockMode {
    /// The S3 name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Governance => "GOVERNANCE",
            Self::Compliance => "COMPLIANCE",
        }
    }

    /// The mode of an S3 name (exactly as AWS spells it).
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "GOVERNANCE" => Some(Self::Governance),
            "COMPLIANCE" => Some(Self::Compliance),
            _ => None,
        }
    }
}

impl ObjectAttributes {
    /// Attributes with these tags and nothing else.
    #[must_use]
    pub fn with_tags(tags: Vec<Tag>) -> Self {
        Self { tags, ..Self::default() }
    }

    /// Whether nothing is set (stored as `{}`).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// Whether the version's retention is in force at `now_ms` (milliseconds since the epoch).
    #[must_use]
    pub fn retained_at(&self, now_ms: i64) -> bool {
        self.lock_mode.is_some() && self.retain_until.is_some_and(|t| t > now_ms)
    }

    /// Whether `new` (attributes about to replace these) would shorten, remove or change the
    /// mode of a COMPLIANCE retention in force at `now_ms`: nobody may (ADR 0018), so the
    /// stores refuse such an attributes change whatever asked for it.
    #[must_use]
    pub fn weakens_compliance(&self, new: &Self, now_ms: i64) -> bool {
        self.lock_mode == Some(LockMode::Compliance)
            && self.retained_at(now_ms)
            && (new.lock_mode != Some(LockMode::Compliance) || new.retain_until < self.retain_until)
    }

    /// Whether object lock forbids removing the version at `now_ms` (ADR 0018): a legal hold,
    /// or a retention in force (a GOVERNANCE one not when `bypass_governance`).
    #[must_use]
    pub fn locked_at(&self, now_ms: i64, bypass_governance: bool) -> bool {
        self.legal_hold == Some(true)
            || (self.retained_at(now_ms) && !(bypass_governance && self.lock_mode == Some(LockMode::Governance)))
    }
}

/// One tag of an object or a bucket.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Tag {
    /// The tag's key (1 to 128 Unicode characters).
    pub key: String,
    /// The tag's value (0 to 256 Unicode characters).
    pub value: String,
}

/// The fields a listing returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectSummary {
    /// Object key.
    pub key: String,
    /// Size in bytes.
    pub size: u64,
    /// ETag without quotes.
    pub etag: String,
    /// Last modification time.
    pub last_modified: OffsetDateTime,
    /// Checksum algorithm of the object, if any.
    pub checksum_algorithm: Option<ChecksumAlgorithm>,
    /// Checksum type of the object, if any.
    pub checksum_type: Option<ChecksumType>,
}

/// Conditions on a write (`If-Match` / `If-None-Match: *`), checked atomically with it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteCondition {
    /// The write succeeds only if the current object's ETag equals this (no quotes).
    pub if_match: Option<String>,
    /// The write succeeds only if no object exists under the key.
    pub if_none_match: bool,
}

/// Conditions of a conditional delete (`If-Match`, `x-amz-if-match-last-modified-time`,
/// `x-amz-if-match-size`), checked in the delete's own transaction: an object that fails one
/// is kept (`PreconditionFailed`); a missing object is no error, as on AWS.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeleteCondition {
    /// The object's ETag (no quotes). `If-Match: *` sets none: any object matches.
    pub etag: Option<String>,
    /// The object's last-modified time, to the second (as HTTP dates carry it).
    pub last_modified: Option<OffsetDateTime>,
    /// The object's size in bytes.
    pub size: Option<u64>,
}

impl DeleteCondition {
    /// Whether `object` meets every condition given.
    #[must_use]
    pub fn holds_for(&self, object: &ObjectMeta) -> bool {
        self.etag.as_ref().is_none_or(|e| *e == object.etag)
            && self.last_modified.is_none_or(|t| t.unix_timestamp() == object.last_modified.unix_timestamp())
            && self.size.is_none_or(|s| s == object.size)
    }
}

/// An in-progress multipart upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upload {
    /// Bucket name.
    pub bucket: String,
    /// Object key.
    pub key: String,
    /// Opaque upload id.
    pub upload_id: String,
    /// When the upload was created.
    pub initiated: OffsetDateTime,
    /// Metadata the final object will carry; `size`, `etag`, `parts`, `checksum` unset.
    pub template: ObjectMeta,
    /// Checksum algorithm requested at creation.
    pub checksum_algorithm: Option<ChecksumAlgorithm>,
    /// Checksum type requested at creation.
    pub checksum_type: Option<ChecksumType>,
}

/// One uploaded part of a multipart upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartMeta {
    /// Part number, 1..=10000.
    pub part_number: u32,
    /// The blob holding the part.
    pub blob: BlobId,
    /// Size in bytes.
    pub size: u64,
    /// Hex MD5 of the part, no quotes.
    pub etag: String,
    /// The part's checksum (base64), if one was computed.
    pub checksum: Option<String>,
    /// When the part was uploaded.
    pub last_modified: OffsetDateTime,
}

/// A multipart upload found stale by the collector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaleUpload {
    /// Bucket name.
    pub bucket: String,
    /// Object key.
    pub key: String,
    /// Upload id.
    pub upload_id: String,
}

/// An event for the transactional outbox (ADR 0006), already encoded: written in the
/// transaction of the change it describes, published to Kafka (or the local event store) by the
/// relay afterwards. The store never looks inside.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEvent {
    /// The message key: one object's (or bucket's, or account's) events share it and stay in
    /// order.
    pub key: String,
    /// The encoded event (JSON of `cloudstore-events`).
    pub body: String,
}

/// An outbox row not yet published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxRow {
    /// Handed out at insert (before commit): rows of one key are in commit order, rows of
    /// different keys may commit out of id order.
    pub id: i64,
    pub key: String,
    pub body: String,
    /// When the row was written, milliseconds since the epoch.
    pub created_at: i64,
}

/// The unpublished part of the outbox.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutboxBacklog {
    /// Rows not yet published.
    pub rows: u64,
    /// `created_at` of the oldest of them.
    pub oldest_ms: Option<i64>,
}

/// The events of a deletion, made from what was deleted (nothing when nothing was).
pub type DeletedEvents<'a> = ObjectEvents<'a>;

/// The events of a change to one object, made from the object (as deleted or as changed).
pub type ObjectEvents<'a> = &'a (dyn Fn(&ObjectMeta) -> Vec<OutboxEvent> + Send + Sync);

/// An in-place change of an object's attributes: from the current object, its new attributes
/// (or an error that changes nothing).
pub type AttributesChange<'a> = &'a (dyn Fn(&ObjectMeta) -> crate::Result<ObjectAttributes> + Send + Sync);

/// A public share link (issue #13 item 1, ADR 0010): one object, handed to whoever holds the
/// link's token. Only the token's SHA-256 is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Share {
    /// The link's id (what its owner manages it by; not a secret).
    pub id: String,
    /// Hex SHA-256 of the token (the token itself is never stored).
    pub token_hash: String,
    /// The account the link belongs to (its creator's).
    pub account_id: String,
    /// The principal that created it; the link dies when it may no longer read the object.
    pub creator_arn: String,
    pub bucket: String,
    pub key: String,
    /// The download's file name, if not the key's last segment.
    pub filename: Option<String>,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    /// Downloads allowed; `None`: unlimited until expiry.
    pub max_downloads: Option<u64>,
    /// Downloads started so far.
    pub downloads: u64,
    /// The last use (a download, a resumed range, a HEAD).
    pub last_used_at: Option<OffsetDateTime>,
    /// The last counted download (ranges resuming it are served for a grace period after the
    /// link runs out).
    pub last_counted_at: Option<OffsetDateTime>,
    pub revoked: bool,
    /// The argon2id hash (PHC string) of the link's password, if it has one.
    pub password_hash: Option<String>,
    /// Password guesses charged in the window that started at `guesses_since`.
    pub guesses: u32,
    pub guesses_since: Option<OffsetDateTime>,
    /// An upload link's rules (JSON the gateway owns; ADR 0015); `None`: a download link. An
    /// upload link's `key` is the prefix uploads go under, and its `max_downloads` /
    /// `downloads` count uploads.
    pub upload_rules: Option<String>,
    /// A folder link: its `key` is a prefix (empty or ending in `/`) and it serves every
    /// object under it (ADR 0010); `max_downloads` / `downloads` count file downloads.
    pub folder: bool,
}

/// How [`crate::MetadataStore::use_share`] uses a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShareUse {
    /// A download starts: counts one, refused once `max_downloads` is reached.
    Download,
    /// A use that does not count (HEAD, a range resuming a download): allowed while downloads
    /// remain, or while the last counted download is after `counted_after`.
    Resume {
        /// Resumed ranges of an exhausted link are served until its last counted download
        /// is older than this.
        counted_after: OffsetDateTime,
    },
}

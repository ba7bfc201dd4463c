//! Column codecs shared by the SQL metadata stores (SQLite and PostgreSQL): milliseconds
//! since the epoch for times, JSON text for parts, user metadata and upload templates, and
//! the checked integer conversions between Rust and SQL types. Pure functions, no database.

use std::collections::BTreeMap;

use cloudstore_types::{Checksum, ChecksumAlgorithm, ChecksumType};
use time::{Duration, OffsetDateTime};

use crate::{BlobId, BlobPart, ObjectAttributes, ObjectMeta, Result, StoreError};

/// Milliseconds since the Unix epoch (sub-millisecond precision is dropped, rounding down).
pub fn to_ms(t: OffsetDateTime) -> i64 {
    let ms = t.unix_timestamp_nanos().div_euclid(1_000_000);
    i64::try_from(ms).unwrap_or(if ms < 0 { i64::MIN } else { i64::MAX })
}

/// The inverse of [`to_ms`].
pub fn from_ms(ms: i64) -> Result<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).map_err(StoreError::backend)
}

/// `now + d` in milliseconds, saturating.
pub fn ms_after(now: i64, d: Duration) -> i64 {
    let d = i64::try_from(d.whole_milliseconds()).unwrap_or(if d.is_negative() { i64::MIN } else { i64::MAX });
    now.saturating_add(d)
}

/// The current time in milliseconds since the epoch.
pub fn now_ms() -> i64 {
    to_ms(OffsetDateTime::now_utc())
}

pub fn to_i64(n: u64) -> Result<i64> {
    i64::try_from(n).map_err(|_| StoreError::backend("value too large for the database"))
}

pub fn to_u64(n: i64) -> Result<u64> {
    u64::try_from(n).map_err(|_| StoreError::backend("negative size in the database"))
}

pub fn to_u32(n: i64) -> Result<u32> {
    u32::try_from(n).map_err(|_| StoreError::backend("part number out of range in the database"))
}

pub fn limit(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

pub fn json<T: serde::Serialize + ?Sized>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(StoreError::backend)
}

pub fn from_json<T: serde::de::DeserializeOwned>(s: &str) -> Result<T> {
    serde_json::from_str(s).map_err(StoreError::backend)
}

pub fn blob_id(s: String) -> Result<BlobId> {
    BlobId::from_stored(s).ok_or_else(|| StoreError::backend("invalid blob id in the database"))
}

/// The distinct blob ids of `parts`, in order of first appearance.
pub fn distinct_blobs(parts: &[BlobPart]) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::with_capacity(parts.len());
    for p in parts {
        if !out.contains(&p.blob.as_str()) {
            out.push(p.blob.as_str());
        }
    }
    out
}

pub fn parse_algorithm(s: Option<&str>) -> Result<Option<ChecksumAlgorithm>> {
    s.map(|s| ChecksumAlgorithm::parse(s).ok_or_else(|| StoreError::backend("unknown checksum algorithm stored")))
        .transpose()
}

pub fn parse_checksum_type(s: Option<&str>) -> Result<Option<ChecksumType>> {
    s.map(|s| match s {
        "FULL_OBJECT" => Ok(ChecksumType::FullObject),
        "COMPOSITE" => Ok(ChecksumType::Composite),
        _ => Err(StoreError::backend("unknown checksum type stored")),
    })
    .transpose()
}

/// The object checksum as `(algorithm, value, type)` columns.
pub fn checksum_columns(c: Option<&Checksum>) -> (Option<&'static str>, Option<&str>, Option<&'static str>) {
    match c {
        Some(c) => (Some(c.algorithm.as_str()), Some(c.value.as_str()), Some(c.kind.as_str())),
        None => (None, None, None),
    }
}

/// The metadata an upload's object will carry, as stored in `uploads.template`. Bucket and key
/// come from the upload's own columns.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct TemplateJson {
    #[serde(default)]
    size: u64,
    #[serde(default)]
    etag: String,
    #[serde(default)]
    last_modified: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    content_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    content_encoding: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    content_disposition: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    content_language: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cache_control: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expires: Option<String>,
    #[serde(default)]
    user_metadata: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    checksum: Option<Checksum>,
    #[serde(default)]
    parts: Vec<BlobPart>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    multipart_parts: Option<u32>,
    #[serde(default, skip_serializing_if = "ObjectAttributes::is_empty")]
    attributes: ObjectAttributes,
}

impl TemplateJson {
    pub fn encode(m: &ObjectMeta) -> Result<String> {
        json(&Self {
            size: m.size,
            etag: m.etag.clone(),
            last_modified: to_ms(m.last_modified),
            content_type: m.content_type.clone(),
            content_encoding: m.content_encoding.clone(),
            content_disposition: m.content_disposition.clone(),
            content_language: m.content_language.clone(),
            cache_control: m.cache_control.clone(),
            expires: m.expires.clone(),
            user_metadata: m.user_metadata.clone(),
            checksum: m.checksum.clone(),
            parts: m.parts.clone(),
            multipart_parts: m.multipart_parts,
            attributes: m.attributes.clone(),
        })
    }

    pub fn decode(s: &str, bucket: &str, key: &str) -> Result<ObjectMeta> {
        let t: Self = from_json(s)?;
        Ok(ObjectMeta {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            size: t.size,
            etag: t.etag,
            last_modified: from_ms(t.last_modified)?,
            content_type: t.content_type,
            content_encoding: t.content_encoding,
            content_disposition: t.content_disposition,
            content_language: t.content_language,
            cache_control: t.cache_control,
            expires: t.expires,
            user_metadata: t.user_metadata,
            checksum: t.checksum,
            parts: t.parts,
            multipart_parts: t.multipart_parts,
            attributes: t.attributes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn millisecond_round_trip() {
        let t = OffsetDateTime::from_unix_timestamp_nanos(1_700_000_000_123_456_789).expect("valid time");
        assert_eq!(to_ms(t), 1_700_000_000_123);
        assert_eq!(from_ms(to_ms(t)).expect("valid").unix_timestamp_nanos(), 1_700_000_000_123_000_000);
        let before_epoch = OffsetDateTime::from_unix_timestamp_nanos(-1).expect("valid time");
        assert_eq!(to_ms(before_epoch), -1);
        assert_eq!(ms_after(5, Duration::seconds(2)), 2005);
        assert_eq!(ms_after(i64::MAX - 1, Duration::MAX), i64::MAX);
    }

    #[test]
    fn distinct_blobs_keeps_first_appearance() {
        let part = |b: &str, n| BlobPart {
            blob: BlobId::from_stored(b).expect("valid id"),
            size: 1,
            part_number: n,
            etag: "e".into(),
            checksum: None,
        };
        let parts = [part("b", 1), part("a", 2), part("b", 3)];
        assert_eq!(distinct_blobs(&parts), ["b", "a"]);
    }
}

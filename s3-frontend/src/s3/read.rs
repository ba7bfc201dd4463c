//! The read path shared by GetObject, CopyObject and UploadPartCopy: conditional-request
//! checks and a lazy stream over the blobs that hold a byte range of an object.

use std::ops::Range;
use std::sync::Arc;

use cloudstore_store_api::{BlobPart, BlobStore, ByteStream, ObjectMeta, StoreError};
use futures::StreamExt;
use s3s::dto::{ETag, ETagCondition, Timestamp};
use s3s::{S3Result, s3_error};

use super::Gateway;
use crate::error::store_error;

/// The pieces of blobs that hold `range` of an object made of `parts`.
pub(crate) fn segments(parts: &[BlobPart], range: &Range<u64>) -> Vec<(BlobPart, Option<Range<u64>>)> {
    let mut out = Vec::new();
    let mut offset = 0u64;
    for p in parts {
        let (start, end) = (offset, offset + p.size);
        offset = end;
        if end <= range.start || start >= range.end || p.size == 0 {
            continue;
        }
        let from = range.start.max(start) - start;
        let to = range.end.min(end) - start;
        let sub = if from == 0 && to == p.size { None } else { Some(from..to) };
        out.push((p.clone(), sub));
    }
    out
}

impl Gateway {
    /// Streams `range` of `obj`. The first blob is opened before returning, so a missing blob
    /// or an unreachable backend is an error response, not a broken body; later blobs are
    /// opened one at a time as the stream reaches them.
    pub(crate) async fn open_range(&self, obj: &ObjectMeta, range: Range<u64>) -> S3Result<ByteStream> {
        open_range(&self.blobs, obj, range).await.map_err(store_error)
    }
}

/// [`Gateway::open_range`] over a blob store (also used by share links). A live object's
/// missing blob is logged and answered as `Backend`, never `BlobNotFound`.
pub(crate) async fn open_range(
    blobs: &Arc<dyn BlobStore>,
    obj: &ObjectMeta,
    range: Range<u64>,
) -> Result<ByteStream, StoreError> {
    let mut segs = segments(&obj.parts, &range).into_iter();
    let Some((first, first_range)) = segs.next() else {
        return Ok(Box::pin(futures::stream::empty()));
    };
    let head = blobs.get(&first.blob, first_range).await.map_err(|e| match e {
        StoreError::BlobNotFound => {
            tracing::error!(blob = %first.blob, bucket = %obj.bucket, key = %obj.key, "live object's blob is missing");
            StoreError::backend("a live object's blob is missing")
        }
        e => e,
    })?;
    let blobs = blobs.clone();
    let rest = futures::stream::iter(segs)
        .then(move |(part, r)| {
            let blobs = blobs.clone();
            async move { blobs.get(&part.blob, r).await }
        })
        .flat_map(|res| match res {
            Ok(s) => s,
            Err(e) => Box::pin(futures::stream::once(async move { Err(std::io::Error::other(e)) })) as ByteStream,
        });
    Ok(Box::pin(head.chain(rest)))
}

/// Result of evaluating read preconditions.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Precondition {
    /// Serve the object.
    Proceed,
    /// 304 Not Modified.
    NotModified,
}

fn etag_matches(cond: &ETagCondition, etag: &str) -> bool {
    match cond {
        ETagCondition::Any => true,
        ETagCondition::ETag(ETag::Strong(v) | ETag::Weak(v)) => v == etag,
    }
}

/// Evaluates `If-Match`, `If-None-Match`, `If-Modified-Since` and `If-Unmodified-Since` the
/// way S3 does (RFC 9110 precedence): a failed If-Match / If-Unmodified-Since is 412, a failed
/// If-None-Match / If-Modified-Since is 304.
pub(crate) fn check_preconditions(
    obj: &ObjectMeta,
    if_match: Option<&ETagCondition>,
    if_none_match: Option<&ETagCondition>,
    if_modified_since: Option<&Timestamp>,
    if_unmodified_since: Option<&Timestamp>,
) -> S3Result<Precondition> {
    let last_modified = obj.last_modified.replace_millisecond(0).unwrap_or(obj.last_modified);
    let since = |t: &Timestamp| time::OffsetDateTime::from(t.clone());
    match if_match {
        Some(c) => {
            if !etag_matches(c, &obj.etag) {
                return Err(s3_error!(
                    PreconditionFailed,
                    "At least one of the pre-conditions you specified did not hold"
                ));
            }
        }
        None => {
            if let Some(t) = if_unmodified_since
                && last_modified > since(t)
            {
                return Err(s3_error!(
                    PreconditionFailed,
                    "At least one of the pre-conditions you specified did not hold"
                ));
            }
        }
    }
    match if_none_match {
        Some(c) => {
            if etag_matches(c, &obj.etag) {
                return Ok(Precondition::NotModified);
            }
        }
        None => {
            if let Some(t) = if_modified_since
                && last_modified <= since(t)
            {
                return Ok(Precondition::NotModified);
            }
        }
    }
    Ok(Precondition::Proceed)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use cloudstore_store_api::BlobId;

    fn part(n: u32, size: u64) -> BlobPart {
        BlobPart { blob: BlobId::generate(), size, part_number: n, etag: String::new(), checksum: None }
    }

    #[test]
    fn segments_cut_ranges_across_parts() {
        let parts = vec![part(1, 10), part(2, 10), part(3, 5)];
        let s = segments(&parts, &(0..25));
        assert_eq!(s.len(), 3);
        assert!(s.iter().all(|(_, r)| r.is_none()));
        let s = segments(&parts, &(5..12));
        assert_eq!(
            s.iter().map(|(p, r)| (p.part_number, r.clone())).collect::<Vec<_>>(),
            vec![(1, Some(5..10)), (2, Some(0..2))]
        );
        let s = segments(&parts, &(20..25));
        assert_eq!(s.iter().map(|(p, r)| (p.part_number, r.clone())).collect::<Vec<_>>(), vec![(3, None)]);
        assert!(segments(&parts, &(25..25)).is_empty());
    }

    /// An empty object with this ETag and modification time (also for the tests of writes).
    pub(crate) fn obj(etag: &str, modified: time::OffsetDateTime) -> ObjectMeta {
        ObjectMeta {
            bucket: "b".into(),
            key: "k".into(),
            size: 0,
            etag: etag.into(),
            last_modified: modified,
            content_type: None,
            content_encoding: None,
            content_disposition: None,
            content_language: None,
            cache_control: None,
            expires: None,
            user_metadata: Default::default(),
            checksum: None,
            parts: vec![],
            multipart_parts: None,
            attributes: Default::default(),
        }
    }

    #[test]
    fn preconditions_follow_rfc_precedence() {
        let t = time::macros::datetime!(2024-01-01 12:00:00.500 UTC);
        let o = obj("abc", t);
        let strong = |v: &str| ETagCondition::ETag(ETag::Strong(v.into()));
        let ts = |d: time::OffsetDateTime| Timestamp::from(d);
        let code = |r: S3Result<Precondition>| r.err().map(|e| e.code().clone());
        let pf = Some(s3s::S3ErrorCode::PreconditionFailed);

        assert_eq!(check_preconditions(&o, Some(&strong("abc")), None, None, None).ok(), Some(Precondition::Proceed));
        assert_eq!(code(check_preconditions(&o, Some(&strong("zzz")), None, None, None)), pf);
        assert_eq!(
            check_preconditions(&o, None, Some(&strong("abc")), None, None).ok(),
            Some(Precondition::NotModified)
        );
        assert_eq!(
            check_preconditions(&o, None, Some(&ETagCondition::Any), None, None).ok(),
            Some(Precondition::NotModified)
        );
        // Sub-second precision is ignored: HTTP dates have whole seconds.
        let same = time::macros::datetime!(2024-01-01 12:00:00 UTC);
        assert_eq!(check_preconditions(&o, None, None, Some(&ts(same)), None).ok(), Some(Precondition::NotModified));
        let earlier = time::macros::datetime!(2024-01-01 11:00:00 UTC);
        assert_eq!(check_preconditions(&o, None, None, Some(&ts(earlier)), None).ok(), Some(Precondition::Proceed));
        assert_eq!(code(check_preconditions(&o, None, None, None, Some(&ts(earlier)))), pf);
        // If-Match that holds overrides a failing If-Unmodified-Since.
        assert_eq!(
            check_preconditions(&o, Some(&strong("abc")), None, None, Some(&ts(earlier))).ok(),
            Some(Precondition::Proceed)
        );
        // If-None-Match that fails (differs) overrides If-Modified-Since.
        assert_eq!(
            check_preconditions(&o, None, Some(&strong("zzz")), Some(&ts(same)), None).ok(),
            Some(Precondition::Proceed)
        );
    }
}

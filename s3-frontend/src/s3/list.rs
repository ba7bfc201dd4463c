//! Listing: ListObjects (v1), ListObjectsV2 and ListObjectVersions (unversioned buckets:
//! every entry is the latest version, with VersionId "null").

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cloudstore_store_api::{ListPage, ListQuery, ListedObject, ObjectSummary, list_objects};
use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, s3_error};

use super::Gateway;
use super::checksum::{to_dto_algorithm, to_dto_type};
use super::object::{etag_out, len_i64};
use crate::error::StoreResultExt;

fn max_keys(v: Option<i32>) -> S3Result<usize> {
    match v {
        None => Ok(1000),
        Some(n) if n < 0 => Err(s3_error!(InvalidArgument, "max-keys must be a non-negative integer")),
        Some(n) => Ok(usize::try_from(n).unwrap_or(0).min(1000)),
    }
}

/// Whether keys are returned URL-encoded (`encoding-type=url`).
fn url_encoding(e: Option<&EncodingType>) -> S3Result<bool> {
    match e {
        None => Ok(false),
        Some(e) if e.as_str() == EncodingType::URL => Ok(true),
        Some(_) => Err(s3_error!(InvalidArgument, "Invalid Encoding Method specified in Request")),
    }
}

/// Refuses a listing parameter holding NUL, which no key can contain (PostgreSQL text cannot
/// hold it): 400 InvalidArgument from both backends, before the store is asked.
pub(crate) fn no_nul(name: &str, value: Option<&str>) -> S3Result<()> {
    if value.is_some_and(|v| v.contains('\0')) {
        return Err(s3_error!(InvalidArgument, "The {} parameter must not contain a NUL character.", name));
    }
    Ok(())
}

/// [`no_nul`] for the parameters every listing shares.
pub(crate) fn check_list_params(prefix: Option<&str>, delimiter: Option<&str>) -> S3Result<()> {
    no_nul("prefix", prefix)?;
    no_nul("delimiter", delimiter)
}

/// A listing field as AWS returns it with `encoding-type=url`: every byte percent-encoded
/// except the unreserved characters and `/` (`quux ab/` → `quux%20ab/`, `a+b` → `a%2Bb`).
fn enc(s: String, url: bool) -> String {
    if !url || s.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.~/".contains(&b)) {
        return s;
    }
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~/".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// An empty delimiter is no delimiter: AWS neither groups by it nor echoes it.
fn delimiter(d: Option<String>) -> Option<String> {
    d.filter(|d| !d.is_empty())
}

pub(crate) fn encode_token(marker: &str) -> String {
    URL_SAFE_NO_PAD.encode(marker.as_bytes())
}

pub(crate) fn decode_token(token: &str) -> S3Result<String> {
    URL_SAFE_NO_PAD
        .decode(token.as_bytes())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| s3_error!(InvalidArgument, "The continuation token provided is incorrect"))
}

struct Split {
    objects: Vec<ObjectSummary>,
    prefixes: Vec<String>,
}

fn split(page: ListPage) -> Split {
    let mut s = Split { objects: Vec::new(), prefixes: Vec::new() };
    for e in page.entries {
        match e {
            ListedObject::Object(o) => s.objects.push(o),
            ListedObject::Prefix(p) => s.prefixes.push(p),
        }
    }
    s
}

impl Gateway {
    fn object_entry(o: ObjectSummary, url: bool, owner: Option<&Owner>) -> Object {
        Object {
            key: Some(enc(o.key, url)),
            size: Some(len_i64(o.size)),
            e_tag: Some(etag_out(&o.etag)),
            last_modified: Some(o.last_modified.into()),
            storage_class: Some(ObjectStorageClass::from_static(ObjectStorageClass::STANDARD)),
            owner: owner.cloned(),
            checksum_algorithm: o.checksum_algorithm.map(|a| vec![to_dto_algorithm(a)]),
            checksum_type: o.checksum_type.map(to_dto_type),
            restore_status: None,
        }
    }

    async fn list_page(
        &self,
        bucket: &str,
        prefix: &str,
        delimiter: Option<&str>,
        after: Option<String>,
        max: usize,
    ) -> S3Result<ListPage> {
        self.bucket(bucket).await?;
        let q = ListQuery { prefix: prefix.to_owned(), delimiter: delimiter.map(str::to_owned), after, max_keys: max };
        list_objects(self.meta.as_ref(), bucket, &q).await.s3()
    }

    #[tracing::instrument(level = "debug", skip_all, fields(op = "ListObjects", bucket = %req.input.bucket))]
    pub(crate) async fn op_list_objects(
        &self,
        req: S3Request<ListObjectsInput>,
    ) -> S3Result<S3Response<ListObjectsOutput>> {
        let owner = self.bucket_owner_dto(&req.extensions).await?;
        let mut input = req.input;
        input.delimiter = delimiter(input.delimiter);
        let url = url_encoding(input.encoding_type.as_ref())?;
        let max = max_keys(input.max_keys)?;
        check_list_params(input.prefix.as_deref(), input.delimiter.as_deref())?;
        no_nul("marker", input.marker.as_deref())?;
        let prefix = input.prefix.clone().unwrap_or_default();
        let after = input.marker.clone().filter(|m| !m.is_empty());
        let page = self.list_page(&input.bucket, &prefix, input.delimiter.as_deref(), after, max).await?;
        let truncated = page.is_truncated;
        // NextMarker is only returned with a delimiter; clients use the last key otherwise.
        let next_marker = if input.delimiter.is_some() { page.next_marker().map(str::to_owned) } else { None };
        let s = split(page);
        Ok(S3Response::new(ListObjectsOutput {
            name: Some(input.bucket),
            // As on AWS, ListObjects (v1) never encodes Prefix (botocore does not decode it).
            prefix: Some(prefix),
            marker: Some(enc(input.marker.unwrap_or_default(), url)),
            max_keys: input.max_keys.or(Some(1000)),
            is_truncated: Some(truncated),
            next_marker: next_marker.map(|m| enc(m, url)),
            contents: Some(s.objects.into_iter().map(|o| Self::object_entry(o, url, Some(&owner))).collect()),
            common_prefixes: Some(s.prefixes.into_iter().map(|p| CommonPrefix { prefix: Some(enc(p, url)) }).collect()),
            delimiter: input.delimiter.map(|d| enc(d, url)),
            encoding_type: input.encoding_type,
            request_charged: None,
        }))
    }

    #[tracing::instrument(level = "debug", skip_all, fields(op = "ListObjectsV2", bucket = %req.input.bucket))]
    pub(crate) async fn op_list_objects_v2(
        &self,
        req: S3Request<ListObjectsV2Input>,
    ) -> S3Result<S3Response<ListObjectsV2Output>> {
        let extensions = req.extensions;
        let mut input = req.input;
        input.delimiter = delimiter(input.delimiter);
        let url = url_encoding(input.encoding_type.as_ref())?;
        let max = max_keys(input.max_keys)?;
        let prefix = input.prefix.clone().unwrap_or_default();
        check_list_params(input.prefix.as_deref(), input.delimiter.as_deref())?;
        no_nul("start-after", input.start_after.as_deref())?;
        let token = input.continuation_token.as_deref().map(decode_token).transpose()?;
        no_nul("continuation-token", token.as_deref())?;
        let after = match (token, input.start_after.clone().filter(|s| !s.is_empty())) {
            (Some(t), Some(s)) => Some(t.max(s)),
            (t, s) => t.or(s),
        };
        let page = self.list_page(&input.bucket, &prefix, input.delimiter.as_deref(), after, max).await?;
        let truncated = page.is_truncated;
        let next = page.next_marker().map(encode_token);
        let s = split(page);
        let owner =
            if input.fetch_owner.unwrap_or(false) { Some(self.bucket_owner_dto(&extensions).await?) } else { None };
        let key_count = i32::try_from(s.objects.len() + s.prefixes.len()).unwrap_or(i32::MAX);
        Ok(S3Response::new(ListObjectsV2Output {
            name: Some(input.bucket),
            prefix: Some(enc(prefix, url)),
            max_keys: input.max_keys.or(Some(1000)),
            key_count: Some(key_count),
            continuation_token: input.continuation_token,
            is_truncated: Some(truncated),
            next_continuation_token: next,
            contents: Some(s.objects.into_iter().map(|o| Self::object_entry(o, url, owner.as_ref())).collect()),
            common_prefixes: Some(s.prefixes.into_iter().map(|p| CommonPrefix { prefix: Some(enc(p, url)) }).collect()),
            delimiter: input.delimiter.map(|d| enc(d, url)),
            encoding_type: input.encoding_type,
            start_after: input.start_after.map(|s| enc(s, url)),
            request_charged: None,
        }))
    }

    #[tracing::instrument(level = "debug", skip_all, fields(op = "ListObjectVersions", bucket = %req.input.bucket))]
    pub(crate) async fn op_list_object_versions(
        &self,
        req: S3Request<ListObjectVersionsInput>,
    ) -> S3Result<S3Response<ListObjectVersionsOutput>> {
        let owner = self.bucket_owner_dto(&req.extensions).await?;
        let mut input = req.input;
        input.delimiter = delimiter(input.delimiter);
        let url = url_encoding(input.encoding_type.as_ref())?;
        let max = max_keys(input.max_keys)?;
        let prefix = input.prefix.clone().unwrap_or_default();
        check_list_params(input.prefix.as_deref(), input.delimiter.as_deref())?;
        no_nul("key-marker", input.key_marker.as_deref())?;
        let q = cloudstore_store_api::VersionListQuery {
            prefix: prefix.clone(),
            delimiter: input.delimiter.clone(),
            key_marker: input.key_marker.clone().filter(|m| !m.is_empty()),
            version_id_marker: input.version_id_marker.clone().filter(|m| !m.is_empty()),
            max_keys: max,
        };
        let page = cloudstore_store_api::list_object_versions(self.meta.as_ref(), &input.bucket, &q).await.s3()?;
        let truncated = page.is_truncated;
        let mut versions = Vec::new();
        let mut delete_markers = Vec::new();
        for v in page.versions {
            let version_id = Some(super::versioning::shown(v.version_id()));
            if v.is_delete_marker {
                delete_markers.push(DeleteMarkerEntry {
                    is_latest: Some(v.is_latest),
                    key: Some(enc(v.meta.key, url)),
                    last_modified: Some(v.meta.last_modified.into()),
                    owner: Some(owner.clone()),
                    version_id,
                });
                continue;
            }
            let o = v.meta;
            let algorithm = o.checksum.as_ref().map(|c| c.algorithm);
            versions.push(ObjectVersion {
                key: Some(enc(o.key, url)),
                size: Some(len_i64(o.size)),
                e_tag: Some(etag_out(&o.etag)),
                last_modified: Some(o.last_modified.into()),
                storage_class: Some(ObjectVersionStorageClass::from_static(ObjectVersionStorageClass::STANDARD)),
                owner: Some(owner.clone()),
                is_latest: Some(v.is_latest),
                version_id,
                checksum_algorithm: algorithm.map(|a| vec![to_dto_algorithm(a)]),
                checksum_type: o.checksum.as_ref().map(|c| to_dto_type(c.kind)),
                restore_status: None,
            });
        }
        Ok(S3Response::new(ListObjectVersionsOutput {
            name: Some(input.bucket),
            prefix: Some(enc(prefix, url)),
            key_marker: Some(enc(input.key_marker.unwrap_or_default(), url)),
            version_id_marker: Some(input.version_id_marker.unwrap_or_default()),
            max_keys: input.max_keys.or(Some(1000)),
            is_truncated: Some(truncated),
            next_version_id_marker: page.next_version_id_marker,
            next_key_marker: page.next_key_marker.map(|k| enc(k, url)),
            versions: Some(versions),
            delete_markers: (!delete_markers.is_empty()).then_some(delete_markers),
            common_prefixes: Some(
                page.common_prefixes.into_iter().map(|p| CommonPrefix { prefix: Some(enc(p, url)) }).collect(),
            ),
            delimiter: input.delimiter.map(|d| enc(d, url)),
            encoding_type: input.encoding_type,
            request_charged: None,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continuation_tokens_round_trip_any_key() {
        for k in ["a", "dir/sub/é€𝄞", "with space+plus", &"k".repeat(1024)] {
            assert_eq!(decode_token(&encode_token(k)).ok().as_deref(), Some(k));
        }
        assert!(decode_token("!!not base64!!").is_err());
    }

    #[test]
    fn url_encoding_keeps_slashes_and_unreserved() {
        assert_eq!(enc("foo+1/".to_owned(), true), "foo%2B1/");
        assert_eq!(enc("quux ab/thud".to_owned(), true), "quux%20ab/thud");
        assert_eq!(enc("a-b_c.d~e/f".to_owned(), true), "a-b_c.d~e/f");
        assert_eq!(enc("\n%é".to_owned(), true), "%0A%25%C3%A9");
        assert_eq!(enc("a b".to_owned(), false), "a b");
    }

    #[test]
    fn max_keys_bounds() {
        assert_eq!(max_keys(None).ok(), Some(1000));
        assert_eq!(max_keys(Some(5000)).ok(), Some(1000));
        assert_eq!(max_keys(Some(0)).ok(), Some(0));
        assert!(max_keys(Some(-1)).is_err());
    }
}

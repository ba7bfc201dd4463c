//! Object and bucket tags (issue #14 item 4): Put/Get/DeleteObjectTagging,
//! Put/Get/DeleteBucketTagging, and the tag sets of writes (`x-amz-tagging` on PutObject,
//! CreateMultipartUpload and CopyObject with `x-amz-tagging-directive: REPLACE`).
//!
//! Tags are checked as AWS checks them (at most 10 per object and 50 per bucket, keys of 1 to
//! 128 characters and values of at most 256, from letters, digits, spaces and `_ . : / = + - @`,
//! no key twice, none starting with `aws:`) and kept sorted by key, as AWS lists them. An
//! object's tags live in its attributes (ADR 0012): changing them changes neither its data,
//! nor its ETag, nor its modification time. The policy condition keys `s3:ExistingObjectTag/*`
//! and `s3:RequestObjectTag/*` read them (`crate::access`).

use cloudstore_events::EventType;
use cloudstore_store_api::{BucketConfig, ObjectMeta, Tag};
use s3s::dto::{
    DeleteBucketTaggingInput, DeleteBucketTaggingOutput, DeleteObjectTaggingInput, DeleteObjectTaggingOutput,
    GetBucketTaggingInput, GetBucketTaggingOutput, GetObjectTaggingInput, GetObjectTaggingOutput,
    PutBucketTaggingInput, PutBucketTaggingOutput, PutObjectTaggingInput, PutObjectTaggingOutput,
};
use s3s::{S3Request, S3Response, S3Result, s3_error};

use super::Gateway;
use crate::error::StoreResultExt as _;

/// At most this many tags on an object.
pub(crate) const MAX_OBJECT_TAGS: usize = 10;
/// At most this many tags on a bucket.
pub(crate) const MAX_BUCKET_TAGS: usize = 50;
const MAX_KEY_CHARS: usize = 128;
const MAX_VALUE_CHARS: usize = 256;

/// What a tag key or value may be made of (AWS: Unicode letters, digits, white space and
/// `_ . : / = + - @`).
fn allowed(s: &str) -> bool {
    s.chars().all(|c| c.is_alphanumeric() || c.is_whitespace() || "_.:/=+-@".contains(c))
}

fn invalid_tag(message: &str) -> s3s::S3Error {
    s3_error!(InvalidTag, "{message}")
}

/// Checks a tag set against AWS's rules (`max` tags at most) and sorts it by key.
pub(crate) fn validate(mut tags: Vec<Tag>, max: usize, what: &str) -> S3Result<Vec<Tag>> {
    if tags.len() > max {
        return Err(invalid_tag(&format!("{what} tags cannot be greater than {max}")));
    }
    for t in &tags {
        let key_chars = t.key.chars().count();
        if key_chars == 0 {
            return Err(invalid_tag("The TagKey you have provided is invalid"));
        }
        if key_chars > MAX_KEY_CHARS {
            return Err(invalid_tag("The TagKey you have provided is too long, max 128"));
        }
        if t.value.chars().count() > MAX_VALUE_CHARS {
            return Err(invalid_tag("The TagValue you have provided is too long, max 256"));
        }
        if t.key.to_ascii_lowercase().starts_with("aws:") {
            return Err(invalid_tag("Your TagKey cannot be prefixed with aws:"));
        }
        if !allowed(&t.key) {
            return Err(invalid_tag("The TagKey you have provided is invalid"));
        }
        if !allowed(&t.value) {
            return Err(invalid_tag("The TagValue you have provided is invalid"));
        }
    }
    tags.sort_by(|a, b| a.key.cmp(&b.key));
    if tags.windows(2).any(|w| w[0].key == w[1].key) {
        return Err(invalid_tag("Cannot provide multiple Tags with the same key"));
    }
    Ok(tags)
}

/// The tag set of an `x-amz-tagging` header: URL query syntax (`k1=v1&k2`, a key without
/// `=` has the empty value), checked as an object's tags.
pub(crate) fn parse_header(value: &str) -> S3Result<Vec<Tag>> {
    let tags = form_urlencoded::parse(value.as_bytes())
        .map(|(k, v)| Tag { key: k.into_owned(), value: v.into_owned() })
        .collect();
    validate(tags, MAX_OBJECT_TAGS, "Object")
}

/// The tag set of a POST form's `tagging` field: the `Tagging` XML document, checked as an
/// object's tags.
pub(crate) fn parse_form_field(xml: &str) -> S3Result<Vec<Tag>> {
    use s3s::xml::Deserialize as _;
    let mut d = s3s::xml::Deserializer::new(xml.as_bytes());
    let tagging = s3s::dto::Tagging::deserialize(&mut d)
        .map_err(|_| s3_error!(MalformedXML, "The tagging field is not a valid Tagging document."))?;
    from_dto(tagging.tag_set, MAX_OBJECT_TAGS, "Object")
}

/// The tag set of a request body (`Tagging`), checked.
fn from_dto(tag_set: Vec<s3s::dto::Tag>, max: usize, what: &str) -> S3Result<Vec<Tag>> {
    let mut tags = Vec::with_capacity(tag_set.len());
    for t in tag_set {
        let (Some(key), value) = (t.key, t.value) else {
            return Err(s3_error!(MalformedXML, "A Tag has no Key"));
        };
        tags.push(Tag { key, value: value.unwrap_or_default() });
    }
    validate(tags, max, what)
}

fn to_dto(tags: &[Tag]) -> Vec<s3s::dto::Tag> {
    tags.iter().map(|t| s3s::dto::Tag { key: Some(t.key.clone()), value: Some(t.value.clone()) }).collect()
}

/// The `x-amz-tagging-count` header value of an object with tags (GET and HEAD answer it).
pub(crate) fn count_header(obj: &ObjectMeta) -> Option<http::HeaderValue> {
    let n = obj.attributes.tags.len();
    (n > 0).then(|| http::HeaderValue::from(n))
}

impl Gateway {
    /// Replaces an object's tag set (`None`: removes it) in place, with its event.
    async fn set_object_tags(
        &self,
        req_parts: (&http::Extensions, &http::HeaderMap, Option<&str>),
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
        tags: Vec<Tag>,
    ) -> S3Result<Option<String>> {
        let (extensions, headers, access_key) = req_parts;
        let actor = crate::events::Actor::of(extensions, headers, access_key);
        let count = tags.len();
        let change = move |o: &ObjectMeta| {
            let mut a = o.attributes.clone();
            a.tags.clone_from(&tags);
            Ok(a)
        };
        let events = |o: &ObjectMeta| {
            self.outbox(|| {
                let mut e = actor.event(EventType::ObjectTagsChanged, &o.bucket, Some(&o.key));
                e.etag = Some(o.etag.clone());
                e.status = Some(200);
                e.detail.insert("tags".into(), count.to_string());
                e.version_id.clone_from(&o.attributes.version_id);
                e
            })
        };
        let version = super::versioning::version_arg(version_id);
        let changed = match version {
            None => self.meta.update_object_attributes(bucket, key, &change, &events).await.s3()?,
            Some(id) => self.meta.update_version_attributes(bucket, key, id, &change, &events).await.s3()?,
        };
        match changed {
            Some(o) => {
                self.committed_count(usize::from(self.events.is_some()));
                Ok(Self::version_out(extensions, &o))
            }
            None => match version {
                None => Err(self.no_such_key(bucket, key).await),
                // The error the read of that version gets (no such version, a marker...).
                Some(id) => Err(self
                    .object_version(bucket, key, id)
                    .await
                    .err()
                    .unwrap_or_else(|| s3_error!(NoSuchVersion, "The specified version does not exist."))),
            },
        }
    }

    #[tracing::instrument(level = "debug", skip_all, fields(op = "PutObjectTagging", bucket = %req.input.bucket))]
    pub(crate) async fn op_put_object_tagging(
        &self,
        req: S3Request<PutObjectTaggingInput>,
    ) -> S3Result<S3Response<PutObjectTaggingOutput>> {
        let input = req.input;
        let tags = from_dto(input.tagging.tag_set, MAX_OBJECT_TAGS, "Object")?;
        if let Some(who) = req.extensions.get::<crate::access::Authorized>() {
            who.check_request_tags("s3:PutObjectTagging", &input.bucket, &input.key, &tags)?;
        }
        let access_key = req.credentials.as_ref().map(|c| c.access_key.as_str());
        let version_id = self
            .set_object_tags(
                (&req.extensions, &req.headers, access_key),
                &input.bucket,
                &input.key,
                input.version_id.as_deref(),
                tags,
            )
            .await?;
        Ok(S3Response::new(PutObjectTaggingOutput { version_id }))
    }

    #[tracing::instrument(level = "debug", skip_all, fields(op = "GetObjectTagging", bucket = %req.input.bucket))]
    pub(crate) async fn op_get_object_tagging(
        &self,
        req: S3Request<GetObjectTaggingInput>,
    ) -> S3Result<S3Response<GetObjectTaggingOutput>> {
        let input = req.input;
        let obj = self.object_or_version(&input.bucket, &input.key, input.version_id.as_deref()).await?;
        let version_id = Self::version_out(&req.extensions, &obj);
        Ok(S3Response::new(GetObjectTaggingOutput { tag_set: to_dto(&obj.attributes.tags), version_id }))
    }

    #[tracing::instrument(level = "debug", skip_all, fields(op = "DeleteObjectTagging", bucket = %req.input.bucket))]
    pub(crate) async fn op_delete_object_tagging(
        &self,
        req: S3Request<DeleteObjectTaggingInput>,
    ) -> S3Result<S3Response<DeleteObjectTaggingOutput>> {
        let input = req.input;
        let access_key = req.credentials.as_ref().map(|c| c.access_key.as_str());
        let version_id = self
            .set_object_tags(
                (&req.extensions, &req.headers, access_key),
                &input.bucket,
                &input.key,
                input.version_id.as_deref(),
                Vec::new(),
            )
            .await?;
        let mut resp = S3Response::new(DeleteObjectTaggingOutput { version_id });
        resp.status = Some(http::StatusCode::NO_CONTENT);
        Ok(resp)
    }

    /// Sets or removes the bucket's tag set, with its event.
    async fn set_bucket_tags(
        &self,
        req_parts: (&http::Extensions, &http::HeaderMap, Option<&str>),
        bucket: &str,
        tags: &[Tag],
    ) -> S3Result<()> {
        let (extensions, headers, access_key) = req_parts;
        let actor = crate::events::Actor::of(extensions, headers, access_key);
        let stored = if tags.is_empty() {
            None
        } else {
            Some(serde_json::to_string(tags).map_err(|e| s3_error!(InternalError, "{e}"))?)
        };
        let events = self.outbox(|| {
            let mut e = actor.event(EventType::BucketConfigChanged, bucket, None);
            e.status = Some(if tags.is_empty() { 204 } else { 200 });
            e.detail.insert("config".into(), "tagging".into());
            e.detail.insert("tags".into(), tags.len().to_string());
            e
        });
        let done = self.meta.set_bucket_config(bucket, BucketConfig::Tagging, stored.as_deref(), &events).await.s3();
        self.bucket_changed(bucket);
        done?;
        self.committed(&events);
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all, fields(op = "PutBucketTagging", bucket = %req.input.bucket))]
    pub(crate) async fn op_put_bucket_tagging(
        &self,
        req: S3Request<PutBucketTaggingInput>,
    ) -> S3Result<S3Response<PutBucketTaggingOutput>> {
        let input = req.input;
        let tags = from_dto(input.tagging.tag_set, MAX_BUCKET_TAGS, "Bucket")?;
        let access_key = req.credentials.as_ref().map(|c| c.access_key.as_str());
        self.set_bucket_tags((&req.extensions, &req.headers, access_key), &input.bucket, &tags).await?;
        Ok(S3Response::new(PutBucketTaggingOutput {}))
    }

    #[tracing::instrument(level = "debug", skip_all, fields(op = "GetBucketTagging", bucket = %req.input.bucket))]
    pub(crate) async fn op_get_bucket_tagging(
        &self,
        req: S3Request<GetBucketTaggingInput>,
    ) -> S3Result<S3Response<GetBucketTaggingOutput>> {
        let b = self.bucket(&req.input.bucket).await?;
        let Some(json) = b.tagging.as_deref() else {
            return Err(s3_error!(NoSuchTagSet, "The TagSet does not exist"));
        };
        let tags: Vec<Tag> = serde_json::from_str(json).map_err(|e| s3_error!(InternalError, "stored tags: {e}"))?;
        Ok(S3Response::new(GetBucketTaggingOutput { tag_set: to_dto(&tags) }))
    }

    #[tracing::instrument(level = "debug", skip_all, fields(op = "DeleteBucketTagging", bucket = %req.input.bucket))]
    pub(crate) async fn op_delete_bucket_tagging(
        &self,
        req: S3Request<DeleteBucketTaggingInput>,
    ) -> S3Result<S3Response<DeleteBucketTaggingOutput>> {
        let access_key = req.credentials.as_ref().map(|c| c.access_key.as_str());
        self.set_bucket_tags((&req.extensions, &req.headers, access_key), &req.input.bucket, &[]).await?;
        let mut resp = S3Response::new(DeleteBucketTaggingOutput {});
        resp.status = Some(http::StatusCode::NO_CONTENT);
        Ok(resp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(k: &str, v: &str) -> Tag {
        Tag { key: k.into(), value: v.into() }
    }

    fn code(r: S3Result<Vec<Tag>>) -> String {
        r.expect_err("refused").code().as_str().to_owned()
    }

    #[test]
    fn header_tags_parse_sorted_with_empty_values() {
        assert_eq!(parse_header("foo=bar&bar").expect("valid"), vec![tag("bar", ""), tag("foo", "bar")]);
        assert_eq!(parse_header("a%20b=c%2Fd&x=").expect("valid"), vec![tag("a b", "c/d"), tag("x", "")]);
        assert_eq!(parse_header("").expect("valid"), vec![]);
    }

    #[test]
    fn aws_limits_are_refused_as_invalid_tag() {
        let ten: Vec<Tag> = (0..10).map(|i| tag(&i.to_string(), "v")).collect();
        assert_eq!(validate(ten.clone(), MAX_OBJECT_TAGS, "Object").expect("valid").len(), 10);
        let mut eleven = ten;
        eleven.push(tag("10", "v"));
        assert_eq!(code(validate(eleven.clone(), MAX_OBJECT_TAGS, "Object")), "InvalidTag");
        assert_eq!(validate(eleven, MAX_BUCKET_TAGS, "Bucket").expect("valid").len(), 11);
        let long_key = "k".repeat(128);
        let long_value = "ü".repeat(256);
        assert!(validate(vec![tag(&long_key, &long_value)], 10, "Object").is_ok());
        assert_eq!(code(validate(vec![tag(&format!("{long_key}k"), "")], 10, "Object")), "InvalidTag");
        assert_eq!(code(validate(vec![tag("k", &format!("{long_value}v"))], 10, "Object")), "InvalidTag");
        assert_eq!(code(validate(vec![tag("", "v")], 10, "Object")), "InvalidTag");
        assert_eq!(code(validate(vec![tag("a", "1"), tag("a", "2")], 10, "Object")), "InvalidTag");
        assert_eq!(code(validate(vec![tag("AWS:x", "1")], 10, "Object")), "InvalidTag");
        assert_eq!(code(validate(vec![tag("a<b", "1")], 10, "Object")), "InvalidTag");
        assert_eq!(code(validate(vec![tag("a", "x&y")], 10, "Object")), "InvalidTag");
        assert!(validate(vec![tag("ok _.:/=+-@ 1", "ça va")], 10, "Object").is_ok());
        assert_eq!(code(parse_header("a=1&a=2")), "InvalidTag");
    }
}

//! PostObject: browser HTML-form uploads to a bucket (ADR 0015). Parsed here, before s3s
//! (which would buffer the whole file before access control): the form's fields up to the file
//! are read within small limits (`form.rs`), the signature (SigV4 `x-amz-*` fields or SigV2
//! `AWSAccessKeyId`/`signature`) verified over the policy, the policy checked
//! (`post_policy.rs`), the signer (or an anonymous caller) authorized for `s3:PutObject` as a
//! PutObject would be, and only then is the file streamed into the normal write path
//! (`Gateway::op_post_object`). Fields after the file are never read.

use std::sync::Arc;

use base64::Engine as _;
use cloudstore_iam_api::Principal;
use hmac::{Hmac, Mac as _};
use http::{Request, Response, StatusCode};
use s3s::dto::StreamingBlob;
use s3s::{Body, S3Error, s3_error};
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;
use time::OffsetDateTime;

use crate::access::{Authorized, base_context, decide, resource_arn};
use crate::events::{Actor, RequestId};
use crate::form::FormError;
use crate::identity::{BucketInfo, Identity};
use crate::post_policy::{Fields, PostPolicy};
use crate::s3::post::PostUpload;
use crate::server::{ClientAddr, Frontend};

/// How long before its expiry a policy signed with SigV2 (which carries no signing time)
/// counts as signed, for presigned revocation (ADR 0009): the longest a presigned URL lives.
const SIGV2_ASSUMED_LIFE: i64 = 7 * 24 * 3600;

/// The multipart boundary of a form's `Content-Type`.
pub(crate) fn boundary(headers: &http::HeaderMap) -> Option<String> {
    let ct = headers.get(http::header::CONTENT_TYPE)?.to_str().ok()?;
    let m: mime::Mime = ct.parse().ok()?;
    (m.type_() == mime::MULTIPART && m.subtype() == mime::FORM_DATA)
        .then(|| m.get_param(mime::BOUNDARY).map(|b| b.as_str().to_owned()))
        .flatten()
}

/// A form's failure as S3 answers it.
pub(crate) fn form_error(e: &FormError) -> S3Error {
    match e {
        FormError::TooLarge => s3_error!(
            MaxPostPreDataLengthExceededError,
            "Your POST request fields preceding the upload file were too large."
        ),
        FormError::Body(_) | FormError::Incomplete => {
            s3_error!(IncompleteBody, "The request body terminated unexpectedly")
        }
        FormError::Malformed(_) => {
            s3_error!(MalformedPOSTRequest, "The body of your POST request is not well-formed multipart/form-data.")
        }
    }
}

fn missing_field(name: &str) -> S3Error {
    s3_error!(
        InvalidArgument,
        "Bucket POST must contain a field named '{name}'.  If it is specified, please check the order of the fields."
    )
}

/// Who signed a form, and when it says it was signed.
struct Signer {
    identity: Arc<Identity>,
    access_key: String,
    /// SigV4: the signing date (`x-amz-date`); SigV2: none.
    amz_date: Option<String>,
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = <Hmac<Sha256> as hmac::digest::KeyInit>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

fn hmac_sha1(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = <Hmac<sha1::Sha1> as hmac::digest::KeyInit>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

fn same(a: &str, b: &str) -> bool {
    bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// `20261207T101500Z` as unix seconds.
fn amz_date_secs(v: &str) -> Option<i64> {
    let fmt = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
    time::PrimitiveDateTime::parse(v, fmt).ok().map(|t| t.assume_utc().unix_timestamp())
}

/// The object's URL as the client addressed the bucket.
fn location(public: Option<&str>, headers: &http::HeaderMap, path: &str, key: &str) -> String {
    let host = headers.get(http::header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("localhost");
    let base = public.map_or_else(|| format!("http://{host}"), str::to_owned);
    format!("{base}{}/{}", path.trim_end_matches('/'), cloudstore_sigv4::uri_encode_path(key))
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&apos;")
}

impl Frontend {
    /// Verifies a form's signature, if it is signed: `None` for an anonymous form (no
    /// credentials and no policy).
    async fn post_signer(&self, fields: &Fields) -> Result<Option<Signer>, S3Error> {
        let v4 = ["x-amz-signature", "x-amz-credential", "x-amz-algorithm"].iter().any(|n| fields.get(n).is_some());
        let v2 = fields.get("awsaccesskeyid").is_some() || fields.get("signature").is_some();
        if !v4 && !v2 {
            if fields.get("policy").is_some() {
                return Err(missing_field("AWSAccessKeyId"));
            }
            return Ok(None);
        }
        let policy = fields.get("policy").ok_or_else(|| missing_field("policy"))?;
        if v4 {
            let algorithm = fields.get("x-amz-algorithm").ok_or_else(|| missing_field("x-amz-algorithm"))?;
            let credential = fields.get("x-amz-credential").ok_or_else(|| missing_field("x-amz-credential"))?;
            let amz_date = fields.get("x-amz-date").ok_or_else(|| missing_field("x-amz-date"))?;
            let signature = fields.get("x-amz-signature").ok_or_else(|| missing_field("x-amz-signature"))?;
            if algorithm != "AWS4-HMAC-SHA256" {
                return Err(s3_error!(InvalidArgument, "X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\""));
            }
            let parts: Vec<&str> = credential.split('/').collect();
            let [access_key, date, region, service, "aws4_request"] = parts[..] else {
                return Err(s3_error!(InvalidArgument, "Invalid X-Amz-Credential: {credential}"));
            };
            if amz_date_secs(amz_date).is_none() || !amz_date.starts_with(date) {
                return Err(s3_error!(InvalidArgument, "Invalid X-Amz-Date: {amz_date}"));
            }
            if service != "s3" {
                return Err(s3_error!(InvalidArgument, "Invalid X-Amz-Credential: the service must be s3"));
            }
            if region != self.api.region {
                return Err(s3_error!(
                    AuthorizationQueryParametersError,
                    "Error parsing the X-Amz-Credential parameter; the region '{region}' is wrong; expecting '{}'",
                    self.api.region
                ));
            }
            let identity = self.post_identity(access_key).await?;
            let key = cloudstore_sigv4::signing_key(&identity.secret, date, region, service);
            let expected = hex::encode(hmac_sha256(&key, policy.as_bytes()));
            if !same(&expected, &signature.to_ascii_lowercase()) {
                return Err(signature_mismatch());
            }
            return Ok(Some(Signer {
                identity,
                access_key: access_key.to_owned(),
                amz_date: Some(amz_date.to_owned()),
            }));
        }
        let access_key = fields.get("awsaccesskeyid").ok_or_else(|| missing_field("AWSAccessKeyId"))?;
        let signature = fields.get("signature").ok_or_else(|| missing_field("Signature"))?;
        let identity = self.post_identity(access_key).await?;
        let expected =
            base64::engine::general_purpose::STANDARD.encode(hmac_sha1(identity.secret.as_bytes(), policy.as_bytes()));
        if !same(&expected, signature.trim()) {
            return Err(signature_mismatch());
        }
        Ok(Some(Signer { identity, access_key: access_key.to_owned(), amz_date: None }))
    }

    async fn post_identity(&self, access_key: &str) -> Result<Arc<Identity>, S3Error> {
        match self.api.keys.resolve(access_key).await {
            Ok(Some(i)) => Ok(i),
            Ok(None) => {
                Err(s3_error!(InvalidAccessKeyId, "The AWS Access Key Id you provided does not exist in our records."))
            }
            Err(e) => {
                tracing::warn!(error = %e, "key lookup failed");
                Err(s3_error!(ServiceUnavailable, "The identity service is unavailable; please retry."))
            }
        }
    }

    /// Answers a POST form to a bucket (PostObject).
    pub(crate) async fn post_object(&self, req: Request<Body>) -> Result<Response<Body>, S3Error> {
        let (parts, body) = req.into_parts();
        let path = parts.uri.path().to_owned();
        let virtual_host = parts
            .headers
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .is_some_and(|h| self.domains.names_bucket(h));
        // Only a bucket takes a form: `POST /bucket` (or `/` of a bucket's host).
        let on_bucket = if virtual_host { path == "/" } else { path.trim_matches('/').split('/').count() == 1 };
        let bucket = crate::cors::bucket_of(&parts.uri, &parts.headers, &self.domains);
        let (true, Some(bucket)) = (on_bucket, bucket) else {
            return Err(s3_error!(MethodNotAllowed, "The specified method is not allowed against this resource."));
        };
        let boundary = boundary(&parts.headers).ok_or_else(|| {
            s3_error!(MalformedPOSTRequest, "The body of your POST request is not well-formed multipart/form-data.")
        })?;
        // A missing bucket is refused before a byte of the body is read.
        let info = match self.api.buckets.get(&bucket).await {
            Ok(Some(info)) => info,
            Ok(None) => return Err(s3_error!(NoSuchBucket, "The specified bucket does not exist")),
            Err(e) => return Err(crate::error::store_error(e)),
        };
        let form = crate::form::read(body, &boundary).await.map_err(|e| form_error(&e))?;
        let Some(file) = form.file else {
            return Err(s3_error!(InvalidArgument, "POST requires exactly one file upload per request."));
        };
        let mut fields = Fields::new(form.fields);
        let key = fields.get("key").ok_or_else(|| missing_field("key"))?.replace("${filename}", &file.filename);
        fields.set("key", key.clone());

        let signer = self.post_signer(&fields).await?;
        let policy = match (&signer, fields.get("policy")) {
            (Some(_), Some(p)) => Some(PostPolicy::from_base64(p)?),
            _ => None,
        };
        let now = OffsetDateTime::now_utc();
        if let (Some(s), Some(p)) = (&signer, &policy) {
            check_signer(s, p, &fields, now)?;
            p.check(now, &fields, &bucket)?;
        }
        let identity = signer.as_ref().map_or_else(
            || Arc::new(Identity::without_secret(Principal::anonymous(), Vec::new())),
            |s| s.identity.clone(),
        );
        let access_key = signer.as_ref().map(|s| s.access_key.clone());

        // Authorized as a PutObject of the key would be.
        let ip = parts.extensions.get::<ClientAddr>().map(|a| a.0.ip().to_string());
        let ua = parts.headers.get(http::header::USER_AGENT).and_then(|v| v.to_str().ok());
        let mut context = base_context(identity.principal.kind, ip, ua, fields.get("acl"));
        let (min_len, max_len) = policy.as_ref().and_then(PostPolicy::length_range).unwrap_or((0, u64::MAX));
        let mut up = upload_of(&fields, &bucket, &key, min_len, max_len)?;
        if !up.tags.is_empty() {
            context = crate::access::with_request_tags(context, &up.tags);
        }
        let resource = resource_arn(Some(&bucket), Some(&key));
        let why = decide(&identity, Some(&info), "s3:PutObject", &resource, &context);
        let mut extensions = http::Extensions::new();
        if let Some(a) = parts.extensions.get::<ClientAddr>() {
            extensions.insert(*a);
        }
        if let Some(r) = parts.extensions.get::<RequestId>() {
            extensions.insert(r.clone());
        }
        if !why.allowed {
            tracing::info!(
                op = "PostObject",
                resource,
                principal = %identity.principal.arn,
                reason = %why.reason,
                "access denied"
            );
            self.record_post_denial(
                &extensions,
                &parts.headers,
                access_key.as_deref(),
                &identity,
                &info,
                &bucket,
                &key,
                &why,
            );
            return Err(s3_error!(AccessDenied, "Access Denied"));
        }
        extensions.insert(Authorized { identity, bucket: Some(info), context: Arc::new(context) });
        let actor = Actor::of(&extensions, &parts.headers, access_key.as_deref());
        // The form's `acl` field, as PutObject's `x-amz-acl`: refused as AWS refuses it (on a
        // bucket whose ACLs are disabled, or public under BlockPublicAcls) before the file
        // is read.
        let mut acl_headers = http::HeaderMap::new();
        if let Some(acl) = fields.get("acl") {
            let value = http::HeaderValue::from_str(acl)
                .map_err(|_| s3_error!(InvalidArgument, "The acl field is not a canned ACL."))?;
            acl_headers.insert("x-amz-acl", value);
        }
        up.acl = self.gateway.new_object_acl(&extensions, &acl_headers).await?;

        let file = StreamingBlob::wrap(sync_wrapper::SyncStream::new(file.into_stream()));
        let obj = self.gateway.op_post_object(up, file, &actor).await?;
        Ok(post_success(&fields, &obj, &location(self.public_url.as_deref(), &parts.headers, &path, &obj.key)))
    }

    #[allow(clippy::too_many_arguments)]
    fn record_post_denial(
        &self,
        extensions: &http::Extensions,
        headers: &http::HeaderMap,
        access_key: Option<&str>,
        identity: &Identity,
        info: &BucketInfo,
        bucket: &str,
        key: &str,
        why: &cloudstore_policy::Authorization,
    ) {
        let Some(events) = &self.events else { return };
        let actor = Actor::of(extensions, headers, access_key).with_principal(&identity.principal, Some(&info.owner));
        let mut e = actor.event(cloudstore_events::EventType::AccessDenied, bucket, Some(key));
        e.status = Some(403);
        e.detail.insert("operation".into(), "PostObject".into());
        e.detail.insert("action".into(), "s3:PutObject".into());
        e.detail.insert("resource".into(), resource_arn(Some(bucket), Some(key)));
        e.detail.insert("reason".into(), why.reason.to_string());
        e.detail.insert("bucket_owner".into(), info.owner.clone());
        events.record(&e);
    }
}

fn signature_mismatch() -> S3Error {
    s3_error!(
        SignatureDoesNotMatch,
        "The request signature we calculated does not match the signature you provided. Check your key and signing method."
    )
}

/// What a signed form's credentials must also satisfy: the session token of temporary keys,
/// their expiry, and the key's presigned revocation time (ADR 0009), dated by the policy's
/// `x-amz-date` condition (SigV4) or, lacking one, a week before the policy expires.
fn check_signer(s: &Signer, policy: &PostPolicy, fields: &Fields, now: OffsetDateTime) -> Result<(), S3Error> {
    let identity = &s.identity;
    if let Some(expected) = &identity.session_token_hash {
        let presented = fields
            .get("x-amz-security-token")
            .ok_or_else(|| s3_error!(InvalidToken, "The provided token is malformed or otherwise invalid."))?;
        let hash = hex::encode(Sha256::digest(presented.as_bytes()));
        if !same(&hash, expected) {
            return Err(s3_error!(InvalidToken, "The provided token is malformed or otherwise invalid."));
        }
    }
    if identity.expires_at.is_some_and(|t| t <= now.unix_timestamp()) {
        return Err(s3_error!(ExpiredToken, "The provided token has expired."));
    }
    if let Some(not_before) = identity.presigned_not_before {
        // The signing time only counts when the signed policy pins it.
        let signed_at = s
            .amz_date
            .as_deref()
            .filter(|d| policy.eq_value("x-amz-date") == Some(*d))
            .and_then(amz_date_secs)
            .or_else(|| {
                let exp = policy.expiration.unix_timestamp();
                (exp - now.unix_timestamp() <= SIGV2_ASSUMED_LIFE).then_some(exp - SIGV2_ASSUMED_LIFE)
            });
        if signed_at.is_none_or(|t| t <= not_before) {
            return Err(s3_error!(AccessDenied, "This POST policy was revoked by its owner."));
        }
    }
    Ok(())
}

/// The object a form describes: its standard headers, `x-amz-meta-*` and checksums.
pub(crate) fn upload_of(
    fields: &Fields,
    bucket: &str,
    key: &str,
    min_len: u64,
    max_len: u64,
) -> Result<PostUpload, S3Error> {
    let get = |n: &str| fields.get(n).map(str::to_owned);
    let mut up = PostUpload {
        bucket: bucket.to_owned(),
        key: key.to_owned(),
        content_type: get("content-type").filter(|v| !v.is_empty()),
        cache_control: get("cache-control"),
        content_disposition: get("content-disposition"),
        content_encoding: get("content-encoding"),
        content_language: get("content-language"),
        checksum_algorithm: get("x-amz-checksum-algorithm"),
        min_len,
        max_len,
        ..PostUpload::default()
    };
    if let Some(e) = fields.get("expires") {
        let t = crate::s3::post::parse_expires(e)
            .ok_or_else(|| s3_error!(InvalidArgument, "Invalid Expires field: {e}"))?;
        up.expires = Some(t);
    }
    if let Some(t) = fields.get("tagging") {
        up.tags = crate::s3::tagging::parse_form_field(t)?;
    }
    for (name, value) in fields.iter() {
        if let Some(m) = name.strip_prefix("x-amz-meta-") {
            up.metadata.insert(m.to_owned(), value.to_owned());
        }
        let slot = match name {
            "x-amz-checksum-crc32" => &mut up.checksums.crc32,
            "x-amz-checksum-crc32c" => &mut up.checksums.crc32c,
            "x-amz-checksum-crc64nvme" => &mut up.checksums.crc64nvme,
            "x-amz-checksum-sha1" => &mut up.checksums.sha1,
            "x-amz-checksum-sha256" => &mut up.checksums.sha256,
            _ => continue,
        };
        *slot = Some(value.to_owned());
    }
    Ok(up)
}

/// The success answer AWS gives: a redirect if the form asks for one, else
/// `success_action_status` 200, 201 (with the `PostResponse` XML) or 204 (anything else).
fn post_success(fields: &Fields, obj: &cloudstore_store_api::ObjectMeta, location: &str) -> Response<Body> {
    let etag = format!("\"{}\"", obj.etag);
    let redirect = fields.get("success_action_redirect").or_else(|| fields.get("redirect")).filter(|r| !r.is_empty());
    let mut resp = Response::new(Body::empty());
    if let Some(url) = redirect.filter(|u| u.parse::<http::Uri>().is_ok_and(|u| u.scheme().is_some())) {
        let sep = if url.contains('?') { '&' } else { '?' };
        let target = format!(
            "{url}{sep}bucket={}&key={}&etag={}",
            urlencoding::encode(&obj.bucket),
            urlencoding::encode(&obj.key),
            urlencoding::encode(&etag)
        );
        *resp.status_mut() = StatusCode::SEE_OTHER;
        if let Ok(v) = http::HeaderValue::from_str(&target) {
            resp.headers_mut().insert(http::header::LOCATION, v);
        }
    } else {
        match fields.get("success_action_status") {
            Some("200") => *resp.status_mut() = StatusCode::OK,
            Some("201") => {
                *resp.status_mut() = StatusCode::CREATED;
                let xml = format!(
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<PostResponse><Location>{}</Location><Bucket>{}</Bucket><Key>{}</Key><ETag>{}</ETag></PostResponse>",
                    xml_escape(location),
                    xml_escape(&obj.bucket),
                    xml_escape(&obj.key),
                    xml_escape(&etag)
                );
                resp = Response::builder()
                    .status(StatusCode::CREATED)
                    .header(http::header::CONTENT_TYPE, "application/xml")
                    .body(Body::from(xml))
                    .unwrap_or_else(|_| Response::new(Body::empty()));
            }
            _ => *resp.status_mut() = StatusCode::NO_CONTENT,
        }
        if let Ok(v) = http::HeaderValue::from_str(location) {
            resp.headers_mut().insert(http::header::LOCATION, v);
        }
    }
    if let Ok(v) = http::HeaderValue::from_str(&etag) {
        resp.headers_mut().insert(http::header::ETAG, v);
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boundaries_and_dates() {
        let mut h = http::HeaderMap::new();
        h.insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("multipart/form-data; boundary=abc"));
        assert_eq!(boundary(&h).as_deref(), Some("abc"));
        h.insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("text/plain; boundary=abc"));
        assert_eq!(boundary(&h), None);
        assert_eq!(amz_date_secs("20000101T000000Z"), Some(946_684_800));
        assert_eq!(amz_date_secs("2000-01-01"), None);
    }

    #[test]
    fn success_answers() {
        let obj = cloudstore_store_api::ObjectMeta {
            bucket: "b".into(),
            key: "a&b.txt".into(),
            size: 0,
            etag: "e".into(),
            last_modified: OffsetDateTime::UNIX_EPOCH,
            content_type: None,
            content_encoding: None,
            content_disposition: None,
            content_language: None,
            cache_control: None,
            expires: None,
            user_metadata: std::collections::BTreeMap::new(),
            checksum: None,
            parts: Vec::new(),
            multipart_parts: None,
            attributes: cloudstore_store_api::ObjectAttributes::default(),
        };
        let f = |list: &[(&str, &str)]| Fields::new(list.iter().map(|(a, b)| ((*a).to_owned(), (*b).to_owned())));
        assert_eq!(post_success(&f(&[]), &obj, "http://h/b/a%26b.txt").status(), 204);
        assert_eq!(post_success(&f(&[("success_action_status", "404")]), &obj, "l").status(), 204);
        assert_eq!(post_success(&f(&[("success_action_status", "200")]), &obj, "l").status(), 200);
        let r = post_success(&f(&[("success_action_status", "201")]), &obj, "l");
        assert_eq!(r.status(), 201);
        let r = post_success(&f(&[("success_action_redirect", "http://x/y?z=1")]), &obj, "l");
        assert_eq!(r.status(), 303);
        assert_eq!(r.headers()["location"], "http://x/y?z=1&bucket=b&key=a%26b.txt&etag=%22e%22");
        // Not a URL: the status rules apply.
        assert_eq!(post_success(&f(&[("redirect", "nowhere")]), &obj, "l").status(), 204);
    }
}

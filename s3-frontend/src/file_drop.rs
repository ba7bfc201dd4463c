//! Upload-only share links, file drops (issue #13, ADR 0015): `POST /_api/v1/shares` with
//! `"kind": "upload"` and a `prefix` makes a link through which strangers may upload files
//! into that prefix only — within the link's size limit, content types and number of uploads
//! (counted when an upload starts, given back if it fails),
//! never replacing an existing object unless the link allows it — and see nothing else: no
//! listing, no download, not even the prefix. `GET /s/{token}` is a small HTML upload page
//! (no script); `POST /s/{token}` with a `multipart/form-data` body whose `file` part is the
//! file (`curl -F file=@report.pdf URL`) stores it as `prefix + file name`, streamed through
//! PostObject's write path. Every use is a `share_accessed` event, each stored file a
//! `file_uploaded` one.

use std::sync::Arc;

use cloudstore_iam_api::Principal;
use cloudstore_store_api::{Share, ShareUse};
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use s3s::Body;
use s3s::dto::StreamingBlob;
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::access::Authorized;
use crate::events::{Actor, RequestId};
use crate::identity::Identity;
use crate::s3::post::PostUpload;
use crate::server::{ClientAddr, Frontend};
use crate::shares::{
    CreateShare, gone_or_missing, html_escape, human_size, link_headers, public_error, public_unavailable, rfc3339,
    token_hash, valid_filename,
};

/// What an upload link's creator must be allowed (on the prefix at creation, on each key at use).
pub(crate) const WRITE: &str = "s3:PutObject";
/// Longest prefix.
const MAX_PREFIX: usize = 512;
/// Most content types a link lists.
const MAX_TYPES: usize = 50;

/// An upload link's rules, stored as JSON with the link (`shares.upload_rules`).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct UploadRules {
    /// Largest file, in bytes (`None`: the object size limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) max_bytes: Option<u64>,
    /// Content types allowed (`type/subtype` or `type/*`); empty: any.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) content_types: Vec<String>,
    /// Whether an upload may replace an object that exists.
    #[serde(default)]
    pub(crate) overwrite: bool,
}

impl UploadRules {
    fn parse(s: &str) -> Self {
        serde_json::from_str(s).unwrap_or_else(|e| {
            // Written by us only; an unreadable one allows nothing beyond the defaults.
            tracing::warn!(error = %e, "unreadable upload rules");
            Self { max_bytes: Some(0), ..Self::default() }
        })
    }

    /// Whether `content_type` (its essence) is allowed.
    fn allows(&self, content_type: &str) -> bool {
        let essence = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        self.content_types.is_empty()
            || self.content_types.iter().any(|t| match t.strip_suffix("/*") {
                Some(major) => essence.split_once('/').is_some_and(|(m, _)| m == major),
                None => *t == essence,
            })
    }
}

fn valid_type(t: &str) -> bool {
    let Some((major, minor)) = t.split_once('/') else { return false };
    let token = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b));
    token(major) && (minor == "*" || token(minor))
}

/// Validates an upload link's request: its prefix and rules (as JSON), or why not (a 400).
pub(crate) fn upload_link_of(ask: &CreateShare) -> Result<(String, String), &'static str> {
    let bad = |m: &'static str| Err(m);
    if ask.key.is_some() || ask.filename.is_some() || ask.max_downloads.is_some() {
        return bad("upload links take a prefix, not key, filename or max_downloads (use max_uploads)");
    }
    let Some(prefix) = ask.prefix.clone().filter(|p| !p.is_empty()) else {
        return bad("upload links need a non-empty prefix");
    };
    if prefix.len() > MAX_PREFIX || prefix.chars().any(char::is_control) {
        return bad("prefix must be at most 512 bytes without control characters");
    }
    if ask.max_bytes == Some(0) {
        return bad("max_bytes must be a positive integer");
    }
    let types: Vec<String> =
        ask.content_types.clone().unwrap_or_default().iter().map(|t| t.trim().to_ascii_lowercase()).collect();
    if types.len() > MAX_TYPES || !types.iter().all(|t| valid_type(t)) {
        return bad("content_types must be at most 50 types such as \"image/png\" or \"image/*\"");
    }
    let rules =
        UploadRules { max_bytes: ask.max_bytes, content_types: types, overwrite: ask.overwrite.unwrap_or(false) };
    Ok((prefix, serde_json::to_string(&rules).unwrap_or_default()))
}

/// An upload link as its owner sees it.
pub(crate) fn upload_share_json(s: &Share, rules: &str) -> Value {
    let rules = UploadRules::parse(rules);
    json!({
        "kind": "upload",
        "id": s.id,
        "bucket": s.bucket,
        "prefix": s.key,
        "created_by": s.creator_arn,
        "created_at": rfc3339(s.created_at),
        "expires_at": rfc3339(s.expires_at),
        "max_uploads": s.max_downloads,
        "uploads": s.downloads,
        "max_bytes": rules.max_bytes,
        "content_types": rules.content_types,
        "overwrite": rules.overwrite,
        "last_used_at": s.last_used_at.map(rfc3339),
        "revoked": s.revoked,
        "password": s.password_hash.is_some(),
    })
}

/// The file name an upload is stored under (after the prefix): the last segment of what the
/// browser sent (old browsers send a whole path), if it is a valid name.
fn upload_name(filename: &str) -> Option<String> {
    let name = filename.rsplit(['/', '\\']).next().unwrap_or("").trim();
    valid_filename(name).then(|| name.to_owned())
}

fn wants_html(headers: &http::HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.split(',').any(|t| t.split(';').next().is_some_and(|t| t.trim().eq_ignore_ascii_case("text/html"))))
}

/// A page of ours: no script, forms only to this very link, no framing.
fn page(status: StatusCode, title: &str, body: &str) -> Response<Body> {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" \
         content=\"width=device-width\"><meta name=\"robots\" content=\"noindex\"><title>{title}</title>\
         <style>body{{font-family:sans-serif;max-width:32em;margin:4em auto;padding:0 1em}}\
         button{{padding:.6em 1.2em;background:#1f6feb;color:#fff;border:0;border-radius:4px}}</style>\
         </head><body>{body}</body></html>",
        title = html_escape(title),
    );
    let mut r = Response::new(Body::from(html));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    link_headers(h);
    h.insert(
        "content-security-policy",
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
        ),
    );
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    r
}

/// A refusal: an HTML page for a browser, plain text for a tool.
fn refuse(html: bool, status: u16, message: &str) -> Response<Body> {
    if html {
        let code = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
        page(
            code,
            "Upload refused",
            &format!("<h1>Upload refused</h1><p>{}</p><p><a href=\"\">Back</a></p>", html_escape(message)),
        )
    } else {
        public_error(status, message)
    }
}

impl Frontend {
    /// Whether an upload link can be used now: alive, uploads left, the password given, the
    /// creator still allowed to write under the prefix. The refusal otherwise.
    async fn drop_usable(&self, req: &Request<Body>, share: &Share, now: OffsetDateTime) -> Result<(), Response<Body>> {
        if share.revoked {
            return Err(gone_or_missing(404));
        }
        if share.expires_at <= now || share.max_downloads.is_some_and(|m| share.downloads >= m) {
            return Err(gone_or_missing(410));
        }
        if let Some(hash) = &share.password_hash {
            self.check_password(req, share, hash, now).await?;
        }
        let probe = format!("{}{}", share.key, "x");
        match self.creator_may(share, WRITE, &probe).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(gone_or_missing(404)),
            Err(r) => Err(r),
        }
    }

    /// `GET`/`HEAD /s/{token}` of an upload link: the upload page (never counts).
    pub(crate) async fn drop_page(&self, req: &Request<Body>, share: &Share, head: bool) -> Response<Body> {
        let now = OffsetDateTime::now_utc();
        if let Err(r) = self.drop_usable(req, share, now).await {
            return r;
        }
        let rules = UploadRules::parse(share.upload_rules.as_deref().unwrap_or("{}"));
        let mut limits = String::new();
        if let Some(m) = rules.max_bytes {
            limits.push_str(&format!("<li>Largest file: {}</li>", human_size(m)));
        }
        if !rules.content_types.is_empty() {
            limits.push_str(&format!("<li>Accepted types: {}</li>", html_escape(&rules.content_types.join(", "))));
        }
        if let Some(m) = share.max_downloads {
            limits.push_str(&format!("<li>Uploads left: {}</li>", m.saturating_sub(share.downloads)));
        }
        limits.push_str(&format!("<li>Open until: {} (UTC)</li>", html_escape(&rfc3339(share.expires_at))));
        let accept = if rules.content_types.is_empty() {
            String::new()
        } else {
            format!(" accept=\"{}\"", html_escape(&rules.content_types.join(",")))
        };
        let body = format!(
            "<h1>Upload a file</h1><ul>{limits}</ul><form method=\"post\" enctype=\"multipart/form-data\">\
             <p><input type=\"file\" name=\"file\" required{accept}></p><p><button type=\"submit\">Upload</button></p>\
             </form><p>Files you upload cannot be seen through this link.</p>"
        );
        self.record_use(req, share, None, 0, 200, "PAGE", false);
        let r = page(StatusCode::OK, "Upload a file", &body);
        if head {
            let (parts, _) = r.into_parts();
            return Response::from_parts(parts, Body::empty());
        }
        r
    }

    /// `POST /s/{token}`: one file into an upload link's prefix.
    pub(crate) async fn drop_upload(&self, req: Request<Body>, token: &str) -> Response<Body> {
        // What the events need of the request, kept before its body is consumed.
        let mut shadow = Request::new(Body::empty());
        *shadow.method_mut() = Method::POST;
        *shadow.headers_mut() = req.headers().clone();
        if let Some(a) = req.extensions().get::<ClientAddr>() {
            shadow.extensions_mut().insert(*a);
        }
        if let Some(r) = req.extensions().get::<RequestId>() {
            shadow.extensions_mut().insert(r.clone());
        }
        let share = match self.meta.share_by_token(&token_hash(token)).await {
            Ok(Some(s)) => s,
            Ok(None) => return gone_or_missing(404),
            Err(e) => return public_unavailable(&e),
        };
        // A download or folder link's POST is its password form.
        if share.upload_rules.is_none() {
            return self.share_unlock(req, &share, token).await;
        }
        let (resp, stored) = self.drop_store(req, &share).await;
        let status = resp.status().as_u16();
        match stored {
            Some(obj) => self.record_use(&shadow, &share, Some(&obj), obj.size, status, "UPLOAD", true),
            None => self.record_use(&shadow, &share, None, 0, status, "UPLOAD", false),
        }
        resp
    }

    async fn drop_store(
        &self,
        req: Request<Body>,
        share: &Share,
    ) -> (Response<Body>, Option<cloudstore_store_api::ObjectMeta>) {
        let html = wants_html(req.headers());
        let now = OffsetDateTime::now_utc();
        if let Err(r) = self.drop_usable(&req, share, now).await {
            return (r, None);
        }
        let rules = UploadRules::parse(share.upload_rules.as_deref().unwrap_or("{}"));
        let Some(boundary) = crate::post_object::boundary(req.headers()) else {
            return (refuse(html, 400, "send the file as multipart/form-data, in a part named \"file\""), None);
        };
        let (parts, body) = req.into_parts();
        let form = match crate::form::read(body, &boundary).await {
            Ok(f) => f,
            Err(e) => return (refuse(html, 400, &e.to_string()), None),
        };
        let Some(file) = form.file else {
            return (refuse(html, 400, "the form has no part named \"file\""), None);
        };
        let Some(name) = upload_name(&file.filename) else {
            return (refuse(html, 400, "the file needs a name of 1 to 255 bytes without control characters"), None);
        };
        let content_type =
            file.content_type.clone().filter(|t| !t.is_empty()).unwrap_or_else(|| "application/octet-stream".into());
        if !rules.allows(&content_type) {
            return (refuse(html, 415, &format!("files of type {content_type} are not accepted here")), None);
        }
        let key = format!("{}{name}", share.key);
        // The creator's current permission on this very key (a Deny on part of the prefix).
        match self.creator_may(share, WRITE, &key).await {
            Ok(true) => {}
            Ok(false) => return (gone_or_missing(404), None),
            Err(r) => return (r, None),
        }
        let taken = || refuse(html, 409, &format!("a file named {name} was uploaded already; rename it and try again"));
        if !rules.overwrite {
            match self.meta.get_object(&share.bucket, &key).await {
                Ok(Some(_)) => return (taken(), None),
                Ok(None) => {}
                Err(e) => return (public_unavailable(&e), None),
            }
        }
        let info = match self.api.buckets.get(&share.bucket).await {
            Ok(Some(b)) => b,
            Ok(None) => return (gone_or_missing(404), None),
            Err(e) => return (public_unavailable(&e), None),
        };
        // An upload counts when it starts: concurrent uploads never exceed the limit.
        match self.meta.use_share(&share.id, now, ShareUse::Download).await {
            Ok(Some(_)) => {}
            Ok(None) => return (gone_or_missing(410), None),
            Err(e) => return (public_unavailable(&e), None),
        }
        // The events belong to the bucket owner; the uploader is anonymous.
        let mut extensions = http::Extensions::new();
        if let Some(a) = parts.extensions.get::<ClientAddr>() {
            extensions.insert(*a);
        }
        if let Some(r) = parts.extensions.get::<RequestId>() {
            extensions.insert(r.clone());
        }
        let anonymous = Arc::new(Identity::without_secret(Principal::anonymous(), Vec::new()));
        extensions.insert(Authorized {
            identity: anonymous,
            bucket: Some(info),
            context: Arc::new(cloudstore_policy::Context::new()),
        });
        let actor = Actor::of(&extensions, &parts.headers, None);
        let up = PostUpload {
            bucket: share.bucket.clone(),
            key: key.clone(),
            content_type: Some(content_type),
            max_len: rules.max_bytes.unwrap_or(u64::MAX),
            if_none_match: !rules.overwrite,
            share_id: Some(share.id.clone()),
            ..PostUpload::default()
        };
        let file = StreamingBlob::wrap(sync_wrapper::SyncStream::new(file.into_stream()));
        let obj = match self.gateway.op_post_object(up, file, &actor).await {
            Ok(o) => o,
            Err(e) => {
                // A failed upload gives its slot back.
                if let Err(e) = self.meta.refund_share_use(&share.id).await {
                    tracing::warn!(error = %e, share = %share.id, "file drop: refunding a failed upload failed");
                }
                let resp = match e.code().as_str() {
                    "EntityTooLarge" => refuse(html, 413, "the file is larger than this link accepts"),
                    "PreconditionFailed" => taken(),
                    "IncompleteBody" | "RequestTimeout" => refuse(html, 400, "the upload did not complete"),
                    _ if e.status_code().is_some_and(|s| s.is_server_error()) => {
                        tracing::warn!(error = %e, "file drop: upload failed");
                        public_error(503, "the service is unavailable, try again")
                    }
                    _ => refuse(html, 400, e.message().unwrap_or("the upload was refused")),
                };
                return (resp, None);
            }
        };
        tracing::info!(share = %share.id, bucket = %obj.bucket, size = obj.size, "file drop: file uploaded");
        let resp = if html {
            page(
                StatusCode::CREATED,
                "Uploaded",
                &format!(
                    "<h1>Uploaded</h1><p>{} ({}) was received.</p><p><a href=\"\">Upload another file</a></p>",
                    html_escape(&name),
                    human_size(obj.size)
                ),
            )
        } else {
            let mut r =
                Response::new(Body::from(json!({ "name": name, "size": obj.size, "etag": obj.etag }).to_string()));
            *r.status_mut() = StatusCode::CREATED;
            r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
            link_headers(r.headers_mut());
            r
        };
        (resp, Some(obj))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_and_names() {
        let r =
            UploadRules { content_types: vec!["image/*".into(), "application/pdf".into()], ..UploadRules::default() };
        assert!(r.allows("image/png"));
        assert!(r.allows("Application/PDF; charset=x"));
        assert!(!r.allows("text/html"));
        assert!(!r.allows("imagex/png"));
        assert!(UploadRules::default().allows("text/html"));
        assert!(
            valid_type("image/*")
                && valid_type("application/vnd.ms-excel")
                && !valid_type("image")
                && !valid_type("*/*x")
        );
        assert_eq!(upload_name("C:\\Users\\me\\report.pdf").as_deref(), Some("report.pdf"));
        assert_eq!(upload_name("a/b/c.txt").as_deref(), Some("c.txt"));
        assert_eq!(upload_name(""), None);
        assert_eq!(upload_name(".."), None);
        assert_eq!(
            UploadRules::parse("{\"overwrite\":true}"),
            UploadRules { overwrite: true, ..UploadRules::default() }
        );
        assert_eq!(UploadRules::parse("nonsense").max_bytes, Some(0));
    }
}

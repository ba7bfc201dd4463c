//! Public share links (issue #13 item 1, ADR 0010): `/_api/v1/shares` to create, list, show
//! and revoke them (a bearer token or a SigV4 signature, as the other REST routes), and
//! `GET`/`HEAD /s/{token}` to download the shared object with no credentials.
//!
//! A token is 256 random bits, base64url; only its SHA-256 is stored. A link is alive until it
//! expires, is revoked, runs out of downloads, or its creator may no longer `s3:GetObject` the
//! object (checked at every use with the creator's current policies). A dead link answers 404
//! (unknown, revoked, creator lost access, object gone) or 410 (expired, used up), and never
//! says whether the object exists.

use std::ops::Range;
use std::sync::Arc;

use base64::Engine as _;
use bytes::Bytes;
use cloudstore_events::{Event, EventType};
use cloudstore_iam_api::{PrincipalKind, RequestMeta};
use cloudstore_store_api::{ObjectMeta, Share, ShareUse, StoreError};
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use s3s::Body;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use time::{Duration, OffsetDateTime};

use crate::access::{decide, resource_arn};
use crate::identity::Identity;
use crate::server::{ClientAddr, Frontend};

/// The longest a link may live.
pub const MAX_EXPIRES_IN: i64 = 7 * 24 * 3600;
/// Ranges resuming a download are served this long after the download that used a link up.
pub const RESUME_GRACE: Duration = Duration::minutes(10);
/// The most links a listing shows.
const LIST_LIMIT: usize = 1000;
/// Random bytes in a token.
const TOKEN_BYTES: usize = 32;
/// The action a link's creator must be allowed on the object, at creation and at every use.
pub(crate) const READ: &str = "s3:GetObject";
/// What a folder link's creator must be allowed on the bucket, at creation and at every listing.
pub(crate) const LIST: &str = "s3:ListBucket";
/// Largest image a landing page previews (served inline, uncounted, only for links without a
/// download limit).
pub const PREVIEW_MAX: u64 = 20 * 1024 * 1024;
/// Largest REST request body.
const MAX_BODY: usize = 16 * 1024;
/// Wrong password guesses a link allows per [`GUESS_WINDOW`] from all addresses together,
/// charged before hashing (a distributed attack's ceiling).
pub const MAX_GUESSES: u32 = 50;
/// Wrong password guesses a link allows per [`GUESS_WINDOW`] from one client address (so one
/// attacker is stopped long before the link locks for everyone).
pub const MAX_GUESSES_PER_ADDRESS: u32 = 5;
/// Addresses tracked at once by [`GuessLimiter`]; beyond, new addresses are refused until
/// windows end.
const MAX_TRACKED: usize = 100_000;
/// The window of [`MAX_GUESSES`].
pub const GUESS_WINDOW: Duration = Duration::minutes(15);
/// Longest link password (bytes).
const MAX_PASSWORD: usize = 1024;

/// Whether `path` is the share-management API's: `/_api/v1/shares` or one link's id below it
/// (anything else under it, dot segments included, is the REST API's 404).
#[must_use]
pub fn is_api_path(path: &str) -> bool {
    path == "/_api/v1/shares"
        || path.strip_prefix("/_api/v1/shares/").is_some_and(|id| {
            !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// The token of a `/s/{token}` path, if it is one.
#[must_use]
pub fn link_token(path: &str) -> Option<&str> {
    path.strip_prefix("/s/").filter(|t| !t.is_empty() && !t.contains('/'))
}

/// The token and the rest (a folder link's file, still percent-encoded) of a
/// `/s/{token}[/{file}]` path, if it is one.
#[must_use]
pub fn link_path(path: &str) -> Option<(&str, Option<&str>)> {
    let rest = path.strip_prefix("/s/")?;
    match rest.split_once('/') {
        None if !rest.is_empty() => Some((rest, None)),
        Some((token, file)) if !token.is_empty() => Some((token, Some(file))),
        _ => None,
    }
}

/// A new token: 256 random bits, base64url without padding.
/// The base of share-link URLs from `CLOUDSTORE_PUBLIC_URL`: an `http` or `https` URL with a
/// host and no query, its trailing `/` dropped (a path prefix is kept, for a proxy that mounts
/// the server under one).
pub fn public_base(url: &str) -> Result<String, crate::config::ConfigError> {
    let bad = |why: &str| crate::config::ConfigError::Invalid(format!("CLOUDSTORE_PUBLIC_URL {url:?}: {why}"));
    let uri: http::Uri = url.parse().map_err(|_| bad("not a URL"))?;
    if !matches!(uri.scheme_str(), Some("http" | "https")) {
        return Err(bad("must start with http:// or https://"));
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err(bad("has no host"));
    }
    if uri.query().is_some() {
        return Err(bad("may not have a query"));
    }
    Ok(url.trim_end_matches('/').to_owned())
}

/// The URL handed out for a link: under the public base when one is set, else the host the
/// creator reached the server at.
fn link_url(public: Option<&str>, host: &str, token: &str) -> String {
    match public {
        Some(base) => format!("{base}/s/{token}"),
        None => format!("http://{host}/s/{token}"),
    }
}

fn new_token() -> String {
    let bytes: [u8; TOKEN_BYTES] = rand::random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The stored form of a token.
pub(crate) fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Download links without a download limit, by token hash, for [`crate::app::KEY_CACHE_TTL`]:
/// the lookup a download starts with. Safe to cache because every use of a link still passes
/// the atomic `use_share` statement, which refuses a link revoked or expired since (410); a
/// link with a limit is always read fresh (its count and last counted download gate ranges).
/// A revocation through this process drops its entry at once.
#[derive(Debug, Default)]
pub struct LinkCache(std::sync::Mutex<std::collections::HashMap<String, (std::time::Instant, Arc<Share>)>>);

/// Most links a [`LinkCache`] holds (it starts over when full).
const LINK_CACHE_ENTRIES: usize = 10_000;

impl LinkCache {
    fn map(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, (std::time::Instant, Arc<Share>)>> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn get(&self, token_hash: &str) -> Option<Arc<Share>> {
        let map = self.map();
        map.get(token_hash).filter(|(at, _)| at.elapsed() < crate::app::KEY_CACHE_TTL).map(|(_, s)| s.clone())
    }

    fn put(&self, share: &Arc<Share>) {
        if share.max_downloads.is_some() || share.upload_rules.is_some() {
            return;
        }
        let mut map = self.map();
        if map.len() >= LINK_CACHE_ENTRIES {
            map.clear();
        }
        map.insert(share.token_hash.clone(), (std::time::Instant::now(), share.clone()));
    }

    fn forget(&self, id: &str) {
        self.map().retain(|_, (_, s)| s.id != id);
    }
}

/// Password guesses per link and client address, in this process (a gateway of several
/// processes allows each address [`MAX_GUESSES_PER_ADDRESS`] per process; the per-link limit in
/// the database holds across all of them).
#[derive(Debug, Default)]
pub struct GuessLimiter {
    charged: std::sync::Mutex<std::collections::HashMap<(String, std::net::IpAddr), (OffsetDateTime, u32)>>,
}

impl GuessLimiter {
    /// Charges a guess of `addr` on link `id`; `Err(until)` when its window is used up.
    fn charge(&self, id: &str, addr: std::net::IpAddr, now: OffsetDateTime) -> Result<(), OffsetDateTime> {
        let mut map = self.charged.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if map.len() >= MAX_TRACKED {
            map.retain(|_, (since, _)| *since + GUESS_WINDOW > now);
        }
        let key = (id.to_owned(), addr);
        if map.len() >= MAX_TRACKED && !map.contains_key(&key) {
            return Err(now + GUESS_WINDOW);
        }
        let entry = map.entry(key).or_insert((now, 0));
        if entry.0 + GUESS_WINDOW <= now {
            *entry = (now, 0);
        }
        if entry.1 >= MAX_GUESSES_PER_ADDRESS {
            return Err(entry.0 + GUESS_WINDOW);
        }
        entry.1 += 1;
        Ok(())
    }

    /// Gives a charged guess back (it was right).
    fn refund(&self, id: &str, addr: std::net::IpAddr) {
        let mut map = self.charged.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(entry) = map.get_mut(&(id.to_owned(), addr)) {
            entry.1 = entry.1.saturating_sub(1);
        }
    }
}

fn too_many(until: OffsetDateTime, now: OffsetDateTime) -> Response<Body> {
    let mut r = public_error(429, "too many wrong passwords for this link; try again later");
    r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from((until - now).whole_seconds().max(1)));
    r
}

pub(crate) fn json_resp(status: u16, v: &Value) -> Response<Body> {
    let mut r = Response::new(Body::from(v.to_string()));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

pub(crate) fn error(status: u16, code: &str, message: &str) -> Response<Body> {
    json_resp(status, &json!({ "error": { "code": code, "message": message } }))
}

pub(crate) fn unavailable(e: &StoreError) -> Response<Body> {
    tracing::warn!(error = %e, "share links: store failed");
    error(503, "ServiceUnavailable", "the metadata store is unavailable")
}

pub(crate) fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}

pub(crate) fn share_json(s: &Share) -> Value {
    if let Some(rules) = &s.upload_rules {
        return crate::file_drop::upload_share_json(s, rules);
    }
    let (kind, what, of, filename) =
        if s.folder { ("folder", "prefix", &s.key, None) } else { ("download", "key", &s.key, s.filename.as_ref()) };
    let mut v = json!({
        "kind": kind,
        "id": s.id,
        "bucket": s.bucket,
        "filename": filename,
        "created_by": s.creator_arn,
        "created_at": rfc3339(s.created_at),
        "expires_at": rfc3339(s.expires_at),
        "max_downloads": s.max_downloads,
        "downloads": s.downloads,
        "last_used_at": s.last_used_at.map(rfc3339),
        "revoked": s.revoked,
        "password": s.password_hash.is_some(),
        "locked_until": locked_until(s, OffsetDateTime::now_utc()).map(rfc3339),
    });
    v[what] = json!(of);
    v
}

/// Until when a link refuses password guesses, if it does now.
fn locked_until(s: &Share, now: OffsetDateTime) -> Option<OffsetDateTime> {
    let until = s.guesses_since? + GUESS_WINDOW;
    (s.guesses >= MAX_GUESSES && until > now).then_some(until)
}

/// Hashes a link password with argon2id and a random salt (CPU-heavy: a blocking thread).
fn hash_password(password: &str) -> Option<String> {
    use argon2::PasswordHasher as _;
    let salt = argon2::password_hash::SaltString::encode_b64(&rand::random::<[u8; 16]>()).ok()?;
    argon2::Argon2::default().hash_password(password.as_bytes(), &salt).ok().map(|h| h.to_string())
}

/// Checks a password against its hash (constant time inside argon2; CPU-heavy).
fn verify_password(password: &str, hash: &str) -> bool {
    use argon2::PasswordVerifier as _;
    argon2::PasswordHash::new(hash)
        .is_ok_and(|h| argon2::Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
}

/// The password of `Authorization: Basic` (the user name, meant to be empty, is ignored).
fn basic_password(headers: &http::HeaderMap) -> Option<String> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, b64) = v.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let raw = base64::engine::general_purpose::STANDARD.decode(b64.trim()).ok()?;
    let text = String::from_utf8(raw).ok()?;
    text.split_once(':').map(|(_, p)| p.to_owned())
}

/// What `POST /_api/v1/shares` takes.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateShare {
    pub(crate) bucket: String,
    pub(crate) key: Option<String>,
    pub(crate) prefix: Option<String>,
    pub(crate) expires_in: i64,
    pub(crate) max_downloads: Option<u64>,
    pub(crate) filename: Option<String>,
    pub(crate) password: Option<String>,
    pub(crate) kind: Option<String>,
    /// Upload links (ADR 0015): the largest file, the content types allowed, how many uploads,
    /// whether an upload may replace an existing object.
    pub(crate) max_bytes: Option<u64>,
    pub(crate) content_types: Option<Vec<String>>,
    pub(crate) max_uploads: Option<u64>,
    pub(crate) overwrite: Option<bool>,
}

/// A download file name: 1–255 bytes, no control characters, no path separators.
pub(crate) fn valid_filename(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && !name.chars().any(|c| c.is_control() || c == '/' || c == '\\')
        && name != "."
        && name != ".."
}

fn meta_of(parts: &http::request::Parts, request_id: &str) -> RequestMeta {
    RequestMeta {
        source_ip: parts.extensions.get::<ClientAddr>().map(|a| a.0.ip().to_string()),
        user_agent: parts.headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).map(str::to_owned),
        request_id: request_id.to_owned(),
        secure: false,
    }
}

/// Whose links a listing shows: the caller's account's; the platform admin's choice with
/// `?account=ID`.
fn list_account(identity: &Identity, query: Option<&str>) -> String {
    if identity.principal.kind == PrincipalKind::Admin
        && let Some(account) = form_urlencoded::parse(query.unwrap_or("").as_bytes())
            .find(|(k, _)| k == "account")
            .map(|(_, v)| v.into_owned())
    {
        return account;
    }
    identity.account_id().to_owned()
}

/// The creator's current grant: the platform admin's own, or what the IAM service says.
async fn creator_grant(
    iam: &Arc<dyn cloudstore_iam_api::IamApi>,
    arn: &str,
) -> Result<Option<Identity>, cloudstore_iam_api::IamApiError> {
    let admin = crate::identity::admin_principal();
    if arn == admin.arn {
        return Ok(Some(Identity::without_secret(admin, Vec::new())));
    }
    Ok(iam.principal_grant(arn).await?.map(|(principal, named)| Identity::without_secret(principal, named)))
}

/// Whether `identity` may see and revoke `share`: the account root (and the platform admin)
/// every link of the account, anyone else the links they created.
fn manages(identity: &Identity, share: &Share) -> bool {
    let p = &identity.principal;
    p.kind == PrincipalKind::Admin
        || (share.account_id == p.account_id && (p.kind == PrincipalKind::AccountRoot || share.creator_arn == p.arn))
}

impl Frontend {
    /// Serves `/_api/v1/shares[/{id}]`.
    pub(crate) async fn shares_api(&self, req: Request<Body>, request_id: &str) -> Response<Body> {
        let (parts, body) = req.into_parts();
        let body = match http_body_util::BodyExt::collect(http_body_util::Limited::new(body, MAX_BODY)).await {
            Ok(c) => c.to_bytes(),
            Err(_) => return error(413, "RequestEntityTooLarge", "share requests are limited to 16 KiB"),
        };
        let meta = meta_of(&parts, request_id);
        let identity = match crate::analytics::caller(&self.api, &parts, &body, &meta).await {
            Ok(i) => i,
            Err(r) => return crate::analytics::from_api(r),
        };
        if identity.principal.kind == PrincipalKind::Anonymous || identity.principal.arn.is_empty() {
            return error(401, "Unauthorized", "share links are managed by a signed-in principal");
        }
        let rest = parts.uri.path().strip_prefix("/_api/v1/shares").unwrap_or("").trim_start_matches('/');
        match (&parts.method, rest) {
            (&Method::POST, "") => self.create_share(&parts, &body, &identity, &meta).await,
            (&Method::GET, "") => {
                match self.meta.list_shares(&list_account(&identity, parts.uri.query()), LIST_LIMIT).await {
                    Ok(list) => {
                        let mine: Vec<Value> = list.iter().filter(|s| manages(&identity, s)).map(share_json).collect();
                        json_resp(200, &json!({ "shares": mine }))
                    }
                    Err(e) => unavailable(&e),
                }
            }
            (&Method::GET | &Method::DELETE, id) if !id.contains('/') => {
                let share = match self.meta.get_share(id).await {
                    Ok(Some(s)) if manages(&identity, &s) => s,
                    Ok(_) => return error(404, "NoSuchShare", "no such share link"),
                    Err(e) => return unavailable(&e),
                };
                if parts.method == Method::GET {
                    return json_resp(200, &share_json(&share));
                }
                match self.meta.revoke_share(&share.id).await {
                    Ok(_) => {
                        self.share_links.forget(&share.id);
                        tracing::info!(share = %share.id, principal = %identity.principal.arn, "share link revoked");
                        let mut r = Response::new(Body::empty());
                        *r.status_mut() = StatusCode::NO_CONTENT;
                        r
                    }
                    Err(e) => unavailable(&e),
                }
            }
            _ => error(405, "MethodNotAllowed", "use POST or GET /_api/v1/shares, GET or DELETE /_api/v1/shares/{id}"),
        }
    }

    async fn create_share(
        &self,
        parts: &http::request::Parts,
        body: &Bytes,
        identity: &Arc<Identity>,
        meta: &RequestMeta,
    ) -> Response<Body> {
        let ask: CreateShare = match serde_json::from_slice(body) {
            Ok(a) => a,
            Err(e) => return error(400, "ValidationError", &format!("invalid JSON body: {e}")),
        };
        let upload = match ask.kind.as_deref() {
            None | Some("download") => false,
            Some("upload") => true,
            Some(_) => return error(400, "ValidationError", "kind must be \"download\" or \"upload\""),
        };
        let folder = !upload && ask.prefix.is_some();
        if ask.password.as_deref().is_some_and(|p| p.is_empty() || p.len() > MAX_PASSWORD) {
            return error(400, "ValidationError", "password must be 1 to 1024 bytes");
        }
        // What the link is of, and what its creator must be allowed: a key to read, or a
        // prefix to write under (an upload link).
        let (key, action, resource, upload_rules, max_uses) = if upload {
            match crate::file_drop::upload_link_of(&ask) {
                Ok((prefix, rules)) => {
                    let resource = resource_arn(Some(&ask.bucket), Some(&format!("{prefix}*")));
                    (prefix, crate::file_drop::WRITE, resource, Some(rules), ask.max_uploads)
                }
                Err(why) => return error(400, "ValidationError", why),
            }
        } else {
            if ask.max_bytes.is_some()
                || ask.content_types.is_some()
                || ask.max_uploads.is_some()
                || ask.overwrite.is_some()
            {
                return error(
                    400,
                    "ValidationError",
                    "max_bytes, content_types, max_uploads and overwrite are for upload links",
                );
            }
            if folder {
                let prefix = match crate::share_browse::folder_prefix_of(&ask) {
                    Ok(p) => p,
                    Err(why) => return error(400, "ValidationError", why),
                };
                let resource = resource_arn(Some(&ask.bucket), Some(&format!("{prefix}*")));
                (prefix, READ, resource, None, ask.max_downloads)
            } else {
                let Some(key) = ask.key.clone().filter(|k| !k.is_empty()) else {
                    return error(400, "ValidationError", "key (an object) or prefix (a folder) is required");
                };
                let resource = resource_arn(Some(&ask.bucket), Some(&key));
                (key, READ, resource, None, ask.max_downloads)
            }
        };
        if !(1..=MAX_EXPIRES_IN).contains(&ask.expires_in) {
            return error(400, "ValidationError", &format!("expires_in must be 1 to {MAX_EXPIRES_IN} seconds"));
        }
        if max_uses == Some(0) || max_uses.is_some_and(|m| i64::try_from(m).is_err()) {
            return error(400, "ValidationError", "max_downloads and max_uploads must be positive integers");
        }
        if ask.filename.as_deref().is_some_and(|f| !valid_filename(f)) {
            return error(400, "ValidationError", "filename must be 1-255 bytes without control characters or slashes");
        }
        // The creator must be resolvable later: the link is re-checked against its policies.
        match creator_grant(self.api.keys.iam(), &identity.principal.arn).await {
            Ok(Some(_)) => {}
            Ok(None) => {
                return error(
                    400,
                    "ValidationError",
                    "share links are created by an account root or an IAM user, not temporary credentials",
                );
            }
            Err(e) => return error(503, "ServiceUnavailable", &e.to_string()),
        }
        let bucket = match self.api.buckets.get(&ask.bucket).await {
            Ok(b) => b,
            Err(e) => return unavailable(&e),
        };
        let context = crate::analytics::context(meta);
        // A folder's files are listed too: its creator must be allowed to list the bucket.
        let bucket_arn = resource_arn(Some(&ask.bucket), None);
        let mut needs = vec![(action, resource.as_str())];
        if folder {
            needs.push((LIST, bucket_arn.as_str()));
        }
        for (action, resource) in needs {
            let why = decide(identity, bucket.as_deref(), action, resource, &context);
            if !why.allowed {
                tracing::info!(principal = %identity.principal.arn, %resource, reason = %why.reason, "share refused");
                return error(
                    403,
                    "AccessDenied",
                    &format!("{} is not allowed {action} on {resource}", identity.principal.arn),
                );
            }
        }
        if bucket.is_none() {
            return error(404, "NoSuchBucket", "The specified bucket does not exist");
        }
        if !upload && !folder {
            match self.meta.get_object(&ask.bucket, &key).await {
                Ok(Some(_)) => {}
                Ok(None) => return error(404, "NoSuchKey", "The specified key does not exist."),
                Err(e) => return unavailable(&e),
            }
        }
        let password_hash = match ask.password {
            None => None,
            Some(p) => match tokio::task::spawn_blocking(move || hash_password(&p)).await {
                Ok(Some(h)) => Some(h),
                _ => return error(500, "InternalError", "the password could not be hashed"),
            },
        };
        let now = OffsetDateTime::now_utc();
        let now = now.replace_millisecond(now.millisecond()).unwrap_or(now);
        let token = new_token();
        let share = Share {
            id: format!("shr-{}", uuid::Uuid::new_v4().simple()),
            token_hash: token_hash(&token),
            account_id: identity.account_id().to_owned(),
            creator_arn: identity.principal.arn.clone(),
            bucket: ask.bucket,
            key,
            filename: ask.filename,
            created_at: now,
            expires_at: now + Duration::seconds(ask.expires_in),
            max_downloads: max_uses,
            downloads: 0,
            last_used_at: None,
            last_counted_at: None,
            revoked: false,
            password_hash,
            guesses: 0,
            guesses_since: None,
            upload_rules,
            folder,
        };
        let mut event = Event::new(EventType::ShareCreated, cloudstore_store_api::sql::to_ms(now));
        event.account_id = Some(share.account_id.clone());
        event.user_id = Some(identity.principal.user_id.clone()).filter(|u| !u.is_empty());
        event.principal_arn = Some(share.creator_arn.clone());
        event.bucket = Some(share.bucket.clone());
        event.object_key = Some(share.key.clone());
        event.source_ip.clone_from(&meta.source_ip);
        event.user_agent.clone_from(&meta.user_agent);
        event.request_id = Some(meta.request_id.clone());
        event.status = Some(201);
        event.detail.insert("share_id".into(), share.id.clone());
        event.detail.insert(
            "kind".into(),
            if upload {
                "upload"
            } else if folder {
                "folder"
            } else {
                "download"
            }
            .into(),
        );
        if let Err(e) = self.meta.create_share(&share, &[crate::events::to_outbox(&event)]).await {
            return unavailable(&e);
        }
        if let Some(events) = &self.events {
            events.committed(1);
        }
        let host = parts.headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("localhost");
        let mut v = share_json(&share);
        v["url"] = json!(link_url(self.public_url.as_deref(), host, &token));
        tracing::info!(share = %share.id, principal = %share.creator_arn, bucket = %share.bucket, "share link created");
        json_resp(201, &v)
    }

    /// Serves `GET` and `HEAD /s/{token}[/{file}]` (`file`: a folder link's file, as sent).
    pub(crate) async fn share_link(&self, req: &Request<Body>, token: &str, file: Option<&str>) -> Response<Body> {
        let head = req.method() == Method::HEAD;
        if !head && req.method() != Method::GET {
            let mut r = public_error(405, "use GET or HEAD");
            r.headers_mut().insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
            return r;
        }
        let hash = token_hash(token);
        let share = match self.share_links.get(&hash) {
            Some(s) => s,
            None => match self.meta.share_by_token(&hash).await {
                Ok(Some(s)) => {
                    let s = Arc::new(s);
                    self.share_links.put(&s);
                    s
                }
                Ok(None) => return gone_or_missing(404),
                Err(e) => return public_unavailable(&e),
            },
        };
        let at = At { token, file };
        let resp = match (share.upload_rules.is_some(), share.folder, file) {
            (true, _, None) => self.drop_page(req, &share, head).await,
            (false, false, None) => self.serve_share(req, &at, &share, &share.key, head).await,
            (false, true, None) => self.folder_listing(req, &at, &share, head).await,
            // A folder's file: never a key outside the prefix (no dot segments, no encoded
            // slashes, nothing empty).
            (false, true, Some(raw)) => match crate::share_browse::folder_key(&share.key, raw) {
                Some(key) => self.serve_share(req, &at, &share, &key, head).await,
                None => public_error(404, "no such file in this folder"),
            },
            _ => gone_or_missing(404),
        };
        // A refused use of a known link is its owner's event too (who tried a dead link, or
        // guessed its password); served uses were recorded with their bytes.
        let status = resp.status().as_u16();
        if (400..500).contains(&status) {
            let method = if head { "HEAD" } else { "GET" };
            self.record_use(req, &share, None, 0, status, method, false);
        }
        resp
    }

    /// Whether a download link can be used now: not revoked, not expired, downloads left (or a
    /// resumption's grace), and the password given — by HTTP Basic, or by the unlock cookie
    /// the password form sets. A browser asking for a page without one gets the form.
    pub(crate) async fn share_gate(
        &self,
        req: &Request<Body>,
        at: &At<'_>,
        share: &Share,
        page: bool,
        now: OffsetDateTime,
    ) -> Result<(), Response<Body>> {
        if let Some(r) = dead(share, now) {
            return Err(r);
        }
        if let Some(hash) = &share.password_hash
            && !crate::share_browse::unlocked(req.headers(), share, hash, now)
        {
            if page && basic_password(req.headers()).is_none() {
                return Err(crate::share_browse::password_page(StatusCode::UNAUTHORIZED, at, None));
            }
            self.check_password(req, share, hash, now).await?;
        }
        Ok(())
    }

    /// One object of a link (the link's own, or a folder link's file) once the link is known.
    async fn serve_share(
        &self,
        req: &Request<Body>,
        at: &At<'_>,
        share: &Share,
        key: &str,
        head: bool,
    ) -> Response<Body> {
        let share = share.clone();
        let now = OffsetDateTime::now_utc();
        let preview = !head && wants_preview(req);
        let page = !head && !preview && wants_page(req);
        if let Err(r) = self.share_gate(req, at, &share, page, now).await {
            return r;
        }
        // The creator's current permission: a link dies with its creator's read access (a
        // folder link's: on the whole prefix and on this file).
        match self.creator_may_read(&share, key).await {
            Ok(true) => {}
            Ok(false) => return gone_or_missing(404),
            Err(r) => return r,
        }
        let obj = match self.meta.get_object(&share.bucket, key).await {
            Ok(Some(o)) => o,
            Ok(None) => return gone_or_missing(404),
            Err(e) => return public_unavailable(&e),
        };
        // An encrypted object is served decrypted when the server holds its key (SSE-S3,
        // SSE-KMS); an SSE-C object needs its owner's key, which a link cannot carry.
        let sse_key = match obj.attributes.encryption.as_ref() {
            None => None,
            Some(enc) => match crate::s3::sse::server_key(self.meta.as_ref(), &self.sse, enc).await {
                Ok(Some(k)) => Some(k),
                Ok(None) => {
                    return public_error(
                        403,
                        "this object is encrypted with a key of its owner's: it cannot be shared by link",
                    );
                }
                Err(e) => return public_unavailable(&e),
            },
        };
        let name =
            if share.folder { last_segment(key) } else { share.filename.clone().unwrap_or_else(|| last_segment(key)) };
        let can_preview = previewable(&share, &obj).is_some();
        // A browser gets a small page; it never counts (the download button does).
        if page || preview {
            if preview && !can_preview {
                return public_error(404, "this link has no preview");
            }
            let shown = match self.meta.use_share(&share.id, now, ShareUse::Resume { counted_after: now }).await {
                Ok(Some(s)) => s,
                Ok(None) => return gone_or_missing(410),
                Err(e) => return public_unavailable(&e),
            };
            if page {
                self.record_use(req, &shown, Some(&obj), 0, 200, "PAGE", false);
                return landing_page(&shown, &obj, &name, can_preview);
            }
        }
        let range = if preview { Ok(None) } else { requested_range(req.headers(), obj.size) };
        let range = match range {
            Ok(r) => r,
            Err(()) => {
                let mut r = public_error(416, "the requested range is not satisfiable");
                if let Ok(v) = HeaderValue::from_str(&format!("bytes */{}", obj.size)) {
                    r.headers_mut().insert(header::CONTENT_RANGE, v);
                }
                return r;
            }
        };
        // A download starts with its first byte; HEAD, resumed ranges and a preview (an image
        // of a link without a download limit) do not count.
        let counts = !head && !preview && range.as_ref().is_none_or(|r| r.start == 0);
        let used = if preview {
            share.clone()
        } else {
            let use_ = if counts { ShareUse::Download } else { ShareUse::Resume { counted_after: now - RESUME_GRACE } };
            match self.meta.use_share(&share.id, now, use_).await {
                Ok(Some(s)) => s,
                // Revoked, expired or used up since it was read.
                Ok(None) => return gone_or_missing(410),
                Err(e) => return public_unavailable(&e),
            }
        };
        let served = range.clone().unwrap_or(0..obj.size);
        let status = if range.is_some() { StatusCode::PARTIAL_CONTENT } else { StatusCode::OK };
        let body = if head || served.is_empty() {
            Body::empty()
        } else {
            match crate::s3::read::open_range(&self.blobs, &obj, served.clone(), sse_key.as_ref()).await {
                Ok(stream) => Body::from(s3s::dto::StreamingBlob::wrap(sync_wrapper::SyncStream::new(stream))),
                Err(e) => return public_unavailable(&e),
            }
        };
        let method = if head {
            "HEAD"
        } else if preview {
            "PREVIEW"
        } else {
            "GET"
        };
        self.record_use(req, &used, Some(&obj), served.end - served.start, status.as_u16(), method, counts);
        let mut resp = Response::new(body);
        *resp.status_mut() = status;
        let h = resp.headers_mut();
        h.insert(header::CONTENT_LENGTH, HeaderValue::from(served.end - served.start));
        h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
        if range.is_some() {
            let v = format!("bytes {}-{}/{}", served.start, served.end.saturating_sub(1), obj.size);
            if let Ok(v) = HeaderValue::from_str(&v) {
                h.insert(header::CONTENT_RANGE, v);
            }
        }
        let content_type = match previewable(&share, &obj) {
            // A preview: only an allow-listed raster type, shown inline.
            Some(t) if preview => t,
            _ => {
                let t = obj.content_type.as_deref().unwrap_or("application/octet-stream");
                if active_content(t) { "application/octet-stream" } else { t }
            }
        };
        if let Ok(v) = HeaderValue::from_str(content_type) {
            h.insert(header::CONTENT_TYPE, v);
        }
        if let Ok(v) = HeaderValue::from_str(&format!("\"{}\"", obj.etag)) {
            h.insert(header::ETAG, v);
        }
        let disposition = content_disposition(&name);
        let disposition = if preview { disposition.replacen("attachment", "inline", 1) } else { disposition };
        if let Ok(v) = HeaderValue::from_str(&disposition) {
            h.insert(header::CONTENT_DISPOSITION, v);
        }
        link_headers(h);
        resp
    }

    /// The link's password from `Authorization: Basic` (see [`Self::guess`]). Missing or
    /// wrong: 401 with `WWW-Authenticate: Basic`; over a limit: 429.
    pub(crate) async fn check_password(
        &self,
        req: &Request<Body>,
        share: &Share,
        hash: &str,
        now: OffsetDateTime,
    ) -> Result<(), Response<Body>> {
        let ask = |message: &str| {
            let mut r = public_error(401, message);
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"share link\", charset=\"UTF-8\""),
            );
            r
        };
        let Some(password) = basic_password(req.headers()) else {
            return Err(ask("this link needs a password (HTTP Basic, empty user name)"));
        };
        if self.guess(req, share, hash, password, now).await? { Ok(()) } else { Err(ask("wrong password")) }
    }

    /// Checks a password guess: it is charged to the link and client address, then to the
    /// link, before the slow hash runs (and given back when right), so at most
    /// [`MAX_GUESSES_PER_ADDRESS`] wrong ones per address and [`MAX_GUESSES`] in all per
    /// [`GUESS_WINDOW`] are ever hashed. `Ok(right)`; over a limit: `Err(429)`.
    pub(crate) async fn guess(
        &self,
        req: &Request<Body>,
        share: &Share,
        hash: &str,
        password: String,
        now: OffsetDateTime,
    ) -> Result<bool, Response<Body>> {
        let addr = req
            .extensions()
            .get::<ClientAddr>()
            .map_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED), |a| a.0.ip());
        if let Err(until) = self.share_guesses.charge(&share.id, addr, now) {
            tracing::info!(share = %share.id, %addr, "share link password guesses over the address's limit");
            return Err(too_many(until, now));
        }
        match self.meta.charge_share_guess(&share.id, now, GUESS_WINDOW, MAX_GUESSES).await {
            Ok(true) => {}
            Ok(false) => {
                tracing::info!(share = %share.id, "share link password guesses over the limit");
                self.share_guesses.refund(&share.id, addr);
                return Err(too_many(share.guesses_since.map_or(now + GUESS_WINDOW, |t| t + GUESS_WINDOW), now));
            }
            Err(e) => {
                self.share_guesses.refund(&share.id, addr);
                return Err(public_unavailable(&e));
            }
        }
        let hash = hash.to_owned();
        let right = tokio::task::spawn_blocking(move || verify_password(&password, &hash)).await.unwrap_or(false);
        if !right {
            return Ok(false);
        }
        self.share_guesses.refund(&share.id, addr);
        if let Err(e) = self.meta.refund_share_guess(&share.id).await {
            tracing::warn!(error = %e, share = %share.id, "share link: refunding a right guess failed");
        }
        Ok(true)
    }

    /// Whether the link's creator may still read `key` with its current policies (a folder
    /// link's creator: the whole prefix, and this key).
    async fn creator_may_read(&self, share: &Share, key: &str) -> Result<bool, Response<Body>> {
        let Some((identity, bucket)) = self.creator_access(share).await? else { return Ok(false) };
        Ok(creator_reads(&identity, &bucket, share, key))
    }

    /// The link creator's current grant and the link's bucket; `None` if either is gone.
    pub(crate) async fn creator_access(
        &self,
        share: &Share,
    ) -> Result<Option<(Arc<Identity>, Arc<crate::identity::BucketInfo>)>, Response<Body>> {
        // Cached as briefly as a signer's grant (`KEY_CACHE_TTL`, as the bucket's policy is).
        let identity = match self.api.keys.grant(&share.creator_arn).await {
            Ok(Some(x)) => x,
            Ok(None) => return Ok(None),
            Err(e) => {
                tracing::warn!(error = %e, "share links: identity service failed");
                return Err(public_error(503, "the service is unavailable, try again"));
            }
        };
        match self.api.buckets.get(&share.bucket).await {
            Ok(Some(b)) => Ok(Some((identity, b))),
            Ok(None) => Ok(None),
            Err(e) => Err(public_unavailable(&e)),
        }
    }

    /// Whether the link's creator may still do `action` on `key` in the link's bucket, with
    /// its current policies.
    pub(crate) async fn creator_may(&self, share: &Share, action: &str, key: &str) -> Result<bool, Response<Body>> {
        let Some((identity, bucket)) = self.creator_access(share).await? else { return Ok(false) };
        Ok(may(&identity, &bucket, &share.bucket, action, Some(key)))
    }

    /// A `share_accessed` event, the link owner's, for every use (served, or refused with its
    /// status).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn record_use(
        &self,
        req: &Request<Body>,
        share: &Share,
        obj: Option<&ObjectMeta>,
        bytes: u64,
        status: u16,
        method: &'static str,
        counted: bool,
    ) {
        let Some(events) = &self.events else { return };
        let mut e = Event::new(EventType::ShareAccessed, cloudstore_store_api::sql::now_ms());
        e.account_id = Some(share.account_id.clone());
        e.bucket = Some(share.bucket.clone());
        e.object_key = Some(obj.map_or_else(|| share.key.clone(), |o| o.key.clone()));
        e.etag = obj.map(|o| o.etag.clone());
        e.bytes = Some(bytes);
        e.status = Some(status);
        e.source_ip = req.extensions().get::<ClientAddr>().map(|a| a.0.ip().to_string());
        e.user_agent = req.headers().get(header::USER_AGENT).and_then(|v| v.to_str().ok()).map(str::to_owned);
        e.request_id = req.extensions().get::<crate::events::RequestId>().map(|r| r.0.clone());
        e.detail.insert("share_id".into(), share.id.clone());
        e.detail.insert("method".into(), method.into());
        e.detail.insert("counted".into(), counted.to_string());
        e.detail.insert("downloads".into(), share.downloads.to_string());
        events.record(&e);
    }
}

/// Where a `/s/` request is: the link's token and, for a folder link's file, the rest of the
/// path as sent.
#[derive(Debug, Clone, Copy)]
pub(crate) struct At<'a> {
    pub(crate) token: &'a str,
    pub(crate) file: Option<&'a str>,
}

impl At<'_> {
    /// A relative reference from this request's path to the link's own `/s/{token}` (the
    /// password form posts there; it works under a proxy's path prefix too).
    pub(crate) fn link_ref(self) -> String {
        let depth = self.file.map_or(0, |f| f.split('/').count());
        format!("{}{}", "../".repeat(depth), self.token)
    }
}

/// Why a link is dead at `now`, if it is (before its password and its creator's access are
/// checked): 404 revoked, 410 expired or used up (ranges resuming the download that used it up
/// are served for [`RESUME_GRACE`]).
pub(crate) fn dead(share: &Share, now: OffsetDateTime) -> Option<Response<Body>> {
    if share.revoked {
        return Some(gone_or_missing(404));
    }
    if share.expires_at <= now {
        return Some(gone_or_missing(410));
    }
    if share.max_downloads.is_some_and(|m| share.downloads >= m)
        && share.last_counted_at.is_none_or(|t| t <= now - RESUME_GRACE)
    {
        return Some(gone_or_missing(410));
    }
    None
}

/// Whether a link's creator (`identity`, its current grant) may read `key` through it: a
/// folder link's creator the whole prefix, and this key.
pub(crate) fn creator_reads(
    identity: &Identity,
    bucket: &crate::identity::BucketInfo,
    share: &Share,
    key: &str,
) -> bool {
    let whole = format!("{}*", share.key);
    (!share.folder || may(identity, bucket, &share.bucket, READ, Some(&whole)))
        && may(identity, bucket, &share.bucket, READ, Some(key))
}

/// Whether `identity` may do `action` on the bucket (`key` `None`) or on `key` in it.
pub(crate) fn may(
    identity: &Identity,
    bucket: &crate::identity::BucketInfo,
    name: &str,
    action: &str,
    key: Option<&str>,
) -> bool {
    let now = OffsetDateTime::now_utc();
    let context = cloudstore_policy::Context::new()
        .with("aws:CurrentTime", rfc3339(now))
        .with("aws:EpochTime", now.unix_timestamp().to_string())
        .with("aws:SecureTransport", "false");
    decide(identity, Some(bucket), action, &resource_arn(Some(name), key), &context).allowed
}

pub(crate) fn accepts_html(headers: &http::HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.split(',').any(|t| t.split(';').next().is_some_and(|t| t.trim().eq_ignore_ascii_case("text/html"))))
}

pub(crate) fn has_param(req: &Request<Body>, name: &str) -> bool {
    form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes()).any(|(k, _)| k == name)
}

/// Whether a GET is a person's browser asking for a page: it accepts HTML, asks for no range
/// and not for the download itself (`?download`).
fn wants_page(req: &Request<Body>) -> bool {
    accepts_html(req.headers()) && !has_param(req, "download") && !req.headers().contains_key(header::RANGE)
}

/// Whether a GET asks for the landing page's image preview (`?preview`).
fn wants_preview(req: &Request<Body>) -> bool {
    has_param(req, "preview") && !has_param(req, "download")
}

/// Raster image types a preview may be served as (never SVG or anything a browser runs).
const PREVIEW_TYPES: [&str; 6] = ["image/png", "image/jpeg", "image/gif", "image/webp", "image/avif", "image/bmp"];

/// The content type an object's preview is served as, if it has one: an allow-listed raster
/// image of at most [`PREVIEW_MAX`] bytes, of a link without a download limit (a preview never
/// counts, so a link that counts has none).
fn previewable(share: &Share, obj: &ObjectMeta) -> Option<&'static str> {
    if share.max_downloads.is_some() || obj.size > PREVIEW_MAX {
        return None;
    }
    let essence = obj.content_type.as_deref()?.split(';').next()?.trim().to_ascii_lowercase();
    PREVIEW_TYPES.iter().find(|t| **t == essence).copied()
}

pub(crate) fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

pub(crate) fn human_size(n: u64) -> String {
    const UNITS: [&str; 5] = ["bytes", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 { format!("{n} bytes") } else { format!("{v:.1} {}", UNITS[unit]) }
}

/// The landing page: name, size, expiry, downloads left, a download button (the same link
/// with `?download`, which counts as any download), and an image preview (`?preview`) when
/// [`previewable`]. No script, no external resource.
fn landing_page(share: &Share, obj: &ObjectMeta, name: &str, preview: bool) -> Response<Body> {
    let name = html_escape(name);
    let image = if preview {
        format!("<p><img src=\"?preview=1\" alt=\"Preview of {name}\" style=\"max-width:100%;max-height:60vh\"></p>")
    } else {
        String::new()
    };
    let left = share
        .max_downloads
        .map(|m| format!("<p>Downloads left: {}</p>", m.saturating_sub(share.downloads)))
        .unwrap_or_default();
    let page = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" \
         content=\"width=device-width\"><meta name=\"robots\" content=\"noindex\"><title>{name}</title>\
         <style>body{{font-family:sans-serif;max-width:32em;margin:4em auto;padding:0 1em}}\
         a.b{{display:inline-block;padding:.6em 1.2em;background:#1f6feb;color:#fff;text-decoration:none;border-radius:4px}}\
         </style></head><body><h1>{name}</h1>{image}<p>Size: {size}</p><p>Available until: {until} (UTC)</p>{left}\
         <p><a class=\"b\" href=\"?download=1\" rel=\"noreferrer\">Download</a></p></body></html>",
        size = human_size(obj.size),
        until = html_escape(&rfc3339(share.expires_at)),
    );
    let mut r = Response::new(Body::from(page));
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    link_headers(h);
    h.insert(
        "content-security-policy",
        HeaderValue::from_static(
            "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; \
             frame-ancestors 'none'",
        ),
    );
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    r
}

/// The headers of every `/s/` answer: the token must not leak through `Referer`, the
/// content is never sniffed into something runnable, and nothing caches it.
pub(crate) fn link_headers(h: &mut http::HeaderMap) {
    h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    h.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    h.insert("content-security-policy", HeaderValue::from_static("default-src 'none'; sandbox"));
}

pub(crate) fn public_error(status: u16, message: &str) -> Response<Body> {
    let mut r = Response::new(Body::from(format!("{message}\n")));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    link_headers(r.headers_mut());
    r
}

/// A dead link: 404 (no such link) or 410 (expired or used up), the same words whatever the
/// object's fate.
pub(crate) fn gone_or_missing(status: u16) -> Response<Body> {
    if status == 410 {
        public_error(410, "this link has expired or has been used up")
    } else {
        public_error(404, "no such link")
    }
}

pub(crate) fn public_unavailable(e: &StoreError) -> Response<Body> {
    tracing::warn!(error = %e, "share link: backend failed");
    public_error(503, "the service is unavailable, try again")
}

/// Content types a browser would run as a page of our origin.
fn active_content(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    matches!(
        essence.as_str(),
        "text/html" | "application/xhtml+xml" | "image/svg+xml" | "text/xml" | "application/xml" | "text/javascript"
    ) || essence.ends_with("+xml")
        || essence.contains("javascript")
}

pub(crate) fn last_segment(key: &str) -> String {
    let name = key.rsplit('/').find(|s| !s.is_empty()).unwrap_or("download");
    if valid_filename(name) { name.to_owned() } else { "download".to_owned() }
}

/// `attachment; filename="<ASCII fallback>"; filename*=UTF-8''<percent-encoded>` (RFC 6266,
/// RFC 8187).
#[must_use]
pub fn content_disposition(name: &str) -> String {
    let fallback: String = name
        .chars()
        .map(|c| if c.is_ascii_graphic() && c != '"' && c != '\\' && c != '%' || c == ' ' { c } else { '_' })
        .collect();
    let mut encoded = String::new();
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            encoded.push(char::from(b));
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    format!("attachment; filename=\"{fallback}\"; filename*=UTF-8''{encoded}")
}

/// The single byte range a `Range` header asks for: `None` for the whole object (no header,
/// or one we ignore as RFC 9110 allows: several ranges, another unit, bad syntax); `Err` when
/// it is unsatisfiable.
fn requested_range(headers: &http::HeaderMap, size: u64) -> Result<Option<Range<u64>>, ()> {
    // s3s's parser, as GetObject reads `Range`: a malformed or multi-range value is ignored.
    let Some(Ok(range)) = headers.get(header::RANGE).and_then(|v| v.to_str().ok()).map(s3s::dto::Range::parse) else {
        return Ok(None);
    };
    range.check(size).map(Some).map_err(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(h: &str, size: u64) -> Result<Option<Range<u64>>, ()> {
        let mut m = http::HeaderMap::new();
        m.insert(header::RANGE, HeaderValue::from_str(h).expect("header"));
        requested_range(&m, size)
    }

    #[test]
    fn ranges_are_single_byte_ranges() {
        assert_eq!(range("bytes=0-", 10), Ok(Some(0..10)));
        assert_eq!(range("bytes=0-4", 10), Ok(Some(0..5)));
        assert_eq!(range("bytes=5-100", 10), Ok(Some(5..10)));
        assert_eq!(range("bytes=-3", 10), Ok(Some(7..10)));
        assert_eq!(range("bytes=-30", 10), Ok(Some(0..10)));
        assert_eq!(range("bytes=10-", 10), Err(()));
        assert_eq!(range("bytes=-0", 10), Err(()));
        assert_eq!(range("bytes=0-1,3-4", 10), Ok(None));
        assert_eq!(range("items=0-1", 10), Ok(None));
        assert_eq!(range("bytes=4-2", 10), Ok(None));
        assert_eq!(range("bytes=x-", 10), Ok(None));
    }

    #[test]
    fn dispositions_are_attachments_with_encoded_names() {
        assert_eq!(content_disposition("a b.txt"), "attachment; filename=\"a b.txt\"; filename*=UTF-8''a%20b.txt");
        assert_eq!(
            content_disposition("résumé \"x\".pdf"),
            "attachment; filename=\"r_sum_ _x_.pdf\"; filename*=UTF-8''r%C3%A9sum%C3%A9%20%22x%22.pdf"
        );
        assert_eq!(last_segment("dir/sub/file.bin"), "file.bin");
        assert_eq!(last_segment("dir/"), "dir");
    }

    #[test]
    fn links_use_the_public_base_when_one_is_set() {
        assert_eq!(link_url(None, "127.0.0.1:9000", "t"), "http://127.0.0.1:9000/s/t");
        let base = public_base("https://files.example.com/").expect("valid");
        assert_eq!(link_url(Some(&base), "127.0.0.1:9000", "t"), "https://files.example.com/s/t");
        let mounted = public_base("https://example.com/storage").expect("valid");
        assert_eq!(link_url(Some(&mounted), "x", "t"), "https://example.com/storage/s/t");
        for bad in ["files.example.com", "ftp://example.com", "https://", "https://e.com/?a=b", ""] {
            assert!(public_base(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn tokens_are_long_and_hashed() {
        let t = new_token();
        assert_eq!(t.len(), 43);
        assert_ne!(new_token(), t);
        assert_eq!(token_hash(&t).len(), 64);
        assert!(active_content("text/html; charset=utf-8"));
        assert!(active_content("image/svg+xml"));
        assert!(!active_content("image/png"));
        assert_eq!(link_token("/s/abc"), Some("abc"));
        assert_eq!(link_token("/s/"), None);
        assert_eq!(link_token("/s/a/b"), None);
        assert_eq!(html_escape("<a href=\"x\">'&"), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;");
        assert_eq!(human_size(10), "10 bytes");
        let limiter = GuessLimiter::default();
        let (a, b) = ("10.0.0.1".parse().expect("ip"), "10.0.0.2".parse().expect("ip"));
        let t = OffsetDateTime::now_utc();
        for _ in 0..MAX_GUESSES_PER_ADDRESS {
            assert!(limiter.charge("l", a, t).is_ok());
        }
        assert_eq!(limiter.charge("l", a, t), Err(t + GUESS_WINDOW));
        assert!(limiter.charge("l", b, t).is_ok(), "another address");
        assert!(limiter.charge("m", a, t).is_ok(), "another link");
        limiter.refund("l", a);
        assert!(limiter.charge("l", a, t).is_ok(), "a refund gives one back");
        assert!(limiter.charge("l", a, t + GUESS_WINDOW).is_ok(), "a new window");
        assert_eq!(human_size(1536), "1.5 KiB");
        assert!(is_api_path("/_api/v1/shares") && is_api_path("/_api/v1/shares/shr-0a"));
        assert!(!is_api_path("/_api/v1/shares/../auth/login") && !is_api_path("/_api/v1/shares/"));
        assert!(!is_api_path("/_api/v1/sharesx"));
    }
}

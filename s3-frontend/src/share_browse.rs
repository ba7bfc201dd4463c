//! Share links in a browser and for folders (issue #13 item 1, ADR 0010): folder links'
//! listings (HTML for a browser, JSON for a tool, paginated) and their files' paths, and the
//! password form (`POST /s/{token}`) that unlocks a link for one browser with a `SameSite=Strict`
//! cookie.
//!
//! A folder link's `key` is a prefix, empty or ending in `/`. Its files are addressed as
//! `/s/{token}/{relative key}`, each path segment percent-decoded on its own: a segment that is
//! empty, `.` or `..`, or decodes to something with a slash, a backslash or a control character,
//! is refused, so no path ever names a key outside the prefix (or a key the listing would not
//! show).

use hmac::{Hmac, Mac as _};
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use s3s::Body;
use serde_json::json;
use sha2::Sha256;
use time::{Duration, OffsetDateTime};

use cloudstore_store_api::{ListQuery, ListedObject, Share, ShareUse};

use crate::server::{ClientAddr, Frontend};
use crate::shares::{
    At, CreateShare, LIST, READ, accepts_html, dead, gone_or_missing, html_escape, human_size, link_headers, may,
    public_error, public_unavailable, rfc3339,
};

/// The cookie a right password in the form sets, for this link's path only.
pub const UNLOCK_COOKIE: &str = "cs_share";
/// How long the form's unlock lasts (never beyond the link's expiry).
pub const UNLOCK_TTL: Duration = Duration::minutes(30);
/// Files a listing page shows at most.
pub const LIST_PAGE: usize = 200;
/// Longest folder prefix.
const MAX_PREFIX: usize = 512;
/// Largest password form body.
const MAX_FORM: usize = 4096;

/// Validates a folder link's prefix: empty (the whole bucket) or ending in `/`, at most 512
/// bytes, no control characters; a folder link has no key and no file name.
pub(crate) fn folder_prefix_of(ask: &CreateShare) -> Result<String, &'static str> {
    if ask.key.is_some() || ask.filename.is_some() {
        return Err("a folder link takes a prefix, not a key or filename");
    }
    let prefix = ask.prefix.clone().unwrap_or_default();
    if !(prefix.is_empty() || prefix.ends_with('/')) {
        return Err("a folder prefix is empty (the whole bucket) or ends with \"/\"");
    }
    if prefix.len() > MAX_PREFIX || prefix.chars().any(char::is_control) {
        return Err("prefix must be at most 512 bytes without control characters");
    }
    Ok(prefix)
}

/// Whether one decoded path segment may name part of a key.
fn safe_segment(s: &str) -> bool {
    !s.is_empty() && s != "." && s != ".." && !s.contains(['/', '\\']) && !s.chars().any(char::is_control)
}

/// The key a folder link's file path (as sent, percent-encoded) names under `prefix`, if it is
/// a safe one.
#[must_use]
pub fn folder_key(prefix: &str, raw: &str) -> Option<String> {
    let mut key = prefix.to_owned();
    for (i, seg) in raw.split('/').enumerate() {
        let seg = urlencoding::decode(seg).ok()?;
        if !safe_segment(&seg) {
            return None;
        }
        if i > 0 {
            key.push('/');
        }
        key.push_str(&seg);
    }
    Some(key)
}

/// A key's path below its folder, if the listing shows it (every segment safe).
fn listed_path(prefix: &str, key: &str) -> Option<String> {
    let rel = key.strip_prefix(prefix)?;
    rel.split('/')
        .all(safe_segment)
        .then(|| rel.split('/').map(|s| urlencoding::encode(s)).collect::<Vec<_>>().join("/"))
}

fn unlock_mac(share: &Share, hash: &str, expires: i64) -> Option<Hmac<Sha256>> {
    // Keyed by the link's password hash: a secret of the server's (its salt is random), the
    // same in every gateway process, and a new password would void old unlocks.
    let mut mac = <Hmac<Sha256> as hmac::digest::KeyInit>::new_from_slice(hash.as_bytes()).ok()?;
    mac.update(b"cloudstore share unlock\0");
    mac.update(share.id.as_bytes());
    mac.update(b"\0");
    mac.update(expires.to_string().as_bytes());
    Some(mac)
}

/// The unlock cookie's value: its expiry and a MAC over the link and that expiry.
fn unlock_value(share: &Share, hash: &str, now: OffsetDateTime) -> Option<String> {
    let expires = (now + UNLOCK_TTL).min(share.expires_at).unix_timestamp();
    let mac = unlock_mac(share, hash, expires)?;
    Some(format!("{expires}.{}", hex::encode(mac.finalize().into_bytes())))
}

/// Whether the request carries a valid unlock cookie for this link (checked in constant time).
pub(crate) fn unlocked(headers: &http::HeaderMap, share: &Share, hash: &str, now: OffsetDateTime) -> bool {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().strip_prefix(UNLOCK_COOKIE)?.strip_prefix('='))
        .any(|v| {
            let Some((expires, mac)) = v.split_once('.') else { return false };
            let (Ok(expires), Ok(mac)) = (expires.parse::<i64>(), hex::decode(mac)) else { return false };
            expires > now.unix_timestamp()
                && unlock_mac(share, hash, expires).is_some_and(|m| m.verify_slice(&mac).is_ok())
        })
}

/// A page of ours: no script, forms only to this very link, no framing.
fn page(status: StatusCode, title: &str, body: &str) -> Response<Body> {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" \
         content=\"width=device-width\"><meta name=\"robots\" content=\"noindex\"><title>{title}</title>\
         <style>body{{font-family:sans-serif;max-width:48em;margin:4em auto;padding:0 1em}}\
         button,a.b{{display:inline-block;padding:.6em 1.2em;background:#1f6feb;color:#fff;border:0;\
         border-radius:4px;text-decoration:none}}td{{padding:.2em .8em .2em 0}}</style>\
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

/// The password form: it posts to the link itself (never a password in a URL).
pub(crate) fn password_page(status: StatusCode, at: &At<'_>, message: Option<&str>) -> Response<Body> {
    let note =
        message.map(|m| format!("<p role=\"alert\"><strong>{}</strong></p>", html_escape(m))).unwrap_or_default();
    page(
        status,
        "Password required",
        &format!(
            "<h1>This link needs a password</h1>{note}<form method=\"post\" action=\"{action}\">\
             <p><label>Password <input type=\"password\" name=\"password\" required autofocus \
             autocomplete=\"current-password\"></label></p><p><button type=\"submit\">Open</button></p></form>",
            action = html_escape(&at.link_ref()),
        ),
    )
}

/// Whether a form post comes from another site's page (CSRF): browsers say so with
/// `Sec-Fetch-Site`, older ones with an `Origin` whose host is not the one asked.
fn cross_site(headers: &http::HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        return !matches!(site, "same-origin" | "none");
    }
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else { return false };
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("");
    origin.parse::<http::Uri>().ok().and_then(|u| u.authority().map(|a| a.as_str().to_owned())).as_deref() != Some(host)
}

impl Frontend {
    /// `POST /s/{token}` of a download or folder link: the password form. A right password
    /// answers 303 to the link with a cookie (`HttpOnly`, `SameSite=Strict`, this link's path
    /// only, [`UNLOCK_TTL`]) that stands for the password in this browser; the guess limits
    /// are charged before the slow hash as for HTTP Basic. A post from another site is refused.
    pub(crate) async fn share_unlock(&self, req: Request<Body>, share: &Share, token: &str) -> Response<Body> {
        let at = At { token, file: None };
        let now = OffsetDateTime::now_utc();
        let (parts, body) = req.into_parts();
        let mut shadow = Request::new(Body::empty());
        *shadow.method_mut() = Method::POST;
        *shadow.headers_mut() = parts.headers.clone();
        if let Some(a) = parts.extensions.get::<ClientAddr>() {
            shadow.extensions_mut().insert(*a);
        }
        if let Some(r) = parts.extensions.get::<crate::events::RequestId>() {
            shadow.extensions_mut().insert(r.clone());
        }
        let resp = self.unlock(&shadow, body, &at, share, now).await;
        self.record_use(&shadow, share, None, 0, resp.status().as_u16(), "UNLOCK", false);
        resp
    }

    async fn unlock(
        &self,
        req: &Request<Body>,
        body: Body,
        at: &At<'_>,
        share: &Share,
        now: OffsetDateTime,
    ) -> Response<Body> {
        if let Some(r) = dead(share, now) {
            return r;
        }
        let back = || {
            let mut r = Response::new(Body::empty());
            *r.status_mut() = StatusCode::SEE_OTHER;
            if let Ok(v) = HeaderValue::from_str(at.token) {
                r.headers_mut().insert(header::LOCATION, v);
            }
            link_headers(r.headers_mut());
            r
        };
        let Some(hash) = &share.password_hash else { return back() };
        if cross_site(req.headers()) {
            return page(
                StatusCode::FORBIDDEN,
                "Refused",
                "<h1>Refused</h1><p>This form may only be sent from its own page.</p>",
            );
        }
        let form_type = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| {
            v.split(';').next().is_some_and(|t| t.trim().eq_ignore_ascii_case("application/x-www-form-urlencoded"))
        });
        if !form_type {
            return public_error(
                415,
                "send the password as an application/x-www-form-urlencoded form field \"password\"",
            );
        }
        let body = match http_body_util::BodyExt::collect(http_body_util::Limited::new(body, MAX_FORM)).await {
            Ok(c) => c.to_bytes(),
            Err(_) => return public_error(413, "the form is too large"),
        };
        let Some(password) = form_urlencoded::parse(&body)
            .find(|(k, _)| k == "password")
            .map(|(_, v)| v.into_owned())
            .filter(|p| !p.is_empty())
        else {
            return password_page(StatusCode::UNAUTHORIZED, at, Some("Enter the password."));
        };
        match self.guess(req, share, hash, password, now).await {
            Ok(true) => {
                let mut r = back();
                let secure = self.public_url.as_deref().is_some_and(|u| u.starts_with("https://"));
                let base = self
                    .public_url
                    .as_deref()
                    .and_then(|u| u.parse::<http::Uri>().ok())
                    .map(|u| u.path().trim_end_matches('/').to_owned())
                    .unwrap_or_default();
                if let Some(value) = unlock_value(share, hash, now) {
                    let cookie = format!(
                        "{UNLOCK_COOKIE}={value}; Path={base}/s/{token}; Max-Age={age}; HttpOnly; SameSite=Strict{secure}",
                        token = at.token,
                        age = UNLOCK_TTL.whole_seconds(),
                        secure = if secure { "; Secure" } else { "" },
                    );
                    if let Ok(v) = HeaderValue::from_str(&cookie) {
                        r.headers_mut().insert(header::SET_COOKIE, v);
                    }
                }
                r
            }
            Ok(false) => password_page(StatusCode::UNAUTHORIZED, at, Some("Wrong password.")),
            Err(r) if r.status() == StatusCode::TOO_MANY_REQUESTS => {
                let mut p = page(
                    StatusCode::TOO_MANY_REQUESTS,
                    "Too many wrong passwords",
                    "<h1>Too many wrong passwords</h1><p>Try again later.</p>",
                );
                if let Some(v) = r.headers().get(header::RETRY_AFTER) {
                    p.headers_mut().insert(header::RETRY_AFTER, v.clone());
                }
                p
            }
            Err(r) => r,
        }
    }

    /// `GET`/`HEAD /s/{token}` of a folder link: its files, in key order, [`LIST_PAGE`] at a
    /// time from `?after=` — an HTML page for a browser, JSON otherwise (`Accept:
    /// application/json` or `?format=json`). Never counts. The creator must still be allowed to
    /// list the bucket and read the prefix; files it may not read are left out.
    pub(crate) async fn folder_listing(
        &self,
        req: &Request<Body>,
        at: &At<'_>,
        share: &Share,
        head: bool,
    ) -> Response<Body> {
        let now = OffsetDateTime::now_utc();
        let json_asked = form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes())
            .any(|(k, v)| k == "format" && v == "json");
        let html = !json_asked && accepts_html(req.headers());
        if let Err(r) = self.share_gate(req, at, share, html, now).await {
            return r;
        }
        let (identity, bucket) = match self.creator_access(share).await {
            Ok(Some(x)) => x,
            Ok(None) => return gone_or_missing(404),
            Err(r) => return r,
        };
        let whole = format!("{}*", share.key);
        if !may(&identity, &bucket, &share.bucket, LIST, None)
            || !may(&identity, &bucket, &share.bucket, READ, Some(&whole))
        {
            return gone_or_missing(404);
        }
        let shown = match self.meta.use_share(&share.id, now, ShareUse::Resume { counted_after: now }).await {
            Ok(Some(s)) => s,
            Ok(None) => return gone_or_missing(410),
            Err(e) => return public_unavailable(&e),
        };
        let after = form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes())
            .find(|(k, _)| k == "after")
            .map(|(_, v)| format!("{}{v}", share.key));
        let q = ListQuery { prefix: share.key.clone(), delimiter: None, after, max_keys: LIST_PAGE };
        let listing = match cloudstore_store_api::list_objects(self.meta.as_ref(), &share.bucket, &q).await {
            Ok(p) => p,
            Err(e) => return public_unavailable(&e),
        };
        let next = listing.next_marker().and_then(|m| m.strip_prefix(share.key.as_str())).map(str::to_owned);
        let files: Vec<(String, cloudstore_store_api::ObjectSummary)> = listing
            .entries
            .into_iter()
            .filter_map(|e| match e {
                ListedObject::Object(o) => Some(o),
                ListedObject::Prefix(_) => None,
            })
            .filter_map(|o| listed_path(&share.key, &o.key).map(|p| (p, o)))
            .filter(|(_, o)| may(&identity, &bucket, &share.bucket, READ, Some(&o.key)))
            .collect();
        self.record_use(req, &shown, None, 0, 200, if head { "HEAD" } else { "LIST" }, false);
        let title =
            share.key.trim_end_matches('/').rsplit('/').next().filter(|s| !s.is_empty()).unwrap_or(&share.bucket);
        let left = shown.max_downloads.map(|m| m.saturating_sub(shown.downloads));
        let next_q = next.as_ref().map(|n| {
            let mut q = form_urlencoded::Serializer::new(String::new());
            if json_asked {
                q.append_pair("format", "json");
            }
            q.append_pair("after", n);
            format!("?{}", q.finish())
        });
        let mut r = if html {
            let rows: String = files
                .iter()
                .map(|(path, o)| {
                    let name = urlencoding::decode(path).map(|n| n.into_owned()).unwrap_or_default();
                    let href = html_escape(&format!("{}/{path}", at.token));
                    format!(
                        "<tr><td><a href=\"{href}\">{name}</a></td><td>{size}</td><td><a href=\"{href}?download=1\">Download</a></td></tr>",
                        name = html_escape(&name),
                        size = human_size(o.size),
                    )
                })
                .collect();
            let more = next_q
                .as_ref()
                .map(|q| format!("<p><a href=\"{}\">Next page</a></p>", html_escape(q)))
                .unwrap_or_default();
            let limit = left.map(|l| format!("<p>Downloads left: {l}</p>")).unwrap_or_default();
            page(
                StatusCode::OK,
                title,
                &format!(
                    "<h1>{t}</h1><p>Available until: {until} (UTC)</p>{limit}<table><thead><tr><th>Name</th><th>Size</th>\
                     <th></th></tr></thead><tbody>{rows}</tbody></table>{empty}{more}",
                    t = html_escape(title),
                    until = html_escape(&rfc3339(share.expires_at)),
                    empty = if files.is_empty() { "<p>No files.</p>" } else { "" },
                ),
            )
        } else {
            let v = json!({
                "kind": "folder",
                "name": title,
                "expires_at": rfc3339(share.expires_at),
                "downloads_left": left,
                "files": files.iter().map(|(path, o)| json!({
                    "name": urlencoding::decode(path).map(|n| n.into_owned()).unwrap_or_default(),
                    "size": o.size,
                    "last_modified": rfc3339(o.last_modified),
                    "path": format!("{}/{path}", at.token),
                })).collect::<Vec<_>>(),
                "next": next_q,
            });
            let mut r = Response::new(Body::from(v.to_string()));
            r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
            link_headers(r.headers_mut());
            r
        };
        if head {
            *r.body_mut() = Body::empty();
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folder_paths_never_leave_the_prefix() {
        assert_eq!(folder_key("docs/", "a.txt").as_deref(), Some("docs/a.txt"));
        assert_eq!(folder_key("docs/", "sub/b%20c.txt").as_deref(), Some("docs/sub/b c.txt"));
        assert_eq!(folder_key("", "x/y").as_deref(), Some("x/y"));
        for bad in [
            "",
            "..",
            "../secret",
            "a/../../b",
            ".",
            "a//b",
            "a/",
            "%2e%2e/x",
            "..%2Fx",
            "a%2Fb",
            "a%5Cb",
            "%00",
            "%ff",
        ] {
            assert_eq!(folder_key("docs/", bad), None, "{bad}");
        }
        assert_eq!(listed_path("docs/", "docs/sub/a b.txt").as_deref(), Some("sub/a%20b.txt"));
        assert_eq!(listed_path("docs/", "docs/../x"), None);
        assert_eq!(listed_path("docs/", "docs/a//b"), None);
        assert_eq!(listed_path("docs/", "other/x"), None);
        let at = At { token: "T", file: Some("a/b") };
        assert_eq!(at.link_ref(), "../../T");
        assert_eq!(At { token: "T", file: None }.link_ref(), "T");
    }

    #[test]
    fn unlock_cookies_are_bound_to_the_link_and_expire() {
        let now = OffsetDateTime::now_utc();
        let share = Share {
            id: "shr-1".into(),
            token_hash: String::new(),
            account_id: String::new(),
            creator_arn: String::new(),
            bucket: "b".into(),
            key: "k".into(),
            filename: None,
            created_at: now,
            expires_at: now + Duration::hours(2),
            max_downloads: None,
            downloads: 0,
            last_used_at: None,
            last_counted_at: None,
            revoked: false,
            password_hash: Some("$argon2id$x".into()),
            guesses: 0,
            guesses_since: None,
            upload_rules: None,
            folder: false,
        };
        let value = unlock_value(&share, "$argon2id$x", now).expect("value");
        let cookie = |v: &str| {
            let mut h = http::HeaderMap::new();
            h.insert(header::COOKIE, HeaderValue::from_str(&format!("a=b; {UNLOCK_COOKIE}={v}")).expect("header"));
            h
        };
        assert!(unlocked(&cookie(&value), &share, "$argon2id$x", now));
        assert!(!unlocked(&cookie(&value), &share, "$argon2id$y", now), "another hash");
        assert!(!unlocked(&cookie(&value), &share, "$argon2id$x", now + UNLOCK_TTL), "expired");
        let other = Share { id: "shr-2".into(), ..share.clone() };
        assert!(!unlocked(&cookie(&value), &other, "$argon2id$x", now), "another link");
        let (exp, mac) = value.split_once('.').expect("dot");
        let later = format!("{}.{mac}", exp.parse::<i64>().expect("int") + 3600);
        assert!(!unlocked(&cookie(&later), &share, "$argon2id$x", now), "an extended expiry");
        assert!(!unlocked(&cookie("garbage"), &share, "$argon2id$x", now));
        assert!(!unlocked(&http::HeaderMap::new(), &share, "$argon2id$x", now));
    }

    #[test]
    fn cross_site_posts_are_recognised() {
        let h = |pairs: &[(&str, &str)]| {
            let mut m = http::HeaderMap::new();
            for (k, v) in pairs {
                m.insert(
                    http::HeaderName::from_bytes(k.as_bytes()).expect("name"),
                    HeaderValue::from_str(v).expect("v"),
                );
            }
            m
        };
        assert!(!cross_site(&h(&[("sec-fetch-site", "same-origin")])));
        assert!(cross_site(&h(&[("sec-fetch-site", "cross-site")])));
        assert!(cross_site(&h(&[("sec-fetch-site", "same-site")])));
        assert!(!cross_site(&h(&[("origin", "http://files.test:9000"), ("host", "files.test:9000")])));
        assert!(cross_site(&h(&[("origin", "http://evil.test"), ("host", "files.test:9000")])));
        assert!(cross_site(&h(&[("origin", "null"), ("host", "files.test:9000")])));
        assert!(!cross_site(&h(&[("host", "files.test:9000")])), "a tool, no origin");
    }
}

//! `GET /_api/v1/analytics/...` (issue #12 item 5, docs/analytics.md): the analytics questions
//! over the events, as JSON, for an account's principals (their account only) and the
//! platform admin (every account, or one with `account=`).
//!
//! The caller is identified as the other REST routes identify one: a bearer token from
//! `auth/login` is checked by the IAM service (`GET /users/me` through [`IamApi::rest`]), a
//! SigV4 signature by [`ApiRoutes`]'s own check (the key cache). Then the IAM action
//! `cloudstore:GetAnalytics` on `arn:aws:cloudstore::ACCOUNT:analytics` must be allowed by the
//! product's rule (`decide`): an account root has it, an IAM user needs a policy granting it,
//! the platform admin has everything. `unused-keys` also lists the account's keys through the
//! IAM Query API as the caller (ListUsers, ListAccessKeys), so it needs those permissions too.

use std::sync::Arc;

use bytes::Bytes;
use cloudstore_iam_api::{ApiResponse, Caller, PrincipalKind, QueryService, RequestMeta, RestRequest};
use cloudstore_notifier::analytics::{Analytics, Filter, GroupBy};
use cloudstore_policy::Context;
use http::Response;
use s3s::Body;
use serde_json::{Value, json};

use crate::api::ApiRoutes;
use crate::identity::Identity;
use crate::server::{ClientAddr, Frontend};

/// The IAM action the questions need.
pub const ACTION: &str = "cloudstore:GetAnalytics";
const DEFAULT_LIMIT: u32 = 10;
const MS_PER_DAY: i64 = 86_400_000;

/// Where the analytics read their events (`app.rs` opens it).
#[derive(Debug, Clone, clap::Args)]
pub struct AnalyticsArgs {
    /// ClickHouse HTTP URL for analytics (`http://host:8123`); the local event store
    /// `<data dir>/events.sqlite` when unset.
    #[arg(long, env = "CLOUDSTORE_CLICKHOUSE_URL")]
    pub clickhouse_url: Option<String>,
    /// ClickHouse database holding the `events` table.
    #[arg(long, env = "CLOUDSTORE_CLICKHOUSE_DATABASE", default_value = "cloudstore")]
    pub clickhouse_database: String,
    /// Let the `clickhouse` crate check row types against the server (needs ClickHouse 21+;
    /// off works with every release, 18.16 included).
    #[arg(long, env = "CLOUDSTORE_CLICKHOUSE_VALIDATION", default_value_t = false)]
    pub clickhouse_validation: bool,
}

impl Frontend {
    /// Answers `/_api/v1/analytics/...` from `analytics` (without it they answer 503).
    #[must_use]
    pub fn with_analytics(self, analytics: Arc<dyn Analytics>) -> Self {
        // Set once, at construction; a second call keeps the first.
        let _ = self.api.analytics.set(analytics);
        self
    }
}

/// A REST error document.
fn error(status: u16, code: &str, message: &str) -> ApiResponse {
    json_response(status, &json!({ "error": { "code": code, "message": message } }))
}

fn json_response(status: u16, v: &Value) -> ApiResponse {
    ApiResponse { status, content_type: "application/json".into(), body: v.to_string() }
}

pub(crate) fn from_api(r: ApiResponse) -> Response<Body> {
    let mut resp = Response::new(Body::from(r.body));
    *resp.status_mut() = http::StatusCode::from_u16(r.status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    if let Ok(v) = http::HeaderValue::from_str(&r.content_type) {
        resp.headers_mut().insert(http::header::CONTENT_TYPE, v);
    }
    resp
}

fn meta_of(parts: &http::request::Parts, request_id: &str) -> RequestMeta {
    RequestMeta {
        source_ip: parts.extensions.get::<ClientAddr>().map(|a| a.0.ip().to_string()),
        user_agent: parts.headers.get(http::header::USER_AGENT).and_then(|v| v.to_str().ok()).map(str::to_owned),
        request_id: request_id.to_owned(),
        secure: false,
    }
}

/// Who is asking: by signature or bearer token, as the other REST routes decide it.
pub(crate) async fn caller(
    routes: &ApiRoutes,
    parts: &http::request::Parts,
    body: &Bytes,
    meta: &RequestMeta,
) -> Result<Arc<Identity>, ApiResponse> {
    let authz = parts.headers.get(http::header::AUTHORIZATION).and_then(|v| v.to_str().ok()).unwrap_or("");
    if authz.starts_with(cloudstore_sigv4::ALGORITHM) {
        let service = cloudstore_sigv4::parse_authorization(authz).map(|a| a.service).unwrap_or_default();
        return match routes.authenticate(parts, body, &service).await {
            Ok((identity, _)) => Ok(identity),
            Err((s, c, m)) => Err(error(s, c, &m)),
        };
    }
    let Some(token) = authz.strip_prefix("Bearer ").map(|t| t.trim().to_owned()) else {
        return Err(error(401, "Unauthorized", "a Bearer access token or a SigV4 signature is required"));
    };
    // The IAM service checks the token (expiry, revocation, signature) and says whose it is.
    let me = RestRequest {
        method: "GET".into(),
        path: "/users/me".into(),
        query: String::new(),
        bearer: Some(token),
        admin: false,
        body: Vec::new(),
        meta: meta.clone(),
    };
    let iam = routes.keys.iam();
    let answer = iam.rest(me).await.map_err(|e| error(503, "ServiceUnavailable", &e.to_string()))?;
    if answer.status != 200 {
        return Err(answer);
    }
    let profile: Value = serde_json::from_str(&answer.body)
        .map_err(|_| error(503, "ServiceUnavailable", "the identity service gave no profile"))?;
    let arn = profile["arn"].as_str().unwrap_or_default();
    match iam.principal_grant(arn).await {
        Ok(Some((principal, named))) => Ok(Arc::new(Identity::without_secret(principal, named))),
        Ok(None) => Err(error(401, "Unauthorized", "the session's user no longer exists")),
        Err(e) => Err(error(503, "ServiceUnavailable", &e.to_string())),
    }
}

pub(crate) fn context(meta: &RequestMeta) -> Context {
    let now = time::OffsetDateTime::now_utc();
    let mut c = Context::new()
        .with("aws:CurrentTime", now.format(&time::format_description::well_known::Rfc3339).unwrap_or_default())
        .with("aws:EpochTime", now.unix_timestamp().to_string())
        .with("aws:SecureTransport", "false");
    if let Some(ip) = &meta.source_ip {
        c = c.with("aws:SourceIp", ip.clone());
    }
    if let Some(ua) = &meta.user_agent {
        c = c.with("aws:UserAgent", ua.clone());
    }
    c
}

/// The query parameters, decoded.
struct Params(Vec<(String, String)>);

impl Params {
    fn get(&self, k: &str) -> Option<&str> {
        self.0.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str()).filter(|v| !v.is_empty())
    }

    fn limit(&self, default: u32) -> Result<u32, ApiResponse> {
        match self.get("limit") {
            None => Ok(default),
            Some(v) => v
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=cloudstore_notifier::analytics::MAX_LIMIT).contains(n))
                .ok_or_else(|| bad(&format!("limit must be 1 to {}", cloudstore_notifier::analytics::MAX_LIMIT))),
        }
    }

    /// A time: milliseconds since the epoch, or an RFC 3339 time, or a UTC day `YYYY-MM-DD`.
    fn time(&self, k: &str) -> Result<Option<i64>, ApiResponse> {
        let Some(v) = self.get(k) else { return Ok(None) };
        parse_time(v)
            .map(Some)
            .ok_or_else(|| bad(&format!("{k} must be milliseconds since the epoch, an RFC 3339 time or YYYY-MM-DD")))
    }
}

/// Milliseconds since the epoch of `v`: an integer, an RFC 3339 time or a UTC day.
pub fn parse_time(v: &str) -> Option<i64> {
    if let Ok(ms) = v.parse::<i64>() {
        return Some(ms);
    }
    if let Ok(t) = time::OffsetDateTime::parse(v, &time::format_description::well_known::Rfc3339) {
        return i64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok();
    }
    let format = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(v, &format).ok().map(|d| d.midnight().assume_utc().unix_timestamp() * 1000)
}

fn bad(message: &str) -> ApiResponse {
    error(400, "ValidationError", message)
}

fn unavailable(e: &dyn std::error::Error) -> ApiResponse {
    tracing::warn!(error = %e, "analytics query failed");
    error(503, "ServiceUnavailable", "the event store did not answer")
}

/// Serves `GET /_api/v1/analytics/{question}`; `path` is what follows `/_api/v1`.
pub async fn serve(
    routes: &ApiRoutes,
    parts: &http::request::Parts,
    body: &Bytes,
    path: &str,
    request_id: &str,
) -> Response<Body> {
    from_api(answer(routes, parts, body, path, request_id).await)
}

async fn answer(
    routes: &ApiRoutes,
    parts: &http::request::Parts,
    body: &Bytes,
    path: &str,
    request_id: &str,
) -> ApiResponse {
    let meta = meta_of(parts, request_id);
    let identity = match caller(routes, parts, body, &meta).await {
        Ok(i) => i,
        Err(resp) => return resp,
    };
    if parts.method != http::Method::GET {
        return error(405, "MethodNotAllowed", "analytics are read with GET");
    }
    let params = Params(
        form_urlencoded::parse(parts.uri.query().unwrap_or("").as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect(),
    );
    let admin = identity.principal.kind == PrincipalKind::Admin;
    let own = identity.principal.account_id.clone();
    // The account whose events are read: the caller's own; the admin's choice (all by default).
    let account = match (admin, params.get("account")) {
        (true, a) => a.map(str::to_owned),
        (false, Some(a)) if a != own => {
            return error(403, "AccessDenied", "an account's principals see only their own account's analytics");
        }
        (false, _) if own.is_empty() => return error(403, "AccessDenied", "anonymous callers see no analytics"),
        (false, _) => Some(own.clone()),
    };
    let resource = format!("arn:aws:cloudstore::{}:analytics", account.as_deref().unwrap_or("*"));
    let why = crate::access::decide(&identity, None, ACTION, &resource, &context(&meta));
    if !why.allowed {
        tracing::info!(principal = %identity.principal.arn, action = ACTION, %resource, reason = %why.reason, "analytics refused");
        return error(
            403,
            "AccessDenied",
            &format!("{} is not allowed {ACTION} on {resource}", identity.principal.arn),
        );
    }
    let Some(analytics) = routes.analytics.get() else {
        return error(
            503,
            "ServiceUnavailable",
            "analytics are not available on this server: events go to Kafka, and analytics read ClickHouse (set CLOUDSTORE_CLICKHOUSE_URL)",
        );
    };
    let (from, to) = match (params.time("from"), params.time("to")) {
        (Ok(f), Ok(t)) => (f, t),
        (Err(r), _) | (_, Err(r)) => return r,
    };
    let filter = Filter { account_id: account.clone(), from, to };
    let question = path.trim_start_matches("/analytics").trim_matches('/');
    let rows: Result<Value, ApiResponse> = match question {
        "traffic" => {
            let group_by = match params.get("group_by").unwrap_or("bucket").parse::<GroupBy>() {
                Ok(g) => g,
                Err(e) => return bad(&e.to_string()),
            };
            analytics.traffic(&filter, group_by).await.map(|r| json!(r)).map_err(|e| unavailable(&e))
        }
        "top-objects" => match params.limit(DEFAULT_LIMIT) {
            Ok(l) => analytics.top_objects(&filter, l).await.map(|r| json!(r)).map_err(|e| unavailable(&e)),
            Err(r) => return r,
        },
        "top-principals" => match params.limit(DEFAULT_LIMIT) {
            Ok(l) => analytics.top_principals(&filter, l).await.map(|r| json!(r)).map_err(|e| unavailable(&e)),
            Err(r) => return r,
        },
        "denied" => match params.limit(100) {
            Ok(l) => analytics.denied(&filter, l).await.map(|r| json!(r)).map_err(|e| unavailable(&e)),
            Err(r) => return r,
        },
        "object-history" => {
            let (Some(bucket), Some(key)) = (params.get("bucket"), params.get("key")) else {
                return bad("object-history needs bucket and key");
            };
            match params.limit(100) {
                Ok(l) => analytics
                    .object_history(&filter, bucket, key, l)
                    .await
                    .map(|r| json!(r))
                    .map_err(|e| unavailable(&e)),
                Err(r) => return r,
            }
        }
        "unused-keys" => {
            let Some(days) = params.get("days").and_then(|d| d.parse::<u32>().ok()) else {
                return bad("unused-keys needs days, a whole number of days");
            };
            unused_keys(routes, &identity, account.as_deref(), days, &meta, analytics.as_ref()).await
        }
        _ => {
            return error(
                404,
                "NotFound",
                "no such analytics question: traffic, top-objects, top-principals, denied, unused-keys, object-history",
            );
        }
    };
    match rows {
        Ok(rows) => json_response(
            200,
            &json!({ "question": question, "account_id": account, "from": from, "to": to, "rows": rows }),
        ),
        Err(resp) => resp,
    }
}

/// Keys of the asked account(s) unused for `days`: the account's keys from the IAM service,
/// joined with their last use in the events.
async fn unused_keys(
    routes: &ApiRoutes,
    identity: &Identity,
    account: Option<&str>,
    days: u32,
    meta: &RequestMeta,
    analytics: &dyn Analytics,
) -> Result<Value, ApiResponse> {
    let accounts: Vec<String> = match account {
        Some(a) => vec![a.to_owned()],
        None => all_accounts(routes, meta).await?,
    };
    let mut keys = Vec::new();
    for a in &accounts {
        keys.extend(account_keys(routes, identity, a, meta).await?);
    }
    // Uses are counted over all time (the range does not apply: "unused since"), and over every
    // account's events: a key used only on another account's bucket is used (events belong to
    // the bucket's owner). Key ids are unique, and only the account's own keys are answered.
    let uses = analytics
        .key_last_use(&Filter { account_id: None, from: None, to: None })
        .await
        .map_err(|e| unavailable(&e))?;
    let now = time::OffsetDateTime::now_utc().unix_timestamp() * 1000;
    let cutoff = now - i64::from(days) * MS_PER_DAY;
    let pairs: Vec<(String, i64)> = keys.iter().map(|(k, _, created)| (k.clone(), *created)).collect();
    let unused = cloudstore_notifier::analytics::unused_keys(&pairs, &uses, cutoff);
    let user_of: std::collections::HashMap<&str, &str> =
        keys.iter().map(|(k, u, _)| (k.as_str(), u.as_str())).collect();
    Ok(Value::Array(
        unused
            .iter()
            .map(|k| {
                json!({
                    "access_key": k.access_key,
                    "user_name": user_of.get(k.access_key.as_str()).copied().unwrap_or_default(),
                    "created_at": k.created_at,
                    "last_used_at": k.last_used_at,
                    "idle_days": k.idle_days + i64::from(days),
                })
            })
            .collect(),
    ))
}

/// Every account's id (for the platform admin), from the IAM service's account list.
async fn all_accounts(routes: &ApiRoutes, meta: &RequestMeta) -> Result<Vec<String>, ApiResponse> {
    let req = RestRequest {
        method: "GET".into(),
        path: "/admin/accounts".into(),
        query: String::new(),
        bearer: None,
        admin: true,
        body: Vec::new(),
        meta: meta.clone(),
    };
    let answer = routes.keys.iam().rest(req).await.map_err(|e| error(503, "ServiceUnavailable", &e.to_string()))?;
    if answer.status != 200 {
        return Err(answer);
    }
    let v: Value = serde_json::from_str(&answer.body).unwrap_or(Value::Null);
    Ok(v["accounts"]
        .as_array()
        .map(|a| a.iter().filter_map(|x| x["account_id"].as_str().map(str::to_owned)).collect())
        .unwrap_or_default())
}

/// The access keys of `account` as (id, user name, created at in ms), listed through the IAM
/// Query API as the caller (the platform admin acts as the account's root here, as it may
/// manage every account).
async fn account_keys(
    routes: &ApiRoutes,
    identity: &Identity,
    account: &str,
    meta: &RequestMeta,
) -> Result<Vec<(String, String, i64)>, ApiResponse> {
    let iam = routes.keys.iam();
    let (principal, policies) = if identity.principal.kind == PrincipalKind::Admin {
        match iam.principal_grant(&format!("arn:aws:iam::{account}:root")).await {
            Ok(Some(x)) => x,
            Ok(None) => return Ok(Vec::new()),
            Err(e) => return Err(error(503, "ServiceUnavailable", &e.to_string())),
        }
    } else {
        (identity.principal.clone(), identity.named.clone())
    };
    let caller = Caller { principal, access_key: String::new(), policies };
    let query = |params: Vec<(String, String)>| {
        let caller = caller.clone();
        async move {
            let r = iam
                .query(QueryService::Iam, &caller, params, meta)
                .await
                .map_err(|e| error(503, "ServiceUnavailable", &e.to_string()))?;
            if r.status == 200 {
                Ok(r.body)
            } else {
                let code = xml_values(&r.body, "Code").into_iter().next().unwrap_or("AccessDenied");
                let message = xml_values(&r.body, "Message").into_iter().next().unwrap_or("refused");
                Err(error(r.status, code, &format!("listing the account's keys: {message}")))
            }
        }
    };
    let action = |a: &str| ("Action".to_owned(), a.to_owned());
    let users = query(vec![action("ListUsers")]).await?;
    let mut keys = Vec::new();
    let mut lists = vec![query(vec![action("ListAccessKeys")]).await?];
    for name in xml_values(&users, "UserName") {
        lists.push(query(vec![action("ListAccessKeys"), ("UserName".into(), xml_unescape(name))]).await?);
    }
    for list in lists {
        for member in list.split("<member>").skip(1) {
            let id = xml_values(member, "AccessKeyId").into_iter().next().unwrap_or_default();
            let user = xml_values(member, "UserName").into_iter().next().unwrap_or_default();
            let created = xml_values(member, "CreateDate").into_iter().next().and_then(parse_time).unwrap_or(0);
            if !id.is_empty() && !keys.iter().any(|(k, _, _): &(String, String, i64)| k == id) {
                keys.push((id.to_owned(), xml_unescape(user), created));
            }
        }
    }
    Ok(keys)
}

/// The texts of every `<tag>…</tag>` in `xml` (the IAM service's own answers: flat elements).
fn xml_values<'a>(xml: &'a str, tag: &str) -> Vec<&'a str> {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(i) = rest.find(&open) {
        let after = &rest[i + open.len()..];
        let Some(j) = after.find(&close) else { break };
        out.push(&after[..j]);
        rest = &after[j + close.len()..];
    }
    out
}

fn xml_unescape(s: &str) -> String {
    s.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&apos;", "'").replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_ms_rfc3339_or_days() {
        assert_eq!(parse_time("1796083200000"), Some(1_796_083_200_000));
        assert_eq!(parse_time("2026-12-01"), Some(1_796_083_200_000));
        assert_eq!(parse_time("2026-12-01T00:00:01Z"), Some(1_796_083_201_000));
        assert_eq!(parse_time("yesterday"), None);
    }

    #[test]
    fn xml_values_are_found_in_order() {
        let x = "<a><member><AccessKeyId>K1</AccessKeyId></member><member><AccessKeyId>K2</AccessKeyId></member></a>";
        assert_eq!(xml_values(x, "AccessKeyId"), ["K1", "K2"]);
        assert!(xml_values("<x>", "AccessKeyId").is_empty());
        assert_eq!(xml_unescape("a&amp;b&lt;"), "a&b<");
    }
}

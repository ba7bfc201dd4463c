//! The non-S3 routes of the public port, handed to the IAM service: the IAM and STS Query APIs
//! (`POST /` with a form body, SigV4 with service `iam` / `sts`) and the account REST API
//! under `/_api/v1/`. The gateway authenticates IAM/STS calls itself (the same key cache as S3)
//! and answers the admin's policy explanations, which need bucket policies.

use std::sync::Arc;

use bytes::Bytes;
use cloudstore_iam_api::{ApiResponse, Caller, IamApi, PrincipalKind, QueryService, RequestMeta, RestRequest};
use cloudstore_policy::Context;
use cloudstore_sigv4::{AuthorizationHeader, SigningKeyCache, VerifyParams};
use http::{Request, Response, StatusCode};
use http_body_util::BodyExt as _;
use s3s::Body;
use serde_json::json;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

use crate::access::{decide_with_object, resource_arn};
use crate::identity::{BucketCache, Identity, KeyCache};
use crate::server::ClientAddr;

/// Largest IAM / STS / REST request body.
const MAX_BODY: usize = 256 * 1024;

/// Where the IAM-side routes go.
#[derive(Debug)]
pub struct ApiRoutes {
    pub keys: Arc<KeyCache>,
    pub buckets: Arc<BucketCache>,
    pub signing_keys: SigningKeyCache,
    pub region: String,
    /// Where `/_api/v1/analytics/` reads events (set by `Frontend::with_analytics`).
    pub analytics: std::sync::OnceLock<Arc<dyn cloudstore_notifier::Analytics>>,
}

/// Which non-S3 route a request is for, if any.
pub fn classify(req: &Request<Body>) -> Option<Route> {
    let path = req.uri().path();
    if is_rest_path(path) {
        return Some(Route::Rest);
    }
    if req.method() == http::Method::POST && path == "/" {
        let auth = req.headers().get(http::header::AUTHORIZATION)?.to_str().ok()?;
        let parsed = cloudstore_sigv4::parse_authorization(auth).ok()?;
        return match parsed.service.as_str() {
            "iam" => Some(Route::Query(QueryService::Iam)),
            "sts" => Some(Route::Query(QueryService::Sts)),
            _ => None,
        };
    }
    None
}

/// Whether `path` is the REST API's (`/_api/v1` and below).
#[must_use]
pub fn is_rest_path(path: &str) -> bool {
    path == "/_api/v1" || path.starts_with("/_api/v1/")
}

/// A non-S3 route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Query(QueryService),
    Rest,
}

fn to_http(r: ApiResponse) -> Response<Body> {
    let mut resp = Response::new(Body::from(r.body));
    *resp.status_mut() = StatusCode::from_u16(r.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if let Ok(v) = http::HeaderValue::from_str(&r.content_type) {
        resp.headers_mut().insert(http::header::CONTENT_TYPE, v);
    }
    resp
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// An IAM/STS-style error document.
fn query_error(status: u16, code: &str, message: &str, request_id: &str) -> Response<Body> {
    let kind = if status >= 500 { "Receiver" } else { "Sender" };
    to_http(ApiResponse {
        status,
        content_type: "text/xml".into(),
        body: format!(
            "<ErrorResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><Error><Type>{kind}</Type>\
             <Code>{}</Code><Message>{}</Message></Error><RequestId>{}</RequestId></ErrorResponse>",
            xml_escape(code),
            xml_escape(message),
            xml_escape(request_id)
        ),
    })
}

/// A REST-style error document.
fn rest_error(status: u16, code: &str, message: &str) -> Response<Body> {
    to_http(ApiResponse {
        status,
        content_type: "application/json".into(),
        body: json!({ "error": { "code": code, "message": message } }).to_string(),
    })
}

/// The `retry_after_secs` of a REST error body (a 429 of the login limits), for `Retry-After`.
fn retry_after_secs(body: &str) -> Option<u64> {
    serde_json::from_str::<serde_json::Value>(body).ok()?.get("error")?.get("retry_after_secs")?.as_u64()
}

/// Why a signed request was refused: (status, AWS code, message).
type Refusal = (u16, &'static str, String);

fn meta_of(parts: &http::request::Parts, request_id: &str) -> RequestMeta {
    RequestMeta {
        source_ip: parts.extensions.get::<ClientAddr>().map(|a| a.0.ip().to_string()),
        user_agent: parts.headers.get(http::header::USER_AGENT).and_then(|v| v.to_str().ok()).map(str::to_owned),
        request_id: request_id.to_owned(),
        secure: false,
    }
}

async fn read_body(body: Body) -> Result<Bytes, Refusal> {
    let limited = http_body_util::Limited::new(body, MAX_BODY);
    match limited.collect().await {
        Ok(c) => Ok(c.to_bytes()),
        Err(_) => Err((413, "RequestEntityTooLarge", format!("request bodies are limited to {MAX_BODY} bytes"))),
    }
}

impl ApiRoutes {
    /// Verifies a header-signed request with the caller's secret; returns the caller.
    pub(crate) async fn authenticate(
        &self,
        parts: &http::request::Parts,
        body: &[u8],
        service: &str,
    ) -> Result<(Arc<Identity>, String), Refusal> {
        let header = parts.headers.get(http::header::AUTHORIZATION).and_then(|v| v.to_str().ok()).ok_or((
            403,
            "MissingAuthenticationToken",
            "Request is missing Authentication Token".to_owned(),
        ))?;
        let auth: AuthorizationHeader =
            cloudstore_sigv4::parse_authorization(header).map_err(|e| (400, "IncompleteSignature", e.to_string()))?;
        if auth.service != service {
            return Err((403, "SignatureDoesNotMatch", format!("credential scope service must be {service}")));
        }
        // IAM and STS are global: a scope without a region (botocore's, for a client made
        // with `region_name=''`) is accepted for them; the signature covers the scope as sent.
        if auth.region != self.region && !(auth.region.is_empty() && matches!(service, "iam" | "sts")) {
            return Err((403, "SignatureDoesNotMatch", format!("credential scope region must be {}", self.region)));
        }
        let identity = match self.keys.resolve(&auth.access_key).await {
            Ok(Some(i)) => i,
            Ok(None) => {
                return Err((
                    403,
                    "InvalidClientTokenId",
                    "The security token included in the request is invalid.".to_owned(),
                ));
            }
            Err(e) => return Err((503, "ServiceUnavailable", e.to_string())),
        };
        let hash = cloudstore_sigv4::payload_hash(body);
        let params = VerifyParams::new(&hash, time::OffsetDateTime::now_utc());
        self.signing_keys.verify_cached(parts, &auth, &identity.secret, &params).map_err(|e| match e {
            cloudstore_sigv4::Error::RequestTimeTooSkewed => (403, "RequestExpired", e.to_string()),
            _ => (
                403,
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided.".to_owned(),
            ),
        })?;
        if let Some(expected) = &identity.session_token_hash {
            let presented =
                parts.headers.get(cloudstore_sigv4::X_AMZ_SECURITY_TOKEN).and_then(|v| v.to_str().ok()).ok_or((
                    403,
                    "InvalidClientTokenId",
                    "The security token included in the request is invalid.".to_owned(),
                ))?;
            let got = hex::encode(Sha256::digest(presented.as_bytes()));
            if !bool::from(got.as_bytes().ct_eq(expected.as_bytes())) {
                return Err((
                    403,
                    "InvalidClientTokenId",
                    "The security token included in the request is invalid.".into(),
                ));
            }
        }
        if identity.expires_at.is_some_and(|t| t <= time::OffsetDateTime::now_utc().unix_timestamp()) {
            return Err((403, "ExpiredToken", "The security token included in the request is expired".to_owned()));
        }
        Ok((identity, auth.access_key))
    }

    fn iam(&self) -> &Arc<dyn IamApi> {
        self.keys.iam()
    }

    /// Serves an IAM or STS Query API call.
    pub async fn query(&self, service: QueryService, req: Request<Body>, request_id: &str) -> Response<Body> {
        let (parts, body) = req.into_parts();
        let body = match read_body(body).await {
            Ok(b) => b,
            Err((s, c, m)) => return query_error(s, c, &m, request_id),
        };
        let name = if service == QueryService::Iam { "iam" } else { "sts" };
        let (identity, access_key) = match self.authenticate(&parts, &body, name).await {
            Ok(x) => x,
            Err((s, c, m)) => return query_error(s, c, &m, request_id),
        };
        // Credentials from GetSessionToken may not manage IAM (as on AWS without MFA): a
        // leaked temporary key must not mint permanent ones.
        if service == QueryService::Iam
            && identity.session_token_hash.is_some()
            && identity.principal.kind != PrincipalKind::AssumedRole
        {
            return query_error(
                403,
                "AccessDenied",
                "IAM calls are not allowed with credentials from GetSessionToken",
                request_id,
            );
        }
        let mut params: Vec<(String, String)> =
            form_urlencoded::parse(&body).map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
        if let Some(q) = parts.uri.query() {
            params.extend(form_urlencoded::parse(q.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())));
        }
        let caller = Caller { principal: identity.principal.clone(), access_key, policies: identity.named.clone() };
        let meta = meta_of(&parts, request_id);
        match self.iam().query(service, &caller, params, &meta).await {
            Ok(r) => to_http(r),
            Err(e) => query_error(503, "ServiceUnavailable", &e.to_string(), request_id),
        }
    }

    /// Serves a REST call under `/_api/v1/`.
    pub async fn rest(&self, req: Request<Body>, request_id: &str) -> Response<Body> {
        let (parts, body) = req.into_parts();
        let body = match read_body(body).await {
            Ok(b) => b,
            Err((s, c, m)) => return rest_error(s, c, &m),
        };
        let path = parts.uri.path().strip_prefix("/_api/v1").unwrap_or("").to_owned();
        if path == "/analytics" || path.starts_with("/analytics/") {
            return crate::analytics::serve(self, &parts, &body, &path, request_id).await;
        }
        let authz = parts.headers.get(http::header::AUTHORIZATION).and_then(|v| v.to_str().ok()).unwrap_or("");
        let bearer = authz.strip_prefix("Bearer ").map(|t| t.trim().to_owned());
        // SigV4-signed REST calls are the platform admin's (and the CLI's).
        let mut admin = false;
        if authz.starts_with(cloudstore_sigv4::ALGORITHM) {
            let service = cloudstore_sigv4::parse_authorization(authz).map(|a| a.service).unwrap_or_default();
            match self.authenticate(&parts, &body, &service).await {
                Ok((identity, _)) if identity.principal.kind == PrincipalKind::Admin => admin = true,
                Ok(_) => return rest_error(403, "AccessDenied", "only the platform admin may sign API calls"),
                Err((s, c, m)) => return rest_error(s, c, &m),
            }
        }
        if path == "/admin/explain" {
            return if !admin {
                rest_error(403, "AccessDenied", "only the platform admin may ask for explanations")
            } else if parts.method != http::Method::POST {
                rest_error(405, "MethodNotAllowed", "use POST")
            } else {
                self.explain(&body).await
            };
        }
        let rest = RestRequest {
            method: parts.method.as_str().to_owned(),
            path,
            query: parts.uri.query().unwrap_or("").to_owned(),
            bearer,
            admin,
            body: body.to_vec(),
            meta: meta_of(&parts, request_id),
        };
        match self.iam().rest(rest).await {
            Ok(r) => {
                let retry_after = if r.status == 429 { retry_after_secs(&r.body) } else { None };
                let mut resp = to_http(r);
                if let Some(secs) = retry_after {
                    resp.headers_mut().insert(http::header::RETRY_AFTER, http::HeaderValue::from(secs));
                }
                resp
            }
            Err(e) => rest_error(503, "ServiceUnavailable", &e.to_string()),
        }
    }

    /// `POST /_api/v1/admin/explain` `{"principal": ARN, "action": "s3:GetObject",
    /// "resource": "arn:aws:s3:::bucket/key", "context": {"aws:SourceIp": "…"}}`: whether it is
    /// allowed, why, and which statement decided.
    async fn explain(&self, body: &[u8]) -> Response<Body> {
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Ask {
            principal: String,
            action: String,
            resource: String,
            #[serde(default)]
            context: std::collections::BTreeMap<String, String>,
        }
        let ask: Ask = match serde_json::from_slice(body) {
            Ok(a) => a,
            Err(e) => return rest_error(400, "ValidationError", &format!("invalid JSON body: {e}")),
        };
        let (principal, policies) = if ask.principal == "*" || ask.principal == "anonymous" {
            (cloudstore_iam_api::Principal::anonymous(), Vec::new())
        } else {
            match self.iam().principal_grant(&ask.principal).await {
                Ok(Some(x)) => x,
                Ok(None) => return rest_error(404, "NoSuchEntity", &format!("no principal {}", ask.principal)),
                Err(e) => return rest_error(503, "ServiceUnavailable", &e.to_string()),
            }
        };
        let identity = Identity::without_secret(principal, policies);
        let bucket_name = ask
            .resource
            .strip_prefix("arn:aws:s3:::")
            .map(|r| r.split('/').next().unwrap_or(r).to_owned())
            .filter(|b| !b.is_empty() && b != "*");
        let bucket = match &bucket_name {
            Some(b) => match self.buckets.get(b).await {
                Ok(info) => info,
                Err(e) => return rest_error(503, "ServiceUnavailable", &e.to_string()),
            },
            None => None,
        };
        let mut context = Context::new();
        for (k, v) in &ask.context {
            context = context.with(k, v.clone());
        }
        let resource = if ask.resource.is_empty() { resource_arn(None, None) } else { ask.resource.clone() };
        let key = resource.strip_prefix("arn:aws:s3:::").and_then(|r| r.split_once('/')).map(|(_, k)| k.to_owned());
        let object = (bucket_name.as_deref(), key.as_deref().filter(|k| !k.contains('*')));
        let meta = self.buckets.meta();
        let why = match decide_with_object(meta, &identity, bucket.as_deref(), object, &ask.action, &resource, &context)
            .await
        {
            Ok((why, _)) => why,
            Err(e) => return rest_error(503, "ServiceUnavailable", &e.to_string()),
        };
        // The object's ACL, to say which of its grants make it public.
        let object_acl = match (&bucket, object) {
            (Some(info), (Some(b), Some(k))) => match meta.get_object(b, k).await {
                Ok(o) => o.map(|o| crate::acl::object_acl(&o, &info.owner)),
                Err(e) => return rest_error(503, "ServiceUnavailable", &e.to_string()),
            },
            _ => None,
        };
        // The live share links that hand this object (or, for a bucket, any of its objects) to
        // whoever holds the link, and whether each still works: a link dies with its creator's
        // read access (ADR 0010).
        let mut share_links = Vec::new();
        if let (Some(info), Some(b)) = (&bucket, bucket_name.as_deref()) {
            let links = match meta.live_shares(b, object.1, time::OffsetDateTime::now_utc(), 100).await {
                Ok(l) => l,
                Err(e) => return rest_error(503, "ServiceUnavailable", &e.to_string()),
            };
            for link in &links {
                let works = match self.keys.grant(&link.creator_arn).await {
                    Ok(Some(creator)) => {
                        crate::shares::creator_reads(&creator, info, link, object.1.unwrap_or(&link.key))
                    }
                    Ok(None) => false,
                    Err(e) => return rest_error(503, "ServiceUnavailable", &e.to_string()),
                };
                let mut v = crate::shares::share_json(link);
                v["works"] = json!(works);
                share_links.push(v);
            }
        }
        let public_grants = |acl: &crate::acl::Acl| {
            acl.public_grants()
                .map(|g| json!({ "grantee": g.grantee, "permission": g.permission.as_str() }))
                .collect::<Vec<_>>()
        };
        let statement = match &why.decision {
            cloudstore_policy::Decision::Allow(s) | cloudstore_policy::Decision::ExplicitDeny(s) => json!({
                "policy": s.label, "index": s.index, "sid": s.sid,
                "effect": if matches!(why.decision, cloudstore_policy::Decision::Allow(_)) { "Allow" } else { "Deny" },
            }),
            cloudstore_policy::Decision::ImplicitDeny => serde_json::Value::Null,
        };
        let body = json!({
            "allowed": why.allowed,
            "decision": if why.allowed { "Allow" } else if matches!(why.decision, cloudstore_policy::Decision::ExplicitDeny(_)) { "ExplicitDeny" } else { "ImplicitDeny" },
            "reason": why.reason.to_string(),
            "statement": statement,
            "principal": identity.principal.arn,
            "action": ask.action,
            "resource": resource,
            "bucket_owner": bucket.as_ref().map(|b| b.owner.clone()),
            "policies_considered": identity.policies.iter().map(|(l, _)| l.clone()).chain(bucket.as_ref().and_then(|b| b.policy_for(&identity.principal)).map(|_| "bucket-policy".to_owned())).collect::<Vec<_>>(),
            // Why a bucket is (not) public: its Block Public Access settings, whether its policy
            // is public, and whether the settings hide that policy from this principal.
            "public_access": bucket.as_ref().map(|b| json!({
                // In effect (the bucket's with its account's), and the account's alone.
                "block": b.block,
                "account_block": b.account_block,
                "public_policy": b.public_policy,
                "policy_hidden_by_restrict_public_buckets": b.policy.is_some() && b.policy_for(&identity.principal).is_none(),
                // ACLs (ADR 0013): whether they take effect here, and the grants that make
                // the bucket or the object public (ignored under IgnorePublicAcls).
                "object_ownership": b.ownership.map(crate::acl::Ownership::as_str),
                "acls_enabled": b.acls_enabled(),
                "public_bucket_acl_grants": public_grants(&b.acl),
                "public_object_acl_grants": object_acl.as_ref().map(public_grants),
                "public_acls_ignored": b.block.ignore_public_acls,
            })),
            // Share links are outside Block Public Access, as presigned URLs are: a live link
            // whose creator may still read the object serves it to anyone holding the link.
            "share_links": share_links,
        });
        to_http(ApiResponse { status: 200, content_type: "application/json".into(), body: body.to_string() })
    }
}

//! The platform's KMS keys for SSE-KMS (ADR 0014), managed by the platform admin under the REST
//! API: `POST /_api/v1/kms/keys` with JSON `{"id"?, "account"?, "description"?}` creates a key
//! (201; a random id unless one is given; `account`: the only account that may use it, else
//! every account), `GET /_api/v1/kms/keys` lists them. The key material never leaves the
//! gateway: it is generated here and stored only sealed under the SSE master key.

use bytes::Bytes;
use cloudstore_iam_api::{PrincipalKind, RequestMeta};
use cloudstore_store_api::{KmsKeyRecord, StoreError};
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use s3s::Body;
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::server::{ClientAddr, Frontend};

const MAX_BODY: usize = 4 * 1024;

/// Whether `path` is the KMS keys API.
#[must_use]
pub fn is_api_path(path: &str) -> bool {
    path == "/_api/v1/kms/keys"
}

/// What a key id may be: what AWS allows in key ids and aliases, at most 64 characters.
fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'/'))
        && !id.starts_with("arn:")
}

fn json_resp(status: u16, v: &Value) -> Response<Body> {
    let mut r = Response::new(Body::from(v.to_string()));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

fn error(status: u16, code: &str, message: &str) -> Response<Body> {
    json_resp(status, &json!({ "error": { "code": code, "message": message } }))
}

fn unavailable(e: &StoreError) -> Response<Body> {
    tracing::warn!(error = %e, "KMS keys: store failed");
    error(503, "ServiceUnavailable", "the metadata store is unavailable")
}

fn key_json(k: &KmsKeyRecord) -> Value {
    let created = k.created_at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default();
    json!({ "id": k.id, "account": k.account_id, "description": k.description, "created_at": created })
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateKey {
    id: Option<String>,
    account: Option<String>,
    description: Option<String>,
}

impl Frontend {
    /// Serves `/_api/v1/kms/keys`: the platform admin only.
    pub(crate) async fn kms_api(&self, req: Request<Body>, request_id: &str) -> Response<Body> {
        let (parts, body) = req.into_parts();
        let body = match http_body_util::BodyExt::collect(http_body_util::Limited::new(body, MAX_BODY)).await {
            Ok(c) => c.to_bytes(),
            Err(_) => return error(413, "RequestEntityTooLarge", "KMS requests are limited to 4 KiB"),
        };
        let meta = RequestMeta {
            source_ip: parts.extensions.get::<ClientAddr>().map(|a| a.0.ip().to_string()),
            user_agent: parts.headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).map(str::to_owned),
            request_id: request_id.to_owned(),
            secure: false,
        };
        let identity = match crate::analytics::caller(&self.api, &parts, &body, &meta).await {
            Ok(i) => i,
            Err(r) => return crate::analytics::from_api(r),
        };
        if identity.principal.kind == PrincipalKind::Anonymous {
            return error(401, "Unauthorized", "KMS keys are managed by the platform admin");
        }
        if identity.principal.kind != PrincipalKind::Admin {
            return error(403, "AccessDenied", "KMS keys are managed by the platform admin");
        }
        match parts.method {
            Method::POST => self.create_kms_key(&body, &identity.principal.arn).await,
            Method::GET => match self.meta.list_kms_keys().await {
                Ok(keys) => json_resp(200, &json!({ "keys": keys.iter().map(key_json).collect::<Vec<_>>() })),
                Err(e) => unavailable(&e),
            },
            _ => error(405, "MethodNotAllowed", "use POST or GET /_api/v1/kms/keys"),
        }
    }

    async fn create_kms_key(&self, body: &Bytes, admin: &str) -> Response<Body> {
        let req: CreateKey = if body.is_empty() {
            CreateKey { id: None, account: None, description: None }
        } else {
            match serde_json::from_slice(body) {
                Ok(r) => r,
                Err(e) => return error(400, "InvalidRequest", &format!("not a key request: {e}")),
            }
        };
        let id = req.id.unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        if !valid_id(&id) {
            return error(400, "InvalidRequest", "a key id is 1-64 of A-Z a-z 0-9 - _ . / and not an ARN");
        }
        let rec = KmsKeyRecord {
            sealed_material: self.sse.new_kms_key(&id),
            id,
            account_id: req.account.filter(|a| !a.is_empty()),
            description: req.description,
            created_at: OffsetDateTime::now_utc(),
        };
        match self.meta.create_kms_key(&rec).await {
            Ok(()) => {
                tracing::info!(kms_key = %rec.id, account = ?rec.account_id, %admin, "KMS key created");
                json_resp(201, &key_json(&rec))
            }
            Err(StoreError::Conflict) => error(409, "AlreadyExists", "a KMS key with this id exists"),
            Err(e) => unavailable(&e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_ids_are_checked() {
        assert!(valid_id("testkey-1"));
        assert!(valid_id("alias/backups"));
        assert!(!valid_id(""));
        assert!(!valid_id("arn:aws:kms:us-east-1:1:key/x"));
        assert!(!valid_id("a b"));
        assert!(!valid_id(&"x".repeat(65)));
    }
}

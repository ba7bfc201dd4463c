//! The account REST API under `/_api/v1/` (JSON in and out; errors as
//! `{"error": {"code": "...", "message": "..."}}`).
//!
//! | method and path | who | what |
//! |---|---|---|
//! | `POST /auth/register` | anyone | `{username, email?, password}` → 201 profile |
//! | `POST /auth/login` | anyone | `{username, password}` → tokens (rate-limited: 429 with `retry_after_secs`) |
//! | `POST /auth/refresh` | anyone | `{refresh_token}` → new tokens (rotating) |
//! | `POST /auth/logout` | session | ends this session → 204 |
//! | `GET /auth/sessions`, `DELETE /auth/sessions/{id}` | session | own sessions (and `login_lockouts`) |
//! | `GET`/`PATCH /users/me` | session | profile (`email`, `display_name`; GET adds `login_lockouts`) |
//! | `POST /users/me/password` | session | `{old_password, new_password}`; ends other sessions |
//! | `GET`/`POST /users/me/keys`, `PATCH`/`DELETE /users/me/keys/{id}` | session | access keys |
//! | `POST`/`GET /admin/accounts`, `DELETE /admin/accounts/{name}` | platform admin (SigV4) | accounts |

use cloudstore_events::EventType;

use crate::events::{Audit, by_user, event};
use cloudstore_iam_api::{ADMIN_ACCOUNT_ID, ApiResponse, RestRequest};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::service::IamService;
use crate::service::accounts::SessionUser;
use crate::service::keys::parse_status;

/// Largest JSON body accepted.
const MAX_BODY: usize = 64 * 1024;

fn respond(status: u16, body: &Value) -> ApiResponse {
    ApiResponse { status, content_type: "application/json".into(), body: body.to_string() }
}

/// The JSON error body for `e`.
pub fn error_response(e: &Error) -> ApiResponse {
    let code = match e {
        Error::Unauthenticated(_) => "Unauthorized",
        Error::RateLimited { .. } => "TooManyRequests",
        e => e.code(),
    };
    if matches!(e, Error::Internal(_) | Error::Unavailable(_)) {
        tracing::error!(error = %e, "account API failed");
    }
    let mut error = json!({ "code": code, "message": e.to_string() });
    // The gateway turns this into a `Retry-After` header.
    if let Error::RateLimited { retry_after_secs } = e {
        error["retry_after_secs"] = json!(retry_after_secs);
    }
    respond(e.status(), &json!({ "error": error }))
}

fn body<T: for<'de> Deserialize<'de>>(req: &RestRequest) -> Result<T> {
    if req.body.len() > MAX_BODY {
        return Err(Error::ValidationError("request body too large".into()));
    }
    serde_json::from_slice(&req.body).map_err(|e| Error::ValidationError(format!("invalid JSON body: {e}")))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RegisterBody {
    username: String,
    email: Option<String>,
    password: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginBody {
    username: String,
    password: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RefreshBody {
    refresh_token: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileBody {
    email: Option<String>,
    display_name: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PasswordBody {
    old_password: String,
    new_password: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyStatusBody {
    status: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AccountBody {
    name: String,
    email: Option<String>,
    password: Option<String>,
}

/// Serves one REST call.
pub async fn handle(svc: &IamService, req: RestRequest) -> ApiResponse {
    match route(svc, &req).await {
        Ok(r) => r,
        Err(e) => error_response(&e),
    }
}

async fn session(svc: &IamService, req: &RestRequest) -> Result<SessionUser> {
    let token =
        req.bearer.as_deref().ok_or_else(|| Error::Unauthenticated("a Bearer access token is required".into()))?;
    svc.authenticate_bearer(token).await
}

fn admin_only(req: &RestRequest) -> Result<()> {
    if req.admin { Ok(()) } else { Err(Error::AccessDenied("only the platform admin may manage accounts".into())) }
}

fn to_json<T: serde::Serialize>(v: &T) -> Result<Value> {
    serde_json::to_value(v).map_err(|e| Error::Internal(e.to_string()))
}

async fn route(svc: &IamService, req: &RestRequest) -> Result<ApiResponse> {
    let segments: Vec<&str> = req.path.trim_matches('/').split('/').collect();
    let method = req.method.as_str();
    match (method, segments.as_slice()) {
        ("POST", ["auth", "register"]) => {
            let b: RegisterBody = body(req)?;
            let profile = svc.register(&b.username, b.email.as_deref(), &b.password, &req.meta).await?;
            Ok(respond(201, &to_json(&profile)?))
        }
        ("POST", ["auth", "login"]) => {
            let b: LoginBody = body(req)?;
            match svc.login(&b.username, &b.password, &req.meta).await {
                Ok(tokens) => {
                    if let Ok(who) = svc.authenticate_bearer(&tokens.access_token).await {
                        svc.emit(vec![by_user(event(EventType::UserLoggedIn, &req.meta, 200), &who.user)]).await;
                    }
                    Ok(respond(200, &to_json(&tokens)?))
                }
                Err(e) => {
                    if svc.events_on() {
                        let mut ev = event(EventType::LoginFailed, &req.meta, e.status());
                        ev.detail.insert("username".into(), b.username.clone());
                        ev.detail.insert("reason".into(), e.code().to_owned());
                        // The account guessed at sees it (an unknown name belongs to nobody).
                        ev.account_id = svc.store().find_account(&b.username).await.ok().flatten().map(|a| a.id);
                        svc.emit(vec![ev]).await;
                    }
                    Err(e)
                }
            }
        }
        ("POST", ["auth", "refresh"]) => {
            let b: RefreshBody = body(req)?;
            Ok(respond(200, &to_json(&svc.refresh(&b.refresh_token).await?)?))
        }
        ("POST", ["auth", "logout"]) => {
            let who = session(svc, req).await?;
            svc.logout(&who).await?;
            let mut ev = by_user(event(EventType::SessionRevoked, &req.meta, 204), &who.user);
            ev.detail.insert("session_id".into(), who.session_id.clone());
            svc.emit(vec![ev]).await;
            Ok(respond(204, &Value::Null))
        }
        ("GET", ["auth", "sessions"]) => {
            let who = session(svc, req).await?;
            let lockouts = svc.login_lockouts(&who.user).await?;
            Ok(respond(
                200,
                &json!({ "sessions": to_json(&svc.list_sessions(&who).await?)?, "login_lockouts": to_json(&lockouts)? }),
            ))
        }
        ("DELETE", ["auth", "sessions", id]) => {
            let who = session(svc, req).await?;
            svc.revoke_session(&who, id).await?;
            let mut ev = by_user(event(EventType::SessionRevoked, &req.meta, 204), &who.user);
            ev.detail.insert("session_id".into(), (*id).to_owned());
            svc.emit(vec![ev]).await;
            Ok(respond(204, &Value::Null))
        }
        ("GET", ["users", "me"]) => {
            let who = session(svc, req).await?;
            let mut profile = to_json(&crate::service::accounts::Profile::from(&who.user))?;
            profile["login_lockouts"] = to_json(&svc.login_lockouts(&who.user).await?)?;
            Ok(respond(200, &profile))
        }
        ("PATCH", ["users", "me"]) => {
            let who = session(svc, req).await?;
            let b: ProfileBody = body(req)?;
            let profile = svc.update_profile(&who, b.email.as_deref(), b.display_name.as_deref(), &req.meta).await?;
            Ok(respond(200, &to_json(&profile)?))
        }
        ("POST", ["users", "me", "password"]) => {
            let who = session(svc, req).await?;
            let b: PasswordBody = body(req)?;
            let revoked = svc
                .password_authority()
                .change_password(&who.user.id, Some(&who.session_id), &b.old_password, &b.new_password, &req.meta)
                .await?;
            Ok(respond(200, &json!({ "revoked_sessions": revoked })))
        }
        ("GET", ["users", "me", "keys"]) => {
            let who = session(svc, req).await?;
            Ok(respond(200, &json!({ "keys": to_json(&svc.list_access_keys(&who.user).await?)? })))
        }
        ("POST", ["users", "me", "keys"]) => {
            let who = session(svc, req).await?;
            let audit = Audit::of(by_user(event(EventType::AccessKeyCreated, &req.meta, 201), &who.user));
            let key = svc.create_access_key(&who.user, audit).await?;
            Ok(respond(201, &to_json(&key)?))
        }
        ("PATCH", ["users", "me", "keys", id]) => {
            let who = session(svc, req).await?;
            let b: KeyStatusBody = body(req)?;
            let audit = Audit::of(by_user(event(EventType::AccessKeyUpdated, &req.meta, 204), &who.user));
            svc.set_access_key_status(&who.user, id, parse_status(&b.status)?, audit).await?;
            Ok(respond(204, &Value::Null))
        }
        ("POST", ["users", "me", "keys", id, "revoke-presigned"]) => {
            let who = session(svc, req).await?;
            let audit = Audit::of(by_user(event(EventType::AccessKeyUpdated, &req.meta, 200), &who.user));
            let at = svc.revoke_presigned(&who.user, Some(id), audit).await?;
            Ok(respond(200, &json!({ "access_key_id": id, "presigned_not_before": at })))
        }
        ("POST", ["users", "me", "revoke-presigned"]) => {
            let who = session(svc, req).await?;
            let audit = Audit::of(by_user(event(EventType::AccessKeyUpdated, &req.meta, 200), &who.user));
            let at = svc.revoke_presigned(&who.user, None, audit).await?;
            Ok(respond(200, &json!({ "presigned_not_before": at })))
        }
        ("DELETE", ["users", "me", "keys", id]) => {
            let who = session(svc, req).await?;
            let audit = Audit::of(by_user(event(EventType::AccessKeyDeleted, &req.meta, 204), &who.user));
            svc.delete_access_key(&who.user, id, audit).await?;
            Ok(respond(204, &Value::Null))
        }
        ("POST", ["admin", "accounts"]) => {
            admin_only(req)?;
            let b: AccountBody = body(req)?;
            let (profile, key) =
                svc.admin_create_account(&b.name, b.email.as_deref(), b.password.as_deref(), &req.meta).await?;
            Ok(respond(201, &json!({ "account": to_json(&profile)?, "access_key": to_json(&key)? })))
        }
        ("GET", ["admin", "accounts"]) => {
            admin_only(req)?;
            // `?email=`: the accounts whose root has that address (at most two; the gateway
            // resolves S3 ACL grants by e-mail with it).
            let email = form_urlencoded::parse(req.query.as_bytes()).find(|(k, _)| k == "email").map(|(_, v)| v);
            if let Some(email) = email {
                let list: Vec<Value> = svc
                    .store()
                    .roots_by_email(&email)
                    .await?
                    .into_iter()
                    .map(|u| json!({ "account_id": u.account_id, "name": u.name }))
                    .collect();
                return Ok(respond(200, &json!({ "accounts": list })));
            }
            let list: Vec<Value> = svc
                .store()
                .list_accounts()
                .await?
                .into_iter()
                .filter(|a| a.id != ADMIN_ACCOUNT_ID)
                .map(|a| json!({ "account_id": a.id, "name": a.name, "created_at": a.created_at }))
                .collect();
            Ok(respond(200, &json!({ "accounts": list })))
        }
        ("DELETE", ["admin", "accounts", name]) => {
            admin_only(req)?;
            svc.admin_delete_account(name, &req.meta).await?;
            Ok(respond(204, &Value::Null))
        }
        (_, ["auth" | "users" | "admin", ..]) => {
            Err(Error::InvalidAction(format!("{method} {} is not an API operation", req.path)))
        }
        _ => Ok(respond(404, &json!({ "error": { "code": "NotFound", "message": "no such API path" } }))),
    }
}

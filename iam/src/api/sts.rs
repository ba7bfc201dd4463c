//! The AWS STS Query API (Version 2011-06-15): GetCallerIdentity, GetSessionToken and
//! AssumeRole, answered in AWS's XML shapes so that `aws sts … --endpoint-url` works unmodified.

use cloudstore_iam_api::{ApiResponse, Caller, PrincipalKind, RequestMeta};

use super::query::{Params, request_context};
use super::xml::{self, Xml};
use crate::error::{Error, Result};
use crate::service::IamService;
use crate::service::sts::TempKeys;

/// The STS API's XML namespace.
pub const STS_NAMESPACE: &str = "https://sts.amazonaws.com/doc/2011-06-15/";
/// The STS API version this module speaks.
pub const STS_VERSION: &str = "2011-06-15";

/// The actions this module answers (also the response element names).
const ACTIONS: &[&str] = &["GetCallerIdentity", "GetSessionToken", "AssumeRole"];

/// Answers one STS Query API call by an authenticated caller.
pub async fn handle(
    svc: &IamService,
    caller: &Caller,
    params: Vec<(String, String)>,
    meta: &RequestMeta,
) -> ApiResponse {
    let params = Params::new(params);
    let requested = params.get("Action").unwrap_or_default();
    let Some(action) = ACTIONS.iter().copied().find(|a| *a == requested) else {
        let err = if requested.is_empty() {
            Error::InvalidAction("The request must contain the parameter Action.".into())
        } else {
            Error::InvalidAction(format!("Could not find operation {requested} for version {STS_VERSION}"))
        };
        return xml::error_response(STS_NAMESPACE, &err, &meta.request_id);
    };
    if matches!(caller.principal.kind, PrincipalKind::Anonymous | PrincipalKind::Service)
        || caller.principal.account_id.is_empty()
    {
        let err = Error::AccessDenied(format!("Anonymous callers are not authorized to perform: sts:{action}"));
        return xml::error_response(STS_NAMESPACE, &err, &meta.request_id);
    }
    let outcome = match action {
        "GetCallerIdentity" => Ok(get_caller_identity(caller)),
        "GetSessionToken" => get_session_token(svc, caller, &params).await,
        _ => assume_role(svc, caller, &params, meta).await,
    };
    match outcome {
        Ok(result) => xml::response(STS_NAMESPACE, action, Some(&result), &meta.request_id),
        Err(e) => {
            tracing::debug!(action, code = e.code(), error = %e, "STS call refused");
            xml::error_response(STS_NAMESPACE, &e, &meta.request_id)
        }
    }
}

/// `UserId` as AWS reports it: the account id for an account root (and the platform admin),
/// the unique id for an IAM user, `ROLEID:SESSION` for an assumed role.
fn caller_user_id(caller: &Caller) -> &str {
    let p = &caller.principal;
    match p.kind {
        PrincipalKind::Admin | PrincipalKind::AccountRoot => &p.account_id,
        _ => &p.user_id,
    }
}

fn get_caller_identity(caller: &Caller) -> String {
    let p = &caller.principal;
    let mut x = Xml::new();
    x.elem("Arn", &p.arn).elem("UserId", caller_user_id(caller)).elem("Account", &p.account_id);
    x.finish()
}

fn duration(params: &Params) -> Result<Option<i64>> {
    params.int("DurationSeconds")
}

fn write_credentials(x: &mut Xml, keys: &TempKeys) {
    x.open("Credentials")
        .elem("AccessKeyId", &keys.access_key_id)
        .elem("SecretAccessKey", &keys.secret_access_key)
        .elem("SessionToken", &keys.session_token)
        .date("Expiration", keys.expires_at)
        .close("Credentials");
}

async fn get_session_token(svc: &IamService, caller: &Caller, params: &Params) -> Result<String> {
    if params.get("SerialNumber").is_some() || params.get("TokenCode").is_some() {
        return Err(Error::ValidationError("MFA devices are not supported".into()));
    }
    let keys = svc.get_session_token(caller, duration(params)?).await?;
    tracing::info!(principal = %caller.principal.arn, access_key = %keys.access_key_id, "session token issued");
    let mut x = Xml::new();
    write_credentials(&mut x, &keys);
    Ok(x.finish())
}

async fn assume_role(svc: &IamService, caller: &Caller, params: &Params, meta: &RequestMeta) -> Result<String> {
    let role_arn = params.required("RoleArn")?;
    let session_name = params.required("RoleSessionName")?;
    let duration = duration(params)?;
    // Session policies would narrow the session; ignoring them would grant more than asked for.
    if params.get("Policy").is_some() || params.has_prefix("PolicyArns") {
        return Err(Error::ValidationError("session policies (Policy, PolicyArns) are not supported".into()));
    }
    let context = request_context(meta);
    let keys = svc.assume_role(caller, role_arn, session_name, duration, &context).await.map_err(|e| match e {
        // As AWS: an unknown role is indistinguishable from one the caller may not assume.
        Error::NoSuchEntity(_) => Error::AccessDenied(format!(
            "User: {} is not authorized to perform: sts:AssumeRole on resource: {role_arn}",
            caller.principal.arn
        )),
        e => e,
    })?;
    let (assumed_arn, assumed_id) = keys
        .assumed_role
        .clone()
        .ok_or_else(|| Error::Internal("AssumeRole returned no assumed-role identity".into()))?;
    tracing::info!(principal = %caller.principal.arn, role = %role_arn, access_key = %keys.access_key_id, "role assumed");
    let mut x = Xml::new();
    write_credentials(&mut x, &keys);
    x.open("AssumedRoleUser").elem("AssumedRoleId", &assumed_id).elem("Arn", &assumed_arn).close("AssumedRoleUser");
    Ok(x.finish())
}

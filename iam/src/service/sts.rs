//! STS: temporary credentials (GetSessionToken, AssumeRole) kept in the session store until
//! they expire, and their resolution for the gateway.

use cloudstore_iam_api::{Caller, KeyGrant, NamedPolicy, Principal, PrincipalKind};
use cloudstore_policy::{AuthzInput, Context, Policy, PolicyKind, PolicySource, Request};
use serde::{Deserialize, Serialize};

use super::{IamService, now, session_err};
use crate::error::{Error, Result};
use crate::ids;
use crate::session::TempCredential;
use crate::session::token::hash_secret;
use crate::store::{OwnerKind, Role};

/// Temporary credentials as handed to the caller.
#[derive(Clone)]
pub struct TempKeys {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: String,
    /// Unix seconds.
    pub expires_at: i64,
    /// For AssumeRole: the assumed-role ARN and id.
    pub assumed_role: Option<(String, String)>,
}

impl std::fmt::Debug for TempKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TempKeys").field("access_key_id", &self.access_key_id).finish_non_exhaustive()
    }
}

/// What a temporary credential stands for (stored as JSON next to it).
#[derive(Debug, Serialize, Deserialize)]
struct Holder {
    kind: String,
    arn: String,
    account_id: String,
    user_id: String,
    name: String,
    role_arn: Option<String>,
    /// Where the policies come from at use time: `user` or `role`, and its id.
    policy_owner: Option<(String, String)>,
}

fn kind_name(k: PrincipalKind) -> &'static str {
    match k {
        PrincipalKind::Admin => "admin",
        PrincipalKind::AccountRoot => "root",
        PrincipalKind::User => "user",
        PrincipalKind::AssumedRole => "assumed-role",
        PrincipalKind::Anonymous => "anonymous",
        PrincipalKind::Service => "service",
    }
}

fn kind_from(s: &str) -> Option<PrincipalKind> {
    Some(match s {
        "admin" => PrincipalKind::Admin,
        "root" => PrincipalKind::AccountRoot,
        "user" => PrincipalKind::User,
        "assumed-role" => PrincipalKind::AssumedRole,
        _ => return None,
    })
}

/// Role session names: 2-64 characters of `\w+=,.@-`.
fn validate_session_name(name: &str) -> Result<()> {
    let ok =
        (2..=64).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"_+=,.@-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(Error::ValidationError("RoleSessionName must be 2-64 characters of [\\w+=,.@-]".into()))
    }
}

/// Splits `arn:aws:iam::ACCOUNT:role/path/NAME` into (account, name).
pub fn parse_role_arn(arn: &str) -> Result<(String, String)> {
    let bad = || Error::ValidationError(format!("{arn:?} is not a role ARN"));
    let rest = arn.strip_prefix("arn:aws:iam::").ok_or_else(bad)?;
    let (account, resource) = rest.split_once(':').ok_or_else(bad)?;
    let path_and_name = resource.strip_prefix("role/").ok_or_else(bad)?;
    let name = path_and_name.rsplit('/').next().filter(|n| !n.is_empty()).ok_or_else(bad)?;
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    Ok((account.to_owned(), name.to_owned()))
}

/// The ARN of a role.
pub fn role_arn(role: &Role) -> String {
    format!("arn:aws:iam::{}:role{}{}", role.account_id, role.path, role.name)
}

impl IamService {
    fn ttl(&self, requested: Option<i64>, max: i64) -> Result<i64> {
        let secs = requested.unwrap_or(self.cfg.sts_default_ttl.as_secs() as i64);
        if !(900..=max).contains(&secs) {
            return Err(Error::ValidationError(format!("DurationSeconds must be between 900 and {max}")));
        }
        Ok(secs)
    }

    async fn issue(&self, holder: &Holder, ttl: i64) -> Result<TempKeys> {
        let access_key_id = ids::temp_access_key_id();
        let secret = ids::secret_key();
        let session_token = ids::session_token();
        let expires_at = now() + ttl;
        let cred = TempCredential {
            access_key_id: access_key_id.clone(),
            secret_access_key_sealed: self.keyring.seal(&secret)?,
            session_token_hash: hash_secret(&session_token),
            principal_json: serde_json::to_string(holder).map_err(|e| Error::Internal(e.to_string()))?,
            expires_at,
        };
        self.sessions.put_temp_credential(&cred).await.map_err(session_err)?;
        Ok(TempKeys { access_key_id, secret_access_key: secret, session_token, expires_at, assumed_role: None })
    }

    /// GetSessionToken: temporary credentials for the caller itself (not from temporary
    /// credentials, as in AWS).
    pub async fn get_session_token(&self, caller: &Caller, duration: Option<i64>) -> Result<TempKeys> {
        if caller.access_key.starts_with("ASIA") {
            return Err(Error::AccessDenied("Cannot call GetSessionToken with session credentials".into()));
        }
        let ttl = self.ttl(duration, self.cfg.sts_max_ttl.as_secs() as i64)?;
        let p = &caller.principal;
        let holder = Holder {
            kind: kind_name(p.kind).into(),
            arn: p.arn.clone(),
            account_id: p.account_id.clone(),
            user_id: p.user_id.clone(),
            name: p.name.clone(),
            role_arn: None,
            policy_owner: (p.kind == PrincipalKind::User).then(|| ("user".to_owned(), p.user_id.clone())),
        };
        self.issue(&holder, ttl).await
    }

    /// AssumeRole: the role's trust policy must allow the caller (and, across accounts, the
    /// caller's own policies too).
    pub async fn assume_role(
        &self,
        caller: &Caller,
        role_arn_param: &str,
        session_name: &str,
        duration: Option<i64>,
        context: &Context,
    ) -> Result<TempKeys> {
        validate_session_name(session_name)?;
        let (account, name) = parse_role_arn(role_arn_param)?;
        let role = self
            .store
            .find_role(&account, &name)
            .await?
            .ok_or_else(|| Error::NoSuchEntity(format!("The role with name {name} cannot be found.")))?;
        let arn = role_arn(&role);
        let trust = Policy::parse(&role.trust_policy, PolicyKind::Trust)
            .map_err(|e| Error::Internal(format!("stored trust policy does not parse: {e}")))?;
        let identity = NamedPolicy::parse_all(&caller.policies);
        let sources: Vec<PolicySource<'_>> =
            identity.iter().map(|(l, p)| PolicySource { label: l.as_str(), policy: p }).collect();
        let input = AuthzInput {
            request: Request { principal: &caller.principal, action: "sts:AssumeRole", resource: &arn, context },
            identity_policies: &sources,
            resource_policy: Some(PolicySource { label: "trust-policy", policy: &trust }),
            resource_owner: Some(&role.account_id),
        };
        let allowed = caller.principal.kind == PrincipalKind::Admin
            || (cloudstore_policy::authorize(&input).allowed && trust_names_caller(&trust, caller, &arn, context));
        if !allowed {
            return Err(Error::AccessDenied(format!(
                "User: {} is not authorized to perform: sts:AssumeRole on resource: {arn}",
                caller.principal.arn
            )));
        }
        let ttl = self.ttl(duration, role.max_session_secs)?;
        let assumed = format!("arn:aws:sts::{}:assumed-role/{}/{}", role.account_id, role.name, session_name);
        let holder = Holder {
            kind: "assumed-role".into(),
            arn: assumed.clone(),
            account_id: role.account_id.clone(),
            user_id: format!("{}:{}", role.id, session_name),
            name: session_name.to_owned(),
            role_arn: Some(arn),
            policy_owner: Some(("role".into(), role.id.clone())),
        };
        let mut keys = self.issue(&holder, ttl).await?;
        keys.assumed_role = Some((assumed, holder.user_id.clone()));
        Ok(keys)
    }

    /// Resolves temporary credentials; their policies are read at use time, so detaching a
    /// policy from the role or user takes effect for live sessions too. Expired ones resolve
    /// as well (while the session store keeps them), with `expires_at` in the past: the caller
    /// verifies the signature, then answers `ExpiredToken`.
    pub(crate) async fn temp_key_grant(&self, access_key: &str) -> Result<Option<KeyGrant>> {
        let Some(cred) = self.sessions.get_temp_credential(access_key).await.map_err(session_err)? else {
            return Ok(None);
        };
        let holder: Holder = serde_json::from_str(&cred.principal_json)
            .map_err(|e| Error::Internal(format!("temporary credential record: {e}")))?;
        let Some(kind) = kind_from(&holder.kind) else { return Ok(None) };
        // A user's revocation of presigned URLs covers its temporary credentials.
        let mut presigned_not_before = None;
        let policies = match &holder.policy_owner {
            Some((owner, id)) => {
                let kind = if owner == "role" { OwnerKind::Role } else { OwnerKind::User };
                // A deleted role or user ends its sessions.
                let exists = match kind {
                    OwnerKind::Role => match holder.role_arn.as_deref().map(parse_role_arn) {
                        Some(Ok((account, name))) => {
                            self.store.find_role(&account, &name).await?.is_some_and(|r| &r.id == id)
                        }
                        _ => false,
                    },
                    _ => match self.store.get_user(id).await? {
                        Some(user) => {
                            presigned_not_before = user.presigned_not_before;
                            true
                        }
                        None => false,
                    },
                };
                if !exists {
                    return Ok(None);
                }
                self.store
                    .effective_policies(kind, id)
                    .await?
                    .into_iter()
                    .map(|p| NamedPolicy { label: p.label, document: p.document })
                    .collect()
            }
            None => {
                // An account root's (or the admin's) credentials end with the account.
                let Some(root) = self.store.root_user(&holder.account_id).await? else { return Ok(None) };
                presigned_not_before = root.presigned_not_before;
                Vec::new()
            }
        };
        Ok(Some(KeyGrant {
            secret_key: self.keyring.open(&cred.secret_access_key_sealed)?,
            principal: Principal {
                kind,
                arn: holder.arn,
                account_id: holder.account_id,
                user_id: holder.user_id,
                name: holder.name,
                role_arn: holder.role_arn,
            },
            policies,
            session_token_hash: Some(cred.session_token_hash),
            expires_at: Some(cred.expires_at),
            presigned_not_before,
        }))
    }
}

/// Same account: a trust policy that names the caller (or its account) and allows is enough
/// together with `authorize`; this guards against a trust policy that allows nobody but whose
/// account-level check passed through identity policies alone.
fn trust_names_caller(trust: &Policy, caller: &Caller, resource: &str, context: &Context) -> bool {
    let sources = [PolicySource { label: "trust-policy", policy: trust }];
    let req = Request { principal: &caller.principal, action: "sts:AssumeRole", resource, context };
    matches!(cloudstore_policy::evaluate(&sources, &req), cloudstore_policy::Decision::Allow(_))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_arns() {
        assert_eq!(
            parse_role_arn("arn:aws:iam::123456789012:role/Deployer").expect("arn"),
            ("123456789012".into(), "Deployer".into())
        );
        assert_eq!(parse_role_arn("arn:aws:iam::123456789012:role/team/a/Deployer").expect("arn").1, "Deployer");
        for bad in
            ["", "arn:aws:iam::123:role/x", "arn:aws:iam::123456789012:user/x", "arn:aws:iam::123456789012:role/"]
        {
            assert!(parse_role_arn(bad).is_err(), "{bad}");
        }
    }
}

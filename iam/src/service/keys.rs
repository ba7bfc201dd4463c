//! Access keys: create (the secret is returned once), list, enable/disable, delete, and the
//! resolution the gateway asks for on a cache miss ([`IamService::key_grant`]).

use cloudstore_iam_api::{KeyGrant, NamedPolicy};
use serde::Serialize;

use super::{IamService, now, user_principal};
use crate::error::{Error, Result};
use crate::events::Audit;
use crate::ids;
use crate::store::{AccessKey, OwnerKind, User};

/// Recording "last used" at most this often per key (seconds).
const TOUCH_EVERY: i64 = 60;

/// A new key pair: the only time the secret is shown.
#[derive(Debug, Clone, Serialize)]
pub struct NewAccessKey {
    pub access_key_id: String,
    #[serde(rename = "secret_access_key")]
    pub secret: Secret,
    pub user_name: String,
    pub status: &'static str,
    pub created_at: i64,
}

/// A secret string whose `Debug` hides it (it still serializes: the caller is the owner).
#[derive(Clone, Serialize)]
#[serde(transparent)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// A key as listed (no secret).
#[derive(Debug, Clone, Serialize)]
pub struct KeyView {
    pub access_key_id: String,
    pub user_name: String,
    pub status: &'static str,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    /// Presigned URLs signed with this key at or before this time are refused (the key's own
    /// revocation; the user's is in its profile).
    pub presigned_not_before: Option<i64>,
}

pub(crate) fn status(active: bool) -> &'static str {
    if active { "Active" } else { "Inactive" }
}

/// `Active` / `Inactive` (as the IAM API spells them).
pub fn parse_status(s: &str) -> Result<bool> {
    match s {
        "Active" => Ok(true),
        "Inactive" => Ok(false),
        _ => Err(Error::ValidationError(format!("status must be Active or Inactive, not {s:?}"))),
    }
}

impl IamService {
    /// Creates a key pair for `user`. `LimitExceeded` beyond the per-user limit. `audit`'s
    /// event (with the new key's id) is written with the key.
    pub async fn create_access_key(&self, user: &User, audit: Audit) -> Result<NewAccessKey> {
        let existing = self.store.list_access_keys(&user.id).await?;
        if existing.len() >= self.cfg.max_keys_per_user {
            return Err(Error::LimitExceeded(format!(
                "Cannot exceed quota for AccessKeysPerUser: {}",
                self.cfg.max_keys_per_user
            )));
        }
        let secret = ids::secret_key();
        let key = AccessKey {
            id: ids::access_key_id(),
            user_id: user.id.clone(),
            account_id: user.account_id.clone(),
            secret_sealed: self.keyring.seal(&secret)?,
            active: true,
            created_at: now(),
            last_used_at: None,
            presigned_not_before: None,
        };
        let audit = audit.with("key_id", key.id.clone());
        self.store.create_access_key(&key, &self.audit_rows(&audit)).await?;
        tracing::info!(user_id = %user.id, access_key = %key.id, "access key created");
        Ok(NewAccessKey {
            access_key_id: key.id,
            secret: Secret(secret),
            user_name: user.name.clone(),
            status: "Active",
            created_at: key.created_at,
        })
    }

    /// The user's keys.
    pub async fn list_access_keys(&self, user: &User) -> Result<Vec<KeyView>> {
        Ok(self
            .store
            .list_access_keys(&user.id)
            .await?
            .into_iter()
            .map(|k| KeyView {
                access_key_id: k.id,
                user_name: user.name.clone(),
                status: status(k.active),
                created_at: k.created_at,
                last_used_at: k.last_used_at,
                presigned_not_before: k.presigned_not_before,
            })
            .collect())
    }

    /// Enables or disables one of the user's keys.
    pub async fn set_access_key_status(&self, user: &User, key_id: &str, active: bool, audit: Audit) -> Result<()> {
        let audit = audit.with("key_id", key_id).with("status", status(active));
        self.store.set_access_key_active(&user.id, key_id, active, &self.audit_rows(&audit)).await
    }

    /// Deletes one of the user's keys.
    pub async fn delete_access_key(&self, user: &User, key_id: &str, audit: Audit) -> Result<()> {
        let audit = audit.with("key_id", key_id);
        self.store.delete_access_key(&user.id, key_id, &self.audit_rows(&audit)).await
    }

    /// Revokes every presigned URL signed so far with one of the user's keys (`key_id`), or
    /// with any of its keys and temporary credentials. Gateways see it when their key cache
    /// refreshes (seconds). Answers the time URLs must be signed after (unix seconds).
    pub async fn revoke_presigned(&self, user: &User, key_id: Option<&str>, audit: Audit) -> Result<i64> {
        let at = now();
        let audit = match key_id {
            Some(k) => audit.with("key_id", k),
            None => audit.with("scope", "user"),
        };
        let audit = audit.with("presigned_not_before", at.to_string());
        self.store.revoke_presigned(&user.id, key_id, at, &self.audit_rows(&audit)).await?;
        tracing::info!(user_id = %user.id, access_key = key_id.unwrap_or("*"), "presigned URLs revoked");
        Ok(at)
    }

    /// Who signs with `access_key`: `None` when unknown, disabled, deleted or expired.
    pub async fn key_grant(&self, access_key: &str) -> Result<Option<KeyGrant>> {
        if access_key.starts_with("ASIA") {
            return self.temp_key_grant(access_key).await;
        }
        let Some(key) = self.store.get_access_key(access_key).await? else { return Ok(None) };
        if !key.active {
            return Ok(None);
        }
        let Some(user) = self.store.get_user(&key.user_id).await? else { return Ok(None) };
        let secret = self.keyring.open(&key.secret_sealed)?;
        let policies = self.user_policies(&user).await?;
        let t = now();
        if key.last_used_at.is_none_or(|last| t - last >= TOUCH_EVERY) {
            let store = self.store.clone();
            let id = key.id.clone();
            tokio::spawn(async move {
                if let Err(e) = store.touch_access_key(&id, t).await {
                    tracing::debug!(error = %e, "recording key use failed");
                }
            });
        }
        Ok(Some(KeyGrant {
            secret_key: secret,
            principal: user_principal(&user),
            policies,
            session_token_hash: None,
            expires_at: None,
            presigned_not_before: key.presigned_not_before.max(user.presigned_not_before),
        }))
    }

    /// The identity policies of a user (none for account roots: they need none).
    pub(crate) async fn user_policies(&self, user: &User) -> Result<Vec<NamedPolicy>> {
        if user.is_root {
            return Ok(Vec::new());
        }
        Ok(self
            .store
            .effective_policies(OwnerKind::User, &user.id)
            .await?
            .into_iter()
            .map(|p| NamedPolicy { label: p.label, document: p.document })
            .collect())
    }
}

impl IamService {
    /// The principal with this ARN (account root `arn:aws:iam::ACCOUNT:root` or user
    /// `arn:aws:iam::ACCOUNT:user/PATH/NAME`) and its identity policies.
    pub async fn principal_by_arn(
        &self,
        arn: &str,
    ) -> Result<Option<(cloudstore_iam_api::Principal, Vec<NamedPolicy>)>> {
        let Some(rest) = arn.strip_prefix("arn:aws:iam::") else { return Ok(None) };
        let Some((account, resource)) = rest.split_once(':') else { return Ok(None) };
        let user = if resource == "root" {
            self.store.root_user(account).await?
        } else if let Some(path_name) = resource.strip_prefix("user/") {
            let name = path_name.rsplit('/').next().unwrap_or_default();
            self.store.find_user(account, name).await?.filter(|u| !u.is_root)
        } else {
            None
        };
        let Some(user) = user else { return Ok(None) };
        let policies = self.user_policies(&user).await?;
        Ok(Some((user_principal(&user), policies)))
    }
}

//! The IAM service's use cases, independent of how they are reached (REST, Query API, gRPC).
//!
//! - [`accounts`]: registration, login, refresh, logout, sessions, profiles, passwords;
//! - [`keys`]: access keys and the key → principal resolution the gateway asks for;
//! - [`directory`]: IAM users, groups, roles and policies (the IAM Query API's model);
//! - [`authz`]: who may call which IAM action.

pub mod accounts;
pub mod authz;
pub mod directory;
pub mod keys;
pub mod sts;

use std::sync::Arc;
use std::time::Duration;

use cloudstore_iam_api::{ADMIN_ACCOUNT_ID, Principal, PrincipalKind};

use crate::crypto::Keyring;
use crate::error::{Error, Result};
use crate::session::limit::LoginLimiter;
use crate::session::{SessionError, SessionStore};
use crate::store::{Account, IamStore, User};

/// Lifetimes and names the service works with.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    /// Lifetime of a JWT access token.
    pub access_token_ttl: Duration,
    /// Lifetime of a web session (its refresh token).
    pub session_ttl: Duration,
    /// Most access keys one user may hold (AWS: 2; we allow more, as the issue asks for "several").
    pub max_keys_per_user: usize,
    /// Default and longest lifetime of STS credentials.
    pub sts_default_ttl: Duration,
    pub sts_max_ttl: Duration,
    /// Identity events into the event outbox (ADR 0006).
    pub events: bool,
}

impl Default for ServiceConfig {
    fn default() -> Self {
        Self {
            access_token_ttl: Duration::from_secs(15 * 60),
            session_ttl: Duration::from_secs(30 * 24 * 3600),
            max_keys_per_user: 10,
            sts_default_ttl: Duration::from_secs(3600),
            sts_max_ttl: Duration::from_secs(12 * 3600),
            events: false,
        }
    }
}

/// The IAM service.
#[derive(Debug, Clone)]
pub struct IamService {
    pub(crate) store: Arc<dyn IamStore>,
    pub(crate) sessions: Arc<dyn SessionStore>,
    pub(crate) keyring: Keyring,
    pub(crate) limiter: LoginLimiter,
    pub(crate) cfg: ServiceConfig,
    /// Where password changes go: the auth side over gRPC when the profile side runs apart;
    /// this same service when `None`.
    pub(crate) password_remote: Option<Arc<dyn PasswordAuthority>>,
}

/// The auth side of a password change (the profile side calls it; over gRPC when the two run
/// in different processes).
#[async_trait::async_trait]
pub trait PasswordAuthority: Send + Sync + std::fmt::Debug {
    /// Checks `old_password`, stores `new_password` and revokes every session of the user
    /// except `keep_session`; returns how many were revoked.
    async fn change_password(
        &self,
        user_id: &str,
        keep_session: Option<&str>,
        old_password: &str,
        new_password: &str,
        meta: &cloudstore_iam_api::RequestMeta,
    ) -> Result<u64>;
}

impl IamService {
    /// Wires the service and makes sure the platform admin's account exists.
    pub async fn new(
        store: Arc<dyn IamStore>,
        sessions: Arc<dyn SessionStore>,
        keyring: Keyring,
        cfg: ServiceConfig,
    ) -> Result<Self> {
        let limiter = LoginLimiter::new(sessions.clone());
        let svc = Self { store, sessions, keyring, limiter, cfg, password_remote: None };
        svc.ensure_admin_account().await?;
        Ok(svc)
    }

    /// Replaces the login limiter (tests use small limits).
    pub fn with_limiter(mut self, limiter: LoginLimiter) -> Self {
        self.limiter = limiter;
        self
    }

    /// Sends password changes to a remote auth side.
    pub fn with_password_authority(mut self, remote: Arc<dyn PasswordAuthority>) -> Self {
        self.password_remote = Some(remote);
        self
    }

    /// The auth side for password changes.
    pub fn password_authority(&self) -> &dyn PasswordAuthority {
        match &self.password_remote {
            Some(remote) => remote.as_ref(),
            None => self,
        }
    }

    /// The session store (web sessions and temporary credentials).
    pub fn sessions(&self) -> &Arc<dyn SessionStore> {
        &self.sessions
    }

    /// The identity store.
    pub fn store(&self) -> &Arc<dyn IamStore> {
        &self.store
    }

    async fn ensure_admin_account(&self) -> Result<()> {
        if self.store.get_account(ADMIN_ACCOUNT_ID).await?.is_some() {
            return Ok(());
        }
        let account = Account { id: ADMIN_ACCOUNT_ID.into(), name: "admin".into(), created_at: now() };
        let root = User {
            id: "AIDAPLATFORMADMIN0000".into(),
            account_id: ADMIN_ACCOUNT_ID.into(),
            name: "admin".into(),
            path: "/".into(),
            is_root: true,
            email: None,
            display_name: Some("Platform admin".into()),
            password_hash: None,
            created_at: now(),
            presigned_not_before: None,
        };
        match self.store.create_account(&account, &root, &[]).await {
            Ok(()) | Err(Error::EntityAlreadyExists(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Whether the identity database and the session store answer.
    pub async fn ready(&self) -> Result<()> {
        self.store.ping().await?;
        self.sessions.ping().await.map_err(session_err)
    }
}

/// Unix seconds now.
pub(crate) fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

pub(crate) fn session_err(e: SessionError) -> Error {
    Error::Unavailable(e.to_string())
}

/// The ARN of a user (`root` for an account's root user).
pub fn user_arn(user: &User) -> String {
    if user.is_root {
        format!("arn:aws:iam::{}:root", user.account_id)
    } else {
        format!("arn:aws:iam::{}:user{}{}", user.account_id, user.path, user.name)
    }
}

/// The principal a user acts as.
pub fn user_principal(user: &User) -> Principal {
    let kind = if user.account_id == ADMIN_ACCOUNT_ID && user.is_root {
        PrincipalKind::Admin
    } else if user.is_root {
        PrincipalKind::AccountRoot
    } else {
        PrincipalKind::User
    };
    Principal {
        kind,
        arn: user_arn(user),
        account_id: user.account_id.clone(),
        user_id: user.id.clone(),
        name: user.name.clone(),
        role_arn: None,
    }
}

//! Accounts and web sessions: register, login, refresh (rotating), logout, session lists,
//! profiles and password changes.

use std::net::{IpAddr, Ipv4Addr};

use cloudstore_events::EventType;
use cloudstore_iam_api::RequestMeta;
use serde::{Deserialize, Serialize};

use super::{IamService, now, session_err};
use crate::crypto;
use crate::error::{Error, Result};
use crate::events::{Audit, by_admin, by_user, event};
use crate::ids;
use crate::session::limit::{self, LimitError};
use crate::session::token::{self, AccessClaims};
use crate::session::{RotateOutcome, WebSession};
use crate::store::{Account, User};

/// What a successful login or refresh returns. `Debug` shows no token.
#[derive(Clone, Serialize)]
pub struct Tokens {
    pub access_token: String,
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    pub refresh_token: String,
    pub session_id: String,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens").field("session_id", &self.session_id).finish_non_exhaustive()
    }
}

/// A signed-in user, from a verified access token whose session is still alive.
#[derive(Debug, Clone)]
pub struct SessionUser {
    pub user: User,
    pub session_id: String,
}

/// A session as its owner sees it (no secrets).
#[derive(Debug, Clone, Serialize)]
pub struct SessionView {
    pub id: String,
    pub created_at: i64,
    pub last_used_at: i64,
    pub expires_at: i64,
    pub user_agent: Option<String>,
    pub source_ip: Option<String>,
    pub current: bool,
}

/// A failed-login lockout the account's owner is shown (`GET /users/me`, `GET
/// /auth/sessions`): someone guessed wrong passwords.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginLockout {
    /// When it began (unix seconds).
    pub at: i64,
    /// `address`: the address `source` made too many attempts and is refused for this account
    /// until `until`; `account`: failed logins from every address together passed the
    /// account's budget, so each login waits a little until `until` (none is refused).
    pub kind: String,
    /// The guessing address (IPv6: its /64), for `address` lockouts.
    pub source: Option<String>,
    /// When it ends (unix seconds).
    pub until: i64,
}

/// Lockouts shown to an owner: the newest this many, each for this long.
const LOCKOUTS_KEPT: usize = 20;
const LOCKOUTS_TTL: std::time::Duration = std::time::Duration::from_secs(30 * 24 * 3600);

fn lockouts_key(user_id: &str) -> String {
    format!("login-lockouts:{user_id}")
}

/// A user's profile.
#[derive(Debug, Clone, Serialize)]
pub struct Profile {
    pub user_id: String,
    pub account_id: String,
    pub username: String,
    pub arn: String,
    pub email: Option<String>,
    pub display_name: Option<String>,
    pub created_at: i64,
}

impl From<&User> for Profile {
    fn from(u: &User) -> Self {
        Self {
            user_id: u.id.clone(),
            account_id: u.account_id.clone(),
            username: u.name.clone(),
            arn: super::user_arn(u),
            email: u.email.clone(),
            display_name: u.display_name.clone(),
            created_at: u.created_at,
        }
    }
}

/// Account names: 3-64 characters of letters, digits and `_+=,.@-`, starting with a letter
/// or digit (IAM's user-name alphabet).
pub fn validate_username(name: &str) -> Result<()> {
    let ok_len = (3..=64).contains(&name.len());
    let ok_chars = name.bytes().all(|b| b.is_ascii_alphanumeric() || b"_+=,.@-".contains(&b));
    let ok_start = name.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric());
    if ok_len && ok_chars && ok_start {
        Ok(())
    } else {
        Err(Error::ValidationError(
            "username must be 3-64 characters of letters, digits and _+=,.@- and start with a letter or digit".into(),
        ))
    }
}

/// A plausible e-mail address (one `@`, a dot in the domain, no spaces, at most 254 bytes).
pub fn validate_email(email: &str) -> Result<()> {
    let ok = email.len() <= 254
        && !email.chars().any(char::is_whitespace)
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        });
    if ok { Ok(()) } else { Err(Error::ValidationError("email is not a valid address".into())) }
}

/// Password rules: 8-128 characters, at least one letter and one character that is not a
/// letter, and not containing the username.
pub fn validate_password(password: &str, username: &str) -> Result<()> {
    let n = password.chars().count();
    if !(8..=128).contains(&n) {
        return Err(Error::ValidationError("password must be 8 to 128 characters long".into()));
    }
    if !password.chars().any(char::is_alphabetic) || password.chars().all(char::is_alphabetic) {
        return Err(Error::ValidationError("password must contain at least one letter and one digit or symbol".into()));
    }
    if !username.is_empty() && password.to_lowercase().contains(&username.to_lowercase()) {
        return Err(Error::ValidationError("password must not contain the username".into()));
    }
    Ok(())
}

/// Password hashing runs at most this many at once (each takes 19 MiB and a core for ~50 ms):
/// a flood of logins or registrations queues instead of exhausting memory.
fn hashing_slots() -> &'static tokio::sync::Semaphore {
    static SLOTS: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    SLOTS.get_or_init(|| {
        tokio::sync::Semaphore::new(std::thread::available_parallelism().map_or(2, std::num::NonZero::get))
    })
}

async fn hash_blocking(password: String) -> Result<String> {
    let _slot = hashing_slots().acquire().await.map_err(|e| Error::Internal(format!("hashing slots: {e}")))?;
    tokio::task::spawn_blocking(move || crypto::hash_password(&password))
        .await
        .map_err(|e| Error::Internal(format!("hashing task: {e}")))?
}

async fn verify_blocking(password: String, hash: String) -> Result<bool> {
    let _slot = hashing_slots().acquire().await.map_err(|e| Error::Internal(format!("hashing slots: {e}")))?;
    tokio::task::spawn_blocking(move || crypto::verify_password(&password, &hash))
        .await
        .map_err(|e| Error::Internal(format!("hashing task: {e}")))
}

/// Registrations allowed per source address and hour.
const REGISTRATIONS_PER_IP_HOUR: u64 = 20;

fn limit_err(e: LimitError) -> Error {
    match e {
        LimitError::Limited { retry_after_secs, .. } => Error::RateLimited { retry_after_secs },
        LimitError::Store(e) => session_err(e),
    }
}

fn source_ip(meta: &RequestMeta) -> IpAddr {
    meta.source_ip.as_deref().and_then(|s| s.parse().ok()).unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
}

impl IamService {
    /// Creates an account and its root user with a password.
    pub async fn register(
        &self,
        username: &str,
        email: Option<&str>,
        password: &str,
        meta: &RequestMeta,
    ) -> Result<Profile> {
        let key = format!("register:{}", source_ip(meta));
        let count = self.sessions.hit(&key, std::time::Duration::from_secs(3600)).await.map_err(session_err)?;
        if count > REGISTRATIONS_PER_IP_HOUR {
            return Err(Error::RateLimited { retry_after_secs: 3600 });
        }
        validate_username(username)?;
        if let Some(e) = email {
            validate_email(e)?;
        }
        validate_password(password, username)?;
        let hash = hash_blocking(password.to_owned()).await?;
        let audit = |root: &User| Audit::of(by_user(event(EventType::UserRegistered, meta, 201), root));
        self.create_account_with_root(username, email, Some(hash), audit).await
    }

    /// Creates an account (platform admin or registration); the root user gets `password_hash`.
    /// The event `audit` makes of the new root user is written with the account.
    pub(crate) async fn create_account_with_root(
        &self,
        username: &str,
        email: Option<&str>,
        password_hash: Option<String>,
        audit: impl FnOnce(&User) -> Audit + Send,
    ) -> Result<Profile> {
        validate_username(username)?;
        let account = Account { id: ids::account_id(), name: username.to_owned(), created_at: now() };
        let root = User {
            id: ids::unique_id("AIDA"),
            account_id: account.id.clone(),
            name: username.to_owned(),
            path: "/".into(),
            is_root: true,
            email: email.map(str::to_owned),
            display_name: None,
            password_hash,
            created_at: now(),
            presigned_not_before: None,
        };
        let events = self.audit_rows(&audit(&root));
        self.store.create_account(&account, &root, &events).await.map_err(|e| match e {
            Error::EntityAlreadyExists(_) => Error::EntityAlreadyExists(format!("the username {username} is taken")),
            e => e,
        })?;
        tracing::info!(account_id = %account.id, "account created");
        Ok(Profile::from(&root))
    }

    /// Checks a password and opens a session. Failed attempts are rate-limited per account
    /// name and per source address; unknown names cost the same time as wrong passwords.
    ///
    /// A guesser's address is refused after five attempts at one account (that address only:
    /// the owner elsewhere still logs in); an account guessed at from many addresses is slowed,
    /// never locked. The owner is told of both ([`IamService::login_lockouts`]).
    pub async fn login(&self, username: &str, password: &str, meta: &RequestMeta) -> Result<Tokens> {
        let ip = source_ip(meta);
        if let Err(e) = self.limiter.attempt(username, ip).await {
            if let LimitError::Limited { retry_after_secs, newly_locked: true } = &e
                && let Some(u) = self.account_root(username).await?
            {
                self.tell_owner(&u, "address", Some(ip), *retry_after_secs).await;
            }
            return Err(limit_err(e));
        }
        let user = self.account_root(username).await?;
        let hash = user.as_ref().and_then(|u| u.password_hash.clone());
        let ok = verify_blocking(password.to_owned(), hash.clone().unwrap_or_else(|| crypto::dummy_hash().to_owned()))
            .await?
            && hash.is_some();
        let user = match user {
            Some(u) if ok => u,
            other => {
                if self.limiter.failed(username, ip).await.map_err(session_err)?
                    && let Some(u) = &other
                {
                    self.tell_owner(u, "account", None, self.limiter.limits().window.as_secs()).await;
                }
                return Err(Error::Unauthenticated("invalid username or password".into()));
            }
        };
        self.limiter.succeeded(username, ip).await.map_err(session_err)?;
        self.open_session(&user, meta).await
    }

    /// The root user of the account named `name`, if any.
    async fn account_root(&self, name: &str) -> Result<Option<User>> {
        match self.store.find_account(name).await? {
            Some(a) => self.store.root_user(&a.id).await,
            None => Ok(None),
        }
    }

    /// Records a lockout for `user`'s owner to see, and logs it (never the password tried).
    /// A failure to record is logged: the refusal stands either way.
    async fn tell_owner(&self, user: &User, kind: &str, ip: Option<IpAddr>, lasts_secs: u64) {
        let at = now();
        let source = ip.map(limit::address_label);
        if kind == "address" {
            tracing::warn!(
                account_id = %user.account_id,
                user_id = %user.id,
                source = source.as_deref().unwrap_or(""),
                lasts_secs,
                "too many failed logins from one address: that address is refused for this account"
            );
        } else {
            tracing::warn!(
                account_id = %user.account_id,
                user_id = %user.id,
                lasts_secs,
                "too many failed logins at this account from many addresses: its logins are slowed"
            );
        }
        let until = at.saturating_add(i64::try_from(lasts_secs).unwrap_or(i64::MAX));
        let notice = LoginLockout { at, kind: kind.to_owned(), source, until };
        let recorded = match serde_json::to_string(&notice) {
            Ok(entry) => self
                .sessions
                .push_recent(&lockouts_key(&user.id), &entry, LOCKOUTS_KEPT, LOCKOUTS_TTL)
                .await
                .map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        if let Err(e) = recorded {
            tracing::warn!(user_id = %user.id, error = %e, "recording a login lockout failed");
        }
    }

    /// The failed-login lockouts of the last 30 days (at most 20), newest first.
    pub async fn login_lockouts(&self, user: &User) -> Result<Vec<LoginLockout>> {
        let entries = self.sessions.recent(&lockouts_key(&user.id)).await.map_err(session_err)?;
        Ok(entries
            .iter()
            .filter_map(|e| match serde_json::from_str(e) {
                Ok(l) => Some(l),
                Err(err) => {
                    tracing::warn!(user_id = %user.id, error = %err, "unreadable login lockout record skipped");
                    None
                }
            })
            .collect())
    }

    async fn open_session(&self, user: &User, meta: &RequestMeta) -> Result<Tokens> {
        let id = token::new_session_id();
        let (refresh, refresh_hash) = token::new_refresh_token(&id);
        let t = now();
        let session = WebSession {
            id: id.clone(),
            user_id: user.id.clone(),
            account_id: user.account_id.clone(),
            created_at: t,
            expires_at: t + self.cfg.session_ttl.as_secs() as i64,
            last_used_at: t,
            refresh_hash,
            prev_refresh_hash: None,
            user_agent: meta.user_agent.clone(),
            source_ip: meta.source_ip.clone(),
        };
        self.sessions.create(&session).await.map_err(session_err)?;
        Ok(self.tokens_for(&session, refresh))
    }

    fn tokens_for(&self, session: &WebSession, refresh_token: String) -> Tokens {
        let t = now();
        let ttl = self.cfg.access_token_ttl.as_secs();
        let claims = AccessClaims {
            sub: session.user_id.clone(),
            acc: session.account_id.clone(),
            sid: session.id.clone(),
            iat: t,
            exp: t + ttl as i64,
        };
        Tokens {
            access_token: token::sign_access_token(&claims, self.keyring.jwt_key()),
            token_type: "Bearer",
            expires_in: ttl,
            refresh_token,
            session_id: session.id.clone(),
        }
    }

    /// Trades a refresh token for new tokens. Each refresh token works once: presenting a
    /// used one revokes the whole session (it may have been stolen).
    pub async fn refresh(&self, refresh_token: &str) -> Result<Tokens> {
        let dead = || Error::Unauthenticated("the refresh token is invalid, expired or already used".into());
        let (sid, presented) = token::parse_refresh_token(refresh_token).ok_or_else(dead)?;
        let (new_token, new_hash) = token::new_refresh_token(&sid);
        match self.sessions.rotate(&sid, &presented, &new_hash, now()).await.map_err(session_err)? {
            RotateOutcome::Rotated(session) => Ok(self.tokens_for(&session, new_token)),
            RotateOutcome::Reused => {
                tracing::warn!(session_id = %sid, "a used refresh token was presented; session revoked");
                Err(dead())
            }
            RotateOutcome::NotFound => Err(dead()),
        }
    }

    /// Verifies an access token and that its session is still alive (one session-store read,
    /// so a revoked session is refused at once everywhere).
    pub async fn authenticate_bearer(&self, access_token: &str) -> Result<SessionUser> {
        let claims = token::verify_access_token(access_token, self.keyring.jwt_key(), now())
            .map_err(|_| Error::Unauthenticated("the access token is invalid or expired".into()))?;
        let session = self.sessions.get(&claims.sid).await.map_err(session_err)?;
        let Some(session) = session.filter(|s| s.user_id == claims.sub) else {
            return Err(Error::Unauthenticated("the session has ended".into()));
        };
        let user = self
            .store
            .get_user(&claims.sub)
            .await?
            .ok_or_else(|| Error::Unauthenticated("the user no longer exists".into()))?;
        Ok(SessionUser { user, session_id: session.id })
    }

    /// Ends one session.
    pub async fn logout(&self, who: &SessionUser) -> Result<()> {
        self.sessions.revoke(&who.session_id).await.map_err(session_err)?;
        Ok(())
    }

    /// The user's live sessions.
    pub async fn list_sessions(&self, who: &SessionUser) -> Result<Vec<SessionView>> {
        let mut list: Vec<SessionView> = self
            .sessions
            .list_for_user(&who.user.id)
            .await
            .map_err(session_err)?
            .into_iter()
            .map(|s| SessionView {
                current: s.id == who.session_id,
                id: s.id,
                created_at: s.created_at,
                last_used_at: s.last_used_at,
                expires_at: s.expires_at,
                user_agent: s.user_agent,
                source_ip: s.source_ip,
            })
            .collect();
        list.sort_by(|a, b| b.created_at.cmp(&a.created_at).then_with(|| a.id.cmp(&b.id)));
        Ok(list)
    }

    /// Revokes one of the user's own sessions (`NoSuchEntity` for anyone else's).
    pub async fn revoke_session(&self, who: &SessionUser, session_id: &str) -> Result<()> {
        let mine = self.sessions.get(session_id).await.map_err(session_err)?.is_some_and(|s| s.user_id == who.user.id);
        if !mine {
            return Err(Error::NoSuchEntity("no such session".into()));
        }
        self.sessions.revoke(session_id).await.map_err(session_err)?;
        Ok(())
    }

    /// Updates e-mail and display name (`None` leaves a field as it is).
    pub async fn update_profile(
        &self,
        who: &SessionUser,
        email: Option<&str>,
        display_name: Option<&str>,
        meta: &RequestMeta,
    ) -> Result<Profile> {
        if let Some(e) = email {
            validate_email(e)?;
        }
        if display_name.is_some_and(|d| d.chars().count() > 128 || d.chars().any(char::is_control)) {
            return Err(Error::ValidationError("display_name must be at most 128 printable characters".into()));
        }
        let email = email.or(who.user.email.as_deref());
        let display_name = display_name.or(who.user.display_name.as_deref());
        let audit = Audit::of(by_user(event(EventType::ProfileUpdated, meta, 200), &who.user));
        self.store.update_profile(&who.user.id, email, display_name, &self.audit_rows(&audit)).await?;
        let user = self.store.get_user(&who.user.id).await?.ok_or_else(|| Error::NoSuchEntity("user".into()))?;
        Ok(Profile::from(&user))
    }

    /// The platform admin creates an account (optionally with a password) and its first key
    /// pair in one call. Both changes are events of the new account, by the platform admin.
    pub async fn admin_create_account(
        &self,
        name: &str,
        email: Option<&str>,
        password: Option<&str>,
        meta: &RequestMeta,
    ) -> Result<(Profile, super::keys::NewAccessKey)> {
        if let Some(e) = email {
            validate_email(e)?;
        }
        let hash = match password {
            Some(p) => {
                validate_password(p, name)?;
                Some(hash_blocking(p.to_owned()).await?)
            }
            None => None,
        };
        let by_admin = |t: EventType, status: u16, root: &User| {
            let mut e = by_admin(event(t, meta, status));
            e.account_id = Some(root.account_id.clone());
            Audit::of(e).with("user_name", root.name.clone())
        };
        let profile = self
            .create_account_with_root(name, email, hash, |root| by_admin(EventType::UserRegistered, 201, root))
            .await?;
        let root = self
            .store
            .get_user(&profile.user_id)
            .await?
            .ok_or_else(|| Error::Internal("the new root user vanished".into()))?;
        let key = self.create_access_key(&root, by_admin(EventType::AccessKeyCreated, 201, &root)).await?;
        Ok((profile, key))
    }

    /// The platform admin deletes an account with everything inside it (its buckets are the
    /// gateway's business). The event belongs to the deleted account.
    pub async fn admin_delete_account(&self, name: &str, meta: &RequestMeta) -> Result<()> {
        let account = self
            .store
            .find_account(name)
            .await?
            .filter(|a| a.id != cloudstore_iam_api::ADMIN_ACCOUNT_ID)
            .ok_or_else(|| Error::NoSuchEntity(format!("no account named {name}")))?;
        let mut e = by_admin(event(EventType::IdentityChanged, meta, 204));
        e.account_id = Some(account.id.clone());
        let audit = Audit::of(e).with("action", "DeleteAccount").with("account_name", account.name.clone());
        self.store.delete_account(&account.id, &self.audit_rows(&audit)).await?;
        tracing::info!(account_id = %account.id, "account deleted");
        Ok(())
    }

    /// The auth side of a password change: checks the old password, stores the new hash and
    /// revokes every other session of the user. Rate-limited like logins.
    pub async fn change_password_here(
        &self,
        user_id: &str,
        keep_session: Option<&str>,
        old_password: &str,
        new_password: &str,
        meta: &RequestMeta,
    ) -> Result<u64> {
        let user = self.store.get_user(user_id).await?.ok_or_else(|| Error::NoSuchEntity("user".into()))?;
        let ip = source_ip(meta);
        if let Err(e) = self.limiter.attempt(&user.name, ip).await {
            if let LimitError::Limited { retry_after_secs, newly_locked: true } = &e {
                self.tell_owner(&user, "address", Some(ip), *retry_after_secs).await;
            }
            return Err(limit_err(e));
        }
        let hash = user.password_hash.clone().unwrap_or_else(|| crypto::dummy_hash().to_owned());
        if !(verify_blocking(old_password.to_owned(), hash).await? && user.password_hash.is_some()) {
            if self.limiter.failed(&user.name, ip).await.map_err(session_err)? {
                self.tell_owner(&user, "account", None, self.limiter.limits().window.as_secs()).await;
            }
            return Err(Error::AccessDenied("the current password is wrong".into()));
        }
        self.limiter.succeeded(&user.name, ip).await.map_err(session_err)?;
        validate_password(new_password, &user.name)?;
        if old_password == new_password {
            return Err(Error::ValidationError("the new password must differ from the current one".into()));
        }
        let new_hash = hash_blocking(new_password.to_owned()).await?;
        let audit = Audit::of(by_user(event(EventType::PasswordChanged, meta, 200), &user));
        self.store.set_password(&user.id, &new_hash, &self.audit_rows(&audit)).await?;
        let revoked = self.sessions.revoke_all_for_user(&user.id, keep_session).await.map_err(session_err)?;
        tracing::info!(user_id = %user.id, revoked, "password changed");
        Ok(revoked)
    }
}

#[async_trait::async_trait]
impl super::PasswordAuthority for IamService {
    async fn change_password(
        &self,
        user_id: &str,
        keep_session: Option<&str>,
        old_password: &str,
        new_password: &str,
        meta: &RequestMeta,
    ) -> Result<u64> {
        self.change_password_here(user_id, keep_session, old_password, new_password, meta).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn username_rules() {
        for ok in ["alice", "a.b-c_d", "bob@example.com", "x12"] {
            assert!(validate_username(ok).is_ok(), "{ok}");
        }
        for bad in ["", "ab", "-alice", "al ice", "al/ice", "ålice", &"a".repeat(65)] {
            assert!(validate_username(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn password_rules() {
        assert!(validate_password("s3cret-enough", "alice").is_ok());
        assert!(validate_password("short1", "alice").is_err(), "too short");
        assert!(validate_password("onlyletters", "alice").is_err(), "letters only");
        assert!(validate_password("1234567890", "alice").is_err(), "no letter");
        assert!(validate_password("xxALICE2024", "alice").is_err(), "contains the username");
        assert!(validate_password(&"a1".repeat(65), "alice").is_err(), "too long");
    }

    #[test]
    fn email_rules() {
        assert!(validate_email("a@example.com").is_ok());
        for bad in ["", "a", "a@b", "@example.com", "a@@example.com", "a b@example.com", "a@example."] {
            assert!(validate_email(bad).is_err(), "{bad}");
        }
    }
}

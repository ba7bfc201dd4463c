//! Web sessions, temporary STS credentials, JWT access tokens and login rate
//! limiting.
//!
//! State lives behind the [`SessionStore`] trait, with two implementations:
//!
//! * [`MemorySessionStore`]: in-process, the embedded default (single node);
//! * [`RedisSessionStore`]: Redis via `fred`, for multi-node production
//!   deployments (standalone Redis; TLS and cluster mode are not compiled in).
//!
//! The stateless parts live in [`token`] (access/refresh tokens, hashing) and
//! [`limit`] (login rate limiting on top of a store).
//!
//! Times are unix seconds (`i64`) throughout.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

pub mod limit;
mod memory;
mod redis;
pub mod token;

#[cfg(test)]
mod conformance_tests;

pub use memory::MemorySessionStore;
pub use redis::RedisSessionStore;

/// A browser/console login session.
///
/// The session lives until `expires_at` (the end of the refresh-token
/// lifetime) unless it is revoked. Each refresh rotates the refresh secret; only
/// its SHA-256 hash is stored.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebSession {
    /// Session id (see [`token::new_session_id`]); also the `sid` claim of access tokens.
    pub id: String,
    /// The user this session belongs to.
    pub user_id: String,
    /// The account of that user.
    pub account_id: String,
    /// Creation time (unix seconds).
    pub created_at: i64,
    /// End of the refresh lifetime (unix seconds); the store forgets the session then.
    pub expires_at: i64,
    /// Time of the last successful refresh (unix seconds).
    pub last_used_at: i64,
    /// Hex SHA-256 of the current refresh secret.
    pub refresh_hash: String,
    /// The hash of the refresh secret before the last rotation: presenting it again means the
    /// token was replayed (and ends the session); any other wrong secret is just refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prev_refresh_hash: Option<String>,
    /// `User-Agent` of the client that logged in, if known.
    pub user_agent: Option<String>,
    /// Source IP of the client that logged in, if known.
    pub source_ip: Option<String>,
}

impl fmt::Debug for WebSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebSession")
            .field("id", &self.id)
            .field("user_id", &self.user_id)
            .field("account_id", &self.account_id)
            .field("created_at", &self.created_at)
            .field("expires_at", &self.expires_at)
            .field("last_used_at", &self.last_used_at)
            .field("refresh_hash", &"<redacted>")
            .field("prev_refresh_hash", &"<redacted>")
            .field("user_agent", &self.user_agent)
            .field("source_ip", &self.source_ip)
            .finish()
    }
}

/// Temporary credentials issued by STS (`AssumeRole`, `GetSessionToken`, ...).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TempCredential {
    /// Access key id, `ASIA...`.
    pub access_key_id: String,
    /// The secret access key, already encrypted by the caller; opaque here.
    pub secret_access_key_sealed: String,
    /// Hex SHA-256 of the session token.
    pub session_token_hash: String,
    /// The principal the credentials act as, serialized by the caller; opaque here.
    pub principal_json: String,
    /// Expiry (unix seconds); the store forgets the credential then.
    pub expires_at: i64,
}

impl fmt::Debug for TempCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TempCredential")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key_sealed", &"<redacted>")
            .field("session_token_hash", &"<redacted>")
            .field("principal_json", &self.principal_json)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// How long a temporary credential is kept after it expires (seconds): requests signed with
/// it meanwhile are answered `ExpiredToken`, as AWS answers them, rather than
/// `InvalidAccessKeyId` (which would send clients looking for a typo instead of new
/// credentials).
pub const EXPIRED_CREDENTIAL_KEPT: i64 = 24 * 3600;

/// Result of [`SessionStore::rotate`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RotateOutcome {
    /// The refresh secret matched and was replaced; the updated session.
    Rotated(WebSession),
    /// The presented refresh secret was not the current one (an old one, i.e.
    /// probable token theft): the session has been revoked as a precaution.
    Reused,
    /// Unknown, expired or revoked session.
    NotFound,
}

/// State of a fixed-window counter, see [`SessionStore::peek_hits`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HitCount {
    /// Hits counted in the current window (0 when no window is open).
    pub count: u64,
    /// Time until the current window closes (zero when no window is open).
    pub resets_in: Duration,
}

/// Errors of a [`SessionStore`]. Messages never contain secrets.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The backend failed or could not be reached.
    #[error("session store unavailable: {0}")]
    Unavailable(String),
    /// The backend holds a record that cannot be decoded.
    #[error("session store holds a corrupt record: {0}")]
    Corrupt(String),
}

/// Result type of this module.
pub type Result<T, E = SessionError> = std::result::Result<T, E>;

/// Storage for web sessions, temporary credentials and rate-limit counters.
///
/// Implementations must be safe to share between tasks and nodes: all
/// read-modify-write operations are atomic.
#[async_trait]
pub trait SessionStore: Send + Sync + fmt::Debug {
    /// Stores a new session (replacing one with the same id). It disappears by
    /// itself at `expires_at`; an already expired session is not stored.
    async fn create(&self, s: &WebSession) -> Result<()>;

    /// The live session with this id; `None` when unknown, expired or revoked.
    ///
    /// Called on every authenticated request: a single round trip.
    async fn get(&self, id: &str) -> Result<Option<WebSession>>;

    /// Atomic compare-and-swap of the refresh hash.
    ///
    /// If the stored hash equals `presented_refresh_hash`, it is replaced by
    /// `new_refresh_hash` and `last_used_at` is set to `now`
    /// ([`RotateOutcome::Rotated`]). Otherwise the session is deleted
    /// ([`RotateOutcome::Reused`]). Of concurrent rotations presenting the same
    /// secret exactly one succeeds (and the others then revoke the session).
    async fn rotate(
        &self,
        id: &str,
        presented_refresh_hash: &str,
        new_refresh_hash: &str,
        now: i64,
    ) -> Result<RotateOutcome>;

    /// Deletes a session; `true` if a live session was deleted.
    async fn revoke(&self, id: &str) -> Result<bool>;

    /// The live sessions of a user, oldest first.
    async fn list_for_user(&self, user_id: &str) -> Result<Vec<WebSession>>;

    /// Deletes all live sessions of a user except `except`; returns how many
    /// were deleted.
    async fn revoke_all_for_user(&self, user_id: &str, except: Option<&str>) -> Result<u64>;

    /// Stores temporary credentials until [`EXPIRED_CREDENTIAL_KEPT`] after their
    /// `expires_at` (replacing any with the same access key id); ones expired longer ago than
    /// that are not stored (and replace nothing but are removed).
    async fn put_temp_credential(&self, c: &TempCredential) -> Result<()>;

    /// The temporary credential with this access key id, expired ones included until they are
    /// forgotten ([`EXPIRED_CREDENTIAL_KEPT`] after `expires_at`): callers check `expires_at`.
    async fn get_temp_credential(&self, access_key_id: &str) -> Result<Option<TempCredential>>;

    /// Increments the fixed-window counter `key` and returns its count in the
    /// current window. The first hit opens a window of length `window`.
    async fn hit(&self, key: &str, window: Duration) -> Result<u64>;

    /// Reads the counter `key` without incrementing it.
    async fn peek_hits(&self, key: &str) -> Result<HitCount>;

    /// Resets the counter `key`.
    async fn clear_hits(&self, key: &str) -> Result<()>;

    /// Adds `entry` at the head of the short list `key` (newest first), keeps only its newest
    /// `keep` entries, and keeps the list for `ttl` after this push (e.g. the failed-login
    /// lockouts an account's owner is shown).
    async fn push_recent(&self, key: &str, entry: &str, keep: usize, ttl: Duration) -> Result<()>;

    /// The entries of the list `key`, newest first; empty when there is none (or it expired).
    async fn recent(&self, key: &str) -> Result<Vec<String>>;

    /// Checks that the backend is reachable (readiness probe).
    async fn ping(&self) -> Result<()>;
}

/// Current time, unix seconds.
pub(crate) fn unix_now() -> i64 {
    unix_now_ms().div_euclid(1000)
}

/// Current time, unix milliseconds.
pub(crate) fn unix_now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX)).unwrap_or(0)
}

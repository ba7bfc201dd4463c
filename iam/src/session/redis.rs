//! [`SessionStore`] on Redis (via `fred`), for multi-node deployments.
//!
//! Layout (values are JSON, `P` is the key prefix, `cloudstore:` by default):
//!
//! * `Psess:<id>`: a [`WebSession`], with a TTL ending at its `expires_at`;
//! * `Puser-sess:<user_id>`: set of the user's session ids, TTL of its
//!   longest-lived session; ids of dead sessions are removed lazily;
//! * `Ptmpcred:<access_key_id>`: a [`TempCredential`], TTL until `expires_at`;
//! * `Phits:<key>`: fixed-window counter (integer), TTL = window.
//!
//! Read-modify-write operations are Lua scripts (atomic on the server). Some
//! multi-key operations span hash slots, so Redis Cluster is not supported;
//! use a standalone server (with a replica/failover setup if needed).

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use fred::prelude::{
    Builder, ClientLike, Config, Error as FredError, KeysInterface, LuaInterface, Pool, ReconnectPolicy, SetsInterface,
    Value,
};
use fred::types::Expiration;

use super::{
    EXPIRED_CREDENTIAL_KEPT, HitCount, Result, RotateOutcome, SessionError, SessionStore, TempCredential, WebSession,
    unix_now, unix_now_ms,
};

/// Default key prefix.
const DEFAULT_PREFIX: &str = "cloudstore:";
/// Connections in the pool.
const POOL_SIZE: usize = 4;
/// Timeout of each command; a request fails with `Unavailable` rather than hang.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(3);
/// Timeout of establishing a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// KEYS: session, user set. ARGV: session JSON, TTL ms, session id.
const CREATE_LUA: &str = r"
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('SADD', KEYS[2], ARGV[3])
if redis.call('PTTL', KEYS[2]) < tonumber(ARGV[2]) then
  redis.call('PEXPIRE', KEYS[2], ARGV[2])
end
return 1
";

/// KEYS: session. ARGV: presented hash, new hash, now (unix seconds).
/// Returns {0} not found (or an unknown secret), {1, json} rotated, {2} the previous secret
/// presented again: reused (session deleted).
const ROTATE_LUA: &str = r"
local raw = redis.call('GET', KEYS[1])
if not raw then return {0} end
local ok, s = pcall(cjson.decode, raw)
if not ok or type(s) ~= 'table' or type(s.expires_at) ~= 'number' or type(s.refresh_hash) ~= 'string' then
  redis.call('DEL', KEYS[1])
  return {0}
end
local now = tonumber(ARGV[3])
if s.expires_at <= now then
  redis.call('DEL', KEYS[1])
  return {0}
end
if s.refresh_hash ~= ARGV[1] then
  if type(s.prev_refresh_hash) == 'string' and s.prev_refresh_hash == ARGV[1] then
    redis.call('DEL', KEYS[1])
    return {2}
  end
  return {0}
end
s.prev_refresh_hash = s.refresh_hash
s.refresh_hash = ARGV[2]
s.last_used_at = now
local out = cjson.encode(s)
redis.call('SET', KEYS[1], out, 'KEEPTTL')
return {1, out}
";

/// KEYS: counter. ARGV: window ms. Returns the new count.
const HIT_LUA: &str = r"
local c = redis.call('INCR', KEYS[1])
if c == 1 or redis.call('PTTL', KEYS[1]) < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
return c
";

/// KEYS: counter. Returns {count, pttl ms}.
const PEEK_LUA: &str = r"
local c = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
return {c, redis.call('PTTL', KEYS[1])}
";

/// KEYS: list. ARGV: entry, how many to keep, TTL ms.
const PUSH_RECENT_LUA: &str = r"
redis.call('LPUSH', KEYS[1], ARGV[1])
redis.call('LTRIM', KEYS[1], 0, tonumber(ARGV[2]) - 1)
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
";

/// KEYS: list. Returns its entries, newest first.
const RECENT_LUA: &str = "return redis.call('LRANGE', KEYS[1], 0, -1)";

/// A [`SessionStore`] on a standalone Redis server.
///
/// Connection failures at [`connect`](Self::connect) are errors; later
/// failures (server down, timeouts) surface as [`SessionError::Unavailable`]
/// while the client reconnects in the background.
pub struct RedisSessionStore {
    pool: Pool,
    sess: String,
    user_sess: String,
    tmpcred: String,
    hits: String,
    recent: String,
}

impl fmt::Debug for RedisSessionStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Deliberately no URL: it may hold a password.
        f.debug_struct("RedisSessionStore")
            .field("prefix", &self.sess.trim_end_matches("sess:"))
            .finish_non_exhaustive()
    }
}

fn unavailable(op: &str, e: FredError) -> SessionError {
    // fred errors carry a kind and a server message, never command arguments.
    SessionError::Unavailable(format!("redis {op}: {:?}: {}", e.kind(), e.details()))
}

fn decode<T: serde::de::DeserializeOwned>(what: &str, raw: &str) -> Result<T> {
    serde_json::from_str(raw).map_err(|e| SessionError::Corrupt(format!("{what}: {e}")))
}

fn encode<T: serde::Serialize>(what: &str, v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|e| SessionError::Corrupt(format!("{what}: {e}")))
}

/// Milliseconds from now until `expires_at` (unix seconds), if positive.
fn ttl_ms(expires_at: i64) -> Option<i64> {
    let ms = expires_at.saturating_mul(1000).saturating_sub(unix_now_ms());
    (ms > 0).then_some(ms)
}

fn duration_ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX).max(1)
}

impl RedisSessionStore {
    /// Connects to `url` (`redis://[user:password@]host[:port][/db]`) with the
    /// default key prefix `cloudstore:`.
    pub async fn connect(url: &str) -> Result<Self> {
        Self::connect_with_prefix(url, DEFAULT_PREFIX).await
    }

    /// Like [`connect`](Self::connect), with keys prefixed by `prefix` instead
    /// of `cloudstore:` (e.g. to share a server between deployments or tests).
    pub async fn connect_with_prefix(url: &str, prefix: &str) -> Result<Self> {
        // Error messages here never echo the URL: it may hold a password.
        let scheme = url.split_once("://").map(|(s, _)| s).unwrap_or("");
        if scheme != "redis" {
            return Err(SessionError::Unavailable(format!(
                "unsupported redis URL scheme {scheme:?}: only redis:// (standalone, no TLS) is supported"
            )));
        }
        let config = Config::from_url(url)
            .map_err(|e| SessionError::Unavailable(format!("invalid redis URL: {:?}", e.kind())))?;
        let pool = Builder::from_config(config)
            .with_connection_config(|c| {
                c.connection_timeout = CONNECT_TIMEOUT;
                c.internal_command_timeout = CONNECT_TIMEOUT;
            })
            .with_performance_config(|c| c.default_command_timeout = COMMAND_TIMEOUT)
            .set_policy(ReconnectPolicy::new_exponential(0, 100, 5_000, 2))
            .build_pool(POOL_SIZE)
            .map_err(|e| unavailable("configure", e))?;
        pool.init().await.map_err(|e| unavailable("connect", e))?;
        let store = Self {
            pool,
            sess: format!("{prefix}sess:"),
            user_sess: format!("{prefix}user-sess:"),
            tmpcred: format!("{prefix}tmpcred:"),
            hits: format!("{prefix}hits:"),
            recent: format!("{prefix}recent:"),
        };
        store.ping().await?;
        Ok(store)
    }

    /// Closes the connections. The store is unusable afterwards.
    pub async fn shutdown(&self) {
        if let Err(e) = self.pool.quit().await {
            tracing::debug!(error = %e, "closing redis session store");
        }
    }

    fn sess_key(&self, id: &str) -> String {
        format!("{}{id}", self.sess)
    }

    fn user_key(&self, user_id: &str) -> String {
        format!("{}{user_id}", self.user_sess)
    }

    /// Reads the live sessions among `ids`; returns them and the dead ids.
    async fn load_sessions(&self, ids: &[String]) -> Result<(Vec<WebSession>, Vec<String>)> {
        if ids.is_empty() {
            return Ok((Vec::new(), Vec::new()));
        }
        let keys: Vec<String> = ids.iter().map(|id| self.sess_key(id)).collect();
        let raws: Vec<Option<String>> = self.pool.mget(keys).await.map_err(|e| unavailable("mget", e))?;
        let now = unix_now();
        let mut live = Vec::new();
        let mut dead = Vec::new();
        for (id, raw) in ids.iter().zip(raws) {
            match raw.map(|r| decode::<WebSession>("session", &r)) {
                Some(Ok(s)) if s.expires_at > now => live.push(s),
                Some(Err(e)) => {
                    tracing::warn!(error = %e, "ignoring undecodable session record");
                    dead.push(id.clone());
                }
                _ => dead.push(id.clone()),
            }
        }
        Ok((live, dead))
    }
}

#[async_trait]
impl SessionStore for RedisSessionStore {
    async fn create(&self, s: &WebSession) -> Result<()> {
        let key = self.sess_key(&s.id);
        let Some(ttl) = ttl_ms(s.expires_at) else {
            let _: i64 = self.pool.del(key).await.map_err(|e| unavailable("del", e))?;
            return Ok(());
        };
        let json = encode("session", s)?;
        let _: i64 = self
            .pool
            .eval(CREATE_LUA, vec![key, self.user_key(&s.user_id)], vec![json, ttl.to_string(), s.id.clone()])
            .await
            .map_err(|e| unavailable("create session", e))?;
        Ok(())
    }

    async fn get(&self, id: &str) -> Result<Option<WebSession>> {
        let raw: Option<String> = self.pool.get(self.sess_key(id)).await.map_err(|e| unavailable("get", e))?;
        let Some(raw) = raw else { return Ok(None) };
        let s: WebSession = decode("session", &raw)?;
        Ok((s.expires_at > unix_now()).then_some(s))
    }

    async fn rotate(
        &self,
        id: &str,
        presented_refresh_hash: &str,
        new_refresh_hash: &str,
        now: i64,
    ) -> Result<RotateOutcome> {
        let reply: Vec<Value> = self
            .pool
            .eval(
                ROTATE_LUA,
                self.sess_key(id),
                vec![presented_refresh_hash.to_owned(), new_refresh_hash.to_owned(), now.to_string()],
            )
            .await
            .map_err(|e| unavailable("rotate session", e))?;
        let mut reply = reply.into_iter();
        match (reply.next().and_then(|v| v.as_i64()), reply.next()) {
            (Some(0), _) => Ok(RotateOutcome::NotFound),
            (Some(2), _) => Ok(RotateOutcome::Reused),
            (Some(1), Some(v)) => {
                let raw = v.as_string().ok_or_else(|| SessionError::Corrupt("rotate reply".into()))?;
                Ok(RotateOutcome::Rotated(decode("session", &raw)?))
            }
            _ => Err(SessionError::Corrupt("unexpected rotate reply".into())),
        }
    }

    async fn revoke(&self, id: &str) -> Result<bool> {
        // The id stays in the user's set until the next list/revoke_all.
        let n: i64 = self.pool.del(self.sess_key(id)).await.map_err(|e| unavailable("del", e))?;
        Ok(n > 0)
    }

    async fn list_for_user(&self, user_id: &str) -> Result<Vec<WebSession>> {
        let user_key = self.user_key(user_id);
        let ids: Vec<String> = self.pool.smembers(&user_key).await.map_err(|e| unavailable("smembers", e))?;
        let (mut live, dead) = self.load_sessions(&ids).await?;
        if !dead.is_empty() {
            let _: i64 = self.pool.srem(&user_key, dead).await.map_err(|e| unavailable("srem", e))?;
        }
        live.retain(|s| s.user_id == user_id);
        live.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(live)
    }

    async fn revoke_all_for_user(&self, user_id: &str, except: Option<&str>) -> Result<u64> {
        let user_key = self.user_key(user_id);
        let ids: Vec<String> = self.pool.smembers(&user_key).await.map_err(|e| unavailable("smembers", e))?;
        let doomed: Vec<String> = ids.into_iter().filter(|id| Some(id.as_str()) != except).collect();
        if doomed.is_empty() {
            return Ok(0);
        }
        let keys: Vec<String> = doomed.iter().map(|id| self.sess_key(id)).collect();
        let n: i64 = self.pool.del(keys).await.map_err(|e| unavailable("del", e))?;
        let _: i64 = self.pool.srem(&user_key, doomed).await.map_err(|e| unavailable("srem", e))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    async fn put_temp_credential(&self, c: &TempCredential) -> Result<()> {
        let key = format!("{}{}", self.tmpcred, c.access_key_id);
        let Some(ttl) = ttl_ms(c.expires_at.saturating_add(EXPIRED_CREDENTIAL_KEPT)) else {
            let _: i64 = self.pool.del(key).await.map_err(|e| unavailable("del", e))?;
            return Ok(());
        };
        let json = encode("temporary credential", c)?;
        let _: () = self
            .pool
            .set(key, json, Some(Expiration::PX(ttl)), None, false)
            .await
            .map_err(|e| unavailable("set", e))?;
        Ok(())
    }

    async fn get_temp_credential(&self, access_key_id: &str) -> Result<Option<TempCredential>> {
        let key = format!("{}{access_key_id}", self.tmpcred);
        let raw: Option<String> = self.pool.get(key).await.map_err(|e| unavailable("get", e))?;
        let Some(raw) = raw else { return Ok(None) };
        let c: TempCredential = decode("temporary credential", &raw)?;
        Ok((c.expires_at.saturating_add(EXPIRED_CREDENTIAL_KEPT) > unix_now()).then_some(c))
    }

    async fn hit(&self, key: &str, window: Duration) -> Result<u64> {
        let n: i64 = self
            .pool
            .eval(HIT_LUA, format!("{}{key}", self.hits), duration_ms(window).to_string())
            .await
            .map_err(|e| unavailable("hit", e))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    async fn peek_hits(&self, key: &str) -> Result<HitCount> {
        let (count, pttl): (i64, i64) = self
            .pool
            .eval(PEEK_LUA, format!("{}{key}", self.hits), None::<String>)
            .await
            .map_err(|e| unavailable("peek hits", e))?;
        if count <= 0 || pttl <= 0 {
            return Ok(HitCount::default());
        }
        Ok(HitCount {
            count: u64::try_from(count).unwrap_or(0),
            resets_in: Duration::from_millis(u64::try_from(pttl).unwrap_or(0)),
        })
    }

    async fn clear_hits(&self, key: &str) -> Result<()> {
        let _: i64 = self.pool.del(format!("{}{key}", self.hits)).await.map_err(|e| unavailable("del", e))?;
        Ok(())
    }

    async fn push_recent(&self, key: &str, entry: &str, keep: usize, ttl: Duration) -> Result<()> {
        if keep == 0 {
            return self
                .pool
                .del::<i64, _>(format!("{}{key}", self.recent))
                .await
                .map(drop)
                .map_err(|e| unavailable("del", e));
        }
        let _: i64 = self
            .pool
            .eval(
                PUSH_RECENT_LUA,
                format!("{}{key}", self.recent),
                vec![entry.to_owned(), keep.to_string(), duration_ms(ttl).to_string()],
            )
            .await
            .map_err(|e| unavailable("push recent", e))?;
        Ok(())
    }

    async fn recent(&self, key: &str) -> Result<Vec<String>> {
        self.pool
            .eval(RECENT_LUA, format!("{}{key}", self.recent), None::<String>)
            .await
            .map_err(|e| unavailable("recent", e))
    }

    async fn ping(&self) -> Result<()> {
        let _: String = self.pool.ping(None).await.map_err(|e| unavailable("ping", e))?;
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::super::conformance_tests::{redis_url, test_prefix};
    use super::super::token::new_session_id;
    use super::*;

    async fn store() -> RedisSessionStore {
        RedisSessionStore::connect_with_prefix(&redis_url(), &test_prefix()).await.unwrap()
    }

    fn session(user_id: &str, expires_at: i64) -> WebSession {
        WebSession {
            id: new_session_id(),
            user_id: user_id.to_owned(),
            account_id: "a".into(),
            created_at: unix_now(),
            expires_at,
            last_used_at: unix_now(),
            refresh_hash: "00".repeat(32),
            prev_refresh_hash: None,
            user_agent: None,
            source_ip: None,
        }
    }

    #[tokio::test]
    async fn connect_errors_are_reported_without_secrets() {
        for url in ["redis://user:s3cr3t@127.0.0.1:1", "rediss://user:s3cr3t@127.0.0.1:1", "s3cr3t", "redis://:s3cr3t@"]
        {
            match RedisSessionStore::connect(url).await {
                Ok(_) => panic!("connecting to {url} should fail"),
                Err(e) => assert!(!e.to_string().contains("s3cr3t"), "{e}"),
            }
        }
    }

    #[tokio::test]
    async fn key_layout_and_ttls() {
        let store = store().await;
        let now = unix_now();
        let s = session("u1", now + 600);
        store.create(&s).await.unwrap();
        let sess_ttl: i64 = store.pool.pttl(store.sess_key(&s.id)).await.unwrap();
        assert!(sess_ttl > 590_000 && sess_ttl <= 600_000, "{sess_ttl}");
        let set_ttl: i64 = store.pool.pttl(store.user_key("u1")).await.unwrap();
        assert!(set_ttl > 590_000 && set_ttl <= 600_000, "{set_ttl}");
        let raw: String = store.pool.get(store.sess_key(&s.id)).await.unwrap();
        assert_eq!(serde_json::from_str::<WebSession>(&raw).unwrap(), s);

        // The user set lives as long as the longest session.
        let long = session("u1", now + 1200);
        store.create(&long).await.unwrap();
        store.create(&session("u1", now + 60)).await.unwrap();
        let set_ttl: i64 = store.pool.pttl(store.user_key("u1")).await.unwrap();
        assert!(set_ttl > 1_190_000, "{set_ttl}");

        // Dead ids are cleaned from the set lazily.
        store.revoke(&s.id).await.unwrap();
        let members: Vec<String> = store.pool.smembers(store.user_key("u1")).await.unwrap();
        assert_eq!(members.len(), 3);
        assert_eq!(store.list_for_user("u1").await.unwrap().len(), 2);
        let members: Vec<String> = store.pool.smembers(store.user_key("u1")).await.unwrap();
        assert_eq!(members.len(), 2);

        let c = TempCredential {
            access_key_id: "ASIATEST".into(),
            secret_access_key_sealed: "x".into(),
            session_token_hash: "y".into(),
            principal_json: "{}".into(),
            expires_at: now + 300,
        };
        store.put_temp_credential(&c).await.unwrap();
        // Kept a day past its expiry (ExpiredToken answers meanwhile).
        let ttl: i64 = store.pool.pttl(format!("{}ASIATEST", store.tmpcred)).await.unwrap();
        let kept = (300 + EXPIRED_CREDENTIAL_KEPT) * 1000;
        assert!(ttl > kept - 10_000 && ttl <= kept, "{ttl}");

        store.push_recent("r", "e", 3, Duration::from_secs(40)).await.unwrap();
        let ttl: i64 = store.pool.pttl(format!("{}r", store.recent)).await.unwrap();
        assert!(ttl > 39_000 && ttl <= 40_000, "{ttl}");

        store.hit("k", Duration::from_secs(30)).await.unwrap();
        store.hit("k", Duration::from_secs(30)).await.unwrap();
        let ttl: i64 = store.pool.pttl(format!("{}k", store.hits)).await.unwrap();
        assert!(ttl > 29_000 && ttl <= 30_000, "{ttl}");
        store.shutdown().await;
    }

    #[tokio::test]
    async fn prefixes_isolate() {
        let (a, b) = (store().await, store().await);
        let s = session("u", unix_now() + 600);
        a.create(&s).await.unwrap();
        a.hit("k", Duration::from_secs(60)).await.unwrap();
        assert!(a.get(&s.id).await.unwrap().is_some());
        assert!(b.get(&s.id).await.unwrap().is_none());
        assert!(b.list_for_user("u").await.unwrap().is_empty());
        assert_eq!(b.peek_hits("k").await.unwrap().count, 0);
        assert_eq!(b.revoke_all_for_user("u", None).await.unwrap(), 0);
        assert!(a.get(&s.id).await.unwrap().is_some());
        assert!(format!("{a:?}").contains("cloudstore-test:"));
    }

    #[tokio::test]
    async fn corrupt_records() {
        let store = store().await;
        let id = new_session_id();
        let _: () = store.pool.set(store.sess_key(&id), "{not json", None, None, false).await.unwrap();
        assert!(matches!(store.get(&id).await, Err(SessionError::Corrupt(_))));
        assert_eq!(store.rotate(&id, "a", "b", unix_now()).await.unwrap(), RotateOutcome::NotFound);
        assert!(store.get(&id).await.unwrap().is_none());
    }
}

//! In-process [`SessionStore`], the embedded default.

use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use async_trait::async_trait;

use super::token::constant_time_eq;
use super::{
    EXPIRED_CREDENTIAL_KEPT, HitCount, Result, RotateOutcome, SessionStore, TempCredential, WebSession, unix_now,
};

/// Whether a temporary credential is past the time it is kept until.
fn forgotten(c: &TempCredential, now: i64) -> bool {
    c.expires_at.saturating_add(EXPIRED_CREDENTIAL_KEPT) <= now
}

/// Expired entries are swept at most this often (on the next operation).
const PRUNE_INTERVAL: Duration = Duration::from_secs(5);

/// A [`SessionStore`] kept in process memory (lost on restart, not shared
/// between nodes).
///
/// Expired entries are refused lazily and swept every few seconds (by the
/// next operation), so the store does not grow without bound.
pub struct MemorySessionStore {
    state: Mutex<State>,
}

struct State {
    sessions: HashMap<String, WebSession>,
    by_user: HashMap<String, HashSet<String>>,
    temp: HashMap<String, TempCredential>,
    hits: HashMap<String, Window>,
    /// Short lists: when each is forgotten, and its entries (newest first).
    recent: HashMap<String, (Instant, VecDeque<String>)>,
    next_prune: Instant,
}

struct Window {
    start: Instant,
    len: Duration,
    count: u64,
}

impl Window {
    fn is_open(&self, now: Instant) -> bool {
        now.duration_since(self.start) < self.len
    }
}

impl State {
    fn remove_session(&mut self, id: &str) -> Option<WebSession> {
        let s = self.sessions.remove(id)?;
        if let Some(ids) = self.by_user.get_mut(&s.user_id) {
            ids.remove(id);
            if ids.is_empty() {
                self.by_user.remove(&s.user_id);
            }
        }
        Some(s)
    }

    /// The session if live; removes it if expired.
    fn live_session(&mut self, id: &str, now: i64) -> Option<&mut WebSession> {
        let expired = self.sessions.get(id)?.expires_at <= now;
        if expired {
            self.remove_session(id);
            return None;
        }
        self.sessions.get_mut(id)
    }

    fn prune(&mut self, now: i64, instant: Instant) {
        let dead: Vec<String> = self.sessions.values().filter(|s| s.expires_at <= now).map(|s| s.id.clone()).collect();
        for id in dead {
            self.remove_session(&id);
        }
        self.temp.retain(|_, c| !forgotten(c, now));
        self.hits.retain(|_, w| w.is_open(instant));
        self.recent.retain(|_, (until, _)| *until > instant);
    }
}

impl MemorySessionStore {
    /// An empty store.
    pub fn new() -> Self {
        Self {
            state: Mutex::new(State {
                sessions: HashMap::new(),
                by_user: HashMap::new(),
                temp: HashMap::new(),
                hits: HashMap::new(),
                recent: HashMap::new(),
                next_prune: Instant::now() + PRUNE_INTERVAL,
            }),
        }
    }

    /// Locks the state, sweeping expired entries if [`PRUNE_INTERVAL`] has
    /// passed since the last sweep.
    fn lock(&self) -> MutexGuard<'_, State> {
        // The state stays consistent even if a holder panicked: every
        // operation completes its mutation before anything can panic.
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        if now >= st.next_prune {
            st.prune(unix_now(), now);
            st.next_prune = now + PRUNE_INTERVAL;
        }
        st
    }
}

impl Default for MemorySessionStore {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for MemorySessionStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("MemorySessionStore");
        match self.state.try_lock() {
            Ok(st) => d
                .field("sessions", &st.sessions.len())
                .field("temp_credentials", &st.temp.len())
                .field("counters", &st.hits.len()),
            Err(_) => d.field("state", &"<locked>"),
        };
        d.finish()
    }
}

#[async_trait]
impl SessionStore for MemorySessionStore {
    async fn create(&self, s: &WebSession) -> Result<()> {
        let mut st = self.lock();
        st.remove_session(&s.id);
        if s.expires_at <= unix_now() {
            return Ok(());
        }
        st.by_user.entry(s.user_id.clone()).or_default().insert(s.id.clone());
        st.sessions.insert(s.id.clone(), s.clone());
        Ok(())
    }

    async fn get(&self, id: &str) -> Result<Option<WebSession>> {
        Ok(self.lock().live_session(id, unix_now()).cloned())
    }

    async fn rotate(
        &self,
        id: &str,
        presented_refresh_hash: &str,
        new_refresh_hash: &str,
        now: i64,
    ) -> Result<RotateOutcome> {
        let mut st = self.lock();
        let Some(s) = st.live_session(id, now) else {
            return Ok(RotateOutcome::NotFound);
        };
        if constant_time_eq(&s.refresh_hash, presented_refresh_hash) {
            s.prev_refresh_hash = Some(std::mem::replace(&mut s.refresh_hash, new_refresh_hash.to_owned()));
            s.last_used_at = now;
            Ok(RotateOutcome::Rotated(s.clone()))
        } else if s.prev_refresh_hash.as_deref().is_some_and(|p| constant_time_eq(p, presented_refresh_hash)) {
            // The previous secret again: it was stolen or replayed; end the session.
            st.remove_session(id);
            Ok(RotateOutcome::Reused)
        } else {
            // An unknown secret proves nothing (anyone can learn a session id): ignore it.
            Ok(RotateOutcome::NotFound)
        }
    }

    async fn revoke(&self, id: &str) -> Result<bool> {
        let mut st = self.lock();
        let live = st.live_session(id, unix_now()).is_some();
        st.remove_session(id);
        Ok(live)
    }

    async fn list_for_user(&self, user_id: &str) -> Result<Vec<WebSession>> {
        let now = unix_now();
        let mut st = self.lock();
        let ids: Vec<String> = st.by_user.get(user_id).map(|ids| ids.iter().cloned().collect()).unwrap_or_default();
        let mut out: Vec<WebSession> =
            ids.iter().filter_map(|id| st.live_session(id, now).map(|s| s.clone())).collect();
        out.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(out)
    }

    async fn revoke_all_for_user(&self, user_id: &str, except: Option<&str>) -> Result<u64> {
        let now = unix_now();
        let mut st = self.lock();
        let ids: Vec<String> = st.by_user.get(user_id).map(|ids| ids.iter().cloned().collect()).unwrap_or_default();
        let mut n = 0;
        for id in ids.iter().filter(|id| Some(id.as_str()) != except) {
            if st.remove_session(id).is_some_and(|s| s.expires_at > now) {
                n += 1;
            }
        }
        Ok(n)
    }

    async fn put_temp_credential(&self, c: &TempCredential) -> Result<()> {
        let mut st = self.lock();
        if forgotten(c, unix_now()) {
            st.temp.remove(&c.access_key_id);
        } else {
            st.temp.insert(c.access_key_id.clone(), c.clone());
        }
        Ok(())
    }

    async fn get_temp_credential(&self, access_key_id: &str) -> Result<Option<TempCredential>> {
        let mut st = self.lock();
        let Some(c) = st.temp.get(access_key_id) else {
            return Ok(None);
        };
        if !forgotten(c, unix_now()) {
            return Ok(Some(c.clone()));
        }
        st.temp.remove(access_key_id);
        Ok(None)
    }

    async fn hit(&self, key: &str, window: Duration) -> Result<u64> {
        let now = Instant::now();
        let mut st = self.lock();
        let w = st.hits.entry(key.to_owned()).or_insert(Window { start: now, len: window, count: 0 });
        if !w.is_open(now) {
            *w = Window { start: now, len: window, count: 0 };
        }
        w.count = w.count.saturating_add(1);
        Ok(w.count)
    }

    async fn peek_hits(&self, key: &str) -> Result<HitCount> {
        let now = Instant::now();
        let st = self.lock();
        Ok(match st.hits.get(key) {
            Some(w) if w.is_open(now) => {
                HitCount { count: w.count, resets_in: w.len.saturating_sub(now.duration_since(w.start)) }
            }
            _ => HitCount::default(),
        })
    }

    async fn clear_hits(&self, key: &str) -> Result<()> {
        self.lock().hits.remove(key);
        Ok(())
    }

    async fn push_recent(&self, key: &str, entry: &str, keep: usize, ttl: Duration) -> Result<()> {
        let now = Instant::now();
        let mut st = self.lock();
        let (until, list) = st.recent.entry(key.to_owned()).or_insert_with(|| (now, VecDeque::new()));
        if *until <= now {
            list.clear();
        }
        *until = now + ttl;
        list.push_front(entry.to_owned());
        list.truncate(keep);
        Ok(())
    }

    async fn recent(&self, key: &str) -> Result<Vec<String>> {
        let st = self.lock();
        Ok(st
            .recent
            .get(key)
            .filter(|(until, _)| *until > Instant::now())
            .map(|(_, list)| list.iter().cloned().collect())
            .unwrap_or_default())
    }

    async fn ping(&self) -> Result<()> {
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn session(id: &str, user: &str, expires_at: i64) -> WebSession {
        WebSession {
            id: id.into(),
            user_id: user.into(),
            account_id: "acct".into(),
            created_at: 0,
            expires_at,
            last_used_at: 0,
            refresh_hash: "h".into(),
            prev_refresh_hash: None,
            user_agent: None,
            source_ip: None,
        }
    }

    #[tokio::test]
    async fn prunes_expired_entries() {
        let store = MemorySessionStore::new();
        let now = unix_now();
        {
            // Plant already-expired entries directly, as if time had passed.
            let mut st = store.lock();
            for i in 0..100 {
                let id = format!("old{i}");
                st.by_user.entry("u".into()).or_default().insert(id.clone());
                st.sessions.insert(id.clone(), session(&id, "u", now - 1));
                st.temp.insert(
                    id.clone(),
                    TempCredential {
                        access_key_id: id.clone(),
                        secret_access_key_sealed: String::new(),
                        session_token_hash: String::new(),
                        principal_json: String::new(),
                        // Half expired a moment ago (kept, for ExpiredToken), half long ago.
                        expires_at: if i % 2 == 0 { now - 1 } else { now - EXPIRED_CREDENTIAL_KEPT - 1 },
                    },
                );
                st.recent.insert(id.clone(), (Instant::now(), VecDeque::from(["x".to_owned()])));
                st.hits.insert(id, Window { start: Instant::now(), len: Duration::ZERO, count: 1 });
            }
        }
        let live = session("live", "u", now + 3600);
        store.create(&live).await.unwrap();
        // Not yet due: nothing swept.
        assert_eq!(store.lock().sessions.len(), 101);
        store.lock().next_prune = Instant::now();
        let st = store.lock();
        assert_eq!(st.sessions.len(), 1);
        assert_eq!(st.by_user.get("u").map(HashSet::len), Some(1));
        assert_eq!(st.temp.len(), 50);
        assert!(st.temp.values().all(|c| c.expires_at == now - 1));
        assert!(st.recent.is_empty());
        assert!(st.hits.is_empty());
    }

    #[test]
    fn debug_does_not_leak() {
        let s = session("id", "u", 1);
        let text = format!("{s:?}");
        assert!(!text.contains("refresh_hash: \"h\""));
        assert!(format!("{:?}", MemorySessionStore::new()).contains("sessions"));
    }
}

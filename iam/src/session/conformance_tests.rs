//! Conformance suite for [`SessionStore`] implementations, run against both
//! the memory store and a real Redis (`CLOUDSTORE_TEST_REDIS_URL`, required).

#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use super::token::{hash_secret, new_refresh_token, new_session_id};
use super::{
    EXPIRED_CREDENTIAL_KEPT, MemorySessionStore, RedisSessionStore, RotateOutcome, SessionStore, TempCredential,
    WebSession, unix_now,
};

type Store = Arc<dyn SessionStore>;

/// Longer than one second: expiries are whole seconds (Redis TTL, `i64` times).
const PAST_EXPIRY: Duration = Duration::from_millis(1600);

pub(super) fn memory_store() -> Store {
    Arc::new(MemorySessionStore::new())
}

/// The Redis server of the test run: required, never skipped.
pub(super) fn redis_url() -> String {
    match std::env::var("CLOUDSTORE_TEST_REDIS_URL") {
        Ok(url) if !url.is_empty() => url,
        _ => panic!(
            "CLOUDSTORE_TEST_REDIS_URL is not set: the Redis session store tests need a real Redis server \
             (e.g. redis-server --port 56390 --save '' --appendonly no, then \
             CLOUDSTORE_TEST_REDIS_URL=redis://127.0.0.1:56390)"
        ),
    }
}

/// A unique key prefix, so that parallel tests and runs never collide.
pub(super) fn test_prefix() -> String {
    format!("cloudstore-test:{}:", new_session_id())
}

async fn redis_store() -> Store {
    let url = redis_url();
    match RedisSessionStore::connect_with_prefix(&url, &test_prefix()).await {
        Ok(s) => Arc::new(s),
        Err(e) => panic!("cannot connect to CLOUDSTORE_TEST_REDIS_URL: {e}"),
    }
}

fn session(user_id: &str, created_at: i64, expires_at: i64) -> (WebSession, String) {
    let id = new_session_id();
    let (token, hash) = new_refresh_token(&id);
    let s = WebSession {
        id,
        user_id: user_id.to_owned(),
        account_id: "123456789012".to_owned(),
        created_at,
        expires_at,
        last_used_at: created_at,
        refresh_hash: hash,
        prev_refresh_hash: None,
        // Exercises JSON round trips through Lua's cjson (slashes, quotes, unicode).
        user_agent: Some("Mozilla/5.0 (X11; Linux x86_64) \"quoted\" ünïcødé — ✓".to_owned()),
        source_ip: None,
    };
    (s, token)
}

fn temp_credential(expires_at: i64) -> TempCredential {
    TempCredential {
        access_key_id: format!("ASIA{}", &new_session_id()[..16].to_uppercase()),
        secret_access_key_sealed: "sealed:opaque/+=".to_owned(),
        session_token_hash: hash_secret("session token"),
        principal_json: r#"{"arn":"arn:aws:sts::123456789012:assumed-role/r/s","tags":{"a":"b"}}"#.to_owned(),
        expires_at,
    }
}

fn user() -> String {
    format!("user-{}", new_session_id())
}

async fn create_get_expire(store: Store) {
    let now = unix_now();
    let (s, _) = session(&user(), now, now + 600);
    store.create(&s).await.unwrap();
    assert_eq!(store.get(&s.id).await.unwrap(), Some(s.clone()));
    assert_eq!(store.get(&new_session_id()).await.unwrap(), None);
    assert_eq!(store.get("").await.unwrap(), None);

    // Re-creating replaces.
    let mut s2 = s.clone();
    s2.source_ip = Some("192.0.2.1".into());
    store.create(&s2).await.unwrap();
    assert_eq!(store.get(&s.id).await.unwrap(), Some(s2));

    // Already expired: not stored.
    let (dead, _) = session(&user(), now - 10, now - 1);
    store.create(&dead).await.unwrap();
    assert_eq!(store.get(&dead.id).await.unwrap(), None);

    // Short-lived: there, then gone by itself (also from the user's list).
    let now = unix_now();
    let (short, _) = session(&user(), now, now + 1);
    store.create(&short).await.unwrap();
    assert_eq!(store.get(&short.id).await.unwrap().map(|s| s.id), Some(short.id.clone()));
    tokio::time::sleep(PAST_EXPIRY).await;
    assert_eq!(store.get(&short.id).await.unwrap(), None);
    assert!(store.list_for_user(&short.user_id).await.unwrap().is_empty());
    assert!(!store.revoke(&short.id).await.unwrap());
    assert_eq!(store.get(&s.id).await.unwrap().map(|s| s.id), Some(s.id.clone()));
}

async fn rotate(store: Store) {
    let now = unix_now();
    let (s, token) = session(&user(), now - 100, now + 600);
    store.create(&s).await.unwrap();
    let (sid, presented) = super::token::parse_refresh_token(&token).unwrap();
    assert_eq!(sid, s.id);

    // Success: hash replaced, last_used_at set, everything else kept.
    let (_, h1) = new_refresh_token(&s.id);
    let rotated = match store.rotate(&s.id, &presented, &h1, now).await.unwrap() {
        RotateOutcome::Rotated(r) => r,
        other => panic!("expected Rotated, got {other:?}"),
    };
    let mut expected = s.clone();
    expected.refresh_hash = h1.clone();
    expected.prev_refresh_hash = Some(presented.clone());
    expected.last_used_at = now;
    assert_eq!(rotated, expected);
    assert_eq!(store.get(&s.id).await.unwrap(), Some(expected.clone()));

    // The new secret rotates again.
    let (_, h2) = new_refresh_token(&s.id);
    match store.rotate(&s.id, &h1, &h2, now + 1).await.unwrap() {
        RotateOutcome::Rotated(r) => assert_eq!((r.refresh_hash, r.last_used_at), (h2.clone(), now + 1)),
        other => panic!("expected Rotated, got {other:?}"),
    }

    // A secret that was never this session's: refused, and the session lives on (anyone can
    // learn a session id; that must not let them end the session).
    let (_, h3) = new_refresh_token(&s.id);
    let (_, stranger) = new_refresh_token(&s.id);
    assert_eq!(store.rotate(&s.id, &stranger, &h3, now + 2).await.unwrap(), RotateOutcome::NotFound);
    assert!(store.get(&s.id).await.unwrap().is_some(), "an unknown secret ended the session");

    // Presenting the previous secret again: reuse, the session is revoked.
    assert_eq!(store.rotate(&s.id, &h1, &h3, now + 2).await.unwrap(), RotateOutcome::Reused);
    assert_eq!(store.get(&s.id).await.unwrap(), None);
    assert!(store.list_for_user(&s.user_id).await.unwrap().is_empty());
    // ... and the legitimate current secret no longer works either.
    assert_eq!(store.rotate(&s.id, &h2, &h3, now + 3).await.unwrap(), RotateOutcome::NotFound);

    // Unknown session.
    assert_eq!(store.rotate(&new_session_id(), &h1, &h2, now).await.unwrap(), RotateOutcome::NotFound);

    // Expired as of `now` (the store may still hold it): not found.
    let (s, _) = session(&user(), now, now + 600);
    store.create(&s).await.unwrap();
    assert_eq!(store.rotate(&s.id, &s.refresh_hash, &h1, now + 600).await.unwrap(), RotateOutcome::NotFound);
    assert_eq!(store.get(&s.id).await.unwrap(), None);

    // Rotation keeps the expiry.
    let now = unix_now();
    let (s, _) = session(&user(), now, now + 1);
    store.create(&s).await.unwrap();
    assert!(matches!(store.rotate(&s.id, &s.refresh_hash, &h1, now).await.unwrap(), RotateOutcome::Rotated(_)));
    tokio::time::sleep(PAST_EXPIRY).await;
    assert_eq!(store.get(&s.id).await.unwrap(), None);
    assert_eq!(store.rotate(&s.id, &h1, &h2, unix_now()).await.unwrap(), RotateOutcome::NotFound);
}

async fn concurrent_rotate(store: Store) {
    for _round in 0..3 {
        let now = unix_now();
        let (s, _) = session(&user(), now, now + 600);
        store.create(&s).await.unwrap();
        let tasks: Vec<_> = (0..16)
            .map(|_| {
                let store = Arc::clone(&store);
                let (id, presented) = (s.id.clone(), s.refresh_hash.clone());
                tokio::spawn(async move {
                    let (_, new_hash) = new_refresh_token(&id);
                    store.rotate(&id, &presented, &new_hash, now).await.unwrap()
                })
            })
            .collect();
        let mut rotated = 0;
        for t in tasks {
            match t.await.unwrap() {
                RotateOutcome::Rotated(_) => rotated += 1,
                RotateOutcome::Reused | RotateOutcome::NotFound => {}
            }
        }
        assert_eq!(rotated, 1, "exactly one concurrent rotation must win");
        // The losers presented a secret that was no longer current: revoked.
        assert_eq!(store.get(&s.id).await.unwrap(), None);
    }
}

async fn revoke(store: Store) {
    let now = unix_now();
    let (s, _) = session(&user(), now, now + 600);
    let (other, _) = session(&s.user_id, now, now + 600);
    store.create(&s).await.unwrap();
    store.create(&other).await.unwrap();
    assert!(store.revoke(&s.id).await.unwrap());
    assert_eq!(store.get(&s.id).await.unwrap(), None);
    assert!(!store.revoke(&s.id).await.unwrap());
    assert!(!store.revoke(&new_session_id()).await.unwrap());
    assert_eq!(store.rotate(&s.id, &s.refresh_hash, "x", now).await.unwrap(), RotateOutcome::NotFound);
    assert_eq!(store.get(&other.id).await.unwrap(), Some(other.clone()));
    assert_eq!(store.list_for_user(&s.user_id).await.unwrap(), vec![other]);
}

async fn list_for_user(store: Store) {
    let now = unix_now();
    let (a, b) = (user(), user());
    let (a3, _) = session(&a, now - 10, now + 600);
    let (a1, _) = session(&a, now - 30, now + 600);
    let (a2, _) = session(&a, now - 20, now + 900);
    let (b1, _) = session(&b, now - 5, now + 600);
    for s in [&a3, &a1, &a2, &b1] {
        store.create(s).await.unwrap();
    }
    assert_eq!(store.list_for_user(&a).await.unwrap(), vec![a1.clone(), a2.clone(), a3.clone()]);
    assert_eq!(store.list_for_user(&b).await.unwrap(), vec![b1.clone()]);
    assert!(store.list_for_user(&user()).await.unwrap().is_empty());

    store.revoke(&a2.id).await.unwrap();
    assert_eq!(store.list_for_user(&a).await.unwrap(), vec![a1.clone(), a3.clone()]);
    // Listing again after the lazy cleanup gives the same.
    assert_eq!(store.list_for_user(&a).await.unwrap(), vec![a1, a3]);

    // Expired sessions are not listed.
    let now = unix_now();
    let (short, _) = session(&b, now, now + 1);
    store.create(&short).await.unwrap();
    assert_eq!(store.list_for_user(&b).await.unwrap().len(), 2);
    tokio::time::sleep(PAST_EXPIRY).await;
    assert_eq!(store.list_for_user(&b).await.unwrap(), vec![b1]);
}

async fn revoke_all_for_user(store: Store) {
    let now = unix_now();
    let (a, b) = (user(), user());
    let sessions: Vec<WebSession> = (0..3).map(|i| session(&a, now + i, now + 600).0).collect();
    let (b1, _) = session(&b, now, now + 600);
    for s in sessions.iter().chain([&b1]) {
        store.create(s).await.unwrap();
    }
    let keep = &sessions[1];
    assert_eq!(store.revoke_all_for_user(&a, Some(&keep.id)).await.unwrap(), 2);
    assert_eq!(store.list_for_user(&a).await.unwrap(), vec![keep.clone()]);
    assert_eq!(store.get(&sessions[0].id).await.unwrap(), None);
    assert_eq!(store.get(&sessions[2].id).await.unwrap(), None);
    assert_eq!(store.get(&keep.id).await.unwrap(), Some(keep.clone()));
    assert_eq!(store.get(&b1.id).await.unwrap(), Some(b1.clone()));

    // Already revoked sessions are not counted.
    store.revoke(&keep.id).await.unwrap();
    let (s, _) = session(&a, now, now + 600);
    store.create(&s).await.unwrap();
    assert_eq!(store.revoke_all_for_user(&a, None).await.unwrap(), 1);
    assert_eq!(store.revoke_all_for_user(&a, None).await.unwrap(), 0);
    assert_eq!(store.revoke_all_for_user(&user(), Some("x")).await.unwrap(), 0);
    assert!(store.list_for_user(&a).await.unwrap().is_empty());
    assert_eq!(store.list_for_user(&b).await.unwrap(), vec![b1]);

    // A new session after revoke_all works normally.
    let (s, _) = session(&a, now, now + 600);
    store.create(&s).await.unwrap();
    assert_eq!(store.list_for_user(&a).await.unwrap(), vec![s]);
}

async fn temp_credentials(store: Store) {
    let now = unix_now();
    let c = temp_credential(now + 600);
    store.put_temp_credential(&c).await.unwrap();
    assert_eq!(store.get_temp_credential(&c.access_key_id).await.unwrap(), Some(c.clone()));
    assert_eq!(store.get_temp_credential("ASIANOTTHERE").await.unwrap(), None);

    let mut c2 = c.clone();
    c2.principal_json = "{}".into();
    store.put_temp_credential(&c2).await.unwrap();
    assert_eq!(store.get_temp_credential(&c.access_key_id).await.unwrap(), Some(c2));

    // Expired credentials are kept for a day (so their use is answered ExpiredToken), and
    // handed out with their expiry...
    let expired = temp_credential(now - 1);
    store.put_temp_credential(&expired).await.unwrap();
    assert_eq!(store.get_temp_credential(&expired.access_key_id).await.unwrap(), Some(expired.clone()));
    let mut nearly_gone = temp_credential(now - EXPIRED_CREDENTIAL_KEPT + 60);
    store.put_temp_credential(&nearly_gone).await.unwrap();
    assert_eq!(store.get_temp_credential(&nearly_gone.access_key_id).await.unwrap(), Some(nearly_gone.clone()));
    // ...and forgotten after that: not stored, and a stored one replaced by such a record goes.
    let dead = temp_credential(now - EXPIRED_CREDENTIAL_KEPT - 1);
    store.put_temp_credential(&dead).await.unwrap();
    assert_eq!(store.get_temp_credential(&dead.access_key_id).await.unwrap(), None);
    nearly_gone.expires_at = now - EXPIRED_CREDENTIAL_KEPT - 1;
    store.put_temp_credential(&nearly_gone).await.unwrap();
    assert_eq!(store.get_temp_credential(&nearly_gone.access_key_id).await.unwrap(), None);

    // One that expires while stored is still handed out, expired.
    let now = unix_now();
    let short = temp_credential(now + 1);
    store.put_temp_credential(&short).await.unwrap();
    assert_eq!(store.get_temp_credential(&short.access_key_id).await.unwrap(), Some(short.clone()));
    tokio::time::sleep(PAST_EXPIRY).await;
    let got = store.get_temp_credential(&short.access_key_id).await.unwrap().expect("kept after expiry");
    assert!(got.expires_at <= unix_now(), "expired by now: {got:?}");
    assert!(store.get_temp_credential(&c.access_key_id).await.unwrap().is_some());
}

async fn hits(store: Store) {
    let (k1, k2) = (format!("k1-{}", new_session_id()), format!("k2-{}", new_session_id()));
    let window = Duration::from_secs(1);
    assert_eq!(store.peek_hits(&k1).await.unwrap().count, 0);
    assert_eq!(store.hit(&k1, window).await.unwrap(), 1);
    assert_eq!(store.hit(&k1, window).await.unwrap(), 2);
    assert_eq!(store.hit(&k1, window).await.unwrap(), 3);
    assert_eq!(store.hit(&k2, Duration::from_secs(60)).await.unwrap(), 1);
    let peek = store.peek_hits(&k1).await.unwrap();
    assert_eq!(peek.count, 3);
    assert!(peek.resets_in > Duration::ZERO && peek.resets_in <= window, "{peek:?}");
    // Peeking does not count.
    assert_eq!(store.peek_hits(&k1).await.unwrap().count, 3);

    // A fixed window: it closes 1 s after the first hit, whatever came after.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(store.peek_hits(&k1).await.unwrap().count, 0);
    assert_eq!(store.hit(&k1, window).await.unwrap(), 1);
    assert_eq!(store.hit(&k2, Duration::from_secs(60)).await.unwrap(), 2);

    store.clear_hits(&k2).await.unwrap();
    assert_eq!(store.peek_hits(&k2).await.unwrap().count, 0);
    assert_eq!(store.hit(&k2, Duration::from_secs(60)).await.unwrap(), 1);
    store.clear_hits(&format!("never-{}", new_session_id())).await.unwrap();

    // Concurrent hits are all counted.
    let k3 = format!("k3-{}", new_session_id());
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let (store, k3) = (Arc::clone(&store), k3.clone());
            tokio::spawn(async move { store.hit(&k3, Duration::from_secs(60)).await.unwrap() })
        })
        .collect();
    let mut seen = Vec::new();
    for t in tasks {
        seen.push(t.await.unwrap());
    }
    seen.sort_unstable();
    assert_eq!(seen, (1..=20).collect::<Vec<u64>>());
}

async fn recent_lists(store: Store) {
    let (key, other) = (format!("r-{}", new_session_id()), format!("o-{}", new_session_id()));
    assert!(store.recent(&key).await.unwrap().is_empty());
    for e in ["one", "two", "three"] {
        store.push_recent(&key, e, 2, Duration::from_secs(60)).await.unwrap();
    }
    // Newest first, the oldest dropped beyond `keep`.
    assert_eq!(store.recent(&key).await.unwrap(), ["three", "two"]);
    assert!(store.recent(&other).await.unwrap().is_empty());
    // The list lives `ttl` after its last push.
    store.push_recent(&other, "x", 5, Duration::from_secs(1)).await.unwrap();
    assert_eq!(store.recent(&other).await.unwrap(), ["x"]);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert!(store.recent(&other).await.unwrap().is_empty());
    store.push_recent(&other, "y", 5, Duration::from_secs(60)).await.unwrap();
    assert_eq!(store.recent(&other).await.unwrap(), ["y"]);
    assert_eq!(store.recent(&key).await.unwrap(), ["three", "two"]);
}

async fn ping(store: Store) {
    store.ping().await.unwrap();
}

/// Runs each check as its own test against each store.
macro_rules! conformance {
    ($($check:ident),* $(,)?) => {
        mod memory_store {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $check() {
                    super::$check(super::memory_store()).await;
                }
            )*
        }
        mod redis_store {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $check() {
                    super::$check(super::redis_store().await).await;
                }
            )*
        }
    };
}

conformance!(
    create_get_expire,
    rotate,
    concurrent_rotate,
    revoke,
    list_for_user,
    revoke_all_for_user,
    temp_credentials,
    hits,
    recent_lists,
    ping,
);

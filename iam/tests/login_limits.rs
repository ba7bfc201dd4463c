//! Login limits through the service, on both session stores (memory, and the Redis of the test
//! stack, `CLOUDSTORE_TEST_REDIS_URL`, required): a guesser locks out only its own address, an
//! account guessed at from many addresses is slowed but its owner still logs in, and the owner
//! (nobody else) is shown both lockouts.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use cloudstore_iam::Error;
use cloudstore_iam::crypto::Keyring;
use cloudstore_iam::service::{IamService, ServiceConfig};
use cloudstore_iam::session::limit::{Limits, LoginLimiter};
use cloudstore_iam::session::{MemorySessionStore, RedisSessionStore, SessionStore};
use cloudstore_iam::store::SqliteIamStore;
use cloudstore_iam_api::RequestMeta;

const PASSWORD: &str = "s3cret-pass1";
const SLOW: Duration = Duration::from_millis(300);

async fn service(sessions: Arc<dyn SessionStore>) -> (IamService, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqliteIamStore::open(&dir.path().join("iam.sqlite")).await.expect("open store");
    let limits =
        Limits { per_pair: 2, per_ip: 100, account_slow_after: 4, slow_delay: SLOW, window: Duration::from_secs(60) };
    let svc = IamService::new(
        Arc::new(store),
        sessions.clone(),
        Keyring::new(&[7u8; 32]).expect("keyring"),
        ServiceConfig::default(),
    )
    .await
    .expect("service")
    .with_limiter(LoginLimiter::with_limits(sessions, limits));
    (svc, dir)
}

fn from(ip: &str) -> RequestMeta {
    RequestMeta { source_ip: Some(ip.to_owned()), ..RequestMeta::default() }
}

async fn guessed_at_from_many_addresses(sessions: Arc<dyn SessionStore>) {
    let (svc, _dir) = service(sessions).await;
    let victim = svc.register("victim", None, PASSWORD, &from("192.0.2.50")).await.expect("register");
    let bystander = svc.register("bystander", None, PASSWORD, &from("192.0.2.50")).await.expect("register");
    let user = |id: &str| {
        let svc = svc.clone();
        let id = id.to_owned();
        async move { svc.store().get_user(&id).await.expect("get").expect("user") }
    };

    // Two wrong passwords from each of two addresses: four failures, the account's budget.
    for ip in ["198.51.100.1", "198.51.100.1", "198.51.100.2", "198.51.100.2"] {
        let e = svc.login("victim", "wrong-password-1", &from(ip)).await.expect_err("wrong password");
        assert!(matches!(e, Error::Unauthenticated(_)), "{e:?}");
    }
    // The first address is now refused for this account, even with the right password.
    let e = svc.login("victim", PASSWORD, &from("198.51.100.1")).await.expect_err("locked address");
    assert!(matches!(e, Error::RateLimited { retry_after_secs } if (59..=60).contains(&retry_after_secs)), "{e:?}");
    // The owner, elsewhere, still logs in: slowed, not refused.
    let t = Instant::now();
    svc.login("victim", PASSWORD, &from("203.0.113.9")).await.expect("the owner logs in");
    assert!(t.elapsed() >= SLOW, "not slowed: {:?}", t.elapsed());
    // Another account is neither slowed nor told anything.
    let t = Instant::now();
    svc.login("bystander", PASSWORD, &from("198.51.100.1")).await.expect("bystander logs in");
    assert!(t.elapsed() < SLOW, "slowed: {:?}", t.elapsed());

    // The owner is shown both, newest first; nobody else sees them.
    let lockouts = svc.login_lockouts(&user(&victim.user_id).await).await.expect("lockouts");
    let seen: Vec<(&str, Option<&str>)> = lockouts.iter().map(|l| (l.kind.as_str(), l.source.as_deref())).collect();
    assert_eq!(seen, [("address", Some("198.51.100.1")), ("account", None)], "{lockouts:?}");
    assert!(lockouts.iter().all(|l| l.until > l.at), "{lockouts:?}");
    assert!(svc.login_lockouts(&user(&bystander.user_id).await).await.expect("lockouts").is_empty());
    // Refusing the locked address again does not tell again.
    svc.login("victim", PASSWORD, &from("198.51.100.1")).await.expect_err("still locked");
    assert_eq!(svc.login_lockouts(&user(&victim.user_id).await).await.expect("lockouts").len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_store() {
    guessed_at_from_many_addresses(Arc::new(MemorySessionStore::new())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_store() {
    let url = std::env::var("CLOUDSTORE_TEST_REDIS_URL")
        .expect("CLOUDSTORE_TEST_REDIS_URL: the Redis of the test stack (source /tmp/cs-dev-stack/env)");
    let prefix = format!("cloudstore-test:{}:", cloudstore_iam::session::token::new_session_id());
    let store = RedisSessionStore::connect_with_prefix(&url, &prefix).await.expect("redis");
    guessed_at_from_many_addresses(Arc::new(store)).await;
}

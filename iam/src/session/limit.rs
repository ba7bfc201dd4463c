//! Login rate limiting, in a [`SessionStore`] (so every node counts alike, memory or Redis):
//!
//! - **per account and address**: at most `per_pair` attempts at one account from one source
//!   address in each window (counted before the password is checked, so parallel guesses
//!   cannot outrun it); after that, that address is refused (429) for that account — and only
//!   that address: a guesser cannot lock the owner out;
//! - **per address**: at most `per_ip` failed logins from one address, at any accounts;
//! - **per account**: failed logins from every address together; beyond `account_slow_after`
//!   in a window each attempt at the account waits `slow_delay` before its password is
//!   checked. The account is slowed, never locked: a correct password from an address that is
//!   not itself limited still logs in.
//!
//! Usernames are compared case-insensitively; IPv6 sources are grouped by /64 (one host
//! usually owns a whole /64) and IPv4-mapped IPv6 counts as IPv4.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use super::token::hash_secret;
use super::{SessionError, SessionStore};

/// Default attempts allowed per account and source address, per window.
pub const DEFAULT_PER_PAIR: u64 = 5;
/// Default failed logins allowed per source address, per window.
pub const DEFAULT_PER_IP: u64 = 20;
/// Default failed logins at one account (all addresses) after which its logins are slowed.
pub const DEFAULT_ACCOUNT_SLOW_AFTER: u64 = 100;
/// Default wait before each password check of a slowed account.
pub const DEFAULT_SLOW_DELAY: Duration = Duration::from_secs(2);
/// Default window.
pub const DEFAULT_WINDOW: Duration = Duration::from_secs(15 * 60);

/// Attempts (not failures) one address may make in a window, in multiples of `per_ip`: counted
/// before the password is checked, so a burst of parallel guesses from one address cannot all
/// reach the slow hash before its failures are counted.
pub const ATTEMPTS_PER_IP_FACTOR: u64 = 5;

/// Usernames longer than this are keyed by their hash.
const MAX_PLAIN_KEY_LEN: usize = 128;

/// The limits of a [`LoginLimiter`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Attempts per account and source address per window (0 refuses every login).
    pub per_pair: u64,
    /// Failed logins per source address per window.
    pub per_ip: u64,
    /// Failed logins per account (all addresses) per window after which it is slowed.
    pub account_slow_after: u64,
    /// The wait before each password check of a slowed account.
    pub slow_delay: Duration,
    /// The fixed window all counters use.
    pub window: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            per_pair: DEFAULT_PER_PAIR,
            per_ip: DEFAULT_PER_IP,
            account_slow_after: DEFAULT_ACCOUNT_SLOW_AFTER,
            slow_delay: DEFAULT_SLOW_DELAY,
            window: DEFAULT_WINDOW,
        }
    }
}

/// Why [`LoginLimiter::attempt`] refused.
#[derive(Debug, thiserror::Error)]
pub enum LimitError {
    /// Too many attempts from this address at this account, or failures from this address;
    /// retry later.
    #[error("too many failed logins, retry in {retry_after_secs} s")]
    Limited {
        /// Seconds until the window closes (at least 1).
        retry_after_secs: u64,
        /// This is the first refusal of this address for this account in the window: the
        /// moment to tell the account's owner (once per address and window).
        newly_locked: bool,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] SessionError),
}

/// An attempt [`LoginLimiter::attempt`] let through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Admitted {
    /// The account is over its failure budget: the attempt waited `slow_delay`.
    pub slowed: bool,
}

/// Limits password guessing (see the module docs).
///
/// Usage: [`attempt`](Self::attempt) before verifying the password, then
/// [`failed`](Self::failed) or [`succeeded`](Self::succeeded).
#[derive(Debug, Clone)]
pub struct LoginLimiter {
    store: Arc<dyn SessionStore>,
    limits: Limits,
}

fn secs_ceil(d: Duration) -> u64 {
    (d.as_secs() + u64::from(d.subsec_nanos() > 0)).max(1)
}

impl LoginLimiter {
    /// A limiter with the default [`Limits`].
    pub fn new(store: Arc<dyn SessionStore>) -> Self {
        Self::with_limits(store, Limits::default())
    }

    /// A limiter with explicit limits.
    pub fn with_limits(store: Arc<dyn SessionStore>, limits: Limits) -> Self {
        Self { store, limits }
    }

    /// The limits in force.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Counts one attempt at `username` from `ip` BEFORE the password is checked and refuses
    /// once this address made more than `per_pair` attempts at the account, or `per_ip`
    /// failures at any, in the window. An account over its failure budget is not refused:
    /// the attempt waits `slow_delay` here.
    pub async fn attempt(&self, username: &str, ip: IpAddr) -> Result<Admitted, LimitError> {
        let pair_key = pair_key(username, ip);
        let attempts_key = ip_attempts_key(ip);
        let (pair, attempts) = tokio::join!(
            self.store.hit(&pair_key, self.limits.window),
            self.store.hit(&attempts_key, self.limits.window)
        );
        let (pair, attempts) = (pair?, attempts?);
        let (ip_key, account_key) = (ip_key(ip), account_key(username));
        let (addr, acct) = tokio::join!(self.store.peek_hits(&ip_key), self.store.peek_hits(&account_key));
        let (addr, acct) = (addr?, acct?);
        let pair_over = pair > self.limits.per_pair;
        let attempts_over = attempts > self.limits.per_ip.saturating_mul(ATTEMPTS_PER_IP_FACTOR);
        let addr_over = addr.count >= self.limits.per_ip || attempts_over;
        if pair_over || addr_over {
            let mut wait = if addr_over { addr.resets_in } else { Duration::ZERO };
            if attempts_over {
                wait = wait.max(self.store.peek_hits(&attempts_key).await?.resets_in);
            }
            if pair_over {
                wait = wait.max(self.store.peek_hits(&pair_key).await?.resets_in);
            }
            let newly_locked = pair_over && pair == self.limits.per_pair + 1;
            return Err(LimitError::Limited { retry_after_secs: secs_ceil(wait), newly_locked });
        }
        let slowed = acct.count >= self.limits.account_slow_after;
        if slowed {
            tokio::time::sleep(self.limits.slow_delay).await;
        }
        Ok(Admitted { slowed })
    }

    /// Counts a failed attempt against the source address and the account; `true` when this
    /// failure put the account over its budget (once per window: the moment to tell its
    /// owner).
    pub async fn failed(&self, username: &str, ip: IpAddr) -> Result<bool, SessionError> {
        let (ip_key, account_key) = (ip_key(ip), account_key(username));
        let (addr, acct) =
            tokio::join!(self.store.hit(&ip_key, self.limits.window), self.store.hit(&account_key, self.limits.window));
        addr?;
        Ok(acct? == self.limits.account_slow_after)
    }

    /// Records a successful login: clears this address's attempts at the account (the
    /// address's failures and the account's keep running, so one valid login resets neither).
    pub async fn succeeded(&self, username: &str, ip: IpAddr) -> Result<(), SessionError> {
        self.store.clear_hits(&pair_key(username, ip)).await
    }
}

fn name_key(username: &str) -> String {
    let lower = username.to_lowercase();
    if lower.len() > MAX_PLAIN_KEY_LEN || lower.chars().any(char::is_control) {
        format!("h:{}", hash_secret(&lower))
    } else {
        lower
    }
}

fn account_key(username: &str) -> String {
    format!("login:acct:{}", name_key(username))
}

fn pair_key(username: &str, ip: IpAddr) -> String {
    format!("login:pair:{}|{}", address_label(ip), name_key(username))
}

fn ip_key(ip: IpAddr) -> String {
    format!("login:ip:{}", address_label(ip))
}

fn ip_attempts_key(ip: IpAddr) -> String {
    format!("login:ipatt:{}", address_label(ip))
}

/// The source address as the limits count it (and as an owner is shown it): IPv4 as is
/// (also when IPv4-mapped), IPv6 as its /64.
pub fn address_label(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    //! Each check runs against the memory store and a real Redis (`CLOUDSTORE_TEST_REDIS_URL`,
    //! required): both must limit alike.

    use std::time::Instant;

    use super::super::conformance_tests::{redis_url, test_prefix};
    use super::super::{MemorySessionStore, RedisSessionStore};
    use super::*;

    type Store = Arc<dyn SessionStore>;

    fn limits(per_pair: u64, per_ip: u64, account_slow_after: u64, window: Duration) -> Limits {
        Limits { per_pair, per_ip, account_slow_after, slow_delay: Duration::from_millis(300), window }
    }

    const IP: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1));

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn is_limited(r: &Result<Admitted, LimitError>) -> bool {
        matches!(r, Err(LimitError::Limited { .. }))
    }

    /// One failed login (attempt admitted, wrong password).
    async fn fail(l: &LoginLimiter, name: &str, from: IpAddr) {
        l.attempt(name, from).await.unwrap();
        l.failed(name, from).await.unwrap();
    }

    async fn a_burst_from_one_address_is_bounded_before_any_failure(store: Store) {
        let l = LoginLimiter::with_limits(store, limits(5, 2, 1000, Duration::from_secs(60)));
        let from = ip("198.51.100.7");
        // 30 attempts at 30 accounts at once, none failed yet: only per_ip × factor pass.
        let mut set = tokio::task::JoinSet::new();
        for i in 0..30 {
            let l = l.clone();
            set.spawn(async move { l.attempt(&format!("burst-{i}"), from).await.is_ok() });
        }
        let mut admitted = 0;
        while let Some(ok) = set.join_next().await {
            admitted += usize::from(ok.unwrap());
        }
        assert_eq!(admitted, usize::try_from(2 * ATTEMPTS_PER_IP_FACTOR).unwrap());
        // Another address is not affected.
        assert!(l.attempt("burst-0", ip("198.51.100.8")).await.is_ok());
    }

    async fn a_guesser_locks_out_only_its_own_address(store: Store) {
        let l = LoginLimiter::with_limits(store, limits(5, 100, 1000, Duration::from_secs(60)));
        for _ in 0..5 {
            fail(&l, "alice", IP).await;
        }
        // The sixth attempt from that address is refused, with a retry time, and tells the
        // owner once; later ones are refused too, without telling again.
        match l.attempt("alice", IP).await {
            Err(LimitError::Limited { retry_after_secs, newly_locked: true }) => {
                assert!((59..=60).contains(&retry_after_secs), "{retry_after_secs}");
            }
            other => panic!("expected a new lock, got {other:?}"),
        }
        assert!(matches!(l.attempt("ALICE", IP).await, Err(LimitError::Limited { newly_locked: false, .. })));
        // The owner, from another address, is let through at once (the password decides).
        assert_eq!(l.attempt("alice", ip("198.51.100.7")).await.unwrap(), Admitted { slowed: false });
        l.succeeded("alice", ip("198.51.100.7")).await.unwrap();
        // Other accounts from the guesser's address are unaffected.
        l.attempt("bob", IP).await.unwrap();
    }

    async fn concurrent_attempts_cannot_exceed_the_pair_limit(store: Store) {
        // 50 guesses at once from one address: only 5 get past `attempt`, however they
        // interleave.
        let l = Arc::new(LoginLimiter::with_limits(store, limits(5, 1000, 1000, Duration::from_secs(60))));
        let tasks: Vec<_> = (0..50)
            .map(|_| {
                let l = l.clone();
                tokio::spawn(async move { l.attempt("alice", IP).await.is_ok() })
            })
            .collect();
        let mut passed = 0;
        for t in tasks {
            passed += usize::from(t.await.unwrap());
        }
        assert_eq!(passed, 5);
        // A success from the address clears its attempts at the account.
        l.succeeded("alice", IP).await.unwrap();
        l.attempt("alice", IP).await.unwrap();
    }

    async fn the_address_limit_spans_accounts(store: Store) {
        let l = LoginLimiter::with_limits(store, limits(100, 3, 1000, Duration::from_secs(60)));
        for name in ["a", "b", "c"] {
            fail(&l, name, IP).await;
        }
        assert!(is_limited(&l.attempt("d", IP).await));
        // Another address with the same names is fine; a success does not reset the address.
        l.attempt("a", ip("192.0.2.99")).await.unwrap();
        l.succeeded("a", IP).await.unwrap();
        assert!(is_limited(&l.attempt("a", IP).await));
    }

    async fn an_account_under_attack_is_slowed_never_locked(store: Store) {
        let l = LoginLimiter::with_limits(store, limits(2, 100, 4, Duration::from_secs(60)));
        // Four failures from two addresses: the fourth puts the account over its budget, and
        // says so once.
        let mut crossed = Vec::new();
        for from in [ip("203.0.113.1"), ip("203.0.113.1"), ip("203.0.113.2"), ip("203.0.113.2")] {
            l.attempt("carol", from).await.unwrap();
            crossed.push(l.failed("carol", from).await.unwrap());
        }
        assert_eq!(crossed, [false, false, false, true]);
        // Every address not itself limited is still let through, after the delay.
        let t = Instant::now();
        assert_eq!(l.attempt("carol", ip("198.51.100.9")).await.unwrap(), Admitted { slowed: true });
        assert!(t.elapsed() >= Duration::from_millis(300), "{:?}", t.elapsed());
        l.succeeded("carol", ip("198.51.100.9")).await.unwrap();
        assert!(!l.failed("carol", ip("198.51.100.9")).await.unwrap(), "told once per window");
        assert_eq!(l.attempt("carol", ip("198.51.100.10")).await.unwrap(), Admitted { slowed: true });
        // Other accounts are not slowed.
        let t = Instant::now();
        assert_eq!(l.attempt("dave", ip("203.0.113.1")).await.unwrap(), Admitted { slowed: false });
        assert!(t.elapsed() < Duration::from_millis(300));
    }

    async fn windows_expire(store: Store) {
        let l = LoginLimiter::with_limits(store, limits(1, 10, 1000, Duration::from_millis(1000)));
        fail(&l, "alice", IP).await;
        match l.attempt("alice", IP).await {
            Err(LimitError::Limited { retry_after_secs, .. }) => assert_eq!(retry_after_secs, 1),
            other => panic!("expected Limited, got {other:?}"),
        }
        tokio::time::sleep(Duration::from_millis(1200)).await;
        l.attempt("alice", IP).await.unwrap();
    }

    async fn ipv6_grouped_by_64(store: Store) {
        let l = LoginLimiter::with_limits(store, limits(100, 2, 1000, Duration::from_secs(60)));
        fail(&l, "a", ip("2001:db8:1:2::1")).await;
        fail(&l, "b", ip("2001:db8:1:2:ffff::9")).await;
        assert!(is_limited(&l.attempt("c", ip("2001:db8:1:2::abcd")).await));
        l.attempt("c", ip("2001:db8:1:3::1")).await.unwrap();
        // IPv4-mapped counts as the IPv4 address.
        fail(&l, "a", ip("::ffff:192.0.2.1")).await;
        fail(&l, "a", IP).await;
        assert!(is_limited(&l.attempt("z", IP).await));
    }

    async fn zero_limit_refuses_everything(store: Store) {
        let l = LoginLimiter::with_limits(store, limits(0, 10, 1000, Duration::from_secs(60)));
        assert!(is_limited(&l.attempt("alice", IP).await));
    }

    fn memory() -> Store {
        Arc::new(MemorySessionStore::new())
    }

    async fn redis() -> Store {
        Arc::new(RedisSessionStore::connect_with_prefix(&redis_url(), &test_prefix()).await.unwrap())
    }

    macro_rules! on_both_stores {
        ($($check:ident),* $(,)?) => {
            mod memory_store {
                $(
                    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                    async fn $check() {
                        super::$check(super::memory()).await;
                    }
                )*
            }
            mod redis_store {
                $(
                    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                    async fn $check() {
                        super::$check(super::redis().await).await;
                    }
                )*
            }
        };
    }

    on_both_stores!(
        a_burst_from_one_address_is_bounded_before_any_failure,
        a_guesser_locks_out_only_its_own_address,
        concurrent_attempts_cannot_exceed_the_pair_limit,
        the_address_limit_spans_accounts,
        an_account_under_attack_is_slowed_never_locked,
        windows_expire,
        ipv6_grouped_by_64,
        zero_limit_refuses_everything,
    );

    #[test]
    fn defaults_and_keys() {
        let l = LoginLimiter::new(memory());
        assert_eq!(
            l.limits(),
            Limits {
                per_pair: 5,
                per_ip: 20,
                account_slow_after: 100,
                slow_delay: Duration::from_secs(2),
                window: Duration::from_secs(900)
            }
        );
        assert_eq!(account_key("Alice"), "login:acct:alice");
        assert_eq!(pair_key("Alice", IP), "login:pair:192.0.2.1|alice");
        assert!(account_key(&"x".repeat(500)).starts_with("login:acct:h:"));
        assert!(account_key("a\nb").starts_with("login:acct:h:"));
        assert_eq!(ip_key(IP), "login:ip:192.0.2.1");
        assert_eq!(ip_key(ip("2001:db8::1")), "login:ip:2001:db8:0:0::/64");
    }
}

//! Login rate limiting: fixed-window counters of failed logins per account
//! (username) and per source IP, kept in a [`SessionStore`].

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use super::token::hash_secret;
use super::{SessionError, SessionStore};

/// Default failed logins allowed per username and window.
pub const DEFAULT_PER_ACCOUNT: u64 = 5;
/// Default failed logins allowed per source IP and window.
pub const DEFAULT_PER_IP: u64 = 20;
/// Default window.
pub const DEFAULT_WINDOW: Duration = Duration::from_secs(15 * 60);

/// Usernames longer than this are keyed by their hash.
const MAX_PLAIN_KEY_LEN: usize = 128;

/// Why [`LoginLimiter::check`] refused.
#[derive(Debug, thiserror::Error)]
pub enum LimitError {
    /// Too many failed logins for this username or IP; retry later.
    #[error("too many failed logins, retry in {retry_after_secs} s")]
    Limited {
        /// Seconds until the window closes (at least 1).
        retry_after_secs: u64,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] SessionError),
}

/// Limits password guessing: at most `per_account` failed logins per username
/// and `per_ip` per source IP in each fixed window.
///
/// Usage: [`check`](Self::check) before verifying the password, then
/// [`failed`](Self::failed) or [`succeeded`](Self::succeeded).
/// Usernames are compared case-insensitively; IPv6 sources are grouped by /64
/// (one host usually owns a whole /64) and IPv4-mapped IPv6 counts as IPv4.
#[derive(Debug, Clone)]
pub struct LoginLimiter {
    store: Arc<dyn SessionStore>,
    per_account: u64,
    per_ip: u64,
    window: Duration,
}

impl LoginLimiter {
    /// A limiter with the default limits (5 per account, 20 per IP, 15 minutes).
    pub fn new(store: Arc<dyn SessionStore>) -> Self {
        Self { store, per_account: DEFAULT_PER_ACCOUNT, per_ip: DEFAULT_PER_IP, window: DEFAULT_WINDOW }
    }

    /// A limiter with explicit limits (a limit of 0 refuses every login).
    pub fn with_limits(store: Arc<dyn SessionStore>, per_account: u64, per_ip: u64, window: Duration) -> Self {
        Self { store, per_account, per_ip, window }
    }

    /// Refuses if the username or the IP already reached its limit in the
    /// current window. Call before verifying the password.
    pub async fn check(&self, username: &str, ip: IpAddr) -> Result<(), LimitError> {
        let (acct_key, addr_key) = (account_key(username), ip_key(ip));
        let (acct, addr) = tokio::join!(self.store.peek_hits(&acct_key), self.store.peek_hits(&addr_key));
        let (acct, addr) = (acct?, addr?);
        let mut wait = Duration::ZERO;
        if acct.count >= self.per_account {
            wait = wait.max(acct.resets_in);
        }
        if addr.count >= self.per_ip {
            wait = wait.max(addr.resets_in);
        }
        let limited = acct.count >= self.per_account || addr.count >= self.per_ip;
        if limited {
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            return Err(LimitError::Limited { retry_after_secs: secs.max(1) });
        }
        Ok(())
    }

    /// Records a failed login for both the username and the IP.
    /// Counts one attempt against the account's limit BEFORE the password is checked (so
    /// concurrent guesses at one account cannot all pass a read-only check) and refuses once
    /// the account's or the address's limit is exceeded. After a wrong password call
    /// [`LoginLimiter::failed_from`] (the address counts failures only, so a busy address with
    /// many good logins is not locked out); after a good one, [`LoginLimiter::succeeded`].
    pub async fn attempt(&self, username: &str, ip: IpAddr) -> Result<(), LimitError> {
        let acct = self.store.hit(&account_key(username), self.window).await?;
        let addr = self.store.peek_hits(&ip_key(ip)).await?;
        if acct > self.per_account || addr.count >= self.per_ip {
            let a = self.store.peek_hits(&account_key(username)).await?;
            let wait = if addr.count >= self.per_ip { a.resets_in.max(addr.resets_in) } else { a.resets_in };
            return Err(LimitError::Limited { retry_after_secs: wait.as_secs().max(1) });
        }
        Ok(())
    }

    /// Counts a failed attempt against the source address.
    pub async fn failed_from(&self, ip: IpAddr) -> Result<(), SessionError> {
        self.store.hit(&ip_key(ip), self.window).await.map(|_| ())
    }

    /// Counts a failed attempt (for callers that check with [`LoginLimiter::check`]).
    pub async fn failed(&self, username: &str, ip: IpAddr) -> Result<(), SessionError> {
        let (acct_key, addr_key) = (account_key(username), ip_key(ip));
        let (acct, addr) = tokio::join!(self.store.hit(&acct_key, self.window), self.store.hit(&addr_key, self.window));
        acct?;
        addr?;
        Ok(())
    }

    /// Records a successful login: clears the username's counter (the IP's
    /// counter keeps running, so one valid account cannot reset it).
    pub async fn succeeded(&self, username: &str) -> Result<(), SessionError> {
        self.store.clear_hits(&account_key(username)).await
    }
}

fn account_key(username: &str) -> String {
    let lower = username.to_lowercase();
    if lower.len() > MAX_PLAIN_KEY_LEN || lower.chars().any(char::is_control) {
        format!("login:acct-h:{}", hash_secret(&lower))
    } else {
        format!("login:acct:{lower}")
    }
}

fn ip_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => format!("login:ip:{v4}"),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => format!("login:ip:{v4}"),
            None => {
                let s = v6.segments();
                format!("login:ip:{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::super::MemorySessionStore;
    use super::*;

    fn limiter(per_account: u64, per_ip: u64, window: Duration) -> LoginLimiter {
        LoginLimiter::with_limits(Arc::new(MemorySessionStore::new()), per_account, per_ip, window)
    }

    const IP: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1));

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[tokio::test]
    async fn concurrent_attempts_cannot_exceed_the_account_limit() {
        // 50 guesses at once: only 5 get past `attempt`, however they interleave.
        let l = Arc::new(limiter(5, 1000, Duration::from_secs(60)));
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
        // A success clears the account's counter; failures count against the address only.
        l.succeeded("alice").await.unwrap();
        l.attempt("alice", IP).await.unwrap();
        let strict = limiter(100, 2, Duration::from_secs(60));
        strict.attempt("a", IP).await.unwrap();
        strict.failed_from(IP).await.unwrap();
        strict.attempt("b", IP).await.unwrap();
        strict.failed_from(IP).await.unwrap();
        assert!(matches!(strict.attempt("c", IP).await, Err(LimitError::Limited { .. })));
    }

    #[tokio::test]
    async fn defaults() {
        let l = LoginLimiter::new(Arc::new(MemorySessionStore::new()));
        assert_eq!((l.per_account, l.per_ip, l.window), (5, 20, Duration::from_secs(900)));
        for _ in 0..5 {
            l.check("alice", IP).await.unwrap();
            l.failed("alice", IP).await.unwrap();
        }
        match l.check("alice", IP).await {
            Err(LimitError::Limited { retry_after_secs }) => assert!((899..=900).contains(&retry_after_secs)),
            other => panic!("expected Limited, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn account_limit_is_case_insensitive() {
        let l = limiter(3, 100, Duration::from_secs(60));
        l.failed("Alice", IP).await.unwrap();
        l.failed("ALICE", ip("192.0.2.2")).await.unwrap();
        l.check("alice", IP).await.unwrap();
        l.failed("alice", ip("192.0.2.3")).await.unwrap();
        for name in ["alice", "Alice", "aLiCe"] {
            assert!(matches!(l.check(name, ip("198.51.100.7")).await, Err(LimitError::Limited { .. })), "{name}");
        }
        // Other accounts are unaffected.
        l.check("bob", IP).await.unwrap();
    }

    #[tokio::test]
    async fn ip_limit_across_usernames() {
        let l = limiter(100, 3, Duration::from_secs(60));
        for name in ["a", "b", "c"] {
            l.check(name, IP).await.unwrap();
            l.failed(name, IP).await.unwrap();
        }
        assert!(matches!(l.check("d", IP).await, Err(LimitError::Limited { .. })));
        // Another IP with the same usernames is fine.
        l.check("a", ip("192.0.2.99")).await.unwrap();
    }

    #[tokio::test]
    async fn success_clears_account_but_not_ip() {
        let l = limiter(2, 3, Duration::from_secs(60));
        l.failed("alice", IP).await.unwrap();
        l.failed("alice", IP).await.unwrap();
        assert!(l.check("alice", IP).await.is_err());
        l.succeeded("ALICE").await.unwrap();
        l.check("alice", IP).await.unwrap();
        l.failed("alice", IP).await.unwrap();
        // IP counter: 3 failures now.
        assert!(matches!(l.check("bob", IP).await, Err(LimitError::Limited { .. })));
    }

    #[tokio::test]
    async fn window_expires() {
        let l = limiter(1, 10, Duration::from_millis(300));
        l.failed("alice", IP).await.unwrap();
        match l.check("alice", IP).await {
            Err(LimitError::Limited { retry_after_secs }) => assert_eq!(retry_after_secs, 1),
            other => panic!("expected Limited, got {other:?}"),
        }
        tokio::time::sleep(Duration::from_millis(400)).await;
        l.check("alice", IP).await.unwrap();
    }

    #[tokio::test]
    async fn ipv6_grouped_by_64() {
        let l = limiter(100, 2, Duration::from_secs(60));
        l.failed("a", ip("2001:db8:1:2::1")).await.unwrap();
        l.failed("b", ip("2001:db8:1:2:ffff::9")).await.unwrap();
        assert!(l.check("c", ip("2001:db8:1:2::abcd")).await.is_err());
        l.check("c", ip("2001:db8:1:3::1")).await.unwrap();
        // IPv4-mapped counts as the IPv4 address.
        l.failed("a", ip("::ffff:192.0.2.1")).await.unwrap();
        l.failed("a", IP).await.unwrap();
        assert!(l.check("z", IP).await.is_err());
    }

    #[tokio::test]
    async fn zero_limit_refuses_everything() {
        let l = limiter(0, 10, Duration::from_secs(60));
        assert!(matches!(l.check("alice", IP).await, Err(LimitError::Limited { retry_after_secs: 1 })));
    }

    #[test]
    fn keys() {
        assert_eq!(account_key("Alice"), "login:acct:alice");
        assert!(account_key(&"x".repeat(500)).starts_with("login:acct-h:"));
        assert!(account_key("a\nb").starts_with("login:acct-h:"));
        assert_eq!(ip_key(IP), "login:ip:192.0.2.1");
        assert_eq!(ip_key(ip("2001:db8::1")), "login:ip:2001:db8:0:0::/64");
    }
}

//! Signing-key derivation and a small cache of derived keys.

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

pub(crate) fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// Derives the SigV4 signing key: `HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region),
/// service), "aws4_request")`. `date` is the `YYYYMMDD` of the credential scope.
pub fn signing_key(secret: &str, date: &str, region: &str, service: &str) -> [u8; 32] {
    let mut k_secret = Vec::with_capacity(4 + secret.len());
    k_secret.extend_from_slice(b"AWS4");
    k_secret.extend_from_slice(secret.as_bytes());
    let k_date = hmac_sha256(&k_secret, date.as_bytes());
    let k_region = hmac_sha256(&k_date, region.as_bytes());
    let k_service = hmac_sha256(&k_region, service.as_bytes());
    hmac_sha256(&k_service, b"aws4_request")
}

/// How many keys a [`SigningKeyCache`] holds by default.
pub const DEFAULT_CACHE_CAPACITY: usize = 1024;

/// A bounded, thread-safe cache of derived signing keys, so a busy server or client does not
/// run the four key-derivation HMACs on every request.
///
/// Entries are keyed by a SHA-256 over (secret, date, region, service), so neither the secret
/// nor the cache key reveals it; a rotated secret simply misses. When the cache is full it is
/// cleared (keys change daily, so a simple policy is enough). `Debug` shows only the size.
pub struct SigningKeyCache {
    capacity: usize,
    keys: Mutex<HashMap<[u8; 32], [u8; 32]>>,
}

impl SigningKeyCache {
    /// A cache holding at most `capacity` keys (at least one).
    pub fn new(capacity: usize) -> Self {
        SigningKeyCache { capacity: capacity.max(1), keys: Mutex::new(HashMap::new()) }
    }

    /// [`signing_key`], from the cache when possible.
    pub fn signing_key(&self, secret: &str, date: &str, region: &str, service: &str) -> [u8; 32] {
        let id = cache_id(secret, date, region, service);
        if let Some(k) = self.lock().get(&id) {
            return *k;
        }
        // Derived outside the lock: two threads may both derive the same key, which is harmless.
        let key = signing_key(secret, date, region, service);
        let mut keys = self.lock();
        if keys.len() >= self.capacity {
            keys.clear();
        }
        keys.insert(id, key);
        key
    }

    /// How many keys are cached now.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], [u8; 32]>> {
        // The map is always consistent (single inserts and clears), so a poisoned lock is usable.
        self.keys.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Default for SigningKeyCache {
    fn default() -> Self {
        SigningKeyCache::new(DEFAULT_CACHE_CAPACITY)
    }
}

impl fmt::Debug for SigningKeyCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKeyCache").field("capacity", &self.capacity).field("len", &self.len()).finish()
    }
}

/// SHA-256 over the length-prefixed inputs, so that no two different tuples share an id.
fn cache_id(secret: &str, date: &str, region: &str, service: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    for part in [secret, date, region, service] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part.as_bytes());
    }
    h.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_rfc4231_case_2() {
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(hex::encode(mac), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    }

    #[test]
    fn hmac_rfc4231_long_key() {
        let key = [0xaau8; 131];
        let mac = hmac_sha256(&key, b"Test Using Larger Than Block-Size Key - Hash Key First");
        assert_eq!(hex::encode(mac), "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
    }

    /// The key-derivation examples from the AWS SigV4 documentation.
    #[test]
    fn aws_documented_signing_keys() {
        let secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
        assert_eq!(
            hex::encode(signing_key(secret, "20120215", "us-east-1", "iam")),
            "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"
        );
        assert_eq!(
            hex::encode(signing_key(secret, "20150830", "us-east-1", "iam")),
            "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9"
        );
    }

    #[test]
    fn cache_returns_the_derived_key_and_stays_bounded() {
        let cache = SigningKeyCache::new(3);
        assert!(cache.is_empty());
        for round in 0..2 {
            for day in ["20240101", "20240102", "20240103"] {
                assert_eq!(cache.signing_key("s", day, "r", "iam"), signing_key("s", day, "r", "iam"), "{round}");
            }
            assert_eq!(cache.len(), 3);
        }
        // A different secret, region or service is a different key.
        assert_ne!(cache.signing_key("t", "20240101", "r", "iam"), signing_key("s", "20240101", "r", "iam"));
        assert_eq!(cache.len(), 1, "cleared when full, then inserted");
        assert_ne!(cache.signing_key("s", "20240101", "r2", "iam"), signing_key("s", "20240101", "r", "iam"));
        assert_ne!(cache.signing_key("s", "20240101", "r", "sts"), signing_key("s", "20240101", "r", "iam"));
        assert_eq!(cache.len(), 3);
        // Length prefixes keep shifted boundaries apart.
        assert_ne!(cache_id("ab", "c", "r", "s"), cache_id("a", "bc", "r", "s"));
    }

    #[test]
    fn cache_debug_shows_no_keys() {
        let cache = SigningKeyCache::default();
        cache.signing_key("secret", "20240101", "r", "iam");
        assert_eq!(format!("{cache:?}"), "SigningKeyCache { capacity: 1024, len: 1 }");
    }
}

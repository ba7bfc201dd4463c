//! Identifiers in the shapes AWS uses: 12-digit account ids, `AIDA…` user ids, `AKIA…` access
//! keys, 40-character secrets.

use rand::Rng as _;

const UPPER_ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const SECRET_CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn random_from(alphabet: &[u8], len: usize) -> String {
    let mut rng = rand::rng();
    (0..len).map(|_| char::from(alphabet[rng.random_range(0..alphabet.len())])).collect()
}

/// A random 12-digit account id (never starting with 0; `000000000000` is the platform admin).
pub fn account_id() -> String {
    let mut rng = rand::rng();
    format!("{}{:011}", rng.random_range(1..10), rng.random_range(0..100_000_000_000u64))
}

/// A unique id with an AWS prefix (`AIDA` user, `AGPA` group, `AROA` role, `ANPA` policy).
pub fn unique_id(prefix: &str) -> String {
    format!("{prefix}{}", random_from(UPPER_ALNUM, 17))
}

/// A long-term access key id (`AKIA` + 16).
pub fn access_key_id() -> String {
    format!("AKIA{}", random_from(UPPER_ALNUM, 16))
}

/// A temporary access key id (`ASIA` + 16).
pub fn temp_access_key_id() -> String {
    format!("ASIA{}", random_from(UPPER_ALNUM, 16))
}

/// A 40-character secret access key (240 bits).
pub fn secret_key() -> String {
    random_from(SECRET_CHARS, 40)
}

/// An opaque session token for temporary credentials (256 bits, URL-safe).
pub fn session_token() -> String {
    random_from(SECRET_CHARS, 64).replace(['+', '/'], "x")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        let a = account_id();
        assert_eq!(a.len(), 12);
        assert!(a.bytes().all(|b| b.is_ascii_digit()) && !a.starts_with('0'));
        let k = access_key_id();
        assert!(k.starts_with("AKIA") && k.len() == 20, "{k}");
        assert!(temp_access_key_id().starts_with("ASIA"));
        assert_eq!(secret_key().len(), 40);
        assert_ne!(secret_key(), secret_key());
        assert_eq!(unique_id("AIDA").len(), 21);
    }
}

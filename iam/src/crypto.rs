//! Secrets at rest and passwords: the [`Keyring`] seals access-key secrets with AES-256-GCM
//! under a key derived from the service's master key, and derives the JWT signing key;
//! passwords are hashed with argon2id.

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use rand::RngCore as _;
use sha2::Sha256;

use crate::error::{Error, Result};

/// Version prefix of sealed values, so the format can change later.
const SEALED_V1: &str = "v1:";

/// Keys derived from the master key. `Debug` shows nothing secret.
#[derive(Clone)]
pub struct Keyring {
    seal: Aes256Gcm,
    jwt: [u8; 32],
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keyring(..)")
    }
}

fn derive(master: &[u8], label: &str) -> [u8; 32] {
    // HMAC-SHA256 as a PRF keyed by the master key: one independent subkey per purpose.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(master).unwrap_or_else(|_| unreachable_hmac());
    mac.update(label.as_bytes());
    mac.finalize().into_bytes().into()
}

/// HMAC accepts keys of any length; this cannot happen.
fn unreachable_hmac() -> Hmac<Sha256> {
    #[allow(clippy::expect_used)]
    <Hmac<Sha256> as Mac>::new_from_slice(&[0u8; 32]).expect("HMAC takes any key length")
}

impl Keyring {
    /// Derives the keyring from a master key of at least 32 bytes.
    pub fn new(master: &[u8]) -> Result<Self> {
        if master.len() < 32 {
            return Err(Error::InvalidInput("the master key must be at least 32 bytes".into()));
        }
        let seal_key = derive(master, "cloudstore/iam/seal/v1");
        let seal = Aes256Gcm::new_from_slice(&seal_key).map_err(|_| Error::Internal("AES key length".into()))?;
        Ok(Self { seal, jwt: derive(master, "cloudstore/iam/jwt/v1") })
    }

    /// A fresh random master key, base64 (for first start).
    pub fn generate_master_key() -> String {
        let mut key = [0u8; 32];
        rand::rng().fill_bytes(&mut key);
        STANDARD.encode(key)
    }

    /// The HS256 key for access tokens.
    pub fn jwt_key(&self) -> &[u8] {
        &self.jwt
    }

    /// Encrypts `secret` (random nonce, authenticated).
    pub fn seal(&self, secret: &str) -> Result<String> {
        let mut nonce = [0u8; 12];
        rand::rng().fill_bytes(&mut nonce);
        let ct = self
            .seal
            .encrypt(&Nonce::from(nonce), secret.as_bytes())
            .map_err(|_| Error::Internal("sealing failed".into()))?;
        let mut out = Vec::with_capacity(12 + ct.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ct);
        Ok(format!("{SEALED_V1}{}", STANDARD.encode(out)))
    }

    /// Decrypts a value made by [`Keyring::seal`] with the same master key.
    pub fn open(&self, sealed: &str) -> Result<String> {
        let bad = || Error::Internal("a sealed secret cannot be opened (wrong master key?)".into());
        let raw = STANDARD.decode(sealed.strip_prefix(SEALED_V1).ok_or_else(bad)?).map_err(|_| bad())?;
        if raw.len() < 12 + 16 {
            return Err(bad());
        }
        let (nonce, ct) = raw.split_at(12);
        let nonce: [u8; 12] = nonce.try_into().map_err(|_| bad())?;
        let plain = self.seal.decrypt(&Nonce::from(nonce), ct).map_err(|_| bad())?;
        String::from_utf8(plain).map_err(|_| bad())
    }
}

/// Hashes a password with argon2id (default parameters: 19 MiB, 2 passes) and a random salt.
/// CPU-heavy: call from a blocking thread.
pub fn hash_password(password: &str) -> Result<String> {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| Error::Internal(format!("salt: {e}")))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Error::Internal(format!("password hash: {e}")))
}

/// Checks a password against a stored hash (constant time inside argon2). CPU-heavy.
pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
}

/// A hash of a random password, verified against when the user does not exist, so that a login
/// for an unknown name costs the same time as one with a wrong password.
pub fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash_password(&crate::ids::secret_key()).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_round_trip_and_tamper() {
        let k = Keyring::new(&[7u8; 32]).expect("keyring");
        let sealed = k.seal("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY").expect("seal");
        assert!(!sealed.contains("wJalr"), "the secret appears in the sealed form");
        assert_eq!(k.open(&sealed).expect("open"), "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
        // Two seals of the same secret differ (random nonce).
        assert_ne!(sealed, k.seal("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY").expect("seal"));
        // Another master key cannot open it; a flipped byte is refused.
        let other = Keyring::new(&[8u8; 32]).expect("keyring");
        assert!(other.open(&sealed).is_err());
        let mut raw = STANDARD.decode(&sealed[3..]).expect("b64");
        raw[20] ^= 1;
        assert!(k.open(&format!("v1:{}", STANDARD.encode(raw))).is_err());
        assert!(k.open("garbage").is_err());
        assert!(k.open("v1:").is_err());
        assert!(Keyring::new(&[1u8; 16]).is_err(), "short master keys are refused");
    }

    #[test]
    fn passwords_hash_with_argon2id_and_verify() {
        let h = hash_password("correct horse battery staple").expect("hash");
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(verify_password("correct horse battery staple", &h));
        assert!(!verify_password("correct horse battery stapLe", &h));
        assert!(!verify_password("x", "not a hash"));
        assert_ne!(h, hash_password("correct horse battery staple").expect("hash"), "salts differ");
        assert!(!verify_password("anything", dummy_hash()));
    }

    #[test]
    fn jwt_key_is_derived_and_stable() {
        let a = Keyring::new(&[7u8; 32]).expect("keyring");
        let b = Keyring::new(&[7u8; 32]).expect("keyring");
        assert_eq!(a.jwt_key(), b.jwt_key());
        assert_ne!(a.jwt_key(), Keyring::new(&[9u8; 32]).expect("keyring").jwt_key());
    }
}

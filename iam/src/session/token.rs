//! Access tokens (JWT, HS256), refresh tokens, session ids and secret hashing.
//!
//! All functions are pure (apart from randomness) and never panic on
//! untrusted input.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

/// Longest access token accepted by [`verify_access_token`], in bytes.
pub const MAX_ACCESS_TOKEN_LEN: usize = 4096;

/// Length of the secret part of a refresh token (base64url of 32 bytes).
const REFRESH_SECRET_LEN: usize = 43;

/// Longest session id accepted by [`parse_refresh_token`].
const MAX_SESSION_ID_LEN: usize = 128;

/// Fixed JOSE header of every access token.
const HEADER_B64: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"; // {"alg":"HS256","typ":"JWT"}

/// Claims of an access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    /// User id.
    pub sub: String,
    /// Account id.
    pub acc: String,
    /// Session id (see [`crate::session::SessionStore::get`]).
    pub sid: String,
    /// Issued at (unix seconds).
    pub iat: i64,
    /// Expiry (unix seconds); the token is refused from this second on.
    pub exp: i64,
}

/// Why an access token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Longer than [`MAX_ACCESS_TOKEN_LEN`].
    #[error("token too long")]
    TooLong,
    /// Not a well-formed JWT with the expected claims.
    #[error("malformed token")]
    Malformed,
    /// The header names another algorithm than HS256 (or another type than JWT).
    #[error("unsupported token algorithm")]
    UnsupportedAlgorithm,
    /// The signature does not match.
    #[error("bad token signature")]
    BadSignature,
    /// `exp` is not after the current time.
    #[error("token expired")]
    Expired,
}

#[derive(Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    typ: Option<String>,
}

/// HMAC-SHA256 keyed with `key`, for keys of any length.
///
/// HMAC zero-pads keys up to the block size (64 bytes) and hashes longer ones
/// first; doing that here lets us use the infallible block-size constructor.
fn mac(key: &[u8]) -> HmacSha256 {
    let mut block = [0u8; 64];
    if key.len() > block.len() {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    <HmacSha256 as hmac::digest::KeyInit>::new(&block.into())
}

/// Signs `claims` as an HS256 JWT with `key`.
pub fn sign_access_token(claims: &AccessClaims, key: &[u8]) -> String {
    // Serializing a struct of strings and integers cannot fail.
    let payload = serde_json::to_vec(claims).unwrap_or_default();
    let mut token = String::with_capacity(HEADER_B64.len() + payload.len() * 4 / 3 + 48);
    token.push_str(HEADER_B64);
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(&payload, &mut token);
    let mut m = mac(key);
    m.update(token.as_bytes());
    let sig = m.finalize().into_bytes();
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(sig, &mut token);
    token
}

/// Verifies an HS256 JWT signed with `key` and returns its claims.
///
/// Refuses tokens over [`MAX_ACCESS_TOKEN_LEN`] bytes, any algorithm other than
/// HS256 (including `none`), a bad signature (checked in constant time before
/// the payload is parsed), malformed input and expired tokens (`exp <= now`).
pub fn verify_access_token(token: &str, key: &[u8], now: i64) -> Result<AccessClaims, TokenError> {
    if token.len() > MAX_ACCESS_TOKEN_LEN {
        return Err(TokenError::TooLong);
    }
    let mut parts = token.split('.');
    let (Some(header_b64), Some(payload_b64), Some(sig_b64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Malformed);
    };

    let header_json = URL_SAFE_NO_PAD.decode(header_b64).map_err(|_| TokenError::Malformed)?;
    let header: Header = serde_json::from_slice(&header_json).map_err(|_| TokenError::Malformed)?;
    if header.alg != "HS256" || header.typ.as_deref().is_some_and(|t| t != "JWT") {
        return Err(TokenError::UnsupportedAlgorithm);
    }

    let sig = URL_SAFE_NO_PAD.decode(sig_b64).map_err(|_| TokenError::Malformed)?;
    let mut m = mac(key);
    m.update(header_b64.as_bytes());
    m.update(b".");
    m.update(payload_b64.as_bytes());
    m.verify_slice(&sig).map_err(|_| TokenError::BadSignature)?;

    let payload = URL_SAFE_NO_PAD.decode(payload_b64).map_err(|_| TokenError::Malformed)?;
    let claims: AccessClaims = serde_json::from_slice(&payload).map_err(|_| TokenError::Malformed)?;
    if claims.exp <= now {
        return Err(TokenError::Expired);
    }
    Ok(claims)
}

/// A new random session id: 32 lowercase hex characters (UUID v4, simple form).
pub fn new_session_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// A new refresh token for `session_id`.
///
/// Returns the token to give to the client, `"<session_id>.<secret>"` where
/// the secret is 32 random bytes in base64url (43 characters), and the hex
/// SHA-256 of the secret part, to store in [`crate::session::WebSession::refresh_hash`].
pub fn new_refresh_token(session_id: &str) -> (String, String) {
    let bytes: [u8; 32] = rand::random();
    let secret = URL_SAFE_NO_PAD.encode(bytes);
    let hash = hash_secret(&secret);
    (format!("{session_id}.{secret}"), hash)
}

/// Splits a refresh token into its session id and the hex SHA-256 of its
/// secret part; `None` if it is not shaped like one from [`new_refresh_token`].
pub fn parse_refresh_token(token: &str) -> Option<(String, String)> {
    let (sid, secret) = token.split_once('.')?;
    let sid_ok = !sid.is_empty()
        && sid.len() <= MAX_SESSION_ID_LEN
        && sid.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !sid_ok || secret.len() != REFRESH_SECRET_LEN {
        return None;
    }
    // Also rejects non-canonical encodings (stray trailing bits).
    let bytes = URL_SAFE_NO_PAD.decode(secret).ok()?;
    if bytes.len() != 32 {
        return None;
    }
    Some((sid.to_owned(), hash_secret(secret)))
}

/// Hex SHA-256 of `s`.
pub fn hash_secret(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

/// Compares two strings in time independent of where they differ.
///
/// The length is not hidden; compare fixed-length values such as hashes.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"test signing key, 32 bytes long!";
    const NOW: i64 = 1_700_000_000;

    fn claims() -> AccessClaims {
        AccessClaims {
            sub: "user-1".into(),
            acc: "123456789012".into(),
            sid: new_session_id(),
            iat: NOW,
            exp: NOW + 900,
        }
    }

    fn b64(s: &str) -> String {
        URL_SAFE_NO_PAD.encode(s)
    }

    /// Re-signs `header.payload` correctly with KEY.
    fn resign(header_b64: &str, payload_b64: &str) -> String {
        let mut m = mac(KEY);
        m.update(format!("{header_b64}.{payload_b64}").as_bytes());
        let sig = URL_SAFE_NO_PAD.encode(m.finalize().into_bytes());
        format!("{header_b64}.{payload_b64}.{sig}")
    }

    #[test]
    fn header_constant_matches() {
        assert_eq!(b64(r#"{"alg":"HS256","typ":"JWT"}"#), HEADER_B64);
    }

    #[test]
    fn round_trip() {
        let c = claims();
        let t = sign_access_token(&c, KEY);
        assert_eq!(t.split('.').count(), 3);
        assert!(!t.contains('='));
        assert_eq!(verify_access_token(&t, KEY, NOW), Ok(c.clone()));
        assert_eq!(verify_access_token(&t, KEY, NOW + 899), Ok(c));
    }

    #[test]
    fn expired() {
        let t = sign_access_token(&claims(), KEY);
        assert_eq!(verify_access_token(&t, KEY, NOW + 900), Err(TokenError::Expired));
        assert_eq!(verify_access_token(&t, KEY, NOW + 10_000), Err(TokenError::Expired));
    }

    #[test]
    fn wrong_key() {
        let t = sign_access_token(&claims(), KEY);
        assert_eq!(verify_access_token(&t, b"another key", NOW), Err(TokenError::BadSignature));
        assert_eq!(verify_access_token(&t, b"", NOW), Err(TokenError::BadSignature));
    }

    #[test]
    fn tampered_header() {
        let t = sign_access_token(&claims(), KEY);
        let (_, rest) = t.split_once('.').unwrap_or_default();
        // Same algorithm, different bytes: signature no longer matches.
        let h = b64(r#"{"typ":"JWT","alg":"HS256"}"#);
        assert_eq!(verify_access_token(&format!("{h}.{rest}"), KEY, NOW), Err(TokenError::BadSignature));
        // Other algorithms are refused before looking at the signature.
        for alg in ["HS512", "RS256", "none", "None", "hs256", ""] {
            let h = b64(&format!(r#"{{"alg":"{alg}","typ":"JWT"}}"#));
            assert_eq!(
                verify_access_token(&format!("{h}.{rest}"), KEY, NOW),
                Err(TokenError::UnsupportedAlgorithm),
                "{alg}"
            );
        }
        let h = b64(r#"{"alg":"HS256","typ":"JWE"}"#);
        assert_eq!(
            verify_access_token(&resign(&h, rest.split('.').next().unwrap_or("")), KEY, NOW),
            Err(TokenError::UnsupportedAlgorithm)
        );
        let h = b64(r#"{"typ":"JWT"}"#);
        assert_eq!(verify_access_token(&format!("{h}.{rest}"), KEY, NOW), Err(TokenError::Malformed));
    }

    #[test]
    fn tampered_payload() {
        let c = claims();
        let t = sign_access_token(&c, KEY);
        let parts: Vec<&str> = t.split('.').collect();
        let mut evil = c.clone();
        evil.sub = "admin".into();
        evil.exp = NOW + 1_000_000;
        let p = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&evil).unwrap_or_default());
        assert_eq!(
            verify_access_token(&format!("{}.{p}.{}", parts[0], parts[2]), KEY, NOW),
            Err(TokenError::BadSignature)
        );
        // Every single-character change of the payload is caught.
        let payload = parts[1].as_bytes();
        for i in 0..payload.len() {
            let mut p = payload.to_vec();
            p[i] = if p[i] == b'A' { b'B' } else { b'A' };
            let p = String::from_utf8(p).unwrap_or_default();
            let r = verify_access_token(&format!("{}.{p}.{}", parts[0], parts[2]), KEY, NOW);
            assert!(matches!(r, Err(TokenError::BadSignature)), "position {i}: {r:?}");
        }
    }

    #[test]
    fn tampered_signature() {
        let t = sign_access_token(&claims(), KEY);
        let (hp, sig) = t.rsplit_once('.').unwrap_or_default();
        // Flip each character of the signature.
        for i in 0..sig.len() {
            let mut s = sig.as_bytes().to_vec();
            s[i] = if s[i] == b'A' { b'B' } else { b'A' };
            let s = String::from_utf8(s).unwrap_or_default();
            let r = verify_access_token(&format!("{hp}.{s}"), KEY, NOW);
            assert!(matches!(r, Err(TokenError::BadSignature | TokenError::Malformed)), "position {i}: {r:?}");
        }
        // Truncated, empty, padded or extended signatures.
        for s in [&sig[..sig.len() - 1], "", &format!("{sig}="), &format!("{sig}AA")] {
            let r = verify_access_token(&format!("{hp}.{s}"), KEY, NOW);
            assert!(matches!(r, Err(TokenError::BadSignature | TokenError::Malformed)), "{r:?}");
        }
    }

    #[test]
    fn alg_none_unsigned() {
        let c = claims();
        let h = b64(r#"{"alg":"none","typ":"JWT"}"#);
        let p = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&c).unwrap_or_default());
        for t in [format!("{h}.{p}."), format!("{h}.{p}")] {
            let r = verify_access_token(&t, KEY, NOW);
            assert!(matches!(r, Err(TokenError::UnsupportedAlgorithm | TokenError::Malformed)), "{r:?}");
        }
        assert_eq!(verify_access_token(&format!("{h}.{p}."), KEY, NOW), Err(TokenError::UnsupportedAlgorithm));
    }

    #[test]
    fn correctly_signed_but_bad_claims() {
        let h = HEADER_B64;
        for payload in [
            "{}",
            "null",
            "[]",
            r#"{"sub":"u","acc":"a","sid":"s","iat":1}"#,
            r#"{"sub":"u","acc":"a","sid":"s","iat":1,"exp":"never"}"#,
            r#"{"sub":1,"acc":"a","sid":"s","iat":1,"exp":9999999999}"#,
        ] {
            let t = resign(h, &b64(payload));
            assert_eq!(verify_access_token(&t, KEY, NOW), Err(TokenError::Malformed), "{payload}");
        }
        // Payload that is not base64url at all.
        let t = resign(h, "not*base64");
        assert_eq!(verify_access_token(&t, KEY, NOW), Err(TokenError::Malformed));
    }

    #[test]
    fn garbage() {
        for t in [
            "",
            ".",
            "..",
            "...",
            "a.b.c",
            "a.b.c.d",
            "eyJhbGciOiJIUzI1NiJ9",
            "eyJhbGciOiJIUzI1NiJ9..",
            "\u{0}\u{0}.\u{0}.\u{0}",
            "ééé.ééé.ééé",
            "Bearer abc",
            "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.e30.",
        ] {
            let r = verify_access_token(t, KEY, NOW);
            assert!(
                matches!(r, Err(TokenError::Malformed | TokenError::BadSignature | TokenError::UnsupportedAlgorithm)),
                "{t:?}: {r:?}"
            );
        }
    }

    #[test]
    fn long_input() {
        let t = "a".repeat(MAX_ACCESS_TOKEN_LEN + 1);
        assert_eq!(verify_access_token(&t, KEY, NOW), Err(TokenError::TooLong));
        let t = format!("{}.{}.{}", "a".repeat(3000), "b".repeat(3000), "c");
        assert_eq!(verify_access_token(&t, KEY, NOW), Err(TokenError::TooLong));
        // A validly signed but oversized token is refused too.
        let mut c = claims();
        c.sub = "x".repeat(4000);
        let t = sign_access_token(&c, KEY);
        assert_eq!(verify_access_token(&t, KEY, NOW), Err(TokenError::TooLong));
        // Exactly at the limit is fine as far as length goes.
        let t = "a".repeat(MAX_ACCESS_TOKEN_LEN);
        assert_eq!(verify_access_token(&t, KEY, NOW), Err(TokenError::Malformed));
    }

    #[test]
    fn hmac_matches_reference_for_any_key_length() {
        // RFC 4231 test case 6 (131-byte key) and case 2 (short key).
        let long_key = [0xaau8; 131];
        let mut m = mac(&long_key);
        m.update(b"Test Using Larger Than Block-Size Key - Hash Key First");
        assert_eq!(
            hex::encode(m.finalize().into_bytes()),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
        let mut m = mac(b"Jefe");
        m.update(b"what do ya want for nothing?");
        assert_eq!(
            hex::encode(m.finalize().into_bytes()),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // Exactly one block.
        let key = [7u8; 64];
        let mut a = mac(&key);
        let mut b = <HmacSha256 as Mac>::new_from_slice(&key).unwrap_or_else(|_| mac(&[]));
        a.update(b"x");
        b.update(b"x");
        assert_eq!(a.finalize().into_bytes(), b.finalize().into_bytes());
    }

    #[test]
    fn refresh_token_round_trip() {
        let sid = new_session_id();
        let (token, hash) = new_refresh_token(&sid);
        let (s, secret) = token.split_once('.').unwrap_or_default();
        assert_eq!(s, sid);
        assert_eq!(secret.len(), 43);
        assert_eq!(hash, hash_secret(secret));
        assert_eq!(hash.len(), 64);
        assert_eq!(parse_refresh_token(&token), Some((sid.clone(), hash.clone())));
        // Fresh secret every time.
        let (token2, hash2) = new_refresh_token(&sid);
        assert_ne!(token, token2);
        assert_ne!(hash, hash2);
    }

    #[test]
    fn refresh_token_rejects_garbage() {
        let sid = new_session_id();
        let (token, _) = new_refresh_token(&sid);
        let (_, secret) = token.split_once('.').unwrap_or_default();
        for t in [
            String::new(),
            ".".into(),
            sid.clone(),
            format!("{sid}."),
            format!(".{secret}"),
            format!("{sid}.{}", &secret[1..]),
            format!("{sid}.{secret}A"),
            format!("{sid}.{secret}="),
            format!("{sid}.{}*", &secret[..42]),
            format!("{sid}.{}", "/".repeat(43)),
            format!("a b.{secret}"),
            format!("{sid}.x.{secret}"),
            format!("{}.{secret}", "a".repeat(129)),
        ] {
            assert_eq!(parse_refresh_token(&t), None, "{t:?}");
        }
        // The last character of 43 base64 chars carries 2 padding bits; a
        // non-canonical one is rejected.
        let mut odd = secret.as_bytes().to_vec();
        odd[42] = b'B'; // value 1: a trailing bit set
        let odd = String::from_utf8(odd).unwrap_or_default();
        assert_eq!(parse_refresh_token(&format!("{sid}.{odd}")), None);
    }

    #[test]
    fn session_ids_are_unique_and_simple() {
        let a = new_session_id();
        let b = new_session_id();
        assert_ne!(a, b);
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
    }

    #[test]
    fn hashing_and_comparison() {
        assert_eq!(hash_secret("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert!(constant_time_eq("abc", "abc"));
        assert!(!constant_time_eq("abc", "abd"));
        assert!(!constant_time_eq("abc", "abcd"));
        assert!(constant_time_eq("", ""));
    }
}

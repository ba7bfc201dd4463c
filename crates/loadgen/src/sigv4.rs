//! A minimal AWS Signature Version 4 signer for S3 header auth with `UNSIGNED-PAYLOAD`.
//!
//! Only what the load generator sends: signed headers `host`, `x-amz-content-sha256` and
//! `x-amz-date` (plus any extra headers the caller passes, e.g. in tests). HMAC-SHA256 is built
//! on `sha2` directly, so this needs no extra crates.

use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};

pub(crate) const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";

/// HMAC-SHA256 (RFC 2104) over `sha2`.
pub(crate) fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let mut ipad = [0x36u8; 64];
    let mut opad = [0x5cu8; 64];
    for ((i, o), k) in ipad.iter_mut().zip(opad.iter_mut()).zip(block.iter()) {
        *i ^= k;
        *o ^= k;
    }
    let inner = Sha256::new().chain_update(ipad).chain_update(data).finalize();
    Sha256::new().chain_update(opad).chain_update(inner).finalize().into()
}

/// `YYYYMMDD'T'HHMMSS'Z'` for a UNIX time in seconds (UTC).
pub(crate) fn amz_date(unix_secs: u64) -> String {
    let days = (unix_secs / 86_400) as i64;
    let rem = unix_secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z", rem / 3600, (rem / 60) % 60, rem % 60)
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar
/// (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Percent-encodes per SigV4 rules: everything but `A-Za-z0-9-._~` (and `/` when `keep_slash`).
pub(crate) fn uri_encode(s: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for &b in s.as_bytes() {
        let unreserved = b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~');
        if unreserved || (keep_slash && b == b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Builds the canonical query string (and the query string to send: they are the same) from
/// unencoded pairs.
pub(crate) fn canonical_query(params: &[(&str, &str)]) -> String {
    let mut enc: Vec<(String, String)> =
        params.iter().map(|(k, v)| (uri_encode(k, false), uri_encode(v, false))).collect();
    enc.sort();
    let mut out = String::new();
    for (i, (k, v)) in enc.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(k);
        out.push('=');
        out.push_str(v);
    }
    out
}

#[derive(Debug)]
pub(crate) struct Signer {
    access_key: String,
    secret_key: String,
    region: String,
    /// (yyyymmdd, signing key) for the last day used.
    key_cache: Mutex<Option<(String, [u8; 32])>>,
}

/// The headers a caller must add to the request.
#[derive(Debug)]
pub(crate) struct Signed {
    pub(crate) amz_date: String,
    pub(crate) authorization: String,
}

impl Signer {
    pub(crate) fn new(access_key: &str, secret_key: &str, region: &str) -> Self {
        Signer {
            access_key: access_key.to_owned(),
            secret_key: secret_key.to_owned(),
            region: region.to_owned(),
            key_cache: Mutex::new(None),
        }
    }

    fn signing_key(&self, day: &str) -> [u8; 32] {
        let mut cache = self.key_cache.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((d, k)) = cache.as_ref()
            && d == day
        {
            return *k;
        }
        let k_date = hmac_sha256(format!("AWS4{}", self.secret_key).as_bytes(), day.as_bytes());
        let k_region = hmac_sha256(&k_date, self.region.as_bytes());
        let k_service = hmac_sha256(&k_region, b"s3");
        let k = hmac_sha256(&k_service, b"aws4_request");
        *cache = Some((day.to_owned(), k));
        k
    }

    /// Signs a request at the current time. `canonical_uri` must already be encoded (see
    /// [`uri_encode`] with `keep_slash`), `query` must come from [`canonical_query`].
    pub(crate) fn sign_now(&self, method: &str, host: &str, canonical_uri: &str, query: &str) -> Signed {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        self.sign(method, host, canonical_uri, query, &amz_date(now), &[], UNSIGNED_PAYLOAD)
    }

    /// Signs with explicit time, extra headers (lower-case names, sorted together with the
    /// standard ones) and payload hash.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn sign(
        &self,
        method: &str,
        host: &str,
        canonical_uri: &str,
        query: &str,
        amz_date: &str,
        extra_headers: &[(&str, &str)],
        payload_hash: &str,
    ) -> Signed {
        let mut headers: Vec<(&str, &str)> =
            vec![("host", host), ("x-amz-content-sha256", payload_hash), ("x-amz-date", amz_date)];
        headers.extend_from_slice(extra_headers);
        headers.sort_by(|a, b| a.0.cmp(b.0));
        let mut canonical_headers = String::new();
        let mut signed_headers = String::new();
        for (i, (name, value)) in headers.iter().enumerate() {
            canonical_headers.push_str(name);
            canonical_headers.push(':');
            canonical_headers.push_str(value.trim());
            canonical_headers.push('\n');
            if i > 0 {
                signed_headers.push(';');
            }
            signed_headers.push_str(name);
        }
        let canonical_request =
            format!("{method}\n{canonical_uri}\n{query}\n{canonical_headers}\n{signed_headers}\n{payload_hash}");
        let day = &amz_date[..8];
        let scope = format!("{day}/{}/s3/aws4_request", self.region);
        let string_to_sign = format!(
            "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
            hex::encode(Sha256::digest(canonical_request.as_bytes()))
        );
        let signature = hex::encode(hmac_sha256(&self.signing_key(day), string_to_sign.as_bytes()));
        Signed {
            amz_date: amz_date.to_owned(),
            authorization: format!(
                "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed_headers}, Signature={signature}",
                self.access_key
            ),
        }
    }
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

    #[test]
    fn dates() {
        assert_eq!(amz_date(0), "19700101T000000Z");
        assert_eq!(amz_date(1_369_353_600), "20130524T000000Z");
        assert_eq!(amz_date(951_782_400 + 3661), "20000229T010101Z");
        assert_eq!(amz_date(1_767_225_599), "20251231T235959Z");
    }

    #[test]
    fn encoding() {
        assert_eq!(uri_encode("a b/c~d+é", true), "a%20b/c~d%2B%C3%A9");
        assert_eq!(uri_encode("lg/x", false), "lg%2Fx");
        assert_eq!(
            canonical_query(&[("prefix", "lg/"), ("list-type", "2"), ("max-keys", "1000")]),
            "list-type=2&max-keys=1000&prefix=lg%2F"
        );
    }

    /// The "GET Object" example from the AWS SigV4 documentation for S3 header auth.
    #[test]
    fn aws_documented_get_object_example() {
        let signer = Signer::new("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "us-east-1");
        let signed = signer.sign(
            "GET",
            "examplebucket.s3.amazonaws.com",
            "/test.txt",
            "",
            "20130524T000000Z",
            &[("range", "bytes=0-9")],
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        );
        assert_eq!(
            signed.authorization,
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, \
             SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, \
             Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
        );
    }

    /// The "GET Bucket (List Objects)" example: query string signing.
    #[test]
    fn aws_documented_list_objects_example() {
        let signer = Signer::new("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "us-east-1");
        let signed = signer.sign(
            "GET",
            "examplebucket.s3.amazonaws.com",
            "/",
            &canonical_query(&[("max-keys", "2"), ("prefix", "J")]),
            "20130524T000000Z",
            &[],
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        );
        assert!(
            signed
                .authorization
                .ends_with("Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"),
            "{}",
            signed.authorization
        );
    }
}

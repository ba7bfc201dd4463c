//! The signer.

use std::fmt;

use http::header::{AUTHORIZATION, HOST, HeaderName, HeaderValue};
use http::request::Parts;
use time::OffsetDateTime;

use crate::canonical::{canonical_request, double_encodes, string_to_sign};
use crate::date::format_amz_date;
use crate::key::{SigningKeyCache, hmac_sha256, signing_key};
use crate::{Error, UNSIGNED_PAYLOAD, X_AMZ_CONTENT_SHA256, X_AMZ_DATE, X_AMZ_SECURITY_TOKEN};

/// An access key pair, optionally with the session token of temporary credentials.
///
/// `Debug` shows the access key only; the secret and the token are redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub access_key: String,
    pub secret_key: String,
    pub session_token: Option<String>,
}

impl Credentials {
    /// Long-term credentials (no session token).
    pub fn new(access_key: impl Into<String>, secret_key: impl Into<String>) -> Self {
        Credentials { access_key: access_key.into(), secret_key: secret_key.into(), session_token: None }
    }

    /// Adds the session token of temporary credentials.
    #[must_use]
    pub fn with_session_token(mut self, token: impl Into<String>) -> Self {
        self.session_token = Some(token.into());
        self
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key", &self.access_key)
            .field("secret_key", &"<redacted>")
            .field("session_token", &self.session_token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// Where and when a request is signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SigningParams<'a> {
    pub region: &'a str,
    /// `s3`, `iam`, `sts`, ...: `s3` selects S3's single URI encoding of the path.
    pub service: &'a str,
    /// The signing time; any offset, it is converted to UTC.
    pub time: OffsetDateTime,
}

/// Headers never signed: hop-by-hop headers and those that proxies or HTTP clients add or
/// rewrite (botocore's list, plus `authorization` itself).
const UNSIGNABLE: &[&str] = &[
    "authorization",
    "connection",
    "expect",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "user-agent",
    "x-amzn-trace-id",
];

/// Something usable in a credential scope: not empty, no `/`, `,`, `=`, whitespace or controls.
fn scope_safe(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_graphic() && !matches!(b, b'/' | b',' | b'='))
}

fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Signs a request in place (header form).
///
/// Sets `x-amz-date` (from `params.time`), `x-amz-content-sha256` (`payload_sha256_hex`: the
/// body's [`payload_hash`](crate::payload_hash) or [`UNSIGNED_PAYLOAD`]), `x-amz-security-token`
/// when the credentials have one, and finally `Authorization`, replacing earlier values of these,
/// so signing again (a retry) is fine. If there is no `Host` header it is set from the URI's
/// authority; without either this fails with [`Error::MissingHeader`].
///
/// Every header present is signed except hop-by-hop ones and `user-agent`, `expect`,
/// `x-amzn-trace-id` (as botocore does). Headers added afterwards (e.g. `content-length` by the
/// HTTP client) are simply not signed. The URI path and query must be sent exactly as they are
/// in `parts.uri`.
pub fn sign(
    parts: &mut Parts,
    payload_sha256_hex: &str,
    creds: &Credentials,
    params: &SigningParams<'_>,
) -> Result<(), Error> {
    sign_inner(parts, payload_sha256_hex, creds, params, |date| {
        signing_key(&creds.secret_key, date, params.region, params.service)
    })
}

impl SigningKeyCache {
    /// [`sign`] with the signing key from this cache.
    pub fn sign_cached(
        &self,
        parts: &mut Parts,
        payload_sha256_hex: &str,
        creds: &Credentials,
        params: &SigningParams<'_>,
    ) -> Result<(), Error> {
        sign_inner(parts, payload_sha256_hex, creds, params, |date| {
            self.signing_key(&creds.secret_key, date, params.region, params.service)
        })
    }
}

fn sign_inner(
    parts: &mut Parts,
    payload_sha256_hex: &str,
    creds: &Credentials,
    params: &SigningParams<'_>,
    key: impl FnOnce(&str) -> [u8; 32],
) -> Result<(), Error> {
    if !scope_safe(&creds.access_key) {
        return Err(Error::Malformed("the access key is empty or has characters a credential cannot hold".into()));
    }
    if !scope_safe(params.region) || !scope_safe(params.service) {
        return Err(Error::Malformed("the region or service is empty or has characters a scope cannot hold".into()));
    }
    if payload_sha256_hex != UNSIGNED_PAYLOAD && !is_sha256_hex(payload_sha256_hex) {
        return Err(Error::Malformed("the payload hash must be 64 lower-case hex digits or UNSIGNED-PAYLOAD".into()));
    }
    let amz_date = format_amz_date(params.time)?;
    let token = match &creds.session_token {
        Some(t) => Some(
            HeaderValue::from_str(t)
                .map_err(|_| Error::Malformed("the session token is not a valid header value".into()))?,
        ),
        None => None,
    };

    let headers = &mut parts.headers;
    for name in [AUTHORIZATION.as_str(), X_AMZ_DATE, X_AMZ_CONTENT_SHA256, X_AMZ_SECURITY_TOKEN] {
        headers.remove(name);
    }
    if !headers.contains_key(HOST) {
        let authority = parts.uri.authority().ok_or(Error::MissingHeader("host"))?;
        let value = HeaderValue::from_str(authority.as_str())
            .map_err(|_| Error::Malformed("the URI authority is not a valid Host header".into()))?;
        headers.insert(HOST, value);
    }
    // Both were validated above: plain ASCII.
    headers.insert(X_AMZ_DATE, HeaderValue::from_str(&amz_date).map_err(|_| Error::Malformed("date".into()))?);
    headers.insert(
        X_AMZ_CONTENT_SHA256,
        HeaderValue::from_str(payload_sha256_hex).map_err(|_| Error::Malformed("payload hash".into()))?,
    );
    if let Some(token) = token {
        headers.insert(X_AMZ_SECURITY_TOKEN, token);
    }

    let mut signed: Vec<&str> =
        parts.headers.keys().map(HeaderName::as_str).filter(|n| !UNSIGNABLE.contains(n)).collect();
    signed.sort_unstable();
    signed.dedup();

    let date = &amz_date[..8];
    let scope = format!("{date}/{}/{}/aws4_request", params.region, params.service);
    let canonical = canonical_request(parts, &signed, payload_sha256_hex, double_encodes(params.service))?;
    let sts = string_to_sign(&amz_date, &scope, &canonical);
    let signature = hex::encode(hmac_sha256(&key(date), sts.as_bytes()));
    let authorization = format!(
        "{} Credential={}/{scope}, SignedHeaders={}, Signature={signature}",
        crate::ALGORITHM,
        creds.access_key,
        signed.join(";")
    );
    let authorization = HeaderValue::from_str(&authorization)
        .map_err(|_| Error::Malformed("the Authorization value is not a valid header value".into()))?;
    parts.headers.insert(AUTHORIZATION, authorization);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_redacts_secrets() {
        let creds = Credentials::new("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
            .with_session_token("FQoGZXIvYXdzEXAMPLETOKEN");
        let shown = format!("{creds:?} {creds:#?}");
        assert!(shown.contains("AKIDEXAMPLE"));
        assert!(!shown.contains("wJalrXUtnFEMI") && !shown.contains("EXAMPLEKEY"), "{shown}");
        assert!(!shown.contains("FQoGZXIvYXdz") && !shown.contains("TOKEN"), "{shown}");
        assert!(format!("{:?}", Credentials::new("A", "S")).contains("session_token: None"));
    }
}

//! The verifier.

use std::time::Duration;

use http::header::DATE;
use http::request::Parts;
use subtle::ConstantTimeEq;
use time::OffsetDateTime;

use crate::canonical::{canonical_request, double_encodes, string_to_sign};
use crate::date::{format_amz_date, parse_amz_date, parse_http_date};
use crate::key::{SigningKeyCache, hmac_sha256, signing_key};
use crate::{AuthorizationHeader, Error, UNSIGNED_PAYLOAD, X_AMZ_CONTENT_SHA256, X_AMZ_DATE, X_AMZ_SECURITY_TOKEN};

/// How far a request's time may be from the server's clock: AWS allows 15 minutes.
pub const DEFAULT_MAX_SKEW: Duration = Duration::from_secs(15 * 60);

/// Everything [`verify_with`] needs besides the request, its parsed `Authorization` header and
/// the secret key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerifyParams<'a> {
    /// SHA-256 (lower-case hex) of the body as received: [`payload_hash`](crate::payload_hash).
    pub payload_sha256_hex: &'a str,
    /// The server's clock.
    pub now: OffsetDateTime,
    /// How far the request time may be from `now`, either way.
    pub max_skew: Duration,
    /// Whether `x-amz-content-sha256: UNSIGNED-PAYLOAD` is acceptable (the body is then not
    /// covered by the signature).
    pub allow_unsigned_payload: bool,
}

impl<'a> VerifyParams<'a> {
    /// [`DEFAULT_MAX_SKEW`], unsigned payloads refused.
    pub fn new(payload_sha256_hex: &'a str, now: OffsetDateTime) -> Self {
        VerifyParams { payload_sha256_hex, now, max_skew: DEFAULT_MAX_SKEW, allow_unsigned_payload: false }
    }
}

/// Verifies a header-signed request (unsigned payloads refused); see [`verify_with`].
pub fn verify(
    parts: &Parts,
    auth: &AuthorizationHeader,
    secret_key: &str,
    payload_sha256_hex: &str,
    now: OffsetDateTime,
    max_skew: Duration,
) -> Result<(), Error> {
    let params = VerifyParams { payload_sha256_hex, now, max_skew, allow_unsigned_payload: false };
    verify_with(parts, auth, secret_key, &params)
}

/// Verifies a header-signed request against `auth` (from [`parse_authorization`](crate::parse_authorization))
/// and the secret key of `auth.access_key`.
///
/// The caller must check beforehand that `auth.region` and `auth.service` are its own; this
/// checks, in order:
/// - `host` is signed ([`Error::HeaderNotSigned`]), so is `x-amz-security-token` if present;
/// - the request time: `x-amz-date` if present, else `Date`, which must be signed
///   ([`Error::MissingHeader`], [`Error::HeaderNotSigned`], [`Error::Malformed`]);
/// - the credential scope date is that time's UTC day ([`Error::ScopeDateMismatch`]);
/// - that time is within `max_skew` of `now` ([`Error::RequestTimeTooSkewed`]);
/// - `x-amz-content-sha256`, if present, equals the hash of the received body
///   ([`Error::ContentSha256Mismatch`]) or is `UNSIGNED-PAYLOAD` and that is allowed
///   ([`Error::UnsignedPayloadNotAllowed`]); without the header the body hash is used;
/// - the signature over the canonical request, compared in constant time
///   ([`Error::SignatureDoesNotMatch`]). The canonical URI is the path as sent, encoded once for
///   `s3` and normalized and encoded twice for every other service (see the crate docs).
pub fn verify_with(
    parts: &Parts,
    auth: &AuthorizationHeader,
    secret_key: &str,
    params: &VerifyParams<'_>,
) -> Result<(), Error> {
    verify_inner(parts, auth, params, || signing_key(secret_key, &auth.date, &auth.region, &auth.service))
}

impl SigningKeyCache {
    /// [`verify_with`] with the signing key from this cache.
    pub fn verify_cached(
        &self,
        parts: &Parts,
        auth: &AuthorizationHeader,
        secret_key: &str,
        params: &VerifyParams<'_>,
    ) -> Result<(), Error> {
        verify_inner(parts, auth, params, || self.signing_key(secret_key, &auth.date, &auth.region, &auth.service))
    }
}

fn header_str<'p>(parts: &'p Parts, name: &'static str) -> Result<Option<&'p str>, Error> {
    match parts.headers.get(name) {
        None => Ok(None),
        Some(v) => v.to_str().map(Some).map_err(|_| Error::Malformed(format!("{name} is not ASCII"))),
    }
}

fn verify_inner(
    parts: &Parts,
    auth: &AuthorizationHeader,
    params: &VerifyParams<'_>,
    key: impl FnOnce() -> [u8; 32],
) -> Result<(), Error> {
    if !auth.signs("host") {
        return Err(Error::HeaderNotSigned("host"));
    }
    if parts.headers.contains_key(X_AMZ_SECURITY_TOKEN) && !auth.signs(X_AMZ_SECURITY_TOKEN) {
        return Err(Error::HeaderNotSigned(X_AMZ_SECURITY_TOKEN));
    }

    // The request time, and its x-amz-date spelling for the string to sign.
    let (time, amz_date) = if let Some(v) = header_str(parts, X_AMZ_DATE)? {
        if !auth.signs(X_AMZ_DATE) {
            return Err(Error::HeaderNotSigned(X_AMZ_DATE));
        }
        let t = parse_amz_date(v.trim())
            .ok_or_else(|| Error::Malformed("x-amz-date is not YYYYMMDD'T'HHMMSS'Z'".into()))?;
        (t, v.trim().to_owned())
    } else if let Some(v) = header_str(parts, "date")? {
        if !auth.signs(DATE.as_str()) {
            return Err(Error::HeaderNotSigned("date"));
        }
        let t = parse_http_date(v).ok_or_else(|| Error::Malformed("Date is not an HTTP date".into()))?;
        (t, format_amz_date(t)?)
    } else {
        return Err(Error::MissingHeader(X_AMZ_DATE));
    };
    if amz_date.get(..8) != Some(auth.date.as_str()) {
        return Err(Error::ScopeDateMismatch);
    }
    let skew = (params.now - time).unsigned_abs();
    if skew > params.max_skew {
        return Err(Error::RequestTimeTooSkewed);
    }

    let payload_hash = match header_str(parts, X_AMZ_CONTENT_SHA256)? {
        None => params.payload_sha256_hex,
        Some(UNSIGNED_PAYLOAD) if params.allow_unsigned_payload => UNSIGNED_PAYLOAD,
        Some(UNSIGNED_PAYLOAD) => return Err(Error::UnsignedPayloadNotAllowed),
        Some(v) if v.eq_ignore_ascii_case(params.payload_sha256_hex) => v,
        Some(_) => return Err(Error::ContentSha256Mismatch),
    };

    let signed: Vec<&str> = auth.signed_headers.iter().map(String::as_str).collect();
    let canonical = canonical_request(parts, &signed, payload_hash, double_encodes(&auth.service))?;
    let sts = string_to_sign(&amz_date, &auth.scope(), &canonical);
    let expected = hex::encode(hmac_sha256(&key(), sts.as_bytes()));
    if bool::from(expected.as_bytes().ct_eq(auth.signature.as_bytes())) {
        Ok(())
    } else {
        Err(Error::SignatureDoesNotMatch)
    }
}

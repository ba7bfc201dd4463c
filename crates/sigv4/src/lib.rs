//! AWS Signature Version 4, header form: signing and verification. Pure logic, no I/O.
//!
//! - Clients (the `cloudstore admin` CLI, the load generator, tests) build an
//!   [`http::Request`], and call [`sign`] (or [`SigningKeyCache::sign_cached`]) on its parts.
//! - Servers (the gateway's IAM Query API, STS and admin REST endpoints) call
//!   [`parse_authorization`] on the `Authorization` header, look up the secret of its access key,
//!   check that its region and service are their own, hash the body with [`payload_hash`] and call
//!   [`verify`] / [`verify_with`] (or [`SigningKeyCache::verify_cached`]).
//!
//! What is signed, as AWS defines it (and as botocore and the AWS SDKs do it):
//!
//! - **Canonical URI**: the path exactly as sent in the request line. For service `s3` each
//!   segment is decoded and encoded once (no normalization: `//` and `.` are object key
//!   characters). For every other service the path has dot segments and empty segments removed
//!   and is then encoded *again*, so `/a%20b` is signed as `/a%2520b`; this is the standard
//!   "double encoding" of non-S3 SigV4.
//! - **Canonical query**: pairs decoded and re-encoded (`A-Za-z0-9-._~` kept, everything else
//!   `%XY`, space as `%20`, `+` a literal plus), sorted by key then value.
//! - **Canonical headers**: the signed ones, values trimmed and inner runs of spaces collapsed,
//!   several values of one header joined with `,`.
//! - **Payload**: `x-amz-content-sha256` when present, else the SHA-256 of the body.
//!
//! ```
//! use cloudstore_sigv4::{Credentials, DEFAULT_MAX_SKEW, SigningParams, parse_authorization, payload_hash, sign, verify};
//!
//! // Client: an IAM Query API call.
//! let body = "Action=ListUsers&Version=2010-05-08";
//! let (mut parts, ()) = http::Request::post("http://localhost:9000/")
//!     .header("content-type", "application/x-www-form-urlencoded; charset=utf-8")
//!     .body(())?
//!     .into_parts();
//! let creds = Credentials::new("AKIDEXAMPLE", "secret");
//! let now = time::OffsetDateTime::now_utc();
//! sign(&mut parts, &payload_hash(body.as_bytes()), &creds, &SigningParams { region: "us-east-1", service: "iam", time: now })?;
//!
//! // Server: parse, look the key up, check region and service, verify.
//! let auth = parse_authorization(parts.headers["authorization"].to_str()?)?;
//! assert_eq!((auth.access_key.as_str(), auth.service.as_str()), ("AKIDEXAMPLE", "iam"));
//! verify(&parts, &auth, "secret", &payload_hash(body.as_bytes()), now, DEFAULT_MAX_SKEW)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Presigned URLs (query-string auth), chunked (`aws-chunked`) payloads and SigV4A are not
//! handled here; S3 requests are authenticated by the S3 library.

mod canonical;
mod date;
mod encode;
mod error;
mod header;
mod key;
mod sign;
mod verify;

use sha2::{Digest, Sha256};

pub use crate::encode::{encode_query, uri_encode, uri_encode_path};
pub use crate::error::Error;
pub use crate::header::{ALGORITHM, AuthorizationHeader, parse_authorization};
pub use crate::key::{DEFAULT_CACHE_CAPACITY, SigningKeyCache, signing_key};
pub use crate::sign::{Credentials, SigningParams, sign};
pub use crate::verify::{DEFAULT_MAX_SKEW, VerifyParams, verify, verify_with};

/// The `x-amz-content-sha256` value of a request whose body is not covered by the signature.
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";

/// [`payload_hash`] of an empty body.
pub const EMPTY_PAYLOAD_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// The `x-amz-date` header name.
pub const X_AMZ_DATE: &str = "x-amz-date";
/// The `x-amz-content-sha256` header name.
pub const X_AMZ_CONTENT_SHA256: &str = "x-amz-content-sha256";
/// The `x-amz-security-token` header name (session token of temporary credentials).
pub const X_AMZ_SECURITY_TOKEN: &str = "x-amz-security-token";

/// SHA-256 of a body, lower-case hex: the payload hash for [`sign`] and [`verify`].
pub fn payload_hash(body: &[u8]) -> String {
    hex::encode(Sha256::digest(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_payload_hash() {
        assert_eq!(payload_hash(b""), EMPTY_PAYLOAD_SHA256);
    }
}

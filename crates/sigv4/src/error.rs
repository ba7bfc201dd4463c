//! The one error type of this crate.

/// Why signing or verification failed.
///
/// Messages never contain secret material (secret keys, signing keys, session tokens, computed
/// signatures); the `String` payloads only describe what was wrong with the request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The `Authorization` header or another signing input is syntactically wrong.
    #[error("malformed SigV4 request: {0}")]
    Malformed(String),
    /// A header the scheme needs is absent (`host`, or both `x-amz-date` and `date`).
    #[error("missing header {0}")]
    MissingHeader(&'static str),
    /// A header that must be covered by the signature (`host`, the date header) is not listed in
    /// `SignedHeaders`.
    #[error("header {0} must be signed")]
    HeaderNotSigned(&'static str),
    /// The request time is further from the server's clock than the allowed skew.
    #[error("the difference between the request time and the server's time is too large")]
    RequestTimeTooSkewed,
    /// The date in the credential scope is not the day of the request time.
    #[error("the credential scope date does not match the request date")]
    ScopeDateMismatch,
    /// `x-amz-content-sha256` does not match the hash of the body that was received.
    #[error("x-amz-content-sha256 does not match the request body")]
    ContentSha256Mismatch,
    /// The request says `x-amz-content-sha256: UNSIGNED-PAYLOAD` and the caller does not allow it.
    #[error("unsigned payloads are not accepted here")]
    UnsignedPayloadNotAllowed,
    /// The signature is well formed but wrong (bad secret, or the request was altered).
    #[error("the request signature does not match")]
    SignatureDoesNotMatch,
}

//! The IAM service's one error type. Variants are named by condition; each maps to an AWS IAM
//! error code ([`Error::code`]) and an HTTP status ([`Error::status`]). Messages are shown to
//! clients and never contain secrets.

/// What went wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    NoSuchEntity(String),
    #[error("{0}")]
    EntityAlreadyExists(String),
    #[error("{0}")]
    DeleteConflict(String),
    #[error("{0}")]
    LimitExceeded(String),
    #[error("{0}")]
    MalformedPolicyDocument(String),
    #[error("{0}")]
    InvalidInput(String),
    #[error("{0}")]
    ValidationError(String),
    #[error("{0}")]
    AccessDenied(String),
    /// No or bad credentials (REST: 401).
    #[error("{0}")]
    Unauthenticated(String),
    /// Too many failed logins.
    #[error("too many failed attempts; retry in {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    #[error("{0}")]
    InvalidAction(String),
    #[error("{0}")]
    ExpiredToken(String),
    #[error("service unavailable: {0}")]
    Unavailable(String),
    #[error("internal error: {0}")]
    Internal(String),
}

/// Results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// The AWS error code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NoSuchEntity(_) => "NoSuchEntity",
            Self::EntityAlreadyExists(_) => "EntityAlreadyExists",
            Self::DeleteConflict(_) => "DeleteConflict",
            Self::LimitExceeded(_) => "LimitExceeded",
            Self::MalformedPolicyDocument(_) => "MalformedPolicyDocument",
            Self::InvalidInput(_) => "InvalidInput",
            Self::ValidationError(_) => "ValidationError",
            Self::AccessDenied(_) => "AccessDenied",
            Self::Unauthenticated(_) => "InvalidClientTokenId",
            Self::RateLimited { .. } => "Throttling",
            Self::InvalidAction(_) => "InvalidAction",
            Self::ExpiredToken(_) => "ExpiredToken",
            Self::Unavailable(_) => "ServiceUnavailable",
            Self::Internal(_) => "ServiceFailure",
        }
    }

    /// The HTTP status AWS answers with.
    pub fn status(&self) -> u16 {
        match self {
            Self::NoSuchEntity(_) => 404,
            Self::EntityAlreadyExists(_) | Self::DeleteConflict(_) | Self::LimitExceeded(_) => 409,
            Self::MalformedPolicyDocument(_)
            | Self::InvalidInput(_)
            | Self::ValidationError(_)
            | Self::InvalidAction(_)
            | Self::ExpiredToken(_) => 400,
            Self::AccessDenied(_) => 403,
            Self::Unauthenticated(_) => 401,
            Self::RateLimited { .. } => 429,
            Self::Unavailable(_) => 503,
            Self::Internal(_) => 500,
        }
    }
}

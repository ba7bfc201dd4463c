//! The error returned when a policy document is refused.

/// Why a policy document was refused by [`crate::Policy::parse`].
///
/// The `Display` text is a complete sentence meant for the client: it is what IAM returns as
/// `MalformedPolicyDocument` and S3 as `MalformedPolicy`. It names the element at fault with a
/// JSON-path-like location such as `Statement[1].Condition.StringEquals`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// The document is not valid JSON (the text comes from the JSON parser, with line and column).
    #[error("The policy document is not valid JSON: {0}")]
    Json(String),
    /// The document is JSON but not a valid policy of the requested kind.
    #[error("{0}")]
    Invalid(String),
}

impl PolicyError {
    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Self::Invalid(message.into())
    }
}

/// Quotes a user-supplied string for an error message, escaping control characters and cutting
/// very long values so that an error message stays readable.
pub(crate) fn quote(s: &str) -> String {
    const MAX: usize = 80;
    if s.chars().count() <= MAX {
        format!("{s:?}")
    } else {
        let cut: String = s.chars().take(MAX).collect();
        format!("{cut:?}…")
    }
}

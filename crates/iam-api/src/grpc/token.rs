//! The shared secret the gateway (and any other caller) presents to `iam` on every RPC.

use std::path::Path;
use std::sync::Arc;

/// The variable holding the service token.
pub const SERVICE_TOKEN_ENV: &str = "CLOUDSTORE_IAM_SERVICE_TOKEN";
/// The variable naming a file that holds the service token.
pub const SERVICE_TOKEN_FILE_ENV: &str = "CLOUDSTORE_IAM_SERVICE_TOKEN_FILE";

/// The service credential: at least [`ServiceToken::MIN_LEN`] visible ASCII characters.
/// Its `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct ServiceToken(Arc<str>);

/// Why a service token can't be used.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// Neither the token nor its file is set.
    #[error(
        "{SERVICE_TOKEN_ENV} (or {SERVICE_TOKEN_FILE_ENV}) is required when s3-frontend and iam run as separate \
         processes: set the same secret on both"
    )]
    Missing,
    /// Both the token and its file are set.
    #[error("set either {SERVICE_TOKEN_ENV} or {SERVICE_TOKEN_FILE_ENV}, not both")]
    Both,
    /// The token is too short or has characters a gRPC header can't carry.
    #[error(
        "{SERVICE_TOKEN_ENV} must be at least {min} visible ASCII characters (no spaces), e.g. `openssl rand -hex 32`",
        min = ServiceToken::MIN_LEN
    )]
    Malformed,
    /// The token file could not be read.
    #[error("{SERVICE_TOKEN_FILE_ENV} {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// What went wrong.
        #[source]
        source: std::io::Error,
    },
}

impl ServiceToken {
    /// The shortest token accepted.
    pub const MIN_LEN: usize = 16;

    /// Checks `token` (surrounding whitespace, such as a file's final newline, is dropped).
    pub fn new(token: &str) -> Result<Self, TokenError> {
        let token = token.trim();
        if token.len() < Self::MIN_LEN || !token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(TokenError::Malformed);
        }
        Ok(Self(Arc::from(token)))
    }

    /// The token from its settings (the value, or the file holding it); `None` when neither is
    /// set.
    pub fn from_settings(value: Option<&str>, file: Option<&Path>) -> Result<Option<Self>, TokenError> {
        match (value, file) {
            (Some(_), Some(_)) => Err(TokenError::Both),
            (Some(v), None) => Self::new(v).map(Some),
            (None, Some(path)) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|source| TokenError::Io { path: path.display().to_string(), source })?;
                Self::new(&text).map(Some)
            }
            (None, None) => Ok(None),
        }
    }

    /// Like [`ServiceToken::from_settings`], but a missing token is an error.
    pub fn required(value: Option<&str>, file: Option<&Path>) -> Result<Self, TokenError> {
        Self::from_settings(value, file)?.ok_or(TokenError::Missing)
    }

    /// The secret itself.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for ServiceToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ServiceToken(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_checked_and_never_shown() {
        let t = ServiceToken::new(" 0123456789abcdef\n").expect("valid");
        assert_eq!(t.expose(), "0123456789abcdef");
        assert_eq!(format!("{t:?}"), "ServiceToken(<redacted>)");
        assert!(matches!(ServiceToken::new("short"), Err(TokenError::Malformed)));
        assert!(matches!(ServiceToken::new("0123456789 abcdef"), Err(TokenError::Malformed)));
        assert!(matches!(ServiceToken::new("0123456789abcdeé"), Err(TokenError::Malformed)));
        assert!(matches!(ServiceToken::required(None, None), Err(TokenError::Missing)));
        assert!(matches!(
            ServiceToken::from_settings(Some("0123456789abcdef"), Some(Path::new("/x"))),
            Err(TokenError::Both)
        ));
        assert!(ServiceToken::from_settings(None, None).expect("none").is_none());
    }

    #[test]
    fn token_from_a_file() {
        let dir = std::env::temp_dir().join(format!("cloudstore-token-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("token");
        std::fs::write(&path, "fedcba9876543210fedcba\n").expect("write");
        let t = ServiceToken::required(None, Some(&path)).expect("read");
        assert_eq!(t.expose(), "fedcba9876543210fedcba");
        let missing = ServiceToken::required(None, Some(&dir.join("absent")));
        assert!(matches!(missing, Err(TokenError::Io { .. })), "{missing:?}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}

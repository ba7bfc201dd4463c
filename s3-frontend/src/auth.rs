//! Authentication: which secret key signs for an access key — the platform admin's root key
//! pair, or any key the IAM service knows (through the [`KeyCache`]).

use std::sync::Arc;

use s3s::auth::{S3Auth, SecretKey};
use s3s::{S3Result, s3_error};

use crate::identity::KeyCache;

/// The root (platform admin) key pair.
#[derive(Clone)]
pub struct RootCredentials {
    /// Access key id.
    pub access_key: String,
    /// Secret access key.
    pub secret_key: String,
}

impl std::fmt::Debug for RootCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RootCredentials")
            .field("access_key", &self.access_key)
            .field("secret_key", &"<redacted>")
            .finish()
    }
}

impl RootCredentials {
    /// A fresh random key pair: a 20-character access key id and a 40-character secret.
    #[must_use]
    pub fn generate() -> Self {
        use rand::Rng as _;
        const UPPER: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
        const ANY: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut rng = rand::rng();
        let mut pick = |set: &[u8], n: usize| -> String {
            (0..n).map(|_| char::from(set[rng.random_range(0..set.len())])).collect()
        };
        Self { access_key: format!("CS{}", pick(UPPER, 18)), secret_key: pick(ANY, 40) }
    }
}

/// `S3Auth` over the identity cache: the root key pair, IAM users' access keys and STS
/// temporary keys (whose session token `S3Access` checks).
#[derive(Debug, Clone)]
pub struct IamAuth {
    keys: Arc<KeyCache>,
}

impl IamAuth {
    /// Authenticates through `keys`.
    #[must_use]
    pub fn new(keys: Arc<KeyCache>) -> Self {
        Self { keys }
    }
}

#[async_trait::async_trait]
impl S3Auth for IamAuth {
    async fn get_secret_key(&self, access_key: &str) -> S3Result<SecretKey> {
        match self.keys.resolve(access_key).await {
            Ok(Some(identity)) => Ok(SecretKey::from(identity.secret.clone())),
            Ok(None) => {
                Err(s3_error!(InvalidAccessKeyId, "The AWS Access Key Id you provided does not exist in our records."))
            }
            Err(e) => {
                tracing::warn!(error = %e, "key lookup failed");
                Err(s3_error!(ServiceUnavailable, "The identity service is unavailable; please retry."))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_root_keys_have_aws_shapes_and_hide_the_secret() {
        let root = RootCredentials::generate();
        assert_eq!(root.access_key.len(), 20);
        assert_eq!(root.secret_key.len(), 40);
        assert_ne!(root.secret_key, RootCredentials::generate().secret_key);
        assert!(!format!("{root:?}").contains(&root.secret_key));
    }
}

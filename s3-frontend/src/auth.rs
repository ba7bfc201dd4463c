//! Authentication: which secret key signs for an access key. Until the IAM service plugs in
//! (issue #3), the platform admin's root key pair is the only identity.

use s3s::auth::{S3Auth, SecretKey};
use s3s::{S3Result, s3_error};
use subtle::ConstantTimeEq;

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

/// `S3Auth` over the root key pair.
#[derive(Debug, Clone)]
pub struct RootAuth {
    root: RootCredentials,
}

impl RootAuth {
    /// Authenticates with `root` only.
    #[must_use]
    pub fn new(root: RootCredentials) -> Self {
        Self { root }
    }
}

#[async_trait::async_trait]
impl S3Auth for RootAuth {
    async fn get_secret_key(&self, access_key: &str) -> S3Result<SecretKey> {
        if bool::from(access_key.as_bytes().ct_eq(self.root.access_key.as_bytes())) {
            Ok(SecretKey::from(self.root.secret_key.clone()))
        } else {
            Err(s3_error!(InvalidAccessKeyId, "The AWS Access Key Id you provided does not exist in our records."))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn only_the_root_key_is_known() {
        let root = RootCredentials::generate();
        assert_eq!(root.access_key.len(), 20);
        assert_eq!(root.secret_key.len(), 40);
        let auth = RootAuth::new(root.clone());
        assert!(auth.get_secret_key(&root.access_key).await.is_ok());
        let e = auth.get_secret_key("AKIASTRANGER").await.err().map(|e| e.code().clone());
        assert_eq!(e, Some(s3s::S3ErrorCode::InvalidAccessKeyId));
        assert!(!format!("{root:?}").contains(&root.secret_key));
    }
}

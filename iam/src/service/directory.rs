//! Rules for IAM entities shared by the Query API and the admin REST API: names, paths and
//! policy documents.

use cloudstore_policy::{Policy, PolicyKind};

use crate::error::{Error, Result};

/// Longest policy document accepted (AWS: 6,144 characters for users, 10,240 for roles and
/// managed policies; we take the larger).
pub const MAX_POLICY_BYTES: usize = 10_240;

/// IAM entity names (users, groups, roles, policies): 1-`max` characters of
/// letters, digits and `_+=,.@-`.
pub fn validate_name(what: &str, name: &str, max: usize) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= max
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"_+=,.@-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(Error::ValidationError(format!(
            "{what} must be 1-{max} characters of letters, digits and _+=,.@- (got {name:?})"
        )))
    }
}

/// IAM paths: `/` or `/a/b/` (printable ASCII, at most 512 characters).
pub fn validate_path(path: &str) -> Result<()> {
    let ok = path.len() <= 512
        && path.starts_with('/')
        && path.ends_with('/')
        && path.bytes().all(|b| (0x21..=0x7e).contains(&b))
        && !path.contains("//");
    if ok { Ok(()) } else { Err(Error::ValidationError(format!("invalid path {path:?}"))) }
}

/// Checks a policy document of `kind` and returns it unchanged (documents are stored as given).
pub fn check_policy_document(document: &str, kind: PolicyKind) -> Result<()> {
    if document.len() > MAX_POLICY_BYTES {
        return Err(Error::LimitExceeded(format!("policy documents are limited to {MAX_POLICY_BYTES} bytes")));
    }
    Policy::parse(document, kind).map(|_| ()).map_err(|e| Error::MalformedPolicyDocument(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_paths() {
        assert!(validate_name("UserName", "bob.smith@x", 64).is_ok());
        assert!(validate_name("UserName", "", 64).is_err());
        assert!(validate_name("UserName", "a b", 64).is_err());
        assert!(validate_name("UserName", &"a".repeat(65), 64).is_err());
        assert!(validate_path("/").is_ok());
        assert!(validate_path("/team/dev/").is_ok());
        for bad in ["", "team", "/team", "//", "/a b/"] {
            assert!(validate_path(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn policy_documents() {
        let ok = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#;
        assert!(check_policy_document(ok, PolicyKind::Identity).is_ok());
        assert!(matches!(check_policy_document("{", PolicyKind::Identity), Err(Error::MalformedPolicyDocument(_))));
        let big = format!("{ok}{}", " ".repeat(MAX_POLICY_BYTES));
        assert!(matches!(check_policy_document(&big, PolicyKind::Identity), Err(Error::LimitExceeded(_))));
    }
}

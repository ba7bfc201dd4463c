//! Block Public Access (issue #13 item 4): settings that override what would make a bucket
//! public, per bucket (Put/Get/DeletePublicAccessBlock) and per account (the S3 Control API's,
//! `crate::s3_control`). A setting on in either is on for the bucket.
//!
//! - `BlockPublicPolicy`: PutBucketPolicy refuses a public policy (403 AccessDenied).
//! - `RestrictPublicBuckets`: while the bucket's policy is public, it grants nothing to
//!   anonymous callers and other accounts; the owner's account keeps what it grants.
//! - `BlockPublicAcls`: a public ACL (canned or granted) is refused (403 AccessDenied).
//! - `IgnorePublicAcls`: public ACL grants grant nothing.
//!
//! "Public" is AWS's test, simplified: an `Allow` statement for every principal (`"*"` or
//! `{"AWS": "*"}`) without a condition.

use serde::{Deserialize, Serialize};

/// The four settings, as stored (JSON) with the bucket. Missing ones are off.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Block {
    pub block_public_acls: bool,
    pub ignore_public_acls: bool,
    pub block_public_policy: bool,
    pub restrict_public_buckets: bool,
}

impl Block {
    /// Each setting on where it is on in `self` or in `other` (a bucket's settings with its
    /// account's: the stricter wins, as on AWS).
    #[must_use]
    pub fn or(self, other: Self) -> Self {
        Self {
            block_public_acls: self.block_public_acls || other.block_public_acls,
            ignore_public_acls: self.ignore_public_acls || other.ignore_public_acls,
            block_public_policy: self.block_public_policy || other.block_public_policy,
            restrict_public_buckets: self.restrict_public_buckets || other.restrict_public_buckets,
        }
    }

    /// The settings stored as `json`; unreadable ones count as all on (nothing public is the
    /// safe reading of a setting we cannot read).
    #[must_use]
    pub fn from_stored(bucket: &str, json: &str) -> Self {
        serde_json::from_str(json).unwrap_or_else(|e| {
            tracing::warn!(bucket, error = %e, "stored Block Public Access settings do not parse; all on");
            Self {
                block_public_acls: true,
                ignore_public_acls: true,
                block_public_policy: true,
                restrict_public_buckets: true,
            }
        })
    }
}

/// Whether a bucket policy document makes the bucket public.
#[must_use]
pub fn policy_is_public(doc: &str) -> bool {
    let Ok(v) = serde_json::from_str::<serde_json::Value>(doc) else { return false };
    let statements = match v.get("Statement") {
        Some(serde_json::Value::Array(a)) => a.clone(),
        Some(s @ serde_json::Value::Object(_)) => vec![s.clone()],
        _ => Vec::new(),
    };
    statements.iter().any(|st| {
        let allow = st.get("Effect").and_then(serde_json::Value::as_str) == Some("Allow");
        let everyone = match st.get("Principal") {
            Some(serde_json::Value::String(s)) => s == "*",
            Some(p) => match p.get("AWS") {
                Some(serde_json::Value::String(s)) => s == "*",
                Some(serde_json::Value::Array(a)) => a.iter().any(|x| x.as_str() == Some("*")),
                _ => false,
            },
            None => false,
        };
        allow && everyone && st.get("Condition").is_none()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_policies_are_those_allowing_everyone_unconditionally() {
        let st = |principal: &str, extra: &str| {
            format!(
                r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{principal},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"{extra}}}]}}"#
            )
        };
        assert!(policy_is_public(&st(r#""*""#, "")));
        assert!(policy_is_public(&st(r#"{"AWS":"*"}"#, "")));
        assert!(policy_is_public(&st(r#"{"AWS":["arn:aws:iam::111122223333:root","*"]}"#, "")));
        assert!(!policy_is_public(&st(r#"{"AWS":"arn:aws:iam::111122223333:root"}"#, "")));
        assert!(!policy_is_public(&st(r#""*""#, r#","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}"#)));
        let deny = r#"{"Statement":{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"*"}}"#;
        assert!(!policy_is_public(deny));
        assert!(!policy_is_public("not json"));
    }

    #[test]
    fn stored_settings_read_back_and_unreadable_ones_block_everything() {
        let b = Block { restrict_public_buckets: true, ..Block::default() };
        let json = serde_json::to_string(&b).expect("json");
        assert_eq!(Block::from_stored("b", &json), b);
        assert!(Block::from_stored("b", r#"{"block_public_policy":true}"#).block_public_policy);
        let broken = Block::from_stored("b", "{");
        assert!(broken.block_public_policy && broken.restrict_public_buckets);
    }
}

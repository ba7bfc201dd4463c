//! The IAM JSON policy language: parsing, validation and evaluation. Pure logic, no I/O.
//!
//! * [`Policy::parse`] reads identity policies, resource (bucket) policies and role trust
//!   policies, refusing anything malformed with a message for the client.
//! * [`evaluate`] applies a set of policies to a [`Request`]: explicit deny, then allow, else
//!   implicit deny.
//! * [`authorize`] is the product's full rule (platform admin, anti-lockout, account
//!   ownership, cross-account, anonymous access) and explains its [`Reason`].
//!
//! ```
//! use cloudstore_policy::{Context, Decision, Policy, PolicyKind, PolicySource, Principal, Request, evaluate};
//!
//! let policy = Policy::parse(
//!     r#"{"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "s3:Get*",
//!         "Resource": "arn:aws:s3:::photos/${aws:username}/*"}}"#,
//!     PolicyKind::Identity,
//! )?;
//! let alice = Principal::user("111122223333", "alice", "AIDAEXAMPLE");
//! let context = Context::new().with("aws:SourceIp", "203.0.113.9");
//! let request = Request {
//!     principal: &alice,
//!     action: "s3:GetObject",
//!     resource: "arn:aws:s3:::photos/alice/cat.jpg",
//!     context: &context,
//! };
//! let decision = evaluate(&[PolicySource { label: "user:alice/inline:photos", policy: &policy }], &request);
//! assert!(matches!(decision, Decision::Allow(_)));
//! # Ok::<(), cloudstore_policy::PolicyError>(())
//! ```

mod authz;
mod condition;
mod error;
mod eval;
mod matcher;
mod parse;
mod request;

pub use authz::{Authorization, AuthzInput, Reason, authorize};

/// Whether a `Resource` pattern (with `*` and `?` wildcards) matches `arn`.
#[must_use]
pub fn resource_matches(pattern: &str, arn: &str) -> bool {
    matcher::glob(&matcher::tokens(pattern), arn)
}
pub use error::PolicyError;
pub use eval::{Decision, PolicySource, StatementRef, evaluate};
pub use parse::{Effect, Policy, PolicyKind, PolicyVersion, Statement};
pub use request::{Context, Principal, PrincipalKind, Request};

#[cfg(test)]
mod resource_tests {
    use super::resource_matches;

    #[test]
    fn resource_patterns_match_with_wildcards() {
        assert!(resource_matches("arn:aws:s3:::*", "arn:aws:s3:::b1"));
        assert!(resource_matches("arn:aws:s3:::b?", "arn:aws:s3:::b1"));
        assert!(resource_matches("arn:aws:s3:::b1", "arn:aws:s3:::b1"));
        assert!(!resource_matches("arn:aws:s3:::other", "arn:aws:s3:::b1"));
        assert!(!resource_matches("arn:aws:s3:::b", "arn:aws:s3:::b1"));
    }
}

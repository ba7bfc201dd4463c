//! The full authorization rule of the product, as AWS applies it to S3 requests.

use std::fmt;

use crate::eval::{Decision, Evaluation, PolicySource};
use crate::request::{PrincipalKind, Request};

/// The actions the owning account's root may always call on its own bucket, whatever the
/// bucket policy says, so that a bucket policy can never lock its owner out.
const LOCKOUT_EXEMPT_ACTIONS: &[&str] = &["s3:GetBucketPolicy", "s3:PutBucketPolicy", "s3:DeleteBucketPolicy"];

/// Everything [`authorize`] needs to decide.
#[derive(Debug, Clone, Copy)]
pub struct AuthzInput<'a> {
    /// The request.
    pub request: Request<'a>,
    /// The policies of the principal: inline and attached policies of the user, of its groups,
    /// or of the role of an assumed-role session. Ignored for anonymous callers and services.
    pub identity_policies: &'a [PolicySource<'a>],
    /// The resource's policy (bucket policy, or trust policy for `sts:AssumeRole`), if any.
    pub resource_policy: Option<PolicySource<'a>>,
    /// The account owning the resource; `None` for account-level actions such as
    /// `s3:ListAllMyBuckets` or `s3:CreateBucket`, which are then treated as same-account.
    pub resource_owner: Option<&'a str>,
}

/// Why a request was allowed or denied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    /// The caller is a platform administrator.
    PlatformAdmin,
    /// A matching `Deny` statement.
    ExplicitDeny,
    /// The owning account's root managing its bucket policy: allowed even though a `Deny`
    /// matched (anti-lockout).
    OwnerRootLockoutExemption,
    /// The root of the owning account (or, for account-level actions, of its own account).
    OwnerAccountRoot,
    /// Same account: an identity policy allows.
    IdentityPolicyAllow,
    /// The resource policy allows (same account naming the caller, another account's root, an
    /// anonymous caller or a service).
    ResourcePolicyAllow,
    /// Another account's user or role: both the resource policy and its identity policies allow.
    CrossAccountBothAllow,
    /// Nothing allows (implicit deny).
    NoAllow,
    /// Another account's user or role: the resource policy allows but its identity policies
    /// do not.
    CrossAccountMissingIdentityAllow,
    /// Another account's principal: the resource policy does not allow.
    CrossAccountMissingResourceAllow,
    /// An anonymous caller without a resource policy granting it access.
    AnonymousNotAllowed,
    /// Same account: the resource policy only names the caller's account, which delegates to
    /// the account's identity policies, and none of them allow.
    AccountGrantNeedsIdentityAllow,
    /// No policy allows, but a grant of the bucket's access control list does (S3 ACLs; the
    /// gateway decides these, after this function's implicit deny).
    BucketAclGrant,
    /// No policy allows, but a grant of the object's access control list does.
    ObjectAclGrant,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::PlatformAdmin => "the caller is a platform administrator, who may do everything",
            Self::ExplicitDeny => "a Deny statement matches the request, and an explicit deny always wins",
            Self::OwnerRootLockoutExemption => {
                "the bucket owner's root user may always read, change or delete its bucket policy, even though a Deny statement matches (lockout protection)"
            }
            Self::OwnerAccountRoot => "the caller is the root user of the account that owns the resource",
            Self::IdentityPolicyAllow => "an identity-based policy of the caller allows the request",
            Self::ResourcePolicyAllow => "the resource policy allows the request for this caller",
            Self::CrossAccountBothAllow => {
                "the resource belongs to another account, and both its resource policy and the caller's identity-based policies allow the request"
            }
            Self::NoAllow => "no policy allows the request (implicit deny)",
            Self::CrossAccountMissingIdentityAllow => {
                "the resource belongs to another account: its resource policy allows the request, but none of the caller's identity-based policies does, and cross-account access needs both"
            }
            Self::CrossAccountMissingResourceAllow => {
                "the resource belongs to another account, and its resource policy does not allow the request for this caller"
            }
            Self::AnonymousNotAllowed => {
                "anonymous requests are only allowed by a resource policy granting access to everyone, and none does"
            }
            Self::AccountGrantNeedsIdentityAllow => {
                "the resource policy grants access to the caller's account as a whole, which leaves the decision to the account's identity-based policies, and none of them allows the request"
            }
            Self::BucketAclGrant => "a grant of the bucket's access control list allows the request",
            Self::ObjectAclGrant => "a grant of the object's access control list allows the request",
        })
    }
}

/// The result of [`authorize`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    /// Whether the request may proceed.
    pub allowed: bool,
    /// The statement that decided: the `Allow` that granted or the `Deny` that refused. It is
    /// [`Decision::ImplicitDeny`] when no statement decided, which includes two *allowed* cases
    /// ([`Reason::PlatformAdmin`], [`Reason::OwnerAccountRoot`]): always read `allowed`. For
    /// [`Reason::OwnerRootLockoutExemption`] it is the `Deny` that was overridden.
    pub decision: Decision,
    /// Why, for humans (its `Display` is a sentence).
    pub reason: Reason,
}

impl Authorization {
    fn allow(reason: Reason, decision: Decision) -> Self {
        Self { allowed: true, decision, reason }
    }

    fn deny(reason: Reason, decision: Decision) -> Self {
        Self { allowed: false, decision, reason }
    }
}

impl fmt::Display for Authorization {
    /// An explanation such as `denied: a Deny statement matches the request, ... (bucket:photos
    /// Statement[0] (Sid "NoDelete"))`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", if self.allowed { "allowed" } else { "denied" }, self.reason)?;
        match (&self.decision, self.reason) {
            (Decision::ExplicitDeny(s), Reason::OwnerRootLockoutExemption) => write!(f, " (overridden: {s})"),
            (Decision::Allow(s) | Decision::ExplicitDeny(s), _) => write!(f, " ({s})"),
            (Decision::ImplicitDeny, _) => Ok(()),
        }
    }
}

/// Decides a request as AWS does for S3:
///
/// 1. A platform admin is allowed everything.
/// 2. An explicit `Deny` in any applicable policy (identity or resource) refuses the request,
///    except that the owning account's root may always call `s3:GetBucketPolicy`,
///    `s3:PutBucketPolicy` and `s3:DeleteBucketPolicy` on its own resource.
/// 3. Same account (the caller's account owns the resource, or `resource_owner` is `None`):
///    the account root is allowed; a user or role session is allowed if an identity policy
///    allows, or if the resource policy allows naming it directly (by ARN, role ARN, unique id
///    or `"*"`). A resource-policy grant to the account as a whole (`"123456789012"`,
///    `arn:aws:iam::123456789012:root`) delegates to identity policies, as in AWS, so it does
///    not allow the account's users by itself.
/// 4. Another account: its root needs the resource policy to allow; its users and role
///    sessions need both the resource policy and their identity policies to allow.
/// 5. Anonymous callers and services need the resource policy to allow (for anonymous callers
///    that means a statement with `Principal: "*"`, `{"AWS": "*"}` or a `NotPrincipal`).
///
/// Resource-policy statements apply only when their `Principal`/`NotPrincipal` matches the
/// caller; identity-policy statements always concern the caller.
pub fn authorize(input: &AuthzInput<'_>) -> Authorization {
    let req = &input.request;
    let p = req.principal;
    if p.kind == PrincipalKind::Admin {
        return Authorization::allow(Reason::PlatformAdmin, Decision::ImplicitDeny);
    }
    let has_identity = !matches!(p.kind, PrincipalKind::Anonymous | PrincipalKind::Service);
    let identity = if has_identity { Evaluation::run(input.identity_policies, req) } else { Evaluation::default() };
    let resource = match &input.resource_policy {
        Some(source) => Evaluation::run(std::slice::from_ref(source), req),
        None => Evaluation::default(),
    };
    let owner_root = p.kind == PrincipalKind::AccountRoot && input.resource_owner == Some(p.account_id.as_str());

    if let Some(deny) = identity.deny.as_ref().or(resource.deny.as_ref()) {
        let decision = Decision::ExplicitDeny(deny.clone());
        let exempt = owner_root && LOCKOUT_EXEMPT_ACTIONS.iter().any(|a| a.eq_ignore_ascii_case(req.action));
        return if exempt {
            Authorization::allow(Reason::OwnerRootLockoutExemption, decision)
        } else {
            Authorization::deny(Reason::ExplicitDeny, decision)
        };
    }

    let allowed_by = |s: Option<&crate::eval::StatementRef>| s.map(|s| Decision::Allow(s.clone()));
    let same_account =
        has_identity && input.resource_owner.is_none_or(|owner| !p.account_id.is_empty() && owner == p.account_id);

    match p.kind {
        PrincipalKind::Anonymous => match allowed_by(resource.any_allow()) {
            Some(d) => Authorization::allow(Reason::ResourcePolicyAllow, d),
            None => Authorization::deny(Reason::AnonymousNotAllowed, Decision::ImplicitDeny),
        },
        PrincipalKind::AccountRoot if same_account => {
            Authorization::allow(Reason::OwnerAccountRoot, Decision::ImplicitDeny)
        }
        PrincipalKind::AccountRoot => match allowed_by(resource.any_allow()) {
            Some(d) => Authorization::allow(Reason::ResourcePolicyAllow, d),
            None => Authorization::deny(Reason::CrossAccountMissingResourceAllow, Decision::ImplicitDeny),
        },
        PrincipalKind::User | PrincipalKind::AssumedRole | PrincipalKind::Admin if same_account => {
            if let Some(d) = allowed_by(identity.any_allow()) {
                Authorization::allow(Reason::IdentityPolicyAllow, d)
            } else if let Some(d) = allowed_by(resource.direct_allow.as_ref()) {
                Authorization::allow(Reason::ResourcePolicyAllow, d)
            } else if resource.account_allow.is_some() {
                Authorization::deny(Reason::AccountGrantNeedsIdentityAllow, Decision::ImplicitDeny)
            } else {
                Authorization::deny(Reason::NoAllow, Decision::ImplicitDeny)
            }
        }
        PrincipalKind::User | PrincipalKind::AssumedRole | PrincipalKind::Admin => {
            match (resource.any_allow(), identity.any_allow()) {
                (Some(r), Some(_)) => Authorization::allow(Reason::CrossAccountBothAllow, Decision::Allow(r.clone())),
                (Some(_), None) => {
                    Authorization::deny(Reason::CrossAccountMissingIdentityAllow, Decision::ImplicitDeny)
                }
                (None, Some(_)) => {
                    Authorization::deny(Reason::CrossAccountMissingResourceAllow, Decision::ImplicitDeny)
                }
                (None, None) => Authorization::deny(Reason::NoAllow, Decision::ImplicitDeny),
            }
        }
        PrincipalKind::Service => match allowed_by(resource.any_allow()) {
            Some(d) => Authorization::allow(Reason::ResourcePolicyAllow, d),
            None => Authorization::deny(Reason::NoAllow, Decision::ImplicitDeny),
        },
    }
}

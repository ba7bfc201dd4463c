//! `authorize`: one test per reason, with realistic bucket policies.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, unreachable_pub)]

use cloudstore_policy::{
    Authorization, AuthzInput, Context, Decision, Policy, PolicyKind, PolicySource, Principal, PrincipalKind, Reason,
    Request, authorize,
};
use serde_json::{Value, json};

const OWNER: &str = "111122223333";
const OTHER: &str = "444455556666";
const OBJECT: &str = "arn:aws:s3:::photos/cat.jpg";
const BUCKET: &str = "arn:aws:s3:::photos";

fn policy(kind: PolicyKind, statements: Value) -> Policy {
    Policy::parse(&json!({"Version": "2012-10-17", "Statement": statements}).to_string(), kind).unwrap()
}

fn identity(statements: Value) -> Policy {
    policy(PolicyKind::Identity, statements)
}

fn bucket(statements: Value) -> Policy {
    policy(PolicyKind::Resource, statements)
}

fn s3_all() -> Policy {
    identity(json!({"Sid": "AllS3", "Effect": "Allow", "Action": "s3:*", "Resource": "*"}))
}

/// A test case: one principal, its identity policies, the bucket policy and the owner.
struct Case<'a> {
    principal: Principal,
    identity: Vec<&'a Policy>,
    bucket: Option<&'a Policy>,
    owner: Option<&'a str>,
    context: Context,
}

impl<'a> Case<'a> {
    fn new(principal: Principal) -> Self {
        Self { principal, identity: Vec::new(), bucket: None, owner: Some(OWNER), context: Context::new() }
    }
    fn identity(mut self, p: &'a Policy) -> Self {
        self.identity.push(p);
        self
    }
    fn bucket(mut self, p: &'a Policy) -> Self {
        self.bucket = Some(p);
        self
    }
    fn owner(mut self, owner: Option<&'a str>) -> Self {
        self.owner = owner;
        self
    }
    fn context(mut self, context: Context) -> Self {
        self.context = context;
        self
    }
    fn run(&self, action: &str, resource: &str) -> Authorization {
        let sources: Vec<PolicySource<'_>> = self
            .identity
            .iter()
            .enumerate()
            .map(|(i, p)| PolicySource { label: ["identity:0", "identity:1", "identity:2"][i], policy: p })
            .collect();
        let input = AuthzInput {
            request: Request { principal: &self.principal, action, resource, context: &self.context },
            identity_policies: &sources,
            resource_policy: self.bucket.map(|p| PolicySource { label: "bucket:photos", policy: p }),
            resource_owner: self.owner,
        };
        authorize(&input)
    }
}

fn alice() -> Principal {
    Principal::user(OWNER, "alice", "AIDAALICE")
}

fn stranger() -> Principal {
    Principal::user(OTHER, "eve", "AIDAEVE")
}

fn assert_auth(a: &Authorization, allowed: bool, reason: Reason) {
    assert_eq!((a.allowed, a.reason), (allowed, reason), "{a}");
}

#[test]
fn platform_admin_is_always_allowed() {
    let deny = bucket(json!({"Effect": "Deny", "Principal": "*", "Action": "*", "Resource": "*"}));
    let mut admin = Principal::user(OTHER, "ops", "AIDAOPS");
    admin.kind = PrincipalKind::Admin;
    let a = Case::new(admin).bucket(&deny).run("s3:DeleteBucket", BUCKET);
    assert_auth(&a, true, Reason::PlatformAdmin);
    assert_eq!(a.decision, Decision::ImplicitDeny);
}

#[test]
fn explicit_deny_in_identity_policy_wins() {
    let deny = identity(json!({"Sid": "NoDelete", "Effect": "Deny", "Action": "s3:Delete*", "Resource": "*"}));
    let all = s3_all();
    let a = Case::new(alice()).identity(&all).identity(&deny).run("s3:DeleteObject", OBJECT);
    assert_auth(&a, false, Reason::ExplicitDeny);
    let Decision::ExplicitDeny(s) = &a.decision else { panic!("{a}") };
    assert_eq!((s.label.as_str(), s.index, s.sid.as_deref()), ("identity:1", 0, Some("NoDelete")));
    assert!(a.to_string().starts_with("denied: a Deny statement matches"), "{a}");
    assert!(a.to_string().contains("identity:1 Statement[0] (Sid \"NoDelete\")"), "{a}");
}

#[test]
fn explicit_deny_in_bucket_policy_beats_identity_allow_and_root() {
    let b = bucket(json!([
        {"Sid": "DenyInsecure", "Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": [BUCKET, "arn:aws:s3:::photos/*"],
         "Condition": {"Bool": {"aws:SecureTransport": "false"}}}
    ]));
    let all = s3_all();
    let insecure = Context::new().with("aws:SecureTransport", "false");
    let secure = Context::new().with("aws:SecureTransport", "true");
    let a = Case::new(alice()).identity(&all).bucket(&b).context(insecure.clone()).run("s3:GetObject", OBJECT);
    assert_auth(&a, false, Reason::ExplicitDeny);
    let a = Case::new(alice()).identity(&all).bucket(&b).context(secure).run("s3:GetObject", OBJECT);
    assert_auth(&a, true, Reason::IdentityPolicyAllow);
    // the owner's root is denied too (except for the bucket-policy actions, see below)
    let a = Case::new(Principal::account_root(OWNER)).bucket(&b).context(insecure).run("s3:GetObject", OBJECT);
    assert_auth(&a, false, Reason::ExplicitDeny);
}

#[test]
fn owner_root_can_always_manage_the_bucket_policy() {
    let lockout =
        bucket(json!({"Sid": "LockEveryoneOut", "Effect": "Deny", "Principal": "*", "Action": "*", "Resource": "*"}));
    let root = Principal::account_root(OWNER);
    for action in ["s3:GetBucketPolicy", "s3:PutBucketPolicy", "s3:DeleteBucketPolicy", "S3:putbucketpolicy"] {
        let a = Case::new(root.clone()).bucket(&lockout).run(action, BUCKET);
        assert_auth(&a, true, Reason::OwnerRootLockoutExemption);
        assert!(matches!(a.decision, Decision::ExplicitDeny(_)), "the overridden deny is reported");
        assert!(a.to_string().contains("overridden: bucket:photos Statement[0]"), "{a}");
    }
    // not other actions
    assert_auth(&Case::new(root.clone()).bucket(&lockout).run("s3:GetObject", OBJECT), false, Reason::ExplicitDeny);
    // not the owner's users
    let all = s3_all();
    let a = Case::new(alice()).identity(&all).bucket(&lockout).run("s3:PutBucketPolicy", BUCKET);
    assert_auth(&a, false, Reason::ExplicitDeny);
    // not another account's root
    let a = Case::new(Principal::account_root(OTHER)).bucket(&lockout).run("s3:PutBucketPolicy", BUCKET);
    assert_auth(&a, false, Reason::ExplicitDeny);
}

#[test]
fn owner_account_root_owns_everything() {
    let root = Principal::account_root(OWNER);
    let a = Case::new(root.clone()).run("s3:DeleteBucket", BUCKET);
    assert_auth(&a, true, Reason::OwnerAccountRoot);
    assert_eq!(a.decision, Decision::ImplicitDeny, "no statement was needed");
    // account-level actions (no owner) are the caller's own account
    let a = Case::new(root).owner(None).run("s3:CreateBucket", "arn:aws:s3:::new-bucket");
    assert_auth(&a, true, Reason::OwnerAccountRoot);
    let a = Case::new(Principal::account_root(OTHER)).owner(None).run("s3:ListAllMyBuckets", "*");
    assert_auth(&a, true, Reason::OwnerAccountRoot);
}

#[test]
fn same_account_user_allowed_by_identity_policy() {
    let read = identity(
        json!({"Sid": "Read", "Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"], "Resource": [BUCKET, "arn:aws:s3:::photos/*"]}),
    );
    let a = Case::new(alice()).identity(&read).run("s3:GetObject", OBJECT);
    assert_auth(&a, true, Reason::IdentityPolicyAllow);
    assert_eq!(a.decision.statement().unwrap().sid.as_deref(), Some("Read"));
    assert_auth(&Case::new(alice()).identity(&read).run("s3:PutObject", OBJECT), false, Reason::NoAllow);
    // account-level action
    let list = identity(json!({"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"}));
    let a = Case::new(alice()).identity(&list).owner(None).run("s3:ListAllMyBuckets", "*");
    assert_auth(&a, true, Reason::IdentityPolicyAllow);
}

#[test]
fn same_account_user_allowed_by_bucket_policy_naming_it() {
    let b = bucket(
        json!({"Sid": "AliceReads", "Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{OWNER}:user/alice")},
        "Action": "s3:GetObject", "Resource": "arn:aws:s3:::photos/*"}),
    );
    let a = Case::new(alice()).bucket(&b).run("s3:GetObject", OBJECT);
    assert_auth(&a, true, Reason::ResourcePolicyAllow);
    assert_eq!(a.decision.statement().unwrap().label, "bucket:photos");
    // bob is not named
    let bob = Principal::user(OWNER, "bob", "AIDABOB");
    assert_auth(&Case::new(bob).bucket(&b).run("s3:GetObject", OBJECT), false, Reason::NoAllow);
}

#[test]
fn same_account_role_session_allowed_by_bucket_policy_naming_the_role() {
    let b = bucket(json!({"Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{OWNER}:role/reader")},
        "Action": "s3:GetObject", "Resource": "arn:aws:s3:::photos/*"}));
    let session = Principal::assumed_role(OWNER, "reader", "job-42", "AROAREADER");
    assert_auth(&Case::new(session).bucket(&b).run("s3:GetObject", OBJECT), true, Reason::ResourcePolicyAllow);
    let other_role = Principal::assumed_role(OWNER, "writer", "job-42", "AROAWRITER");
    assert_auth(&Case::new(other_role).bucket(&b).run("s3:GetObject", OBJECT), false, Reason::NoAllow);
}

#[test]
fn same_account_grant_to_the_account_delegates_to_identity_policies() {
    let b = bucket(json!({"Effect": "Allow", "Principal": {"AWS": OWNER}, "Action": "s3:*", "Resource": "*"}));
    let a = Case::new(alice()).bucket(&b).run("s3:GetObject", OBJECT);
    assert_auth(&a, false, Reason::AccountGrantNeedsIdentityAllow);
    assert!(a.to_string().contains("account as a whole"), "{a}");
    let all = s3_all();
    assert_auth(
        &Case::new(alice()).identity(&all).bucket(&b).run("s3:GetObject", OBJECT),
        true,
        Reason::IdentityPolicyAllow,
    );
}

#[test]
fn a_stranger_is_refused() {
    // another account's user, no grant anywhere
    assert_auth(&Case::new(stranger()).run("s3:GetObject", OBJECT), false, Reason::NoAllow);
    // a bucket policy granting someone else does not help
    let b = bucket(
        json!({"Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{OWNER}:user/alice")}, "Action": "s3:*", "Resource": "*"}),
    );
    assert_auth(&Case::new(stranger()).bucket(&b).run("s3:GetObject", OBJECT), false, Reason::NoAllow);
    // nor its own s3:* (the bucket is not theirs)
    let all = s3_all();
    let a = Case::new(stranger()).identity(&all).run("s3:GetObject", OBJECT);
    assert_auth(&a, false, Reason::CrossAccountMissingResourceAllow);
    // nor is another account's root
    let a = Case::new(Principal::account_root(OTHER)).run("s3:GetObject", OBJECT);
    assert_auth(&a, false, Reason::CrossAccountMissingResourceAllow);
}

#[test]
fn cross_account_needs_both() {
    let grant = bucket(
        json!({"Sid": "PartnerRead", "Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{OTHER}:root")},
        "Action": "s3:GetObject", "Resource": "arn:aws:s3:::photos/*"}),
    );
    let all = s3_all();
    // both
    let a = Case::new(stranger()).identity(&all).bucket(&grant).run("s3:GetObject", OBJECT);
    assert_auth(&a, true, Reason::CrossAccountBothAllow);
    assert_eq!(a.decision.statement().unwrap().sid.as_deref(), Some("PartnerRead"), "the grant is reported");
    // resource only
    let a = Case::new(stranger()).bucket(&grant).run("s3:GetObject", OBJECT);
    assert_auth(&a, false, Reason::CrossAccountMissingIdentityAllow);
    assert_eq!(a.decision, Decision::ImplicitDeny);
    // identity only
    let a = Case::new(stranger()).identity(&all).bucket(&grant).run("s3:PutObject", OBJECT);
    assert_auth(&a, false, Reason::CrossAccountMissingResourceAllow);
    // a public grant still needs the identity side for an authenticated other-account user
    let public = bucket(
        json!({"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::photos/*"}),
    );
    assert_auth(
        &Case::new(stranger()).bucket(&public).run("s3:GetObject", OBJECT),
        false,
        Reason::CrossAccountMissingIdentityAllow,
    );
    // cross-account role sessions likewise
    let session = Principal::assumed_role(OTHER, "etl", "run-1", "AROAETL");
    assert_auth(
        &Case::new(session.clone()).identity(&all).bucket(&grant).run("s3:GetObject", OBJECT),
        true,
        Reason::CrossAccountBothAllow,
    );
    assert_auth(
        &Case::new(session).bucket(&grant).run("s3:GetObject", OBJECT),
        false,
        Reason::CrossAccountMissingIdentityAllow,
    );
}

#[test]
fn cross_account_root_needs_only_the_resource_policy() {
    let grant = bucket(
        json!({"Effect": "Allow", "Principal": {"AWS": OTHER}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::photos/*"}),
    );
    let root = Principal::account_root(OTHER);
    assert_auth(&Case::new(root.clone()).bucket(&grant).run("s3:GetObject", OBJECT), true, Reason::ResourcePolicyAllow);
    assert_auth(
        &Case::new(root).bucket(&grant).run("s3:PutObject", OBJECT),
        false,
        Reason::CrossAccountMissingResourceAllow,
    );
}

#[test]
fn anonymous_needs_a_public_grant() {
    let all = s3_all();
    // nothing
    assert_auth(&Case::new(Principal::anonymous()).run("s3:GetObject", OBJECT), false, Reason::AnonymousNotAllowed);
    // identity policies are ignored for anonymous callers
    assert_auth(
        &Case::new(Principal::anonymous()).identity(&all).run("s3:GetObject", OBJECT),
        false,
        Reason::AnonymousNotAllowed,
    );
    // a grant to an account or a user does not cover anonymous callers
    let named = bucket(json!([
        {"Effect": "Allow", "Principal": {"AWS": OWNER}, "Action": "s3:*", "Resource": "*"},
        {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::*:user/*"}, "Action": "s3:*", "Resource": "*"}
    ]));
    assert_auth(
        &Case::new(Principal::anonymous()).bucket(&named).run("s3:GetObject", OBJECT),
        false,
        Reason::AnonymousNotAllowed,
    );
    // public read
    for principal in [json!("*"), json!({"AWS": "*"})] {
        let public = bucket(
            json!({"Sid": "PublicRead", "Effect": "Allow", "Principal": principal, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::photos/*"}),
        );
        let a = Case::new(Principal::anonymous()).bucket(&public).run("s3:GetObject", OBJECT);
        assert_auth(&a, true, Reason::ResourcePolicyAllow);
        assert_auth(
            &Case::new(Principal::anonymous()).bucket(&public).run("s3:PutObject", OBJECT),
            false,
            Reason::AnonymousNotAllowed,
        );
        // a same-account user without identity policies is covered by "*" too
        assert_auth(&Case::new(alice()).bucket(&public).run("s3:GetObject", OBJECT), true, Reason::ResourcePolicyAllow);
    }
    // public read restricted by IP
    let office = bucket(
        json!({"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::photos/*",
        "Condition": {"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}}),
    );
    let inside = Context::new().with("aws:SourceIp", "203.0.113.5");
    let outside = Context::new().with("aws:SourceIp", "198.51.100.5");
    assert_auth(
        &Case::new(Principal::anonymous()).bucket(&office).context(inside).run("s3:GetObject", OBJECT),
        true,
        Reason::ResourcePolicyAllow,
    );
    assert_auth(
        &Case::new(Principal::anonymous()).bucket(&office).context(outside).run("s3:GetObject", OBJECT),
        false,
        Reason::AnonymousNotAllowed,
    );
}

#[test]
fn not_principal_deny_spares_only_the_listed_principals() {
    let b = bucket(json!([
        {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::photos/*"},
        {"Sid": "OnlyAlice", "Effect": "Deny", "NotPrincipal": {"AWS": format!("arn:aws:iam::{OWNER}:user/alice")}, "Action": "s3:*", "Resource": "*"}
    ]));
    assert_auth(&Case::new(alice()).bucket(&b).run("s3:GetObject", OBJECT), true, Reason::ResourcePolicyAllow);
    assert_auth(&Case::new(Principal::anonymous()).bucket(&b).run("s3:GetObject", OBJECT), false, Reason::ExplicitDeny);
    let bob = Principal::user(OWNER, "bob", "AIDABOB");
    assert_auth(&Case::new(bob).bucket(&b).run("s3:GetObject", OBJECT), false, Reason::ExplicitDeny);
}

#[test]
fn cross_account_deny_by_principal_account_condition() {
    let b = bucket(json!({"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "*",
        "Condition": {"StringNotEquals": {"aws:PrincipalAccount": OWNER}}}));
    let all = s3_all();
    assert_auth(
        &Case::new(alice()).identity(&all).bucket(&b).run("s3:GetObject", OBJECT),
        true,
        Reason::IdentityPolicyAllow,
    );
    assert_auth(
        &Case::new(stranger()).identity(&all).bucket(&b).run("s3:GetObject", OBJECT),
        false,
        Reason::ExplicitDeny,
    );
}

#[test]
fn service_principals() {
    let b = bucket(
        json!({"Effect": "Allow", "Principal": {"Service": "logging.s3.amazonaws.com"}, "Action": "s3:PutObject", "Resource": "arn:aws:s3:::photos/logs/*"}),
    );
    let svc = Principal::service("logging.s3.amazonaws.com");
    assert_auth(
        &Case::new(svc.clone()).bucket(&b).run("s3:PutObject", "arn:aws:s3:::photos/logs/1"),
        true,
        Reason::ResourcePolicyAllow,
    );
    assert_auth(&Case::new(svc).bucket(&b).run("s3:PutObject", OBJECT), false, Reason::NoAllow);
    let other = Principal::service("evil.example.com");
    assert_auth(&Case::new(other).bucket(&b).run("s3:PutObject", "arn:aws:s3:::photos/logs/1"), false, Reason::NoAllow);
}

#[test]
fn cross_account_trust_policy_through_authorize() {
    // cross-account sts:AssumeRole: the trust policy is the resource policy, the role's account the owner.
    let trust = policy(
        PolicyKind::Trust,
        json!({"Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{OTHER}:root")}, "Action": "sts:AssumeRole"}),
    );
    let assume = identity(
        json!({"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": format!("arn:aws:iam::{OWNER}:role/*")}),
    );
    let role = "arn:aws:iam::111122223333:role/partner";
    assert_auth(
        &Case::new(stranger()).identity(&assume).bucket(&trust).run("sts:AssumeRole", role),
        true,
        Reason::CrossAccountBothAllow,
    );
    assert_auth(
        &Case::new(stranger()).bucket(&trust).run("sts:AssumeRole", role),
        false,
        Reason::CrossAccountMissingIdentityAllow,
    );
    // NB: AWS also requires a same-account caller to be trusted by the trust policy, which the
    // S3 rule of `authorize` does not (same-account identity allows suffice there).
}

#[test]
fn every_reason_has_a_sentence() {
    let reasons = [
        Reason::PlatformAdmin,
        Reason::ExplicitDeny,
        Reason::OwnerRootLockoutExemption,
        Reason::OwnerAccountRoot,
        Reason::IdentityPolicyAllow,
        Reason::ResourcePolicyAllow,
        Reason::CrossAccountBothAllow,
        Reason::NoAllow,
        Reason::CrossAccountMissingIdentityAllow,
        Reason::CrossAccountMissingResourceAllow,
        Reason::AnonymousNotAllowed,
        Reason::AccountGrantNeedsIdentityAllow,
    ];
    let texts: std::collections::HashSet<String> = reasons.iter().map(ToString::to_string).collect();
    assert_eq!(texts.len(), reasons.len(), "distinct");
    assert!(texts.iter().all(|t| t.len() > 20 && !t.ends_with('.')));
}

//! Evaluation of a set of policies for one request.

use std::fmt;

use crate::matcher::{Vars, action_match, arn_match, glob, tokens};
use crate::parse::{Effect, Policy, PrincipalSet, Principals, Statement};
use crate::request::{Env, Principal, PrincipalKind, Request};

/// A policy together with a label saying where it comes from, used in [`StatementRef`]s.
#[derive(Debug, Clone, Copy)]
pub struct PolicySource<'a> {
    /// Free text naming the policy for humans, e.g. `user:alice/inline:read-only` or
    /// `bucket:photos`.
    pub label: &'a str,
    /// The policy.
    pub policy: &'a Policy,
}

/// Names one statement of one policy: the one that decided.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StatementRef {
    /// The [`PolicySource::label`] of its policy.
    pub label: String,
    /// Its position in the policy's `Statement` array, counted from 0.
    pub index: usize,
    /// Its `Sid`, if any.
    pub sid: Option<String>,
}

impl fmt::Display for StatementRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} Statement[{}]", self.label, self.index)?;
        if let Some(sid) = &self.sid {
            write!(f, " (Sid {sid:?})")?;
        }
        Ok(())
    }
}

/// The outcome of [`evaluate`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Decision {
    /// An `Allow` statement matched and no `Deny` did.
    Allow(StatementRef),
    /// A `Deny` statement matched.
    ExplicitDeny(StatementRef),
    /// No statement matched.
    ImplicitDeny,
}

impl Decision {
    /// Whether this is [`Decision::Allow`].
    pub fn is_allow(&self) -> bool {
        matches!(self, Self::Allow(_))
    }

    /// The statement that decided, if any.
    pub fn statement(&self) -> Option<&StatementRef> {
        match self {
            Self::Allow(s) | Self::ExplicitDeny(s) => Some(s),
            Self::ImplicitDeny => None,
        }
    }
}

/// Evaluates policies for a request: an explicit `Deny` anywhere wins, then any `Allow`, else
/// an implicit deny.
///
/// A statement applies when its action, resource, principal (only for statements that have a
/// `Principal`/`NotPrincipal`, i.e. resource and trust policies; identity-policy statements
/// apply to the request's principal) and conditions all match. The result does not depend on
/// the order of sources or statements, except for which statement is reported when several
/// could be (the first in order).
///
/// This is the raw policy logic; the full S3 authorization rule (ownership, cross-account,
/// anonymous access) is [`crate::authorize`].
pub fn evaluate(sources: &[PolicySource<'_>], req: &Request<'_>) -> Decision {
    Evaluation::run(sources, req).decision()
}

/// How a resource-policy statement's `Principal` matched the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PrincipalMatch {
    /// Not at all.
    No,
    /// Only through the caller's account (`"123456789012"` or `arn:aws:iam::123456789012:root`):
    /// in AWS this delegates the decision to the account's identity policies.
    Account,
    /// The caller itself: `"*"`, its ARN (or its role's ARN), its unique id, its service name,
    /// or a `NotPrincipal` that excludes it not.
    Direct,
}

/// The statements that matched a request, as needed by [`crate::authorize`].
#[derive(Debug, Clone, Default)]
pub(crate) struct Evaluation {
    pub(crate) deny: Option<StatementRef>,
    /// The first matching Allow that names the caller directly (or has no Principal).
    pub(crate) direct_allow: Option<StatementRef>,
    /// The first matching Allow that names the caller only through its account.
    pub(crate) account_allow: Option<StatementRef>,
}

impl Evaluation {
    pub(crate) fn run(sources: &[PolicySource<'_>], req: &Request<'_>) -> Self {
        let env = Env::new(req);
        let mut out = Self::default();
        for source in sources {
            for (index, statement) in source.policy.statements().iter().enumerate() {
                let Some(how) = applies(statement, req, &env) else {
                    continue;
                };
                let reference = || StatementRef { label: source.label.to_owned(), index, sid: statement.sid.clone() };
                match (statement.effect, how) {
                    (Effect::Deny, _) => {
                        out.deny = Some(reference());
                        return out;
                    }
                    (Effect::Allow, PrincipalMatch::Account) if out.account_allow.is_none() => {
                        out.account_allow = Some(reference());
                    }
                    (Effect::Allow, PrincipalMatch::Direct) if out.direct_allow.is_none() => {
                        out.direct_allow = Some(reference());
                    }
                    _ => {}
                }
            }
        }
        out
    }

    /// Any matching Allow, preferring one that names the caller directly.
    pub(crate) fn any_allow(&self) -> Option<&StatementRef> {
        self.direct_allow.as_ref().or(self.account_allow.as_ref())
    }

    pub(crate) fn decision(&self) -> Decision {
        match (&self.deny, self.any_allow()) {
            (Some(d), _) => Decision::ExplicitDeny(d.clone()),
            (None, Some(a)) => Decision::Allow(a.clone()),
            (None, None) => Decision::ImplicitDeny,
        }
    }
}

/// Whether `statement` applies to the request, and how its principal matched.
fn applies(statement: &Statement, req: &Request<'_>, env: &Env<'_>) -> Option<PrincipalMatch> {
    let action = &statement.action;
    if action.patterns.iter().any(|p| action_match(p, req.action)) == action.negated {
        return None;
    }
    if let Some(resources) = &statement.resource {
        let vars: &dyn Vars = env;
        let mut matched = false;
        for pattern in &resources.patterns {
            match pattern.to_tokens(vars) {
                Some(toks) if arn_match(&toks, req.resource) => {
                    matched = true;
                    break;
                }
                Some(_) => {}
                // A variable without a value never makes a statement apply: in `Resource` the
                // pattern matches nothing, in `NotResource` the statement does not apply.
                None if resources.negated => return None,
                None => {}
            }
        }
        if matched == resources.negated {
            return None;
        }
    }
    let how = match &statement.principal {
        None => PrincipalMatch::Direct,
        Some(principals) => match principal_match(principals, req.principal) {
            PrincipalMatch::No => return None,
            how => how,
        },
    };
    statement.conditions.iter().all(|c| c.eval(env)).then_some(how)
}

/// Matches a `Principal` / `NotPrincipal` element against the caller.
fn principal_match(principals: &Principals, p: &Principal) -> PrincipalMatch {
    let positive = match &principals.set {
        PrincipalSet::Everyone => PrincipalMatch::Direct,
        PrincipalSet::Named { aws, service, federated: _, canonical_user: _ } => {
            let mut best = PrincipalMatch::No;
            for entry in aws {
                match aws_entry_match(entry, p) {
                    PrincipalMatch::Direct => return finish(principals.negated, PrincipalMatch::Direct),
                    PrincipalMatch::Account => best = PrincipalMatch::Account,
                    PrincipalMatch::No => {}
                }
            }
            if p.kind == PrincipalKind::Service
                && service.iter().any(|s| s == "*" || s.eq_ignore_ascii_case(&p.name) || s.eq_ignore_ascii_case(&p.arn))
            {
                best = PrincipalMatch::Direct;
            }
            best
        }
    };
    finish(principals.negated, positive)
}

fn finish(negated: bool, positive: PrincipalMatch) -> PrincipalMatch {
    match (negated, positive) {
        (false, m) => m,
        (true, PrincipalMatch::No) => PrincipalMatch::Direct,
        (true, _) => PrincipalMatch::No,
    }
}

/// Matches one `"AWS"` principal entry.
fn aws_entry_match(entry: &str, p: &Principal) -> PrincipalMatch {
    if entry == "*" {
        return PrincipalMatch::Direct;
    }
    if matches!(p.kind, PrincipalKind::Anonymous | PrincipalKind::Service) {
        return PrincipalMatch::No;
    }
    if !entry.starts_with("arn:") {
        // An account id, or a unique id (AIDA..., AROA...) that names one principal.
        if !p.account_id.is_empty() && entry == p.account_id {
            return PrincipalMatch::Account;
        }
        let unique = p.user_id.split(':').next().unwrap_or_default();
        return if !unique.is_empty() && entry == unique { PrincipalMatch::Direct } else { PrincipalMatch::No };
    }
    let pattern = tokens(entry);
    if let Some(account_pattern) = root_arn_account(entry) {
        if !p.account_id.is_empty() && glob(&tokens(account_pattern), &p.account_id) {
            return PrincipalMatch::Account;
        }
        return PrincipalMatch::No;
    }
    if !p.arn.is_empty() && arn_match(&pattern, &p.arn) {
        return PrincipalMatch::Direct;
    }
    if let Some(role) = p.effective_role_arn()
        && arn_match(&pattern, &role)
    {
        return PrincipalMatch::Direct;
    }
    PrincipalMatch::No
}

/// For `arn:PARTITION:iam::ACCOUNT:root`, the ACCOUNT part.
fn root_arn_account(entry: &str) -> Option<&str> {
    let parts: Vec<&str> = entry.splitn(6, ':').collect();
    match parts.as_slice() {
        ["arn", _, "iam", "", account, "root"] => Some(account),
        _ => None,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::parse::PolicyKind;
    use crate::request::Context;
    use serde_json::{Value, json};

    const ACCT: &str = "111122223333";
    const OTHER: &str = "444455556666";

    fn policy(v: Value, kind: PolicyKind) -> Policy {
        Policy::parse(&v.to_string(), kind).unwrap()
    }

    fn identity(statements: Value) -> Policy {
        policy(json!({"Version": "2012-10-17", "Statement": statements}), PolicyKind::Identity)
    }

    fn bucket(statements: Value) -> Policy {
        policy(json!({"Version": "2012-10-17", "Statement": statements}), PolicyKind::Resource)
    }

    fn eval_one(p: &Policy, principal: &Principal, action: &str, resource: &str, ctx: &Context) -> Decision {
        let req = Request { principal, action, resource, context: ctx };
        evaluate(&[PolicySource { label: "test", policy: p }], &req)
    }

    fn alice() -> Principal {
        Principal::user(ACCT, "alice", "AIDAALICE")
    }

    fn allows(p: &Policy, principal: &Principal, action: &str, resource: &str) -> bool {
        eval_one(p, principal, action, resource, &Context::new()).is_allow()
    }

    #[test]
    fn deny_beats_allow_and_refs_are_reported() {
        let p = identity(json!([
            {"Sid": "all", "Effect": "Allow", "Action": "s3:*", "Resource": "*"},
            {"Sid": "nodelete", "Effect": "Deny", "Action": "s3:DeleteObject", "Resource": "*"}
        ]));
        let d = eval_one(&p, &alice(), "s3:DeleteObject", "arn:aws:s3:::b/k", &Context::new());
        assert_eq!(
            d,
            Decision::ExplicitDeny(StatementRef { label: "test".into(), index: 1, sid: Some("nodelete".into()) })
        );
        assert_eq!(d.statement().unwrap().to_string(), "test Statement[1] (Sid \"nodelete\")");
        let a = eval_one(&p, &alice(), "s3:GetObject", "arn:aws:s3:::b/k", &Context::new());
        assert_eq!(a, Decision::Allow(StatementRef { label: "test".into(), index: 0, sid: Some("all".into()) }));
        assert_eq!(eval_one(&p, &alice(), "iam:GetUser", "*", &Context::new()), Decision::ImplicitDeny);
        assert!(
            evaluate(
                &[],
                &Request { principal: &alice(), action: "s3:GetObject", resource: "*", context: &Context::new() }
            ) == Decision::ImplicitDeny
        );
    }

    #[test]
    fn not_action() {
        let p = identity(json!({"Effect": "Allow", "NotAction": ["iam:*", "s3:Delete*"], "Resource": "*"}));
        assert!(allows(&p, &alice(), "s3:GetObject", "arn:aws:s3:::b/k"));
        assert!(!allows(&p, &alice(), "s3:DeleteObject", "arn:aws:s3:::b/k"));
        assert!(!allows(&p, &alice(), "IAM:CreateUser", "*"));
    }

    #[test]
    fn resource_and_not_resource() {
        let p = identity(
            json!({"Effect": "Allow", "Action": "s3:GetObject", "Resource": ["arn:aws:s3:::pub/*", "arn:aws:s3:::x/a?c"]}),
        );
        assert!(allows(&p, &alice(), "s3:GetObject", "arn:aws:s3:::pub/dir/file"));
        assert!(allows(&p, &alice(), "s3:GetObject", "arn:aws:s3:::x/abc"));
        assert!(!allows(&p, &alice(), "s3:GetObject", "arn:aws:s3:::x/abbc"));
        assert!(!allows(&p, &alice(), "s3:GetObject", "arn:aws:s3:::Pub/file"));
        let n = identity(json!({"Effect": "Allow", "Action": "s3:*", "NotResource": "arn:aws:s3:::secret/*"}));
        assert!(allows(&n, &alice(), "s3:GetObject", "arn:aws:s3:::pub/k"));
        assert!(!allows(&n, &alice(), "s3:GetObject", "arn:aws:s3:::secret/k"));
    }

    #[test]
    fn resource_variables() {
        let p =
            identity(json!({"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::home/${aws:username}/*"}));
        assert!(allows(&p, &alice(), "s3:PutObject", "arn:aws:s3:::home/alice/a.txt"));
        assert!(!allows(&p, &alice(), "s3:PutObject", "arn:aws:s3:::home/bob/a.txt"));
        // a role session has no aws:username: the statement never matches
        let session = Principal::assumed_role(ACCT, "r", "alice", "AROAR");
        assert!(!allows(&p, &session, "s3:PutObject", "arn:aws:s3:::home/alice/a.txt"));
        // in NotResource, a missing variable makes the statement not apply
        let n = identity(
            json!({"Effect": "Allow", "Action": "s3:*", "NotResource": "arn:aws:s3:::home/${aws:username}/*"}),
        );
        assert!(allows(&n, &alice(), "s3:PutObject", "arn:aws:s3:::other/x"));
        assert!(!allows(&n, &session, "s3:PutObject", "arn:aws:s3:::other/x"));
        // variables come from the context too
        let c = identity(
            json!({"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::t/${aws:PrincipalTag/team}/*"}),
        );
        let ctx = Context::new().with("aws:PrincipalTag/team", "blue");
        assert!(eval_one(&c, &alice(), "s3:GetObject", "arn:aws:s3:::t/blue/k", &ctx).is_allow());
        // old policy versions: literal text
        let old = policy(
            json!({"Version": "2008-10-17", "Statement": {"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::home/${aws:username}/*"}}),
            PolicyKind::Identity,
        );
        assert!(!allows(&old, &alice(), "s3:PutObject", "arn:aws:s3:::home/alice/a.txt"));
        assert!(allows(&old, &alice(), "s3:PutObject", "arn:aws:s3:::home/${aws:username}/a.txt"));
    }

    #[test]
    fn conditions_gate_statements() {
        let p = identity(json!({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*",
            "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}, "Bool": {"aws:SecureTransport": "true"}}}));
        let ok = Context::new().with("aws:SourceIp", "10.1.1.1").with("aws:SecureTransport", "true");
        let plain = Context::new().with("aws:SourceIp", "10.1.1.1").with("aws:SecureTransport", "false");
        assert!(eval_one(&p, &alice(), "s3:GetObject", "arn:aws:s3:::b/k", &ok).is_allow());
        assert!(!eval_one(&p, &alice(), "s3:GetObject", "arn:aws:s3:::b/k", &plain).is_allow());
        assert!(!eval_one(&p, &alice(), "s3:GetObject", "arn:aws:s3:::b/k", &Context::new()).is_allow());
    }

    fn pm(principal: Value, who: &Principal) -> PrincipalMatch {
        let p = bucket(json!({"Effect": "Allow", "Action": "s3:*", "Resource": "*", "Principal": principal}));
        let st = &p.statements()[0];
        principal_match(st.principal.as_ref().unwrap(), who)
    }

    fn npm(principal: Value, who: &Principal) -> PrincipalMatch {
        let p = bucket(json!({"Effect": "Allow", "Action": "s3:*", "Resource": "*", "NotPrincipal": principal}));
        principal_match(p.statements()[0].principal.as_ref().unwrap(), who)
    }

    #[test]
    fn principal_matching() {
        use PrincipalMatch::{Account, Direct, No};
        let anon = Principal::anonymous();
        let root = Principal::account_root(ACCT);
        let session = Principal::assumed_role(ACCT, "reader", "s1", "AROAREADER");
        let stranger = Principal::user(OTHER, "eve", "AIDAEVE");
        let svc = Principal::service("logging.s3.amazonaws.com");

        for everyone in [json!("*"), json!({"AWS": "*"}), json!({"AWS": ["123", "*"]})] {
            for who in [&anon, &root, &alice(), &session, &stranger] {
                assert_eq!(pm(everyone.clone(), who), Direct, "{everyone} {who:?}");
            }
        }
        // account id and root ARN: every principal of the account, never anonymous
        for acct in [json!({"AWS": ACCT}), json!({"AWS": format!("arn:aws:iam::{ACCT}:root")})] {
            assert_eq!(pm(acct.clone(), &root), Account);
            assert_eq!(pm(acct.clone(), &alice()), Account);
            assert_eq!(pm(acct.clone(), &session), Account);
            assert_eq!(pm(acct.clone(), &stranger), No);
            assert_eq!(pm(acct.clone(), &anon), No);
            assert_eq!(pm(acct, &svc), No);
        }
        // user ARNs, with wildcards
        let alice_arn = json!({"AWS": format!("arn:aws:iam::{ACCT}:user/alice")});
        assert_eq!(pm(alice_arn.clone(), &alice()), Direct);
        assert_eq!(pm(alice_arn.clone(), &Principal::user(ACCT, "alicex", "AIDAX")), No);
        assert_eq!(pm(alice_arn.clone(), &anon), No);
        assert_eq!(pm(alice_arn, &root), No);
        assert_eq!(pm(json!({"AWS": format!("arn:aws:iam::{ACCT}:user/*")}), &alice()), Direct);
        assert_eq!(pm(json!({"AWS": "arn:aws:iam::*:user/alice"}), &alice()), Direct);
        // unique ids
        assert_eq!(pm(json!({"AWS": "AIDAALICE"}), &alice()), Direct);
        assert_eq!(pm(json!({"AWS": "AROAREADER"}), &session), Direct);
        // roles: the role ARN matches its sessions; the session ARN matches itself
        let role = json!({"AWS": format!("arn:aws:iam::{ACCT}:role/reader")});
        assert_eq!(pm(role.clone(), &session), Direct);
        assert_eq!(pm(role, &Principal::assumed_role(ACCT, "writer", "s1", "AROAW")), No);
        assert_eq!(pm(json!({"AWS": format!("arn:aws:sts::{ACCT}:assumed-role/reader/s1")}), &session), Direct);
        assert_eq!(pm(json!({"AWS": format!("arn:aws:sts::{ACCT}:assumed-role/reader/s2")}), &session), No);
        // role with a path: the explicit role_arn is used
        let mut pathed = Principal::assumed_role(ACCT, "reader", "s1", "AROAREADER");
        pathed.role_arn = Some(format!("arn:aws:iam::{ACCT}:role/team/reader"));
        assert_eq!(pm(json!({"AWS": format!("arn:aws:iam::{ACCT}:role/team/reader")}), &pathed), Direct);
        // services
        assert_eq!(pm(json!({"Service": "logging.s3.amazonaws.com"}), &svc), Direct);
        assert_eq!(pm(json!({"Service": ["x.amazonaws.com"]}), &svc), No);
        assert_eq!(pm(json!({"Service": "logging.s3.amazonaws.com"}), &alice()), No);
        assert_eq!(pm(json!({"AWS": ACCT}), &svc), No);
        // federated and canonical users never match
        assert_eq!(pm(json!({"Federated": "cognito-identity.amazonaws.com"}), &alice()), No);
        assert_eq!(pm(json!({"CanonicalUser": "AIDAALICE"}), &alice()), No);
        // a direct match wins over an account match
        assert_eq!(pm(json!({"AWS": [ACCT, format!("arn:aws:iam::{ACCT}:user/alice")]}), &alice()), Direct);
    }

    #[test]
    fn not_principal_matching() {
        use PrincipalMatch::{Direct, No};
        let bob = json!({"AWS": format!("arn:aws:iam::{ACCT}:user/bob")});
        assert_eq!(npm(bob.clone(), &alice()), Direct);
        assert_eq!(npm(bob.clone(), &Principal::anonymous()), Direct, "NotPrincipal covers anonymous");
        assert_eq!(npm(bob, &Principal::user(ACCT, "bob", "AIDABOB")), No);
        assert_eq!(npm(json!({"AWS": ACCT}), &alice()), No, "the account excludes its users");
        assert_eq!(npm(json!({"AWS": ACCT}), &Principal::user(OTHER, "eve", "E")), Direct);
        assert_eq!(npm(json!("*"), &alice()), No);
        let role = json!({"AWS": format!("arn:aws:iam::{ACCT}:role/reader")});
        assert_eq!(npm(role, &Principal::assumed_role(ACCT, "reader", "s", "AROA")), No);
    }

    #[test]
    fn resource_policy_statements_apply_only_to_their_principals() {
        let p = bucket(json!([
            {"Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{ACCT}:user/alice")}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"},
            {"Effect": "Deny", "Principal": "*", "Action": "s3:DeleteObject", "Resource": "arn:aws:s3:::b/*"}
        ]));
        assert!(allows(&p, &alice(), "s3:GetObject", "arn:aws:s3:::b/k"));
        assert!(!allows(&p, &Principal::user(ACCT, "bob", "B"), "s3:GetObject", "arn:aws:s3:::b/k"));
        assert!(matches!(
            eval_one(&p, &alice(), "s3:DeleteObject", "arn:aws:s3:::b/k", &Context::new()),
            Decision::ExplicitDeny(_)
        ));
    }

    #[test]
    fn trust_policy_without_resource_matches_any_resource() {
        let t = policy(
            json!({"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{ACCT}:user/alice")}, "Action": "sts:AssumeRole"}}),
            PolicyKind::Trust,
        );
        assert!(allows(&t, &alice(), "sts:AssumeRole", "arn:aws:iam::111122223333:role/r"));
        assert!(!allows(&t, &alice(), "sts:TagSession", "arn:aws:iam::111122223333:role/r"));
    }

    #[test]
    fn derived_keys_in_conditions() {
        let p = bucket(json!({"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "*",
            "Condition": {"StringNotEquals": {"aws:PrincipalAccount": ACCT}}}));
        assert!(!matches!(eval_one(&p, &alice(), "s3:GetObject", "*", &Context::new()), Decision::ExplicitDeny(_)));
        let eve = Principal::user(OTHER, "eve", "E");
        assert!(matches!(eval_one(&p, &eve, "s3:GetObject", "*", &Context::new()), Decision::ExplicitDeny(_)));
        // anonymous has no aws:PrincipalAccount: a negated operator on a missing key is true
        assert!(matches!(
            eval_one(&p, &Principal::anonymous(), "s3:GetObject", "*", &Context::new()),
            Decision::ExplicitDeny(_)
        ));
    }
}

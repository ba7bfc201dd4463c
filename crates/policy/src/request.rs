//! What is being asked: the principal, the action, the resource and the condition context.

use std::borrow::Cow;
use std::collections::BTreeMap;

use crate::matcher::Vars;

/// What kind of principal makes a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PrincipalKind {
    /// An operator of the whole platform: allowed everything by [`crate::authorize`].
    Admin,
    /// The root user of an account: owns everything in its account.
    AccountRoot,
    /// An IAM user.
    User,
    /// A session of an assumed role (`arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION`).
    AssumedRole,
    /// An unauthenticated request.
    Anonymous,
    /// A service principal such as `logging.s3.amazonaws.com`.
    Service,
}

/// The authenticated (or anonymous) caller.
///
/// The condition keys `aws:username`, `aws:userid`, `aws:PrincipalAccount`, `aws:PrincipalArn`,
/// `aws:PrincipalType` and `aws:PrincipalServiceName` are derived from it during evaluation;
/// see [`Context`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The kind of caller.
    pub kind: PrincipalKind,
    /// The caller's ARN: `arn:aws:iam::ACCOUNT:root`, `arn:aws:iam::ACCOUNT:user/PATH/NAME`,
    /// `arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION`; empty for anonymous; for a service
    /// principal its name (like `name`).
    pub arn: String,
    /// The 12-digit account id; empty for anonymous callers and services.
    pub account_id: String,
    /// The unique id (`aws:userid`): `AIDA...` for users, `AROA...:SESSION` for role sessions.
    pub user_id: String,
    /// The friendly name: the user name for users (`aws:username`), the service principal name
    /// for services (matched by `"Principal": {"Service": ...}`).
    pub name: String,
    /// For assumed-role sessions, the ARN of the role (`arn:aws:iam::ACCOUNT:role/PATH/ROLE`).
    /// When `None`, it is derived from the session ARN (without the role's path).
    pub role_arn: Option<String>,
}

impl Principal {
    /// An unauthenticated caller.
    pub fn anonymous() -> Self {
        Self {
            kind: PrincipalKind::Anonymous,
            arn: String::new(),
            account_id: String::new(),
            user_id: String::new(),
            name: String::new(),
            role_arn: None,
        }
    }

    /// The root user of `account_id`, with ARN `arn:aws:iam::ACCOUNT:root`.
    pub fn account_root(account_id: &str) -> Self {
        Self {
            kind: PrincipalKind::AccountRoot,
            arn: format!("arn:aws:iam::{account_id}:root"),
            account_id: account_id.to_owned(),
            user_id: account_id.to_owned(),
            name: String::new(),
            role_arn: None,
        }
    }

    /// An IAM user without a path, with ARN `arn:aws:iam::ACCOUNT:user/NAME`.
    pub fn user(account_id: &str, name: &str, user_id: &str) -> Self {
        Self {
            kind: PrincipalKind::User,
            arn: format!("arn:aws:iam::{account_id}:user/{name}"),
            account_id: account_id.to_owned(),
            user_id: user_id.to_owned(),
            name: name.to_owned(),
            role_arn: None,
        }
    }

    /// A session of role `role` (without a path): ARN
    /// `arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION`, role ARN
    /// `arn:aws:iam::ACCOUNT:role/ROLE`, user id `ROLE_ID:SESSION`.
    pub fn assumed_role(account_id: &str, role: &str, session: &str, role_id: &str) -> Self {
        Self {
            kind: PrincipalKind::AssumedRole,
            arn: format!("arn:aws:sts::{account_id}:assumed-role/{role}/{session}"),
            account_id: account_id.to_owned(),
            user_id: format!("{role_id}:{session}"),
            name: session.to_owned(),
            role_arn: Some(format!("arn:aws:iam::{account_id}:role/{role}")),
        }
    }

    /// A service principal such as `logging.s3.amazonaws.com`.
    pub fn service(name: &str) -> Self {
        Self {
            kind: PrincipalKind::Service,
            arn: name.to_owned(),
            account_id: String::new(),
            user_id: String::new(),
            name: name.to_owned(),
            role_arn: None,
        }
    }

    /// The role ARN of an assumed-role session: `role_arn` if set, else derived from
    /// `arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION`. `None` for other kinds.
    pub fn effective_role_arn(&self) -> Option<Cow<'_, str>> {
        if self.kind != PrincipalKind::AssumedRole {
            return None;
        }
        if let Some(arn) = &self.role_arn {
            return Some(Cow::Borrowed(arn));
        }
        let mut parts = self.arn.splitn(6, ':');
        let (Some("arn"), Some(partition), Some("sts"), Some(""), Some(account), Some(resource)) =
            (parts.next(), parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return None;
        };
        let role = resource.strip_prefix("assumed-role/")?.split('/').next().filter(|r| !r.is_empty())?;
        Some(Cow::Owned(format!("arn:{partition}:iam::{account}:role/{role}")))
    }

    /// The value of `aws:PrincipalType`.
    fn principal_type(&self) -> &'static str {
        match self.kind {
            PrincipalKind::Admin | PrincipalKind::User => "User",
            PrincipalKind::AccountRoot => "Account",
            PrincipalKind::AssumedRole => "AssumedRole",
            PrincipalKind::Anonymous => "Anonymous",
            PrincipalKind::Service => "Service",
        }
    }

    /// The condition keys derived from the principal (lower-case key), if present.
    fn derived(&self, lower_key: &str) -> Option<Option<String>> {
        let anonymous = self.kind == PrincipalKind::Anonymous;
        let non_empty = |s: &str| (!anonymous && !s.is_empty()).then(|| s.to_owned());
        let value = match lower_key {
            // AWS only sets aws:username for IAM users: a role session name is chosen by the
            // caller and must never be usable to reach another user's `home/${aws:username}`.
            "aws:username" => match self.kind {
                PrincipalKind::User | PrincipalKind::Admin => non_empty(&self.name),
                _ => None,
            },
            "aws:userid" => non_empty(&self.user_id),
            "aws:principalaccount" => non_empty(&self.account_id),
            "aws:principalarn" => match self.effective_role_arn() {
                Some(role) => Some(role.into_owned()),
                None => non_empty(&self.arn),
            },
            "aws:principaltype" => Some(self.principal_type().to_owned()),
            "aws:principalservicename" => match self.kind {
                PrincipalKind::Service => non_empty(&self.name),
                _ => None,
            },
            _ => return None,
        };
        Some(value)
    }
}

/// The condition context of a request: condition keys (case-insensitive, stored lower-case)
/// with one or more string values each.
///
/// The keys derived from the [`Principal`] (`aws:username`, `aws:userid`,
/// `aws:PrincipalAccount`, `aws:PrincipalArn`, `aws:PrincipalType`, `aws:PrincipalServiceName`)
/// need not be added: they are computed during evaluation and take precedence over values of the
/// same name put here. A key given with no value counts as absent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Context {
    values: BTreeMap<String, Vec<String>>,
}

impl Context {
    /// An empty context.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one value to `key` (keys are multi-valued: calling this twice gives two values).
    #[must_use]
    pub fn with(mut self, key: &str, value: impl Into<String>) -> Self {
        self.insert(key, value);
        self
    }

    /// Adds several values to `key`.
    #[must_use]
    pub fn with_many<I, S>(mut self, key: &str, values: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        for value in values {
            self.insert(key, value);
        }
        self
    }

    /// Adds one value to `key`.
    pub fn insert(&mut self, key: &str, value: impl Into<String>) {
        self.values.entry(key.to_lowercase()).or_default().push(value.into());
    }

    /// The values of `key` (case-insensitive) put in this context (not the derived ones).
    pub fn get(&self, key: &str) -> Option<&[String]> {
        self.values.get(&key.to_lowercase()).map(Vec::as_slice).filter(|v| !v.is_empty())
    }

    /// Whether no key was added.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

/// A request to authorize.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// Who asks.
    pub principal: &'a Principal,
    /// The action, like `s3:GetObject` (matched case-insensitively).
    pub action: &'a str,
    /// The resource ARN, like `arn:aws:s3:::bucket/key` (matched case-sensitively).
    pub resource: &'a str,
    /// The condition keys of the request.
    pub context: &'a Context,
}

/// Condition-key lookups for one request: derived principal keys, then the context.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Env<'a> {
    principal: &'a Principal,
    context: &'a Context,
}

impl<'a> Env<'a> {
    pub(crate) fn new(req: &Request<'a>) -> Self {
        Self { principal: req.principal, context: req.context }
    }

    /// The non-empty values of a lower-case key, or `None` when it is absent.
    pub(crate) fn values(&self, lower_key: &str) -> Option<Cow<'a, [String]>> {
        match self.principal.derived(lower_key) {
            Some(Some(v)) => Some(Cow::Owned(vec![v])),
            Some(None) => None,
            None => self.context.values.get(lower_key).filter(|v| !v.is_empty()).map(|v| Cow::Borrowed(v.as_slice())),
        }
    }
}

impl Vars for Env<'_> {
    fn var(&self, lower_key: &str) -> Option<String> {
        match self.values(lower_key)?.as_ref() {
            [one] => Some(one.clone()),
            _ => None,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn env_get(p: &Principal, ctx: &Context, key: &str) -> Option<Vec<String>> {
        let req = Request { principal: p, action: "s3:GetObject", resource: "*", context: ctx };
        Env::new(&req).values(key).map(|v| v.into_owned())
    }

    #[test]
    fn context_keys_are_case_insensitive_and_multi_valued() {
        let ctx = Context::new()
            .with("aws:SourceIp", "1.2.3.4")
            .with("AWS:SOURCEIP", "5.6.7.8")
            .with_many("s3:prefix", ["a", "b"]);
        assert_eq!(ctx.get("aws:sourceip").unwrap(), ["1.2.3.4", "5.6.7.8"]);
        assert_eq!(ctx.get("S3:Prefix").unwrap(), ["a", "b"]);
        assert!(ctx.get("missing").is_none());
        let empty = Context::new().with_many("k", Vec::<String>::new());
        assert!(empty.get("k").is_none(), "a key with no value is absent");
    }

    #[test]
    fn derived_keys() {
        let ctx = Context::new().with("aws:username", "mallory").with("x", "1");
        let alice = Principal::user("111122223333", "alice", "AIDAALICE");
        assert_eq!(env_get(&alice, &ctx, "aws:username").unwrap(), ["alice"], "derived keys win");
        assert_eq!(env_get(&alice, &ctx, "aws:userid").unwrap(), ["AIDAALICE"]);
        assert_eq!(env_get(&alice, &ctx, "aws:principalaccount").unwrap(), ["111122223333"]);
        assert_eq!(env_get(&alice, &ctx, "aws:principalarn").unwrap(), ["arn:aws:iam::111122223333:user/alice"]);
        assert_eq!(env_get(&alice, &ctx, "aws:principaltype").unwrap(), ["User"]);
        assert_eq!(env_get(&alice, &ctx, "x").unwrap(), ["1"]);

        let session = Principal::assumed_role("111122223333", "reader", "alice", "AROAREADER");
        assert!(env_get(&session, &ctx, "aws:username").is_none(), "no aws:username for role sessions");
        assert_eq!(env_get(&session, &ctx, "aws:userid").unwrap(), ["AROAREADER:alice"]);
        assert_eq!(env_get(&session, &ctx, "aws:principalarn").unwrap(), ["arn:aws:iam::111122223333:role/reader"]);
        assert_eq!(env_get(&session, &ctx, "aws:principaltype").unwrap(), ["AssumedRole"]);

        let anon = Principal::anonymous();
        assert!(env_get(&anon, &ctx, "aws:principalaccount").is_none());
        assert!(env_get(&anon, &ctx, "aws:principalarn").is_none());
        assert_eq!(env_get(&anon, &ctx, "aws:principaltype").unwrap(), ["Anonymous"]);

        let root = Principal::account_root("111122223333");
        assert_eq!(env_get(&root, &ctx, "aws:principaltype").unwrap(), ["Account"]);
        let svc = Principal::service("logging.s3.amazonaws.com");
        assert_eq!(env_get(&svc, &ctx, "aws:principalservicename").unwrap(), ["logging.s3.amazonaws.com"]);
    }

    #[test]
    fn role_arn_is_derived_from_session_arn() {
        let mut s = Principal::assumed_role("111122223333", "reader", "s1", "AROA");
        s.role_arn = None;
        assert_eq!(s.effective_role_arn().unwrap(), "arn:aws:iam::111122223333:role/reader");
        s.arn = "garbage".into();
        assert!(s.effective_role_arn().is_none());
        assert!(Principal::user("1", "u", "i").effective_role_arn().is_none());
    }

    #[test]
    fn variables_need_exactly_one_value() {
        let p = Principal::anonymous();
        let ctx = Context::new().with("one", "1").with_many("two", ["a", "b"]);
        let req = Request { principal: &p, action: "a:b", resource: "*", context: &ctx };
        let env = Env::new(&req);
        assert_eq!(env.var("one").unwrap(), "1");
        assert!(env.var("two").is_none());
        assert!(env.var("none").is_none());
    }
}

//! Parsing and validation of policy documents.

use std::collections::HashSet;

use serde_json::{Map, Value};

use crate::condition::{Clause, parse_condition};
use crate::error::{PolicyError, quote};
use crate::matcher::{Template, Tok, tokens};

/// Which kind of document is parsed; it decides which elements are required or refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PolicyKind {
    /// A policy attached to a user, group or role: `Principal`/`NotPrincipal` are refused,
    /// `Resource`/`NotResource` are required.
    Identity,
    /// A resource policy such as a bucket policy: `Principal`/`NotPrincipal` and
    /// `Resource`/`NotResource` are required.
    Resource,
    /// A role trust policy: `Principal`/`NotPrincipal` is required, `Resource` is optional
    /// (a statement without one applies to any resource).
    Trust,
}

/// The `Version` element.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PolicyVersion {
    /// `2012-10-17`: policy variables (`${aws:username}`) are substituted.
    V2012_10_17,
    /// `2008-10-17`: `${...}` is literal text.
    V2008_10_17,
}

/// `Allow` or `Deny`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Effect {
    /// The statement grants.
    Allow,
    /// The statement refuses; an explicit deny always wins.
    Deny,
}

/// A parsed, validated policy document.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    kind: PolicyKind,
    version: Option<PolicyVersion>,
    id: Option<String>,
    statements: Vec<Statement>,
}

/// One statement of a policy.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    pub(crate) sid: Option<String>,
    pub(crate) effect: Effect,
    pub(crate) action: Actions,
    /// `None` only in trust policies that name no resource.
    pub(crate) resource: Option<Resources>,
    /// `None` in identity policies.
    pub(crate) principal: Option<Principals>,
    pub(crate) conditions: Vec<Clause>,
}

/// `Action` or `NotAction`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Actions {
    pub(crate) negated: bool,
    /// Lower-cased patterns.
    pub(crate) patterns: Vec<Vec<Tok>>,
}

/// `Resource` or `NotResource`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Resources {
    pub(crate) negated: bool,
    pub(crate) patterns: Vec<Template>,
}

/// `Principal` or `NotPrincipal`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Principals {
    pub(crate) negated: bool,
    pub(crate) set: PrincipalSet,
}

/// The principals named by a `Principal` element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PrincipalSet {
    /// `"Principal": "*"`.
    Everyone,
    /// `"Principal": { "AWS": ..., "Service": ..., ... }`.
    Named { aws: Vec<String>, service: Vec<String>, federated: Vec<String>, canonical_user: Vec<String> },
}

impl Policy {
    /// Parses and validates a policy document of the given kind.
    ///
    /// Never panics, whatever the input. The error's text is meant for the client
    /// (`MalformedPolicyDocument` / `MalformedPolicy`). The caller limits the document size.
    pub fn parse(json: &str, kind: PolicyKind) -> Result<Self, PolicyError> {
        let value: Value = serde_json::from_str(json).map_err(|e| PolicyError::Json(e.to_string()))?;
        let Value::Object(top) = value else {
            return Err(PolicyError::invalid("The policy document must be a JSON object"));
        };
        for key in top.keys() {
            if !matches!(key.as_str(), "Version" | "Id" | "Statement") {
                return Err(PolicyError::invalid(format!(
                    "Unknown policy element {} (expected Version, Id and Statement)",
                    quote(key)
                )));
            }
        }
        let version = match top.get("Version") {
            None => None,
            Some(Value::String(v)) if v == "2012-10-17" => Some(PolicyVersion::V2012_10_17),
            Some(Value::String(v)) if v == "2008-10-17" => Some(PolicyVersion::V2008_10_17),
            Some(other) => {
                return Err(PolicyError::invalid(format!(
                    "Version {} is not supported (use \"2012-10-17\")",
                    short_json(other)
                )));
            }
        };
        let id = match top.get("Id") {
            None => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => return Err(PolicyError::invalid("Id must be a string")),
        };
        let raw_statements: Vec<&Value> = match top.get("Statement") {
            None => return Err(PolicyError::invalid("The policy has no Statement")),
            Some(Value::Array(items)) if items.is_empty() => {
                return Err(PolicyError::invalid("Statement must not be an empty array"));
            }
            Some(Value::Array(items)) => items.iter().collect(),
            Some(single @ Value::Object(_)) => vec![single],
            Some(_) => return Err(PolicyError::invalid("Statement must be an object or an array of objects")),
        };
        let variables = version == Some(PolicyVersion::V2012_10_17);
        let mut statements = Vec::with_capacity(raw_statements.len());
        let mut sids = HashSet::new();
        for (index, raw) in raw_statements.into_iter().enumerate() {
            let path = format!("Statement[{index}]");
            let Value::Object(obj) = raw else {
                return Err(PolicyError::invalid(format!("{path} must be a JSON object")));
            };
            let statement = parse_statement(obj, kind, variables, &path)?;
            if let Some(sid) = &statement.sid
                && !sid.is_empty()
                && !sids.insert(sid.clone())
            {
                return Err(PolicyError::invalid(format!(
                    "{path}: Sid {} is used by more than one statement",
                    quote(sid)
                )));
            }
            statements.push(statement);
        }
        Ok(Self { kind, version, id, statements })
    }

    /// The kind this policy was parsed as.
    pub fn kind(&self) -> PolicyKind {
        self.kind
    }

    /// The `Version` element, if present.
    pub fn version(&self) -> Option<PolicyVersion> {
        self.version
    }

    /// The `Id` element, if present.
    pub fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }

    /// Whether a condition of some statement reads a key starting with `prefix` (compared
    /// case-insensitively, as condition keys are), so that a caller can skip gathering request
    /// context that no statement reads (an object's existing tags, say).
    #[must_use]
    pub fn reads_condition_key(&self, prefix: &str) -> bool {
        let prefix = prefix.to_ascii_lowercase();
        self.statements.iter().any(|s| s.conditions.iter().any(|c| c.key().starts_with(&prefix)))
    }

    /// The statements, in document order (never empty).
    pub fn statements(&self) -> &[Statement] {
        &self.statements
    }
}

impl Statement {
    /// The `Sid`, if present.
    pub fn sid(&self) -> Option<&str> {
        self.sid.as_deref()
    }

    /// `Allow` or `Deny`.
    pub fn effect(&self) -> Effect {
        self.effect
    }
}

const STATEMENT_KEYS: &[&str] =
    &["Sid", "Effect", "Action", "NotAction", "Resource", "NotResource", "Principal", "NotPrincipal", "Condition"];

fn parse_statement(
    obj: &Map<String, Value>,
    kind: PolicyKind,
    variables: bool,
    path: &str,
) -> Result<Statement, PolicyError> {
    let err = |msg: String| PolicyError::invalid(format!("{path}: {msg}"));
    for key in obj.keys() {
        if !STATEMENT_KEYS.contains(&key.as_str()) {
            return Err(err(format!("unknown statement element {}", quote(key))));
        }
    }
    let sid = match obj.get("Sid") {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(err("Sid must be a string".into())),
    };
    let effect = match obj.get("Effect") {
        Some(Value::String(s)) if s == "Allow" => Effect::Allow,
        Some(Value::String(s)) if s == "Deny" => Effect::Deny,
        Some(other) => return Err(err(format!("Effect must be \"Allow\" or \"Deny\", not {}", short_json(other)))),
        None => return Err(err("Effect is missing".into())),
    };

    let (name, raw, negated) = exactly_one(obj, "Action", "NotAction").map_err(err)?;
    let actions =
        string_list(raw).ok_or_else(|| err(format!("{name} must be a string or a non-empty array of strings")))?;
    let mut patterns = Vec::with_capacity(actions.len());
    for a in actions {
        validate_action(a).map_err(|m| err(format!("{name} {}: {m}", quote(a))))?;
        patterns.push(tokens(&a.to_lowercase()));
    }
    let action = Actions { negated, patterns };

    let resource = match (kind, obj.contains_key("Resource") || obj.contains_key("NotResource")) {
        (PolicyKind::Trust, false) => None,
        _ => {
            let (name, raw, negated) = exactly_one(obj, "Resource", "NotResource").map_err(err)?;
            let list = string_list(raw)
                .ok_or_else(|| err(format!("{name} must be a string or a non-empty array of strings")))?;
            let mut patterns = Vec::with_capacity(list.len());
            for r in list {
                validate_resource(r).map_err(|m| err(format!("{name} {}: {m}", quote(r))))?;
                patterns.push(Template::parse(r, variables));
            }
            Some(Resources { negated, patterns })
        }
    };

    let has_principal = obj.contains_key("Principal") || obj.contains_key("NotPrincipal");
    let principal = match kind {
        PolicyKind::Identity if has_principal => {
            return Err(err(
                "Principal and NotPrincipal are not allowed in an identity-based policy (the principal is the identity the policy is attached to)".into(),
            ));
        }
        PolicyKind::Identity => None,
        PolicyKind::Resource | PolicyKind::Trust => {
            let (name, raw, negated) = exactly_one(obj, "Principal", "NotPrincipal").map_err(err)?;
            let set = parse_principal(raw).map_err(|m| err(format!("{name}: {m}")))?;
            Some(Principals { negated, set })
        }
    };

    let conditions = match obj.get("Condition") {
        None => Vec::new(),
        Some(c) => parse_condition(c, variables, &format!("{path}.Condition"))?,
    };

    Ok(Statement { sid, effect, action, resource, principal, conditions })
}

/// The one element present among `a` and `b`, and whether it is the negated one (`b`).
fn exactly_one<'v>(
    obj: &'v Map<String, Value>,
    a: &'static str,
    b: &'static str,
) -> Result<(&'static str, &'v Value, bool), String> {
    match (obj.get(a), obj.get(b)) {
        (Some(v), None) => Ok((a, v, false)),
        (None, Some(v)) => Ok((b, v, true)),
        (Some(_), Some(_)) => Err(format!("{a} and {b} cannot both be present")),
        (None, None) => Err(format!("{a} (or {b}) is missing")),
    }
}

/// A string or a non-empty array of strings.
fn string_list(v: &Value) -> Option<Vec<&str>> {
    match v {
        Value::String(s) => Some(vec![s.as_str()]),
        Value::Array(items) if !items.is_empty() => items.iter().map(Value::as_str).collect(),
        _ => None,
    }
}

fn validate_action(a: &str) -> Result<(), String> {
    if a == "*" {
        return Ok(());
    }
    let shape = "an action must be \"*\" or of the form \"service:action\" (wildcards * and ? allowed)";
    let Some((service, name)) = a.split_once(':') else {
        return Err(shape.into());
    };
    let service_ok =
        !service.is_empty() && service.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '*' | '?'));
    let name_ok =
        !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '*' | '?'));
    if service_ok && name_ok { Ok(()) } else { Err(shape.into()) }
}

fn validate_resource(r: &str) -> Result<(), String> {
    if r == "*" || (r.starts_with("arn:") && r.split(':').count() >= 6) {
        Ok(())
    } else {
        Err("a resource must be \"*\" or an ARN (arn:partition:service:region:account:resource)".into())
    }
}

fn parse_principal(v: &Value) -> Result<PrincipalSet, String> {
    let map = match v {
        Value::String(s) if s == "*" => return Ok(PrincipalSet::Everyone),
        Value::Object(map) if !map.is_empty() => map,
        _ => return Err("must be \"*\" or an object with AWS, Service, Federated or CanonicalUser entries".into()),
    };
    let (mut aws, mut service, mut federated, mut canonical_user) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (key, value) in map {
        let list =
            string_list(value).ok_or_else(|| format!("{key} must be a string or a non-empty array of strings"))?;
        let target = match key.as_str() {
            "AWS" => {
                for p in &list {
                    validate_aws_principal(p)?;
                }
                &mut aws
            }
            "Service" => &mut service,
            "Federated" => &mut federated,
            "CanonicalUser" => &mut canonical_user,
            other => {
                return Err(format!(
                    "unknown principal type {} (expected AWS, Service, Federated or CanonicalUser)",
                    quote(other)
                ));
            }
        };
        for p in list {
            if p.is_empty() {
                return Err(format!("{key} contains an empty principal"));
            }
            target.push(p.to_owned());
        }
    }
    Ok(PrincipalSet::Named { aws, service, federated, canonical_user })
}

fn validate_aws_principal(p: &str) -> Result<(), String> {
    let ok = p == "*"
        || (p.starts_with("arn:") && p.split(':').count() >= 6)
        || (!p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric()));
    if ok {
        Ok(())
    } else {
        Err(format!("invalid AWS principal {} (expected \"*\", an account id or an ARN)", quote(p)))
    }
}

/// A JSON value for an error message, cut if long.
fn short_json(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 80 { format!("{}…", s.chars().take(80).collect::<String>()) } else { s }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: Value, kind: PolicyKind) -> Result<Policy, PolicyError> {
        Policy::parse(&v.to_string(), kind)
    }

    fn err(v: Value, kind: PolicyKind) -> String {
        parse(v, kind).unwrap_err().to_string()
    }

    fn stmt(extra: Value) -> Value {
        let mut s = json!({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"});
        if let (Value::Object(s), Value::Object(extra)) = (&mut s, extra) {
            for (k, v) in extra {
                if v.is_null() {
                    s.remove(&k);
                } else {
                    s.insert(k, v);
                }
            }
        }
        s
    }

    fn doc(statement: Value) -> Value {
        json!({"Version": "2012-10-17", "Statement": statement})
    }

    use PolicyKind::{Identity, Resource, Trust};

    #[test]
    fn minimal_identity_policy() {
        let p = parse(doc(stmt(json!({}))), Identity).unwrap();
        assert_eq!(p.kind(), Identity);
        assert_eq!(p.version(), Some(PolicyVersion::V2012_10_17));
        assert_eq!(p.id(), None);
        assert_eq!(p.statements().len(), 1);
        assert_eq!(p.statements()[0].effect(), Effect::Allow);
        assert_eq!(p.statements()[0].sid(), None);
    }

    #[test]
    fn full_document() {
        let p = parse(
            json!({
                "Version": "2008-10-17",
                "Id": "policy-1",
                "Statement": [
                    {"Sid": "A", "Effect": "Deny", "NotAction": ["s3:Get*", "s3:List*"], "NotResource": "*",
                     "Principal": {"AWS": ["123456789012", "arn:aws:iam::123456789012:user/alice", "*"],
                                   "Service": "logging.s3.amazonaws.com", "Federated": "cognito-identity.amazonaws.com",
                                   "CanonicalUser": "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"},
                     "Condition": {"Bool": {"aws:SecureTransport": false}}},
                    {"Sid": "B", "Effect": "Allow", "Action": "*", "Resource": ["arn:aws:s3:::b", "arn:aws:s3:::b/*"],
                     "NotPrincipal": "*"}
                ]
            }),
            Resource,
        )
        .unwrap();
        assert_eq!(p.version(), Some(PolicyVersion::V2008_10_17));
        assert_eq!(p.id(), Some("policy-1"));
        assert_eq!(p.statements().len(), 2);
        assert_eq!(p.statements()[0].sid(), Some("A"));
        assert_eq!(p.statements()[0].effect(), Effect::Deny);
        assert_eq!(p.statements()[1].sid(), Some("B"));
    }

    #[test]
    fn version_is_optional_and_checked() {
        let no_version = json!({"Statement": stmt(json!({}))});
        assert_eq!(parse(no_version, Identity).unwrap().version(), None);
        let bad = json!({"Version": "2012-10-18", "Statement": stmt(json!({}))});
        assert!(err(bad, Identity).contains("Version \"2012-10-18\" is not supported"));
        let num = json!({"Version": 2012, "Statement": stmt(json!({}))});
        assert!(err(num, Identity).contains("not supported"));
    }

    #[test]
    fn document_shape_errors() {
        assert!(Policy::parse("", Identity).unwrap_err().to_string().contains("not valid JSON"));
        assert!(Policy::parse("{", Identity).unwrap_err().to_string().contains("not valid JSON"));
        assert!(matches!(Policy::parse("{\"Statement\": [}", Identity), Err(PolicyError::Json(_))));
        assert!(err(json!([]), Identity).contains("must be a JSON object"));
        assert!(err(json!("policy"), Identity).contains("must be a JSON object"));
        assert!(err(json!({"Version": "2012-10-17"}), Identity).contains("no Statement"));
        assert!(err(json!({"Statement": []}), Identity).contains("empty array"));
        assert!(err(json!({"Statement": "x"}), Identity).contains("object or an array"));
        assert!(err(json!({"Statement": ["x"]}), Identity).contains("Statement[0] must be a JSON object"));
        assert!(
            err(json!({"Statement": stmt(json!({})), "Extra": 1}), Identity)
                .contains("Unknown policy element \"Extra\"")
        );
        assert!(err(json!({"Statement": stmt(json!({})), "Id": 5}), Identity).contains("Id must be a string"));
        assert!(
            err(json!({"statement": stmt(json!({}))}), Identity).contains("Unknown policy element"),
            "case-sensitive"
        );
    }

    #[test]
    fn statement_errors() {
        let e = |extra: Value| err(doc(stmt(extra)), Identity);
        assert!(e(json!({"Effect": null})).contains("Effect is missing"));
        assert!(e(json!({"Effect": "allow"})).contains("Effect must be \"Allow\" or \"Deny\""));
        assert!(e(json!({"Effect": true})).contains("Effect must be"));
        assert!(e(json!({"Sid": 1})).contains("Sid must be a string"));
        assert!(e(json!({"Action": null})).contains("Action (or NotAction) is missing"));
        assert!(e(json!({"NotAction": "s3:*"})).contains("cannot both be present"));
        assert!(e(json!({"Action": []})).contains("non-empty array"));
        assert!(e(json!({"Action": [1]})).contains("non-empty array of strings"));
        assert!(e(json!({"Action": "GetObject"})).contains("service:action"));
        assert!(e(json!({"Action": "s3:"})).contains("service:action"));
        assert!(e(json!({"Action": ":Get"})).contains("service:action"));
        assert!(e(json!({"Action": "s3:Get Object"})).contains("service:action"));
        assert!(e(json!({"Action": "s3:a:b"})).contains("service:action"));
        assert!(e(json!({"Resource": null})).contains("Resource (or NotResource) is missing"));
        assert!(e(json!({"NotResource": "*"})).contains("cannot both be present"));
        assert!(e(json!({"Resource": "bucket/key"})).contains("ARN"));
        assert!(e(json!({"Resource": "arn:aws:s3:bucket"})).contains("ARN"));
        assert!(e(json!({"Resource": {}})).contains("Resource must be a string"));
        assert!(e(json!({"Condition": []})).contains("Condition must be a JSON object"));
        assert!(e(json!({"Condition": {"Bogus": {"a": "b"}}})).contains("unknown condition operator"));
        assert!(e(json!({"Extra": 1})).contains("unknown statement element \"Extra\""));
        assert!(e(json!({"action": "s3:*"})).contains("unknown statement element"));
        // the location is in the message
        let multi = doc(json!([stmt(json!({})), stmt(json!({"Action": "nope"}))]));
        assert!(err(multi, Identity).starts_with("Statement[1]: Action \"nope\""));
    }

    #[test]
    fn accepted_action_and_resource_forms() {
        for a in ["*", "s3:*", "s3:Get*", "s3:?etObject", "*:*", "execute-api:Invoke", "iam:Get*Policy"] {
            assert!(parse(doc(stmt(json!({"Action": a}))), Identity).is_ok(), "{a}");
        }
        for r in ["*", "arn:aws:s3:::b", "arn:aws:s3:::*", "arn:*:s3:::b/*", "arn:aws:iam::1:user/${aws:username}"] {
            assert!(parse(doc(stmt(json!({"Resource": r}))), Identity).is_ok(), "{r}");
        }
    }

    #[test]
    fn duplicate_sids_are_refused() {
        let d = doc(json!([stmt(json!({"Sid": "x"})), stmt(json!({"Sid": "x"}))]));
        assert!(err(d, Identity).contains("Sid \"x\" is used by more than one statement"));
        let ok = doc(json!([stmt(json!({"Sid": ""})), stmt(json!({"Sid": ""})), stmt(json!({}))]));
        assert!(parse(ok, Identity).is_ok());
    }

    #[test]
    fn principal_rules_per_kind() {
        let with_p = doc(stmt(json!({"Principal": "*"})));
        assert!(err(with_p.clone(), Identity).contains("not allowed in an identity-based policy"));
        assert!(parse(with_p, Resource).is_ok());
        let with_np = doc(stmt(json!({"NotPrincipal": {"AWS": "123456789012"}})));
        assert!(err(with_np.clone(), Identity).contains("not allowed"));
        assert!(parse(with_np, Resource).is_ok());
        assert!(err(doc(stmt(json!({}))), Resource).contains("Principal (or NotPrincipal) is missing"));
        assert!(err(doc(stmt(json!({}))), Trust).contains("Principal (or NotPrincipal) is missing"));
        let both = doc(stmt(json!({"Principal": "*", "NotPrincipal": "*"})));
        assert!(err(both, Resource).contains("cannot both be present"));
    }

    #[test]
    fn trust_policies_need_no_resource() {
        let t = doc(
            json!({"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"AWS": "arn:aws:iam::123456789012:root"}}),
        );
        let p = parse(t.clone(), Trust).unwrap();
        assert!(p.statements()[0].resource.is_none());
        assert!(err(t, Resource).contains("Resource (or NotResource) is missing"));
    }

    #[test]
    fn principal_errors() {
        let e = |p: Value| err(doc(stmt(json!({"Principal": p}))), Resource);
        assert!(e(json!("alice")).contains("must be \"*\" or an object"));
        assert!(e(json!({})).contains("must be \"*\" or an object"));
        assert!(e(json!(["*"])).contains("must be \"*\" or an object"));
        assert!(e(json!({"IAM": "x"})).contains("unknown principal type \"IAM\""));
        assert!(e(json!({"AWS": []})).contains("AWS must be a string or a non-empty array"));
        assert!(e(json!({"AWS": 123456789012_u64})).contains("AWS must be a string"));
        assert!(e(json!({"AWS": "arn:aws:iam::alice"})).contains("invalid AWS principal"));
        assert!(e(json!({"AWS": "user alice"})).contains("invalid AWS principal"));
        assert!(e(json!({"Service": ""})).contains("empty principal"));
        assert!(e(json!({"Service": [""]})).contains("empty principal"));
    }

    #[test]
    fn errors_quote_and_cut_long_values() {
        let long = "x".repeat(5000);
        let msg = err(doc(stmt(json!({"Action": long}))), Identity);
        assert!(msg.len() < 400, "{msg}");
        let ctl = err(doc(stmt(json!({"Action": "a\u{0}b"}))), Identity);
        assert!(ctl.contains("\\0"), "{ctl}");
    }

    #[test]
    fn single_statement_object_is_accepted() {
        let p = parse(json!({"Statement": stmt(json!({"Sid": "only"}))}), Identity).unwrap();
        assert_eq!(p.statements()[0].sid(), Some("only"));
    }

    #[test]
    fn reads_condition_key_sees_every_statement_case_insensitively() {
        let p = parse(
            json!({"Statement": [
                stmt(json!({})),
                stmt(json!({"Condition": {"StringEquals": {"S3:ExistingObjectTag/Security": "public"}}}))
            ]}),
            Identity,
        )
        .unwrap();
        assert!(p.reads_condition_key("s3:ExistingObjectTag/"));
        assert!(p.reads_condition_key("s3:existingobjecttag/security"));
        assert!(!p.reads_condition_key("s3:RequestObjectTag"));
        let plain = parse(json!({"Statement": stmt(json!({}))}), Identity).unwrap();
        assert!(!plain.reads_condition_key("s3:"));
    }
}

//! The `Condition` element: operators, parsing of their values and evaluation.
//!
//! # Semantics (as documented by AWS)
//!
//! * All operators of a `Condition` block are ANDed; within one operator the keys are ANDed;
//!   the values listed for one key are ORed. For a negated operator (`StringNotEquals`,
//!   `NotIpAddress`, ...) the context value must match *none* of the listed values.
//! * **Missing key** (absent from the request context, or present with no value): AWS documents
//!   that "the values do not match and the condition is false", and that when the condition
//!   requires the key *not* to match (`StringNotLike`, `ArnNotLike`, ...) and the key is absent,
//!   "the condition is true". We implement exactly that:
//!   - positive operators → false; negated operators → **true**;
//!   - `...IfExists` → true;
//!   - `Null: "true"` → true, `Null: "false"` → false;
//!   - `ForAllValues:` → true (vacuously, for every operator); `ForAnyValue:` → false (unless
//!     `...IfExists`).
//! * **Multi-valued context keys** without a set qualifier: a positive operator is true when any
//!   context value matches any policy value; a negated one when no context value matches any
//!   policy value. `ForAnyValue:` is true when at least one context value satisfies the operator,
//!   `ForAllValues:` when every context value does.
//! * A context value that cannot be read as the operator's type (a number, a date, an IP
//!   address, a boolean) satisfies neither the operator nor its negation: that comparison is
//!   false.
//! * Policy variables are substituted in the values of `String*` and `Arn*` operators (only in
//!   `2012-10-17` policies). A variable with no value never makes a condition true: for a
//!   positive operator that policy value matches nothing; for a negated operator the whole
//!   condition is false.
//! * Condition keys are case-insensitive; operator names are matched case-insensitively too.

use std::net::IpAddr;

use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;

use crate::error::{PolicyError, quote};
use crate::matcher::{Template, Tok, Vars, arn_match, glob};
use crate::request::Env;

/// The comparison an operator performs, before negation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Base {
    StringEquals,
    StringEqualsIgnoreCase,
    StringLike,
    NumericEquals,
    NumericLessThan,
    NumericLessThanEquals,
    NumericGreaterThan,
    NumericGreaterThanEquals,
    DateEquals,
    DateLessThan,
    DateLessThanEquals,
    DateGreaterThan,
    DateGreaterThanEquals,
    Bool,
    BinaryEquals,
    IpAddress,
    /// `ArnEquals` and `ArnLike` are the same operator in AWS (both accept wildcards).
    ArnLike,
    Null,
}

/// Operator names (lower-case) → (comparison, negated).
const OPERATORS: &[(&str, Base, bool)] = &[
    ("stringequals", Base::StringEquals, false),
    ("stringnotequals", Base::StringEquals, true),
    ("stringequalsignorecase", Base::StringEqualsIgnoreCase, false),
    ("stringnotequalsignorecase", Base::StringEqualsIgnoreCase, true),
    ("stringlike", Base::StringLike, false),
    ("stringnotlike", Base::StringLike, true),
    ("numericequals", Base::NumericEquals, false),
    ("numericnotequals", Base::NumericEquals, true),
    ("numericlessthan", Base::NumericLessThan, false),
    ("numericlessthanequals", Base::NumericLessThanEquals, false),
    ("numericgreaterthan", Base::NumericGreaterThan, false),
    ("numericgreaterthanequals", Base::NumericGreaterThanEquals, false),
    ("dateequals", Base::DateEquals, false),
    ("datenotequals", Base::DateEquals, true),
    ("datelessthan", Base::DateLessThan, false),
    ("datelessthanequals", Base::DateLessThanEquals, false),
    ("dategreaterthan", Base::DateGreaterThan, false),
    ("dategreaterthanequals", Base::DateGreaterThanEquals, false),
    ("bool", Base::Bool, false),
    ("binaryequals", Base::BinaryEquals, false),
    ("ipaddress", Base::IpAddress, false),
    ("notipaddress", Base::IpAddress, true),
    ("arnequals", Base::ArnLike, false),
    ("arnlike", Base::ArnLike, false),
    ("arnnotequals", Base::ArnLike, true),
    ("arnnotlike", Base::ArnLike, true),
    ("null", Base::Null, false),
];

/// `ForAnyValue:` / `ForAllValues:`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SetQualifier {
    None,
    AnyValue,
    AllValues,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Operator {
    base: Base,
    negated: bool,
    if_exists: bool,
    set: SetQualifier,
}

impl Operator {
    fn parse(name: &str) -> Result<Self, String> {
        let lower = name.to_lowercase();
        let (set, rest) = if let Some(rest) = lower.strip_prefix("foranyvalue:") {
            (SetQualifier::AnyValue, rest)
        } else if let Some(rest) = lower.strip_prefix("forallvalues:") {
            (SetQualifier::AllValues, rest)
        } else {
            (SetQualifier::None, lower.as_str())
        };
        let (if_exists, bare) = match rest.strip_suffix("ifexists") {
            Some(bare) => (true, bare),
            None => (false, rest),
        };
        let Some(&(_, base, negated)) = OPERATORS.iter().find(|(n, _, _)| *n == bare) else {
            return Err(format!("unknown condition operator {}", quote(name)));
        };
        if base == Base::Null && (if_exists || set != SetQualifier::None) {
            return Err(format!(
                "condition operator {}: Null cannot be combined with IfExists, ForAnyValue or ForAllValues",
                quote(name)
            ));
        }
        Ok(Self { base, negated, if_exists, set })
    }
}

/// An IPv4 or IPv6 network (a bare address is a /32 or /128).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl Cidr {
    fn parse(s: &str) -> Option<Self> {
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = addr.parse().ok()?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) if !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()) => p.parse().ok()?,
            Some(_) => return None,
            None => max,
        };
        (prefix <= max).then_some(Self { addr, prefix })
    }

    fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(a)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.prefix)).unwrap_or(0);
                (u32::from(net) ^ u32::from(a)) & mask == 0
            }
            (IpAddr::V6(net), IpAddr::V6(a)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(self.prefix)).unwrap_or(0);
                (u128::from(net) ^ u128::from(a)) & mask == 0
            }
            _ => false,
        }
    }
}

/// A decimal number: `-?digits(.digits)?([eE][+-]?digits)?`, finite.
fn parse_number(s: &str) -> Option<f64> {
    let b = s.as_bytes();
    let mut i = 0;
    let digits = |i: &mut usize| {
        let start = *i;
        while b.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i > start
    };
    if b.first() == Some(&b'-') {
        i += 1;
    }
    if !digits(&mut i) {
        return None;
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        if !digits(&mut i) {
            return None;
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if !digits(&mut i) {
            return None;
        }
    }
    if i != b.len() {
        return None;
    }
    s.parse::<f64>().ok().filter(|n| n.is_finite())
}

/// A date: RFC 3339 (`2024-05-01T12:00:00Z`, fractions and offsets allowed), ISO 8601 without
/// an offset (`2024-05-01T12:00:00`, taken as UTC), a bare date (`2024-05-01`, midnight UTC),
/// the compact form `20240501T120000Z`, or integer seconds since the Unix epoch.
pub(crate) fn parse_date(s: &str) -> Option<OffsetDateTime> {
    if let Ok(t) = OffsetDateTime::parse(s, &Rfc3339) {
        return Some(t);
    }
    let unsigned = s.strip_prefix('-').unwrap_or(s);
    if !unsigned.is_empty() && unsigned.len() <= 19 && unsigned.bytes().all(|b| b.is_ascii_digit()) {
        return s.parse::<i64>().ok().and_then(|secs| OffsetDateTime::from_unix_timestamp(secs).ok());
    }
    let iso = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
    if let Ok(t) = time::PrimitiveDateTime::parse(s, iso) {
        return Some(t.assume_utc());
    }
    let compact = format_description!("[year][month][day]T[hour][minute][second]Z");
    if let Ok(t) = time::PrimitiveDateTime::parse(s, compact) {
        return Some(t.assume_utc());
    }
    let date = format_description!("[year]-[month]-[day]");
    time::Date::parse(s, date).ok().map(|d| d.midnight().assume_utc())
}

fn parse_bool(s: &str) -> Option<bool> {
    if s.eq_ignore_ascii_case("true") {
        Some(true)
    } else if s.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// The values written in the policy for one key, parsed for the operator.
#[derive(Debug, Clone, PartialEq)]
enum Values {
    /// String and ARN operators (may contain policy variables).
    Templates(Vec<Template>),
    Numbers(Vec<f64>),
    Dates(Vec<OffsetDateTime>),
    Bools(Vec<bool>),
    Binary(Vec<String>),
    Networks(Vec<Cidr>),
}

/// Policy values after variable substitution, ready to compare.
enum Resolved {
    Exact(Vec<String>),
    Lower(Vec<String>),
    Pattern(Vec<Vec<Tok>>),
    Arn(Vec<Vec<Tok>>),
}

/// One `operator: { key: values }` entry.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Clause {
    op: Operator,
    /// Lower-case condition key.
    key: String,
    values: Values,
}

impl Clause {
    /// The condition key, lower-cased.
    pub(crate) fn key(&self) -> &str {
        &self.key
    }
}

/// Parses a `Condition` element into clauses. `path` is the location for error messages.
pub(crate) fn parse_condition(value: &Value, variables: bool, path: &str) -> Result<Vec<Clause>, PolicyError> {
    let Value::Object(ops) = value else {
        return Err(PolicyError::invalid(format!("{path} must be a JSON object of condition operators")));
    };
    let mut clauses = Vec::new();
    for (op_name, block) in ops {
        let op = Operator::parse(op_name).map_err(|e| PolicyError::invalid(format!("{path}: {e}")))?;
        let op_path = format!("{path}.{op_name}");
        let Value::Object(keys) = block else {
            return Err(PolicyError::invalid(format!("{op_path} must be a JSON object of condition keys")));
        };
        if keys.is_empty() {
            return Err(PolicyError::invalid(format!("{op_path} has no condition key")));
        }
        for (key, raw) in keys {
            let key_path = format!("{op_path}.{key}");
            if key.is_empty() {
                return Err(PolicyError::invalid(format!("{op_path}: a condition key is empty")));
            }
            let strings = condition_strings(raw, &key_path)?;
            let values = parse_values(op.base, &strings, variables)
                .map_err(|bad| PolicyError::invalid(format!("{key_path}: {bad}")))?;
            clauses.push(Clause { op, key: key.to_lowercase(), values });
        }
    }
    Ok(clauses)
}

/// A condition value: a string, number or boolean, or a non-empty array of them, as strings.
fn condition_strings(raw: &Value, path: &str) -> Result<Vec<String>, PolicyError> {
    fn scalar(v: &Value) -> Option<String> {
        match v {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }
    let bad =
        || PolicyError::invalid(format!("{path} must be a string, number or boolean, or a non-empty array of them"));
    match raw {
        Value::Array(items) if !items.is_empty() => items.iter().map(|v| scalar(v).ok_or_else(bad)).collect(),
        other => scalar(other).map(|s| vec![s]).ok_or_else(bad),
    }
}

fn parse_values(base: Base, strings: &[String], variables: bool) -> Result<Values, String> {
    fn each<T>(strings: &[String], what: &str, f: impl Fn(&str) -> Option<T>) -> Result<Vec<T>, String> {
        strings.iter().map(|s| f(s).ok_or_else(|| format!("{} is not a valid {what}", quote(s)))).collect()
    }
    Ok(match base {
        Base::StringEquals | Base::StringEqualsIgnoreCase | Base::StringLike | Base::ArnLike => {
            Values::Templates(strings.iter().map(|s| Template::parse(s, variables)).collect())
        }
        Base::NumericEquals
        | Base::NumericLessThan
        | Base::NumericLessThanEquals
        | Base::NumericGreaterThan
        | Base::NumericGreaterThanEquals => Values::Numbers(each(strings, "number", parse_number)?),
        Base::DateEquals
        | Base::DateLessThan
        | Base::DateLessThanEquals
        | Base::DateGreaterThan
        | Base::DateGreaterThanEquals => Values::Dates(each(
            strings,
            "date (expected ISO 8601 such as 2024-05-01T12:00:00Z, or epoch seconds)",
            parse_date,
        )?),
        Base::Bool | Base::Null => {
            Values::Bools(each(strings, "boolean (expected \"true\" or \"false\")", parse_bool)?)
        }
        Base::BinaryEquals => Values::Binary(strings.to_vec()),
        Base::IpAddress => Values::Networks(each(strings, "IP address or CIDR block", Cidr::parse)?),
    })
}

impl Clause {
    /// Evaluates this clause for the request.
    pub(crate) fn eval(&self, env: &Env<'_>) -> bool {
        let ctx = env.values(&self.key);
        if self.op.base == Base::Null {
            let present = ctx.is_some();
            // "Null": "true" holds when the key is absent.
            return matches!(&self.values, Values::Bools(b) if b.iter().any(|want_absent| *want_absent != present));
        }
        let Some(ctx) = ctx else {
            return match self.op.set {
                SetQualifier::AllValues => true,
                SetQualifier::AnyValue => self.op.if_exists,
                SetQualifier::None => self.op.if_exists || self.op.negated,
            };
        };
        let Some(resolved) = self.resolve(env) else {
            return false;
        };
        // Whether one context value satisfies the (possibly negated) operator.
        let satisfies = |v: &String| match self.matches_any(v, &resolved) {
            Some(matched) => matched != self.op.negated,
            None => false,
        };
        match self.op.set {
            SetQualifier::None if self.op.negated => ctx.iter().all(satisfies),
            SetQualifier::None | SetQualifier::AnyValue => ctx.iter().any(satisfies),
            SetQualifier::AllValues => ctx.iter().all(satisfies),
        }
    }

    /// Substitutes variables. `None` when the clause must be false because of an unresolvable
    /// variable under a negated operator; under a positive operator such values are dropped.
    fn resolve(&self, env: &Env<'_>) -> Option<Option<Resolved>> {
        let Values::Templates(templates) = &self.values else {
            return Some(None);
        };
        let vars: &dyn Vars = env;
        fn collect<T>(templates: &[Template], negated: bool, f: impl Fn(&Template) -> Option<T>) -> Option<Vec<T>> {
            let mut out = Vec::with_capacity(templates.len());
            for t in templates {
                match f(t) {
                    Some(v) => out.push(v),
                    None if negated => return None,
                    None => {}
                }
            }
            Some(out)
        }
        let neg = self.op.negated;
        let resolved = match self.op.base {
            Base::StringEquals => Resolved::Exact(collect(templates, neg, |t| t.to_text(vars))?),
            Base::StringEqualsIgnoreCase => {
                Resolved::Lower(collect(templates, neg, |t| t.to_text(vars).map(|s| s.to_lowercase()))?)
            }
            Base::StringLike => Resolved::Pattern(collect(templates, neg, |t| t.to_tokens(vars))?),
            _ => Resolved::Arn(collect(templates, neg, |t| t.to_tokens(vars))?),
        };
        Some(Some(resolved))
    }

    /// Whether the context value `v` matches at least one policy value; `None` when `v` cannot
    /// be read as the operator's type.
    fn matches_any(&self, v: &str, resolved: &Option<Resolved>) -> Option<bool> {
        use std::cmp::Ordering::{Equal, Greater, Less};
        let order_ok = |ord: std::cmp::Ordering| match self.op.base {
            Base::NumericEquals | Base::DateEquals => ord == Equal,
            Base::NumericLessThan | Base::DateLessThan => ord == Less,
            Base::NumericLessThanEquals | Base::DateLessThanEquals => ord != Greater,
            Base::NumericGreaterThan | Base::DateGreaterThan => ord == Greater,
            Base::NumericGreaterThanEquals | Base::DateGreaterThanEquals => ord != Less,
            _ => false,
        };
        match (&self.values, resolved) {
            (_, Some(Resolved::Exact(ps))) => Some(ps.iter().any(|p| p == v)),
            (_, Some(Resolved::Lower(ps))) => {
                let v = v.to_lowercase();
                Some(ps.contains(&v))
            }
            (_, Some(Resolved::Pattern(ps))) => Some(ps.iter().any(|p| glob(p, v))),
            (_, Some(Resolved::Arn(ps))) => Some(ps.iter().any(|p| arn_match(p, v))),
            (Values::Numbers(ps), None) => {
                let n = parse_number(v)?;
                Some(ps.iter().any(|p| n.partial_cmp(p).is_some_and(order_ok)))
            }
            (Values::Dates(ps), None) => {
                let d = parse_date(v)?;
                Some(ps.iter().any(|p| order_ok(d.cmp(p))))
            }
            (Values::Bools(ps), None) => {
                let b = parse_bool(v)?;
                Some(ps.contains(&b))
            }
            (Values::Binary(ps), None) => Some(ps.iter().any(|p| p == v)),
            (Values::Networks(ps), None) => {
                let ip: IpAddr = v.parse().ok()?;
                Some(ps.iter().any(|p| p.contains(ip)))
            }
            (Values::Templates(_), None) => Some(false),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::request::{Context, Principal, Request};
    use serde_json::json;

    fn clauses(cond: Value) -> Vec<Clause> {
        parse_condition(&cond, true, "Condition").unwrap()
    }

    fn holds_for(cond: Value, principal: &Principal, ctx: &Context) -> bool {
        let req = Request { principal, action: "s3:GetObject", resource: "arn:aws:s3:::b/k", context: ctx };
        let env = Env::new(&req);
        clauses(cond).iter().all(|c| c.eval(&env))
    }

    fn holds(cond: Value, ctx: &Context) -> bool {
        holds_for(cond, &Principal::user("111122223333", "alice", "AIDAALICE"), ctx)
    }

    fn err(cond: Value) -> String {
        parse_condition(&cond, true, "Condition").unwrap_err().to_string()
    }

    fn one(key: &str, v: &str) -> Context {
        Context::new().with(key, v)
    }

    #[test]
    fn operator_names() {
        assert!(Operator::parse("StringEquals").is_ok());
        assert!(Operator::parse("stringequals").is_ok(), "operators are case-insensitive");
        let op = Operator::parse("ForAllValues:StringNotLikeIfExists").unwrap();
        assert_eq!(
            op,
            Operator { base: Base::StringLike, negated: true, if_exists: true, set: SetQualifier::AllValues }
        );
        assert!(Operator::parse("StringEqualz").is_err());
        assert!(Operator::parse("NullIfExists").is_err());
        assert!(Operator::parse("ForAnyValue:Null").is_err());
        assert!(Operator::parse("ForSomeValues:StringEquals").is_err());
        assert!(Operator::parse("IfExists").is_err());
        assert!(Operator::parse("").is_err());
    }

    #[test]
    fn parse_errors() {
        assert!(err(json!("x")).contains("JSON object"));
        assert!(err(json!({"StringEqualz": {"k": "v"}})).contains("unknown condition operator"));
        assert!(err(json!({"StringEquals": "v"})).contains("condition keys"));
        assert!(err(json!({"StringEquals": {}})).contains("no condition key"));
        assert!(err(json!({"StringEquals": {"": "v"}})).contains("empty"));
        assert!(err(json!({"StringEquals": {"k": null}})).contains("string, number or boolean"));
        assert!(err(json!({"StringEquals": {"k": []}})).contains("non-empty array"));
        assert!(err(json!({"StringEquals": {"k": [{"a": 1}]}})).contains("string, number or boolean"));
        assert!(err(json!({"NumericEquals": {"k": "ten"}})).contains("not a valid number"));
        assert!(err(json!({"NumericEquals": {"k": "1e999"}})).contains("not a valid number"));
        assert!(err(json!({"NumericEquals": {"k": "NaN"}})).contains("not a valid number"));
        assert!(err(json!({"DateLessThan": {"k": "yesterday"}})).contains("not a valid date"));
        assert!(err(json!({"Bool": {"k": "yes"}})).contains("not a valid boolean"));
        assert!(err(json!({"Null": {"k": "maybe"}})).contains("not a valid boolean"));
        assert!(err(json!({"IpAddress": {"k": "10.0.0.0/33"}})).contains("not a valid IP"));
        assert!(err(json!({"IpAddress": {"k": "10.0.0"}})).contains("not a valid IP"));
        assert!(err(json!({"IpAddress": {"k": "10.0.0.0/"}})).contains("not a valid IP"));
        assert!(err(json!({"IpAddress": {"k": "::/129"}})).contains("not a valid IP"));
        // the location is named
        assert!(err(json!({"NumericEquals": {"s3:max-keys": "x"}})).contains("Condition.NumericEquals.s3:max-keys"));
    }

    #[test]
    fn values_are_normalised_to_strings() {
        assert!(holds(json!({"StringEquals": {"k": 10}}), &one("k", "10")));
        assert!(holds(json!({"StringEquals": {"k": true}}), &one("k", "true")));
        assert!(holds(json!({"NumericEquals": {"k": [1, 2.5]}}), &one("k", "2.5")));
        assert!(holds(json!({"Bool": {"aws:SecureTransport": true}}), &one("aws:securetransport", "true")));
    }

    #[test]
    fn string_operators() {
        let ctx = one("s3:prefix", "Home/Alice");
        assert!(holds(json!({"StringEquals": {"s3:prefix": "Home/Alice"}}), &ctx));
        assert!(!holds(json!({"StringEquals": {"s3:prefix": "home/alice"}}), &ctx));
        assert!(holds(json!({"StringEquals": {"S3:PREFIX": ["x", "Home/Alice"]}}), &ctx), "values ORed, key case");
        assert!(!holds(json!({"StringNotEquals": {"s3:prefix": ["x", "Home/Alice"]}}), &ctx));
        assert!(holds(json!({"StringNotEquals": {"s3:prefix": ["x", "y"]}}), &ctx));
        assert!(holds(json!({"StringEqualsIgnoreCase": {"s3:prefix": "home/alice"}}), &ctx));
        assert!(!holds(json!({"StringNotEqualsIgnoreCase": {"s3:prefix": "HOME/ALICE"}}), &ctx));
        assert!(holds(json!({"StringNotEqualsIgnoreCase": {"s3:prefix": "home/bob"}}), &ctx));
        assert!(holds(json!({"StringLike": {"s3:prefix": "Home/*"}}), &ctx));
        assert!(holds(json!({"StringLike": {"s3:prefix": "Home/Alic?"}}), &ctx));
        assert!(!holds(json!({"StringLike": {"s3:prefix": "home/*"}}), &ctx), "StringLike is case-sensitive");
        assert!(holds(json!({"StringNotLike": {"s3:prefix": "Other/*"}}), &ctx));
        assert!(!holds(json!({"StringNotLike": {"s3:prefix": ["Other/*", "Home/*"]}}), &ctx));
        // StringEquals does not treat * as a wildcard
        assert!(!holds(json!({"StringEquals": {"s3:prefix": "Home/*"}}), &ctx));
        assert!(holds(json!({"StringEquals": {"s3:prefix": "a*"}}), &one("s3:prefix", "a*")));
    }

    #[test]
    fn keys_and_operators_are_anded() {
        let ctx = Context::new().with("a", "1").with("b", "2");
        assert!(holds(json!({"StringEquals": {"a": "1", "b": "2"}}), &ctx));
        assert!(!holds(json!({"StringEquals": {"a": "1", "b": "3"}}), &ctx));
        assert!(holds(json!({"StringEquals": {"a": "1"}, "NumericEquals": {"b": 2}}), &ctx));
        assert!(!holds(json!({"StringEquals": {"a": "1"}, "NumericEquals": {"b": 3}}), &ctx));
    }

    #[test]
    fn numeric_operators() {
        let ctx = one("s3:max-keys", "10");
        let t = |op: &str, v: Value| holds(json!({ op: {"s3:max-keys": v} }), &ctx);
        assert!(t("NumericEquals", json!(10)));
        assert!(t("NumericEquals", json!("10.0")));
        assert!(!t("NumericEquals", json!(11)));
        assert!(t("NumericNotEquals", json!(11)));
        assert!(!t("NumericNotEquals", json!(10)));
        assert!(t("NumericLessThan", json!(11)));
        assert!(!t("NumericLessThan", json!(10)));
        assert!(t("NumericLessThanEquals", json!(10)));
        assert!(!t("NumericLessThanEquals", json!(9)));
        assert!(t("NumericGreaterThan", json!(9)));
        assert!(!t("NumericGreaterThan", json!(10)));
        assert!(t("NumericGreaterThanEquals", json!(10)));
        assert!(!t("NumericGreaterThanEquals", json!(11)));
        assert!(t("NumericLessThan", json!("1e2")));
        assert!(t("NumericGreaterThan", json!(-5.5)));
        // malformed context value: the comparison is false, negated or not
        let bad = one("s3:max-keys", "ten");
        assert!(!holds(json!({"NumericEquals": {"s3:max-keys": 10}}), &bad));
        assert!(!holds(json!({"NumericNotEquals": {"s3:max-keys": 10}}), &bad));
    }

    #[test]
    fn number_grammar() {
        for ok in ["0", "-1", "10.25", "1e3", "1E-3", "2.5e+2"] {
            assert!(parse_number(ok).is_some(), "{ok}");
        }
        for bad in ["", "-", "1.", ".5", "+1", "1e", "0x10", "inf", "NaN", " 1", "1 ", "1e400", "١"] {
            assert!(parse_number(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn date_operators() {
        let ctx = one("aws:CurrentTime", "2024-05-01T12:00:00Z");
        let t = |op: &str, v: &str| holds(json!({ op: {"aws:CurrentTime": v} }), &ctx);
        assert!(t("DateEquals", "2024-05-01T12:00:00Z"));
        assert!(t("DateEquals", "2024-05-01T14:00:00+02:00"), "offsets are honoured");
        assert!(t("DateEquals", "1714564800"), "epoch seconds");
        assert!(t("DateNotEquals", "2024-05-01T12:00:01Z"));
        assert!(!t("DateNotEquals", "2024-05-01T12:00:00Z"));
        assert!(t("DateLessThan", "2024-05-02"));
        assert!(!t("DateLessThan", "2024-05-01T12:00:00Z"));
        assert!(t("DateLessThanEquals", "2024-05-01T12:00:00"));
        assert!(t("DateGreaterThan", "2024-05-01T11:59:59.5Z"));
        assert!(!t("DateGreaterThan", "20240501T120000Z"));
        assert!(t("DateGreaterThanEquals", "20240501T120000Z"));
        // context in epoch seconds
        let epoch = one("aws:EpochTime", "1714564800");
        assert!(holds(json!({"DateEquals": {"aws:EpochTime": "2024-05-01T12:00:00Z"}}), &epoch));
        let bad = one("aws:CurrentTime", "soon");
        assert!(!holds(json!({"DateLessThan": {"aws:CurrentTime": "2030-01-01"}}), &bad));
        assert!(!holds(json!({"DateNotEquals": {"aws:CurrentTime": "2030-01-01"}}), &bad));
    }

    #[test]
    fn bool_and_binary() {
        assert!(holds(json!({"Bool": {"aws:SecureTransport": "true"}}), &one("aws:SecureTransport", "true")));
        assert!(holds(json!({"Bool": {"aws:SecureTransport": "TRUE"}}), &one("aws:SecureTransport", "True")));
        assert!(!holds(json!({"Bool": {"aws:SecureTransport": "true"}}), &one("aws:SecureTransport", "false")));
        assert!(!holds(json!({"Bool": {"aws:SecureTransport": "true"}}), &one("aws:SecureTransport", "1")));
        assert!(!holds(json!({"Bool": {"aws:SecureTransport": "false"}}), &Context::new()));
        assert!(holds(json!({"BinaryEquals": {"k": "QmluYXJ5"}}), &one("k", "QmluYXJ5")));
        assert!(!holds(json!({"BinaryEquals": {"k": "QmluYXJ5"}}), &one("k", "qmluyxj5")));
    }

    #[test]
    fn ip_operators() {
        let t = |op: &str, v: Value, ip: &str| holds(json!({ op: {"aws:SourceIp": v} }), &one("aws:SourceIp", ip));
        assert!(t("IpAddress", json!("203.0.113.0/24"), "203.0.113.77"));
        assert!(!t("IpAddress", json!("203.0.113.0/24"), "203.0.114.1"));
        assert!(t("IpAddress", json!("203.0.113.7"), "203.0.113.7"), "bare address");
        assert!(!t("IpAddress", json!("203.0.113.7"), "203.0.113.8"));
        assert!(t("IpAddress", json!("0.0.0.0/0"), "8.8.8.8"));
        assert!(t("IpAddress", json!(["10.0.0.0/8", "192.168.0.0/16"]), "192.168.3.4"));
        assert!(t("NotIpAddress", json!("10.0.0.0/8"), "11.0.0.1"));
        assert!(!t("NotIpAddress", json!("10.0.0.0/8"), "10.1.2.3"));
        assert!(t("IpAddress", json!("2001:db8::/32"), "2001:db8:1::5"));
        assert!(!t("IpAddress", json!("2001:db8::/32"), "2001:db9::5"));
        assert!(t("IpAddress", json!("::/0"), "::1"));
        assert!(!t("IpAddress", json!("2001:db8::/32"), "10.0.0.1"), "families do not mix");
        assert!(t("IpAddress", json!("10.0.0.0/8"), "::ffff:10.1.2.3"), "v4-mapped v6 counts as v4");
        assert!(!t("IpAddress", json!("10.0.0.0/8"), "not-an-ip"));
        assert!(!t("NotIpAddress", json!("10.0.0.0/8"), "not-an-ip"), "malformed context: false");
    }

    #[test]
    fn arn_operators() {
        let ctx = one("aws:SourceArn", "arn:aws:s3:::logs-bucket");
        for op in ["ArnEquals", "ArnLike"] {
            assert!(holds(json!({ op: {"aws:SourceArn": "arn:aws:s3:::logs-*"} }), &ctx), "{op}");
            assert!(!holds(json!({ op: {"aws:SourceArn": "arn:aws:s3:::other"} }), &ctx), "{op}");
        }
        for op in ["ArnNotEquals", "ArnNotLike"] {
            assert!(!holds(json!({ op: {"aws:SourceArn": "arn:aws:s3:::logs-*"} }), &ctx), "{op}");
            assert!(holds(json!({ op: {"aws:SourceArn": "arn:aws:s3:::other"} }), &ctx), "{op}");
        }
        assert!(!holds(json!({"ArnLike": {"aws:SourceArn": "arn:aws:*"}}), &ctx), "* stays within one part");
        assert!(holds(json!({"ArnLike": {"aws:SourceArn": "arn:aws:*:*:*:*"}}), &ctx));
    }

    #[test]
    fn missing_keys() {
        let empty = Context::new();
        // positive operators: false
        for op in ["StringEquals", "StringLike", "NumericEquals", "DateEquals", "Bool", "IpAddress", "ArnLike"] {
            let v = match op {
                "NumericEquals" => json!(1),
                "DateEquals" => json!("2024-01-01"),
                "Bool" => json!(true),
                "IpAddress" => json!("10.0.0.0/8"),
                _ => json!("x"),
            };
            assert!(!holds(json!({ op: {"k": v.clone()} }), &empty), "{op}");
            assert!(holds(json!({ format!("{op}IfExists"): {"k": v.clone()} }), &empty), "{op}IfExists");
            assert!(!holds(json!({ format!("ForAnyValue:{op}"): {"k": v.clone()} }), &empty), "ForAnyValue:{op}");
            assert!(holds(json!({ format!("ForAllValues:{op}"): {"k": v} }), &empty), "ForAllValues:{op}");
        }
        // negated operators: true (AWS: "the condition is true")
        for op in
            ["StringNotEquals", "StringNotLike", "NumericNotEquals", "DateNotEquals", "NotIpAddress", "ArnNotLike"]
        {
            let v = match op {
                "NumericNotEquals" => json!(1),
                "DateNotEquals" => json!("2024-01-01"),
                "NotIpAddress" => json!("10.0.0.0/8"),
                _ => json!("x"),
            };
            assert!(holds(json!({ op: {"k": v.clone()} }), &empty), "{op}");
            assert!(holds(json!({ format!("{op}IfExists"): {"k": v.clone()} }), &empty), "{op}IfExists");
            assert!(!holds(json!({ format!("ForAnyValue:{op}"): {"k": v} }), &empty), "ForAnyValue:{op}");
        }
        // a key with an empty value list is absent
        let present_but_empty = Context::new().with_many("k", Vec::<String>::new());
        assert!(!holds(json!({"StringEquals": {"k": "x"}}), &present_but_empty));
    }

    #[test]
    fn if_exists_when_present_is_the_plain_operator() {
        let ctx = one("k", "a");
        assert!(holds(json!({"StringEqualsIfExists": {"k": "a"}}), &ctx));
        assert!(!holds(json!({"StringEqualsIfExists": {"k": "b"}}), &ctx));
        assert!(holds(json!({"StringNotEqualsIfExists": {"k": "b"}}), &ctx));
        assert!(!holds(json!({"NumericLessThanIfExists": {"k": 5}}), &ctx), "malformed context value");
        assert!(holds(json!({"NumericLessThanIfExists": {"k": 5}}), &one("k", "4")));
    }

    #[test]
    fn null_operator() {
        let empty = Context::new();
        let ctx = one("aws:TokenIssueTime", "2024-01-01T00:00:00Z");
        assert!(holds(json!({"Null": {"aws:TokenIssueTime": "true"}}), &empty));
        assert!(!holds(json!({"Null": {"aws:TokenIssueTime": "true"}}), &ctx));
        assert!(!holds(json!({"Null": {"aws:TokenIssueTime": "false"}}), &empty));
        assert!(holds(json!({"Null": {"aws:TokenIssueTime": false}}), &ctx));
        assert!(holds(json!({"Null": {"aws:TokenIssueTime": ["true", "false"]}}), &empty));
        // derived principal keys count as present
        assert!(holds(json!({"Null": {"aws:username": "false"}}), &empty));
        assert!(holds_for(json!({"Null": {"aws:username": "true"}}), &Principal::anonymous(), &empty));
    }

    #[test]
    fn multi_valued_keys_and_set_qualifiers() {
        let tags = Context::new().with_many("aws:TagKeys", ["env", "team"]);
        let some = Context::new().with_many("aws:TagKeys", ["env", "cost"]);
        // ForAllValues: every context value is in the list
        let all = json!({"ForAllValues:StringEquals": {"aws:TagKeys": ["env", "team", "owner"]}});
        assert!(holds(all.clone(), &tags));
        assert!(!holds(all.clone(), &some));
        assert!(holds(all, &Context::new()), "vacuously true");
        // ForAnyValue: at least one
        let any = json!({"ForAnyValue:StringEquals": {"aws:TagKeys": ["team", "owner"]}});
        assert!(holds(any.clone(), &tags));
        assert!(!holds(any, &some));
        // without qualifier on a multi-valued key: any value matches
        assert!(holds(json!({"StringEquals": {"aws:TagKeys": "team"}}), &tags));
        // negated without qualifier: no value may match
        assert!(!holds(json!({"StringNotEquals": {"aws:TagKeys": "team"}}), &tags));
        assert!(holds(json!({"StringNotEquals": {"aws:TagKeys": "owner"}}), &tags));
        // ForAnyValue + negated: some value is outside the list
        assert!(holds(json!({"ForAnyValue:StringNotEquals": {"aws:TagKeys": "team"}}), &tags));
        assert!(!holds(json!({"ForAnyValue:StringNotEquals": {"aws:TagKeys": ["env", "team"]}}), &tags));
        // ForAllValues + negated: no value is in the list
        assert!(holds(json!({"ForAllValues:StringNotEquals": {"aws:TagKeys": ["cost", "x"]}}), &tags));
        assert!(!holds(json!({"ForAllValues:StringNotEquals": {"aws:TagKeys": "team"}}), &tags));
        assert!(holds(json!({"ForAllValues:StringLike": {"aws:TagKeys": ["e*", "t*"]}}), &tags));
        assert!(holds(json!({"ForAnyValue:StringLike": {"aws:TagKeys": "c*"}}), &some));
        // a malformed value fails ForAllValues
        let ips = Context::new().with_many("ips", ["10.0.0.1", "bogus"]);
        assert!(!holds(json!({"ForAllValues:IpAddress": {"ips": "10.0.0.0/8"}}), &ips));
        assert!(holds(json!({"ForAnyValue:IpAddress": {"ips": "10.0.0.0/8"}}), &ips));
    }

    #[test]
    fn variables_in_condition_values() {
        let alice = Principal::user("111122223333", "alice", "AIDAALICE");
        let ctx = one("s3:prefix", "home/alice/docs");
        assert!(holds_for(json!({"StringLike": {"s3:prefix": "home/${aws:username}/*"}}), &alice, &ctx));
        let bob = Principal::user("111122223333", "bob", "AIDABOB");
        assert!(!holds_for(json!({"StringLike": {"s3:prefix": "home/${aws:username}/*"}}), &bob, &ctx));
        // a missing variable never makes the condition true
        let anon = Principal::anonymous();
        assert!(!holds_for(json!({"StringLike": {"s3:prefix": "home/${aws:username}/*"}}), &anon, &ctx));
        assert!(!holds_for(json!({"StringNotLike": {"s3:prefix": "home/${aws:username}/*"}}), &anon, &ctx));
        assert!(holds_for(json!({"StringLike": {"s3:prefix": ["home/${aws:username}/*", "home/*"]}}), &anon, &ctx));
        // equality with a variable
        let owner = one("s3:ExistingObjectTag/owner", "alice");
        assert!(holds_for(json!({"StringEquals": {"s3:ExistingObjectTag/owner": "${aws:username}"}}), &alice, &owner));
        assert!(!holds_for(json!({"StringEquals": {"s3:ExistingObjectTag/owner": "${aws:username}"}}), &bob, &owner));
        // ARN with the account variable
        let src = one("aws:SourceArn", "arn:aws:iam::111122223333:role/x");
        assert!(holds_for(
            json!({"ArnLike": {"aws:SourceArn": "arn:aws:iam::${aws:PrincipalAccount}:role/*"}}),
            &alice,
            &src
        ));
    }

    #[test]
    fn variables_are_text_in_old_policies() {
        let cl = parse_condition(&json!({"StringEquals": {"k": "${aws:username}"}}), false, "Condition").unwrap();
        let alice = Principal::user("1", "alice", "A");
        let ctx = one("k", "${aws:username}");
        let req = Request { principal: &alice, action: "s3:GetObject", resource: "*", context: &ctx };
        assert!(cl.iter().all(|c| c.eval(&Env::new(&req))));
    }

    #[test]
    fn cidr_edges() {
        let c = Cidr::parse("0.0.0.0/0").unwrap();
        assert!(c.contains("255.255.255.255".parse().unwrap()));
        let c = Cidr::parse("10.1.2.3/32").unwrap();
        assert!(c.contains("10.1.2.3".parse().unwrap()));
        assert!(!c.contains("10.1.2.4".parse().unwrap()));
        let c = Cidr::parse("10.1.2.3/31").unwrap();
        assert!(c.contains("10.1.2.2".parse().unwrap()));
        assert!(Cidr::parse("10.0.0.0/+8").is_none());
        assert!(Cidr::parse("10.0.0.0/08").is_some());
        assert!(Cidr::parse("10.0.0.0/0008").is_none());
        assert!(Cidr::parse("fe80::1%eth0").is_none());
    }
}

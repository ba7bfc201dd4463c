//! The policy of a browser POST upload (PostObject, ADR 0015): its parsing and every check AWS
//! makes of a form against it — expiration, each condition (`eq`, `starts-with`,
//! `content-length-range`, and `{"field": "value"}`), and that every form field but the exempt
//! ones is covered by a condition. Pure: no I/O, no signature (see `post_object.rs`).

use base64::Engine as _;
use s3s::{S3Error, s3_error};
use serde_json::Value;
use time::OffsetDateTime;

/// One condition of a policy.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Condition {
    /// The field (lowercase, without `$`) equals the value.
    Eq { field: String, value: String, text: String },
    /// The field starts with the prefix (`""`: any value, the field may be absent).
    StartsWith { field: String, prefix: String, text: String },
    /// The file's size in bytes lies within `min..=max`.
    LengthRange { min: u64, max: u64 },
}

/// A parsed POST policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostPolicy {
    /// When the policy stops being valid.
    pub expiration: OffsetDateTime,
    conditions: Vec<Condition>,
}

/// The form fields of a POST upload, names lowercased, in form order (first wins).
#[derive(Debug, Clone, Default)]
pub struct Fields(Vec<(String, String)>);

impl Fields {
    /// The fields as sent: names are compared case-insensitively, as AWS does.
    #[must_use]
    pub fn new(fields: impl IntoIterator<Item = (String, String)>) -> Self {
        let mut out: Vec<(String, String)> = Vec::new();
        for (name, value) in fields {
            let name = name.to_ascii_lowercase();
            if !out.iter().any(|(n, _)| *n == name) {
                out.push((name, value));
            }
        }
        Self(out)
    }

    /// The value of field `name` (lowercase).
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// Replaces (or adds) field `name`'s value.
    pub fn set(&mut self, name: &str, value: String) {
        match self.0.iter_mut().find(|(n, _)| n == name) {
            Some((_, v)) => *v = value,
            None => self.0.push((name.to_owned(), value)),
        }
    }

    /// Every field, lowercased names.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }
}

/// Fields a policy need not cover: the signature's own, the file, `x-ignore-*`, and checksums
/// (which only make an upload stricter).
#[must_use]
pub fn is_exempt(name: &str) -> bool {
    matches!(name, "policy" | "signature" | "x-amz-signature" | "awsaccesskeyid" | "file")
        || name.starts_with("x-ignore-")
        || name.starts_with("x-amz-checksum-")
}

fn invalid(msg: impl std::fmt::Display) -> S3Error {
    s3_error!(InvalidPolicyDocument, "Invalid Policy: {msg}")
}

fn denied(msg: impl std::fmt::Display) -> S3Error {
    s3_error!(AccessDenied, "Invalid according to Policy: {msg}")
}

/// A JSON value as AWS quotes it in a refusal: strings in double quotes, numbers bare.
fn show(v: &Value) -> String {
    match v {
        Value::String(s) => format!("\"{s}\""),
        other => other.to_string(),
    }
}

fn length_bound(v: Option<&Value>, text: &str) -> Result<u64, S3Error> {
    let n = match v {
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(s)) => s.trim().parse::<i64>().ok(),
        _ => None,
    };
    match n {
        Some(n) if n >= 0 => Ok(n.unsigned_abs()),
        _ => Err(invalid(format!("Invalid content-length-range: {text}"))),
    }
}

fn field_name(v: &Value, text: &str) -> Result<String, S3Error> {
    match v.as_str().and_then(|s| s.strip_prefix('$')) {
        Some(name) if !name.is_empty() => Ok(name.to_ascii_lowercase()),
        _ => Err(invalid(format!("Invalid Condition: {text}"))),
    }
}

fn condition(v: &Value) -> Result<Condition, S3Error> {
    match v {
        Value::Object(map) => {
            let mut entries = map.iter();
            let (Some((name, value)), None) = (entries.next(), entries.next()) else {
                return Err(invalid(
                    "Invalid Simple-Condition: Simple-Conditions must have exactly one property specified.",
                ));
            };
            let Some(value) = value.as_str() else {
                return Err(invalid(format!("Invalid Simple-Condition: value of {name} must be a string.")));
            };
            let field = name.strip_prefix('$').unwrap_or(name).to_ascii_lowercase();
            let text = format!("[\"eq\", \"${name}\", \"{value}\"]");
            Ok(Condition::Eq { field, value: value.to_owned(), text })
        }
        Value::Array(items) => {
            let text = format!("[{}]", items.iter().map(show).collect::<Vec<_>>().join(", "));
            let op = items.first().and_then(Value::as_str).map(str::to_ascii_lowercase);
            match (op.as_deref(), items.len()) {
                (Some("content-length-range"), 3) => {
                    let min = length_bound(items.get(1), &text)?;
                    let max = length_bound(items.get(2), &text)?;
                    if min > max {
                        return Err(invalid(format!("Invalid content-length-range: {text}")));
                    }
                    Ok(Condition::LengthRange { min, max })
                }
                (Some("content-length-range"), _) => Err(invalid(format!("Invalid content-length-range: {text}"))),
                (Some(op @ ("eq" | "starts-with")), 3) => {
                    let field = field_name(&items[1], &text)?;
                    let Some(value) = items[2].as_str() else {
                        return Err(invalid(format!("Invalid Condition: {text}")));
                    };
                    Ok(if op == "eq" {
                        Condition::Eq { field, value: value.to_owned(), text }
                    } else {
                        Condition::StartsWith { field, prefix: value.to_owned(), text }
                    })
                }
                _ => Err(invalid(format!("Invalid Condition: {text}"))),
            }
        }
        other => Err(invalid(format!("Invalid Condition: {other}"))),
    }
}

/// `2007-12-01T12:00:00.000Z` or without the fraction: ISO 8601 in UTC, as AWS requires.
fn expiration(v: &str) -> Option<OffsetDateTime> {
    if !v.ends_with('Z') || !v.contains('T') {
        return None;
    }
    OffsetDateTime::parse(v, &time::format_description::well_known::Rfc3339).ok()
}

impl PostPolicy {
    /// Decodes and parses a policy (the form's base64 `policy` field). `InvalidPolicyDocument`
    /// (400) when it is not base64 JSON with a valid `expiration` and a `conditions` list.
    pub fn from_base64(b64: &str) -> Result<Self, S3Error> {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(b64.trim().as_bytes())
            .map_err(|_| invalid("Invalid base64 encoding."))?;
        let doc: Value = serde_json::from_slice(&raw).map_err(|_| invalid("Invalid JSON."))?;
        let Value::Object(doc) = doc else { return Err(invalid("Invalid JSON.")) };
        let exp = match doc.get("expiration") {
            None => return Err(invalid("Policy missing expiration.")),
            Some(Value::String(s)) => {
                expiration(s).ok_or_else(|| invalid(format!("Invalid 'expiration' value: '{s}'")))?
            }
            Some(other) => return Err(invalid(format!("Invalid 'expiration' value: '{other}'"))),
        };
        let conditions = match doc.get("conditions") {
            None => return Err(invalid("Policy missing conditions.")),
            Some(Value::Array(list)) => list.iter().map(condition).collect::<Result<Vec<_>, _>>()?,
            Some(_) => return Err(invalid("Invalid 'conditions' value: must be a list.")),
        };
        Ok(Self { expiration: exp, conditions })
    }

    /// The allowed file sizes (every `content-length-range` together), if the policy limits them.
    #[must_use]
    pub fn length_range(&self) -> Option<(u64, u64)> {
        self.conditions.iter().fold(None, |acc, c| match (c, acc) {
            (Condition::LengthRange { min, max }, None) => Some((*min, *max)),
            (Condition::LengthRange { min, max }, Some((a, b))) => Some(((*min).max(a), (*max).min(b))),
            (_, acc) => acc,
        })
    }

    /// The value a policy condition must equal for `field`, if it has an `eq` one.
    #[must_use]
    pub fn eq_value(&self, field: &str) -> Option<&str> {
        self.conditions.iter().find_map(|c| match c {
            Condition::Eq { field: f, value, .. } if f == field => Some(value.as_str()),
            _ => None,
        })
    }

    /// Checks the form against the policy at `now`: not expired, every condition met (the
    /// `bucket` field is the request's bucket, a missing field is empty), and every field but
    /// the exempt ones covered by some condition. Refusals are 403 `AccessDenied` with AWS's
    /// "Invalid according to Policy: …" message.
    pub fn check(&self, now: OffsetDateTime, fields: &Fields, bucket: &str) -> Result<(), S3Error> {
        if now >= self.expiration {
            return Err(denied("Policy expired."));
        }
        let value = |name: &str| if name == "bucket" { bucket } else { fields.get(name).unwrap_or("") };
        for c in &self.conditions {
            match c {
                Condition::Eq { field, value: want, text } if value(field) != want => {
                    return Err(denied(format!("Policy Condition failed: {text}")));
                }
                Condition::StartsWith { field, prefix, text } if !starts_with(field, value(field), prefix) => {
                    return Err(denied(format!("Policy Condition failed: {text}")));
                }
                _ => {}
            }
        }
        let covered = |name: &str| {
            self.conditions.iter().any(|c| match c {
                Condition::Eq { field, .. } | Condition::StartsWith { field, .. } => field == name,
                Condition::LengthRange { .. } => false,
            })
        };
        // The request's bucket is a field of every form, sent or not.
        if !covered("bucket") {
            return Err(denied("Extra input fields: bucket"));
        }
        if let Some((name, _)) = fields.iter().find(|(n, _)| !is_exempt(n) && !covered(n)) {
            return Err(denied(format!("Extra input fields: {name}")));
        }
        Ok(())
    }
}

/// `starts-with`; for `Content-Type` a comma-separated value must have every item start with
/// the prefix (AWS's rule for several types).
fn starts_with(field: &str, value: &str, prefix: &str) -> bool {
    if field == "content-type" && value.contains(',') {
        return value.split(',').all(|v| v.trim().starts_with(prefix));
    }
    value.starts_with(prefix)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(doc: &Value) -> String {
        base64::engine::general_purpose::STANDARD.encode(doc.to_string())
    }

    fn policy(conditions: Value) -> PostPolicy {
        PostPolicy::from_base64(&b64(
            &serde_json::json!({"expiration": "2099-01-01T00:00:00Z", "conditions": conditions}),
        ))
        .expect("valid policy")
    }

    fn fields(list: &[(&str, &str)]) -> Fields {
        Fields::new(list.iter().map(|(n, v)| ((*n).to_owned(), (*v).to_owned())))
    }

    fn now() -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }

    fn code(e: &S3Error) -> String {
        e.code().as_str().to_owned()
    }

    #[test]
    fn parse_errors_are_invalid_policy_documents() {
        for doc in [
            serde_json::json!({"conditions": []}),
            serde_json::json!({"expiration": "2099-01-01T00:00:00Z"}),
            serde_json::json!({"EXPIRATION": "2099-01-01T00:00:00Z", "conditions": []}),
            serde_json::json!({"expiration": "2099-01-01T00:00:00Z", "CONDITIONS": []}),
            serde_json::json!({"expiration": "2099-01-01 00:00:00.123+00:00", "conditions": []}),
            serde_json::json!({"expiration": "2099-01-01T00:00:00Z", "conditions": [{}]}),
            serde_json::json!({"expiration": "2099-01-01T00:00:00Z", "conditions": [["content-length-range", 0]]}),
            serde_json::json!({"expiration": "2099-01-01T00:00:00Z", "conditions": [["content-length-range", -1, 0]]}),
            serde_json::json!({"expiration": "2099-01-01T00:00:00Z", "conditions": [["content-length-range", 5, 1]]}),
            serde_json::json!({"expiration": "2099-01-01T00:00:00Z", "conditions": [["eq", "key", "a"]]}),
            serde_json::json!({"expiration": "2099-01-01T00:00:00Z", "conditions": [["in", "$key", "a"]]}),
            serde_json::json!({"expiration": "2099-01-01T00:00:00Z", "conditions": [{"a": "b", "c": "d"}]}),
        ] {
            let e = PostPolicy::from_base64(&b64(&doc)).expect_err(&doc.to_string());
            assert_eq!(code(&e), "InvalidPolicyDocument", "{doc}");
        }
        assert_eq!(code(&PostPolicy::from_base64("%%%").expect_err("an error")), "InvalidPolicyDocument");
        assert_eq!(
            code(
                &PostPolicy::from_base64(&base64::engine::general_purpose::STANDARD.encode("{")).expect_err("an error")
            ),
            "InvalidPolicyDocument"
        );
    }

    #[test]
    fn expiration_formats_and_expiry() {
        let ok = PostPolicy::from_base64(&b64(
            &serde_json::json!({"expiration": "2099-01-01T00:00:00.000Z", "conditions": [{"bucket": "b"}]}),
        ))
        .expect("ok");
        assert!(ok.check(now(), &fields(&[]), "b").is_ok());
        let old = PostPolicy::from_base64(&b64(
            &serde_json::json!({"expiration": "2000-01-01T00:00:00Z", "conditions": [{"bucket": "b"}]}),
        ))
        .expect("ok");
        let e = old.check(now(), &fields(&[]), "b").expect_err("an error");
        assert_eq!(code(&e), "AccessDenied");
        assert_eq!(e.message(), Some("Invalid according to Policy: Policy expired."));
    }

    #[test]
    fn conditions_are_checked_case_insensitively_by_name() {
        let p = policy(serde_json::json!([
            {"bUcKeT": "b"},
            ["StArTs-WiTh", "$KeY", "foo"],
            {"AcL": "private"},
            ["starts-with", "$Content-Type", "text/"],
            ["content-length-range", 0, 1024],
            ["starts-with", "$x-amz-meta-foo", ""],
        ]));
        let f = fields(&[("kEy", "foo.txt"), ("aCl", "private"), ("Content-Type", "text/plain"), ("pOLICy", "x")]);
        p.check(now(), &f, "b").expect("meets the policy");
        assert_eq!(p.length_range(), Some((0, 1024)));

        // Each condition failing: 403 with the condition in the message.
        let e = p
            .check(now(), &fields(&[("key", "bar"), ("acl", "private"), ("content-type", "text/a")]), "b")
            .expect_err("an error");
        assert_eq!(
            e.message(),
            Some("Invalid according to Policy: Policy Condition failed: [\"StArTs-WiTh\", \"$KeY\", \"foo\"]")
        );
        let e = p.check(now(), &f, "other").expect_err("an error");
        assert_eq!(
            e.message(),
            Some("Invalid according to Policy: Policy Condition failed: [\"eq\", \"$bUcKeT\", \"b\"]")
        );
        let e = p
            .check(now(), &fields(&[("key", "foo"), ("acl", "public-read"), ("content-type", "text/a")]), "b")
            .expect_err("an error");
        assert_eq!(code(&e), "AccessDenied");
        let e = p
            .check(now(), &fields(&[("key", "foo"), ("acl", "private"), ("content-type", "image/png")]), "b")
            .expect_err("an error");
        assert_eq!(code(&e), "AccessDenied");
        // Several content types: each must match.
        assert!(
            p.check(now(), &fields(&[("key", "foo"), ("acl", "private"), ("content-type", "text/a, text/b")]), "b")
                .is_ok()
        );
        assert!(
            p.check(now(), &fields(&[("key", "foo"), ("acl", "private"), ("content-type", "text/a, image/b")]), "b")
                .is_err()
        );
    }

    #[test]
    fn every_field_must_be_covered() {
        let p = policy(serde_json::json!([{"bucket": "b"}, ["starts-with", "$key", ""]]));
        p.check(
            now(),
            &fields(&[
                ("key", "k"),
                ("x-ignore-me", "1"),
                ("signature", "s"),
                ("AWSAccessKeyId", "a"),
                ("x-amz-checksum-sha256", "c"),
            ]),
            "b",
        )
        .expect("exempt fields");
        let e = p.check(now(), &fields(&[("key", "k"), ("x-amz-meta-foo", "v")]), "b").expect_err("an error");
        assert_eq!(e.message(), Some("Invalid according to Policy: Extra input fields: x-amz-meta-foo"));
        let e = p.check(now(), &fields(&[("key", "k"), ("success_action_status", "201")]), "b").expect_err("an error");
        assert_eq!(e.message(), Some("Invalid according to Policy: Extra input fields: success_action_status"));
        // The bucket is always a field, sent or not.
        let p = policy(serde_json::json!([["starts-with", "$key", ""]]));
        let e = p.check(now(), &fields(&[("key", "k")]), "b").expect_err("an error");
        assert_eq!(e.message(), Some("Invalid according to Policy: Extra input fields: bucket"));
    }

    #[test]
    fn missing_fields_are_empty() {
        let p = policy(
            serde_json::json!([{"bucket": "b"}, ["starts-with", "$key", ""], ["starts-with", "$x-amz-meta-foo", "bar"]]),
        );
        assert!(p.check(now(), &fields(&[("key", "k")]), "b").is_err());
        let p =
            policy(serde_json::json!([{"bucket": "b"}, ["starts-with", "$key", ""], ["eq", "$x-amz-meta-foo", ""]]));
        assert!(p.check(now(), &fields(&[("key", "k")]), "b").is_ok());
        assert!(p.check(now(), &fields(&[("key", "k"), ("x-amz-meta-foo", "barclamp")]), "b").is_err());
    }

    #[test]
    fn length_ranges_intersect() {
        let p = policy(serde_json::json!([["content-length-range", 10, 100], ["content-length-range", "20", 50]]));
        assert_eq!(p.length_range(), Some((20, 50)));
        assert_eq!(policy(serde_json::json!([])).length_range(), None);
    }
}

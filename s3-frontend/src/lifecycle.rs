//! Lifecycle rules (issue #14 item 3, ADR 0016): the model of a bucket's lifecycle
//! configuration, checked as AWS checks it, which objects a rule selects, and when an object
//! expires. The operations are in `s3/lifecycle.rs`; the background pass that applies the rules
//! is `Gateway::lifecycle_pass` there.
//!
//! Times: a rule's `Days` count from the object's modification time and the result is rounded
//! up to the next midnight UTC, as on AWS. The length of a "day" is a setting
//! (`CLOUDSTORE_LIFECYCLE_DAY_SECS`, 86400 by default) so that tests can run a day in seconds
//! (Ceph's `rgw_lc_debug_interval` does the same); midnights are then multiples of it.

use cloudstore_store_api::{ObjectMeta, Tag};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// At most this many rules per configuration (AWS's limit).
pub const MAX_RULES: usize = 1000;
/// A rule id is at most this many characters.
pub const MAX_ID_CHARS: usize = 255;

/// A bucket's lifecycle configuration, as stored (JSON in `buckets.lifecycle`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rules {
    pub rules: Vec<Rule>,
}

/// One rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rule {
    pub id: String,
    pub enabled: bool,
    /// The rule named its prefix with the legacy top-level `Prefix` element, not a `Filter`
    /// (kept so that GetBucketLifecycleConfiguration answers what was put).
    #[serde(default)]
    pub legacy_prefix: bool,
    #[serde(default)]
    pub filter: Filter,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiration: Option<Expiration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub noncurrent: Option<Noncurrent>,
    /// `AbortIncompleteMultipartUpload`'s `DaysAfterInitiation`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub abort_multipart_days: Option<u32>,
}

/// Which objects a rule applies to: all of its parts must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Filter {
    #[serde(default)]
    pub prefix: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_greater_than: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_less_than: Option<u64>,
    /// How the filter was written, to answer it back: `And`, a single `Tag`, or none of them.
    #[serde(default)]
    pub form: FilterForm,
}

/// The element a filter was written with.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum FilterForm {
    /// `<Prefix>`, a size element, or an empty `<Filter/>`.
    #[default]
    Single,
    /// `<Tag>`.
    Tag,
    /// `<And>`.
    And,
}

/// When current objects expire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Expiration {
    /// This many days after the object's modification time (rounded up to midnight UTC).
    Days(u32),
    /// At this time (midnight UTC), Unix seconds.
    Date(i64),
    /// Remove delete markers that have no versions left (takes effect with versioning).
    ExpiredDeleteMarker,
}

/// Noncurrent versions' expiration (takes effect with versioning).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Noncurrent {
    pub days: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub newer_versions: Option<u32>,
}

/// Why a configuration is refused: the S3 error code and its message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Invalid {
    pub code: &'static str,
    pub message: String,
}

fn invalid(code: &'static str, message: impl Into<String>) -> Invalid {
    Invalid { code, message: message.into() }
}

impl Filter {
    /// Whether an object of this key, size and tags is selected.
    #[must_use]
    pub fn selects(&self, key: &str, size: u64, tags: &[Tag]) -> bool {
        key.starts_with(&self.prefix)
            && self.size_greater_than.is_none_or(|n| size > n)
            && self.size_less_than.is_none_or(|n| size < n)
            && self.tags.iter().all(|t| tags.iter().any(|o| o.key == t.key && o.value == t.value))
    }
}

impl Rules {
    /// Checks the rules as AWS does (ids unique and at most 255 characters, positive days,
    /// dates at midnight, at least one action), giving each rule without an id one.
    pub fn validate(mut self) -> Result<Self, Invalid> {
        if self.rules.is_empty() || self.rules.len() > MAX_RULES {
            return Err(invalid(
                "MalformedXML",
                "The XML you provided was not well-formed or did not validate against our published schema",
            ));
        }
        for r in &mut self.rules {
            if r.id.is_empty() {
                r.id = uuid::Uuid::new_v4().simple().to_string();
            }
            if r.id.chars().count() > MAX_ID_CHARS {
                return Err(invalid("InvalidArgument", "ID length should not exceed allowed limit of 255"));
            }
            match &r.expiration {
                Some(Expiration::Days(0)) => {
                    return Err(invalid("InvalidArgument", "'Days' for Expiration action must be a positive integer"));
                }
                Some(Expiration::Date(secs)) if secs.rem_euclid(86_400) != 0 => {
                    return Err(invalid("InvalidArgument", "'Date' must be at midnight GMT"));
                }
                Some(Expiration::ExpiredDeleteMarker) if !r.filter.tags.is_empty() => {
                    return Err(invalid("InvalidArgument", "ExpiredObjectDeleteMarker cannot be specified with tags"));
                }
                _ => {}
            }
            if r.noncurrent.as_ref().is_some_and(|n| n.days == 0) {
                return Err(invalid(
                    "InvalidArgument",
                    "'NoncurrentDays' for NoncurrentVersionExpiration action must be a positive integer",
                ));
            }
            if r.noncurrent.as_ref().and_then(|n| n.newer_versions).is_some_and(|n| n == 0 || n > 100) {
                return Err(invalid("InvalidArgument", "'NewerNoncurrentVersions' must be from 1 to 100"));
            }
            if r.abort_multipart_days == Some(0) {
                return Err(invalid(
                    "InvalidArgument",
                    "'DaysAfterInitiation' for AbortIncompleteMultipartUpload action must be a positive integer",
                ));
            }
            if r.abort_multipart_days.is_some() && !r.filter.tags.is_empty() {
                return Err(invalid("InvalidArgument", "AbortIncompleteMultipartUpload cannot be specified with Tags"));
            }
            if r.expiration.is_none() && r.noncurrent.is_none() && r.abort_multipart_days.is_none() {
                return Err(invalid("InvalidRequest", "At least one action needs to be specified in a rule"));
            }
            if let (Some(gt), Some(lt)) = (r.filter.size_greater_than, r.filter.size_less_than)
                && gt >= lt
            {
                return Err(invalid("InvalidArgument", "ObjectSizeGreaterThan must be less than ObjectSizeLessThan"));
            }
        }
        let mut ids: Vec<&str> = self.rules.iter().map(|r| r.id.as_str()).collect();
        ids.sort_unstable();
        if ids.windows(2).any(|w| w[0] == w[1]) {
            return Err(invalid("InvalidArgument", "Rule ID must be unique. Found same ID for more than one rule"));
        }
        Ok(self)
    }

    /// When `obj` expires under these rules, and by which rule: the earliest of the enabled
    /// rules that select it (`day`: the length of a day).
    #[must_use]
    pub fn expiry_of(&self, obj: &ObjectMeta, day: time::Duration) -> Option<(OffsetDateTime, &str)> {
        self.rules
            .iter()
            .filter(|r| r.enabled && r.filter.selects(&obj.key, obj.size, &obj.attributes.tags))
            .filter_map(|r| Some((r.expiry(obj.last_modified, day)?, r.id.as_str())))
            .min_by_key(|(t, _)| *t)
    }
}

impl Rule {
    /// When a current object modified at `modified` expires under this rule (`None`: never).
    #[must_use]
    pub fn expiry(&self, modified: OffsetDateTime, day: time::Duration) -> Option<OffsetDateTime> {
        match self.expiration.as_ref()? {
            Expiration::Days(n) => {
                let due = modified + day * i32::try_from(*n).unwrap_or(i32::MAX);
                Some(round_up(due, day))
            }
            Expiration::Date(secs) => OffsetDateTime::from_unix_timestamp(*secs).ok(),
            Expiration::ExpiredDeleteMarker => None,
        }
    }
}

/// `t` rounded down to a multiple of `day` since the epoch (midnight UTC for real days).
#[must_use]
pub fn round_down(t: OffsetDateTime, day: time::Duration) -> OffsetDateTime {
    let day_ns = day.whole_nanoseconds().max(1);
    let ns = t.unix_timestamp_nanos();
    OffsetDateTime::from_unix_timestamp_nanos(ns.div_euclid(day_ns) * day_ns).unwrap_or(t)
}

/// `t` rounded up to the next multiple of `day` since the epoch (midnight UTC for real days).
fn round_up(t: OffsetDateTime, day: time::Duration) -> OffsetDateTime {
    let day_ns = day.whole_nanoseconds().max(1);
    let ns = t.unix_timestamp_nanos();
    let up = ns.div_euclid(day_ns) * day_ns + if ns.rem_euclid(day_ns) == 0 { 0 } else { day_ns };
    OffsetDateTime::from_unix_timestamp_nanos(up).unwrap_or(t)
}

/// The `x-amz-expiration` header: `expiry-date="<HTTP date>", rule-id="<id>"`.
#[must_use]
pub fn expiration_header(at: OffsetDateTime, rule_id: &str) -> String {
    let mut buf = Vec::new();
    let _ = s3s::dto::Timestamp::from(at).format(s3s::dto::TimestampFormat::HttpDate, &mut buf);
    let date = String::from_utf8(buf).unwrap_or_default();
    format!("expiry-date=\"{date}\", rule-id=\"{}\"", rule_id.replace('"', "%22"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(id: &str, prefix: &str, expiration: Option<Expiration>) -> Rule {
        Rule {
            id: id.into(),
            enabled: true,
            legacy_prefix: true,
            filter: Filter { prefix: prefix.into(), ..Filter::default() },
            expiration,
            noncurrent: None,
            abort_multipart_days: None,
        }
    }

    fn code(r: Result<Rules, Invalid>) -> &'static str {
        r.expect_err("refused").code
    }

    #[test]
    fn aws_rules_are_checked() {
        let ok = Rules { rules: vec![rule("", "a/", Some(Expiration::Days(1)))] }.validate().expect("valid");
        assert!(!ok.rules[0].id.is_empty(), "an id is given");
        let long = "a".repeat(256);
        assert_eq!(
            code(Rules { rules: vec![rule(&long, "", Some(Expiration::Days(1)))] }.validate()),
            "InvalidArgument"
        );
        let same = vec![rule("r", "a/", Some(Expiration::Days(1))), rule("r", "b/", Some(Expiration::Days(2)))];
        assert_eq!(code(Rules { rules: same }.validate()), "InvalidArgument");
        assert_eq!(code(Rules { rules: vec![rule("r", "", Some(Expiration::Days(0)))] }.validate()), "InvalidArgument");
        assert_eq!(
            code(Rules { rules: vec![rule("r", "", Some(Expiration::Date(1_700_000_001)))] }.validate()),
            "InvalidArgument"
        );
        assert!(Rules { rules: vec![rule("r", "", Some(Expiration::Date(1_700_006_400)))] }.validate().is_ok());
        assert_eq!(code(Rules { rules: vec![rule("r", "", None)] }.validate()), "InvalidRequest");
        assert_eq!(code(Rules { rules: vec![] }.validate()), "MalformedXML");
        let mut abort = rule("r", "", None);
        abort.abort_multipart_days = Some(0);
        assert_eq!(code(Rules { rules: vec![abort] }.validate()), "InvalidArgument");
    }

    #[test]
    fn days_round_up_to_midnight_and_filters_select() {
        let day = time::Duration::days(1);
        let r = rule("r", "logs/", Some(Expiration::Days(1)));
        let modified = OffsetDateTime::from_unix_timestamp(1_700_000_000).expect("time"); // 22:13:20 UTC
        let due = r.expiry(modified, day).expect("due");
        assert_eq!(due.unix_timestamp(), 1_700_092_800); // the midnight after one day
        // At midnight exactly, no rounding.
        let midnight = OffsetDateTime::from_unix_timestamp(1_699_920_000).expect("time");
        assert_eq!(r.expiry(midnight, day).expect("due").unix_timestamp(), 1_700_006_400);
        assert_eq!(round_down(modified, day).unix_timestamp(), 1_699_920_000, "the midnight before");
        assert_eq!(round_down(midnight, day), midnight);
        // Test days of 10 s.
        let ten = time::Duration::seconds(10);
        assert_eq!(
            r.expiry(OffsetDateTime::from_unix_timestamp(101).expect("t"), ten).expect("due").unix_timestamp(),
            120
        );

        let tag = |k: &str, v: &str| Tag { key: k.into(), value: v.into() };
        let f = Filter {
            prefix: "p/".into(),
            tags: vec![tag("a", "1")],
            size_greater_than: Some(10),
            size_less_than: Some(100),
            form: FilterForm::And,
        };
        assert!(f.selects("p/x", 50, &[tag("b", "2"), tag("a", "1")]));
        assert!(!f.selects("q/x", 50, &[tag("a", "1")]));
        assert!(!f.selects("p/x", 10, &[tag("a", "1")]));
        assert!(!f.selects("p/x", 100, &[tag("a", "1")]));
        assert!(!f.selects("p/x", 50, &[tag("a", "2")]));
        assert!(Filter::default().selects("anything", 0, &[]));
    }

    #[test]
    fn the_header_names_date_and_rule() {
        let at = OffsetDateTime::from_unix_timestamp(1_356_220_800).expect("time");
        assert_eq!(expiration_header(at, "rule1"), r#"expiry-date="Sun, 23 Dec 2012 00:00:00 GMT", rule-id="rule1""#);
    }
}

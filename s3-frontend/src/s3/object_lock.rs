//! Object lock (issue #14 item 2, ADR 0018): buckets created with lock enabled (versioned for
//! good), Put/GetObjectLockConfiguration with a default retention, Put/GetObjectRetention and
//! Put/GetObjectLegalHold, and the `x-amz-object-lock-*` headers of writes and reads.
//!
//! A version's retention and legal hold live in its attributes (ADR 0012: `lock_mode`,
//! `retain_until`, `legal_hold`). What protects a version is enforced by the store, in the
//! transaction that would remove it (`StoreError::ObjectLocked`, answered 403 AccessDenied):
//! no gateway race, no operation and no caller (the platform admin included) gets past it,
//! except a caller allowed `s3:BypassGovernanceRetention` who sends
//! `x-amz-bypass-governance-retention: true`, and only past a GOVERNANCE retention.
//! A retention change is decided in the transaction that holds the version's row too (the
//! attributes change of [`cloudstore_store_api::MetadataStore::update_object_attributes`]).

use cloudstore_events::EventType;
use cloudstore_store_api::{BucketConfig, LockMode, ObjectAttributes, ObjectMeta, StoreError, Versioning};
use s3s::dto::{
    DefaultRetention, GetObjectLegalHoldInput, GetObjectLegalHoldOutput, GetObjectLockConfigurationInput,
    GetObjectLockConfigurationOutput, GetObjectRetentionInput, GetObjectRetentionOutput, ObjectLockConfiguration,
    ObjectLockEnabled, ObjectLockLegalHold, ObjectLockLegalHoldStatus, ObjectLockMode, ObjectLockRetention,
    ObjectLockRetentionMode, ObjectLockRule, PutObjectLegalHoldInput, PutObjectLegalHoldOutput,
    PutObjectLockConfigurationInput, PutObjectLockConfigurationOutput, PutObjectRetentionInput,
    PutObjectRetentionOutput, Timestamp,
};
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result, s3_error};

use super::Gateway;
use crate::error::StoreResultExt as _;

/// The longest default retention AWS accepts.
const MAX_DAYS: i32 = 36_500;
const MAX_YEARS: i32 = 100;
const MS_PER_DAY: i64 = 86_400_000;

/// A bucket's object lock configuration as stored (`buckets.object_lock`, JSON).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct LockConfig {
    /// The default retention of new versions that name none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<DefaultRule>,
}

/// A default retention: a mode and a period in days or in years.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct DefaultRule {
    pub mode: LockMode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub days: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub years: Option<i32>,
}

impl DefaultRule {
    /// The retain-until date of a version written at `now_ms` (a year is 365 days, as AWS counts).
    fn until(&self, now_ms: i64) -> i64 {
        let days = i64::from(self.days.unwrap_or(0)) + 365 * i64::from(self.years.unwrap_or(0));
        now_ms.saturating_add(days.saturating_mul(MS_PER_DAY))
    }
}

impl LockConfig {
    /// Parses the stored configuration (`None` if absent or unreadable: no default).
    pub(crate) fn stored(s: Option<&str>) -> Option<Self> {
        s.map(|s| serde_json::from_str(s).unwrap_or_default())
    }

    /// The object lock of a new version written at `now_ms` that names none: the default
    /// retention, if there is one.
    fn default_lock(&self, now_ms: i64) -> NewLock {
        match &self.default {
            Some(d) => NewLock { mode: Some(d.mode), retain_until: Some(d.until(now_ms)), legal_hold: None },
            None => NewLock::default(),
        }
    }

    fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".to_owned())
    }
}

/// The stored configuration of a bucket created with object lock (no default retention).
pub(crate) fn enabled_json() -> String {
    LockConfig::default().to_json()
}

fn malformed(what: &str) -> S3Error {
    s3_error!(MalformedXML, "{what}")
}

fn custom(code: &'static str, status: http::StatusCode, message: &str) -> S3Error {
    let mut e = S3Error::with_message(S3ErrorCode::Custom(code.into()), message.to_owned());
    e.set_status_code(status);
    e
}

fn invalid_bucket_state(message: &str) -> S3Error {
    let mut e = S3Error::with_message(S3ErrorCode::InvalidBucketState, message.to_owned());
    e.set_status_code(http::StatusCode::CONFLICT);
    e
}

/// A bucket setting's store error: `ObjectLocked` is the versioning and object lock conflict
/// the store refused (ADR 0018), 409 InvalidBucketState.
pub(crate) fn config_error(e: StoreError) -> S3Error {
    match e {
        StoreError::ObjectLocked => invalid_bucket_state(
            "Object lock needs versioning Enabled, and keeps it so: the versioning state cannot be changed.",
        ),
        e => crate::error::store_error(e),
    }
}

fn missing_configuration() -> S3Error {
    s3_error!(InvalidRequest, "Bucket is missing Object Lock Configuration")
}

fn now_ms() -> i64 {
    i64::try_from(time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// Milliseconds since the epoch of a timestamp (saturating).
fn to_ms(t: &Timestamp) -> i64 {
    let t: time::OffsetDateTime = t.clone().into();
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// The timestamp of milliseconds since the epoch.
pub(crate) fn from_ms(ms: i64) -> Option<Timestamp> {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).ok().map(Timestamp::from)
}

/// The configuration of a PutObjectLockConfiguration, checked as AWS checks it.
fn parse_config(c: Option<ObjectLockConfiguration>) -> S3Result<LockConfig> {
    let c = c.ok_or_else(|| malformed("The object lock configuration is missing."))?;
    if c.object_lock_enabled.as_ref().map(ObjectLockEnabled::as_str) != Some(ObjectLockEnabled::ENABLED) {
        return Err(malformed("ObjectLockEnabled must be Enabled."));
    }
    let Some(rule) = c.rule else {
        return Ok(LockConfig::default());
    };
    let r = rule.default_retention.ok_or_else(|| malformed("The rule has no DefaultRetention."))?;
    let mode = r
        .mode
        .as_ref()
        .and_then(|m| LockMode::parse(m.as_str()))
        .ok_or_else(|| malformed("The default retention mode must be GOVERNANCE or COMPLIANCE."))?;
    let period = |n: i32, max: i32| {
        if n <= 0 || n > max {
            Err(custom(
                "InvalidRetentionPeriod",
                http::StatusCode::BAD_REQUEST,
                "Default retention period must be a positive integer value.",
            ))
        } else {
            Ok(n)
        }
    };
    match (r.days, r.years) {
        (Some(d), None) => {
            Ok(LockConfig { default: Some(DefaultRule { mode, days: Some(period(d, MAX_DAYS)?), years: None }) })
        }
        (None, Some(y)) => {
            Ok(LockConfig { default: Some(DefaultRule { mode, days: None, years: Some(period(y, MAX_YEARS)?) }) })
        }
        _ => Err(malformed("The default retention needs either Days or Years, not both.")),
    }
}

/// The object lock of a new version, from the write's `x-amz-object-lock-*` headers or the
/// bucket's default retention.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct NewLock {
    pub mode: Option<LockMode>,
    pub retain_until: Option<i64>,
    pub legal_hold: Option<bool>,
}

impl NewLock {
    /// Sets these fields on a new version's attributes.
    pub(crate) fn apply(&self, a: &mut ObjectAttributes) {
        a.lock_mode = self.mode;
        a.retain_until = self.retain_until;
        a.legal_hold = self.legal_hold;
    }
}

/// The `x-amz-object-lock-*` answers of a GET or HEAD: mode, retain-until date, legal hold.
pub(crate) fn headers_out(
    a: &ObjectAttributes,
) -> (Option<ObjectLockMode>, Option<Timestamp>, Option<ObjectLockLegalHoldStatus>) {
    let mode = a.lock_mode.filter(|_| a.retain_until.is_some());
    (
        mode.map(|m| ObjectLockMode::from(m.as_str().to_owned())),
        mode.and(a.retain_until).and_then(from_ms),
        a.legal_hold.map(hold_status),
    )
}

/// Which object-lock answers of a GET or HEAD the caller may read: as on AWS, the retention
/// only with `s3:GetObjectRetention` and the legal hold only with `s3:GetObjectLegalHold` on the
/// object (decided only for a version that has them: no cost for the others).
#[derive(Debug, Clone, Copy)]
pub(crate) struct LockSeen {
    retention: bool,
    legal_hold: bool,
}

impl LockSeen {
    pub(crate) fn of(ext: &http::Extensions, obj: &ObjectMeta) -> Self {
        let a = &obj.attributes;
        if a.lock_mode.is_none() && a.legal_hold.is_none() {
            return Self { retention: true, legal_hold: true };
        }
        let who = ext.get::<crate::access::Authorized>();
        let arn = crate::access::resource_arn(Some(&obj.bucket), Some(&obj.key));
        let may = |action: &str| who.is_none_or(|w| w.allows(action, &arn));
        Self {
            retention: a.lock_mode.is_none() || may("s3:GetObjectRetention"),
            legal_hold: a.legal_hold.is_none() || may("s3:GetObjectLegalHold"),
        }
    }

    /// Clears the answers the caller may not read.
    pub(crate) fn hide(
        self,
        mode: &mut Option<ObjectLockMode>,
        until: &mut Option<Timestamp>,
        hold: &mut Option<ObjectLockLegalHoldStatus>,
    ) {
        if !self.retention {
            *mode = None;
            *until = None;
        }
        if !self.legal_hold {
            *hold = None;
        }
    }
}

fn hold_status(on: bool) -> ObjectLockLegalHoldStatus {
    ObjectLockLegalHoldStatus::from(if on { "ON" } else { "OFF" }.to_owned())
}

/// Whether a retention change is allowed on a version whose attributes are `cur`, at `now`:
/// nothing in force allows anything; a COMPLIANCE retention only the same mode for as long or
/// longer; a GOVERNANCE one the same mode for as long or longer, anything else only with
/// `bypass` (ADR 0018).
fn retention_change_allowed(cur: &ObjectAttributes, new: Option<(LockMode, i64)>, bypass: bool, now: i64) -> bool {
    if !cur.retained_at(now) {
        return true;
    }
    let (Some(mode), Some(until)) = (cur.lock_mode, cur.retain_until) else {
        return true;
    };
    let lengthens = new.is_some_and(|(m, u)| m == mode && u >= until);
    match mode {
        LockMode::Compliance => lengthens,
        LockMode::Governance => lengthens || bypass,
    }
}

/// The object lock of a new version that names none: the bucket's default retention (from
/// its stored configuration), if any.
pub(crate) fn default_lock(stored: Option<&str>) -> NewLock {
    LockConfig::stored(stored).map(|c| c.default_lock(now_ms())).unwrap_or_default()
}

impl Gateway {
    /// The bucket's stored object lock configuration (as access control read it with the
    /// bucket when it did, else from the store); `None`: object lock not enabled.
    async fn lock_config(&self, ext: &http::Extensions, bucket: &str) -> S3Result<Option<LockConfig>> {
        if let Some(info) = ext.get::<crate::access::Authorized>().and_then(|a| a.bucket.as_ref()) {
            return Ok(LockConfig::stored(info.object_lock.as_deref()));
        }
        Ok(LockConfig::stored(self.bucket(bucket).await?.object_lock.as_deref()))
    }

    /// Whether the caller asked to bypass GOVERNANCE retention and may
    /// (`s3:BypassGovernanceRetention` on the object).
    pub(crate) fn bypass_governance(ext: &http::Extensions, asked: Option<bool>, bucket: &str, key: &str) -> bool {
        asked == Some(true)
            && ext.get::<crate::access::Authorized>().is_some_and(|w| {
                w.allows("s3:BypassGovernanceRetention", &crate::access::resource_arn(Some(bucket), Some(key)))
            })
    }

    /// The object lock of a new version in `bucket` from a write's headers (checked as AWS
    /// checks them: only in a bucket with object lock, mode and date both or neither, a date
    /// in the future; the caller needs `s3:PutObjectRetention` / `s3:PutObjectLegalHold` for
    /// them), else the bucket's default retention.
    pub(crate) async fn new_lock(
        &self,
        ext: &http::Extensions,
        bucket: &str,
        key: &str,
        mode: Option<&ObjectLockMode>,
        until: Option<&Timestamp>,
        hold: Option<&ObjectLockLegalHoldStatus>,
    ) -> S3Result<NewLock> {
        let asked = mode.is_some() || until.is_some() || hold.is_some();
        let config = self.lock_config(ext, bucket).await?;
        let Some(config) = config else {
            if asked {
                return Err(missing_configuration());
            }
            return Ok(NewLock::default());
        };
        let now = now_ms();
        let who = ext.get::<crate::access::Authorized>();
        let allowed =
            |action: &str| who.is_none_or(|w| w.allows(action, &crate::access::resource_arn(Some(bucket), Some(key))));
        let mut lock = NewLock::default();
        match (mode, until) {
            (None, None) => lock = config.default_lock(now),
            (Some(m), Some(u)) => {
                let m = LockMode::parse(m.as_str())
                    .ok_or_else(|| s3_error!(InvalidArgument, "Unknown wormMode directive."))?;
                let u = to_ms(u);
                if u <= now {
                    return Err(s3_error!(InvalidArgument, "The retain until date must be in the future!"));
                }
                if !allowed("s3:PutObjectRetention") {
                    return Err(s3_error!(AccessDenied, "Access Denied"));
                }
                lock.mode = Some(m);
                lock.retain_until = Some(u);
            }
            _ => {
                return Err(s3_error!(
                    InvalidArgument,
                    "x-amz-object-lock-retain-until-date and x-amz-object-lock-mode must both be supplied"
                ));
            }
        }
        if let Some(h) = hold {
            let on = match h.as_str() {
                "ON" => true,
                "OFF" => false,
                _ => return Err(s3_error!(InvalidArgument, "Legal Hold must be either of 'ON' or 'OFF'")),
            };
            if !allowed("s3:PutObjectLegalHold") {
                return Err(s3_error!(AccessDenied, "Access Denied"));
            }
            lock.legal_hold = Some(on);
        }
        Ok(lock)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(op = "PutObjectLockConfiguration", bucket = %req.input.bucket))]
    pub(crate) async fn op_put_object_lock_configuration(
        &self,
        req: S3Request<PutObjectLockConfigurationInput>,
    ) -> S3Result<S3Response<PutObjectLockConfigurationOutput>> {
        let actor = crate::events::Actor::of(
            &req.extensions,
            &req.headers,
            req.credentials.as_ref().map(|c| c.access_key.as_str()),
        );
        let bucket = req.input.bucket;
        // Read afresh: the versioning state decides.
        let b = self.bucket(&bucket).await?;
        if b.object_lock.is_none() && b.versioning != Some(Versioning::Enabled) {
            return Err(invalid_bucket_state(
                "Versioning must be 'Enabled' on the bucket to apply a Object Lock configuration",
            ));
        }
        let config = parse_config(req.input.object_lock_configuration)?;
        let json = config.to_json();
        let events = self.outbox(|| {
            let mut e = actor.event(EventType::BucketConfigChanged, &bucket, None);
            e.status = Some(200);
            e.detail.insert("config".into(), "object_lock".into());
            e
        });
        let done = self
            .meta
            .set_bucket_config(&bucket, BucketConfig::ObjectLock, Some(&json), &events)
            .await
            .map_err(config_error);
        self.bucket_changed(&bucket);
        done?;
        self.committed(&events);
        Ok(S3Response::new(PutObjectLockConfigurationOutput::default()))
    }

    #[tracing::instrument(level = "debug", skip_all, fields(op = "GetObjectLockConfiguration", bucket = %req.input.bucket))]
    pub(crate) async fn op_get_object_lock_configuration(
        &self,
        req: S3Request<GetObjectLockConfigurationInput>,
    ) -> S3Result<S3Response<GetObjectLockConfigurationOutput>> {
        // Read afresh: a client that just changed it expects to see its change.
        let b = self.bucket(&req.input.bucket).await?;
        let Some(config) = LockConfig::stored(b.object_lock.as_deref()) else {
            let mut e = S3Error::with_message(
                S3ErrorCode::ObjectLockConfigurationNotFoundError,
                "Object Lock configuration does not exist for this bucket".to_owned(),
            );
            e.set_status_code(http::StatusCode::NOT_FOUND);
            return Err(e);
        };
        let rule = config.default.map(|d| ObjectLockRule {
            default_retention: Some(DefaultRetention {
                mode: Some(ObjectLockRetentionMode::from(d.mode.as_str().to_owned())),
                days: d.days,
                years: d.years,
            }),
        });
        Ok(S3Response::new(GetObjectLockConfigurationOutput {
            object_lock_configuration: Some(ObjectLockConfiguration {
                object_lock_enabled: Some(ObjectLockEnabled::from_static(ObjectLockEnabled::ENABLED)),
                rule,
            }),
        }))
    }

    /// Changes one version's lock attributes (`version_id` as the request named it) in the
    /// store's transaction that holds its row; `change` decides from the current attributes.
    async fn change_lock(
        &self,
        req_parts: (&http::Extensions, &http::HeaderMap, Option<&str>),
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
        what: &'static str,
        change: cloudstore_store_api::AttributesChange<'_>,
    ) -> S3Result<()> {
        let (extensions, headers, access_key) = req_parts;
        if self.lock_config(extensions, bucket).await?.is_none() {
            return Err(missing_configuration());
        }
        let actor = crate::events::Actor::of(extensions, headers, access_key);
        let events = |o: &ObjectMeta| {
            self.outbox(|| {
                let mut e = actor.event(EventType::ObjectAclChanged, &o.bucket, Some(&o.key));
                e.etag = Some(o.etag.clone());
                e.status = Some(200);
                e.detail.insert("object_lock".into(), what.into());
                if let Some(m) = o.attributes.lock_mode {
                    e.detail.insert("mode".into(), m.as_str().into());
                }
                if let Some(u) = o.attributes.retain_until {
                    e.detail.insert("retain_until_ms".into(), u.to_string());
                }
                if let Some(h) = o.attributes.legal_hold {
                    e.detail.insert("legal_hold".into(), if h { "ON" } else { "OFF" }.into());
                }
                e.version_id.clone_from(&o.attributes.version_id);
                e
            })
        };
        let version = super::versioning::version_arg(version_id);
        let changed = if super::object::unstorable(key) {
            None
        } else {
            let done = match version {
                None => self.meta.update_object_attributes(bucket, key, change, &events).await,
                Some(id) => self.meta.update_version_attributes(bucket, key, id, change, &events).await,
            };
            done.s3()?
        };
        match changed {
            Some(_) => {
                self.committed_count(usize::from(self.events.is_some()));
                Ok(())
            }
            None => match version {
                None => Err(self.no_such_key(bucket, key).await),
                Some(id) => Err(self
                    .object_version(bucket, key, id)
                    .await
                    .err()
                    .unwrap_or_else(|| s3_error!(NoSuchVersion, "The specified version does not exist."))),
            },
        }
    }

    #[tracing::instrument(level = "debug", skip_all, fields(op = "PutObjectRetention", bucket = %req.input.bucket))]
    pub(crate) async fn op_put_object_retention(
        &self,
        req: S3Request<PutObjectRetentionInput>,
    ) -> S3Result<S3Response<PutObjectRetentionOutput>> {
        let input = req.input;
        let r = input.retention.unwrap_or_default();
        let mode = r
            .mode
            .as_ref()
            .map(|m| {
                LockMode::parse(m.as_str())
                    .ok_or_else(|| malformed("The retention mode must be GOVERNANCE or COMPLIANCE."))
            })
            .transpose()?;
        let now = now_ms();
        let new = match (mode, r.retain_until_date.as_ref()) {
            (Some(m), Some(u)) => {
                let u = to_ms(u);
                if u <= now {
                    return Err(s3_error!(InvalidArgument, "The retain until date must be in the future!"));
                }
                Some((m, u))
            }
            (None, None) => None,
            _ => return Err(malformed("A retention needs both Mode and RetainUntilDate.")),
        };
        let bypass =
            Self::bypass_governance(&req.extensions, input.bypass_governance_retention, &input.bucket, &input.key);
        let change = move |o: &ObjectMeta| {
            if !retention_change_allowed(&o.attributes, new, bypass, now_ms()) {
                return Err(StoreError::ObjectLocked);
            }
            let mut a = o.attributes.clone();
            a.lock_mode = new.map(|(m, _)| m);
            a.retain_until = new.map(|(_, u)| u);
            Ok(a)
        };
        let access_key = req.credentials.as_ref().map(|c| c.access_key.as_str());
        self.change_lock(
            (&req.extensions, &req.headers, access_key),
            &input.bucket,
            &input.key,
            input.version_id.as_deref(),
            "retention",
            &change,
        )
        .await?;
        Ok(S3Response::new(PutObjectRetentionOutput::default()))
    }

    #[tracing::instrument(level = "debug", skip_all, fields(op = "GetObjectRetention", bucket = %req.input.bucket))]
    pub(crate) async fn op_get_object_retention(
        &self,
        req: S3Request<GetObjectRetentionInput>,
    ) -> S3Result<S3Response<GetObjectRetentionOutput>> {
        let input = req.input;
        if self.lock_config(&req.extensions, &input.bucket).await?.is_none() {
            return Err(missing_configuration());
        }
        let obj = self.object_or_version(&input.bucket, &input.key, input.version_id.as_deref()).await?;
        let (Some(mode), Some(until)) = (obj.attributes.lock_mode, obj.attributes.retain_until) else {
            return Err(no_lock_configuration());
        };
        Ok(S3Response::new(GetObjectRetentionOutput {
            retention: Some(ObjectLockRetention {
                mode: Some(ObjectLockRetentionMode::from(mode.as_str().to_owned())),
                retain_until_date: from_ms(until),
            }),
        }))
    }

    #[tracing::instrument(level = "debug", skip_all, fields(op = "PutObjectLegalHold", bucket = %req.input.bucket))]
    pub(crate) async fn op_put_object_legal_hold(
        &self,
        req: S3Request<PutObjectLegalHoldInput>,
    ) -> S3Result<S3Response<PutObjectLegalHoldOutput>> {
        let input = req.input;
        let on = match input.legal_hold.as_ref().and_then(|h| h.status.as_ref()).map(ObjectLockLegalHoldStatus::as_str)
        {
            Some("ON") => true,
            Some("OFF") => false,
            _ => return Err(malformed("The legal hold status must be ON or OFF.")),
        };
        let change = move |o: &ObjectMeta| {
            let mut a = o.attributes.clone();
            a.legal_hold = Some(on);
            Ok(a)
        };
        let access_key = req.credentials.as_ref().map(|c| c.access_key.as_str());
        self.change_lock(
            (&req.extensions, &req.headers, access_key),
            &input.bucket,
            &input.key,
            input.version_id.as_deref(),
            "legal_hold",
            &change,
        )
        .await?;
        Ok(S3Response::new(PutObjectLegalHoldOutput::default()))
    }

    #[tracing::instrument(level = "debug", skip_all, fields(op = "GetObjectLegalHold", bucket = %req.input.bucket))]
    pub(crate) async fn op_get_object_legal_hold(
        &self,
        req: S3Request<GetObjectLegalHoldInput>,
    ) -> S3Result<S3Response<GetObjectLegalHoldOutput>> {
        let input = req.input;
        if self.lock_config(&req.extensions, &input.bucket).await?.is_none() {
            return Err(missing_configuration());
        }
        let obj = self.object_or_version(&input.bucket, &input.key, input.version_id.as_deref()).await?;
        let Some(on) = obj.attributes.legal_hold else {
            return Err(no_lock_configuration());
        };
        Ok(S3Response::new(GetObjectLegalHoldOutput {
            legal_hold: Some(ObjectLockLegalHold { status: Some(hold_status(on)) }),
        }))
    }
}

/// `404 NoSuchObjectLockConfiguration`: the version has no retention (or legal hold).
fn no_lock_configuration() -> S3Error {
    let mut e = S3Error::with_message(
        S3ErrorCode::NoSuchObjectLockConfiguration,
        "The specified object does not have a ObjectLock configuration".to_owned(),
    );
    e.set_status_code(http::StatusCode::NOT_FOUND);
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(mode: Option<LockMode>, until: Option<i64>, hold: Option<bool>) -> ObjectAttributes {
        ObjectAttributes { lock_mode: mode, retain_until: until, legal_hold: hold, ..Default::default() }
    }

    #[test]
    fn retention_changes_follow_aws() {
        let now = 1_000;
        let gov = attrs(Some(LockMode::Governance), Some(2_000), None);
        let comp = attrs(Some(LockMode::Compliance), Some(2_000), None);
        // Lengthening is always allowed.
        assert!(retention_change_allowed(&gov, Some((LockMode::Governance, 3_000)), false, now));
        assert!(retention_change_allowed(&comp, Some((LockMode::Compliance, 2_000)), false, now));
        // GOVERNANCE: shortening, removing or changing the mode needs the bypass.
        assert!(!retention_change_allowed(&gov, Some((LockMode::Governance, 1_500)), false, now));
        assert!(retention_change_allowed(&gov, Some((LockMode::Governance, 1_500)), true, now));
        assert!(!retention_change_allowed(&gov, None, false, now));
        assert!(retention_change_allowed(&gov, None, true, now));
        assert!(!retention_change_allowed(&gov, Some((LockMode::Compliance, 2_000)), false, now));
        assert!(retention_change_allowed(&gov, Some((LockMode::Compliance, 2_000)), true, now));
        // COMPLIANCE: never shortened, removed or turned into GOVERNANCE, bypass or not.
        assert!(!retention_change_allowed(&comp, Some((LockMode::Compliance, 1_500)), true, now));
        assert!(!retention_change_allowed(&comp, None, true, now));
        assert!(!retention_change_allowed(&comp, Some((LockMode::Governance, 5_000)), true, now));
        // An expired retention allows anything.
        assert!(retention_change_allowed(&comp, None, false, 2_000));
        assert!(retention_change_allowed(&attrs(None, None, Some(true)), None, false, now));
    }

    #[test]
    fn locks_forbid_removal() {
        let now = 1_000;
        assert!(attrs(None, None, Some(true)).locked_at(now, true));
        assert!(!attrs(None, None, Some(false)).locked_at(now, false));
        assert!(attrs(Some(LockMode::Governance), Some(2_000), None).locked_at(now, false));
        assert!(!attrs(Some(LockMode::Governance), Some(2_000), None).locked_at(now, true));
        assert!(attrs(Some(LockMode::Compliance), Some(2_000), None).locked_at(now, true));
        assert!(!attrs(Some(LockMode::Compliance), Some(2_000), None).locked_at(2_000, false));
    }

    #[test]
    fn configurations_are_checked_as_aws_checks_them() {
        let conf = |mode: &str, days: Option<i32>, years: Option<i32>| ObjectLockConfiguration {
            object_lock_enabled: Some(ObjectLockEnabled::from_static(ObjectLockEnabled::ENABLED)),
            rule: Some(ObjectLockRule {
                default_retention: Some(DefaultRetention {
                    mode: Some(ObjectLockRetentionMode::from(mode.to_owned())),
                    days,
                    years,
                }),
            }),
        };
        let code = |c| parse_config(Some(c)).expect_err("refused").code().as_str().to_owned();
        assert_eq!(
            parse_config(Some(conf("GOVERNANCE", Some(1), None))).expect("valid").default.expect("default").until(0),
            MS_PER_DAY
        );
        assert!(parse_config(Some(conf("COMPLIANCE", None, Some(1)))).is_ok());
        assert_eq!(code(conf("GOVERNANCE", Some(1), Some(1))), "MalformedXML");
        assert_eq!(code(conf("GOVERNANCE", None, None)), "MalformedXML");
        assert_eq!(code(conf("GOVERNANCE", Some(0), None)), "InvalidRetentionPeriod");
        assert_eq!(code(conf("GOVERNANCE", None, Some(-1))), "InvalidRetentionPeriod");
        assert_eq!(code(conf("governance", None, Some(1))), "MalformedXML");
        assert_eq!(code(conf("abc", None, Some(1))), "MalformedXML");
        let mut disabled = conf("GOVERNANCE", None, Some(1));
        disabled.object_lock_enabled = Some(ObjectLockEnabled::from("Disabled".to_owned()));
        assert_eq!(code(disabled), "MalformedXML");
        let round =
            LockConfig { default: Some(DefaultRule { mode: LockMode::Compliance, days: None, years: Some(2) }) };
        assert_eq!(LockConfig::stored(Some(&round.to_json())), Some(round));
        assert_eq!(LockConfig::stored(Some(&enabled_json())), Some(LockConfig::default()));
    }
}

//! Put/Get/DeleteBucketLifecycleConfiguration (issue #14 item 3) and the background pass that
//! applies the rules ([`Gateway::lifecycle_pass`]). The model and its checks are
//! `crate::lifecycle`.

use cloudstore_events::EventType;
use cloudstore_store_api::{
    BucketConfig, DeleteCondition, DueVersion, ObjectVersion, StoreError, Tag, UploadListQuery, VersionDue,
    list_uploads,
};
use s3s::dto::{
    AbortIncompleteMultipartUpload, DeleteBucketLifecycleInput, DeleteBucketLifecycleOutput, ExpirationStatus,
    GetBucketLifecycleConfigurationInput, GetBucketLifecycleConfigurationOutput, LifecycleExpiration, LifecycleRule,
    LifecycleRuleAndOperator, LifecycleRuleFilter, NoncurrentVersionExpiration, PutBucketLifecycleConfigurationInput,
    PutBucketLifecycleConfigurationOutput,
};
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result, s3_error};
use time::OffsetDateTime;

use super::Gateway;
use crate::error::StoreResultExt as _;
use crate::lifecycle::{Expiration, Filter, FilterForm, Noncurrent, Rule, Rules};

fn malformed() -> S3Error {
    s3_error!(MalformedXML, "The XML you provided was not well-formed or did not validate against our published schema")
}

fn tag_in(t: s3s::dto::Tag) -> S3Result<Tag> {
    match t.key {
        Some(key) => Ok(Tag { key, value: t.value.unwrap_or_default() }),
        None => Err(malformed()),
    }
}

fn tag_out(t: &Tag) -> s3s::dto::Tag {
    s3s::dto::Tag { key: Some(t.key.clone()), value: Some(t.value.clone()) }
}

fn size(n: Option<i64>) -> S3Result<Option<u64>> {
    n.map(|n| u64::try_from(n).map_err(|_| s3_error!(InvalidArgument, "Object size must be non-negative"))).transpose()
}

fn filter_in(f: LifecycleRuleFilter) -> S3Result<Filter> {
    let parts = usize::from(f.and.is_some())
        + usize::from(f.prefix.is_some())
        + usize::from(f.tag.is_some())
        + usize::from(f.object_size_greater_than.is_some())
        + usize::from(f.object_size_less_than.is_some());
    if parts > 1 {
        // Several conditions must be combined in <And>.
        return Err(malformed());
    }
    if let Some(and) = f.and {
        return Ok(Filter {
            prefix: and.prefix.unwrap_or_default(),
            tags: and.tags.unwrap_or_default().into_iter().map(tag_in).collect::<S3Result<_>>()?,
            size_greater_than: size(and.object_size_greater_than)?,
            size_less_than: size(and.object_size_less_than)?,
            form: FilterForm::And,
        });
    }
    Ok(Filter {
        prefix: f.prefix.unwrap_or_default(),
        form: if f.tag.is_some() { FilterForm::Tag } else { FilterForm::Single },
        tags: f.tag.map(tag_in).transpose()?.into_iter().collect(),
        size_greater_than: size(f.object_size_greater_than)?,
        size_less_than: size(f.object_size_less_than)?,
    })
}

fn filter_out(f: &Filter) -> LifecycleRuleFilter {
    let n = |v: Option<u64>| v.and_then(|v| i64::try_from(v).ok());
    match f.form {
        FilterForm::And => LifecycleRuleFilter {
            and: Some(LifecycleRuleAndOperator {
                prefix: (!f.prefix.is_empty()).then(|| f.prefix.clone()),
                tags: (!f.tags.is_empty()).then(|| f.tags.iter().map(tag_out).collect()),
                object_size_greater_than: n(f.size_greater_than),
                object_size_less_than: n(f.size_less_than),
            }),
            ..Default::default()
        },
        FilterForm::Tag => LifecycleRuleFilter { tag: f.tags.first().map(tag_out), ..Default::default() },
        FilterForm::Single => LifecycleRuleFilter {
            prefix: (!f.prefix.is_empty() || (f.size_greater_than.is_none() && f.size_less_than.is_none()))
                .then(|| f.prefix.clone()),
            object_size_greater_than: n(f.size_greater_than),
            object_size_less_than: n(f.size_less_than),
            ..Default::default()
        },
    }
}

fn days(n: Option<i32>, what: &str) -> S3Result<Option<u32>> {
    n.map(|d| u32::try_from(d).map_err(|_| s3_error!(InvalidArgument, "'{what}' must be a positive integer")))
        .transpose()
}

fn rule_in(r: LifecycleRule) -> S3Result<Rule> {
    let enabled = match r.status.as_str() {
        ExpirationStatus::ENABLED => true,
        ExpirationStatus::DISABLED => false,
        _ => return Err(malformed()),
    };
    if r.transitions.as_ref().is_some_and(|t| !t.is_empty())
        || r.noncurrent_version_transitions.as_ref().is_some_and(|t| !t.is_empty())
    {
        return Err(s3_error!(
            NotImplemented,
            "Transitions are not offered: cloudstore has one storage class (STANDARD)"
        ));
    }
    let (filter, legacy_prefix) = match (r.filter, r.prefix) {
        (Some(_), Some(_)) | (None, None) => return Err(malformed()),
        (Some(f), None) => (filter_in(f)?, false),
        (None, Some(p)) => (Filter { prefix: p, ..Filter::default() }, true),
    };
    let expiration = match r.expiration {
        None => None,
        Some(e) => {
            let given = usize::from(e.days.is_some())
                + usize::from(e.date.is_some())
                + usize::from(e.expired_object_delete_marker.is_some());
            if given != 1 {
                return Err(malformed());
            }
            Some(match (e.days, e.date, e.expired_object_delete_marker) {
                (Some(d), _, _) => Expiration::Days(days(Some(d), "Days")?.unwrap_or(0)),
                (_, Some(date), _) => Expiration::Date(OffsetDateTime::from(date).unix_timestamp()),
                (_, _, Some(true)) => Expiration::ExpiredDeleteMarker,
                (_, _, _) => return Err(malformed()),
            })
        }
    };
    let noncurrent = match r.noncurrent_version_expiration {
        None => None,
        Some(n) => Some(Noncurrent {
            days: days(n.noncurrent_days, "NoncurrentDays")?.ok_or_else(malformed)?,
            newer_versions: days(n.newer_noncurrent_versions, "NewerNoncurrentVersions")?,
        }),
    };
    let abort_multipart_days = match r.abort_incomplete_multipart_upload {
        None => None,
        Some(a) => Some(days(a.days_after_initiation, "DaysAfterInitiation")?.ok_or_else(malformed)?),
    };
    Ok(Rule {
        id: r.id.unwrap_or_default(),
        enabled,
        legacy_prefix,
        filter,
        expiration,
        noncurrent,
        abort_multipart_days,
    })
}

fn rule_out(r: &Rule) -> LifecycleRule {
    let i = |n: u32| i32::try_from(n).unwrap_or(i32::MAX);
    LifecycleRule {
        id: Some(r.id.clone()),
        status: ExpirationStatus::from_static(if r.enabled {
            ExpirationStatus::ENABLED
        } else {
            ExpirationStatus::DISABLED
        }),
        prefix: r.legacy_prefix.then(|| r.filter.prefix.clone()),
        filter: (!r.legacy_prefix).then(|| filter_out(&r.filter)),
        expiration: r.expiration.as_ref().map(|e| match e {
            Expiration::Days(d) => LifecycleExpiration { days: Some(i(*d)), ..Default::default() },
            Expiration::Date(secs) => LifecycleExpiration {
                date: OffsetDateTime::from_unix_timestamp(*secs).ok().map(Into::into),
                ..Default::default()
            },
            Expiration::ExpiredDeleteMarker => {
                LifecycleExpiration { expired_object_delete_marker: Some(true), ..Default::default() }
            }
        }),
        noncurrent_version_expiration: r.noncurrent.as_ref().map(|n| NoncurrentVersionExpiration {
            noncurrent_days: Some(i(n.days)),
            newer_noncurrent_versions: n.newer_versions.map(i),
        }),
        abort_incomplete_multipart_upload: r
            .abort_multipart_days
            .map(|d| AbortIncompleteMultipartUpload { days_after_initiation: Some(i(d)) }),
        transitions: None,
        noncurrent_version_transitions: None,
    }
}

/// The bucket's stored rules, if any.
pub(crate) fn stored_rules(json: Option<&str>) -> Option<Rules> {
    json.and_then(|j| match serde_json::from_str(j) {
        Ok(r) => Some(r),
        Err(e) => {
            tracing::warn!(error = %e, "unreadable stored lifecycle rules: ignored");
            None
        }
    })
}

/// What one lifecycle pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct LifecycleDone {
    /// Buckets whose rules were applied.
    pub buckets: usize,
    /// Objects looked at.
    pub scanned: usize,
    /// Objects expired (deleted).
    pub expired: usize,
    /// Multipart uploads aborted.
    pub aborted: usize,
}

fn now_ms_of(t: OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// Keys per page of a lifecycle scan.
const PAGE: usize = 1000;

impl Gateway {
    async fn set_lifecycle(
        &self,
        actor: &crate::events::Actor,
        bucket: &str,
        stored: Option<&str>,
        rules: usize,
    ) -> S3Result<()> {
        let events = self.outbox(|| {
            let mut e = actor.event(EventType::BucketConfigChanged, bucket, None);
            e.status = Some(if stored.is_some() { 200 } else { 204 });
            e.detail.insert("config".into(), "lifecycle".into());
            e.detail.insert("rules".into(), rules.to_string());
            e
        });
        let done = self.meta.set_bucket_config(bucket, BucketConfig::Lifecycle, stored, &events).await.s3();
        self.bucket_changed(bucket);
        done?;
        self.committed(&events);
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all, fields(op = "PutBucketLifecycleConfiguration", bucket = %req.input.bucket))]
    pub(crate) async fn op_put_bucket_lifecycle_configuration(
        &self,
        req: S3Request<PutBucketLifecycleConfigurationInput>,
    ) -> S3Result<S3Response<PutBucketLifecycleConfigurationOutput>> {
        let actor = crate::events::Actor::of(
            &req.extensions,
            &req.headers,
            req.credentials.as_ref().map(|c| c.access_key.as_str()),
        );
        let input = req.input;
        let Some(config) = input.lifecycle_configuration else { return Err(malformed()) };
        let rules = Rules { rules: config.rules.into_iter().map(rule_in).collect::<S3Result<_>>()? };
        let rules = rules.validate().map_err(|e| {
            S3Error::with_message(
                S3ErrorCode::from_bytes(e.code.as_bytes()).unwrap_or(S3ErrorCode::InvalidArgument),
                e.message,
            )
        })?;
        let stored = serde_json::to_string(&rules).map_err(|e| s3_error!(InternalError, "{e}"))?;
        self.set_lifecycle(&actor, &input.bucket, Some(&stored), rules.rules.len()).await?;
        Ok(S3Response::new(PutBucketLifecycleConfigurationOutput::default()))
    }

    #[tracing::instrument(level = "debug", skip_all, fields(op = "GetBucketLifecycleConfiguration", bucket = %req.input.bucket))]
    pub(crate) async fn op_get_bucket_lifecycle_configuration(
        &self,
        req: S3Request<GetBucketLifecycleConfigurationInput>,
    ) -> S3Result<S3Response<GetBucketLifecycleConfigurationOutput>> {
        let b = self.bucket(&req.input.bucket).await?;
        let Some(rules) = stored_rules(b.lifecycle.as_deref()) else {
            return Err(s3_error!(NoSuchLifecycleConfiguration, "The lifecycle configuration does not exist"));
        };
        Ok(S3Response::new(GetBucketLifecycleConfigurationOutput {
            rules: Some(rules.rules.iter().map(rule_out).collect()),
            ..Default::default()
        }))
    }

    #[tracing::instrument(level = "debug", skip_all, fields(op = "DeleteBucketLifecycle", bucket = %req.input.bucket))]
    pub(crate) async fn op_delete_bucket_lifecycle(
        &self,
        req: S3Request<DeleteBucketLifecycleInput>,
    ) -> S3Result<S3Response<DeleteBucketLifecycleOutput>> {
        let actor = crate::events::Actor::of(
            &req.extensions,
            &req.headers,
            req.credentials.as_ref().map(|c| c.access_key.as_str()),
        );
        self.set_lifecycle(&actor, &req.input.bucket, None, 0).await?;
        let mut resp = S3Response::new(DeleteBucketLifecycleOutput {});
        resp.status = Some(http::StatusCode::NO_CONTENT);
        Ok(resp)
    }

    /// One lifecycle pass at `now`: for every bucket with enabled rules, deletes the current
    /// objects whose expiration has come and aborts the multipart uploads older than their
    /// rule allows. A deletion is conditional on the object still being the one that expired
    /// (its ETag, modification time and size), so a write racing with the pass is kept; each
    /// is an ordinary `file_deleted` event (by `lifecycle`, with the rule's id).
    pub async fn lifecycle_pass(&self, now: OffsetDateTime) -> Result<LifecycleDone, StoreError> {
        let day = time::Duration::try_from(self.cfg.lifecycle_day).unwrap_or(time::Duration::DAY);
        let mut done = LifecycleDone::default();
        for bucket in self.meta.list_buckets().await? {
            let Some(rules) = stored_rules(bucket.lifecycle.as_deref()) else { continue };
            done.buckets += 1;
            for rule in rules.rules.iter().filter(|r| r.enabled) {
                if rule.expiration.is_some() {
                    self.expire(&bucket.name, &bucket.owner, bucket.versioning, rule, now, day, &mut done).await?;
                }
                // Noncurrent versions and delete markers exist only in buckets versioned once.
                if bucket.versioning.is_some() && (rule.noncurrent.is_some() || rule.expiration.is_some()) {
                    self.expire_versions(&bucket.name, &bucket.owner, rule, now, day, &mut done).await?;
                }
                if let Some(days) = rule.abort_multipart_days {
                    self.abort_old_uploads(&bucket.name, rule, days, now, day, &mut done).await?;
                }
            }
        }
        Ok(done)
    }

    #[allow(clippy::too_many_arguments)]
    async fn expire(
        &self,
        bucket: &str,
        owner: &str,
        versioning: Option<cloudstore_store_api::Versioning>,
        rule: &Rule,
        now: OffsetDateTime,
        day: time::Duration,
        done: &mut LifecycleDone,
    ) -> Result<(), StoreError> {
        let prefix = rule.filter.prefix.as_str();
        let end = cloudstore_store_api::prefix_successor(prefix);
        let mut from = prefix.to_owned();
        let mut inclusive = true;
        loop {
            let page = self.meta.scan_objects(bucket, &from, inclusive, end.as_deref(), PAGE).await?;
            let full = page.len() == PAGE;
            let mut due = Vec::new();
            for o in &page {
                done.scanned += 1;
                let size_ok = rule.filter.size_greater_than.is_none_or(|n| o.size > n)
                    && rule.filter.size_less_than.is_none_or(|n| o.size < n);
                if !size_ok || rule.expiry(o.last_modified, day).is_none_or(|due| due > now) {
                    continue;
                }
                if !rule.filter.tags.is_empty() {
                    // Tags are in the object's row, not in the listing.
                    let Some(full_obj) = self.meta.get_object(bucket, &o.key).await? else { continue };
                    if !rule.filter.selects(&full_obj.key, full_obj.size, &full_obj.attributes.tags) {
                        continue;
                    }
                }
                due.push(o.clone());
            }
            if !due.is_empty() {
                let events = |d: &cloudstore_store_api::ObjectMeta| self.lifecycle_events(owner, rule, now, d, false);
                match versioning {
                    // One transaction for the page's expired objects; each deletion is
                    // conditional on the object being the one listed (replaced or deleted
                    // meanwhile: kept).
                    None => {
                        let gone = self.meta.delete_objects_if_unchanged(bucket, &due, self.grace(), &events).await?;
                        done.expired += gone.len();
                        self.committed_count(gone.len() * usize::from(self.events.is_some()));
                    }
                    // In a versioned bucket expiry adds a delete marker, as on AWS: the data
                    // stays as a noncurrent version. One marker (one transaction) per object.
                    Some(v) => {
                        for o in &due {
                            let cond = DeleteCondition {
                                etag: Some(o.etag.clone()),
                                last_modified: Some(o.last_modified),
                                size: Some(o.size),
                            };
                            let id = (v == cloudstore_store_api::Versioning::Enabled)
                                .then(super::versioning::new_version_id);
                            let marker = self
                                .meta
                                .put_delete_marker(
                                    bucket,
                                    &o.key,
                                    id.as_deref(),
                                    OffsetDateTime::now_utc(),
                                    &cond,
                                    v,
                                    self.grace(),
                                    &events,
                                )
                                .await;
                            match marker {
                                Ok(_) => {
                                    done.expired += 1;
                                    self.committed_count(usize::from(self.events.is_some()));
                                }
                                // Replaced or deleted meanwhile: not what expired.
                                Err(StoreError::PreconditionFailed | StoreError::NoSuchBucket) => {}
                                Err(e) => return Err(e),
                            }
                        }
                    }
                }
            }
            match page.last() {
                Some(last) if full => {
                    from.clone_from(&last.key);
                    inclusive = false;
                }
                _ => return Ok(()),
            }
        }
    }

    /// The `file_deleted` events of one lifecycle deletion (by `cloudstore:lifecycle`, with the
    /// rule's id and the version's id; `version`: a version removed, the null one named "null").
    fn lifecycle_events(
        &self,
        owner: &str,
        rule: &Rule,
        now: OffsetDateTime,
        d: &cloudstore_store_api::ObjectMeta,
        version: bool,
    ) -> Vec<cloudstore_store_api::OutboxEvent> {
        self.outbox(|| {
            let mut e = cloudstore_events::Event::new(EventType::FileDeleted, now_ms_of(now));
            e.account_id = Some(owner.to_owned());
            e.principal_arn = Some("cloudstore:lifecycle".to_owned());
            e.bucket = Some(d.bucket.clone());
            e.object_key = Some(d.key.clone());
            e.bytes = Some(d.size);
            e.etag = (!d.etag.is_empty()).then(|| d.etag.clone());
            e.version_id = if version {
                Some(super::versioning::shown(d.attributes.version_id.as_deref()))
            } else {
                d.attributes.version_id.clone()
            };
            e.status = Some(204);
            e.detail.insert("lifecycle_rule".into(), rule.id.clone());
            e
        })
    }

    /// A rule's actions on the versions of a versioned bucket, by one walk of the versions
    /// under its prefix (key order, newest first): `NoncurrentVersionExpiration` removes a
    /// noncurrent version (or delete marker) once `NoncurrentDays` have passed since it became
    /// noncurrent — when its successor, the next newer entry, was written: that entry's
    /// modification time — rounded up to midnight UTC as on AWS, keeping the newest
    /// `NewerNoncurrentVersions`; `ExpiredObjectDeleteMarker` (and an `Expiration` with
    /// `Days`/`Date`, whose time counts from the marker's) removes a delete marker that is its
    /// key's only version. A page's due versions are removed together
    /// (`MetadataStore::delete_versions_if_due`), each only if still due.
    async fn expire_versions(
        &self,
        bucket: &str,
        owner: &str,
        rule: &Rule,
        now: OffsetDateTime,
        day: time::Duration,
        done: &mut LifecycleDone,
    ) -> Result<(), StoreError> {
        // Noncurrent since `cutoff` or earlier is due: round_up(since + n days) <= now.
        let noncurrent = rule.noncurrent.as_ref().map(|n| {
            let cutoff = crate::lifecycle::round_down(now, day) - day * i32::try_from(n.days).unwrap_or(i32::MAX);
            (cutoff, n.newer_versions.unwrap_or(0))
        });
        let marker_due = |lm: OffsetDateTime| match rule.expiration.as_ref() {
            Some(Expiration::ExpiredDeleteMarker) => true,
            Some(_) => rule.expiry(lm, day).is_some_and(|due| due <= now),
            None => false,
        };
        if noncurrent.is_none() && rule.expiration.is_none() {
            return Ok(());
        }
        // Markers have no size or tags: a rule that filters by tags does not select them.
        let selects = |v: &ObjectVersion| {
            if v.is_delete_marker {
                rule.filter.tags.is_empty()
            } else {
                rule.filter.selects(&v.meta.key, v.meta.size, &v.meta.attributes.tags)
            }
        };
        let prefix = rule.filter.prefix.as_str();
        let end = cloudstore_store_api::prefix_successor(prefix);
        let mut from = prefix.to_owned();
        let mut below = None;
        // The walk's state, carried across pages: the key being walked, the modification time
        // of its previous (newer) entry, how many of its noncurrent entries came before, and
        // its latest entry if that is a due marker not (yet) followed by another entry.
        let mut key: Option<String> = None;
        let mut newer_lm: Option<OffsetDateTime> = None;
        let mut noncurrent_newer = 0_u32;
        let mut sole: Option<DueVersion> = None;
        // The due versions of a key that goes on in the next page: removed with the rest of
        // their key (the store checks a key's versions oldest first, each while its successor
        // is still there).
        let mut carried: Vec<DueVersion> = Vec::new();
        loop {
            let page = self.meta.scan_versions(bucket, &from, below, below.is_none(), end.as_deref(), PAGE).await?;
            let full = page.len() == PAGE;
            let mut due = std::mem::take(&mut carried);
            for v in &page {
                done.scanned += 1;
                if key.as_deref() == Some(v.meta.key.as_str()) {
                    sole = None; // the marker has versions behind it
                } else {
                    due.extend(sole.take());
                    key = Some(v.meta.key.clone());
                    newer_lm = None;
                    noncurrent_newer = 0;
                }
                let entry = |due| DueVersion {
                    key: v.meta.key.clone(),
                    version_id: v.meta.attributes.version_id.clone(),
                    seq: v.seq,
                    due,
                };
                if v.is_latest {
                    if v.is_delete_marker && marker_due(v.meta.last_modified) && selects(v) {
                        sole = Some(entry(VersionDue::SoleMarker));
                    }
                } else {
                    if let (Some((cutoff, keep)), Some(since)) = (noncurrent, newer_lm)
                        && since <= cutoff
                        && noncurrent_newer >= keep
                        && selects(v)
                    {
                        due.push(entry(VersionDue::Noncurrent { since, newer: keep }));
                    }
                    noncurrent_newer = noncurrent_newer.saturating_add(1);
                }
                newer_lm = Some(v.meta.last_modified);
            }
            if !full {
                due.extend(sole.take());
            } else if let Some(last) = page.last()
                && due.len() < PAGE
            {
                let (rest, go_on): (Vec<_>, Vec<_>) = due.into_iter().partition(|d| d.key != last.meta.key);
                due = rest;
                carried = go_on;
            }
            if !due.is_empty() {
                let events = |d: &cloudstore_store_api::ObjectMeta| self.lifecycle_events(owner, rule, now, d, true);
                let gone = self.meta.delete_versions_if_due(bucket, &due, self.grace(), &events).await?;
                done.expired += gone.len();
                self.committed_count(gone.len() * usize::from(self.events.is_some()));
            }
            match page.last() {
                Some(last) if full => {
                    from.clone_from(&last.meta.key);
                    below = Some(last.seq);
                }
                _ => return Ok(()),
            }
        }
    }

    async fn abort_old_uploads(
        &self,
        bucket: &str,
        rule: &Rule,
        days: u32,
        now: OffsetDateTime,
        day: time::Duration,
        done: &mut LifecycleDone,
    ) -> Result<(), StoreError> {
        let age = day * i32::try_from(days).unwrap_or(i32::MAX);
        let mut q =
            UploadListQuery { prefix: rule.filter.prefix.clone(), max_uploads: PAGE, ..UploadListQuery::default() };
        loop {
            let page = list_uploads(self.meta.as_ref(), bucket, &q).await?;
            for u in &page.uploads {
                if u.initiated + age <= now {
                    match self.meta.abort_upload(bucket, &u.key, &u.upload_id).await {
                        Ok(()) => done.aborted += 1,
                        Err(StoreError::NoSuchUpload) => {}
                        Err(e) => return Err(e),
                    }
                }
            }
            if !page.is_truncated {
                return Ok(());
            }
            q.key_marker.clone_from(&page.next_key_marker);
            q.upload_id_marker.clone_from(&page.next_upload_id_marker);
        }
    }
}

/// Applies the lifecycle rules in the background: one [`Gateway::lifecycle_pass`] every
/// `interval` (`CLOUDSTORE_LIFECYCLE_INTERVAL_SECS`). Several gateways may run it at once:
/// each deletion is conditional, so an object expires once.
#[derive(Debug, Clone)]
pub struct LifecycleWorker {
    gateway: Gateway,
    /// Pause between passes.
    pub interval: std::time::Duration,
}

impl LifecycleWorker {
    /// A worker over `gateway`'s stores and events.
    #[must_use]
    pub fn new(gateway: Gateway, interval: std::time::Duration) -> Self {
        Self { gateway, interval }
    }

    /// Runs passes until `shutdown` is cancelled.
    pub async fn run(self, shutdown: tokio_util::sync::CancellationToken) {
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(self.interval) => {}
            }
            match self.gateway.lifecycle_pass(OffsetDateTime::now_utc()).await {
                Ok(d) if d.expired + d.aborted > 0 => {
                    tracing::info!(expired = d.expired, aborted = d.aborted, scanned = d.scanned, "lifecycle pass");
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "lifecycle pass failed"),
            }
        }
    }
}

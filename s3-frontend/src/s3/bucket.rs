//! Bucket operations.

use cloudstore_events::EventType;
use cloudstore_store_api::{Bucket, BucketConfig, StoreError};
use cloudstore_types::BucketName;
use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, s3_error};

use cloudstore_iam_api::ADMIN_ACCOUNT_ID;
use cloudstore_policy::{Policy, PolicyKind};

use super::Gateway;
use crate::access::Authorized;
use crate::error::{StoreResultExt, store_error};
use crate::identity::legacy_owner;

/// Largest bucket policy accepted (AWS: 20 KiB).
const MAX_BUCKET_POLICY: usize = 20 * 1024;

/// A client's `LocationConstraint`, stored as the bucket's region and sent back in headers:
/// the server's own region (whatever an operator named it), or region-shaped
/// (`[a-z0-9-]{1,64}`, or AWS's legacy `EU`), else 400 InvalidLocationConstraint.
fn check_location_constraint(r: String, server_region: &str) -> S3Result<String> {
    let shaped = r.len() <= 64 && r.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if shaped || r == "EU" || r == server_region {
        Ok(r)
    } else {
        Err(s3_error!(InvalidLocationConstraint, "The specified location-constraint is not valid"))
    }
}

impl Gateway {
    /// The bucket, or `NoSuchBucket`.
    pub(crate) async fn bucket(&self, name: &str) -> S3Result<Bucket> {
        self.meta
            .get_bucket(name)
            .await
            .s3()?
            .ok_or_else(|| s3_error!(NoSuchBucket, "The specified bucket does not exist"))
    }

    #[tracing::instrument(level = "debug", skip_all, fields(op = "ListBuckets"))]
    pub(crate) async fn op_list_buckets(
        &self,
        req: S3Request<ListBucketsInput>,
    ) -> S3Result<S3Response<ListBucketsOutput>> {
        let input = req.input;
        let prefix = input.prefix.as_deref().unwrap_or("");
        let max = match input.max_buckets {
            None => usize::MAX,
            Some(n @ 1..=10_000) => usize::try_from(n).unwrap_or(usize::MAX),
            Some(_) => return Err(s3_error!(InvalidArgument, "max-buckets must be between 1 and 10000")),
        };
        // The token is the last name of the previous page (base64), so pages resume after it.
        let after = input.continuation_token.as_deref().map(super::list::decode_token).transpose()?.unwrap_or_default();
        // Everyone sees the buckets of their own account; the platform admin sees all.
        let who = req.extensions.get::<Authorized>();
        let account = who.map_or_else(|| ADMIN_ACCOUNT_ID.to_owned(), |a| a.account_id().to_owned());
        let everything = who.is_some_and(Authorized::is_admin);
        let mut visible = self
            .meta
            .list_buckets()
            .await
            .s3()?
            .into_iter()
            .filter(|b| (everything || legacy_owner(b.owner.clone()) == account) && b.name.starts_with(prefix))
            .filter(|b| b.name.as_str() > after.as_str());
        let buckets: Vec<s3s::dto::Bucket> = visible
            .by_ref()
            .take(max)
            .map(|b| s3s::dto::Bucket {
                name: Some(b.name),
                creation_date: Some(b.created_at.into()),
                bucket_region: Some(b.region),
            })
            .collect();
        let more = visible.next().is_some();
        let continuation_token =
            if more { buckets.last().and_then(|b| b.name.as_deref()).map(super::list::encode_token) } else { None };
        Ok(S3Response::new(ListBucketsOutput {
            buckets: Some(buckets),
            owner: Some(self.owner_dto(&account).await?),
            prefix: input.prefix,
            continuation_token,
        }))
    }

    #[tracing::instrument(level = "debug", skip_all, fields(op = "CreateBucket", bucket = %req.input.bucket))]
    pub(crate) async fn op_create_bucket(
        &self,
        req: S3Request<CreateBucketInput>,
    ) -> S3Result<S3Response<CreateBucketOutput>> {
        let name = BucketName::new(req.input.bucket.clone()).map_err(|e| s3_error!(InvalidBucketName, "{e}"))?;
        let region = req
            .input
            .create_bucket_configuration
            .as_ref()
            .and_then(|c| c.location_constraint.as_ref())
            .map(|l| l.as_str().to_owned())
            .filter(|r| !r.is_empty())
            .map(|r| check_location_constraint(r, &self.cfg.region))
            .transpose()?
            .unwrap_or_else(|| self.cfg.region.clone());
        let actor = crate::events::Actor::of(
            &req.extensions,
            &req.headers,
            req.credentials.as_ref().map(|c| c.access_key.as_str()),
        );
        let owner = req
            .extensions
            .get::<Authorized>()
            .map_or_else(|| ADMIN_ACCOUNT_ID.to_owned(), |a| a.account_id().to_owned());
        let (acl, object_ownership) =
            self.new_bucket_acl(&req.headers, req.input.object_ownership.as_ref(), &owner).await?;
        // Object lock (ADR 0018): the bucket is versioned from the start and for good. As on
        // AWS, the creator needs the permission to configure object lock too.
        let lock = req.input.object_lock_enabled_for_bucket == Some(true);
        if lock
            && let Some(who) = req.extensions.get::<Authorized>()
            && !who
                .allows("s3:PutBucketObjectLockConfiguration", &crate::access::resource_arn(Some(name.as_str()), None))
        {
            return Err(s3_error!(AccessDenied, "Access Denied"));
        }
        let bucket = Bucket {
            name: name.as_str().to_owned(),
            owner: owner.clone(),
            region,
            created_at: now_ms(),
            policy: None,
            notification: None,
            cors: None,
            public_access_block: None,
            tagging: None,
            lifecycle: None,
            acl,
            object_ownership: Some(object_ownership.as_str().to_owned()),
            encryption: None,
            versioning: lock.then_some(cloudstore_store_api::Versioning::Enabled),
            object_lock: lock.then(super::object_lock::enabled_json),
        };
        let events = self.outbox(|| {
            let mut e = actor.event(EventType::BucketCreated, &bucket.name, None);
            e.status = Some(200);
            e.detail.insert("region".into(), bucket.region.clone());
            e
        });
        let created = self.meta.create_bucket(&bucket, &events).await;
        self.bucket_changed(&bucket.name);
        match created {
            Ok(()) => self.committed(&events),
            Err(StoreError::BucketExists { owner: existing }) if legacy_owner(existing.clone()) == owner => {
                // AWS's legacy behaviour in us-east-1: creating a bucket you already own there
                // answers 200 and changes nothing (every other region: BucketAlreadyOwnedByYou).
                if bucket.region == "us-east-1"
                    && self.meta.get_bucket(&bucket.name).await.s3()?.is_some_and(|b| b.region == "us-east-1")
                {
                    return Ok(S3Response::new(CreateBucketOutput { location: Some(format!("/{}", bucket.name)) }));
                }
                return Err(s3_error!(
                    BucketAlreadyOwnedByYou,
                    "Your previous request to create the named bucket succeeded and you already own it."
                ));
            }
            Err(e) => return Err(store_error(e)),
        }
        Ok(S3Response::new(CreateBucketOutput { location: Some(format!("/{}", bucket.name)) }))
    }

    /// A new bucket's ACL (as stored: `None` for its owner's FULL_CONTROL alone) and Object
    /// Ownership (ADR 0013): `x-amz-object-ownership` if given; else ObjectWriter when the
    /// request's ACL grants anyone but the owner (ACLs are asked for, as before AWS disabled
    /// them by default), else the server's default. BucketOwnerEnforced with such an ACL is
    /// 400 InvalidBucketAclWithObjectOwnership, as on AWS.
    async fn new_bucket_acl(
        &self,
        headers: &http::HeaderMap,
        ownership: Option<&ObjectOwnership>,
        owner: &str,
    ) -> S3Result<(Option<String>, crate::acl::Ownership)> {
        use crate::acl::Ownership;
        let explicit = ownership
            .map(|o| {
                Ownership::parse(o.as_str())
                    .ok_or_else(|| s3_error!(InvalidArgument, "Invalid x-amz-object-ownership: {}", o.as_str()))
            })
            .transpose()?;
        let acl = match crate::acl::from_headers(headers)? {
            Some(requested) => Some(self.resolve_acl(requested, owner, owner, true).await?),
            None => None,
        };
        let granting = acl.as_ref().is_some_and(|a| !a.is_private_of(owner));
        let setting = explicit.unwrap_or(if granting { Ownership::ObjectWriter } else { self.cfg.default_ownership });
        if granting && setting == Ownership::BucketOwnerEnforced {
            return Err(s3_error!(
                InvalidBucketAclWithObjectOwnership,
                "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting"
            ));
        }
        Ok((acl.filter(|_| granting).map(|a| a.to_json()), setting))
    }

    #[tracing::instrument(level = "debug", skip_all, fields(op = "HeadBucket", bucket = %req.input.bucket))]
    pub(crate) async fn op_head_bucket(
        &self,
        req: S3Request<HeadBucketInput>,
    ) -> S3Result<S3Response<HeadBucketOutput>> {
        let b = self.bucket(&req.input.bucket).await?;
        Ok(S3Response::new(HeadBucketOutput { bucket_region: Some(b.region), ..Default::default() }))
    }

    #[tracing::instrument(level = "debug", skip_all, fields(op = "GetBucketLocation", bucket = %req.input.bucket))]
    pub(crate) async fn op_get_bucket_location(
        &self,
        req: S3Request<GetBucketLocationInput>,
    ) -> S3Result<S3Response<GetBucketLocationOutput>> {
        let b = self.bucket(&req.input.bucket).await?;
        // us-east-1 is reported as an empty LocationConstraint, as AWS does.
        let location_constraint = (b.region != "us-east-1").then(|| BucketLocationConstraint::from(b.region));
        Ok(S3Response::new(GetBucketLocationOutput { location_constraint }))
    }

    #[tracing::instrument(level = "debug", skip_all, fields(op = "DeleteBucket", bucket = %req.input.bucket))]
    pub(crate) async fn op_delete_bucket(
        &self,
        req: S3Request<DeleteBucketInput>,
    ) -> S3Result<S3Response<DeleteBucketOutput>> {
        let actor = crate::events::Actor::of(
            &req.extensions,
            &req.headers,
            req.credentials.as_ref().map(|c| c.access_key.as_str()),
        );
        let events = self.outbox(|| {
            let mut e = actor.event(EventType::BucketDeleted, &req.input.bucket, None);
            e.status = Some(204);
            e
        });
        let done = self.meta.delete_bucket(&req.input.bucket, &events).await.s3();
        self.bucket_changed(&req.input.bucket);
        done?;
        self.committed(&events);
        Ok(S3Response::new(DeleteBucketOutput {}))
    }
}

impl Gateway {
    #[tracing::instrument(level = "debug", skip_all, fields(op = "PutBucketPolicy", bucket = %req.input.bucket))]
    pub(crate) async fn op_put_bucket_policy(
        &self,
        req: S3Request<PutBucketPolicyInput>,
    ) -> S3Result<S3Response<PutBucketPolicyOutput>> {
        let actor = crate::events::Actor::of(
            &req.extensions,
            &req.headers,
            req.credentials.as_ref().map(|c| c.access_key.as_str()),
        );
        let bucket = req.input.bucket;
        let doc = req.input.policy;
        if doc.len() > MAX_BUCKET_POLICY {
            return Err(s3_error!(MalformedPolicy, "Policies must be at most 20 KB."));
        }
        Policy::parse(&doc, PolicyKind::Resource).map_err(|e| s3_error!(MalformedPolicy, "{e}"))?;
        // Every resource must be able to name this bucket or something inside it (as AWS
        // requires): its bucket part (before the first `/`) matches the bucket's ARN, wildcards
        // included (`arn:aws:s3:::*/*` does).
        let own = format!("arn:aws:s3:::{bucket}");
        for r in policy_resources(&doc) {
            let bucket_part = r.split('/').next().unwrap_or_default();
            if !cloudstore_policy::resource_matches(bucket_part, &own) {
                return Err(s3_error!(MalformedPolicy, "Policy has invalid resource {r}"));
            }
        }
        // `NotPrincipal` with `Allow` would grant to everyone but a few: refused, as AWS does.
        if statements(&doc).iter().any(|st| {
            st.get("Effect").and_then(serde_json::Value::as_str) == Some("Allow") && st.get("NotPrincipal").is_some()
        }) {
            return Err(s3_error!(MalformedPolicy, "Invalid policy: NotPrincipal cannot be used with Allow"));
        }
        // Block Public Access: BlockPublicPolicy refuses a public policy, as AWS does.
        let current = self.bucket(&bucket).await?;
        let blocked = self.effective_block(&current).await?.block_public_policy;
        if blocked && crate::public_access::policy_is_public(&doc) {
            return Err(s3_error!(
                AccessDenied,
                "The bucket's Block Public Access settings (BlockPublicPolicy) refuse a public policy."
            ));
        }
        let events = self.outbox(|| policy_event(&actor, &bucket, "PutBucketPolicy", 204));
        let done = self.meta.set_bucket_config(&bucket, BucketConfig::Policy, Some(&doc), &events).await.s3();
        self.bucket_changed(&bucket);
        done?;
        self.committed(&events);
        Ok(S3Response::new(PutBucketPolicyOutput {}))
    }

    #[tracing::instrument(level = "debug", skip_all, fields(op = "GetBucketPolicy", bucket = %req.input.bucket))]
    pub(crate) async fn op_get_bucket_policy(
        &self,
        req: S3Request<GetBucketPolicyInput>,
    ) -> S3Result<S3Response<GetBucketPolicyOutput>> {
        let b = self.bucket(&req.input.bucket).await?;
        let policy = b.policy.ok_or_else(|| s3_error!(NoSuchBucketPolicy, "The bucket policy does not exist"))?;
        Ok(S3Response::new(GetBucketPolicyOutput { policy: Some(policy) }))
    }

    #[tracing::instrument(level = "debug", skip_all, fields(op = "DeleteBucketPolicy", bucket = %req.input.bucket))]
    pub(crate) async fn op_delete_bucket_policy(
        &self,
        req: S3Request<DeleteBucketPolicyInput>,
    ) -> S3Result<S3Response<DeleteBucketPolicyOutput>> {
        let actor = crate::events::Actor::of(
            &req.extensions,
            &req.headers,
            req.credentials.as_ref().map(|c| c.access_key.as_str()),
        );
        let events = self.outbox(|| policy_event(&actor, &req.input.bucket, "DeleteBucketPolicy", 204));
        let done = self.meta.set_bucket_config(&req.input.bucket, BucketConfig::Policy, None, &events).await.s3();
        self.bucket_changed(&req.input.bucket);
        done?;
        self.committed(&events);
        Ok(S3Response::with_status(DeleteBucketPolicyOutput {}, http::StatusCode::NO_CONTENT))
    }

    #[tracing::instrument(level = "debug", skip_all, fields(op = "GetBucketPolicyStatus", bucket = %req.input.bucket))]
    pub(crate) async fn op_get_bucket_policy_status(
        &self,
        req: S3Request<GetBucketPolicyStatusInput>,
    ) -> S3Result<S3Response<GetBucketPolicyStatusOutput>> {
        let b = self.bucket(&req.input.bucket).await?;
        // Public by its policy, or by a public grant of its ACL where ACLs apply and are not
        // ignored (ADR 0013).
        let owner = legacy_owner(b.owner.clone());
        let ignored = self.effective_block(&b).await?.ignore_public_acls;
        let acl_public = !ignored
            && crate::acl::Ownership::acls_enabled(crate::acl::Ownership::from_stored(b.object_ownership.as_deref()))
            && crate::acl::Acl::from_stored(&owner, b.acl.as_deref()).is_public();
        let public = acl_public || b.policy.as_deref().is_some_and(crate::public_access::policy_is_public);
        Ok(S3Response::new(GetBucketPolicyStatusOutput {
            policy_status: Some(PolicyStatus { is_public: Some(public) }),
        }))
    }
}

/// The statements of a (valid) policy document, as JSON.
fn statements(doc: &str) -> Vec<serde_json::Value> {
    match serde_json::from_str::<serde_json::Value>(doc)
        .ok()
        .and_then(|mut v| v.get_mut("Statement").map(serde_json::Value::take))
    {
        Some(serde_json::Value::Array(list)) => list,
        Some(one) => vec![one],
        None => Vec::new(),
    }
}

fn strings(v: Option<&serde_json::Value>) -> Vec<String> {
    match v {
        Some(serde_json::Value::String(s)) => vec![s.clone()],
        Some(serde_json::Value::Array(a)) => a.iter().filter_map(|x| x.as_str().map(str::to_owned)).collect(),
        _ => Vec::new(),
    }
}

/// Every `Resource` and `NotResource` of a policy document.
fn policy_resources(doc: &str) -> Vec<String> {
    statements(doc)
        .iter()
        .flat_map(|st| {
            let mut r = strings(st.get("Resource"));
            r.extend(strings(st.get("NotResource")));
            r
        })
        .collect()
}

/// Now, truncated to milliseconds (what the stores keep).
pub(crate) fn now_ms() -> time::OffsetDateTime {
    let now = time::OffsetDateTime::now_utc();
    let ms = now.millisecond();
    now.replace_millisecond(ms).unwrap_or(now)
}

/// A `policy_changed` event of a bucket policy.
fn policy_event(actor: &crate::events::Actor, bucket: &str, op: &str, status: u16) -> cloudstore_events::Event {
    let mut e = actor.event(EventType::PolicyChanged, bucket, None);
    e.status = Some(status);
    e.detail.insert("policy".into(), "bucket".into());
    e.detail.insert("operation".into(), op.into());
    e
}

#[cfg(test)]
mod tests {
    use super::check_location_constraint;

    #[test]
    fn location_constraints_are_region_shaped_or_the_servers_own() {
        for ok in ["eu-west-1", "us-east-1", "EU", "local1", "RegionOne"] {
            assert_eq!(check_location_constraint(ok.to_owned(), "RegionOne").as_deref().ok(), Some(ok), "{ok}");
        }
        for bad in ["eu\nx", "Eu-West-1", "dc_1", "a b", &"a".repeat(65)] {
            let e = check_location_constraint(bad.to_owned(), "RegionOne").expect_err(bad);
            assert_eq!(e.code().as_str(), "InvalidLocationConstraint", "{bad:?}");
        }
    }
}

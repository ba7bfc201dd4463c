//! Object ACLs (ADR 0013): the ACL a write gives its new object (PutObject, CopyObject,
//! CreateMultipartUpload, kept into the completed object), and Get/PutObjectAcl. Stored in the
//! object's attributes (ADR 0012), absent for the default (the bucket owner's FULL_CONTROL).

use cloudstore_events::EventType;
use cloudstore_store_api::{ObjectAttributes, ObjectMeta, StoreError};
use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, s3_error};

use super::Gateway;
use super::acl::{acls_disabled, new_object_owner, public_acl_blocked};
use crate::access::Authorized;
use crate::acl::{self, Acl};
use crate::error::StoreResultExt;

impl Gateway {
    /// The ACL attribute of a new object the request's caller writes: owned by the writer or
    /// the bucket owner as the bucket's Object Ownership decides, with the ACL the request's
    /// headers ask for (refused as AWS refuses it, and with 403 when BlockPublicAcls holds and
    /// it is public). `None`: the default ACL (the bucket owner's FULL_CONTROL).
    pub(crate) async fn new_object_acl(
        &self,
        extensions: &http::Extensions,
        headers: &http::HeaderMap,
    ) -> S3Result<Option<serde_json::Value>> {
        let requested = acl::from_headers(headers)?;
        let Some(who) = extensions.get::<Authorized>() else {
            return match requested {
                None => Ok(None),
                Some(_) => Err(acls_disabled()),
            };
        };
        let Some(bucket) = who.bucket.as_deref() else { return Ok(None) };
        let writer = who.account_id();
        let writer = if writer.is_empty() || who.is_admin() { bucket.owner.as_str() } else { writer };
        if requested.as_ref().is_some_and(acl::Requested::is_public) && bucket.block.block_public_acls {
            return Err(public_acl_blocked());
        }
        let owner = new_object_owner(bucket.ownership, requested.as_ref(), writer, &bucket.owner)?;
        let object_acl = match requested {
            Some(r) => self.resolve_acl(r, &owner, &bucket.owner, false).await?,
            None => Acl::private(&owner),
        };
        Ok(stored(&object_acl, &bucket.owner))
    }

    #[tracing::instrument(level = "debug", skip_all, fields(op = "GetObjectAcl", bucket = %req.input.bucket, key = %req.input.key))]
    pub(crate) async fn op_get_object_acl(
        &self,
        req: S3Request<GetObjectAclInput>,
    ) -> S3Result<S3Response<GetObjectAclOutput>> {
        let input = req.input;
        let b = self.bucket(&input.bucket).await?;
        let bucket_owner = crate::identity::legacy_owner(b.owner);
        // The current object, or the version `versionId` names (ACLs are per version).
        let o = self.object_or_version(&input.bucket, &input.key, input.version_id.as_deref()).await?;
        let (owner, grants) = self.acl_output(&acl::object_acl(&o, &bucket_owner)).await?;
        Ok(S3Response::new(GetObjectAclOutput { grants: Some(grants), owner: Some(owner), request_charged: None }))
    }

    #[tracing::instrument(level = "debug", skip_all, fields(op = "PutObjectAcl", bucket = %req.input.bucket, key = %req.input.key))]
    pub(crate) async fn op_put_object_acl(
        &self,
        req: S3Request<PutObjectAclInput>,
    ) -> S3Result<S3Response<PutObjectAclOutput>> {
        let actor = crate::events::Actor::of(
            &req.extensions,
            &req.headers,
            req.credentials.as_ref().map(|c| c.access_key.as_str()),
        );
        let input = req.input;
        let version = super::versioning::version_arg(input.version_id.as_deref());
        let b = self.bucket(&input.bucket).await?;
        let requested = Self::requested_acl(&req.headers, input.access_control_policy.as_ref())?;
        if requested.is_public() && self.effective_block(&b).await?.block_public_acls {
            return Err(public_acl_blocked());
        }
        if !acl::Ownership::acls_enabled(acl::Ownership::from_stored(b.object_ownership.as_deref())) {
            if !requested.fits_acls_disabled() {
                return Err(acls_disabled());
            }
            // The bucket owner's full control, the only ACL such an object has: nothing to
            // change, but the object must exist.
            self.object_or_version(&input.bucket, &input.key, input.version_id.as_deref()).await?;
            return Ok(S3Response::new(PutObjectAclOutput { request_charged: None }));
        }
        let bucket_owner = crate::identity::legacy_owner(b.owner.clone());
        let current = self.object_or_version(&input.bucket, &input.key, input.version_id.as_deref()).await?;
        let owner = acl::object_acl(&current, &bucket_owner).owner;
        let new_acl = self.resolve_acl(requested, &owner, &bucket_owner, false).await?;
        let value = stored(&new_acl, &bucket_owner);
        let change = |o: &ObjectMeta| -> cloudstore_store_api::Result<ObjectAttributes> {
            // Replaced meanwhile by another writer: the ACL was meant for the object read above.
            if acl::object_acl(o, &bucket_owner).owner != owner {
                return Err(StoreError::Conflict);
            }
            Ok(ObjectAttributes { acl: value.clone(), ..o.attributes.clone() })
        };
        let make_events = |o: &ObjectMeta| {
            self.outbox(|| {
                let mut e = actor.event(EventType::ObjectAclChanged, &o.bucket, Some(&o.key));
                e.etag = Some(o.etag.clone());
                e.status = Some(200);
                e.version_id.clone_from(&o.attributes.version_id);
                e
            })
        };
        let changed = match version {
            None => self.meta.update_object_attributes(&input.bucket, &input.key, &change, &make_events).await,
            Some(id) => self.meta.update_version_attributes(&input.bucket, &input.key, id, &change, &make_events).await,
        };
        changed.s3()?.ok_or_else(|| match version {
            None => s3_error!(NoSuchKey, "The specified key does not exist."),
            Some(_) => s3_error!(NoSuchVersion, "The specified version does not exist."),
        })?;
        self.committed_count(usize::from(self.events.is_some()));
        Ok(S3Response::new(PutObjectAclOutput { request_charged: None }))
    }
}

/// The ACL as kept in the object's attributes: nothing for the default.
fn stored(object_acl: &Acl, bucket_owner: &str) -> Option<serde_json::Value> {
    (!object_acl.is_private_of(bucket_owner)).then(|| serde_json::to_value(object_acl).unwrap_or_default())
}

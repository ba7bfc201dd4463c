//! ACL and Object Ownership operations (ADR 0013): Get/PutBucketAcl, Get/PutObjectAcl,
//! Put/Get/DeleteBucketOwnershipControls, and the ACL a write asks for (CreateBucket,
//! PutObject, CopyObject, CreateMultipartUpload). The grants themselves: `crate::acl`.

use cloudstore_events::EventType;
use cloudstore_store_api::BucketConfig;
use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, s3_error};

use super::Gateway;
use crate::acl::{self, Acl, AclError, Grantee, Named, Ownership, Requested};
use crate::error::StoreResultExt;
use crate::identity::{EmailLookup, legacy_owner};

fn iam_unavailable(e: &cloudstore_iam_api::IamApiError) -> s3s::S3Error {
    tracing::warn!(error = %e, "account lookup failed");
    s3_error!(ServiceUnavailable, "The identity service is unavailable; please retry.")
}

/// 400 AccessControlListNotSupported: the bucket's Object Ownership is BucketOwnerEnforced.
pub(crate) fn acls_disabled() -> s3s::S3Error {
    s3_error!(AccessControlListNotSupported, "The bucket does not allow ACLs")
}

/// 403 AccessDenied: BlockPublicAcls refuses an ACL that makes the resource public.
pub(crate) fn public_acl_blocked() -> s3s::S3Error {
    s3_error!(AccessDenied, "The bucket's Block Public Access settings (BlockPublicAcls) refuse a public ACL.")
}

/// Who owns a new object, and its ACL, under the bucket's Object Ownership, as AWS decides:
/// BucketOwnerEnforced gives every object to the bucket owner and accepts no ACL but
/// `bucket-owner-full-control` (400 AccessControlListNotSupported); BucketOwnerPreferred gives
/// the bucket owner objects written with `bucket-owner-full-control`; ObjectWriter (and no
/// controls) leaves them with their writer.
pub(crate) fn new_object_owner(
    ownership: Option<Ownership>,
    requested: Option<&Requested>,
    writer: &str,
    bucket_owner: &str,
) -> S3Result<String> {
    let full_control = matches!(requested, Some(Requested::Canned(c)) if c == "bucket-owner-full-control");
    match ownership {
        Some(Ownership::BucketOwnerEnforced) => {
            if requested.is_some_and(|r| !r.fits_acls_disabled()) {
                return Err(acls_disabled());
            }
            Ok(bucket_owner.to_owned())
        }
        Some(Ownership::BucketOwnerPreferred) if full_control => Ok(bucket_owner.to_owned()),
        _ => Ok(writer.to_owned()),
    }
}

impl Gateway {
    fn accounts(&self) -> S3Result<&crate::identity::Accounts> {
        self.accounts.as_deref().ok_or_else(|| s3_error!(ServiceUnavailable, "No identity service is configured."))
    }

    /// The account's name, shown as `DisplayName` (its id when it has none).
    async fn display_name(&self, id: &str) -> S3Result<String> {
        let Some(accounts) = self.accounts.as_deref() else { return Ok(id.to_owned()) };
        Ok(accounts.name(id).await.map_err(|e| iam_unavailable(&e))?.map_or_else(|| id.to_owned(), |n| (*n).clone()))
    }

    /// An account as S3 answers an `Owner`: its id and name.
    pub(crate) async fn owner_dto(&self, account: &str) -> S3Result<Owner> {
        Ok(Owner { id: Some(account.to_owned()), display_name: Some(self.display_name(account).await?) })
    }

    /// The owner of the request's bucket (as access control saw it) as an `Owner`; the
    /// configured owner when there is none (a gateway without access control).
    pub(crate) async fn bucket_owner_dto(&self, extensions: &http::Extensions) -> S3Result<Owner> {
        match extensions.get::<crate::access::Authorized>().and_then(|a| a.bucket.as_ref()) {
            Some(b) => self.owner_dto(&b.owner).await,
            None => Ok(self.owner()),
        }
    }

    /// The ACL a request asks for, with every grantee resolved: e-mail addresses to their
    /// account (400 UnresolvableGrantByEmailAddress / AmbiguousGrantByEmailAddress), canonical
    /// ids checked to name an account (400 InvalidArgument), and an `Owner` in the body
    /// checked to be the resource's owner.
    pub(crate) async fn resolve_acl(
        &self,
        requested: Requested,
        owner: &str,
        bucket_owner: &str,
        for_bucket: bool,
    ) -> S3Result<Acl> {
        let (named_owner, named) = match requested {
            Requested::Canned(name) => return Ok(acl::canned(&name, owner, bucket_owner, for_bucket)?),
            Requested::Grants { owner, grants } => (owner, grants),
        };
        if named_owner.is_some_and(|o| o != owner) {
            return Err(AclError::InvalidArgument("Invalid id: the Owner is not the resource's owner".into()).into());
        }
        let mut grants = Vec::with_capacity(named.len());
        for g in named {
            let grantee = match g.grantee {
                Named::Group(group) => Grantee::Group(group),
                Named::Id(id) => {
                    let known = self.accounts()?.name(&id).await.map_err(|e| iam_unavailable(&e))?.is_some();
                    if !known {
                        return Err(AclError::InvalidArgument(format!("Invalid id: {id}")).into());
                    }
                    Grantee::User(id)
                }
                Named::Email(email) => {
                    match self.accounts()?.by_email(&email).await.map_err(|e| iam_unavailable(&e))? {
                        EmailLookup::Account(id) => Grantee::User(id),
                        EmailLookup::Unknown => return Err(AclError::UnresolvableEmail.into()),
                        EmailLookup::Ambiguous => {
                            return Err(s3_error!(
                                AmbiguousGrantByEmailAddress,
                                "The e-mail address you provided is associated with more than one account."
                            ));
                        }
                    }
                }
            };
            let grant = acl::Grant { grantee, permission: g.permission };
            if !grants.contains(&grant) {
                grants.push(grant);
            }
        }
        Ok(Acl { owner: owner.to_owned(), grants })
    }

    /// An ACL as S3 answers it: the owner and the grants, accounts with their names.
    pub(crate) async fn acl_output(&self, acl: &Acl) -> S3Result<(Owner, Vec<Grant>)> {
        let owner = Owner { id: Some(acl.owner.clone()), display_name: Some(self.display_name(&acl.owner).await?) };
        let mut grants = Vec::with_capacity(acl.grants.len());
        // Group grants first, then accounts' (each in their stored order), as RGW lists them.
        let ordered = acl
            .grants
            .iter()
            .filter(|g| matches!(g.grantee, Grantee::Group(_)))
            .chain(acl.grants.iter().filter(|g| matches!(g.grantee, Grantee::User(_))));
        for g in ordered {
            let grantee = match &g.grantee {
                Grantee::User(id) => s3s::dto::Grantee {
                    display_name: Some(self.display_name(id).await?),
                    email_address: None,
                    id: Some(id.clone()),
                    type_: Type::from_static(Type::CANONICAL_USER),
                    uri: None,
                },
                Grantee::Group(group) => s3s::dto::Grantee {
                    display_name: None,
                    email_address: None,
                    id: None,
                    type_: Type::from_static(Type::GROUP),
                    uri: Some(group.uri().to_owned()),
                },
            };
            grants.push(Grant {
                grantee: Some(grantee),
                permission: Some(Permission::from(g.permission.as_str().to_owned())),
            });
        }
        Ok((owner, grants))
    }

    /// The ACL of a Put…Acl request: its body or its headers (not both, not neither).
    pub(crate) fn requested_acl(headers: &http::HeaderMap, body: Option<&AccessControlPolicy>) -> S3Result<Requested> {
        let from_headers = acl::from_headers(headers)?;
        match (body, from_headers) {
            (Some(_), Some(_)) => {
                Err(s3_error!(UnexpectedContent, "This request does not support content together with ACL headers"))
            }
            (Some(policy), None) => Ok(acl::from_policy(policy)?),
            (None, Some(r)) => Ok(r),
            (None, None) => {
                Err(s3_error!(MissingSecurityHeader, "Your request was missing a required header: x-amz-acl"))
            }
        }
    }

    fn config_event(
        &self,
        req_ext: &http::Extensions,
        headers: &http::HeaderMap,
        access_key: Option<&str>,
        bucket: &str,
        config: &str,
        status: u16,
    ) -> Vec<cloudstore_store_api::OutboxEvent> {
        let actor = crate::events::Actor::of(req_ext, headers, access_key);
        self.outbox(|| {
            let mut e = actor.event(EventType::BucketConfigChanged, bucket, None);
            e.status = Some(status);
            e.detail.insert("config".into(), config.into());
            e
        })
    }

    #[tracing::instrument(level = "debug", skip_all, fields(op = "GetBucketAcl", bucket = %req.input.bucket))]
    pub(crate) async fn op_get_bucket_acl(
        &self,
        req: S3Request<GetBucketAclInput>,
    ) -> S3Result<S3Response<GetBucketAclOutput>> {
        let b = self.bucket(&req.input.bucket).await?;
        let owner = legacy_owner(b.owner.clone());
        let acl = Acl::from_stored(&owner, b.acl.as_deref());
        let (owner, grants) = self.acl_output(&acl).await?;
        Ok(S3Response::new(GetBucketAclOutput { grants: Some(grants), owner: Some(owner) }))
    }

    #[tracing::instrument(level = "debug", skip_all, fields(op = "PutBucketAcl", bucket = %req.input.bucket))]
    pub(crate) async fn op_put_bucket_acl(
        &self,
        req: S3Request<PutBucketAclInput>,
    ) -> S3Result<S3Response<PutBucketAclOutput>> {
        let b = self.bucket(&req.input.bucket).await?;
        let requested = Self::requested_acl(&req.headers, req.input.access_control_policy.as_ref())?;
        if requested.is_public() && self.effective_block(&b).await?.block_public_acls {
            return Err(public_acl_blocked());
        }
        if !Ownership::acls_enabled(Ownership::from_stored(b.object_ownership.as_deref())) {
            // The owner's full control, the only ACL such a bucket has, may be put again.
            return if requested.fits_acls_disabled() {
                Ok(S3Response::new(PutBucketAclOutput {}))
            } else {
                Err(acls_disabled())
            };
        }
        let owner = legacy_owner(b.owner.clone());
        let acl = self.resolve_acl(requested, &owner, &owner, true).await?;
        let json = (!acl.is_private_of(&owner)).then(|| acl.to_json());
        let events = self.config_event(
            &req.extensions,
            &req.headers,
            req.credentials.as_ref().map(|c| c.access_key.as_str()),
            &b.name,
            "acl",
            200,
        );
        let done = self.meta.set_bucket_config(&b.name, BucketConfig::Acl, json.as_deref(), &events).await.s3();
        self.bucket_changed(&b.name);
        done?;
        self.committed(&events);
        Ok(S3Response::new(PutBucketAclOutput {}))
    }

    #[tracing::instrument(level = "debug", skip_all, fields(op = "PutBucketOwnershipControls", bucket = %req.input.bucket))]
    pub(crate) async fn op_put_bucket_ownership_controls(
        &self,
        req: S3Request<PutBucketOwnershipControlsInput>,
    ) -> S3Result<S3Response<PutBucketOwnershipControlsOutput>> {
        let b = self.bucket(&req.input.bucket).await?;
        let rules = &req.input.ownership_controls.rules;
        let [rule] = rules.as_slice() else {
            return Err(s3_error!(MalformedXML, "OwnershipControls must hold exactly one rule"));
        };
        let setting = Ownership::parse(rule.object_ownership.as_str())
            .ok_or_else(|| s3_error!(MalformedXML, "Invalid ObjectOwnership: {}", rule.object_ownership.as_str()))?;
        let owner = legacy_owner(b.owner.clone());
        if setting == Ownership::BucketOwnerEnforced
            && !Acl::from_stored(&owner, b.acl.as_deref()).is_private_of(&owner)
        {
            return Err(s3_error!(
                InvalidBucketAclWithObjectOwnership,
                "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting"
            ));
        }
        let events = self.config_event(
            &req.extensions,
            &req.headers,
            req.credentials.as_ref().map(|c| c.access_key.as_str()),
            &b.name,
            "ownership_controls",
            200,
        );
        let done = self
            .meta
            .set_bucket_config(&b.name, BucketConfig::ObjectOwnership, Some(setting.as_str()), &events)
            .await
            .s3();
        self.bucket_changed(&b.name);
        done?;
        self.committed(&events);
        Ok(S3Response::new(PutBucketOwnershipControlsOutput {}))
    }

    #[tracing::instrument(level = "debug", skip_all, fields(op = "GetBucketOwnershipControls", bucket = %req.input.bucket))]
    pub(crate) async fn op_get_bucket_ownership_controls(
        &self,
        req: S3Request<GetBucketOwnershipControlsInput>,
    ) -> S3Result<S3Response<GetBucketOwnershipControlsOutput>> {
        let b = self.bucket(&req.input.bucket).await?;
        let setting = Ownership::from_stored(b.object_ownership.as_deref())
            .ok_or_else(|| s3_error!(OwnershipControlsNotFoundError, "The bucket ownership controls were not found"))?;
        Ok(S3Response::new(GetBucketOwnershipControlsOutput {
            ownership_controls: Some(OwnershipControls {
                rules: vec![OwnershipControlsRule {
                    object_ownership: ObjectOwnership::from(setting.as_str().to_owned()),
                }],
            }),
        }))
    }

    #[tracing::instrument(level = "debug", skip_all, fields(op = "DeleteBucketOwnershipControls", bucket = %req.input.bucket))]
    pub(crate) async fn op_delete_bucket_ownership_controls(
        &self,
        req: S3Request<DeleteBucketOwnershipControlsInput>,
    ) -> S3Result<S3Response<DeleteBucketOwnershipControlsOutput>> {
        let b = self.bucket(&req.input.bucket).await?;
        let events = self.config_event(
            &req.extensions,
            &req.headers,
            req.credentials.as_ref().map(|c| c.access_key.as_str()),
            &b.name,
            "ownership_controls",
            204,
        );
        let done = self
            .meta
            .set_bucket_config(&b.name, BucketConfig::ObjectOwnership, Some(acl::NO_CONTROLS), &events)
            .await
            .s3();
        self.bucket_changed(&b.name);
        done?;
        self.committed(&events);
        Ok(S3Response::with_status(DeleteBucketOwnershipControlsOutput {}, http::StatusCode::NO_CONTENT))
    }
}

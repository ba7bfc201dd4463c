//! Authorization: the one table of the IAM action each S3 operation needs, and the access
//! check s3s runs before every operation. Deny by default: an unsigned request, an operation
//! missing from the table, or a principal without a grant is refused.

use std::sync::Arc;

use cloudstore_iam_api::{Principal, PrincipalKind};
use cloudstore_policy::{Authorization, AuthzInput, Context, Effect, PolicySource, Reason, Request};
use cloudstore_store_api::Tag;
use s3s::access::{S3Access, S3AccessContext};
use s3s::dto::{CopyObjectInput, CopySource, UploadPartCopyInput};
use s3s::path::S3Path;
use s3s::{S3Request, S3Result, s3_error};
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

use crate::acl::{self, Acl, Permission};
use crate::identity::{BucketCache, BucketInfo, EXISTING_OBJECT_TAG, Identity, KeyCache, REQUEST_OBJECT_TAG};
use crate::metrics::Metrics;
use crate::server::ClientAddr;
use crate::xml_body::XmlBodies;

/// The IAM action an S3 operation (s3s's operation name) needs. `None`: not allowed to anyone.
#[must_use]
pub fn required_action(op: &str) -> Option<&'static str> {
    Some(match op {
        "ListBuckets" => "s3:ListAllMyBuckets",
        "CreateBucket" => "s3:CreateBucket",
        "DeleteBucket" => "s3:DeleteBucket",
        "HeadBucket" | "ListObjects" | "ListObjectsV2" => "s3:ListBucket",
        "GetBucketLocation" => "s3:GetBucketLocation",
        "GetBucketVersioning" => "s3:GetBucketVersioning",
        "PutBucketVersioning" => "s3:PutBucketVersioning",
        "ListObjectVersions" => "s3:ListBucketVersions",
        "ListMultipartUploads" => "s3:ListBucketMultipartUploads",
        "GetObject" | "HeadObject" | "GetObjectTorrent" => "s3:GetObject",
        "GetObjectAttributes" => "s3:GetObjectAttributes",
        "PutObject"
        | "CopyObject"
        | "CreateMultipartUpload"
        | "UploadPart"
        | "UploadPartCopy"
        | "CompleteMultipartUpload" => "s3:PutObject",
        "DeleteObject" | "DeleteObjects" => "s3:DeleteObject",
        "AbortMultipartUpload" => "s3:AbortMultipartUpload",
        "PutBucketPolicy" => "s3:PutBucketPolicy",
        "PutBucketNotificationConfiguration" => "s3:PutBucketNotification",
        "GetBucketNotificationConfiguration" => "s3:GetBucketNotification",
        "GetBucketPolicy" => "s3:GetBucketPolicy",
        // As on AWS, deleting the configuration needs the permission to put it.
        "PutBucketCors" | "DeleteBucketCors" => "s3:PutBucketCORS",
        "GetBucketCors" => "s3:GetBucketCORS",
        "DeleteBucketPolicy" => "s3:DeleteBucketPolicy",
        "GetBucketPolicyStatus" => "s3:GetBucketPolicyStatus",
        "ListParts" => "s3:ListMultipartUploadParts",
        // Configurations not offered (yet): s3/unconfigured.rs.
        "GetBucketAccelerateConfiguration" => "s3:GetAccelerateConfiguration",
        "PutBucketAccelerateConfiguration" => "s3:PutAccelerateConfiguration",
        "GetBucketRequestPayment" => "s3:GetBucketRequestPayment",
        "PutBucketRequestPayment" => "s3:PutBucketRequestPayment",
        "GetBucketLogging" => "s3:GetBucketLogging",
        "PutBucketLogging" => "s3:PutBucketLogging",
        "GetBucketWebsite" => "s3:GetBucketWebsite",
        "PutBucketWebsite" => "s3:PutBucketWebsite",
        "DeleteBucketWebsite" => "s3:DeleteBucketWebsite",
        "GetBucketReplication" => "s3:GetReplicationConfiguration",
        "PutBucketReplication" | "DeleteBucketReplication" => "s3:PutReplicationConfiguration",
        "GetBucketEncryption" => "s3:GetEncryptionConfiguration",
        "PutBucketEncryption" | "DeleteBucketEncryption" => "s3:PutEncryptionConfiguration",
        "GetBucketLifecycleConfiguration" => "s3:GetLifecycleConfiguration",
        // As on AWS, deleting the rules needs the permission to put them.
        "PutBucketLifecycleConfiguration" | "DeleteBucketLifecycle" => "s3:PutLifecycleConfiguration",
        "GetBucketTagging" => "s3:GetBucketTagging",
        // As on AWS, deleting a bucket's tags needs the permission to put them.
        "PutBucketTagging" | "DeleteBucketTagging" => "s3:PutBucketTagging",
        "GetObjectTagging" => "s3:GetObjectTagging",
        "PutObjectTagging" => "s3:PutObjectTagging",
        "DeleteObjectTagging" => "s3:DeleteObjectTagging",
        "GetObjectLockConfiguration" => "s3:GetBucketObjectLockConfiguration",
        "PutObjectLockConfiguration" => "s3:PutBucketObjectLockConfiguration",
        "PutObjectRetention" => "s3:PutObjectRetention",
        "GetObjectRetention" => "s3:GetObjectRetention",
        "PutObjectLegalHold" => "s3:PutObjectLegalHold",
        "GetObjectLegalHold" => "s3:GetObjectLegalHold",
        "GetPublicAccessBlock" => "s3:GetBucketPublicAccessBlock",
        "PutPublicAccessBlock" | "DeletePublicAccessBlock" => "s3:PutBucketPublicAccessBlock",
        "GetBucketOwnershipControls" => "s3:GetBucketOwnershipControls",
        // As on AWS, deleting the controls needs the permission to put them.
        "PutBucketOwnershipControls" | "DeleteBucketOwnershipControls" => "s3:PutBucketOwnershipControls",
        "GetBucketAcl" => "s3:GetBucketAcl",
        "PutBucketAcl" => "s3:PutBucketAcl",
        "GetObjectAcl" => "s3:GetObjectAcl",
        "PutObjectAcl" => "s3:PutObjectAcl",
        "ListBucketAnalyticsConfigurations" | "GetBucketAnalyticsConfiguration" => "s3:GetAnalyticsConfiguration",
        "DeleteBucketAnalyticsConfiguration" => "s3:PutAnalyticsConfiguration",
        "ListBucketInventoryConfigurations" | "GetBucketInventoryConfiguration" => "s3:GetInventoryConfiguration",
        "DeleteBucketInventoryConfiguration" => "s3:PutInventoryConfiguration",
        "ListBucketMetricsConfigurations" | "GetBucketMetricsConfiguration" => "s3:GetMetricsConfiguration",
        "DeleteBucketMetricsConfiguration" => "s3:PutMetricsConfiguration",
        "ListBucketIntelligentTieringConfigurations" | "GetBucketIntelligentTieringConfiguration" => {
            "s3:GetIntelligentTieringConfiguration"
        }
        "DeleteBucketIntelligentTieringConfiguration" => "s3:PutIntelligentTieringConfiguration",
        _ => return None,
    })
}

/// The action an operation on one object version needs (a request with `versionId`), as AWS
/// names it: `s3:GetObjectVersion` for GetObject, `s3:DeleteObjectVersion` for DeleteObject...
#[must_use]
pub fn version_action(op: &str, action: &'static str) -> &'static str {
    match op {
        "GetObject" | "HeadObject" => "s3:GetObjectVersion",
        "DeleteObject" => "s3:DeleteObjectVersion",
        "GetObjectTagging" => "s3:GetObjectVersionTagging",
        "PutObjectTagging" => "s3:PutObjectVersionTagging",
        "DeleteObjectTagging" => "s3:DeleteObjectVersionTagging",
        "GetObjectAcl" => "s3:GetObjectVersionAcl",
        "PutObjectAcl" => "s3:PutObjectVersionAcl",
        "GetObjectAttributes" => "s3:GetObjectVersionAttributes",
        _ => action,
    }
}

/// Whether a query string names a `versionId`.
fn names_version(query: Option<&str>) -> bool {
    query.is_some_and(|q| q.split('&').any(|p| p == "versionId" || p.starts_with("versionId=")))
}

/// Why an operation missing from [`required_action`]'s table is refused (`501 NotImplemented`),
/// in the words its caller reads.
#[must_use]
pub fn not_implemented_reason(op: &str) -> &'static str {
    match op {
        o if o.contains("Analytics")
            || o.contains("Inventory")
            || o.contains("Metrics")
            || o.contains("IntelligentTiering") =>
        {
            "storage-class analytics, inventory reports, request metrics and Intelligent-Tiering are AWS \
             services cloudstore does not offer"
        }
        "RestoreObject" => "cloudstore has no archive storage classes to restore from",
        "SelectObjectContent" => "S3 Select is not offered (AWS has closed it to new customers)",
        "WriteGetObjectResponse" => "S3 Object Lambda is not offered",
        "CreateSession" | "ListDirectoryBuckets" => "directory buckets (S3 Express One Zone) are not offered",
        o if o.contains("MetadataTable") => "S3 Metadata tables are not offered",
        _ => "not supported",
    }
}

/// The ARN of a bucket, or of an object in it.
#[must_use]
pub fn resource_arn(bucket: Option<&str>, key: Option<&str>) -> String {
    match (bucket, key) {
        (Some(b), Some(k)) => format!("arn:aws:s3:::{b}/{k}"),
        (Some(b), None) => format!("arn:aws:s3:::{b}"),
        _ => "arn:aws:s3:::*".to_owned(),
    }
}

/// The authorization of a request, kept in its extensions for operations that decide more
/// (ListBuckets filters by owner, CreateBucket records the owner, DeleteObjects and
/// CopyObject check each key).
#[derive(Debug, Clone)]
pub struct Authorized {
    pub identity: Arc<Identity>,
    pub bucket: Option<Arc<BucketInfo>>,
    pub context: Arc<Context>,
}

impl Authorized {
    /// Whether the caller may perform `action` on `resource` in the request's bucket.
    #[must_use]
    pub fn allows(&self, action: &str, resource: &str) -> bool {
        decide(&self.identity, self.bucket.as_deref(), action, resource, &self.context).allowed
    }

    /// For a request whose tags are in its body (PutObjectTagging): when a policy reads
    /// `s3:RequestObjectTag/*`, decides `action` again with the tags in the context (the check
    /// before the body was read let the request through only as far as this).
    pub fn check_request_tags(&self, action: &str, bucket: &str, key: &str, tags: &[Tag]) -> S3Result<()> {
        if !policies_read(&self.identity, self.bucket.as_deref(), REQUEST_OBJECT_TAG) {
            return Ok(());
        }
        let context = with_request_tags((*self.context).clone(), tags);
        let resource = resource_arn(Some(bucket), Some(key));
        let why = decide(&self.identity, self.bucket.as_deref(), action, &resource, &context);
        if why.allowed { Ok(()) } else { Err(refuse(&self.identity, "PutObjectTagging", action, &resource, &why)) }
    }

    /// The platform admin.
    #[must_use]
    pub fn is_admin(&self) -> bool {
        self.identity.principal.kind == PrincipalKind::Admin
    }

    /// The caller's account.
    #[must_use]
    pub fn account_id(&self) -> &str {
        self.identity.account_id()
    }
}

/// Whose access control list holds the grant an action needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AclOn {
    Bucket,
    Object,
}

/// The ACL permission that grants an IAM action, as AWS maps them, and whether the bucket's or
/// the object's ACL holds it. `None`: no ACL grant gives this action (bucket configurations,
/// policies, ownership controls: the owner's account only, or a bucket policy).
#[must_use]
pub fn acl_permission(action: &str) -> Option<(AclOn, Permission)> {
    Some(match action {
        "s3:ListBucket" | "s3:ListBucketVersions" | "s3:ListBucketMultipartUploads" => {
            (AclOn::Bucket, Permission::Read)
        }
        "s3:PutObject" | "s3:DeleteObject" | "s3:AbortMultipartUpload" | "s3:ListMultipartUploadParts" => {
            (AclOn::Bucket, Permission::Write)
        }
        "s3:GetBucketAcl" => (AclOn::Bucket, Permission::ReadAcp),
        "s3:PutBucketAcl" => (AclOn::Bucket, Permission::WriteAcp),
        "s3:GetObject" | "s3:GetObjectAttributes" => (AclOn::Object, Permission::Read),
        "s3:GetObjectAcl" => (AclOn::Object, Permission::ReadAcp),
        "s3:PutObjectAcl" => (AclOn::Object, Permission::WriteAcp),
        _ => return None,
    })
}

/// Whether a grant of `acl` completes a request no policy allowed (`why`), as a bucket-policy
/// Allow naming the grantee would: an explicit Deny always wins; anonymous callers, account
/// roots and services need only the grant; a user or role session of another account also
/// needs its own identity policies to allow; one of the owning account is allowed by a group
/// grant (AllUsers, AuthenticatedUsers), while a grant to its account leaves the decision to
/// its identity policies, as AWS does. With IgnorePublicAcls, group grants count for nothing.
fn acl_grant_applies(
    identity: &Identity,
    bucket: &BucketInfo,
    acl: &Acl,
    wanted: Permission,
    why: &Authorization,
) -> bool {
    if why.allowed || why.reason == Reason::ExplicitDeny || !bucket.acls_enabled() {
        return false;
    }
    let p = &identity.principal;
    let anonymous = p.kind == PrincipalKind::Anonymous;
    let account = (!anonymous && !p.account_id.is_empty()).then_some(p.account_id.as_str());
    let caller = acl::Caller { account, authenticated: !anonymous };
    let Some(grant) = acl.allows(&caller, wanted, bucket.block.ignore_public_acls) else { return false };
    match p.kind {
        PrincipalKind::Anonymous | PrincipalKind::AccountRoot | PrincipalKind::Service | PrincipalKind::Admin => true,
        PrincipalKind::User | PrincipalKind::AssumedRole if p.account_id == bucket.owner => {
            matches!(grant.grantee, acl::Grantee::Group(_))
        }
        PrincipalKind::User | PrincipalKind::AssumedRole => why.reason == Reason::CrossAccountMissingResourceAllow,
    }
}

/// The authorization `why` (implicitly denied) turned into an allow by an ACL grant.
fn allowed_by_acl(why: Authorization, reason: Reason) -> Authorization {
    Authorization { allowed: true, decision: why.decision, reason }
}

/// Whether the object's ACL allows what policies and the bucket's ACL did not (`why`).
#[must_use]
pub fn decide_object_acl(
    identity: &Identity,
    bucket: &BucketInfo,
    object_acl: &Acl,
    action: &str,
    why: Authorization,
) -> Authorization {
    match acl_permission(action) {
        Some((AclOn::Object, wanted)) if acl_grant_applies(identity, bucket, object_acl, wanted, &why) => {
            allowed_by_acl(why, Reason::ObjectAclGrant)
        }
        _ => why,
    }
}

/// Runs the product's authorization rule (`cloudstore_policy::authorize`), then the bucket's
/// ACL (object ACLs: [`decide_object_acl`], where the object has been read).
#[must_use]
pub fn decide(
    identity: &Identity,
    bucket: Option<&BucketInfo>,
    action: &str,
    resource: &str,
    context: &Context,
) -> Authorization {
    let why = decide_policies(identity, bucket, action, resource, context);
    match (bucket, acl_permission(action)) {
        (Some(b), Some((AclOn::Bucket, wanted))) if acl_grant_applies(identity, b, &b.acl, wanted, &why) => {
            allowed_by_acl(why, Reason::BucketAclGrant)
        }
        _ => why,
    }
}

/// The policies' decision alone (`cloudstore_policy::authorize`).
fn decide_policies(
    identity: &Identity,
    bucket: Option<&BucketInfo>,
    action: &str,
    resource: &str,
    context: &Context,
) -> Authorization {
    let sources = identity.sources();
    let input = AuthzInput {
        request: Request { principal: &identity.principal, action, resource, context },
        identity_policies: &sources,
        resource_policy: bucket
            .and_then(|b| b.policy_for(&identity.principal))
            .map(|policy| PolicySource { label: "bucket-policy", policy }),
        resource_owner: bucket.map(|b| b.owner.as_str()),
    };
    cloudstore_policy::authorize(&input)
}

/// Whether any statement could allow `identity` some object-level action in `bucket`, by the
/// rules of `cloudstore_policy::authorize` with every Allow statement taken to match (its
/// action, resource and conditions unread). Anonymous callers are refused whole requests.
fn may_be_allowed(identity: &Identity, bucket: Option<&BucketInfo>) -> bool {
    let allows = |p: &cloudstore_policy::Policy| p.statements().iter().any(|s| s.effect() == Effect::Allow);
    let resource = bucket.and_then(|b| b.policy_for(&identity.principal)).is_some_and(allows);
    let own = identity.sources().iter().any(|s| allows(s.policy));
    let p = &identity.principal;
    let same_account = bucket.is_none_or(|b| !p.account_id.is_empty() && b.owner == p.account_id);
    match p.kind {
        PrincipalKind::Anonymous => false,
        PrincipalKind::Admin => true,
        PrincipalKind::AccountRoot if same_account => true,
        PrincipalKind::AccountRoot | PrincipalKind::Service => resource,
        _ if same_account => own || resource,
        _ => own && resource,
    }
}

fn anonymous() -> Arc<Identity> {
    Arc::new(Identity::without_secret(Principal::anonymous(), Vec::new()))
}

fn header<'a>(cx: &'a S3AccessContext<'_>, name: &str) -> Option<&'a str> {
    cx.headers().get(name).and_then(|v| v.to_str().ok())
}

fn query_param(uri: &http::Uri, name: &str) -> Option<String> {
    let q = uri.query()?;
    form_urlencoded::parse(q.as_bytes()).find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

/// The condition keys every S3 request has: time, transport, principal type, source address,
/// user agent and the canned ACL asked for (a header, or a POST form's `acl` field).
pub(crate) fn base_context(
    principal_kind: PrincipalKind,
    ip: Option<String>,
    user_agent: Option<&str>,
    acl: Option<&str>,
) -> Context {
    let now = time::OffsetDateTime::now_utc();
    let mut c = Context::new()
        .with("aws:CurrentTime", now.format(&time::format_description::well_known::Rfc3339).unwrap_or_default())
        .with("aws:EpochTime", now.unix_timestamp().to_string())
        .with("aws:SecureTransport", "false")
        .with(
            "aws:PrincipalType",
            match principal_kind {
                PrincipalKind::Anonymous => "Anonymous",
                PrincipalKind::AccountRoot | PrincipalKind::Admin => "Account",
                PrincipalKind::AssumedRole => "AssumedRole",
                _ => "User",
            },
        );
    if let Some(ip) = ip {
        c = c.with("aws:SourceIp", ip);
    }
    if let Some(ua) = user_agent {
        c = c.with("aws:UserAgent", ua.to_owned());
    }
    if let Some(acl) = acl {
        c = c.with("s3:x-amz-acl", acl.to_owned());
    }
    c
}

/// The condition context of an S3 request.
fn context(cx: &mut S3AccessContext<'_>, principal_kind: PrincipalKind) -> Context {
    let ip = cx.extensions_mut().get::<ClientAddr>().map(|a| a.0.ip().to_string());
    let mut c = base_context(principal_kind, ip, header(cx, "user-agent"), header(cx, "x-amz-acl"));
    // The grant headers as condition keys (`s3:x-amz-grant-full-control`, ...), as on AWS.
    for (name, _) in crate::acl::GRANT_HEADERS {
        if let Some(v) = header(cx, name) {
            c = c.with(&format!("s3:{name}"), v.to_owned());
        }
    }
    // The tags a write asks for (a malformed header is refused by the operation itself).
    if let Some(tags) = header(cx, "x-amz-tagging").and_then(|v| crate::s3::tagging::parse_header(v).ok()) {
        c = with_request_tags(c, &tags);
    }
    // Encryption conditions (ADR 0014), from the request's headers as AWS reads them.
    for name in [
        "x-amz-server-side-encryption",
        "x-amz-server-side-encryption-aws-kms-key-id",
        "x-amz-server-side-encryption-customer-algorithm",
    ] {
        if let Some(v) = header(cx, name) {
            c = c.with(&format!("s3:{name}"), v.to_owned());
        }
    }
    // The page a browser came from, and a copy's source and directives, as AWS offers them.
    if let Some(v) = header(cx, "referer") {
        c = c.with("aws:Referer", v.to_owned());
    }
    if let Some(v) = header(cx, "x-amz-copy-source") {
        c = c.with("s3:x-amz-copy-source", copy_source_key(v));
    }
    for name in ["x-amz-metadata-directive", "x-amz-tagging-directive"] {
        if let Some(v) = header(cx, name) {
            c = c.with(&format!("s3:{name}"), v.to_owned());
        }
    }
    for (param, key) in [("prefix", "s3:prefix"), ("delimiter", "s3:delimiter"), ("max-keys", "s3:max-keys")] {
        if let Some(v) = query_param(cx.uri(), param) {
            c = c.with(key, v);
        }
    }
    c
}

/// `s3:x-amz-copy-source` as policies compare it: `bucket/key`, decoded, without a leading
/// `/` (the header may carry either form, and a `?versionId=`, which stays).
fn copy_source_key(header: &str) -> String {
    let decoded = urlencoding::decode(header).map_or_else(|_| header.to_owned(), std::borrow::Cow::into_owned);
    decoded.strip_prefix('/').map(str::to_owned).unwrap_or(decoded)
}

/// `s3:RequestObjectTag/<key>` for each tag and `s3:RequestObjectTagKeys` (every key).
pub(crate) fn with_request_tags(mut c: Context, tags: &[Tag]) -> Context {
    for t in tags {
        c = c.with(&format!("s3:RequestObjectTag/{}", t.key), t.value.clone());
    }
    c.with_many("s3:RequestObjectTagKeys", tags.iter().map(|t| t.key.clone()))
}

/// Operations on an existing object whose requests carry its tags as
/// `s3:ExistingObjectTag/<key>` (AWS lists these object operations for the key).
fn reads_existing_tags(op: &str) -> bool {
    matches!(
        op,
        "GetObject"
            | "HeadObject"
            | "GetObjectAttributes"
            | "GetObjectTorrent"
            | "GetObjectTagging"
            | "PutObjectTagging"
            | "DeleteObjectTagging"
            | "GetObjectAcl"
            | "PutObjectAcl"
    )
}

/// Whether a policy that applies to `identity` in `bucket` reads a condition key starting with
/// `prefix` (so the request's context must carry it).
fn policies_read(identity: &Identity, bucket: Option<&BucketInfo>, prefix: &str) -> bool {
    identity.policies_read(prefix)
        || bucket.and_then(|b| b.policy_for(&identity.principal)).is_some_and(|p| p.reads_condition_key(prefix))
}

/// Access control by IAM policy: identity policies, bucket policies and bucket ownership
/// (`cloudstore_policy::authorize`), for every operation in [`required_action`]; operations
/// missing from the table are refused (we don't implement them).
#[derive(Debug, Clone)]
pub struct PolicyAccess {
    keys: Arc<KeyCache>,
    buckets: Arc<BucketCache>,
    metrics: Arc<Metrics>,
    xml_bodies: XmlBodies,
    /// Where denials are recorded as `access_denied` events (ADR 0006); `None`: events off.
    events: Option<crate::events::Events>,
}

impl PolicyAccess {
    /// Checks access and counts each operation in `metrics`.
    #[must_use]
    pub fn new(keys: Arc<KeyCache>, buckets: Arc<BucketCache>, metrics: Arc<Metrics>) -> Self {
        Self { keys, buckets, metrics, xml_bodies: XmlBodies::default(), events: None }
    }

    /// Records every refusal as an `access_denied` event.
    #[must_use]
    pub fn with_events(mut self, events: crate::events::Events) -> Self {
        self.events = Some(events);
        self
    }

    /// Records a refusal (when events are on): the caller, what it asked, and why not.
    fn record_denial(&self, d: &Denial<'_>, identity: &Identity, why: &Authorization) {
        let Some(events) = &self.events else { return };
        let actor = crate::events::Actor::of(d.extensions, d.headers, d.access_key)
            .with_principal(&identity.principal, d.bucket_owner);
        let mut e = actor.event(cloudstore_events::EventType::AccessDenied, d.bucket.unwrap_or(""), d.key);
        e.status = Some(403);
        e.detail.insert("operation".into(), d.op.to_owned());
        e.detail.insert("action".into(), d.action.to_owned());
        e.detail.insert("resource".into(), d.resource.to_owned());
        e.detail.insert("reason".into(), why.reason.to_string());
        if let Some(owner) = d.bucket_owner {
            e.detail.insert("bucket_owner".into(), owner.to_owned());
        }
        events.record(&e);
    }

    async fn identity(&self, cx: &S3AccessContext<'_>) -> S3Result<Arc<Identity>> {
        let Some(creds) = cx.credentials() else { return Ok(anonymous()) };
        let identity = match self.keys.resolve(&creds.access_key).await {
            Ok(Some(i)) => i,
            Ok(None) => {
                return Err(s3_error!(
                    InvalidAccessKeyId,
                    "The AWS Access Key Id you provided does not exist in our records."
                ));
            }
            Err(e) => {
                tracing::warn!(error = %e, "key lookup failed");
                return Err(s3_error!(ServiceUnavailable, "The identity service is unavailable; please retry."));
            }
        };
        if let Some(expected) = &identity.session_token_hash {
            let presented = header(cx, "x-amz-security-token")
                .map(str::to_owned)
                .or_else(|| query_param(cx.uri(), "X-Amz-Security-Token"))
                .ok_or_else(|| s3_error!(InvalidToken, "The provided token is malformed or otherwise invalid."))?;
            let hash = hex::encode(Sha256::digest(presented.as_bytes()));
            if !bool::from(hash.as_bytes().ct_eq(expected.as_bytes())) {
                return Err(s3_error!(InvalidToken, "The provided token is malformed or otherwise invalid."));
            }
        }
        if identity.expires_at.is_some_and(|t| t <= time::OffsetDateTime::now_utc().unix_timestamp()) {
            return Err(s3_error!(ExpiredToken, "The provided token has expired."));
        }
        crate::signed::check_not_revoked(cx.uri().query(), identity.presigned_not_before)?;
        Ok(identity)
    }

    async fn bucket(&self, name: &str) -> S3Result<Option<Arc<BucketInfo>>> {
        self.buckets.get(name).await.map_err(crate::error::store_error)
    }

    #[allow(clippy::too_many_arguments)]
    async fn decide_with_object(
        &self,
        identity: &Identity,
        info: Option<&BucketInfo>,
        bucket: Option<&str>,
        key: Option<&str>,
        action: &str,
        resource: &str,
        context: &Context,
    ) -> S3Result<Authorization> {
        let object = (bucket, key);
        let (why, _) = decide_with_object(self.buckets.meta(), identity, info, object, action, resource, context)
            .await
            .map_err(crate::error::store_error)?;
        Ok(why)
    }
}

/// [`decide`], and when policies and the bucket's ACL leave an object action implicitly
/// denied in a bucket with ACLs, the object's ACL (read here: the one extra metadata read is
/// paid by callers no policy admits, never by the owner's requests). Also answers the object's
/// ACL when it was read.
///
/// # Errors
/// The metadata store's, reading the object.
#[allow(clippy::too_many_arguments)]
pub async fn decide_with_object(
    meta: &Arc<dyn cloudstore_store_api::MetadataStore>,
    identity: &Identity,
    info: Option<&BucketInfo>,
    (bucket, key): (Option<&str>, Option<&str>),
    action: &str,
    resource: &str,
    context: &Context,
) -> Result<(Authorization, Option<Acl>), cloudstore_store_api::StoreError> {
    let why = decide(identity, info, action, resource, context);
    let (Some(info), Some(bucket), Some(key)) = (info, bucket, key) else { return Ok((why, None)) };
    if why.allowed
        || why.reason == Reason::ExplicitDeny
        || !info.acls_enabled()
        || !matches!(acl_permission(action), Some((AclOn::Object, _)))
    {
        return Ok((why, None));
    }
    let Some(object) = meta.get_object(bucket, key).await? else {
        // No such object: a caller who may list the bucket learns so (404 NoSuchKey from the
        // operation), as on AWS; anyone else is refused.
        if action == "s3:GetObject" {
            // Listing the key itself: `s3:prefix` is the key, as a ListObjects for it would be.
            let context = context.clone().with("s3:prefix", key.to_owned());
            let list = decide(identity, Some(info), "s3:ListBucket", &resource_arn(Some(bucket), None), &context);
            if list.allowed {
                return Ok((list, None));
            }
        }
        return Ok((why, None));
    };
    let object_acl = acl::object_acl(&object, &info.owner);
    Ok((decide_object_acl(identity, info, &object_acl, action, why), Some(object_acl)))
}

/// What a refused request asked for, and where its actor fields come from.
struct Denial<'a> {
    op: &'a str,
    action: &'a str,
    resource: &'a str,
    bucket: Option<&'a str>,
    key: Option<&'a str>,
    bucket_owner: Option<&'a str>,
    extensions: &'a http::Extensions,
    headers: &'a http::HeaderMap,
    access_key: Option<&'a str>,
}

fn refuse(identity: &Identity, op: &str, action: &str, resource: &str, why: &Authorization) -> s3s::S3Error {
    tracing::info!(
        op,
        action,
        resource,
        principal = %identity.principal.arn,
        reason = %why.reason,
        "access denied"
    );
    s3_error!(AccessDenied, "Access Denied")
}

impl PolicyAccess {
    /// Copies also read their source: `s3:GetObject` on the source object as s3s parsed it
    /// (the very value the operation will use), with the source bucket's owner and policy.
    async fn check_copy_source(&self, extensions: &http::Extensions, source: &CopySource) -> S3Result<()> {
        let Some(who) = extensions.get::<Authorized>() else {
            return Err(s3_error!(AccessDenied, "Access Denied"));
        };
        let CopySource::Bucket { bucket, key, .. } = source else {
            return Err(s3_error!(NotImplemented, "Access point copy sources are not supported"));
        };
        let Some(info) = self.bucket(bucket).await? else {
            return Err(s3_error!(NoSuchBucket, "The specified bucket does not exist"));
        };
        let resource = resource_arn(Some(bucket), Some(key));
        let why = self
            .decide_with_object(
                &who.identity,
                Some(&info),
                Some(bucket),
                Some(key),
                "s3:GetObject",
                &resource,
                &who.context,
            )
            .await?;
        if why.allowed {
            return Ok(());
        }
        self.record_denial(
            &Denial {
                op: "CopySource",
                action: "s3:GetObject",
                resource: &resource,
                bucket: Some(bucket),
                key: Some(key),
                bucket_owner: Some(&info.owner),
                extensions,
                headers: &http::HeaderMap::new(),
                access_key: None,
            },
            &who.identity,
            &why,
        );
        Err(refuse(&who.identity, "CopySource", "s3:GetObject", &resource, &why))
    }
}

#[async_trait::async_trait]
impl S3Access for PolicyAccess {
    async fn copy_object(&self, req: &mut S3Request<CopyObjectInput>) -> S3Result<()> {
        self.check_copy_source(&req.extensions, &req.input.copy_source).await
    }

    async fn upload_part_copy(&self, req: &mut S3Request<UploadPartCopyInput>) -> S3Result<()> {
        self.check_copy_source(&req.extensions, &req.input.copy_source).await
    }

    async fn check(&self, cx: &mut S3AccessContext<'_>) -> S3Result<()> {
        let op_name = cx.s3_op().name().to_owned();
        let op = op_name.as_str();
        self.metrics.count_op(op);
        if cx.credentials().is_some() {
            let now = time::OffsetDateTime::now_utc();
            if cx.extensions_mut().get::<crate::signed::DerivedAmzDate>().is_some() {
                // The x-amz-date derived from the signed Date header is ours, not the client's.
                let mut headers = cx.headers().clone();
                headers.remove("x-amz-date");
                crate::signed::check(cx.uri().query(), &headers, now)?;
            } else {
                crate::signed::check(cx.uri().query(), cx.headers(), now)?;
            }
        }
        let Some(action) = required_action(op) else {
            if cx.credentials().is_none() {
                return Err(s3_error!(AccessDenied, "Access Denied"));
            }
            return Err(s3_error!(NotImplemented, "{op} is not implemented: {}", not_implemented_reason(op)));
        };
        let action = if names_version(cx.uri().query()) { version_action(op, action) } else { action };
        let identity = self.identity(cx).await?;
        let (bucket, key) = match cx.s3_path() {
            S3Path::Root => (None, None),
            S3Path::Bucket { bucket } => (Some(bucket.to_string()), None),
            S3Path::Object { bucket, key } => (Some(bucket.to_string()), Some(key.to_string())),
        };
        // A key with C1 control characters (U+0080..U+009F) is not one AWS parses: 400
        // InvalidURI for every operation, so no such key is ever stored or looked up.
        if key.as_deref().is_some_and(|k| k.chars().any(|c| ('\u{80}'..='\u{9f}').contains(&c))) {
            return Err(s3_error!(InvalidURI, "Couldn't parse the specified URI."));
        }
        // Object-level actions on the bucket path (DeleteObjects) are checked per key later.
        let resource = match op {
            "DeleteObjects" => resource_arn(bucket.as_deref(), Some("*")),
            _ => resource_arn(bucket.as_deref(), key.as_deref()),
        };
        // Ownership-sensitive operations read the bucket afresh, never from the cache.
        if let Some(b) = &bucket
            && matches!(op, "PutBucketPolicy" | "GetBucketPolicy" | "DeleteBucketPolicy" | "DeleteBucket")
        {
            self.buckets.invalidate(b);
        }
        let info = match (&bucket, op) {
            (Some(b), op) if op != "CreateBucket" => match self.bucket(b).await? {
                Some(info) => Some(info),
                // Never authorize against a bucket we could not see: callers learn that it does
                // not exist, anonymous ones included, as on AWS (bucket names are one public
                // namespace: CreateBucket tells anyone whether a name is taken).
                None => return Err(s3_error!(NoSuchBucket, "The specified bucket does not exist")),
            },
            _ => None,
        };
        // `x-amz-expected-bucket-owner`: a bucket of another account is refused, as on AWS.
        if let (Some(info), Some(expected)) = (&info, header(cx, "x-amz-expected-bucket-owner"))
            && info.owner != expected
        {
            return Err(s3_error!(AccessDenied, "Access Denied"));
        }
        let mut context = context(cx, identity.principal.kind);
        // The object's tags, read only when a policy that applies reads them.
        if let (Some(b), Some(k)) = (&bucket, &key)
            && reads_existing_tags(op)
            && policies_read(&identity, info.as_deref(), EXISTING_OBJECT_TAG)
            && let Some(obj) = self.buckets.meta().get_object(b, k).await.map_err(crate::error::store_error)?
        {
            for t in &obj.attributes.tags {
                context.insert(&format!("s3:ExistingObjectTag/{}", t.key), t.value.clone());
            }
        }
        let why = self
            .decide_with_object(
                &identity,
                info.as_deref(),
                bucket.as_deref(),
                key.as_deref(),
                action,
                &resource,
                &context,
            )
            .await?;
        // DeleteObjects decides per key once s3s has read the body, and PutObjectTagging once
        // it has read the tags when a policy reads them: refuse now a caller no policy
        // statement could allow, so a stranger's body is never read.
        let decided_later = op == "DeleteObjects"
            || (op == "PutObjectTagging" && policies_read(&identity, info.as_deref(), REQUEST_OBJECT_TAG));
        let permitted = why.allowed || (decided_later && may_be_allowed(&identity, info.as_deref()));
        let access_key = cx.credentials().map(|c| c.access_key.clone());
        let owner = info.as_ref().map(|b| b.owner.clone());
        let denied = |cx: &mut S3AccessContext<'_>, action: &str, why: &Authorization| {
            let headers = cx.headers().clone();
            let d = Denial {
                op,
                action,
                resource: &resource,
                bucket: bucket.as_deref(),
                key: key.as_deref(),
                bucket_owner: owner.as_deref(),
                extensions: cx.extensions_mut(),
                headers: &headers,
                access_key: access_key.as_deref(),
            };
            self.record_denial(&d, &identity, why);
            refuse(&identity, op, action, &resource, why)
        };
        if !permitted {
            return Err(denied(cx, action, &why));
        }
        // GetObjectAttributes reveals the object's checksums, ETag and size: as on AWS it also
        // needs s3:GetObject, so a deny on reading an object covers it too.
        if op == "GetObjectAttributes" {
            let read = self
                .decide_with_object(
                    &identity,
                    info.as_deref(),
                    bucket.as_deref(),
                    key.as_deref(),
                    "s3:GetObject",
                    &resource,
                    &context,
                )
                .await?;
            if !read.allowed {
                return Err(denied(cx, "s3:GetObject", &read));
            }
        }
        // As on AWS, only principals of the owning account manage a bucket's policy, whatever
        // the policy itself says.
        if matches!(op, "PutBucketPolicy" | "GetBucketPolicy" | "DeleteBucketPolicy")
            && identity.principal.kind != PrincipalKind::Admin
            && info.as_ref().is_some_and(|b| b.owner != identity.principal.account_id)
        {
            return Err(denied(cx, action, &why));
        }
        // Authorized: only now may s3s read a body it reads whole.
        if let Some(held) = self.xml_bodies.reserve(op, cx.headers(), identity.account_id())? {
            cx.extensions_mut().insert(held);
        }
        cx.extensions_mut().insert(Authorized { identity, bucket: info, context: Arc::new(context) });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_sources_compare_as_bucket_slash_key() {
        assert_eq!(copy_source_key("src/public/foo"), "src/public/foo");
        assert_eq!(copy_source_key("/src/public/f%C3%BC%20o"), "src/public/fü o");
        assert_eq!(copy_source_key("src/k?versionId=3"), "src/k?versionId=3");
        // Undecodable stays as sent.
        assert_eq!(copy_source_key("src/%FF"), "src/%FF");
    }

    #[test]
    fn every_implemented_operation_has_an_action() {
        for op in [
            "ListBuckets",
            "CreateBucket",
            "DeleteBucket",
            "HeadBucket",
            "GetBucketLocation",
            "ListObjects",
            "ListObjectsV2",
            "ListObjectVersions",
            "ListMultipartUploads",
            "GetObject",
            "HeadObject",
            "GetObjectAttributes",
            "GetObjectTorrent",
            "PutObject",
            "CopyObject",
            "CreateMultipartUpload",
            "UploadPart",
            "UploadPartCopy",
            "CompleteMultipartUpload",
            "DeleteObject",
            "DeleteObjects",
            "AbortMultipartUpload",
            "ListParts",
            "GetBucketVersioning",
            "PutBucketVersioning",
            "ListObjectVersions",
            "PutBucketPolicy",
            "GetBucketPolicy",
            "DeleteBucketPolicy",
            "GetBucketPolicyStatus",
            "GetBucketAccelerateConfiguration",
            "PutBucketAccelerateConfiguration",
            "GetBucketRequestPayment",
            "PutBucketRequestPayment",
            "GetBucketLogging",
            "PutBucketLogging",
            "GetBucketWebsite",
            "PutBucketWebsite",
            "DeleteBucketWebsite",
            "GetBucketReplication",
            "PutBucketReplication",
            "DeleteBucketReplication",
            "GetBucketEncryption",
            "DeleteBucketEncryption",
            "GetBucketLifecycleConfiguration",
            "PutBucketLifecycleConfiguration",
            "DeleteBucketLifecycle",
            "GetBucketTagging",
            "PutBucketTagging",
            "DeleteBucketTagging",
            "GetObjectTagging",
            "PutObjectTagging",
            "DeleteObjectTagging",
            "GetObjectLockConfiguration",
            "GetPublicAccessBlock",
            "DeletePublicAccessBlock",
            "PutPublicAccessBlock",
            "GetBucketOwnershipControls",
            "ListBucketAnalyticsConfigurations",
            "GetBucketAnalyticsConfiguration",
            "DeleteBucketAnalyticsConfiguration",
            "ListBucketInventoryConfigurations",
            "GetBucketInventoryConfiguration",
            "DeleteBucketInventoryConfiguration",
            "ListBucketMetricsConfigurations",
            "GetBucketMetricsConfiguration",
            "DeleteBucketMetricsConfiguration",
            "ListBucketIntelligentTieringConfigurations",
            "GetBucketIntelligentTieringConfiguration",
            "DeleteBucketIntelligentTieringConfiguration",
            "PutBucketCors",
            "GetBucketCors",
            "DeleteBucketCors",
        ] {
            assert!(required_action(op).is_some(), "{op} has no action");
        }
        assert_eq!(required_action("PutObjectRetention"), Some("s3:PutObjectRetention"));
        assert_eq!(required_action("PutObjectLockConfiguration"), Some("s3:PutBucketObjectLockConfiguration"));
        assert_eq!(required_action("GetObjectLegalHold"), Some("s3:GetObjectLegalHold"));
        assert_eq!(version_action("GetObject", "s3:GetObject"), "s3:GetObjectVersion");
        assert_eq!(version_action("DeleteObject", "s3:DeleteObject"), "s3:DeleteObjectVersion");
        assert_eq!(version_action("PutObject", "s3:PutObject"), "s3:PutObject");
        assert!(names_version(Some("versionId=abc")));
        assert!(names_version(Some("x=1&versionId=")));
        assert!(!names_version(Some("versionIdx=1")));
        assert!(!names_version(None));
    }
}

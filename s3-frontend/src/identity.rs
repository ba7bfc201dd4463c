//! Who is calling, cached: access key → [`Identity`] (secret, principal, parsed policies) from
//! the IAM service, and bucket → owner and parsed bucket policy from the metadata store. Both
//! caches are short-lived (a disabled key or a changed policy is seen within the TTL; this
//! process's own bucket-policy writes invalidate at once), bounded, and shared by `S3Auth`,
//! `S3Access` and the IAM/STS/admin routes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cloudstore_iam_api::{ADMIN_ACCOUNT_ID, IamApi, IamApiError, KeyGrant, NamedPolicy, Principal, PrincipalKind};
use cloudstore_policy::{Policy, PolicyKind, PolicySource};
use cloudstore_store_api::{AccountConfig, MetadataStore, StoreError};

use crate::auth::RootCredentials;

/// Most entries a cache holds before it is emptied (a crude, cheap bound).
const MAX_ENTRIES: usize = 16_384;

/// An authenticated principal and what it may do.
pub struct Identity {
    /// The secret that signs for the access key. Never logged.
    pub secret: String,
    pub principal: Principal,
    /// Identity policies, parsed once per cache fill (unparseable ones are dropped: they grant
    /// nothing).
    pub policies: Vec<(String, Policy)>,
    /// The same policies as stored (for handing on to the IAM service).
    pub named: Vec<NamedPolicy>,
    /// Temporary credentials: hex SHA-256 of the session token requests must carry.
    pub session_token_hash: Option<String>,
    /// Temporary credentials: unix seconds.
    pub expires_at: Option<i64>,
    /// Presigned URLs signed at or before this time (unix seconds) are refused.
    pub presigned_not_before: Option<i64>,
    /// Which object-tag condition keys the identity policies read, worked out once when the
    /// policies are parsed (access control asks on every GET, HEAD and PUT).
    reads_tags: TagConditionReads,
}

/// Whether any of an identity's policies reads a condition key of each object-tag family.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct TagConditionReads {
    existing: bool,
    request: bool,
}

/// The condition-key prefix of `s3:ExistingObjectTag/<key>`.
pub const EXISTING_OBJECT_TAG: &str = "s3:ExistingObjectTag/";
/// The condition-key prefix of `s3:RequestObjectTag/<key>` and `s3:RequestObjectTagKeys`.
pub const REQUEST_OBJECT_TAG: &str = "s3:RequestObjectTag";

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity")
            .field("principal", &self.principal.arn)
            .field("policies", &self.policies.len())
            .finish_non_exhaustive()
    }
}

impl Identity {
    /// A principal with its stored policies (parsed here) and no credentials: anonymous
    /// callers, explanations, and the start of every other identity.
    pub fn without_secret(principal: Principal, named: Vec<NamedPolicy>) -> Self {
        let policies = NamedPolicy::parse_all(&named);
        let reads = |prefix: &str| policies.iter().any(|(_, p)| p.reads_condition_key(prefix));
        let reads_tags = TagConditionReads { existing: reads(EXISTING_OBJECT_TAG), request: reads(REQUEST_OBJECT_TAG) };
        Self {
            secret: String::new(),
            principal,
            policies,
            named,
            session_token_hash: None,
            expires_at: None,
            presigned_not_before: None,
            reads_tags,
        }
    }

    /// Whether one of the identity policies reads a condition key starting with `prefix`
    /// (case-insensitively). The two object-tag prefixes access control asks about on every
    /// object request are answered from what was worked out with the policies; any other
    /// prefix walks the policies.
    pub fn policies_read(&self, prefix: &str) -> bool {
        match prefix {
            EXISTING_OBJECT_TAG => self.reads_tags.existing,
            REQUEST_OBJECT_TAG => self.reads_tags.request,
            _ => self.policies.iter().any(|(_, p)| p.reads_condition_key(prefix)),
        }
    }

    fn with_secret(mut self, secret: String) -> Self {
        self.secret = secret;
        self
    }

    /// The policies as evaluation sources.
    pub fn sources(&self) -> Vec<PolicySource<'_>> {
        self.policies.iter().map(|(label, policy)| PolicySource { label, policy }).collect()
    }

    /// The account new buckets of this principal belong to.
    pub fn account_id(&self) -> &str {
        &self.principal.account_id
    }
}

fn from_grant(g: KeyGrant) -> Identity {
    Identity {
        session_token_hash: g.session_token_hash,
        expires_at: g.expires_at,
        presigned_not_before: g.presigned_not_before,
        ..Identity::without_secret(g.principal, g.policies).with_secret(g.secret_key)
    }
}

/// The platform admin's principal.
pub fn admin_principal() -> Principal {
    Principal {
        kind: PrincipalKind::Admin,
        arn: format!("arn:aws:iam::{ADMIN_ACCOUNT_ID}:root"),
        account_id: ADMIN_ACCOUNT_ID.to_owned(),
        user_id: ADMIN_ACCOUNT_ID.to_owned(),
        name: "admin".to_owned(),
        role_arn: None,
    }
}

type Slot<T> = (Instant, Option<Arc<T>>);

fn get_fresh<T>(map: &Mutex<HashMap<String, Slot<T>>>, key: &str, ttl: Duration) -> Option<Option<Arc<T>>> {
    let map = map.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    map.get(key).filter(|(at, _)| at.elapsed() < ttl).map(|(_, v)| v.clone())
}

fn put<T>(map: &Mutex<HashMap<String, Slot<T>>>, key: &str, value: Option<Arc<T>>) {
    let mut map = map.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if map.len() >= MAX_ENTRIES {
        map.clear();
    }
    map.insert(key.to_owned(), (Instant::now(), value));
}

/// Access key → identity, through the IAM service, cached for `ttl` (also the answer "no such
/// key", so unknown keys don't hammer the IAM service).
#[derive(Debug)]
pub struct KeyCache {
    iam: Arc<dyn IamApi>,
    root_access_key: String,
    root: Arc<Identity>,
    ttl: Duration,
    map: Mutex<HashMap<String, Slot<Identity>>>,
    /// Principal ARN → its current grant (share links re-check their creator at every use).
    grants: Mutex<HashMap<String, Slot<Identity>>>,
}

impl KeyCache {
    /// A cache in front of `iam`; the root key pair resolves to the platform admin locally.
    pub fn new(iam: Arc<dyn IamApi>, root: &RootCredentials, ttl: Duration) -> Self {
        let root_identity =
            Identity::without_secret(admin_principal(), Vec::new()).with_secret(root.secret_key.clone());
        Self {
            iam,
            root_access_key: root.access_key.clone(),
            root: Arc::new(root_identity),
            ttl,
            map: Mutex::new(HashMap::new()),
            grants: Mutex::new(HashMap::new()),
        }
    }

    /// The current grant of the principal `arn` (the platform admin's own locally), cached for
    /// the same TTL as keys; `None` if there is no such principal.
    pub async fn grant(&self, arn: &str) -> Result<Option<Arc<Identity>>, IamApiError> {
        if arn == self.root.principal.arn {
            return Ok(Some(self.root.clone()));
        }
        if let Some(hit) = get_fresh(&self.grants, arn, self.ttl) {
            return Ok(hit);
        }
        let resolved = self
            .iam
            .principal_grant(arn)
            .await?
            .map(|(principal, named)| Arc::new(Identity::without_secret(principal, named)));
        put(&self.grants, arn, resolved.clone());
        Ok(resolved)
    }

    /// The IAM service behind the cache.
    pub fn iam(&self) -> &Arc<dyn IamApi> {
        &self.iam
    }

    /// Who holds `access_key`; `None` if nobody (unknown, disabled, deleted, expired).
    pub async fn resolve(&self, access_key: &str) -> Result<Option<Arc<Identity>>, IamApiError> {
        use subtle::ConstantTimeEq as _;
        if bool::from(access_key.as_bytes().ct_eq(self.root_access_key.as_bytes())) {
            return Ok(Some(self.root.clone()));
        }
        if let Some(hit) = get_fresh(&self.map, access_key, self.ttl) {
            return Ok(hit);
        }
        let resolved = self.iam.key_grant(access_key).await?.map(|g| Arc::new(from_grant(g)));
        put(&self.map, access_key, resolved.clone());
        Ok(resolved)
    }
}

/// How long an account's name (or its absence) is remembered.
const ACCOUNT_NAME_TTL: Duration = Duration::from_secs(60);

/// What an e-mail address names, for an ACL grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EmailLookup {
    /// No account's root has it.
    Unknown,
    /// This account.
    Account(String),
    /// Several accounts' roots have it.
    Ambiguous,
}

/// Accounts as S3 ACLs name them: a canonical id is an account id, shown with the account's
/// name (`DisplayName`); grants by e-mail resolve to the account whose root has the address.
/// Names are cached for a minute (they do not change); e-mail lookups are not cached.
#[derive(Debug)]
pub struct Accounts {
    iam: Arc<dyn IamApi>,
    names: Mutex<HashMap<String, Slot<String>>>,
}

impl Accounts {
    /// A directory over `iam`.
    pub fn new(iam: Arc<dyn IamApi>) -> Self {
        Self { iam, names: Mutex::new(HashMap::new()) }
    }

    /// The name of account `id`; `None` when no such account exists.
    pub async fn name(&self, id: &str) -> Result<Option<Arc<String>>, IamApiError> {
        if let Some(hit) = get_fresh(&self.names, id, ACCOUNT_NAME_TTL) {
            return Ok(hit);
        }
        // Canonical ids are account ids: twelve digits (anything else names no account).
        if id.len() != 12 || !id.bytes().all(|b| b.is_ascii_digit()) {
            return Ok(None);
        }
        let name = match self.iam.principal_grant(&format!("arn:aws:iam::{id}:root")).await? {
            Some((p, _)) => Some(Arc::new(p.name)),
            None if id == ADMIN_ACCOUNT_ID => Some(Arc::new(admin_principal().name)),
            None => None,
        };
        put(&self.names, id, name.clone());
        Ok(name)
    }

    /// The account whose root has the e-mail address `email`.
    pub async fn by_email(&self, email: &str) -> Result<EmailLookup, IamApiError> {
        let query: String = form_urlencoded::Serializer::new(String::new()).append_pair("email", email).finish();
        let req = cloudstore_iam_api::RestRequest {
            method: "GET".into(),
            path: "/admin/accounts".into(),
            query,
            bearer: None,
            admin: true,
            body: Vec::new(),
            meta: cloudstore_iam_api::RequestMeta::default(),
        };
        let res = self.iam.rest(req).await?;
        if res.status != 200 {
            return Err(IamApiError::Unavailable(format!("account lookup by e-mail answered {}", res.status)));
        }
        let body: serde_json::Value = serde_json::from_str(&res.body)
            .map_err(|e| IamApiError::Unavailable(format!("account lookup by e-mail: {e}")))?;
        let ids: Vec<&str> = body
            .get("accounts")
            .and_then(serde_json::Value::as_array)
            .map(|a| a.iter().filter_map(|x| x.get("account_id").and_then(serde_json::Value::as_str)).collect())
            .unwrap_or_default();
        Ok(match ids.as_slice() {
            [] => EmailLookup::Unknown,
            [one] => EmailLookup::Account((*one).to_owned()),
            _ => EmailLookup::Ambiguous,
        })
    }
}

/// What access control needs of a bucket.
#[derive(Debug)]
pub struct BucketInfo {
    pub owner: String,
    pub policy: Option<Policy>,
    /// Block Public Access settings in effect: the bucket's and its owner account's together
    /// (a setting on in either is on); all off when none are configured.
    pub block: crate::public_access::Block,
    /// The owner account's own settings (the S3 Control API's), for explanations.
    pub account_block: crate::public_access::Block,
    /// Whether the stored policy is public (`crate::public_access::policy_is_public`).
    pub public_policy: bool,
    /// The CORS rules (read by the server for `Origin` requests and preflights).
    pub cors: Option<crate::cors::Rules>,
    /// The lifecycle rules (for the `x-amz-expiration` header of object responses).
    pub lifecycle: Option<crate::lifecycle::Rules>,
    /// The bucket's access control list (the owner's FULL_CONTROL when none is stored).
    pub acl: crate::acl::Acl,
    /// The Object Ownership setting; `None`: no ownership controls (ACLs work, writers own).
    pub ownership: Option<crate::acl::Ownership>,
    /// The default encryption as stored (JSON; ADR 0014): PUTs read it here, not from the store.
    pub encryption: Option<String>,
    /// The versioning state (ADR 0017); `None`: never versioned.
    pub versioning: Option<cloudstore_store_api::Versioning>,
    /// The object lock configuration as stored (JSON; ADR 0018); `None`: object lock not enabled.
    pub object_lock: Option<String>,
}

impl BucketInfo {
    /// Whether ACLs take effect in this bucket (its Object Ownership is not BucketOwnerEnforced).
    #[must_use]
    pub fn acls_enabled(&self) -> bool {
        crate::acl::Ownership::acls_enabled(self.ownership)
    }

    /// The bucket policy as it applies to `principal`: none while `RestrictPublicBuckets` holds
    /// a public policy back from anyone outside the owner's account.
    #[must_use]
    pub fn policy_for(&self, principal: &Principal) -> Option<&Policy> {
        let outsider = principal.account_id.is_empty() || principal.account_id != self.owner;
        let restricted = self.block.restrict_public_buckets && self.public_policy && outsider;
        self.policy.as_ref().filter(|_| !restricted)
    }
}

/// Bucket → owner, parsed policy and CORS rules, cached for `ttl`; [`BucketCache::invalidate`] after local
/// changes.
#[derive(Debug)]
pub struct BucketCache {
    meta: Arc<dyn MetadataStore>,
    ttl: Duration,
    map: Mutex<HashMap<String, Slot<BucketInfo>>>,
    /// Account → its account-wide Block Public Access settings, for as long.
    accounts: Mutex<HashMap<String, Slot<crate::public_access::Block>>>,
}

impl BucketCache {
    /// A cache in front of `meta`.
    pub fn new(meta: Arc<dyn MetadataStore>, ttl: Duration) -> Self {
        Self { meta, ttl, map: Mutex::new(HashMap::new()), accounts: Mutex::new(HashMap::new()) }
    }

    /// The metadata store behind the cache.
    #[must_use]
    pub fn meta(&self) -> &Arc<dyn MetadataStore> {
        &self.meta
    }

    /// The bucket's owner and policy; `None` if the bucket does not exist.
    pub async fn get(&self, bucket: &str) -> Result<Option<Arc<BucketInfo>>, StoreError> {
        if let Some(hit) = get_fresh(&self.map, bucket, self.ttl) {
            return Ok(hit);
        }
        // Only existing buckets are cached: "no such bucket" is re-read every time, so a bucket
        // created a moment ago (here or on another node) is never taken for missing.
        let Some(b) = self.meta.get_bucket(bucket).await? else { return Ok(None) };
        let account_block = self.account_block(&legacy_owner(b.owner.clone())).await?;
        let info = {
            let policy = b.policy.as_deref().and_then(|doc| match Policy::parse(doc, PolicyKind::Resource) {
                Ok(p) => Some(p),
                Err(e) => {
                    tracing::warn!(bucket, error = %e, "stored bucket policy does not parse; it grants nothing");
                    None
                }
            });
            let cors = b.cors.as_deref().and_then(|json| match serde_json::from_str(json) {
                Ok(rules) => Some(rules),
                Err(e) => {
                    tracing::warn!(bucket, error = %e, "stored CORS rules do not parse; CORS is off");
                    None
                }
            });
            let block = b
                .public_access_block
                .as_deref()
                .map(|json| crate::public_access::Block::from_stored(bucket, json))
                .unwrap_or_default()
                .or(account_block);
            let public_policy = b.policy.as_deref().is_some_and(crate::public_access::policy_is_public);
            let lifecycle = crate::s3::stored_lifecycle(b.lifecycle.as_deref());
            let owner = legacy_owner(b.owner);
            let acl = crate::acl::Acl::from_stored(&owner, b.acl.as_deref());
            let ownership = crate::acl::Ownership::from_stored(b.object_ownership.as_deref());
            let encryption = b.encryption.clone();
            let versioning = b.versioning;
            let object_lock = b.object_lock.clone();
            Arc::new(BucketInfo {
                owner,
                policy,
                block,
                account_block,
                public_policy,
                cors,
                lifecycle,
                acl,
                ownership,
                encryption,
                versioning,
                object_lock,
            })
        };
        put(&self.map, bucket, Some(info.clone()));
        Ok(Some(info))
    }

    /// Forgets `bucket` (after this process changed its policy, created or deleted it).
    pub fn invalidate(&self, bucket: &str) {
        self.map.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(bucket);
    }

    /// The account-wide Block Public Access settings of `account` (all off when none are
    /// configured), cached for the cache's ttl.
    pub async fn account_block(&self, account: &str) -> Result<crate::public_access::Block, StoreError> {
        if let Some(Some(hit)) = get_fresh(&self.accounts, account, self.ttl) {
            return Ok(*hit);
        }
        let block = self
            .meta
            .get_account_config(account, AccountConfig::PublicAccessBlock)
            .await?
            .map(|json| crate::public_access::Block::from_stored(account, &json))
            .unwrap_or_default();
        put(&self.accounts, account, Some(Arc::new(block)));
        Ok(block)
    }

    /// Forgets `account`'s settings and every bucket (after this process changed the
    /// account-wide settings, which every bucket of the account carries).
    pub fn invalidate_account(&self, account: &str) {
        self.accounts.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(account);
        self.map.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clear();
    }
}

/// Buckets created before accounts existed belong to the platform admin.
pub fn legacy_owner(owner: String) -> String {
    if owner == "cloudstore" || owner.is_empty() { ADMIN_ACCOUNT_ID.to_owned() } else { owner }
}

/// The IAM service when none is configured (the standalone `s3-frontend` without
/// `CLOUDSTORE_IAM_GRPC`): only the root key pair authenticates; IAM, STS and account calls
/// answer 503.
#[derive(Debug, Clone, Default)]
pub struct RootOnlyIam;

#[async_trait::async_trait]
impl IamApi for RootOnlyIam {
    async fn key_grant(&self, _access_key: &str) -> Result<Option<KeyGrant>, IamApiError> {
        Ok(None)
    }

    async fn principal_grant(&self, _arn: &str) -> Result<Option<(Principal, Vec<NamedPolicy>)>, IamApiError> {
        Ok(None)
    }

    async fn query(
        &self,
        _service: cloudstore_iam_api::QueryService,
        _caller: &cloudstore_iam_api::Caller,
        _params: Vec<(String, String)>,
        _meta: &cloudstore_iam_api::RequestMeta,
    ) -> Result<cloudstore_iam_api::ApiResponse, IamApiError> {
        Err(IamApiError::Unavailable("no IAM service is configured (set CLOUDSTORE_IAM_GRPC)".into()))
    }

    async fn rest(
        &self,
        _req: cloudstore_iam_api::RestRequest,
    ) -> Result<cloudstore_iam_api::ApiResponse, IamApiError> {
        Err(IamApiError::Unavailable("no IAM service is configured (set CLOUDSTORE_IAM_GRPC)".into()))
    }

    async fn ready(&self) -> Result<(), IamApiError> {
        Ok(())
    }
}

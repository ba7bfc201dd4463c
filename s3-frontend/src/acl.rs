//! S3 access control lists and Object Ownership (issue #13 item 4, ADR 0013), pure: the
//! grants, the canned ACLs, the `x-amz-grant-*` headers, the `AccessControlPolicy` XML (s3s's
//! DTOs), and what a grant allows whom. Requests resolve e-mail addresses and check canonical
//! ids before they build an [`Acl`] (`s3/acl.rs`); access control asks [`Acl::allows`].
//!
//! A canonical user id is an account id (twelve digits): grants name accounts, as AWS's do.

use serde::{Deserialize, Serialize};

/// The group of everyone, anonymous callers included.
pub const ALL_USERS: &str = "http://acs.amazonaws.com/groups/global/AllUsers";
/// The group of every authenticated caller, of any account.
pub const AUTHENTICATED_USERS: &str = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers";
/// The log delivery group (kept and answered; server access logs are not offered).
pub const LOG_DELIVERY: &str = "http://acs.amazonaws.com/groups/s3/LogDelivery";

/// Most grants one ACL may hold (AWS's limit).
pub const MAX_GRANTS: usize = 100;

/// A permission an ACL grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Permission {
    Read,
    Write,
    ReadAcp,
    WriteAcp,
    FullControl,
}

impl Permission {
    /// AWS's name (`READ`, `WRITE`, `READ_ACP`, `WRITE_ACP`, `FULL_CONTROL`).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "READ",
            Self::Write => "WRITE",
            Self::ReadAcp => "READ_ACP",
            Self::WriteAcp => "WRITE_ACP",
            Self::FullControl => "FULL_CONTROL",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "READ" => Self::Read,
            "WRITE" => Self::Write,
            "READ_ACP" => Self::ReadAcp,
            "WRITE_ACP" => Self::WriteAcp,
            "FULL_CONTROL" => Self::FullControl,
            _ => return None,
        })
    }

    /// Whether holding `self` gives `wanted`.
    #[must_use]
    pub fn covers(self, wanted: Self) -> bool {
        self == Self::FullControl || self == wanted
    }
}

/// A predefined group of grantees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Group {
    AllUsers,
    AuthenticatedUsers,
    LogDelivery,
}

impl Group {
    /// The group's URI.
    #[must_use]
    pub fn uri(self) -> &'static str {
        match self {
            Self::AllUsers => ALL_USERS,
            Self::AuthenticatedUsers => AUTHENTICATED_USERS,
            Self::LogDelivery => LOG_DELIVERY,
        }
    }

    /// The group a URI names (AWS also takes `http://acs.amazonaws.com/groups/global/...` only).
    #[must_use]
    pub fn from_uri(uri: &str) -> Option<Self> {
        [Self::AllUsers, Self::AuthenticatedUsers, Self::LogDelivery].into_iter().find(|g| g.uri() == uri)
    }
}

/// Whom a grant names. E-mail grantees are resolved to their account before they are stored.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Grantee {
    /// An account, by its canonical id (the account id).
    User(String),
    Group(Group),
}

/// One grant of an ACL.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Grant {
    #[serde(flatten)]
    pub grantee: Grantee,
    pub permission: Permission,
}

impl Grant {
    fn user(id: &str, permission: Permission) -> Self {
        Self { grantee: Grantee::User(id.to_owned()), permission }
    }

    fn group(group: Group, permission: Permission) -> Self {
        Self { grantee: Grantee::Group(group), permission }
    }
}

/// An access control list: the resource's owner (an account id) and its grants.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Acl {
    pub owner: String,
    #[serde(default)]
    pub grants: Vec<Grant>,
}

impl Acl {
    /// The default ACL: the owner's FULL_CONTROL.
    #[must_use]
    pub fn private(owner: &str) -> Self {
        Self { owner: owner.to_owned(), grants: vec![Grant::user(owner, Permission::FullControl)] }
    }

    /// The ACL stored as JSON; an unreadable one is the owner's FULL_CONTROL only (nothing
    /// granted to anyone else is the safe reading).
    #[must_use]
    pub fn from_stored(owner: &str, json: Option<&str>) -> Self {
        let Some(json) = json else { return Self::private(owner) };
        match serde_json::from_str::<Self>(json) {
            Ok(acl) => acl,
            Err(e) => {
                tracing::warn!(error = %e, "a stored ACL does not parse; only its owner has access");
                Self::private(owner)
            }
        }
    }

    /// JSON, as stored.
    #[must_use]
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Whether this ACL is the default one (stored as nothing).
    #[must_use]
    pub fn is_private_of(&self, owner: &str) -> bool {
        *self == Self::private(owner)
    }

    /// Whether a grant gives `who` the permission `wanted`. With `ignore_public`
    /// (IgnorePublicAcls), grants to AllUsers and AuthenticatedUsers count for nothing.
    #[must_use]
    pub fn allows(&self, who: &Caller<'_>, wanted: Permission, ignore_public: bool) -> Option<&Grant> {
        self.grants.iter().find(|g| {
            g.permission.covers(wanted)
                && match &g.grantee {
                    Grantee::Group(Group::AllUsers) => !ignore_public,
                    Grantee::Group(Group::AuthenticatedUsers) => !ignore_public && who.authenticated,
                    Grantee::Group(Group::LogDelivery) => false,
                    Grantee::User(id) => who.account.is_some_and(|a| a == id),
                }
        })
    }

    /// The grants that make the resource public (to AllUsers or AuthenticatedUsers).
    pub fn public_grants(&self) -> impl Iterator<Item = &Grant> {
        self.grants.iter().filter(|g| matches!(g.grantee, Grantee::Group(Group::AllUsers | Group::AuthenticatedUsers)))
    }

    /// Whether any grant makes the resource public.
    #[must_use]
    pub fn is_public(&self) -> bool {
        self.public_grants().next().is_some()
    }

    /// Every account a grant names (to check they exist).
    pub fn accounts(&self) -> impl Iterator<Item = &str> {
        self.grants.iter().filter_map(|g| match &g.grantee {
            Grantee::User(id) => Some(id.as_str()),
            Grantee::Group(_) => None,
        })
    }
}

/// The ACL of a stored object: the one written with it, else the default (its bucket owner's
/// FULL_CONTROL: objects written without an ACL, or under BucketOwnerEnforced, belong to the
/// bucket owner).
#[must_use]
pub fn object_acl(object: &cloudstore_store_api::ObjectMeta, bucket_owner: &str) -> Acl {
    match &object.attributes.acl {
        None => Acl::private(bucket_owner),
        Some(v) => serde_json::from_value(v.clone()).unwrap_or_else(|e| {
            tracing::warn!(bucket = %object.bucket, key = %object.key, error = %e, "a stored object ACL does not parse; only the bucket owner has access");
            Acl::private(bucket_owner)
        }),
    }
}

/// A caller as ACLs see it.
#[derive(Debug, Clone, Copy)]
pub struct Caller<'a> {
    /// The caller's account (its canonical id); `None` for anonymous callers.
    pub account: Option<&'a str>,
    /// Whether the request was signed.
    pub authenticated: bool,
}

/// The Object Ownership setting of a bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ownership {
    /// ACLs disabled: the bucket owner owns every object; only `bucket-owner-full-control` is
    /// accepted on writes; ACL changes are refused (AccessControlListNotSupported).
    BucketOwnerEnforced,
    /// The bucket owner owns objects written with `bucket-owner-full-control`, the writer the
    /// others; ACLs work.
    BucketOwnerPreferred,
    /// The writer owns its objects; ACLs work.
    ObjectWriter,
}

impl Ownership {
    /// AWS's name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BucketOwnerEnforced => "BucketOwnerEnforced",
            Self::BucketOwnerPreferred => "BucketOwnerPreferred",
            Self::ObjectWriter => "ObjectWriter",
        }
    }

    /// The setting AWS names `s`.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "BucketOwnerEnforced" => Self::BucketOwnerEnforced,
            "BucketOwnerPreferred" => Self::BucketOwnerPreferred,
            "ObjectWriter" => Self::ObjectWriter,
            _ => return None,
        })
    }

    /// The setting as stored in `buckets.object_ownership`: `None` when the controls were
    /// deleted (ACLs then work as ObjectWriter, as on AWS); a bucket made before the column
    /// existed (NULL) is BucketOwnerEnforced, as it always answered.
    #[must_use]
    pub fn from_stored(stored: Option<&str>) -> Option<Self> {
        match stored {
            None => Some(Self::BucketOwnerEnforced),
            Some(NO_CONTROLS) => None,
            Some(s) => Some(Self::parse(s).unwrap_or(Self::BucketOwnerEnforced)),
        }
    }

    /// Whether ACLs take effect (everything but BucketOwnerEnforced).
    #[must_use]
    pub fn acls_enabled(setting: Option<Self>) -> bool {
        setting != Some(Self::BucketOwnerEnforced)
    }
}

/// What `buckets.object_ownership` holds after DeleteBucketOwnershipControls.
pub const NO_CONTROLS: &str = "none";

/// Why an ACL given in a request is refused: each maps to AWS's error code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AclError {
    /// 400 InvalidArgument.
    #[error("{0}")]
    InvalidArgument(String),
    /// 400 InvalidRequest.
    #[error("{0}")]
    InvalidRequest(String),
    /// 400 MalformedACLError.
    #[error("The XML you provided was not well-formed or did not validate against our published schema")]
    Malformed,
    /// 400 UnresolvableGrantByEmailAddress.
    #[error("The e-mail address you provided does not match any account on record.")]
    UnresolvableEmail,
}

impl From<AclError> for s3s::S3Error {
    fn from(e: AclError) -> Self {
        use s3s::s3_error;
        match e {
            AclError::InvalidArgument(m) => s3_error!(InvalidArgument, "{m}"),
            AclError::InvalidRequest(m) => s3_error!(InvalidRequest, "{m}"),
            AclError::Malformed => s3_error!(
                MalformedACLError,
                "The XML you provided was not well-formed or did not validate against our published schema"
            ),
            AclError::UnresolvableEmail => s3_error!(
                UnresolvableGrantByEmailAddress,
                "The e-mail address you provided does not match any account on record."
            ),
        }
    }
}

/// A grantee as a request names it, before e-mail addresses are resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Named {
    Id(String),
    Email(String),
    Group(Group),
}

/// A grant as a request gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedGrant {
    pub grantee: Named,
    pub permission: Permission,
}

/// The ACL a request asks for: a canned one, or explicit grants (headers or XML body).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requested {
    Canned(String),
    /// Explicit grants, and the owner the XML body names (headers name none).
    Grants {
        owner: Option<String>,
        grants: Vec<NamedGrant>,
    },
}

impl Requested {
    /// Whether the ACL asked for grants to AllUsers or AuthenticatedUsers (what BlockPublicAcls
    /// refuses, checked before anything else about the request's ACL).
    #[must_use]
    pub fn is_public(&self) -> bool {
        match self {
            Self::Canned(c) => matches!(c.as_str(), "public-read" | "public-read-write" | "authenticated-read"),
            Self::Grants { grants, .. } => {
                grants.iter().any(|g| matches!(g.grantee, Named::Group(Group::AllUsers | Group::AuthenticatedUsers)))
            }
        }
    }
}

/// The `x-amz-grant-*` headers and their permissions.
pub const GRANT_HEADERS: [(&str, Permission); 5] = [
    ("x-amz-grant-read", Permission::Read),
    ("x-amz-grant-write", Permission::Write),
    ("x-amz-grant-read-acp", Permission::ReadAcp),
    ("x-amz-grant-write-acp", Permission::WriteAcp),
    ("x-amz-grant-full-control", Permission::FullControl),
];

/// Parses one `x-amz-grant-*` value: `id="…", emailAddress="…", uri="…"`, comma-separated.
pub fn parse_grant_header(value: &str, permission: Permission) -> Result<Vec<NamedGrant>, AclError> {
    let mut out = Vec::new();
    for item in split_unquoted(value) {
        let item = item.trim();
        if item.is_empty() {
            continue;
        }
        let (key, val) = item
            .split_once('=')
            .ok_or_else(|| AclError::InvalidArgument(format!("Invalid grant header value: {item}")))?;
        let val = val.trim();
        let val = val.strip_prefix('"').and_then(|v| v.strip_suffix('"')).unwrap_or(val);
        let grantee = match key.trim().to_ascii_lowercase().as_str() {
            "id" => Named::Id(val.to_owned()),
            "emailaddress" => Named::Email(val.to_owned()),
            "uri" => Named::Group(
                Group::from_uri(val).ok_or_else(|| AclError::InvalidArgument(format!("Invalid group uri: {val}")))?,
            ),
            other => return Err(AclError::InvalidArgument(format!("Invalid grantee type in grant header: {other}"))),
        };
        out.push(NamedGrant { grantee, permission });
    }
    if out.is_empty() {
        return Err(AclError::InvalidArgument("A grant header names no grantee".into()));
    }
    Ok(out)
}

/// Splits at commas outside double quotes.
fn split_unquoted(s: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut start, mut quoted) = (0, false);
    for (i, c) in s.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts
}

/// The ACL a request's headers ask for: `x-amz-acl` or the grant headers (not both: 400
/// InvalidRequest); `None` when it names none.
pub fn from_headers(headers: &http::HeaderMap) -> Result<Option<Requested>, AclError> {
    let text = |name: &str| -> Result<Option<&str>, AclError> {
        headers
            .get(name)
            .map(|v| v.to_str().map_err(|_| AclError::InvalidArgument(format!("{name} is not valid text"))))
            .transpose()
    };
    let canned = text("x-amz-acl")?;
    let mut grants = Vec::new();
    for (name, permission) in GRANT_HEADERS {
        for v in headers.get_all(name) {
            let v = v.to_str().map_err(|_| AclError::InvalidArgument(format!("{name} is not valid text")))?;
            grants.extend(parse_grant_header(v, permission)?);
        }
    }
    match (canned, grants.is_empty()) {
        (Some(_), false) => {
            Err(AclError::InvalidRequest("Specifying both Canned ACLs and Header Grants is not allowed".into()))
        }
        (Some(c), true) => Ok(Some(Requested::Canned(c.to_owned()))),
        (None, false) => Ok(Some(Requested::Grants { owner: None, grants })),
        (None, true) => Ok(None),
    }
}

/// The grants an `AccessControlPolicy` body asks for, validated as AWS does (MalformedACLError
/// for a missing owner, grantee type or permission; InvalidArgument for a grantee without
/// what its type needs or a group URI AWS does not know).
pub fn from_policy(policy: &s3s::dto::AccessControlPolicy) -> Result<Requested, AclError> {
    let owner = policy.owner.as_ref().and_then(|o| o.id.clone()).ok_or(AclError::Malformed)?;
    let list = policy.grants.as_deref().unwrap_or_default();
    if list.len() > MAX_GRANTS {
        return Err(AclError::Malformed);
    }
    let mut grants = Vec::with_capacity(list.len());
    for g in list {
        let permission =
            g.permission.as_ref().and_then(|p| Permission::parse(p.as_str())).ok_or(AclError::Malformed)?;
        let grantee = g.grantee.as_ref().ok_or(AclError::Malformed)?;
        let named = match grantee.type_.as_str() {
            s3s::dto::Type::CANONICAL_USER => {
                Named::Id(grantee.id.clone().ok_or_else(|| AclError::InvalidArgument("Invalid id".into()))?)
            }
            s3s::dto::Type::AMAZON_CUSTOMER_BY_EMAIL => Named::Email(
                grantee
                    .email_address
                    .clone()
                    .ok_or_else(|| AclError::InvalidArgument("Invalid email address".into()))?,
            ),
            s3s::dto::Type::GROUP => {
                let uri = grantee.uri.as_deref().unwrap_or_default();
                Named::Group(
                    Group::from_uri(uri)
                        .ok_or_else(|| AclError::InvalidArgument(format!("Invalid group uri: {uri}")))?,
                )
            }
            _ => return Err(AclError::Malformed),
        };
        grants.push(NamedGrant { grantee: named, permission });
    }
    Ok(Requested::Grants { owner: Some(owner), grants })
}

/// The ACL of a canned name: for a resource owned by `owner` in a bucket owned by
/// `bucket_owner`. `for_bucket` allows `log-delivery-write` (buckets only) and refuses the
/// object-only ones, as AWS does.
pub fn canned(name: &str, owner: &str, bucket_owner: &str, for_bucket: bool) -> Result<Acl, AclError> {
    let mut acl = Acl::private(owner);
    let also_bucket_owner = |acl: &mut Acl, p: Permission| {
        if bucket_owner != owner {
            acl.grants.push(Grant::user(bucket_owner, p));
        }
    };
    match name {
        "private" => {}
        "public-read" => acl.grants.push(Grant::group(Group::AllUsers, Permission::Read)),
        "public-read-write" => {
            acl.grants.push(Grant::group(Group::AllUsers, Permission::Read));
            acl.grants.push(Grant::group(Group::AllUsers, Permission::Write));
        }
        "authenticated-read" => acl.grants.push(Grant::group(Group::AuthenticatedUsers, Permission::Read)),
        "bucket-owner-read" if !for_bucket => also_bucket_owner(&mut acl, Permission::Read),
        "bucket-owner-full-control" if !for_bucket => also_bucket_owner(&mut acl, Permission::FullControl),
        // On a bucket these two mean nothing more than private (AWS accepts them).
        "bucket-owner-read" | "bucket-owner-full-control" => {}
        "log-delivery-write" if for_bucket => {
            acl.grants.push(Grant::group(Group::LogDelivery, Permission::Write));
            acl.grants.push(Grant::group(Group::LogDelivery, Permission::ReadAcp));
        }
        other => return Err(AclError::InvalidArgument(format!("Invalid canned ACL: {other}"))),
    }
    Ok(acl)
}

impl Requested {
    /// Whether this is a canned ACL that a bucket with ACLs disabled (BucketOwnerEnforced)
    /// still accepts, as AWS does: `private` and `bucket-owner-full-control` say no more than
    /// the bucket owner's full control (tools such as rclone and s3cmd send `private`).
    #[must_use]
    pub fn fits_acls_disabled(&self) -> bool {
        matches!(self, Self::Canned(c) if c == "private" || c == "bucket-owner-full-control")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "111111111111";
    const B: &str = "222222222222";

    fn caller(account: Option<&str>) -> Caller<'_> {
        Caller { account, authenticated: account.is_some() }
    }

    #[test]
    fn canned_acls_grant_what_aws_documents() {
        let acl = canned("public-read", A, A, true).expect("acl");
        assert!(acl.allows(&caller(None), Permission::Read, false).is_some());
        assert!(acl.allows(&caller(None), Permission::Write, false).is_none());
        assert!(acl.allows(&caller(None), Permission::Read, true).is_none(), "IgnorePublicAcls");
        assert!(acl.is_public());
        let acl = canned("public-read-write", A, A, true).expect("acl");
        assert!(acl.allows(&caller(None), Permission::Write, false).is_some());
        let acl = canned("authenticated-read", A, A, false).expect("acl");
        assert!(acl.allows(&caller(None), Permission::Read, false).is_none(), "anonymous is not authenticated");
        assert!(acl.allows(&caller(Some(B)), Permission::Read, false).is_some());
        assert!(acl.allows(&caller(Some(B)), Permission::ReadAcp, false).is_none());
        let acl = canned("private", A, A, false).expect("acl");
        assert!(acl.is_private_of(A) && !acl.is_public());
        assert!(acl.allows(&caller(Some(A)), Permission::WriteAcp, false).is_some(), "owner FULL_CONTROL");
        assert!(acl.allows(&caller(Some(B)), Permission::Read, false).is_none(), "a stranger gets nothing");
        // Objects written by B into A's bucket.
        let acl = canned("bucket-owner-read", B, A, false).expect("acl");
        assert_eq!(acl.grants.len(), 2);
        assert!(acl.allows(&caller(Some(A)), Permission::Read, false).is_some());
        assert!(acl.allows(&caller(Some(A)), Permission::Write, false).is_none());
        let acl = canned("bucket-owner-full-control", B, A, false).expect("acl");
        assert!(acl.allows(&caller(Some(A)), Permission::WriteAcp, false).is_some());
        assert!(canned("bucket-owner-full-control", A, A, false).expect("acl").is_private_of(A));
        let acl = canned("log-delivery-write", A, A, true).expect("acl");
        assert_eq!(acl.grants.len(), 3);
        assert!(!acl.is_public());
        assert!(matches!(canned("log-delivery-write", A, A, false), Err(AclError::InvalidArgument(_))));
        assert!(matches!(canned("aws-exec-read", A, A, false), Err(AclError::InvalidArgument(_))));
        assert!(matches!(canned("Public-Read", A, A, true), Err(AclError::InvalidArgument(_))));
    }

    #[test]
    fn grant_headers_parse_as_aws_writes_them() {
        let g = parse_grant_header(
            r#"id="111111111111", emailAddress="a@example.com",uri="http://acs.amazonaws.com/groups/global/AllUsers""#,
            Permission::Read,
        )
        .expect("grants");
        assert_eq!(
            g.iter().map(|g| g.grantee.clone()).collect::<Vec<_>>(),
            [Named::Id(A.into()), Named::Email("a@example.com".into()), Named::Group(Group::AllUsers)]
        );
        assert_eq!(
            parse_grant_header("id=111111111111", Permission::Write).expect("g")[0].grantee,
            Named::Id(A.into())
        );
        assert!(matches!(parse_grant_header("user=x", Permission::Read), Err(AclError::InvalidArgument(_))));
        assert!(matches!(parse_grant_header("uri=http://x/", Permission::Read), Err(AclError::InvalidArgument(_))));
        assert!(matches!(parse_grant_header("nonsense", Permission::Read), Err(AclError::InvalidArgument(_))));
        assert!(matches!(parse_grant_header(" ", Permission::Read), Err(AclError::InvalidArgument(_))));

        let mut h = http::HeaderMap::new();
        assert_eq!(from_headers(&h), Ok(None));
        h.insert("x-amz-grant-read", http::HeaderValue::from_static("id=111111111111"));
        h.insert("x-amz-grant-full-control", http::HeaderValue::from_static("id=222222222222"));
        let Ok(Some(Requested::Grants { owner: None, grants })) = from_headers(&h) else { panic!("grants") };
        assert_eq!(grants.len(), 2);
        h.insert("x-amz-acl", http::HeaderValue::from_static("private"));
        assert!(matches!(from_headers(&h), Err(AclError::InvalidRequest(_))));
        assert!(!Requested::Canned("private".into()).is_public());
        assert!(Requested::Canned("authenticated-read".into()).is_public());
        let everyone = NamedGrant { grantee: Named::Group(Group::AllUsers), permission: Permission::Read };
        assert!(Requested::Grants { owner: None, grants: vec![everyone] }.is_public());
        assert!(!Requested::Grants { owner: None, grants }.is_public());
    }

    #[test]
    fn access_control_policies_are_validated() {
        use s3s::dto::{AccessControlPolicy, Grant as G, Grantee as Ge, Owner, Type};
        let grantee = |t: &'static str, id: Option<&str>, uri: Option<&str>| Ge {
            display_name: None,
            email_address: None,
            id: id.map(str::to_owned),
            type_: Type::from_static(t),
            uri: uri.map(str::to_owned),
        };
        let policy = |grants: Vec<G>, owner: Option<&str>| AccessControlPolicy {
            grants: Some(grants),
            owner: owner.map(|o| Owner { display_name: None, id: Some(o.to_owned()) }),
        };
        let g =
            |ge: Ge, p: &'static str| G { grantee: Some(ge), permission: Some(s3s::dto::Permission::from_static(p)) };
        let ok = policy(
            vec![
                g(grantee(Type::CANONICAL_USER, Some(A), None), "FULL_CONTROL"),
                g(grantee(Type::GROUP, None, Some(ALL_USERS)), "READ"),
            ],
            Some(A),
        );
        let Ok(Requested::Grants { owner: Some(o), grants }) = from_policy(&ok) else { panic!("grants") };
        assert_eq!((o.as_str(), grants.len()), (A, 2));
        assert_eq!(from_policy(&policy(vec![], None)), Err(AclError::Malformed));
        let bad_perm = policy(vec![g(grantee(Type::CANONICAL_USER, Some(A), None), "EVERYTHING")], Some(A));
        assert_eq!(from_policy(&bad_perm), Err(AclError::Malformed));
        let no_id = policy(vec![g(grantee(Type::CANONICAL_USER, None, None), "READ")], Some(A));
        assert!(matches!(from_policy(&no_id), Err(AclError::InvalidArgument(_))));
        let bad_uri = policy(vec![g(grantee(Type::GROUP, None, Some("http://x")), "READ")], Some(A));
        assert!(matches!(from_policy(&bad_uri), Err(AclError::InvalidArgument(_))));
    }

    #[test]
    fn stored_acls_round_trip_and_unreadable_ones_are_private() {
        let acl = canned("public-read-write", B, A, false).expect("acl");
        let json = acl.to_json();
        assert_eq!(Acl::from_stored(B, Some(&json)), acl);
        assert_eq!(Acl::from_stored(B, Some("{")), Acl::private(B));
        assert_eq!(Acl::from_stored(B, None), Acl::private(B));
    }

    #[test]
    fn ownership_settings_as_stored() {
        assert_eq!(Ownership::from_stored(None), Some(Ownership::BucketOwnerEnforced));
        assert_eq!(Ownership::from_stored(Some(NO_CONTROLS)), None);
        assert_eq!(Ownership::from_stored(Some("ObjectWriter")), Some(Ownership::ObjectWriter));
        assert!(!Ownership::acls_enabled(Some(Ownership::BucketOwnerEnforced)));
        assert!(Ownership::acls_enabled(None) && Ownership::acls_enabled(Some(Ownership::BucketOwnerPreferred)));
    }
}

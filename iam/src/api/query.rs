//! The AWS IAM Query API (Version 2010-05-08): `POST /` with `Action=CreateUser&UserName=…`,
//! answered in AWS's XML shapes so that `aws iam … --endpoint-url` works unmodified.
//!
//! Every action is authorized with [`authz::check`] before anything is read or changed, on the
//! ARN of the entity acted on (`arn:aws:iam::ACCOUNT:user/PATH/NAME`, `…:group/…`, `…:role/…`,
//! `…:policy/…`; List* actions on the account-level wildcard, `…:user/*`). A caller acts only in
//! its own account: names are looked up there, so another account's entities are never seen.
//! An entity that does not exist is authorized as if it had the path `/`, so a caller who may
//! not act on it learns nothing about whether it exists.

use std::collections::HashMap;

use cloudstore_iam_api::{ADMIN_ACCOUNT_ID, ApiResponse, Caller, PrincipalKind, RequestMeta};
use cloudstore_policy::{Context, PolicyKind};
use cloudstore_store_api::OutboxEvent;

use super::xml::{self, Xml, iso8601};
use crate::error::{Error, Result};
use crate::events::Audit;
use crate::ids;
use crate::service::directory::{check_policy_document, validate_name, validate_path};
use crate::service::keys::parse_status;
use crate::service::sts::role_arn;
use crate::service::{IamService, authz, now, user_arn};
use crate::store::{Group, InlinePolicy, ManagedPolicy, OwnerKind, Role, User};

/// The IAM API's XML namespace.
pub const IAM_NAMESPACE: &str = "https://iam.amazonaws.com/doc/2010-05-08/";
/// The IAM API version this module speaks.
pub const IAM_VERSION: &str = "2010-05-08";

/// Longest user and role names; group and policy names may be longer.
const MAX_USER_NAME: usize = 64;
const MAX_ROLE_NAME: usize = 64;
const MAX_GROUP_NAME: usize = 128;
const MAX_POLICY_NAME: usize = 128;
const MAX_DESCRIPTION: usize = 1000;
/// Bounds of a role's `MaxSessionDuration` (seconds).
const MIN_ROLE_SESSION: i64 = 3600;
const MAX_ROLE_SESSION: i64 = 43_200;
/// Managed policies have exactly one version.
const POLICY_VERSION: &str = "v1";

/// The actions this module answers (the names double as the response element names, so only
/// these fixed strings ever reach the XML unescaped).
const ACTIONS: &[&str] = &[
    "CreateUser",
    "GetUser",
    "ListUsers",
    "DeleteUser",
    "CreateAccessKey",
    "ListAccessKeys",
    "UpdateAccessKey",
    "DeleteAccessKey",
    "RevokePresignedUrls",
    "PutUserPolicy",
    "GetUserPolicy",
    "ListUserPolicies",
    "DeleteUserPolicy",
    "CreatePolicy",
    "GetPolicy",
    "GetPolicyVersion",
    "ListPolicyVersions",
    "ListPolicies",
    "DeletePolicy",
    "AttachUserPolicy",
    "DetachUserPolicy",
    "ListAttachedUserPolicies",
    "CreateGroup",
    "GetGroup",
    "ListGroups",
    "DeleteGroup",
    "AddUserToGroup",
    "RemoveUserFromGroup",
    "ListGroupsForUser",
    "PutGroupPolicy",
    "GetGroupPolicy",
    "ListGroupPolicies",
    "DeleteGroupPolicy",
    "AttachGroupPolicy",
    "DetachGroupPolicy",
    "ListAttachedGroupPolicies",
    "CreateRole",
    "GetRole",
    "ListRoles",
    "DeleteRole",
    "PutRolePolicy",
    "GetRolePolicy",
    "ListRolePolicies",
    "DeleteRolePolicy",
    "AttachRolePolicy",
    "DetachRolePolicy",
    "ListAttachedRolePolicies",
];

/// The decoded parameters of a Query API call (form body and query string).
#[derive(Debug, Clone, Default)]
pub(crate) struct Params(Vec<(String, String)>);

impl Params {
    pub(crate) fn new(params: Vec<(String, String)>) -> Self {
        Self(params)
    }

    /// The first value of `key` (names are case-sensitive, as in AWS).
    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// A required, non-empty parameter.
    pub(crate) fn required(&self, key: &str) -> Result<&str> {
        match self.get(key) {
            Some(v) if !v.is_empty() => Ok(v),
            Some(_) => Err(Error::ValidationError(format!(
                "1 validation error detected: Value at '{}' failed to satisfy constraint: Member must have \
                 length greater than or equal to 1",
                member_name(key)
            ))),
            None => Err(Error::ValidationError(format!(
                "1 validation error detected: Value null at '{}' failed to satisfy constraint: Member must not \
                 be null",
                member_name(key)
            ))),
        }
    }

    /// An optional integer parameter.
    pub(crate) fn int(&self, key: &str) -> Result<Option<i64>> {
        self.get(key)
            .map(|v| {
                v.trim().parse::<i64>().map_err(|_| {
                    Error::ValidationError(format!("Value '{v}' at '{}' is not a valid integer", member_name(key)))
                })
            })
            .transpose()
    }

    /// An optional boolean parameter (`true` / `false`).
    pub(crate) fn bool(&self, key: &str) -> Result<Option<bool>> {
        self.get(key)
            .map(|v| match v.to_ascii_lowercase().as_str() {
                "true" => Ok(true),
                "false" => Ok(false),
                _ => Err(Error::ValidationError(format!("Value '{v}' at '{}' is not a boolean", member_name(key)))),
            })
            .transpose()
    }

    /// Whether any parameter named `key` or starting with `key.` was sent.
    pub(crate) fn has_prefix(&self, key: &str) -> bool {
        self.0.iter().any(|(k, _)| k == key || k.strip_prefix(key).is_some_and(|rest| rest.starts_with('.')))
    }
}

/// `UserName` → `userName`, as AWS names members in validation messages.
fn member_name(key: &str) -> String {
    let mut chars = key.chars();
    chars.next().map(|c| c.to_ascii_lowercase().to_string() + chars.as_str()).unwrap_or_default()
}

/// The condition context of a Query API request (`aws:SourceIp`, `aws:CurrentTime`,
/// `aws:EpochTime`, `aws:SecureTransport`, `aws:UserAgent`).
pub(crate) fn request_context(meta: &RequestMeta) -> Context {
    let t = now();
    let mut ctx = Context::new()
        .with("aws:CurrentTime", iso8601(t))
        .with("aws:EpochTime", t.to_string())
        .with("aws:SecureTransport", if meta.secure { "true" } else { "false" });
    if let Some(ip) = meta.source_ip.as_deref().filter(|ip| !ip.is_empty()) {
        ctx.insert("aws:SourceIp", ip);
    }
    if let Some(ua) = meta.user_agent.as_deref().filter(|ua| !ua.is_empty()) {
        ctx.insert("aws:UserAgent", ua);
    }
    ctx
}

/// Answers one IAM Query API call by an authenticated caller.
pub async fn handle(
    svc: &IamService,
    caller: &Caller,
    params: Vec<(String, String)>,
    meta: &RequestMeta,
) -> ApiResponse {
    let params = Params::new(params);
    let requested = params.get("Action").unwrap_or_default();
    let Some(action) = ACTIONS.iter().copied().find(|a| *a == requested) else {
        let err = if requested.is_empty() {
            Error::InvalidAction("The request must contain the parameter Action.".into())
        } else {
            Error::InvalidAction(format!("Could not find operation {requested} for version {IAM_VERSION}"))
        };
        return xml::error_response(IAM_NAMESPACE, &err, &meta.request_id);
    };
    let principal = &caller.principal;
    if matches!(principal.kind, PrincipalKind::Anonymous | PrincipalKind::Service) || principal.account_id.is_empty() {
        let err = Error::AccessDenied(format!("Anonymous callers are not authorized to perform: iam:{action}"));
        return xml::error_response(IAM_NAMESPACE, &err, &meta.request_id);
    }
    let account = if principal.kind == PrincipalKind::Admin { ADMIN_ACCOUNT_ID } else { principal.account_id.as_str() };
    // The event of a changing action, written by the store in the change's transaction.
    let audit = match crate::events::of_action(action) {
        Some(t) => {
            let mut ev = crate::events::by_caller(crate::events::event(t, meta, 200), caller);
            ev.detail.insert("action".into(), format!("iam:{action}"));
            for name in ["UserName", "GroupName", "RoleName", "PolicyArn", "PolicyName", "AccessKeyId"] {
                if let Some(v) = params.get(name) {
                    ev.detail.insert(name.to_owned(), v.to_owned());
                }
            }
            Audit::of(ev)
        }
        None => Audit::none(),
    };
    let events = svc.audit_rows(&audit);
    let cx = Cx { svc, caller, account, ctx: request_context(meta), p: &params, audit, events };
    match cx.dispatch(action).await {
        Ok(result) => xml::response(IAM_NAMESPACE, action, result.as_deref(), &meta.request_id),
        Err(e) => {
            tracing::debug!(action, code = e.code(), error = %e, "IAM query API call refused");
            xml::error_response(IAM_NAMESPACE, &e, &meta.request_id)
        }
    }
}

/// What an action returns: the inner XML of its `<XResult>` element, or `None` for actions
/// without one.
type Out = Result<Option<String>>;

fn result(x: Xml) -> Out {
    Ok(Some(x.finish()))
}

/// The principal kinds that own inline policies and attachments, with their parameter names.
#[derive(Debug, Clone, Copy)]
struct OwnerSpec {
    kind: OwnerKind,
    /// `UserName`, `GroupName`, `RoleName`: the request parameter and the response element.
    param: &'static str,
    /// `user`, `group`, `role`: in messages.
    noun: &'static str,
}

const USER: OwnerSpec = OwnerSpec { kind: OwnerKind::User, param: "UserName", noun: "user" };
const GROUP: OwnerSpec = OwnerSpec { kind: OwnerKind::Group, param: "GroupName", noun: "group" };
const ROLE: OwnerSpec = OwnerSpec { kind: OwnerKind::Role, param: "RoleName", noun: "role" };

/// One request being answered.
struct Cx<'a> {
    svc: &'a IamService,
    caller: &'a Caller,
    /// The account the caller acts in.
    account: &'a str,
    ctx: Context,
    p: &'a Params,
    /// The action's event, if it changes something.
    audit: Audit,
    /// Its outbox rows (none when events are off), for the one store call that changes.
    events: Vec<OutboxEvent>,
}

impl Cx<'_> {
    async fn dispatch(&self, action: &str) -> Out {
        match action {
            "CreateUser" => self.create_user().await,
            "GetUser" => self.get_user().await,
            "ListUsers" => self.list_users().await,
            "DeleteUser" => self.delete_user().await,
            "CreateAccessKey" => self.create_access_key().await,
            "ListAccessKeys" => self.list_access_keys().await,
            "UpdateAccessKey" => self.update_access_key().await,
            "DeleteAccessKey" => self.delete_access_key().await,
            "RevokePresignedUrls" => self.revoke_presigned_urls().await,
            "PutUserPolicy" => self.put_inline(USER, "iam:PutUserPolicy").await,
            "GetUserPolicy" => self.get_inline(USER, "iam:GetUserPolicy").await,
            "ListUserPolicies" => self.list_inline(USER, "iam:ListUserPolicies").await,
            "DeleteUserPolicy" => self.delete_inline(USER, "iam:DeleteUserPolicy").await,
            "CreatePolicy" => self.create_policy().await,
            "GetPolicy" => self.get_policy().await,
            "GetPolicyVersion" => self.get_policy_version().await,
            "ListPolicyVersions" => self.list_policy_versions().await,
            "ListPolicies" => self.list_policies().await,
            "DeletePolicy" => self.delete_policy().await,
            "AttachUserPolicy" => self.attach(USER, "iam:AttachUserPolicy").await,
            "DetachUserPolicy" => self.detach(USER, "iam:DetachUserPolicy").await,
            "ListAttachedUserPolicies" => self.list_attached(USER, "iam:ListAttachedUserPolicies").await,
            "CreateGroup" => self.create_group().await,
            "GetGroup" => self.get_group().await,
            "ListGroups" => self.list_groups().await,
            "DeleteGroup" => self.delete_group().await,
            "AddUserToGroup" => self.add_user_to_group().await,
            "RemoveUserFromGroup" => self.remove_user_from_group().await,
            "ListGroupsForUser" => self.list_groups_for_user().await,
            "PutGroupPolicy" => self.put_inline(GROUP, "iam:PutGroupPolicy").await,
            "GetGroupPolicy" => self.get_inline(GROUP, "iam:GetGroupPolicy").await,
            "ListGroupPolicies" => self.list_inline(GROUP, "iam:ListGroupPolicies").await,
            "DeleteGroupPolicy" => self.delete_inline(GROUP, "iam:DeleteGroupPolicy").await,
            "AttachGroupPolicy" => self.attach(GROUP, "iam:AttachGroupPolicy").await,
            "DetachGroupPolicy" => self.detach(GROUP, "iam:DetachGroupPolicy").await,
            "ListAttachedGroupPolicies" => self.list_attached(GROUP, "iam:ListAttachedGroupPolicies").await,
            "CreateRole" => self.create_role().await,
            "GetRole" => self.get_role().await,
            "ListRoles" => self.list_roles().await,
            "DeleteRole" => self.delete_role().await,
            "PutRolePolicy" => self.put_inline(ROLE, "iam:PutRolePolicy").await,
            "GetRolePolicy" => self.get_inline(ROLE, "iam:GetRolePolicy").await,
            "ListRolePolicies" => self.list_inline(ROLE, "iam:ListRolePolicies").await,
            "DeleteRolePolicy" => self.delete_inline(ROLE, "iam:DeleteRolePolicy").await,
            "AttachRolePolicy" => self.attach(ROLE, "iam:AttachRolePolicy").await,
            "DetachRolePolicy" => self.detach(ROLE, "iam:DetachRolePolicy").await,
            "ListAttachedRolePolicies" => self.list_attached(ROLE, "iam:ListAttachedRolePolicies").await,
            other => Err(Error::InvalidAction(format!("Could not find operation {other} for version {IAM_VERSION}"))),
        }
    }

    // ---- authorization and lookups ----

    /// Refuses unless the caller may perform `action` on `resource`.
    fn allow(&self, action: &str, resource: &str) -> Result<()> {
        authz::check(self.caller, self.account, action, resource, &self.ctx)
    }

    /// [`Cx::allow`] with extra condition keys (`iam:PolicyARN`).
    fn allow_with(&self, action: &str, resource: &str, key: &str, value: &str) -> Result<()> {
        let ctx = self.ctx.clone().with(key, value);
        authz::check(self.caller, self.account, action, resource, &ctx)
    }

    /// `arn:aws:iam::ACCOUNT:{kind}{path}{name}`.
    fn arn(&self, kind: &str, path: &str, name: &str) -> String {
        format!("arn:aws:iam::{}:{kind}{path}{name}", self.account)
    }

    /// The account-level wildcard List* actions are authorized on (`…:user/*`).
    fn all(&self, kind: &str) -> String {
        format!("arn:aws:iam::{}:{kind}/*", self.account)
    }

    /// A `Path` parameter (`/` when absent).
    fn path_param(&self) -> Result<String> {
        let path = self.p.get("Path").unwrap_or("/");
        validate_path(path)?;
        Ok(path.to_owned())
    }

    /// The `PathPrefix` of List* actions (`/` when absent).
    fn path_prefix(&self) -> Result<&str> {
        let prefix = self.p.get("PathPrefix").unwrap_or("/");
        if !prefix.starts_with('/') || prefix.len() > 512 {
            return Err(Error::ValidationError(format!("invalid path prefix {prefix:?}")));
        }
        Ok(prefix)
    }

    /// The IAM user `name` of the caller's account (never its root), after authorizing `action`
    /// on it.
    async fn named_user(&self, action: &str, name: &str) -> Result<User> {
        validate_name("UserName", name, MAX_USER_NAME)?;
        let user = self.svc.store.find_user(self.account, name).await?.filter(|u| !u.is_root);
        let arn = user.as_ref().map_or_else(|| self.arn("user", "/", name), user_arn);
        self.allow(action, &arn)?;
        user.ok_or_else(|| no_such_user(name))
    }

    /// The user named by `UserName`, or the caller itself when it is absent (its root user for
    /// an account root), after authorizing `action` on it.
    async fn target_user(&self, action: &str) -> Result<User> {
        if let Some(name) = self.p.get("UserName") {
            return self.named_user(action, name).await;
        }
        let p = &self.caller.principal;
        let user = match p.kind {
            PrincipalKind::Admin | PrincipalKind::AccountRoot => self.svc.store.root_user(self.account).await?,
            PrincipalKind::User => self.svc.store.get_user(&p.user_id).await?.filter(|u| u.account_id == self.account),
            _ => {
                return Err(Error::ValidationError(
                    "Must specify userName when calling with non-User credentials".into(),
                ));
            }
        };
        let user = user.ok_or_else(|| Error::NoSuchEntity("The user signing this request cannot be found.".into()))?;
        self.allow(action, &user_arn(&user))?;
        Ok(user)
    }

    /// The user named by `UserName` for actions on an existing user.
    async fn user_param(&self, action: &str) -> Result<User> {
        let name = self.p.required("UserName")?;
        self.named_user(action, name).await
    }

    async fn named_group(&self, action: &str, name: &str) -> Result<Group> {
        validate_name("GroupName", name, MAX_GROUP_NAME)?;
        let group = self.svc.store.find_group(self.account, name).await?;
        let arn = group.as_ref().map_or_else(|| self.arn("group", "/", name), |g| self.arn("group", &g.path, &g.name));
        self.allow(action, &arn)?;
        group.ok_or_else(|| no_such_group(name))
    }

    async fn group_param(&self, action: &str) -> Result<Group> {
        let name = self.p.required("GroupName")?;
        self.named_group(action, name).await
    }

    async fn named_role(&self, action: &str, name: &str) -> Result<Role> {
        validate_name("RoleName", name, MAX_ROLE_NAME)?;
        let role = self.svc.store.find_role(self.account, name).await?;
        let arn = role.as_ref().map_or_else(|| self.arn("role", "/", name), role_arn);
        self.allow(action, &arn)?;
        role.ok_or_else(|| no_such_role(name))
    }

    async fn role_param(&self, action: &str) -> Result<Role> {
        let name = self.p.required("RoleName")?;
        self.named_role(action, name).await
    }

    /// The user, group or role an inline-policy or attachment action names: (id, name).
    async fn owner(&self, spec: OwnerSpec, action: &str) -> Result<(String, String)> {
        Ok(match spec.kind {
            OwnerKind::User => {
                let u = self.user_param(action).await?;
                (u.id, u.name)
            }
            OwnerKind::Group => {
                let g = self.group_param(action).await?;
                (g.id, g.name)
            }
            OwnerKind::Role => {
                let r = self.role_param(action).await?;
                (r.id, r.name)
            }
        })
    }

    /// A managed policy of the caller's account by ARN (`NoSuchEntity` for any other ARN).
    async fn find_policy(&self, arn: &str) -> Result<ManagedPolicy> {
        if policy_arn_account(arn) != Some(self.account) {
            return Err(no_such_policy(arn));
        }
        self.svc
            .store
            .get_managed_policy(arn)
            .await?
            .filter(|p| p.account_id == self.account)
            .ok_or_else(|| no_such_policy(arn))
    }

    /// The managed policy `PolicyArn` names, after authorizing `action` on it.
    async fn policy_param(&self, action: &str) -> Result<ManagedPolicy> {
        let arn = self.p.required("PolicyArn")?;
        self.allow(action, arn)?;
        self.find_policy(arn).await
    }

    /// How many users, groups and roles of the account each managed policy is attached to.
    async fn attachment_counts(&self) -> Result<HashMap<String, i64>> {
        let store = &self.svc.store;
        let mut owners: Vec<(OwnerKind, String)> = Vec::new();
        owners.extend(store.list_users(self.account).await?.into_iter().map(|u| (OwnerKind::User, u.id)));
        owners.extend(store.list_groups(self.account).await?.into_iter().map(|g| (OwnerKind::Group, g.id)));
        owners.extend(store.list_roles(self.account).await?.into_iter().map(|r| (OwnerKind::Role, r.id)));
        let mut counts = HashMap::new();
        for (kind, id) in owners {
            for p in store.attached_policies(kind, &id).await? {
                *counts.entry(p.id).or_insert(0) += 1;
            }
        }
        Ok(counts)
    }

    // ---- users ----

    async fn create_user(&self) -> Out {
        let name = self.p.required("UserName")?;
        validate_name("UserName", name, MAX_USER_NAME)?;
        let path = self.path_param()?;
        self.allow("iam:CreateUser", &self.arn("user", &path, name))?;
        let user = User {
            id: ids::unique_id("AIDA"),
            account_id: self.account.to_owned(),
            name: name.to_owned(),
            path,
            is_root: false,
            email: None,
            display_name: None,
            password_hash: None,
            created_at: now(),
            presigned_not_before: None,
        };
        self.svc.store.create_user(&user, &self.events).await.map_err(|e| match e {
            Error::EntityAlreadyExists(_) => {
                Error::EntityAlreadyExists(format!("User with name {name} already exists."))
            }
            e => e,
        })?;
        tracing::info!(account_id = %self.account, user_id = %user.id, "IAM user created");
        let mut x = Xml::new();
        x.open("User");
        write_user(&mut x, &user);
        x.close("User");
        result(x)
    }

    async fn get_user(&self) -> Out {
        let user = self.target_user("iam:GetUser").await?;
        let mut x = Xml::new();
        x.open("User");
        if user.is_root {
            // AWS shows an account's root by account id and ARN only.
            x.elem("UserId", &user.account_id).elem("Arn", &user_arn(&user)).date("CreateDate", user.created_at);
        } else {
            write_user(&mut x, &user);
        }
        x.close("User");
        result(x)
    }

    async fn list_users(&self) -> Out {
        self.allow("iam:ListUsers", &self.all("user"))?;
        let prefix = self.path_prefix()?;
        let users: Vec<User> =
            self.svc.store.list_users(self.account).await?.into_iter().filter(|u| u.path.starts_with(prefix)).collect();
        let mut x = Xml::new();
        x.members("Users", &users, write_user);
        x.bool("IsTruncated", false);
        result(x)
    }

    async fn delete_user(&self) -> Out {
        let user = self.user_param("iam:DeleteUser").await?;
        self.svc.store.delete_user(&user.id, &self.events).await.map_err(|e| match e {
            Error::NoSuchEntity(_) => no_such_user(&user.name),
            e => e,
        })?;
        tracing::info!(account_id = %self.account, user_id = %user.id, "IAM user deleted");
        Ok(None)
    }

    // ---- access keys ----

    async fn create_access_key(&self) -> Out {
        let user = self.target_user("iam:CreateAccessKey").await?;
        let key = self.svc.create_access_key(&user, self.audit.clone()).await?;
        let mut x = Xml::new();
        x.open("AccessKey")
            .elem("UserName", &key.user_name)
            .elem("AccessKeyId", &key.access_key_id)
            .elem("Status", key.status)
            .elem("SecretAccessKey", &key.secret.0)
            .date("CreateDate", key.created_at)
            .close("AccessKey");
        result(x)
    }

    async fn list_access_keys(&self) -> Out {
        let user = self.target_user("iam:ListAccessKeys").await?;
        let keys = self.svc.list_access_keys(&user).await?;
        let mut x = Xml::new();
        x.elem("UserName", &user.name);
        x.members("AccessKeyMetadata", &keys, |x, k| {
            x.elem("UserName", &k.user_name)
                .elem("AccessKeyId", &k.access_key_id)
                .elem("Status", k.status)
                .date("CreateDate", k.created_at);
        });
        x.bool("IsTruncated", false);
        result(x)
    }

    async fn update_access_key(&self) -> Out {
        let key_id = self.p.required("AccessKeyId")?;
        let active = parse_status(self.p.required("Status")?)?;
        let user = self.target_user("iam:UpdateAccessKey").await?;
        self.svc
            .set_access_key_status(&user, key_id, active, self.audit.clone())
            .await
            .map_err(|e| no_such_key(e, key_id))?;
        tracing::info!(account_id = %self.account, access_key = %key_id, active, "access key status changed");
        Ok(None)
    }

    async fn delete_access_key(&self) -> Out {
        let key_id = self.p.required("AccessKeyId")?;
        let user = self.target_user("iam:DeleteAccessKey").await?;
        self.svc.delete_access_key(&user, key_id, self.audit.clone()).await.map_err(|e| no_such_key(e, key_id))?;
        tracing::info!(account_id = %self.account, access_key = %key_id, "access key deleted");
        Ok(None)
    }

    /// Not an AWS action (AWS can only rotate the key): revokes every presigned URL signed so
    /// far with `AccessKeyId`, or with any key or temporary credential of the user. Allowed
    /// as `iam:UpdateAccessKey` on the user.
    async fn revoke_presigned_urls(&self) -> Out {
        let key_id = self.p.get("AccessKeyId");
        let user = self.target_user("iam:UpdateAccessKey").await?;
        let at = match key_id {
            Some(k) => {
                self.svc.revoke_presigned(&user, Some(k), self.audit.clone()).await.map_err(|e| no_such_key(e, k))?
            }
            None => self.svc.revoke_presigned(&user, None, self.audit.clone()).await?,
        };
        let mut x = Xml::new();
        x.elem("UserName", &user.name);
        if let Some(k) = key_id {
            x.elem("AccessKeyId", k);
        }
        x.date("PresignedNotBefore", at);
        result(x)
    }

    // ---- inline policies (users, groups, roles) ----

    async fn put_inline(&self, spec: OwnerSpec, action: &str) -> Out {
        let name = self.p.required("PolicyName")?;
        validate_name("PolicyName", name, MAX_POLICY_NAME)?;
        let document = self.p.required("PolicyDocument")?;
        let (owner_id, _) = self.owner(spec, action).await?;
        check_policy_document(document, PolicyKind::Identity)?;
        let policy = InlinePolicy { name: name.to_owned(), document: document.to_owned() };
        self.svc.store.put_inline_policy(spec.kind, &owner_id, &policy, &self.events).await?;
        tracing::info!(account_id = %self.account, owner = %owner_id, policy = %name, "inline policy put");
        Ok(None)
    }

    async fn get_inline(&self, spec: OwnerSpec, action: &str) -> Out {
        let name = self.p.required("PolicyName")?;
        validate_name("PolicyName", name, MAX_POLICY_NAME)?;
        let (owner_id, owner_name) = self.owner(spec, action).await?;
        let policy = self
            .svc
            .store
            .get_inline_policy(spec.kind, &owner_id, name)
            .await?
            .ok_or_else(|| no_such_inline(spec, name))?;
        let mut x = Xml::new();
        x.elem(spec.param, &owner_name).elem("PolicyName", &policy.name).url("PolicyDocument", &policy.document);
        result(x)
    }

    async fn list_inline(&self, spec: OwnerSpec, action: &str) -> Out {
        let (owner_id, _) = self.owner(spec, action).await?;
        let policies = self.svc.store.list_inline_policies(spec.kind, &owner_id).await?;
        let mut x = Xml::new();
        x.open("PolicyNames");
        for p in &policies {
            x.elem("member", &p.name);
        }
        x.close("PolicyNames").bool("IsTruncated", false);
        result(x)
    }

    async fn delete_inline(&self, spec: OwnerSpec, action: &str) -> Out {
        let name = self.p.required("PolicyName")?;
        validate_name("PolicyName", name, MAX_POLICY_NAME)?;
        let (owner_id, _) = self.owner(spec, action).await?;
        self.svc.store.delete_inline_policy(spec.kind, &owner_id, name, &self.events).await.map_err(|e| match e {
            Error::NoSuchEntity(_) => no_such_inline(spec, name),
            e => e,
        })?;
        tracing::info!(account_id = %self.account, owner = %owner_id, policy = %name, "inline policy deleted");
        Ok(None)
    }

    // ---- managed policies ----

    async fn create_policy(&self) -> Out {
        let name = self.p.required("PolicyName")?;
        validate_name("PolicyName", name, MAX_POLICY_NAME)?;
        let document = self.p.required("PolicyDocument")?;
        let path = self.path_param()?;
        let description = self.p.get("Description").filter(|d| !d.is_empty());
        if description.is_some_and(|d| d.chars().count() > MAX_DESCRIPTION) {
            return Err(Error::ValidationError(format!("Description must be at most {MAX_DESCRIPTION} characters")));
        }
        let arn = self.arn("policy", &path, name);
        self.allow("iam:CreatePolicy", &arn)?;
        check_policy_document(document, PolicyKind::Identity)?;
        let t = now();
        let policy = ManagedPolicy {
            id: ids::unique_id("ANPA"),
            account_id: self.account.to_owned(),
            name: name.to_owned(),
            path,
            arn,
            document: document.to_owned(),
            description: description.map(str::to_owned),
            created_at: t,
            updated_at: t,
        };
        self.svc.store.create_managed_policy(&policy, &self.events).await.map_err(|e| match e {
            Error::EntityAlreadyExists(_) => Error::EntityAlreadyExists(format!(
                "A policy called {name} already exists. Duplicate names are not allowed."
            )),
            e => e,
        })?;
        tracing::info!(account_id = %self.account, policy = %policy.arn, "managed policy created");
        let mut x = Xml::new();
        x.open("Policy");
        write_policy(&mut x, &policy, 0);
        x.close("Policy");
        result(x)
    }

    async fn get_policy(&self) -> Out {
        let policy = self.policy_param("iam:GetPolicy").await?;
        let count = self.attachment_counts().await?.get(&policy.id).copied().unwrap_or(0);
        let mut x = Xml::new();
        x.open("Policy");
        write_policy(&mut x, &policy, count);
        x.close("Policy");
        result(x)
    }

    async fn get_policy_version(&self) -> Out {
        let version = self.p.required("VersionId")?;
        let policy = self.policy_param("iam:GetPolicyVersion").await?;
        if version != POLICY_VERSION {
            return Err(Error::NoSuchEntity(format!(
                "Policy {} version {version} does not exist or is not attachable.",
                policy.arn
            )));
        }
        let mut x = Xml::new();
        x.open("PolicyVersion")
            .url("Document", &policy.document)
            .elem("VersionId", POLICY_VERSION)
            .bool("IsDefaultVersion", true)
            .date("CreateDate", policy.updated_at)
            .close("PolicyVersion");
        result(x)
    }

    async fn list_policy_versions(&self) -> Out {
        let policy = self.policy_param("iam:ListPolicyVersions").await?;
        let mut x = Xml::new();
        x.members("Versions", &[&policy], |x, p| {
            x.elem("VersionId", POLICY_VERSION).bool("IsDefaultVersion", true).date("CreateDate", p.updated_at);
        });
        x.bool("IsTruncated", false);
        result(x)
    }

    async fn list_policies(&self) -> Out {
        self.allow("iam:ListPolicies", &self.all("policy"))?;
        let scope = self.p.get("Scope").unwrap_or("All");
        if !matches!(scope, "All" | "AWS" | "Local") {
            return Err(Error::ValidationError(format!("Scope must be All, AWS or Local, not {scope:?}")));
        }
        let only_attached = self.p.bool("OnlyAttached")?.unwrap_or(false);
        let prefix = self.path_prefix()?;
        let policies: Vec<ManagedPolicy> = if scope == "AWS" {
            Vec::new() // there are no AWS-managed policies here
        } else {
            self.svc.store.list_managed_policies(self.account).await?
        };
        let counts = self.attachment_counts().await?;
        let count = |p: &ManagedPolicy| counts.get(&p.id).copied().unwrap_or(0);
        let listed: Vec<&ManagedPolicy> =
            policies.iter().filter(|p| p.path.starts_with(prefix) && (!only_attached || count(p) > 0)).collect();
        let mut x = Xml::new();
        x.bool("IsTruncated", false);
        x.members("Policies", &listed, |x, p| write_policy(x, p, count(p)));
        result(x)
    }

    async fn delete_policy(&self) -> Out {
        let policy = self.policy_param("iam:DeletePolicy").await?;
        self.svc.store.delete_managed_policy(&policy.id, &self.events).await.map_err(|e| match e {
            Error::NoSuchEntity(_) => no_such_policy(&policy.arn),
            e => e,
        })?;
        tracing::info!(account_id = %self.account, policy = %policy.arn, "managed policy deleted");
        Ok(None)
    }

    // ---- attachments (users, groups, roles) ----

    async fn attach(&self, spec: OwnerSpec, action: &str) -> Out {
        let arn = self.p.required("PolicyArn")?;
        let (owner_id, _) = self.owner_with_policy(spec, action, arn).await?;
        let policy = self.find_policy(arn).await?;
        self.svc.store.attach_policy(&policy.id, spec.kind, &owner_id, &self.events).await?;
        tracing::info!(account_id = %self.account, owner = %owner_id, policy = %policy.arn, "managed policy attached");
        Ok(None)
    }

    async fn detach(&self, spec: OwnerSpec, action: &str) -> Out {
        let arn = self.p.required("PolicyArn")?;
        let (owner_id, _) = self.owner_with_policy(spec, action, arn).await?;
        let policy = self.find_policy(arn).await?;
        self.svc.store.detach_policy(&policy.id, spec.kind, &owner_id, &self.events).await.map_err(|e| match e {
            Error::NoSuchEntity(_) => Error::NoSuchEntity(format!("Policy {arn} was not found.")),
            e => e,
        })?;
        tracing::info!(account_id = %self.account, owner = %owner_id, policy = %policy.arn, "managed policy detached");
        Ok(None)
    }

    /// [`Cx::owner`] authorized with the `iam:PolicyARN` condition key set.
    async fn owner_with_policy(&self, spec: OwnerSpec, action: &str, policy_arn: &str) -> Result<(String, String)> {
        let name = self.p.required(spec.param)?;
        let max = match spec.kind {
            OwnerKind::User => MAX_USER_NAME,
            OwnerKind::Group => MAX_GROUP_NAME,
            OwnerKind::Role => MAX_ROLE_NAME,
        };
        validate_name(spec.param, name, max)?;
        let store = &self.svc.store;
        let (found, kind): (Option<(String, String, String)>, &str) = match spec.kind {
            OwnerKind::User => (
                store.find_user(self.account, name).await?.filter(|u| !u.is_root).map(|u| {
                    let arn = user_arn(&u);
                    (u.id, u.name, arn)
                }),
                "user",
            ),
            OwnerKind::Group => (
                store.find_group(self.account, name).await?.map(|g| {
                    let arn = self.arn("group", &g.path, &g.name);
                    (g.id, g.name, arn)
                }),
                "group",
            ),
            OwnerKind::Role => (
                store.find_role(self.account, name).await?.map(|r| {
                    let arn = role_arn(&r);
                    (r.id, r.name, arn)
                }),
                "role",
            ),
        };
        let arn = found.as_ref().map_or_else(|| self.arn(kind, "/", name), |(_, _, arn)| arn.clone());
        self.allow_with(action, &arn, "iam:PolicyARN", policy_arn)?;
        let (id, name, _) = found.ok_or_else(|| no_such(spec, name))?;
        Ok((id, name))
    }

    async fn list_attached(&self, spec: OwnerSpec, action: &str) -> Out {
        let (owner_id, _) = self.owner(spec, action).await?;
        let prefix = self.path_prefix()?;
        let policies: Vec<ManagedPolicy> = self
            .svc
            .store
            .attached_policies(spec.kind, &owner_id)
            .await?
            .into_iter()
            .filter(|p| p.path.starts_with(prefix))
            .collect();
        let mut x = Xml::new();
        x.members("AttachedPolicies", &policies, |x, p| {
            x.elem("PolicyName", &p.name).elem("PolicyArn", &p.arn);
        });
        x.bool("IsTruncated", false);
        result(x)
    }

    // ---- groups ----

    async fn create_group(&self) -> Out {
        let name = self.p.required("GroupName")?;
        validate_name("GroupName", name, MAX_GROUP_NAME)?;
        let path = self.path_param()?;
        self.allow("iam:CreateGroup", &self.arn("group", &path, name))?;
        let group = Group {
            id: ids::unique_id("AGPA"),
            account_id: self.account.to_owned(),
            name: name.to_owned(),
            path,
            created_at: now(),
        };
        self.svc.store.create_group(&group, &self.events).await.map_err(|e| match e {
            Error::EntityAlreadyExists(_) => {
                Error::EntityAlreadyExists(format!("Group with name {name} already exists."))
            }
            e => e,
        })?;
        tracing::info!(account_id = %self.account, group_id = %group.id, "IAM group created");
        let mut x = Xml::new();
        x.open("Group");
        self.write_group(&mut x, &group);
        x.close("Group");
        result(x)
    }

    async fn get_group(&self) -> Out {
        let group = self.group_param("iam:GetGroup").await?;
        let members: Vec<User> = self.svc.store.members(&group.id).await?.into_iter().filter(|u| !u.is_root).collect();
        let mut x = Xml::new();
        x.open("Group");
        self.write_group(&mut x, &group);
        x.close("Group");
        x.members("Users", &members, write_user);
        x.bool("IsTruncated", false);
        result(x)
    }

    async fn list_groups(&self) -> Out {
        self.allow("iam:ListGroups", &self.all("group"))?;
        let prefix = self.path_prefix()?;
        let groups: Vec<Group> = self
            .svc
            .store
            .list_groups(self.account)
            .await?
            .into_iter()
            .filter(|g| g.path.starts_with(prefix))
            .collect();
        let mut x = Xml::new();
        x.members("Groups", &groups, |x, g| self.write_group(x, g));
        x.bool("IsTruncated", false);
        result(x)
    }

    async fn delete_group(&self) -> Out {
        let group = self.group_param("iam:DeleteGroup").await?;
        self.svc.store.delete_group(&group.id, &self.events).await.map_err(|e| match e {
            Error::NoSuchEntity(_) => no_such_group(&group.name),
            e => e,
        })?;
        tracing::info!(account_id = %self.account, group_id = %group.id, "IAM group deleted");
        Ok(None)
    }

    async fn add_user_to_group(&self) -> Out {
        let user_name = self.p.required("UserName")?;
        validate_name("UserName", user_name, MAX_USER_NAME)?;
        let group = self.group_param("iam:AddUserToGroup").await?;
        let user = self.existing_user(user_name).await?;
        self.svc.store.add_member(&group.id, &user.id, &self.events).await?;
        tracing::info!(account_id = %self.account, group_id = %group.id, user_id = %user.id, "user added to group");
        Ok(None)
    }

    async fn remove_user_from_group(&self) -> Out {
        let user_name = self.p.required("UserName")?;
        validate_name("UserName", user_name, MAX_USER_NAME)?;
        let group = self.group_param("iam:RemoveUserFromGroup").await?;
        let user = self.existing_user(user_name).await?;
        self.svc.store.remove_member(&group.id, &user.id, &self.events).await.map_err(|e| match e {
            Error::NoSuchEntity(_) => Error::NoSuchEntity(format!(
                "The user with name {} is not a member of the group {}.",
                user.name, group.name
            )),
            e => e,
        })?;
        tracing::info!(account_id = %self.account, group_id = %group.id, user_id = %user.id, "user removed from group");
        Ok(None)
    }

    /// An IAM user of the account, by name, with no authorization of its own (the group action
    /// was authorized).
    async fn existing_user(&self, name: &str) -> Result<User> {
        self.svc.store.find_user(self.account, name).await?.filter(|u| !u.is_root).ok_or_else(|| no_such_user(name))
    }

    async fn list_groups_for_user(&self) -> Out {
        let user = self.user_param("iam:ListGroupsForUser").await?;
        let groups = self.svc.store.groups_of_user(&user.id).await?;
        let mut x = Xml::new();
        x.members("Groups", &groups, |x, g| self.write_group(x, g));
        x.bool("IsTruncated", false);
        result(x)
    }

    fn write_group(&self, x: &mut Xml, g: &Group) {
        x.elem("Path", &g.path)
            .elem("GroupName", &g.name)
            .elem("GroupId", &g.id)
            .elem("Arn", &self.arn("group", &g.path, &g.name))
            .date("CreateDate", g.created_at);
    }

    // ---- roles ----

    async fn create_role(&self) -> Out {
        let name = self.p.required("RoleName")?;
        validate_name("RoleName", name, MAX_ROLE_NAME)?;
        let trust = self.p.required("AssumeRolePolicyDocument")?;
        let path = self.path_param()?;
        let description = self.p.get("Description").filter(|d| !d.is_empty());
        if description.is_some_and(|d| d.chars().count() > MAX_DESCRIPTION) {
            return Err(Error::ValidationError(format!("Description must be at most {MAX_DESCRIPTION} characters")));
        }
        let max_session = self.p.int("MaxSessionDuration")?.unwrap_or(MIN_ROLE_SESSION);
        if !(MIN_ROLE_SESSION..=MAX_ROLE_SESSION).contains(&max_session) {
            return Err(Error::ValidationError(format!(
                "1 validation error detected: Value '{max_session}' at 'maxSessionDuration' failed to satisfy \
                 constraint: Member must have value between {MIN_ROLE_SESSION} and {MAX_ROLE_SESSION}"
            )));
        }
        self.allow("iam:CreateRole", &self.arn("role", &path, name))?;
        check_policy_document(trust, PolicyKind::Trust)?;
        let role = Role {
            id: ids::unique_id("AROA"),
            account_id: self.account.to_owned(),
            name: name.to_owned(),
            path,
            trust_policy: trust.to_owned(),
            description: description.map(str::to_owned),
            max_session_secs: max_session,
            created_at: now(),
        };
        self.svc.store.create_role(&role, &self.events).await.map_err(|e| match e {
            Error::EntityAlreadyExists(_) => {
                Error::EntityAlreadyExists(format!("Role with name {name} already exists."))
            }
            e => e,
        })?;
        tracing::info!(account_id = %self.account, role_id = %role.id, "IAM role created");
        let mut x = Xml::new();
        x.open("Role");
        write_role(&mut x, &role);
        x.close("Role");
        result(x)
    }

    async fn get_role(&self) -> Out {
        let role = self.role_param("iam:GetRole").await?;
        let mut x = Xml::new();
        x.open("Role");
        write_role(&mut x, &role);
        x.close("Role");
        result(x)
    }

    async fn list_roles(&self) -> Out {
        self.allow("iam:ListRoles", &self.all("role"))?;
        let prefix = self.path_prefix()?;
        let roles: Vec<Role> =
            self.svc.store.list_roles(self.account).await?.into_iter().filter(|r| r.path.starts_with(prefix)).collect();
        let mut x = Xml::new();
        x.members("Roles", &roles, write_role);
        x.bool("IsTruncated", false);
        result(x)
    }

    async fn delete_role(&self) -> Out {
        let role = self.role_param("iam:DeleteRole").await?;
        self.svc.store.delete_role(&role.id, &self.events).await.map_err(|e| match e {
            Error::NoSuchEntity(_) => no_such_role(&role.name),
            e => e,
        })?;
        tracing::info!(account_id = %self.account, role_id = %role.id, "IAM role deleted");
        Ok(None)
    }
}

// ---- shapes ----

fn write_user(x: &mut Xml, u: &User) {
    x.elem("Path", &u.path)
        .elem("UserName", &u.name)
        .elem("UserId", &u.id)
        .elem("Arn", &user_arn(u))
        .date("CreateDate", u.created_at);
}

fn write_role(x: &mut Xml, r: &Role) {
    x.elem("Path", &r.path)
        .elem("RoleName", &r.name)
        .elem("RoleId", &r.id)
        .elem("Arn", &role_arn(r))
        .date("CreateDate", r.created_at)
        .url("AssumeRolePolicyDocument", &r.trust_policy)
        .opt("Description", r.description.as_deref())
        .num("MaxSessionDuration", r.max_session_secs);
}

fn write_policy(x: &mut Xml, p: &ManagedPolicy, attachments: i64) {
    x.elem("PolicyName", &p.name)
        .elem("PolicyId", &p.id)
        .elem("Arn", &p.arn)
        .elem("Path", &p.path)
        .elem("DefaultVersionId", POLICY_VERSION)
        .num("AttachmentCount", attachments)
        .num("PermissionsBoundaryUsageCount", 0)
        .bool("IsAttachable", true)
        .opt("Description", p.description.as_deref())
        .date("CreateDate", p.created_at)
        .date("UpdateDate", p.updated_at);
}

// ---- errors ----

/// The account of `arn:aws:iam::ACCOUNT:policy/…`.
fn policy_arn_account(arn: &str) -> Option<&str> {
    let (account, resource) = arn.strip_prefix("arn:aws:iam::")?.split_once(':')?;
    resource.strip_prefix("policy/")?;
    Some(account)
}

fn no_such_user(name: &str) -> Error {
    Error::NoSuchEntity(format!("The user with name {name} cannot be found."))
}

fn no_such_group(name: &str) -> Error {
    Error::NoSuchEntity(format!("The group with name {name} cannot be found."))
}

fn no_such_role(name: &str) -> Error {
    Error::NoSuchEntity(format!("The role with name {name} cannot be found."))
}

fn no_such(spec: OwnerSpec, name: &str) -> Error {
    Error::NoSuchEntity(format!("The {} with name {name} cannot be found.", spec.noun))
}

fn no_such_inline(spec: OwnerSpec, name: &str) -> Error {
    Error::NoSuchEntity(format!("The {} policy with name {name} cannot be found.", spec.noun))
}

fn no_such_policy(arn: &str) -> Error {
    Error::NoSuchEntity(format!("Policy {arn} does not exist or is not attachable."))
}

fn no_such_key(e: Error, key_id: &str) -> Error {
    match e {
        Error::NoSuchEntity(_) => Error::NoSuchEntity(format!("The Access Key with id {key_id} cannot be found.")),
        e => e,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params() {
        let p = Params::new(vec![
            ("Action".into(), "CreateUser".into()),
            ("UserName".into(), "bob".into()),
            ("Empty".into(), String::new()),
            ("MaxItems".into(), "12".into()),
            ("Bad".into(), "x".into()),
            ("Tags.member.1.Key".into(), "k".into()),
        ]);
        assert_eq!(p.get("UserName"), Some("bob"));
        assert_eq!(p.get("username"), None);
        assert_eq!(p.required("UserName").ok(), Some("bob"));
        let missing = p.required("PolicyArn").expect_err("missing");
        assert_eq!(missing.code(), "ValidationError");
        assert!(missing.to_string().contains("'policyArn'"), "{missing}");
        assert!(p.required("Empty").is_err());
        assert_eq!(p.int("MaxItems").ok().flatten(), Some(12));
        assert_eq!(p.int("Nope").ok().flatten(), None);
        assert!(p.int("Bad").is_err());
        assert!(p.has_prefix("Tags"));
        assert!(!p.has_prefix("Tag"));
    }

    #[test]
    fn policy_arn_accounts() {
        assert_eq!(policy_arn_account("arn:aws:iam::123456789012:policy/a/B"), Some("123456789012"));
        assert_eq!(policy_arn_account("arn:aws:iam::aws:policy/ReadOnlyAccess"), Some("aws"));
        assert_eq!(policy_arn_account("arn:aws:iam::123456789012:user/B"), None);
        assert_eq!(policy_arn_account("nonsense"), None);
    }
}

//! Where identities live: accounts, users, groups, roles, policies and access keys, in the same
//! SQL database as the object metadata (PostgreSQL in production, SQLite embedded).
//!
//! One trait, [`IamStore`], and one SQL implementation written once for both databases
//! ([`sql`]): the statements use `$N` parameters and portable SQL (`ON CONFLICT`, `||`), which
//! both sqlx drivers accept.

mod sql;
pub mod suite;

use async_trait::async_trait;

pub use sql::{PgIamStore, SqliteIamStore};

use cloudstore_store_api::OutboxEvent;

use crate::error::Result;

/// An account: owns buckets, users, groups, roles and policies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// Twelve digits, as in AWS.
    pub id: String,
    /// The account's login name (also its root user's name), unique platform-wide.
    pub name: String,
    /// Unix seconds.
    pub created_at: i64,
}

/// A user: the account's root user (created with the account) or an IAM user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Unique id (`AIDA...`).
    pub id: String,
    pub account_id: String,
    pub name: String,
    /// IAM path, `/` by default.
    pub path: String,
    /// The account's root user (registered through the REST API).
    pub is_root: bool,
    pub email: Option<String>,
    pub display_name: Option<String>,
    /// argon2id PHC string; `None` for users without password login.
    pub password_hash: Option<String>,
    pub created_at: i64,
    /// Presigned URLs signed at or before this time (unix seconds) with any key or temporary
    /// credential of this user are refused (see [`IamStore::revoke_presigned`]).
    pub presigned_not_before: Option<i64>,
}

/// An IAM group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// Unique id (`AGPA...`).
    pub id: String,
    pub account_id: String,
    pub name: String,
    pub path: String,
    pub created_at: i64,
}

/// An IAM role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Role {
    /// Unique id (`AROA...`).
    pub id: String,
    pub account_id: String,
    pub name: String,
    pub path: String,
    /// The trust policy (`AssumeRolePolicyDocument`), JSON text.
    pub trust_policy: String,
    pub description: Option<String>,
    pub max_session_secs: i64,
    pub created_at: i64,
}

/// What an inline policy or a policy attachment belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OwnerKind {
    User,
    Group,
    Role,
}

impl OwnerKind {
    /// The value stored in `owner_kind` columns.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Group => "group",
            Self::Role => "role",
        }
    }
}

/// An inline policy: a named document embedded in one user, group or role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InlinePolicy {
    pub name: String,
    pub document: String,
}

/// A customer-managed policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManagedPolicy {
    /// Unique id (`ANPA...`).
    pub id: String,
    pub account_id: String,
    pub name: String,
    pub path: String,
    pub arn: String,
    pub document: String,
    pub description: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A long-term SigV4 key pair of a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessKey {
    /// The access key id (`AKIA...`).
    pub id: String,
    pub user_id: String,
    pub account_id: String,
    /// The secret, sealed with the service's master key ([`crate::crypto::Keyring`]).
    pub secret_sealed: String,
    pub active: bool,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    /// Presigned URLs signed with this key at or before this time (unix seconds) are refused.
    pub presigned_not_before: Option<i64>,
}

/// A policy document that applies to a principal, labelled with where it comes from
/// (`user/inline/NAME`, `group/G/attached/ARN`, ...), for explanations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelledPolicy {
    pub label: String,
    pub document: String,
}

/// The identity database. Name lookups are case-insensitive, as in AWS IAM.
///
/// Every method that changes something takes the identity `events` describing the change and
/// writes them to the event outbox in the change's own transaction (ADR 0006): the change and
/// its events commit together or not at all. A refused change writes none.
#[async_trait]
pub trait IamStore: Send + Sync + std::fmt::Debug {
    /// Whether the database answers.
    async fn ping(&self) -> Result<()>;
    /// Appends identity events that go with no change of this database (logins, failed logins
    /// and revoked sessions, which are session-store state) to its event outbox (ADR 0006; the
    /// gateway's relay publishes them with the others).
    async fn append_events(&self, events: &[OutboxEvent]) -> Result<()>;

    // ---- accounts ----
    /// Creates an account and its root user in one transaction (`EntityAlreadyExists` if the
    /// name is taken).
    async fn create_account(&self, account: &Account, root: &User, events: &[OutboxEvent]) -> Result<()>;
    async fn get_account(&self, id: &str) -> Result<Option<Account>>;
    async fn find_account(&self, name: &str) -> Result<Option<Account>>;
    async fn list_accounts(&self) -> Result<Vec<Account>>;
    /// Deletes an account with everything inside it.
    async fn delete_account(&self, id: &str, events: &[OutboxEvent]) -> Result<()>;

    // ---- users ----
    async fn create_user(&self, user: &User, events: &[OutboxEvent]) -> Result<()>;
    async fn get_user(&self, id: &str) -> Result<Option<User>>;
    async fn find_user(&self, account_id: &str, name: &str) -> Result<Option<User>>;
    /// The account's root user.
    async fn root_user(&self, account_id: &str) -> Result<Option<User>>;
    /// Root users whose e-mail address is `email` (compared case-insensitively), at most two:
    /// an S3 ACL grant by e-mail names the one account, or is ambiguous.
    async fn roots_by_email(&self, email: &str) -> Result<Vec<User>>;
    /// Users of the account (root excluded), by name.
    async fn list_users(&self, account_id: &str) -> Result<Vec<User>>;
    async fn update_profile(
        &self,
        user_id: &str,
        email: Option<&str>,
        display_name: Option<&str>,
        events: &[OutboxEvent],
    ) -> Result<()>;
    async fn set_password(&self, user_id: &str, hash: &str, events: &[OutboxEvent]) -> Result<()>;
    /// `DeleteConflict` while the user has access keys, policies or group memberships (as AWS).
    async fn delete_user(&self, user_id: &str, events: &[OutboxEvent]) -> Result<()>;

    // ---- groups ----
    async fn create_group(&self, group: &Group, events: &[OutboxEvent]) -> Result<()>;
    async fn find_group(&self, account_id: &str, name: &str) -> Result<Option<Group>>;
    async fn list_groups(&self, account_id: &str) -> Result<Vec<Group>>;
    /// `DeleteConflict` while the group has members or policies.
    async fn delete_group(&self, group_id: &str, events: &[OutboxEvent]) -> Result<()>;
    async fn add_member(&self, group_id: &str, user_id: &str, events: &[OutboxEvent]) -> Result<()>;
    /// `NoSuchEntity` if the user is not a member.
    async fn remove_member(&self, group_id: &str, user_id: &str, events: &[OutboxEvent]) -> Result<()>;
    async fn groups_of_user(&self, user_id: &str) -> Result<Vec<Group>>;
    async fn members(&self, group_id: &str) -> Result<Vec<User>>;

    // ---- roles ----
    async fn create_role(&self, role: &Role, events: &[OutboxEvent]) -> Result<()>;
    async fn find_role(&self, account_id: &str, name: &str) -> Result<Option<Role>>;
    async fn list_roles(&self, account_id: &str) -> Result<Vec<Role>>;
    /// `DeleteConflict` while the role has policies.
    async fn delete_role(&self, role_id: &str, events: &[OutboxEvent]) -> Result<()>;

    // ---- inline policies ----
    /// Creates or replaces.
    async fn put_inline_policy(
        &self,
        kind: OwnerKind,
        owner_id: &str,
        policy: &InlinePolicy,
        events: &[OutboxEvent],
    ) -> Result<()>;
    async fn get_inline_policy(&self, kind: OwnerKind, owner_id: &str, name: &str) -> Result<Option<InlinePolicy>>;
    async fn list_inline_policies(&self, kind: OwnerKind, owner_id: &str) -> Result<Vec<InlinePolicy>>;
    /// `NoSuchEntity` if absent.
    async fn delete_inline_policy(
        &self,
        kind: OwnerKind,
        owner_id: &str,
        name: &str,
        events: &[OutboxEvent],
    ) -> Result<()>;

    // ---- managed policies ----
    async fn create_managed_policy(&self, policy: &ManagedPolicy, events: &[OutboxEvent]) -> Result<()>;
    async fn get_managed_policy(&self, arn: &str) -> Result<Option<ManagedPolicy>>;
    async fn list_managed_policies(&self, account_id: &str) -> Result<Vec<ManagedPolicy>>;
    /// `DeleteConflict` while attached anywhere.
    async fn delete_managed_policy(&self, policy_id: &str, events: &[OutboxEvent]) -> Result<()>;
    /// Idempotent.
    async fn attach_policy(
        &self,
        policy_id: &str,
        kind: OwnerKind,
        owner_id: &str,
        events: &[OutboxEvent],
    ) -> Result<()>;
    /// `NoSuchEntity` if not attached.
    async fn detach_policy(
        &self,
        policy_id: &str,
        kind: OwnerKind,
        owner_id: &str,
        events: &[OutboxEvent],
    ) -> Result<()>;
    async fn attached_policies(&self, kind: OwnerKind, owner_id: &str) -> Result<Vec<ManagedPolicy>>;
    /// Every policy document that applies to the user (own and through groups, inline and
    /// attached), or to the role.
    async fn effective_policies(&self, kind: OwnerKind, owner_id: &str) -> Result<Vec<LabelledPolicy>>;

    // ---- access keys ----
    async fn create_access_key(&self, key: &AccessKey, events: &[OutboxEvent]) -> Result<()>;
    async fn get_access_key(&self, id: &str) -> Result<Option<AccessKey>>;
    async fn list_access_keys(&self, user_id: &str) -> Result<Vec<AccessKey>>;
    /// `NoSuchEntity` if the key is not the user's.
    async fn set_access_key_active(
        &self,
        user_id: &str,
        key_id: &str,
        active: bool,
        events: &[OutboxEvent],
    ) -> Result<()>;
    /// `NoSuchEntity` if the key is not the user's.
    async fn delete_access_key(&self, user_id: &str, key_id: &str, events: &[OutboxEvent]) -> Result<()>;
    /// Revokes the presigned URLs signed up to `at` (unix seconds, never moved back): those of
    /// one key of the user, or (`key_id` `None`) of all its keys and temporary credentials.
    /// `NoSuchEntity` if the key is not the user's.
    async fn revoke_presigned(
        &self,
        user_id: &str,
        key_id: Option<&str>,
        at: i64,
        events: &[OutboxEvent],
    ) -> Result<()>;
    /// Records a use (callers throttle this).
    async fn touch_access_key(&self, key_id: &str, at: i64) -> Result<()>;
}

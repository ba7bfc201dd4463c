//! [`IamStore`] on sqlx, written once for PostgreSQL and SQLite (see the module docs of
//! [`crate::store`]). The schema is in `migrations/{postgres,sqlite}/0002_iam.sql`; both the
//! metadata store and this store run the same embedded migrations, whichever connects first.

use std::path::Path;
use std::time::Duration;

use async_trait::async_trait;
use cloudstore_store_api::OutboxEvent;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};

use super::{AccessKey, Account, Group, IamStore, InlinePolicy, LabelledPolicy, ManagedPolicy, OwnerKind, Role, User};
use crate::error::{Error, Result};

cloudstore_outbox::sql_outbox!(pg_outbox, sqlx::Postgres);
cloudstore_outbox::sql_outbox!(sqlite_outbox, sqlx::Sqlite);

static PG_MIGRATOR: Migrator = sqlx::migrate!("../migrations/postgres");
static SQLITE_MIGRATOR: Migrator = sqlx::migrate!("../migrations/sqlite");

const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(30);

/// [`IamStore`] on PostgreSQL.
#[derive(Debug, Clone)]
pub struct PgIamStore {
    pool: PgPool,
}

impl PgIamStore {
    /// Connects and applies pending migrations.
    pub async fn connect(url: &str) -> Result<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect(url)
            .await
            .map_err(db_err)?;
        PG_MIGRATOR.run(&pool).await.map_err(|e| Error::Unavailable(format!("migrations: {e}")))?;
        Ok(Self { pool })
    }
}

/// [`IamStore`] on SQLite. One connection: identity changes are rare, key lookups are cached
/// by the gateway, and a single writer never meets `SQLITE_BUSY` on a lock upgrade.
#[derive(Debug, Clone)]
pub struct SqliteIamStore {
    pool: SqlitePool,
}

impl SqliteIamStore {
    /// Opens (creating if missing) the database file and applies pending migrations.
    pub async fn open(path: &Path) -> Result<Self> {
        // Readable by its owner only (0600), whatever the umask; SQLite gives its -wal and
        // -shm files the database file's mode.
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            match std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path) {
                Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => {
                    return Err(Error::Unavailable(format!("{}: {e}", path.display())));
                }
                _ => {}
            }
        }
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .busy_timeout(Duration::from_secs(5))
            .foreign_keys(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal);
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options)
            .await
            .map_err(db_err)?;
        SQLITE_MIGRATOR.run(&pool).await.map_err(|e| Error::Unavailable(format!("migrations: {e}")))?;
        Ok(Self { pool })
    }
}

fn db_err(e: sqlx::Error) -> Error {
    match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => Error::EntityAlreadyExists(String::new()),
        sqlx::Error::Database(d) if d.is_foreign_key_violation() => Error::NoSuchEntity(String::new()),
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) | sqlx::Error::WorkerCrashed => {
            Error::Unavailable(format!("identity database: {e}"))
        }
        _ => Error::Internal(format!("identity database: {e}")),
    }
}

/// Attaches a message to a store error with an empty one.
fn named(e: Error, what: &str) -> Error {
    match e {
        Error::EntityAlreadyExists(m) if m.is_empty() => Error::EntityAlreadyExists(format!("{what} already exists.")),
        Error::NoSuchEntity(m) if m.is_empty() => Error::NoSuchEntity(format!("{what} cannot be found.")),
        e => e,
    }
}

fn key(name: &str) -> String {
    name.to_lowercase()
}

#[derive(sqlx::FromRow)]
struct AccountRow {
    id: String,
    name: String,
    created_at: i64,
}

impl From<AccountRow> for Account {
    fn from(r: AccountRow) -> Self {
        Self { id: r.id, name: r.name, created_at: r.created_at }
    }
}

#[derive(sqlx::FromRow)]
struct UserRow {
    id: String,
    account_id: String,
    name: String,
    path: String,
    is_root: bool,
    email: Option<String>,
    display_name: Option<String>,
    password_hash: Option<String>,
    created_at: i64,
    presigned_not_before: Option<i64>,
}

impl From<UserRow> for User {
    fn from(r: UserRow) -> Self {
        Self {
            id: r.id,
            account_id: r.account_id,
            name: r.name,
            path: r.path,
            is_root: r.is_root,
            email: r.email,
            display_name: r.display_name,
            password_hash: r.password_hash,
            created_at: r.created_at,
            presigned_not_before: r.presigned_not_before,
        }
    }
}

#[derive(sqlx::FromRow)]
struct GroupRow {
    id: String,
    account_id: String,
    name: String,
    path: String,
    created_at: i64,
}

impl From<GroupRow> for Group {
    fn from(r: GroupRow) -> Self {
        Self { id: r.id, account_id: r.account_id, name: r.name, path: r.path, created_at: r.created_at }
    }
}

#[derive(sqlx::FromRow)]
struct RoleRow {
    id: String,
    account_id: String,
    name: String,
    path: String,
    trust_policy: String,
    description: Option<String>,
    max_session_secs: i64,
    created_at: i64,
}

impl From<RoleRow> for Role {
    fn from(r: RoleRow) -> Self {
        Self {
            id: r.id,
            account_id: r.account_id,
            name: r.name,
            path: r.path,
            trust_policy: r.trust_policy,
            description: r.description,
            max_session_secs: r.max_session_secs,
            created_at: r.created_at,
        }
    }
}

#[derive(sqlx::FromRow)]
struct PolicyRow {
    id: String,
    account_id: String,
    name: String,
    path: String,
    arn: String,
    document: String,
    description: Option<String>,
    created_at: i64,
    updated_at: i64,
}

impl From<PolicyRow> for ManagedPolicy {
    fn from(r: PolicyRow) -> Self {
        Self {
            id: r.id,
            account_id: r.account_id,
            name: r.name,
            path: r.path,
            arn: r.arn,
            document: r.document,
            description: r.description,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

#[derive(sqlx::FromRow)]
struct KeyRow {
    id: String,
    user_id: String,
    account_id: String,
    secret_sealed: String,
    active: bool,
    created_at: i64,
    last_used_at: Option<i64>,
    presigned_not_before: Option<i64>,
}

impl From<KeyRow> for AccessKey {
    fn from(r: KeyRow) -> Self {
        Self {
            id: r.id,
            user_id: r.user_id,
            account_id: r.account_id,
            secret_sealed: r.secret_sealed,
            active: r.active,
            created_at: r.created_at,
            last_used_at: r.last_used_at,
            presigned_not_before: r.presigned_not_before,
        }
    }
}

const USER_COLS: &str =
    "id, account_id, name, path, is_root, email, display_name, password_hash, created_at, presigned_not_before";
const ROLE_COLS: &str = "id, account_id, name, path, trust_policy, description, max_session_secs, created_at";
const POLICY_COLS: &str = "id, account_id, name, path, arn, document, description, created_at, updated_at";

/// The policies that apply to a user: inline and attached, its own and its groups'.
const USER_POLICIES: &str = "\
    SELECT 'user/inline/' || i.name AS label, i.document AS document FROM iam_inline_policies i \
        WHERE i.owner_kind = 'user' AND i.owner_id = $1 \
    UNION ALL SELECT 'user/attached/' || p.arn, p.document FROM iam_policy_attachments a \
        JOIN iam_managed_policies p ON p.id = a.policy_id WHERE a.owner_kind = 'user' AND a.owner_id = $1 \
    UNION ALL SELECT 'group/' || g.name || '/inline/' || i.name, i.document FROM iam_group_members m \
        JOIN iam_groups g ON g.id = m.group_id \
        JOIN iam_inline_policies i ON i.owner_kind = 'group' AND i.owner_id = g.id WHERE m.user_id = $1 \
    UNION ALL SELECT 'group/' || g.name || '/attached/' || p.arn, p.document FROM iam_group_members m \
        JOIN iam_groups g ON g.id = m.group_id \
        JOIN iam_policy_attachments a ON a.owner_kind = 'group' AND a.owner_id = g.id \
        JOIN iam_managed_policies p ON p.id = a.policy_id WHERE m.user_id = $1";

/// The policies of a role (or group): inline and attached.
const OWN_POLICIES: &str = "\
    SELECT $2 || '/inline/' || i.name AS label, i.document AS document FROM iam_inline_policies i \
        WHERE i.owner_kind = $2 AND i.owner_id = $1 \
    UNION ALL SELECT $2 || '/attached/' || p.arn, p.document FROM iam_policy_attachments a \
        JOIN iam_managed_policies p ON p.id = a.policy_id WHERE a.owner_kind = $2 AND a.owner_id = $1";

/// Inserts a user through `$executor` (a pool or a transaction of either database).
macro_rules! insert_user {
    ($executor:expr, $user:expr) => {{
        let user: &User = $user;
        sqlx::query(
            "INSERT INTO iam_users (id, account_id, name, name_key, path, is_root, email, display_name, \
             password_hash, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(&user.id)
        .bind(&user.account_id)
        .bind(&user.name)
        .bind(key(&user.name))
        .bind(&user.path)
        .bind(user.is_root)
        .bind(&user.email)
        .bind(&user.display_name)
        .bind(&user.password_hash)
        .bind(user.created_at)
        .execute($executor)
        .await
        .map(|_| ())
        .map_err(|e| named(db_err(e), &format!("User with name {}", user.name)))
    }};
}

macro_rules! sql_iam_store {
    ($store:ty, $db:ty, $outbox:ident) => {
        impl $store {
            /// Writes a change's identity events in its transaction, then commits both.
            async fn commit(&self, mut tx: sqlx::Transaction<'_, $db>, events: &[OutboxEvent]) -> Result<()> {
                $outbox::insert(&mut *tx, events).await.map_err(db_err)?;
                tx.commit().await.map_err(db_err)
            }
        }

        #[async_trait]
        impl IamStore for $store {
            async fn ping(&self) -> Result<()> {
                sqlx::query("SELECT 1").execute(&self.pool).await.map_err(db_err)?;
                Ok(())
            }

            async fn append_events(&self, events: &[OutboxEvent]) -> Result<()> {
                if events.is_empty() {
                    return Ok(());
                }
                let mut conn = self.pool.acquire().await.map_err(db_err)?;
                $outbox::insert(&mut conn, events).await.map_err(db_err)
            }

            async fn create_account(&self, account: &Account, root: &User, events: &[OutboxEvent]) -> Result<()> {
                let mut tx = self.pool.begin().await.map_err(db_err)?;
                sqlx::query("INSERT INTO iam_accounts (id, name, name_key, created_at) VALUES ($1, $2, $3, $4)")
                    .bind(&account.id)
                    .bind(&account.name)
                    .bind(key(&account.name))
                    .bind(account.created_at)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| named(db_err(e), &format!("Account {}", account.name)))?;
                insert_user!(&mut *tx, root)?;
                self.commit(tx, events).await
            }

            async fn get_account(&self, id: &str) -> Result<Option<Account>> {
                let row: Option<AccountRow> =
                    sqlx::query_as("SELECT id, name, created_at FROM iam_accounts WHERE id = $1")
                        .bind(id)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(db_err)?;
                Ok(row.map(Into::into))
            }

            async fn find_account(&self, name: &str) -> Result<Option<Account>> {
                let row: Option<AccountRow> =
                    sqlx::query_as("SELECT id, name, created_at FROM iam_accounts WHERE name_key = $1")
                        .bind(key(name))
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(db_err)?;
                Ok(row.map(Into::into))
            }

            async fn list_accounts(&self) -> Result<Vec<Account>> {
                let rows: Vec<AccountRow> =
                    sqlx::query_as("SELECT id, name, created_at FROM iam_accounts ORDER BY name_key")
                        .fetch_all(&self.pool)
                        .await
                        .map_err(db_err)?;
                Ok(rows.into_iter().map(Into::into).collect())
            }

            async fn delete_account(&self, id: &str, events: &[OutboxEvent]) -> Result<()> {
                let mut tx = self.pool.begin().await.map_err(db_err)?;
                // Inline policies and attachments have no foreign key to their owner (it may be
                // a user, group or role): delete them explicitly.
                for kind in ["user", "group", "role"] {
                    let table = match kind {
                        "user" => "iam_users",
                        "group" => "iam_groups",
                        _ => "iam_roles",
                    };
                    for policy_table in ["iam_inline_policies", "iam_policy_attachments"] {
                        let sql = format!(
                            "DELETE FROM {policy_table} WHERE owner_kind = $1 AND owner_id IN \
                             (SELECT id FROM {table} WHERE account_id = $2)"
                        );
                        sqlx::query(sqlx::AssertSqlSafe(sql)).bind(kind).bind(id).execute(&mut *tx).await.map_err(db_err)?;
                    }
                }
                let done = sqlx::query("DELETE FROM iam_accounts WHERE id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                if done.rows_affected() == 0 {
                    return Err(Error::NoSuchEntity(format!("The account {id} cannot be found.")));
                }
                self.commit(tx, events).await
            }

            async fn create_user(&self, user: &User, events: &[OutboxEvent]) -> Result<()> {
                let mut tx = self.pool.begin().await.map_err(db_err)?;
                insert_user!(&mut *tx, user)?;
                self.commit(tx, events).await
            }

            async fn get_user(&self, id: &str) -> Result<Option<User>> {
                let sql = format!("SELECT {USER_COLS} FROM iam_users WHERE id = $1");
                let row: Option<UserRow> =
                    sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(&self.pool).await.map_err(db_err)?;
                Ok(row.map(Into::into))
            }

            async fn find_user(&self, account_id: &str, name: &str) -> Result<Option<User>> {
                let sql = format!("SELECT {USER_COLS} FROM iam_users WHERE account_id = $1 AND name_key = $2");
                let row: Option<UserRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
                    .bind(account_id)
                    .bind(key(name))
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db_err)?;
                Ok(row.map(Into::into))
            }

            async fn root_user(&self, account_id: &str) -> Result<Option<User>> {
                let sql = format!("SELECT {USER_COLS} FROM iam_users WHERE account_id = $1 AND is_root");
                let row: Option<UserRow> =
                    sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(account_id).fetch_optional(&self.pool).await.map_err(db_err)?;
                Ok(row.map(Into::into))
            }

            async fn roots_by_email(&self, email: &str) -> Result<Vec<User>> {
                let sql = format!(
                    "SELECT {USER_COLS} FROM iam_users WHERE is_root AND lower(email) = lower($1) ORDER BY account_id LIMIT 2"
                );
                let rows: Vec<UserRow> =
                    sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(email).fetch_all(&self.pool).await.map_err(db_err)?;
                Ok(rows.into_iter().map(Into::into).collect())
            }

            async fn list_users(&self, account_id: &str) -> Result<Vec<User>> {
                let sql = format!(
                    "SELECT {USER_COLS} FROM iam_users WHERE account_id = $1 AND NOT is_root ORDER BY name_key"
                );
                let rows: Vec<UserRow> =
                    sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(account_id).fetch_all(&self.pool).await.map_err(db_err)?;
                Ok(rows.into_iter().map(Into::into).collect())
            }

            async fn update_profile(
                &self,
                user_id: &str,
                email: Option<&str>,
                display_name: Option<&str>,
                events: &[OutboxEvent],
            ) -> Result<()> {
                let mut tx = self.pool.begin().await.map_err(db_err)?;
                let done = sqlx::query("UPDATE iam_users SET email = $1, display_name = $2 WHERE id = $3")
                    .bind(email)
                    .bind(display_name)
                    .bind(user_id)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                one_row(done.rows_affected(), "The user")?;
                self.commit(tx, events).await
            }

            async fn set_password(&self, user_id: &str, hash: &str, events: &[OutboxEvent]) -> Result<()> {
                let mut tx = self.pool.begin().await.map_err(db_err)?;
                let done = sqlx::query("UPDATE iam_users SET password_hash = $1 WHERE id = $2")
                    .bind(hash)
                    .bind(user_id)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                one_row(done.rows_affected(), "The user")?;
                self.commit(tx, events).await
            }

            async fn delete_user(&self, user_id: &str, events: &[OutboxEvent]) -> Result<()> {
                let mut tx = self.pool.begin().await.map_err(db_err)?;
                let busy: bool = sqlx::query_scalar(
                    "SELECT EXISTS (SELECT 1 FROM iam_access_keys WHERE user_id = $1) \
                     OR EXISTS (SELECT 1 FROM iam_inline_policies WHERE owner_kind = 'user' AND owner_id = $1) \
                     OR EXISTS (SELECT 1 FROM iam_policy_attachments WHERE owner_kind = 'user' AND owner_id = $1) \
                     OR EXISTS (SELECT 1 FROM iam_group_members WHERE user_id = $1)",
                )
                .bind(user_id)
                .fetch_one(&mut *tx)
                .await
                .map_err(db_err)?;
                if busy {
                    return Err(Error::DeleteConflict(
                        "Cannot delete entity, must delete access keys, policies and group memberships first."
                            .into(),
                    ));
                }
                let done =
                    sqlx::query("DELETE FROM iam_users WHERE id = $1").bind(user_id).execute(&mut *tx).await.map_err(db_err)?;
                one_row(done.rows_affected(), "The user")?;
                self.commit(tx, events).await
            }

            async fn create_group(&self, group: &Group, events: &[OutboxEvent]) -> Result<()> {
                let mut tx = self.pool.begin().await.map_err(db_err)?;
                sqlx::query(
                    "INSERT INTO iam_groups (id, account_id, name, name_key, path, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(&group.id)
                .bind(&group.account_id)
                .bind(&group.name)
                .bind(key(&group.name))
                .bind(&group.path)
                .bind(group.created_at)
                .execute(&mut *tx)
                .await
                .map_err(|e| named(db_err(e), &format!("Group with name {}", group.name)))?;
                self.commit(tx, events).await
            }

            async fn find_group(&self, account_id: &str, name: &str) -> Result<Option<Group>> {
                let row: Option<GroupRow> = sqlx::query_as(
                    "SELECT id, account_id, name, path, created_at FROM iam_groups WHERE account_id = $1 AND name_key = $2",
                )
                .bind(account_id)
                .bind(key(name))
                .fetch_optional(&self.pool)
                .await
                .map_err(db_err)?;
                Ok(row.map(Into::into))
            }

            async fn list_groups(&self, account_id: &str) -> Result<Vec<Group>> {
                let rows: Vec<GroupRow> = sqlx::query_as(
                    "SELECT id, account_id, name, path, created_at FROM iam_groups WHERE account_id = $1 ORDER BY name_key",
                )
                .bind(account_id)
                .fetch_all(&self.pool)
                .await
                .map_err(db_err)?;
                Ok(rows.into_iter().map(Into::into).collect())
            }

            async fn delete_group(&self, group_id: &str, events: &[OutboxEvent]) -> Result<()> {
                let mut tx = self.pool.begin().await.map_err(db_err)?;
                let busy: bool = sqlx::query_scalar(
                    "SELECT EXISTS (SELECT 1 FROM iam_group_members WHERE group_id = $1) \
                     OR EXISTS (SELECT 1 FROM iam_inline_policies WHERE owner_kind = 'group' AND owner_id = $1) \
                     OR EXISTS (SELECT 1 FROM iam_policy_attachments WHERE owner_kind = 'group' AND owner_id = $1)",
                )
                .bind(group_id)
                .fetch_one(&mut *tx)
                .await
                .map_err(db_err)?;
                if busy {
                    return Err(Error::DeleteConflict(
                        "Cannot delete entity, must remove users and policies from the group first.".into(),
                    ));
                }
                let done = sqlx::query("DELETE FROM iam_groups WHERE id = $1")
                    .bind(group_id)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                one_row(done.rows_affected(), "The group")?;
                self.commit(tx, events).await
            }

            async fn add_member(&self, group_id: &str, user_id: &str, events: &[OutboxEvent]) -> Result<()> {
                let mut tx = self.pool.begin().await.map_err(db_err)?;
                sqlx::query(
                    "INSERT INTO iam_group_members (group_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                )
                .bind(group_id)
                .bind(user_id)
                .execute(&mut *tx)
                .await
                .map_err(|e| named(db_err(e), "The user or group"))?;
                self.commit(tx, events).await
            }

            async fn remove_member(&self, group_id: &str, user_id: &str, events: &[OutboxEvent]) -> Result<()> {
                let mut tx = self.pool.begin().await.map_err(db_err)?;
                let done = sqlx::query("DELETE FROM iam_group_members WHERE group_id = $1 AND user_id = $2")
                    .bind(group_id)
                    .bind(user_id)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                one_row(done.rows_affected(), "The user in this group")?;
                self.commit(tx, events).await
            }

            async fn groups_of_user(&self, user_id: &str) -> Result<Vec<Group>> {
                let rows: Vec<GroupRow> = sqlx::query_as(
                    "SELECT g.id, g.account_id, g.name, g.path, g.created_at FROM iam_groups g \
                     JOIN iam_group_members m ON m.group_id = g.id WHERE m.user_id = $1 ORDER BY g.name_key",
                )
                .bind(user_id)
                .fetch_all(&self.pool)
                .await
                .map_err(db_err)?;
                Ok(rows.into_iter().map(Into::into).collect())
            }

            async fn members(&self, group_id: &str) -> Result<Vec<User>> {
                let sql = format!(
                    "SELECT {} FROM iam_users u JOIN iam_group_members m ON m.user_id = u.id \
                     WHERE m.group_id = $1 ORDER BY u.name_key",
                    USER_COLS.split(", ").map(|c| format!("u.{c}")).collect::<Vec<_>>().join(", ")
                );
                let rows: Vec<UserRow> =
                    sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(group_id).fetch_all(&self.pool).await.map_err(db_err)?;
                Ok(rows.into_iter().map(Into::into).collect())
            }

            async fn create_role(&self, role: &Role, events: &[OutboxEvent]) -> Result<()> {
                let mut tx = self.pool.begin().await.map_err(db_err)?;
                sqlx::query(
                    "INSERT INTO iam_roles (id, account_id, name, name_key, path, trust_policy, description, \
                     max_session_secs, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                )
                .bind(&role.id)
                .bind(&role.account_id)
                .bind(&role.name)
                .bind(key(&role.name))
                .bind(&role.path)
                .bind(&role.trust_policy)
                .bind(&role.description)
                .bind(role.max_session_secs)
                .bind(role.created_at)
                .execute(&mut *tx)
                .await
                .map_err(|e| named(db_err(e), &format!("Role with name {}", role.name)))?;
                self.commit(tx, events).await
            }

            async fn find_role(&self, account_id: &str, name: &str) -> Result<Option<Role>> {
                let sql = format!("SELECT {ROLE_COLS} FROM iam_roles WHERE account_id = $1 AND name_key = $2");
                let row: Option<RoleRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
                    .bind(account_id)
                    .bind(key(name))
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db_err)?;
                Ok(row.map(Into::into))
            }

            async fn list_roles(&self, account_id: &str) -> Result<Vec<Role>> {
                let sql = format!("SELECT {ROLE_COLS} FROM iam_roles WHERE account_id = $1 ORDER BY name_key");
                let rows: Vec<RoleRow> =
                    sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(account_id).fetch_all(&self.pool).await.map_err(db_err)?;
                Ok(rows.into_iter().map(Into::into).collect())
            }

            async fn delete_role(&self, role_id: &str, events: &[OutboxEvent]) -> Result<()> {
                let mut tx = self.pool.begin().await.map_err(db_err)?;
                let busy: bool = sqlx::query_scalar(
                    "SELECT EXISTS (SELECT 1 FROM iam_inline_policies WHERE owner_kind = 'role' AND owner_id = $1) \
                     OR EXISTS (SELECT 1 FROM iam_policy_attachments WHERE owner_kind = 'role' AND owner_id = $1)",
                )
                .bind(role_id)
                .fetch_one(&mut *tx)
                .await
                .map_err(db_err)?;
                if busy {
                    return Err(Error::DeleteConflict(
                        "Cannot delete entity, must delete policies first.".into(),
                    ));
                }
                let done =
                    sqlx::query("DELETE FROM iam_roles WHERE id = $1").bind(role_id).execute(&mut *tx).await.map_err(db_err)?;
                one_row(done.rows_affected(), "The role")?;
                self.commit(tx, events).await
            }

            async fn put_inline_policy(&self, kind: OwnerKind, owner_id: &str, policy: &InlinePolicy, events: &[OutboxEvent]) -> Result<()> {
                let mut tx = self.pool.begin().await.map_err(db_err)?;
                sqlx::query(
                    "INSERT INTO iam_inline_policies (owner_kind, owner_id, name, document) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (owner_kind, owner_id, name) DO UPDATE SET document = excluded.document",
                )
                .bind(kind.as_str())
                .bind(owner_id)
                .bind(&policy.name)
                .bind(&policy.document)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
                self.commit(tx, events).await
            }

            async fn get_inline_policy(
                &self,
                kind: OwnerKind,
                owner_id: &str,
                name: &str,
            ) -> Result<Option<InlinePolicy>> {
                let row: Option<(String, String)> = sqlx::query_as(
                    "SELECT name, document FROM iam_inline_policies WHERE owner_kind = $1 AND owner_id = $2 AND name = $3",
                )
                .bind(kind.as_str())
                .bind(owner_id)
                .bind(name)
                .fetch_optional(&self.pool)
                .await
                .map_err(db_err)?;
                Ok(row.map(|(name, document)| InlinePolicy { name, document }))
            }

            async fn list_inline_policies(&self, kind: OwnerKind, owner_id: &str) -> Result<Vec<InlinePolicy>> {
                let rows: Vec<(String, String)> = sqlx::query_as(
                    "SELECT name, document FROM iam_inline_policies WHERE owner_kind = $1 AND owner_id = $2 ORDER BY name",
                )
                .bind(kind.as_str())
                .bind(owner_id)
                .fetch_all(&self.pool)
                .await
                .map_err(db_err)?;
                Ok(rows.into_iter().map(|(name, document)| InlinePolicy { name, document }).collect())
            }

            async fn delete_inline_policy(&self, kind: OwnerKind, owner_id: &str, name: &str, events: &[OutboxEvent]) -> Result<()> {
                let mut tx = self.pool.begin().await.map_err(db_err)?;
                let done = sqlx::query(
                    "DELETE FROM iam_inline_policies WHERE owner_kind = $1 AND owner_id = $2 AND name = $3",
                )
                .bind(kind.as_str())
                .bind(owner_id)
                .bind(name)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
                one_row(done.rows_affected(), &format!("The policy with name {name}"))?;
                self.commit(tx, events).await
            }

            async fn create_managed_policy(&self, p: &ManagedPolicy, events: &[OutboxEvent]) -> Result<()> {
                let mut tx = self.pool.begin().await.map_err(db_err)?;
                sqlx::query(
                    "INSERT INTO iam_managed_policies (id, account_id, name, name_key, path, arn, document, \
                     description, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                )
                .bind(&p.id)
                .bind(&p.account_id)
                .bind(&p.name)
                .bind(key(&p.name))
                .bind(&p.path)
                .bind(&p.arn)
                .bind(&p.document)
                .bind(&p.description)
                .bind(p.created_at)
                .bind(p.updated_at)
                .execute(&mut *tx)
                .await
                .map_err(|e| named(db_err(e), &format!("A policy called {}", p.name)))?;
                self.commit(tx, events).await
            }

            async fn get_managed_policy(&self, arn: &str) -> Result<Option<ManagedPolicy>> {
                let sql = format!("SELECT {POLICY_COLS} FROM iam_managed_policies WHERE arn = $1");
                let row: Option<PolicyRow> =
                    sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(arn).fetch_optional(&self.pool).await.map_err(db_err)?;
                Ok(row.map(Into::into))
            }

            async fn list_managed_policies(&self, account_id: &str) -> Result<Vec<ManagedPolicy>> {
                let sql =
                    format!("SELECT {POLICY_COLS} FROM iam_managed_policies WHERE account_id = $1 ORDER BY name_key");
                let rows: Vec<PolicyRow> =
                    sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(account_id).fetch_all(&self.pool).await.map_err(db_err)?;
                Ok(rows.into_iter().map(Into::into).collect())
            }

            async fn delete_managed_policy(&self, policy_id: &str, events: &[OutboxEvent]) -> Result<()> {
                let mut tx = self.pool.begin().await.map_err(db_err)?;
                let busy: bool =
                    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM iam_policy_attachments WHERE policy_id = $1)")
                        .bind(policy_id)
                        .fetch_one(&mut *tx)
                        .await
                        .map_err(db_err)?;
                if busy {
                    return Err(Error::DeleteConflict("Cannot delete a policy attached to entities.".into()));
                }
                let done = sqlx::query("DELETE FROM iam_managed_policies WHERE id = $1")
                    .bind(policy_id)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                one_row(done.rows_affected(), "The policy")?;
                self.commit(tx, events).await
            }

            async fn attach_policy(&self, policy_id: &str, kind: OwnerKind, owner_id: &str, events: &[OutboxEvent]) -> Result<()> {
                let mut tx = self.pool.begin().await.map_err(db_err)?;
                sqlx::query(
                    "INSERT INTO iam_policy_attachments (policy_id, owner_kind, owner_id) VALUES ($1, $2, $3) \
                     ON CONFLICT DO NOTHING",
                )
                .bind(policy_id)
                .bind(kind.as_str())
                .bind(owner_id)
                .execute(&mut *tx)
                .await
                .map_err(|e| named(db_err(e), "The policy"))?;
                self.commit(tx, events).await
            }

            async fn detach_policy(&self, policy_id: &str, kind: OwnerKind, owner_id: &str, events: &[OutboxEvent]) -> Result<()> {
                let mut tx = self.pool.begin().await.map_err(db_err)?;
                let done = sqlx::query(
                    "DELETE FROM iam_policy_attachments WHERE policy_id = $1 AND owner_kind = $2 AND owner_id = $3",
                )
                .bind(policy_id)
                .bind(kind.as_str())
                .bind(owner_id)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
                one_row(done.rows_affected(), "The attached policy")?;
                self.commit(tx, events).await
            }

            async fn attached_policies(&self, kind: OwnerKind, owner_id: &str) -> Result<Vec<ManagedPolicy>> {
                let sql = format!(
                    "SELECT {} FROM iam_managed_policies p JOIN iam_policy_attachments a ON a.policy_id = p.id \
                     WHERE a.owner_kind = $1 AND a.owner_id = $2 ORDER BY p.name_key",
                    POLICY_COLS.split(", ").map(|c| format!("p.{c}")).collect::<Vec<_>>().join(", ")
                );
                let rows: Vec<PolicyRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
                    .bind(kind.as_str())
                    .bind(owner_id)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db_err)?;
                Ok(rows.into_iter().map(Into::into).collect())
            }

            async fn effective_policies(&self, kind: OwnerKind, owner_id: &str) -> Result<Vec<LabelledPolicy>> {
                let rows: Vec<(String, String)> = match kind {
                    OwnerKind::User => sqlx::query_as(USER_POLICIES).bind(owner_id).fetch_all(&self.pool).await,
                    OwnerKind::Group | OwnerKind::Role => {
                        sqlx::query_as(OWN_POLICIES).bind(owner_id).bind(kind.as_str()).fetch_all(&self.pool).await
                    }
                }
                .map_err(db_err)?;
                Ok(rows.into_iter().map(|(label, document)| LabelledPolicy { label, document }).collect())
            }

            async fn create_access_key(&self, k: &AccessKey, events: &[OutboxEvent]) -> Result<()> {
                let mut tx = self.pool.begin().await.map_err(db_err)?;
                sqlx::query(
                    "INSERT INTO iam_access_keys (id, user_id, account_id, secret_sealed, active, created_at, \
                     last_used_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(&k.id)
                .bind(&k.user_id)
                .bind(&k.account_id)
                .bind(&k.secret_sealed)
                .bind(k.active)
                .bind(k.created_at)
                .bind(k.last_used_at)
                .execute(&mut *tx)
                .await
                .map_err(|e| named(db_err(e), "The user"))?;
                self.commit(tx, events).await
            }

            async fn get_access_key(&self, id: &str) -> Result<Option<AccessKey>> {
                let row: Option<KeyRow> = sqlx::query_as(
                    "SELECT id, user_id, account_id, secret_sealed, active, created_at, last_used_at, presigned_not_before \
                     FROM iam_access_keys WHERE id = $1",
                )
                .bind(id)
                .fetch_optional(&self.pool)
                .await
                .map_err(db_err)?;
                Ok(row.map(Into::into))
            }

            async fn list_access_keys(&self, user_id: &str) -> Result<Vec<AccessKey>> {
                let rows: Vec<KeyRow> = sqlx::query_as(
                    "SELECT id, user_id, account_id, secret_sealed, active, created_at, last_used_at, presigned_not_before \
                     FROM iam_access_keys WHERE user_id = $1 ORDER BY created_at, id",
                )
                .bind(user_id)
                .fetch_all(&self.pool)
                .await
                .map_err(db_err)?;
                Ok(rows.into_iter().map(Into::into).collect())
            }

            async fn set_access_key_active(&self, user_id: &str, key_id: &str, active: bool, events: &[OutboxEvent]) -> Result<()> {
                let mut tx = self.pool.begin().await.map_err(db_err)?;
                let done = sqlx::query("UPDATE iam_access_keys SET active = $1 WHERE id = $2 AND user_id = $3")
                    .bind(active)
                    .bind(key_id)
                    .bind(user_id)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                one_row(done.rows_affected(), &format!("The Access Key with id {key_id}"))?;
                self.commit(tx, events).await
            }

            async fn delete_access_key(&self, user_id: &str, key_id: &str, events: &[OutboxEvent]) -> Result<()> {
                let mut tx = self.pool.begin().await.map_err(db_err)?;
                let done = sqlx::query("DELETE FROM iam_access_keys WHERE id = $1 AND user_id = $2")
                    .bind(key_id)
                    .bind(user_id)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                one_row(done.rows_affected(), &format!("The Access Key with id {key_id}"))?;
                self.commit(tx, events).await
            }

            async fn revoke_presigned(
                &self,
                user_id: &str,
                key_id: Option<&str>,
                at: i64,
                events: &[OutboxEvent],
            ) -> Result<()> {
                let mut tx = self.pool.begin().await.map_err(db_err)?;
                let done = match key_id {
                    Some(key_id) => sqlx::query(
                        "UPDATE iam_access_keys SET presigned_not_before = \
                         CASE WHEN presigned_not_before > $1 THEN presigned_not_before ELSE $1 END \
                         WHERE id = $2 AND user_id = $3",
                    )
                    .bind(at)
                    .bind(key_id)
                    .bind(user_id)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?,
                    None => sqlx::query(
                        "UPDATE iam_users SET presigned_not_before = \
                         CASE WHEN presigned_not_before > $1 THEN presigned_not_before ELSE $1 END WHERE id = $2",
                    )
                    .bind(at)
                    .bind(user_id)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?,
                };
                match key_id {
                    Some(key_id) => one_row(done.rows_affected(), &format!("The Access Key with id {key_id}"))?,
                    None => one_row(done.rows_affected(), "The user")?,
                }
                self.commit(tx, events).await
            }

            async fn touch_access_key(&self, key_id: &str, at: i64) -> Result<()> {
                sqlx::query("UPDATE iam_access_keys SET last_used_at = $1 WHERE id = $2")
                    .bind(at)
                    .bind(key_id)
                    .execute(&self.pool)
                    .await
                    .map_err(db_err)?;
                Ok(())
            }
        }
    };
}

sql_iam_store!(PgIamStore, sqlx::Postgres, pg_outbox);
sql_iam_store!(SqliteIamStore, sqlx::Sqlite, sqlite_outbox);

fn one_row(affected: u64, what: &str) -> Result<()> {
    if affected == 0 { Err(Error::NoSuchEntity(format!("{what} cannot be found."))) } else { Ok(()) }
}

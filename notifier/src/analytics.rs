//! Access analytics over the events (issue #12 item 5, `docs/analytics.md`): one interface,
//! [`Analytics`], answered by ClickHouse ([`ClickHouseSink`]) or by the embedded default's
//! [`LocalEventStore`], with the same answers for the same events.
//!
//! Each question is written once, as SQL both databases run; the only dialect differences are
//! three fragments of [`Dialect`]: how the events table is read (ClickHouse: `FINAL`, so an
//! event delivered twice is one row — the table is a `ReplacingMergeTree` on `event_id` whose
//! duplicates may not be merged yet; SQLite stores each `event_id` once already), the day of a
//! timestamp, and the `action` of a denial's `detail` JSON (ClickHouse 18.16 has no
//! `JSONExtract`; `visitParamExtractString` reads the flat object `detail` is). Every value from
//! a caller is a bound parameter. Rows are ordered with a complete tie-break, so both stores
//! give the same rows in the same order.
//!
//! Definitions (the same on both stores):
//! - an **upload** is a `file_uploaded` or `multipart_completed` event, its bytes the object's
//!   size; `file_copied` is not an upload (no byte crossed the network; it is in the object's
//!   history). A **download** is a `file_downloaded` event, its bytes those sent.
//! - a **day** is a UTC day (`occurred_at / 86 400 000`), shown as `YYYY-MM-DD`.
//! - the scope is the event's `account_id`: the actor's account (SPEC "Events"); the resource
//!   owner's only for anonymous access.
//! - a time range is `from <= occurred_at < to`, in milliseconds; either end may be open.
//!
//! The local store keeps daily sums (`migrations/events-sqlite/0002_daily_rollups.sql`, kept by
//! triggers) for traffic and top principals, the two questions that read every event of a
//! range: whole UTC days come from the sums, the partial days at either end of a range from the
//! events, so they stay well under a second at a million events. ClickHouse needs no such help.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use sqlx::sqlite::SqliteRow;

use crate::{ClickHouseSink, LocalEventStore};

/// Largest `limit` a question accepts.
pub const MAX_LIMIT: u32 = 10_000;

/// The event types counted as uploads.
pub const UPLOAD_TYPES: [&str; 2] = ["file_uploaded", "multipart_completed"];
/// The event type counted as a download.
pub const DOWNLOAD_TYPE: &str = "file_downloaded";
/// The event type of a refused request.
pub const DENIED_TYPE: &str = "access_denied";

const MS_PER_DAY: i64 = 86_400_000;

/// An analytics question could not be answered.
#[derive(Debug, thiserror::Error)]
pub enum AnalyticsError {
    /// The question itself is wrong (a limit of 0, an empty bucket name, ...).
    #[error("invalid analytics question: {0}")]
    Invalid(String),
    /// The event store failed or could not be reached.
    #[error("event store unavailable: {0}")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// Which events a question looks at.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Filter {
    /// Only the events of this account; `None` is every account (the platform admin's view).
    pub account_id: Option<String>,
    /// Events at or after this time (ms since the epoch).
    pub from: Option<i64>,
    /// Events before this time (ms since the epoch).
    pub to: Option<i64>,
}

impl Filter {
    /// Every event of one account.
    #[must_use]
    pub fn account(account_id: &str) -> Self {
        Self { account_id: Some(account_id.to_owned()), ..Self::default() }
    }
}

/// What traffic is grouped by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupBy {
    Account,
    User,
    AccessKey,
    Bucket,
}

impl GroupBy {
    /// Every grouping.
    pub const ALL: [GroupBy; 4] = [GroupBy::Account, GroupBy::User, GroupBy::AccessKey, GroupBy::Bucket];

    /// The column grouped by (a fixed name, never caller text).
    fn column(self) -> &'static str {
        match self {
            GroupBy::Account => "account_id",
            GroupBy::User => "user_id",
            GroupBy::AccessKey => "access_key",
            GroupBy::Bucket => "bucket",
        }
    }

    /// The name in URLs and on the command line.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            GroupBy::Account => "account",
            GroupBy::User => "user",
            GroupBy::AccessKey => "access_key",
            GroupBy::Bucket => "bucket",
        }
    }
}

impl std::str::FromStr for GroupBy {
    type Err = AnalyticsError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "account" => GroupBy::Account,
            "user" => GroupBy::User,
            "access_key" | "access-key" | "key" => GroupBy::AccessKey,
            "bucket" => GroupBy::Bucket,
            other => {
                return Err(AnalyticsError::Invalid(format!(
                    "cannot group by {other:?}: account, user, access_key or bucket"
                )));
            }
        })
    }
}

/// Uploads and downloads of one group on one day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrafficRow {
    /// The UTC day, `YYYY-MM-DD`.
    pub day: String,
    /// The account id, user id, access key or bucket ("" for events without one).
    pub group: String,
    pub uploads: u64,
    pub upload_bytes: u64,
    pub downloads: u64,
    pub download_bytes: u64,
}

/// A most downloaded object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopObject {
    pub bucket: String,
    pub key: String,
    pub downloads: u64,
    pub bytes: u64,
}

/// A principal and its traffic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopPrincipal {
    /// "" for anonymous requests.
    pub principal_arn: String,
    pub uploads: u64,
    pub upload_bytes: u64,
    pub downloads: u64,
    pub download_bytes: u64,
    /// Every event of the principal in the range (any type, denials included).
    pub requests: u64,
}

/// Refused requests of one principal for one action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeniedRow {
    /// "" for anonymous requests.
    pub principal_arn: String,
    /// The IAM action refused (`detail.action`), "" if the event has none.
    pub action: String,
    pub count: u64,
    /// The latest refusal (ms).
    pub last_at: i64,
}

/// When an access key was last used (any event signed with it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyLastUse {
    pub access_key: String,
    /// ms since the epoch.
    pub last_used_at: i64,
    pub uses: u64,
}

/// One access to an object: who, when, from where, what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessRecord {
    pub occurred_at: i64,
    pub event_type: String,
    pub principal_arn: String,
    pub user_id: String,
    pub access_key: String,
    pub source_ip: String,
    pub user_agent: String,
    /// HTTP status, 0 if unknown.
    pub status: u16,
    pub bytes: u64,
    pub request_id: String,
    pub event_id: String,
}

/// The analytics questions, answered from the events, each counted once whatever was delivered
/// more than once.
#[async_trait]
pub trait Analytics: Send + Sync + std::fmt::Debug {
    /// Uploads and downloads (count and bytes) per UTC day and group, by day then group.
    async fn traffic(&self, filter: &Filter, group_by: GroupBy) -> Result<Vec<TrafficRow>, AnalyticsError>;

    /// The most downloaded objects: by downloads, then bytes (descending), then bucket and key.
    async fn top_objects(&self, filter: &Filter, limit: u32) -> Result<Vec<TopObject>, AnalyticsError>;

    /// The principals with the most traffic (bytes up + down), then most requests, then by ARN.
    async fn top_principals(&self, filter: &Filter, limit: u32) -> Result<Vec<TopPrincipal>, AnalyticsError>;

    /// Denied requests per principal and action: most first, then by principal and action.
    async fn denied(&self, filter: &Filter, limit: u32) -> Result<Vec<DeniedRow>, AnalyticsError>;

    /// The last use of every access key seen in the events, by access key. Keys never used
    /// are not here: the caller joins with the list of keys (`unused keys` questions).
    async fn key_last_use(&self, filter: &Filter) -> Result<Vec<KeyLastUse>, AnalyticsError>;

    /// Every event of one object, newest first (ties by event id, descending).
    async fn object_history(
        &self,
        filter: &Filter,
        bucket: &str,
        key: &str,
        limit: u32,
    ) -> Result<Vec<AccessRecord>, AnalyticsError>;
}

/// The UTC day of `day_number` days since the epoch, `YYYY-MM-DD`.
fn day_string(day_number: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(day_number.saturating_mul(86_400))
        .map(|t| {
            let d = t.date();
            format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
        })
        .unwrap_or_else(|_| day_number.to_string())
}

fn count(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

fn check_limit(limit: u32) -> Result<(), AnalyticsError> {
    if limit == 0 || limit > MAX_LIMIT {
        return Err(AnalyticsError::Invalid(format!("limit must be 1 to {MAX_LIMIT}")));
    }
    Ok(())
}

/// The few places the two SQL dialects differ.
#[derive(Debug, Clone, Copy)]
struct Dialect {
    /// The deduplicated events table.
    events: &'static str,
    /// Opens a cast to a 64-bit signed integer (ClickHouse: aggregates are unsigned).
    int: &'static str,
    /// The UTC day number of `occurred_at`.
    day: &'static str,
    /// The `action` key of the `detail` JSON, '' when absent.
    action: &'static str,
    /// Whether the daily sums of `migrations/events-sqlite/0002_daily_rollups.sql` exist.
    rollups: bool,
}

const CLICKHOUSE: Dialect = Dialect {
    events: "events FINAL",
    int: "toInt64",
    day: "toInt64(intDiv(occurred_at, 86400000))",
    action: "visitParamExtractString(detail, 'action')",
    rollups: false,
};

const SQLITE: Dialect = Dialect {
    events: "events",
    int: "",
    day: "(occurred_at / 86400000)",
    action: "coalesce(json_extract(CASE WHEN detail = '' THEN '{}' ELSE detail END, '$.action'), '')",
    rollups: true,
};

/// How the local store's daily sums answer for a filter: whole UTC days from the sums, the
/// partial days at either end of the range from the events.
#[derive(Debug, PartialEq, Eq)]
struct Split {
    /// First whole day (day number), if bounded.
    lo_day: Option<i64>,
    /// Day after the last whole day, if bounded.
    hi_day: Option<i64>,
    /// `[from, to)` ranges (ms) read from the events.
    edges: Vec<(i64, i64)>,
}

/// `None` when the events answer alone (ClickHouse; a range within two days; times before 1970).
fn split(d: Dialect, filter: &Filter) -> Option<Split> {
    if !d.rollups || filter.from.is_some_and(|t| t < 0) || filter.to.is_some_and(|t| t < 0) {
        return None;
    }
    let lo_day = filter.from.map(|t| t / MS_PER_DAY + i64::from(t % MS_PER_DAY != 0));
    let hi_day = filter.to.map(|t| t / MS_PER_DAY);
    if let (Some(lo), Some(hi)) = (lo_day, hi_day)
        && lo >= hi
    {
        return None;
    }
    let mut edges = Vec::new();
    if let (Some(from), Some(lo)) = (filter.from, lo_day)
        && from < lo * MS_PER_DAY
    {
        edges.push((from, lo * MS_PER_DAY));
    }
    if let (Some(to), Some(hi)) = (filter.to, hi_day)
        && hi * MS_PER_DAY < to
    {
        edges.push((hi * MS_PER_DAY, to));
    }
    Some(Split { lo_day, hi_day, edges })
}

/// A bound value.
#[derive(Debug, Clone)]
enum Arg {
    Str(String),
    Int(i64),
}

/// A statement and its arguments, in order.
#[derive(Debug, Default)]
struct Sql {
    text: String,
    args: Vec<Arg>,
}

impl Sql {
    /// Appends a condition with its one bound value.
    fn and(&mut self, clause: &str, arg: Arg) {
        self.text.push_str(clause);
        self.args.push(arg);
    }

    /// ` AND account_id = ?` when the filter names an account.
    fn account(&mut self, filter: &Filter) {
        if let Some(a) = &filter.account_id {
            self.and(" AND account_id = ?", Arg::Str(a.clone()));
        }
    }

    /// ` AND account_id = ? AND occurred_at >= ? AND occurred_at < ?` as the filter needs.
    fn scope(&mut self, filter: &Filter) {
        self.account(filter);
        if let Some(from) = filter.from {
            self.and(" AND occurred_at >= ?", Arg::Int(from));
        }
        if let Some(to) = filter.to {
            self.and(" AND occurred_at < ?", Arg::Int(to));
        }
    }

    /// The whole days of `split` on a daily-sums table.
    fn scope_days(&mut self, filter: &Filter, split: &Split) {
        self.account(filter);
        if let Some(lo) = split.lo_day {
            self.and(" AND day >= ?", Arg::Int(lo));
        }
        if let Some(hi) = split.hi_day {
            self.and(" AND day < ?", Arg::Int(hi));
        }
    }

    /// The partial days of `split` on the events.
    fn scope_edges(&mut self, filter: &Filter, split: &Split) {
        self.account(filter);
        let ranges: Vec<&str> = split.edges.iter().map(|_| "(occurred_at >= ? AND occurred_at < ?)").collect();
        self.text.push_str(&format!(" AND ({})", ranges.join(" OR ")));
        for (from, to) in &split.edges {
            self.args.push(Arg::Int(*from));
            self.args.push(Arg::Int(*to));
        }
    }

    fn push(&mut self, text: &str) {
        self.text.push_str(text);
    }

    fn limit(&mut self, limit: u32) {
        self.text.push_str(" LIMIT ?");
        self.args.push(Arg::Int(i64::from(limit)));
    }
}

/// `'a', 'b'` of fixed names (never caller text).
fn in_list(names: &[&str]) -> String {
    names.iter().map(|n| format!("'{n}'")).collect::<Vec<_>>().join(", ")
}

/// A result row both databases can produce (integers as `Int64`, text as `String`).
trait DbRow:
    clickhouse::RowOwned + clickhouse::RowRead + for<'r> sqlx::FromRow<'r, SqliteRow> + Send + Unpin + 'static
{
}
impl<T> DbRow for T where
    T: clickhouse::RowOwned + clickhouse::RowRead + for<'r> sqlx::FromRow<'r, SqliteRow> + Send + Unpin + 'static
{
}

#[derive(Debug, Deserialize, clickhouse::Row, sqlx::FromRow)]
struct TrafficDb {
    day: i64,
    grp: String,
    uploads: i64,
    upload_bytes: i64,
    downloads: i64,
    download_bytes: i64,
}

#[derive(Debug, Deserialize, clickhouse::Row, sqlx::FromRow)]
struct TopObjectDb {
    bucket: String,
    object_key: String,
    downloads: i64,
    total_bytes: i64,
}

#[derive(Debug, Deserialize, clickhouse::Row, sqlx::FromRow)]
struct TopPrincipalDb {
    principal_arn: String,
    uploads: i64,
    upload_bytes: i64,
    downloads: i64,
    download_bytes: i64,
    traffic_bytes: i64,
    requests: i64,
}

#[derive(Debug, Deserialize, clickhouse::Row, sqlx::FromRow)]
struct DeniedDb {
    principal_arn: String,
    denied_action: String,
    denials: i64,
    last_at: i64,
}

#[derive(Debug, Deserialize, clickhouse::Row, sqlx::FromRow)]
struct KeyDb {
    access_key: String,
    last_used_at: i64,
    uses: i64,
}

#[derive(Debug, Deserialize, clickhouse::Row, sqlx::FromRow)]
struct AccessDb {
    occurred_at: i64,
    event_type: String,
    principal_arn: String,
    user_id: String,
    access_key: String,
    source_ip: String,
    user_agent: String,
    status_code: i64,
    byte_count: i64,
    request_id: String,
    event_id: String,
}

/// The sums of uploads and downloads, as four result columns.
fn traffic_columns(d: Dialect) -> String {
    let up = in_list(&UPLOAD_TYPES);
    let int = d.int;
    format!(
        "{int}(sum(CASE WHEN event_type IN ({up}) THEN 1 ELSE 0 END)) AS uploads, \
         {int}(sum(CASE WHEN event_type IN ({up}) THEN bytes ELSE 0 END)) AS upload_bytes, \
         {int}(sum(CASE WHEN event_type = '{DOWNLOAD_TYPE}' THEN 1 ELSE 0 END)) AS downloads, \
         {int}(sum(CASE WHEN event_type = '{DOWNLOAD_TYPE}' THEN bytes ELSE 0 END)) AS download_bytes"
    )
}

/// One event's share of the traffic sums, as four columns.
fn traffic_row_columns() -> String {
    let up = in_list(&UPLOAD_TYPES);
    format!(
        "CASE WHEN event_type IN ({up}) THEN 1 ELSE 0 END AS uploads, \
         CASE WHEN event_type IN ({up}) THEN bytes ELSE 0 END AS upload_bytes, \
         CASE WHEN event_type = '{DOWNLOAD_TYPE}' THEN 1 ELSE 0 END AS downloads, \
         CASE WHEN event_type = '{DOWNLOAD_TYPE}' THEN bytes ELSE 0 END AS download_bytes"
    )
}

fn traffic_sql(d: Dialect, filter: &Filter, group_by: GroupBy) -> Sql {
    let mut sql = Sql::default();
    if let Some(split) = split(d, filter) {
        let col = group_by.column();
        sql.push(&format!(
            "SELECT day, grp, sum(uploads) AS uploads, sum(upload_bytes) AS upload_bytes, \
             sum(downloads) AS downloads, sum(download_bytes) AS download_bytes FROM (\
             SELECT day, {col} AS grp, uploads, upload_bytes, downloads, download_bytes \
             FROM traffic_daily WHERE 1 = 1"
        ));
        sql.scope_days(filter, &split);
        if !split.edges.is_empty() {
            let types = in_list(&[UPLOAD_TYPES[0], UPLOAD_TYPES[1], DOWNLOAD_TYPE]);
            sql.push(&format!(
                " UNION ALL SELECT {day} AS day, {col} AS grp, {row} FROM events WHERE event_type IN ({types})",
                day = d.day,
                row = traffic_row_columns(),
            ));
            sql.scope_edges(filter, &split);
        }
        sql.push(") GROUP BY day, grp ORDER BY day, grp");
        return sql;
    }
    let types = in_list(&[UPLOAD_TYPES[0], UPLOAD_TYPES[1], DOWNLOAD_TYPE]);
    sql.push(&format!(
        "SELECT {day} AS day, {col} AS grp, {cols} FROM {events} WHERE event_type IN ({types})",
        day = d.day,
        col = group_by.column(),
        cols = traffic_columns(d),
        events = d.events,
    ));
    sql.scope(filter);
    sql.push(" GROUP BY day, grp ORDER BY day, grp");
    sql
}

fn top_objects_sql(d: Dialect, filter: &Filter, limit: u32) -> Sql {
    let mut sql = Sql::default();
    sql.push(&format!(
        "SELECT bucket, object_key, {int}(count(*)) AS downloads, {int}(sum(bytes)) AS total_bytes \
         FROM {events} WHERE event_type = '{DOWNLOAD_TYPE}'",
        int = d.int,
        events = d.events,
    ));
    sql.scope(filter);
    sql.push(" GROUP BY bucket, object_key ORDER BY downloads DESC, total_bytes DESC, bucket, object_key");
    sql.limit(limit);
    sql
}

fn top_principals_sql(d: Dialect, filter: &Filter, limit: u32) -> Sql {
    let mut sql = Sql::default();
    if let Some(split) = split(d, filter) {
        sql.push(
            "SELECT principal_arn, sum(uploads) AS uploads, sum(upload_bytes) AS upload_bytes, \
             sum(downloads) AS downloads, sum(download_bytes) AS download_bytes, \
             sum(upload_bytes + download_bytes) AS traffic_bytes, sum(requests) AS requests FROM (\
             SELECT principal_arn, uploads, upload_bytes, downloads, download_bytes, requests \
             FROM principal_daily WHERE 1 = 1",
        );
        sql.scope_days(filter, &split);
        if !split.edges.is_empty() {
            sql.push(&format!(
                " UNION ALL SELECT principal_arn, {row}, 1 AS requests FROM events WHERE 1 = 1",
                row = traffic_row_columns(),
            ));
            sql.scope_edges(filter, &split);
        }
        sql.push(") GROUP BY principal_arn ORDER BY traffic_bytes DESC, requests DESC, principal_arn");
        sql.limit(limit);
        return sql;
    }
    let traffic_types = in_list(&[UPLOAD_TYPES[0], UPLOAD_TYPES[1], DOWNLOAD_TYPE]);
    sql.push(&format!(
        "SELECT principal_arn, {cols}, \
         {int}(sum(CASE WHEN event_type IN ({traffic_types}) THEN bytes ELSE 0 END)) AS traffic_bytes, \
         {int}(count(*)) AS requests FROM {events} WHERE 1 = 1",
        cols = traffic_columns(d),
        int = d.int,
        events = d.events,
    ));
    sql.scope(filter);
    sql.push(" GROUP BY principal_arn ORDER BY traffic_bytes DESC, requests DESC, principal_arn");
    sql.limit(limit);
    sql
}

fn denied_sql(d: Dialect, filter: &Filter, limit: u32) -> Sql {
    let mut sql = Sql::default();
    sql.push(&format!(
        "SELECT principal_arn, {action} AS denied_action, {int}(count(*)) AS denials, \
         {int}(max(occurred_at)) AS last_at FROM {events} WHERE event_type = '{DENIED_TYPE}'",
        action = d.action,
        int = d.int,
        events = d.events,
    ));
    sql.scope(filter);
    sql.push(" GROUP BY principal_arn, denied_action ORDER BY denials DESC, principal_arn, denied_action");
    sql.limit(limit);
    sql
}

fn key_last_use_sql(d: Dialect, filter: &Filter) -> Sql {
    let mut sql = Sql::default();
    sql.push(&format!(
        "SELECT access_key, {int}(max(occurred_at)) AS last_used_at, {int}(count(*)) AS uses \
         FROM {events} WHERE access_key <> ''",
        int = d.int,
        events = d.events,
    ));
    sql.scope(filter);
    sql.push(" GROUP BY access_key ORDER BY access_key");
    sql
}

fn object_history_sql(d: Dialect, filter: &Filter, bucket: &str, key: &str, limit: u32) -> Sql {
    let mut sql = Sql::default();
    sql.push(&format!(
        "SELECT occurred_at, event_type, principal_arn, user_id, access_key, source_ip, user_agent, \
         {int}(status) AS status_code, {int}(bytes) AS byte_count, request_id, event_id \
         FROM {events} WHERE bucket = ? AND object_key = ?",
        int = d.int,
        events = d.events,
    ));
    sql.args.push(Arg::Str(bucket.to_owned()));
    sql.args.push(Arg::Str(key.to_owned()));
    sql.scope(filter);
    sql.push(" ORDER BY occurred_at DESC, event_id DESC");
    sql.limit(limit);
    sql
}

/// Runs the questions' SQL on one database.
#[async_trait]
trait Backend: Send + Sync + std::fmt::Debug {
    const DIALECT: Dialect;
    async fn rows<R: DbRow>(&self, sql: Sql) -> Result<Vec<R>, AnalyticsError>;
}

#[async_trait]
impl Backend for ClickHouseSink {
    const DIALECT: Dialect = CLICKHOUSE;

    async fn rows<R: DbRow>(&self, sql: Sql) -> Result<Vec<R>, AnalyticsError> {
        let mut q = self.client.query(&sql.text);
        for a in sql.args {
            q = match a {
                Arg::Str(s) => q.bind(s),
                Arg::Int(i) => q.bind(i),
            };
        }
        q.fetch_all::<R>().await.map_err(|e| AnalyticsError::Unavailable(Box::new(e)))
    }
}

#[async_trait]
impl Backend for LocalEventStore {
    const DIALECT: Dialect = SQLITE;

    async fn rows<R: DbRow>(&self, sql: Sql) -> Result<Vec<R>, AnalyticsError> {
        // The text is built from this module's fixed fragments only; every caller value is in
        // `args`, bound.
        let mut q = sqlx::query_as::<_, R>(sqlx::AssertSqlSafe(sql.text));
        for a in sql.args {
            q = match a {
                Arg::Str(s) => q.bind(s),
                Arg::Int(i) => q.bind(i),
            };
        }
        q.fetch_all(&self.reader).await.map_err(|e| AnalyticsError::Unavailable(Box::new(e)))
    }
}

#[async_trait]
impl<B: Backend> Analytics for B {
    async fn traffic(&self, filter: &Filter, group_by: GroupBy) -> Result<Vec<TrafficRow>, AnalyticsError> {
        let rows: Vec<TrafficDb> = self.rows(traffic_sql(B::DIALECT, filter, group_by)).await?;
        Ok(rows
            .into_iter()
            .map(|r| TrafficRow {
                day: day_string(r.day),
                group: r.grp,
                uploads: count(r.uploads),
                upload_bytes: count(r.upload_bytes),
                downloads: count(r.downloads),
                download_bytes: count(r.download_bytes),
            })
            .collect())
    }

    async fn top_objects(&self, filter: &Filter, limit: u32) -> Result<Vec<TopObject>, AnalyticsError> {
        check_limit(limit)?;
        let rows: Vec<TopObjectDb> = self.rows(top_objects_sql(B::DIALECT, filter, limit)).await?;
        Ok(rows
            .into_iter()
            .map(|r| TopObject {
                bucket: r.bucket,
                key: r.object_key,
                downloads: count(r.downloads),
                bytes: count(r.total_bytes),
            })
            .collect())
    }

    async fn top_principals(&self, filter: &Filter, limit: u32) -> Result<Vec<TopPrincipal>, AnalyticsError> {
        check_limit(limit)?;
        let rows: Vec<TopPrincipalDb> = self.rows(top_principals_sql(B::DIALECT, filter, limit)).await?;
        Ok(rows
            .into_iter()
            .map(|r| {
                debug_assert_eq!(r.traffic_bytes, r.upload_bytes + r.download_bytes);
                TopPrincipal {
                    principal_arn: r.principal_arn,
                    uploads: count(r.uploads),
                    upload_bytes: count(r.upload_bytes),
                    downloads: count(r.downloads),
                    download_bytes: count(r.download_bytes),
                    requests: count(r.requests),
                }
            })
            .collect())
    }

    async fn denied(&self, filter: &Filter, limit: u32) -> Result<Vec<DeniedRow>, AnalyticsError> {
        check_limit(limit)?;
        let rows: Vec<DeniedDb> = self.rows(denied_sql(B::DIALECT, filter, limit)).await?;
        Ok(rows
            .into_iter()
            .map(|r| DeniedRow {
                principal_arn: r.principal_arn,
                action: r.denied_action,
                count: count(r.denials),
                last_at: r.last_at,
            })
            .collect())
    }

    async fn key_last_use(&self, filter: &Filter) -> Result<Vec<KeyLastUse>, AnalyticsError> {
        let rows: Vec<KeyDb> = self.rows(key_last_use_sql(B::DIALECT, filter)).await?;
        Ok(rows
            .into_iter()
            .map(|r| KeyLastUse { access_key: r.access_key, last_used_at: r.last_used_at, uses: count(r.uses) })
            .collect())
    }

    async fn object_history(
        &self,
        filter: &Filter,
        bucket: &str,
        key: &str,
        limit: u32,
    ) -> Result<Vec<AccessRecord>, AnalyticsError> {
        check_limit(limit)?;
        if bucket.is_empty() || key.is_empty() {
            return Err(AnalyticsError::Invalid("an object's history needs its bucket and key".into()));
        }
        let rows: Vec<AccessDb> = self.rows(object_history_sql(B::DIALECT, filter, bucket, key, limit)).await?;
        Ok(rows
            .into_iter()
            .map(|r| AccessRecord {
                occurred_at: r.occurred_at,
                event_type: r.event_type,
                principal_arn: r.principal_arn,
                user_id: r.user_id,
                access_key: r.access_key,
                source_ip: r.source_ip,
                user_agent: r.user_agent,
                status: u16::try_from(r.status_code).unwrap_or(0),
                bytes: count(r.byte_count),
                request_id: r.request_id,
                event_id: r.event_id,
            })
            .collect())
    }
}

/// Unused access keys: those of `keys` (id, created at in ms) with no use since `cutoff_ms`,
/// given the last uses from [`Analytics::key_last_use`]. A key never used counts from its
/// creation. Sorted by last activity (last use, else creation), oldest first, then id.
#[must_use]
pub fn unused_keys(keys: &[(String, i64)], last_uses: &[KeyLastUse], cutoff_ms: i64) -> Vec<UnusedKey> {
    let last: std::collections::HashMap<&str, i64> =
        last_uses.iter().map(|u| (u.access_key.as_str(), u.last_used_at)).collect();
    let mut out: Vec<UnusedKey> = keys
        .iter()
        .filter_map(|(id, created_at)| {
            let last_used_at = last.get(id.as_str()).copied();
            let since = last_used_at.unwrap_or(*created_at);
            (since < cutoff_ms).then(|| UnusedKey {
                access_key: id.clone(),
                created_at: *created_at,
                last_used_at,
                idle_days: (cutoff_ms.saturating_sub(since)) / MS_PER_DAY,
            })
        })
        .collect();
    out.sort_by(|a, b| {
        (a.last_used_at.unwrap_or(a.created_at), &a.access_key)
            .cmp(&(b.last_used_at.unwrap_or(b.created_at), &b.access_key))
    });
    out
}

/// An access key unused for the asked number of days.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnusedKey {
    pub access_key: String,
    /// ms since the epoch.
    pub created_at: i64,
    /// ms since the epoch; `None` when never used (in the events kept).
    pub last_used_at: Option<i64>,
    /// Whole days idle before the cutoff (how much longer than asked).
    pub idle_days: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_are_utc_dates() {
        assert_eq!(day_string(0), "1970-01-01");
        assert_eq!(day_string(1_796_640_000_000 / MS_PER_DAY), "2026-12-07");
    }

    #[test]
    fn caller_text_is_always_bound() {
        let f = Filter { account_id: Some("x' OR 1=1 --".into()), from: Some(1), to: Some(2) };
        for d in [CLICKHOUSE, SQLITE] {
            let sql = object_history_sql(d, &f, "b'", "k'", 5);
            assert!(!sql.text.contains("x'") && !sql.text.contains("b'"), "{}", sql.text);
            assert_eq!(sql.args.len(), 6);
            assert_eq!(sql.text.matches('?').count(), 6);
        }
    }

    #[test]
    fn daily_sums_answer_whole_days_and_events_the_partial_ones() {
        let d = MS_PER_DAY;
        let f = |from: Option<i64>, to: Option<i64>| Filter { account_id: None, from, to };
        assert_eq!(split(SQLITE, &f(None, None)), Some(Split { lo_day: None, hi_day: None, edges: vec![] }));
        assert_eq!(split(SQLITE, &f(Some(3 * d), None)), Some(Split { lo_day: Some(3), hi_day: None, edges: vec![] }));
        assert_eq!(
            split(SQLITE, &f(Some(3 * d + 5), Some(9 * d + 7))),
            Some(Split { lo_day: Some(4), hi_day: Some(9), edges: vec![(3 * d + 5, 4 * d), (9 * d, 9 * d + 7)] })
        );
        assert_eq!(
            split(SQLITE, &f(None, Some(2 * d - 1))),
            Some(Split { lo_day: None, hi_day: Some(1), edges: vec![(d, 2 * d - 1)] })
        );
        // Within two days, before 1970, or on ClickHouse: the events alone.
        assert_eq!(split(SQLITE, &f(Some(3 * d + 5), Some(4 * d + 7))), None);
        assert_eq!(split(SQLITE, &f(Some(-5), None)), None);
        assert_eq!(split(CLICKHOUSE, &f(None, None)), None);
        let sql = traffic_sql(SQLITE, &f(Some(3 * d + 5), Some(9 * d + 7)), GroupBy::User);
        assert!(sql.text.contains("FROM traffic_daily") && sql.text.contains("UNION ALL"));
        assert_eq!(sql.args.len(), 2 + 4);
        assert_eq!(sql.text.matches('?').count(), 6);
        assert!(!traffic_sql(CLICKHOUSE, &f(None, None), GroupBy::User).text.contains("daily"));
        assert!(top_principals_sql(SQLITE, &Filter::default(), 3).text.contains("FROM principal_daily"));
    }

    #[test]
    fn unused_keys_count_from_creation_when_never_used() {
        let day = MS_PER_DAY;
        let keys = vec![("A".to_owned(), 0), ("B".to_owned(), 0), ("C".to_owned(), 9 * day), ("D".to_owned(), 0)];
        let uses = vec![
            KeyLastUse { access_key: "A".into(), last_used_at: 2 * day, uses: 3 },
            KeyLastUse { access_key: "B".into(), last_used_at: 8 * day, uses: 1 },
            KeyLastUse { access_key: "Z".into(), last_used_at: day, uses: 1 },
        ];
        // Unused since day 5 (cutoff): A (last used day 2) and D (never, created day 0).
        let got = unused_keys(&keys, &uses, 5 * day);
        let ids: Vec<&str> = got.iter().map(|k| k.access_key.as_str()).collect();
        assert_eq!(ids, ["D", "A"]);
        assert_eq!((got[0].last_used_at, got[0].idle_days), (None, 5));
        assert_eq!((got[1].last_used_at, got[1].idle_days), (Some(2 * day), 3));
    }

    #[test]
    fn group_by_names_round_trip() {
        for g in GroupBy::ALL {
            assert_eq!(g.as_str().parse::<GroupBy>().expect("parses"), g);
        }
        assert!("bucket; DROP".parse::<GroupBy>().is_err());
    }
}

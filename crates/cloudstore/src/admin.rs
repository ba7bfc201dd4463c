//! `cloudstore admin`: manages a running server over its public port, signing each call with
//! SigV4 (the platform admin's root key pair by default, or any key given).
//!
//! - `account create NAME [--email E] [--password P]` — an account and its first key pair;
//! - `account list`, `account delete NAME`;
//! - `iam ACTION [Key=Value ...]` — any IAM Query API call (users, keys, groups, roles,
//!   policies) as the signing key's account, e.g. `iam CreateUser UserName=bob`;
//! - `policy explain --principal ARN --action s3:GetObject --resource arn:aws:s3:::b/k` — whether
//!   it is allowed and which statement decided;
//! - `share create --bucket B --key K --expires-in SECS [--max-downloads N] [--filename F]
//!   [--password P]`, `share drop --bucket B --prefix P --expires-in SECS [--max-bytes N]
//!   [--content-type T]... [--max-uploads N] [--password P] [--overwrite]` (an upload-only
//!   link, ADR 0015), `share list [--account ID]`, `share show ID`, `share revoke ID` — public
//!   share links (`/_api/v1/shares`) as the signing key's principal (ADR 0010);
//! - `kms create [--id ID] [--account ID] [--description D]`, `kms list` — the platform's KMS
//!   keys for SSE-KMS (`/_api/v1/kms/keys`, platform admin only; ADR 0014);
//! - `analytics QUESTION [--account ID] [--from T] [--to T] ...` — the access analytics
//!   (`/_api/v1/analytics/...`) as a table; the signing key's account only, or any account
//!   for the platform admin.

use std::path::PathBuf;

use anyhow::{Context as _, bail};
use bytes::Bytes;
use clap::{Args, Subcommand};
use cloudstore_sigv4::{Credentials, SigningParams};
use http_body_util::{BodyExt as _, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

/// Where the server is and who signs.
#[derive(Debug, Args)]
pub(crate) struct AdminArgs {
    /// The server's base URL.
    #[arg(long, env = "CLOUDSTORE_ENDPOINT", default_value = "http://127.0.0.1:9000", global = true)]
    endpoint: String,
    /// Access key to sign with (default: the root key pair from the environment or the data dir).
    #[arg(long, env = "CLOUDSTORE_ROOT_ACCESS_KEY", global = true)]
    access_key: Option<String>,
    /// Secret of that key.
    #[arg(long, env = "CLOUDSTORE_ROOT_SECRET_KEY", hide_env_values = true, global = true)]
    secret_key: Option<String>,
    /// Data dir holding root-credentials.json (used when no key is given).
    #[arg(long, env = "CLOUDSTORE_DATA_DIR", default_value = "./data", global = true)]
    data_dir: PathBuf,
    /// Region for signatures.
    #[arg(long, env = "CLOUDSTORE_REGION", default_value = "us-east-1", global = true)]
    region: String,
    #[command(subcommand)]
    command: AdminCommand,
}

#[derive(Debug, Subcommand)]
enum AdminCommand {
    /// Accounts (platform admin only).
    #[command(subcommand)]
    Account(AccountCommand),
    /// Any IAM Query API action, as the signing key's account: `iam CreateUser UserName=bob`.
    Iam {
        /// The action, e.g. CreateUser, PutUserPolicy, ListUsers.
        action: String,
        /// Parameters as Key=Value (a value starting with @ is read from that file).
        params: Vec<String>,
    },
    /// Policy tools.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Access analytics from the events, printed as a table (`--json` for the raw answer).
    Analytics(AnalyticsArgs),
    /// Public share links, as the signing key's principal (sign with an account's key to share
    /// its objects).
    #[command(subcommand)]
    Share(ShareCommand),
    /// The platform's KMS keys for SSE-KMS (platform admin only; ADR 0014).
    #[command(subcommand)]
    Kms(KmsCommand),
}

#[derive(Debug, Subcommand)]
enum KmsCommand {
    /// Create a key: prints its JSON. The key material never leaves the server.
    Create {
        /// The key's id (what clients name in x-amz-server-side-encryption-aws-kms-key-id);
        /// random if not given.
        #[arg(long)]
        id: Option<String>,
        /// The only account that may use it (default: every account).
        #[arg(long)]
        account: Option<String>,
        #[arg(long)]
        description: Option<String>,
    },
    /// List the keys.
    List,
}

/// The REST request of a `kms` command.
fn kms_request(cmd: &KmsCommand) -> (http::Method, &'static str, Vec<u8>) {
    const PATH: &str = "/_api/v1/kms/keys";
    match cmd {
        KmsCommand::Create { id, account, description } => {
            let mut body = serde_json::json!({});
            for (k, v) in [("id", id), ("account", account), ("description", description)] {
                if let Some(v) = v {
                    body[k] = serde_json::json!(v);
                }
            }
            (http::Method::POST, PATH, body.to_string().into_bytes())
        }
        KmsCommand::List => (http::Method::GET, PATH, Vec::new()),
    }
}

#[derive(Debug, Subcommand)]
enum ShareCommand {
    /// Share one object: prints the link's JSON, its `url` included (shown only this once).
    Create {
        #[arg(long)]
        bucket: String,
        #[arg(long)]
        key: String,
        /// Lifetime in seconds (at most 7 days).
        #[arg(long)]
        expires_in: i64,
        /// Downloads allowed (default: unlimited until expiry).
        #[arg(long)]
        max_downloads: Option<u64>,
        /// The download's file name (default: the key's last segment).
        #[arg(long)]
        filename: Option<String>,
        /// A password the downloader gives (`curl -u :PASSWORD`).
        #[arg(long)]
        password: Option<String>,
    },
    /// Share a folder (every object under a prefix, ADR 0010): its link lists the files and
    /// serves each. Prints the link's JSON, its `url` included (shown only this once).
    Folder {
        #[arg(long)]
        bucket: String,
        /// Empty (the whole bucket) or ending with "/".
        #[arg(long)]
        prefix: String,
        /// Lifetime in seconds (at most 7 days).
        #[arg(long)]
        expires_in: i64,
        /// File downloads allowed, all files together (default: unlimited until expiry).
        #[arg(long)]
        max_downloads: Option<u64>,
        /// A password the downloader gives (`curl -u :PASSWORD`, or the landing page's form).
        #[arg(long)]
        password: Option<String>,
    },
    /// An upload-only link (a file drop, ADR 0015): strangers with it may upload files under
    /// the prefix, and see nothing. Prints the link's JSON, its `url` included.
    Drop {
        #[arg(long)]
        bucket: String,
        /// Uploads are stored as this prefix followed by the file's name.
        #[arg(long)]
        prefix: String,
        /// Lifetime in seconds (at most 7 days).
        #[arg(long)]
        expires_in: i64,
        /// The largest file accepted, in bytes.
        #[arg(long)]
        max_bytes: Option<u64>,
        /// A content type accepted (`image/png`, `image/*`); repeat for several (default: any).
        #[arg(long = "content-type")]
        content_types: Vec<String>,
        /// Uploads allowed (default: unlimited until expiry).
        #[arg(long)]
        max_uploads: Option<u64>,
        /// A password the uploader gives (HTTP Basic, empty user name).
        #[arg(long)]
        password: Option<String>,
        /// Let an upload replace an object of the same name.
        #[arg(long)]
        overwrite: bool,
    },
    /// The signer's links (an account root: its account's; the platform admin: `--account`'s).
    List {
        #[arg(long)]
        account: Option<String>,
    },
    /// One link, with its downloads and last use.
    Show { id: String },
    /// Revoke a link.
    Revoke { id: String },
}

#[derive(Debug, Args)]
struct AnalyticsArgs {
    #[command(subcommand)]
    question: Question,
    /// Only this account (the platform admin's choice; others see their own account anyway).
    #[arg(long, global = true)]
    account: Option<String>,
    /// From this time: milliseconds since the epoch, RFC 3339, or a UTC day YYYY-MM-DD.
    #[arg(long, global = true)]
    from: Option<String>,
    /// Until this time (exclusive), same forms as --from.
    #[arg(long, global = true)]
    to: Option<String>,
    /// Print the server's JSON instead of a table.
    #[arg(long, global = true)]
    json: bool,
}

#[derive(Debug, Subcommand)]
enum Question {
    /// Uploads and downloads per day (count, bytes).
    Traffic {
        /// account, user, access_key or bucket.
        #[arg(long, default_value = "bucket")]
        group_by: String,
    },
    /// The most downloaded objects.
    TopObjects {
        #[arg(long, default_value_t = 10)]
        limit: u32,
    },
    /// The principals with the most traffic.
    TopPrincipals {
        #[arg(long, default_value_t = 10)]
        limit: u32,
    },
    /// Denied requests by principal and action.
    Denied {
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
    /// Access keys not used for this many days (never-used keys count from their creation).
    UnusedKeys {
        #[arg(long)]
        days: u32,
    },
    /// Who accessed one object, when, from where: newest first.
    ObjectHistory {
        #[arg(long)]
        bucket: String,
        #[arg(long)]
        key: String,
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
}

#[derive(Debug, Subcommand)]
enum AccountCommand {
    /// Create an account and its first key pair (printed as JSON).
    Create {
        name: String,
        #[arg(long)]
        email: Option<String>,
        /// Password for REST login (optional: key pairs work without one).
        #[arg(long)]
        password: Option<String>,
    },
    /// List accounts.
    List,
    /// Delete an account with its users, keys and policies (its buckets must be emptied first).
    Delete { name: String },
}

#[derive(Debug, Subcommand)]
enum PolicyCommand {
    /// Would this principal be allowed this action on this resource, and why?
    Explain {
        /// Principal ARN (`arn:aws:iam::ACCOUNT:user/NAME`, `...:root`) or `anonymous`.
        #[arg(long)]
        principal: String,
        /// Action, e.g. s3:GetObject.
        #[arg(long)]
        action: String,
        /// Resource ARN, e.g. arn:aws:s3:::bucket/key.
        #[arg(long)]
        resource: String,
        /// Condition keys as key=value (e.g. aws:SourceIp=10.0.0.1).
        #[arg(long = "context")]
        context: Vec<String>,
    },
}

fn credentials(args: &AdminArgs) -> anyhow::Result<Credentials> {
    if let (Some(ak), Some(sk)) = (&args.access_key, &args.secret_key) {
        return Ok(Credentials::new(ak.clone(), sk.clone()));
    }
    let path = args.data_dir.join("root-credentials.json");
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!("no key given and cannot read {} (set CLOUDSTORE_ROOT_ACCESS_KEY/_SECRET_KEY)", path.display())
    })?;
    let v: serde_json::Value = serde_json::from_str(&text).with_context(|| format!("{}", path.display()))?;
    match (v["access_key"].as_str(), v["secret_key"].as_str()) {
        (Some(a), Some(s)) => Ok(Credentials::new(a.to_owned(), s.to_owned())),
        _ => bail!("{} is not a credentials file", path.display()),
    }
}

/// Sends a signed request; returns (status, body).
async fn call(
    args: &AdminArgs,
    method: http::Method,
    path: &str,
    content_type: &str,
    body: Vec<u8>,
    service: &str,
) -> anyhow::Result<(u16, String)> {
    let creds = credentials(args)?;
    let uri: http::Uri = format!("{}{}", args.endpoint.trim_end_matches('/'), path).parse().context("endpoint URL")?;
    let host = uri.authority().map(|a| a.as_str().to_owned()).context("endpoint has no host")?;
    let (mut parts, ()) = http::Request::builder()
        .method(method)
        .uri(uri)
        .header(http::header::HOST, host)
        .header(http::header::CONTENT_TYPE, content_type)
        .body(())
        .context("request")?
        .into_parts();
    let params = SigningParams { region: &args.region, service, time: time::OffsetDateTime::now_utc() };
    cloudstore_sigv4::sign(&mut parts, &cloudstore_sigv4::payload_hash(&body), &creds, &params)
        .map_err(|e| anyhow::anyhow!("signing: {e}"))?;
    let req = http::Request::from_parts(parts, Full::new(Bytes::from(body)));
    let client = Client::builder(TokioExecutor::new()).build_http();
    let resp = client.request(req).await.with_context(|| format!("cannot reach {}", args.endpoint))?;
    let status = resp.status().as_u16();
    let bytes = resp.into_body().collect().await.context("reading the answer")?.to_bytes();
    Ok((status, String::from_utf8_lossy(&bytes).into_owned()))
}

/// The path and query of an analytics question.
fn analytics_path(a: &AnalyticsArgs) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    let name = match &a.question {
        Question::Traffic { group_by } => {
            q.append_pair("group_by", group_by);
            "traffic"
        }
        Question::TopObjects { limit } => {
            q.append_pair("limit", &limit.to_string());
            "top-objects"
        }
        Question::TopPrincipals { limit } => {
            q.append_pair("limit", &limit.to_string());
            "top-principals"
        }
        Question::Denied { limit } => {
            q.append_pair("limit", &limit.to_string());
            "denied"
        }
        Question::UnusedKeys { days } => {
            q.append_pair("days", &days.to_string());
            "unused-keys"
        }
        Question::ObjectHistory { bucket, key, limit } => {
            q.append_pair("bucket", bucket).append_pair("key", key).append_pair("limit", &limit.to_string());
            "object-history"
        }
    };
    for (k, v) in [("account", &a.account), ("from", &a.from), ("to", &a.to)] {
        if let Some(v) = v {
            q.append_pair(k, v);
        }
    }
    format!("/_api/v1/analytics/{name}?{}", q.finish())
}

/// A UTC time of milliseconds since the epoch, to the second.
fn when(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000))
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_else(|| ms.to_string())
}

/// Bytes for people: 1536 → "1.5 KiB".
fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 { format!("{n} B") } else { format!("{v:.1} {}", UNITS[u]) }
}

/// The columns of each question: (heading, field, how shown).
fn columns(question: &str) -> &'static [(&'static str, &'static str, Cell)] {
    use Cell::{Bytes, Int, Text, Time};
    match question {
        "traffic" => &[
            ("DAY", "day", Text),
            ("GROUP", "group", Text),
            ("UPLOADS", "uploads", Int),
            ("UP BYTES", "upload_bytes", Bytes),
            ("DOWNLOADS", "downloads", Int),
            ("DOWN BYTES", "download_bytes", Bytes),
        ],
        "top-objects" => &[
            ("BUCKET", "bucket", Text),
            ("KEY", "key", Text),
            ("DOWNLOADS", "downloads", Int),
            ("BYTES", "bytes", Bytes),
        ],
        "top-principals" => &[
            ("PRINCIPAL", "principal_arn", Text),
            ("UPLOADS", "uploads", Int),
            ("UP BYTES", "upload_bytes", Bytes),
            ("DOWNLOADS", "downloads", Int),
            ("DOWN BYTES", "download_bytes", Bytes),
            ("REQUESTS", "requests", Int),
        ],
        "denied" => &[
            ("PRINCIPAL", "principal_arn", Text),
            ("ACTION", "action", Text),
            ("COUNT", "count", Int),
            ("LAST", "last_at", Time),
        ],
        "unused-keys" => &[
            ("ACCESS KEY", "access_key", Text),
            ("USER", "user_name", Text),
            ("CREATED", "created_at", Time),
            ("LAST USED", "last_used_at", Time),
            ("IDLE DAYS", "idle_days", Int),
        ],
        _ => &[
            ("WHEN", "occurred_at", Time),
            ("EVENT", "event_type", Text),
            ("PRINCIPAL", "principal_arn", Text),
            ("ACCESS KEY", "access_key", Text),
            ("FROM", "source_ip", Text),
            ("STATUS", "status", Int),
            ("BYTES", "bytes", Bytes),
            ("USER AGENT", "user_agent", Text),
        ],
    }
}

#[derive(Debug, Clone, Copy)]
enum Cell {
    Text,
    Int,
    Bytes,
    Time,
}

/// The answer of an analytics question as an aligned table (numbers right-aligned).
fn analytics_table(answer: &serde_json::Value) -> String {
    let question = answer["question"].as_str().unwrap_or_default();
    let cols = columns(question);
    let rows = answer["rows"].as_array().cloned().unwrap_or_default();
    let cell = |v: &serde_json::Value, kind: Cell| match (kind, v) {
        (_, serde_json::Value::Null) => "-".to_owned(),
        (Cell::Bytes, v) => v.as_u64().map_or_else(|| v.to_string(), human_bytes),
        (Cell::Time, v) => v.as_i64().map_or_else(|| v.to_string(), when),
        (Cell::Text, serde_json::Value::String(s)) if s.is_empty() => "(none)".to_owned(),
        (_, serde_json::Value::String(s)) => s.clone(),
        (_, v) => v.to_string(),
    };
    let table: Vec<Vec<String>> =
        rows.iter().map(|r| cols.iter().map(|(_, field, kind)| cell(&r[*field], *kind)).collect()).collect();
    let widths: Vec<usize> = cols
        .iter()
        .enumerate()
        .map(|(i, (h, _, _))| table.iter().map(|r| r[i].chars().count()).chain([h.len()]).max().unwrap_or(0))
        .collect();
    let line = |cells: Vec<&str>| {
        let parts: Vec<String> = cells
            .iter()
            .zip(cols)
            .zip(&widths)
            .map(|((c, (_, _, kind)), w)| match kind {
                Cell::Int | Cell::Bytes => format!("{c:>w$}"),
                _ => format!("{c:<w$}"),
            })
            .collect();
        parts.join("  ").trim_end().to_owned()
    };
    let mut out = String::new();
    let scope = answer["account_id"].as_str().map_or_else(|| "all accounts".to_owned(), |a| format!("account {a}"));
    out.push_str(&format!("{question} — {scope}\n"));
    out.push_str(&line(cols.iter().map(|(h, _, _)| *h).collect()));
    out.push('\n');
    for r in &table {
        out.push_str(&line(r.iter().map(String::as_str).collect()));
        out.push('\n');
    }
    out.push_str(&match table.len() {
        1 => "(1 row)".to_owned(),
        n => format!("({n} rows)"),
    });
    out
}

/// The REST call of a share command: (method, path and query, JSON body).
fn share_request(cmd: &ShareCommand) -> (http::Method, String, Vec<u8>) {
    const BASE: &str = "/_api/v1/shares";
    match cmd {
        ShareCommand::Create { bucket, key, expires_in, max_downloads, filename, password } => {
            let mut body = serde_json::json!({ "bucket": bucket, "key": key, "expires_in": expires_in });
            for (k, v) in [("filename", filename), ("password", password)] {
                if let Some(v) = v {
                    body[k] = serde_json::json!(v);
                }
            }
            if let Some(m) = max_downloads {
                body["max_downloads"] = serde_json::json!(m);
            }
            (http::Method::POST, BASE.to_owned(), body.to_string().into_bytes())
        }
        ShareCommand::Folder { bucket, prefix, expires_in, max_downloads, password } => {
            let mut body = serde_json::json!({ "bucket": bucket, "prefix": prefix, "expires_in": expires_in });
            if let Some(m) = max_downloads {
                body["max_downloads"] = serde_json::json!(m);
            }
            if let Some(p) = password {
                body["password"] = serde_json::json!(p);
            }
            (http::Method::POST, BASE.to_owned(), body.to_string().into_bytes())
        }
        ShareCommand::Drop {
            bucket,
            prefix,
            expires_in,
            max_bytes,
            content_types,
            max_uploads,
            password,
            overwrite,
        } => {
            let mut body =
                serde_json::json!({ "bucket": bucket, "kind": "upload", "prefix": prefix, "expires_in": expires_in });
            if let Some(m) = max_bytes {
                body["max_bytes"] = serde_json::json!(m);
            }
            if !content_types.is_empty() {
                body["content_types"] = serde_json::json!(content_types);
            }
            if let Some(m) = max_uploads {
                body["max_uploads"] = serde_json::json!(m);
            }
            if let Some(p) = password {
                body["password"] = serde_json::json!(p);
            }
            if *overwrite {
                body["overwrite"] = serde_json::json!(true);
            }
            (http::Method::POST, BASE.to_owned(), body.to_string().into_bytes())
        }
        ShareCommand::List { account } => {
            let path = match account {
                Some(a) => format!("{BASE}?account={}", cloudstore_sigv4::uri_encode(a)),
                None => BASE.to_owned(),
            };
            (http::Method::GET, path, Vec::new())
        }
        ShareCommand::Show { id } => {
            (http::Method::GET, format!("{BASE}/{}", cloudstore_sigv4::uri_encode(id)), Vec::new())
        }
        ShareCommand::Revoke { id } => {
            (http::Method::DELETE, format!("{BASE}/{}", cloudstore_sigv4::uri_encode(id)), Vec::new())
        }
    }
}

fn finish(status: u16, body: &str) -> anyhow::Result<()> {
    if !body.is_empty() {
        println!("{body}");
    }
    if (200..300).contains(&status) { Ok(()) } else { bail!("the server answered {status}") }
}

/// Runs one admin command.
pub(crate) async fn run(args: AdminArgs) -> anyhow::Result<()> {
    let json = "application/json";
    let (status, body) = match &args.command {
        AdminCommand::Account(AccountCommand::Create { name, email, password }) => {
            let body = serde_json::json!({ "name": name, "email": email, "password": password });
            call(&args, http::Method::POST, "/_api/v1/admin/accounts", json, body.to_string().into_bytes(), "iam")
                .await?
        }
        AdminCommand::Account(AccountCommand::List) => {
            call(&args, http::Method::GET, "/_api/v1/admin/accounts", json, Vec::new(), "iam").await?
        }
        AdminCommand::Account(AccountCommand::Delete { name }) => {
            let path = format!("/_api/v1/admin/accounts/{}", cloudstore_sigv4::uri_encode(name));
            call(&args, http::Method::DELETE, &path, json, Vec::new(), "iam").await?
        }
        AdminCommand::Policy(PolicyCommand::Explain { principal, action, resource, context }) => {
            let mut ctx = serde_json::Map::new();
            for kv in context {
                let (k, v) = kv.split_once('=').with_context(|| format!("--context {kv}: expected key=value"))?;
                ctx.insert(k.to_owned(), serde_json::Value::String(v.to_owned()));
            }
            let body =
                serde_json::json!({ "principal": principal, "action": action, "resource": resource, "context": ctx });
            call(&args, http::Method::POST, "/_api/v1/admin/explain", json, body.to_string().into_bytes(), "iam")
                .await?
        }
        AdminCommand::Iam { action, params } => {
            let mut form = form_urlencoded::Serializer::new(String::new());
            form.append_pair("Action", action).append_pair("Version", "2010-05-08");
            for kv in params {
                let (k, v) = kv.split_once('=').with_context(|| format!("{kv}: expected Key=Value"))?;
                let v = match v.strip_prefix('@') {
                    Some(file) => std::fs::read_to_string(file).with_context(|| format!("reading {file}"))?,
                    None => v.to_owned(),
                };
                form.append_pair(k, &v);
            }
            let body = form.finish().into_bytes();
            call(&args, http::Method::POST, "/", "application/x-www-form-urlencoded; charset=utf-8", body, "iam")
                .await?
        }
        AdminCommand::Share(cmd) => {
            let (method, path, body) = share_request(cmd);
            call(&args, method, &path, json, body, "iam").await?
        }
        AdminCommand::Kms(cmd) => {
            let (method, path, body) = kms_request(cmd);
            call(&args, method, path, json, body, "iam").await?
        }
        AdminCommand::Analytics(a) => {
            let (status, body) = call(&args, http::Method::GET, &analytics_path(a), json, Vec::new(), "iam").await?;
            if a.json || status != 200 {
                return finish(status, &body);
            }
            let answer: serde_json::Value = serde_json::from_str(&body).context("the server's answer is not JSON")?;
            println!("{}", analytics_table(&answer));
            return Ok(());
        }
    };
    finish(status, &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn analytics_answers_print_as_aligned_tables() {
        let answer = serde_json::json!({
            "question": "top-objects", "account_id": "111111111111",
            "rows": [
                { "bucket": "photos", "key": "cat.jpg", "downloads": 12, "bytes": 1536 },
                { "bucket": "b", "key": "a-much-longer-key.bin", "downloads": 3, "bytes": 5 },
            ],
        });
        let t = analytics_table(&answer);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines[0], "top-objects — account 111111111111");
        assert_eq!(lines[1], "BUCKET  KEY                    DOWNLOADS    BYTES");
        assert_eq!(lines[2], "photos  cat.jpg                       12  1.5 KiB");
        assert_eq!(lines[3], "b       a-much-longer-key.bin          3      5 B");
        assert_eq!(lines[4], "(2 rows)");
    }

    #[test]
    fn share_commands_become_rest_calls() {
        let create = ShareCommand::Create {
            bucket: "b".into(),
            key: "dir/a b".into(),
            expires_in: 60,
            max_downloads: Some(3),
            filename: None,
            password: Some("pw".into()),
        };
        let (method, path, body) = share_request(&create);
        assert_eq!((method, path.as_str()), (http::Method::POST, "/_api/v1/shares"));
        let body: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
        assert_eq!(
            body,
            serde_json::json!({ "bucket": "b", "key": "dir/a b", "expires_in": 60, "max_downloads": 3, "password": "pw" })
        );
        let folder = ShareCommand::Folder {
            bucket: "b".into(),
            prefix: "docs/".into(),
            expires_in: 60,
            max_downloads: Some(4),
            password: None,
        };
        let (method, path, body) = share_request(&folder);
        assert_eq!((method, path.as_str()), (http::Method::POST, "/_api/v1/shares"));
        let body: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
        assert_eq!(body, serde_json::json!({ "bucket": "b", "prefix": "docs/", "expires_in": 60, "max_downloads": 4 }));
        let drop = ShareCommand::Drop {
            bucket: "b".into(),
            prefix: "in/".into(),
            expires_in: 600,
            max_bytes: Some(1000),
            content_types: vec!["image/*".into()],
            max_uploads: None,
            password: None,
            overwrite: false,
        };
        let (method, _, body) = share_request(&drop);
        assert_eq!(method, http::Method::POST);
        let body: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
        assert_eq!(
            body,
            serde_json::json!({ "bucket": "b", "kind": "upload", "prefix": "in/", "expires_in": 600, "max_bytes": 1000, "content_types": ["image/*"] })
        );
        let (method, path, _) = share_request(&ShareCommand::Revoke { id: "shr-1".into() });
        assert_eq!((method, path.as_str()), (http::Method::DELETE, "/_api/v1/shares/shr-1"));
        let (_, path, _) = share_request(&ShareCommand::List { account: Some("111111111111".into()) });
        assert_eq!(path, "/_api/v1/shares?account=111111111111");
    }

    #[test]
    fn analytics_paths_carry_every_option_encoded() {
        let a = AnalyticsArgs {
            question: Question::ObjectHistory { bucket: "b".into(), key: "dir/a b&c".into(), limit: 5 },
            account: Some("111111111111".into()),
            from: Some("2026-12-01".into()),
            to: None,
            json: false,
        };
        assert_eq!(
            analytics_path(&a),
            "/_api/v1/analytics/object-history?bucket=b&key=dir%2Fa+b%26c&limit=5&account=111111111111&from=2026-12-01"
        );
    }
}

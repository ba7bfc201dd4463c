//! `cloudstore admin`: manages a running server over its public port, signing each call with
//! SigV4 (the platform admin's root key pair by default, or any key given).
//!
//! - `account create NAME [--email E] [--password P]` — an account and its first key pair;
//! - `account list`, `account delete NAME`;
//! - `iam ACTION [Key=Value ...]` — any IAM Query API call (users, keys, groups, roles,
//!   policies) as the signing key's account, e.g. `iam CreateUser UserName=bob`;
//! - `policy explain --principal ARN --action s3:GetObject --resource arn:aws:s3:::b/k` — whether
//!   it is allowed and which statement decided.

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
    };
    finish(status, &body)
}

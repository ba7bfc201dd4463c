//! Settings of the S3 frontend: flags, or `CLOUDSTORE_*` environment variables (flags win).
//! Secrets may also come from files (`*_FILE`), so they need not sit in the environment.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use crate::auth::RootCredentials;

/// Why the settings can't be used. Printed as one line and a non-zero exit.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A setting is missing, malformed or contradicts another.
    #[error("{0}")]
    Invalid(String),
    /// A file named by a setting could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        #[source]
        source: std::io::Error,
    },
}

/// Command-line / environment settings of a server process.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// Public address (host:port) serving S3, health and metrics.
    #[arg(long, env = "CLOUDSTORE_LISTEN", default_value = "127.0.0.1:9000")]
    pub listen: SocketAddr,
    /// Where embedded backends (SQLite, local blobs) and the generated root key live.
    #[arg(long, env = "CLOUDSTORE_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
    /// Region name used in SigV4 scopes and responses.
    #[arg(long, env = "CLOUDSTORE_REGION", default_value = "us-east-1")]
    pub region: String,
    /// Threads running requests. Default: half the CPUs (at least one), since the gateway
    /// mostly waits on its database and backend, and often shares the machine with them
    /// (see crate::runtime).
    #[arg(long, env = "CLOUDSTORE_WORKER_THREADS", value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub worker_threads: Option<u16>,
    /// Root (platform admin) access key id. Generated on first start when unset.
    #[arg(long, env = "CLOUDSTORE_ROOT_ACCESS_KEY")]
    pub root_access_key: Option<String>,
    /// Root secret key (prefer CLOUDSTORE_ROOT_SECRET_KEY_FILE).
    #[arg(long, env = "CLOUDSTORE_ROOT_SECRET_KEY", hide_env_values = true)]
    pub root_secret_key: Option<String>,
    /// File holding the root secret key.
    #[arg(long, env = "CLOUDSTORE_ROOT_SECRET_KEY_FILE")]
    pub root_secret_key_file: Option<PathBuf>,
    /// PostgreSQL URL for metadata; SQLite in the data dir when unset.
    #[arg(long, env = "CLOUDSTORE_POSTGRES_URL", hide_env_values = true)]
    pub postgres_url: Option<String>,
    /// S3 endpoint (MinIO or any S3) for object data; local files in the data dir when unset.
    #[arg(long, env = "CLOUDSTORE_S3_ENDPOINT")]
    pub s3_endpoint: Option<String>,
    /// Access key for the S3 backend.
    #[arg(long, env = "CLOUDSTORE_S3_ACCESS_KEY")]
    pub s3_access_key: Option<String>,
    /// Secret key for the S3 backend (prefer CLOUDSTORE_S3_SECRET_KEY_FILE).
    #[arg(long, env = "CLOUDSTORE_S3_SECRET_KEY", hide_env_values = true)]
    pub s3_secret_key: Option<String>,
    /// File holding the S3 backend's secret key.
    #[arg(long, env = "CLOUDSTORE_S3_SECRET_KEY_FILE")]
    pub s3_secret_key_file: Option<PathBuf>,
    /// Bucket in the S3 backend that holds all blobs (created if missing).
    #[arg(long, env = "CLOUDSTORE_S3_BUCKET", default_value = "cloudstore")]
    pub s3_bucket: String,
    /// The address people reach this server at (`https://files.example.com`, e.g. behind a TLS
    /// proxy), used in the share links it hands out; else `http://` and the request's `Host`.
    #[arg(long, env = "CLOUDSTORE_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Base domains for virtual-hosted-style requests (`bucket.<domain>`), comma-separated.
    #[arg(long, env = "CLOUDSTORE_DOMAINS", value_delimiter = ',', default_value = "localhost")]
    pub domains: Vec<String>,
    /// Seconds a replaced or deleted object's data stays readable for reads in flight.
    #[arg(long, env = "CLOUDSTORE_GC_GRACE_SECS", default_value_t = 900)]
    pub gc_grace_secs: u64,
    /// Seconds an upload may take before its unfinished data is reclaimed.
    #[arg(long, env = "CLOUDSTORE_PENDING_TTL_SECS", default_value_t = 6 * 3600)]
    pub pending_ttl_secs: u64,
    /// Seconds after which an unfinished multipart upload is aborted.
    #[arg(long, env = "CLOUDSTORE_UPLOAD_TTL_SECS", default_value_t = 7 * 24 * 3600)]
    pub upload_ttl_secs: u64,
    /// Seconds between passes of the lifecycle worker (which applies buckets' lifecycle rules).
    #[arg(long, env = "CLOUDSTORE_LIFECYCLE_INTERVAL_SECS", default_value_t = 3600, value_parser = clap::value_parser!(u64).range(1..))]
    pub lifecycle_interval_secs: u64,
    /// Seconds in a lifecycle "day" (rules' `Days`, midnights): for tests only, 86400 otherwise.
    #[arg(long, env = "CLOUDSTORE_LIFECYCLE_DAY_SECS", default_value_t = 86_400, value_parser = clap::value_parser!(u64).range(1..))]
    pub lifecycle_day_secs: u64,
    /// Seconds between collector passes.
    #[arg(long, env = "CLOUDSTORE_GC_INTERVAL_SECS", default_value_t = 30)]
    pub gc_interval_secs: u64,
    /// Connections served at once. Default: from the open-file limit (raised at start to the
    /// hard limit), about half of it (see `server::Limits`).
    #[arg(long, env = "CLOUDSTORE_MAX_CONNECTIONS", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: Option<u32>,
    /// Seconds a request body may send no data before the request fails (400 RequestTimeout).
    #[arg(long, env = "CLOUDSTORE_BODY_IDLE_TIMEOUT_SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    pub body_idle_timeout_secs: u64,
    /// Kafka brokers (`host:port[,host:port]`) the outbox relay publishes events to; without,
    /// events go to the local event store `<data dir>/events.sqlite`.
    #[arg(long, env = "CLOUDSTORE_KAFKA_BROKERS")]
    pub kafka_brokers: Option<String>,
    /// The Kafka topic of the events (the notifier in `cloudstore serve` reads the same one).
    #[arg(long, env = "CLOUDSTORE_EVENTS_TOPIC", default_value = cloudstore_events::EVENTS_TOPIC)]
    pub events_topic: String,
    /// Events (ADR 0006): `on` (default) or `off` (no outbox rows, no relay; for comparison
    /// benchmarks).
    #[arg(long, env = "CLOUDSTORE_EVENTS", default_value = "on", value_parser = ["on", "off"])]
    pub events: String,
    /// Where analytics read events (ClickHouse, else the local event store).
    #[command(flatten)]
    pub analytics: crate::analytics::AnalyticsArgs,
}

/// Where metadata lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetadataBackend {
    /// Embedded SQLite file.
    Sqlite(PathBuf),
    /// PostgreSQL.
    Postgres(String),
}

/// Where object data lives.
#[derive(Clone, PartialEq, Eq)]
pub enum BlobBackend {
    /// Local files.
    Fs(PathBuf),
    /// An S3 server (MinIO in production).
    S3 {
        /// Endpoint URL.
        endpoint: String,
        /// Access key.
        access_key: String,
        /// Secret key.
        secret_key: String,
        /// Bucket holding the blobs.
        bucket: String,
    },
}

impl std::fmt::Debug for BlobBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Fs(p) => f.debug_tuple("Fs").field(p).finish(),
            Self::S3 { endpoint, access_key, bucket, .. } => f
                .debug_struct("S3")
                .field("endpoint", endpoint)
                .field("access_key", access_key)
                .field("bucket", bucket)
                .finish_non_exhaustive(),
        }
    }
}

fn read_secret(value: Option<&String>, file: Option<&PathBuf>, name: &str) -> Result<Option<String>, ConfigError> {
    match (value, file) {
        (Some(_), Some(_)) => Err(ConfigError::Invalid(format!("set either {name} or {name}_FILE, not both"))),
        (Some(v), None) => Ok(Some(v.clone())),
        (None, Some(path)) => std::fs::read_to_string(path)
            .map(|s| Some(s.trim_end_matches(['\r', '\n']).to_owned()))
            .map_err(|source| ConfigError::Io { path: path.clone(), source }),
        (None, None) => Ok(None),
    }
}

impl ServeArgs {
    /// The metadata backend these settings select.
    pub fn metadata_backend(&self) -> Result<MetadataBackend, ConfigError> {
        match &self.postgres_url {
            Some(url) if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) => {
                Err(ConfigError::Invalid("CLOUDSTORE_POSTGRES_URL must start with postgres://".into()))
            }
            Some(url) => Ok(MetadataBackend::Postgres(url.clone())),
            None => Ok(MetadataBackend::Sqlite(self.data_dir.join("metadata.sqlite"))),
        }
    }

    /// The blob backend these settings select.
    pub fn blob_backend(&self) -> Result<BlobBackend, ConfigError> {
        let secret =
            read_secret(self.s3_secret_key.as_ref(), self.s3_secret_key_file.as_ref(), "CLOUDSTORE_S3_SECRET_KEY")?;
        match (&self.s3_endpoint, &self.s3_access_key, secret) {
            (None, None, None) => Ok(BlobBackend::Fs(self.data_dir.join("blobs"))),
            (Some(endpoint), Some(ak), Some(sk)) => {
                if !(endpoint.starts_with("http://") || endpoint.starts_with("https://")) {
                    return Err(ConfigError::Invalid("CLOUDSTORE_S3_ENDPOINT must be an http:// or https:// URL".into()));
                }
                Ok(BlobBackend::S3 { endpoint: endpoint.clone(), access_key: ak.clone(), secret_key: sk, bucket: self.s3_bucket.clone() })
            }
            _ => Err(ConfigError::Invalid(
                "the S3 backend needs CLOUDSTORE_S3_ENDPOINT, CLOUDSTORE_S3_ACCESS_KEY and CLOUDSTORE_S3_SECRET_KEY together".into(),
            )),
        }
    }

    /// The root key pair: from the settings, else from the data dir, else generated and saved
    /// there (mode 0600). The flag says whether it was generated now (to print it once).
    pub fn root_credentials(&self) -> Result<(RootCredentials, bool), ConfigError> {
        let secret = read_secret(
            self.root_secret_key.as_ref(),
            self.root_secret_key_file.as_ref(),
            "CLOUDSTORE_ROOT_SECRET_KEY",
        )?;
        match (&self.root_access_key, secret) {
            (Some(ak), Some(sk)) => {
                if ak.len() < 3 || sk.len() < 8 {
                    return Err(ConfigError::Invalid("root access key must be 3+ characters and the secret 8+".into()));
                }
                Ok((RootCredentials { access_key: ak.clone(), secret_key: sk }, false))
            }
            (None, None) => load_or_generate_root(&self.data_dir),
            _ => Err(ConfigError::Invalid(
                "set both CLOUDSTORE_ROOT_ACCESS_KEY and CLOUDSTORE_ROOT_SECRET_KEY, or neither".into(),
            )),
        }
    }
}

const ROOT_FILE: &str = "root-credentials.json";

fn load_or_generate_root(dir: &Path) -> Result<(RootCredentials, bool), ConfigError> {
    #[derive(serde::Serialize, serde::Deserialize)]
    struct Saved {
        access_key: String,
        secret_key: String,
    }
    let path = dir.join(ROOT_FILE);
    let io = |source| ConfigError::Io { path: path.clone(), source };
    match std::fs::read(&path) {
        Ok(bytes) => {
            let s: Saved = serde_json::from_slice(&bytes)
                .map_err(|e| ConfigError::Invalid(format!("{}: not a credentials file: {e}", path.display())))?;
            Ok((RootCredentials { access_key: s.access_key, secret_key: s.secret_key }, false))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            private_dir(dir).map_err(|source| ConfigError::Io { path: dir.to_owned(), source })?;
            let root = RootCredentials::generate();
            let saved = Saved { access_key: root.access_key.clone(), secret_key: root.secret_key.clone() };
            let json = serde_json::to_vec_pretty(&saved).map_err(|e| ConfigError::Invalid(e.to_string()))?;
            write_private(&path, &json).map_err(io)?;
            Ok((root, true))
        }
        Err(e) => Err(io(e)),
    }
}

/// Makes the data dir private, whatever the umask: creates it (and missing parents) 0700, or
/// tightens it to 0700, and tightens the SQLite files already in it to 0600 (the stores create
/// their files 0600; an older version created them 0644).
pub fn private_data_dir(dir: &Path) -> Result<(), ConfigError> {
    use std::os::unix::fs::PermissionsExt as _;
    private_dir(dir).map_err(|source| ConfigError::Io { path: dir.to_owned(), source })?;
    for name in ["metadata.sqlite", "metadata.sqlite-wal", "metadata.sqlite-shm"] {
        let path = dir.join(name);
        match std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(ConfigError::Io { path, source: e }),
            _ => {}
        }
    }
    Ok(())
}

/// What only a cloudstore data dir holds: an existing dir with one of these is ours to tighten.
const STATE_FILES: [&str; 4] = ["metadata.sqlite", "master.key", "root-credentials.json", "blobs"];

/// Creates `dir` (and missing parents) 0700, or sets an existing data dir (empty, or already
/// holding cloudstore state) to 0700. Any other existing directory (`--data-dir .`, a shared one) keeps
/// its mode, with a warning: what the stores create in it is private by its own mode (files
/// 0600, directories 0700).
fn private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt as _, PermissionsExt as _};
    if !dir.exists() {
        return std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir);
    }
    let empty = std::fs::read_dir(dir)?.next().is_none();
    if empty || STATE_FILES.iter().any(|f| dir.join(f).exists()) {
        return std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
    }
    let mode = std::fs::metadata(dir)?.permissions().mode();
    if mode & 0o077 != 0 {
        tracing::warn!(dir = %dir.display(), mode = format!("{:o}", mode & 0o777), "the data dir is readable by others; its files are not (0600), but consider a private directory");
    }
    Ok(())
}

/// Writes a file only its owner can read (0600), atomically.
fn write_private(path: &Path, data: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&tmp)?;
    f.write_all(data)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn only_data_dirs_are_tightened() {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = |p: &Path| std::fs::metadata(p).map(|m| m.permissions().mode() & 0o777).unwrap_or(0);
        let tmp = tempfile::tempdir().expect("tempdir");
        let open = |name: &str| {
            let d = tmp.path().join(name);
            std::fs::create_dir(&d).expect("mkdir");
            std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o755)).expect("chmod");
            d
        };
        // Missing: made 0700. Empty, or holding our state: tightened.
        let fresh = tmp.path().join("fresh/data");
        private_dir(&fresh).expect("create");
        assert_eq!(mode(&fresh), 0o700);
        let empty = open("empty");
        private_dir(&empty).expect("empty");
        assert_eq!(mode(&empty), 0o700);
        let ours = open("ours");
        std::fs::write(ours.join("master.key"), b"k").expect("write");
        private_dir(&ours).expect("ours");
        assert_eq!(mode(&ours), 0o700);
        // Someone else's directory (`--data-dir .`): left as it is.
        let shared = open("shared");
        std::fs::write(shared.join("notes.txt"), b"n").expect("write");
        private_dir(&shared).expect("shared");
        assert_eq!(mode(&shared), 0o755);
    }

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: ServeArgs,
    }

    fn parse(argv: &[&str]) -> ServeArgs {
        let mut full = vec!["test"];
        full.extend_from_slice(argv);
        Cli::try_parse_from(full).map(|c| c.args).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn defaults_select_the_embedded_backends() {
        let a = parse(&["--data-dir", "/tmp/x"]);
        assert_eq!(a.metadata_backend().ok(), Some(MetadataBackend::Sqlite("/tmp/x/metadata.sqlite".into())));
        assert_eq!(a.blob_backend().ok(), Some(BlobBackend::Fs("/tmp/x/blobs".into())));
    }

    #[test]
    fn partial_backend_settings_are_refused() {
        let a = parse(&["--s3-endpoint", "http://127.0.0.1:1"]);
        assert!(matches!(a.blob_backend(), Err(ConfigError::Invalid(_))));
        let a = parse(&["--postgres-url", "mysql://x"]);
        assert!(a.metadata_backend().is_err());
        let a = parse(&["--root-access-key", "abc"]);
        assert!(a.root_credentials().is_err());
    }

    #[test]
    fn root_key_is_generated_once_and_private() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let a = parse(&["--data-dir", dir.path().to_str().unwrap_or_default()]);
        let (first, generated) = a.root_credentials().unwrap_or_else(|e| panic!("{e}"));
        assert!(generated);
        let (again, generated_again) = a.root_credentials().unwrap_or_else(|e| panic!("{e}"));
        assert!(!generated_again);
        assert_eq!(first.secret_key, again.secret_key);
        let mode = std::fs::metadata(dir.path().join(ROOT_FILE)).map(|m| m.permissions().mode() & 0o777).ok();
        assert_eq!(mode, Some(0o600));
    }

    #[test]
    fn secrets_come_from_files() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let f = dir.path().join("sk");
        std::fs::write(&f, "supersecretvalue\n").unwrap_or_else(|e| panic!("{e}"));
        let a = parse(&["--root-access-key", "admin", "--root-secret-key-file", f.to_str().unwrap_or_default()]);
        let (root, _) = a.root_credentials().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(root.secret_key, "supersecretvalue");
    }
}

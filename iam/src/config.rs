//! The IAM service's own settings, and opening it from them.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::crypto::Keyring;
use crate::error::{Error, Result};
use crate::service::{IamService, ServiceConfig};
use crate::session::{MemorySessionStore, RedisSessionStore, SessionStore};
use crate::store::{IamStore, PgIamStore, SqliteIamStore};

/// Settings of the IAM service (flags or `CLOUDSTORE_*` variables).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct IamArgs {
    /// Redis for sessions and temporary credentials (`redis://host:port`); in-process if unset.
    #[arg(long, env = "CLOUDSTORE_REDIS_URL")]
    pub redis_url: Option<String>,
    /// Master key sealing access-key secrets and signing session tokens: base64 of at least
    /// 32 bytes. Generated and saved in the data dir (0600) if unset.
    #[arg(long, env = "CLOUDSTORE_MASTER_KEY", hide_env_values = true)]
    pub master_key: Option<String>,
    /// File holding the master key.
    #[arg(long, env = "CLOUDSTORE_MASTER_KEY_FILE")]
    pub master_key_file: Option<PathBuf>,
}

/// Where the identity database is.
#[derive(Debug, Clone)]
pub enum IdentityDb {
    Sqlite(PathBuf),
    Postgres(String),
}

const MASTER_KEY_FILE: &str = "master.key";

fn decode_master(text: &str) -> Result<Vec<u8>> {
    let key = STANDARD.decode(text.trim()).map_err(|_| Error::InvalidInput("the master key must be base64".into()))?;
    if key.len() < 32 {
        return Err(Error::InvalidInput("the master key must be at least 32 bytes".into()));
    }
    Ok(key)
}

/// The master key from the settings, or from (or newly into) `data_dir/master.key`.
pub fn master_key(args: &IamArgs, data_dir: &Path) -> Result<Vec<u8>> {
    if let Some(k) = &args.master_key {
        return decode_master(k);
    }
    let (path, may_create) = match &args.master_key_file {
        Some(p) => (p.clone(), false),
        None => (data_dir.join(MASTER_KEY_FILE), true),
    };
    match std::fs::read_to_string(&path) {
        Ok(text) => decode_master(&text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && may_create => {
            use std::io::Write as _;
            use std::os::unix::fs::OpenOptionsExt as _;
            let io = |e: std::io::Error| Error::InvalidInput(format!("{}: {e}", path.display()));
            std::fs::create_dir_all(data_dir).map_err(io)?;
            let key = Keyring::generate_master_key();
            let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&path).map_err(io)?;
            f.write_all(key.as_bytes()).map_err(io)?;
            f.sync_all().map_err(io)?;
            tracing::info!(path = %path.display(), "generated the IAM master key");
            decode_master(&key)
        }
        Err(e) => Err(Error::InvalidInput(format!("{}: {e}", path.display()))),
    }
}

/// Opens the IAM service: identity database, session store and keyring.
pub async fn open(args: &IamArgs, db: &IdentityDb, data_dir: &Path, cfg: ServiceConfig) -> Result<IamService> {
    let keyring = Keyring::new(&master_key(args, data_dir)?)?;
    let store: Arc<dyn IamStore> = match db {
        IdentityDb::Sqlite(path) => Arc::new(SqliteIamStore::open(path).await?),
        IdentityDb::Postgres(url) => Arc::new(PgIamStore::connect(url).await?),
    };
    let sessions: Arc<dyn SessionStore> = match &args.redis_url {
        Some(url) => Arc::new(RedisSessionStore::connect(url).await.map_err(|e| Error::Unavailable(e.to_string()))?),
        None => Arc::new(MemorySessionStore::new()),
    };
    IamService::new(store, sessions, keyring, cfg).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn master_key_is_generated_once_private_and_reused() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().expect("tempdir");
        let a = master_key(&IamArgs::default(), dir.path()).expect("generate");
        let mode = std::fs::metadata(dir.path().join(MASTER_KEY_FILE)).expect("file").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(master_key(&IamArgs::default(), dir.path()).expect("reuse"), a);
        let short = IamArgs { master_key: Some(STANDARD.encode([1u8; 8])), ..IamArgs::default() };
        assert!(master_key(&short, dir.path()).is_err());
        let bad = IamArgs { master_key: Some("***".into()), ..IamArgs::default() };
        assert!(master_key(&bad, dir.path()).is_err());
    }
}

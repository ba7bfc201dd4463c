//! [`FsBlobStore`]: blobs as files on a local filesystem, for development, tests and the
//! embedded mode (s3s-fs is the model).
//!
//! Layout under the root directory:
//! - `blobs/<aa>/<bb>/<id>`: one blob. `aabb` are the first four hex digits of the FNV-1a
//!   hash of the id, so time-ordered ids (UUIDv7) still spread over 65,536 directories. The
//!   hash is part of the on-disk format and must never change.
//! - `tmp/<id>.<unique>.tmp`: a write in progress.
//!
//! A put streams the body into a fresh file under `tmp/`, checks the length, fsyncs the file,
//! then renames it into place (atomic, same filesystem) and fsyncs the directory. A failed,
//! cancelled or truncated put removes its temp file, and a temp file is never readable as a
//! blob. Temp files left by a crash are removed by [`FsBlobStore::open`] once they are older
//! than [`STALE_TEMP_AGE`] (younger ones may belong to another process sharing the root).
//!
//! Only the owner may read the store: directories are created 0700 and files 0600, whatever
//! the umask.
//!
//! Memory: a put holds one body chunk plus tokio's file buffer (at most 2 MiB); a get reads
//! [`READ_CHUNK`] bytes at a time. No file is ever read into memory whole.

use std::fmt::Write as _;
use std::io::{self, SeekFrom};
use std::ops::Range;
use std::os::unix::fs::DirBuilderExt as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cloudstore_store_api::{BlobId, BlobStore, ByteStream, Result, StoreError};
use futures::StreamExt;
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};
use tokio_util::io::ReaderStream;

/// Size of the chunks a get stream yields.
pub const READ_CHUNK: usize = 128 * 1024;

/// Age after which [`FsBlobStore::open`] removes a leftover temp file. The mtime of a temp
/// file moves with every write, so only writes stalled this long are affected.
pub const STALE_TEMP_AGE: Duration = Duration::from_secs(30 * 60);

const BLOBS_DIR: &str = "blobs";
const TMP_DIR: &str = "tmp";
const TMP_SUFFIX: &str = ".tmp";

/// Blobs stored as files under a root directory. See the crate docs for the layout.
#[derive(Debug, Clone)]
pub struct FsBlobStore {
    blobs: PathBuf,
    tmp: PathBuf,
}

impl FsBlobStore {
    /// Opens (creating if needed) a store rooted at `root`, and removes temp files older than
    /// [`STALE_TEMP_AGE`] left there by a crash.
    pub fn open(root: &Path) -> Result<Self> {
        let blobs = root.join(BLOBS_DIR);
        let tmp = root.join(TMP_DIR);
        for dir in [&blobs, &tmp] {
            private_dir_builder()
                .recursive(true)
                .create(dir)
                .map_err(|e| backend(format!("creating {}", dir.display()), e))?;
        }
        let removed = remove_stale_temp_files(&tmp, STALE_TEMP_AGE)?;
        if removed > 0 {
            tracing::info!(removed, dir = %tmp.display(), "removed stale temp files");
        }
        Ok(Self { blobs, tmp })
    }

    /// Where blob `id` lives.
    fn blob_path(&self, id: &BlobId) -> PathBuf {
        let h = fnv1a(id.as_str().as_bytes());
        let mut p = self.blobs.clone();
        p.push(format!("{:02x}", (h >> 56) & 0xff));
        p.push(format!("{:02x}", (h >> 48) & 0xff));
        p.push(id.as_str());
        p
    }

    /// A fresh temp file name for a write of `id`.
    fn temp_path(&self, id: &BlobId) -> PathBuf {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let mut name = String::with_capacity(96);
        let _ = write!(name, "{id}.{}-{nanos}-{n}{TMP_SUFFIX}", std::process::id());
        self.tmp.join(name)
    }
}

/// FNV-1a, 64 bits: a stable hash (part of the on-disk layout).
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

fn backend(context: String, e: io::Error) -> StoreError {
    StoreError::backend(io::Error::new(e.kind(), format!("{context}: {e}")))
}

fn invalid(msg: String) -> StoreError {
    StoreError::backend(io::Error::new(io::ErrorKind::InvalidInput, msg))
}

/// Removes files in `dir` named `*.tmp` whose mtime is older than `max_age`.
fn remove_stale_temp_files(dir: &Path, max_age: Duration) -> Result<usize> {
    let now = SystemTime::now();
    let entries = std::fs::read_dir(dir).map_err(|e| backend(format!("listing {}", dir.display()), e))?;
    let mut removed = 0;
    for entry in entries {
        let entry = entry.map_err(|e| backend(format!("listing {}", dir.display()), e))?;
        if !entry.file_name().to_string_lossy().ends_with(TMP_SUFFIX) {
            continue;
        }
        let stale =
            entry.metadata().and_then(|m| m.modified()).map(|t| now.duration_since(t).unwrap_or_default() >= max_age);
        match stale {
            Ok(true) => match std::fs::remove_file(entry.path()) {
                Ok(()) => removed += 1,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => tracing::warn!(path = %entry.path().display(), error = %e, "cannot remove stale temp file"),
            },
            Ok(false) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => tracing::warn!(path = %entry.path().display(), error = %e, "cannot stat temp file"),
        }
    }
    Ok(removed)
}

/// Removes a temp file when dropped (a failed or cancelled put), unless disarmed.
#[derive(Debug)]
struct TempGuard(Option<PathBuf>);

impl TempGuard {
    fn path(&self) -> &Path {
        self.0.as_deref().unwrap_or(Path::new(""))
    }

    /// Removes the file now (on an error path), so it is gone when the put returns.
    async fn remove(mut self) {
        if let Some(p) = self.0.take()
            && let Err(e) = tokio::fs::remove_file(&p).await
            && e.kind() != io::ErrorKind::NotFound
        {
            tracing::warn!(path = %p.display(), error = %e, "cannot remove temp file");
        }
    }

    fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for TempGuard {
    fn drop(&mut self) {
        let Some(p) = self.0.take() else { return };
        let remove = move || {
            if let Err(e) = std::fs::remove_file(&p)
                && e.kind() != io::ErrorKind::NotFound
            {
                tracing::warn!(path = %p.display(), error = %e, "cannot remove temp file");
            }
        };
        match tokio::runtime::Handle::try_current() {
            Ok(h) => drop(h.spawn_blocking(remove)),
            Err(_) => remove(),
        }
    }
}

/// Streams `body` into `file`, returning the byte count; checks it against `size`.
async fn write_body(file: &mut tokio::fs::File, mut body: ByteStream, size: Option<u64>) -> Result<u64> {
    let mut written: u64 = 0;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(StoreError::backend)?;
        written += chunk.len() as u64;
        if let Some(size) = size
            && written > size
        {
            return Err(invalid(format!("body is longer than the declared {size} bytes")));
        }
        file.write_all(&chunk).await.map_err(|e| backend("writing temp file".into(), e))?;
    }
    if let Some(size) = size
        && written != size
    {
        return Err(invalid(format!("body ended after {written} of the declared {size} bytes")));
    }
    file.flush().await.map_err(|e| backend("writing temp file".into(), e))?;
    file.sync_all().await.map_err(|e| backend("syncing temp file".into(), e))?;
    Ok(written)
}

/// Creates directories only their owner may enter (0700).
fn private_dir_builder() -> std::fs::DirBuilder {
    let mut b = std::fs::DirBuilder::new();
    b.mode(0o700);
    b
}

/// Moves a complete temp file into place, durably: creates the shard directories, renames,
/// and fsyncs every directory whose entries changed.
fn install(tmp: &Path, dest: &Path) -> io::Result<()> {
    let parent = dest.parent().ok_or_else(|| io::Error::other("blob path has no parent"))?;
    let mut to_sync = vec![parent.to_path_buf()];
    // Create the two shard levels, remembering which parents gained an entry.
    let mut missing = Vec::new();
    let mut dir = parent;
    while !dir.exists() {
        missing.push(dir.to_path_buf());
        match dir.parent() {
            Some(p) => dir = p,
            None => break,
        }
    }
    for d in missing.iter().rev() {
        match private_dir_builder().create(d) {
            Ok(()) => {
                if let Some(p) = d.parent() {
                    to_sync.push(p.to_path_buf());
                }
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
    }
    std::fs::rename(tmp, dest)?;
    for d in to_sync {
        std::fs::File::open(&d)?.sync_all()?;
    }
    Ok(())
}

#[async_trait::async_trait]
impl BlobStore for FsBlobStore {
    async fn put(&self, id: &BlobId, body: ByteStream, size: Option<u64>) -> Result<u64> {
        let guard = TempGuard(Some(self.temp_path(id)));
        let mut file = tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(guard.path())
            .await
            .map_err(|e| backend(format!("creating {}", guard.path().display()), e))?;
        let written = match write_body(&mut file, body, size).await {
            Ok(n) => n,
            Err(e) => {
                drop(file);
                guard.remove().await;
                return Err(e);
            }
        };
        drop(file);
        let tmp = guard.path().to_path_buf();
        let dest = self.blob_path(id);
        let installed = tokio::task::spawn_blocking(move || install(&tmp, &dest)).await;
        match installed {
            Ok(Ok(())) => {
                guard.disarm();
                Ok(written)
            }
            Ok(Err(e)) => {
                guard.remove().await;
                Err(backend(format!("installing blob {id}"), e))
            }
            Err(join) => {
                guard.remove().await;
                Err(StoreError::backend(join))
            }
        }
    }

    async fn get(&self, id: &BlobId, range: Option<Range<u64>>) -> Result<ByteStream> {
        let path = self.blob_path(id);
        let mut file = match tokio::fs::File::open(&path).await {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(StoreError::BlobNotFound),
            Err(e) => return Err(backend(format!("opening blob {id}"), e)),
        };
        let len = file.metadata().await.map_err(|e| backend(format!("reading blob {id}"), e))?.len();
        let (start, end) = match range {
            None => (0, len),
            Some(r) if r.start <= r.end && r.end <= len => (r.start, r.end),
            Some(r) => return Err(invalid(format!("range {r:?} is outside blob {id} of {len} bytes"))),
        };
        if start > 0 {
            file.seek(SeekFrom::Start(start)).await.map_err(|e| backend(format!("reading blob {id}"), e))?;
        }
        Ok(Box::pin(ReaderStream::with_capacity(file.take(end - start), READ_CHUNK)))
    }

    async fn delete(&self, id: &BlobId) -> Result<()> {
        match tokio::fs::remove_file(self.blob_path(id)).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(backend(format!("deleting blob {id}"), e)),
        }
    }

    async fn ping(&self) -> Result<()> {
        for dir in [&self.blobs, &self.tmp] {
            let meta = tokio::fs::metadata(dir).await.map_err(|e| backend(format!("checking {}", dir.display()), e))?;
            if !meta.is_dir() {
                return Err(invalid(format!("{} is not a directory", dir.display())));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_is_stable() {
        // The shard of an id is part of the on-disk format: these values must never change.
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        let store = FsBlobStore { blobs: PathBuf::from("/r/blobs"), tmp: PathBuf::from("/r/tmp") };
        let id = BlobId::from_stored("0190f1a2b3c47d8e9f00112233445566").unwrap_or_else(|| panic!("valid id"));
        let p = store.blob_path(&id);
        let rel = p.strip_prefix("/r/blobs").unwrap_or_else(|e| panic!("{e}"));
        let parts: Vec<_> = rel.iter().map(|s| s.to_string_lossy().into_owned()).collect();
        assert_eq!(parts.len(), 3);
        assert_eq!(parts[2], id.as_str());
        let h = fnv1a(id.as_str().as_bytes());
        assert_eq!(parts[0], format!("{:02x}", h >> 56));
        assert_eq!(parts[1], format!("{:02x}", (h >> 48) & 0xff));
    }

    #[test]
    fn ids_spread_over_shards() {
        let store = FsBlobStore { blobs: PathBuf::from("/r/blobs"), tmp: PathBuf::from("/r/tmp") };
        let shards: std::collections::HashSet<_> =
            (0..200).map(|_| store.blob_path(&BlobId::generate()).parent().map(Path::to_path_buf)).collect();
        assert!(shards.len() > 150, "{} shards for 200 time-ordered ids", shards.len());
    }
}

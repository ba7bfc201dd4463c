//! Ad-hoc measurement, not a test: peak RSS of a process doing concurrent puts through
//! [`MinioBlobStore`]. Reads the CLOUDSTORE_TEST_S3_* variables of the conformance tests;
//! `UPLOADS` (default 8) puts of `UPLOAD_MIB` MiB (default 64) each run at once, then the
//! blobs are deleted and VmHWM (peak RSS) is printed.
//!
//! `cargo run --release -p cloudstore-blob-minio --example upload_memory`
#![allow(clippy::unwrap_used)]

use std::time::Instant;

use bytes::Bytes;
use cloudstore_blob_minio::MinioBlobStore;
use cloudstore_store_api::{BlobId, BlobStore, ByteStream};
use futures::stream;

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn status(field: &str) -> String {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines().find(|l| l.starts_with(field)).unwrap_or("").trim().to_owned()
}

/// `len` bytes in 64 KiB chunks, each chunk freshly allocated (as a request body would be).
fn body(len: u64) -> ByteStream {
    const CHUNK: u64 = 64 * 1024;
    Box::pin(stream::unfold(0u64, move |pos| async move {
        if pos >= len {
            return None;
        }
        let n = CHUNK.min(len - pos);
        let chunk = Bytes::from(vec![(pos / CHUNK) as u8; n as usize]);
        Some((Ok(chunk), pos + n))
    }))
}

#[tokio::main]
async fn main() {
    let var = |n: &str| std::env::var(n).unwrap_or_else(|_| panic!("{n} is not set"));
    let store = MinioBlobStore::new(
        &var("CLOUDSTORE_TEST_S3_ENDPOINT"),
        &var("CLOUDSTORE_TEST_S3_ACCESS_KEY"),
        &var("CLOUDSTORE_TEST_S3_SECRET_KEY"),
        "cloudstore-blob-memory",
        "us-east-1",
    )
    .await
    .unwrap();
    let uploads = env_or("UPLOADS", 8);
    let len = env_or("UPLOAD_MIB", 64) * 1024 * 1024;
    println!("before: {}", status("VmRSS"));
    let ids: Vec<BlobId> = (0..uploads).map(|_| BlobId::generate()).collect();
    let started = Instant::now();
    let puts = ids.iter().map(|id| {
        let store = store.clone();
        let id = id.clone();
        tokio::spawn(async move { store.put(&id, body(len), Some(len)).await })
    });
    for r in futures::future::join_all(puts).await {
        assert_eq!(r.unwrap().unwrap(), len);
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{uploads} x {} MiB in {secs:.1} s ({:.0} MiB/s)",
        len >> 20,
        (uploads * len) as f64 / (1024.0 * 1024.0) / secs
    );
    for id in &ids {
        store.delete(id).await.unwrap();
    }
    println!("peak: {}", status("VmHWM"));
}

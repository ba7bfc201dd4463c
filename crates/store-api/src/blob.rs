use std::fmt::Debug;
use std::ops::Range;
use std::pin::Pin;

use bytes::Bytes;
use futures::Stream;

use crate::{BlobId, Result};

/// A stream of bytes, as read from a request or from a blob store.
pub type ByteStream = Pin<Box<dyn Stream<Item = std::io::Result<Bytes>> + Send + 'static>>;

/// Immutable blobs in some storage (local files, an S3 bucket). Dumb on purpose: no
/// listing, no metadata beyond the bytes; the metadata store knows which blobs are live.
#[async_trait::async_trait]
pub trait BlobStore: Send + Sync + Debug + 'static {
    /// Writes the blob `id` from `body`, streaming, and returns the number of bytes written.
    /// `size` is the exact length when the caller knows it. If `body` yields an error or
    /// ends early, the write fails and no blob named `id` becomes readable.
    async fn put(&self, id: &BlobId, body: ByteStream, size: Option<u64>) -> Result<u64>;

    /// Reads the blob `id`, or the byte range `range` of it, as a stream.
    /// A missing blob is [`crate::StoreError::BlobNotFound`].
    async fn get(&self, id: &BlobId, range: Option<Range<u64>>) -> Result<ByteStream>;

    /// Deletes the blob `id`. Deleting a blob that does not exist succeeds.
    async fn delete(&self, id: &BlobId) -> Result<()>;

    /// Checks that the backend answers (for `/health/ready`).
    async fn ping(&self) -> Result<()>;
}

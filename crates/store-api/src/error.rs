use std::error::Error as StdError;

/// What can go wrong in a store, named by condition. The frontend maps each variant to one
/// S3 error code (s3-frontend/src/error.rs); backend details travel as the source.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The bucket does not exist.
    #[error("no such bucket")]
    NoSuchBucket,
    /// A bucket with this name exists already; `owner` is its owner.
    #[error("bucket already exists")]
    BucketExists {
        /// The account that owns the existing bucket.
        owner: String,
    },
    /// The bucket still holds objects or multipart uploads.
    #[error("bucket not empty")]
    BucketNotEmpty,
    /// The object does not exist.
    #[error("no such key")]
    NoSuchKey,
    /// The multipart upload does not exist (completed, aborted or never created).
    #[error("no such upload")]
    NoSuchUpload,
    /// A conditional write lost: the current state does not meet the condition.
    #[error("precondition failed")]
    PreconditionFailed,
    /// Object lock forbids the change: the version is under a legal hold or a retention in
    /// force (ADR 0018).
    #[error("object is locked")]
    ObjectLocked,
    /// A concurrent change got in the way; the caller may retry.
    #[error("conflicting concurrent change")]
    Conflict,
    /// A blob was not found in the blob store.
    #[error("blob not found")]
    BlobNotFound,
    /// A pending blob was reclaimed by the collector before its metadata was committed.
    #[error("pending blob was reclaimed before commit")]
    BlobReclaimed,
    /// The backend cannot be reached or refused the operation for load reasons.
    #[error("backend unavailable: {0}")]
    Unavailable(#[source] Box<dyn StdError + Send + Sync>),
    /// Anything else that went wrong in the backend.
    #[error("backend error: {0}")]
    Backend(#[source] Box<dyn StdError + Send + Sync>),
}

impl StoreError {
    /// Wraps any error as [`StoreError::Backend`].
    pub fn backend(e: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        Self::Backend(e.into())
    }

    /// Wraps any error as [`StoreError::Unavailable`].
    pub fn unavailable(e: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        Self::Unavailable(e.into())
    }
}

/// Result with [`StoreError`].
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

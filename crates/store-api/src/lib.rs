//! The storage seam of cloudstore: what the S3 frontend needs from a metadata database and a
//! blob store, in our own domain types. Implementations live in `store-sqlite`,
//! `store-postgres`, `blob-fs` and `blob-minio`; the frontend only sees these traits.
//!
//! Rules every implementation keeps (see ARCHITECTURE.md):
//! - Blobs are immutable and named by a [`BlobId`] the frontend chooses; a user's key never
//!   names a blob.
//! - A blob is written before the metadata that points to it. Before writing, the frontend
//!   registers the blob as *pending* (see [`MetadataStore::register_blobs`]); the metadata
//!   commit that makes it live removes that registration in the same transaction. A pending
//!   blob that is never committed becomes garbage once its deadline passes.
//! - Every blob that stops being live (overwritten, deleted, aborted) is queued for the
//!   collector in the transaction that unlinks it, with a grace period for in-flight reads.

mod blob;
mod encryption;
mod error;
mod listing;
mod meta;
mod records;
pub mod sql;
#[cfg(feature = "testkit")]
pub mod testkit;

pub use blob::{BlobStore, ByteStream};
pub use encryption::{EncryptionKind, KmsKeyRecord, ObjectEncryption};
pub use error::{Result, StoreError};
pub use listing::{
    ListPage, ListQuery, ListedObject, UploadListPage, UploadListQuery, VersionListPage, VersionListQuery,
    list_object_versions, list_objects, list_uploads, prefix_successor,
};
pub use meta::MetadataStore;
pub use records::{
    AccountConfig, AttributesChange, BlobId, BlobPart, Bucket, BucketConfig, DeleteCondition, DeletedEvents,
    DueVersion, LockMode, ObjectAttributes, ObjectEvents, ObjectMeta, ObjectSummary, ObjectVersion, OutboxBacklog,
    OutboxEvent, OutboxRow, PartMeta, Share, ShareUse, StaleUpload, Tag, Upload, VersionDue, Versioning,
    WriteCondition,
};

//! The rows of the metadata tables and their conversions to and from the domain records, once
//! for both databases (the columns have the same types in both schemas; SQLite reads its
//! INTEGER columns into `i32` where PostgreSQL has `integer`, range-checked by sqlx).

use cloudstore_store_api::{BlobId, Bucket, ObjectMeta, ObjectSummary, PartMeta, Result, Share, StoreError, Upload};
use cloudstore_types::{Checksum, ChecksumType};

pub use cloudstore_store_api::sql::*;

/// A part number (or count) for an `integer` column.
pub fn to_i32(n: u32) -> Result<i32> {
    i32::try_from(n).map_err(|_| StoreError::backend("part number too large for the database"))
}

/// Every column of `objects`, in [`object_columns!`](crate::object_columns)'s order.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ObjectRow {
    pub bucket: String,
    pub key: String,
    pub size: i64,
    pub etag: String,
    pub last_modified: i64,
    pub content_type: Option<String>,
    pub content_encoding: Option<String>,
    pub content_disposition: Option<String>,
    pub content_language: Option<String>,
    pub cache_control: Option<String>,
    pub expires: Option<String>,
    pub user_metadata: String,
    pub checksum_algorithm: Option<String>,
    pub checksum_value: Option<String>,
    pub checksum_type: Option<String>,
    pub parts: String,
    pub multipart_parts: Option<i32>,
    /// JSON of [`ObjectAttributes`](cloudstore_store_api::ObjectAttributes).
    pub attributes: String,
}

impl ObjectRow {
    /// The row's bucket and key.
    pub fn id(&self) -> (&str, &str) {
        (&self.bucket, &self.key)
    }

    /// The columns that store `obj`.
    pub fn from_meta(obj: &ObjectMeta) -> Result<Self> {
        let (checksum_algorithm, checksum_value, checksum_type) = checksum_columns(obj.checksum.as_ref());
        Ok(Self {
            bucket: obj.bucket.clone(),
            key: obj.key.clone(),
            size: to_i64(obj.size)?,
            etag: obj.etag.clone(),
            last_modified: to_ms(obj.last_modified),
            content_type: obj.content_type.clone(),
            content_encoding: obj.content_encoding.clone(),
            content_disposition: obj.content_disposition.clone(),
            content_language: obj.content_language.clone(),
            cache_control: obj.cache_control.clone(),
            expires: obj.expires.clone(),
            user_metadata: json(&obj.user_metadata)?,
            checksum_algorithm: checksum_algorithm.map(str::to_owned),
            checksum_value: checksum_value.map(str::to_owned),
            checksum_type: checksum_type.map(str::to_owned),
            parts: json(&obj.parts)?,
            multipart_parts: obj.multipart_parts.map(to_i32).transpose()?,
            attributes: json(&obj.attributes)?,
        })
    }

    pub fn into_meta(self) -> Result<ObjectMeta> {
        let checksum = match (parse_algorithm(self.checksum_algorithm.as_deref())?, self.checksum_value) {
            (Some(algorithm), Some(value)) => Some(Checksum {
                algorithm,
                value,
                kind: parse_checksum_type(self.checksum_type.as_deref())?.unwrap_or(ChecksumType::FullObject),
            }),
            _ => None,
        };
        Ok(ObjectMeta {
            bucket: self.bucket,
            key: self.key,
            size: to_u64(self.size)?,
            etag: self.etag,
            last_modified: from_ms(self.last_modified)?,
            content_type: self.content_type,
            content_encoding: self.content_encoding,
            content_disposition: self.content_disposition,
            content_language: self.content_language,
            cache_control: self.cache_control,
            expires: self.expires,
            user_metadata: from_json(&self.user_metadata)?,
            checksum,
            parts: from_json(&self.parts)?,
            multipart_parts: self.multipart_parts.map(|n| to_u32(i64::from(n))).transpose()?,
            attributes: from_json(&self.attributes)?,
        })
    }
}

/// Distinct blob ids, in order of first appearance.
pub fn distinct_ids(blobs: &[BlobId]) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::with_capacity(blobs.len());
    for b in blobs {
        if !out.contains(&b.as_str()) {
            out.push(b.as_str());
        }
    }
    out
}

/// The columns of `buckets`, in [`bucket_columns!`](crate::bucket_columns)' order.
#[derive(Debug, sqlx::FromRow)]
pub struct BucketRow {
    name: String,
    owner: String,
    region: String,
    created_at: i64,
    policy: Option<String>,
    notification: Option<String>,
    cors: Option<String>,
    public_access_block: Option<String>,
    tagging: Option<String>,
    lifecycle: Option<String>,
    acl: Option<String>,
    object_ownership: Option<String>,
    encryption: Option<String>,
    versioning: Option<String>,
    object_lock: Option<String>,
}

impl BucketRow {
    pub fn into_bucket(self) -> Result<Bucket> {
        let Self {
            name,
            owner,
            region,
            created_at,
            policy,
            notification,
            cors,
            public_access_block,
            tagging,
            lifecycle,
            acl,
            object_ownership,
            encryption,
            versioning,
            object_lock,
        } = self;
        Ok(Bucket {
            name,
            owner,
            region,
            created_at: from_ms(created_at)?,
            policy,
            notification,
            cors,
            public_access_block,
            tagging,
            lifecycle,
            acl,
            object_ownership,
            encryption,
            versioning: versioning.as_deref().and_then(cloudstore_store_api::Versioning::parse),
            object_lock,
        })
    }
}

/// A row of `object_versions` (or an `objects` row in a version scan, with the position
/// `i64::MAX`), in [`version_columns!`](crate::version_columns)' order.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct VersionRow {
    pub seq: i64,
    /// `'null'` for the null version; empty for an `objects` row (its id is in the attributes).
    pub version_id: String,
    pub is_delete_marker: bool,
    #[sqlx(flatten)]
    pub object: ObjectRow,
}

impl VersionRow {
    /// The version, `is_latest` as given.
    pub fn into_version(self, is_latest: bool) -> Result<cloudstore_store_api::ObjectVersion> {
        let mut meta = self.object.into_meta()?;
        if !self.version_id.is_empty() {
            meta.attributes.version_id = (self.version_id != "null").then_some(self.version_id);
        }
        Ok(cloudstore_store_api::ObjectVersion {
            meta,
            is_delete_marker: self.is_delete_marker,
            is_latest,
            seq: self.seq,
        })
    }
}

/// The columns a listing shows, in [`summary_columns!`](crate::summary_columns)' order.
#[derive(Debug, sqlx::FromRow)]
pub struct SummaryRow {
    key: String,
    size: i64,
    etag: String,
    last_modified: i64,
    checksum_algorithm: Option<String>,
    checksum_type: Option<String>,
}

impl SummaryRow {
    pub fn into_summary(self) -> Result<ObjectSummary> {
        let checksum_algorithm = parse_algorithm(self.checksum_algorithm.as_deref())?;
        let checksum_type = match checksum_algorithm {
            Some(_) => parse_checksum_type(self.checksum_type.as_deref())?,
            None => None,
        };
        Ok(ObjectSummary {
            key: self.key,
            size: to_u64(self.size)?,
            etag: self.etag,
            last_modified: from_ms(self.last_modified)?,
            checksum_algorithm,
            checksum_type,
        })
    }
}

/// The columns of `uploads`, in [`upload_columns!`](crate::upload_columns)' order.
#[derive(Debug, sqlx::FromRow)]
pub struct UploadRow {
    upload_id: String,
    bucket: String,
    key: String,
    initiated: i64,
    template: String,
    checksum_algorithm: Option<String>,
    checksum_type: Option<String>,
}

impl UploadRow {
    pub fn into_upload(self) -> Result<Upload> {
        let template = TemplateJson::decode(&self.template, &self.bucket, &self.key)?;
        Ok(Upload {
            initiated: from_ms(self.initiated)?,
            template,
            checksum_algorithm: parse_algorithm(self.checksum_algorithm.as_deref())?,
            checksum_type: parse_checksum_type(self.checksum_type.as_deref())?,
            bucket: self.bucket,
            key: self.key,
            upload_id: self.upload_id,
        })
    }
}

/// The columns of `parts` but the upload id, in [`part_columns!`](crate::part_columns)' order.
#[derive(Debug, sqlx::FromRow)]
pub struct PartRow {
    part_number: i32,
    blob: String,
    size: i64,
    etag: String,
    checksum: Option<String>,
    last_modified: i64,
}

impl PartRow {
    pub fn into_part(self) -> Result<PartMeta> {
        Ok(PartMeta {
            part_number: to_u32(i64::from(self.part_number))?,
            blob: blob_id(self.blob)?,
            size: to_u64(self.size)?,
            etag: self.etag,
            checksum: self.checksum,
            last_modified: from_ms(self.last_modified)?,
        })
    }
}

/// The columns of `shares`, in [`share_columns!`](crate::share_columns)' order.
#[derive(Debug, sqlx::FromRow)]
pub struct ShareRow {
    id: String,
    token_hash: String,
    account_id: String,
    creator_arn: String,
    bucket: String,
    key: String,
    filename: Option<String>,
    created_at: i64,
    expires_at: i64,
    max_downloads: Option<i64>,
    downloads: i64,
    last_used_at: Option<i64>,
    last_counted_at: Option<i64>,
    revoked: bool,
    password_hash: Option<String>,
    guesses: i64,
    guesses_since: Option<i64>,
    upload_rules: Option<String>,
    folder: bool,
}

impl ShareRow {
    pub fn into_share(self) -> Result<Share> {
        let opt_time = |t: Option<i64>| t.map(from_ms).transpose();
        Ok(Share {
            id: self.id,
            token_hash: self.token_hash,
            account_id: self.account_id,
            creator_arn: self.creator_arn,
            bucket: self.bucket,
            key: self.key,
            filename: self.filename,
            created_at: from_ms(self.created_at)?,
            expires_at: from_ms(self.expires_at)?,
            max_downloads: self.max_downloads.map(to_u64).transpose()?,
            downloads: to_u64(self.downloads)?,
            last_used_at: opt_time(self.last_used_at)?,
            last_counted_at: opt_time(self.last_counted_at)?,
            revoked: self.revoked,
            password_hash: self.password_hash,
            guesses: u32::try_from(self.guesses).map_err(|_| StoreError::backend("guesses out of range"))?,
            guesses_since: opt_time(self.guesses_since)?,
            upload_rules: self.upload_rules,
            folder: self.folder,
        })
    }
}

/// A row of `kms_keys` (ADR 0014).
#[derive(Debug, sqlx::FromRow)]
pub struct KmsKeyRow {
    id: String,
    account_id: Option<String>,
    sealed_material: String,
    description: Option<String>,
    created_at: i64,
}

impl KmsKeyRow {
    pub fn into_record(self) -> Result<cloudstore_store_api::KmsKeyRecord> {
        Ok(cloudstore_store_api::KmsKeyRecord {
            id: self.id,
            account_id: self.account_id,
            sealed_material: self.sealed_material,
            description: self.description,
            created_at: from_ms(self.created_at)?,
        })
    }
}

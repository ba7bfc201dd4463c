//! Conversions between the domain records and the column values stored in PostgreSQL.

use cloudstore_store_api::{ObjectMeta, ObjectSummary, PartMeta, Result, StoreError, Upload};
use cloudstore_types::{Checksum, ChecksumType};

pub(crate) use cloudstore_store_api::sql::*;

pub(crate) fn to_i32(n: u32) -> Result<i32> {
    i32::try_from(n).map_err(|_| StoreError::backend("part number too large for the database"))
}

/// The columns selected by [`OBJECT_COLUMNS`](crate::OBJECT_COLUMNS).
#[derive(sqlx::FromRow, Clone)]
pub(crate) struct ObjectRow {
    bucket: String,
    key: String,
    size: i64,
    etag: String,
    last_modified: i64,
    content_type: Option<String>,
    content_encoding: Option<String>,
    content_disposition: Option<String>,
    content_language: Option<String>,
    cache_control: Option<String>,
    expires: Option<String>,
    user_metadata: String,
    checksum_algorithm: Option<String>,
    checksum_value: Option<String>,
    checksum_type: Option<String>,
    parts: String,
    multipart_parts: Option<i32>,
}

impl ObjectRow {
    /// The row's bucket and key.
    pub(crate) fn id(&self) -> (&str, &str) {
        (&self.bucket, &self.key)
    }

    pub(crate) fn into_meta(self) -> Result<ObjectMeta> {
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
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct SummaryRow {
    key: String,
    size: i64,
    etag: String,
    last_modified: i64,
    checksum_algorithm: Option<String>,
    checksum_type: Option<String>,
}

impl SummaryRow {
    pub(crate) fn into_summary(self) -> Result<ObjectSummary> {
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

#[derive(sqlx::FromRow)]
pub(crate) struct UploadRow {
    upload_id: String,
    bucket: String,
    key: String,
    initiated: i64,
    template: String,
    checksum_algorithm: Option<String>,
    checksum_type: Option<String>,
}

impl UploadRow {
    pub(crate) fn into_upload(self) -> Result<Upload> {
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

#[derive(sqlx::FromRow)]
pub(crate) struct PartRow {
    part_number: i32,
    blob: String,
    size: i64,
    etag: String,
    checksum: Option<String>,
    last_modified: i64,
}

impl PartRow {
    pub(crate) fn into_part(self) -> Result<PartMeta> {
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

//! How an object's data is encrypted at rest (ADR 0014): kept in its attributes, opaque to the
//! stores. Never holds a usable key: the data key is sealed (under the gateway's SSE-S3 key, a
//! KMS key, or the customer's key, which is never stored).

/// The kind of server-side encryption of an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum EncryptionKind {
    /// SSE-S3 (`x-amz-server-side-encryption: AES256`): keys the gateway holds.
    #[serde(rename = "sse-s3")]
    S3,
    /// SSE-KMS (`aws:kms`): the data key sealed under a KMS key of the platform.
    #[serde(rename = "sse-kms")]
    Kms,
    /// SSE-C: the data key sealed under the customer's key, given with every request.
    #[serde(rename = "sse-c")]
    Customer,
}

/// The encryption parameters of an object (or of a multipart upload's parts).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ObjectEncryption {
    /// How the data key is sealed.
    pub kind: EncryptionKind,
    /// The object's data key, sealed (base64 of nonce, ciphertext and tag).
    pub sealed_key: String,
    /// The KMS key (SSE-KMS), as the client named it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key_id: Option<String>,
    /// Whether the write asked for an S3 Bucket Key (echoed as AWS does; no other effect).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub bucket_key: bool,
}

/// A KMS key of the platform (SSE-KMS). Its material is held only sealed under the gateway's
/// master key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KmsKeyRecord {
    /// The key's id, what clients name in `x-amz-server-side-encryption-aws-kms-key-id`.
    pub id: String,
    /// The only account that may use it; `None`: every account.
    pub account_id: Option<String>,
    /// The key material, sealed (never usable without the master key).
    pub sealed_material: String,
    /// What the admin wrote about it.
    pub description: Option<String>,
    /// When it was created.
    pub created_at: time::OffsetDateTime,
}

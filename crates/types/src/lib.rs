//! Validated names and small value types shared by every cloudstore crate. No I/O here.

use std::fmt;

/// Why a bucket name or object key was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// The bucket name breaks the S3 naming rules.
    #[error("invalid bucket name: {0}")]
    InvalidBucketName(&'static str),
    /// The object key is longer than 1024 bytes.
    #[error("object key is longer than 1024 bytes")]
    KeyTooLong,
    /// The object key is empty.
    #[error("object key is empty")]
    EmptyKey,
    /// The object key contains a NUL character (U+0000), which no metadata store keeps as text.
    #[error("object key contains a NUL character")]
    NulInKey,
}

/// Longest object key S3 accepts, in bytes of UTF-8.
pub const MAX_KEY_LEN: usize = 1024;

/// A bucket name that follows the S3 rules for new buckets (3-63 chars of `a-z0-9.-`,
/// starts and ends with a letter or digit, no `..`, not an IPv4 address, no reserved prefix
/// or suffix).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct BucketName(String);

impl BucketName {
    /// Validates `name` against the S3 bucket naming rules.
    pub fn new(name: impl Into<String>) -> Result<Self, NameError> {
        let name = name.into();
        validate_bucket_name(&name)?;
        Ok(Self(name))
    }

    /// The name as a string slice.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for BucketName {
    type Error = NameError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl From<BucketName> for String {
    fn from(value: BucketName) -> Self {
        value.0
    }
}

impl fmt::Display for BucketName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn validate_bucket_name(name: &str) -> Result<(), NameError> {
    use NameError::InvalidBucketName as E;
    let len = name.len();
    if !(3..=63).contains(&len) {
        return Err(E("must be between 3 and 63 characters long"));
    }
    if !name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-') {
        return Err(E("may contain only lowercase letters, digits, dots and hyphens"));
    }
    let first = name.as_bytes()[0];
    let last = name.as_bytes()[len - 1];
    if !(first.is_ascii_alphanumeric() && last.is_ascii_alphanumeric()) {
        return Err(E("must begin and end with a letter or digit"));
    }
    if name.contains("..") || name.contains(".-") || name.contains("-.") {
        return Err(E("must not contain two adjacent periods or a period next to a hyphen"));
    }
    if name.parse::<std::net::Ipv4Addr>().is_ok() {
        return Err(E("must not be formatted as an IP address"));
    }
    for prefix in ["xn--", "sthree-", "amzn-s3-demo-"] {
        if name.starts_with(prefix) {
            return Err(E("uses a reserved prefix"));
        }
    }
    for suffix in ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"] {
        if name.ends_with(suffix) {
            return Err(E("uses a reserved suffix"));
        }
    }
    Ok(())
}

/// Checks an object key: non-empty, at most [`MAX_KEY_LEN`] bytes, and without NUL
/// (PostgreSQL text cannot hold it; the embedded store refuses it too, so both agree).
pub fn validate_object_key(key: &str) -> Result<(), NameError> {
    if key.is_empty() {
        return Err(NameError::EmptyKey);
    }
    if key.len() > MAX_KEY_LEN {
        return Err(NameError::KeyTooLong);
    }
    if key.contains('\0') {
        return Err(NameError::NulInKey);
    }
    Ok(())
}

/// A checksum algorithm S3 knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum ChecksumAlgorithm {
    /// CRC-32 (IEEE).
    Crc32,
    /// CRC-32C (Castagnoli).
    Crc32c,
    /// CRC-64/NVME.
    Crc64nvme,
    /// SHA-1.
    Sha1,
    /// SHA-256.
    Sha256,
}

impl ChecksumAlgorithm {
    /// All algorithms, in the order S3 documents them.
    pub const ALL: [Self; 5] = [Self::Crc32, Self::Crc32c, Self::Crc64nvme, Self::Sha1, Self::Sha256];

    /// The name S3 uses on the wire (`CRC32`, `CRC32C`, `CRC64NVME`, `SHA1`, `SHA256`).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Crc32 => "CRC32",
            Self::Crc32c => "CRC32C",
            Self::Crc64nvme => "CRC64NVME",
            Self::Sha1 => "SHA1",
            Self::Sha256 => "SHA256",
        }
    }

    /// Parses the wire name, case-insensitively.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str().eq_ignore_ascii_case(s))
    }

    /// The request/response header that carries this checksum (`x-amz-checksum-crc32`, ...).
    #[must_use]
    pub fn header_name(self) -> &'static str {
        match self {
            Self::Crc32 => "x-amz-checksum-crc32",
            Self::Crc32c => "x-amz-checksum-crc32c",
            Self::Crc64nvme => "x-amz-checksum-crc64nvme",
            Self::Sha1 => "x-amz-checksum-sha1",
            Self::Sha256 => "x-amz-checksum-sha256",
        }
    }

    /// Whether this is a CRC (these support `FULL_OBJECT` checksums of multipart uploads).
    #[must_use]
    pub fn is_crc(self) -> bool {
        matches!(self, Self::Crc32 | Self::Crc32c | Self::Crc64nvme)
    }
}

impl fmt::Display for ChecksumAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether a checksum covers the whole object or is a checksum of part checksums.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ChecksumType {
    /// The checksum of every byte of the object.
    FullObject,
    /// The checksum of the concatenated part checksums, with a `-N` suffix.
    Composite,
}

impl ChecksumType {
    /// The wire name (`FULL_OBJECT` or `COMPOSITE`).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::FullObject => "FULL_OBJECT",
            Self::Composite => "COMPOSITE",
        }
    }
}

/// A stored checksum: algorithm, base64 value (composite ones carry `-N`), and type.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Checksum {
    /// The algorithm.
    pub algorithm: ChecksumAlgorithm,
    /// Base64 of the digest; composite checksums end with `-<parts>`.
    pub value: String,
    /// Full-object or composite.
    pub kind: ChecksumType,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_names_follow_s3_rules() {
        for ok in ["abc", "my-bucket", "my.bucket.1", "a1b", &"a".repeat(63)] {
            assert!(BucketName::new(ok).is_ok(), "{ok} should be valid");
        }
        for bad in [
            "ab",
            &"a".repeat(64),
            "My-Bucket",
            "-abc",
            "abc-",
            "a..b",
            "a.-b",
            "192.168.1.1",
            "xn--abc",
            "abc-s3alias",
            "a_b",
            "_api",
        ] {
            assert!(BucketName::new(bad).is_err(), "{bad} should be invalid");
        }
    }

    #[test]
    fn keys_are_limited_to_1024_bytes() {
        assert!(validate_object_key(&"k".repeat(1024)).is_ok());
        assert_eq!(validate_object_key(&"k".repeat(1025)), Err(NameError::KeyTooLong));
        // 512 two-byte characters are 1024 bytes; one more is too long.
        assert!(validate_object_key(&"é".repeat(512)).is_ok());
        assert!(validate_object_key(&"é".repeat(513)).is_err());
        assert_eq!(validate_object_key(""), Err(NameError::EmptyKey));
        assert_eq!(validate_object_key("a\0b"), Err(NameError::NulInKey));
    }

    #[test]
    fn checksum_algorithm_names_round_trip() {
        for a in ChecksumAlgorithm::ALL {
            assert_eq!(ChecksumAlgorithm::parse(a.as_str()), Some(a));
            assert_eq!(ChecksumAlgorithm::parse(&a.as_str().to_lowercase()), Some(a));
        }
        assert_eq!(ChecksumAlgorithm::parse("MD5"), None);
    }
}

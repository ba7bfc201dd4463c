//! Authorization: the one table of the IAM action each S3 operation needs, and the access
//! check s3s runs before every operation. Deny by default: an unsigned request, an operation
//! missing from the table, or a principal without a grant is refused.

use s3s::access::{S3Access, S3AccessContext};
use std::sync::Arc;

use s3s::{S3Result, s3_error};

use crate::metrics::Metrics;

/// The IAM action an S3 operation (s3s's operation name) needs. `None`: not allowed to anyone.
#[must_use]
pub fn required_action(op: &str) -> Option<&'static str> {
    Some(match op {
        "ListBuckets" => "s3:ListAllMyBuckets",
        "CreateBucket" => "s3:CreateBucket",
        "DeleteBucket" => "s3:DeleteBucket",
        "HeadBucket" | "ListObjects" | "ListObjectsV2" => "s3:ListBucket",
        "GetBucketLocation" => "s3:GetBucketLocation",
        "GetBucketVersioning" => "s3:GetBucketVersioning",
        "ListObjectVersions" => "s3:ListBucketVersions",
        "ListMultipartUploads" => "s3:ListBucketMultipartUploads",
        "GetObject" | "HeadObject" => "s3:GetObject",
        "GetObjectAttributes" => "s3:GetObjectAttributes",
        "PutObject"
        | "CopyObject"
        | "CreateMultipartUpload"
        | "UploadPart"
        | "UploadPartCopy"
        | "CompleteMultipartUpload"
        | "PostObject" => "s3:PutObject",
        "DeleteObject" | "DeleteObjects" => "s3:DeleteObject",
        "AbortMultipartUpload" => "s3:AbortMultipartUpload",
        "ListParts" => "s3:ListMultipartUploadParts",
        _ => return None,
    })
}

/// Today's policy: the authenticated root key (the platform admin) may do everything;
/// anonymous requests nothing. Operations missing from the table are ones we don't implement:
/// the admin reaches their 501 answer. Issue #3 replaces this with policy evaluation over the
/// same table, where a missing entry is a denial.
#[derive(Debug, Clone)]
pub struct RootOnlyAccess {
    metrics: Arc<Metrics>,
}

impl RootOnlyAccess {
    /// Checks access and counts each operation in `metrics`.
    #[must_use]
    pub fn new(metrics: Arc<Metrics>) -> Self {
        Self { metrics }
    }
}

#[async_trait::async_trait]
impl S3Access for RootOnlyAccess {
    async fn check(&self, cx: &mut S3AccessContext<'_>) -> S3Result<()> {
        let op = cx.s3_op().name();
        self.metrics.count_op(op);
        let action = required_action(op).unwrap_or("unimplemented");
        match cx.credentials() {
            None => {
                tracing::info!(op, action, "anonymous request refused");
                Err(s3_error!(AccessDenied, "Access Denied"))
            }
            // The root key is the only credential S3Auth accepts today.
            Some(_) => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_implemented_operation_has_an_action() {
        for op in [
            "ListBuckets",
            "CreateBucket",
            "DeleteBucket",
            "HeadBucket",
            "GetBucketLocation",
            "ListObjects",
            "ListObjectsV2",
            "ListObjectVersions",
            "ListMultipartUploads",
            "GetObject",
            "HeadObject",
            "GetObjectAttributes",
            "PutObject",
            "CopyObject",
            "CreateMultipartUpload",
            "UploadPart",
            "UploadPartCopy",
            "CompleteMultipartUpload",
            "DeleteObject",
            "DeleteObjects",
            "AbortMultipartUpload",
            "ListParts",
            "GetBucketVersioning",
        ] {
            assert!(required_action(op).is_some(), "{op} has no action");
        }
        assert_eq!(required_action("PutBucketPolicy"), None);
    }
}

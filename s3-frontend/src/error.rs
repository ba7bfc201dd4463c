//! The one mapping from store errors to S3 errors. Expected conditions become their AWS code;
//! backend trouble becomes 503 `ServiceUnavailable` or 500 `InternalError`, logged here once
//! with the caller's location (the client sees no backend details).

use cloudstore_store_api::StoreError;
use s3s::{S3Error, S3ErrorCode, s3_error};

/// Converts a store error into the S3 error the client sees.
#[track_caller]
pub(crate) fn store_error(e: StoreError) -> S3Error {
    let at = std::panic::Location::caller();
    match e {
        StoreError::NoSuchBucket => s3_error!(NoSuchBucket, "The specified bucket does not exist"),
        StoreError::BucketExists { .. } => s3_error!(
            BucketAlreadyExists,
            "The requested bucket name is not available. The bucket namespace is shared by all users of the system. Please select a different name and try again."
        ),
        StoreError::BucketNotEmpty => s3_error!(BucketNotEmpty, "The bucket you tried to delete is not empty"),
        StoreError::NoSuchKey => s3_error!(NoSuchKey, "The specified key does not exist."),
        StoreError::NoSuchUpload => s3_error!(
            NoSuchUpload,
            "The specified multipart upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed."
        ),
        StoreError::PreconditionFailed => {
            s3_error!(PreconditionFailed, "At least one of the pre-conditions you specified did not hold")
        }
        // Object lock (ADR 0018): AWS answers a locked version's removal with AccessDenied.
        StoreError::ObjectLocked => s3_error!(AccessDenied, "Access Denied because object protected by object lock."),
        StoreError::Conflict => {
            s3_error!(ConditionalRequestConflict, "A conflicting operation occurred. Please retry.")
        }
        StoreError::Unavailable(source) => {
            tracing::warn!(error = %source, %at, "backend unavailable");
            S3Error::with_message(S3ErrorCode::ServiceUnavailable, "Please reduce your request rate.")
        }
        e @ (StoreError::BlobNotFound | StoreError::BlobReclaimed | StoreError::Backend(_)) => {
            tracing::error!(error = %e, source = ?std::error::Error::source(&e), %at, "internal error");
            s3_error!(InternalError)
        }
    }
}

/// `?`-friendly: `store.op().await.map_err(store_error)?` everywhere.
pub(crate) trait StoreResultExt<T> {
    /// Maps the error with [`store_error`].
    fn s3(self) -> s3s::S3Result<T>;
}

impl<T> StoreResultExt<T> for Result<T, StoreError> {
    #[track_caller]
    fn s3(self) -> s3s::S3Result<T> {
        match self {
            Ok(v) => Ok(v),
            Err(e) => Err(store_error(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expected_conditions_keep_their_aws_codes() {
        let cases = [
            (StoreError::NoSuchBucket, S3ErrorCode::NoSuchBucket),
            (StoreError::BucketNotEmpty, S3ErrorCode::BucketNotEmpty),
            (StoreError::NoSuchKey, S3ErrorCode::NoSuchKey),
            (StoreError::NoSuchUpload, S3ErrorCode::NoSuchUpload),
            (StoreError::PreconditionFailed, S3ErrorCode::PreconditionFailed),
            (StoreError::ObjectLocked, S3ErrorCode::AccessDenied),
            (StoreError::BucketExists { owner: "x".into() }, S3ErrorCode::BucketAlreadyExists),
        ];
        for (e, code) in cases {
            assert_eq!(store_error(e).code(), &code);
        }
    }

    #[test]
    fn backend_trouble_hides_details() {
        let e = store_error(StoreError::unavailable("connection refused to 10.0.0.1"));
        assert_eq!(e.code(), &S3ErrorCode::ServiceUnavailable);
        assert_eq!(e.status_code().map(|s| s.as_u16()), Some(503));
        let e = store_error(StoreError::backend("syntax error at or near"));
        assert_eq!(e.code(), &S3ErrorCode::InternalError);
        assert!(!e.message().unwrap_or_default().contains("syntax"));
    }
}

//! Bucket operations.

use cloudstore_store_api::{Bucket, StoreError};
use cloudstore_types::BucketName;
use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, s3_error};

use super::Gateway;
use crate::error::{StoreResultExt, store_error};

impl Gateway {
    /// The bucket, or `NoSuchBucket`.
    pub(crate) async fn bucket(&self, name: &str) -> S3Result<Bucket> {
        self.meta
            .get_bucket(name)
            .await
            .s3()?
            .ok_or_else(|| s3_error!(NoSuchBucket, "The specified bucket does not exist"))
    }

    #[tracing::instrument(level = "debug", skip_all, fields(op = "ListBuckets"))]
    pub(crate) async fn op_list_buckets(
        &self,
        req: S3Request<ListBucketsInput>,
    ) -> S3Result<S3Response<ListBucketsOutput>> {
        let prefix = req.input.prefix.as_deref().unwrap_or("");
        let buckets = self
            .meta
            .list_buckets()
            .await
            .s3()?
            .into_iter()
            .filter(|b| b.owner == self.cfg.owner_id && b.name.starts_with(prefix))
            .map(|b| s3s::dto::Bucket {
                name: Some(b.name),
                creation_date: Some(b.created_at.into()),
                bucket_region: Some(b.region),
            })
            .collect();
        Ok(S3Response::new(ListBucketsOutput {
            buckets: Some(buckets),
            owner: Some(self.owner()),
            prefix: req.input.prefix,
            continuation_token: None,
        }))
    }

    #[tracing::instrument(level = "debug", skip_all, fields(op = "CreateBucket", bucket = %req.input.bucket))]
    pub(crate) async fn op_create_bucket(
        &self,
        req: S3Request<CreateBucketInput>,
    ) -> S3Result<S3Response<CreateBucketOutput>> {
        let name = BucketName::new(req.input.bucket.clone()).map_err(|e| s3_error!(InvalidBucketName, "{e}"))?;
        let region = req
            .input
            .create_bucket_configuration
            .as_ref()
            .and_then(|c| c.location_constraint.as_ref())
            .map(|l| l.as_str().to_owned())
            .filter(|r| !r.is_empty())
            .unwrap_or_else(|| self.cfg.region.clone());
        let bucket =
            Bucket { name: name.as_str().to_owned(), owner: self.cfg.owner_id.clone(), region, created_at: now_ms() };
        match self.meta.create_bucket(&bucket).await {
            Ok(()) => {}
            Err(StoreError::BucketExists { owner }) if owner == self.cfg.owner_id => {
                return Err(s3_error!(
                    BucketAlreadyOwnedByYou,
                    "Your previous request to create the named bucket succeeded and you already own it."
                ));
            }
            Err(e) => return Err(store_error(e)),
        }
        Ok(S3Response::new(CreateBucketOutput { location: Some(format!("/{}", bucket.name)) }))
    }

    #[tracing::instrument(level = "debug", skip_all, fields(op = "HeadBucket", bucket = %req.input.bucket))]
    pub(crate) async fn op_head_bucket(
        &self,
        req: S3Request<HeadBucketInput>,
    ) -> S3Result<S3Response<HeadBucketOutput>> {
        let b = self.bucket(&req.input.bucket).await?;
        Ok(S3Response::new(HeadBucketOutput { bucket_region: Some(b.region), ..Default::default() }))
    }

    #[tracing::instrument(level = "debug", skip_all, fields(op = "GetBucketLocation", bucket = %req.input.bucket))]
    pub(crate) async fn op_get_bucket_location(
        &self,
        req: S3Request<GetBucketLocationInput>,
    ) -> S3Result<S3Response<GetBucketLocationOutput>> {
        let b = self.bucket(&req.input.bucket).await?;
        // us-east-1 is reported as an empty LocationConstraint, as AWS does.
        let location_constraint = (b.region != "us-east-1").then(|| BucketLocationConstraint::from(b.region));
        Ok(S3Response::new(GetBucketLocationOutput { location_constraint }))
    }

    #[tracing::instrument(level = "debug", skip_all, fields(op = "DeleteBucket", bucket = %req.input.bucket))]
    pub(crate) async fn op_delete_bucket(
        &self,
        req: S3Request<DeleteBucketInput>,
    ) -> S3Result<S3Response<DeleteBucketOutput>> {
        self.meta.delete_bucket(&req.input.bucket).await.s3()?;
        Ok(S3Response::new(DeleteBucketOutput {}))
    }

    #[tracing::instrument(level = "debug", skip_all, fields(op = "GetBucketVersioning", bucket = %req.input.bucket))]
    pub(crate) async fn op_get_bucket_versioning(
        &self,
        req: S3Request<GetBucketVersioningInput>,
    ) -> S3Result<S3Response<GetBucketVersioningOutput>> {
        // Versioning is not supported yet: every bucket is unversioned, which AWS reports
        // as an empty configuration.
        self.bucket(&req.input.bucket).await?;
        Ok(S3Response::new(GetBucketVersioningOutput::default()))
    }
}

/// Now, truncated to milliseconds (what the stores keep).
pub(crate) fn now_ms() -> time::OffsetDateTime {
    let now = time::OffsetDateTime::now_utc();
    let ms = now.millisecond();
    now.replace_millisecond(ms).unwrap_or(now)
}

//! Put/Get/DeletePublicAccessBlock of a bucket (see [`crate::public_access`] for what the
//! settings do). Stored with the bucket; each change is a `bucket_config_changed` event in its
//! transaction.

use cloudstore_events::EventType;
use cloudstore_store_api::{AccountConfig, Bucket, BucketConfig};

use crate::identity::legacy_owner;
use s3s::dto::{
    DeletePublicAccessBlockInput, DeletePublicAccessBlockOutput, GetPublicAccessBlockInput, GetPublicAccessBlockOutput,
    PublicAccessBlockConfiguration, PutPublicAccessBlockInput, PutPublicAccessBlockOutput,
};
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result, s3_error};

use super::Gateway;
use crate::error::StoreResultExt as _;
use crate::public_access::Block;

impl Gateway {
    /// The Block Public Access settings in effect for `bucket`: its own together with its
    /// owner account's (a setting on in either is on).
    pub(crate) async fn effective_block(&self, bucket: &Bucket) -> S3Result<Block> {
        let own = bucket
            .public_access_block
            .as_deref()
            .map(|json| Block::from_stored(&bucket.name, json))
            .unwrap_or_default();
        Ok(own.or(self.account_block(&legacy_owner(bucket.owner.clone())).await?))
    }

    /// An account's own Block Public Access settings (all off when none are configured),
    /// through the bucket cache where there is one.
    pub(crate) async fn account_block(&self, account: &str) -> S3Result<Block> {
        if let Some(c) = &self.buckets {
            return c.account_block(account).await.s3();
        }
        let stored = self.meta.get_account_config(account, AccountConfig::PublicAccessBlock).await.s3()?;
        Ok(stored.map(|json| Block::from_stored(account, &json)).unwrap_or_default())
    }

    /// Sets (`Some`) or removes (`None`) an account's own Block Public Access settings, with a
    /// `policy_changed` event in the change's transaction.
    pub(crate) async fn set_account_block(
        &self,
        actor: &crate::events::Actor,
        account: &str,
        block: Option<&Block>,
        status: u16,
    ) -> S3Result<()> {
        let stored = block.map(serde_json::to_string).transpose().map_err(|e| s3_error!(InternalError, "{e}"))?;
        let events = self.outbox(|| {
            let mut e = actor.event(EventType::PolicyChanged, "", None);
            e.status = Some(status);
            e.detail.insert("policy".into(), "account_public_access_block".into());
            e.detail.insert("account".into(), account.to_owned());
            if let Some(s) = &stored {
                e.detail.insert("settings".into(), s.clone());
            }
            e
        });
        let done = self
            .meta
            .set_account_config(account, AccountConfig::PublicAccessBlock, stored.as_deref(), &events)
            .await
            .s3();
        if let Some(c) = &self.buckets {
            c.invalidate_account(account);
        }
        done?;
        self.committed(&events);
        Ok(())
    }

    async fn set_public_access_block(
        &self,
        actor: &crate::events::Actor,
        bucket: &str,
        block: Option<&Block>,
        status: u16,
    ) -> S3Result<()> {
        let stored = block.map(serde_json::to_string).transpose().map_err(|e| s3_error!(InternalError, "{e}"))?;
        let events = self.outbox(|| {
            let mut e = actor.event(EventType::BucketConfigChanged, bucket, None);
            e.status = Some(status);
            e.detail.insert("config".into(), "public_access_block".into());
            if let Some(s) = &stored {
                e.detail.insert("settings".into(), s.clone());
            }
            e
        });
        let done =
            self.meta.set_bucket_config(bucket, BucketConfig::PublicAccessBlock, stored.as_deref(), &events).await.s3();
        self.bucket_changed(bucket);
        done?;
        self.committed(&events);
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all, fields(op = "PutPublicAccessBlock", bucket = %req.input.bucket))]
    pub(crate) async fn op_put_public_access_block(
        &self,
        req: S3Request<PutPublicAccessBlockInput>,
    ) -> S3Result<S3Response<PutPublicAccessBlockOutput>> {
        let actor = crate::events::Actor::of(
            &req.extensions,
            &req.headers,
            req.credentials.as_ref().map(|c| c.access_key.as_str()),
        );
        let c = req.input.public_access_block_configuration;
        let block = Block {
            block_public_acls: c.block_public_acls.unwrap_or(false),
            ignore_public_acls: c.ignore_public_acls.unwrap_or(false),
            block_public_policy: c.block_public_policy.unwrap_or(false),
            restrict_public_buckets: c.restrict_public_buckets.unwrap_or(false),
        };
        self.set_public_access_block(&actor, &req.input.bucket, Some(&block), 200).await?;
        Ok(S3Response::new(PutPublicAccessBlockOutput {}))
    }

    #[tracing::instrument(level = "debug", skip_all, fields(op = "GetPublicAccessBlock", bucket = %req.input.bucket))]
    pub(crate) async fn op_get_public_access_block(
        &self,
        req: S3Request<GetPublicAccessBlockInput>,
    ) -> S3Result<S3Response<GetPublicAccessBlockOutput>> {
        let b = self.bucket(&req.input.bucket).await?;
        let Some(json) = b.public_access_block.as_deref() else {
            let mut e = S3Error::with_message(
                S3ErrorCode::Custom("NoSuchPublicAccessBlockConfiguration".into()),
                "The public access block configuration was not found".to_owned(),
            );
            e.set_status_code(http::StatusCode::NOT_FOUND);
            return Err(e);
        };
        let block = Block::from_stored(&req.input.bucket, json);
        Ok(S3Response::new(GetPublicAccessBlockOutput {
            public_access_block_configuration: Some(PublicAccessBlockConfiguration {
                block_public_acls: Some(block.block_public_acls),
                ignore_public_acls: Some(block.ignore_public_acls),
                block_public_policy: Some(block.block_public_policy),
                restrict_public_buckets: Some(block.restrict_public_buckets),
            }),
        }))
    }

    #[tracing::instrument(level = "debug", skip_all, fields(op = "DeletePublicAccessBlock", bucket = %req.input.bucket))]
    pub(crate) async fn op_delete_public_access_block(
        &self,
        req: S3Request<DeletePublicAccessBlockInput>,
    ) -> S3Result<S3Response<DeletePublicAccessBlockOutput>> {
        let actor = crate::events::Actor::of(
            &req.extensions,
            &req.headers,
            req.credentials.as_ref().map(|c| c.access_key.as_str()),
        );
        self.set_public_access_block(&actor, &req.input.bucket, None, 204).await?;
        Ok(S3Response::with_status(DeletePublicAccessBlockOutput {}, http::StatusCode::NO_CONTENT))
    }
}

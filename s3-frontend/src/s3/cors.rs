//! Put/Get/DeleteBucketCors (issue #13 item 5): the bucket's CORS rules, checked as AWS
//! checks them and stored with the bucket as JSON of [`crate::cors::Rules`]. The server
//! answers preflights and sets the response headers from them (`crate::cors`, `server.rs`).

use cloudstore_events::EventType;
use cloudstore_store_api::BucketConfig;
use s3s::dto::{
    CORSRule, DeleteBucketCorsInput, DeleteBucketCorsOutput, GetBucketCorsInput, GetBucketCorsOutput,
    PutBucketCorsInput, PutBucketCorsOutput,
};
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result, s3_error};

use super::Gateway;
use crate::cors::{Rule, Rules};
use crate::error::StoreResultExt as _;

fn from_dto(r: CORSRule) -> Rule {
    Rule {
        id: r.id.filter(|i| !i.is_empty()),
        allowed_origins: r.allowed_origins,
        allowed_methods: r.allowed_methods,
        allowed_headers: r.allowed_headers.unwrap_or_default(),
        expose_headers: r.expose_headers.unwrap_or_default(),
        max_age_seconds: r.max_age_seconds,
    }
}

fn to_dto(r: &Rule) -> CORSRule {
    let list = |v: &Vec<String>| (!v.is_empty()).then(|| v.clone());
    CORSRule {
        id: r.id.clone(),
        allowed_origins: r.allowed_origins.clone(),
        allowed_methods: r.allowed_methods.clone(),
        allowed_headers: list(&r.allowed_headers),
        expose_headers: list(&r.expose_headers),
        max_age_seconds: r.max_age_seconds,
    }
}

impl Gateway {
    /// Records the change of a bucket's CORS rules (`rules`: how many remain).
    async fn set_cors(
        &self,
        actor: &crate::events::Actor,
        bucket: &str,
        stored: Option<&str>,
        rules: usize,
        status: u16,
    ) -> S3Result<()> {
        let events = self.outbox(|| {
            let mut e = actor.event(EventType::BucketConfigChanged, bucket, None);
            e.status = Some(status);
            e.detail.insert("config".into(), "cors".into());
            e.detail.insert("rules".into(), rules.to_string());
            e
        });
        let done = self.meta.set_bucket_config(bucket, BucketConfig::Cors, stored, &events).await.s3();
        self.bucket_changed(bucket);
        done?;
        self.committed(&events);
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all, fields(op = "PutBucketCors", bucket = %req.input.bucket))]
    pub(crate) async fn op_put_bucket_cors(
        &self,
        req: S3Request<PutBucketCorsInput>,
    ) -> S3Result<S3Response<PutBucketCorsOutput>> {
        let actor = crate::events::Actor::of(
            &req.extensions,
            &req.headers,
            req.credentials.as_ref().map(|c| c.access_key.as_str()),
        );
        let input = req.input;
        let rules = Rules { rules: input.cors_configuration.cors_rules.into_iter().map(from_dto).collect() };
        if let Err(e) = rules.validate() {
            return Err(S3Error::with_message(
                S3ErrorCode::from_bytes(e.code().as_bytes()).unwrap_or(S3ErrorCode::InvalidRequest),
                e.to_string(),
            ));
        }
        let stored = serde_json::to_string(&rules).map_err(|e| s3_error!(InternalError, "{e}"))?;
        self.set_cors(&actor, &input.bucket, Some(&stored), rules.rules.len(), 200).await?;
        Ok(S3Response::new(PutBucketCorsOutput {}))
    }

    #[tracing::instrument(level = "debug", skip_all, fields(op = "GetBucketCors", bucket = %req.input.bucket))]
    pub(crate) async fn op_get_bucket_cors(
        &self,
        req: S3Request<GetBucketCorsInput>,
    ) -> S3Result<S3Response<GetBucketCorsOutput>> {
        let b = self.bucket(&req.input.bucket).await?;
        let Some(json) = b.cors.as_deref() else {
            return Err(s3_error!(NoSuchCORSConfiguration, "The CORS configuration does not exist"));
        };
        let rules: Rules =
            serde_json::from_str(json).map_err(|e| s3_error!(InternalError, "stored CORS rules: {e}"))?;
        Ok(S3Response::new(GetBucketCorsOutput { cors_rules: Some(rules.rules.iter().map(to_dto).collect()) }))
    }

    #[tracing::instrument(level = "debug", skip_all, fields(op = "DeleteBucketCors", bucket = %req.input.bucket))]
    pub(crate) async fn op_delete_bucket_cors(
        &self,
        req: S3Request<DeleteBucketCorsInput>,
    ) -> S3Result<S3Response<DeleteBucketCorsOutput>> {
        let actor = crate::events::Actor::of(
            &req.extensions,
            &req.headers,
            req.credentials.as_ref().map(|c| c.access_key.as_str()),
        );
        self.set_cors(&actor, &req.input.bucket, None, 0, 204).await?;
        Ok(S3Response::with_status(DeleteBucketCorsOutput {}, http::StatusCode::NO_CONTENT))
    }
}

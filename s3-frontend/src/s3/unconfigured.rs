//! Bucket configurations cloudstore does not offer (or not yet), answered as AWS answers a
//! bucket that has none (issue #14 item 6), so that tools which read every configuration of a
//! bucket (Terraform's `aws_s3_bucket`, backup tools, consoles) work: accelerate and request
//! payment in their default forms, logging disabled, "not found" errors for website,
//! replication, empty
//! lists of analytics, inventory, metrics and intelligent-tiering configurations. Turning a
//! configuration off (or deleting one) is a no-op that succeeds; turning one on is refused with
//! `501 NotImplemented` and the reason.
//!
//! Every answer first needs the bucket (`NoSuchBucket`) and the caller's permission for the
//! operation (the access table in [`crate::access`]), as a configured bucket would.

use s3s::dto::{
    BucketAccelerateStatus, DeleteBucketAnalyticsConfigurationInput, DeleteBucketAnalyticsConfigurationOutput,
    DeleteBucketIntelligentTieringConfigurationInput, DeleteBucketIntelligentTieringConfigurationOutput,
    DeleteBucketInventoryConfigurationInput, DeleteBucketInventoryConfigurationOutput,
    DeleteBucketMetricsConfigurationInput, DeleteBucketMetricsConfigurationOutput, DeleteBucketReplicationInput,
    DeleteBucketReplicationOutput, DeleteBucketWebsiteInput, DeleteBucketWebsiteOutput,
    GetBucketAccelerateConfigurationInput, GetBucketAccelerateConfigurationOutput,
    GetBucketAnalyticsConfigurationInput, GetBucketAnalyticsConfigurationOutput,
    GetBucketIntelligentTieringConfigurationInput, GetBucketIntelligentTieringConfigurationOutput,
    GetBucketInventoryConfigurationInput, GetBucketInventoryConfigurationOutput, GetBucketLoggingInput,
    GetBucketLoggingOutput, GetBucketMetricsConfigurationInput, GetBucketMetricsConfigurationOutput,
    GetBucketReplicationInput, GetBucketReplicationOutput, GetBucketRequestPaymentInput, GetBucketRequestPaymentOutput,
    GetBucketWebsiteInput, GetBucketWebsiteOutput, ListBucketAnalyticsConfigurationsInput,
    ListBucketAnalyticsConfigurationsOutput, ListBucketIntelligentTieringConfigurationsInput,
    ListBucketIntelligentTieringConfigurationsOutput, ListBucketInventoryConfigurationsInput,
    ListBucketInventoryConfigurationsOutput, ListBucketMetricsConfigurationsInput,
    ListBucketMetricsConfigurationsOutput, Payer, PutBucketAccelerateConfigurationInput,
    PutBucketAccelerateConfigurationOutput, PutBucketLoggingInput, PutBucketLoggingOutput, PutBucketReplicationInput,
    PutBucketReplicationOutput, PutBucketRequestPaymentInput, PutBucketRequestPaymentOutput, PutBucketWebsiteInput,
    PutBucketWebsiteOutput,
};
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result, s3_error};

use super::Gateway;

/// `404` with AWS's code for a configuration the bucket does not have.
fn not_found(code: S3ErrorCode, message: &str) -> S3Error {
    let mut e = S3Error::with_message(code, message.to_owned());
    e.set_status_code(http::StatusCode::NOT_FOUND);
    e
}

fn no_such_configuration() -> S3Error {
    not_found(S3ErrorCode::Custom("NoSuchConfiguration".into()), "The specified configuration does not exist.")
}

fn not_offered(what: &str) -> S3Error {
    s3_error!(NotImplemented, "{what}")
}

/// Generates an operation that checks the bucket exists and answers `$out`.
macro_rules! unconfigured {
    ($(#[$doc:meta])* $fn_name:ident, $op:literal, $input:ty, $output:ty, |$req:ident| $out:expr) => {
        $(#[$doc])*
        #[tracing::instrument(level = "debug", skip_all, fields(op = $op, bucket = %req.input.bucket))]
        pub(crate) async fn $fn_name(&self, req: S3Request<$input>) -> S3Result<S3Response<$output>> {
            self.bucket(&req.input.bucket).await?;
            let $req = req;
            let out: S3Result<$output> = $out;
            Ok(S3Response::new(out?))
        }
    };
}

impl Gateway {
    unconfigured!(
        /// No acceleration: an empty configuration, as for a bucket that never had one.
        op_get_bucket_accelerate_configuration, "GetBucketAccelerateConfiguration",
        GetBucketAccelerateConfigurationInput, GetBucketAccelerateConfigurationOutput,
        |_r| Ok(GetBucketAccelerateConfigurationOutput::default())
    );
    unconfigured!(
        /// `Suspended` is what every bucket is; `Enabled` is refused.
        op_put_bucket_accelerate_configuration, "PutBucketAccelerateConfiguration",
        PutBucketAccelerateConfigurationInput, PutBucketAccelerateConfigurationOutput,
        |r| match r.input.accelerate_configuration.status.as_ref().map(BucketAccelerateStatus::as_str) {
            Some(BucketAccelerateStatus::ENABLED) => Err(not_offered(
                "Transfer Acceleration is not offered: cloudstore serves every bucket from its one endpoint."
            )),
            _ => Ok(PutBucketAccelerateConfigurationOutput::default()),
        }
    );
    unconfigured!(
        /// The bucket owner pays: there is no billing.
        op_get_bucket_request_payment, "GetBucketRequestPayment",
        GetBucketRequestPaymentInput, GetBucketRequestPaymentOutput,
        |_r| Ok(GetBucketRequestPaymentOutput { payer: Some(Payer::from_static(Payer::BUCKET_OWNER)) })
    );
    unconfigured!(
        op_put_bucket_request_payment,
        "PutBucketRequestPayment",
        PutBucketRequestPaymentInput,
        PutBucketRequestPaymentOutput,
        |r| if r.input.request_payment_configuration.payer.as_str() == Payer::BUCKET_OWNER {
            Ok(PutBucketRequestPaymentOutput::default())
        } else {
            Err(not_offered("Requester Pays is not offered: cloudstore bills nobody, the bucket owner pays."))
        }
    );
    unconfigured!(
        /// Logging disabled (access events go to analytics instead).
        op_get_bucket_logging, "GetBucketLogging", GetBucketLoggingInput, GetBucketLoggingOutput,
        |_r| Ok(GetBucketLoggingOutput::default())
    );
    unconfigured!(op_put_bucket_logging, "PutBucketLogging", PutBucketLoggingInput, PutBucketLoggingOutput, |r| if r
        .input
        .bucket_logging_status
        .logging_enabled
        .is_none()
    {
        Ok(PutBucketLoggingOutput::default())
    } else {
        Err(not_offered(
            "Server access logging is not offered: every access is an event, queried under /_api/v1/analytics.",
        ))
    });
    unconfigured!(op_get_bucket_website, "GetBucketWebsite", GetBucketWebsiteInput, GetBucketWebsiteOutput, |_r| Err(
        not_found(
            S3ErrorCode::NoSuchWebsiteConfiguration,
            "The specified bucket does not have a website configuration",
        )
    ));
    unconfigured!(op_put_bucket_website, "PutBucketWebsite", PutBucketWebsiteInput, PutBucketWebsiteOutput, |_r| Err(
        not_offered("Static website hosting is not offered: share links (/s/...) publish files.")
    ));
    unconfigured!(
        op_delete_bucket_website,
        "DeleteBucketWebsite",
        DeleteBucketWebsiteInput,
        DeleteBucketWebsiteOutput,
        |_r| Ok(DeleteBucketWebsiteOutput::default())
    );
    unconfigured!(
        op_get_bucket_replication,
        "GetBucketReplication",
        GetBucketReplicationInput,
        GetBucketReplicationOutput,
        |_r| Err(not_found(
            S3ErrorCode::ReplicationConfigurationNotFoundError,
            "The replication configuration was not found",
        ))
    );
    unconfigured!(
        op_put_bucket_replication,
        "PutBucketReplication",
        PutBucketReplicationInput,
        PutBucketReplicationOutput,
        |_r| Err(not_offered("Replication is not offered: cloudstore keeps its data in the one backend it fronts."))
    );
    unconfigured!(
        op_delete_bucket_replication,
        "DeleteBucketReplication",
        DeleteBucketReplicationInput,
        DeleteBucketReplicationOutput,
        |_r| Ok(DeleteBucketReplicationOutput::default())
    );
    unconfigured!(
        op_list_bucket_analytics_configurations,
        "ListBucketAnalyticsConfigurations",
        ListBucketAnalyticsConfigurationsInput,
        ListBucketAnalyticsConfigurationsOutput,
        |_r| Ok(ListBucketAnalyticsConfigurationsOutput { is_truncated: Some(false), ..Default::default() })
    );
    unconfigured!(
        op_get_bucket_analytics_configuration,
        "GetBucketAnalyticsConfiguration",
        GetBucketAnalyticsConfigurationInput,
        GetBucketAnalyticsConfigurationOutput,
        |_r| Err(no_such_configuration())
    );
    unconfigured!(
        op_delete_bucket_analytics_configuration,
        "DeleteBucketAnalyticsConfiguration",
        DeleteBucketAnalyticsConfigurationInput,
        DeleteBucketAnalyticsConfigurationOutput,
        |_r| Err(no_such_configuration())
    );
    unconfigured!(
        op_list_bucket_inventory_configurations,
        "ListBucketInventoryConfigurations",
        ListBucketInventoryConfigurationsInput,
        ListBucketInventoryConfigurationsOutput,
        |_r| Ok(ListBucketInventoryConfigurationsOutput { is_truncated: Some(false), ..Default::default() })
    );
    unconfigured!(
        op_get_bucket_inventory_configuration,
        "GetBucketInventoryConfiguration",
        GetBucketInventoryConfigurationInput,
        GetBucketInventoryConfigurationOutput,
        |_r| Err(no_such_configuration())
    );
    unconfigured!(
        op_delete_bucket_inventory_configuration,
        "DeleteBucketInventoryConfiguration",
        DeleteBucketInventoryConfigurationInput,
        DeleteBucketInventoryConfigurationOutput,
        |_r| Err(no_such_configuration())
    );
    unconfigured!(
        op_list_bucket_metrics_configurations,
        "ListBucketMetricsConfigurations",
        ListBucketMetricsConfigurationsInput,
        ListBucketMetricsConfigurationsOutput,
        |_r| Ok(ListBucketMetricsConfigurationsOutput { is_truncated: Some(false), ..Default::default() })
    );
    unconfigured!(
        op_get_bucket_metrics_configuration,
        "GetBucketMetricsConfiguration",
        GetBucketMetricsConfigurationInput,
        GetBucketMetricsConfigurationOutput,
        |_r| Err(no_such_configuration())
    );
    unconfigured!(
        op_delete_bucket_metrics_configuration,
        "DeleteBucketMetricsConfiguration",
        DeleteBucketMetricsConfigurationInput,
        DeleteBucketMetricsConfigurationOutput,
        |_r| Err(no_such_configuration())
    );
    unconfigured!(
        op_list_bucket_intelligent_tiering_configurations,
        "ListBucketIntelligentTieringConfigurations",
        ListBucketIntelligentTieringConfigurationsInput,
        ListBucketIntelligentTieringConfigurationsOutput,
        |_r| Ok(ListBucketIntelligentTieringConfigurationsOutput { is_truncated: Some(false), ..Default::default() })
    );
    unconfigured!(
        op_get_bucket_intelligent_tiering_configuration,
        "GetBucketIntelligentTieringConfiguration",
        GetBucketIntelligentTieringConfigurationInput,
        GetBucketIntelligentTieringConfigurationOutput,
        |_r| Err(no_such_configuration())
    );
    unconfigured!(
        op_delete_bucket_intelligent_tiering_configuration,
        "DeleteBucketIntelligentTieringConfiguration",
        DeleteBucketIntelligentTieringConfigurationInput,
        DeleteBucketIntelligentTieringConfigurationOutput,
        |_r| Err(no_such_configuration())
    );
}

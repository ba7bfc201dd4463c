//! The frontend's integration suite: the real `aws-sdk-s3` client (and raw HTTP for malformed
//! input) against the S3 frontend served in-process on a socket, over both backend sets.
//!
//! Every case below runs twice, as `embedded::<case>` (SQLite + local files in a temporary
//! directory) and as `postgres_s3::<case>` (PostgreSQL + the S3 blob backend). The second set
//! needs `CLOUDSTORE_TEST_POSTGRES_URL` and `CLOUDSTORE_TEST_S3_ENDPOINT` / `_ACCESS_KEY` /
//! `_SECRET_KEY` (`source "$(scripts/stack.sh start postgres s3)"`); without them its tests
//! fail, they never skip.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, unreachable_pub)]

mod harness;

mod acl;
mod analytics;
mod auth;
mod buckets;
mod conditional;
mod configurations;
mod cors;
mod encryption;
mod events;
mod gc;
/// Not in the suite below: its own stack, the gateway and `iam` apart over gRPC (embedded only).
mod grpc_e2e;
/// Not in the suite below: servers of their own (umask, limits, timeouts), embedded only.
mod hardening;
mod iam;
mod integrity;
mod lifecycle;
/// Not in the suite below: the ignored benchmark of a lifecycle pass over a million objects.
mod lifecycle_bench;
mod listing;
mod multipart;
/// Partly outside the suite: a server of its own publishing to the test stack's Kafka.
mod notifications;
mod object_lock;
mod objects;
mod ops;
mod post_object;
mod presigned;
mod public_access;
mod rest;
mod robust;
mod semantics;
mod share_browse;
mod shares;
mod tagging;
mod versioning;

/// Generates one test per case and backend set, so the very same suite runs against both.
macro_rules! suite {
    ($($module:ident :: $case:ident),* $(,)?) => {
        mod embedded {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let h = crate::harness::Harness::start(crate::harness::Backend::Embedded).await;
                    crate::$module::$case(&h).await;
                    h.finish().await;
                }
            )*
        }
        mod postgres_s3 {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let h = crate::harness::Harness::start(crate::harness::Backend::PostgresS3).await;
                    crate::$module::$case(&h).await;
                    h.finish().await;
                }
            )*
        }
    };
}

suite!(
    acl::bucket_acls_grant_and_strangers_are_refused,
    acl::object_acls_and_ownership,
    encryption::sse_s3_and_bucket_default_keep_plaintext_from_the_backend,
    encryption::sse_c_needs_its_key_on_every_read,
    encryption::encrypted_multipart_parts_and_ranges,
    encryption::sse_kms_with_platform_keys,
    shares::share_links_download_and_count,
    shares::share_links_refuse_strangers,
    shares::share_links_with_password,
    shares::virtual_hosted_s_paths_stay_s3,
    shares::upload_links,
    shares::explain_lists_share_links,
    shares::revoked_elsewhere_is_refused_at_once,
    share_browse::folder_links,
    share_browse::folder_link_refusals,
    share_browse::landing_page_preview_and_password_form,
    events::changes_reads_and_refusals_become_events,
    rest::rest_identity_events,
    rest::iam_query_and_admin_events,
    presigned::presigned_operations_permissions_and_revocation,
    rest::rest_presigned_revocation,
    notifications::notifications_need_kafka,
    iam::strangers_are_refused_every_operation,
    iam::denied_reads_cover_object_attributes,
    iam::disabled_keys_and_temporary_credentials,
    iam::temporary_credentials_presign_with_sigv2,
    iam::bucket_policies_grant_across_accounts,
    public_access::block_public_access,
    public_access::account_block_public_access,
    public_access::policy_conditions_on_referer_and_copy_source,
    tagging::object_tags_roundtrip_and_limits,
    tagging::tags_through_multipart_and_copy,
    tagging::bucket_tags,
    tagging::tagging_refuses_strangers,
    tagging::tag_policy_conditions,
    versioning::versions_markers_and_the_null_version,
    versioning::versioned_listing_pages_and_batch_markers,
    versioning::copy_multipart_and_attributes_by_version,
    versioning::versioning_refuses_strangers,
    object_lock::object_lock_configuration,
    object_lock::object_lock_retention_and_legal_hold,
    object_lock::object_lock_compliance_binds_the_admin,
    object_lock::object_lock_defaults_and_writes,
    object_lock::object_lock_refuses_strangers,
    object_lock::object_lock_changes_are_events,
    versioning::object_acls_by_version,
    lifecycle::lifecycle_configuration,
    lifecycle::lifecycle_pass_expires_and_aborts,
    lifecycle::lifecycle_pass_expires_noncurrent_versions_and_markers,
    cors::bucket_cors_configuration,
    cors::cors_preflight,
    cors::cors_actual_responses,
    cors::rest_api_cors_policy,
    cors::cors_changes_become_events,
    buckets::bucket_lifecycle,
    configurations::unoffered_configurations_answer_as_unconfigured,
    buckets::invalid_bucket_names,
    buckets::delete_bucket_refuses_while_not_empty,
    buckets::delete_bucket_aborts_uploads_in_progress,
    objects::object_roundtrip_with_metadata,
    objects::ranged_reads,
    objects::conditional_reads,
    objects::response_header_overrides,
    objects::delete_and_delete_objects,
    objects::copy_object_copy_and_replace,
    objects::get_object_attributes,
    conditional::conditional_writes,
    conditional::concurrent_if_none_match_has_one_winner,
    conditional::conditional_deletes,
    listing::list_v1_and_v2_parameters,
    listing::utf8_keys_and_key_length,
    listing::keys_sort_in_byte_order,
    listing::list_object_versions,
    listing::ten_thousand_keys_list_completely,
    multipart::multipart_upload_roundtrip,
    multipart::multipart_completion_errors,
    multipart::abort_and_list_multipart_uploads,
    multipart::upload_part_copy_with_ranges,
    integrity::bad_digests_are_refused,
    integrity::default_streaming_upload,
    integrity::checksums_of_every_algorithm,
    auth::unsigned_and_badly_signed_requests,
    auth::malformed_xml,
    auth::truncated_body_stores_nothing,
    auth::presigned_urls,
    auth::signatures_cover_what_the_request_does,
    auth::oversized_aws_chunks_are_refused,
    gc::collector_deletes_unreferenced_blobs,
    ops::health_and_metrics,
    rest::rest_register,
    rest::rest_login,
    rest::rest_refresh_rotation,
    rest::rest_logout,
    rest::rest_sessions,
    rest::rest_profile,
    rest::rest_password_change,
    rest::rest_access_keys,
    rest::rest_login_rate_limit,
    rest::rest_admin_accounts,
    rest::rest_admin_explain,
    rest::rest_unknown_paths,
    robust::ranges_on_empty_objects,
    robust::post_forms_are_refused_before_the_file,
    post_object::post_object_uploads,
    post_object::post_object_refusals,
    post_object::post_object_permissions,
    post_object::post_object_acl_field,
    robust::nul_in_parameters,
    robust::location_constraints_are_validated,
    robust::complete_checksum_must_be_verifiable,
    robust::announced_trailer_must_arrive,
    robust::user_metadata_is_limited,
    robust::paging_arguments_are_bounded,
    semantics::listing_encoding_and_empty_delimiter,
    semantics::list_buckets_pages,
    semantics::content_encoding_is_kept,
    semantics::not_modified_carries_etag,
    semantics::digest_errors,
    semantics::sigv2_bucket_requests_and_dates,
    semantics::error_bodies_carry_the_request_id,
    semantics::part_reads_and_attribute_lists,
    semantics::keys_with_c1_controls_are_refused,
    semantics::sigv4_dated_by_the_date_header,
    semantics::empty_authorization_and_unsized_bodies,
    semantics::object_torrents,
);

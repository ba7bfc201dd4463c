//! The lifecycle pass over a million objects on PostgreSQL (issue #14's speed target: within
//! 2 minutes). Not a timed test: ignored, run by hand (docs/benchmarks.md):
//!
//! ```sh
//! source /tmp/cs-dev-stack/env     # or: source "$(scripts/stack.sh start postgres s3)"
//! cargo test -p s3-frontend --test integration lifecycle_pass_over_a_million_objects -- --ignored --nocapture
//! # CLOUDSTORE_BENCH_OBJECTS=100000 for a quick run; CLOUDSTORE_BENCH_EXPIRE=all to expire every object
//! ```
//!
//! One real object is PUT through the S3 API; its row is then copied by SQL into N rows that
//! differ from it only in key, blob id (a fresh one each, as every PUT gets: live blobs are not
//! in the collector's queue, as after a real PUT) and, for the half (or all) that are to
//! expire, a modification time ten days back. Then one `Gateway::lifecycle_pass`, with events
//! on, under a rule `Days = 1` over the prefix; it is timed and its effects are checked: the
//! expired rows are gone, each has its `file_deleted` event in the outbox and its blob queued,
//! the others are untouched. Before the pass, 2,000 single conditional deletes of the kind the
//! first version of the pass made (one transaction each) are timed for comparison.

use std::sync::Arc;
use std::time::Instant;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    BucketLifecycleConfiguration, ExpirationStatus, LifecycleExpiration, LifecycleRule, LifecycleRuleFilter,
};
use cloudstore_store_api::DeleteCondition;
use s3_frontend::s3::GatewayConfig;
use sqlx::Connection as _;

use crate::harness::{Backend, Harness};

const PREFIX: &str = "bench/";
const SINGLE_DELETES: i64 = 2_000;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark: run by hand on the PostgreSQL test stack (docs/benchmarks.md)"]
async fn lifecycle_pass_over_a_million_objects() {
    let n = i64::try_from(env_usize("CLOUDSTORE_BENCH_OBJECTS", 1_000_000)).expect("count");
    let all = std::env::var("CLOUDSTORE_BENCH_EXPIRE").is_ok_and(|v| v == "all");
    let h = Harness::start(Backend::PostgresS3).await;
    let url = h.pg_url.clone().expect("a PostgreSQL harness has a database URL");
    let b = h.bucket("lcbench").await;
    h.client
        .put_object()
        .bucket(&b)
        .key("template")
        .body(ByteStream::from_static(b"one real object, copied a million times"))
        .send()
        .await
        .expect("put the template");
    let mut db = sqlx::PgConnection::connect(&url).await.expect("connect");
    let template_blob: String =
        sqlx::query_scalar("SELECT (parts::json -> 0 ->> 'blob') FROM objects WHERE bucket = $1 AND key = 'template'")
            .bind(&b)
            .fetch_one(&mut db)
            .await
            .expect("the template's blob");

    // Load: N copies of the template row, each with a blob of its own; the expiring ones ten
    // days old (in whole milliseconds, as the store keeps them).
    let t = Instant::now();
    let ten_days_ms: i64 = 10 * 86_400_000;
    let loaded = sqlx::query(
        "INSERT INTO objects (bucket, key, size, etag, last_modified, content_type, content_encoding, \
         content_disposition, content_language, cache_control, expires, user_metadata, checksum_algorithm, \
         checksum_value, checksum_type, parts, multipart_parts, attributes) \
         SELECT t.bucket, $3 || lpad(i::text, 8, '0'), t.size, t.etag, \
                t.last_modified - CASE WHEN $5 OR i % 2 = 0 THEN $4 ELSE 0 END, \
                t.content_type, t.content_encoding, t.content_disposition, t.content_language, t.cache_control, \
                t.expires, t.user_metadata, t.checksum_algorithm, t.checksum_value, t.checksum_type, \
                replace(t.parts, $6, replace(gen_random_uuid()::text, '-', '')), t.multipart_parts, t.attributes \
         FROM objects t, generate_series(1, $2) i WHERE t.bucket = $1 AND t.key = 'template'",
    )
    .bind(&b)
    .bind(n)
    .bind(PREFIX)
    .bind(ten_days_ms)
    .bind(all)
    .bind(&template_blob)
    .execute(&mut db)
    .await
    .expect("load the rows")
    .rows_affected();
    assert_eq!(loaded, u64::try_from(n).expect("count"));
    sqlx::query("ANALYZE objects").execute(&mut db).await.expect("analyze");
    let load_s = t.elapsed().as_secs_f64();
    let expiring = if all { n } else { n / 2 };
    eprintln!("loaded {n} object rows in {load_s:.1} s ({expiring} to expire)");

    // The first version of the pass: one conditional delete (one transaction) per object.
    let listed = h.meta.scan_objects(&b, PREFIX, true, None, 2 * usize::try_from(SINGLE_DELETES).expect("n")).await;
    let due: Vec<_> = listed
        .expect("scan")
        .into_iter()
        .filter(|o| o.last_modified < time::OffsetDateTime::now_utc() - time::Duration::days(2))
        .take(usize::try_from(SINGLE_DELETES).expect("n"))
        .collect();
    let t = Instant::now();
    for o in &due {
        let cond =
            DeleteCondition { etag: Some(o.etag.clone()), last_modified: Some(o.last_modified), size: Some(o.size) };
        h.meta
            .delete_object(&b, &o.key, &cond, time::Duration::ZERO, &|_| Vec::new())
            .await
            .expect("delete")
            .expect("deleted");
    }
    let single = t.elapsed().as_secs_f64();
    let per_delete_ms = 1000.0 * single / due.len() as f64;
    eprintln!(
        "single conditional deletes: {} in {single:.2} s ({per_delete_ms:.2} ms each; {expiring} would take {:.0} s)",
        due.len(),
        per_delete_ms * expiring as f64 / 1000.0
    );
    let expiring = expiring - due.len() as i64;

    let rule = LifecycleRule::builder()
        .id("bench")
        .filter(LifecycleRuleFilter::builder().prefix(PREFIX).build())
        .expiration(LifecycleExpiration::builder().days(1).build())
        .status(ExpirationStatus::Enabled)
        .build()
        .expect("rule");
    h.client
        .put_bucket_lifecycle_configuration()
        .bucket(&b)
        .lifecycle_configuration(BucketLifecycleConfiguration::builder().rules(rule).build().expect("config"))
        .send()
        .await
        .expect("put the rule");
    let outbox_before: i64 =
        sqlx::query_scalar("SELECT count(*) FROM event_outbox").fetch_one(&mut db).await.expect("count events");

    // A gateway with events on, as `cloudstore serve` runs the pass.
    let shutdown = tokio_util::sync::CancellationToken::new();
    let metrics = Arc::new(cloudstore_outbox::OutboxMetrics::default());
    let buffer = cloudstore_outbox::EventBuffer::start(h.meta.clone(), metrics.clone(), shutdown.clone());
    let events = Some(s3_frontend::events::Events::new(buffer, metrics));
    let gateway = s3_frontend::s3::Gateway::new(
        h.meta.clone(),
        h.blobs.clone(),
        GatewayConfig { events, ..GatewayConfig::default() },
    );
    let t = Instant::now();
    let done = gateway.lifecycle_pass(time::OffsetDateTime::now_utc()).await.expect("the pass");
    let pass_s = t.elapsed().as_secs_f64();
    eprintln!(
        "lifecycle pass: scanned {}, expired {} in {pass_s:.1} s ({:.0} objects scanned/s, {:.0} deletions/s)",
        done.scanned,
        done.expired,
        done.scanned as f64 / pass_s,
        done.expired as f64 / pass_s
    );
    shutdown.cancel();

    assert_eq!(done.expired as i64, expiring, "{done:?}");
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM objects WHERE bucket = $1 AND key LIKE 'bench/%'")
        .bind(&b)
        .fetch_one(&mut db)
        .await
        .expect("count rows");
    assert_eq!(left, n - expiring - due.len() as i64, "only the expired rows are gone");
    let outbox_after: i64 =
        sqlx::query_scalar("SELECT count(*) FROM event_outbox").fetch_one(&mut db).await.expect("count events");
    assert_eq!(outbox_after - outbox_before, expiring, "one event per deletion");
    let by_pass: i64 = sqlx::query_scalar("SELECT count(*) FROM event_outbox WHERE body LIKE '%cloudstore:lifecycle%'")
        .fetch_one(&mut db)
        .await
        .expect("count events");
    assert_eq!(by_pass, expiring, "the events are the pass's deletions");
    let queued: i64 = sqlx::query_scalar("SELECT count(*) FROM blob_gc").fetch_one(&mut db).await.expect("count blobs");
    assert!(queued >= expiring + due.len() as i64, "every expired object's blob is queued ({queued})");
    // A second pass finds nothing more to do.
    let again = gateway.lifecycle_pass(time::OffsetDateTime::now_utc()).await.expect("the pass");
    assert_eq!(again.expired, 0);
    eprintln!(
        "RESULT objects={n} expired={} pass_s={pass_s:.1} load_s={load_s:.1} single_delete_ms={per_delete_ms:.2}",
        done.expired
    );
    drop(db);
    h.finish().await;
}

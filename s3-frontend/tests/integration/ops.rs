//! The operational endpoints on the public port: `/health/live`, `/health/ready`, `/metrics`.

use crate::harness::{Harness, RawRequest, expect_err};

pub async fn health_and_metrics(h: &Harness) {
    let live = h.raw(RawRequest::new("GET", "/health/live")).await;
    assert_eq!(live.status, 200, "{}", live.text());
    let ready = h.raw(RawRequest::new("GET", "/health/ready")).await;
    assert_eq!((ready.status, ready.text().as_str()), (200, "ready\n"));

    // Some traffic, then the counters show it.
    let b = h.bucket("metrics").await;
    h.put(&b, "k", "v").await;
    h.get(&b, "k").await;
    expect_err(h.client.get_object().bucket(&b).key("missing").send().await, 404, Some("NoSuchKey"));
    h.raw(RawRequest::new("GET", "/")).await.assert_error(403, "AccessDenied");

    let m = h.raw(RawRequest::new("GET", "/metrics")).await;
    assert_eq!(m.status, 200);
    assert!(m.header("content-type").is_some_and(|t| t.starts_with("text/plain")), "{:?}", m.header("content-type"));
    let text = m.text();
    let value = |series: &str| -> u64 {
        text.lines()
            .find_map(|l| l.strip_prefix(series).and_then(|rest| rest.strip_prefix(' ')))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {series} in\n{text}"))
    };
    assert_eq!(value("cloudstore_s3_requests_total{op=\"CreateBucket\"}"), 1);
    assert_eq!(value("cloudstore_s3_requests_total{op=\"PutObject\"}"), 1);
    assert_eq!(value("cloudstore_s3_requests_total{op=\"GetObject\"}"), 2);
    assert!(value("cloudstore_http_responses_total{status=\"200\"}") >= 4);
    assert_eq!(value("cloudstore_http_responses_total{status=\"404\"}"), 1);
    assert_eq!(value("cloudstore_http_responses_total{status=\"403\"}"), 1);
    assert!(value("cloudstore_http_request_duration_seconds_count") >= 7);
    assert!(text.contains("# TYPE cloudstore_s3_requests_total counter"));
}

//! Events through Kafka and S3 bucket notifications (issue #12 items 2 and 6), on the test
//! stack's broker (`CLOUDSTORE_TEST_KAFKA_BROKERS`): `cloudstore serve` as the binary builds it
//! (embedded stores, Kafka set), the SDK configures a bucket's notifications, and a plain Kafka
//! consumer reads the AWS-format records and the events themselves. Without Kafka a
//! notification configuration is refused.

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    Event as S3Event, FilterRule, FilterRuleName, NotificationConfiguration, NotificationConfigurationFilter,
    S3KeyFilter, TopicConfiguration,
};
use clap::Parser as _;
use rdkafka::Message as _;
use rdkafka::consumer::{Consumer as _, StreamConsumer};
use s3_frontend::{App, ServeArgs};
use tokio_util::sync::CancellationToken;

use crate::harness::{Harness, random_hex, sdk_client};

#[derive(clap::Parser)]
struct Cli {
    #[command(flatten)]
    args: ServeArgs,
}

fn brokers() -> String {
    std::env::var("CLOUDSTORE_TEST_KAFKA_BROKERS")
        .expect("CLOUDSTORE_TEST_KAFKA_BROKERS (scripts/stack.sh start kafka): this test never skips")
}

/// Every message of `topic` from the start whose payload satisfies `keep`, until `n` or `wait`.
async fn read(topic: &str, n: usize, wait: Duration, keep: impl Fn(&str) -> bool) -> Vec<(String, String)> {
    let consumer: StreamConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", brokers())
        .set("group.id", format!("it-{}", random_hex(8)))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        // The topic may be created after the subscription: look again every second.
        .set("topic.metadata.refresh.interval.ms", "1000")
        .create()
        .expect("consumer");
    consumer.subscribe(&[topic]).expect("subscribe");
    let mut out = Vec::new();
    let deadline = tokio::time::Instant::now() + wait;
    while out.len() < n {
        let Ok(msg) = tokio::time::timeout_at(deadline, consumer.recv()).await else { break };
        let Ok(msg) = msg else { continue };
        let payload = msg.payload_view::<str>().and_then(Result::ok).unwrap_or_default().to_owned();
        let key = msg.key_view::<str>().and_then(Result::ok).unwrap_or_default().to_owned();
        if keep(&payload) {
            out.push((key, payload));
        }
    }
    out
}

fn rule(topic: &str) -> NotificationConfiguration {
    NotificationConfiguration::builder()
        .topic_configurations(
            TopicConfiguration::builder()
                .id("images")
                .topic_arn(format!("arn:aws:sns:us-east-1:123456789012:{topic}"))
                .events(S3Event::from("s3:ObjectCreated:*"))
                .events(S3Event::from("s3:ObjectRemoved:*"))
                .filter(
                    NotificationConfigurationFilter::builder()
                        .key(
                            S3KeyFilter::builder()
                                .filter_rules(FilterRule::builder().name(FilterRuleName::Prefix).value("img/").build())
                                .build(),
                        )
                        .build(),
                )
                .build()
                .expect("topic configuration"),
        )
        .build()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_and_bucket_notifications_reach_kafka() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let argv = ["test", "--data-dir", data.to_str().expect("utf-8"), "--listen", "127.0.0.1:0", "--kafka-brokers"];
    let mut argv: Vec<String> = argv.iter().map(|s| (*s).to_owned()).collect();
    argv.push(brokers());
    let args = Cli::try_parse_from(argv).map(|c| c.args).expect("settings");
    let iam = cloudstore_iam::config::open(
        &cloudstore_iam::config::IamArgs::default(),
        &cloudstore_iam::config::IdentityDb::Sqlite(data.join("metadata.sqlite")),
        &data,
        cloudstore_iam::service::ServiceConfig { events: true, ..Default::default() },
    )
    .await
    .expect("IAM service");
    let app = App::build(&args, Arc::new(cloudstore_iam::api::InProcessIam::new(iam))).await.expect("build");
    let addr = app.listener.local_addr().expect("addr");
    let c = sdk_client(addr, &app.root.0.access_key, &app.root.0.secret_key);
    let root = app.root.clone();
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(app.run(shutdown.clone()));

    let bucket = format!("notif-{}", random_hex(10));
    let topic = format!("it-notifications-{}", random_hex(8));
    c.create_bucket().bucket(&bucket).send().await.expect("create bucket");
    c.put_bucket_notification_configuration()
        .bucket(&bucket)
        .notification_configuration(rule(&topic))
        .send()
        .await
        .expect("put notification configuration");
    let got = c.get_bucket_notification_configuration().bucket(&bucket).send().await.expect("get configuration");
    let t = &got.topic_configurations()[0];
    assert_eq!(t.id(), Some("images"));
    assert_eq!(t.topic_arn(), format!("arn:aws:sns:us-east-1:123456789012:{topic}"));
    assert_eq!(t.events().len(), 2);
    let rules = t.filter().and_then(|f| f.key()).map(|k| k.filter_rules().to_vec()).unwrap_or_default();
    assert_eq!(rules.len(), 1);
    assert_eq!(rules[0].value(), Some("img/"));
    // A bad destination is refused with the reason.
    let bad = NotificationConfiguration::builder()
        .topic_configurations(
            TopicConfiguration::builder()
                .topic_arn("not-an-arn")
                .events(S3Event::from("s3:ObjectCreated:*"))
                .build()
                .expect("cfg"),
        )
        .build();
    let err = c.put_bucket_notification_configuration().bucket(&bucket).notification_configuration(bad).send().await;
    assert_eq!(err.expect_err("bad ARN").into_service_error().meta().code(), Some("InvalidArgument"));

    c.put_object()
        .bucket(&bucket)
        .key("img/a b.jpg")
        .body(ByteStream::from_static(b"jpeg!"))
        .send()
        .await
        .expect("put");
    c.put_object().bucket(&bucket).key("doc/b.txt").body(ByteStream::from_static(b"text")).send().await.expect("put");
    c.get_object().bucket(&bucket).key("img/a b.jpg").send().await.expect("get");
    c.delete_object().bucket(&bucket).key("img/a b.jpg").send().await.expect("delete");

    // The notification topic: exactly the two matching changes, in order, in AWS's format.
    let records = read(&topic, 2, Duration::from_secs(30), |_| true).await;
    assert_eq!(records.len(), 2, "{records:?}");
    let parsed: Vec<serde_json::Value> = records.iter().map(|(_, p)| serde_json::from_str(p).expect("json")).collect();
    let r0 = &parsed[0]["Records"][0];
    assert_eq!(r0["eventName"], "ObjectCreated:Put");
    assert_eq!(r0["s3"]["bucket"]["name"], bucket.as_str());
    assert_eq!(r0["s3"]["object"]["key"], "img/a+b.jpg");
    assert_eq!(r0["s3"]["object"]["size"], 5);
    assert_eq!(r0["s3"]["configurationId"], "images");
    let r1 = &parsed[1]["Records"][0];
    assert_eq!(r1["eventName"], "ObjectRemoved:Delete");
    let seq = |r: &serde_json::Value| r["s3"]["object"]["sequencer"].as_str().expect("sequencer").to_owned();
    assert!(seq(r0) < seq(r1), "sequencers order one key's events");
    assert_eq!(records[0].0, records[1].0, "one object's records share a message key");
    // Nothing more arrives (the text file and the read match no rule).
    let more = read(&topic, 3, Duration::from_secs(3), |_| true).await;
    assert_eq!(more.len(), 2, "only matching events are notified: {more:?}");

    // The events topic has this bucket's events, each once.
    let events = read(cloudstore_events::EVENTS_TOPIC, 6, Duration::from_secs(30), |p| p.contains(&bucket)).await;
    let mut types: Vec<String> = events
        .iter()
        .map(|(_, p)| cloudstore_events::decode(p.as_bytes()).expect("event").event_type.as_str().to_owned())
        .collect();
    types.sort();
    assert_eq!(
        types,
        [
            "bucket_config_changed",
            "bucket_created",
            "file_deleted",
            "file_downloaded",
            "file_uploaded",
            "file_uploaded"
        ]
    );

    // Events go to Kafka and no ClickHouse is set: analytics say so rather than answer empty.
    let signer = crate::harness::Signer {
        access_key: root.0.access_key.clone(),
        secret_key: root.0.secret_key.clone(),
        region: "us-east-1".into(),
        host: addr.to_string(),
    };
    let req = crate::harness::RawRequest::new("GET", "/_api/v1/analytics/traffic");
    let answer = signer.sign_for("iam", req, time::OffsetDateTime::now_utc()).send(addr).await;
    assert_eq!(answer.status, 503, "{}", answer.text());
    assert!(answer.text().contains("CLOUDSTORE_CLICKHOUSE_URL"), "{}", answer.text());
    shutdown.cancel();
    let _ = tokio::time::timeout(Duration::from_secs(15), server).await;
}

/// Without Kafka there is nowhere to deliver: refused as AWS refuses destinations it cannot
/// validate; an empty configuration (removing them) is fine.
pub async fn notifications_need_kafka(h: &Harness) {
    let c = &h.client;
    let b = h.bucket("nokafka").await;
    let err = c.put_bucket_notification_configuration().bucket(&b).notification_configuration(rule("t")).send().await;
    let err = err.expect_err("no Kafka");
    assert_eq!(err.into_service_error().meta().code(), Some("InvalidArgument"));
    c.put_bucket_notification_configuration()
        .bucket(&b)
        .notification_configuration(NotificationConfiguration::builder().build())
        .send()
        .await
        .expect("an empty configuration");
    let got = c.get_bucket_notification_configuration().bucket(&b).send().await.expect("get");
    assert!(got.topic_configurations().is_empty() && got.queue_configurations().is_empty());
}

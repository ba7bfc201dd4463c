//! The analytics benchmark of issue #12 ("an analytics query over 1 million events answers in
//! under 1 s"), not a timed test: ignored by default, run by hand (docs/benchmarks.md):
//!
//! ```text
//! source /tmp/cs-dev-stack/env   # or: source "$(scripts/stack.sh start clickhouse)"
//! cargo test -p cloudstore-notifier --test analytics_bench -- --ignored --nocapture
//! ```
//!
//! It inserts `CLOUDSTORE_BENCH_EVENTS` (default 1,000,000) generated events into a
//! LocalEventStore file and into a ClickHouse database of its own (dropped at the end), each
//! event once plus 2% delivered twice, then times every analytics question on both, for all
//! accounts and for one, and prints the best and the median of 5 runs.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::time::{Duration, Instant};

use cloudstore_events::{Event, EventType};
use cloudstore_notifier::analytics::{Analytics, Filter, GroupBy};
use cloudstore_notifier::{ClickHouseSink, LocalEventStore};

const DAY: i64 = 86_400_000;
/// 2026-11-01T00:00:00Z.
const T0: i64 = 1_793_491_200_000;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// 20 accounts × 10 users × 2 keys, 5 buckets per account with 100 objects each (skewed: a
/// few objects get most downloads), 30 days; 60% downloads, 20% uploads, 5% multipart, 5%
/// denials, the rest deletes and logins.
fn generate(n: usize) -> Vec<Event> {
    let mut rng = Rng(0x00be_ac4d_1234_5678);
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let r = rng.below(100);
        let t = match r {
            0..60 => EventType::FileDownloaded,
            60..80 => EventType::FileUploaded,
            80..85 => EventType::MultipartCompleted,
            85..90 => EventType::AccessDenied,
            90..97 => EventType::FileDeleted,
            _ => EventType::UserLoggedIn,
        };
        let at = T0 + i64::try_from(rng.below(30 * 86_400_000)).unwrap();
        let mut e = Event::new(t.clone(), at);
        let acct = rng.below(20);
        let user = rng.below(10);
        let account = format!("{:012}", 100_000_000_000 + acct);
        e.account_id = Some(account.clone());
        e.user_id = Some(format!("AIDA{acct:04}{user:04}"));
        e.access_key = Some(format!("AKIA{acct:04}{user:04}{}", rng.below(2)));
        e.principal_arn = Some(format!("arn:aws:iam::{account}:user/user{user}"));
        e.source_ip = Some(format!("10.{}.{}.{}", acct, rng.below(256), rng.below(256)));
        e.user_agent = Some("aws-cli/2.15.0 Python/3.11".into());
        e.request_id = Some(format!("{:016x}", rng.next()));
        e.status = Some(200);
        if t != EventType::UserLoggedIn {
            e.bucket = Some(format!("bucket-{acct}-{}", rng.below(5)));
            // Skewed: the square of a uniform number favours small object numbers.
            let o = rng.below(100);
            e.object_key = Some(format!("data/2026/object-{:03}.bin", o * o / 100));
            e.bytes = Some(rng.below(1 << 20));
            e.etag = Some(format!("{:032x}", rng.next()));
        }
        if t == EventType::AccessDenied {
            e.status = Some(403);
            e.bytes = None;
            let action = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:ListBucket"]
                [usize::try_from(rng.below(4)).unwrap()];
            e.detail.insert("action".into(), action.into());
            e.detail.insert("reason".into(), "implicit deny".into());
        }
        out.push(e);
    }
    out
}

/// Best and median of `runs` timings of `f`.
async fn time<F, Fut, T>(runs: usize, mut f: F) -> (Duration, Duration, T)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = T>,
{
    let mut times = Vec::with_capacity(runs);
    let mut last = None;
    for _ in 0..runs {
        let t = Instant::now();
        last = Some(f().await);
        times.push(t.elapsed());
    }
    times.sort();
    (times[0], times[runs / 2], last.unwrap())
}

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1000.0)
}

#[tokio::test]
#[ignore = "benchmark: run by hand, see docs/benchmarks.md"]
async fn analytics_over_a_million_events() {
    let n: usize = std::env::var("CLOUDSTORE_BENCH_EVENTS").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
    let url = std::env::var("CLOUDSTORE_TEST_CLICKHOUSE_URL").expect("CLOUDSTORE_TEST_CLICKHOUSE_URL");
    let t = Instant::now();
    let events = generate(n);
    let again: Vec<Event> = events.iter().step_by(50).cloned().collect();
    println!("generated {n} events (+{} delivered twice) in {}", again.len(), ms(t.elapsed()));

    let dir = tempfile::tempdir().unwrap();
    let local = LocalEventStore::open(&dir.path().join("events.sqlite")).await.unwrap();
    let t = Instant::now();
    for chunk in events.chunks(10_000) {
        local.insert(chunk).await.unwrap();
    }
    local.insert(&again).await.unwrap();
    let el = t.elapsed();
    println!("local store: inserted in {} ({:.0} events/s)", ms(el), n as f64 / el.as_secs_f64());

    let db = format!("cs_bench_{}", Event::new(EventType::Other("x".into()), 0).event_id.replace('-', ""));
    let ch = ClickHouseSink::connect(&url, &db, false).await.unwrap();
    let t = Instant::now();
    for chunk in events.chunks(100_000) {
        ch.insert(chunk).await.unwrap();
    }
    ch.insert(&again).await.unwrap();
    let el = t.elapsed();
    println!("clickhouse: inserted in {} ({:.0} events/s)", ms(el), n as f64 / el.as_secs_f64());
    assert_eq!(ch.count_events(None).await.unwrap(), n as u64);
    assert_eq!(local.count_events(None).await.unwrap(), n as u64);
    drop(events);

    let stores: [(&str, &dyn Analytics); 2] = [("clickhouse", &ch), ("local", &local)];
    let all = Filter::default();
    let one = Filter::account("100000000007");
    let week = Filter { account_id: None, from: Some(T0 + 10 * DAY), to: Some(T0 + 17 * DAY) };
    // Not whole days: the local store reads the partial days at both ends from the events.
    let ragged = Filter { account_id: None, from: Some(T0 + 3 * DAY + 3_600_000), to: Some(T0 + 27 * DAY + 1_800_000) };
    println!("\n| question | scope | ClickHouse best / median | local SQLite best / median | rows |");
    println!("|---|---|---|---|---|");
    let mut worst = Duration::ZERO;
    for (scope_name, f) in
        [("all accounts", &all), ("one account", &one), ("all, one week", &week), ("all, 24 days ±hours", &ragged)]
    {
        for question in [
            "traffic by bucket",
            "traffic by access key",
            "top objects (10)",
            "top principals (10)",
            "denied (100)",
            "key last use",
            "object history (100)",
        ] {
            let mut cells = Vec::new();
            let mut rows = 0;
            for (_, s) in stores {
                let (best, median, r) = time(5, || async {
                    match question {
                        "traffic by bucket" => s.traffic(f, GroupBy::Bucket).await.unwrap().len(),
                        "traffic by access key" => s.traffic(f, GroupBy::AccessKey).await.unwrap().len(),
                        "top objects (10)" => s.top_objects(f, 10).await.unwrap().len(),
                        "top principals (10)" => s.top_principals(f, 10).await.unwrap().len(),
                        "denied (100)" => s.denied(f, 100).await.unwrap().len(),
                        "key last use" => s.key_last_use(f).await.unwrap().len(),
                        _ => s.object_history(f, "bucket-7-3", "data/2026/object-000.bin", 100).await.unwrap().len(),
                    }
                })
                .await;
                worst = worst.max(median);
                cells.push(format!("{} / {}", ms(best), ms(median)));
                rows = r;
            }
            println!("| {question} | {scope_name} | {} | {} | {rows} |", cells[0], cells[1]);
        }
    }
    println!("\nslowest median: {}", ms(worst));
    let client = clickhouse::Client::default().with_url(&url).with_validation(false);
    client.query(&format!("DROP DATABASE IF EXISTS {db}")).execute().await.unwrap();
}

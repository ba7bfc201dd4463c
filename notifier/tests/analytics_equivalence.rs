//! Issue #12 item 4: one workload into both event stores — the real ClickHouse of the test stack
//! (18.16) and a `LocalEventStore` file — and every analytics question answered the same by
//! both, and as computed here in memory. Part of the workload is delivered twice. Without
//! CLOUDSTORE_TEST_CLICKHOUSE_URL this test fails, it never skips.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};

use cloudstore_events::{Event, EventType};
use cloudstore_notifier::analytics::{Analytics, Filter, GroupBy, TopObject};
use cloudstore_notifier::{ClickHouseSink, LocalEventStore};

const DAY: i64 = 86_400_000;
/// 2026-12-01T00:00:00Z.
const T0: i64 = 1_796_083_200_000;
const ACCOUNTS: [&str; 3] = ["111111111111", "222222222222", "333333333333"];

/// A small deterministic generator (no dependency, same workload every run).
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
    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[usize::try_from(self.below(xs.len() as u64)).unwrap()]
    }
}

/// The workload: `n` events over 7 days, 3 accounts × 3 users × 2 keys, 2 buckets × 6 objects
/// each, every analytics-relevant type, anonymous downloads, denials with actions, events at
/// the same millisecond, and events that belong to no bucket.
fn workload(n: usize, seed: u64) -> Vec<Event> {
    let mut rng = Rng(seed);
    let types = [
        EventType::FileUploaded,
        EventType::FileUploaded,
        EventType::MultipartCompleted,
        EventType::FileCopied,
        EventType::FileDownloaded,
        EventType::FileDownloaded,
        EventType::FileDownloaded,
        EventType::FileDownloaded,
        EventType::FileDeleted,
        EventType::AccessDenied,
        EventType::AccessDenied,
        EventType::UserLoggedIn,
        EventType::BucketCreated,
    ];
    let actions = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:ListBucket"];
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let t = rng.pick(&types).clone();
        // Coarse times (whole seconds) so that ties in time occur.
        let at = T0 + i64::try_from(rng.below(7 * 86_400)).unwrap() * 1000;
        let mut e = Event::new(t.clone(), at);
        let acct = *rng.pick(&ACCOUNTS);
        let user = rng.below(3);
        let key = rng.below(2);
        // A download is sometimes anonymous (a public bucket): no principal, the owner's account.
        let anonymous = t == EventType::FileDownloaded && rng.below(10) == 0;
        e.account_id = Some(acct.to_owned());
        if !anonymous {
            e.user_id = Some(format!("U{acct}{user}"));
            e.access_key = Some(format!("AKIA{acct}{user}{key}"));
            e.principal_arn = Some(format!("arn:aws:iam::{acct}:user/user{user}"));
        }
        e.source_ip = Some(format!("10.0.{}.{}", rng.below(4), rng.below(250)));
        e.user_agent = Some(rng.pick(&["aws-cli/2.15", "rclone/v1.60", "Boto3/1.34"]).to_string());
        e.request_id = Some(format!("req-{}", rng.next()));
        match t {
            EventType::UserLoggedIn => {}
            EventType::BucketCreated => {
                e.bucket = Some(format!("b{}-{}", &acct[..3], rng.below(2)));
                e.status = Some(200);
            }
            _ => {
                e.bucket = Some(format!("b{}-{}", &acct[..3], rng.below(2)));
                e.object_key = Some(format!("dir/obj-{}.bin", rng.below(6)));
                e.bytes = Some(rng.below(5) * 1024 + rng.below(3));
                e.status = Some(if t == EventType::AccessDenied { 403 } else { 200 });
                if t == EventType::AccessDenied {
                    e.detail.insert("action".into(), rng.pick(&actions).to_string());
                    e.detail.insert("reason".into(), "implicit deny".into());
                    e.bytes = None;
                }
                if t == EventType::FileDownloaded {
                    e.detail.insert("range".into(), "bytes=0-".into());
                }
            }
        }
        out.push(e);
    }
    // An unusual key and a denial without an action.
    let mut odd = Event::new(EventType::FileDownloaded, T0 + 3 * DAY);
    odd.account_id = Some(ACCOUNTS[0].into());
    odd.bucket = Some("b111-0".into());
    odd.object_key = Some("weird 'key' \"quoted\" ünïcode\\?".into());
    odd.bytes = Some(7);
    out.push(odd);
    let mut bare = Event::new(EventType::AccessDenied, T0 + 4 * DAY);
    bare.account_id = Some(ACCOUNTS[1].into());
    bare.principal_arn = Some("arn:aws:iam::222222222222:user/user0".into());
    out.push(bare);
    out
}

fn clickhouse_url() -> String {
    std::env::var("CLOUDSTORE_TEST_CLICKHOUSE_URL").expect(
        "CLOUDSTORE_TEST_CLICKHOUSE_URL is not set: start ClickHouse with `source \"$(scripts/stack.sh start clickhouse)\"`",
    )
}

/// A ClickHouse database of this test's own, dropped at the end (also when the test fails).
struct TempDb {
    url: String,
    client: clickhouse::Client,
    name: String,
}
impl Drop for TempDb {
    fn drop(&mut self) {
        let url = self.url.clone();
        let sql = format!("DROP DATABASE IF EXISTS {}", self.name);
        // Best effort, on a runtime and a client of its own: the test's runtime is blocked
        // here, and its client's pooled connections belong to it.
        let _ = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread().enable_all().build().map(|rt| {
                rt.block_on(clickhouse::Client::default().with_url(url).with_validation(false).query(&sql).execute())
            })
        })
        .join();
    }
}

async fn both_stores(events: &[Event]) -> (ClickHouseSink, LocalEventStore, TempDb, tempfile::TempDir) {
    let url = clickhouse_url();
    let name = format!("cs_analytics_{}", uuid_hex());
    let db = TempDb {
        url: url.clone(),
        client: clickhouse::Client::default().with_url(&url).with_validation(false),
        name: name.clone(),
    };
    let ch = ClickHouseSink::connect(&url, &name, false).await.expect("clickhouse");
    // Keep the duplicates as separate rows, as they are until ClickHouse merges them: the
    // queries, not a merge, must see each event once.
    db.client.query(&format!("SYSTEM STOP MERGES {name}.events")).execute().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let local = LocalEventStore::open(&dir.path().join("events.sqlite")).await.expect("local store");

    // Delivered in batches; every fifth event delivered again in a later batch, and a batch
    // delivered twice whole (a relay or notifier killed before it recorded its progress).
    for chunk in events.chunks(500) {
        ch.insert(chunk).await.unwrap();
        local.insert(chunk).await.unwrap();
    }
    let again: Vec<Event> = events.iter().step_by(5).cloned().collect();
    ch.insert(&again).await.unwrap();
    local.insert(&again).await.unwrap();
    ch.insert(&events[..300]).await.unwrap();
    local.insert(&events[..300]).await.unwrap();
    (ch, local, db, dir)
}

fn uuid_hex() -> String {
    Event::new(EventType::Other("x".into()), 0).event_id.replace('-', "")
}

fn filters() -> Vec<Filter> {
    let mut out = vec![
        Filter::default(),
        Filter { from: Some(T0 + 2 * DAY), to: Some(T0 + 5 * DAY), account_id: None },
        Filter { from: Some(T0 + DAY + 12_345), to: None, account_id: None },
        Filter { from: None, to: Some(T0 + 6 * DAY - 1), account_id: None },
        Filter { from: Some(T0 + DAY + 500), to: Some(T0 + 5 * DAY + 777), account_id: None },
        Filter { from: Some(T0 + DAY + 500), to: Some(T0 + 2 * DAY + 777), account_id: None },
        Filter::account("999999999999"),
    ];
    for a in ACCOUNTS {
        out.push(Filter::account(a));
        out.push(Filter { account_id: Some(a.into()), from: Some(T0 + DAY), to: Some(T0 + 3 * DAY) });
        out.push(Filter { account_id: Some(a.into()), from: Some(T0 + DAY + 1), to: Some(T0 + 3 * DAY) });
    }
    out
}

fn is_upload(t: &EventType) -> bool {
    matches!(t, EventType::FileUploaded | EventType::MultipartCompleted)
}

fn in_filter(e: &Event, f: &Filter) -> bool {
    f.account_id.as_ref().is_none_or(|a| e.account_id.as_ref() == Some(a))
        && f.from.is_none_or(|t| e.occurred_at >= t)
        && f.to.is_none_or(|t| e.occurred_at < t)
}

/// The top objects computed in memory from the distinct events (the oracle).
fn expected_top_objects(events: &[Event], f: &Filter, limit: usize) -> Vec<TopObject> {
    let mut m: BTreeMap<(String, String), (u64, u64)> = BTreeMap::new();
    for e in events.iter().filter(|e| e.event_type == EventType::FileDownloaded && in_filter(e, f)) {
        let k = (e.bucket.clone().unwrap_or_default(), e.object_key.clone().unwrap_or_default());
        let v = m.entry(k).or_default();
        v.0 += 1;
        v.1 += e.bytes.unwrap_or(0);
    }
    let mut v: Vec<TopObject> =
        m.into_iter().map(|((bucket, key), (downloads, bytes))| TopObject { bucket, key, downloads, bytes }).collect();
    v.sort_by(|a, b| {
        (b.downloads, b.bytes).cmp(&(a.downloads, a.bytes)).then_with(|| (&a.bucket, &a.key).cmp(&(&b.bucket, &b.key)))
    });
    v.truncate(limit);
    v
}

#[tokio::test]
async fn both_stores_answer_every_question_alike_and_each_event_once() {
    let events = workload(4000, 0x5eed_1234_abcd_0042);
    let (ch, local, db, _dir) = both_stores(&events).await;
    let stores: [(&str, &dyn Analytics); 2] = [("clickhouse", &ch), ("local", &local)];

    assert_eq!(ch.count_events(None).await.unwrap(), events.len() as u64);
    assert_eq!(local.count_events(None).await.unwrap(), events.len() as u64);
    let raw: u64 = db.client.query(&format!("SELECT count() FROM {}.events", db.name)).fetch_one().await.unwrap();
    assert!(raw >= events.len() as u64 + 800 + 300, "the duplicates are rows of ClickHouse's table ({raw})");

    let mut compared = 0;
    for f in filters() {
        for g in GroupBy::ALL {
            let a = ch.traffic(&f, g).await.unwrap();
            let b = local.traffic(&f, g).await.unwrap();
            assert_eq!(a, b, "traffic by {g:?} with {f:?}");
            // Against the events themselves: totals over all groups.
            let ups = events.iter().filter(|e| is_upload(&e.event_type) && in_filter(e, &f));
            let (n, bytes) = ups.fold((0, 0), |(n, s), e| (n + 1, s + e.bytes.unwrap_or(0)));
            assert_eq!(
                (a.iter().map(|r| r.uploads).sum::<u64>(), a.iter().map(|r| r.upload_bytes).sum::<u64>()),
                (n, bytes)
            );
            let downs = events.iter().filter(|e| e.event_type == EventType::FileDownloaded && in_filter(e, &f));
            let (n, bytes) = downs.fold((0, 0), |(n, s), e| (n + 1, s + e.bytes.unwrap_or(0)));
            assert_eq!(
                (a.iter().map(|r| r.downloads).sum::<u64>(), a.iter().map(|r| r.download_bytes).sum::<u64>()),
                (n, bytes)
            );
            compared += 1;
        }
        for limit in [1, 5, 1000] {
            let a = ch.top_objects(&f, limit).await.unwrap();
            assert_eq!(a, local.top_objects(&f, limit).await.unwrap(), "top objects {limit} {f:?}");
            assert_eq!(a, expected_top_objects(&events, &f, limit as usize), "top objects vs the events, {f:?}");
            let a = ch.top_principals(&f, limit).await.unwrap();
            assert_eq!(a, local.top_principals(&f, limit).await.unwrap(), "top principals {limit} {f:?}");
            let a = ch.denied(&f, limit).await.unwrap();
            assert_eq!(a, local.denied(&f, limit).await.unwrap(), "denied {limit} {f:?}");
            compared += 3;
        }
        let a = ch.key_last_use(&f).await.unwrap();
        assert_eq!(a, local.key_last_use(&f).await.unwrap(), "key last use {f:?}");
        let mut expected: BTreeMap<String, (i64, u64)> = BTreeMap::new();
        for e in events.iter().filter(|e| in_filter(e, &f)) {
            if let Some(k) = &e.access_key {
                let v = expected.entry(k.clone()).or_insert((i64::MIN, 0));
                v.0 = v.0.max(e.occurred_at);
                v.1 += 1;
            }
        }
        assert_eq!(
            a.iter().map(|k| (k.access_key.clone(), (k.last_used_at, k.uses))).collect::<BTreeMap<_, _>>(),
            expected
        );
        compared += 1;
    }

    // Denials: counted once each, actions read from the detail, a missing action is "".
    let all = ch.denied(&Filter::default(), 1000).await.unwrap();
    let total: u64 = all.iter().map(|d| d.count).sum();
    assert_eq!(total, events.iter().filter(|e| e.event_type == EventType::AccessDenied).count() as u64);
    assert!(all.iter().any(|d| d.action == "s3:GetObject"));
    assert!(all.iter().any(|d| d.action.is_empty() && d.principal_arn == "arn:aws:iam::222222222222:user/user0"));
    // Anonymous downloads are one principal, "".
    let principals = ch.top_principals(&Filter::default(), 1000).await.unwrap();
    assert!(principals.iter().any(|p| p.principal_arn.is_empty() && p.downloads > 0));

    // Object histories: every object, the odd key included, newest first, each event once.
    let objects: BTreeSet<(String, String)> =
        events.iter().filter_map(|e| Some((e.bucket.clone()?, e.object_key.clone()?))).collect();
    for (bucket, key) in &objects {
        for f in [Filter::default(), Filter { from: Some(T0 + 2 * DAY), to: Some(T0 + 4 * DAY), account_id: None }] {
            let a = ch.object_history(&f, bucket, key, 10_000).await.unwrap();
            let b = local.object_history(&f, bucket, key, 10_000).await.unwrap();
            assert_eq!(a, b, "history of {bucket}/{key}");
            let n = events
                .iter()
                .filter(|e| e.bucket.as_ref() == Some(bucket) && e.object_key.as_ref() == Some(key) && in_filter(e, &f))
                .count();
            assert_eq!(a.len(), n, "history of {bucket}/{key}: each event once");
            assert!(a.windows(2).all(|w| (w[0].occurred_at, &w[0].event_id) > (w[1].occurred_at, &w[1].event_id)));
            compared += 1;
        }
        let a = ch.object_history(&Filter::default(), bucket, key, 3).await.unwrap();
        assert_eq!(a, local.object_history(&Filter::default(), bucket, key, 3).await.unwrap());
    }
    let odd =
        local.object_history(&Filter::default(), "b111-0", "weird 'key' \"quoted\" ünïcode\\?", 10).await.unwrap();
    assert_eq!(odd.len(), 1);

    // Bad questions are refused the same way by both.
    for (_, s) in stores {
        assert!(s.top_objects(&Filter::default(), 0).await.is_err());
        assert!(s.object_history(&Filter::default(), "", "k", 10).await.is_err());
    }
    assert!(compared > 200, "{compared} comparisons");
}

#[tokio::test]
async fn an_accounts_scope_never_shows_another_accounts_events() {
    let events = workload(1500, 0x0dd_ba11_cafe_f00d);
    let (ch, local, _db, _dir) = both_stores(&events).await;
    let stores: [(&str, &dyn Analytics); 2] = [("clickhouse", &ch), ("local", &local)];
    for (name, s) in stores {
        for acct in ACCOUNTS {
            let f = Filter::account(acct);
            let short = &acct[..3];
            for r in s.traffic(&f, GroupBy::Account).await.unwrap() {
                assert_eq!(r.group, acct, "{name}: traffic of {acct}");
            }
            for r in s.traffic(&f, GroupBy::Bucket).await.unwrap() {
                assert!(r.group.starts_with(&format!("b{short}-")), "{name}: {acct} sees bucket {}", r.group);
            }
            for r in s.traffic(&f, GroupBy::AccessKey).await.unwrap() {
                assert!(r.group.is_empty() || r.group.starts_with(&format!("AKIA{acct}")), "{name}: {}", r.group);
            }
            for r in s.top_objects(&f, 1000).await.unwrap() {
                assert!(r.bucket.starts_with(&format!("b{short}-")), "{name}: {acct} sees {}", r.bucket);
            }
            for r in s.top_principals(&f, 1000).await.unwrap() {
                assert!(r.principal_arn.is_empty() || r.principal_arn.contains(acct), "{name}: {}", r.principal_arn);
            }
            for r in s.denied(&f, 1000).await.unwrap() {
                assert!(r.principal_arn.contains(acct), "{name}: {}", r.principal_arn);
            }
            for r in s.key_last_use(&f).await.unwrap() {
                assert!(r.access_key.starts_with(&format!("AKIA{acct}")), "{name}: {}", r.access_key);
            }
            // Another account's object has no history in this account's scope.
            for other in ACCOUNTS.iter().filter(|o| **o != acct) {
                let bucket = format!("b{}-0", &other[..3]);
                for i in 0..6 {
                    let h = s.object_history(&f, &bucket, &format!("dir/obj-{i}.bin"), 100).await.unwrap();
                    assert!(h.is_empty(), "{name}: {acct} sees the history of {bucket}");
                }
            }
            assert!(!s.top_objects(&f, 10).await.unwrap().is_empty(), "{name}: {acct} sees its own");
        }
        let nobody = Filter::account("999999999999");
        assert!(s.traffic(&nobody, GroupBy::Bucket).await.unwrap().is_empty());
        assert!(s.key_last_use(&nobody).await.unwrap().is_empty());
    }
}

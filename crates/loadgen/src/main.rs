//! `cloudstore-loadgen`: drives one S3 operation at a fixed concurrency for a fixed time against
//! any S3 endpoint (cloudstore or the bare backend, run the same way) and reports throughput,
//! latency percentiles and, optionally, the server process's CPU and memory use.
//!
//! See `docs/benchmarks.md` for how it is used.

mod client;
mod content;
mod procstat;
mod stats;
mod units;

use std::collections::VecDeque;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, Result, bail};
use clap::{Parser, ValueEnum};
use serde_json::{Value, json};

use crate::client::S3;
use crate::stats::{Kind, Stats, latency_json, summarize};
use crate::units::{fmt_size, fmt_us, parse_duration, parse_size};

const MIB: f64 = 1024.0 * 1024.0;
/// Objects at or above this size count as "large" for defaults.
const LARGE: u64 = 1 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Op {
    /// PUT new objects of --size under unique keys.
    Put,
    /// GET random seeded objects (checks length; content too with --verify).
    Get,
    /// HEAD random seeded objects (checks Content-Length).
    Head,
    /// ListObjectsV2 pages (--max-keys) walking the seeded prefix with continuation tokens.
    List,
    /// DELETE the seeded objects, each once.
    Delete,
    /// 50% GET, 20% PUT, 15% HEAD, 10% DELETE (of this run's PUTs), 5% LIST page.
    Mixed,
}

/// S3 load generator: the same requests against cloudstore and against the bare backend.
#[derive(Debug, Parser)]
#[command(name = "cloudstore-loadgen", version, about)]
struct Args {
    /// S3 endpoint, http://host:port (path-style addressing).
    #[arg(long, env = "AWS_ENDPOINT_URL")]
    endpoint: String,
    #[arg(long, env = "AWS_ACCESS_KEY_ID")]
    access_key: String,
    #[arg(long, env = "AWS_SECRET_ACCESS_KEY", hide_env_values = true)]
    secret_key: String,
    #[arg(long, default_value = "us-east-1")]
    region: String,
    /// Bucket to use; created if missing.
    #[arg(long)]
    bucket: String,
    #[arg(long, value_enum)]
    op: Op,
    /// Object size: 4KiB, 64MiB, 1000 (bytes), 4KB (decimal). Default 4KiB; 0 for list, whose
    /// seeded keys only need to exist.
    #[arg(long, value_parser = parse_size)]
    size: Option<u64>,
    /// Requests in flight at once (one worker each, over keep-alive connections).
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Measured time: 15s, 500ms, 1m. Workers stop starting requests after it; the run ends when
    /// the last in-flight request completes.
    #[arg(long, default_value = "15s", value_parser = parse_duration)]
    duration: Duration,
    /// Unmeasured load before the measured window (connections, caches).
    #[arg(long, default_value = "0s", value_parser = parse_duration)]
    warmup: Duration,
    /// Objects to seed for get/head/delete/list/mixed. Default: 256 small or 32 large for
    /// get/head/mixed, 5000 for delete, 10000 for list.
    #[arg(long)]
    objects: Option<usize>,
    /// Key prefix. Default: lg/obj-SIZE/ (get/head/mixed), lg/del-SIZE/ (delete),
    /// lg/list-OBJECTS/ (list), lg/put-SIZE/ (put; a per-run folder is added).
    #[arg(long)]
    keys_prefix: Option<String>,
    /// Verify GET bodies byte by byte while streaming, and LIST walk key counts.
    #[arg(long)]
    verify: bool,
    /// Seed the objects and exit (e.g. a big LIST bucket, seeded once).
    #[arg(long, conflicts_with = "no_seed")]
    seed_only: bool,
    /// Assume the objects were seeded already (same --size, --objects and --keys-prefix).
    #[arg(long)]
    no_seed: bool,
    /// Requests in flight while seeding and cleaning up.
    #[arg(long, default_value_t = 64)]
    seed_concurrency: usize,
    /// Delete the objects this run PUT (put and mixed) after measuring.
    #[arg(long)]
    cleanup: bool,
    /// Keys per LIST page.
    #[arg(long, default_value_t = 1000)]
    max_keys: usize,
    /// Per-request timeout, including the body.
    #[arg(long, default_value = "300s", value_parser = parse_duration)]
    timeout: Duration,
    /// Server process to watch (repeatable): CPU from /proc/PID/stat, RSS from /proc/PID/status
    /// (sampled every 100 ms) over the measured window.
    #[arg(long = "server-pid")]
    server_pids: Vec<u32>,
    /// Print the human report on stderr and one JSON object on stdout.
    #[arg(long)]
    json: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cloudstore-loadgen: starting the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match rt.block_on(run(args)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("cloudstore-loadgen: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Small, fast, seedable PRNG for choosing keys and operations.
#[derive(Debug)]
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (((self.next() >> 32) * n as u64) >> 32) as usize
    }
}

/// Everything the workers share.
#[derive(Debug)]
struct Plan {
    s3: Arc<S3>,
    op: Op,
    size: u64,
    objects: usize,
    prefix: String,
    run_id: String,
    verify: bool,
    keep_keys: bool,
    max_keys: usize,
    timeout: Duration,
    measure_start: Instant,
    deadline: Instant,
    next_delete: AtomicUsize,
}

fn seed_key(prefix: &str, i: usize) -> String {
    format!("{prefix}{i:08}")
}

impl Plan {
    fn put_key(&self, worker: usize, n: u64) -> String {
        format!("{}{}/{worker:03}-{n:08}", self.prefix, self.run_id)
    }
}

#[derive(Debug, Default)]
struct WorkerResult {
    stats: Stats,
    last_end: Option<Instant>,
    /// Keys this worker created and did not delete (kept only for --cleanup).
    created: Vec<String>,
}

async fn timed<T>(limit: Duration, fut: impl Future<Output = Result<T>>) -> Result<T> {
    match tokio::time::timeout(limit, fut).await {
        Ok(r) => r,
        Err(_) => bail!("timed out after {limit:?}"),
    }
}

async fn worker(plan: Arc<Plan>, w: usize) -> WorkerResult {
    let mut res = WorkerResult::default();
    let mut rng = SplitMix(content::key_seed(&format!("{}-{w}", plan.run_id)));
    let mut put_n = 0u64;
    let mut mine: VecDeque<String> = VecDeque::new();
    // LIST walk state: continuation token and keys seen so far in this walk.
    let mut token: Option<String> = None;
    let mut walked = 0usize;
    let s3 = &plan.s3;
    loop {
        let t0 = Instant::now();
        if t0 >= plan.deadline {
            break;
        }
        let (kind, outcome): (Kind, Result<u64>) = match plan.op {
            Op::Put => {
                let key = plan.put_key(w, put_n);
                put_n += 1;
                let r = timed(plan.timeout, s3.put_object(&key, plan.size)).await.map(|()| plan.size);
                if plan.keep_keys {
                    mine.push_back(key);
                }
                (Kind::Put, r)
            }
            Op::Get => {
                let key = seed_key(&plan.prefix, rng.below(plan.objects));
                (Kind::Get, timed(plan.timeout, s3.get_object(&key, plan.size, plan.verify)).await)
            }
            Op::Head => {
                let key = seed_key(&plan.prefix, rng.below(plan.objects));
                (Kind::Head, timed(plan.timeout, s3.head_object(&key, plan.size)).await.map(|()| 0))
            }
            Op::Delete => {
                let i = plan.next_delete.fetch_add(1, Ordering::Relaxed);
                if i >= plan.objects {
                    break;
                }
                let key = seed_key(&plan.prefix, i);
                (Kind::Delete, timed(plan.timeout, s3.delete_object(&key)).await.map(|()| 0))
            }
            Op::List => {
                let r = timed(plan.timeout, s3.list_page(&plan.prefix, token.as_deref(), plan.max_keys)).await;
                let r = match r {
                    Ok(page) => {
                        walked += page.keys;
                        token = page.next_token;
                        let mut r = Ok(0);
                        if token.is_none() {
                            if plan.verify && walked != plan.objects {
                                r = Err(anyhow::anyhow!(
                                    "LIST walk of {} returned {walked} keys, expected {}",
                                    plan.prefix,
                                    plan.objects
                                ));
                            }
                            walked = 0;
                        }
                        r
                    }
                    Err(e) => {
                        token = None;
                        walked = 0;
                        Err(e)
                    }
                };
                (Kind::List, r)
            }
            Op::Mixed => {
                let roll = rng.below(100);
                if roll < 20 {
                    let key = format!("{}mixed-{}/{w:03}-{put_n:08}", plan.prefix, plan.run_id);
                    put_n += 1;
                    let r = timed(plan.timeout, s3.put_object(&key, plan.size)).await.map(|()| plan.size);
                    mine.push_back(key);
                    (Kind::Put, r)
                } else if roll < 35 {
                    let key = seed_key(&plan.prefix, rng.below(plan.objects));
                    (Kind::Head, timed(plan.timeout, s3.head_object(&key, plan.size)).await.map(|()| 0))
                } else if roll < 45 && !mine.is_empty() {
                    let key = mine.pop_front().unwrap_or_default();
                    (Kind::Delete, timed(plan.timeout, s3.delete_object(&key)).await.map(|()| 0))
                } else if roll < 50 {
                    let r = timed(plan.timeout, s3.list_page(&plan.prefix, None, plan.max_keys)).await.map(|_| 0);
                    (Kind::List, r)
                } else {
                    let key = seed_key(&plan.prefix, rng.below(plan.objects));
                    (Kind::Get, timed(plan.timeout, s3.get_object(&key, plan.size, plan.verify)).await)
                }
            }
        };
        let end = Instant::now();
        if t0 >= plan.measure_start {
            match outcome {
                Ok(bytes) => res.stats.record_ok(kind, end - t0, bytes),
                Err(e) => res.stats.record_err(kind, format!("{e:#}")),
            }
            res.last_end = Some(end);
        }
    }
    if plan.keep_keys {
        res.created = mine.into();
    }
    res
}

#[derive(Debug, Clone, Copy)]
enum BulkAction {
    Put(u64),
    Delete,
}

/// PUTs or DELETEs `keys` with `concurrency` requests in flight, retrying each up to 3 times.
/// Returns how long it took.
async fn bulk(
    s3: &Arc<S3>,
    keys: Vec<String>,
    action: BulkAction,
    concurrency: usize,
    limit: Duration,
    label: &str,
) -> Result<Duration> {
    let n = keys.len();
    let keys = Arc::new(keys);
    let next = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..concurrency.min(n).max(1) {
        let (s3, keys, next, done) = (s3.clone(), keys.clone(), next.clone(), done.clone());
        tasks.spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(key) = keys.get(i) else { return Ok::<(), anyhow::Error>(()) };
                let mut attempt = 0;
                loop {
                    let r = match action {
                        BulkAction::Put(size) => timed(limit, s3.put_object(key, size)).await,
                        BulkAction::Delete => timed(limit, s3.delete_object(key)).await,
                    };
                    match r {
                        Ok(()) => break,
                        Err(e) if attempt >= 2 => return Err(e),
                        Err(_) => {
                            attempt += 1;
                            tokio::time::sleep(Duration::from_millis(200 * attempt)).await;
                        }
                    }
                }
                done.fetch_add(1, Ordering::Relaxed);
            }
        });
    }
    let mut progress = tokio::time::interval(Duration::from_secs(5));
    progress.tick().await;
    loop {
        tokio::select! {
            joined = tasks.join_next() => match joined {
                None => break,
                Some(Ok(Ok(()))) => {}
                Some(Ok(Err(e))) => {
                    tasks.abort_all();
                    return Err(e.context(format!("{label} failed")));
                }
                Some(Err(e)) => {
                    tasks.abort_all();
                    bail!("{label}: worker task failed: {e}");
                }
            },
            _ = progress.tick() => {
                eprintln!("  {label}: {}/{n} after {:.0}s", done.load(Ordering::Relaxed), started.elapsed().as_secs_f64());
            }
        }
    }
    Ok(started.elapsed())
}

struct ServerWatch {
    pid: u32,
    before: procstat::Snapshot,
}

async fn run(args: Args) -> Result<ExitCode> {
    if args.concurrency == 0 || args.seed_concurrency == 0 {
        bail!("--concurrency and --seed-concurrency must be at least 1");
    }
    if args.max_keys == 0 || args.max_keys > 1000 {
        bail!("--max-keys must be 1..=1000");
    }
    let size = args.size.unwrap_or(if args.op == Op::List { 0 } else { 4096 });
    let large = size >= LARGE;
    let objects = args.objects.unwrap_or(match args.op {
        Op::List => 10_000,
        Op::Delete => 5_000,
        _ if large => 32,
        _ => 256,
    });
    if objects == 0 && args.op != Op::Put {
        bail!("--objects must be at least 1");
    }
    let size_name = fmt_size(size);
    let prefix = args.keys_prefix.clone().unwrap_or_else(|| match args.op {
        Op::Put => format!("lg/put-{size_name}/"),
        Op::Get | Op::Head => format!("lg/obj-{size_name}/"),
        Op::Mixed => format!("lg/mixed-{size_name}/"),
        Op::Delete => format!("lg/del-{size_name}/"),
        Op::List => format!("lg/list-{objects}/"),
    });
    let run_id = format!("{:x}", SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0));
    // Seeding and cleanup get their own client, so the measured run starts with no idle pooled
    // connections beyond its own --concurrency.
    let client = |conns: usize| -> Result<Arc<S3>> {
        Ok(Arc::new(S3::new(&args.endpoint, &args.access_key, &args.secret_key, &args.region, &args.bucket, conns)?))
    };
    let s3 = client(args.concurrency)?;
    s3.ensure_bucket().await.with_context(|| format!("bucket {} at {}", args.bucket, args.endpoint))?;

    let needs_seed = args.op != Op::Put;
    if needs_seed && !args.no_seed {
        let keys: Vec<String> = (0..objects).map(|i| seed_key(&prefix, i)).collect();
        let label = format!("seeding {objects} x {size_name} under {prefix}");
        eprintln!("{label} ...");
        let seeder = client(args.seed_concurrency)?;
        let took = bulk(&seeder, keys, BulkAction::Put(size), args.seed_concurrency, args.timeout, &label).await?;
        drop(seeder);
        let rate = objects as f64 / took.as_secs_f64();
        eprintln!("seeded {objects} objects in {:.1}s ({rate:.0}/s)", took.as_secs_f64());
        if args.seed_only {
            if args.json {
                let v = json!({ "op": "seed", "endpoint": args.endpoint, "bucket": args.bucket, "prefix": prefix,
                    "objects": objects, "size": size, "seconds": took.as_secs_f64(), "ops_per_s": rate });
                println!("{v}");
            }
            return Ok(ExitCode::SUCCESS);
        }
    } else if args.seed_only {
        bail!("--seed-only needs an op that reads seeded objects (get, head, list, delete, mixed)");
    }

    let clk_tck = procstat::clock_ticks();
    let measure_start = Instant::now() + args.warmup;
    let plan = Arc::new(Plan {
        s3: s3.clone(),
        op: args.op,
        size,
        objects,
        prefix: prefix.clone(),
        run_id,
        verify: args.verify,
        keep_keys: args.cleanup && matches!(args.op, Op::Put | Op::Mixed),
        max_keys: args.max_keys,
        timeout: args.timeout,
        measure_start,
        deadline: measure_start + args.duration,
        next_delete: AtomicUsize::new(0),
    });
    let mut workers = tokio::task::JoinSet::new();
    for w in 0..args.concurrency {
        workers.spawn(worker(plan.clone(), w));
    }
    tokio::time::sleep_until(measure_start.into()).await;
    let pids: Vec<String> = args.server_pids.iter().map(u32::to_string).collect();
    let mut watches = Vec::new();
    for &pid in &args.server_pids {
        let before = procstat::snapshot(&pid.to_string()).with_context(|| format!("--server-pid {pid}"))?;
        watches.push(ServerWatch { pid, before });
    }
    let self_before = procstat::cpu_ticks("self").unwrap_or(0);
    let sampler = procstat::RssSampler::start(pids);

    let mut stats = Stats::default();
    let mut last_end = None;
    let mut created = Vec::new();
    while let Some(joined) = workers.join_next().await {
        let r = joined.context("worker task failed")?;
        stats.merge(r.stats);
        last_end = last_end.max(r.last_end);
        created.extend(r.created);
    }
    let rss_max = sampler.finish().await;
    let self_after = procstat::cpu_ticks("self").unwrap_or(0);
    let elapsed = last_end.map(|e| e.saturating_duration_since(measure_start)).unwrap_or(args.duration);
    let secs = elapsed.as_secs_f64().max(1e-9);

    let total = stats.total();
    let lat = summarize(&total.hist);
    let ops_per_s = total.ops as f64 / secs;
    let mib_per_s = total.bytes as f64 / MIB / secs;
    let tick_us = 1e6 / clk_tck as f64;

    let mut server_json = Vec::new();
    let mut server_lines = Vec::new();
    for (watch, max_kib) in watches.iter().zip(rss_max) {
        let after = procstat::snapshot(&watch.pid.to_string()).ok();
        let cpu_us = after.map(|a| a.ticks.saturating_sub(watch.before.ticks) as f64 * tick_us).unwrap_or(0.0);
        let per_op = if total.ops > 0 { cpu_us / total.ops as f64 } else { 0.0 };
        let mib = total.bytes as f64 / MIB;
        let ms_per_mib = if mib > 0.0 { cpu_us / 1000.0 / mib } else { 0.0 };
        let hwm_after = after.map(|a| a.hwm_kib).unwrap_or(0);
        let rss_max_kib = max_kib.max(after.map(|a| a.rss_kib).unwrap_or(0)).max(watch.before.rss_kib);
        server_lines.push(format!(
            "server pid {}: cpu {:.2} s = {per_op:.0} µs/op{}; RSS before {:.1} MiB, max during run {:.1} MiB; \
             VmHWM {:.1} -> {:.1} MiB",
            watch.pid,
            cpu_us / 1e6,
            if mib > 0.0 { format!(", {ms_per_mib:.2} ms/MiB") } else { String::new() },
            watch.before.rss_kib as f64 / 1024.0,
            rss_max_kib as f64 / 1024.0,
            watch.before.hwm_kib as f64 / 1024.0,
            hwm_after as f64 / 1024.0,
        ));
        server_json.push(json!({
            "pid": watch.pid,
            "cpu_s": cpu_us / 1e6,
            "cpu_us_per_op": per_op.round(),
            "cpu_ms_per_mib": (ms_per_mib * 1000.0).round() / 1000.0,
            "rss_before_mib": kib_to_mib(watch.before.rss_kib),
            "rss_max_mib": kib_to_mib(rss_max_kib),
            "hwm_before_mib": kib_to_mib(watch.before.hwm_kib),
            "hwm_after_mib": kib_to_mib(hwm_after),
        }));
    }
    let client_cpu_s = self_after.saturating_sub(self_before) as f64 / clk_tck as f64;

    // Human report.
    let mut out = vec![format!(
        "{} {size_name} x{} for {:.2}s (measured {:.2}s) against {} bucket {} prefix {}",
        name_of(args.op),
        args.concurrency,
        args.duration.as_secs_f64(),
        secs,
        args.endpoint,
        args.bucket,
        prefix
    )];
    out.push(format!("  ops {}  ({ops_per_s:.1} ops/s)  {mib_per_s:.2} MiB/s  errors {}", total.ops, total.errors));
    out.push(format!(
        "  latency p50 {}  p90 {}  p99 {}  max {}",
        fmt_us(lat.p50),
        fmt_us(lat.p90),
        fmt_us(lat.p99),
        fmt_us(lat.max)
    ));
    let mut by_op = serde_json::Map::new();
    let multi = stats.active().count() > 1;
    for (kind, s) in stats.active() {
        let l = summarize(&s.hist);
        if multi {
            out.push(format!(
                "    {:<6} ops {} ({:.1}/s) errors {}  p50 {}  p99 {}",
                kind.name(),
                s.ops,
                s.ops as f64 / secs,
                s.errors,
                fmt_us(l.p50),
                fmt_us(l.p99)
            ));
        }
        by_op.insert(
            kind.name().into(),
            json!({ "ops": s.ops, "ops_per_s": s.ops as f64 / secs, "errors": s.errors, "latency_us": latency_json(&l) }),
        );
    }
    out.extend(server_lines.iter().map(|l| format!("  {l}")));
    out.push(format!("  loadgen cpu {client_cpu_s:.2} s"));
    for e in &stats.error_samples {
        out.push(format!("  error: {e}"));
    }
    let report = out.join("\n");
    if args.json {
        eprintln!("{report}");
        let v: Value = json!({
            "endpoint": args.endpoint,
            "bucket": args.bucket,
            "prefix": prefix,
            "op": name_of(args.op),
            "size": size,
            "concurrency": args.concurrency,
            "objects": if needs_seed { Some(objects) } else { None },
            "verify": args.verify,
            "duration_s": args.duration.as_secs_f64(),
            "elapsed_s": secs,
            "ops": total.ops,
            "ops_per_s": ops_per_s,
            "bytes": total.bytes,
            "mib_per_s": mib_per_s,
            "errors": total.errors,
            "latency_us": latency_json(&lat),
            "by_op": by_op,
            "server": server_json,
            "client_cpu_s": client_cpu_s,
            "error_samples": stats.error_samples,
        });
        println!("{v}");
    } else {
        println!("{report}");
    }

    if !created.is_empty() {
        let n = created.len();
        drop(plan);
        drop(s3);
        let cleaner = client(args.seed_concurrency)?;
        match bulk(&cleaner, created, BulkAction::Delete, args.seed_concurrency, args.timeout, "cleanup").await {
            Ok(took) => eprintln!("cleaned up {n} objects in {:.1}s", took.as_secs_f64()),
            Err(e) => eprintln!("cleanup incomplete: {e:#}"),
        }
    }
    Ok(if total.errors > 0 { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

fn kib_to_mib(kib: u64) -> f64 {
    (kib as f64 / 1024.0 * 10.0).round() / 10.0
}

fn name_of(op: Op) -> &'static str {
    match op {
        Op::Put => "put",
        Op::Get => "get",
        Op::Head => "head",
        Op::List => "list",
        Op::Delete => "delete",
        Op::Mixed => "mixed",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_parses() {
        let a = Args::try_parse_from([
            "cloudstore-loadgen",
            "--endpoint",
            "http://127.0.0.1:9000",
            "--access-key",
            "a",
            "--secret-key",
            "b",
            "--bucket",
            "x",
            "--op",
            "get",
            "--size",
            "64MiB",
            "--server-pid",
            "1",
            "--server-pid",
            "2",
        ])
        .expect("parses");
        assert_eq!(a.size, Some(64 << 20));
        assert_eq!(a.server_pids, vec![1, 2]);
        assert_eq!(a.duration, Duration::from_secs(15));
    }

    #[test]
    fn rng_below_is_in_range() {
        let mut r = SplitMix(7);
        let mut seen = [false; 10];
        for _ in 0..1000 {
            let v = r.below(10);
            seen[v] = true;
        }
        assert!(seen.iter().all(|&s| s));
    }
}

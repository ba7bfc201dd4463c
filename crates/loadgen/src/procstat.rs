//! Server-side resource use from `/proc`: CPU time (utime + stime) and resident memory.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context as _, Result, bail};

/// Clock ticks per second for `/proc/PID/stat`. Asked of `getconf CLK_TCK` once (reading it with
/// `sysconf` would need unsafe code); 100 on every Linux we run on.
pub(crate) fn clock_ticks() -> u64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .filter(|&t: &u64| t > 0)
        .unwrap_or(100)
}

/// utime + stime of a process, in clock ticks.
pub(crate) fn cpu_ticks(pid: &str) -> Result<u64> {
    let path = format!("/proc/{pid}/stat");
    let stat = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    parse_stat_ticks(&stat).with_context(|| format!("parsing {path}"))
}

fn parse_stat_ticks(stat: &str) -> Result<u64> {
    // The command name (field 2) is in parentheses and may contain spaces: split after the last ')'.
    let after = stat.rsplit_once(')').map(|(_, rest)| rest).context("no ')' in stat")?;
    let fields: Vec<&str> = after.split_whitespace().collect();
    // Field 3 (state) is fields[0]; utime is field 14, stime field 15.
    if fields.len() < 13 {
        bail!("too few fields in stat");
    }
    let utime: u64 = fields[11].parse().context("utime")?;
    let stime: u64 = fields[12].parse().context("stime")?;
    Ok(utime + stime)
}

/// (VmRSS, VmHWM) in KiB.
pub(crate) fn memory_kib(pid: &str) -> Result<(u64, u64)> {
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    let field = |name: &str| -> Result<u64> {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .with_context(|| format!("no {name} in {path}"))
    };
    Ok((field("VmRSS:")?, field("VmHWM:")?))
}

/// A snapshot of one process taken before or after the measured window.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Snapshot {
    pub(crate) ticks: u64,
    pub(crate) rss_kib: u64,
    pub(crate) hwm_kib: u64,
}

pub(crate) fn snapshot(pid: &str) -> Result<Snapshot> {
    let ticks = cpu_ticks(pid)?;
    let (rss_kib, hwm_kib) = memory_kib(pid)?;
    Ok(Snapshot { ticks, rss_kib, hwm_kib })
}

/// Samples VmRSS of each pid every 100 ms until stopped; returns the maximum seen per pid.
#[derive(Debug)]
pub(crate) struct RssSampler {
    stop: Arc<AtomicBool>,
    handle: tokio::task::JoinHandle<Vec<u64>>,
}

impl RssSampler {
    pub(crate) fn start(pids: Vec<String>) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let handle = tokio::spawn(async move {
            let mut max = vec![0u64; pids.len()];
            let mut tick = tokio::time::interval(Duration::from_millis(100));
            loop {
                tick.tick().await;
                for (m, pid) in max.iter_mut().zip(&pids) {
                    if let Ok((rss, _)) = memory_kib(pid) {
                        *m = (*m).max(rss);
                    }
                }
                if flag.load(Ordering::Relaxed) {
                    return max;
                }
            }
        });
        RssSampler { stop, handle }
    }

    pub(crate) async fn finish(self) -> Vec<u64> {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.await.unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_with_spaces_in_comm() {
        let stat = "1234 (weird ) name) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 8 0 12345 \
                    1000000 2000 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0";
        assert_eq!(parse_stat_ticks(stat).expect("parses"), 325);
    }

    #[test]
    fn reads_own_process() {
        let snap = snapshot("self").expect("own /proc entries");
        assert!(snap.rss_kib > 0 && snap.hwm_kib >= snap.rss_kib);
        assert!(clock_ticks() > 0);
    }
}

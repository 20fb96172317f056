//! The run's own health: whether the machine kept up with the matrix.
//!
//! The harness serves every exporter while Prometheus scrapes them, on the same cores. When
//! the machine cannot keep up, scrapes of healthy exporters run into their timeout and
//! Prometheus reconnects, and the cases would be blamed for it. Two signals, read once the
//! scrapes stopped, say so together: targets with a scrape that took at least
//! [`NEAR_TIMEOUT`] of the timeout (Prometheus' own `scrape_duration_seconds`; a fake
//! exporter without a delay fault answers in milliseconds), and the CPU measured during the
//! wait: the machine busy at least [`SATURATED`] of its CPU time (`/proc/stat`, whoever used
//! it), or the harness and Prometheus together using that share of the cores. Slow scrapes
//! alone are never overload: an exporter that hangs on a machine with CPU to spare is the
//! exporter's failure. On a run whose machine was saturated, a failed case that bears only
//! the signs of load (every scrape timed out, or only keep-alive failed; never a wrong
//! class) is not judged, and a run whose failures are all such ends with exit 2 and what to
//! change (see the CLI); a run whose verdicts all held only gets a note.

use std::collections::BTreeSet;
use std::time::Duration;

use serde::Serialize;

use crate::targets::{ApiError, PromApi};

/// A scrape that took at least this share of the timeout is "near the timeout".
pub(crate) const NEAR_TIMEOUT: f64 = 0.8;
/// A machine busy this share of its CPU time has no headroom left.
pub(crate) const SATURATED: f64 = 0.9;

/// `93 %`, or `?`.
pub(crate) fn percent(share: Option<f64>) -> String {
    share.map_or("?".into(), |b| format!("{:.0} %", b * 100.0))
}

/// How the machine held up during a run.
#[derive(Debug, Clone, Serialize)]
pub struct RunHealth {
    /// Cores available to the harness.
    pub cores: u64,
    /// Scrapes per second the plan asks for (targets / interval).
    pub scrape_rate: f64,
    /// The interval [`crate::generate`] would pick for this many cases on these cores.
    pub paced_interval_s: f64,
    /// Targets scraped (jobs Prometheus kept).
    pub targets: usize,
    /// Targets, among those not expected to be slow, with a scrape that took at least
    /// 80 % of the timeout.
    pub near_timeout_targets: usize,
    /// Some of them, for the report.
    pub near_timeout_examples: Vec<String>,
    /// Cores the harness kept busy while waiting for the scrapes (CPU seconds / wall).
    pub harness_cpu_cores: Option<f64>,
    /// Cores Prometheus kept busy meanwhile (process backend only).
    pub prometheus_cpu_cores: Option<f64>,
    /// Busy share (0..=1) of the whole machine meanwhile, other processes included.
    pub machine_busy: Option<f64>,
    /// Peak resident memory of the harness (VmHWM), MiB.
    pub harness_max_rss_mib: Option<f64>,
    /// Peak resident memory of Prometheus (process backend only), MiB.
    pub prometheus_max_rss_mib: Option<f64>,
    /// Whether the CPU was measured saturated while scraping: the machine busy at least
    /// [`SATURATED`] of its CPU time, or the harness and Prometheus using that share of the
    /// cores.
    pub saturated: bool,
    /// Why the machine counts as overloaded (saturated, with slow scrapes); `None` when it
    /// kept up.
    pub overload: Option<String>,
}

impl RunHealth {
    /// Whether the machine could not keep up with the plan: its CPU was measured saturated
    /// and scrapes of exporters without a delay came near their timeout. Slow scrapes alone
    /// never are.
    pub fn overloaded(&self) -> bool {
        self.overload.is_some()
    }

    /// What to change, for a run the machine could not keep up with.
    pub fn advice(&self) -> String {
        format!(
            "use `defaults: {{ scrape_interval: {ms}ms, scrape_timeout: {ms}ms }}` or longer \
             (what `scrape-harness generate --interval auto` picks for {} case(s) on {} \
             core(s)), or split the matrix into smaller files",
            self.targets,
            self.cores,
            ms = (self.paced_interval_s * 1000.0).round() as u64,
        )
    }
}

/// CPU seconds of this process and of Prometheus, and the machine's busy and total CPU
/// time (`/proc/stat`), at one moment.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CpuMark {
    at: std::time::Instant,
    harness: Option<f64>,
    prometheus: Option<f64>,
    machine: Option<(u64, u64)>,
}

impl CpuMark {
    /// Now.
    pub(crate) fn now(prometheus_pid: Option<u32>) -> Self {
        Self {
            at: std::time::Instant::now(),
            harness: crate::bench::proc_stat::self_cpu_seconds().ok(),
            prometheus: prometheus_pid.and_then(|p| crate::bench::proc_stat::cpu_seconds(p).ok()),
            machine: std::fs::read_to_string("/proc/stat")
                .ok()
                .and_then(|s| machine_ticks(&s)),
        }
    }

    /// The share of the machine's CPU time that was busy since `self` (0..=1), whoever
    /// used it (other builds included).
    pub(crate) fn machine_busy_since(&self, later: &Self) -> Option<f64> {
        let ((b0, t0), (b1, t1)) = self.machine.zip(later.machine)?;
        let total = t1.checked_sub(t0).filter(|t| *t > 0)?;
        Some(b1.saturating_sub(b0) as f64 / total as f64)
    }

    /// Cores used by each since `self`: (harness, Prometheus).
    pub(crate) fn cores_since(&self, later: &Self) -> (Option<f64>, Option<f64>) {
        let wall = later.at.duration_since(self.at).as_secs_f64().max(0.001);
        let rate = |a: Option<f64>, b: Option<f64>| a.zip(b).map(|(a, b)| (b - a) / wall);
        (
            rate(self.harness, later.harness),
            rate(self.prometheus, later.prometheus),
        )
    }
}

/// Peak resident memory (`VmHWM`) of a process, MiB.
pub(crate) fn max_rss_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status_kib(&status, "VmHWM:").map(|kib| kib as f64 / 1024.0)
}

/// (busy, total) clock ticks of all CPUs from the text of `/proc/stat` (busy: all but
/// idle and iowait).
fn machine_ticks(stat: &str) -> Option<(u64, u64)> {
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let ticks: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|t| t.parse().ok())
        .collect();
    let total: u64 = ticks.iter().sum();
    let idle = ticks.get(3)? + ticks.get(4).copied().unwrap_or(0);
    Some((total - idle, total))
}

fn status_kib(status: &str, field: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with(field))?;
    line[field.len()..].split_whitespace().next()?.parse().ok()
}

/// Jobs whose slowest scrape took at least [`NEAR_TIMEOUT`] of `timeout`, from Prometheus'
/// `scrape_duration_seconds` (kept in its TSDB after the jobs were removed).
pub(crate) async fn near_timeout_jobs(
    api: &PromApi,
    timeout: Duration,
) -> Result<BTreeSet<String>, ApiError> {
    let promql = format!(
        "max by (job) (max_over_time(scrape_duration_seconds[1d])) >= {}",
        timeout.as_secs_f64() * NEAR_TIMEOUT
    );
    Ok(api
        .query(&promql)
        .await?
        .into_iter()
        .filter_map(|s| s.labels.get("job").cloned())
        .collect())
}

/// Inputs of [`judge`].
pub(crate) struct Signals {
    pub(crate) cores: u64,
    pub(crate) targets: usize,
    pub(crate) interval: Duration,
    /// Near-timeout jobs that were not expected to be slow.
    pub(crate) near_timeout: Vec<String>,
    pub(crate) harness_cpu: Option<f64>,
    pub(crate) prometheus_cpu: Option<f64>,
    /// Busy share of the whole machine (0..=1) while scraping.
    pub(crate) machine_busy: Option<f64>,
    pub(crate) prometheus_pid: Option<u32>,
}

/// Whether the machine kept up, and the numbers that say so: overloaded only when the CPU
/// was measured saturated and at least one target not slow by design had a scrape near its
/// timeout.
pub(crate) fn judge(s: Signals) -> RunHealth {
    let busy = s.harness_cpu.unwrap_or(0.0) + s.prometheus_cpu.unwrap_or(0.0);
    let cores = s.cores.max(1) as f64;
    let near = s.near_timeout.len();
    let saturated = busy >= SATURATED * cores || s.machine_busy.is_some_and(|b| b >= SATURATED);
    let overload = (saturated && near > 0).then(|| {
        format!(
            "{near} of {} target(s) had scrapes that took at least {:.0} % of the {} timeout \
             although their exporters have no delay (e.g. {}); the harness kept {} core(s) busy \
             and Prometheus {} of {}, the machine was {} busy ({:.0} scrapes/s asked)",
            s.targets,
            NEAR_TIMEOUT * 100.0,
            humantime::format_duration(s.interval),
            s.near_timeout
                .iter()
                .take(3)
                .cloned()
                .collect::<Vec<_>>()
                .join(", "),
            s.harness_cpu.map_or("?".into(), |c| format!("{c:.2}")),
            s.prometheus_cpu.map_or("?".into(), |c| format!("{c:.2}")),
            s.cores,
            percent(s.machine_busy),
            crate::pacing::scrape_rate(s.targets, s.interval),
        )
    });
    RunHealth {
        cores: s.cores,
        scrape_rate: crate::pacing::scrape_rate(s.targets, s.interval),
        paced_interval_s: crate::pacing::interval_for(s.targets, s.cores).as_secs_f64(),
        targets: s.targets,
        near_timeout_targets: near,
        near_timeout_examples: s.near_timeout.into_iter().take(5).collect(),
        harness_cpu_cores: s.harness_cpu,
        prometheus_cpu_cores: s.prometheus_cpu,
        machine_busy: s.machine_busy,
        harness_max_rss_mib: max_rss_mib(std::process::id()),
        prometheus_max_rss_mib: s.prometheus_pid.and_then(max_rss_mib),
        saturated,
        overload,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signals(near: usize, targets: usize, cpu: f64, machine_busy: Option<f64>) -> Signals {
        Signals {
            cores: 2,
            targets,
            interval: Duration::from_millis(200),
            near_timeout: (0..near).map(|i| format!("job{i}")).collect(),
            harness_cpu: Some(cpu),
            prometheus_cpu: Some(0.0),
            machine_busy,
            prometheus_pid: None,
        }
    }

    #[test]
    fn slow_scrapes_are_overload_only_on_a_machine_measured_saturated() {
        // A quiet machine: no number of slow scrapes is overload (an exporter that hangs
        // is the exporter's failure).
        for near in [0, 2, 5, 30, 1000] {
            let h = judge(signals(near, 1000, 1.0, Some(0.5)));
            assert!(!h.overloaded() && !h.saturated, "{near} slow: {h:?}");
        }
        // /proc/stat unreadable and the processes not busy: not saturated either.
        assert!(!judge(signals(30, 1000, 1.0, None)).overloaded());
        // Saturated, but every scrape quick: not overload.
        let busy = judge(signals(0, 1000, 1.0, Some(0.97)));
        assert!(busy.saturated && !busy.overloaded(), "{busy:?}");
        // Saturated (the machine, whoever used it) and slow scrapes: overload.
        let h = judge(signals(30, 1000, 1.0, Some(0.95)));
        assert!(h.saturated && h.overloaded());
        let why = h.overload.clone().expect("overload");
        assert!(why.starts_with("30 of 1000 target(s) had scrapes"), "{why}");
        assert!(why.contains("95 % busy"), "{why}");
        // The harness and Prometheus alone using the cores count as saturated too.
        assert!(judge(signals(1, 1000, 1.9, None)).overloaded());
        assert!(
            h.advice().contains("scrape_interval: 1000ms"),
            "{}",
            h.advice()
        );
    }

    #[test]
    fn machine_ticks_leave_out_idle_and_iowait() {
        let stat = "cpu  100 5 50 800 40 1 4 0 0 0\ncpu0 50 2 25 400 20 0 2 0 0 0\n";
        assert_eq!(machine_ticks(stat), Some((160, 1000)));
    }

    #[test]
    fn vmhwm_is_read_from_proc_status() {
        let status = "Name:\tx\nVmPeak:\t  100 kB\nVmHWM:\t   2048 kB\nVmRSS:\t 1024 kB\n";
        assert_eq!(status_kib(status, "VmHWM:"), Some(2048));
        assert!(max_rss_mib(std::process::id()).is_some_and(|m| m > 0.0));
    }
}

//! Reports of a bench: the terminal table, the CPU ratios, JSON and a self-contained HTML
//! page ([`html`]).

pub mod html;

use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

use super::options::Mode;
use super::run::BenchError;
use super::shards::ShardRow;

/// Negotiated parameters seen by the exporters (the most frequent combination).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Negotiated {
    /// `TLSv1_3`, empty for plain modes.
    pub tls_version: String,
    /// Key-exchange group, e.g. `X25519`.
    pub kx_group: String,
    /// Cipher suite.
    pub cipher: String,
    /// ALPN result (`h2`, `http/1.1`).
    pub alpn: String,
    /// HTTP version of the requests (`HTTP/2`, `HTTP/1.1`).
    pub http_version: String,
}

/// One measured combination.
#[derive(Clone, Debug, Serialize)]
pub struct BenchRow {
    /// Targets.
    pub targets: u32,
    /// Mode.
    pub mode: Mode,
    /// Keep-alive on.
    pub keep_alive: bool,
    /// Repeat index, from 0.
    pub repeat: u32,
    /// Length of the measured window, seconds.
    pub window_seconds: f64,
    /// Scrape interval, seconds.
    pub interval_seconds: f64,
    /// Warm-up time (start of Prometheus to every target scraped once), seconds.
    pub warmup_seconds: f64,
    /// Prometheus CPU seconds in the window.
    pub prometheus_cpu_seconds: f64,
    /// Prometheus CPU as a share of one core (cpu seconds / window seconds).
    pub prometheus_cpu_cores: f64,
    /// Prometheus resident memory at the end of the window.
    pub prometheus_rss_bytes: f64,
    /// Median of per-target median scrape durations in the window, seconds.
    pub scrape_duration_p50: f64,
    /// 99th percentile of per-target p99 scrape durations in the window, seconds.
    pub scrape_duration_p99: f64,
    /// Scrapes in the window according to Prometheus (`count_over_time(up)`).
    pub scrapes: u64,
    /// Failed scrapes in the window (`up == 0`).
    pub failed_scrapes: u64,
    /// Requests the exporters answered in the window.
    pub requests: u64,
    /// TCP connections the exporters accepted in the window.
    pub connections: u64,
    /// TLS handshakes completed in the window.
    pub handshakes: u64,
    /// TLS handshakes completed since the fleet started (warm-up included).
    pub handshakes_total: u64,
    /// TCP connections accepted since the fleet started.
    pub connections_total: u64,
    /// Handshakes that failed before the window, by reason (the warm-up's: a target whose
    /// handshake does not finish within the scrape timeout is dialled again at the next
    /// interval, see docs/reliability.md).
    pub warmup_handshakes_failed: std::collections::BTreeMap<String, u64>,
    /// Handshakes completed before the window.
    pub warmup_handshakes_ok: u64,
    /// Handshakes (TLS) or connections (plain) per request in the window.
    pub connections_per_request: f64,
    /// CPU seconds of the exporters in the window: this process (the in-process fleet plus
    /// the harness) or every fleet host's fleet; `None` (JSON `null`) when the fleets ran
    /// elsewhere (remote mode).
    pub exporter_cpu_seconds: Option<f64>,
    /// What was negotiated.
    pub negotiated: Negotiated,
    /// Whether the row is valid (keep-alive off: handshakes ≈ scrapes; no failed scrapes
    /// beyond 1 %).
    pub pass: bool,
    /// Why it is not, empty when it is.
    pub problems: Vec<String>,
    /// With more than one Prometheus (shards): each one's part, in shard order; the
    /// row's Prometheus figures are their total (CPU and memory added up, p50 the
    /// scrape-weighted mean of their medians, p99 the largest p99).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub shards: Vec<ShardRow>,
    /// One entry per checkpoint of the window (`--checkpoints`), in time order; empty
    /// without checkpoints.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub timeline: Vec<Checkpoint>,
}

/// The state of a run at one checkpoint of its window, and what happened since the one
/// before: a soak's figures over time.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Checkpoint {
    /// Seconds since the window began.
    pub at_seconds: f64,
    /// Resident memory of the fleet's processes on this machine, bytes: this process (the
    /// in-process fleet and the harness), or every fleet host's; 0 for remote fleets.
    pub fleet_rss_bytes: u64,
    /// Open descriptors of the same processes.
    pub fleet_fds: u64,
    /// Prometheus' resident memory, bytes.
    pub prometheus_rss_bytes: f64,
    /// Prometheus' open descriptors (`process_open_fds`).
    pub prometheus_fds: f64,
    /// Prometheus CPU since the last checkpoint, as a share of one core.
    pub prometheus_cpu_cores: f64,
    /// Scrapes since the last checkpoint, according to Prometheus.
    pub scrapes: u64,
    /// Failed scrapes since the last checkpoint.
    pub failed_scrapes: u64,
    /// TLS handshakes (TLS modes) or connections (plain) since the last checkpoint.
    pub reconnects: u64,
    /// TLS handshakes (or connections) per target since the fleet started.
    pub reconnects_per_target: f64,
}

/// A whole bench run.
#[derive(Clone, Debug, Serialize)]
pub struct BenchReport {
    /// Prometheus version.
    pub prometheus_version: String,
    /// Go version Prometheus was built with.
    pub prometheus_go_version: String,
    /// Which backend ran Prometheus.
    pub backend: String,
    /// Cores of this machine.
    pub cpus: usize,
    /// Rows, in run order.
    pub rows: Vec<BenchRow>,
}

impl BenchReport {
    /// A report without rows or versions yet, for this machine.
    pub fn empty() -> Self {
        Self {
            prometheus_version: String::new(),
            prometheus_go_version: String::new(),
            backend: String::new(),
            cpus: std::thread::available_parallelism().map_or(1, usize::from),
            rows: Vec::new(),
        }
    }

    /// True when every row is valid.
    pub fn all_passed(&self) -> bool {
        self.rows.iter().all(|r| r.pass)
    }

    /// The JSON text.
    pub fn to_json(&self) -> String {
        // Invariant: every field is a plain number, string, bool or list of those.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}

pub(crate) fn ka_str(ka: bool) -> &'static str {
    if ka {
        "on"
    } else {
        "off"
    }
}

/// The terminal table of a report.
pub fn table(report: &BenchReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Prometheus {} ({}), {}; {} CPU(s)",
        report.prometheus_version, report.prometheus_go_version, report.backend, report.cpus
    );
    let _ = writeln!(
        out,
        "{:>6} {:<6} {:<3} {:>9} {:>7} {:>8} {:>8} {:>8} {:>7} {:>6} {:>8} {:>8} {:>7} {:>9} {:<28} verdict",
        "N", "mode", "ka", "prom_cpu", "cores", "rss_MiB", "p50_ms", "p99_ms", "scrapes", "failed",
        "hs", "hs/req", "exp_cpu", "hs_total", "tls/group/http"
    );
    for r in &report.rows {
        let neg = if r.negotiated.tls_version.is_empty() {
            r.negotiated.http_version.clone()
        } else {
            format!(
                "{}/{}/{}",
                r.negotiated.tls_version, r.negotiated.kx_group, r.negotiated.http_version
            )
        };
        let _ = writeln!(
            out,
            "{:>6} {:<6} {:<3} {:>9.3} {:>7.3} {:>8.1} {:>8.2} {:>8.2} {:>7} {:>6} {:>8} {:>8.2} {:>7} {:>9} {:<28} {}",
            r.targets,
            r.mode.as_str(),
            ka_str(r.keep_alive),
            r.prometheus_cpu_seconds,
            r.prometheus_cpu_cores,
            r.prometheus_rss_bytes / 1_048_576.0,
            r.scrape_duration_p50 * 1e3,
            r.scrape_duration_p99 * 1e3,
            r.scrapes,
            r.failed_scrapes,
            r.handshakes,
            r.connections_per_request,
            cpu_text(r.exporter_cpu_seconds),
            r.handshakes_total,
            neg,
            if r.pass { "ok" } else { "FAIL" }
        );
    }
    for r in report.rows.iter().filter(|r| !r.pass) {
        for p in &r.problems {
            let _ = writeln!(
                out,
                "FAIL N={} {} keep-alive {}: {p}",
                r.targets,
                r.mode,
                ka_str(r.keep_alive)
            );
        }
    }
    for r in report.rows.iter() {
        let failed: u64 = r.warmup_handshakes_failed.values().sum();
        if failed == 0 {
            continue;
        }
        let reasons: Vec<String> = r
            .warmup_handshakes_failed
            .iter()
            .map(|(why, n)| format!("{why}: {n}"))
            .collect();
        let _ = writeln!(
            out,
            "warm-up N={} {} keep-alive {}: {failed} handshakes failed ({}) before {} \
             succeeded, in {:.1} s",
            r.targets,
            r.mode,
            ka_str(r.keep_alive),
            reasons.join(", "),
            r.warmup_handshakes_ok,
            r.warmup_seconds
        );
    }
    for r in report.rows.iter().filter(|r| !r.shards.is_empty()) {
        out.push_str(&shards_table(r));
    }
    for r in report.rows.iter().filter(|r| !r.timeline.is_empty()) {
        out.push_str(&timeline_table(r));
    }
    let _ = writeln!(out, "{}", ratios(report));
    out
}

/// An optional CPU figure for the table: two decimals, `-` when not measured.
fn cpu_text(cpu: Option<f64>) -> String {
    cpu.map_or_else(|| "-".to_owned(), |c| format!("{c:.2}"))
}

impl BenchRow {
    /// `N=1000 tls keep-alive on (repeat 0)`: which combination the row measured.
    pub fn combination(&self) -> String {
        format!(
            "N={} {} keep-alive {} (repeat {})",
            self.targets,
            self.mode,
            ka_str(self.keep_alive),
            self.repeat
        )
    }

    /// The shards' targets kept, targets scraped and Prometheus descriptors, added up.
    pub fn shard_totals(&self) -> (u64, u64, f64) {
        self.shards.iter().fold((0, 0, 0.0), |(k, s, f), shard| {
            (
                k + shard.targets_kept,
                s + shard.targets_scraped,
                f + shard.prometheus_fds,
            )
        })
    }
}

/// The shards of one run: a line per shard, then their total.
pub fn shards_table(r: &BenchRow) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "shards {}:", r.combination());
    let _ = writeln!(
        out,
        "{:>6} {:>7} {:>8} {:>9} {:>7} {:>8} {:>7} {:>8} {:>6}  url",
        "shard", "kept", "scraped", "prom_cpu", "cores", "rss_MiB", "fds", "scrapes", "failed"
    );
    for s in &r.shards {
        let _ = writeln!(
            out,
            "{:>6} {:>7} {:>8} {:>9.3} {:>7.3} {:>8.1} {:>7.0} {:>8} {:>6}  {}",
            s.shard,
            s.targets_kept,
            s.targets_scraped,
            s.prometheus_cpu_seconds,
            s.prometheus_cpu_cores,
            s.prometheus_rss_bytes / 1_048_576.0,
            s.prometheus_fds,
            s.scrapes,
            s.failed_scrapes,
            s.url
        );
    }
    let (kept, scraped, fds) = r.shard_totals();
    let _ = writeln!(
        out,
        "{:>6} {:>7} {:>8} {:>9.3} {:>7.3} {:>8.1} {:>7.0} {:>8} {:>6}  {}",
        "total",
        kept,
        scraped,
        r.prometheus_cpu_seconds,
        r.prometheus_cpu_cores,
        r.prometheus_rss_bytes / 1_048_576.0,
        fds,
        r.scrapes,
        r.failed_scrapes,
        if r.problems.iter().any(|p| p.contains("shard")) {
            "targets NOT scraped exactly once (see FAIL)"
        } else {
            "every target scraped by exactly one shard"
        }
    );
    out
}

/// The timeline of one run: a line per checkpoint.
pub fn timeline_table(r: &BenchRow) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "timeline {}:", r.combination());
    let _ = writeln!(
        out,
        "{:>8} {:>12} {:>9} {:>11} {:>8} {:>7} {:>8} {:>6} {:>6} {:>8}",
        "t_s",
        "fleet_MiB",
        "fleet_fd",
        "prom_MiB",
        "prom_fd",
        "cores",
        "scrapes",
        "failed",
        "hs",
        "hs/tgt"
    );
    for c in &r.timeline {
        let _ = writeln!(
            out,
            "{:>8.0} {:>12.1} {:>9} {:>11.1} {:>8.0} {:>7.3} {:>8} {:>6} {:>6} {:>8.3}",
            c.at_seconds,
            c.fleet_rss_bytes as f64 / 1_048_576.0,
            c.fleet_fds,
            c.prometheus_rss_bytes / 1_048_576.0,
            c.prometheus_fds,
            c.prometheus_cpu_cores,
            c.scrapes,
            c.failed_scrapes,
            c.reconnects,
            c.reconnects_per_target
        );
    }
    out
}

/// "mTLS without keep-alive costs X× the Prometheus CPU of plain with keep-alive at N
/// targets", for every N with both rows.
pub fn ratios(report: &BenchReport) -> String {
    let mut out = String::new();
    let mut ns: Vec<u32> = report.rows.iter().map(|r| r.targets).collect();
    ns.sort_unstable();
    ns.dedup();
    let mean = |n: u32, mode: Mode, ka: bool| {
        let v: Vec<f64> = report
            .rows
            .iter()
            .filter(|r| r.targets == n && r.mode == mode && r.keep_alive == ka)
            .map(|r| r.prometheus_cpu_seconds)
            .collect();
        (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
    };
    for n in ns {
        let Some(base) = mean(n, Mode::Plain, true).filter(|b| *b > 0.0) else {
            continue;
        };
        for mode in Mode::ALL {
            for ka in [true, false] {
                if (mode, ka) == (Mode::Plain, true) {
                    continue;
                }
                if let Some(v) = mean(n, mode, ka) {
                    let _ = writeln!(
                        out,
                        "N={n}: {mode} keep-alive {} costs {:.2}× the Prometheus CPU of plain keep-alive on",
                        ka_str(ka),
                        v / base
                    );
                }
            }
        }
    }
    out
}

/// Writes the JSON report.
pub fn write_json(report: &BenchReport, path: &Path) -> Result<(), BenchError> {
    std::fs::write(path, report.to_json()).map_err(|source| BenchError::Report {
        path: path.to_owned(),
        source,
    })
}

/// Writes the HTML page.
pub fn write_html(report: &BenchReport, path: &Path) -> Result<(), BenchError> {
    std::fs::write(path, html::render(report)).map_err(|source| BenchError::Report {
        path: path.to_owned(),
        source,
    })
}

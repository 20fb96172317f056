//! `scrape-harness bench`: what TLS costs at scrape time, measured on a real Prometheus.
//!
//! For every combination of target count N, security [`Mode`] and keep-alive setting the
//! bench starts a fake-exporter fleet of N listeners (one group, ports from
//! [`BenchOptions::base_port`] up) and ONE Prometheus scraping all of them in one job at a
//! fixed interval. It waits until every target has been scraped successfully at least once
//! (the warm-up: discovery, first handshakes, cold bcrypt caches), then measures one window
//! of fixed length:
//!
//! * from Prometheus itself: CPU seconds (`process_cpu_seconds_total` read from its own
//!   `/metrics` at window start and end), resident memory at the end, `scrape_duration_seconds`
//!   p50/p99 (per-target quantile over the window, then the quantile over targets), scrapes
//!   and failed scrapes (`up == 0`) in the window, its build and Go version;
//! * from the fleet: connections, TLS handshakes and requests (window deltas and totals), the
//!   negotiated TLS version, group, cipher and HTTP version, and the CPU of this process
//!   (`/proc/self/stat`): the fleet runs in-process, so that figure also contains the
//!   harness' own polling, which is small but not zero.
//!
//! A keep-alive-off row is only valid when every scrape opened a new connection (TLS: a new
//! handshake): handshakes must equal scrapes within ±10 %, otherwise the row fails. The
//! [`servers`] submodule compares fake-exporter with node_exporter and a bare rustls server.

pub mod html;
pub mod proc_stat;
pub mod servers;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::{Duration, Instant};

use fake_exporter::pki::{ClientCert, KeyType, Pki, PkiFiles, ServerCert};
use fake_exporter::FaultSpec;
use fake_exporter::StatsSnapshot;
use fake_exporter::{Fleet, FleetGroup, RunningFleet};
use serde::Serialize;

use crate::backend::{self, BackendKind, PrometheusOptions};
use crate::promconfig::{
    self, Authorization, BasicAuth, PromDuration, PrometheusConfig, Scheme, ScrapeConfig, TlsConfig,
};
use crate::targets::{wait_until, Probe, PromApi};

/// Name of the one scrape job of every bench run.
pub const JOB: &str = "bench";
/// User name of the Basic-auth mode.
pub const BASIC_USER: &str = "prom";
/// Password of the Basic-auth mode.
pub const BASIC_PASSWORD: &str = "bench-s3cret";
/// Token of the Bearer mode.
pub const BEARER_TOKEN: &str = "bench-token-0123456789";
/// Allowed deviation of handshakes from scrapes in a keep-alive-off row.
pub const KEEPALIVE_OFF_TOLERANCE: f64 = 0.10;

/// The security mode of the exporters and the matching scrape settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Plain HTTP, no auth.
    Plain,
    /// Plain HTTP, Basic auth (bcrypt cost 10 hash; the exporter caches outcomes).
    Basic,
    /// Plain HTTP, Bearer token (fake-exporter extension).
    Bearer,
    /// HTTPS, server certificate only.
    Tls,
    /// HTTPS with a client certificate (`RequireAndVerifyClientCert`).
    Mtls,
}

impl Mode {
    /// Every mode, in table order.
    pub const ALL: [Self; 5] = [
        Self::Plain,
        Self::Basic,
        Self::Bearer,
        Self::Tls,
        Self::Mtls,
    ];

    /// The lowercase name, as on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Plain => "plain",
            Self::Basic => "basic",
            Self::Bearer => "bearer",
            Self::Tls => "tls",
            Self::Mtls => "mtls",
        }
    }

    /// Whether the exporters speak TLS.
    pub fn is_tls(self) -> bool {
        matches!(self, Self::Tls | Self::Mtls)
    }
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Mode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|m| m.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| format!("unknown mode `{s}`: use plain, basic, bearer, tls or mtls"))
    }
}

/// What to run.
#[derive(Clone, Debug)]
pub struct BenchOptions {
    /// Target counts.
    pub targets: Vec<u32>,
    /// Modes.
    pub modes: Vec<Mode>,
    /// Keep-alive settings (`true` = on).
    pub keep_alive: Vec<bool>,
    /// Scrape interval (also the scrape timeout).
    pub interval: Duration,
    /// Length of the measured window.
    pub duration: Duration,
    /// Runs per combination.
    pub repeat: u32,
    /// First port of the fleet.
    pub base_port: u16,
    /// Deadline of the warm-up (every target scraped successfully once).
    pub warmup_timeout: Duration,
    /// Prometheus backend.
    pub backend: BackendKind,
    /// `--prometheus-image`.
    pub image: Option<String>,
    /// `--prometheus-bin`.
    pub binary: Option<PathBuf>,
    /// Draw a progress bar on stderr (only on a terminal).
    pub progress: bool,
}

impl Default for BenchOptions {
    fn default() -> Self {
        Self {
            targets: vec![100, 1000, 5000],
            modes: Mode::ALL.to_vec(),
            keep_alive: vec![true, false],
            interval: Duration::from_secs(1),
            duration: Duration::from_secs(20),
            repeat: 1,
            base_port: 20_000,
            warmup_timeout: Duration::from_secs(120),
            backend: BackendKind::Auto,
            image: None,
            binary: None,
            progress: true,
        }
    }
}

/// Why a bench could not run.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// The fleet refused to start (fd budget, ports in use, ...).
    #[error("N={n} {mode} keep-alive {ka}: the fleet of {n} exporters on ports {first}-{last} did not start (use fewer --targets or another --base-port)")]
    Fleet {
        /// Targets.
        n: u32,
        /// Mode.
        mode: Mode,
        /// `on`/`off`.
        ka: &'static str,
        /// First port.
        first: u16,
        /// Last port.
        last: u32,
        /// The fleet's error.
        source: fake_exporter::Error,
    },
    /// Prometheus did not start.
    #[error("N={n} {mode}: Prometheus did not start")]
    Backend {
        /// Targets.
        n: u32,
        /// Mode.
        mode: Mode,
        /// The backend's error.
        source: crate::backend::BackendError,
    },
    /// Talking to Prometheus failed, or the warm-up did not finish in time.
    #[error("N={n} {mode} keep-alive {ka}: {what}: {detail}")]
    Measure {
        /// Targets.
        n: u32,
        /// Mode.
        mode: Mode,
        /// `on`/`off`.
        ka: &'static str,
        /// What was being done.
        what: &'static str,
        /// The underlying error.
        detail: String,
    },
    /// Bad options, PKI or temp files.
    #[error("{0}")]
    Setup(String),
}

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
    /// Handshakes (TLS) or connections (plain) per request in the window.
    pub connections_per_request: f64,
    /// CPU seconds of this process (the in-process fleet plus the harness) in the window.
    pub exporter_cpu_seconds: f64,
    /// What was negotiated.
    pub negotiated: Negotiated,
    /// Whether the row is valid (keep-alive off: handshakes ≈ scrapes; no failed scrapes
    /// beyond 1 %).
    pub pass: bool,
    /// Why it is not, empty when it is.
    pub problems: Vec<String>,
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

/// Runs every combination of `opts` and returns the rows; a keep-alive-off row that did not
/// reconnect per scrape is reported with `pass: false`, not as an error.
pub async fn run(opts: &BenchOptions) -> Result<BenchReport, BenchError> {
    if opts.targets.is_empty() || opts.modes.is_empty() || opts.keep_alive.is_empty() {
        return Err(BenchError::Setup(
            "nothing to run: --targets, --modes and --keep-alive each need a value".into(),
        ));
    }
    if opts.interval < Duration::from_millis(100) || opts.duration < opts.interval * 2 {
        return Err(BenchError::Setup(format!(
            "--interval {:?} / --duration {:?}: the interval must be ≥ 100ms and the window at least two intervals",
            opts.interval, opts.duration
        )));
    }
    // Refuse too-large fleets before anything starts.
    for &n in &opts.targets {
        let group = fleet_group(opts.base_port, n, Mode::Plain, true, None)?;
        Fleet::builder().group(group).plan().map_err(|e| {
            BenchError::Setup(format!(
                "--targets {n}: {e}. Each target is one listener plus one connection held by Prometheus in this process"
            ))
        })?;
    }
    let dir = tempfile::Builder::new()
        .prefix("scrape-bench-")
        .tempdir()
        .map_err(|e| BenchError::Setup(format!("creating a temp dir: {e}")))?;
    let pki = Pki::generate(KeyType::EcdsaP256)
        .map_err(|e| BenchError::Setup(format!("generating the PKI: {e}")))?;
    let files = pki
        .write_to(&dir.path().join("pki"))
        .map_err(|e| BenchError::Setup(format!("writing the PKI: {e}")))?;
    let hash = tokio::task::spawn_blocking(|| bcrypt::hash(BASIC_PASSWORD, 10))
        .await
        .map_err(|e| BenchError::Setup(format!("hashing: {e}")))?
        .map_err(|e| BenchError::Setup(format!("hashing: {e}")))?;
    let mut web_configs = BTreeMap::new();
    for mode in Mode::ALL {
        let path = dir.path().join(format!("web-config-{mode}.yml"));
        std::fs::write(&path, web_config_yaml(mode, &files, &hash))
            .map_err(|e| BenchError::Setup(format!("{}: {e}", path.display())))?;
        web_configs.insert(mode, path);
    }

    let mut combos = Vec::new();
    for &n in &opts.targets {
        for &mode in &opts.modes {
            for &ka in &opts.keep_alive {
                for r in 0..opts.repeat.max(1) {
                    combos.push((n, mode, ka, r));
                }
            }
        }
    }
    let bar = progress_bar(opts.progress, combos.len() as u64);
    let mut report = BenchReport {
        prometheus_version: String::new(),
        prometheus_go_version: String::new(),
        backend: String::new(),
        cpus: std::thread::available_parallelism().map_or(1, usize::from),
        rows: Vec::new(),
    };
    for (n, mode, ka, r) in combos {
        if let Some(bar) = &bar {
            bar.set_message(format!(
                "N={n} {mode} keep-alive {}",
                if ka { "on" } else { "off" }
            ));
        }
        let ctx = RunCtx {
            n,
            mode,
            keep_alive: ka,
            repeat: r,
            web_config: &web_configs[&mode],
            files: &files,
            dir: dir.path(),
        };
        let row = run_one(opts, &ctx, &mut report).await?;
        report.rows.push(row);
        if let Some(bar) = &bar {
            bar.inc(1);
        }
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    Ok(report)
}

struct RunCtx<'a> {
    n: u32,
    mode: Mode,
    keep_alive: bool,
    repeat: u32,
    web_config: &'a Path,
    files: &'a PkiFiles,
    dir: &'a Path,
}

fn ka_str(ka: bool) -> &'static str {
    if ka {
        "on"
    } else {
        "off"
    }
}

fn fleet_group(
    base: u16,
    n: u32,
    mode: Mode,
    keep_alive: bool,
    web_config: Option<&Path>,
) -> Result<FleetGroup, BenchError> {
    let last = u32::from(base) + n.max(1) - 1;
    let last = u16::try_from(last).map_err(|_| {
        BenchError::Setup(format!(
            "--targets {n} from --base-port {base} goes past port 65535"
        ))
    })?;
    let mut group = FleetGroup::new(mode.as_str(), base..=last).faults(FaultSpec {
        close_after_response: !keep_alive,
        ..FaultSpec::default()
    });
    if let Some(path) = web_config {
        group = group.web_config(path);
    }
    Ok(group)
}

async fn run_one(
    opts: &BenchOptions,
    ctx: &RunCtx<'_>,
    report: &mut BenchReport,
) -> Result<BenchRow, BenchError> {
    let (n, mode, ka) = (ctx.n, ctx.mode, ka_str(ctx.keep_alive));
    let measure = |what: &'static str| {
        move |detail: String| BenchError::Measure {
            n,
            mode,
            ka,
            what,
            detail,
        }
    };
    let web_config = (mode != Mode::Plain).then_some(ctx.web_config);
    let group = fleet_group(opts.base_port, n, mode, ctx.keep_alive, web_config)?;
    let first = *group.ports.start();
    let fleet = Fleet::builder()
        .group(group)
        .start()
        .await
        .map_err(|source| BenchError::Fleet {
            n,
            mode,
            ka,
            first,
            last: u32::from(first) + n - 1,
            source,
        })?;
    let config = prometheus_config(opts, ctx, first);
    let yaml = promconfig::render(&config);
    let mut popts = PrometheusOptions::new(yaml);
    popts.kind = opts.backend;
    popts.image = opts.image.clone();
    popts.binary = opts.binary.clone();
    popts.extra_mounts = vec![ctx.dir.to_owned()];
    popts.ready_timeout = Duration::from_secs(60);
    let started = Instant::now();
    let prom = backend::start(popts)
        .await
        .map_err(|source| BenchError::Backend { n, mode, source })?;
    let api = PromApi::new(prom.base_url());
    if report.prometheus_version.is_empty() {
        let info = api
            .build_info()
            .await
            .map_err(|e| measure("reading the build info")(e.to_string()))?;
        report.prometheus_version = info.version;
        report.prometheus_go_version = info.go_version;
        report.backend = prom.description();
    }

    // Warm-up: every target scraped successfully at least once.
    wait_until(opts.warmup_timeout, Duration::from_millis(250), || async {
        let targets = api.targets().await?;
        let up = targets
            .iter()
            .filter(|t| t.job == JOB && t.health == crate::targets::Health::Up)
            .count();
        Ok::<_, crate::targets::ApiError>(if up as u32 >= n {
            Probe::Done(())
        } else {
            Probe::Pending(format!("{up} of {n} targets up"))
        })
    })
    .await
    .map_err(|e| {
        measure("warm-up (every target scraped successfully once)")(format!(
            "{e}; Prometheus log:\n{}",
            prom.logs()
        ))
    })?;
    let warmup = started.elapsed();

    // The window.
    let before = Snapshot::take(&api, &fleet, mode)
        .await
        .map_err(measure("reading counters at window start"))?;
    let window_start = Instant::now();
    tokio::time::sleep(opts.duration).await;
    let after = Snapshot::take(&api, &fleet, mode)
        .await
        .map_err(measure("reading counters at window end"))?;
    let window = window_start.elapsed();
    let range = format!("{}ms", window.as_millis());
    let q = |promql: String| {
        let api = &api;
        async move {
            api.query(&promql)
                .await
                .map(|s| s.first().map_or(0.0, |s| s.value))
                .map_err(|e| e.to_string())
        }
    };
    let sel = format!("{{job=\"{JOB}\"}}");
    let p50 = q(format!(
        "quantile(0.5, quantile_over_time(0.5, scrape_duration_seconds{sel}[{range}]))"
    ))
    .await
    .map_err(measure("querying scrape durations"))?;
    let p99 = q(format!(
        "quantile(0.99, quantile_over_time(0.99, scrape_duration_seconds{sel}[{range}]))"
    ))
    .await
    .map_err(measure("querying scrape durations"))?;
    let scrapes = q(format!("sum(count_over_time(up{sel}[{range}]))"))
        .await
        .map_err(measure("counting scrapes"))?;
    let ok = q(format!("sum(sum_over_time(up{sel}[{range}]))"))
        .await
        .map_err(measure("counting failed scrapes"))?;
    drop(prom);
    // Wait for every listener to close so the next run can bind the same ports.
    let _ = tokio::time::timeout(Duration::from_secs(10), fleet.shutdown()).await;

    let requests = after.stats.requests_total() - before.stats.requests_total();
    let connections = after.stats.connections_accepted - before.stats.connections_accepted;
    let handshakes = after.stats.handshakes_ok - before.stats.handshakes_ok;
    let reconnects = if mode.is_tls() {
        handshakes
    } else {
        connections
    };
    let scrapes = scrapes.round() as u64;
    let failed = (scrapes as f64 - ok).round().max(0.0) as u64;
    let mut problems = Vec::new();
    if !ctx.keep_alive {
        let ratio = reconnects as f64 / requests.max(1) as f64;
        if (ratio - 1.0).abs() > KEEPALIVE_OFF_TOLERANCE || requests == 0 {
            problems.push(format!(
                "keep-alive off but {reconnects} {} for {requests} scrapes (ratio {ratio:.2}, allowed 1±{KEEPALIVE_OFF_TOLERANCE}): connections were reused, this row does not measure per-scrape handshakes",
                if mode.is_tls() { "handshakes" } else { "connections" }
            ));
        }
    }
    if failed * 100 > scrapes.max(1) {
        problems.push(format!(
            "{failed} of {scrapes} scrapes failed (up == 0): the machine is overloaded at this N and interval"
        ));
    }
    if scrapes == 0 {
        problems.push("no scrapes in the window".into());
    }
    let window_s = window.as_secs_f64();
    let prom_cpu = after.prom_cpu - before.prom_cpu;
    Ok(BenchRow {
        targets: n,
        mode,
        keep_alive: ctx.keep_alive,
        repeat: ctx.repeat,
        window_seconds: window_s,
        interval_seconds: opts.interval.as_secs_f64(),
        warmup_seconds: warmup.as_secs_f64(),
        prometheus_cpu_seconds: prom_cpu,
        prometheus_cpu_cores: prom_cpu / window_s,
        prometheus_rss_bytes: after.prom_rss,
        scrape_duration_p50: p50,
        scrape_duration_p99: p99,
        scrapes,
        failed_scrapes: failed,
        requests,
        connections,
        handshakes,
        handshakes_total: after.stats.handshakes_ok,
        connections_total: after.stats.connections_accepted,
        connections_per_request: reconnects as f64 / requests.max(1) as f64,
        exporter_cpu_seconds: after.self_cpu - before.self_cpu,
        negotiated: negotiated(&after.stats),
        pass: problems.is_empty(),
        problems,
    })
}

/// Counters read at one instant.
struct Snapshot {
    prom_cpu: f64,
    prom_rss: f64,
    self_cpu: f64,
    stats: StatsSnapshot,
}

impl Snapshot {
    async fn take(api: &PromApi, fleet: &RunningFleet, mode: Mode) -> Result<Self, String> {
        let (url, samples) = api.self_metrics().await.map_err(|e| e.to_string())?;
        let metric = |name: &str| {
            samples
                .iter()
                .find(|s| s.name == name)
                .map(|s| s.value)
                .ok_or_else(|| format!("{url}: no `{name}` series"))
        };
        Ok(Self {
            prom_cpu: metric("process_cpu_seconds_total")?,
            prom_rss: metric("process_resident_memory_bytes")?,
            self_cpu: proc_stat::self_cpu_seconds().map_err(|e| e.to_string())?,
            stats: fleet
                .group_stats(mode.as_str())
                .ok_or_else(|| format!("the fleet has no group `{mode}`"))?,
        })
    }
}

fn negotiated(stats: &StatsSnapshot) -> Negotiated {
    let mut out = Negotiated::default();
    if let Some(s) = stats.tls_sessions.iter().max_by_key(|s| s.count) {
        out.tls_version = s.info.version.clone();
        out.kx_group = s.info.kx_group.clone();
        out.cipher = s.info.cipher_suite.clone();
        out.alpn = s.info.alpn.clone();
    }
    if let Some(r) = stats.requests.iter().max_by_key(|r| r.count) {
        out.http_version = r.http_version.clone();
    }
    out
}

/// The `web-config.yml` of `mode` (empty for plain).
fn web_config_yaml(mode: Mode, files: &PkiFiles, bcrypt_hash: &str) -> String {
    let mut y = String::new();
    if mode.is_tls() {
        let _ = writeln!(y, "tls_server_config:");
        let _ = writeln!(
            y,
            "  cert_file: {}",
            files.server_cert(ServerCert::Valid).display()
        );
        let _ = writeln!(
            y,
            "  key_file: {}",
            files.server_key(ServerCert::Valid).display()
        );
        if mode == Mode::Mtls {
            let _ = writeln!(y, "  client_auth_type: RequireAndVerifyClientCert");
            let _ = writeln!(y, "  client_ca_file: {}", files.ca().display());
        }
    }
    match mode {
        Mode::Basic => {
            let _ = writeln!(y, "basic_auth_users:\n  {BASIC_USER}: {bcrypt_hash:?}");
        }
        Mode::Bearer => {
            let _ = writeln!(
                y,
                "# fake-exporter extension (not exporter-toolkit):\nfake_exporter:\n  bearer_auth:\n    tokens: [{BEARER_TOKEN:?}]"
            );
        }
        _ => {}
    }
    y
}

fn prometheus_config(opts: &BenchOptions, ctx: &RunCtx<'_>, first: u16) -> PrometheusConfig {
    let targets = (0..ctx.n).map(|i| format!("127.0.0.1:{}", u32::from(first) + i));
    let mut job = ScrapeConfig::new(JOB, targets);
    let interval = PromDuration::from_millis(opts.interval.as_millis() as u64);
    job.scrape_interval = Some(interval);
    job.scrape_timeout = Some(interval);
    match ctx.mode {
        Mode::Plain => {}
        Mode::Basic => {
            job.basic_auth = Some(BasicAuth {
                username: BASIC_USER.into(),
                password: Some(BASIC_PASSWORD.into()),
                password_file: None,
            });
        }
        Mode::Bearer => {
            job.authorization = Some(Authorization {
                auth_type: None,
                credentials: Some(BEARER_TOKEN.into()),
                credentials_file: None,
            });
        }
        Mode::Tls | Mode::Mtls => {
            job.scheme = Some(Scheme::Https);
            let mut tls = TlsConfig {
                ca_file: Some(ctx.files.ca()),
                ..TlsConfig::default()
            };
            if ctx.mode == Mode::Mtls {
                tls.cert_file = Some(ctx.files.client_cert(ClientCert::Valid));
                tls.key_file = Some(ctx.files.client_key(ClientCert::Valid));
            }
            job.tls_config = Some(tls);
        }
    }
    PrometheusConfig {
        global: None,
        scrape_configs: vec![job],
    }
}

fn progress_bar(enabled: bool, len: u64) -> Option<indicatif::ProgressBar> {
    if !enabled || !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new(len);
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} runs {elapsed} {msg}")
    {
        bar.set_style(style);
    }
    Some(bar)
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
            "{:>6} {:<6} {:<3} {:>9.3} {:>7.3} {:>8.1} {:>8.2} {:>8.2} {:>7} {:>6} {:>8} {:>8.2} {:>7.2} {:>9} {:<28} {}",
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
            r.exporter_cpu_seconds,
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
    let _ = writeln!(out, "{}", ratios(report));
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
    std::fs::write(path, report.to_json())
        .map_err(|e| BenchError::Setup(format!("writing {}: {e}", path.display())))
}

/// Writes the HTML page.
pub fn write_html(report: &BenchReport, path: &Path) -> Result<(), BenchError> {
    std::fs::write(path, html::render(report))
        .map_err(|e| BenchError::Setup(format!("writing {}: {e}", path.display())))
}

/// Parses a comma-separated list with `parse`, naming the flag in errors.
pub fn parse_list<T>(
    flag: &str,
    value: &str,
    parse: impl Fn(&str) -> Result<T, String>,
) -> Result<Vec<T>, String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| parse(s).map_err(|e| format!("--{flag} `{s}`: {e}")))
        .collect()
}

/// Parses `on`/`off`.
pub fn parse_on_off(s: &str) -> Result<bool, String> {
    match s {
        "on" | "true" | "yes" => Ok(true),
        "off" | "false" | "no" => Ok(false),
        other => Err(format!("`{other}` is not on or off")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_parse_and_name_the_flag() {
        assert_eq!(
            parse_list("modes", "plain, tls,mtls", Mode::from_str).unwrap(),
            vec![Mode::Plain, Mode::Tls, Mode::Mtls]
        );
        let err = parse_list("modes", "plain,tsl", Mode::from_str).unwrap_err();
        assert!(err.contains("--modes `tsl`"), "{err}");
        assert_eq!(
            parse_list("keep-alive", "on,off", parse_on_off).unwrap(),
            vec![true, false]
        );
    }

    #[test]
    fn too_many_targets_is_refused_by_the_fd_budget() {
        let group = fleet_group(1024, 31_000, Mode::Plain, true, None).unwrap();
        let err = Fleet::builder().group(group).plan().unwrap_err();
        assert!(err.to_string().contains("file descriptors"), "{err}");
    }
}

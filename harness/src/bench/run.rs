//! Orchestration of a bench: one fleet and one Prometheus per combination, warm-up, one
//! measured window, the row.

use std::path::Path;
use std::time::{Duration, Instant};

use fake_exporter::pki::{ClientCert, KeyType, PkiFiles};
use fake_exporter::FaultSpec;
use fake_exporter::StatsSnapshot;
use fake_exporter::{Fleet, FleetGroup, RunningFleet};

use super::options::{BenchOptions, Mode};
use super::proc_stat;
use super::report::{ka_str, BenchReport, BenchRow, Checkpoint, Negotiated};
use super::setup::{BenchFiles, SetupError};
use crate::fixture::{FixtureError, PrometheusFixture, Until};
use crate::progress::Progress;
use crate::promconfig::{Authorization, BasicAuth, PromDuration, Scheme, ScrapeConfig, TlsConfig};
use crate::targets::{ApiError, PromApi};

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
/// How long a fresh snapshot of Prometheus' own counters may take (a poll reads every
/// target first: a large fleet makes it slower).
const READ_DEADLINE: Duration = Duration::from_secs(30);

/// Why a bench could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BenchError {
    /// The options ask for nothing, or for something impossible.
    #[error("{0}")]
    Options(String),
    /// A fleet of `n` targets from `base_port` would not fit in the port range.
    #[error("{n} targets from port {base_port} go past port 65535")]
    Ports {
        /// Targets.
        n: u32,
        /// First port.
        base_port: u16,
    },
    /// The fleet cannot be planned (file-descriptor budget, ...).
    #[error("{n} targets: {source}. Each target is one listener plus one connection held by Prometheus in this process")]
    Budget {
        /// Targets.
        n: u32,
        /// The fleet's verdict.
        #[source]
        source: fake_exporter::FleetError,
    },
    /// The bench's files (run directory, PKI, web-configs) could not be prepared.
    #[error(transparent)]
    Setup(#[from] SetupError),
    /// The fleet refused to start (fd budget, ports in use, ...).
    #[error("N={n} {mode} keep-alive {ka}: the fleet of {n} exporters on ports {first}-{last} did not start (use fewer targets or another base port)")]
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
        #[source]
        source: fake_exporter::Error,
    },
    /// Prometheus did not start.
    #[error("N={n} {mode}: Prometheus did not start: {source}")]
    Prometheus {
        /// Targets.
        n: u32,
        /// Mode.
        mode: Mode,
        /// The fixture's error.
        #[source]
        source: FixtureError,
    },
    /// Talking to Prometheus failed, or the warm-up did not finish in time.
    #[error("N={n} {mode} keep-alive {ka}: {what}: {source}")]
    Measure {
        /// Targets.
        n: u32,
        /// Mode.
        mode: Mode,
        /// `on`/`off`.
        ka: &'static str,
        /// What was being done.
        what: &'static str,
        /// The underlying error (boxed: API errors are large).
        #[source]
        source: Box<MeasureError>,
    },
    /// A report file could not be written.
    #[error("writing {}: {source}", .path.display())]
    Report {
        /// The file.
        path: std::path::PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

/// Why a measurement failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MeasureError {
    /// The Prometheus API failed.
    #[error(transparent)]
    Api(#[from] ApiError),
    /// The warm-up did not finish (the error carries Prometheus' log tail).
    #[error(transparent)]
    Warmup(FixtureError),
    /// No fresh snapshot of Prometheus' own counters from the fixture in time.
    #[error("reading Prometheus' own counters through the fixture: {0}")]
    Observe(#[source] FixtureError),
    /// Prometheus' own `/metrics` lacks a series.
    #[error("{url}: no `{name}` series")]
    MissingSeries {
        /// The URL read.
        url: String,
        /// The series.
        name: &'static str,
    },
    /// The fleet has no group of that mode (a bug).
    #[error("the fleet has no group `{0}`")]
    MissingGroup(Mode),
    /// `/proc/self/stat` could not be read.
    #[error("reading /proc/self/stat: {0}")]
    ProcStat(#[source] std::io::Error),
}

/// Runs every combination of `opts` and returns the rows; a keep-alive-off row that did not
/// reconnect per scrape is reported with `pass: false`, not as an error.
pub async fn run(opts: &BenchOptions) -> Result<BenchReport, BenchError> {
    if opts.targets.is_empty() || opts.modes.is_empty() || opts.keep_alive.is_empty() {
        return Err(BenchError::Options(
            "nothing to run: targets, modes and keep-alive settings each need a value".into(),
        ));
    }
    if opts.interval < Duration::from_millis(100) || opts.duration < opts.interval * 2 {
        return Err(BenchError::Options(format!(
            "interval {:?} / duration {:?}: the interval must be ≥ 100ms and the window at least two intervals",
            opts.interval, opts.duration
        )));
    }
    // Refuse too-large fleets before anything starts.
    for &n in &opts.targets {
        let group = fleet_group(opts.base_port, n, Mode::Plain, true, None)?;
        Fleet::builder()
            .group(group)
            .plan()
            .map_err(|source| BenchError::Budget { n, source })?;
    }
    let files = BenchFiles::create("bench", KeyType::EcdsaP256).await?;

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
    let bar = Progress::new(opts.progress, combos.len() as u64, "runs");
    let mut report = BenchReport {
        prometheus_version: String::new(),
        prometheus_go_version: String::new(),
        backend: String::new(),
        cpus: std::thread::available_parallelism().map_or(1, usize::from),
        rows: Vec::new(),
    };
    for (done, (n, mode, ka, r)) in (1u64..).zip(combos) {
        bar.set_message(format!("N={n} {mode} keep-alive {}", ka_str(ka)));
        let ctx = RunCtx {
            n,
            mode,
            keep_alive: ka,
            repeat: r,
            web_config: files.web_config(mode),
            files: files.pki(),
            dir: files.dir(),
        };
        match run_one(opts, &ctx, &mut report).await {
            Ok(row) => report.rows.push(row),
            Err(err) => {
                bar.abandon();
                return Err(err);
            }
        }
        bar.set_position(done);
    }
    bar.finish();
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

pub(super) fn fleet_group(
    base: u16,
    n: u32,
    mode: Mode,
    keep_alive: bool,
    web_config: Option<&Path>,
) -> Result<FleetGroup, BenchError> {
    let last = u32::from(base) + n.max(1) - 1;
    let last = u16::try_from(last).map_err(|_| BenchError::Ports { n, base_port: base })?;
    let mut group = FleetGroup::new(mode.as_str(), base..=last).faults(FaultSpec {
        close_after_response: !keep_alive,
        ..FaultSpec::default()
    });
    if let Some(path) = web_config {
        group = group.web_config(path);
    }
    Ok(group)
}

impl RunCtx<'_> {
    /// Maps a failure while doing `what` to the run's error, naming the combination.
    fn measure(&self, what: &'static str) -> impl Fn(MeasureError) -> BenchError {
        let (n, mode, ka) = (self.n, self.mode, ka_str(self.keep_alive));
        move |source| BenchError::Measure {
            n,
            mode,
            ka,
            what,
            source: Box::new(source),
        }
    }
}

/// One row: the fleet, Prometheus scraping it, the warm-up, one measured window, the row.
async fn run_one(
    opts: &BenchOptions,
    ctx: &RunCtx<'_>,
    report: &mut BenchReport,
) -> Result<BenchRow, BenchError> {
    let (fleet, first) = start_fleet(opts, ctx).await?;
    let (prom, started) = start_prometheus(opts, ctx, first).await?;
    record_versions(&prom, ctx, report).await?;
    warm_up(&prom, opts, ctx).await?;
    let warmup = started.elapsed();
    let window = measure_window(&prom, &fleet, opts, ctx).await?;
    // Prometheus first, awaited: its kept-alive connections end with it, so the fleet's
    // listeners close at once and the next run can bind the same ports (dropped without
    // waiting, a slow stop on a loaded machine held them past the fleet's shutdown).
    if let Err(e) = prom.stop().await {
        tracing::warn!(error = %e, "stopping the bench's Prometheus");
    }
    let _ = tokio::time::timeout(Duration::from_secs(10), fleet.shutdown()).await;
    Ok(bench_row(opts, ctx, warmup, &window))
}

/// Starts the run's fleet of `ctx.n` exporters; returns it and its first port.
async fn start_fleet(
    opts: &BenchOptions,
    ctx: &RunCtx<'_>,
) -> Result<(RunningFleet, u16), BenchError> {
    let (n, mode) = (ctx.n, ctx.mode);
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
            ka: ka_str(ctx.keep_alive),
            first,
            last: u32::from(first) + n - 1,
            source,
        })?;
    Ok((fleet, first))
}

/// Starts Prometheus with the run's job; returns it and the instant its start began (the
/// warm-up counts from there).
async fn start_prometheus(
    opts: &BenchOptions,
    ctx: &RunCtx<'_>,
    first: u16,
) -> Result<(PrometheusFixture, Instant), BenchError> {
    let builder = PrometheusFixture::builder()
        .prometheus(&opts.prometheus)
        .ready_timeout(Duration::from_secs(60))
        .mount(ctx.dir)
        .job(bench_job(opts, ctx, first));
    let started = Instant::now();
    let prom = builder
        .start()
        .await
        .map_err(|source| BenchError::Prometheus {
            n: ctx.n,
            mode: ctx.mode,
            source,
        })?;
    Ok((prom, started))
}

/// Fills the report's Prometheus version, Go version and backend on the first run.
async fn record_versions(
    prom: &PrometheusFixture,
    ctx: &RunCtx<'_>,
    report: &mut BenchReport,
) -> Result<(), BenchError> {
    if !report.prometheus_version.is_empty() {
        return Ok(());
    }
    let info = prom
        .api()
        .build_info()
        .await
        .map_err(|e| ctx.measure("reading the build info")(e.into()))?;
    report.prometheus_version = info.version;
    report.prometheus_go_version = info.go_version;
    report.backend = prom.prometheus().description();
    Ok(())
}

/// Warm-up: every target scraped successfully at least once.
async fn warm_up(
    prom: &PrometheusFixture,
    opts: &BenchOptions,
    ctx: &RunCtx<'_>,
) -> Result<(), BenchError> {
    prom.wait(Until::Up, opts.warmup_timeout)
        .await
        .map_err(|source| {
            ctx.measure("warm-up (every target scraped successfully once)")(MeasureError::Warmup(
                source,
            ))
        })?;
    Ok(())
}

/// What one measured window yielded.
struct Window {
    /// Counters at the window's start.
    before: Snapshot,
    /// Counters at the window's end.
    after: Snapshot,
    /// The window's measured length.
    elapsed: Duration,
    /// Prometheus' view of the scrapes in the window.
    scrapes: ScrapeStats,
    /// The checkpoints, when asked for.
    timeline: Vec<Checkpoint>,
}

/// Prometheus' view of the job's scrapes over a window.
struct ScrapeStats {
    /// Median scrape duration, seconds.
    p50: f64,
    /// 99th-percentile scrape duration, seconds.
    p99: f64,
    /// Scrapes (samples of `up`).
    scrapes: f64,
    /// Successful scrapes (sum of `up`).
    ok: f64,
}

/// The measured window: counters, `opts.duration` of scraping, counters, then Prometheus'
/// scrape statistics over exactly the elapsed window.
async fn measure_window(
    prom: &PrometheusFixture,
    fleet: &RunningFleet,
    opts: &BenchOptions,
    ctx: &RunCtx<'_>,
) -> Result<Window, BenchError> {
    let before = Snapshot::take(prom, fleet, ctx.mode)
        .await
        .map_err(ctx.measure("reading counters at window start"))?;
    let window_start = Instant::now();
    let steps = opts.checkpoints.max(1);
    let mut timeline = Vec::new();
    let mut last = (before.clone(), window_start);
    for step in 1..=steps {
        tokio::time::sleep_until((window_start + opts.duration * step / steps).into()).await;
        let now = Snapshot::take(prom, fleet, ctx.mode)
            .await
            .map_err(ctx.measure("reading counters at a checkpoint"))?;
        if opts.checkpoints > 0 {
            let since = last.1.elapsed();
            let scrapes = query_scrapes(prom.api(), since, ctx).await?;
            timeline.push(checkpoint(
                ctx,
                window_start,
                (&last.0, &now),
                since,
                &scrapes,
            ));
        }
        last = (now, Instant::now());
    }
    let (after, _) = last;
    let elapsed = window_start.elapsed();
    let scrapes = query_scrapes(prom.api(), elapsed, ctx).await?;
    Ok(Window {
        before,
        after,
        elapsed,
        scrapes,
        timeline,
    })
}

/// A checkpoint from the snapshots at its start and end and Prometheus' scrape statistics
/// between them.
fn checkpoint(
    ctx: &RunCtx<'_>,
    window_start: Instant,
    (from, to): (&Snapshot, &Snapshot),
    since: Duration,
    scrapes: &ScrapeStats,
) -> Checkpoint {
    let reconnects_of = |s: &Snapshot| {
        if ctx.mode.is_tls() {
            s.stats.handshakes_ok
        } else {
            s.stats.connections_accepted
        }
    };
    let me = std::process::id();
    Checkpoint {
        at_seconds: window_start.elapsed().as_secs_f64(),
        fleet_rss_bytes: crate::procfs::rss_bytes(me).unwrap_or(0),
        fleet_fds: crate::procfs::open_fds(me).unwrap_or(0),
        prometheus_rss_bytes: to.prom_rss,
        prometheus_fds: to.prom_fds,
        prometheus_cpu_cores: (to.prom_cpu - from.prom_cpu) / since.as_secs_f64().max(1e-3),
        scrapes: scrapes.scrapes.round() as u64,
        failed_scrapes: (scrapes.scrapes - scrapes.ok).round().max(0.0) as u64,
        reconnects: reconnects_of(to) - reconnects_of(from),
        reconnects_per_target: reconnects_of(to) as f64 / f64::from(ctx.n.max(1)),
    }
}

/// Queries the job's scrape durations and counts over the last `window`.
async fn query_scrapes(
    api: &PromApi,
    window: Duration,
    ctx: &RunCtx<'_>,
) -> Result<ScrapeStats, BenchError> {
    let range = format!("{}ms", window.as_millis());
    let sel = format!("{{job=\"{JOB}\"}}");
    let p50 = query_value(
        api,
        &format!("quantile(0.5, quantile_over_time(0.5, scrape_duration_seconds{sel}[{range}]))"),
    )
    .await
    .map_err(ctx.measure("querying scrape durations"))?;
    let p99 = query_value(
        api,
        &format!("quantile(0.99, quantile_over_time(0.99, scrape_duration_seconds{sel}[{range}]))"),
    )
    .await
    .map_err(ctx.measure("querying scrape durations"))?;
    let scrapes = query_value(api, &format!("sum(count_over_time(up{sel}[{range}]))"))
        .await
        .map_err(ctx.measure("counting scrapes"))?;
    let ok = query_value(api, &format!("sum(sum_over_time(up{sel}[{range}]))"))
        .await
        .map_err(ctx.measure("counting failed scrapes"))?;
    Ok(ScrapeStats {
        p50,
        p99,
        scrapes,
        ok,
    })
}

/// The value of the first sample of `promql`, 0 when there is none.
async fn query_value(api: &PromApi, promql: &str) -> Result<f64, MeasureError> {
    api.query(promql)
        .await
        .map(|s| s.first().map_or(0.0, |s| s.value))
        .map_err(MeasureError::from)
}

/// The row of a run from its warm-up time and its window.
fn bench_row(opts: &BenchOptions, ctx: &RunCtx<'_>, warmup: Duration, w: &Window) -> BenchRow {
    let (before, after) = (&w.before, &w.after);
    let requests = after.stats.requests_total() - before.stats.requests_total();
    let connections = after.stats.connections_accepted - before.stats.connections_accepted;
    let handshakes = after.stats.handshakes_ok - before.stats.handshakes_ok;
    let reconnects = if ctx.mode.is_tls() {
        handshakes
    } else {
        connections
    };
    let scrapes = w.scrapes.scrapes.round() as u64;
    let failed = (scrapes as f64 - w.scrapes.ok).round().max(0.0) as u64;
    let problems = row_problems(ctx, requests, reconnects, scrapes, failed);
    let window_s = w.elapsed.as_secs_f64();
    let prom_cpu = after.prom_cpu - before.prom_cpu;
    BenchRow {
        targets: ctx.n,
        mode: ctx.mode,
        keep_alive: ctx.keep_alive,
        repeat: ctx.repeat,
        window_seconds: window_s,
        interval_seconds: opts.interval.as_secs_f64(),
        warmup_seconds: warmup.as_secs_f64(),
        prometheus_cpu_seconds: prom_cpu,
        prometheus_cpu_cores: prom_cpu / window_s,
        prometheus_rss_bytes: after.prom_rss,
        scrape_duration_p50: w.scrapes.p50,
        scrape_duration_p99: w.scrapes.p99,
        scrapes,
        failed_scrapes: failed,
        requests,
        connections,
        handshakes,
        handshakes_total: after.stats.handshakes_ok,
        connections_total: after.stats.connections_accepted,
        warmup_handshakes_failed: before.stats.handshakes_failed.clone(),
        warmup_handshakes_ok: before.stats.handshakes_ok,
        connections_per_request: reconnects as f64 / requests.max(1) as f64,
        exporter_cpu_seconds: after.self_cpu - before.self_cpu,
        negotiated: negotiated(&after.stats),
        pass: problems.is_empty(),
        problems,
        timeline: w.timeline.clone(),
    }
}

/// Why a row does not measure what it should: connections reused with keep-alive off, more
/// than 1% of scrapes failed, or no scrapes at all.
fn row_problems(
    ctx: &RunCtx<'_>,
    requests: u64,
    reconnects: u64,
    scrapes: u64,
    failed: u64,
) -> Vec<String> {
    let mut problems = Vec::new();
    if !ctx.keep_alive {
        let ratio = reconnects as f64 / requests.max(1) as f64;
        if (ratio - 1.0).abs() > KEEPALIVE_OFF_TOLERANCE || requests == 0 {
            problems.push(format!(
                "keep-alive off but {reconnects} {} for {requests} scrapes (ratio {ratio:.2}, allowed 1±{KEEPALIVE_OFF_TOLERANCE}): connections were reused, this row does not measure per-scrape handshakes",
                if ctx.mode.is_tls() { "handshakes" } else { "connections" }
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
    problems
}

/// Counters read at one instant.
#[derive(Clone)]
struct Snapshot {
    prom_cpu: f64,
    prom_rss: f64,
    /// Prometheus' open descriptors (0 when it does not say).
    prom_fds: f64,
    self_cpu: f64,
    stats: StatsSnapshot,
}

impl Snapshot {
    /// Prometheus' counters through the fixture's poller (a snapshot read after this call:
    /// the poller stays the one reader of `/metrics`), this process' CPU time and the
    /// fleet's counters.
    async fn take(
        prom: &PrometheusFixture,
        fleet: &RunningFleet,
        mode: Mode,
    ) -> Result<Self, MeasureError> {
        let observed = prom
            .observe_now(READ_DEADLINE)
            .await
            .map_err(MeasureError::Observe)?;
        let missing = |name| MeasureError::MissingSeries {
            url: format!("{}/metrics", prom.api().base_url()),
            name,
        };
        let counters = &observed.counters;
        Ok(Self {
            prom_cpu: counters
                .process_cpu_seconds
                .ok_or_else(|| missing("process_cpu_seconds_total"))?,
            prom_rss: counters
                .resident_memory_bytes
                .ok_or_else(|| missing("process_resident_memory_bytes"))?,
            prom_fds: counters.open_fds.unwrap_or(0.0),
            self_cpu: proc_stat::self_cpu_seconds().map_err(MeasureError::ProcStat)?,
            stats: fleet
                .group_stats(mode.as_str())
                .ok_or(MeasureError::MissingGroup(mode))?,
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

/// The one job of a run: every listener of the fleet, in the run's mode.
fn bench_job(opts: &BenchOptions, ctx: &RunCtx<'_>, first: u16) -> ScrapeConfig {
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
    job
}

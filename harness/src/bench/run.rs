//! Orchestration of a local bench: one fleet and one Prometheus (or `shards` of them) per
//! combination, warm-up, one measured window (`window.rs`), the row; the bench's errors.
//! Remote mode (`remote.rs`) is dispatched from [`run`].

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use fake_exporter::pki::{ClientCert, KeyType, PkiFiles};
use fake_exporter::FaultSpec;
use fake_exporter::{Fleet, FleetGroup};

use super::hosts::{FleetHosts, HostsSpec};
use super::options::{BenchOptions, Mode};
use super::parts::{Fleets, Scraper, Scrapers};
use super::remote::{self, FleetControl, RemoteError};
use super::report::{ka_str, BenchReport, BenchRow};
use super::setup::{BenchFiles, SetupError};
use super::shards;
use super::window::{bench_row, measure_window};
use crate::fixture::{FixtureError, PrometheusFixture};
use crate::progress::Progress;
use crate::promconfig::{Authorization, BasicAuth, PromDuration, Scheme, ScrapeConfig, TlsConfig};
use crate::targets::ApiError;

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
    /// The fleet hosts could not be created.
    #[error("N={n} on {hosts} fleet host(s): {source}")]
    Hosts {
        /// Targets.
        n: u32,
        /// Hosts.
        hosts: u32,
        /// Why.
        #[source]
        source: super::hosts::HostsError,
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
    /// Remote mode could not reach or read what it was given.
    #[error(transparent)]
    Remote(#[from] RemoteError),
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
    MissingGroup(String),
    /// A remote fleet's `/stats` could not be read.
    #[error("{url}: {detail}")]
    FleetStats {
        /// The URL read.
        url: String,
        /// What went wrong.
        detail: String,
    },
    /// `/proc/self/stat` could not be read.
    #[error("reading /proc/self/stat: {0}")]
    ProcStat(#[source] std::io::Error),
}

/// Runs every combination of `opts` and returns the rows; a keep-alive-off row that did not
/// reconnect per scrape is reported with `pass: false`, not as an error. With
/// [`BenchOptions::remote`] set, measures what it names instead and starts nothing.
pub async fn run(opts: &BenchOptions) -> Result<BenchReport, BenchError> {
    check_options(opts)?;
    if let Some(remote) = &opts.remote {
        return remote::run(opts, remote).await;
    }
    // Refuse too-large fleets and Prometheus shards before anything starts (fleet hosts
    // check their own budget, per host, before they create anything).
    for &n in &opts.targets {
        if opts.hosts == 0 {
            let group = fleet_group(opts.base_port, n, Mode::Plain, true, None)?;
            Fleet::builder()
                .group(group)
                .plan()
                .map_err(|source| BenchError::Budget { n, source })?;
        } else if n % opts.hosts != 0 {
            return Err(BenchError::Options(format!(
                "--targets {n} on --hosts {}: give a multiple of the hosts (each holds N / hosts)",
                opts.hosts
            )));
        }
        shards::check_fd_budget(n, opts.shards)?;
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
    let mut report = BenchReport::empty();
    for (done, (n, mode, ka, r)) in (1u64..).zip(combos) {
        bar.set_message(format!("N={n} {mode} keep-alive {}", ka_str(ka)));
        let ctx = RunCtx {
            n,
            mode,
            keep_alive: ka,
            repeat: r,
            job: JOB,
            expected: BTreeSet::new(),
        };
        match run_one(opts, ctx, &files, &mut report).await {
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

/// Refuses options that ask for nothing or for something impossible.
fn check_options(opts: &BenchOptions) -> Result<(), BenchError> {
    if opts.remote.is_none()
        && (opts.targets.is_empty() || opts.modes.is_empty() || opts.keep_alive.is_empty())
    {
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
    if opts.shards == 0 {
        return Err(BenchError::Options(
            "shards 0: a run needs at least one Prometheus".into(),
        ));
    }
    Ok(())
}

/// What one row is about: the combination, the job measured and its targets.
pub(super) struct RunCtx<'a> {
    /// Targets.
    pub(super) n: u32,
    /// Mode.
    pub(super) mode: Mode,
    /// Keep-alive.
    pub(super) keep_alive: bool,
    /// Repeat index.
    pub(super) repeat: u32,
    /// The scrape job measured.
    pub(super) job: &'a str,
    /// Every target of the job (`host:port`), for the exactly-once check of shards.
    pub(super) expected: BTreeSet<String>,
}

pub(super) fn fleet_group(
    base: u16,
    n: u32,
    mode: Mode,
    keep_alive: bool,
    web_config: Option<&std::path::Path>,
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
    pub(super) fn measure(&self, what: &'static str) -> impl Fn(MeasureError) -> BenchError {
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

/// One local row: the fleet, the Prometheus shards scraping it, the warm-up, one measured
/// window, the row.
async fn run_one(
    opts: &BenchOptions,
    mut ctx: RunCtx<'_>,
    files: &BenchFiles,
    report: &mut BenchReport,
) -> Result<BenchRow, BenchError> {
    let (fleets, targets) = match opts.hosts {
        0 => start_fleet(opts, &ctx, files).await?,
        hosts => start_hosts(opts, &ctx, files, hosts).await?,
    };
    let job = bench_job(opts, &ctx, files.pki(), targets);
    ctx.expected = job
        .static_configs
        .iter()
        .flat_map(|s| s.targets.iter().cloned())
        .collect();
    let started = Instant::now();
    let scrapers = start_shards(opts, &ctx, files, job).await?;
    record_versions(&scrapers, &ctx, report).await?;
    scrapers
        .wait_up(ctx.job, opts.warmup_timeout)
        .await
        .map_err(|source| {
            ctx.measure("warm-up (every target scraped successfully once)")(MeasureError::Warmup(
                source,
            ))
        })?;
    let warmup = started.elapsed();
    let window = measure_window(&scrapers, &fleets, opts, &ctx).await;
    // Prometheus first, awaited: its kept-alive connections end with it, so the fleet's
    // listeners close at once and the next run can bind the same ports (dropped without
    // waiting, a slow stop on a loaded machine held them past the fleet's shutdown).
    scrapers.stop().await;
    let exporters_here = fleets.here();
    fleets.shutdown().await;
    Ok(bench_row(opts, &ctx, warmup, &window?, exporters_here))
}

/// Starts the run's fleet of `ctx.n` exporters in this process; returns it and its
/// targets.
async fn start_fleet(
    opts: &BenchOptions,
    ctx: &RunCtx<'_>,
    files: &BenchFiles,
) -> Result<(Fleets, Vec<String>), BenchError> {
    let (n, mode) = (ctx.n, ctx.mode);
    let web_config = (mode != Mode::Plain).then(|| files.web_config(mode));
    let group = fleet_group(opts.base_port, n, mode, ctx.keep_alive, web_config)?.metrics(
        fake_exporter::MetricsSpec {
            series: opts.series,
            ..fake_exporter::MetricsSpec::default()
        },
    );
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
    let targets = (0..n)
        .map(|i| format!("127.0.0.1:{}", u32::from(first) + i))
        .collect();
    let fleets = Fleets::InProcess {
        fleet,
        group: mode.as_str().to_owned(),
    };
    Ok((fleets, targets))
}

/// Starts `hosts` fleet hosts of `ctx.n / hosts` targets each, in network namespaces of
/// their own; returns them (read through their control endpoints) and their targets.
async fn start_hosts(
    opts: &BenchOptions,
    ctx: &RunCtx<'_>,
    files: &BenchFiles,
    hosts: u32,
) -> Result<(Fleets, Vec<String>), BenchError> {
    let mut spec = HostsSpec::new(hosts, ctx.n / hosts, ctx.mode);
    spec.keep_alive = ctx.keep_alive;
    spec.base_port = opts.base_port;
    spec.series = opts.series;
    let made = FleetHosts::create(&spec, files)
        .await
        .map_err(|source| BenchError::Hosts {
            n: ctx.n,
            hosts,
            source,
        })?;
    let controls = made
        .control_urls()
        .iter()
        .map(|url| FleetControl::new(url))
        .collect();
    let targets = made.targets();
    Ok((
        Fleets::Hosts {
            hosts: made,
            controls,
        },
        targets,
    ))
}

/// Starts `opts.shards` Prometheus servers, each with the whole `job` and its own
/// `hashmod` slice of it (one: the job as it is).
pub(super) async fn start_shards(
    opts: &BenchOptions,
    ctx: &RunCtx<'_>,
    files: &BenchFiles,
    job: ScrapeConfig,
) -> Result<Scrapers, BenchError> {
    let mut scrapers = Scrapers { shards: Vec::new() };
    for shard in 0..opts.shards {
        let builder = PrometheusFixture::builder()
            .prometheus(&opts.prometheus)
            .ready_timeout(Duration::from_secs(60))
            .mount(files.dir())
            .job(shards::shard_job(job.clone(), shard, opts.shards));
        match builder.start().await {
            Ok(fixture) => scrapers.shards.push(Scraper::Started(fixture)),
            Err(source) => {
                scrapers.stop().await;
                return Err(BenchError::Prometheus {
                    n: ctx.n,
                    mode: ctx.mode,
                    source,
                });
            }
        }
    }
    Ok(scrapers)
}

/// Fills the report's Prometheus version, Go version and backend on the first run.
async fn record_versions(
    scrapers: &Scrapers,
    ctx: &RunCtx<'_>,
    report: &mut BenchReport,
) -> Result<(), BenchError> {
    let Some(first) = scrapers.shards.first() else {
        return Ok(());
    };
    if !report.prometheus_version.is_empty() {
        return Ok(());
    }
    let info = first
        .api()
        .build_info()
        .await
        .map_err(|e| ctx.measure("reading the build info")(e.into()))?;
    report.prometheus_version = info.version;
    report.prometheus_go_version = info.go_version;
    report.backend = scrapers.description();
    Ok(())
}

/// The one job of a run: every listener of the fleet (`targets`), in the run's mode.
fn bench_job(
    opts: &BenchOptions,
    ctx: &RunCtx<'_>,
    pki: &PkiFiles,
    targets: Vec<String>,
) -> ScrapeConfig {
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
                ca_file: Some(pki.ca()),
                ..TlsConfig::default()
            };
            if ctx.mode == Mode::Mtls {
                tls.cert_file = Some(pki.client_cert(ClientCert::Valid));
                tls.key_file = Some(pki.client_key(ClientCert::Valid));
            }
            job.tls_config = Some(tls);
        }
    }
    job
}

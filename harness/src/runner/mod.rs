//! Runs a [`Plan`]: PKI and fake exporters for every case, ONE Prometheus with one job per
//! case, a deadline-bounded wait until every target was scraped N times (counted by
//! Prometheus itself), then verdicts from `/api/v1/targets`, the exporters' counters and
//! Prometheus' own `net_conntrack_*` metrics.

pub(crate) mod exporters;
pub(crate) mod external;
mod health;
mod recorded;
mod third_parties;

pub use external::{ExecTemplate, ExecTemplateError};
pub(crate) use health::percent as health_percent;
pub use health::RunHealth;
use recorded::ExporterCounters as Counters;
pub use recorded::{CaseObservation, ExporterCounters, PrometheusSide, RecordedRun};

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Serialize;

use fake_exporter::pki::Pki;
use fake_exporter::StatsSnapshot;

use crate::backend::{self, BackendError, PrometheusChoice};
use crate::classify::ErrorClass;
use crate::fixture::{FixtureError, PrometheusFixture, Verdict, WaitProgress};
use crate::progress::Progress;
use crate::promconfig::{self, PromConfigError, PrometheusConfig};
use crate::scenario::{Case, Expected, ExporterStart, HttpVersion, KeepAlive, Outcome, Plan};
use crate::targets::{ApiError, Health};

/// Prometheus' discovery throttle: new targets are synced at most every 5 s.
pub const DISCOVERY_DELAY: Duration = Duration::from_secs(5);
/// Time the wait allows per job beyond the scrapes, for Prometheus to create its scrape
/// pools (3,000 jobs: 30 s more).
const PER_JOB_ALLOWANCE: Duration = Duration::from_millis(10);
/// More scrapes awaited when targets timed out that should not have.
const RECHECK_SCRAPES: u32 = 2;
/// How long the last read of Prometheus' state (its own counters) may take.
const READ_DEADLINE: Duration = Duration::from_secs(30);

/// A harness failure (not a failed case).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Writing the run directory (PKI, web-configs, case files) failed.
    #[error("preparing the run: {what} {}", .path.display())]
    Setup {
        /// What was being done.
        what: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The test PKI could not be generated or written.
    #[error("preparing the run: the test PKI")]
    Pki(#[source] fake_exporter::pki::PkiError),
    /// bcrypt could not hash a scenario password.
    #[error("preparing the run: hashing the scenario passwords with bcrypt")]
    Hash(#[source] bcrypt::BcryptError),
    /// A case's web-config cannot be built.
    #[error("case `{case}`: its web-config: {source}")]
    WebConfig {
        /// The case.
        case: String,
        /// Why (boxed: the web-config error is large).
        #[source]
        source: Box<fake_exporter::WebConfigError>,
    },
    /// A fake exporter did not start.
    #[error("case `{case}`: the fake exporter did not start")]
    Exporter {
        /// The case.
        case: String,
        /// Why.
        #[source]
        source: fake_exporter::Error,
    },
    /// The generated prometheus.yml failed `promtool check config`, or could not be written.
    #[error("the generated prometheus.yml is invalid")]
    Config(#[source] PromConfigError),
    /// Prometheus did not start, or the wait for scrapes failed.
    #[error(transparent)]
    Fixture(#[from] FixtureError),
    /// The Prometheus API failed after the wait.
    #[error("reading Prometheus' state after the scrapes")]
    Api(#[source] ApiError),
    /// A third party of a case (token endpoint, forward proxy, nginx) did not start.
    #[error("case `{case}`: {party} did not start")]
    ThirdParty {
        /// The case.
        case: String,
        /// Which party.
        party: &'static str,
        /// Why.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The run failed on a machine with no CPU left: the machine, not a case, is the cause.
    #[error(
        "overload: the machine could not keep up while {during} ({seen}); to change: {advice}"
    )]
    Overloaded {
        /// What the harness was doing.
        during: &'static str,
        /// What was measured.
        seen: String,
        /// What to change.
        advice: String,
        /// The failure itself.
        #[source]
        source: Box<RunError>,
    },
}

impl From<BackendError> for RunError {
    fn from(e: BackendError) -> Self {
        Self::Fixture(FixtureError::Backend(e))
    }
}

/// How to run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Which Prometheus (backend, image, binary).
    pub prometheus: PrometheusChoice,
    /// Draw a progress bar on stderr (only when it is a terminal).
    pub progress: bool,
    /// Extra time allowed beyond the expected duration before giving up.
    pub slack: Duration,
    /// What serves each case: our fake exporter, or an exporter under test.
    pub launcher: Launcher,
    /// More directories the generated config refers to (mounted into a container).
    pub extra_mounts: Vec<PathBuf>,
    /// Write what each case's judge read ([`RecordedRun`], JSON) to this file, to replay
    /// the judges without Prometheus.
    pub record_observations: Option<PathBuf>,
}

/// What serves each case.
#[derive(Debug, Clone, Default)]
pub enum Launcher {
    /// fake-exporter, in process.
    #[default]
    Fake,
    /// An exporter under test, started per case from a command template.
    Exec(ExecTemplate),
    /// An exporter that is already running at this address (loopback only); cases must
    /// not need a restart.
    Running(std::net::SocketAddr),
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            prometheus: PrometheusChoice::default(),
            progress: false,
            slack: Duration::from_secs(30),
            launcher: Launcher::Fake,
            extra_mounts: Vec::new(),
            record_observations: None,
        }
    }
}

/// Why a case was not scraped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "reason")]
pub enum Skipped {
    /// The case does not apply to the exporter under test (detected, not assumed).
    NotApplicable(String),
    /// The exporter under test did not start.
    NotStarted(String),
}

/// What an exporter did at start with the web-config of a case that expects it to refuse
/// (`expect: { exporter: refuses_config }`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "message")]
pub enum StartObserved {
    /// It refused, with this message (fake-exporter's error, or what an exporter under test
    /// printed before it exited).
    RefusedConfig(String),
    /// It started and served.
    Started,
}

/// The verdict on one case.
#[derive(Debug, Clone, Serialize)]
pub struct CaseResult {
    /// Case name (= job name).
    pub name: String,
    /// Scenario file.
    pub file: String,
    /// The case's description.
    pub description: String,
    /// Whether every expectation held.
    pub pass: bool,
    /// The health and class(es) expected from this Prometheus' major version.
    pub expected: Expected,
    /// What Prometheus reported; `None` when the case was not scraped (see `skipped`).
    pub observed: Option<Outcome>,
    /// Why the case was not scraped.
    pub skipped: Option<Skipped>,
    /// For a case expecting the exporter to refuse its web-config at start: what the start
    /// did (such a case is never scraped).
    pub start: Option<StartObserved>,
    /// Raw `lastError` from Prometheus (for a dropped job: what it logged).
    pub last_error: String,
    /// How the scrape was refused, read from `last_error` once (the fixture's parse).
    pub mechanism: String,
    /// `last_error` without the URL and socket addresses.
    pub significant_error: String,
    /// Scrapes Prometheus made of the target (from `count_over_time(up[..])`).
    pub scrapes: u64,
    /// TLS handshakes the exporter completed (`None`: not measured, an external exporter).
    pub handshakes: Option<u64>,
    /// TLS handshakes the exporter saw fail, by reason.
    pub handshakes_failed: BTreeMap<String, u64>,
    /// Connections: accepted by our exporter, or dialled by Prometheus for an external one.
    pub connections: u64,
    /// Requests the exporter answered (scrapes for an external exporter).
    pub requests: u64,
    /// Connections Prometheus' dialer for this job established.
    pub conntrack_established: Option<u64>,
    /// HTTP version(s) of the requests.
    pub http_versions: Vec<String>,
    /// TLS version(s) negotiated.
    pub tls_versions: Vec<String>,
    /// Expected keep-alive behaviour.
    pub keep_alive: KeepAlive,
    /// Observed keep-alive behaviour, in words.
    pub keep_alive_observed: String,
    /// Every expectation that failed, one line each.
    pub failures: Vec<String>,
    /// What a reader should know even when the case passed (e.g. scrapes that timed out
    /// on a busy machine and how the verdict was reached despite them).
    pub notes: Vec<String>,
    /// Whether the failure bears the signs of an overloaded machine (timed-out scrapes,
    /// re-dialled connections): on an overloaded run such a case is not judged.
    pub load_suspect: bool,
    /// The generated scrape job (YAML), for failure reports.
    pub job_yaml: String,
    /// The generated web-config.yml of the exporter.
    pub web_config_yaml: String,
    /// Counters of the case's OAuth2 token endpoint, if it has one.
    pub token_endpoint: Option<fake_exporter::TokenStats>,
    /// Counters of the case's forward proxy, if it has one.
    pub proxy: Option<fake_exporter::ProxyStats>,
}

/// Phase timings and the speed bound of the run.
#[derive(Debug, Clone, Serialize)]
pub struct Timings {
    /// PKI, exporters and config.
    pub setup_s: f64,
    /// Prometheus start until `/-/ready`.
    pub prometheus_start_s: f64,
    /// Ready until the first scrape of any target.
    pub first_scrape_s: f64,
    /// Ready until verdicts.
    pub verdicts_s: f64,
    /// first scrape delay + (N+1) × interval + 2 s.
    pub bound_s: f64,
    /// Whether `verdicts_s` ≤ `bound_s`.
    pub within_bound: bool,
}

/// Everything a run produced.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    /// Per-case verdicts, in plan order.
    pub cases: Vec<CaseResult>,
    /// Which Prometheus ran, and how.
    pub prometheus: String,
    /// Prometheus version.
    pub prometheus_version: String,
    /// Go version Prometheus was built with.
    pub go_version: String,
    /// Scrapes required per target.
    pub scrapes_required: u32,
    /// Scrape interval.
    pub scrape_interval_s: f64,
    /// Phase timings.
    pub timings: Timings,
    /// Scrape pools Prometheus failed to create (jobs it dropped).
    pub failed_scrape_pools: f64,
    /// Whether the machine kept up (scrape durations, CPU, memory).
    pub health: RunHealth,
}

impl RunReport {
    /// Whether every case passed.
    pub fn all_passed(&self) -> bool {
        self.cases.iter().all(|c| c.pass)
    }

    /// Whether a failed case is not judged: the machine could not keep up and the failure
    /// bears its signs ([`CaseResult::load_suspect`]).
    pub fn unjudged(&self, case: &CaseResult) -> bool {
        !case.pass && case.load_suspect && self.health.overloaded()
    }

    /// Whether cases failed only in ways an overloaded machine explains: their verdicts are
    /// not trusted, and the run is a harness error (exit 2), not failed cases. A failure
    /// load cannot explain (a wrong error class, say) is still a failed case (exit 1).
    pub fn failed_from_overload(&self) -> bool {
        !self.all_passed() && self.cases.iter().all(|c| c.pass || self.unjudged(c))
    }
}

/// Runs the plan end to end: exporters, ONE Prometheus (through [`PrometheusFixture`]),
/// the wait, then a verdict per case.
pub async fn run(plan: &Plan, opts: &RunOptions) -> Result<RunReport, RunError> {
    let t0 = Instant::now();
    let run_dir = run_dir()?;
    let pki_files = Pki::generate(plan.defaults.key_type)
        .and_then(|pki| pki.write_to(&run_dir.path().join("pki")))
        .map_err(RunError::Pki)?;
    let started = exporters::start_all(
        plan,
        &pki_files,
        run_dir.path(),
        &opts.launcher,
        opts.progress,
    )
    .await?;
    // Once, when every file Prometheus reads (PKI, case files) is written.
    make_world_readable(run_dir.path());

    let mut builder = PrometheusFixture::builder()
        .prometheus(&opts.prometheus)
        .scrape_interval(plan.defaults.scrape_interval)
        .scrape_timeout(plan.defaults.scrape_timeout)
        .mount(run_dir.path());
    for dir in &opts.extra_mounts {
        builder = builder.mount(dir.clone());
    }
    for (case, s) in plan.cases.iter().zip(&started) {
        if let Some(job) = &s.job {
            builder = builder
                .job(job.clone())
                .target_context(case.name.clone(), case.context());
        }
    }
    check_config(plan, &builder.config(), run_dir.path())?;
    let setup_s = t0.elapsed().as_secs_f64();

    let t_start = Instant::now();
    let prometheus = builder.start().await?;
    let prometheus_start_s = t_start.elapsed().as_secs_f64();
    let ready_at = Instant::now();
    tracing::info!(backend = %prometheus.prometheus().description(), "Prometheus ready in {prometheus_start_s:.2}s");
    if opts.progress {
        // The CLI says which backend `auto` picked, and why.
        eprintln!(
            "scrape-harness: Prometheus ready in {prometheus_start_s:.2}s: {}",
            prometheus.prometheus().description()
        );
    }

    let need = u64::from(plan.defaults.scrapes);
    // Prometheus creates a scrape pool (an HTTP client, a TLS config) per job before the
    // first scrape: thousands of jobs take seconds more on a busy machine.
    let per_job = PER_JOB_ALLOWANCE * u32::try_from(plan.cases.len()).unwrap_or(u32::MAX);
    let deadline = DISCOVERY_DELAY
        + plan.defaults.scrape_interval * (plan.defaults.scrapes + 2)
        + opts.slack
        + per_job;
    let bar = Progress::new(
        opts.progress,
        plan.cases.len() as u64,
        "jobs scraped often enough",
    );
    let mut first_scrape_s: Option<f64> = None;
    // Keep-alive is judged in steady state: each exporter's counters are noted when its
    // target is first seen up, and only connections after that count (a warm-up reconnect,
    // e.g. after a cold bcrypt outlasted the first scrape, is not the exporter's fault).
    let stats: Vec<_> = started.iter().map(|s| s.stats.clone()).collect();
    let case_of: BTreeMap<&str, usize> = plan
        .cases
        .iter()
        .enumerate()
        .map(|(i, c)| (c.name.as_str(), i))
        .collect();
    let mut steady: Vec<Option<StatsSnapshot>> = vec![None; plan.cases.len()];
    let prometheus_pid = prometheus.prometheus().pid();
    let cpu_at_ready = health::CpuMark::now(prometheus_pid);
    let waited = prometheus
        .wait_scraped_with(need, deadline, |p: &WaitProgress<'_>| {
            if p.any_scraped && first_scrape_s.is_none() {
                first_scrape_s = Some(ready_at.elapsed().as_secs_f64());
            }
            for v in p.verdicts.iter().filter(|v| v.health == Health::Up) {
                if let Some(&i) = case_of.get(v.job.as_str()) {
                    steady[i].get_or_insert_with(|| stats[i].snapshot());
                }
            }
            bar.set_position(p.jobs_done as u64);
            bar.set_message(format!("{} of {} jobs present", p.jobs_present, p.jobs));
        })
        .await;
    bar.finish();
    // A failure on a machine with no CPU left is named as overload (exit 2 either way).
    let blame_load = |during: &'static str, e: RunError| {
        let now = health::CpuMark::now(prometheus_pid);
        match cpu_at_ready.machine_busy_since(&now) {
            Some(busy) if busy >= health::SATURATED => {
                let (h, p) = cpu_at_ready.cores_since(&now);
                let cores = crate::pacing::cores();
                let paced = crate::pacing::interval_for(plan.cases.len(), cores);
                RunError::Overloaded {
                    during,
                    seen: format!(
                        "the machine was {} busy since Prometheus was ready, the harness used {} \
                         core(s) and Prometheus {} of {cores}, {:.0} scrapes/s asked",
                        health::percent(Some(busy)),
                        h.map_or("?".into(), |c| format!("{c:.2}")),
                        p.map_or("?".into(), |c| format!("{c:.2}")),
                        crate::pacing::scrape_rate(plan.cases.len(), plan.defaults.scrape_interval),
                    ),
                    advice: format!(
                        "a scrape_interval of {} or more (paced for {} case(s) on {cores} \
                         core(s)), fewer cases per file, or a quieter machine",
                        humantime::format_duration(paced),
                        plan.cases.len()
                    ),
                    source: Box::new(e),
                }
            }
            _ => e,
        }
    };
    let mut verdicts = waited.map_err(|e| blame_load("waiting for the scrapes", e.into()))?;
    // A second look when scrapes timed out that should not have (a busy machine): a few
    // more scrapes of every target, so that a case whose last scrapes timed out is judged
    // by the ones that did not. Bounded; on its deadline the verdicts so far stand.
    let timed_out = |v: &Verdict| {
        v.class == ErrorClass::Timeout
            && case_of.get(v.job.as_str()).is_some_and(|&i| {
                !plan.cases[i]
                    .expect
                    .outcome
                    .accepts_class(ErrorClass::Timeout)
            })
    };
    let suspects = verdicts.iter().filter(|v| timed_out(v)).count();
    if suspects > 0 {
        tracing::info!("{suspects} target(s) timed out: {RECHECK_SCRAPES} more scrapes");
        let interval = plan.defaults.scrape_interval;
        let again = prometheus
            .wait_scraped(
                need + u64::from(RECHECK_SCRAPES),
                interval * (RECHECK_SCRAPES + 2) + Duration::from_secs(10),
            )
            .await;
        match again {
            Ok(v) => verdicts = v,
            Err(e) => {
                tracing::info!(error = %e, "second look: keeping the verdicts so far");
                if let Ok(v) = prometheus.verdicts().await {
                    verdicts = v;
                }
            }
        }
    }
    let verdicts_at = Instant::now();
    let cpu_at_verdicts = health::CpuMark::now(prometheus_pid);
    let (harness_cpu, prometheus_cpu) = cpu_at_ready.cores_since(&cpu_at_verdicts);
    let machine_busy = cpu_at_ready.machine_busy_since(&cpu_at_verdicts);
    // Stop scraping before reading counters, so that Prometheus' dialer counts and the
    // exporters' counters describe the same scrapes (no scrape in flight between the reads).
    prometheus
        .reload_with(|config| config.scrape_configs.clear())
        .await
        .map_err(|e| blame_load("stopping the scrapes (reload)", e.into()))?;
    tracing::debug!(
        "scrapes stopped (reload) in {:.2}s",
        verdicts_at.elapsed().as_secs_f64()
    );
    let api = prometheus.api();
    let read = |e| blame_load("reading Prometheus' state", RunError::Api(e));
    let build = api.build_info().await.map_err(read)?;
    // One fresh snapshot after the scrapes stopped: Prometheus' dialer counts describe
    // the same scrapes as the exporters' counters.
    let after = prometheus
        .observe_now(READ_DEADLINE)
        .await
        .map_err(|e| blame_load("reading Prometheus' state", e.into()))?;
    let conntrack = &after.counters.conntrack_established;
    let failed_dials = &after.counters.conntrack_failed;
    let failed_pools = after.counters.scrape_pools_failed;
    let mut failed_scrapes: BTreeMap<String, u64> = BTreeMap::new();
    for (key, n) in api.failed_scrape_counts().await.map_err(read)? {
        *failed_scrapes.entry(key.job).or_default() += n;
    }
    let prometheus_major = build.major_version();
    // Jobs expected to be slow (a delay fault, an expected timeout) are not load.
    let slow_by_design: BTreeMap<&str, bool> = plan
        .cases
        .iter()
        .map(|c| {
            let expected = c.expect.outcome_for(prometheus_major);
            (
                c.name.as_str(),
                !c.exporter.faults.is_none() || expected.accepts_class(ErrorClass::Timeout),
            )
        })
        .collect();
    let near_timeout: Vec<String> = health::near_timeout_jobs(api, plan.defaults.scrape_timeout)
        .await
        .map_err(read)?
        .into_iter()
        .filter(|job| slow_by_design.get(job.as_str()) == Some(&false))
        .collect();
    let run_health = health::judge(health::Signals {
        cores: crate::pacing::cores(),
        targets: verdicts
            .iter()
            .filter(|v| v.health != Health::Missing)
            .count(),
        interval: plan.defaults.scrape_interval,
        near_timeout,
        harness_cpu,
        prometheus_cpu,
        machine_busy,
        prometheus_pid,
    });

    let external = !matches!(opts.launcher, Launcher::Fake);
    // One target per case: its verdict, by job name.
    let verdict_of: BTreeMap<&str, &Verdict> =
        verdicts.iter().map(|v| (v.job.as_str(), v)).collect();
    let mut recorded = RecordedRun {
        prometheus_version: build.version.clone(),
        prometheus_major,
        external,
        scrape_pools_failed: failed_pools,
        cases: BTreeMap::new(),
    };
    let mut cases = Vec::with_capacity(plan.cases.len());
    for (i, (case, s)) in plan.cases.iter().zip(&started).enumerate() {
        let mut result = CaseResult::new(case, prometheus_major, s);
        // A case about the exporter's start was judged when it started (or did not).
        if result.skipped.is_none() && !case.expect.refuses_config_at_start() {
            let observation = CaseObservation {
                verdict: verdict_of.get(case.name.as_str()).map(|v| (*v).clone()),
                exporter: Counters {
                    last: s.stats.snapshot(),
                    steady: steady[i].take(),
                },
                prometheus: PrometheusSide {
                    dialed: conntrack.get(&case.name).map(|v| *v as u64),
                    failed_dials: failed_dials.get(&case.name).map_or(0, |v| *v as u64),
                    failed_scrapes: failed_scrapes.get(&case.name).copied().unwrap_or(0),
                },
            };
            judge_observed(&mut result, case, &observation, external, failed_pools);
            let third = third_parties::observe(&s.third);
            result.token_endpoint = third.token_endpoint;
            result.proxy = third.proxy;
            result
                .failures
                .extend(third_parties::failures(case, &third));
            recorded.cases.insert(case.name.clone(), observation);
            result.pass = result.failures.is_empty();
        }
        cases.push(result);
    }
    if let Some(path) = &opts.record_observations {
        recorded.write(path)?;
    }
    let verdicts_s = verdicts_at.duration_since(ready_at).as_secs_f64();
    let interval = plan.defaults.scrape_interval.as_secs_f64();
    let first_scrape_s = first_scrape_s.unwrap_or(0.0);
    let bound_s = first_scrape_s + f64::from(plan.defaults.scrapes + 1) * interval + 2.0;
    let report = RunReport {
        cases,
        prometheus: prometheus.prometheus().description(),
        prometheus_version: build.version,
        go_version: build.go_version,
        scrapes_required: plan.defaults.scrapes,
        scrape_interval_s: interval,
        timings: Timings {
            setup_s,
            prometheus_start_s,
            first_scrape_s,
            verdicts_s,
            bound_s,
            within_bound: verdicts_s <= bound_s,
        },
        failed_scrape_pools: failed_pools,
        health: run_health,
    };
    tracing::debug!(
        "verdicts judged {:.2}s after the scrapes were counted",
        verdicts_at.elapsed().as_secs_f64()
    );
    let t_stop = Instant::now();
    if backend::keep_requested() {
        // Dropping honours HARNESS_KEEP: it prints what was kept and how to remove it.
        drop(prometheus);
    } else if let Err(e) = prometheus.stop().await {
        tracing::warn!(error = %e, "stopping Prometheus");
    }
    tracing::debug!(
        "Prometheus stopped in {:.2}s",
        t_stop.elapsed().as_secs_f64()
    );
    let t_stop = Instant::now();
    for s in started {
        if let Some(e) = s.exporter {
            let _ = e.shutdown().await;
        }
        if let Some(e) = s.external {
            e.stop().await;
        }
    }
    tracing::debug!(
        "exporters stopped in {:.2}s",
        t_stop.elapsed().as_secs_f64()
    );
    let t_stop = Instant::now();
    drop(run_dir);
    tracing::debug!("run dir removed in {:.2}s", t_stop.elapsed().as_secs_f64());
    Ok(report)
}

/// The run's private directory (PKI keys, web-configs, case files), removed on drop unless
/// `HARNESS_KEEP=1`. Its `owner.pid` lets the leftover sweep (`backend::sweep_leftovers`)
/// remove it when this harness dies without unwinding (SIGKILL).
fn run_dir() -> Result<crate::supervise::RunDir, RunError> {
    crate::supervise::RunDir::create("run").map_err(|e| {
        let (what, path, source) = e.into_parts();
        RunError::Setup { what, path, source }
    })
}

/// Container users must read the PKI and case files: make the run dir world-readable
/// (keys included: the directory is private to this run and removed afterwards).
pub(crate) fn make_world_readable(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    fn walk(p: &Path) {
        let Ok(md) = std::fs::metadata(p) else { return };
        let mode = if md.is_dir() { 0o755 } else { 0o644 };
        let _ = std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode));
        if md.is_dir() {
            if let Ok(rd) = std::fs::read_dir(p) {
                for e in rd.flatten() {
                    walk(&e.path());
                }
            }
        }
    }
    walk(dir);
}

/// `promtool check config` on the config minus the jobs that are meant to be dropped
/// (promtool rejects some of those, Prometheus itself only drops them).
fn check_config(plan: &Plan, config: &PrometheusConfig, dir: &Path) -> Result<(), RunError> {
    let mut checked = config.clone();
    checked.scrape_configs.retain(|job| {
        plan.cases
            .iter()
            .find(|c| c.name == job.job_name)
            .is_none_or(|c| c.expect.outcome.health != Health::Missing)
    });
    let path = dir.join("prometheus.check.yml");
    promconfig::write(&checked, &path).map_err(RunError::Config)?;
    promconfig::promtool_check(&path)
        .map(drop)
        .map_err(RunError::Config)
}

/// What is wrong with an exporter's start, judged against `expect.exporter`.
fn start_failures(expected: &ExporterStart, observed: Option<&StartObserved>) -> Vec<String> {
    let ExporterStart::RefusesConfig { message_contains } = expected else {
        return Vec::new();
    };
    match observed {
        Some(StartObserved::RefusedConfig(message)) => match message_contains {
            Some(want) if !message.contains(want.as_str()) => vec![format!(
                "the exporter refused its web-config, but its message does not contain {want:?}: {message}"
            )],
            _ => Vec::new(),
        },
        Some(StartObserved::Started) => vec![
            "expected the exporter to refuse its web-config at start, but it started and served"
                .into(),
        ],
        None => vec!["the exporter's start was not observed".into()],
    }
}

impl CaseResult {
    /// A result with the case's expectation filled in and nothing observed yet.
    fn new(case: &Case, prometheus_major: u32, started: &exporters::StartedCase) -> Self {
        let skipped = match (&started.not_applicable, &started.start_failure) {
            (Some(why), _) => Some(Skipped::NotApplicable(why.clone())),
            (None, Some(why)) => Some(Skipped::NotStarted(why.clone())),
            (None, None) => None,
        };
        let mut failures: Vec<String> = match &skipped {
            Some(Skipped::NotStarted(why)) => vec![why.clone()],
            _ => Vec::new(),
        };
        if skipped.is_none() {
            failures.extend(start_failures(
                &case.expect.exporter,
                started.start.as_ref(),
            ));
        }
        Self {
            name: case.name.clone(),
            file: case.file.clone(),
            description: case.description.clone(),
            pass: failures.is_empty(),
            expected: case.expect.outcome_for(prometheus_major).clone(),
            observed: None,
            skipped,
            start: started.start.clone(),
            last_error: String::new(),
            mechanism: String::new(),
            significant_error: String::new(),
            scrapes: 0,
            handshakes: None,
            handshakes_failed: BTreeMap::new(),
            connections: 0,
            requests: 0,
            conntrack_established: None,
            http_versions: Vec::new(),
            tls_versions: Vec::new(),
            keep_alive: case.expect.keep_alive,
            keep_alive_observed: String::new(),
            failures,
            notes: Vec::new(),
            load_suspect: false,
            job_yaml: started.job_yaml.clone(),
            web_config_yaml: started.web_config_yaml.clone(),
            token_endpoint: None,
            proxy: None,
        }
    }
}

/// Judges one scrape case on what was observed of it (a pure function of the case and the
/// observation; `scrape_pools_failed` is Prometheus' count of jobs it dropped).
pub(crate) fn judge_observed(
    result: &mut CaseResult,
    case: &Case,
    observed: &CaseObservation,
    external: bool,
    scrape_pools_failed: f64,
) {
    let verdict = observed.verdict.as_ref();
    judge(
        result,
        case,
        verdict,
        &observed.exporter,
        external,
        &observed.prometheus,
    );
    if let Some(v) = verdict.filter(|v| v.health == Health::Missing) {
        // Prometheus says why it dropped a job only in its log and in
        // prometheus_target_scrape_pools_failed_total.
        let why = if v.last_error.is_empty() {
            String::new()
        } else {
            format!("; Prometheus logged: {}", v.last_error)
        };
        result.last_error = format!(
            "job not in /api/v1/targets; prometheus_target_scrape_pools_failed_total = \
             {scrape_pools_failed}{why}"
        );
        if scrape_pools_failed < 1.0 {
            result.failures.push(
                "job missing but prometheus_target_scrape_pools_failed_total is 0: it was \
                 not dropped by Prometheus"
                    .into(),
            );
        }
    }
    result.pass = result.failures.is_empty();
}

/// Compares what Prometheus and the exporter's counters say with what the case expects.
fn judge(
    result: &mut CaseResult,
    case: &Case,
    verdict: Option<&Verdict>,
    counters: &Counters,
    external: bool,
    prometheus: &PrometheusSide,
) {
    let conntrack = prometheus.dialed;
    let stats = &counters.last;
    let observed = verdict.map_or(
        Outcome {
            health: Health::Missing,
            class: ErrorClass::JobMissing,
        },
        |v| Outcome {
            health: v.health,
            class: v.class,
        },
    );
    let expected = &result.expected;
    let steady = verdict.map_or(&[][..], |v| v.steady_state.as_slice());
    let total_seen: u64 = steady.iter().map(|s| s.scrapes).sum();
    let count = |keep: &dyn Fn(&Outcome) -> bool| -> u64 {
        steady
            .iter()
            .filter(|s| {
                keep(&Outcome {
                    health: s.health,
                    class: s.class,
                })
            })
            .map(|s| s.scrapes)
            .sum()
    };
    let timeouts = count(&|o| o.class == ErrorClass::Timeout);
    let expected_seen = count(&|o| expected.accepts(o));
    // The first scrape seen, when it had the expected outcome: the only evidence left when
    // every later scrape timed out.
    let first_expected = verdict
        .and_then(|v| v.first_seen)
        .map(|f| Outcome {
            health: f.health,
            class: f.class,
        })
        .filter(|o| expected.accepts(o));
    let timeout_expected = expected.accepts_class(ErrorClass::Timeout);
    let mut notes = Vec::new();
    if !timeout_expected && timeouts > 0 {
        let why = if external {
            "a slow exporter or a busy machine"
        } else {
            "a busy machine: this fake exporter has no delay"
        };
        notes.push(format!(
            "{timeouts} of {total_seen} scrapes seen after the first timed out ({why}), \
             {expected_seen} had the expected outcome"
        ));
    }
    // A scrape that timed out on a busy machine is not the case's outcome: when the last
    // scrape timed out, the expected outcome was seen in steady state and every other
    // scrape seen timed out too, the verdict is the expected outcome seen, with a note.
    let judged = if !expected.accepts(&observed)
        && observed.class == ErrorClass::Timeout
        && !timeout_expected
        && (expected_seen > 0 || first_expected.is_some())
        && expected_seen + timeouts == total_seen
    {
        let by = expected_seen + u64::from(first_expected.is_some() && expected_seen == 0);
        notes.push(format!(
            "the last scrape timed out; judged by the {by} scrape(s) that did not"
        ));
        steady
            .iter()
            .map(|s| Outcome {
                health: s.health,
                class: s.class,
            })
            .find(|o| expected.accepts(o))
            .or(first_expected)
            .unwrap_or(observed)
    } else {
        observed
    };
    let observed = judged;
    let mut failures = Vec::new();
    if observed.health != expected.health {
        failures.push(format!(
            "health: expected {}, observed {}",
            expected.health, observed.health
        ));
    }
    if !expected.accepts_class(observed.class) {
        let classes: Vec<String> = expected.classes.iter().map(ToString::to_string).collect();
        failures.push(format!(
            "error class: expected {}, observed {}",
            classes.join(" or "),
            observed.class
        ));
    }
    let last_error = verdict.map(|v| v.last_error.clone()).unwrap_or_default();
    if let Some(sub) = &case.expect.last_error_contains {
        if !last_error.contains(sub.as_str()) {
            failures.push(format!(
                "lastError: expected to contain {sub:?}, observed {last_error:?}"
            ));
        }
    }
    let scrapes = verdict.map_or(0, |v| v.scrapes);
    // An exporter under test has no counters of ours: Prometheus' dialer count stands in
    // for its connections, and its scrape count for requests; handshakes are not measured.
    let (handshakes, connections, requests) = if external {
        (None, conntrack.unwrap_or(0), scrapes)
    } else {
        (
            Some(stats.handshakes_ok),
            stats.connections_accepted,
            stats.requests_total(),
        )
    };
    // Connections and handshakes after the target was first seen up (steady state).
    let since_up = counters.steady.as_ref().filter(|_| !external).map(|s| {
        (
            stats.connections_accepted - s.connections_accepted,
            stats.handshakes_ok - s.handshakes_ok,
        )
    });
    let mut keep_alive_observed = match handshakes {
        Some(h) => {
            format!("{connections} connection(s), {h} handshake(s) for {requests} request(s)")
        }
        None => format!("{connections} connection(s) dialled for {requests} scrape(s)"),
    };
    if let Some((c, h)) = since_up {
        let _ = write!(
            keep_alive_observed,
            "; {c} connection(s), {h} handshake(s) after the first successful scrape"
        );
    }
    let tls = case.exporter.tls.is_some();
    match case.expect.keep_alive {
        KeepAlive::One => {
            let steady_ok = match since_up {
                Some((c, h)) => c == 0 && (!tls || h == 0),
                // External exporters have no counters of ours: Prometheus' dialer count,
                // where every reconnect must follow a failed scrape (a cold bcrypt that
                // outlasted the timeout, say); scrapes that all succeeded share one
                // connection.
                None => connections <= 1 + prometheus.failed_scrapes,
            };
            if since_up.is_none() && connections > 1 && steady_ok {
                notes.push(format!(
                    "{} reconnect(s), each after a failed scrape ({} failed in all): not held \
                     against keep-alive",
                    connections - 1,
                    prometheus.failed_scrapes
                ));
            }
            // Prometheus drops the connection of a scrape that failed. Polls may miss a
            // timed-out scrape, Prometheus' count of failed scrapes does not: reconnects no
            // more than the failed scrapes of a fake exporter (which fails none by itself
            // when expected up) are the machine's.
            let failed = prometheus.failed_scrapes;
            let after_failed = since_up.is_some_and(|(c, _)| c > 0 && c <= failed);
            let reconnected_after_timeouts = !steady_ok && (timeouts > 0 || after_failed);
            if reconnected_after_timeouts {
                notes.push(format!(
                    "reconnects after the first successful scrape followed failed scrapes \
                     ({timeouts} seen timing out, {failed} failed in Prometheus' count; \
                     Prometheus drops a connection whose scrape timed out); not held against \
                     keep-alive"
                ));
            }
            if connections == 0
                || (!steady_ok && !reconnected_after_timeouts)
                || requests < scrapes.min(2)
            {
                failures.push(format!(
                    "keep-alive: expected one connection for all scrapes once up, observed {keep_alive_observed}"
                ));
            }
        }
        KeepAlive::PerScrape => {
            // Counters are read a moment after the scrape count: allow the scrape in flight.
            if requests < 2 || connections + 1 < requests {
                failures.push(format!(
                    "keep-alive: expected a new connection per scrape, observed {keep_alive_observed}"
                ));
            }
        }
        KeepAlive::Any => {}
    }
    // Cross-check the exporter's count with Prometheus' own dialer count for the job.
    let scraped = verdict.is_some_and(|v| v.health != Health::Missing);
    // A proxy in between: Prometheus' dialer counts connections to the proxy.
    let direct = !case.exporter.absent && !external && !case.third_parties.intermediary();
    if let (Some(dialed), true) = (conntrack, scraped && direct) {
        // Scraping stopped (reload) before both were read, so both describe the same
        // scrapes. A connection more on the exporter's side is a dial Go gave up on after
        // the kernel completed the TCP handshake (a dial the reload cancelled, one that
        // outlasted a scrape timeout on a busy machine): Go counts those as failed dials.
        let cancelled = prometheus.failed_dials.max(1);
        if connections < dialed || connections > dialed + cancelled {
            failures.push(format!(
                "keep-alive accounting: Prometheus dialed {dialed} connection(s) for the job \
                 ({} failed dial(s)), the exporter accepted {connections}",
                prometheus.failed_dials
            ));
        } else if connections > dialed + 1 {
            notes.push(format!(
                "the exporter accepted {} connection(s) Prometheus counted as failed dials \
                 (given up on after the TCP handshake: a busy machine)",
                connections - dialed
            ));
        }
    }
    let mut http_versions: Vec<String> = stats
        .requests
        .iter()
        .map(|r| r.http_version.clone())
        .collect();
    http_versions.sort();
    http_versions.dedup();
    if let (Some(want), false) = (case.expect.http_version, external) {
        let want: HttpVersion = want;
        if http_versions.is_empty() || http_versions.iter().any(|v| v != want.as_str()) {
            failures.push(format!(
                "HTTP version: expected every scrape over {want}, observed {}",
                if http_versions.is_empty() {
                    "no requests".to_owned()
                } else {
                    http_versions.join(", ")
                }
            ));
        }
    }
    let mut tls_versions: Vec<String> = stats
        .tls_sessions
        .iter()
        .map(|s| s.info.version.clone())
        .collect();
    tls_versions.sort();
    tls_versions.dedup();
    // What a machine that cannot keep up does to a case: scrapes time out, connections are
    // dropped and re-dialled. A failure with one of these signs is not trusted on an
    // overloaded machine; any other (a wrong class, a wrong HTTP version) always counts.
    result.load_suspect = !failures.is_empty()
        && (observed.class == ErrorClass::Timeout
            || timeouts > 0
            || failures.iter().all(|f| f.starts_with("keep-alive")));
    result.failures.extend(failures);
    result.notes.extend(notes);
    result.observed = Some(observed);
    result.last_error = last_error;
    if let Some(v) = verdict {
        result.mechanism = v.mechanism.clone();
        result.significant_error = v.significant_error.clone();
    }
    result.scrapes = scrapes;
    result.handshakes = handshakes;
    result.handshakes_failed = stats.handshakes_failed.clone();
    result.connections = connections;
    result.requests = requests;
    result.conntrack_established = conntrack;
    result.http_versions = http_versions;
    result.tls_versions = tls_versions;
    result.keep_alive_observed = keep_alive_observed;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture::SeenOutcome;
    use crate::scenario::{Expectation, ExporterTls};

    fn seen(health: Health, class: ErrorClass, scrapes: u64) -> SeenOutcome {
        SeenOutcome {
            health,
            class,
            scrapes,
        }
    }

    fn verdict(health: Health, class: ErrorClass, steady_state: Vec<SeenOutcome>) -> Verdict {
        Verdict {
            job: "c".into(),
            instance: "127.0.0.1:1".into(),
            health,
            last_error: String::new(),
            class,
            scrapes: 10,
            steady_state,
            first_seen: None,
            ..Verdict::default()
        }
    }

    fn counters(connections: u64, steady_connections: u64) -> Counters {
        let snapshot = |c| StatsSnapshot {
            connections_accepted: c,
            ..StatsSnapshot::default()
        };
        let mut last = snapshot(connections);
        last.requests = vec![fake_exporter::RequestCount {
            status: 200,
            auth: fake_exporter::AuthOutcome::NotRequired,
            http_version: "HTTP/1.1".into(),
            count: 10,
        }];
        Counters {
            last,
            steady: Some(snapshot(steady_connections)),
        }
    }

    #[test]
    fn a_refused_config_is_judged_by_the_start_and_its_message() {
        let expecting = |message_contains: Option<&str>| {
            Case::new(
                "r",
                "t.yaml",
                Expectation::refuses_config(message_contains.map(str::to_owned)),
            )
        };
        let result = |case: &Case, start: Option<StartObserved>| {
            let mut started = exporters::StartedCase::for_test();
            started.start = start;
            CaseResult::new(case, 2, &started)
        };
        let refused = || {
            Some(StartObserved::RefusedConfig(
                "web.yml: no Client Auth Policy".into(),
            ))
        };
        // Refused: passes, with or without a matching substring.
        assert!(result(&expecting(None), refused()).pass);
        assert!(result(&expecting(Some("Client Auth")), refused()).pass);
        // Refused with another message, or started: fails and says why.
        let other = result(&expecting(Some("certificate")), refused());
        assert!(!other.pass);
        assert!(
            other.failures[0].contains("does not contain \"certificate\""),
            "{:?}",
            other.failures
        );
        let served = result(&expecting(None), Some(StartObserved::Started));
        assert!(!served.pass);
        assert!(
            served.failures[0].contains("but it started"),
            "{:?}",
            served.failures
        );
        // A case expecting a scrape is not judged by its start.
        let normal = Case::new("n", "t.yaml", Expectation::up());
        assert!(result(&normal, None).failures.is_empty());
    }

    fn judged(case: &Case, verdict: &Verdict, counters: &Counters) -> CaseResult {
        let started = exporters::StartedCase::for_test();
        let mut result = CaseResult::new(case, 2, &started);
        let prometheus = PrometheusSide {
            dialed: Some(counters.last.connections_accepted),
            failed_dials: 0,
            failed_scrapes: 0,
        };
        judge(
            &mut result,
            case,
            Some(verdict),
            counters,
            false,
            &prometheus,
        );
        result.pass = result.failures.is_empty();
        result
    }

    fn judged_external(case: &Case, verdict: &Verdict, dialed: u64, failed: u64) -> CaseResult {
        let started = exporters::StartedCase::for_test();
        let mut result = CaseResult::new(case, 2, &started);
        let counters = Counters {
            last: StatsSnapshot::default(),
            steady: None,
        };
        let prometheus = PrometheusSide {
            dialed: Some(dialed),
            failed_dials: 0,
            failed_scrapes: failed,
        };
        judge(
            &mut result,
            case,
            Some(verdict),
            &counters,
            true,
            &prometheus,
        );
        result.pass = result.failures.is_empty();
        result
    }

    #[test]
    fn an_external_exporters_reconnects_must_each_follow_a_failed_scrape() {
        let case = Case::new("c", "t.yaml", Expectation::up());
        let up = verdict(
            Health::Up,
            ErrorClass::None,
            vec![seen(Health::Up, ErrorClass::None, 9)],
        );
        // Two cold-bcrypt timeouts at the start, each followed by a new connection.
        let warm_up = judged_external(&case, &up, 3, 2);
        assert!(warm_up.pass, "{:?}", warm_up.failures);
        assert!(
            warm_up.notes[0].contains("2 reconnect(s)"),
            "{:?}",
            warm_up.notes
        );
        // Three connections with every scrape successful: the exporter closes them.
        let closes = judged_external(&case, &up, 3, 0);
        assert!(!closes.pass);
        assert!(
            closes.failures[0].starts_with("keep-alive:"),
            "{:?}",
            closes.failures
        );
    }

    #[test]
    fn a_last_scrape_that_timed_out_is_forgiven_only_when_the_rest_was_as_expected() {
        let case = Case::new("c", "t.yaml", Expectation::down(ErrorClass::Unauthorized));
        let (h, c) = (Health::Down, ErrorClass::Timeout);
        // Arrange: 7 scrapes as expected, 1 timed out, and the last one is that timeout.
        let flaky = verdict(
            h,
            c,
            vec![
                seen(Health::Down, ErrorClass::Unauthorized, 7),
                seen(Health::Down, ErrorClass::Timeout, 1),
            ],
        );
        // Act / Assert
        let result = judged(&case, &flaky, &counters(1, 1));
        assert!(result.pass, "{:?}", result.failures);
        assert_eq!(
            result.observed.map(|o| o.class),
            Some(ErrorClass::Unauthorized)
        );
        assert_eq!(result.notes.len(), 2, "{:?}", result.notes);

        // Only timeouts: nothing shows the expected outcome.
        let only_timeouts = verdict(h, c, vec![seen(Health::Down, ErrorClass::Timeout, 8)]);
        let result = judged(&case, &only_timeouts, &counters(1, 1));
        assert!(!result.pass);
        assert_eq!(result.observed.map(|o| o.class), Some(ErrorClass::Timeout));
        // ... unless the first scrape seen had it, and only timeouts followed.
        let mut first_then_timeouts = only_timeouts.clone();
        first_then_timeouts.first_seen = Some(seen(Health::Down, ErrorClass::Unauthorized, 1));
        let result = judged(&case, &first_then_timeouts, &counters(1, 1));
        assert!(result.pass, "{:?}", result.failures);
        // A first scrape with another outcome is no evidence.
        first_then_timeouts.first_seen = Some(seen(Health::Up, ErrorClass::None, 1));
        assert!(!judged(&case, &first_then_timeouts, &counters(1, 1)).pass);

        // Another outcome besides the timeouts: not load, a real difference.
        let mixed = verdict(
            h,
            c,
            vec![
                seen(Health::Down, ErrorClass::Unauthorized, 4),
                seen(Health::Up, ErrorClass::None, 2),
                seen(Health::Down, ErrorClass::Timeout, 1),
            ],
        );
        assert!(!judged(&case, &mixed, &counters(1, 1)).pass);
    }

    #[test]
    fn reconnects_after_scrapes_prometheus_counted_as_failed_are_not_blamed() {
        let mut case = Case::new("c", "t.yaml", Expectation::up());
        case.exporter.tls = None::<ExporterTls>;
        let up = verdict(
            Health::Up,
            ErrorClass::None,
            vec![seen(Health::Up, ErrorClass::None, 9)],
        );
        let counters = counters(3, 1);
        let judge_with = |failed_scrapes, failed_dials| {
            let started = exporters::StartedCase::for_test();
            let mut result = CaseResult::new(&case, 2, &started);
            let prometheus = PrometheusSide {
                dialed: Some(3),
                failed_dials,
                failed_scrapes,
            };
            judge(&mut result, &case, Some(&up), &counters, false, &prometheus);
            result
        };
        // Two reconnects after two failed scrapes the polls did not see: the machine's.
        let result = judge_with(2, 0);
        assert!(result.failures.is_empty(), "{:?}", result.failures);
        assert!(result
            .notes
            .iter()
            .any(|n| n.contains("2 failed in Prometheus' count")));
        // The same reconnects with every scrape successful: the exporter's.
        assert!(!judge_with(0, 0).failures.is_empty());
    }

    fn report_of(cases: Vec<CaseResult>, overloaded: bool) -> RunReport {
        let near = if overloaded { 50 } else { 0 };
        RunReport {
            cases,
            prometheus: String::new(),
            prometheus_version: "2.42.0".into(),
            go_version: "go1.19.8".into(),
            scrapes_required: 3,
            scrape_interval_s: 0.2,
            timings: Timings {
                setup_s: 0.0,
                prometheus_start_s: 0.0,
                first_scrape_s: 0.0,
                verdicts_s: 0.0,
                bound_s: 0.0,
                within_bound: true,
            },
            failed_scrape_pools: 0.0,
            health: health::judge(health::Signals {
                cores: 2,
                targets: 100,
                interval: Duration::from_millis(200),
                near_timeout: (0..near).map(|i| format!("job{i}")).collect(),
                harness_cpu: None,
                prometheus_cpu: None,
                machine_busy: None,
                prometheus_pid: None,
            }),
        }
    }

    #[test]
    fn an_overloaded_run_judges_only_the_failures_load_does_not_explain() {
        let case = Case::new("c", "t.yaml", Expectation::down(ErrorClass::Unauthorized));
        let timed_out = judged(
            &case,
            &verdict(
                Health::Down,
                ErrorClass::Timeout,
                vec![seen(Health::Down, ErrorClass::Timeout, 3)],
            ),
            &counters(1, 1),
        );
        let wrong_class = judged(
            &case,
            &verdict(
                Health::Down,
                ErrorClass::Forbidden,
                vec![seen(Health::Down, ErrorClass::Forbidden, 3)],
            ),
            &counters(1, 1),
        );
        // Overloaded, only timeouts: not judged, a harness error (exit 2), no case blamed.
        let report = report_of(vec![timed_out.clone()], true);
        assert!(report.failed_from_overload() && report.unjudged(&report.cases[0]));
        let table = crate::report::table(&report);
        assert!(
            table.contains("0 passed, 0 failed, 1 not judged"),
            "{table}"
        );
        assert!(!table.contains("FAIL"), "{table}");
        // Overloaded, and a wrong class too: that one fails the run (exit 1).
        let report = report_of(vec![timed_out.clone(), wrong_class], true);
        assert!(!report.failed_from_overload());
        assert!(!report.unjudged(&report.cases[1]));
        // A machine that kept up: a timeout is the case's failure.
        let report = report_of(vec![timed_out], false);
        assert!(!report.failed_from_overload() && !report.unjudged(&report.cases[0]));
    }

    #[test]
    fn only_failures_with_the_signs_of_load_are_load_suspects() {
        let case = Case::new("c", "t.yaml", Expectation::down(ErrorClass::Unauthorized));
        // A wrong class with no timeout anywhere: the case's own failure.
        let wrong = verdict(
            Health::Down,
            ErrorClass::ClientCertRejected,
            vec![seen(Health::Down, ErrorClass::ClientCertRejected, 8)],
        );
        let result = judged(&case, &wrong, &counters(1, 1));
        assert!(!result.pass && !result.load_suspect, "{result:?}");
        // Nothing but timeouts: what an overloaded machine does.
        let slow = verdict(
            Health::Down,
            ErrorClass::Timeout,
            vec![seen(Health::Down, ErrorClass::Timeout, 8)],
        );
        let result = judged(&case, &slow, &counters(1, 1));
        assert!(!result.pass && result.load_suspect, "{result:?}");
        // A pass is never a suspect.
        let right = verdict(
            Health::Down,
            ErrorClass::Unauthorized,
            vec![seen(Health::Down, ErrorClass::Unauthorized, 8)],
        );
        assert!(!judged(&case, &right, &counters(1, 1)).load_suspect);
    }

    #[test]
    fn keep_alive_is_judged_after_the_first_successful_scrape() {
        let mut case = Case::new("c", "t.yaml", Expectation::up());
        case.exporter.tls = None::<ExporterTls>;
        let up = verdict(
            Health::Up,
            ErrorClass::None,
            vec![seen(Health::Up, ErrorClass::None, 9)],
        );
        // A warm-up reconnect (2 connections, none after the first success) passes.
        let result = judged(&case, &up, &counters(2, 2));
        assert!(result.pass, "{:?}", result.failures);
        // A reconnect in steady state with no timed-out scrape is the exporter's.
        let result = judged(&case, &up, &counters(2, 1));
        assert!(!result.pass);
        assert!(
            result.failures[0].starts_with("keep-alive:"),
            "{:?}",
            result.failures
        );
        // The same reconnect after a timed-out scrape is explained, not blamed.
        let after_timeout = verdict(
            Health::Up,
            ErrorClass::None,
            vec![
                seen(Health::Up, ErrorClass::None, 8),
                seen(Health::Down, ErrorClass::Timeout, 1),
            ],
        );
        let result = judged(&case, &after_timeout, &counters(2, 1));
        assert!(result.pass, "{:?}", result.failures);
        assert!(
            result
                .notes
                .iter()
                .any(|n| n.contains("not held against keep-alive")),
            "{:?}",
            result.notes
        );
    }
}

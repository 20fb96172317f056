//! Runs a [`Plan`]: PKI and fake exporters for every case, ONE Prometheus with one job per
//! case, a deadline-bounded wait until every target was scraped N times (counted by
//! Prometheus itself), then verdicts from `/api/v1/targets`, the exporters' counters and
//! Prometheus' own `net_conntrack_*` metrics.

pub(crate) mod exporters;
pub(crate) mod external;
mod health;
mod recorded;
mod third_parties;

pub use external::{ExecTemplate, ExecTemplateError, HttpVersionUnobserved};
pub(crate) use health::percent as health_percent;
pub use health::RunHealth;
use recorded::ExporterCounters as Counters;

pub use recorded::{CaseObservation, ExporterCounters, NotScraped, PrometheusSide, RecordedRun};

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Serialize;

use fake_exporter::pki::{Pki, PkiFiles};
use fake_exporter::StatsSnapshot;

use crate::backend::{self, BackendError, PrometheusChoice};
use crate::classify::ErrorClass;
use crate::fixture::{
    FixtureBuilder, FixtureError, Jobs, PrometheusFixture, SeenOutcome, TargetObservation, Until,
    WaitProgress,
};
use crate::progress::Progress;
use crate::promconfig::{self, PromConfigError, PrometheusConfig};
use crate::receivers::{ReceiverRunError, ReceiverSet};
use crate::rotation::RotationSet;
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
    /// The generated prometheus.yml failed `promtool check config`, could not be written,
    /// or there is no promtool to check it.
    #[error("checking the generated prometheus.yml")]
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
    /// The plan's receivers could not be started or read.
    #[error(transparent)]
    Receivers(Box<crate::receivers::ReceiverRunError>),
    /// The plan's rotation cases could not be started or read.
    #[error(transparent)]
    Rotation(Box<crate::rotation::RotationError>),
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
    /// Explain the live Prometheus ([`crate::explain::explain`]) after the verdicts and
    /// before it stops: [`RunReport::explained`].
    pub explain_live: Option<crate::explain::ExplainOptions>,
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
            explain_live: None,
        }
    }
}

/// Why a case was not scraped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "reason")]
pub enum Skipped {
    /// The case does not apply to the exporter under test (detected, not assumed).
    NotApplicable(String),
    /// The exporter under test did not start.
    NotStarted(String),
}

/// What an exporter did at start with the web-config of a case that expects it to refuse
/// (`expect: { exporter: refuses_config }`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
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
    /// Whether the failure bears only the signs of an overloaded machine (every scrape
    /// timed out, or only keep-alive failed; never a wrong class, never an exporter slow by
    /// design): on a run whose CPU was measured saturated such a case is not judged.
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
    /// What `promtool check config` checked, and which jobs it left out on purpose.
    pub config_check: ConfigCheck,
    /// How many cases passed, failed and were not judged.
    pub summary: Summary,
    /// The receiver cases' verdicts, when the plan has receiver cases.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub receivers: Option<crate::receivers::ReceiverRun>,
    /// The rotation cases' verdicts, when the plan has rotation cases.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rotation: Option<crate::rotation::RotationReport>,
    /// `explain` of the live Prometheus with every job of the run, when
    /// [`RunOptions::explain_live`] asked for it and it could be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub explained: Option<crate::explain::Explanation>,
}

/// What `promtool check config` was run on. A missing promtool fails the run
/// ([`PromConfigError::PromtoolMissing`]); the only jobs left out are those of cases that
/// expect Prometheus to drop the job (promtool rejects some of those, Prometheus itself
/// only drops them), and each such case carries [`ConfigCheck::UNCHECKED_NOTE`].
#[derive(Debug, Clone, Default, Serialize)]
pub struct ConfigCheck {
    /// promtool's output on the generated configuration minus those jobs.
    pub promtool_output: String,
    /// Jobs left out of the check (cases that expect `health: missing`).
    pub unchecked_jobs: Vec<String>,
}

impl ConfigCheck {
    /// The note of a case whose job was left out of the check.
    pub const UNCHECKED_NOTE: &'static str = "promtool check config was not run on this job: \
        the case expects Prometheus to drop it (promtool rejects such jobs; Prometheus only \
        drops them)";
}

/// Counts of a run's verdicts, as the table's last line says them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Cases in the plan.
    pub cases: usize,
    /// Cases that passed (not-applicable ones included).
    pub passed: usize,
    /// Cases that failed and were judged.
    pub failed: usize,
    /// Failed cases not judged: the machine was measured saturated and the failure bears
    /// only the signs of load ([`RunReport::unjudged`]).
    pub unjudged: usize,
    /// Cases not scraped because they do not apply to the exporter under test.
    pub not_applicable: usize,
}

impl Summary {
    /// The counts of `cases` on a run with `health`.
    pub fn of(cases: &[CaseResult], health: &RunHealth) -> Self {
        let unjudged = cases.iter().filter(|c| unjudged(c, health)).count();
        let passed = cases.iter().filter(|c| c.pass).count();
        Self {
            cases: cases.len(),
            passed,
            failed: cases.len() - passed - unjudged,
            unjudged,
            not_applicable: cases
                .iter()
                .filter(|c| matches!(c.skipped, Some(Skipped::NotApplicable(_))))
                .count(),
        }
    }

    /// Cases with a verdict (passed or failed), as a share of all (1 for an empty plan).
    pub fn judged_share(&self) -> f64 {
        if self.cases == 0 {
            return 1.0;
        }
        (self.passed + self.failed) as f64 / self.cases as f64
    }
}

/// Whether a failed case is not judged: it bears only the signs of load
/// ([`CaseResult::load_suspect`]: every scrape timed out, or only keep-alive failed; never a
/// wrong class) and the machine was measured saturated while it was scraped
/// ([`RunHealth::overloaded`]: CPU from `/proc/stat`, not slow scrapes alone).
fn unjudged(case: &CaseResult, health: &RunHealth) -> bool {
    !case.pass && case.load_suspect && health.overloaded()
}

impl RunReport {
    /// Whether every case passed.
    pub fn all_passed(&self) -> bool {
        self.cases.iter().all(|c| c.pass) && self.other_kinds_passed()
    }

    /// Whether every receiver and rotation case passed (true when there are none).
    fn other_kinds_passed(&self) -> bool {
        self.receivers
            .as_ref()
            .is_none_or(|r| r.failures().is_empty())
            && self.rotation.as_ref().is_none_or(|r| r.passed())
    }

    /// Whether a failed case is not judged: the machine was measured saturated and the
    /// failure bears only the signs of load ([`CaseResult::load_suspect`]).
    pub fn unjudged(&self, case: &CaseResult) -> bool {
        unjudged(case, &self.health)
    }

    /// Whether cases failed only in ways an overloaded machine explains: their verdicts are
    /// not trusted, and the run is a harness error (exit 2), not failed cases. A failure
    /// load cannot explain (a wrong error class, say) is still a failed case (exit 1).
    pub fn failed_from_overload(&self) -> bool {
        // Receiver and rotation cases are never excused by load.
        !self.all_passed()
            && self.other_kinds_passed()
            && self.cases.iter().all(|c| c.pass || self.unjudged(c))
    }
}

/// Runs the plan end to end: exporters, receivers and rotation cases, ONE Prometheus
/// (through [`PrometheusFixture`]) for all of them, the waits, then a verdict per case.
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
    let parts = OtherKinds::start(plan, &pki_files, run_dir.path()).await?;
    // Once, when every file Prometheus reads (PKI, case files) is written.
    make_world_readable(run_dir.path());

    let builder = parts.configure(fixture_builder(plan, opts, run_dir.path(), &started));
    let config_check = check_config(plan, &builder.config(), run_dir.path())?;
    let setup_s = t0.elapsed().as_secs_f64();

    let (prometheus, prometheus_start_s) = start_prometheus(builder, opts.progress).await?;
    let ready_at = Instant::now();
    let load = LoadWatch {
        plan,
        prometheus_pid: prometheus.prometheus().pid(),
        at_ready: health::CpuMark::now(prometheus.prometheus().pid()),
    };
    // The scrape cases' wait, the rotation timelines and the receivers' settling share the
    // one poller; each kind is judged before the scrapes are stopped.
    let (waited, others) = tokio::join!(
        wait_for_verdicts(plan, opts, &prometheus, &started, &load, ready_at),
        parts.observe(&prometheus),
    );
    let waited = waited?;
    let (receivers, rotation, rotation_seen) =
        parts.judge(&prometheus, others, &config_check, t0).await?;
    let verdicts_at = Instant::now();
    let explained = explain_live(opts, &prometheus).await; // before the scrapes stop
    let after = read_after_scrapes(plan, &prometheus, &waited.verdicts, &load).await?;
    let external = !matches!(opts.launcher, Launcher::Fake);
    let http_observed = match external {
        true => external::scrape_http_versions(plan, &started).await,
        false => BTreeMap::new(),
    };
    let mut steady = waited.steady;
    let mut recorded = RecordedRun {
        prometheus_version: after.build.version.clone(),
        prometheus_major: after.build.major_version(),
        external,
        scrape_pools_failed: after.failed_pools,
        cases: BTreeMap::new(),
        not_scraped: BTreeMap::new(),
        receivers: recorded_receivers(receivers.as_ref()),
        rotations: rotation_seen,
    };
    let cases = judge_cases(
        plan,
        &started,
        &waited.verdicts,
        &mut steady,
        &after,
        &http_observed,
        &config_check,
        &mut recorded,
    );
    if let Some(path) = &opts.record_observations {
        recorded.write(path)?;
    }
    let timings = Timings::of(
        plan,
        setup_s,
        prometheus_start_s,
        waited.first_scrape_s.unwrap_or(0.0),
        verdicts_at.duration_since(ready_at).as_secs_f64(),
    );
    let summary = Summary::of(&cases, &after.health);
    let report = RunReport {
        cases,
        prometheus: prometheus.prometheus().description(),
        prometheus_version: after.build.version,
        go_version: after.build.go_version,
        scrapes_required: plan.defaults.scrapes,
        scrape_interval_s: plan.defaults.scrape_interval.as_secs_f64(),
        timings,
        failed_scrape_pools: after.failed_pools,
        health: after.health,
        config_check,
        summary,
        receivers,
        rotation,
        explained,
    };
    let judged_s = verdicts_at.elapsed().as_secs_f64();
    tracing::debug!("verdicts judged {judged_s:.2}s after the scrapes were counted");
    tear_down(prometheus, started, run_dir).await;
    drop(parts);
    Ok(report)
}

impl Timings {
    /// The phases of a run, and whether its verdicts came within the bound: the first
    /// scrape, the required scrapes plus one, and 2 s.
    fn of(
        plan: &Plan,
        setup_s: f64,
        prometheus_start_s: f64,
        first_scrape_s: f64,
        verdicts_s: f64,
    ) -> Self {
        let interval = plan.defaults.scrape_interval.as_secs_f64();
        let bound_s = first_scrape_s + f64::from(plan.defaults.scrapes + 1) * interval + 2.0;
        Self {
            setup_s,
            prometheus_start_s,
            first_scrape_s,
            verdicts_s,
            bound_s,
            within_bound: verdicts_s <= bound_s,
        }
    }
}

/// `explain` of the running Prometheus, when the options ask for it (while the jobs still
/// run: reading the scrapes' totals stops them); a failure is logged and leaves the report
/// without it (the run's own verdicts stand either way).
async fn explain_live(
    opts: &RunOptions,
    prometheus: &PrometheusFixture,
) -> Option<crate::explain::Explanation> {
    let options = opts.explain_live.as_ref()?;
    match crate::explain::explain(prometheus.api().clone(), options).await {
        Ok(explained) => Some(explained),
        Err(e) => {
            tracing::warn!(error = %e, "explaining the run's Prometheus");
            None
        }
    }
}

/// Starts the fixture's Prometheus; returns it and how long the start took (seconds).
async fn start_prometheus(
    builder: FixtureBuilder,
    progress: bool,
) -> Result<(PrometheusFixture, f64), RunError> {
    let t_start = Instant::now();
    let prometheus = builder.start().await?;
    let took = t_start.elapsed().as_secs_f64();
    tracing::info!(backend = %prometheus.prometheus().description(), "Prometheus ready in {took:.2}s");
    if progress {
        // The CLI says which backend `auto` picked, and why.
        eprintln!(
            "scrape-harness: Prometheus ready in {took:.2}s: {}",
            prometheus.prometheus().description()
        );
    }
    Ok((prometheus, took))
}

/// What each receiver's judge read, by name (for [`RecordedRun`]).
fn recorded_receivers(
    run: Option<&crate::receivers::ReceiverRun>,
) -> BTreeMap<String, crate::receivers::Observed> {
    run.iter()
        .flat_map(|r| &r.results)
        .map(|r| (r.name.clone(), r.observed.clone()))
        .collect()
}

/// The receiver and rotation cases of a plan, started: what they add to the fixture,
/// what they wait for on it, and their judges.
struct OtherKinds<'a> {
    receivers: Option<ReceiverSet<'a>>,
    rotation: Option<RotationSet<'a>>,
}

/// What the other kinds observed: the receivers' settling, the rotation timelines.
type OtherObservations = (
    Option<Result<Vec<crate::receivers::Observed>, ReceiverRunError>>,
    Option<Vec<crate::rotation::Timeline>>,
);

/// The other kinds' verdicts, and what the rotation judges read (to record).
type JudgedKinds = (
    Option<crate::receivers::ReceiverRun>,
    Option<crate::rotation::RotationReport>,
    BTreeMap<String, crate::rotation::RotationObservation>,
);

impl<'a> OtherKinds<'a> {
    async fn start(plan: &'a Plan, pki: &PkiFiles, dir: &Path) -> Result<Self, RunError> {
        let receivers = match &plan.receivers {
            Some(r) => Some(
                ReceiverSet::start(r, plan.defaults.bcrypt_cost, pki, dir)
                    .await
                    .map_err(|e| RunError::Receivers(Box::new(e)))?,
            ),
            None => None,
        };
        let rotation = match &plan.rotation {
            Some(r) => Some(
                RotationSet::start(r, dir)
                    .await
                    .map_err(|e| RunError::Rotation(Box::new(e)))?,
            ),
            None => None,
        };
        Ok(Self {
            receivers,
            rotation,
        })
    }

    fn configure(&self, mut builder: FixtureBuilder) -> FixtureBuilder {
        if let Some(r) = &self.receivers {
            builder = r.configure(builder);
        }
        if let Some(r) = &self.rotation {
            builder = r.configure(builder);
        }
        builder
    }

    async fn observe(&self, fixture: &PrometheusFixture) -> OtherObservations {
        let receivers = async {
            match &self.receivers {
                Some(r) => Some(r.settle(fixture).await),
                None => None,
            }
        };
        let rotation = async {
            match &self.rotation {
                Some(r) => Some(r.drive(fixture).await),
                None => None,
            }
        };
        tokio::join!(receivers, rotation)
    }

    async fn judge(
        &self,
        fixture: &PrometheusFixture,
        (receivers_seen, timelines): OtherObservations,
        config_check: &ConfigCheck,
        began: Instant,
    ) -> Result<JudgedKinds, RunError> {
        let receivers_err = |e| RunError::Receivers(Box::new(e));
        let receivers = match (&self.receivers, receivers_seen) {
            (Some(r), Some(seen)) => {
                let promtool = promconfig::PromtoolCheck::Passed {
                    output: config_check.promtool_output.clone(),
                };
                let seen = seen.map_err(receivers_err)?;
                Some(
                    r.judge(fixture, seen, promtool, began)
                        .await
                        .map_err(receivers_err)?,
                )
            }
            _ => None,
        };
        let (rotation, rotation_seen) = match (&self.rotation, timelines) {
            (Some(r), Some(t)) => {
                let (report, seen) = r
                    .judge(fixture, t)
                    .await
                    .map_err(|e| RunError::Rotation(Box::new(e)))?;
                (Some(report), seen)
            }
            _ => (None, BTreeMap::new()),
        };
        Ok((receivers, rotation, rotation_seen))
    }
}

/// How long a run of `jobs` jobs waits for Prometheus' `/-/ready`: the backend's 30 s plus
/// 1.5 s × (jobs / 1,000)², at most an hour. Prometheus 2.42 sets up every scrape pool before
/// it is ready, in time that grows with the square of the jobs: on a loaded 2-core machine
/// 5,000 plain jobs took 16 s and 10,000 took 88 s (`scrape_sd` in "Completed loading of
/// configuration file"), which a flat 30 s cut short. This allows 67.5 s and 180 s.
pub(crate) fn ready_timeout(jobs: usize) -> Duration {
    let jobs = jobs as u128;
    let extra_ms = (jobs.saturating_mul(jobs) / 2_000)
        .saturating_mul(3)
        .min(3_600_000);
    Duration::from_secs(30).saturating_add(Duration::from_millis(extra_ms as u64))
}

/// The fixture of a plan: one job per case that has something to scrape.
fn fixture_builder(
    plan: &Plan,
    opts: &RunOptions,
    run_dir: &Path,
    started: &[exporters::StartedCase],
) -> FixtureBuilder {
    let jobs = plan.cases.len()
        + plan.receivers.as_ref().map_or(0, |r| r.receivers.len())
        + plan.rotation.as_ref().map_or(0, |r| r.cases.len());
    let mut builder = PrometheusFixture::builder()
        .prometheus(&opts.prometheus)
        .ready_timeout(ready_timeout(jobs))
        .scrape_interval(plan.defaults.scrape_interval)
        .scrape_timeout(plan.defaults.scrape_timeout)
        .mount(run_dir);
    for dir in &opts.extra_mounts {
        builder = builder.mount(dir.clone());
    }
    for (case, s) in plan.cases.iter().zip(started) {
        if let Some(job) = &s.job {
            builder = builder
                .job(job.clone())
                .target_context(case.name.clone(), case.context());
        }
    }
    builder
}

/// The machine's CPU since Prometheus was ready: what names a harness failure as overload.
struct LoadWatch<'a> {
    plan: &'a Plan,
    prometheus_pid: Option<u32>,
    at_ready: health::CpuMark,
}

impl LoadWatch<'_> {
    /// `e`, named as overload when the machine had no CPU left since Prometheus was ready
    /// (exit 2 either way).
    fn blame(&self, during: &'static str, e: RunError) -> RunError {
        // A Prometheus that is gone explains the failure: never blame the machine for it.
        if matches!(e, RunError::Fixture(FixtureError::PrometheusExited { .. })) {
            return e;
        }
        let now = health::CpuMark::now(self.prometheus_pid);
        let Some(busy) = self
            .at_ready
            .machine_busy_since(&now)
            .filter(|b| *b >= health::SATURATED)
        else {
            return e;
        };
        let (plan, (h, p)) = (self.plan, self.at_ready.cores_since(&now));
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
}

/// What the wait for the scrapes produced.
struct Waited {
    verdicts: Vec<TargetObservation>,
    /// Each exporter's counters when its target was first seen up.
    steady: Vec<Option<StatsSnapshot>>,
    /// Ready until the first scrape of any target.
    first_scrape_s: Option<f64>,
}

/// Waits until every target was scraped often enough (deadline-bounded), then, when
/// targets timed out that should not have, for a few more scrapes.
async fn wait_for_verdicts(
    plan: &Plan,
    opts: &RunOptions,
    prometheus: &PrometheusFixture,
    started: &[exporters::StartedCase],
    load: &LoadWatch<'_>,
    ready_at: Instant,
) -> Result<Waited, RunError> {
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
    let case_of = case_index(plan);
    let mut steady: Vec<Option<StatsSnapshot>> = vec![None; plan.cases.len()];
    let waited = prometheus
        .wait_among(
            &scrape_jobs(plan),
            Until::Scraped(need),
            deadline,
            |p: &WaitProgress<'_>| {
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
            },
        )
        .await;
    bar.finish();
    let verdicts = waited.map_err(|e| load.blame("waiting for the scrapes", e.into()))?;
    let verdicts = second_look(plan, prometheus, verdicts).await;
    Ok(Waited {
        verdicts,
        steady,
        first_scrape_s,
    })
}

/// The scrape cases' jobs (a case's job is named after it): what the scrape wait is about,
/// not the jobs of rotation cases run beside them.
fn scrape_jobs(plan: &Plan) -> Jobs {
    Jobs::Only(plan.cases.iter().map(|c| c.name.clone()).collect())
}

/// Case index by name (= job name).
fn case_index(plan: &Plan) -> BTreeMap<&str, usize> {
    plan.cases
        .iter()
        .enumerate()
        .map(|(i, c)| (c.name.as_str(), i))
        .collect()
}

/// A second look when scrapes timed out that should not have (a busy machine): a few more
/// scrapes of every target, so that a case whose last scrapes timed out is judged by the
/// ones that did not. Bounded; on its deadline the verdicts so far stand.
async fn second_look(
    plan: &Plan,
    prometheus: &PrometheusFixture,
    verdicts: Vec<TargetObservation>,
) -> Vec<TargetObservation> {
    let case_of = case_index(plan);
    let timed_out = |v: &TargetObservation| {
        v.class == ErrorClass::Timeout
            && case_of.get(v.job.as_str()).is_some_and(|&i| {
                !plan.cases[i]
                    .expect
                    .outcome
                    .accepts_class(ErrorClass::Timeout)
            })
    };
    let suspects = verdicts.iter().filter(|v| timed_out(v)).count();
    if suspects == 0 {
        return verdicts;
    }
    tracing::info!("{suspects} target(s) timed out: {RECHECK_SCRAPES} more scrapes");
    let interval = plan.defaults.scrape_interval;
    let again = prometheus
        .wait_among(
            &scrape_jobs(plan),
            Until::Scraped(u64::from(plan.defaults.scrapes) + u64::from(RECHECK_SCRAPES)),
            interval * (RECHECK_SCRAPES + 2) + Duration::from_secs(10),
            |_| {},
        )
        .await;
    match again {
        Ok(v) => v,
        Err(e) => {
            tracing::info!(error = %e, "second look: keeping the verdicts so far");
            prometheus.verdicts().await.unwrap_or(verdicts)
        }
    }
}

/// What Prometheus said after the scrapes stopped, and how the machine held up.
struct AfterScrapes {
    build: crate::targets::BuildInfo,
    /// Connections each job's dialer established.
    conntrack: BTreeMap<String, f64>,
    failed_dials: BTreeMap<String, f64>,
    failed_pools: f64,
    /// Failed scrapes per job.
    failed_scrapes: BTreeMap<String, u64>,
    health: RunHealth,
}

/// Stops the scrapes (so that Prometheus' dialer counts and the exporters' counters
/// describe the same scrapes), then reads Prometheus' counters and judges the run's health.
async fn read_after_scrapes(
    plan: &Plan,
    prometheus: &PrometheusFixture,
    verdicts: &[TargetObservation],
    load: &LoadWatch<'_>,
) -> Result<AfterScrapes, RunError> {
    let cpu_at_verdicts = health::CpuMark::now(load.prometheus_pid);
    let (harness_cpu, prometheus_cpu) = load.at_ready.cores_since(&cpu_at_verdicts);
    let machine_busy = load.at_ready.machine_busy_since(&cpu_at_verdicts);
    let t_reload = Instant::now();
    prometheus
        .reload_with(|config| config.scrape_configs.clear())
        .await
        .map_err(|e| load.blame("stopping the scrapes (reload)", e.into()))?;
    tracing::debug!(
        "scrapes stopped (reload) in {:.2}s",
        t_reload.elapsed().as_secs_f64()
    );
    let api = prometheus.api();
    let read = |e| load.blame("reading Prometheus' state", RunError::Api(e));
    let build = api.build_info().await.map_err(read)?;
    // One fresh snapshot after the scrapes stopped: Prometheus' dialer counts describe
    // the same scrapes as the exporters' counters.
    let now = prometheus
        .observe_now(READ_DEADLINE)
        .await
        .map_err(|e| load.blame("reading Prometheus' state", e.into()))?;
    let conntrack = now.counters.conntrack_established.clone();
    let failed_dials = now.counters.conntrack_failed.clone();
    let failed_pools = now.counters.scrape_pools_failed;
    let mut failed_scrapes: BTreeMap<String, u64> = BTreeMap::new();
    for (key, n) in api.failed_scrape_counts().await.map_err(read)? {
        *failed_scrapes.entry(key.job).or_default() += n;
    }
    // Jobs expected to be slow (a delay fault, an expected timeout) are not load.
    let major = build.major_version();
    let slow: BTreeMap<&str, bool> = plan
        .cases
        .iter()
        .map(|c| (c.name.as_str(), slow_by_design(c, major)))
        .collect();
    let near_timeout: Vec<String> = health::near_timeout_jobs(api, plan.defaults.scrape_timeout)
        .await
        .map_err(read)?
        .into_iter()
        .filter(|job| slow.get(job.as_str()) == Some(&false))
        .collect();
    let health = health::judge(health::Signals {
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
        prometheus_pid: load.prometheus_pid,
    });
    Ok(AfterScrapes {
        build,
        conntrack,
        failed_dials,
        failed_pools,
        failed_scrapes,
        health,
    })
}

/// Whether a case's exporter is slow on purpose (a delay or slow-body fault) or its scrapes
/// are expected to time out: its slow scrapes are its own, never a sign of load, and never
/// excused by it.
fn slow_by_design(case: &Case, prometheus_major: u32) -> bool {
    let faults = &case.exporter.faults;
    faults.delay.is_some()
        || faults.slow_body_chunk_delay.is_some()
        || case
            .expect
            .outcome_for(prometheus_major)
            .accepts_class(ErrorClass::Timeout)
}

/// A verdict per case, in plan order.
#[allow(clippy::too_many_arguments)]
fn judge_cases(
    plan: &Plan,
    started: &[exporters::StartedCase],
    verdicts: &[TargetObservation],
    steady: &mut [Option<StatsSnapshot>],
    after: &AfterScrapes,
    http_observed: &BTreeMap<String, Result<HttpVersion, HttpVersionUnobserved>>,
    config_check: &ConfigCheck,
    recorded: &mut RecordedRun,
) -> Vec<CaseResult> {
    let major = recorded.prometheus_major;
    // One target per case: its verdict, by job name.
    let verdict_of: BTreeMap<&str, &TargetObservation> =
        verdicts.iter().map(|v| (v.job.as_str(), v)).collect();
    let mut cases = Vec::with_capacity(plan.cases.len());
    for (i, (case, s)) in plan.cases.iter().zip(started).enumerate() {
        let mut result = CaseResult::new(case, major, s);
        if config_check.unchecked_jobs.contains(&case.name) {
            result.notes.push(ConfigCheck::UNCHECKED_NOTE.into());
        }
        // A case about the exporter's start was judged when it started (or did not).
        if result.skipped.is_some() || case.expect.refuses_config_at_start() {
            recorded.not_scraped.insert(
                case.name.clone(),
                NotScraped {
                    skipped: result.skipped.clone(),
                    start: result.start.clone(),
                },
            );
            cases.push(result);
            continue;
        }
        let observation = CaseObservation {
            verdict: verdict_of.get(case.name.as_str()).map(|v| (*v).clone()),
            exporter: Counters {
                last: s.stats.snapshot(),
                steady: steady[i].take(),
                http_version: http_observed.get(&case.name).cloned(),
            },
            prometheus: PrometheusSide {
                dialed: after.conntrack.get(&case.name).map(|v| *v as u64),
                failed_dials: after.failed_dials.get(&case.name).map_or(0, |v| *v as u64),
                failed_scrapes: after.failed_scrapes.get(&case.name).copied().unwrap_or(0),
            },
        };
        judge_observed(&mut result, case, &observation, recorded);
        let third = third_parties::observe(&s.third);
        result.token_endpoint = third.token_endpoint;
        result.proxy = third.proxy;
        result
            .failures
            .extend(third_parties::failures(case, &third));
        result.pass = result.failures.is_empty();
        recorded.cases.insert(case.name.clone(), observation);
        cases.push(result);
    }
    cases
}

/// A case's verdict replayed from a recording of a real run: judged at its start as then
/// (not applicable, not started, the web-config refused), or by [`judge_observed`] on its
/// recorded observation; `None` when the recording does not hold the case.
#[cfg(test)]
pub(crate) fn replay(case: &Case, run: &RecordedRun) -> Option<CaseResult> {
    let mut started = exporters::StartedCase::for_test();
    if let Some(not) = run.not_scraped.get(&case.name) {
        match &not.skipped {
            Some(Skipped::NotApplicable(why)) => started.not_applicable = Some(why.clone()),
            Some(Skipped::NotStarted(why)) => started.start_failure = Some(why.clone()),
            None => {}
        }
        started.start = not.start.clone();
        return Some(CaseResult::new(case, run.prometheus_major, &started));
    }
    Some(judge_recorded(case, run, run.cases.get(&case.name)?))
}

/// [`judge_observed`] on `observation` (recorded, or a mutation of it) with the facts of
/// `run`, for a case that was scraped.
#[cfg(test)]
pub(crate) fn judge_recorded(
    case: &Case,
    run: &RecordedRun,
    observation: &CaseObservation,
) -> CaseResult {
    let mut result = CaseResult::new(
        case,
        run.prometheus_major,
        &exporters::StartedCase::for_test(),
    );
    judge_observed(&mut result, case, observation, run);
    result
}

/// Judges one scrape case on what was observed of it: a pure function of the case, the
/// observation and the run's facts (`run`: Prometheus' major version, whether the
/// exporters are under test, the jobs Prometheus dropped).
pub(crate) fn judge_observed(
    result: &mut CaseResult,
    case: &Case,
    observed: &CaseObservation,
    run: &RecordedRun,
) {
    let verdict = observed.verdict.as_ref();
    let slow = slow_by_design(case, run.prometheus_major);
    judge(
        result,
        case,
        verdict,
        &observed.exporter,
        run.external,
        &observed.prometheus,
        slow,
    );
    if let Some(v) = verdict.filter(|v| v.health == Health::Missing) {
        missing_job(result, v, run.scrape_pools_failed);
    }
    result.pass = result.failures.is_empty();
}

/// What Prometheus says about a job it dropped: only its log and
/// `prometheus_target_scrape_pools_failed_total` say why.
fn missing_job(result: &mut CaseResult, v: &TargetObservation, failed_pools: f64) {
    let why = if v.last_error.is_empty() {
        String::new()
    } else {
        format!("; Prometheus logged: {}", v.last_error)
    };
    result.last_error = format!(
        "job not in /api/v1/targets; prometheus_target_scrape_pools_failed_total = \
         {failed_pools}{why}"
    );
    if failed_pools < 1.0 {
        result.failures.push(
            "job missing but prometheus_target_scrape_pools_failed_total is 0: it was \
             not dropped by Prometheus"
                .into(),
        );
    }
}

/// Stops Prometheus (or keeps it, `HARNESS_KEEP=1`), the exporters and the run dir.
async fn tear_down(
    prometheus: PrometheusFixture,
    started: Vec<exporters::StartedCase>,
    run_dir: crate::supervise::RunDir,
) {
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
/// (promtool rejects some of those, Prometheus itself only drops them). A missing promtool
/// is an error that says how to install it, never a silent skip.
fn check_config(
    plan: &Plan,
    config: &PrometheusConfig,
    dir: &Path,
) -> Result<ConfigCheck, RunError> {
    let mut checked = config.clone();
    let mut unchecked_jobs = Vec::new();
    checked.scrape_configs.retain(|job| {
        let dropped_on_purpose = plan
            .cases
            .iter()
            .find(|c| c.name == job.job_name)
            .is_some_and(|c| c.expect.outcome.health == Health::Missing);
        if dropped_on_purpose {
            unchecked_jobs.push(job.job_name.clone());
        }
        !dropped_on_purpose
    });
    let path = dir.join("prometheus.check.yml");
    promconfig::write(&checked, &path).map_err(RunError::Config)?;
    let promconfig::PromtoolCheck::Passed { output } =
        promconfig::promtool_check(&path).map_err(RunError::Config)?;
    Ok(ConfigCheck {
        promtool_output: output,
        unchecked_jobs,
    })
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
    /// A result of `case` with nothing observed yet, for unit tests of other judges.
    #[cfg(test)]
    pub(crate) fn for_test(case: &Case) -> Self {
        Self::new(case, 2, &exporters::StartedCase::for_test())
    }

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

/// The outcome of scrapes seen.
fn outcome_of(s: &SeenOutcome) -> Outcome {
    Outcome {
        health: s.health,
        class: s.class,
    }
}

/// The scrapes seen of a case's target in steady state, against its expectation.
struct Seen {
    /// Scrapes seen after the first.
    total: u64,
    /// ... that timed out.
    timeouts: u64,
    /// ... with the expected outcome.
    expected: u64,
    /// The first scrape seen, when it had the expected outcome.
    first_expected: Option<Outcome>,
    /// The first scrape seen had another class than the expected one(s) and `timeout`.
    first_other: bool,
}

impl Seen {
    fn of(verdict: Option<&TargetObservation>, expected: &Expected) -> Self {
        let steady = verdict.map_or(&[][..], |v| v.steady_state.as_slice());
        let count = |keep: &dyn Fn(&Outcome) -> bool| -> u64 {
            steady
                .iter()
                .filter(|s| keep(&outcome_of(s)))
                .map(|s| s.scrapes)
                .sum()
        };
        let first = verdict.and_then(|v| v.first_seen.as_ref()).map(outcome_of);
        Self {
            total: steady.iter().map(|s| s.scrapes).sum(),
            timeouts: count(&|o| o.class == ErrorClass::Timeout),
            expected: count(&|o| expected.accepts(o)),
            first_expected: first.filter(|o| expected.accepts(o)),
            first_other: first
                .is_some_and(|o| !expected.accepts(&o) && o.class != ErrorClass::Timeout),
        }
    }
}

/// Compares what Prometheus and the exporter's counters say with what the case expects.
/// `slow_by_design`: the exporter is slow on purpose ([`slow_by_design`]).
fn judge(
    result: &mut CaseResult,
    case: &Case,
    verdict: Option<&TargetObservation>,
    counters: &Counters,
    external: bool,
    prometheus: &PrometheusSide,
    slow_by_design: bool,
) {
    let conntrack = prometheus.dialed;
    let stats = &counters.last;
    let seen = Seen::of(verdict, &result.expected);
    let mut notes = Vec::new();
    let observed = judged_outcome(&result.expected, verdict, &seen, external, &mut notes);
    let mut failures = outcome_failures(&result.expected, observed);
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
    let keep_alive = KeepAliveSeen {
        handshakes,
        connections,
        requests,
        scrapes,
        timeouts: seen.timeouts,
        // Connections and handshakes after the target was first seen up (steady state).
        since_up: counters.steady.as_ref().filter(|_| !external).map(|s| {
            (
                stats.connections_accepted - s.connections_accepted,
                stats.handshakes_ok - s.handshakes_ok,
            )
        }),
    };
    let keep_alive_observed =
        keep_alive_failures(case, &keep_alive, prometheus, &mut failures, &mut notes);
    // Cross-check the exporter's count with Prometheus' own dialer count for the job.
    let scraped = verdict.is_some_and(|v| v.health != Health::Missing);
    // A proxy in between: Prometheus' dialer counts connections to the proxy.
    let direct = !case.exporter.absent && !external && !case.third_parties.intermediary();
    if let (Some(dialed), true) = (conntrack, scraped && direct) {
        accounting(dialed, connections, prometheus, &mut failures, &mut notes);
    }
    let http_versions = http_versions(stats, counters.http_version.as_ref(), external);
    if let Some(want) = case.expect.http_version {
        let unobserved = counters
            .http_version
            .as_ref()
            .and_then(|o| o.as_ref().err());
        failures.extend(http_version_failure(want, &http_versions, unobserved));
    }
    let mut tls_versions: Vec<String> = stats
        .tls_sessions
        .iter()
        .map(|s| s.info.version.clone())
        .collect();
    tls_versions.sort();
    tls_versions.dedup();
    result.load_suspect = load_suspect(&failures, observed, &seen, slow_by_design);
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

/// The outcome a case is judged by: the last scrape's, except that a last scrape that
/// timed out on a busy machine is not the case's outcome when the expected outcome was seen
/// and every other scrape seen timed out too (then the expected outcome seen, with a note).
fn judged_outcome(
    expected: &Expected,
    verdict: Option<&TargetObservation>,
    seen: &Seen,
    external: bool,
    notes: &mut Vec<String>,
) -> Outcome {
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
    let timeout_expected = expected.accepts_class(ErrorClass::Timeout);
    if !timeout_expected && seen.timeouts > 0 {
        let why = if external {
            "a slow exporter or a busy machine"
        } else {
            "a busy machine: this fake exporter has no delay"
        };
        notes.push(format!(
            "{} of {} scrapes seen after the first timed out ({why}), {} had the expected \
             outcome",
            seen.timeouts, seen.total, seen.expected
        ));
    }
    if expected.accepts(&observed)
        || observed.class != ErrorClass::Timeout
        || timeout_expected
        || (seen.expected == 0 && seen.first_expected.is_none())
        || seen.expected + seen.timeouts != seen.total
    {
        return observed;
    }
    let by = seen.expected + u64::from(seen.first_expected.is_some() && seen.expected == 0);
    notes.push(format!(
        "the last scrape timed out; judged by the {by} scrape(s) that did not"
    ));
    verdict
        .into_iter()
        .flat_map(|v| v.steady_state.iter().map(outcome_of))
        .find(|o| expected.accepts(o))
        .or(seen.first_expected)
        .unwrap_or(observed)
}

/// The health and class failures of `observed` against `expected`.
fn outcome_failures(expected: &Expected, observed: Outcome) -> Vec<String> {
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
    failures
}

/// Whether a failure bears only the signs of an overloaded machine, so that on a run whose
/// machine was measured saturated it is not judged ([`RunReport::unjudged`]):
///
/// - every scrape seen timed out (no scrape answered with another class), or
/// - the only failures are keep-alive ones (a busy machine makes Prometheus re-dial).
///
/// Never a wrong class or health seen on a scrape that answered, even when other scrapes of
/// the case timed out; never a case whose exporter is slow by design (its timeouts are its
/// own, not the machine's).
fn load_suspect(failures: &[String], observed: Outcome, seen: &Seen, slow_by_design: bool) -> bool {
    if failures.is_empty() || slow_by_design {
        return false;
    }
    let all_timed_out =
        observed.class == ErrorClass::Timeout && seen.timeouts == seen.total && !seen.first_other;
    all_timed_out || failures.iter().all(|f| f.starts_with("keep-alive"))
}

/// What the keep-alive judgement needs of a case's connections.
struct KeepAliveSeen {
    handshakes: Option<u64>,
    connections: u64,
    requests: u64,
    scrapes: u64,
    timeouts: u64,
    /// Connections and handshakes after the target was first seen up (fake exporters).
    since_up: Option<(u64, u64)>,
}

/// Judges the case's keep-alive expectation; returns the observed behaviour in words.
fn keep_alive_failures(
    case: &Case,
    k: &KeepAliveSeen,
    prometheus: &PrometheusSide,
    failures: &mut Vec<String>,
    notes: &mut Vec<String>,
) -> String {
    let (connections, requests) = (k.connections, k.requests);
    let mut observed = match k.handshakes {
        Some(h) => {
            format!("{connections} connection(s), {h} handshake(s) for {requests} request(s)")
        }
        None => format!("{connections} connection(s) dialled for {requests} scrape(s)"),
    };
    if let Some((c, h)) = k.since_up {
        let _ = write!(
            observed,
            "; {c} connection(s), {h} handshake(s) after the first successful scrape"
        );
    }
    let tls = case.exporter.tls.is_some();
    match case.expect.keep_alive {
        KeepAlive::One => {
            let steady_ok = match k.since_up {
                Some((c, h)) => c == 0 && (!tls || h == 0),
                // External exporters have no counters of ours: Prometheus' dialer count,
                // where every reconnect must follow a failed scrape (a cold bcrypt that
                // outlasted the timeout, say); scrapes that all succeeded share one
                // connection.
                None => connections <= 1 + prometheus.failed_scrapes,
            };
            if k.since_up.is_none() && connections > 1 && steady_ok {
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
            let after_failed = k.since_up.is_some_and(|(c, _)| c > 0 && c <= failed);
            let reconnected_after_timeouts = !steady_ok && (k.timeouts > 0 || after_failed);
            if reconnected_after_timeouts {
                notes.push(format!(
                    "reconnects after the first successful scrape followed failed scrapes \
                     ({} seen timing out, {failed} failed in Prometheus' count; \
                     Prometheus drops a connection whose scrape timed out); not held against \
                     keep-alive",
                    k.timeouts
                ));
            }
            if connections == 0
                || (!steady_ok && !reconnected_after_timeouts)
                || requests < k.scrapes.min(2)
            {
                failures.push(format!(
                    "keep-alive: expected one connection for all scrapes once up, observed {observed}"
                ));
            }
        }
        KeepAlive::PerScrape => {
            // Counters are read a moment after the scrape count: allow the scrape in flight.
            if requests < 2 || connections + 1 < requests {
                failures.push(format!(
                    "keep-alive: expected a new connection per scrape, observed {observed}"
                ));
            }
        }
        KeepAlive::Any => {}
    }
    observed
}

/// Prometheus' dialer count for a job against the connections its exporter accepted.
/// Scraping stopped (reload) before both were read, so both describe the same scrapes. A
/// connection more on the exporter's side is a dial Go gave up on after the kernel
/// completed the TCP handshake (a dial the reload cancelled, one that outlasted a scrape
/// timeout on a busy machine): Go counts those as failed dials.
fn accounting(
    dialed: u64,
    connections: u64,
    prometheus: &PrometheusSide,
    failures: &mut Vec<String>,
    notes: &mut Vec<String>,
) {
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

/// The HTTP version(s) of a case's scrapes: from our exporter's request counters, or, for
/// an exporter under test, what [`external::scrape_http_versions`] observed (nothing when
/// it could not tell; the judge then says why).
fn http_versions(
    stats: &StatsSnapshot,
    observed: Option<&Result<HttpVersion, HttpVersionUnobserved>>,
    external: bool,
) -> Vec<String> {
    let mut versions: Vec<String> = if external {
        observed
            .and_then(|o| o.as_ref().ok())
            .map(|v| v.as_str().to_owned())
            .into_iter()
            .collect()
    } else {
        stats
            .requests
            .iter()
            .map(|r| r.http_version.clone())
            .collect()
    };
    versions.sort();
    versions.dedup();
    versions
}

/// R8: every scrape used `want` (`unobserved`: why an exporter under test's version could
/// not be observed).
fn http_version_failure(
    want: HttpVersion,
    observed: &[String],
    unobserved: Option<&HttpVersionUnobserved>,
) -> Option<String> {
    if !observed.is_empty() && observed.iter().all(|v| v == want.as_str()) {
        return None;
    }
    let observed = match (observed.is_empty(), unobserved) {
        (false, _) => observed.join(", "),
        (true, Some(why)) => format!("nothing ({why})"),
        (true, None) => "no requests".to_owned(),
    };
    Some(format!(
        "HTTP version: expected every scrape over {want}, observed {observed}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ready_timeout_grows_with_the_jobs_of_a_run() {
        assert_eq!(ready_timeout(0), Duration::from_secs(30));
        assert_eq!(ready_timeout(1_000), Duration::from_millis(31_500));
        // Measured: 5,000 jobs ready in 16 s, 10,000 (which ran out of a flat 30 s) in 88 s.
        assert_eq!(ready_timeout(5_000), Duration::from_millis(67_500));
        assert_eq!(ready_timeout(10_000), Duration::from_secs(180));
        assert_eq!(ready_timeout(usize::MAX), Duration::from_secs(30 + 3_600));
    }
    use crate::fixture::SeenOutcome;
    use crate::scenario::{Expectation, ExporterTls};

    fn seen(health: Health, class: ErrorClass, scrapes: u64) -> SeenOutcome {
        SeenOutcome {
            health,
            class,
            scrapes,
        }
    }

    fn verdict(
        health: Health,
        class: ErrorClass,
        steady_state: Vec<SeenOutcome>,
    ) -> TargetObservation {
        TargetObservation {
            job: "c".into(),
            instance: "127.0.0.1:1".into(),
            health,
            last_error: String::new(),
            class,
            scrapes: 10,
            steady_state,
            first_seen: None,
            ..TargetObservation::default()
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
            http_version: None,
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

    fn judged(case: &Case, verdict: &TargetObservation, counters: &Counters) -> CaseResult {
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
            false,
        );
        result.pass = result.failures.is_empty();
        result
    }

    fn judged_external(
        case: &Case,
        verdict: &TargetObservation,
        dialed: u64,
        failed: u64,
    ) -> CaseResult {
        let started = exporters::StartedCase::for_test();
        let mut result = CaseResult::new(case, 2, &started);
        let counters = Counters {
            last: StatsSnapshot::default(),
            steady: None,
            http_version: None,
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
            false,
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
            judge(
                &mut result,
                &case,
                Some(&up),
                &counters,
                false,
                &prometheus,
                false,
            );
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

    /// A report of `cases` on a machine with `near` slow targets of 100, `machine_busy`
    /// of its CPU busy.
    fn report_on(cases: Vec<CaseResult>, near: usize, machine_busy: f64) -> RunReport {
        let health = health::judge(health::Signals {
            cores: 2,
            targets: 100,
            interval: Duration::from_millis(200),
            near_timeout: (0..near).map(|i| format!("job{i}")).collect(),
            harness_cpu: None,
            prometheus_cpu: None,
            machine_busy: Some(machine_busy),
            prometheus_pid: None,
        });
        RunReport {
            summary: Summary::of(&cases, &health),
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
            health,
            config_check: ConfigCheck::default(),
            receivers: None,
            rotation: None,
            explained: None,
        }
    }

    /// Saturated (the CPU measured 97 % busy) with slow scrapes, or a quiet machine.
    fn report_of(cases: Vec<CaseResult>, overloaded: bool) -> RunReport {
        if overloaded {
            report_on(cases, 50, 0.97)
        } else {
            report_on(cases, 0, 0.3)
        }
    }

    fn only(health: Health, class: ErrorClass, scrapes: u64) -> TargetObservation {
        verdict(health, class, vec![seen(health, class, scrapes)])
    }

    #[test]
    fn an_overloaded_run_judges_only_the_failures_load_does_not_explain() {
        let case = Case::new("c", "t.yaml", Expectation::down(ErrorClass::Unauthorized));
        let timed_out = judged(
            &case,
            &only(Health::Down, ErrorClass::Timeout, 3),
            &counters(1, 1),
        );
        let wrong_class = judged(
            &case,
            &only(Health::Down, ErrorClass::Forbidden, 3),
            &counters(1, 1),
        );
        // Overloaded, only timeouts: not judged, a harness error (exit 2), no case blamed.
        let report = report_of(vec![timed_out.clone()], true);
        assert!(report.failed_from_overload() && report.unjudged(&report.cases[0]));
        let counts = (report.summary.passed, report.summary.failed);
        assert_eq!((counts, report.summary.unjudged), ((0, 0), 1));
        assert_eq!(report.summary.judged_share(), 0.0);
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
        assert_eq!((report.summary.failed, report.summary.unjudged), (1, 1));
        // A machine that kept up: a timeout is the case's failure.
        let report = report_of(vec![timed_out], false);
        assert!(!report.failed_from_overload() && !report.unjudged(&report.cases[0]));
        assert_eq!((report.summary.failed, report.summary.unjudged), (1, 0));
    }

    #[test]
    fn a_case_whose_scrapes_all_timed_out_is_excused_only_on_a_saturated_machine() {
        let case = Case::new("c", "t.yaml", Expectation::up());
        let hung = judged(
            &case,
            &only(Health::Down, ErrorClass::Timeout, 8),
            &counters(1, 1),
        );
        assert!(!hung.pass && hung.load_suspect, "{hung:?}");
        // Slow scrapes everywhere (50 of 100 targets) but CPU to spare: judged, and failed.
        let quiet = report_on(vec![hung.clone()], 50, 0.6);
        assert!(!quiet.unjudged(&quiet.cases[0]) && !quiet.failed_from_overload());
        assert_eq!((quiet.summary.failed, quiet.summary.unjudged), (1, 0));
        // The same with the CPU measured saturated: not judged.
        let busy = report_on(vec![hung], 50, 0.95);
        assert!(busy.unjudged(&busy.cases[0]) && busy.failed_from_overload());
    }

    #[test]
    fn a_wrong_class_is_never_excused_even_beside_timed_out_scrapes() {
        let case = Case::new("c", "t.yaml", Expectation::down(ErrorClass::Unauthorized));
        // The last scrape answered with a wrong class; others timed out.
        let wrong_last = verdict(
            Health::Down,
            ErrorClass::Forbidden,
            vec![
                seen(Health::Down, ErrorClass::Timeout, 6),
                seen(Health::Down, ErrorClass::Forbidden, 2),
            ],
        );
        // The last scrape timed out, an earlier one answered with a wrong class.
        let wrong_before = verdict(
            Health::Down,
            ErrorClass::Timeout,
            vec![
                seen(Health::Up, ErrorClass::None, 1),
                seen(Health::Down, ErrorClass::Timeout, 7),
            ],
        );
        // Only timeouts in steady state, but the first scrape answered wrongly.
        let mut wrong_first = only(Health::Down, ErrorClass::Timeout, 8);
        wrong_first.first_seen = Some(seen(Health::Down, ErrorClass::Forbidden, 1));
        for v in [wrong_last, wrong_before, wrong_first] {
            let result = judged(&case, &v, &counters(1, 1));
            assert!(!result.pass && !result.load_suspect, "{v:?}: {result:?}");
            let report = report_on(vec![result], 90, 1.0);
            assert!(report.health.overloaded());
            assert!(!report.unjudged(&report.cases[0]) && !report.failed_from_overload());
        }
    }

    #[test]
    fn an_exporter_slow_by_design_is_never_excused() {
        let mut case = Case::new("c", "t.yaml", Expectation::up());
        case.exporter.faults.delay = Some(Duration::from_secs(5));
        assert!(slow_by_design(&case, 2));
        assert!(!slow_by_design(
            &Case::new("c", "t.yaml", Expectation::up()),
            2
        ));
        let timeout_expected = Case::new("t", "t.yaml", Expectation::down(ErrorClass::Timeout));
        assert!(slow_by_design(&timeout_expected, 2));
        let started = exporters::StartedCase::for_test();
        let mut result = CaseResult::new(&case, 2, &started);
        let prometheus = PrometheusSide {
            dialed: Some(1),
            failed_dials: 0,
            failed_scrapes: 8,
        };
        judge(
            &mut result,
            &case,
            Some(&only(Health::Down, ErrorClass::Timeout, 8)),
            &counters(1, 1),
            false,
            &prometheus,
            true,
        );
        result.pass = result.failures.is_empty();
        assert!(!result.pass && !result.load_suspect, "{result:?}");
        let report = report_on(vec![result], 90, 1.0);
        assert!(!report.unjudged(&report.cases[0]) && !report.failed_from_overload());
    }

    #[test]
    fn only_failures_with_the_signs_of_load_are_load_suspects() {
        let case = Case::new("c", "t.yaml", Expectation::down(ErrorClass::Unauthorized));
        // A wrong class with no timeout anywhere: the case's own failure.
        let wrong = only(Health::Down, ErrorClass::ClientCertRejected, 8);
        let result = judged(&case, &wrong, &counters(1, 1));
        assert!(!result.pass && !result.load_suspect, "{result:?}");
        // Nothing but timeouts: what an overloaded machine does.
        let slow = only(Health::Down, ErrorClass::Timeout, 8);
        let result = judged(&case, &slow, &counters(1, 1));
        assert!(!result.pass && result.load_suspect, "{result:?}");
        // A pass is never a suspect.
        let right = only(Health::Down, ErrorClass::Unauthorized, 8);
        assert!(!judged(&case, &right, &counters(1, 1)).load_suspect);
    }

    #[test]
    fn r8_is_judged_for_an_exporter_under_test_from_what_was_observed() {
        let mut case = Case::new("c", "t.yaml", Expectation::up());
        case.expect.http_version = Some(HttpVersion::Http2);
        let up = only(Health::Up, ErrorClass::None, 9);
        let with = |observed: Option<Result<HttpVersion, HttpVersionUnobserved>>| {
            let started = exporters::StartedCase::for_test();
            let mut result = CaseResult::new(&case, 2, &started);
            let counters = Counters {
                last: StatsSnapshot::default(),
                steady: None,
                http_version: observed,
            };
            let prometheus = PrometheusSide {
                dialed: Some(1),
                failed_dials: 0,
                failed_scrapes: 0,
            };
            judge(
                &mut result,
                &case,
                Some(&up),
                &counters,
                true,
                &prometheus,
                false,
            );
            result
        };
        let h2 = with(Some(Ok(HttpVersion::Http2)));
        assert!(h2.failures.is_empty(), "{:?}", h2.failures);
        assert_eq!(h2.http_versions, ["HTTP/2"]);
        let h1 = with(Some(Ok(HttpVersion::Http11)));
        assert_eq!(
            h1.failures,
            ["HTTP version: expected every scrape over HTTP/2, observed HTTP/1.1"]
        );
        let unobserved = with(Some(Err(HttpVersionUnobserved::Recorded(
            "TLS handshake: refused".into(),
        ))));
        assert_eq!(
            unobserved.failures,
            ["HTTP version: expected every scrape over HTTP/2, observed nothing (TLS handshake: refused)"]
        );
        // Nothing observed at all is a failure too, never a silent pass.
        assert!(!with(None).failures.is_empty());
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

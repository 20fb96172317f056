//! Runs a [`Plan`]: PKI and fake exporters for every case, ONE Prometheus with one job per
//! case, a deadline-bounded wait until every target was scraped N times (counted by
//! Prometheus itself), then verdicts from `/api/v1/targets`, the exporters' counters and
//! Prometheus' own `net_conntrack_*` metrics.

mod exporters;
pub mod external;

pub use external::{ExecTemplate, ExecTemplateError};

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde::Serialize;

use fake_exporter::pki::{Pki, PkiFiles};
use fake_exporter::RunningExporter;

use crate::backend::{self, BackendError, BackendKind, PrometheusOptions, RunningPrometheus};
use crate::classify::{classify, CaseContext, ErrorClass};
use crate::promconfig::{self, GlobalConfig, PromDuration, PrometheusConfig};
use crate::scenario::{self, ExpectHealth, KeepAlive, Plan, PlannedCase};
use crate::targets::{Health, PromApi, TargetStatus};

/// Prometheus' discovery throttle: new targets are synced at most every 5 s.
pub const DISCOVERY_DELAY: Duration = Duration::from_secs(5);

/// A harness failure (not a failed case).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Setting up the run directory, PKI or files failed.
    #[error("preparing the run: {0}")]
    Setup(String),
    /// A fake exporter did not start.
    #[error("case `{case}`: the fake exporter did not start: {source}")]
    Exporter {
        /// The case.
        case: String,
        /// Why.
        source: fake_exporter::Error,
    },
    /// The generated prometheus.yml failed `promtool check config`.
    #[error("the generated prometheus.yml is invalid: {0}")]
    Config(String),
    /// Prometheus did not start.
    #[error(transparent)]
    Backend(#[from] BackendError),
    /// The Prometheus API failed.
    #[error("talking to Prometheus: {0}")]
    Api(String),
    /// Targets were not scraped often enough before the deadline.
    #[error("deadline of {deadline:?} passed before every target had {scrapes} scrapes; still waiting for: {waiting}")]
    Deadline {
        /// The deadline.
        deadline: Duration,
        /// Scrapes required.
        scrapes: u32,
        /// Jobs still short, with their counts.
        waiting: String,
    },
}

/// How to run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Which backend.
    pub backend: BackendKind,
    /// `--prometheus-image`.
    pub image: Option<String>,
    /// `--prometheus-bin`.
    pub binary: Option<PathBuf>,
    /// Draw a progress bar on stderr (only when it is a terminal).
    pub progress: bool,
    /// Extra time allowed beyond the expected duration before giving up.
    pub slack: Duration,
    /// What serves each case: our fake exporter, or an exporter under test.
    pub launcher: Launcher,
    /// More directories the generated config refers to (mounted into a container).
    pub extra_mounts: Vec<PathBuf>,
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
            backend: BackendKind::Auto,
            image: None,
            binary: None,
            progress: false,
            slack: Duration::from_secs(30),
            launcher: Launcher::Fake,
            extra_mounts: Vec::new(),
        }
    }
}

/// The verdict on one case.
#[derive(Debug, Clone, Serialize)]
pub struct CaseResult {
    /// Case name (= job name).
    pub name: String,
    /// Scenario file.
    pub file: String,
    /// Whether every expectation held.
    pub pass: bool,
    /// Expected health.
    pub expected_health: ExpectHealth,
    /// Observed health: `up`, `down`, `unknown` or `missing`.
    pub health: String,
    /// Expected class.
    pub expected_error_class: String,
    /// Observed class.
    pub error_class: String,
    /// Raw `lastError` from Prometheus.
    pub last_error: String,
    /// Scrapes Prometheus made of the target (from `count_over_time(up[..])`).
    pub scrapes: u64,
    /// TLS handshakes the exporter completed.
    pub handshakes: u64,
    /// TLS handshakes the exporter saw fail, by reason.
    pub handshakes_failed: BTreeMap<String, u64>,
    /// TCP connections the exporter accepted.
    pub connections: u64,
    /// Requests the exporter answered.
    pub requests: u64,
    /// Connections Prometheus' dialer for this job established.
    pub conntrack_established: Option<u64>,
    /// HTTP version(s) of the requests (`HTTP/1.1`, `HTTP/2`).
    pub http_versions: Vec<String>,
    /// TLS version(s) negotiated.
    pub tls_versions: Vec<String>,
    /// Expected keep-alive behaviour.
    pub keep_alive: KeepAlive,
    /// Observed keep-alive behaviour, in words.
    pub keep_alive_observed: String,
    /// Every expectation that failed, one line each.
    pub failures: Vec<String>,
    /// The generated scrape job (YAML), for failure reports.
    pub job_yaml: String,
    /// The generated web-config.yml of the exporter.
    pub web_config_yaml: String,
    /// Why the case does not apply to the exporter under test (then `pass` is true and
    /// nothing was checked).
    pub not_applicable: Option<String>,
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
}

impl RunReport {
    /// Whether every case passed.
    pub fn all_passed(&self) -> bool {
        self.cases.iter().all(|c| c.pass)
    }
}

/// Everything that must stay alive while Prometheus scrapes.
struct Running {
    run_dir: tempfile::TempDir,
    exporters: Vec<Option<RunningExporter>>,
    externals: Vec<external::ExternalExporter>,
    case_docs: Vec<(String, String)>,
}

/// Runs the plan end to end.
pub async fn run(plan: &Plan, opts: &RunOptions) -> Result<RunReport, RunError> {
    let t0 = Instant::now();
    let mut run_dir = tempfile::Builder::new()
        .prefix("scrape-harness-run-")
        .tempdir()
        .map_err(|e| RunError::Setup(format!("creating a temp dir: {e}")))?;
    run_dir.disable_cleanup(backend::keep_requested());
    if backend::keep_requested() {
        eprintln!(
            "HARNESS_KEEP=1: keeping the run dir {} (PKI, web configs)",
            run_dir.path().display()
        );
    }
    // `owner.pid` lets the leftover sweep (`backend::sweep_leftovers`) remove this
    // directory (PKI keys included) when this harness dies without unwinding (SIGKILL).
    let owner = run_dir.path().join("owner.pid");
    std::fs::write(&owner, format!("{}\n", std::process::id()))
        .map_err(|e| RunError::Setup(format!("writing {}: {e}", owner.display())))?;
    let pki = Pki::generate(plan.defaults.key_type)
        .map_err(|e| RunError::Setup(format!("generating the PKI: {e}")))?;
    let pki_files = pki
        .write_to(&run_dir.path().join("pki"))
        .map_err(|e| RunError::Setup(format!("writing the PKI: {e}")))?;

    let started = exporters::start_all(plan, &pki_files, run_dir.path(), &opts.launcher).await?;
    let mut config = PrometheusConfig {
        global: Some(GlobalConfig {
            scrape_interval: Some(prom_duration(plan.defaults.scrape_interval)),
            scrape_timeout: Some(prom_duration(plan.defaults.scrape_timeout)),
            evaluation_interval: None,
        }),
        scrape_configs: Vec::new(),
    };
    for s in &started {
        config.scrape_configs.extend(s.job.clone());
    }
    let skipped: BTreeMap<String, (Option<String>, Option<String>)> = plan
        .cases
        .iter()
        .zip(&started)
        .filter(|(_, s)| s.job.is_none())
        .map(|(c, s)| {
            (
                c.case.name.clone(),
                (s.not_applicable.clone(), s.start_failure.clone()),
            )
        })
        .collect();
    // Once, when every file Prometheus reads (PKI, case files) is written.
    make_world_readable(run_dir.path());
    check_config(plan, &config, run_dir.path())?;
    let mut running = Running {
        run_dir,
        exporters: Vec::with_capacity(started.len()),
        externals: Vec::new(),
        case_docs: Vec::with_capacity(started.len()),
    };
    let mut stats_handles = Vec::with_capacity(started.len());
    for s in started {
        stats_handles.push(s.stats);
        running.exporters.push(s.exporter);
        running.externals.extend(s.external);
        running.case_docs.push((s.job_yaml, s.web_config_yaml));
    }
    let setup_s = t0.elapsed().as_secs_f64();

    let mut options = PrometheusOptions::new(promconfig::render(&config));
    options.kind = opts.backend;
    options.image = opts.image.clone();
    options.binary = opts.binary.clone();
    options.extra_mounts = vec![running.run_dir.path().to_owned()];
    options
        .extra_mounts
        .extend(opts.extra_mounts.iter().cloned());
    let t_start = Instant::now();
    let prometheus = backend::start(options).await?;
    let prometheus_start_s = t_start.elapsed().as_secs_f64();
    let ready_at = Instant::now();
    tracing::info!(backend = %prometheus.description(), "Prometheus ready in {prometheus_start_s:.2}s");
    if opts.progress {
        // The CLI says which backend `auto` picked, and why.
        eprintln!(
            "scrape-harness: Prometheus ready in {prometheus_start_s:.2}s: {}",
            prometheus.description()
        );
    }

    let api = PromApi::new(prometheus.base_url());
    let waited = wait_for_scrapes(plan, &skipped, &api, &prometheus, opts, ready_at).await?;
    let verdicts_at = Instant::now();
    let build = api
        .build_info()
        .await
        .map_err(|e| RunError::Api(e.to_string()))?;
    let conntrack = api
        .conntrack_established()
        .await
        .map_err(|e| RunError::Api(e.to_string()))?;
    let failed_pools = api
        .failed_scrape_pools()
        .await
        .map_err(|e| RunError::Api(e.to_string()))?;
    let prometheus_log = prometheus.logs();
    // "2.42.0+ds" -> 2; wording and some outcomes differ from 3.x on.
    let prometheus_major: u32 = build
        .version
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(2);

    let mut cases = Vec::with_capacity(plan.cases.len());
    for (i, pc) in plan.cases.iter().enumerate() {
        if let Some((not_applicable, start_failure)) = skipped.get(&pc.case.name) {
            let (job_yaml, web_config_yaml) = running.case_docs[i].clone();
            cases.push(unscraped(
                pc,
                not_applicable.clone(),
                start_failure.clone(),
                job_yaml,
                web_config_yaml,
            ));
            continue;
        }
        let target = waited.targets.iter().find(|t| t.job == pc.case.name);
        let scrapes = waited.scrapes.get(&pc.case.name).copied().unwrap_or(0);
        let stats = stats_handles[i].snapshot();
        let (job_yaml, web_config_yaml) = running.case_docs[i].clone();
        let mut result = verdict(
            pc,
            prometheus_major,
            target,
            scrapes,
            &stats,
            !matches!(opts.launcher, Launcher::Fake),
            conntrack.get(&pc.case.name).map(|v| *v as u64),
            job_yaml,
            web_config_yaml,
        );
        if target.is_none() {
            // Prometheus says why it dropped the job only in its log and in
            // prometheus_target_scrape_pools_failed_total.
            let why = crate::fixture::dropped_reason(&prometheus_log, &pc.case.name)
                .map(|reason| format!("; Prometheus logged: {reason}"))
                .unwrap_or_default();
            result.last_error = format!(
                "job not in /api/v1/targets; prometheus_target_scrape_pools_failed_total = {failed_pools}{why}"
            );
            if failed_pools < 1.0 && result.pass {
                result.pass = false;
                result.failures.push("job missing but prometheus_target_scrape_pools_failed_total is 0: it was not dropped by Prometheus".into());
            }
        }
        cases.push(result);
    }
    let verdicts_s = verdicts_at.duration_since(ready_at).as_secs_f64();
    let interval = plan.defaults.scrape_interval.as_secs_f64();
    let bound_s = waited.first_scrape_s + f64::from(plan.defaults.scrapes + 1) * interval + 2.0;
    let report = RunReport {
        cases,
        prometheus: prometheus.description(),
        prometheus_version: build.version,
        go_version: build.go_version,
        scrapes_required: plan.defaults.scrapes,
        scrape_interval_s: interval,
        timings: Timings {
            setup_s,
            prometheus_start_s,
            first_scrape_s: waited.first_scrape_s,
            verdicts_s,
            bound_s,
            within_bound: verdicts_s <= bound_s,
        },
        failed_scrape_pools: failed_pools,
    };
    if backend::keep_requested() {
        // Dropping honours HARNESS_KEEP: it prints what was kept and how to remove it.
        drop(prometheus);
    } else if let Err(e) = prometheus.stop().await {
        tracing::warn!(error = %e, "stopping Prometheus");
    }
    for e in running.exporters.iter_mut() {
        if let Some(e) = e.take() {
            let _ = e.shutdown().await;
        }
    }
    for e in running.externals.drain(..) {
        e.stop().await;
    }
    Ok(report)
}

fn prom_duration(d: Duration) -> PromDuration {
    PromDuration::try_from(d).unwrap_or_else(|_| {
        PromDuration::try_from(Duration::from_millis(d.as_millis() as u64)).unwrap_or_default()
    })
}

/// Container users must read the PKI and case files: make the run dir world-readable
/// (keys included: the directory is private to this run and removed afterwards).
fn make_world_readable(dir: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    fn walk(p: &std::path::Path) {
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
fn check_config(
    plan: &Plan,
    config: &PrometheusConfig,
    dir: &std::path::Path,
) -> Result<(), RunError> {
    let mut checked = config.clone();
    checked.scrape_configs.retain(|job| {
        plan.cases
            .iter()
            .find(|c| c.case.name == job.job_name)
            .is_none_or(|c| c.case.expect.health != ExpectHealth::Missing)
    });
    let path = dir.join("prometheus.check.yml");
    promconfig::write(&checked, &path).map_err(|e| RunError::Config(e.to_string()))?;
    match promconfig::promtool_check(&path) {
        Ok(_) => Ok(()),
        Err(e) => Err(RunError::Config(e.to_string())),
    }
}

struct Waited {
    targets: Vec<TargetStatus>,
    scrapes: BTreeMap<String, u64>,
    first_scrape_s: f64,
}

/// Polls until every job that Prometheus kept has been scraped `scrapes` times. Jobs
/// expected to be missing must be absent; a job absent when all others are done is
/// reported as missing (its verdict says so).
async fn wait_for_scrapes(
    plan: &Plan,
    skipped: &BTreeMap<String, (Option<String>, Option<String>)>,
    api: &PromApi,
    prometheus: &RunningPrometheus,
    opts: &RunOptions,
    ready_at: Instant,
) -> Result<Waited, RunError> {
    let need = u64::from(plan.defaults.scrapes);
    let interval = plan.defaults.scrape_interval;
    let deadline = DISCOVERY_DELAY + interval * (plan.defaults.scrapes + 2) + opts.slack;
    let bar = progress_bar(opts.progress, plan.cases.len() as u64);
    let mut first_scrape_s: Option<f64> = None;
    let poll = Duration::from_millis(100);
    loop {
        let targets = api
            .targets()
            .await
            .map_err(|e| RunError::Api(e.to_string()))?;
        let mut scrapes: BTreeMap<String, u64> = BTreeMap::new();
        for (key, n) in api
            .scrape_counts()
            .await
            .map_err(|e| RunError::Api(e.to_string()))?
        {
            let e = scrapes.entry(key.job).or_default();
            *e = (*e).max(n);
        }
        if first_scrape_s.is_none() && scrapes.values().any(|&n| n > 0) {
            first_scrape_s = Some(ready_at.elapsed().as_secs_f64());
        }
        let present: Vec<&str> = plan
            .cases
            .iter()
            .map(|c| c.case.name.as_str())
            .filter(|name| !skipped.contains_key(*name))
            .filter(|name| targets.iter().any(|t| t.job == *name))
            .collect();
        let done = present
            .iter()
            .filter(|n| scrapes.get(**n).copied().unwrap_or(0) >= need)
            .count();
        if let Some(bar) = &bar {
            bar.set_position(done as u64);
            bar.set_message(format!(
                "{} of {} jobs present",
                present.len(),
                plan.cases.len()
            ));
        }
        let expected = plan.cases.len() - skipped.len();
        let all_present_done = (!present.is_empty() && done == present.len()) || expected == 0;
        // Every job Prometheus created shows up in the same discovery round; once those are
        // done, an absent job was dropped.
        if all_present_done {
            if let Some(bar) = bar {
                bar.finish_and_clear();
            }
            return Ok(Waited {
                targets,
                scrapes,
                first_scrape_s: first_scrape_s.unwrap_or(0.0),
            });
        }
        if ready_at.elapsed() > deadline {
            if let Some(bar) = bar {
                bar.abandon();
            }
            let waiting: Vec<String> = plan
                .cases
                .iter()
                .filter(|c| !skipped.contains_key(&c.case.name))
                .filter(|c| scrapes.get(&c.case.name).copied().unwrap_or(0) < need)
                .map(|c| {
                    format!(
                        "{} ({})",
                        c.case.name,
                        scrapes.get(&c.case.name).copied().unwrap_or(0)
                    )
                })
                .collect();
            tracing::error!("Prometheus log tail:\n{}", prometheus.logs());
            return Err(RunError::Deadline {
                deadline,
                scrapes: plan.defaults.scrapes,
                waiting: waiting.join(", "),
            });
        }
        tokio::time::sleep(poll).await;
    }
}

fn progress_bar(enabled: bool, len: u64) -> Option<indicatif::ProgressBar> {
    use std::io::IsTerminal;
    if !enabled || !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new(len);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} waiting for scrapes [{bar:30}] {pos}/{len} jobs done ({msg}) {elapsed}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar.enable_steady_tick(Duration::from_millis(100));
    Some(bar)
}

/// The result of a case nothing scraped: not applicable, or the exporter did not start.
fn unscraped(
    pc: &PlannedCase,
    not_applicable: Option<String>,
    start_failure: Option<String>,
    job_yaml: String,
    web_config_yaml: String,
) -> CaseResult {
    let failures: Vec<String> = start_failure.iter().cloned().collect();
    CaseResult {
        name: pc.case.name.clone(),
        file: pc.file.clone(),
        pass: failures.is_empty(),
        expected_health: pc.case.expect.health,
        health: if not_applicable.is_some() {
            "n/a".into()
        } else {
            "not_started".into()
        },
        expected_error_class: pc.expected_class.to_string(),
        error_class: if not_applicable.is_some() {
            "n/a".into()
        } else {
            "not_started".into()
        },
        last_error: not_applicable.clone().or(start_failure).unwrap_or_default(),
        scrapes: 0,
        handshakes: 0,
        handshakes_failed: BTreeMap::new(),
        connections: 0,
        requests: 0,
        conntrack_established: None,
        http_versions: Vec::new(),
        tls_versions: Vec::new(),
        keep_alive: pc.keep_alive,
        keep_alive_observed: String::new(),
        failures,
        job_yaml,
        web_config_yaml,
        not_applicable,
    }
}

fn verdict(
    pc: &PlannedCase,
    prometheus_major: u32,
    target: Option<&TargetStatus>,
    scrapes: u64,
    stats: &fake_exporter::StatsSnapshot,
    external: bool,
    conntrack: Option<u64>,
    job_yaml: String,
    web_config_yaml: String,
) -> CaseResult {
    let ctx = CaseContext {
        scheme_https: pc.scrape_https(),
        target_tls: pc.exporter_tls(),
        target_requires_client_cert: scenario::exporter_requires_client_cert(&pc.case),
        job_presents_client_cert: scenario::presents_client_cert(&pc.case),
    };
    let (health, last_error, class) = match target {
        None => ("missing".to_owned(), String::new(), ErrorClass::JobMissing),
        Some(t) => {
            let health = match t.health {
                Health::Up => "up",
                Health::Down => "down",
                Health::Unknown => "unknown",
            };
            (
                health.to_owned(),
                t.last_error.clone(),
                classify(&t.last_error, &ctx),
            )
        }
    };
    let mut failures = Vec::new();
    let (expected_health_kind, expected_class) = pc.expected_for(prometheus_major);
    let expected_health = match expected_health_kind {
        ExpectHealth::Up => "up",
        ExpectHealth::Down => "down",
        ExpectHealth::Missing => "missing",
    };
    if health != expected_health {
        failures.push(format!(
            "health: expected {expected_health}, observed {health}"
        ));
    }
    if class != expected_class {
        failures.push(format!(
            "error class: expected {}, observed {class}",
            pc.expected_class
        ));
    }
    if let Some(sub) = &pc.case.expect.last_error_contains {
        if !last_error.contains(sub.as_str()) {
            failures.push(format!(
                "lastError: expected to contain {sub:?}, observed {last_error:?}"
            ));
        }
    }
    // An exporter under test has no counters of ours: Prometheus' dialer count stands in
    // for its connections, and its scrape count for requests.
    let (handshakes, connections, requests) = if external {
        (0, conntrack.unwrap_or(0), scrapes)
    } else {
        (
            stats.handshakes_ok,
            stats.connections_accepted,
            stats.requests_total(),
        )
    };
    let keep_alive_observed =
        format!("{connections} connection(s), {handshakes} handshake(s) for {requests} request(s)");
    match pc.keep_alive {
        KeepAlive::One => {
            let tls_ok = !pc.exporter_tls() || handshakes <= 1;
            if connections != 1 || !tls_ok || requests < scrapes.min(2) {
                failures.push(format!(
                    "keep-alive: expected one connection for all scrapes, observed {keep_alive_observed}"
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
    if let (Some(dialed), true) = (
        conntrack,
        target.is_some() && !pc.case.exporter.absent && !external,
    ) {
        if dialed.abs_diff(connections) > 1 {
            failures.push(format!(
                "keep-alive accounting: Prometheus dialed {dialed} connection(s) for the job, the exporter accepted {connections}"
            ));
        }
    }
    let http_versions_seen = {
        let mut v: Vec<String> = stats
            .requests
            .iter()
            .map(|r| r.http_version.clone())
            .collect();
        v.sort();
        v.dedup();
        v
    };
    let http_versions = http_versions_seen;
    if let (Some(want), false) = (&pc.case.expect.http_version, external) {
        if http_versions.iter().any(|v| v != want) || http_versions.is_empty() {
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
    let tls_versions = {
        let mut v: Vec<String> = stats
            .tls_sessions
            .iter()
            .map(|s| s.info.version.clone())
            .collect();
        v.sort();
        v.dedup();
        v
    };
    CaseResult {
        name: pc.case.name.clone(),
        file: pc.file.clone(),
        pass: failures.is_empty(),
        expected_health: expected_health_kind,
        health,
        expected_error_class: expected_class.to_string(),
        error_class: class.to_string(),
        last_error,
        scrapes,
        handshakes,
        handshakes_failed: stats.handshakes_failed.clone(),
        connections,
        requests,
        conntrack_established: conntrack,
        http_versions,
        tls_versions,
        keep_alive: pc.keep_alive,
        keep_alive_observed,
        failures,
        job_yaml,
        web_config_yaml,
        not_applicable: None,
    }
}

/// Resolved PKI paths, for callers that need them (labs, conformance).
pub fn pki_path(pki: &PkiFiles, name: &str) -> Option<PathBuf> {
    pki.by_name(name)
}

//! A Prometheus test fixture, in the spirit of testcontainers' community modules: other
//! crates' tests start a real Prometheus with a few jobs, wait until it has scraped them,
//! and read its verdicts, in a few lines.
//!
//! ```no_run
//! # async fn demo() -> Result<(), scrape_harness::FixtureError> {
//! use std::time::Duration;
//! use scrape_harness::{BackendKind, PrometheusFixture, ScrapeConfig};
//!
//! let prom = PrometheusFixture::builder()
//!     .backend(BackendKind::Auto)
//!     .scrape_interval(Duration::from_millis(200))
//!     .job(ScrapeConfig::new("node", ["127.0.0.1:9100"]))
//!     .start()
//!     .await?;
//! let verdicts = prom.wait_scraped(3, Duration::from_secs(20)).await?;
//! println!("{}: {} {} {:?}", verdicts[0].job, verdicts[0].health, verdicts[0].class, verdicts[0].last_error);
//! prom.reload_with(|cfg| cfg.scrape_configs.push(ScrapeConfig::new("self", [prom.address()])))
//!     .await?;
//! # Ok(()) }
//! ```
//!
//! Built on [`crate::backend`] (start, reload, RAII cleanup), [`crate::promconfig`] (the
//! `prometheus.yml`), [`crate::targets`] (the API, deadline-bounded waits) and
//! [`crate::classify`] (the class of `lastError`).
//!
//! # Files the config refers to
//!
//! The parent directory of every `*_file` path in the config (`ca_file`, `cert_file`,
//! `key_file`, `password_file`, `credentials_file`) is bind-mounted at the same path when
//! the backend is a container; directories that do not exist are skipped (a missing
//! `ca_file` is a way to make Prometheus drop a job). A running container cannot get new
//! mounts: a reload that needs a directory outside those mounted at start fails with
//! [`FixtureError::NotMounted`]; declare it up front with [`FixtureBuilder::mount`].
//!
//! # Jobs Prometheus drops
//!
//! Prometheus 2.x loads some broken jobs (a missing `ca_file`, `cert_file` without
//! `key_file`) and then silently drops them. [`PrometheusFixture::wait_scraped`] reports such
//! a job as [`Health::Missing`] once Prometheus' log names it ("error creating new
//! scrape pool"), with the logged reason as `last_error`.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::sync::Mutex;

use crate::backend::{
    self, BackendError, BackendKind, PrometheusChoice, PrometheusOptions, RunningPrometheus,
};
use crate::classify::{classify, CaseContext, ErrorClass};
use crate::promconfig::{
    self, GlobalConfig, PromConfigError, PromDuration, PrometheusConfig, Scheme, ScrapeConfig,
};
use crate::targets::{self, ApiError, Health, Probe, PromApi, TargetStatus, WaitError};

/// The fixture's scrape interval (and timeout) unless the test sets one: a test wants
/// verdicts in seconds, not Prometheus' production default of one minute.
pub const DEFAULT_SCRAPE_INTERVAL: Duration = Duration::from_secs(1);

/// How often [`PrometheusFixture::wait_scraped`] polls the API, at least.
const POLL: Duration = Duration::from_millis(100);
/// Added to the poll period per job: every poll reads every target and a query over all of
/// them, which on a matrix of thousands of jobs costs Prometheus and the harness the CPU
/// their scrapes need (1,000 jobs: a poll every 250 ms; capped at [`POLL_MAX`]).
const POLL_PER_JOB: Duration = Duration::from_micros(250);
/// The longest poll period.
const POLL_MAX: Duration = Duration::from_secs(1);

/// The poll period for a config of `jobs` jobs.
fn poll_period(jobs: usize) -> Duration {
    (POLL_PER_JOB * u32::try_from(jobs).unwrap_or(u32::MAX)).clamp(POLL, POLL_MAX)
}
/// Log lines searched for "error creating new scrape pool" (Prometheus logs them at
/// start and on every reload; a thousand-job config logs little else).
const DROPPED_LOG_LINES: usize = 2_000;

/// Where a wait stands, passed to the callback of [`PrometheusFixture::wait_scraped_with`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct WaitProgress<'a> {
    /// The verdicts of this poll (jobs not in `/api/v1/targets` yet are left out).
    pub verdicts: &'a [Verdict],
    /// Jobs in the config.
    pub jobs: usize,
    /// Jobs in `/api/v1/targets` so far.
    pub jobs_present: usize,
    /// Jobs whose every target has been scraped often enough (or that were dropped).
    pub jobs_done: usize,
    /// Whether any target has been scraped yet.
    pub any_scraped: bool,
}

#[derive(Debug, Default)]
struct Polled {
    verdicts: Vec<Verdict>,
    absent: Vec<String>,
}

/// Why the fixture could not start, reload or wait.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FixtureError {
    /// Prometheus did not start, reload or stop.
    #[error(transparent)]
    Backend(#[from] BackendError),
    /// A setting cannot be written to `prometheus.yml`.
    #[error(transparent)]
    Config(#[from] PromConfigError),
    /// The Prometheus API failed.
    #[error(transparent)]
    Api(#[from] ApiError),
    /// A reload refers to files in a directory the container does not see.
    #[error(
        "{}: referenced by job `{job}` but not mounted into the Prometheus container (mounts \
         are fixed at start); add `.mount(\"{}\")` to the PrometheusFixture builder",
        .path.display(), .dir.display()
    )]
    NotMounted {
        /// The job that refers to the file.
        job: String,
        /// The file.
        path: PathBuf,
        /// Its directory, the one to mount.
        dir: PathBuf,
    },
    /// The deadline passed before every job was scraped often enough.
    #[error(
        "not every target was {until} within {deadline:?}: {detail}; Prometheus log tail:\n{log}"
    )]
    Deadline {
        /// What was waited for.
        until: Until,
        /// The deadline.
        deadline: Duration,
        /// What was still pending.
        detail: String,
        /// The last lines of Prometheus' log.
        log: String,
    },
}

/// What a wait of the fixture waits for, for every target (a dropped job counts as done).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Until {
    /// Scraped at least this many times, failed scrapes included.
    Scraped(u64),
    /// Up: the last scrape succeeded.
    Up,
}

impl Until {
    /// Whether the target of `verdict` is done waiting.
    fn holds(self, verdict: &Verdict) -> bool {
        verdict.health == Health::Missing
            || match self {
                Self::Scraped(times) => verdict.scrapes >= times,
                Self::Up => verdict.health == Health::Up,
            }
    }
}

impl fmt::Display for Until {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Scraped(times) => write!(f, "scraped {times} time(s)"),
            Self::Up => f.write_str("up"),
        }
    }
}

/// Prometheus' verdict on one target (one per target; a dropped job has one, without
/// instance).
#[derive(Clone, Debug, PartialEq)]
pub struct Verdict {
    /// The job name.
    pub job: String,
    /// The `instance` label; empty for a dropped job.
    pub instance: String,
    /// Health.
    pub health: Health,
    /// Raw `lastError` (for a dropped job: the reason from Prometheus' log, if found).
    pub last_error: String,
    /// The class of `last_error`.
    pub class: ErrorClass,
    /// Scrapes so far, failed ones included.
    pub scrapes: u64,
    /// Outcomes of the scrapes the polls saw after the first one (the warm-up), with how
    /// often each was seen. Polls run every 100 ms (longer for many jobs) and may miss a scrape; a scrape is
    /// counted once. Lets a caller tell a steady outcome from a passing one (a scrape that
    /// timed out once on a busy machine).
    pub steady_state: Vec<SeenOutcome>,
    /// Outcome of the first scrape the polls saw (left out of `steady_state`): when every
    /// later scrape timed out on a busy machine, it still shows what the target answers.
    pub first_seen: Option<SeenOutcome>,
}

/// One outcome of a target's scrapes and how many scrapes had it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct SeenOutcome {
    /// Health after the scrape.
    pub health: Health,
    /// Class of its `lastError`.
    pub class: ErrorClass,
    /// Scrapes seen with this outcome.
    pub scrapes: u64,
}

impl Verdict {
    /// The verdict on a job Prometheus dropped.
    fn missing(job: &str, reason: String) -> Self {
        Self {
            job: job.to_owned(),
            instance: String::new(),
            health: Health::Missing,
            last_error: reason,
            class: ErrorClass::JobMissing,
            scrapes: 0,
            steady_state: Vec::new(),
            first_seen: None,
        }
    }
}

/// Configures a [`PrometheusFixture`]; [`FixtureBuilder::start`] runs it.
#[derive(Debug, Clone)]
#[must_use = "a FixtureBuilder does nothing until `.start().await`"]
pub struct FixtureBuilder {
    options: PrometheusOptions,
    config: PrometheusConfig,
    contexts: BTreeMap<String, CaseContext>,
    mounts: Vec<PathBuf>,
}

impl Default for FixtureBuilder {
    fn default() -> Self {
        Self {
            options: PrometheusOptions::new(String::new()),
            config: PrometheusConfig {
                global: Some(GlobalConfig {
                    scrape_interval: Some(millis(DEFAULT_SCRAPE_INTERVAL)),
                    ..GlobalConfig::default()
                }),
                scrape_configs: Vec::new(),
            },
            contexts: BTreeMap::new(),
            mounts: Vec::new(),
        }
    }
}

impl FixtureBuilder {
    /// Container, process, or auto (default: a container when Docker answers).
    pub fn backend(mut self, kind: BackendKind) -> Self {
        self.options.kind = kind;
        self
    }

    /// Which Prometheus: backend, image and binary at once (`--backend`,
    /// `--prometheus-image`, `--prometheus-bin`).
    pub fn prometheus(mut self, choice: &PrometheusChoice) -> Self {
        choice.fill(&mut self.options);
        self
    }

    /// The container image to run (like `--prometheus-image`).
    pub fn image(mut self, image: impl Into<String>) -> Self {
        self.options.image = Some(image.into());
        self
    }

    /// The Prometheus binary (like `--prometheus-bin`).
    pub fn binary(mut self, path: impl Into<PathBuf>) -> Self {
        self.options.binary = Some(path.into());
        self
    }

    /// `global.scrape_interval`; also the `scrape_timeout` unless that is set. Prometheus
    /// durations have millisecond resolution: finer parts are dropped.
    pub fn scrape_interval(mut self, interval: Duration) -> Self {
        let global = self.config.global.get_or_insert_with(GlobalConfig::default);
        global.scrape_interval = Some(millis(interval));
        self
    }

    /// `global.scrape_timeout` (must not exceed the interval).
    pub fn scrape_timeout(mut self, timeout: Duration) -> Self {
        let global = self.config.global.get_or_insert_with(GlobalConfig::default);
        global.scrape_timeout = Some(millis(timeout));
        self
    }

    /// Adds a scrape job.
    pub fn job(mut self, job: ScrapeConfig) -> Self {
        self.config.scrape_configs.push(job);
        self
    }

    /// Says what the targets of `job` are (TLS, client certificates), so that `lastError` is
    /// classified like the scenario runner does. Without it the fixture assumes the target
    /// speaks TLS exactly when the job uses `https`, and asks for no client certificate.
    pub fn target_context(mut self, job: impl Into<String>, context: CaseContext) -> Self {
        self.contexts.insert(job.into(), context);
        self
    }

    /// Mounts `dir` into the container (at the same path) even though the initial config
    /// does not refer to it, for files that later reloads use.
    pub fn mount(mut self, dir: impl Into<PathBuf>) -> Self {
        self.mounts.push(dir.into());
        self
    }

    /// Runs Prometheus with its own `--web.config.file` (TLS, Basic auth on its UI, API and
    /// `/-/ready`); the fixture's API client uses the CA and the credentials.
    pub fn web_config(mut self, web: crate::backend::PrometheusWebConfig) -> Self {
        self.options.web_config = Some(web);
        self
    }

    /// How long to wait for `/-/ready` (default 30 s).
    pub fn ready_timeout(mut self, timeout: Duration) -> Self {
        self.options.ready_timeout = timeout;
        self
    }

    /// More Prometheus flags.
    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.options.extra_args.push(arg.into());
        self
    }

    /// The `prometheus.yml` that [`Self::start`] will run (the scrape timeout defaults to the
    /// interval).
    pub fn config(&self) -> PrometheusConfig {
        let mut config = self.config.clone();
        if let Some(global) = &mut config.global {
            if global.scrape_timeout.is_none() {
                global.scrape_timeout = global.scrape_interval;
            }
        }
        config
    }

    /// Starts Prometheus and returns once `/-/ready` answers 200.
    pub async fn start(self) -> Result<PrometheusFixture, FixtureError> {
        let config = self.config();
        let Self {
            mut options,
            contexts,
            mounts,
            ..
        } = self;
        options.config_yaml = promconfig::render(&config);
        let mut mounted = mounts;
        mounted.extend(referenced_dirs(&config).into_iter().map(|(_, _, dir)| dir));
        mounted.extend(options.web_config.iter().flat_map(|w| w.mounts()));
        mounted.retain(|dir| dir.is_dir());
        mounted.sort();
        mounted.dedup();
        options.extra_mounts = mounted.clone();
        let prometheus = backend::start(options).await?;
        Ok(PrometheusFixture {
            prometheus,
            state: Mutex::new(State { config, contexts }),
            seen: std::sync::Mutex::default(),
            mounted: mounted
                .iter()
                .filter_map(|d| d.canonicalize().ok())
                .collect(),
        })
    }
}

#[derive(Debug)]
struct State {
    config: PrometheusConfig,
    contexts: BTreeMap<String, CaseContext>,
}

/// A running Prometheus with the jobs it was given; dropped = stopped and removed.
#[must_use = "dropping a PrometheusFixture stops Prometheus at once"]
#[derive(Debug)]
pub struct PrometheusFixture {
    prometheus: RunningPrometheus,
    state: Mutex<State>,
    mounted: Vec<PathBuf>,
    /// Scrapes seen by the polls so far, per target (see [`Verdict::steady_state`]).
    seen: std::sync::Mutex<BTreeMap<targets::TargetKey, Seen>>,
}

/// The scrapes of one target that the polls have seen.
#[derive(Debug, Default)]
struct Seen {
    /// `lastScrape` of the last scrape recorded, so each scrape is recorded once.
    last_scrape: Option<std::time::SystemTime>,
    /// Outcomes of the scrapes after the first one seen.
    steady: Vec<SeenOutcome>,
    /// Outcome of the first scrape seen.
    first: Option<SeenOutcome>,
}

impl PrometheusFixture {
    /// A builder with the defaults: auto backend, a 1 s scrape interval and timeout
    /// ([`DEFAULT_SCRAPE_INTERVAL`]), no jobs.
    pub fn builder() -> FixtureBuilder {
        FixtureBuilder::default()
    }

    /// `http://127.0.0.1:<port>`.
    pub fn base_url(&self) -> &str {
        self.prometheus.base_url()
    }

    /// `127.0.0.1:<port>`, e.g. to let Prometheus scrape itself.
    pub fn address(&self) -> String {
        let url = self.base_url();
        url.split_once("://")
            .map_or(url, |(_, rest)| rest)
            .to_owned()
    }

    /// The API client.
    pub fn api(&self) -> &PromApi {
        self.prometheus.api()
    }

    /// The backend handle (kind, description, logs, work dir, pid or container id).
    pub fn prometheus(&self) -> &RunningPrometheus {
        &self.prometheus
    }

    /// The config Prometheus runs now.
    pub async fn config(&self) -> PrometheusConfig {
        self.state.lock().await.config.clone()
    }

    /// Replaces the config and reloads Prometheus (`POST /-/reload`, checked).
    pub async fn reload(&self, config: PrometheusConfig) -> Result<(), FixtureError> {
        self.reload_with(|cfg| *cfg = config).await
    }

    /// Edits the config in place and reloads Prometheus. New targets show up in
    /// `/api/v1/targets` a few seconds later (Prometheus' discovery throttle);
    /// [`Self::wait_scraped`] waits for them.
    pub async fn reload_with(
        &self,
        edit: impl FnOnce(&mut PrometheusConfig),
    ) -> Result<(), FixtureError> {
        let mut state = self.state.lock().await;
        let mut config = state.config.clone();
        edit(&mut config);
        if self.prometheus.kind() == BackendKind::Container {
            self.check_mounted(&config)?;
        }
        self.prometheus.reload(&promconfig::render(&config)).await?;
        state.config = config;
        Ok(())
    }

    /// Polls until every target of every job has been scraped at least `times` times
    /// (failed scrapes count), or Prometheus dropped the job, and returns one verdict per
    /// target, in job order. Fails at `deadline` with what was still pending.
    pub async fn wait_scraped(
        &self,
        times: u64,
        deadline: Duration,
    ) -> Result<Vec<Verdict>, FixtureError> {
        self.wait(Until::Scraped(times), deadline).await
    }

    /// Polls until `until` holds for every target of every job (a job Prometheus dropped
    /// counts as done), and returns one verdict per target, in job order. Fails at
    /// `deadline` with what was still pending.
    pub async fn wait(
        &self,
        until: Until,
        deadline: Duration,
    ) -> Result<Vec<Verdict>, FixtureError> {
        self.wait_with(until, deadline, |_| {}).await
    }

    /// [`Self::wait_scraped`] with a callback after every poll.
    pub async fn wait_scraped_with(
        &self,
        times: u64,
        deadline: Duration,
        progress: impl FnMut(&WaitProgress<'_>) + Send,
    ) -> Result<Vec<Verdict>, FixtureError> {
        self.wait_with(Until::Scraped(times), deadline, progress)
            .await
    }

    /// [`Self::wait`], calling `progress` after every poll (to draw a progress bar or note
    /// when the first scrape happened).
    ///
    /// A job that is not in `/api/v1/targets` is [`Health::Missing`] once Prometheus' log
    /// names its scrape pool as failed ("error creating new scrape pool"), with the logged
    /// reason as `last_error`; until then it is waited for like any job discovery has not
    /// synced yet (a cumulative counter such as `prometheus_target_scrape_pools_failed_total`
    /// cannot tell a new job from one dropped again by a reload).
    pub async fn wait_with(
        &self,
        until: Until,
        deadline: Duration,
        progress: impl FnMut(&WaitProgress<'_>) + Send,
    ) -> Result<Vec<Verdict>, FixtureError> {
        let state = self.state.lock().await;
        let state = &*state;
        // Shared by every probe future; never held across an await.
        let progress = &std::sync::Mutex::new(progress);
        let poll = poll_period(state.config.scrape_configs.len());
        let outcome = targets::wait_until(deadline, poll, move || async move {
            let polled = match self.poll(state).await {
                Ok(polled) => polled,
                // An API read that timed out on a busy machine is tried again at the next
                // poll; the wait's deadline still bounds it.
                Err(e @ ApiError::Http { .. }) => {
                    return Ok(Probe::Pending(format!(
                        "Prometheus' API did not answer: {e}"
                    )))
                }
                Err(e) => return Err(e),
            };
            let mut pending: Vec<String> = polled
                .verdicts
                .iter()
                .filter(|v| !until.holds(v))
                .map(|v| {
                    format!(
                        "{}/{} ({}, {} scrapes)",
                        v.job, v.instance, v.health, v.scrapes
                    )
                })
                .collect();
            let absent = polled.absent.len();
            // A job Prometheus dropped is known from its log line ("error creating new scrape
            // pool"); any other absent job is one discovery has not synced yet (new jobs show
            // up a few seconds after start or a reload).
            pending.extend(
                polled
                    .absent
                    .iter()
                    .map(|j| format!("{j} (no targets yet)")),
            );
            let verdicts = polled.verdicts;
            let mut jobs: BTreeMap<&str, bool> = BTreeMap::new();
            for v in &verdicts {
                *jobs.entry(v.job.as_str()).or_insert(true) &= until.holds(v);
            }
            let now = WaitProgress {
                verdicts: &verdicts,
                jobs: state.config.scrape_configs.len(),
                jobs_present: state.config.scrape_configs.len() - absent,
                jobs_done: jobs.values().filter(|done| **done).count(),
                any_scraped: verdicts.iter().any(|v| v.scrapes > 0),
            };
            (progress
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner))(&now);
            Ok::<_, ApiError>(if pending.is_empty() {
                Probe::Done(verdicts)
            } else {
                Probe::Pending(pending.join(", "))
            })
        })
        .await;
        match outcome {
            Ok(verdicts) => Ok(verdicts),
            Err(WaitError::Probe { source, .. }) => Err(source.into()),
            Err(WaitError::Timeout { last_state, .. }) => Err(FixtureError::Deadline {
                until,
                deadline,
                detail: last_state,
                log: self.prometheus.logs(),
            }),
        }
    }

    /// The verdicts now, without waiting; jobs without targets yet are left out.
    pub async fn verdicts(&self) -> Result<Vec<Verdict>, FixtureError> {
        let state = self.state.lock().await;
        Ok(self.collect(&state).await?)
    }

    /// Stops Prometheus and removes its work directory, reporting failures (dropping the
    /// fixture does the same and only logs them).
    pub async fn stop(self) -> Result<(), FixtureError> {
        Ok(self.prometheus.stop().await?)
    }

    async fn collect(&self, state: &State) -> Result<Vec<Verdict>, ApiError> {
        Ok(self.poll(state).await?.verdicts)
    }

    /// Verdicts of the jobs present (and of those the log says were dropped), plus the jobs
    /// that are absent for a reason not known yet.
    async fn poll(&self, state: &State) -> Result<Polled, ApiError> {
        let targets = self.prometheus.api().targets().await?;
        let counts = self.prometheus.api().scrape_counts().await?;
        // Grouped once per poll: a matrix has one job per case, so filtering all targets
        // for every job would cost jobs × targets comparisons every 100 ms.
        let mut by_job: BTreeMap<&str, Vec<&TargetStatus>> = BTreeMap::new();
        for target in &targets {
            by_job.entry(target.job.as_str()).or_default().push(target);
        }
        // Read only when a job is absent (its log line says whether it was dropped).
        let mut log: Option<String> = None;
        let mut polled = Polled::default();
        for job in &state.config.scrape_configs {
            let context = state
                .contexts
                .get(&job.job_name)
                .copied()
                .unwrap_or_else(|| inferred_context(job));
            let mine = by_job.remove(job.job_name.as_str()).unwrap_or_default();
            if mine.is_empty() {
                let log = log.get_or_insert_with(|| self.prometheus.log_lines(DROPPED_LOG_LINES));
                match dropped_reason(log, &job.job_name) {
                    Some(reason) => polled
                        .verdicts
                        .push(Verdict::missing(&job.job_name, reason)),
                    None => polled.absent.push(job.job_name.clone()),
                }
                continue;
            }
            for target in mine {
                let key = targets::TargetKey {
                    job: target.job.clone(),
                    instance: target.instance.clone(),
                };
                let class = classify(&target.last_error, &context);
                let (first_seen, steady_state) = self.record_scrape(&key, target, class);
                polled.verdicts.push(Verdict {
                    job: target.job.clone(),
                    instance: target.instance.clone(),
                    health: target.health,
                    last_error: target.last_error.clone(),
                    class,
                    scrapes: counts.get(&key).copied().unwrap_or(0),
                    steady_state,
                    first_seen,
                });
            }
        }
        Ok(polled)
    }

    /// Records the target's last scrape if it is a new one, and returns the first outcome
    /// seen and those seen after it.
    fn record_scrape(
        &self,
        key: &targets::TargetKey,
        target: &TargetStatus,
        class: ErrorClass,
    ) -> (Option<SeenOutcome>, Vec<SeenOutcome>) {
        let mut seen = self
            .seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let entry = seen.entry(key.clone()).or_default();
        if let Some(at) = target
            .last_scrape
            .filter(|at| Some(*at) != entry.last_scrape)
        {
            if entry.last_scrape.is_some() {
                match entry
                    .steady
                    .iter_mut()
                    .find(|o| o.health == target.health && o.class == class)
                {
                    Some(o) => o.scrapes += 1,
                    None => entry.steady.push(SeenOutcome {
                        health: target.health,
                        class,
                        scrapes: 1,
                    }),
                }
            } else {
                entry.first = Some(SeenOutcome {
                    health: target.health,
                    class,
                    scrapes: 1,
                });
            }
            entry.last_scrape = Some(at);
        }
        (entry.first, entry.steady.clone())
    }

    fn check_mounted(&self, config: &PrometheusConfig) -> Result<(), FixtureError> {
        for (job, path, dir) in referenced_dirs(config) {
            let Ok(canonical) = dir.canonicalize() else {
                continue; // a missing directory: Prometheus drops the job, as on the host
            };
            if !self.mounted.iter().any(|m| canonical.starts_with(m)) {
                return Err(FixtureError::NotMounted { job, path, dir });
            }
        }
        Ok(())
    }
}

/// `(job, file, parent dir)` of every `*_file` path in `config`.
fn referenced_dirs(config: &PrometheusConfig) -> Vec<(String, PathBuf, PathBuf)> {
    let mut out = Vec::new();
    for job in &config.scrape_configs {
        let tls = job.tls_config.as_ref();
        let files = [
            tls.and_then(|t| t.ca_file.as_ref()),
            tls.and_then(|t| t.cert_file.as_ref()),
            tls.and_then(|t| t.key_file.as_ref()),
            job.basic_auth
                .as_ref()
                .and_then(|b| b.password_file.as_ref()),
            job.authorization
                .as_ref()
                .and_then(|a| a.credentials_file.as_ref()),
        ];
        for path in files.into_iter().flatten() {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                out.push((job.job_name.clone(), path.clone(), dir.to_owned()));
            }
        }
    }
    out
}

/// What the classifier assumes when the test did not say: TLS exactly when `https`, no
/// client-certificate demand, a client certificate when the job has cert and key.
fn inferred_context(job: &ScrapeConfig) -> CaseContext {
    let https = job.scheme == Some(Scheme::Https);
    CaseContext {
        scheme_https: https,
        target_tls: https,
        target_requires_client_cert: false,
        job_presents_client_cert: job
            .tls_config
            .as_ref()
            .is_some_and(|t| t.cert_file.is_some() && t.key_file.is_some()),
        h2_refused_after_handshake: false,
    }
}

/// The `err` of Prometheus' "error creating new scrape pool" log line for `job`.
pub(crate) fn dropped_reason(log: &str, job: &str) -> Option<String> {
    let pool = format!("scrape_pool={job}");
    let line = log.lines().rev().find(|l| {
        l.contains("error creating new scrape pool")
            && l.split_whitespace()
                .any(|w| w == pool || w == format!("{pool:?}"))
    })?;
    let reason = line
        .split_once("err=\"")
        .and_then(|(_, rest)| rest.split_once('"'))
        .map_or(line, |(err, _)| err);
    Some(reason.to_owned())
}

fn millis(d: Duration) -> PromDuration {
    PromDuration::from_millis(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Parent directories the fixture mounts for `config` (public for tests of other crates
/// that build their own [`PrometheusOptions`]).
pub fn mounts_for(config: &PrometheusConfig) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = referenced_dirs(config)
        .into_iter()
        .map(|(_, _, dir)| dir)
        .filter(|d| Path::new(d).is_dir())
        .collect();
    dirs.sort();
    dirs.dedup();
    dirs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::promconfig::{BasicAuth, TlsConfig};

    #[test]
    fn every_file_reference_is_collected_and_missing_dirs_are_not_mounted() {
        let dir = tempfile::tempdir().unwrap();
        let mut tls_job = ScrapeConfig::new("tls", ["127.0.0.1:1"]);
        tls_job.scheme = Some(Scheme::Https);
        tls_job.tls_config = Some(TlsConfig {
            ca_file: Some(dir.path().join("ca.crt")),
            cert_file: Some(dir.path().join("client.crt")),
            key_file: Some(PathBuf::from("/nonexistent/scrape-harness/client.key")),
            ..TlsConfig::default()
        });
        let mut basic = ScrapeConfig::new("basic", ["127.0.0.1:2"]);
        basic.basic_auth = Some(BasicAuth {
            username: "prom".into(),
            password: None,
            password_file: Some(dir.path().join("sub/password")),
        });
        let config = PrometheusConfig {
            global: None,
            scrape_configs: vec![tls_job, basic],
        };
        assert_eq!(referenced_dirs(&config).len(), 4);
        assert_eq!(mounts_for(&config), vec![dir.path().to_owned()]);
    }

    #[test]
    fn polls_slow_down_with_the_number_of_jobs() {
        assert_eq!(poll_period(1), POLL);
        assert_eq!(poll_period(72), POLL);
        assert_eq!(poll_period(1_000), Duration::from_millis(250));
        assert_eq!(poll_period(3_000), Duration::from_millis(750));
        assert_eq!(poll_period(100_000), POLL_MAX);
    }

    #[test]
    fn the_inferred_context_follows_scheme_and_client_cert() {
        let mut job = ScrapeConfig::new("j", ["127.0.0.1:1"]);
        assert_eq!(inferred_context(&job), CaseContext::plain());
        job.scheme = Some(Scheme::Https);
        assert_eq!(inferred_context(&job), CaseContext::tls());
    }

    #[test]
    fn dropped_reason_reads_the_scrape_pool_error() {
        let log = "ts=2024 caller=manager.go:1 level=error component=\"scrape manager\" \
                   msg=\"error creating new scrape pool\" err=\"error creating HTTP client: \
                   unable to load specified CA cert /x/ca.crt: open /x/ca.crt: no such file or \
                   directory\" scrape_pool=dropped\n";
        assert_eq!(
            dropped_reason(log, "dropped").as_deref(),
            Some(
                "error creating HTTP client: unable to load specified CA cert /x/ca.crt: open \
                 /x/ca.crt: no such file or directory"
            )
        );
        assert_eq!(dropped_reason(log, "drop"), None);
    }
}

//! Rotation under keep-alive: certificates, CA bundles, `password_file` and Bearer
//! `credentials_file` replaced while Prometheus holds its connections open.
//!
//! A rotation file ([`spec`], `scenarios/rotation.yaml`) gives per case the state of both
//! sides and a timeline of steps. One Prometheus scrapes every case (one job each); per
//! case the runner waits until the target is up, counts scrapes (as Prometheus reports
//! them: count, don't time), replaces files at each step (each file by an atomic rename),
//! optionally closes the exporter's open connections, and after the last step judges:
//!
//! - which certificate serial / credential the exporter saw on each scrape, and on which
//!   connection (fake-exporter's observation log);
//! - how many scrapes failed from the first step on, read from Prometheus' `up` series
//!   (`count_over_time(up[w]) - sum_over_time(up[w])` over exactly that window);
//! - whether the old credential or client certificate is refused afterwards (a direct
//!   request from the harness);
//! - the final health and `lastError` class.
//!
//! The exporter's certificate and key are switched by rewriting its `web-config.yml` to
//! point at the new generation's files (one rename: replacing two files in place is never
//! atomic, and a handshake in between would pair a new certificate with an old key).
//! Prometheus' `cert_file` and `key_file` are replaced in place, key first.

mod judge;
pub mod spec;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use fake_exporter::pki::{Generation, RotationPki};
use fake_exporter::{
    basic_header, certificate_serial, credential_fingerprint, ClientAuthType, FakeExporter,
    Observation, PemSource, RunningExporter, WebConfig,
};
use serde::Serialize;

use crate::backend::PrometheusChoice;
use crate::classify::CaseContext;
use crate::conformance::direct::{self, ClientTls, TlsVersions};
use crate::fixture::{FixtureBuilder, FixtureError, PrometheusFixture, TargetObservation};
use crate::promconfig::{Authorization, BasicAuth, PromDuration, ScrapeConfig, TlsConfig};
use crate::scenario::ScenarioError;
use crate::targets::Health;
pub use judge::{judge, RotationObservation};
use judge::{ExporterScrape, IdentityChange, OldProbe, WindowCounts};
pub use spec::{
    parse, CaBundle, Count, ExporterState, NewSeen, RotationCase, RotationExpect, RotationPlan,
    ScrapeState, Step, Watched,
};

/// Capacity of each exporter's observation log: far more than a case's scrapes.
const OBSERVATIONS: usize = 4096;
/// How long the last read of Prometheus' state may take.
const READ_DEADLINE: Duration = Duration::from_secs(30);

/// Where Prometheus comes from.
#[derive(Clone, Debug, Default)]
pub struct RotationOptions {
    /// Which Prometheus (backend, image, binary).
    pub prometheus: PrometheusChoice,
}

/// Why a rotation run could not be carried out (as opposed to a case failing).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RotationError {
    /// The rotation file is wrong.
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    /// The PKI could not be generated.
    #[error("generating the rotation PKI: {0}")]
    Pki(#[from] fake_exporter::PkiError),
    /// A file could not be written.
    #[error("{}: {source}", .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// An exporter did not start.
    #[error("case `{case}`: the exporter did not start: {source}")]
    Exporter {
        /// The case.
        case: String,
        /// Why.
        source: fake_exporter::Error,
    },
    /// Hashing a password failed.
    #[error("case `{case}`: bcrypt: {message}")]
    Hash {
        /// The case.
        case: String,
        /// Why.
        message: String,
    },
    /// Prometheus did not start or its API failed.
    #[error(transparent)]
    Prometheus(#[from] FixtureError),
    /// The run that holds the rotation cases failed.
    #[error(transparent)]
    Run(Box<crate::runner::RunError>),
    /// The run returned no rotation part (a bug).
    #[error("the run returned no rotation report")]
    NoReport,
}

/// One scrape as the exporter saw it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ScrapeSeen {
    /// Steps applied before this scrape arrived (0: before the first step).
    pub after_step: usize,
    /// Connection id (counts up per exporter).
    pub connection: u64,
    /// Whether the connection had served requests before.
    pub reused: bool,
    /// The status answered.
    pub status: u16,
    /// The watched identity on this scrape: `old`, `new`, `none` or `other`.
    pub watched: &'static str,
    /// Serial of the server certificate presented on the connection.
    pub server_cert_serial: Option<String>,
    /// Serial of the client certificate Prometheus presented.
    pub client_cert_serial: Option<String>,
}

/// The outcome of one case.
#[derive(Clone, Debug, Serialize)]
pub struct RotationOutcome {
    /// The case name.
    pub name: String,
    /// Every expectation held.
    pub passed: bool,
    /// What did not hold, one line each, with what was seen.
    pub failures: Vec<String>,
    /// What is watched (`server_cert`, `client_cert`, `password`, `token`).
    pub watched: Option<&'static str>,
    /// Every scrape the exporter answered, in order.
    pub scrapes: Vec<ScrapeSeen>,
    /// 1-based position, among the scrapes after the step that changed the watched
    /// identity, of the first that showed the new one.
    pub new_seen_at: Option<u64>,
    /// Whether every scrape after that step came on the connection open before it.
    pub stayed_on_old_connection: Option<bool>,
    /// Scrapes Prometheus made from the first step to the verdict (`count_over_time(up)`).
    pub window_scrapes: u64,
    /// Of those, failed ones (`up == 0`).
    pub failed_scrapes: u64,
    /// Final health.
    pub health: Health,
    /// Class of the final `lastError`.
    pub class: String,
    /// The final `lastError`.
    pub last_error: String,
    /// What a direct request with the old credential / client certificate got.
    pub old_probe: Option<String>,
    /// Connections Prometheus established for this job over the whole run
    /// (`net_conntrack_dialer_conn_established_total{dialer_name="<job>"}`), TLS handshake
    /// included when the job uses https; `None` when Prometheus' metrics could not be read.
    pub prometheus_connections: Option<u64>,
    /// Connections that carried at least one request, as the exporter saw them.
    pub exporter_connections: u64,
}

/// The outcome of a whole file.
#[derive(Clone, Debug, Serialize)]
pub struct RotationReport {
    /// Prometheus' version (build info).
    pub prometheus_version: String,
    /// One per case, in file order.
    pub cases: Vec<RotationOutcome>,
}

impl RotationReport {
    /// Whether every case passed.
    pub fn passed(&self) -> bool {
        self.cases.iter().all(|c| c.passed)
    }

    /// JUnit XML: one suite `rotation`, one test case per case (its scrapes as system-out).
    pub fn junit(&self, file: &str) -> String {
        crate::report::junit::render(&[self.junit_suite(file)])
    }

    /// The suite of [`Self::junit`], to render beside a run's other suites.
    pub fn junit_suite(&self, file: &str) -> crate::report::junit::Suite {
        use crate::report::junit::{CaseOutcome, Suite, TestCase};
        let cases = self
            .cases
            .iter()
            .map(|c| TestCase {
                classname: file.to_owned(),
                name: c.name.clone(),
                outcome: if c.passed {
                    CaseOutcome::Passed
                } else {
                    CaseOutcome::Failed {
                        message: c.failures.first().cloned().unwrap_or_default(),
                        body: c.failures.join("\n"),
                    }
                },
                system_out: serde_json::to_string_pretty(&c.scrapes).ok(),
            })
            .collect();
        let mut suite = Suite::new("rotation", cases);
        suite
            .properties
            .push(("prometheus_version".into(), self.prometheus_version.clone()));
        suite
    }
}

/// Reads and parses a rotation file.
pub fn load(path: &Path) -> Result<RotationPlan, ScenarioError> {
    let file = path.display().to_string();
    let text = crate::scenario::read_scenario_file(path)?;
    parse(&file, &text)
}

/// The files of one case and its running exporter.
struct CaseRun {
    case: RotationCase,
    dir: PathBuf,
    exporter: RunningExporter,
    /// Password → bcrypt hash, so an unchanged password keeps its hash across steps.
    hashes: std::sync::Mutex<BTreeMap<String, String>>,
}

/// When each step of a case's timeline was applied, or why the timeline stopped.
pub(crate) type Timeline = Result<Vec<SystemTime>, TimelineError>;

/// Why a case's timeline did not complete (the case then fails, naming it).
#[derive(Debug, thiserror::Error)]
pub(crate) enum TimelineError {
    /// The task polling Prometheus ended.
    #[error("the poller stopped")]
    PollerStopped,
    /// Prometheus did not get where the next step waits for in time.
    #[error(
        "not {what} within {deadline:?} (Prometheus made {scrapes} scrapes, last health \
         {health:?}, lastError `{last_error}`)"
    )]
    NotReached {
        /// What was waited for.
        what: String,
        /// For how long.
        deadline: Duration,
        /// Scrapes seen by then.
        scrapes: u64,
        /// The last health seen.
        health: Option<Health>,
        /// The last `lastError` seen.
        last_error: String,
    },
    /// Writing a step's files failed.
    #[error(transparent)]
    Write(#[from] RotationError),
}

/// Runs every case of `plan` against one Prometheus: a run of a plan that holds these
/// rotation cases only (`runner::run`, the one pipeline).
pub async fn run(
    plan: &RotationPlan,
    options: &RotationOptions,
) -> Result<RotationReport, RotationError> {
    let whole = crate::scenario::Plan {
        defaults: crate::scenario::Defaults {
            key_type: plan.key_type,
            bcrypt_cost: plan.bcrypt_cost,
            ..crate::scenario::Defaults::default()
        },
        cases: Vec::new(),
        receivers: None,
        rotation: Some(plan.clone()),
    };
    let run_opts = crate::runner::RunOptions {
        prometheus: options.prometheus.clone(),
        progress: false,
        ..crate::runner::RunOptions::default()
    };
    let report = crate::runner::run(&whole, &run_opts)
        .await
        .map_err(|e| RotationError::Run(Box::new(e)))?;
    report.rotation.ok_or(RotationError::NoReport)
}

/// The rotation cases of a plan, their files and exporters started: the part of a run
/// (`runner::run`) that rotation cases bring. Start them, let [`Self::configure`] add their
/// jobs to the fixture, start it, then [`Self::drive`] every timeline and [`Self::judge`].
pub(crate) struct RotationSet<'a> {
    plan: &'a RotationPlan,
    pki: RotationPki,
    runs: Vec<CaseRun>,
}

impl<'a> RotationSet<'a> {
    /// Generates the rotation PKI, writes each case's first files under `dir/rotation/` and
    /// starts its exporter.
    pub(crate) async fn start(plan: &'a RotationPlan, dir: &Path) -> Result<Self, RotationError> {
        let key_type = plan.key_type;
        let pki = tokio::task::spawn_blocking(move || RotationPki::generate(key_type))
            .await
            .expect("PKI generation does not panic")?;
        let root = dir.join("rotation");
        let mut runs = Vec::new();
        for case in &plan.cases {
            runs.push(start_case(&root, case, &pki, plan.bcrypt_cost).await?);
        }
        Ok(Self { plan, pki, runs })
    }

    /// One job per case, scraped every `scrape_interval` of the plan (the run's other jobs
    /// keep theirs), with its context for the classifier.
    pub(crate) fn configure(&self, mut builder: FixtureBuilder) -> FixtureBuilder {
        let every = PromDuration::whole_millis(self.plan.scrape_interval);
        for run in &self.runs {
            let mut job = job(run);
            job.scrape_interval = Some(every);
            job.scrape_timeout = Some(every);
            builder = builder
                .job(job)
                .target_context(&run.case.name, context(&run.case));
        }
        builder
    }

    /// Runs every case's timeline at once; returns when each step was applied, per case.
    pub(crate) async fn drive(&self, fixture: &PrometheusFixture) -> Vec<Timeline> {
        let p = self.plan;
        futures_util::future::join_all(self.runs.iter().map(|run| {
            drive(
                run,
                fixture,
                &self.pki,
                p.scrape_interval,
                p.warm_up_scrapes,
                p.scrapes_after,
                p.bcrypt_cost,
            )
        }))
        .await
    }

    /// Observes and judges every case after its timeline (before the run stops the
    /// scrapes: the `up` window and the connection counts are read now).
    pub(crate) async fn judge(
        &self,
        fixture: &PrometheusFixture,
        timelines: Vec<Timeline>,
    ) -> Result<(RotationReport, BTreeMap<String, RotationObservation>), RotationError> {
        let version = fixture
            .api()
            .build_info()
            .await
            .map(|b| b.version)
            .unwrap_or_else(|e| format!("unknown ({e})"));
        let after = fixture.observe_now(READ_DEADLINE).await?;
        let dialed = &after.counters.conntrack_established;
        let mut cases = Vec::new();
        let mut seen = BTreeMap::new();
        for (run, timeline) in self.runs.iter().zip(timelines) {
            let verdict = after.target(&run.case.name);
            let observed = observe_case(run, timeline, verdict, fixture, &self.pki).await;
            let mut outcome = judge(&run.case, &observed);
            outcome.prometheus_connections = dialed.get(&run.case.name).map(|&n| n as u64);
            cases.push(outcome);
            seen.insert(run.case.name.clone(), observed);
        }
        let report = RotationReport {
            prometheus_version: version,
            cases,
        };
        Ok((report, seen))
    }
}

/// Writes the first files of `case` under `root/<case>` and starts its exporter.
async fn start_case(
    root: &Path,
    case: &RotationCase,
    pki: &RotationPki,
    bcrypt_cost: u32,
) -> Result<CaseRun, RotationError> {
    let dir = root.join(&case.name);
    for sub in ["exporter", "prometheus", "probe"] {
        let d = dir.join(sub);
        std::fs::create_dir_all(&d).map_err(|source| RotationError::Io { path: d, source })?;
    }
    // Every generation's exporter files, written once; the web-config picks one.
    for &g in Generation::ALL {
        let id = pki.server(g);
        write(
            &dir.join(format!("exporter/server-{g}.crt")),
            &id.cert_chain_pem,
        )?;
        write(&dir.join(format!("exporter/server-{g}.key")), &id.key_pem)?;
    }
    let hashes = std::sync::Mutex::new(BTreeMap::new());
    let web_config = dir.join("exporter/web-config.yml");
    write_exporter(&dir, &case.exporter, pki, &hashes, bcrypt_cost, &case.name).await?;
    write_scrape(&dir, &case.scrape, pki)?;
    let exporter = FakeExporter::builder()
        .web_config_file(&web_config)
        .observe(OBSERVATIONS)
        .start()
        .await
        .map_err(|source| RotationError::Exporter {
            case: case.name.clone(),
            source,
        })?;
    Ok(CaseRun {
        case: case.clone(),
        dir,
        exporter,
        hashes,
    })
}

/// Waits until `pred` holds for the case's target in the fixture's observations; the
/// deadline scales with the scrapes waited for (a loaded machine scrapes late, never early).
async fn wait_for(
    fixture: &PrometheusFixture,
    job: &str,
    what: &str,
    deadline: Duration,
    pred: impl Fn(&TargetObservation) -> bool,
) -> Result<TargetObservation, TimelineError> {
    let mut last = TargetObservation::default();
    let waited = fixture
        .wait_for(deadline, what, |o| match o.target(job) {
            Some(v) if pred(v) => Ok(v.clone()),
            Some(v) => {
                last = v.clone();
                Err(format!("{} scrapes", v.scrapes_seen).into())
            }
            None => Err("the target is not in /api/v1/targets yet".into()),
        })
        .await;
    match waited {
        Ok((v, _)) => Ok(v),
        Err(FixtureError::Deadline { .. }) => Err(TimelineError::NotReached {
            what: what.to_owned(),
            deadline,
            scrapes: last.scrapes_seen,
            health: (last.health != Health::Unknown).then_some(last.health),
            last_error: last.last_error,
        }),
        Err(_) => Err(TimelineError::PollerStopped),
    }
}

/// Runs one case's timeline; returns when each step was applied.
async fn drive(
    run: &CaseRun,
    fixture: &PrometheusFixture,
    pki: &RotationPki,
    interval: Duration,
    warm_up: u64,
    scrapes_after: u64,
    bcrypt_cost: u32,
) -> Timeline {
    let job = run.case.name.as_str();
    let per =
        |n: u64| interval * u32::try_from(n + 10).unwrap_or(u32::MAX) * 2 + Duration::from_secs(30);
    let up = wait_for(fixture, job, "up before the first step", per(20), |s| {
        s.health == Health::Up
    })
    .await?;
    let mut target = up.scrapes_seen + warm_up;
    let mut marks = Vec::new();
    for (i, step) in run.case.steps.iter().enumerate() {
        target += step.after_scrapes;
        let goal = target;
        let now = wait_for(
            fixture,
            job,
            &format!("scraped {goal} times before step {}", i + 1),
            per(goal - up.scrapes_seen),
            |s| s.scrapes_seen >= goal,
        )
        .await?;
        write_exporter(&run.dir, &step.exporter, pki, &run.hashes, bcrypt_cost, job).await?;
        write_scrape(&run.dir, &step.scrape, pki)?;
        if step.reconnect {
            run.exporter.close_connections();
        }
        marks.push(SystemTime::now());
        target = now.scrapes_seen;
    }
    let goal = target + scrapes_after;
    wait_for(
        fixture,
        job,
        &format!("scraped {goal} times after the last step"),
        per(scrapes_after),
        |s| s.scrapes_seen >= goal,
    )
    .await?;
    Ok(marks)
}

/// The job of a case: every file it reads lives in the case's `prometheus/` directory.
fn job(run: &CaseRun) -> ScrapeConfig {
    let p = run.dir.join("prometheus");
    let s = &run.case.scrape;
    let mut job = ScrapeConfig::for_exporter(&run.case.name, &run.exporter);
    if run.case.exporter.server_cert.is_some() {
        let mut tls = TlsConfig::default();
        if s.ca.is_some() {
            tls.ca_file = Some(p.join("ca.crt"));
        }
        if s.insecure_skip_verify {
            tls.insecure_skip_verify = Some(true);
        }
        if s.client_cert.is_some() {
            tls.cert_file = Some(p.join("client.crt"));
            tls.key_file = Some(p.join("client.key"));
        }
        job.tls_config = Some(tls);
    }
    if let Some((user, _)) = &s.basic_auth {
        job.basic_auth = Some(BasicAuth {
            username: user.clone(),
            password: None,
            password_file: Some(p.join("password")),
        });
    }
    if s.token.is_some() {
        job.authorization = Some(Authorization {
            auth_type: None,
            credentials: None,
            credentials_file: Some(p.join("token")),
        });
    }
    job
}

fn context(case: &RotationCase) -> CaseContext {
    let tls = case.exporter.server_cert.is_some();
    CaseContext {
        scheme_https: tls,
        target_tls: tls,
        target_requires_client_cert: case.exporter.client_ca.is_some(),
        job_presents_client_cert: case.scrape.client_cert.is_some(),
        // Rotation exporters serve TLS 1.2+ with AEAD suites: Go's HTTP/2 never refuses them.
        h2_refused_after_handshake: false,
    }
}

fn bundle_pem(pki: &RotationPki, b: CaBundle) -> String {
    let mut out = String::new();
    if b.old {
        out.push_str(pki.old_ca_pem());
    }
    if b.new {
        out.push_str(pki.new_ca_pem());
    }
    out
}

/// Writes `text` to `path` by an atomic rename, so a reader sees the old or the new
/// content, never a mix.
fn write(path: &Path, text: &str) -> Result<(), RotationError> {
    crate::supervise::atomic_write(path, text).map_err(|source| RotationError::Io {
        path: path.to_owned(),
        source,
    })
}

/// Writes (only when changed) the exporter's files and its web-config.
async fn write_exporter(
    dir: &Path,
    state: &ExporterState,
    pki: &RotationPki,
    hashes: &std::sync::Mutex<BTreeMap<String, String>>,
    cost: u32,
    case: &str,
) -> Result<(), RotationError> {
    let e = dir.join("exporter");
    let mut config = WebConfig::builder();
    if let Some(g) = state.server_cert {
        config = config
            .cert(PemSource::file(e.join(format!("server-{g}.crt"))))
            .key(PemSource::file(e.join(format!("server-{g}.key"))));
        if let Some(b) = state.client_ca {
            write_if_changed(&e.join("client-ca.crt"), &bundle_pem(pki, b))?;
            config = config
                .client_auth(ClientAuthType::RequireAndVerifyClientCert)
                .client_ca(PemSource::file(e.join("client-ca.crt")));
        }
    }
    for (user, password) in &state.basic_auth_users {
        let cached = hashes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(password)
            .cloned();
        let hash = match cached {
            Some(h) => h,
            None => {
                let pw = password.clone();
                let h = tokio::task::spawn_blocking(move || bcrypt::hash(pw, cost))
                    .await
                    .expect("bcrypt does not panic")
                    .map_err(|e| RotationError::Hash {
                        case: case.to_owned(),
                        message: e.to_string(),
                    })?;
                hashes
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .insert(password.clone(), h.clone());
                h
            }
        };
        config = config.basic_auth_user(user, hash);
    }
    for token in &state.bearer_tokens {
        config = config.bearer_token(token);
    }
    // Invariant: `build` only checks response headers, and none are set here.
    let yaml = config
        .build()
        .expect("a config without headers builds")
        .to_yaml();
    write_if_changed(&e.join("web-config.yml"), &yaml)
}

fn write_if_changed(path: &Path, text: &str) -> Result<(), RotationError> {
    if std::fs::read_to_string(path).is_ok_and(|old| old == text) {
        return Ok(());
    }
    write(path, text)
}

/// Writes (only when changed) the files the job reads. The key goes before the
/// certificate; Prometheus reads both per handshake.
fn write_scrape(dir: &Path, state: &ScrapeState, pki: &RotationPki) -> Result<(), RotationError> {
    let p = dir.join("prometheus");
    if let Some(b) = state.ca {
        write_if_changed(&p.join("ca.crt"), &bundle_pem(pki, b))?;
    }
    if let Some(g) = state.client_cert {
        let id = pki.client(g);
        write_if_changed(&p.join("client.key"), &id.key_pem)?;
        write_if_changed(&p.join("client.crt"), &id.cert_chain_pem)?;
    }
    if let Some((_, password)) = &state.basic_auth {
        write_if_changed(&p.join("password"), &format!("{password}\n"))?;
    }
    if let Some(token) = &state.token {
        write_if_changed(&p.join("token"), &format!("{token}\n"))?;
    }
    Ok(())
}

/// The watched identity in a state (serial or fingerprint).
fn identity_of(
    watch: Watched,
    e: &ExporterState,
    s: &ScrapeState,
    pki: &RotationPki,
) -> Option<String> {
    match watch {
        Watched::ServerCert => e
            .server_cert
            .and_then(|g| certificate_serial(pki.server(g).leaf())),
        Watched::ClientCert => s
            .client_cert
            .and_then(|g| certificate_serial(pki.client(g).leaf())),
        Watched::Password => s
            .basic_auth
            .as_ref()
            .map(|(_, pw)| credential_fingerprint(pw)),
        Watched::Token => s.token.as_deref().map(credential_fingerprint),
    }
}

fn observed(watch: Watched, o: &Observation) -> Option<&str> {
    match watch {
        Watched::ServerCert => o.server_cert_serial.as_deref(),
        Watched::ClientCert => o.client_cert_serial.as_deref(),
        Watched::Password => (o.scheme == Some("basic"))
            .then_some(o.credential.as_deref())
            .flatten(),
        Watched::Token => (o.scheme == Some("bearer"))
            .then_some(o.credential.as_deref())
            .flatten(),
    }
}

/// Everything the judge of `run` reads: the exporter's observation log, the identities
/// of the step that changed the watched one, Prometheus' `up` over the window, and a
/// direct probe with the old credential when the case expects it refused.
async fn observe_case(
    run: &CaseRun,
    timeline: Timeline,
    verdict: Option<&TargetObservation>,
    fixture: &PrometheusFixture,
    pki: &RotationPki,
) -> RotationObservation {
    let case = &run.case;
    let watch = case.rotation.watch;
    let (marks, timeline_error) = match timeline {
        Ok(m) => (m, None),
        Err(e) => (Vec::new(), Some(e.to_string())),
    };
    let change = watch.and_then(|w| identity_change(case, w, pki));
    let scrapes = run
        .exporter
        .observations()
        .iter()
        .filter(|o| o.path == "/metrics")
        .map(|o| ExporterScrape {
            at: o.at,
            connection: o.connection,
            request_on_connection: o.request_on_connection,
            status: o.status,
            identity: watch.and_then(|w| observed(w, o)).map(str::to_owned),
            server_cert_serial: o.server_cert_serial.clone(),
            client_cert_serial: o.client_cert_serial.clone(),
        })
        .collect();
    let (window, window_error) = match marks.first() {
        Some(&first) => match up_window(fixture, &case.name, first).await {
            Ok(w) => (Some(w), None),
            Err(e) => (None, Some(e.to_string())),
        },
        None => (None, None),
    };
    let mut old_probe = None;
    if let (true, Some(w), Some(c)) = (case.rotation.old_refused_after, watch, &change) {
        let before = if c.step == 0 {
            (&case.exporter, &case.scrape)
        } else {
            (
                &case.steps[c.step - 1].exporter,
                &case.steps[c.step - 1].scrape,
            )
        };
        let last = case.steps.last().expect("a case has steps");
        let probe = probe_old(run, w, before.1, &last.exporter, &last.scrape, pki).await;
        old_probe = Some(OldProbe {
            accepted: probe.accepted,
            text: probe.text,
        });
    }
    RotationObservation {
        marks,
        timeline_error,
        change,
        scrapes,
        window,
        window_error,
        verdict: verdict.cloned(),
        old_probe,
    }
}

/// The first step that changes the watched identity, with its value before and after.
fn identity_change(case: &RotationCase, w: Watched, pki: &RotationPki) -> Option<IdentityChange> {
    let mut before = (&case.exporter, &case.scrape);
    for (step, s) in case.steps.iter().enumerate() {
        let old = identity_of(w, before.0, before.1, pki);
        let new = identity_of(w, &s.exporter, &s.scrape, pki);
        if old != new {
            return Some(IdentityChange { step, old, new });
        }
        before = (&s.exporter, &s.scrape);
    }
    None
}

/// Prometheus' `up` for `job` from `first` until now: scrapes and failed ones.
async fn up_window(
    fixture: &PrometheusFixture,
    job: &str,
    first: SystemTime,
) -> Result<WindowCounts, crate::targets::ApiError> {
    let ms = SystemTime::now()
        .duration_since(first)
        .unwrap_or_default()
        .as_millis()
        .max(1);
    let sel = format!("up{{job=\"{job}\"}}[{ms}ms]");
    let api = fixture.api();
    let count = api.query(&format!("count_over_time({sel})")).await?;
    let sum = api.query(&format!("sum_over_time({sel})")).await?;
    let c = count.first().map_or(0.0, |x| x.value);
    let s = sum.first().map_or(0.0, |x| x.value);
    Ok(WindowCounts {
        scrapes: c as u64,
        failed: (c - s).max(0.0) as u64,
    })
}

struct Probe {
    accepted: bool,
    text: String,
}

/// A direct request to the exporter with the old credential or client certificate (the
/// rest as in the final state).
async fn probe_old(
    run: &CaseRun,
    watch: Watched,
    old: &ScrapeState,
    exporter: &ExporterState,
    now: &ScrapeState,
    pki: &RotationPki,
) -> Probe {
    let d = run.dir.join("probe");
    let addr: SocketAddr = run.exporter.addr();
    let mut headers = Vec::new();
    let mut client_gen = now.client_cert;
    match watch {
        Watched::Password => {
            if let Some((user, pw)) = &old.basic_auth {
                headers.push(("authorization", basic_header(user, pw)));
            }
        }
        Watched::Token => {
            if let Some(t) = &old.token {
                headers.push(("authorization", format!("Bearer {t}")));
            }
        }
        Watched::ClientCert => client_gen = old.client_cert,
        Watched::ServerCert => {}
    }
    if watch != Watched::Password {
        if let Some((user, pw)) = &now.basic_auth {
            headers.push(("authorization", basic_header(user, pw)));
        }
    }
    if watch != Watched::Token {
        if let Some(t) = &now.token {
            headers.push(("authorization", format!("Bearer {t}")));
        }
    }
    let tls = match exporter.server_cert {
        None => None,
        Some(_) => {
            let both = CaBundle {
                old: true,
                new: true,
            };
            let ca = d.join("ca.crt");
            let mut files = vec![(ca.clone(), bundle_pem(pki, both))];
            let cert = client_gen.map(|g| {
                let (crt, key) = (
                    d.join(format!("client-{g}.crt")),
                    d.join(format!("client-{g}.key")),
                );
                files.push((crt.clone(), pki.client(g).cert_chain_pem.clone()));
                files.push((key.clone(), pki.client(g).key_pem.clone()));
                (crt, key)
            });
            for (path, text) in files {
                if let Err(e) = write(&path, &text) {
                    return Probe {
                        accepted: false,
                        text: format!("probe not sent: {e}"),
                    };
                }
            }
            Some(ClientTls {
                ca_file: Some(ca),
                verify_server: true,
                client_cert: cert,
                server_name: "127.0.0.1".to_owned(),
                versions: TlsVersions::Both,
                cert_requested: None,
            })
        }
    };
    match direct::get(addr, tls.as_ref(), "/metrics", &headers).await {
        Ok(r) => Probe {
            accepted: r.status == 200,
            text: format!("HTTP {}", r.status),
        },
        Err(e) => Probe {
            accepted: false,
            text: format!("refused: {e}"),
        },
    }
}

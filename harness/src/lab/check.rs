//! `lab check`: apply the learner's files (promtool, `/-/reload`, nginx -t and SIGHUP),
//! wait for fresh scrapes with a deadline ([`observe`], through the fixture's watch), and
//! judge what Prometheus saw, with the learner's files parsed into the typed configs
//! ([`judge`]).

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde::Serialize;

use super::diagnose::{self, Finding, ServerView};
use super::error::LabError;
use super::files;
use super::procs;
use super::protects::{self, Protected, Seen, ServerFacts};
use super::run;
use super::state::{self, LabState, PastCheck, Proc};
use super::tools::{self, LabTools};
use crate::backend::DetachedPrometheus;
use crate::classify::{classify, ErrorClass};
use crate::fixture::{FixtureError, PrometheusWatch};
use crate::observations::Observations;
use crate::promconfig::{PrometheusConfig, Scheme, ScrapeConfig};
use crate::supervise::{poll_until, Probe};
use crate::targets::Health;

/// Scrapes of an up target seen after the reload before its connections are judged.
const UP_SCRAPES: usize = 3;
/// Fresh scrapes of a down target before it is judged.
const DOWN_SCRAPES: usize = 2;

/// Options of [`check`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CheckOptions {
    /// How long to wait for fresh scrapes of every job.
    pub deadline: Duration,
}

impl Default for CheckOptions {
    fn default() -> Self {
        Self {
            deadline: Duration::from_secs(60),
        }
    }
}

/// Prometheus' verdict on one target after the learner's files were applied.
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct TargetReport {
    /// The job.
    pub job: String,
    /// The instance (empty when the job was dropped).
    pub instance: String,
    /// `up`, `down`, `unknown` or `missing`.
    pub health: String,
    /// Raw `lastError`.
    pub last_error: String,
    /// Its class label.
    pub class: String,
    /// Connections Prometheus opened to the job while `scrapes` fresh scrapes ran.
    pub new_connections: Option<f64>,
    /// Fresh scrapes seen.
    pub scrapes: u64,
}

/// What `check` found.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CheckReport {
    /// The lab's name.
    pub lab: String,
    /// The lab folder.
    pub dir: PathBuf,
    /// Prometheus' URL.
    pub prometheus_url: String,
    /// Every job up and nothing else wrong.
    pub solved: bool,
    /// One per target.
    pub targets: Vec<TargetReport>,
    /// Everything still wrong, each with cause and where to look.
    pub findings: Vec<Finding>,
    /// Problems earlier checks named that are gone now.
    pub fixed: Vec<String>,
    /// When this check ran, seconds since the epoch.
    pub checked_at: u64,
    /// Checks of this lab so far, this one included.
    pub checks: usize,
    /// Hints shown so far.
    pub hints: usize,
}

impl CheckReport {
    /// The report as the terminal shows it.
    pub fn text(&self) -> String {
        let mut out = format!(
            "lab {}: {}\n",
            self.lab,
            if self.solved {
                "SOLVED"
            } else {
                "not solved yet"
            }
        );
        for t in &self.targets {
            out.push_str(&format!(
                "  target {}/{}: {} ({})",
                t.job, t.instance, t.health, t.class
            ));
            if let Some(n) = t.new_connections {
                out.push_str(&format!(
                    ", {n} new connection(s) during the {} scrapes after the first",
                    t.scrapes.saturating_sub(1)
                ));
            }
            out.push('\n');
        }
        for f in &self.findings {
            out.push_str(&format!("\n✗ {} — {}\n", f.subject, f.kind));
            if !f.raw.is_empty() {
                let who = match f.kind.as_str() {
                    "config_refused" => "promtool says:  ",
                    WEB_CONFIG_REFUSED if f.raw.starts_with("fake-exporter: ") => {
                        "exporter says:  "
                    }
                    "nginx_config_refused" => "nginx -t says:  ",
                    "keepalive" => "Prometheus:     ",
                    _ => "Prometheus says:",
                };
                let raw: Vec<&str> = f
                    .raw
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .collect();
                out.push_str(&format!("  {who} {}\n", raw.join("\n                   ")));
            }
            out.push_str(&format!(
                "  likely cause:    {}\n  look at:         {}\n",
                f.cause, f.look_at
            ));
        }
        for fixed in &self.fixed {
            out.push_str(&format!("\n✓ fixed since an earlier check: {fixed}\n"));
        }
        out
    }
}

/// What the lab saw of one job after the reload.
#[derive(Clone, Debug, Default, PartialEq, Serialize, serde::Deserialize)]
struct Watch {
    scrapes: Vec<SystemTime>,
    first_connections: Option<f64>,
    connections: Option<f64>,
    health: Option<Health>,
    last_error: String,
    instance: String,
    /// The URL of the fresh scrapes (Prometheus' `scrapeUrl`).
    #[serde(default)]
    scrape_url: String,
}

/// What `check` learnt of a job's server beyond Prometheus' view: the probes' answers, and
/// whether the target stayed up through `check`'s own token rotation.
#[derive(Clone, Debug, Default, PartialEq, Serialize, serde::Deserialize)]
struct Probed {
    facts: Option<ServerFacts>,
    up_after_rotation: Option<bool>,
}

/// Set to a folder, every `lab check` writes what its judge read there
/// ([`RecordedCheck`], `<lab>-<solved|unsolved>-<pid>.json`): the recordings the judge's
/// tests replay without Prometheus, nginx or an exporter.
pub(crate) const RECORD_ENV: &str = "SCRAPE_HARNESS_RECORD_LAB_CHECKS";

/// What the judge of one `lab check` read, and what it said: recorded from a real check,
/// replayed by the tests. Paths inside the lab folder are written as `{dir}`.
#[derive(Debug, Serialize, serde::Deserialize)]
struct RecordedCheck {
    /// The lab's state (ports, processes).
    lab: LabState,
    /// Every text file of the lab folder (its private `.lab` folder aside), by path
    /// relative to the folder: what the judge reads of the server side.
    files: BTreeMap<String, String>,
    /// The learner's `prometheus.yml`, as written.
    prometheus_yml: String,
    /// The configuration Prometheus loaded from it (`/api/v1/status/config`): what the
    /// judge reads.
    loaded: PrometheusConfig,
    /// What the watch saw, per job.
    watched: BTreeMap<String, Watch>,
    /// What the probes and the rotation found, per job.
    probed: BTreeMap<String, Probed>,
    /// The judge's targets.
    targets: Vec<TargetReport>,
    /// The kinds of the judge's findings, in order.
    finding_kinds: Vec<String>,
}

/// How the folder of a recorded lab is written in a recording.
const DIR_MARK: &str = "{dir}";

impl RecordedCheck {
    fn of(
        lab: &LabState,
        (prometheus_yml, loaded): (&str, &PrometheusConfig),
        (watched, probed): (BTreeMap<String, Watch>, BTreeMap<String, Probed>),
        (targets, findings): &(Vec<TargetReport>, Vec<Finding>),
    ) -> Self {
        let dir = lab.dir.display().to_string();
        let mut files = BTreeMap::new();
        collect_text_files(&lab.dir, &lab.dir, &mut files);
        let files = files
            .into_iter()
            .map(|(k, v)| (k, v.replace(&dir, DIR_MARK)))
            .collect();
        let mut lab = lab.clone();
        lab.dir = PathBuf::from(DIR_MARK);
        Self {
            lab,
            files,
            prometheus_yml: prometheus_yml.replace(&dir, DIR_MARK),
            loaded: serde_json::to_string(loaded)
                .ok()
                .and_then(|json| serde_json::from_str(&json.replace(&dir, DIR_MARK)).ok())
                .unwrap_or_default(),
            watched,
            probed,
            targets: targets.clone(),
            finding_kinds: findings.iter().map(|f| f.kind.clone()).collect(),
        }
    }

    fn solved(&self) -> bool {
        self.finding_kinds.is_empty()
            && !self.targets.is_empty()
            && self.targets.iter().all(|t| t.health == "up")
    }

    /// Writes `<lab>-solved.json` or `<lab>-unsolved.json`; a check that found a
    /// weakening is `<lab>-weakened-<n>.json`, `n` the first number not taken.
    fn write(&self, folder: &Path) -> Result<(), LabError> {
        let path = if self.finding_kinds.iter().any(|k| k == "weakened") {
            (1..)
                .map(|n| folder.join(format!("{}-weakened-{n}.json", self.lab.lab)))
                .find(|p| !p.exists())
                .expect("an unused number")
        } else {
            folder.join(format!(
                "{}-{}.json",
                self.lab.lab,
                if self.solved() { "solved" } else { "unsolved" },
            ))
        };
        let json = serde_json::to_string_pretty(self)
            .map_err(|e| LabError::io("recording the check in", &path, std::io::Error::other(e)))?;
        crate::supervise::atomic_write(&path, json).map_err(|e| LabError::io("writing", &path, e))
    }
}

/// Every UTF-8 file under `dir` but the private folder, by path relative to `root`.
fn collect_text_files(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.file_name().is_some_and(|n| n == state::PRIVATE) {
            continue;
        }
        if path.is_dir() {
            collect_text_files(root, &path, out);
        } else if let (Ok(text), Ok(rel)) = (fs::read_to_string(&path), path.strip_prefix(root)) {
            out.insert(rel.display().to_string(), text);
        }
    }
}

/// The learner's `prometheus.yml` as promtool took it.
struct Learner {
    /// The file's text.
    text: String,
    /// promtool's complaint, when it refused the file.
    refused: Option<String>,
}

/// Applies the learner's files to the lab in `dir`, waits for fresh scrapes and explains
/// what is wrong. `Ok` whether solved or not (see [`CheckReport::solved`]).
pub async fn check(
    dir: &Path,
    tools: &LabTools,
    options: CheckOptions,
) -> Result<CheckReport, LabError> {
    state::sweep_interrupted_starts();
    let mut lab = LabState::load(dir)?;
    let dir = lab.dir.clone();
    let url = format!("http://127.0.0.1:{}", lab.ports.prometheus);
    let prometheus = DetachedPrometheus::find(&lab.private(run::PROMETHEUS_DIR))?;
    let mut findings = apply_web_config(&mut lab, tools).await?;
    findings.extend(not_running(&lab, prometheus.as_ref()));
    let mut targets = Vec::new();
    apply_nginx(&mut lab, tools, &mut findings).await?;
    let learner = read_learner(&dir).await?;
    match (&learner.refused, &prometheus) {
        (Some(message), _) => findings.push(diagnose::config_refused(message, &learner.text)),
        (None, Some(prometheus)) => {
            let (seen, found) = apply_prometheus(prometheus, &learner, &lab, options).await?;
            targets = seen;
            findings.extend(found);
        }
        (None, None) => {}
    }
    // The exporter's refusal to start and the judge's reading of the same file: once.
    let mut refused_web_config = false;
    findings.retain(|f| {
        let again = f.kind == WEB_CONFIG_REFUSED && refused_web_config;
        refused_web_config |= f.kind == WEB_CONFIG_REFUSED;
        !again
    });
    let solved =
        findings.is_empty() && !targets.is_empty() && targets.iter().all(|t| t.health == "up");
    let fixed = remember(&dir, solved, &findings)?;
    Ok(CheckReport {
        lab: lab.lab.clone(),
        prometheus_url: url,
        solved,
        targets,
        findings,
        fixed,
        checked_at: state::now(),
        checks: state::history(&dir).len(),
        hints: state::hints_shown(&dir),
        dir,
    })
}

/// Reloads Prometheus with the learner's file (promtool accepted it), reads the
/// configuration Prometheus loaded from it, waits for fresh scrapes of that configuration,
/// probes the servers of the targets that came up (and rotates the token where the lab
/// protects a rotation), and judges it all.
async fn apply_prometheus(
    prometheus: &DetachedPrometheus,
    learner: &Learner,
    lab: &LabState,
    options: CheckOptions,
) -> Result<(Vec<TargetReport>, Vec<Finding>), LabError> {
    prometheus.replace_config(&learner.text)?;
    if let Err(err) = prometheus.api().reload().await {
        let finding = Finding::new(
            "prometheus.yml",
            "reload_failed",
            &err.to_string(),
            "Prometheus did not take the file although promtool accepted it".into(),
            format!("Prometheus' log: {}", prometheus.log_path().display()),
        );
        return Ok((Vec::new(), vec![finding]));
    }
    // Scrapes that started before the reload returned may have used the old config.
    let reloaded_at = SystemTime::now();
    let (watch, loaded) = match PrometheusWatch::attach_to_loaded(
        prometheus.api().clone(),
        Some(prometheus.log_path()),
        BTreeMap::new(),
        options.deadline,
    )
    .await
    {
        Ok(attached) => attached,
        Err(FixtureError::LoadedConfigUnreadable { detail }) => {
            let finding = Finding::new(
                "prometheus.yml",
                "loaded_config_unreadable",
                &detail,
                "the harness cannot read the configuration Prometheus loaded, so it cannot judge what Prometheus does".into(),
                format!("Prometheus' log: {}", prometheus.log_path().display()),
            );
            return Ok((Vec::new(), vec![finding]));
        }
        Err(other) => return Err(other.into()),
    };
    if loaded.scrape_configs.is_empty() {
        let finding = Finding::new(
            "prometheus.yml",
            "no_jobs",
            "",
            "Prometheus loaded no scrape job from the file".into(),
            "prometheus.yml: scrape_configs".into(),
        );
        return Ok((Vec::new(), vec![finding]));
    }
    let jobs = &loaded.scrape_configs;
    let watched = observe(&watch, jobs, reloaded_at, options.deadline).await?;
    let probed = probe_servers(&watch, lab, jobs, &watched, options.deadline).await?;
    let judged = judge(&lab.dir, lab, jobs, &watched, &probed);
    if let Some(out) = std::env::var_os(RECORD_ENV) {
        RecordedCheck::of(lab, (&learner.text, &loaded), (watched, probed), &judged)
            .write(Path::new(&out))?;
    }
    Ok(judged)
}

/// For every job whose target came up: the probes' answers about its server, and, where
/// the lab protects a token rotation, whether the target stays up when `check` rotates
/// the exporter's token (written to its token file, then two fresh scrapes waited for).
async fn probe_servers(
    watch: &PrometheusWatch,
    lab: &LabState,
    jobs: &[ScrapeConfig],
    watched: &BTreeMap<String, Watch>,
    deadline: Duration,
) -> Result<BTreeMap<String, Probed>, LabError> {
    let protects = protects::of(lab.lab()?);
    let probe_dir = lab.private("probe");
    let unknown_ca = protects::unknown_ca_cert(&probe_dir)
        .map_err(|e| LabError::io("writing a probe certificate in", &probe_dir, e))?;
    let mut out = BTreeMap::new();
    for job in jobs {
        let Some(w) = watched
            .get(&job.job_name)
            .filter(|w| w.health == Some(Health::Up))
        else {
            continue;
        };
        let mut probed = Probed {
            facts: Some(protects::probe(job, &w.scrape_url, unknown_ca.clone()).await),
            up_after_rotation: None,
        };
        if protects.contains(&Protected::SurvivesRotation) {
            probed.up_after_rotation = Some(rotate_token(watch, lab, job, deadline).await?);
        }
        out.insert(job.job_name.clone(), probed);
    }
    Ok(out)
}

/// Writes a new token into the exporter's token file (as operations would) and reports
/// whether the job's next fresh scrapes are up.
async fn rotate_token(
    watch: &PrometheusWatch,
    lab: &LabState,
    job: &ScrapeConfig,
    deadline: Duration,
) -> Result<bool, LabError> {
    let (server, _) = diagnose::web_config_view(&lab.dir);
    let Some(file) = server.token_file else {
        return Ok(false); // no token file on the server: nothing survives a rotation
    };
    let path = lab.dir.join(&file);
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let token = format!("rotated-by-check-{nanos:x}");
    crate::supervise::atomic_write(&path, &token)
        .map_err(|e| LabError::io("rotating", &path, e))?;
    let rotated_at = SystemTime::now();
    let names = [job.clone()];
    let after = observe(watch, &names, rotated_at, deadline).await?;
    Ok(after
        .get(&job.job_name)
        .is_some_and(|w| w.health == Some(Health::Up)))
}

/// A finding for every process of the lab that is not running any more (Prometheus:
/// unless the backend found it again).
fn not_running(lab: &LabState, prometheus: Option<&DetachedPrometheus>) -> Vec<Finding> {
    let alive: Vec<u32> = procs::lab_processes(&lab.dir, &lab.procs)
        .into_iter()
        .map(|(p, _)| p)
        .collect();
    let running = |p: &Proc| match p.role.as_str() {
        "prometheus" => prometheus.is_some(),
        _ => alive.contains(&p.pid),
    };
    lab.procs
        .iter()
        .filter(|p| !running(p))
        .map(|p| {
            let why = match p.role.as_str() {
                "prometheus" => format!(
                    " ({})",
                    DetachedPrometheus::why_absent(&lab.private(run::PROMETHEUS_DIR))
                ),
                _ => String::new(),
            };
            Finding::new(
                &p.role,
                "not_running",
                "",
                format!(
                    "the lab's {} (pid {}) is not running any more{why}",
                    p.role, p.pid
                ),
                format!("its log in {}; restart the lab: `scrape-harness lab stop` then `lab start {}` (your edits are overwritten)", lab.private("").display(), lab.lab),
            )
        })
        .collect()
}

/// The finding of a `web-config.yml` the exporter refuses.
const WEB_CONFIG_REFUSED: &str = "web_config_refused";
/// How long a (re)started exporter may take to listen.
const EXPORTER_READY: Duration = Duration::from_secs(15);

/// A build-it lab's exporter: like node_exporter (exporter-toolkit), it decides TLS on or
/// off when it starts, so it is (re)started with the learner's `web-config.yml` when that
/// file or a file it names ([`exporter_fingerprint`]) was created or changed since the
/// exporter last started, or when the exporter does
/// not run (it refused the file last time: the certificate files it names may be fixed
/// now). No file yet is what is missing; a file the exporter refuses is named with the
/// exporter's own error. Other labs: nothing to do (their exporter runs from `start`).
async fn apply_web_config(lab: &mut LabState, tools: &LabTools) -> Result<Vec<Finding>, LabError> {
    if !lab.lab()?.is_build_it() {
        return Ok(Vec::new());
    }
    let file = lab.dir.join("web-config.yml");
    if !file.is_file() {
        return Ok(vec![Finding::new(
            "web-config.yml",
            "no_exporter_config",
            "",
            "the exporter has no web config yet, so it does not run: write web-config.yml \
             (the README's tutorial path, step 2)"
                .into(),
            format!(
                "web-config.yml in {} (exporter-toolkit format)",
                lab.dir.display()
            ),
        )]);
    }
    let now = exporter_fingerprint(&file);
    let alive: Vec<u32> = procs::lab_processes(&lab.dir, &lab.procs)
        .into_iter()
        .map(|(p, _)| p)
        .collect();
    let running = lab.pid_of("exporter").is_some_and(|p| alive.contains(&p));
    if running && lab.web_config_loaded.as_deref() == Some(now.as_str()) {
        return Ok(Vec::new());
    }
    if running {
        procs::stop_server(&lab.dir, "exporter")?;
        procs::wait_closed(lab.ports.exporter, EXPORTER_READY).await;
    }
    lab.procs.retain(|p| p.role != "exporter");
    lab.web_config_loaded = None;
    let exporter = run::spawn_exporter(&lab.dir, &lab.ports, tools)?;
    match exporter.wait_listening(EXPORTER_READY).await {
        Ok(()) => {
            lab.procs.push(Proc {
                role: "exporter".into(),
                pid: exporter.child.pid(),
                port: lab.ports.exporter,
            });
            exporter.disown();
            lab.web_config_loaded = Some(now);
            lab.save()?;
            Ok(Vec::new())
        }
        Err(LabError::NotReady { detail, .. }) => {
            let log = fs::read_to_string(&exporter.log).unwrap_or_default();
            drop(exporter); // exited (or stuck): stopped, its record removed
            lab.save()?;
            let said = log
                .lines()
                .rev()
                .find(|l| l.starts_with("fake-exporter: "))
                .map_or(detail, str::to_owned);
            Ok(vec![Finding::new(
                "web-config.yml",
                WEB_CONFIG_REFUSED,
                &said,
                "the exporter refuses to start with this web-config.yml (its error above: a \
                 key, a file it names, or a key that does not belong to the certificate), so \
                 nothing listens on its port"
                    .into(),
                "web-config.yml and the files it names, at what the exporter's error says".into(),
            )])
        }
        Err(other) => Err(other),
    }
}

/// A build-it exporter's inputs: its web config and the certificate, key and client CA
/// files it names. A change of any restarts it: a certificate the learner made again is
/// judged on new connections (a kept-alive one would still show the old certificate), and
/// a key that no longer matches its certificate is refused as the exporter refuses it.
fn exporter_fingerprint(web_config: &Path) -> String {
    let mut parts = vec![files::fingerprint(web_config)];
    if let Ok(config) = fake_exporter::WebConfig::from_file(web_config) {
        if let Some(tls) = &config.tls_server_config {
            for source in [&tls.cert, &tls.key, &tls.client_ca].into_iter().flatten() {
                if let fake_exporter::PemSource::File(path) = source {
                    parts.push(files::fingerprint(path));
                }
            }
        }
    }
    parts.join("-")
}

/// nginx: tests the learner's nginx.conf and reloads nginx when the file changed.
async fn apply_nginx(
    lab: &mut LabState,
    tools: &LabTools,
    findings: &mut Vec<Finding>,
) -> Result<(), LabError> {
    let alive: Vec<u32> = procs::lab_processes(&lab.dir, &lab.procs)
        .into_iter()
        .map(|(p, _)| p)
        .collect();
    if !lab.pid_of("nginx").is_some_and(|p| alive.contains(&p)) {
        return Ok(());
    }
    let now = files::fingerprint(&lab.dir.join("nginx.conf"));
    if lab.nginx_conf_loaded.as_deref() == Some(now.as_str()) {
        return Ok(());
    }
    let tested = {
        let (nginx, args, d) = (
            tools.nginx.clone(),
            run::nginx_args(&lab.dir, true),
            lab.dir.clone(),
        );
        tokio::task::spawn_blocking(move || tools::run_command(&nginx, &args, &d))
            .await
            .expect("nginx -t does not panic")
    };
    match tested {
        Err(err @ LabError::Command { .. }) => findings.push(Finding::new(
            "nginx.conf",
            "nginx_config_refused",
            &tools::tool_output(&err),
            "nginx refuses the file (nginx -t says why above); nginx keeps running the previous one".into(),
            "nginx.conf at the line nginx names".into(),
        )),
        Err(other) => return Err(other),
        Ok(_) => {
            reload_nginx(lab).await?;
            lab.nginx_conf_loaded = Some(now);
            lab.save()?;
        }
    }
    Ok(())
}

/// Reads the learner's `prometheus.yml` and runs promtool on it.
async fn read_learner(dir: &Path) -> Result<Learner, LabError> {
    let path = dir.join("prometheus.yml");
    let text = fs::read_to_string(&path).map_err(|e| LabError::io("reading", &path, e))?;
    let refused = tokio::task::spawn_blocking(move || tools::promtool(&path))
        .await
        .expect("promtool does not panic")?;
    Ok(Learner { text, refused })
}

/// Records this check in the history; returns the problems earlier checks named that are
/// gone now.
fn remember(dir: &Path, solved: bool, findings: &[Finding]) -> Result<Vec<String>, LabError> {
    let problems: Vec<String> = findings
        .iter()
        .map(|f| format!("{}: {}", f.kind, f.cause))
        .collect();
    let earlier = state::history(dir);
    let mut fixed: Vec<String> = Vec::new();
    // While a protection is weakened, nothing counts as fixed: the earlier problem may be
    // gone only because of the weakening (verification off hides an unknown authority).
    let weakened = findings.iter().any(|f| f.kind == "weakened");
    for past in earlier.iter().filter(|p| !p.solved && !weakened) {
        for p in &past.problems {
            let kind = p.split(':').next().unwrap_or_default();
            if !findings.iter().any(|f| f.kind == kind)
                && !fixed.iter().any(|f| f.split(':').next() == Some(kind))
            {
                fixed.push(p.clone());
            }
        }
    }
    let at = state::now();
    state::record(
        dir,
        PastCheck {
            at,
            solved,
            problems,
        },
    )?;
    Ok(fixed)
}

/// SIGHUP, then wait (deadline 15 s) until nginx logs that it reconfigured.
async fn reload_nginx(lab: &LabState) -> Result<(), LabError> {
    let log = lab.private("nginx/error.log");
    let count = |log: &Path| {
        fs::read_to_string(log)
            .unwrap_or_default()
            .matches("reconfiguring")
            .count()
    };
    let before = count(&log);
    procs::hangup_nginx(lab)?;
    let deadline = Duration::from_secs(15);
    let log_ref = log.as_path();
    let reloaded = poll_until(deadline, Duration::from_millis(50), move || async move {
        let seen = count(log_ref);
        Ok::<_, Infallible>(if seen > before {
            Probe::Done(())
        } else {
            Probe::Pending(seen)
        })
    })
    .await;
    reloaded.map_err(|_| LabError::NotReady {
        what: "nginx reload".into(),
        waited: deadline,
        detail: format!(
            "no \"reconfiguring\" line in {}:\n{}",
            log.display(),
            procs::tail(&log)
        ),
    })
}

/// What the lab reads from Prometheus after applying the learner's files: per job, the
/// scrapes started after `since` (an up target [`UP_SCRAPES`] times, to count its
/// connections; a down one [`DOWN_SCRAPES`] times), or why Prometheus dropped the job (its
/// log), until every job is judgeable or the deadline passes. Read from the one poller's
/// snapshots ([`PrometheusWatch`]), as every command reads Prometheus.
async fn observe(
    watch: &PrometheusWatch,
    jobs: &[ScrapeConfig],
    since: SystemTime,
    deadline: Duration,
) -> Result<BTreeMap<String, Watch>, LabError> {
    let mut seen: BTreeMap<String, Watch> = jobs
        .iter()
        .map(|j| (j.job_name.clone(), Watch::default()))
        .collect();
    let waited = watch
        .wait_for(deadline, "every job judgeable", |o| {
            if record_scrapes(&mut seen, jobs, o, since) {
                record_connections(&mut seen, &o.counters.conntrack_established);
            }
            let pending: Vec<String> = seen
                .iter()
                .filter(|(_, w)| !judgeable(w))
                .map(|(job, w)| format!("{job}: {} scrape(s)", w.scrapes.len()))
                .collect();
            if pending.is_empty() {
                Ok(())
            } else {
                Err(pending.join(", ").into())
            }
        })
        .await;
    match waited {
        // At the deadline, what was seen is judged (a job never scraped is `no_scrape`).
        Ok(_) | Err(FixtureError::Deadline { .. }) => Ok(seen),
        Err(e) => Err(e.into()),
    }
}

/// Whether a target Prometheus lists is one of `job` as loaded now, not one left over
/// from the configuration before the reload: its scheme is the job's, and, unless the job
/// relabels, its address is one of the job's static targets.
fn of_loaded_job(job: &ScrapeConfig, scrape_url: &str) -> bool {
    let scheme = if job.scheme == Some(Scheme::Https) {
        "https"
    } else {
        "http"
    };
    if !scrape_url.starts_with(&format!("{scheme}://")) {
        return false;
    }
    job.other.contains_key("relabel_configs")
        || protects::authority(scrape_url).is_some_and(|a| diagnose::targets(job).any(|t| t == a))
}

/// Notes every scrape of a watched job newer than `since` (of a target of the loaded
/// job), and the jobs Prometheus dropped; whether a scrape was new.
fn record_scrapes(
    seen: &mut BTreeMap<String, Watch>,
    jobs: &[ScrapeConfig],
    o: &Observations,
    since: SystemTime,
) -> bool {
    let mut fresh = false;
    for t in &o.targets {
        let Some(w) = seen.get_mut(&t.job) else {
            continue;
        };
        let current = jobs.iter().find(|j| j.job_name == t.job);
        if t.health != Health::Missing
            && !current.is_some_and(|job| of_loaded_job(job, &t.scrape_url))
        {
            continue;
        }
        if t.health == Health::Missing {
            if w.scrapes.is_empty() {
                w.health = Some(Health::Missing);
                w.last_error = t.last_error.clone();
            }
            continue;
        }
        if let Some(at) = t
            .last_scrape
            .filter(|at| *at > since && !w.scrapes.contains(at))
        {
            w.scrapes.push(at);
            w.health = Some(t.health);
            w.last_error = t.last_error.clone();
            w.instance = t.instance.clone();
            w.scrape_url = t.scrape_url.clone();
            fresh = true;
        }
    }
    fresh
}

/// Notes each job's connection count (the first one after its first fresh scrape).
fn record_connections(seen: &mut BTreeMap<String, Watch>, conns: &BTreeMap<String, f64>) {
    for (job, w) in seen.iter_mut() {
        let Some(&c) = conns.get(job) else { continue };
        if w.scrapes.len() == 1 && w.first_connections.is_none() {
            w.first_connections = Some(c);
        }
        w.connections = Some(c);
    }
}

/// Whether a job has been seen enough to be judged: dropped (its log line), or scraped
/// twice when down (one scrape may straddle a file being replaced), three times when up.
fn judgeable(w: &Watch) -> bool {
    if w.scrapes.is_empty() {
        return w.health == Some(Health::Missing);
    }
    w.scrapes.len()
        >= if w.health == Some(Health::Up) {
            UP_SCRAPES
        } else {
            DOWN_SCRAPES
        }
}

/// What the server side of a job is (the exporter's web config, or nginx when the target
/// was scraped at the proxy's port, or its configured targets name it when it was not
/// scraped), and a finding when the exporter's web config is refused.
fn server_for(
    dir: &Path,
    lab: &LabState,
    job: &ScrapeConfig,
    scrape_url: &str,
) -> (ServerView, Option<Finding>) {
    let suffix = |p: u16| format!(":{p}");
    let scraped_port = |p: u16| match protects::authority(scrape_url) {
        Some(authority) => authority.ends_with(&suffix(p)),
        None => diagnose::targets(job).any(|t| t.ends_with(&suffix(p))),
    };
    match lab.ports.proxy {
        Some(proxy) if scraped_port(proxy) => {
            let conf = fs::read_to_string(dir.join("nginx.conf")).unwrap_or_default();
            (diagnose::nginx_view(&conf), None)
        }
        _ => diagnose::web_config_view(dir),
    }
}

/// One report and the findings per job, from what [`observe`] saw.
fn judge(
    dir: &Path,
    lab: &LabState,
    jobs: &[ScrapeConfig],
    watched: &BTreeMap<String, Watch>,
    probed: &BTreeMap<String, Probed>,
) -> (Vec<TargetReport>, Vec<Finding>) {
    let mut targets = Vec::new();
    let mut findings = Vec::new();
    // Invariant: a recorded lab state names a lab of the catalog.
    let protects = lab.lab().map(protects::of).unwrap_or_default();
    for job in jobs {
        let Some(w) = watched.get(&job.job_name) else {
            continue;
        };
        let subject = format!("job `{}`", job.job_name);
        let (server, problem) = server_for(dir, lab, job, &w.scrape_url);
        findings.extend(problem);
        let Some(health) = w.health else {
            findings.push(Finding::new(
                &subject,
                "no_scrape",
                "",
                "Prometheus did not scrape this job before the deadline".into(),
                "prometheus.yml: the job's static_configs; run `lab check` again".into(),
            ));
            continue;
        };
        let class = if health == Health::Missing {
            ErrorClass::JobMissing
        } else {
            classify(&w.last_error, &diagnose::context(job, &server))
        };
        let growth = match (w.first_connections, w.connections) {
            (Some(a), Some(b)) if w.scrapes.len() >= 2 => Some((b - a, w.scrapes.len() as u64 - 1)),
            _ => None,
        };
        targets.push(TargetReport {
            job: job.job_name.clone(),
            instance: w.instance.clone(),
            health: health.to_string(),
            last_error: w.last_error.clone(),
            class: class.to_string(),
            new_connections: growth.filter(|_| health == Health::Up).map(|g| g.0),
            scrapes: w.scrapes.len() as u64,
        });
        if health == Health::Up {
            let probed = probed.get(&job.job_name);
            let seen = Seen {
                scrape_url: &w.scrape_url,
                facts: probed.and_then(|p| p.facts.as_ref()),
                up_after_rotation: probed.and_then(|p| p.up_after_rotation),
            };
            findings.extend(protects::weakenings(
                &subject, &protects, job, seen, &lab.ports,
            ));
            findings.extend(diagnose::explain_up(&subject, job, &server, growth));
        } else {
            findings.push(diagnose::explain_down(
                &subject,
                &w.last_error,
                class,
                job,
                &server,
                dir,
            ));
        }
    }
    (targets, findings)
}

/// The judge replayed on what real `lab check`s recorded
/// (`harness/tests/fixtures/observations/lab-checks/`, written with
/// `SCRAPE_HARNESS_RECORD_LAB_CHECKS=<that folder>` over `lab start`, `check`,
/// `solution --apply`, `check` for every lab): no Prometheus, nginx or exporter runs.
#[cfg(test)]
mod replay_tests {
    use super::*;
    use crate::lab::catalog::LABS;

    fn recordings() -> Vec<(String, RecordedCheck)> {
        recorded_in("lab-checks")
    }

    /// The recordings of `harness/tests/fixtures/observations/<folder>`, by file name.
    fn recorded_in(folder: &str) -> Vec<(String, RecordedCheck)> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/observations")
            .join(folder);
        let mut out: Vec<(String, RecordedCheck)> = fs::read_dir(&dir)
            .expect("the recordings folder")
            .map(|e| e.expect("an entry").path())
            .map(|p| {
                let text = fs::read_to_string(&p).expect("readable");
                let name = p
                    .file_name()
                    .expect("a name")
                    .to_string_lossy()
                    .into_owned();
                let rec = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
                (name, rec)
            })
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// The judge on `rec`'s files (written into a fresh folder) and on `watched`.
    fn replay(
        rec: &RecordedCheck,
        watched: &BTreeMap<String, Watch>,
    ) -> (Vec<TargetReport>, Vec<Finding>) {
        let tmp = tempfile::tempdir().expect("a temp dir");
        let dir = tmp.path().display().to_string();
        for (rel, text) in &rec.files {
            let path = tmp.path().join(rel);
            fs::create_dir_all(path.parent().expect("a parent")).expect("folders");
            fs::write(&path, text.replace(DIR_MARK, &dir)).expect("written");
        }
        let mut lab = rec.lab.clone();
        lab.dir = tmp.path().to_owned();
        let loaded = serde_json::to_string(&rec.loaded).expect("a config serialises");
        let loaded: PrometheusConfig =
            serde_json::from_str(&loaded.replace(DIR_MARK, &dir)).expect("and reads back");
        judge(
            tmp.path(),
            &lab,
            &loaded.scrape_configs,
            watched,
            &rec.probed,
        )
    }

    fn kinds(findings: &[Finding]) -> Vec<String> {
        findings.iter().map(|f| f.kind.clone()).collect()
    }

    #[test]
    fn every_recorded_check_is_judged_again_as_it_was() {
        let recordings = recordings();
        // Every lab, solved; every lab but `config-refused` (promtool refuses its fault
        // before the judge runs) not solved yet.
        let names: Vec<&str> = recordings.iter().map(|(n, _)| n.as_str()).collect();
        for info in &LABS {
            let solved = format!("{}-solved.json", info.name);
            assert!(names.contains(&solved.as_str()), "{solved}");
            let unsolved = format!("{}-unsolved.json", info.name);
            assert_eq!(
                names.contains(&unsolved.as_str()),
                info.name != "config-refused",
                "{unsolved}"
            );
        }
        assert_eq!(recordings.len(), 2 * LABS.len() - 1);
        for (name, rec) in &recordings {
            let (targets, findings) = replay(rec, &rec.watched);
            assert_eq!(targets, rec.targets, "{name}");
            assert_eq!(kinds(&findings), rec.finding_kinds, "{name}");
            assert_eq!(rec.solved(), name.ends_with("-solved.json"), "{name}");
        }
    }

    /// Recorded by `lab_weakenings::every_lab_refuses_at_least_two_weakenings_...` with
    /// `SCRAPE_HARNESS_RECORD_LAB_CHECKS=harness/tests/fixtures/observations/lab-weakenings`.
    #[test]
    fn every_recorded_weakening_is_refused_again() {
        let recordings = recorded_in("lab-weakenings");
        assert_eq!(
            recordings.len(),
            32,
            "docs/teaching-labs.md cites 32 weakenings"
        );
        for info in &LABS {
            let of_lab = recordings
                .iter()
                .filter(|(_, r)| r.lab.lab == info.name)
                .count();
            assert!(of_lab >= 2, "{}: {of_lab} weakening(s)", info.name);
        }
        for (name, rec) in &recordings {
            let (targets, findings) = replay(rec, &rec.watched);
            assert_eq!(targets, rec.targets, "{name}");
            assert_eq!(kinds(&findings), rec.finding_kinds, "{name}");
            assert!(targets.iter().all(|t| t.health == "up"), "{name}");
            assert!(kinds(&findings).contains(&"weakened".to_owned()), "{name}");
        }
    }

    #[test]
    fn a_solved_check_whose_target_is_refused_or_never_scraped_is_not_solved() {
        for (name, rec) in recordings().iter().filter(|(_, r)| r.solved()) {
            let job = rec.watched.keys().next().expect("a job").clone();

            let mut refused = rec.watched.clone();
            let w = refused.get_mut(&job).expect("watched");
            w.health = Some(Health::Down);
            w.last_error = "server returned HTTP status 401 Unauthorized".into();
            let (targets, findings) = replay(rec, &refused);
            assert!(targets.iter().any(|t| t.health == "down"), "{name}");
            assert!(
                kinds(&findings).contains(&"unauthorized".to_owned()),
                "{name}: {:?}",
                kinds(&findings)
            );

            let mut unseen = rec.watched.clone();
            *unseen.get_mut(&job).expect("watched") = Watch::default();
            let (_, findings) = replay(rec, &unseen);
            assert!(kinds(&findings).contains(&"no_scrape".to_owned()), "{name}");
        }
    }
}

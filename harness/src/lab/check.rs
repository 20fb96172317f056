//! `lab check`: apply the learner's files (promtool, `/-/reload`, nginx -t and SIGHUP),
//! wait for fresh scrapes with a deadline, and turn what Prometheus says into findings.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use serde::Serialize;

use super::diagnose::{self, Finding, JobView, ServerView};
use super::error::LabError;
use super::files;
use super::procs;
use super::run::{self, ACTIVE_CONFIG};
use super::state::{self, LabState, PastCheck};
use super::tools::{self, LabTools};
use crate::classify::{classify, ErrorClass};
use crate::targets::{Health, PromApi};

/// How often the API is polled while waiting.
const POLL: Duration = Duration::from_millis(200);
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
#[derive(Clone, Debug, PartialEq, Serialize)]
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

#[derive(Default)]
struct Watch {
    scrapes: Vec<SystemTime>,
    first_connections: Option<f64>,
    connections: Option<f64>,
    health: Option<Health>,
    last_error: String,
    instance: String,
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
    let mut findings = Vec::new();
    let mut targets = Vec::new();

    let alive: Vec<u32> = procs::lab_processes(&dir, &lab.procs)
        .into_iter()
        .map(|(p, _)| p)
        .collect();
    for p in &lab.procs {
        if !alive.contains(&p.pid) {
            findings.push(Finding::new(
                &p.role,
                "not_running",
                "",
                format!("the lab's {} (pid {}) is not running any more", p.role, p.pid),
                format!("its log in {}; restart the lab: `scrape-harness lab stop` then `lab start {}` (your edits are overwritten)", lab.private("").display(), lab.lab),
            ));
        }
    }
    let prometheus_alive = lab.pid_of("prometheus").is_some_and(|p| alive.contains(&p));

    // nginx: test the learner's nginx.conf and reload it when it changed.
    if let Some(pid) = lab.pid_of("nginx").filter(|p| alive.contains(p)) {
        let conf = dir.join("nginx.conf");
        let now = files::fingerprint(&conf);
        if lab.nginx_conf_loaded.as_deref() != Some(now.as_str()) {
            let tested = {
                let (nginx, args, d) = (
                    tools.nginx.clone(),
                    run::nginx_args(&dir, true),
                    dir.clone(),
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
                    reload_nginx(&lab, pid).await?;
                    lab.nginx_conf_loaded = Some(now);
                    lab.save()?;
                }
            }
        }
    }

    let learner = fs::read_to_string(dir.join("prometheus.yml"))
        .map_err(|e| LabError::io("reading", dir.join("prometheus.yml"), e))?;
    let promtool = {
        let (promtool, file) = (tools.promtool.clone(), dir.join("prometheus.yml"));
        tokio::task::spawn_blocking(move || tools::promtool_check(&promtool, &file))
            .await
            .expect("promtool does not panic")
    };
    let jobs = diagnose::jobs(&learner);
    if let Err(message) = promtool {
        findings.push(diagnose::config_refused(&message, &learner));
    } else if prometheus_alive {
        state::write_atomic(&dir.join(ACTIVE_CONFIG), &learner)?;
        let api = PromApi::new(&url);
        let reloaded = api.reload().await;
        // Scrapes that started before the reload returned may have used the old config.
        let reloaded_at = SystemTime::now();
        match reloaded {
            Err(err) => findings.push(Finding::new(
                "prometheus.yml",
                "reload_failed",
                &err.to_string(),
                "Prometheus did not take the file although promtool accepted it".into(),
                format!(
                    "Prometheus' log: {}",
                    lab.private("prometheus.log").display()
                ),
            )),
            Ok(()) if jobs.is_empty() => findings.push(Finding::new(
                "prometheus.yml",
                "no_jobs",
                "",
                "the file has no scrape job".into(),
                "prometheus.yml: scrape_configs".into(),
            )),
            Ok(()) => {
                let watched = watch(&api, &jobs, reloaded_at, &lab, options.deadline).await?;
                judge(&dir, &lab, &jobs, watched, &mut targets, &mut findings);
            }
        }
    }

    let solved =
        findings.is_empty() && !targets.is_empty() && targets.iter().all(|t| t.health == "up");
    let problems: Vec<String> = findings
        .iter()
        .map(|f| format!("{}: {}", f.kind, f.cause))
        .collect();
    let earlier = state::history(&dir);
    let mut fixed: Vec<String> = Vec::new();
    for past in earlier.iter().filter(|p| !p.solved) {
        for p in &past.problems {
            let kind = p.split(':').next().unwrap_or_default();
            if !findings.iter().any(|f| f.kind == kind)
                && !fixed.iter().any(|f| f.split(':').next() == Some(kind))
            {
                fixed.push(p.clone());
            }
        }
    }
    let at = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    state::record(
        &dir,
        PastCheck {
            at,
            solved,
            problems,
        },
    )?;
    Ok(CheckReport {
        lab: lab.lab.clone(),
        dir,
        prometheus_url: url,
        solved,
        targets,
        findings,
        fixed,
    })
}

/// SIGHUP, then wait (deadline 15 s) until nginx logs that it reconfigured.
async fn reload_nginx(lab: &LabState, pid: u32) -> Result<(), LabError> {
    let log = lab.private("nginx/error.log");
    let count = || {
        fs::read_to_string(&log)
            .unwrap_or_default()
            .matches("reconfiguring")
            .count()
    };
    let before = count();
    procs::hangup(pid)?;
    let end = Instant::now() + Duration::from_secs(15);
    while count() <= before {
        if Instant::now() >= end {
            return Err(LabError::NotReady {
                what: "nginx reload".into(),
                waited: Duration::from_secs(15),
                detail: format!(
                    "no \"reconfiguring\" line in {}:\n{}",
                    log.display(),
                    procs::tail(&log)
                ),
            });
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

/// Polls until every job was scraped after `since` (an up target [`UP_SCRAPES`] times, to
/// count its connections) or was dropped, or the deadline passes.
async fn watch(
    api: &PromApi,
    jobs: &[JobView],
    since: SystemTime,
    lab: &LabState,
    deadline: Duration,
) -> Result<BTreeMap<String, Watch>, LabError> {
    let mut seen: BTreeMap<String, Watch> = jobs
        .iter()
        .map(|j| (j.name.clone(), Watch::default()))
        .collect();
    let end = Instant::now() + deadline;
    loop {
        let targets = api.targets().await?;
        let mut fresh_any = false;
        for t in &targets {
            let Some(w) = seen.get_mut(&t.job) else {
                continue;
            };
            if let Some(at) = t
                .last_scrape
                .filter(|at| *at > since && !w.scrapes.contains(at))
            {
                w.scrapes.push(at);
                w.health = Some(t.health);
                w.last_error = t.last_error.clone();
                w.instance = t.instance.clone();
                fresh_any = true;
            }
        }
        if fresh_any {
            let conns = api.conntrack_established().await?;
            for (job, w) in seen.iter_mut() {
                let Some(&c) = conns.get(job) else { continue };
                if w.scrapes.len() == 1 && w.first_connections.is_none() {
                    w.first_connections = Some(c);
                }
                w.connections = Some(c);
            }
        }
        let log = fs::read_to_string(lab.private("prometheus.log")).unwrap_or_default();
        let done = seen.iter_mut().all(|(job, w)| {
            if w.scrapes.is_empty() {
                if let Some(reason) = crate::promlog::dropped_reason(&log, job) {
                    w.health = Some(Health::Missing);
                    w.last_error = reason;
                    return true;
                }
                return false;
            }
            // Down needs two fresh scrapes alike: one may straddle a file being replaced.
            w.scrapes.len()
                >= if w.health == Some(Health::Up) {
                    UP_SCRAPES
                } else {
                    DOWN_SCRAPES
                }
        });
        if done || Instant::now() >= end {
            return Ok(seen);
        }
        tokio::time::sleep(POLL).await;
    }
}

fn server_for(dir: &Path, lab: &LabState, job: &JobView) -> (ServerView, bool) {
    let scraped_port = |p: u16| job.targets.iter().any(|t| t.ends_with(&format!(":{p}")));
    let bypass = lab.ports.proxy.is_some() && scraped_port(lab.ports.exporter);
    let view = match lab.ports.proxy {
        Some(proxy) if scraped_port(proxy) => {
            diagnose::nginx_view(&fs::read_to_string(dir.join("nginx.conf")).unwrap_or_default())
        }
        _ => diagnose::web_config_view(
            &fs::read_to_string(dir.join("web-config.yml")).unwrap_or_default(),
        ),
    };
    (view, bypass)
}

fn judge(
    dir: &Path,
    lab: &LabState,
    jobs: &[JobView],
    watched: BTreeMap<String, Watch>,
    targets: &mut Vec<TargetReport>,
    findings: &mut Vec<Finding>,
) {
    for job in jobs {
        let Some(w) = watched.get(&job.name) else {
            continue;
        };
        let subject = format!("job `{}`", job.name);
        let (server, bypass) = server_for(dir, lab, job);
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
            job: job.name.clone(),
            instance: w.instance.clone(),
            health: health.to_string(),
            last_error: w.last_error.clone(),
            class: class.to_string(),
            new_connections: growth.filter(|_| health == Health::Up).map(|g| g.0),
            scrapes: w.scrapes.len() as u64,
        });
        if bypass {
            findings.push(Finding::new(
                &subject,
                "bypasses_proxy",
                "",
                format!("the job scrapes the exporter's own port {} directly, around the proxy's TLS and auth", lab.ports.exporter),
                "prometheus.yml: static_configs targets (scrape the proxy's port, see README.md)".into(),
            ));
        }
        if health == Health::Up {
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
}

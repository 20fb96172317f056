//! `scrape-harness explain`: why is each target of a running Prometheus red, and what is
//! risky about the green ones.
//!
//! Reads a Prometheus through the one poller ([`PrometheusWatch::attach_to_loaded`]): the
//! configuration it loaded, its targets (classified by [`crate::classify`]) and its own
//! connection counts; explains a down target with the labs' diagnosis
//! ([`crate::lab::diagnose`]: class → cause → keys) and flags the risks of an up one.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use crate::classify::{CaseContext, ErrorClass};
use crate::fixture::{FixtureError, PrometheusWatch};
use crate::lab::diagnose::{self, ServerView};
use crate::observations::{Observations, TargetObservation};
use crate::promconfig::{PrometheusConfig, Scheme, ScrapeConfig};
use crate::targets::{ApiError, Health, PromApi};

mod from_run;
mod probe;
mod render;
mod run_config;

pub use from_run::from_run;
pub use render::{html, junit, table, write_json, write_text};
pub use run_config::{explain_config, ConfigExplanation, ConfigOptions, PromtoolVerdict};

/// How long explain waits for targets of a job that has none yet (Prometheus applies new
/// target sets every 5 s) before it reports the job as missing.
const ABSENT_GRACE: Duration = Duration::from_secs(10);

/// What `explain` could not do (exit code 2).
#[derive(Debug, thiserror::Error)]
pub enum ExplainError {
    /// Prometheus did not answer, or refused the credentials.
    #[error("cannot read Prometheus at {url}: {source}")]
    Unreachable {
        /// The base URL.
        url: String,
        /// Why.
        source: ApiError,
    },
    /// The poller could not read the configuration or the targets.
    #[error("reading Prometheus at {url}: {source}")]
    Watch {
        /// The base URL.
        url: String,
        /// Why.
        source: Box<FixtureError>,
    },
    /// A report file could not be written.
    #[error("writing {}: {source}", .path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The configuration file could not be explained (`explain --config`).
    #[error("{0}")]
    Config(String),
}

/// How to explain a running Prometheus.
#[derive(Clone, Debug)]
pub struct ExplainOptions {
    /// Deadline of each read of Prometheus.
    pub read_deadline: Duration,
    /// How long to watch for two more scrapes of every up target (keep-alive); zero: no
    /// keep-alive judgement.
    pub keepalive_window: Duration,
    /// Probe up TLS targets with the job's settings (`cert_expiring`, `legacy_tls`).
    pub probe_tls: bool,
    /// A certificate that expires sooner than this is a `cert_expiring` risk.
    pub expiry_warning: Duration,
}

impl Default for ExplainOptions {
    fn default() -> Self {
        Self {
            read_deadline: Duration::from_secs(20),
            keepalive_window: Duration::from_secs(35),
            probe_tls: true,
            expiry_warning: Duration::from_secs(30 * 86_400),
        }
    }
}

/// One named risk of a target (up or down).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Risk {
    /// `insecure_skip_verify`, `credentials_in_clear`, `inline_secret`, `no_keep_alive`,
    /// `unauthenticated`.
    pub kind: String,
    /// What was seen, in plain words.
    pub detail: String,
}

/// One target, explained.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TargetExplanation {
    /// The job.
    pub job: String,
    /// The `instance` label.
    pub instance: String,
    /// The URL Prometheus scrapes.
    pub scrape_url: String,
    /// `up`, `down`, `unknown`, `missing`.
    pub health: Health,
    /// The error class label (`none` when up).
    pub class: String,
    /// The likely cause, in a sentence (empty when up).
    pub cause: String,
    /// The keys to look at, `prometheus.yml` notation first, then the exporter's.
    pub keys: Vec<String>,
    /// The significant part of `lastError`.
    pub evidence: String,
    /// A command the user can run to see it, with the job's own files.
    pub check: String,
    /// What to change.
    pub fix: String,
    /// Risks, also of an up target.
    pub risks: Vec<Risk>,
}

/// A Prometheus, explained.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Explanation {
    /// The Prometheus' base URL.
    pub prometheus: String,
    /// Its version (`/api/v1/status/buildinfo`).
    pub version: String,
    /// Every active target (and every dropped job), by job and instance.
    pub targets: Vec<TargetExplanation>,
}

/// When `explain` fails (exit 1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FailOn {
    /// A target is not up.
    #[default]
    Down,
    /// A target is not up, or an up one has a risk.
    Risk,
}

impl Explanation {
    /// Whether the result fails under `fail_on`.
    pub fn fails(&self, fail_on: FailOn) -> bool {
        self.targets
            .iter()
            .any(|t| t.health != Health::Up || (fail_on == FailOn::Risk && !t.risks.is_empty()))
    }
}

/// Explains the Prometheus behind `api`.
pub async fn explain(api: PromApi, options: &ExplainOptions) -> Result<Explanation, ExplainError> {
    let url = api.base_url().to_owned();
    let unreachable = |source| ExplainError::Unreachable {
        url: url.clone(),
        source,
    };
    // A direct read first: an unreachable Prometheus or a refused credential is said at
    // once, with the reason, instead of after the poller's deadline.
    let build = api.build_info().await.map_err(unreachable)?;
    let watch_error = |source| ExplainError::Watch {
        url: url.clone(),
        source: Box::new(source),
    };
    let (watch, loaded) =
        PrometheusWatch::attach_to_loaded(api, None, BTreeMap::new(), options.read_deadline)
            .await
            .map_err(watch_error)?;
    // A Prometheus that has just started (or reloaded) has no targets, or unscraped ones:
    // wait until every target was scraped once and every job has targets, or, for a job
    // that has none (dropped, or nothing discovered), ABSENT_GRACE.
    let began = std::time::Instant::now();
    let _ = watch
        .wait_for(options.read_deadline, "every target scraped once", |o| {
            let scraped = o.targets.iter().all(|t| t.health != Health::Unknown);
            if scraped && (o.absent.is_empty() || began.elapsed() >= ABSENT_GRACE) {
                Ok(())
            } else {
                Err("targets not all scraped once yet".into())
            }
        })
        .await;
    let first = watch
        .observe_now(options.read_deadline)
        .await
        .map_err(watch_error)?;
    let last = if options.keepalive_window.is_zero() {
        first.clone()
    } else {
        // Two more scrapes of every up target, or what the window gave.
        let before = first.clone();
        let _ = watch
            .wait_for(options.keepalive_window, "two more scrapes", |now| {
                if two_more_scrapes(&before, now) {
                    Ok(())
                } else {
                    Err("not every up target scraped twice more yet".into())
                }
            })
            .await;
        watch
            .observe_now(options.read_deadline)
            .await
            .map_err(watch_error)?
    };
    let last = settle_client_cert_classes(&loaded, last).await;
    let mut targets = explain_observations(&loaded, &first, &last);
    if options.probe_tls {
        let probes = targets
            .iter()
            .enumerate()
            .filter(|(_, t)| t.health == Health::Up)
            .filter_map(|(i, t)| {
                let job = loaded.scrape_configs.iter().find(|j| j.job_name == t.job)?;
                probe::TlsProbe::of(i, t, job)
            })
            .collect();
        for (index, risks) in probe::probe_all(probes, options.expiry_warning).await {
            if let Some(t) = targets.get_mut(index) {
                t.risks.extend(risks);
                if t.check.is_empty() && !t.risks.is_empty() {
                    if let Some(job) = loaded.scrape_configs.iter().find(|j| j.job_name == t.job) {
                        let observed = last
                            .targets
                            .iter()
                            .find(|o| o.job == t.job && o.instance == t.instance);
                        if let Some(o) = observed {
                            t.check = check_command(o, job, ErrorClass::CertExpired);
                        }
                    }
                }
            }
        }
    }
    Ok(Explanation {
        prometheus: url.clone(),
        version: build.version,
        targets,
    })
}

/// A down target whose connection died (`connection_reset`) or that answered `400` is
/// probed for what the classifier's context needs, and classified again with it, as the
/// matrix does: a TLS target, whether it asks for a client certificate; a plain HTTP one,
/// whether the port speaks TLS.
async fn settle_client_cert_classes(
    loaded: &PrometheusConfig,
    last: Arc<Observations>,
) -> Arc<Observations> {
    let mut settled = (*last).clone();
    for t in settled.targets.iter_mut().filter(|t| {
        t.health == Health::Down
            && matches!(
                t.class,
                ErrorClass::ConnectionReset | ErrorClass::HttpStatus(400)
            )
    }) {
        let Some(job) = loaded.scrape_configs.iter().find(|j| j.job_name == t.job) else {
            continue;
        };
        let Some((host, port)) = host_port(&t.scrape_url) else {
            continue;
        };
        let https = t.scrape_url.starts_with("https://");
        let context = if https {
            let name = job
                .tls_config
                .as_ref()
                .and_then(|c| c.server_name.clone())
                .unwrap_or_else(|| host.clone());
            CaseContext {
                scheme_https: true,
                target_tls: true,
                target_requires_client_cert: probe::asks_for_client_cert(&host, port, &name).await,
                job_presents_client_cert: diagnose::presents_client_cert(job),
                h2_refused_after_handshake: false,
            }
        } else {
            CaseContext {
                target_tls: probe::speaks_tls(&host, port).await,
                ..CaseContext::default()
            }
        };
        t.class = crate::classify::classify(&t.last_error, &context);
    }
    Arc::new(settled)
}

fn two_more_scrapes(before: &Observations, now: &Observations) -> bool {
    before
        .targets
        .iter()
        .filter(|t| t.health == Health::Up)
        .all(|t| {
            now.targets
                .iter()
                .find(|n| n.job == t.job && n.instance == t.instance)
                .is_some_and(|n| n.scrapes >= t.scrapes + 2)
        })
}

/// New connections and scrapes of every job between two snapshots (one pass over each).
fn growth_per_job<'a>(
    first: &Observations,
    last: &'a Observations,
) -> BTreeMap<&'a str, (f64, u64)> {
    let before: BTreeMap<(&str, &str), u64> = first
        .targets
        .iter()
        .map(|t| ((t.job.as_str(), t.instance.as_str()), t.scrapes))
        .collect();
    let mut scrapes: BTreeMap<&str, u64> = BTreeMap::new();
    for t in &last.targets {
        let was = before
            .get(&(t.job.as_str(), t.instance.as_str()))
            .copied()
            .unwrap_or(t.scrapes);
        *scrapes.entry(t.job.as_str()).or_default() += t.scrapes.saturating_sub(was);
    }
    scrapes
        .into_iter()
        .filter_map(|(job, n)| {
            let a = first.counters.conntrack_established.get(job)?;
            let b = last.counters.conntrack_established.get(job)?;
            Some((job, (b - a, n)))
        })
        .collect()
}

/// Explains every target of `last` (pure: no I/O but reading the job's password file to
/// tell a hash from a password).
pub(crate) fn explain_observations(
    loaded: &PrometheusConfig,
    first: &Observations,
    last: &Arc<Observations>,
) -> Vec<TargetExplanation> {
    let jobs: BTreeMap<&str, &ScrapeConfig> = loaded
        .scrape_configs
        .iter()
        .map(|j| (j.job_name.as_str(), j))
        .collect();
    let default_job = ScrapeConfig::default();
    let growth = growth_per_job(first, last);
    let mut out: Vec<TargetExplanation> = last
        .targets
        .iter()
        .map(|t| {
            let job = jobs.get(t.job.as_str()).copied().unwrap_or(&default_job);
            explain_target(t, job, growth.get(t.job.as_str()).copied())
        })
        .collect();
    // Jobs without any target: Prometheus dropped the scrape pool (a file of its
    // tls_config missing or unusable), or discovery found nothing.
    for job in &last.absent {
        let config = jobs.get(job.as_str()).copied().unwrap_or(&default_job);
        let absent = TargetObservation {
            job: job.clone(),
            health: Health::Missing,
            class: ErrorClass::JobMissing,
            last_error: "no target in /api/v1/targets: the scrape pool was dropped (see Prometheus' log) or discovery found nothing".into(),
            ..TargetObservation::default()
        };
        out.push(explain_target(&absent, config, None));
    }
    out.sort_by(|a, b| (&a.job, &a.instance).cmp(&(&b.job, &b.instance)));
    out
}

/// What explain knows of the exporter's side: only what the error says.
fn server_view(t: &TargetObservation) -> ServerView {
    ServerView {
        file: "the exporter's web config".into(),
        tls: t.scrape_url.starts_with("https://"),
        cert_file: Some("<cert_file>".into()),
        ..ServerView::default()
    }
}

fn explain_target(
    t: &TargetObservation,
    job: &ScrapeConfig,
    growth: Option<(f64, u64)>,
) -> TargetExplanation {
    let server = server_view(t);
    let subject = format!("{}/{}", t.job, t.instance);
    let mut risks = risks(t, job);
    let (class, cause, keys, fix) = if t.health == Health::Up {
        for finding in diagnose::explain_up(&subject, job, &server, growth) {
            if finding.kind == "keepalive" {
                risks.push(Risk {
                    kind: "no_keep_alive".into(),
                    detail: format!("{}: {}", finding.raw, finding.cause),
                });
            }
        }
        (ErrorClass::None, String::new(), Vec::new(), String::new())
    } else {
        let class = if t.health == Health::Missing {
            ErrorClass::JobMissing
        } else {
            t.class
        };
        let finding =
            diagnose::explain_down(&subject, &t.last_error, class, job, &server, Path::new("/"));
        let keys = diagnose::keys(class)
            .iter()
            .map(|k| (*k).to_owned())
            .collect();
        (class, finding.cause, keys, fix(class, &finding.look_at))
    };
    let check = if t.health == Health::Up && risks.is_empty() {
        String::new()
    } else {
        check_command(t, job, class)
    };
    TargetExplanation {
        job: t.job.clone(),
        instance: t.instance.clone(),
        scrape_url: t.scrape_url.clone(),
        health: t.health,
        class: class.to_string(),
        cause,
        keys,
        evidence: if t.significant_error.is_empty() {
            t.last_error.clone()
        } else {
            t.significant_error.clone()
        },
        check,
        fix,
        risks,
    }
}

/// The classifier's advice after its `: ` (the part that says what to do), and where to look.
pub(crate) fn fix(class: ErrorClass, look_at: &str) -> String {
    let advice = class.explanation();
    let advice = advice.split_once(": ").map_or(advice, |(_, rest)| rest);
    format!("{advice} (look at {look_at})")
}

/// Host and port of a scrape URL.
fn host_port(scrape_url: &str) -> Option<(String, u16)> {
    let url = reqwest::Url::parse(scrape_url).ok()?;
    let host = url
        .host_str()?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    Some((host, url.port_or_known_default()?))
}

fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Risks visible in the loaded configuration and the scrape URL.
fn risks(t: &TargetObservation, job: &ScrapeConfig) -> Vec<Risk> {
    let mut out = Vec::new();
    let risk = |kind: &str, detail: String| Risk {
        kind: kind.into(),
        detail,
    };
    let plain = t.scrape_url.starts_with("http://");
    let has_basic = job.basic_auth.is_some();
    let has_bearer = job.authorization.is_some();
    if diagnose::skips_verification(job) && job.scheme == Some(Scheme::Https) {
        out.push(risk(
            "insecure_skip_verify",
            "tls_config.insecure_skip_verify is on: Prometheus accepts any certificate, so anyone in the path can pose as the exporter".into(),
        ));
    }
    if plain && (has_basic || has_bearer) {
        out.push(risk(
            "credentials_in_clear",
            format!(
                "{} sent over plain HTTP: anyone on the path reads it; set `scheme: https`",
                if has_basic {
                    "the Basic password"
                } else {
                    "the Bearer token"
                }
            ),
        ));
    }
    let inline_password = job
        .basic_auth
        .as_ref()
        .is_some_and(|b| b.password.as_deref().is_some_and(|p| !p.is_empty()));
    if inline_password || diagnose::bearer_inline(job) {
        out.push(risk(
            "inline_secret",
            format!(
                "{} is written into prometheus.yml (the loaded configuration shows <secret>): use {}",
                if inline_password { "basic_auth.password" } else { "authorization.credentials" },
                if inline_password { "basic_auth.password_file" } else { "authorization.credentials_file" }
            ),
        ));
    }
    if plain && !has_basic && !has_bearer {
        if let Some((host, _)) = host_port(&t.scrape_url).filter(|(h, _)| !is_loopback(h)) {
            out.push(risk(
                "unauthenticated",
                format!("plain HTTP without credentials to {host}, which is not loopback: anyone who reaches the port reads the metrics"),
            ));
        }
    }
    out
}

/// Quotes a word for a POSIX shell when it needs it.
fn sh(word: &str) -> String {
    if !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@,+%".contains(c))
    {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// A command that shows the problem with the job's own files: `openssl s_client` for a
/// certificate problem, `curl` otherwise.
fn check_command(t: &TargetObservation, job: &ScrapeConfig, class: ErrorClass) -> String {
    let Some((host, port)) = host_port(&t.scrape_url) else {
        return String::new();
    };
    let tls = job.tls_config.as_ref();
    let ca = diagnose::tls_path(job, |t| &t.ca_file);
    let cert = diagnose::tls_path(job, |t| &t.cert_file);
    let key = diagnose::tls_path(job, |t| &t.key_file);
    let certificate_class = matches!(
        class,
        ErrorClass::UnknownAuthority
            | ErrorClass::NoIpSans
            | ErrorClass::HostnameMismatch
            | ErrorClass::LegacyCommonName
            | ErrorClass::CertExpired
            | ErrorClass::CertNotYetValid
            | ErrorClass::IncompatibleKeyUsage
            | ErrorClass::ClientCertRequired
            | ErrorClass::ClientCertRejected
            | ErrorClass::TlsVersion
            | ErrorClass::TlsHandshakeFailure
    );
    let connect = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    if certificate_class {
        let mut cmd = format!("openssl s_client -connect {}", sh(&connect));
        let server_name = tls.and_then(|t| t.server_name.clone());
        match (&server_name, host.parse::<std::net::IpAddr>().is_ok()) {
            (Some(name), _) => {
                cmd += &format!(" -servername {0} -verify_hostname {0}", sh(name));
            }
            (None, true) => cmd += &format!(" -verify_ip {}", sh(&host)),
            (None, false) => cmd += &format!(" -servername {0} -verify_hostname {0}", sh(&host)),
        }
        if let Some(ca) = &ca {
            cmd += &format!(" -CAfile {}", sh(ca));
        }
        if let (Some(cert), Some(key)) = (&cert, &key) {
            cmd += &format!(" -cert {} -key {}", sh(cert), sh(key));
        }
        cmd += " -verify_return_error -brief </dev/null";
        return cmd;
    }
    let mut cmd = "curl -sS -o /dev/null -w '%{http_code}\\n'".to_owned();
    if t.scrape_url.starts_with("https://") {
        if let Some(ca) = &ca {
            cmd += &format!(" --cacert {}", sh(ca));
        }
        if let (Some(cert), Some(key)) = (&cert, &key) {
            cmd += &format!(" --cert {} --key {}", sh(cert), sh(key));
        }
        if diagnose::skips_verification(job) {
            cmd += " -k";
        }
        if let Some(name) = tls.and_then(|t| t.server_name.as_deref()) {
            cmd += &format!(" --connect-to {}", sh(&format!("{name}:{port}:{connect}")));
        }
    }
    if let Some(basic) = &job.basic_auth {
        match diagnose::password_file(job) {
            Some(file) => {
                cmd += &format!(" -u \"{}:$(cat {})\"", basic.username, sh(&file));
            }
            None => cmd += &format!(" -u {}", sh(&basic.username)),
        }
    } else if let Some(file) = diagnose::bearer_file(job) {
        cmd += &format!(" -H \"Authorization: Bearer $(cat {})\"", sh(&file));
    }
    let url = match tls.and_then(|t| t.server_name.as_deref()) {
        Some(name) if t.scrape_url.starts_with("https://") => {
            t.scrape_url
                .replacen(&connect, &format!("{name}:{port}"), 1)
        }
        _ => t.scrape_url.clone(),
    };
    cmd += &format!(" {}", sh(&url));
    cmd
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(yaml: &str) -> ScrapeConfig {
        serde_norway::from_str::<PrometheusConfig>(yaml)
            .unwrap()
            .scrape_configs
            .remove(0)
    }

    fn target(url: &str, health: Health, class: ErrorClass, error: &str) -> TargetObservation {
        TargetObservation {
            job: "node".into(),
            instance: "x".into(),
            scrape_url: url.into(),
            health,
            class,
            last_error: error.into(),
            significant_error: error.into(),
            ..TargetObservation::default()
        }
    }

    #[test]
    fn a_dns_only_certificate_scraped_by_ip_names_server_name_and_an_openssl_check() {
        let job = job("scrape_configs:\n  - job_name: node\n    scheme: https\n    tls_config:\n      ca_file: /etc/prometheus/ca.crt\n    static_configs:\n      - targets: [\"127.0.0.1:9100\"]\n");
        let t = target(
            "https://127.0.0.1:9100/metrics",
            Health::Down,
            ErrorClass::NoIpSans,
            "x509: cannot validate certificate for 127.0.0.1 because it doesn't contain any IP SANs",
        );
        let e = explain_target(&t, &job, None);
        assert_eq!(e.class, "no_ip_sans");
        assert!(
            e.keys.contains(&"tls_config.server_name".to_owned()),
            "{e:?}"
        );
        assert_eq!(
            e.check,
            "openssl s_client -connect 127.0.0.1:9100 -verify_ip 127.0.0.1 -CAfile /etc/prometheus/ca.crt -verify_return_error -brief </dev/null"
        );
        assert!(e.fix.contains("server_name"), "{}", e.fix);
    }

    #[test]
    fn green_targets_get_their_risks() {
        let basic = job("scrape_configs:\n  - job_name: node\n    basic_auth:\n      username: u\n      password: <secret>\n    static_configs:\n      - targets: [\"10.0.0.1:9100\"]\n");
        let up = target(
            "http://10.0.0.1:9100/metrics",
            Health::Up,
            ErrorClass::None,
            "",
        );
        let kinds: Vec<String> = explain_target(&up, &basic, None)
            .risks
            .into_iter()
            .map(|r| r.kind)
            .collect();
        assert_eq!(kinds, ["credentials_in_clear", "inline_secret"]);
        let open = job("scrape_configs:\n  - job_name: node\n    static_configs:\n      - targets: [\"10.0.0.1:9100\"]\n");
        let e = explain_target(&up, &open, Some((3.0, 3)));
        let kinds: Vec<&str> = e.risks.iter().map(|r| r.kind.as_str()).collect();
        assert_eq!(kinds, ["unauthenticated", "no_keep_alive"]);
        let local = target(
            "http://127.0.0.1:9100/metrics",
            Health::Up,
            ErrorClass::None,
            "",
        );
        assert!(explain_target(&local, &open, Some((0.0, 3)))
            .risks
            .is_empty());
        let skip = job("scrape_configs:\n  - job_name: node\n    scheme: https\n    tls_config:\n      insecure_skip_verify: true\n    static_configs:\n      - targets: [\"127.0.0.1:9100\"]\n");
        let tls_up = target(
            "https://127.0.0.1:9100/metrics",
            Health::Up,
            ErrorClass::None,
            "",
        );
        assert_eq!(
            explain_target(&tls_up, &skip, None).risks[0].kind,
            "insecure_skip_verify"
        );
    }

    #[test]
    fn a_thousand_targets_are_explained_within_two_seconds() {
        let mut yaml = "scrape_configs:\n".to_owned();
        let mut last = Observations::default();
        for j in 0..100 {
            yaml += &format!("  - job_name: job{j}\n    scheme: https\n    tls_config:\n      ca_file: /nonexistent/ca.crt\n    basic_auth:\n      username: u\n      password_file: /nonexistent/pw\n    static_configs:\n      - targets: [\"127.0.0.1:1\"]\n");
            for i in 0..10 {
                let (health, class) = if i % 2 == 0 {
                    (Health::Up, ErrorClass::None)
                } else {
                    (Health::Down, ErrorClass::UnknownAuthority)
                };
                last.targets.push(TargetObservation {
                    job: format!("job{j}"),
                    instance: format!("10.0.{j}.{i}:9100"),
                    scrape_url: format!("https://10.0.{j}.{i}:9100/metrics"),
                    health,
                    class,
                    last_error: "x509: certificate signed by unknown authority".into(),
                    scrapes: 5,
                    ..TargetObservation::default()
                });
            }
            last.counters
                .conntrack_established
                .insert(format!("job{j}"), 10.0);
        }
        let loaded: PrometheusConfig = serde_norway::from_str(&yaml).unwrap();
        let first = last.clone();
        let last = Arc::new(last);
        let began = std::time::Instant::now();
        let explained = explain_observations(&loaded, &first, &last);
        let took = began.elapsed();
        assert_eq!(explained.len(), 1000);
        assert_eq!(
            explained
                .iter()
                .filter(|t| t.class == "unknown_authority")
                .count(),
            500
        );
        assert!(took < Duration::from_secs(2), "took {took:?}");
    }

    #[test]
    fn a_wrong_password_gets_a_curl_with_the_jobs_password_file() {
        let job = job("scrape_configs:\n  - job_name: node\n    basic_auth:\n      username: prom\n      password_file: /etc/p w\n    static_configs:\n      - targets: [\"127.0.0.1:9100\"]\n");
        let t = target(
            "http://127.0.0.1:9100/metrics",
            Health::Down,
            ErrorClass::Unauthorized,
            "server returned HTTP status 401 Unauthorized",
        );
        let e = explain_target(&t, &job, None);
        assert!(e.keys.contains(&"basic_auth.password_file".to_owned()));
        assert_eq!(
            e.check,
            "curl -sS -o /dev/null -w '%{http_code}\\n' -u \"prom:$(cat '/etc/p w')\" http://127.0.0.1:9100/metrics"
        );
        assert!(e.risks.iter().any(|r| r.kind == "credentials_in_clear"));
    }
}

//! Runs a [`ReceiverPlan`]: every receiver started (fake ones in-process, real Alertmanagers
//! as processes), ONE Prometheus (the [`PrometheusFixture`]) with an always-firing rule,
//! `alerting.alertmanagers[]` and `remote_write[]` entries pointing at them, then waits on
//! the fixture's observations (with a deadline) until every receiver has settled, and
//! judges each from three sources:
//!
//! - Prometheus' own counters on its `/metrics`: `prometheus_notifications_sent_total` and
//!   `prometheus_notifications_errors_total` (label `alertmanager`, the URL), and
//!   `prometheus_remote_storage_samples_total`, `..._samples_failed_total` (4xx: dropped) and
//!   `..._samples_retried_total` (TLS, network, 5xx: retried with backoff forever), label
//!   `remote_name` (the receiver's name). These are the names since 2.23 and in 3.x.
//! - Prometheus' log: the last `err=` it logged for the receiver's address, parsed once by
//!   the fixture's poller with the scrape classifier (which reads the notifier's
//!   `bad response status 401 Unauthorized` like a scrape's HTTP status).
//!
//! - The receiver's own counts: the fake's [`Received`] and requests by status; the real
//!   Alertmanager's `/api/v2/alerts`, read with the receiver's own CA and credentials.
//!
//! A receiver settles as delivering after 2 accepted sends, as failing once Prometheus'
//! failure count (notification errors; failed plus retried samples) has grown between two
//! polls with an error logged: a second failed send, past the first.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use fake_exporter::pki::PkiFiles;
use fake_exporter::{FakeExporter, Received, Receiver, RunningExporter, StatsSnapshot};
use serde::Serialize;

use super::alertmanager::{AlertmanagerError, RealAlertmanager};
use super::{ReceiverCase, ReceiverExpect, ReceiverKind, ReceiverPlan};
use crate::backend::{
    audit_own_web_config, BackendError, PrometheusChoice, PrometheusTls, PrometheusWebConfig,
};
use crate::classify::ErrorClass;
use crate::conformance::direct::{self, ClientTls};
use crate::fixture::{FixtureBuilder, FixtureError, PrometheusFixture};
use crate::observations::{Observations, PrometheusCounts};
use crate::promconfig::{
    self, AlertingConfig, AlertmanagerConfig, GlobalConfig, MetadataConfig, PromConfigError,
    PromDuration, PrometheusConfig, QueueConfig, RemoteWriteConfig, RuleFile, Scheme, StaticConfig,
};
use crate::runner::exporters;
use crate::targets::ApiError;

/// The alert the rule file fires on every evaluation.
pub const ALERT_NAME: &str = "ScrapeHarnessAlwaysFiring";

/// Accepted requests that settle a receiver as delivering.
const SETTLED_ACCEPTED: u64 = 2;

/// Where to run Prometheus.
#[derive(Clone, Debug, Default)]
pub struct ReceiverOptions {
    /// Which Prometheus (backend, image, binary).
    pub prometheus: PrometheusChoice,
}

/// Why a receivers run could not be judged.
#[derive(Debug, thiserror::Error)]
pub enum ReceiverRunError {
    /// Setting up files or the PKI.
    #[error("receivers run: {what}: {detail}")]
    Setup {
        /// What was being done.
        what: String,
        /// The error.
        detail: String,
    },
    /// A fake receiver did not start.
    #[error("receiver `{receiver}`: the fake receiver did not start: {source}")]
    Fake {
        /// The receiver.
        receiver: String,
        /// Why.
        source: fake_exporter::Error,
    },
    /// A real Alertmanager did not start.
    #[error("receiver `{receiver}`: {source}")]
    Alertmanager {
        /// The receiver.
        receiver: String,
        /// Why.
        source: AlertmanagerError,
    },
    /// The generated `prometheus.yml` is refused by promtool or cannot be written.
    #[error(transparent)]
    Config(#[from] PromConfigError),
    /// Prometheus did not start.
    #[error(transparent)]
    Backend(#[from] BackendError),
    /// Prometheus did not start or could not be observed.
    #[error(transparent)]
    Fixture(#[from] FixtureError),
    /// Its API failed.
    #[error(transparent)]
    Api(#[from] ApiError),
    /// The run that holds the receivers failed.
    #[error(transparent)]
    Run(Box<crate::runner::RunError>),
}

/// What was observed for one receiver.
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct Observed {
    /// Prometheus delivered: the receiver accepted and Prometheus counted no failure.
    pub delivered: bool,
    /// The class of the last error Prometheus logged for this receiver.
    pub class: ErrorClass,
    /// That error, raw.
    pub last_error: String,
    /// Prometheus' counters.
    pub prometheus: PrometheusCounts,
    /// What the fake receiver accepted (zero for the real Alertmanager).
    pub received: Received,
    /// The fake receiver's answers by status.
    pub statuses: BTreeMap<u16, u64>,
    /// The fake receiver's failed TLS handshakes by reason.
    pub handshakes_failed: BTreeMap<String, u64>,
    /// The real Alertmanager: alerts named [`ALERT_NAME`] its `/api/v2/alerts` lists.
    pub listed_alerts: Option<usize>,
    /// Why the real Alertmanager's alerts could not be listed.
    pub list_error: Option<String>,
    /// Settled before the deadline.
    pub settled: bool,
}

/// The verdict on one receiver.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ReceiverResult {
    /// Its name.
    pub name: String,
    /// What it is.
    pub kind: String,
    /// Whether it passed.
    pub passed: bool,
    /// Observed.
    pub observed: Observed,
    /// Expected, in words.
    pub expected: String,
    /// The failure report (empty when passed).
    pub report: String,
}

/// The outcome of a run.
#[derive(Clone, Debug, Serialize)]
pub struct ReceiverRun {
    /// One per receiver, in file order.
    pub results: Vec<ReceiverResult>,
    /// The Prometheus that ran.
    pub prometheus: String,
    /// The `prometheus.yml` it ran.
    pub prometheus_yml: String,
    /// From start to verdicts.
    #[serde(rename = "elapsed_seconds", serialize_with = "seconds")]
    pub elapsed: Duration,
    /// Prometheus' own endpoints probed (`prometheus.web_config:`), empty without one.
    pub own_web_config: Vec<crate::backend::EndpointCheck>,
    /// What `promtool check config` said of the generated `prometheus.yml` (and rule file).
    #[serde(skip)]
    pub promtool: promconfig::PromtoolCheck,
}

fn seconds<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

impl ReceiverRun {
    /// Receivers and endpoint checks that passed, and those that failed.
    pub fn counts(&self) -> (usize, usize) {
        let passed = self.results.iter().filter(|r| r.passed).count()
            + self.own_web_config.iter().filter(|c| c.passed()).count();
        let all = self.results.len() + self.own_web_config.len();
        (passed, all - passed)
    }

    /// One JUnit suite `receivers`: a case per receiver (classname: `file`) and per check
    /// of Prometheus' own endpoints.
    pub fn junit_suite(&self, file: &str) -> crate::report::junit::Suite {
        use crate::report::junit::{CaseOutcome, Suite, TestCase};
        let mut cases: Vec<TestCase> = self
            .results
            .iter()
            .map(|r| TestCase {
                classname: file.to_owned(),
                name: r.name.clone(),
                outcome: if r.passed {
                    CaseOutcome::Passed
                } else {
                    CaseOutcome::Failed {
                        message: format!("expected {}", r.expected),
                        body: r.report.clone(),
                    }
                },
                system_out: None,
            })
            .collect();
        cases.extend(self.own_web_config.iter().map(|c| TestCase {
            classname: format!("{file}: Prometheus' own web config"),
            name: format!("{} {:?}", c.path, c.probe),
            outcome: if c.passed() {
                CaseOutcome::Passed
            } else {
                CaseOutcome::Failed {
                    message: format!("expected HTTP {}, got {:?}", c.expected, c.status),
                    body: c.error.clone().unwrap_or_default(),
                }
            },
            system_out: None,
        }));
        let mut suite = Suite::new("receivers", cases);
        suite.time_s = Some(self.elapsed.as_secs_f64());
        suite
    }

    /// The failed receivers' reports and the endpoint checks that failed, joined (empty
    /// when all passed).
    pub fn failures(&self) -> String {
        let mut out: Vec<String> = self
            .results
            .iter()
            .filter(|r| !r.passed)
            .map(|r| r.report.clone())
            .collect();
        out.extend(self.own_web_config.iter().filter(|c| !c.passed()).map(|c| {
            format!(
                "FAIL Prometheus' own web config: {} {:?}: expected HTTP {}, got {}",
                c.path,
                c.probe,
                c.expected,
                match (&c.status, &c.error) {
                    (Some(s), _) => format!("HTTP {s}"),
                    (None, Some(e)) => format!("no answer: {e}"),
                    (None, None) => "no answer".into(),
                }
            )
        }));
        out.join("\n")
    }
}

/// One started receiver.
struct Started<'a> {
    case: &'a ReceiverCase,
    fake: Option<RunningExporter>,
    real: Option<RealAlertmanager>,
    addr: SocketAddr,
    client: crate::promconfig::ScrapeConfig,
    web_config_yaml: String,
}

/// `d` in Prometheus' notation, at least 1 ms (0 means "no timeout" or is refused).
fn prom_duration(d: Duration) -> PromDuration {
    PromDuration::whole_millis(d.max(Duration::from_millis(1)))
}

fn setup(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> ReceiverRunError {
    let what = what.into();
    move |e| ReceiverRunError::Setup {
        what,
        detail: e.to_string(),
    }
}

/// The receivers of a plan, started, and what they add to the run's one Prometheus: the
/// part of a run (`runner::run`) that receiver cases bring. Start them, let
/// [`Self::configure`] amend the fixture, start the fixture, then [`Self::settle`] and
/// [`Self::judge`].
pub(crate) struct ReceiverSet<'a> {
    plan: &'a ReceiverPlan,
    pki: PkiFiles,
    started: Vec<Started<'a>>,
    rules: PathBuf,
    /// Prometheus' own web config, when the plan asks for one.
    own: Option<PrometheusWebConfig>,
}

impl<'a> ReceiverSet<'a> {
    /// Writes each receiver's files under `dir/receivers/`, the always-firing rule file,
    /// and starts every receiver (their web configs use `pki`; passwords are hashed at the
    /// run's `bcrypt_cost`).
    pub(crate) async fn start(
        plan: &'a ReceiverPlan,
        bcrypt_cost: u32,
        pki: &PkiFiles,
        dir: &Path,
    ) -> Result<Self, ReceiverRunError> {
        let hashes = exporters::hash_passwords(plan.receivers.iter().map(|r| &r.case), bcrypt_cost)
            .await
            .map_err(|e| ReceiverRunError::Setup {
                what: "hashing the passwords".into(),
                detail: e.to_string(),
            })?;
        let mut started = Vec::with_capacity(plan.receivers.len());
        for r in &plan.receivers {
            started.push(start_receiver(r, pki, dir, &hashes).await?);
        }
        let rules = dir.join("receivers").join("rules.yml");
        RuleFile::always_firing("scrape-harness-receivers", ALERT_NAME).write(&rules)?;
        Ok(Self {
            plan,
            pki: pki.clone(),
            started,
            rules,
            own: own_web_config(plan, pki, bcrypt_cost),
        })
    }

    /// Adds the receivers to the fixture: `global.evaluation_interval`, the rule file,
    /// `alerting` and `remote_write`, an alert resend delay of one evaluation (so a refused
    /// send is retried within the run), the receivers' contexts for the poller's
    /// classifier, and Prometheus' own web config when the plan has one.
    pub(crate) fn configure(&self, builder: FixtureBuilder) -> FixtureBuilder {
        let mut builder = builder
            .edit_config(|c| amend_config(c, self.plan, &self.started, &self.rules))
            .arg(format!(
                "--rules.alert.resend-delay={}",
                prom_duration(self.plan.defaults.evaluation_interval)
            ));
        if let Some(own) = &self.own {
            builder = builder.web_config(own.clone());
        }
        for s in &self.started {
            builder = builder.receiver_context(s.addr.to_string(), s.case.case.context());
        }
        builder
    }

    /// Waits on the fixture until every receiver settled (or the plan's deadline), then
    /// reads the real Alertmanagers' alerts: what was observed of each receiver.
    pub(crate) async fn settle(
        &self,
        fixture: &PrometheusFixture,
    ) -> Result<Vec<Observed>, ReceiverRunError> {
        let mut observed =
            wait_settled(fixture, &self.started, self.plan.defaults.deadline).await?;
        for (s, o) in self.started.iter().zip(&mut observed) {
            if let Some(am) = &s.real {
                match list_alerts(s, am, &self.pki).await {
                    Ok(n) => o.listed_alerts = Some(n),
                    Err(e) => o.list_error = Some(e.to_string()),
                }
                o.delivered = o.delivered && o.listed_alerts.unwrap_or(0) > 0;
            }
        }
        Ok(observed)
    }

    /// Judges each receiver from what [`Self::settle`] observed, and audits Prometheus' own
    /// web config when the plan has one.
    pub(crate) async fn judge(
        &self,
        fixture: &PrometheusFixture,
        observed: Vec<Observed>,
        promtool: promconfig::PromtoolCheck,
        began: Instant,
    ) -> Result<ReceiverRun, ReceiverRunError> {
        let config = fixture.config().await;
        let yaml = promconfig::render(&config);
        let results = self
            .started
            .iter()
            .zip(observed)
            .map(|(s, o)| judge(s, o, &yaml))
            .collect();
        let own_web_config = match &self.own {
            Some(web) => {
                let addr = fixture
                    .address()
                    .parse()
                    .map_err(|_| ReceiverRunError::Setup {
                        what: "reading Prometheus' address".into(),
                        detail: fixture.base_url().to_owned(),
                    })?;
                audit_own_web_config(web, addr).await
            }
            None => Vec::new(),
        };
        Ok(ReceiverRun {
            results,
            prometheus: fixture.prometheus().description(),
            prometheus_yml: yaml,
            elapsed: began.elapsed(),
            own_web_config,
            promtool,
        })
    }
}

/// Prometheus' own `--web.config.file`, when the plan asks for one.
fn own_web_config(
    plan: &ReceiverPlan,
    pki: &PkiFiles,
    bcrypt_cost: u32,
) -> Option<PrometheusWebConfig> {
    plan.own_web_config.as_ref().map(|w| PrometheusWebConfig {
        tls: w.server_cert.map(|which| PrometheusTls {
            cert_file: pki.server_cert(which),
            key_file: pki.server_key(which),
            ca_file: pki.ca(),
        }),
        basic_auth: w.basic_auth.clone(),
        bcrypt_cost,
    })
}

/// Runs every receiver of `plan` against one Prometheus and judges each: a run of a plan
/// that holds these receivers only (`runner::run`, the one pipeline).
pub async fn run_receivers(
    plan: &ReceiverPlan,
    opts: &ReceiverOptions,
) -> Result<ReceiverRun, ReceiverRunError> {
    let whole = crate::scenario::Plan {
        defaults: plan.scenario_defaults.clone(),
        cases: Vec::new(),
        receivers: Some(plan.clone()),
        rotation: None,
    };
    let run_opts = crate::runner::RunOptions {
        prometheus: opts.prometheus.clone(),
        progress: false,
        ..crate::runner::RunOptions::default()
    };
    let report = crate::runner::run(&whole, &run_opts)
        .await
        .map_err(|e| ReceiverRunError::Run(Box::new(e)))?;
    report.receivers.ok_or_else(|| ReceiverRunError::Setup {
        what: "running the receivers".into(),
        detail: "the run returned no receivers part".into(),
    })
}

/// Waits on the fixture's observations until every receiver has settled, or `deadline`;
/// returns what was observed last either way (an unsettled receiver is judged as such).
async fn wait_settled(
    fixture: &PrometheusFixture,
    started: &[Started<'_>],
    deadline: Duration,
) -> Result<Vec<Observed>, ReceiverRunError> {
    // Prometheus' failure count when a poll first saw one, per receiver: a failing receiver
    // settles once the count has grown since (a second failed send, past the first).
    let mut first_failure: Vec<Option<f64>> = vec![None; started.len()];
    let mut last: Vec<Observed> = Vec::new();
    let waited = fixture
        .wait_for(deadline, "every receiver settled", |o| {
            last = started.iter().map(|s| observe(s, o)).collect();
            for (observed, first) in last.iter_mut().zip(&mut first_failure) {
                let failures = observed.prometheus.failures();
                if failures > 0.0 && !observed.last_error.is_empty() {
                    let first = *first.get_or_insert(failures);
                    observed.settled |= failures > first;
                }
            }
            let unsettled = last.iter().filter(|o| !o.settled).count();
            if unsettled == 0 {
                Ok(())
            } else {
                Err(format!("{unsettled} receiver(s) not settled").into())
            }
        })
        .await;
    match waited {
        Ok(_) | Err(FixtureError::Deadline { .. }) => Ok(last),
        Err(e) => Err(e.into()),
    }
}

async fn start_receiver<'a>(
    r: &'a ReceiverCase,
    pki: &PkiFiles,
    run_dir: &Path,
    hashes: &std::collections::HashMap<String, String>,
) -> Result<Started<'a>, ReceiverRunError> {
    let case = &r.case;
    let dir = run_dir.join("receivers").join(&r.name);
    let files_dir = dir.join("files");
    std::fs::create_dir_all(&files_dir).map_err(setup(format!("creating {}", dir.display())))?;
    case.write_files(&files_dir)
        .map_err(|(path, e)| setup(format!("writing {}", path.display()))(e))?;
    let web_config_path = dir.join("web-config.yml");
    let web_config = exporters::web_config(case, pki, &files_dir, &web_config_path, hashes)
        .map_err(|e| ReceiverRunError::Setup {
            what: format!("receiver `{}`: its web-config", r.name),
            detail: e.to_string(),
        })?;
    let web_config_yaml = web_config.to_yaml();
    std::fs::write(&web_config_path, &web_config_yaml)
        .map_err(setup(format!("writing {}", web_config_path.display())))?;
    let (fake, real, addr) = match r.kind {
        ReceiverKind::Alertmanager | ReceiverKind::RemoteWrite => {
            let receiver = if r.kind == ReceiverKind::Alertmanager {
                Receiver::Alertmanager
            } else {
                Receiver::RemoteWrite
            };
            let exporter = FakeExporter::builder()
                .web_config_file(&web_config_path)
                .receiver(receiver)
                .start()
                .await
                .map_err(|source| ReceiverRunError::Fake {
                    receiver: r.name.clone(),
                    source,
                })?;
            let addr = exporter.addr();
            (Some(exporter), None, addr)
        }
        ReceiverKind::RealAlertmanager => {
            let am = RealAlertmanager::start(&web_config_path, Duration::from_secs(30))
                .await
                .map_err(|source| ReceiverRunError::Alertmanager {
                    receiver: r.name.clone(),
                    source,
                })?;
            let addr = am.addr();
            (None, Some(am), addr)
        }
    };
    let client = exporters::scrape_job(case, pki, &files_dir, addr.to_string());
    Ok(Started {
        case: r,
        fake,
        real,
        addr,
        client,
        web_config_yaml,
    })
}

/// Adds the receivers' sections to `config` (a run's `prometheus.yml`, scrape jobs and all).
fn amend_config(
    config: &mut PrometheusConfig,
    plan: &ReceiverPlan,
    started: &[Started<'_>],
    rules: &Path,
) {
    let interval = prom_duration(plan.defaults.evaluation_interval);
    let mut alertmanagers = Vec::new();
    let mut remote_write = Vec::new();
    for s in started {
        let r = s.case;
        let c = &s.client;
        let targets = vec![StaticConfig {
            targets: vec![s.addr.to_string()],
            labels: BTreeMap::new(),
        }];
        if r.kind.is_alertmanager() {
            alertmanagers.push(AlertmanagerConfig {
                scheme: c.scheme,
                basic_auth: c.basic_auth.clone(),
                authorization: c.authorization.clone(),
                tls_config: c.tls_config.clone(),
                timeout: r.timeout.map(prom_duration),
                path_prefix: r.path_prefix.clone(),
                api_version: Some("v2".to_owned()),
                static_configs: targets,
                ..AlertmanagerConfig::default()
            });
        } else {
            let scheme = match c.scheme {
                Some(Scheme::Https) => "https",
                _ => "http",
            };
            remote_write.push(RemoteWriteConfig {
                url: format!("{scheme}://{}/api/v1/write", s.addr),
                name: Some(r.name.clone()),
                remote_timeout: r.timeout.map(prom_duration),
                basic_auth: c.basic_auth.clone(),
                authorization: c.authorization.clone(),
                tls_config: c.tls_config.clone(),
                queue_config: Some(QueueConfig {
                    batch_send_deadline: Some(interval),
                    min_backoff: Some(PromDuration::from_millis(100)),
                    max_backoff: Some(PromDuration::from_secs(1)),
                    ..QueueConfig::default()
                }),
                metadata_config: Some(MetadataConfig {
                    send: Some(false),
                    ..MetadataConfig::default()
                }),
                ..RemoteWriteConfig::default()
            });
        }
    }
    config
        .global
        .get_or_insert_with(GlobalConfig::default)
        .evaluation_interval = Some(interval);
    config.rule_files.push(rules.to_owned());
    if !alertmanagers.is_empty() {
        config
            .alerting
            .get_or_insert_with(AlertingConfig::default)
            .alertmanagers
            .extend(alertmanagers);
    }
    config.remote_write.extend(remote_write);
}

/// What one snapshot of the fixture says of receiver `s`, with the fake receiver's counters.
fn observe(s: &Started<'_>, o: &Observations) -> Observed {
    let r = s.case;
    let seen = o.receiver(&s.addr.to_string());
    let prometheus = seen.map(|seen| seen.counts).unwrap_or_default();
    let logged = seen
        .and_then(|seen| seen.last_error.clone())
        .unwrap_or_default();
    let stats: StatsSnapshot = s.fake.as_ref().map(|f| f.stats()).unwrap_or_default();
    let mut statuses = BTreeMap::new();
    for rq in &stats.requests {
        *statuses.entry(rq.status).or_default() += rq.count;
    }
    let failures = prometheus.failures();
    let (accepted, settled) = match &s.fake {
        Some(_) => {
            let accepted = stats.received.requests;
            let delivered_enough = accepted >= SETTLED_ACCEPTED
                && (r.kind != ReceiverKind::RemoteWrite || stats.received.samples > 0);
            (accepted, delivered_enough)
        }
        None => {
            let ok = prometheus.successes();
            (ok as u64, ok >= SETTLED_ACCEPTED as f64)
        }
    };
    Observed {
        delivered: accepted > 0 && failures == 0.0,
        class: if failures == 0.0 {
            ErrorClass::None
        } else {
            logged.class
        },
        last_error: logged.raw,
        prometheus,
        received: stats.received,
        statuses,
        handshakes_failed: stats.handshakes_failed,
        listed_alerts: None,
        list_error: None,
        settled,
    }
}

/// Why the real Alertmanager's alerts could not be listed (`GET /api/v2/alerts`).
#[derive(Debug, thiserror::Error)]
enum ListAlertsError {
    /// The request failed (connection, TLS, HTTP).
    #[error(transparent)]
    Request(#[from] direct::DirectError),
    /// Alertmanager answered another status than 200.
    #[error("GET /api/v2/alerts answered {status}: {body}")]
    Status {
        /// The status code.
        status: u16,
        /// The body, trimmed.
        body: String,
    },
    /// The body is not a JSON array of alerts.
    #[error("GET /api/v2/alerts: not a JSON array: {0}")]
    NotJson(#[source] serde_json::Error),
}

/// Lists the real Alertmanager's alerts with the receiver's own CA and first user, and
/// counts those named [`ALERT_NAME`].
async fn list_alerts(
    s: &Started<'_>,
    am: &RealAlertmanager,
    pki: &PkiFiles,
) -> Result<usize, ListAlertsError> {
    let e = &s.case.case.exporter;
    let tls = e.tls.as_ref().map(|tls| ClientTls {
        ca_file: Some(pki.ca()),
        verify_server: true,
        client_cert: tls.client_ca.map(|_| {
            (
                pki.by_name("client.crt").unwrap_or_default(),
                pki.by_name("client.key").unwrap_or_default(),
            )
        }),
        server_name: "127.0.0.1".into(),
        versions: Default::default(),
        cert_requested: None,
    });
    let headers: Vec<(&str, String)> = e
        .basic_auth_users
        .iter()
        .next()
        .map(|(user, pw)| ("authorization", fake_exporter::basic_header(user, pw)))
        .into_iter()
        .collect();
    let response = direct::get(am.addr(), tls.as_ref(), "/api/v2/alerts", &headers).await?;
    if response.status != 200 {
        return Err(ListAlertsError::Status {
            status: response.status,
            body: String::from_utf8_lossy(&response.body).trim().to_owned(),
        });
    }
    let alerts: Vec<serde_json::Value> =
        serde_json::from_slice(&response.body).map_err(ListAlertsError::NotJson)?;
    Ok(alerts
        .iter()
        .filter(|a| a["labels"]["alertname"] == ALERT_NAME)
        .count())
}

fn expected_text(x: &ReceiverExpect) -> String {
    if x.delivered {
        return "delivered".into();
    }
    let classes: Vec<String> = x.error.iter().map(ToString::to_string).collect();
    let mut text = format!("not delivered, error {}", classes.join(" or "));
    if let Some(status) = x.receiver_status {
        text.push_str(&format!(", receiver answered {status}"));
    }
    text
}

/// What is wrong with receiver `r` given what was observed of it: a pure function of the
/// case and the observation (tested on observations recorded from real runs).
pub(crate) fn problems(r: &ReceiverCase, o: &Observed) -> Vec<String> {
    let x = &r.expect;
    let mut problems = Vec::new();
    if !o.settled {
        problems.push(
            "did not settle before the deadline (neither 2 accepted sends nor a second \
             failed send with a logged error)"
                .to_owned(),
        );
    }
    let words = |delivered: bool| {
        if delivered {
            "delivered"
        } else {
            "not delivered"
        }
    };
    if o.delivered != x.delivered {
        problems.push(format!(
            "expected {}, observed {}",
            words(x.delivered),
            words(o.delivered)
        ));
    }
    if x.delivered {
        return problems;
    }
    if !x.error.contains(&o.class) {
        problems.push(format!(
            "expected error class {}, observed `{}`",
            x.error
                .iter()
                .map(|c| format!("`{c}`"))
                .collect::<Vec<_>>()
                .join(" or "),
            o.class
        ));
    }
    // The real Alertmanager has no counters of ours: Prometheus' own say it.
    if r.kind != ReceiverKind::RealAlertmanager && o.received.requests > 0 {
        problems.push(format!(
            "the receiver accepted {} request(s)",
            o.received.requests
        ));
    }
    if let Some(status) = x.receiver_status {
        if o.statuses.get(&status).copied().unwrap_or(0) == 0 {
            problems.push(format!("the receiver answered no request with {status}"));
        }
    }
    problems
}

fn judge(s: &Started<'_>, o: Observed, yaml: &str) -> ReceiverResult {
    let r = s.case;
    let x = &r.expect;
    let problems = problems(r, &o);
    let passed = problems.is_empty();
    let report = if passed {
        String::new()
    } else {
        let mut client = serde_norway::to_string(&s.client).unwrap_or_default();
        client.truncate(2_000);
        format!(
            "FAIL {}: receiver `{}` ({}) at {}{}:\n  {}\n  expected: {}\n  observed: delivered={} class={} last_error={:?}\n  prometheus: {:?}\n  receiver: {:?} statuses={:?} handshakes_failed={:?} listed_alerts={:?} {}\n  client side (as a scrape job):\n{}\n  web-config.yml:\n{}\n  prometheus.yml:\n{}\n{}",
            r.file,
            r.name,
            r.kind,
            s.addr,
            if r.description.is_empty() {
                String::new()
            } else {
                format!(" ({})", r.description)
            },
            problems.join("\n  "),
            expected_text(x),
            o.delivered,
            o.class,
            o.last_error,
            o.prometheus,
            o.received,
            o.statuses,
            o.handshakes_failed,
            o.listed_alerts,
            o.list_error.as_deref().unwrap_or(""),
            indent(&client),
            indent(&s.web_config_yaml),
            indent(yaml),
            s.real.as_ref().map(|am| format!("  alertmanager log:\n{}", indent(&am.log()))).unwrap_or_default(),
        )
    };
    ReceiverResult {
        name: r.name.clone(),
        kind: r.kind.to_string(),
        passed,
        observed: o,
        expected: expected_text(x),
        report,
    }
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("    {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a real run of scenarios/receivers.yaml (beside scenarios/rotation.yaml, in one
    /// Prometheus) recorded (`examples/record_observations.rs`).
    fn recorded() -> crate::runner::RecordedRun {
        serde_json::from_str(include_str!(
            "../../tests/fixtures/observations/receivers-rotation.json"
        ))
        .expect("the recording parses")
    }

    #[test]
    fn every_shipped_receiver_passes_on_its_recorded_observation_and_fails_when_mutated() {
        let plan = ReceiverPlan::from_source(
            "scenarios/receivers.yaml",
            include_str!("../../../scenarios/receivers.yaml"),
        )
        .expect("the shipped receivers file parses");
        let recorded = recorded();
        assert_eq!(recorded.receivers.len(), plan.receivers.len());
        let (mut delivered, mut refused) = (0, 0);
        for r in &plan.receivers {
            let seen = &recorded.receivers[&r.name];
            assert_eq!(problems(r, seen), Vec::<String>::new(), "{}", r.name);

            let mut unsettled = seen.clone();
            unsettled.settled = false;
            assert!(!problems(r, &unsettled).is_empty(), "{}: unsettled", r.name);

            let mut flipped = seen.clone();
            flipped.delivered = !seen.delivered;
            let why = problems(r, &flipped);
            assert!(
                why.iter().any(|p| p.starts_with("expected ")),
                "{}: {why:?}",
                r.name
            );
            if r.expect.delivered {
                delivered += 1;
                continue;
            }
            refused += 1;
            // Another class than the expected one(s): a wrong reason is never a pass.
            let mut other = seen.clone();
            other.class = if r.expect.error.contains(&ErrorClass::Timeout) {
                ErrorClass::Unauthorized
            } else {
                ErrorClass::Timeout
            };
            assert!(!problems(r, &other).is_empty(), "{}: class", r.name);
            if r.kind != ReceiverKind::RealAlertmanager {
                let mut accepted = seen.clone();
                accepted.received.requests = 1;
                assert!(!problems(r, &accepted).is_empty(), "{}: accepted", r.name);
            }
            if let Some(status) = r.expect.receiver_status {
                let mut silent = seen.clone();
                silent.statuses.remove(&status);
                assert!(!problems(r, &silent).is_empty(), "{}: status", r.name);
            }
        }
        assert!(
            delivered > 0 && refused > 0,
            "{delivered} delivered, {refused} refused"
        );
    }

    #[test]
    fn the_generated_prometheus_yml_reads_like_a_hand_written_one() {
        let plan = ReceiverPlan::from_source(
            "r.yaml",
            r#"
receivers:
  - name: am
    kind: alertmanager
    exporter: { server_cert: valid, basic_auth_users: { prom: s3cret } }
    send:
      scheme: https
      basic_auth: { username: prom, password: s3cret }
      tls_config: { ca_file: ca.crt }
      timeout: 5s
      path_prefix: /am
    expect: { delivered: true }
  - name: rw
    kind: remote_write
    send: { authorization: { credentials: t0ken } }
    expect: { delivered: true }
"#,
        )
        .expect("valid");
        let dir = tempfile::tempdir().expect("temp dir");
        let pki = fake_exporter::pki::Pki::generate(fake_exporter::pki::KeyType::EcdsaP256)
            .and_then(|p| p.write_to(dir.path()))
            .expect("PKI");
        let started: Vec<Started<'_>> = plan
            .receivers
            .iter()
            .zip([4000, 4001])
            .map(|(r, port)| {
                let addr = SocketAddr::from(([127, 0, 0, 1], port));
                Started {
                    case: r,
                    fake: None,
                    real: None,
                    addr,
                    client: exporters::scrape_job(&r.case, &pki, dir.path(), addr.to_string()),
                    web_config_yaml: String::new(),
                }
            })
            .collect();
        let mut config = PrometheusConfig::default();
        amend_config(&mut config, &plan, &started, Path::new("/run/rules.yml"));
        let yaml = serde_norway::to_string(&config)
            .expect("serialises")
            .replace(&dir.path().display().to_string(), "<pki>");
        assert_eq!(
            yaml,
            "global:
  evaluation_interval: 200ms
alerting:
  alertmanagers:
  - scheme: https
    basic_auth:
      username: prom
      password: s3cret
    tls_config:
      ca_file: <pki>/ca.crt
    timeout: 5s
    path_prefix: /am
    api_version: v2
    static_configs:
    - targets:
      - 127.0.0.1:4000
rule_files:
- /run/rules.yml
remote_write:
- url: http://127.0.0.1:4001/api/v1/write
  name: rw
  authorization:
    credentials: t0ken
  queue_config:
    batch_send_deadline: 200ms
    min_backoff: 100ms
    max_backoff: 1s
  metadata_config:
    send: false
"
        );
    }

    #[test]
    fn failures_and_successes_per_kind() {
        let n = PrometheusCounts::Notifications {
            sent: 5.0,
            errors: 2.0,
        };
        assert_eq!((n.failures(), n.successes()), (2.0, 3.0));
        let w = PrometheusCounts::RemoteWrite {
            samples: 10.0,
            failed: 4.0,
            retried: 1.0,
        };
        assert_eq!((w.failures(), w.successes()), (5.0, 5.0));
    }
}

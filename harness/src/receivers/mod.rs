//! Receivers: the connections Prometheus *makes* to deliver alerts and remote-write data,
//! with every TLS and auth mode the fake exporter has.
//!
//! A receivers file (`scenarios/receivers.yaml`, format in `scenarios/README.md`) lists
//! receivers. Each is a fake Alertmanager, a fake remote-write receiver (both the fake
//! exporter in a receiver mode, with the same `exporter:` keys as a scenario case) or the
//! real Debian Alertmanager run with the same `web-config.yml`; `send:` is the client side in
//! `prometheus.yml` vocabulary (`alerting.alertmanagers[]` / `remote_write[]`: `scheme`,
//! `basic_auth`, `authorization`, `tls_config`, `timeout`, `path_prefix`); `expect:` says
//! whether Prometheus delivers, and if not, the class of its error.
//!
//! Parsing reuses the scenario parser: each receiver's `exporter:` and `send:` are checked as
//! the `exporter:` and `scrape:` of a scenario case (same PKI names, same refusals of what
//! Prometheus refuses at load time), and its errors are reported with the receiver's name
//! and `send.` field paths. [`run_receivers`] runs one Prometheus for the whole file.

mod alertmanager;
mod run;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use crate::classify::ErrorClass;
use crate::scenario::{Case, Defaults, Plan, ScenarioError};

pub use alertmanager::{AlertmanagerError, RealAlertmanager, ALERTMANAGER_BIN_ENV};
pub(crate) use run::ReceiverSet;
pub use run::{
    run_receivers, Observed, ReceiverOptions, ReceiverResult, ReceiverRun, ReceiverRunError,
    ALERT_NAME,
};

/// A receivers file that cannot be used: file, receiver, field and fix.
#[derive(Debug, thiserror::Error)]
pub enum ReceiverError {
    /// The file could not be read.
    #[error("{file}: cannot read the receivers file: {source}")]
    Read {
        /// The file.
        file: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// YAML syntax or top-level structure.
    #[error("{file}: {message}")]
    Syntax {
        /// The file.
        file: String,
        /// What is wrong.
        message: String,
    },
    /// A problem inside one receiver.
    #[error("{file}: receiver `{receiver}`: {field}: {message}")]
    Receiver {
        /// The file.
        file: String,
        /// The receiver's name (`#N` when it has none).
        receiver: String,
        /// The field path, e.g. `send.tls_config.ca_file`.
        field: String,
        /// What is wrong and how to fix it.
        message: String,
    },
    /// More than one mistake, one per line.
    #[error("{} mistakes:\n{}", .errors.len(), .errors.iter().map(|e| format!("  - {e}")).collect::<Vec<_>>().join("\n"))]
    Several {
        /// Every mistake, in file order.
        errors: Vec<ReceiverError>,
    },
}

/// What receives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReceiverKind {
    /// The fake exporter as an Alertmanager (`POST /api/v2/alerts`).
    Alertmanager,
    /// The fake exporter as a remote-write receiver.
    RemoteWrite,
    /// The real `prometheus-alertmanager` (0.25 in Debian), with the same web config.
    RealAlertmanager,
}

impl ReceiverKind {
    /// The snake_case name used in files.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Alertmanager => "alertmanager",
            Self::RemoteWrite => "remote_write",
            Self::RealAlertmanager => "real_alertmanager",
        }
    }

    /// Whether Prometheus reaches it through `alerting.alertmanagers[]`.
    pub fn is_alertmanager(self) -> bool {
        matches!(self, Self::Alertmanager | Self::RealAlertmanager)
    }
}

impl std::fmt::Display for ReceiverKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Run-wide settings of a receivers file.
#[derive(Clone, Debug, PartialEq)]
pub struct ReceiverDefaults {
    /// `global.evaluation_interval`: how often the always-firing rule is evaluated (and
    /// new samples for remote write are written).
    pub evaluation_interval: Duration,
    /// How long to wait for every receiver to settle.
    pub deadline: Duration,
}

/// `prometheus.web_config:` of a receivers file: Prometheus' own `--web.config.file`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OwnWebConfigCase {
    /// TLS with this PKI server certificate (the harness trusts `ca.crt`).
    pub server_cert: Option<fake_exporter::pki::ServerCert>,
    /// Basic auth: user and plain-text password.
    pub basic_auth: Option<(String, String)>,
}

/// One receiver, checked.
#[derive(Clone, Debug, PartialEq)]
pub struct ReceiverCase {
    /// Unique name: the remote-write `name`, the directory of its files.
    pub name: String,
    /// The file it came from.
    pub file: String,
    /// Free text.
    pub description: String,
    /// What receives.
    pub kind: ReceiverKind,
    /// The receiver side (`exporter`) and Prometheus' client side (`scrape`, from `send:`),
    /// as a scenario case.
    pub case: Case,
    /// `timeout` (Alertmanager) / `remote_timeout` (remote write).
    pub timeout: Option<Duration>,
    /// `path_prefix` (Alertmanager only).
    pub path_prefix: Option<String>,
    /// What must happen.
    pub expect: ReceiverExpect,
}

/// What a receiver must see.
#[derive(Clone, Debug, PartialEq)]
pub struct ReceiverExpect {
    /// Prometheus delivers: the receiver accepts requests and Prometheus counts no error.
    pub delivered: bool,
    /// When not delivered: the class (or racy classes) of the error Prometheus logs.
    pub error: Vec<ErrorClass>,
    /// The receiver answered at least one request with this status (e.g. 401), and none
    /// with 2xx.
    pub receiver_status: Option<u16>,
}

/// A checked receivers file.
#[derive(Clone, Debug)]
pub struct ReceiverPlan {
    /// Run-wide settings.
    pub defaults: ReceiverDefaults,
    /// The receivers, in file order.
    pub receivers: Vec<ReceiverCase>,
    /// Prometheus' own web config, if any: its endpoints are audited after the receivers.
    pub own_web_config: Option<OwnWebConfigCase>,
    /// The scenario settings the receivers' exporters use (PKI key type, bcrypt cost).
    pub(crate) scenario_defaults: Defaults,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    defaults: Option<RawDefaults>,
    #[serde(default)]
    prometheus: Option<RawPrometheus>,
    #[serde(default)]
    receivers: Vec<serde_norway::Value>,
}

/// `prometheus:`: how the Prometheus of the run itself is set up.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPrometheus {
    #[serde(default)]
    web_config: Option<RawOwnWebConfig>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOwnWebConfig {
    #[serde(default)]
    server_cert: Option<String>,
    #[serde(default)]
    basic_auth: Option<RawUser>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUser {
    username: String,
    password: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDefaults {
    #[serde(default, with = "humantime_serde")]
    evaluation_interval: Option<Duration>,
    #[serde(default, with = "humantime_serde")]
    deadline: Option<Duration>,
    #[serde(default)]
    key_type: Option<serde_norway::Value>,
    #[serde(default)]
    bcrypt_cost: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawReceiver {
    name: String,
    #[serde(default)]
    description: String,
    kind: ReceiverKind,
    #[serde(default)]
    files: BTreeMap<String, String>,
    #[serde(default)]
    exporter: Option<serde_norway::Value>,
    #[serde(default)]
    send: RawSend,
    expect: RawExpect,
}

/// The `prometheus.yml` keys of an `alertmanagers[]` / `remote_write[]` entry the bench
/// drives. Scrape-only keys (`metrics_path`, `scrape_timeout`, ...) are unknown here.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSend {
    #[serde(default)]
    scheme: Option<serde_norway::Value>,
    #[serde(default)]
    basic_auth: Option<serde_norway::Value>,
    #[serde(default)]
    authorization: Option<serde_norway::Value>,
    #[serde(default)]
    tls_config: Option<serde_norway::Value>,
    #[serde(default, with = "humantime_serde")]
    timeout: Option<Duration>,
    #[serde(default)]
    path_prefix: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExpect {
    delivered: bool,
    #[serde(default)]
    error: Option<OneOrMany>,
    #[serde(default)]
    receiver_status: Option<u16>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl ReceiverPlan {
    /// Reads and checks a receivers file.
    pub fn load(path: &Path) -> Result<Self, ReceiverError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ReceiverError::Read {
            file: file.clone(),
            source,
        })?;
        Self::from_source(&file, &text)
    }

    /// Checks the text of a receivers file named `file` (every mistake at once).
    pub fn from_source(file: &str, text: &str) -> Result<Self, ReceiverError> {
        let syntax = |message: String| ReceiverError::Syntax {
            file: file.to_owned(),
            message,
        };
        let raw: RawFile = serde_norway::from_str(text).map_err(|e| syntax(e.to_string()))?;
        let raw_defaults = raw.defaults.unwrap_or_default();
        let defaults = receiver_defaults(&raw_defaults).map_err(syntax)?;
        let own_web_config =
            own_web_config(raw.prometheus.and_then(|p| p.web_config)).map_err(syntax)?;
        if raw.receivers.is_empty() {
            return Err(syntax(
                "no receivers; add at least one under `receivers:` (see scenarios/README.md)"
                    .into(),
            ));
        }
        // The scenario defaults the receivers' exporters use (PKI key type, bcrypt cost).
        let mut sd = serde_norway::Mapping::new();
        if let Some(k) = raw_defaults.key_type {
            sd.insert("key_type".into(), k);
        }
        if let Some(c) = raw_defaults.bcrypt_cost {
            sd.insert("bcrypt_cost".into(), c.into());
        }
        let mut errors = Vec::new();
        let mut receivers: Vec<ReceiverCase> = Vec::new();
        let mut scenario_defaults = None;
        let mut seen = BTreeMap::new();
        for (i, value) in raw.receivers.into_iter().enumerate() {
            match receiver(file, i, value, &sd, &mut seen) {
                Ok((r, d)) => {
                    scenario_defaults.get_or_insert(d);
                    receivers.push(r);
                }
                Err(mut e) => errors.append(&mut e),
            }
        }
        match errors.len() {
            0 => Ok(Self {
                defaults,
                own_web_config,
                scenario_defaults: scenario_defaults.unwrap_or_default(),
                receivers,
            }),
            1 => Err(errors.remove(0)),
            _ => Err(ReceiverError::Several { errors }),
        }
    }
}

/// The run's defaults, checked.
fn receiver_defaults(raw: &RawDefaults) -> Result<ReceiverDefaults, String> {
    let defaults = ReceiverDefaults {
        evaluation_interval: raw
            .evaluation_interval
            .unwrap_or(Duration::from_millis(200)),
        deadline: raw.deadline.unwrap_or(Duration::from_secs(90)),
    };
    if defaults.evaluation_interval < Duration::from_millis(1) {
        return Err(
            "defaults.evaluation_interval: Prometheus durations have millisecond \
                    resolution; use at least 1ms (200ms is a good value)"
                .into(),
        );
    }
    Ok(defaults)
}

/// `prometheus.web_config`, checked.
fn own_web_config(raw: Option<RawOwnWebConfig>) -> Result<Option<OwnWebConfigCase>, String> {
    let Some(w) = raw else {
        return Ok(None);
    };
    let server_cert = match &w.server_cert {
        None => None,
        Some(name) => Some(
            name.parse()
                .map_err(|e| format!("prometheus.web_config.server_cert: {e}"))?,
        ),
    };
    if server_cert.is_none() && w.basic_auth.is_none() {
        return Err(
            "prometheus.web_config: give `server_cert` (TLS), `basic_auth` \
                    ({ username, password }) or both; an empty web config protects nothing"
                .into(),
        );
    }
    Ok(Some(OwnWebConfigCase {
        server_cert,
        basic_auth: w.basic_auth.map(|u| (u.username, u.password)),
    }))
}

/// Receiver number `i` of `file`, checked, with the scenario defaults its exporter used;
/// every mistake of it at once.
fn receiver(
    file: &str,
    i: usize,
    value: serde_norway::Value,
    scenario_defaults: &serde_norway::Mapping,
    seen: &mut BTreeMap<String, ()>,
) -> Result<(ReceiverCase, crate::scenario::Defaults), Vec<ReceiverError>> {
    let label = value
        .get("name")
        .and_then(|n| n.as_str())
        .map(str::to_owned)
        .unwrap_or_else(|| format!("#{}", i + 1));
    let err = |field: &str, message: String| ReceiverError::Receiver {
        file: file.to_owned(),
        receiver: label.clone(),
        field: field.to_owned(),
        message,
    };
    let r: RawReceiver = serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let field = if path == "." {
            "(receiver)".into()
        } else {
            path
        };
        vec![err(&field, e.into_inner().to_string())]
    })?;
    if seen.insert(r.name.clone(), ()).is_some() {
        return Err(vec![err(
            "name",
            "defined twice; receiver names must be unique (each names a remote-write \
             queue and a directory)"
                .into(),
        )]);
    }
    // The expectation and the set-up are checked independently: both kinds of mistakes
    // are reported at once.
    let expect = check_expect(file, &r);
    let mut one = match receiver_scenario(file, &r, scenario_defaults) {
        Ok(plan) => plan,
        Err(mut errors) => {
            errors.extend(expect.err());
            return Err(errors);
        }
    };
    let expect = expect.map_err(|e| vec![e])?;
    let case = one.cases.remove(0);
    if let Some(problem) = receiver_set_up_problem(&r, &case) {
        let (field, message) = problem;
        return Err(vec![err(field, message)]);
    }
    Ok((
        ReceiverCase {
            name: r.name,
            file: file.to_owned(),
            description: r.description,
            kind: r.kind,
            case,
            timeout: r.send.timeout,
            path_prefix: r.send.path_prefix,
            expect,
        },
        one.defaults,
    ))
}

/// The receiver's exporter and client side, checked by the scenario parser as the
/// `exporter:` and `scrape:` of a one-case scenario.
fn receiver_scenario(
    file: &str,
    r: &RawReceiver,
    scenario_defaults: &serde_norway::Mapping,
) -> Result<Plan, Vec<ReceiverError>> {
    let mut synthetic = serde_norway::Mapping::new();
    synthetic.insert(
        "defaults".into(),
        serde_norway::Value::Mapping(scenario_defaults.clone()),
    );
    synthetic.insert(
        "cases".into(),
        serde_norway::Value::Sequence(vec![scenario_case(r)]),
    );
    let synthetic =
        serde_norway::to_string(&synthetic).expect("a mapping of YAML values always serialises");
    Plan::from_sources(&[(file.to_owned(), synthetic)]).map_err(from_scenario_error)
}

/// What a receiver's set-up asks that a receiver cannot do: `(field, why)`.
fn receiver_set_up_problem(r: &RawReceiver, case: &Case) -> Option<(&'static str, String)> {
    if r.kind == ReceiverKind::RealAlertmanager {
        if let Some(feature) = case.fake_only_feature() {
            return Some((
                "exporter",
                format!(
                    "uses {feature}, which only fake-exporter has; the real Alertmanager \
                     reads exporter-toolkit's web config only (use `kind: alertmanager` for \
                     the fake)"
                ),
            ));
        }
    }
    if case.exporter.absent || case.exporter.break_config_after_start {
        return Some((
            "exporter",
            "`absent` and `break_config_after_start` are scrape scenarios; a receiver must \
             run"
            .into(),
        ));
    }
    if r.send.path_prefix.is_some() && !r.kind.is_alertmanager() {
        return Some((
            "send.path_prefix",
            "only Alertmanagers have a path_prefix; remote write posts to /api/v1/write".into(),
        ));
    }
    None
}

/// A receiver's checked expectation.
fn check_expect(file: &str, r: &RawReceiver) -> Result<ReceiverExpect, ReceiverError> {
    let err = |field: &str, message: String| ReceiverError::Receiver {
        file: file.to_owned(),
        receiver: r.name.clone(),
        field: field.to_owned(),
        message,
    };
    let x = &r.expect;
    let error: Vec<ErrorClass> = match &x.error {
        None => Vec::new(),
        Some(OneOrMany::One(s)) => {
            vec![s.parse().map_err(|e| err("expect.error", format!("{e}")))?]
        }
        Some(OneOrMany::Many(v)) => v
            .iter()
            .map(|s| s.parse().map_err(|e| err("expect.error", format!("{e}"))))
            .collect::<Result<_, _>>()?,
    };
    if x.delivered && (!error.is_empty() || x.receiver_status.is_some()) {
        return Err(err(
            "expect",
            "`delivered: true` cannot have `error` or `receiver_status`; remove them, or \
             expect `delivered: false`"
                .into(),
        ));
    }
    if !x.delivered && error.is_empty() {
        return Err(err(
            "expect.error",
            "required with `delivered: false`: the class of Prometheus' error (e.g. \
             `unauthorized`, `unknown_authority`)"
                .into(),
        ));
    }
    if let Some(status) = x.receiver_status {
        if !(400..=599).contains(&status) {
            return Err(err(
                "expect.receiver_status",
                format!("{status} is not an error status; use 400-599 (e.g. 401)"),
            ));
        }
        if r.kind == ReceiverKind::RealAlertmanager {
            return Err(err(
                "expect.receiver_status",
                "the real Alertmanager keeps no count of refused requests; use it with \
                 `kind: alertmanager`"
                    .into(),
            ));
        }
    }
    Ok(ReceiverExpect {
        delivered: x.delivered,
        error,
        receiver_status: x.receiver_status,
    })
}

/// The one-case scenario a receiver's `exporter:` and `send:` are checked as.
fn scenario_case(r: &RawReceiver) -> serde_norway::Value {
    let mut scrape = serde_norway::Mapping::new();
    for (key, value) in [
        ("scheme", &r.send.scheme),
        ("basic_auth", &r.send.basic_auth),
        ("authorization", &r.send.authorization),
        ("tls_config", &r.send.tls_config),
    ] {
        if let Some(v) = value {
            scrape.insert(key.into(), v.clone());
        }
    }
    let mut case = serde_norway::Mapping::new();
    case.insert("name".into(), r.name.clone().into());
    let files = r
        .files
        .iter()
        .map(|(k, v)| (k.clone().into(), v.clone().into()))
        .collect::<serde_norway::Mapping>();
    case.insert("files".into(), serde_norway::Value::Mapping(files));
    if let Some(exporter) = &r.exporter {
        case.insert("exporter".into(), exporter.clone());
    }
    case.insert("scrape".into(), serde_norway::Value::Mapping(scrape));
    let mut expect = serde_norway::Mapping::new();
    expect.insert("health".into(), "up".into());
    case.insert("expect".into(), serde_norway::Value::Mapping(expect));
    serde_norway::Value::Mapping(case)
}

/// A scenario error about a synthetic case, as an error about the receiver.
fn from_scenario_error(e: ScenarioError) -> Vec<ReceiverError> {
    match e {
        ScenarioError::Several { errors } => {
            errors.into_iter().flat_map(from_scenario_error).collect()
        }
        ScenarioError::Case {
            file,
            case,
            field,
            message,
        } => {
            let field = match field.strip_prefix("scrape") {
                Some(rest) => format!("send{rest}"),
                None => field,
            };
            vec![ReceiverError::Receiver {
                file,
                receiver: case,
                field,
                message: message.replace("scrape.", "send."),
            }]
        }
        ScenarioError::Syntax { file, message } => vec![ReceiverError::Syntax { file, message }],
        other => vec![ReceiverError::Syntax {
            file: String::new(),
            message: other.to_string(),
        }],
    }
}

#[cfg(test)]
mod tests;

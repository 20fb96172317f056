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
//! Receiver cases are one kind of case of the scenario format (`scenario::raw::receiver`):
//! they may sit in any scenario file's `cases:` or in a receiver file's `receivers:`, and
//! [`crate::scenario::Plan`] reads them into [`ReceiverPlan`]. A receiver's `exporter:` is a
//! scrape case's, and `send:` is checked by the scrape job's client checker (same PKI names,
//! same refusals of what Prometheus refuses at load time), with `send.` field paths.
//! [`run_receivers`] runs one Prometheus for the whole file.

mod alertmanager;
mod run;

use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use crate::classify::ErrorClass;
use crate::scenario::raw::receiver::{RawOwnWebConfig, RawReceiver};
use crate::scenario::raw::{OneOrMany, RawDefaults};
use crate::scenario::{Case, Defaults, Plan, ScenarioError};

pub use alertmanager::{AlertmanagerError, RealAlertmanager, ALERTMANAGER_BIN_ENV};
pub(crate) use run::ReceiverSet;
pub use run::{
    run_receivers, Observed, ReceiverOptions, ReceiverResult, ReceiverRun, ReceiverRunError,
    ALERT_NAME,
};

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

impl ReceiverPlan {
    /// Reads and checks a receivers file: a scenario file whose cases are receiver cases.
    pub fn load(path: &Path) -> Result<Self, ScenarioError> {
        let file = path.display().to_string();
        let text = crate::scenario::read_scenario_file(path)?;
        Self::from_source(&file, &text)
    }

    /// Checks the text of a receivers file named `file` (every mistake at once), through the
    /// one scenario parser; a file with cases of another kind is refused (they need `run`).
    pub fn from_source(file: &str, text: &str) -> Result<Self, ScenarioError> {
        let plan =
            Plan::from_sources(&[(file.to_owned(), text.to_owned())]).map_err(|e| match e {
                ScenarioError::Empty { .. } => no_receivers(file),
                e => e,
            })?;
        plan.refuse_other_kinds(file, crate::scenario::CaseKind::Receiver)?;
        plan.receivers.ok_or_else(|| no_receivers(file))
    }
}

fn no_receivers(file: &str) -> ScenarioError {
    ScenarioError::Syntax {
        file: file.to_owned(),
        message: "no receivers; add at least one under `receivers:` (see scenarios/README.md)"
            .into(),
    }
}

/// The run's defaults (`defaults:` of `file`), checked.
pub(crate) fn receiver_defaults(
    file: &str,
    raw: &RawDefaults,
) -> Result<ReceiverDefaults, ScenarioError> {
    let defaults = ReceiverDefaults {
        evaluation_interval: raw
            .evaluation_interval
            .unwrap_or(Duration::from_millis(200)),
        deadline: raw.deadline.unwrap_or(Duration::from_secs(90)),
    };
    if defaults.evaluation_interval < Duration::from_millis(1) {
        return Err(ScenarioError::Setting {
            file: file.to_owned(),
            key: "defaults.evaluation_interval".into(),
            message: "Prometheus durations have millisecond resolution; use at least 1ms \
                      (200ms is a good value)"
                .into(),
        });
    }
    Ok(defaults)
}

/// `prometheus.web_config` of `file`, checked.
pub(crate) fn own_web_config(
    file: &str,
    w: RawOwnWebConfig,
) -> Result<OwnWebConfigCase, ScenarioError> {
    let err = |key: &str, message: String| ScenarioError::Setting {
        file: file.to_owned(),
        key: key.to_owned(),
        message,
    };
    let server_cert = match &w.server_cert {
        None => None,
        Some(name) => Some(
            name.parse()
                .map_err(|e| err("prometheus.web_config.server_cert", format!("{e}")))?,
        ),
    };
    if server_cert.is_none() && w.basic_auth.is_none() {
        return Err(err(
            "prometheus.web_config",
            "give `server_cert` (TLS), `basic_auth` ({ username, password }) or both; an \
             empty web config protects nothing"
                .into(),
        ));
    }
    Ok(OwnWebConfigCase {
        server_cert,
        basic_auth: w.basic_auth.map(|u| (u.username, u.password)),
    })
}

/// A receiver case of `file`, checked; its mistakes join `errors` (the expectation and the
/// set-up are checked independently, so both kinds of mistakes are reported at once).
pub(crate) fn check_receiver(
    file: &str,
    r: RawReceiver,
    errors: &mut Vec<ScenarioError>,
) -> Option<ReceiverCase> {
    let expect = check_expect(file, &r);
    let case = match crate::scenario::receiver_case(file, &r) {
        Ok(case) => case,
        Err(e) => {
            errors.push(e);
            errors.extend(expect.err());
            return None;
        }
    };
    let expect = expect.map_err(|e| errors.push(e)).ok()?;
    if let Some((field, message)) = receiver_set_up_problem(&r, &case) {
        errors.push(ScenarioError::Case {
            file: file.to_owned(),
            case: r.name,
            field: field.to_owned(),
            message,
        });
        return None;
    }
    Some(ReceiverCase {
        name: r.name,
        file: file.to_owned(),
        description: r.description,
        kind: r.kind,
        case,
        timeout: r.send.timeout,
        path_prefix: r.send.path_prefix,
        expect,
    })
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
fn check_expect(file: &str, r: &RawReceiver) -> Result<ReceiverExpect, ScenarioError> {
    let err = |field: &str, message: String| ScenarioError::Case {
        file: file.to_owned(),
        case: r.name.clone(),
        field: field.to_owned(),
        message,
    };
    let x = &r.expect;
    let error: Vec<ErrorClass> = x
        .error
        .as_ref()
        .map(OneOrMany::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|s| s.parse().map_err(|e| err("expect.error", format!("{e}"))))
        .collect::<Result<_, _>>()?;
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

#[cfg(test)]
mod tests;

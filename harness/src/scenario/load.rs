//! Reading scenario files: one format for every kind of case. Each entry of `cases:` (and
//! of a receiver file's `receivers:`) is sorted by its kind, decoded on its own into the raw
//! struct of that kind (so errors name the case) and checked by that kind's checker; every
//! mistake of every case of every file is reported at once.

use std::collections::BTreeMap;
use std::path::PathBuf;

use fake_exporter::pki::KeyType;
use serde_norway::Value;

use super::check::{self, deserialize_case};
use super::limits::{self, Limits};
use super::raw::receiver::{RawOwnWebConfig, RawPrometheus, RawReceiver};
use super::raw::{rotation, scrape, RawDefaults, RawFile};
use super::{Case, Defaults, Plan, ScenarioError};
use super::{DEFAULT_MATRIX, DEFAULT_MATRIX_NAME};
use crate::receivers::{ReceiverCase, ReceiverKind, ReceiverPlan};
use crate::rotation::{RotationCase, RotationPlan};

impl Plan {
    /// Loads files (none = the embedded default matrix), within the [`Limits`] in force
    /// (defaults, or their environment variables): a file that is not a regular file, too
    /// large, too deep, or with too many values or cases is refused before it is parsed.
    pub fn load(files: &[PathBuf]) -> Result<Plan, ScenarioError> {
        let limits = Limits::from_env()?;
        if files.is_empty() {
            return Self::from_sources_within(
                &[(DEFAULT_MATRIX_NAME.to_owned(), DEFAULT_MATRIX.to_owned())],
                &limits,
            );
        }
        let mut sources = Vec::new();
        for f in files {
            let text = limits::read_scenario_file(f, &limits)?;
            sources.push((f.display().to_string(), text));
        }
        Self::from_sources_within(&sources, &limits)
    }

    /// Parses and checks `(file name, YAML text)` pairs: scrape cases into `cases`, receiver
    /// cases into `receivers`, rotation cases into `rotation`. `defaults:` and
    /// `prometheus:` are taken from the first file that has them; case names are unique
    /// across files and kinds. Every mistake in every case is reported at once
    /// ([`ScenarioError::Several`] when there is more than one). The [`Limits`] in force
    /// apply.
    pub fn from_sources(sources: &[(String, String)]) -> Result<Plan, ScenarioError> {
        Self::from_sources_within(sources, &Limits::from_env()?)
    }

    /// [`Plan::from_sources`] within `limits`.
    pub(crate) fn from_sources_within(
        sources: &[(String, String)],
        limits: &Limits,
    ) -> Result<Plan, ScenarioError> {
        let mut reader = Reader {
            limits: *limits,
            ..Reader::default()
        };
        for (file, text) in sources {
            reader.file(file, text);
        }
        if reader.too_many_cases {
            return Err(ScenarioError::TooManyCases {
                files: sources.iter().map(|s| s.0.clone()).collect(),
                limit: limits.cases,
            });
        }
        let first_file = sources.first().map(|s| s.0.clone()).unwrap_or_default();
        let plan = reader.finish(&first_file);
        let mut errors = reader.errors;
        if errors.is_empty()
            && plan.cases.is_empty()
            && plan.receivers.is_none()
            && plan.rotation.is_none()
        {
            errors.push(ScenarioError::Empty {
                files: sources.iter().map(|s| s.0.clone()).collect(),
            });
        }
        match errors.len() {
            0 => Ok(plan),
            1 => Err(errors.remove(0)),
            _ => Err(ScenarioError::Several { errors }),
        }
    }
}

/// Which list of a file an entry is in.
#[derive(Clone, Copy, PartialEq, Eq)]
enum List {
    /// `cases:`: every kind.
    Cases,
    /// `receivers:`: receiver cases only.
    Receivers,
}

/// A kind of case.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Scrape,
    Receiver(ReceiverKind),
    Rotation,
}

/// What `kind:` may say.
const KINDS: &str = "`alertmanager`, `remote_write`, `real_alertmanager` (receiver cases), \
                     `rotation` (or leave `kind` out when the case has `rotate:`) or `scrape` \
                     (the default)";

/// The cases and settings read so far, and every mistake.
#[derive(Default)]
struct Reader {
    /// The first `defaults:` and its file.
    defaults: Option<(String, RawDefaults)>,
    /// The first `prometheus.web_config:` and its file.
    web_config: Option<(String, RawOwnWebConfig)>,
    cases: Vec<Case>,
    receivers: Vec<ReceiverCase>,
    rotation: Vec<RotationCase>,
    /// Case name → file of its first definition.
    seen: BTreeMap<String, String>,
    errors: Vec<ScenarioError>,
    /// The limits on input.
    limits: Limits,
    /// Entries of `cases:` and `receivers:` read so far.
    entries: usize,
    /// More entries than `limits.cases`: nothing more is read.
    too_many_cases: bool,
}

impl Reader {
    fn file(&mut self, file: &str, text: &str) {
        if self.too_many_cases {
            return;
        }
        if let Err(e) = limits::check_text(file, text, &self.limits) {
            self.errors.push(e);
            return;
        }
        let raw: RawFile = match serde_norway::from_str(text) {
            Ok(raw) => raw,
            Err(e) => {
                self.errors.push(ScenarioError::Syntax {
                    file: file.to_owned(),
                    message: e.to_string(),
                });
                return;
            }
        };
        self.entries = self
            .entries
            .saturating_add(raw.cases.len())
            .saturating_add(raw.receivers.len());
        if self.entries > self.limits.cases {
            self.too_many_cases = true;
            return;
        }
        if let Some(d) = raw.defaults {
            match setting::<RawDefaults>("defaults", d) {
                Ok(d) => {
                    self.defaults.get_or_insert((file.to_owned(), d));
                }
                Err((key, message)) => self.errors.push(ScenarioError::Setting {
                    file: file.to_owned(),
                    key,
                    message,
                }),
            }
        }
        if let Some(p) = raw.prometheus {
            self.prometheus(file, p);
        }
        for (i, value) in raw.cases.into_iter().enumerate() {
            self.case(file, i, value, List::Cases);
        }
        for (i, value) in raw.receivers.into_iter().enumerate() {
            self.case(file, i, value, List::Receivers);
        }
    }

    /// `prometheus:` of `file`.
    fn prometheus(&mut self, file: &str, value: Value) {
        let web_config = match setting::<RawPrometheus>("prometheus", value) {
            Ok(p) => p.web_config,
            Err((key, message)) => {
                self.errors.push(ScenarioError::Setting {
                    file: file.to_owned(),
                    key,
                    message,
                });
                return;
            }
        };
        let Some(w) = web_config else { return };
        match &self.web_config {
            None => self.web_config = Some((file.to_owned(), w)),
            Some((first, _)) => self.errors.push(ScenarioError::Setting {
                file: file.to_owned(),
                key: "prometheus.web_config".into(),
                message: format!(
                    "already given in {first}; one Prometheus runs the files, so give its web \
                     config once"
                ),
            }),
        }
    }

    /// Entry `i` of a list of `file`: sorted by kind, decoded and checked.
    fn case(&mut self, file: &str, i: usize, value: Value, list: List) {
        let kind = match case_kind(&value, list) {
            Ok(kind) => kind,
            Err((field, message)) => {
                self.errors.push(ScenarioError::Case {
                    file: file.to_owned(),
                    case: label(&value, i),
                    field,
                    message,
                });
                return;
            }
        };
        let errors = &mut self.errors;
        match kind {
            Kind::Scrape => {
                let Some((_, raw)) =
                    deserialize_case::<scrape::RawCase>(file, i, without_kind(value), errors)
                else {
                    return;
                };
                if self.within_limits(file, &raw.name, &raw.exporter)
                    && self.unique(file, &raw.name)
                {
                    match check::check(file, raw) {
                        Ok(case) => self.cases.push(case),
                        Err(e) => self.errors.push(e),
                    }
                }
            }
            Kind::Receiver(_) => {
                let Some((_, raw)) = deserialize_case::<RawReceiver>(file, i, value, errors) else {
                    return;
                };
                if self.within_limits(file, &raw.name, &raw.exporter)
                    && self.unique(file, &raw.name)
                {
                    let checked = crate::receivers::check_receiver(file, raw, &mut self.errors);
                    self.receivers.extend(checked);
                }
            }
            Kind::Rotation => {
                let Some((label, raw)) =
                    deserialize_case::<rotation::RawCase>(file, i, without_kind(value), errors)
                else {
                    return;
                };
                if self.unique(file, &raw.name) {
                    let checked = RotationCase::check(file, &label, raw, &mut self.errors);
                    self.rotation.extend(checked);
                }
            }
        }
    }

    /// Whether the exporter of case `name` asks for sizes within the limits; a
    /// [`ScenarioError::Case`] naming the key when it does not.
    fn within_limits(&mut self, file: &str, name: &str, exporter: &scrape::RawExporter) -> bool {
        match limits::exporter_sizes(exporter, &self.limits) {
            Ok(()) => true,
            Err((field, message)) => {
                self.errors.push(ScenarioError::Case {
                    file: file.to_owned(),
                    case: name.to_owned(),
                    field,
                    message,
                });
                false
            }
        }
    }

    /// Whether `name` is new; a [`ScenarioError::Duplicate`] when it is not.
    fn unique(&mut self, file: &str, name: &str) -> bool {
        if let Some(first) = self.seen.get(name) {
            self.errors.push(ScenarioError::Duplicate {
                file: file.to_owned(),
                case: name.to_owned(),
                first: first.clone(),
            });
            return false;
        }
        self.seen.insert(name.to_owned(), file.to_owned());
        true
    }

    /// The plan of what was read; the mistakes of the settings join `errors`.
    fn finish(&mut self, first_file: &str) -> Plan {
        let (defaults_file, raw) = self
            .defaults
            .take()
            .unwrap_or_else(|| (first_file.to_owned(), RawDefaults::default()));
        let defaults = self.scenario_defaults(&defaults_file, &raw);
        if !self.cases.is_empty() {
            self.check_timeouts(first_file, &defaults);
        }
        let receivers = self.receiver_plan(&defaults_file, &raw, &defaults);
        let rotation = (!self.rotation.is_empty()).then(|| {
            let cases = std::mem::take(&mut self.rotation);
            RotationPlan::new(
                &defaults_file,
                &raw,
                defaults.key_type,
                cases,
                &mut self.errors,
            )
        });
        Plan {
            defaults,
            cases: std::mem::take(&mut self.cases),
            receivers,
            rotation,
        }
    }

    /// The scenario settings (every kind shares `key_type` and `bcrypt_cost`).
    fn scenario_defaults(&mut self, file: &str, raw: &RawDefaults) -> Defaults {
        let fallback = Defaults::default();
        let key_type = match raw.key_type.as_deref().map(str::parse::<KeyType>) {
            None => fallback.key_type,
            Some(Ok(k)) => k,
            Some(Err(e)) => {
                self.errors.push(ScenarioError::Setting {
                    file: file.to_owned(),
                    key: "defaults.key_type".into(),
                    message: e.to_string(),
                });
                fallback.key_type
            }
        };
        self.check_default_values(file, raw);
        Defaults {
            scrape_interval: raw.scrape_interval.unwrap_or(fallback.scrape_interval),
            scrape_timeout: raw.scrape_timeout.unwrap_or(fallback.scrape_timeout),
            scrapes: raw.scrapes.unwrap_or(fallback.scrapes),
            key_type,
            bcrypt_cost: raw.bcrypt_cost.unwrap_or(fallback.bcrypt_cost),
        }
    }

    /// Values of `defaults:` that cannot work, each named by its key: durations of zero (or
    /// below Prometheus' millisecond resolution; `evaluation_interval` is checked with the
    /// receiver cases that use it), `scrapes: 0` (nothing would be judged), a
    /// `bcrypt_cost` outside what bcrypt takes or above [`limits::MAX_BCRYPT_COST`].
    fn check_default_values(&mut self, file: &str, raw: &RawDefaults) {
        let mut refuse = |key: &str, message: String| {
            self.errors.push(ScenarioError::Setting {
                file: file.to_owned(),
                key: format!("defaults.{key}"),
                message,
            });
        };
        let durations = [
            ("scrape_interval", raw.scrape_interval, "200ms"),
            ("scrape_timeout", raw.scrape_timeout, "200ms"),
            ("deadline", raw.deadline, "90s"),
        ];
        for (key, value, example) in durations {
            if let Some(d) = value.filter(|d| *d < std::time::Duration::from_millis(1)) {
                refuse(
                    key,
                    format!(
                        "{} cannot work: Prometheus durations count whole milliseconds, so give                          at least 1ms (for example {example}), or leave the key out for the                          default",
                        humantime::format_duration(d)
                    ),
                );
            }
        }
        if raw.scrapes == Some(0) {
            refuse(
                "scrapes",
                "0 cannot work: verdicts are taken after this many scrapes of every target;                  give at least 1 (the default is 10)"
                    .into(),
            );
        }
        if let Some(cost) = raw
            .bcrypt_cost
            .filter(|c| !(limits::MIN_BCRYPT_COST..=limits::MAX_BCRYPT_COST).contains(c))
        {
            let why = if cost < limits::MIN_BCRYPT_COST {
                "bcrypt refuses costs below 4"
            } else {
                "each step doubles the time of every hash (31 takes minutes per password and \
                 ignores Ctrl-C)"
            };
            refuse(
                "bcrypt_cost",
                format!(
                    "{cost} is outside {}..={}: {why}; use a cost in that range (10, the \
                     default, is exporter-toolkit's)",
                    limits::MIN_BCRYPT_COST,
                    limits::MAX_BCRYPT_COST
                ),
            );
        }
    }

    /// Prometheus refuses a job whose timeout exceeds its interval at load time ("scrape
    /// timeout greater than scrape interval"), which would fail the whole run.
    fn check_timeouts(&mut self, first_file: &str, defaults: &Defaults) {
        if defaults.scrape_timeout > defaults.scrape_interval {
            self.errors.push(ScenarioError::Syntax {
                file: first_file.to_owned(),
                message: "defaults.scrape_timeout is longer than defaults.scrape_interval; \
                          Prometheus refuses that at load time"
                    .into(),
            });
        }
        for case in &self.cases {
            let Some(timeout) = case
                .scrape
                .scrape_timeout
                .filter(|t| *t > defaults.scrape_interval)
            else {
                continue;
            };
            self.errors.push(ScenarioError::Case {
                file: case.file.clone(),
                case: case.name.clone(),
                field: "scrape.scrape_timeout".into(),
                message: format!(
                    "{} is longer than the scrape interval ({}); Prometheus refuses that at \
                     load time. Use at most the interval, or raise `defaults.scrape_interval`",
                    humantime::format_duration(timeout),
                    humantime::format_duration(defaults.scrape_interval)
                ),
            });
        }
    }

    /// The receiver cases with their run-wide settings, if the files have any.
    fn receiver_plan(
        &mut self,
        defaults_file: &str,
        raw: &RawDefaults,
        defaults: &Defaults,
    ) -> Option<ReceiverPlan> {
        let web_config = self.web_config.take();
        if self.receivers.is_empty() {
            if let Some((file, _)) = web_config {
                self.errors.push(ScenarioError::Setting {
                    file,
                    key: "prometheus.web_config".into(),
                    message: "is audited after the receiver cases; add at least one receiver \
                              case (see scenarios/README.md)"
                        .into(),
                });
            }
            return None;
        }
        let receiver_defaults = crate::receivers::receiver_defaults(defaults_file, raw)
            .map_err(|e| self.errors.push(e))
            .ok()?;
        let own_web_config = match web_config {
            None => None,
            Some((file, w)) => Some(
                crate::receivers::own_web_config(&file, w)
                    .map_err(|e| self.errors.push(e))
                    .ok()?,
            ),
        };
        Some(ReceiverPlan {
            defaults: receiver_defaults,
            receivers: std::mem::take(&mut self.receivers),
            own_web_config,
            scenario_defaults: defaults.clone(),
        })
    }
}

/// A run-wide section (`defaults`, `prometheus`) decoded, or `(key path, message)`: the
/// path names the key that is wrong (`defaults.scrapes`), not only the section.
fn setting<T: serde::de::DeserializeOwned>(
    section: &str,
    value: Value,
) -> Result<T, (String, String)> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let key = if path == "." {
            section.to_owned()
        } else {
            format!("{section}.{path}")
        };
        (key, e.into_inner().to_string())
    })
}

/// The case's `name`, or `#N` when it has none.
fn label(value: &Value, i: usize) -> String {
    value
        .get("name")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .unwrap_or_else(|| format!("#{}", i + 1))
}

/// The case without its `kind` key (scrape and rotation structs have none).
fn without_kind(mut value: Value) -> Value {
    if let Some(map) = value.as_mapping_mut() {
        map.remove("kind");
    }
    value
}

/// The kind of a case: its `kind:`, else rotation when it has `rotate:`, else scrape; keys
/// of another kind are refused with the fix. `(field, message)` when it cannot be used.
fn case_kind(value: &Value, list: List) -> Result<Kind, (String, String)> {
    let kind = match value.get("kind") {
        None if list == List::Receivers => {
            return Err((
                "kind".into(),
                "missing: an entry of `receivers:` is a receiver case; say `kind: \
                 alertmanager`, `remote_write` or `real_alertmanager`"
                    .into(),
            ))
        }
        None if value.get("rotate").is_some() => Kind::Rotation,
        None => Kind::Scrape,
        Some(Value::String(s)) if s == "scrape" => Kind::Scrape,
        Some(Value::String(s)) if s == "rotation" => Kind::Rotation,
        Some(k) => match serde_norway::from_value::<ReceiverKind>(k.clone()) {
            Ok(r) => Kind::Receiver(r),
            Err(_) => {
                let shown = serde_norway::to_string(k).unwrap_or_default();
                return Err((
                    "kind".into(),
                    format!("`{}` is not a kind of case; use {KINDS}", shown.trim_end()),
                ));
            }
        },
    };
    if list == List::Receivers && !matches!(kind, Kind::Receiver(_)) {
        return Err((
            "kind".into(),
            "`receivers:` holds receiver cases only; move this case under `cases:`".into(),
        ));
    }
    match foreign_key(value, kind) {
        Some(problem) => Err(problem),
        None => Ok(kind),
    }
}

/// A key of another kind of case in a case of `kind`: `(field, fix)`.
fn foreign_key(value: &Value, kind: Kind) -> Option<(String, String)> {
    let has = |key: &str| value.get(key).is_some();
    let expects = |key: &str| value.get("expect").and_then(|x| x.get(key)).is_some();
    let receiver_key = |field: &str| {
        Some((
            field.to_owned(),
            "is a key of receiver cases; say `kind: alertmanager`, `remote_write` or \
             `real_alertmanager` for one (a scrape case's client side is `scrape:`)"
                .to_owned(),
        ))
    };
    match kind {
        Kind::Scrape | Kind::Rotation if has("send") => receiver_key("send"),
        Kind::Scrape | Kind::Rotation if expects("delivered") => receiver_key("expect.delivered"),
        Kind::Scrape if has("rotate") => Some((
            "rotate".into(),
            "is a key of rotation cases; drop `kind: scrape` (a case with `rotate:` is a \
             rotation case)"
                .into(),
        )),
        Kind::Receiver(k) if has("rotate") => Some((
            "rotate".into(),
            format!(
                "is a key of rotation cases, not of `kind: {k}`; drop `kind` for a rotation \
                 case, or drop `rotate`"
            ),
        )),
        Kind::Receiver(k) if has("scrape") => Some((
            "scrape".into(),
            format!(
                "a `kind: {k}` case gives Prometheus' client side under `send:` (scheme, \
                 basic_auth, authorization, tls_config, timeout, path_prefix)"
            ),
        )),
        _ => None,
    }
}

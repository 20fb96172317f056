//! Rotation scenario files parsed into types: the state of both sides (the exporter's
//! web-config, the files Prometheus' job reads), the steps that change it, and what the
//! run must show. Every mistake names the file, the case and the field.

use std::collections::BTreeMap;
use std::time::Duration;

use fake_exporter::pki::{Generation, KeyType};

use crate::scenario::raw::rotation::{
    RawBundle, RawCase, RawCount, RawExpect, RawExporter, RawRotation, RawScrape, RawStep,
};
use crate::scenario::raw::RawDefaults;
use crate::scenario::{Plan, ScenarioError};
use crate::targets::Health;

/// Which CA(s) a bundle holds: `old`, `new`, or both (`[old, new]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CaBundle {
    /// The old CA is in the bundle.
    pub old: bool,
    /// The new CA is in the bundle.
    pub new: bool,
}

/// The exporter side: becomes its `web-config.yml` (re-read per request and connection)
/// and the files it names.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExporterState {
    /// TLS with this generation's server certificate (`cert_file`/`key_file`); plain HTTP
    /// when `None`.
    pub server_cert: Option<Generation>,
    /// `client_ca_file` with these CAs and `RequireAndVerifyClientCert`.
    pub client_ca: Option<CaBundle>,
    /// `basic_auth_users`: user → plaintext password (bcrypt-hashed when written).
    pub basic_auth_users: BTreeMap<String, String>,
    /// `fake_exporter.bearer_auth.tokens` (extension).
    pub bearer_tokens: Vec<String>,
}

/// The Prometheus side: the job's `tls_config`, `basic_auth` and `authorization`, whose
/// files (`ca_file`, `cert_file`/`key_file`, `password_file`, `credentials_file`) are
/// rewritten by the steps.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScrapeState {
    /// `tls_config.ca_file` with these CAs.
    pub ca: Option<CaBundle>,
    /// `tls_config.insecure_skip_verify: true` (then no `ca_file`).
    pub insecure_skip_verify: bool,
    /// `tls_config.cert_file`/`key_file`: this generation's client certificate.
    pub client_cert: Option<Generation>,
    /// `basic_auth.username` and the content of `basic_auth.password_file`.
    pub basic_auth: Option<(String, String)>,
    /// The content of `authorization.credentials_file` (type Bearer).
    pub token: Option<String>,
}

/// One step of a case's timeline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    /// Scrapes (counted by Prometheus) to wait before this step: after the target was
    /// first up plus the warm-up for the first step, after the previous step otherwise.
    pub after_scrapes: u64,
    /// The exporter state from this step on.
    pub exporter: ExporterState,
    /// The scrape state from this step on.
    pub scrape: ScrapeState,
    /// Close the exporter's open connections right after the files are replaced.
    pub reconnect: bool,
}

/// What the exporter is asked to have seen: the identity whose rotation is judged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Watched {
    /// The serial of the server certificate presented on the scrape's connection.
    ServerCert,
    /// The serial of the client certificate Prometheus presented.
    ClientCert,
    /// The Basic password (as a fingerprint).
    Password,
    /// The Bearer token (as a fingerprint).
    Token,
}

impl Watched {
    /// The scenario name.
    pub fn name(self) -> &'static str {
        match self {
            Self::ServerCert => "server_cert",
            Self::ClientCert => "client_cert",
            Self::Password => "password",
            Self::Token => "token",
        }
    }
}

/// How many scrapes in the window may fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Count {
    /// Exactly this many.
    Exactly(u64),
    /// At least / at most.
    Range {
        /// Lower bound.
        min: Option<u64>,
        /// Upper bound.
        max: Option<u64>,
    },
}

impl Count {
    /// Whether `n` satisfies the bound.
    pub fn holds(self, n: u64) -> bool {
        match self {
            Self::Exactly(e) => n == e,
            Self::Range { min, max } => min.is_none_or(|m| n >= m) && max.is_none_or(|m| n <= m),
        }
    }
}

impl std::fmt::Display for Count {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Exactly(n) => write!(f, "{n}"),
            Self::Range { min, max } => match (min, max) {
                (Some(a), Some(b)) => write!(f, "{a}..={b}"),
                (Some(a), None) => write!(f, ">= {a}"),
                (None, Some(b)) => write!(f, "<= {b}"),
                (None, None) => f.write_str("any"),
            },
        }
    }
}

/// `new_seen_within_scrapes`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NewSeen {
    /// The new value shows on one of the first N requests after the step.
    Within(u64),
    /// No request after the step shows it (the old connection kept the old value).
    Never,
}

/// `expect.rotation`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RotationExpect {
    /// What is judged (derived from the steps when there is one candidate).
    pub watch: Option<Watched>,
    /// When the new value must show.
    pub new_seen: Option<NewSeen>,
    /// Whether the requests after the step stayed on the connection open before it.
    pub same_connection: Option<bool>,
    /// A direct request with the old credential / client certificate is refused at the end.
    pub old_refused_after: bool,
    /// Failed scrapes (Prometheus' `up == 0`) from the first step to the verdict.
    pub failed_scrapes: Option<Count>,
}

/// One rotation case.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RotationCase {
    /// Unique; the job name.
    pub name: String,
    /// Free text.
    pub description: String,
    /// State before the first step.
    pub exporter: ExporterState,
    /// State before the first step.
    pub scrape: ScrapeState,
    /// The timeline (at least one step).
    pub steps: Vec<Step>,
    /// Final health.
    pub health: Health,
    /// Classes the final `lastError` may have (required for `down`).
    pub errors: Vec<String>,
    /// The rotation verdict.
    pub rotation: RotationExpect,
}

/// A parsed rotation file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RotationPlan {
    /// Every job's scrape interval (and timeout).
    pub scrape_interval: Duration,
    /// Scrapes after the target was first up before the first step's count starts.
    pub warm_up_scrapes: u64,
    /// Scrapes after the last step before the verdict.
    pub scrapes_after: u64,
    /// Key type of the rotation PKI.
    pub key_type: KeyType,
    /// bcrypt cost of the written hashes.
    pub bcrypt_cost: u32,
    /// The cases.
    pub cases: Vec<RotationCase>,
}

/// Collects a case's mistakes with their field paths.
struct Problems<'a> {
    file: &'a str,
    case: &'a str,
    errors: &'a mut Vec<ScenarioError>,
}

impl Problems<'_> {
    fn push(&mut self, field: &str, message: impl Into<String>) {
        self.errors.push(ScenarioError::Case {
            file: self.file.to_owned(),
            case: self.case.to_owned(),
            field: field.to_owned(),
            message: message.into(),
        });
    }
}

/// Parses a rotation file (`file` names it in errors) through the one scenario parser;
/// every mistake is reported at once. A file with cases of another kind is refused (they
/// need `scrape-harness run`).
pub fn parse(file: &str, text: &str) -> Result<RotationPlan, ScenarioError> {
    let plan = Plan::from_sources(&[(file.to_owned(), text.to_owned())])?;
    plan.refuse_other_kinds(file, crate::scenario::CaseKind::Rotation)?;
    plan.rotation.ok_or_else(|| ScenarioError::Empty {
        files: vec![file.to_owned()],
    })
}

impl RotationPlan {
    /// The rotation plan of `cases` with the rotation keys of `defaults:` (of `file`); the
    /// mistakes of those keys join `errors`.
    pub(crate) fn new(
        file: &str,
        defaults: &RawDefaults,
        key_type: KeyType,
        cases: Vec<RotationCase>,
        errors: &mut Vec<ScenarioError>,
    ) -> RotationPlan {
        let scrape_interval = defaults.scrape_interval.unwrap_or(Duration::from_secs(1));
        if scrape_interval < Duration::from_millis(100) {
            errors.push(ScenarioError::Setting {
                file: file.to_owned(),
                key: "defaults.scrape_interval".into(),
                message: format!(
                    "{scrape_interval:?} is below Prometheus' 100ms floor; use 1s (a rotation \
                 window of a handful of scrapes)"
                ),
            });
        }
        RotationPlan {
            scrape_interval,
            warm_up_scrapes: defaults.warm_up_scrapes.unwrap_or(2),
            scrapes_after: defaults.scrapes_after.unwrap_or(4).max(1),
            key_type,
            bcrypt_cost: defaults.bcrypt_cost.unwrap_or(10),
            cases,
        }
    }
}

impl RotationCase {
    /// A rotation case of `file` (named `label` in errors), checked; its mistakes join `errors`.
    pub(crate) fn check(
        file: &str,
        label: &str,
        raw: RawCase,
        errors: &mut Vec<ScenarioError>,
    ) -> Option<RotationCase> {
        let mut problems = Problems {
            file,
            case: label,
            errors,
        };
        if raw.name.is_empty()
            || !raw
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            problems.push("name", "use [A-Za-z0-9_-]+ (it becomes the job name)");
        }
        case(raw, &mut problems)
    }
}

fn case(raw: RawCase, p: &mut Problems<'_>) -> Option<RotationCase> {
    let exporter = exporter(&ExporterState::default(), &raw.exporter, "exporter", p);
    let scrape = scrape(&ScrapeState::default(), &raw.scrape, "scrape", p);
    if raw.rotate.is_empty() {
        p.push("rotate", "at least one step is needed (e.g. `- { exporter: { server_cert: reissued }, reconnect: true }`)");
    }
    let steps = steps(&raw.rotate, &exporter, &scrape, p);
    if scrape.client_cert.is_some() && exporter.server_cert.is_none() {
        p.push(
            "scrape.client_cert",
            "a client certificate needs TLS; set `exporter.server_cert`",
        );
    }
    if exporter.server_cert.is_some() && scrape.ca.is_none() && !scrape.insecure_skip_verify {
        p.push(
            "scrape",
            "a TLS exporter needs `ca: old` (or `[old, new]`) or `insecure_skip_verify: true`",
        );
    }
    if scrape.ca.is_some() && scrape.insecure_skip_verify {
        p.push(
            "scrape.insecure_skip_verify",
            "give `ca` or `insecure_skip_verify`, not both",
        );
    }
    let (health, errors) = final_state(&raw.expect, p);
    let rotation = rotation(raw.expect.rotation, &exporter, &scrape, &steps, p);
    Some(RotationCase {
        name: raw.name,
        description: raw.description,
        exporter,
        scrape,
        steps,
        health,
        errors,
        rotation,
    })
}

/// The timeline of `raw` from the case's first state: each step's full state, checked.
fn steps(
    raw: &[RawStep],
    exporter: &ExporterState,
    scrape: &ScrapeState,
    p: &mut Problems<'_>,
) -> Vec<Step> {
    let mut steps = Vec::new();
    let (mut e, mut s) = (exporter.clone(), scrape.clone());
    for (i, step) in raw.iter().enumerate() {
        let at = format!("rotate[{i}]");
        e = self::exporter(&e, &step.exporter, &format!("{at}.exporter"), p);
        s = self::scrape(&s, &step.scrape, &format!("{at}.scrape"), p);
        if e.server_cert.is_some() != exporter.server_cert.is_some() {
            p.push(&format!("{at}.exporter.server_cert"), "a step cannot switch TLS on or off (the job's scheme is fixed); set `exporter.server_cert` from the start");
        }
        if s.ca.is_some() != scrape.ca.is_some()
            || s.client_cert.is_some() != scrape.client_cert.is_some()
            || s.basic_auth.is_some() != scrape.basic_auth.is_some()
            || s.token.is_some() != scrape.token.is_some()
            || s.insecure_skip_verify != scrape.insecure_skip_verify
        {
            p.push(&format!("{at}.scrape"), "a step can only replace the content of files the job already reads (prometheus.yml is not reloaded); set the key in the case's `scrape:` too");
        }
        if let (Some((u0, _)), Some((u1, _))) = (&scrape.basic_auth, &s.basic_auth) {
            if u0 != u1 {
                p.push(&format!("{at}.scrape.basic_auth.username"), "Prometheus 2.42 has no `username_file`: only the password (file) can rotate; leave the username out");
            }
        }
        steps.push(Step {
            after_scrapes: step.after_scrapes.unwrap_or(2),
            exporter: e.clone(),
            scrape: s.clone(),
            reconnect: step.reconnect,
        });
    }
    steps
}

/// The health and the error classes at the end of the window.
fn final_state(raw: &RawExpect, p: &mut Problems<'_>) -> (Health, Vec<String>) {
    let health = match raw.health.as_str() {
        "up" => Health::Up,
        "down" => Health::Down,
        other => {
            p.push(
                "expect.health",
                format!(
                    "`{other}`: use `up` or `down` (the target's health at the end of the window)"
                ),
            );
            Health::Up
        }
    };
    let errors = raw
        .error
        .as_ref()
        .map(|e| e.as_slice().to_vec())
        .unwrap_or_default();
    for (i, class) in errors.iter().enumerate() {
        if class.parse::<crate::classify::ErrorClass>().is_err() {
            p.push(
                &format!("expect.error[{i}]"),
                format!("`{class}` is not an error class (see scenarios/README.md)"),
            );
        }
    }
    if health == Health::Down && errors.is_empty() {
        p.push(
            "expect.error",
            "required with `health: down` (e.g. `unauthorized`)",
        );
    }
    if health == Health::Up && !errors.is_empty() {
        p.push("expect.error", "only with `health: down`");
    }
    (health, errors)
}

fn generation(raw: &str, field: &str, p: &mut Problems<'_>) -> Option<Generation> {
    match raw.parse() {
        Ok(g) => Some(g),
        Err(e) => {
            p.push(field, e.to_string());
            None
        }
    }
}

fn bundle(raw: &RawBundle, field: &str, p: &mut Problems<'_>) -> Option<CaBundle> {
    let names: Vec<&str> = match raw {
        RawBundle::One(s) => vec![s],
        RawBundle::Many(v) => v.iter().map(String::as_str).collect(),
    };
    let mut out = CaBundle {
        old: false,
        new: false,
    };
    for name in names {
        match name {
            "old" => out.old = true,
            "new" => out.new = true,
            other => p.push(
                field,
                format!("`{other}`: a CA bundle holds `old`, `new` or both (`[old, new]`)"),
            ),
        }
    }
    (out.old || out.new).then_some(out)
}

fn exporter(
    base: &ExporterState,
    raw: &RawExporter,
    at: &str,
    p: &mut Problems<'_>,
) -> ExporterState {
    let mut out = base.clone();
    if let Some(g) = &raw.server_cert {
        out.server_cert = generation(g, &format!("{at}.server_cert"), p).or(out.server_cert);
    }
    if let Some(b) = &raw.client_ca {
        out.client_ca = bundle(b, &format!("{at}.client_ca"), p);
    }
    if let Some(users) = &raw.basic_auth_users {
        out.basic_auth_users = users.clone();
    }
    if let Some(tokens) = &raw.bearer_tokens {
        out.bearer_tokens = tokens.clone();
    }
    if out.client_ca.is_some() && out.server_cert.is_none() {
        p.push(
            &format!("{at}.client_ca"),
            "client certificates need TLS; set `server_cert`",
        );
    }
    out
}

fn scrape(base: &ScrapeState, raw: &RawScrape, at: &str, p: &mut Problems<'_>) -> ScrapeState {
    let mut out = base.clone();
    if let Some(b) = &raw.ca {
        out.ca = bundle(b, &format!("{at}.ca"), p);
    }
    if let Some(skip) = raw.insecure_skip_verify {
        out.insecure_skip_verify = skip;
    }
    if let Some(g) = &raw.client_cert {
        out.client_cert = generation(g, &format!("{at}.client_cert"), p).or(out.client_cert);
    }
    if let Some(basic) = &raw.basic_auth {
        let user = basic
            .username
            .clone()
            .or_else(|| base.basic_auth.as_ref().map(|(u, _)| u.clone()));
        match user {
            Some(user) => out.basic_auth = Some((user, basic.password.clone())),
            None => p.push(
                &format!("{at}.basic_auth.username"),
                "required (the Basic user name)",
            ),
        }
    }
    if let Some(token) = &raw.token {
        out.token = Some(token.clone());
    }
    if out.basic_auth.is_some() && out.token.is_some() {
        p.push(
            at,
            "`basic_auth` and `token` together: Prometheus refuses a job with both; pick one",
        );
    }
    out
}

/// The identities the steps change, in the order of their first change.
fn changed(exporter: &ExporterState, scrape: &ScrapeState, steps: &[Step]) -> Vec<Watched> {
    let mut out = Vec::new();
    let (mut e, mut s) = (exporter, scrape);
    for step in steps {
        let mut push = |w| {
            if !out.contains(&w) {
                out.push(w);
            }
        };
        if step.exporter.server_cert != e.server_cert {
            push(Watched::ServerCert);
        }
        if step.scrape.client_cert != s.client_cert {
            push(Watched::ClientCert);
        }
        if step.scrape.basic_auth != s.basic_auth {
            push(Watched::Password);
        }
        if step.scrape.token != s.token {
            push(Watched::Token);
        }
        (e, s) = (&step.exporter, &step.scrape);
    }
    out
}

fn rotation(
    raw: Option<RawRotation>,
    exporter: &ExporterState,
    scrape: &ScrapeState,
    steps: &[Step],
    p: &mut Problems<'_>,
) -> RotationExpect {
    let Some(raw) = raw else {
        return RotationExpect {
            watch: None,
            new_seen: None,
            same_connection: None,
            old_refused_after: false,
            failed_scrapes: None,
        };
    };
    let watch = watched(&raw, exporter, scrape, steps, p);
    let new_seen = match raw.new_seen_within_scrapes {
        None => None,
        Some(serde_norway::Value::String(s)) if s == "never" => Some(NewSeen::Never),
        Some(serde_norway::Value::Number(n)) if n.as_u64().is_some_and(|n| n >= 1) => {
            n.as_u64().map(NewSeen::Within)
        }
        Some(other) => {
            p.push(
                "expect.rotation.new_seen_within_scrapes",
                format!("{other:?}: use a number of scrapes >= 1, or `never`"),
            );
            None
        }
    };
    let failed_scrapes = raw.failed_scrapes.map(|c| match c {
        RawCount::Exactly(n) => Count::Exactly(n),
        RawCount::Range { min, max } => Count::Range { min, max },
    });
    if let Some(Count::Range {
        min: None,
        max: None,
    }) = failed_scrapes
    {
        p.push(
            "expect.rotation.failed_scrapes",
            "give a number, `{ min: N }` or `{ max: N }`",
        );
    }
    RotationExpect {
        watch,
        new_seen,
        same_connection: raw.same_connection,
        old_refused_after: raw.old_refused_after,
        failed_scrapes,
    }
}

/// Which identity `expect.rotation` judges: the one named by `watch`, or the only one the
/// steps change; a problem for each way that fails.
fn watched(
    raw: &RawRotation,
    exporter: &ExporterState,
    scrape: &ScrapeState,
    steps: &[Step],
    p: &mut Problems<'_>,
) -> Option<Watched> {
    let candidates = changed(exporter, scrape, steps);
    let watch = match raw.watch.as_deref() {
        Some(name) => {
            let all = [
                Watched::ServerCert,
                Watched::ClientCert,
                Watched::Password,
                Watched::Token,
            ];
            match all.into_iter().find(|w| w.name() == name) {
                Some(w) if candidates.contains(&w) => Some(w),
                Some(_) => {
                    p.push(
                        "expect.rotation.watch",
                        format!("`{name}` is not changed by any step of `rotate`"),
                    );
                    None
                }
                None => {
                    p.push(
                        "expect.rotation.watch",
                        format!("`{name}`: use server_cert, client_cert, password or token"),
                    );
                    None
                }
            }
        }
        None => match candidates.as_slice() {
            [one] => Some(*one),
            _ => None,
        },
    };
    let needs_watch = raw.new_seen_within_scrapes.is_some()
        || raw.same_connection.is_some()
        || raw.old_refused_after;
    if needs_watch && watch.is_none() && raw.watch.is_none() {
        p.push(
            "expect.rotation.watch",
            match candidates.len() {
                0 => {
                    "no step changes a server or client certificate, password or token; \
                      `new_seen_within_scrapes`, `same_connection` and `old_refused_after` need one"
                        .to_owned()
                }
                _ => format!(
                    "the steps change {}: say which one is judged (`watch: {}`)",
                    candidates
                        .iter()
                        .map(|w| w.name())
                        .collect::<Vec<_>>()
                        .join(" and "),
                    candidates[0].name()
                ),
            },
        );
    }
    if raw.old_refused_after && watch == Some(Watched::ServerCert) {
        p.push("expect.rotation.old_refused_after", "applies to credentials and client certificates (a server certificate is not refused by the exporter); leave it out");
    }
    watch
}

#[cfg(test)]
#[path = "spec_tests.rs"]
mod tests;

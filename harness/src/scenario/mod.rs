//! Scenario files: a matrix of cases, each an exporter set-up, a scrape job in
//! `prometheus.yml` vocabulary, and what Prometheus should report.
//!
//! Parsing is two-staged so that errors name the case: the file is read as a list of YAML
//! values, then every case is decoded on its own (unknown keys are errors) and checked
//! (PKI names, file names, combinations Prometheus itself would refuse at load time).
//! See `scenarios/README.md` for the format.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use fake_exporter::pki::{KeyType, PkiFiles, ServerCert};
use fake_exporter::{FaultSpec, Mutant};

use crate::classify::ErrorClass;

/// The default matrix, embedded so that `scrape-harness run` works with no files.
pub const DEFAULT_MATRIX: &str = include_str!("../../../scenarios/security-matrix.yaml");
/// Name used in errors for the embedded matrix.
pub const DEFAULT_MATRIX_NAME: &str = "scenarios/security-matrix.yaml (embedded)";

/// A scenario file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The file could not be read.
    #[error("{file}: cannot read: {source}")]
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
        /// What the parser said (with line and column).
        message: String,
    },
    /// A problem inside one case.
    #[error("{file}: case `{case}`: {field}: {message}")]
    Case {
        /// The file.
        file: String,
        /// The case name (or `#N` when it has none).
        case: String,
        /// The field path, e.g. `scrape.tls_config.ca_file`.
        field: String,
        /// What is wrong and how to fix it.
        message: String,
    },
    /// The same case name twice (in one file or across files).
    #[error("{file}: case `{case}` is defined twice (first in {first}); case names must be unique because each becomes a Prometheus job")]
    Duplicate {
        /// The file of the second definition.
        file: String,
        /// The name.
        case: String,
        /// Where the first one is.
        first: String,
    },
}

/// Run-wide settings (`defaults:` in a file; the first file's win).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Defaults {
    /// Scrape interval of every job.
    #[serde(with = "humantime_serde")]
    pub scrape_interval: Duration,
    /// Scrape timeout of every job (≤ interval).
    #[serde(with = "humantime_serde")]
    pub scrape_timeout: Duration,
    /// Scrapes every target must have had before verdicts are taken.
    pub scrapes: u32,
    /// Key type of the generated PKI (`ecdsa-p256`, `ed25519`, `rsa2048`).
    #[serde(deserialize_with = "key_type_from_str")]
    pub key_type: KeyType,
    /// bcrypt cost used to hash scenario passwords.
    pub bcrypt_cost: u32,
}

impl Default for Defaults {
    fn default() -> Self {
        Self {
            scrape_interval: Duration::from_millis(200),
            scrape_timeout: Duration::from_millis(200),
            scrapes: 10,
            key_type: KeyType::default(),
            bcrypt_cost: 10,
        }
    }
}

fn key_type_from_str<'de, D: serde::Deserializer<'de>>(d: D) -> Result<KeyType, D::Error> {
    let s = String::deserialize(d)?;
    s.parse().map_err(serde::de::Error::custom)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileRaw {
    #[serde(default)]
    defaults: Option<serde_norway::Value>,
    cases: Vec<serde_norway::Value>,
}

/// One case as written.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Case {
    /// Unique name; becomes the job name.
    pub name: String,
    /// Free text shown in reports.
    #[serde(default)]
    pub description: String,
    /// Conformance level (`MUST`, `SHOULD`, `MAY`), for conformance catalogs.
    #[serde(default)]
    pub level: Option<String>,
    /// Why the expectation holds (conformance catalogs).
    #[serde(default)]
    pub rationale: Option<String>,
    /// Where the expected behaviour is defined (conformance catalogs).
    #[serde(default)]
    pub reference: Option<String>,
    /// Files the case can name (password_file, credentials_file, bearer token file): name →
    /// content.
    #[serde(default)]
    pub files: BTreeMap<String, String>,
    /// The exporter.
    #[serde(default)]
    pub exporter: ExporterSpec,
    /// The scrape job.
    #[serde(default)]
    pub scrape: ScrapeSpec,
    /// What Prometheus should report.
    pub expect: Expect,
}

/// The exporter side of a case (becomes a `web-config.yml` plus fake-exporter options).
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ExporterSpec {
    /// Which server certificate to serve (PKI name, e.g. `valid`, `expired`); none = plain
    /// HTTP.
    #[serde(default)]
    pub server_cert: Option<String>,
    /// Serve the key in the format openssl writes (PKCS#1 / SEC1) instead of PKCS#8.
    #[serde(default)]
    pub openssl_key: bool,
    /// Serve this PKI file as the certificate instead of `server_cert`'s (e.g. `client.crt`,
    /// to serve a certificate without the serverAuth usage); needs `key_file`.
    #[serde(default)]
    pub cert_file: Option<String>,
    /// The key of `cert_file` (a PKI file name).
    #[serde(default)]
    pub key_file: Option<String>,
    /// `cipher_suites` (Go names), as in web-config.yml.
    #[serde(default)]
    pub cipher_suites: Vec<String>,
    /// Overwrite the web-config with invalid YAML once the exporter has started, as an
    /// operator's bad edit would: exporter-toolkit re-reads it per request / connection.
    #[serde(default)]
    pub break_config_after_start: bool,
    /// `client_auth_type`, as in web-config.yml.
    #[serde(default)]
    pub client_auth_type: Option<String>,
    /// `client_ca_file`: a PKI file name (`ca.crt`, `rogue-ca.crt`).
    #[serde(default)]
    pub client_ca: Option<String>,
    /// `client_allowed_sans`.
    #[serde(default)]
    pub client_allowed_sans: Option<Vec<String>>,
    /// `min_version` (TLS10..TLS13).
    #[serde(default)]
    pub min_version: Option<fake_exporter::TlsVersion>,
    /// `max_version`.
    #[serde(default)]
    pub max_version: Option<fake_exporter::TlsVersion>,
    /// `http_server_config.http2`.
    #[serde(default)]
    pub http2: Option<bool>,
    /// Basic auth users with PLAINTEXT passwords (the harness hashes them).
    #[serde(default)]
    pub basic_auth_users: BTreeMap<String, String>,
    /// Bearer tokens (fake-exporter extension).
    #[serde(default)]
    pub bearer_tokens: Vec<String>,
    /// Bearer token file: a name from the case's `files:`.
    #[serde(default)]
    pub bearer_token_file: Option<String>,
    /// Bearer tokens that expired an hour ago.
    #[serde(default)]
    pub expired_bearer_tokens: Vec<String>,
    /// Faults of the metrics endpoint.
    #[serde(default)]
    pub faults: FaultSpec,
    /// Deliberate security weaknesses (conformance mutants; fake-exporter only).
    #[serde(default)]
    pub mutants: Vec<Mutant>,
    /// Samples exposed.
    #[serde(default)]
    pub series: Option<usize>,
    /// No exporter at all: the target's port is closed (connection refused).
    #[serde(default)]
    pub absent: bool,
}

/// The Prometheus side of a case, in `prometheus.yml` vocabulary. File names refer to PKI
/// files (`ca.crt`, `client.key`, ...), to the case's `files:`, or, when absolute, to any
/// path (a path that does not exist makes Prometheus drop the job).
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ScrapeSpec {
    /// `http` (default) or `https`.
    #[serde(default)]
    pub scheme: Option<String>,
    /// `127.0.0.1` (default) or `localhost`.
    #[serde(default)]
    pub target_host: Option<String>,
    /// `basic_auth`.
    #[serde(default)]
    pub basic_auth: Option<BasicAuthSpec>,
    /// `authorization`.
    #[serde(default)]
    pub authorization: Option<AuthorizationSpec>,
    /// `tls_config`.
    #[serde(default)]
    pub tls_config: Option<TlsConfigSpec>,
    /// `enable_http2`.
    #[serde(default)]
    pub enable_http2: Option<bool>,
    /// `scrape_timeout` override.
    #[serde(default, with = "humantime_serde")]
    pub scrape_timeout: Option<Duration>,
    /// `body_size_limit` (Prometheus syntax, e.g. `1MB`).
    #[serde(default)]
    pub body_size_limit: Option<String>,
    /// `metrics_path`.
    #[serde(default)]
    pub metrics_path: Option<String>,
    /// `sample_limit`.
    #[serde(default)]
    pub sample_limit: Option<u64>,
}

/// `basic_auth` of a scrape job.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct BasicAuthSpec {
    /// `username`.
    pub username: String,
    /// `password`.
    #[serde(default)]
    pub password: Option<String>,
    /// `password_file`: a name from `files:`.
    #[serde(default)]
    pub password_file: Option<String>,
}

/// `authorization` of a scrape job.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AuthorizationSpec {
    /// `type`, default `Bearer`.
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    /// `credentials`.
    #[serde(default)]
    pub credentials: Option<String>,
    /// `credentials_file`: a name from `files:`.
    #[serde(default)]
    pub credentials_file: Option<String>,
}

/// `tls_config` of a scrape job.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TlsConfigSpec {
    /// `ca_file`.
    #[serde(default)]
    pub ca_file: Option<String>,
    /// `cert_file`.
    #[serde(default)]
    pub cert_file: Option<String>,
    /// `key_file`.
    #[serde(default)]
    pub key_file: Option<String>,
    /// `server_name`.
    #[serde(default)]
    pub server_name: Option<String>,
    /// `insecure_skip_verify`.
    #[serde(default)]
    pub insecure_skip_verify: Option<bool>,
    /// `min_version` (TLS10..TLS13).
    #[serde(default)]
    pub min_version: Option<crate::promconfig::TlsVersion>,
    /// `max_version`.
    #[serde(default)]
    pub max_version: Option<crate::promconfig::TlsVersion>,
}

/// Expected health.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ExpectHealth {
    /// Scrapes succeed.
    Up,
    /// Scrapes fail.
    Down,
    /// Prometheus drops the job (it never appears in `/api/v1/targets`).
    Missing,
}

/// Expected connection behaviour, checked from the exporter's counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeepAlive {
    /// One connection (and at most one TLS handshake) for all scrapes.
    One,
    /// A new connection (and handshake) for every scrape.
    PerScrape,
    /// Not checked.
    Any,
}

/// What Prometheus should report.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// Target health.
    pub health: ExpectHealth,
    /// Error class (snake_case label); default `none` for up, required for down.
    #[serde(default)]
    pub error: Option<String>,
    /// A substring the raw `lastError` must contain.
    #[serde(default)]
    pub last_error_contains: Option<String>,
    /// Connection behaviour; default `one` for up targets, `per_scrape` with the
    /// close-after-response fault, `any` otherwise.
    #[serde(default)]
    pub keep_alive: Option<KeepAlive>,
    /// HTTP version every scrape must have used (`HTTP/1.1` or `HTTP/2`).
    #[serde(default)]
    pub http_version: Option<String>,
    /// What Prometheus 3.x (or later) reports instead, where it differs from 2.x (e.g. a
    /// missing Content-Type fails 3.x scrapes).
    #[serde(default)]
    pub prometheus_3: Option<ExpectOverride>,
}

/// An expectation that replaces health and class for newer Prometheus versions.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ExpectOverride {
    /// Target health.
    pub health: ExpectHealth,
    /// Error class (required for `down`).
    #[serde(default)]
    pub error: Option<String>,
}

/// A checked case, ready to run.
#[derive(Debug, Clone)]
pub struct PlannedCase {
    /// The case as written.
    pub case: Case,
    /// Where it came from.
    pub file: String,
    /// The expected class.
    pub expected_class: ErrorClass,
    /// The expected keep-alive behaviour.
    pub keep_alive: KeepAlive,
    /// Health and class expected from Prometheus 3.x and later, when they differ.
    pub prometheus_3: Option<(ExpectHealth, ErrorClass)>,
}

impl PlannedCase {
    /// Expected health and class for a Prometheus of this major version.
    pub fn expected_for(&self, prometheus_major: u32) -> (ExpectHealth, ErrorClass) {
        match (prometheus_major >= 3, self.prometheus_3) {
            (true, Some(v3)) => v3,
            _ => (self.case.expect.health, self.expected_class),
        }
    }
}

impl PlannedCase {
    /// Whether the exporter serves TLS.
    pub fn exporter_tls(&self) -> bool {
        self.case.exporter.server_cert.is_some()
    }

    /// Whether the scrape uses https.
    pub fn scrape_https(&self) -> bool {
        self.case.scrape.scheme.as_deref() == Some("https")
    }

    /// Target host (`127.0.0.1` unless the case says `localhost`).
    pub fn target_host(&self) -> &str {
        self.case
            .scrape
            .target_host
            .as_deref()
            .unwrap_or("127.0.0.1")
    }
}

/// Every case of a run plus the run's settings.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Settings.
    pub defaults: Defaults,
    /// The cases, in file order.
    pub cases: Vec<PlannedCase>,
}

impl Plan {
    /// Loads files (none = the embedded default matrix).
    pub fn load(files: &[PathBuf]) -> Result<Plan, ScenarioError> {
        if files.is_empty() {
            return Self::from_sources(&[(
                DEFAULT_MATRIX_NAME.to_owned(),
                DEFAULT_MATRIX.to_owned(),
            )]);
        }
        let mut sources = Vec::new();
        for f in files {
            let text = std::fs::read_to_string(f).map_err(|source| ScenarioError::Read {
                file: f.display().to_string(),
                source,
            })?;
            sources.push((f.display().to_string(), text));
        }
        Self::from_sources(&sources)
    }

    /// Parses and checks `(file name, YAML text)` pairs.
    pub fn from_sources(sources: &[(String, String)]) -> Result<Plan, ScenarioError> {
        let mut defaults: Option<Defaults> = None;
        let mut cases = Vec::new();
        let mut seen: BTreeMap<String, String> = BTreeMap::new();
        for (file, text) in sources {
            let raw: FileRaw = serde_norway::from_str(text).map_err(|e| ScenarioError::Syntax {
                file: file.clone(),
                message: e.to_string(),
            })?;
            if let Some(d) = raw.defaults {
                let d: Defaults =
                    serde_norway::from_value(d).map_err(|e| ScenarioError::Syntax {
                        file: file.clone(),
                        message: format!("defaults: {e}"),
                    })?;
                if defaults.is_none() {
                    defaults = Some(d);
                }
            }
            for (i, value) in raw.cases.into_iter().enumerate() {
                let label = value
                    .get("name")
                    .and_then(|n| n.as_str())
                    .map(str::to_owned)
                    .unwrap_or_else(|| format!("#{}", i + 1));
                let case: Case = serde_path_to_error::deserialize(value).map_err(|e| {
                    let path = e.path().to_string();
                    let inner = e.into_inner().to_string();
                    ScenarioError::Case {
                        file: file.clone(),
                        case: label.clone(),
                        // `.` is serde_path_to_error's name for the case itself.
                        field: if path == "." { "(case)".into() } else { path },
                        message: inner,
                    }
                })?;
                if let Some(first) = seen.get(&case.name) {
                    return Err(ScenarioError::Duplicate {
                        file: file.clone(),
                        case: case.name.clone(),
                        first: first.clone(),
                    });
                }
                seen.insert(case.name.clone(), file.clone());
                cases.push(check_case(file, case)?);
            }
        }
        let defaults = defaults.unwrap_or_default();
        if defaults.scrape_timeout > defaults.scrape_interval {
            return Err(ScenarioError::Syntax {
                file: sources.first().map(|s| s.0.clone()).unwrap_or_default(),
                message: "defaults.scrape_timeout is longer than defaults.scrape_interval; Prometheus refuses that at load time".into(),
            });
        }
        Ok(Plan { defaults, cases })
    }
}

/// Names a job may use: Prometheus job names are free text, but we keep them to
/// `[a-zA-Z0-9_-]` so they work unquoted in PromQL selectors and file names.
fn valid_case_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

fn check_case(file: &str, case: Case) -> Result<PlannedCase, ScenarioError> {
    let err = |field: &str, message: String| ScenarioError::Case {
        file: file.to_owned(),
        case: case.name.clone(),
        field: field.to_owned(),
        message,
    };
    if let Some(level) = &case.level {
        if !["MUST", "SHOULD", "MAY"].contains(&level.as_str()) {
            return Err(err("level", format!("`{level}`: use MUST, SHOULD or MAY")));
        }
    }
    if !valid_case_name(&case.name) {
        return Err(err(
            "name",
            "use only letters, digits, `-` and `_` (the name becomes a Prometheus job and a directory)".into(),
        ));
    }
    let e = &case.exporter;
    if let Some(c) = &e.server_cert {
        c.parse::<ServerCert>()
            .map_err(|x| err("exporter.server_cert", x.to_string()))?;
    }
    let tls_only = [
        ("exporter.client_auth_type", e.client_auth_type.is_some()),
        ("exporter.client_ca", e.client_ca.is_some()),
        (
            "exporter.client_allowed_sans",
            e.client_allowed_sans.is_some(),
        ),
        ("exporter.min_version", e.min_version.is_some()),
        ("exporter.max_version", e.max_version.is_some()),
        ("exporter.openssl_key", e.openssl_key),
        ("exporter.cert_file", e.cert_file.is_some()),
        ("exporter.cipher_suites", !e.cipher_suites.is_empty()),
    ];
    if e.server_cert.is_none() {
        if let Some((field, _)) = tls_only.iter().find(|(_, set)| *set) {
            return Err(err(
                field,
                "needs TLS on the exporter; add `exporter.server_cert: valid` (or another server certificate)".into(),
            ));
        }
    }
    if let Some(ca) = &e.client_ca {
        check_pki_name(ca).map_err(|m| err("exporter.client_ca", m))?;
    }
    match (&e.cert_file, &e.key_file) {
        (Some(c), Some(k)) => {
            check_pki_name(c).map_err(|m| err("exporter.cert_file", m))?;
            check_pki_name(k).map_err(|m| err("exporter.key_file", m))?;
        }
        (None, None) => {}
        (Some(_), None) => return Err(err("exporter.cert_file", "needs `key_file` too".into())),
        (None, Some(_)) => return Err(err("exporter.key_file", "needs `cert_file` too".into())),
    }
    if let Some(f) = &e.bearer_token_file {
        if !case.files.contains_key(f) {
            return Err(err(
                "exporter.bearer_token_file",
                format!("`{f}` is not in the case's `files:`; add `files: {{ {f}: <token> }}`"),
            ));
        }
    }
    let s = &case.scrape;
    if let Some(scheme) = &s.scheme {
        if scheme != "http" && scheme != "https" {
            return Err(err(
                "scrape.scheme",
                format!("`{scheme}` is not `http` or `https`"),
            ));
        }
    }
    if let Some(h) = &s.target_host {
        if h != "127.0.0.1" && h != "localhost" && h != "[::1]" {
            return Err(err(
                "scrape.target_host",
                format!(
                    "`{h}`: targets must be on loopback; use `127.0.0.1`, `localhost` or `[::1]`"
                ),
            ));
        }
    }
    if s.basic_auth.is_some() && s.authorization.is_some() {
        return Err(err("scrape", "`basic_auth` and `authorization` are both set; Prometheus refuses such a config at load time (it would fail the whole run). Keep one".into()));
    }
    if let Some(b) = &s.basic_auth {
        if b.password.is_some() && b.password_file.is_some() {
            return Err(err(
                "scrape.basic_auth",
                "`password` and `password_file` are both set; Prometheus refuses that. Keep one"
                    .into(),
            ));
        }
        if let Some(f) = &b.password_file {
            check_file_ref(&case, f).map_err(|m| err("scrape.basic_auth.password_file", m))?;
        }
    }
    if let Some(a) = &s.authorization {
        if a.credentials.is_some() && a.credentials_file.is_some() {
            return Err(err("scrape.authorization", "`credentials` and `credentials_file` are both set; Prometheus refuses that. Keep one".into()));
        }
        if let Some(f) = &a.credentials_file {
            check_file_ref(&case, f)
                .map_err(|m| err("scrape.authorization.credentials_file", m))?;
        }
    }
    if let Some(t) = &s.tls_config {
        for (field, v) in [
            ("scrape.tls_config.ca_file", &t.ca_file),
            ("scrape.tls_config.cert_file", &t.cert_file),
            ("scrape.tls_config.key_file", &t.key_file),
        ] {
            if let Some(v) = v {
                if !v.starts_with('/') {
                    check_pki_name(v).map_err(|m| err(field, m))?;
                }
            }
        }
    }
    if let Some(t) = s.scrape_timeout {
        if t.is_zero() {
            return Err(err("scrape.scrape_timeout", "must be above zero".into()));
        }
    }
    let x = &case.expect;
    let expected_class = match (&x.error, x.health) {
        (Some(label), _) => label
            .parse::<ErrorClass>()
            .map_err(|m| err("expect.error", m.to_string()))?,
        (None, ExpectHealth::Up) => ErrorClass::None,
        (None, ExpectHealth::Missing) => ErrorClass::JobMissing,
        (None, ExpectHealth::Down) => {
            return Err(err(
                "expect.error",
                "a `down` expectation needs an error class, e.g. `error: unauthorized`".into(),
            ))
        }
    };
    match (x.health, &expected_class) {
        (ExpectHealth::Up, c) if *c != ErrorClass::None => {
            return Err(err("expect.error", format!("an `up` target has no error, but `{c}` is expected; drop `error:` or expect `down`")))
        }
        (ExpectHealth::Down, ErrorClass::None) => {
            return Err(err("expect.error", "a `down` target needs an error class other than `none`".into()))
        }
        _ => {}
    }
    if let Some(v) = &x.http_version {
        if v != "HTTP/1.1" && v != "HTTP/2" {
            return Err(err(
                "expect.http_version",
                format!("`{v}`: use `HTTP/1.1` or `HTTP/2`"),
            ));
        }
    }
    if e.absent
        && (e.server_cert.is_some() || !e.basic_auth_users.is_empty() || !e.faults.is_none())
    {
        return Err(err(
            "exporter.absent",
            "an absent exporter has no TLS, auth or faults; remove them or `absent`".into(),
        ));
    }
    let prometheus_3 = match &x.prometheus_3 {
        None => None,
        Some(o) => {
            let class = match (&o.error, o.health) {
                (Some(label), _) => label
                    .parse::<ErrorClass>()
                    .map_err(|m| err("expect.prometheus_3.error", m.to_string()))?,
                (None, ExpectHealth::Up) => ErrorClass::None,
                (None, ExpectHealth::Missing) => ErrorClass::JobMissing,
                (None, ExpectHealth::Down) => {
                    return Err(err(
                        "expect.prometheus_3.error",
                        "a `down` expectation needs an error class".into(),
                    ))
                }
            };
            Some((o.health, class))
        }
    };
    let keep_alive = x.keep_alive.unwrap_or(match x.health {
        ExpectHealth::Up if e.faults.close_after_response => KeepAlive::PerScrape,
        ExpectHealth::Up => KeepAlive::One,
        _ => KeepAlive::Any,
    });
    Ok(PlannedCase {
        file: file.to_owned(),
        expected_class,
        keep_alive,
        prometheus_3,
        case,
    })
}

fn check_pki_name(name: &str) -> Result<(), String> {
    if PkiFiles::names().contains(&name) {
        Ok(())
    } else {
        Err(format!(
            "`{name}` is not a file of the generated PKI; use one of: {} (or an absolute path)",
            PkiFiles::names().join(", ")
        ))
    }
}

fn check_file_ref(case: &Case, name: &str) -> Result<(), String> {
    if name.starts_with('/') || case.files.contains_key(name) {
        Ok(())
    } else {
        Err(format!(
            "`{name}` is not in the case's `files:`; add `files: {{ {name}: <content> }}` or give an absolute path"
        ))
    }
}

/// The client certificate names a case may present (for classification context).
pub fn presents_client_cert(case: &Case) -> bool {
    case.scrape
        .tls_config
        .as_ref()
        .is_some_and(|t| t.cert_file.is_some() && t.key_file.is_some())
}

/// Whether the exporter can refuse this job over its client certificate: it requires
/// one, or it verifies one it is given (`VerifyClientCertIfGiven`) and the job sends one,
/// or it checks `client_allowed_sans`. Go servers reject certificates after a TLS 1.3
/// client has finished, so such a rejection often reaches Prometheus as a broken pipe or
/// a reset; this tells the classifier what that means.
pub fn exporter_requires_client_cert(case: &Case) -> bool {
    let e = &case.exporter;
    match e.client_auth_type.as_deref() {
        Some("RequireAnyClientCert" | "RequireAndVerifyClientCert" | "RequireClientCert") => true,
        Some("VerifyClientCertIfGiven") => presents_client_cert(case),
        Some("RequestClientCert") => presents_client_cert(case) && e.client_allowed_sans.is_some(),
        _ => false,
    }
}

/// Resolves a file reference of a case to a path: PKI names in `pki`, case files in
/// `case_dir`, absolute paths as they are.
pub fn resolve_file(name: &str, pki: &PkiFiles, case_dir: &Path) -> PathBuf {
    if name.starts_with('/') {
        return PathBuf::from(name);
    }
    pki.by_name(name)
        .unwrap_or_else(|| case_dir.join("files").join(name))
}

#[cfg(test)]
mod tests;

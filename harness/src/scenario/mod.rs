//! Scenario files: a matrix of cases, each an exporter set-up, a scrape job in
//! `prometheus.yml` vocabulary, and what Prometheus should report.
//!
//! Parsing is two-staged so that errors name the case: the file is read as a list of YAML
//! values, then every case is decoded on its own into the serde structs of `raw` (unknown
//! keys are errors) and checked into a typed [`Case`] (PKI names, file names, combinations
//! Prometheus itself would refuse at load time). Downstream code only sees the typed values:
//! no string is matched and nothing falls back to a default after this point.
//! See `scenarios/README.md` for the format.

mod legacy;
mod raw;
mod third_parties;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use fake_exporter::pki::{KeyType, PkiFiles, ServerCert};
use fake_exporter::{
    CipherSuite, ClientAuthType, FaultSpec, Mutant, TlsVersion as ExporterTlsVersion,
};

use crate::classify::{CaseContext, ErrorClass};
use crate::promconfig::{Scheme, TlsVersion as ScrapeTlsVersion};
use crate::targets::Health;
use raw::{RawCase, RawExporter, RawFile, RawScrape};
pub use third_parties::{
    Count, ForwardProxyCase, OAuth2Case, ReverseProxy, ThirdParties, TokenEndpointCase,
};

/// The default matrix, embedded so that `scrape-harness run` works with no files.
pub const DEFAULT_MATRIX: &str = include_str!("../../../scenarios/security-matrix.yaml");
/// Name used in errors for the embedded matrix.
pub const DEFAULT_MATRIX_NAME: &str = "scenarios/security-matrix.yaml (embedded)";

/// A scenario file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The file could not be read.
    #[error("{file}: cannot read the scenario file: {source}")]
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
    /// No case in any file.
    #[error("{}: no cases; add at least one under `cases:` (see scenarios/README.md)", .files.join(", "))]
    Empty {
        /// The files read.
        files: Vec<String>,
    },
    /// More than one mistake; each is listed on its own line.
    #[error("{} mistakes:\n{}", .errors.len(), .errors.iter().map(|e| format!("  - {e}")).collect::<Vec<_>>().join("\n"))]
    Several {
        /// Every mistake, in file order.
        errors: Vec<ScenarioError>,
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

/// Conformance level of a catalog case (RFC 2119 words).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize)]
pub enum Level {
    /// A failure is a security defect.
    #[serde(rename = "MUST")]
    Must,
    /// Expected of a well-behaved exporter.
    #[serde(rename = "SHOULD")]
    Should,
    /// Optional.
    #[serde(rename = "MAY")]
    May,
}

impl Level {
    /// `MUST`, `SHOULD` or `MAY`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Must => "MUST",
            Self::Should => "SHOULD",
            Self::May => "MAY",
        }
    }
}

impl std::fmt::Display for Level {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

/// Expected connection behaviour, checked from the exporter's counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeepAlive {
    /// One connection (and at most one TLS handshake) for all scrapes.
    One,
    /// A new connection (and handshake) for every scrape.
    PerScrape,
    /// Not checked.
    Any,
}

/// An HTTP version a scrape can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
pub enum HttpVersion {
    /// `HTTP/1.1`.
    #[serde(rename = "HTTP/1.1")]
    Http11,
    /// `HTTP/2`.
    #[serde(rename = "HTTP/2")]
    Http2,
}

impl HttpVersion {
    /// `HTTP/1.1` or `HTTP/2`, as the exporter's counters write it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Http11 => "HTTP/1.1",
            Self::Http2 => "HTTP/2",
        }
    }
}

impl std::fmt::Display for HttpVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

/// A file of the generated PKI, by its stable name (`ca.crt`, `client.key`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PkiFile(&'static str);

impl PkiFile {
    /// The PKI file called `name`, if there is one.
    pub fn named(name: &str) -> Option<Self> {
        PkiFiles::names().into_iter().find(|n| *n == name).map(Self)
    }

    /// The file name.
    pub const fn name(self) -> &'static str {
        self.0
    }
}

/// A file a case refers to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FileRef {
    /// A file of the generated PKI.
    Pki(PkiFile),
    /// A name from the case's `files:`.
    Case(String),
    /// Any path (one that does not exist makes Prometheus drop the job).
    Absolute(PathBuf),
}

impl FileRef {
    /// The path of this file in a run whose PKI is `pki` and whose case files are in
    /// `case_files_dir`.
    pub fn resolve(&self, pki: &PkiFiles, case_files_dir: &Path) -> PathBuf {
        match self {
            // Invariant: a `PkiFile` is only made from `PkiFiles::names()`.
            Self::Pki(file) => pki
                .by_name(file.name())
                .expect("every PkiFile name is a file of PkiFiles"),
            Self::Case(name) => case_files_dir.join(name),
            Self::Absolute(path) => path.clone(),
        }
    }
}

/// A credential sent by the scrape job: inline, or read from a file on every scrape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Secret {
    /// `password:` / `credentials:`.
    Inline(String),
    /// `password_file:` / `credentials_file:`.
    File(FileRef),
}

/// One case: an exporter set-up, the job that scrapes it and what Prometheus should report.
#[derive(Debug, Clone, PartialEq)]
pub struct Case {
    /// Unique name; the job name.
    pub name: String,
    /// The scenario file it came from.
    pub file: String,
    /// Free text shown in reports.
    pub description: String,
    /// Conformance level (catalogs only).
    pub level: Option<Level>,
    /// Why the expectation holds (catalogs).
    pub rationale: Option<String>,
    /// Where the expected behaviour is defined (catalogs).
    pub reference: Option<String>,
    /// Files the case writes (name → content) and may refer to.
    pub files: BTreeMap<String, String>,
    /// The exporter.
    pub exporter: ExporterCase,
    /// The scrape job.
    pub scrape: ScrapeCase,
    /// The verdict expected.
    pub expect: Expectation,
    /// Token endpoint, forward and reverse proxies, and what is expected of them.
    pub third_parties: ThirdParties,
}

/// The exporter side of a case: becomes a `web-config.yml` plus fake-exporter options.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExporterCase {
    /// TLS, `None` for plain HTTP.
    pub tls: Option<ExporterTls>,
    /// `http_server_config.http2`.
    pub http2: Option<bool>,
    /// fake-exporter's compatibility profile (`exporter.compat`); an external exporter
    /// behaves as it does.
    pub compat: fake_exporter::Compat,
    /// Basic auth users with PLAINTEXT passwords (the harness hashes them).
    pub basic_auth_users: BTreeMap<String, String>,
    /// Bearer tokens (fake-exporter extension).
    pub bearer: BearerCase,
    /// Faults of the metrics endpoint.
    pub faults: FaultSpec,
    /// Deliberate security weaknesses (fake-exporter only).
    pub mutants: Vec<Mutant>,
    /// Samples exposed.
    pub series: Option<usize>,
    /// No exporter at all: the target's port is closed.
    pub absent: bool,
    /// Overwrite the web-config with invalid YAML once the exporter runs.
    pub break_config_after_start: bool,
}

/// Bearer tokens an exporter accepts (fake-exporter extension).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BearerCase {
    /// Static tokens.
    pub tokens: Vec<String>,
    /// A token file: a name from the case's `files:`.
    pub token_file: Option<String>,
    /// Tokens that expired an hour before the run.
    pub expired_tokens: Vec<String>,
}

impl BearerCase {
    /// Whether any Bearer token is configured.
    pub fn is_configured(&self) -> bool {
        !self.tokens.is_empty() || self.token_file.is_some() || !self.expired_tokens.is_empty()
    }
}

/// `tls_server_config` of a case's exporter.
#[derive(Debug, Clone, PartialEq)]
pub struct ExporterTls {
    /// The PKI server certificate served.
    pub server_cert: ServerCert,
    /// Serve the key as openssl writes it (PKCS#1 / SEC1).
    pub openssl_key: bool,
    /// Serve these PKI files (certificate, key) instead of `server_cert`'s.
    pub serve_files: Option<(PkiFile, PkiFile)>,
    /// `cipher_suites`.
    pub cipher_suites: Vec<CipherSuite>,
    /// `client_auth_type`; `None` leaves it out of the file.
    pub client_auth_type: Option<ClientAuthType>,
    /// `client_ca_file`.
    pub client_ca: Option<PkiFile>,
    /// `client_allowed_sans`.
    pub client_allowed_sans: Option<Vec<String>>,
    /// `min_version`.
    pub min_version: Option<ExporterTlsVersion>,
    /// `max_version`.
    pub max_version: Option<ExporterTlsVersion>,
}

impl ExporterTls {
    /// The effective client-auth policy.
    pub fn client_auth(&self) -> ClientAuthType {
        self.client_auth_type.unwrap_or_default()
    }
}

/// Where the job sends its scrapes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum TargetHost {
    /// `127.0.0.1` (default).
    #[default]
    Ipv4Loopback,
    /// `localhost`.
    Localhost,
    /// `[::1]`.
    Ipv6Loopback,
}

impl TargetHost {
    /// The host as written in a target (`127.0.0.1`, `localhost`, `[::1]`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Ipv4Loopback => "127.0.0.1",
            Self::Localhost => "localhost",
            Self::Ipv6Loopback => "[::1]",
        }
    }

    /// The address the exporter listens on for this host.
    pub fn listen_ip(self) -> std::net::IpAddr {
        match self {
            Self::Ipv6Loopback => std::net::Ipv6Addr::LOCALHOST.into(),
            Self::Ipv4Loopback | Self::Localhost => std::net::Ipv4Addr::LOCALHOST.into(),
        }
    }
}

/// The Prometheus side of a case, in `prometheus.yml` vocabulary.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ScrapeCase {
    /// `scheme`.
    pub scheme: Option<Scheme>,
    /// Host of the target.
    pub target_host: TargetHost,
    /// `basic_auth` or `authorization` (Prometheus refuses both at once).
    pub auth: Option<ScrapeAuth>,
    /// `tls_config`.
    pub tls_config: Option<ScrapeTls>,
    /// `enable_http2`.
    pub enable_http2: Option<bool>,
    /// `scrape_timeout` override.
    pub scrape_timeout: Option<Duration>,
    /// `body_size_limit`.
    pub body_size_limit: Option<String>,
    /// `metrics_path`.
    pub metrics_path: Option<String>,
    /// `sample_limit`.
    pub sample_limit: Option<u64>,
}

impl ScrapeCase {
    /// Whether the job scrapes over https.
    pub fn is_https(&self) -> bool {
        self.scheme == Some(Scheme::Https)
    }

    /// Whether the job presents a client certificate (`cert_file` and `key_file`).
    pub fn presents_client_cert(&self) -> bool {
        self.tls_config
            .as_ref()
            .is_some_and(|t| t.cert_file.is_some() && t.key_file.is_some())
    }
}

/// How a job authenticates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScrapeAuth {
    /// `basic_auth`.
    Basic {
        /// `username`.
        username: String,
        /// `password` / `password_file`; `None` sends an empty password.
        password: Option<Secret>,
    },
    /// `authorization`.
    Authorization {
        /// `type` (Prometheus default `Bearer`).
        auth_type: Option<String>,
        /// `credentials` / `credentials_file`.
        credentials: Option<Secret>,
    },
}

/// `tls_config` of a job.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScrapeTls {
    /// `ca_file`.
    pub ca_file: Option<FileRef>,
    /// `cert_file`.
    pub cert_file: Option<FileRef>,
    /// `key_file`.
    pub key_file: Option<FileRef>,
    /// `server_name`.
    pub server_name: Option<String>,
    /// `insecure_skip_verify`.
    pub insecure_skip_verify: Option<bool>,
    /// `min_version`.
    pub min_version: Option<ScrapeTlsVersion>,
    /// `max_version`.
    pub max_version: Option<ScrapeTlsVersion>,
}

/// Health and error class of a target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct Outcome {
    /// Health.
    pub health: Health,
    /// Class of `lastError` (`none` when up).
    pub class: ErrorClass,
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.health {
            Health::Up => f.write_str("up"),
            health => write!(f, "{health} ({})", self.class),
        }
    }
}

/// The health and the error class(es) a case accepts. More than one class states a racy
/// outcome (e.g. Go's TLS 1.3 client-certificate rejection reads `bad certificate`,
/// `broken pipe` or `connection reset` from run to run): any of them passes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Expected {
    /// Health.
    pub health: Health,
    /// Accepted classes, at least one (`none` when up).
    pub classes: Vec<ErrorClass>,
}

impl Expected {
    /// One health and one class.
    pub fn one(health: Health, class: ErrorClass) -> Self {
        Self {
            health,
            classes: vec![class],
        }
    }

    /// Whether `outcome` is one this expectation accepts.
    pub fn accepts(&self, outcome: &Outcome) -> bool {
        outcome.health == self.health && self.classes.contains(&outcome.class)
    }

    /// Whether `class` is among the accepted classes.
    pub fn accepts_class(&self, class: ErrorClass) -> bool {
        self.classes.contains(&class)
    }
}

impl std::fmt::Display for Expected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.health == Health::Up {
            return f.write_str("up");
        }
        let classes: Vec<String> = self.classes.iter().map(ToString::to_string).collect();
        write!(f, "{} ({})", self.health, classes.join(" | "))
    }
}

/// What the exporter should do with the case's web-config when it starts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum ExporterStart {
    /// It starts and serves; Prometheus' verdict is what is judged.
    #[default]
    Serves,
    /// It refuses the web-config at start (`expect: { exporter: refuses_config }`): nothing
    /// is scraped; the case passes when the start fails and, when given, the exporter's
    /// error message contains `message_contains`.
    RefusesConfig {
        /// A substring of the exporter's error message.
        message_contains: Option<String>,
    },
}

/// What Prometheus should report about a case.
#[derive(Debug, Clone, PartialEq)]
pub struct Expectation {
    /// What the exporter does at start. With [`ExporterStart::RefusesConfig`] nothing is
    /// scraped and the fields below are placeholders (a job that is missing).
    pub exporter: ExporterStart,
    /// Health and class(es) from Prometheus 2.x.
    pub outcome: Expected,
    /// Health and class(es) from Prometheus 3.x and later, where they differ.
    pub prometheus_3: Option<Expected>,
    /// A substring the raw `lastError` must contain.
    pub last_error_contains: Option<String>,
    /// Connection behaviour.
    pub keep_alive: KeepAlive,
    /// Whether the file said `keep_alive:` (otherwise it follows the health).
    pub keep_alive_declared: bool,
    /// HTTP version every scrape must have used.
    pub http_version: Option<HttpVersion>,
}

impl Expectation {
    /// Scrapes succeed, over one kept-alive connection.
    pub fn up() -> Self {
        Self::outcome(Health::Up, ErrorClass::None, KeepAlive::One)
    }

    /// Scrapes fail with `class`; connections are not checked.
    pub fn down(class: ErrorClass) -> Self {
        Self::outcome(Health::Down, class, KeepAlive::Any)
    }

    fn outcome(health: Health, class: ErrorClass, keep_alive: KeepAlive) -> Self {
        Self {
            exporter: ExporterStart::Serves,
            outcome: Expected::one(health, class),
            prometheus_3: None,
            last_error_contains: None,
            keep_alive,
            keep_alive_declared: false,
            http_version: None,
        }
    }

    /// The exporter should refuse its web-config at start (nothing is scraped).
    pub fn refuses_config(message_contains: Option<String>) -> Self {
        Self {
            exporter: ExporterStart::RefusesConfig { message_contains },
            ..Self::outcome(Health::Missing, ErrorClass::JobMissing, KeepAlive::Any)
        }
    }

    /// Whether the case is about the exporter refusing its web-config at start.
    pub fn refuses_config_at_start(&self) -> bool {
        matches!(self.exporter, ExporterStart::RefusesConfig { .. })
    }

    /// The outcome expected from a Prometheus of this major version.
    pub fn outcome_for(&self, prometheus_major: u32) -> &Expected {
        match (prometheus_major >= 3, &self.prometheus_3) {
            (true, Some(v3)) => v3,
            _ => &self.outcome,
        }
    }
}

impl Case {
    /// A case with a plain exporter and a plain job, to be adjusted through its fields
    /// (for cases built in code rather than read from a file; `file` names the origin in
    /// reports).
    pub fn new(name: impl Into<String>, file: impl Into<String>, expect: Expectation) -> Self {
        Self {
            name: name.into(),
            file: file.into(),
            description: String::new(),
            level: None,
            rationale: None,
            reference: None,
            files: BTreeMap::new(),
            exporter: ExporterCase::default(),
            scrape: ScrapeCase::default(),
            expect,
            third_parties: ThirdParties::default(),
        }
    }

    /// What the classifier needs to know about this case's set-up.
    pub fn context(&self) -> CaseContext {
        CaseContext {
            scheme_https: self.scrape.is_https(),
            target_tls: self.exporter.tls.is_some(),
            target_requires_client_cert: self.exporter_can_refuse_client_cert(),
            job_presents_client_cert: self.scrape.presents_client_cert(),
            h2_refused_after_handshake: legacy::h2_refused_after_handshake(self),
        }
    }

    /// Whether the exporter can refuse this job over its client certificate: it requires
    /// one, or it verifies one it is given (`VerifyClientCertIfGiven`) and the job sends one,
    /// or it checks `client_allowed_sans` on one it is sent. Go servers reject certificates
    /// after a TLS 1.3 client has finished, so such a rejection often reaches Prometheus as a
    /// broken pipe or a reset; this tells the classifier what that means.
    pub fn exporter_can_refuse_client_cert(&self) -> bool {
        let Some(tls) = &self.exporter.tls else {
            return false;
        };
        let presents = self.scrape.presents_client_cert();
        let policy = tls.client_auth().canonical();
        if policy.requires_cert() {
            return true;
        }
        match policy {
            ClientAuthType::VerifyClientCertIfGiven => presents,
            ClientAuthType::RequestClientCert => presents && tls.client_allowed_sans.is_some(),
            _ => false,
        }
    }

    /// A feature only fake-exporter has, if the case relies on one.
    pub fn fake_only_feature(&self) -> Option<&'static str> {
        let e = &self.exporter;
        if e.bearer.is_configured() {
            return Some("Bearer tokens (`fake_exporter.bearer_auth`)");
        }
        if !e.faults.is_none() {
            return Some("fault injection");
        }
        if !e.mutants.is_empty() {
            return Some("mutants");
        }
        if e.series.is_some() {
            return Some("`series`");
        }
        if self.third_parties.token_endpoint.is_some() {
            return Some("OAuth2 tokens (`exporter.oauth2`)");
        }
        if self.third_parties.reverse_proxy.is_some() {
            return Some("`exporter.reverse_proxy`");
        }
        None
    }
}

/// Every case of a run plus the run's settings.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Settings.
    pub defaults: Defaults,
    /// The scrape cases, in file order.
    pub cases: Vec<Case>,
    /// The receiver cases (Prometheus as a client of Alertmanager and remote write) and
    /// their run-wide settings; `None` when the files have none.
    pub receivers: Option<crate::receivers::ReceiverPlan>,
    /// The rotation cases and their run-wide settings; `None` when the files have none.
    pub rotation: Option<crate::rotation::RotationPlan>,
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

    /// Parses and checks `(file name, YAML text)` pairs. Every mistake in every case is
    /// reported at once ([`ScenarioError::Several`] when there is more than one).
    pub fn from_sources(sources: &[(String, String)]) -> Result<Plan, ScenarioError> {
        let mut defaults: Option<Defaults> = None;
        let mut cases = Vec::new();
        let mut errors = Vec::new();
        let mut seen: BTreeMap<String, String> = BTreeMap::new();
        for (file, text) in sources {
            let raw: RawFile = match serde_norway::from_str(text) {
                Ok(raw) => raw,
                Err(e) => {
                    errors.push(ScenarioError::Syntax {
                        file: file.clone(),
                        message: e.to_string(),
                    });
                    continue;
                }
            };
            if let Some(d) = raw.defaults {
                match serde_norway::from_value::<Defaults>(d) {
                    Ok(d) => {
                        defaults.get_or_insert(d);
                    }
                    Err(e) => errors.push(ScenarioError::Syntax {
                        file: file.clone(),
                        message: format!("defaults: {e}"),
                    }),
                }
            }
            for (i, value) in raw.cases.into_iter().enumerate() {
                let Some((_label, raw_case)) =
                    deserialize_case::<RawCase>(file, i, value, &mut errors)
                else {
                    continue;
                };
                if let Some(first) = seen.get(&raw_case.name) {
                    errors.push(ScenarioError::Duplicate {
                        file: file.clone(),
                        case: raw_case.name.clone(),
                        first: first.clone(),
                    });
                    continue;
                }
                seen.insert(raw_case.name.clone(), file.clone());
                match check(file, raw_case) {
                    Ok(case) => cases.push(case),
                    Err(e) => errors.push(e),
                }
            }
        }
        let defaults = defaults.unwrap_or_default();
        let first_file = || sources.first().map(|s| s.0.clone()).unwrap_or_default();
        if defaults.scrape_timeout > defaults.scrape_interval {
            errors.push(ScenarioError::Syntax {
                file: first_file(),
                message: "defaults.scrape_timeout is longer than defaults.scrape_interval; \
                          Prometheus refuses that at load time"
                    .into(),
            });
        }
        // Prometheus refuses a job whose timeout exceeds its interval at load time ("scrape
        // timeout greater than scrape interval"), which would fail the whole run.
        for case in &cases {
            if let Some(timeout) = case
                .scrape
                .scrape_timeout
                .filter(|t| *t > defaults.scrape_interval)
            {
                errors.push(ScenarioError::Case {
                    file: case.file.clone(),
                    case: case.name.clone(),
                    field: "scrape.scrape_timeout".into(),
                    message: format!(
                        "{} is longer than the scrape interval ({}); Prometheus refuses that \
                         at load time. Use at most the interval, or raise \
                         `defaults.scrape_interval`",
                        humantime::format_duration(timeout),
                        humantime::format_duration(defaults.scrape_interval)
                    ),
                });
            }
        }
        if errors.is_empty() && cases.is_empty() {
            errors.push(ScenarioError::Empty {
                files: sources.iter().map(|s| s.0.clone()).collect(),
            });
        }
        match errors.len() {
            0 => Ok(Plan {
                defaults,
                cases,
                receivers: None,
                rotation: None,
            }),
            1 => Err(errors.remove(0)),
            _ => Err(ScenarioError::Several { errors }),
        }
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

/// Turns a case as written into a typed [`Case`], refusing what cannot run.
fn check(file: &str, raw: RawCase) -> Result<Case, ScenarioError> {
    let err = |field: &str, message: String| ScenarioError::Case {
        file: file.to_owned(),
        case: raw.name.clone(),
        field: field.to_owned(),
        message,
    };
    if !valid_case_name(&raw.name) {
        return Err(err(
            "name",
            "use only letters, digits, `-` and `_` (the name becomes a Prometheus job and a \
             directory)"
                .into(),
        ));
    }
    let exporter = check_exporter(&raw.exporter, &raw.files).map_err(|(f, m)| err(f, m))?;
    let scrape = check_scrape(&raw.scrape, &raw.files).map_err(|(f, m)| err(&f, m))?;
    let third_parties =
        third_parties::check(&raw, &exporter, &scrape).map_err(|(f, m)| err(&f, m))?;
    let expect = match raw.expect.exporter {
        Some(raw::RawExporterStart::RefusesConfig) => {
            refused_config_expectation(&raw.expect, &exporter)
        }
        _ => scrape_expectation(&raw.expect, &exporter, &scrape),
    }
    .map_err(|(f, m)| err(f, m))?;
    Ok(Case {
        file: file.to_owned(),
        description: raw.description.clone(),
        level: raw.level,
        rationale: raw.rationale.clone(),
        reference: raw.reference.clone(),
        files: raw.files.clone(),
        exporter,
        scrape,
        expect,
        third_parties,
        name: raw.name,
    })
}

/// The expectation of a case whose exporter must refuse its web-config at start: such an
/// exporter is never scraped, so no scrape outcome may be expected.
fn refused_config_expectation(
    x: &raw::RawExpect,
    exporter: &ExporterCase,
) -> Result<Expectation, (&'static str, String)> {
    let scrape_fields = [
        ("expect.health", x.health.is_some()),
        ("expect.error", x.error.is_some()),
        (
            "expect.last_error_contains",
            x.last_error_contains.is_some(),
        ),
        ("expect.keep_alive", x.keep_alive.is_some()),
        ("expect.http_version", x.http_version.is_some()),
        ("expect.prometheus_3", x.prometheus_3.is_some()),
    ];
    if let Some((field, _)) = scrape_fields.iter().find(|(_, set)| *set) {
        return Err((
            field,
            "cannot be combined with `exporter: refuses_config`: an exporter that refuses \
             its web-config is never scraped; drop this field, or drop \
             `exporter: refuses_config` to expect a scrape outcome"
                .into(),
        ));
    }
    if exporter.absent {
        return Err((
            "exporter.absent",
            "an absent exporter never reads a web-config, so it cannot refuse one; drop \
             `absent` or `expect.exporter`"
                .into(),
        ));
    }
    Ok(Expectation::refuses_config(x.message_contains.clone()))
}

/// The expectation of a scraped case: health and classes (per Prometheus major), the
/// keep-alive it implies, the HTTP version.
fn scrape_expectation(
    x: &raw::RawExpect,
    exporter: &ExporterCase,
    scrape: &ScrapeCase,
) -> Result<Expectation, (&'static str, String)> {
    if x.message_contains.is_some() {
        return Err((
            "expect.message_contains",
            "is the exporter's start-up error and needs `exporter: refuses_config`; for \
             Prometheus' error use `last_error_contains`"
                .into(),
        ));
    }
    let Some(health) = x.health else {
        return Err((
            "expect.health",
            "missing; give `health: up`, `down` or `missing`, or `exporter: refuses_config` \
             for an exporter that refuses this web-config at start"
                .into(),
        ));
    };
    let outcome = checked_outcome(health.into(), x.error.as_ref())
        .map_err(|e| ("expect.error", e.to_string()))?;
    let prometheus_3 = match &x.prometheus_3 {
        None => None,
        Some(o) => Some(
            checked_outcome(o.health.into(), o.error.as_ref())
                .map_err(|e| ("expect.prometheus_3.error", e.to_string()))?,
        ),
    };
    if let Some(problem) = half_client_cert(scrape.tls_config.as_ref(), outcome.health) {
        return Err(problem);
    }
    let keep_alive = x.keep_alive.unwrap_or(match outcome.health {
        Health::Up if exporter.faults.close_after_response => KeepAlive::PerScrape,
        Health::Up => KeepAlive::One,
        _ => KeepAlive::Any,
    });
    Ok(Expectation {
        exporter: ExporterStart::Serves,
        outcome,
        prometheus_3,
        last_error_contains: x.last_error_contains.clone(),
        keep_alive,
        keep_alive_declared: x.keep_alive.is_some(),
        http_version: x.http_version,
    })
}

/// `tls_config.cert_file` without `key_file` (or the reverse): `promtool check config`
/// refuses it ("client cert file ... specified without client key file"); Prometheus 2.42
/// itself starts and drops only that job ("error creating new scrape pool"). So it is
/// refused here unless the case expects exactly that (`health: missing`).
fn half_client_cert(tls: Option<&ScrapeTls>, health: Health) -> Option<(&'static str, String)> {
    let tls = tls?;
    let (set, unset) = match (&tls.cert_file, &tls.key_file) {
        (Some(_), None) => ("cert_file", "key_file"),
        (None, Some(_)) => ("key_file", "cert_file"),
        _ => return None,
    };
    if health == Health::Missing {
        return None;
    }
    let field = if set == "cert_file" {
        "scrape.tls_config.cert_file"
    } else {
        "scrape.tls_config.key_file"
    };
    Some((
        field,
        format!(
            "is set without `{unset}`; promtool refuses that and Prometheus drops the job. Add \
             `{unset}`, or expect `health: missing` to test the dropped job"
        ),
    ))
}

/// Why an `expect` outcome cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
enum OutcomeError {
    #[error(transparent)]
    UnknownClass(#[from] crate::classify::UnknownClass),
    #[error("an empty list; give one class, or a list of the classes a racy outcome may show")]
    EmptyList,
    #[error("a `down` expectation needs an error class, e.g. `error: unauthorized`")]
    DownWithoutClass,
    #[error("an `up` target has no error, but `{0}` is expected; drop `error:` or expect `down`")]
    UpWithClass(String),
    #[error("a `down` target needs an error class other than `none`")]
    DownWithNone,
}

/// Health plus the class label(s), checked against each other.
fn checked_outcome(
    health: Health,
    error: Option<&raw::OneOrMany>,
) -> Result<Expected, OutcomeError> {
    let labels = error.map(raw::OneOrMany::as_slice).unwrap_or_default();
    let mut classes = Vec::new();
    for label in labels {
        let class = label.parse::<ErrorClass>()?;
        if !classes.contains(&class) {
            classes.push(class);
        }
    }
    if error.is_some() && classes.is_empty() {
        return Err(OutcomeError::EmptyList);
    }
    if classes.is_empty() {
        classes.push(match health {
            Health::Up => ErrorClass::None,
            Health::Missing => ErrorClass::JobMissing,
            _ => return Err(OutcomeError::DownWithoutClass),
        });
    }
    match health {
        Health::Up if classes != [ErrorClass::None] => Err(OutcomeError::UpWithClass(
            classes
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", "),
        )),
        Health::Down if classes.contains(&ErrorClass::None) => Err(OutcomeError::DownWithNone),
        _ => Ok(Expected { health, classes }),
    }
}

type FieldError = (&'static str, String);

fn check_exporter(
    e: &RawExporter,
    files: &BTreeMap<String, String>,
) -> Result<ExporterCase, FieldError> {
    let tls = match &e.server_cert {
        Some(name) => Some(check_exporter_tls(e, name)?),
        None => {
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
                ("exporter.key_file", e.key_file.is_some()),
                ("exporter.cipher_suites", !e.cipher_suites.is_empty()),
            ];
            if let Some((field, _)) = tls_only.iter().find(|(_, set)| *set) {
                return Err((
                    field,
                    "needs TLS on the exporter; add `exporter.server_cert: valid` (or another \
                     server certificate)"
                        .into(),
                ));
            }
            None
        }
    };
    if let Some(f) = &e.bearer_token_file {
        if !files.contains_key(f) {
            return Err((
                "exporter.bearer_token_file",
                format!("`{f}` is not in the case's `files:`; add `files: {{ {f}: <token> }}`"),
            ));
        }
    }
    if e.absent && (tls.is_some() || !e.basic_auth_users.is_empty() || !e.faults.is_none()) {
        return Err((
            "exporter.absent",
            "an absent exporter has no TLS, auth or faults; remove them or `absent`".into(),
        ));
    }
    Ok(ExporterCase {
        tls,
        http2: e.http2,
        compat: e.compat.unwrap_or_default(),
        basic_auth_users: e.basic_auth_users.clone(),
        bearer: BearerCase {
            tokens: e.bearer_tokens.clone(),
            token_file: e.bearer_token_file.clone(),
            expired_tokens: e.expired_bearer_tokens.clone(),
        },
        faults: e.faults.clone(),
        mutants: e.mutants.clone(),
        series: e.series,
        absent: e.absent,
        break_config_after_start: e.break_config_after_start,
    })
}

fn check_exporter_tls(e: &RawExporter, server_cert: &str) -> Result<ExporterTls, FieldError> {
    let server_cert = server_cert
        .parse::<ServerCert>()
        .map_err(|x| ("exporter.server_cert", x.to_string()))?;
    let serve_files = match (&e.cert_file, &e.key_file) {
        (Some(c), Some(k)) => Some((
            pki_file(c).map_err(|e| ("exporter.cert_file", e.to_string()))?,
            pki_file(k).map_err(|e| ("exporter.key_file", e.to_string()))?,
        )),
        (None, None) => None,
        (Some(_), None) => return Err(("exporter.cert_file", "needs `key_file` too".into())),
        (None, Some(_)) => return Err(("exporter.key_file", "needs `cert_file` too".into())),
    };
    let client_auth_type = match &e.client_auth_type {
        None => None,
        Some(name) => Some(ClientAuthType::parse(name).ok_or_else(|| {
            (
                "exporter.client_auth_type",
                format!(
                    "`{name}` is not a client_auth_type; use NoClientCert, RequestClientCert, \
                     RequireAnyClientCert, VerifyClientCertIfGiven, RequireAndVerifyClientCert \
                     (or the alias RequireClientCert)"
                ),
            )
        })?),
    };
    let client_ca = match &e.client_ca {
        None => None,
        Some(name) => Some(pki_file(name).map_err(|e| ("exporter.client_ca", e.to_string()))?),
    };
    Ok(ExporterTls {
        server_cert,
        openssl_key: e.openssl_key,
        serve_files,
        cipher_suites: e.cipher_suites.clone(),
        client_auth_type,
        client_ca,
        client_allowed_sans: e.client_allowed_sans.clone(),
        min_version: e.min_version,
        max_version: e.max_version,
    })
}

fn check_scrape(
    s: &RawScrape,
    files: &BTreeMap<String, String>,
) -> Result<ScrapeCase, (String, String)> {
    let err = |field: &str, message: String| (field.to_owned(), message);
    let target_host = match s.target_host.as_deref() {
        None | Some("127.0.0.1") => TargetHost::Ipv4Loopback,
        Some("localhost") => TargetHost::Localhost,
        Some("[::1]") => TargetHost::Ipv6Loopback,
        Some(h) => {
            return Err(err(
                "scrape.target_host",
                format!(
                    "`{h}`: targets must be on loopback; use `127.0.0.1`, `localhost` or `[::1]`"
                ),
            ))
        }
    };
    let auth = scrape_auth(s, files)?;
    let tls_config = match &s.tls_config {
        None => None,
        Some(t) => {
            let file = |field: &str,
                        v: &Option<String>|
             -> Result<Option<FileRef>, (String, String)> {
                v.as_deref()
                    .map(|v| {
                        tls_file_ref(v)
                            .map_err(|e| err(&format!("scrape.tls_config.{field}"), e.to_string()))
                    })
                    .transpose()
            };
            Some(ScrapeTls {
                ca_file: file("ca_file", &t.ca_file)?,
                cert_file: file("cert_file", &t.cert_file)?,
                key_file: file("key_file", &t.key_file)?,
                server_name: t.server_name.clone(),
                insecure_skip_verify: t.insecure_skip_verify,
                min_version: t.min_version,
                max_version: t.max_version,
            })
        }
    };
    if s.scrape_timeout.is_some_and(|t| t.is_zero()) {
        return Err(err("scrape.scrape_timeout", "must be above zero".into()));
    }
    Ok(ScrapeCase {
        scheme: s.scheme,
        target_host,
        auth,
        tls_config,
        enable_http2: s.enable_http2,
        scrape_timeout: s.scrape_timeout,
        body_size_limit: s.body_size_limit.clone(),
        metrics_path: s.metrics_path.clone(),
        sample_limit: s.sample_limit,
    })
}

/// `scrape.basic_auth` or `scrape.authorization`, refusing what Prometheus refuses at load.
fn scrape_auth(
    s: &RawScrape,
    files: &BTreeMap<String, String>,
) -> Result<Option<ScrapeAuth>, (String, String)> {
    let err = |field: &str, message: String| (field.to_owned(), message);
    match (&s.basic_auth, &s.authorization) {
        (Some(_), Some(_)) => Err(err(
            "scrape",
            "`basic_auth` and `authorization` are both set; Prometheus refuses such a config \
             at load time (it would fail the whole run). Keep one"
                .into(),
        )),
        (Some(b), None) => Ok(Some(ScrapeAuth::Basic {
            username: b.username.clone(),
            password: secret(
                b.password.as_ref(),
                b.password_file.as_ref(),
                files,
                ("password", "password_file"),
            )
            .map_err(|(f, m)| err(&format!("scrape.basic_auth.{f}"), m))?,
        })),
        (None, Some(a)) => {
            if a.kind
                .as_deref()
                .is_some_and(|t| t.eq_ignore_ascii_case("basic"))
            {
                return Err(err(
                    "scrape.authorization.type",
                    "Prometheus refuses `type: Basic` in `authorization` (\"authorization type \
                     cannot be set to basic, use basic_auth instead\"); use `basic_auth` with \
                     `username` and `password`"
                        .into(),
                ));
            }
            Ok(Some(ScrapeAuth::Authorization {
                auth_type: a.kind.clone(),
                credentials: secret(
                    a.credentials.as_ref(),
                    a.credentials_file.as_ref(),
                    files,
                    ("credentials", "credentials_file"),
                )
                .map_err(|(f, m)| err(&format!("scrape.authorization.{f}"), m))?,
            }))
        }
        (None, None) => Ok(None),
    }
}

/// An inline value or a file from `files:` (or an absolute path); both is refused like
/// Prometheus does.
fn secret(
    inline: Option<&String>,
    file: Option<&String>,
    files: &BTreeMap<String, String>,
    (inline_key, file_key): (&'static str, &'static str),
) -> Result<Option<Secret>, (&'static str, String)> {
    match (inline, file) {
        (Some(_), Some(_)) => Err((
            file_key,
            format!(
                "`{inline_key}` and `{file_key}` are both set; Prometheus refuses that. Keep one"
            ),
        )),
        (Some(v), None) => Ok(Some(Secret::Inline(v.clone()))),
        (None, Some(name)) => {
            if name.starts_with('/') {
                Ok(Some(Secret::File(FileRef::Absolute(PathBuf::from(name)))))
            } else if files.contains_key(name) {
                Ok(Some(Secret::File(FileRef::Case(name.clone()))))
            } else {
                Err((
                    file_key,
                    format!(
                        "`{name}` is not in the case's `files:`; add `files: {{ {name}: <content> }}` \
                         or give an absolute path"
                    ),
                ))
            }
        }
        (None, None) => Ok(None),
    }
}

/// A file name that is not one of the generated PKI's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{name}` is not a file of the generated PKI; use one of: {} (or an absolute path)",
    PkiFiles::names().join(", ")
)]
struct UnknownPkiFile {
    name: String,
}

/// A `tls_config` file: a PKI name or an absolute path.
fn tls_file_ref(value: &str) -> Result<FileRef, UnknownPkiFile> {
    if value.starts_with('/') {
        return Ok(FileRef::Absolute(PathBuf::from(value)));
    }
    pki_file(value).map(FileRef::Pki)
}

fn pki_file(name: &str) -> Result<PkiFile, UnknownPkiFile> {
    PkiFile::named(name).ok_or_else(|| UnknownPkiFile {
        name: name.to_owned(),
    })
}

/// Deserializes entry `index` of a file's `cases:` list. A mistake goes to `errors`, named by
/// the case's `name` (or `#N`) and the path of the field, and gives `None`; otherwise the
/// label and the case.
pub(crate) fn deserialize_case<T: serde::de::DeserializeOwned>(
    file: &str,
    index: usize,
    value: serde_norway::Value,
    errors: &mut Vec<ScenarioError>,
) -> Option<(String, T)> {
    let label = value
        .get("name")
        .and_then(|n| n.as_str())
        .map(str::to_owned)
        .unwrap_or_else(|| format!("#{}", index + 1));
    match serde_path_to_error::deserialize(value) {
        Ok(case) => Some((label, case)),
        Err(e) => {
            let path = e.path().to_string();
            errors.push(ScenarioError::Case {
                file: file.to_owned(),
                case: label,
                // `.` is serde_path_to_error's name for the case itself.
                field: if path == "." { "(case)".into() } else { path },
                message: e.into_inner().to_string(),
            });
            None
        }
    }
}

#[cfg(test)]
mod tests;

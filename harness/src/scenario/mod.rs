//! Scenario files: a matrix of cases, each an exporter set-up, a scrape job in
//! `prometheus.yml` vocabulary, and what Prometheus should report.
//!
//! Parsing is two-staged so that errors name the case: the file is read as a list of YAML
//! values, then every case is decoded on its own into the serde structs of `raw` (unknown
//! keys are errors) and checked into a typed [`Case`] (PKI names, file names, combinations
//! Prometheus itself would refuse at load time). Downstream code only sees the typed values:
//! no string is matched and nothing falls back to a default after this point.
//! See `scenarios/README.md` for the format.

mod check;
mod expect;
mod legacy;
pub(crate) mod limits;
mod load;
pub(crate) mod raw;
mod third_parties;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use fake_exporter::pki::{KeyType, PkiFiles, ServerCert};
use fake_exporter::{
    CipherSuite, ClientAuthType, FaultSpec, Mutant, TlsVersion as ExporterTlsVersion,
};

use crate::classify::CaseContext;
use crate::promconfig::{Scheme, TlsVersion as ScrapeTlsVersion};
pub(crate) use check::receiver_case;
pub use expect::{Expectation, Expected, ExporterStart, Outcome};
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
    /// A run-wide setting (`defaults:`, `prometheus:`) that cannot be used.
    #[error("{file}: {key}: {message}")]
    Setting {
        /// The file.
        file: String,
        /// The key path, e.g. `defaults.evaluation_interval`.
        key: String,
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
    /// A limit on scenario input, set through an environment variable, is not a whole
    /// number above zero.
    #[error("{env}={value:?} is not a whole number above zero; set it to one (the default is {default}) or unset it")]
    BadLimit {
        /// The variable.
        env: &'static str,
        /// Its value.
        value: String,
        /// The limit when it is not set.
        default: u64,
    },
    /// The scenario file is not a regular file (a FIFO blocks, a device never ends).
    #[error(
        "{file}: is {kind}, not a regular file; give the path of a scenario file (it was not read)"
    )]
    NotAFile {
        /// The path given.
        file: String,
        /// What it is.
        kind: &'static str,
    },
    /// The scenario file is larger than the limit.
    #[error("{file}: larger than {limit} bytes, the limit of a scenario file (reading stopped there); split it into several files (`run` takes many), or raise {}", limits::FILE_BYTES.env)]
    TooLarge {
        /// The file.
        file: String,
        /// The limit in bytes.
        limit: u64,
    },
    /// YAML nested deeper than the limit (refused before the YAML parser reads it).
    #[error("{file}: line {line}: YAML nested more than {limit} levels deep (collections in collections), the limit of a scenario file; scenario files need fewer than ten, so flatten it (or raise {})", limits::YAML_DEPTH.env)]
    TooDeep {
        /// The file.
        file: String,
        /// Where the limit was passed.
        line: usize,
        /// The limit.
        limit: usize,
    },
    /// More YAML values than the limit once aliases are expanded (an alias bomb).
    #[error("{file}: more than {limit} YAML values once every alias (`*name`) is replaced by what it names, the limit of a scenario file; write fewer aliases, split the file, or raise {}", limits::YAML_VALUES.env)]
    TooManyValues {
        /// The file.
        file: String,
        /// The limit.
        limit: usize,
    },
    /// More cases than the limit in one run.
    #[error("{}: more than {limit} cases in one run, the limit of a run; run the files in several runs, or raise {}", .files.join(", "), limits::CASES.env)]
    TooManyCases {
        /// The files read.
        files: Vec<String>,
        /// The limit.
        limit: usize,
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

/// Reads one scenario file within the limits in force (see [`limits`]): what every loader
/// of scenario files (`run`, `receivers`, `rotation`) reads a file with.
pub(crate) fn read_scenario_file(path: &Path) -> Result<String, ScenarioError> {
    limits::read_scenario_file(path, &limits::Limits::from_env()?)
}

/// Run-wide settings of scrape cases (from `defaults:`, the first file's win; the keys of
/// the other kinds go to their plans).
#[derive(Debug, Clone, PartialEq)]
pub struct Defaults {
    /// Scrape interval of every job.
    pub scrape_interval: Duration,
    /// Scrape timeout of every job (≤ interval).
    pub scrape_timeout: Duration,
    /// Scrapes every target must have had before verdicts are taken.
    pub scrapes: u32,
    /// Key type of the generated PKI (`ecdsa-p256`, `ed25519`, `rsa2048`).
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

    /// Writes the case's `files:` into `dir` (created if missing), each as a new file: a
    /// name is one plain file name (checked when the file was read, and again here, so no
    /// file lands outside `dir`), and a file or symlink already at that name is an error,
    /// never followed or overwritten. `(path, error)` of the file that could not be written.
    pub(crate) fn write_files(&self, dir: &Path) -> Result<(), (PathBuf, std::io::Error)> {
        use std::io::Write;
        if self.files.is_empty() {
            return Ok(());
        }
        std::fs::create_dir_all(dir).map_err(|e| (dir.to_owned(), e))?;
        for (name, content) in &self.files {
            let path = dir.join(name);
            if !check::valid_file_name(name) {
                return Err((
                    path,
                    std::io::Error::new(
                        std::io::ErrorKind::InvalidInput,
                        "a name of `files:` must be one plain file name",
                    ),
                ));
            }
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
                .and_then(|mut f| f.write_all(content.as_bytes()))
                .map_err(|e| (path, e))?;
        }
        Ok(())
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

/// The kinds of case a plan holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CaseKind {
    /// Receiver cases (`kind: alertmanager`, ...).
    Receiver,
    /// Rotation cases (`rotate:`).
    Rotation,
}

impl Plan {
    /// Refuses a plan (of `file`) that holds cases of another kind than `kind`: what a
    /// command that runs one kind (`receivers`, `rotation`) says, pointing at `run`.
    pub(crate) fn refuse_other_kinds(
        &self,
        file: &str,
        kind: CaseKind,
    ) -> Result<(), ScenarioError> {
        let receivers = self.receivers.as_ref().map_or(0, |r| r.receivers.len());
        let rotations = self.rotation.as_ref().map_or(0, |r| r.cases.len());
        let (others, words, command) = match kind {
            CaseKind::Receiver => (self.cases.len() + rotations, "receiver", "receivers"),
            CaseKind::Rotation => (self.cases.len() + receivers, "rotation", "rotation"),
        };
        if others == 0 {
            return Ok(());
        }
        Err(ScenarioError::Setting {
            file: file.to_owned(),
            key: "cases".into(),
            message: format!(
                "{others} case(s) are not {words} cases; `scrape-harness {command}` runs \
                 {words} cases only (run a mixed file with `scrape-harness run`)"
            ),
        })
    }
}

#[cfg(test)]
mod kinds_tests;
#[cfg(test)]
mod tests;

//! The one typed `prometheus.yml`: written for every Prometheus the bench starts, read from a
//! user's or learner's own file ([`load`]) and from what Prometheus says it loaded
//! ([`parse_loaded`], `/api/v1/status/config`).
//!
//! The structs type what the bench drives and judges: `global`, `scrape_configs` (static
//! targets, authentication, TLS, proxies, OAuth2), `alerting`, `rule_files` and
//! `remote_write`. Every other key is kept as it was read (the `other` maps), so a user's file
//! survives a load, an edit and a write. Every optional field is skipped when `None`, so
//! [`render`] produces a file that reads like a hand-written `prometheus.yml` and only sets
//! what a scenario asked for. Durations are written in Prometheus' own syntax (`100ms`, `1s`,
//! `1m30s`) through [`PromDuration`].
//!
//! [`promtool_check`] validates a rendered file with `promtool check config` (a missing promtool
//! is an error that says how to install it). Some scenarios make Prometheus drop a job on purpose (for example `cert_file`
//! without `key_file`), which promtool rejects: callers must skip the gate for those.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

mod receivers;
mod rules;

pub use receivers::{
    AlertingConfig, AlertmanagerConfig, MetadataConfig, QueueConfig, RemoteWriteConfig,
};
pub use rules::{AlertingRule, RuleFile, RuleGroup};

/// The environment variable that names the `promtool` binary to use instead of searching `PATH`.
pub const PROMTOOL_ENV: &str = "PROMTOOL";

/// Errors from writing or validating a `prometheus.yml`.
#[derive(Debug, thiserror::Error)]
pub enum PromConfigError {
    /// The rendered configuration could not be written.
    #[error("{}: cannot write the generated prometheus.yml: {source}; check that the directory exists and is writable", .path.display())]
    Write {
        /// The file that was being written.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// `promtool` exists but could not be started.
    #[error("cannot run `{} check config {}`: {source}; set {PROMTOOL_ENV} to a working promtool binary", .promtool.display(), .config.display())]
    PromtoolSpawn {
        /// The promtool binary that was tried.
        promtool: PathBuf,
        /// The configuration file that was to be checked.
        config: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// No promtool was found: the generated configuration cannot be checked, and a run
    /// must not go on unchecked.
    #[error("`promtool` was not found on PATH, so the generated {} cannot be checked with `promtool check config`; install it with `apt-get install prometheus` (Debian: the package ships promtool; `bash scripts/setup` does this), or set {PROMTOOL_ENV}=/path/to/promtool", .config.display())]
    PromtoolMissing {
        /// The configuration file that was to be checked.
        config: PathBuf,
    },
    /// `promtool check config` rejected the file; `output` is what promtool printed.
    #[error("{}: `promtool check config` rejected the generated prometheus.yml (exit status {status}):\n{output}", .config.display())]
    PromtoolRejected {
        /// The configuration file that was checked.
        config: PathBuf,
        /// promtool's exit status, as printed by the OS.
        status: String,
        /// promtool's stdout followed by its stderr.
        output: String,
    },
    /// A `prometheus.yml` could not be read.
    #[error("{}: cannot read it: {source}", .path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// A `prometheus.yml` has a key of the wrong shape.
    #[error("{source_name}: key `{key}`: {reason}; fix that key (Prometheus' configuration reference lists its form)")]
    Parse {
        /// The file, or where the text came from.
        source_name: String,
        /// The key's path (`scrape_configs[2].tls_config.ca_file`).
        key: String,
        /// What serde said.
        reason: String,
    },
    /// A duration cannot be written in Prometheus syntax.
    #[error("duration {value:?} cannot be used in prometheus.yml: {reason}")]
    Duration {
        /// The offending value, as given.
        value: String,
        /// Why it was refused and how to fix it.
        reason: &'static str,
    },
}

/// Keys of a section that the typed fields do not cover (`relabel_configs`,
/// `file_sd_configs`, `external_labels`, ...): kept as they were read, written back as they
/// are, so a user's own `prometheus.yml` survives a load, an edit and a write.
pub type OtherKeys = BTreeMap<String, serde_norway::Value>;

/// A whole `prometheus.yml`: `global`, `rule_files`, `alerting`, `scrape_configs` and
/// `remote_write`, typed; any other top-level key kept in [`PrometheusConfig::other`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PrometheusConfig {
    /// The `global:` block; omitted when `None` (Prometheus defaults: 1m interval, 10s timeout).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub global: Option<GlobalConfig>,
    /// Where notifications go.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alerting: Option<AlertingConfig>,
    /// Rule files (alerting and recording rules).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rule_files: Vec<PathBuf>,
    /// One entry per `job_name`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scrape_configs: Vec<ScrapeConfig>,
    /// Where samples are written to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub remote_write: Vec<RemoteWriteConfig>,
    /// Top-level keys not typed here.
    #[serde(flatten, default, skip_serializing_if = "BTreeMap::is_empty")]
    pub other: OtherKeys,
}

impl PrometheusConfig {
    /// A config with these scrape jobs and nothing else.
    pub fn with_jobs(jobs: impl IntoIterator<Item = ScrapeConfig>) -> Self {
        Self {
            scrape_configs: jobs.into_iter().collect(),
            ..Self::default()
        }
    }

    /// The job named `name`.
    pub fn job(&self, name: &str) -> Option<&ScrapeConfig> {
        self.scrape_configs.iter().find(|j| j.job_name == name)
    }
}

/// The `global:` block.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct GlobalConfig {
    /// Default scrape interval of every job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scrape_interval: Option<PromDuration>,
    /// Default scrape timeout of every job; must not exceed the interval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scrape_timeout: Option<PromDuration>,
    /// Rule evaluation interval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evaluation_interval: Option<PromDuration>,
    /// Keys not typed here (`external_labels`, ...).
    #[serde(flatten, default, skip_serializing_if = "BTreeMap::is_empty")]
    pub other: OtherKeys,
}

/// One entry of `scrape_configs`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ScrapeConfig {
    /// The job name; it becomes the `job` label, the `scrapePool` in `/api/v1/targets` and the
    /// `dialer_name` of Prometheus' `net_conntrack_*` metrics.
    pub job_name: String,
    /// Overrides `global.scrape_interval`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scrape_interval: Option<PromDuration>,
    /// Overrides `global.scrape_timeout`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scrape_timeout: Option<PromDuration>,
    /// Path scraped on every target (Prometheus default `/metrics`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics_path: Option<String>,
    /// `http` or `https` (Prometheus default `http`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheme: Option<Scheme>,
    /// Whether labels exposed by the target win over Prometheus' own.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "fake_exporter::go_yaml::option_bool"
    )]
    pub honor_labels: Option<bool>,
    /// HTTP Basic authentication sent on every scrape.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basic_auth: Option<BasicAuth>,
    /// `Authorization` header (Bearer by default) sent on every scrape.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization: Option<Authorization>,
    /// TLS settings used when `scheme` is `https`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_config: Option<TlsConfig>,
    /// Whether Prometheus offers HTTP/2 through ALPN (Prometheus default: true).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "fake_exporter::go_yaml::option_bool"
    )]
    pub enable_http2: Option<bool>,
    /// Whether HTTP redirects are followed (Prometheus default: true).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "fake_exporter::go_yaml::option_bool"
    )]
    pub follow_redirects: Option<bool>,
    /// Protocol assumed when a target sends a missing or unknown Content-Type.
    /// Prometheus 3.x only: 2.x refuses to load a file that contains this key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback_scrape_protocol: Option<ScrapeProtocol>,
    /// Largest uncompressed body accepted, in Prometheus' byte-size syntax (`100B`, `10MB`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_size_limit: Option<String>,
    /// Most samples accepted per scrape; more fails the scrape.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample_limit: Option<u64>,
    /// OAuth2 `client_credentials` (accepted by 2.42; exclusive with `basic_auth` and
    /// `authorization`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oauth2: Option<OAuth2>,
    /// Forward proxy for the scrapes (`http://host:port`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_url: Option<String>,
    /// Headers sent to the proxy on CONNECT (needs `proxy_url`; accepted by 2.42).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub proxy_connect_header: BTreeMap<String, Vec<String>>,
    /// The targets of this job.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub static_configs: Vec<StaticConfig>,
    /// Keys not typed here (`relabel_configs`, `file_sd_configs`, `honor_timestamps`, ...).
    #[serde(flatten, default, skip_serializing_if = "BTreeMap::is_empty")]
    pub other: OtherKeys,
}

impl ScrapeConfig {
    /// A job named `job_name` scraping `targets` (`host:port` strings) with every other
    /// setting left to Prometheus' defaults.
    pub fn new<I, S>(job_name: impl Into<String>, targets: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            job_name: job_name.into(),
            static_configs: vec![StaticConfig {
                targets: targets.into_iter().map(Into::into).collect(),
                labels: BTreeMap::new(),
            }],
            ..Self::default()
        }
    }

    /// A job named after the exporter's first listener that scrapes every listener of it,
    /// over `https` when the exporter serves TLS. Add credentials and a CA with the setters.
    pub fn for_exporter(
        job_name: impl Into<String>,
        exporter: &fake_exporter::RunningExporter,
    ) -> Self {
        let mut job = Self::new(
            job_name,
            exporter.listeners().iter().map(|l| l.addr.to_string()),
        );
        job.scheme = Some(if exporter.is_tls() {
            Scheme::Https
        } else {
            Scheme::Http
        });
        job
    }

    /// `tls_config.ca_file`: the CA that verifies the target.
    pub fn ca_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.tls_config
            .get_or_insert_with(TlsConfig::default)
            .ca_file = Some(path.into());
        self
    }

    /// `tls_config.cert_file` and `key_file`: the client certificate presented.
    pub fn client_cert(mut self, cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Self {
        let tls = self.tls_config.get_or_insert_with(TlsConfig::default);
        tls.cert_file = Some(cert.into());
        tls.key_file = Some(key.into());
        self
    }

    /// `basic_auth` with an inline password.
    pub fn basic_auth(mut self, username: impl Into<String>, password: impl Into<String>) -> Self {
        self.basic_auth = Some(BasicAuth {
            username: username.into(),
            password: Some(password.into()),
            password_file: None,
        });
        self
    }

    /// `authorization` with inline Bearer credentials.
    pub fn bearer(mut self, token: impl Into<String>) -> Self {
        self.authorization = Some(Authorization {
            auth_type: None,
            credentials: Some(token.into()),
            credentials_file: None,
        });
        self
    }
}

/// `oauth2:` of a job: the `client_credentials` grant. Give `client_secret` or
/// `client_secret_file` (re-read per token request).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct OAuth2 {
    /// The client id.
    pub client_id: String,
    /// The secret, inline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    /// A file holding the secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret_file: Option<PathBuf>,
    /// Scopes asked for.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<String>,
    /// The token endpoint.
    pub token_url: String,
    /// Extra form fields of the token request.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub endpoint_params: BTreeMap<String, String>,
    /// TLS settings towards the token endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_config: Option<TlsConfig>,
}

/// `http` or `https`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scheme {
    /// Plain HTTP.
    Http,
    /// HTTP over TLS.
    Https,
}

/// `basic_auth:`; give either `password` or `password_file` (re-read on every scrape).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BasicAuth {
    /// The user name.
    pub username: String,
    /// The password, inline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// A file holding the password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_file: Option<PathBuf>,
}

/// `authorization:`; give either `credentials` or `credentials_file` (re-read on every scrape).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Authorization {
    /// The scheme written before the credentials (Prometheus default `Bearer`).
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub auth_type: Option<String>,
    /// The credentials, inline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<String>,
    /// A file holding the credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials_file: Option<PathBuf>,
}

/// `tls_config:`. Prometheus 2.42 accepts only the `*_file` forms.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TlsConfig {
    /// CA bundle used to verify the target; the system roots when `None`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
    /// Client certificate presented to the target (needs `key_file`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_file: Option<PathBuf>,
    /// Key of the client certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_file: Option<PathBuf>,
    /// Name sent in SNI and checked against the certificate instead of the target's host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_name: Option<String>,
    /// Skip every check of the target's certificate. Insecure; for negative tests only.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "fake_exporter::go_yaml::option_bool"
    )]
    pub insecure_skip_verify: Option<bool>,
    /// Lowest TLS version offered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_version: Option<TlsVersion>,
    /// Highest TLS version offered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_version: Option<TlsVersion>,
    /// Keys not typed here (inline `ca`/`cert`/`key` of Prometheus 2.43+, ...).
    #[serde(flatten, default, skip_serializing_if = "BTreeMap::is_empty")]
    pub other: OtherKeys,
}

/// A TLS version as Prometheus spells it (`TLS12`). Read also as the number Prometheus
/// 2.42 writes in `/api/v1/status/config` (`min_version: 771`, Go's `tls.VersionTLS12`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "TlsVersionText")]
pub enum TlsVersion {
    /// TLS 1.0.
    #[serde(rename = "TLS10")]
    Tls10,
    /// TLS 1.1.
    #[serde(rename = "TLS11")]
    Tls11,
    /// TLS 1.2.
    #[serde(rename = "TLS12")]
    Tls12,
    /// TLS 1.3.
    #[serde(rename = "TLS13")]
    Tls13,
}

/// How a TLS version is written: Prometheus' name, or Go's number.
#[derive(Deserialize)]
#[serde(untagged)]
enum TlsVersionText {
    Name(String),
    Number(u16),
}

impl TryFrom<TlsVersionText> for TlsVersion {
    type Error = String;

    fn try_from(value: TlsVersionText) -> Result<Self, Self::Error> {
        match value {
            TlsVersionText::Name(name) => match name.as_str() {
                "TLS10" => Ok(Self::Tls10),
                "TLS11" => Ok(Self::Tls11),
                "TLS12" => Ok(Self::Tls12),
                "TLS13" => Ok(Self::Tls13),
                other => Err(format!(
                    "unknown TLS version `{other}`; use TLS10, TLS11, TLS12 or TLS13"
                )),
            },
            TlsVersionText::Number(0x0301) => Ok(Self::Tls10),
            TlsVersionText::Number(0x0302) => Ok(Self::Tls11),
            TlsVersionText::Number(0x0303) => Ok(Self::Tls12),
            TlsVersionText::Number(0x0304) => Ok(Self::Tls13),
            TlsVersionText::Number(n) => Err(format!(
                "unknown TLS version number {n}; Go's are 769 (TLS 1.0) to 772 (TLS 1.3)"
            )),
        }
    }
}

/// A value of `fallback_scrape_protocol` (Prometheus 3.x).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ScrapeProtocol {
    /// The Prometheus protobuf format.
    PrometheusProto,
    /// OpenMetrics text 0.0.1.
    #[serde(rename = "OpenMetricsText0.0.1")]
    OpenMetricsText0_0_1,
    /// OpenMetrics text 1.0.0.
    #[serde(rename = "OpenMetricsText1.0.0")]
    OpenMetricsText1_0_0,
    /// Prometheus text format 0.0.4.
    #[serde(rename = "PrometheusText0.0.4")]
    PrometheusText0_0_4,
    /// Prometheus text format 1.0.0.
    #[serde(rename = "PrometheusText1.0.0")]
    PrometheusText1_0_0,
}

/// One entry of `static_configs`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StaticConfig {
    /// `host:port` strings; use `127.0.0.1` in this bench.
    pub targets: Vec<String>,
    /// Extra labels attached to every series of these targets.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

/// A duration written and read in Prometheus syntax (`100ms`, `15s`, `1m30s`, `2h`).
///
/// Prometheus durations have millisecond resolution; finer values are refused by
/// [`PromDuration::try_from`] rather than silently rounded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PromDuration(Duration);

/// Units from largest to smallest, with their length in milliseconds, as Prometheus prints them.
const UNITS: [(&str, u64); 7] = [
    ("y", 365 * 24 * 3_600_000),
    ("w", 7 * 24 * 3_600_000),
    ("d", 24 * 3_600_000),
    ("h", 3_600_000),
    ("m", 60_000),
    ("s", 1_000),
    ("ms", 1),
];

impl PromDuration {
    /// A duration of `ms` milliseconds.
    pub const fn from_millis(ms: u64) -> Self {
        Self(Duration::from_millis(ms))
    }

    /// A duration of `secs` seconds.
    pub const fn from_secs(secs: u64) -> Self {
        Self(Duration::from_secs(secs))
    }

    /// `d` cut to whole milliseconds (Prometheus' resolution), for durations the harness
    /// chose itself; [`PromDuration::try_from`] refuses finer ones instead.
    pub fn whole_millis(d: Duration) -> Self {
        Self::from_millis(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    /// The duration as a [`Duration`].
    pub const fn as_duration(self) -> Duration {
        self.0
    }
}

impl TryFrom<Duration> for PromDuration {
    type Error = PromConfigError;

    fn try_from(value: Duration) -> Result<Self, Self::Error> {
        if value.subsec_nanos() % 1_000_000 != 0 {
            return Err(PromConfigError::Duration {
                value: format!("{value:?}"),
                reason: "Prometheus durations have millisecond resolution; round it to whole milliseconds",
            });
        }
        Ok(Self(value))
    }
}

impl From<PromDuration> for Duration {
    fn from(value: PromDuration) -> Self {
        value.0
    }
}

impl fmt::Display for PromDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // u128 → u64: a duration longer than 584 million years is not a scrape setting;
        // saturate instead of wrapping.
        let mut ms = u64::try_from(self.0.as_millis()).unwrap_or(u64::MAX);
        if ms == 0 {
            return f.write_str("0s");
        }
        for (unit, len) in UNITS {
            let n = ms / len;
            if n > 0 {
                write!(f, "{n}{unit}")?;
                ms -= n * len;
            }
        }
        Ok(())
    }
}

impl FromStr for PromDuration {
    type Err = PromConfigError;

    /// Parses Prometheus syntax: one or more `<integer><unit>` groups, units in decreasing
    /// order, each at most once (`1h30m`, `250ms`, `0s`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = |reason| PromConfigError::Duration {
            value: s.to_owned(),
            reason,
        };
        if s.is_empty() {
            return Err(bad("empty duration; write e.g. `15s`"));
        }
        if s == "0" {
            return Ok(Self::default());
        }
        let mut total: u64 = 0;
        let mut rest = s;
        let mut last_unit = None;
        while !rest.is_empty() {
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 {
                return Err(bad("expected a number before each unit, as in `1m30s`"));
            }
            let n: u64 = rest[..digits]
                .parse()
                .map_err(|_| bad("number too large"))?;
            rest = &rest[digits..];
            // "ms" must be tried before "m".
            let Some((index, (unit, len))) = UNITS
                .iter()
                .enumerate()
                .filter(|(_, (unit, _))| rest.starts_with(unit))
                .max_by_key(|(_, (unit, _))| unit.len())
            else {
                return Err(bad("unknown unit; use one of y, w, d, h, m, s, ms"));
            };
            if last_unit.is_some_and(|last| index <= last) {
                return Err(bad(
                    "units must appear once each, largest first, as in `1h30m`",
                ));
            }
            last_unit = Some(index);
            rest = &rest[unit.len()..];
            total = n
                .checked_mul(*len)
                .and_then(|v| total.checked_add(v))
                .ok_or_else(|| bad("duration too large"))?;
        }
        Ok(Self::from_millis(total))
    }
}

impl Serialize for PromDuration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for PromDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// What a relabelling step does (`action:`); the ones the harness writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RelabelAction {
    /// Sets `target_label` to a hash of the joined source labels modulo `modulus`.
    Hashmod,
    /// Keeps the targets whose joined source labels match `regex`.
    Keep,
    /// Drops the targets whose joined source labels match `regex`.
    Drop,
}

/// One entry of a job's `relabel_configs`, as an operator writes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelabelConfig {
    /// Labels whose values are joined (with `;`) as the input.
    pub source_labels: Vec<String>,
    /// Modulus of `hashmod`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modulus: Option<u64>,
    /// Label written by `hashmod`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_label: Option<String>,
    /// Regular expression of `keep` and `drop` (anchored by Prometheus).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regex: Option<String>,
    /// The action.
    pub action: RelabelAction,
}

impl RelabelConfig {
    /// `hashmod` of `source_labels` modulo `modulus` into `target_label`.
    pub fn hashmod(source_labels: &[&str], modulus: u64, target_label: &str) -> Self {
        Self {
            source_labels: source_labels.iter().map(|&l| l.to_owned()).collect(),
            modulus: Some(modulus),
            target_label: Some(target_label.to_owned()),
            regex: None,
            action: RelabelAction::Hashmod,
        }
    }

    /// `keep` the targets whose `source_labels` match `regex`.
    pub fn keep(source_labels: &[&str], regex: impl Into<String>) -> Self {
        Self {
            source_labels: source_labels.iter().map(|&l| l.to_owned()).collect(),
            modulus: None,
            target_label: None,
            regex: Some(regex.into()),
            action: RelabelAction::Keep,
        }
    }
}

impl ScrapeConfig {
    /// Appends `step` to the job's `relabel_configs` (kept among [`ScrapeConfig::other`]
    /// so that a loaded job's own steps, with every default Prometheus fills in, survive
    /// as they were read).
    pub fn relabel(mut self, step: RelabelConfig) -> Self {
        // Invariant: a RelabelConfig is strings, numbers and a list of strings, which
        // serde_norway cannot fail to turn into a Value.
        let value = serde_norway::to_value(step).expect("a RelabelConfig is plain YAML");
        let entry = self
            .other
            .entry("relabel_configs".to_owned())
            .or_insert_with(|| serde_norway::Value::Sequence(Vec::new()));
        match entry {
            serde_norway::Value::Sequence(steps) => steps.push(value),
            other => *other = serde_norway::Value::Sequence(vec![value]),
        }
        self
    }
}

/// Renders `config` as YAML, ready to be written to `prometheus.yml`.
pub fn render(config: &PrometheusConfig) -> String {
    // Invariant: every type reachable from PrometheusConfig serialises to plain YAML (string map
    // keys, strings, numbers, booleans, sequences), which serde_norway cannot fail to emit.
    serde_norway::to_string(config).expect("PrometheusConfig always serialises to YAML")
}

/// Renders `config` and writes it to `path`.
pub fn write(config: &PrometheusConfig, path: &Path) -> Result<(), PromConfigError> {
    std::fs::write(path, render(config)).map_err(|source| PromConfigError::Write {
        path: path.to_owned(),
        source,
    })
}

/// Reads a `prometheus.yml` someone wrote (a user's, a learner's): the typed sections
/// parsed, every other key kept. A key of the wrong shape is named with its path.
pub fn load(path: &Path) -> Result<PrometheusConfig, PromConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| PromConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    parse(&text).map_err(|(key, reason)| PromConfigError::Parse {
        source_name: path.display().to_string(),
        key,
        reason,
    })
}

/// Parses the configuration Prometheus says it loaded (`GET /api/v1/status/config`, field
/// `yaml`): every default filled in, secrets shown as `<secret>`.
pub fn parse_loaded(yaml: &str) -> Result<PrometheusConfig, PromConfigError> {
    parse(yaml).map_err(|(key, reason)| PromConfigError::Parse {
        source_name: "the configuration Prometheus loaded (/api/v1/status/config)".into(),
        key,
        reason,
    })
}

/// `(key path, reason)` of the first key that does not fit.
fn parse(yaml: &str) -> Result<PrometheusConfig, (String, String)> {
    let de = serde_norway::Deserializer::from_str(yaml);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let key = e.path().to_string();
        (key, e.into_inner().to_string())
    })
}

/// What [`promtool_check`] did: it accepted the file (a missing promtool is an error,
/// [`PromConfigError::PromtoolMissing`], never a silent skip).
#[derive(Clone, Debug, PartialEq, Eq)]
#[must_use = "the check's output belongs in the report"]
pub enum PromtoolCheck {
    /// `promtool check config` accepted the file; its output is kept for reports.
    Passed {
        /// promtool's stdout followed by its stderr.
        output: String,
    },
}

/// Runs `promtool check config <path>`.
///
/// The binary is `$PROMTOOL` when set, else `promtool` found on `PATH`; when there is none
/// the check fails with [`PromConfigError::PromtoolMissing`], which says how to install it.
/// This blocks while promtool runs (tens of milliseconds); call it from `spawn_blocking` in
/// latency-sensitive async code. promtool also checks that referenced files (CA,
/// certificates, password files) exist.
pub fn promtool_check(path: &Path) -> Result<PromtoolCheck, PromConfigError> {
    let promtool = find_promtool().ok_or_else(|| PromConfigError::PromtoolMissing {
        config: path.to_owned(),
    })?;
    let out = Command::new(&promtool)
        .arg("check")
        .arg("config")
        .arg(path)
        .output()
        .map_err(|source| PromConfigError::PromtoolSpawn {
            promtool: promtool.clone(),
            config: path.to_owned(),
            source,
        })?;
    let mut output = String::from_utf8_lossy(&out.stdout).into_owned();
    output.push_str(&String::from_utf8_lossy(&out.stderr));
    if !out.status.success() {
        return Err(PromConfigError::PromtoolRejected {
            config: path.to_owned(),
            status: out.status.to_string(),
            output,
        });
    }
    Ok(PromtoolCheck::Passed { output })
}

/// `$PROMTOOL`, else the first executable `promtool` on `PATH`.
fn find_promtool() -> Option<PathBuf> {
    crate::supervise::find_program(PROMTOOL_ENV, &["promtool"])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_config(dir: &Path) -> PrometheusConfig {
        let ca = dir.join("ca.crt");
        PrometheusConfig {
            global: Some(GlobalConfig {
                scrape_interval: Some(PromDuration::from_secs(1)),
                scrape_timeout: Some(PromDuration::from_millis(800)),
                evaluation_interval: Some(PromDuration::from_secs(300)),
                ..GlobalConfig::default()
            }),
            scrape_configs: vec![
                ScrapeConfig::new("plain", ["127.0.0.1:9100"]),
                ScrapeConfig {
                    scheme: Some(Scheme::Https),
                    scrape_interval: Some(PromDuration::from_millis(100)),
                    scrape_timeout: Some(PromDuration::from_millis(100)),
                    basic_auth: Some(BasicAuth {
                        username: "prom".into(),
                        password: Some("s3cret".into()),
                        password_file: None,
                    }),
                    tls_config: Some(TlsConfig {
                        ca_file: Some(ca.clone()),
                        cert_file: Some(dir.join("client.crt")),
                        key_file: Some(dir.join("client.key")),
                        server_name: Some("localhost".into()),
                        min_version: Some(TlsVersion::Tls12),
                        max_version: Some(TlsVersion::Tls13),
                        ..TlsConfig::default()
                    }),
                    enable_http2: Some(false),
                    ..ScrapeConfig::new("mtls_basic", ["127.0.0.1:9101", "127.0.0.1:9102"])
                },
                ScrapeConfig {
                    scheme: Some(Scheme::Https),
                    authorization: Some(Authorization {
                        credentials_file: Some(dir.join("token")),
                        ..Authorization::default()
                    }),
                    tls_config: Some(TlsConfig {
                        ca_file: Some(ca),
                        ..TlsConfig::default()
                    }),
                    follow_redirects: Some(false),
                    metrics_path: Some("/custom".into()),
                    honor_labels: Some(true),
                    static_configs: vec![StaticConfig {
                        targets: vec!["127.0.0.1:9103".into()],
                        labels: BTreeMap::from([("case".into(), "bearer".into())]),
                    }],
                    ..ScrapeConfig::new("bearer", Vec::<String>::new())
                },
            ],
            ..PrometheusConfig::default()
        }
    }

    #[test]
    fn durations_render_in_prometheus_syntax() {
        for (ms, want) in [
            (0, "0s"),
            (100, "100ms"),
            (1_000, "1s"),
            (1_500, "1s500ms"),
            (90_000, "1m30s"),
            (300_000, "5m"),
            (3_600_000, "1h"),
            (86_400_000 * 8, "1w1d"),
        ] {
            assert_eq!(PromDuration::from_millis(ms).to_string(), want, "{ms} ms");
            assert_eq!(
                want.parse::<PromDuration>().expect("round trip"),
                PromDuration::from_millis(ms)
            );
        }
    }

    #[test]
    fn bad_durations_are_refused_with_a_reason() {
        for bad in ["", "5", "ms", "1x", "1s1m", "1s1s", "-1s"] {
            let err = bad.parse::<PromDuration>().expect_err(bad);
            assert!(err.to_string().contains(&format!("{bad:?}")), "{err}");
        }
        let err = PromDuration::try_from(Duration::from_micros(1500)).expect_err("sub-ms");
        assert!(err.to_string().contains("millisecond"), "{err}");
        assert_eq!(
            PromDuration::try_from(Duration::from_millis(250)).expect("whole ms"),
            PromDuration::from_millis(250)
        );
    }

    #[test]
    fn unset_options_are_not_written() {
        let yaml = render(&PrometheusConfig::with_jobs([ScrapeConfig::new(
            "plain",
            ["127.0.0.1:9100"],
        )]));
        assert_eq!(
            yaml,
            "scrape_configs:\n- job_name: plain\n  static_configs:\n  - targets:\n    - 127.0.0.1:9100\n"
        );
    }

    #[test]
    fn rendered_config_parses_back_to_the_same_value() {
        let dir = Path::new("/etc/bench");
        let config = sample_config(dir);
        let yaml = render(&config);
        let back: PrometheusConfig = serde_norway::from_str(&yaml).expect("parse back");
        assert_eq!(back, config);
        for needle in [
            "scrape_interval: 100ms",
            "scrape_timeout: 800ms",
            "evaluation_interval: 5m",
            "min_version: TLS12",
            "enable_http2: false",
            "credentials_file: /etc/bench/token",
            "case: bearer",
        ] {
            assert!(yaml.contains(needle), "missing {needle:?} in\n{yaml}");
        }
        assert!(!yaml.contains("null"), "None leaked into\n{yaml}");
        assert!(!yaml.contains("fallback_scrape_protocol"), "{yaml}");
    }

    #[test]
    fn the_config_prometheus_2_42_says_it_loaded_is_read_as_it_applies_it() {
        // Captured from Prometheus 2.42's /api/v1/status/config for status-config.input.yml,
        // whose `insecure_skip_verify: yes` / `: on` go-yaml reads as true.
        let yaml = include_str!("../../tests/fixtures/prom-2.42/status-config.yml");
        let loaded = parse_loaded(yaml).expect("parses");
        let tls_basic = loaded.job("tls-basic").expect("job");
        let tls = tls_basic.tls_config.as_ref().expect("tls_config");
        assert_eq!(tls.insecure_skip_verify, Some(true));
        assert_eq!(tls.min_version, Some(TlsVersion::Tls12), "771 is TLS 1.2");
        assert_eq!(tls.server_name.as_deref(), Some("localhost"));
        assert_eq!(tls_basic.scheme, Some(Scheme::Https));
        let basic = tls_basic.basic_auth.as_ref().expect("basic_auth");
        assert_eq!(
            basic.password_file.as_deref(),
            Some(Path::new("/tmp/cap/pw"))
        );
        assert!(tls_basic.other.contains_key("relabel_configs"));
        let bearer = loaded.job("bearer").expect("job");
        let auth = bearer.authorization.as_ref().expect("authorization");
        assert_eq!(auth.credentials.as_deref(), Some("<secret>"));
        assert_eq!(bearer.enable_http2, Some(false));
        let am = &loaded.alerting.as_ref().expect("alerting").alertmanagers[0];
        assert_eq!(
            am.tls_config.as_ref().and_then(|t| t.insecure_skip_verify),
            Some(true)
        );
        assert_eq!(loaded.remote_write[0].name.as_deref(), Some("rw"));
        let global = loaded.global.as_ref().expect("global");
        assert!(global.other.contains_key("external_labels"));
        // Written back and read again: nothing typed or untyped is lost.
        assert_eq!(parse_loaded(&render(&loaded)).expect("round trip"), loaded);
    }

    #[test]
    fn a_users_file_with_a_key_of_the_wrong_shape_is_named_with_its_path() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("prometheus.yml");
        std::fs::write(
            &path,
            "scrape_configs:\n- job_name: a\n  tls_config:\n    min_version: TLS9\n",
        )
        .expect("write");
        let err = load(&path).expect_err("TLS9 is no version").to_string();
        assert!(err.contains("prometheus.yml"), "{err}");
        assert!(
            err.contains("scrape_configs[0].tls_config.min_version"),
            "{err}"
        );
        assert!(err.contains("TLS9"), "{err}");
        let input = include_str!("../../tests/fixtures/prom-2.42/status-config.input.yml");
        std::fs::write(&path, input).expect("write");
        let own = load(&path).expect("a hand-written file loads");
        assert_eq!(
            own.job("tls-basic")
                .and_then(|j| j.tls_config.as_ref())
                .and_then(|t| t.insecure_skip_verify),
            Some(true),
            "`on` is go-yaml's true"
        );
    }

    #[test]
    fn fallback_scrape_protocol_uses_prometheus_spelling() {
        let job = ScrapeConfig {
            fallback_scrape_protocol: Some(ScrapeProtocol::PrometheusText0_0_4),
            ..ScrapeConfig::new("three", ["127.0.0.1:1"])
        };
        let yaml = serde_norway::to_string(&job).expect("serialise");
        assert!(
            yaml.contains("fallback_scrape_protocol: PrometheusText0.0.4"),
            "{yaml}"
        );
    }

    #[test]
    fn promtool_accepts_a_rendered_tls_and_basic_auth_config() {
        let dir = tempfile::tempdir().expect("tempdir");
        // promtool checks that every referenced file exists; the CA is a real certificate so the
        // fixture also works with promtool versions that load it.
        let ca_pem = include_str!("../../tests/fixtures/prom-2.42/ca.crt");
        std::fs::write(dir.path().join("ca.crt"), ca_pem).expect("write ca");
        for f in ["client.crt", "client.key", "token"] {
            std::fs::write(dir.path().join(f), "").expect("write file");
        }
        let path = dir.path().join("prometheus.yml");
        write(&sample_config(dir.path()), &path).expect("write config");

        match promtool_check(&path) {
            Ok(PromtoolCheck::Passed { output }) => assert!(output.contains("SUCCESS"), "{output}"),
            Err(err) => panic!("{err}"),
        }
    }

    #[test]
    fn a_missing_promtool_is_an_error_that_says_how_to_install_it() {
        // The look-up itself is supervise::find_program's (tested there); the run without
        // promtool is tests/it/promtool_gate.rs.
        let err = PromConfigError::PromtoolMissing {
            config: "/tmp/prometheus.yml".into(),
        }
        .to_string();
        assert!(
            err.contains("apt-get install prometheus") && err.contains("PROMTOOL="),
            "{err}"
        );
    }

    #[test]
    fn promtool_rejection_carries_its_output() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("prometheus.yml");
        let config = PrometheusConfig::with_jobs([ScrapeConfig {
            scheme: Some(Scheme::Https),
            tls_config: Some(TlsConfig {
                cert_file: Some(dir.path().join("client.crt")),
                ..TlsConfig::default()
            }),
            ..ScrapeConfig::new("cert_without_key", ["127.0.0.1:1"])
        }]);
        write(&config, &path).expect("write config");
        let err =
            promtool_check(&path).expect_err("promtool must reject cert_file without key_file");
        let text = err.to_string();
        assert!(text.contains("without client key file"), "{text}");
        assert!(text.contains("prometheus.yml"), "{text}");
    }
}

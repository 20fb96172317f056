//! Scenario files as written: serde structs that mirror the YAML, unknown keys refused.
//! Nothing outside [`super`] sees these; [`super::check`] turns each into a typed
//! [`super::Case`] once, so no string is matched again downstream.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use fake_exporter::{FaultSpec, Mutant};

use super::Level;
use crate::targets::Health;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFile {
    #[serde(default)]
    pub(super) defaults: Option<serde_norway::Value>,
    pub(super) cases: Vec<serde_norway::Value>,
}

/// One case as written.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCase {
    /// Unique name; becomes the job name.
    pub(super) name: String,
    /// Free text shown in reports.
    #[serde(default)]
    pub(super) description: String,
    /// Conformance level (`MUST`, `SHOULD`, `MAY`), for conformance catalogs.
    #[serde(default)]
    pub(super) level: Option<Level>,
    /// Why the expectation holds (conformance catalogs).
    #[serde(default)]
    pub(super) rationale: Option<String>,
    /// Where the expected behaviour is defined (conformance catalogs).
    #[serde(default)]
    pub(super) reference: Option<String>,
    /// Files the case can name (password_file, credentials_file, bearer token file): name →
    /// content.
    #[serde(default)]
    pub(super) files: BTreeMap<String, String>,
    /// The exporter.
    #[serde(default)]
    pub(super) exporter: RawExporter,
    /// The scrape job.
    #[serde(default)]
    pub(super) scrape: RawScrape,
    /// A fake forward proxy for the job's `proxy_url`.
    #[serde(default)]
    pub(super) proxy: Option<super::third_parties::RawForwardProxy>,
    /// What Prometheus should report.
    pub(super) expect: RawExpect,
}

/// The exporter side of a case (becomes a `web-config.yml` plus fake-exporter options).
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub(super) struct RawExporter {
    /// Which server certificate to serve (PKI name, e.g. `valid`, `expired`); none = plain
    /// HTTP.
    #[serde(default)]
    pub(super) server_cert: Option<String>,
    /// Serve the key in the format openssl writes (PKCS#1 / SEC1) instead of PKCS#8.
    #[serde(default)]
    pub(super) openssl_key: bool,
    /// Serve this PKI file as the certificate instead of `server_cert`'s (e.g. `client.crt`,
    /// to serve a certificate without the serverAuth usage); needs `key_file`.
    #[serde(default)]
    pub(super) cert_file: Option<String>,
    /// The key of `cert_file` (a PKI file name).
    #[serde(default)]
    pub(super) key_file: Option<String>,
    /// `cipher_suites` (Go names), as in web-config.yml.
    #[serde(default)]
    pub(super) cipher_suites: Vec<fake_exporter::CipherSuite>,
    /// Overwrite the web-config with invalid YAML once the exporter has started, as an
    /// operator's bad edit would: exporter-toolkit re-reads it per request / connection.
    #[serde(default)]
    pub(super) break_config_after_start: bool,
    /// `client_auth_type`, as in web-config.yml.
    #[serde(default)]
    pub(super) client_auth_type: Option<String>,
    /// `client_ca_file`: a PKI file name (`ca.crt`, `rogue-ca.crt`).
    #[serde(default)]
    pub(super) client_ca: Option<String>,
    /// `client_allowed_sans`.
    #[serde(default)]
    pub(super) client_allowed_sans: Option<Vec<String>>,
    /// `min_version` (TLS10..TLS13).
    #[serde(default)]
    pub(super) min_version: Option<fake_exporter::TlsVersion>,
    /// `max_version`.
    #[serde(default)]
    pub(super) max_version: Option<fake_exporter::TlsVersion>,
    /// `http_server_config.http2`.
    #[serde(default)]
    pub(super) http2: Option<bool>,
    /// fake-exporter's compatibility profile (`current`, `node_exporter-1.5`).
    #[serde(default)]
    pub(super) compat: Option<fake_exporter::Compat>,
    /// Basic auth users with PLAINTEXT passwords (the harness hashes them).
    #[serde(default)]
    pub(super) basic_auth_users: BTreeMap<String, String>,
    /// Bearer tokens (fake-exporter extension).
    #[serde(default)]
    pub(super) bearer_tokens: Vec<String>,
    /// Bearer token file: a name from the case's `files:`.
    #[serde(default)]
    pub(super) bearer_token_file: Option<String>,
    /// Bearer tokens that expired an hour ago.
    #[serde(default)]
    pub(super) expired_bearer_tokens: Vec<String>,
    /// Faults of the metrics endpoint.
    #[serde(default)]
    pub(super) faults: FaultSpec,
    /// Deliberate security weaknesses (conformance mutants; fake-exporter only).
    #[serde(default)]
    pub(super) mutants: Vec<Mutant>,
    /// Samples exposed.
    #[serde(default)]
    pub(super) series: Option<usize>,
    /// No exporter at all: the target's port is closed (connection refused).
    #[serde(default)]
    pub(super) absent: bool,
    /// A fake OAuth2 token endpoint whose tokens the exporter accepts.
    #[serde(default)]
    pub(super) oauth2: Option<super::third_parties::RawTokenEndpoint>,
    /// A reverse proxy in front of the exporter.
    #[serde(default)]
    pub(super) reverse_proxy: Option<super::third_parties::ReverseProxy>,
}

/// The Prometheus side of a case, in `prometheus.yml` vocabulary. File names refer to PKI
/// files (`ca.crt`, `client.key`, ...), to the case's `files:`, or, when absolute, to any
/// path (a path that does not exist makes Prometheus drop the job).
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub(super) struct RawScrape {
    /// `http` (default) or `https`.
    #[serde(default)]
    pub(super) scheme: Option<crate::promconfig::Scheme>,
    /// `127.0.0.1` (default) or `localhost`.
    #[serde(default)]
    pub(super) target_host: Option<String>,
    /// `basic_auth`.
    #[serde(default)]
    pub(super) basic_auth: Option<RawBasicAuth>,
    /// `authorization`.
    #[serde(default)]
    pub(super) authorization: Option<RawAuthorization>,
    /// `tls_config`.
    #[serde(default)]
    pub(super) tls_config: Option<RawTlsConfig>,
    /// `enable_http2`.
    #[serde(default)]
    pub(super) enable_http2: Option<bool>,
    /// `scrape_timeout` override.
    #[serde(default, with = "humantime_serde")]
    pub(super) scrape_timeout: Option<Duration>,
    /// `body_size_limit` (Prometheus syntax, e.g. `1MB`).
    #[serde(default)]
    pub(super) body_size_limit: Option<String>,
    /// `metrics_path`.
    #[serde(default)]
    pub(super) metrics_path: Option<String>,
    /// `sample_limit`.
    #[serde(default)]
    pub(super) sample_limit: Option<u64>,
    /// `oauth2` (`token_url` is the case's token endpoint).
    #[serde(default)]
    pub(super) oauth2: Option<super::third_parties::RawOAuth2>,
    /// `proxy_url`: refused (the harness sets it from `proxy:`).
    #[serde(default)]
    pub(super) proxy_url: Option<serde_norway::Value>,
    /// `proxy_connect_header`.
    #[serde(default)]
    pub(super) proxy_connect_header: BTreeMap<String, Vec<String>>,
    /// `no_proxy`: refused (Prometheus 2.43+).
    #[serde(default)]
    pub(super) no_proxy: Option<serde_norway::Value>,
    /// `proxy_from_environment`: refused (Prometheus 2.43+).
    #[serde(default)]
    pub(super) proxy_from_environment: Option<serde_norway::Value>,
}

/// `basic_auth` of a scrape job.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub(super) struct RawBasicAuth {
    /// `username`.
    pub(super) username: String,
    /// `password`.
    #[serde(default)]
    pub(super) password: Option<String>,
    /// `password_file`: a name from `files:`.
    #[serde(default)]
    pub(super) password_file: Option<String>,
}

/// `authorization` of a scrape job.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAuthorization {
    /// `type`, default `Bearer`.
    #[serde(default, rename = "type")]
    pub(super) kind: Option<String>,
    /// `credentials`.
    #[serde(default)]
    pub(super) credentials: Option<String>,
    /// `credentials_file`: a name from `files:`.
    #[serde(default)]
    pub(super) credentials_file: Option<String>,
}

/// `tls_config` of a scrape job.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTlsConfig {
    /// `ca_file`.
    #[serde(default)]
    pub(super) ca_file: Option<String>,
    /// `cert_file`.
    #[serde(default)]
    pub(super) cert_file: Option<String>,
    /// `key_file`.
    #[serde(default)]
    pub(super) key_file: Option<String>,
    /// `server_name`.
    #[serde(default)]
    pub(super) server_name: Option<String>,
    /// `insecure_skip_verify`.
    #[serde(default)]
    pub(super) insecure_skip_verify: Option<bool>,
    /// `min_version` (TLS10..TLS13).
    #[serde(default)]
    pub(super) min_version: Option<crate::promconfig::TlsVersion>,
    /// `max_version`.
    #[serde(default)]
    pub(super) max_version: Option<crate::promconfig::TlsVersion>,
}

/// `expect:` as written.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub(super) struct RawExpect {
    /// What the exporter does with the case's web-config at start: `refuses_config`, or
    /// (absent) it starts and the outcome below is Prometheus'.
    #[serde(default)]
    pub(super) exporter: Option<RawExporterStart>,
    /// With `exporter: refuses_config`: a substring of the exporter's error message.
    #[serde(default)]
    pub(super) message_contains: Option<String>,
    /// Target health (required unless `exporter: refuses_config`).
    #[serde(default)]
    pub(super) health: Option<RawHealth>,
    /// Error class (snake_case label), or a list of the classes a racy outcome may show;
    /// default `none` for up, required for down.
    #[serde(default)]
    pub(super) error: Option<OneOrMany>,
    /// A substring the raw `lastError` must contain.
    #[serde(default)]
    pub(super) last_error_contains: Option<String>,
    /// Connection behaviour.
    #[serde(default)]
    pub(super) keep_alive: Option<super::KeepAlive>,
    /// HTTP version every scrape must have used.
    #[serde(default)]
    pub(super) http_version: Option<super::HttpVersion>,
    /// What Prometheus 3.x (or later) reports instead, where it differs from 2.x.
    #[serde(default)]
    pub(super) prometheus_3: Option<RawOutcome>,
    /// Counters of the case's token endpoint.
    #[serde(default)]
    pub(super) token_endpoint: Option<super::third_parties::RawCounts>,
    /// Counters of the case's forward proxy.
    #[serde(default)]
    pub(super) proxy: Option<super::third_parties::RawCounts>,
}

/// `expect.exporter:` as written.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub(super) enum RawExporterStart {
    /// The exporter refuses the web-config at start (exits, or its start returns an error).
    RefusesConfig,
}

/// `expect.prometheus_3:` as written.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub(super) struct RawOutcome {
    /// Target health.
    pub(super) health: RawHealth,
    /// Error class or classes (required for `down`).
    #[serde(default)]
    pub(super) error: Option<OneOrMany>,
}

/// `health:` as a scenario may write it: `unknown` (not scraped yet) is no expectation.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub(super) enum RawHealth {
    Up,
    Down,
    Missing,
}

impl From<RawHealth> for Health {
    fn from(raw: RawHealth) -> Self {
        match raw {
            RawHealth::Up => Health::Up,
            RawHealth::Down => Health::Down,
            RawHealth::Missing => Health::Missing,
        }
    }
}

/// `error: unauthorized` or `error: [client_cert_rejected, connection_reset]`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(untagged)]
pub(super) enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    pub(super) fn as_slice(&self) -> &[String] {
        match self {
            Self::One(one) => std::slice::from_ref(one),
            Self::Many(many) => many,
        }
    }
}

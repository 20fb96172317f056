//! Scrape cases as written (the default kind of case): serde structs that mirror the YAML,
//! unknown keys refused. `scenario::check` turns each into a typed [`crate::scenario::Case`]
//! once, so no string is matched again downstream.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use fake_exporter::{FaultSpec, Mutant};

use super::third_parties::{RawCounts, RawForwardProxy, RawOAuth2, RawTokenEndpoint};
use super::OneOrMany;
use crate::scenario::{HttpVersion, KeepAlive, Level, ReverseProxy};
use crate::targets::Health;

/// One case as written.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCase {
    /// Unique name; becomes the job name.
    pub(crate) name: String,
    /// Free text shown in reports.
    #[serde(default)]
    pub(crate) description: String,
    /// Conformance level (`MUST`, `SHOULD`, `MAY`), for conformance catalogs.
    #[serde(default)]
    pub(crate) level: Option<Level>,
    /// Why the expectation holds (conformance catalogs).
    #[serde(default)]
    pub(crate) rationale: Option<String>,
    /// Where the expected behaviour is defined (conformance catalogs).
    #[serde(default)]
    pub(crate) reference: Option<String>,
    /// Files the case can name (password_file, credentials_file, bearer token file): name →
    /// content.
    #[serde(default)]
    pub(crate) files: BTreeMap<String, String>,
    /// The exporter.
    #[serde(default)]
    pub(crate) exporter: RawExporter,
    /// The scrape job.
    #[serde(default)]
    pub(crate) scrape: RawScrape,
    /// A fake forward proxy for the job's `proxy_url`.
    #[serde(default)]
    pub(crate) proxy: Option<RawForwardProxy>,
    /// What Prometheus should report.
    pub(crate) expect: RawExpect,
}

/// The exporter side of a case (becomes a `web-config.yml` plus fake-exporter options).
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawExporter {
    /// Which server certificate to serve (PKI name, e.g. `valid`, `expired`); none = plain
    /// HTTP.
    #[serde(default)]
    pub(crate) server_cert: Option<String>,
    /// Serve the key in the format openssl writes (PKCS#1 / SEC1) instead of PKCS#8.
    #[serde(default)]
    pub(crate) openssl_key: bool,
    /// Serve this PKI file as the certificate instead of `server_cert`'s (e.g. `client.crt`,
    /// to serve a certificate without the serverAuth usage); needs `key_file`.
    #[serde(default)]
    pub(crate) cert_file: Option<String>,
    /// The key of `cert_file` (a PKI file name).
    #[serde(default)]
    pub(crate) key_file: Option<String>,
    /// `cipher_suites` (Go names), as in web-config.yml.
    #[serde(default)]
    pub(crate) cipher_suites: Vec<fake_exporter::CipherSuite>,
    /// Overwrite the web-config with invalid YAML once the exporter has started, as an
    /// operator's bad edit would: exporter-toolkit re-reads it per request / connection.
    #[serde(default)]
    pub(crate) break_config_after_start: bool,
    /// `client_auth_type`, as in web-config.yml.
    #[serde(default)]
    pub(crate) client_auth_type: Option<String>,
    /// `client_ca_file`: a PKI file name (`ca.crt`, `rogue-ca.crt`).
    #[serde(default)]
    pub(crate) client_ca: Option<String>,
    /// `client_allowed_sans`.
    #[serde(default)]
    pub(crate) client_allowed_sans: Option<Vec<String>>,
    /// `min_version` (TLS10..TLS13).
    #[serde(default)]
    pub(crate) min_version: Option<fake_exporter::TlsVersion>,
    /// `max_version`.
    #[serde(default)]
    pub(crate) max_version: Option<fake_exporter::TlsVersion>,
    /// `http_server_config.http2`.
    #[serde(default)]
    pub(crate) http2: Option<bool>,
    /// fake-exporter's compatibility profile (`current`, `node_exporter-1.5`).
    #[serde(default)]
    pub(crate) compat: Option<fake_exporter::Compat>,
    /// Basic auth users with PLAINTEXT passwords (the harness hashes them).
    #[serde(default)]
    pub(crate) basic_auth_users: BTreeMap<String, String>,
    /// Bearer tokens (fake-exporter extension).
    #[serde(default)]
    pub(crate) bearer_tokens: Vec<String>,
    /// Bearer token file: a name from the case's `files:`.
    #[serde(default)]
    pub(crate) bearer_token_file: Option<String>,
    /// Bearer tokens that expired an hour ago.
    #[serde(default)]
    pub(crate) expired_bearer_tokens: Vec<String>,
    /// Faults of the metrics endpoint.
    #[serde(default)]
    pub(crate) faults: FaultSpec,
    /// Deliberate security weaknesses (conformance mutants; fake-exporter only).
    #[serde(default)]
    pub(crate) mutants: Vec<Mutant>,
    /// Samples exposed.
    #[serde(default)]
    pub(crate) series: Option<usize>,
    /// No exporter at all: the target's port is closed (connection refused).
    #[serde(default)]
    pub(crate) absent: bool,
    /// A fake OAuth2 token endpoint whose tokens the exporter accepts.
    #[serde(default)]
    pub(crate) oauth2: Option<RawTokenEndpoint>,
    /// A reverse proxy in front of the exporter.
    #[serde(default)]
    pub(crate) reverse_proxy: Option<ReverseProxy>,
}

/// The Prometheus side of a case, in `prometheus.yml` vocabulary. File names refer to PKI
/// files (`ca.crt`, `client.key`, ...), to the case's `files:`, or, when absolute, to any
/// path (a path that does not exist makes Prometheus drop the job).
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawScrape {
    /// `http` (default) or `https`.
    #[serde(default)]
    pub(crate) scheme: Option<crate::promconfig::Scheme>,
    /// `127.0.0.1` (default) or `localhost`.
    #[serde(default)]
    pub(crate) target_host: Option<String>,
    /// `basic_auth`.
    #[serde(default)]
    pub(crate) basic_auth: Option<RawBasicAuth>,
    /// `authorization`.
    #[serde(default)]
    pub(crate) authorization: Option<RawAuthorization>,
    /// `tls_config`.
    #[serde(default)]
    pub(crate) tls_config: Option<RawTlsConfig>,
    /// `enable_http2`.
    #[serde(default)]
    pub(crate) enable_http2: Option<bool>,
    /// `scrape_timeout` override.
    #[serde(default, with = "humantime_serde")]
    pub(crate) scrape_timeout: Option<Duration>,
    /// `body_size_limit` (Prometheus syntax, e.g. `1MB`).
    #[serde(default)]
    pub(crate) body_size_limit: Option<String>,
    /// `metrics_path`.
    #[serde(default)]
    pub(crate) metrics_path: Option<String>,
    /// `sample_limit`.
    #[serde(default)]
    pub(crate) sample_limit: Option<u64>,
    /// `oauth2` (`token_url` is the case's token endpoint).
    #[serde(default)]
    pub(crate) oauth2: Option<RawOAuth2>,
    /// `proxy_url`: refused (the harness sets it from `proxy:`).
    #[serde(default)]
    pub(crate) proxy_url: Option<serde_norway::Value>,
    /// `proxy_connect_header`.
    #[serde(default)]
    pub(crate) proxy_connect_header: BTreeMap<String, Vec<String>>,
    /// `no_proxy`: refused (Prometheus 2.43+).
    #[serde(default)]
    pub(crate) no_proxy: Option<serde_norway::Value>,
    /// `proxy_from_environment`: refused (Prometheus 2.43+).
    #[serde(default)]
    pub(crate) proxy_from_environment: Option<serde_norway::Value>,
}

impl RawScrape {
    /// The client keys `scrape:` shares with a receiver's `send:`.
    pub(crate) fn client(&self) -> ClientKeys<'_> {
        ClientKeys {
            scheme: self.scheme,
            basic_auth: self.basic_auth.as_ref(),
            authorization: self.authorization.as_ref(),
            tls_config: self.tls_config.as_ref(),
        }
    }
}

/// The client keys of `prometheus.yml` a scrape job (`scrape:`) and a receiver's sender
/// (`send:`) share, as written; one checker turns them into the typed client side.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ClientKeys<'a> {
    /// `scheme`.
    pub(crate) scheme: Option<crate::promconfig::Scheme>,
    /// `basic_auth`.
    pub(crate) basic_auth: Option<&'a RawBasicAuth>,
    /// `authorization`.
    pub(crate) authorization: Option<&'a RawAuthorization>,
    /// `tls_config`.
    pub(crate) tls_config: Option<&'a RawTlsConfig>,
}

/// `basic_auth` of a scrape job.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawBasicAuth {
    /// `username`.
    pub(crate) username: String,
    /// `password`.
    #[serde(default)]
    pub(crate) password: Option<String>,
    /// `password_file`: a name from `files:`.
    #[serde(default)]
    pub(crate) password_file: Option<String>,
}

/// `authorization` of a scrape job.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAuthorization {
    /// `type`, default `Bearer`.
    #[serde(default, rename = "type")]
    pub(crate) kind: Option<String>,
    /// `credentials`.
    #[serde(default)]
    pub(crate) credentials: Option<String>,
    /// `credentials_file`: a name from `files:`.
    #[serde(default)]
    pub(crate) credentials_file: Option<String>,
}

/// `tls_config` of a scrape job.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTlsConfig {
    /// `ca_file`.
    #[serde(default)]
    pub(crate) ca_file: Option<String>,
    /// `cert_file`.
    #[serde(default)]
    pub(crate) cert_file: Option<String>,
    /// `key_file`.
    #[serde(default)]
    pub(crate) key_file: Option<String>,
    /// `server_name`.
    #[serde(default)]
    pub(crate) server_name: Option<String>,
    /// `insecure_skip_verify`.
    #[serde(default)]
    pub(crate) insecure_skip_verify: Option<bool>,
    /// `min_version` (TLS10..TLS13).
    #[serde(default)]
    pub(crate) min_version: Option<crate::promconfig::TlsVersion>,
    /// `max_version`.
    #[serde(default)]
    pub(crate) max_version: Option<crate::promconfig::TlsVersion>,
}

/// `expect:` as written.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawExpect {
    /// What the exporter does with the case's web-config at start: `refuses_config`, or
    /// (absent) it starts and the outcome below is Prometheus'.
    #[serde(default)]
    pub(crate) exporter: Option<RawExporterStart>,
    /// With `exporter: refuses_config`: a substring of the exporter's error message.
    #[serde(default)]
    pub(crate) message_contains: Option<String>,
    /// Target health (required unless `exporter: refuses_config`).
    #[serde(default)]
    pub(crate) health: Option<RawHealth>,
    /// Error class (snake_case label), or a list of the classes a racy outcome may show;
    /// default `none` for up, required for down.
    #[serde(default)]
    pub(crate) error: Option<OneOrMany>,
    /// A substring the raw `lastError` must contain.
    #[serde(default)]
    pub(crate) last_error_contains: Option<String>,
    /// Connection behaviour.
    #[serde(default)]
    pub(crate) keep_alive: Option<KeepAlive>,
    /// HTTP version every scrape must have used.
    #[serde(default)]
    pub(crate) http_version: Option<HttpVersion>,
    /// What Prometheus 3.x (or later) reports instead, where it differs from 2.x.
    #[serde(default)]
    pub(crate) prometheus_3: Option<RawOutcome>,
    /// Counters of the case's token endpoint.
    #[serde(default)]
    pub(crate) token_endpoint: Option<RawCounts>,
    /// Counters of the case's forward proxy.
    #[serde(default)]
    pub(crate) proxy: Option<RawCounts>,
}

/// `expect.exporter:` as written.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub(crate) enum RawExporterStart {
    /// The exporter refuses the web-config at start (exits, or its start returns an error).
    RefusesConfig,
}

/// `expect.prometheus_3:` as written.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawOutcome {
    /// Target health.
    pub(crate) health: RawHealth,
    /// Error class or classes (required for `down`).
    #[serde(default)]
    pub(crate) error: Option<OneOrMany>,
}

/// `health:` as a scenario may write it: `unknown` (not scraped yet) is no expectation.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub(crate) enum RawHealth {
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

//! Writing a [`WebConfig`] back as the YAML exporter-toolkit reads.
//!
//! The parsed form keeps what the toolkit keeps (resolved paths, the TLS section only when it
//! is enabled, defaults filled in); this module maps it back onto the toolkit's keys. Keys at
//! their default are left out where leaving them out reads back the same value.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::SystemTime;

use serde::{Serialize, Serializer};

use super::go::{format_go_duration, format_rfc3339};
use super::{
    CipherSuite, Curve, Extensions, HttpServerConfig, PemSource, RateLimitConfig, TlsServerConfig,
    TlsVersion, WebConfig,
};

impl Serialize for WebConfig {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        Document::from(self).serialize(serializer)
    }
}

/// The file's top level.
#[derive(Serialize)]
struct Document<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    tls_server_config: Option<Tls<'a>>,
    #[serde(skip_serializing_if = "is_default_http")]
    http_server_config: &'a HttpServerConfig,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    basic_auth_users: &'a BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rate_limit: Option<RateLimit>,
    #[serde(skip_serializing_if = "is_default_extensions")]
    fake_exporter: &'a Extensions,
}

impl<'a> From<&'a WebConfig> for Document<'a> {
    fn from(config: &'a WebConfig) -> Self {
        Self {
            tls_server_config: config.tls_server_config.as_ref().map(Tls::from),
            http_server_config: &config.http_server_config,
            basic_auth_users: &config.basic_auth_users,
            rate_limit: config.rate_limit.map(RateLimit::from),
            fake_exporter: &config.fake_exporter,
        }
    }
}

/// `tls_server_config`, with each PEM source under its `*_file` or inline key.
#[derive(Serialize)]
struct Tls<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    cert_file: Option<&'a Path>,
    #[serde(skip_serializing_if = "Option::is_none")]
    key_file: Option<&'a Path>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cert: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    key: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_auth_type: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_ca_file: Option<&'a Path>,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_ca: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_allowed_sans: Option<&'a [String]>,
    min_version: TlsVersion,
    max_version: TlsVersion,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    cipher_suites: &'a [CipherSuite],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    curve_preferences: &'a [Curve],
    #[serde(skip_serializing_if = "is_true")]
    prefer_server_cipher_suites: bool,
}

impl<'a> From<&'a TlsServerConfig> for Tls<'a> {
    fn from(tls: &'a TlsServerConfig) -> Self {
        let file = |s: &'a Option<PemSource>| match s {
            Some(PemSource::File(path)) => Some(path.as_path()),
            _ => None,
        };
        let inline = |s: &'a Option<PemSource>| match s {
            Some(PemSource::Inline(pem)) => Some(pem.as_str()),
            _ => None,
        };
        Self {
            cert_file: file(&tls.cert),
            key_file: file(&tls.key),
            cert: inline(&tls.cert),
            key: inline(&tls.key),
            client_auth_type: tls.client_auth_type.name(),
            client_ca_file: file(&tls.client_ca),
            client_ca: inline(&tls.client_ca),
            client_allowed_sans: tls.client_allowed_sans.as_deref(),
            min_version: tls.min_version,
            max_version: tls.max_version,
            cipher_suites: &tls.cipher_suites,
            curve_preferences: &tls.curve_preferences,
            prefer_server_cipher_suites: tls.prefer_server_cipher_suites,
        }
    }
}

/// `rate_limit`, the interval in Go's duration syntax.
#[derive(Serialize)]
struct RateLimit {
    interval: String,
    burst: u32,
}

impl From<RateLimitConfig> for RateLimit {
    fn from(r: RateLimitConfig) -> Self {
        Self {
            interval: format_go_duration(r.interval),
            burst: r.burst,
        }
    }
}

fn is_default_http(http: &&HttpServerConfig) -> bool {
    **http == HttpServerConfig::default()
}

fn is_default_extensions(ext: &&Extensions) -> bool {
    **ext == Extensions::default()
}

fn is_true(v: &bool) -> bool {
    *v
}

/// `expires_at` of an expiring token, as RFC 3339 in UTC.
pub(super) fn rfc3339<S: Serializer>(at: &SystemTime, serializer: S) -> Result<S::Ok, S::Error> {
    let text = format_rfc3339(*at).map_err(serde::ser::Error::custom)?;
    serializer.serialize_str(&text)
}

/// The YAML text of a config.
pub(super) fn to_yaml(config: &WebConfig) -> String {
    // Every value above is a string, a number, a bool, a list or a map with string keys,
    // which YAML can always represent. Falling back to anything (an empty file) would serve
    // an exporter without its auth, so a failure is a loud bug instead.
    serde_norway::to_string(config).expect("a WebConfig is made of values YAML can represent")
}

//! `web-config.yml`, read exactly as prometheus/exporter-toolkit reads it.
//!
//! The toolkit decodes with go-yaml v2 `UnmarshalStrict`: unknown keys and duplicate keys are
//! errors, names of TLS versions, cipher suites and curves are checked while decoding, and
//! the response-header allow-list is checked right after. Everything else (missing cert or
//! key, `client_auth_type`, CA files, bcrypt hashes) is checked by `WebConfig::check_at_start`
//! and, for TLS, again on every connection when the TLS config is built.
//!
//! When the toolkit re-reads the file:
//! * per HTTP request: headers and `basic_auth_users` (a parse error gives HTTP 500);
//! * per TLS connection: `tls_server_config` and the files it names;
//! * once at start: `rate_limit`, `http_server_config.http2` and the bcrypt hash check.
//!
//! One key is ours: `fake_exporter:` (see [`Extensions`]). It is a fake-exporter extension,
//! not exporter-toolkit; a real exporter would reject a file that uses it.
//!
//! The other direction: a [`WebConfig`] (parsed, or made with [`WebConfig::builder`])
//! serializes to the YAML the toolkit reads ([`WebConfig::to_yaml`], [`WebConfig::write_to`]),
//! and parsing that YAML again gives the same value.

mod builder;
mod error;
mod go;
mod ser;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};

pub use builder::WebConfigBuilder;
pub use error::WebConfigError;
pub(crate) use go::go_bcrypt_cost;
pub use go::{
    yaml11_bool, yaml11_bool_opt, BcryptCostError, CipherSuite, ClientAuth, ClientAuthType, Curve,
    GoDurationError, InvalidClientAuthType, TlsVersion,
};

/// A parsed `web-config.yml`.
#[derive(Clone, Debug, PartialEq)]
pub struct WebConfig {
    /// The file this came from (used in every error message).
    pub path: PathBuf,
    /// The directory relative paths were resolved against.
    pub base_dir: PathBuf,
    /// The TLS section, `Some` only when the toolkit would serve TLS (`TLSConfig.IsEnabled`:
    /// at least one of cert, key, CA or `client_auth_type` is non-empty). A section with only
    /// e.g. `min_version` leaves the listener on plain HTTP, as in the toolkit.
    pub tls_server_config: Option<TlsServerConfig>,
    /// `http_server_config`.
    pub http_server_config: HttpServerConfig,
    /// `basic_auth_users`: user name to bcrypt hash. Empty means no Basic auth.
    pub basic_auth_users: BTreeMap<String, String>,
    /// `rate_limit`, `Some` only when the toolkit builds a limiter (interval > 0).
    pub rate_limit: Option<RateLimitConfig>,
    /// `fake_exporter:` — fake-exporter extension, not exporter-toolkit.
    pub fake_exporter: Extensions,
}

/// Where a PEM value comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PemSource {
    /// A `*_file` key, already resolved against the config file's directory.
    File(PathBuf),
    /// An inline PEM value (`cert`, `key`, `client_ca`).
    Inline(String),
}

impl PemSource {
    /// A file, read when the TLS config is built (every new connection).
    pub fn file(path: impl Into<PathBuf>) -> Self {
        Self::File(path.into())
    }

    /// PEM text served as it is (the `cert`, `key` and `client_ca` keys).
    pub fn inline(pem: impl Into<String>) -> Self {
        Self::Inline(pem.into())
    }
}

impl From<PathBuf> for PemSource {
    fn from(path: PathBuf) -> Self {
        Self::File(path)
    }
}

impl From<&Path> for PemSource {
    fn from(path: &Path) -> Self {
        Self::File(path.to_path_buf())
    }
}

/// `tls_server_config`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsServerConfig {
    /// The config file (for error messages).
    pub origin: PathBuf,
    /// `cert_file` (wins when both are set, as in the toolkit) or `cert`.
    pub cert: Option<PemSource>,
    /// `key_file` (wins) or `key`.
    pub key: Option<PemSource>,
    /// `client_ca_file` (wins) or `client_ca`.
    pub client_ca: Option<PemSource>,
    /// `client_auth_type`; an invalid name is reported when the TLS config is built (as the
    /// toolkit does), not while parsing.
    pub client_auth_type: ClientAuth,
    /// `client_allowed_sans`. `Some(vec![])` (an explicit empty list) rejects every client
    /// certificate, as in the toolkit.
    pub client_allowed_sans: Option<Vec<String>>,
    /// `min_version`, default TLS12.
    pub min_version: TlsVersion,
    /// `max_version`, default TLS13.
    pub max_version: TlsVersion,
    /// `cipher_suites` (TLS 1.2 only; TLS 1.3 names are accepted and ignored, as in Go).
    pub cipher_suites: Vec<CipherSuite>,
    /// `curve_preferences`.
    pub curve_preferences: Vec<Curve>,
    /// `prefer_server_cipher_suites`, default true. Go ≥ 1.18 ignores it (the server always
    /// uses its own order); so do we.
    pub prefer_server_cipher_suites: bool,
}

impl TlsServerConfig {
    /// An empty section (nothing set, toolkit defaults) for a config read from `origin`.
    pub fn new(origin: impl Into<PathBuf>) -> Self {
        Self {
            origin: origin.into(),
            cert: None,
            key: None,
            client_ca: None,
            client_auth_type: ClientAuth::Unset,
            client_allowed_sans: None,
            min_version: TlsVersion::Tls12,
            max_version: TlsVersion::Tls13,
            cipher_suites: Vec::new(),
            curve_preferences: Vec::new(),
            prefer_server_cipher_suites: true,
        }
    }

    /// The toolkit's `TLSConfig.IsEnabled`: a cert, key or CA (file or inline) or a
    /// `client_auth_type` is set. Only then does the listener serve TLS.
    pub fn is_enabled(&self) -> bool {
        self.cert.is_some()
            || self.key.is_some()
            || self.client_ca.is_some()
            || self.client_auth_type.is_set()
    }

    /// The key name that set the client CA (`client_ca_file` or `client_ca`).
    pub fn client_ca_key(&self) -> Option<&'static str> {
        match self.client_ca {
            Some(PemSource::File(_)) => Some("client_ca_file"),
            Some(PemSource::Inline(_)) => Some("client_ca"),
            None => None,
        }
    }
}

/// `http_server_config`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HttpServerConfig {
    /// `http2`, default true. Read once at start by the toolkit.
    pub http2: bool,
    /// `headers`, already checked against the toolkit's allow-list.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
}

impl Default for HttpServerConfig {
    fn default() -> Self {
        Self {
            http2: true,
            headers: BTreeMap::new(),
        }
    }
}

/// `rate_limit` when enabled: a token bucket refilled one token per `interval`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimitConfig {
    /// Time between two tokens (> 0).
    pub interval: Duration,
    /// Bucket size. 0 (or a negative value in the file) rejects every request with 429, as
    /// `golang.org/x/time/rate` does.
    pub burst: u32,
}

/// `fake_exporter:` — fake-exporter extension, not exporter-toolkit.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Extensions {
    /// `bearer_auth:` — fake-exporter extension, not exporter-toolkit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bearer_auth: Option<BearerAuthConfig>,
}

/// `fake_exporter.bearer_auth` — fake-exporter extension, not exporter-toolkit. A request
/// passes when its `Authorization: Bearer <t>` matches any configured token.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BearerAuthConfig {
    /// Static tokens.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tokens: Vec<String>,
    /// A file holding one token (surrounding whitespace trimmed), re-read on every request;
    /// resolved against the config file's directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_file: Option<PathBuf>,
    /// Tokens valid until a point in time.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expiring_tokens: Vec<ExpiringToken>,
}

impl BearerAuthConfig {
    /// Reads `token_file` now (call it per request). `Ok(None)` when no file is configured.
    pub fn read_token_file(&self, origin: &Path) -> Result<Option<String>, WebConfigError> {
        let Some(token_file) = &self.token_file else {
            return Ok(None);
        };
        let error = |reason: String| WebConfigError::TokenFile {
            path: origin.to_path_buf(),
            token_file: token_file.clone(),
            reason,
        };
        let text = std::fs::read_to_string(token_file)
            .map_err(|e| error(format!("cannot read it: {e}; create it or fix the path")))?;
        let token = text.trim();
        if token.is_empty() {
            return Err(error("it is empty; write one token into it".into()));
        }
        Ok(Some(token.to_string()))
    }
}

/// `fake_exporter.bearer_auth.expiring_tokens[]` — fake-exporter extension.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ExpiringToken {
    /// The token.
    pub token: String,
    /// RFC 3339 instant after which the token is refused.
    #[serde(deserialize_with = "rfc3339", serialize_with = "ser::rfc3339")]
    pub expires_at: SystemTime,
}

impl WebConfig {
    /// Parses a file; relative paths are resolved against its directory. Parse errors only
    /// (what the toolkit's `getConfig` reports); see [`WebConfig::check_at_start`].
    pub fn from_file(path: &Path) -> Result<WebConfig, WebConfigError> {
        let yaml = std::fs::read_to_string(path).map_err(|source| WebConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_yaml_str(&yaml, path)
    }

    /// Parses YAML that was read from `origin` (relative paths resolve against its directory).
    pub fn from_yaml_str(yaml: &str, origin: &Path) -> Result<WebConfig, WebConfigError> {
        let raw: Option<RawConfig> =
            serde_norway::from_str(yaml).map_err(|e| yaml_error(origin, &e))?;
        let raw = raw.unwrap_or_default();
        let base_dir = origin.parent().map(Path::to_path_buf).unwrap_or_default();
        validate_headers(origin, &raw.http_server_config.headers)?;
        let tls_server_config = raw
            .tls_server_config
            .and_then(|tls| tls.into_config(origin, &base_dir));
        let rate_limit = raw.rate_limit.and_then(|r| {
            let interval = r.interval.filter(|i| !i.is_zero())?;
            let burst = u32::try_from(r.burst.max(0)).unwrap_or(u32::MAX);
            Some(RateLimitConfig { interval, burst })
        });
        let mut fake_exporter = raw.fake_exporter.unwrap_or_default();
        if let Some(bearer) = &mut fake_exporter.bearer_auth {
            if let Some(file) = &mut bearer.token_file {
                *file = join_dir(&base_dir, file);
            }
        }
        Ok(WebConfig {
            path: origin.to_path_buf(),
            base_dir,
            tls_server_config,
            http_server_config: HttpServerConfig {
                http2: raw.http_server_config.http2,
                headers: raw.http_server_config.headers,
            },
            basic_auth_users: raw.basic_auth_users,
            rate_limit,
            fake_exporter,
        })
    }

    /// A config built in code; see [`WebConfigBuilder`].
    pub fn builder() -> WebConfigBuilder {
        WebConfigBuilder::default()
    }

    /// The YAML exporter-toolkit reads (plus the `fake_exporter:` extension when used).
    /// Paths are written as they are held; parsing the text again from [`WebConfig::path`]
    /// gives back this value.
    pub fn to_yaml(&self) -> String {
        ser::to_yaml(self)
    }

    /// Writes [`WebConfig::to_yaml`] to `path`. Relative paths in the config are written as
    /// they are, and a reader of the file resolves them against the file's directory.
    pub fn write_to(&self, path: impl AsRef<Path>) -> Result<(), WebConfigError> {
        let path = path.as_ref();
        std::fs::write(path, self.to_yaml()).map_err(|source| WebConfigError::Write {
            path: path.to_path_buf(),
            source,
        })
    }
}

/// `config_util.JoinDir`: empty and absolute paths stay as they are.
pub(crate) fn join_dir(base: &Path, path: &Path) -> PathBuf {
    if path.as_os_str().is_empty() || path.is_absolute() {
        return path.to_path_buf();
    }
    base.join(path)
}

const ALLOWED_HEADERS: [(&str, &[&str]); 5] = [
    ("Strict-Transport-Security", &[]),
    ("X-Content-Type-Options", &["nosniff"]),
    ("X-Frame-Options", &["deny", "sameorigin"]),
    ("X-XSS-Protection", &[]),
    ("Content-Security-Policy", &[]),
];

/// The toolkit's `validateHeaderConfig`: exact (case-sensitive) names, enumerated values.
pub(crate) fn validate_headers(
    origin: &Path,
    headers: &BTreeMap<String, String>,
) -> Result<(), WebConfigError> {
    for (header, value) in headers {
        let Some((_, allowed)) = ALLOWED_HEADERS.iter().find(|(name, _)| name == header) else {
            return Err(WebConfigError::HeaderNotAllowed {
                path: origin.to_path_buf(),
                header: header.clone(),
            });
        };
        if !allowed.is_empty() && !allowed.contains(&value.as_str()) {
            return Err(WebConfigError::HeaderValue {
                path: origin.to_path_buf(),
                header: header.clone(),
                value: value.clone(),
                allowed,
            });
        }
    }
    Ok(())
}

fn yaml_error(origin: &Path, error: &serde_norway::Error) -> WebConfigError {
    let message = error.to_string();
    // serde_norway appends " at line L column C"; the location is reported separately.
    let message = match message.rfind(" at line ") {
        Some(at) => message[..at].to_string(),
        None => message,
    };
    let hint = if message.contains("unknown field") {
        "; remove the key or fix its spelling (exporter-toolkit rejects unknown keys)"
    } else if message.contains("duplicate") || message.contains("already set") {
        "; keep only one of the entries"
    } else {
        ""
    };
    let (line, column) = error
        .location()
        .map(|l| (l.line(), l.column()))
        .unwrap_or((0, 0));
    WebConfigError::Yaml {
        path: origin.to_path_buf(),
        line,
        column,
        message,
        hint: hint.to_string(),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    tls_server_config: Option<RawTls>,
    #[serde(default)]
    http_server_config: RawHttp,
    #[serde(default, deserialize_with = "unique_string_map")]
    basic_auth_users: BTreeMap<String, String>,
    #[serde(default)]
    rate_limit: Option<RawRateLimit>,
    #[serde(default)]
    fake_exporter: Option<Extensions>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTls {
    #[serde(default)]
    cert: String,
    #[serde(default)]
    key: String,
    #[serde(default)]
    client_ca: String,
    #[serde(default)]
    cert_file: String,
    #[serde(default)]
    key_file: String,
    #[serde(default)]
    client_auth_type: String,
    #[serde(default)]
    client_ca_file: String,
    #[serde(default)]
    cipher_suites: Option<Vec<CipherSuite>>,
    #[serde(default)]
    curve_preferences: Option<Vec<Curve>>,
    #[serde(default)]
    min_version: Option<TlsVersion>,
    #[serde(default)]
    max_version: Option<TlsVersion>,
    #[serde(default = "default_true", deserialize_with = "go::yaml11_bool")]
    prefer_server_cipher_suites: bool,
    #[serde(default)]
    client_allowed_sans: Option<Vec<String>>,
}

impl RawTls {
    /// `SetDirectory` + `IsEnabled`: `None` when the toolkit would serve plain HTTP.
    fn into_config(self, origin: &Path, base_dir: &Path) -> Option<TlsServerConfig> {
        let source = |file: String, inline: String| {
            if !file.is_empty() {
                Some(PemSource::File(join_dir(base_dir, Path::new(&file))))
            } else if !inline.is_empty() {
                Some(PemSource::Inline(inline))
            } else {
                None
            }
        };
        let tls = TlsServerConfig {
            origin: origin.to_path_buf(),
            cert: source(self.cert_file, self.cert),
            key: source(self.key_file, self.key),
            client_ca: source(self.client_ca_file, self.client_ca),
            client_auth_type: ClientAuth::from_name(&self.client_auth_type),
            client_allowed_sans: self.client_allowed_sans,
            min_version: self.min_version.unwrap_or(TlsVersion::Tls12),
            max_version: self.max_version.unwrap_or(TlsVersion::Tls13),
            cipher_suites: self.cipher_suites.unwrap_or_default(),
            curve_preferences: self.curve_preferences.unwrap_or_default(),
            prefer_server_cipher_suites: self.prefer_server_cipher_suites,
        };
        tls.is_enabled().then_some(tls)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHttp {
    #[serde(default = "default_true", deserialize_with = "go::yaml11_bool")]
    http2: bool,
    #[serde(default, deserialize_with = "unique_string_map")]
    headers: BTreeMap<String, String>,
}

impl Default for RawHttp {
    fn default() -> Self {
        Self {
            http2: true,
            headers: BTreeMap::new(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRateLimit {
    #[serde(default, deserialize_with = "go::go_duration")]
    interval: Option<Duration>,
    #[serde(default)]
    burst: i64,
}

fn default_true() -> bool {
    true
}

fn rfc3339<'de, D: Deserializer<'de>>(deserializer: D) -> Result<SystemTime, D::Error> {
    let text = String::deserialize(deserializer)?;
    go::parse_rfc3339(&text).map_err(|e| {
        de::Error::custom(format!(
            "invalid RFC 3339 timestamp {text:?} ({e}); write it like 2030-01-31T23:59:59Z"
        ))
    })
}

/// A string map that rejects duplicate keys, as go-yaml v2 `UnmarshalStrict` does
/// ("key \"x\" already set in map"). `null` reads as an empty map.
fn unique_string_map<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<BTreeMap<String, String>, D::Error> {
    struct MapVisitor;
    impl<'de> Visitor<'de> for MapVisitor {
        type Value = BTreeMap<String, String>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a map of strings to strings")
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(BTreeMap::new())
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(BTreeMap::new())
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out = BTreeMap::new();
            while let Some((key, value)) = map.next_entry::<String, String>()? {
                if out.contains_key(&key) {
                    return Err(de::Error::custom(format!("key {key:?} already set in map")));
                }
                out.insert(key, value);
            }
            Ok(out)
        }
    }
    deserializer.deserialize_any(MapVisitor)
}

#[cfg(test)]
mod tests;

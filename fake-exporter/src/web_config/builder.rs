//! [`WebConfigBuilder`]: a [`WebConfig`] made in code, with the same checks as parsing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::{
    join_dir, validate_headers, BearerAuthConfig, CipherSuite, ClientAuthType, Curve,
    ExpiringToken, Extensions, HttpServerConfig, PemSource, RateLimitConfig, TlsServerConfig,
    TlsVersion, WebConfig, WebConfigError,
};

/// The `path` of a config built in code that was given no origin: relative paths in it
/// resolve against the working directory.
const IN_MEMORY: &str = "<web config built in code>";

/// Builds a [`WebConfig`] key by key. Every setter maps to one `web-config.yml` key;
/// [`WebConfigBuilder::build`] applies the parser's checks, so a built config serializes to
/// YAML that parses back to it.
///
/// ```
/// use fake_exporter::{ClientAuthType, PemSource, WebConfig};
///
/// let config = WebConfig::builder()
///     .cert(PemSource::file("/etc/exporter/server.crt"))
///     .key(PemSource::file("/etc/exporter/server.key"))
///     .client_ca(PemSource::file("/etc/exporter/ca.crt"))
///     .client_auth(ClientAuthType::RequireAndVerifyClientCert)
///     .build()?;
/// assert!(config.to_yaml().contains("client_auth_type: RequireAndVerifyClientCert"));
/// # Ok::<(), fake_exporter::WebConfigError>(())
/// ```
#[derive(Clone, Debug)]
#[must_use = "a WebConfigBuilder does nothing until `.build()`"]
pub struct WebConfigBuilder {
    path: PathBuf,
    tls: TlsServerConfig,
    http: HttpServerConfig,
    users: BTreeMap<String, String>,
    rate_limit: Option<RateLimitConfig>,
    bearer: Option<BearerAuthConfig>,
}

impl Default for WebConfigBuilder {
    fn default() -> Self {
        Self {
            path: PathBuf::from(IN_MEMORY),
            tls: TlsServerConfig::new(IN_MEMORY),
            http: HttpServerConfig::default(),
            users: BTreeMap::new(),
            rate_limit: None,
            bearer: None,
        }
    }
}

impl WebConfigBuilder {
    /// The file this config stands for: named in error messages, and the directory of
    /// relative paths. Default: none (relative paths resolve against the working directory).
    pub fn origin(mut self, path: impl Into<PathBuf>) -> Self {
        self.path = path.into();
        self.tls.origin = self.path.clone();
        self
    }

    /// `cert_file` or `cert`: the server certificate chain, leaf first.
    pub fn cert(mut self, cert: PemSource) -> Self {
        self.tls.cert = Some(cert);
        self
    }

    /// `key_file` or `key`: the server's private key.
    pub fn key(mut self, key: PemSource) -> Self {
        self.tls.key = Some(key);
        self
    }

    /// `client_ca_file` or `client_ca`: the CAs client certificates are verified against.
    pub fn client_ca(mut self, ca: PemSource) -> Self {
        self.tls.client_ca = Some(ca);
        self
    }

    /// `client_auth_type`.
    pub fn client_auth(mut self, policy: ClientAuthType) -> Self {
        self.tls.client_auth_type = policy.into();
        self
    }

    /// `client_allowed_sans`: exact matches over the client certificate's SANs. An empty
    /// list rejects every client certificate, as in the toolkit.
    pub fn client_allowed_sans<I, S>(mut self, sans: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.tls.client_allowed_sans = Some(sans.into_iter().map(Into::into).collect());
        self
    }

    /// `min_version` (default TLS12).
    pub fn min_version(mut self, version: TlsVersion) -> Self {
        self.tls.min_version = version;
        self
    }

    /// `max_version` (default TLS13).
    pub fn max_version(mut self, version: TlsVersion) -> Self {
        self.tls.max_version = version;
        self
    }

    /// `cipher_suites` (TLS 1.2 suites; see [`CipherSuite::GO_SECURE`]).
    pub fn cipher_suites(mut self, suites: impl IntoIterator<Item = CipherSuite>) -> Self {
        self.tls.cipher_suites = suites.into_iter().collect();
        self
    }

    /// `curve_preferences`.
    pub fn curve_preferences(mut self, curves: impl IntoIterator<Item = Curve>) -> Self {
        self.tls.curve_preferences = curves.into_iter().collect();
        self
    }

    /// `http_server_config.http2` (default true).
    pub fn http2(mut self, enabled: bool) -> Self {
        self.http.http2 = enabled;
        self
    }

    /// One of `http_server_config.headers` (checked against the toolkit's allow-list by
    /// [`WebConfigBuilder::build`]).
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.http.headers.insert(name.into(), value.into());
        self
    }

    /// One of `basic_auth_users`: a user and the bcrypt hash of its password (checked when
    /// the exporter starts, as the toolkit does).
    pub fn basic_auth_user(
        mut self,
        user: impl Into<String>,
        bcrypt_hash: impl Into<String>,
    ) -> Self {
        self.users.insert(user.into(), bcrypt_hash.into());
        self
    }

    /// `rate_limit`: one request per `interval`, bursts of `burst`. A zero interval turns
    /// the limiter off, as in the toolkit.
    pub fn rate_limit(mut self, interval: Duration, burst: u32) -> Self {
        self.rate_limit = (!interval.is_zero()).then_some(RateLimitConfig { interval, burst });
        self
    }

    /// `fake_exporter.bearer_auth.tokens[]` — fake-exporter extension, not exporter-toolkit.
    pub fn bearer_token(mut self, token: impl Into<String>) -> Self {
        self.bearer_mut().tokens.push(token.into());
        self
    }

    /// `fake_exporter.bearer_auth.token_file` — extension; re-read on every request.
    pub fn bearer_token_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.bearer_mut().token_file = Some(path.into());
        self
    }

    /// `fake_exporter.bearer_auth.expiring_tokens[]` — extension; refused from `expires_at` on.
    pub fn bearer_expiring_token(
        mut self,
        token: impl Into<String>,
        expires_at: SystemTime,
    ) -> Self {
        self.bearer_mut().expiring_tokens.push(ExpiringToken {
            token: token.into(),
            expires_at,
        });
        self
    }

    fn bearer_mut(&mut self) -> &mut BearerAuthConfig {
        self.bearer.get_or_insert_with(BearerAuthConfig::default)
    }

    /// The config, with the checks parsing makes (the header allow-list). The TLS section is
    /// kept only when it turns TLS on (a certificate, key, CA or `client_auth_type` is set),
    /// as the toolkit decides; the start-up checks (files, hashes) run when an exporter
    /// starts with it.
    ///
    /// Relative paths resolve against the directory of [`WebConfigBuilder::origin`], as in a
    /// file.
    pub fn build(mut self) -> Result<WebConfig, WebConfigError> {
        validate_headers(&self.path, &self.http.headers)?;
        let base_dir = self
            .path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        for source in [
            &mut self.tls.cert,
            &mut self.tls.key,
            &mut self.tls.client_ca,
        ] {
            if let Some(PemSource::File(path)) = source {
                *path = join_dir(&base_dir, path);
            }
        }
        if let Some(file) = self.bearer.as_mut().and_then(|b| b.token_file.as_mut()) {
            *file = join_dir(&base_dir, file);
        }
        Ok(WebConfig {
            tls_server_config: self.tls.is_enabled().then_some(self.tls),
            http_server_config: self.http,
            basic_auth_users: self.users,
            rate_limit: self.rate_limit,
            fake_exporter: Extensions {
                bearer_auth: self.bearer,
            },
            path: self.path,
            base_dir,
        })
    }
}

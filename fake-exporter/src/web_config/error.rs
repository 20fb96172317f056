//! Errors for `web-config.yml`: each names the file, the key path, the value and the fix.

use std::path::PathBuf;

/// Why a `web-config.yml` was rejected.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WebConfigError {
    /// The file could not be read.
    #[error("{}: cannot read the web config file: {source}; check the path", .path.display())]
    Read {
        /// The config file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The YAML is malformed, has an unknown or duplicate key, or a value of the wrong type.
    #[error("{}: line {line}, column {column}: {message}{hint}", .path.display())]
    Yaml {
        /// The config file.
        path: PathBuf,
        /// 1-based line (0 when unknown).
        line: usize,
        /// 1-based column (0 when unknown).
        column: usize,
        /// serde's message, which starts with the key path (e.g. `tls_server_config.min_version: ...`).
        message: String,
        /// A fix, when one is known (empty or starting with "; ").
        hint: String,
    },
    /// A header outside the toolkit's allow-list.
    #[error("{}: http_server_config.headers: HTTP header {header:?} can not be configured; allowed are Strict-Transport-Security, X-Content-Type-Options, X-Frame-Options, X-XSS-Protection, Content-Security-Policy", .path.display())]
    HeaderNotAllowed {
        /// The config file.
        path: PathBuf,
        /// The rejected header name.
        header: String,
    },
    /// An allowed header with a value outside its enumeration.
    #[error("{}: http_server_config.headers.{header}: invalid value {value:?}; expected one of {allowed:?}", .path.display())]
    HeaderValue {
        /// The config file.
        path: PathBuf,
        /// The header name.
        header: String,
        /// The rejected value.
        value: String,
        /// The accepted values.
        allowed: &'static [&'static str],
    },
    /// A `basic_auth_users` entry is not a bcrypt hash Go accepts.
    #[error("{}: basic_auth_users.{user}: not a valid bcrypt hash ({reason}); generate one with `htpasswd -nBC 10 \"\" | tr -d ':\\n'`", .path.display())]
    InvalidBcryptHash {
        /// The config file.
        path: PathBuf,
        /// The user whose hash is wrong.
        user: String,
        /// What Go's `bcrypt.Cost` said.
        #[source]
        reason: super::BcryptCostError,
    },
    /// HTTP/2 is on, `cipher_suites` is set and lacks the suite HTTP/2 requires (Go's
    /// `http2.ConfigureServer` refuses to start).
    #[error("{}: tls_server_config.cipher_suites is missing an HTTP/2-required AES_128_GCM_SHA256 cipher; add TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 or TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, or set http_server_config.http2: false", .path.display())]
    MissingHttp2Cipher {
        /// The config file.
        path: PathBuf,
    },
    /// The bearer token file of the extension could not be used.
    #[error("{}: fake_exporter.bearer_auth.token_file {}: {reason}", .path.display(), .token_file.display())]
    TokenFile {
        /// The config file.
        path: PathBuf,
        /// The token file.
        token_file: PathBuf,
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// The config file could not be written.
    #[error("{}: cannot write the web config file: {source}; check the directory exists and is writable", .path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
}

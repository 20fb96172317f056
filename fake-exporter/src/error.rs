//! The crate-wide error type: one variant per area, each wrapping that area's error enum,
//! so that any fallible call of the library can be `?`-ed into a [`Error`].

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use crate::tls::TlsError;
use crate::web_config::WebConfigError;

/// Any error the fake exporter library can return.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The web config is invalid (exporter-toolkit's start-up checks).
    #[error(transparent)]
    WebConfig(#[from] WebConfigError),
    /// The TLS part of the web config cannot produce a working server configuration.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// The web config file could not be read or parsed.
    #[error(transparent)]
    WebConfigReread(Arc<WebConfigError>),
    /// The exporter was given both a web config file and settings that need a config held
    /// in memory (`.tls(..)`, `.basic_auth(..)`, ...).
    #[error("{}: the exporter was given this web config file and also {setting}; a file is re-read on every request and cannot be combined with settings made in code; put everything into the file, or use `.web_config(..)`", .path.display())]
    FileAndTypedConfig {
        /// The web config file.
        path: PathBuf,
        /// The first typed setting, e.g. `.basic_auth(..)`.
        setting: &'static str,
    },
    /// Hashing a Basic-auth password failed.
    #[error("hashing the password of Basic-auth user `{user}` with bcrypt cost {cost}: {source}; use a cost between 4 and 31")]
    HashPassword {
        /// The user.
        user: String,
        /// The bcrypt cost asked for.
        cost: u32,
        /// The underlying error.
        source: bcrypt::BcryptError,
    },
    /// A listen address could not be bound.
    #[error("cannot listen on {addr}: {source}; pick another port or stop what uses it")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// A fleet definition is invalid or does not fit the machine's limits.
    #[error(transparent)]
    Fleet(#[from] crate::fleet::FleetError),
    /// A metrics shape is invalid.
    #[error(transparent)]
    Metrics(#[from] crate::metrics::MetricsError),
    /// A `--fault` specification does not parse.
    #[error(transparent)]
    Fault(#[from] crate::faults::FaultParseError),
    /// A mutant name is unknown.
    #[error(transparent)]
    Mutant(#[from] crate::faults::UnknownMutant),
    /// Generating or writing the test PKI failed.
    #[cfg(feature = "pki")]
    #[error(transparent)]
    Pki(#[from] crate::pki::PkiError),
}

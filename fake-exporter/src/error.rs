//! The crate-wide error type: one variant per area, each wrapping that area's error enum.

use std::net::SocketAddr;
use std::sync::Arc;

use crate::web_config::WebConfigError;

/// Any error the fake exporter library can return.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The web config is invalid (exporter-toolkit's start-up checks).
    #[error(transparent)]
    WebConfig(#[from] WebConfigError),
    /// The web config file could not be read or parsed.
    #[error(transparent)]
    WebConfigReread(Arc<WebConfigError>),
    /// A listen address could not be bound.
    #[error("cannot listen on {addr}: {source}; pick another port (`--web.listen-address`) or stop what uses it")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// A fleet definition is invalid or does not fit the machine's limits.
    #[error(transparent)]
    Fleet(#[from] crate::fleet::FleetError),
}

//! A Prometheus exporter that can be put into every scrape-security state a real exporter
//! can be in: plain HTTP, Basic auth (exporter-toolkit `web-config.yml` compatible), Bearer
//! tokens (an extension), TLS, mTLS, and deliberately broken set-ups (faults, mutants).
//!
//! A TLS + Basic exporter, listening when `start()` returns and stopped when dropped:
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use fake_exporter::{AuthOutcome, FakeExporter, KeyType, Pki, ServerCert};
//!
//! let pki = Pki::generate(KeyType::EcdsaP256)?;
//! let exporter = FakeExporter::builder()
//!     .tls(pki.server(ServerCert::Valid))
//!     .basic_auth("prom", "secret")
//!     .start()
//!     .await?;
//! assert!(exporter.url("/metrics").starts_with("https://127.0.0.1:"));
//! // The password was hashed with bcrypt for us; the exporter checks it like the toolkit.
//! assert_eq!(exporter.warm_basic_auth("prom", "secret").await, AuthOutcome::Ok);
//! assert_eq!(exporter.warm_basic_auth("prom", "guess").await, AuthOutcome::WrongPassword);
//! # use tokio::io::{AsyncReadExt, AsyncWriteExt};
//! // Plain HTTP to the TLS port gets Go's answer, as from any exporter-toolkit exporter.
//! let mut plain = tokio::net::TcpStream::connect(exporter.addr()).await?;
//! plain.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n").await?;
//! let mut answer = String::new();
//! plain.read_to_string(&mut answer).await?;
//! assert!(answer.ends_with("Client sent an HTTP request to an HTTPS server.\n"));
//! assert_eq!(exporter.shutdown().await.handshakes_failed_for("not_tls"), 1);
//! # Ok(()) }
//! ```
//!
//! The web config can also come from a `web-config.yml` ([`ExporterBuilder::web_config_file`],
//! re-read per request and connection like exporter-toolkit does) or from a typed
//! [`WebConfig`] ([`WebConfig::builder`], which also writes the YAML the toolkit reads).
//!
//! What is where: [`WebConfig`] and its parts read and write `web-config.yml`; the TLS side
//! builds a rustls config per connection like the toolkit ([`server_config`] gives it to
//! tools with their own accept loop); [`FakeExporter`] and [`Fleet`] run listeners;
//! [`MetricsSpec`] shapes the synthetic metrics, [`FaultSpec`] and [`Mutant`] the
//! misbehaviour; [`Stats`] counts; [`pki`] generates the test PKI.

mod accept;
mod auth;
mod compat;
mod config_source;
mod defence;
mod error;
mod faults;
mod file_cache;
mod fleet;
mod http;
mod metrics;
mod oauth2;
mod observe;
#[cfg(feature = "pki")]
pub mod pki;
mod proxy;
mod receiver;
mod server;
mod startup;
mod stats;
mod tls;
mod web_config;

pub use auth::{basic_header, hash_password, AuthOutcome};
pub use compat::{Compat, UnknownCompat};
pub use defence::{
    CONNECTION_FD_RESERVE, DEFAULT_HANDSHAKE_TIMEOUT, DEFAULT_HEAD_TIMEOUT,
    MAX_VERIFIED_BCRYPT_COST,
};
pub use error::Error;
pub use faults::{ContentTypeFault, FaultParseError, FaultSpec, Mutant, UnknownMutant};
pub use fleet::{
    FdBudget, Fleet, FleetBuilder, FleetError, FleetGroup, RunningFleet, RunningGroup,
};
pub use http::{
    accepts_gzip, control_app, fleet_control_app, gzip_body, observation_app, GroupListenerStats,
    GroupStats, ListenerStats,
};
pub use metrics::{Format, Metrics, MetricsError, MetricsSpec, SeriesChurn};
pub use oauth2::{
    RunningTokenEndpoint, TokenEndpoint, TokenEndpointBuilder, TokenStats, TokenStore, TOKEN_PATH,
};
pub use observe::{certificate_not_after, certificate_serial, credential_fingerprint, Observation};
#[cfg(feature = "pki")]
pub use pki::{ClientCert, Identity, KeyType, ParseNameError, Pki, PkiError, PkiFiles, ServerCert};
pub use proxy::{ForwardProxy, ForwardProxyBuilder, ProxyStats, RunningForwardProxy};
pub use receiver::{
    count_alerts, DecodeError, Label, Received, Receiver, Sample as WriteSample, TimeSeries,
    UnknownReceiver, WriteRequest,
};
pub use server::{
    ExporterBuilder, ExporterControl, FakeExporter, RunningExporter, DEFAULT_BCRYPT_COST,
};
pub use stats::{
    DefenceCounts, ListenerHandle, RequestCount, Stats, StatsSnapshot, TlsSessionCount,
    TlsSessionInfo,
};
pub use tls::{server_config, TlsError};
pub use web_config::{
    BcryptCostError, BearerAuthConfig, CipherSuite, ClientAuth, ClientAuthType, Curve,
    ExpiringToken, Extensions, GoDurationError, HttpServerConfig, InvalidClientAuthType, PemSource,
    RateLimitConfig, TlsServerConfig, TlsVersion, WebConfig, WebConfigBuilder, WebConfigError,
};
/// go-yaml v2 (YAML 1.1) booleans (`yes`, `on`, `y`...), as Go programs such as Prometheus
/// and exporter-toolkit read them: `#[serde(deserialize_with = "fake_exporter::go_yaml::bool")]`.
pub mod go_yaml {
    pub use crate::web_config::{yaml11_bool as bool, yaml11_bool_opt as option_bool};
}

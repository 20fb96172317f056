//! A Prometheus exporter that can be put into every scrape-security state a real exporter
//! can be in: plain HTTP, Basic auth (exporter-toolkit `web-config.yml` compatible), Bearer
//! tokens, TLS, mTLS, and deliberately broken setups. See the crate README for the flags.

pub mod auth;
pub mod config_source;
pub mod error;
pub mod faults;
pub mod fleet;
pub mod http;
pub mod server;

pub mod metrics;
#[cfg(feature = "pki")]
pub mod pki;
pub mod stats;
pub mod tls;
pub mod web_config;

pub use error::Error;
pub use server::{FakeExporter, RunningExporter};

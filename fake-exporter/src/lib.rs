//! A Prometheus exporter that can be put into every scrape-security state a real exporter
//! can be in: plain HTTP, Basic auth (exporter-toolkit `web-config.yml` compatible), Bearer
//! tokens, TLS, mTLS, and deliberately broken setups. See the crate README for the flags.

pub mod auth;
pub mod faults;

pub mod metrics;
#[cfg(feature = "pki")]
pub mod pki;
pub mod stats;
pub mod tls;
pub mod web_config;
// LEAD-WIP (not yet wired while helpers write web_config/tls/metrics):
// pub mod fleet; pub mod config_source; pub mod error; pub mod http; pub mod server;

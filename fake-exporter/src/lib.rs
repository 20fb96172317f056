//! A Prometheus exporter that can be put into every scrape-security state a real exporter
//! can be in: plain HTTP, Basic auth (exporter-toolkit `web-config.yml` compatible), Bearer
//! tokens (an extension), TLS, mTLS, and deliberately broken set-ups (faults, mutants).
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use fake_exporter::pki::{KeyType, Pki, ServerCert};
//! use fake_exporter::FakeExporter;
//!
//! let dir = std::env::temp_dir().join("pki-demo");
//! let files = Pki::generate(KeyType::EcdsaP256)?.write_to(&dir)?;
//! std::fs::write(
//!     dir.join("web-config.yml"),
//!     format!(
//!         "tls_server_config:\n  cert_file: {}\n  key_file: {}\n",
//!         files.server_cert(ServerCert::Valid).display(),
//!         files.server_key(ServerCert::Valid).display()
//!     ),
//! )?;
//! let exporter = FakeExporter::builder()
//!     .web_config_file(dir.join("web-config.yml")) // re-read per request and connection
//!     .start()
//!     .await?; // listening on 127.0.0.1 when this returns
//! println!("scrape {}", exporter.url("/metrics"));
//! let stats = exporter.shutdown().await; // or just drop it
//! println!("{} TLS handshakes", stats.handshakes_ok);
//! # Ok(()) }
//! ```
//!
//! Modules: [`web_config`] parses `web-config.yml` like exporter-toolkit, [`tls`] builds
//! the per-connection rustls config, [`auth`] checks Basic and Bearer credentials,
//! [`http`] is the request path (`app(state) -> Router`), [`server`] the listeners,
//! [`fleet`] thousands of them, [`metrics`] the synthetic metrics, [`faults`] the
//! misbehaviour, [`pki`] the test PKI, [`stats`] the self-statistics.

pub mod auth;
pub mod config_source;
pub mod error;
pub mod faults;
pub mod fleet;
pub mod http;
pub mod metrics;
#[cfg(feature = "pki")]
pub mod pki;
pub mod server;
pub mod stats;
pub mod tls;
pub mod web_config;

pub use error::Error;
pub use server::{FakeExporter, RunningExporter};

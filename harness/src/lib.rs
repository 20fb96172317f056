//! Runs a real Prometheus against exporters and reports what Prometheus itself says:
//! target health, the class of `lastError`, and whether keep-alive holds.
//!
//! A TLS + Basic fake exporter, scraped by a real Prometheus (a container when Docker
//! answers, else a local `prometheus` process), with the verdict asserted:
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # use std::time::Duration;
//! use fake_exporter::{FakeExporter, KeyType, Pki, ServerCert};
//! use scrape_harness::{Health, PrometheusFixture, ScrapeConfig};
//! let pki = Pki::generate(KeyType::EcdsaP256)?;
//! let dir = tempfile::tempdir()?; // Prometheus reads the CA from a file
//! let ca = pki.write_to(dir.path())?.ca();
//! let exporter = FakeExporter::builder().tls(pki.server(ServerCert::Valid)).basic_auth("prom", "pw").start().await?;
//! let job = ScrapeConfig::for_exporter("tls-basic", &exporter).ca_file(ca).basic_auth("prom", "pw");
//! let prometheus = PrometheusFixture::builder().job(job).start().await?;
//! let verdicts = prometheus.wait_scraped(2, Duration::from_secs(60)).await?;
//! assert_eq!(verdicts[0].health, Health::Up, "{verdicts:?}");
//! # Ok(()) }
//! ```
//!
//! Whole matrices come from scenario files ([`Plan`], run by [`run`]: one Prometheus,
//! one job per case, verdicts per case); `scrape-harness` is the command line over the
//! same library (`run`, `conformance`, `bench`, `certs`), in the binary target (feature
//! `cli`, on by default).
//!
//! The pieces: [`backend`] starts Prometheus (container or process), [`promconfig`] writes
//! `prometheus.yml`, [`targets`] reads the API, [`classify`] maps `lastError` to a stable
//! class, [`scenario`] and [`runner`] run whole matrices, [`report`] renders them, and
//! [`fixture`] gives other tests a Prometheus in a few lines.

pub mod backend;
pub mod bench;
pub mod classify;
pub mod conformance;
mod exporter_config;
pub mod fixture;
mod progress;
pub mod promconfig;
pub mod report;
pub mod runner;
pub mod scenario;
pub mod targets;

pub use fixture::PrometheusFixture;
pub use promconfig::ScrapeConfig;
pub use runner::run;
pub use scenario::Plan;
pub use targets::Health;

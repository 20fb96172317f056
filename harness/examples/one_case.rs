//! One case by hand: a fake exporter serving TLS with a generated PKI, a real Prometheus
//! scraping it through the fixture, and Prometheus' verdict printed, for a job that trusts
//! the right CA and one that trusts the rogue CA.
//!
//! ```sh
//! cargo run -p scrape-harness --example one_case
//! ```
//!
//! Needs Docker or a `prometheus` binary on PATH (`bash scripts/setup`); the fixture
//! picks a container when Docker answers, else a process.

use std::time::Duration;

use anyhow::Context;
use fake_exporter::pki::{KeyType, Pki, ServerCert};
use fake_exporter::FakeExporter;
use fake_exporter::WebConfig;
use scrape_harness::backend::BackendKind;
use scrape_harness::fixture::PrometheusFixture;
use scrape_harness::promconfig::{Scheme, ScrapeConfig, TlsConfig};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // The PKI, written to a temp dir that Prometheus (and a container) can read.
    let dir = tempfile::tempdir()?;
    let pki = Pki::generate(KeyType::EcdsaP256)?.write_to(&dir.path().join("pki"))?;

    // The exporter: TLS with the valid server certificate, as a web-config.yml says it.
    let web_config_path = dir.path().join("web-config.yml");
    let yaml = format!(
        "tls_server_config:\n  cert_file: {}\n  key_file: {}\n",
        pki.server_cert(ServerCert::Valid).display(),
        pki.server_key(ServerCert::Valid).display()
    );
    let web_config = WebConfig::from_yaml_str(&yaml, &web_config_path)?;
    let exporter = FakeExporter::builder()
        .web_config(web_config)
        .start()
        .await
        .context("starting the fake exporter")?;
    let target = exporter.addr().to_string();

    // Two jobs: one trusts the CA that signed the exporter, one trusts the rogue CA.
    let job = |name: &str, ca: std::path::PathBuf| {
        let mut job = ScrapeConfig::new(name, [target.clone()]);
        job.scheme = Some(Scheme::Https);
        job.tls_config = Some(TlsConfig {
            ca_file: Some(ca),
            ..TlsConfig::default()
        });
        job
    };
    let prometheus = PrometheusFixture::builder()
        .backend(BackendKind::Auto)
        .scrape_interval(Duration::from_millis(200))
        .job(job("tls-right-ca", pki.ca()))
        .job(job("tls-rogue-ca", pki.rogue_ca()))
        .start()
        .await?;
    println!("Prometheus: {}", prometheus.prometheus().description());

    let verdicts = prometheus.wait_scraped(3, Duration::from_secs(30)).await?;
    for v in &verdicts {
        println!(
            "{:<14} {:<5} {:<18} {} scrapes  lastError: {:?}",
            v.job,
            v.health,
            v.class.to_string(),
            v.scrapes,
            v.last_error
        );
    }
    let stats = exporter.stats();
    println!(
        "exporter: {} connection(s), {} TLS handshake(s) ok, failed: {:?}",
        stats.connections_accepted, stats.handshakes_ok, stats.handshakes_failed
    );
    prometheus.stop().await?;
    Ok(())
}

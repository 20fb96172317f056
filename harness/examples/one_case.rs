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
use fake_exporter::{FakeExporter, KeyType, Pki, ServerCert};
use scrape_harness::BackendKind;
use scrape_harness::{PrometheusFixture, ScrapeConfig};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // The PKI; its CA files are written to a temp dir that Prometheus (and a container)
    // can read.
    let pki = Pki::generate(KeyType::EcdsaP256)?;
    let dir = tempfile::tempdir()?;
    let files = pki.write_to(&dir.path().join("pki"))?;

    // The exporter: TLS with the valid server certificate and Basic auth.
    let exporter = FakeExporter::builder()
        .tls(pki.server(ServerCert::Valid))
        .basic_auth("prom", "s3cret")
        .start()
        .await
        .context("starting the fake exporter")?;

    // Two jobs: one trusts the CA that signed the exporter, one trusts the rogue CA.
    let job = |name: &str, ca| {
        ScrapeConfig::for_exporter(name, &exporter)
            .ca_file(ca)
            .basic_auth("prom", "s3cret")
    };
    let prometheus = PrometheusFixture::builder()
        .backend(BackendKind::Auto)
        .scrape_interval(Duration::from_millis(200))
        .job(job("tls-right-ca", files.ca()))
        .job(job("tls-rogue-ca", files.rogue_ca()))
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

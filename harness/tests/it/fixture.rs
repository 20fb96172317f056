//! The Prometheus fixture as another crate's test would use it: start with jobs, wait for
//! verdicts, reload, and the errors that explain themselves (dropped jobs, unmounted files).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;
use fake_exporter::pki::{KeyType, Pki, PkiFiles, ServerCert};
use fake_exporter::{FakeExporter, RunningExporter};
use scrape_harness::BackendKind;
use scrape_harness::ErrorClass;
use scrape_harness::Health;
use scrape_harness::{FixtureError, PrometheusFixture, TargetObservation};
use scrape_harness::{Scheme, ScrapeConfig, TlsConfig};

use crate::support::heavy;

async fn tls_exporter(dir: &std::path::Path) -> Result<(PkiFiles, RunningExporter)> {
    let pki = Pki::generate(KeyType::EcdsaP256)?;
    let files = pki.write_to(&dir.join("pki"))?;
    let exporter = FakeExporter::builder()
        .tls(pki.server(ServerCert::Valid))
        .start()
        .await?;
    Ok((files, exporter))
}

fn https_job(name: &str, target: &str, ca: PathBuf) -> ScrapeConfig {
    let mut job = ScrapeConfig::new(name, [target]);
    job.scheme = Some(Scheme::Https);
    job.tls_config = Some(TlsConfig {
        ca_file: Some(ca),
        ..TlsConfig::default()
    });
    job
}

fn verdict<'a>(verdicts: &'a [TargetObservation], job: &str) -> &'a TargetObservation {
    verdicts
        .iter()
        .find(|v| v.job == job)
        .unwrap_or_else(|| panic!("no verdict for {job}: {verdicts:#?}"))
}

#[test]
fn fixture_starts_waits_reloads_and_reports_verdicts_in_a_container() -> Result<()> {
    let _lock = heavy();
    tokio::runtime::Runtime::new()?.block_on(async {
        // Arrange
        let dir = tempfile::tempdir()?;
        let (pki, exporter) = tls_exporter(dir.path()).await?;
        let target = exporter.addr().to_string();
        let prom = PrometheusFixture::builder()
            .backend(BackendKind::Container)
            .scrape_interval(Duration::from_millis(200))
            .job(https_job("right-ca", &target, pki.ca()))
            .job(https_job(
                "missing-ca",
                &target,
                PathBuf::from("/nonexistent/scrape-harness/ca.crt"),
            ))
            .start()
            .await?;

        // Act
        let verdicts = prom.wait_scraped(3, Duration::from_secs(30)).await?;

        // Assert
        let up = verdict(&verdicts, "right-ca");
        assert_eq!(
            (up.health, up.class, up.last_error.as_str()),
            (Health::Up, ErrorClass::None, "")
        );
        assert!(up.scrapes >= 3, "{up:?}");
        let dropped = verdict(&verdicts, "missing-ca");
        assert_eq!(
            (dropped.health, dropped.class),
            (Health::Missing, ErrorClass::JobMissing)
        );
        assert!(
            dropped
                .last_error
                .contains("/nonexistent/scrape-harness/ca.crt"),
            "{dropped:?}"
        );

        // Act: reload with a job that trusts the rogue CA (same, mounted, directory).
        prom.reload_with(|cfg| {
            cfg.scrape_configs.retain(|j| j.job_name != "missing-ca");
            cfg.scrape_configs
                .push(https_job("rogue-ca", &target, pki.rogue_ca()));
        })
        .await?;
        let verdicts = prom.wait_scraped(2, Duration::from_secs(30)).await?;

        // Assert
        assert_eq!(verdicts.len(), 2, "{verdicts:#?}");
        let rogue = verdict(&verdicts, "rogue-ca");
        assert_eq!(
            (rogue.health, rogue.class),
            (Health::Down, ErrorClass::UnknownAuthority),
            "{rogue:?}"
        );
        assert!(rogue.last_error.contains("x509"), "{rogue:?}");
        assert!(
            rogue.mechanism.starts_with("certificate verification: ")
                && rogue.significant_error.starts_with("x509: "),
            "lastError parsed once by the fixture: {rogue:?}"
        );
        assert_eq!(rogue.scrape_url, format!("https://{target}/metrics"));
        assert_eq!(exporter.stats().handshakes_ok, 1, "keep-alive for right-ca");

        // Assert: the one poller's snapshot after the reload holds what Prometheus loaded
        // (not what the fixture wrote) and its own counters.
        let now = prom.observe_now(Duration::from_secs(30)).await?;
        let loaded = now
            .loaded_config
            .as_ref()
            .expect("the loaded config was read");
        let jobs: Vec<&str> = loaded
            .scrape_configs
            .iter()
            .map(|j| j.job_name.as_str())
            .collect();
        assert_eq!(jobs, ["right-ca", "rogue-ca"], "{loaded:#?}");
        let rogue_tls = loaded.job("rogue-ca").and_then(|j| j.tls_config.as_ref());
        assert_eq!(
            rogue_tls.and_then(|t| t.insecure_skip_verify),
            Some(false),
            "Prometheus writes every default"
        );
        assert_eq!(
            now.counters.conntrack_established.get("right-ca"),
            Some(&1.0)
        );
        assert!(
            now.counters.scrape_pools_failed >= 1.0,
            "{:?}",
            now.counters
        );

        // Act: a reload that needs a directory the container cannot see.
        let elsewhere = tempfile::tempdir()?;
        std::fs::copy(pki.ca(), elsewhere.path().join("ca.crt"))?;
        let err = prom
            .reload_with(|cfg| {
                cfg.scrape_configs.push(https_job(
                    "elsewhere",
                    &target,
                    elsewhere.path().join("ca.crt"),
                ));
            })
            .await
            .expect_err("an unmounted directory must be refused");

        // Assert
        assert!(matches!(err, FixtureError::NotMounted { .. }), "{err}");
        let message = err.to_string();
        assert!(message.contains("job `elsewhere`"), "{message}");
        assert!(message.contains(".mount(\""), "{message}");
        assert_eq!(prom.config().await.scrape_configs.len(), 2);
        prom.stop().await?;
        Ok(())
    })
}

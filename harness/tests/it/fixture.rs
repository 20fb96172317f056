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
use scrape_harness::{FixtureError, PrometheusFixture, Verdict};
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

fn verdict<'a>(verdicts: &'a [Verdict], job: &str) -> &'a Verdict {
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
        assert_eq!(exporter.stats().handshakes_ok, 1, "keep-alive for right-ca");

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

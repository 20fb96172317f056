//! Prometheus' own web config (issue 14, part 2): Prometheus started with
//! `--web.config.file` (TLS + Basic auth on its UI, API, `/metrics` and `/-/ready`), on both
//! backends. The fixture still becomes ready, reloads, reads targets and queries through
//! its client (CA + credentials); Prometheus scraping itself with the right credentials is
//! up and with a wrong password or plain HTTP is down with the expected class; and every
//! protected endpoint refuses no credentials, a wrong password and plain HTTP, and serves
//! the right request.

use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};
use fake_exporter::pki::{KeyType, Pki, ServerCert};
use fake_exporter::FakeExporter;
use scrape_harness::{
    prometheus::audit_own_web_config, prometheus::OwnProbe, prometheus::PrometheusTls,
    prometheus::PrometheusWebConfig, prometheus::PROTECTED_PATHS, BackendKind, CaseContext,
    ErrorClass, Health, PrometheusFixture, Scheme, ScrapeConfig,
};

use crate::support::heavy;

async fn protected_prometheus_keeps_working_with(backend: BackendKind) -> Result<()> {
    // Arrange
    let dir = tempfile::tempdir()?;
    let pki = Pki::generate(KeyType::EcdsaP256)?.write_to(dir.path())?;
    let web = PrometheusWebConfig::tls_basic(
        PrometheusTls {
            cert_file: pki.server_cert(ServerCert::Valid),
            key_file: pki.server_key(ServerCert::Valid),
            ca_file: pki.ca(),
        },
        "admin",
        "pr0m-s3cret",
    );
    let exporter = FakeExporter::start().await?;
    let began = Instant::now();

    // Act
    let prom = PrometheusFixture::builder()
        .backend(backend)
        .scrape_interval(Duration::from_millis(500))
        .web_config(web.clone())
        .job(ScrapeConfig::for_exporter("exporter", &exporter))
        .start()
        .await?;
    ensure!(
        prom.base_url().starts_with("https://127.0.0.1:"),
        "{}",
        prom.base_url()
    );
    let me = prom.address();
    // Prometheus scraping itself: the right way, a wrong password, plain HTTP. Added with a
    // reload, which goes through the protected API too.
    let right = ScrapeConfig {
        scheme: Some(Scheme::Https),
        ..ScrapeConfig::new("self", [me.clone()])
    }
    .ca_file(pki.ca())
    .basic_auth("admin", "pr0m-s3cret");
    let wrong = ScrapeConfig {
        job_name: "self-wrong-password".into(),
        ..right.clone()
    }
    .basic_auth("admin", "guess");
    let plain =
        ScrapeConfig::new("self-plain-http", [me.clone()]).basic_auth("admin", "pr0m-s3cret");
    prom.reload_with(|c| c.scrape_configs.extend([right, wrong, plain]))
        .await?;
    let verdicts = prom.wait_scraped(3, Duration::from_secs(60)).await?;
    let addr = me.parse()?;
    let checks = audit_own_web_config(&web, addr).await;
    let up = prom.api().query("up").await?;
    let elapsed = began.elapsed();

    // Assert
    let verdict = |job: &str| {
        verdicts
            .iter()
            .find(|v| v.job == job)
            .with_context(|| format!("no verdict for {job}: {verdicts:?}"))
    };
    let exporter_v = verdict("exporter")?;
    ensure!(exporter_v.health == Health::Up, "{exporter_v:?}");
    let self_v = verdict("self")?;
    ensure!(self_v.health == Health::Up, "{self_v:?}");
    let wrong_v = verdict("self-wrong-password")?;
    ensure!(
        wrong_v.health == Health::Down && wrong_v.class == ErrorClass::Unauthorized,
        "{wrong_v:?}"
    );
    let plain_v = verdict("self-plain-http")?;
    ensure!(
        plain_v.health == Health::Down
            && scrape_harness::classify(
                &plain_v.last_error,
                &CaseContext {
                    scheme_https: false,
                    target_tls: true,
                    ..CaseContext::default()
                }
            ) == ErrorClass::HttpToHttps,
        "{plain_v:?}"
    );
    ensure!(up.len() == 4, "`up` through the protected API: {up:?}");
    ensure!(
        checks.len() == PROTECTED_PATHS.len() * 4,
        "5 paths x 4 probes: {checks:?}"
    );
    let failed: Vec<_> = checks.iter().filter(|c| !c.passed()).collect();
    ensure!(
        failed.is_empty(),
        "endpoints not protected as expected: {failed:#?}"
    );
    ensure!(
        checks
            .iter()
            .filter(|c| c.probe == OwnProbe::NoCredentials)
            .all(|c| c.status == Some(401)),
        "{checks:?}"
    );
    eprintln!(
        "own web config ({}): {} checks passed in {:.1}s",
        prom.prometheus().description(),
        checks.len(),
        elapsed.as_secs_f64()
    );
    Ok(())
}

#[test]
fn prometheus_with_its_own_web_config_process() -> Result<()> {
    let _lock = heavy();
    tokio::runtime::Runtime::new()?.block_on(protected_prometheus_keeps_working_with(
        BackendKind::Process,
    ))
}

#[test]
fn prometheus_with_its_own_web_config_container() -> Result<()> {
    let _lock = heavy();
    tokio::runtime::Runtime::new()?.block_on(protected_prometheus_keeps_working_with(
        BackendKind::Container,
    ))
}

//! Rotation under keep-alive: `scenarios/rotation.yaml` (server and client certificates,
//! CA bundles, `password_file`, Bearer `credentials_file`, each with a negative twin) run
//! against one real Prometheus, with the per-scrape serials and credentials read from the
//! exporter's observation log and the failed scrapes from Prometheus' `up` series.

use std::time::Instant;

use anyhow::{ensure, Context, Result};
use scrape_harness::rotation::{self, RotationOptions, RotationOutcome, RotationReport};
use scrape_harness::{BackendKind, Health};

use crate::support::{heavy, repo_root};

fn case<'a>(report: &'a RotationReport, name: &str) -> Result<&'a RotationOutcome> {
    report
        .cases
        .iter()
        .find(|c| c.name == name)
        .with_context(|| format!("no case `{name}` in the report:\n{}", report.render()))
}

/// The `watched` labels of the scrapes after `step` (1-based), in order.
fn after(c: &RotationOutcome, step: usize) -> Vec<&'static str> {
    c.scrapes
        .iter()
        .filter(|s| s.after_step >= step)
        .map(|s| s.watched)
        .collect()
}

#[test]
fn rotation_scenarios_pass_against_the_real_prometheus() -> Result<()> {
    let _lock = heavy();
    // Arrange
    let plan = rotation::load(&repo_root().join("scenarios/rotation.yaml"))?;
    let options = RotationOptions {
        backend: BackendKind::Process,
        ..RotationOptions::default()
    };
    let runtime = tokio::runtime::Runtime::new()?;

    // Act
    let started = Instant::now();
    let report = runtime.block_on(rotation::run(&plan, &options))?;
    let took = started.elapsed();
    let table = report.render();
    println!("{table}(took {took:?})");

    // Assert: every case as the file expects, then the key facts spelled out.
    ensure!(report.passed(), "rotation cases failed:\n{table}");
    ensure!(report.cases.len() == plan.cases.len(), "{table}");

    // The renewed server certificate: seen on the first scrape after the reconnect, on a
    // new connection; without the reconnect the old connection keeps the old serial.
    let reconnect = case(&report, "server-cert-reissued-reconnect")?;
    let first_after = reconnect
        .scrapes
        .iter()
        .find(|s| s.after_step == 1)
        .context("a scrape after the step")?;
    ensure!(
        first_after.watched == "new" && !first_after.reused,
        "{table}"
    );
    let kept = case(&report, "server-cert-reissued-kept-alive")?;
    ensure!(
        after(kept, 1).iter().all(|&w| w == "old") && after(kept, 1).len() >= 3,
        "{table}"
    );
    ensure!(kept.stayed_on_old_connection == Some(true), "{table}");

    // #9512 as 2.42 behaves: with ca_file it reconnects by itself on a client certificate
    // change; without ca_file the open connection keeps the old client certificate.
    let with_ca = case(&report, "client-cert-reissued-with-ca-file")?;
    ensure!(with_ca.new_seen_at == Some(1), "{table}");
    ensure!(with_ca.stayed_on_old_connection == Some(false), "{table}");
    let without_ca = case(&report, "client-cert-reissued-without-ca-file")?;
    ensure!(without_ca.new_seen_at.is_none(), "{table}");
    ensure!(after(without_ca, 1).iter().all(|&w| w == "old"), "{table}");

    // Proper rotations: zero failed scrapes over a window Prometheus really scraped.
    for name in [
        "server-cert-reissued-reconnect",
        "server-cert-new-ca-with-overlap",
        "client-cert-new-ca-with-overlap",
        "password-file-rotated-on-both-sides",
        "bearer-token-rotated-with-overlap",
    ] {
        let c = case(&report, name)?;
        ensure!(
            c.failed_scrapes == 0 && c.window_scrapes >= 4 && c.health == Health::Up,
            "{name}: {table}"
        );
    }
    // The old credential / client certificate is refused afterwards.
    let pw = case(&report, "password-file-rotated-on-both-sides")?;
    ensure!(pw.old_probe.as_deref() == Some("HTTP 401"), "{table}");
    ensure!(pw.new_seen_at == Some(1), "{table}");
    let token = case(&report, "bearer-token-rotated-with-overlap")?;
    ensure!(token.old_probe.as_deref() == Some("HTTP 401"), "{table}");
    let client = case(&report, "client-cert-new-ca-with-overlap")?;
    ensure!(
        client
            .old_probe
            .as_deref()
            .is_some_and(|p| p.starts_with("refused")),
        "{table}"
    );

    // Negative twins: failed scrapes counted from `up`, with the expected class.
    for (name, class) in [
        ("server-cert-new-ca-without-overlap", "unknown_authority"),
        ("password-file-not-rotated", "unauthorized"),
        ("bearer-token-without-overlap", "unauthorized"),
    ] {
        let c = case(&report, name)?;
        ensure!(
            c.failed_scrapes >= 3 && c.health == Health::Down && c.class == class,
            "{name}: {table}"
        );
    }
    Ok(())
}

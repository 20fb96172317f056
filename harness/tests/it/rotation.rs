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
        .with_context(|| {
            let table = scrape_harness::report::rotation_table(&[], report, true);
            format!("no case `{name}` in the report:\n{table}")
        })
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
fn rotation_scenarios_pass_and_wrong_expectations_fail_against_the_real_prometheus() -> Result<()> {
    let _lock = heavy();
    // Arrange
    let mut plan = rotation::load(&repo_root().join("scenarios/rotation.yaml"))?;
    let shipped = plan.cases.len();
    // Cases with wrong expectations ride along in the same Prometheus: each must fail.
    let wrong =
        rotation::load(&repo_root().join("scenarios/tests/rotation-wrong-expectation.yaml"))?;
    let wrong_names: Vec<String> = wrong.cases.iter().map(|c| c.name.clone()).collect();
    plan.cases.extend(wrong.cases);
    let options = RotationOptions {
        prometheus: BackendKind::Process.into(),
    };
    let runtime = tokio::runtime::Runtime::new()?;

    // Act
    let started = Instant::now();
    let report = runtime.block_on(rotation::run(&plan, &options))?;
    let took = started.elapsed();
    let table = scrape_harness::report::rotation_table(&plan.cases, &report, true);
    println!("{table}(took {took:?})");

    // Assert: every case as the file expects, then the key facts spelled out.
    ensure!(report.cases.len() == plan.cases.len(), "{table}");
    let failed: Vec<&str> = report
        .cases
        .iter()
        .filter(|c| !c.passed)
        .map(|c| c.name.as_str())
        .collect();
    ensure!(
        failed == wrong_names,
        "exactly the {} wrong-expectation cases must fail (and the {shipped} shipped ones pass):\n{table}",
        wrong_names.len()
    );
    // The table shows expected beside observed per case, a legend, and ends with the summary.
    let summary = format!(
        "{} passed, {} failed",
        report.cases.len() - failed.len(),
        failed.len()
    );
    ensure!(table.lines().last() == Some(summary.as_str()), "{table}");
    let words = |text: &str| text.split_whitespace().collect::<Vec<_>>().join(" ");
    ensure!(
        words(&table).contains(&words(scrape_harness::report::ROTATION_LEGEND)),
        "no legend:\n{table}"
    );
    ensure!(
        table.contains(
            "up, new never, same conn yes, failed 0 → up, new never, same conn yes, failed 0/"
        ),
        "the kept-alive case's expected → observed:\n{table}"
    );
    // The JUnit report says the same: one test case per case, a failure per wrong one.
    let junit = report.junit("rotation.yaml");
    ensure!(
        junit.matches("<testcase ").count() == plan.cases.len()
            && junit.matches("<failure ").count() == wrong_names.len(),
        "{junit}"
    );
    let failures = |name: &str| -> Result<String> { Ok(case(&report, name)?.failures.join("\n")) };
    let kept = failures("wrong-kept-alive-expects-new-serial")?;
    ensure!(
        kept.contains("expected the exporter to see the new server_cert within 1 scrape(s) after step 1; saw it at none of them"),
        "{table}"
    );
    let token = failures("wrong-old-token-never-dropped")?;
    ensure!(
        token.contains("expected the old token to be refused after the rotation; a direct request with it got HTTP 200")
            && token.contains("to leave the connection open before it; they stayed"),
        "{table}"
    );
    let overlap = failures("wrong-no-overlap-expects-no-failures")?;
    ensure!(
        overlap
            .contains("expected 0 failed scrape(s) from the first step on; Prometheus' `up` shows")
            && overlap.contains("expected health up at the end; it is down"),
        "{table}"
    );

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
    // Prometheus' own dialer agrees: one connection for the whole kept-alive run, two
    // when the exporter forced a reconnect.
    ensure!(
        kept.prometheus_connections == Some(1) && kept.exporter_connections == 1,
        "{table}"
    );
    ensure!(
        reconnect.prometheus_connections == Some(2) && reconnect.exporter_connections == 2,
        "{table}"
    );

    // #9512 as 2.42 behaves: with ca_file it reconnects by itself on a client certificate
    // change; without ca_file the open connection keeps the old client certificate.
    let with_ca = case(&report, "client-cert-reissued-with-ca-file")?;
    ensure!(with_ca.new_seen_at == Some(1), "{table}");
    ensure!(with_ca.stayed_on_old_connection == Some(false), "{table}");
    let without_ca = case(&report, "client-cert-reissued-without-ca-file")?;
    ensure!(without_ca.new_seen_at.is_none(), "{table}");
    ensure!(without_ca.prometheus_connections == Some(1), "{table}");
    ensure!(with_ca.prometheus_connections == Some(2), "{table}");
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

/// Waits (polling, bounded) until the exporter has answered `n` scrapes in total.
async fn scrapes_reach(exporter: &fake_exporter::RunningExporter, n: usize) -> Result<()> {
    let deadline = Instant::now() + std::time::Duration::from_secs(90);
    while exporter.observations().len() < n {
        ensure!(
            Instant::now() < deadline,
            "the exporter answered {} scrapes, not {n}, within 90 s",
            exporter.observations().len()
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    Ok(())
}

/// Writes by rename, as the rotation runner does.
fn replace(path: &std::path::Path, text: &str) -> Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

#[test]
fn the_exporter_sees_the_exact_serial_and_password_of_each_scrape() -> Result<()> {
    use fake_exporter::pki::{Generation, KeyType, RotationPki};
    use fake_exporter::{certificate_serial, credential_fingerprint, FakeExporter};
    use scrape_harness::{BasicAuth, PrometheusFixture, ScrapeConfig, Until};

    let _lock = heavy();
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        // Arrange: an mTLS + Basic exporter (web-config re-read per request, files per
        // connection) and a job with ca_file, cert_file/key_file and password_file.
        let pki = RotationPki::generate(KeyType::EcdsaP256)?;
        let dir = tempfile::Builder::new().prefix("it-rotation-").tempdir()?;
        let d = dir.path();
        let server = pki.server(Generation::Old);
        std::fs::write(d.join("server.crt"), &server.cert_chain_pem)?;
        std::fs::write(d.join("server.key"), &server.key_pem)?;
        std::fs::write(d.join("ca.crt"), pki.old_ca_pem())?;
        let client = pki.client(Generation::Old);
        std::fs::write(d.join("client.crt"), &client.cert_chain_pem)?;
        std::fs::write(d.join("client.key"), &client.key_pem)?;
        std::fs::write(d.join("password"), "first\n")?;
        let hash = |pw: &str| bcrypt::hash(pw, 4);
        let web_config = |pw_hash: &str| {
            format!(
                "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  \
                 client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.crt\n\
                 basic_auth_users:\n  prom: '{pw_hash}'\n"
            )
        };
        std::fs::write(d.join("web-config.yml"), web_config(&hash("first")?))?;
        let exporter = FakeExporter::builder()
            .web_config_file(d.join("web-config.yml"))
            .observe(256)
            .start()
            .await?;
        let mut job = ScrapeConfig::for_exporter("serials", &exporter)
            .ca_file(d.join("ca.crt"))
            .client_cert(d.join("client.crt"), d.join("client.key"));
        job.basic_auth = Some(BasicAuth {
            username: "prom".into(),
            password: None,
            password_file: Some(d.join("password")),
        });
        let prometheus = PrometheusFixture::builder()
            .backend(BackendKind::Process)
            .scrape_interval(std::time::Duration::from_secs(1))
            .job(job)
            .start()
            .await?;
        prometheus
            .wait(Until::Up, std::time::Duration::from_secs(90))
            .await?;
        scrapes_reach(&exporter, 2).await?;

        // Act 1: a new password on both sides, between two scrapes.
        let n1 = exporter.observations().len();
        replace(&d.join("web-config.yml"), &web_config(&hash("second")?))?;
        replace(&d.join("password"), "second\n")?;
        scrapes_reach(&exporter, n1 + 3).await?;
        // Act 2: a renewed client certificate (key first, then certificate).
        let n2 = exporter.observations().len();
        let renewed = pki.client(Generation::Reissued);
        replace(&d.join("client.key"), &renewed.key_pem)?;
        replace(&d.join("client.crt"), &renewed.cert_chain_pem)?;
        scrapes_reach(&exporter, n2 + 3).await?;
        let failed = prometheus
            .api()
            .query(
                "count_over_time(up{job=\"serials\"}[1h]) - sum_over_time(up{job=\"serials\"}[1h])",
            )
            .await?;

        // Assert: exact serials and fingerprints, scrape by scrape.
        let seen = exporter.observations();
        let serial = |id: &fake_exporter::pki::Identity| certificate_serial(id.leaf());
        let (old_serial, new_serial) = (serial(client), serial(renewed));
        let server_serial = serial(server);
        let (first, second) = (
            credential_fingerprint("first"),
            credential_fingerprint("second"),
        );
        let dump = format!("{seen:#?}");
        // Every scrape presented the one server certificate, and a client certificate.
        ensure!(
            seen.iter().all(|o| o.server_cert_serial == server_serial),
            "{dump}"
        );
        // Before the password change: the first password, the old client certificate.
        for o in &seen[..n1] {
            ensure!(o.credential.as_deref() == Some(first.as_str()), "{dump}");
            ensure!(o.client_cert_serial == old_serial, "{dump}");
        }
        // Right after it (one scrape may have been in flight): the new password on the
        // same connection — password_file is re-read per scrape, no reconnect.
        let changed = seen[n1..]
            .iter()
            .position(|o| o.credential.as_deref() == Some(second.as_str()))
            .context("the new password never showed")?;
        ensure!(
            changed <= 1,
            "new password only at scrape {}: {dump}",
            changed + 1
        );
        ensure!(
            seen[n1 + changed].connection == seen[n1 - 1].connection
                && seen[n1 + changed].client_cert_serial == old_serial,
            "{dump}"
        );
        // After the certificate renewal: 2.42 (ca_file set) notices the new files, drops
        // the idle connection and presents the new serial on a new one.
        let renewed_at = seen[n2..]
            .iter()
            .position(|o| o.client_cert_serial == new_serial)
            .context("the renewed client certificate never showed")?;
        ensure!(
            renewed_at <= 1,
            "renewed serial only at scrape {}: {dump}",
            renewed_at + 1
        );
        let o = &seen[n2 + renewed_at];
        ensure!(
            o.request_on_connection == 0 && o.connection != seen[n2 - 1].connection,
            "{dump}"
        );
        ensure!(seen.iter().all(|o| o.status == 200), "{dump}");
        ensure!(
            failed.first().map(|s| s.value) == Some(0.0),
            "Prometheus counted failed scrapes: {failed:?}"
        );
        Ok(())
    })
}

#[test]
fn a_bad_rotation_file_is_refused_with_file_case_and_field() -> Result<()> {
    // Arrange: three mistakes in two cases.
    let dir = tempfile::Builder::new()
        .prefix("it-rotation-bad-")
        .tempdir()?;
    let file = dir.path().join("bad-rotation.yaml");
    std::fs::write(
        &file,
        "cases:\n\
         \x20 - name: tls-switch\n\
         \x20   exporter: { basic_auth_users: { prom: a } }\n\
         \x20   scrape: { basic_auth: { username: prom, password: a } }\n\
         \x20   rotate: [ { exporter: { server_cert: reissued } } ]\n\
         \x20   expect: { health: up }\n\
         \x20 - name: no-username-file\n\
         \x20   exporter: { basic_auth_users: { prom: a } }\n\
         \x20   scrape: { basic_auth: { username: prom, password: a } }\n\
         \x20   rotate: [ { scrape: { basic_auth: { username: other, password: b } } } ]\n\
         \x20   expect: { health: down, rotation: { failed_scrapes: { min: 1 } } }\n",
    )?;

    // Act
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_scrape-harness"))
        .arg("rotation")
        .arg(&file)
        .output()?;

    // Assert: exit 2 (the harness could not run), every mistake with file, case, field, fix.
    let stderr = String::from_utf8_lossy(&out.stderr);
    ensure!(out.status.code() == Some(2), "{:?}: {stderr}", out.status);
    let at = file.display();
    for expected in [
        format!("{at}: case `tls-switch`: rotate[0].exporter.server_cert: a step cannot switch TLS on or off"),
        format!("{at}: case `no-username-file`: rotate[0].scrape.basic_auth.username: Prometheus 2.42 has no `username_file`"),
        format!("{at}: case `no-username-file`: expect.error: required with `health: down`"),
    ] {
        ensure!(stderr.contains(&expected), "missing `{expected}` in:\n{stderr}");
    }
    Ok(())
}

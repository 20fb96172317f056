//! Receivers (issue 14, part 1): Prometheus delivering alerts and remote-write data to fake
//! receivers (fake-exporter in a receiver mode) and to the real Alertmanager, over every
//! auth/TLS mode, judged from Prometheus' own counters and log and the receivers' counts.
//! One Prometheus (process backend) runs the whole of `scenarios/receivers.yaml`.

use std::path::Path;
use std::time::Duration;

use anyhow::{ensure, Context, Result};
use scrape_harness::observe::PrometheusCounts;
use scrape_harness::{
    config::PromtoolCheck, prometheus::OwnProbe, run_receivers, BackendKind, ErrorClass,
    ReceiverOptions, ReceiverPlan,
};

use crate::support::{heavy, processes_mentioning, write_scenario, Harness};

#[test]
fn every_receiver_of_the_file_delivers_or_fails_as_expected() -> Result<()> {
    let _lock = heavy();
    tokio::runtime::Runtime::new()?.block_on(receivers_file())
}

async fn receivers_file() -> Result<()> {
    // Arrange
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/receivers.yaml");
    let plan = ReceiverPlan::load(&file)?;
    ensure!(
        plan.receivers.len() == 20,
        "receivers.yaml has {} receivers, not 20",
        plan.receivers.len()
    );
    let opts = ReceiverOptions {
        prometheus: BackendKind::Process.into(),
    };

    // Act
    let run = run_receivers(&plan, &opts).await?;
    eprintln!(
        "receivers: {} in {:.1}s",
        run.prometheus,
        run.elapsed.as_secs_f64()
    );

    // Assert
    ensure!(
        matches!(run.promtool, PromtoolCheck::Passed { .. }),
        "promtool did not check the generated prometheus.yml: {:?}",
        run.promtool
    );
    ensure!(run.failures().is_empty(), "{}", run.failures());
    let by_name = |name: &str| {
        run.results
            .iter()
            .find(|r| r.name == name)
            .with_context(|| format!("no result for {name}"))
    };
    // Delivered: the fake counted what Prometheus sent, Prometheus counted no error.
    for name in ["am-plain", "am-tls-basic", "am-bearer", "am-mtls"] {
        let o = &by_name(name)?.observed;
        ensure!(
            o.received.alerts >= 2 && o.received.requests >= 2,
            "{name}: {o:?}"
        );
        ensure!(o.statuses.keys().all(|s| *s == 200), "{name}: {o:?}");
        ensure!(
            matches!(o.prometheus, PrometheusCounts::Notifications { errors, sent } if errors == 0.0 && sent >= 2.0),
            "{name}: {o:?}"
        );
    }
    for name in ["rw-plain", "rw-tls-basic", "rw-bearer", "rw-mtls"] {
        let o = &by_name(name)?.observed;
        ensure!(
            o.received.series >= 1 && o.received.samples >= o.received.series,
            "{name}: {o:?}"
        );
        ensure!(o.statuses.keys().all(|s| *s == 204), "{name}: {o:?}");
        ensure!(
            matches!(o.prometheus, PrometheusCounts::RemoteWrite { failed, retried, samples } if failed == 0.0 && retried == 0.0 && samples >= 1.0),
            "{name}: {o:?}"
        );
    }
    // Refused with 401: the receiver accepted nothing, Prometheus counted errors.
    for name in ["am-tls-basic-wrong-password", "am-bearer-wrong-token"] {
        let o = &by_name(name)?.observed;
        ensure!(o.class == ErrorClass::Unauthorized, "{name}: {o:?}");
        ensure!(
            o.received.requests == 0 && o.statuses.get(&401).copied().unwrap_or(0) >= 2,
            "{name}: {o:?}"
        );
        ensure!(
            matches!(o.prometheus, PrometheusCounts::Notifications { errors, .. } if errors >= 2.0),
            "{name}: {o:?}"
        );
    }
    let rw401 = &by_name("rw-tls-basic-wrong-password")?.observed;
    ensure!(
        matches!(rw401.prometheus, PrometheusCounts::RemoteWrite { failed, retried, .. } if failed >= 1.0 && retried == 0.0),
        "a 401 is dropped, not retried: {rw401:?}"
    );
    let rw_ca = &by_name("rw-tls-unknown-ca")?.observed;
    ensure!(
        matches!(rw_ca.prometheus, PrometheusCounts::RemoteWrite { failed, retried, .. } if failed == 0.0 && retried >= 1.0),
        "a TLS failure is retried, not dropped: {rw_ca:?}"
    );
    ensure!(
        rw_ca.handshakes_failed.values().sum::<u64>() >= 1 && rw_ca.statuses.is_empty(),
        "{rw_ca:?}"
    );
    let plain = &by_name("am-http-to-https")?.observed;
    ensure!(
        plain.handshakes_failed.get("not_tls").copied().unwrap_or(0) >= 2,
        "plain HTTP to the TLS receiver is counted as a `not_tls` handshake failure: {plain:?}"
    );
    // The real Alertmanager agrees with the fake one.
    let real = &by_name("real-am-tls-basic")?.observed;
    ensure!(
        real.listed_alerts == Some(1),
        "Alertmanager lists the alert once: {real:?}"
    );
    let (real_refused, fake_refused) = (
        &by_name("real-am-tls-basic-wrong-password")?.observed,
        &by_name("am-tls-basic-wrong-password")?.observed,
    );
    ensure!(
        real_refused.class == fake_refused.class,
        "real {real_refused:?} vs fake {fake_refused:?}"
    );
    ensure!(
        real_refused.last_error == fake_refused.last_error,
        "Prometheus logs the same error for both: {:?} vs {:?}",
        real_refused.last_error,
        fake_refused.last_error
    );
    Ok(())
}

#[test]
fn a_bad_receivers_file_is_refused_with_file_receiver_and_field() {
    let err = ReceiverPlan::from_source(
        "bad.yaml",
        "receivers:\n  - name: x\n    kind: remote_write\n    send: { scrape_timeout: 1s }\n    expect: { delivered: true }\n",
    )
    .expect_err("scrape_timeout is not a remote_write key")
    .to_string();
    assert!(
        err.starts_with("bad.yaml: case `x`: send.scrape_timeout: unknown field `scrape_timeout`"),
        "{err}"
    );
}

#[test]
fn a_prometheus_with_its_own_web_config_delivers_and_protects_every_endpoint() -> Result<()> {
    let _lock = heavy();
    tokio::runtime::Runtime::new()?.block_on(async {
        // Arrange
        let file =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/prometheus-web-config.yaml");
        let plan = ReceiverPlan::load(&file)?;
        ensure!(
            plan.own_web_config.is_some(),
            "the file sets prometheus.web_config"
        );
        let opts = ReceiverOptions {
            prometheus: BackendKind::Process.into(),
        };

        // Act
        let run = run_receivers(&plan, &opts).await?;
        eprintln!(
            "protected Prometheus: {} in {:.1}s",
            run.prometheus,
            run.elapsed.as_secs_f64()
        );

        // Assert
        ensure!(run.failures().is_empty(), "{}", run.failures());
        ensure!(run.results.len() == 4, "{:?}", run.results);
        // 5 endpoints x (right credentials 200, none 401, wrong password 401, plain HTTP 400).
        ensure!(run.own_web_config.len() == 20, "{:?}", run.own_web_config);
        for (probe, status) in [
            (OwnProbe::RightCredentials, 200),
            (OwnProbe::NoCredentials, 401),
            (OwnProbe::WrongPassword, 401),
            (OwnProbe::PlainHttp, 400),
        ] {
            let n = run
                .own_web_config
                .iter()
                .filter(|c| c.probe == probe && c.status == Some(status))
                .count();
            ensure!(
                n == 5,
                "{probe:?}: {n} of 5 endpoints answered {status}: {:?}",
                run.own_web_config
            );
        }
        Ok(())
    })
}

/// A wrong expectation through the binary: exit 1, one complete failure report (expected
/// and observed, Prometheus' error, the real Alertmanager's log), the passing receiver
/// listed as ok, and nothing left behind.
#[test]
fn a_wrong_expectation_fails_the_cli_run_with_a_full_report() -> Result<()> {
    let _lock = heavy();
    // Arrange
    let harness = Harness::new()?;
    let file = write_scenario(
        harness.tmp(),
        "wrong.yaml",
        r#"
receivers:
  - name: real-am-wrong-expectation
    kind: real_alertmanager
    exporter: { server_cert: valid, basic_auth_users: { prom: s3cret } }
    send:
      scheme: https
      basic_auth: { username: prom, password: guess }
      tls_config: { ca_file: ca.crt }
    expect: { delivered: true }
  - name: rw-ok
    kind: remote_write
    expect: { delivered: true }
"#,
    )?;
    let json = harness.tmp().join("receivers.json");
    let junit = harness.tmp().join("receivers.xml");

    // Act
    let ran = harness.run(
        &[
            "receivers",
            &file,
            "--backend",
            "process",
            "--json",
            &json.to_string_lossy(),
            "--junit",
            &junit.to_string_lossy(),
        ],
        Duration::from_secs(180),
    )?;

    // Assert
    ensure!(ran.code() == Some(1), "exit 1 expected:\n{ran}");
    for needle in [
        "wrong.yaml: receiver `real-am-wrong-expectation` (real_alertmanager)",
        "expected delivered, observed not delivered",
        "class=unauthorized",
        "bad response status 401 Unauthorized",
        "alertmanager log:",
        "web-config.yml:",
    ] {
        ensure!(
            ran.stderr.contains(needle),
            "stderr lacks {needle:?}:\n{ran}"
        );
    }
    // One row per receiver, expected beside observed; the legend; the summary last.
    ensure!(
        ran.stdout
            .lines()
            .any(|l| l.starts_with("rw-ok (remote_write)")
                && l.contains(" ok ")
                && l.contains("delivered → delivered")),
        "{ran}"
    );
    ensure!(
        ran.stdout
            .lines()
            .any(|l| l.starts_with("real-am-wrong-expectation")
                && l.contains("FAIL")
                && l.contains("delivered → not delivered, error unauthorized")),
        "{ran}"
    );
    ensure!(
        ran.stdout
            .contains("expected → observed: whether Prometheus delivered"),
        "{ran}"
    );
    ensure!(
        ran.stdout.lines().last() == Some("1 passed, 1 failed"),
        "{ran}"
    );
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json)?)?;
    ensure!(
        report["receivers"][0]["passed"] == false && report["receivers"][1]["passed"] == true,
        "{report:#}"
    );
    let xml = std::fs::read_to_string(&junit)?;
    ensure!(
        xml.contains(r#"<testsuite name="receivers" tests="2" failures="1""#)
            && xml.contains(r#"name="real-am-wrong-expectation""#),
        "{xml}"
    );
    harness.assert_clean(ran.pid)?;
    // Their `--storage.path` is under the run's `TMPDIR`.
    let alertmanagers =
        processes_mentioning(harness.tmp(), |cmdline| cmdline.contains("alertmanager"))?;
    ensure!(
        alertmanagers.is_empty(),
        "Alertmanager processes left: {alertmanagers:?}"
    );
    Ok(())
}

#[test]
fn a_real_alertmanager_refusing_its_web_config_is_reported_with_its_log() -> Result<()> {
    tokio::runtime::Runtime::new()?.block_on(async {
        // Arrange: a certificate without its key, which exporter-toolkit refuses at start.
        let dir = tempfile::tempdir()?;
        let web_config = dir.path().join("web-config.yml");
        std::fs::write(&web_config, "tls_server_config:\n  cert_file: server.crt\n")?;

        // Act
        let started =
            scrape_harness::receive::RealAlertmanager::start(&web_config, Duration::from_secs(30))
                .await;

        // Assert
        let err = started
            .expect_err("Alertmanager must refuse the web config")
            .to_string();
        ensure!(err.contains("exited before listening"), "{err}");
        ensure!(
            err.contains("key_file"),
            "the log names the missing key: {err}"
        );
        Ok(())
    })
}

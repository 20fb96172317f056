//! One Prometheus for every kind of case: scrape, receiver and rotation cases of one plan
//! run together through `scrape_harness::run`, each judged by its own judge, and each
//! kind's negative twin (a deliberately wrong expectation) fails.

use anyhow::{ensure, Context, Result};
use scrape_harness::{rotation, BackendKind, Plan, ReceiverPlan, RunOptions};

use crate::support::heavy;

const SCRAPE: &str = r#"
defaults: { scrape_interval: 200ms, scrape_timeout: 200ms, scrapes: 5 }
cases:
  - name: mixed-basic-ok
    exporter: { basic_auth_users: { prom: s3cret } }
    scrape: { basic_auth: { username: prom, password: s3cret } }
    expect: { health: up }
  - name: mixed-wrong-password-expected-up
    exporter: { basic_auth_users: { prom: s3cret } }
    scrape: { basic_auth: { username: prom, password: wrong } }
    expect: { health: up }
"#;

const RECEIVERS: &str = r#"
defaults: { evaluation_interval: 200ms, deadline: 60s }
receivers:
  - name: mixed-am-tls
    kind: alertmanager
    exporter: { server_cert: valid }
    send: { scheme: https, tls_config: { ca_file: ca.crt } }
    expect: { delivered: true }
  - name: mixed-rw-wrong-token-expected-delivered
    kind: remote_write
    exporter: { bearer_tokens: [t0ken] }
    send: { authorization: { credentials: stolen } }
    expect: { delivered: true }
"#;

const ROTATION: &str = r#"
defaults: { scrape_interval: 1s, warm_up_scrapes: 1, scrapes_after: 3 }
cases:
  - name: mixed-server-cert-reissued-reconnect
    exporter: { server_cert: old }
    scrape: { ca: old }
    rotate:
      - { exporter: { server_cert: reissued }, reconnect: true }
    expect:
      health: up
      rotation: { new_seen_within_scrapes: 1, same_connection: false, failed_scrapes: 0 }
  - name: mixed-kept-alive-expects-new-serial
    exporter: { server_cert: old }
    scrape: { ca: old }
    rotate:
      - { exporter: { server_cert: reissued } }
    expect:
      health: up
      rotation: { new_seen_within_scrapes: 1 }
"#;

#[test]
fn scrape_receiver_and_rotation_cases_run_in_one_prometheus_each_judged_by_its_kind() -> Result<()>
{
    let _lock = heavy();
    // Arrange: one plan holding the three kinds.
    let scrape = Plan::from_sources(&[("mixed-scrape.yaml".into(), SCRAPE.into())])?;
    let plan = Plan {
        receivers: Some(ReceiverPlan::from_source(
            "mixed-receivers.yaml",
            RECEIVERS,
        )?),
        rotation: Some(rotation::parse("mixed-rotation.yaml", ROTATION)?),
        ..scrape
    };
    let options = RunOptions {
        prometheus: BackendKind::Process.into(),
        progress: false,
        ..RunOptions::default()
    };

    // Act
    let report = tokio::runtime::Runtime::new()?.block_on(scrape_harness::run(&plan, &options))?;
    let tables = scrape_harness::report::all_tables(&report, &plan, true);
    println!("{tables}");

    // Assert: each kind judged by its own judge, the wrong expectation of each failing.
    let scrape_failed: Vec<&str> = report
        .cases
        .iter()
        .filter(|c| !c.pass)
        .map(|c| c.name.as_str())
        .collect();
    ensure!(
        scrape_failed == ["mixed-wrong-password-expected-up"],
        "{tables}"
    );
    let wrong = report
        .cases
        .iter()
        .find(|c| !c.pass)
        .context("the failed scrape case")?;
    ensure!(
        wrong.last_error.contains("401"),
        "the scrape case fails on its 401: {wrong:?}"
    );
    let receivers = report.receivers.as_ref().context("a receivers part")?;
    let receiver_verdicts: Vec<(&str, bool)> = receivers
        .results
        .iter()
        .map(|r| (r.name.as_str(), r.passed))
        .collect();
    ensure!(
        receiver_verdicts
            == [
                ("mixed-am-tls", true),
                ("mixed-rw-wrong-token-expected-delivered", false)
            ],
        "{tables}"
    );
    let refused = &receivers.results[1].observed;
    ensure!(
        refused.statuses.get(&401).copied().unwrap_or(0) > 0 && !refused.delivered,
        "the remote-write receiver refused with 401: {refused:?}"
    );
    let rotation = report.rotation.as_ref().context("a rotation part")?;
    let rotation_verdicts: Vec<(&str, bool)> = rotation
        .cases
        .iter()
        .map(|c| (c.name.as_str(), c.passed))
        .collect();
    ensure!(
        rotation_verdicts
            == [
                ("mixed-server-cert-reissued-reconnect", true),
                ("mixed-kept-alive-expects-new-serial", false)
            ],
        "{tables}"
    );
    ensure!(!report.all_passed(), "three cases failed");
    ensure!(
        !report.failed_from_overload(),
        "receiver and rotation failures are never excused as overload"
    );

    // One Prometheus: the configuration it ran holds the scrape jobs, the rotation jobs,
    // the Alertmanager and the remote-write receiver together.
    let yml = &receivers.prometheus_yml;
    for needle in [
        "job_name: mixed-basic-ok",
        "job_name: mixed-server-cert-reissued-reconnect",
        "alertmanagers:",
        "remote_write:",
        "name: mixed-rw-wrong-token-expected-delivered",
    ] {
        ensure!(
            yml.contains(needle),
            "`{needle}` not in the one prometheus.yml:\n{yml}"
        );
    }
    ensure!(receivers.prometheus == report.prometheus, "one Prometheus");

    // The output: a table per kind, then the total as the last line; one JUnit suite per
    // kind.
    ensure!(
        tables.lines().last() == Some("3 passed, 3 failed"),
        "{tables}"
    );
    let xml = scrape_harness::report::junit_all(&report, "scrape-harness", "mixed");
    for suite in [
        "name=\"scrape-harness\"",
        "name=\"receivers\"",
        "name=\"rotation\"",
    ] {
        ensure!(xml.contains(suite), "no {suite} suite:\n{xml}");
    }
    ensure!(xml.matches("<failure").count() == 3, "{xml}");
    Ok(())
}

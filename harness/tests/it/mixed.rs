//! One Prometheus for every kind of case: `scrape-harness run` on one file with scrape,
//! receiver and rotation cases runs them together, each judged by its own kind's judge,
//! and each kind's negative twin (a deliberately wrong expectation) fails.

use std::time::Duration;

use anyhow::{ensure, Context, Result};
use serde_json::Value;

use crate::support::{heavy, Harness};

/// `(name, passed)` of every entry of `list`, read with `name` and `passed` keys.
fn verdicts(list: &Value, passed: &str) -> Vec<(String, bool)> {
    list.as_array()
        .map(|cases| {
            cases
                .iter()
                .map(|c| {
                    (
                        c["name"].as_str().unwrap_or_default().to_owned(),
                        c[passed].as_bool().unwrap_or(false),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn run_judges_scrape_receiver_and_rotation_cases_of_one_file_in_one_prometheus() -> Result<()> {
    let _lock = heavy();
    // Arrange
    let harness = Harness::new()?;
    let json = harness.tmp().join("every-kind.json");
    let junit = harness.tmp().join("every-kind.xml");
    let (json_arg, junit_arg) = (json.to_string_lossy(), junit.to_string_lossy());

    // Act
    let ran = harness.run(
        &[
            "run",
            "--backend",
            "process",
            "--no-progress",
            "--json",
            &json_arg,
            "--junit",
            &junit_arg,
            "scenarios/every-kind.yaml",
            "scenarios/tests/every-kind-wrong-expectation.yaml",
        ],
        Duration::from_secs(180),
    )?;

    // Assert: exit 1, each kind judged by its judge, exactly the wrong twins failing.
    ensure!(ran.code() == Some(1), "expected exit 1:{ran}");
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&json)?)?;
    let scrape = verdicts(&report["cases"], "pass");
    let want = |ok: &str, wrong: &str| vec![(ok.to_owned(), true), (wrong.to_owned(), false)];
    ensure!(
        scrape
            == want(
                "every-kind-basic-ok",
                "wrong-scrape-wrong-password-expected-up"
            ),
        "scrape cases: {scrape:?}{ran}"
    );
    ensure!(
        report["cases"][1]["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("401")),
        "the wrong scrape case failed on its 401:{ran}"
    );
    let receivers = &report["receivers"];
    let received = verdicts(&receivers["results"], "passed");
    ensure!(
        received
            == want(
                "every-kind-am-tls",
                "wrong-receiver-stolen-token-expected-delivered"
            ),
        "receiver cases: {received:?}{ran}"
    );
    let refused = &receivers["results"][1]["observed"];
    ensure!(
        refused["statuses"]["401"].as_u64().unwrap_or(0) > 0
            && refused["delivered"] == Value::Bool(false),
        "the remote-write receiver answered 401 and got nothing: {refused}"
    );
    let rotation = verdicts(&report["rotation"]["cases"], "passed");
    ensure!(
        rotation
            == want(
                "every-kind-server-cert-reissued",
                "wrong-rotation-kept-alive-expects-new-serial"
            ),
        "rotation cases: {rotation:?}{ran}"
    );

    // One Prometheus: the configuration it ran holds the scrape jobs, the rotation jobs,
    // the Alertmanager and the remote-write receiver together.
    let yml = receivers["prometheus_yml"]
        .as_str()
        .context("the prometheus.yml the receivers ran")?;
    for needle in [
        "job_name: every-kind-basic-ok",
        "job_name: every-kind-server-cert-reissued",
        "alertmanagers:",
        "name: wrong-receiver-stolen-token-expected-delivered",
    ] {
        ensure!(
            yml.contains(needle),
            "`{needle}` is not in the one prometheus.yml:\n{yml}"
        );
    }
    ensure!(
        receivers["prometheus"] == report["prometheus"],
        "one Prometheus ran every kind"
    );

    // The output: a table per kind, each with its count, then the total as the last line;
    // one JUnit suite per kind.
    ensure!(
        ran.stdout.matches("\n1 passed, 1 failed\n").count() == 3,
        "each kind's table ends with `1 passed, 1 failed`:{ran}"
    );
    ensure!(
        ran.stdout.lines().last() == Some("3 passed, 3 failed"),
        "the last line counts every kind:{ran}"
    );
    let xml = std::fs::read_to_string(&junit)?;
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

//! The `promtool check config` gate of `scrape-harness run`: without promtool the run stops
//! (exit 2) with the command that installs it, before Prometheus starts; with promtool, a
//! job the scenario expects Prometheus to drop is the only one left out of the check, and
//! the report says so.

use std::time::Duration;

use anyhow::{ensure, Context, Result};
use serde_json::Value;

use crate::support::{finish, write_scenario, Harness};

const TWO_CASES: &str = "\
cases:
  - name: plain-ok
    expect: { health: up }
  - name: dropped-missing-ca-file
    exporter: { server_cert: valid }
    scrape: { scheme: https, tls_config: { ca_file: /nonexistent/scrape-harness/ca.crt } }
    expect: { health: missing }
";

#[test]
fn a_missing_promtool_fails_the_run_with_the_command_that_installs_it() -> Result<()> {
    // Arrange: a PATH without promtool (nor anything else), no $PROMTOOL.
    let harness = Harness::new()?;
    let file = write_scenario(harness.tmp(), "two.yaml", TWO_CASES)?;
    let empty = harness.tmp().join("empty-path");
    std::fs::create_dir(&empty)?;
    let args = ["run", "--backend", "process", "--no-progress", &file];
    let mut command = harness.command(&args);
    command.env("PATH", &empty).env_remove("PROMTOOL");

    // Act
    let child = command.spawn().context("starting scrape-harness")?;
    let ran = finish(child, &args.join(" "), Duration::from_secs(60))?;

    // Assert: a harness error naming the fix; no case judged, nothing left behind.
    ensure!(
        ran.code() == Some(2)
            && ran.stderr.contains("`promtool` was not found")
            && ran.stderr.contains("apt-get install prometheus")
            && ran.stderr.contains("PROMTOOL="),
        "expected exit 2 saying how to install promtool:{ran}"
    );
    ensure!(!ran.stdout.contains("passed"), "cases were judged:{ran}");
    harness.assert_clean(ran.pid)
}

#[test]
fn only_a_job_dropped_on_purpose_is_left_out_of_the_promtool_check_and_the_report_says_so(
) -> Result<()> {
    let _serial = crate::support::heavy();
    // Arrange
    let harness = Harness::new()?;
    let file = write_scenario(harness.tmp(), "two.yaml", TWO_CASES)?;
    let json = harness.tmp().join("two.json");

    // Act
    let ran = harness.run_files(&[&file], &json, Duration::from_secs(120))?;

    // Assert
    ensure!(ran.code() == Some(0), "expected both cases to pass:{ran}");
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&json)?)?;
    let check = &report["config_check"];
    ensure!(
        check["unchecked_jobs"] == serde_json::json!(["dropped-missing-ca-file"])
            && check["promtool_output"]
                .as_str()
                .is_some_and(|o| o.contains("SUCCESS")),
        "config_check: {check:#}"
    );
    let notes_of = |name: &str| -> Vec<String> {
        report["cases"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|c| c["name"] == name)
            .flat_map(|c| c["notes"].as_array().cloned().unwrap_or_default())
            .filter_map(|n| n.as_str().map(str::to_owned))
            .collect()
    };
    let skipped_note = |notes: &[String]| {
        notes
            .iter()
            .any(|n| n.starts_with("promtool check config was not run on this job"))
    };
    ensure!(
        skipped_note(&notes_of("dropped-missing-ca-file")),
        "the dropped job's case must say promtool skipped it: {:?}",
        notes_of("dropped-missing-ca-file")
    );
    ensure!(
        !skipped_note(&notes_of("plain-ok")),
        "a checked job must not say so: {:?}",
        notes_of("plain-ok")
    );
    harness.assert_clean(ran.pid)
}

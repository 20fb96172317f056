//! Generated matrices: the generator's rules table agrees with node_exporter (the
//! reference) on a sample of combinations, and a generated 1,000-case matrix in one
//! Prometheus either passes or ends naming the overload, never with cases blamed.

use std::path::Path;
use std::time::Duration;

use anyhow::{ensure, Context, Result};

use scrape_harness::generate::{self, GenerateOptions};
use scrape_harness::{BackendKind, ExecTemplate, Launcher, Plan, RunOptions};

use crate::support::{heavy, Harness};

const NODE_EXPORTER: &str = "/usr/bin/prometheus-node-exporter";
/// Combinations run against node_exporter (one node_exporter process each).
const SAMPLE: usize = 200;

#[test]
fn generator_rules_agree_with_node_exporter() -> Result<()> {
    let _lock = heavy();
    ensure!(
        Path::new(NODE_EXPORTER).exists(),
        "{NODE_EXPORTER} is missing: install it with `apt-get install -y prometheus-node-exporter` \
         (or `bash scripts/setup`)"
    );
    // Arrange: a seeded sample of every axis, without what only fake-exporter serves.
    let generated = generate::generate(&GenerateOptions {
        cases: Some(SAMPLE),
        interval: Some(Duration::from_secs(1)),
        toolkit_only: true,
        ..GenerateOptions::default()
    })?;
    let plan = Plan::from_sources(&[("generated.yaml".into(), generated.yaml.clone())])?;
    ensure!(plan.cases.len() == SAMPLE, "{} cases", plan.cases.len());
    for rule in ["R1", "R2", "R3", "R4", "R5", "R7"] {
        ensure!(
            plan.cases
                .iter()
                .any(|c| c.description.ends_with(&format!("({rule})"))),
            "the sample has no case decided by {rule}; change the seed or the sample size"
        );
    }
    let template = ExecTemplate::parse(&format!(
        "{NODE_EXPORTER} --collector.disable-defaults --web.listen-address={{listen}} \
         --web.config.file={{web_config}}"
    ))?;
    let options = RunOptions {
        prometheus: BackendKind::Process.into(),
        launcher: Launcher::Exec(template),
        ..RunOptions::default()
    };

    // Act
    let report = tokio::runtime::Runtime::new()?.block_on(scrape_harness::run(&plan, &options))?;

    // Assert: every case as the rules say; none skipped (node_exporter 1.5 knows every key
    // the generator writes).
    let disagreements: Vec<String> = report
        .cases
        .iter()
        .filter(|c| !c.pass || c.skipped.is_some())
        .map(|c| {
            format!(
                "{}: rules {} , node_exporter {} ({}); {} [{}]",
                c.name,
                c.expected,
                c.observed.map_or("not scraped".into(), |o| o.to_string()),
                c.last_error,
                c.failures.join("; "),
                c.description
            )
        })
        .collect();
    ensure!(
        !report.failed_from_overload(),
        "the machine was overloaded, the run proves nothing: {:?}",
        report.health.overload
    );
    // node_exporter itself produced each row's outcome (not a run that judged nothing).
    let observed: std::collections::BTreeSet<String> = report
        .cases
        .iter()
        .filter_map(|c| c.observed.map(|o| o.class.to_string()))
        .collect();
    for class in [
        "none",
        "tls_version",
        "cert_expired",
        "unknown_authority",
        "client_cert_required",
        "client_cert_rejected",
        "unauthorized",
    ] {
        ensure!(
            observed.contains(class),
            "no case of the sample was observed as {class}: {observed:?}"
        );
    }
    ensure!(
        disagreements.is_empty(),
        "{} of {SAMPLE} generated case(s) disagree with node_exporter:\n{}",
        disagreements.len(),
        disagreements.join("\n")
    );
    Ok(())
}

#[test]
fn a_generated_1000_case_matrix_passes_or_names_the_overload() -> Result<()> {
    let _lock = heavy();
    // Arrange
    let harness = Harness::new()?;
    let file = harness.tmp().join("m1000.yaml");
    let file_arg = file.to_string_lossy();
    let generated = harness.run(
        &["generate", "--cases", "1000", "--out", &file_arg],
        Duration::from_secs(30),
    )?;
    ensure!(generated.code() == Some(0), "generate failed:{generated}");

    // Act
    let ran = harness.run(
        &["run", "--backend", "process", "--no-progress", &file_arg],
        Duration::from_secs(180),
    )?;

    // Assert: all right, or exit 2 naming the overload; never cases blamed.
    match ran.code() {
        Some(0) => {
            ensure!(
                ran.stdout.contains("1000 passed, 0 failed"),
                "summary:{ran}"
            );
        }
        Some(2) => {
            ensure!(
                ran.stderr.contains("overload"),
                "exit 2 without naming overload:{ran}"
            );
        }
        _ => anyhow::bail!("expected exit 0, or 2 naming the overload:{ran}"),
    }
    let interval = ran
        .stderr
        .lines()
        .find(|l| l.contains("Pace:") || l.contains("the interval paced"))
        .context("the header states no pace")?;
    ensure!(!interval.is_empty());
    // Process backend: no container to look for, only processes and work dirs.
    let (processes, dirs) = (harness.leftover_processes()?, harness.leftover_dirs()?);
    ensure!(
        processes.is_empty() && dirs.is_empty(),
        "leftovers: Prometheus processes {processes:?}, work dirs {dirs:?}"
    );
    Ok(())
}

//! Generated matrices: the generator's rules table agrees with node_exporter (the
//! reference) on a sample of combinations (R8, the HTTP version, included), a generated
//! 1,000-case matrix in one Prometheus either passes or ends naming the overload with at
//! least 95 % of its cases judged, never with cases blamed, and an exporter that hangs in
//! a 300-case matrix fails, never excused as load.

use std::path::Path;
use std::time::Duration;

use anyhow::{ensure, Context, Result};
use serde_json::Value;

use scrape_harness::generate::{self, GenerateOptions};
use scrape_harness::{runs::ExecTemplate, runs::Launcher, BackendKind, Plan, RunOptions};

use crate::support::{heavy, Harness, Ran};

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
    // R8 judged against node_exporter too: its HTTP version observed for the up cases.
    let versions: std::collections::BTreeSet<&str> = report
        .cases
        .iter()
        .filter(|c| c.expected.health == scrape_harness::Health::Up)
        .flat_map(|c| c.http_versions.iter().map(String::as_str))
        .collect();
    ensure!(
        versions.contains("HTTP/2") && versions.contains("HTTP/1.1"),
        "R8 was not judged: HTTP versions observed {versions:?}"
    );
    ensure!(
        disagreements.is_empty(),
        "{} of {SAMPLE} generated case(s) disagree with node_exporter:\n{}",
        disagreements.len(),
        disagreements.join("\n")
    );
    Ok(())
}

/// The `--json` report of a `run`, with its `summary` counts.
struct Judged {
    report: Value,
    cases: u64,
    passed: u64,
    failed: u64,
    unjudged: u64,
}

impl Judged {
    fn read(path: &Path, ran: &Ran) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("no --json report at {}:{ran}", path.display()))?;
        let report: Value = serde_json::from_str(&text).context("parsing the --json report")?;
        let count = |key: &str| {
            report["summary"][key]
                .as_u64()
                .with_context(|| format!("the report has no summary.{key}:{ran}"))
        };
        Ok(Self {
            cases: count("cases")?,
            passed: count("passed")?,
            failed: count("failed")?,
            unjudged: count("unjudged")?,
            report,
        })
    }

    /// Cases with a verdict (passed or failed).
    fn judged(&self) -> u64 {
        self.passed + self.failed
    }

    /// A case of the report by name.
    fn case(&self, name: &str) -> Option<&Value> {
        self.report["cases"]
            .as_array()?
            .iter()
            .find(|c| c["name"] == name)
    }
}

/// `generate --cases N --interval INTERVAL --out DIR/NAME`; the file's path.
fn generated(harness: &Harness, cases: usize, interval: &str, name: &str) -> Result<String> {
    let file = harness.tmp().join(name).to_string_lossy().into_owned();
    let cases = cases.to_string();
    let generated = harness.run(
        &[
            "generate",
            "--cases",
            &cases,
            "--interval",
            interval,
            "--out",
            &file,
        ],
        Duration::from_secs(30),
    )?;
    ensure!(generated.code() == Some(0), "generate failed:{generated}");
    Ok(file)
}

#[test]
fn a_generated_1000_case_matrix_passes_or_names_the_overload() -> Result<()> {
    let _lock = heavy();
    // Arrange
    let harness = Harness::new()?;
    let file = generated(&harness, 1000, "auto", "m1000.yaml")?;
    let json = harness.tmp().join("m1000.json");

    // Act
    let ran = harness.run_files(&[&file], &json, Duration::from_secs(180))?;

    // Assert: all right, or exit 2 naming the overload with at least 95 % of the cases
    // judged (and passed); never a case blamed, never a run that judged little.
    let run = Judged::read(&json, &ran)?;
    ensure!(
        run.cases == 1000 && run.failed == 0 && run.judged() + run.unjudged == 1000,
        "expected 1000 cases, none failed: {} passed, {} failed, {} not judged:{ran}",
        run.passed,
        run.failed,
        run.unjudged
    );
    ensure!(
        run.judged() >= 950,
        "only {} of 1000 cases judged ({} not judged on an overloaded machine): fewer than \
         95 %, the run proves too little:{ran}",
        run.judged(),
        run.unjudged
    );
    match ran.code() {
        Some(0) => ensure!(
            run.passed == 1000,
            "exit 0 with {} passed:{ran}",
            run.passed
        ),
        Some(2) => ensure!(
            run.unjudged > 0
                && run.report["health"]["saturated"] == true
                && run.report["health"]["overload"].is_string(),
            "exit 2 without cases left unjudged on a machine measured saturated:{ran}"
        ),
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

/// The case that hangs: a fake exporter that answers 5 s late, far beyond the generated
/// matrix's scrape timeout, although the case expects `up`.
const HANG: &str = "hangs-beyond-the-scrape-timeout";

#[test]
fn an_exporter_that_hangs_in_a_large_matrix_fails_and_is_not_excused() -> Result<()> {
    let _lock = heavy();
    // Arrange: 300 generated cases at 1 s (their file's defaults win; three times the
    // paced interval, so that a busy machine keeps up), and one exporter that hangs.
    let harness = Harness::new()?;
    let matrix = generated(&harness, 300, "1s", "m300.yaml")?;
    let hang = crate::support::write_scenario(
        harness.tmp(),
        "hang.yaml",
        &format!(
            "cases:\n  - name: {HANG}\n    exporter: {{ faults: {{ delay: 5s }} }}\n    \
             expect: {{ health: up }}\n"
        ),
    )?;
    let json = harness.tmp().join("m300.json");

    // Act
    let ran = harness.run_files(&[&matrix, &hang], &json, Duration::from_secs(120))?;

    // Assert: exit 1 with exactly the hanging case failed, judged (not excused as load),
    // its scrapes timed out; the other cases passed, or were not judged only on a machine
    // measured saturated.
    let run = Judged::read(&json, &ran)?;
    let case = run.case(HANG).context("no hanging case in the report")?;
    ensure!(
        ran.code() == Some(1) && run.cases == 301 && run.failed == 1,
        "expected exit 1 with exactly one failed case: {} passed, {} failed, {} not judged:{ran}",
        run.passed,
        run.failed,
        run.unjudged
    );
    ensure!(
        case["pass"] == false
            && case["load_suspect"] == false
            && case["observed"]["class"] == "timeout",
        "the hanging case must fail as a timeout and not be a load suspect: {case:#}"
    );
    ensure!(
        run.unjudged == 0 || run.report["health"]["saturated"] == true,
        "{} case(s) not judged on a machine not measured saturated:{ran}",
        run.unjudged
    );
    ensure!(
        ran.stdout
            .lines()
            .any(|l| l.starts_with(HANG) && l.contains("FAIL")),
        "the table must show the hanging case failed:{ran}"
    );
    Ok(())
}

/// R8 cases, one node_exporter each: HTTP/2 by default over TLS, HTTP/1.1 when either side
/// turns it off or over plain HTTP, and one deliberately wrong expectation.
const R8_CASES: &str = "\
defaults: { scrape_interval: 500ms, scrape_timeout: 500ms, scrapes: 3 }
cases:
  - name: r8-tls-default
    exporter: { server_cert: valid }
    scrape: { scheme: https, tls_config: { ca_file: ca.crt } }
    expect: { health: up, http_version: HTTP/2 }
  - name: r8-exporter-http2-off
    exporter: { server_cert: valid, http2: false }
    scrape: { scheme: https, tls_config: { ca_file: ca.crt } }
    expect: { health: up, http_version: HTTP/1.1 }
  - name: r8-job-http2-off
    exporter: { server_cert: valid }
    scrape: { scheme: https, enable_http2: false, tls_config: { ca_file: ca.crt } }
    expect: { health: up, http_version: HTTP/1.1 }
  - name: r8-plain
    expect: { health: up, http_version: HTTP/1.1 }
  - name: r8-wrong-expectation
    description: node_exporter told not to speak HTTP/2, the case expects it anyway
    exporter: { server_cert: valid, http2: false }
    scrape: { scheme: https, tls_config: { ca_file: ca.crt } }
    expect: { health: up, http_version: HTTP/2 }
";

#[test]
fn r8_is_judged_for_node_exporter_under_test() -> Result<()> {
    let _lock = heavy();
    ensure!(
        Path::new(NODE_EXPORTER).exists(),
        "{NODE_EXPORTER} is missing: install it with `apt-get install -y prometheus-node-exporter` \
         (or `bash scripts/setup`)"
    );
    // Arrange
    let plan = Plan::from_sources(&[("r8.yaml".into(), R8_CASES.into())])?;
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

    // Assert: every case up, the HTTP version observed for each, and judged: the right
    // expectations pass, the wrong one fails on R8 alone.
    let case = |name: &str| {
        report
            .cases
            .iter()
            .find(|c| c.name == name)
            .with_context(|| format!("no case {name}"))
    };
    for (name, version) in [
        ("r8-tls-default", "HTTP/2"),
        ("r8-exporter-http2-off", "HTTP/1.1"),
        ("r8-job-http2-off", "HTTP/1.1"),
        ("r8-plain", "HTTP/1.1"),
    ] {
        let c = case(name)?;
        ensure!(
            c.pass && c.http_versions == [version],
            "{name}: expected a pass over {version}, got {:?} ({:?})",
            c.http_versions,
            c.failures
        );
    }
    let wrong = case("r8-wrong-expectation")?;
    ensure!(
        !wrong.pass
            && wrong.failures
                == ["HTTP version: expected every scrape over HTTP/2, observed HTTP/1.1"],
        "the wrong expectation must fail on R8 alone: {:?}",
        wrong.failures
    );
    Ok(())
}

//! `scrape-harness receivers FILE`: run a receivers file (fake Alertmanagers, fake
//! remote-write receivers, the real Alertmanager; optionally a Prometheus with its own web
//! config) against one Prometheus. Exit 0 when every receiver (and every endpoint check)
//! passes, 1 when one fails, 2 when the run itself failed.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;

use scrape_harness::report::junit::{self, CaseOutcome, Suite, TestCase};
use scrape_harness::{run_receivers, ReceiverOptions, ReceiverPlan, ReceiverRun};

use super::{BackendArgs, EXIT_FAIL, EXIT_PASS};

/// `receivers` arguments.
#[derive(Debug, Args)]
pub(crate) struct ReceiversArgs {
    /// The receivers file (e.g. scenarios/receivers.yaml).
    pub(crate) file: PathBuf,
    /// Prometheus backend.
    #[command(flatten)]
    pub(crate) backend: BackendArgs,
    /// Also write every verdict (and endpoint check) as JSON here.
    #[arg(long, value_name = "FILE")]
    pub(crate) json: Option<PathBuf>,
    /// Also write JUnit XML here: one test case per receiver and per endpoint check.
    #[arg(long, value_name = "FILE")]
    pub(crate) junit: Option<PathBuf>,
}

pub(crate) async fn run(args: ReceiversArgs) -> anyhow::Result<u8> {
    let plan = ReceiverPlan::load(&args.file)?;
    let opts = ReceiverOptions {
        backend: args.backend.backend,
        binary: args.backend.prometheus_bin,
        image: args.backend.prometheus_image,
    };
    let run = run_receivers(&plan, &opts).await?;
    println!(
        "{} receivers against {} in {:.1}s",
        run.results.len(),
        run.prometheus,
        run.elapsed.as_secs_f64()
    );
    for r in &run.results {
        println!(
            "{} {:<40} {:<18} expected {}",
            if r.passed { "ok  " } else { "FAIL" },
            r.name,
            r.kind,
            r.expected
        );
    }
    if !run.own_web_config.is_empty() {
        let passed = run.own_web_config.iter().filter(|c| c.passed()).count();
        println!(
            "Prometheus' own web config: {passed} of {} endpoint checks passed",
            run.own_web_config.len()
        );
    }
    if let Some(path) = &args.json {
        let json = serde_json::json!({
            "prometheus": run.prometheus,
            "elapsed_seconds": run.elapsed.as_secs_f64(),
            "receivers": run.results,
            "own_web_config": run.own_web_config,
        });
        std::fs::write(path, serde_json::to_string_pretty(&json)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if let Some(path) = &args.junit {
        let file = args.file.display().to_string();
        std::fs::write(path, junit::render(&[junit_suite(&file, &run)]))
            .with_context(|| format!("writing {}", path.display()))?;
    }
    let failures = run.failures();
    if failures.is_empty() {
        Ok(EXIT_PASS)
    } else {
        eprintln!("{failures}");
        Ok(EXIT_FAIL)
    }
}

/// One suite: a case per receiver (classname: the file) and per endpoint check.
fn junit_suite(file: &str, run: &ReceiverRun) -> Suite {
    let mut cases: Vec<TestCase> = run
        .results
        .iter()
        .map(|r| TestCase {
            classname: file.to_owned(),
            name: r.name.clone(),
            outcome: if r.passed {
                CaseOutcome::Passed
            } else {
                CaseOutcome::Failed {
                    message: format!("expected {}", r.expected),
                    body: r.report.clone(),
                }
            },
            system_out: None,
        })
        .collect();
    cases.extend(run.own_web_config.iter().map(|c| TestCase {
        classname: format!("{file}: Prometheus' own web config"),
        name: format!("{} {:?}", c.path, c.probe),
        outcome: if c.passed() {
            CaseOutcome::Passed
        } else {
            CaseOutcome::Failed {
                message: format!("expected HTTP {}, got {:?}", c.expected, c.status),
                body: c.error.clone().unwrap_or_default(),
            }
        },
        system_out: None,
    }));
    let mut suite = Suite::new("receivers", cases);
    suite.time_s = Some(run.elapsed.as_secs_f64());
    suite
}

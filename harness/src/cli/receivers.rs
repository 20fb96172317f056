//! `scrape-harness receivers FILE`: run a receivers file (fake Alertmanagers, fake
//! remote-write receivers, the real Alertmanager; optionally a Prometheus with its own web
//! config) against one Prometheus. Exit 0 when every receiver (and every endpoint check)
//! passes, 1 when one fails, 2 when the run itself failed.

use std::path::PathBuf;

use clap::Args;

use scrape_harness::report::{self, junit};
use scrape_harness::{run_receivers, ReceiverOptions, ReceiverPlan};

use super::{say_written, ReportFiles, SharedArgs, EXIT_FAIL, EXIT_PASS};

/// `receivers` arguments.
#[derive(Debug, Args)]
pub(crate) struct ReceiversArgs {
    /// The receivers file (e.g. scenarios/receivers.yaml).
    pub(crate) file: PathBuf,
    /// Report files: JSON holds every verdict and endpoint check; JUnit one test case per
    /// receiver and per endpoint check.
    #[command(flatten)]
    pub(crate) reports: ReportFiles,
    /// Flags every command shares.
    #[command(flatten)]
    pub(crate) shared: SharedArgs,
}

pub(crate) async fn run(args: ReceiversArgs) -> anyhow::Result<u8> {
    let plan = ReceiverPlan::load(&args.file)?;
    let opts = ReceiverOptions {
        prometheus: args.shared.prometheus(),
    };
    let run = run_receivers(&plan, &opts).await?;
    let failures = run.failures();
    if !failures.is_empty() {
        eprintln!("{failures}");
    }
    let mut written = Vec::new();
    if let Some(path) = &args.reports.json {
        let json = serde_json::json!({
            "prometheus": run.prometheus,
            "elapsed_seconds": run.elapsed.as_secs_f64(),
            "receivers": run.results,
            "own_web_config": run.own_web_config,
        });
        let json = serde_json::to_string_pretty(&json)?;
        written.push(args.shared.write_report(path, &json)?);
    }
    if let Some(path) = &args.reports.junit {
        let file = args.file.display().to_string();
        let xml = junit::render(&[run.junit_suite(&file)]);
        written.push(args.shared.write_report(path, &xml)?);
    }
    say_written(&written);
    print!("{}", report::receivers_table(&run, args.shared.verbose > 0));
    Ok(if failures.is_empty() {
        EXIT_PASS
    } else {
        EXIT_FAIL
    })
}

//! Runs scenario files (none: the default security matrix) against a real Prometheus and
//! records what each case's judge read (`RunOptions::record_observations`): the JSON the
//! judge tests replay without Prometheus (`harness/tests/fixtures/observations/`). Every
//! kind of case is recorded: scrape, receiver and rotation cases.
//!
//! ```sh
//! cargo run -p scrape-harness --example record_observations -- \
//!     harness/tests/fixtures/observations/default-matrix.json
//! cargo run -p scrape-harness --example record_observations -- \
//!     harness/tests/fixtures/observations/receivers-rotation.json \
//!     scenarios/receivers.yaml scenarios/rotation.yaml
//! cargo run -p scrape-harness --example record_observations -- \
//!     harness/tests/fixtures/observations/conformance-node-exporter.json --exec \
//!     'prometheus-node-exporter --web.listen-address={listen} --web.config.file={web_config}'
//! ```
//!
//! With `--exec`, the Prometheus-judged cases of the conformance catalog are run against the
//! exporter the command starts (as `scrape-harness conformance --exec`), and recorded.
//!
//! Needs a `prometheus` binary on PATH (`bash scripts/setup`); it runs as a process.

use anyhow::Context;
use scrape_harness::{run, BackendKind, Plan, RunOptions};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let out = args
        .next()
        .context("usage: record_observations OUT.json [SCENARIO.yaml...]")?;
    let files: Vec<String> = args.collect();
    if let [flag, command] = &files[..] {
        if flag == "--exec" {
            return record_conformance(&out, command).await;
        }
    }
    let files: Vec<std::path::PathBuf> = files.into_iter().map(Into::into).collect();
    let plan = Plan::load(&files)?;
    let options = RunOptions {
        prometheus: BackendKind::Process.into(),
        record_observations: Some(out.clone().into()),
        ..RunOptions::default()
    };
    let report = run(&plan, &options).await?;
    let passed = report.cases.iter().filter(|c| c.pass).count();
    println!(
        "{out}: {} scrape, {} receiver and {} rotation cases recorded; {passed} scrape cases \
         passed, {} failed",
        report.cases.len(),
        report.receivers.as_ref().map_or(0, |r| r.results.len()),
        report.rotation.as_ref().map_or(0, |r| r.cases.len()),
        report.cases.len() - passed
    );
    anyhow::ensure!(
        report.all_passed(),
        "record from a run whose cases all passed"
    );
    Ok(())
}

/// Records the catalog's Prometheus-judged cases against the exporter `command` starts.
async fn record_conformance(out: &str, command: &str) -> anyhow::Result<()> {
    use scrape_harness::conformance::{self, ConformanceOptions};
    let opts = ConformanceOptions {
        run: RunOptions {
            prometheus: BackendKind::Process.into(),
            record_observations: Some(out.into()),
            ..RunOptions::default()
        },
        // The timing check is a direct check, not a Prometheus observation.
        timing_samples: 0,
        ..ConformanceOptions::default()
    };
    let template = scrape_harness::runs::ExecTemplate::parse(command)?;
    let report = conformance::run_exec(template, &opts).await?;
    println!("{out}: recorded; {}", report.table());
    anyhow::ensure!(!report.failed(), "record from a run that passed every MUST");
    Ok(())
}

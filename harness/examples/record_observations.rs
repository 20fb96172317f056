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
//! ```
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
    let files: Vec<std::path::PathBuf> = args.map(Into::into).collect();
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

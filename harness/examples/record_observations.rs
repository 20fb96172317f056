//! Runs the default security matrix against a real Prometheus and records what each case's
//! judge read (`RunOptions::record_observations`): the JSON the judge tests replay without
//! Prometheus (`harness/tests/fixtures/observations/`).
//!
//! ```sh
//! cargo run -p scrape-harness --example record_observations -- \
//!     harness/tests/fixtures/observations/default-matrix.json
//! ```
//!
//! Needs a `prometheus` binary on PATH (`bash scripts/setup`); it runs as a process.

use anyhow::Context;
use scrape_harness::{run, BackendKind, Plan, RunOptions};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let out = std::env::args()
        .nth(1)
        .context("usage: record_observations OUT.json")?;
    let plan = Plan::load(&[])?;
    let options = RunOptions {
        prometheus: BackendKind::Process.into(),
        record_observations: Some(out.clone().into()),
        ..RunOptions::default()
    };
    let report = run(&plan, &options).await?;
    let passed = report.cases.iter().filter(|c| c.pass).count();
    println!(
        "{out}: {} cases recorded; {passed} passed, {} failed",
        report.cases.len(),
        report.cases.len() - passed
    );
    anyhow::ensure!(
        report.all_passed(),
        "record from a run whose cases all passed"
    );
    Ok(())
}

//! `scrape-harness rotation FILE`: runs a rotation file (see `scenarios/rotation.yaml`).

use std::path::PathBuf;

use clap::Args;
use scrape_harness::report;
use scrape_harness::rotation::{self, RotationOptions};

use super::{say_written, ReportFiles, SharedArgs, EXIT_FAIL, EXIT_PASS};

/// `rotation` arguments.
#[derive(Debug, Args)]
pub(crate) struct RotationArgs {
    /// The rotation file.
    #[arg(default_value = "scenarios/rotation.yaml")]
    pub(crate) file: PathBuf,
    /// Report files: JSON holds every case and every scrape; JUnit one test case per
    /// rotation case.
    #[command(flatten)]
    pub(crate) reports: ReportFiles,
    /// Flags every command shares.
    #[command(flatten)]
    pub(crate) shared: SharedArgs,
}

pub(crate) async fn run(args: RotationArgs) -> anyhow::Result<u8> {
    let plan = rotation::load(&args.file)?;
    let options = RotationOptions {
        prometheus: args.shared.prometheus(),
    };
    let report = rotation::run(&plan, &options).await?;
    let mut written = Vec::new();
    if let Some(path) = &args.reports.json {
        let json = serde_json::to_string_pretty(&report)?;
        written.push(args.shared.write_report(path, &json)?);
    }
    if let Some(path) = &args.reports.junit {
        let xml = report.junit(&args.file.display().to_string());
        written.push(args.shared.write_report(path, &xml)?);
    }
    say_written(&written);
    print!(
        "{}",
        report::rotation_table(&plan.cases, &report, args.shared.verbose > 0)
    );
    Ok(if report.passed() {
        EXIT_PASS
    } else {
        EXIT_FAIL
    })
}

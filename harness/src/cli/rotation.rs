//! `scrape-harness rotation FILE`: runs a rotation file (see `scenarios/rotation.yaml`).

use std::path::PathBuf;

use clap::Args;
use scrape_harness::rotation::{self, RotationOptions};

use super::{BackendArgs, EXIT_FAIL, EXIT_PASS};

/// `rotation` arguments.
#[derive(Debug, Args)]
pub(crate) struct RotationArgs {
    /// The rotation file.
    #[arg(default_value = "scenarios/rotation.yaml")]
    pub(crate) file: PathBuf,
    /// Prometheus backend.
    #[command(flatten)]
    pub(crate) backend: BackendArgs,
    /// Write the outcome (every case, every scrape) as JSON here.
    #[arg(long)]
    pub(crate) json: Option<PathBuf>,
    /// Write JUnit XML here (one test case per rotation case).
    #[arg(long)]
    pub(crate) junit: Option<PathBuf>,
}

pub(crate) async fn run(args: RotationArgs) -> anyhow::Result<u8> {
    let plan = rotation::load(&args.file)?;
    let options = RotationOptions {
        backend: args.backend.backend,
        binary: args.backend.prometheus_bin,
        image: args.backend.prometheus_image,
    };
    let report = rotation::run(&plan, &options).await?;
    print!("{}", report.render());
    if let Some(path) = &args.json {
        let json = serde_json::to_string_pretty(&report)?;
        std::fs::write(path, json)
            .map_err(|e| anyhow::anyhow!("writing {}: {e}", path.display()))?;
    }
    if let Some(path) = &args.junit {
        std::fs::write(path, report.junit(&args.file.display().to_string()))
            .map_err(|e| anyhow::anyhow!("writing {}: {e}", path.display()))?;
    }
    Ok(if report.passed() {
        EXIT_PASS
    } else {
        EXIT_FAIL
    })
}

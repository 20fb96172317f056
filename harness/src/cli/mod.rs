//! Command line: raw clap arguments, checked into plans, run, mapped to exit codes
//! (0 every case passed, 1 a case failed, 2 harness error).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::backend::{self, BackendKind};
use crate::report;
use crate::runner::{self, RunOptions};
use crate::scenario::Plan;

/// Exit code when every case passed.
pub const EXIT_PASS: u8 = 0;
/// Exit code when at least one case failed.
pub const EXIT_FAIL: u8 = 1;
/// Exit code on a harness error (bad input, Prometheus did not start, ...).
pub const EXIT_ERROR: u8 = 2;

/// Can Prometheus scrape a secured exporter — and if not, why not?
#[derive(Debug, Parser)]
#[command(name = "scrape-harness", version)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run scenario files (none: the embedded default security matrix) against a real
    /// Prometheus and report its verdicts.
    Run(RunArgs),
    /// Write the test PKI (CA, broken and valid certificates) into a directory.
    Certs(CertsArgs),
}

/// Where Prometheus comes from.
#[derive(Debug, Args, Clone)]
pub struct BackendArgs {
    /// `auto` prefers a container and says which it picked.
    #[arg(long, default_value = "auto")]
    pub backend: BackendKind,
    /// Container image to run (pulled only when missing locally and named here).
    #[arg(long)]
    pub prometheus_image: Option<String>,
    /// Prometheus binary (process backend), or the binary the offline image is built from.
    #[arg(long)]
    pub prometheus_bin: Option<PathBuf>,
}

/// `run` arguments.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Scenario files; none runs the embedded `scenarios/security-matrix.yaml`.
    pub files: Vec<PathBuf>,
    /// Prometheus backend.
    #[command(flatten)]
    pub backend: BackendArgs,
    /// Write the JSON report here.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Write a JUnit XML report here.
    #[arg(long)]
    pub junit: Option<PathBuf>,
    /// No progress bar.
    #[arg(long)]
    pub no_progress: bool,
}

/// `certs` arguments.
#[derive(Debug, Args)]
pub struct CertsArgs {
    /// Output directory.
    #[arg(long)]
    pub out: PathBuf,
    /// Key type of every key.
    #[arg(long, default_value = "ecdsa-p256")]
    pub key_type: fake_exporter::pki::KeyType,
}

/// Runs a parsed command line and returns the exit code. Errors print once, with their
/// whole chain.
pub async fn main(cli: Cli) -> ExitCode {
    let outcome = backend::cancel_on_ctrl_c(dispatch(cli)).await;
    match outcome {
        Some(Ok(code)) => ExitCode::from(code),
        Some(Err(err)) => {
            eprintln!("scrape-harness: error: {err:#}");
            ExitCode::from(EXIT_ERROR)
        }
        None => {
            eprintln!(
                "scrape-harness: interrupted; Prometheus, exporters and temp dirs were cleaned up"
            );
            ExitCode::from(130)
        }
    }
}

async fn dispatch(cli: Cli) -> anyhow::Result<u8> {
    match cli.command {
        Command::Run(args) => run(args).await,
        Command::Certs(args) => {
            let pki = fake_exporter::pki::Pki::generate(args.key_type)?;
            let files = pki.write_to(&args.out)?;
            println!(
                "PKI ({}) written to {}; see README.txt there",
                args.key_type,
                files.dir().display()
            );
            Ok(EXIT_PASS)
        }
    }
}

async fn run(args: RunArgs) -> anyhow::Result<u8> {
    let plan = Plan::load(&args.files)?;
    let options = RunOptions {
        backend: args.backend.backend,
        image: args.backend.prometheus_image.clone(),
        binary: args.backend.prometheus_bin.clone(),
        progress: !args.no_progress,
        ..RunOptions::default()
    };
    eprintln!(
        "scrape-harness: {} case(s), {} scrapes each every {:?}",
        plan.cases.len(),
        plan.defaults.scrapes,
        plan.defaults.scrape_interval
    );
    let report = runner::run(&plan, &options).await?;
    print!("{}", report::table(&report));
    for c in report.cases.iter().filter(|c| !c.pass) {
        eprintln!();
        eprint!("{}", report::failure_block(c));
    }
    if let Some(path) = &args.json {
        report::write_json(&report, path)?;
    }
    if let Some(path) = &args.junit {
        report::write_junit(&report, path)?;
    }
    Ok(if report.all_passed() {
        EXIT_PASS
    } else {
        EXIT_FAIL
    })
}

//! `scrape-harness`: runs a real Prometheus against exporters and reports its verdicts.
//!
//! The command line lives here, in the binary target, so that the library does not depend
//! on clap, anyhow or tracing-subscriber.
//!
//! With `SCRAPE_HARNESS_CHECK_ARGS=1` in the environment the binary only parses its command
//! line (usage errors exit 2 as always) and exits 0: the docs test checks every example
//! command line that way.

mod cli;

use std::io::IsTerminal as _;
use std::process::ExitCode;

use clap::Parser as _;

fn main() -> ExitCode {
    // The in-process fake exporters log every refused handshake and request; in a run
    // those are the cases' expected outcomes, reported in their rows, not log noise.
    // `HARNESS_LOG=debug` (or `fake_exporter=warn`) shows them.
    let filter = tracing_subscriber::EnvFilter::try_from_env("HARNESS_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,fake_exporter=off"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let cli = cli::Cli::parse();
    if std::env::var_os("SCRAPE_HARNESS_CHECK_ARGS").is_some() {
        println!("{cli:?}");
        return ExitCode::SUCCESS;
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("scrape-harness: error: cannot start the async runtime: {e}");
            return ExitCode::from(cli::EXIT_ERROR);
        }
    };
    let code = runtime.block_on(cli::main(cli));
    // Every task was cancelled and every guard dropped (Prometheus, exporters, temp dirs)
    // inside `block_on`. What can still run is blocking work nobody waits for any more,
    // such as a bcrypt hash at a high cost after Ctrl-C: don't wait for it to end.
    runtime.shutdown_timeout(SHUTDOWN_GRACE);
    code
}

/// How long the runtime's blocking threads get to finish after the command has ended.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_millis(200);

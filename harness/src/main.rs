//! `scrape-harness`: runs a real Prometheus against exporters and reports its verdicts.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let filter = tracing_subscriber::EnvFilter::try_from_env("HARNESS_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let cli = scrape_harness::cli::Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("scrape-harness: error: cannot start the async runtime: {e}");
            return ExitCode::from(scrape_harness::cli::EXIT_ERROR);
        }
    };
    runtime.block_on(scrape_harness::cli::main(cli))
}

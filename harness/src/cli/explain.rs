//! `scrape-harness explain --prometheus URL`: why each target is red, what is risky about
//! the green ones (docs/explain.md).

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};
use scrape_harness::explain::{self, ConfigOptions, ExplainOptions, FailOn};

use super::access::AccessArgs;
use super::{SharedArgs, EXIT_ERROR, EXIT_FAIL, EXIT_PASS};

/// `--fail-on`.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub(crate) enum FailOnArg {
    /// A target is not up.
    Down,
    /// A target is not up, or an up one has a risk.
    Risk,
}

/// `explain` arguments.
#[derive(Debug, Args)]
pub(crate) struct ExplainArgs {
    /// The Prometheus to explain (`http://127.0.0.1:9090`, or `https://...` behind its own
    /// web config).
    #[arg(
        long,
        value_name = "URL",
        required_unless_present = "config",
        conflicts_with = "config"
    )]
    pub(crate) prometheus: Option<String>,
    /// Explain a `prometheus.yml` instead: promtool's verdict, then a throwaway Prometheus
    /// (loopback only; --backend) running its jobs until each target was scraped.
    #[arg(long, value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
    /// How to reach the Prometheus behind its own web config.
    #[command(flatten)]
    pub(crate) access: AccessArgs,
    /// Exit 1 when a target is `down` (default), or also when an up one has a `risk`.
    #[arg(long, value_enum, default_value = "down")]
    pub(crate) fail_on: FailOnArg,
    /// How long to watch for two more scrapes of every up target, to tell whether
    /// Prometheus opens a new connection per scrape (`no_keep_alive`); 0s: not judged.
    #[arg(long, default_value = "35s", value_parser = humantime::parse_duration)]
    pub(crate) keepalive_window: Duration,
    /// A certificate of an up TLS target that expires sooner than this is a
    /// `cert_expiring` risk (checked by a handshake with the job's TLS settings).
    #[arg(long, default_value = "30d", value_parser = humantime::parse_duration)]
    pub(crate) expiry_warning: Duration,
    /// Do not probe up TLS targets (no `cert_expiring`, no `legacy_tls`).
    #[arg(long)]
    pub(crate) no_probe: bool,
    /// Write the JSON report here (see --reports-dir).
    #[arg(long, value_name = "FILE")]
    pub(crate) json: Option<PathBuf>,
    /// Write a JUnit XML report here: one test case per target (see --reports-dir).
    #[arg(long, value_name = "FILE")]
    pub(crate) junit: Option<PathBuf>,
    /// Write one self-contained HTML page here: the targets grouped by class and risk,
    /// each with its evidence, check command and fix (see --reports-dir).
    #[arg(long, value_name = "FILE")]
    pub(crate) html: Option<PathBuf>,
    /// Flags every command shares.
    #[command(flatten)]
    pub(crate) shared: SharedArgs,
}

fn write_json(args: &ExplainArgs, value: &impl serde::Serialize) -> anyhow::Result<()> {
    if let Some(path) = &args.json {
        let path = args.shared.report_path(path)?;
        explain::write_json(value, &path)?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}

pub(crate) async fn run(args: ExplainArgs) -> anyhow::Result<u8> {
    let options = ExplainOptions {
        keepalive_window: args.keepalive_window,
        probe_tls: !args.no_probe,
        expiry_warning: args.expiry_warning,
        ..ExplainOptions::default()
    };
    let explanation = match (&args.config, &args.prometheus) {
        (Some(config), _) => {
            let config_options = ConfigOptions {
                prometheus: args.shared.prometheus(),
                explain: options.clone(),
                ..ConfigOptions::default()
            };
            let explained = match explain::explain_config(config, &config_options).await {
                Ok(e) => e,
                Err(err) => {
                    eprintln!("scrape-harness: error: {err}");
                    return Ok(EXIT_ERROR);
                }
            };
            write_json(&args, &explained)?;
            let verdict = &explained.promtool;
            if verdict.passed {
                println!("promtool check config {}: SUCCESS", config.display());
            } else {
                println!(
                    "promtool check config {}: FAILED (Prometheus would refuse the whole file)\n{}\nlook at: {}",
                    config.display(),
                    verdict.output.trim_end(),
                    verdict.look_at
                );
            }
            match explained.explanation {
                Some(e) => e,
                None => return Ok(EXIT_FAIL),
            }
        }
        (None, Some(url)) => match explain::explain(args.access.api(url)?, &options).await {
            Ok(e) => {
                write_json(&args, &e)?;
                e
            }
            Err(err) => {
                eprintln!("scrape-harness: error: {err}");
                return Ok(EXIT_ERROR);
            }
        },
        (None, None) => anyhow::bail!("give --prometheus URL or --config FILE"),
    };
    let fail_on = match args.fail_on {
        FailOnArg::Down => FailOn::Down,
        FailOnArg::Risk => FailOn::Risk,
    };
    for (given, text) in [
        (&args.junit, explain::junit(&explanation, fail_on)),
        (&args.html, explain::html(&explanation)),
    ] {
        if let Some(given) = given {
            let path = args.shared.report_path(given)?;
            explain::write_text(&text, &path)?;
            eprintln!("wrote {}", path.display());
        }
    }
    print!("{}", explain::table(&explanation));
    Ok(if explanation.fails(fail_on) {
        EXIT_FAIL
    } else {
        EXIT_PASS
    })
}

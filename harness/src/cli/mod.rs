//! Command line (binary only): raw clap arguments, checked into the library's options, run,
//! mapped to exit codes (0 every case passed, 1 a case failed, 2 harness error).
//!
//! One contract for every command that runs Prometheus: the same [`SharedArgs`]
//! (`--backend`, `--prometheus-image`, `--prometheus-bin`, `--reports-dir`,
//! `--no-progress`, `-v`), report files placed by one rule ([`SharedArgs::report_path`]),
//! expected beside observed per case, a legend, and as the last line of stdout
//! `N passed, M failed` ([`report::summary_line`]).

mod access;
mod explain;
mod lab;
mod receivers;
mod rotation;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{ArgAction, Args, Parser, Subcommand};

use anyhow::Context as _;
use scrape_harness::report;
use scrape_harness::Plan;
use scrape_harness::RunOptions;
use scrape_harness::{BackendKind, PrometheusChoice};

/// Exit code when every case passed.
pub(crate) const EXIT_PASS: u8 = 0;
/// Exit code when at least one case failed.
pub(crate) const EXIT_FAIL: u8 = 1;
/// Exit code on a harness error (bad input, Prometheus did not start, ...).
pub(crate) const EXIT_ERROR: u8 = 2;

/// Can Prometheus scrape a secured exporter — and if not, why not?
///
/// Exit codes: 0 every case passed, 1 a case failed, 2 harness error (bad input, Prometheus
/// did not start, a machine too busy to judge). Every command that judges cases prints
/// expected beside observed, a legend, and as its last line `N passed, M failed`.
#[derive(Debug, Parser)]
#[command(name = "scrape-harness", version)]
pub(crate) struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run scenario files (none: the embedded default security matrix) against ONE real
    /// Prometheus and report its verdicts: scrape, receiver and rotation cases, any mix
    /// (scenarios/README.md, "Kinds of case").
    Run(RunArgs),
    /// Alias of `fake-exporter pki` (the same library call, the same files): write the test
    /// PKI (CA, intermediate, rogue CA, valid and broken server and client certificates)
    /// into a directory, with a README.txt naming every file.
    Certs(CertsArgs),
    /// Write a scenario file of the cartesian product of chosen axes (server certificate,
    /// client_auth_type, client certificate, TLS versions, HTTP/2, credentials), with the
    /// expectations of the rules table (docs/generator.md).
    Generate(GenerateArgs),
    /// Check an exporter's security behaviour against the conformance catalog (MUST /
    /// SHOULD / MAY), judged by a real Prometheus plus direct checks. Exit 1 if a MUST fails.
    Conformance(ConformanceArgs),
    /// Load benchmark of TLS scrape overhead on a real Prometheus (N targets × mode ×
    /// keep-alive); `bench servers` compares node_exporter, fake-exporter and bare rustls.
    Bench(BenchArgs),
    /// Teaching labs: broken secure-scrape set-ups to repair, checked by a real Prometheus
    /// (`lab list`, `start`, `check`, `hint`, `solution`, `stop`, `up`).
    Lab(lab::LabArgs),
    /// `run` for a file of rotation cases only: rotate certificates, CA bundles,
    /// password_file and credentials_file while Prometheus holds its connections open, and
    /// report per scrape what the exporter saw and how many scrapes failed
    /// (`scenarios/rotation.yaml`).
    Rotation(rotation::RotationArgs),
    /// `run` for a file of receiver cases only: Prometheus delivering alerts and
    /// remote-write data to fake receivers and the real Alertmanager over every auth/TLS
    /// mode (scenarios/README.md, "Receiver cases"). Exit 1 if a receiver fails.
    Receivers(receivers::ReceiversArgs),
    /// Why is each target of a running Prometheus (`--prometheus URL`) red, and what is
    /// risky about the green ones: class, cause, keys, evidence, a check command and the
    /// fix per target (docs/explain.md). Exit 1 if a target is down (or, with
    /// `--fail-on risk`, risky), 2 if Prometheus cannot be read.
    Explain(explain::ExplainArgs),
}

/// `bench` arguments.
#[derive(Debug, Args)]
pub(crate) struct BenchArgs {
    /// `servers`: the server comparison instead of the Prometheus load run.
    #[command(subcommand)]
    pub(crate) action: Option<BenchAction>,
    /// Target counts, comma-separated.
    #[arg(long, default_value = "100,1000,5000")]
    pub(crate) targets: String,
    /// Modes, comma-separated: plain, basic, bearer, tls, mtls.
    #[arg(long, default_value = "plain,basic,bearer,tls,mtls")]
    pub(crate) modes: String,
    /// Keep-alive settings, comma-separated: on, off.
    #[arg(long, default_value = "on,off")]
    pub(crate) keep_alive: String,
    /// Scrape interval (also the scrape timeout).
    #[arg(long, default_value = "1s", value_parser = humantime::parse_duration)]
    pub(crate) interval: std::time::Duration,
    /// Length of the measured window of each run.
    #[arg(long, default_value = "20s", value_parser = humantime::parse_duration)]
    pub(crate) duration: std::time::Duration,
    /// Split the window into this many checkpoints and print a timeline per run: fleet
    /// and Prometheus memory and descriptors, failed scrapes, handshakes per target (a
    /// soak: `--duration 10m --checkpoints 10`; see docs/reliability.md). 0: none
    #[arg(long, default_value_t = 0)]
    pub(crate) checkpoints: u32,
    /// Runs per combination.
    #[arg(long, default_value_t = 1)]
    pub(crate) repeat: u32,
    /// First port of the exporter fleet (below the ephemeral range).
    #[arg(long, default_value_t = 20_000)]
    pub(crate) base_port: u16,
    /// Local mode: start this many Prometheus servers, each keeping its slice of the
    /// targets by `hashmod` relabelling (docs/load-benchmark.md, "Shards").
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub(crate) shards: u32,
    /// Local mode: put the targets on this many fleet hosts, each a fake-exporter fleet in a
    /// network namespace of its own with its own loopback-range address (root needed;
    /// docs/load-benchmark.md, "Fleet hosts in network namespaces"). 0: one fleet in this
    /// process.
    #[arg(long, default_value_t = 0, value_name = "K")]
    pub(crate) hosts: u32,
    /// Samples each target exposes (fake-exporter's --metrics.series): Prometheus' memory
    /// grows with targets × samples.
    #[arg(long, default_value_t = 100, value_name = "N")]
    pub(crate) series: usize,
    /// Remote mode: drive a Prometheus the bench did not start (repeat for shards: one URL
    /// each); needs --fleet. The bench starts nothing (docs/load-benchmark.md, "Remote
    /// Prometheus and fleets").
    #[arg(long = "prometheus", value_name = "URL")]
    pub(crate) prometheus: Vec<String>,
    /// Remote mode: the control endpoints (`fake-exporter fleet --control.listen-address`)
    /// of the fleets the remote Prometheus scrapes, comma-separated.
    #[arg(long, value_name = "URL,...", value_delimiter = ',')]
    pub(crate) fleet: Vec<String>,
    /// Remote mode: the scrape job to measure.
    #[arg(long, default_value = "bench", value_name = "NAME")]
    pub(crate) job: String,
    /// Remote mode: deadline of the warm-up (every target of the job up).
    #[arg(long, default_value = "120s", value_parser = humantime::parse_duration)]
    pub(crate) warmup_timeout: std::time::Duration,
    /// How to reach a remote Prometheus behind its own web config.
    #[command(flatten)]
    pub(crate) access: access::AccessArgs,
    /// Write the JSON report here (see --reports-dir).
    #[arg(long, value_name = "FILE")]
    pub(crate) json: Option<PathBuf>,
    /// Write a self-contained HTML page with SVG charts here (see --reports-dir).
    #[arg(long, value_name = "FILE")]
    pub(crate) html: Option<PathBuf>,
    /// Flags every command shares.
    #[command(flatten)]
    pub(crate) shared: SharedArgs,
}

/// `bench` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum BenchAction {
    /// node_exporter vs fake-exporter vs bare rustls: server CPU per handshake and per
    /// request, and throughput, from one pinned client.
    Servers(BenchServersArgs),
    /// The bare rustls server `bench servers` starts (internal).
    #[command(hide = true)]
    RawTlsServer(TlsServerArgs),
    /// Fleet hosts on this machine: K fake-exporter fleets, each in a network namespace of
    /// its own with its own address (127.77.k.1, veth pairs on loopback addresses only),
    /// held until Ctrl-C or --for, then removed. Prints each host's control URL and writes
    /// the targets as a Prometheus file_sd file. Needs root (CAP_NET_ADMIN).
    Hosts(BenchHostsArgs),
}

/// `bench hosts` arguments.
#[derive(Debug, Args)]
pub(crate) struct BenchHostsArgs {
    /// Number of hosts (network namespaces, one fleet process each).
    #[arg(long, default_value_t = 1)]
    pub(crate) count: u32,
    /// Targets (listeners) per host; each needs two descriptors in its fleet process.
    #[arg(long, default_value_t = 100)]
    pub(crate) targets_per_host: u32,
    /// Security of every target: plain, basic, bearer, tls, mtls.
    #[arg(long, default_value = "tls")]
    pub(crate) mode: scrape_harness::bench::Mode,
    /// Keep-alive: on, or off (close each connection after its response).
    #[arg(long, default_value = "on", value_parser = scrape_harness::bench::parse_on_off)]
    pub(crate) keep_alive: bool,
    /// First port of each host's targets; its control endpoint is on the port after them.
    #[arg(long, default_value_t = 20_000)]
    pub(crate) base_port: u16,
    /// Write every target as a Prometheus `file_sd_configs` JSON file here.
    #[arg(long, value_name = "FILE")]
    pub(crate) targets_file: Option<PathBuf>,
    /// Remove the hosts after this long (default: hold until Ctrl-C).
    #[arg(long = "for", value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub(crate) hold_for: Option<std::time::Duration>,
    /// The fake-exporter binary (default: next to this binary, else on PATH).
    #[arg(long)]
    pub(crate) fake_exporter: Option<PathBuf>,
    /// Key type of the test PKI whose CA signs each host's certificate.
    #[arg(long, default_value = "ecdsa-p256")]
    pub(crate) key_type: fake_exporter::pki::KeyType,
}

/// `bench servers` arguments.
#[derive(Debug, Args)]
pub(crate) struct BenchServersArgs {
    /// Seconds per measured window.
    #[arg(long, default_value_t = 5)]
    pub(crate) seconds: u64,
    /// Windows per case (min/median/max are reported).
    #[arg(long, default_value_t = 3)]
    pub(crate) repeat: u32,
    /// Concurrent client connections.
    #[arg(long, default_value_t = 16)]
    pub(crate) connections: usize,
    /// The node_exporter binary.
    #[arg(long, default_value = "/usr/bin/prometheus-node-exporter")]
    pub(crate) node_exporter: PathBuf,
    /// The fake-exporter binary (default: next to this binary).
    #[arg(long)]
    pub(crate) fake_exporter: Option<PathBuf>,
    /// Key type of the server certificate (ecdsa-p256, ed25519, rsa2048).
    #[arg(long, default_value = "ecdsa-p256")]
    pub(crate) key_type: fake_exporter::pki::KeyType,
    /// Restrict the client to one TLS version (`1.2` or `1.3`); default: both (1.3 wins).
    #[arg(long)]
    pub(crate) tls_version: Option<scrape_harness::bench::servers::TlsVersionChoice>,
    /// Write the JSON report here (see --reports-dir).
    #[arg(long, value_name = "FILE")]
    pub(crate) json: Option<PathBuf>,
}

/// `bench raw-tls-server` arguments.
#[derive(Debug, Args)]
pub(crate) struct TlsServerArgs {
    /// Loopback address to listen on.
    #[arg(long)]
    pub(crate) listen: std::net::SocketAddr,
    /// Certificate chain (PEM).
    #[arg(long)]
    pub(crate) cert: PathBuf,
    /// Private key (PEM).
    #[arg(long)]
    pub(crate) key: PathBuf,
    /// What to answer: `tiny` (a fixed 69-byte body) or `fake-exporter` (fake-exporter's
    /// body and headers, gzip when asked: the same-body floor).
    #[arg(long, default_value = "tiny")]
    pub(crate) body: scrape_harness::bench::servers::RawBody,
}

/// `conformance` arguments.
#[derive(Debug, Args)]
pub(crate) struct ConformanceArgs {
    /// Command that starts the exporter under test, with `{listen}` and `{web_config}`
    /// placeholders, e.g. 'prometheus-node-exporter --web.listen-address={listen} --web.config.file={web_config}'.
    #[arg(long, conflicts_with = "target", required_unless_present = "target")]
    pub(crate) exec: Option<String>,
    /// An exporter that is already running (loopback HOST:PORT); only the cases that need
    /// no restart.
    #[arg(long)]
    pub(crate) target: Option<String>,
    /// With --target: `http` or `https`.
    #[arg(long, default_value = "http", requires = "target")]
    pub(crate) scheme: String,
    /// With --target: CA of the exporter's certificate.
    #[arg(long, requires = "target")]
    pub(crate) ca: Option<PathBuf>,
    /// With --target: client certificate Prometheus presents.
    #[arg(long, requires_all = ["target", "client_key"])]
    pub(crate) client_cert: Option<PathBuf>,
    /// With --target: key of the client certificate.
    #[arg(long, requires_all = ["target", "client_cert"])]
    pub(crate) client_key: Option<PathBuf>,
    /// With --target: USER:PASSWORD_FILE for Basic auth.
    #[arg(long, requires = "target")]
    pub(crate) basic_auth: Option<String>,
    /// With --target: file holding a Bearer token.
    #[arg(long, requires = "target")]
    pub(crate) bearer_file: Option<PathBuf>,
    /// With --target: metrics path.
    #[arg(long, default_value = "/metrics")]
    pub(crate) metrics_path: String,
    /// With --target: the CA certificate the target trusts for client certificates; with
    /// --client-ca-key, expired and serverAuth-only client certificates are issued from it.
    #[arg(long, requires_all = ["target", "client_ca_key"])]
    pub(crate) client_ca_cert: Option<PathBuf>,
    /// With --target: the key of --client-ca-cert (PEM, PKCS#8).
    #[arg(long, requires_all = ["target", "client_ca_cert"])]
    pub(crate) client_ca_key: Option<PathBuf>,
    /// With --target: a minimum the target must meet, as MUST cases: tls, mtls, auth
    /// (repeat or comma-separate).
    #[arg(long, value_delimiter = ',', requires = "target")]
    pub(crate) require: Vec<scrape_harness::conformance::Requirement>,
    /// The kind of target: toolkit (exporter-toolkit exactly), generic (any HTTP stack),
    /// proxy (nginx-style refusals). Default: toolkit for --exec, detected for --target.
    #[arg(long)]
    pub(crate) profile: Option<scrape_harness::conformance::Profile>,
    /// Which failures fail the run (exit 1, JUnit <failure>): must, should or may.
    #[arg(long, default_value = "must")]
    pub(crate) fail_on: scrape_harness::conformance::FailOn,
    /// Scrape timeout (and interval) of the Prometheus cases; the default (2s) leaves room
    /// for bcrypt at cost 12 on a busy 2-core machine.
    #[arg(long, value_parser = humantime::parse_duration)]
    pub(crate) scrape_timeout: Option<std::time::Duration>,
    /// Deadline of the whole run.
    #[arg(long, default_value = "15m", value_parser = humantime::parse_duration)]
    pub(crate) deadline: std::time::Duration,
    /// Samples per group of the auth timing check (≥ 200 for a verdict; 0 disables it).
    #[arg(long, default_value_t = 200)]
    pub(crate) timing_samples: usize,
    /// Time budget of the auth timing check: when answers are slow the samples are scaled
    /// down to what fits (the row says so, with the measured latencies).
    #[arg(long, default_value = "20s", value_parser = humantime::parse_duration)]
    pub(crate) timing_budget: std::time::Duration,
    /// A catalog file instead of the embedded scenarios/conformance.yaml.
    #[arg(long)]
    pub(crate) catalog: Option<PathBuf>,
    /// Report files.
    #[command(flatten)]
    pub(crate) reports: ReportFiles,
    /// Flags every command shares.
    #[command(flatten)]
    pub(crate) shared: SharedArgs,
}

/// The flags every command that runs Prometheus takes, in one place (`--help` lists them
/// under "Shared options"). Global: a command with subcommands (`lab`, `bench`) takes them
/// after its subcommand too.
#[derive(Debug, Args, Clone)]
#[command(next_help_heading = "Shared options")]
pub(crate) struct SharedArgs {
    /// Which Prometheus backend: `auto` (a container when a Docker engine answers, else a
    /// local process; the run says which), `container` or `process`. `lab` runs a local
    /// process only.
    #[arg(
        long,
        global = true,
        default_value = "auto",
        env = "HARNESS_BACKEND",
        value_name = "KIND"
    )]
    pub(crate) backend: BackendKind,
    /// Container image to run (pulled only when missing locally and named here). Default:
    /// the official image where it can be pulled, else one built offline from the local
    /// `prometheus` binary.
    #[arg(long, global = true, value_name = "IMAGE")]
    pub(crate) prometheus_image: Option<String>,
    /// Prometheus binary of the process backend, or the one the offline image is built
    /// from (promtool is taken from its folder when it is there). Default: `prometheus` on
    /// PATH.
    #[arg(long, global = true, value_name = "FILE")]
    pub(crate) prometheus_bin: Option<PathBuf>,
    /// Where report files go (--json, --junit, --html): a bare file name goes into this
    /// folder, a path with a folder (`out/x.json`, `/tmp/x.json`) is used as given; missing
    /// folders are created.
    #[arg(long, global = true, default_value = "reports", value_name = "DIR")]
    pub(crate) reports_dir: PathBuf,
    /// No progress bar (it is drawn on stderr, and only when stderr is a terminal).
    #[arg(long, global = true)]
    pub(crate) no_progress: bool,
    /// More detail per case: its description (run), every scrape (rotation), whole failure
    /// reports (receivers).
    #[arg(short, long, global = true, action = ArgAction::Count)]
    pub(crate) verbose: u8,
}

/// Where a report named `given` goes: a bare file name into `reports_dir`, any other path
/// as given; its folder is created. Returns the path to write.
pub(crate) fn report_path(reports_dir: &Path, given: &Path) -> anyhow::Result<PathBuf> {
    let path = match given.parent() {
        Some(parent) if parent.as_os_str().is_empty() => reports_dir.join(given),
        _ => given.to_owned(),
    };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating the report folder {}", parent.display()))?;
    }
    Ok(path)
}

impl SharedArgs {
    /// The Prometheus these flags choose.
    pub(crate) fn prometheus(&self) -> PrometheusChoice {
        PrometheusChoice {
            kind: self.backend,
            image: self.prometheus_image.clone(),
            binary: self.prometheus_bin.clone(),
        }
    }

    /// Where a report named `given` goes: a bare file name into `--reports-dir`, any other
    /// path as given; its folder is created. Returns the path to write.
    pub(crate) fn report_path(&self, given: &Path) -> anyhow::Result<PathBuf> {
        report_path(&self.reports_dir, given)
    }

    /// Writes `text` to the report named `given` (see [`report_path`](Self::report_path))
    /// and returns where it went.
    pub(crate) fn write_report(&self, given: &Path, text: &str) -> anyhow::Result<PathBuf> {
        let path = self.report_path(given)?;
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
        Ok(path)
    }
}

/// Says on stderr which report files were written, or how to ask for them.
pub(crate) fn say_written(written: &[PathBuf]) {
    if written.is_empty() {
        eprintln!("no report files written (--json FILE, --junit FILE write them)");
    } else {
        let names: Vec<String> = written.iter().map(|p| p.display().to_string()).collect();
        eprintln!("reports written: {}", names.join(", "));
    }
}

/// `run` arguments.
#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// Scenario files; none runs the embedded `scenarios/security-matrix.yaml`.
    pub(crate) files: Vec<PathBuf>,
    /// Report files.
    #[command(flatten)]
    pub(crate) reports: ReportFiles,
    /// Write the explain page of the run here (docs/explain.md): one self-contained HTML
    /// page, the cases grouped by the class Prometheus gave them, each with its evidence,
    /// cause, keys and fix (see --reports-dir).
    #[arg(long, value_name = "FILE")]
    pub(crate) html: Option<PathBuf>,
    /// Flags every command shares.
    #[command(flatten)]
    pub(crate) shared: SharedArgs,
}

/// Where to write machine-readable reports (placed by the --reports-dir rule).
#[derive(Debug, Args, Clone, Default)]
pub(crate) struct ReportFiles {
    /// Write the JSON report here (see --reports-dir).
    #[arg(long, value_name = "FILE")]
    pub(crate) json: Option<PathBuf>,
    /// Write a JUnit XML report here (see --reports-dir).
    #[arg(long, value_name = "FILE")]
    pub(crate) junit: Option<PathBuf>,
}

/// `generate` arguments.
#[derive(Debug, Args)]
pub(crate) struct GenerateArgs {
    /// Axes to vary over all their values, comma-separated: server-cert, client-auth,
    /// client-cert, server-tls, client-tls, exporter-http2, scrape-http2, auth. Neither
    /// --axes nor --axis: every axis.
    #[arg(long)]
    pub(crate) axes: Vec<String>,
    /// An axis over some of its values, e.g. `--axis server-cert=valid,expired`
    /// (repeatable). `--list` shows every axis and value.
    #[arg(long)]
    pub(crate) axis: Vec<String>,
    /// Exactly this many cases: a larger product is sampled (seeded), a smaller one
    /// repeated.
    #[arg(long)]
    pub(crate) cases: Option<usize>,
    /// Scrape interval and timeout, or `auto`: picked from the case count and this
    /// machine's cores (stated on stderr and in the run's header).
    #[arg(long, default_value = "auto")]
    pub(crate) interval: String,
    /// Scrapes per target before verdicts.
    #[arg(long, default_value_t = 3)]
    pub(crate) scrapes: u32,
    /// Leave out what only fake-exporter serves (Bearer tokens), to run the file against an
    /// exporter-toolkit exporter such as node_exporter.
    #[arg(long)]
    pub(crate) toolkit_only: bool,
    /// Seed of the sample taken by --cases.
    #[arg(long, default_value_t = 15)]
    pub(crate) seed: u64,
    /// Write here instead of stdout.
    #[arg(long, short)]
    pub(crate) out: Option<PathBuf>,
    /// Print the axes and their values, and the rules table, instead of generating.
    #[arg(long)]
    pub(crate) list: bool,
}

/// `certs` arguments.
#[derive(Debug, Args)]
pub(crate) struct CertsArgs {
    /// Output directory.
    #[arg(long)]
    pub(crate) out: PathBuf,
    /// Key type of every key.
    #[arg(long, default_value = "ecdsa-p256")]
    pub(crate) key_type: fake_exporter::pki::KeyType,
}

/// Runs a parsed command line and returns the exit code. Errors print once, with their
/// whole chain.
pub(crate) async fn main(cli: Cli) -> ExitCode {
    let outcome = scrape_harness::prometheus::cancel_on_ctrl_c(dispatch(cli)).await;
    match outcome {
        Some(Ok(code)) => ExitCode::from(code),
        Some(Err(err)) => {
            eprintln!("scrape-harness: error: {}", chain_once(&err));
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

/// The error and its causes, `: `-separated, each cause left out when the message before
/// it already says it (library messages name their cause, which `{:#}` would repeat).
fn chain_once(err: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in err.chain() {
        let message = cause.to_string();
        if text.contains(&message) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&message);
    }
    text
}

async fn dispatch(cli: Cli) -> anyhow::Result<u8> {
    match cli.command {
        Command::Run(args) => run(args).await,
        Command::Conformance(args) => conformance(args).await,
        Command::Bench(args) => bench(args).await,
        Command::Lab(args) => lab::run(args).await,
        Command::Rotation(args) => rotation::run(args).await,
        Command::Receivers(args) => receivers::run(args).await,
        Command::Explain(args) => explain::run(args).await,
        Command::Generate(args) => generate(args),
        Command::Certs(args) => {
            // What `fake-exporter pki` does, with the same words.
            let pki =
                fake_exporter::pki::Pki::generate(args.key_type).context("generating the PKI")?;
            let files = pki
                .write_to(&args.out)
                .with_context(|| format!("writing the PKI to {}", args.out.display()))?;
            println!(
                "wrote {} files ({} keys) to {}; see README.txt there",
                fake_exporter::pki::PkiFiles::names().len(),
                args.key_type,
                files.dir().display()
            );
            Ok(EXIT_PASS)
        }
    }
}

async fn run(args: RunArgs) -> anyhow::Result<u8> {
    let plan = Plan::load(&args.files)?;
    // The page explains the live Prometheus (risks and check commands included), watching
    // three more scrape intervals for keep-alive. No TLS probes: their connections would
    // count in the exporters' connection and handshake totals the run judges.
    let explain_live = args
        .html
        .is_some()
        .then(|| scrape_harness::explain::ExplainOptions {
            keepalive_window: (plan.defaults.scrape_interval * 3)
                .max(std::time::Duration::from_secs(3)),
            probe_tls: false,
            ..Default::default()
        });
    let options = RunOptions {
        prometheus: args.shared.prometheus(),
        progress: !args.shared.no_progress,
        explain_live,
        ..RunOptions::default()
    };
    let sources: Vec<String> = args.files.iter().map(|f| f.display().to_string()).collect();
    eprint!(
        "{}",
        report::header(&plan, &sources, options.prometheus.kind.as_str())
    );
    let report = scrape_harness::run(&plan, &options).await?;
    // On an overloaded machine the failures are the machine's: one message says so (below).
    for c in report
        .cases
        .iter()
        .filter(|c| !c.pass && !report.unjudged(c))
    {
        eprintln!();
        eprint!("{}", report::failure_block(c));
    }
    if let Some(failures) = report.receivers.as_ref().map(|r| r.failures()) {
        if !failures.is_empty() {
            eprintln!("\n{failures}");
        }
    }
    let mut written = Vec::new();
    if let Some(path) = &args.reports.json {
        let path = args.shared.report_path(path)?;
        report::write_json(&report, &path)?;
        written.push(path);
    }
    if let Some(path) = &args.reports.junit {
        let path = args.shared.report_path(path)?;
        report::write_junit(&report, &sources.join(", "), &path)?;
        written.push(path);
    }
    if let Some(path) = &args.html {
        let path = args.shared.report_path(path)?;
        // From the run's own verdicts when the live Prometheus could not be explained.
        let explained = match &report.explained {
            Some(live) => live.clone(),
            None => scrape_harness::explain::from_run(&report),
        };
        let page = scrape_harness::explain::html(&explained);
        scrape_harness::explain::write_text(&page, &path)?;
        written.push(path);
    }
    say_written(&written);
    // Last on stdout: the table, which ends with `N passed, M failed`.
    print!(
        "{}",
        report::all_tables(&report, &plan, args.shared.verbose > 0)
    );
    if report.cases.iter().any(|c| report.unjudged(c)) {
        eprintln!(
            "scrape-harness: overload: {}",
            report::overload_message(&report)
        );
    }
    if report.failed_from_overload() {
        return Ok(EXIT_ERROR);
    }
    if report.health.overloaded() && report.all_passed() {
        eprintln!(
            "scrape-harness: note: every verdict held, but the machine was near its limit: {}",
            report.health.advice()
        );
    }
    Ok(if report.all_passed() {
        EXIT_PASS
    } else {
        EXIT_FAIL
    })
}

fn generate(args: GenerateArgs) -> anyhow::Result<u8> {
    use scrape_harness::generate::{self, rules::RULES, Axes, AxisName, GenerateOptions};
    if args.list {
        for axis in AxisName::ALL {
            println!("{:<15} {}", axis.as_str(), axis.values().join(", "));
        }
        println!();
        for rule in RULES {
            println!("{}  {}\n    → {}", rule.id, rule.when, rule.then);
        }
        return Ok(EXIT_PASS);
    }
    let interval = match args.interval.as_str() {
        "auto" => None,
        text => Some(humantime::parse_duration(text).with_context(|| {
            format!("--interval `{text}`: give a duration such as 1s or 500ms, or `auto`")
        })?),
    };
    anyhow::ensure!(
        args.scrapes >= 2,
        "--scrapes {}: use at least 2 (keep-alive is judged from the scrapes after the first)",
        args.scrapes
    );
    let opts = GenerateOptions {
        axes: Axes::parse(&args.axes, &args.axis)?,
        cases: args.cases,
        interval,
        scrapes: args.scrapes,
        toolkit_only: args.toolkit_only,
        seed: args.seed,
    };
    let generated = generate::generate(&opts)?;
    match &args.out {
        Some(path) => std::fs::write(path, &generated.yaml)
            .with_context(|| format!("writing {}", path.display()))?,
        None => print!("{}", generated.yaml),
    }
    eprintln!(
        "scrape-harness: generated {} case(s) ({} distinct combination(s) of a product of {}), \
         scrape interval {}{}",
        generated.cases,
        generated.combinations,
        generated.product,
        humantime::format_duration(generated.interval),
        if generated.paced {
            " (auto: paced for this many cases on this machine's cores)"
        } else {
            ""
        }
    );
    Ok(EXIT_PASS)
}

async fn conformance(args: ConformanceArgs) -> anyhow::Result<u8> {
    use scrape_harness::conformance::{self, ConformanceOptions};
    let opts = ConformanceOptions {
        run: RunOptions {
            prometheus: args.shared.prometheus(),
            progress: !args.shared.no_progress,
            ..RunOptions::default()
        },
        timing_samples: args.timing_samples,
        timing_budget: args.timing_budget,
        catalog: args.catalog.clone(),
        scrape_timeout: args.scrape_timeout,
        profile: args.profile,
        fail_on: args.fail_on,
        deadline: args.deadline,
        ..ConformanceOptions::default()
    };
    if let Some(t) = args.scrape_timeout {
        anyhow::ensure!(
            t >= std::time::Duration::from_millis(100),
            "--scrape-timeout {t:?} is too short for any TLS handshake; use at least 100ms (default 2s)"
        );
    }
    if args.timing_samples != 0 && args.timing_samples < 200 {
        eprintln!(
            "scrape-harness: note: --timing-samples {} is below 200; the timing verdict is weak",
            args.timing_samples
        );
    }
    let report = match (&args.exec, &args.target) {
        (Some(exec), _) => {
            let template = scrape_harness::runs::ExecTemplate::parse(exec)?;
            conformance::run_exec(template, &opts).await?
        }
        (None, Some(target)) => {
            conformance::run_target(&target_spec(&args, target)?, &opts).await?
        }
        (None, None) => {
            anyhow::bail!("give --exec 'CMD {{listen}} {{web_config}}' or --target HOST:PORT")
        }
    };
    let mut written = Vec::new();
    if let Some(path) = &args.reports.json {
        let json = serde_json::to_string_pretty(&report)?;
        written.push(args.shared.write_report(path, &json)?);
    }
    if let Some(path) = &args.reports.junit {
        written.push(args.shared.write_report(path, &report.junit())?);
    }
    say_written(&written);
    print!("{}", report.table());
    let scores = report.scores();
    let passed = scores.values().map(|s| s.pass).sum();
    let failed = scores.values().map(|s| s.fail + s.timeout).sum();
    print!(
        "{}",
        report::legend_and_summary(report::CONFORMANCE_LEGEND, passed, failed)
    );
    Ok(if report.failed() {
        EXIT_FAIL
    } else {
        EXIT_PASS
    })
}

/// The running exporter `--target` names, with what Prometheus needs to scrape it.
fn target_spec(
    args: &ConformanceArgs,
    target: &str,
) -> anyhow::Result<scrape_harness::conformance::TargetSpec> {
    let basic_auth = match &args.basic_auth {
        Some(v) => {
            let (user, file) = v.split_once(':').context(
                "--basic-auth takes USER:PASSWORD_FILE, e.g. prom:/etc/prometheus/password",
            )?;
            Some((user.to_owned(), PathBuf::from(file)))
        }
        None => None,
    };
    let https = match args.scheme.as_str() {
        "https" => true,
        "http" => false,
        other => anyhow::bail!("--scheme `{other}`: use http or https"),
    };
    anyhow::ensure!(
        !https || args.ca.is_some(),
        "--scheme https needs --ca FILE (the CA that signed the exporter's certificate)"
    );
    Ok(scrape_harness::conformance::TargetSpec {
        target: target.to_owned(),
        https,
        ca: args.ca.clone(),
        client_cert: args.client_cert.clone().zip(args.client_key.clone()),
        basic_auth,
        bearer_file: args.bearer_file.clone(),
        metrics_path: args.metrics_path.clone(),
        client_ca: args.client_ca_cert.clone().zip(args.client_ca_key.clone()),
        require: args.require.clone(),
    })
}

/// The remote part of `bench`'s arguments, checked: `--prometheus` and `--fleet` go
/// together, and `--shards` is local mode's (remote shards are the `--prometheus` URLs).
fn remote_options(
    args: &BenchArgs,
) -> anyhow::Result<Option<scrape_harness::bench::RemoteOptions>> {
    anyhow::ensure!(
        args.shards >= 1,
        "--shards {}: give at least 1 (the number of Prometheus servers local mode starts)",
        args.shards
    );
    let access = &args.access;
    let access_given = access.ca.is_some()
        || access.client_cert.is_some()
        || access.basic_auth.is_some()
        || access.bearer_file.is_some();
    match (args.prometheus.is_empty(), args.fleet.is_empty()) {
        (true, true) if access_given => anyhow::bail!(
            "--ca, --client-cert, --basic-auth and --bearer-file reach a remote Prometheus: give it with --prometheus URL (and its fleets with --fleet)"
        ),
        (true, true) => return Ok(None),
        (true, false) => anyhow::bail!(
            "--fleet needs --prometheus URL: remote mode measures a Prometheus the bench did not start, scraping those fleets"
        ),
        (false, true) => anyhow::bail!(
            "--prometheus needs --fleet URL,...: the control endpoints of the fleets it scrapes (fake-exporter fleet --control.listen-address)"
        ),
        (false, false) => {}
    }
    anyhow::ensure!(
        args.shards == 1,
        "--shards {} with --prometheus: in remote mode every --prometheus URL is a shard; leave --shards out",
        args.shards
    );
    anyhow::ensure!(
        args.hosts == 0,
        "--hosts {} with --prometheus: remote mode starts no fleet; give the fleets' control endpoints with --fleet",
        args.hosts
    );
    let prometheus = args
        .prometheus
        .iter()
        .map(|url| {
            args.access
                .api(url)
                .with_context(|| format!("--prometheus {url}"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(Some(scrape_harness::bench::RemoteOptions {
        prometheus,
        fleets: args.fleet.clone(),
        job: args.job.clone(),
    }))
}

async fn bench(args: BenchArgs) -> anyhow::Result<u8> {
    use scrape_harness::bench::{self, servers, BenchOptions, Mode};
    match args.action {
        Some(BenchAction::RawTlsServer(a)) => {
            anyhow::ensure!(
                a.listen.ip().is_loopback(),
                "--listen {}: use a loopback address",
                a.listen
            );
            servers::serve_raw_tls(a.listen, &a.cert, &a.key, a.body).await?;
            return Ok(EXIT_PASS);
        }
        Some(BenchAction::Hosts(a)) => return bench_hosts(a).await,
        Some(BenchAction::Servers(a)) => {
            let mut opts = servers::ServersOptions::new();
            opts.seconds = std::time::Duration::from_secs(a.seconds.max(1));
            opts.repeat = a.repeat;
            opts.connections = a.connections.max(1);
            opts.node_exporter = a.node_exporter;
            opts.key_type = a.key_type;
            opts.tls_version = a.tls_version;
            if let Some(f) = a.fake_exporter {
                opts.fake_exporter = f;
            }
            let report = servers::run(&opts).await?;
            if let Some(path) = &a.json {
                let json = serde_json::to_string_pretty(&report)?;
                say_written(&[args.shared.write_report(path, &json)?]);
            }
            print!("{}", servers::table(&report));
            return Ok(EXIT_PASS);
        }
        None => {}
    }
    let opts = BenchOptions {
        shards: args.shards,
        hosts: args.hosts,
        series: args.series,
        remote: remote_options(&args)?,
        warmup_timeout: args.warmup_timeout,
        targets: bench::parse_list("--targets", &args.targets, str::parse::<u32>)?,
        modes: bench::parse_list("--modes", &args.modes, str::parse::<Mode>)?,
        keep_alive: bench::parse_list("--keep-alive", &args.keep_alive, bench::parse_on_off)?,
        interval: args.interval,
        duration: args.duration,
        checkpoints: args.checkpoints,
        repeat: args.repeat,
        base_port: args.base_port,
        prometheus: args.shared.prometheus(),
        progress: !args.shared.no_progress,
    };
    let report = bench::run(&opts).await?;
    let mut written = Vec::new();
    if let Some(path) = &args.json {
        let path = args.shared.report_path(path)?;
        bench::write_json(&report, &path)?;
        written.push(path);
    }
    if let Some(path) = &args.html {
        let path = args.shared.report_path(path)?;
        bench::write_html(&report, &path)?;
        written.push(path);
    }
    say_written(&written);
    print!("{}", bench::table(&report));
    let passed = report.rows.iter().filter(|r| r.pass).count();
    print!(
        "{}",
        report::legend_and_summary(report::BENCH_LEGEND, passed, report.rows.len() - passed)
    );
    Ok(if report.all_passed() {
        EXIT_PASS
    } else {
        EXIT_FAIL
    })
}

/// `bench hosts`: creates the hosts, prints them, holds until Ctrl-C (main's
/// `cancel_on_ctrl_c` drops them) or `--for`, then removes them.
async fn bench_hosts(args: BenchHostsArgs) -> anyhow::Result<u8> {
    use scrape_harness::bench::{self, BenchFiles, FleetHosts, HostsSpec, Mode};
    let mut spec = HostsSpec::new(args.count, args.targets_per_host, args.mode);
    spec.keep_alive = args.keep_alive;
    spec.base_port = args.base_port;
    if let Some(path) = args.fake_exporter {
        spec.fake_exporter = path;
    }
    let files = BenchFiles::create("bench-hosts", args.key_type).await?;
    let hosts = FleetHosts::create(&spec, &files).await?;
    for host in hosts.hosts() {
        let ports = host.ports();
        println!(
            "host {}: namespace {}, address {}, fleet pid {}, control {}, targets {}:{}-{}",
            host.index(),
            host.namespace(),
            host.address(),
            host.pid(),
            host.control_url(),
            host.address(),
            ports.start(),
            ports.end()
        );
    }
    println!(
        "{} hosts, {} {} targets (keep-alive {}), up in {:.2}s",
        hosts.hosts().len(),
        hosts.targets().len(),
        spec.mode,
        if spec.keep_alive { "on" } else { "off" },
        hosts.created_in().as_secs_f64()
    );
    // What a scrape job of these targets needs.
    match spec.mode {
        Mode::Plain => {}
        Mode::Basic => println!(
            "basic_auth: username {}, password {}",
            bench::BASIC_USER,
            bench::BASIC_PASSWORD
        ),
        Mode::Bearer => println!("authorization: credentials {}", bench::BEARER_TOKEN),
        Mode::Tls | Mode::Mtls => {
            println!("tls_config.ca_file: {}", files.pki().ca().display());
        }
    }
    if spec.mode == Mode::Mtls {
        let client = fake_exporter::pki::ClientCert::Valid;
        println!(
            "tls_config.cert_file: {}, key_file: {}",
            files.pki().client_cert(client).display(),
            files.pki().client_key(client).display()
        );
    }
    if let Some(path) = &args.targets_file {
        hosts.write_file_sd(path)?;
        println!("targets (file_sd_configs): {}", path.display());
    }
    println!("--fleet {}", hosts.control_urls().join(","));
    match args.hold_for {
        Some(hold) => {
            println!(
                "holding for {}; Ctrl-C removes them sooner",
                humantime::format_duration(hold)
            );
            tokio::time::sleep(hold).await;
        }
        None => {
            println!("holding until Ctrl-C");
            std::future::pending::<()>().await;
        }
    }
    let started = std::time::Instant::now();
    let count = hosts.hosts().len();
    hosts.remove()?;
    println!(
        "removed {count} hosts (fleets, veths, namespaces) in {:.2}s",
        started.elapsed().as_secs_f64()
    );
    Ok(EXIT_PASS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("reading x.yaml: {source}")]
    struct Repeats {
        source: std::io::Error,
    }

    #[derive(Debug, thiserror::Error)]
    #[error("reading y.yaml")]
    struct Silent {
        source: std::io::Error,
    }

    #[test]
    fn every_command_that_runs_prometheus_takes_the_shared_flags_with_defaults_in_help() {
        use clap::CommandFactory as _;
        let mut cli = Cli::command();
        cli.build();
        for path in [
            &["run"][..],
            &["conformance"],
            &["bench"],
            &["bench", "servers"],
            &["rotation"],
            &["receivers"],
            &["explain"],
        ] {
            let mut command = &mut cli;
            for name in path {
                command = command
                    .find_subcommand_mut(name)
                    .unwrap_or_else(|| panic!("no subcommand {path:?}"));
            }
            let help = command.render_long_help().to_string();
            for want in [
                "Shared options:",
                "--backend <KIND>",
                "[default: auto]",
                "--prometheus-image <IMAGE>",
                "--prometheus-bin <FILE>",
                "--reports-dir <DIR>",
                "[default: reports]",
                "a bare file name goes into this folder",
                "--no-progress",
                "--verbose",
            ] {
                assert!(
                    help.contains(want),
                    "{path:?} --help lacks `{want}`:\n{help}"
                );
            }
        }
    }

    #[test]
    fn a_bare_report_name_goes_into_the_reports_dir_and_a_path_with_a_folder_as_given(
    ) -> anyhow::Result<()> {
        let tmp = tempfile::tempdir()?;
        let dir = tmp.path().join("r");
        let dir_arg = dir.to_str().context("utf-8")?;
        let cli = Cli::try_parse_from(["scrape-harness", "rotation", "--reports-dir", dir_arg])?;
        let Command::Rotation(args) = cli.command else {
            anyhow::bail!("parsed as another command");
        };
        assert_eq!(
            args.shared.report_path(Path::new("x.json"))?,
            dir.join("x.json")
        );
        assert!(dir.is_dir(), "the reports folder is created");
        let given = tmp.path().join("other").join("y.xml");
        assert_eq!(args.shared.report_path(&given)?, given);
        assert!(tmp.path().join("other").is_dir());
        let written = args.shared.write_report(Path::new("z.txt"), "text")?;
        assert_eq!(std::fs::read_to_string(written)?, "text");
        Ok(())
    }

    #[test]
    fn a_cause_is_printed_once() {
        let io = || std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        let repeated = anyhow::Error::new(Repeats { source: io() }).context("loading");
        assert_eq!(
            chain_once(&repeated),
            "loading: reading x.yaml: no such file"
        );
        let silent = anyhow::Error::new(Silent { source: io() });
        assert_eq!(chain_once(&silent), "reading y.yaml: no such file");
    }
}

//! `fake-exporter`: a drop-in for node_exporter's command line that serves synthetic
//! metrics behind any scrape-security mode, plus `pki` and `fleet` subcommands.
//!
//! `pki` is the one command that writes the test PKI (`scrape-harness certs` is an alias
//! making the same library call). With `FAKE_EXPORTER_CHECK_ARGS=1` in the environment the
//! binary only parses its command line (usage errors exit 2 as always) and exits 0: the
//! docs test checks every example command line that way.

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};
use fake_exporter::pki::{KeyType, Pki};
use fake_exporter::Fleet;
use fake_exporter::MetricsSpec;
use fake_exporter::StatsSnapshot;
use fake_exporter::{FakeExporter, ListenerHandle};
use fake_exporter::{FaultSpec, Mutant};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

/// Serve Prometheus metrics behind every security mode a real exporter can have.
///
/// Without a subcommand it behaves like node_exporter: the same `--web.*` flags and the
/// same `web-config.yml` (exporter-toolkit), so it can replace node_exporter in any lab.
#[derive(Debug, Parser)]
#[command(
    name = "fake-exporter",
    version,
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Write the test PKI (CA, intermediate, rogue CA, valid and broken server and client
    /// certificates) into a directory, with a README.txt naming every file.
    /// `scrape-harness certs` is an alias.
    Pki(PkiArgs),
    /// Serve many exporters on explicit port ranges from a fleet file.
    Fleet(FleetArgs),
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// Address to listen on (repeatable), like node_exporter.
    #[arg(long = "web.listen-address", value_name = "ADDR", value_parser = parse_listen_address)]
    listen: Vec<SocketAddr>,
    /// exporter-toolkit web config (TLS, Basic auth, headers, rate limit), re-read on every
    /// request and connection.
    #[arg(long = "web.config.file", value_name = "FILE")]
    web_config: Option<PathBuf>,
    /// Path under which to expose metrics.
    #[arg(long = "web.telemetry-path", default_value = "/metrics")]
    telemetry_path: String,
    /// Which exporter to imitate where versions differ: `current` (exporter-toolkit with
    /// Go >= 1.21) or `node_exporter-1.5` (Go 1.19 TLS alerts: bad_certificate for every
    /// refused client certificate; the landing page on every unknown path).
    #[arg(long, default_value = "current", value_parser = parse_compat)]
    compat: fake_exporter::Compat,
    /// Number of samples exposed (exact: Prometheus' scrape_samples_scraped).
    #[arg(long = "metrics.series", default_value_t = MetricsSpec::default().series)]
    series: usize,
    /// Faults, comma separated: delay=2s, status=503, close-after-response, reset,
    /// content-type=missing|VALUE, oversize-body=20MiB, slow-body=100ms, garbage-body.
    #[arg(long = "fault", value_name = "FAULTS", value_parser = parse_faults)]
    faults: Option<FaultSpec>,
    /// Deliberately insecure behaviour, to check that a conformance suite notices it
    /// (repeatable): insecure-accept-any-password, insecure-skip-client-chain-verification,
    /// insecure-ignore-client-cert-expiry, insecure-ignore-client-allowed-sans,
    /// no-www-authenticate, echo-credentials. Never use outside tests.
    #[arg(long = "insecure.mutant", value_name = "MUTANT")]
    mutants: Vec<Mutant>,
    /// Also receive what Prometheus sends, behind the same TLS and auth: `alertmanager`
    /// (`POST /api/v2/alerts`, counts alerts) or `remote-write` (snappy protobuf
    /// WriteRequest on any POST path, counts series and samples); counts are on the
    /// control endpoint.
    #[arg(long = "receiver", value_name = "KIND")]
    receiver: Option<fake_exporter::Receiver>,
    /// Plain-HTTP control endpoint with this exporter's counters (`/stats` JSON, `/metrics`
    /// as fake_exporter_* metrics).
    #[arg(long = "control.listen-address", value_name = "ADDR")]
    control: Option<SocketAddr>,
    /// Record what each request showed (connection, certificate serials, credential
    /// fingerprint) in a ring buffer of the last N requests, served on the control endpoint
    /// as `/observations`; `POST /close-connections` there forces reconnects. Needs
    /// --control.listen-address.
    #[arg(long = "control.observe", value_name = "N", requires = "control")]
    observe: Option<usize>,
    /// Log level (error, warn, info, debug).
    #[arg(long = "log.level", default_value = "info")]
    log_level: String,
    #[command(flatten)]
    defences: DefenceArgs,
}

/// Defences against hostile clients (fake-exporter extensions; exporter-toolkit has none).
#[derive(Debug, Args)]
struct DefenceArgs {
    /// Deadline of a TLS handshake, from accept; a connection that misses it is closed.
    #[arg(long = "limits.handshake-timeout", value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    handshake_timeout: std::time::Duration,
    /// Deadline of a request head (HTTP/1 headers; HTTP/2 preface and first HEADERS), from
    /// when the connection is ready or, on a keep-alive connection, the head's first byte.
    #[arg(long = "limits.head-timeout", value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    head_timeout: std::time::Duration,
    /// Cap on open connections of the whole process; at the cap the oldest idle
    /// unauthenticated connection is shed. Default: the soft RLIMIT_NOFILE minus the
    /// listeners minus 64.
    #[arg(long = "limits.max-connections", value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    max_connections: Option<u64>,
}

fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    match humantime::parse_duration(s) {
        Ok(d) if !d.is_zero() => Ok(d),
        Ok(_) => Err(format!("`{s}`: a deadline must be above zero")),
        Err(e) => Err(format!("`{s}`: {e} (write e.g. 10s or 500ms)")),
    }
}

#[derive(Debug, Args)]
struct PkiArgs {
    /// Output directory (created if missing).
    #[arg(long)]
    out: PathBuf,
    /// Key type of every key.
    #[arg(long, default_value = "ecdsa-p256")]
    key_type: KeyType,
}

#[derive(Debug, Args)]
struct FleetArgs {
    /// Fleet file (YAML: host, connections_per_listener, groups each with a name, ports,
    /// and optionally web_config, metrics, faults, telemetry_path). `--example` prints a
    /// commented one.
    #[arg(long, required_unless_present = "example")]
    config: Option<PathBuf>,
    /// Print a commented fleet file and exit.
    #[arg(long)]
    example: bool,
    /// Plain-HTTP control endpoint: `/stats` per group (`/stats?per=listener` per
    /// listener), `/metrics` per listener.
    #[arg(long = "control.listen-address", value_name = "ADDR")]
    control: Option<SocketAddr>,
    /// Flags win over the fleet file's `handshake_timeout`, `head_timeout` and
    /// `max_connections` when given.
    #[command(flatten)]
    defences: FleetDefenceArgs,
}

/// [`DefenceArgs`] for a fleet, where the fleet file may set them too.
#[derive(Debug, Args)]
struct FleetDefenceArgs {
    /// Deadline of a TLS handshake (default 10s, or the fleet file's `handshake_timeout`).
    #[arg(long = "limits.handshake-timeout", value_name = "DURATION", value_parser = parse_duration)]
    handshake_timeout: Option<std::time::Duration>,
    /// Deadline of a request head (default 10s, or the fleet file's `head_timeout`).
    #[arg(long = "limits.head-timeout", value_name = "DURATION", value_parser = parse_duration)]
    head_timeout: Option<std::time::Duration>,
    /// Cap on open connections of the whole fleet (default: the soft RLIMIT_NOFILE minus
    /// the listeners minus 64, or the fleet file's `max_connections`).
    #[arg(long = "limits.max-connections", value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    max_connections: Option<u64>,
}

/// The commented fleet template (`fleet --example`), also `examples/fleet.yaml`.
const FLEET_EXAMPLE: &str = include_str!("../examples/fleet.yaml");

/// `--web.listen-address` as node_exporter takes it: `HOST:PORT`, `:PORT` (every
/// interface), `[::1]:PORT`, or `localhost:PORT`.
fn parse_listen_address(s: &str) -> Result<SocketAddr, String> {
    if let Some(port) = s.strip_prefix(':') {
        let port: u16 = port
            .parse()
            .map_err(|_| format!("`{s}`: `{port}` is not a port"))?;
        return Ok(SocketAddr::from(([0, 0, 0, 0], port)));
    }
    if let Ok(addr) = s.parse() {
        return Ok(addr);
    }
    use std::net::ToSocketAddrs;
    s.to_socket_addrs()
        .ok()
        .and_then(|mut it| it.next())
        .ok_or_else(|| format!("`{s}` is not HOST:PORT (e.g. 127.0.0.1:9100, :9100, [::1]:9100)"))
}

fn parse_faults(s: &str) -> Result<FaultSpec, String> {
    FaultSpec::parse_flag(s).map_err(|e| e.to_string())
}

fn main() -> ExitCode {
    let (args, ignored) = node_exporter_compat::split_args(std::env::args_os());
    let cli = Cli::parse_from(args);
    if std::env::var_os("FAKE_EXPORTER_CHECK_ARGS").is_some() {
        println!("{cli:?}");
        return ExitCode::SUCCESS;
    }
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&cli.serve.log_level));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    if !ignored.is_empty() {
        tracing::warn!(
            "ignoring node_exporter flags that mean nothing to fake-exporter: {}",
            ignored.join(" ")
        );
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("fake-exporter: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("fake-exporter: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Some(Command::Pki(args)) => pki(args),
        Some(Command::Fleet(args)) => fleet(args).await,
        None => serve(cli.serve).await,
    }
}

fn pki(args: PkiArgs) -> anyhow::Result<()> {
    let pki = Pki::generate(args.key_type).context("generating the PKI")?;
    let files = pki
        .write_to(&args.out)
        .with_context(|| format!("writing the PKI to {}", args.out.display()))?;
    println!(
        "wrote {} files ({} keys) to {}; see README.txt there",
        fake_exporter::pki::PkiFiles::names().len(),
        args.key_type,
        files.dir().display()
    );
    Ok(())
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let mut builder = FakeExporter::builder()
        .telemetry_path(args.telemetry_path.clone())
        .compat(args.compat)
        .metrics(MetricsSpec {
            series: args.series,
            ..MetricsSpec::default()
        })
        .faults(args.faults.unwrap_or_default())
        .mutants(args.mutants.clone())
        .handshake_timeout(args.defences.handshake_timeout)
        .head_timeout(args.defences.head_timeout);
    if let Some(cap) = args.defences.max_connections {
        builder = builder.max_connections(cap);
    }
    if let Some(receiver) = args.receiver {
        builder = builder.receiver(receiver);
    }
    let listen = if args.listen.is_empty() {
        vec![SocketAddr::from(([127, 0, 0, 1], 9100))]
    } else {
        args.listen
    };
    for addr in listen {
        builder = builder.listen(addr);
    }
    if let Some(path) = &args.web_config {
        builder = builder.web_config_file(path);
    }
    if let Some(capacity) = args.observe {
        builder = builder.observe(capacity);
    }
    let exporter = builder
        .start()
        .await
        .context("starting the exporter (check --web.listen-address and --web.config.file)")?;
    for w in exporter.warnings() {
        eprintln!("fake-exporter: WARNING: {w}");
    }
    for l in exporter.listeners() {
        tracing::info!(
            address = %l.addr,
            tls = exporter.is_tls(),
            "Listening on {}",
            l.addr
        );
    }
    tracing::info!(
        "connection cap {}, handshake and head deadlines {:?} and {:?}",
        exporter.max_connections(),
        args.defences.handshake_timeout,
        args.defences.head_timeout
    );
    let _control = match args.control {
        Some(addr) => {
            let app = fake_exporter::control_app(Arc::new(exporter.listeners().to_vec()))
                .merge(fake_exporter::observation_app(exporter.control()));
            Some(control::serve(addr, app).await?)
        }
        None => None,
    };
    wait_for_signal().await;
    let stats: StatsSnapshot = exporter.shutdown().await;
    tracing::info!(
        connections = stats.connections_accepted,
        handshakes = stats.handshakes_ok,
        requests = stats.requests_total(),
        "stopped"
    );
    Ok(())
}

async fn fleet(args: FleetArgs) -> anyhow::Result<()> {
    let Some(config) = &args.config else {
        print!("{FLEET_EXAMPLE}");
        return Ok(());
    };
    let mut builder = Fleet::from_file(config)?;
    if let Some(timeout) = args.defences.handshake_timeout {
        builder = builder.handshake_timeout(timeout);
    }
    if let Some(timeout) = args.defences.head_timeout {
        builder = builder.head_timeout(timeout);
    }
    if let Some(cap) = args.defences.max_connections {
        builder = builder.max_connections(cap);
    }
    let fleet = builder
        .start()
        .await
        .with_context(|| format!("{}: starting the fleet", config.display()))?;
    for w in fleet.warnings() {
        eprintln!("fake-exporter: WARNING: {w}");
    }
    let budget = fleet.budget();
    let total: usize = fleet.groups().iter().map(|g| g.listeners.len()).sum();
    println!(
        "fleet: {total} listeners in {} groups up in {:.3}s; fd budget {} of {} (listeners {}, keep-alive {}, reserve {})",
        fleet.groups().len(),
        fleet.start_duration().as_secs_f64(),
        budget.needed(),
        budget.limit,
        budget.listeners,
        budget.connections,
        budget.reserve
    );
    println!("fleet: connection cap {}", fleet.max_connections());
    for g in fleet.groups() {
        let first = g
            .listeners
            .first()
            .map(|l| l.addr.to_string())
            .unwrap_or_default();
        let last = g
            .listeners
            .last()
            .map(|l| l.addr.to_string())
            .unwrap_or_default();
        println!(
            "  {}: {} listeners {first} .. {last} ({})",
            g.name,
            g.listeners.len(),
            if g.tls { "TLS" } else { "plain" }
        );
    }
    let groups: Vec<(String, Vec<ListenerHandle>)> = fleet
        .groups()
        .iter()
        .map(|g| (g.name.clone(), g.listeners.clone()))
        .collect();
    let _control = match args.control {
        Some(addr) => Some(control::serve(addr, fake_exporter::fleet_control_app(groups)).await?),
        None => None,
    };
    wait_for_signal().await;
    fleet.shutdown().await;
    Ok(())
}

async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let Ok(mut term) = signal(SignalKind::terminate()) else {
        let _ = tokio::signal::ctrl_c().await;
        return;
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

mod node_exporter_compat {
    //! node_exporter flags that fake-exporter accepts and ignores, so that replacing
    //! node_exporter by fake-exporter in a command line just works.

    use std::ffi::OsString;

    /// Prefixes of node_exporter flags with no meaning here.
    const IGNORED_PREFIXES: [&str; 8] = [
        "--collector.",
        "--no-collector.",
        "--path.",
        "--web.max-requests",
        "--web.disable-exporter-metrics",
        "--no-web.disable-exporter-metrics",
        "--log.format",
        "--runtime.gomaxprocs",
    ];

    /// Splits argv into what clap parses and the ignored node_exporter flags. A flag with
    /// `=` carries its value; `--collector.NAME` and `--no-collector.NAME` are switches; a
    /// longer `--collector.NAME.SETTING VALUE` takes the next argument as its value.
    pub(super) fn split_args(
        args: impl IntoIterator<Item = OsString>,
    ) -> (Vec<OsString>, Vec<String>) {
        let mut kept = Vec::new();
        let mut ignored = Vec::new();
        let mut it = args.into_iter().peekable();
        while let Some(arg) = it.next() {
            let Some(text) = arg.to_str().map(str::to_owned) else {
                kept.push(arg);
                continue;
            };
            if !IGNORED_PREFIXES.iter().any(|p| text.starts_with(p)) {
                kept.push(arg);
                continue;
            }
            let takes_value = !text.contains('=')
                && !text.starts_with("--no-")
                && (text.starts_with("--path.")
                    || text.starts_with("--web.max-requests")
                    || text.starts_with("--log.format")
                    || text.starts_with("--runtime.gomaxprocs")
                    || text.trim_start_matches("--collector.").contains('.'));
            ignored.push(text);
            if takes_value {
                if let Some(value) = it.next_if(|v| !v.to_string_lossy().starts_with("--")) {
                    if let Some(last) = ignored.last_mut() {
                        last.push(' ');
                        last.push_str(&value.to_string_lossy());
                    }
                }
            }
        }
        (kept, ignored)
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        fn split(args: &[&str]) -> (Vec<String>, Vec<String>) {
            let (kept, ignored) = split_args(args.iter().map(OsString::from));
            (
                kept.into_iter()
                    .map(|a| a.to_string_lossy().into_owned())
                    .collect(),
                ignored,
            )
        }

        #[test]
        fn node_exporter_flags_are_ignored_and_ours_kept() {
            let (kept, ignored) = split(&[
                "fake-exporter",
                "--web.listen-address=127.0.0.1:9100",
                "--collector.disable-defaults",
                "--collector.textfile.directory",
                "/var/lib/textfile",
                "--no-collector.hwmon",
                "--path.procfs=/host/proc",
                "--web.config.file",
                "web.yml",
            ]);
            assert_eq!(
                kept,
                [
                    "fake-exporter",
                    "--web.listen-address=127.0.0.1:9100",
                    "--web.config.file",
                    "web.yml"
                ]
            );
            assert_eq!(
                ignored,
                [
                    "--collector.disable-defaults",
                    "--collector.textfile.directory /var/lib/textfile",
                    "--no-collector.hwmon",
                    "--path.procfs=/host/proc"
                ]
            );
        }
    }
}

mod control {
    //! The control endpoint: counters as JSON and as metrics.
    use std::net::SocketAddr;

    use anyhow::Context as _;

    pub(super) async fn serve(
        addr: SocketAddr,
        app: axum::Router,
    ) -> anyhow::Result<tokio::task::JoinHandle<()>> {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("binding the control endpoint {addr}"))?;
        tracing::info!(%addr, "control endpoint: /stats (JSON), /metrics");
        Ok(tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        }))
    }
}

fn parse_compat(s: &str) -> Result<fake_exporter::Compat, String> {
    s.parse()
        .map_err(|e: fake_exporter::UnknownCompat| e.to_string())
}

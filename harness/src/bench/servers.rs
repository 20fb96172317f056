//! `scrape-harness bench servers`: node_exporter vs fake-exporter vs a bare rustls server,
//! same certificate, same client, same run.
//!
//! The bare server answers in one of two ways ([`RawBody`]): a fixed 69-byte body (the
//! handshake floor), or exactly what fake-exporter answers (its body for the first scrape,
//! rendered once by fake-exporter's own metrics code, its headers, gzip when the request
//! asks for it as fake-exporter decides): the floor at the same work, to which the report
//! compares fake-exporter's keep-alive requests/s and CPU per request ([`FloorRatio`]).
//!
//! Every server is a child process pinned to core 1 with `taskset -c 1` (taskset execs
//! the server, so the child's pid is the server's). The bare rustls server is this very
//! binary (`scrape-harness bench raw-tls-server`), so that it too is a separate process
//! with its own `/proc/<pid>/stat`. The client runs in this process, which pins all of
//! its threads to core 0 (`taskset -a -p -c 0 <own pid>`) before the first case.
//!
//! Each case runs `connections` concurrent client tasks for `seconds`:
//! * `handshake`: a new TCP + TLS connection per request (full handshake, no resumption:
//!   the client keeps no session cache, as Prometheus);
//! * `keepalive`: one connection per task, requests back to back.
//!
//! Server CPU is utime + stime of the server's pid over the window; per operation it is
//! divided by completed requests. Every case runs `repeat` times; min/median/max are
//! reported. The client speaks HTTP/1.1 only (ALPN `http/1.1`).

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use fake_exporter::pki::{KeyType, ServerCert};
use http_body_util::{BodyExt as _, Empty};
use hyper_util::rt::TokioIo;
use rustls_pki_types::ServerName;
use serde::Serialize;
use tokio::net::TcpStream;
use tokio::process::Command;

use super::options::Mode;
use super::proc_stat;
use super::run::{BASIC_PASSWORD, BASIC_USER};
use super::setup::{BenchFiles, SetupError};
use crate::conformance::direct::{ca_roots, CaError};
use crate::supervise::{NotReady, Output, Spec, Supervised};

mod raw;

pub use raw::{serve_raw_tls, ParseRawBodyError, RawBody};

/// The three servers compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Server {
    /// Debian's prometheus-node-exporter with `--collector.disable-defaults`.
    Node,
    /// The fake-exporter binary.
    Fake,
    /// `scrape-harness bench raw-tls-server`: tokio-rustls and a fixed 69-byte body.
    RawRustls,
    /// `scrape-harness bench raw-tls-server --body fake-exporter`: tokio-rustls answering
    /// fake-exporter's body and headers, prepared once (the same-body floor).
    RawSameBody,
}

impl Server {
    /// Short name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Node => "node_exporter",
            Self::Fake => "fake-exporter",
            Self::RawRustls => "raw-rustls",
            Self::RawSameBody => "raw-same-body",
        }
    }
}

/// How connections are used.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnMode {
    /// New connection per request.
    Handshake,
    /// One connection per client task.
    Keepalive,
}

/// What to run.
#[derive(Clone, Debug)]
pub struct ServersOptions {
    /// Length of each measured window.
    pub seconds: Duration,
    /// Repeats per case (≥ 3 for a spread).
    pub repeat: u32,
    /// Concurrent client connections.
    pub connections: usize,
    /// The node_exporter binary.
    pub node_exporter: PathBuf,
    /// The fake-exporter binary.
    pub fake_exporter: PathBuf,
    /// Command that runs the raw server; `--listen`, `--cert`, `--key` are appended.
    pub raw_server: Vec<String>,
    /// First of the ports used (one per server start).
    pub base_port: u16,
    /// Key type of the server certificate.
    pub key_type: KeyType,
    /// Restrict the client to one TLS version (`None`: both, TLS 1.3 wins).
    pub tls_version: Option<TlsVersionChoice>,
}

/// A TLS version the client may be restricted to (`1.2` or `1.3`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum TlsVersionChoice {
    /// TLS 1.2 only.
    Tls12,
    /// TLS 1.3 only.
    Tls13,
}

/// A TLS version other than `1.2` and `1.3`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("TLS version `{given}`: use 1.2 or 1.3")]
pub struct ParseTlsVersionError {
    /// What was given.
    pub given: String,
}

impl FromStr for TlsVersionChoice {
    type Err = ParseTlsVersionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "1.2" => Ok(Self::Tls12),
            "1.3" => Ok(Self::Tls13),
            other => Err(ParseTlsVersionError {
                given: other.to_owned(),
            }),
        }
    }
}

/// Why `bench servers` (or the raw TLS server) could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServersError {
    /// Fewer than two cores.
    #[error("bench servers pins the server to core 1 and the client to core 0; this machine has fewer than 2 cores")]
    TooFewCores,
    /// The node_exporter binary does not exist.
    #[error("{}: node_exporter not found; install it (apt-get install prometheus-node-exporter) or give its path", .0.display())]
    NodeExporterMissing(PathBuf),
    /// `taskset` could not be run.
    #[error("running `{command}` (install util-linux): {source}")]
    TasksetSpawn {
        /// The command line.
        command: String,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// `taskset` failed.
    #[error("`{command}` failed: {stderr}")]
    Taskset {
        /// The command line.
        command: String,
        /// Its stderr.
        stderr: String,
    },
    /// The run's files (run directory, PKI, web-configs) could not be prepared.
    #[error(transparent)]
    Setup(#[from] SetupError),
    /// The CA of the test PKI could not be loaded.
    #[error(transparent)]
    Ca(#[from] CaError),
    /// A TLS configuration was refused by rustls.
    #[error("{what}: {source}")]
    Tls {
        /// Which configuration.
        what: &'static str,
        /// The rustls error.
        #[source]
        source: rustls::Error,
    },
    /// A server could not be started, or waiting for it failed.
    #[error("starting {server}: {source}")]
    Spawn {
        /// The server.
        server: &'static str,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// A server exited before it listened.
    #[error("{server} exited ({status}) before listening on {addr}; is the port free?")]
    ExitedEarly {
        /// The server.
        server: &'static str,
        /// Its exit status.
        status: ExitStatus,
        /// Where it should have listened.
        addr: SocketAddr,
    },
    /// A server did not listen in time.
    #[error("{server} did not listen on {addr} within {timeout:?}")]
    NotListening {
        /// The server.
        server: &'static str,
        /// Where it should have listened.
        addr: SocketAddr,
        /// The deadline.
        timeout: Duration,
    },
    /// The warm-up request failed.
    #[error("first request to {server} at {addr}: {source}")]
    FirstRequest {
        /// The server.
        server: &'static str,
        /// Its address.
        addr: SocketAddr,
        /// What failed.
        #[source]
        source: RequestError,
    },
    /// The server's CPU time could not be read.
    #[error("reading /proc/{pid}/stat of {server}: {source}")]
    ProcStat {
        /// The server.
        server: &'static str,
        /// Its pid.
        pid: u32,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// The raw server's certificate or key could not be read.
    #[error("{}: {source}", .path.display())]
    Pem {
        /// The file.
        path: PathBuf,
        /// The PEM error.
        #[source]
        source: rustls_pki_types::pem::Error,
    },
    /// The raw server could not listen or accept.
    #[error("{what} {addr}: {source}")]
    Listen {
        /// `binding` or `accepting on`.
        what: &'static str,
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        #[source]
        source: io::Error,
    },
}

/// Why one request of the load client failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RequestError {
    /// TCP connect (or setting `TCP_NODELAY`) failed.
    #[error("connecting: {0}")]
    Connect(#[source] io::Error),
    /// The TLS handshake failed.
    #[error("TLS handshake: {0}")]
    Handshake(#[source] io::Error),
    /// HTTP failed.
    #[error("HTTP: {0}")]
    Http(#[from] hyper::Error),
    /// The request could not be built.
    #[error("building the request: {0}")]
    Build(#[from] http::Error),
    /// The answer was not 200.
    #[error("HTTP {0}")]
    Status(http::StatusCode),
}

impl ServersOptions {
    /// Defaults: 5 s windows, 3 repeats, 16 connections, Debian's node_exporter,
    /// fake-exporter next to the running binary, this binary as the raw server.
    pub fn new() -> Self {
        let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("scrape-harness"));
        let fake = exe
            .parent()
            .map(|d| d.join("fake-exporter"))
            .filter(|p| p.exists())
            .unwrap_or_else(|| PathBuf::from("fake-exporter"));
        Self {
            seconds: Duration::from_secs(5),
            repeat: 3,
            connections: 16,
            node_exporter: PathBuf::from("/usr/bin/prometheus-node-exporter"),
            fake_exporter: fake,
            raw_server: vec![
                exe.display().to_string(),
                "bench".into(),
                "raw-tls-server".into(),
            ],
            base_port: 29_000,
            key_type: KeyType::EcdsaP256,
            tls_version: None,
        }
    }
}

impl Default for ServersOptions {
    fn default() -> Self {
        Self::new()
    }
}

/// One measured window.
#[derive(Clone, Debug, Serialize)]
pub struct Sample {
    /// Completed requests.
    pub requests: u64,
    /// Failed requests (connect, TLS or HTTP errors, non-200).
    pub errors: u64,
    /// Window length, seconds.
    pub seconds: f64,
    /// Server CPU seconds in the window.
    pub server_cpu_seconds: f64,
    /// Response body bytes per request.
    pub body_bytes: u64,
}

impl Sample {
    /// Server CPU microseconds per completed request.
    pub fn cpu_us_per_request(&self) -> f64 {
        self.server_cpu_seconds * 1e6 / self.requests.max(1) as f64
    }

    /// Requests per second.
    pub fn throughput(&self) -> f64 {
        self.requests as f64 / self.seconds
    }
}

/// min / median / max.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Spread {
    /// Smallest.
    pub min: f64,
    /// Median.
    pub median: f64,
    /// Largest.
    pub max: f64,
}

impl Spread {
    fn of(mut v: Vec<f64>) -> Self {
        v.sort_by(f64::total_cmp);
        let n = v.len();
        if n == 0 {
            return Self {
                min: 0.0,
                median: 0.0,
                max: 0.0,
            };
        }
        let median = if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        };
        Self {
            min: v[0],
            median,
            max: v[n - 1],
        }
    }
}

/// One case: a server, a security setting and a connection mode, repeated.
#[derive(Clone, Debug, Serialize)]
pub struct CaseResult {
    /// Server.
    pub server: Server,
    /// Security (plain, basic or tls).
    pub security: Mode,
    /// Connection use.
    pub conn: ConnMode,
    /// Every repeat.
    pub samples: Vec<Sample>,
    /// Server CPU µs per request (per handshake in `handshake` mode).
    pub cpu_us_per_request: Spread,
    /// Requests per second.
    pub throughput: Spread,
}

/// The whole comparison.
#[derive(Clone, Debug, Serialize)]
pub struct ServersReport {
    /// Concurrent connections of the client.
    pub connections: usize,
    /// Every case.
    pub cases: Vec<CaseResult>,
    /// Named ratios of medians.
    pub ratios: Vec<(String, f64)>,
    /// fake-exporter against the same-body floor, when both keep-alive TLS cases ran.
    pub floor: Option<FloorRatio>,
}

/// The share of the same-body floor's keep-alive requests/s fake-exporter should reach.
pub const FLOOR_GOAL: f64 = 0.5;

/// fake-exporter against the bare rustls server answering the same bytes
/// ([`Server::RawSameBody`]): TLS, keep-alive, medians of the two cases' windows.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FloorRatio {
    /// fake-exporter's requests/s divided by the floor's (the goal is [`FLOOR_GOAL`] or more).
    pub throughput_ratio: f64,
    /// fake-exporter's server CPU per request divided by the floor's.
    pub cpu_per_request_ratio: f64,
    /// fake-exporter's median requests/s.
    pub fake_throughput: f64,
    /// The floor's median requests/s.
    pub floor_throughput: f64,
    /// fake-exporter's median server CPU µs per request.
    pub fake_cpu_us_per_request: f64,
    /// The floor's median server CPU µs per request.
    pub floor_cpu_us_per_request: f64,
    /// Body bytes per request fake-exporter sent (first window).
    pub fake_body_bytes: u64,
    /// Body bytes per request the floor sent (first window).
    pub floor_body_bytes: u64,
    /// Whether `throughput_ratio` reaches [`FLOOR_GOAL`].
    pub meets_goal: bool,
}

impl FloorRatio {
    /// From the fake-exporter and same-body floor cases (TLS, keep-alive) of `cases`;
    /// `None` unless both ran.
    pub fn of(cases: &[CaseResult]) -> Option<Self> {
        let find = |server| {
            cases.iter().find(|c| {
                c.server == server && c.security == Mode::Tls && c.conn == ConnMode::Keepalive
            })
        };
        let (fake, floor) = (find(Server::Fake)?, find(Server::RawSameBody)?);
        let ratio = |a: f64, b: f64| a / b.max(f64::MIN_POSITIVE);
        let body = |c: &CaseResult| c.samples.first().map_or(0, |s| s.body_bytes);
        let throughput_ratio = ratio(fake.throughput.median, floor.throughput.median);
        Some(Self {
            throughput_ratio,
            cpu_per_request_ratio: ratio(
                fake.cpu_us_per_request.median,
                floor.cpu_us_per_request.median,
            ),
            fake_throughput: fake.throughput.median,
            floor_throughput: floor.throughput.median,
            fake_cpu_us_per_request: fake.cpu_us_per_request.median,
            floor_cpu_us_per_request: floor.cpu_us_per_request.median,
            fake_body_bytes: body(fake),
            floor_body_bytes: body(floor),
            meets_goal: throughput_ratio >= FLOOR_GOAL,
        })
    }
}

/// The cases, in run order.
pub const CASES: [(Server, Mode, ConnMode); 11] = [
    (Server::Node, Mode::Tls, ConnMode::Handshake),
    (Server::Fake, Mode::Tls, ConnMode::Handshake),
    (Server::RawRustls, Mode::Tls, ConnMode::Handshake),
    (Server::Node, Mode::Tls, ConnMode::Keepalive),
    (Server::Fake, Mode::Tls, ConnMode::Keepalive),
    (Server::RawRustls, Mode::Tls, ConnMode::Keepalive),
    (Server::RawSameBody, Mode::Tls, ConnMode::Keepalive),
    (Server::Node, Mode::Plain, ConnMode::Keepalive),
    (Server::Node, Mode::Basic, ConnMode::Keepalive),
    (Server::Fake, Mode::Plain, ConnMode::Keepalive),
    (Server::Fake, Mode::Basic, ConnMode::Keepalive),
];

/// Runs every case of [`CASES`].
pub async fn run(opts: &ServersOptions) -> Result<ServersReport, ServersError> {
    if std::thread::available_parallelism().map_or(1, usize::from) < 2 {
        return Err(ServersError::TooFewCores);
    }
    if !opts.node_exporter.exists() {
        return Err(ServersError::NodeExporterMissing(
            opts.node_exporter.clone(),
        ));
    }
    pin_self_to_core0().await?;
    let setup = Setup::create(opts).await?;
    let mut cases = Vec::new();
    let mut port = opts.base_port;
    for (server, security, conn) in CASES {
        port += 1;
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        cases.push(run_case(opts, &setup, server, security, conn, addr).await?);
    }
    let ratios = ratios(&cases);
    Ok(ServersReport {
        connections: opts.connections,
        floor: FloorRatio::of(&cases),
        cases,
        ratios,
    })
}

/// What every case shares: the PKI, the web-configs and the client's TLS connector, in a
/// run directory removed at the end.
struct Setup {
    /// Holds the files below; removed on drop.
    files: BenchFiles,
    cert: PathBuf,
    key: PathBuf,
    connector: tokio_rustls::TlsConnector,
}

impl Setup {
    async fn create(opts: &ServersOptions) -> Result<Self, ServersError> {
        let files = BenchFiles::create("bench-servers", opts.key_type).await?;
        let pki = files.pki();
        Ok(Self {
            cert: pki.server_cert(ServerCert::Valid),
            key: pki.server_key(ServerCert::Valid),
            connector: tls_connector(&pki.ca(), opts.tls_version)?,
            files,
        })
    }
}

/// Starts `server` on `addr`, warms it up, measures `opts.repeat` windows and stops it.
async fn run_case(
    opts: &ServersOptions,
    setup: &Setup,
    server: Server,
    security: Mode,
    conn: ConnMode,
    addr: SocketAddr,
) -> Result<CaseResult, ServersError> {
    let web_config = match security {
        Mode::Basic => Some(setup.files.web_config(Mode::Basic)),
        Mode::Tls => Some(setup.files.web_config(Mode::Tls)),
        // CASES has plain, basic and tls only.
        _ => None,
    };
    let child = spawn_server(opts, server, addr, web_config, &setup.cert, &setup.key)
        .spawn()
        .map_err(|e| ServersError::Spawn {
            server: server.as_str(),
            source: e.into_parts().2,
        })?;
    let pid = child.pid();
    wait_listening(addr, &child, server).await?;
    let client = Client {
        addr,
        tls: (security == Mode::Tls).then(|| setup.connector.clone()),
        auth: (security == Mode::Basic)
            .then(|| fake_exporter::basic_header(BASIC_USER, BASIC_PASSWORD)),
        path: if server == Server::RawRustls {
            "/"
        } else {
            "/metrics"
        },
    };
    // Warm up: the first request pays cold caches (bcrypt, config parse).
    client
        .once()
        .await
        .map_err(|source| ServersError::FirstRequest {
            server: server.as_str(),
            addr,
            source,
        })?;
    let cpu = || {
        proc_stat::cpu_seconds(pid).map_err(|source| ServersError::ProcStat {
            server: server.as_str(),
            pid,
            source,
        })
    };
    let mut samples = Vec::new();
    for _ in 0..opts.repeat.max(1) {
        let cpu0 = cpu()?;
        let (requests, errors, bytes, elapsed) =
            client.load(conn, opts.connections, opts.seconds).await;
        let cpu1 = cpu()?;
        samples.push(Sample {
            requests,
            errors,
            seconds: elapsed.as_secs_f64(),
            server_cpu_seconds: cpu1 - cpu0,
            body_bytes: bytes / requests.max(1),
        });
    }
    let _ = tokio::task::spawn_blocking(move || child.stop()).await;
    Ok(CaseResult {
        server,
        security,
        conn,
        cpu_us_per_request: Spread::of(samples.iter().map(Sample::cpu_us_per_request).collect()),
        throughput: Spread::of(samples.iter().map(Sample::throughput).collect()),
        samples,
    })
}

fn ratios(cases: &[CaseResult]) -> Vec<(String, f64)> {
    let find = |s, sec, c| {
        cases
            .iter()
            .find(|x| x.server == s && x.security == sec && x.conn == c)
    };
    let new_conn = |s| find(s, Mode::Tls, ConnMode::Handshake).map(|c| c.cpu_us_per_request.median);
    let reused = |s| find(s, Mode::Tls, ConnMode::Keepalive).map(|c| c.cpu_us_per_request.median);
    // The handshake itself: a request on a new connection minus a request on a kept-alive
    // one, so that response building (node_exporter gathers collectors, the raw server
    // answers 69 bytes) does not count as TLS.
    let hs = |s| Some((new_conn(s)? - reused(s)?).max(0.0));
    let tp = |s, sec| find(s, sec, ConnMode::Keepalive).map(|c| c.throughput.median);
    // (name, numerator, denominator): a ratio is reported when both were measured.
    let rows = [
        (
            "fake/node CPU per request on a new connection",
            new_conn(Server::Fake),
            new_conn(Server::Node),
        ),
        (
            "fake/node CPU per handshake",
            hs(Server::Fake),
            hs(Server::Node),
        ),
        (
            "fake/raw-rustls CPU per handshake",
            hs(Server::Fake),
            hs(Server::RawRustls),
        ),
        (
            "fake/node TLS keep-alive throughput",
            tp(Server::Fake, Mode::Tls),
            tp(Server::Node, Mode::Tls),
        ),
        (
            "fake basic (warm cache)/plain throughput",
            tp(Server::Fake, Mode::Basic),
            tp(Server::Fake, Mode::Plain),
        ),
        (
            "node basic (warm cache)/plain throughput",
            tp(Server::Node, Mode::Basic),
            tp(Server::Node, Mode::Plain),
        ),
    ];
    let mut out: Vec<(String, f64)> = rows
        .into_iter()
        .filter_map(|(name, a, b)| Some((name.to_owned(), a? / b?.max(f64::MIN_POSITIVE))))
        .collect();
    if let Some(floor) = FloorRatio::of(cases) {
        out.push((
            "fake/same-body-floor TLS keep-alive throughput".to_owned(),
            floor.throughput_ratio,
        ));
        out.push((
            "fake/same-body-floor TLS keep-alive CPU per request".to_owned(),
            floor.cpu_per_request_ratio,
        ));
    }
    out
}

/// The report as a terminal table.
pub fn table(report: &ServersReport) -> String {
    use std::fmt::Write as _;
    let mut out = format!(
        "{} concurrent connections; server on core 1, client on core 0; min/median/max of {} repeats\n",
        report.connections,
        report.cases.first().map_or(0, |c| c.samples.len())
    );
    let _ = writeln!(
        out,
        "{:<14} {:<6} {:<10} {:>26} {:>26} {:>7} {:>7}",
        "server", "sec", "conn", "server CPU µs/req", "req/s", "errors", "body_B"
    );
    for c in &report.cases {
        let s = |x: Spread| format!("{:.0}/{:.0}/{:.0}", x.min, x.median, x.max);
        let _ = writeln!(
            out,
            "{:<14} {:<6} {:<10} {:>26} {:>26} {:>7} {:>7}",
            c.server.as_str(),
            c.security.as_str(),
            format!("{:?}", c.conn).to_lowercase(),
            s(c.cpu_us_per_request),
            s(c.throughput),
            c.samples.iter().map(|x| x.errors).sum::<u64>(),
            c.samples.first().map_or(0, |x| x.body_bytes)
        );
    }
    for (name, v) in &report.ratios {
        let _ = writeln!(out, "{name}: {v:.2}");
    }
    if let Some(f) = &report.floor {
        let _ = writeln!(
            out,
            "same-body floor (TLS keep-alive, {} B bodies; {} B from fake-exporter): fake-exporter \
             {:.0} req/s = {:.2} of the floor's {:.0} ({}: goal >= {FLOOR_GOAL}); CPU per request \
             {:.1} µs = {:.2}x the floor's {:.1} µs",
            f.floor_body_bytes,
            f.fake_body_bytes,
            f.fake_throughput,
            f.throughput_ratio,
            f.floor_throughput,
            if f.meets_goal { "meets" } else { "misses" },
            f.fake_cpu_us_per_request,
            f.cpu_per_request_ratio,
            f.floor_cpu_us_per_request,
        );
    }
    out
}

async fn pin_self_to_core0() -> Result<(), ServersError> {
    let pid = std::process::id().to_string();
    let args = ["-a", "-p", "-c", "0", &pid];
    let command = || format!("taskset {}", args.join(" "));
    let out = Command::new("taskset")
        .args(args)
        .output()
        .await
        .map_err(|source| ServersError::TasksetSpawn {
            command: command(),
            source,
        })?;
    if !out.status.success() {
        return Err(ServersError::Taskset {
            command: command(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        });
    }
    Ok(())
}

/// The command that runs `server` pinned to core 1 (`taskset` execs it: the child's pid is
/// the server's).
fn spawn_server(
    opts: &ServersOptions,
    server: Server,
    addr: SocketAddr,
    web_config: Option<&Path>,
    cert: &Path,
    key: &Path,
) -> Spec {
    let spec = Spec::new("taskset").args(["-c", "1"]);
    let listen = format!("--web.listen-address={addr}");
    let config: Vec<String> = web_config
        .map(|p| format!("--web.config.file={}", p.display()))
        .into_iter()
        .collect();
    let spec = match server {
        Server::Node => spec
            .arg(&opts.node_exporter)
            .args(["--collector.disable-defaults", &listen])
            .args(&config),
        Server::Fake => spec.arg(&opts.fake_exporter).arg(&listen).args(&config),
        Server::RawRustls | Server::RawSameBody => {
            let body = match server {
                Server::RawSameBody => RawBody::FakeExporter,
                _ => RawBody::Tiny,
            };
            spec.args(&opts.raw_server)
                .arg(format!("--listen={addr}"))
                .arg(format!("--cert={}", cert.display()))
                .arg(format!("--key={}", key.display()))
                .arg(format!("--body={}", body.as_str()))
        }
    };
    spec.output(Output::Null)
}

/// How long a server may take to listen.
const LISTEN_TIMEOUT: Duration = Duration::from_secs(10);

async fn wait_listening(
    addr: SocketAddr,
    child: &Supervised,
    server: Server,
) -> Result<(), ServersError> {
    let listening = move || async move { TcpStream::connect(addr).await.is_ok() };
    match child.wait_until(LISTEN_TIMEOUT, listening).await {
        Ok(()) => Ok(()),
        Err(NotReady::Exited(status)) => Err(ServersError::ExitedEarly {
            server: server.as_str(),
            status,
            addr,
        }),
        Err(NotReady::TimedOut) => Err(ServersError::NotListening {
            server: server.as_str(),
            addr,
            timeout: LISTEN_TIMEOUT,
        }),
    }
}

fn tls_connector(
    ca: &Path,
    version: Option<TlsVersionChoice>,
) -> Result<tokio_rustls::TlsConnector, ServersError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let roots = ca_roots(ca)?;
    let versions: &[&'static rustls::SupportedProtocolVersion] = match version {
        None => rustls::DEFAULT_VERSIONS,
        Some(TlsVersionChoice::Tls12) => &[&rustls::version::TLS12],
        Some(TlsVersionChoice::Tls13) => &[&rustls::version::TLS13],
    };
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .map_err(|source| ServersError::Tls {
            what: "the client TLS configuration",
            source,
        })?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    // Like Prometheus: no session resumption, every connection is a full handshake.
    config.resumption = rustls::client::Resumption::disabled();
    Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
}

#[derive(Clone)]
struct Client {
    addr: SocketAddr,
    tls: Option<tokio_rustls::TlsConnector>,
    auth: Option<String>,
    path: &'static str,
}

type Sender = hyper::client::conn::http1::SendRequest<Empty<Bytes>>;

impl Client {
    async fn connect(&self) -> Result<Sender, RequestError> {
        let tcp = TcpStream::connect(self.addr)
            .await
            .map_err(RequestError::Connect)?;
        tcp.set_nodelay(true).map_err(RequestError::Connect)?;
        match &self.tls {
            Some(connector) => {
                let name = ServerName::from(self.addr.ip());
                let tls = connector
                    .connect(name, tcp)
                    .await
                    .map_err(RequestError::Handshake)?;
                let (sender, conn) =
                    hyper::client::conn::http1::handshake(TokioIo::new(tls)).await?;
                tokio::spawn(conn);
                Ok(sender)
            }
            None => {
                let (sender, conn) =
                    hyper::client::conn::http1::handshake(TokioIo::new(tcp)).await?;
                tokio::spawn(conn);
                Ok(sender)
            }
        }
    }

    async fn request(&self, sender: &mut Sender) -> Result<u64, RequestError> {
        let mut req =
            http::Request::get(self.path).header(http::header::HOST, self.addr.to_string());
        if let Some(auth) = &self.auth {
            req = req.header(http::header::AUTHORIZATION, auth);
        }
        sender.ready().await?;
        let response = sender.send_request(req.body(Empty::new())?).await?;
        let status = response.status();
        let body = response.into_body().collect().await?.to_bytes();
        if status != http::StatusCode::OK {
            return Err(RequestError::Status(status));
        }
        Ok(body.len() as u64)
    }

    async fn once(&self) -> Result<u64, RequestError> {
        let mut sender = self.connect().await?;
        self.request(&mut sender).await
    }

    /// Runs `tasks` client tasks for `length`; returns (requests, errors, body bytes, elapsed).
    async fn load(
        &self,
        mode: ConnMode,
        tasks: usize,
        length: Duration,
    ) -> (u64, u64, u64, Duration) {
        let ok = Arc::new(AtomicU64::new(0));
        let err = Arc::new(AtomicU64::new(0));
        let bytes = Arc::new(AtomicU64::new(0));
        let start = Instant::now();
        let end = tokio::time::Instant::now() + length;
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..tasks {
            let (client, ok, err, bytes) = (self.clone(), ok.clone(), err.clone(), bytes.clone());
            set.spawn(async move {
                let mut sender: Option<Sender> = None;
                while tokio::time::Instant::now() < end {
                    let result = tokio::time::timeout_at(end, async {
                        let mut s = match (mode, sender.take()) {
                            (ConnMode::Keepalive, Some(s)) => s,
                            _ => client.connect().await?,
                        };
                        let n = client.request(&mut s).await?;
                        if mode == ConnMode::Keepalive {
                            sender = Some(s);
                        }
                        Ok::<_, RequestError>(n)
                    })
                    .await;
                    match result {
                        Ok(Ok(n)) => {
                            ok.fetch_add(1, Ordering::Relaxed);
                            bytes.fetch_add(n, Ordering::Relaxed);
                        }
                        Ok(Err(_)) => {
                            err.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(_) => break,
                    }
                }
            });
        }
        while set.join_next().await.is_some() {}
        (
            ok.load(Ordering::Relaxed),
            err.load(Ordering::Relaxed),
            bytes.load(Ordering::Relaxed),
            start.elapsed(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_versions_parse_from_their_numbers_only() {
        assert_eq!("1.2".parse(), Ok(TlsVersionChoice::Tls12));
        assert_eq!(" 1.3".parse(), Ok(TlsVersionChoice::Tls13));
        let err = "1.1".parse::<TlsVersionChoice>().unwrap_err();
        assert_eq!(err.to_string(), "TLS version `1.1`: use 1.2 or 1.3");
    }

    fn case(
        server: Server,
        conn: ConnMode,
        rps: [f64; 3],
        cpu_us: [f64; 3],
        body: u64,
    ) -> CaseResult {
        let samples: Vec<Sample> = rps
            .iter()
            .zip(cpu_us)
            .map(|(&r, c)| Sample {
                requests: (r * 5.0) as u64,
                errors: 0,
                seconds: 5.0,
                server_cpu_seconds: c * r * 5.0 / 1e6,
                body_bytes: body,
            })
            .collect();
        CaseResult {
            server,
            security: Mode::Tls,
            conn,
            cpu_us_per_request: Spread::of(
                samples.iter().map(Sample::cpu_us_per_request).collect(),
            ),
            throughput: Spread::of(samples.iter().map(Sample::throughput).collect()),
            samples,
        }
    }

    #[test]
    fn the_floor_ratio_is_computed_from_the_keep_alive_tls_rows() {
        // Arrange: medians 50,000 vs 125,000 req/s and 18 vs 6 µs per request; a handshake
        // row of fake-exporter that must not be taken instead.
        let cases = vec![
            case(
                Server::Fake,
                ConnMode::Handshake,
                [4_000.0; 3],
                [160.0; 3],
                8_333,
            ),
            case(
                Server::Fake,
                ConnMode::Keepalive,
                [40_000.0, 50_000.0, 60_000.0],
                [17.0, 18.0, 19.0],
                8_340,
            ),
            case(
                Server::RawRustls,
                ConnMode::Keepalive,
                [160_000.0; 3],
                [5.0; 3],
                69,
            ),
            case(
                Server::RawSameBody,
                ConnMode::Keepalive,
                [120_000.0, 125_000.0, 130_000.0],
                [6.0; 3],
                8_333,
            ),
        ];

        // Act
        let floor = FloorRatio::of(&cases).expect("both rows ran");
        let report = ServersReport {
            connections: 16,
            ratios: ratios(&cases),
            floor: Some(floor.clone()),
            cases: cases.clone(),
        };
        let json: serde_json::Value = serde_json::to_value(&report).expect("the report serialises");

        // Assert
        assert!((floor.throughput_ratio - 0.4).abs() < 1e-9, "{floor:?}");
        assert!(
            (floor.cpu_per_request_ratio - 3.0).abs() < 1e-6,
            "{floor:?}"
        );
        assert_eq!(
            (floor.fake_body_bytes, floor.floor_body_bytes),
            (8_340, 8_333)
        );
        assert!(!floor.meets_goal);
        assert_eq!(
            json["floor"]["throughput_ratio"],
            serde_json::json!(floor.throughput_ratio)
        );
        assert_eq!(
            json["floor"]["cpu_per_request_ratio"],
            serde_json::json!(floor.cpu_per_request_ratio)
        );
        assert_eq!(
            json["floor"]["floor_throughput"],
            serde_json::json!(125_000.0)
        );
        let named: Vec<&str> = report.ratios.iter().map(|(n, _)| n.as_str()).collect();
        assert!(
            named.contains(&"fake/same-body-floor TLS keep-alive throughput"),
            "{named:?}"
        );
        let text = table(&report);
        assert!(
            text.contains("= 0.40 of the floor's 125000 (misses: goal >= 0.5)"),
            "{text}"
        );
        assert!(text.contains("raw-same-body"), "{text}");

        // Without the floor's row there is no ratio.
        let without: Vec<CaseResult> = cases
            .into_iter()
            .filter(|c| c.server != Server::RawSameBody)
            .collect();
        assert_eq!(FloorRatio::of(&without), None);
    }

    #[test]
    fn the_case_table_uses_the_three_modes_servers_can_be_configured_for() {
        for (_, mode, _) in CASES {
            assert!(
                matches!(mode, Mode::Plain | Mode::Basic | Mode::Tls),
                "{mode}"
            );
        }
    }
}

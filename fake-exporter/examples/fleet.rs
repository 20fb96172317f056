//! Fleet load check: starts 5,000 TLS + Basic-auth listeners, then 10,000 plain ones, in this
//! process, measures how long they take to come up and what an idle listener costs, and
//! proves every listener answers a real request.
//!
//! ```text
//! cargo run --release -p fake-exporter --example fleet
//! cargo run --release -p fake-exporter --example fleet -- --bcrypt-cost 10 --concurrency 64 --base-port 20000
//! cargo run --release -p fake-exporter --example fleet -- --only plain   # one fleet per process
//! ```
//!
//! * TLS + Basic: ports `base..base+4999`, one `web-config.yml` (ECDSA P-256 certificate from
//!   the test PKI, one bcrypt user). Every listener gets `GET /metrics` over rustls (full
//!   handshake, certificate verified against the CA for `localhost`) with the right
//!   credentials and must answer 200. The first request to a listener runs bcrypt once (the
//!   cache is per listener), so the check costs 5,000 bcrypt runs: the default cost is 4 to
//!   keep it short; `--bcrypt-cost 10` shows what a first scrape round costs with the usual
//!   cost.
//! * Plain: ports `base..base+9999`, every listener must answer 200.
//!
//! Resident memory is read from `/proc/self/status` (VmRSS) before and after start. Memory
//! freed by the first fleet is reused by the second, so for per-listener figures run each
//! fleet in its own process with `--only tls` / `--only plain`.
//!
//! Requests run with bounded concurrency (`--concurrency`, default 64). The example prints
//! a table and exits 1 if a listener failed or a start-up target was missed (5,000 TLS in
//! < 1 s, 10,000 plain in < 2 s). Only 127.0.0.1 is used.

use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use bytes::Bytes;
use fake_exporter::{
    hash_password, FdBudget, Fleet, FleetBuilder, FleetError, FleetGroup, KeyType, MetricsSpec,
    PemSource, Pki, RunningFleet, ServerCert, WebConfig,
};
use futures::StreamExt as _;
use http_body_util::{BodyExt as _, Empty};
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;

const TLS_LISTENERS: u16 = 5_000;
const PLAIN_LISTENERS: u16 = 10_000;
const TLS_TARGET: Duration = Duration::from_secs(1);
const PLAIN_TARGET: Duration = Duration::from_secs(2);
const USER: &str = "prometheus";
const PASSWORD: &str = "fleet-s3cret";

struct Options {
    bcrypt_cost: u32,
    concurrency: usize,
    base_port: u16,
    /// Run only one fleet (`tls` or `plain`), so its memory is measured in a fresh process.
    only: Option<String>,
}

/// One measured fleet, one row of the table.
struct Row {
    name: &'static str,
    listeners: usize,
    start: Duration,
    rss_before_kib: u64,
    rss_after_kib: u64,
    budget: FdBudget,
    verify: Duration,
    answered: usize,
    failures: Vec<String>,
    target: Duration,
}

fn main() -> ExitCode {
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}

fn run() -> anyhow::Result<bool> {
    let options = parse_args()?;
    let runtime = tokio::runtime::Runtime::new().context("starting the tokio runtime")?;
    runtime.block_on(async_main(options))
}

async fn async_main(options: Options) -> anyhow::Result<bool> {
    let small = MetricsSpec {
        series: 20,
        ..MetricsSpec::default()
    };
    let mut rows = Vec::new();
    let mut refused = None;
    if options.only.as_deref() != Some("plain") {
        rows.push(tls_fleet(&options, small.clone()).await?);
    }
    if options.only.as_deref() != Some("tls") {
        let (row, err) = plain_fleet(&options, small).await?;
        rows.push(row);
        refused = err;
    }
    print_table(&rows, &options);
    if let Some(err) = refused {
        println!("\nplain fleet with connections_per_listener 1 (one Prometheus, keep-alive):\n  refused: {err}");
    }
    println!(
        "\nbcrypt: one uncached check at cost {} takes {:.1} ms here; at cost 10, {:.1} ms \
         (a first scrape round of 5,000 Basic targets = 5,000 checks)",
        options.bcrypt_cost,
        bcrypt_ms(options.bcrypt_cost)?,
        bcrypt_ms(10)?,
    );
    let mut ok = true;
    for row in &rows {
        for f in row.failures.iter().take(10) {
            println!("FAIL {}: {f}", row.name);
        }
        if row.failures.len() > 10 {
            println!("FAIL {}: … and {} more", row.name, row.failures.len() - 10);
        }
        ok &= row.failures.is_empty() && row.answered == row.listeners;
        if row.start >= row.target {
            println!(
                "MISSED {}: {} listeners up in {:.0} ms, target < {} ms",
                row.name,
                row.listeners,
                ms(row.start),
                row.target.as_millis()
            );
            ok = false;
        }
    }
    Ok(ok)
}

/// 5,000 TLS + Basic listeners, each checked with a real request over rustls.
async fn tls_fleet(options: &Options, small: MetricsSpec) -> anyhow::Result<Row> {
    let dir = tempfile::tempdir().context("creating a temporary directory")?;
    let pki = Pki::generate(KeyType::EcdsaP256).context("generating the test PKI")?;
    let files = pki.write_to(dir.path()).context("writing the test PKI")?;
    let hash = hash_password(PASSWORD, options.bcrypt_cost)
        .await
        .context("hashing the password")?;
    let web_config = dir.path().join("web-config.yml");
    WebConfig::builder()
        .cert(PemSource::file(files.server_cert(ServerCert::Valid)))
        .key(PemSource::file(files.server_key(ServerCert::Valid)))
        .basic_auth_user(USER, hash)
        .build()?
        .write_to(&web_config)?;
    let client_tls = client_config(&pki)?;

    let base = options.base_port;
    let tls_ports = base..=port(base, TLS_LISTENERS)?;
    let builder = Fleet::builder().group(
        FleetGroup::new("tls-basic", tls_ports)
            .web_config(&web_config)
            .metrics(small),
    );
    let (fleet, mut tls_row) = start("tls+basic", builder, TLS_TARGET).await?;
    let auth = fake_exporter::basic_header(USER, PASSWORD);
    let addrs: Vec<SocketAddr> = fleet.listeners().map(|l| l.addr).collect();
    verify(&mut tls_row, &addrs, options.concurrency, |addr| {
        let auth = auth.clone();
        let tls = client_tls.clone();
        async move {
            let tcp = TcpStream::connect(addr).await?;
            let stream = tokio_rustls::TlsConnector::from(tls)
                .connect(ServerName::try_from("localhost")?, tcp)
                .await?;
            get(TokioIo::new(stream), addr, Some(&auth)).await
        }
    })
    .await;
    let stats = fleet
        .group_stats("tls-basic")
        .context("the fleet has its group")?;
    if stats.handshakes_ok != addrs.len() as u64 || stats.handshakes_failed_total() != 0 {
        tls_row.failures.push(format!(
            "exporter counters: {} handshakes ok, {:?} failed; expected {} ok",
            stats.handshakes_ok,
            stats.handshakes_failed,
            addrs.len()
        ));
    }
    fleet.shutdown().await;
    Ok(tls_row)
}

/// 10,000 plain listeners, each checked with a real request; also returns the fd-budget
/// refusal the same fleet gets when one keep-alive connection per listener is counted.
async fn plain_fleet(
    options: &Options,
    small: MetricsSpec,
) -> anyhow::Result<(Row, Option<FleetError>)> {
    let base = options.base_port;
    // With one keep-alive connection per listener the budget would be
    // 10,000 + 10,000 + reserve, above this machine's RLIMIT_NOFILE: show the refusal, then
    // start without counting scrape connections (the check holds at most 2 × concurrency).
    let plain_ports = base..=port(base, PLAIN_LISTENERS)?;
    let plain_group = FleetGroup::new("plain", plain_ports).metrics(small);
    let refused = Fleet::builder().group(plain_group.clone()).plan().err();
    let builder = Fleet::builder()
        .group(plain_group)
        .connections_per_listener(0);
    let (fleet, mut plain_row) = start("plain", builder, PLAIN_TARGET).await?;
    let addrs: Vec<SocketAddr> = fleet.listeners().map(|l| l.addr).collect();
    verify(
        &mut plain_row,
        &addrs,
        options.concurrency,
        |addr| async move {
            let tcp = TcpStream::connect(addr).await?;
            get(TokioIo::new(tcp), addr, None).await
        },
    )
    .await;
    fleet.shutdown().await;

    Ok((plain_row, refused))
}

/// Starts a fleet and measures start time and resident memory.
async fn start(
    name: &'static str,
    builder: FleetBuilder,
    target: Duration,
) -> anyhow::Result<(RunningFleet, Row)> {
    let rss_before_kib = vm_rss_kib()?;
    let started = Instant::now();
    let fleet = builder
        .start()
        .await
        .with_context(|| format!("starting the {name} fleet"))?;
    let start = started.elapsed();
    let rss_after_kib = vm_rss_kib()?;
    let row = Row {
        name,
        listeners: fleet.listeners().count(),
        start,
        rss_before_kib,
        rss_after_kib,
        budget: fleet.budget(),
        verify: Duration::ZERO,
        answered: 0,
        failures: Vec::new(),
        target,
    };
    Ok((fleet, row))
}

/// Sends one request to every address, `concurrency` at a time.
async fn verify<F, Fut>(row: &mut Row, addrs: &[SocketAddr], concurrency: usize, request: F)
where
    F: Fn(SocketAddr) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<u16>>,
{
    let started = Instant::now();
    let mut results = futures::stream::iter(addrs.iter().copied())
        .map(|addr| {
            let fut = request(addr);
            async move {
                let outcome = tokio::time::timeout(Duration::from_secs(30), fut).await;
                (addr, outcome)
            }
        })
        .buffer_unordered(concurrency);
    while let Some((addr, outcome)) = results.next().await {
        match outcome {
            Ok(Ok(200)) => row.answered += 1,
            Ok(Ok(status)) => row.failures.push(format!("{addr}: HTTP {status}")),
            Ok(Err(e)) => row.failures.push(format!("{addr}: {e:#}")),
            Err(_) => row.failures.push(format!("{addr}: no answer within 30 s")),
        }
    }
    row.verify = started.elapsed();
}

/// One HTTP/1.1 `GET /metrics` on a fresh connection; returns the status.
async fn get<I>(io: I, addr: SocketAddr, authorization: Option<&str>) -> anyhow::Result<u16>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io).await?;
    let conn = tokio::spawn(conn);
    let mut req = http::Request::get("/metrics").header(http::header::HOST, addr.to_string());
    if let Some(a) = authorization {
        req = req.header(http::header::AUTHORIZATION, a);
    }
    let resp = sender
        .send_request(req.body(Empty::<Bytes>::new())?)
        .await?;
    let status = resp.status().as_u16();
    let body = resp.into_body().collect().await?.to_bytes();
    if status == 200 && !body.starts_with(b"# HELP") {
        bail!("HTTP 200 but the body is not a metrics page");
    }
    drop(sender);
    let _ = conn.await;
    Ok(status)
}

fn client_config(pki: &Pki) -> anyhow::Result<Arc<rustls::ClientConfig>> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(pki.ca_der().clone())?;
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_root_certificates(roots)
    .with_no_client_auth();
    // Like Prometheus: never resume, so every connection is a full handshake.
    config.resumption = rustls::client::Resumption::disabled();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

fn print_table(rows: &[Row], options: &Options) {
    println!(
        "fleet load check ({} cores, bcrypt cost {}, concurrency {})",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        options.bcrypt_cost,
        options.concurrency
    );
    println!(
        "{:<10} {:>9} {:>9} {:>8} {:>10} {:>10} {:>22} {:>10} {:>9}",
        "fleet",
        "listeners",
        "start ms",
        "target",
        "RSS +MiB",
        "KiB/lstnr",
        "fds need/limit (l+c+r)",
        "verify ms",
        "answered"
    );
    for r in rows {
        let delta = r.rss_after_kib.saturating_sub(r.rss_before_kib);
        let b = r.budget;
        println!(
            "{:<10} {:>9} {:>9.0} {:>8} {:>10.1} {:>10.2} {:>22} {:>10.0} {:>9}",
            r.name,
            r.listeners,
            ms(r.start),
            format!("<{}", r.target.as_millis()),
            delta as f64 / 1024.0,
            delta as f64 / r.listeners.max(1) as f64,
            format!(
                "{}/{} ({}+{}+{})",
                b.needed(),
                b.limit,
                b.listeners,
                b.connections,
                b.reserve
            ),
            ms(r.verify),
            format!("{}/{}", r.answered, r.listeners),
        );
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn bcrypt_ms(cost: u32) -> anyhow::Result<f64> {
    let hash = bcrypt::hash(PASSWORD, cost)?;
    let started = Instant::now();
    let ok = bcrypt::verify("wrong", &hash)?;
    anyhow::ensure!(!ok, "bcrypt accepted a wrong password");
    Ok(ms(started.elapsed()))
}

/// Resident set size of this process, from /proc/self/status.
fn vm_rss_kib() -> anyhow::Result<u64> {
    let path = Path::new("/proc/self/status");
    let status = std::fs::read_to_string(path)
        .with_context(|| format!("reading {} (Linux only)", path.display()))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .with_context(|| format!("{}: no VmRSS line", path.display()))
}

fn port(base: u16, count: u16) -> anyhow::Result<u16> {
    base.checked_add(count - 1)
        .with_context(|| format!("--base-port {base}: {count} ports do not fit below 65536"))
}

fn parse_args() -> anyhow::Result<Options> {
    let mut options = Options {
        bcrypt_cost: 4,
        concurrency: 64,
        base_port: 20_000,
        only: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args
            .next()
            .with_context(|| format!("{flag} needs a value"))?;
        let bad = || format!("{flag} {value}: not a number");
        match flag.as_str() {
            "--bcrypt-cost" => options.bcrypt_cost = value.parse().with_context(bad)?,
            "--concurrency" => options.concurrency = value.parse().with_context(bad)?,
            "--base-port" => options.base_port = value.parse().with_context(bad)?,
            "--only" if value == "tls" || value == "plain" => options.only = Some(value),
            _ => bail!(
                "unknown flag or value `{flag} {value}`; use --bcrypt-cost N, --concurrency N, \
                 --base-port P, --only tls|plain"
            ),
        }
    }
    anyhow::ensure!(
        (4..=31).contains(&options.bcrypt_cost),
        "--bcrypt-cost {}: bcrypt costs are 4 to 31",
        options.bcrypt_cost
    );
    anyhow::ensure!(options.concurrency > 0, "--concurrency must be at least 1");
    Ok(options)
}

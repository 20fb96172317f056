//! `conformance --target` on front-ends and on the caller's own mistakes (issue 23), each
//! against a real server, judged from the `--json` report (profile, rows) and the exit code:
//!
//! - a TLS terminator (nginx, `ssl_verify_client optional_no_ca` and `return 403`) in front
//!   of a Go server (Prometheus' own `/metrics`): detected as a proxy, its 403 refusals are
//!   as secure, every MUST holds; the same with a terminator that sends no `Server` header
//!   (a small rustls one here): the TLS port's own silence on plain HTTP outweighs the Go
//!   404 page behind it;
//! - a wrong `--ca`, a missing `--client-cert` (nginx, and node_exporter's Go TLS 1.3
//!   alert), missing credentials: exit 2 before any case, naming what to pass, no report;
//! - a server that answers a wrong password 1 s late: the run ends within 60 s, the timing
//!   row says it scaled its samples down and prints the latencies;
//! - nginx that also accepts TLS 1.0 and 1.1: the posture lists every version, the MUST row
//!   names both and "the target".
//!
//! Needs nginx, curl, openssl, Prometheus and node_exporter: `bash scripts/setup`.

use std::io::{BufRead as _, BufReader, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};
use serde_json::Value;

use crate::real_targets::{
    assert_gone, Client, Nginx, NginxKind, NodeExporter, PlainExporter, PromMetrics,
};
use crate::support::{Harness, Ran};

/// Bound on one `--target` run (they take seconds; the slow-refusal one must stay under
/// a minute, asserted separately).
const RUN_LIMIT: Duration = Duration::from_secs(300);
/// A run stopped by the input check takes no Prometheus: seconds.
const INPUT_CHECK_LIMIT: Duration = Duration::from_secs(30);

/// Writes the test PKI (`certs --out DIR`) into the private temp dir under `name`.
fn write_pki(harness: &Harness, name: &str) -> Result<PathBuf> {
    let dir = harness.tmp().join(name);
    let ran = harness.run(
        &["certs", "--out", &dir.to_string_lossy()],
        Duration::from_secs(60),
    )?;
    ensure!(ran.status.success(), "certs:{ran}");
    Ok(dir)
}

/// `conformance --target TARGET --backend process --json FILE EXTRA...`, with
/// `--timing-samples 0` unless `extra` sets it.
fn run_target(harness: &Harness, target: &str, extra: &[&str], limit: Duration) -> Result<Ran> {
    let json = json_path(harness);
    let mut args = vec![
        "conformance",
        "--target",
        target,
        "--backend",
        "process",
        "--no-progress",
        "--json",
        json.to_str().expect("UTF-8 temp path"),
    ];
    if !extra.contains(&"--timing-samples") {
        args.extend(["--timing-samples", "0"]);
    }
    args.extend_from_slice(extra);
    harness.run(&args, limit)
}

fn json_path(harness: &Harness) -> PathBuf {
    harness.tmp().join("conformance.json")
}

/// The `--json` report of `ran`.
fn report(harness: &Harness, ran: &Ran) -> Result<Value> {
    let path = json_path(harness);
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("reading the --json report {}:{ran}", path.display()))?;
    serde_json::from_str(&text).context("parsing the --json report")
}

/// The row `name` of a report.
fn row<'a>(report: &'a Value, name: &str, ran: &Ran) -> Result<&'a Value> {
    report["results"]
        .as_array()
        .context("no `results`")?
        .iter()
        .find(|r| r["name"] == name)
        .with_context(|| format!("no `{name}` row:{ran}"))
}

/// Row `name` has `level` and `verdict`, and its detail (or mechanism) contains `detail`.
fn assert_row(
    report: &Value,
    ran: &Ran,
    name: &str,
    level: &str,
    verdict: &str,
    detail: &str,
) -> Result<()> {
    let r = row(report, name, ran)?;
    let text = format!(
        "{} {}",
        r["detail"].as_str().unwrap_or_default(),
        r["mechanism"].as_str().unwrap_or_default()
    );
    ensure!(
        r["level"] == level && r["verdict"] == verdict && text.contains(detail),
        "`{name}`: expected {level} {verdict} with `{detail}`, got {r}{ran}"
    );
    Ok(())
}

/// The posture lines of a report, joined.
fn posture(report: &Value) -> String {
    report["posture"]
        .as_array()
        .map(|lines| {
            lines
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join("; ")
        })
        .unwrap_or_default()
}

/// A run the input check stopped: exit 2 within seconds, `reason` on stderr, no report.
fn assert_stopped_by_inputs(
    harness: &Harness,
    ran: &Ran,
    took: Duration,
    reason: &str,
) -> Result<()> {
    ensure!(
        ran.code() == Some(2) && ran.stderr.contains(reason),
        "expected exit 2 with `{reason}`:{ran}"
    );
    ensure!(
        took < INPUT_CHECK_LIMIT,
        "stopped after {took:?}, expected seconds:{ran}"
    );
    ensure!(
        !json_path(harness).exists(),
        "no report is written when no case ran:{ran}"
    );
    harness.assert_clean(ran.pid)
}

#[test]
fn a_403_terminator_in_front_of_a_go_server_is_a_proxy_and_passes() -> Result<()> {
    let _serial = crate::support::heavy();
    let harness = Harness::new()?;
    let pki = write_pki(&harness, "pki")?;
    let file = |f: &str| pki.join(f).display().to_string();
    let (ca, cert, key) = (file("ca.crt"), file("client.crt"), file("client.key"));
    let (ran, pids) = {
        let prometheus = PromMetrics::start()?;
        let nginx = Nginx::start(NginxKind::Terminator403, prometheus.addr(), &pki)?;
        let ran = run_target(
            &harness,
            &nginx.addr().to_string(),
            &[
                "--scheme",
                "https",
                "--ca",
                &ca,
                "--client-cert",
                &cert,
                "--client-key",
                &key,
            ],
            RUN_LIMIT,
        )?;
        (ran, [prometheus.pid(), nginx.pid()])
    };
    assert_gone(&pids)?;
    harness.assert_clean(ran.pid)?;
    let report = report(&harness, &ran)?;
    println!("{}", ran.stdout);
    // The TLS port is nginx: the 404 page of the Go server behind it does not make it
    // exporter-toolkit.
    ensure!(
        report["profile"] == "proxy",
        "profile {} ({}){ran}",
        report["profile"],
        report["profile_reason"]
    );
    ensure!(
        ran.code() == Some(0),
        "every MUST holds: exit 0 expected{ran}"
    );
    ensure!(
        posture(&report).contains("client certificates: required and verified"),
        "{ran}"
    );
    assert_row(&report, &ran, "target-configured", "MUST", "pass", "served")?;
    // Refused with HTTP 403 after the handshake: secure; the toolkit mechanism is a MAY.
    // (nginx checks an expired certificate's dates even with `optional_no_ca`: 400.)
    for (case, status) in [
        ("target-client-cert-unknown-ca", "HTTP 403"),
        ("target-client-cert-self-signed", "HTTP 403"),
        ("target-client-cert-expired-unknown-ca", "HTTP 400"),
    ] {
        assert_row(&report, &ran, case, "MUST", "pass", status)?;
        assert_row(
            &report,
            &ran,
            &format!("{case}/mechanism"),
            "MAY",
            "fail",
            status,
        )?;
    }
    Ok(())
}

#[test]
fn a_terminator_without_a_server_header_in_front_of_a_go_server_is_a_proxy() -> Result<()> {
    let _serial = crate::support::heavy();
    let harness = Harness::new()?;
    let pki = write_pki(&harness, "pki")?;
    let file = |f: &str| pki.join(f).display().to_string();
    let (ca, cert, key) = (file("ca.crt"), file("client.crt"), file("client.key"));
    let (ran, pid) = {
        let prometheus = PromMetrics::start()?;
        let terminator = TlsTerminator::start(&pki, prometheus.addr())?;
        let ran = run_target(
            &harness,
            &terminator.addr.to_string(),
            &[
                "--scheme",
                "https",
                "--ca",
                &ca,
                "--client-cert",
                &cert,
                "--client-key",
                &key,
            ],
            RUN_LIMIT,
        )?;
        (ran, prometheus.pid())
    };
    assert_gone(&[pid])?;
    harness.assert_clean(ran.pid)?;
    let report = report(&harness, &ran)?;
    println!("{}", ran.stdout);
    // Issue 23: once `toolkit (detected: Go net/http's 404 page)` and a MUST FAIL on the
    // 403's mechanism. The TLS port gives no HTTP answer to plain HTTP: not Go.
    let why = report["profile_reason"].as_str().unwrap_or_default();
    ensure!(
        report["profile"] == "proxy"
            && why.contains("no HTTP answer to plain HTTP")
            && why.contains("Go net/http"),
        "profile {} ({why}){ran}",
        report["profile"]
    );
    ensure!(
        ran.code() == Some(0),
        "every MUST holds: exit 0 expected{ran}"
    );
    ensure!(
        posture(&report).contains("client certificates: required and verified"),
        "{ran}"
    );
    assert_row(&report, &ran, "target-configured", "MUST", "pass", "served")?;
    for case in [
        "target-client-cert-unknown-ca",
        "target-client-cert-self-signed",
        "target-client-cert-expired-unknown-ca",
    ] {
        assert_row(&report, &ran, case, "MUST", "pass", "HTTP 403")?;
        assert_row(
            &report,
            &ran,
            &format!("{case}/mechanism"),
            "MAY",
            "fail",
            "HTTP 403",
        )?;
    }
    Ok(())
}

#[test]
fn a_wrong_ca_exits_2_before_any_case_and_names_it() -> Result<()> {
    let _serial = crate::support::heavy();
    let harness = Harness::new()?;
    let pki = write_pki(&harness, "pki")?;
    let other = write_pki(&harness, "other-pki")?;
    let upstream = PlainExporter::start()?;
    let nginx = Nginx::start(NginxKind::TlsBasic, upstream.addr(), &pki)?;
    let wrong_ca = other.join("ca.crt").display().to_string();
    let basic = nginx.basic_auth_arg();
    let started = Instant::now();
    let ran = run_target(
        &harness,
        &nginx.addr().to_string(),
        &[
            "--scheme",
            "https",
            "--ca",
            &wrong_ca,
            "--basic-auth",
            &basic,
        ],
        RUN_LIMIT,
    )?;
    assert_stopped_by_inputs(
        &harness,
        &ran,
        started.elapsed(),
        "the server's certificate is not signed by the CA in --ca",
    )?;
    ensure!(ran.stderr.contains(&wrong_ca), "names the file:{ran}");
    Ok(())
}

#[test]
fn a_missing_client_certificate_exits_2_naming_the_flags() -> Result<()> {
    let _serial = crate::support::heavy();
    let harness = Harness::new()?;
    let pki = write_pki(&harness, "pki")?;
    let ca = pki.join("ca.crt").display().to_string();
    let want = "the target requires a client certificate: pass --client-cert/--client-key";

    // nginx refuses with HTTP 400 after the handshake.
    let upstream = PlainExporter::start()?;
    let nginx = Nginx::start(NginxKind::Mtls, upstream.addr(), &pki)?;
    let started = Instant::now();
    let ran = run_target(
        &harness,
        &nginx.addr().to_string(),
        &["--scheme", "https", "--ca", &ca],
        RUN_LIMIT,
    )?;
    assert_stopped_by_inputs(&harness, &ran, started.elapsed(), want)?;
    ensure!(ran.stderr.contains("HTTP 400"), "{ran}");

    // node_exporter (Go, TLS 1.3) refuses in the handshake, with an alert or a reset.
    let web_config = format!(
        "tls_server_config:\n  cert_file: {p}/server.crt\n  key_file: {p}/server.key\n  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: {p}/ca.crt\n",
        p = pki.display()
    );
    let node = NodeExporter::start(
        Some(&web_config),
        &Client {
            ca: Some(pki.join("ca.crt")),
            cert: Some((pki.join("client.crt"), pki.join("client.key"))),
            basic: None,
        },
    )?;
    let started = Instant::now();
    let ran = run_target(
        &harness,
        &node.addr().to_string(),
        &["--scheme", "https", "--ca", &ca],
        RUN_LIMIT,
    )?;
    assert_stopped_by_inputs(&harness, &ran, started.elapsed(), want)
}

#[test]
fn missing_credentials_exit_2_instead_of_blaming_the_target() -> Result<()> {
    let _serial = crate::support::heavy();
    let harness = Harness::new()?;
    let pki = write_pki(&harness, "pki")?;
    let ca = pki.join("ca.crt").display().to_string();
    let upstream = PlainExporter::start()?;
    let nginx = Nginx::start(NginxKind::TlsBasic, upstream.addr(), &pki)?;
    let started = Instant::now();
    let ran = run_target(
        &harness,
        &nginx.addr().to_string(),
        &["--scheme", "https", "--ca", &ca],
        RUN_LIMIT,
    )?;
    assert_stopped_by_inputs(
        &harness,
        &ran,
        started.elapsed(),
        "the configured scrape got HTTP 401",
    )?;
    ensure!(
        ran.stderr.contains("give --basic-auth USER:PASSWORD_FILE"),
        "{ran}"
    );
    Ok(())
}

#[test]
fn a_slow_refusal_ends_within_a_minute_with_scaled_down_timing() -> Result<()> {
    let _serial = crate::support::heavy();
    let harness = Harness::new()?;
    let server = SlowRefusals::start(Duration::from_secs(1))?;
    let password = harness.tmp().join("password");
    std::fs::write(&password, SlowRefusals::PASSWORD)?;
    let basic = format!("{}:{}", SlowRefusals::USER, password.display());
    let started = Instant::now();
    // The default sample count (200) and budget: the budget scales it down.
    let ran = run_target(
        &harness,
        &server.addr.to_string(),
        &["--basic-auth", &basic, "--timing-samples", "200"],
        RUN_LIMIT,
    )?;
    let took = started.elapsed();
    harness.assert_clean(ran.pid)?;
    println!("{}\n(took {took:?})", ran.stdout);
    ensure!(took < Duration::from_secs(60), "took {took:?}{ran}");
    let report = report(&harness, &ran)?;
    ensure!(report["profile"] == "generic", "{}{ran}", report["profile"]);
    ensure!(
        ran.code() == Some(0),
        "every MUST holds: exit 0 expected{ran}"
    );
    assert_row(
        &report,
        &ran,
        "target-wrong-password",
        "MUST",
        "pass",
        "401",
    )?;
    // A wrong password takes 1 s, an unknown user does not: distinguishable, measured with
    // the samples that fit, and the row says so.
    assert_row(
        &report,
        &ran,
        "direct-auth-timing",
        "SHOULD",
        "fail",
        "scaled down from 200",
    )?;
    let timing = row(&report, "direct-auth-timing", &ran)?["detail"]
        .as_str()
        .unwrap_or_default();
    ensure!(
        timing.contains("median wrong password 10") && timing.contains("unknown user"),
        "the latencies are printed: {timing}"
    );
    Ok(())
}

#[test]
fn a_target_accepting_tls_1_0_is_named_by_every_version() -> Result<()> {
    let _serial = crate::support::heavy();
    let harness = Harness::new()?;
    let pki = write_pki(&harness, "pki")?;
    let ca = pki.join("ca.crt").display().to_string();
    let (ran, pids) = {
        let upstream = PlainExporter::start()?;
        let nginx = Nginx::start(NginxKind::LegacyTls, upstream.addr(), &pki)?;
        let ran = run_target(
            &harness,
            &nginx.addr().to_string(),
            &["--scheme", "https", "--ca", &ca],
            RUN_LIMIT,
        )?;
        (ran, [upstream.pid(), nginx.pid()])
    };
    assert_gone(&pids)?;
    harness.assert_clean(ran.pid)?;
    let report = report(&harness, &ran)?;
    println!("{}", ran.stdout);
    ensure!(report["profile"] == "proxy", "{}{ran}", report["profile"]);
    ensure!(ran.code() == Some(1), "a MUST fails: exit 1 expected{ran}");
    ensure!(
        posture(&report).contains("transport: TLS (TLS 1.0, TLS 1.1, TLS 1.2, TLS 1.3)"),
        "{ran}"
    );
    assert_row(
        &report,
        &ran,
        "direct-tls-below-1.2-refused",
        "MUST",
        "fail",
        "the target completed TLS 1.0 and TLS 1.1 handshakes",
    )?;
    assert_row(&report, &ran, "target-configured", "MUST", "pass", "served")?;
    Ok(())
}

/// A plain-HTTP exporter with Basic auth that answers a known user's wrong password 1 s
/// late (as a slow hash would) and everything else at once: a thread per connection,
/// HTTP/1.1 keep-alive unless the client asks to close. Stopped on drop.
struct SlowRefusals {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    accept: Option<std::thread::JoinHandle<()>>,
}

impl SlowRefusals {
    const USER: &'static str = "prom";
    const PASSWORD: &'static str = "slow-Qx7vLp2Wm9";

    fn start(delay: Duration) -> Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").context("binding 127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let accept = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stopped.load(Ordering::SeqCst) {
                    return;
                }
                if let Ok(stream) = stream {
                    std::thread::spawn(move || {
                        let _ = serve(stream, delay);
                    });
                }
            }
        });
        Ok(Self {
            addr,
            stop,
            accept: Some(accept),
        })
    }
}

impl Drop for SlowRefusals {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accept loop, which then sees the flag.
        let _ = TcpStream::connect(self.addr);
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
    }
}

/// Serves requests on one connection until it closes.
fn serve(stream: TcpStream, delay: Duration) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut out = stream;
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line)? == 0 {
            return Ok(());
        }
        let (mut auth, mut close) = (None, false);
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line)? == 0 {
                return Ok(());
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                let value = value.trim();
                match name.to_ascii_lowercase().as_str() {
                    "authorization" => auth = Some(value.to_owned()),
                    "connection" => close = value.eq_ignore_ascii_case("close"),
                    _ => {}
                }
            }
        }
        let path = request_line.split_whitespace().nth(1).unwrap_or("/");
        let credentials = auth
            .as_deref()
            .and_then(|a| a.strip_prefix("Basic "))
            .and_then(base64_decode);
        let (status, body, challenge) = if path != "/metrics" {
            ("404 Not Found", "not found\n".to_owned(), false)
        } else {
            match credentials.as_deref().and_then(|c| c.split_once(':')) {
                Some((u, p)) if u == SlowRefusals::USER && p == SlowRefusals::PASSWORD => (
                    "200 OK",
                    "# TYPE slow_up gauge\nslow_up 1\n".to_owned(),
                    false,
                ),
                Some((u, _)) if u == SlowRefusals::USER => {
                    // The wrong password of a known user: the slow path under test.
                    std::thread::sleep(delay);
                    ("401 Unauthorized", "Unauthorized\n".to_owned(), true)
                }
                _ => ("401 Unauthorized", "Unauthorized\n".to_owned(), true),
            }
        };
        let mut head = format!(
            "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\nContent-Length: {}\r\n",
            body.len()
        );
        if challenge {
            head.push_str("WWW-Authenticate: Basic realm=\"slow\"\r\n");
        }
        if close {
            head.push_str("Connection: close\r\n");
        }
        head.push_str("\r\n");
        out.write_all(head.as_bytes())?;
        out.write_all(body.as_bytes())?;
        out.flush()?;
        if close {
            return Ok(());
        }
    }
}

/// Standard base64 (with padding) to text; `None` when it is not.
fn base64_decode(text: &str) -> Option<String> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut bits = 0u32;
    let mut count = 0;
    let mut out = Vec::new();
    for c in text.trim().bytes().filter(|&c| c != b'=') {
        let v = ALPHABET.iter().position(|&a| a == c)? as u32;
        bits = (bits << 6) | v;
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
            bits &= (1 << count) - 1;
        }
    }
    String::from_utf8(out).ok()
}

#[test]
fn the_test_server_decodes_basic_credentials() {
    assert_eq!(
        base64_decode(fake_exporter::basic_header("prom", "pw").trim_start_matches("Basic "))
            .as_deref(),
        Some("prom:pw")
    );
    assert_eq!(base64_decode("!!"), None);
}

/// A TLS terminator with no `Server` header of its own, as some are: rustls asks every
/// client for a certificate and accepts any in the handshake, then verifies it against the
/// test CA and answers HTTP 403 when that fails (or none came); verified connections are
/// piped to `upstream`. Plain HTTP on its port gets no HTTP answer. Runs on its own
/// runtime, stopped on drop.
struct TlsTerminator {
    addr: SocketAddr,
    _runtime: tokio::runtime::Runtime,
}

impl TlsTerminator {
    fn start(pki: &std::path::Path, upstream: SocketAddr) -> Result<Self> {
        use rustls_pki_types::pem::PemObject as _;
        use rustls_pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_file_iter(pki.join("ca.crt"))? {
            roots.add(cert?)?;
        }
        let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
            roots.into(),
            provider.clone(),
        )
        .build()?;
        let chain: Vec<CertificateDer<'static>> =
            CertificateDer::pem_file_iter(pki.join("server.crt"))?.collect::<Result<_, _>>()?;
        let key = PrivateKeyDer::from_pem_file(pki.join("server.key"))?;
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_client_cert_verifier(Arc::new(AskAnyCert(verifier.clone())))
            .with_single_cert(chain, key)?;
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
        let addr = listener.local_addr()?;
        runtime.spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let (acceptor, verifier) = (acceptor.clone(), verifier.clone());
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let verified = match tls.get_ref().1.peer_certificates() {
                        Some([leaf, intermediates @ ..]) => verifier
                            .verify_client_cert(leaf, intermediates, UnixTime::now())
                            .is_ok(),
                        _ => false,
                    };
                    if verified {
                        if let Ok(mut up) = tokio::net::TcpStream::connect(upstream).await {
                            let _ = tokio::io::copy_bidirectional(&mut tls, &mut up).await;
                        }
                        return;
                    }
                    // Read the request head, then refuse it.
                    let mut head = Vec::new();
                    let mut buf = [0u8; 4096];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                        match tls.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                    let body = "Forbidden\n";
                    let answer = format!(
                        "HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = tls.write_all(answer.as_bytes()).await;
                    let _ = tls.shutdown().await;
                });
            }
        });
        Ok(Self {
            addr,
            _runtime: runtime,
        })
    }
}

/// Asks for a client certificate and takes any (or none) in the handshake, as
/// `ssl_verify_client optional_no_ca` does; signatures are still checked.
#[derive(Debug)]
struct AskAnyCert(Arc<dyn rustls::server::danger::ClientCertVerifier>);

impl rustls::server::danger::ClientCertVerifier for AskAnyCert {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[rustls::DistinguishedName] {
        self.0.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        _end_entity: &rustls_pki_types::CertificateDer<'_>,
        _intermediates: &[rustls_pki_types::CertificateDer<'_>],
        _now: rustls_pki_types::UnixTime,
    ) -> Result<rustls::server::danger::ClientCertVerified, rustls::Error> {
        Ok(rustls::server::danger::ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls_pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls_pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

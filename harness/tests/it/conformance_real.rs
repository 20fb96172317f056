//! `scrape-harness conformance` against real third-party targets (issue 10): nginx as a TLS
//! reverse proxy (TLS + Basic, mTLS, mTLS + Basic) and the Python `prometheus_client` (TLS,
//! mTLS) with `--target`; node_exporter, Prometheus' own `/metrics` and Alertmanager with
//! `--exec`. Each must pass every MUST (exit 0) and leave no process behind.
//!
//! Needs nginx, curl, Alertmanager and the prometheus_client venv: `bash scripts/setup`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{ensure, Result};

use crate::real_targets::{
    exec_template, processes_mentioning, require_exec_exporter, ExecExporter, Nginx, NginxKind,
    PlainExporter, PyExporter,
};
use crate::support::{Harness, Ran};

/// Bound on one conformance run (`--target` runs take seconds, `--exec` runs minutes).
const RUN_LIMIT: Duration = Duration::from_secs(900);

/// Writes the harness's test PKI into the private temp dir.
fn pki(harness: &Harness) -> Result<PathBuf> {
    let dir = harness.tmp().join("pki");
    let ran = harness.run(
        &["certs", "--out", &dir.to_string_lossy()],
        Duration::from_secs(60),
    )?;
    ensure!(ran.status.success(), "certs:{ran}");
    Ok(dir)
}

/// `scrape-harness conformance --target ADDR --scheme https --ca ca.crt EXTRA...`.
fn run_target(harness: &Harness, target: &str, pki: &Path, extra: &[&str]) -> Result<Ran> {
    let ca = pki.join("ca.crt");
    let mut args = vec![
        "conformance",
        "--target",
        target,
        "--scheme",
        "https",
        "--ca",
        ca.to_str().expect("UTF-8 temp path"),
        "--backend",
        "process",
        "--timing-samples",
        "0",
    ];
    args.extend_from_slice(extra);
    harness.run(&args, RUN_LIMIT)
}

/// Exit 0 and the summary line. The report is printed (shown with `--nocapture`: the
/// reference runs of docs/conformance.md come from it).
fn assert_every_must_holds(ran: &Ran) -> Result<()> {
    println!("{}", ran.stdout);
    ensure!(
        ran.code() == Some(0) && ran.stdout.contains("result: every MUST check holds"),
        "expected exit 0 and `every MUST check holds`:{ran}"
    );
    Ok(())
}

/// The table row of `case` (its second column is the case name).
fn row<'a>(ran: &'a Ran, case: &str) -> Result<&'a str> {
    ran.stdout
        .lines()
        .find(|l| l.split_whitespace().nth(1) == Some(case))
        .ok_or_else(|| anyhow::anyhow!("no `{case}` row:{ran}"))
}

/// `case`'s row has `level` and `verdict`, and its detail contains `detail`.
fn assert_row(ran: &Ran, case: &str, level: &str, verdict: &str, detail: &str) -> Result<()> {
    let line = row(ran, case)?;
    let mut cols = line.split_whitespace();
    ensure!(
        cols.next() == Some(level)
            && line.contains(&format!(" {verdict} "))
            && line.contains(detail),
        "`{case}`: expected {level} {verdict} with `{detail}`, got `{line}`:{ran}"
    );
    Ok(())
}

/// Runs `--target` against nginx of `kind` in front of a plain fake-exporter.
fn nginx_passes(kind: NginxKind) -> Result<()> {
    let _serial = crate::support::heavy();
    let harness = Harness::new()?;
    let pki = pki(&harness)?;
    let client_cert = pki.join("client.crt").display().to_string();
    let client_key = pki.join("client.key").display().to_string();
    let (ran, pids) = {
        let upstream = PlainExporter::start()?;
        let nginx = Nginx::start(kind, upstream.addr(), &pki)?;
        let target = nginx.addr().to_string();
        let basic = nginx.basic_auth_arg();
        let mut extra: Vec<&str> = Vec::new();
        if kind.mtls() {
            extra.extend(["--client-cert", &client_cert, "--client-key", &client_key]);
        }
        if kind.basic() {
            extra.extend(["--basic-auth", &basic]);
        }
        let ran = run_target(&harness, &target, &pki, &extra)?;
        (ran, [upstream.pid(), nginx.pid()])
    };
    crate::real_targets::assert_gone(&pids)?;
    harness.assert_clean(ran.pid)?;
    assert_every_must_holds(&ran)?;
    // Detected as a proxy from its Server header; the configured scrape is served even
    // though nginx checks bcrypt on every request (the 2 s timeout has room for it).
    ensure!(
        ran.stdout
            .contains("profile: proxy (detected: `Server: nginx"),
        "{ran}"
    );
    assert_row(&ran, "target-configured", "MUST", "PASS", "served")?;
    assert_row(
        &ran,
        "target-plain-http-to-tls-port",
        "MUST",
        "PASS",
        "HTTP 400",
    )?;
    if kind.mtls() {
        // nginx refuses a missing or foreign client certificate with HTTP 400 after the
        // handshake: refused (the security property holds), the toolkit mechanism (a TLS
        // alert) is a MAY for a proxy.
        ensure!(
            ran.stdout
                .contains("client certificates: required and verified"),
            "{ran}"
        );
        assert_row(
            &ran,
            "target-client-cert-unknown-ca",
            "MUST",
            "PASS",
            "refused (http_status_400",
        )?;
        assert_row(&ran, "target-no-client-cert", "SHOULD", "PASS", "HTTP 400")?;
        assert_row(
            &ran,
            "target-no-client-cert/mechanism",
            "MAY",
            "FAIL",
            "HTTP 400",
        )?;
    }
    if kind.basic() {
        assert_row(&ran, "target-wrong-password", "MUST", "PASS", "HTTP 401")?;
        ensure!(ran.stdout.contains("HTTP auth: Basic"), "{ran}");
    }
    Ok(())
}

#[test]
fn nginx_tls_basic_passes_every_must() -> Result<()> {
    nginx_passes(NginxKind::TlsBasic)
}

#[test]
fn nginx_mtls_passes_every_must() -> Result<()> {
    nginx_passes(NginxKind::Mtls)
}

#[test]
fn nginx_mtls_basic_passes_every_must() -> Result<()> {
    nginx_passes(NginxKind::MtlsBasic)
}

/// Runs `--target` against the prometheus_client exporter.
fn prometheus_client_passes(mtls: bool) -> Result<()> {
    let _serial = crate::support::heavy();
    let harness = Harness::new()?;
    let pki = pki(&harness)?;
    let client_cert = pki.join("client.crt").display().to_string();
    let client_key = pki.join("client.key").display().to_string();
    let (ran, pid) = {
        let py = PyExporter::start(true, mtls, &pki)?;
        let target = py.addr().to_string();
        let mut extra: Vec<&str> = Vec::new();
        if mtls {
            extra.extend(["--client-cert", &client_cert, "--client-key", &client_key]);
        }
        (run_target(&harness, &target, &pki, &extra)?, py.pid())
    };
    crate::real_targets::assert_gone(&[pid])?;
    harness.assert_clean(ran.pid)?;
    assert_every_must_holds(&ran)?;
    // A generic HTTP stack: HTTP/1.0, a connection per response. Keep-alive is a SHOULD
    // of its own, never a condition of a security case.
    ensure!(ran.stdout.contains("profile: generic"), "{ran}");
    assert_row(&ran, "target-configured", "MUST", "PASS", "served")?;
    assert_row(
        &ran,
        "target-keep-alive",
        "SHOULD",
        "FAIL",
        "connection(s) dialled",
    )?;
    if mtls {
        ensure!(
            ran.stdout
                .contains("client certificates: required and verified"),
            "{ran}"
        );
        assert_row(
            &ran,
            "target-client-cert-self-signed",
            "MUST",
            "PASS",
            "refused",
        )?;
    }
    Ok(())
}

#[test]
fn prometheus_client_tls_passes_every_must() -> Result<()> {
    prometheus_client_passes(false)
}

#[test]
fn prometheus_client_mtls_passes_every_must() -> Result<()> {
    prometheus_client_passes(true)
}

/// Runs `--exec` with the template of `exporter`; afterwards no process that was started
/// with a file of the run's private temp dir (every exporter gets its web-config from
/// there) is left, and no work dir.
fn exec_passes(exporter: ExecExporter) -> Result<()> {
    require_exec_exporter(exporter)?;
    let _serial = crate::support::heavy();
    let harness = Harness::new()?;
    let ran = harness.run(
        &[
            "conformance",
            "--exec",
            exec_template(exporter),
            "--backend",
            "process",
            "--timing-samples",
            "0",
        ],
        RUN_LIMIT,
    )?;
    let left = processes_mentioning(&harness.tmp().to_string_lossy())?;
    ensure!(
        left.is_empty(),
        "{exporter:?}: processes left running: {left:?}{ran}"
    );
    harness.assert_clean(ran.pid)?;
    assert_every_must_holds(&ran)
}

#[test]
fn exec_node_exporter_passes_every_must() -> Result<()> {
    exec_passes(ExecExporter::NodeExporter)
}

#[test]
fn exec_prometheus_passes_every_must() -> Result<()> {
    exec_passes(ExecExporter::Prometheus)
}

#[test]
fn exec_alertmanager_passes_every_must() -> Result<()> {
    exec_passes(ExecExporter::Alertmanager)
}

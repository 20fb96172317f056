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
    exec_template, processes_mentioning, require_exec_exporter, Client, ExecExporter, Nginx,
    NginxKind, NodeExporter, PlainExporter, PyExporter,
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

/// Exit 0 and the summary line.
fn assert_every_must_holds(ran: &Ran) -> Result<()> {
    ensure!(
        ran.code() == Some(0) && ran.stdout.contains("result: every MUST holds"),
        "expected exit 0 and `every MUST holds`:{ran}"
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
    assert_every_must_holds(&ran)
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
    assert_every_must_holds(&ran)
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

/// node_exporter with `RequireAnyClientCert` accepts a client certificate from any CA: with
/// `--client-cert` the audit must fail (exit 1) and name the unknown-CA case.
#[test]
fn target_node_exporter_accepting_any_client_cert_fails() -> Result<()> {
    let _serial = crate::support::heavy();
    let harness = Harness::new()?;
    let pki = pki(&harness)?;
    let file = |name: &str| pki.join(name).display().to_string();
    let web_config = format!(
        "tls_server_config:\n  cert_file: {}\n  key_file: {}\n  client_auth_type: RequireAnyClientCert\n",
        file("server.crt"),
        file("server.key")
    );
    let ready = Client {
        ca: Some(pki.join("ca.crt")),
        cert: Some((pki.join("client.crt"), pki.join("client.key"))),
        basic: None,
    };
    let (ran, pid) = {
        let node = NodeExporter::start(Some(&web_config), &ready)?;
        let (cert, key) = (file("client.crt"), file("client.key"));
        let extra = ["--client-cert", cert.as_str(), "--client-key", key.as_str()];
        let ran = run_target(&harness, &node.addr().to_string(), &pki, &extra)?;
        (ran, node.pid())
    };
    crate::real_targets::assert_gone(&[pid])?;
    harness.assert_clean(ran.pid)?;
    ensure!(
        ran.code() == Some(1) && ran.stdout.contains("result: a MUST failed"),
        "expected exit 1, a MUST failed:{ran}"
    );
    let unknown_ca = ran
        .stdout
        .lines()
        .find(|l| l.to_lowercase().contains("unknown-ca") || l.contains("rogue"));
    ensure!(
        unknown_ca.is_some_and(|l| l.contains("FAIL")),
        "no failing unknown-CA client certificate row:{ran}"
    );
    Ok(())
}

/// A plain-HTTP node_exporter with `--require tls` exits 1.
#[test]
fn target_plain_node_exporter_with_require_tls_fails() -> Result<()> {
    let _serial = crate::support::heavy();
    let harness = Harness::new()?;
    let (ran, pid) = {
        let node = NodeExporter::start(None, &Client::default())?;
        let target = node.addr().to_string();
        let ran = harness.run(
            &[
                "conformance",
                "--target",
                &target,
                "--require",
                "tls",
                "--backend",
                "process",
                "--timing-samples",
                "0",
            ],
            RUN_LIMIT,
        )?;
        (ran, node.pid())
    };
    crate::real_targets::assert_gone(&[pid])?;
    harness.assert_clean(ran.pid)?;
    ensure!(
        ran.code() == Some(1) && ran.stdout.contains("result: a MUST failed"),
        "expected exit 1, a MUST failed:{ran}"
    );
    Ok(())
}

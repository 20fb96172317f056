//! `scrape-harness conformance` against real third-party targets (issue 10): nginx as a TLS
//! reverse proxy (TLS + Basic, mTLS, mTLS + Basic) and the Python `prometheus_client` (TLS,
//! mTLS) with `--target`; node_exporter, Prometheus' own `/metrics` and Alertmanager with
//! `--exec`. Each must pass every MUST (exit 0), leave no process behind, and score exactly
//! what docs/conformance.md's reference-run table cites for it: per level the passed,
//! failed, N/A and NOT TESTED counts, and the exact N/A and NOT TESTED case ids, read from
//! the `--json` report. A case that silently becomes N/A or NOT TESTED fails the test.
//!
//! Needs nginx, curl, Alertmanager and the prometheus_client venv: `bash scripts/setup`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{ensure, Context, Result};
use serde_json::Value;

use crate::real_targets::{
    exec_template, processes_mentioning, require_exec_exporter, ExecExporter, Nginx, NginxKind,
    PlainExporter, PyExporter,
};
use crate::support::{Harness, Ran};

/// Bound on one conformance run (`--target` runs take seconds, `--exec` runs minutes).
const RUN_LIMIT: Duration = Duration::from_secs(900);

/// What docs/conformance.md ("Reference runs") cites for a target: per level, how many
/// checks passed, failed, were N/A and NOT TESTED (none may time out), and which were N/A
/// and NOT TESTED, by case id.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Cited {
    /// MUST: passed, failed, N/A, NOT TESTED.
    must: [usize; 4],
    /// SHOULD: passed, failed, N/A, NOT TESTED.
    should: [usize; 4],
    /// MAY: passed, failed, N/A, NOT TESTED.
    may: [usize; 4],
    /// N/A case ids, sorted.
    not_applicable: Vec<String>,
    /// NOT TESTED case ids, sorted.
    not_tested: Vec<String>,
}

impl Cited {
    /// The scores of a `--json` conformance report.
    fn of(report: &Value) -> Result<Self> {
        let results = report["results"]
            .as_array()
            .context("the JSON report has no `results`")?;
        let mut counts: BTreeMap<&str, [usize; 4]> = BTreeMap::new();
        let (mut not_applicable, mut not_tested) = (Vec::new(), Vec::new());
        for r in results {
            let name = r["name"].as_str().context("a result without `name`")?;
            let level = r["level"].as_str().context("a result without `level`")?;
            let slot = match r["verdict"].as_str() {
                Some("pass") => 0,
                Some("fail") => 1,
                Some("not_applicable") => {
                    not_applicable.push(name.to_owned());
                    2
                }
                Some("not_tested") => {
                    not_tested.push(name.to_owned());
                    3
                }
                other => anyhow::bail!("`{name}`: verdict {other:?} (a TIMEOUT is never cited)"),
            };
            counts.entry(level).or_default()[slot] += 1;
        }
        not_applicable.sort();
        not_tested.sort();
        let level = |l: &str| counts.get(l).copied().unwrap_or_default();
        Ok(Self {
            must: level("MUST"),
            should: level("SHOULD"),
            may: level("MAY"),
            not_applicable,
            not_tested,
        })
    }
}

/// `--exec` of node_exporter, Prometheus and Alertmanager (one exporter-toolkit each, 1.5's
/// and the like): MUST 43/43 with 3 N/A, SHOULD 6/6 with 1 N/A, MAY 2/3 with 2 N/A
/// (`http2-when-offered` passes: R8 judged for an exporter under test;
/// `direct-openmetrics` fails). Their toolkit predates `client_allowed_sans`, so the
/// `allowed-sans-*` cases (and their mechanism rows) are N/A (detected). `--timing-samples
/// 0` switches `direct-auth-timing` off: NOT TESTED (issue 23: a check switched off is not
/// N/A). Everything else runs: `--exec` runs every catalog case.
fn toolkit_exec() -> Cited {
    Cited {
        must: [43, 0, 3, 0],
        should: [6, 0, 0, 1],
        may: [2, 1, 2, 0],
        not_applicable: ids(&[
            "allowed-sans-match",
            "allowed-sans-mismatch",
            "allowed-sans-mismatch/mechanism",
            "allowed-sans-optional-cert-absent",
            "allowed-sans-optional-cert-absent/mechanism",
        ]),
        not_tested: ids(&["direct-auth-timing"]),
    }
}

/// `--target` runs: every case of the catalog (scenarios/conformance.yaml) needs a restart
/// with its own web-config, so all of them are NOT TESTED, and so are the direct checks
/// `extra_not_tested` (what the target's configuration does not allow).
fn target_run(
    must: [usize; 4],
    should: [usize; 4],
    may: [usize; 4],
    not_applicable: &[&str],
    extra_not_tested: &[&str],
) -> Result<Cited> {
    let catalog = crate::support::repo_root().join("scenarios/conformance.yaml");
    let text = std::fs::read_to_string(&catalog)
        .with_context(|| format!("reading {}", catalog.display()))?;
    let plan = scrape_harness::Plan::from_sources(&[("conformance.yaml".into(), text)])?;
    let mut not_tested: Vec<String> = plan.cases.iter().map(|c| c.name.clone()).collect();
    not_tested.extend(extra_not_tested.iter().map(|n| (*n).to_owned()));
    not_tested.sort();
    Ok(Cited {
        must,
        should,
        may,
        not_applicable: ids(not_applicable),
        not_tested,
    })
}

/// Direct checks of Basic auth: N/A against a target that serves without credentials
/// (detected: the configured scrape was served without any).
const NO_BASIC_AUTH: [&str; 3] = [
    "direct-401-www-authenticate",
    "direct-auth-timing",
    "direct-no-secrets-echoed",
];

fn ids(names: &[&str]) -> Vec<String> {
    let mut ids: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
    ids.sort();
    ids
}

/// The `--json` report of `ran` (written to `json`) scores exactly `cited`.
fn assert_cited(ran: &Ran, json: &Path, cited: &Cited) -> Result<()> {
    let text = std::fs::read_to_string(json)
        .with_context(|| format!("reading the --json report {}:{ran}", json.display()))?;
    let report: Value = serde_json::from_str(&text).context("parsing the --json report")?;
    let scored = Cited::of(&report)?;
    ensure!(
        &scored == cited,
        "the run scored\n{scored:#?}\nbut docs/conformance.md cites\n{cited:#?}{ran}"
    );
    Ok(())
}

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

/// Where a run writes its `--json` report.
fn json_path(harness: &Harness) -> PathBuf {
    harness.tmp().join("conformance.json")
}

/// `scrape-harness conformance --target ADDR --scheme https --ca ca.crt --json FILE EXTRA...`.
fn run_target(harness: &Harness, target: &str, pki: &Path, extra: &[&str]) -> Result<Ran> {
    let ca = pki.join("ca.crt");
    let json = json_path(harness);
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
        "--json",
        json.to_str().expect("UTF-8 temp path"),
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

/// Runs `--target` against nginx of `kind` in front of a plain fake-exporter; it must score
/// `cited`.
fn nginx_passes(kind: NginxKind, cited: &Cited) -> Result<()> {
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
    assert_cited(&ran, &json_path(&harness), cited)?;
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
    nginx_passes(
        NginxKind::TlsBasic,
        &target_run(
            [9, 0, 0, 28],
            [3, 0, 1, 5],
            [7, 0, 0, 3],
            &["target-client-certificates"],
            &["direct-auth-timing"],
        )?,
    )
}

#[test]
fn nginx_mtls_passes_every_must() -> Result<()> {
    nginx_passes(
        NginxKind::Mtls,
        &target_run(
            [7, 0, 2, 29],
            [4, 0, 1, 4],
            [4, 4, 0, 3],
            &NO_BASIC_AUTH,
            &["target-client-cert-from-client-ca"],
        )?,
    )
}

#[test]
fn nginx_mtls_basic_passes_every_must() -> Result<()> {
    nginx_passes(
        NginxKind::MtlsBasic,
        &target_run(
            [12, 0, 0, 29],
            [4, 0, 0, 5],
            [7, 4, 0, 3],
            &[],
            &["direct-auth-timing", "target-client-cert-from-client-ca"],
        )?,
    )
}

/// Runs `--target` against the prometheus_client exporter; it must score `cited`.
fn prometheus_client_passes(mtls: bool, cited: &Cited) -> Result<()> {
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
    assert_cited(&ran, &json_path(&harness), cited)?;
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
    prometheus_client_passes(
        false,
        &target_run(
            [4, 0, 2, 28],
            [2, 1, 2, 4],
            [4, 0, 0, 3],
            &[&NO_BASIC_AUTH[..], &["target-client-certificates"]].concat(),
            &[],
        )?,
    )
}

#[test]
fn prometheus_client_mtls_passes_every_must() -> Result<()> {
    prometheus_client_passes(
        true,
        &target_run(
            [7, 0, 2, 29],
            [3, 1, 1, 4],
            [8, 0, 0, 3],
            &NO_BASIC_AUTH,
            &["target-client-cert-from-client-ca"],
        )?,
    )
}

/// Runs `--exec` with the template of `exporter`; afterwards no process that was started
/// with a file of the run's private temp dir (every exporter gets its web-config from
/// there) is left, and no work dir; the run scores what the docs cite for a toolkit
/// exporter.
fn exec_passes(exporter: ExecExporter) -> Result<()> {
    require_exec_exporter(exporter)?;
    let _serial = crate::support::heavy();
    let harness = Harness::new()?;
    let json = json_path(&harness);
    let ran = harness.run(
        &[
            "conformance",
            "--exec",
            exec_template(exporter),
            "--backend",
            "process",
            "--timing-samples",
            "0",
            "--json",
            json.to_str().expect("UTF-8 temp path"),
        ],
        RUN_LIMIT,
    )?;
    let left = processes_mentioning(&harness.tmp().to_string_lossy())?;
    ensure!(
        left.is_empty(),
        "{exporter:?}: processes left running: {left:?}{ran}"
    );
    harness.assert_clean(ran.pid)?;
    assert_every_must_holds(&ran)?;
    assert_cited(&ran, &json, &toolkit_exec())
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

//! Conformance mode end to end: node_exporter passes every MUST, fake-exporter passes
//! too and agrees with node_exporter case by case, every mutant of fake-exporter is killed
//! by a different MUST case, the timing check tells a cost-4 hash from the cost-10
//! dummy, and a target that accepts TCP but never answers ends the run in bounded time.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use serde_json::Value;

const NODE_EXPORTER: &str = "/usr/bin/prometheus-node-exporter";

fn harness() -> &'static str {
    env!("CARGO_BIN_EXE_scrape-harness")
}

fn fake_exporter() -> String {
    crate::support::fake_exporter_bin().display().to_string()
}

/// Runs `scrape-harness conformance` and returns (exit code, stdout, verdicts by case).
fn conformance(exec: &str, extra: &[&str]) -> (i32, String, BTreeMap<String, (String, String)>) {
    let json = tempfile::NamedTempFile::new().expect("temp file");
    let out = Command::new(harness())
        .args([
            "conformance",
            "--exec",
            exec,
            "--backend",
            "process",
            "--json",
        ])
        .arg(json.path())
        .args(extra)
        .output()
        .expect("scrape-harness runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let code = out.status.code().unwrap_or(-1);
    assert!(
        code == 0 || code == 1,
        "harness error (exit {code}):\n{stdout}\n{stderr}"
    );
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(json.path()).expect("json written"))
            .unwrap_or_else(|e| panic!("bad JSON ({e}):\n{stdout}\n{stderr}"));
    let verdicts = report["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| {
            (
                r["name"].as_str().unwrap_or_default().to_owned(),
                (
                    r["level"].as_str().unwrap_or_default().to_owned(),
                    r["verdict"].as_str().unwrap_or_default().to_owned(),
                ),
            )
        })
        .collect();
    (code, stdout, verdicts)
}

#[test]
fn node_exporter_and_fake_exporter_pass_every_must_and_agree() {
    let _serial = crate::support::heavy();
    assert!(
        Path::new(NODE_EXPORTER).exists(),
        "{NODE_EXPORTER} is missing: install it with `apt-get install -y prometheus-node-exporter` (or `bash scripts/setup`)"
    );
    let node = format!("{NODE_EXPORTER} --collector.disable-defaults --web.listen-address={{listen}} --web.config.file={{web_config}}");
    let (code, out, node_v) = conformance(&node, &["--timing-samples", "0"]);
    assert_eq!(code, 0, "node_exporter must pass every MUST:\n{out}");
    assert!(out.contains("result: every MUST holds"), "{out}");
    // node_exporter 1.5 has no client_allowed_sans: detected as N/A, not assumed.
    assert_eq!(node_v["allowed-sans-match"].1, "not_applicable", "{out}");

    let fake = format!(
        "{} --web.listen-address={{listen}} --web.config.file={{web_config}}",
        fake_exporter()
    );
    let (code, out_fake, fake_v) = conformance(&fake, &["--timing-samples", "0"]);
    assert_eq!(code, 0, "fake-exporter must pass every MUST:\n{out_fake}");

    let mut disagreements = Vec::new();
    for (name, (level, node_verdict)) in &node_v {
        let (_, fake_verdict) = &fake_v[name];
        if node_verdict == "not_applicable" || fake_verdict == "not_applicable" {
            continue;
        }
        if node_verdict != fake_verdict {
            disagreements.push(format!(
                "{level} {name}: node_exporter {node_verdict}, fake-exporter {fake_verdict}"
            ));
        }
    }
    // The only accepted difference: OpenMetrics is optional and node_exporter 1.5 does not
    // enable it by default.
    disagreements.retain(|d| !d.contains("direct-openmetrics"));
    assert!(
        disagreements.is_empty(),
        "reports disagree:\n{}\n--- node\n{out}\n--- fake\n{out_fake}",
        disagreements.join("\n")
    );
}

#[test]
fn each_mutant_is_killed_by_a_different_must_case() {
    let _serial = crate::support::heavy();
    let killers = [
        ("insecure-accept-any-password", "basic-wrong-password"),
        ("insecure-skip-client-chain-verification", "mtls-rogue-cert"),
        ("insecure-ignore-client-cert-expiry", "mtls-expired-cert"),
        (
            "insecure-ignore-client-allowed-sans",
            "allowed-sans-mismatch",
        ),
        ("no-www-authenticate", "direct-401-www-authenticate"),
        ("echo-credentials", "direct-no-secrets-echoed"),
    ];
    let mut used = std::collections::BTreeSet::new();
    for (mutant, killer) in killers {
        let exec = format!(
            "{} --insecure.mutant={mutant} --web.listen-address={{listen}} --web.config.file={{web_config}}",
            fake_exporter()
        );
        let (code, out, verdicts) = conformance(&exec, &["--timing-samples", "0"]);
        assert_eq!(code, 1, "mutant {mutant} survived (exit {code}):\n{out}");
        let (level, verdict) = &verdicts[killer];
        assert_eq!(
            (level.as_str(), verdict.as_str()),
            ("MUST", "fail"),
            "mutant {mutant} not killed by {killer}:\n{out}"
        );
        assert!(used.insert(killer), "{killer} kills two mutants");
    }
}

#[test]
fn timing_check_tells_a_cheap_hash_from_the_dummy() {
    let _serial = crate::support::heavy();
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(timing_check());
}

async fn timing_check() {
    use fake_exporter::FakeExporter;
    use fake_exporter::WebConfig;
    use scrape_harness::conformance::direct::{auth_timing, Outcome};

    // A user hash of cost 4 answers in microseconds while unknown users pay for the cost-10
    // dummy hash: user names can be enumerated by timing.
    let cheap = bcrypt::hash("s3cret", 4).expect("hash");
    let config = WebConfig::from_yaml_str(
        &format!("basic_auth_users:\n  prom: '{cheap}'\n"),
        Path::new("/tmp/web.yml"),
    )
    .expect("valid");
    let exporter = FakeExporter::builder()
        .web_config(config)
        .start()
        .await
        .expect("starts");
    let outcome = auth_timing(exporter.addr(), None, "/metrics", "prom", 60, 0.001).await;
    assert!(
        matches!(outcome, Outcome::Fail(ref d) if d.contains("distinguishable")),
        "{outcome:?}"
    );

    // With a cost-10 hash, like the dummy, they are not.
    let fair = tokio::task::spawn_blocking(|| bcrypt::hash("s3cret", 10))
        .await
        .expect("join")
        .expect("hash");
    let config = WebConfig::from_yaml_str(
        &format!("basic_auth_users:\n  prom: '{fair}'\n"),
        Path::new("/tmp/web.yml"),
    )
    .expect("valid");
    let exporter = FakeExporter::builder()
        .web_config(config)
        .start()
        .await
        .expect("starts");
    let outcome = auth_timing(exporter.addr(), None, "/metrics", "prom", 200, 0.001).await;
    assert!(matches!(outcome, Outcome::Pass(_)), "{outcome:?}");
}

#[test]
fn a_target_that_never_answers_ends_in_bounded_time_with_timeout_verdicts() -> anyhow::Result<()> {
    let _serial = crate::support::heavy();
    // Arrange: a TLS "exporter" that accepts TCP (the kernel completes the handshake into
    // the backlog) and never sends a byte.
    let silent = std::net::TcpListener::bind("127.0.0.1:0")?;
    let target = silent.local_addr()?.to_string();
    let harness = crate::support::Harness::new()?;
    let pki = harness.tmp().join("pki");
    let ran = harness.run(
        &["certs", "--out", &pki.to_string_lossy()],
        std::time::Duration::from_secs(60),
    )?;
    anyhow::ensure!(ran.status.success(), "certs:{ran}");
    let ca = pki.join("ca.crt");

    // Act
    let ran = harness.run(
        &[
            "conformance",
            "--target",
            &target,
            "--scheme",
            "https",
            "--ca",
            &ca.to_string_lossy(),
            "--backend",
            "process",
            "--timing-samples",
            "0",
        ],
        std::time::Duration::from_secs(180),
    )?;

    // Assert: a verdict per case, the table printed, each direct step cut at its deadline.
    anyhow::ensure!(ran.code() == Some(1), "a MUST fails, exit 1:{ran}");
    for (case, detail) in [
        ("direct-content-type", "TLS handshake with"),
        ("direct-tls-below-1.2-refused", "got no answer within"),
    ] {
        let line = ran
            .stdout
            .lines()
            .find(|l| l.contains(case))
            .ok_or_else(|| anyhow::anyhow!("no `{case}` row:{ran}"))?;
        anyhow::ensure!(
            line.contains("FAIL") && line.contains(detail) && line.contains("10s"),
            "`{case}` should fail at a deadline:{ran}"
        );
    }
    anyhow::ensure!(ran.stdout.contains("result: a MUST failed"), "{ran}");
    drop(silent);
    harness.assert_clean(ran.pid)
}

//! Conformance mode end to end: node_exporter passes every MUST (its MAY failure leaves
//! JUnit without `<failure>` and exit 0), fake-exporter passes too and agrees with
//! node_exporter case by case, every mutant of fake-exporter is killed by a different MUST
//! case (and the one that accepts any client certificate by `--target` too), `--target`
//! catches `RequireAnyClientCert` and a plain endpoint under `--require tls`, the timing
//! check tells a cost-4 hash from the cost-10 dummy, a target that accepts TCP but never
//! answers ends the run in bounded time, a typo in `--exec` ends it in seconds, and
//! exporters of a SIGKILLed run are swept by the next one.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::real_targets::{Client, NodeExporter};

const NODE_EXPORTER: &str = "/usr/bin/prometheus-node-exporter";

fn harness() -> &'static str {
    env!("CARGO_BIN_EXE_scrape-harness")
}

fn fake_exporter() -> String {
    crate::support::fake_exporter_bin().display().to_string()
}

/// What a conformance run gave: exit code, stdout, verdicts by case (level, verdict), JUnit.
struct Conformance {
    code: i32,
    stdout: String,
    verdicts: BTreeMap<String, (String, String)>,
    junit: String,
}

/// Runs `scrape-harness conformance --exec EXEC`.
fn conformance(exec: &str, extra: &[&str]) -> (i32, String, BTreeMap<String, (String, String)>) {
    let c = conformance_with(&["--exec", exec], extra);
    (c.code, c.stdout, c.verdicts)
}

/// Runs `scrape-harness conformance MODE... EXTRA...` with the process backend.
fn conformance_with(mode: &[&str], extra: &[&str]) -> Conformance {
    let json = tempfile::NamedTempFile::new().expect("temp file");
    let junit = tempfile::NamedTempFile::new().expect("temp file");
    let out = Command::new(harness())
        .arg("conformance")
        .args(mode)
        .args(["--backend", "process", "--json"])
        .arg(json.path())
        .arg("--junit")
        .arg(junit.path())
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
    Conformance {
        code,
        stdout,
        verdicts,
        junit: std::fs::read_to_string(junit.path()).unwrap_or_default(),
    }
}

#[test]
fn node_exporter_and_fake_exporter_pass_every_must_and_agree() {
    let _serial = crate::support::heavy();
    assert!(
        Path::new(NODE_EXPORTER).exists(),
        "{NODE_EXPORTER} is missing: install it with `apt-get install -y prometheus-node-exporter` (or `bash scripts/setup`)"
    );
    let node = format!("{NODE_EXPORTER} --collector.disable-defaults --web.listen-address={{listen}} --web.config.file={{web_config}}");
    let node_run = conformance_with(&["--exec", &node], &["--timing-samples", "0"]);
    let (code, out, node_v) = (node_run.code, node_run.stdout.clone(), node_run.verdicts);
    assert_eq!(code, 0, "node_exporter must pass every MUST:\n{out}");
    assert!(out.contains("result: every MUST check holds"), "{out}");
    // node_exporter 1.5 has no client_allowed_sans: detected as N/A, not assumed.
    assert_eq!(node_v["allowed-sans-match"].1, "not_applicable", "{out}");
    // It does not negotiate OpenMetrics (a MAY): the run still passes, and JUnit agrees
    // with the exit code (no <failure>), carrying the verdict in system-out.
    assert_eq!(
        node_v["direct-openmetrics"],
        ("MAY".into(), "fail".into()),
        "{out}"
    );
    assert!(
        !node_run.junit.contains("<failure") && node_run.junit.contains("not failing the run"),
        "JUnit must not fail a MAY under --fail-on must:\n{}",
        node_run.junit
    );
    // Refusals carry their mechanism as a row of its own (toolkit profile: at the case's
    // level); keep-alive is its own SHOULD.
    assert_eq!(
        node_v["mtls-no-cert/mechanism"],
        ("MUST".into(), "pass".into()),
        "{out}"
    );
    assert_eq!(
        node_v["keep-alive-reuse"],
        ("SHOULD".into(), "pass".into()),
        "{out}"
    );

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
    let outcome = auth_timing(
        exporter.addr(),
        None,
        "/metrics",
        "prom",
        60,
        0.001,
        std::time::Duration::from_secs(200),
    )
    .await;
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
    let outcome = auth_timing(
        exporter.addr(),
        None,
        "/metrics",
        "prom",
        200,
        0.001,
        std::time::Duration::from_secs(200),
    )
    .await;
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

    // Assert: a TIMEOUT verdict per case, the table printed, within the bound.
    anyhow::ensure!(ran.code() == Some(1), "a MUST times out, exit 1:{ran}");
    for (case, detail) in [
        ("target-configured", "no answer within 2s"),
        ("target-plain-http-to-tls-port", "no answer within 2s"),
        (
            "direct-content-type",
            "did not answer the first request within 10s",
        ),
        (
            "direct-tls-below-1.2-refused",
            "did not answer the first request",
        ),
    ] {
        let line = ran
            .stdout
            .lines()
            .find(|l| l.split_whitespace().nth(1) == Some(case))
            .ok_or_else(|| anyhow::anyhow!("no `{case}` row:{ran}"))?;
        anyhow::ensure!(
            line.contains("TIMEOUT") && line.contains(detail),
            "`{case}` should be a TIMEOUT:{ran}"
        );
    }
    anyhow::ensure!(
        ran.stdout
            .contains("posture: the target accepted TCP but did not answer a request"),
        "{ran}"
    );
    anyhow::ensure!(ran.stdout.contains("result: a MUST check failed"), "{ran}");
    drop(silent);
    harness.assert_clean(ran.pid)
}

/// A running exporter for `--target` tests: killed on drop.
struct Running(std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `argv` listening on a free port (`{listen}` in `argv` is replaced) and waits
/// until it accepts connections.
fn start_listening(argv: &[String]) -> anyhow::Result<(Running, String)> {
    let port = scrape_harness::prometheus::free_local_port()?;
    let listen = format!("127.0.0.1:{port}");
    let args: Vec<String> = argv
        .iter()
        .map(|a| a.replace("{listen}", &listen))
        .collect();
    let child = Command::new(&args[0])
        .args(&args[1..])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()?;
    let running = Running(child);
    crate::support::poll(
        std::time::Duration::from_secs(15),
        "the exporter to listen",
        || Ok(std::net::TcpStream::connect(&listen).ok().map(|_| ())),
    )?;
    Ok((running, listen))
}

/// A web-config with the test PKI's server certificate and `client_auth_type`.
fn mtls_web_config(dir: &Path, pki: &Path, client_auth_type: &str) -> anyhow::Result<String> {
    let path = dir.join(format!("web-{client_auth_type}.yml"));
    std::fs::write(
        &path,
        format!(
            "tls_server_config:\n  cert_file: {p}/server.crt\n  key_file: {p}/server.key\n  client_auth_type: {client_auth_type}\n  client_ca_file: {p}/ca.crt\n",
            p = pki.display()
        ),
    )?;
    Ok(path.display().to_string())
}

fn test_pki(harness: &crate::support::Harness) -> anyhow::Result<std::path::PathBuf> {
    let pki = harness.tmp().join("pki");
    let ran = harness.run(
        &["certs", "--out", &pki.to_string_lossy()],
        std::time::Duration::from_secs(60),
    )?;
    anyhow::ensure!(ran.status.success(), "certs:{ran}");
    Ok(pki)
}

/// `--target` with the user's client certificate against an exporter that accepts any.
fn target_with_client_cert(listen: &str, pki: &Path) -> Conformance {
    let p = |f: &str| pki.join(f).display().to_string();
    conformance_with(
        &[
            "--target",
            listen,
            "--scheme",
            "https",
            "--ca",
            &p("ca.crt"),
            "--client-cert",
            &p("client.crt"),
            "--client-key",
            &p("client.key"),
        ],
        &["--timing-samples", "0"],
    )
}

#[test]
fn target_mode_catches_an_exporter_that_accepts_any_client_certificate() -> anyhow::Result<()> {
    let _serial = crate::support::heavy();
    let harness = crate::support::Harness::new()?;
    let pki = test_pki(&harness)?;

    // node_exporter with RequireAnyClientCert: the user's certificate is served, and so is
    // one from a CA nobody trusts.
    let config = mtls_web_config(harness.tmp(), &pki, "RequireAnyClientCert")?;
    let node = NodeExporter::start(
        Some(&std::fs::read_to_string(&config)?),
        &Client {
            ca: Some(pki.join("ca.crt")),
            cert: Some((pki.join("client.crt"), pki.join("client.key"))),
            basic: None,
        },
    )?;
    let run = target_with_client_cert(&node.addr().to_string(), &pki);
    anyhow::ensure!(run.code == 1, "exit 1 expected:\n{}", run.stdout);
    anyhow::ensure!(
        run.verdicts["target-client-cert-unknown-ca"] == ("MUST".into(), "fail".into()),
        "the unknown-CA certificate case must fail:\n{}",
        run.stdout
    );
    anyhow::ensure!(
        run.stdout.contains("required but NOT verified"),
        "posture:\n{}",
        run.stdout
    );
    let node_pid = node.pid();
    drop(node);
    crate::real_targets::assert_gone(&[node_pid])?;

    // The mutant that accepts any client certificate while claiming
    // RequireAndVerifyClientCert is killed the same way.
    let config = mtls_web_config(harness.tmp(), &pki, "RequireAndVerifyClientCert")?;
    let (_mutant, listen) = start_listening(&[
        fake_exporter(),
        "--insecure.mutant=insecure-skip-client-chain-verification".into(),
        "--web.listen-address={listen}".into(),
        format!("--web.config.file={config}"),
    ])?;
    let run = target_with_client_cert(&listen, &pki);
    anyhow::ensure!(run.code == 1, "exit 1 expected:\n{}", run.stdout);
    anyhow::ensure!(
        run.verdicts["target-client-cert-unknown-ca"] == ("MUST".into(), "fail".into()),
        "{}",
        run.stdout
    );

    // The same configuration without the mutant passes every MUST.
    let (_honest, listen) = start_listening(&[
        fake_exporter(),
        "--web.listen-address={listen}".into(),
        format!("--web.config.file={config}"),
    ])?;
    let run = target_with_client_cert(&listen, &pki);
    anyhow::ensure!(run.code == 0, "exit 0 expected:\n{}", run.stdout);
    anyhow::ensure!(
        run.stdout.contains("required and verified"),
        "{}",
        run.stdout
    );
    Ok(())
}

#[test]
fn target_mode_require_tls_fails_a_plain_endpoint() -> anyhow::Result<()> {
    let _serial = crate::support::heavy();
    let node = NodeExporter::start(None, &Client::default())?;
    let listen = node.addr().to_string();
    // Without --require, the open endpoint is a SHOULD failure: reported, exit 0.
    let run = conformance_with(&["--target", &listen], &["--timing-samples", "0"]);
    anyhow::ensure!(run.code == 0, "{}", run.stdout);
    anyhow::ensure!(
        run.verdicts["target-protected"] == ("SHOULD".into(), "fail".into()),
        "{}",
        run.stdout
    );
    // Catalog cases that need a restart are listed, not left out.
    anyhow::ensure!(
        run.verdicts["mtls-rogue-cert"].1 == "not_tested",
        "{}",
        run.stdout
    );
    let run = conformance_with(
        &["--target", &listen, "--require", "tls"],
        &["--timing-samples", "0"],
    );
    anyhow::ensure!(run.code == 1, "{}", run.stdout);
    anyhow::ensure!(
        run.verdicts["require-tls"] == ("MUST".into(), "fail".into()),
        "{}",
        run.stdout
    );
    let node_pid = node.pid();
    drop(node);
    crate::real_targets::assert_gone(&[node_pid])
}

#[test]
fn a_typo_in_the_exec_command_exits_2_within_seconds() -> anyhow::Result<()> {
    let harness = crate::support::Harness::new()?;
    let started = std::time::Instant::now();
    let ran = harness.run(
        &[
            "conformance",
            "--exec",
            "prometheus-node-exportr --web.listen-address={listen} --web.config.file={web_config}",
            "--backend",
            "process",
        ],
        std::time::Duration::from_secs(60),
    )?;
    anyhow::ensure!(ran.code() == Some(2), "exit 2 expected:{ran}");
    anyhow::ensure!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "took {:?}:{ran}",
        started.elapsed()
    );
    anyhow::ensure!(
        ran.stderr.contains("preflight") && ran.stderr.contains("not found"),
        "the shell's message must be shown:{ran}"
    );
    harness.assert_clean(ran.pid)
}

/// Pids of processes marked as started by harness pid `owner`.
fn marked_by(owner: u32) -> Vec<u32> {
    let marker = format!("{}={owner}", scrape_harness::prometheus::OWNER_PID_ENV);
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let alive = std::fs::read_to_string(entry.path().join("stat"))
            .map(|s| !s.contains(") Z "))
            .unwrap_or(false);
        if alive
            && std::fs::read(entry.path().join("environ"))
                .map(|e| e.split(|b| *b == 0).any(|v| v == marker.as_bytes()))
                .unwrap_or(false)
        {
            out.push(pid);
        }
    }
    out
}

#[test]
fn exporters_of_a_sigkilled_exec_run_are_swept_by_the_next_run() -> anyhow::Result<()> {
    let _serial = crate::support::heavy();
    let harness = crate::support::Harness::new()?;
    let exec = format!(
        "{} --web.listen-address={{listen}} --web.config.file={{web_config}}",
        fake_exporter()
    );
    let mut child = harness.spawn(&[
        "conformance",
        "--exec",
        &exec,
        "--backend",
        "process",
        "--timing-samples",
        "0",
    ])?;
    let killed = child.id();
    // Arrange: the catalog's exporters are running (more than the preflight's one).
    crate::support::poll(
        std::time::Duration::from_secs(60),
        "the catalog's exporters to start",
        || Ok((marked_by(killed).len() >= 10).then_some(())),
    )?;
    std::process::Command::new("kill")
        .args(["-KILL", &killed.to_string()])
        .status()?;
    let _ = child.wait();
    let orphans = marked_by(killed);
    anyhow::ensure!(
        !orphans.is_empty(),
        "a SIGKILLed harness leaves its exporters (their own process groups)"
    );
    let dirs = harness.leftover_dirs()?;
    anyhow::ensure!(
        dirs.iter()
            .any(|d| d.to_string_lossy().contains("scrape-harness-conformance-")),
        "and its conformance dir: {dirs:?}"
    );

    // Act: the next run sweeps them.
    let next = harness.run(
        &[
            "run",
            "--backend",
            "process",
            "--no-progress",
            &crate::support::test_scenario("quick.yaml")
                .display()
                .to_string(),
        ],
        std::time::Duration::from_secs(120),
    )?;

    // Assert
    anyhow::ensure!(next.code() == Some(0), "{next}");
    let left = marked_by(killed);
    anyhow::ensure!(
        left.is_empty(),
        "exporters {left:?} of pid {killed} left:{next}"
    );
    // Its Prometheus and its work dirs (the conformance dir with the exporters' data too).
    harness.assert_clean(killed)?;
    harness.assert_clean(next.pid)
}

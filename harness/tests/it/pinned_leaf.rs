//! A client certificate pinned directly as `client_ca_file` (the pool holds the client's
//! own leaf, no CA): Go's `x509.Certificate.Verify` trusts a leaf found in the root pool,
//! still checking its dates and EKU. node_exporter 1.5 and fake-exporter get the same
//! web-config and the same three scrape jobs from one real Prometheus each; both must serve
//! the pinned leaf and refuse a sibling from the same CA and an expired pinned leaf.

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{ensure, Context, Result};

use fake_exporter::pki::{issued_by, KeyType, Pki};
use fake_exporter::FakeExporter;
use scrape_harness::{runs::Launcher, BackendKind, Plan, RunOptions};

use crate::real_targets::{require_program, Client, NodeExporter};
use crate::support::{failures_of, heavy};

/// A client CA with its PKCS#8 key, made by openssl (the test PKI keeps its CA key in
/// memory only).
fn client_ca(dir: &Path) -> Result<(String, String)> {
    require_program("openssl")?;
    let (crt, key) = (dir.join("client-ca.crt"), dir.join("client-ca.key"));
    let out = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
        .arg("ec_paramgen_curve:prime256v1")
        .args(["-nodes", "-days", "2", "-subj", "/CN=pinned-leaf test CA"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&crt)
        .stdin(Stdio::null())
        .output()
        .context("running openssl")?;
    ensure!(
        out.status.success(),
        "openssl req failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok((fs::read_to_string(crt)?, fs::read_to_string(key)?))
}

/// Writes `name.crt` and `name.key` for `identity` into `dir`.
fn write_identity(dir: &Path, name: &str, identity: &fake_exporter::pki::Identity) -> Result<()> {
    fs::write(dir.join(format!("{name}.crt")), &identity.cert_chain_pem)?;
    fs::write(dir.join(format!("{name}.key")), &identity.key_pem)?;
    Ok(())
}

#[test]
fn pinned_client_leaf_is_served_by_node_exporter_and_fake_exporter_alike() -> Result<()> {
    let _lock = heavy();
    // Arrange: a server PKI, and from one client CA a pinned leaf, an expired leaf (both
    // in the pool) and a sibling of the pinned leaf (not in the pool).
    let dir = tempfile::Builder::new()
        .prefix("it-pinned-leaf-")
        .tempdir()?;
    let d = dir.path();
    let server = Pki::generate(KeyType::EcdsaP256)?.write_to(&d.join("server-pki"))?;
    let (ca_pem, ca_key) = client_ca(d)?;
    let first = issued_by(&ca_pem, &ca_key)?;
    let second = issued_by(&ca_pem, &ca_key)?;
    let by_name = |certs: &[fake_exporter::pki::ProbeCert], name: &str| {
        certs
            .iter()
            .find(|c| c.name == name)
            .map(|c| c.identity.clone())
            .with_context(|| format!("issued_by made no `{name}`"))
    };
    let pinned = by_name(&first, "ca-valid")?;
    write_identity(d, "pinned", &pinned)?;
    write_identity(d, "expired", &by_name(&first, "ca-expired")?)?;
    write_identity(d, "sibling", &by_name(&second, "ca-valid")?)?;
    fs::write(
        d.join("pool.crt"),
        format!(
            "{}{}",
            pinned.cert_chain_pem,
            fs::read_to_string(d.join("expired.crt"))?
        ),
    )?;
    let server_crt = server.server_cert(fake_exporter::pki::ServerCert::Valid);
    let server_key = server.server_key(fake_exporter::pki::ServerCert::Valid);
    let web_config = format!(
        "tls_server_config:\n  cert_file: {}\n  key_file: {}\n  \
         client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: {}\n",
        server_crt.display(),
        server_key.display(),
        d.join("pool.crt").display()
    );
    let web_config_path = d.join("web-config.yml");
    fs::write(&web_config_path, &web_config)?;
    let ready = Client {
        ca: Some(server.ca()),
        cert: Some((d.join("pinned.crt"), d.join("pinned.key"))),
        basic: None,
    };
    let case = |name: &str, cert: &str, expect: &str| {
        format!(
            "  - name: {name}\n    \
             exporter: {{ server_cert: valid, client_auth_type: RequireAndVerifyClientCert, client_ca: client.crt }}\n    \
             scrape: {{ scheme: https, tls_config: {{ ca_file: {ca}, cert_file: {crt}, key_file: {key} }} }}\n    \
             expect: {expect}\n",
            ca = server.ca().display(),
            crt = d.join(format!("{cert}.crt")).display(),
            key = d.join(format!("{cert}.key")).display(),
        )
    };
    let yaml = format!(
        "defaults: {{ scrape_interval: 500ms, scrape_timeout: 500ms, scrapes: 3 }}\ncases:\n{}{}{}",
        case("pinned-leaf", "pinned", "{ health: up, keep_alive: any }"),
        case(
            "sibling-of-pinned-leaf",
            "sibling",
            "{ health: down, error: client_cert_rejected }"
        ),
        case(
            "expired-pinned-leaf",
            "expired",
            "{ health: down, error: client_cert_rejected }"
        ),
    );
    let plan = Plan::from_sources(&[("pinned-leaf.yaml".into(), yaml)])?;
    let runtime = tokio::runtime::Runtime::new()?;

    // Act: the same plan against each exporter, already running with the same web-config.
    let node = NodeExporter::start(Some(&web_config), &ready)?;
    let run = |addr| {
        let options = RunOptions {
            prometheus: BackendKind::Process.into(),
            launcher: Launcher::Running(addr),
            ..RunOptions::default()
        };
        runtime.block_on(scrape_harness::run(&plan, &options))
    };
    let node_report = run(node.addr())?;
    drop(node);
    let fake = runtime.block_on(
        FakeExporter::builder()
            .listen("127.0.0.1:0".parse()?)
            .web_config_file(&web_config_path)
            .start(),
    )?;
    let fake_report = run(fake.addr())?;
    drop(fake);

    // Assert: every case passes on both; each side's verdicts listed on failure.
    let mut failures = Vec::new();
    for (who, report) in [
        ("node_exporter", &node_report),
        ("fake-exporter", &fake_report),
    ] {
        ensure!(
            report.cases.len() == 3,
            "{who}: {} cases judged",
            report.cases.len()
        );
        failures_of(who, report, &mut failures);
    }
    ensure!(failures.is_empty(), "{}", failures.join("\n"));
    Ok(())
}

//! Build-it labs through the binary, against a real Prometheus and fake-exporter: each
//! starts from a folder with a README and a `prometheus.yml` without a job, the learner's
//! steps are done as a tutorial prints them (the real `openssl` CLI, `htpasswd` for the
//! bcrypt hash, a `web-config.yml` and a job written by hand), and `lab check` names what
//! is missing, diagnoses the tutorials' pitfalls (a `DNS:localhost` certificate scraped by
//! IP, a certificate without subjectAltName, a key that is not the certificate's, a hash
//! where the password belongs, a job without its client certificate) and calls the right
//! set-up solved.

use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{ensure, Context, Result};

use crate::lab::LabDir;

/// Runs `program args` in `dir` as a learner types it; its stdout.
fn run_in(dir: &Path, program: &str, args: &[&str]) -> Result<String> {
    let out = Command::new(program)
        .current_dir(dir)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running {program}: install it with `bash scripts/setup`"))?;
    ensure!(
        out.status.success(),
        "{program} {} failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `openssl ARGS` in the lab folder (`ARGS` split on spaces; no argument has one).
fn openssl(dir: &Path, args: &str) -> Result<()> {
    let args: Vec<&str> = args.split_whitespace().collect();
    run_in(dir, "openssl", &args).map(drop)
}

/// The tutorial's self-signed certificate (`exporter.crt`, `exporter.key`); `san` `None`:
/// without `-addext subjectAltName` at all (CN only).
fn self_signed(dir: &Path, san: Option<&str>) -> Result<()> {
    let mut args = "req -new -newkey rsa:2048 -x509 -nodes -days 365 -keyout exporter.key \
                    -out exporter.crt -subj /C=SG/O=MyOrg/CN=localhost"
        .to_owned();
    if let Some(san) = san {
        args.push_str(&format!(" -addext subjectAltName={san}"));
    }
    openssl(dir, &args)
}

fn write(dir: &Path, name: &str, text: &str) -> Result<()> {
    std::fs::write(dir.join(name), text).with_context(|| format!("writing {name}"))
}

/// Appends `text` to the lab's `prometheus.yml` (the job under its `scrape_configs`).
fn add_job(dir: &Path, text: &str) -> Result<()> {
    let path = dir.join("prometheus.yml");
    let mut yml = std::fs::read_to_string(&path).context("reading prometheus.yml")?;
    yml.push_str(text);
    std::fs::write(&path, yml).context("writing prometheus.yml")
}

/// The exporter's port, from the lab's state.
fn exporter_port(dir: &Path) -> Result<u64> {
    let text = std::fs::read_to_string(dir.join(".lab/state.json"))?;
    let state: serde_json::Value = serde_json::from_str(&text)?;
    state["ports"]["exporter"]
        .as_u64()
        .context("ports.exporter in .lab/state.json")
}

/// Starts `name`: the folder holds a README with the tutorial path and the protections,
/// a `prometheus.yml` without a job and no `web-config.yml`; the first `check` names both
/// as missing.
fn start_empty(lab: &LabDir, name: &str, protects: &[&str]) -> Result<()> {
    lab.start(name)?;
    let dir = lab.dir();
    ensure!(
        !dir.join("web-config.yml").exists(),
        "{name}: a web-config.yml at start"
    );
    let readme = std::fs::read_to_string(dir.join("README.md"))?;
    for part in ["## The tutorial path", "openssl", "web-config.yml"]
        .iter()
        .chain(protects)
    {
        ensure!(
            readme.contains(part),
            "{name}: README without {part:?}:\n{readme}"
        );
    }
    let ran = lab.check(false)?;
    ensure!(
        ran.stdout.contains("web-config.yml — no_exporter_config")
            && ran.stdout.contains("prometheus.yml — no_jobs"),
        "{name}: the first check must name the missing exporter config and job:{ran}"
    );
    Ok(())
}

#[test]
fn build_tls_from_openssl_to_solved_with_the_tutorials_pitfalls_diagnosed() -> Result<()> {
    let lab = LabDir::new()?;
    start_empty(
        &lab,
        "build-tls",
        &["TLS with server certificate verification"],
    )?;
    let dir = lab.dir();
    let port = exporter_port(dir)?;

    // The tutorial's certificate (DNS:localhost only), then a key that is not its own
    // (made again by mistake), and the web-config.yml: the exporter refuses the file at
    // start (as exporter-toolkit does), named with the exporter's own words.
    self_signed(dir, Some("DNS:localhost"))?;
    openssl(
        dir,
        "genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out exporter.key",
    )?;
    write(
        dir,
        "web-config.yml",
        "tls_server_config:\n  cert_file: exporter.crt\n  key_file: exporter.key\n",
    )?;
    let ran = lab.check(false)?;
    ensure!(
        ran.stdout.contains("web-config.yml — web_config_refused")
            && ran.stdout.contains("exporter says:")
            && ran.stdout.contains("private key does not match public key")
            && !ran.stdout.contains("— no_exporter_config")
            && ran.stdout.contains("— no_jobs"),
        "{ran}"
    );

    // The certificate and its own key made again: the exporter starts (`check` retries it
    // because it does not run); the job is still missing.
    self_signed(dir, Some("DNS:localhost"))?;
    let ran = lab.check(false)?;
    ensure!(
        !ran.stdout.contains("— web_config_refused") && ran.stdout.contains("— no_jobs"),
        "{ran}"
    );

    // The job, scraping the exporter by IP: `no_ip_sans`.
    add_job(
        dir,
        &format!(
            "scrape_configs:\n  - job_name: node\n    scheme: https\n    tls_config:\n      \
             ca_file: exporter.crt\n    static_configs:\n      - targets: [\"127.0.0.1:{port}\"]\n"
        ),
    )?;
    let ran = lab.check(false)?;
    ensure!(
        ran.stdout.contains("down (no_ip_sans)")
            && ran.stdout.contains("doesn't contain any IP SANs"),
        "{ran}"
    );

    // No subjectAltName at all (CN only), verified as `localhost`: Go ignores the CN.
    self_signed(dir, None)?;
    lab.edit(
        "prometheus.yml",
        "      ca_file: exporter.crt\n",
        "      ca_file: exporter.crt\n      server_name: localhost\n",
    )?;
    let ran = lab.check(false)?;
    ensure!(
        ran.stdout.contains("down (legacy_common_name)")
            && ran.stdout.contains("relies on legacy Common Name field")
            && ran.stdout.contains("subjectAltName"),
        "{ran}"
    );

    // Right: a certificate (and its own key) with IP:127.0.0.1, no server_name.
    self_signed(dir, Some("DNS:localhost,IP:127.0.0.1"))?;
    lab.edit("prometheus.yml", "      server_name: localhost\n", "")?;
    let ran = lab.check(true)?;
    ensure!(
        ran.stdout.contains("SOLVED") && ran.stdout.contains(": up (none)"),
        "{ran}"
    );

    // The key replaced while the target is up and Prometheus keeps its connection open:
    // `check` restarts the exporter (a file its web config names changed), which refuses
    // the pair; the kept-alive connection does not hide it.
    let good_key = std::fs::read(dir.join("exporter.key"))?;
    openssl(
        dir,
        "genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out exporter.key",
    )?;
    let ran = lab.check(false)?;
    ensure!(
        ran.stdout.contains("private key does not match public key")
            && ran.stdout.contains("down (refused)"),
        "{ran}"
    );
    std::fs::write(dir.join("exporter.key"), good_key)?;
    let ran = lab.check(true)?;
    ensure!(ran.stdout.contains("SOLVED"), "{ran}");
    lab.stop()
}

#[test]
fn build_tls_basic_with_an_htpasswd_hash_and_the_password_in_a_file() -> Result<()> {
    let lab = LabDir::new()?;
    start_empty(
        &lab,
        "build-tls-basic",
        &[
            "TLS with server certificate verification",
            "credentials demanded by the server and sent by Prometheus",
            "htpasswd -nbBC 10",
        ],
    )?;
    let dir = lab.dir();
    let port = exporter_port(dir)?;
    self_signed(dir, Some("DNS:localhost,IP:127.0.0.1"))?;
    // `htpasswd -nbBC 10 USER PASSWORD` prints `USER:HASH` and an empty line.
    let line = run_in(dir, "htpasswd", &["-nbBC", "10", "prom", "lab-password"])?;
    let hash = line
        .trim()
        .strip_prefix("prom:")
        .context("htpasswd printed no `prom:` line")?
        .to_owned();
    write(
        dir,
        "web-config.yml",
        &format!(
            "tls_server_config:\n  cert_file: exporter.crt\n  key_file: exporter.key\n\
             basic_auth_users:\n  prom: {hash}\n"
        ),
    )?;
    // The tutorials' confusion: the hash where Prometheus needs the password.
    write(dir, "password.txt", &hash)?;
    add_job(
        dir,
        &format!(
            "scrape_configs:\n  - job_name: node\n    scheme: https\n    basic_auth:\n      \
             username: prom\n      password_file: password.txt\n    tls_config:\n      \
             ca_file: exporter.crt\n    static_configs:\n      - targets: [\"127.0.0.1:{port}\"]\n"
        ),
    )?;
    let ran = lab.check(false)?;
    ensure!(
        ran.stdout.contains("down (unauthorized)") && ran.stdout.contains("bcrypt hash"),
        "{ran}"
    );
    write(dir, "password.txt", "lab-password")?;
    let ran = lab.check(true)?;
    ensure!(ran.stdout.contains("SOLVED"), "{ran}");
    lab.stop()
}

#[test]
fn build_mtls_with_an_openssl_ca_server_and_client_certificate() -> Result<()> {
    let lab = LabDir::new()?;
    start_empty(
        &lab,
        "build-mtls",
        &[
            "TLS with server certificate verification",
            "a client certificate demanded and verified by the exporter",
        ],
    )?;
    let dir = lab.dir();
    let port = exporter_port(dir)?;
    let ec = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
    openssl(
        dir,
        &format!("req -x509 {ec} -days 365 -subj /CN=lab-ca -keyout ca.key -out ca.crt"),
    )?;
    openssl(
        dir,
        &format!(
            "req -new {ec} -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
             -keyout server.key -out server.csr"
        ),
    )?;
    openssl(
        dir,
        "x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 365 \
         -copy_extensions copy -out server.crt",
    )?;
    openssl(
        dir,
        &format!(
            "req -new {ec} -subj /CN=prometheus -addext extendedKeyUsage=clientAuth \
             -keyout client.key -out client.csr"
        ),
    )?;
    openssl(
        dir,
        "x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 365 \
         -copy_extensions copy -out client.crt",
    )?;
    write(
        dir,
        "web-config.yml",
        "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  \
         client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.crt\n",
    )?;
    // First the server-only TLS job of most tutorials: no client certificate.
    add_job(
        dir,
        &format!(
            "scrape_configs:\n  - job_name: node\n    scheme: https\n    tls_config:\n      \
             ca_file: ca.crt\n    static_configs:\n      - targets: [\"127.0.0.1:{port}\"]\n"
        ),
    )?;
    let ran = lab.check(false)?;
    ensure!(ran.stdout.contains("down (client_cert_required)"), "{ran}");
    lab.edit(
        "prometheus.yml",
        "      ca_file: ca.crt\n",
        "      ca_file: ca.crt\n      cert_file: client.crt\n      key_file: client.key\n",
    )?;
    // A client certificate made like the server's (extendedKeyUsage=serverAuth): signed
    // by the right CA, but not for client authentication.
    let client = std::fs::read(dir.join("client.crt"))?;
    openssl(
        dir,
        "req -new -subj /CN=prometheus -addext extendedKeyUsage=serverAuth -key client.key \
         -out client-server-eku.csr",
    )?;
    openssl(
        dir,
        "x509 -req -in client-server-eku.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
         -days 365 -copy_extensions copy -out client.crt",
    )?;
    let ran = lab.check(false)?;
    ensure!(ran.stdout.contains("down (client_cert_rejected)"), "{ran}");
    std::fs::write(dir.join("client.crt"), client)?;
    let ran = lab.check(true)?;
    ensure!(ran.stdout.contains("SOLVED"), "{ran}");
    lab.stop()
}

//! Start-up errors of the `fake-exporter` binary: every malformed input stops it with a
//! non-zero exit and one message that names the file and the field (and the flag for flags).

use std::path::{Path, PathBuf};

use anyhow::bail;
use fake_exporter::pki::{ClientCert, KeyType, Pki, PkiFiles, ServerCert};

use crate::support::{bcrypt_hash, fake_exporter_bin, free_addr, write_atomic, Proc, DEADLINE};

/// Runs the binary with `web_config` (if any) and extra flags; it must exit non-zero, and its
/// stderr must contain every one of `needles`.
async fn must_fail(
    dir: &Path,
    name: &str,
    web_config: Option<&str>,
    extra: &[String],
    needles: &[&str],
) -> anyhow::Result<()> {
    let mut args = vec![format!("--web.listen-address={}", free_addr())];
    if let Some(yaml) = web_config {
        let path = dir.join(format!("{name}.yml"));
        write_atomic(&path, yaml)?;
        args.push(format!("--web.config.file={}", path.display()));
    }
    args.extend_from_slice(extra);
    let mut proc = Proc::spawn(name, fake_exporter_bin(), &args, dir)?;
    let status = proc.wait_exit(DEADLINE).await?;
    let stderr = proc.stderr();
    let missing: Vec<&&str> = needles.iter().filter(|n| !stderr.contains(**n)).collect();
    if status.success() || !missing.is_empty() {
        bail!(
            "case `{name}`: expected a non-zero exit and {missing:?} in stderr\n{}",
            proc.report()
        );
    }
    Ok(())
}

fn tls_config(cert: &Path, key: &Path, extra: &str) -> String {
    format!(
        "tls_server_config:\n  cert_file: {}\n  key_file: {}\n{extra}",
        cert.display(),
        key.display()
    )
}

fn config_path(dir: &Path, name: &str) -> String {
    dir.join(format!("{name}.yml")).display().to_string()
}

fn setup() -> anyhow::Result<(tempfile::TempDir, PkiFiles)> {
    let dir = tempfile::tempdir()?;
    let files = Pki::generate(KeyType::EcdsaP256)?.write_to(&dir.path().join("pki"))?;
    Ok((dir, files))
}

#[tokio::test]
async fn unknown_key_names_file_and_key() -> anyhow::Result<()> {
    let (dir, _) = setup()?;
    let d = dir.path();
    must_fail(
        d,
        "unknown-key",
        Some("basic_auth_users: {}\nbasic_auth_userz:\n  a: b\n"),
        &[],
        &[&config_path(d, "unknown-key"), "basic_auth_userz"],
    )
    .await?;
    must_fail(
        d,
        "unknown-nested-key",
        Some("tls_server_config:\n  cert_fil: x.crt\n"),
        &[],
        &[&config_path(d, "unknown-nested-key"), "cert_fil"],
    )
    .await
}

#[tokio::test]
async fn bad_yaml_names_file_and_line() -> anyhow::Result<()> {
    let (dir, _) = setup()?;
    let d = dir.path();
    must_fail(
        d,
        "bad-yaml",
        Some("tls_server_config:\n  cert_file: [unclosed\n"),
        &[],
        &[&config_path(d, "bad-yaml"), "line"],
    )
    .await
}

#[tokio::test]
async fn missing_or_unreadable_cert_file_names_the_key_and_the_path() -> anyhow::Result<()> {
    let (dir, files) = setup()?;
    let d = dir.path();
    let key = files.server_key(ServerCert::Valid);
    let missing = d.join("no-such.crt");
    must_fail(
        d,
        "missing-cert",
        Some(&tls_config(&missing, &key, "")),
        &[],
        &[
            &config_path(d, "missing-cert"),
            "cert_file",
            &missing.display().to_string(),
        ],
    )
    .await?;
    // Running as root makes chmod 000 readable; a directory is unreadable for everyone.
    let not_a_file: PathBuf = d.join("pki");
    must_fail(
        d,
        "unreadable-cert",
        Some(&tls_config(&not_a_file, &key, "")),
        &[],
        &[
            &config_path(d, "unreadable-cert"),
            "cert_file",
            &not_a_file.display().to_string(),
        ],
    )
    .await
}

#[tokio::test]
async fn missing_key_file_names_the_key_and_the_path() -> anyhow::Result<()> {
    let (dir, files) = setup()?;
    let d = dir.path();
    let missing = d.join("no-such.key");
    must_fail(
        d,
        "missing-key",
        Some(&tls_config(
            &files.server_cert(ServerCert::Valid),
            &missing,
            "",
        )),
        &[],
        &[
            &config_path(d, "missing-key"),
            "key_file",
            &missing.display().to_string(),
        ],
    )
    .await?;
    must_fail(
        d,
        "no-key-at-all",
        Some(&format!(
            "tls_server_config:\n  cert_file: {}\n",
            files.server_cert(ServerCert::Valid).display()
        )),
        &[],
        &[&config_path(d, "no-key-at-all"), "key_file"],
    )
    .await
}

#[tokio::test]
async fn cert_key_mismatch_names_both_files() -> anyhow::Result<()> {
    let (dir, files) = setup()?;
    let d = dir.path();
    let cert = files.server_cert(ServerCert::Valid);
    let key = files.client_key(ClientCert::Valid);
    must_fail(
        d,
        "mismatch",
        Some(&tls_config(&cert, &key, "")),
        &[],
        &[
            &config_path(d, "mismatch"),
            "does not match",
            &cert.display().to_string(),
            &key.display().to_string(),
        ],
    )
    .await
}

#[tokio::test]
async fn bad_bcrypt_hash_names_the_user() -> anyhow::Result<()> {
    let (dir, _) = setup()?;
    let d = dir.path();
    let good = bcrypt_hash("pw");
    must_fail(
        d,
        "bad-hash",
        Some(&format!(
            "basic_auth_users:\n  alice: {good}\n  bob: not-a-bcrypt-hash\n"
        )),
        &[],
        &[
            &config_path(d, "bad-hash"),
            "basic_auth_users.bob",
            "bcrypt",
        ],
    )
    .await
}

#[tokio::test]
async fn bad_client_auth_type_names_the_value() -> anyhow::Result<()> {
    let (dir, files) = setup()?;
    let d = dir.path();
    let extra = format!(
        "  client_auth_type: RequireSomeCert\n  client_ca_file: {}\n",
        files.ca().display()
    );
    must_fail(
        d,
        "bad-client-auth",
        Some(&tls_config(
            &files.server_cert(ServerCert::Valid),
            &files.server_key(ServerCert::Valid),
            &extra,
        )),
        &[],
        &[
            &config_path(d, "bad-client-auth"),
            "tls_server_config.client_auth_type",
            "RequireSomeCert",
        ],
    )
    .await
}

#[tokio::test]
async fn client_ca_with_no_client_cert_is_refused() -> anyhow::Result<()> {
    let (dir, files) = setup()?;
    let d = dir.path();
    let extra = format!(
        "  client_auth_type: NoClientCert\n  client_ca_file: {}\n",
        files.ca().display()
    );
    must_fail(
        d,
        "ca-without-policy",
        Some(&tls_config(
            &files.server_cert(ServerCert::Valid),
            &files.server_key(ServerCert::Valid),
            &extra,
        )),
        &[],
        &[
            &config_path(d, "ca-without-policy"),
            "tls_server_config.client_ca_file",
            "NoClientCert",
        ],
    )
    .await
}

#[tokio::test]
async fn bad_fault_flag_names_the_flag_and_the_fault() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let d = dir.path();
    must_fail(
        d,
        "unknown-fault",
        None,
        &["--fault=explode".to_owned()],
        &["--fault", "explode"],
    )
    .await?;
    must_fail(
        d,
        "bad-fault-value",
        None,
        &["--fault=delay=soon".to_owned()],
        &["--fault", "delay=soon", "duration"],
    )
    .await
}

#[tokio::test]
async fn bad_limit_flags_name_the_flag_and_the_value() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let d = dir.path();
    must_fail(
        d,
        "zero-head-timeout",
        None,
        &["--limits.head-timeout=0s".to_owned()],
        &[
            "--limits.head-timeout",
            "`0s`: a deadline must be above zero",
        ],
    )
    .await?;
    must_fail(
        d,
        "bad-handshake-timeout",
        None,
        &["--limits.handshake-timeout=soon".to_owned()],
        &[
            "--limits.handshake-timeout",
            "`soon`",
            "write e.g. 10s or 500ms",
        ],
    )
    .await?;
    must_fail(
        d,
        "zero-max-connections",
        None,
        &["--limits.max-connections=0".to_owned()],
        &["--limits.max-connections", "0"],
    )
    .await
}

#[tokio::test]
async fn missing_config_file_names_the_flag() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let d = dir.path();
    let missing = d.join("absent.yml");
    must_fail(
        d,
        "missing-config",
        None,
        &[format!("--web.config.file={}", missing.display())],
        &[&missing.display().to_string(), "--web.config.file"],
    )
    .await
}

#[tokio::test]
async fn an_unknown_receiver_names_the_flag_and_the_choices() -> anyhow::Result<()> {
    let (dir, _) = setup()?;
    must_fail(
        dir.path(),
        "unknown-receiver",
        None,
        &["--receiver=pigeon".to_owned()],
        &[
            "--receiver <KIND>",
            "unknown receiver `pigeon`; use `alertmanager` or `remote-write`",
        ],
    )
    .await
}

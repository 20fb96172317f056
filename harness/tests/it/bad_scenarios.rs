//! Scenario files the harness must refuse before starting anything: exit 2 and one error
//! line that names the file, the case and the field (and says how to fix it).

use std::time::Duration;

use anyhow::Result;

use crate::support::{write_scenario, Harness};

/// Runs `yaml` as `<name>` and returns the stderr of a run that must exit 2.
fn refused(name: &str, yaml: &str) -> Result<(String, String)> {
    let harness = Harness::new()?;
    let file = write_scenario(harness.tmp(), name, yaml)?;
    let ran = harness.run(
        &["run", "--backend", "process", "--no-progress", &file],
        Duration::from_secs(30),
    )?;
    assert_eq!(ran.code(), Some(2), "{ran}");
    assert_eq!(
        ran.stderr.matches("scrape-harness: error:").count(),
        1,
        "the error prints once:{ran}"
    );
    assert!(ran.stdout.is_empty(), "no report for a refused file:{ran}");
    assert!(
        harness.leftover_dirs()?.is_empty(),
        "nothing was started:{ran}"
    );
    Ok((file, ran.stderr))
}

fn assert_names(stderr: &str, parts: &[&str]) {
    for part in parts {
        assert!(stderr.contains(part), "`{part}` missing from: {stderr}");
    }
}

#[test]
fn an_unknown_key_names_file_case_and_key() -> Result<()> {
    let (file, stderr) = refused(
        "unknown-key.yaml",
        "cases:\n  - name: typo\n    exporter: { server_certificate: valid }\n    expect: { health: up }\n",
    )?;
    assert_names(
        &stderr,
        &[
            &file,
            "case `typo`: exporter.server_certificate:",
            "unknown field `server_certificate`",
            "`server_cert`",
        ],
    );
    Ok(())
}

#[test]
fn an_unknown_pki_name_names_file_case_and_field() -> Result<()> {
    let (file, stderr) = refused(
        "unknown-pki.yaml",
        "cases:\n  - name: ok-first\n    expect: { health: up }\n  - name: bad-ca\n    exporter: { server_cert: valid }\n    scrape: { scheme: https, tls_config: { ca_file: corp-ca.pem } }\n    expect: { health: up }\n",
    )?;
    assert_names(
        &stderr,
        &[
            &format!("{file}: case `bad-ca`: scrape.tls_config.ca_file:"),
            "`corp-ca.pem` is not a file of the generated PKI",
            "rogue-ca.crt",
        ],
    );
    Ok(())
}

#[test]
fn an_unknown_server_certificate_names_the_field() -> Result<()> {
    let (file, stderr) = refused(
        "unknown-cert.yaml",
        "cases:\n  - name: bad-cert\n    exporter: { server_cert: revoked }\n    scrape: { scheme: https }\n    expect: { health: down, error: unknown_authority }\n",
    )?;
    assert_names(
        &stderr,
        &[
            &format!("{file}: case `bad-cert`: exporter.server_cert:"),
            "revoked",
        ],
    );
    Ok(())
}

#[test]
fn a_duplicate_case_name_names_both_places() -> Result<()> {
    let (file, stderr) = refused(
        "duplicate.yaml",
        "cases:\n  - name: twice\n    expect: { health: up }\n  - name: twice\n    expect: { health: up }\n",
    )?;
    assert_names(
        &stderr,
        &[&format!(
            "{file}: case `twice` is defined twice (first in {file})"
        )],
    );
    Ok(())
}

#[test]
fn basic_auth_with_authorization_is_refused_before_prometheus_refuses_it() -> Result<()> {
    let (file, stderr) = refused(
        "both-auths.yaml",
        "cases:\n  - name: both\n    scrape: { basic_auth: { username: u, password: p }, authorization: { credentials: t } }\n    expect: { health: up }\n",
    )?;
    assert_names(
        &stderr,
        &[
            &format!("{file}: case `both`: scrape:"),
            "`basic_auth` and `authorization` are both set",
            "Keep one",
        ],
    );
    Ok(())
}

#[test]
fn client_auth_without_tls_names_the_fix() -> Result<()> {
    let (file, stderr) = refused(
        "mtls-without-tls.yaml",
        "cases:\n  - name: no-tls\n    exporter: { client_auth_type: RequireAndVerifyClientCert, client_ca: ca.crt }\n    expect: { health: up }\n",
    )?;
    assert_names(
        &stderr,
        &[
            &format!("{file}: case `no-tls`: exporter.client_auth_type:"),
            "add `exporter.server_cert: valid`",
        ],
    );
    Ok(())
}

#[test]
fn an_up_expectation_with_an_error_class_is_contradictory() -> Result<()> {
    let (file, stderr) = refused(
        "contradiction.yaml",
        "cases:\n  - name: up-but-401\n    expect: { health: up, error: unauthorized }\n",
    )?;
    assert_names(
        &stderr,
        &[
            &format!("{file}: case `up-but-401`: expect.error:"),
            "expect `down`",
        ],
    );
    Ok(())
}

#[test]
fn a_file_without_cases_is_refused() -> Result<()> {
    let (file, stderr) = refused("empty.yaml", "cases: []\n")?;
    assert_names(&stderr, &[&file, "no cases"]);
    Ok(())
}

#[test]
fn every_mistake_of_a_file_is_reported_in_one_run() -> Result<()> {
    let (file, stderr) = refused(
        "three.yaml",
        "cases:\n  - name: a\n    scrape: { shceme: https }\n    expect: { health: up }\n  - name: b\n    expect: { health: down }\n  - name: c\n    exporter: { server_cert: revoked }\n    expect: { health: up }\n",
    )?;
    assert_names(
        &stderr,
        &[
            "3 mistakes",
            &format!("{file}: case `a`: scrape.shceme"),
            &format!("{file}: case `b`: expect.error"),
            &format!("{file}: case `c`: exporter.server_cert"),
        ],
    );
    Ok(())
}

#[test]
fn a_missing_file_prints_its_os_error_once() -> Result<()> {
    let harness = Harness::new()?;
    let missing = harness.tmp().join("nope.yaml");
    let ran = harness.run(
        &["run", "--no-progress", &missing.display().to_string()],
        Duration::from_secs(30),
    )?;
    assert_eq!(ran.code(), Some(2), "{ran}");
    assert_eq!(
        ran.stderr.matches("No such file or directory").count(),
        1,
        "{ran}"
    );
    Ok(())
}

//! One thing changed flips exactly the cases it should: `scenarios/tests/mutation.yaml`
//! passes as written; each test rewrites one thing in every case (the CA, the client
//! certificate, the password) and checks that exactly the cases that depend on it fail,
//! with the class that change explains, and that the harness exits 1.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{ensure, Context, Result};
use serde_json::Value as Json;
use serde_norway::{Mapping, Value};

use crate::support::{heavy, test_scenario, write_scenario, Harness};

/// The harness' exit code and, per case, whether it passed and its observed class.
type Outcome = (i32, BTreeMap<String, (bool, String)>);

/// Runs the mutation file with every case's `scrape:` mapping edited by `mutate`, and
/// returns the exit code and `name → (pass, error_class)`.
fn run_mutated(mutate: impl Fn(&mut Mapping)) -> Result<Outcome> {
    let _lock = heavy();
    let harness = Harness::new()?;
    let source = test_scenario("mutation.yaml");
    let mut doc: Value = serde_norway::from_str(&std::fs::read_to_string(&source)?)?;
    let cases = doc
        .get_mut("cases")
        .and_then(Value::as_sequence_mut)
        .context("mutation.yaml has no `cases` list")?;
    for case in cases {
        if let Some(scrape) = case.get_mut("scrape").and_then(Value::as_mapping_mut) {
            mutate(scrape);
        }
    }
    let file = write_scenario(
        harness.tmp(),
        "mutated.yaml",
        &serde_norway::to_string(&doc)?,
    )?;
    let json = harness.tmp().join("report.json");
    let ran = harness.run_files(&[&file], &json, Duration::from_secs(60))?;
    let code = ran
        .code()
        .with_context(|| format!("killed by a signal:{ran}"))?;
    ensure!(
        code == 0 || code == 1,
        "a harness error, not a verdict:{ran}"
    );
    let report: Json = serde_json::from_str(&std::fs::read_to_string(&json)?)?;
    let mut verdicts = BTreeMap::new();
    for case in report["cases"].as_array().context("no cases")? {
        verdicts.insert(
            case["name"].as_str().unwrap_or("?").to_owned(),
            (
                case["pass"] == Json::Bool(true),
                case["observed"]["class"].as_str().unwrap_or("?").to_owned(),
            ),
        );
    }
    ensure!(
        verdicts.len() == 6,
        "expected the 6 cases of mutation.yaml:{ran}"
    );
    for (name, (pass, _)) in &verdicts {
        ensure!(
            *pass || ran.stderr.contains(&format!("FAILED case `{name}`")),
            "no failure block for {name}:{ran}"
        );
    }
    harness.assert_clean(ran.pid)?;
    Ok((code, verdicts))
}

/// Asserts exit 1 and that exactly `flipped` failed, each with class `class`.
fn assert_flipped((code, verdicts): Outcome, flipped: &[&str], class: &str) {
    let failed: Vec<&str> = verdicts
        .iter()
        .filter(|(_, (pass, _))| !pass)
        .map(|(name, _)| name.as_str())
        .collect();
    let mut want = flipped.to_vec();
    want.sort_unstable();
    assert_eq!(failed, want, "verdicts: {verdicts:?}");
    assert_eq!(code, 1, "verdicts: {verdicts:?}");
    for name in flipped {
        assert_eq!(verdicts[*name].1, class, "{name}: {verdicts:?}");
    }
}

fn tls_config(scrape: &mut Mapping) -> Option<&mut Mapping> {
    scrape.get_mut("tls_config").and_then(Value::as_mapping_mut)
}

#[test]
fn the_unmutated_file_passes() -> Result<()> {
    let (code, verdicts) = run_mutated(|_| {})?;
    assert_eq!(code, 0, "{verdicts:?}");
    assert!(verdicts.values().all(|(pass, _)| *pass), "{verdicts:?}");
    Ok(())
}

#[test]
fn swapping_the_ca_for_the_rogue_ca_fails_exactly_the_verifying_jobs() -> Result<()> {
    let outcome = run_mutated(|scrape| {
        if let Some(tls) = tls_config(scrape) {
            tls.insert("ca_file".into(), "rogue-ca.crt".into());
        }
    })?;
    // skip-verify-ok ignores the CA; plain-basic-ok has none.
    assert_flipped(
        outcome,
        &["tls-ok", "tls-basic-ok", "mtls-ok", "mtls-if-given-ok"],
        "unknown_authority",
    );
    Ok(())
}

#[test]
fn dropping_the_client_cert_fails_exactly_the_job_that_requires_one() -> Result<()> {
    let outcome = run_mutated(|scrape| {
        if let Some(tls) = tls_config(scrape) {
            tls.remove("cert_file");
            tls.remove("key_file");
        }
    })?;
    // mtls-if-given-ok (VerifyClientCertIfGiven) accepts no certificate.
    assert_flipped(outcome, &["mtls-ok"], "client_cert_required");
    Ok(())
}

#[test]
fn changing_the_password_fails_exactly_the_basic_auth_jobs() -> Result<()> {
    let outcome = run_mutated(|scrape| {
        if let Some(basic) = scrape.get_mut("basic_auth").and_then(Value::as_mapping_mut) {
            basic.insert("password".into(), "changed".into());
        }
    })?;
    assert_flipped(outcome, &["plain-basic-ok", "tls-basic-ok"], "unauthorized");
    Ok(())
}

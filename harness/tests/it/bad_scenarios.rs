//! Scenario files the harness must refuse before starting anything: exit 2 and one error
//! line that names the file, the case and the field (and says how to fix it).

use std::time::{Duration, Instant};

use anyhow::Result;

use crate::support::{finish, write_scenario, Harness};

/// How long any refused file may take, hostile ones included (issue 25).
const REFUSED_WITHIN: Duration = Duration::from_secs(5);

/// Runs `yaml` as `<name>` and returns the stderr of a run that must exit 2.
fn refused(name: &str, yaml: &str) -> Result<(String, String)> {
    let harness = Harness::new()?;
    let file = write_scenario(harness.tmp(), name, yaml)?;
    let stderr = refused_path(&harness, &file)?;
    Ok((file, stderr))
}

/// Runs the scenario file at `file` and returns the stderr of a run that must exit 2 within
/// [`REFUSED_WITHIN`], printing one error and starting nothing.
fn refused_path(harness: &Harness, file: &str) -> Result<String> {
    refused_with_env(harness, file, &[])
}

/// [`refused_path`] with more environment variables (the limits' overrides).
fn refused_with_env(harness: &Harness, file: &str, env: &[(&str, &str)]) -> Result<String> {
    let began = Instant::now();
    let args = ["run", "--backend", "process", "--no-progress", file];
    let mut command = harness.command(&args);
    command.envs(env.iter().copied());
    let ran = finish(
        command.spawn()?,
        &format!("scrape-harness {}", args.join(" ")),
        Duration::from_secs(30),
    )?;
    let took = began.elapsed();
    assert_eq!(ran.code(), Some(2), "{ran}");
    assert!(took < REFUSED_WITHIN, "refused after {took:?}:{ran}");
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
    Ok(ran.stderr)
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

// Hostile files of issue 25: each is refused at load time (exit 2 within 5 s) with an error
// that names the file, the case or setting, the key and the limit or fix, and nothing is
// written anywhere.

#[test]
fn a_files_key_outside_the_run_is_refused_and_nothing_is_written() -> Result<()> {
    let harness = Harness::new()?;
    // A case's files would be written in <tmp>/<run dir>/cases/<case>/files: four levels
    // below the test's own temp dir, where both escapes would land.
    let climbed = harness.tmp().join("climbed.txt");
    let absolute = harness.tmp().join("absolute.txt");
    let yaml = format!(
        "cases:\n  - name: climbs\n    files: {{ ../../../../climbed.txt: x }}\n    expect: {{ health: up }}\n  - name: absolute\n    files: {{ {}: x }}\n    expect: {{ health: up }}\n",
        absolute.display()
    );
    let file = write_scenario(harness.tmp(), "escape.yaml", &yaml)?;
    let stderr = refused_path(&harness, &file)?;
    assert_names(
        &stderr,
        &[
            "2 mistakes",
            &format!("{file}: case `climbs`: files.../../../../climbed.txt: climbs out"),
            &format!(
                "{file}: case `absolute`: files.{}: is an absolute path",
                absolute.display()
            ),
            "e.g. `files: { climbed.txt: ... }`",
        ],
    );
    assert!(!climbed.exists(), "{} was written", climbed.display());
    assert!(!absolute.exists(), "{} was written", absolute.display());
    Ok(())
}

#[test]
fn a_token_file_outside_the_run_gets_a_fix_inside_it() -> Result<()> {
    let (file, stderr) = refused(
        "token-outside.yaml",
        "cases:\n  - name: token\n    exporter: { bearer_token_file: ../../etc/shadow }\n    scrape: { authorization: { credentials: t } }\n    expect: { health: up }\n  - name: password\n    scrape: { basic_auth: { username: u, password_file: ../../etc/shadow } }\n    expect: { health: up }\n",
    )?;
    assert_names(
        &stderr,
        &[
            &format!("{file}: case `token`: exporter.bearer_token_file:"),
            "write `files: { shadow: <token> }` and `bearer_token_file: shadow`",
            &format!("{file}: case `password`: scrape.basic_auth.password_file:"),
            "write `files: { shadow: <content> }` and `password_file: shadow`",
        ],
    );
    // The fix names a file inside the run, never the path that escapes it.
    assert!(!stderr.contains("files: { ../"), "{stderr}");
    Ok(())
}

#[test]
fn a_bcrypt_cost_outside_4_to_16_names_file_and_key() -> Result<()> {
    for cost in [3, 31] {
        let (file, stderr) = refused(
            &format!("bcrypt-{cost}.yaml"),
            &format!("defaults: {{ bcrypt_cost: {cost} }}\ncases:\n  - name: basic\n    exporter: {{ basic_auth_users: {{ u: p }} }}\n    scrape: {{ basic_auth: {{ username: u, password: p }} }}\n    expect: {{ health: up }}\n"),
        )?;
        assert_names(
            &stderr,
            &[
                &format!("{file}: defaults.bcrypt_cost: {cost} is outside 4..=16"),
                "use a cost in that range",
            ],
        );
    }
    Ok(())
}

#[test]
fn a_fifo_or_a_device_as_the_scenario_file_is_refused_unread() -> Result<()> {
    let harness = Harness::new()?;
    let fifo = harness.tmp().join("fifo.yaml");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status()?;
    assert!(made.success(), "mkfifo {}", fifo.display());
    // Nobody writes to the FIFO: a read would block until the test's deadline.
    let fifo = fifo.display().to_string();
    let stderr = refused_path(&harness, &fifo)?;
    assert_names(
        &stderr,
        &[&format!(
            "{fifo}: is a FIFO (named pipe), not a regular file"
        )],
    );
    let stderr = refused_path(&harness, "/dev/zero")?;
    assert_names(
        &stderr,
        &["/dev/zero: is a character device, not a regular file"],
    );
    let dir = harness.tmp().display().to_string();
    let stderr = refused_path(&harness, &dir)?;
    assert_names(
        &stderr,
        &[&format!("{dir}: is a directory, not a regular file")],
    );
    Ok(())
}

#[test]
fn a_device_named_by_a_case_is_refused_before_anything_reads_it() -> Result<()> {
    let (file, stderr) = refused(
        "dev-zero.yaml",
        "cases:\n  - name: zero\n    exporter: { basic_auth_users: { u: p } }\n    scrape: { basic_auth: { username: u, password_file: /dev/zero } }\n    expect: { health: up }\n",
    )?;
    assert_names(
        &stderr,
        &[
            &format!("{file}: case `zero`: scrape.basic_auth.password_file:"),
            "`/dev/zero` is a character device, not a regular file",
        ],
    );
    Ok(())
}

#[test]
fn a_billion_series_is_refused_at_parse_time_not_on_allocation() -> Result<()> {
    let (file, stderr) = refused(
        "series.yaml",
        "cases:\n  - name: huge\n    exporter: { series: 1000000000 }\n    expect: { health: up }\n",
    )?;
    assert_names(
        &stderr,
        &[
            &format!("{file}: case `huge`: exporter.series: 1000000000 is above 1000000"),
            "SCRAPE_HARNESS_MAX_SERIES",
        ],
    );
    Ok(())
}

#[test]
fn a_one_megabyte_alias_bomb_is_refused_before_it_is_expanded() -> Result<()> {
    // 250,000 values behind one anchor, named 250,000 times: 6 * 10^10 values once expanded.
    let mut yaml = String::from("defaults: {}\nx: &a [");
    yaml.push_str(&"1,".repeat(250_000));
    yaml.push_str("1]\ncases:\n  - name: bomb\n    description: [");
    yaml.push_str(&"*a,".repeat(250_000));
    yaml.push_str("*a]\n    expect: { health: up }\n");
    assert!(yaml.len() >= 1_000_000, "{} bytes", yaml.len());
    let (file, stderr) = refused("bomb.yaml", &yaml)?;
    assert_names(
        &stderr,
        &[
            &format!("{file}: more than 1000000 YAML values once every alias"),
            "SCRAPE_HARNESS_MAX_YAML_VALUES",
        ],
    );
    Ok(())
}

#[test]
fn two_hundred_thousand_levels_of_nesting_are_refused_before_parsing() -> Result<()> {
    let yaml = format!("cases: {}\n", "[".repeat(200_000));
    let (file, stderr) = refused("deep.yaml", &yaml)?;
    assert_names(
        &stderr,
        &[
            &format!("{file}: line 1: YAML nested more than 64 levels deep"),
            "SCRAPE_HARNESS_MAX_YAML_DEPTH",
        ],
    );
    Ok(())
}

#[test]
fn a_file_above_the_size_limit_is_refused_without_reading_it_all() -> Result<()> {
    let mut yaml = String::from("cases:\n  - name: big\n    expect: { health: up }\n");
    yaml.push_str(&"# padding\n".repeat(16 * 1024 * 1024 / 10 + 1));
    let (file, stderr) = refused("big.yaml", &yaml)?;
    assert_names(
        &stderr,
        &[
            &format!("{file}: larger than 16777216 bytes"),
            "split it into several files",
            "SCRAPE_HARNESS_MAX_SCENARIO_BYTES",
        ],
    );
    // The variable changes the limit.
    let harness = Harness::new()?;
    let small = write_scenario(harness.tmp(), "small.yaml", &yaml[..2_000])?;
    let stderr = refused_with_env(
        &harness,
        &small,
        &[("SCRAPE_HARNESS_MAX_SCENARIO_BYTES", "1000")],
    )?;
    assert_names(&stderr, &[&format!("{small}: larger than 1000 bytes")]);
    Ok(())
}

#[test]
fn a_limit_variable_that_is_not_a_number_is_named() -> Result<()> {
    let harness = Harness::new()?;
    let file = write_scenario(
        harness.tmp(),
        "ok.yaml",
        "cases:\n  - { name: a, expect: { health: up } }\n",
    )?;
    let stderr = refused_with_env(&harness, &file, &[("SCRAPE_HARNESS_MAX_CASES", "lots")])?;
    assert_names(
        &stderr,
        &[
            "SCRAPE_HARNESS_MAX_CASES=\"lots\" is not a whole number above zero",
            "the default is 10000",
        ],
    );
    Ok(())
}

#[test]
fn more_cases_than_the_limit_are_refused_with_it() -> Result<()> {
    let mut yaml = String::from("cases:\n");
    for i in 0..10_001 {
        yaml.push_str(&format!("  - {{ name: c{i}, expect: {{ health: up }} }}\n"));
    }
    let (file, stderr) = refused("many.yaml", &yaml)?;
    assert_names(
        &stderr,
        &[
            &format!("{file}: more than 10000 cases in one run"),
            "SCRAPE_HARNESS_MAX_CASES",
        ],
    );
    Ok(())
}

#[test]
fn values_that_cannot_work_exit_2_naming_their_key() -> Result<()> {
    let (file, stderr) = refused(
        "zeros.yaml",
        "defaults: { scrape_interval: 0s, scrape_timeout: 0s, scrapes: 0 }\ncases:\n  - name: a\n    expect: { health: up }\n",
    )?;
    assert_names(
        &stderr,
        &[
            &format!("{file}: defaults.scrape_interval: 0s cannot work"),
            &format!("{file}: defaults.scrape_timeout: 0s cannot work"),
            &format!("{file}: defaults.scrapes: 0 cannot work"),
            "give at least 1",
        ],
    );
    let (file, stderr) = refused(
        "negative.yaml",
        "defaults: { scrapes: -1 }\ncases:\n  - name: a\n    exporter: { series: -5 }\n    expect: { health: up }\n",
    )?;
    assert_names(
        &stderr,
        &[
            &format!("{file}: defaults.scrapes: invalid value: integer `-1`"),
            &format!("{file}: case `a`: exporter.series: invalid value: integer `-5`"),
        ],
    );
    Ok(())
}

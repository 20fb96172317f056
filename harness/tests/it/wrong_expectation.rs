//! A wrong expectation: exit 1 and one readable failure block, pinned line for line
//! (expected/observed, the raw `lastError`, the generated job, the exporter's web config),
//! with only the run-specific values (port, request count, bcrypt salt) redacted.

use std::time::Duration;

use anyhow::{Context, Result};

use crate::support::{heavy, Harness};

const FILE: &str = "scenarios/tests/wrong-expectation.yaml";

const EXPECTED_BLOCK: &str = r#"FAILED case `wrong-password-expected-up` (scenarios/tests/wrong-expectation.yaml)
  - health: expected up, observed down
  - error class: expected none, observed unauthorized
  expected: up
  observed: down (unauthorized)
  lastError: "server returned HTTP status 401 Unauthorized"
  likely cause: the exporter wants credentials: check the job's basic_auth / authorization against the exporter's basic_auth_users (bcrypt hashes) or tokens
  exporter: 1 connection(s), 0 handshake(s), <N> request(s), handshake failures {}; Prometheus dialer established 1
  generated job:
    scrape_configs:
    - job_name: wrong-password-expected-up
      basic_auth:
        username: prom
        password: wrong
      static_configs:
      - targets:
        - 127.0.0.1:<PORT>
  exporter web-config.yml:
    basic_auth_users:
      prom: $2b$10$<HASH>
  (the run's files named above, PKI and web-configs, are removed when it ends; HARNESS_KEEP=1 keeps them)
"#;

#[test]
fn a_wrong_expectation_exits_1_with_a_pinned_failure_block() -> Result<()> {
    let _lock = heavy();
    // Arrange
    let harness = Harness::new()?;
    let junit = harness.tmp().join("report.xml");
    let junit_arg = junit.to_string_lossy();

    // Act
    let ran = harness.run(
        &[
            "run",
            "--backend",
            "process",
            "--no-progress",
            "--junit",
            &junit_arg,
            FILE,
        ],
        Duration::from_secs(60),
    )?;

    // Assert
    assert_eq!(ran.code(), Some(1), "{ran}");
    assert!(ran.stdout.contains("1 passed, 1 failed"), "{ran}");
    // The failing row says why, in full, under the table row.
    for cause in [
        "wrong-password-expected-up              FAIL    up → down (unauthorized)",
        "Cause: the exporter wants",
        "lastError: server returned HTTP status 401 Unauthorized",
    ] {
        assert!(ran.stdout.contains(cause), "`{cause}` missing:{ran}");
    }
    assert_eq!(ran.stderr.matches("FAILED case").count(), 1, "{ran}");
    let block = ran
        .stderr
        .split_once("FAILED case")
        // The block ends where the run's closing lines (report files written) begin.
        .map(|(_, rest)| format!("FAILED case{rest}"))
        .map(|block| match block.split_once("\nreports written:") {
            Some((block, _)) => format!("{block}\n"),
            None => block,
        })
        .with_context(|| format!("no failure block:{ran}"))?;
    assert_eq!(redact(&block), EXPECTED_BLOCK, "{ran}");

    let xml = std::fs::read_to_string(&junit)?;
    crate::matrix::check_well_formed(&xml)?;
    assert!(
        xml.contains(
            "<failure message=\"health: expected up, observed down; error class: expected none, \
             observed unauthorized\">FAILED case `wrong-password-expected-up`"
        ),
        "{xml}"
    );
    assert_eq!(xml.matches("<failure ").count(), 1, "{xml}");
    harness.assert_clean(ran.pid)
}

/// Replaces the values that change from run to run.
fn redact(text: &str) -> String {
    text.lines()
        .map(|line| {
            let line = replace_digits_after(line, "127.0.0.1:", "<PORT>");
            let line = match line.split_once("$2b$10$") {
                Some((head, tail)) => {
                    let end = tail.find('"').unwrap_or(tail.len());
                    format!("{head}$2b$10$<HASH>{}", &tail[end..])
                }
                None => line,
            };
            match line.split_once(" request(s)") {
                Some((head, tail)) if line.trim_start().starts_with("exporter:") => {
                    let (head, _) = head.rsplit_once(' ').unwrap_or((head, ""));
                    format!("{head} <N> request(s){tail}")
                }
                _ => line,
            }
        })
        .map(|line| line + "\n")
        .collect()
}

fn replace_digits_after(line: &str, marker: &str, with: &str) -> String {
    let Some((head, tail)) = line.split_once(marker) else {
        return line.to_owned();
    };
    let digits = tail.chars().take_while(char::is_ascii_digit).count();
    format!("{head}{marker}{with}{}", &tail[digits..])
}

#[test]
fn redaction_only_touches_run_specific_values() {
    let raw = "  exporter: 1 connection(s), 0 handshake(s), 17 request(s), x\n        - 127.0.0.1:40111\n      \"prom\": \"$2b$10$abc/def\"\n  lastError: \"x\"\n";
    assert_eq!(
        redact(raw),
        "  exporter: 1 connection(s), 0 handshake(s), <N> request(s), x\n        - 127.0.0.1:<PORT>\n      \"prom\": \"$2b$10$<HASH>\"\n  lastError: \"x\"\n"
    );
}

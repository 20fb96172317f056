//! The default matrix (every case of scenarios/security-matrix.yaml) through the binary, once per backend: exit 0, complete JSON
//! and well-formed JUnit, no unclassified error, keep-alive as expected, within the speed
//! bound, and nothing left behind.

use std::time::Duration;

use anyhow::{ensure, Context, Result};
use serde_json::Value;

use scrape_harness::Plan;

use crate::support::{heavy, Harness};

/// Fields every case of the JSON report carries.
/// Cases in `scenarios/security-matrix.yaml`.
const DEFAULT_MATRIX_CASES: usize = 72;

const CASE_FIELDS: [&str; 7] = [
    "name",
    "pass",
    "expected",
    "observed",
    "last_error",
    "scrapes",
    "handshakes",
];

fn default_matrix_passes_with(backend: &str) -> Result<()> {
    let _lock = heavy();
    // Arrange
    let n = Plan::load(&[])?.cases.len();
    // Exact: a case that disappears (or is added) must be noticed here, not absorbed by a floor.
    ensure!(
        n == DEFAULT_MATRIX_CASES,
        "the default matrix has {n} cases, not {DEFAULT_MATRIX_CASES}; update this count \
         together with scenarios/security-matrix.yaml"
    );
    let harness = Harness::new()?;
    let json = harness.tmp().join("report.json");
    let junit = harness.tmp().join("report.xml");
    let (json_arg, junit_arg) = (json.to_string_lossy(), junit.to_string_lossy());

    // Act
    let ran = harness.run(
        &[
            "run",
            "--backend",
            backend,
            "--no-progress",
            "--json",
            &json_arg,
            "--junit",
            &junit_arg,
        ],
        Duration::from_secs(180),
    )?;

    // Assert
    ensure!(ran.code() == Some(0), "expected exit 0:{ran}");
    ensure!(
        ran.stderr.contains(&format!("{n} case(s)")),
        "the default matrix has {n} cases:{ran}"
    );
    let speed = ran
        .stdout
        .lines()
        .find(|l| l.starts_with("time to verdicts:"))
        .with_context(|| format!("no time-to-verdicts line:{ran}"))?;
    ensure!(
        speed.contains(", within the expected "),
        "verdicts were not within the speed bound: {speed}{ran}"
    );
    ensure!(
        ran.stdout.contains(&format!("{n} passed, 0 failed")),
        "summary line:{ran}"
    );

    // A passing run is quiet and readable: no log lines, no escape sequences off a
    // terminal, a table within 120 columns.
    for line in ran.stdout.lines().chain(ran.stderr.lines()) {
        ensure!(
            !line.contains(" ERROR ") && !line.contains(" WARN ") && !line.contains('\x1b'),
            "log noise in a passing run: {line:?}{ran}"
        );
    }
    if let Some(wide) = ran.stdout.lines().find(|l| l.chars().count() > 120) {
        anyhow::bail!("wider than 120 columns: {wide:?}{ran}");
    }

    let report: Value = serde_json::from_str(&std::fs::read_to_string(&json)?)
        .with_context(|| format!("{} is not JSON", json.display()))?;
    ensure!(
        report["timings"]["within_bound"] == Value::Bool(true),
        "timings: {}",
        report["timings"]
    );
    ensure!(
        report["prometheus"]
            .as_str()
            .is_some_and(|p| p.starts_with(backend)),
        "asked for {backend}, ran {}",
        report["prometheus"]
    );
    let cases = report["cases"].as_array().context("no `cases` array")?;
    assert_eq!(cases.len(), n);
    let mut problems = Vec::new();
    for case in cases {
        let name = case["name"].as_str().unwrap_or("?");
        for field in CASE_FIELDS {
            if case.get(field).is_none() {
                problems.push(format!("{name}: no `{field}`"));
            }
        }
        if case["pass"] != Value::Bool(true) {
            problems.push(format!("{name}: failed: {}", case["failures"]));
        }
        if case["observed"]["class"] == "other" {
            problems.push(format!(
                "{name}: class `other` for lastError {}",
                case["last_error"]
            ));
        }
        problems.extend(keep_alive_problem(case));
    }
    ensure!(problems.is_empty(), "{}{ran}", problems.join("\n"));

    let xml = std::fs::read_to_string(&junit)?;
    check_well_formed(&xml).with_context(|| format!("{} is not well-formed", junit.display()))?;
    assert_eq!(xml.matches("<testcase ").count(), n, "{xml}");
    assert!(
        xml.contains(&format!("tests=\"{n}\" failures=\"0\"")),
        "{xml}"
    );

    harness.assert_clean(ran.pid)
}

/// Expected-up cases keep one connection (and no handshake) once the target is up;
/// close-after-response cases open about one connection per scrape.
fn keep_alive_problem(case: &Value) -> Option<String> {
    let name = case["name"].as_str().unwrap_or("?");
    if case["expected"]["health"] != "up" {
        return None;
    }
    let connections = case["connections"].as_u64()?;
    let handshakes = case["handshakes"].as_u64()?;
    let scrapes = case["scrapes"].as_u64()?;
    if case["keep_alive"] == "per_scrape" {
        // The exporter counters are read a moment after Prometheus' scrape count.
        let ok =
            connections + 1 >= scrapes && connections <= scrapes + 2 && handshakes <= connections;
        return (!ok).then(|| {
            format!("{name}: close-after-response should dial once per scrape: {connections} connection(s), {handshakes} handshake(s), {scrapes} scrapes")
        });
    }
    // Judged in steady state, as the harness does: a warm-up scrape that timed out on a busy
    // machine makes Prometheus dial again before the target is first seen up. After that,
    // no new connection, unless the harness noted that each followed a failed scrape.
    let observed = case["keep_alive_observed"].as_str().unwrap_or_default();
    let steady = observed
        .split("; ")
        .find(|part| part.ends_with("after the first successful scrape"));
    let steady_clean = steady.is_some_and(|s| s.starts_with("0 connection(s), 0 handshake(s)"));
    let excused = case["notes"].as_array().is_some_and(|notes| {
        notes.iter().any(|n| {
            n.as_str()
                .is_some_and(|n| n.contains("not held against keep-alive"))
        })
    });
    let at_most_one_before = connections >= 1 && handshakes <= connections;
    (!(at_most_one_before && (steady_clean || excused))).then(|| {
        format!(
            "{name}: keep-alive should hold one connection once up: {observed}, {scrapes} scrapes"
        )
    })
}

#[test]
fn default_matrix_passes_in_a_container() -> Result<()> {
    default_matrix_passes_with("container")
}

#[test]
fn default_matrix_passes_as_a_process() -> Result<()> {
    default_matrix_passes_with("process")
}

/// A small well-formedness check (no XML dependency in this workspace): one prolog, tags
/// balanced and properly nested, attribute values quoted, no raw `<` or `&` in text.
pub(crate) fn check_well_formed(xml: &str) -> Result<()> {
    let mut rest = xml
        .strip_prefix("<?xml ")
        .and_then(|r| r.split_once("?>"))
        .map(|(_, r)| r)
        .context("no `<?xml ...?>` prolog")?;
    let mut stack: Vec<&str> = Vec::new();
    let mut roots = 0;
    while let Some(open) = rest.find('<') {
        check_text(&rest[..open])?;
        let close = rest[open..]
            .find('>')
            .with_context(|| format!("unclosed tag at `{}`", head(&rest[open..])))?;
        let tag = &rest[open + 1..open + close];
        rest = &rest[open + close + 1..];
        if let Some(name) = tag.strip_prefix('/') {
            let top = stack
                .pop()
                .with_context(|| format!("`</{name}>` closes nothing"))?;
            ensure!(top == name, "`</{name}>` closes `<{top}>`");
            continue;
        }
        let self_closing = tag.ends_with('/');
        let body = tag.trim_end_matches('/');
        let name = body.split_whitespace().next().unwrap_or("");
        ensure!(
            !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
            "bad tag `<{tag}>`"
        );
        check_attributes(&body[name.len()..]).with_context(|| format!("in `<{}>`", head(tag)))?;
        if stack.is_empty() {
            roots += 1;
        }
        if !self_closing {
            stack.push(name);
        }
    }
    check_text(rest)?;
    ensure!(stack.is_empty(), "unclosed elements: {stack:?}");
    ensure!(roots == 1, "{roots} root elements");
    Ok(())
}

fn check_attributes(mut attrs: &str) -> Result<()> {
    loop {
        attrs = attrs.trim_start();
        if attrs.is_empty() {
            return Ok(());
        }
        let (name, rest) = attrs.split_once("=\"").context("attribute without `=\"`")?;
        ensure!(
            name.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
            "bad attribute name `{name}`"
        );
        let (value, rest) = rest
            .split_once('"')
            .context("unterminated attribute value")?;
        check_text(value)?;
        attrs = rest;
    }
}

fn check_text(text: &str) -> Result<()> {
    ensure!(!text.contains('<'), "raw `<` in `{}`", head(text));
    for (i, _) in text.match_indices('&') {
        let entity = text[i..].split_once(';').map(|(e, _)| e).unwrap_or("");
        ensure!(
            matches!(entity, "&amp" | "&lt" | "&gt" | "&quot" | "&apos"),
            "raw `&` in `{}`",
            head(&text[i..])
        );
    }
    Ok(())
}

fn head(s: &str) -> String {
    s.chars().take(60).collect()
}

#[test]
fn the_well_formedness_check_catches_what_it_should() {
    let ok = "<?xml version=\"1.0\"?>\n<a x=\"1\"><b>t &amp; u</b><c/></a>\n";
    check_well_formed(ok).unwrap();
    for bad in [
        "<a></a>",
        "<?xml version=\"1.0\"?><a><b></a></b>",
        "<?xml version=\"1.0\"?><a>x & y</a>",
        "<?xml version=\"1.0\"?><a x=1></a>",
        "<?xml version=\"1.0\"?><a></a><b></b>",
        "<?xml version=\"1.0\"?><a>",
    ] {
        assert!(check_well_formed(bad).is_err(), "accepted: {bad}");
    }
}

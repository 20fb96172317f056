//! Legacy TLS and compatibility profiles against the real thing:
//! `scenarios/tests/legacy-tls.yaml` (TLS 1.0, TLS 1.1 and a CBC-only TLS 1.2 list, with and
//! without HTTP/2 on either side, jobs that allow or deny the version, mTLS over TLS 1.0)
//! and `scenarios/tests/compat.yaml` (client-certificate alerts over TLS 1.2 and 1.3, the
//! landing page) run as one plan once against fake-exporter (its OpenSSL legacy listener
//! where needed) and once against node_exporter 1.5 started per case (`Launcher::Exec`), one
//! Prometheus 2.42 each.
//!
//! Every case passes on fake-exporter. node_exporter passes every case but the one pinned to
//! the `current` profile's 404. Both agree on health and class everywhere, and on the raw
//! `lastError` (addresses normalised) wherever it does not race, except where the `current`
//! profile is documented to differ (Go ≥ 1.21 sends `unknown_ca` for a client certificate
//! from another CA; node_exporter 1.5's Go 1.19 sends `bad_certificate`).

use std::time::Instant;

use anyhow::{ensure, Result};

use scrape_harness::{runs::ExecTemplate, runs::Launcher, BackendKind, Plan, RunOptions};

use crate::real_targets::NodeExporter;
use crate::support::{failures_of, heavy, test_scenario};

/// `127.0.0.1:<port>` → `127.0.0.1:PORT` (ports differ between the two runs).
fn normalised(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(at) = rest.find("127.0.0.1:") {
        let (before, after) = rest.split_at(at + "127.0.0.1:".len());
        out.push_str(before);
        let digits = after.chars().take_while(char::is_ascii_digit).count();
        out.push_str(if digits > 0 { "PORT" } else { "" });
        rest = &after[digits..];
    }
    out.push_str(rest);
    out
}

#[test]
fn legacy_tls_cases_agree_with_node_exporter() -> Result<()> {
    let _lock = heavy();
    ensure!(
        std::path::Path::new(NodeExporter::BIN).is_file(),
        "{} is missing: run `bash scripts/setup`",
        NodeExporter::BIN
    );
    // Arrange
    let plan = Plan::load(&[
        test_scenario("legacy-tls.yaml"),
        test_scenario("compat.yaml"),
    ])?;
    let want_cases = 27;
    ensure!(plan.cases.len() == want_cases, "{} cases", plan.cases.len());
    let runtime = tokio::runtime::Runtime::new()?;
    let fake_options = RunOptions {
        prometheus: BackendKind::Process.into(),
        ..RunOptions::default()
    };
    let node_options = RunOptions {
        prometheus: BackendKind::Process.into(),
        launcher: Launcher::Exec(ExecTemplate::parse(&format!(
            "{} --collector.disable-defaults --web.listen-address={{listen}} \
             --web.config.file={{web_config}}",
            NodeExporter::BIN
        ))?),
        ..RunOptions::default()
    };

    // Act
    let started = Instant::now();
    let fake = runtime.block_on(scrape_harness::run(&plan, &fake_options))?;
    let fake_s = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let node = runtime.block_on(scrape_harness::run(&plan, &node_options))?;
    let node_s = started.elapsed().as_secs_f64();
    println!("legacy-tls: fake-exporter run {fake_s:.1} s, node_exporter run {node_s:.1} s");

    // Assert: every case passes on both sides...
    let mut failures = Vec::new();
    failures_of("fake-exporter", &fake, &mut failures);
    let node_failed: Vec<&str> = node
        .cases
        .iter()
        .filter(|c| !c.pass || c.skipped.is_some())
        .map(|c| c.name.as_str())
        .collect();
    if node_failed != ["current-unknown-path-404"] {
        failures_of("node_exporter", &node, &mut failures);
        failures.push(format!(
            "node_exporter should fail exactly [current-unknown-path-404], failed {node_failed:?}"
        ));
    }
    ensure!(
        fake.cases.len() == want_cases && node.cases.len() == want_cases,
        "judged {} / {} cases",
        fake.cases.len(),
        node.cases.len()
    );
    // ...and both agree on the outcome, and on the raw lastError where it does not race
    // (HTTP/2 refusals race between PROTOCOL_ERROR, broken pipe and reset; TLS 1.3
    // client-certificate refusals between the alert, broken pipe and reset).
    // Where the `current` profile differs from node_exporter 1.5 by design.
    const CURRENT_404: &str = "current-unknown-path-404";
    const CURRENT_UNKNOWN_CA: &str = "current-tls12-mtls-rogue-client-cert";
    let racy = |raw: &str| {
        raw.contains("broken pipe")
            || raw.contains("reset by peer")
            || raw.contains("PROTOCOL_ERROR")
    };
    for (f, n) in fake.cases.iter().zip(&node.cases) {
        let (fo, no) = (f.observed, n.observed);
        // The table behind docs/legacy-tls.md (visible with --nocapture).
        println!(
            "{}: {}\n    fake-exporter: {}\n    node_exporter: {}",
            f.name,
            fo.map_or("not scraped".into(), |o| o.to_string()),
            normalised(&f.last_error),
            normalised(&n.last_error)
        );
        if f.name == CURRENT_404 {
            let classes = (
                fo.map(|o| o.class.to_string()),
                no.map(|o| o.class.to_string()),
            );
            if classes
                != (
                    Some("http_status_404".into()),
                    Some("bad_exposition".into()),
                )
            {
                failures.push(format!("{CURRENT_404}: classes (fake, node) {classes:?}"));
            }
            continue;
        }
        let documented = f
            .last_error
            .ends_with("remote error: tls: unknown certificate authority")
            && n.last_error.ends_with("remote error: tls: bad certificate");
        if f.name == CURRENT_UNKNOWN_CA && !documented {
            failures.push(format!(
                "{CURRENT_UNKNOWN_CA}: want unknown_ca from fake-exporter and bad_certificate \
                 from node_exporter:\n  fake-exporter: {}\n  node_exporter: {}",
                f.last_error, n.last_error
            ));
        }
        if fo != no {
            failures.push(format!(
                "{}: fake-exporter {:?} vs node_exporter {:?}",
                f.name, fo, no
            ));
        }
        let (fr, nr) = (normalised(&f.last_error), normalised(&n.last_error));
        if f.name != CURRENT_UNKNOWN_CA && !racy(&fr) && !racy(&nr) && fr != nr {
            failures.push(format!(
                "{}: lastError differs:\n  fake-exporter: {fr}\n  node_exporter: {nr}",
                f.name
            ));
        }
    }
    // The legacy listener really served the old versions (exporter-side counters).
    let versions = |name: &str| {
        fake.cases
            .iter()
            .find(|c| c.name == name)
            .map(|c| c.tls_versions.clone())
            .unwrap_or_default()
    };
    for (case, want) in [
        ("tls10-job-http11", "TLSv1_0"),
        ("tls11-job-http11", "TLSv1_1"),
        ("cbc-only-http2-off", "TLSv1_2"),
        ("tls10-min-tls13-negotiated", "TLSv1_3"),
    ] {
        let got = versions(case);
        if got != [want] {
            failures.push(format!(
                "{case}: fake-exporter negotiated {got:?}, want [{want}]"
            ));
        }
    }
    ensure!(failures.is_empty(), "{}", failures.join("\n"));
    Ok(())
}

//! Reports of a run: a terminal table, a failure block per failed case, JSON and JUnit XML.

pub mod junit;

use std::fmt::Write as _;
use std::path::Path;

use crate::runner::{CaseResult, RunReport};

/// A report file that could not be written.
#[derive(Debug, thiserror::Error)]
#[error("writing {path}: {source}")]
pub struct ReportError {
    /// The file.
    pub path: String,
    /// The OS or encoder error.
    pub source: std::io::Error,
}

/// The summary table: case, expected, observed, raw lastError, scrapes, handshakes.
pub fn table(report: &RunReport) -> String {
    let mut rows: Vec<[String; 7]> = vec![[
        "case".into(),
        "result".into(),
        "expected".into(),
        "observed".into(),
        "scrapes".into(),
        "conns/handshakes".into(),
        "lastError".into(),
    ]];
    for c in &report.cases {
        rows.push([
            c.name.clone(),
            if c.pass { "ok".into() } else { "FAIL".into() },
            format!("{} {}", c.expected_health_label(), c.expected_error_class),
            format!("{} {}", c.health, c.error_class),
            c.scrapes.to_string(),
            format!("{}/{}", c.connections, c.handshakes),
            truncate(&c.last_error, 90),
        ]);
    }
    let mut widths = [0usize; 7];
    for r in &rows {
        for (i, cell) in r.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for (n, r) in rows.iter().enumerate() {
        let line: Vec<String> = r
            .iter()
            .enumerate()
            .map(|(i, cell)| {
                if i == r.len() - 1 {
                    cell.clone()
                } else {
                    format!("{cell:<w$}", w = widths[i])
                }
            })
            .collect();
        let _ = writeln!(out, "{}", line.join("  ").trim_end());
        if n == 0 {
            let total: usize = widths.iter().sum::<usize>() + 2 * (widths.len() - 1);
            let _ = writeln!(out, "{}", "-".repeat(total.min(160)));
        }
    }
    let passed = report.cases.iter().filter(|c| c.pass).count();
    let failed = report.cases.len() - passed;
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "Prometheus {} (built with {}) — {}",
        report.prometheus_version, report.go_version, report.prometheus
    );
    let t = &report.timings;
    let _ = writeln!(
        out,
        "timings: setup {:.2}s, Prometheus start {:.2}s, first scrape {:.2}s after ready, verdicts {:.2}s after ready",
        t.setup_s, t.prometheus_start_s, t.first_scrape_s, t.verdicts_s
    );
    let _ = writeln!(
        out,
        "speed bound: verdicts {:.2}s {} first scrape {:.2}s + ({} + 1) x {:.3}s + 2s = {:.2}s",
        t.verdicts_s,
        if t.within_bound { "<=" } else { ">" },
        t.first_scrape_s,
        report.scrapes_required,
        report.scrape_interval_s,
        t.bound_s
    );
    let _ = writeln!(out, "{passed} passed, {failed} failed");
    out
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_owned()
    } else {
        let cut: String = s.chars().take(n - 1).collect();
        format!("{cut}…")
    }
}

impl CaseResult {
    fn expected_health_label(&self) -> &'static str {
        match self.expected_health {
            crate::scenario::ExpectHealth::Up => "up",
            crate::scenario::ExpectHealth::Down => "down",
            crate::scenario::ExpectHealth::Missing => "missing",
        }
    }
}

/// One block per failed case: what was expected and observed, the raw lastError, the
/// generated job and web config, and the exporter's counters.
pub fn failure_block(c: &CaseResult) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "FAILED case `{}` ({})", c.name, c.file);
    for f in &c.failures {
        let _ = writeln!(out, "  - {f}");
    }
    let _ = writeln!(
        out,
        "  expected: {} {}",
        c.expected_health_label(),
        c.expected_error_class
    );
    let _ = writeln!(out, "  observed: {} {}", c.health, c.error_class);
    let _ = writeln!(out, "  lastError: {:?}", c.last_error);
    let _ = writeln!(
        out,
        "  exporter: {} connection(s), {} handshake(s), {} request(s), handshake failures {:?}; Prometheus dialer established {}",
        c.connections,
        c.handshakes,
        c.requests,
        c.handshakes_failed,
        c.conntrack_established
            .map(|n| n.to_string())
            .unwrap_or_else(|| "n/a".into())
    );
    let _ = writeln!(out, "  generated job:");
    for line in c.job_yaml.lines() {
        let _ = writeln!(out, "    {line}");
    }
    if !c.web_config_yaml.trim().is_empty() {
        let _ = writeln!(out, "  exporter web-config.yml:");
        for line in c.web_config_yaml.lines() {
            let _ = writeln!(out, "    {line}");
        }
    }
    out
}

/// Writes the JSON report.
pub fn write_json(report: &RunReport, path: &Path) -> Result<(), ReportError> {
    let text = serde_json::to_string_pretty(report).map_err(|e| ReportError {
        path: path.display().to_string(),
        source: std::io::Error::other(e),
    })?;
    std::fs::write(path, text).map_err(|source| ReportError {
        path: path.display().to_string(),
        source,
    })
}

/// The JUnit XML text: one testsuite, one testcase per case, failures with the failure
/// block as text.
pub fn junit(report: &RunReport, suite: &str) -> String {
    let cases = report
        .cases
        .iter()
        .map(|c| junit::TestCase {
            classname: c.file.clone(),
            name: c.name.clone(),
            outcome: if c.pass {
                junit::CaseOutcome::Passed
            } else {
                junit::CaseOutcome::Failed {
                    message: c.failures.join("; "),
                    body: failure_block(c),
                }
            },
            system_out: Some(format!(
                "health={} class={} scrapes={} connections={} handshakes={} lastError={}",
                c.health, c.error_class, c.scrapes, c.connections, c.handshakes, c.last_error
            )),
        })
        .collect();
    junit::render(&[junit::Suite {
        time_s: Some(report.timings.verdicts_s),
        ..junit::Suite::new(suite, cases)
    }])
}

/// Writes the JUnit XML report.
pub fn write_junit(report: &RunReport, path: &Path) -> Result<(), ReportError> {
    std::fs::write(path, junit(report, "scrape-harness")).map_err(|source| ReportError {
        path: path.display().to_string(),
        source,
    })
}

/// Escapes text for XML and HTML (attributes included); drops control characters XML 1.0
/// cannot hold.
pub(crate) fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 && c != '\n' && c != '\t' && c != '\r' => {}
            c => out.push(c),
        }
    }
    out
}

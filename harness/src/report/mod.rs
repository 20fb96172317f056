//! Reports of a run: a terminal table, a failure block per failed case, JSON and JUnit XML.

use std::fmt::Write as _;
use std::path::Path;

use crate::runner::{CaseResult, RunReport, Skipped};

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
            c.expected.to_string(),
            c.observed_label(),
            c.scrapes.to_string(),
            c.conns_handshakes(),
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
    /// The observed outcome, or why there is none (`n/a`, `not started`).
    fn observed_label(&self) -> String {
        match (&self.observed, &self.skipped) {
            (Some(o), _) => o.to_string(),
            (None, Some(Skipped::NotApplicable(_))) => "n/a".into(),
            (None, Some(Skipped::NotStarted(_))) => "not started".into(),
            (None, None) => "-".into(),
        }
    }

    /// `connections/handshakes`, `-` where handshakes were not measured.
    fn conns_handshakes(&self) -> String {
        match self.handshakes {
            Some(h) => format!("{}/{h}", self.connections),
            None => format!("{}/-", self.connections),
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
    let _ = writeln!(out, "  expected: {}", c.expected);
    let _ = writeln!(out, "  observed: {}", c.observed_label());
    let _ = writeln!(out, "  lastError: {:?}", c.last_error);
    let _ = writeln!(
        out,
        "  exporter: {} connection(s), {} handshake(s), {} request(s), handshake failures {:?}; Prometheus dialer established {}",
        c.connections,
        c.handshakes.map_or_else(|| "unmeasured".to_owned(), |h| h.to_string()),
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
    let failures = report.cases.iter().filter(|c| !c.pass).count();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites><testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"0\" time=\"{:.3}\">",
        xml_escape(suite),
        report.cases.len(),
        failures,
        report.timings.verdicts_s
    );
    for c in &report.cases {
        let _ = write!(
            out,
            "  <testcase classname=\"{}\" name=\"{}\">",
            xml_escape(&c.file),
            xml_escape(&c.name)
        );
        if !c.pass {
            let _ = write!(
                out,
                "<failure message=\"{}\">{}</failure>",
                xml_escape(&c.failures.join("; ")),
                xml_escape(&failure_block(c))
            );
        }
        let _ = writeln!(
            out,
            "<system-out>{}</system-out></testcase>",
            xml_escape(&format!(
                "observed={} scrapes={} connections/handshakes={} lastError={}",
                c.observed_label(),
                c.scrapes,
                c.conns_handshakes(),
                c.last_error
            ))
        );
    }
    out.push_str("</testsuite></testsuites>\n");
    out
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

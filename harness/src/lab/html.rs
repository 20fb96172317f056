//! `lab check --html FILE`: one self-contained page a learner can hand in — the verdict,
//! one row per target with Prometheus' raw error, what is still wrong and what was fixed.
//! HTML and CSS (the verdicts are in the DOM as served); one small script counts the targets up into
//! `#summary`, so a browser test can tell the page was really rendered.

use std::path::Path;

use super::check::CheckReport;
use super::error::LabError;
use crate::report::xml_escape as esc;

/// Writes the report page to `path`.
pub fn write_html(report: &CheckReport, path: &Path) -> Result<(), LabError> {
    std::fs::write(path, render(report)).map_err(|e| LabError::io("writing", path, e))
}

/// Counts the target rows into `#summary` (and marks it rendered): a browser that ran the
/// page shows "N of M target(s) up" above the table.
const SUMMARY_JS: &str = "var rows = document.querySelectorAll('tr.target'); var up = document.querySelectorAll('tr.target.pass').length; var s = document.getElementById('summary'); s.textContent = up + ' of ' + rows.length + ' target(s) up'; s.setAttribute('data-rendered', 'js');";

/// The page.
pub(crate) fn render(report: &CheckReport) -> String {
    let verdict = if report.solved {
        "solved"
    } else {
        "not-solved"
    };
    let mut rows = String::new();
    for t in &report.targets {
        let ok = if t.health == "up" { "pass" } else { "fail" };
        rows.push_str(&format!(
            "<tr class=\"target {ok}\" data-verdict=\"{ok}\"><td>{job}</td><td>{inst}</td><td class=\"health\">{health}</td><td>{class}</td><td><code>{raw}</code></td><td>{conns}</td></tr>\n",
            job = esc(&t.job),
            inst = esc(&t.instance),
            health = esc(&t.health),
            class = esc(&t.class),
            raw = esc(if t.last_error.is_empty() { "—" } else { &t.last_error }),
            conns = t.new_connections.map_or_else(|| "—".to_owned(), |n| format!("{n} during {} scrapes after the first", t.scrapes.saturating_sub(1))),
        ));
    }
    let mut findings = String::new();
    for f in &report.findings {
        findings.push_str(&format!(
            "<li class=\"finding\" data-kind=\"{kind}\"><strong>{subject} — {kind}</strong><br>{raw}likely cause: {cause}<br>look at: {look}</li>\n",
            kind = esc(&f.kind),
            subject = esc(&f.subject),
            raw = if f.raw.is_empty() { String::new() } else { format!("Prometheus says: <code>{}</code><br>", esc(&f.raw)) },
            cause = esc(&f.cause),
            look = esc(&f.look_at),
        ));
    }
    if findings.is_empty() {
        findings.push_str("<li class=\"none\">nothing</li>\n");
    }
    let mut fixed = String::new();
    for f in &report.fixed {
        fixed.push_str(&format!("<li class=\"fixed\">{}</li>\n", esc(f)));
    }
    if fixed.is_empty() {
        let none = if report.findings.iter().any(|f| f.kind == "weakened") {
            "nothing counts as fixed while a protection is weakened"
        } else if report.checks > 1 {
            "nothing fixed since the earlier checks"
        } else {
            "no earlier check"
        };
        fixed.push_str(&format!("<li class=\"none\">{none}</li>\n"));
    }
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>Lab {lab}: {verdict_text}</title>\n<style>\n\
         body {{ font-family: sans-serif; max-width: 60em; margin: 2em auto; }}\n\
         .verdict {{ font-size: 1.5em; padding: .5em; border-radius: .3em; }}\n\
         .verdict.solved {{ background: #c8f0c8; }} .verdict.not-solved {{ background: #f6c8c8; }}\n\
         tr.pass td.health {{ color: #070; }} tr.fail td.health {{ color: #a00; font-weight: bold; }}\n\
         table {{ border-collapse: collapse; }} td, th {{ border: 1px solid #ccc; padding: .3em; vertical-align: top; }}\n\
         </style>\n</head>\n<body>\n<h1>Lab <code>{lab}</code></h1>\n\
         <p id=\"verdict\" class=\"verdict {verdict}\" data-verdict=\"{verdict}\">{verdict_text}</p>\n\
         <p id=\"summary\"></p>\n\
         <p id=\"progress\" data-checks=\"{checks}\" data-hints=\"{hints}\">check {checks} of this lab, at {at}; hints shown: {hints}</p>\n\
         <p>Prometheus: {url}; folder: <code>{dir}</code></p>\n\
         <h2>Targets</h2>\n<table id=\"targets\">\n<tr><th>job</th><th>instance</th><th>health</th><th>class</th><th>Prometheus' error</th><th>new connections</th></tr>\n{rows}</table>\n\
         <h2>Still wrong</h2>\n<ul id=\"findings\">\n{findings}</ul>\n\
         <h2>What was fixed</h2>\n<ul id=\"fixed\">\n{fixed}</ul>\n<script>{SUMMARY_JS}</script>\n</body>\n</html>\n",
        lab = esc(&report.lab),
        verdict_text = if report.solved { "SOLVED" } else { "not solved yet" },
        url = esc(&report.prometheus_url),
        checks = report.checks,
        hints = report.hints,
        at = super::report::timestamp(report.checked_at),
        dir = esc(&report.dir.display().to_string()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lab::{CheckReport, Finding, TargetReport};

    #[test]
    fn raw_errors_are_escaped_and_verdicts_marked() {
        let report = CheckReport {
            lab: "x".into(),
            dir: "/tmp/x".into(),
            prometheus_url: "http://127.0.0.1:1".into(),
            solved: false,
            targets: vec![TargetReport {
                job: "node".into(),
                instance: "127.0.0.1:2".into(),
                health: "down".into(),
                last_error: "Get \"https://127.0.0.1:2/metrics\": <bad>".into(),
                class: "no_ip_sans".into(),
                new_connections: None,
                scrapes: 1,
            }],
            findings: vec![Finding::new(
                "job `node`",
                "no_ip_sans",
                "r",
                "c".into(),
                "l".into(),
            )],
            fixed: vec![],
            checked_at: 0,
            checks: 3,
            hints: 1,
        };
        let page = render(&report);
        assert!(page.contains("&lt;bad&gt;") && !page.contains("<bad>"));
        assert!(page.contains("data-verdict=\"not-solved\""));
        assert!(page.contains("<tr class=\"target fail\""));
        assert!(page.contains("check 3 of this lab, at 1970-01-01 00:00:00 UTC; hints shown: 1"));
    }
}

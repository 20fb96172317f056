//! Reports: the terminal tables (scenario runs here, rotation and receivers in `cases`),
//! a failure block per failed case, JSON and JUnit XML, and what every command's output
//! shares: a legend of its notation and, as its last line, [`summary_line`].

mod cases;
pub mod junit;

pub use cases::{receivers_table, rotation_table, RECEIVERS_LEGEND, ROTATION_LEGEND};

use std::fmt::Write as _;
use std::path::Path;

use crate::runner::{CaseResult, RunReport, Skipped};
use crate::scenario::Plan;

/// A report file that could not be written.
#[derive(Debug, thiserror::Error)]
#[error("writing {path}: {source}")]
pub struct ReportError {
    /// The file.
    pub path: String,
    /// The OS or encoder error.
    pub source: std::io::Error,
}

/// Widest table [`table`] prints, in columns.
pub const TABLE_WIDTH: usize = 120;

/// Legend of the table's notation, printed under it.
pub const LEGEND: &str = "expected → observed: target health (error class), one value when \
observed as expected; conns/hs: TCP connections / TLS handshakes the exporter counted over all scrapes (- = not measured); n/a: \
the case does not apply to this exporter";

/// Legend of the conformance table.
pub const CONFORMANCE_LEGEND: &str = "level: MUST / SHOULD / MAY (--fail-on says which fail \
the run); result: PASS, FAIL, TIMEOUT (no answer within the scrape timeout: fails the run), N/A \
(the feature is absent, detected), NOT TESTED (not run in this mode, and why); detail: \
`expected …; observed …` on a failure, what was observed on a pass. The last line counts \
PASS as passed and FAIL or TIMEOUT as failed, at every level.";

/// Legend of the bench table.
pub const BENCH_LEGEND: &str = "N: targets; ka: keep-alive; prom_cpu: Prometheus CPU seconds \
in the window, cores: the same per second; rss_MiB: Prometheus' peak memory; p50_ms/p99_ms: \
scrape durations; scrapes, failed: scrapes in the window and failed ones; hs: TLS handshakes in \
the window, hs/req: connections per request; exp_cpu: exporter CPU seconds (-: the fleets ran \
elsewhere); hs_total: handshakes over the whole run; tls/group/http: negotiated TLS version, key \
exchange group and HTTP version; verdict: ok, or FAIL with the problems below the table \
(expected beside observed). With shards or several --prometheus URLs the row is their total \
and a line per shard follows (kept and scraped targets, CPU, memory, descriptors, scrapes).";

/// Legend of `lab check`.
pub const LAB_LEGEND: &str = "target job/instance: health (error class) as Prometheus \
observes it (expected: up); ✗ still wrong, with what Prometheus (or promtool, nginx -t) says, \
the likely cause and where to look; ✓ fixed since an earlier check. The last line counts the \
targets up as passed and what is still wrong as failed.";

/// The last line of every command's output, which CI tooling reads: exactly
/// `N passed, M failed`.
pub fn summary_line(passed: usize, failed: usize) -> String {
    format!("{passed} passed, {failed} failed")
}

/// `legend` wrapped to [`TABLE_WIDTH`], then [`summary_line`]: the end of a command's
/// output when its table comes from elsewhere.
pub fn legend_and_summary(legend: &str, passed: usize, failed: usize) -> String {
    let mut out = String::new();
    for line in wrap(legend, TABLE_WIDTH) {
        let _ = writeln!(out, "{line}");
    }
    let _ = writeln!(out, "{}", summary_line(passed, failed));
    out
}

/// What a run is about to do, for the top of its output: the cases and where they come
/// from, the backend, how many scrapes are awaited, why the first one takes ~5 s, and the
/// pace asked of this machine against the interval paced for it.
pub fn header(plan: &Plan, sources: &[String], backend: &str) -> String {
    let files = if sources.is_empty() {
        crate::scenario::DEFAULT_MATRIX_NAME.to_owned()
    } else {
        sources.join(", ")
    };
    let d = &plan.defaults;
    let text = format!(
        "scrape-harness: {} case(s) from {files} (format: scenarios/README.md). Each case is an \
         exporter and one scrape job of ONE Prometheus (backend: {backend}); verdicts are read from \
         Prometheus once every target has been scraped {} times, every {}. Prometheus syncs \
         new targets every 5 s, so the first scrape comes about 5 s after it is ready.",
        plan.cases.len(),
        d.scrapes,
        humantime::format_duration(d.scrape_interval),
    );
    let cores = crate::pacing::cores();
    let paced = crate::pacing::interval_for(plan.cases.len(), cores);
    let pace = format!(
        "Pace: {:.0} scrapes/s on {cores} core(s); the interval paced for {} case(s) here is {}{}.",
        crate::pacing::scrape_rate(plan.cases.len(), d.scrape_interval),
        plan.cases.len(),
        humantime::format_duration(paced),
        if d.scrape_interval < paced {
            " (this run is faster: if the machine cannot keep up the run ends with exit 2, \
             naming the overload, instead of blaming cases)"
        } else {
            ""
        }
    );
    let mut others = Vec::new();
    if let Some(r) = &plan.receivers {
        others.push(format!(
            "{} receiver case(s) (Prometheus delivering alerts or remote-write samples)",
            r.receivers.len()
        ));
    }
    if let Some(r) = &plan.rotation {
        others.push(format!(
            "{} rotation case(s) (files replaced while Prometheus keeps scraping, every {})",
            r.cases.len(),
            humantime::format_duration(r.scrape_interval)
        ));
    }
    let others = if others.is_empty() {
        String::new()
    } else {
        format!(" The same Prometheus also runs {}.", others.join(" and "))
    };
    let mut out = String::new();
    for line in wrap(&format!("{text}{others} {pace}"), TABLE_WIDTH) {
        let _ = writeln!(out, "{line}");
    }
    out
}

/// The summary table (at most [`TABLE_WIDTH`] columns): case, result, expected → observed,
/// scrapes, connections/handshakes; under a failed case, its cause in plain words and the
/// significant part of `lastError`, in full. Then the legend, the Prometheus that judged
/// and the timings.
pub fn table(report: &RunReport) -> String {
    table_with(report, false)
}

/// [`table`], with each case's description under its row when `verbose`.
pub fn table_with(report: &RunReport, verbose: bool) -> String {
    const CASE: usize = 38;
    const OUTCOME: usize = 52;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<CASE$}  {:<6}  {:<OUTCOME$}  {:>7}  conns/hs",
        "case", "result", "expected → observed", "scrapes"
    );
    let _ = writeln!(out, "{}", "-".repeat(TABLE_WIDTH));
    for c in &report.cases {
        // One value when the observation is the expectation; both when they differ.
        let observed = c.observed_label();
        let as_expected = match c.start {
            Some(_) => c.pass,
            None => c.observed.is_some_and(|o| c.expected.accepts(&o)),
        };
        let outcome = if as_expected {
            observed
        } else {
            format!("{} → {observed}", c.expected_label())
        };
        let _ = writeln!(
            out,
            "{:<CASE$}  {:<6}  {:<OUTCOME$}  {:>7}  {}",
            truncate(&c.name, CASE),
            match (c.pass, report.unjudged(c)) {
                (true, _) => "ok",
                (false, false) => "FAIL",
                // The machine could not keep up: not the case's fault (see the footer).
                (false, true) => "?",
            },
            truncate(&outcome, OUTCOME),
            c.scrapes,
            c.conns_handshakes()
        );
        if verbose && !c.description.is_empty() {
            for line in wrap(&c.description, TABLE_WIDTH - 4) {
                let _ = writeln!(out, "    {line}");
            }
        }
        if !c.pass && !report.unjudged(c) {
            for line in cause_lines(c) {
                let _ = writeln!(out, "    {line}");
            }
        }
        for note in &c.notes {
            for line in wrap(&format!("note: {note}"), TABLE_WIDTH - 4) {
                let _ = writeln!(out, "    {line}");
            }
        }
    }
    let noted = report.cases.iter().filter(|c| !c.notes.is_empty()).count();
    if noted > 0 {
        let _ = writeln!(out);
        let advice = format!(
            "{noted} case(s) saw scrapes time out although nothing slowed their exporter down: \
             the machine is busy. Verdicts were taken from the scrapes that did not time out \
             (see the notes). Longer `defaults: {{ scrape_interval, scrape_timeout }}` give a \
             quieter run."
        );
        for line in wrap(&advice, TABLE_WIDTH) {
            let _ = writeln!(out, "{line}");
        }
    }
    let passed = report.cases.iter().filter(|c| c.pass).count();
    let failed = report.cases.len() - passed;
    let _ = writeln!(out);
    for line in wrap(LEGEND, TABLE_WIDTH) {
        let _ = writeln!(out, "{line}");
    }
    let footer = footer_lines(report);
    for line in footer.iter().flat_map(|l| wrap(l, TABLE_WIDTH)) {
        let _ = writeln!(out, "{line}");
    }
    let unjudged = report.cases.iter().filter(|c| report.unjudged(c)).count();
    if unjudged > 0 {
        let _ = writeln!(
            out,
            "{passed} passed, {} failed, {unjudged} not judged (the machine was overloaded: see \
             above)",
            failed - unjudged
        );
    } else {
        let _ = writeln!(out, "{}", summary_line(passed, failed));
    }
    out
}

/// The lines under the legend: the Prometheus that judged, timings, the machine's load.
fn footer_lines(report: &RunReport) -> Vec<String> {
    let t = &report.timings;
    let footer = [
        format!(
            "Prometheus {} (built with {}) — {}",
            report.prometheus_version, report.go_version, report.prometheus
        ),
        format!(
            "timings: setup {:.2}s, Prometheus start {:.2}s, first scrape {:.2}s after ready \
             (Prometheus syncs new targets every 5 s), verdicts {:.2}s after ready",
            t.setup_s, t.prometheus_start_s, t.first_scrape_s, t.verdicts_s
        ),
        format!(
            "time to verdicts: {:.2}s, {} the expected {:.2}s (first scrape {:.2}s + ({} + 1) \
             scrapes x {:.3}s + 2s)",
            t.verdicts_s,
            if t.within_bound { "within" } else { "OVER" },
            t.bound_s,
            t.first_scrape_s,
            report.scrapes_required,
            report.scrape_interval_s,
        ),
    ];
    let h = &report.health;
    let mib = |m: Option<f64>| m.map_or("-".to_owned(), |m| format!("{m:.0} MiB"));
    let cpu = |c: Option<f64>| c.map_or("-".to_owned(), |c| format!("{c:.2}"));
    let machine = format!(
        "machine: {} core(s), {} busy while scraping, {:.0} scrapes/s; busy cores: harness {}, \
         Prometheus {}; peak RSS: harness {}, Prometheus {}; {} of {} target(s) had scrapes \
         near the timeout{}",
        h.cores,
        crate::runner::health_percent(h.machine_busy),
        h.scrape_rate,
        cpu(h.harness_cpu_cores),
        cpu(h.prometheus_cpu_cores),
        mib(h.harness_max_rss_mib),
        mib(h.prometheus_max_rss_mib),
        h.near_timeout_targets,
        h.targets,
        if h.overloaded() {
            " — OVERLOADED"
        } else {
            ""
        },
    );
    footer.into_iter().chain(std::iter::once(machine)).collect()
}

/// Why a case failed, in lines of at most [`TABLE_WIDTH`] - 4 columns: every failed
/// expectation, the observed class explained, and the significant part of `lastError`.
fn cause_lines(c: &CaseResult) -> Vec<String> {
    let mut text = c.failures.join("; ");
    if let Some(observed) = &c.observed {
        if observed.class != crate::classify::ErrorClass::None {
            let _ = write!(text, ". Cause: {}", observed.class.explanation());
        }
    }
    if !c.significant_error.is_empty() {
        let _ = write!(text, ". lastError: {}", c.significant_error);
    }
    wrap(&text, TABLE_WIDTH - 4)
}

/// Splits `text` into lines of at most `width` characters, at spaces where possible
/// (longer words are broken).
fn wrap(text: &str, width: usize) -> Vec<String> {
    textwrap::wrap(text, width)
        .into_iter()
        .map(std::borrow::Cow::into_owned)
        .collect()
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
        match (&self.observed, &self.skipped, &self.start) {
            (_, None, Some(crate::runner::StartObserved::RefusedConfig(_))) => {
                return "refused config".into()
            }
            (_, None, Some(crate::runner::StartObserved::Started)) => return "started".into(),
            _ => {}
        }
        match (&self.observed, &self.skipped) {
            (Some(o), _) => o.to_string(),
            (None, Some(Skipped::NotApplicable(_))) => "n/a".into(),
            (None, Some(Skipped::NotStarted(_))) => "not started".into(),
            (None, None) => "-".into(),
        }
    }

    /// What was expected, in the words of the table: the outcome, or `refuses config`.
    fn expected_label(&self) -> String {
        match self.start {
            Some(_) => "refuses config".into(),
            None => self.expected.to_string(),
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
    let _ = writeln!(out, "  expected: {}", c.expected_label());
    let _ = writeln!(out, "  observed: {}", c.observed_label());
    for note in &c.notes {
        let _ = writeln!(out, "  note: {note}");
    }
    let _ = writeln!(out, "  lastError: {:?}", c.last_error);
    if let Some(o) = c
        .observed
        .filter(|o| o.class != crate::classify::ErrorClass::None)
    {
        let _ = writeln!(out, "  likely cause: {}", o.class.explanation());
    }
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
    if !crate::backend::keep_requested() {
        let _ = writeln!(
            out,
            "  (the run's files named above, PKI and web-configs, are removed when it ends; \
             HARNESS_KEEP=1 keeps them)"
        );
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
    junit::render(&[scrape_suite(report, suite)])
}

fn scrape_suite(report: &RunReport, suite: &str) -> junit::Suite {
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
                "observed={} scrapes={} connections/handshakes={} lastError={}",
                c.observed_label(),
                c.scrapes,
                c.conns_handshakes(),
                c.last_error
            )),
        })
        .collect();
    junit::Suite {
        time_s: Some(report.timings.verdicts_s),
        ..junit::Suite::new(suite, cases)
    }
}

/// The JUnit XML text of a run that may mix kinds of case: the scrape cases' suite (as
/// [`junit`]), then a `receivers` and a `rotation` suite when the run had such cases.
pub fn junit_all(report: &RunReport, suite: &str, file: &str) -> String {
    let mut suites = vec![scrape_suite(report, suite)];
    if let Some(r) = &report.receivers {
        suites.push(r.junit_suite(file));
    }
    if let Some(r) = &report.rotation {
        suites.push(r.junit_suite(file));
    }
    junit::render(&suites)
}

/// Every table of a run: the scrape cases' (when there are any, or when there is nothing
/// else), the receivers', the rotation cases'; each with its legend and count. When the
/// run mixes kinds, a last line counts them all: `N passed, M failed`.
pub fn all_tables(report: &RunReport, plan: &Plan, verbose: bool) -> String {
    let mut out = String::new();
    let (mut passed, mut failed, mut kinds) = (0, 0, 0);
    let only_scrape = report.receivers.is_none() && report.rotation.is_none();
    if !report.cases.is_empty() || only_scrape {
        out.push_str(&table_with(report, verbose));
        let p = report.cases.iter().filter(|c| c.pass).count();
        passed += p;
        failed += report.cases.len() - p;
        kinds += 1;
    }
    if let Some(r) = &report.receivers {
        if kinds > 0 {
            out.push('\n');
        }
        out.push_str(&receivers_table(r, verbose));
        let (p, f) = r.counts();
        passed += p;
        failed += f;
        kinds += 1;
    }
    if let Some(r) = &report.rotation {
        if kinds > 0 {
            out.push('\n');
        }
        let cases = plan.rotation.as_ref().map_or(&[][..], |p| &p.cases[..]);
        out.push_str(&rotation_table(cases, r, verbose));
        let p = r.cases.iter().filter(|c| c.passed).count();
        passed += p;
        failed += r.cases.len() - p;
        kinds += 1;
    }
    if kinds > 1 {
        let _ = writeln!(out, "\nevery kind of case together:");
        let _ = writeln!(out, "{}", summary_line(passed, failed));
    }
    out
}

/// Writes the JUnit XML report (every kind of case of the run; `file` names the scenario
/// files in the receiver and rotation suites).
pub fn write_junit(report: &RunReport, file: &str, path: &Path) -> Result<(), ReportError> {
    std::fs::write(path, junit_all(report, "scrape-harness", file)).map_err(|source| ReportError {
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

/// What a run on an overloaded machine says instead of blaming its cases (exit 2).
pub fn overload_message(report: &RunReport) -> String {
    let failed: Vec<&str> = report
        .cases
        .iter()
        .filter(|c| report.unjudged(c))
        .map(|c| c.name.as_str())
        .collect();
    let text = format!(
        "the machine could not keep up with this run, so {} case(s) whose scrapes timed out or \
         reconnected ({}{}) are not judged: {}. To change: {}.",
        failed.len(),
        failed
            .iter()
            .take(5)
            .copied()
            .collect::<Vec<_>>()
            .join(", "),
        if failed.len() > 5 { ", ..." } else { "" },
        report.health.overload.as_deref().unwrap_or("overloaded"),
        report.health.advice(),
    );
    wrap(&text, TABLE_WIDTH).join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapped_lines_fit_and_keep_every_word() {
        let text = "a ".repeat(100) + &"x".repeat(250);
        let lines = wrap(&text, 40);
        assert!(lines.iter().all(|l| l.chars().count() <= 40), "{lines:?}");
        assert_eq!(lines.concat().replace(' ', ""), text.replace(' ', ""));
    }
}

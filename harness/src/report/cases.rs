//! The terminal table of the commands whose cases are not scenario cases (rotation,
//! receivers): one row per case with its result and expected → observed, the failures
//! under it, a legend, and the summary line every command ends with.

use std::fmt::Write as _;

use super::{summary_line, truncate, wrap, TABLE_WIDTH};
use crate::backend::EndpointCheck;
use crate::classify::ErrorClass;
use crate::receivers::{Observed, ReceiverRun};
use crate::rotation::{NewSeen, RotationCase, RotationOutcome, RotationReport, ScrapeSeen};
use crate::targets::Health;

/// Legend of [`rotation_table`].
pub const ROTATION_LEGEND: &str = "expected → observed: health (error class) at the end; new: \
the scrape after the watched step that first showed the new certificate or credential \
(`by N`: at the latest the N-th; `never`: the old connection kept the old one); same conn: \
whether the scrapes after the step stayed on the connection open before it; failed: failed \
scrapes (Prometheus' `up == 0`) from the first step on, observed as failed/all; old refused: \
a direct request with the old credential or certificate is refused at the end. -v adds every \
scrape: [!]<watched>c<connection>[@<step>] (! = not HTTP 200).";

/// Legend of [`receivers_table`].
pub const RECEIVERS_LEGEND: &str = "expected → observed: whether Prometheus delivered (the \
receiver accepted and Prometheus counted no failure), else the class of the error Prometheus \
logged and the receiver's non-2xx answers; sent/failed: Prometheus' own counters (alerts, or \
remote-write samples; failed includes retried); endpoint rows: Prometheus' own endpoints, \
expected → observed HTTP status.";

/// One row of a case table.
struct Row {
    name: String,
    pass: bool,
    expected: String,
    observed: String,
    /// A short column after the outcome (counts).
    extra: String,
    /// Lines under the row (failures, details).
    below: Vec<String>,
}

/// The rows, the legend, the footer lines and the summary line, as text.
fn render(header: &str, extra: &str, rows: &[Row], legend: &str, footer: &[String]) -> String {
    const CASE: usize = 38;
    const OUTCOME: usize = 58;
    let mut out = String::new();
    for line in wrap(header, TABLE_WIDTH) {
        let _ = writeln!(out, "{line}");
    }
    let _ = writeln!(
        out,
        "{:<CASE$}  {:<6}  {:<OUTCOME$}  {extra}",
        "case", "result", "expected → observed"
    );
    let _ = writeln!(out, "{}", "-".repeat(TABLE_WIDTH));
    for r in rows {
        // A long outcome goes whole under the row (↓), never cut.
        let outcome = format!("{} → {}", r.expected, r.observed);
        let fits = outcome.chars().count() <= OUTCOME;
        let _ = writeln!(
            out,
            "{:<CASE$}  {:<6}  {:<OUTCOME$}  {}",
            truncate(&r.name, CASE),
            if r.pass { "ok" } else { "FAIL" },
            if fits { outcome.as_str() } else { "↓" },
            r.extra
        );
        if !fits {
            for line in wrap(&outcome, TABLE_WIDTH - 4) {
                let _ = writeln!(out, "    {line}");
            }
        }
        for text in &r.below {
            for line in wrap(text, TABLE_WIDTH - 4) {
                let _ = writeln!(out, "    {line}");
            }
        }
    }
    let _ = writeln!(out);
    for line in wrap(legend, TABLE_WIDTH) {
        let _ = writeln!(out, "{line}");
    }
    for line in footer.iter().flat_map(|l| wrap(l, TABLE_WIDTH)) {
        let _ = writeln!(out, "{line}");
    }
    let passed = rows.iter().filter(|r| r.pass).count();
    let _ = writeln!(out, "{}", summary_line(passed, rows.len() - passed));
    out
}

/// The table of a rotation run: per case the expectations of its file beside what was
/// observed, its failures under it; with `verbose`, every scrape. `cases` are the plan's
/// cases (matched by name).
pub fn rotation_table(cases: &[RotationCase], report: &RotationReport, verbose: bool) -> String {
    let rows: Vec<Row> = report
        .cases
        .iter()
        .map(|o| {
            let case = cases.iter().find(|c| c.name == o.name);
            let (expected, observed) = match case {
                Some(case) => rotation_outcome(case, o),
                None => ("-".to_owned(), health_text(o.health, &o.class)),
            };
            let mut below = o.failures.clone();
            if verbose {
                below.push(format!("scrapes: {}", scrape_sequence(&o.scrapes)));
            }
            Row {
                name: o.name.clone(),
                pass: o.passed,
                expected,
                observed,
                extra: format!(
                    "{}/{}",
                    o.prometheus_connections
                        .map_or("?".to_owned(), |n| n.to_string()),
                    o.exporter_connections
                ),
                below,
            }
        })
        .collect();
    let header = format!(
        "rotation under keep-alive, Prometheus {}",
        report.prometheus_version
    );
    let footer = [
        "conns: connections Prometheus established / connections the exporter \
                   served (? = Prometheus' metrics unreadable)"
            .to_owned(),
    ];
    render(&header, "conns", &rows, ROTATION_LEGEND, &footer)
}

/// Expected and observed of one rotation case, item by item in the same order.
fn rotation_outcome(case: &RotationCase, o: &RotationOutcome) -> (String, String) {
    let x = &case.rotation;
    let expected_health = if case.errors.is_empty() {
        case.health.to_string()
    } else {
        format!("{} ({})", case.health, case.errors.join("|"))
    };
    let mut expected = vec![expected_health];
    let mut observed = vec![health_text(o.health, &o.class)];
    if let Some(new_seen) = x.new_seen {
        expected.push(match new_seen {
            NewSeen::Within(n) => format!("new by {n}"),
            NewSeen::Never => "new never".to_owned(),
        });
        observed.push(
            o.new_seen_at
                .map_or("new never".to_owned(), |n| format!("new at {n}")),
        );
    }
    if let Some(same) = x.same_connection {
        expected.push(format!("same conn {}", yes_no(same)));
        observed.push(
            o.stayed_on_old_connection
                .map_or("same conn -".to_owned(), |s| {
                    format!("same conn {}", yes_no(s))
                }),
        );
    }
    if let Some(count) = &x.failed_scrapes {
        expected.push(format!("failed {count}"));
        observed.push(format!("failed {}/{}", o.failed_scrapes, o.window_scrapes));
    }
    if x.old_refused_after {
        expected.push("old refused".to_owned());
        observed.push(format!(
            "old: {}",
            o.old_probe.as_deref().unwrap_or("not probed")
        ));
    }
    (expected.join(", "), observed.join(", "))
}

fn health_text(health: Health, class: &str) -> String {
    if health == Health::Up || class.is_empty() || class == ErrorClass::None.to_string() {
        health.to_string()
    } else {
        format!("{health} ({class})")
    }
}

fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

/// Every scrape as `[!]<watched>c<connection>[@<step>]`.
fn scrape_sequence(scrapes: &[ScrapeSeen]) -> String {
    let seq: Vec<String> = scrapes
        .iter()
        .map(|s| {
            let step = if s.after_step > 0 {
                format!("@{}", s.after_step)
            } else {
                String::new()
            };
            let bad = if s.status == 200 { "" } else { "!" };
            format!("{bad}{}c{}{step}", s.watched, s.connection)
        })
        .collect();
    seq.join(" ")
}

/// The table of a receivers run: per receiver expected → observed and Prometheus' counts,
/// its failure report under it when it failed (in full with `verbose`, else its problems);
/// then one row per check of Prometheus' own endpoints.
pub fn receivers_table(run: &ReceiverRun, verbose: bool) -> String {
    let mut rows: Vec<Row> = run
        .results
        .iter()
        .map(|r| {
            let below = if r.passed {
                Vec::new()
            } else if verbose {
                vec![r.report.clone()]
            } else {
                r.report
                    .lines()
                    .skip(1)
                    .take_while(|l| !l.trim_start().starts_with("expected:"))
                    .map(|l| l.trim().to_owned())
                    .collect()
            };
            Row {
                name: format!("{} ({})", r.name, r.kind),
                pass: r.passed,
                expected: r.expected.clone(),
                observed: receiver_observed(&r.observed),
                extra: format!(
                    "{:.0}/{:.0}",
                    r.observed.prometheus.successes(),
                    r.observed.prometheus.failures()
                ),
                below,
            }
        })
        .collect();
    rows.extend(run.own_web_config.iter().map(endpoint_row));
    let header = format!(
        "{} receivers against {} in {:.1}s",
        run.results.len(),
        run.prometheus,
        run.elapsed.as_secs_f64()
    );
    render(&header, "sent/failed", &rows, RECEIVERS_LEGEND, &[])
}

/// What a receiver saw, in the words of [`ReceiverResult::expected`](crate::receive::ReceiverResult).
fn receiver_observed(o: &Observed) -> String {
    let mut text = if o.delivered {
        "delivered".to_owned()
    } else {
        format!("not delivered, error {}", o.class)
    };
    let refused: Vec<String> = o
        .statuses
        .iter()
        .filter(|(status, _)| !(200..300).contains(*status))
        .map(|(status, n)| format!("{status} ×{n}"))
        .collect();
    if !refused.is_empty() {
        let _ = write!(text, ", receiver answered {}", refused.join(", "));
    }
    if !o.settled {
        text.push_str(", not settled");
    }
    text
}

fn endpoint_row(c: &EndpointCheck) -> Row {
    Row {
        name: format!("endpoint {} {:?}", c.path, c.probe),
        pass: c.passed(),
        expected: format!("HTTP {}", c.expected),
        observed: match (c.status, &c.error) {
            (Some(status), _) => format!("HTTP {status}"),
            (None, Some(error)) => format!("no answer: {error}"),
            (None, None) => "no answer".to_owned(),
        },
        extra: String::new(),
        below: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(name: &str, pass: bool) -> Row {
        Row {
            name: name.into(),
            pass,
            expected: "up".into(),
            observed: if pass { "up" } else { "down (refused)" }.into(),
            extra: "1/1".into(),
            below: if pass {
                Vec::new()
            } else {
                vec!["expected up".into()]
            },
        }
    }

    #[test]
    fn a_long_outcome_goes_whole_under_its_row() {
        let mut long = row("long", false);
        long.observed = "down (unknown_authority), failed 7/7, old: refused: the request to \
                         127.0.0.1:35507: connection error"
            .into();
        let text = render("header", "conns", &[long], "LEGEND", &[]);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[3].contains("FAIL    ↓"), "{text}");
        assert!(
            lines[4].starts_with("    up → down (unknown_authority)"),
            "{text}"
        );
        assert!(text.contains("connection error"), "{text}");
    }

    #[test]
    fn a_case_table_shows_expected_beside_observed_a_legend_and_ends_with_the_summary() {
        let text = render(
            "header",
            "conns",
            &[row("a", true), row("b", false)],
            "LEGEND",
            &["footer".to_owned()],
        );
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines[3].starts_with('a') && lines[3].contains("up → up"),
            "{text}"
        );
        assert!(
            lines[4].contains("FAIL") && lines[4].contains("up → down (refused)"),
            "{text}"
        );
        assert_eq!(lines[5], "    expected up", "{text}");
        assert!(text.contains("\nLEGEND\nfooter\n"), "{text}");
        assert_eq!(lines.last(), Some(&"1 passed, 1 failed"), "{text}");
    }
}

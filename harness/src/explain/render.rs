//! The explain table (at most [`WIDTH`] columns), the JSON and JUnit reports and the
//! HTML page.

use std::collections::BTreeMap;
use std::path::Path;

use super::{ExplainError, Explanation, FailOn, Risk, TargetExplanation};
use crate::report::junit::{CaseOutcome, Suite, TestCase};
use crate::report::xml_escape as esc;
use crate::targets::Health;

/// The widest line of the table and of the wrapped text under it (a check command is
/// printed whole so that it can be copied).
pub(crate) const WIDTH: usize = 120;

fn cell(text: &str, width: usize) -> String {
    let count = text.chars().count();
    if count <= width {
        format!("{text:<width$}")
    } else {
        let cut: String = text.chars().take(width.saturating_sub(1)).collect();
        format!("{cut}…")
    }
}

/// `text` wrapped at word boundaries to [`WIDTH`], each line after the first indented by
/// `indent` spaces.
fn wrap(first: &str, text: &str, indent: usize) -> String {
    let mut out = String::new();
    let mut line = first.to_owned();
    for word in text.split_whitespace() {
        if line.chars().count() + 1 + word.chars().count() > WIDTH && !line.trim().is_empty() {
            out.push_str(line.trim_end());
            out.push('\n');
            line = " ".repeat(indent);
        } else if !line.ends_with(' ') && !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    out.push_str(line.trim_end());
    out.push('\n');
    out
}

/// One row per target (job, instance, health, class, keys or risks), then per target that
/// is down or risky its cause, evidence, check command and fix; the last line counts.
pub fn table(explanation: &Explanation) -> String {
    let mut out = format!(
        "Prometheus {} (version {}), targets: {}\n\n",
        explanation.prometheus,
        explanation.version,
        explanation.targets.len()
    );
    out.push_str(&format!(
        "{} {} {} {} {}\n",
        cell("JOB", 18),
        cell("INSTANCE", 22),
        cell("HEALTH", 7),
        cell("CLASS", 22),
        "KEYS / RISKS"
    ));
    for t in &explanation.targets {
        let tail = if t.keys.is_empty() {
            t.risks
                .iter()
                .map(|r| r.kind.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        } else {
            t.keys.join(", ")
        };
        let row = format!(
            "{} {} {} {} {}",
            cell(&t.job, 18),
            cell(&t.instance, 22),
            cell(t.health.as_str(), 7),
            cell(&t.class, 22),
            cell(&tail, WIDTH - 18 - 22 - 7 - 22 - 4)
        );
        out.push_str(row.trim_end());
        out.push('\n');
    }
    for t in &explanation.targets {
        if t.cause.is_empty() && t.risks.is_empty() {
            continue;
        }
        out.push('\n');
        out.push_str(&wrap(
            &format!("{}/{} ({}, {}):", t.job, t.instance, t.health, t.class),
            "",
            2,
        ));
        if !t.cause.is_empty() {
            out.push_str(&wrap("  cause:", &t.cause, 4));
            out.push_str(&wrap("  evidence:", &t.evidence, 4));
            if !t.keys.is_empty() {
                out.push_str(&wrap("  keys:", &t.keys.join(", "), 4));
            }
            out.push_str(&wrap("  fix:", &t.fix, 4));
        }
        for r in &t.risks {
            out.push_str(&wrap(&format!("  risk {}:", r.kind), &r.detail, 4));
        }
        if !t.check.is_empty() {
            out.push_str(&format!("  check: {}\n", t.check));
        }
    }
    let down = explanation
        .targets
        .iter()
        .filter(|t| t.health != crate::targets::Health::Up)
        .count();
    let risky = explanation
        .targets
        .iter()
        .filter(|t| t.health == crate::targets::Health::Up && !t.risks.is_empty())
        .count();
    out.push_str(&format!(
        "\n{} up, {down} not up, {risky} up with risks\n",
        explanation.targets.len() - down
    ));
    out
}

/// Writes the explanation as JSON (`prometheus`, `version`, `targets: [{job, instance,
/// scrape_url, health, class, cause, keys, evidence, check, fix, risks: [{kind, detail}]}]`).
pub fn write_json(explanation: &impl serde::Serialize, path: &Path) -> Result<(), ExplainError> {
    let write = |source| ExplainError::Write {
        path: path.to_owned(),
        source,
    };
    let text =
        serde_json::to_string_pretty(explanation).map_err(|e| write(std::io::Error::other(e)))?;
    std::fs::write(path, text + "\n").map_err(write)
}

/// JUnit XML: one test case per target (classname the job, name the instance), failed when
/// the target is not up, or, with [`FailOn::Risk`], has a risk.
pub fn junit(explanation: &Explanation, fail_on: FailOn) -> String {
    let cases = explanation
        .targets
        .iter()
        .map(|t| {
            let risks: Vec<String> = t
                .risks
                .iter()
                .map(|r| format!("risk {}: {}", r.kind, r.detail))
                .collect();
            let body = [
                format!("scrape_url: {}", t.scrape_url),
                format!("cause: {}", t.cause),
                format!("evidence: {}", t.evidence),
                format!("keys: {}", t.keys.join(", ")),
                format!("check: {}", t.check),
                format!("fix: {}", t.fix),
            ]
            .into_iter()
            .filter(|line| !line.ends_with(": "))
            .chain(risks.iter().cloned())
            .collect::<Vec<_>>()
            .join("\n");
            let outcome = if t.health != Health::Up {
                CaseOutcome::Failed {
                    message: format!("{} ({}): {}", t.health, t.class, t.cause),
                    body,
                }
            } else if fail_on == FailOn::Risk && !t.risks.is_empty() {
                let kinds: Vec<&str> = t.risks.iter().map(|r| r.kind.as_str()).collect();
                CaseOutcome::Failed {
                    message: format!("up with risks: {}", kinds.join(", ")),
                    body,
                }
            } else {
                CaseOutcome::Passed
            };
            TestCase {
                classname: t.job.clone(),
                name: t.instance.clone(),
                outcome,
                system_out: (!risks.is_empty()).then(|| risks.join("\n")),
            }
        })
        .collect();
    let mut suite = Suite::new(format!("explain {}", explanation.prometheus), cases);
    suite.properties = vec![("prometheus_version".into(), explanation.version.clone())];
    crate::report::junit::render(&[suite])
}

/// `<p>keys: ...</p>`, or nothing for a class without keys.
fn keys_html(keys: &[String]) -> String {
    if keys.is_empty() {
        return String::new();
    }
    let keys: Vec<String> = keys
        .iter()
        .map(|k| format!("<code class=\"key\">{}</code>", esc(k)))
        .collect();
    format!("<p>keys: {}</p>", keys.join(", "))
}

fn entry(t: &TargetExplanation, risk: Option<&Risk>) -> String {
    let mut out = format!(
        "<li class=\"target\" data-job=\"{job}\" data-health=\"{health}\"><strong>{job} / {inst}</strong> <span class=\"health {health}\">{health}</span> <code>{url}</code>",
        job = esc(&t.job),
        inst = esc(&t.instance),
        health = t.health,
        url = esc(&t.scrape_url),
    );
    if let Some(r) = risk {
        out += &format!("<p class=\"risk\">{}</p>", esc(&r.detail));
    } else if !t.cause.is_empty() {
        out += &format!(
            "<p class=\"cause\">{}</p><p>evidence: <code class=\"evidence\">{}</code></p>{}<p class=\"fix\">fix: {}</p>",
            esc(&t.cause),
            esc(&t.evidence),
            keys_html(&t.keys),
            esc(&t.fix)
        );
    }
    if !t.check.is_empty() {
        out += &format!("<pre class=\"check\">{}</pre>", esc(&t.check));
    }
    out + "</li>\n"
}

/// One self-contained page (HTML and CSS, no script): the targets grouped by class (down
/// ones) and by risk (up ones), each with its evidence, check command and fix.
pub fn html(explanation: &Explanation) -> String {
    let mut classes: BTreeMap<&str, Vec<&TargetExplanation>> = BTreeMap::new();
    let mut risks: BTreeMap<&str, Vec<(&TargetExplanation, &Risk)>> = BTreeMap::new();
    let mut clean = Vec::new();
    for t in &explanation.targets {
        if t.health != Health::Up {
            classes.entry(t.class.as_str()).or_default().push(t);
        }
        for r in &t.risks {
            risks.entry(r.kind.as_str()).or_default().push((t, r));
        }
        if t.health == Health::Up && t.risks.is_empty() {
            clean.push(t);
        }
    }
    let mut body = String::new();
    for (class, ts) in &classes {
        body += &format!(
            "<section class=\"group class\" data-class=\"{c}\"><h2>down: <code>{c}</code> ({n})</h2><ul>\n",
            c = esc(class),
            n = ts.len()
        );
        for t in ts {
            body += &entry(t, None);
        }
        body += "</ul></section>\n";
    }
    for (kind, ts) in &risks {
        body += &format!(
            "<section class=\"group risk\" data-risk=\"{k}\"><h2>risk: <code>{k}</code> ({n})</h2><ul>\n",
            k = esc(kind),
            n = ts.len()
        );
        for (t, r) in ts {
            body += &entry(t, Some(r));
        }
        body += "</ul></section>\n";
    }
    body += &format!(
        "<section class=\"group clean\"><h2>up without risks ({})</h2><ul>\n",
        clean.len()
    );
    for t in &clean {
        body += &entry(t, None);
    }
    body += "</ul></section>\n";
    let down = explanation
        .targets
        .iter()
        .filter(|t| t.health != Health::Up)
        .count();
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>explain {url}</title>\n<style>\n\
         body {{ font-family: sans-serif; max-width: 70em; margin: 2em auto; }}\n\
         section.class h2 {{ color: #a00; }} section.risk h2 {{ color: #a60; }} section.clean h2 {{ color: #070; }}\n\
         pre.check {{ background: #f4f4f4; padding: .4em; white-space: pre-wrap; }}\n\
         .health.down, .health.missing, .health.unknown {{ color: #a00; font-weight: bold; }} .health.up {{ color: #070; }}\n\
         </style>\n</head>\n<body>\n<h1>Why targets are red, and what is risky about the green ones</h1>\n\
         <p id=\"summary\" data-targets=\"{total}\" data-down=\"{down}\">Prometheus {url} (version {version}): {total} targets, {down} not up</p>\n\
         {body}</body>\n</html>\n",
        url = esc(&explanation.prometheus),
        version = esc(&explanation.version),
        total = explanation.targets.len(),
    )
}

/// Writes `text` to `path`.
pub fn write_text(text: &str, path: &Path) -> Result<(), ExplainError> {
    std::fs::write(path, text).map_err(|source| ExplainError::Write {
        path: path.to_owned(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::explain::{Risk, TargetExplanation};
    use crate::targets::Health;

    #[test]
    fn the_table_fits_in_120_columns_except_check_commands() {
        let long = "x".repeat(300);
        let t = TargetExplanation {
            job: long.clone(),
            instance: long.clone(),
            scrape_url: "http://a/metrics".into(),
            health: Health::Down,
            class: "unknown_authority".into(),
            cause: format!("{long} {long}"),
            keys: vec!["tls_config.ca_file".into(); 20],
            evidence: "x509: certificate signed by unknown authority ".repeat(10),
            check: "openssl s_client".into(),
            fix: "point ca_file at the CA ".repeat(20),
            risks: vec![Risk {
                kind: "inline_secret".into(),
                detail: "word ".repeat(60),
            }],
        };
        let e = Explanation {
            prometheus: "http://127.0.0.1:9090".into(),
            version: "2.42.0".into(),
            targets: vec![t],
        };
        let text = table(&e);
        for line in text.lines().filter(|l| !l.starts_with("  check:")) {
            // A single word longer than the line cannot be wrapped.
            if line
                .split_whitespace()
                .any(|w| w.chars().count() > WIDTH - 4)
            {
                continue;
            }
            assert!(line.chars().count() <= WIDTH, "{line}");
        }
        assert!(
            text.ends_with("0 up, 1 not up, 0 up with risks\n"),
            "{text}"
        );
    }
}

//! The explain table (at most [`WIDTH`] columns) and the JSON report.

use std::path::Path;

use super::{ExplainError, Explanation};

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
            out.push_str(&wrap("  keys:", &t.keys.join(", "), 4));
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

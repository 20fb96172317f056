//! Reports of a conformance run: scores per level, the terminal table, JSON (serde) and
//! JUnit (through the one writer, [`crate::report::junit::render`]).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use super::catalog::Level;
use crate::report::junit;
use crate::runner::{RunReport, Skipped};
use crate::scenario::Plan;

/// The result of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Holds.
    Pass,
    /// Does not hold.
    Fail,
    /// Does not apply to this exporter (detected, with the reason in `detail`).
    NotApplicable,
}

/// One checked requirement.
#[derive(Debug, Clone, Serialize)]
pub struct CheckResult {
    /// Case name.
    pub name: String,
    /// Level.
    pub level: Level,
    /// Verdict.
    pub verdict: Verdict,
    /// Observed vs expected, or why N/A.
    pub detail: String,
    /// Why the requirement exists.
    pub rationale: String,
    /// Where the behaviour is defined.
    pub reference: String,
    /// `prometheus` (verdict from a real Prometheus) or `direct`.
    pub source: &'static str,
}

/// A whole conformance run.
#[derive(Debug, Clone, Serialize)]
pub struct ConformanceReport {
    /// What was tested (the command template or the target).
    pub subject: String,
    /// Which Prometheus judged.
    pub prometheus: String,
    /// Its version and Go version.
    pub prometheus_version: String,
    /// Every check, catalog order then direct checks.
    pub results: Vec<CheckResult>,
}

/// Pass / fail / N/A counts of one level.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Score {
    /// Passed.
    pub pass: usize,
    /// Failed.
    pub fail: usize,
    /// Not applicable.
    pub not_applicable: usize,
}

impl ConformanceReport {
    /// Scores per level.
    pub fn scores(&self) -> BTreeMap<Level, Score> {
        let mut out: BTreeMap<Level, Score> = [Level::Must, Level::Should, Level::May]
            .into_iter()
            .map(|l| (l, Score::default()))
            .collect();
        for r in &self.results {
            let s = out.entry(r.level).or_default();
            match r.verdict {
                Verdict::Pass => s.pass += 1,
                Verdict::Fail => s.fail += 1,
                Verdict::NotApplicable => s.not_applicable += 1,
            }
        }
        out
    }

    /// Whether a MUST failed (the CLI then exits 1).
    pub fn must_failed(&self) -> bool {
        self.results
            .iter()
            .any(|r| r.level == Level::Must && r.verdict == Verdict::Fail)
    }

    /// The verdict of a case by name.
    pub fn verdict(&self, name: &str) -> Option<Verdict> {
        self.results
            .iter()
            .find(|r| r.name == name)
            .map(|r| r.verdict)
    }

    /// The terminal table, ending with the score per level.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let w = self
            .results
            .iter()
            .map(|r| r.name.len())
            .max()
            .unwrap_or(4)
            .max(4);
        let _ = writeln!(
            out,
            "{:<6}  {:<w$}  {:<6}  detail",
            "level", "case", "result"
        );
        let _ = writeln!(out, "{}", "-".repeat(w + 40));
        for r in &self.results {
            let v = match r.verdict {
                Verdict::Pass => "PASS",
                Verdict::Fail => "FAIL",
                Verdict::NotApplicable => "N/A",
            };
            let _ = writeln!(
                out,
                "{:<6}  {:<w$}  {:<6}  {}",
                r.level.as_str(),
                r.name,
                v,
                r.detail
            );
        }
        let _ = writeln!(out);
        let _ = writeln!(out, "subject: {}", self.subject);
        let _ = writeln!(
            out,
            "judged by: Prometheus {} — {}",
            self.prometheus_version, self.prometheus
        );
        for (level, s) in self.scores() {
            let applicable = s.pass + s.fail;
            let _ = writeln!(
                out,
                "{:<6} {}/{} passed, {} failed, {} not applicable",
                level.as_str(),
                s.pass,
                applicable,
                s.fail,
                s.not_applicable
            );
        }
        let _ = writeln!(
            out,
            "{}",
            if self.must_failed() {
                "result: a MUST failed"
            } else {
                "result: every MUST holds"
            }
        );
        out
    }

    /// JUnit XML: one testcase per check (classname = level), skipped for N/A.
    pub fn junit(&self) -> String {
        let cases = self
            .results
            .iter()
            .map(|r| junit::TestCase {
                classname: r.level.as_str().to_owned(),
                name: r.name.clone(),
                outcome: match r.verdict {
                    Verdict::Pass => junit::CaseOutcome::Passed,
                    Verdict::Fail => junit::CaseOutcome::Failed {
                        message: r.detail.clone(),
                        body: format!("{}\nreference: {}", r.rationale, r.reference),
                    },
                    Verdict::NotApplicable => junit::CaseOutcome::Skipped {
                        message: r.detail.clone(),
                    },
                },
                system_out: None,
            })
            .collect();
        junit::render(&[junit::Suite {
            properties: vec![
                ("subject".to_owned(), self.subject.clone()),
                ("prometheus".to_owned(), self.prometheus.clone()),
                (
                    "prometheus_version".to_owned(),
                    self.prometheus_version.clone(),
                ),
            ],
            ..junit::Suite::new("conformance", cases)
        }])
    }
}

/// One report entry per case of `plan`, from the runner's results.
pub(crate) fn results_from_run(report: &RunReport, plan: &Plan) -> Vec<CheckResult> {
    report
        .cases
        .iter()
        .zip(&plan.cases)
        .map(|(r, pc)| {
            let not_applicable = match &r.skipped {
                Some(Skipped::NotApplicable(why)) => Some(why.clone()),
                _ => None,
            };
            let observed = r
                .observed
                .map_or_else(|| "not scraped".to_owned(), |o| o.to_string());
            let verdict = if not_applicable.is_some() {
                Verdict::NotApplicable
            } else if r.pass {
                Verdict::Pass
            } else {
                Verdict::Fail
            };
            let detail = match verdict {
                Verdict::NotApplicable => not_applicable.unwrap_or_default(),
                Verdict::Pass => observed,
                Verdict::Fail => format!(
                    "expected {}, observed {observed}: {}{}",
                    r.expected,
                    r.failures.join("; "),
                    if r.last_error.is_empty() {
                        String::new()
                    } else {
                        format!(" (lastError: {})", r.last_error)
                    }
                ),
            };
            CheckResult {
                name: r.name.clone(),
                // Invariant: `catalog::load` refuses a case without a level, and the cases
                // built for `--target` all have one.
                level: pc.level.expect("every conformance case has a level"),
                verdict,
                detail,
                rationale: pc.rationale.clone().unwrap_or_default(),
                reference: pc.reference.clone().unwrap_or_default(),
                source: "prometheus",
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_and_exit_rule() {
        let r = |name: &str, level, verdict| CheckResult {
            name: name.into(),
            level,
            verdict,
            detail: String::new(),
            rationale: String::new(),
            reference: String::new(),
            source: "direct",
        };
        let mut report = ConformanceReport {
            subject: "x".into(),
            prometheus: "p".into(),
            prometheus_version: "v".into(),
            results: vec![
                r("a", Level::Must, Verdict::Pass),
                r("b", Level::Should, Verdict::Fail),
                r("c", Level::May, Verdict::NotApplicable),
            ],
        };
        assert!(
            !report.must_failed(),
            "a SHOULD failure does not fail the run"
        );
        assert_eq!(report.scores()[&Level::Should].fail, 1);
        report.results.push(r("d", Level::Must, Verdict::Fail));
        assert!(report.must_failed());
        let table = report.table();
        assert!(
            table.contains("MUST   1/2 passed, 1 failed, 0 not applicable"),
            "{table}"
        );
        assert!(report.junit().contains("<skipped"));
    }
}

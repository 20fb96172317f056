//! Reports of a conformance run: scores per level, the terminal table, JSON (serde) and
//! JUnit (through the one writer, [`crate::report::junit::render`]). Which levels fail the
//! run (exit code and JUnit `<failure>`) is set by [`FailOn`].

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use super::catalog::Level;
use super::profile::Profile;
use crate::report::junit;

/// The result of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckVerdict {
    /// Holds.
    Pass,
    /// Does not hold.
    Fail,
    /// The target did not answer within the deadline: no verdict on the property, and a
    /// failure of the run (a target that never answers is not conforming).
    Timeout,
    /// Does not apply to this exporter (detected, with the reason in `detail`).
    NotApplicable,
    /// Not run in this mode (e.g. needs a restart with another web-config), and why.
    NotTested,
}

impl CheckVerdict {
    /// Whether this verdict counts against the run (at a level [`FailOn`] covers).
    pub fn is_failure(self) -> bool {
        matches!(self, Self::Fail | Self::Timeout)
    }

    /// The word in the table.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pass => "PASS",
            Self::Fail => "FAIL",
            Self::Timeout => "TIMEOUT",
            Self::NotApplicable => "N/A",
            Self::NotTested => "NOT TESTED",
        }
    }
}

/// Which levels fail the run: `must` (default) fails on MUST only, `should` on MUST and
/// SHOULD, `may` on every level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FailOn {
    /// MUST failures only.
    #[default]
    Must,
    /// MUST and SHOULD failures.
    Should,
    /// Any failure.
    May,
}

impl std::str::FromStr for FailOn {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "must" => Ok(Self::Must),
            "should" => Ok(Self::Should),
            "may" => Ok(Self::May),
            other => Err(format!("`{other}`: use must, should or may")),
        }
    }
}

impl FailOn {
    /// Whether a failure at `level` fails the run.
    pub fn covers(self, level: Level) -> bool {
        match self {
            Self::Must => level == Level::Must,
            Self::Should => level != Level::May,
            Self::May => true,
        }
    }
}

/// One checked requirement.
#[derive(Debug, Clone, Serialize)]
pub struct CheckResult {
    /// Case name.
    pub name: String,
    /// Level.
    pub level: Level,
    /// The property checked, in words a client understands (`refused`, `served`, ...).
    pub property: String,
    /// CheckVerdict.
    pub verdict: CheckVerdict,
    /// One line: `expected: …; observed: …` on a failure, what was seen on a pass, why
    /// for N/A and NOT TESTED.
    pub detail: String,
    /// How the target refused or failed (`TLS alert "bad certificate"`, `HTTP 400`,
    /// `connection reset`), where it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mechanism: Option<String>,
    /// Prometheus' raw `lastError` (scrape cases).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// Scrapes Prometheus made (scrape cases).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scrapes: Option<u64>,
    /// Connections Prometheus' dialer opened for the case, where measured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connections: Option<u64>,
    /// Why the requirement exists.
    pub rationale: String,
    /// Where the behaviour is defined.
    pub reference: String,
    /// `prometheus` (verdict from a real Prometheus) or `direct`.
    pub source: &'static str,
}

impl CheckResult {
    /// A result with only the required fields; the measured ones are empty.
    pub fn new(
        name: impl Into<String>,
        level: Level,
        property: impl Into<String>,
        verdict: CheckVerdict,
        detail: impl Into<String>,
    ) -> Self {
        Self {
            name: name.into(),
            level,
            property: property.into(),
            verdict,
            detail: one_line(&detail.into()),
            mechanism: None,
            last_error: None,
            scrapes: None,
            connections: None,
            rationale: String::new(),
            reference: String::new(),
            source: "direct",
        }
    }
}

/// `text` on one clean line: newlines, tabs and runs of spaces become one space, literal
/// `\n` escapes from logs too.
pub fn one_line(text: &str) -> String {
    text.replace("\\n", " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// A whole conformance run.
#[derive(Debug, Clone, Serialize)]
pub struct ConformanceReport {
    /// What was tested (the command template or the target).
    pub subject: String,
    /// The profile the verdicts assume, and how it was chosen.
    pub profile: Profile,
    /// How the profile was chosen (`--profile`, or what was detected).
    pub profile_reason: String,
    /// What the target showed of its security posture (`--target`), one line each.
    pub posture: Vec<String>,
    /// The scrape timeout (and interval) of the Prometheus cases.
    pub scrape_timeout_s: f64,
    /// Which levels fail the run.
    pub fail_on: FailOn,
    /// Which Prometheus judged.
    pub prometheus: String,
    /// Its version and Go version.
    pub prometheus_version: String,
    /// Every check, catalog order then direct checks, then what was not tested.
    pub results: Vec<CheckResult>,
}

/// Counts of one level.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Score {
    /// Passed.
    pub pass: usize,
    /// Failed.
    pub fail: usize,
    /// Timed out.
    pub timeout: usize,
    /// Not applicable.
    pub not_applicable: usize,
    /// Not tested.
    pub not_tested: usize,
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
                CheckVerdict::Pass => s.pass += 1,
                CheckVerdict::Fail => s.fail += 1,
                CheckVerdict::Timeout => s.timeout += 1,
                CheckVerdict::NotApplicable => s.not_applicable += 1,
                CheckVerdict::NotTested => s.not_tested += 1,
            }
        }
        out
    }

    /// Whether a check failed at a level `fail_on` covers (the CLI then exits 1).
    pub fn failed(&self) -> bool {
        self.results
            .iter()
            .any(|r| r.verdict.is_failure() && self.fail_on.covers(r.level))
    }

    /// Whether a MUST failed.
    pub fn must_failed(&self) -> bool {
        self.results
            .iter()
            .any(|r| r.level == Level::Must && r.verdict.is_failure())
    }

    /// The verdict of a case by name.
    pub fn verdict(&self, name: &str) -> Option<CheckVerdict> {
        self.result(name).map(|r| r.verdict)
    }

    /// A case by name.
    pub fn result(&self, name: &str) -> Option<&CheckResult> {
        self.results.iter().find(|r| r.name == name)
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
            "{:<6}  {:<w$}  {:<10}  detail",
            "level", "case", "result"
        );
        let _ = writeln!(out, "{}", "-".repeat(w + 44));
        for r in &self.results {
            let _ = writeln!(
                out,
                "{:<6}  {:<w$}  {:<10}  {}",
                r.level.as_str(),
                r.name,
                r.verdict.as_str(),
                r.detail
            );
        }
        let _ = writeln!(out);
        let _ = writeln!(out, "subject: {}", self.subject);
        let _ = writeln!(
            out,
            "profile: {} ({})",
            self.profile.as_str(),
            self.profile_reason
        );
        for line in &self.posture {
            let _ = writeln!(out, "posture: {line}");
        }
        let _ = writeln!(
            out,
            "judged by: Prometheus {} — {} (scrape timeout {}s)",
            self.prometheus_version, self.prometheus, self.scrape_timeout_s
        );
        for (level, s) in self.scores() {
            let applicable = s.pass + s.fail + s.timeout;
            let _ = write!(
                out,
                "{:<6} {}/{} passed, {} failed",
                level.as_str(),
                s.pass,
                applicable,
                s.fail
            );
            if s.timeout > 0 {
                let _ = write!(out, ", {} timed out", s.timeout);
            }
            let _ = write!(out, ", {} not applicable", s.not_applicable);
            if s.not_tested > 0 {
                let _ = write!(out, ", {} not tested", s.not_tested);
            }
            let _ = writeln!(out);
        }
        let levels = match self.fail_on {
            FailOn::Must => "MUST",
            FailOn::Should => "MUST or SHOULD",
            FailOn::May => "any",
        };
        let _ = writeln!(
            out,
            "{}",
            if self.failed() {
                format!(
                    "result: a {levels} check failed (--fail-on {})",
                    self.fail_on_str()
                )
            } else {
                format!(
                    "result: every {levels} check holds (--fail-on {})",
                    self.fail_on_str()
                )
            }
        );
        out
    }

    fn fail_on_str(&self) -> &'static str {
        match self.fail_on {
            FailOn::Must => "must",
            FailOn::Should => "should",
            FailOn::May => "may",
        }
    }

    /// JUnit XML: one testcase per check (classname = level); `<failure>` only for failures
    /// at a level `fail_on` covers, so JUnit and the exit code agree. Other failures pass
    /// with their verdict in `system-out`; N/A and NOT TESTED are skipped.
    pub fn junit(&self) -> String {
        let cases = self
            .results
            .iter()
            .map(|r| {
                let failing = r.verdict.is_failure() && self.fail_on.covers(r.level);
                junit::TestCase {
                    classname: r.level.as_str().to_owned(),
                    name: r.name.clone(),
                    outcome: match r.verdict {
                        _ if failing => junit::CaseOutcome::Failed {
                            message: r.detail.clone(),
                            body: format!("{}\nreference: {}", r.rationale, r.reference),
                        },
                        CheckVerdict::NotApplicable | CheckVerdict::NotTested => {
                            junit::CaseOutcome::Skipped {
                                message: format!("{}: {}", r.verdict.as_str(), r.detail),
                            }
                        }
                        CheckVerdict::Pass | CheckVerdict::Fail | CheckVerdict::Timeout => {
                            junit::CaseOutcome::Passed
                        }
                    },
                    system_out: (r.verdict.is_failure() && !failing).then(|| {
                        format!(
                            "{} {} (not failing the run: --fail-on {}): {}",
                            r.level.as_str(),
                            r.verdict.as_str(),
                            self.fail_on_str(),
                            r.detail
                        )
                    }),
                }
            })
            .collect();
        junit::render(&[junit::Suite {
            properties: vec![
                ("subject".to_owned(), self.subject.clone()),
                ("profile".to_owned(), self.profile.as_str().to_owned()),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn report(results: Vec<CheckResult>, fail_on: FailOn) -> ConformanceReport {
        ConformanceReport {
            subject: "x".into(),
            profile: Profile::Toolkit,
            profile_reason: "test".into(),
            posture: Vec::new(),
            scrape_timeout_s: 2.0,
            fail_on,
            prometheus: "p".into(),
            prometheus_version: "v".into(),
            results,
        }
    }

    #[test]
    fn scores_exit_rule_and_junit_follow_fail_on() {
        let r = |name: &str, level, verdict| CheckResult::new(name, level, "p", verdict, "d");
        let mut rep = report(
            vec![
                r("a", Level::Must, CheckVerdict::Pass),
                r("b", Level::Should, CheckVerdict::Fail),
                r("c", Level::May, CheckVerdict::NotApplicable),
                r("e", Level::May, CheckVerdict::Fail),
            ],
            FailOn::Must,
        );
        assert!(
            !rep.failed(),
            "a SHOULD failure does not fail --fail-on must"
        );
        let junit = rep.junit();
        assert!(!junit.contains("<failure"), "{junit}");
        assert!(junit.contains("<skipped"), "{junit}");
        assert!(junit.contains("not failing the run"), "{junit}");
        rep.fail_on = FailOn::Should;
        assert!(rep.failed());
        assert_eq!(rep.junit().matches("<failure").count(), 1);
        rep.fail_on = FailOn::May;
        assert_eq!(rep.junit().matches("<failure").count(), 2);
        rep.fail_on = FailOn::Must;
        rep.results.push(r("d", Level::Must, CheckVerdict::Timeout));
        assert!(rep.failed() && rep.must_failed());
        let table = rep.table();
        assert!(
            table.contains("MUST   1/2 passed, 0 failed, 1 timed out, 0 not applicable"),
            "{table}"
        );
        assert!(table.contains("result: a MUST check failed"), "{table}");
    }

    #[test]
    fn details_are_one_clean_line() {
        assert_eq!(
            one_line("level=error msg=\"x\"\\n  ts=1\n\tnext   word"),
            "level=error msg=\"x\" ts=1 next word"
        );
    }
}

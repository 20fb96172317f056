//! The one JUnit XML writer of the harness (scenario runs and conformance both use it):
//! test suites of test cases, each passed, failed or skipped, with an optional
//! `<system-out>` and optional suite properties. Every text goes through
//! `report::xml_escape`.

use std::fmt::Write as _;

use super::xml_escape as esc;

/// One `<testsuite>`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Suite {
    /// `name` attribute.
    pub name: String,
    /// `time` attribute in seconds, when measured.
    pub time_s: Option<f64>,
    /// `<properties>`, in order; none writes no element.
    pub properties: Vec<(String, String)>,
    /// The cases.
    pub cases: Vec<TestCase>,
}

/// One `<testcase>`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TestCase {
    /// `classname` attribute (a file, a level, ...).
    pub classname: String,
    /// `name` attribute.
    pub name: String,
    /// Passed, failed or skipped.
    pub outcome: CaseOutcome,
    /// `<system-out>` text, when there is any.
    pub system_out: Option<String>,
}

/// How a case ended.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum CaseOutcome {
    /// No child element.
    #[default]
    Passed,
    /// `<failure message="..">body</failure>`.
    Failed {
        /// One line.
        message: String,
        /// The whole story.
        body: String,
    },
    /// `<skipped message=".."/>`.
    Skipped {
        /// Why.
        message: String,
    },
}

impl Suite {
    /// A suite without time or properties.
    pub fn new(name: impl Into<String>, cases: Vec<TestCase>) -> Self {
        Self {
            name: name.into(),
            cases,
            ..Self::default()
        }
    }

    fn count(&self, pick: impl Fn(&CaseOutcome) -> bool) -> usize {
        self.cases.iter().filter(|c| pick(&c.outcome)).count()
    }
}

/// The XML document: `<testsuites>` holding every suite.
pub fn render(suites: &[Suite]) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>");
    for suite in suites {
        let failures = suite.count(|o| matches!(o, CaseOutcome::Failed { .. }));
        let skipped = suite.count(|o| matches!(o, CaseOutcome::Skipped { .. }));
        let _ = write!(
            out,
            "<testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\"",
            esc(&suite.name),
            suite.cases.len()
        );
        if let Some(t) = suite.time_s {
            let _ = write!(out, " time=\"{t:.3}\"");
        }
        out.push_str(">\n");
        if !suite.properties.is_empty() {
            out.push_str("  <properties>\n");
            for (k, v) in &suite.properties {
                let _ = writeln!(
                    out,
                    "    <property name=\"{}\" value=\"{}\"/>",
                    esc(k),
                    esc(v)
                );
            }
            out.push_str("  </properties>\n");
        }
        for case in &suite.cases {
            let _ = write!(
                out,
                "  <testcase classname=\"{}\" name=\"{}\">",
                esc(&case.classname),
                esc(&case.name)
            );
            match &case.outcome {
                CaseOutcome::Passed => {}
                CaseOutcome::Failed { message, body } => {
                    let _ = write!(
                        out,
                        "<failure message=\"{}\">{}</failure>",
                        esc(message),
                        esc(body)
                    );
                }
                CaseOutcome::Skipped { message } => {
                    let _ = write!(out, "<skipped message=\"{}\"/>", esc(message));
                }
            }
            if let Some(text) = &case.system_out {
                let _ = write!(out, "<system-out>{}</system-out>", esc(text));
            }
            out.push_str("</testcase>\n");
        }
        out.push_str("</testsuite>");
    }
    out.push_str("</testsuites>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_escapes_and_optional_parts() {
        let suite = Suite {
            name: "a<b".into(),
            time_s: Some(1.5),
            properties: vec![("prometheus".into(), "2.42 \"ds\"".into())],
            cases: vec![
                TestCase {
                    classname: "MUST".into(),
                    name: "ok".into(),
                    ..TestCase::default()
                },
                TestCase {
                    classname: "MUST".into(),
                    name: "bad".into(),
                    outcome: CaseOutcome::Failed {
                        message: "expected up & running".into(),
                        body: "line 1\nline <2>".into(),
                    },
                    system_out: Some("health=down".into()),
                },
                TestCase {
                    classname: "MAY".into(),
                    name: "na".into(),
                    outcome: CaseOutcome::Skipped {
                        message: "no openssl".into(),
                    },
                    system_out: None,
                },
            ],
        };
        let xml = render(&[suite]);
        assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites><testsuite name=\"a&lt;b\" tests=\"3\" failures=\"1\" errors=\"0\" skipped=\"1\" time=\"1.500\">"), "{xml}");
        assert!(xml.contains("<property name=\"prometheus\" value=\"2.42 &quot;ds&quot;\"/>"));
        assert!(xml.contains("<testcase classname=\"MUST\" name=\"ok\"></testcase>"));
        assert!(xml.contains(
            "<failure message=\"expected up &amp; running\">line 1\nline &lt;2&gt;</failure><system-out>health=down</system-out></testcase>"
        ));
        assert!(xml.contains("<skipped message=\"no openssl\"/></testcase>"));
        assert!(xml.ends_with("</testsuite></testsuites>\n"));
    }

    #[test]
    fn no_properties_no_element() {
        let xml = render(&[Suite::new("s", Vec::new())]);
        assert!(!xml.contains("<properties>"), "{xml}");
        assert!(xml.contains("tests=\"0\" failures=\"0\""), "{xml}");
    }
}

//! The explain page of a `scrape-harness run`: every judged scrape case as a target, its
//! observed class explained by the same diagnosis (cause, keys, fix). A run's cases carry
//! no job of their own here, so there is no check command and no configuration risk.

use std::path::Path;

use super::{Explanation, TargetExplanation};
use crate::classify::ErrorClass;
use crate::lab::diagnose::{self, ServerView};
use crate::promconfig::ScrapeConfig;
use crate::runner::RunReport;
use crate::targets::Health;

/// One target per scrape case that was observed (job: the case, instance: its file).
pub fn from_run(report: &RunReport) -> Explanation {
    let job = ScrapeConfig::default();
    let server = ServerView {
        file: "the exporter's web config".into(),
        cert_file: Some("<cert_file>".into()),
        ..ServerView::default()
    };
    let targets = report
        .cases
        .iter()
        .filter_map(|c| {
            let observed = c.observed.as_ref()?;
            let subject = format!("{}/{}", c.file, c.name);
            let (cause, keys, fix) = if observed.health == Health::Up {
                (String::new(), Vec::new(), String::new())
            } else {
                let class = if observed.health == Health::Missing {
                    ErrorClass::JobMissing
                } else {
                    observed.class
                };
                let finding = diagnose::explain_down(
                    &subject,
                    &c.last_error,
                    class,
                    &job,
                    &server,
                    Path::new("/"),
                );
                (
                    finding.cause,
                    diagnose::keys(class)
                        .iter()
                        .map(|k| (*k).to_owned())
                        .collect(),
                    super::fix(class, &finding.look_at),
                )
            };
            Some(TargetExplanation {
                job: c.name.clone(),
                instance: c.file.clone(),
                scrape_url: String::new(),
                health: observed.health,
                class: observed.class.to_string(),
                cause,
                keys,
                evidence: if c.significant_error.is_empty() {
                    c.last_error.clone()
                } else {
                    c.significant_error.clone()
                },
                check: String::new(),
                fix,
                risks: Vec::new(),
            })
        })
        .collect();
    Explanation {
        prometheus: format!("scrape-harness run ({})", report.prometheus),
        version: report.prometheus_version.clone(),
        targets,
    }
}

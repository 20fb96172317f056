//! What the judge of one scrape case reads, as a value: recorded from real runs
//! (`RunOptions::record_observations`) and replayed in tests, so that verdict logic is
//! tested without starting Prometheus.

use std::collections::BTreeMap;
use std::path::Path;

use fake_exporter::StatsSnapshot;
use serde::{Deserialize, Serialize};

use super::{external::HttpVersionUnobserved, RunError};
use crate::observations::TargetObservation;
use crate::scenario::HttpVersion;

/// Everything the judge of one scrape case reads.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CaseObservation {
    /// Prometheus' verdict on the case's target (`None`: the job never showed up).
    pub verdict: Option<TargetObservation>,
    /// The exporter's counters.
    pub exporter: ExporterCounters,
    /// What Prometheus counted for the case's job.
    pub prometheus: PrometheusSide,
}

/// An exporter's counters after the run, and when its target was first seen up.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ExporterCounters {
    /// At the end (scrapes stopped).
    pub last: StatsSnapshot,
    /// When the target was first seen up (steady state starts there).
    pub steady: Option<StatsSnapshot>,
    /// For an exporter under test (no counters of ours): the HTTP version Prometheus'
    /// scrapes used, as `external::scrape_http_versions` observed it, or why it could not
    /// (JSON as before: `{"Ok": "HTTP/2"}`, `{"Err": "<why>"}`).
    #[serde(default)]
    pub http_version: Option<Result<HttpVersion, HttpVersionUnobserved>>,
}

/// What Prometheus counted for a case's job.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrometheusSide {
    /// Connections its dialer established (`net_conntrack_dialer_conn_established_total`).
    pub dialed: Option<u64>,
    /// Dials it gave up on (a timeout, a cancelled scrape), refused ones left out: the
    /// kernel may have completed each, so the exporter may have accepted each.
    pub failed_dials: u64,
    /// Scrapes that failed (`up` 0), each one a connection Prometheus may have dropped.
    pub failed_scrapes: u64,
}

/// A case judged at its exporter's start: not applicable, not started, or a web-config
/// the exporter was expected to refuse.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotScraped {
    /// Why it was not scraped.
    pub skipped: Option<super::Skipped>,
    /// What the start did, for a case about the start.
    pub start: Option<super::StartObserved>,
}

/// A whole run's observations, by case name.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RecordedRun {
    /// The Prometheus version that ran.
    pub prometheus_version: String,
    /// Its major version (expectations may differ per major).
    pub prometheus_major: u32,
    /// Whether the exporters were under test (`--exec`), not fake ones.
    pub external: bool,
    /// Scrape pools Prometheus failed to create (jobs it dropped).
    pub scrape_pools_failed: f64,
    /// Per case.
    pub cases: BTreeMap<String, CaseObservation>,
    /// Per case judged at its exporter's start, not by a scrape: why it was not scraped,
    /// and what the start did.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub not_scraped: BTreeMap<String, NotScraped>,
    /// Per receiver case: what its judge read.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub receivers: BTreeMap<String, crate::receivers::Observed>,
    /// Per rotation case: what its judge read.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub rotations: BTreeMap<String, crate::rotation::RotationObservation>,
}

impl RecordedRun {
    /// Writes the recording as pretty JSON.
    pub(super) fn write(&self, path: &Path) -> Result<(), RunError> {
        // Invariant: plain data (strings, numbers, maps); serde_json cannot fail on it.
        let json = serde_json::to_string_pretty(self).expect("a recording always serialises");
        std::fs::write(path, json).map_err(|source| RunError::Setup {
            what: "writing the recorded observations to",
            path: path.to_owned(),
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::ErrorClass;
    use crate::runner::judge_recorded;
    use crate::scenario::{Case, Plan};
    use crate::targets::Health;

    /// Observations recorded from a real run of the default matrix (Prometheus 2.42, fake
    /// exporters; `cargo run -p scrape-harness --example record_observations -- FILE`).
    fn recorded() -> RecordedRun {
        serde_json::from_str(include_str!(
            "../../tests/fixtures/observations/default-matrix.json"
        ))
        .expect("the recording parses")
    }

    fn case<'a>(plan: &'a Plan, name: &str) -> &'a Case {
        plan.cases
            .iter()
            .find(|c| c.name == name)
            .unwrap_or_else(|| panic!("no case {name}"))
    }

    #[test]
    fn the_recording_loads_unchanged_and_an_observed_http_version_keeps_its_json() {
        // The stored recording parses, and writes back as what it parsed.
        let run = recorded();
        let again: RecordedRun =
            serde_json::from_str(&serde_json::to_string(&run).expect("serialises"))
                .expect("parses back");
        assert_eq!(again, run);
        // R8 of an exporter under test, as recordings hold it (a `Result<String, String>`).
        for json in [
            r#"{"Ok":"HTTP/2"}"#,
            r#"{"Ok":"HTTP/1.1"}"#,
            r#"{"Err":"TLS handshake with 127.0.0.1:1: refused"}"#,
        ] {
            let observed: Result<HttpVersion, HttpVersionUnobserved> =
                serde_json::from_str(json).unwrap_or_else(|e| panic!("{json}: {e}"));
            assert_eq!(serde_json::to_string(&observed).expect("serialises"), json);
        }
        let typed: Result<HttpVersion, HttpVersionUnobserved> =
            Err(HttpVersionUnobserved::ThroughProxy);
        assert_eq!(
            serde_json::to_string(&typed).expect("serialises"),
            r#"{"Err":"scraped through a proxy: the exporter's ALPN choice is not the scrape's"}"#
        );
        let mut json = serde_json::to_value(ExporterCounters::default()).expect("serialises");
        json["http_version"] = serde_json::json!({"Ok": "HTTP/2"});
        let counters: ExporterCounters =
            serde_json::from_value(json).expect("counters with an observed version");
        assert_eq!(counters.http_version, Some(Ok(HttpVersion::Http2)));
    }

    #[test]
    fn every_default_matrix_case_passes_on_the_observations_recorded_from_a_real_run() {
        let run = recorded();
        let plan = Plan::load(&[]).expect("the default matrix");
        let mut judged_cases = 0;
        for case in &plan.cases {
            let Some(observation) = run.cases.get(&case.name) else {
                panic!("case {} was not recorded", case.name);
            };
            let result = judge_recorded(case, &run, observation);
            assert!(result.pass, "{}: {:?}", case.name, result.failures);
            judged_cases += 1;
        }
        assert_eq!(judged_cases, 72, "the default matrix has 72 cases");
        assert_eq!(run.cases.len(), 72);
    }

    #[test]
    fn a_wrong_class_fails_its_case_even_beside_a_timed_out_scrape() {
        let mut run = recorded();
        let plan = Plan::load(&[]).expect("the default matrix");
        let case = case(&plan, "tls-wrong-ca");
        let observation = run.cases.get_mut("tls-wrong-ca").expect("recorded");
        let verdict = observation.verdict.as_mut().expect("scraped");
        assert_eq!(verdict.class, ErrorClass::UnknownAuthority, "as recorded");
        verdict.class = ErrorClass::HostnameMismatch;
        // A timed-out scrape beside the wrong class: load never excuses a wrong class.
        verdict.steady_state.push(crate::observations::SeenOutcome {
            health: Health::Down,
            class: ErrorClass::Timeout,
            scrapes: 1,
        });
        let result = judge_recorded(case, &run, &run.cases["tls-wrong-ca"]);
        assert!(!result.pass);
        assert!(
            !result.load_suspect,
            "a wrong class is never a load suspect"
        );
        assert!(
            result
                .failures
                .iter()
                .any(|f| f.starts_with("error class: expected unknown_authority")),
            "{:?}",
            result.failures
        );
    }

    #[test]
    fn a_refused_case_observed_up_fails_on_health() {
        let mut run = recorded();
        let plan = Plan::load(&[]).expect("the default matrix");
        let case = case(&plan, "tls-wrong-ca");
        let observation = run.cases.get_mut("tls-wrong-ca").expect("recorded");
        let verdict = observation.verdict.as_mut().expect("scraped");
        verdict.health = Health::Up;
        verdict.class = ErrorClass::None;
        let result = judge_recorded(case, &run, &run.cases["tls-wrong-ca"]);
        assert!(
            result
                .failures
                .iter()
                .any(|f| f == "health: expected down, observed up"),
            "{:?}",
            result.failures
        );
    }

    #[test]
    fn a_new_connection_after_the_first_successful_scrape_fails_keep_alive() {
        let mut run = recorded();
        let plan = Plan::load(&[]).expect("the default matrix");
        let case = case(&plan, "tls-ok");
        let observation = run.cases.get_mut("tls-ok").expect("recorded");
        observation.exporter.last.connections_accepted += 1;
        observation.exporter.last.handshakes_ok += 1;
        let result = judge_recorded(case, &run, &run.cases["tls-ok"]);
        assert!(
            result.failures.iter().any(|f| f.starts_with("keep-alive")),
            "{:?}",
            result.failures
        );
    }

    #[test]
    fn scrapes_over_another_http_version_fail_the_case_that_names_one() {
        let mut run = recorded();
        let plan = Plan::load(&[]).expect("the default matrix");
        let case = case(&plan, "tls-ok");
        let observation = run.cases.get_mut("tls-ok").expect("recorded");
        for request in &mut observation.exporter.last.requests {
            request.http_version = "HTTP/1.1".to_owned();
        }
        let result = judge_recorded(case, &run, &run.cases["tls-ok"]);
        assert!(
            result
                .failures
                .iter()
                .any(|f| f.starts_with("HTTP version: expected every scrape over HTTP/2")),
            "{:?}",
            result.failures
        );
    }

    #[test]
    fn a_job_that_never_showed_up_is_not_called_dropped_without_prometheus_saying_so() {
        let mut run = recorded();
        let plan = Plan::load(&[]).expect("the default matrix");
        let case = case(&plan, "tls-ok");
        run.cases.get_mut("tls-ok").expect("recorded").verdict = Some(
            crate::observations::TargetObservation::missing("tls-ok", String::new()),
        );
        run.scrape_pools_failed = 0.0;
        let result = judge_recorded(case, &run, &run.cases["tls-ok"]);
        assert!(!result.pass);
        assert!(
            result
                .failures
                .iter()
                .any(|f| f.contains("prometheus_target_scrape_pools_failed_total is 0")),
            "{:?}",
            result.failures
        );
    }
}

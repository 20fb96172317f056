//! The conformance judge replayed on what a real `--exec` run of Debian's node_exporter
//! recorded (`examples/record_observations.rs --exec ...`): the Prometheus-judged rows come
//! out as in that run, and a mutated observation turns the row it feeds into a failure.

use std::collections::BTreeMap;

use super::{catalog, CheckResult, CheckVerdict, ConformanceOptions, Level, Profile};
use crate::classify::ErrorClass;
use crate::runner::{self, RecordedRun};
use crate::scenario::Plan;
use crate::targets::Health;

fn recorded() -> RecordedRun {
    serde_json::from_str(include_str!(
        "../../tests/fixtures/observations/conformance-node-exporter.json"
    ))
    .expect("the recording parses")
}

fn catalog_plan() -> Plan {
    catalog::load(&ConformanceOptions::default()).expect("the embedded catalog")
}

/// Every Prometheus-judged row of `plan` on `run`, as `conformance --exec` makes them.
fn rows(plan: &Plan, run: &RecordedRun) -> Vec<CheckResult> {
    let results: Vec<_> = plan
        .cases
        .iter()
        .map(|case| {
            runner::replay(case, run)
                .unwrap_or_else(|| panic!("case {} was not recorded", case.name))
        })
        .collect();
    super::judge_results(&results, plan, Profile::Toolkit)
}

/// `(level, verdict)` → number of rows.
fn counts(rows: &[CheckResult]) -> BTreeMap<(Level, &'static str), usize> {
    let mut out = BTreeMap::new();
    for r in rows {
        *out.entry((r.level, r.verdict.as_str())).or_default() += 1;
    }
    out
}

fn failed(rows: &[CheckResult]) -> Vec<&str> {
    rows.iter()
        .filter(|r| r.verdict.is_failure())
        .map(|r| r.name.as_str())
        .collect()
}

#[test]
fn node_exporters_recorded_run_gives_the_rows_of_the_real_run() {
    let rows = rows(&catalog_plan(), &recorded());
    // As the real run printed them (its direct-* rows aside): MUST 39 PASS + 3 N/A,
    // SHOULD 5 PASS, MAY 2 PASS + 2 N/A (docs/conformance.md cites the totals).
    let want: BTreeMap<(Level, &str), usize> = [
        ((Level::Must, "PASS"), 39),
        ((Level::Must, "N/A"), 3),
        ((Level::Should, "PASS"), 5),
        ((Level::May, "PASS"), 2),
        ((Level::May, "N/A"), 2),
    ]
    .into();
    assert_eq!(counts(&rows), want);
    let not_applicable: Vec<&str> = rows
        .iter()
        .filter(|r| r.verdict == CheckVerdict::NotApplicable)
        .map(|r| r.name.as_str())
        .collect();
    assert_eq!(
        not_applicable,
        [
            "allowed-sans-match",
            "allowed-sans-mismatch",
            "allowed-sans-mismatch/mechanism",
            "allowed-sans-optional-cert-absent",
            "allowed-sans-optional-cert-absent/mechanism",
        ]
    );
}

#[test]
fn a_mutated_observation_fails_the_row_it_feeds() {
    let plan = catalog_plan();
    let run = recorded();
    let mut served = 0;
    let mut refused = 0;
    for case in &plan.cases {
        let Some(seen) = run.cases.get(&case.name) else {
            continue; // judged at the start (not applicable here)
        };
        let Some(verdict) = &seen.verdict else {
            continue;
        };
        let mut mutated = run.clone();
        let target = mutated
            .cases
            .get_mut(&case.name)
            .and_then(|c| c.verdict.as_mut())
            .expect("recorded above");
        if verdict.health == Health::Up {
            // A served case whose target was refused instead.
            target.health = Health::Down;
            target.class = ErrorClass::Unauthorized;
            for s in target.steady_state.iter_mut().chain(&mut target.first_seen) {
                s.health = Health::Down;
                s.class = ErrorClass::Unauthorized;
            }
            served += 1;
        } else {
            // A refused case whose target was served: a security failure.
            target.health = Health::Up;
            target.class = ErrorClass::None;
            target.last_error.clear();
            for s in target.steady_state.iter_mut().chain(&mut target.first_seen) {
                s.health = Health::Up;
                s.class = ErrorClass::None;
            }
            refused += 1;
        }
        let rows = rows(&plan, &mutated);
        let failed = failed(&rows);
        assert!(
            failed.iter().any(|f| *f == case.name),
            "{}: mutated from {:?}, failed rows {failed:?}",
            case.name,
            verdict.health
        );
    }
    assert_eq!(
        (served, refused),
        (14, 18),
        "cases mutated: served, refused"
    );
}

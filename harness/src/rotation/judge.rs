//! The rotation judge: a pure function of a case and what was observed of it
//! ([`RotationObservation`]), so that its rules are tested without Prometheus.

use std::collections::BTreeSet;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use super::{NewSeen, RotationCase, RotationOutcome, ScrapeSeen};
use crate::classify::ErrorClass;
use crate::observations::TargetObservation;
use crate::targets::Health;

/// Everything the judge of a rotation case reads.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RotationObservation {
    /// When each step was applied.
    pub marks: Vec<SystemTime>,
    /// Why the timeline did not complete, if it did not.
    pub timeline_error: Option<String>,
    /// The first step that changed the watched identity, with its value before and after
    /// (a certificate serial or a credential fingerprint).
    pub change: Option<IdentityChange>,
    /// Every `/metrics` request the exporter answered, in order.
    pub scrapes: Vec<ExporterScrape>,
    /// Prometheus' `up` from the first step on: scrapes and failed ones; `None` without
    /// steps.
    pub window: Option<WindowCounts>,
    /// Why `up` over the window could not be read.
    pub window_error: Option<String>,
    /// Prometheus' verdict on the case's target at the end.
    pub verdict: Option<TargetObservation>,
    /// A direct request with the old credential or client certificate, when the case
    /// expects it refused.
    pub old_probe: Option<OldProbe>,
}

/// The watched identity before and after the step that changed it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentityChange {
    /// The step (0-based).
    pub step: usize,
    /// The value before it.
    pub old: Option<String>,
    /// The value after it.
    pub new: Option<String>,
}

/// One `/metrics` request as the exporter saw it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExporterScrape {
    /// When it arrived.
    pub at: SystemTime,
    /// Connection id.
    pub connection: u64,
    /// Requests answered on the connection before it.
    pub request_on_connection: u64,
    /// The status answered.
    pub status: u16,
    /// The watched identity it carried (serial or fingerprint).
    pub identity: Option<String>,
    /// Serial of the server certificate presented.
    pub server_cert_serial: Option<String>,
    /// Serial of the client certificate Prometheus presented.
    pub client_cert_serial: Option<String>,
}

/// Prometheus' `up` over a window.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowCounts {
    /// Scrapes.
    pub scrapes: u64,
    /// Failed ones (`up == 0`).
    pub failed: u64,
}

/// What a direct request with the old credential got.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OldProbe {
    /// Whether the exporter served it.
    pub accepted: bool,
    /// What it answered, in words.
    pub text: String,
}

/// Judges `case` on `o`.
pub fn judge(case: &RotationCase, o: &RotationObservation) -> RotationOutcome {
    let mut failures = Vec::new();
    if let Some(e) = &o.timeline_error {
        failures.push(format!("the timeline did not complete: {e}"));
    }
    let scrapes = scrape_rows(o);
    let (new_seen_at, stayed) = judge_change(case, o, &mut failures);
    let window = judge_window(case, o, &mut failures);
    let (health, class, last_error) = judge_end(case, o.verdict.as_ref(), &mut failures);
    if let (Some(probe), Some(w)) = (&o.old_probe, case.rotation.watch) {
        if probe.accepted {
            failures.push(format!(
                "expected the old {} to be refused after the rotation; a direct request with it got {}",
                w.name(),
                probe.text
            ));
        }
    }
    RotationOutcome {
        name: case.name.clone(),
        passed: failures.is_empty(),
        failures,
        watched: case.rotation.watch.map(|w| w.name()),
        scrapes,
        new_seen_at,
        stayed_on_old_connection: stayed,
        window_scrapes: window.scrapes,
        failed_scrapes: window.failed,
        health,
        class,
        last_error,
        old_probe: o.old_probe.as_ref().map(|p| p.text.clone()),
        prometheus_connections: None,
        exporter_connections: o
            .scrapes
            .iter()
            .map(|s| s.connection)
            .collect::<BTreeSet<_>>()
            .len() as u64,
    }
}

/// `new`, `old`, `none` or `other`: the watched identity a scrape carried.
fn label(o: &RotationObservation, s: &ExporterScrape) -> &'static str {
    let Some(change) = &o.change else {
        return "-";
    };
    match &s.identity {
        None => "none",
        Some(v) if Some(v) == change.new.as_ref() => "new",
        Some(v) if Some(v) == change.old.as_ref() => "old",
        Some(_) => "other",
    }
}

fn scrape_rows(o: &RotationObservation) -> Vec<ScrapeSeen> {
    o.scrapes
        .iter()
        .map(|s| ScrapeSeen {
            after_step: o.marks.iter().filter(|&&m| m <= s.at).count(),
            connection: s.connection,
            reused: s.request_on_connection > 0,
            status: s.status,
            watched: label(o, s),
            server_cert_serial: s.server_cert_serial.clone(),
            client_cert_serial: s.client_cert_serial.clone(),
        })
        .collect()
}

/// When the new identity was first seen after the step that changed it, and whether the
/// scrapes after it stayed on the connection open before it.
fn judge_change(
    case: &RotationCase,
    o: &RotationObservation,
    failures: &mut Vec<String>,
) -> (Option<u64>, Option<bool>) {
    let expect = &case.rotation;
    let (Some(w), Some(change)) = (expect.watch, &o.change) else {
        return (None, None);
    };
    let Some(&at) = o.marks.get(change.step) else {
        return (None, None);
    };
    let step = change.step + 1;
    let (pre, post): (Vec<&ExporterScrape>, Vec<&ExporterScrape>) =
        o.scrapes.iter().partition(|s| s.at < at);
    let new_seen_at = post
        .iter()
        .position(|s| label(o, s) == "new")
        .map(|i| i as u64 + 1);
    let stayed = pre
        .last()
        .map(|last| post.iter().all(|s| s.connection == last.connection));
    match expect.new_seen {
        Some(NewSeen::Within(n)) if new_seen_at.is_none_or(|at| at > n) => failures.push(format!(
            "expected the exporter to see the new {} within {n} scrape(s) after step {step}; saw it at {} ({} scrapes after the step)",
            w.name(),
            new_seen_at.map_or("none of them".to_owned(), |a| format!("scrape {a}")),
            post.len()
        )),
        Some(NewSeen::Never) if new_seen_at.is_some() || post.is_empty() => failures.push(format!(
            "expected the old {} to stay on every scrape after step {step} (none after it: {}); the new one showed at scrape {new_seen_at:?}",
            w.name(),
            post.is_empty(),
        )),
        _ => {}
    }
    if let Some(same) = expect.same_connection {
        if stayed != Some(same) {
            failures.push(format!(
                "expected the scrapes after step {step} {} the connection open before it; they {} (connections before: {:?}, after: {:?})",
                if same { "to stay on" } else { "to leave" },
                if stayed == Some(true) { "stayed" } else { "did not all stay" },
                pre.iter().map(|s| s.connection).collect::<BTreeSet<_>>(),
                post.iter().map(|s| s.connection).collect::<BTreeSet<_>>(),
            ));
        }
    }
    (new_seen_at, stayed)
}

/// Failed scrapes from the first step on, from Prometheus' own `up` series.
fn judge_window(
    case: &RotationCase,
    o: &RotationObservation,
    failures: &mut Vec<String>,
) -> WindowCounts {
    if let Some(e) = &o.window_error {
        failures.push(format!("querying `up` over the window: {e}"));
    }
    let Some(window) = o.window else {
        return WindowCounts::default();
    };
    if let Some(bound) = case.rotation.failed_scrapes {
        if !bound.holds(window.failed) {
            failures.push(format!(
                "expected {bound} failed scrape(s) from the first step on; Prometheus' `up` shows {} of {}",
                window.failed, window.scrapes
            ));
        }
    }
    window
}

/// The final health and class against the case's expectation.
fn judge_end(
    case: &RotationCase,
    verdict: Option<&TargetObservation>,
    failures: &mut Vec<String>,
) -> (Health, String, String) {
    let (health, class, last_error) = match verdict {
        Some(v) => (v.health, v.class.to_string(), v.last_error.clone()),
        None => (
            Health::Missing,
            ErrorClass::JobMissing.to_string(),
            String::new(),
        ),
    };
    if health != case.health {
        failures.push(format!(
            "expected health {} at the end; it is {health} (lastError `{last_error}`)",
            case.health
        ));
    } else if health == Health::Down && !case.errors.contains(&class) {
        failures.push(format!(
            "expected lastError class {}; it is {class} (`{last_error}`)",
            case.errors.join(" or ")
        ));
    }
    (health, class, last_error)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::rotation::{parse, RotationPlan};

    fn plan() -> RotationPlan {
        parse(
            "scenarios/rotation.yaml",
            include_str!("../../../scenarios/rotation.yaml"),
        )
        .expect("the shipped rotation file parses")
    }

    fn case<'a>(plan: &'a RotationPlan, name: &str) -> &'a RotationCase {
        plan.cases
            .iter()
            .find(|c| c.name == name)
            .unwrap_or_else(|| panic!("no case {name}"))
    }

    fn at(s: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000 + s)
    }

    fn scrape(s: u64, connection: u64, identity: &str) -> ExporterScrape {
        ExporterScrape {
            at: at(s),
            connection,
            request_on_connection: s,
            status: 200,
            identity: Some(identity.to_owned()),
            server_cert_serial: Some(identity.to_owned()),
            client_cert_serial: None,
        }
    }

    /// A server certificate renewed at second 10: four scrapes before it on connection 1,
    /// four after it on `after_connection`, carrying `after_identity`.
    fn renewal(after_connection: u64, after_identity: &str) -> RotationObservation {
        let mut scrapes: Vec<ExporterScrape> = (6..10).map(|s| scrape(s, 1, "aa")).collect();
        scrapes.extend((11..15).map(|s| scrape(s, after_connection, after_identity)));
        RotationObservation {
            marks: vec![at(10)],
            change: Some(IdentityChange {
                step: 0,
                old: Some("aa".into()),
                new: Some("bb".into()),
            }),
            scrapes,
            window: Some(WindowCounts {
                scrapes: 5,
                failed: 0,
            }),
            verdict: Some(TargetObservation {
                health: Health::Up,
                ..TargetObservation::default()
            }),
            ..RotationObservation::default()
        }
    }

    #[test]
    fn a_renewal_with_a_reconnect_passes_when_the_next_scrape_sees_the_new_serial() {
        let plan = plan();
        let case = case(&plan, "server-cert-reissued-reconnect");
        let outcome = judge(case, &renewal(2, "bb"));
        assert!(outcome.passed, "{:?}", outcome.failures);
        assert_eq!(outcome.new_seen_at, Some(1));
        assert_eq!(outcome.stayed_on_old_connection, Some(false));
        assert_eq!(outcome.exporter_connections, 2);
        assert_eq!(outcome.scrapes[4].after_step, 1);
        assert_eq!(outcome.scrapes[4].watched, "new");
    }

    #[test]
    fn the_old_serial_on_the_kept_connection_fails_the_reconnect_case_and_passes_the_kept_one() {
        let plan = plan();
        let kept = renewal(1, "aa");
        let reconnect = judge(case(&plan, "server-cert-reissued-reconnect"), &kept);
        assert!(!reconnect.passed);
        assert!(
            reconnect
                .failures
                .iter()
                .any(|f| f.contains("within 1 scrape(s)")),
            "{:?}",
            reconnect.failures
        );
        assert!(
            reconnect.failures.iter().any(|f| f.contains("to leave")),
            "{:?}",
            reconnect.failures
        );
        let kept_alive = judge(case(&plan, "server-cert-reissued-kept-alive"), &kept);
        assert!(kept_alive.passed, "{:?}", kept_alive.failures);
        let renewed = judge(
            case(&plan, "server-cert-reissued-kept-alive"),
            &renewal(1, "bb"),
        );
        assert!(
            !renewed.passed,
            "the new serial showed on the kept connection"
        );
    }

    #[test]
    fn failed_scrapes_in_the_window_and_a_wrong_end_fail_the_case() {
        let plan = plan();
        let case = case(&plan, "server-cert-reissued-reconnect");
        let mut o = renewal(2, "bb");
        o.window = Some(WindowCounts {
            scrapes: 5,
            failed: 2,
        });
        o.verdict = Some(TargetObservation {
            health: Health::Down,
            class: ErrorClass::UnknownAuthority,
            ..TargetObservation::default()
        });
        o.timeline_error = Some("not scraped 9 times".into());
        let outcome = judge(case, &o);
        let failures = outcome.failures.join("\n");
        assert!(
            failures.contains("the timeline did not complete"),
            "{failures}"
        );
        assert!(failures.contains("shows 2 of 5"), "{failures}");
        assert!(
            failures.contains("expected health up at the end"),
            "{failures}"
        );
    }

    #[test]
    fn an_old_credential_still_served_fails_a_case_that_expects_it_refused() {
        let plan = plan();
        let case = plan
            .cases
            .iter()
            .find(|c| c.rotation.old_refused_after)
            .expect("a case expects the old credential refused");
        let o = RotationObservation {
            old_probe: Some(OldProbe {
                accepted: true,
                text: "HTTP 200".into(),
            }),
            ..RotationObservation::default()
        };
        let outcome = judge(case, &o);
        assert!(
            outcome
                .failures
                .iter()
                .any(|f| f.contains("to be refused after the rotation") && f.contains("HTTP 200")),
            "{:?}",
            outcome.failures
        );
    }

    /// What a real run of scenarios/receivers.yaml and scenarios/rotation.yaml in one
    /// Prometheus recorded (`examples/record_observations.rs`).
    fn recorded() -> crate::runner::RecordedRun {
        serde_json::from_str(include_str!(
            "../../tests/fixtures/observations/receivers-rotation.json"
        ))
        .expect("the recording parses")
    }

    #[test]
    fn every_shipped_case_passes_on_its_recorded_observation_and_fails_when_it_is_mutated() {
        let (plan, recorded) = (plan(), recorded());
        assert_eq!(recorded.rotations.len(), plan.cases.len(), "one per case");
        let mut mutations = 0;
        for case in &plan.cases {
            let seen = &recorded.rotations[&case.name];
            let outcome = judge(case, seen);
            assert!(outcome.passed, "{}: {:?}", case.name, outcome.failures);

            // The timeline did not complete: never a pass.
            let mut broken = seen.clone();
            broken.timeline_error = Some("not scraped 9 times within 30s".into());
            assert!(!judge(case, &broken).passed, "{}: timeline", case.name);

            // The target ended in the other health.
            let mut flipped = seen.clone();
            if let Some(v) = &mut flipped.verdict {
                v.health = match v.health {
                    Health::Up => Health::Down,
                    _ => Health::Up,
                };
            }
            assert!(!judge(case, &flipped).passed, "{}: health", case.name);

            // Failed scrapes where none may fail, or none where some must.
            if let (Some(count), Some(w)) = (case.rotation.failed_scrapes, seen.window) {
                let mut other = seen.clone();
                let failed = if count.holds(0) { w.scrapes.max(3) } else { 0 };
                other.window = Some(WindowCounts {
                    scrapes: w.scrapes.max(3),
                    failed,
                });
                assert!(
                    !judge(case, &other).passed,
                    "{}: {failed} failed scrapes",
                    case.name
                );
                mutations += 1;
            }

            // The new identity never reached the exporter.
            if matches!(case.rotation.new_seen, Some(NewSeen::Within(_))) {
                let mut old = seen.clone();
                if let Some(change) = &old.change {
                    let before = change.old.clone();
                    for s in &mut old.scrapes {
                        s.identity = before.clone();
                    }
                }
                assert!(!judge(case, &old).passed, "{}: never new", case.name);
                mutations += 1;
            }
        }
        assert!(mutations >= plan.cases.len(), "{mutations} mutations");
    }
}

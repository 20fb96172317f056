//! Verdicts about security, not transport. Each Prometheus-judged case states a property in
//! terms of what a client gets:
//!
//! - **served**: metrics are scraped (`up`);
//! - **refused**: no metrics, by any refusal: a TLS alert, a closed or reset connection, or
//!   an HTTP 4xx answer. The mechanism is recorded as detail; where it matters (an
//!   exporter-toolkit exporter refuses a client certificate in the handshake, not with a
//!   400) a separate `<case>/mechanism` row checks it, at the case's level for the
//!   `toolkit` profile and at MAY for the others;
//! - **rejected by the client as `<class>`**: the exporter presents what it was configured
//!   with and Prometheus' verification fails for exactly that reason (expired, unknown CA,
//!   wrong host) — here the class *is* the property.
//!
//! Keep-alive is judged only by cases that declare `keep_alive:` (a SHOULD of its own),
//! never as a side condition of a security case. A scrape that timed out is a TIMEOUT
//! verdict, not a pass or a fail of the property.

use std::time::Duration;

use super::catalog::Level;
use super::profile::Profile;
use super::report::{CheckResult, CheckVerdict};
use crate::classify::ErrorClass;
use crate::runner::{CaseResult, Skipped};
use crate::scenario::{Case, Expected, KeepAlive, Outcome};
use crate::targets::Health;

/// What a case asserts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Property {
    /// Metrics are served.
    Served,
    /// Metrics are refused, by any mechanism; the expected mechanism is the class family.
    Refused,
    /// Prometheus' own verification fails with one of these classes.
    RejectedByClient(Vec<ErrorClass>),
}

impl Property {
    /// The property of an expectation.
    pub fn of(expected: &Expected) -> Self {
        if expected.health == Health::Up {
            Self::Served
        } else if expected.classes.iter().all(|c| is_refusal(*c)) {
            Self::Refused
        } else {
            Self::RejectedByClient(expected.classes.clone())
        }
    }

    /// The property in words.
    pub fn words(&self) -> String {
        match self {
            Self::Served => "served".into(),
            Self::Refused => "refused".into(),
            Self::RejectedByClient(classes) => {
                format!("not served: Prometheus rejects it as {}", labels(classes))
            }
        }
    }
}

fn labels(classes: &[ErrorClass]) -> String {
    classes
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(" or ")
}

/// Whether `class` is the exporter (or a proxy) refusing the client: a TLS-level refusal,
/// a closed connection, or an HTTP 4xx.
pub fn is_refusal(class: ErrorClass) -> bool {
    match class {
        ErrorClass::Unauthorized
        | ErrorClass::Forbidden
        | ErrorClass::ClientCertRejected
        | ErrorClass::ClientCertRequired
        | ErrorClass::ConnectionReset
        | ErrorClass::HttpToHttps
        | ErrorClass::TlsVersion
        | ErrorClass::TlsHandshakeFailure => true,
        ErrorClass::HttpStatus(code) => (400..500).contains(&code),
        _ => false,
    }
}

/// How a refusal looks, coarsely: what the `toolkit` profile checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    /// Refused in (or right after) the TLS handshake: an alert, or the connection closed
    /// (Go's TLS 1.3 server races its alert against the client's next write).
    TlsHandshake,
    /// An HTTP status.
    Http(u16),
    /// Go's 400 to plain HTTP on a TLS port.
    PlainHttpToTls,
    /// Anything else, by class.
    Other(ErrorClass),
}

fn family(class: ErrorClass) -> Family {
    match class {
        ErrorClass::ClientCertRejected
        | ErrorClass::ClientCertRequired
        | ErrorClass::TlsVersion
        | ErrorClass::TlsHandshakeFailure
        | ErrorClass::ConnectionReset => Family::TlsHandshake,
        ErrorClass::Unauthorized => Family::Http(401),
        ErrorClass::Forbidden => Family::Http(403),
        ErrorClass::HttpStatus(code) => Family::Http(code),
        ErrorClass::HttpToHttps => Family::PlainHttpToTls,
        other => Family::Other(other),
    }
}

fn family_words(f: Family) -> String {
    match f {
        Family::TlsHandshake => {
            "a refusal in the TLS handshake (alert or closed connection)".into()
        }
        Family::Http(code) => format!("HTTP {code}"),
        Family::PlainHttpToTls => "Go's HTTP 400 to plain HTTP on a TLS port".into(),
        Family::Other(class) => class.to_string(),
    }
}

/// The rows of one Prometheus-judged case: the property, and for a refusal the mechanism.
pub(crate) fn judge_case(
    r: &CaseResult,
    case: &Case,
    profile: Profile,
    scrape_timeout: Duration,
) -> Vec<CheckResult> {
    // Invariant: `catalog::load` refuses a case without a level, and generated cases have one.
    let level = case.level.expect("every conformance case has a level");
    let property = Property::of(&r.expected);
    let keep_alive = case.expect.keep_alive_declared && case.expect.keep_alive != KeepAlive::Any;
    let mut row = property_row(r, case, level, &property, keep_alive);
    let mut mechanism_row = (property == Property::Refused && !keep_alive)
        .then(|| mechanism_row(r, level, profile, &row.reference));

    if let Some(skipped) = &r.skipped {
        judge_skipped(&mut row, skipped);
        if let Some((m, _)) = &mut mechanism_row {
            m.detail = format!("see {}", r.name);
        }
        return rows(row, mechanism_row.map(|(m, _)| m));
    }
    row.last_error = (!r.last_error.is_empty()).then(|| r.last_error.clone());
    row.scrapes = Some(r.scrapes);
    row.connections = r.conntrack_established;
    let observed = r.observed.unwrap_or(Outcome {
        health: Health::Missing,
        class: ErrorClass::JobMissing,
    });
    let mech = r.mechanism.clone();
    if observed.health == Health::Down {
        row.mechanism = Some(mech.clone());
    }
    judge_property(&mut row, r, &property, keep_alive, observed, scrape_timeout);
    if let Some((m, expected)) = &mut mechanism_row {
        judge_mechanism(m, expected, row.verdict, &r.name, observed.class, mech);
    }
    rows(row, mechanism_row.map(|(m, _)| m))
}

/// The property row of a case before it is judged: what it asserts, where from.
fn property_row(
    r: &CaseResult,
    case: &Case,
    level: Level,
    property: &Property,
    keep_alive: bool,
) -> CheckResult {
    let property_words = if keep_alive {
        "keeps the connection alive".to_owned()
    } else {
        property.words()
    };
    let mut row = CheckResult::new(&r.name, level, property_words, CheckVerdict::Pass, "");
    row.rationale = case.rationale.clone().unwrap_or_default();
    row.reference = case.reference.clone().unwrap_or_default();
    row.source = "prometheus";
    row
}

/// The `<case>/mechanism` row of a refusal case, not yet judged, with the families it accepts.
fn mechanism_row(
    r: &CaseResult,
    level: Level,
    profile: Profile,
    reference: &str,
) -> (CheckResult, Vec<Family>) {
    let expected: Vec<Family> = r.expected.classes.iter().map(|c| family(*c)).collect();
    let mut m = CheckResult::new(
        format!("{}/mechanism", r.name),
        if profile == Profile::Toolkit {
            level
        } else {
            Level::May
        },
        format!(
            "refused by {}",
            expected
                .iter()
                .map(|f| family_words(*f))
                .collect::<Vec<_>>()
                .join(" or ")
        ),
        CheckVerdict::NotApplicable,
        "",
    );
    m.rationale = format!(
        "how exporter-toolkit refuses; other stacks may refuse differently (a proxy answers 400), which is as secure ({} profile)",
        profile.as_str()
    );
    m.reference = reference.to_owned();
    m.source = "prometheus";
    (m, expected)
}

/// The verdict of a case that was not run.
fn judge_skipped(row: &mut CheckResult, skipped: &Skipped) {
    match skipped {
        Skipped::NotApplicable(why) => {
            row.verdict = CheckVerdict::NotApplicable;
            row.detail = super::report::one_line(why);
        }
        Skipped::NotStarted(why) => {
            row.verdict = CheckVerdict::Fail;
            row.detail = super::report::one_line(&format!(
                "the exporter did not start with this case's web-config: {why}"
            ));
        }
    }
}

/// What Prometheus got, in words.
fn observed_words(r: &CaseResult, observed: Outcome, scrape_timeout: Duration) -> String {
    let mech = &r.mechanism;
    match (observed.health, observed.class) {
        (Health::Up, _) => format!("served ({} scrapes)", r.scrapes),
        (Health::Missing, _) => format!(
            "Prometheus dropped the job ({})",
            if r.last_error.is_empty() {
                "no reason logged"
            } else {
                &r.last_error
            }
        ),
        (_, ErrorClass::Timeout) => format!("no answer within {scrape_timeout:?}"),
        (_, class) if is_refusal(class) => format!("refused ({class}: {mech})"),
        (_, class) => format!("not served ({class}: {mech})"),
    }
}

/// The verdict and detail of the property row of a case that was run.
fn judge_property(
    row: &mut CheckResult,
    r: &CaseResult,
    property: &Property,
    keep_alive: bool,
    observed: Outcome,
    scrape_timeout: Duration,
) {
    let observed_words = observed_words(r, observed, scrape_timeout);
    let expected_words = row.property.clone();
    let timed_out =
        observed.class == ErrorClass::Timeout && !r.expected.accepts_class(ErrorClass::Timeout);
    let holds = if keep_alive {
        r.pass
    } else {
        match property {
            Property::Served => observed.health == Health::Up,
            Property::Refused => observed.health == Health::Down && is_refusal(observed.class),
            Property::RejectedByClient(_) => r.expected.accepts(&observed),
        }
    };
    row.verdict = if holds {
        CheckVerdict::Pass
    } else if timed_out {
        CheckVerdict::Timeout
    } else {
        CheckVerdict::Fail
    };
    row.detail = match row.verdict {
        CheckVerdict::Pass if keep_alive => r.keep_alive_observed.clone(),
        CheckVerdict::Pass => observed_words,
        _ if keep_alive && observed.health == Health::Up => format!(
            "expected: {expected_words}; observed: {}",
            r.keep_alive_observed
        ),
        _ => format!("expected: {expected_words}; observed: {observed_words}"),
    };
    if !r.notes.is_empty() && row.verdict == CheckVerdict::Pass {
        row.detail = format!("{} ({})", row.detail, r.notes.join("; "));
    }
    row.detail = super::report::one_line(&row.detail);
}

/// The verdict of the `<case>/mechanism` row: judged only when the refusal held.
fn judge_mechanism(
    m: &mut CheckResult,
    expected: &[Family],
    property_verdict: CheckVerdict,
    case_name: &str,
    observed_class: ErrorClass,
    mech: String,
) {
    if property_verdict != CheckVerdict::Pass {
        m.detail = format!("not refused: see {case_name}");
        return;
    }
    let seen = family(observed_class);
    m.mechanism = Some(mech.clone());
    if expected.contains(&seen) {
        m.verdict = CheckVerdict::Pass;
        m.detail = mech;
    } else {
        m.verdict = CheckVerdict::Fail;
        m.detail = format!(
            "expected: {}; observed: {} ({})",
            m.property.trim_start_matches("refused by "),
            mech,
            observed_class
        );
    }
}

/// R8 on the row of a case that declares `http_version`: a served row holds only when every
/// scrape used that version (fake-exporter's counters, or for an exporter under test its
/// ALPN answer to Prometheus' offer: see `runner::external`).
pub(crate) fn judge_http_version(row: &mut CheckResult, r: &CaseResult, case: &Case) {
    let Some(want) = case.expect.http_version else {
        return;
    };
    row.property = format!("{} over {want}", row.property);
    if row.verdict != CheckVerdict::Pass {
        return;
    }
    let observed = r.http_versions.join(", ");
    if !r.http_versions.is_empty() && r.http_versions.iter().all(|v| v == want.as_str()) {
        row.detail = format!("{} over {observed}", row.detail);
        return;
    }
    row.verdict = CheckVerdict::Fail;
    let why = r
        .failures
        .iter()
        .find(|f| f.starts_with("HTTP version"))
        .cloned()
        .unwrap_or_else(|| format!("over {observed}"));
    row.detail = super::report::one_line(&format!("expected: served over {want}; observed: {why}"));
}

fn rows(row: CheckResult, mechanism: Option<CheckResult>) -> Vec<CheckResult> {
    std::iter::once(row).chain(mechanism).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_case_declaring_an_http_version_holds_only_over_that_version() {
        let mut case = Case::new("h2", "c.yaml", crate::scenario::Expectation::up());
        case.level = Some(Level::May);
        case.expect.http_version = Some(crate::scenario::HttpVersion::Http2);
        let row_of = |versions: &[&str], failures: &[&str]| {
            let mut r = CaseResult::for_test(&case);
            r.observed = Some(Outcome {
                health: Health::Up,
                class: ErrorClass::None,
            });
            r.scrapes = 4;
            r.http_versions = versions.iter().map(|v| (*v).to_owned()).collect();
            r.failures = failures.iter().map(|f| (*f).to_owned()).collect();
            let mut rows = judge_case(&r, &case, Profile::Toolkit, Duration::from_secs(2));
            judge_http_version(&mut rows[0], &r, &case);
            rows.remove(0)
        };
        let h2 = row_of(&["HTTP/2"], &[]);
        assert_eq!(h2.verdict, CheckVerdict::Pass, "{h2:?}");
        assert_eq!(h2.property, "served over HTTP/2");
        assert!(h2.detail.ends_with("over HTTP/2"), "{}", h2.detail);
        let why = "HTTP version: expected every scrape over HTTP/2, observed HTTP/1.1";
        let h1 = row_of(&["HTTP/1.1"], &[why]);
        assert_eq!(h1.verdict, CheckVerdict::Fail);
        assert_eq!(
            h1.detail,
            format!("expected: served over HTTP/2; observed: {why}")
        );
        // Nothing observed is no pass.
        assert_eq!(row_of(&[], &[]).verdict, CheckVerdict::Fail);
    }

    #[test]
    fn properties_follow_the_expected_class() {
        assert_eq!(
            Property::of(&Expected::one(Health::Up, ErrorClass::None)),
            Property::Served
        );
        for class in [
            ErrorClass::Unauthorized,
            ErrorClass::ClientCertRequired,
            ErrorClass::HttpToHttps,
            ErrorClass::TlsVersion,
            ErrorClass::HttpStatus(400),
        ] {
            assert_eq!(
                Property::of(&Expected::one(Health::Down, class)),
                Property::Refused,
                "{class}"
            );
        }
        assert_eq!(
            Property::of(&Expected::one(Health::Down, ErrorClass::UnknownAuthority)),
            Property::RejectedByClient(vec![ErrorClass::UnknownAuthority])
        );
        assert!(!is_refusal(ErrorClass::HttpStatus(500)));
        assert!(!is_refusal(ErrorClass::Timeout));
        assert!(!is_refusal(ErrorClass::Refused));
    }

    #[test]
    fn tls_refusals_are_one_family_and_http_statuses_are_not() {
        assert_eq!(
            family(ErrorClass::ConnectionReset),
            family(ErrorClass::ClientCertRejected)
        );
        assert_ne!(
            family(ErrorClass::HttpStatus(400)),
            family(ErrorClass::ClientCertRequired)
        );
        assert_eq!(family(ErrorClass::Unauthorized), Family::Http(401));
    }
}

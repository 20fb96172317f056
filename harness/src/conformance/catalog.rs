//! The conformance catalog: the cases Prometheus judges (scenario files, embedded
//! `scenarios/conformance.yaml` by default), their [`Level`]s, and the direct checks with
//! their rationale and reference.

use crate::scenario::Plan;

use super::direct::Outcome;
use super::report::{CheckResult, CheckVerdict};
use super::{ConformanceError, ConformanceOptions};
use crate::scenario::KeepAlive;

/// The embedded catalog.
pub const CATALOG: &str = include_str!("../../../scenarios/conformance.yaml");
/// Name of the embedded catalog in messages.
pub const CATALOG_NAME: &str = "scenarios/conformance.yaml (embedded)";

pub use crate::scenario::Level;

/// A direct check: name, level, why it exists and where the behaviour is defined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DirectCase {
    /// Case name in reports.
    pub name: &'static str,
    /// Level.
    pub level: Level,
    /// The property, in words.
    pub property: &'static str,
    /// Why the requirement exists.
    pub rationale: &'static str,
    /// Where the behaviour is defined.
    pub reference: &'static str,
}

impl DirectCase {
    /// The report entry of `outcome`.
    pub fn result(&self, outcome: Outcome) -> CheckResult {
        let (verdict, detail) = match outcome {
            Outcome::Pass(d) => (CheckVerdict::Pass, d),
            Outcome::Fail(d) => (CheckVerdict::Fail, d),
            Outcome::NotApplicable(d) => (CheckVerdict::NotApplicable, d),
            Outcome::NotTested(d) => (CheckVerdict::NotTested, d),
            Outcome::Timeout(d) => (CheckVerdict::Timeout, d),
        };
        let mut r = CheckResult::new(self.name, self.level, self.property, verdict, detail);
        r.rationale = self.rationale.to_owned();
        r.reference = self.reference.to_owned();
        r
    }
}

/// A 401 carries a Basic challenge.
pub const WWW_AUTHENTICATE: DirectCase = DirectCase {
    name: "direct-401-www-authenticate",
    property: "a 401 carries a Basic challenge",
    level: Level::Must,
    rationale: "a 401 answer must carry a WWW-Authenticate challenge",
    reference: "RFC 9110 §11.6.1 and §15.5.2; RFC 7617 §2",
};
/// Credentials are not echoed.
pub const NO_SECRETS_ECHOED: DirectCase = DirectCase {
    name: "direct-no-secrets-echoed",
    property: "credentials are not echoed",
    level: Level::Must,
    rationale: "responses must not repeat the credentials that were sent",
    reference: "RFC 7617 §4 (security considerations); CWE-200 (exposure of sensitive information)",
};
/// TLS 1.0 and 1.1 are refused.
pub const OLD_TLS_REFUSED: DirectCase = DirectCase {
    name: "direct-tls-below-1.2-refused",
    property: "TLS 1.0 and 1.1 refused",
    level: Level::Must,
    rationale:
        "TLS 1.0 and 1.1 are deprecated and must be refused (exporter-toolkit's minimum is TLS 1.2)",
    reference: "RFC 8996; exporter-toolkit docs min_version (default TLS12)",
};
/// A Content-Type Prometheus parses.
pub const CONTENT_TYPE: DirectCase = DirectCase {
    name: "direct-content-type",
    property: "a Prometheus Content-Type",
    level: Level::Must,
    rationale: "metrics must come in a Content-Type Prometheus parses (Prometheus 3.x fails scrapes otherwise)",
    reference: "Prometheus exposition formats documentation; Prometheus 3.0 migration guide (fallback_scrape_protocol)",
};
/// gzip when asked.
pub const GZIP: DirectCase = DirectCase {
    name: "direct-gzip",
    property: "gzip when asked",
    level: Level::Should,
    rationale: "Prometheus asks for gzip; compressing large bodies saves bandwidth",
    reference: "client_golang promhttp (gzip when accepted); Prometheus scrape requests send Accept-Encoding: gzip",
};
/// OpenMetrics when asked.
pub const OPENMETRICS: DirectCase = DirectCase {
    name: "direct-openmetrics",
    property: "OpenMetrics when asked",
    level: Level::May,
    rationale: "OpenMetrics is optional; Prometheus negotiates it through Accept",
    reference: "OpenMetrics 1.0 specification; Prometheus scrape Accept header",
};
/// Unknown users and wrong passwords take the same time.
pub const AUTH_TIMING: DirectCase = DirectCase {
    name: "direct-auth-timing",
    property: "unknown users and wrong passwords take the same time",
    level: Level::Should,
    rationale: "an unknown user and a wrong password should take the same time, or user names can be enumerated",
    reference: "exporter-toolkit web/handler.go (dummy cost-10 hash for unknown users); OWASP ASVS V2.2 (account enumeration)",
};

/// The catalog of `opts`: its file, or the embedded one. Every case must say its level:
/// a catalog case without one is refused, never read as MAY.
pub(crate) fn load(opts: &ConformanceOptions) -> Result<Plan, ConformanceError> {
    let plan = match &opts.catalog {
        Some(f) => Plan::load(std::slice::from_ref(f))?,
        None => Plan::from_sources(&[(CATALOG_NAME.to_owned(), CATALOG.to_owned())])?,
    };
    if let Some(case) = plan.cases.iter().find(|c| c.level.is_none()) {
        return Err(ConformanceError::NoLevel {
            file: case.file.clone(),
            case: case.name.clone(),
        });
    }
    Ok(prepare(plan, opts))
}

/// Applies the run's options to a conformance plan: the scrape timeout (the interval
/// follows it), and keep-alive judged only where a case declares it.
pub(crate) fn prepare(mut plan: Plan, opts: &ConformanceOptions) -> Plan {
    if let Some(timeout) = opts.scrape_timeout {
        plan.defaults.scrape_timeout = timeout;
        plan.defaults.scrape_interval = timeout;
    }
    for case in &mut plan.cases {
        if !case.expect.keep_alive_declared {
            case.expect.keep_alive = KeepAlive::Any;
        }
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_loads_and_every_case_has_level_rationale_reference() {
        let plan = Plan::from_sources(&[(CATALOG_NAME.to_owned(), CATALOG.to_owned())])
            .expect("valid catalog");
        assert_eq!(plan.cases.len(), 35);
        assert!(plan.defaults.scrape_timeout >= std::time::Duration::from_secs(2));
        for c in &plan.cases {
            assert!(c.level.is_some(), "{} has no level", c.name);
            assert!(
                c.rationale.as_deref().is_some_and(|r| !r.is_empty()),
                "{} has no rationale",
                c.name
            );
            assert!(
                c.reference.as_deref().is_some_and(|r| !r.is_empty()),
                "{} has no reference",
                c.name
            );
        }
    }
}

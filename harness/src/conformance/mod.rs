//! Conformance: an exporter's security behaviour checked against a catalog of cases,
//! each with a level (MUST / SHOULD / MAY), a rationale and a reference. Most verdicts
//! come from a real Prometheus scraping the exporter (the scenario runner with the exporter
//! under test in place of fake-exporter); a few come from direct requests (the 401
//! challenge, echoed secrets, TLS below 1.2, content negotiation, auth timing).
//!
//! Two modes: [`run_exec`] starts the exporter once per case with a generated
//! `web-config.yml` (every case); [`run_target`] audits an exporter that is already running
//! from the client side (every case that needs no restart; the others are listed as NOT
//! TESTED). Both start with a preflight that fails in seconds, with the cause, when the
//! exporter cannot be started or reached at all.
//!
//! Layout: [`catalog`] (cases, levels, references), `target_catalog` (the `--target`
//! cases: `scenarios/conformance-target.yaml`), `exec` and `target` (the two modes),
//! `preflight`, [`posture`] (what a running target shows), [`profile`] (toolkit, generic,
//! proxy), [`verdict`] (served / refused / mechanism), [`direct`] (the direct checks),
//! [`report`] (scores, table, JSON, JUnit).

pub mod catalog;
pub mod direct;
mod exec;
pub mod posture;
mod preflight;
pub mod profile;
pub mod report;
mod target;
mod target_catalog;
pub mod verdict;

#[cfg(test)]
mod replay_tests;

use std::path::PathBuf;
use std::time::Duration;

pub use catalog::{Level, CATALOG, CATALOG_NAME};
pub use exec::run_exec;
pub use posture::Requirement;
pub use profile::Profile;
pub use report::{CheckResult, CheckVerdict, ConformanceReport, FailOn, Score};
pub use target::{run_target, TargetSpec};

use crate::runner::{self, RunOptions};
use crate::scenario::ScenarioError;

/// A conformance run that could not be carried out.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConformanceError {
    /// The catalog is invalid.
    #[error(transparent)]
    Catalog(#[from] ScenarioError),
    /// The run failed.
    #[error(transparent)]
    Run(#[from] runner::RunError),
    /// A catalog case without `level:`.
    #[error("{file}: case `{case}`: level: a conformance catalog case needs `level: MUST`, `SHOULD` or `MAY`")]
    NoLevel {
        /// The catalog file.
        file: String,
        /// The case.
        case: String,
    },
    /// A mistake in the `--target` catalog (`scenarios/conformance-target.yaml`).
    #[error("{file}: {}{key}: {message}", .case.as_ref().map(|c| format!("case `{c}`: ")).unwrap_or_default())]
    TargetCatalog {
        /// The catalog file.
        file: String,
        /// The case (`#N` when it has no name), if the mistake is in one.
        case: Option<String>,
        /// The key, as a path (`scrape.tls_config.ca_file`).
        key: String,
        /// What is wrong, and the fix when known.
        message: String,
    },
    /// The target address is unusable.
    #[error("target `{target}`: {reason}")]
    Target {
        /// What was given.
        target: String,
        /// What is wrong with it.
        reason: String,
    },
    /// An https target without the CA of its certificate.
    #[error("target `{target}` speaks https: give the CA that signed its certificate")]
    MissingCa {
        /// The target.
        target: String,
    },
    /// A file given by the caller, or one the run writes, failed.
    #[error("{what} {}: {source}", .path.display())]
    Io {
        /// What was being done with which file.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The test PKI of the direct checks could not be generated or written.
    #[error("{what} the PKI of the direct checks: {source}")]
    Pki {
        /// `generating` or `writing`.
        what: &'static str,
        /// The PKI error.
        #[source]
        source: fake_exporter::pki::PkiError,
    },
    /// The password of the direct checks could not be hashed.
    #[error("hashing the password of the direct checks: {0}")]
    Hash(#[source] bcrypt::BcryptError),
    /// The exporter could not be started, or the target reached, at all: nothing in the
    /// catalog would say anything about it.
    #[error("preflight: {subject}: {detail}")]
    Preflight {
        /// The command or the target.
        subject: String,
        /// What happened, with the exporter's last output lines where there are any.
        detail: String,
    },
    /// What the caller gave cannot work against this target (a wrong `--ca`, a client
    /// certificate or credentials the target needs and did not get): found before any case
    /// runs, so the target is not blamed for it.
    #[error("--target {target}: {reason}")]
    Inputs {
        /// The target.
        target: String,
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// The whole run passed its deadline.
    #[error("the conformance run did not finish within {0:?} (--deadline): something hangs; run with --verbose to see where")]
    Deadline(Duration),
}

/// Options shared by both modes.
#[derive(Debug, Clone)]
pub struct ConformanceOptions {
    /// Backend, image, binary, progress.
    pub run: RunOptions,
    /// Samples per group for the timing check (≥ 200 for a real verdict; 0 disables it).
    pub timing_samples: usize,
    /// Time budget of the timing check (both attempts): slow answers scale the samples
    /// down to what fits, and the row says so.
    pub timing_budget: Duration,
    /// Significance level of the timing test.
    pub alpha: f64,
    /// A catalog file instead of the embedded one.
    pub catalog: Option<PathBuf>,
    /// Scrape timeout (and interval) of the Prometheus cases; `None`: the catalog's
    /// (2 s in the embedded one: room for bcrypt at cost 12 on a busy 2-core machine).
    pub scrape_timeout: Option<Duration>,
    /// The kind of target; `None`: `toolkit` for `--exec` (it takes a web-config.yml),
    /// detected for `--target`.
    pub profile: Option<Profile>,
    /// Which levels fail the run.
    pub fail_on: FailOn,
    /// Deadline of the whole run.
    pub deadline: Duration,
}

impl Default for ConformanceOptions {
    fn default() -> Self {
        Self {
            run: RunOptions::default(),
            timing_samples: 200,
            timing_budget: direct::TIMING_BUDGET,
            alpha: 0.001,
            catalog: None,
            scrape_timeout: None,
            profile: None,
            fail_on: FailOn::Must,
            deadline: Duration::from_secs(900),
        }
    }
}

/// Deadline of one direct check (the timing check keeps to its own, shorter budget; a
/// target that never answers fails each check at its first 10 s step deadline).
pub(crate) const DIRECT_CHECK_DEADLINE: Duration = Duration::from_secs(240);

/// The content-type, gzip and OpenMetrics checks (one negotiation), bounded by
/// [`DIRECT_CHECK_DEADLINE`].
pub(crate) async fn negotiation_results(
    addr: std::net::SocketAddr,
    tls: Option<&direct::ClientTls>,
    path: &str,
    auth: Option<String>,
) -> [CheckResult; 3] {
    let negotiated = tokio::time::timeout(
        DIRECT_CHECK_DEADLINE,
        direct::content_negotiation(addr, tls, path, auth),
    )
    .await;
    match negotiated {
        Ok((ct, gz, om)) => [
            catalog::CONTENT_TYPE.result(ct),
            catalog::GZIP.result(gz),
            catalog::OPENMETRICS.result(om),
        ],
        Err(_) => [catalog::CONTENT_TYPE, catalog::GZIP, catalog::OPENMETRICS].map(|case| {
            let mut r = case.result(direct::Outcome::Fail(format!(
                "no verdict within {DIRECT_CHECK_DEADLINE:?}"
            )));
            r.verdict = CheckVerdict::Timeout;
            r
        }),
    }
}

/// Every row of a run's Prometheus-judged cases.
pub(crate) fn judge_run(
    report: &runner::RunReport,
    plan: &crate::scenario::Plan,
    profile: Profile,
) -> Vec<CheckResult> {
    judge_results(&report.cases, plan, profile)
}

/// The rows of `results`, one per case of `plan` in order (a run's, or replayed ones).
pub(crate) fn judge_results(
    results: &[runner::CaseResult],
    plan: &crate::scenario::Plan,
    profile: Profile,
) -> Vec<CheckResult> {
    results
        .iter()
        .zip(&plan.cases)
        .flat_map(|(r, case)| {
            let mut rows = verdict::judge_case(r, case, profile, plan.defaults.scrape_timeout);
            if let Some(row) = rows.first_mut() {
                verdict::judge_http_version(row, r, case);
            }
            rows
        })
        .collect()
}

/// A random alphanumeric string of `len` characters: credentials that cannot occur in a
/// response by chance.
pub(crate) fn random_token(len: usize) -> String {
    use rand::Rng as _;
    rand::rng()
        .sample_iter(rand::distr::Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

/// A private temp dir for a conformance run's files, with `owner.pid`: after a SIGKILL of
/// the harness, the next run's sweep removes it (and the data dirs exporters made in it).
pub(crate) fn temp_dir() -> Result<crate::supervise::RunDir, ConformanceError> {
    crate::supervise::RunDir::create("conformance").map_err(|e| {
        let (what, path, source) = e.into_parts();
        ConformanceError::Io { what, path, source }
    })
}

/// Runs a direct check with [`DIRECT_CHECK_DEADLINE`]; past it the check is a TIMEOUT.
pub(crate) async fn bounded(
    case: catalog::DirectCase,
    check: impl std::future::Future<Output = direct::Outcome>,
) -> CheckResult {
    match tokio::time::timeout(DIRECT_CHECK_DEADLINE, check).await {
        Ok(outcome) => case.result(outcome),
        Err(_) => {
            let mut r = case.result(direct::Outcome::Fail(format!(
                "no verdict within {DIRECT_CHECK_DEADLINE:?}"
            )));
            r.verdict = CheckVerdict::Timeout;
            r
        }
    }
}

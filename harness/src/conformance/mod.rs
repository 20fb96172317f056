//! Conformance: an exporter's security behaviour checked against a catalog of cases,
//! each with a level (MUST / SHOULD / MAY), a rationale and a reference. Most verdicts
//! come from a real Prometheus scraping the exporter (the scenario runner with the exporter
//! under test in place of fake-exporter); a few come from direct requests (the 401
//! challenge, echoed secrets, TLS below 1.2, content negotiation, auth timing).
//!
//! Two modes: [`run_exec`] starts the exporter once per case with a generated
//! `web-config.yml` (every case); [`run_target`] checks an exporter that is already running
//! (the cases that need no restart).
//!
//! Layout: [`catalog`] (cases, levels, references), `exec` and `target` (the two modes),
//! [`direct`] (the direct checks), [`report`] (scores, table, JSON, JUnit).

pub mod catalog;
pub mod direct;
mod exec;
pub mod report;
mod target;

use std::path::PathBuf;

pub use catalog::{Level, CATALOG, CATALOG_NAME};
pub use exec::run_exec;
pub use report::{CheckResult, ConformanceReport, Score, Verdict};
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
}

/// Options shared by both modes.
#[derive(Debug, Clone)]
pub struct ConformanceOptions {
    /// Backend, image, binary, progress.
    pub run: RunOptions,
    /// Samples per group for the timing check (≥ 200 for a real verdict; 0 disables it).
    pub timing_samples: usize,
    /// Significance level of the timing test.
    pub alpha: f64,
    /// A catalog file instead of the embedded one.
    pub catalog: Option<PathBuf>,
}

impl Default for ConformanceOptions {
    fn default() -> Self {
        Self {
            run: RunOptions::default(),
            timing_samples: 200,
            alpha: 0.001,
            catalog: None,
        }
    }
}

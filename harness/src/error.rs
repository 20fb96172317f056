//! The crate's one error type: each area keeps its own error (with the file, case, URL or
//! command it is about) and converts into [`Error`], so a caller can hold any of them.

/// Any error of `scrape-harness`, by area.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A scenario file or plan cannot be used.
    #[error(transparent)]
    Scenario(#[from] crate::ScenarioError),
    /// A matrix run failed (not a failed case).
    #[error(transparent)]
    Run(#[from] crate::RunError),
    /// The fixture could not start, reload or wait.
    #[error(transparent)]
    Fixture(#[from] crate::FixtureError),
    /// Prometheus could not be started or stopped.
    #[error(transparent)]
    Backend(#[from] crate::BackendError),
    /// Prometheus' HTTP API failed.
    #[error(transparent)]
    Api(#[from] crate::ApiError),
    /// A `prometheus.yml` could not be written or was refused by promtool.
    #[error(transparent)]
    PromConfig(#[from] crate::config::PromConfigError),
    /// A conformance run failed.
    #[error(transparent)]
    Conformance(#[from] crate::conformance::ConformanceError),
    /// A load benchmark failed.
    #[error(transparent)]
    Bench(#[from] crate::bench::BenchError),
    /// A report file could not be written.
    #[error(transparent)]
    Report(#[from] crate::report::ReportError),
}

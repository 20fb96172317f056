//! Runs a real Prometheus against exporters and reports what Prometheus itself says:
//! target health, the class of `lastError`, and whether keep-alive holds.
//!
//! A TLS + Basic fake exporter, scraped by a real Prometheus (a container when Docker
//! answers, else a local `prometheus` process), with the verdict asserted:
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # use std::time::Duration;
//! use fake_exporter::{FakeExporter, KeyType, Pki, ServerCert};
//! use scrape_harness::{Health, PrometheusFixture, ScrapeConfig};
//! let pki = Pki::generate(KeyType::EcdsaP256)?;
//! let dir = tempfile::tempdir()?; // Prometheus reads the CA from a file
//! let ca = pki.write_to(dir.path())?.ca();
//! let exporter = FakeExporter::builder().tls(pki.server(ServerCert::Valid)).basic_auth("prom", "pw").start().await?;
//! let job = ScrapeConfig::for_exporter("tls-basic", &exporter).ca_file(ca).basic_auth("prom", "pw");
//! let prometheus = PrometheusFixture::builder().job(job).start().await?;
//! let verdicts = prometheus.wait_scraped(2, Duration::from_secs(60)).await?;
//! assert_eq!(verdicts[0].health, Health::Up, "{verdicts:?}");
//! # Ok(()) }
//! ```
//!
//! Whole matrices come from scenario files ([`Plan`], run by [`run`]: one Prometheus,
//! one job per case, verdicts per case); `scrape-harness` is the command line over the
//! same library (`run`, `conformance`, `bench`, `certs`), in the binary target (feature
//! `cli`, on by default).
//!
//! What is where: [`PrometheusFixture`] starts Prometheus ([`BackendKind`]: a container or
//! a process; [`start_prometheus`] underneath), writes its `prometheus.yml` from
//! [`ScrapeConfig`]s, waits ([`Until`]) and returns [`Verdict`]s, each with the
//! [`ErrorClass`] of `lastError` ([`classify`]); [`PromApi`] reads the API; [`Plan`] and
//! [`Case`] are scenario files parsed into types, [`run`] runs them; [`report`] renders
//! runs; [`conformance`] and [`bench`] are the other two jobs of the command line.

mod backend;
pub mod bench;
mod classify;
pub mod conformance;
mod error;
mod exporter_config;
mod fixture;
pub mod generate;
pub mod lab;
mod nginx;
mod observations;
mod pacing;
mod procfs;
mod progress;
mod promconfig;
mod promlog;
mod receivers;
pub mod report;
pub mod rotation;
mod runner;
mod scenario;
mod supervise;
mod targets;

pub use backend::{
    audit_own_web_config, EndpointCheck, OwnProbe, PrometheusTls, PrometheusWebConfig,
    PROTECTED_PATHS,
};
pub use backend::{
    cancel_on_ctrl_c, free_local_port, keep_requested, prometheus_image, start as start_prometheus,
    sweep_leftovers, BackendError, BackendKind, CleanupError, ImageBuildError,
    ParseBackendKindError, PrometheusChoice, PrometheusOptions, RunningPrometheus, SweepReport,
    OWNER_PID_ENV, OWNER_PID_LABEL, RUN_LABEL,
};
pub use classify::{classify, CaseContext, ErrorClass, LastError, UnknownClass};
pub use error::Error;
pub use fixture::{
    mounts_for, FixtureBuilder, FixtureError, PrometheusFixture, PrometheusWatch, SeenOutcome,
    Until, Verdict, WaitProgress, DEFAULT_SCRAPE_INTERVAL,
};
pub use nginx::{nginx_binary, NginxConfig, NginxError, RunningNginx};
/// What the fixture's one poller publishes ([`observe::Observations`], one snapshot per
/// poll), and what a scrape case's judge reads of a run ([`observe::CaseObservation`]),
/// recorded with `RunOptions::record_observations` to test judges without Prometheus.
pub mod observe {
    pub use crate::observations::{
        Observations, PrometheusCounts, ReceiverObservation, SeenOutcome, SelfCounters, Verdict,
    };
    pub use crate::runner::{CaseObservation, ExporterCounters, PrometheusSide, RecordedRun};
}

/// The typed `prometheus.yml` and rule files: every section the bench writes or judges,
/// loadable from a user's own file ([`config::load`]) and from what Prometheus loaded
/// ([`config::parse_loaded`]).
pub mod config {
    pub use crate::promconfig::{
        load, parse_loaded, AlertingConfig, AlertingRule, AlertmanagerConfig, MetadataConfig,
        OtherKeys, QueueConfig, RemoteWriteConfig, RuleFile, RuleGroup,
    };
}
pub use promconfig::{
    promtool_check, render as render_prometheus_yml, write as write_prometheus_yml, Authorization,
    BasicAuth, GlobalConfig, OAuth2, PromConfigError, PromDuration, PrometheusConfig,
    PromtoolCheck, Scheme, ScrapeConfig, ScrapeProtocol, StaticConfig, TlsConfig, TlsVersion,
    PROMTOOL_ENV,
};
pub use receivers::{
    run_receivers, AlertmanagerError, Observed, RealAlertmanager, ReceiverCase, ReceiverDefaults,
    ReceiverError, ReceiverExpect, ReceiverKind, ReceiverOptions, ReceiverPlan, ReceiverResult,
    ReceiverRun, ReceiverRunError, ALERTMANAGER_BIN_ENV, ALERT_NAME,
};
pub use runner::{
    run, CaseResult, ConfigCheck, ExecTemplate, ExecTemplateError, Launcher, RunError, RunHealth,
    RunOptions, RunReport, Skipped, StartObserved, Summary, Timings, DISCOVERY_DELAY,
};
pub use scenario::{
    BearerCase, Case, Count, Defaults, Expectation, Expected, ExporterCase, ExporterStart,
    ExporterTls, FileRef, ForwardProxyCase, HttpVersion, KeepAlive, Level, OAuth2Case, Outcome,
    PkiFile, Plan, ReverseProxy, ScenarioError, ScrapeAuth, ScrapeCase, ScrapeTls, Secret,
    TargetHost, ThirdParties, TokenEndpointCase, DEFAULT_MATRIX, DEFAULT_MATRIX_NAME,
};
pub use targets::{
    parse_text_format, ApiError, BuildInfo, DroppedTarget, Health, PromApi, Sample, TargetKey,
    TargetStatus, TextFormatError, TextSample,
};

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
//! Whole matrices come from scenario files ([`Plan`], run by [`run`]: one Prometheus for
//! every kind of case in them, scrape, receiver and rotation cases, one verdict per case). `scrape-harness` is the command line over the
//! same library, in the binary target (feature `cli`, on by default), with the commands
//! `run`, `generate`, `conformance`, `bench` (and `bench servers`), `lab`, `rotation` and
//! `receivers` (`run` for a file of one kind) and `certs` (an alias of `fake-exporter pki`). `docs/architecture.md`
//! follows one case through the modules.
//!
//! What is where:
//! - [`PrometheusFixture`] starts Prometheus ([`BackendKind`]: a container, a process),
//!   writes its `prometheus.yml` from [`ScrapeConfig`]s, and runs the one poller whose
//!   snapshots ([`observe::Observations`]) every wait and judge reads; [`PrometheusWatch`]
//!   runs the same poller over a Prometheus the harness did not start. Waits ([`Until`])
//!   return [`TargetObservation`]s, each with `lastError` parsed once ([`LastError`], [`ErrorClass`],
//!   [`classify`]).
//! - [`Plan`] and [`Case`] are scenario files as types ([`cases`]); [`run`] runs them into a
//!   [`RunReport`] ([`runs`]) with every kind of case; [`run_receivers`] and
//!   [`rotation::run`] run a plan of one kind through it ([`receive`]);
//!   [`rotation`], [`conformance`], [`bench`], [`lab`] and [`generate`] are the other jobs
//!   of the command line; [`report`] renders.
//! - [`config`] is the typed `prometheus.yml`; [`prometheus`] holds the backends, the API's
//!   types and nginx for use without the fixture.

mod backend;
pub mod bench;
mod classify;
pub mod conformance;
mod error;
pub mod explain;
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
mod unverified;

// The root: what a test or a tool needs first (about 40 names). Everything else is in a
// named namespace below.
pub use backend::{BackendError, BackendKind, PrometheusChoice};
pub use classify::{classify, CaseContext, ErrorClass, LastError};
pub use error::Error;
pub use fixture::{
    FixtureBuilder, FixtureError, Jobs, PrometheusFixture, PrometheusWatch, TargetObservation,
    Until, WaitProgress, DEFAULT_SCRAPE_INTERVAL,
};
pub use promconfig::{
    Authorization, BasicAuth, PromDuration, PrometheusConfig, RelabelAction, RelabelConfig, Scheme,
    ScrapeConfig, TlsConfig,
};
pub use receivers::{run_receivers, ReceiverOptions, ReceiverPlan, ReceiverRun};
pub use runner::{run, CaseResult, RunError, RunOptions, RunReport};
pub use scenario::{Case, Plan, ScenarioError};
pub use targets::{ApiError, Health, PromApi};

/// Running Prometheus without the fixture, and reading it: backends and their options, the
/// leftover sweep, Prometheus' own web config, the API's types, the text-format parser, nginx.
pub mod prometheus {
    pub use crate::backend::{
        audit_own_web_config, cancel_on_ctrl_c, free_local_port, keep_requested, prometheus_image,
        start as start_prometheus, sweep_leftovers, CleanupError, EndpointCheck, ImageBuildError,
        OwnProbe, ParseBackendKindError, PrometheusOptions, PrometheusTls, PrometheusWebConfig,
        RunningPrometheus, SweepReport, OWNER_PID_ENV, OWNER_PID_LABEL, PROTECTED_PATHS, RUN_LABEL,
    };
    pub use crate::fixture::mounts_for;
    pub use crate::nginx::{nginx_binary, ClientCertCheck, NginxConfig, NginxError, RunningNginx};
    pub use crate::targets::{
        parse_text_format, BuildInfo, DroppedTarget, Sample, TargetKey, TargetStatus,
        TextFormatError, TextSample,
    };
}

/// Error classes: what a label that is not a class says.
pub mod classes {
    pub use crate::classify::UnknownClass;
}

/// What the fixture's one poller publishes ([`observe::Observations`], one snapshot per
/// poll), and what a scrape case's judge reads of a run ([`observe::CaseObservation`]),
/// recorded with `RunOptions::record_observations` to test judges without Prometheus.
pub mod observe {
    pub use crate::fixture::Pending;
    pub use crate::observations::{
        Observations, PrometheusCounts, ReceiverObservation, SeenOutcome, SelfCounters,
        TargetObservation,
    };
    pub use crate::runner::{
        CaseObservation, ExporterCounters, HttpVersionUnobserved, NotScraped, PrometheusSide,
        RecordedRun,
    };
}

/// The typed `prometheus.yml` and rule files: every section the bench writes or judges,
/// loadable from a user's own file ([`config::load`]) and from what Prometheus loaded
/// ([`config::parse_loaded`]); promtool.
pub mod config {
    pub use crate::promconfig::{
        load, parse_loaded, promtool_check, render as render_prometheus_yml,
        write as write_prometheus_yml, AlertingConfig, AlertingRule, AlertmanagerConfig,
        GlobalConfig, MetadataConfig, OAuth2, OtherKeys, PromConfigError, PromtoolCheck,
        QueueConfig, RemoteWriteConfig, RuleFile, RuleGroup, ScrapeProtocol, StaticConfig,
        TlsVersion, PROMTOOL_ENV,
    };
}

/// Scenario files as types: cases, their exporter and scrape sides, expectations.
pub mod cases {
    pub use crate::scenario::{
        BearerCase, Count, Defaults, Expectation, Expected, ExporterCase, ExporterStart,
        ExporterTls, FileRef, ForwardProxyCase, HttpVersion, KeepAlive, Level, OAuth2Case, Outcome,
        PkiFile, ReverseProxy, ScrapeAuth, ScrapeCase, ScrapeTls, Secret, TargetHost, ThirdParties,
        TokenEndpointCase, DEFAULT_MATRIX, DEFAULT_MATRIX_NAME,
    };
}

/// A scenario run's parts: launchers, timings, health, the config check.
pub mod runs {
    pub use crate::runner::{
        ConfigCheck, ExecTemplate, ExecTemplateError, Launcher, RunHealth, Skipped, StartObserved,
        Summary, Timings, DISCOVERY_DELAY,
    };
}

/// Receiver cases and their runs: Alertmanager and remote-write receivers, the real
/// Alertmanager.
pub mod receive {
    pub use crate::receivers::{
        AlertmanagerError, Observed, RealAlertmanager, ReceiverCase, ReceiverDefaults,
        ReceiverExpect, ReceiverKind, ReceiverResult, ReceiverRunError, ALERTMANAGER_BIN_ENV,
        ALERT_NAME,
    };
}

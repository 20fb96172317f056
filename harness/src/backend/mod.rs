//! Prometheus backends: a real Prometheus, as a container or as a local process, behind
//! one API.
//!
//! ```no_run
//! # async fn demo() -> Result<(), scrape_harness::BackendError> {
//! use scrape_harness::{prometheus::start_prometheus, prometheus::PrometheusOptions};
//!
//! let prometheus = start_prometheus(PrometheusOptions::new("global: {}\n")).await?;
//! println!("{} at {}", prometheus.description(), prometheus.base_url());
//! prometheus.reload("global: {scrape_interval: 1s}\n").await?;
//! prometheus.stop().await?; // or let it drop
//! # Ok(()) }
//! ```
//!
//! # Lifecycle and cleanup
//!
//! [`start`] first sweeps leftovers of dead runs ([`sweep_leftovers`]), then creates a
//! work directory (`$TMPDIR/scrape-harness-*`: `prometheus.yml`, `data/`, the log, pid
//! files), starts Prometheus with `--web.enable-lifecycle` on a free 127.0.0.1 port and
//! returns once `/-/ready` answers 200.
//!
//! Dropping [`RunningPrometheus`] kills the process or removes the container, then removes
//! the work directory. Drop is synchronous (subprocesses, no async runtime needed), so it
//! works inside a runtime of either flavour, while a runtime shuts down, and without one;
//! it never panics and logs failures with `tracing`.
//!
//! # Ctrl-C
//!
//! Run the work inside [`cancel_on_ctrl_c`] (or an equivalent `tokio::select!` on
//! `tokio::signal::ctrl_c()`): the cancelled future is dropped, and with it every handle.
//! The Prometheus process runs in its own process group, so the terminal's SIGINT does not
//! kill it behind the harness' back. If the harness dies without unwinding (SIGKILL, no
//! handler), the next [`start`] sweeps what it left.

mod choice;
mod container;
mod detached;
mod docker;
mod error;
mod image;
mod process;
mod sweep;
mod web_config;
mod workdir;

use std::{
    fmt,
    path::{Path, PathBuf},
    str::FromStr,
    time::{Duration, Instant},
};

pub use crate::supervise::{keep_requested, OWNER_PID_ENV};
pub use choice::PrometheusChoice;
pub(crate) use detached::{start_detached, DetachedPrometheus, DetachedSpec};
pub use error::{BackendError, CleanupError, ImageBuildError, ParseBackendKindError};
pub(crate) use sweep::pid_alive;
pub use sweep::{sweep_leftovers, SweepReport};
pub use web_config::{
    audit_own_web_config, EndpointCheck, OwnProbe, PrometheusTls, PrometheusWebConfig,
    PROTECTED_PATHS,
};
pub use workdir::free_local_port;

use crate::targets::{ApiError, PromApi};
use container::ContainerRun;
use process::ProcessRun;
use workdir::WorkDir;

/// Label naming the pid of the harness that owns a container (see [`sweep_leftovers`]).
pub const OWNER_PID_LABEL: &str = container::OWNER_PID_LABEL;
/// Label carrying the random run id of a container.
pub const RUN_LABEL: &str = container::RUN_LABEL;

/// How often `/-/ready` is polled.
const READY_POLL: Duration = Duration::from_millis(50);

/// Which kind of Prometheus to run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum BackendKind {
    /// A container when a Docker engine answers and an image is available or buildable,
    /// else a local process.
    #[default]
    Auto,
    /// A container (testcontainers, host networking).
    Container,
    /// A local `prometheus` process.
    Process,
    /// A local `prometheus` process that outlives the command that started it (the labs);
    /// started inside the crate with `start_detached`, not [`start`], and needs the
    /// crate-internal `PrometheusOptions::detached`. Not a `--backend` choice.
    Detached,
}

impl BackendKind {
    /// The lowercase name, as on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::Container => "container",
            Self::Process => "process",
            Self::Detached => "detached",
        }
    }
}

impl fmt::Display for BackendKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for BackendKind {
    type Err = ParseBackendKindError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "auto" => Ok(Self::Auto),
            "container" => Ok(Self::Container),
            "process" => Ok(Self::Process),
            _ => Err(ParseBackendKindError {
                given: s.to_owned(),
            }),
        }
    }
}

/// What to start. `PrometheusOptions::new(yaml)` fills in the defaults.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrometheusOptions {
    /// Container, process, or pick one.
    pub kind: BackendKind,
    /// `--prometheus-image`: the image to run (pulled only if missing locally).
    pub image: Option<String>,
    /// `--prometheus-bin`: the binary to run, or to build the offline image from.
    pub binary: Option<PathBuf>,
    /// The `prometheus.yml` text.
    pub config_yaml: String,
    /// Directories the config refers to (PKI, password files), mounted at the same path
    /// inside a container. Must exist.
    pub extra_mounts: Vec<PathBuf>,
    /// More Prometheus flags, after ours.
    pub extra_args: Vec<String>,
    /// Port for `--web.listen-address=127.0.0.1:<port>`; `None` picks a free one. Set it
    /// when the config must name Prometheus' own address (see [`free_local_port`]).
    pub listen_port: Option<u16>,
    /// How long to wait for `/-/ready`.
    pub ready_timeout: Duration,
    /// Prometheus' own `--web.config.file` (TLS, Basic auth on its UI and API); the API
    /// client then uses its CA and credentials.
    pub web_config: Option<PrometheusWebConfig>,
    /// Where a [`BackendKind::Detached`] Prometheus keeps its files and which config file
    /// it runs (crate-internal: the labs start it).
    pub(crate) detached: Option<DetachedSpec>,
}

impl PrometheusOptions {
    /// Defaults: auto backend, no image or binary override, 30 s ready timeout.
    pub fn new(config_yaml: impl Into<String>) -> Self {
        Self {
            kind: BackendKind::Auto,
            image: None,
            binary: None,
            config_yaml: config_yaml.into(),
            extra_mounts: Vec::new(),
            extra_args: Vec::new(),
            listen_port: None,
            ready_timeout: Duration::from_secs(30),
            web_config: None,
            detached: None,
        }
    }
}

/// What runs Prometheus.
#[derive(Debug)]
enum Backend {
    Container(ContainerRun),
    Process(ProcessRun),
}

/// What the ready-wait asks of a Prometheus that is starting, whatever runs it.
trait Starting {
    /// `Some(status)` once it has exited.
    async fn exit_status(&mut self) -> Option<String>;
    /// The last `lines` of its log.
    fn log_tail(&self, lines: usize) -> String;
}

impl Starting for Backend {
    async fn exit_status(&mut self) -> Option<String> {
        Backend::exit_status(self).await
    }

    fn log_tail(&self, lines: usize) -> String {
        Backend::log_tail(self, lines)
    }
}

impl Backend {
    async fn exit_status(&self) -> Option<String> {
        match self {
            Self::Container(run) => run.exit_status().await,
            Self::Process(run) => run.exit_status().map(|status| status.to_string()),
        }
    }

    fn log_tail(&self, lines: usize) -> String {
        match self {
            Self::Container(run) => run.log_tail(lines),
            Self::Process(run) => run.log_tail(lines),
        }
    }
}

/// A ready Prometheus. Dropping it stops Prometheus and removes everything it used.
#[must_use = "dropping a RunningPrometheus stops Prometheus at once"]
#[derive(Debug)]
pub struct RunningPrometheus {
    // Declared before `workdir`: Prometheus stops before its directory is removed.
    backend: Backend,
    workdir: WorkDir,
    base_url: String,
    description: String,
    api: PromApi,
}

impl RunningPrometheus {
    /// `http://127.0.0.1:<port>`.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The backend that was picked: [`BackendKind::Container`] or [`BackendKind::Process`].
    pub fn kind(&self) -> BackendKind {
        match self.backend {
            Backend::Container(_) => BackendKind::Container,
            Backend::Process(_) => BackendKind::Process,
        }
    }

    /// What runs and why, e.g. `container scrape-harness/prometheus:2.42.0 (offline image
    /// built from /usr/bin/prometheus; auto: Docker engine 20.10.24 answers)`.
    pub fn description(&self) -> String {
        self.description.clone()
    }

    /// The `prometheus.yml` on the host (the same path inside a container).
    pub fn config_path(&self) -> PathBuf {
        self.workdir.config_path()
    }

    /// The work directory (config, `data/`, log, pid files).
    pub fn work_dir(&self) -> &Path {
        self.workdir.path()
    }

    /// The container id, for the container backend.
    pub fn container_id(&self) -> Option<&str> {
        match &self.backend {
            Backend::Container(run) => Some(run.id()),
            Backend::Process(_) => None,
        }
    }

    /// The process id, for the process backend.
    pub fn pid(&self) -> Option<u32> {
        match &self.backend {
            Backend::Container(_) => None,
            Backend::Process(run) => Some(run.pid()),
        }
    }

    /// `Some(how)` once Prometheus has exited: the process' exit status (code or signal),
    /// or the container's state. Cheap enough to poll every few hundred milliseconds, so a
    /// run can end soon after Prometheus dies.
    pub async fn exit_status(&self) -> Option<String> {
        self.backend.exit_status().await
    }

    /// The last 40 lines of Prometheus' log, for failure reports.
    pub fn logs(&self) -> String {
        self.backend
            .log_tail(crate::supervise::logtail::REPORT_LINES)
    }

    /// The last `n` lines of Prometheus' log (as many as are kept), for searching.
    pub fn log_lines(&self, n: usize) -> String {
        self.backend.log_tail(n)
    }

    /// Replaces `prometheus.yml`, asks Prometheus to reload it (`POST /-/reload`), and
    /// checks `prometheus_config_last_reload_successful` is 1.
    pub async fn reload(&self, new_config_yaml: &str) -> Result<(), BackendError> {
        self.workdir.write_config(new_config_yaml)?;
        match self.api.reload().await {
            Ok(()) => {}
            Err(ApiError::Status { status, body, .. }) => {
                return Err(self.reload_rejected(format!("HTTP {status}: {}", body.trim())))
            }
            Err(e) => return Err(e.into()),
        }
        match self
            .metric("prometheus_config_last_reload_successful")
            .await?
        {
            Some(1.0) => Ok(()),
            Some(value) => Err(self.reload_rejected(format!(
                "prometheus_config_last_reload_successful is {value}"
            ))),
            None => Err(self.reload_rejected(
                "prometheus_config_last_reload_successful is missing from /metrics".to_owned(),
            )),
        }
    }

    /// Stops Prometheus and removes the work directory, reporting failures.
    pub async fn stop(self) -> Result<(), BackendError> {
        let Self {
            backend,
            workdir,
            description,
            ..
        } = self;
        let stopped = match backend {
            Backend::Container(run) => run.stop().await,
            Backend::Process(run) => run.stop(),
        };
        if let Err(source) = stopped {
            return Err(BackendError::Stop {
                description,
                source,
            });
        }
        workdir.close()
    }

    fn reload_rejected(&self, detail: String) -> BackendError {
        BackendError::ReloadRejected {
            path: self.config_path(),
            detail,
            log: self.report_log(),
        }
    }

    /// [`Self::logs`], or a note that there is no output yet.
    fn report_log(&self) -> String {
        report_log(&self.backend)
    }

    /// The value of an unlabelled sample on `/metrics`.
    async fn metric(&self, name: &str) -> Result<Option<f64>, BackendError> {
        let (_, samples) = self.api.self_metrics().await?;
        Ok(samples
            .into_iter()
            .find(|s| s.name == name && s.labels.is_empty())
            .map(|s| s.value))
    }

    /// The client of this Prometheus' HTTP API (the one every part of the harness uses).
    pub fn api(&self) -> &PromApi {
        &self.api
    }
}

/// Starts Prometheus as `opts` says and returns once `/-/ready` answers 200.
pub async fn start(opts: PrometheusOptions) -> Result<RunningPrometheus, BackendError> {
    match tokio::task::spawn_blocking(sweep_leftovers).await {
        Ok(report) if !report.is_empty() => {
            tracing::info!(?report, "removed leftovers of earlier runs");
        }
        Ok(_) => {}
        Err(err) => tracing::warn!("leftover sweep failed: {err}"),
    }
    let plan = plan(&opts).await?;
    let mut mounts = opts.extra_mounts.clone();
    mounts.extend(opts.web_config.iter().flat_map(|w| w.mounts()));
    let extra_mounts = checked_mounts(&mounts)?;
    let workdir = WorkDir::create(&opts.config_yaml)?;
    let port = match opts.listen_port {
        Some(port) => port,
        None => free_local_port()
            .map_err(|e| BackendError::io(workdir.path(), "picking a free port for", e))?,
    };
    let mut args = prometheus_args(&workdir, port, &opts.extra_args);
    if let Some(web) = &opts.web_config {
        let path = workdir.path().join("web-config.yml");
        workdir.write("web-config.yml", &web.render(&path).await?)?;
        args.push(format!("--web.config.file={}", path.display()));
    }
    let (backend, description) = match plan {
        Plan::Container { image, why } => {
            let run = ContainerRun::start(
                &image.reference,
                &args,
                &workdir,
                &extra_mounts,
                opts.ready_timeout,
            )
            .await?;
            let description = format!("container {} ({}{why})", run.image(), image.origin);
            (Backend::Container(run), description)
        }
        Plan::Process { binary, why } => {
            let run = ProcessRun::spawn(&binary, &args, &workdir)?;
            let description = format!(
                "process {} (pid {}{why})",
                run.binary().display(),
                run.pid()
            );
            (Backend::Process(run), description)
        }
    };
    let (base_url, api) = match &opts.web_config {
        None => {
            let base_url = format!("http://127.0.0.1:{port}");
            let api = PromApi::new(&base_url);
            (base_url, api)
        }
        Some(web) => {
            let base_url = format!("{}://127.0.0.1:{port}", web.scheme());
            let api = web.client(&base_url)?;
            (base_url, api)
        }
    };
    let mut running = RunningPrometheus {
        backend,
        workdir,
        api,
        base_url,
        description,
    };
    wait_ready(&mut running, opts.ready_timeout).await?;
    Ok(running)
}

/// The decision of `start`, before anything runs.
enum Plan {
    Container {
        image: image::ImageChoice,
        why: String,
    },
    Process {
        binary: PathBuf,
        why: String,
    },
}

async fn plan(opts: &PrometheusOptions) -> Result<Plan, BackendError> {
    match opts.kind {
        BackendKind::Detached => Err(BackendError::ConflictingOptions(
            "a detached Prometheus outlives its handle: start it with `start_detached`".to_owned(),
        )),
        BackendKind::Process => {
            if let Some(image) = &opts.image {
                return Err(BackendError::ConflictingOptions(format!(
                    "the process backend cannot run the container image {image}: ask for the \
                     container backend, or give no image"
                )));
            }
            let binary = process::find_binary(opts.binary.as_deref())?;
            Ok(Plan::Process {
                binary,
                why: String::new(),
            })
        }
        BackendKind::Container => {
            docker::engine_version().await?;
            let image = image::select(opts.image.as_deref(), opts.binary.as_deref()).await?;
            Ok(Plan::Container {
                image,
                why: String::new(),
            })
        }
        BackendKind::Auto => {
            let engine = docker::engine_version().await;
            let image = match &engine {
                Ok(_) => Some(image::select(opts.image.as_deref(), opts.binary.as_deref()).await),
                Err(_) => None,
            };
            match (engine, image) {
                (Ok(version), Some(Ok(image))) => Ok(Plan::Container {
                    image,
                    why: format!("; auto: Docker engine {version} answers"),
                }),
                // An image named explicitly is a request for a container: no fallback.
                (Err(err), _) | (Ok(_), Some(Err(err))) if opts.image.is_some() => Err(err),
                (Err(err), _) | (Ok(_), Some(Err(err))) => {
                    let binary = process::find_binary(opts.binary.as_deref())?;
                    Ok(Plan::Process {
                        binary,
                        why: format!("; auto: no container because {err}"),
                    })
                }
                (Ok(_), None) => unreachable!("an image is selected whenever the engine answers"),
            }
        }
    }
}

fn checked_mounts(mounts: &[PathBuf]) -> Result<Vec<PathBuf>, BackendError> {
    let mut checked: Vec<PathBuf> = Vec::new();
    for path in mounts {
        let canonical = path.canonicalize().map_err(|e| BackendError::ExtraMount {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        if !canonical.is_dir() {
            return Err(BackendError::ExtraMount {
                path: path.clone(),
                reason: "not a directory".to_owned(),
            });
        }
        if !checked.contains(&canonical) {
            checked.push(canonical);
        }
    }
    Ok(checked)
}

fn prometheus_args(workdir: &WorkDir, port: u16, extra: &[String]) -> Vec<String> {
    let mut args = vec![
        format!("--config.file={}", workdir.config_path().display()),
        format!("--storage.tsdb.path={}", workdir.data_dir().display()),
        format!("--web.listen-address=127.0.0.1:{port}"),
        "--web.enable-lifecycle".to_owned(),
    ];
    args.extend(extra.iter().cloned());
    args
}

/// Polls `/-/ready` every 50 ms until 200, an early exit, or the deadline.
async fn wait_ready(
    running: &mut RunningPrometheus,
    timeout: Duration,
) -> Result<(), BackendError> {
    let RunningPrometheus {
        backend,
        api,
        base_url,
        description,
        ..
    } = running;
    wait_ready_of(backend, api, base_url, description, timeout).await
}

/// The last lines of a starting Prometheus' log, or a note that there is no output yet.
fn report_log(starting: &impl Starting) -> String {
    let log = starting.log_tail(crate::supervise::logtail::REPORT_LINES);
    if log.trim().is_empty() {
        "(no output yet)".to_owned()
    } else {
        log
    }
}

/// [`wait_ready`] for any [`Starting`] Prometheus answering at `base_url`.
async fn wait_ready_of(
    starting: &mut impl Starting,
    api: &PromApi,
    base_url: &str,
    description: &str,
    timeout: Duration,
) -> Result<(), BackendError> {
    let url = format!("{base_url}/-/ready");
    let deadline = Instant::now() + timeout;
    let mut ticks = tokio::time::interval(READY_POLL);
    loop {
        ticks.tick().await;
        let last = match api.ready().await {
            Ok(()) => return Ok(()),
            Err(err) => err.to_string(),
        };
        if let Some(status) = starting.exit_status().await {
            return Err(BackendError::ExitedEarly {
                description: description.to_owned(),
                status,
                log: report_log(starting),
            });
        }
        if Instant::now() >= deadline {
            return Err(BackendError::NotReady {
                description: description.to_owned(),
                url,
                timeout,
                last,
                log: report_log(starting),
            });
        }
    }
}

/// The image the container backend runs for these overrides (`--prometheus-image`,
/// `--prometheus-bin`), building the offline image when needed, as
/// `scripts/build-prometheus-image` does. Fails when no Docker engine answers.
pub async fn prometheus_image(
    image: Option<&str>,
    binary: Option<&Path>,
) -> Result<String, BackendError> {
    docker::engine_version().await?;
    Ok(image::select(image, binary).await?.reference)
}

/// Runs `work` until it finishes or Ctrl-C arrives; on Ctrl-C the future is dropped (and
/// with it every [`RunningPrometheus`] it holds) and `None` is returned.
pub async fn cancel_on_ctrl_c<F: std::future::Future>(work: F) -> Option<F::Output> {
    // SIGTERM (CI cancelling a job, `timeout`) cancels like Ctrl-C does.
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                term.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        output = work => Some(output),
        _ = tokio::signal::ctrl_c() => None,
        _ = terminate => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_kind_parses_and_prints_its_cli_names() {
        for kind in [
            BackendKind::Auto,
            BackendKind::Container,
            BackendKind::Process,
        ] {
            assert_eq!(kind.to_string().parse::<BackendKind>(), Ok(kind));
        }
        assert_eq!("Process".parse::<BackendKind>(), Ok(BackendKind::Process));
        let err = "podman".parse::<BackendKind>().unwrap_err().to_string();
        assert!(
            err.contains("`podman`: use auto, container or process"),
            "{err}"
        );
    }

    #[test]
    fn args_put_everything_in_the_work_directory() {
        let workdir = WorkDir::create("").unwrap();
        let args = prometheus_args(&workdir, 9999, &["--log.level=debug".to_owned()]);
        let dir = workdir.path().display();
        assert_eq!(
            args,
            [
                format!("--config.file={dir}/prometheus.yml"),
                format!("--storage.tsdb.path={dir}/data"),
                "--web.listen-address=127.0.0.1:9999".to_owned(),
                "--web.enable-lifecycle".to_owned(),
                "--log.level=debug".to_owned(),
            ]
        );
    }

    #[test]
    fn extra_mounts_must_be_existing_directories() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        std::fs::write(&file, "").unwrap();
        let err = checked_mounts(&[file]).unwrap_err();
        assert!(err.to_string().contains("not a directory"), "{err}");
        let twice = checked_mounts(&[dir.path().to_owned(), dir.path().join(".")]).unwrap();
        assert_eq!(twice.len(), 1);
    }

    #[tokio::test]
    async fn process_with_an_image_is_a_conflict() {
        let mut opts = PrometheusOptions::new("");
        opts.kind = BackendKind::Process;
        opts.image = Some("prom/prometheus:latest".to_owned());
        let Err(err) = plan(&opts).await else {
            panic!("expected a conflict");
        };
        assert!(
            err.to_string().contains(
                "the process backend cannot run the container image prom/prometheus:latest"
            ),
            "{err}"
        );
    }
}

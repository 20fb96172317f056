//! Errors of the Prometheus backends. Every message says what failed and how to fix it.

use std::{io, path::PathBuf, time::Duration};

use crate::supervise::SuperviseError;

/// Why a Prometheus backend could not be started, reloaded or stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BackendError {
    /// No Prometheus binary given and no `prometheus` on `PATH`.
    #[error(
        "no `prometheus` binary found: install it with `apt-get install -y prometheus` \
         or give the binary's path (PrometheusOptions::binary; on the command line \
         --prometheus-bin PATH)"
    )]
    BinaryNotFound,

    /// The Prometheus binary given cannot be run.
    #[error(
        "the Prometheus binary {}: {reason}; give the path of an executable `prometheus` binary",
        .path.display()
    )]
    BinaryUnusable {
        /// The path that was given.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },

    /// Options that cannot be combined.
    #[error("{0}")]
    ConflictingOptions(String),

    /// The `docker` command-line client is not installed.
    #[error(
        "the `docker` command is not installed: run `bash scripts/setup` (installs docker.io) \
         or use the process backend (BackendKind::Process; --backend process)"
    )]
    DockerCliMissing,

    /// `docker info` failed.
    #[error(
        "Docker engine not reachable (`docker info`: {detail}): start it with \
         `bash scripts/setup` or use the process backend (BackendKind::Process; --backend \
         process)"
    )]
    DockerUnavailable {
        /// What `docker info` said.
        detail: String,
    },

    /// A `docker` subcommand failed or timed out.
    #[error("`docker {command}` failed: {detail}")]
    DockerCommand {
        /// The subcommand and its arguments.
        command: String,
        /// Its stderr, or the timeout.
        detail: String,
    },

    /// The image asked for is not local and cannot be pulled.
    #[error(
        "image `{image}` is not present locally and `docker pull {image}` failed ({detail}): \
         load it with `docker load -i FILE`, or name no image (drop --prometheus-image) to use \
         the offline image built from the local `prometheus` binary"
    )]
    ImageUnavailable {
        /// The image reference.
        image: String,
        /// What `docker pull` said.
        detail: String,
    },

    /// Building the offline image failed.
    #[error(
        "building the offline Prometheus image `{image}` from {} failed: {source}; run \
         `bash scripts/build-prometheus-image {}` to see the whole output, or use the process backend",
        .binary.display(), .binary.display()
    )]
    ImageBuild {
        /// The tag being built.
        image: String,
        /// The binary it was built from.
        binary: PathBuf,
        /// Why it failed.
        #[source]
        source: ImageBuildError,
    },

    /// testcontainers could not create or start the container.
    #[error("starting a container from image `{image}` failed: {source}; check `docker ps -a` and the engine log")]
    ContainerStart {
        /// The image reference.
        image: String,
        /// The testcontainers error.
        #[source]
        source: Box<testcontainers::TestcontainersError>,
    },

    /// Prometheus' own web config cannot be written.
    #[error("Prometheus' own web config (--web.config.file): {reason}")]
    WebConfig {
        /// What is wrong.
        reason: String,
    },

    /// A directory in `extra_mounts` cannot be mounted.
    #[error(
        "extra mount {}: {reason}; list only existing directories that the Prometheus config refers to",
        .path.display()
    )]
    ExtraMount {
        /// The path that was given.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },

    /// A file-system operation on the work directory failed.
    #[error("{}: {action} failed: {source}", .path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What was being done.
        action: &'static str,
        /// The underlying error.
        #[source]
        source: io::Error,
    },

    /// Prometheus exited before `/-/ready` answered 200.
    #[error(
        "Prometheus ({description}) exited before it was ready ({status}); last log lines:\n{log}"
    )]
    ExitedEarly {
        /// Which backend.
        description: String,
        /// Exit status or container state.
        status: String,
        /// The last lines of its log.
        log: String,
    },

    /// `/-/ready` did not answer 200 within the deadline.
    #[error(
        "Prometheus ({description}) was not ready at {url} within {timeout:?} (last answer: {last}); \
         its last log lines say why (`run` allows more time the more jobs it has, 3 min for 10,000; \
         with more jobs than this machine loads in that time, split the cases over several runs):\n{log}"
    )]
    NotReady {
        /// Which backend.
        description: String,
        /// The probed URL.
        url: String,
        /// The deadline.
        timeout: Duration,
        /// The last status or connection error.
        last: String,
        /// The last lines of its log.
        log: String,
    },

    /// Prometheus refused the new configuration.
    #[error(
        "Prometheus rejected the new configuration in {} ({detail}); check it with \
         `promtool check config {}`; last log lines:\n{log}",
        .path.display(), .path.display()
    )]
    ReloadRejected {
        /// The config file.
        path: PathBuf,
        /// HTTP status and body, or the reload metric.
        detail: String,
        /// The last lines of its log.
        log: String,
    },

    /// A detached Prometheus already runs from this directory.
    #[error(
        "{}: a detached Prometheus (pid {pid}) already runs from here; stop it first",
        .dir.display()
    )]
    DetachedRunning {
        /// Its directory.
        dir: PathBuf,
        /// Its pid.
        pid: u32,
    },

    /// Prometheus' HTTP API failed (reload, or reading its own metrics).
    #[error("{0}; is Prometheus still running? (see its log)")]
    Api(#[from] crate::targets::ApiError),

    /// Stopping the backend failed; something may be left behind.
    #[error(
        "stopping Prometheus ({description}) failed: {source}; the next run removes leftovers"
    )]
    Stop {
        /// Which backend.
        description: String,
        /// What failed.
        #[source]
        source: CleanupError,
    },
}

/// Why a step of building the offline image failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImageBuildError {
    /// A file-system step on the build context failed.
    #[error("{action} {}: {source}", .path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// Copying the binary or a library into the image's root file system failed.
    #[error("copying {} to {}: {source}", .from.display(), .to.display())]
    Copy {
        /// The source file.
        from: PathBuf,
        /// The destination inside the build context.
        to: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// `ldd` could not be run.
    #[error("running `ldd` (install libc-bin): {source}")]
    LddSpawn {
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// `ldd` did not answer in time.
    #[error("`ldd {}` did not answer within {timeout:?}", .binary.display())]
    LddTimeout {
        /// The binary inspected.
        binary: PathBuf,
        /// The deadline.
        timeout: Duration,
    },
    /// `ldd` failed.
    #[error("`ldd {}` failed: {output}", .binary.display())]
    Ldd {
        /// The binary inspected.
        binary: PathBuf,
        /// Its stdout and stderr.
        output: String,
    },
    /// `docker build` failed.
    #[error("`docker build` failed: {stderr}")]
    DockerBuild {
        /// Its stderr (or exit status).
        stderr: String,
    },
}

/// Why something the harness started (a process, a container) could not be removed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CleanupError {
    /// A helper command (`docker`, `kill`) could not be run at all.
    #[error("running `{command}` failed: {source}")]
    Spawn {
        /// The command line.
        command: String,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// A helper command ran and failed.
    #[error("`{command}` failed: {detail}")]
    Command {
        /// The command line.
        command: String,
        /// Its stderr or exit status.
        detail: String,
    },
    /// Killing or reaping a child process failed.
    #[error("{action} pid {pid} failed: {source}")]
    Signal {
        /// The process.
        pid: u32,
        /// `killing` or `reaping`.
        action: &'static str,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// A process survived SIGKILL for longer than the deadline.
    #[error("pid {pid} still alive {waited:?} after SIGKILL")]
    StillAlive {
        /// The process.
        pid: u32,
        /// How long it was waited for.
        waited: Duration,
    },
    /// testcontainers could not remove a container.
    #[error("removing container {id} failed: {source}")]
    Container {
        /// The container id.
        id: String,
        /// The testcontainers error.
        #[source]
        source: Box<testcontainers::TestcontainersError>,
    },
}

/// A name that is not a [`BackendKind`](super::BackendKind).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown backend `{given}`: use auto, container or process")]
pub struct ParseBackendKindError {
    /// What was given.
    pub given: String,
}

impl BackendError {
    pub(crate) fn io(path: impl Into<PathBuf>, action: &'static str, source: io::Error) -> Self {
        Self::Io {
            path: path.into(),
            action,
            source,
        }
    }
}

impl From<SuperviseError> for BackendError {
    fn from(err: SuperviseError) -> Self {
        match err {
            SuperviseError::Io { what, path, source } => Self::io(path, what, source),
            SuperviseError::Spawn { program, source } => Self::BinaryUnusable {
                path: program,
                reason: format!("cannot be started: {source}"),
            },
            other => Self::Stop {
                description: "a Prometheus process".to_owned(),
                source: other.into(),
            },
        }
    }
}

impl From<SuperviseError> for CleanupError {
    fn from(err: SuperviseError) -> Self {
        match err {
            SuperviseError::Signal {
                pid,
                action,
                source,
                ..
            } => Self::Signal {
                pid,
                action,
                source,
            },
            SuperviseError::StillAlive { pid, waited, .. } => Self::StillAlive { pid, waited },
            other => Self::Command {
                command: "stopping a child process".to_owned(),
                detail: other.to_string(),
            },
        }
    }
}

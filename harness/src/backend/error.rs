//! Errors of the Prometheus backends. Every message says what failed and how to fix it.

use std::{io, path::PathBuf, time::Duration};

/// Why a Prometheus backend could not be started, reloaded or stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BackendError {
    /// No `--prometheus-bin` and no `prometheus` on `PATH`.
    #[error(
        "no `prometheus` binary found: install it with `apt-get install -y prometheus` \
         or pass --prometheus-bin PATH"
    )]
    BinaryNotFound,

    /// `--prometheus-bin` points at something that cannot be run.
    #[error(
        "--prometheus-bin {}: {reason}; pass the path of an executable `prometheus` binary",
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
         or use --backend process"
    )]
    DockerCliMissing,

    /// `docker info` failed.
    #[error(
        "Docker engine not reachable (`docker info`: {detail}): start it with \
         `bash scripts/setup` or use --backend process"
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

    /// The image named with `--prometheus-image` is not local and cannot be pulled.
    #[error(
        "image `{image}` is not present locally and `docker pull {image}` failed ({detail}): \
         load it with `docker load -i FILE`, or omit --prometheus-image to use the offline \
         image built from the local `prometheus` binary"
    )]
    ImageUnavailable {
        /// The image reference.
        image: String,
        /// What `docker pull` said.
        detail: String,
    },

    /// Building the offline image failed.
    #[error(
        "building the offline Prometheus image `{image}` from {} failed: {detail}; run \
         `bash scripts/build-prometheus-image {}` to see the whole output, or use --backend process",
        .binary.display(), .binary.display()
    )]
    ImageBuild {
        /// The tag being built.
        image: String,
        /// The binary it was built from.
        binary: PathBuf,
        /// Why it failed.
        detail: String,
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
         raise the ready timeout or read its last log lines:\n{log}"
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

    /// An HTTP request to Prometheus failed.
    #[error("{what} {url} failed: {source}; is Prometheus still running? (see its log)")]
    Http {
        /// What was being requested.
        what: &'static str,
        /// The URL.
        url: String,
        /// The reqwest error.
        #[source]
        source: reqwest::Error,
    },

    /// Stopping the backend failed; something may be left behind.
    #[error(
        "stopping Prometheus ({description}) failed: {detail}; the next run removes leftovers"
    )]
    Stop {
        /// Which backend.
        description: String,
        /// What failed.
        detail: String,
    },
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

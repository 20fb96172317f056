//! Which Prometheus a command runs: the one options struct every command's options hold
//! (`--backend`, `--prometheus-image`, `--prometheus-bin` on the command line).

use std::path::PathBuf;

use super::{BackendKind, PrometheusOptions};

/// The backend and, optionally, the image or binary to run. Every command's options hold
/// one; [`fill`](Self::fill) copies it into the [`PrometheusOptions`] that start Prometheus.
///
/// ```
/// use scrape_harness::{BackendKind, PrometheusChoice, prometheus::PrometheusOptions};
///
/// let choice = PrometheusChoice::from(BackendKind::Process);
/// let mut options = PrometheusOptions::new("global: {}\n");
/// choice.fill(&mut options);
/// assert_eq!(options.kind, BackendKind::Process);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PrometheusChoice {
    /// Container, process, or auto (a container when a Docker engine answers).
    pub kind: BackendKind,
    /// The container image (default: the official one where it can be pulled, else the
    /// offline image built from the local binary).
    pub image: Option<String>,
    /// The `prometheus` binary of the process backend, or the one the offline image is
    /// built from (default: `prometheus` on `PATH`).
    pub binary: Option<PathBuf>,
}

impl PrometheusChoice {
    /// Copies the choice into `options` (kind, image and binary; the rest is left as is).
    pub fn fill(&self, options: &mut PrometheusOptions) {
        options.kind = self.kind;
        options.image.clone_from(&self.image);
        options.binary.clone_from(&self.binary);
    }
}

impl From<BackendKind> for PrometheusChoice {
    /// That backend, with the default image and binary.
    fn from(kind: BackendKind) -> Self {
        Self {
            kind,
            ..Self::default()
        }
    }
}

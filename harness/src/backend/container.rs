//! The container backend: testcontainers with host networking, the work directory and
//! every extra mount bind-mounted at the same path, run as the owner of the work
//! directory, labelled for the leftover sweep.
//!
//! Removal on drop does not use testcontainers' own `Drop`: that one needs a current tokio
//! runtime (`Handle::current()` panics without one) and issues its request through it
//! (which fails once the runtime shuts down). `docker rm --force` from a blocking
//! subprocess works in every context, so drop runs that and forgets the handle; the
//! consuming `stop()` still uses testcontainers' `rm()`.

use std::{path::PathBuf, time::Duration};

use testcontainers::{
    core::{logs::LogFrame, Mount, WaitFor},
    runners::AsyncRunner,
    ContainerAsync, Image, ImageExt,
};

use super::{docker, workdir::WorkDir, BackendError, CleanupError};
use crate::supervise::logtail::LogBuffer;

/// Label naming the pid of the harness that started a container.
pub(crate) const OWNER_PID_LABEL: &str = "scrape-harness.owner-pid";
/// Label carrying the run id (the work directory's random suffix).
pub(crate) const RUN_LABEL: &str = "scrape-harness.run";

/// Any Prometheus image: only the required `Image` methods; readiness is probed by the
/// caller through `/-/ready` (host networking leaves no mapped port to wait on).
#[derive(Clone, Debug)]
pub(crate) struct PrometheusImage {
    name: String,
    tag: String,
}

impl PrometheusImage {
    /// Splits `repository[:tag]` (a registry port is not a tag).
    pub(crate) fn from_reference(reference: &str) -> Self {
        let (name, tag) = match reference.rsplit_once(':') {
            Some((name, tag)) if !tag.contains('/') => (name, tag),
            _ => (reference, "latest"),
        };
        Self {
            name: name.to_owned(),
            tag: tag.to_owned(),
        }
    }
}

impl Image for PrometheusImage {
    fn name(&self) -> &str {
        &self.name
    }

    fn tag(&self) -> &str {
        &self.tag
    }

    fn ready_conditions(&self) -> Vec<WaitFor> {
        Vec::new()
    }
}

/// A running Prometheus container; removed on drop.
pub(crate) struct ContainerRun {
    container: Option<ContainerAsync<PrometheusImage>>,
    id: String,
    image: String,
    logs: LogBuffer,
}

impl std::fmt::Debug for ContainerRun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ContainerRun")
            .field("id", &self.id)
            .field("image", &self.image)
            .finish_non_exhaustive()
    }
}

impl ContainerRun {
    /// Creates and starts the container (the image must be in the local store).
    pub(crate) async fn start(
        image: &str,
        args: &[String],
        workdir: &WorkDir,
        extra_mounts: &[PathBuf],
        startup_timeout: Duration,
    ) -> Result<Self, BackendError> {
        let (uid, gid) = workdir.owner()?;
        let logs = LogBuffer::default();
        let sink = logs.clone();
        let mut request = PrometheusImage::from_reference(image)
            .with_cmd(args.iter().cloned())
            .with_network("host")
            .with_user(format!("{uid}:{gid}"))
            .with_label(OWNER_PID_LABEL, std::process::id().to_string())
            .with_label(RUN_LABEL, workdir.run_id())
            .with_startup_timeout(startup_timeout)
            .with_log_consumer(move |frame: &LogFrame| match frame {
                LogFrame::StdOut(bytes) | LogFrame::StdErr(bytes) => sink.push(bytes),
            });
        for dir in std::iter::once(workdir.path()).chain(extra_mounts.iter().map(PathBuf::as_path))
        {
            let dir = dir.to_string_lossy().into_owned();
            request = request.with_mount(Mount::bind_mount(dir.clone(), dir));
        }
        let container = request
            .start()
            .await
            .map_err(|source| BackendError::ContainerStart {
                image: image.to_owned(),
                source: Box::new(source),
            })?;
        Ok(Self {
            id: container.id().to_owned(),
            container: Some(container),
            image: image.to_owned(),
            logs,
        })
    }

    /// The container id.
    pub(crate) fn id(&self) -> &str {
        &self.id
    }

    /// The image reference.
    pub(crate) fn image(&self) -> &str {
        &self.image
    }

    /// `Some(state)` once the container has stopped.
    pub(crate) async fn exit_status(&self) -> Option<String> {
        let container = self.container.as_ref()?;
        match container.is_running().await {
            Ok(true) => None,
            Ok(false) => Some(match container.exit_code().await {
                Ok(Some(code)) => format!("container exited with code {code}"),
                Ok(None) => "container not running".to_owned(),
                Err(err) => format!("container not running; exit code unknown: {err}"),
            }),
            Err(err) => Some(format!("container state unknown: {err}")),
        }
    }

    /// The last `lines` of the container output.
    pub(crate) fn log_tail(&self, lines: usize) -> String {
        let tail = self.logs.tail(lines);
        if !tail.is_empty() {
            return tail;
        }
        // The log stream may lag behind a container that died at once: ask the engine.
        let tail_arg = lines.to_string();
        match docker::blocking(&["logs", "--tail", &tail_arg, &self.id]) {
            Ok(out) => format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
            .trim_end()
            .to_owned(),
            Err(_) => String::new(),
        }
    }

    /// Removes the container through testcontainers (force, with volumes).
    pub(crate) async fn stop(mut self) -> Result<(), CleanupError> {
        let Some(container) = self.container.take() else {
            return Ok(());
        };
        container
            .rm()
            .await
            .map_err(|source| CleanupError::Container {
                id: self.id.clone(),
                source: Box::new(source),
            })
    }
}

impl Drop for ContainerRun {
    fn drop(&mut self) {
        let Some(container) = self.container.take() else {
            return;
        };
        if super::keep_requested() {
            eprintln!(
                "HARNESS_KEEP=1: keeping Prometheus container {id}; remove it with `docker rm -f {id}`",
                id = self.id
            );
            std::mem::forget(container);
            return;
        }
        if let Err(err) = docker::remove_blocking(&self.id) {
            tracing::warn!(
                "could not remove Prometheus container {} ({err}); remove it with `docker rm -f {}` \
                 or let the next run sweep it",
                self.id,
                self.id
            );
        }
        // Its own Drop would need a live runtime (see the module docs); the container is gone.
        std::mem::forget(container);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_split_into_name_and_tag() {
        let image = PrometheusImage::from_reference("scrape-harness/prometheus:2.42.0");
        assert_eq!(
            (image.name(), image.tag()),
            ("scrape-harness/prometheus", "2.42.0")
        );
        let image = PrometheusImage::from_reference("prom/prometheus");
        assert_eq!((image.name(), image.tag()), ("prom/prometheus", "latest"));
        let image = PrometheusImage::from_reference("localhost:5000/prom");
        assert_eq!(
            (image.name(), image.tag()),
            ("localhost:5000/prom", "latest")
        );
    }
}

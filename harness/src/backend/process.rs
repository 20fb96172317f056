//! The process backend: a local `prometheus` binary under the crate's one child-process
//! guard ([`Supervised`]: its own process group, so a Ctrl-C in the terminal reaches the
//! harness only, which then tears Prometheus down), its output in
//! `<workdir>/prometheus.log`, killed and reaped on drop.

use std::{
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
    process::{ExitStatus, Stdio},
    time::Duration,
};

use super::{workdir::WorkDir, workdir::PROMETHEUS_PID_FILE, BackendError, CleanupError};
use crate::supervise::{find_in_path, Output, Spec, Supervised};

/// A running Prometheus process; killed (SIGKILL) and reaped on drop.
#[derive(Debug)]
pub(crate) struct ProcessRun {
    /// `None` once stopped or kept (`HARNESS_KEEP=1`).
    child: Option<Supervised>,
    pid: u32,
    binary: PathBuf,
}

impl ProcessRun {
    /// Spawns `binary args…` and records its pid in the work directory.
    pub(crate) fn spawn(
        binary: &Path,
        args: &[String],
        workdir: &WorkDir,
    ) -> Result<Self, BackendError> {
        let child = Spec::new(binary)
            .args(args)
            .current_dir(workdir.path())
            .output(Output::File(workdir.log_path()))
            // SIGKILL at once: nothing of a test Prometheus is worth a graceful TSDB
            // shutdown, and the work directory is removed next.
            .grace(Duration::ZERO)
            .spawn()?;
        let run = Self {
            pid: child.pid(),
            child: Some(child),
            binary: binary.to_owned(),
        };
        workdir.write(PROMETHEUS_PID_FILE, &format!("{}\n", run.pid))?;
        Ok(run)
    }

    /// The process id.
    pub(crate) fn pid(&self) -> u32 {
        self.pid
    }

    /// The binary that runs.
    pub(crate) fn binary(&self) -> &Path {
        &self.binary
    }

    /// `Some(status)` (exit code or signal) once the process has exited.
    pub(crate) fn exit_status(&self) -> Option<ExitStatus> {
        self.child.as_ref()?.try_exit()
    }

    /// The last `lines` of its output.
    pub(crate) fn log_tail(&self, lines: usize) -> String {
        self.child
            .as_ref()
            .map(|c| c.log_tail(lines))
            .unwrap_or_default()
    }

    /// Kills and reaps the process.
    pub(crate) fn stop(mut self) -> Result<(), CleanupError> {
        match self.child.take() {
            Some(child) => child.stop().map(drop).map_err(CleanupError::from),
            None => Ok(()),
        }
    }
}

impl Drop for ProcessRun {
    fn drop(&mut self) {
        let Some(child) = self.child.take() else {
            return;
        };
        if super::keep_requested() {
            eprintln!(
                "HARNESS_KEEP=1: keeping the Prometheus process; stop it with `kill {}`",
                self.pid
            );
            child.disown();
        }
        // Otherwise the guard's drop kills and reaps it.
    }
}

/// `given`, or `prometheus` on `PATH`.
pub(crate) fn find_binary(given: Option<&Path>) -> Result<PathBuf, BackendError> {
    if let Some(path) = given {
        return check_executable(path).map(|()| path.to_owned());
    }
    find_in_path("prometheus").ok_or(BackendError::BinaryNotFound)
}

fn check_executable(path: &Path) -> Result<(), BackendError> {
    let unusable = |reason: String| BackendError::BinaryUnusable {
        path: path.to_owned(),
        reason,
    };
    let meta = std::fs::metadata(path).map_err(|e| unusable(e.to_string()))?;
    if !meta.is_file() {
        return Err(unusable("not a file".to_owned()));
    }
    if meta.permissions().mode() & 0o111 == 0 {
        return Err(unusable("not executable".to_owned()));
    }
    Ok(())
}

/// The version `binary --version` reports, e.g. `2.42.0+ds`.
pub(crate) async fn binary_version(binary: &Path) -> Result<String, BackendError> {
    let unusable = |reason: String| BackendError::BinaryUnusable {
        path: binary.to_owned(),
        reason,
    };
    let mut command = tokio::process::Command::new(binary);
    command
        .arg("--version")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    let out = tokio::time::timeout(Duration::from_secs(30), command.output())
        .await
        .map_err(|_| unusable("`--version` did not answer within 30 s".to_owned()))?
        .map_err(|e| unusable(format!("`--version` cannot run: {e}")))?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    parse_version(&text).ok_or_else(|| {
        unusable(format!(
            "`--version` printed no `prometheus, version X`: {}",
            text.trim()
        ))
    })
}

fn parse_version(text: &str) -> Option<String> {
    let rest = text.split("version ").nth(1)?;
    let version = rest.split_whitespace().next()?;
    version
        .starts_with(|c: char| c.is_ascii_digit())
        .then(|| version.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_is_read_from_the_first_line() {
        let text = "prometheus, version 2.42.0+ds (branch: debian/sid, revision: 2.42.0+ds-5)\n  \
                    go version:       go1.19.8\n";
        assert_eq!(parse_version(text).as_deref(), Some("2.42.0+ds"));
        assert_eq!(parse_version("usage: prometheus [<flags>]"), None);
    }

    #[test]
    fn a_given_binary_must_be_an_executable_file() {
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("prometheus");
        std::fs::write(&plain, "").unwrap();
        let err = find_binary(Some(&plain)).unwrap_err();
        assert!(err.to_string().contains("not executable"), "{err}");
        let err = find_binary(Some(dir.path())).unwrap_err();
        assert!(err.to_string().contains("not a file"), "{err}");
    }
}

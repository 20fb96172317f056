//! The programs a lab runs (fake-exporter, prometheus, nginx, openssl): found once, run
//! with a deadline, their output quoted when they fail. promtool is run by
//! [`crate::promconfig::promtool_check`] (`$PROMTOOL`, else `promtool` on `PATH`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::error::LabError;
use crate::promconfig::{promtool_check, PromConfigError, PromtoolCheck, PROMTOOL_ENV};
use crate::supervise::{find_in_path, poll_until_blocking, Output, Spec, SuperviseError};

/// Deadline of every command the labs run (openssl, promtool, nginx -t).
pub(crate) const COMMAND_DEADLINE: Duration = Duration::from_secs(30);
/// How often a running command is looked at.
const COMMAND_POLL: Duration = Duration::from_millis(20);

/// The programs a lab runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabTools {
    /// `fake-exporter`.
    pub fake_exporter: PathBuf,
    /// `prometheus`.
    pub prometheus: PathBuf,
    /// `nginx` (nginx-light).
    pub nginx: PathBuf,
    /// `openssl`.
    pub openssl: PathBuf,
}

impl LabTools {
    /// Finds every tool on `PATH` (and in `/usr/sbin`, where Debian puts nginx);
    /// `fake_exporter` defaults to the one next to the running binary, `prometheus` to the
    /// one on `PATH`.
    pub fn find(
        fake_exporter: Option<PathBuf>,
        prometheus: Option<PathBuf>,
    ) -> Result<Self, LabError> {
        let fake_exporter = match fake_exporter {
            // Absolute: lab servers run in the lab folder (a build-it lab's `check` starts
            // the exporter there).
            Some(path) => path.canonicalize().unwrap_or(path),
            None => {
                let beside = std::env::current_exe()
                    .ok()
                    .map(|exe| exe.with_file_name("fake-exporter"))
                    .filter(|p| p.is_file());
                match beside {
                    Some(p) => p,
                    None => find_in_path("fake-exporter").ok_or_else(|| LabError::ToolMissing {
                        tool: "fake-exporter".into(),
                        detail: "not next to scrape-harness nor on PATH; build it with `cargo build -p fake-exporter` or pass --fake-exporter".into(),
                        package: "(this workspace)",
                    })?,
                }
            }
        };
        let find = |tool: &str, package: &'static str| {
            find_in_path(tool).ok_or_else(|| LabError::ToolMissing {
                tool: tool.into(),
                detail: "not on PATH nor in /usr/sbin".into(),
                package,
            })
        };
        let prometheus = match prometheus {
            Some(p) if p.is_file() => p,
            Some(p) => {
                return Err(LabError::ToolMissing {
                    tool: p.display().to_string(),
                    detail: "given with --prometheus-bin, but not a file".into(),
                    package: "prometheus",
                })
            }
            None => find("prometheus", "prometheus")?,
        };
        Ok(Self {
            fake_exporter,
            prometheus,
            nginx: find("nginx", "nginx-light")?,
            openssl: find("openssl", "openssl")?,
        })
    }
}

/// Runs a command under the child-process guard with [`COMMAND_DEADLINE`] (blocking);
/// `Ok(output)` when it exits 0. A command that does not finish in time is stopped with its
/// process group.
pub(crate) fn run_command(program: &Path, args: &[String], cwd: &Path) -> Result<String, LabError> {
    let command = format!("{} {}", program.display(), args.join(" "));
    let child = Spec::new(program)
        .args(args)
        .current_dir(cwd)
        .output(Output::Memory)
        .spawn()
        .map_err(|e| LabError::Command {
            command: command.clone(),
            detail: match e {
                SuperviseError::Spawn { source, .. } => format!("cannot be started: {source}"),
                other => other.to_string(),
            },
        })?;
    let mut status = None;
    poll_until_blocking(COMMAND_DEADLINE, COMMAND_POLL, || {
        status = child.try_exit();
        status.is_some()
    });
    let Some(status) = status else {
        drop(child); // stops its group
        return Err(LabError::Command {
            command,
            detail: format!("no answer within {COMMAND_DEADLINE:?}"),
        });
    };
    let text = child.log_tail(usize::MAX);
    if status.success() {
        Ok(text)
    } else {
        Err(LabError::Command {
            command,
            detail: format!("{status}: {}", text.trim()),
        })
    }
}

/// `promtool check config FILE` (blocking): `None` when promtool accepts the file, else
/// what promtool said.
pub(crate) fn promtool(file: &Path) -> Result<Option<String>, LabError> {
    match promtool_check(file) {
        Ok(PromtoolCheck::Passed { .. }) => Ok(None),
        Err(PromConfigError::PromtoolMissing { .. }) => Err(LabError::ToolMissing {
            tool: "promtool".into(),
            detail: format!("neither ${PROMTOOL_ENV} nor on PATH"),
            package: "prometheus",
        }),
        Err(PromConfigError::PromtoolRejected { output, .. }) => Ok(Some(output)),
        Err(other) => Err(other.into()),
    }
}

/// What a failed tool said: the output of [`run_command`]'s "exit status: N: <output>", or
/// the whole error when it did not run.
pub(crate) fn tool_output(err: &LabError) -> String {
    match err {
        LabError::Command { detail, .. } => detail
            .strip_prefix("exit status: ")
            .and_then(|rest| rest.split_once(": "))
            .map_or_else(|| detail.clone(), |(_, output)| output.to_owned()),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_tool_is_quoted_without_its_exit_status() {
        let err = LabError::Command {
            command: "promtool check config x".into(),
            detail: "exit status: 1: FAILED: line 3: field x".into(),
        };
        assert_eq!(tool_output(&err), "FAILED: line 3: field x");
    }
}

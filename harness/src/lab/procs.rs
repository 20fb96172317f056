//! Processes of a lab (the exporter and nginx; Prometheus is the backend's detached
//! process): spawned detached (own process group, output in `.lab/`), found again by pid
//! and process group, killed as whole groups, and checked gone.
//!
//! A pid is only ever killed when `/proc` says it is in one of the lab's process groups
//! and its command line names the lab folder (nginx workers, renamed
//! `nginx: worker process`, are recognised by their group and name), so a recycled pid is
//! never hit.

use std::convert::Infallible;
use std::fs::{self, File};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::error::LabError;
use super::state::Proc;

pub(crate) use crate::backend::pid_alive;
use crate::procfs;
use crate::targets::{wait_until, Probe, WaitError};

/// How long a killed process may take to disappear.
const KILL_WAIT: Duration = Duration::from_secs(10);
/// Poll interval of every wait here.
const POLL: Duration = Duration::from_millis(50);

/// Spawns `program args` detached from the caller's terminal: in its own process group,
/// stdin closed, stdout and stderr appended to `log`.
pub(crate) fn spawn(
    program: &Path,
    args: &[String],
    cwd: &Path,
    log: &Path,
) -> Result<Child, LabError> {
    let out = File::options()
        .create(true)
        .append(true)
        .open(log)
        .map_err(|e| LabError::io("creating", log, e))?;
    let err = out
        .try_clone()
        .map_err(|e| LabError::io("duplicating", log, e))?;
    Command::new(program)
        .args(args)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .process_group(0)
        .spawn()
        .map_err(|e| LabError::Command {
            command: format!("{} {}", program.display(), args.join(" ")),
            detail: format!("cannot be started: {e}"),
        })
}

/// `(pid, pgid, command line)` of every process, from `/proc`.
fn processes() -> Vec<(u32, u32, String)> {
    procfs::pids()
        .into_iter()
        .filter(|pid| pid_alive(*pid))
        .filter_map(|pid| {
            let pgid = procfs::pgid(pid)?;
            let cmdline = String::from_utf8_lossy(&procfs::cmdline(pid)?).replace('\0', " ");
            Some((pid, pgid, cmdline))
        })
        .collect()
}

/// Live processes of the lab in `dir`: in one of `procs`' groups and naming the folder
/// (or an nginx worker of such a group), or anywhere naming the folder's `.lab/`.
pub(crate) fn lab_processes(dir: &Path, procs: &[Proc]) -> Vec<(u32, String)> {
    let marker = dir.display().to_string();
    let private = format!("{marker}/");
    processes()
        .into_iter()
        .filter(|(pid, pgid, cmdline)| {
            let ours = procs.iter().any(|p| p.pid == *pgid);
            let names_dir = cmdline.contains(&private) || cmdline.contains(&format!("{marker} "));
            (ours && (names_dir || cmdline.starts_with("nginx: ")))
                || (names_dir && *pid != std::process::id() && is_lab_binary(cmdline))
        })
        .map(|(pid, _, cmdline)| (pid, cmdline))
        .collect()
}

/// Whether a command line is one a lab starts (never the harness itself).
fn is_lab_binary(cmdline: &str) -> bool {
    let program = cmdline.split_whitespace().next().unwrap_or_default();
    let name = program.rsplit('/').next().unwrap_or_default();
    matches!(name, "prometheus" | "fake-exporter" | "nginx") || cmdline.starts_with("nginx: ")
}

/// Kills every process of the lab (SIGKILL) and waits until they are gone. Returns what
/// is still alive after the wait.
pub(crate) fn kill_lab(dir: &Path, procs: &[Proc]) -> Vec<(u32, String)> {
    let deadline = Instant::now() + KILL_WAIT;
    loop {
        let alive = lab_processes(dir, procs);
        if alive.is_empty() || Instant::now() >= deadline {
            return alive;
        }
        for (pid, _) in &alive {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
        std::thread::sleep(POLL); // a poll interval between checks, bounded by `deadline`
    }
}

/// Sends SIGHUP to `pid` (nginx: reload the config).
pub(crate) fn hangup(pid: u32) -> Result<(), LabError> {
    let status = Command::new("kill")
        .args(["-HUP", &pid.to_string()])
        .status()
        .map_err(|e| LabError::Command {
            command: format!("kill -HUP {pid}"),
            detail: e.to_string(),
        })?;
    if status.success() {
        Ok(())
    } else {
        Err(LabError::Command {
            command: format!("kill -HUP {pid}"),
            detail: status.to_string(),
        })
    }
}

/// Whether something accepts TCP connections on 127.0.0.1:`port` now.
pub(crate) async fn listening(port: u16) -> bool {
    matches!(
        tokio::time::timeout(
            Duration::from_secs(1),
            tokio::net::TcpStream::connect(("127.0.0.1", port))
        )
        .await,
        Ok(Ok(_))
    )
}

/// Waits until 127.0.0.1:`port` accepts connections; fails early when `child` exits.
pub(crate) async fn wait_listening(
    what: &str,
    port: u16,
    child: &mut Child,
    log: &Path,
    deadline: Duration,
) -> Result<(), LabError> {
    let child = Mutex::new(child);
    let child = &child;
    let waited = wait_until(deadline, POLL, move || async move {
        if listening(port).await {
            return Ok(Probe::Done(()));
        }
        let exited = child
            .lock()
            .ok()
            .and_then(|mut c| c.try_wait().ok().flatten());
        match exited {
            Some(status) => Err(Exited(status)),
            None => Ok(Probe::Pending(port)),
        }
    })
    .await;
    let detail = match waited {
        Ok(()) => return Ok(()),
        Err(WaitError::Probe { source, .. }) => format!("it exited ({})", source.0),
        Err(WaitError::Timeout { .. }) => format!("nothing listens on 127.0.0.1:{port}"),
    };
    Err(LabError::NotReady {
        what: what.to_owned(),
        waited: deadline,
        detail: format!("{detail}; its log {}:\n{}", log.display(), tail(log)),
    })
}

/// A child that exited while it was waited for.
#[derive(Debug, thiserror::Error)]
#[error("exited: {0}")]
struct Exited(ExitStatus);

/// Waits until nothing accepts connections on 127.0.0.1:`port`; whether it got there.
pub(crate) async fn wait_closed(port: u16, deadline: Duration) -> bool {
    wait_until(deadline, POLL, move || async move {
        Ok::<_, Infallible>(if listening(port).await {
            Probe::Pending(port)
        } else {
            Probe::Done(())
        })
    })
    .await
    .is_ok()
}

/// The last lines of a log file.
pub(crate) fn tail(path: &Path) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}

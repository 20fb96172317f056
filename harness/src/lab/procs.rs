//! Processes of a lab (the exporter and nginx; Prometheus is the backend's detached
//! process): started by the one child-process guard as detached children
//! ([`Spec::spawn_detached`]: own process group, output in `.lab/`, a record
//! `.lab/<role>.json` with pid and start time), stopped through their records, and checked
//! gone.
//!
//! What is left after the records are stopped (an nginx worker, a process of a start that
//! died before writing its state) is found in `/proc`: a pid is only ever killed when it is
//! in one of the lab's process groups and its command line names the lab folder (nginx
//! workers, renamed `nginx: worker process`, are recognised by their group and name), so a
//! recycled pid is never hit.

use std::convert::Infallible;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::error::LabError;
use super::state::{LabState, Proc, PRIVATE};

pub(crate) use crate::backend::pid_alive;
use crate::procfs;
use crate::supervise::{
    poll_until, poll_until_blocking, signal_process, DetachedRecord, NotReady, Output, Probe,
    Signal, Spec, SuperviseError, Supervised,
};

/// How long a killed process may take to disappear.
const KILL_WAIT: Duration = Duration::from_secs(10);
/// Time between SIGTERM and SIGKILL when a lab's server is stopped.
const STOP_GRACE: Duration = Duration::from_secs(2);
/// Poll interval of every wait here.
const POLL: Duration = Duration::from_millis(50);
/// Lines of a log quoted when a server does not start.
const TAIL_LINES: usize = 15;

/// A supervisor failure as a lab error (what was done, to which file or program).
pub(crate) fn supervise_error(err: SuperviseError) -> LabError {
    let (action, path, source) = err.into_parts();
    LabError::io(action, path, source)
}

/// The record of the lab's `role` process (`exporter`, `nginx`) in `dir`.
pub(crate) fn record_path(dir: &Path, role: &str) -> PathBuf {
    dir.join(PRIVATE).join(format!("{role}.json"))
}

/// A lab server while it starts: stopped (and its record removed) if dropped before
/// [`StartingServer::disown`].
pub(crate) struct StartingServer {
    /// What it is, for messages (`the exporter`, `nginx`).
    pub(crate) what: String,
    /// The port it listens on.
    pub(crate) port: u16,
    /// The log quoted when it does not start (nginx: its error log, not its stdout).
    pub(crate) log: PathBuf,
    /// The guard.
    pub(crate) child: Supervised,
}

/// Starts `program args` as the lab's `role`, detached from this command: in `dir`, in its
/// own process group, stdout and stderr appended to `out`, recorded in `.lab/<role>.json`.
pub(crate) fn spawn(
    role: &str,
    program: &Path,
    args: &[String],
    dir: &Path,
    out: &Path,
) -> Result<Supervised, LabError> {
    Spec::new(program)
        .args(args)
        .current_dir(dir)
        .output(Output::File(out.to_owned()))
        .grace(STOP_GRACE)
        .spawn_detached(&record_path(dir, role), &())
        .map_err(|err| match err {
            SuperviseError::Spawn { source, .. } => LabError::Command {
                command: format!("{} {}", program.display(), args.join(" ")),
                detail: format!("cannot be started: {source}"),
            },
            other => supervise_error(other),
        })
}

impl StartingServer {
    /// Waits until 127.0.0.1:`port` accepts connections; fails early when the child exits.
    pub(crate) async fn wait_listening(&self, deadline: Duration) -> Result<(), LabError> {
        let port = self.port;
        let detail = match self.child.wait_until(deadline, || listening(port)).await {
            Ok(()) => return Ok(()),
            Err(NotReady::Exited(status)) => format!("it exited ({status})"),
            Err(NotReady::TimedOut) => format!("nothing listens on 127.0.0.1:{port}"),
        };
        Err(LabError::NotReady {
            what: self.what.clone(),
            waited: deadline,
            detail: format!(
                "{detail}; its log {}:\n{}",
                self.log.display(),
                tail(&self.log)
            ),
        })
    }

    /// Leaves it running after this command; its record stays for `check` and `stop`.
    pub(crate) fn disown(self) {
        self.child.disown();
    }
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

/// Whether a command line is one a lab starts (never the harness itself): its servers,
/// and `promtool`, which `start` and `check` run on the folder's `prometheus.yml` (a
/// `start` killed with SIGKILL leaves it orphaned for a moment).
fn is_lab_binary(cmdline: &str) -> bool {
    let program = cmdline.split_whitespace().next().unwrap_or_default();
    let name = program.rsplit('/').next().unwrap_or_default();
    matches!(name, "prometheus" | "fake-exporter" | "nginx" | "promtool")
        || cmdline.starts_with("nginx: ")
}

/// Stops every recorded server of the lab through its record (SIGTERM to its group,
/// SIGKILL after a grace period), then kills whatever of the lab is left (see
/// [`kill_lab`]). Returns what is still alive after that.
pub(crate) fn stop_lab(dir: &Path, procs: &[Proc]) -> Vec<(u32, String)> {
    for proc in procs {
        let path = record_path(dir, &proc.role);
        let Ok(record) = DetachedRecord::load(&path) else {
            continue; // Prometheus (the backend's record), or never started
        };
        if let Err(err) = record.stop(STOP_GRACE) {
            tracing::warn!("stopping the lab's {}: {err}", proc.role);
        }
        let _ = std::fs::remove_file(path);
    }
    kill_lab(dir, procs)
}

/// Kills every process of the lab (SIGKILL) and waits until they are gone. Returns what
/// is still alive after the wait.
pub(crate) fn kill_lab(dir: &Path, procs: &[Proc]) -> Vec<(u32, String)> {
    let mut alive = Vec::new();
    poll_until_blocking(KILL_WAIT, POLL, || {
        alive = lab_processes(dir, procs);
        for (pid, _) in &alive {
            // Checked in the lab's group and naming its folder just now.
            let _ = signal_process(*pid, Signal::Kill);
        }
        alive.is_empty()
    });
    alive
}

/// Stops the lab's `role` server through its record (SIGTERM to its group, SIGKILL after
/// a grace period) and removes the record; nothing else of the lab is touched.
pub(crate) fn stop_server(dir: &Path, role: &str) -> Result<(), LabError> {
    let path = record_path(dir, role);
    let Ok(record) = DetachedRecord::load(&path) else {
        return Ok(()); // never started, or already stopped
    };
    record.stop(STOP_GRACE).map_err(supervise_error)?;
    let _ = std::fs::remove_file(path);
    Ok(())
}

/// Sends SIGHUP to the lab's nginx (reload the config), once its record says that the
/// recorded process still runs.
pub(crate) fn hangup_nginx(lab: &LabState) -> Result<(), LabError> {
    let record = DetachedRecord::load(&record_path(&lab.dir, "nginx")).map_err(supervise_error)?;
    let command = format!("SIGHUP to nginx (pid {})", record.pid);
    if !record.is_running() {
        return Err(LabError::Command {
            command,
            detail: "the recorded process does not run any more".into(),
        });
    }
    signal_process(record.pid, Signal::Hup).map_err(|e| LabError::Command {
        command,
        detail: e.to_string(),
    })
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

/// Waits until nothing accepts connections on 127.0.0.1:`port`; whether it got there.
pub(crate) async fn wait_closed(port: u16, deadline: Duration) -> bool {
    poll_until(deadline, POLL, move || async move {
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
    crate::supervise::logtail::file_tail(path, TAIL_LINES)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_programs_a_lab_runs_are_its_own_and_the_harness_is_not() {
        for cmdline in [
            "/usr/bin/prometheus --config.file=/l/.prometheus.active.yml",
            "/w/target/debug/fake-exporter --web.config.file=/l/web-config.yml",
            "nginx: worker process",
            "/usr/bin/promtool check config /l/prometheus.yml",
        ] {
            assert!(is_lab_binary(cmdline), "{cmdline}");
        }
        assert!(!is_lab_binary(
            "/w/target/debug/scrape-harness lab check --dir /l"
        ));
    }

    #[test]
    fn a_lab_server_is_stopped_through_its_record_with_its_whole_group() {
        let base = tempfile::tempdir().expect("temp dir");
        let dir = base.path().canonicalize().expect("resolves");
        std::fs::create_dir_all(dir.join(PRIVATE)).expect(".lab");
        // A stand-in server whose command line names the lab folder, with a member of its
        // group that does not (as nginx has workers).
        let script = "sleep 30 & echo \"member $!\"; wait".to_owned();
        let log = dir.join(PRIVATE).join("exporter.log");
        let child = spawn(
            "exporter",
            Path::new("sh"),
            &[
                "-c".into(),
                script,
                dir.join("web-config.yml").display().to_string(),
            ],
            &dir,
            &log,
        )
        .expect("sh starts");
        let pid = child.pid();
        crate::supervise::test_support::wait_exec(pid, "sh");
        let named = poll_until_blocking(Duration::from_secs(10), POLL, || {
            std::fs::read_to_string(&log).is_ok_and(|t| t.contains("member "))
        });
        assert!(named, "sh never named its member: {}", tail(&log));
        let member: u32 = std::fs::read_to_string(&log)
            .expect("log")
            .trim()
            .strip_prefix("member ")
            .and_then(|p| p.parse().ok())
            .expect("a pid");
        child.disown();
        let procs = [Proc {
            role: "exporter".into(),
            pid,
            port: 0,
        }];
        let found: Vec<u32> = lab_processes(&dir, &procs)
            .iter()
            .map(|(p, _)| *p)
            .collect();
        assert_eq!(
            found,
            [pid],
            "the server names the lab folder; its member does not"
        );
        assert!(record_path(&dir, "exporter").exists());

        let left = stop_lab(&dir, &procs);
        assert!(left.is_empty(), "left: {left:?}");
        assert!(
            !pid_alive(pid) && !pid_alive(member),
            "the whole group went"
        );
        assert!(
            !record_path(&dir, "exporter").exists(),
            "its record went too"
        );
    }
}

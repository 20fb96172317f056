//! The leftover sweep: what a harness killed with SIGKILL (or a crash, or a Ctrl-C
//! without a handler) left behind is removed by the next run.
//!
//! - Containers labelled `scrape-harness.owner-pid=<pid>` whose pid is dead are removed.
//! - Work directories `scrape-harness-*` in the temp dir whose `owner.pid` names a dead
//!   process are removed, after killing the Prometheus in `prometheus.pid` if that pid is
//!   still a Prometheus started with that directory's config (checked in
//!   `/proc/<pid>/cmdline`, so a recycled pid is never killed).
//!
//! - Processes whose environment carries `SCRAPE_HARNESS_OWNER_PID=<pid>` (everything
//!   started through `supervise::Spec::spawn`: Prometheus, nginx, Alertmanager, exporters
//!   under test, in their own process groups) whose pid is dead are killed.
//! - Network namespaces and root-side veths named `shb-<pid>-<slot>` (fleet hosts,
//!   `bench::hosts`) whose pid is dead are removed, after killing what still runs in them.
//!
//! Directories without `owner.pid` are not ours (or not finished yet) and are left alone;
//! every `supervise::RunDir` has one. Detached children (`supervise::Spec::spawn_detached`,
//! what `lab up` leaves running) carry no owner marker and live outside these directories:
//! they are meant to outlive their harness, and only their record file stops them.
//! Pids are only meaningful on this host: containers of a remote Docker engine shared by
//! several hosts would be misjudged, which this bench does not support.

use std::{
    fs,
    path::{Path, PathBuf},
    time::Duration,
};

use crate::procfs;
pub(crate) use crate::procfs::pid_alive;
use crate::supervise::{signal_process, wait_gone, Signal, OWNER_PID_ENV};

use super::{
    container::OWNER_PID_LABEL,
    docker,
    error::CleanupError,
    workdir::{CONFIG_FILE, DIR_PREFIX, OWNER_PID_FILE, PROMETHEUS_PID_FILE},
};

/// What a sweep removed, and what it could not.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Ids of removed containers.
    pub containers_removed: Vec<String>,
    /// Pids of killed Prometheus processes.
    pub processes_killed: Vec<u32>,
    /// Removed work directories.
    pub dirs_removed: Vec<PathBuf>,
    /// Removed network namespaces of fleet hosts (each with its veth pair).
    pub namespaces_removed: Vec<String>,
    /// Failures, each naming what is left and how to remove it.
    pub problems: Vec<String>,
}

impl SweepReport {
    /// Whether nothing was found.
    pub fn is_empty(&self) -> bool {
        self.containers_removed.is_empty()
            && self.processes_killed.is_empty()
            && self.dirs_removed.is_empty()
            && self.namespaces_removed.is_empty()
            && self.problems.is_empty()
    }
}

/// Removes leftovers of dead harness runs: containers (when a Docker engine answers),
/// marked processes, fleet hosts' network namespaces and work directories in
/// [`std::env::temp_dir`]. Blocking; `start` calls it on a blocking thread.
pub fn sweep_leftovers() -> SweepReport {
    let mut report = SweepReport::default();
    sweep_containers(&mut report);
    sweep_owned_processes(&mut report);
    sweep_namespaces(&mut report);
    sweep_dirs_in(&std::env::temp_dir(), &mut report);
    report
}

/// Removes the fleet hosts' namespaces of dead harnesses (after the marked processes, so
/// their fleets are usually gone already).
fn sweep_namespaces(report: &mut SweepReport) {
    let swept = crate::bench::netns::sweep();
    report.processes_killed.extend(swept.killed);
    report.namespaces_removed.extend(swept.removed);
    report.problems.extend(swept.problems);
}

/// Kills every process marked with [`OWNER_PID_ENV`] by a harness that is dead.
fn sweep_owned_processes(report: &mut SweepReport) {
    for pid in procfs::pids() {
        let Some(owner) = procfs::env_var(pid, OWNER_PID_ENV).and_then(|v| v.parse::<u32>().ok())
        else {
            continue;
        };
        if owner == std::process::id() || pid_alive(owner) || !pid_alive(pid) {
            continue;
        }
        match kill_and_wait(pid) {
            Ok(()) => report.processes_killed.push(pid),
            Err(err) => report.problems.push(format!(
                "exporter pid {pid} of dead harness pid {owner}: {err}; kill it with `kill -9 {pid}`"
            )),
        }
    }
}

fn sweep_containers(report: &mut SweepReport) {
    let filter = format!("label={OWNER_PID_LABEL}");
    let format = format!("{{{{.ID}}}}\t{{{{.Label \"{OWNER_PID_LABEL}\"}}}}");
    let Ok(out) = docker::blocking(&["ps", "--all", "--filter", &filter, "--format", &format])
    else {
        return; // no docker CLI: no containers to sweep
    };
    if !out.status.success() {
        return; // no engine: nothing it could hold
    }
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Some((id, owner)) = line.split_once('\t') else {
            continue;
        };
        let Ok(owner) = owner.trim().parse::<u32>() else {
            continue;
        };
        if pid_alive(owner) {
            continue;
        }
        match docker::remove_blocking(id) {
            Ok(()) => report.containers_removed.push(id.to_owned()),
            Err(err) => report.problems.push(format!(
                "container {id} of dead harness pid {owner}: {err}; remove it with `docker rm -f {id}`"
            )),
        }
    }
}

/// Sweeps the work directories under `base` (public to the crate for tests).
pub(crate) fn sweep_dirs_in(base: &Path, report: &mut SweepReport) {
    let Ok(entries) = fs::read_dir(base) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        if !name.to_string_lossy().starts_with(DIR_PREFIX) {
            continue;
        }
        let dir = entry.path();
        let Some(owner) = read_pid(&dir.join(OWNER_PID_FILE)) else {
            continue;
        };
        if pid_alive(owner) {
            continue;
        }
        if let Some(pid) = read_pid(&dir.join(PROMETHEUS_PID_FILE)) {
            if is_prometheus_of(pid, &dir) {
                match kill_and_wait(pid) {
                    Ok(()) => report.processes_killed.push(pid),
                    Err(err) => {
                        report.problems.push(format!(
                            "Prometheus pid {pid} of {}: {err}; kill it with `kill -9 {pid}`",
                            dir.display()
                        ));
                        continue;
                    }
                }
            }
        }
        match fs::remove_dir_all(&dir) {
            Ok(()) => report.dirs_removed.push(dir),
            // Another harness sweeping at the same moment got there first: it is gone.
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
            Err(err) => report.problems.push(format!(
                "{}: {err}; remove it with `rm -rf {}`",
                dir.display(),
                dir.display()
            )),
        }
    }
}

fn read_pid(path: &Path) -> Option<u32> {
    fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Whether `pid` runs Prometheus with `<dir>/prometheus.yml` as its config.
fn is_prometheus_of(pid: u32, dir: &Path) -> bool {
    let Some(cmdline) = procfs::cmdline(pid) else {
        return false;
    };
    let wanted = format!("--config.file={}", dir.join(CONFIG_FILE).display());
    cmdline
        .split(|b| *b == 0)
        .any(|arg| arg == wanted.as_bytes())
}

/// How long a SIGKILLed Prometheus may take to disappear.
const KILL_WAIT: Duration = Duration::from_secs(5);

fn kill_and_wait(pid: u32) -> Result<(), CleanupError> {
    if let Err(source) = signal_process(pid, Signal::Kill) {
        if pid_alive(pid) {
            return Err(CleanupError::Signal {
                pid,
                action: "killing",
                source,
            });
        }
    }
    // SIGKILL is not instantaneous: wait (with a deadline) until the pid is gone, so the
    // directory is not removed under a process still writing to it.
    if wait_gone(pid, KILL_WAIT) {
        Ok(())
    } else {
        Err(CleanupError::StillAlive {
            pid,
            waited: KILL_WAIT,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Above PID_MAX_LIMIT (2^22) on 64-bit Linux: never a live process.
    const DEAD_PID: u32 = 4_194_999;

    #[test]
    fn liveness_follows_proc() {
        assert!(pid_alive(std::process::id()));
        assert!(!pid_alive(DEAD_PID));
    }

    #[test]
    fn directories_of_dead_owners_go_and_others_stay() {
        let base = tempfile::tempdir().unwrap();
        let dead = base.path().join(format!("{DIR_PREFIX}dead"));
        let alive = base.path().join(format!("{DIR_PREFIX}alive"));
        let unowned = base.path().join(format!("{DIR_PREFIX}unowned"));
        let foreign = base.path().join("other-dead");
        for dir in [&dead, &alive, &unowned, &foreign] {
            fs::create_dir(dir).unwrap();
        }
        fs::write(dead.join(OWNER_PID_FILE), format!("{DEAD_PID}\n")).unwrap();
        // A pid file naming a process that is not this directory's Prometheus is ignored.
        fs::write(
            dead.join(PROMETHEUS_PID_FILE),
            format!("{}\n", std::process::id()),
        )
        .unwrap();
        fs::write(alive.join(OWNER_PID_FILE), std::process::id().to_string()).unwrap();
        fs::write(foreign.join(OWNER_PID_FILE), DEAD_PID.to_string()).unwrap();

        let mut report = SweepReport::default();
        sweep_dirs_in(base.path(), &mut report);

        assert_eq!(report.dirs_removed, std::slice::from_ref(&dead));
        assert!(report.processes_killed.is_empty(), "{report:?}");
        assert!(report.problems.is_empty(), "{report:?}");
        assert!(!dead.exists());
        assert!(alive.exists() && unowned.exists() && foreign.exists());
    }
}

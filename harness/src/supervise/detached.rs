//! A child that outlives the command that started it (`lab up`), found again through a
//! record file: its pid and start time, so a later command can tell that the same process
//! still runs (a recycled pid has another start time) and stop its process group.

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use serde::{Deserialize, Serialize};

use super::{
    atomic_write,
    signal::{signal_group, wait_gone, Signal},
    SuperviseError,
};
use crate::procfs;

/// How long a SIGKILLed detached process may take to disappear.
#[allow(
    dead_code,
    reason = "the lab's detached Prometheus (`lab up`) is built on it (issue 20)"
)]
const KILL_WAIT: Duration = Duration::from_secs(5);

/// What identifies a detached child (JSON in its record file).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct DetachedRecord {
    /// Its pid, also its process group id.
    pub(crate) pid: u32,
    /// Its start time in clock ticks after boot (`/proc/<pid>/stat`); 0 when unknown.
    pub(crate) start_time: u64,
    /// The program it runs.
    pub(crate) program: PathBuf,
    /// Its log file.
    pub(crate) log: Option<PathBuf>,
}

impl DetachedRecord {
    /// The record of the process `pid`, which just started.
    pub(crate) fn of(pid: u32, program: &Path, log: Option<PathBuf>) -> Self {
        Self {
            pid,
            start_time: procfs::start_time(pid).unwrap_or(0),
            program: program.to_owned(),
            log,
        }
    }

    /// Writes the record to `path` (atomically).
    pub(crate) fn save(&self, path: &Path) -> Result<(), SuperviseError> {
        let json = serde_json::to_string_pretty(self).expect("a record serialises");
        atomic_write(path, json + "\n").map_err(|e| SuperviseError::io("writing", path, e))
    }

    /// Reads the record at `path`.
    #[allow(
        dead_code,
        reason = "the lab's detached Prometheus (`lab up`) is built on it (issue 20)"
    )]
    pub(crate) fn load(path: &Path) -> Result<Self, SuperviseError> {
        let text =
            std::fs::read_to_string(path).map_err(|e| SuperviseError::io("reading", path, e))?;
        serde_json::from_str(&text).map_err(|source| SuperviseError::Record {
            path: path.to_owned(),
            source,
        })
    }

    /// Whether the recorded process still runs: the pid is alive, with the recorded start
    /// time, and leads its own process group.
    #[allow(
        dead_code,
        reason = "the lab's detached Prometheus (`lab up`) is built on it (issue 20)"
    )]
    pub(crate) fn is_running(&self) -> bool {
        procfs::pid_alive(self.pid)
            && self.start_time != 0
            && procfs::start_time(self.pid) == Some(self.start_time)
            && procfs::pgid(self.pid) == Some(self.pid)
    }

    /// Stops the process group: SIGTERM, SIGKILL after `grace`, then waits (up to 5 s)
    /// until the process is gone. Nothing is signalled when the recorded process no longer
    /// runs (its pid may belong to another process by now).
    #[allow(
        dead_code,
        reason = "the lab's detached Prometheus (`lab up`) is built on it (issue 20)"
    )]
    pub(crate) fn stop(&self, grace: Duration) -> Result<(), SuperviseError> {
        if !self.is_running() {
            return Ok(());
        }
        let failed = |action, source| SuperviseError::Signal {
            pid: self.pid,
            program: self.program.clone(),
            action,
            source,
        };
        signal_group(self.pid, Signal::Term).map_err(|e| failed("terminating", e))?;
        if wait_gone(self.pid, grace) {
            // The leader went: its id may be recycled from now on, so the group is not
            // signalled again.
            return Ok(());
        }
        if self.is_running() {
            signal_group(self.pid, Signal::Kill).map_err(|e| failed("killing", e))?;
        }
        if wait_gone(self.pid, KILL_WAIT) {
            Ok(())
        } else {
            Err(SuperviseError::StillAlive {
                pid: self.pid,
                program: self.program.clone(),
                waited: KILL_WAIT,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::supervise::{Output, Spec, Supervised, OWNER_PID_ENV};

    /// `sleep 30` spawned detached, its record in `dir`.
    fn detached_sleep(dir: &Path) -> (Supervised, PathBuf) {
        let record_path = dir.join("sleep.json");
        let child = Spec::new("sleep")
            .arg("30")
            .output(Output::File(dir.join("sleep.log")))
            .spawn_detached(&record_path)
            .expect("sleep starts");
        crate::supervise::test_support::wait_exec(child.pid(), "sleep");
        (child, record_path)
    }

    #[test]
    fn a_detached_child_outlives_its_guard_and_is_stopped_through_its_record() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (child, record_path) = detached_sleep(dir.path());
        let pid = child.pid();
        assert_eq!(
            procfs::env_var(pid, OWNER_PID_ENV),
            None,
            "the sweep must not take it"
        );
        let record = child.disown().expect("a detached child has a record");
        assert!(procfs::pid_alive(pid), "still running without its guard");

        // A later command finds it through the file.
        let loaded = DetachedRecord::load(&record_path).expect("record");
        assert_eq!(loaded, record);
        assert!(loaded.is_running());

        // Same pid, other start time: another process; it is left alone.
        let recycled = DetachedRecord {
            start_time: loaded.start_time + 1,
            ..loaded.clone()
        };
        assert!(!recycled.is_running());
        recycled.stop(Duration::ZERO).expect("nothing to stop");
        assert!(procfs::pid_alive(pid));

        loaded.stop(Duration::from_secs(5)).expect("stops");
        assert!(!procfs::pid_alive(pid));
        assert!(!loaded.is_running());
    }

    #[test]
    fn a_detached_child_dropped_before_it_is_disowned_is_stopped_and_unrecorded() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (child, record_path) = detached_sleep(dir.path());
        let pid = child.pid();
        assert!(record_path.exists());
        drop(child);
        assert!(!procfs::pid_alive(pid));
        assert!(!record_path.exists());
    }

    #[test]
    fn a_detached_child_cannot_log_to_memory_and_a_bad_record_names_its_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let err = Spec::new("sleep")
            .output(Output::Memory)
            .spawn_detached(&dir.path().join("r.json"))
            .expect_err("memory dies with us");
        assert!(err.to_string().contains("must log to a file"), "{err}");
        let bad = dir.path().join("bad.json");
        std::fs::write(&bad, "{}").expect("write");
        let err = DetachedRecord::load(&bad).expect_err("not a record");
        assert!(
            err.to_string().starts_with(&bad.display().to_string()),
            "{err}"
        );
    }
}

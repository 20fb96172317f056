//! A child that outlives the command that started it (`lab up`: its Prometheus, exporter and
//! nginx), found again through a
//! record file: its pid and start time, so a later command can tell that the same process
//! still runs (a recycled pid has another start time) and stop its process group.

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use serde::{de::DeserializeOwned, Deserialize, Serialize};

use super::{
    atomic_write,
    signal::{group_alive, signal_group, wait_group_gone, Signal},
    SuperviseError,
};
use crate::procfs;

/// How long a SIGKILLed detached process group may take to disappear.
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

/// A record as stored: the process, and beside it whatever its starter keeps there.
#[derive(Serialize)]
struct StoredRef<'a, T> {
    #[serde(flatten)]
    record: &'a DetachedRecord,
    #[serde(flatten)]
    extra: &'a T,
}

#[derive(Deserialize)]
struct Stored<T> {
    #[serde(flatten)]
    record: DetachedRecord,
    #[serde(flatten)]
    extra: T,
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

    /// Writes the record to `path` (atomically), with `extra`'s fields beside its own.
    pub(crate) fn save_with(
        &self,
        path: &Path,
        extra: &impl Serialize,
    ) -> Result<(), SuperviseError> {
        let stored = StoredRef {
            record: self,
            extra,
        };
        let json =
            serde_json::to_string_pretty(&stored).map_err(|source| SuperviseError::Record {
                path: path.to_owned(),
                source,
            })?;
        atomic_write(path, json + "\n").map_err(|e| SuperviseError::io("writing", path, e))
    }

    /// Reads the record at `path` (fields of the starter's own are ignored).
    pub(crate) fn load(path: &Path) -> Result<Self, SuperviseError> {
        Self::load_with::<IgnoredAny>(path).map(|(record, _)| record)
    }

    /// Reads the record at `path` and the starter's fields saved beside it.
    pub(crate) fn load_with<T: DeserializeOwned>(path: &Path) -> Result<(Self, T), SuperviseError> {
        let text =
            std::fs::read_to_string(path).map_err(|e| SuperviseError::io("reading", path, e))?;
        let stored: Stored<T> =
            serde_json::from_str(&text).map_err(|source| SuperviseError::Record {
                path: path.to_owned(),
                source,
            })?;
        Ok((stored.record, stored.extra))
    }

    /// Whether the recorded process still runs: the pid is alive, with the recorded start
    /// time, and leads its own process group.
    pub(crate) fn is_running(&self) -> bool {
        procfs::pid_alive(self.pid)
            && self.start_time != 0
            && procfs::start_time(self.pid) == Some(self.start_time)
            && procfs::pgid(self.pid) == Some(self.pid)
    }

    /// Stops the process group: SIGTERM, SIGKILL after `grace` to what is left, then waits
    /// (up to 5 s) until no member of the group is alive (SIGKILL is delivered
    /// asynchronously: a member may outlive its leader for a moment). Nothing is signalled
    /// when the recorded process no longer runs (its pid may belong to another process by
    /// now).
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
        if wait_group_gone(self.pid, grace) {
            return Ok(());
        }
        // The group still has a live member, so its id cannot have been recycled (Linux
        // hands out no pid still in use as a process group id).
        if self.is_running() || group_alive(self.pid) {
            signal_group(self.pid, Signal::Kill).map_err(|e| failed("killing", e))?;
        }
        if wait_group_gone(self.pid, KILL_WAIT) {
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

/// The starter's fields, when only the record is wanted.
#[derive(Deserialize)]
struct IgnoredAny {}

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
            .spawn_detached(&record_path, &())
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

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Extra {
        port: u16,
    }

    #[test]
    fn a_group_ignoring_sigterm_is_killed_whole_and_the_starters_fields_come_back() {
        let dir = tempfile::tempdir().expect("temp dir");
        let record_path = dir.path().join("sh.json");
        let log = dir.path().join("sh.log");
        let child = Spec::new("sh")
            .args(["-c", "trap '' TERM; sleep 30 & echo \"member $!\"; wait"])
            .output(Output::File(log.clone()))
            .spawn_detached(&record_path, &Extra { port: 4711 })
            .expect("sh starts");
        let member = crate::supervise::poll_until_blocking(
            Duration::from_secs(10),
            Duration::from_millis(10),
            || std::fs::read_to_string(&log).is_ok_and(|t| t.contains("member ")),
        );
        assert!(member, "sh never named its background member");
        let text = std::fs::read_to_string(&log).expect("log");
        let member: u32 = text
            .trim()
            .strip_prefix("member ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("a pid in {text:?}"));
        let record = child.disown().expect("a record");
        let (loaded, extra) = DetachedRecord::load_with::<Extra>(&record_path).expect("record");
        assert_eq!((loaded.clone(), extra), (record, Extra { port: 4711 }));
        assert_eq!(DetachedRecord::load(&record_path).expect("plain"), loaded);

        loaded.stop(Duration::from_millis(200)).expect("stops");
        assert!(!procfs::pid_alive(loaded.pid));
        assert!(!procfs::pid_alive(member), "the member went with its group");
    }

    #[test]
    fn a_detached_child_cannot_log_to_memory_and_a_bad_record_names_its_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let err = Spec::new("sleep")
            .output(Output::Memory)
            .spawn_detached(&dir.path().join("r.json"), &())
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

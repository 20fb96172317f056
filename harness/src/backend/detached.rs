//! The detached backend: a local `prometheus` process that outlives the command that
//! started it (what `lab start` needs: `lab check` and `lab stop` are later processes).
//!
//! Everything lives in a directory the caller names ([`DetachedSpec::dir`]): the TSDB
//! (`data/`), the log (`prometheus.log`) and the supervisor's record (`detached.json`, a
//! `supervise::DetachedRecord`: the pid and the process' start time in clock ticks since
//! boot) with its port and config file beside. [`DetachedPrometheus::find`] trusts the record only when that pid is alive,
//! started at that time and runs with that config file, so a recycled pid is never used nor
//! killed. The config file is the caller's ([`DetachedSpec::config_file`]): Prometheus
//! resolves relative paths in it against its folder.
//!
//! Prometheus is started by the one child-process guard (`supervise::Spec::spawn_detached`)
//! in its own process group; [`DetachedPrometheus::stop`] kills the group and waits until
//! every member is gone. A start that fails or is dropped before Prometheus
//! is ready (Ctrl-C) kills it. A second start on a directory whose Prometheus still runs
//! is refused ([`BackendError::DetachedRunning`]), so two never run from one directory.

use std::{
    fs,
    path::{Path, PathBuf},
    time::Duration,
};

use serde::{Deserialize, Serialize};

use super::{
    free_local_port, process, wait_ready_of, BackendError, BackendKind, CleanupError,
    PrometheusOptions, Starting,
};
use crate::procfs;
use crate::supervise::{atomic_write, DetachedRecord, Output, Spec, SuperviseError, Supervised};
use crate::targets::PromApi;

/// The record's file name in [`DetachedSpec::dir`].
const RECORD_FILE: &str = "detached.json";
/// The log's file name in [`DetachedSpec::dir`].
const LOG_FILE: &str = "prometheus.log";
/// Time between SIGTERM and SIGKILL on stop: none, the TSDB is removed anyway.
const STOP_GRACE: Duration = Duration::ZERO;

/// Where a detached Prometheus keeps its files ([`PrometheusOptions::detached`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct DetachedSpec {
    /// Its directory: `data/`, `prometheus.log`, the record. Created if missing.
    pub(crate) dir: PathBuf,
    /// The configuration file it runs (written with [`PrometheusOptions::config_yaml`] at
    /// start; replace it and call [`PromApi::reload`] to change it).
    pub(crate) config_file: PathBuf,
}

/// What `detached.json` holds beside the supervisor's [`DetachedRecord`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Place {
    port: u16,
    config_file: PathBuf,
}

/// A detached Prometheus that runs (found with [`DetachedPrometheus::find`] or just
/// started). Dropping the handle leaves it running; [`DetachedPrometheus::stop`] stops it.
#[derive(Debug)]
pub(crate) struct DetachedPrometheus {
    dir: PathBuf,
    process: DetachedRecord,
    place: Place,
    api: PromApi,
}

impl DetachedPrometheus {
    /// The Prometheus recorded in `dir`, if that very process still runs.
    pub(crate) fn find(dir: &Path) -> Result<Option<Self>, BackendError> {
        match DetachedRecord::load_with::<Place>(&dir.join(RECORD_FILE)) {
            Ok((process, place)) if is_recorded_process(&process, &place) => {
                Ok(Some(Self::new(dir, process, place)))
            }
            Ok(_) => Ok(None),
            // A torn or foreign record names no process of ours.
            Err(SuperviseError::Record { .. }) => Ok(None),
            Err(SuperviseError::Io { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound =>
            {
                Ok(None)
            }
            Err(other) => Err(other.into()),
        }
    }

    /// Why [`DetachedPrometheus::find`] finds nothing in `dir`, in words, with the last
    /// lines of its log: what a "not running any more" verdict quotes as evidence.
    pub(crate) fn why_absent(dir: &Path) -> String {
        let why = match DetachedRecord::load_with::<Place>(&dir.join(RECORD_FILE)) {
            Ok((process, place)) if !process.is_running() => format!(
                "pid {} (config {}) is gone",
                process.pid,
                place.config_file.display()
            ),
            Ok((process, _)) => format!("pid {} runs another configuration", process.pid),
            Err(SuperviseError::Io { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound =>
            {
                format!("no record {} (stopped, or never started)", RECORD_FILE)
            }
            Err(e) => format!("unreadable record: {e}"),
        };
        let log = fs::read_to_string(dir.join(LOG_FILE)).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(3).collect();
        if tail.is_empty() {
            return why;
        }
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        format!("{why}; its log ends: {}", tail.join(" | "))
    }

    fn new(dir: &Path, process: DetachedRecord, place: Place) -> Self {
        let api = PromApi::new(&format!("http://127.0.0.1:{}", place.port));
        Self {
            dir: dir.to_owned(),
            process,
            place,
            api,
        }
    }

    /// The client of its HTTP API.
    pub(crate) fn api(&self) -> &PromApi {
        &self.api
    }

    /// `http://127.0.0.1:<port>`.
    pub(crate) fn base_url(&self) -> &str {
        self.api.base_url()
    }

    /// Its pid (also its process group).
    pub(crate) fn pid(&self) -> u32 {
        self.process.pid
    }

    /// Replaces its configuration file (atomically: Prometheus never reads half a file);
    /// [`PromApi::reload`] then applies it.
    pub(crate) fn replace_config(&self, yaml: &str) -> Result<(), BackendError> {
        let path = &self.place.config_file;
        atomic_write(path, yaml).map_err(|e| BackendError::io(path, "replacing", e))
    }

    /// Its log file.
    pub(crate) fn log_path(&self) -> PathBuf {
        self.dir.join(LOG_FILE)
    }

    /// Kills its process group through the supervisor's record, waits until every member
    /// is gone, then removes the record and the TSDB (the log stays).
    pub(crate) async fn stop(self) -> Result<(), BackendError> {
        let pid = self.process.pid;
        let process = self.process.clone();
        tokio::task::spawn_blocking(move || process.stop(STOP_GRACE))
            .await
            .expect("stopping a process group does not panic")
            .map_err(|e| BackendError::Stop {
                description: format!("detached process {pid}"),
                source: CleanupError::from(e),
            })?;
        let record = self.dir.join(RECORD_FILE);
        fs::remove_file(&record).map_err(|e| BackendError::io(&record, "removing", e))?;
        let data = self.dir.join("data");
        match fs::remove_dir_all(&data) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(BackendError::io(&data, "removing", e))
            }
            _ => Ok(()),
        }
    }
}

/// Whether the recorded process still runs (pid, start time, own group: the supervisor's
/// check) and runs the recorded config.
fn is_recorded_process(process: &DetachedRecord, place: &Place) -> bool {
    let flag = format!("--config.file={}", place.config_file.display());
    process.is_running()
        && procfs::cmdline(process.pid)
            .is_some_and(|c| c.split(|b| *b == 0).any(|arg| arg == flag.as_bytes()))
}

/// The child while it starts: the supervisor's guard, which stops it (and removes the
/// record) if dropped before it is disowned.
impl Starting for Supervised {
    async fn exit_status(&mut self) -> Option<String> {
        self.try_exit().map(|status| status.to_string())
    }

    fn log_tail(&self, lines: usize) -> String {
        Supervised::log_tail(self, lines)
    }
}

/// Starts a detached Prometheus as `opts` says (`kind` [`BackendKind::Detached`],
/// `detached` set; no image, no own web config) and returns once `/-/ready` answers 200.
pub(crate) async fn start_detached(
    opts: PrometheusOptions,
) -> Result<DetachedPrometheus, BackendError> {
    let spec = checked(&opts)?;
    if let Some(running) = DetachedPrometheus::find(&spec.dir)? {
        return Err(BackendError::DetachedRunning {
            dir: spec.dir.clone(),
            pid: running.pid(),
        });
    }
    let binary = process::find_binary(opts.binary.as_deref())?;
    let data = spec.dir.join("data");
    fs::create_dir_all(&data).map_err(|e| BackendError::io(&data, "creating", e))?;
    atomic_write(&spec.config_file, &opts.config_yaml)
        .map_err(|e| BackendError::io(&spec.config_file, "writing", e))?;
    let port = match opts.listen_port {
        Some(port) => port,
        None => free_local_port()
            .map_err(|e| BackendError::io(&spec.dir, "picking a free port for", e))?,
    };
    let mut args = vec![
        format!("--config.file={}", spec.config_file.display()),
        format!("--storage.tsdb.path={}", data.display()),
        format!("--web.listen-address=127.0.0.1:{port}"),
        "--web.enable-lifecycle".to_owned(),
    ];
    args.extend(opts.extra_args.iter().cloned());
    let place = Place {
        port,
        config_file: spec.config_file.clone(),
    };
    let mut child = Spec::new(&binary)
        .args(&args)
        // Prometheus resolves relative paths in its config against the config's folder.
        .current_dir(spec.config_file.parent().unwrap_or(&spec.dir))
        .output(Output::File(spec.dir.join(LOG_FILE)))
        .grace(STOP_GRACE)
        .spawn_detached(&spec.dir.join(RECORD_FILE), &place)?;
    let pid = child.pid();
    let description = format!("detached process {} (pid {pid})", binary.display());
    let api = PromApi::new(&format!("http://127.0.0.1:{port}"));
    wait_ready_of(
        &mut child,
        &api,
        api.base_url(),
        &description,
        opts.ready_timeout,
    )
    .await?;
    let process = child
        .disown()
        .expect("a child spawned detached has a record");
    Ok(DetachedPrometheus::new(&spec.dir, process, place))
}

/// The spec, once the options are known to fit the detached backend.
fn checked(opts: &PrometheusOptions) -> Result<&DetachedSpec, BackendError> {
    let conflict = |what: &str| {
        Err(BackendError::ConflictingOptions(format!(
            "the detached backend {what}"
        )))
    };
    if opts.kind != BackendKind::Detached {
        return conflict("needs PrometheusOptions::kind = BackendKind::Detached");
    }
    if opts.image.is_some() {
        return conflict("runs a local binary, not a container image: give no image");
    }
    if opts.web_config.is_some() {
        return conflict("serves its API in plain HTTP: give no web config");
    }
    match &opts.detached {
        Some(spec) => Ok(spec),
        None => conflict("needs PrometheusOptions::detached (its directory and config file)"),
    }
}

#[cfg(test)]
mod tests {
    use std::{os::unix::process::CommandExt as _, process::Command};

    use super::*;

    fn place(config_file: &Path) -> Place {
        Place {
            port: 1,
            config_file: config_file.to_owned(),
        }
    }

    #[test]
    fn a_record_of_another_process_is_not_trusted() {
        let me = std::process::id();
        let mine = DetachedRecord::of(me, Path::new("test"), None);
        assert_ne!(mine.start_time, 0, "own start time");
        // Alive and started then, but not running that config: not ours.
        assert!(!is_recorded_process(
            &mine,
            &place(Path::new("/nonexistent/prometheus.yml"))
        ));
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(RECORD_FILE), "{not json").unwrap();
        assert!(DetachedPrometheus::find(dir.path()).unwrap().is_none());
        assert!(DetachedPrometheus::find(&dir.path().join("none"))
            .unwrap()
            .is_none());
    }

    /// A stand-in for Prometheus: `sh` in its own process group whose command line holds
    /// `--config.file=<config>`, with a child of its own (the group is what `stop` kills).
    fn stand_in(config: &Path) -> std::process::Child {
        Command::new("sh")
            .args(["-c", "sleep 60 & wait"])
            .arg(format!("--config.file={}", config.display()))
            .process_group(0)
            .spawn()
            .expect("sh runs")
    }

    #[tokio::test]
    async fn a_recorded_process_is_found_only_with_its_start_time_and_stopped_with_its_group() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("prometheus.yml");
        let mut child = stand_in(&config);
        let pid = child.id();
        // The kernel releases a vfork parent before it lays out the new program's argv:
        // right after `spawn`, `/proc/<pid>/cmdline` may still read empty.
        crate::supervise::test_support::wait_exec(pid, "sh");
        let record = DetachedRecord::of(pid, Path::new("sh"), None);
        let write = |r: &DetachedRecord| {
            r.save_with(&dir.path().join(RECORD_FILE), &place(&config))
                .unwrap();
        };
        // Another start time: a recycled pid, never used nor killed.
        write(&DetachedRecord {
            start_time: record.start_time + 1,
            ..record.clone()
        });
        assert!(DetachedPrometheus::find(dir.path()).unwrap().is_none());
        write(&record);
        let found = DetachedPrometheus::find(dir.path())
            .unwrap()
            .expect("found");
        assert_eq!(found.pid(), pid);
        let group: Vec<u32> = procfs::pids()
            .into_iter()
            .filter(|p| procfs::pgid(*p) == Some(pid) && procfs::pid_alive(*p))
            .collect();
        found.stop().await.unwrap();
        child.wait().unwrap(); // reaped here: it is this test's child
        let left: Vec<u32> = group
            .into_iter()
            .filter(|p| procfs::pid_alive(*p))
            .collect();
        assert!(left.is_empty(), "left of the group: {left:?}");
        assert!(!dir.path().join(RECORD_FILE).exists());
        assert!(DetachedPrometheus::find(dir.path()).unwrap().is_none());
    }

    #[test]
    fn options_other_than_a_detached_process_are_refused() {
        let mut opts = PrometheusOptions::new("");
        opts.kind = BackendKind::Detached;
        let err = checked(&opts).unwrap_err().to_string();
        assert!(err.contains("needs PrometheusOptions::detached"), "{err}");
        opts.detached = Some(DetachedSpec {
            dir: "/d".into(),
            config_file: "/d/p.yml".into(),
        });
        opts.image = Some("prom/prometheus".into());
        let err = checked(&opts).unwrap_err().to_string();
        assert!(err.contains("give no image"), "{err}");
    }
}

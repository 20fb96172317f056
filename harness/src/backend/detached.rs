//! The detached backend: a local `prometheus` process that outlives the command that
//! started it (what `lab start` needs: `lab check` and `lab stop` are later processes).
//!
//! Everything lives in a directory the caller names ([`DetachedSpec::dir`]): the TSDB
//! (`data/`), the log (`prometheus.log`) and a record (`detached.json`) of the pid, the
//! process' start time (field 22 of `/proc/<pid>/stat`, clock ticks since boot), its port and
//! config file. [`DetachedPrometheus::find`] trusts the record only when that pid is alive,
//! started at that time and runs with that config file, so a recycled pid is never used nor
//! killed. The config file is the caller's ([`DetachedSpec::config_file`]): Prometheus
//! resolves relative paths in it against its folder.
//!
//! Prometheus runs in its own process group; [`DetachedPrometheus::stop`] kills the group
//! and waits until the process is gone. A start that fails or is dropped before Prometheus
//! is ready (Ctrl-C) kills it. A second start on a directory whose Prometheus still runs
//! is refused ([`BackendError::DetachedRunning`]), so two never run from one directory.

use std::{
    convert::Infallible,
    fs::{self, File},
    os::unix::process::CommandExt,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::Duration,
};

use serde::{Deserialize, Serialize};

use super::{
    free_local_port, process, wait_ready_of, BackendError, BackendKind, CleanupError,
    PrometheusOptions, Starting,
};
use crate::procfs;
use crate::supervise::logtail;
use crate::targets::{wait_until, Probe, PromApi};

/// The record's file name in [`DetachedSpec::dir`].
const RECORD_FILE: &str = "detached.json";
/// The log's file name in [`DetachedSpec::dir`].
const LOG_FILE: &str = "prometheus.log";
/// How long a killed Prometheus may take to disappear.
const STOP_DEADLINE: Duration = Duration::from_secs(10);
/// Poll interval of that wait.
const STOP_POLL: Duration = Duration::from_millis(50);

/// Where a detached Prometheus keeps its files ([`PrometheusOptions::detached`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct DetachedSpec {
    /// Its directory: `data/`, `prometheus.log`, the record. Created if missing.
    pub(crate) dir: PathBuf,
    /// The configuration file it runs (written with [`PrometheusOptions::config_yaml`] at
    /// start; replace it and call [`PromApi::reload`] to change it).
    pub(crate) config_file: PathBuf,
}

/// What `detached.json` holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Record {
    pid: u32,
    /// Field 22 of `/proc/<pid>/stat`.
    start_time: u64,
    port: u16,
    config_file: PathBuf,
}

/// A detached Prometheus that runs (found with [`DetachedPrometheus::find`] or just
/// started). Dropping the handle leaves it running; [`DetachedPrometheus::stop`] stops it.
#[derive(Debug)]
pub(crate) struct DetachedPrometheus {
    dir: PathBuf,
    record: Record,
    api: PromApi,
}

impl DetachedPrometheus {
    /// The Prometheus recorded in `dir`, if that very process still runs.
    pub(crate) fn find(dir: &Path) -> Result<Option<Self>, BackendError> {
        let path = dir.join(RECORD_FILE);
        let text = match fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(BackendError::io(&path, "reading", e)),
        };
        // A torn or foreign record names no process of ours.
        let Ok(record) = serde_json::from_str::<Record>(&text) else {
            return Ok(None);
        };
        if !is_recorded_process(&record) {
            return Ok(None);
        }
        Ok(Some(Self::new(dir, record)))
    }

    fn new(dir: &Path, record: Record) -> Self {
        let api = PromApi::new(&format!("http://127.0.0.1:{}", record.port));
        Self {
            dir: dir.to_owned(),
            record,
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
        self.record.pid
    }

    /// Replaces its configuration file (atomically: Prometheus never reads half a file);
    /// [`PromApi::reload`] then applies it.
    pub(crate) fn replace_config(&self, yaml: &str) -> Result<(), BackendError> {
        write_atomic(&self.record.config_file, yaml)
    }

    /// Its log file.
    pub(crate) fn log_path(&self) -> PathBuf {
        self.dir.join(LOG_FILE)
    }

    /// Kills its process group, waits until every member is gone (10 s), then removes the record and
    /// the TSDB (the log stays).
    pub(crate) async fn stop(self) -> Result<(), BackendError> {
        let pid = self.record.pid;
        let description = format!("detached process {pid}");
        let stop_error = |source| BackendError::Stop {
            description: description.clone(),
            source,
        };
        kill_group(pid).map_err(stop_error)?;
        let record = &self.record;
        // The whole group, not only its leader: SIGKILL is delivered asynchronously, and a
        // member that has not exited yet would outlive `stop` (a busy machine shows it).
        let gone = wait_until(STOP_DEADLINE, STOP_POLL, move || async move {
            let group_alive = procfs::pids()
                .into_iter()
                .any(|p| procfs::pgid(p) == Some(pid) && procfs::pid_alive(p));
            let alive = is_recorded_process(record) || group_alive;
            Ok::<_, Infallible>(if alive {
                Probe::Pending(pid)
            } else {
                Probe::Done(())
            })
        })
        .await;
        if gone.is_err() {
            return Err(stop_error(CleanupError::StillAlive {
                pid,
                waited: STOP_DEADLINE,
            }));
        }
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

/// Whether the recorded pid is alive, started when recorded and runs the recorded config.
fn is_recorded_process(record: &Record) -> bool {
    let flag = format!("--config.file={}", record.config_file.display());
    procfs::pid_alive(record.pid)
        && start_time(record.pid) == Some(record.start_time)
        && procfs::cmdline(record.pid)
            .is_some_and(|c| c.split(|b| *b == 0).any(|arg| arg == flag.as_bytes()))
}

/// Field 22 of `/proc/<pid>/stat`: when the process started, in clock ticks since boot.
fn start_time(pid: u32) -> Option<u64> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // After `(comm)`: field 3 (state) is index 0, so field 22 is index 19.
    procfs::stat_fields(&text)?.get(19)?.parse().ok()
}

/// SIGKILL to the process group `pgid`.
fn kill_group(pgid: u32) -> Result<(), CleanupError> {
    let command = format!("kill -KILL -- -{pgid}");
    let status = Command::new("kill")
        .args(["-KILL", "--", &format!("-{pgid}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map_err(|source| CleanupError::Spawn {
            command: command.clone(),
            source,
        })?;
    // A group that is already gone is stopped.
    if status.success() || !procfs::pid_alive(pgid) {
        Ok(())
    } else {
        Err(CleanupError::Command {
            command,
            detail: status.to_string(),
        })
    }
}

/// The child while it starts: killed (with its group) on drop unless disarmed.
struct StartingChild {
    child: Child,
    log: PathBuf,
    armed: bool,
}

impl Starting for StartingChild {
    async fn exit_status(&mut self) -> Option<String> {
        match self.child.try_wait() {
            Ok(Some(status)) => Some(status.to_string()),
            Ok(None) => None,
            Err(err) => Some(format!("unknown state: {err}")),
        }
    }

    fn log_tail(&self, lines: usize) -> String {
        logtail::file_tail(&self.log, lines)
    }
}

impl Drop for StartingChild {
    fn drop(&mut self) {
        if self.armed {
            let _ = kill_group(self.child.id());
            let _ = self.child.wait();
        }
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
    write_atomic(&spec.config_file, &opts.config_yaml)?;
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
    let mut child = spawn(&binary, &args, spec)?;
    let pid = child.child.id();
    let record = Record {
        pid,
        start_time: start_time(pid).unwrap_or_default(),
        port,
        config_file: spec.config_file.clone(),
    };
    let text = serde_json::to_string_pretty(&record).expect("a Record serialises");
    write_atomic(&spec.dir.join(RECORD_FILE), &text)?;
    let prometheus = DetachedPrometheus::new(&spec.dir, record);
    let description = format!("detached process {} (pid {pid})", binary.display());
    wait_ready_of(
        &mut child,
        prometheus.api(),
        prometheus.base_url(),
        &description,
        opts.ready_timeout,
    )
    .await?;
    child.armed = false;
    Ok(prometheus)
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

fn spawn(
    binary: &Path,
    args: &[String],
    spec: &DetachedSpec,
) -> Result<StartingChild, BackendError> {
    let log = spec.dir.join(LOG_FILE);
    let out = File::options()
        .create(true)
        .append(true)
        .open(&log)
        .map_err(|e| BackendError::io(&log, "creating", e))?;
    let err = out
        .try_clone()
        .map_err(|e| BackendError::io(&log, "duplicating the handle of", e))?;
    let cwd = spec.config_file.parent().unwrap_or(&spec.dir);
    let child = Command::new(binary)
        .args(args)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        // Own process group: no terminal signal reaches it, and `stop` kills the group.
        .process_group(0)
        .spawn()
        .map_err(|e| BackendError::BinaryUnusable {
            path: binary.to_owned(),
            reason: format!("cannot be started: {e}"),
        })?;
    Ok(StartingChild {
        child,
        log,
        armed: true,
    })
}

/// Writes `path` through a sibling and a rename: Prometheus never reads half a file.
fn write_atomic(path: &Path, text: &str) -> Result<(), BackendError> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".new");
    let tmp = PathBuf::from(tmp);
    fs::write(&tmp, text).map_err(|e| BackendError::io(&tmp, "writing", e))?;
    fs::rename(&tmp, path).map_err(|e| BackendError::io(path, "replacing", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_of_another_process_is_not_trusted() {
        let me = std::process::id();
        let mine = Record {
            pid: me,
            start_time: start_time(me).expect("own start time"),
            port: 1,
            config_file: "/nonexistent/prometheus.yml".into(),
        };
        // Alive and started then, but not running that config: not ours.
        assert!(!is_recorded_process(&mine));
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(RECORD_FILE), "{not json").unwrap();
        assert!(DetachedPrometheus::find(dir.path()).unwrap().is_none());
        assert!(DetachedPrometheus::find(&dir.path().join("none"))
            .unwrap()
            .is_none());
    }

    /// A stand-in for Prometheus: `sh` in its own process group whose command line holds
    /// `--config.file=<config>`, with a child of its own (the group is what `stop` kills).
    fn stand_in(config: &Path) -> Child {
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
        let record = Record {
            pid,
            start_time: start_time(pid).expect("start time"),
            port: 1,
            config_file: config,
        };
        let write = |r: &Record| {
            let text = serde_json::to_string(r).unwrap();
            fs::write(dir.path().join(RECORD_FILE), text).unwrap();
        };
        // Another start time: a recycled pid, never used nor killed.
        write(&Record {
            start_time: record.start_time + 1,
            ..record.clone()
        });
        assert!(DetachedPrometheus::find(dir.path()).unwrap().is_none());
        write(&record);
        // The kernel releases a vfork parent before it lays out the new program's argv:
        // right after `spawn`, `/proc/<pid>/cmdline` may still read empty.
        let exec_done = wait_until(STOP_DEADLINE, STOP_POLL, || async {
            let argv = procfs::cmdline(pid).unwrap_or_default();
            Ok::<_, Infallible>(if argv.is_empty() {
                Probe::Pending(())
            } else {
                Probe::Done(())
            })
        });
        exec_done.await.expect("sh has its command line");
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

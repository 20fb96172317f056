//! The child-process guard.

use std::{
    convert::Infallible,
    ffi::OsStr,
    fs::File,
    future::Future,
    io::{BufRead as _, BufReader, Read},
    os::unix::process::CommandExt as _,
    path::{Path, PathBuf},
    process::{Child, Command, ExitStatus, Stdio},
    sync::{mpsc, Mutex, OnceLock, PoisonError},
    time::{Duration, Instant},
};

use rustix::process::{waitid, Pid, WaitId, WaitIdOptions};

use serde::Serialize;

use super::{
    detached::DetachedRecord,
    logtail::{self, LogBuffer},
    poll_until, poll_until_blocking,
    signal::{signal_group, wait_gone, Signal, POLL},
    Probe, SuperviseError, WaitError, OWNER_PID_ENV,
};

/// How long a child may take to exit after SIGTERM before it gets SIGKILL.
pub(crate) const DEFAULT_GRACE: Duration = Duration::from_secs(2);
/// How long a SIGKILLed process may take to disappear.
const KILL_WAIT: Duration = Duration::from_secs(5);
/// How long output still in a pipe may take to arrive once the child exited.
const DRAIN_WAIT: Duration = Duration::from_secs(2);
/// How often readiness is polled.
const READY_POLL: Duration = Duration::from_millis(20);

/// Where the child's stdout and stderr go (stdin is always closed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Output {
    /// Discarded.
    Null,
    /// Both appended to this file; the tail is read from its end.
    File(PathBuf),
    /// Both kept in memory, the last lines only (reader threads drain the pipes, so a
    /// chatty child never blocks on a full pipe).
    Memory,
}

/// A command to start under supervision.
#[derive(Debug)]
pub(crate) struct Spec {
    command: Command,
    program: PathBuf,
    output: Output,
    grace: Duration,
}

impl Spec {
    /// `program`, output discarded, [`DEFAULT_GRACE`] between SIGTERM and SIGKILL.
    pub(crate) fn new(program: impl AsRef<Path>) -> Self {
        Self {
            command: Command::new(program.as_ref()),
            program: program.as_ref().to_owned(),
            output: Output::Null,
            grace: DEFAULT_GRACE,
        }
    }

    /// One more argument.
    pub(crate) fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.command.arg(arg);
        self
    }

    /// More arguments.
    pub(crate) fn args<I: IntoIterator<Item = S>, S: AsRef<OsStr>>(mut self, args: I) -> Self {
        self.command.args(args);
        self
    }

    /// The working directory.
    pub(crate) fn current_dir(mut self, dir: impl AsRef<Path>) -> Self {
        self.command.current_dir(dir);
        self
    }

    /// Where stdout and stderr go.
    pub(crate) fn output(mut self, output: Output) -> Self {
        self.output = output;
        self
    }

    /// Time between SIGTERM and SIGKILL on stop; zero sends SIGKILL at once.
    pub(crate) fn grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// Starts the child in its own process group, marked with [`OWNER_PID_ENV`] for the
    /// leftover sweep; it is stopped when the guard drops.
    pub(crate) fn spawn(mut self) -> Result<Supervised, SuperviseError> {
        self.command
            .env(OWNER_PID_ENV, std::process::id().to_string());
        self.start(None)
    }

    /// Starts a child that outlives this process once [`Supervised::disown`]ed: own process
    /// group, no owner marker (the sweep must leave it alone), output to a file, and a
    /// [`DetachedRecord`] written to `record` at once, with the caller's `extra` fields
    /// beside it (a struct, or `()` for none; [`DetachedRecord::load_with`] reads them back).
    /// Until disowned it is stopped on drop like any other (and the record removed), so a
    /// failed start leaves nothing.
    pub(crate) fn spawn_detached(
        mut self,
        record: &Path,
        extra: &impl Serialize,
    ) -> Result<Supervised, SuperviseError> {
        if !matches!(self.output, Output::File(_)) {
            return Err(SuperviseError::DetachedNeedsFile {
                program: self.program,
            });
        }
        self.command.env_remove(OWNER_PID_ENV);
        let extra = serde_json::to_value(extra).map_err(|source| SuperviseError::Record {
            path: record.to_owned(),
            source,
        })?;
        self.start(Some((record, extra)))
    }

    fn start(
        mut self,
        record: Option<(&Path, serde_json::Value)>,
    ) -> Result<Supervised, SuperviseError> {
        let log = self.wire_output()?;
        let mut child = self
            .command
            .stdin(Stdio::null())
            // Own process group: the terminal's SIGINT goes to the harness, not here.
            .process_group(0)
            .spawn()
            .map_err(|source| SuperviseError::Spawn {
                program: self.program.clone(),
                source,
            })?;
        let log = match log {
            Wiring::File(path) => Log::File(path),
            Wiring::Null => Log::Null,
            Wiring::Memory => Log::memory(&mut child),
        };
        let mut supervised = Supervised {
            pid: child.id(),
            child: Mutex::new(Some(child)),
            program: self.program,
            exit: OnceLock::new(),
            log,
            grace: self.grace,
            record: None,
        };
        if let Some((path, extra)) = record {
            let log = match &self.output {
                Output::File(p) => Some(p.clone()),
                _ => None,
            };
            let rec = DetachedRecord::of(supervised.pid, &supervised.program, log);
            // Owned by the guard first: a failed save stops the child and removes the file.
            supervised.record = Some((path.to_owned(), rec.clone()));
            rec.save_with(path, &extra)?;
        }
        Ok(supervised)
    }

    fn wire_output(&mut self) -> Result<Wiring, SuperviseError> {
        match &self.output {
            Output::Null => {
                self.command.stdout(Stdio::null()).stderr(Stdio::null());
                Ok(Wiring::Null)
            }
            Output::File(path) => {
                let open = || {
                    File::options()
                        .create(true)
                        .append(true)
                        .open(path)
                        .map_err(|e| SuperviseError::io("opening the log", path, e))
                };
                self.command.stdout(open()?).stderr(open()?);
                Ok(Wiring::File(path.clone()))
            }
            Output::Memory => {
                self.command.stdout(Stdio::piped()).stderr(Stdio::piped());
                Ok(Wiring::Memory)
            }
        }
    }
}

enum Wiring {
    Null,
    File(PathBuf),
    Memory,
}

/// Where the output went, for the tail.
#[derive(Debug)]
enum Log {
    Null,
    File(PathBuf),
    Memory {
        buffer: LogBuffer,
        /// One message per reader thread at end of stream.
        done: Mutex<mpsc::Receiver<()>>,
        readers: usize,
    },
}

impl Log {
    fn memory(child: &mut Child) -> Self {
        let buffer = LogBuffer::default();
        let (tx, rx) = mpsc::channel();
        let mut readers = 0;
        let pipes: [Option<Box<dyn Read + Send>>; 2] = [
            child.stdout.take().map(|p| Box::new(p) as _),
            child.stderr.take().map(|p| Box::new(p) as _),
        ];
        for pipe in pipes.into_iter().flatten() {
            readers += 1;
            let (buffer, tx) = (buffer.clone(), tx.clone());
            std::thread::spawn(move || {
                let mut lines = BufReader::new(pipe);
                let mut line = Vec::new();
                while lines.read_until(b'\n', &mut line).is_ok_and(|n| n > 0) {
                    buffer.push(&line);
                    line.clear();
                }
                let _ = tx.send(());
            });
        }
        Self::Memory {
            buffer,
            done: Mutex::new(rx),
            readers,
        }
    }
}

/// Why a child did not become ready.
#[derive(Debug)]
pub(crate) enum NotReady {
    /// It exited first.
    Exited(ExitStatus),
    /// The deadline passed.
    TimedOut,
}

/// A running child in its own process group. Dropped (or [`Self::stop`]ped): SIGTERM to
/// the group, SIGKILL after the grace period, reaped. Needs no async runtime.
#[derive(Debug)]
pub(crate) struct Supervised {
    /// `None` once reaped.
    child: Mutex<Option<Child>>,
    pid: u32,
    program: PathBuf,
    exit: OnceLock<ExitStatus>,
    log: Log,
    grace: Duration,
    record: Option<(PathBuf, DetachedRecord)>,
}

impl Supervised {
    /// The process id, also its process group id.
    pub(crate) fn pid(&self) -> u32 {
        self.pid
    }

    /// `Some(status)` (exit code or signal) once the child has exited. The rest of its
    /// process group is then killed, and the child reaped.
    pub(crate) fn try_exit(&self) -> Option<ExitStatus> {
        if let Some(status) = self.exit.get() {
            return Some(*status);
        }
        let pid = Pid::from_child(self.lock().as_ref()?);
        // NOWAIT: the exited child stays a zombie, so its pid (the group id) cannot be
        // recycled before the group is killed below.
        let options = WaitIdOptions::EXITED | WaitIdOptions::NOHANG | WaitIdOptions::NOWAIT;
        if !matches!(waitid(WaitId::Pid(pid), options), Ok(Some(_))) {
            return None;
        }
        let _ = signal_group(self.pid, Signal::Kill);
        self.reap()
    }

    /// Reaps the child (which must have exited) and records its status.
    fn reap(&self) -> Option<ExitStatus> {
        let mut child = self.lock();
        let status = child.as_mut()?.wait().ok()?;
        *child = None;
        Some(*self.exit.get_or_init(|| status))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Child>> {
        self.child.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Polls `ready` (every 20 ms, through [`poll_until`]) until it holds, the child exits,
    /// or `within` passes. An exit is looked for before each probe.
    pub(crate) async fn wait_until<F, Fut>(
        &self,
        within: Duration,
        mut ready: F,
    ) -> Result<(), NotReady>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = bool>,
    {
        let exited = |status| Probe::Done(Err(NotReady::Exited(status)));
        let waited = poll_until(within, READY_POLL, || {
            // Exit first: another process may hold the port a dead child should have.
            let status = self.try_exit();
            let ready = status.is_none().then(&mut ready);
            async move {
                if let Some(status) = status {
                    return Ok::<_, Infallible>(exited(status));
                }
                let ready = ready.expect("probed while running").await;
                Ok(if ready {
                    Probe::Done(Ok(()))
                } else {
                    Probe::Pending(())
                })
            }
        })
        .await;
        match waited {
            Ok(outcome) => outcome,
            Err(WaitError::Timeout { .. }) => Err(NotReady::TimedOut),
            Err(WaitError::Probe { source, .. }) => match source {},
        }
    }

    /// The last `lines` lines of its output (empty for [`Output::Null`]). Once the child
    /// exited, output still in the pipes is waited for (up to 2 s).
    pub(crate) fn log_tail(&self, lines: usize) -> String {
        match &self.log {
            Log::Null => String::new(),
            Log::File(path) => logtail::file_tail(path, lines),
            Log::Memory {
                buffer,
                done,
                readers,
            } => {
                if self.exit.get().is_some() {
                    let done = done.lock().unwrap_or_else(PoisonError::into_inner);
                    let deadline = Instant::now() + DRAIN_WAIT;
                    for _ in 0..*readers {
                        let left = deadline.saturating_duration_since(Instant::now());
                        if done.recv_timeout(left).is_err() {
                            break;
                        }
                    }
                }
                buffer.tail(lines)
            }
        }
    }

    /// Stops the group (SIGTERM, SIGKILL after the grace period) and reaps the child.
    pub(crate) fn stop(mut self) -> Result<ExitStatus, SuperviseError> {
        self.terminate()
    }

    /// Stops supervising: the child keeps running after the guard is gone (and after this
    /// process exits). Returns its record when it was spawned detached.
    pub(crate) fn disown(mut self) -> Option<DetachedRecord> {
        self.lock().take();
        self.record.take().map(|(_, record)| record)
    }

    fn terminate(&mut self) -> Result<ExitStatus, SuperviseError> {
        if let Some((path, _)) = self.record.take() {
            let _ = std::fs::remove_file(path);
        }
        if let Some(status) = self.try_exit() {
            return Ok(status);
        }
        if self.lock().is_none() {
            // Disowned (or reaped by a failed wait): nothing of ours to stop.
            return Err(self.signal_error("reaping", std::io::ErrorKind::NotFound.into()));
        }
        let failed = |action, source| self.signal_error(action, source);
        if !self.grace.is_zero() {
            signal_group(self.pid, Signal::Term).map_err(|e| failed("terminating", e))?;
            poll_until_blocking(self.grace, POLL, || self.exited_unreaped() != Some(false));
        }
        // Also after a clean exit on SIGTERM: whatever the child forked goes too. The
        // leader is not reaped yet, so the group id is still ours.
        signal_group(self.pid, Signal::Kill).map_err(|e| failed("killing", e))?;
        if !wait_gone(self.pid, KILL_WAIT) {
            return Err(SuperviseError::StillAlive {
                pid: self.pid,
                program: self.program.clone(),
                waited: KILL_WAIT,
            });
        }
        self.reap()
            .ok_or_else(|| self.signal_error("reaping", std::io::ErrorKind::Other.into()))
    }

    /// Whether the (unreaped) child has exited; `None` when that cannot be told.
    fn exited_unreaped(&self) -> Option<bool> {
        let pid = Pid::from_child(self.lock().as_ref()?);
        let options = WaitIdOptions::EXITED | WaitIdOptions::NOHANG | WaitIdOptions::NOWAIT;
        waitid(WaitId::Pid(pid), options).ok().map(|s| s.is_some())
    }

    fn signal_error(&self, action: &'static str, source: std::io::Error) -> SuperviseError {
        SuperviseError::Signal {
            pid: self.pid,
            program: self.program.clone(),
            action,
            source,
        }
    }
}

impl Drop for Supervised {
    fn drop(&mut self) {
        if self.lock().is_none() && self.record.is_none() {
            return; // reaped or disowned
        }
        if let Err(err) = self.terminate() {
            tracing::warn!("stopping {}: {err}", self.program.display());
        }
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::process::ExitStatusExt as _;

    use super::*;
    use crate::procfs;

    const SIGTERM: i32 = 15;
    const SIGKILL: i32 = 9;

    fn sh(script: &str) -> Spec {
        Spec::new("sh").args(["-c", script])
    }

    /// Polls until the output holds `text`.
    async fn wait_output(child: &Supervised, text: &str) {
        child
            .wait_until(Duration::from_secs(10), || async {
                child.log_tail(100).contains(text)
            })
            .await
            .unwrap_or_else(|e| panic!("no {text:?} in the output: {e:?}"));
    }

    #[tokio::test]
    async fn stop_terminates_a_child_marked_for_the_sweep() {
        let child = Spec::new("sleep").arg("30").spawn().expect("sleep starts");
        let pid = child.pid();
        crate::supervise::test_support::wait_exec(pid, "sleep");
        assert_eq!(
            procfs::env_var(pid, OWNER_PID_ENV),
            Some(std::process::id().to_string())
        );
        assert_eq!(procfs::pgid(pid), Some(pid), "its own process group");
        assert!(child.try_exit().is_none());
        let status = child.stop().expect("stops");
        assert_eq!(status.signal(), Some(SIGTERM), "{status}");
        assert!(!procfs::pid_alive(pid));
    }

    #[tokio::test]
    async fn drop_kills_the_whole_process_group() {
        let child = sh("sleep 30 & echo \"grandchild $!\"; wait")
            .output(Output::Memory)
            .spawn()
            .expect("sh starts");
        wait_output(&child, "grandchild ").await;
        let tail = child.log_tail(1);
        let grandchild: u32 = tail
            .trim()
            .strip_prefix("grandchild ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("a pid in {tail:?}"));
        assert!(procfs::pid_alive(grandchild));
        drop(child);
        assert!(wait_gone(grandchild, KILL_WAIT), "the grandchild went too");
    }

    #[tokio::test]
    async fn a_child_ignoring_sigterm_gets_sigkill_after_the_grace() {
        let child = sh("trap '' TERM; echo ready; exec sleep 30")
            .output(Output::Memory)
            .grace(Duration::from_millis(200))
            .spawn()
            .expect("sh starts");
        wait_output(&child, "ready").await;
        let began = Instant::now();
        let status = child.stop().expect("stops");
        assert_eq!(status.signal(), Some(SIGKILL), "{status}");
        assert!(began.elapsed() >= Duration::from_millis(200));
    }

    #[tokio::test]
    async fn an_early_exit_ends_the_wait_with_its_status_and_output() {
        let child = sh("echo starting; echo boom >&2; exit 3")
            .output(Output::Memory)
            .spawn()
            .expect("sh starts");
        let waited = child
            .wait_until(Duration::from_secs(10), || async { false })
            .await;
        let Err(NotReady::Exited(status)) = waited else {
            panic!("expected an exit, got {waited:?}");
        };
        assert_eq!(status.code(), Some(3));
        assert_eq!(child.try_exit().map(|s| s.code()), Some(Some(3)));
        let tail = child.log_tail(10);
        assert!(tail.contains("starting") && tail.contains("boom"), "{tail}");
        assert_eq!(child.stop().expect("already exited").code(), Some(3));
    }

    #[tokio::test]
    async fn a_deadline_ends_the_wait_and_a_log_file_holds_the_output() {
        let dir = tempfile::tempdir().expect("temp dir");
        let log = dir.path().join("out.log");
        let child = sh("echo to-the-file; exec sleep 30")
            .output(Output::File(log.clone()))
            .current_dir(dir.path())
            .spawn()
            .expect("sh starts");
        let waited = child
            .wait_until(Duration::from_millis(100), || async { false })
            .await;
        assert!(matches!(waited, Err(NotReady::TimedOut)), "{waited:?}");
        wait_output(&child, "to-the-file").await;
        assert_eq!(child.log_tail(1), "to-the-file");
        assert!(child.try_exit().is_none());
        drop(child);
        assert_eq!(std::fs::read_to_string(&log).expect("log"), "to-the-file\n");
    }

    #[tokio::test]
    async fn a_child_killed_from_outside_is_seen_dead_with_its_signal() {
        let child = Spec::new("sleep").arg("30").spawn().expect("sleep starts");
        crate::supervise::test_support::wait_exec(child.pid(), "sleep");
        super::super::signal_process(child.pid(), Signal::Kill).expect("kill");
        let waited = child
            .wait_until(Duration::from_secs(2), || async { false })
            .await;
        let Err(NotReady::Exited(status)) = waited else {
            panic!("the death should be seen within 2 s, got {waited:?}");
        };
        assert_eq!(status.signal(), Some(SIGKILL), "{status}");
        assert_eq!(child.try_exit().and_then(|s| s.signal()), Some(SIGKILL));
        assert_eq!(child.stop().expect("already dead").signal(), Some(SIGKILL));
    }

    #[test]
    fn a_missing_program_is_named() {
        let err = Spec::new("/nonexistent/prog")
            .spawn()
            .expect_err("no such file");
        assert!(
            err.to_string()
                .starts_with("cannot start /nonexistent/prog: "),
            "{err}"
        );
    }
}

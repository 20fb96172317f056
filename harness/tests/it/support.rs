//! Shared helpers of the heavy tests: the lock that keeps them from running at once, the
//! harness binary with a private `TMPDIR`, failure dumps, and leftover checks.

use std::{
    fmt,
    path::{Path, PathBuf},
    process::{Child, Command, ExitStatus, Stdio},
    sync::{Mutex, MutexGuard, PoisonError},
    time::{Duration, Instant},
};

use anyhow::{bail, ensure, Context, Result};
use scrape_harness::{prometheus::OWNER_PID_LABEL, RunReport};

/// Serialises the tests that run Prometheus with 200 ms scrape timeouts: under CPU
/// contention (two cores, other tests in this binary) their verdicts get flaky.
static HEAVY: Mutex<()> = Mutex::new(());

/// Takes the heavy-test lock (a test that panicked while holding it does not block the
/// others).
pub(crate) fn heavy() -> MutexGuard<'static, ()> {
    HEAVY.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The fake-exporter binary of the current sources, next to the harness binary: built
/// (once per test run, a no-op when it is current) so that `cargo test -p scrape-harness`
/// alone never tests a stale fake-exporter.
pub(crate) fn fake_exporter_bin() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            let harness = Path::new(env!("CARGO_BIN_EXE_scrape-harness"));
            let bin = harness.with_file_name("fake-exporter");
            let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
            let mut build = Command::new(cargo);
            build.current_dir(repo_root()).args([
                "build",
                "--quiet",
                "-p",
                "fake-exporter",
                "--bin",
                "fake-exporter",
            ]);
            // Cargo sets these for the test process; a build script that tracks one (ring's
            // tracks CARGO_MANIFEST_DIR) would see it change and rebuild ring, rustls and
            // everything above them, here and again in the next `cargo test`.
            for (key, _) in std::env::vars_os() {
                let key = key.to_string_lossy();
                if key == "CARGO_MANIFEST_DIR"
                    || key == "CARGO_MANIFEST_PATH"
                    || key == "CARGO_CRATE_NAME"
                    || key == "CARGO_PRIMARY_PACKAGE"
                    || key == "CARGO_TARGET_TMPDIR"
                    || key.starts_with("CARGO_PKG_")
                    || key.starts_with("CARGO_BIN_")
                {
                    build.env_remove(key.as_ref());
                }
            }
            if harness.parent().is_some_and(|d| d.ends_with("release")) {
                build.arg("--release");
            }
            let status = build
                .status()
                .expect("running cargo to build fake-exporter");
            assert!(
                status.success() && bin.is_file(),
                "building {} failed ({status}): run `cargo build -p fake-exporter`",
                bin.display()
            );
            bin
        })
        .clone()
}

/// The repository root.
pub(crate) fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("harness/ has a parent: the workspace root")
        .to_owned()
}

/// `scenarios/tests/<name>`.
pub(crate) fn test_scenario(name: &str) -> PathBuf {
    repo_root().join("scenarios/tests").join(name)
}

/// A finished harness run, printable as a full failure dump.
pub(crate) struct Ran {
    /// The command line.
    pub(crate) command: String,
    /// Its exit status.
    pub(crate) status: ExitStatus,
    /// Its pid (for leftover checks).
    pub(crate) pid: u32,
    /// stdout.
    pub(crate) stdout: String,
    /// stderr.
    pub(crate) stderr: String,
}

impl Ran {
    /// The exit code (`None` when killed by a signal).
    pub(crate) fn code(&self) -> Option<i32> {
        self.status.code()
    }
}

impl fmt::Display for Ran {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "\n--- command (pid {}): {}\n--- status: {}\n--- stdout:\n{}\n--- stderr:\n{}\n---",
            self.pid, self.command, self.status, self.stdout, self.stderr
        )
    }
}

/// The harness binary with a private temp dir: everything the run creates under
/// `$TMPDIR` lands in `tmp`, so leftovers are this run's alone.
pub(crate) struct Harness {
    tmp: tempfile::TempDir,
}

impl Harness {
    /// A fresh private temp dir (not named `scrape-harness-*`, so no sweep touches it).
    pub(crate) fn new() -> Result<Self> {
        let tmp = tempfile::Builder::new()
            .prefix("it-harness-tmp-")
            .tempdir()
            .context("creating a private TMPDIR")?;
        Ok(Self { tmp })
    }

    /// The private temp dir.
    pub(crate) fn tmp(&self) -> &Path {
        self.tmp.path()
    }

    /// `scrape-harness <args>` with `TMPDIR` set, output captured.
    pub(crate) fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_scrape-harness"));
        command
            .args(args)
            .current_dir(repo_root())
            .env("TMPDIR", self.tmp())
            .env_remove("HARNESS_KEEP")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        command
    }

    /// Spawns `scrape-harness <args>`.
    pub(crate) fn spawn(&self, args: &[&str]) -> Result<Child> {
        self.command(args)
            .spawn()
            .context("starting the scrape-harness binary")
    }

    /// Runs `scrape-harness <args>` to completion (killed after `limit`).
    pub(crate) fn run(&self, args: &[&str], limit: Duration) -> Result<Ran> {
        let child = self.spawn(args)?;
        finish(child, &format!("scrape-harness {}", args.join(" ")), limit)
    }

    /// `scrape-harness run --backend process --no-progress --json JSON FILES...` to
    /// completion (killed after `limit`): the run most tests make.
    pub(crate) fn run_files(&self, files: &[&str], json: &Path, limit: Duration) -> Result<Ran> {
        let json = json.to_string_lossy();
        let mut args = vec![
            "run",
            "--backend",
            "process",
            "--no-progress",
            "--json",
            &json,
        ];
        args.extend_from_slice(files);
        self.run(&args, limit)
    }

    /// `scrape-harness <work dirs>` left in the private temp dir.
    pub(crate) fn leftover_dirs(&self) -> Result<Vec<PathBuf>> {
        harness_dirs_in(self.tmp())
    }

    /// Prometheus processes whose command line names the private temp dir.
    pub(crate) fn leftover_processes(&self) -> Result<Vec<u32>> {
        prometheus_processes_mentioning(self.tmp())
    }

    /// Asserts that nothing of a run by harness pid `pid` is left: no container labelled
    /// with that pid, no Prometheus process working in the private temp dir, no work dir.
    pub(crate) fn assert_clean(&self, pid: u32) -> Result<()> {
        let containers = containers_of(pid)?;
        let processes = self.leftover_processes()?;
        let dirs = self.leftover_dirs()?;
        ensure!(
            containers.is_empty() && processes.is_empty() && dirs.is_empty(),
            "leftovers of harness pid {pid}: containers {containers:?}, Prometheus processes \
             {processes:?}, dirs {dirs:?}"
        );
        Ok(())
    }
}

/// Waits for `child` (killing it after `limit`) and collects its output.
/// `kill -NAME PID` (`INT`, `KILL`, `STOP`, ...): a signal as a user sends it.
pub(crate) fn signal(pid: u32, name: &str) -> Result<()> {
    let status = Command::new("kill")
        .args([&format!("-{name}"), &pid.to_string()])
        .status()
        .context("running `kill`")?;
    ensure!(status.success(), "`kill -{name} {pid}` failed: {status}");
    Ok(())
}

pub(crate) fn finish(child: Child, command: &str, limit: Duration) -> Result<Ran> {
    let pid = child.id();
    let deadline = Instant::now() + limit;
    // `wait_with_output` reads both pipes; a watchdog thread kills the child at the
    // deadline so a hung harness fails the test instead of hanging it.
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    let watchdog = std::thread::spawn(move || {
        if done_rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .is_err()
        {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
            return true;
        }
        false
    });
    let output = child
        .wait_with_output()
        .context("waiting for the harness")?;
    let _ = done_tx.send(());
    let killed = watchdog.join().unwrap_or(false);
    let ran = Ran {
        command: command.to_owned(),
        status: output.status,
        pid,
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    };
    if killed {
        bail!("the harness did not finish within {limit:?} and was killed:{ran}");
    }
    Ok(ran)
}

/// Runs `docker ARGS` and returns its trimmed stdout; fails with the command that fixes a
/// missing or stopped engine.
pub(crate) fn docker(args: &[&str]) -> Result<String> {
    let out = Command::new("docker")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .context("running `docker`: install Docker with `bash scripts/setup`")?;
    ensure!(
        out.status.success(),
        "`docker {}` failed: {} (start the engine with `bash scripts/setup`)",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr).trim()
    );
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// Ids of containers (running or not) labelled `scrape-harness.owner-pid=<pid>`.
pub(crate) fn containers_of(pid: u32) -> Result<Vec<String>> {
    let label = format!("label={OWNER_PID_LABEL}={pid}");
    Ok(docker(&["ps", "--all", "--quiet", "--filter", &label])?
        .split_whitespace()
        .map(str::to_owned)
        .collect())
}

/// Live (non-zombie) processes named `prometheus` whose command line mentions `dir`.
pub(crate) fn prometheus_processes_mentioning(dir: &Path) -> Result<Vec<u32>> {
    processes_mentioning(dir, |cmdline| {
        cmdline
            .split_whitespace()
            .next()
            .is_some_and(|argv0| argv0.ends_with("prometheus"))
    })
}

/// Live (non-zombie) processes whose command line (arguments joined by spaces) mentions
/// `dir` and passes `is_wanted`.
pub(crate) fn processes_mentioning(
    dir: &Path,
    is_wanted: impl Fn(&str) -> bool,
) -> Result<Vec<u32>> {
    let needle = dir.to_string_lossy().into_owned();
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc")
        .context("reading /proc")?
        .flatten()
    {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if is_wanted(&cmdline) && cmdline.contains(&needle) && !is_zombie(pid) {
            pids.push(pid);
        }
    }
    Ok(pids)
}

fn is_zombie(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).map_or(true, |stat| {
        stat.rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'))
    })
}

/// Entries named `scrape-harness-*` in `dir`.
pub(crate) fn harness_dirs_in(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .flatten()
    {
        if entry
            .file_name()
            .to_string_lossy()
            .starts_with("scrape-harness-")
        {
            found.push(entry.path());
        }
    }
    Ok(found)
}

/// Polls `probe` every 50 ms until it returns `Some`, or fails after `limit` with `what`.
pub(crate) fn poll<T>(
    limit: Duration,
    what: &str,
    mut probe: impl FnMut() -> Result<Option<T>>,
) -> Result<T> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = probe()? {
            return Ok(value);
        }
        if Instant::now() >= deadline {
            bail!("gave up after {limit:?} waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Writes `yaml` as `<dir>/<name>` and returns the path as a string.
pub(crate) fn write_scenario(dir: &Path, name: &str, yaml: &str) -> Result<String> {
    let path = dir.join(name);
    std::fs::write(&path, yaml).with_context(|| format!("writing {}", path.display()))?;
    Ok(path.to_string_lossy().into_owned())
}

/// One line per case of `report` that failed or was not judged, prefixed with `who`.
pub(crate) fn failures_of(who: &str, report: &RunReport, failures: &mut Vec<String>) {
    for c in &report.cases {
        if !c.pass || c.skipped.is_some() {
            failures.push(format!(
                "{who} {}: expected {}, observed {} ({}); {}",
                c.name,
                c.expected,
                c.observed.map_or("not scraped".into(), |o| o.to_string()),
                c.last_error,
                c.failures.join("; ")
            ));
        }
    }
}

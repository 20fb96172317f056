//! A lab's life: `start` (and `up` for all), `stop`, `hint`, `solution --apply`.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::catalog::{self, Lab, Ports, LABS};
use super::error::LabError;
use super::files;
use super::procs;
use super::state::{self, LabState, Phase, Proc, PRIVATE};
use super::tools::{self, LabTools};
use crate::backend::{
    start_detached, BackendKind, DetachedPrometheus, DetachedSpec, PrometheusOptions,
};

/// How long a started process may take to listen (Prometheus: to answer `/-/ready`).
const READY: Duration = Duration::from_secs(30);
/// The learner's Prometheus config as Prometheus runs it: beside `prometheus.yml`, so
/// relative paths mean the same, and only replaced once promtool accepts the learner's file.
const ACTIVE_CONFIG: &str = ".prometheus.active.yml";
/// The detached Prometheus' folder under `.lab/` (TSDB, log, the backend's record).
pub(crate) const PROMETHEUS_DIR: &str = "prometheus";

/// A started lab.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Started {
    /// The lab.
    pub lab: Lab,
    /// Its folder (absolute).
    pub dir: PathBuf,
    /// Prometheus' URL (`http://127.0.0.1:<port>`).
    pub prometheus_url: String,
    /// Pids of what runs.
    pub pids: Vec<u32>,
}

/// A stopped lab.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stopped {
    /// Its folder.
    pub dir: PathBuf,
    /// Its name.
    pub lab: String,
    /// The pids that were killed.
    pub killed: Vec<u32>,
    /// The ports checked free.
    pub ports: Vec<u16>,
}

/// Kills what an unfinished `start` started, unless disarmed (Ctrl-C drops the future).
struct StartGuard {
    state: LabState,
    armed: bool,
}

impl Drop for StartGuard {
    fn drop(&mut self) {
        if self.armed {
            procs::stop_lab(&self.state.dir, &self.state.procs);
            self.state.forget();
        }
    }
}

/// Writes lab `lab` into `dir` (created if missing) and starts its processes; returns once
/// the exporter (and nginx) listen and Prometheus is ready.
pub async fn start(lab: Lab, dir: &Path, tools: &LabTools) -> Result<Started, LabError> {
    start_with_fresh_ports(lab, dir, tools, None, true).await
}

/// Times a lab start is tried again on new ports after one of its servers found its port
/// taken (ports are picked free, released, then bound by the servers: another process may
/// bind one in between).
const PORT_RETRIES: usize = 3;

/// [`start_on`], and again on newly picked ports when a server could not bind its port
/// (the failed start stopped everything it had started).
async fn start_with_fresh_ports(
    lab: Lab,
    dir: &Path,
    tools: &LabTools,
    ports: Option<Ports>,
    settle: bool,
) -> Result<Started, LabError> {
    let mut ports = ports;
    let mut tries = 0;
    loop {
        match start_on(lab, dir, tools, ports, settle).await {
            Err(err) if tries < PORT_RETRIES && port_taken(&err) => {
                tries += 1;
                tracing::warn!("lab {lab}: a port was taken meanwhile ({err}); new ports");
                ports = None;
            }
            done => return done,
        }
    }
}

/// Whether a start failed because a server found its port taken (Prometheus' and nginx'
/// logs, the exporter's error: the OS's words).
fn port_taken(err: &LabError) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = cause {
        let text = e.to_string();
        if text.contains("address already in use") || text.contains("Address already in use") {
            return true;
        }
        cause = e.source();
    }
    false
}

/// Free ports for `labs`, all distinct: every listener stays bound until all are picked
/// (separate `bind(0)` calls, closed one by one, may hand out the same port twice).
fn reserve_ports(labs: &[Lab]) -> Result<Vec<Ports>, LabError> {
    let mut held = Vec::new();
    let mut next = || -> Result<u16, LabError> {
        let listener = std::net::TcpListener::bind(("127.0.0.1", 0))
            .map_err(|e| LabError::io("finding a free port on", "127.0.0.1", e))?;
        let port = listener
            .local_addr()
            .map_err(|e| LabError::io("finding a free port on", "127.0.0.1", e))?
            .port();
        held.push(listener);
        Ok(port)
    };
    labs.iter()
        .map(|lab| {
            Ok(Ports {
                prometheus: next()?,
                exporter: next()?,
                proxy: if lab.has_proxy() { Some(next()?) } else { None },
            })
        })
        .collect()
}

/// [`start`] on given ports. `settle`: mark the lab running when it is up; `up` settles its
/// labs itself once all are up, so a SIGKILLed `up` leaves only `starting` labs of a dead
/// owner, which the next `lab` command sweeps.
async fn start_on(
    lab: Lab,
    dir: &Path,
    tools: &LabTools,
    ports: Option<Ports>,
    settle: bool,
) -> Result<Started, LabError> {
    state::sweep_interrupted_starts();
    let dir = prepare_dir(dir).await?;
    let ports = match ports {
        Some(p) => p,
        None => reserve_ports(&[lab])?[0],
    };
    {
        let (dir, tools) = (dir.clone(), tools.clone());
        tokio::task::spawn_blocking(move || files::write_files(lab, &dir, &ports, &tools))
            .await
            .expect("writing lab files does not panic")?;
    }
    let mut guard = StartGuard {
        state: LabState {
            lab: lab.name().to_owned(),
            dir: dir.clone(),
            phase: Phase::Starting,
            owner_pid: std::process::id(),
            ports,
            procs: Vec::new(),
            nginx_conf_loaded: None,
            web_config_loaded: None,
            teacher: None,
            started_at: state::now(),
        },
        armed: true,
    };
    guard.state.save()?;
    // Spawn the servers first, then start Prometheus, then wait: the waits overlap. Until
    // disowned, a server's guard stops it when this future fails or is dropped.
    let children = spawn_servers(&mut guard, tools)?;
    let prometheus = start_prometheus(&dir, &ports, tools).await?;
    register(&mut guard, "prometheus", prometheus.pid(), ports.prometheus)?;
    for child in &children {
        child.wait_listening(READY).await?;
    }
    children.into_iter().for_each(procs::StartingServer::disown);
    if settle {
        guard.state.phase = Phase::Running;
        guard.state.save()?;
    }
    guard.armed = false;
    Ok(Started {
        lab,
        dir,
        prometheus_url: prometheus.base_url().to_owned(),
        pids: guard.state.procs.iter().map(|p| p.pid).collect(),
    })
}

/// Creates and resolves the lab folder; refuses one whose lab still runs, and clears a
/// stopped lab's leftovers (data, logs, hints).
async fn prepare_dir(dir: &Path) -> Result<PathBuf, LabError> {
    fs::create_dir_all(dir).map_err(|e| LabError::io("creating", dir, e))?;
    let dir = dir
        .canonicalize()
        .map_err(|e| LabError::io("resolving", dir, e))?;
    if let Ok(old) = LabState::load(&dir) {
        if !procs::lab_processes(&dir, &old.procs).is_empty() {
            return Err(LabError::AlreadyRunning { dir, lab: old.lab });
        }
        old.forget();
    }
    let private = dir.join(PRIVATE);
    if let Some(prometheus) = DetachedPrometheus::find(&private.join(PROMETHEUS_DIR))? {
        // A Prometheus of this folder outlived its lab's state: never run two.
        prometheus.stop().await?;
    }
    let _ = fs::remove_dir_all(&private);
    fs::create_dir_all(private.join("nginx")).map_err(|e| LabError::io("creating", &private, e))?;
    Ok(dir)
}

/// Spawns the lab's exporter (fake-exporter with the folder's `web-config.yml`, as
/// node_exporter is started), detached, its output appended to `.lab/exporter.log`.
pub(crate) fn spawn_exporter(
    dir: &Path,
    ports: &Ports,
    tools: &LabTools,
) -> Result<procs::StartingServer, LabError> {
    let log = dir.join(PRIVATE).join("exporter.log");
    let child = procs::spawn(
        "exporter",
        &tools.fake_exporter,
        &[
            format!("--web.listen-address=127.0.0.1:{}", ports.exporter),
            format!("--web.config.file={}", dir.join("web-config.yml").display()),
        ],
        dir,
        &log,
    )?;
    Ok(procs::StartingServer {
        what: "the exporter".into(),
        port: ports.exporter,
        log,
        child,
    })
}

/// Spawns the exporter (a build-it lab's only once the learner wrote its `web-config.yml`:
/// `check` starts it) and, in the proxy labs, nginx; registers each in the state.
fn spawn_servers(
    guard: &mut StartGuard,
    tools: &LabTools,
) -> Result<Vec<procs::StartingServer>, LabError> {
    let dir = guard.state.dir.clone();
    let ports = guard.state.ports;
    let private = dir.join(PRIVATE);
    let mut children = Vec::new();
    if !guard.state.lab()?.is_build_it() {
        let exporter = spawn_exporter(&dir, &ports, tools)?;
        register(guard, "exporter", exporter.child.pid(), ports.exporter)?;
        children.push(exporter);
    }
    if let Some(proxy) = ports.proxy {
        let nginx = procs::spawn(
            "nginx",
            &tools.nginx,
            &nginx_args(&dir, false),
            &dir,
            &private.join("nginx.out"),
        )?;
        let nginx = procs::StartingServer {
            what: "nginx".into(),
            port: proxy,
            log: private.join("nginx").join("error.log"),
            child: nginx,
        };
        register(guard, "nginx", nginx.child.pid(), proxy)?;
        guard.state.nginx_conf_loaded = Some(files::fingerprint(&dir.join("nginx.conf")));
        children.push(nginx);
    }
    Ok(children)
}

/// Starts the lab's Prometheus through the backend, detached (it outlives this command):
/// with the learner's config if promtool takes it, else with no job (the lab may start
/// broken). Returns once it is ready.
async fn start_prometheus(
    dir: &Path,
    ports: &Ports,
    tools: &LabTools,
) -> Result<DetachedPrometheus, LabError> {
    let learner = dir.join("prometheus.yml");
    let refused = {
        let file = learner.clone();
        tokio::task::spawn_blocking(move || tools::promtool(&file))
            .await
            .expect("promtool does not panic")?
    };
    let config = match refused {
        None => fs::read_to_string(&learner).map_err(|e| LabError::io("reading", &learner, e))?,
        Some(_) => catalog::placeholder_yml(),
    };
    let mut opts = PrometheusOptions::new(config);
    opts.kind = BackendKind::Detached;
    opts.binary = Some(tools.prometheus.clone());
    opts.listen_port = Some(ports.prometheus);
    opts.ready_timeout = READY;
    opts.extra_args = vec!["--storage.tsdb.retention.time=1d".to_owned()];
    opts.detached = Some(DetachedSpec {
        dir: dir.join(PRIVATE).join(PROMETHEUS_DIR),
        config_file: dir.join(ACTIVE_CONFIG),
    });
    Ok(start_detached(opts).await?)
}

fn register(guard: &mut StartGuard, role: &str, pid: u32, port: u16) -> Result<(), LabError> {
    guard.state.procs.push(Proc {
        role: role.into(),
        pid,
        port,
    });
    guard.state.save()
}

/// nginx' arguments: the learner's `nginx.conf` (which holds `daemon off;`), prefix and
/// logs in `.lab/nginx/`.
pub(crate) fn nginx_args(dir: &Path, test: bool) -> Vec<String> {
    let prefix = catalog::nginx_prefix(dir);
    let mut args = vec![
        "-p".to_owned(),
        format!("{}/", prefix.display()),
        "-c".to_owned(),
        dir.join("nginx.conf").display().to_string(),
        "-e".to_owned(),
        prefix.join("error.log").display().to_string(),
    ];
    if test {
        args.push("-t".into());
    }
    args
}

/// Stops the labs `up` has started so far, unless disarmed: `up` is all or nothing, also
/// when Ctrl-C drops it half-way (labs still starting are stopped by their own guard).
/// `dirs` are the folders of every lab `up` starts.
struct UpGuard {
    dirs: Vec<PathBuf>,
    armed: bool,
}

impl Drop for UpGuard {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        for dir in &self.dirs {
            // Only labs this process started (a finished start may not be collected yet).
            let ours = LabState::load(dir)
                .ok()
                .filter(|s| s.owner_pid == std::process::id());
            if let Some(state) = ours {
                procs::stop_lab(&state.dir, &state.procs);
                state.forget();
            }
        }
    }
}

/// Starts every lab for one learner, each in `<dir>/<name>` with its own ports, at once.
/// On failure (or when dropped half-way, e.g. by Ctrl-C) nothing stays running.
pub async fn up(dir: &Path, tools: &LabTools) -> Result<Vec<Started>, LabError> {
    let mut guard = UpGuard {
        dirs: Vec::new(),
        armed: true,
    };
    let mut set = tokio::task::JoinSet::new();
    let ports = reserve_ports(&LABS.map(|i| i.lab))?;
    for (info, ports) in LABS.iter().zip(ports) {
        let (lab, sub, tools) = (info.lab, dir.join(info.name), tools.clone());
        guard.dirs.push(sub.clone());
        set.spawn(
            async move { start_with_fresh_ports(lab, &sub, &tools, Some(ports), false).await },
        );
    }
    let mut started = Vec::new();
    let mut first_error = None;
    while let Some(joined) = set.join_next().await {
        match joined.expect("a lab start task does not panic") {
            Ok(s) => started.push(s),
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    if let Some(err) = first_error {
        return Err(err); // the guard stops what did start
    }
    for s in &started {
        let mut state = LabState::load(&s.dir)?;
        state.phase = Phase::Running;
        state.save()?;
    }
    guard.armed = false;
    started.sort_by_key(|s| LABS.iter().position(|i| i.lab == s.lab));
    Ok(started)
}

/// Stops the lab in `dir` (or every lab in its sub-folders, after `lab up`) and checks
/// that no process and no listening port is left.
pub async fn stop(dir: &Path) -> Result<Vec<Stopped>, LabError> {
    state::sweep_interrupted_starts();
    let dir = dir
        .canonicalize()
        .map_err(|e| LabError::io("resolving", dir, e))?;
    let mut dirs = Vec::new();
    if LabState::load(&dir).is_ok() {
        dirs.push(dir.clone());
    } else {
        let entries = fs::read_dir(&dir).map_err(|e| LabError::io("listing", &dir, e))?;
        let mut subs: Vec<PathBuf> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| LabState::load(p).is_ok())
            .collect();
        subs.sort();
        dirs.extend(subs);
    }
    if dirs.is_empty() {
        return Err(LabError::NotALab { dir });
    }
    let mut stopped = Vec::new();
    for dir in dirs {
        stopped.push(stop_one(&dir).await?);
    }
    Ok(stopped)
}

async fn stop_one(dir: &Path) -> Result<Stopped, LabError> {
    let state = LabState::load(dir)?;
    let before: Vec<u32> = procs::lab_processes(dir, &state.procs)
        .into_iter()
        .map(|(pid, _)| pid)
        .collect();
    if let Some(prometheus) = DetachedPrometheus::find(&state.private(PROMETHEUS_DIR))? {
        prometheus.stop().await?;
    }
    let left = tokio::task::spawn_blocking({
        let (dir, procs) = (dir.to_owned(), state.procs.clone());
        move || procs::stop_lab(&dir, &procs)
    })
    .await
    .expect("stopping a lab's processes does not panic");
    let mut problems: Vec<String> = left
        .iter()
        .map(|(pid, cmd)| {
            format!("process {pid} ({cmd}) still alive; kill it with `kill -9 {pid}`")
        })
        .collect();
    let ports: Vec<u16> = state.procs.iter().map(|p| p.port).collect();
    for &port in &ports {
        if !procs::wait_closed(port, Duration::from_secs(10)).await {
            problems.push(format!(
                "127.0.0.1:{port} still accepts connections; see `ss -ltnp 'sport = :{port}'`"
            ));
        }
    }
    if !problems.is_empty() {
        return Err(LabError::Leftovers {
            dir: dir.to_owned(),
            left: problems.join("; "),
        });
    }
    state.forget();
    Ok(Stopped {
        dir: dir.to_owned(),
        lab: state.lab,
        killed: before,
        ports,
    })
}

/// The next hint of the lab in `dir`: `(number, of, text)`; progress is kept in the folder.
pub fn hint(dir: &Path) -> Result<(usize, usize, &'static str), LabError> {
    let state = LabState::load(dir)?;
    let info = state.lab()?.info();
    let n = state::next_hint(&state.dir, info.hints.len())?;
    Ok((n, info.hints.len(), info.hints[n - 1]))
}

/// Applies lab `lab`'s reference solution to the lab running in `dir` (the files only;
/// `check` then applies them to Prometheus and nginx).
pub fn solution(
    lab: Lab,
    dir: &Path,
    tools: &LabTools,
    teacher_key: Option<&Path>,
) -> Result<(), LabError> {
    let state = unlocked(lab, dir, teacher_key)?;
    files::apply_solution(lab, &state.dir, &state.ports, tools)
}

/// The reference solution of `lab` in words, for the teacher of the lab in `dir`.
pub fn solution_text(
    lab: Lab,
    dir: &Path,
    teacher_key: Option<&Path>,
) -> Result<&'static str, LabError> {
    unlocked(lab, dir, teacher_key)?;
    Ok(lab.info().solution)
}

/// The state of the lab `lab` in `dir`, when `teacher_key` is the key it was started with.
fn unlocked(lab: Lab, dir: &Path, teacher_key: Option<&Path>) -> Result<LabState, LabError> {
    let state = match LabState::load(dir) {
        Err(LabError::NotALab { .. }) => {
            return Err(LabError::TeacherOnly {
                reason: format!(
                    "{} holds no lab; run it in (or with --dir) a lab folder started with \
                     `--teacher-key FILE`, passing the same key",
                    dir.display()
                ),
            })
        }
        other => other?,
    };
    if state.lab != lab.name() {
        return Err(LabError::Command {
            command: format!("lab solution {lab} --dir {}", dir.display()),
            detail: format!("{} holds lab `{}`, not `{lab}`", dir.display(), state.lab),
        });
    }
    super::teacher::authorize(&state, teacher_key)?;
    Ok(state)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_port_taken_by_another_process_is_told_from_other_start_failures() {
        let taken = LabError::NotReady {
            what: "Prometheus".into(),
            waited: Duration::from_secs(1),
            detail: "msg=\"Unable to start web listener\" err=\"listen tcp 127.0.0.1:39775: \
                     bind: address already in use\""
                .into(),
        };
        assert!(port_taken(&taken));
        let other = LabError::NotReady {
            what: "Prometheus".into(),
            waited: Duration::from_secs(1),
            detail: "no answer".into(),
        };
        assert!(!port_taken(&other));
    }

    #[test]
    fn reserved_ports_are_distinct() {
        let ports = reserve_ports(&[Lab::Keepalive, Lab::BasicAuth401]).unwrap();
        let mut all: Vec<u16> = ports
            .iter()
            .flat_map(|p| [Some(p.prometheus), Some(p.exporter), p.proxy])
            .flatten()
            .collect();
        assert_eq!(all.len(), 5);
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), 5, "distinct ports");
    }
}

//! Starting, stopping and helping: `start`, `up`, `stop`, `hint`, `solution`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fake_exporter::pki::{KeyType, Pki};

use super::catalog::{self, Lab, Ports, Variant, LABS};
use super::error::LabError;
use super::procs;
use super::state::{self, LabState, Phase, Proc, PRIVATE};
use crate::targets::PromApi;

/// How long a started process may take to listen (Prometheus: to answer `/-/ready`).
const READY: Duration = Duration::from_secs(30);
/// Deadline of every command the labs run (openssl, promtool, nginx -t).
pub(crate) const COMMAND_DEADLINE: Duration = Duration::from_secs(30);
/// The learner's Prometheus config as Prometheus runs it: beside `prometheus.yml`, so
/// relative paths mean the same, and only replaced once promtool accepts the learner's file.
pub(crate) const ACTIVE_CONFIG: &str = ".prometheus.active.yml";

/// The programs a lab runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabTools {
    /// `fake-exporter`.
    pub fake_exporter: PathBuf,
    /// `prometheus`.
    pub prometheus: PathBuf,
    /// `promtool`.
    pub promtool: PathBuf,
    /// `nginx` (nginx-light).
    pub nginx: PathBuf,
    /// `openssl`.
    pub openssl: PathBuf,
}

impl LabTools {
    /// Finds every tool on `PATH` (and in `/usr/sbin`, where Debian puts nginx);
    /// `fake_exporter` defaults to the one next to the running binary, `prometheus` to the
    /// one on `PATH` (a given one brings its own `promtool` when it sits beside it).
    pub fn find(
        fake_exporter: Option<PathBuf>,
        prometheus: Option<PathBuf>,
    ) -> Result<Self, LabError> {
        let fake_exporter = match fake_exporter {
            Some(path) => path,
            None => {
                let beside = std::env::current_exe()
                    .ok()
                    .map(|exe| exe.with_file_name("fake-exporter"))
                    .filter(|p| p.is_file());
                match beside {
                    Some(p) => p,
                    None => which("fake-exporter").ok_or_else(|| LabError::ToolMissing {
                        tool: "fake-exporter".into(),
                        detail: "not next to scrape-harness nor on PATH; build it with `cargo build -p fake-exporter` or pass --fake-exporter".into(),
                        package: "(this workspace)",
                    })?,
                }
            }
        };
        let find = |tool: &str, package: &'static str| {
            which(tool).ok_or_else(|| LabError::ToolMissing {
                tool: tool.into(),
                detail: "not on PATH nor in /usr/sbin".into(),
                package,
            })
        };
        let promtool_beside = prometheus
            .as_ref()
            .map(|p| p.with_file_name("promtool"))
            .filter(|p| p.is_file());
        let prometheus = match prometheus {
            Some(p) if p.is_file() => p,
            Some(p) => {
                return Err(LabError::ToolMissing {
                    tool: p.display().to_string(),
                    detail: "given with --prometheus-bin, but not a file".into(),
                    package: "prometheus",
                })
            }
            None => find("prometheus", "prometheus")?,
        };
        Ok(Self {
            fake_exporter,
            prometheus,
            promtool: match promtool_beside {
                Some(p) => p,
                None => find("promtool", "prometheus")?,
            },
            nginx: find("nginx", "nginx-light")?,
            openssl: find("openssl", "openssl")?,
        })
    }
}

fn which(tool: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
        .map(|d| d.join(tool))
        .find(|p| p.is_file())
}

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
            procs::kill_lab(&self.state.dir, &self.state.procs);
            self.state.forget();
        }
    }
}

/// Writes lab `lab` into `dir` (created if missing) and starts its processes; returns once
/// the exporter (and nginx) listen and Prometheus is ready.
pub async fn start(lab: Lab, dir: &Path, tools: &LabTools) -> Result<Started, LabError> {
    start_on(lab, dir, tools, None).await
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

async fn start_on(
    lab: Lab,
    dir: &Path,
    tools: &LabTools,
    ports: Option<Ports>,
) -> Result<Started, LabError> {
    state::sweep_interrupted_starts();
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
    let _ = fs::remove_dir_all(&private); // a stopped lab's leftovers: data, logs, hints
    fs::create_dir_all(private.join("nginx")).map_err(|e| LabError::io("creating", &private, e))?;
    let ports = match ports {
        Some(p) => p,
        None => reserve_ports(&[lab])?[0],
    };
    {
        let (dir, tools) = (dir.clone(), tools.clone());
        tokio::task::spawn_blocking(move || write_files(lab, &dir, &ports, &tools))
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
        },
        armed: true,
    };
    guard.state.save()?;

    // Spawn everything first, then wait: the waits overlap.
    let mut children: Vec<(String, u16, Child, PathBuf)> = Vec::new();
    let exporter_log = private.join("exporter.log");
    let exporter = procs::spawn(
        &tools.fake_exporter,
        &[
            format!("--web.listen-address=127.0.0.1:{}", ports.exporter),
            format!("--web.config.file={}", dir.join("web-config.yml").display()),
        ],
        &dir,
        &exporter_log,
    )?;
    register(&mut guard, "exporter", exporter.id(), ports.exporter)?;
    children.push((
        "the exporter".into(),
        ports.exporter,
        exporter,
        exporter_log,
    ));
    if let Some(proxy) = ports.proxy {
        let log = private.join("nginx").join("error.log");
        let nginx = procs::spawn(
            &tools.nginx,
            &nginx_args(&dir, false),
            &dir,
            &private.join("nginx.out"),
        )?;
        register(&mut guard, "nginx", nginx.id(), proxy)?;
        guard.state.nginx_conf_loaded = Some(fingerprint(&dir.join("nginx.conf")));
        children.push(("nginx".into(), proxy, nginx, log));
    }
    // The learner's config if promtool takes it, else none (the lab may start broken).
    let active = match promtool_check(&tools.promtool, &dir.join("prometheus.yml")) {
        Ok(()) => fs::read_to_string(dir.join("prometheus.yml")).map_err(|e| LabError::io("reading", dir.join("prometheus.yml"), e))?,
        Err(_) => "# prometheus.yml was refused by promtool; `scrape-harness lab check` explains why\nglobal:\n  scrape_interval: 2s\n".to_owned(),
    };
    state::write_atomic(&dir.join(ACTIVE_CONFIG), &active)?;
    let prom_log = private.join("prometheus.log");
    let mut prometheus = procs::spawn(
        &tools.prometheus,
        &[
            format!("--config.file={}", dir.join(ACTIVE_CONFIG).display()),
            format!(
                "--storage.tsdb.path={}",
                private.join("prometheus-data").display()
            ),
            format!("--web.listen-address=127.0.0.1:{}", ports.prometheus),
            "--web.enable-lifecycle".into(),
            "--storage.tsdb.retention.time=1d".into(),
        ],
        &dir,
        &prom_log,
    )?;
    register(&mut guard, "prometheus", prometheus.id(), ports.prometheus)?;
    for (what, port, child, log) in &mut children {
        procs::wait_listening(what, *port, child, log, READY).await?;
    }
    wait_ready(ports.prometheus, &mut prometheus, &prom_log).await?;
    guard.state.phase = Phase::Running;
    guard.state.save()?;
    guard.armed = false;
    Ok(Started {
        lab,
        dir,
        prometheus_url: format!("http://127.0.0.1:{}", ports.prometheus),
        pids: guard.state.procs.iter().map(|p| p.pid).collect(),
    })
}

fn register(guard: &mut StartGuard, role: &str, pid: u32, port: u16) -> Result<(), LabError> {
    guard.state.procs.push(Proc {
        role: role.into(),
        pid,
        port,
    });
    guard.state.save()
}

/// nginx' arguments: the learner's `nginx.conf`, prefix and logs in `.lab/nginx/`.
pub(crate) fn nginx_args(dir: &Path, test: bool) -> Vec<String> {
    let mut args = vec![
        "-p".to_owned(),
        format!("{}/", dir.join(PRIVATE).join("nginx").display()),
        "-c".to_owned(),
        dir.join("nginx.conf").display().to_string(),
        "-e".to_owned(),
        dir.join(PRIVATE)
            .join("nginx")
            .join("error.log")
            .display()
            .to_string(),
        "-g".to_owned(),
        "daemon off;".to_owned(),
    ];
    if test {
        args.push("-t".into());
    }
    args
}

/// A cheap fingerprint of a file's content (to notice edits).
pub(crate) fn fingerprint(path: &Path) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    fs::read(path).unwrap_or_default().hash(&mut h);
    format!("{:016x}", h.finish())
}

async fn wait_ready(port: u16, child: &mut Child, log: &Path) -> Result<(), LabError> {
    let api = PromApi::new(&format!("http://127.0.0.1:{port}"));
    let end = Instant::now() + READY;
    loop {
        if let Ok(Ok(())) = tokio::time::timeout(Duration::from_secs(2), api.ready()).await {
            return Ok(());
        }
        let detail = match child.try_wait() {
            Ok(Some(status)) => Some(format!("it exited ({status})")),
            _ if Instant::now() >= end => Some("/-/ready did not answer 200".to_owned()),
            _ => None,
        };
        if let Some(detail) = detail {
            return Err(LabError::NotReady {
                what: "Prometheus".into(),
                waited: READY,
                detail: format!("{detail}; its log {}:\n{}", log.display(), procs::tail(log)),
            });
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Runs a command with [`COMMAND_DEADLINE`]; `Ok(stdout+stderr)` when it exits 0.
pub(crate) fn run_command(program: &Path, args: &[String], cwd: &Path) -> Result<String, LabError> {
    let command = format!("{} {}", program.display(), args.join(" "));
    let mut child = Command::new(program)
        .args(args)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| LabError::Command {
            command: command.clone(),
            detail: format!("cannot be started: {e}"),
        })?;
    let end = Instant::now() + COMMAND_DEADLINE;
    let status = loop {
        if let Some(status) = child.try_wait().map_err(|e| LabError::Command {
            command: command.clone(),
            detail: e.to_string(),
        })? {
            break status;
        }
        if Instant::now() >= end {
            let _ = child.kill();
            let _ = child.wait();
            return Err(LabError::Command {
                command,
                detail: format!("no answer within {COMMAND_DEADLINE:?}"),
            });
        }
        std::thread::sleep(Duration::from_millis(20)); // poll, bounded by the deadline
    };
    let output = child.wait_with_output().map_err(|e| LabError::Command {
        command: command.clone(),
        detail: e.to_string(),
    })?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    if status.success() {
        Ok(text)
    } else {
        Err(LabError::Command {
            command,
            detail: format!("{status}: {}", text.trim()),
        })
    }
}

/// `promtool check config FILE`; the error carries promtool's message.
pub(crate) fn promtool_check(promtool: &Path, file: &Path) -> Result<(), String> {
    let dir = file.parent().unwrap_or(Path::new("."));
    run_command(
        promtool,
        &["check".into(), "config".into(), file.display().to_string()],
        dir,
    )
    .map(drop)
    .map_err(|e| tool_output(&e))
}

/// What a failed tool said: the output of [`run_command`]'s "exit status: N: <output>", or
/// the whole error when it did not run.
pub(crate) fn tool_output(err: &LabError) -> String {
    match err {
        LabError::Command { detail, .. } => detail
            .strip_prefix("exit status: ")
            .and_then(|rest| rest.split_once(": "))
            .map_or_else(|| detail.clone(), |(_, output)| output.to_owned()),
        other => other.to_string(),
    }
}

/// The openssl command line of a tutorial's self-signed certificate for `san`.
pub(crate) fn openssl_self_signed(san: &str) -> Vec<String> {
    [
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-days",
        "365",
        "-subj",
        "/CN=localhost",
        "-addext",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .chain([
        format!("subjectAltName={san}"),
        "-keyout".into(),
        "exporter.key.new".into(),
        "-out".into(),
        "exporter.crt.new".into(),
    ])
    .collect()
}

/// Makes `exporter.crt`/`exporter.key` with openssl (written beside, then renamed: the
/// exporter reads them on every connection).
fn make_classic_cert(tools: &LabTools, dir: &Path, san: &str) -> Result<(), LabError> {
    run_command(&tools.openssl, &openssl_self_signed(san), dir)?;
    for name in ["exporter.key", "exporter.crt"] {
        let from = dir.join(format!("{name}.new"));
        fs::rename(&from, dir.join(name)).map_err(|e| LabError::io("renaming", from, e))?;
    }
    Ok(())
}

fn write(dir: &Path, name: &str, text: &str) -> Result<(), LabError> {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(|e| LabError::io("creating", parent, e))?;
    }
    state::write_atomic(&path, text)
}

fn copy(dir: &Path, from: &str, to: &str) -> Result<(), LabError> {
    let text = fs::read_to_string(dir.join(from))
        .map_err(|e| LabError::io("reading", dir.join(from), e))?;
    write(dir, to, &text)
}

fn bcrypt_hash(password: &str) -> String {
    bcrypt::hash_with_result(password, 10)
        .expect("bcrypt with cost 10 cannot fail")
        .format_for_version(bcrypt::Version::TwoY)
}

fn run_as_root() -> bool {
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|euid| euid == "0"))
        })
        .unwrap_or(false)
}

/// Writes the lab's files (blocking: bcrypt, key generation, openssl).
fn write_files(lab: Lab, dir: &Path, ports: &Ports, tools: &LabTools) -> Result<(), LabError> {
    let info = lab.info();
    let hash = bcrypt_hash(catalog::PASSWORD);
    write(dir, "README.md", &catalog::readme(info, dir, ports))?;
    write(
        dir,
        "prometheus.yml",
        &catalog::prometheus_yml(lab, ports, Variant::Broken),
    )?;
    write(dir, "web-config.yml", &catalog::web_config_yml(lab, &hash))?;
    let uses_pki = !matches!(
        lab,
        Lab::ClassicTlsBasic | Lab::BasicAuth401 | Lab::BearerRotation
    );
    if uses_pki {
        Pki::generate(KeyType::EcdsaP256)?.write_to(&dir.join("pki"))?;
    }
    match lab {
        Lab::ClassicTlsBasic => {
            make_classic_cert(tools, dir, "DNS:localhost")?;
            write(dir, "password.txt", catalog::PASSWORD)?;
        }
        Lab::BasicAuth401 => write(dir, "password.txt", &hash)?,
        Lab::ExpiredCert => {
            copy(dir, "pki/server-expired.key", "exporter/server.key")?;
            copy(dir, "pki/server-expired.crt", "exporter/server.crt")?;
        }
        Lab::BearerRotation => write(dir, "exporter-token", &format!("{}\n", catalog::NEW_TOKEN))?,
        Lab::ReverseProxy => {
            write(dir, "password.txt", catalog::PASSWORD)?;
            write(dir, "htpasswd", &format!("prom:{hash}\n"))?;
        }
        _ => {}
    }
    if lab.has_proxy() {
        write(
            dir,
            "nginx.conf",
            &catalog::nginx_conf(lab, dir, ports, Variant::Broken, run_as_root()),
        )?;
    }
    Ok(())
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
                procs::kill_lab(&state.dir, &state.procs);
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
        set.spawn(async move { start_on(lab, &sub, &tools, Some(ports)).await });
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
    let left = procs::kill_lab(dir, &state.procs);
    let mut problems: Vec<String> = left
        .iter()
        .map(|(pid, cmd)| {
            format!("process {pid} ({cmd}) still alive; kill it with `kill -9 {pid}`")
        })
        .collect();
    let ports: Vec<u16> = state.procs.iter().map(|p| p.port).collect();
    let end = Instant::now() + Duration::from_secs(10);
    for &port in &ports {
        while procs::listening(port).await {
            if Instant::now() >= end {
                problems.push(format!(
                    "127.0.0.1:{port} still accepts connections; see `ss -ltnp 'sport = :{port}'`"
                ));
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    if !problems.is_empty() {
        return Err(LabError::Leftovers {
            dir: dir.to_owned(),
            left: problems.join("; "),
        });
    }
    state.forget();
    let _ = fs::remove_dir_all(state.private("prometheus-data"));
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
pub fn solution(lab: Lab, dir: &Path, tools: &LabTools) -> Result<(), LabError> {
    let state = LabState::load(dir)?;
    if state.lab != lab.name() {
        return Err(LabError::Command {
            command: format!("lab solution {lab} --apply --dir {}", dir.display()),
            detail: format!("{} holds lab `{}`, not `{lab}`", dir.display(), state.lab),
        });
    }
    let dir = &state.dir;
    let ports = &state.ports;
    match lab {
        Lab::ClassicTlsBasic => make_classic_cert(tools, dir, "DNS:localhost,IP:127.0.0.1"),
        Lab::BasicAuth401 => write(dir, "password.txt", catalog::PASSWORD),
        Lab::ExpiredCert => {
            copy(dir, "pki/server.key", "exporter/server.key")?;
            copy(dir, "pki/server.crt", "exporter/server.crt")
        }
        Lab::Keepalive => write(
            dir,
            "nginx.conf",
            &catalog::nginx_conf(lab, dir, ports, Variant::Fixed, run_as_root()),
        ),
        _ => write(
            dir,
            "prometheus.yml",
            &catalog::prometheus_yml(lab, ports, Variant::Fixed),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_tool_is_quoted_without_its_exit_status() {
        let err = LabError::Command {
            command: "promtool check config x".into(),
            detail: "exit status: 1: FAILED: line 3: field x".into(),
        };
        assert_eq!(tool_output(&err), "FAILED: line 3: field x");
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

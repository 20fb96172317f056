//! Real third-party targets on loopback for the conformance tests: nginx as a TLS reverse
//! proxy (TLS + Basic, mTLS, mTLS + Basic) in front of a plain fake-exporter, and the Python
//! `prometheus_client` exporter (TLS, mTLS). Each is an RAII guard: a child process on a free
//! 127.0.0.1 port, ready when an HTTPS request with the right credentials gets 200 (polled
//! with a deadline), killed by pid and reaped (with a deadline) on drop.
//!
//! Also the `--exec` templates that make node_exporter, Prometheus and Alertmanager run
//! under `scrape-harness conformance` (see [`exec_template`]).
//!
//! Needs nginx, curl, Alertmanager and the prometheus_client venv: `bash scripts/setup`.

use std::{
    fs,
    net::{SocketAddr, TcpListener},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{bail, ensure, Context, Result};

/// The Basic-auth user of every target here.
pub(crate) const BASIC_USER: &str = "prom";
/// Its password: long and random-looking, so it cannot occur in a metrics body.
pub(crate) const BASIC_PASSWORD: &str = "rt-Qx7vLp2Wm9";

/// How long a target may take to become ready.
const READY_LIMIT: Duration = Duration::from_secs(30);
/// How long a killed target may take to be reaped.
const STOP_LIMIT: Duration = Duration::from_secs(10);
/// How often a start is retried when the free port was taken in between.
const START_ATTEMPTS: usize = 3;

/// The prometheus_client venv that `scripts/setup` creates (fixed place).
pub(crate) fn venv_python() -> PathBuf {
    let home = std::env::var_os("HOME").unwrap_or_else(|| "/root".into());
    PathBuf::from(home).join(".cache/scrape-harness/venv/bin/python")
}

/// `harness/tests/fixtures/<name>`.
pub(crate) fn fixture(name: &str) -> PathBuf {
    crate::support::repo_root()
        .join("harness/tests/fixtures")
        .join(name)
}

/// A free port on 127.0.0.1 (bound, then released: a start that loses the race is retried).
pub(crate) fn free_loopback_addr() -> Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").context("binding 127.0.0.1:0")?;
    Ok(listener.local_addr()?)
}

/// Fails with the command that fixes it when `program` is not on `PATH`.
pub(crate) fn require_program(program: &str) -> Result<()> {
    let found = std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()));
    ensure!(
        found || Path::new(program).is_file(),
        "`{program}` is not installed: run `bash scripts/setup`"
    );
    Ok(())
}

/// The last `n` lines of a log file (for failure messages).
pub(crate) fn log_tail(path: &Path, n: usize) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// True while `/proc/<pid>` exists and is not a zombie.
pub(crate) fn is_alive(pid: u32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        !stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'))
    })
}

/// Fails naming every pid of `pids` that is still alive.
pub(crate) fn assert_gone(pids: &[u32]) -> Result<()> {
    let alive: Vec<u32> = pids.iter().copied().filter(|&p| is_alive(p)).collect();
    ensure!(alive.is_empty(), "processes left running: {alive:?}");
    Ok(())
}

/// Live processes whose command line mentions `needle` (e.g. a private temp dir that only
/// the processes of one run have in their arguments).
pub(crate) fn processes_mentioning(needle: &str) -> Result<Vec<(u32, String)>> {
    let mut found = Vec::new();
    for entry in fs::read_dir("/proc").context("reading /proc")?.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == std::process::id() {
            continue;
        }
        let Ok(cmdline) = fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if cmdline.contains(needle) && is_alive(pid) {
            found.push((pid, cmdline.trim().to_owned()));
        }
    }
    Ok(found)
}

/// A child process, its output in a log file; killed (SIGKILL) and reaped on drop.
pub(crate) struct Proc {
    child: Option<Child>,
    pid: u32,
    what: String,
    log: PathBuf,
}

impl Proc {
    /// Spawns `command` with stdin closed and stdout + stderr appended to `log`.
    pub(crate) fn spawn(mut command: Command, what: &str, log: &Path) -> Result<Self> {
        let out = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .with_context(|| format!("creating {}", log.display()))?;
        let err = out.try_clone()?;
        let child = command
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .with_context(|| format!("starting {what} ({command:?})"))?;
        Ok(Self {
            pid: child.id(),
            child: Some(child),
            what: what.to_owned(),
            log: log.to_owned(),
        })
    }

    /// The process id.
    pub(crate) fn pid(&self) -> u32 {
        self.pid
    }

    /// Its log file.
    pub(crate) fn log(&self) -> &Path {
        &self.log
    }

    /// `Some(status and log tail)` once the process has exited.
    pub(crate) fn exited(&mut self) -> Result<Option<String>> {
        let Some(child) = self.child.as_mut() else {
            return Ok(Some(format!("{} was stopped", self.what)));
        };
        Ok(child.try_wait()?.map(|status| {
            format!(
                "{} (pid {}) exited ({status}); last lines of {}:\n{}",
                self.what,
                self.pid,
                self.log.display(),
                log_tail(&self.log, 20)
            )
        }))
    }

    /// Kills the process (SIGKILL) and waits for it, at most [`STOP_LIMIT`].
    pub(crate) fn stop(&mut self) -> Result<()> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        if child.try_wait()?.is_none() {
            // Only this pid: it is a child of this test, nothing else is touched.
            let _ = child.kill();
        }
        let deadline = Instant::now() + STOP_LIMIT;
        loop {
            if child.try_wait()?.is_some() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                bail!(
                    "{} (pid {}) still runs {STOP_LIMIT:?} after SIGKILL",
                    self.what,
                    self.pid
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Err(e) = self.stop() {
            eprintln!("real_targets: {e:#}");
        }
    }
}

/// How a readiness probe talks to a target: `curl` arguments besides the URL.
#[derive(Debug, Clone, Default)]
pub(crate) struct Client {
    /// CA of the server certificate (HTTPS when set).
    pub(crate) ca: Option<PathBuf>,
    /// Client certificate and key.
    pub(crate) cert: Option<(PathBuf, PathBuf)>,
    /// Basic-auth user and password.
    pub(crate) basic: Option<(String, String)>,
}

impl Client {
    fn url(&self, addr: SocketAddr, path: &str) -> String {
        let scheme = if self.ca.is_some() { "https" } else { "http" };
        format!("{scheme}://{addr}{path}")
    }

    /// `GET path` with curl (5 s deadline): the HTTP status, or `None` when no HTTP answer
    /// came (refused, reset, TLS failure, timeout).
    pub(crate) fn status(&self, addr: SocketAddr, path: &str) -> Result<Option<u16>> {
        require_program("curl")?;
        let mut curl = Command::new("curl");
        curl.args([
            "-sS",
            "--max-time",
            "5",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
        ]);
        if let Some(ca) = &self.ca {
            curl.arg("--cacert").arg(ca);
        }
        if let Some((cert, key)) = &self.cert {
            curl.arg("--cert").arg(cert).arg("--key").arg(key);
        }
        if let Some((user, password)) = &self.basic {
            curl.arg("-u").arg(format!("{user}:{password}"));
        }
        let out = curl
            .arg(self.url(addr, path))
            .stdin(Stdio::null())
            .output()
            .context("running curl: install it with `bash scripts/setup`")?;
        let code: u16 = String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .unwrap_or(0);
        Ok((code != 0).then_some(code))
    }
}

/// Polls until `client` gets 200 from `addr` (ready), the process exits (error with its log)
/// or [`READY_LIMIT`] passes.
fn wait_ready(proc: &mut Proc, addr: SocketAddr, client: &Client) -> Result<()> {
    let mut last = None;
    let result = crate::support::poll(READY_LIMIT, &format!("{addr} to answer 200"), || {
        if let Some(exit) = proc.exited()? {
            bail!("{exit}");
        }
        last = client.status(addr, "/metrics")?;
        Ok((last == Some(200)).then_some(()))
    });
    result.with_context(|| {
        format!(
            "last answer: {last:?}; log {}:\n{}",
            proc.log().display(),
            log_tail(proc.log(), 20)
        )
    })
}

/// Starts with a fresh free port until the process does not exit at once (a port taken in
/// between makes it exit with "address in use").
fn start_on_free_port(
    what: &str,
    mut start: impl FnMut(SocketAddr) -> Result<(Proc, Client)>,
) -> Result<(Proc, SocketAddr)> {
    let mut errors = Vec::new();
    for _ in 0..START_ATTEMPTS {
        let addr = free_loopback_addr()?;
        let (mut proc, client) = start(addr)?;
        match wait_ready(&mut proc, addr, &client) {
            Ok(()) => return Ok((proc, addr)),
            Err(e) => {
                let exited = proc.exited()?.is_some();
                errors.push(format!("{addr}: {e:#}"));
                if !exited {
                    // Running but not answering: another attempt will not help.
                    break;
                }
            }
        }
    }
    bail!("{what} did not become ready:\n{}", errors.join("\n"))
}

/// A plain-HTTP fake-exporter on 127.0.0.1 (the upstream behind nginx).
pub(crate) struct PlainExporter {
    proc: Proc,
    addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl PlainExporter {
    /// Starts `fake-exporter --web.listen-address=127.0.0.1:PORT`.
    pub(crate) fn start() -> Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("it-real-upstream-")
            .tempdir()?;
        let bin = crate::support::fake_exporter_bin();
        let log = dir.path().join("fake-exporter.log");
        let (proc, addr) = start_on_free_port("fake-exporter (upstream)", |addr| {
            let mut command = Command::new(&bin);
            command.arg(format!("--web.listen-address={addr}"));
            Ok((
                Proc::spawn(command, "fake-exporter", &log)?,
                Client::default(),
            ))
        })?;
        Ok(Self {
            proc,
            addr,
            _dir: dir,
        })
    }

    /// Where it listens.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its pid.
    pub(crate) fn pid(&self) -> u32 {
        self.proc.pid()
    }
}

/// What nginx enforces in front of the upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NginxKind {
    /// TLS and `auth_basic` (bcrypt htpasswd).
    TlsBasic,
    /// TLS with `ssl_verify_client on` (the test CA).
    Mtls,
    /// Both.
    MtlsBasic,
    /// A TLS terminator that asks for any client certificate (`ssl_verify_client
    /// optional_no_ca`) and answers HTTP 403 unless it verified against the test CA.
    Terminator403,
    /// TLS that also accepts TLS 1.0 and 1.1 (`@SECLEVEL=0`), no auth: deliberately weak.
    LegacyTls,
}

impl NginxKind {
    /// The kinds that refuse a bad request the usual way (400 for certificates, 401 for
    /// credentials): the smoke test starts each.
    pub(crate) const ALL: [Self; 3] = [Self::TlsBasic, Self::Mtls, Self::MtlsBasic];

    /// Whether a client certificate is required.
    pub(crate) fn mtls(self) -> bool {
        matches!(self, Self::Mtls | Self::MtlsBasic | Self::Terminator403)
    }

    /// Whether Basic auth is required.
    pub(crate) fn basic(self) -> bool {
        matches!(self, Self::TlsBasic | Self::MtlsBasic)
    }
}

/// Files of the PKI that `scrape-harness certs --out DIR` writes.
#[derive(Debug, Clone)]
pub(crate) struct Pki {
    dir: PathBuf,
}

impl Pki {
    /// The PKI in `dir` (must hold ca.crt, server.crt/key, client.crt/key).
    pub(crate) fn at(dir: &Path) -> Result<Self> {
        for file in [
            "ca.crt",
            "server.crt",
            "server.key",
            "client.crt",
            "client.key",
        ] {
            ensure!(
                dir.join(file).is_file(),
                "{} has no {file}: write it with `scrape-harness certs --out {}`",
                dir.display(),
                dir.display()
            );
        }
        Ok(Self {
            dir: dir.to_owned(),
        })
    }

    /// A file of the PKI.
    pub(crate) fn file(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

/// Writes `PASSWORD` into `dir/password` (the `--basic-auth USER:FILE` file); returns it
/// and the bcrypt (cost 10) hash of the password for nginx' htpasswd.
fn write_credentials(dir: &Path) -> Result<(PathBuf, String)> {
    let hash = bcrypt::hash(BASIC_PASSWORD, 10).context("bcrypt")?;
    let password = dir.join("password");
    fs::write(&password, BASIC_PASSWORD)?;
    Ok((password, hash))
}

/// nginx (foreground, single process) as a TLS reverse proxy on 127.0.0.1: the harness'
/// own [`scrape_harness::prometheus::RunningNginx`] (config, launch and teardown in one place), made
/// ready here as every target of this module is: an HTTPS request with the right
/// credentials gets 200.
pub(crate) struct Nginx {
    nginx: scrape_harness::prometheus::RunningNginx,
    password_file: PathBuf,
    _dir: tempfile::TempDir,
}

impl Nginx {
    /// Starts nginx of `kind` in front of `upstream` with the server and CA certificates of
    /// the PKI in `pki_dir`; returns once an HTTPS request with the right credentials gets 200.
    pub(crate) fn start(kind: NginxKind, upstream: SocketAddr, pki_dir: &Path) -> Result<Self> {
        require_program("nginx")?;
        let pki = Pki::at(pki_dir)?;
        let dir = tempfile::Builder::new()
            .prefix("it-real-nginx-")
            .tempdir()?;
        let (password_file, hash) = write_credentials(dir.path())?;
        let client = Client {
            ca: Some(pki.file("ca.crt")),
            cert: kind
                .mtls()
                .then(|| (pki.file("client.crt"), pki.file("client.key"))),
            basic: kind
                .basic()
                .then(|| (BASIC_USER.to_owned(), BASIC_PASSWORD.to_owned())),
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let mut errors = Vec::new();
        // A free port may be taken in between: nginx then exits ("address in use").
        for _ in 0..START_ATTEMPTS {
            let mut config =
                scrape_harness::prometheus::NginxConfig::new(free_loopback_addr()?, upstream);
            config.tls = Some((pki.file("server.crt"), pki.file("server.key")));
            if kind.mtls() {
                config.client_ca = Some(pki.file("ca.crt"));
            }
            if kind == NginxKind::Terminator403 {
                config.client_cert_check =
                    scrape_harness::prometheus::ClientCertCheck::OptionalThen403;
            }
            config.insecure_legacy_tls = kind == NginxKind::LegacyTls;
            if kind.basic() {
                config.basic_auth_users = vec![(BASIC_USER.to_owned(), hash.clone())];
            }
            let nginx =
                match runtime.block_on(scrape_harness::prometheus::RunningNginx::start(&config)) {
                    Ok(nginx) => nginx,
                    Err(e) => {
                        errors.push(format!("{e}"));
                        continue;
                    }
                };
            let addr = nginx.addr();
            let mut last = None;
            crate::support::poll(
                READY_LIMIT,
                &format!("nginx on {addr} to answer 200"),
                || {
                    last = client.status(addr, "/metrics")?;
                    Ok((last == Some(200)).then_some(()))
                },
            )
            .with_context(|| format!("nginx ({kind:?}): last answer {last:?}"))?;
            return Ok(Self {
                nginx,
                password_file,
                _dir: dir,
            });
        }
        bail!("nginx ({kind:?}) did not start:\n{}", errors.join("\n"))
    }

    /// Where it listens (TLS).
    pub(crate) fn addr(&self) -> SocketAddr {
        self.nginx.addr()
    }

    /// Its pid.
    pub(crate) fn pid(&self) -> u32 {
        self.nginx.pid()
    }

    /// `USER:PASSWORD_FILE` for `--basic-auth`.
    pub(crate) fn basic_auth_arg(&self) -> String {
        format!("{BASIC_USER}:{}", self.password_file.display())
    }
}

/// The prometheus_client exporter (`harness/tests/fixtures/py_exporter.py`) on 127.0.0.1.
pub(crate) struct PyExporter {
    proc: Proc,
    addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl PyExporter {
    /// Starts it with TLS (server.crt/key of the PKI in `pki_dir`) and, with `mtls`, a
    /// required client certificate from the test CA; plain HTTP when `tls` is false.
    pub(crate) fn start(tls: bool, mtls: bool, pki_dir: &Path) -> Result<Self> {
        ensure!(tls || !mtls, "mTLS needs TLS");
        let python = venv_python();
        let check = Command::new(&python)
            .args([
                "-c",
                "import inspect, prometheus_client.exposition as e; \
                 assert 'client_auth_required' in inspect.signature(e.start_http_server).parameters",
            ])
            .stdin(Stdio::null())
            .output();
        ensure!(
            check.as_ref().is_ok_and(|o| o.status.success()),
            "{} has no prometheus_client with TLS support ({}): run `bash scripts/setup`",
            python.display(),
            match &check {
                Ok(o) => String::from_utf8_lossy(&o.stderr).trim().to_owned(),
                Err(e) => e.to_string(),
            }
        );
        let pki = Pki::at(pki_dir)?;
        let dir = tempfile::Builder::new().prefix("it-real-py-").tempdir()?;
        let log = dir.path().join("py_exporter.log");
        let script = fixture("py_exporter.py");
        let client = Client {
            ca: tls.then(|| pki.file("ca.crt")),
            cert: mtls.then(|| (pki.file("client.crt"), pki.file("client.key"))),
            basic: None,
        };
        let (proc, addr) = start_on_free_port("prometheus_client exporter", |addr| {
            let mut command = Command::new(&python);
            command.arg(&script).arg("--listen").arg(addr.to_string());
            if tls {
                command
                    .arg("--cert")
                    .arg(pki.file("server.crt"))
                    .arg("--key")
                    .arg(pki.file("server.key"));
            }
            if mtls {
                command.arg("--client-ca").arg(pki.file("ca.crt"));
            }
            Ok((
                Proc::spawn(command, "py_exporter.py", &log)?,
                client.clone(),
            ))
        })?;
        Ok(Self {
            proc,
            addr,
            _dir: dir,
        })
    }

    /// Where it listens.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its pid.
    pub(crate) fn pid(&self) -> u32 {
        self.proc.pid()
    }
}

/// Prometheus' own `/metrics` (Debian's `/usr/bin/prometheus`, plain HTTP, an empty
/// configuration) on 127.0.0.1: a Go `net/http` server to put behind a TLS terminator.
pub(crate) struct PromMetrics {
    proc: Proc,
    addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl PromMetrics {
    /// The binary.
    pub(crate) const BIN: &'static str = "/usr/bin/prometheus";

    /// Starts it; ready when `/metrics` answers 200.
    pub(crate) fn start() -> Result<Self> {
        ensure!(
            Path::new(Self::BIN).is_file(),
            "{} is missing: run `bash scripts/setup`",
            Self::BIN
        );
        let dir = tempfile::Builder::new().prefix("it-real-prom-").tempdir()?;
        let log = dir.path().join("prometheus.log");
        let data = dir.path().join("data");
        let (proc, addr) = start_on_free_port("prometheus (upstream)", |addr| {
            let mut command = Command::new(Self::BIN);
            command
                .arg("--config.file=/dev/null")
                .arg(format!("--storage.tsdb.path={}", data.display()))
                .arg(format!("--web.listen-address={addr}"));
            Ok((Proc::spawn(command, "prometheus", &log)?, Client::default()))
        })?;
        Ok(Self {
            proc,
            addr,
            _dir: dir,
        })
    }

    /// Where it listens.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its pid.
    pub(crate) fn pid(&self) -> u32 {
        self.proc.pid()
    }
}

/// Debian's node_exporter on 127.0.0.1 with a web-config of the caller's (plain HTTP when
/// `None`): a `--target` for posture checks (e.g. `RequireAnyClientCert`).
pub(crate) struct NodeExporter {
    proc: Proc,
    addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl NodeExporter {
    /// The binary.
    pub(crate) const BIN: &'static str = "/usr/bin/prometheus-node-exporter";

    /// Starts it (default collectors off) with `web_config` (YAML) when given; ready when
    /// `ready` gets 200 from `/metrics`.
    pub(crate) fn start(web_config: Option<&str>, ready: &Client) -> Result<Self> {
        ensure!(
            Path::new(Self::BIN).is_file(),
            "{} is missing: run `bash scripts/setup`",
            Self::BIN
        );
        let dir = tempfile::Builder::new().prefix("it-real-node-").tempdir()?;
        let config = dir.path().join("web-config.yml");
        if let Some(yaml) = web_config {
            fs::write(&config, yaml)?;
        }
        let log = dir.path().join("node_exporter.log");
        let (proc, addr) = start_on_free_port("node_exporter", |addr| {
            let mut command = Command::new(Self::BIN);
            command
                .arg("--collector.disable-defaults")
                .arg(format!("--web.listen-address={addr}"));
            if web_config.is_some() {
                command.arg(format!("--web.config.file={}", config.display()));
            }
            Ok((Proc::spawn(command, "node_exporter", &log)?, ready.clone()))
        })?;
        Ok(Self {
            proc,
            addr,
            _dir: dir,
        })
    }

    /// Where it listens.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its pid.
    pub(crate) fn pid(&self) -> u32 {
        self.proc.pid()
    }
}

/// Real exporters that `scrape-harness conformance --exec` starts itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ExecExporter {
    /// Debian's node_exporter, default collectors off.
    NodeExporter,
    /// Prometheus' own `/metrics`.
    Prometheus,
    /// Alertmanager, clustering off.
    Alertmanager,
}

/// The `--exec` template for `exporter` (the harness runs `sh -c "exec TEMPLATE"` with
/// `{listen}` and `{web_config}` substituted, in its own process group).
///
/// Prometheus and Alertmanager need a data dir per instance: `mktemp -d` inside the
/// directory that holds `{web_config}` (the harness's own work dir, removed with it), never
/// a bare `/tmp/tmp.*` that nothing removes. Prometheus reads an empty config from
/// `/dev/null`; Alertmanager needs a route, written into its data dir. Alertmanager's
/// `--cluster.listen-address=` (empty) turns clustering off: by default it binds
/// 0.0.0.0:9094.
pub(crate) fn exec_template(exporter: ExecExporter) -> &'static str {
    match exporter {
        ExecExporter::NodeExporter => {
            "/usr/bin/prometheus-node-exporter --collector.disable-defaults \
             --web.listen-address={listen} --web.config.file={web_config}"
        }
        ExecExporter::Prometheus => {
            r#"sh -c 'd=$(mktemp -d -p "$(dirname "$1")" prometheus-XXXXXX) && exec /usr/bin/prometheus --config.file=/dev/null --storage.tsdb.path="$d" --web.listen-address="$0" --web.config.file="$1"' {listen} {web_config}"#
        }
        ExecExporter::Alertmanager => {
            r#"sh -c 'd=$(mktemp -d -p "$(dirname "$1")" alertmanager-XXXXXX) && printf "route:\n  receiver: none\nreceivers:\n  - name: none\n" >"$d/alertmanager.yml" && exec /usr/bin/prometheus-alertmanager --config.file="$d/alertmanager.yml" --storage.path="$d" --cluster.listen-address= --web.listen-address="$0" --web.config.file="$1"' {listen} {web_config}"#
        }
    }
}

/// The binary an [`ExecExporter`] needs (fails with the fix when missing).
pub(crate) fn require_exec_exporter(exporter: ExecExporter) -> Result<()> {
    let bin = match exporter {
        ExecExporter::NodeExporter => "/usr/bin/prometheus-node-exporter",
        ExecExporter::Prometheus => "/usr/bin/prometheus",
        ExecExporter::Alertmanager => "/usr/bin/prometheus-alertmanager",
    };
    ensure!(
        Path::new(bin).is_file(),
        "{bin} is missing: run `bash scripts/setup`"
    );
    Ok(())
}

/// The guards work: every target answers 200 with the right credentials and refuses
/// without them; dropping them leaves no process.
#[test]
fn real_targets_start_refuse_and_stop() -> Result<()> {
    // bcrypt on every nginx request: keep it away from the 200 ms scrape timeouts.
    let _serial = crate::support::heavy();
    let harness = crate::support::Harness::new()?;
    let pki_dir = harness.tmp().join("pki");
    let ran = harness.run(
        &["certs", "--out", &pki_dir.to_string_lossy()],
        Duration::from_secs(60),
    )?;
    ensure!(ran.status.success(), "certs:{ran}");
    let pki = Pki::at(&pki_dir)?;
    let mut pids = Vec::new();
    {
        let upstream = PlainExporter::start()?;
        pids.push(upstream.pid());
        for kind in NginxKind::ALL {
            let nginx = Nginx::start(kind, upstream.addr(), &pki_dir)?;
            pids.push(nginx.pid());
            let anonymous = Client {
                ca: Some(pki.file("ca.crt")),
                ..Client::default()
            };
            let refused = anonymous.status(nginx.addr(), "/metrics")?;
            let expected = if kind.mtls() { 400 } else { 401 };
            ensure!(
                refused == Some(expected),
                "nginx {kind:?} without credentials: {refused:?}, expected {expected}"
            );
        }
        for (tls, mtls) in [(false, false), (true, false), (true, true)] {
            let py = PyExporter::start(tls, mtls, &pki_dir)?;
            pids.push(py.pid());
            if mtls {
                let anonymous = Client {
                    ca: Some(pki.file("ca.crt")),
                    ..Client::default()
                };
                let refused = anonymous.status(py.addr(), "/metrics")?;
                ensure!(
                    refused.is_none(),
                    "prometheus_client mTLS without a client certificate answered {refused:?}"
                );
            }
        }
    }
    assert_gone(&pids)
}

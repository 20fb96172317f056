//! The real Alertmanager (Debian's `prometheus-alertmanager`, 0.25) as a receiver, run with
//! the same exporter-toolkit `web-config.yml` as the fake one, so that the two can be
//! compared. One process per receiver: its own temp dir (`--storage.path`, a minimal
//! `alertmanager.yml`, its log), no gossip (`--cluster.listen-address=`), 127.0.0.1 only.
//! Dropped = killed (`kill_on_drop`) and the temp dir removed.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::process::{Child, Command};

/// Environment variable naming the Alertmanager binary (default: `prometheus-alertmanager`
/// as Debian names it, else `alertmanager`, searched in `PATH`).
pub const ALERTMANAGER_BIN_ENV: &str = "ALERTMANAGER_BIN";

/// A minimal routing config: every alert to a receiver that sends nothing.
const CONFIG: &str = "route:\n  receiver: blackhole\nreceivers:\n  - name: blackhole\n";

/// A running Alertmanager.
#[derive(Debug)]
pub struct RealAlertmanager {
    child: Child,
    addr: SocketAddr,
    dir: tempfile::TempDir,
    binary: PathBuf,
}

/// Why the Alertmanager did not start.
#[derive(Debug, thiserror::Error)]
pub enum AlertmanagerError {
    /// No binary.
    #[error(
        "no Alertmanager binary: neither `prometheus-alertmanager` nor `alertmanager` is in \
         PATH; install Debian's `prometheus-alertmanager` (scripts/setup does) or set \
         {ALERTMANAGER_BIN_ENV}"
    )]
    NotFound,
    /// I/O while preparing or starting.
    #[error("Alertmanager {}: {what}: {source}", .binary.display())]
    Io {
        /// The binary.
        binary: PathBuf,
        /// What was being done.
        what: &'static str,
        /// The OS error.
        source: std::io::Error,
    },
    /// It exited before listening.
    #[error("Alertmanager {} exited before listening on {addr} ({status}); its log:\n{log}", .binary.display())]
    Exited {
        /// The binary.
        binary: PathBuf,
        /// Where it should listen.
        addr: SocketAddr,
        /// Exit status.
        status: String,
        /// Its output.
        log: String,
    },
    /// It did not listen in time.
    #[error("Alertmanager {} did not listen on {addr} within {timeout:?}; its log:\n{log}", .binary.display())]
    NotListening {
        /// The binary.
        binary: PathBuf,
        /// Where it should listen.
        addr: SocketAddr,
        /// The deadline.
        timeout: Duration,
        /// Its output.
        log: String,
    },
}

impl RealAlertmanager {
    /// The binary to run: `$ALERTMANAGER_BIN`, else the first of `prometheus-alertmanager`,
    /// `alertmanager` in `PATH`.
    pub fn find_binary() -> Result<PathBuf, AlertmanagerError> {
        if let Some(bin) = std::env::var_os(ALERTMANAGER_BIN_ENV) {
            return Ok(PathBuf::from(bin));
        }
        let path = std::env::var_os("PATH").unwrap_or_default();
        ["prometheus-alertmanager", "alertmanager"]
            .iter()
            .flat_map(|name| std::env::split_paths(&path).map(move |dir| dir.join(name)))
            .find(|p| p.is_file())
            .ok_or(AlertmanagerError::NotFound)
    }

    /// Starts Alertmanager on `127.0.0.1:<free port>` with `web_config` and returns once
    /// its port accepts connections (checked every 50 ms, up to `timeout`).
    pub async fn start(web_config: &Path, timeout: Duration) -> Result<Self, AlertmanagerError> {
        let binary = Self::find_binary()?;
        let io = |what| {
            let binary = binary.clone();
            move |source| AlertmanagerError::Io {
                binary,
                what,
                source,
            }
        };
        let dir = tempfile::Builder::new()
            .prefix("scrape-harness-alertmanager-")
            .tempdir()
            .map_err(io("creating its temp dir"))?;
        // Swept (the directory) after a harness killed without unwinding, like Prometheus'.
        std::fs::write(
            dir.path().join("owner.pid"),
            format!("{}\n", std::process::id()),
        )
        .map_err(io("writing owner.pid"))?;
        let config = dir.path().join("alertmanager.yml");
        std::fs::write(&config, CONFIG).map_err(io("writing alertmanager.yml"))?;
        let port = crate::backend::free_local_port().map_err(io("picking a free port"))?;
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let log = std::fs::File::create(dir.path().join("alertmanager.log"))
            .map_err(io("creating its log"))?;
        let log2 = log.try_clone().map_err(io("creating its log"))?;
        let child = Command::new(&binary)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address={addr}"))
            .arg(format!("--web.config.file={}", web_config.display()))
            .arg("--cluster.listen-address=")
            // The next run's leftover sweep kills an Alertmanager whose harness died.
            .env(
                crate::backend::OWNER_PID_ENV,
                std::process::id().to_string(),
            )
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2)
            .kill_on_drop(true)
            .spawn()
            .map_err(io("starting"))?;
        let mut am = Self {
            child,
            addr,
            dir,
            binary,
        };
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = am.child.try_wait() {
                return Err(AlertmanagerError::Exited {
                    binary: am.binary.clone(),
                    addr,
                    status: status.to_string(),
                    log: am.log(),
                });
            }
            let attempt =
                tokio::time::timeout(Duration::from_secs(1), tokio::net::TcpStream::connect(addr))
                    .await;
            if let Ok(Ok(_)) = attempt {
                return Ok(am);
            }
            if Instant::now() >= deadline {
                return Err(AlertmanagerError::NotListening {
                    binary: am.binary.clone(),
                    addr,
                    timeout,
                    log: am.log(),
                });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its output so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("alertmanager.log")).unwrap_or_default()
    }
}

impl Drop for RealAlertmanager {
    /// SIGKILL, then reap it (polled, up to 5 s) before the temp dir is removed, so that
    /// no write of a dying process races the removal. Needs no runtime.
    fn drop(&mut self) {
        let _ = self.child.start_kill();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            match self.child.try_wait() {
                Ok(None) => std::thread::sleep(Duration::from_millis(10)),
                Ok(Some(_)) | Err(_) => break,
            }
        }
    }
}

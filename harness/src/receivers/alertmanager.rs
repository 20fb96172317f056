//! The real Alertmanager (Debian's `prometheus-alertmanager`, 0.25) as a receiver, run with
//! the same exporter-toolkit `web-config.yml` as the fake one, so that the two can be
//! compared. One process per receiver: its own run directory (`--storage.path`, a minimal
//! `alertmanager.yml`, its log), no gossip (`--cluster.listen-address=`), 127.0.0.1 only.
//! Supervised like every child of the harness (`supervise`): dropped = stopped (SIGTERM,
//! SIGKILL after a grace period), reaped, and the directory removed.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::supervise::{find_program, NotReady, Output, RunDir, Spec, Supervised};

/// Environment variable naming the Alertmanager binary (default: `prometheus-alertmanager`
/// as Debian names it, else `alertmanager`, searched in `PATH`).
pub const ALERTMANAGER_BIN_ENV: &str = "ALERTMANAGER_BIN";

/// A minimal routing config: every alert to a receiver that sends nothing.
const CONFIG: &str = "route:\n  receiver: blackhole\nreceivers:\n  - name: blackhole\n";

/// A running Alertmanager.
#[derive(Debug)]
pub struct RealAlertmanager {
    // Declared before `dir`: the process stops before its directory is removed.
    child: Supervised,
    addr: SocketAddr,
    dir: RunDir,
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
        find_program(
            ALERTMANAGER_BIN_ENV,
            &["prometheus-alertmanager", "alertmanager"],
        )
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
        let supervise_error = |what| {
            let io = io(what);
            move |e: crate::supervise::SuperviseError| io(e.into_parts().2)
        };
        // Swept (the directory, by its `owner.pid`; the process, by its owner marker) after
        // a harness killed without unwinding, like Prometheus'.
        let dir =
            RunDir::create("alertmanager").map_err(supervise_error("creating its temp dir"))?;
        let config = dir.join("alertmanager.yml");
        std::fs::write(&config, CONFIG).map_err(io("writing alertmanager.yml"))?;
        let port = crate::backend::free_local_port().map_err(io("picking a free port"))?;
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let child = Spec::new(&binary)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.path={}", dir.join("data").display()))
            .arg(format!("--web.listen-address={addr}"))
            .arg(format!("--web.config.file={}", web_config.display()))
            .arg("--cluster.listen-address=")
            .output(Output::File(dir.join("alertmanager.log")))
            .spawn()
            .map_err(supervise_error("starting"))?;
        let am = Self {
            child,
            addr,
            dir,
            binary,
        };
        let listening = move || async move {
            let attempt =
                tokio::time::timeout(Duration::from_secs(1), tokio::net::TcpStream::connect(addr))
                    .await;
            matches!(attempt, Ok(Ok(_)))
        };
        match am.child.wait_until(timeout, listening).await {
            Ok(()) => Ok(am),
            Err(NotReady::Exited(status)) => Err(AlertmanagerError::Exited {
                binary: am.binary.clone(),
                addr,
                status: status.to_string(),
                log: am.log(),
            }),
            Err(NotReady::TimedOut) => Err(AlertmanagerError::NotListening {
                binary: am.binary.clone(),
                addr,
                timeout,
                log: am.log(),
            }),
        }
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its output so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("alertmanager.log")).unwrap_or_default()
    }
}

//! Exporters under test that are not ours: a command line with `{listen}` and
//! `{web_config}` placeholders, started once per case (conformance `--exec`), under the
//! crate's child-process guard (`supervise`).

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tokio::io::AsyncReadExt;

use crate::supervise::{NotReady, Output, Spec, Supervised};

/// A command template such as
/// `prometheus-node-exporter --web.listen-address={listen} --web.config.file={web_config}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecTemplate(String);

/// A template that cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ExecTemplateError {
    /// A placeholder is missing.
    #[error("the exporter command template must contain `{placeholder}` (where the harness puts the {what}); e.g. 'node_exporter --web.listen-address={{listen}} --web.config.file={{web_config}}'")]
    Missing {
        /// The placeholder.
        placeholder: &'static str,
        /// What goes there.
        what: &'static str,
    },
}

impl ExecTemplate {
    /// Checks that both placeholders are present.
    pub fn parse(template: &str) -> Result<Self, ExecTemplateError> {
        for (placeholder, what) in [
            ("{listen}", "listen address"),
            ("{web_config}", "web-config.yml path"),
        ] {
            if !template.contains(placeholder) {
                return Err(ExecTemplateError::Missing { placeholder, what });
            }
        }
        Ok(Self(template.to_owned()))
    }

    /// The template as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The command line for one case.
    pub fn render(&self, listen: SocketAddr, web_config: &Path) -> String {
        self.0.replace("{listen}", &listen.to_string()).replace(
            "{web_config}",
            &shell_quote(&web_config.display().to_string()),
        )
    }
}

fn shell_quote(s: &str) -> String {
    if s.chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-:".contains(c))
    {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// A started exporter process; stopped (with its process group) on drop.
#[derive(Debug)]
pub(crate) struct ExternalExporter {
    child: Supervised,
    /// Where it listens.
    pub(crate) addr: SocketAddr,
}

/// Why an external exporter is not serving.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum StartFailure {
    /// It exited before accepting connections; its stderr (last lines).
    Exited {
        /// Exit status text.
        status: String,
        /// stderr tail.
        stderr: String,
    },
    /// It did not accept connections within the deadline.
    NotListening {
        /// How long we waited.
        waited: Duration,
    },
    /// The command could not be spawned.
    Spawn(String),
}

impl std::fmt::Display for StartFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Exited { status, stderr } => write!(f, "exited at start ({status}): {stderr}"),
            Self::NotListening { waited } => {
                write!(f, "did not accept connections within {waited:?}")
            }
            Self::Spawn(e) => write!(f, "could not be started: {e}"),
        }
    }
}

/// How long a first answer may take before the exporter counts as serving anyway (a
/// server may stay silent to plain bytes on a TLS port).
const FIRST_ANSWER_TIMEOUT: Duration = Duration::from_secs(3);
/// How long an exporter that closed the first connection may take to exit.
const EXIT_GRACE: Duration = Duration::from_secs(1);

/// Sends a plain `GET /` on `stream` and reads the first byte of any answer (an HTTP
/// response, a TLS alert). No answer (closed, reset, silent): watches the process for
/// [`EXIT_GRACE`] and returns its exit status if it exited.
async fn exits_on_first_request(
    mut stream: tokio::net::TcpStream,
    child: &Supervised,
) -> Option<std::process::ExitStatus> {
    use tokio::io::AsyncWriteExt as _;
    let _ = stream
        .write_all(b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n")
        .await;
    let mut byte = [0u8; 1];
    if let Ok(Ok(n)) = tokio::time::timeout(FIRST_ANSWER_TIMEOUT, stream.read(&mut byte)).await {
        if n > 0 {
            return None;
        }
    }
    match child.wait_until(EXIT_GRACE, || async { false }).await {
        Err(NotReady::Exited(status)) => Some(status),
        Ok(()) | Err(NotReady::TimedOut) => None,
    }
}

/// The failure of an exporter that exited, with the last lines of its output.
fn exited_failure(status: std::process::ExitStatus, child: &Supervised) -> StartFailure {
    let tail = child.log_tail(5);
    StartFailure::Exited {
        status: status.to_string(),
        stderr: tail.lines().collect::<Vec<_>>().join(" | "),
    }
}

impl ExternalExporter {
    /// Runs `sh -c <command>` in its own process group and waits until `addr` accepts TCP
    /// connections (polling, deadline `timeout`).
    pub(crate) async fn start(
        command: String,
        addr: SocketAddr,
        timeout: Duration,
    ) -> Result<Self, StartFailure> {
        // Marked as ours (the guard's owner marker): a later run's sweep kills it if this
        // harness dies by SIGKILL before stopping it. Its output is kept in memory (the
        // last lines), drained so that a chatty exporter never blocks on a full pipe.
        let child = Spec::new("sh")
            .arg("-c")
            .arg(format!("exec {command}"))
            .output(Output::Memory)
            .spawn()
            .map_err(|e| StartFailure::Spawn(e.into_parts().2.to_string()))?;
        let connected = Mutex::new(None);
        let slot = &connected;
        let connect = move || async move {
            let stream = tokio::net::TcpStream::connect(addr).await.ok();
            let ok = stream.is_some();
            *slot.lock().unwrap_or_else(PoisonError::into_inner) = stream;
            ok
        };
        match child.wait_until(timeout, connect).await {
            Err(NotReady::Exited(status)) => return Err(exited_failure(status, &child)),
            Err(NotReady::TimedOut) => return Err(StartFailure::NotListening { waited: timeout }),
            Ok(()) => {}
        }
        // Listening is not serving: exporter-toolkit listens first and reads its web-config
        // after, then exits if it is bad. Ask, and see whether it stays.
        let stream = connected
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(stream) = stream {
            if let Some(exited) = exits_on_first_request(stream, &child).await {
                return Err(exited_failure(exited, &child));
            }
        }
        Ok(Self { child, addr })
    }

    /// Whether the socket listening on its port belongs to its process group (and not to
    /// another process that took the port first). Read from `/proc`: the listening
    /// socket's inode in `/proc/net/tcp{,6}` among the file descriptors of the group's
    /// processes. Where `/proc` cannot tell (not Linux, no permission), `true`.
    pub(crate) fn owns_listener(&self) -> bool {
        if self.child.try_exit().is_some() {
            return false;
        }
        let pgid = self.child.pid();
        let inodes = listening_inodes(self.addr.port());
        if inodes.is_empty() {
            return true;
        }
        for pid in crate::procfs::pids() {
            if pid != pgid && crate::procfs::pgid(pid) != Some(pgid) {
                continue;
            }
            let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
                continue;
            };
            for fd in fds.flatten() {
                if let Ok(target) = std::fs::read_link(fd.path()) {
                    let target = target.to_string_lossy();
                    if inodes.iter().any(|i| target == format!("socket:[{i}]")) {
                        return true;
                    }
                }
            }
        }
        false
    }

    /// Stops the process group (SIGTERM, SIGKILL after a grace period) and waits for the
    /// process.
    pub(crate) async fn stop(self) {
        let child = self.child;
        let _ = tokio::task::spawn_blocking(move || child.stop()).await;
    }
}

/// Inodes of the sockets listening on `port` (IPv4 and IPv6), from `/proc/net`.
fn listening_inodes(port: u16) -> Vec<String> {
    let wanted = format!(":{port:04X}");
    let mut out = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let cols: Vec<&str> = line.split_whitespace().collect();
            // local_address rem_address st ... inode (column 9); 0A = LISTEN.
            if cols.len() > 9 && cols[1].ends_with(&wanted) && cols[3] == "0A" {
                out.push(cols[9].to_owned());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_needs_both_placeholders() {
        assert!(ExecTemplate::parse("x --a={listen} --b={web_config}").is_ok());
        let err = ExecTemplate::parse("x --a={listen}").expect_err("no web_config");
        assert!(err.to_string().contains("{web_config}"), "{err}");
        let t = ExecTemplate::parse("x --a={listen} --b={web_config}").expect("valid");
        assert_eq!(
            t.render(
                "127.0.0.1:9100".parse().expect("addr"),
                Path::new("/tmp/a b/w.yml")
            ),
            "x --a=127.0.0.1:9100 --b='/tmp/a b/w.yml'"
        );
    }

    #[tokio::test]
    async fn a_listener_is_the_exporters_only_if_its_group_holds_it() {
        // Another process (this test) holds the port; the "exporter" listens nowhere.
        let foreign = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = foreign.local_addr().expect("addr");
        let imposter = ExternalExporter::start("sleep 30".into(), addr, Duration::from_secs(10))
            .await
            .expect("the port accepts");
        assert!(!imposter.owns_listener());
        imposter.stop().await;
        drop(foreign);

        // An exporter that listens itself (python: in every setup of this bench).
        let port = crate::backend::free_local_port().expect("port");
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
        let own = ExternalExporter::start(
            format!(
                "python3 -c 'import socket,time; s=socket.socket(); s.bind((\"127.0.0.1\",{port})); s.listen(); time.sleep(30)'"
            ),
            addr,
            Duration::from_secs(10),
        )
        .await
        .expect("listens");
        assert!(own.owns_listener());
        own.stop().await;
    }

    #[tokio::test]
    async fn early_exit_reports_stderr() {
        let addr: SocketAddr = "127.0.0.1:1".parse().expect("addr");
        let err = ExternalExporter::start(
            "sh -c 'echo boom >&2; exit 3'".into(),
            addr,
            Duration::from_secs(5),
        )
        .await
        .expect_err("exits");
        assert!(err.to_string().contains("boom"), "{err}");
    }
}

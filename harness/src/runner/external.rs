//! Exporters under test that are not ours: a command line with `{listen}` and
//! `{web_config}` placeholders, started once per case (conformance `--exec`) under the
//! crate's child-process guard (`supervise`), and what the harness observes of them without
//! counters of its own (the HTTP version of the scrapes, [`scrape_http_versions`]).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::AsyncReadExt;

use crate::supervise::{NotReady, Output, Spec, Supervised};

use crate::promconfig::{ScrapeConfig, TlsConfig, TlsVersion};
use crate::scenario::HttpVersion;

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

/// Why the HTTP version of an exporter under test's scrapes could not be observed (see
/// [`scrape_http_versions`]). Recorded observations keep it as its message (the JSON of a
/// `Result<String, String>`), read back as [`Self::Recorded`].
#[derive(Clone, Debug, PartialEq, thiserror::Error, Serialize, Deserialize)]
#[serde(into = "String", from = "String")]
#[non_exhaustive]
pub enum HttpVersionUnobserved {
    /// The job scrapes through a proxy.
    #[error("scraped through a proxy: the exporter's ALPN choice is not the scrape's")]
    ThroughProxy,
    /// The job has no static target.
    #[error("the job has no target")]
    NoTarget,
    /// The target is not an `ip:port`.
    #[error("target `{target}`: {source}")]
    BadTarget {
        /// The target as written.
        target: String,
        /// Why it does not parse.
        source: std::net::AddrParseError,
    },
    /// rustls speaks no TLS version the job allows.
    #[error("the job allows only TLS versions below 1.2 ({min:?}..={max:?}), which this probe does not speak")]
    OnlyOldTls {
        /// The job's `min_version` (TLS 1.2 when unset).
        min: TlsVersion,
        /// The job's `max_version` (TLS 1.3 when unset).
        max: TlsVersion,
    },
    /// The job's client certificate or key cannot be read.
    #[error("{}: {detail}", .path.display())]
    ClientCert {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        detail: String,
    },
    /// The job's server name (or the target's IP) is no TLS server name.
    #[error("server name `{name}`: {detail}")]
    ServerName {
        /// The name.
        name: String,
        /// Why rustls refuses it.
        detail: String,
    },
    /// rustls refused the client configuration.
    #[error("{0}")]
    Tls(rustls::Error),
    /// No handshake within the probe's deadline.
    #[error("no TLS handshake with {addr} within {waited:?}")]
    HandshakeTimeout {
        /// The exporter.
        addr: SocketAddr,
        /// How long was waited.
        waited: Duration,
    },
    /// The handshake failed.
    #[error("TLS handshake with {addr}: {detail}")]
    Handshake {
        /// The exporter.
        addr: SocketAddr,
        /// The connection's or the handshake's error.
        detail: String,
    },
    /// `openssl s_client` did not answer in time.
    #[error("`openssl s_client` got no answer within {waited:?}")]
    OpensslTimeout {
        /// How long was waited.
        waited: Duration,
    },
    /// `openssl` could not be run.
    #[error(
        "`openssl s_client` could not run ({detail}): install it with `apt-get install -y openssl`"
    )]
    OpensslUnusable {
        /// The OS error.
        detail: String,
    },
    /// `openssl s_client` ran, but completed no handshake.
    #[error("`openssl s_client` completed no handshake: {last_line}")]
    OpensslNoHandshake {
        /// The last line of its stderr.
        last_line: String,
    },
    /// Neither rustls nor OpenSSL completed a handshake.
    #[error("{rustls}; {openssl}")]
    NoClient {
        /// Why rustls did not.
        rustls: Box<Self>,
        /// Why OpenSSL did not.
        openssl: Box<Self>,
    },
    /// Read back from a recording: the message as it was observed.
    #[error("{0}")]
    Recorded(String),
}

impl From<HttpVersionUnobserved> for String {
    fn from(err: HttpVersionUnobserved) -> Self {
        err.to_string()
    }
}

impl From<String> for HttpVersionUnobserved {
    fn from(message: String) -> Self {
        Self::Recorded(message)
    }
}

/// R8 for exporters under test: the HTTP version Prometheus' scrapes of each case used, for
/// every case that expects one (`expect.http_version`), by case name; `Err` says why it
/// could not be observed. Call while the exporters still run.
///
/// An exporter under test has no counters of ours, and Prometheus does not export the
/// protocol of its scrapes, so the version is read from what decides it: Prometheus' scrape
/// client (prometheus/common on Go's `net/http`) never speaks h2c, so plain HTTP is
/// HTTP/1.1; over TLS it uses HTTP/2 exactly when the handshake negotiated ALPN `h2`, which
/// the exporter picks from what the client offers (`h2, http/1.1` when the job enables
/// HTTP/2, the default; nothing with `enable_http2: false`). The harness makes that offer
/// to the running exporter, with the job's client certificate, TLS versions and server
/// name, and records the exporter's choice: the same judge as for fake-exporter's counters
/// then compares it with the expectation.
pub(super) async fn scrape_http_versions(
    plan: &crate::scenario::Plan,
    started: &[super::exporters::StartedCase],
) -> std::collections::BTreeMap<String, Result<HttpVersion, HttpVersionUnobserved>> {
    let mut out = std::collections::BTreeMap::new();
    for (case, s) in plan.cases.iter().zip(started) {
        let Some(job) = s
            .job
            .as_ref()
            .filter(|_| case.expect.http_version.is_some())
        else {
            continue;
        };
        out.insert(case.name.clone(), scrape_http_version(job).await);
    }
    out
}

/// How long the ALPN handshake of [`scrape_http_version`] may take.
const ALPN_PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// The HTTP version Prometheus' scrape of `job` uses (see [`scrape_http_versions`]).
async fn scrape_http_version(job: &ScrapeConfig) -> Result<HttpVersion, HttpVersionUnobserved> {
    use crate::promconfig::Scheme;
    if job.proxy_url.is_some() {
        return Err(HttpVersionUnobserved::ThroughProxy);
    }
    let target = job
        .static_configs
        .iter()
        .flat_map(|c| &c.targets)
        .next()
        .ok_or(HttpVersionUnobserved::NoTarget)?;
    let addr: SocketAddr = target
        .parse()
        .map_err(|source| HttpVersionUnobserved::BadTarget {
            target: target.clone(),
            source,
        })?;
    // Plain HTTP: Prometheus' scrape client never upgrades (no h2c). `enable_http2: false`:
    // it offers no ALPN, and Go's client speaks HTTP/2 only on an `h2` it offered.
    if job.scheme != Some(Scheme::Https) || job.enable_http2 == Some(false) {
        return Ok(HttpVersion::Http11);
    }
    let tls = job.tls_config.clone().unwrap_or_default();
    let h2 = match alpn_by_rustls(addr, &tls).await {
        Ok(h2) => h2,
        // rustls speaks neither TLS 1.0/1.1 nor CBC suites, which Go (and Prometheus)
        // still can: ask OpenSSL.
        Err(rustls) => alpn_by_openssl(addr, &tls).await.map_err(|openssl| {
            HttpVersionUnobserved::NoClient {
                rustls: Box::new(rustls),
                openssl: Box::new(openssl),
            }
        })?,
    };
    Ok(if h2 {
        HttpVersion::Http2
    } else {
        HttpVersion::Http11
    })
}

/// Whether the exporter at `addr` picks `h2` from Prometheus' offer, through rustls.
async fn alpn_by_rustls(addr: SocketAddr, tls: &TlsConfig) -> Result<bool, HttpVersionUnobserved> {
    let config = alpn_client_config(tls)?;
    let name = tls
        .server_name
        .clone()
        .unwrap_or_else(|| addr.ip().to_string());
    let name = rustls_pki_types::ServerName::try_from(name.clone()).map_err(|e| {
        HttpVersionUnobserved::ServerName {
            name,
            detail: e.to_string(),
        }
    })?;
    let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config));
    let handshake = async {
        let tcp = tokio::net::TcpStream::connect(addr).await?;
        connector.connect(name, tcp).await
    };
    let stream = tokio::time::timeout(ALPN_PROBE_TIMEOUT, handshake)
        .await
        .map_err(|_| HttpVersionUnobserved::HandshakeTimeout {
            addr,
            waited: ALPN_PROBE_TIMEOUT,
        })?
        .map_err(|e| HttpVersionUnobserved::Handshake {
            addr,
            detail: e.to_string(),
        })?;
    Ok(stream.get_ref().1.alpn_protocol() == Some(b"h2".as_slice()))
}

/// Whether the exporter at `addr` picks `h2` from Prometheus' offer, through
/// `openssl s_client` (`@SECLEVEL=0`: TLS 1.0/1.1 and CBC suites, as Go offers them).
async fn alpn_by_openssl(addr: SocketAddr, tls: &TlsConfig) -> Result<bool, HttpVersionUnobserved> {
    let mut command = tokio::process::Command::new("openssl");
    command
        .args(["s_client", "-connect", &addr.to_string()])
        .args(["-alpn", "h2,http/1.1", "-cipher", "DEFAULT@SECLEVEL=0"])
        .stdin(Stdio::null())
        .kill_on_drop(true);
    if let (Some(cert), Some(key)) = (&tls.cert_file, &tls.key_file) {
        command.arg("-cert").arg(cert).arg("-key").arg(key);
    }
    if let Some(name) = &tls.server_name {
        command.args(["-servername", name]);
    }
    let out = tokio::time::timeout(ALPN_PROBE_TIMEOUT, command.output())
        .await
        .map_err(|_| HttpVersionUnobserved::OpensslTimeout {
            waited: ALPN_PROBE_TIMEOUT,
        })?
        .map_err(|e| HttpVersionUnobserved::OpensslUnusable {
            detail: e.to_string(),
        })?;
    let text = String::from_utf8_lossy(&out.stdout);
    if text.contains("Cipher is (NONE)") || !text.contains("ALPN") {
        let err = String::from_utf8_lossy(&out.stderr);
        let last = err.lines().last().unwrap_or_default();
        return Err(HttpVersionUnobserved::OpensslNoHandshake {
            last_line: last.to_owned(),
        });
    }
    Ok(text.contains("ALPN protocol: h2"))
}

/// A client offering what Prometheus' scrape client offers for `tls` with HTTP/2 enabled
/// (ALPN `h2, http/1.1`, the job's client certificate, its TLS versions where rustls has
/// them).
fn alpn_client_config(tls: &TlsConfig) -> Result<rustls::ClientConfig, HttpVersionUnobserved> {
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let min = tls.min_version.unwrap_or(TlsVersion::Tls12);
    let max = tls.max_version.unwrap_or(TlsVersion::Tls13);
    let versions: Vec<&'static rustls::SupportedProtocolVersion> = [
        (TlsVersion::Tls12, &rustls::version::TLS12),
        (TlsVersion::Tls13, &rustls::version::TLS13),
    ]
    .into_iter()
    .filter(|(v, _)| (min..=max).contains(v))
    .map(|(_, p)| p)
    .collect();
    if versions.is_empty() {
        return Err(HttpVersionUnobserved::OnlyOldTls { min, max });
    }
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions)
        .map_err(HttpVersionUnobserved::Tls)?
        .dangerous()
        .with_custom_certificate_verifier(std::sync::Arc::new(crate::unverified::AnyServerCert(
            provider,
        )));
    let unreadable = |path: &Path, detail: String| HttpVersionUnobserved::ClientCert {
        path: path.to_owned(),
        detail,
    };
    let mut config = match (&tls.cert_file, &tls.key_file) {
        (Some(cert), Some(key)) => {
            use rustls_pki_types::pem::PemObject as _;
            let chain = rustls_pki_types::CertificateDer::pem_file_iter(cert)
                .and_then(Iterator::collect::<Result<Vec<_>, _>>)
                .map_err(|e| unreadable(cert, e.to_string()))?;
            let key = rustls_pki_types::PrivateKeyDer::from_pem_file(key)
                .map_err(|e| unreadable(key, e.to_string()))?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(HttpVersionUnobserved::Tls)?
        }
        _ => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
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
    async fn where_prometheus_cannot_speak_http2_no_handshake_is_needed() {
        use crate::promconfig::Scheme;
        // Port 1: nothing listens, so any handshake attempt would fail.
        let mut job = ScrapeConfig::new("j", ["127.0.0.1:1"]);
        assert_eq!(scrape_http_version(&job).await, Ok(HttpVersion::Http11));
        job.scheme = Some(Scheme::Https);
        job.enable_http2 = Some(false);
        assert_eq!(scrape_http_version(&job).await, Ok(HttpVersion::Http11));
        job.proxy_url = Some("http://127.0.0.1:2".into());
        let err = scrape_http_version(&job)
            .await
            .expect_err("through a proxy");
        assert_eq!(err, HttpVersionUnobserved::ThroughProxy);
        assert!(err.to_string().contains("proxy"), "{err}");
    }

    #[test]
    fn why_a_version_was_not_observed_is_typed_and_named() {
        let old_only = TlsConfig {
            min_version: Some(TlsVersion::Tls10),
            max_version: Some(TlsVersion::Tls11),
            ..TlsConfig::default()
        };
        let err = alpn_client_config(&old_only).expect_err("rustls speaks no TLS 1.1");
        assert_eq!(
            err,
            HttpVersionUnobserved::OnlyOldTls {
                min: TlsVersion::Tls10,
                max: TlsVersion::Tls11
            }
        );
        let missing = TlsConfig {
            cert_file: Some("/nonexistent/client.crt".into()),
            key_file: Some("/nonexistent/client.key".into()),
            ..TlsConfig::default()
        };
        let err = alpn_client_config(&missing).expect_err("no such file");
        assert!(
            matches!(&err, HttpVersionUnobserved::ClientCert { path, .. } if path.ends_with("client.crt")),
            "{err:?}"
        );
        assert!(
            err.to_string().starts_with("/nonexistent/client.crt: "),
            "{err}"
        );
        let both = HttpVersionUnobserved::NoClient {
            rustls: Box::new(err),
            openssl: Box::new(HttpVersionUnobserved::OpensslNoHandshake {
                last_line: "alert".into(),
            }),
        };
        assert!(
            both.to_string()
                .ends_with("; `openssl s_client` completed no handshake: alert"),
            "{both}"
        );
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

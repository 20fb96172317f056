//! Fixtures shared by the integration tests: child processes that die with the test, free
//! ports, polling with deadlines, and a TLS + HTTP client (tokio-rustls + hyper) that reports
//! what happened as comparable data.

#![allow(dead_code)] // not every theme uses every helper

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::io::Read as _;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use bytes::Bytes;
use fake_exporter::pki::{ClientCert, Identity, Pki};
use http_body_util::{BodyExt as _, Empty};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, RootCertStore, SupportedProtocolVersion};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// How long any single wait (process start, probe, Prometheus query) may take.
pub(crate) const DEADLINE: Duration = Duration::from_secs(15);

/// The fake-exporter binary built by cargo for these tests.
pub(crate) fn fake_exporter_bin() -> &'static str {
    env!("CARGO_BIN_EXE_fake-exporter")
}

/// The real node_exporter (Debian's `prometheus-node-exporter` 1.5, exporter-toolkit 0.8).
pub(crate) fn node_exporter_bin() -> anyhow::Result<&'static str> {
    const BIN: &str = "/usr/bin/prometheus-node-exporter";
    if !Path::new(BIN).exists() {
        bail!("{BIN} is missing; install it with `apt-get install -y prometheus-node-exporter`");
    }
    Ok(BIN)
}

/// The real Prometheus (Debian's 2.42).
pub(crate) fn prometheus_bin() -> anyhow::Result<&'static str> {
    const BIN: &str = "/usr/bin/prometheus";
    if !Path::new(BIN).exists() {
        bail!("{BIN} is missing; install it with `apt-get install -y prometheus`");
    }
    Ok(BIN)
}

/// A port on 127.0.0.1 that was free a moment ago (bind 0, read, release).
pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("binding 127.0.0.1:0 must work on a test machine")
}

/// `127.0.0.1:<free port>`.
pub(crate) fn free_addr() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], free_port()))
}

/// A child process killed (SIGKILL) and reaped on drop; stdout and stderr go to files so a
/// failure can show them.
pub(crate) struct Proc {
    name: String,
    cmdline: String,
    child: Child,
    stdout: PathBuf,
    stderr: PathBuf,
}

impl Proc {
    /// Starts `bin args..`, logging into `log_dir/<name>.{stdout,stderr}`.
    pub(crate) fn spawn(
        name: &str,
        bin: &str,
        args: &[String],
        log_dir: &Path,
    ) -> anyhow::Result<Self> {
        let stdout = log_dir.join(format!("{name}.stdout"));
        let stderr = log_dir.join(format!("{name}.stderr"));
        let cmdline = format!("{bin} {}", args.join(" "));
        let child = Command::new(bin)
            .args(args)
            .current_dir(log_dir)
            .stdin(Stdio::null())
            .stdout(fs::File::create(&stdout)?)
            .stderr(fs::File::create(&stderr)?)
            .spawn()
            .with_context(|| format!("spawning {cmdline}"))?;
        Ok(Self {
            name: name.to_owned(),
            cmdline,
            child,
            stdout,
            stderr,
        })
    }

    /// The process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What the process wrote to stderr so far.
    pub(crate) fn stderr(&self) -> String {
        fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// What the process wrote to stdout so far.
    pub(crate) fn stdout(&self) -> String {
        fs::read_to_string(&self.stdout).unwrap_or_default()
    }

    /// A block for failure messages: command line, exit state, stdout, stderr.
    pub(crate) fn report(&mut self) -> String {
        let state = match self.child.try_wait() {
            Ok(Some(s)) => format!("exited: {s}"),
            Ok(None) => "running".to_owned(),
            Err(e) => format!("unknown: {e}"),
        };
        format!(
            "--- {} ({state})\n$ {}\n--- stdout\n{}\n--- stderr\n{}",
            self.name,
            self.cmdline,
            self.stdout(),
            self.stderr()
        )
    }

    /// Polls until the process exits or the deadline passes.
    pub(crate) async fn wait_exit(&mut self, deadline: Duration) -> anyhow::Result<ExitStatus> {
        let end = Instant::now() + deadline;
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok(status);
            }
            if Instant::now() > end {
                bail!("still running after {deadline:?}\n{}", self.report());
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Polls until `addr` accepts TCP connections; fails early if the process exits.
    pub(crate) async fn wait_listening(&mut self, addr: SocketAddr) -> anyhow::Result<()> {
        let end = Instant::now() + DEADLINE;
        loop {
            if TcpStream::connect(addr).await.is_ok() {
                return Ok(());
            }
            if self.child.try_wait()?.is_some() {
                bail!("exited before listening on {addr}\n{}", self.report());
            }
            if Instant::now() > end {
                bail!(
                    "not listening on {addr} after {DEADLINE:?}\n{}",
                    self.report()
                );
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Writes `contents` to `path` atomically (beside, then rename), as a config-management tool
/// would; readers never see half a file.
pub(crate) fn write_atomic(path: &Path, contents: &str) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp~");
    fs::write(&tmp, contents).with_context(|| format!("writing {}", tmp.display()))?;
    fs::rename(&tmp, path).with_context(|| format!("renaming onto {}", path.display()))?;
    Ok(())
}

/// A bcrypt hash Go accepts (cost 4 keeps tests fast; Go's minimum).
pub(crate) fn bcrypt_hash(password: &str) -> String {
    bcrypt::hash(password, 4).expect("bcrypt of a short password cannot fail")
}

pub(crate) use fake_exporter::basic_header;

/// What a TLS client offers.
#[derive(Clone)]
pub(crate) struct ClientSpec {
    /// Trusted roots; empty means "trust nothing" (every server cert is unknown).
    pub(crate) roots: Vec<CertificateDer<'static>>,
    /// Client certificate chain and key.
    pub(crate) identity: Option<(Vec<CertificateDer<'static>>, Arc<PrivateKeyDer<'static>>)>,
    /// Protocol versions offered.
    pub(crate) versions: Vec<&'static SupportedProtocolVersion>,
    /// ALPN protocols offered.
    pub(crate) alpn: Vec<Vec<u8>>,
}

impl ClientSpec {
    /// Trusts the PKI's CA, no client cert, TLS 1.2 and 1.3, ALPN h2 + http/1.1 (what
    /// Prometheus offers).
    pub(crate) fn trusting(pki: &Pki) -> Self {
        Self {
            roots: vec![pki.ca_der().clone()],
            identity: None,
            versions: vec![&rustls::version::TLS13, &rustls::version::TLS12],
            alpn: vec![b"h2".to_vec(), b"http/1.1".to_vec()],
        }
    }

    /// Presents this client identity.
    pub(crate) fn with_client(mut self, pki: &Pki, which: ClientCert) -> Self {
        self.identity = Some(identity_parts(pki.client(which)));
        self
    }

    /// Offers only these versions.
    pub(crate) fn with_versions(mut self, versions: &[&'static SupportedProtocolVersion]) -> Self {
        self.versions = versions.to_vec();
        self
    }

    /// Offers only this ALPN list.
    pub(crate) fn with_alpn(mut self, alpn: &[&[u8]]) -> Self {
        self.alpn = alpn.iter().map(|p| p.to_vec()).collect();
        self
    }

    /// Trusts nothing.
    pub(crate) fn without_roots(mut self) -> Self {
        self.roots.clear();
        self
    }

    /// The rustls client configuration (ring provider).
    pub(crate) fn config(&self) -> Arc<ClientConfig> {
        let mut roots = RootCertStore::empty();
        for r in &self.roots {
            roots.add(r.clone()).expect("test CA certificates parse");
        }
        let builder =
            ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_protocol_versions(&self.versions)
                .expect("ring supports TLS 1.2 and 1.3")
                .with_root_certificates(roots);
        let mut config = match &self.identity {
            Some((chain, key)) => builder
                .with_client_auth_cert(chain.clone(), key.clone_key())
                .expect("test client identities are consistent"),
            None => builder.with_no_client_auth(),
        };
        config.alpn_protocols = self.alpn.clone();
        Arc::new(config)
    }
}

fn identity_parts(id: &Identity) -> (Vec<CertificateDer<'static>>, Arc<PrivateKeyDer<'static>>) {
    (id.cert_chain().to_vec(), Arc::new(id.private_key()))
}

/// Where an exchange stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Stage {
    /// TCP connect.
    Connect,
    /// The TLS handshake, as the client sees it.
    Handshake,
    /// Sending the request or reading the response (TLS 1.3 client-cert rejections land here:
    /// the client has finished its side before the server checks the certificate).
    Exchange,
}

/// What one request produced, in comparable form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Observation {
    /// An HTTP response arrived.
    Response(Answer),
    /// The exchange failed.
    Failed {
        /// Where.
        stage: Stage,
        /// A stable class: `alert:<AlertDescription>`, `local:<rustls error>`, `eof`, `reset`,
        /// `broken_pipe`, `io:<kind>`, `timeout`, `http:<message>`.
        class: String,
    },
}

impl Observation {
    /// The failure class, if it failed.
    pub(crate) fn failure(&self) -> Option<&str> {
        match self {
            Observation::Failed { class, .. } => Some(class),
            Observation::Response(_) => None,
        }
    }

    /// The response, if there was one.
    pub(crate) fn answer(&self) -> Option<&Answer> {
        match self {
            Observation::Response(a) => Some(a),
            Observation::Failed { .. } => None,
        }
    }
}

impl fmt::Display for Observation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Observation::Failed { stage, class } => write!(f, "failed at {stage:?}: {class}"),
            Observation::Response(a) => write!(
                f,
                "{} {} via {}/{} alpn={:?} headers={:?} body={:?}",
                a.http_version, a.status, a.tls_version, a.cipher_suite, a.alpn, a.headers, a.body
            ),
        }
    }
}

/// A response, reduced to what two exporters should agree on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Answer {
    /// `TLSv1_3`, `TLSv1_2`, or `plain`.
    pub(crate) tls_version: String,
    /// The negotiated cipher suite (IANA name as rustls prints it, e.g.
    /// `TLS13_AES_128_GCM_SHA256`); empty for plain.
    pub(crate) cipher_suite: String,
    /// Negotiated ALPN, empty when none.
    pub(crate) alpn: String,
    /// `HTTP/1.1` or `HTTP/2`.
    pub(crate) http_version: String,
    /// Status code.
    pub(crate) status: u16,
    /// Selected headers (lower-case names): content-type, www-authenticate,
    /// x-content-type-options, connection.
    pub(crate) headers: BTreeMap<String, String>,
    /// The body of a non-200 answer (a 200 body is metrics and differs by design).
    pub(crate) body: Option<String>,
}

/// Headers compared between exporters.
pub(crate) const COMPARED_HEADERS: [&str; 4] = [
    "content-type",
    "www-authenticate",
    "x-content-type-options",
    "x-frame-options",
];

/// Classifies an error from tokio-rustls or hyper (walking the source chain).
pub(crate) fn classify_error(err: &(dyn std::error::Error + 'static)) -> String {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(err);
    let mut io_kind = None;
    while let Some(e) = cur {
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            return match tls {
                rustls::Error::AlertReceived(a) => format!("alert:{a:?}"),
                other => format!("local:{other:?}"),
            };
        }
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            if let Some(inner) = io.get_ref() {
                if let Some(tls) = inner.downcast_ref::<rustls::Error>() {
                    return match tls {
                        rustls::Error::AlertReceived(a) => format!("alert:{a:?}"),
                        other => format!("local:{other:?}"),
                    };
                }
            }
            // h2 keeps only the kind and the message of an I/O error: recover the alert.
            if let Some(alert) = io
                .to_string()
                .split("received fatal alert: ")
                .nth(1)
                .map(|rest| {
                    rest.split_whitespace()
                        .next()
                        .unwrap_or_default()
                        .to_owned()
                })
            {
                return format!("alert:{alert}");
            }
            io_kind.get_or_insert(io.kind());
        }
        cur = e.source();
    }
    match io_kind {
        Some(std::io::ErrorKind::UnexpectedEof) => "eof".to_owned(),
        Some(std::io::ErrorKind::ConnectionReset) => "reset".to_owned(),
        Some(std::io::ErrorKind::BrokenPipe) => "broken_pipe".to_owned(),
        Some(kind) => format!("io:{kind:?}"),
        None => {
            // hyper reports a peer that closed mid-message without an io::Error.
            let msg = err.to_string();
            if msg.contains("operation was canceled") {
                // hyper's HTTP/2 client: the connection task ended before the request left.
                "closed".to_owned()
            } else if msg.contains("connection closed before message completed")
                || msg.contains("IncompleteMessage")
                || msg.contains("connection closed")
            {
                "eof".to_owned()
            } else {
                format!("http:{msg}")
            }
        }
    }
}

/// One GET over a fresh connection: TLS when `tls` is given, then HTTP/2 if ALPN chose h2,
/// else HTTP/1.1.
pub(crate) async fn get(
    addr: SocketAddr,
    tls: Option<&ClientSpec>,
    path: &str,
    headers: &[(&str, &str)],
) -> Observation {
    match tokio::time::timeout(DEADLINE, get_inner(addr, tls, path, headers)).await {
        Ok(o) => o,
        Err(_) => Observation::Failed {
            stage: Stage::Exchange,
            class: "timeout".to_owned(),
        },
    }
}

async fn get_inner(
    addr: SocketAddr,
    tls: Option<&ClientSpec>,
    path: &str,
    headers: &[(&str, &str)],
) -> Observation {
    let tcp = match TcpStream::connect(addr).await {
        Ok(s) => s,
        Err(e) => {
            return Observation::Failed {
                stage: Stage::Connect,
                class: classify_error(&e),
            }
        }
    };
    let Some(spec) = tls else {
        return exchange(tcp, "plain", "", "", addr, path, headers).await;
    };
    let connector = TlsConnector::from(spec.config());
    let name = ServerName::IpAddress(addr.ip().into());
    let stream = match connector.connect(name, tcp).await {
        Ok(s) => s,
        Err(e) => {
            return Observation::Failed {
                stage: Stage::Handshake,
                class: classify_error(&e),
            }
        }
    };
    let (_, conn) = stream.get_ref();
    let version = conn
        .protocol_version()
        .map(|v| format!("{v:?}"))
        .unwrap_or_default();
    let alpn = conn
        .alpn_protocol()
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .unwrap_or_default();
    let suite = conn
        .negotiated_cipher_suite()
        .map(|s| format!("{:?}", s.suite()))
        .unwrap_or_default();
    exchange(stream, &version, &suite, &alpn, addr, path, headers).await
}

async fn exchange<S>(
    io: S,
    tls_version: &str,
    cipher_suite: &str,
    alpn: &str,
    addr: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
) -> Observation
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let failed = |e: &(dyn std::error::Error + 'static)| Observation::Failed {
        stage: Stage::Exchange,
        class: classify_error(e),
    };
    let h2 = alpn == "h2";
    let mut req = http::Request::get(if h2 {
        format!("https://{addr}{path}")
    } else {
        path.to_owned()
    });
    if !h2 {
        req = req.header(http::header::HOST, addr.to_string());
    }
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let req = req
        .body(Empty::<Bytes>::new())
        .expect("static request parts are valid");
    let io = TokioIo::new(io);
    let response = if h2 {
        let (mut sender, conn) =
            match hyper::client::conn::http2::handshake(TokioExecutor::new(), io).await {
                Ok(x) => x,
                Err(e) => return failed(&e),
            };
        tokio::spawn(conn);
        sender.send_request(req).await
    } else {
        let (mut sender, conn) = match hyper::client::conn::http1::handshake(io).await {
            Ok(x) => x,
            Err(e) => return failed(&e),
        };
        tokio::spawn(conn);
        sender.send_request(req).await
    };
    let response = match response {
        Ok(r) => r,
        Err(e) => return failed(&e),
    };
    let (parts, body) = response.into_parts();
    let body = match body.collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => return failed(&e),
    };
    let headers = COMPARED_HEADERS
        .iter()
        .filter_map(|h| {
            parts.headers.get(*h).map(|v| {
                (
                    (*h).to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
        })
        .collect();
    Observation::Response(Answer {
        tls_version: tls_version.to_owned(),
        cipher_suite: cipher_suite.to_owned(),
        alpn: alpn.to_owned(),
        http_version: format!("{:?}", parts.version),
        status: parts.status.as_u16(),
        headers,
        body: (parts.status != http::StatusCode::OK)
            .then(|| String::from_utf8_lossy(&body).into_owned()),
    })
}

/// The body of a successful GET, with the response's Content-Type.
pub(crate) async fn get_body(
    addr: SocketAddr,
    tls: Option<&ClientSpec>,
    path: &str,
    headers: &[(&str, &str)],
) -> anyhow::Result<(String, String)> {
    // Re-does the exchange keeping the body; small enough to not share code paths.
    let tcp = TcpStream::connect(addr).await?;
    let io: Box<dyn AsyncIo> = match tls {
        None => Box::new(tcp),
        Some(spec) => Box::new(
            TlsConnector::from(spec.config())
                .connect(ServerName::IpAddress(addr.ip().into()), tcp)
                .await?,
        ),
    };
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io)).await?;
    tokio::spawn(conn);
    let mut req = http::Request::get(path).header(http::header::HOST, addr.to_string());
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let response = sender
        .send_request(req.body(Empty::<Bytes>::new())?)
        .await?;
    let status = response.status();
    let content_type = response
        .headers()
        .get(http::header::CONTENT_TYPE)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .unwrap_or_default();
    let body = response.into_body().collect().await?.to_bytes();
    let body = String::from_utf8(body.to_vec())?;
    if status != http::StatusCode::OK {
        bail!("GET {path} on {addr}: {status}: {body}");
    }
    Ok((content_type, body))
}

/// An async byte stream (TCP or TLS), boxed.
pub(crate) trait AsyncIo:
    tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static
{
}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static> AsyncIo for T {}

/// The result of a bare TLS handshake: version, ALPN and the server's leaf certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Handshake {
    /// `TLSv1_3` or `TLSv1_2`.
    pub(crate) version: String,
    /// Negotiated ALPN.
    pub(crate) alpn: String,
    /// Negotiated cipher suite (rustls' name).
    pub(crate) suite: String,
    /// The leaf certificate the server presented (DER).
    pub(crate) leaf: Vec<u8>,
}

/// A TLS handshake only; the error class on failure.
pub(crate) async fn handshake(addr: SocketAddr, spec: &ClientSpec) -> Result<Handshake, String> {
    let run = async {
        let tcp = TcpStream::connect(addr)
            .await
            .map_err(|e| classify_error(&e))?;
        let stream = TlsConnector::from(spec.config())
            .connect(ServerName::IpAddress(addr.ip().into()), tcp)
            .await
            .map_err(|e| classify_error(&e))?;
        let (_, conn) = stream.get_ref();
        Ok(Handshake {
            version: conn
                .protocol_version()
                .map(|v| format!("{v:?}"))
                .unwrap_or_default(),
            alpn: conn
                .alpn_protocol()
                .map(|p| String::from_utf8_lossy(p).into_owned())
                .unwrap_or_default(),
            suite: conn
                .negotiated_cipher_suite()
                .map(|s| format!("{:?}", s.suite()))
                .unwrap_or_default(),
            leaf: conn
                .peer_certificates()
                .and_then(|c| c.first())
                .map(|c| c.to_vec())
                .unwrap_or_default(),
        })
    };
    tokio::time::timeout(DEADLINE, run)
        .await
        .unwrap_or_else(|_| Err("timeout".to_owned()))
}

/// Sends `bytes` on a raw TCP connection and reads until the peer closes.
pub(crate) async fn raw_exchange(addr: SocketAddr, bytes: &[u8]) -> anyhow::Result<Vec<u8>> {
    let run = async {
        let mut s = TcpStream::connect(addr).await?;
        s.write_all(bytes).await?;
        let mut out = Vec::new();
        match s.read_to_end(&mut out).await {
            Ok(_) => {}
            // A reset after the answer (the peer closed with our bytes unread) still leaves
            // what it sent in `out`.
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
            Err(e) => return Err(e.into()),
        }
        Ok(out)
    };
    tokio::time::timeout(DEADLINE, run)
        .await
        .context("raw exchange timed out")?
}

/// Reads a whole file (for failure reports).
pub(crate) fn read_lossy(path: &Path) -> String {
    let mut s = String::new();
    if let Ok(mut f) = fs::File::open(path) {
        let _ = f.read_to_string(&mut s);
    }
    s
}

/// Polls `check` every 20 ms until it returns `Some`, or fails after `deadline` with the
/// last state it described.
pub(crate) async fn poll<T, F, Fut>(
    what: &str,
    deadline: Duration,
    mut check: F,
) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, String>>,
{
    let end = Instant::now() + deadline;
    loop {
        let last = match check().await {
            Ok(v) => return Ok(v),
            Err(state) => state,
        };
        if Instant::now() > end {
            bail!("{what}: not reached after {deadline:?}; last state: {last}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

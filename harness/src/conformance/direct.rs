//! Checks made directly against the exporter, beyond what Prometheus reports: the 401
//! challenge, secrets not echoed, TLS below 1.2 refused, content type, gzip, OpenMetrics,
//! and whether unknown users and wrong passwords can be told apart by timing.

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt as _, Empty};
use hyper_util::rt::TokioIo;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use fake_exporter::basic_header;

/// Deadline of each network step of a direct check: the TCP connect, the TLS handshake,
/// sending the request until the response head arrives, reading the body, and each
/// `openssl s_client` run. A target that accepts TCP and never answers therefore costs at
/// most one step deadline per request and yields an error, never a hang.
pub const STEP_TIMEOUT: Duration = Duration::from_secs(10);

/// TLS settings of the direct client.
#[derive(Debug, Clone, Default)]
pub struct ClientTls {
    /// CA file to trust.
    pub ca_file: Option<PathBuf>,
    /// Verify the server's certificate against `ca_file` (and `server_name`). `false`
    /// only for probes of how a server behaves, never of whether it can be trusted.
    pub verify_server: bool,
    /// Client certificate and key.
    pub client_cert: Option<(PathBuf, PathBuf)>,
    /// Name to verify (defaults to the host).
    pub server_name: String,
    /// Which TLS versions to offer.
    pub versions: TlsVersions,
    /// Set when the server asked for a client certificate (a CertificateRequest).
    pub cert_requested: Option<Arc<std::sync::atomic::AtomicBool>>,
}

/// TLS versions the direct client offers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TlsVersions {
    /// TLS 1.2 and 1.3.
    #[default]
    Both,
    /// TLS 1.2 only.
    Only12,
    /// TLS 1.3 only.
    Only13,
}

/// A client-certificate resolver that notes whether the server asked for one.
#[derive(Debug)]
struct Recording {
    key: Option<Arc<rustls::sign::CertifiedKey>>,
    asked: Arc<std::sync::atomic::AtomicBool>,
}

impl rustls::client::ResolvesClientCert for Recording {
    fn resolve(
        &self,
        _root_hint_subjects: &[&[u8]],
        _sigschemes: &[rustls::SignatureScheme],
    ) -> Option<Arc<rustls::sign::CertifiedKey>> {
        self.asked.store(true, std::sync::atomic::Ordering::SeqCst);
        self.key.clone()
    }

    fn has_certs(&self) -> bool {
        true
    }
}

/// An HTTP response as the checks need it.
#[derive(Debug, Clone, Default)]
pub struct DirectResponse {
    /// Status code.
    pub status: u16,
    /// Headers, names lower-cased, in order.
    pub headers: Vec<(String, String)>,
    /// Body bytes as sent (transfer coding removed, content coding such as gzip kept).
    pub body: Vec<u8>,
    /// HTTP version of the response (`HTTP/1.0`, `HTTP/1.1`).
    pub version: String,
}

impl DirectResponse {
    /// The first header with this (lower-case) name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A network step of a direct request, for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// TCP connect.
    Connect,
    /// TLS handshake.
    Handshake,
    /// Sending the request and reading the response head.
    Request,
    /// Reading the body.
    Body,
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Connect => "connecting to",
            Self::Handshake => "the TLS handshake with",
            Self::Request => "the request to",
            Self::Body => "reading the body from",
        })
    }
}

/// A CA file that cannot serve as a trust store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CaError {
    /// The file cannot be read or holds a bad PEM block.
    #[error("CA file {}: {source}", .path.display())]
    Pem {
        /// The file.
        path: PathBuf,
        /// The PEM error.
        #[source]
        source: rustls_pki_types::pem::Error,
    },
    /// A certificate in it is not acceptable as a root.
    #[error("CA file {}: {source}", .path.display())]
    Cert {
        /// The file.
        path: PathBuf,
        /// The rustls error.
        #[source]
        source: rustls::Error,
    },
}

/// Why a direct request got no response.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DirectError {
    /// A step passed [`STEP_TIMEOUT`].
    #[error("{step} {addr} timed out after {timeout:?}")]
    Timeout {
        /// The step.
        step: Step,
        /// The target.
        addr: SocketAddr,
        /// The deadline.
        timeout: Duration,
    },
    /// A step failed at the socket.
    #[error("{step} {addr}: {source}")]
    Io {
        /// The step.
        step: Step,
        /// The target.
        addr: SocketAddr,
        /// The OS or TLS error.
        #[source]
        source: io::Error,
    },
    /// HTTP failed (bad response, connection closed early, ...).
    #[error("{step} {addr}: {source}")]
    Http {
        /// The step.
        step: Step,
        /// The target.
        addr: SocketAddr,
        /// hyper's error.
        #[source]
        source: hyper::Error,
    },
    /// The request could not be built from the given path or headers.
    #[error("building the request: {0}")]
    Request(#[from] http::Error),
    /// The server name to verify is not a DNS name or IP address.
    #[error("server name `{name}`: {source}")]
    ServerName {
        /// The name.
        name: String,
        /// Why it is invalid.
        #[source]
        source: rustls_pki_types::InvalidDnsNameError,
    },
    /// The CA file is unusable.
    #[error(transparent)]
    Ca(#[from] CaError),
    /// The client certificate or key file is unusable.
    #[error("client certificate file {}: {source}", .path.display())]
    ClientCertFile {
        /// The file.
        path: PathBuf,
        /// The PEM error.
        #[source]
        source: rustls_pki_types::pem::Error,
    },
    /// rustls refused the client configuration.
    #[error("client TLS configuration: {0}")]
    Config(#[source] rustls::Error),
}

/// The rustls error inside `e`, if the TLS layer failed.
pub fn tls_error(e: &DirectError) -> Option<&rustls::Error> {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = current {
        if let Some(r) = err.downcast_ref::<rustls::Error>() {
            return Some(r);
        }
        if let Some(r) = err
            .downcast_ref::<io::Error>()
            .and_then(|io| io.get_ref())
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        {
            return Some(r);
        }
        current = err.source();
    }
    None
}

/// Why our own client refused the server's certificate, if that is how `e` failed: the
/// caller's `--ca` (or the host name) does not fit the target, which says nothing about
/// the target's own checks.
pub fn rejected_by_client(e: &DirectError) -> Option<&rustls::CertificateError> {
    match tls_error(e)? {
        rustls::Error::InvalidCertificate(c) => Some(c),
        _ => None,
    }
}

/// Runs `step` with the deadline `timeout`.
async fn deadline<T, E>(
    (step, addr, timeout): (Step, SocketAddr, Duration),
    work: impl std::future::Future<Output = Result<T, E>>,
    wrap: impl FnOnce(Step, SocketAddr, E) -> DirectError,
) -> Result<T, DirectError> {
    match tokio::time::timeout(timeout, work).await {
        Err(_) => Err(DirectError::Timeout {
            step,
            addr,
            timeout,
        }),
        Ok(Err(e)) => Err(wrap(step, addr, e)),
        Ok(Ok(v)) => Ok(v),
    }
}

fn io_error(step: Step, addr: SocketAddr, source: io::Error) -> DirectError {
    DirectError::Io { step, addr, source }
}

fn http_error(step: Step, addr: SocketAddr, source: hyper::Error) -> DirectError {
    DirectError::Http { step, addr, source }
}

/// Sends `GET path` with `headers` over a fresh HTTP/1.1 connection (`Connection: close`)
/// and reads the whole response; every step has the [`STEP_TIMEOUT`] deadline.
pub async fn get(
    addr: SocketAddr,
    tls: Option<&ClientTls>,
    path: &str,
    headers: &[(&str, String)],
) -> Result<DirectResponse, DirectError> {
    get_within(addr, tls, path, headers, STEP_TIMEOUT).await
}

/// [`get`] with another step deadline (tests).
async fn get_within(
    addr: SocketAddr,
    tls: Option<&ClientTls>,
    path: &str,
    headers: &[(&str, String)],
    step_timeout: Duration,
) -> Result<DirectResponse, DirectError> {
    let mut request = http::Request::get(path)
        .header(http::header::HOST, addr.to_string())
        .header(http::header::CONNECTION, "close");
    for (k, v) in headers {
        request = request.header(*k, v.as_str());
    }
    let request = request.body(Empty::<Bytes>::new())?;
    // Build the TLS client before connecting: a bad CA file is not the target's fault.
    let tls = match tls {
        None => None,
        Some(tls) => {
            let name = ServerName::try_from(tls.server_name.clone()).map_err(|source| {
                DirectError::ServerName {
                    name: tls.server_name.clone(),
                    source,
                }
            })?;
            let connector = tokio_rustls::TlsConnector::from(Arc::new(client_config(tls)?));
            Some((connector, name))
        }
    };
    let at = |step| (step, addr, step_timeout);
    let tcp = deadline(at(Step::Connect), TcpStream::connect(addr), io_error).await?;
    match tls {
        None => exchange(tcp, addr, request, step_timeout).await,
        Some((connector, name)) => {
            let stream =
                deadline(at(Step::Handshake), connector.connect(name, tcp), io_error).await?;
            exchange(stream, addr, request, step_timeout).await
        }
    }
}

async fn exchange<S>(
    stream: S,
    addr: SocketAddr,
    request: http::Request<Empty<Bytes>>,
    step_timeout: Duration,
) -> Result<DirectResponse, DirectError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let at = |step| (step, addr, step_timeout);
    let (mut sender, connection) = deadline(
        at(Step::Request),
        hyper::client::conn::http1::handshake(TokioIo::new(stream)),
        http_error,
    )
    .await?;
    // The connection task drives the socket; it ends with the response or when aborted.
    let driver = tokio::spawn(connection);
    let result = async {
        let response =
            deadline(at(Step::Request), sender.send_request(request), http_error).await?;
        let (parts, body) = response.into_parts();
        let body = deadline(at(Step::Body), read_body(body), http_error).await?;
        let headers = parts
            .headers
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).trim().to_owned(),
                )
            })
            .collect();
        Ok(DirectResponse {
            status: parts.status.as_u16(),
            headers,
            body,
            version: format!("{:?}", parts.version),
        })
    }
    .await;
    driver.abort();
    result
}

/// Reads every body frame. A TLS peer that closes without close_notify after a body
/// delimited by the close still gave us the body: what arrived is kept.
async fn read_body(mut body: hyper::body::Incoming) -> Result<Vec<u8>, hyper::Error> {
    let mut out = Vec::new();
    while let Some(frame) = body.frame().await {
        match frame {
            Ok(frame) => {
                if let Some(data) = frame.data_ref() {
                    out.extend_from_slice(data);
                }
            }
            Err(e) if !out.is_empty() && is_unexpected_eof(&e) => break,
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

fn is_unexpected_eof(e: &hyper::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<io::Error>() {
            return io.kind() == io::ErrorKind::UnexpectedEof;
        }
        source = s.source();
    }
    false
}

/// The certificates of a CA file as a trust store; every PEM block must parse (a client
/// that trusts nothing by accident would turn every verdict into "unknown authority").
pub fn ca_roots(path: &Path) -> Result<rustls::RootCertStore, CaError> {
    let pem = |source| CaError::Pem {
        path: path.to_owned(),
        source,
    };
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(path).map_err(pem)? {
        roots
            .add(cert.map_err(pem)?)
            .map_err(|source| CaError::Cert {
                path: path.to_owned(),
                source,
            })?;
    }
    Ok(roots)
}

fn client_config(tls: &ClientTls) -> Result<rustls::ClientConfig, DirectError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let roots = match &tls.ca_file {
        Some(ca) => ca_roots(ca)?,
        None => rustls::RootCertStore::empty(),
    };
    let versions: &[&'static rustls::SupportedProtocolVersion] = match tls.versions {
        TlsVersions::Both => rustls::DEFAULT_VERSIONS,
        TlsVersions::Only12 => &[&rustls::version::TLS12],
        TlsVersions::Only13 => &[&rustls::version::TLS13],
    };
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(versions)
        .map_err(DirectError::Config)?;
    let builder = if tls.verify_server {
        builder.with_root_certificates(roots)
    } else {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(crate::unverified::AnyServerCert(
                provider.clone(),
            )))
    };
    if let Some(asked) = &tls.cert_requested {
        let key = match &tls.client_cert {
            None => None,
            Some((cert, key)) => {
                let (chain, key) = load_identity(cert, key)?;
                let signing = provider
                    .key_provider
                    .load_private_key(key)
                    .map_err(DirectError::Config)?;
                Some(Arc::new(rustls::sign::CertifiedKey::new(chain, signing)))
            }
        };
        return Ok(builder.with_client_cert_resolver(Arc::new(Recording {
            key,
            asked: asked.clone(),
        })));
    }
    let config = match &tls.client_cert {
        None => builder.with_no_client_auth(),
        Some((cert, key)) => {
            let (chain, key) = load_identity(cert, key)?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(DirectError::Config)?
        }
    };
    Ok(config)
}

type Loaded = (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>);

fn load_identity(cert: &Path, key: &Path) -> Result<Loaded, DirectError> {
    let file = |path: &Path| {
        let path = path.to_owned();
        move |source| DirectError::ClientCertFile { path, source }
    };
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(file(cert))?
        .collect::<Result<_, _>>()
        .map_err(file(cert))?;
    let key = PrivateKeyDer::from_pem_file(key).map_err(file(key))?;
    Ok((chain, key))
}

/// Outcome of one direct check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The requirement holds.
    Pass(String),
    /// It does not.
    Fail(String),
    /// The target lacks what it checks (detected), and why.
    NotApplicable(String),
    /// The check was switched off or needs an input that was not given, and why.
    NotTested(String),
    /// No verdict within the check's time budget; what was measured.
    Timeout(String),
}

/// A 401 must carry `WWW-Authenticate` (RFC 9110 §11.6.1).
pub async fn www_authenticate(addr: SocketAddr, tls: Option<&ClientTls>, path: &str) -> Outcome {
    match get(addr, tls, path, &[]).await {
        Err(e) => Outcome::Fail(format!("request failed: {e}")),
        Ok(r) if r.status != 401 => Outcome::Fail(format!(
            "expected 401 without credentials, got {}",
            r.status
        )),
        Ok(r) => match r.header("www-authenticate") {
            Some(v) if v.to_ascii_lowercase().starts_with("basic") => {
                Outcome::Pass(format!("401 with WWW-Authenticate: {v}"))
            }
            Some(v) => Outcome::Fail(format!(
                "401 with WWW-Authenticate `{v}`, not a Basic challenge"
            )),
            None => Outcome::Fail("401 without a WWW-Authenticate header".into()),
        },
    }
}

/// Neither a wrong nor a right password may come back in the response.
pub async fn no_secrets_echoed(
    addr: SocketAddr,
    tls: Option<&ClientTls>,
    path: &str,
    user: &str,
    password: &str,
) -> Outcome {
    // A wrong password no body can contain by chance; for the right one (which may occur
    // in a metrics body, e.g. a short word), only what cannot: the `user:password` pair
    // and its base64 form.
    let wrong = format!("Wr0ng-{}", super::random_token(32));
    let mut seen = Vec::new();
    for (label, pw, raw_checked) in [
        ("wrong password", wrong.as_str(), true),
        ("right password", password, false),
    ] {
        let header = basic_header(user, pw);
        let r = match get(addr, tls, path, &[("Authorization", header.clone())]).await {
            Ok(r) => r,
            Err(e) => return Outcome::Fail(format!("request with the {label} failed: {e}")),
        };
        let mut text = String::from_utf8_lossy(&r.body).into_owned();
        for (k, v) in &r.headers {
            text.push_str(&format!("\n{k}: {v}"));
        }
        let blob = header.trim_start_matches("Basic ");
        let pair = format!("{user}:{pw}");
        if (raw_checked && text.contains(pw)) || text.contains(blob) || text.contains(&pair) {
            return Outcome::Fail(format!(
                "the response to a request with the {label} (status {}) contains the credentials",
                r.status
            ));
        }
        seen.push(format!("{label}: {}", r.status));
    }
    Outcome::Pass(format!("no credentials in responses ({})", seen.join(", ")))
}

/// A TLS version below 1.2, which rustls cannot offer (`openssl s_client` does).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OldTls {
    /// TLS 1.0.
    Tls10,
    /// TLS 1.1.
    Tls11,
}

impl OldTls {
    /// Both, oldest first.
    pub const ALL: [Self; 2] = [Self::Tls10, Self::Tls11];

    /// `TLS 1.0`, `TLS 1.1`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Tls10 => "TLS 1.0",
            Self::Tls11 => "TLS 1.1",
        }
    }

    fn flag(self) -> &'static str {
        match self {
            Self::Tls10 => "-tls1",
            Self::Tls11 => "-tls1_1",
        }
    }
}

/// Why an old-TLS handshake could not be tried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OldTlsError {
    /// `openssl` is missing or cannot offer the version: nothing can be said.
    Unavailable(String),
    /// `openssl s_client` got no answer within [`STEP_TIMEOUT`].
    NoAnswer(String),
}

/// Whether the target completes a handshake at `version`, offered by `openssl s_client`
/// at `@SECLEVEL=0` (OpenSSL 3 needs it to offer TLS < 1.2 at all), presenting
/// `client_cert` when given (a target that requires one would otherwise refuse every
/// version).
pub async fn old_tls_handshake(
    addr: SocketAddr,
    version: OldTls,
    client_cert: Option<&(PathBuf, PathBuf)>,
) -> Result<bool, OldTlsError> {
    let mut command = tokio::process::Command::new("openssl");
    command
        .args([
            "s_client",
            "-connect",
            &addr.to_string(),
            version.flag(),
            "-cipher",
            "DEFAULT@SECLEVEL=0",
        ])
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    if let Some((cert, key)) = client_cert {
        command.arg("-cert").arg(cert).arg("-key").arg(key);
    }
    let out = match tokio::time::timeout(STEP_TIMEOUT, command.output()).await {
        Err(_) => {
            return Err(OldTlsError::NoAnswer(format!(
                "`openssl s_client {}` against {addr} got no answer within {STEP_TIMEOUT:?}",
                version.flag()
            )))
        }
        Ok(Ok(o)) => o,
        Ok(Err(e)) => {
            return Err(OldTlsError::Unavailable(format!(
                "openssl is needed to offer TLS < 1.2 ({e}); install it with `apt-get install -y openssl`"
            )))
        }
    };
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if text.contains("no protocols available") || text.contains("unknown option") {
        return Err(OldTlsError::Unavailable(format!(
            "the local openssl cannot offer {}",
            version.name()
        )));
    }
    Ok(text.lines().any(|l| {
        l.trim_start().starts_with("Protocol")
            && match version {
                OldTls::Tls11 => l.contains("TLSv1.1"),
                OldTls::Tls10 => l.trim_end().ends_with("TLSv1"),
            }
    }) && !text.contains("Cipher is (NONE)"))
}

/// The target must refuse TLS 1.0 and 1.1: each is offered alone (with `client_cert`
/// when given) and every version it accepts is named.
pub async fn refuses_old_tls(
    addr: SocketAddr,
    client_cert: Option<&(PathBuf, PathBuf)>,
) -> Outcome {
    let (mut accepted, mut refused) = (Vec::new(), Vec::new());
    for version in OldTls::ALL {
        match old_tls_handshake(addr, version, client_cert).await {
            Ok(true) => accepted.push(version.name()),
            Ok(false) => refused.push(format!("{} refused", version.name())),
            Err(OldTlsError::Unavailable(why)) => return Outcome::NotApplicable(why),
            Err(OldTlsError::NoAnswer(why)) => return Outcome::Fail(why),
        }
    }
    match accepted.as_slice() {
        [] => Outcome::Pass(refused.join(", ")),
        [one] => Outcome::Fail(format!("the target completed a {one} handshake")),
        many => Outcome::Fail(format!(
            "the target completed {} handshakes",
            many.join(" and ")
        )),
    }
}

/// The metrics must come with a Content-Type Prometheus understands; with gzip when asked
/// (SHOULD) and OpenMetrics when asked (MAY) reported separately.
pub async fn content_negotiation(
    addr: SocketAddr,
    tls: Option<&ClientTls>,
    path: &str,
    auth: Option<String>,
) -> (Outcome, Outcome, Outcome) {
    let mut base: Vec<(&str, String)> = Vec::new();
    if let Some(a) = auth {
        base.push(("Authorization", a));
    }
    let plain = match get(addr, tls, path, &base).await {
        Ok(r) => r,
        Err(e) => {
            let f = Outcome::Fail(format!("request failed: {e}"));
            return (f.clone(), f.clone(), f);
        }
    };
    let ct = plain.header("content-type").unwrap_or("").to_owned();
    let content_type = if plain.status != 200 {
        Outcome::Fail(format!("GET {path} answered {}", plain.status))
    } else if ct.starts_with("text/plain") || ct.starts_with("application/openmetrics-text") {
        Outcome::Pass(format!("Content-Type: {ct}"))
    } else {
        Outcome::Fail(format!(
            "Content-Type `{ct}` is not a Prometheus exposition format"
        ))
    };
    let mut with_gzip = base.clone();
    with_gzip.push(("Accept-Encoding", "gzip".into()));
    let gzip = match get(addr, tls, path, &with_gzip).await {
        Ok(r) if r.header("content-encoding") == Some("gzip") => {
            Outcome::Pass("gzip when asked".into())
        }
        Ok(r) => Outcome::Fail(format!(
            "Accept-Encoding: gzip answered with Content-Encoding `{}`",
            r.header("content-encoding").unwrap_or("none")
        )),
        Err(e) => Outcome::Fail(format!("request failed: {e}")),
    };
    let mut with_om = base;
    with_om.push((
        "Accept",
        "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1".into(),
    ));
    let openmetrics = match get(addr, tls, path, &with_om).await {
        Ok(r) => {
            let ct = r.header("content-type").unwrap_or("");
            if ct.starts_with("application/openmetrics-text") && r.body.ends_with(b"# EOF\n") {
                Outcome::Pass(format!("OpenMetrics when asked ({ct})"))
            } else {
                Outcome::Fail(format!("Prometheus' Accept header got `{ct}`"))
            }
        }
        Err(e) => Outcome::Fail(format!("request failed: {e}")),
    };
    (content_type, gzip, openmetrics)
}

/// Default time budget of the auth timing check, both attempts together
/// (`ConformanceOptions::timing_budget`).
pub const TIMING_BUDGET: Duration = Duration::from_secs(20);

/// Fewest samples per group the timing check gives a verdict on (the normal approximation
/// of the Mann-Whitney test; with complete separation 10 per group give p ≈ 1.6e-4).
pub const TIMING_MIN_SAMPLES: usize = 10;

/// Whether an unknown user and a known user with a wrong password take indistinguishable
/// time: up to `samples` requests of each kind, interleaved (order alternating), a unique
/// password per request (so no cache answers), then a two-sided Mann-Whitney U test at
/// α = `alpha`; one retry when the first run rejects. Both attempts share `budget`: when
/// the answers are slow (a target that delays failed logins) the samples are scaled down
/// to what fits and the detail says so, with the measured latencies; fewer than
/// [`TIMING_MIN_SAMPLES`] per group is a TIMEOUT with those latencies, never a stall.
pub async fn auth_timing(
    addr: SocketAddr,
    tls: Option<&ClientTls>,
    path: &str,
    user: &str,
    samples: usize,
    alpha: f64,
    budget: Duration,
) -> Outcome {
    if samples == 0 {
        return Outcome::NotTested("timing check switched off (--timing-samples 0)".into());
    }
    let deadline = Instant::now() + budget;
    let mut last = String::new();
    for attempt in 1..=2 {
        let mut wrong_pw = Vec::with_capacity(samples);
        let mut unknown = Vec::with_capacity(samples);
        for i in 0..samples {
            if Instant::now() >= deadline {
                break;
            }
            let a = (
                user.to_owned(),
                format!("tw-{attempt}-{i}-{}", std::process::id()),
            );
            let b = (format!("nobody-{attempt}-{i}"), format!("tu-{attempt}-{i}"));
            let order = if i % 2 == 0 {
                [(true, &a), (false, &b)]
            } else {
                [(false, &b), (true, &a)]
            };
            for (is_wrong_pw, (u, p)) in order {
                let started = Instant::now();
                let r = get(addr, tls, path, &[("Authorization", basic_header(u, p))]).await;
                let took = started.elapsed().as_secs_f64();
                match r {
                    Ok(r) if r.status == 401 => {}
                    Ok(r) => {
                        return Outcome::Fail(format!(
                            "expected 401 for bad credentials, got {}",
                            r.status
                        ))
                    }
                    Err(e) => return Outcome::Fail(format!("request failed: {e}")),
                }
                if is_wrong_pw {
                    wrong_pw.push(took);
                } else {
                    unknown.push(took);
                }
            }
        }
        let n = wrong_pw.len().min(unknown.len());
        let latencies = format!(
            "median wrong password {:.1} ms, unknown user {:.1} ms",
            median(&wrong_pw) * 1e3,
            median(&unknown) * 1e3
        );
        if n < TIMING_MIN_SAMPLES {
            if attempt == 2 {
                return Outcome::Fail(format!(
                    "distinguishable: {last} (no time left in the {budget:?} budget for a retry)"
                ));
            }
            return Outcome::Timeout(format!(
                "only {n} of {samples} requests per group fit in the {budget:?} budget ({latencies}); {TIMING_MIN_SAMPLES} are needed for a verdict"
            ));
        }
        let scaled = if n < samples {
            format!(", scaled down from {samples}: answers too slow for the {budget:?} budget")
        } else {
            String::new()
        };
        let p = mann_whitney_p(&wrong_pw, &unknown);
        let summary =
            format!("{latencies}, n = {n} each{scaled}, Mann-Whitney p = {p:.2e} (α = {alpha})");
        if p >= alpha {
            return Outcome::Pass(if attempt == 1 {
                summary
            } else {
                format!("{summary} (after one retry)")
            });
        }
        last = summary;
    }
    Outcome::Fail(format!("distinguishable: {last}"))
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    if s.is_empty() {
        return 0.0;
    }
    s[s.len() / 2]
}

/// Two-sided p-value of the Mann-Whitney U test (normal approximation with tie
/// correction), fine for n ≥ 20 per group.
pub fn mann_whitney_p(a: &[f64], b: &[f64]) -> f64 {
    let (n1, n2) = (a.len() as f64, b.len() as f64);
    if a.is_empty() || b.is_empty() {
        return 1.0;
    }
    let mut all: Vec<(f64, bool)> = a
        .iter()
        .map(|&x| (x, true))
        .chain(b.iter().map(|&x| (x, false)))
        .collect();
    all.sort_by(|x, y| x.0.total_cmp(&y.0));
    let mut ranks = vec![0.0; all.len()];
    let mut tie_term = 0.0;
    let mut i = 0;
    while i < all.len() {
        let mut j = i;
        while j + 1 < all.len() && all[j + 1].0 == all[i].0 {
            j += 1;
        }
        let rank = (i + j) as f64 / 2.0 + 1.0;
        for r in ranks.iter_mut().take(j + 1).skip(i) {
            *r = rank;
        }
        let t = (j - i + 1) as f64;
        tie_term += t * t * t - t;
        i = j + 1;
    }
    let r1: f64 = all
        .iter()
        .zip(&ranks)
        .filter(|((_, in_a), _)| *in_a)
        .map(|(_, r)| r)
        .sum();
    let u1 = r1 - n1 * (n1 + 1.0) / 2.0;
    let mean = n1 * n2 / 2.0;
    let n = n1 + n2;
    let var = n1 * n2 / 12.0 * ((n + 1.0) - tie_term / (n * (n - 1.0)));
    if var <= 0.0 {
        return 1.0;
    }
    let z = (u1 - mean).abs() / var.sqrt();
    2.0 * (1.0 - standard_normal_cdf(z))
}

fn standard_normal_cdf(z: f64) -> f64 {
    // Abramowitz–Stegun 7.1.26 for erf; |error| < 1.5e-7.
    let x = z / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.327_591_1 * x.abs());
    let y = 1.0
        - (((((1.061_405_429 * t - 1.453_152_027) * t) + 1.421_413_741) * t - 0.284_496_736) * t
            + 0.254_829_592)
            * t
            * (-x * x).exp();
    let erf = if x >= 0.0 { y } else { -y };
    0.5 * (1.0 + erf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mann_whitney_separates_shifted_samples_only() {
        let a: Vec<f64> = (0..200).map(|i| 10.0 + (i % 17) as f64 * 0.1).collect();
        let same: Vec<f64> = (0..200)
            .map(|i| 10.0 + ((i + 5) % 17) as f64 * 0.1)
            .collect();
        let shifted: Vec<f64> = a.iter().map(|x| x + 1.0).collect();
        assert!(mann_whitney_p(&a, &same) > 0.05);
        assert!(mann_whitney_p(&a, &shifted) < 1e-6);
    }

    #[test]
    fn normal_cdf_is_accurate() {
        assert!((standard_normal_cdf(0.0) - 0.5).abs() < 1e-6);
        assert!((standard_normal_cdf(1.96) - 0.975).abs() < 1e-3);
    }

    #[tokio::test]
    async fn chunked_bodies_are_joined_and_headers_lower_cased() {
        let (addr, _server) = one_shot_server(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Test: Yes \r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
        )
        .await;
        let r = get(addr, None, "/metrics", &[]).await.expect("a response");
        assert_eq!((r.status, r.body.as_slice()), (200, b"abcde".as_slice()));
        assert_eq!(r.header("x-test"), Some("Yes"));
    }

    #[tokio::test]
    async fn a_target_that_never_answers_times_out() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        // Accepts (the kernel does, from the backlog) and never answers.
        let started = Instant::now();
        let err = get_within(addr, None, "/metrics", &[], Duration::from_millis(300))
            .await
            .unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(5), "{err}");
        assert!(
            matches!(
                err,
                DirectError::Timeout {
                    step: Step::Request,
                    ..
                }
            ),
            "{err}"
        );
        drop(listener);
    }

    #[test]
    fn a_missing_ca_file_is_named() {
        let err = ca_roots(Path::new("/nonexistent/ca.crt")).unwrap_err();
        assert!(
            err.to_string().starts_with("CA file /nonexistent/ca.crt: "),
            "{err}"
        );
        assert!(std::error::Error::source(&err).is_some());
    }

    /// A server that answers one connection with `response`, then closes it.
    async fn one_shot_server(response: &'static [u8]) -> (SocketAddr, tokio::task::JoinHandle<()>) {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut buf = vec![0u8; 4096];
            let mut have = 0;
            while !buf[..have].windows(4).any(|w| w == b"\r\n\r\n") {
                let n = socket.read(&mut buf[have..]).await.unwrap();
                if n == 0 {
                    return;
                }
                have += n;
            }
            socket.write_all(response).await.unwrap();
            socket.shutdown().await.unwrap();
        });
        (addr, task)
    }
}

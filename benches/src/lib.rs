//! Fixtures shared by the criterion targets in `benches/benches/`: a test PKI written to a
//! temporary directory, `web-config.yml` files for every security mode, rustls client
//! configurations that never resume (Prometheus never does), an in-memory handshake pump,
//! and a small HTTP/1.1 client on hyper's connection API.
//!
//! Nothing here is a benchmark by itself; `cargo bench -p benches` runs the targets, and
//! `cargo bench -p benches -- --test` runs each of them once as a smoke test.

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use fake_exporter::pki::{ClientCert, KeyType, Pki, PkiError, PkiFiles, ServerCert};
use fake_exporter::{ClientAuthType, PemSource, WebConfig};
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use rustls::client::Resumption;
use rustls::{ClientConfig, ConnectionCommon, RootCertStore, SideData, SupportedProtocolVersion};
use rustls_pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// Anything that can go wrong while setting a benchmark up. Benchmarks are programs, so a
/// boxed error with a message that names the step is enough.
pub type BenchError = Box<dyn std::error::Error + Send + Sync>;

/// The security modes the request benchmark measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Plain HTTP, no authentication.
    Plain,
    /// Basic auth with the right password: after the first request the bcrypt outcome is
    /// cached (exporter-toolkit's cache), so this measures the cached path. Hash cost 10.
    BasicCached,
    /// Basic auth with a different wrong password on every request: every request misses
    /// the cache and runs bcrypt. The hash has cost 4 (the minimum) to keep the run short;
    /// cost 10 is 64 times slower per check.
    BasicUncached,
    /// A static Bearer token (fake-exporter extension).
    Bearer,
    /// TLS, no client certificate.
    Tls,
    /// TLS with a verified client certificate (`RequireAndVerifyClientCert`).
    Mtls,
}

impl Mode {
    /// Every mode, in report order.
    pub const ALL: [Mode; 6] = [
        Mode::Plain,
        Mode::BasicCached,
        Mode::BasicUncached,
        Mode::Bearer,
        Mode::Tls,
        Mode::Mtls,
    ];

    /// The name used in benchmark ids.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Plain => "plain",
            Mode::BasicCached => "basic-cached",
            Mode::BasicUncached => "basic-uncached-cost4",
            Mode::Bearer => "bearer",
            Mode::Tls => "tls",
            Mode::Mtls => "mtls",
        }
    }

    /// Whether the mode speaks TLS.
    pub fn is_tls(self) -> bool {
        matches!(self, Mode::Tls | Mode::Mtls)
    }
}

/// User name of the Basic-auth modes.
pub const USER: &str = "prometheus";
/// The right password of the Basic-auth modes.
pub const PASSWORD: &str = "s3cret";
/// The token of the Bearer mode.
pub const TOKEN: &str = "bench-token-0123456789";

/// A test PKI of one key type, written to a temporary directory (removed on drop).
#[derive(Debug)]
pub struct PkiDir {
    pki: Pki,
    files: PkiFiles,
    dir: tempfile::TempDir,
}

impl PkiDir {
    /// Generates the PKI and writes it under a new temporary directory.
    pub fn generate(key_type: KeyType) -> Result<Self, BenchError> {
        let dir = tempfile::tempdir().map_err(|e| format!("creating a temp dir: {e}"))?;
        let pki = Pki::generate(key_type).map_err(|e: PkiError| format!("{key_type} PKI: {e}"))?;
        let files = pki
            .write_to(dir.path())
            .map_err(|e| format!("writing the {key_type} PKI: {e}"))?;
        Ok(Self { pki, files, dir })
    }

    /// The PKI in memory.
    pub fn pki(&self) -> &Pki {
        &self.pki
    }

    /// The temporary directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Writes `web-config.yml` for `mode` into the directory and returns its path. TLS modes
    /// point at the valid server certificate; mTLS also requires and verifies a client
    /// certificate signed by the CA.
    pub fn write_web_config(&self, mode: Mode) -> Result<PathBuf, BenchError> {
        let path = self.dir().join(format!("web-config-{}.yml", mode.name()));
        self.web_config(mode)?.write_to(&path)?;
        Ok(path)
    }

    /// The web config of `mode`, typed (see [`PkiDir::write_web_config`]).
    pub fn web_config(&self, mode: Mode) -> Result<WebConfig, BenchError> {
        let tls = || {
            WebConfig::builder()
                .cert(PemSource::file(self.files.server_cert(ServerCert::Valid)))
                .key(PemSource::file(self.files.server_key(ServerCert::Valid)))
        };
        let config = match mode {
            Mode::Plain => WebConfig::builder(),
            Mode::BasicCached => WebConfig::builder().basic_auth_user(USER, bcrypt_hash(10)?),
            Mode::BasicUncached => WebConfig::builder().basic_auth_user(USER, bcrypt_hash(4)?),
            Mode::Bearer => WebConfig::builder().bearer_token(TOKEN),
            Mode::Tls => tls(),
            Mode::Mtls => tls()
                .client_auth(ClientAuthType::RequireAndVerifyClientCert)
                .client_ca(PemSource::file(self.files.ca())),
        };
        Ok(config.build()?)
    }

    /// A rustls client trusting the CA, for exactly one TLS version, with session resumption
    /// disabled. With `client_cert` it presents the valid client certificate.
    pub fn client_config(
        &self,
        version: &'static SupportedProtocolVersion,
        client_cert: bool,
        alpn: &[&[u8]],
    ) -> Result<Arc<ClientConfig>, BenchError> {
        let mut roots = RootCertStore::empty();
        roots.add(self.pki.ca_der().clone())?;
        let builder =
            ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_protocol_versions(&[version])?
                .with_root_certificates(roots);
        let mut config = if client_cert {
            let id = self.pki.client(ClientCert::Valid);
            builder.with_client_auth_cert(id.cert_chain().to_vec(), id.private_key())?
        } else {
            builder.with_no_client_auth()
        };
        config.resumption = Resumption::disabled();
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Ok(Arc::new(config))
    }
}

/// A bcrypt hash of [`PASSWORD`] at `cost`.
pub fn bcrypt_hash(cost: u32) -> Result<String, BenchError> {
    Ok(bcrypt::hash(PASSWORD, cost)?)
}

/// The server name every valid server certificate carries.
pub fn server_name() -> ServerName<'static> {
    ServerName::try_from("localhost").expect("`localhost` is a valid DNS name")
}

/// Moves every pending TLS record from `from` to `to` and lets `to` process them.
pub fn transfer<L: SideData, R: SideData>(
    from: &mut ConnectionCommon<L>,
    to: &mut ConnectionCommon<R>,
) -> Result<usize, rustls::Error> {
    let mut buf = Vec::with_capacity(8192);
    while from.wants_write() {
        from.write_tls(&mut buf)
            .map_err(|e| rustls::Error::General(format!("write_tls: {e}")))?;
    }
    let moved = buf.len();
    let mut rd = &buf[..];
    while !rd.is_empty() {
        to.read_tls(&mut rd)
            .map_err(|e| rustls::Error::General(format!("read_tls: {e}")))?;
        to.process_new_packets()?;
    }
    Ok(moved)
}

/// Runs a handshake between two connections in memory until neither has anything left to
/// send (TLS 1.3 session tickets included). Returns the bytes exchanged.
pub fn pump<L: SideData, R: SideData>(
    client: &mut ConnectionCommon<L>,
    server: &mut ConnectionCommon<R>,
) -> Result<usize, rustls::Error> {
    let mut total = 0;
    loop {
        let a = transfer(client, server)?;
        let b = transfer(server, client)?;
        total += a + b;
        if a == 0 && b == 0 && !client.is_handshaking() && !server.is_handshaking() {
            return Ok(total);
        }
        if a == 0 && b == 0 {
            return Err(rustls::Error::General(
                "handshake stalled: neither side has anything to send".into(),
            ));
        }
    }
}

/// What a request sends besides the path.
#[derive(Clone, Debug, Default)]
pub struct RequestAuth {
    /// The `Authorization` header value, if any.
    pub authorization: Option<String>,
}

impl RequestAuth {
    /// `Authorization: Basic base64(user:password)`.
    pub fn basic(user: &str, password: &str) -> Self {
        Self {
            authorization: Some(fake_exporter::basic_header(user, password)),
        }
    }

    /// `Authorization: Bearer <token>`.
    pub fn bearer(token: &str) -> Self {
        Self {
            authorization: Some(format!("Bearer {token}")),
        }
    }
}

/// An HTTP/1.1 connection to an exporter, plain or TLS; the connection task runs on the
/// current tokio runtime and ends when this is dropped.
#[derive(Debug)]
pub struct Client {
    sender: SendRequest<Empty<Bytes>>,
    host: String,
}

impl Client {
    /// Connects over plain TCP.
    pub async fn connect_plain(addr: SocketAddr) -> io::Result<Self> {
        let tcp = TcpStream::connect(addr).await?;
        tcp.set_nodelay(true)?;
        Self::handshake(TokioIo::new(tcp), addr).await
    }

    /// Connects and performs a full TLS handshake (`localhost` as server name).
    pub async fn connect_tls(addr: SocketAddr, config: Arc<ClientConfig>) -> io::Result<Self> {
        let tcp = TcpStream::connect(addr).await?;
        tcp.set_nodelay(true)?;
        let tls = TlsConnector::from(config)
            .connect(server_name(), tcp)
            .await?;
        Self::handshake(TokioIo::new(tls), addr).await
    }

    async fn handshake<I>(io: I, addr: SocketAddr) -> io::Result<Self>
    where
        I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    {
        let (sender, conn) = hyper::client::conn::http1::handshake(io)
            .await
            .map_err(io::Error::other)?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(Self {
            sender,
            host: addr.to_string(),
        })
    }

    /// `GET path`; returns the status and the body length.
    pub async fn get(&mut self, path: &str, auth: &RequestAuth) -> io::Result<(u16, usize)> {
        self.sender.ready().await.map_err(io::Error::other)?;
        let mut req = http::Request::get(path).header(http::header::HOST, &self.host);
        if let Some(a) = &auth.authorization {
            req = req.header(http::header::AUTHORIZATION, a);
        }
        let req = req.body(Empty::new()).map_err(io::Error::other)?;
        let resp = self
            .sender
            .send_request(req)
            .await
            .map_err(io::Error::other)?;
        let status = resp.status().as_u16();
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(io::Error::other)?
            .to_bytes();
        Ok((status, body.len()))
    }
}

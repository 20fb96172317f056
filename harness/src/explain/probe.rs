//! Probes of up TLS targets with the job's own TLS settings, as Prometheus connects: the
//! certificate's `notAfter` from a rustls handshake (`cert_expiring`), and whether TLS 1.0
//! or 1.1 is still accepted (`legacy_tls`, offered alone through openssl). At most
//! [`PARALLEL`] targets at a time, each step with [`direct::STEP_TIMEOUT`].

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::net::TcpStream;

use super::{host_port, Risk, TargetExplanation};
use crate::conformance::direct::{self, ClientTls, OldTls};
use crate::promconfig::ScrapeConfig;

/// Targets probed at the same time.
pub(crate) const PARALLEL: usize = 16;

/// What to probe for one target.
#[derive(Clone, Debug)]
pub(crate) struct TlsProbe {
    /// Index of the target in the explanation.
    pub(crate) index: usize,
    /// `host:port` of the target.
    pub(crate) host: String,
    /// Its port.
    pub(crate) port: u16,
    /// The name Prometheus verifies.
    pub(crate) server_name: String,
    /// The job's client certificate and key.
    pub(crate) client_cert: Option<(PathBuf, PathBuf)>,
}

impl TlsProbe {
    /// The probe of an up `https` target, from its job's `tls_config`.
    pub(crate) fn of(index: usize, t: &TargetExplanation, job: &ScrapeConfig) -> Option<Self> {
        if !t.scrape_url.starts_with("https://") {
            return None;
        }
        let (host, port) = host_port(&t.scrape_url)?;
        let tls = job.tls_config.as_ref();
        Some(Self {
            index,
            server_name: tls
                .and_then(|t| t.server_name.clone())
                .unwrap_or_else(|| host.clone()),
            host,
            port,
            client_cert: tls.and_then(|t| Some((t.cert_file.clone()?, t.key_file.clone()?))),
        })
    }
}

/// The leaf certificate's `notAfter`, from a handshake that does not verify it (an expiry
/// is judged on any certificate the target serves).
async fn not_after(addr: SocketAddr, p: &TlsProbe) -> Option<SystemTime> {
    let leaf = handshake(addr, p).await?;
    fake_exporter::certificate_not_after(&leaf)
}

/// A TLS handshake with `p`'s name and client certificate, not verifying the server: its
/// leaf certificate.
async fn handshake(
    addr: SocketAddr,
    p: &TlsProbe,
) -> Option<rustls_pki_types::CertificateDer<'static>> {
    let tls = ClientTls {
        verify_server: false,
        client_cert: p.client_cert.clone(),
        server_name: p.server_name.clone(),
        ..ClientTls::default()
    };
    let config = direct::client_config(&tls).ok()?;
    let name = rustls_pki_types::ServerName::try_from(p.server_name.clone()).ok()?;
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let step = direct::STEP_TIMEOUT;
    let tcp = tokio::time::timeout(step, TcpStream::connect(addr))
        .await
        .ok()?
        .ok()?;
    let stream = tokio::time::timeout(step, connector.connect(name, tcp))
        .await
        .ok()?
        .ok()?;
    Some(stream.get_ref().1.peer_certificates()?.first()?.clone())
}

async fn probe_one(p: TlsProbe, warning: Duration) -> (usize, Vec<Risk>) {
    let mut risks = Vec::new();
    let Some(addr) = tokio::time::timeout(
        direct::STEP_TIMEOUT,
        tokio::net::lookup_host((p.host.as_str(), p.port)),
    )
    .await
    .ok()
    .and_then(Result::ok)
    .and_then(|mut a| a.next()) else {
        return (p.index, risks);
    };
    if let Some(end) = not_after(addr, &p).await {
        let left = end.duration_since(SystemTime::now()).unwrap_or_default();
        if left < warning {
            risks.push(Risk {
                kind: "cert_expiring".into(),
                detail: format!(
                    "the certificate the target serves expires at {} (in {} days; --expiry-warning: {} days)",
                    humantime::format_rfc3339_seconds(end),
                    left.as_secs() / 86_400,
                    warning.as_secs() / 86_400
                ),
            });
        }
    }
    let mut old = Vec::new();
    for version in [OldTls::Tls10, OldTls::Tls11] {
        if let Ok(true) = direct::old_tls_handshake(addr, version, p.client_cert.as_ref()).await {
            old.push(version.name());
        }
    }
    if !old.is_empty() {
        risks.push(Risk {
            kind: "legacy_tls".into(),
            detail: format!(
                "the target accepts {} (offered alone): allow TLS 1.2 and later only (tls_server_config.min_version: TLS12)",
                old.join(" and ")
            ),
        });
    }
    (p.index, risks)
}

/// Probes every target of `probes`, at most [`PARALLEL`] at a time; the risks found per
/// target index.
pub(crate) async fn probe_all(probes: Vec<TlsProbe>, warning: Duration) -> Vec<(usize, Vec<Risk>)> {
    let gate = Arc::new(tokio::sync::Semaphore::new(PARALLEL));
    let mut set = tokio::task::JoinSet::new();
    for p in probes {
        let gate = gate.clone();
        set.spawn(async move {
            // Invariant: the semaphore is never closed.
            let _permit = gate.acquire_owned().await.ok();
            probe_one(p, warning).await
        });
    }
    let mut out = Vec::new();
    while let Some(done) = set.join_next().await {
        if let Ok(found) = done {
            out.push(found);
        }
    }
    out
}

/// The first address of `host:port`, within the step deadline.
async fn resolve(host: &str, port: u16) -> Option<std::net::SocketAddr> {
    tokio::time::timeout(direct::STEP_TIMEOUT, tokio::net::lookup_host((host, port)))
        .await
        .ok()
        .and_then(Result::ok)
        .and_then(|mut a| a.next())
}

/// Whether the TLS server at `host:port` asks for a client certificate (a
/// CertificateRequest in the handshake): what the classifier needs to tell a rejected or
/// missing client certificate from a connection the exporter merely reset (Go TLS 1.3
/// servers reject a client certificate after the handshake).
pub(crate) async fn asks_for_client_cert(host: &str, port: u16, server_name: &str) -> bool {
    let Some(addr) = resolve(host, port).await else {
        return false;
    };
    let asked = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let tls = ClientTls {
        verify_server: false,
        server_name: server_name.to_owned(),
        cert_requested: Some(asked.clone()),
        ..ClientTls::default()
    };
    let _ = direct::get(addr, Some(&tls), "/metrics", &[]).await;
    asked.load(std::sync::atomic::Ordering::SeqCst)
}

/// Whether `host:port` completes a TLS handshake (certificate not verified): a plain HTTP
/// job's `400 Bad Request` or reset from such a port is `http_to_https`.
pub(crate) async fn speaks_tls(host: &str, port: u16) -> bool {
    let Some(addr) = resolve(host, port).await else {
        return false;
    };
    let name = if host.parse::<std::net::IpAddr>().is_ok() {
        "localhost".to_owned()
    } else {
        host.to_owned()
    };
    let probe = TlsProbe {
        index: 0,
        host: host.to_owned(),
        port,
        server_name: name,
        client_cert: None,
    };
    handshake(addr, &probe).await.is_some()
}

//! Checks made directly against the exporter, beyond what Prometheus reports: the 401
//! challenge, secrets not echoed, TLS below 1.2 refused, content type, gzip, OpenMetrics,
//! and whether unknown users and wrong passwords can be told apart by timing.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use fake_exporter::basic_header;

/// TLS settings of the direct client.
#[derive(Debug, Clone, Default)]
pub struct ClientTls {
    /// CA file to trust.
    pub ca_file: Option<PathBuf>,
    /// Client certificate and key.
    pub client_cert: Option<(PathBuf, PathBuf)>,
    /// Name to verify (defaults to the host).
    pub server_name: String,
}

/// A raw HTTP/1.1 response.
#[derive(Debug, Clone, Default)]
pub struct RawResponse {
    /// Status code.
    pub status: u16,
    /// Headers, names lower-cased, in order.
    pub headers: Vec<(String, String)>,
    /// Body bytes (not decoded).
    pub body: Vec<u8>,
}

impl RawResponse {
    /// The first header with this (lower-case) name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Sends `GET path` with `headers` over a fresh connection (`Connection: close`) and reads
/// the whole response.
pub async fn get(
    addr: SocketAddr,
    tls: Option<&ClientTls>,
    path: &str,
    headers: &[(&str, String)],
) -> Result<RawResponse, String> {
    let tcp = tokio::time::timeout(Duration::from_secs(10), TcpStream::connect(addr))
        .await
        .map_err(|_| format!("connecting to {addr} timed out"))?
        .map_err(|e| format!("connecting to {addr}: {e}"))?;
    let mut request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str("\r\n");
    let raw = match tls {
        None => exchange(tcp, request.as_bytes()).await?,
        Some(tls) => {
            let config = client_config(tls)?;
            let name = ServerName::try_from(tls.server_name.clone())
                .map_err(|e| format!("server name `{}`: {e}", tls.server_name))?;
            let stream = tokio_rustls::TlsConnector::from(Arc::new(config))
                .connect(name, tcp)
                .await
                .map_err(|e| format!("TLS handshake with {addr}: {e}"))?;
            exchange(stream, request.as_bytes()).await?
        }
    };
    parse_response(&raw)
}

async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
    mut s: S,
    request: &[u8],
) -> Result<Vec<u8>, String> {
    s.write_all(request)
        .await
        .map_err(|e| format!("sending the request: {e}"))?;
    let mut buf = Vec::new();
    match tokio::time::timeout(Duration::from_secs(20), s.read_to_end(&mut buf)).await {
        Ok(Ok(_)) => Ok(buf),
        // A TLS peer that closes without close_notify still gave us the response.
        Ok(Err(e)) if !buf.is_empty() && e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(buf),
        Ok(Err(e)) => Err(format!("reading the response: {e}")),
        Err(_) => Err("reading the response timed out".into()),
    }
}

fn parse_response(raw: &[u8]) -> Result<RawResponse, String> {
    let head_end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| "response has no header end".to_owned())?;
    let head = String::from_utf8_lossy(&raw[..head_end]);
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("bad status line `{status_line}`"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let mut body = raw[head_end + 4..].to_vec();
    let chunked = headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.eq_ignore_ascii_case("chunked"));
    if chunked {
        body = dechunk(&body);
    }
    Ok(RawResponse {
        status,
        headers,
        body,
    })
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(eol) = data.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let size_text = String::from_utf8_lossy(&data[..eol]);
        let Ok(size) = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
        else {
            return out;
        };
        data = &data[eol + 2..];
        if size == 0 || data.len() < size {
            return out;
        }
        out.extend_from_slice(&data[..size]);
        data = &data[(size + 2).min(data.len())..];
    }
}

/// The certificates of a CA file as a trust store; every PEM block must parse (a client
/// that trusts nothing by accident would turn every verdict into "unknown authority").
pub fn ca_roots(path: &Path) -> Result<rustls::RootCertStore, String> {
    let fail = |e: &dyn std::fmt::Display| format!("{}: {e}", path.display());
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(path).map_err(|e| fail(&e))? {
        roots
            .add(cert.map_err(|e| fail(&e))?)
            .map_err(|e| fail(&e))?;
    }
    Ok(roots)
}

fn client_config(tls: &ClientTls) -> Result<rustls::ClientConfig, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let roots = match &tls.ca_file {
        Some(ca) => ca_roots(ca)?,
        None => rustls::RootCertStore::empty(),
    };
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots);
    let config = match &tls.client_cert {
        None => builder.with_no_client_auth(),
        Some((cert, key)) => {
            let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
                .map_err(|e| format!("{}: {e}", cert.display()))?
                .collect::<Result<_, _>>()
                .map_err(|e| format!("{}: {e}", cert.display()))?;
            let key =
                PrivateKeyDer::from_pem_file(key).map_err(|e| format!("{}: {e}", key.display()))?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| format!("client certificate: {e}"))?
        }
    };
    Ok(config)
}

/// Outcome of one direct check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The requirement holds.
    Pass(String),
    /// It does not.
    Fail(String),
    /// It could not be checked here, and why.
    NotApplicable(String),
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
    let wrong = format!("Wr0ng-{}", std::process::id());
    let mut seen = Vec::new();
    for (label, pw) in [
        ("wrong password", wrong.as_str()),
        ("right password", password),
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
        if text.contains(pw) || text.contains(blob) {
            return Outcome::Fail(format!(
                "the response to a request with the {label} (status {}) contains the credentials",
                r.status
            ));
        }
        seen.push(format!("{label}: {}", r.status));
    }
    Outcome::Pass(format!("no credentials in responses ({})", seen.join(", ")))
}

/// The exporter must refuse TLS 1.0 and 1.1. rustls cannot offer them, so this asks
/// `openssl s_client` (with `@SECLEVEL=0`, which OpenSSL 3 needs to offer them at all).
pub async fn refuses_old_tls(addr: SocketAddr) -> Outcome {
    let mut notes = Vec::new();
    for (flag, name) in [("-tls1_1", "TLS 1.1"), ("-tls1", "TLS 1.0")] {
        let out = tokio::process::Command::new("openssl")
            .args([
                "s_client",
                "-connect",
                &addr.to_string(),
                flag,
                "-cipher",
                "DEFAULT@SECLEVEL=0",
            ])
            .stdin(std::process::Stdio::null())
            .output()
            .await;
        let out = match out {
            Ok(o) => o,
            Err(e) => {
                return Outcome::NotApplicable(format!(
                    "openssl is needed to offer TLS < 1.2 ({e}); install it with `apt-get install -y openssl`"
                ))
            }
        };
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        if text.contains("no protocols available") || text.contains("unknown option") {
            return Outcome::NotApplicable(format!("the local openssl cannot offer {name}"));
        }
        let negotiated = text.lines().any(|l| {
            l.trim_start().starts_with("Protocol")
                && (l.contains("TLSv1.1") || l.trim_end().ends_with("TLSv1"))
        }) && !text.contains("Cipher is (NONE)");
        if negotiated {
            return Outcome::Fail(format!("the exporter completed a {name} handshake"));
        }
        notes.push(format!("{name} refused"));
    }
    Outcome::Pass(notes.join(", "))
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

/// Whether an unknown user and a known user with a wrong password take indistinguishable
/// time: `samples` requests of each kind, interleaved (order alternating), a unique
/// password per request (so no cache answers), then a two-sided Mann-Whitney U test at
/// α = `alpha`; one retry when the first run rejects.
pub async fn auth_timing(
    addr: SocketAddr,
    tls: Option<&ClientTls>,
    path: &str,
    user: &str,
    samples: usize,
    alpha: f64,
) -> Outcome {
    if samples == 0 {
        return Outcome::NotApplicable("timing check disabled (--timing-samples 0)".into());
    }
    let mut last = String::new();
    for attempt in 1..=2 {
        let mut wrong_pw = Vec::with_capacity(samples);
        let mut unknown = Vec::with_capacity(samples);
        for i in 0..samples {
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
        let p = mann_whitney_p(&wrong_pw, &unknown);
        let summary = format!(
            "median wrong password {:.1} ms, unknown user {:.1} ms, n = {samples} each, Mann-Whitney p = {p:.2e} (α = {alpha})",
            median(&wrong_pw) * 1e3,
            median(&unknown) * 1e3
        );
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

/// Absolute path or an error naming the flag.
pub fn absolute(flag: &str, path: &Path) -> Result<PathBuf, String> {
    std::fs::canonicalize(path).map_err(|e| format!("{flag} {}: {e}", path.display()))
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

    #[test]
    fn chunked_bodies_are_joined() {
        let raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
        let r = parse_response(raw).expect("valid");
        assert_eq!(r.body, b"abcde");
        assert_eq!(r.status, 200);
    }
}

//! What a running target shows of its security from the client side: transport and TLS
//! versions, its client-certificate policy, and its HTTP auth, each probed directly
//! (every step with a deadline). `--require tls|mtls|auth` turns the posture into MUST
//! cases, so a CI job can demand a minimum.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use serde::Serialize;

use super::catalog::Level;
use super::direct::{self, ClientTls, DirectError, DirectResponse, TlsVersions};
use super::profile::Fingerprint;
use super::report::{CheckResult, CheckVerdict};

/// A minimum the target must meet (`--require`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Requirement {
    /// TLS, and plain HTTP refused.
    Tls,
    /// Client certificates required and verified.
    Mtls,
    /// HTTP authentication (Basic or Bearer) required.
    Auth,
}

impl std::str::FromStr for Requirement {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "tls" => Ok(Self::Tls),
            "mtls" => Ok(Self::Mtls),
            "auth" => Ok(Self::Auth),
            other => Err(format!("`{other}`: use tls, mtls or auth")),
        }
    }
}

/// The target's client-certificate policy, as seen from outside.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientCertPolicy {
    /// Not over TLS.
    NotTls,
    /// The server never asks for one.
    None,
    /// Asked for, not required, not verified (any certificate is served).
    RequestedNotVerified,
    /// Asked for, not required, verified when given.
    VerifiedIfGiven,
    /// Required, but any certificate is served (not verified).
    RequiredNotVerified,
    /// Required and verified.
    Verified,
    /// Could not be told (no answer, or an answer that says nothing about client
    /// certificates): never guessed.
    Unknown,
}

impl ClientCertPolicy {
    fn words(self) -> &'static str {
        match self {
            Self::NotTls => "n/a (no TLS)",
            Self::None => "none (never asked for)",
            Self::RequestedNotVerified => {
                "requested, not verified (a certificate from an unknown CA is served)"
            }
            Self::VerifiedIfGiven => "verified when given (none is also served)",
            Self::RequiredNotVerified => {
                "required but NOT verified (a certificate from an unknown CA is served)"
            }
            Self::Verified => "required and verified",
            Self::Unknown => "unknown (not observed)",
        }
    }
}

/// HTTP authentication as seen from outside.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HttpAuth {
    /// A request without credentials is served.
    None,
    /// 401 with a Basic challenge.
    Basic,
    /// 401 with a Bearer challenge.
    Bearer,
    /// Refused without credentials with this status (no known challenge).
    Refused(u16),
    /// Could not be told.
    Unknown(String),
}

/// Everything probed.
#[derive(Debug, Clone, Serialize)]
pub struct Posture {
    /// Whether it speaks TLS.
    pub tls: bool,
    /// Versions a client could complete a handshake with.
    pub tls_versions: Vec<&'static str>,
    /// Whether plain HTTP to the port was refused.
    pub plain_http_refused: Option<bool>,
    /// Client certificates.
    pub client_certs: ClientCertPolicy,
    /// HTTP auth.
    pub http_auth: HttpAuth,
    /// Whether the target answered at all.
    pub answered: bool,
    /// What the answers show of the server (for the profile).
    #[serde(skip)]
    pub fingerprint: Fingerprint,
}

impl Posture {
    /// One line per aspect, for the report.
    pub fn lines(&self) -> Vec<String> {
        if !self.answered {
            return vec!["the target accepted TCP but did not answer a request".into()];
        }
        let transport = if self.tls {
            let plain = match self.plain_http_refused {
                Some(true) => "; plain HTTP refused",
                Some(false) => "; plain HTTP SERVED on the same port",
                None => "",
            };
            let versions = if self.tls_versions.is_empty() {
                "no version completed a handshake".to_owned()
            } else {
                self.tls_versions.join(", ")
            };
            format!("TLS ({versions}){plain}")
        } else {
            "plain HTTP (no TLS)".to_owned()
        };
        let auth = match &self.http_auth {
            HttpAuth::None => "none (served without credentials)".to_owned(),
            HttpAuth::Basic => "Basic".to_owned(),
            HttpAuth::Bearer => "Bearer".to_owned(),
            HttpAuth::Refused(code) => format!("required (HTTP {code} without credentials)"),
            HttpAuth::Unknown(why) => format!("unknown ({why})"),
        };
        vec![
            format!("transport: {transport}"),
            format!("client certificates: {}", self.client_certs.words()),
            format!("HTTP auth: {auth}"),
        ]
    }

    /// A SHOULD that a scrape endpoint has some protection (TLS or HTTP auth): a plain,
    /// open endpoint is reported, not passed silently (`--require` makes it a MUST).
    pub fn protection_result(&self) -> CheckResult {
        let protected = self.tls
            || matches!(
                self.http_auth,
                HttpAuth::Basic | HttpAuth::Bearer | HttpAuth::Refused(_)
            );
        let observed = self.lines().join("; ");
        let (verdict, detail) = if !self.answered {
            (CheckVerdict::Timeout, observed)
        } else if protected {
            (CheckVerdict::Pass, observed)
        } else {
            (
                CheckVerdict::Fail,
                format!("expected: TLS or HTTP auth; observed: {observed}"),
            )
        };
        let mut c = CheckResult::new(
            "target-protected",
            Level::Should,
            "TLS or HTTP authentication",
            verdict,
            detail,
        );
        c.rationale = "metrics reveal a host's internals; an endpoint with neither TLS nor authentication is readable by anyone who reaches it (demand more with --require)".into();
        c.reference = "Prometheus security model (prometheus.io/docs/operating/security); exporter-toolkit web-configuration.md".into();
        c
    }

    /// The `--require` cases.
    pub fn requirement_results(&self, required: &[Requirement]) -> Vec<CheckResult> {
        required
            .iter()
            .map(|r| {
                let (name, property, holds) = match r {
                    Requirement::Tls => (
                        "require-tls",
                        "TLS, plain HTTP refused",
                        self.tls && self.plain_http_refused != Some(false),
                    ),
                    Requirement::Mtls => (
                        "require-mtls",
                        "client certificates required and verified",
                        self.client_certs == ClientCertPolicy::Verified,
                    ),
                    Requirement::Auth => (
                        "require-auth",
                        "HTTP authentication required",
                        matches!(
                            self.http_auth,
                            HttpAuth::Basic | HttpAuth::Bearer | HttpAuth::Refused(_)
                        ),
                    ),
                };
                let observed = self.lines().join("; ");
                let mut c = CheckResult::new(
                    name,
                    Level::Must,
                    property,
                    if !self.answered {
                        CheckVerdict::Timeout
                    } else if holds {
                        CheckVerdict::Pass
                    } else {
                        CheckVerdict::Fail
                    },
                    if holds {
                        observed
                    } else {
                        format!("expected: {property}; observed: {observed}")
                    },
                );
                c.rationale = format!(
                    "--require {}: the minimum this CI job demands",
                    name.trim_start_matches("require-")
                );
                c.reference = "docs/conformance.md (--require)".into();
                c
            })
            .collect()
    }
}

/// How the posture probes reach the target.
#[derive(Debug, Clone)]
pub struct Probe {
    /// The target.
    pub addr: SocketAddr,
    /// Host name to verify (TLS).
    pub server_name: String,
    /// Whether to speak TLS.
    pub tls: bool,
    /// CA of its certificate.
    pub ca: Option<PathBuf>,
    /// Verify the target's certificate (`false`: probe how it behaves, whoever it is).
    pub verify_server: bool,
    /// The user's client certificate and key.
    pub client_cert: Option<(PathBuf, PathBuf)>,
    /// A client certificate from a CA the target cannot know.
    pub unknown_ca_cert: Option<(PathBuf, PathBuf)>,
    /// The user's `Authorization` header.
    pub auth_header: Option<String>,
    /// Metrics path.
    pub path: String,
}

impl Probe {
    fn client(&self, cert: Option<&(PathBuf, PathBuf)>, versions: TlsVersions) -> ClientTls {
        ClientTls {
            ca_file: self.ca.clone(),
            verify_server: self.verify_server,
            client_cert: cert.cloned(),
            server_name: self.server_name.clone(),
            versions,
            cert_requested: Some(Arc::new(AtomicBool::new(false))),
        }
    }

    async fn get(
        &self,
        tls: Option<&ClientTls>,
        with_auth: bool,
    ) -> Result<DirectResponse, DirectError> {
        let headers: Vec<(&str, String)> = match (&self.auth_header, with_auth) {
            (Some(h), true) => vec![("Authorization", h.clone())],
            _ => Vec::new(),
        };
        direct::get(self.addr, tls, &self.path, &headers).await
    }
}

/// How an answer to a client-certificate probe reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CertAnswer {
    /// Served (anything but a refusal at the connection level).
    Served,
    /// Refused by the target: an error on its side of the connection, or the statuses
    /// proxies use for certificate problems (400, 403, 495, 496).
    Refused,
    /// Says nothing about the target's policy: our own client refused the server's
    /// certificate, or no answer came within the deadline.
    Unknown,
}

fn cert_answer(r: &Result<DirectResponse, DirectError>) -> CertAnswer {
    match r {
        Err(DirectError::Timeout { .. }) => CertAnswer::Unknown,
        Err(e) if direct::rejected_by_client(e).is_some() => CertAnswer::Unknown,
        Err(_) => CertAnswer::Refused,
        Ok(r) if matches!(r.status, 400 | 403 | 495 | 496) => CertAnswer::Refused,
        Ok(_) => CertAnswer::Served,
    }
}

/// Probes the target. `answered` is false when the first request got no answer at all
/// (then nothing else is probed: every probe would wait for its deadline).
pub async fn probe(p: &Probe) -> Posture {
    let mut fingerprint = Fingerprint {
        tls: p.tls,
        ..Fingerprint::default()
    };
    let base = p
        .tls
        .then(|| p.client(p.client_cert.as_ref(), TlsVersions::Both));
    let first = p.get(base.as_ref(), true).await;
    if let Err(DirectError::Timeout { .. }) = &first {
        return Posture {
            tls: p.tls,
            tls_versions: Vec::new(),
            plain_http_refused: None,
            client_certs: ClientCertPolicy::Unknown,
            http_auth: HttpAuth::Unknown("no answer".into()),
            answered: false,
            fingerprint,
        };
    }
    if let Ok(r) = &first {
        fingerprint.server_header = r.header("server").map(str::to_owned);
        fingerprint.http_version = Some(r.version.clone());
    }
    let mut posture = Posture {
        tls: p.tls,
        tls_versions: Vec::new(),
        plain_http_refused: None,
        client_certs: ClientCertPolicy::NotTls,
        http_auth: HttpAuth::Unknown(String::new()),
        answered: true,
        fingerprint: Fingerprint::default(),
    };
    if p.tls {
        posture.tls_versions = probe_tls_versions(p).await;
        posture.plain_http_refused = Some(probe_plain_http(p, &mut fingerprint).await);
        posture.client_certs = probe_client_certs(p).await;
    }
    // HTTP auth: the user's client certificate, no credentials.
    let c = p
        .tls
        .then(|| p.client(p.client_cert.as_ref(), TlsVersions::Both));
    posture.http_auth = probe_http_auth(p, c.as_ref()).await;
    if let Some(body) = probe_not_found_body(p, c.as_ref()).await {
        fingerprint.not_found_body = Some(body);
    }
    posture.fingerprint = fingerprint;
    posture
}

/// Every TLS version the target accepts, from TLS 1.0 up, each probed alone with the
/// user's client certificate (1.0 and 1.1 through `openssl s_client`, which rustls cannot
/// replace).
async fn probe_tls_versions(p: &Probe) -> Vec<&'static str> {
    let mut accepted = Vec::new();
    for old in direct::OldTls::ALL {
        if let Ok(true) = direct::old_tls_handshake(p.addr, old, p.client_cert.as_ref()).await {
            accepted.push(old.name());
        }
    }
    for (versions, name) in [
        (TlsVersions::Only12, "TLS 1.2"),
        (TlsVersions::Only13, "TLS 1.3"),
    ] {
        let c = p.client(p.client_cert.as_ref(), versions);
        if p.get(Some(&c), true).await.is_ok() {
            accepted.push(name);
        }
    }
    accepted
}

/// Whether plain HTTP to the TLS port is refused (anything but a 2xx); its answer goes into
/// the fingerprint.
async fn probe_plain_http(p: &Probe, fingerprint: &mut Fingerprint) -> bool {
    let plain = p.get(None, true).await;
    if let Err(e) = &plain {
        fingerprint.plain_to_tls_closed = !matches!(e, DirectError::Timeout { .. });
    }
    if let Ok(r) = &plain {
        fingerprint.plain_to_tls_body = Some(String::from_utf8_lossy(&r.body).into_owned());
        if fingerprint.server_header.is_none() {
            fingerprint.server_header = r.header("server").map(str::to_owned);
        }
    }
    !matches!(&plain, Ok(r) if (200..300).contains(&r.status))
}

/// Client certificates: asked for? served without one? with one from an unknown CA? A
/// policy is claimed only from what was observed: an answer that says nothing (our own
/// client refused the server's certificate, no answer) leaves it unknown, and so does a
/// refusal by a target that never asked for a certificate.
async fn probe_client_certs(p: &Probe) -> ClientCertPolicy {
    let none = p.client(None, TlsVersions::Both);
    let without = cert_answer(&p.get(Some(&none), true).await);
    let asked = none
        .cert_requested
        .as_ref()
        .is_some_and(|a| a.load(Ordering::SeqCst));
    let unknown = match &p.unknown_ca_cert {
        Some(cert) => {
            let c = p.client(Some(cert), TlsVersions::Both);
            cert_answer(&p.get(Some(&c), true).await)
        }
        None => CertAnswer::Unknown,
    };
    policy(asked, without, unknown)
}

/// The policy that `asked`, the answer without a certificate and the answer with one from
/// an unknown CA show.
fn policy(asked: bool, without: CertAnswer, unknown: CertAnswer) -> ClientCertPolicy {
    use CertAnswer::{Refused, Served, Unknown};
    match (asked, without, unknown) {
        (_, Unknown, _) => ClientCertPolicy::Unknown,
        (false, Served, _) => ClientCertPolicy::None,
        (false, Refused, _) => ClientCertPolicy::Unknown,
        (true, Served, Served) => ClientCertPolicy::RequestedNotVerified,
        (true, Served, Refused) => ClientCertPolicy::VerifiedIfGiven,
        (true, Refused, Served) => ClientCertPolicy::RequiredNotVerified,
        (true, Refused, Refused) => ClientCertPolicy::Verified,
        (true, _, Unknown) => ClientCertPolicy::Unknown,
    }
}

/// The HTTP authentication the target asks for, from a request without credentials.
async fn probe_http_auth(p: &Probe, c: Option<&ClientTls>) -> HttpAuth {
    match p.get(c, false).await {
        Ok(r) if (200..300).contains(&r.status) => HttpAuth::None,
        Ok(r) if r.status == 401 => match r.header("www-authenticate") {
            Some(v) if v.to_ascii_lowercase().starts_with("basic") => HttpAuth::Basic,
            Some(v) if v.to_ascii_lowercase().starts_with("bearer") => HttpAuth::Bearer,
            _ => HttpAuth::Refused(401),
        },
        Ok(r) if (400..500).contains(&r.status) => HttpAuth::Refused(r.status),
        Ok(r) => HttpAuth::Unknown(format!("HTTP {}", r.status)),
        Err(e) => HttpAuth::Unknown(super::report::one_line(&e.to_string())),
    }
}

/// The body of the target's 404 for an unknown path, with credentials (for the fingerprint).
async fn probe_not_found_body(p: &Probe, c: Option<&ClientTls>) -> Option<String> {
    let r = direct::get(
        p.addr,
        c,
        "/scrape-harness-unknown-path",
        &p.auth_header
            .iter()
            .map(|h| ("Authorization", h.clone()))
            .collect::<Vec<_>>(),
    )
    .await
    .ok()?;
    (r.status == 404).then(|| String::from_utf8_lossy(&r.body).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn posture(tls: bool, certs: ClientCertPolicy, auth: HttpAuth) -> Posture {
        Posture {
            tls,
            tls_versions: vec!["TLS 1.3"],
            plain_http_refused: Some(tls),
            client_certs: certs,
            http_auth: auth,
            answered: true,
            fingerprint: Fingerprint::default(),
        }
    }

    #[test]
    fn requirements_follow_the_posture() {
        let all = [Requirement::Tls, Requirement::Mtls, Requirement::Auth];
        let verdicts = |p: &Posture| -> Vec<CheckVerdict> {
            p.requirement_results(&all)
                .iter()
                .map(|r| r.verdict)
                .collect()
        };
        let plain = posture(false, ClientCertPolicy::NotTls, HttpAuth::None);
        assert_eq!(verdicts(&plain), [CheckVerdict::Fail; 3]);
        let any_cert = posture(true, ClientCertPolicy::RequiredNotVerified, HttpAuth::Basic);
        assert_eq!(
            verdicts(&any_cert),
            [CheckVerdict::Pass, CheckVerdict::Fail, CheckVerdict::Pass]
        );
        let mtls = posture(true, ClientCertPolicy::Verified, HttpAuth::Refused(403));
        assert_eq!(verdicts(&mtls), [CheckVerdict::Pass; 3]);
        let mut silent = mtls.clone();
        silent.answered = false;
        assert_eq!(verdicts(&silent), [CheckVerdict::Timeout; 3]);
        assert_eq!("MTLS".parse::<Requirement>(), Ok(Requirement::Mtls));
    }

    #[test]
    fn a_policy_is_claimed_only_from_what_was_observed() {
        use CertAnswer::{Refused, Served, Unknown};
        // Issue 23: our own client refused the server's certificate (a wrong --ca): that
        // is no "required and verified".
        assert_eq!(policy(false, Unknown, Unknown), ClientCertPolicy::Unknown);
        assert_eq!(policy(true, Unknown, Refused), ClientCertPolicy::Unknown);
        // Refused without ever asking for a certificate: not a certificate policy.
        assert_eq!(policy(false, Refused, Refused), ClientCertPolicy::Unknown);
        assert_eq!(policy(false, Served, Unknown), ClientCertPolicy::None);
        assert_eq!(policy(true, Refused, Refused), ClientCertPolicy::Verified);
        assert_eq!(
            policy(true, Refused, Served),
            ClientCertPolicy::RequiredNotVerified
        );
        assert_eq!(
            policy(true, Served, Refused),
            ClientCertPolicy::VerifiedIfGiven
        );
        assert_eq!(
            policy(true, Served, Served),
            ClientCertPolicy::RequestedNotVerified
        );
        let mut p = posture(true, ClientCertPolicy::Unknown, HttpAuth::Basic);
        p.tls_versions = vec!["TLS 1.0", "TLS 1.1", "TLS 1.2", "TLS 1.3"];
        let lines = p.lines().join("; ");
        assert!(
            lines.contains("TLS (TLS 1.0, TLS 1.1, TLS 1.2, TLS 1.3)"),
            "{lines}"
        );
        assert!(lines.contains("client certificates: unknown"), "{lines}");
        p.tls_versions.clear();
        assert!(!p.lines()[0].contains("()"), "{:?}", p.lines());
    }
}

//! What each lab protects, and how `check` enforces it: from the configuration Prometheus
//! loaded, the URL each target was really scraped at, and how the server answers a client
//! that probes it (the conformance posture probe). A set-up that makes the target green by
//! giving up one of these is "not solved: you weakened ...", never solved.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::catalog::{self, Lab, Ports};
use super::diagnose::{self, Finding};
use crate::conformance::posture::{self, ClientCertPolicy, HttpAuth};
use crate::promconfig::{Scheme, ScrapeConfig};

/// A security property a lab protects.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Protected {
    /// Prometheus scrapes over TLS and verifies the server's certificate; the server
    /// refuses plain HTTP.
    VerifiedTls,
    /// The server refuses a request without credentials, and Prometheus sends them.
    Credentials,
    /// The server demands a client certificate and refuses one it cannot verify;
    /// Prometheus presents one.
    ClientCert,
    /// Every scrape goes through the proxy, never around it to the exporter.
    ThroughProxy,
    /// The job reads its token from the file operations rotate: `check` rotates it and
    /// the target stays up.
    SurvivesRotation,
    /// Prometheus keeps one connection over many scrapes (no handshake per scrape).
    KeepAlive,
}

impl Protected {
    /// The property in a few words (`server certificate verification`).
    pub fn label(self) -> &'static str {
        match self {
            Self::VerifiedTls => "TLS with server certificate verification",
            Self::Credentials => "credentials demanded by the server and sent by Prometheus",
            Self::ClientCert => "a client certificate demanded and verified by the exporter",
            Self::ThroughProxy => "every scrape through the proxy",
            Self::SurvivesRotation => "a token that survives its rotation",
            Self::KeepAlive => "one kept-alive connection per target",
        }
    }

    /// What `check` verifies, for the lab's README.
    pub fn rule(self) -> &'static str {
        match self {
            Self::VerifiedTls => {
                "Prometheus scrapes over TLS (`scheme: https`) with certificate verification on \
                 (no `insecure_skip_verify`), and the server refuses plain HTTP."
            }
            Self::Credentials => {
                "the server answers a request without credentials with 401, and the job sends \
                 credentials."
            }
            Self::ClientCert => {
                "the exporter refuses a client without a certificate and a client whose \
                 certificate it cannot verify, and the job presents a certificate."
            }
            Self::ThroughProxy => {
                "every target is scraped at nginx' port, never at the exporter's own port \
                 (whatever `static_configs` or `relabel_configs` say)."
            }
            Self::SurvivesRotation => {
                "`check` writes a new token into the exporter's token file and the target \
                 stays up."
            }
            Self::KeepAlive => "Prometheus opens no new connection over three scrapes.",
        }
    }
}

/// What lab `lab` protects: derived from its reference solution (TLS, auth, client
/// certificate), its proxy, and what it teaches (rotation, keep-alive).
pub(crate) fn of(lab: Lab) -> Vec<Protected> {
    let ports = Ports {
        prometheus: 1,
        exporter: 2,
        proxy: matches!(lab, Lab::ReverseProxy | Lab::Keepalive).then_some(3),
    };
    let reference = catalog::reference_job(lab, &ports);
    let tls = reference.tls_config.as_ref();
    let mut out = Vec::new();
    if reference.scheme == Some(Scheme::Https) {
        out.push(Protected::VerifiedTls);
    }
    if reference.basic_auth.is_some() || reference.authorization.is_some() {
        out.push(Protected::Credentials);
    }
    if tls.is_some_and(|t| t.cert_file.is_some()) {
        out.push(Protected::ClientCert);
    }
    if ports.proxy.is_some() {
        out.push(Protected::ThroughProxy);
    }
    if lab == Lab::BearerRotation {
        out.push(Protected::SurvivesRotation);
    }
    if lab == Lab::Keepalive {
        out.push(Protected::KeepAlive);
    }
    out
}

/// How the server a target was scraped at answers a probing client (every probe with a
/// deadline); `None` where the probe could not tell.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerFacts {
    /// The address probed (the target's, from its scrape URL).
    pub addr: String,
    /// Whether plain HTTP to the port was refused (TLS targets).
    pub plain_http_refused: Option<bool>,
    /// Whether a client without a certificate was refused (TLS targets).
    pub client_cert_required: Option<bool>,
    /// Whether a certificate from an unknown CA was refused (TLS targets).
    pub client_cert_verified: Option<bool>,
    /// Whether a request without credentials was refused (401 or 403).
    pub credentials_demanded: Option<bool>,
}

/// `host:port` of a scrape URL (`https://127.0.0.1:9100/metrics` → `127.0.0.1:9100`).
pub(crate) fn authority(scrape_url: &str) -> Option<&str> {
    let rest = scrape_url.split_once("://")?.1;
    Some(rest.split('/').next().unwrap_or(rest))
}

/// The port of a scrape URL.
fn port(scrape_url: &str) -> Option<u16> {
    authority(scrape_url)?.rsplit_once(':')?.1.parse().ok()
}

/// Probes the server of a target scraped at `scrape_url` as the job's own client would
/// (its CA, server name and client certificate), and as clients it should refuse would:
/// plain HTTP, no client certificate, one from an unknown CA (`unknown_ca`), no
/// credentials.
pub(crate) async fn probe(
    job: &ScrapeConfig,
    scrape_url: &str,
    unknown_ca: (PathBuf, PathBuf),
) -> ServerFacts {
    let Some(addr) = authority(scrape_url) else {
        return ServerFacts::default();
    };
    let mut facts = ServerFacts {
        addr: addr.to_owned(),
        ..ServerFacts::default()
    };
    let Ok(socket) = addr.parse::<SocketAddr>() else {
        return facts; // a host name: the labs scrape addresses only
    };
    let tls = scrape_url.starts_with("https://");
    let t = job.tls_config.as_ref();
    let host = addr.rsplit_once(':').map_or(addr, |(h, _)| h);
    let probe = posture::Probe {
        addr: socket,
        server_name: t
            .and_then(|t| t.server_name.clone())
            .unwrap_or_else(|| host.trim_matches(['[', ']']).to_owned()),
        tls,
        ca: t.and_then(|t| t.ca_file.clone()),
        // Prometheus verified the server already (the target is up); the probes read
        // how the server behaves, also with a certificate rustls would refuse as a CA
        // used as a leaf (what `openssl req -x509` makes and Go accepts).
        verify_server: false,
        client_cert: t.and_then(|t| Some((t.cert_file.clone()?, t.key_file.clone()?))),
        unknown_ca_cert: Some(unknown_ca),
        auth_header: None,
        path: job
            .metrics_path
            .clone()
            .unwrap_or_else(|| "/metrics".into()),
    };
    let seen = posture::probe(&probe).await;
    if !seen.answered {
        return facts;
    }
    if tls {
        facts.plain_http_refused = seen.plain_http_refused;
        let (required, verified) = match seen.client_certs {
            ClientCertPolicy::Verified => (Some(true), Some(true)),
            ClientCertPolicy::RequiredNotVerified => (Some(true), Some(false)),
            ClientCertPolicy::VerifiedIfGiven => (Some(false), Some(true)),
            ClientCertPolicy::RequestedNotVerified | ClientCertPolicy::None => {
                (Some(false), Some(false))
            }
            ClientCertPolicy::NotTls | ClientCertPolicy::Unknown => (None, None),
        };
        facts.client_cert_required = required;
        facts.client_cert_verified = verified;
    }
    facts.credentials_demanded = match seen.http_auth {
        HttpAuth::None => Some(false),
        HttpAuth::Basic | HttpAuth::Bearer | HttpAuth::Refused(401 | 403) => Some(true),
        HttpAuth::Refused(_) | HttpAuth::Unknown(_) => None,
    };
    facts
}

/// A client certificate from a CA no lab knows, written into `dir` once.
pub(crate) fn unknown_ca_cert(dir: &Path) -> std::io::Result<(PathBuf, PathBuf)> {
    let cert = dir.join("probe-unknown-ca.crt");
    let key = dir.join("probe-unknown-ca.key");
    if !(cert.exists() && key.exists()) {
        let made = fake_exporter::pki::self_signed_client().map_err(std::io::Error::other)?;
        std::fs::create_dir_all(dir)?;
        crate::supervise::atomic_write(&key, &made.identity.key_pem)?;
        crate::supervise::atomic_write(&cert, &made.identity.cert_chain_pem)?;
    }
    Ok((cert, key))
}

/// What a target showed that the invariants judge.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Seen<'a> {
    /// The URL Prometheus scraped.
    pub(crate) scrape_url: &'a str,
    /// The server's answers to the probes (`None`: not probed, the target is not up).
    pub(crate) facts: Option<&'a ServerFacts>,
    /// Whether the target stayed up through `check`'s own token rotation (`None`: no
    /// rotation was done).
    pub(crate) up_after_rotation: Option<bool>,
}

/// The weakenings of `protects` that a target of `job` shows: one finding each, with the
/// evidence (what Prometheus loaded, where it scraped, how the server answered); and one
/// `unconfirmed` finding for each property the probes could not confirm (never taken for
/// granted).
pub(crate) fn weakenings(
    subject: &str,
    protects: &[Protected],
    job: &ScrapeConfig,
    seen: Seen<'_>,
    ports: &Ports,
) -> Vec<Finding> {
    let mut out: Vec<Finding> = protects
        .iter()
        .filter(|&&p| unconfirmed(p, seen))
        .map(|p| {
            Finding::new(
                subject,
                "unconfirmed",
                &format!(
                    "the probes of {} got no clear answer",
                    seen.facts.map_or(seen.scrape_url, |f| f.addr.as_str())
                ),
                format!(
                    "not solved yet: `check` could not confirm {} (the server did not answer \
                     its probes in time)",
                    p.label()
                ),
                "run `lab check` again; if it persists, the server's log".into(),
            )
        })
        .collect();
    for &p in protects {
        for (evidence, restore) in given_up(p, job, seen, ports) {
            out.push(Finding::new(
                subject,
                "weakened",
                &evidence,
                format!(
                    "not solved: you weakened {}. This lab protects it: {}",
                    p.label(),
                    p.rule()
                ),
                restore.to_owned(),
            ));
        }
    }
    out
}

/// Whether the probes could not tell whether `p` holds.
fn unconfirmed(p: Protected, seen: Seen<'_>) -> bool {
    let facts = seen.facts;
    match p {
        Protected::VerifiedTls => {
            seen.scrape_url.starts_with("https://")
                && facts.is_none_or(|f| f.plain_http_refused.is_none())
        }
        Protected::Credentials => facts.is_none_or(|f| f.credentials_demanded.is_none()),
        Protected::ClientCert => facts
            .is_none_or(|f| f.client_cert_required.is_none() || f.client_cert_verified.is_none()),
        Protected::ThroughProxy | Protected::SurvivesRotation | Protected::KeepAlive => false,
    }
}

/// How `p` was given up, if it was: `(evidence, what to restore)` for each way.
fn given_up(
    p: Protected,
    job: &ScrapeConfig,
    seen: Seen<'_>,
    ports: &Ports,
) -> Vec<(String, &'static str)> {
    let facts = seen.facts;
    let mut out = Vec::new();
    match p {
        Protected::VerifiedTls => {
            if diagnose::skips_verification(job) {
                out.push((
                    "Prometheus loaded this job with tls_config.insecure_skip_verify: true \
                     (/api/v1/status/config)"
                        .into(),
                    "prometheus.yml: remove tls_config.insecure_skip_verify and make \
                     verification pass",
                ));
            }
            if !seen.scrape_url.starts_with("https://") {
                out.push((
                    format!("Prometheus scraped {} (plain HTTP)", seen.scrape_url),
                    "prometheus.yml: scheme: https, and TLS back on in the server's config \
                     (web-config.yml tls_server_config, or nginx' `listen ... ssl`)",
                ));
            } else if facts.and_then(|f| f.plain_http_refused) == Some(false) {
                out.push((
                    format!("the server at {} also serves plain HTTP", seen.scrape_url),
                    "the server's config: TLS only on that port",
                ));
            }
        }
        Protected::Credentials => {
            let sends = job.basic_auth.is_some() || job.authorization.is_some();
            if facts.and_then(|f| f.credentials_demanded) == Some(false) {
                out.push((
                    format!(
                        "a request without credentials to {} was served",
                        seen.scrape_url
                    ),
                    "the server's users back in place (web-config.yml basic_auth_users or \
                     fake_exporter.bearer_auth, nginx' auth_basic)",
                ));
            } else if !sends {
                out.push((
                    "Prometheus loaded this job without basic_auth or authorization".into(),
                    "prometheus.yml: the job's credentials",
                ));
            }
        }
        Protected::ClientCert => {
            if facts.and_then(|f| f.client_cert_required) == Some(false) {
                out.push((
                    "a client without a certificate was served".into(),
                    "web-config.yml: client_auth_type: RequireAndVerifyClientCert",
                ));
            } else if facts.and_then(|f| f.client_cert_verified) == Some(false) {
                out.push((
                    "a client certificate from an unknown CA was accepted".into(),
                    "web-config.yml: client_auth_type: RequireAndVerifyClientCert and \
                     client_ca_file: the lab's CA",
                ));
            }
        }
        Protected::ThroughProxy => {
            if let Some(proxy) = ports.proxy.filter(|&p| port(seen.scrape_url) != Some(p)) {
                out.push((
                    format!(
                        "Prometheus scraped {}, not nginx' port {proxy}",
                        seen.scrape_url
                    ),
                    "prometheus.yml: scrape nginx' port (static_configs, and no \
                     relabel_configs that change __address__)",
                ));
            }
        }
        Protected::SurvivesRotation => {
            if seen.up_after_rotation == Some(false) {
                out.push((
                    "after `check` wrote a new token into exporter-token, the target went down"
                        .into(),
                    "prometheus.yml: authorization.credentials_file (read on every scrape) \
                     instead of a token written into the file",
                ));
            }
        }
        // Judged from Prometheus' connection counts (the `keepalive` finding).
        Protected::KeepAlive => {}
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lab::catalog::LABS;

    #[test]
    fn every_lab_protects_something_and_the_tls_labs_verification() {
        for info in &LABS {
            let protects = of(info.lab);
            assert!(!protects.is_empty(), "{}", info.name);
            let https = !matches!(info.lab, Lab::BasicAuth401 | Lab::BearerRotation);
            assert_eq!(
                protects.contains(&Protected::VerifiedTls),
                https,
                "{}",
                info.name
            );
        }
        assert_eq!(
            of(Lab::ReverseProxy),
            [
                Protected::VerifiedTls,
                Protected::Credentials,
                Protected::ThroughProxy
            ]
        );
        assert_eq!(
            of(Lab::MtlsClientCert),
            [Protected::VerifiedTls, Protected::ClientCert]
        );
        assert_eq!(
            of(Lab::BearerRotation),
            [Protected::Credentials, Protected::SurvivesRotation]
        );
    }

    #[test]
    fn scrape_urls_give_their_authority_and_port() {
        assert_eq!(
            authority("https://127.0.0.1:9100/metrics"),
            Some("127.0.0.1:9100")
        );
        assert_eq!(port("http://[::1]:8080/metrics"), Some(8080));
        assert_eq!(authority("no scheme"), None);
    }
}

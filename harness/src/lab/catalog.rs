//! The labs: what each teaches, the files it starts from, its hints and its reference
//! solution.
//!
//! Every file is built as a typed value and written by its one writer: `prometheus.yml` as a
//! [`PrometheusConfig`] ([`promconfig::render`]), the exporter's `web-config.yml` as a
//! [`WebConfig`], `nginx.conf` as an [`NginxConfig`]. A lab's reference solution is the
//! value; its fault is an edit of that value ([`break_job`], [`nginx_config`]). The one
//! fault no typed value can hold, `static_configs` indented under `tls_config`, is an edit
//! of the rendered YAML tree ([`misindent_static_configs`]).

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use fake_exporter::{ClientAuthType, PemSource, WebConfig};
use serde_norway::Value;

use super::error::LabError;
use crate::nginx::NginxConfig;
use crate::promconfig::{
    self, Authorization, BasicAuth, GlobalConfig, PromDuration, PrometheusConfig, Scheme,
    ScrapeConfig, TlsConfig,
};

/// One lab.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Lab {
    /// TLS + Basic with learner-made openssl certificates; the `DNS:localhost` trap.
    ClassicTlsBasic,
    /// A 401: a bcrypt hash pasted where the password belongs.
    BasicAuth401,
    /// The job does not trust the CA that signed the exporter's certificate.
    UntrustedCa,
    /// `server_name` names a host the certificate is not for.
    HostnameMismatch,
    /// An expired certificate, rotated without restarting the exporter.
    ExpiredCert,
    /// mTLS: the job presents no client certificate.
    MtlsClientCert,
    /// A Bearer token that was rotated on the exporter.
    BearerRotation,
    /// nginx with TLS + Basic auth in front of an exporter on 127.0.0.1.
    ReverseProxy,
    /// A config Prometheus refuses: `static_configs` indented under `tls_config`.
    ConfigRefused,
    /// A proxy that closes the connection after every response.
    Keepalive,
    /// Build it: a certificate made with openssl, TLS in `web-config.yml`, the job.
    BuildTls,
    /// Build it: TLS + Basic auth (a bcrypt hash made by the learner).
    BuildTlsBasic,
    /// Build it: mTLS (a CA, server and client certificates made with openssl).
    BuildMtls,
}

/// What a lab teaches (for `lab list`, the README, `docs/labs.md` and `docs/teaching-labs.md`).
#[derive(Clone, Copy, Debug)]
pub struct LabInfo {
    /// The lab.
    pub lab: Lab,
    /// Its name on the command line.
    pub name: &'static str,
    /// One line.
    pub title: &'static str,
    /// Minutes a learner typically needs.
    pub minutes: u32,
    /// What the learner must achieve (the README's task; not how).
    pub task: &'static str,
    /// Graded hints, vaguest first.
    pub hints: &'static [&'static str],
    /// The reference solution in words (`lab solution NAME`).
    pub solution: &'static str,
}

/// Every lab, in teaching order.
pub const LABS: [LabInfo; 13] = [
    LabInfo {
        lab: Lab::ClassicTlsBasic,
        name: "classic-tls-basic",
        title: "TLS + Basic auth end to end, with your own openssl certificate",
        minutes: 25,
        task: "The exporter serves TLS with the self-signed certificate `exporter.crt` that a \
               tutorial made for `localhost`, and wants Basic auth. Prometheus scrapes it at \
               127.0.0.1 and the target is red. Make the target green with certificate \
               verification switched ON: Prometheus must really check the exporter's \
               certificate. You may make new certificates with `openssl` (the exporter re-reads \
               its certificate on every connection: no restart needed) and edit `prometheus.yml`.",
        hints: &[
            "Read the target's error on the Targets page: which name or address does Prometheus try to verify, and which names does the certificate hold? `openssl x509 -in exporter.crt -noout -ext subjectAltName` shows them.",
            "A certificate is checked against the host part of the target. An IP address is only matched by an IP entry in subjectAltName, never by DNS:localhost.",
            "Either make a certificate whose subjectAltName also holds IP:127.0.0.1 (openssl req -x509 ... -addext ...), or tell Prometheus which name to verify with a key under tls_config. Turning verification off does not count.",
        ],
        solution: "Regenerate the certificate with an IP SAN, in the lab folder:\n  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 365 \\\n    -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 \\\n    -keyout exporter.key -out exporter.crt\n(alternative: keep the certificate and add `server_name: localhost` under the job's tls_config). Never `insecure_skip_verify: true`.",
    },
    LabInfo {
        lab: Lab::BasicAuth401,
        name: "basic-auth-401",
        title: "A 401 to diagnose: what goes into password_file",
        minutes: 15,
        task: "The exporter wants Basic auth (user `prom`, see `web-config.yml`) and answers \
               Prometheus with 401 Unauthorized. The password of `prom` is `lab-password`. \
               Make the target green without changing the exporter's `web-config.yml`.",
        hints: &[
            "401 means the exporter got credentials and rejected them (or got none). Which user and which password does the job send?",
            "Look at the file the job's basic_auth points to. What kind of string is in it, and what does the exporter compare it with?",
            "web-config.yml holds bcrypt hashes; Prometheus must send the plain password. The file should hold the password itself.",
        ],
        solution: "Write the plain password into the job's password_file: `printf lab-password > password.txt` (Prometheus re-reads it on every scrape).",
    },
    LabInfo {
        lab: Lab::UntrustedCa,
        name: "untrusted-ca",
        title: "Unknown authority: trust the right CA",
        minutes: 10,
        task: "The exporter serves a certificate issued by the lab's own CA (files in `pki/`). \
               Prometheus does not accept it. Make the target green with verification on.",
        hints: &[
            "\"certificate signed by unknown authority\": Prometheus could not chain the certificate to a CA it trusts. Which CAs does the job trust?",
            "Without tls_config.ca_file Prometheus trusts only the system's CAs. pki/README.txt says which file is the CA that signed server.crt.",
            "Point the job's tls_config.ca_file at pki/ca.crt.",
        ],
        solution: "Add `tls_config: {ca_file: pki/ca.crt}` to the job.",
    },
    LabInfo {
        lab: Lab::HostnameMismatch,
        name: "hostname-mismatch",
        title: "Hostname mismatch: the name Prometheus verifies",
        minutes: 10,
        task: "The exporter's certificate is fine and trusted, yet Prometheus refuses it. Make \
               the target green with verification on and without changing the certificate.",
        hints: &[
            "The error says which name the certificate is valid for and which one Prometheus wanted.",
            "Prometheus verifies the target's host, unless the job tells it to verify another name. Look through the job's tls_config.",
            "server_name must be a name in the certificate (localhost), or be removed so the IP address is checked.",
        ],
        solution: "Remove `server_name: exporter.example.com` from the job's tls_config (or set it to `localhost`).",
    },
    LabInfo {
        lab: Lab::ExpiredCert,
        name: "expired-cert",
        title: "Expired certificate: rotate it without restarting the exporter",
        minutes: 10,
        task: "The exporter's certificate (`exporter/server.crt`) has expired. Your CA has \
               already issued a new one (it is somewhere in `pki/`). Put it in place without \
               restarting the exporter: it re-reads its certificate on every new connection.",
        hints: &[
            "\"certificate has expired\": look at the dates with `openssl x509 -in exporter/server.crt -noout -dates`.",
            "web-config.yml says which files the exporter serves. Compare their dates with the certificates in pki/.",
            "Copy pki/server.crt and pki/server.key over exporter/server.crt and exporter/server.key.",
        ],
        solution: "cp pki/server.key exporter/server.key && cp pki/server.crt exporter/server.crt (no restart: the next handshake uses them).",
    },
    LabInfo {
        lab: Lab::MtlsClientCert,
        name: "mtls-client-cert",
        title: "mTLS: the exporter wants a client certificate",
        minutes: 15,
        task: "The exporter demands a client certificate signed by the lab CA \
               (`client_auth_type` in `web-config.yml`). Make the target green; the exporter \
               stays as it is.",
        hints: &[
            "The exporter ends the handshake because the client did not prove who it is.",
            "A job presents a client certificate with two keys under tls_config. pki/README.txt lists the client identity.",
            "Add cert_file: pki/client.crt and key_file: pki/client.key to the job's tls_config.",
        ],
        solution: "Under the job's tls_config add `cert_file: pki/client.crt` and `key_file: pki/client.key`.",
    },
    LabInfo {
        lab: Lab::BearerRotation,
        name: "bearer-rotation",
        title: "A Bearer token that gets rotated",
        minutes: 10,
        task: "The exporter accepts the Bearer token in its file `exporter-token`, which \
               operations rotate regularly (it was rotated this morning). Make the target green \
               in a way that survives the next rotation without touching prometheus.yml again.",
        hints: &[
            "401: the token Prometheus sends is not the one in exporter-token any more.",
            "A token written into prometheus.yml is frozen there. Prometheus can read the token from a file instead, on every scrape.",
            "Replace authorization.credentials with authorization.credentials_file pointing at exporter-token.",
        ],
        solution: "In the job: `authorization: {type: Bearer, credentials_file: exporter-token}` (re-read on every scrape, so rotations need no reload).",
    },
    LabInfo {
        lab: Lab::ReverseProxy,
        name: "reverse-proxy",
        title: "Reverse proxy: nginx with TLS + Basic auth in front of a local exporter",
        minutes: 20,
        task: "The exporter listens on 127.0.0.1 only and speaks plain HTTP; a real nginx \
               (`nginx.conf`) in front of it adds TLS and Basic auth. Prometheus must scrape \
               through nginx, with TLS verified and credentials sent. Make the target green.",
        hints: &[
            "nginx answers 400 Bad Request. What does nginx expect on that port, and what does the job send?",
            "Compare the job's scheme with the `listen ... ssl` line of nginx.conf.",
            "Set the job's scheme to https (the job already trusts pki/ca.crt and sends Basic auth).",
        ],
        solution: "Set `scheme: https` in the job (keep scraping nginx's port, never the exporter's).",
    },
    LabInfo {
        lab: Lab::ConfigRefused,
        name: "config-refused",
        title: "A config Prometheus refuses",
        minutes: 10,
        task: "Prometheus refuses this `prometheus.yml`: none of it is applied. Make \
               Prometheus accept the file and scrape the exporter (TLS, CA in `pki/ca.crt`).",
        hints: &[
            "Run `promtool check config prometheus.yml`: it names a line and a field.",
            "In YAML, indentation decides which section a key belongs to. Which section is static_configs in now?",
            "static_configs belongs to the job, at the same indentation as tls_config, not inside it.",
        ],
        solution: "Indent `static_configs:` like `tls_config:` (a key of the job, not of tls_config).",
    },
    LabInfo {
        lab: Lab::Keepalive,
        name: "keepalive",
        title: "Keep-alive: a handshake on every scrape",
        minutes: 20,
        task: "The target is green, but every scrape costs a new TCP connection and a full TLS \
               handshake. Find out where the connection is closed and fix it, so that \
               Prometheus keeps reusing one connection. Watch \
               `net_conntrack_dialer_conn_established_total` in Prometheus.",
        hints: &[
            "Query `net_conntrack_dialer_conn_established_total` in Prometheus and compare it with the number of scrapes. Prometheus itself keeps connections open; something else closes them.",
            "nginx sits between Prometheus and the exporter. Which nginx setting controls how long a client connection stays open after a response?",
            "keepalive_timeout 0 disables client keep-alive. Give it a value longer than the scrape interval.",
        ],
        solution: "In nginx.conf set `keepalive_timeout 65s;` (any value above the scrape interval); `lab check` reloads nginx.",
    },
    LabInfo {
        lab: Lab::BuildTls,
        name: "build-tls",
        title: "Build it: TLS from scratch, with your own openssl certificate",
        minutes: 25,
        task: "This folder is almost empty: the exporter waits for its `web-config.yml` and \
               Prometheus has no job. Follow the tutorial path: make a certificate and its key \
               with `openssl` (named `exporter.crt` and `exporter.key`), switch TLS on in the \
               exporter's `web-config.yml`, and add a job to `prometheus.yml` that scrapes the \
               exporter at 127.0.0.1 over https with certificate verification ON (the job \
               trusts your certificate). `lab check` (re)starts the exporter with your \
               `web-config.yml`, as you would restart node_exporter.",
        hints: &[
            "Run `lab check` after each step: it says what is still missing (the exporter's config, the job) and what Prometheus answers.",
            "The exporter's web-config.yml needs a tls_server_config with cert_file and key_file; the job needs scheme: https and a tls_config whose ca_file is the certificate Prometheus should trust.",
            "Prometheus scrapes 127.0.0.1: the certificate's subjectAltName must hold IP:127.0.0.1 (openssl req -x509 ... -addext subjectAltName=DNS:localhost,IP:127.0.0.1). A self-signed certificate is its own CA.",
        ],
        solution: "In the lab folder:\n  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 365 \\\n    -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 \\\n    -keyout exporter.key -out exporter.crt\nweb-config.yml: `tls_server_config: {cert_file: exporter.crt, key_file: exporter.key}`.\nprometheus.yml: a job `node` with `scheme: https`, `tls_config: {ca_file: exporter.crt}` and the exporter's address as its target.",
    },
    LabInfo {
        lab: Lab::BuildTlsBasic,
        name: "build-tls-basic",
        title: "Build it: TLS + Basic auth from scratch",
        minutes: 30,
        task: "This folder is almost empty. Follow the tutorial path: make a certificate and \
               its key with `openssl` (`exporter.crt`, `exporter.key`), make a bcrypt hash of \
               the password `lab-password` for the user `prom`, write the exporter's \
               `web-config.yml` (TLS and that user), and add a job to `prometheus.yml` that \
               scrapes the exporter at 127.0.0.1 over https with verification ON and sends \
               the user and password (the password from a file, `password.txt`). `lab check` \
               (re)starts the exporter with your `web-config.yml`.",
        hints: &[
            "Run `lab check` after each step: it says what is still missing and what Prometheus answers.",
            "web-config.yml holds the bcrypt hash under basic_auth_users; prometheus.yml sends the plain password with basic_auth (username, password_file). A hash: `htpasswd -nbBC 10 prom lab-password` prints `prom:<hash>`.",
            "The certificate needs IP:127.0.0.1 in its subjectAltName; the job trusts it with tls_config.ca_file; password.txt holds `lab-password`, not the hash.",
        ],
        solution: "As build-tls (openssl req -x509 ... -addext subjectAltName=DNS:localhost,IP:127.0.0.1), then\n  htpasswd -nbBC 10 prom lab-password   # prom:<hash>\nweb-config.yml: tls_server_config as in build-tls and `basic_auth_users: {prom: <hash>}`.\n  printf lab-password > password.txt\nprometheus.yml: the https job with `tls_config: {ca_file: exporter.crt}` and `basic_auth: {username: prom, password_file: password.txt}`.",
    },
    LabInfo {
        lab: Lab::BuildMtls,
        name: "build-mtls",
        title: "Build it: mTLS from scratch, with your own CA",
        minutes: 35,
        task: "This folder is almost empty. Follow the tutorial path for mutual TLS: make your \
               own CA with `openssl` (`ca.crt`, `ca.key`), a server certificate for the \
               exporter signed by it (`server.crt`, `server.key`) and a client certificate for \
               Prometheus signed by it (`client.crt`, `client.key`). Write the exporter's \
               `web-config.yml` so that it serves TLS and demands and verifies a client \
               certificate from your CA, and add a job to `prometheus.yml` that scrapes the \
               exporter at 127.0.0.1 over https, verifies the server with your CA and presents \
               the client certificate. `lab check` (re)starts the exporter with your \
               `web-config.yml`.",
        hints: &[
            "Run `lab check` after each step: it says what is still missing and what Prometheus answers.",
            "Three openssl steps: a self-signed CA (req -x509), then for the server and the client a key and a request (req -new) signed by the CA (x509 -req -CA ca.crt -CAkey ca.key). web-config.yml: client_auth_type and client_ca_file; the job: ca_file, cert_file, key_file.",
            "The server certificate needs subjectAltName IP:127.0.0.1, the client certificate extendedKeyUsage=clientAuth (add them to the request with -addext and copy them with `x509 -req -copy_extensions copy`); client_auth_type: RequireAndVerifyClientCert with client_ca_file: ca.crt.",
        ],
        solution: "In the lab folder:\n  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 365 -subj /CN=lab-ca -keyout ca.key -out ca.crt\n  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout server.key -out server.csr\n  openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 365 -copy_extensions copy -out server.crt\n  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=prometheus -addext extendedKeyUsage=clientAuth -keyout client.key -out client.csr\n  openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 365 -copy_extensions copy -out client.crt\nweb-config.yml: `tls_server_config: {cert_file: server.crt, key_file: server.key, client_auth_type: RequireAndVerifyClientCert, client_ca_file: ca.crt}`.\nprometheus.yml: the https job with `tls_config: {ca_file: ca.crt, cert_file: client.crt, key_file: client.key}`.",
    },
];

impl Lab {
    /// The catalog entry.
    pub fn info(self) -> &'static LabInfo {
        LABS.iter()
            .find(|i| i.lab == self)
            .expect("every Lab has one LABS entry")
    }

    /// The name on the command line.
    pub fn name(self) -> &'static str {
        self.info().name
    }

    /// Whether the lab puts nginx in front of the exporter.
    pub(crate) fn has_proxy(self) -> bool {
        matches!(self, Self::ReverseProxy | Self::Keepalive)
    }

    /// Whether the learner builds the set-up from an (almost) empty folder: no job, no
    /// `web-config.yml` at start; `check` (re)starts the exporter with the learner's one.
    pub fn is_build_it(self) -> bool {
        matches!(self, Self::BuildTls | Self::BuildTlsBasic | Self::BuildMtls)
    }
}

impl fmt::Display for Lab {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Lab {
    type Err = LabError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        LABS.iter()
            .find(|i| i.name == s)
            .map(|i| i.lab)
            .ok_or_else(|| LabError::UnknownLab {
                name: s.to_owned(),
                known: LABS.iter().map(|i| i.name).collect::<Vec<_>>().join(", "),
            })
    }
}

/// The plain password of user `prom` in every lab with Basic auth.
pub(crate) const PASSWORD: &str = "lab-password";
/// The token Prometheus still sends in the bearer lab (rotated away).
pub(crate) const OLD_TOKEN: &str = "lab-token-2025-11-a";
/// The token the exporter accepts now.
pub(crate) const NEW_TOKEN: &str = "lab-token-2025-11-b";
/// The name the hostname lab verifies by mistake.
pub(crate) const WRONG_SERVER_NAME: &str = "exporter.example.com";

/// Ports of one lab.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct Ports {
    /// Prometheus' web port.
    pub(crate) prometheus: u16,
    /// The exporter's port.
    pub(crate) exporter: u16,
    /// nginx' port, in the proxy labs.
    pub(crate) proxy: Option<u16>,
}

impl Ports {
    /// The port Prometheus is meant to scrape.
    pub(crate) fn scraped(&self) -> u16 {
        self.proxy.unwrap_or(self.exporter)
    }
}

/// Whether a template is the lab's starting point or its reference solution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Variant {
    /// As the learner gets it.
    Broken,
    /// The reference solution.
    Fixed,
}

/// Scrape interval and timeout of every lab.
const INTERVAL: PromDuration = PromDuration::from_secs(2);

/// The comment on top of every lab's `prometheus.yml`.
const PROMETHEUS_YML_HEADER: &str = "\
# The Prometheus of this lab (its address is in README.md).
# Edit this file, then run `scrape-harness lab check` in this folder: it checks the
# file with promtool and reloads Prometheus with it. Relative paths are relative to
# this file.
";

/// The end of a build-it lab's `prometheus.yml` as the learner gets it.
const BUILD_IT_JOB_COMMENT: &str = "\
# Your job goes here (see README.md), under:
# scrape_configs:
";

/// The comment on top of every lab's `web-config.yml`.
const WEB_CONFIG_HEADER: &str = "\
# The exporter's web config (exporter-toolkit format, as node_exporter reads it).
# The exporter re-reads it, and its certificate files, on every connection.
# (`fake_exporter.bearer_auth` is a fake-exporter extension: exporter-toolkit has none.)
";

/// The comment on top of the `prometheus.yml` Prometheus runs while the learner's is refused.
const PLACEHOLDER_HEADER: &str = "\
# prometheus.yml was refused by promtool; `scrape-harness lab check` explains why.
";

/// The global block of every lab.
fn global() -> GlobalConfig {
    GlobalConfig {
        scrape_interval: Some(INTERVAL),
        scrape_timeout: Some(INTERVAL),
        ..GlobalConfig::default()
    }
}

fn ca(ca_file: &str) -> Option<TlsConfig> {
    Some(TlsConfig {
        ca_file: Some(ca_file.into()),
        ..TlsConfig::default()
    })
}

fn basic_auth() -> Option<BasicAuth> {
    Some(BasicAuth {
        username: "prom".into(),
        password: None,
        password_file: Some("password.txt".into()),
    })
}

/// `tls` presenting the client certificate `<stem>.crt` with its key `<stem>.key`.
fn with_client_cert(mut tls: Option<TlsConfig>, stem: &str) -> Option<TlsConfig> {
    if let Some(t) = tls.as_mut() {
        t.cert_file = Some(format!("{stem}.crt").into());
        t.key_file = Some(format!("{stem}.key").into());
    }
    tls
}

/// The lab's job as its reference solution has it.
pub(crate) fn reference_job(lab: Lab, ports: &Ports) -> ScrapeConfig {
    let target = SocketAddr::from((Ipv4Addr::LOCALHOST, ports.scraped()));
    let mut job = ScrapeConfig::new("node", [target.to_string()]);
    let https = !matches!(lab, Lab::BasicAuth401 | Lab::BearerRotation);
    job.scheme = https.then_some(Scheme::Https);
    job.tls_config = match lab {
        // The self-signed certificate is its own CA.
        Lab::ClassicTlsBasic | Lab::BuildTls | Lab::BuildTlsBasic => ca("exporter.crt"),
        Lab::BasicAuth401 | Lab::BearerRotation => None,
        Lab::MtlsClientCert => with_client_cert(ca("pki/ca.crt"), "pki/client"),
        Lab::BuildMtls => with_client_cert(ca("ca.crt"), "client"),
        _ => ca("pki/ca.crt"),
    };
    if matches!(
        lab,
        Lab::ClassicTlsBasic | Lab::BasicAuth401 | Lab::ReverseProxy | Lab::BuildTlsBasic
    ) {
        job.basic_auth = basic_auth();
    }
    if lab == Lab::BearerRotation {
        job.authorization = Some(Authorization {
            auth_type: Some("Bearer".into()),
            credentials: None,
            credentials_file: Some("exporter-token".into()),
        });
    }
    job
}

/// The lab's fault, as an edit of its reference job (labs whose fault is elsewhere: none).
fn break_job(lab: Lab, job: &mut ScrapeConfig) {
    match lab {
        Lab::UntrustedCa => job.tls_config = None,
        Lab::HostnameMismatch => {
            if let Some(tls) = job.tls_config.as_mut() {
                tls.server_name = Some(WRONG_SERVER_NAME.into());
            }
        }
        Lab::MtlsClientCert => {
            if let Some(tls) = job.tls_config.as_mut() {
                tls.cert_file = None;
                tls.key_file = None;
            }
        }
        Lab::BearerRotation => {
            job.authorization = Some(Authorization {
                auth_type: Some("Bearer".into()),
                credentials: Some(OLD_TOKEN.into()),
                credentials_file: None,
            });
        }
        Lab::ReverseProxy => job.scheme = Some(Scheme::Http),
        // The config-refused fault cannot be a typed value: see `misindent_static_configs`.
        Lab::ConfigRefused
        | Lab::ClassicTlsBasic
        | Lab::BasicAuth401
        | Lab::ExpiredCert
        | Lab::Keepalive => {}
        // A build-it lab starts with no job at all: see `prometheus_config`.
        Lab::BuildTls | Lab::BuildTlsBasic | Lab::BuildMtls => {}
    }
}

/// The lab's Prometheus configuration (for config-refused's broken variant: before the
/// fault, which [`prometheus_yml`] applies to the YAML tree).
pub(crate) fn prometheus_config(lab: Lab, ports: &Ports, variant: Variant) -> PrometheusConfig {
    if lab.is_build_it() && variant == Variant::Broken {
        // The learner writes the job.
        return PrometheusConfig {
            global: Some(global()),
            ..PrometheusConfig::default()
        };
    }
    let mut job = reference_job(lab, ports);
    if variant == Variant::Broken {
        break_job(lab, &mut job);
    }
    PrometheusConfig {
        global: Some(global()),
        ..PrometheusConfig::with_jobs([job])
    }
}

/// The lab's `prometheus.yml`.
pub(crate) fn prometheus_yml(lab: Lab, ports: &Ports, variant: Variant) -> String {
    let config = prometheus_config(lab, ports, variant);
    let body = if lab == Lab::ConfigRefused && variant == Variant::Broken {
        misindent_static_configs(&config)
    } else {
        promconfig::render(&config)
    };
    let mut text = PROMETHEUS_YML_HEADER.to_owned();
    text.push_str(&body);
    if lab.is_build_it() && variant == Variant::Broken {
        text.push_str(BUILD_IT_JOB_COMMENT);
    }
    text
}

/// config-refused's fault: the YAML tree of `config` with the first job's `static_configs`
/// moved under its `tls_config` (one indentation level too deep), which Prometheus refuses
/// ("field static_configs not found in type config.TLSConfig").
fn misindent_static_configs(config: &PrometheusConfig) -> String {
    // Invariant: a PrometheusConfig is plain YAML data (see `promconfig::render`).
    let mut tree = serde_norway::to_value(config).expect("PrometheusConfig serialises");
    if let Some(Value::Mapping(job)) = tree
        .get_mut("scrape_configs")
        .and_then(|jobs| jobs.get_mut(0))
    {
        let statics = job.remove("static_configs").unwrap_or(Value::Null);
        if let Some(Value::Mapping(tls)) = job.get_mut("tls_config") {
            tls.insert("static_configs".into(), statics);
        }
    }
    serde_norway::to_string(&tree).expect("a YAML tree serialises")
}

/// What Prometheus runs while the learner's `prometheus.yml` is refused: no job.
pub(crate) fn placeholder_yml() -> String {
    let mut text = PLACEHOLDER_HEADER.to_owned();
    text.push_str(&promconfig::render(&PrometheusConfig {
        global: Some(global()),
        ..PrometheusConfig::default()
    }));
    text
}

/// The exporter's web config (`hash`: bcrypt of [`PASSWORD`]). Paths are relative to the
/// file, as a learner reads them.
pub(crate) fn web_config(lab: Lab, hash: &str) -> Result<WebConfig, LabError> {
    let server = |cert: &str, key: &str| {
        WebConfig::builder()
            .cert(PemSource::file(cert))
            .key(PemSource::file(key))
    };
    let builder = match lab {
        Lab::ClassicTlsBasic | Lab::BuildTlsBasic => {
            server("exporter.crt", "exporter.key").basic_auth_user("prom", hash)
        }
        Lab::BuildTls => server("exporter.crt", "exporter.key"),
        Lab::BuildMtls => server("server.crt", "server.key")
            .client_auth(ClientAuthType::RequireAndVerifyClientCert)
            .client_ca(PemSource::file("ca.crt")),
        Lab::BasicAuth401 => WebConfig::builder().basic_auth_user("prom", hash),
        Lab::UntrustedCa | Lab::HostnameMismatch | Lab::ConfigRefused => {
            server("pki/server.crt", "pki/server.key")
        }
        Lab::ExpiredCert => server("exporter/server.crt", "exporter/server.key"),
        Lab::MtlsClientCert => server("pki/server.crt", "pki/server.key")
            .client_auth(ClientAuthType::RequireAndVerifyClientCert)
            .client_ca(PemSource::file("pki/ca.crt")),
        Lab::BearerRotation => WebConfig::builder().bearer_token_file("exporter-token"),
        // Plain HTTP on 127.0.0.1: nginx in front does TLS (and auth).
        Lab::ReverseProxy | Lab::Keepalive => WebConfig::builder(),
    };
    Ok(builder.build()?)
}

/// The exporter's `web-config.yml`.
pub(crate) fn web_config_yml(lab: Lab, hash: &str) -> Result<String, LabError> {
    let mut text = WEB_CONFIG_HEADER.to_owned();
    text.push_str(&web_config(lab, hash)?.to_yaml());
    Ok(text)
}

/// nginx' prefix in a lab folder: pid, logs and temp files.
pub(crate) fn nginx_prefix(dir: &Path) -> PathBuf {
    dir.join(super::state::PRIVATE).join("nginx")
}

/// nginx of the proxy labs: TLS (and, in reverse-proxy, Basic auth from `<dir>/htpasswd`)
/// in front of the exporter, a master process that reloads on SIGHUP. Absolute paths:
/// nginx resolves relative ones against its prefix, not the file. `run_as_root`: workers
/// run as root (they read the lab folder, which may be private to its owner). keepalive's
/// fault: client keep-alive off.
pub(crate) fn nginx_config(
    lab: Lab,
    dir: &Path,
    ports: &Ports,
    variant: Variant,
    hash: &str,
    run_as_root: bool,
) -> NginxConfig {
    let loopback = |port| SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut config = NginxConfig::new(
        loopback(ports.proxy.unwrap_or_default()),
        loopback(ports.exporter),
    );
    config.tls = Some((dir.join("pki/server.crt"), dir.join("pki/server.key")));
    if lab == Lab::ReverseProxy {
        config.basic_auth_users = vec![("prom".into(), hash.to_owned())];
        config.htpasswd_file = Some(dir.join("htpasswd"));
    }
    config.keepalive_timeout = Duration::from_secs(65);
    if lab == Lab::Keepalive && variant == Variant::Broken {
        config.keepalive_timeout = Duration::ZERO;
    }
    config.master_process = true;
    config.worker_user = run_as_root.then(|| "root".to_owned());
    config.access_log = true;
    config.comment = Some(vec![
        format!(
            "nginx of lab `{lab}`: TLS in front of the exporter on {}.",
            config.upstream
        ),
        "`scrape-harness lab check` tests this file (nginx -t) and reloads nginx with it.".into(),
    ]);
    config
}

/// The lab's `nginx.conf`.
pub(crate) fn nginx_conf(config: &NginxConfig, dir: &Path) -> String {
    config.render(&nginx_prefix(dir))
}

/// A build-it lab's README section: the tutorial path step by step (what to make, with
/// which tool, in which file), not the answers; empty for the other labs.
fn tutorial_path(lab: Lab) -> String {
    let (certs, server, job) = match lab {
        Lab::BuildTls => (
            "a self-signed certificate and its key with `openssl req -x509 -newkey ... -nodes \
             -keyout exporter.key -out exporter.crt -subj /CN=... -addext \
             \"subjectAltName=...\"` (the subjectAltName must match the address Prometheus \
             scrapes)",
            "`tls_server_config` with `cert_file` and `key_file`",
            "`scheme: https`, `tls_config` with the `ca_file` Prometheus trusts, and the \
             exporter's address under `static_configs`",
        ),
        Lab::BuildTlsBasic => (
            "a self-signed certificate and its key with `openssl req -x509 -newkey ... -nodes \
             -keyout exporter.key -out exporter.crt -subj /CN=... -addext \
             \"subjectAltName=...\"` (the subjectAltName must match the address Prometheus \
             scrapes); then a bcrypt hash of the password: on this machine `htpasswd -nbBC 10 \
             USER PASSWORD` (apache2-utils) prints `USER:HASH` (Python's `bcrypt` module, which \
             some tutorials use, is not installed here)",
            "`tls_server_config` with `cert_file` and `key_file`, and `basic_auth_users` \
             (user → bcrypt hash)",
            "`scheme: https`, `tls_config` with the `ca_file` Prometheus trusts, `basic_auth` \
             with `username` and `password_file` (the plain password, in `password.txt`), and \
             the exporter's address under `static_configs`",
        ),
        Lab::BuildMtls => (
            "a CA (`openssl req -x509 ... -keyout ca.key -out ca.crt`), then for the server and \
             for the client a key and a certificate request (`openssl req -new ...`) signed by \
             that CA (`openssl x509 -req -in X.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
             ...`); the server's certificate must match the address Prometheus scrapes, the \
             client's must be fit for client authentication",
            "`tls_server_config` with `cert_file`, `key_file`, `client_auth_type` and \
             `client_ca_file`",
            "`scheme: https`, `tls_config` with `ca_file`, `cert_file` and `key_file`, and the \
             exporter's address under `static_configs`",
        ),
        _ => return String::new(),
    };
    format!(
        "## The tutorial path\n\n\
         1. Make {certs}.\n\
         2. Write the exporter's `web-config.yml` (exporter-toolkit format, as node_exporter \
         reads it; paths relative to the file): {server}. Until it exists the exporter does \
         not run; `lab check` starts it with your file, and restarts it when the file changed \
         (a file the exporter refuses is named with the exporter's own error).\n\
         3. Add the job to `prometheus.yml` under `scrape_configs`: {job}.\n\
         4. Run `scrape-harness lab check` and open the Targets page.\n\n"
    )
}

/// The lab's README.md.
pub(crate) fn readme(info: &LabInfo, dir: &Path, ports: &Ports) -> String {
    let files = match info.lab {
        Lab::ReverseProxy | Lab::Keepalive => {
            "`prometheus.yml`, `nginx.conf`, `web-config.yml` (the exporter), `pki/` (CA, server and client certificates; see pki/README.txt)"
        }
        Lab::ClassicTlsBasic => {
            "`prometheus.yml`, `web-config.yml` (the exporter), `exporter.crt` / `exporter.key`, `password.txt`"
        }
        Lab::BasicAuth401 => "`prometheus.yml`, `web-config.yml` (the exporter), `password.txt`",
        Lab::BearerRotation => "`prometheus.yml`, `web-config.yml` (the exporter), `exporter-token`",
        Lab::BuildTls | Lab::BuildTlsBasic | Lab::BuildMtls => {
            "`prometheus.yml`, and every file you make here: `web-config.yml` (the exporter), certificates and keys, `password.txt`"
        }
        _ => "`prometheus.yml`, `web-config.yml` (the exporter), `pki/` (CA, server and client certificates; see pki/README.txt)",
    };
    let proxy = ports
        .proxy
        .map(|p| format!("- nginx: 127.0.0.1:{p} (in front of the exporter)\n"))
        .unwrap_or_default();
    format!(
        "# Lab: {title}\n\n## Your task\n\n{task}\n\n\
         {path}## What this lab protects\n\n{protects}\n\
         `lab check` verifies each of these from what Prometheus loaded and how the servers \
         answer; a green target that gives one up is \"not solved: you weakened ...\".\n\n\
         ## What runs\n\n\
         - Prometheus: http://127.0.0.1:{prom}/targets (open the Targets page)\n\
         - the exporter: 127.0.0.1:{exporter}\n{proxy}\n\
         Files you may edit: {files}.\n\n\
         ## Commands (in this folder, or with `--dir {dir}`)\n\n\
         ```sh\n\
         scrape-harness lab check    # applies your files and says what is still wrong (exit 0: solved)\n\
         scrape-harness lab check --html report.html   # the same, as a page to hand in\n\
         scrape-harness lab hint     # one more hint each time\n\
         scrape-harness lab stop     # stops everything this lab started\n\
         ```\n\n\
         Useful: `curl`, `openssl x509 -in FILE -noout -text`, `promtool check config prometheus.yml`.\n\
         Expected time: about {minutes} minutes.\n",
        title = info.title,
        task = info.task,
        path = tutorial_path(info.lab),
        protects = super::protects::of(info.lab)
            .iter()
            .map(|p| format!("- {}: {}\n", p.label(), p.rule()))
            .collect::<String>(),
        prom = ports.prometheus,
        exporter = ports.exporter,
        dir = dir.display(),
        minutes = info.minutes,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_parse_back() {
        for info in &LABS {
            assert_eq!(info.name.parse::<Lab>().unwrap(), info.lab);
            assert_eq!(info.lab.info().name, info.name);
            assert_eq!(info.hints.len(), 3, "{}", info.name);
        }
        let err = "nope".parse::<Lab>().unwrap_err().to_string();
        assert!(err.contains("classic-tls-basic"), "{err}");
    }

    fn ports() -> Ports {
        Ports {
            prometheus: 1,
            exporter: 2,
            proxy: Some(3),
        }
    }

    #[test]
    fn each_fault_is_an_edit_of_the_reference_and_parses_back() {
        let ports = ports();
        for info in &LABS {
            let broken = prometheus_config(info.lab, &ports, Variant::Broken);
            let fixed = prometheus_config(info.lab, &ports, Variant::Fixed);
            let fault_in_job = matches!(
                info.lab,
                Lab::UntrustedCa
                    | Lab::HostnameMismatch
                    | Lab::MtlsClientCert
                    | Lab::BearerRotation
                    | Lab::ReverseProxy
            ) || info.lab.is_build_it();
            assert_eq!(broken != fixed, fault_in_job, "{}", info.name);
            if info.lab.is_build_it() {
                assert!(broken.scrape_configs.is_empty(), "{}: no job", info.name);
            }
            for (variant, config) in [(Variant::Fixed, &fixed), (Variant::Broken, &broken)] {
                if info.lab == Lab::ConfigRefused && variant == Variant::Broken {
                    continue;
                }
                let text = prometheus_yml(info.lab, &ports, variant);
                let back: PrometheusConfig = serde_norway::from_str(&text).unwrap();
                assert_eq!(&back, config, "{} {variant:?}:\n{text}", info.name);
            }
        }
    }

    #[test]
    fn web_configs_parse_back_as_the_exporter_reads_them() {
        let dir = Path::new("/labs/x");
        for info in &LABS {
            let text = web_config_yml(info.lab, "$2y$10$hash").unwrap();
            let parsed = WebConfig::from_yaml_str(&text, &dir.join("web-config.yml")).unwrap();
            let tls = parsed.tls_server_config.is_some();
            let plain = matches!(
                info.lab,
                Lab::BasicAuth401 | Lab::BearerRotation | Lab::ReverseProxy | Lab::Keepalive
            );
            assert_eq!(tls, !plain, "{}:\n{text}", info.name);
        }
        let mtls = web_config_yml(Lab::MtlsClientCert, "h").unwrap();
        assert!(
            mtls.contains("client_auth_type: RequireAndVerifyClientCert"),
            "{mtls}"
        );
        assert!(mtls.contains("client_ca_file: pki/ca.crt"), "{mtls}");
    }

    #[test]
    fn a_build_it_lab_starts_with_no_job_and_a_readme_with_the_tutorial_path() {
        for lab in [Lab::BuildTls, Lab::BuildTlsBasic, Lab::BuildMtls] {
            let text = prometheus_yml(lab, &ports(), Variant::Broken);
            let config: PrometheusConfig = serde_norway::from_str(&text).unwrap();
            assert!(config.scrape_configs.is_empty(), "{lab}:\n{text}");
            assert!(text.contains("# Your job goes here"), "{lab}:\n{text}");
            let readme = readme(lab.info(), Path::new("/labs/b"), &ports());
            for part in [
                "## The tutorial path",
                "openssl",
                "web-config.yml",
                "## What this lab protects",
                "TLS with server certificate verification",
                "the exporter: 127.0.0.1:2",
            ] {
                assert!(readme.contains(part), "{lab}: no {part:?}:\n{readme}");
            }
            // The README names the way, not the answer.
            assert!(!readme.contains("IP:127.0.0.1"), "{lab}:\n{readme}");
        }
        let basic = readme(Lab::BuildTlsBasic.info(), Path::new("/b"), &ports());
        assert!(basic.contains("htpasswd -nbBC 10"), "{basic}");
    }

    #[test]
    fn keepalive_s_fault_turns_client_keepalive_off() {
        let dir = Path::new("/labs/k");
        let conf = |variant| {
            let config = nginx_config(Lab::Keepalive, dir, &ports(), variant, "h", true);
            nginx_conf(&config, dir)
        };
        let (broken, fixed) = (conf(Variant::Broken), conf(Variant::Fixed));
        assert!(broken.contains("\n    keepalive_timeout 0;\n"), "{broken}");
        assert!(fixed.contains("\n    keepalive_timeout 65s;\n"), "{fixed}");
        for line in [
            "user root root;",
            "master_process on;",
            "pid /labs/k/.lab/nginx/nginx.pid;",
            "listen 127.0.0.1:3 ssl;",
            "ssl_certificate /labs/k/pki/server.crt;",
            "server 127.0.0.1:2;",
        ] {
            assert!(fixed.contains(line), "missing {line:?}:\n{fixed}");
        }
        assert!(!fixed.contains("auth_basic"), "{fixed}");
        let proxy = nginx_config(
            Lab::ReverseProxy,
            dir,
            &ports(),
            Variant::Broken,
            "h",
            false,
        );
        let text = nginx_conf(&proxy, dir);
        assert!(
            text.contains("auth_basic_user_file /labs/k/htpasswd;"),
            "{text}"
        );
        assert!(!text.contains("user root"), "{text}");
        assert_eq!(proxy.htpasswd(), "prom:h\n");
    }

    #[test]
    fn only_the_refused_config_is_invalid_yaml_for_prometheus() {
        let ports = ports();
        for info in &LABS {
            for variant in [Variant::Broken, Variant::Fixed] {
                let text = prometheus_yml(info.lab, &ports, variant);
                let value: serde_norway::Value = serde_norway::from_str(&text).unwrap();
                let job = &value["scrape_configs"][0];
                let nested = job["tls_config"]["static_configs"].is_sequence();
                assert_eq!(
                    nested,
                    info.lab == Lab::ConfigRefused && variant == Variant::Broken,
                    "{} {variant:?}:\n{text}",
                    info.name
                );
            }
        }
    }
}

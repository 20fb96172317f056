//! The labs: what each teaches, the files it starts from, its hints and its reference
//! solution.
//!
//! The files are teaching documents with comments, and some are broken on purpose (a
//! mis-indented `static_configs` cannot be built from typed values), so they are written
//! from text templates rather than serialised.

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use super::error::LabError;

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
}

/// What a lab teaches (for `lab list`, the README and `docs/labs.md`).
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
pub const LABS: [LabInfo; 10] = [
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

/// The lab's `prometheus.yml`.
pub(crate) fn prometheus_yml(lab: Lab, ports: &Ports, variant: Variant) -> String {
    let target = format!("127.0.0.1:{}", ports.scraped());
    let fixed = variant == Variant::Fixed;
    let job = match lab {
        Lab::ClassicTlsBasic => format!(
            "    scheme: https\n    tls_config:\n      ca_file: exporter.crt   # the self-signed certificate is its own CA\n    basic_auth:\n      username: prom\n      password_file: password.txt\n    static_configs:\n      - targets: [\"{target}\"]\n"
        ),
        Lab::BasicAuth401 => format!(
            "    basic_auth:\n      username: prom\n      password_file: password.txt\n    static_configs:\n      - targets: [\"{target}\"]\n"
        ),
        Lab::UntrustedCa => {
            let tls = if fixed { "    tls_config:\n      ca_file: pki/ca.crt\n" } else { "" };
            format!("    scheme: https\n{tls}    static_configs:\n      - targets: [\"{target}\"]\n")
        }
        Lab::HostnameMismatch => {
            let name = if fixed {
                String::new()
            } else {
                format!("      server_name: {WRONG_SERVER_NAME}\n")
            };
            format!("    scheme: https\n    tls_config:\n      ca_file: pki/ca.crt\n{name}    static_configs:\n      - targets: [\"{target}\"]\n")
        }
        Lab::ExpiredCert => format!(
            "    scheme: https\n    tls_config:\n      ca_file: pki/ca.crt\n    static_configs:\n      - targets: [\"{target}\"]\n"
        ),
        Lab::MtlsClientCert => {
            let client = if fixed {
                "      cert_file: pki/client.crt\n      key_file: pki/client.key\n"
            } else {
                ""
            };
            format!("    scheme: https\n    tls_config:\n      ca_file: pki/ca.crt\n{client}    static_configs:\n      - targets: [\"{target}\"]\n")
        }
        Lab::BearerRotation => {
            let credentials = if fixed {
                "      credentials_file: exporter-token\n".to_owned()
            } else {
                format!("      credentials: {OLD_TOKEN}\n")
            };
            format!("    authorization:\n      type: Bearer\n{credentials}    static_configs:\n      - targets: [\"{target}\"]\n")
        }
        Lab::ReverseProxy => {
            let scheme = if fixed { "https" } else { "http" };
            format!(
                "    scheme: {scheme}\n    tls_config:\n      ca_file: pki/ca.crt\n    basic_auth:\n      username: prom\n      password_file: password.txt\n    static_configs:\n      - targets: [\"{target}\"]   # nginx\n"
            )
        }
        Lab::ConfigRefused => {
            let indent = if fixed { "    " } else { "      " };
            format!(
                "    scheme: https\n    tls_config:\n      ca_file: pki/ca.crt\n{indent}static_configs:\n{indent}  - targets: [\"{target}\"]\n"
            )
        }
        Lab::Keepalive => format!(
            "    scheme: https\n    tls_config:\n      ca_file: pki/ca.crt\n    static_configs:\n      - targets: [\"{target}\"]   # nginx\n"
        ),
    };
    format!(
        "# Prometheus of lab `{lab}` (http://127.0.0.1:{port}/targets).\n\
         # Edit this file, then run `scrape-harness lab check` in this folder: it checks the\n\
         # file with promtool and reloads Prometheus with it. Relative paths are relative to\n\
         # this file.\n\
         global:\n  scrape_interval: 2s\n  scrape_timeout: 2s\n\
         scrape_configs:\n  - job_name: node\n{job}",
        port = ports.prometheus
    )
}

/// The exporter's `web-config.yml` (`hash`: bcrypt of [`PASSWORD`]).
pub(crate) fn web_config_yml(lab: Lab, hash: &str) -> String {
    let head =
        "# The exporter's web config (exporter-toolkit format, as node_exporter reads it).\n\
                # The exporter re-reads it, and its certificate files, on every connection.\n";
    let body = match lab {
        Lab::ClassicTlsBasic => format!(
            "tls_server_config:\n  cert_file: exporter.crt\n  key_file: exporter.key\nbasic_auth_users:\n  prom: {hash}\n"
        ),
        Lab::BasicAuth401 => format!("basic_auth_users:\n  prom: {hash}   # bcrypt of the password\n"),
        Lab::UntrustedCa | Lab::HostnameMismatch | Lab::ConfigRefused => {
            "tls_server_config:\n  cert_file: pki/server.crt\n  key_file: pki/server.key\n".to_owned()
        }
        Lab::ExpiredCert => {
            "tls_server_config:\n  cert_file: exporter/server.crt\n  key_file: exporter/server.key\n".to_owned()
        }
        Lab::MtlsClientCert => "tls_server_config:\n  cert_file: pki/server.crt\n  key_file: pki/server.key\n  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: pki/ca.crt\n".to_owned(),
        Lab::BearerRotation => "# Bearer tokens are a fake-exporter extension (exporter-toolkit has none).\nfake_exporter:\n  bearer_auth:\n    token_file: exporter-token   # re-read on every request\n".to_owned(),
        Lab::ReverseProxy | Lab::Keepalive => "# Plain HTTP on 127.0.0.1: nginx in front does TLS (and auth).\n{}\n".to_owned(),
    };
    format!("{head}{body}")
}

/// nginx.conf of the proxy labs. Absolute paths: nginx resolves relative ones against its
/// prefix, not this file. `run_as_root`: workers run as root (they read the lab folder,
/// which may be private to its owner).
pub(crate) fn nginx_conf(
    lab: Lab,
    dir: &Path,
    ports: &Ports,
    variant: Variant,
    run_as_root: bool,
) -> String {
    let d = dir.display();
    let proxy = ports.proxy.unwrap_or_default();
    let exporter = ports.exporter;
    let keepalive = if lab == Lab::Keepalive && variant == Variant::Broken {
        "0"
    } else {
        "65s"
    };
    let auth = if lab == Lab::ReverseProxy {
        format!("        auth_basic \"exporter\";\n        auth_basic_user_file {d}/htpasswd;\n")
    } else {
        String::new()
    };
    let user = if run_as_root { "user root root;\n" } else { "" };
    format!(
        "# nginx of lab `{lab}`: TLS in front of the exporter on 127.0.0.1:{exporter}.\n\
         # `scrape-harness lab check` tests this file (nginx -t) and reloads nginx with it.\n\
         {user}worker_processes 1;\n\
         pid {d}/.lab/nginx/nginx.pid;\n\
         error_log {d}/.lab/nginx/error.log notice;\n\
         events {{\n    worker_connections 128;\n}}\n\
         http {{\n\
         \x20   access_log {d}/.lab/nginx/access.log;\n\
         \x20   client_body_temp_path {d}/.lab/nginx/client_body;\n\
         \x20   proxy_temp_path {d}/.lab/nginx/proxy;\n\
         \x20   fastcgi_temp_path {d}/.lab/nginx/fastcgi;\n\
         \x20   uwsgi_temp_path {d}/.lab/nginx/uwsgi;\n\
         \x20   scgi_temp_path {d}/.lab/nginx/scgi;\n\
         \x20   keepalive_timeout {keepalive};\n\
         \x20   server {{\n\
         \x20       listen 127.0.0.1:{proxy} ssl;\n\
         \x20       ssl_certificate {d}/pki/server.crt;\n\
         \x20       ssl_certificate_key {d}/pki/server.key;\n\
         {auth}\
         \x20       location / {{\n\
         \x20           proxy_pass http://127.0.0.1:{exporter};\n\
         \x20       }}\n\
         \x20   }}\n\
         }}\n"
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
        _ => "`prometheus.yml`, `web-config.yml` (the exporter), `pki/` (CA, server and client certificates; see pki/README.txt)",
    };
    let proxy = ports
        .proxy
        .map(|p| format!("- nginx: 127.0.0.1:{p} (in front of the exporter)\n"))
        .unwrap_or_default();
    format!(
        "# Lab: {title}\n\n## Your task\n\n{task}\n\n## What runs\n\n\
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

    #[test]
    fn only_the_refused_config_is_invalid_yaml_for_prometheus() {
        let ports = Ports {
            prometheus: 1,
            exporter: 2,
            proxy: Some(3),
        };
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

//! From what Prometheus says and what the learner's files hold to findings in plain words:
//! error class → likely cause → which file and key to look at. Pure functions over parsed
//! inputs; nothing here knows which lab is running.

use std::path::{Path, PathBuf};

use fake_exporter::{ClientAuthType, PemSource, WebConfig};
use serde::Serialize;

use crate::classify::{CaseContext, ErrorClass};
use crate::promconfig::{Scheme, ScrapeConfig, TlsConfig};

/// One problem `check` found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// What it is about: `job/instance`, or a file.
    pub subject: String,
    /// A stable label: an [`ErrorClass`] label, or `config_refused`, `insecure_skip_verify`,
    /// `keepalive`, `inline_token`, `bypasses_proxy`, `nginx_config_refused`,
    /// `reload_failed`, `not_running`, `no_scrape`, `no_jobs`, `web_config_refused`,
    /// `no_exporter_config` (a build-it lab before its `web-config.yml` exists).
    pub kind: String,
    /// Prometheus' (or the tool's) own words.
    pub raw: String,
    /// The likely cause, in plain words.
    pub cause: String,
    /// Which file and key to look at.
    pub look_at: String,
}

impl Finding {
    pub(crate) fn new(
        subject: &str,
        kind: &str,
        raw: &str,
        cause: String,
        look_at: String,
    ) -> Self {
        Self {
            subject: subject.to_owned(),
            kind: kind.to_owned(),
            raw: raw.to_owned(),
            cause,
            look_at,
        }
    }
}

fn tls(job: &ScrapeConfig) -> Option<&TlsConfig> {
    job.tls_config.as_ref()
}

/// A path of the job's `tls_config`, as written.
pub(crate) fn tls_path(
    job: &ScrapeConfig,
    key: fn(&TlsConfig) -> &Option<PathBuf>,
) -> Option<String> {
    tls(job)
        .and_then(|t| key(t).as_ref())
        .map(|p| p.display().to_string())
}

pub(crate) fn https(job: &ScrapeConfig) -> bool {
    job.scheme == Some(Scheme::Https)
}

/// `tls_config.insecure_skip_verify` is on (in any spelling go-yaml takes: `true`, `yes`, `on`).
/// Whether the job switches certificate verification off.
pub(crate) fn skips_verification(job: &ScrapeConfig) -> bool {
    tls(job).and_then(|t| t.insecure_skip_verify) == Some(true)
}

pub(crate) fn presents_client_cert(job: &ScrapeConfig) -> bool {
    tls(job).is_some_and(|t| t.cert_file.is_some() && t.key_file.is_some())
}

pub(crate) fn password_file(job: &ScrapeConfig) -> Option<String> {
    let file = job.basic_auth.as_ref()?.password_file.as_ref()?;
    Some(file.display().to_string())
}

pub(crate) fn bearer_inline(job: &ScrapeConfig) -> bool {
    job.authorization
        .as_ref()
        .is_some_and(|a| a.credentials.is_some())
}

pub(crate) fn bearer_file(job: &ScrapeConfig) -> Option<String> {
    let file = job.authorization.as_ref()?.credentials_file.as_ref()?;
    Some(file.display().to_string())
}

/// The job's static targets.
pub(crate) fn targets(job: &ScrapeConfig) -> impl Iterator<Item = &str> {
    job.static_configs
        .iter()
        .flat_map(|s| s.targets.iter().map(String::as_str))
}

/// What the learner's server-side files say about the scraped port.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct ServerView {
    /// Which file configures the port (`web-config.yml` or `nginx.conf`).
    pub(crate) file: String,
    /// It speaks TLS.
    pub(crate) tls: bool,
    /// It demands a client certificate.
    pub(crate) requires_client_cert: bool,
    /// The certificate file it serves.
    pub(crate) cert_file: Option<String>,
    /// The exporter's rotating token file (fake-exporter extension).
    pub(crate) token_file: Option<String>,
    /// nginx' `keepalive_timeout` is 0.
    pub(crate) keepalive_off: bool,
}

/// What the exporter's `web-config.yml` in `dir` says, parsed as the exporter parses it;
/// a file the exporter refuses is a finding too (it answers every request with 500).
pub(crate) fn web_config_view(dir: &Path) -> (ServerView, Option<Finding>) {
    let file = "web-config.yml";
    let shown = |p: &Path| p.strip_prefix(dir).unwrap_or(p).display().to_string();
    match WebConfig::from_file(&dir.join(file)) {
        Ok(config) => {
            let tls = config.tls_server_config.as_ref();
            let view = ServerView {
                file: file.into(),
                tls: tls.is_some(),
                requires_client_cert: tls
                    .and_then(|t| t.client_auth_type.policy().ok())
                    .is_some_and(ClientAuthType::requires_cert),
                cert_file: tls.and_then(|t| match &t.cert {
                    Some(PemSource::File(path)) => Some(shown(path)),
                    _ => None,
                }),
                token_file: config
                    .fake_exporter
                    .bearer_auth
                    .as_ref()
                    .and_then(|b| b.token_file.as_deref())
                    .map(shown),
                keepalive_off: false,
            };
            (view, None)
        }
        Err(err) => {
            let finding = Finding::new(
                file,
                "web_config_refused",
                &err.to_string(),
                "the exporter refuses its web-config.yml (the error above names key and line) and answers every request with HTTP 500".into(),
                "web-config.yml at the key named above".into(),
            );
            let view = ServerView {
                file: file.into(),
                ..ServerView::default()
            };
            (view, Some(finding))
        }
    }
}

/// Reads an `nginx.conf` (directives outside comments, as nginx would).
pub(crate) fn nginx_view(conf: &str) -> ServerView {
    let lines: Vec<&str> = conf
        .lines()
        .map(|l| l.split('#').next().unwrap_or_default().trim())
        .collect();
    let directive = |name: &str| {
        lines
            .iter()
            .find(|l| l.split_whitespace().next() == Some(name))
            .map(|l| {
                l.trim_end_matches(';')
                    .split_whitespace()
                    .skip(1)
                    .collect::<Vec<_>>()
                    .join(" ")
            })
    };
    ServerView {
        file: "nginx.conf".into(),
        tls: lines.iter().any(|l| {
            l.starts_with("listen")
                && l.trim_end_matches(';')
                    .split_whitespace()
                    .any(|w| w == "ssl")
        }),
        requires_client_cert: directive("ssl_verify_client").is_some_and(|v| v == "on"),
        cert_file: directive("ssl_certificate"),
        token_file: None,
        keepalive_off: directive("keepalive_timeout").is_some_and(|v| {
            v.split_whitespace()
                .next()
                .is_some_and(|t| t.trim_end_matches('s') == "0")
        }),
    }
}

/// The classifier's context for a job scraping a server.
pub(crate) fn context(job: &ScrapeConfig, server: &ServerView) -> CaseContext {
    CaseContext {
        scheme_https: https(job),
        target_tls: server.tls,
        target_requires_client_cert: server.requires_client_cert,
        job_presents_client_cert: presents_client_cert(job),
        h2_refused_after_handshake: false,
    }
}

/// Why a target is down: cause and where to look, from its class and the files.
pub(crate) fn explain_down(
    subject: &str,
    raw: &str,
    class: ErrorClass,
    job: &ScrapeConfig,
    server: &ServerView,
    dir: &Path,
) -> Finding {
    let cert = server.cert_file.clone().unwrap_or_else(|| "(none)".into());
    let srv = &server.file;
    let server_name = tls(job).and_then(|t| t.server_name.clone());
    let not_set = || "not set".to_owned();
    let (cause, look_at) = match class {
        ErrorClass::Unauthorized => unauthorized(job, server, dir),
        ErrorClass::CredentialsFile => (
            "Prometheus cannot read the file the job takes its password or token from".into(),
            format!(
                "prometheus.yml: basic_auth.password_file ({}) or authorization.credentials_file ({}): does that file exist, relative to prometheus.yml?",
                password_file(job).unwrap_or_else(not_set),
                bearer_file(job).unwrap_or_else(not_set)
            ),
        ),
        ErrorClass::UnknownAuthority => (
            "the certificate the target serves is not signed by a CA the job trusts".into(),
            format!(
                "prometheus.yml: tls_config.ca_file ({}); and who issued the target's certificate ({srv}: {cert})",
                tls_path(job, |t| &t.ca_file).unwrap_or_else(|| "not set: only the system's CAs are trusted".into())
            ),
        ),
        ErrorClass::NoIpSans => (
            "Prometheus verifies the certificate against the target's host, an IP address, and the certificate lists no IP address in its subjectAltName (a DNS name such as localhost never matches an IP)".into(),
            format!(
                "the certificate's subjectAltName ({srv}: {cert}; `openssl x509 -in {cert} -noout -ext subjectAltName`), or which name prometheus.yml tells Prometheus to verify (tls_config.server_name: {})",
                server_name.clone().unwrap_or_else(not_set)
            ),
        ),
        ErrorClass::LegacyCommonName => (
            "the certificate names its host only in the subject's Common Name (CN) and has no subjectAltName; Go, and so Prometheus, ignores the CN and checks subjectAltName only".into(),
            format!(
                "the certificate's subjectAltName ({srv}: {cert}; `openssl x509 -in {cert} -noout -ext subjectAltName` shows none): make it with `-addext subjectAltName=...` for the names and addresses Prometheus verifies (tls_config.server_name: {})",
                server_name.clone().unwrap_or_else(not_set)
            ),
        ),
        ErrorClass::HostnameMismatch => (
            match &server_name {
                Some(name) => format!("the certificate is not valid for the name Prometheus verifies: tls_config.server_name `{name}`"),
                None => "the certificate is not valid for the host Prometheus scrapes".into(),
            },
            format!(
                "prometheus.yml: tls_config.server_name ({}) and the target address; the names in the certificate ({srv}: {cert})",
                server_name.clone().unwrap_or_else(not_set)
            ),
        ),
        ErrorClass::CertExpired | ErrorClass::CertNotYetValid => (
            format!(
                "the certificate the target serves is {}",
                if class == ErrorClass::CertExpired { "expired" } else { "not valid yet" }
            ),
            format!("{srv}: tls_server_config.cert_file ({cert}): its dates (`openssl x509 -in {cert} -noout -dates`); the exporter re-reads it on every new connection"),
        ),
        ErrorClass::ClientCertRequired => (
            "the target demands a client certificate and the job presents none".into(),
            format!("prometheus.yml: tls_config.cert_file and tls_config.key_file; {srv}: client_auth_type and client_ca_file"),
        ),
        ErrorClass::ClientCertRejected => (
            "the target refused the client certificate the job presented".into(),
            format!(
                "prometheus.yml: tls_config.cert_file ({}) / key_file: is it issued by the CA in {srv}'s client_ca_file, still valid, for client authentication?",
                tls_path(job, |t| &t.cert_file).unwrap_or_else(not_set)
            ),
        ),
        ErrorClass::HttpToHttps => (
            format!("the job speaks plain HTTP to a port that speaks TLS ({srv} enables TLS there)"),
            "prometheus.yml: the job's scheme".into(),
        ),
        ErrorClass::HttpsToHttp => (
            format!("the job speaks TLS to a port that speaks plain HTTP ({srv} has no TLS there)"),
            "prometheus.yml: the job's scheme, and the target's port".into(),
        ),
        ErrorClass::Refused => (
            "nothing listens on the target's port".into(),
            "prometheus.yml: static_configs targets (is the port the one in README.md?)".into(),
        ),
        ErrorClass::JobMissing => (
            format!("Prometheus dropped the whole job: {raw}"),
            "prometheus.yml: the files the job's tls_config names (do they exist? cert_file needs key_file)".into(),
        ),
        other => (other.explanation().to_owned(), look_at_other(other, job, server)),
    };
    Finding::new(subject, &class.to_string(), raw, cause, look_at)
}

/// Where to look for the classes without a key of their own: the setting or the server's
/// behaviour the class points at, with a command that shows it.
fn look_at_other(class: ErrorClass, job: &ScrapeConfig, server: &ServerView) -> String {
    let srv = &server.file;
    let scheme = if https(job) { "https" } else { "http" };
    let target = targets(job).next().unwrap_or("HOST:PORT");
    let curl = format!("`curl -sv {scheme}://{target}/metrics` with the job's CA and credentials");
    match class {
        ErrorClass::Timeout => format!(
            "prometheus.yml: scrape_timeout (and scrape_interval); how long the server takes: {curl}"
        ),
        ErrorClass::ConnectionReset | ErrorClass::Http2Refused => format!(
            "the server closed the connection: its log, and {srv} (TLS versions, client_auth_type); {curl}"
        ),
        ErrorClass::TlsVersion | ErrorClass::TlsHandshakeFailure | ErrorClass::TlsInternalError => {
            format!(
                "prometheus.yml: tls_config.min_version / max_version, and {srv}: min_version, max_version, cipher_suites, the certificate and key files; `openssl s_client -connect {target}` shows the handshake"
            )
        }
        ErrorClass::LegacyCommonName | ErrorClass::IncompatibleKeyUsage => format!(
            "the certificate the server serves ({srv}: {}): `openssl x509 -in FILE -noout -text` shows its subjectAltName and extended key usage",
            server.cert_file.as_deref().unwrap_or("its cert_file")
        ),
        ErrorClass::Forbidden | ErrorClass::HttpStatus(_) => format!(
            "what the server answers and why: {curl}; its log, and {srv}"
        ),
        ErrorClass::Unresolvable => {
            "prometheus.yml: static_configs targets (the host name does not resolve here)".into()
        }
        _ => format!("the raw error above, the server's log and {srv}; {curl}"),
    }
}

fn unauthorized(job: &ScrapeConfig, server: &ServerView, dir: &Path) -> (String, String) {
    let users = if server.file == "nginx.conf" {
        "the users in nginx' auth_basic_user_file (htpasswd)"
    } else {
        "web-config.yml basic_auth_users"
    };
    if job.basic_auth.is_some() {
        if let Some(file) = &password_file(job) {
            let content = std::fs::read_to_string(dir.join(file)).unwrap_or_default();
            if content.trim().starts_with("$2") {
                return (
                    format!("the job's password file `{file}` holds a bcrypt hash; Prometheus sends the file's content as the password, and the server hashes what it receives and compares it with its own hash"),
                    format!("prometheus.yml: basic_auth.password_file ({file}) must hold the plain password; the hashes belong in {users}"),
                );
            }
        }
        return (
            "the server rejected the user name or password the job sends".into(),
            format!(
                "prometheus.yml: basic_auth.username and {}; compare with {users}",
                password_file(job).map_or("basic_auth.password".to_owned(), |f| format!(
                    "basic_auth.password_file ({f})"
                ))
            ),
        );
    }
    if bearer_inline(job) || bearer_file(job).is_some() {
        let tokens = server.token_file.as_deref().map_or_else(
            || format!("the tokens {} accepts", server.file),
            |f| {
                format!(
                    "{}'s fake_exporter.bearer_auth.token_file ({f}), which is rotated",
                    server.file
                )
            },
        );
        return (
            "the server does not accept the Bearer token the job sends".into(),
            format!(
                "prometheus.yml: authorization.{} against {tokens}",
                if bearer_inline(job) {
                    "credentials (written into the file)"
                } else {
                    "credentials_file"
                }
            ),
        );
    }
    (
        "the job sends no credentials and the server wants some".into(),
        format!(
            "prometheus.yml: the job has neither basic_auth nor authorization; see {}",
            server.file
        ),
    )
}

/// The `prometheus.yml` keys (and, after them, the exporter's web-config keys) to look at
/// for a class, in the notation of the documentation.
pub(crate) fn keys(class: ErrorClass) -> &'static [&'static str] {
    match class {
        ErrorClass::Unauthorized => &[
            "basic_auth.username",
            "basic_auth.password_file",
            "authorization.credentials_file",
            "basic_auth_users",
        ],
        ErrorClass::Forbidden => &["basic_auth.username", "authorization.credentials_file"],
        ErrorClass::CredentialsFile => {
            &["basic_auth.password_file", "authorization.credentials_file"]
        }
        ErrorClass::UnknownAuthority => &["tls_config.ca_file", "tls_server_config.cert_file"],
        ErrorClass::NoIpSans | ErrorClass::HostnameMismatch | ErrorClass::LegacyCommonName => &[
            "tls_config.server_name",
            "static_configs.targets",
            "tls_server_config.cert_file",
        ],
        ErrorClass::CertExpired
        | ErrorClass::CertNotYetValid
        | ErrorClass::IncompatibleKeyUsage => &["tls_server_config.cert_file"],
        ErrorClass::ClientCertRequired => &[
            "tls_config.cert_file",
            "tls_config.key_file",
            "tls_server_config.client_auth_type",
        ],
        ErrorClass::ClientCertRejected => &[
            "tls_config.cert_file",
            "tls_config.key_file",
            "tls_server_config.client_ca_file",
        ],
        ErrorClass::HttpToHttps | ErrorClass::HttpsToHttp => &["scheme"],
        ErrorClass::TlsVersion => &["tls_config.min_version", "tls_config.max_version"],
        ErrorClass::Refused => &["static_configs.targets"],
        ErrorClass::JobMissing => &[
            "tls_config.cert_file",
            "tls_config.key_file",
            "tls_config.ca_file",
        ],
        ErrorClass::ConnectionReset => &["scheme", "tls_server_config.client_auth_type"],
        ErrorClass::TlsHandshakeFailure => &[
            "tls_config.min_version",
            "tls_config.max_version",
            "tls_server_config.cipher_suites",
            "tls_server_config.curve_preferences",
        ],
        ErrorClass::TlsInternalError => {
            &["tls_server_config.cert_file", "tls_server_config.key_file"]
        }
        ErrorClass::Http2Refused => &[
            "tls_server_config.min_version",
            "tls_server_config.cipher_suites",
            "enable_http2",
        ],
        ErrorClass::Timeout => &["scrape_timeout", "scrape_interval"],
        ErrorClass::Unresolvable => &["static_configs.targets"],
        ErrorClass::BadContentType => &["fallback_scrape_protocol"],
        ErrorClass::BodyTooLarge => &["body_size_limit"],
        ErrorClass::LimitExceeded => &[
            "sample_limit",
            "label_limit",
            "label_name_length_limit",
            "label_value_length_limit",
        ],
        ErrorClass::BadExposition => &["metrics_path"],
        ErrorClass::Oauth2TokenRefused => &[
            "oauth2.client_id",
            "oauth2.client_secret_file",
            "oauth2.scopes",
        ],
        ErrorClass::Oauth2TokenUntrusted => &["oauth2.tls_config.ca_file"],
        ErrorClass::Oauth2TokenUnreachable => &["oauth2.token_url"],
        ErrorClass::ProxyAuthRequired => &["proxy_url", "proxy_connect_header"],
        ErrorClass::ProxyTargetUnreachable => &["static_configs.targets", "proxy_url"],
        ErrorClass::ProxyUnreachable => &["proxy_url"],
        ErrorClass::HttpStatus(404) => &["metrics_path"],
        ErrorClass::HttpStatus(_) => &["metrics_path", "static_configs.targets"],
        ErrorClass::None | ErrorClass::Other => &[],
    }
}

/// Findings for a target that is up but not done right.
pub(crate) fn explain_up(
    subject: &str,
    job: &ScrapeConfig,
    server: &ServerView,
    growth: Option<(f64, u64)>,
) -> Vec<Finding> {
    let mut out = Vec::new();
    if bearer_inline(job) && server.token_file.is_some() {
        out.push(Finding::new(
            subject,
            "inline_token",
            "",
            format!(
                "the token is written into prometheus.yml, but the server's token ({}: fake_exporter.bearer_auth.token_file) is rotated: the next rotation breaks the scrape",
                server.file
            ),
            "prometheus.yml: authorization.credentials vs. authorization.credentials_file".into(),
        ));
    }
    if let Some((new, scrapes)) =
        growth.filter(|(new, scrapes)| *scrapes >= 2 && *new >= *scrapes as f64)
    {
        let server_hint = match (server.file.as_str(), server.keepalive_off) {
            ("nginx.conf", true) => {
                "nginx.conf: keepalive_timeout (it is 0 now: no keep-alive for clients)"
            }
            ("nginx.conf", false) => {
                "nginx.conf: keepalive_timeout and anything else that closes client connections"
            }
            _ => "the exporter: does it close the connection after every response?",
        };
        out.push(Finding::new(
            subject,
            "keepalive",
            &format!("net_conntrack_dialer_conn_established_total rose by {new} over {scrapes} scrapes"),
            "every scrape opens a new connection (and pays a full TLS handshake): the server closes the connection after each response, while Prometheus would keep it open".into(),
            server_hint.into(),
        ));
    }
    out
}

/// Where a promtool message points: `prometheus.yml line N: <text>`.
pub(crate) fn config_refused(message: &str, yaml: &str) -> Finding {
    let line = message.split("line ").skip(1).find_map(|rest| {
        rest.split(|c: char| !c.is_ascii_digit())
            .next()?
            .parse::<usize>()
            .ok()
    });
    let look_at = match line {
        Some(n) => format!(
            "prometheus.yml line {n}: `{}` (YAML indentation decides which section a key belongs to)",
            yaml.lines().nth(n.saturating_sub(1)).unwrap_or_default().trim_end()
        ),
        None => "prometheus.yml (run `promtool check config prometheus.yml`)".into(),
    };
    Finding::new(
        "prometheus.yml",
        "config_refused",
        message.trim(),
        "Prometheus refuses the whole file (promtool says why above), so none of it is applied"
            .into(),
        look_at,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::promconfig::PrometheusConfig;

    const JOB: &str = "scrape_configs:\n  - job_name: node\n    scheme: https\n    tls_config:\n      ca_file: pki/ca.crt\n      server_name: x.example\n      insecure_skip_verify: true\n    authorization:\n      credentials: abc\n    static_configs:\n      - targets: [\"127.0.0.1:9100\"]\n";

    fn job(yaml: &str) -> ScrapeConfig {
        serde_norway::from_str::<PrometheusConfig>(yaml)
            .unwrap()
            .scrape_configs
            .remove(0)
    }

    #[test]
    fn jobs_are_read_into_the_typed_config() {
        let job = job(JOB);
        assert!(https(&job) && skips_verification(&job) && bearer_inline(&job));
        assert_eq!(tls(&job).unwrap().server_name.as_deref(), Some("x.example"));
        assert_eq!(targets(&job).collect::<Vec<_>>(), ["127.0.0.1:9100"]);
    }

    #[test]
    fn go_yaml_booleans_are_read_as_prometheus_reads_them() {
        for (word, skips) in [
            ("yes", true),
            ("on", true),
            ("True", true),
            ("no", false),
            ("off", false),
            ("null", false),
            ("~", false),
        ] {
            let yaml = JOB.replace(
                "insecure_skip_verify: true",
                &format!("insecure_skip_verify: {word}"),
            );
            assert_eq!(skips_verification(&job(&yaml)), skips, "{word}");
        }
    }

    #[test]
    fn the_web_config_is_read_as_the_exporter_reads_it() {
        let dir = tempfile::tempdir().unwrap();
        let write = |text: &str| std::fs::write(dir.path().join("web-config.yml"), text).unwrap();
        write("tls_server_config:\n  cert_file: pki/server.crt\n  key_file: pki/server.key\n  client_auth_type: RequireClientCert\n");
        let (view, problem) = web_config_view(dir.path());
        assert!(problem.is_none());
        assert!(view.tls && view.requires_client_cert, "{view:?}");
        assert_eq!(view.cert_file.as_deref(), Some("pki/server.crt"));
        write("tls_server_config:\n  cert_file: a\n  key_file: b\n  client_auth_type: RequestClientCert\n");
        assert!(!web_config_view(dir.path()).0.requires_client_cert);
        write("tls_server_config:\n  cert_fil: a\n");
        let (view, problem) = web_config_view(dir.path());
        let problem = problem.expect("an unknown key is refused");
        assert!(problem.raw.contains("cert_fil"), "{problem:?}");
        assert!(!view.tls);
    }

    #[test]
    fn nginx_keepalive_and_tls_are_read_outside_comments() {
        let view = nginx_view("# keepalive_timeout 65s;\nhttp {\n keepalive_timeout 0;\n server {\n  listen 127.0.0.1:1 ssl;\n  ssl_certificate /x/pki/server.crt;\n }\n}\n");
        assert!(view.tls && view.keepalive_off);
        assert_eq!(view.cert_file.as_deref(), Some("/x/pki/server.crt"));
        assert!(!nginx_view("keepalive_timeout 65s;\nlisten 1;").keepalive_off);
    }

    #[test]
    fn promtool_lines_are_quoted() {
        let yaml = "a: 1\nb:\n  static_configs: []\n";
        let f = config_refused(
            "FAILED: parsing YAML file prometheus.yml: yaml: unmarshal errors:\n  line 3: field static_configs not found in type config.TLSConfig",
            yaml,
        );
        assert!(
            f.look_at.contains("line 3: `  static_configs: []`"),
            "{}",
            f.look_at
        );
    }

    #[test]
    fn every_class_without_a_key_of_its_own_gets_a_place_to_look_and_a_command() {
        let job = job(JOB);
        let server = ServerView {
            file: "web-config.yml".into(),
            ..ServerView::default()
        };
        for class in [
            ErrorClass::Timeout,
            ErrorClass::ConnectionReset,
            ErrorClass::TlsVersion,
            ErrorClass::Forbidden,
            ErrorClass::HttpStatus(400),
            ErrorClass::LegacyCommonName,
        ] {
            let f = explain_down("j", "raw", class, &job, &server, Path::new("."));
            assert!(
                !f.look_at.starts_with("Prometheus' raw error above")
                    && (f.look_at.contains("curl") || f.look_at.contains("openssl")),
                "{class}: {}",
                f.look_at
            );
        }
    }

    #[test]
    fn a_connection_per_scrape_is_flagged() {
        let job = ScrapeConfig::default();
        assert!(
            explain_up("j", &job, &ServerView::default(), Some((2.0, 2)))
                .iter()
                .any(|f| f.kind == "keepalive")
        );
        assert!(explain_up("j", &job, &ServerView::default(), Some((0.0, 2))).is_empty());
    }
}

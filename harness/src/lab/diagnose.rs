//! From what Prometheus says and what the learner's files hold to findings in plain words:
//! error class → likely cause → which file and key to look at. Pure functions over parsed
//! inputs; nothing here knows which lab is running.

use std::path::Path;

use serde::Serialize;
use serde_norway::Value;

use crate::classify::{CaseContext, ErrorClass};

/// One problem `check` found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// What it is about: `job/instance`, or a file.
    pub subject: String,
    /// A stable label: an [`ErrorClass`] label, or `config_refused`, `insecure_skip_verify`,
    /// `keepalive`, `inline_token`, `bypasses_proxy`, `nginx_config_refused`,
    /// `reload_failed`, `not_running`, `no_scrape`, `no_jobs`.
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

/// A job of the learner's `prometheus.yml`, read leniently (any key may be missing).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct JobView {
    pub(crate) name: String,
    pub(crate) https: bool,
    pub(crate) ca_file: Option<String>,
    pub(crate) cert_file: Option<String>,
    pub(crate) key_file: Option<String>,
    pub(crate) server_name: Option<String>,
    pub(crate) insecure_skip_verify: bool,
    pub(crate) basic_auth: bool,
    pub(crate) password_file: Option<String>,
    pub(crate) inline_password: bool,
    pub(crate) bearer_inline: bool,
    pub(crate) bearer_file: Option<String>,
    pub(crate) targets: Vec<String>,
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// The jobs of a `prometheus.yml` text (empty when it does not parse).
pub(crate) fn jobs(yaml: &str) -> Vec<JobView> {
    let Ok(root) = serde_norway::from_str::<Value>(yaml) else {
        return Vec::new();
    };
    let Some(list) = root.get("scrape_configs").and_then(Value::as_sequence) else {
        return Vec::new();
    };
    list.iter()
        .map(|job| {
            let tls = job.get("tls_config");
            let tls_key = |k: &str| tls.and_then(|t| t.get(k)).and_then(text);
            let basic = job.get("basic_auth");
            let auth = job.get("authorization");
            let targets = job
                .get("static_configs")
                .and_then(Value::as_sequence)
                .into_iter()
                .flatten()
                .filter_map(|s| s.get("targets").and_then(Value::as_sequence))
                .flatten()
                .filter_map(text)
                .collect();
            JobView {
                name: job.get("job_name").and_then(text).unwrap_or_default(),
                https: job.get("scheme").and_then(text).as_deref() == Some("https"),
                ca_file: tls_key("ca_file"),
                cert_file: tls_key("cert_file"),
                key_file: tls_key("key_file"),
                server_name: tls_key("server_name"),
                insecure_skip_verify: tls_key("insecure_skip_verify").as_deref() == Some("true"),
                basic_auth: basic.is_some(),
                password_file: basic.and_then(|b| b.get("password_file")).and_then(text),
                inline_password: basic.and_then(|b| b.get("password")).is_some(),
                bearer_inline: auth.and_then(|a| a.get("credentials")).is_some(),
                bearer_file: auth.and_then(|a| a.get("credentials_file")).and_then(text),
                targets,
            }
        })
        .collect()
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

/// Reads an exporter `web-config.yml`.
pub(crate) fn web_config_view(yaml: &str) -> ServerView {
    let root: Value = serde_norway::from_str(yaml).unwrap_or(Value::Null);
    let tls = root.get("tls_server_config");
    let client_auth = tls
        .and_then(|t| t.get("client_auth_type"))
        .and_then(text)
        .unwrap_or_default();
    ServerView {
        file: "web-config.yml".into(),
        tls: tls.is_some_and(|t| !t.is_null()),
        requires_client_cert: client_auth.starts_with("Require")
            && client_auth != "RequestClientCert",
        cert_file: tls.and_then(|t| t.get("cert_file")).and_then(text),
        token_file: root
            .get("fake_exporter")
            .and_then(|f| f.get("bearer_auth"))
            .and_then(|b| b.get("token_file"))
            .and_then(text),
        keepalive_off: false,
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
pub(crate) fn context(job: &JobView, server: &ServerView) -> CaseContext {
    CaseContext {
        scheme_https: job.https,
        target_tls: server.tls,
        target_requires_client_cert: server.requires_client_cert,
        job_presents_client_cert: job.cert_file.is_some() && job.key_file.is_some(),
        h2_refused_after_handshake: false,
    }
}

/// Why a target is down: cause and where to look, from its class and the files.
pub(crate) fn explain_down(
    subject: &str,
    raw: &str,
    class: ErrorClass,
    job: &JobView,
    server: &ServerView,
    dir: &Path,
) -> Finding {
    let cert = server.cert_file.clone().unwrap_or_else(|| "(none)".into());
    let srv = &server.file;
    let (cause, look_at) = match class {
        ErrorClass::Unauthorized => unauthorized(job, server, dir),
        ErrorClass::CredentialsFile => (
            "Prometheus cannot read the file the job takes its password or token from".into(),
            format!(
                "prometheus.yml: basic_auth.password_file ({}) or authorization.credentials_file ({}): does that file exist, relative to prometheus.yml?",
                job.password_file.as_deref().unwrap_or("not set"),
                job.bearer_file.as_deref().unwrap_or("not set")
            ),
        ),
        ErrorClass::UnknownAuthority => (
            "the certificate the target serves is not signed by a CA the job trusts".into(),
            format!(
                "prometheus.yml: tls_config.ca_file ({}); and who issued the target's certificate ({srv}: {cert})",
                job.ca_file.as_deref().unwrap_or("not set: only the system's CAs are trusted")
            ),
        ),
        ErrorClass::NoIpSans => (
            "Prometheus verifies the certificate against the target's host, an IP address, and the certificate lists no IP address in its subjectAltName (a DNS name such as localhost never matches an IP)".into(),
            format!(
                "the certificate's subjectAltName ({srv}: {cert}; `openssl x509 -in {cert} -noout -ext subjectAltName`), or which name prometheus.yml tells Prometheus to verify (tls_config.server_name: {})",
                job.server_name.as_deref().unwrap_or("not set")
            ),
        ),
        ErrorClass::HostnameMismatch => (
            match &job.server_name {
                Some(name) => format!("the certificate is not valid for the name Prometheus verifies: tls_config.server_name `{name}`"),
                None => "the certificate is not valid for the host Prometheus scrapes".into(),
            },
            format!(
                "prometheus.yml: tls_config.server_name ({}) and the target address; the names in the certificate ({srv}: {cert})",
                job.server_name.as_deref().unwrap_or("not set")
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
                job.cert_file.as_deref().unwrap_or("not set")
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
        other => (other.explanation().to_owned(), "Prometheus' raw error above".into()),
    };
    Finding::new(subject, &class.to_string(), raw, cause, look_at)
}

fn unauthorized(job: &JobView, server: &ServerView, dir: &Path) -> (String, String) {
    let users = if server.file == "nginx.conf" {
        "the users in nginx' auth_basic_user_file (htpasswd)"
    } else {
        "web-config.yml basic_auth_users"
    };
    if job.basic_auth {
        if let Some(file) = &job.password_file {
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
                job.password_file
                    .as_ref()
                    .map_or("basic_auth.password".to_owned(), |f| format!(
                        "basic_auth.password_file ({f})"
                    ))
            ),
        );
    }
    if job.bearer_inline || job.bearer_file.is_some() {
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
                if job.bearer_inline {
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

/// Findings for a target that is up but not done right.
pub(crate) fn explain_up(
    subject: &str,
    job: &JobView,
    server: &ServerView,
    growth: Option<(f64, u64)>,
) -> Vec<Finding> {
    let mut out = Vec::new();
    if job.insecure_skip_verify {
        out.push(Finding::new(
            subject,
            "insecure_skip_verify",
            "",
            "the target is up only because tls_config.insecure_skip_verify: true switches certificate verification off; anyone could impersonate the exporter, so this does not count as solved".into(),
            "prometheus.yml: remove tls_config.insecure_skip_verify and make verification pass".into(),
        ));
    }
    if job.bearer_inline && server.token_file.is_some() {
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

    const JOB: &str = "scrape_configs:\n  - job_name: node\n    scheme: https\n    tls_config:\n      ca_file: pki/ca.crt\n      server_name: x.example\n      insecure_skip_verify: true\n    authorization:\n      credentials: abc\n    static_configs:\n      - targets: [\"127.0.0.1:9100\"]\n";

    #[test]
    fn jobs_are_read_leniently() {
        let jobs = jobs(JOB);
        assert_eq!(jobs.len(), 1);
        let job = &jobs[0];
        assert!(job.https && job.insecure_skip_verify && job.bearer_inline);
        assert_eq!(job.server_name.as_deref(), Some("x.example"));
        assert_eq!(job.targets, ["127.0.0.1:9100"]);
        assert!(super::jobs("not: [yaml").is_empty());
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
    fn insecure_skip_verify_is_never_solved() {
        let job = &jobs(JOB)[0];
        let found = explain_up("node/x", job, &ServerView::default(), None);
        assert!(found.iter().any(|f| f.kind == "insecure_skip_verify"));
    }

    #[test]
    fn a_connection_per_scrape_is_flagged() {
        let job = JobView::default();
        assert!(
            explain_up("j", &job, &ServerView::default(), Some((2.0, 2)))
                .iter()
                .any(|f| f.kind == "keepalive")
        );
        assert!(explain_up("j", &job, &ServerView::default(), Some((0.0, 2))).is_empty());
    }
}

//! `--target` mode: an exporter that is already running; only the cases that need no
//! restart, generated from what the caller says about the target, plus the direct checks
//! its configuration allows.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use super::catalog;
use super::direct::{self, ClientTls};
use super::report::{results_from_run, ConformanceReport};
use super::{ConformanceError, ConformanceOptions};
use crate::runner::{self, Launcher};
use crate::scenario::Plan;

/// An exporter that is already running.
#[derive(Debug, Clone)]
pub struct TargetSpec {
    /// `HOST:PORT`; the host must be loopback (`127.0.0.1`, `localhost`, `[::1]`).
    pub target: String,
    /// `https` or `http`.
    pub https: bool,
    /// CA that signed the exporter's certificate.
    pub ca: Option<PathBuf>,
    /// Client certificate and key Prometheus presents.
    pub client_cert: Option<(PathBuf, PathBuf)>,
    /// Basic auth user and password file.
    pub basic_auth: Option<(String, PathBuf)>,
    /// Bearer token file.
    pub bearer_file: Option<PathBuf>,
    /// Metrics path.
    pub metrics_path: String,
}

/// Runs the cases that need no restart against a running exporter, plus the direct checks
/// its configuration allows.
pub async fn run_target(
    spec: &TargetSpec,
    opts: &ConformanceOptions,
) -> Result<ConformanceReport, ConformanceError> {
    let bad = |reason: String| ConformanceError::Target {
        target: spec.target.clone(),
        reason,
    };
    let (host, port) = spec
        .target
        .rsplit_once(':')
        .ok_or_else(|| bad("write HOST:PORT, e.g. 127.0.0.1:9100".into()))?;
    let port: u16 = port
        .parse()
        .map_err(|_| bad(format!("`{port}` is not a port")))?;
    let ip: std::net::IpAddr = match host {
        "127.0.0.1" | "localhost" => std::net::Ipv4Addr::LOCALHOST.into(),
        "[::1]" | "::1" => std::net::Ipv6Addr::LOCALHOST.into(),
        other => {
            return Err(bad(format!(
                "`{other}` is not loopback: only loopback targets are checked (127.0.0.1, localhost, [::1]); run the harness next to the exporter"
            )))
        }
    };
    let addr = SocketAddr::new(ip, port);
    let host_yaml = if ip.is_ipv6() {
        "'[::1]'"
    } else if host == "localhost" {
        "localhost"
    } else {
        "127.0.0.1"
    };
    let ca = spec
        .ca
        .as_deref()
        .map(|p| absolute("the CA file", p))
        .transpose()?;
    let cc = match &spec.client_cert {
        Some((c, k)) => Some((
            absolute("the client certificate", c)?,
            absolute("the client key", k)?,
        )),
        None => None,
    };
    let basic = match &spec.basic_auth {
        Some((u, f)) => Some((u.clone(), absolute("the Basic-auth password file", f)?)),
        None => None,
    };
    let bearer = spec
        .bearer_file
        .as_deref()
        .map(|p| absolute("the Bearer token file", p))
        .transpose()?;
    if spec.https && ca.is_none() {
        return Err(ConformanceError::MissingCa {
            target: spec.target.clone(),
        });
    }

    let yaml = target_cases_yaml(&TargetCases {
        https: spec.https,
        host_yaml,
        metrics_path: &spec.metrics_path,
        ca: ca.as_deref(),
        client_cert: cc.as_ref().map(|(c, k)| (c.as_path(), k.as_path())),
        basic: basic.as_ref().map(|(u, f)| (u.as_str(), f.as_path())),
        bearer: bearer.as_deref(),
    });
    let path = &spec.metrics_path;
    let plan = Plan::from_sources(&[("(generated for --target)".to_owned(), yaml)])?;
    let mut run_opts = opts.run.clone();
    run_opts.launcher = Launcher::Running(addr);
    for p in [
        ca.clone(),
        cc.as_ref().map(|c| c.0.clone()),
        cc.as_ref().map(|c| c.1.clone()),
        basic.as_ref().map(|b| b.1.clone()),
        bearer.clone(),
    ]
    .into_iter()
    .flatten()
    {
        if let Some(parent) = p.parent() {
            run_opts.extra_mounts.push(parent.to_owned());
        }
    }
    run_opts.extra_mounts.sort();
    run_opts.extra_mounts.dedup();
    let report = runner::run(&plan, &run_opts).await?;
    let mut results = results_from_run(&report, &plan);

    let client_tls = spec.https.then(|| ClientTls {
        ca_file: ca.clone(),
        client_cert: cc.clone(),
        server_name: host.trim_matches(|c| c == '[' || c == ']').to_owned(),
    });
    let auth_header = match (&basic, &bearer) {
        (Some((u, f)), _) => std::fs::read_to_string(f)
            .ok()
            .map(|p| fake_exporter::auth::basic_header(u, p.trim_end_matches(['\r', '\n']))),
        (None, Some(f)) => std::fs::read_to_string(f)
            .ok()
            .map(|t| format!("Bearer {}", t.trim())),
        _ => None,
    };
    if let Some((u, f)) = &basic {
        let password = std::fs::read_to_string(f).map_err(|source| ConformanceError::Io {
            what: "reading the Basic-auth password file",
            path: f.clone(),
            source,
        })?;
        let password = password.trim_end_matches(['\r', '\n']);
        results.push(
            catalog::WWW_AUTHENTICATE
                .result(direct::www_authenticate(addr, client_tls.as_ref(), path).await),
        );
        results.push(
            catalog::NO_SECRETS_ECHOED.result(
                direct::no_secrets_echoed(addr, client_tls.as_ref(), path, u, password).await,
            ),
        );
        results.push(
            catalog::AUTH_TIMING.result(
                direct::auth_timing(
                    addr,
                    client_tls.as_ref(),
                    path,
                    u,
                    opts.timing_samples,
                    opts.alpha,
                )
                .await,
            ),
        );
    }
    let (ct, gz, om) =
        direct::content_negotiation(addr, client_tls.as_ref(), path, auth_header).await;
    results.push(catalog::CONTENT_TYPE.result(ct));
    results.push(catalog::GZIP.result(gz));
    results.push(catalog::OPENMETRICS.result(om));
    if spec.https {
        results.push(catalog::OLD_TLS_REFUSED.result(direct::refuses_old_tls(addr).await));
    }
    Ok(ConformanceReport {
        subject: format!("--target {}", spec.target),
        prometheus: report.prometheus.clone(),
        prometheus_version: format!("{} ({})", report.prometheus_version, report.go_version),
        results,
    })
}

/// What the generated `--target` cases need to know about the target.
struct TargetCases<'a> {
    https: bool,
    /// The host as YAML (`127.0.0.1`, `localhost` or `'[::1]'`).
    host_yaml: &'a str,
    metrics_path: &'a str,
    ca: Option<&'a Path>,
    client_cert: Option<(&'a Path, &'a Path)>,
    /// User and password file.
    basic: Option<(&'a str, &'a Path)>,
    bearer: Option<&'a Path>,
}

/// The cases that need no restart, as a scenario file, so they go through the same checks
/// as the catalog.
// TODO(merge): typed cases — build `scenario` values directly once the typed `Case`
// exists; this is the only place that writes a scenario file as text.
fn target_cases_yaml(t: &TargetCases<'_>) -> String {
    let host_yaml = t.host_yaml;
    let path = t.metrics_path;
    let ca = t.ca;
    let cc = t.client_cert;
    let basic = t.basic;
    let bearer = t.bearer;
    let mut tls = String::new();
    if t.https {
        let mut parts = vec![format!(
            "ca_file: {}",
            ca.as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default()
        )];
        if let Some((c, k)) = &cc {
            parts.push(format!("cert_file: {}", c.display()));
            parts.push(format!("key_file: {}", k.display()));
        }
        tls = format!("tls_config: {{ {} }}, ", parts.join(", "));
    }
    let scheme = if t.https { "https" } else { "http" };
    let auth = match (&basic, &bearer) {
        (Some((u, f)), _) => format!(
            "basic_auth: {{ username: {u}, password_file: {} }}, ",
            f.display()
        ),
        (None, Some(f)) => format!("authorization: {{ credentials_file: {} }}, ", f.display()),
        _ => String::new(),
    };
    let exporter = match (t.https, &cc) {
        (true, Some(_)) => "{ server_cert: valid, client_auth_type: RequireAndVerifyClientCert }",
        (true, None) => "{ server_cert: valid }",
        _ => "{}",
    };
    let mut yaml = String::from(
        "defaults: { scrape_interval: 200ms, scrape_timeout: 200ms, scrapes: 5 }\ncases:\n",
    );
    let mut case = |name: &str, level: &str, rationale: &str, scrape: String, expect: &str| {
        let _ = writeln!(
            yaml,
            "  - name: {name}\n    level: {level}\n    rationale: \"{rationale}\"\n    reference: \"see scenarios/conformance.yaml\"\n    exporter: {exporter}\n    scrape: {{ target_host: {host_yaml}, metrics_path: \"{path}\", {scrape} }}\n    expect: {expect}"
        );
    };
    case(
        "target-configured",
        "MUST",
        "scraped as configured",
        format!("scheme: {scheme}, {tls}{auth}"),
        "{ health: up }",
    );
    if basic.is_some() {
        case(
            "target-no-credentials",
            "MUST",
            "no credentials get 401",
            format!("scheme: {scheme}, {tls}"),
            "{ health: down, error: unauthorized }",
        );
        let u = basic.map_or("", |(u, _)| u);
        case("target-wrong-password", "MUST", "a wrong password gets 401", format!("scheme: {scheme}, {tls}basic_auth: {{ username: {u}, password: definitely-wrong-{} }}, ", std::process::id()), "{ health: down, error: unauthorized }");
    }
    if basic.is_none() && bearer.is_some() {
        case(
            "target-no-token",
            "MUST",
            "no token gets 401",
            format!("scheme: {scheme}, {tls}"),
            "{ health: down, error: unauthorized }",
        );
        case(
            "target-wrong-token",
            "MUST",
            "a wrong token gets 401",
            format!("scheme: {scheme}, {tls}authorization: {{ credentials: definitely-wrong }}, "),
            "{ health: down, error: unauthorized }",
        );
    }
    if t.https {
        case(
            "target-plain-http-to-tls-port",
            "MUST",
            "a TLS port does not serve plain HTTP",
            auth.clone(),
            "{ health: down, error: http_to_https }",
        );
        if cc.is_some() {
            case(
                "target-no-client-cert",
                "MUST",
                "a client without a certificate is refused",
                format!(
                    "scheme: https, tls_config: {{ ca_file: {} }}, {auth}",
                    ca.as_ref()
                        .map(|p| p.display().to_string())
                        .unwrap_or_default()
                ),
                "{ health: down, error: client_cert_required }",
            );
        }
    }
    yaml
}

/// `path` made absolute (Prometheus may run in a container with another working
/// directory); `what` names it in the error.
fn absolute(what: &'static str, path: &Path) -> Result<PathBuf, ConformanceError> {
    std::fs::canonicalize(path).map_err(|source| ConformanceError::Io {
        what,
        path: path.to_owned(),
        source,
    })
}

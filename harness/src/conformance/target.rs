//! `--target` mode: an exporter that is already running; only the cases that need no
//! restart, generated from what the caller says about the target, plus the direct checks
//! its configuration allows.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use super::catalog;
use super::direct::{self, ClientTls};
use super::report::{results_from_run, ConformanceReport};
use super::{ConformanceError, ConformanceOptions};
use fake_exporter::pki::ServerCert;
use fake_exporter::ClientAuthType;

use super::catalog::Level;
use crate::classify::ErrorClass;
use crate::promconfig::Scheme;
use crate::runner::{self, Launcher};
use crate::scenario::{
    Case, Defaults, Expectation, ExporterCase, ExporterTls, FileRef, Plan, ScrapeAuth, ScrapeCase,
    ScrapeTls, Secret, TargetHost,
};

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
    let target_host = if ip.is_ipv6() {
        TargetHost::Ipv6Loopback
    } else if host == "localhost" {
        TargetHost::Localhost
    } else {
        TargetHost::Ipv4Loopback
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

    let plan = Plan {
        defaults: Defaults {
            scrapes: 5,
            ..Defaults::default()
        },
        cases: target_cases(&TargetCases {
            https: spec.https,
            target_host,
            metrics_path: &spec.metrics_path,
            ca: ca.as_deref(),
            client_cert: cc.as_ref().map(|(c, k)| (c.as_path(), k.as_path())),
            basic: basic.as_ref().map(|(u, f)| (u.as_str(), f.as_path())),
            bearer: bearer.as_deref(),
        }),
    };
    let path = &spec.metrics_path;
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
            .map(|p| fake_exporter::basic_header(u, p.trim_end_matches(['\r', '\n']))),
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
    target_host: TargetHost,
    metrics_path: &'a str,
    ca: Option<&'a Path>,
    client_cert: Option<(&'a Path, &'a Path)>,
    /// User and password file.
    basic: Option<(&'a str, &'a Path)>,
    bearer: Option<&'a Path>,
}

/// The cases that need no restart of the target, built as typed scenario cases.
fn target_cases(t: &TargetCases<'_>) -> Vec<Case> {
    let file = |p: &Path| FileRef::Absolute(p.to_owned());
    let server_tls = |with_client_cert: bool| ScrapeTls {
        ca_file: t.ca.map(file),
        cert_file: t
            .client_cert
            .filter(|_| with_client_cert)
            .map(|(c, _)| file(c)),
        key_file: t
            .client_cert
            .filter(|_| with_client_cert)
            .map(|(_, k)| file(k)),
        ..ScrapeTls::default()
    };
    let configured_auth = match (t.basic, t.bearer) {
        (Some((user, password)), _) => Some(ScrapeAuth::Basic {
            username: user.to_owned(),
            password: Some(Secret::File(file(password))),
        }),
        (None, Some(token)) => Some(ScrapeAuth::Authorization {
            auth_type: None,
            credentials: Some(Secret::File(file(token))),
        }),
        (None, None) => None,
    };
    // What the exporter is assumed to be, for the classifier's context only: TLS when the
    // user scrapes it over https, verifying client certificates when given one.
    let exporter = ExporterCase {
        tls: t.https.then(|| ExporterTls {
            server_cert: ServerCert::Valid,
            openssl_key: false,
            serve_files: None,
            cipher_suites: Vec::new(),
            client_auth_type: t
                .client_cert
                .map(|_| ClientAuthType::RequireAndVerifyClientCert),
            client_ca: None,
            client_allowed_sans: None,
            min_version: None,
            max_version: None,
        }),
        ..ExporterCase::default()
    };
    let case = |name: &str, rationale: &str, scrape: ScrapeCase, expect: Expectation| {
        let mut case = Case::new(name, "(generated for --target)", expect);
        case.level = Some(Level::Must);
        case.rationale = Some(rationale.to_owned());
        case.reference = Some("see scenarios/conformance.yaml".to_owned());
        case.exporter = exporter.clone();
        case.scrape = scrape;
        case
    };
    let scrape = |https: bool, tls: Option<ScrapeTls>, auth: Option<ScrapeAuth>| ScrapeCase {
        scheme: Some(if https { Scheme::Https } else { Scheme::Http }),
        target_host: t.target_host,
        metrics_path: Some(t.metrics_path.to_owned()),
        tls_config: tls,
        auth,
        ..ScrapeCase::default()
    };
    let tls = || t.https.then(|| server_tls(true));
    let unauthorized = || Expectation::down(ErrorClass::Unauthorized);
    let mut cases = vec![case(
        "target-configured",
        "scraped as configured",
        scrape(t.https, tls(), configured_auth.clone()),
        Expectation::up(),
    )];
    if let Some((user, _)) = t.basic {
        cases.push(case(
            "target-no-credentials",
            "no credentials get 401",
            scrape(t.https, tls(), None),
            unauthorized(),
        ));
        cases.push(case(
            "target-wrong-password",
            "a wrong password gets 401",
            scrape(
                t.https,
                tls(),
                Some(ScrapeAuth::Basic {
                    username: user.to_owned(),
                    password: Some(Secret::Inline(format!(
                        "definitely-wrong-{}",
                        std::process::id()
                    ))),
                }),
            ),
            unauthorized(),
        ));
    }
    if t.basic.is_none() && t.bearer.is_some() {
        cases.push(case(
            "target-no-token",
            "no token gets 401",
            scrape(t.https, tls(), None),
            unauthorized(),
        ));
        cases.push(case(
            "target-wrong-token",
            "a wrong token gets 401",
            scrape(
                t.https,
                tls(),
                Some(ScrapeAuth::Authorization {
                    auth_type: None,
                    credentials: Some(Secret::Inline("definitely-wrong".to_owned())),
                }),
            ),
            unauthorized(),
        ));
    }
    if t.https {
        cases.push(case(
            "target-plain-http-to-tls-port",
            "a TLS port does not serve plain HTTP",
            scrape(false, None, configured_auth.clone()),
            Expectation::down(ErrorClass::HttpToHttps),
        ));
        if t.client_cert.is_some() {
            cases.push(case(
                "target-no-client-cert",
                "a client without a certificate is refused",
                scrape(true, Some(server_tls(false)), configured_auth.clone()),
                Expectation::down(ErrorClass::ClientCertRequired),
            ));
        }
    }
    cases
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

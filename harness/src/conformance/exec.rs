//! `--exec` mode: a preflight start with a plain web-config, then the exporter under test
//! is started from a command template, once per catalog case with that case's web-config
//! (by the runner, a few at a time), then twice more for the direct checks (Basic auth on
//! plain HTTP, with a random user and password; TLS).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use fake_exporter::pki::{KeyType, Pki, ServerCert};

use super::catalog::{self, DirectCase};
use super::direct::{self, Outcome};
use super::profile::Profile;
use super::report::{CheckResult, ConformanceReport};
use super::{bounded, ConformanceError, ConformanceOptions};
use crate::exporter_config::{web_config_yaml, WebConfigSpec};
use crate::runner::external::{ExternalExporter, StartFailure};
use crate::runner::{self, ExecTemplate, Launcher};

/// How long an exporter of the direct checks may take to listen.
const START_TIMEOUT: Duration = Duration::from_secs(15);
/// Runs the catalog against an exporter started per case from `template`, then the direct
/// checks against two more instances (Basic auth on plain HTTP; TLS); the whole run within
/// `opts.deadline`.
pub async fn run_exec(
    template: ExecTemplate,
    opts: &ConformanceOptions,
) -> Result<ConformanceReport, ConformanceError> {
    tokio::time::timeout(opts.deadline, exec_inner(template, opts))
        .await
        .map_err(|_| ConformanceError::Deadline(opts.deadline))?
}

async fn exec_inner(
    template: ExecTemplate,
    opts: &ConformanceOptions,
) -> Result<ConformanceReport, ConformanceError> {
    let plan = catalog::load(opts)?;
    let dir = super::temp_dir()?;
    super::preflight::exec(&template, dir.path()).await?;
    let (profile, profile_reason) = match opts.profile {
        Some(p) => (p, "--profile".to_owned()),
        None => (
            Profile::Toolkit,
            "--exec takes an exporter-toolkit web-config.yml".to_owned(),
        ),
    };
    let mut run_opts = opts.run.clone();
    run_opts.launcher = Launcher::Exec(template.clone());
    let report = runner::run(&plan, &run_opts).await?;
    let mut results = super::judge_run(&report, &plan, profile);
    results.extend(direct_exec(&template, opts, dir.path()).await?);
    Ok(ConformanceReport {
        subject: format!("--exec {}", template.as_str()),
        profile,
        profile_reason,
        posture: Vec::new(),
        scrape_timeout_s: plan.defaults.scrape_timeout.as_secs_f64(),
        fail_on: opts.fail_on,
        prometheus: report.prometheus.clone(),
        prometheus_version: format!("{} ({})", report.prometheus_version, report.go_version),
        results,
    })
}

/// Why an exporter of the direct checks is not serving.
#[derive(Debug)]
enum StartError {
    Port(std::io::Error),
    Exporter(StartFailure),
}

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Port(e) => write!(f, "no free local port: {e}"),
            Self::Exporter(e) => write!(f, "the exporter {e}"),
        }
    }
}

async fn start(template: &ExecTemplate, web_config: &Path) -> Result<ExternalExporter, StartError> {
    let port = crate::backend::free_local_port().map_err(StartError::Port)?;
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    ExternalExporter::start(template.render(addr, web_config), addr, START_TIMEOUT)
        .await
        .map_err(StartError::Exporter)
}

fn write(dir: &Path, name: &str, yaml: &str) -> Result<PathBuf, ConformanceError> {
    let path = dir.join(name);
    std::fs::write(&path, yaml).map_err(|source| ConformanceError::Io {
        what: "writing",
        path: path.clone(),
        source,
    })?;
    Ok(path)
}

async fn direct_exec(
    template: &ExecTemplate,
    opts: &ConformanceOptions,
    dir: &Path,
) -> Result<Vec<CheckResult>, ConformanceError> {
    let user = format!("u{}", super::random_token(11));
    let password = super::random_token(24);
    let (user, password) = (user.as_str(), password.as_str());
    let (basic_cfg, tls_cfg) = write_direct_configs(dir, user, password).await?;
    let mut out = basic_auth_checks(template, opts, &basic_cfg, user, password).await;
    out.push(tls_checks(template, &tls_cfg).await);
    Ok(out)
}

/// The two web-configs of the direct checks: Basic auth with `user` and `password` on plain
/// HTTP, and TLS with a fresh PKI's valid server certificate.
async fn write_direct_configs(
    dir: &Path,
    user: &str,
    password: &str,
) -> Result<(PathBuf, PathBuf), ConformanceError> {
    let pki = Pki::generate(KeyType::default()).map_err(|source| ConformanceError::Pki {
        what: "generating",
        source,
    })?;
    let files = pki
        .write_to(&dir.join("pki"))
        .map_err(|source| ConformanceError::Pki {
            what: "writing",
            source,
        })?;
    let hash = fake_exporter::hash_password(password, fake_exporter::DEFAULT_BCRYPT_COST)
        .await
        .map_err(ConformanceError::Hash)?;
    let basic_cfg = write(
        dir,
        "web-config-basic.yml",
        &web_config_yaml(&WebConfigSpec {
            basic_user: Some((user, &hash)),
            ..WebConfigSpec::default()
        }),
    )?;
    let (cert, key) = (
        files.server_cert(ServerCert::Valid),
        files.server_key(ServerCert::Valid),
    );
    let tls_cfg = write(
        dir,
        "web-config-tls.yml",
        &web_config_yaml(&WebConfigSpec {
            tls: Some((&cert, &key)),
            ..WebConfigSpec::default()
        }),
    )?;
    Ok((basic_cfg, tls_cfg))
}

/// The direct checks against an exporter started with the Basic-auth web-config; each fails
/// with the start error when it does not start.
async fn basic_auth_checks(
    template: &ExecTemplate,
    opts: &ConformanceOptions,
    basic_cfg: &Path,
    user: &str,
    password: &str,
) -> Vec<CheckResult> {
    let exporter = match start(template, basic_cfg).await {
        Ok(exporter) => exporter,
        Err(e) => {
            let cases: [DirectCase; 6] = [
                catalog::WWW_AUTHENTICATE,
                catalog::NO_SECRETS_ECHOED,
                catalog::CONTENT_TYPE,
                catalog::GZIP,
                catalog::OPENMETRICS,
                catalog::AUTH_TIMING,
            ];
            return cases
                .into_iter()
                .map(|case| {
                    case.result(Outcome::Fail(format!("with a Basic-auth web-config: {e}")))
                })
                .collect();
        }
    };
    let addr = exporter.addr;
    let mut out = Vec::new();
    out.push(
        bounded(
            catalog::WWW_AUTHENTICATE,
            direct::www_authenticate(addr, None, "/metrics"),
        )
        .await,
    );
    out.push(
        bounded(
            catalog::NO_SECRETS_ECHOED,
            direct::no_secrets_echoed(addr, None, "/metrics", user, password),
        )
        .await,
    );
    out.extend(
        super::negotiation_results(
            addr,
            None,
            "/metrics",
            Some(fake_exporter::basic_header(user, password)),
        )
        .await,
    );
    out.push(
        bounded(
            catalog::AUTH_TIMING,
            direct::auth_timing(
                addr,
                None,
                "/metrics",
                user,
                opts.timing_samples,
                opts.alpha,
                opts.timing_budget,
            ),
        )
        .await,
    );
    exporter.stop().await;
    out
}

/// The direct check against an exporter started with the TLS web-config.
async fn tls_checks(template: &ExecTemplate, tls_cfg: &Path) -> CheckResult {
    match start(template, tls_cfg).await {
        Ok(exporter) => {
            let result = bounded(
                catalog::OLD_TLS_REFUSED,
                direct::refuses_old_tls(exporter.addr, None),
            )
            .await;
            exporter.stop().await;
            result
        }
        Err(e) => {
            catalog::OLD_TLS_REFUSED.result(Outcome::Fail(format!("with a TLS web-config: {e}")))
        }
    }
}

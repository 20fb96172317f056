//! `--exec` mode: the exporter under test is started from a command template, once per
//! catalog case with that case's web-config (by the runner), then twice more for the
//! direct checks (Basic auth on plain HTTP; TLS).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use fake_exporter::pki::{KeyType, Pki, ServerCert};

use super::catalog::{self, DirectCase};
use super::direct::{self, Outcome};
use super::report::{results_from_run, CheckResult, ConformanceReport};
use super::{ConformanceError, ConformanceOptions};
use crate::exporter_config::{web_config_yaml, WebConfigSpec};
use crate::runner::external::{ExternalExporter, StartFailure};
use crate::runner::{self, ExecTemplate, Launcher};

/// How long an exporter of the direct checks may take to listen.
const START_TIMEOUT: Duration = Duration::from_secs(15);
/// The Basic-auth user of the direct checks.
const USER: &str = "prom";
/// Its password.
const PASSWORD: &str = "s3cret-conformance";

/// Runs the catalog against an exporter started per case from `template`, then the direct
/// checks against two more instances (Basic auth on plain HTTP; TLS).
pub async fn run_exec(
    template: ExecTemplate,
    opts: &ConformanceOptions,
) -> Result<ConformanceReport, ConformanceError> {
    let plan = catalog::load(opts)?;
    let mut run_opts = opts.run.clone();
    run_opts.launcher = Launcher::Exec(template.clone());
    let report = runner::run(&plan, &run_opts).await?;
    let mut results = results_from_run(&report, &plan);
    results.extend(direct_exec(&template, opts).await?);
    Ok(ConformanceReport {
        subject: format!("--exec {}", template.as_str()),
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
) -> Result<Vec<CheckResult>, ConformanceError> {
    let dir = tempfile::Builder::new()
        .prefix("scrape-harness-conformance-")
        .tempdir()
        .map_err(|source| ConformanceError::Io {
            what: "creating a temp dir in",
            path: std::env::temp_dir(),
            source,
        })?;
    let pki = Pki::generate(KeyType::default()).map_err(|source| ConformanceError::Pki {
        what: "generating",
        source,
    })?;
    let files = pki
        .write_to(&dir.path().join("pki"))
        .map_err(|source| ConformanceError::Pki {
            what: "writing",
            source,
        })?;
    let hash = fake_exporter::hash_password(PASSWORD, fake_exporter::DEFAULT_BCRYPT_COST)
        .await
        .map_err(ConformanceError::Hash)?;
    let basic_cfg = write(
        dir.path(),
        "web-config-basic.yml",
        &web_config_yaml(&WebConfigSpec {
            basic_user: Some((USER, &hash)),
            ..WebConfigSpec::default()
        }),
    )?;
    let (cert, key) = (
        files.server_cert(ServerCert::Valid),
        files.server_key(ServerCert::Valid),
    );
    let tls_cfg = write(
        dir.path(),
        "web-config-tls.yml",
        &web_config_yaml(&WebConfigSpec {
            tls: Some((&cert, &key)),
            ..WebConfigSpec::default()
        }),
    )?;

    let mut out = Vec::new();
    match start(template, &basic_cfg).await {
        Ok(exporter) => {
            let addr = exporter.addr;
            out.push(
                catalog::WWW_AUTHENTICATE
                    .result(direct::www_authenticate(addr, None, "/metrics").await),
            );
            out.push(
                catalog::NO_SECRETS_ECHOED.result(
                    direct::no_secrets_echoed(addr, None, "/metrics", USER, PASSWORD).await,
                ),
            );
            let (ct, gz, om) = direct::content_negotiation(
                addr,
                None,
                "/metrics",
                Some(fake_exporter::basic_header(USER, PASSWORD)),
            )
            .await;
            out.push(catalog::CONTENT_TYPE.result(ct));
            out.push(catalog::GZIP.result(gz));
            out.push(catalog::OPENMETRICS.result(om));
            out.push(
                catalog::AUTH_TIMING.result(
                    direct::auth_timing(
                        addr,
                        None,
                        "/metrics",
                        USER,
                        opts.timing_samples,
                        opts.alpha,
                    )
                    .await,
                ),
            );
            exporter.stop().await;
        }
        Err(e) => {
            let cases: [DirectCase; 3] = [
                catalog::WWW_AUTHENTICATE,
                catalog::NO_SECRETS_ECHOED,
                catalog::CONTENT_TYPE,
            ];
            for case in cases {
                out.push(case.result(Outcome::Fail(format!("with a Basic-auth web-config: {e}"))));
            }
        }
    }
    match start(template, &tls_cfg).await {
        Ok(exporter) => {
            out.push(catalog::OLD_TLS_REFUSED.result(direct::refuses_old_tls(exporter.addr).await));
            exporter.stop().await;
        }
        Err(e) => out.push(
            catalog::OLD_TLS_REFUSED.result(Outcome::Fail(format!("with a TLS web-config: {e}"))),
        ),
    }
    Ok(out)
}

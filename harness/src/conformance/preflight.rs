//! Preflight: before the catalog, make sure there is something to test. `--exec` starts the
//! exporter once with a plain web-config and asks for `/metrics`; `--target` connects once,
//! then checks the caller's own inputs with the configured scrape ([`target_inputs`]): a
//! wrong `--ca`, a client certificate or credentials the target needs and did not get.
//! A failure ends the run in seconds (exit 2) with the command, its exit status and its last
//! output lines, or what to pass, instead of scoring a typo as 32 MUST failures or blaming
//! the target for the caller's mistake.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use super::direct::{self, ClientTls, DirectError, TlsVersions};
use super::posture::Probe;
use super::ConformanceError;
use crate::runner::external::ExternalExporter;
use crate::runner::ExecTemplate;

/// How long the preflight exporter may take to listen.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// Deadline of the preflight TCP connect.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Starts the exporter with an empty (plain HTTP, no auth) web-config and fetches
/// `/metrics` once.
pub(crate) async fn exec(template: &ExecTemplate, dir: &Path) -> Result<(), ConformanceError> {
    let web_config = dir.join("web-config-preflight.yml");
    std::fs::write(&web_config, "# preflight: plain HTTP, no auth\n").map_err(|source| {
        ConformanceError::Io {
            what: "writing",
            path: web_config.clone(),
            source,
        }
    })?;
    let port = crate::backend::free_local_port().map_err(|source| ConformanceError::Io {
        what: "finding a free port on",
        path: "127.0.0.1".into(),
        source,
    })?;
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let command = template.render(addr, &web_config);
    let fail = |detail: String| ConformanceError::Preflight {
        subject: format!("`{command}`"),
        detail,
    };
    let exporter = ExternalExporter::start(command.clone(), addr, START_TIMEOUT)
        .await
        .map_err(|e| fail(format!("with an empty (plain) web-config the exporter {e}")))?;
    let answer = direct::get(addr, None, "/metrics", &[]).await;
    exporter.stop().await;
    match answer {
        Ok(r) if r.status == 200 => Ok(()),
        Ok(r) => Err(fail(format!(
            "with an empty (plain) web-config, GET /metrics answered {} (expected 200)",
            r.status
        ))),
        Err(e) => Err(fail(format!(
            "with an empty (plain) web-config, GET /metrics failed: {e}"
        ))),
    }
}

/// Connects once to `addr` (TCP, with a deadline).
pub(crate) async fn target(addr: SocketAddr) -> Result<(), ConformanceError> {
    let fail = |detail: String| ConformanceError::Preflight {
        subject: format!("--target {addr}"),
        detail,
    };
    match tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::TcpStream::connect(addr)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(fail(format!(
            "cannot connect: {e}; is the exporter running and listening on {addr}?"
        ))),
        Err(_) => Err(fail(format!(
            "no TCP connection within {CONNECT_TIMEOUT:?}"
        ))),
    }
}

/// The configured scrape, made once directly before any case runs: it must be served.
/// What the caller gave cannot work when our client cannot verify the server's
/// certificate with `--ca`, when the target asks for a client certificate and none was
/// given and it refuses without one, or when it answers the configured request with a
/// 4xx (credentials missing or wrong, a wrong `--metrics-path`); each ends the run (exit 2)
/// with what to pass. A target that does not answer at all is left to the cases (TIMEOUT).
pub(crate) async fn target_inputs(
    target: &str,
    p: &Probe,
    credentials_given: bool,
) -> Result<(), ConformanceError> {
    let asked = Arc::new(AtomicBool::new(false));
    let tls = p.tls.then(|| ClientTls {
        ca_file: p.ca.clone(),
        verify_server: true,
        client_cert: p.client_cert.clone(),
        server_name: p.server_name.clone(),
        versions: TlsVersions::Both,
        cert_requested: Some(asked.clone()),
    });
    let headers: Vec<(&str, String)> = p
        .auth_header
        .iter()
        .map(|h| ("Authorization", h.clone()))
        .collect();
    let answer = direct::get(p.addr, tls.as_ref(), &p.path, &headers).await;
    let asked = asked.load(Ordering::SeqCst);
    let fail = |reason: String| {
        Err(ConformanceError::Inputs {
            target: target.to_owned(),
            reason,
        })
    };
    let needs_cert = |observed: String| {
        fail(format!(
            "the target requires a client certificate: pass --client-cert/--client-key (it asked for one, and without one {observed})"
        ))
    };
    let no_cert = p.client_cert.is_none();
    let ca =
        p.ca.as_ref()
            .map(|c| c.display().to_string())
            .unwrap_or_default();
    match answer {
        Err(DirectError::Timeout { .. }) => Ok(()),
        Err(e) => {
            let text = super::report::one_line(&e.to_string());
            if let Some(c) = direct::rejected_by_client(&e) {
                use rustls::CertificateError as C;
                return fail(match c {
                    C::UnknownIssuer | C::BadSignature => format!(
                        "the server's certificate is not signed by the CA in --ca ({ca}): {text}; pass the CA that signed it"
                    ),
                    C::NotValidForName | C::NotValidForNameContext { .. } => format!(
                        "the server's certificate is not valid for `{}` (the --target host): {text}",
                        p.server_name
                    ),
                    _ => format!(
                        "the client cannot verify the server's certificate with --ca ({ca}): {text}"
                    ),
                });
            }
            if asked && no_cert {
                return needs_cert(format!("the connection failed: {text}"));
            }
            if asked {
                return fail(format!(
                    "the configured scrape failed with the client certificate given (--client-cert): {text}; is it from the CA the target trusts?"
                ));
            }
            fail(format!("the configured scrape failed: {text}"))
        }
        Ok(r) if (200..300).contains(&r.status) => Ok(()),
        Ok(r) if asked && no_cert && matches!(r.status, 400 | 403 | 495 | 496) => {
            needs_cert(format!("it answered HTTP {}", r.status))
        }
        Ok(r) if matches!(r.status, 401 | 403) => {
            let challenge = r
                .header("www-authenticate")
                .map(|c| format!(" (WWW-Authenticate: {c})"))
                .unwrap_or_default();
            if credentials_given {
                fail(format!(
                    "the configured scrape got HTTP {}{challenge} with the credentials given: check --basic-auth / --bearer-file",
                    r.status
                ))
            } else {
                fail(format!(
                    "the configured scrape got HTTP {}{challenge}: the target wants credentials: give --basic-auth USER:PASSWORD_FILE or --bearer-file FILE",
                    r.status
                ))
            }
        }
        Ok(r) => fail(format!(
            "the configured scrape (GET {}) got HTTP {}, not metrics: check --metrics-path and --scheme",
            p.path, r.status
        )),
    }
}

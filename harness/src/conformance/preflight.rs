//! Preflight: before the catalog, make sure there is something to test. `--exec` starts the
//! exporter once with a plain web-config and asks for `/metrics`; `--target` connects once.
//! A failure ends the run in seconds (exit 2) with the command, its exit status and its last
//! output lines, instead of scoring a typo as 32 MUST failures.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use super::direct;
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

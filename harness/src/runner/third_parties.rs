//! Starts the third parties of a case (its OAuth2 token endpoint, forward proxy, nginx in
//! front of the exporter), adds what they need to its scrape job, and judges their
//! counters once the scrapes have stopped.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::Path;

use fake_exporter::pki::PkiFiles;
use fake_exporter::{
    ExporterBuilder, ForwardProxy, PemSource, ProxyStats, RunningForwardProxy,
    RunningTokenEndpoint, TokenEndpoint, TokenStats,
};

use super::exporters::tls_config;
use super::RunError;
use crate::nginx::{NginxConfig, RunningNginx};
use crate::promconfig::{OAuth2, ScrapeConfig};
use crate::scenario::{Case, Count, FileRef, ReverseProxy, Secret};

/// The running third parties of one case (all stopped on drop).
#[derive(Debug, Default)]
pub(super) struct Handles {
    token_endpoint: Option<RunningTokenEndpoint>,
    forward_proxy: Option<RunningForwardProxy>,
    /// `proxy_url` of the job (a running proxy, or a closed port for `absent`).
    proxy_url: Option<String>,
    nginx: Option<RunningNginx>,
}

fn failed(
    case: &Case,
    party: &'static str,
    source: impl std::error::Error + Send + Sync + 'static,
) -> RunError {
    RunError::ThirdParty {
        case: case.name.clone(),
        party,
        source: Box::new(source),
    }
}

/// Starts what must run before the exporter: the token endpoint (whose store the exporter
/// accepts tokens from) and the forward proxy.
pub(super) async fn start_before_exporter(
    case: &Case,
    pki: &PkiFiles,
) -> Result<Handles, RunError> {
    let t = &case.third_parties;
    let mut handles = Handles::default();
    if let Some(te) = &t.token_endpoint {
        let mut b = TokenEndpoint::builder()
            .client(te.client_id.clone(), te.client_secret.clone())
            .lifetime(te.token_lifetime);
        if let Some(scopes) = &te.scopes {
            b = b.scopes(scopes.iter().cloned());
        }
        for (name, value) in &te.required_params {
            b = b.require_param(name.clone(), value.clone());
        }
        if let Some(secs) = te.advertise_expires_in {
            b = b.advertise_expires_in(secs);
        }
        if let Some(which) = te.server_cert {
            let file = |f: std::path::PathBuf| PemSource::file(f);
            b = b.tls(file(pki.server_cert(which)), file(pki.server_key(which)));
        }
        handles.token_endpoint = Some(
            b.start()
                .await
                .map_err(|e| failed(case, "the OAuth2 token endpoint", e))?,
        );
    }
    if let Some(fp) = &t.forward_proxy {
        if fp.absent {
            let port = crate::backend::free_local_port().map_err(|source| RunError::Setup {
                what: "finding a free port for an absent proxy on",
                path: "127.0.0.1".into(),
                source,
            })?;
            handles.proxy_url = Some(format!("http://127.0.0.1:{port}"));
        } else {
            let mut b = ForwardProxy::builder();
            for (user, password) in &fp.users {
                b = b.user(user.clone(), password.clone());
            }
            let proxy = b
                .start()
                .await
                .map_err(|e| failed(case, "the forward proxy", e))?;
            handles.proxy_url = Some(match &fp.url_credentials {
                Some((user, password)) => format!("http://{user}:{password}@{}", proxy.addr()),
                None => proxy.url(),
            });
            handles.forward_proxy = Some(proxy);
        }
    }
    Ok(handles)
}

/// The case as its fake exporter should see it: behind a reverse proxy, TLS, Basic auth
/// and client certificates are nginx' business and the exporter is plain HTTP.
pub(super) fn exporter_view(case: &Case) -> Cow<'_, Case> {
    if case.third_parties.reverse_proxy.is_none() {
        return Cow::Borrowed(case);
    }
    let mut plain = case.clone();
    plain.exporter.tls = None;
    plain.exporter.basic_auth_users.clear();
    Cow::Owned(plain)
}

/// Lets the exporter accept the token endpoint's tokens.
pub(super) fn exporter_builder(handles: &Handles, builder: ExporterBuilder) -> ExporterBuilder {
    match &handles.token_endpoint {
        Some(te) => builder.oauth2_tokens(te.store()),
        None => builder,
    }
}

/// Starts nginx in front of the exporter at `upstream` when the case asks for it; returns
/// the port Prometheus must scrape (nginx', or the exporter's).
pub(super) async fn start_in_front(
    case: &Case,
    handles: &mut Handles,
    pki: &PkiFiles,
    hashes: &HashMap<String, String>,
    upstream: SocketAddr,
) -> Result<(u16, Option<String>), RunError> {
    let Some(ReverseProxy::Nginx) = case.third_parties.reverse_proxy else {
        return Ok((upstream.port(), None));
    };
    let e = &case.exporter;
    let mut last = None;
    // A free port is found by binding and releasing it; another process may take it in
    // between, so a start that fails is retried on a new port.
    for _ in 0..3 {
        let port = crate::backend::free_local_port().map_err(|source| RunError::Setup {
            what: "finding a free port for nginx on",
            path: "127.0.0.1".into(),
            source,
        })?;
        let mut config = NginxConfig::new(
            SocketAddr::new(case.scrape.target_host.listen_ip(), port),
            upstream,
        );
        if let Some(tls) = &e.tls {
            config.tls = Some((
                pki.server_cert(tls.server_cert),
                pki.server_key(tls.server_cert),
            ));
            config.client_ca = tls
                .client_ca
                .map(|ca| FileRef::Pki(ca).resolve(pki, Path::new("/")));
        }
        // Invariant: `hash_passwords` hashed every password of every case.
        config.basic_auth_users = e
            .basic_auth_users
            .iter()
            .map(|(user, password)| (user.clone(), hashes[password].clone()))
            .collect();
        match RunningNginx::start(&config).await {
            Ok(nginx) => {
                let conf = nginx.conf().to_owned();
                handles.nginx = Some(nginx);
                return Ok((port, Some(conf)));
            }
            Err(err) => last = Some(err),
        }
    }
    // Invariant: the loop ran at least once and every pass that did not return set `last`.
    Err(failed(
        case,
        "nginx",
        last.expect("three attempts were made"),
    ))
}

/// Adds the token endpoint and the proxy to the case's job.
pub(super) fn amend_job(
    job: &mut ScrapeConfig,
    case: &Case,
    handles: &Handles,
    pki: &PkiFiles,
    files_dir: &Path,
) {
    let t = &case.third_parties;
    let path = |f: &FileRef| f.resolve(pki, files_dir);
    if let (Some(o), Some(te)) = (&t.oauth2, &handles.token_endpoint) {
        let (client_secret, client_secret_file) = match &o.client_secret {
            Some(Secret::Inline(v)) => (Some(v.clone()), None),
            Some(Secret::File(f)) => (None, Some(path(f))),
            None => (None, None),
        };
        job.oauth2 = Some(OAuth2 {
            client_id: o.client_id.clone(),
            client_secret,
            client_secret_file,
            scopes: o.scopes.clone(),
            token_url: te.token_url(),
            endpoint_params: o.endpoint_params.clone(),
            tls_config: o.tls_config.as_ref().map(|t| tls_config(t, &path)),
        });
    }
    job.proxy_url = handles.proxy_url.clone();
    job.proxy_connect_header = t.proxy_connect_header.clone();
}

/// The third parties' counters after the run.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Observed {
    pub(super) token_endpoint: Option<TokenStats>,
    pub(super) proxy: Option<ProxyStats>,
}

/// Reads the counters (call once the scrapes have stopped).
pub(super) fn observe(handles: &Handles) -> Observed {
    Observed {
        token_endpoint: handles
            .token_endpoint
            .as_ref()
            .map(RunningTokenEndpoint::stats),
        proxy: handles
            .forward_proxy
            .as_ref()
            .map(RunningForwardProxy::stats),
    }
}

/// Failures of the case's `expect.token_endpoint` / `expect.proxy`, one line each.
pub(super) fn failures(case: &Case, observed: &Observed) -> Vec<String> {
    let t = &case.third_parties;
    let mut out = Vec::new();
    if let Some(s) = observed.token_endpoint {
        let counters = BTreeMap::from([
            ("requests", s.requests),
            ("issued", s.issued),
            ("invalid_client", s.invalid_client),
            ("invalid_scope", s.invalid_scope),
            ("invalid_request", s.invalid_request),
        ]);
        check(
            &t.expect_token_endpoint,
            &counters,
            "token endpoint",
            &mut out,
        );
    }
    if let Some(s) = observed.proxy {
        let counters = BTreeMap::from([
            ("connections", s.connections),
            ("tunnels", s.tunnels),
            ("forwarded", s.forwarded),
            ("auth_refused", s.auth_refused),
            ("upstream_failed", s.upstream_failed),
            ("refused", s.refused),
        ]);
        check(&t.expect_proxy, &counters, "proxy", &mut out);
    }
    out
}

fn check(
    want: &BTreeMap<String, Count>,
    have: &BTreeMap<&str, u64>,
    party: &str,
    out: &mut Vec<String>,
) {
    for (name, count) in want {
        // Invariant: scenario parsing accepts only the counter names listed in `have`.
        let n = have.get(name.as_str()).copied().unwrap_or_default();
        if !count.accepts(n) {
            out.push(format!(
                "{party} {name}: expected {count}, observed {n} (all counters: {})",
                have.iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            ));
        }
    }
}

//! `--target` mode: a client-side audit of an exporter that is already running. Preflight
//! (one TCP connect), then the posture probes (transport, TLS versions, client-certificate
//! policy, HTTP auth; the profile is detected from the answers), then every case that needs
//! no restart as a Prometheus job (the `--target` catalog, `scenarios/conformance-target.yaml`,
//! filled in by `target_catalog`): the configured scrape, missing and wrong credentials,
//! plain HTTP to the TLS port, TLS 1.2-only and 1.3-only clients, client certificates made
//! here (unknown CA, self-signed, expired; with the client CA also expired and
//! serverAuth-only ones from the right CA), then the direct checks, the `--require` cases,
//! and every catalog case that was not run, as NOT TESTED with why.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use super::catalog::{self, DirectCase, Level};
use super::direct::{self, ClientTls, Outcome};
use super::posture::{self, ClientCertPolicy, HttpAuth, Posture, Probe, Requirement};
use super::profile::{self, Profile};
use super::report::{CheckResult, CheckVerdict, ConformanceReport};
use super::{bounded, ConformanceError, ConformanceOptions};
use fake_exporter::pki::{ClientCert, KeyType, Pki};

use crate::runner::{self, Launcher};
use crate::scenario::TargetHost;

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
    /// The CA (certificate, key) the target trusts for client certificates: probe
    /// certificates (valid, expired, serverAuth-only) are issued from it.
    pub client_ca: Option<(PathBuf, PathBuf)>,
    /// Minimums the target must meet (`--require`).
    pub require: Vec<Requirement>,
}

/// Audits a running exporter: posture, every case that needs no restart, the direct
/// checks its configuration allows, `--require`, and NOT TESTED for the rest; the whole run
/// within `opts.deadline`.
pub async fn run_target(
    spec: &TargetSpec,
    opts: &ConformanceOptions,
) -> Result<ConformanceReport, ConformanceError> {
    tokio::time::timeout(opts.deadline, target_inner(spec, opts))
        .await
        .map_err(|_| ConformanceError::Deadline(opts.deadline))?
}

/// The files and settings of a `--target` run, checked.
struct Resolved {
    addr: SocketAddr,
    host: String,
    target_host: TargetHost,
    ca: Option<PathBuf>,
    client_cert: Option<(PathBuf, PathBuf)>,
    basic: Option<(String, PathBuf)>,
    /// The Basic-auth password, read once from its file (trailing newline removed).
    password: Option<String>,
    bearer: Option<PathBuf>,
    client_ca: Option<(PathBuf, PathBuf)>,
}

fn resolve(spec: &TargetSpec) -> Result<Resolved, ConformanceError> {
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
    let target_host = if ip.is_ipv6() {
        TargetHost::Ipv6Loopback
    } else if host == "localhost" {
        TargetHost::Localhost
    } else {
        TargetHost::Ipv4Loopback
    };
    let pair = |(c, k): &(PathBuf, PathBuf), what: (&'static str, &'static str)| {
        Ok::<_, ConformanceError>((absolute(what.0, c)?, absolute(what.1, k)?))
    };
    let resolved = Resolved {
        addr: SocketAddr::new(ip, port),
        host: host.trim_matches(|c| c == '[' || c == ']').to_owned(),
        target_host,
        ca: spec
            .ca
            .as_deref()
            .map(|p| absolute("the CA file", p))
            .transpose()?,
        client_cert: spec
            .client_cert
            .as_ref()
            .map(|p| pair(p, ("the client certificate", "the client key")))
            .transpose()?,
        basic: match &spec.basic_auth {
            Some((u, f)) => Some((u.clone(), absolute("the Basic-auth password file", f)?)),
            None => None,
        },
        bearer: spec
            .bearer_file
            .as_deref()
            .map(|p| absolute("the Bearer token file", p))
            .transpose()?,
        client_ca: spec
            .client_ca
            .as_ref()
            .map(|p| pair(p, ("the client CA certificate", "the client CA key")))
            .transpose()?,
        password: None,
    };
    let mut resolved = resolved;
    if let Some((_, f)) = &resolved.basic {
        let password = read_secret("reading the Basic-auth password file", f)?;
        resolved.password = Some(password.trim_end_matches(['\r', '\n']).to_owned());
    }
    if spec.https && resolved.ca.is_none() {
        return Err(ConformanceError::MissingCa {
            target: spec.target.clone(),
        });
    }
    Ok(resolved)
}

async fn target_inner(
    spec: &TargetSpec,
    opts: &ConformanceOptions,
) -> Result<ConformanceReport, ConformanceError> {
    let t = resolve(spec)?;
    super::preflight::target(t.addr).await?;
    let dir = super::temp_dir()?;

    let probes = probe_certs(dir.path(), t.client_ca.as_ref())?;
    let auth_header = auth_header(&t)?;
    let probe = Probe {
        addr: t.addr,
        server_name: t.host.clone(),
        tls: spec.https,
        ca: t.ca.clone(),
        verify_server: true,
        client_cert: t.client_cert.clone(),
        unknown_ca_cert: Some(probes.unknown_ca.clone()),
        auth_header: auth_header.clone(),
        path: spec.metrics_path.clone(),
    };
    super::preflight::target_inputs(
        &spec.target,
        &probe,
        t.basic.is_some() || t.bearer.is_some(),
    )
    .await?;
    let posture = posture::probe(&probe).await;
    let (profile, profile_reason) = match opts.profile {
        Some(p) => (p, "--profile".to_owned()),
        None if !posture.answered => (
            Profile::Generic,
            "the target did not answer: nothing to detect".to_owned(),
        ),
        None => profile::detect(&posture.fingerprint),
    };

    let plan = super::target_catalog::target_plan(&TargetCases {
        https: spec.https,
        target_host: t.target_host,
        metrics_path: &spec.metrics_path,
        ca: t.ca.as_deref(),
        client_cert: t
            .client_cert
            .as_ref()
            .map(|(c, k)| (c.as_path(), k.as_path())),
        basic: t.basic.as_ref().map(|(u, f)| (u.as_str(), f.as_path())),
        bearer: t.bearer.as_deref(),
        probes: &probes,
        posture: &posture,
    })?;
    let plan = catalog::prepare(plan, opts);
    let mut run_opts = opts.run.clone();
    run_opts.launcher = Launcher::Running(t.addr);
    let mut mounts: Vec<PathBuf> = [
        t.ca.clone(),
        t.client_cert.as_ref().map(|c| c.0.clone()),
        t.client_cert.as_ref().map(|c| c.1.clone()),
        t.basic.as_ref().map(|b| b.1.clone()),
        t.bearer.clone(),
    ]
    .into_iter()
    .flatten()
    .filter_map(|p| p.parent().map(Path::to_owned))
    .collect();
    mounts.push(dir.path().to_owned());
    run_opts.extra_mounts.extend(mounts);
    run_opts.extra_mounts.sort();
    run_opts.extra_mounts.dedup();
    crate::runner::make_world_readable(dir.path());
    let report = runner::run(&plan, &run_opts).await?;
    let mut results = super::judge_run(&report, &plan, profile);
    results.extend(direct_checks(spec, &t, &posture, auth_header, opts).await?);
    results.push(posture.protection_result());
    results.extend(posture.requirement_results(&spec.require));
    results.extend(not_tested(opts, &t, &posture)?);

    Ok(ConformanceReport {
        subject: format!("--target {}", spec.target),
        profile,
        profile_reason,
        posture: posture.lines(),
        scrape_timeout_s: plan.defaults.scrape_timeout.as_secs_f64(),
        fail_on: opts.fail_on,
        prometheus: report.prometheus.clone(),
        prometheus_version: format!("{} ({})", report.prometheus_version, report.go_version),
        results,
    })
}

/// A file of the caller's, read whole; `what` names it in the error.
fn read_secret(what: &'static str, f: &Path) -> Result<String, ConformanceError> {
    std::fs::read_to_string(f).map_err(|source| ConformanceError::Io {
        what,
        path: f.to_owned(),
        source,
    })
}

/// The `Authorization` header of the user's credentials.
fn auth_header(t: &Resolved) -> Result<Option<String>, ConformanceError> {
    Ok(match (&t.basic, &t.password, &t.bearer) {
        (Some((u, _)), Some(password), _) => Some(fake_exporter::basic_header(u, password)),
        (None, _, Some(f)) => {
            let token = read_secret("reading the Bearer token file", f)?;
            Some(format!("Bearer {}", token.trim()))
        }
        _ => None,
    })
}

/// Client certificates made for the audit, as (certificate, key) files.
pub(super) struct ProbeCerts {
    /// Issued by a CA generated here (unknown to the target).
    pub(super) unknown_ca: (PathBuf, PathBuf),
    /// Expired, from that unknown CA.
    pub(super) expired_unknown_ca: (PathBuf, PathBuf),
    /// Self-signed.
    pub(super) self_signed: (PathBuf, PathBuf),
    /// From the target's client CA (`--client-ca-cert/--client-ca-key`): valid, expired,
    /// serverAuth-only.
    pub(super) from_client_ca: Option<[(PathBuf, PathBuf); 3]>,
}

fn probe_certs(
    dir: &Path,
    client_ca: Option<&(PathBuf, PathBuf)>,
) -> Result<ProbeCerts, ConformanceError> {
    let pki_err = |what| move |source| ConformanceError::Pki { what, source };
    let pki = Pki::generate(KeyType::default()).map_err(pki_err("generating"))?;
    let files = pki.write_to(&dir.join("pki")).map_err(pki_err("writing"))?;
    let pair = |which| (files.client_cert(which), files.client_key(which));
    let write = |name: &str, id: &fake_exporter::pki::Identity| {
        let cert = dir.join(format!("probe-{name}.crt"));
        let key = dir.join(format!("probe-{name}.key"));
        for (path, text) in [(&cert, &id.cert_chain_pem), (&key, &id.key_pem)] {
            std::fs::write(path, text).map_err(|source| ConformanceError::Io {
                what: "writing",
                path: path.clone(),
                source,
            })?;
        }
        Ok::<_, ConformanceError>((cert, key))
    };
    let self_signed = fake_exporter::pki::self_signed_client().map_err(pki_err("generating"))?;
    let from_client_ca = match client_ca {
        None => None,
        Some((cert, key)) => {
            let read = |what, p: &PathBuf| {
                std::fs::read_to_string(p).map_err(|source| ConformanceError::Io {
                    what,
                    path: p.clone(),
                    source,
                })
            };
            let issued = fake_exporter::pki::issued_by(
                &read("reading the client CA certificate", cert)?,
                &read("reading the client CA key", key)?,
            )
            .map_err(pki_err("issuing probe certificates from"))?;
            let mut written = Vec::new();
            for p in &issued {
                written.push(write(p.name, &p.identity)?);
            }
            let Ok(three) = <[(PathBuf, PathBuf); 3]>::try_from(written) else {
                unreachable!("issued_by issues three certificates");
            };
            Some(three)
        }
    };
    Ok(ProbeCerts {
        unknown_ca: pair(ClientCert::Valid),
        expired_unknown_ca: pair(ClientCert::Expired),
        self_signed: write("self-signed", &self_signed.identity)?,
        from_client_ca,
    })
}

/// The direct checks the target's configuration allows; TIMEOUT rows when it never
/// answered (each would only wait for its deadline).
async fn direct_checks(
    spec: &TargetSpec,
    t: &Resolved,
    posture: &Posture,
    auth_header: Option<String>,
    opts: &ConformanceOptions,
) -> Result<Vec<CheckResult>, ConformanceError> {
    let mut cases: Vec<DirectCase> = Vec::new();
    if t.basic.is_some() {
        cases.extend([
            catalog::WWW_AUTHENTICATE,
            catalog::NO_SECRETS_ECHOED,
            catalog::AUTH_TIMING,
        ]);
    }
    cases.extend([catalog::CONTENT_TYPE, catalog::GZIP, catalog::OPENMETRICS]);
    if spec.https {
        cases.push(catalog::OLD_TLS_REFUSED);
    }
    if !posture.answered {
        return Ok(cases
            .into_iter()
            .map(|c| {
                let mut r = c.result(Outcome::Fail(
                    "the target accepted TCP but did not answer the first request within 10s"
                        .into(),
                ));
                r.verdict = CheckVerdict::Timeout;
                r
            })
            .collect());
    }
    let client_tls = spec.https.then(|| ClientTls {
        ca_file: t.ca.clone(),
        client_cert: t.client_cert.clone(),
        server_name: t.host.clone(),
        ..ClientTls::default()
    });
    let tls = client_tls.as_ref();
    let path = spec.metrics_path.as_str();
    let addr = t.addr;
    let mut results = Vec::new();
    if let (Some((u, _)), Some(password)) = (&t.basic, &t.password) {
        results.push(
            bounded(
                catalog::WWW_AUTHENTICATE,
                direct::www_authenticate(addr, tls, path),
            )
            .await,
        );
        results.push(
            bounded(
                catalog::NO_SECRETS_ECHOED,
                direct::no_secrets_echoed(addr, tls, path, u, password),
            )
            .await,
        );
        results.push(
            bounded(
                catalog::AUTH_TIMING,
                direct::auth_timing(
                    addr,
                    tls,
                    path,
                    u,
                    opts.timing_samples,
                    opts.alpha,
                    opts.timing_budget,
                ),
            )
            .await,
        );
    }
    results.extend(super::negotiation_results(addr, tls, path, auth_header).await);
    if spec.https {
        results.push(
            bounded(
                catalog::OLD_TLS_REFUSED,
                direct::refuses_old_tls(addr, t.client_cert.as_ref()),
            )
            .await,
        );
    }
    Ok(results)
}

/// Every catalog case (and direct check) that was not run, as NOT TESTED with why.
fn not_tested(
    opts: &ConformanceOptions,
    t: &Resolved,
    posture: &Posture,
) -> Result<Vec<CheckResult>, ConformanceError> {
    let catalog = catalog::load(opts)?;
    let mut out: Vec<CheckResult> = catalog
        .cases
        .iter()
        .map(|c| {
            let mut r = CheckResult::new(
                &c.name,
                c.level.unwrap_or(Level::May),
                "catalog case",
                CheckVerdict::NotTested,
                "needs the exporter restarted with this case's web-config: run `conformance --exec` to test it",
            );
            r.rationale = c.rationale.clone().unwrap_or_default();
            r.reference = c.reference.clone().unwrap_or_default();
            r
        })
        .collect();
    if t.basic.is_none() {
        for c in [
            catalog::WWW_AUTHENTICATE,
            catalog::NO_SECRETS_ECHOED,
            catalog::AUTH_TIMING,
        ] {
            // Served without credentials (the configured scrape was): the target has no
            // Basic auth to check, detected. Otherwise the caller chose other credentials.
            out.push(c.result(if posture.http_auth == HttpAuth::None {
                Outcome::NotApplicable(
                    "the target serves metrics without credentials: no Basic auth to check".into(),
                )
            } else {
                Outcome::NotTested(
                    "no --basic-auth given: the Basic-auth checks need the credentials".into(),
                )
            }));
        }
    }
    if posture.tls && t.client_cert.is_none() && posture.client_certs == ClientCertPolicy::None {
        out.push(CheckResult::new(
            "target-client-certificates",
            Level::Should,
            "bad client certificates refused",
            CheckVerdict::NotApplicable,
            "the target never asks for a client certificate (no CertificateRequest) and serves without one: nothing to refuse",
        ));
    }
    if t.client_ca.is_none() && posture.tls && posture.client_certs != ClientCertPolicy::None {
        out.push(CheckResult::new(
            "target-client-cert-from-client-ca",
            Level::Must,
            "expired and serverAuth-only certificates from the right CA refused",
            CheckVerdict::NotTested,
            "needs the client CA to issue them: --client-ca-cert and --client-ca-key",
        ));
    }
    Ok(out)
}

/// What the `--target` catalog's placeholders and conditions are filled from.
pub(super) struct TargetCases<'a> {
    pub(super) https: bool,
    pub(super) target_host: TargetHost,
    pub(super) metrics_path: &'a str,
    pub(super) ca: Option<&'a Path>,
    pub(super) client_cert: Option<(&'a Path, &'a Path)>,
    /// User and password file.
    pub(super) basic: Option<(&'a str, &'a Path)>,
    pub(super) bearer: Option<&'a Path>,
    pub(super) probes: &'a ProbeCerts,
    pub(super) posture: &'a Posture,
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

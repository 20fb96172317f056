//! `--target` mode: a client-side audit of an exporter that is already running. Preflight
//! (one TCP connect), then the posture probes (transport, TLS versions, client-certificate
//! policy, HTTP auth; the profile is detected from the answers), then every case that needs
//! no restart as a Prometheus job: the configured scrape, missing and wrong credentials,
//! plain HTTP to the TLS port, TLS 1.2-only and 1.3-only clients, client certificates made
//! here (unknown CA, self-signed, expired; with the client CA also expired and
//! serverAuth-only ones from the right CA), then the direct checks, the `--require` cases,
//! and every catalog case that was not run, as NOT TESTED with why.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use super::catalog::{self, DirectCase, Level};
use super::direct::{self, ClientTls, Outcome};
use super::posture::{self, ClientCertPolicy, Posture, Probe, Requirement};
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
        client_cert: t.client_cert.clone(),
        unknown_ca_cert: Some(probes.unknown_ca.clone()),
        auth_header: auth_header.clone(),
        path: spec.metrics_path.clone(),
    };
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
                direct::auth_timing(addr, tls, path, u, opts.timing_samples, opts.alpha),
            )
            .await,
        );
    }
    results.extend(super::negotiation_results(addr, tls, path, auth_header).await);
    if spec.https {
        results.push(bounded(catalog::OLD_TLS_REFUSED, direct::refuses_old_tls(addr)).await);
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
            let mut r = c.result(Outcome::NotApplicable(String::new()));
            r.verdict = CheckVerdict::NotTested;
            r.detail = "no --basic-auth given: the Basic-auth checks need the credentials".into();
            out.push(r);
        }
    }
    if posture.tls && t.client_cert.is_none() && posture.client_certs == ClientCertPolicy::None {
        out.push(CheckResult::new(
            "target-client-certificates",
            Level::Should,
            "bad client certificates refused",
            CheckVerdict::NotTested,
            "the target never asks for a client certificate and none was given (--client-cert): nothing to refuse",
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

/// The cases as the code built them before the catalog (kept for the equivalence test).
#[cfg(test)]
mod old {
    use super::*;
    use fake_exporter::pki::ServerCert;
    use fake_exporter::ClientAuthType;

    use crate::classify::ErrorClass;
    use crate::promconfig::{Scheme, TlsVersion};
    use crate::scenario::{
        Case, Expectation, ExporterCase, ExporterTls, FileRef, KeepAlive, ScrapeAuth, ScrapeCase,
        ScrapeTls, Secret,
    };

    /// The words of one generated case: its name, level and rationale.
    struct CaseText {
        name: &'static str,
        level: Level,
        rationale: &'static str,
    }

    /// The credentials a generated auth case presents instead of the configured ones.
    #[derive(Clone, Copy)]
    enum BadCredentials {
        /// None at all.
        Missing,
        /// The configured user with a wrong password.
        WrongPassword,
        /// An unknown user with the configured password file.
        UnknownUser,
        /// A wrong bearer token.
        WrongToken,
    }

    /// The Basic-auth cases (with `--basic-auth`): each refused as unauthorized.
    const BASIC_AUTH_CASES: &[(CaseText, BadCredentials)] = &[
        (
            CaseText {
                name: "target-no-credentials",
                level: Level::Must,
                rationale: "a request without credentials is refused",
            },
            BadCredentials::Missing,
        ),
        (
            CaseText {
                name: "target-wrong-password",
                level: Level::Must,
                rationale: "a wrong password is refused",
            },
            BadCredentials::WrongPassword,
        ),
        (
            CaseText {
                name: "target-unknown-user",
                level: Level::Must,
                rationale: "an unknown user is refused",
            },
            BadCredentials::UnknownUser,
        ),
    ];

    /// The bearer-token cases (with a token and no `--basic-auth`): each refused as unauthorized.
    const BEARER_CASES: &[(CaseText, BadCredentials)] = &[
        (
            CaseText {
                name: "target-no-token",
                level: Level::Must,
                rationale: "a request without a token is refused",
            },
            BadCredentials::Missing,
        ),
        (
            CaseText {
                name: "target-wrong-token",
                level: Level::Must,
                rationale: "a wrong token is refused",
            },
            BadCredentials::WrongToken,
        ),
    ];

    /// Clients limited to one TLS version: (name, min_version, max_version).
    const TLS_VERSION_CASES: &[(&str, Option<TlsVersion>, Option<TlsVersion>)] = &[
        ("target-tls12-only-client", None, Some(TlsVersion::Tls12)),
        ("target-tls13-only-client", Some(TlsVersion::Tls13), None),
    ];

    /// The rationale of every `TLS_VERSION_CASES` case.
    const TLS_VERSION_RATIONALE: &str = "Prometheus offers TLS 1.2 and 1.3; a target that refuses one of them is making a choice, reported here";

    /// A client certificate the target must refuse: (name, the certificate among the probe
    /// certificates, if made, rationale).
    type BadClientCert = (
        &'static str,
        fn(&ProbeCerts) -> Option<&(PathBuf, PathBuf)>,
        &'static str,
    );

    /// The client certificates the target must refuse, in order; one whose certificate was not
    /// made (no `--client-ca-*`) is left out.
    const BAD_CLIENT_CERTS: &[BadClientCert] = &[
        (
            "target-client-cert-unknown-ca",
            |p| Some(&p.unknown_ca),
            "a client certificate from a CA the target does not trust is refused",
        ),
        (
            "target-client-cert-self-signed",
            |p| Some(&p.self_signed),
            "a self-signed client certificate is refused",
        ),
        (
            "target-client-cert-expired-unknown-ca",
            |p| Some(&p.expired_unknown_ca),
            "an expired client certificate from an unknown CA is refused",
        ),
        (
            "target-client-cert-expired",
            |p| p.from_client_ca.as_ref().map(|[_, expired, _]| expired),
            "an expired client certificate from the right CA is refused",
        ),
    ];

    fn file(p: &Path) -> FileRef {
        FileRef::Absolute(p.to_owned())
    }

    /// Builds the generated `--target` cases of one target.
    struct CaseBuilder<'a> {
        t: &'a TargetCases<'a>,
        /// What the exporter is assumed to be (the classifier's context only).
        exporter: ExporterCase,
        /// The credentials the user gave.
        configured_auth: Option<ScrapeAuth>,
        /// Whether the target verifies client certificates (or is assumed to).
        verifies: bool,
        /// Unique to this run: part of the wrong credentials.
        nonce: String,
    }

    impl<'a> CaseBuilder<'a> {
        fn new(t: &'a TargetCases<'a>) -> Self {
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
            // user scrapes it over https, verifying client certificates when it asks for them.
            let verifies = t.client_cert.is_some()
                || !matches!(
                    t.posture.client_certs,
                    ClientCertPolicy::None | ClientCertPolicy::NotTls
                );
            let exporter = ExporterCase {
                tls: t.https.then(|| ExporterTls {
                    server_cert: ServerCert::Valid,
                    openssl_key: false,
                    serve_files: None,
                    cipher_suites: Vec::new(),
                    client_auth_type: verifies
                        .then_some(ClientAuthType::RequireAndVerifyClientCert),
                    client_ca: None,
                    client_allowed_sans: None,
                    min_version: None,
                    max_version: None,
                }),
                ..ExporterCase::default()
            };
            Self {
                t,
                exporter,
                configured_auth,
                verifies,
                nonce: format!("{:x}", std::process::id()),
            }
        }

        fn case(&self, text: &CaseText, scrape: ScrapeCase, expect: Expectation) -> Case {
            let mut case = Case::new(text.name, "(generated for --target)", expect);
            case.level = Some(text.level);
            case.rationale = Some(text.rationale.to_owned());
            case.reference = Some("docs/conformance.md (--target)".to_owned());
            case.exporter = self.exporter.clone();
            case.scrape = scrape;
            case
        }

        fn scrape(
            &self,
            https: bool,
            tls: Option<ScrapeTls>,
            auth: Option<ScrapeAuth>,
        ) -> ScrapeCase {
            ScrapeCase {
                scheme: Some(if https { Scheme::Https } else { Scheme::Http }),
                target_host: self.t.target_host,
                metrics_path: Some(self.t.metrics_path.to_owned()),
                tls_config: tls,
                auth,
                ..ScrapeCase::default()
            }
        }

        /// A scrape over TLS presenting `cert`, with the configured credentials.
        fn scrape_tls_with(&self, cert: Option<(&Path, &Path)>) -> ScrapeCase {
            self.scrape(
                true,
                Some(self.tls_with(cert)),
                self.configured_auth.clone(),
            )
        }

        fn tls_with(&self, cert: Option<(&Path, &Path)>) -> ScrapeTls {
            ScrapeTls {
                ca_file: self.t.ca.map(file),
                cert_file: cert.map(|(c, _)| file(c)),
                key_file: cert.map(|(_, k)| file(k)),
                ..ScrapeTls::default()
            }
        }

        /// The TLS settings the user gave, on an https target.
        fn own_tls(&self) -> Option<ScrapeTls> {
            self.t.https.then(|| self.tls_with(self.t.client_cert))
        }

        fn credentials(&self, bad: BadCredentials) -> Option<ScrapeAuth> {
            let nonce = &self.nonce;
            match (bad, self.t.basic) {
                (BadCredentials::Missing, _) => None,
                (BadCredentials::WrongPassword, Some((user, _))) => Some(ScrapeAuth::Basic {
                    username: user.to_owned(),
                    password: Some(Secret::Inline(format!("definitely-wrong-{nonce}"))),
                }),
                (BadCredentials::UnknownUser, Some((_, password))) => Some(ScrapeAuth::Basic {
                    username: format!("nobody-{nonce}"),
                    password: Some(Secret::File(file(password))),
                }),
                (BadCredentials::WrongToken, _) => Some(ScrapeAuth::Authorization {
                    auth_type: None,
                    credentials: Some(Secret::Inline(format!("definitely-wrong-{nonce}"))),
                }),
                // Not generated: BASIC_AUTH_CASES are expanded only with `--basic-auth`.
                (BadCredentials::WrongPassword | BadCredentials::UnknownUser, None) => None,
            }
        }

        /// The configured scrape, and the same scrape kept alive.
        fn configured_cases(&self) -> Vec<Case> {
            let mut keep_alive = Expectation::up();
            keep_alive.keep_alive = KeepAlive::One;
            keep_alive.keep_alive_declared = true;
            let configured =
                || self.scrape(self.t.https, self.own_tls(), self.configured_auth.clone());
            vec![
            self.case(
                &CaseText {
                    name: "target-configured",
                    level: Level::Must,
                    rationale: "scraped as configured",
                },
                configured(),
                Expectation::up(),
            ),
            self.case(
                &CaseText {
                    name: "target-keep-alive",
                    level: Level::Should,
                    rationale: "one connection for all scrapes once up (a handshake per scrape costs CPU on both sides)",
                },
                configured(),
                keep_alive,
            ),
        ]
        }

        /// Wrong or missing credentials, for the kind of credentials the user gave.
        fn credential_cases(&self) -> Vec<Case> {
            let table = match (self.t.basic, self.t.bearer) {
                (Some(_), _) => BASIC_AUTH_CASES,
                (None, Some(_)) => BEARER_CASES,
                (None, None) => &[],
            };
            table
                .iter()
                .map(|(text, bad)| {
                    self.case(
                        text,
                        self.scrape(self.t.https, self.own_tls(), self.credentials(*bad)),
                        Expectation::down(ErrorClass::Unauthorized),
                    )
                })
                .collect()
        }

        /// Plain HTTP to the TLS port, and clients limited to one TLS version.
        fn tls_cases(&self) -> Vec<Case> {
            let plain = self.case(
                &CaseText {
                    name: "target-plain-http-to-tls-port",
                    level: Level::Must,
                    rationale: "a TLS port does not serve metrics over plain HTTP",
                },
                self.scrape(false, None, self.configured_auth.clone()),
                Expectation::down(ErrorClass::HttpToHttps),
            );
            let versions = TLS_VERSION_CASES.iter().map(|&(name, min, max)| {
                let mut tls = self.tls_with(self.t.client_cert);
                tls.min_version = min;
                tls.max_version = max;
                self.case(
                    &CaseText {
                        name,
                        level: Level::May,
                        rationale: TLS_VERSION_RATIONALE,
                    },
                    self.scrape(true, Some(tls), self.configured_auth.clone()),
                    Expectation::up(),
                )
            });
            std::iter::once(plain).chain(versions).collect()
        }

        /// Bad client certificates refused, the client CA's valid one served, and (when the user
        /// presents one) a client without a certificate refused.
        fn client_cert_cases(&self) -> Vec<Case> {
            // The user presents a client certificate: refusing bad ones is what it is for (MUST).
            // Otherwise the target asks for one on its own: SHOULD.
            let bad_level = if self.t.client_cert.is_some() {
                Level::Must
            } else {
                Level::Should
            };
            let p = self.t.probes;
            let mut cases: Vec<Case> = BAD_CLIENT_CERTS
                .iter()
                .filter_map(|&(name, cert, rationale)| {
                    let (cert, key) = cert(p)?;
                    Some(self.case(
                        &CaseText {
                            name,
                            level: bad_level,
                            rationale,
                        },
                        self.scrape_tls_with(Some((cert, key))),
                        Expectation::down(ErrorClass::ClientCertRejected),
                    ))
                })
                .collect();
            if let Some([valid, _, server_auth_only]) = &p.from_client_ca {
                cases.push(self.case(
                    &CaseText {
                        name: "target-client-cert-from-client-ca",
                        level: Level::Must,
                        rationale: "a valid client certificate from the right CA is served",
                    },
                    self.scrape_tls_with(Some((&valid.0, &valid.1))),
                    Expectation::up(),
                ));
                cases.push(self.case(
                &CaseText {
                    name: "target-client-cert-server-auth-only",
                    level: Level::Should,
                    rationale: "a client certificate from the right CA without the clientAuth EKU is refused",
                },
                self.scrape_tls_with(Some((&server_auth_only.0, &server_auth_only.1))),
                Expectation::down(ErrorClass::ClientCertRejected),
            ));
            }
            if self.t.client_cert.is_some() {
                cases.push(self.case(
                &CaseText {
                    name: "target-no-client-cert",
                    level: Level::Should,
                    rationale: "a client without a certificate is refused (VerifyClientCertIfGiven would serve it: demand it with --require mtls)",
                },
                self.scrape_tls_with(None),
                Expectation::down(ErrorClass::ClientCertRequired),
            ));
            }
            cases
        }
    }

    /// The cases that need no restart of the target, built as typed scenario cases.
    pub(super) fn target_cases(t: &TargetCases<'_>) -> Vec<Case> {
        let b = CaseBuilder::new(t);
        let mut cases = b.configured_cases();
        cases.extend(b.credential_cases());
        if !t.https {
            return cases;
        }
        cases.extend(b.tls_cases());
        if !b.verifies {
            return cases;
        }
        cases.extend(b.client_cert_cases());
        cases
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Case;

    fn pair(dir: &str, name: &str) -> (PathBuf, PathBuf) {
        (
            PathBuf::from(format!("{dir}/{name}.crt")),
            PathBuf::from(format!("{dir}/{name}.key")),
        )
    }

    fn probes(client_ca: bool) -> ProbeCerts {
        let d = "/run/conf dir";
        ProbeCerts {
            unknown_ca: pair(d, "pki/client"),
            expired_unknown_ca: pair(d, "pki/client-expired"),
            self_signed: pair(d, "probe-self-signed"),
            from_client_ca: client_ca.then(|| {
                [
                    pair(d, "probe-valid"),
                    pair(d, "probe-expired"),
                    pair(d, "probe-server-auth-only"),
                ]
            }),
        }
    }

    fn posture(client_certs: ClientCertPolicy) -> Posture {
        Posture {
            tls: true,
            tls_versions: vec!["TLS 1.3"],
            plain_http_refused: Some(true),
            client_certs,
            http_auth: posture::HttpAuth::None,
            answered: true,
            fingerprint: profile::Fingerprint::default(),
        }
    }

    const POLICIES: [ClientCertPolicy; 7] = [
        ClientCertPolicy::NotTls,
        ClientCertPolicy::None,
        ClientCertPolicy::RequestedNotVerified,
        ClientCertPolicy::VerifiedIfGiven,
        ClientCertPolicy::RequiredNotVerified,
        ClientCertPolicy::Verified,
        ClientCertPolicy::Unknown,
    ];

    /// Calls `each` with every combination of inputs a `--target` run can have (an https
    /// target always has its CA: `resolve` refuses one without).
    fn every_input(mut each: impl FnMut(&TargetCases<'_>)) {
        let ca = Path::new("/etc/pki/ca: x.crt");
        let cert = (
            Path::new("/etc/pki/client.crt"),
            Path::new("/etc/pki/client.key"),
        );
        let password = Path::new("/etc/secrets/password");
        let token = Path::new("/etc/secrets/token");
        let probe_sets = [probes(false), probes(true)];
        let postures = POLICIES.map(posture);
        for https in [false, true] {
            let cas: &[Option<&Path>] = if https {
                &[Some(ca)]
            } else {
                &[None, Some(ca)]
            };
            for target_host in [
                TargetHost::Ipv4Loopback,
                TargetHost::Localhost,
                TargetHost::Ipv6Loopback,
            ] {
                for metrics_path in ["/metrics", "/probe path/{x}?a=b: c"] {
                    for &ca in cas {
                        for client_cert in [None, Some(cert)] {
                            for basic in [None, Some(("prom: 'x'", password))] {
                                for bearer in [None, Some(token)] {
                                    for probes in &probe_sets {
                                        for posture in &postures {
                                            each(&TargetCases {
                                                https,
                                                target_host,
                                                metrics_path,
                                                ca,
                                                client_cert,
                                                basic,
                                                bearer,
                                                probes,
                                                posture,
                                            });
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// The case as the old code built it, with the catalog's origin and reference (the
    /// catalog names itself as the file and gives each case its own reference).
    fn with_catalog_origin(mut old: Case, new: &Case) -> Case {
        old.file = new.file.clone();
        old.reference = new.reference.clone();
        old
    }

    #[test]
    fn the_catalog_expands_to_the_cases_the_code_built() {
        let mut combinations = 0;
        let mut cases = 0;
        every_input(|t| {
            let plan = super::super::target_catalog::target_plan(t).expect("valid catalog");
            let old = old::target_cases(t);
            let new = plan.cases;
            let names = |c: &[Case]| c.iter().map(|c| c.name.clone()).collect::<Vec<_>>();
            assert_eq!(names(&new), names(&old), "names differ");
            for (o, n) in old.into_iter().zip(&new) {
                let o = with_catalog_origin(o, n);
                assert_eq!(&o, n, "case {} differs:\nold {o:#?}\nnew {n:#?}", n.name);
                assert_eq!(n.file, "scenarios/conformance-target.yaml (embedded)");
                assert!(n.reference.as_deref().is_some_and(|r| r.starts_with('[')));
            }
            assert_eq!(plan.defaults.scrapes, 4);
            assert_eq!(
                plan.defaults.scrape_interval,
                std::time::Duration::from_secs(2)
            );
            assert_eq!(
                plan.defaults.scrape_timeout,
                std::time::Duration::from_secs(2)
            );
            assert_eq!(
                (plan.defaults.key_type, plan.defaults.bcrypt_cost),
                (
                    KeyType::default(),
                    crate::scenario::Defaults::default().bcrypt_cost
                )
            );
            combinations += 1;
            cases += new.len();
        });
        assert_eq!((combinations, cases), (2016, 13008), "combinations, cases");
    }
}

//! Conformance: an exporter's security behaviour checked against a catalog of cases,
//! each with a level (MUST / SHOULD / MAY), a rationale and a reference. Most verdicts
//! come from a real Prometheus scraping the exporter (the scenario runner with the exporter
//! under test in place of fake-exporter); a few come from direct requests (the 401
//! challenge, echoed secrets, TLS below 1.2, content negotiation, auth timing).
//!
//! Two modes: `--exec` starts the exporter once per case with a generated `web-config.yml`
//! (every case); `--target` checks an exporter that is already running (the cases that need
//! no restart).

pub mod direct;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

use crate::runner::{self, ExecTemplate, Launcher, RunOptions, RunReport};
use crate::scenario::{Plan, ScenarioError};
use direct::{ClientTls, Outcome};

/// The embedded catalog.
pub const CATALOG: &str = include_str!("../../../scenarios/conformance.yaml");
/// Name of the embedded catalog in messages.
pub const CATALOG_NAME: &str = "scenarios/conformance.yaml (embedded)";

/// How binding a requirement is (RFC 2119 words, as in prometheus/compliance).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Level {
    /// Required.
    #[serde(rename = "MUST")]
    Must,
    /// Recommended.
    #[serde(rename = "SHOULD")]
    Should,
    /// Optional.
    #[serde(rename = "MAY")]
    May,
}

impl Level {
    fn parse(s: Option<&str>) -> Level {
        match s {
            Some("MUST") => Level::Must,
            Some("SHOULD") => Level::Should,
            _ => Level::May,
        }
    }

    /// `MUST`, `SHOULD` or `MAY`.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Must => "MUST",
            Level::Should => "SHOULD",
            Level::May => "MAY",
        }
    }
}

/// The result of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Holds.
    Pass,
    /// Does not hold.
    Fail,
    /// Does not apply to this exporter (detected, with the reason in `detail`).
    NotApplicable,
}

/// One checked requirement.
#[derive(Debug, Clone, Serialize)]
pub struct CheckResult {
    /// Case name.
    pub name: String,
    /// Level.
    pub level: Level,
    /// Verdict.
    pub verdict: Verdict,
    /// Observed vs expected, or why N/A.
    pub detail: String,
    /// Why the requirement exists.
    pub rationale: String,
    /// Where the behaviour is defined.
    pub reference: String,
    /// `prometheus` (verdict from a real Prometheus) or `direct`.
    pub source: &'static str,
}

/// A whole conformance run.
#[derive(Debug, Clone, Serialize)]
pub struct ConformanceReport {
    /// What was tested (the command template or the target).
    pub subject: String,
    /// Which Prometheus judged.
    pub prometheus: String,
    /// Its version and Go version.
    pub prometheus_version: String,
    /// Every check, catalog order then direct checks.
    pub results: Vec<CheckResult>,
}

/// Pass / fail / N/A counts of one level.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Score {
    /// Passed.
    pub pass: usize,
    /// Failed.
    pub fail: usize,
    /// Not applicable.
    pub not_applicable: usize,
}

impl ConformanceReport {
    /// Scores per level.
    pub fn scores(&self) -> BTreeMap<Level, Score> {
        let mut out: BTreeMap<Level, Score> = [Level::Must, Level::Should, Level::May]
            .into_iter()
            .map(|l| (l, Score::default()))
            .collect();
        for r in &self.results {
            let s = out.entry(r.level).or_default();
            match r.verdict {
                Verdict::Pass => s.pass += 1,
                Verdict::Fail => s.fail += 1,
                Verdict::NotApplicable => s.not_applicable += 1,
            }
        }
        out
    }

    /// Whether a MUST failed (the CLI then exits 1).
    pub fn must_failed(&self) -> bool {
        self.results
            .iter()
            .any(|r| r.level == Level::Must && r.verdict == Verdict::Fail)
    }

    /// The verdict of a case by name.
    pub fn verdict(&self, name: &str) -> Option<Verdict> {
        self.results
            .iter()
            .find(|r| r.name == name)
            .map(|r| r.verdict)
    }

    /// The terminal table, ending with the score per level.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let w = self
            .results
            .iter()
            .map(|r| r.name.len())
            .max()
            .unwrap_or(4)
            .max(4);
        let _ = writeln!(
            out,
            "{:<6}  {:<w$}  {:<6}  detail",
            "level", "case", "result"
        );
        let _ = writeln!(out, "{}", "-".repeat(w + 40));
        for r in &self.results {
            let v = match r.verdict {
                Verdict::Pass => "PASS",
                Verdict::Fail => "FAIL",
                Verdict::NotApplicable => "N/A",
            };
            let _ = writeln!(
                out,
                "{:<6}  {:<w$}  {:<6}  {}",
                r.level.as_str(),
                r.name,
                v,
                r.detail
            );
        }
        let _ = writeln!(out);
        let _ = writeln!(out, "subject: {}", self.subject);
        let _ = writeln!(
            out,
            "judged by: Prometheus {} — {}",
            self.prometheus_version, self.prometheus
        );
        for (level, s) in self.scores() {
            let applicable = s.pass + s.fail;
            let _ = writeln!(
                out,
                "{:<6} {}/{} passed, {} failed, {} not applicable",
                level.as_str(),
                s.pass,
                applicable,
                s.fail,
                s.not_applicable
            );
        }
        let _ = writeln!(
            out,
            "{}",
            if self.must_failed() {
                "result: a MUST failed"
            } else {
                "result: every MUST holds"
            }
        );
        out
    }

    /// JUnit XML: one testcase per check, skipped for N/A.
    pub fn junit(&self) -> String {
        let esc = crate::report::xml_escape;
        let failures = self
            .results
            .iter()
            .filter(|r| r.verdict == Verdict::Fail)
            .count();
        let skipped = self
            .results
            .iter()
            .filter(|r| r.verdict == Verdict::NotApplicable)
            .count();
        let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        let _ = writeln!(
            out,
            "<testsuites><testsuite name=\"conformance\" tests=\"{}\" failures=\"{failures}\" skipped=\"{skipped}\" errors=\"0\">",
            self.results.len()
        );
        for r in &self.results {
            let _ = write!(
                out,
                "  <testcase classname=\"{}\" name=\"{}\">",
                r.level.as_str(),
                esc(&r.name)
            );
            match r.verdict {
                Verdict::Fail => {
                    let _ = write!(
                        out,
                        "<failure message=\"{}\">{}</failure>",
                        esc(&r.detail),
                        esc(&format!("{}\nreference: {}", r.rationale, r.reference))
                    );
                }
                Verdict::NotApplicable => {
                    let _ = write!(out, "<skipped message=\"{}\"/>", esc(&r.detail));
                }
                Verdict::Pass => {}
            }
            let _ = writeln!(out, "</testcase>");
        }
        out.push_str("</testsuite></testsuites>\n");
        out
    }
}

/// A conformance run that could not be carried out.
#[derive(Debug, thiserror::Error)]
pub enum ConformanceError {
    /// The catalog is invalid.
    #[error(transparent)]
    Catalog(#[from] ScenarioError),
    /// The run failed.
    #[error(transparent)]
    Run(#[from] runner::RunError),
    /// Bad options.
    #[error("{0}")]
    Options(String),
}

/// Options shared by both modes.
#[derive(Debug, Clone)]
pub struct ConformanceOptions {
    /// Backend, image, binary, progress.
    pub run: RunOptions,
    /// Samples per group for the timing check (≥ 200 for a real verdict; 0 disables it).
    pub timing_samples: usize,
    /// Significance level of the timing test.
    pub alpha: f64,
    /// A catalog file instead of the embedded one.
    pub catalog: Option<PathBuf>,
}

impl Default for ConformanceOptions {
    fn default() -> Self {
        Self {
            run: RunOptions::default(),
            timing_samples: 200,
            alpha: 0.001,
            catalog: None,
        }
    }
}

fn results_from_run(report: &RunReport, plan: &Plan) -> Vec<CheckResult> {
    report
        .cases
        .iter()
        .zip(&plan.cases)
        .map(|(r, pc)| {
            let verdict = if r.not_applicable.is_some() {
                Verdict::NotApplicable
            } else if r.pass {
                Verdict::Pass
            } else {
                Verdict::Fail
            };
            let detail = match verdict {
                Verdict::NotApplicable => r.not_applicable.clone().unwrap_or_default(),
                Verdict::Pass => format!("{} {}", r.health, r.error_class),
                Verdict::Fail => format!(
                    "expected {} {}, observed {} {}: {}{}",
                    match r.expected_health {
                        crate::scenario::ExpectHealth::Up => "up",
                        crate::scenario::ExpectHealth::Down => "down",
                        crate::scenario::ExpectHealth::Missing => "missing",
                    },
                    r.expected_error_class,
                    r.health,
                    r.error_class,
                    r.failures.join("; "),
                    if r.last_error.is_empty() {
                        String::new()
                    } else {
                        format!(" (lastError: {})", r.last_error)
                    }
                ),
            };
            CheckResult {
                name: r.name.clone(),
                level: Level::parse(pc.case.level.as_deref()),
                verdict,
                detail,
                rationale: pc.case.rationale.clone().unwrap_or_default(),
                reference: pc.case.reference.clone().unwrap_or_default(),
                source: "prometheus",
            }
        })
        .collect()
}

fn direct_result(
    name: &str,
    level: Level,
    outcome: Outcome,
    rationale: &str,
    reference: &str,
) -> CheckResult {
    let (verdict, detail) = match outcome {
        Outcome::Pass(d) => (Verdict::Pass, d),
        Outcome::Fail(d) => (Verdict::Fail, d),
        Outcome::NotApplicable(d) => (Verdict::NotApplicable, d),
    };
    CheckResult {
        name: name.to_owned(),
        level,
        verdict,
        detail,
        rationale: rationale.to_owned(),
        reference: reference.to_owned(),
        source: "direct",
    }
}

const WWW_AUTH: (&str, &str) = (
    "a 401 answer must carry a WWW-Authenticate challenge",
    "RFC 9110 §11.6.1 and §15.5.2; RFC 7617 §2",
);
const NO_ECHO: (&str, &str) = (
    "responses must not repeat the credentials that were sent",
    "OWASP ASVS V7.1 (no credentials in responses); RFC 7617 §4 (security considerations)",
);
const OLD_TLS: (&str, &str) = (
    "TLS 1.0 and 1.1 are deprecated and must be refused (exporter-toolkit's minimum is TLS 1.2)",
    "RFC 8996; exporter-toolkit docs min_version (default TLS12)",
);
const CONTENT_TYPE: (&str, &str) = (
    "metrics must come in a Content-Type Prometheus parses (Prometheus 3.x fails scrapes otherwise)",
    "Prometheus exposition formats documentation; Prometheus 3.0 migration guide (fallback_scrape_protocol)",
);
const GZIP: (&str, &str) = (
    "Prometheus asks for gzip; compressing large bodies saves bandwidth",
    "client_golang promhttp (gzip when accepted); Prometheus scrape requests send Accept-Encoding: gzip",
);
const OPENMETRICS: (&str, &str) = (
    "OpenMetrics is optional; Prometheus negotiates it through Accept",
    "OpenMetrics 1.0 specification; Prometheus scrape Accept header",
);
const TIMING: (&str, &str) = (
    "an unknown user and a wrong password should take the same time, or user names can be enumerated",
    "exporter-toolkit web/handler.go (dummy cost-10 hash for unknown users); OWASP ASVS V2.2 (account enumeration)",
);

/// Runs the catalog against an exporter started per case from `template`, then the direct
/// checks against two more instances (Basic auth on plain HTTP; TLS).
pub async fn run_exec(
    template: ExecTemplate,
    opts: &ConformanceOptions,
) -> Result<ConformanceReport, ConformanceError> {
    let plan = load_catalog(opts)?;
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

fn load_catalog(opts: &ConformanceOptions) -> Result<Plan, ConformanceError> {
    Ok(match &opts.catalog {
        Some(f) => Plan::load(std::slice::from_ref(f))?,
        None => Plan::from_sources(&[(CATALOG_NAME.to_owned(), CATALOG.to_owned())])?,
    })
}

async fn direct_exec(
    template: &ExecTemplate,
    opts: &ConformanceOptions,
) -> Result<Vec<CheckResult>, ConformanceError> {
    use runner::external::ExternalExporter;
    let setup = |e: String| ConformanceError::Options(format!("preparing the direct checks: {e}"));
    let dir = tempfile::Builder::new()
        .prefix("scrape-harness-conformance-")
        .tempdir()
        .map_err(|e| setup(e.to_string()))?;
    let pki = fake_exporter::pki::Pki::generate(fake_exporter::pki::KeyType::default())
        .map_err(|e| setup(e.to_string()))?;
    let files = pki
        .write_to(&dir.path().join("pki"))
        .map_err(|e| setup(e.to_string()))?;
    let (user, password) = ("prom", "s3cret-conformance");
    let hash = tokio::task::spawn_blocking(move || bcrypt::hash(password, 10))
        .await
        .map_err(|e| setup(e.to_string()))?
        .map_err(|e| setup(e.to_string()))?;
    let basic_cfg = dir.path().join("web-config-basic.yml");
    std::fs::write(
        &basic_cfg,
        format!("basic_auth_users:\n  {user}: '{hash}'\n"),
    )
    .map_err(|e| setup(e.to_string()))?;
    let tls_cfg = dir.path().join("web-config-tls.yml");
    std::fs::write(
        &tls_cfg,
        format!(
            "tls_server_config:\n  cert_file: {}\n  key_file: {}\n",
            files
                .server_cert(fake_exporter::pki::ServerCert::Valid)
                .display(),
            files
                .server_key(fake_exporter::pki::ServerCert::Valid)
                .display()
        ),
    )
    .map_err(|e| setup(e.to_string()))?;
    let mut out = Vec::new();
    let start = |cfg: PathBuf| async move {
        let port = crate::backend::free_local_port().map_err(|e| e.to_string())?;
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        ExternalExporter::start(template.render(addr, &cfg), addr, Duration::from_secs(15))
            .await
            .map_err(|e| format!("the exporter {e}"))
    };
    match start(basic_cfg).await {
        Ok(exporter) => {
            let addr = exporter.addr;
            out.push(direct_result(
                "direct-401-www-authenticate",
                Level::Must,
                direct::www_authenticate(addr, None, "/metrics").await,
                WWW_AUTH.0,
                WWW_AUTH.1,
            ));
            out.push(direct_result(
                "direct-no-secrets-echoed",
                Level::Must,
                direct::no_secrets_echoed(addr, None, "/metrics", user, password).await,
                NO_ECHO.0,
                NO_ECHO.1,
            ));
            let (ct, gz, om) = direct::content_negotiation(
                addr,
                None,
                "/metrics",
                Some(fake_exporter::basic_header(user, password)),
            )
            .await;
            out.push(direct_result(
                "direct-content-type",
                Level::Must,
                ct,
                CONTENT_TYPE.0,
                CONTENT_TYPE.1,
            ));
            out.push(direct_result(
                "direct-gzip",
                Level::Should,
                gz,
                GZIP.0,
                GZIP.1,
            ));
            out.push(direct_result(
                "direct-openmetrics",
                Level::May,
                om,
                OPENMETRICS.0,
                OPENMETRICS.1,
            ));
            out.push(direct_result(
                "direct-auth-timing",
                Level::Should,
                direct::auth_timing(
                    addr,
                    None,
                    "/metrics",
                    user,
                    opts.timing_samples,
                    opts.alpha,
                )
                .await,
                TIMING.0,
                TIMING.1,
            ));
            exporter.stop().await;
        }
        Err(e) => {
            for (name, level) in [
                ("direct-401-www-authenticate", Level::Must),
                ("direct-no-secrets-echoed", Level::Must),
                ("direct-content-type", Level::Must),
            ] {
                out.push(direct_result(
                    name,
                    level,
                    Outcome::Fail(format!("with a Basic-auth web-config: {e}")),
                    "",
                    "",
                ));
            }
        }
    }
    match start(tls_cfg).await {
        Ok(exporter) => {
            out.push(direct_result(
                "direct-tls-below-1.2-refused",
                Level::Must,
                direct::refuses_old_tls(exporter.addr).await,
                OLD_TLS.0,
                OLD_TLS.1,
            ));
            exporter.stop().await;
        }
        Err(e) => out.push(direct_result(
            "direct-tls-below-1.2-refused",
            Level::Must,
            Outcome::Fail(format!("with a TLS web-config: {e}")),
            OLD_TLS.0,
            OLD_TLS.1,
        )),
    }
    Ok(out)
}

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
    let bad = |m: String| ConformanceError::Options(m);
    let (host, port) = spec.target.rsplit_once(':').ok_or_else(|| {
        bad(format!(
            "--target `{}`: write HOST:PORT, e.g. 127.0.0.1:9100",
            spec.target
        ))
    })?;
    let port: u16 = port.parse().map_err(|_| {
        bad(format!(
            "--target `{}`: `{port}` is not a port",
            spec.target
        ))
    })?;
    let ip: std::net::IpAddr = match host {
        "127.0.0.1" | "localhost" => std::net::Ipv4Addr::LOCALHOST.into(),
        "[::1]" | "::1" => std::net::Ipv6Addr::LOCALHOST.into(),
        other => {
            return Err(bad(format!(
                "--target `{other}`: only loopback targets are checked (127.0.0.1, localhost, [::1]); run the harness next to the exporter"
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
    let abs = |flag: &str, p: &PathBuf| direct::absolute(flag, p).map_err(bad);
    let ca = spec.ca.as_ref().map(|p| abs("--ca", p)).transpose()?;
    let cc = match &spec.client_cert {
        Some((c, k)) => Some((abs("--client-cert", c)?, abs("--client-key", k)?)),
        None => None,
    };
    let basic = match &spec.basic_auth {
        Some((u, f)) => Some((u.clone(), abs("--basic-auth", f)?)),
        None => None,
    };
    let bearer = spec
        .bearer_file
        .as_ref()
        .map(|p| abs("--bearer-file", p))
        .transpose()?;
    if spec.https && ca.is_none() {
        return Err(bad(
            "--scheme https needs --ca FILE (the CA that signed the exporter's certificate)".into(),
        ));
    }

    // Generate the cases as a scenario file, so they go through the same checks.
    let mut tls = String::new();
    if spec.https {
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
    let scheme = if spec.https { "https" } else { "http" };
    let auth = match (&basic, &bearer) {
        (Some((u, f)), _) => format!(
            "basic_auth: {{ username: {u}, password_file: {} }}, ",
            f.display()
        ),
        (None, Some(f)) => format!("authorization: {{ credentials_file: {} }}, ", f.display()),
        _ => String::new(),
    };
    let exporter = match (spec.https, &cc) {
        (true, Some(_)) => "{ server_cert: valid, client_auth_type: RequireAndVerifyClientCert }",
        (true, None) => "{ server_cert: valid }",
        _ => "{}",
    };
    let path = &spec.metrics_path;
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
        let (u, _) = basic.clone().unwrap_or_default();
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
    if spec.https {
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
            .map(|p| fake_exporter::basic_header(u, p.trim_end_matches(['\r', '\n']))),
        (None, Some(f)) => std::fs::read_to_string(f)
            .ok()
            .map(|t| format!("Bearer {}", t.trim())),
        _ => None,
    };
    if let Some((u, f)) = &basic {
        let password = std::fs::read_to_string(f)
            .map_err(|e| bad(format!("--basic-auth {}: {e}", f.display())))?;
        let password = password.trim_end_matches(['\r', '\n']);
        results.push(direct_result(
            "direct-401-www-authenticate",
            Level::Must,
            direct::www_authenticate(addr, client_tls.as_ref(), path).await,
            WWW_AUTH.0,
            WWW_AUTH.1,
        ));
        results.push(direct_result(
            "direct-no-secrets-echoed",
            Level::Must,
            direct::no_secrets_echoed(addr, client_tls.as_ref(), path, u, password).await,
            NO_ECHO.0,
            NO_ECHO.1,
        ));
        results.push(direct_result(
            "direct-auth-timing",
            Level::Should,
            direct::auth_timing(
                addr,
                client_tls.as_ref(),
                path,
                u,
                opts.timing_samples,
                opts.alpha,
            )
            .await,
            TIMING.0,
            TIMING.1,
        ));
    }
    let (ct, gz, om) =
        direct::content_negotiation(addr, client_tls.as_ref(), path, auth_header).await;
    results.push(direct_result(
        "direct-content-type",
        Level::Must,
        ct,
        CONTENT_TYPE.0,
        CONTENT_TYPE.1,
    ));
    results.push(direct_result(
        "direct-gzip",
        Level::Should,
        gz,
        GZIP.0,
        GZIP.1,
    ));
    results.push(direct_result(
        "direct-openmetrics",
        Level::May,
        om,
        OPENMETRICS.0,
        OPENMETRICS.1,
    ));
    if spec.https {
        results.push(direct_result(
            "direct-tls-below-1.2-refused",
            Level::Must,
            direct::refuses_old_tls(addr).await,
            OLD_TLS.0,
            OLD_TLS.1,
        ));
    }
    Ok(ConformanceReport {
        subject: format!("--target {}", spec.target),
        prometheus: report.prometheus.clone(),
        prometheus_version: format!("{} ({})", report.prometheus_version, report.go_version),
        results,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_loads_and_every_case_has_level_rationale_reference() {
        let plan = Plan::from_sources(&[(CATALOG_NAME.to_owned(), CATALOG.to_owned())])
            .expect("valid catalog");
        assert!(plan.cases.len() >= 30);
        for c in &plan.cases {
            assert!(c.case.level.is_some(), "{} has no level", c.case.name);
            assert!(
                c.case.rationale.as_deref().is_some_and(|r| !r.is_empty()),
                "{} has no rationale",
                c.case.name
            );
            assert!(
                c.case.reference.as_deref().is_some_and(|r| !r.is_empty()),
                "{} has no reference",
                c.case.name
            );
        }
    }

    #[test]
    fn scores_and_exit_rule() {
        let r = |name: &str, level, verdict| CheckResult {
            name: name.into(),
            level,
            verdict,
            detail: String::new(),
            rationale: String::new(),
            reference: String::new(),
            source: "direct",
        };
        let mut report = ConformanceReport {
            subject: "x".into(),
            prometheus: "p".into(),
            prometheus_version: "v".into(),
            results: vec![
                r("a", Level::Must, Verdict::Pass),
                r("b", Level::Should, Verdict::Fail),
                r("c", Level::May, Verdict::NotApplicable),
            ],
        };
        assert!(
            !report.must_failed(),
            "a SHOULD failure does not fail the run"
        );
        assert_eq!(report.scores()[&Level::Should].fail, 1);
        report.results.push(r("d", Level::Must, Verdict::Fail));
        assert!(report.must_failed());
        let table = report.table();
        assert!(
            table.contains("MUST   1/2 passed, 1 failed, 0 not applicable"),
            "{table}"
        );
        assert!(report.junit().contains("<skipped"));
    }
}

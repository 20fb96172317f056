//! Turns each case into files on disk (its `web-config.yml`, its secret files), a running
//! fake exporter, and a scrape job.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use fake_exporter::pki::PkiFiles;
use fake_exporter::{
    hash_password, FakeExporter, Metrics, MetricsSpec, PemSource, RunningExporter, WebConfig,
    WebConfigError,
};

use super::external::ExternalExporter;
use super::{Launcher, RunError, StartObserved};
use crate::promconfig::{self, Authorization, BasicAuth, PromDuration, ScrapeConfig, TlsConfig};
use crate::scenario::limits::read_bounded;
use crate::scenario::{Case, FileRef, Plan, ScrapeAuth, ScrapeTls, Secret};

/// One case, ready to be scraped (or why it is not).
pub(super) struct StartedCase {
    /// `None` for an absent exporter (closed port) or an external one.
    pub(super) exporter: Option<RunningExporter>,
    /// An exporter under test started from `--exec`.
    pub(super) external: Option<ExternalExporter>,
    /// Counters of our fake exporter (empty for external exporters).
    pub(super) stats: std::sync::Arc<fake_exporter::Stats>,
    /// `None` when there is nothing to scrape (not applicable, or did not start).
    pub(super) job: Option<ScrapeConfig>,
    pub(super) job_yaml: String,
    pub(super) web_config_yaml: String,
    /// Why the case does not apply to this exporter (detected, not assumed).
    pub(super) not_applicable: Option<String>,
    /// Why the exporter under test did not start.
    pub(super) start_failure: Option<String>,
    /// For a case expecting the exporter to refuse its web-config: what the start did.
    pub(super) start: Option<StartObserved>,
    /// Its token endpoint, forward proxy and reverse proxy, if any.
    pub(super) third: super::third_parties::Handles,
}

impl StartedCase {
    /// A case with its exporter's web-config written and nothing started yet.
    fn with_web_config(web_config_yaml: String) -> Self {
        Self {
            exporter: None,
            external: None,
            stats: Default::default(),
            job: None,
            job_yaml: String::new(),
            web_config_yaml,
            not_applicable: None,
            start_failure: None,
            start: None,
            third: Default::default(),
        }
    }

    /// A case with nothing started, for unit tests of the verdict code.
    #[cfg(test)]
    pub(super) fn for_test() -> Self {
        Self::with_web_config(String::new())
    }
}

/// Starts every case's exporter. Passwords are hashed once each, in parallel, off the
/// async executor.
pub(super) async fn start_all(
    plan: &Plan,
    pki: &PkiFiles,
    run_dir: &Path,
    launcher: &Launcher,
    progress: bool,
) -> Result<Vec<StartedCase>, RunError> {
    let hashes = hash_passwords(&plan.cases, plan.defaults.bcrypt_cost).await?;
    // Metric families built once per series count and shared by every exporter serving it.
    let mut metrics: HashMap<Option<usize>, Arc<Metrics>> = HashMap::new();
    let mut out = Vec::with_capacity(plan.cases.len());
    // Exporters under test (`--exec`), started together once every case's files are
    // written.
    let mut pending: Vec<Pending> = Vec::new();
    let mut ports = PortPicker::new();
    // One web-config per case in one directory, and a directory of its own only for a case
    // with `files:`: a thousand-case run writes (and removes) a thousand entries, not three.
    let cases_dir = run_dir.join("cases");
    std::fs::create_dir_all(&cases_dir).map_err(|source| RunError::Setup {
        what: "creating",
        path: cases_dir.clone(),
        source,
    })?;
    for case in &plan.cases {
        let (files_dir, web_config_path, web_config_yaml) =
            write_case_files(case, pki, &cases_dir, &hashes)?;
        let host = case.scrape.target_host.listen_ip();
        let mut started = StartedCase::with_web_config(web_config_yaml);
        let mut third = super::third_parties::start_before_exporter(case, pki).await?;
        let port = match launcher {
            Launcher::Fake => {
                let fake = FakeStart {
                    case,
                    pki,
                    hashes: &hashes,
                    files_dir: &files_dir,
                    web_config_path: &web_config_path,
                    host,
                };
                let shared = metrics.entry(case.exporter.series).or_insert_with(|| {
                    let mut spec = MetricsSpec::default();
                    if let Some(series) = case.exporter.series {
                        spec.series = series;
                    }
                    Arc::new(Metrics::new(spec))
                });
                match fake
                    .start(shared.clone(), &mut ports, &mut third, &mut started)
                    .await?
                {
                    Some(port) => port,
                    // Judged at its start: nothing to scrape.
                    None => {
                        out.push(started);
                        continue;
                    }
                }
            }
            Launcher::Running(_) if case.expect.refuses_config_at_start() => {
                started.not_applicable = Some(
                    "the exporter was already running: its start with this web-config is not \
                     under test"
                        .into(),
                );
                out.push(started);
                continue;
            }
            Launcher::Running(addr) => addr.port(),
            Launcher::Exec(template) => {
                if let Some(ext) = case.fake_only_feature() {
                    started.not_applicable =
                        Some(format!("uses {ext}, which only fake-exporter has"));
                    out.push(started);
                    continue;
                }
                exec_port(
                    case,
                    template,
                    &web_config_path,
                    host,
                    out.len(),
                    &mut pending,
                )?
            }
        };
        let target = format!("{}:{}", case.scrape.target_host.as_str(), port);
        let mut job = scrape_job(case, pki, &files_dir, target);
        super::third_parties::amend_job(&mut job, case, &third, pki, &files_dir);
        started.third = third;
        started.job_yaml =
            promconfig::render(&promconfig::PrometheusConfig::with_jobs(vec![job.clone()]));
        started.job = Some(job);
        out.push(started);
    }
    start_external(plan, &mut out, pending, progress).await;
    Ok(out)
}

/// Writes a case's `files:` and its exporter's `web-config.yml`; returns the files'
/// directory, the web-config's path and its text.
fn write_case_files(
    case: &Case,
    pki: &PkiFiles,
    cases_dir: &Path,
    hashes: &HashMap<String, String>,
) -> Result<(PathBuf, PathBuf, String), RunError> {
    let setup = |what: &'static str, path: &Path| {
        let path = path.to_owned();
        move |source| RunError::Setup { what, path, source }
    };
    let files_dir = cases_dir.join(&case.name).join("files");
    case.write_files(&files_dir)
        .map_err(|(path, source)| setup("writing", &path)(source))?;
    let web_config_path = cases_dir.join(format!("{}.web-config.yml", case.name));
    // Behind nginx the exporter is plain HTTP: nginx serves TLS and checks credentials.
    let view = super::third_parties::exporter_view(case);
    let web_config =
        web_config(&view, pki, &files_dir, &web_config_path, hashes).map_err(|source| {
            RunError::WebConfig {
                case: case.name.clone(),
                source: Box::new(source),
            }
        })?;
    let web_config_yaml = web_config.to_yaml();
    std::fs::write(&web_config_path, &web_config_yaml)
        .map_err(setup("writing", &web_config_path))?;
    Ok((files_dir, web_config_path, web_config_yaml))
}

/// The port of a case's exporter under test: a free one nothing listens on for an absent
/// exporter, else 0 for now (the exporters start together later, in `pending`, and the
/// job's target is set then).
fn exec_port(
    case: &Case,
    template: &super::ExecTemplate,
    web_config: &Path,
    host: std::net::IpAddr,
    index: usize,
    pending: &mut Vec<Pending>,
) -> Result<u16, RunError> {
    if case.exporter.absent {
        return crate::backend::free_local_port().map_err(|source| RunError::Setup {
            what: "finding a free port on",
            path: "127.0.0.1".into(),
            source,
        });
    }
    pending.push(Pending {
        case: index,
        template: template.clone(),
        web_config: web_config.to_owned(),
        host,
        break_config: case.exporter.break_config_after_start,
    });
    Ok(0)
}

/// What starting a case's fake exporter needs.
struct FakeStart<'a> {
    case: &'a Case,
    pki: &'a PkiFiles,
    hashes: &'a HashMap<String, String>,
    files_dir: &'a Path,
    web_config_path: &'a Path,
    host: std::net::IpAddr,
}

impl FakeStart<'_> {
    /// Starts the case's fake exporter (and what stands in front of it); the port Prometheus
    /// scrapes, or `None` when the case was judged at the start (an expected refusal of the
    /// web-config, or a start where a refusal was expected).
    async fn start(
        &self,
        shared: Arc<Metrics>,
        ports: &mut PortPicker,
        third: &mut super::third_parties::Handles,
        started: &mut StartedCase,
    ) -> Result<Option<u16>, RunError> {
        let case = self.case;
        let exporter = loop {
            let attempt = super::third_parties::exporter_builder(third, FakeExporter::builder())
                .listen(std::net::SocketAddr::new(self.host, ports.next()))
                .web_config_file(self.web_config_path)
                .shared_metrics(shared.clone())
                .faults(case.exporter.faults.clone())
                .mutants(case.exporter.mutants.clone())
                .compat(case.exporter.compat)
                .start()
                .await;
            match attempt {
                Err(fake_exporter::Error::Bind { .. }) if ports.retry() => continue,
                // The refusal the case expects: recorded and judged, nothing scraped.
                Err(refused) if case.expect.refuses_config_at_start() => {
                    started.start = Some(StartObserved::RefusedConfig(refused.to_string()));
                    return Ok(None);
                }
                other => {
                    break other.map_err(|source| RunError::Exporter {
                        case: case.name.clone(),
                        source,
                    })?
                }
            }
        };
        ports.bound();
        if case.expect.refuses_config_at_start() {
            // It should have refused; it serves instead. Nothing to scrape.
            let _ = exporter.shutdown().await;
            started.start = Some(StartObserved::Started);
            return Ok(None);
        }
        let upstream = exporter.addr();
        let (port, nginx_conf) =
            super::third_parties::start_in_front(case, third, self.pki, self.hashes, upstream)
                .await?;
        if let Some(conf) = nginx_conf {
            started.web_config_yaml = format!(
                "# nginx.conf, in front of the exporter:\n{conf}\n# the exporter's \
                 web-config.yml (plain HTTP on {upstream}):\n{}",
                started.web_config_yaml
            );
        }
        started.stats = exporter.listeners()[0].stats.clone();
        self.settle(exporter, started).await?;
        Ok(Some(port))
    }

    /// Warms the exporter's bcrypt cache, breaks its web-config when the case says so, and
    /// keeps it (or closes it, for an absent exporter).
    async fn settle(
        &self,
        exporter: RunningExporter,
        started: &mut StartedCase,
    ) -> Result<(), RunError> {
        let case = self.case;
        // A cold bcrypt (~70 ms at cost 10) for each of a dozen exporters at once on two
        // cores can outlast a 200 ms first scrape and cost the keep-alive verdict a
        // connection. Warm each cache with the job's own credentials, as a first scrape
        // would; nothing is counted in the exporter's stats.
        if let Some((user, password)) = job_basic_credentials(case, self.pki, self.files_dir) {
            exporter.warm_basic_auth(&user, &password).await;
        }
        if case.exporter.break_config_after_start {
            std::fs::write(self.web_config_path, BROKEN_WEB_CONFIG).map_err(|e| {
                RunError::Setup {
                    what: "overwriting",
                    path: self.web_config_path.to_owned(),
                    source: e,
                }
            })?;
        }
        if case.exporter.absent {
            // Bound once and closed: nothing listens on the port any more.
            let _ = exporter.shutdown().await;
        } else {
            started.exporter = Some(exporter);
        }
        Ok(())
    }
}

/// An exporter under test still to start.
struct Pending {
    /// Index of its case.
    case: usize,
    template: super::ExecTemplate,
    web_config: std::path::PathBuf,
    host: std::net::IpAddr,
    /// Overwrite the web-config with [`BROKEN_WEB_CONFIG`] once the exporter listens.
    break_config: bool,
}

/// What `break_config_after_start` writes over a running exporter's web-config.
const BROKEN_WEB_CONFIG: &str = "tls_server_config: [this is: not valid\n";

/// How many exporters under test start at once.
const PARALLEL_STARTS: usize = 4;
/// How long an exporter under test may take to listen.
const EXTERNAL_START_TIMEOUT: Duration = Duration::from_secs(15);
/// Ports tried per exporter when another process took the one chosen.
const PORT_ATTEMPTS: usize = 3;

/// Starts one exporter under test on a free port, chosen right before it starts; when the
/// port turns out to be another process' (it took the port in between: our exporter
/// exits with `address already in use`, or someone else answers), tries another one.
async fn start_one(p: &Pending) -> (u16, Result<ExternalExporter, super::external::StartFailure>) {
    let mut last = None;
    for _ in 0..PORT_ATTEMPTS {
        let port = match crate::backend::free_local_port() {
            Ok(port) => port,
            Err(e) => {
                return (
                    0,
                    Err(super::external::StartFailure::Spawn(format!(
                        "no free local port: {e}"
                    ))),
                )
            }
        };
        let addr = std::net::SocketAddr::new(p.host, port);
        let command = p.template.render(addr, &p.web_config);
        match ExternalExporter::start(command, addr, EXTERNAL_START_TIMEOUT).await {
            Ok(ext) if ext.owns_listener() => {
                // `break_config_after_start`, as for fake-exporter: an operator's bad edit
                // of the running exporter's file.
                if p.break_config {
                    if let Err(e) = std::fs::write(&p.web_config, BROKEN_WEB_CONFIG) {
                        ext.stop().await;
                        return (
                            port,
                            Err(super::external::StartFailure::Spawn(format!(
                                "overwriting {} (break_config_after_start): {e}",
                                p.web_config.display()
                            ))),
                        );
                    }
                }
                return (port, Ok(ext));
            }
            Ok(ext) => {
                tracing::warn!(%addr, "another process listens on the exporter's port; trying another");
                ext.stop().await;
            }
            Err(failure) if failure.to_string().contains("address already in use") => {
                tracing::warn!(%addr, "the exporter's port was taken; trying another");
                last = Some((port, Err(failure)));
            }
            Err(failure) => return (port, Err(failure)),
        }
    }
    last.unwrap_or((
        0,
        Err(super::external::StartFailure::Spawn(format!(
            "{PORT_ATTEMPTS} ports were taken by other processes before the exporter could bind them"
        ))),
    ))
}

/// Starts the exporters under test, [`PARALLEL_STARTS`] at a time, and records for each
/// case the running exporter and its job's target, or why the case is N/A (it refused a key
/// it does not know) or failed to start (then it has no job).
async fn start_external(
    plan: &Plan,
    out: &mut [StartedCase],
    pending: Vec<Pending>,
    progress: bool,
) {
    if pending.is_empty() {
        return;
    }
    let bar = crate::progress::Progress::new(progress, pending.len() as u64, "exporters started");
    let limit = std::sync::Arc::new(tokio::sync::Semaphore::new(PARALLEL_STARTS));
    let mut tasks = tokio::task::JoinSet::new();
    for p in pending {
        let limit = limit.clone();
        tasks.spawn(async move {
            // Invariant: the semaphore is never closed.
            let _permit = limit.acquire_owned().await.expect("semaphore open");
            let (port, result) = start_one(&p).await;
            (p.case, port, result)
        });
    }
    let mut done = 0;
    while let Some(joined) = tasks.join_next().await {
        done += 1;
        bar.set_position(done);
        let Ok((i, port, result)) = joined else {
            continue;
        };
        let started = &mut out[i];
        let case = &plan.cases[i];
        match result {
            Ok(ext) if case.expect.refuses_config_at_start() => {
                // It should have refused; it serves instead. Nothing to scrape.
                ext.stop().await;
                started.job = None;
                started.start = Some(StartObserved::Started);
            }
            Ok(ext) => {
                started.external = Some(ext);
                if let Some(job) = &mut started.job {
                    for sc in &mut job.static_configs {
                        sc.targets = vec![format!("{}:{port}", case.scrape.target_host.as_str())];
                    }
                    started.job_yaml =
                        promconfig::render(&promconfig::PrometheusConfig::with_jobs(vec![
                            job.clone()
                        ]));
                }
            }
            Err(failure) => {
                started.job = None;
                match unsupported_key(case, &failure.to_string()) {
                    Some(key) => {
                        let text = failure.to_string();
                        let line = text
                            .split(" | ")
                            .find(|l| l.contains(key))
                            .unwrap_or(&text)
                            .trim();
                        started.not_applicable = Some(format!(
                            "the exporter does not support `{key}`: it refused the web-config at start: {line}"
                        ))
                    }
                    None if case.expect.refuses_config_at_start() => {
                        started.start = Some(StartObserved::RefusedConfig(failure.to_string()));
                    }
                    None => started.start_failure = Some(format!("the exporter {failure}")),
                }
            }
        }
    }
    bar.finish();
}

/// Ports for the in-process exporters: below the kernel's ephemeral range, from a start
/// that differs from run to run, skipping ports in use.
///
/// Not port 0: that hands out ephemeral ports, and on a machine where other harness runs
/// work at the same time, a port another run's exporter just left (or one it keeps closed
/// on purpose, an `absent` case) is still scraped by that run's Prometheus. An exporter of
/// ours given that port would count foreign connections (seen: plain-HTTP requests and
/// TLS handshakes against another run's CA on a TLS-version case), and its case would be
/// blamed for them. Ephemeral ports are also what every Prometheus dials from.
struct PortPicker {
    next: u16,
    tries: u32,
}

impl PortPicker {
    /// First port of the range.
    const LOW: u16 = 10_000;
    /// Ports in the range (up to 29,999: below 32768, where Linux' ephemeral range starts).
    const SPAN: u16 = 20_000;
    /// Ports in use skipped in a row before giving up.
    const MAX_TRIES: u32 = 200;

    fn new() -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let seed = nanos ^ std::process::id().wrapping_mul(2_654_435_761);
        Self {
            next: Self::LOW + (seed % u32::from(Self::SPAN)) as u16,
            tries: 0,
        }
    }

    /// The next port to try.
    fn next(&mut self) -> u16 {
        let port = self.next;
        self.next = Self::LOW + (self.next - Self::LOW + 1) % Self::SPAN;
        port
    }

    /// Whether to try another port after a failed bind.
    fn retry(&mut self) -> bool {
        self.tries += 1;
        self.tries <= Self::MAX_TRIES
    }

    /// A port was bound: the count of ports skipped in a row starts again.
    fn bound(&mut self) {
        self.tries = 0;
    }
}

/// Every scenario password hashed once, all at once (fake-exporter's bcrypt helper runs
/// each off the async executor).
pub(crate) async fn hash_passwords<'a>(
    cases: impl IntoIterator<Item = &'a Case>,
    cost: u32,
) -> Result<HashMap<String, String>, RunError> {
    let mut passwords: Vec<String> = cases
        .into_iter()
        .flat_map(|c| c.exporter.basic_auth_users.values().cloned())
        .collect();
    passwords.sort();
    passwords.dedup();
    let mut tasks = tokio::task::JoinSet::new();
    for p in passwords {
        tasks.spawn(async move { hash_password(&p, cost).await.map(|h| (p, h)) });
    }
    let mut out = HashMap::new();
    while let Some(joined) = tasks.join_next().await {
        // A panic in bcrypt is a bug there: surface it where it happened.
        let hashed = joined.unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
        let (p, h) = hashed.map_err(RunError::Hash)?;
        out.insert(p, h);
    }
    Ok(out)
}

/// The case's `web-config.yml`, typed (serde writes the file).
pub(crate) fn web_config(
    case: &Case,
    pki: &PkiFiles,
    files_dir: &Path,
    origin: &Path,
    hashes: &HashMap<String, String>,
) -> Result<WebConfig, WebConfigError> {
    let e = &case.exporter;
    let mut config = WebConfig::builder().origin(origin);
    if let Some(tls) = &e.tls {
        let which = tls.server_cert;
        let (cert, key) = match tls.serve_files {
            Some((c, k)) => (
                FileRef::Pki(c).resolve(pki, files_dir),
                FileRef::Pki(k).resolve(pki, files_dir),
            ),
            None if tls.openssl_key => (
                pki.server_cert(which),
                pki.server_key_openssl(which)
                    .unwrap_or_else(|| pki.server_key(which)),
            ),
            None => (pki.server_cert(which), pki.server_key(which)),
        };
        config = config
            .cert(PemSource::file(cert))
            .key(PemSource::file(key))
            .cipher_suites(tls.cipher_suites.iter().copied());
        if let Some(policy) = tls.client_auth_type {
            config = config.client_auth(policy);
        }
        if let Some(ca) = tls.client_ca {
            config = config.client_ca(PemSource::file(FileRef::Pki(ca).resolve(pki, files_dir)));
        }
        if let Some(sans) = &tls.client_allowed_sans {
            config = config.client_allowed_sans(sans.iter().cloned());
        }
        if let Some(v) = tls.min_version {
            config = config.min_version(v);
        }
        if let Some(v) = tls.max_version {
            config = config.max_version(v);
        }
    }
    if let Some(h2) = e.http2 {
        config = config.http2(h2);
    }
    for (user, password) in &e.basic_auth_users {
        // Invariant: `hash_passwords` hashed every password of every case.
        config = config.basic_auth_user(user, hashes[password].clone());
    }
    for token in &e.bearer.tokens {
        config = config.bearer_token(token);
    }
    if let Some(file) = &e.bearer.token_file {
        config = config.bearer_token_file(files_dir.join(file));
    }
    let expired = SystemTime::now() - Duration::from_secs(3600);
    for token in &e.bearer.expired_tokens {
        config = config.bearer_expiring_token(token, expired);
    }
    config.build()
}

/// The case's job, with every file reference resolved for this run.
pub(crate) fn scrape_job(
    case: &Case,
    pki: &PkiFiles,
    files_dir: &Path,
    target: String,
) -> ScrapeConfig {
    let s = &case.scrape;
    let path = |f: &FileRef| f.resolve(pki, files_dir);
    let mut job = ScrapeConfig::new(case.name.clone(), [target]);
    job.scheme = s.scheme;
    job.metrics_path = s.metrics_path.clone();
    job.enable_http2 = s.enable_http2;
    job.body_size_limit = s.body_size_limit.clone();
    job.sample_limit = s.sample_limit;
    job.scrape_timeout = s
        .scrape_timeout
        .and_then(|d| PromDuration::try_from(d).ok());
    // Prometheus' keys: the inline value or the file, never both.
    let split = |secret: &Option<Secret>| match secret {
        Some(Secret::Inline(value)) => (Some(value.clone()), None),
        Some(Secret::File(file)) => (None, Some(path(file))),
        None => (None, None),
    };
    match &s.auth {
        Some(ScrapeAuth::Basic { username, password }) => {
            let (password, password_file) = split(password);
            job.basic_auth = Some(BasicAuth {
                username: username.clone(),
                password,
                password_file,
            });
        }
        Some(ScrapeAuth::Authorization {
            auth_type,
            credentials,
        }) => {
            let (credentials, credentials_file) = split(credentials);
            job.authorization = Some(Authorization {
                auth_type: auth_type.clone(),
                credentials,
                credentials_file,
            });
        }
        None => {}
    }
    job.tls_config = s.tls_config.as_ref().map(|t| tls_config(t, &path));
    job
}

/// The `tls_config` of a job (or of its OAuth2 token request), file names resolved.
pub(super) fn tls_config(
    t: &ScrapeTls,
    path: &dyn Fn(&FileRef) -> std::path::PathBuf,
) -> TlsConfig {
    TlsConfig {
        ca_file: t.ca_file.as_ref().map(path),
        cert_file: t.cert_file.as_ref().map(path),
        key_file: t.key_file.as_ref().map(path),
        server_name: t.server_name.clone(),
        insecure_skip_verify: t.insecure_skip_verify,
        min_version: t.min_version,
        max_version: t.max_version,
        ..TlsConfig::default()
    }
}

/// The web-config key an exporter refused at start, if its error names one the case uses.
fn unsupported_key(case: &Case, failure: &str) -> Option<&'static str> {
    let e = &case.exporter;
    let tls = e.tls.as_ref();
    let used = [
        (
            "client_allowed_sans",
            tls.is_some_and(|t| t.client_allowed_sans.is_some()),
        ),
        ("rate_limit", false),
        ("min_version", tls.is_some_and(|t| t.min_version.is_some())),
        ("max_version", tls.is_some_and(|t| t.max_version.is_some())),
        ("http2", e.http2.is_some()),
        (
            "client_auth_type",
            tls.is_some_and(|t| t.client_auth_type.is_some()),
        ),
    ];
    used.into_iter()
        .find(|(key, used)| {
            *used
                && failure.contains(key)
                && (failure.contains("not found")
                    || failure.contains("unknown")
                    || failure.contains("field"))
        })
        .map(|(key, _)| key)
}

/// The Basic credentials the case's job will send (inline, or from its `files:`).
fn job_basic_credentials(
    case: &Case,
    pki: &PkiFiles,
    files_dir: &Path,
) -> Option<(String, String)> {
    let Some(ScrapeAuth::Basic { username, password }) = &case.scrape.auth else {
        return None;
    };
    let password = match password {
        Some(Secret::Inline(p)) => p.clone(),
        // Prometheus sends the file content with trailing newlines trimmed.
        // Bounded, and refused unless a regular file: `/dev/zero` is not read to GBs.
        Some(Secret::File(f)) => {
            let path = f.resolve(pki, files_dir);
            let bytes = read_bounded(&path, crate::scenario::limits::FILE_BYTES.default).ok()?;
            String::from_utf8_lossy(&bytes)
                .trim_end_matches(['\r', '\n'])
                .to_owned()
        }
        None => String::new(),
    };
    Some((username.clone(), password))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picked_ports_stay_below_the_ephemeral_range_and_wrap() {
        let mut ports = PortPicker {
            next: PortPicker::LOW + PortPicker::SPAN - 2,
            tries: 0,
        };
        let picked: Vec<u16> = (0..4).map(|_| ports.next()).collect();
        assert_eq!(picked, [29_998, 29_999, 10_000, 10_001]);
        let fresh = PortPicker::new().next;
        assert!((PortPicker::LOW..PortPicker::LOW + PortPicker::SPAN).contains(&fresh));
        assert!((0..PortPicker::MAX_TRIES).all(|_| ports.retry()));
        assert!(
            !ports.retry(),
            "gives up after MAX_TRIES ports in use in a row"
        );
    }
}

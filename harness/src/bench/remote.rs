//! Remote mode: a bench over Prometheus servers (one per shard) and fleets the bench did
//! not start. It starts nothing: each Prometheus is read through the one poller attached
//! to the configuration it loaded (`PrometheusWatch::attach_to_loaded`), the row's mode is
//! read from the job in that configuration, the warm-up is every target of the job up,
//! and the fleets' counters come from `/stats` of their control endpoints (summed).

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use fake_exporter::{GroupStats, StatsSnapshot};

use super::options::{BenchOptions, Mode, RemoteOptions};
use super::parts::{Fleets, Scraper, Scrapers};
use super::report::BenchReport;
use super::run::{BenchError, MeasureError, RunCtx};
use super::window::{bench_row, measure_window};
use crate::fixture::PrometheusWatch;
use crate::promconfig::{PrometheusConfig, Scheme, ScrapeConfig};
use crate::targets::PromApi;

/// Deadline of every step that reaches a remote part before the warm-up: the first answer
/// of a Prometheus, its loaded configuration, a fleet's first `/stats`.
pub const CONNECT_DEADLINE: Duration = Duration::from_secs(15);
/// Deadline of one `/stats` read.
const STATS_TIMEOUT: Duration = Duration::from_secs(10);

/// Why remote mode could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RemoteError {
    /// Remote mode without a Prometheus or without a fleet.
    #[error("remote mode needs at least one --prometheus URL and one --fleet URL")]
    Incomplete,
    /// A Prometheus or a fleet's control endpoint did not answer in time, or not as one.
    #[error("{flag} {url}: cannot be reached: {detail}")]
    Unreachable {
        /// `--prometheus` or `--fleet`.
        flag: &'static str,
        /// The URL given.
        url: String,
        /// What went wrong, with its causes.
        detail: String,
    },
    /// The job is not in the configuration a Prometheus loaded.
    #[error("--prometheus {url}: the configuration it loaded has no job `{job}` (its jobs: {jobs}); name the job to measure with --job")]
    NoJob {
        /// The Prometheus.
        url: String,
        /// The job asked for.
        job: String,
        /// The jobs it has.
        jobs: String,
    },
    /// Two shards run the job in different modes.
    #[error("--prometheus {url}: job `{job}` is {mode} there but {first_mode} on {first_url}; every shard must run the same job")]
    ModeMismatch {
        /// The shard that differs.
        url: String,
        /// The job.
        job: String,
        /// Its mode there.
        mode: Mode,
        /// The first shard.
        first_url: String,
        /// Its mode there.
        first_mode: Mode,
    },
}

/// The control endpoint of a fleet the bench did not start (`fake-exporter fleet
/// --control.listen-address`).
#[derive(Debug)]
pub(super) struct FleetControl {
    url: String,
    client: reqwest::Client,
}

impl FleetControl {
    /// A client of the control endpoint at `url` (`http://` is assumed without a scheme).
    pub(super) fn new(url: &str) -> Self {
        let url = url.trim_end_matches('/');
        let url = if url.contains("://") {
            url.to_owned()
        } else {
            format!("http://{url}")
        };
        let client = reqwest::Client::builder()
            .timeout(STATS_TIMEOUT)
            .no_proxy()
            .build()
            // Invariant: built without TLS and with no proxy settings to load, the builder
            // cannot fail.
            .unwrap_or_default();
        Self { url, client }
    }

    /// Its base URL (`http://host:port`).
    pub(super) fn url(&self) -> &str {
        &self.url
    }

    /// Its `/stats`: the sum of every group's counters.
    pub(super) async fn stats(&self) -> Result<StatsSnapshot, MeasureError> {
        self.read()
            .await
            .map(|(_, stats)| stats)
            .map_err(|detail| MeasureError::FleetStats {
                url: format!("{}/stats", self.url),
                detail,
            })
    }

    /// Its `/stats`: the number of listeners and the sum of every group's counters; the
    /// error says what went wrong (the caller names the URL).
    pub(super) async fn read(&self) -> Result<(usize, StatsSnapshot), String> {
        let url = format!("{}/stats", self.url);
        let response = self.client.get(&url).send().await.map_err(|e| chain(&e))?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!("HTTP {status}"));
        }
        let body = response.bytes().await.map_err(|e| chain(&e))?;
        let groups: Vec<GroupStats> =
            serde_json::from_slice(&body).map_err(|e| format!("not a fleet's /stats: {e}"))?;
        let mut total = StatsSnapshot::default();
        for group in &groups {
            total.merge(&group.stats);
        }
        Ok((groups.iter().map(|g| g.listeners).sum(), total))
    }
}

/// An error and its causes, `: `-separated.
fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let message = cause.to_string();
        if !text.contains(&message) {
            text.push_str(": ");
            text.push_str(&message);
        }
        source = cause.source();
    }
    text
}

/// Runs remote mode: `opts.repeat` windows over what `remote` names, one row each.
pub(super) async fn run(
    opts: &BenchOptions,
    remote: &RemoteOptions,
) -> Result<BenchReport, BenchError> {
    if remote.prometheus.is_empty() || remote.fleets.is_empty() {
        return Err(RemoteError::Incomplete.into());
    }
    let (scrapers, loaded) = attach(&remote.prometheus).await?;
    let fleets = connect_fleets(&remote.fleets).await?;
    let mode = job_mode(&remote.prometheus, &loaded, &remote.job)?;
    let keep_alive = match opts.keep_alive.as_slice() {
        [one] => *one,
        _ => true,
    };
    let mut report = BenchReport::empty();
    let info = remote.prometheus[0]
        .build_info()
        .await
        .map_err(|e| RemoteError::Unreachable {
            flag: "--prometheus",
            url: remote.prometheus[0].base_url().to_owned(),
            detail: chain(&e),
        })?;
    report.prometheus_version = info.version;
    report.prometheus_go_version = info.go_version;
    report.backend = scrapers.description();
    let started = Instant::now();
    let mut ctx = RunCtx {
        n: 0,
        mode,
        keep_alive,
        repeat: 0,
        job: &remote.job,
        expected: BTreeSet::new(),
    };
    scrapers
        .wait_up(&remote.job, opts.warmup_timeout)
        .await
        .map_err(|source| {
            ctx.measure("warm-up (every target of the job up)")(MeasureError::Warmup(source))
        })?;
    let warmup = started.elapsed();
    ctx.expected = expected_targets(&scrapers, &remote.job)
        .await
        .map_err(ctx.measure("reading the job's targets"))?;
    ctx.n = u32::try_from(ctx.expected.len()).unwrap_or(u32::MAX);
    for r in 0..opts.repeat.max(1) {
        ctx.repeat = r;
        let window = measure_window(&scrapers, &fleets, opts, &ctx).await?;
        report
            .rows
            .push(bench_row(opts, &ctx, warmup, &window, fleets.here()));
    }
    Ok(report)
}

/// Attaches the one poller to each Prometheus, after a first answer within
/// [`CONNECT_DEADLINE`]; returns them and the configurations they loaded.
async fn attach(apis: &[PromApi]) -> Result<(Scrapers, Vec<PrometheusConfig>), RemoteError> {
    let mut shards = Vec::with_capacity(apis.len());
    let mut loaded = Vec::with_capacity(apis.len());
    for api in apis {
        let unreachable = |detail: String| RemoteError::Unreachable {
            flag: "--prometheus",
            url: api.base_url().to_owned(),
            detail,
        };
        match tokio::time::timeout(CONNECT_DEADLINE, api.build_info()).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => return Err(unreachable(chain(&e))),
            Err(_) => {
                return Err(unreachable(format!(
                    "no answer within {CONNECT_DEADLINE:?}"
                )))
            }
        }
        let (watch, config) =
            PrometheusWatch::attach_to_loaded(api.clone(), None, BTreeMap::new(), CONNECT_DEADLINE)
                .await
                .map_err(|e| unreachable(chain(&e)))?;
        shards.push(Scraper::Attached {
            watch,
            api: api.clone(),
        });
        loaded.push(config);
    }
    Ok((Scrapers { shards }, loaded))
}

/// A client per control endpoint, each answering `/stats` within [`CONNECT_DEADLINE`]
/// (also how fleets in other network namespaces are read).
pub(super) async fn connect_fleets(urls: &[String]) -> Result<Fleets, RemoteError> {
    let mut controls = Vec::with_capacity(urls.len());
    for url in urls {
        let control = FleetControl::new(url);
        let unreachable = |detail: String| RemoteError::Unreachable {
            flag: "--fleet",
            url: url.clone(),
            detail,
        };
        match tokio::time::timeout(CONNECT_DEADLINE, control.stats()).await {
            Ok(Ok(_)) => controls.push(control),
            Ok(Err(e)) => return Err(unreachable(chain(&e))),
            Err(_) => {
                return Err(unreachable(format!(
                    "no answer within {CONNECT_DEADLINE:?}"
                )))
            }
        }
    }
    Ok(Fleets::Remote(controls))
}

/// The mode of `job` in every shard's loaded configuration (all must agree).
fn job_mode(apis: &[PromApi], loaded: &[PrometheusConfig], job: &str) -> Result<Mode, RemoteError> {
    let mut first: Option<(Mode, &str)> = None;
    for (api, config) in apis.iter().zip(loaded) {
        let url = api.base_url();
        let Some(scrape) = config.scrape_configs.iter().find(|j| j.job_name == job) else {
            let jobs: Vec<&str> = config
                .scrape_configs
                .iter()
                .map(|j| j.job_name.as_str())
                .collect();
            return Err(RemoteError::NoJob {
                url: url.to_owned(),
                job: job.to_owned(),
                jobs: jobs.join(", "),
            });
        };
        let mode = mode_of(scrape);
        match first {
            None => first = Some((mode, url)),
            Some((first_mode, first_url)) if first_mode != mode => {
                return Err(RemoteError::ModeMismatch {
                    url: url.to_owned(),
                    job: job.to_owned(),
                    mode,
                    first_url: first_url.to_owned(),
                    first_mode,
                })
            }
            Some(_) => {}
        }
    }
    // Invariant: `run` refuses an empty list of Prometheus servers.
    Ok(first.map_or(Mode::Plain, |(mode, _)| mode))
}

/// The bench mode a loaded job scrapes in: `https` with a client certificate is mtls,
/// `https` tls; over plain HTTP, `basic_auth` is basic and `authorization` bearer. (A TLS
/// job with credentials counts as tls or mtls: the handshake is what the bench measures.)
pub fn mode_of(job: &ScrapeConfig) -> Mode {
    let client_cert = job.tls_config.as_ref().is_some_and(|tls| {
        tls.cert_file.is_some() || tls.other.get("cert").is_some_and(|v| !v.is_null())
    });
    match (job.scheme == Some(Scheme::Https), client_cert) {
        (true, true) => Mode::Mtls,
        (true, false) => Mode::Tls,
        (false, _) if job.basic_auth.is_some() => Mode::Basic,
        (false, _) if job.authorization.is_some() => Mode::Bearer,
        (false, _) => Mode::Plain,
    }
}

/// Every target of `job` over all shards: the ones each shard keeps (active) and the ones
/// it dropped by relabelling (their `__address__`), so a target no shard keeps is still
/// expected.
async fn expected_targets(
    scrapers: &Scrapers,
    job: &str,
) -> Result<BTreeSet<String>, MeasureError> {
    let mut expected = BTreeSet::new();
    for shard in &scrapers.shards {
        let active = shard.api().targets().await?;
        expected.extend(
            active
                .into_iter()
                .filter(|t| t.job == job)
                .map(|t| t.instance),
        );
        let dropped = shard.api().dropped_targets().await?;
        expected.extend(dropped.into_iter().filter_map(|t| {
            let of_job = t.discovered_labels.get("job").is_some_and(|j| j == job);
            of_job
                .then(|| t.discovered_labels.get("__address__").cloned())
                .flatten()
        }));
    }
    Ok(expected)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loaded_job(yaml: &str) -> ScrapeConfig {
        let config = crate::promconfig::parse_loaded(&format!(
            "scrape_configs:\n- job_name: bench\n  static_configs:\n  - targets: ['127.0.0.1:20000']\n{yaml}"
        ))
        .expect("parses");
        config.scrape_configs[0].clone()
    }

    #[test]
    fn the_mode_is_read_from_the_loaded_job() {
        assert_eq!(mode_of(&loaded_job("  scheme: http\n")), Mode::Plain);
        assert_eq!(
            mode_of(&loaded_job(
                "  scheme: http\n  basic_auth:\n    username: prom\n    password: <secret>\n"
            )),
            Mode::Basic
        );
        assert_eq!(
            mode_of(&loaded_job(
                "  scheme: http\n  authorization:\n    type: Bearer\n    credentials: <secret>\n"
            )),
            Mode::Bearer
        );
        assert_eq!(
            mode_of(&loaded_job(
                "  scheme: https\n  tls_config:\n    ca_file: /ca.pem\n    insecure_skip_verify: false\n"
            )),
            Mode::Tls
        );
        assert_eq!(
            mode_of(&loaded_job(
                "  scheme: https\n  tls_config:\n    ca_file: /ca.pem\n    cert_file: /c.pem\n    key_file: /k.pem\n"
            )),
            Mode::Mtls
        );
    }

    #[test]
    fn a_missing_job_names_the_jobs_there() {
        let apis = [PromApi::new("http://127.0.0.1:9090")];
        let loaded = [PrometheusConfig::with_jobs([ScrapeConfig::new(
            "node",
            ["127.0.0.1:9100"],
        )])];
        let err = job_mode(&apis, &loaded, "bench").unwrap_err().to_string();
        assert_eq!(
            err,
            "--prometheus http://127.0.0.1:9090: the configuration it loaded has no job `bench` (its jobs: node); name the job to measure with --job"
        );
    }
}

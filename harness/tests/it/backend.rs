//! Prometheus backends: each starts, becomes ready, reloads, stops, and leaves nothing;
//! a dropped handle leaves nothing; the sweep removes what a dead harness left.

use std::{
    os::unix::process::ExitStatusExt,
    path::PathBuf,
    process::{Command, Stdio},
    time::Duration,
};

use anyhow::{bail, ensure, Context, Result};
use scrape_harness::{
    prometheus::free_local_port, prometheus::sweep_leftovers, prometheus::PrometheusOptions,
    prometheus::RunningPrometheus, prometheus::OWNER_PID_LABEL, prometheus::RUN_LABEL, BackendKind,
};

use crate::support::docker;

/// Above PID_MAX_LIMIT (2^22) on 64-bit Linux: never a live process.
const DEAD_PID: u32 = 4_194_999;

/// A config in which Prometheus scrapes itself every second under `job`.
fn self_scrape_config(port: u16, job: &str) -> String {
    format!(
        "global:\n  scrape_interval: 1s\n\
         scrape_configs:\n  - job_name: {job}\n    static_configs:\n      - targets: ['127.0.0.1:{port}']\n"
    )
}

fn options(kind: BackendKind, port: u16) -> PrometheusOptions {
    let mut opts = PrometheusOptions::new(self_scrape_config(port, "self"));
    opts.kind = kind;
    opts.listen_port = Some(port);
    opts
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("a client without TLS or proxies always builds")
}

/// The YAML of the loaded config, from `/api/v1/status/config`.
async fn loaded_config(prometheus: &RunningPrometheus) -> Result<String> {
    let url = format!("{}/api/v1/status/config", prometheus.base_url());
    let body: serde_json::Value = http()
        .get(&url)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    body["data"]["yaml"]
        .as_str()
        .map(str::to_owned)
        .with_context(|| format!("{url} answered without data.yaml: {body}"))
}

/// What a handle owns, recorded before it goes away.
struct Footprint {
    work_dir: PathBuf,
    container: Option<String>,
    pid: Option<u32>,
}

impl Footprint {
    fn of(prometheus: &RunningPrometheus) -> Self {
        Self {
            work_dir: prometheus.work_dir().to_owned(),
            container: prometheus.container_id().map(str::to_owned),
            pid: prometheus.pid(),
        }
    }

    fn assert_gone(&self) -> Result<()> {
        ensure!(
            !self.work_dir.exists(),
            "{} is left",
            self.work_dir.display()
        );
        if let Some(id) = &self.container {
            let listing = docker(&[
                "ps",
                "--all",
                "--quiet",
                "--no-trunc",
                "--filter",
                &format!("id={id}"),
            ])?;
            ensure!(listing.is_empty(), "container {id} is left: {listing}");
        }
        if let Some(pid) = self.pid {
            ensure!(!process_alive(pid), "Prometheus pid {pid} is left");
        }
        Ok(())
    }
}

fn process_alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|stat| {
            !stat
                .rsplit_once(')')
                .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'))
        })
        .unwrap_or(false)
}

/// Start, ready, reload (seen through the API), stop, nothing left.
async fn full_lifecycle(kind: BackendKind) -> Result<()> {
    // Arrange
    let port = free_local_port()?;

    // Act
    let prometheus = scrape_harness::prometheus::start_prometheus(options(kind, port)).await?;

    // Assert
    assert_eq!(prometheus.kind(), kind, "{}", prometheus.description());
    assert_eq!(prometheus.base_url(), format!("http://127.0.0.1:{port}"));
    let ready = http()
        .get(format!("{}/-/ready", prometheus.base_url()))
        .send()
        .await?;
    assert_eq!(ready.status(), 200);
    assert!(prometheus.config_path().starts_with(prometheus.work_dir()));
    assert!(loaded_config(&prometheus).await?.contains("job_name: self"));

    prometheus
        .reload(&self_scrape_config(port, "reloaded"))
        .await?;
    let config = loaded_config(&prometheus).await?;
    assert!(
        config.contains("job_name: reloaded"),
        "after reload:\n{config}"
    );
    assert!(
        !config.contains("job_name: self"),
        "after reload:\n{config}"
    );

    let footprint = Footprint::of(&prometheus);
    prometheus.stop().await?;
    footprint.assert_gone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn container_backend_starts_reloads_and_stops_clean() -> Result<()> {
    full_lifecycle(BackendKind::Container).await
}

#[tokio::test]
async fn process_backend_starts_reloads_and_stops_clean() -> Result<()> {
    full_lifecycle(BackendKind::Process).await
}

#[tokio::test]
async fn auto_backend_says_what_it_picked_and_why() -> Result<()> {
    let prometheus = scrape_harness::prometheus::start_prometheus(options(
        BackendKind::Auto,
        free_local_port()?,
    ))
    .await?;
    let description = prometheus.description();
    assert_ne!(prometheus.kind(), BackendKind::Auto);
    assert!(description.contains("auto:"), "{description}");
    assert!(
        description.starts_with(&prometheus.kind().to_string()),
        "{description}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_container_inside_a_runtime_leaves_nothing() -> Result<()> {
    let prometheus = scrape_harness::prometheus::start_prometheus(options(
        BackendKind::Container,
        free_local_port()?,
    ))
    .await?;
    let footprint = Footprint::of(&prometheus);
    drop(prometheus);
    footprint.assert_gone()
}

#[tokio::test]
async fn dropped_process_leaves_nothing() -> Result<()> {
    let prometheus = scrape_harness::prometheus::start_prometheus(options(
        BackendKind::Process,
        free_local_port()?,
    ))
    .await?;
    let footprint = Footprint::of(&prometheus);
    drop(prometheus);
    footprint.assert_gone()
}

#[test]
fn handles_dropped_after_their_runtime_is_gone_leave_nothing() -> Result<()> {
    // Arrange: start both backends, then shut the runtime down under them.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let handles = runtime.block_on(async {
        let container = scrape_harness::prometheus::start_prometheus(options(
            BackendKind::Container,
            free_local_port()?,
        ))
        .await?;
        let process = scrape_harness::prometheus::start_prometheus(options(
            BackendKind::Process,
            free_local_port()?,
        ))
        .await?;
        anyhow::Ok([container, process])
    })?;
    drop(runtime);
    let footprints: Vec<Footprint> = handles.iter().map(Footprint::of).collect();

    // Act
    drop(handles);

    // Assert
    footprints.iter().try_for_each(Footprint::assert_gone)
}

#[tokio::test]
async fn a_config_prometheus_refuses_fails_start_with_its_log() -> Result<()> {
    let mut opts = options(BackendKind::Process, free_local_port()?);
    opts.config_yaml = "global:\n  scrape_interval: not-a-duration\n".to_owned();

    let Err(err) = scrape_harness::prometheus::start_prometheus(opts).await else {
        bail!("Prometheus started with an invalid config");
    };

    let message = err.to_string();
    assert!(message.contains("exited before it was ready"), "{message}");
    assert!(
        message.contains("not-a-duration"),
        "the log tail is missing: {message}"
    );
    Ok(())
}

#[tokio::test]
async fn a_rejected_reload_is_an_error_and_prometheus_keeps_running() -> Result<()> {
    let port = free_local_port()?;
    let prometheus =
        scrape_harness::prometheus::start_prometheus(options(BackendKind::Process, port)).await?;

    let err = prometheus
        .reload("scrape_configs:\n  - job_name: broken\n    scrape_interval: nope\n")
        .await
        .expect_err("an invalid config must not reload");

    let message = err.to_string();
    assert!(
        message.contains("rejected the new configuration"),
        "{message}"
    );
    assert!(message.contains("promtool check config"), "{message}");
    assert!(loaded_config(&prometheus).await?.contains("job_name: self"));
    prometheus.stop().await?;
    Ok(())
}

#[tokio::test]
async fn a_missing_binary_names_the_fix() -> Result<()> {
    let mut opts = options(BackendKind::Process, free_local_port()?);
    opts.binary = Some(PathBuf::from("/nonexistent/prometheus"));

    let Err(err) = scrape_harness::prometheus::start_prometheus(opts).await else {
        bail!("started a binary that does not exist");
    };

    assert!(
        err.to_string()
            .contains("the Prometheus binary /nonexistent/prometheus"),
        "{err}"
    );
    Ok(())
}

/// Spawns a Prometheus as a dead harness would have left it: work dir with a dead
/// `owner.pid`, a live `prometheus.pid`.
fn abandoned_prometheus() -> Result<(PathBuf, std::process::Child)> {
    let dir = tempfile::Builder::new()
        .prefix("scrape-harness-")
        .tempdir_in(std::env::temp_dir())?
        .keep();
    let port = free_local_port()?;
    let config = dir.join("prometheus.yml");
    std::fs::write(&config, self_scrape_config(port, "abandoned"))?;
    let child = Command::new("prometheus")
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("no `prometheus` binary: install it with `apt-get install -y prometheus`")?;
    std::fs::write(dir.join("prometheus.pid"), child.id().to_string())?;
    // The owner is written last: until then no sweep (from a concurrent test) touches it.
    std::fs::write(dir.join("owner.pid"), DEAD_PID.to_string())?;
    Ok((dir, child))
}

#[test]
fn sweep_kills_and_removes_what_a_dead_harness_left() -> Result<()> {
    // Arrange: a process-backend leftover and a container leftover.
    let (dir, mut child) = abandoned_prometheus()?;
    let image = tokio::runtime::Runtime::new()?
        .block_on(scrape_harness::prometheus::prometheus_image(None, None))?;
    let run_label = format!("{RUN_LABEL}=sweep-test-{}", std::process::id());
    let container = docker(&[
        "create",
        "--network",
        "host",
        "--label",
        &format!("{OWNER_PID_LABEL}={DEAD_PID}"),
        "--label",
        &run_label,
        &image,
        "--version",
    ])?;

    // Act
    let report = sweep_leftovers();

    // Assert: on outcomes, not on this report alone (a concurrent start() sweeps too).
    ensure!(report.problems.is_empty(), "sweep problems: {report:?}");
    let status = child.wait()?;
    assert_eq!(
        status.signal(),
        Some(9),
        "Prometheus was not killed: {status}; {report:?}"
    );
    assert!(!dir.exists(), "{} is left; {report:?}", dir.display());
    let listing = docker(&[
        "ps",
        "--all",
        "--quiet",
        "--filter",
        &format!("label={run_label}"),
    ])?;
    assert!(
        listing.is_empty(),
        "container {container} is left; {report:?}"
    );
    Ok(())
}

#[test]
fn sweep_leaves_live_owners_alone() -> Result<()> {
    let dir = tempfile::Builder::new()
        .prefix("scrape-harness-")
        .tempdir_in(std::env::temp_dir())?;
    std::fs::write(dir.path().join("owner.pid"), std::process::id().to_string())?;

    let report = sweep_leftovers();

    assert!(dir.path().exists(), "{report:?}");
    assert!(!report.dirs_removed.iter().any(|d| d == dir.path()));
    Ok(())
}

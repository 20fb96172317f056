//! Nothing is left behind: no container labelled with the harness' pid, no Prometheus
//! process, no `$TMPDIR/scrape-harness-*` directory, after a normal run, after Ctrl-C in
//! the middle of a run, after a test panics with a fixture alive, and after a SIGKILL
//! once the next run has swept. Every run gets a private `TMPDIR`, so leftovers of tests
//! running in parallel are never mistaken for ours.

use std::{
    io::{Read, Write},
    net::TcpStream,
    os::unix::process::ExitStatusExt,
    path::PathBuf,
    process::{Child, Command},
    time::{Duration, Instant},
};

use anyhow::{ensure, Context, Result};
use scrape_harness::{BackendKind, PrometheusFixture};

use crate::support::{containers_of, docker, finish, heavy, poll, signal, test_scenario, Harness};

const LIMIT: Duration = Duration::from_secs(60);

fn scenario(name: &str) -> String {
    test_scenario(name).to_string_lossy().into_owned()
}

/// The `--web.listen-address` port in an argument list.
fn listen_port(args: &str) -> Option<u16> {
    args.split_whitespace()
        .find_map(|a| a.strip_prefix("--web.listen-address="))
        .and_then(|addr| addr.rsplit_once(':'))
        .and_then(|(_, port)| port.parse().ok())
}

/// The port of the Prometheus that harness `pid` started, once it exists.
fn prometheus_port(harness: &Harness, pid: u32, backend: &str) -> Result<Option<u16>> {
    if backend == "container" {
        let Some(id) = containers_of(pid)?.into_iter().next() else {
            return Ok(None);
        };
        let out = Command::new("docker")
            .args(["inspect", "--format", "{{join .Args \" \"}}", &id])
            .output()?;
        return Ok(listen_port(&String::from_utf8_lossy(&out.stdout)));
    }
    for process in harness.leftover_processes()? {
        let cmdline = std::fs::read(format!("/proc/{process}/cmdline")).unwrap_or_default();
        if let Some(port) = listen_port(&String::from_utf8_lossy(&cmdline).replace('\0', " ")) {
            return Ok(Some(port));
        }
    }
    Ok(None)
}

/// The response of `GET path` on 127.0.0.1:`port` when it is 200, else `None`.
fn get_ok(port: u16, path: &str) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let request = format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n");
    stream.write_all(request.as_bytes()).ok()?;
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    (response.starts_with("HTTP/1.0 200") || response.starts_with("HTTP/1.1 200"))
        .then_some(response)
}

/// Whether `GET /-/ready` on 127.0.0.1:`port` answers 200.
fn ready(port: u16) -> bool {
    get_ok(port, "/-/ready").is_some()
}

/// Whether Prometheus on `port` has scraped a target (so the harness is past its own
/// ready-wait: the first scrape comes seconds after ready).
fn scraped_once(port: u16) -> bool {
    get_ok(port, "/api/v1/targets").is_some_and(|body| body.contains("\"lastScrape\":\"20"))
}

/// Starts the slow scenario and returns once its Prometheus answers `/-/ready`.
fn start_slow_run(harness: &Harness, backend: &str) -> Result<Child> {
    let slow = scenario("slow.yaml");
    let mut child = harness.spawn(&["run", "--backend", backend, "--no-progress", &slow])?;
    let pid = child.id();
    let waited = poll(Duration::from_secs(30), "Prometheus to be ready", || {
        if let Some(status) = child.try_wait()? {
            anyhow::bail!("the harness exited early with {status}");
        }
        Ok(prometheus_port(harness, pid, backend)?.filter(|port| ready(*port)))
    });
    if let Err(err) = waited {
        let _ = child.kill();
        let ran = finish(child, "scrape-harness run slow.yaml", LIMIT)?;
        return Err(err.context(format!("{ran}")));
    }
    Ok(child)
}

fn a_normal_run_leaves_nothing(backend: &str) -> Result<()> {
    let _lock = heavy();
    let harness = Harness::new()?;
    let ran = harness.run(
        &[
            "run",
            "--backend",
            backend,
            "--no-progress",
            &scenario("quick.yaml"),
        ],
        LIMIT,
    )?;
    assert_eq!(ran.code(), Some(0), "{ran}");
    harness.assert_clean(ran.pid)
}

#[test]
fn a_normal_container_run_leaves_nothing() -> Result<()> {
    a_normal_run_leaves_nothing("container")
}

#[test]
fn a_normal_process_run_leaves_nothing() -> Result<()> {
    a_normal_run_leaves_nothing("process")
}

fn ctrl_c_mid_run_leaves_nothing(backend: &str) -> Result<()> {
    let _lock = heavy();
    // Arrange: a run that would take a minute, with Prometheus up.
    let harness = Harness::new()?;
    let child = start_slow_run(&harness, backend)?;
    let pid = child.id();

    // Act
    signal(pid, "INT")?;
    let ran = finish(child, "scrape-harness run slow.yaml (SIGINT)", LIMIT)?;

    // Assert
    assert_eq!(ran.code(), Some(130), "{ran}");
    assert!(ran.stderr.contains("interrupted"), "{ran}");
    harness
        .assert_clean(pid)
        .with_context(|| format!("after SIGINT:{ran}"))
}

#[test]
fn ctrl_c_mid_container_run_leaves_nothing() -> Result<()> {
    ctrl_c_mid_run_leaves_nothing("container")
}

#[test]
fn ctrl_c_mid_process_run_leaves_nothing() -> Result<()> {
    ctrl_c_mid_run_leaves_nothing("process")
}

fn sigkill_then_next_run_leaves_nothing(backend: &str) -> Result<()> {
    let _lock = heavy();
    // Arrange: a harness killed without a chance to clean up leaves Prometheus behind.
    let harness = Harness::new()?;
    let child = start_slow_run(&harness, backend)?;
    let killed = child.id();
    signal(killed, "KILL")?;
    let ran = finish(child, "scrape-harness run slow.yaml (SIGKILL)", LIMIT)?;
    assert_eq!(ran.status.signal(), Some(9), "{ran}");
    let left = match backend {
        "container" => containers_of(killed)?.len(),
        _ => harness.leftover_processes()?.len(),
    };
    assert_eq!(
        left, 1,
        "the killed run should have left its Prometheus:{ran}"
    );
    ensure!(
        !harness.leftover_dirs()?.is_empty(),
        "no work dir left to sweep:{ran}"
    );

    // Act: the next run sweeps.
    let next = harness.run(
        &[
            "run",
            "--backend",
            backend,
            "--no-progress",
            &scenario("quick.yaml"),
        ],
        LIMIT,
    )?;

    // Assert
    assert_eq!(next.code(), Some(0), "{next}");
    harness
        .assert_clean(killed)
        .with_context(|| format!("after the next run:{next}"))?;
    harness.assert_clean(next.pid)
}

#[test]
fn after_sigkill_the_next_container_run_sweeps_everything() -> Result<()> {
    sigkill_then_next_run_leaves_nothing("container")
}

#[test]
fn after_sigkill_the_next_process_run_sweeps_everything() -> Result<()> {
    sigkill_then_next_run_leaves_nothing("process")
}

/// The pid of the Prometheus that harness `pid` runs (the container's main process for
/// the container backend, which `kill` reaches from the host like any process).
fn prometheus_pid(harness: &Harness, pid: u32, backend: &str) -> Result<u32> {
    let found = match backend {
        "container" => {
            let id = containers_of(pid)?
                .into_iter()
                .next()
                .context("no container of the run")?;
            docker(&["inspect", "--format", "{{.State.Pid}}", &id])?
                .parse()
                .context("the container's pid")?
        }
        _ => *harness
            .leftover_processes()?
            .first()
            .context("no Prometheus process of the run")?,
    };
    Ok(found)
}

fn a_killed_prometheus_ends_the_run_at_once(backend: &str) -> Result<()> {
    let _lock = heavy();
    // Arrange: a run that would take a minute, with Prometheus up.
    let harness = Harness::new()?;
    let child = start_slow_run(&harness, backend)?;
    let pid = child.id();
    let port = prometheus_port(&harness, pid, backend)?.context("Prometheus' port")?;
    if let Err(err) = poll(Duration::from_secs(30), "a first scrape", || {
        Ok(scraped_once(port).then_some(()))
    }) {
        let _ = finish(child, "scrape-harness run slow.yaml", Duration::ZERO);
        return Err(err);
    }
    let prometheus = prometheus_pid(&harness, pid, backend)?;

    // Act
    signal(prometheus, "KILL")?;
    let killed_at = Instant::now();
    let ran = finish(
        child,
        "scrape-harness run slow.yaml (Prometheus killed)",
        LIMIT,
    )?;
    let ended_after = killed_at.elapsed();

    // Assert: exit 2 within 2 s with how Prometheus ended, never overload.
    assert_eq!(ran.code(), Some(2), "{ran}");
    assert!(
        ended_after <= Duration::from_secs(2),
        "the run ended {ended_after:?} after Prometheus was killed:{ran}"
    );
    assert!(
        ran.stderr.contains("Prometheus exited during the run"),
        "{ran}"
    );
    let how = if backend == "container" {
        "container exited with code 137"
    } else {
        "signal: 9 (SIGKILL)"
    };
    assert!(ran.stderr.contains(how), "expected `{how}`:{ran}");
    assert!(!ran.stderr.contains("overload"), "{ran}");
    harness
        .assert_clean(pid)
        .with_context(|| format!("after Prometheus was killed:{ran}"))
}

#[test]
fn a_killed_container_prometheus_ends_the_run_within_2s() -> Result<()> {
    a_killed_prometheus_ends_the_run_at_once("container")
}

#[test]
fn a_killed_process_prometheus_ends_the_run_within_2s() -> Result<()> {
    a_killed_prometheus_ends_the_run_at_once("process")
}

#[test]
fn a_prometheus_stopped_longer_than_a_read_timeout_and_resumed_gives_a_correct_run() -> Result<()> {
    let _lock = heavy();
    // Arrange: 25 scrapes at 200ms, Prometheus up and scraping.
    let harness = Harness::new()?;
    let file = crate::support::write_scenario(
        harness.tmp(),
        "stopped.yaml",
        "defaults: { scrape_interval: 200ms, scrape_timeout: 200ms, scrapes: 25 }\n\
         cases:\n\
         \x20 - name: tls-ok\n\
         \x20   exporter: { server_cert: valid }\n\
         \x20   scrape: { scheme: https, tls_config: { ca_file: ca.crt } }\n\
         \x20   expect: { health: up }\n",
    )?;
    let child = harness.spawn(&["run", "--backend", "process", "--no-progress", &file])?;
    let pid = child.id();
    let started = poll(Duration::from_secs(30), "Prometheus scraping", || {
        let Some(port) = prometheus_port(&harness, pid, "process")? else {
            return Ok(None);
        };
        Ok(scraped_once(port).then_some(()))
    })
    .and_then(|()| prometheus_pid(&harness, pid, "process"));
    let prometheus = match started {
        Ok(prometheus) => prometheus,
        Err(err) => {
            let _ = finish(child, "scrape-harness run stopped.yaml", Duration::ZERO);
            return Err(err);
        }
    };

    // Act: stopped for longer than the API client's 10 s timeout, so reads fail while the
    // process is alive; then resumed. The sleep is the fault's length, not a wait.
    signal(prometheus, "STOP")?;
    std::thread::sleep(Duration::from_secs(12));
    signal(prometheus, "CONT")?;
    let ran = finish(
        child,
        "scrape-harness run stopped.yaml (SIGSTOP 12 s)",
        LIMIT,
    )?;

    // Assert: a stopped Prometheus is not a dead one.
    assert_eq!(ran.code(), Some(0), "{ran}");
    assert!(!ran.stderr.contains("exited during the run"), "{ran}");
    harness.assert_clean(pid)
}

/// CPU seconds process `pid` has used (user + system, all threads), from /proc.
fn cpu_seconds(pid: u32) -> Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let after = stat.rsplit_once(')').context("/proc/PID/stat")?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of stat(5), 12 and 13 after `)`.
    let ticks: f64 = fields[11].parse::<f64>()? + fields[12].parse::<f64>()?;
    Ok(ticks / 100.0)
}

#[test]
fn ctrl_c_during_a_slow_bcrypt_hash_ends_the_run_within_1s() -> Result<()> {
    let _lock = heavy();
    // Arrange: a run whose first step hashes a password at cost 16 (seconds of CPU).
    let harness = Harness::new()?;
    let file = crate::support::write_scenario(
        harness.tmp(),
        "slow-hash.yaml",
        "defaults: { bcrypt_cost: 16, scrapes: 2 }\n\
         cases:\n\
         \x20 - name: basic-ok\n\
         \x20   exporter: { basic_auth_users: { prom: s3cret } }\n\
         \x20   scrape: { basic_auth: { username: prom, password: s3cret } }\n\
         \x20   expect: { health: up }\n",
    )?;
    let child = harness.spawn(&["run", "--backend", "process", "--no-progress", &file])?;
    let pid = child.id();
    // Hashing has begun once the harness burnt 0.3 s of CPU (its start costs far less).
    if let Err(err) = poll(Duration::from_secs(30), "the hash to start", || {
        Ok((cpu_seconds(pid)? >= 0.3).then_some(()))
    }) {
        let _ = finish(child, "scrape-harness run slow-hash.yaml", Duration::ZERO);
        return Err(err);
    }

    // Act
    signal(pid, "INT")?;
    let interrupted_at = Instant::now();
    let ran = finish(child, "scrape-harness run slow-hash.yaml (SIGINT)", LIMIT)?;
    let ended_after = interrupted_at.elapsed();

    // Assert
    assert_eq!(ran.code(), Some(130), "{ran}");
    assert!(
        ended_after <= Duration::from_secs(1),
        "the run ended {ended_after:?} after SIGINT:{ran}"
    );
    harness.assert_clean(pid)
}

/// What a fixture owned, recorded before the panic.
#[derive(Debug)]
struct Footprint {
    work_dir: PathBuf,
    pid: Option<u32>,
    container: Option<String>,
}

#[test]
fn fixtures_dropped_while_a_test_panics_leave_nothing() -> Result<()> {
    let _lock = heavy();
    // Arrange: a "test" on its own thread starts both kinds of fixture, then panics.
    let (tx, rx) = std::sync::mpsc::channel();
    let thread = std::thread::spawn(move || {
        let runtime = tokio::runtime::Runtime::new().expect("a runtime");
        runtime.block_on(async {
            let mut fixtures = Vec::new();
            for kind in [BackendKind::Container, BackendKind::Process] {
                let fixture = PrometheusFixture::builder()
                    .backend(kind)
                    .start()
                    .await
                    .expect("Prometheus starts");
                let p = fixture.prometheus();
                tx.send(Footprint {
                    work_dir: p.work_dir().to_owned(),
                    pid: p.pid(),
                    container: p.container_id().map(str::to_owned),
                })
                .expect("the test thread listens");
                fixtures.push(fixture);
            }
            panic!("a failing assertion with {} fixtures alive", fixtures.len());
        })
    });

    // Act
    let outcome = thread.join();

    // Assert
    assert!(outcome.is_err(), "the thread should have panicked");
    let footprints: Vec<Footprint> = rx.try_iter().collect();
    assert_eq!(footprints.len(), 2, "both fixtures started: {footprints:?}");
    for f in &footprints {
        ensure!(
            !f.work_dir.exists(),
            "{} is left: {f:?}",
            f.work_dir.display()
        );
        if let Some(pid) = f.pid {
            ensure!(
                !std::path::Path::new(&format!("/proc/{pid}")).exists(),
                "Prometheus pid {pid} is left: {f:?}"
            );
        }
        if let Some(id) = &f.container {
            let out = Command::new("docker")
                .args([
                    "ps",
                    "--all",
                    "--quiet",
                    "--no-trunc",
                    "--filter",
                    &format!("id={id}"),
                ])
                .output()?;
            ensure!(out.stdout.is_empty(), "container {id} is left: {f:?}");
        }
    }
    Ok(())
}

#[test]
fn listen_port_reads_the_flag() {
    assert_eq!(
        listen_port("/bin/prometheus --config.file=x --web.listen-address=127.0.0.1:9123 --y"),
        Some(9123)
    );
    assert_eq!(listen_port("--config.file=x"), None);
}

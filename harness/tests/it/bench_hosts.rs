//! Fleet hosts in network namespaces (`bench::hosts`, `scrape-harness bench hosts`): real
//! namespaces, veth pairs and fleet processes (the suite runs as root), TLS from the root
//! namespace verified with the bench CA, a real Prometheus scraping every target, and
//! nothing left afterwards: after drop, after Ctrl-C, and after the sweep of a dead owner.

use std::collections::BTreeSet;
use std::io::{BufRead as _, BufReader};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};
use fake_exporter::pki::KeyType;
use scrape_harness::bench::{BenchFiles, FleetHosts, HostsSpec, Mode};
use scrape_harness::prometheus::sweep_leftovers;
use scrape_harness::{
    BackendKind, Health, PromDuration, PrometheusFixture, Scheme, ScrapeConfig, TlsConfig, Until,
};

use crate::support::{fake_exporter_bin, finish, heavy, poll, signal, Harness};

/// Above PID_MAX_LIMIT (2^22) on 64-bit Linux: never a live process.
const DEAD_PID: u32 = 4_194_999;

/// `ip ARGS`, its stdout; fails with stderr.
fn ip(args: &[&str]) -> Result<String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .context("running `ip` (install iproute2)")?;
    ensure!(
        out.status.success(),
        "`ip {}` failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr).trim()
    );
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Namespaces (`ip netns list`) and root-namespace interfaces (`ip -o link`) by name.
fn netns_and_links() -> Result<(BTreeSet<String>, BTreeSet<String>)> {
    let namespaces = ip(&["netns", "list"])?
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
        .collect();
    let links = ip(&["-o", "link"])?
        .lines()
        .filter_map(|l| l.split_whitespace().nth(1))
        .map(|name| {
            let name = name.trim_end_matches(':');
            name.split('@').next().unwrap_or(name).to_owned()
        })
        .collect();
    Ok((namespaces, links))
}

/// Which of `names` still exist as a namespace or a root-namespace interface.
fn left_of(names: &[String]) -> Result<Vec<String>> {
    let (namespaces, links) = netns_and_links()?;
    Ok(names
        .iter()
        .filter(|n| namespaces.contains(*n) || links.contains(*n))
        .cloned()
        .collect())
}

/// Whether `pid` runs (and is not a zombie).
fn running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        !stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'))
    })
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}

#[test]
fn two_tls_hosts_serve_verified_targets_to_prometheus_and_leave_nothing() -> Result<()> {
    // A sync test: the heavy lock is a std Mutex and must not be held across an `.await`.
    let _lock = heavy();
    runtime()?.block_on(two_tls_hosts())
}

async fn two_tls_hosts() -> Result<()> {
    // Arrange: 2 hosts × 100 TLS keep-alive targets.
    let files = BenchFiles::create("it-hosts", KeyType::EcdsaP256).await?;
    let mut spec = HostsSpec::new(2, 100, Mode::Tls);
    spec.base_port = 24_300;
    spec.fake_exporter = fake_exporter_bin();

    // Act
    let hosts = FleetHosts::create(&spec, &files).await?;

    // Assert: two namespaces, two addresses of 127/8, 200 targets, fleets running inside.
    let names: Vec<String> = hosts
        .hosts()
        .iter()
        .map(|h| h.namespace().to_owned())
        .collect();
    let pids: Vec<u32> = hosts.hosts().iter().map(|h| h.pid()).collect();
    let addresses: BTreeSet<_> = hosts.hosts().iter().map(|h| h.address()).collect();
    ensure!(
        addresses.len() == 2 && addresses.iter().all(|a| a.is_loopback()),
        "two loopback addresses of their own: {addresses:?}"
    );
    ensure!(hosts.targets().len() == 200, "{:?}", hosts.targets().len());
    ensure!(left_of(&names)?.len() == 2, "namespaces {names:?} exist");
    for (name, pid) in names.iter().zip(&pids) {
        let inside = ip(&["netns", "pids", name])?;
        ensure!(
            running(*pid) && inside.split_whitespace().any(|p| p == pid.to_string()),
            "fleet pid {pid} runs in {name} (its pids: {inside:?})"
        );
    }

    // TLS from the root namespace to a target of each host, verified by IP with the CA.
    let ca = reqwest::Certificate::from_pem(&std::fs::read(files.pki().ca())?)?;
    let verified = reqwest::Client::builder()
        .no_proxy()
        .tls_built_in_root_certs(false)
        .add_root_certificate(ca)
        .timeout(Duration::from_secs(10))
        .build()?;
    let untrusted = reqwest::Client::builder()
        .no_proxy()
        .tls_built_in_root_certs(false)
        .timeout(Duration::from_secs(10))
        .build()?;
    for host in hosts.hosts() {
        let url = format!("https://{}/metrics", host.targets()[0]);
        let body = verified
            .get(&url)
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .with_context(|| format!("GET {url} trusting the bench CA"))?
            .text()
            .await?;
        ensure!(body.contains("# TYPE "), "metrics from {url}: {body:.200}");
        ensure!(
            untrusted.get(&url).send().await.is_err(),
            "{url} must not verify without the bench CA"
        );
        let stats = host.stats().await?;
        ensure!(
            stats.handshakes_ok >= 1,
            "host {}: /stats shows our verified handshake: {stats:?}",
            host.index()
        );
    }

    // A real Prometheus scrapes all 200 targets, verifying each with the bench CA.
    let mut job = ScrapeConfig::new("hosts", hosts.targets());
    job.scheme = Some(Scheme::Https);
    job.scrape_interval = Some(PromDuration::from_millis(1000));
    job.scrape_timeout = Some(PromDuration::from_millis(1000));
    job.tls_config = Some(TlsConfig {
        ca_file: Some(files.pki().ca()),
        ..TlsConfig::default()
    });
    let prom = PrometheusFixture::builder()
        .backend(BackendKind::Process)
        .mount(files.dir())
        .job(job)
        .ready_timeout(Duration::from_secs(60))
        .start()
        .await?;
    let verdicts = prom.wait(Until::Up, Duration::from_secs(90)).await?;
    let up: BTreeSet<String> = verdicts
        .iter()
        .filter(|v| v.health == Health::Up)
        .map(|v| v.instance.clone())
        .collect();
    let want: BTreeSet<String> = hosts.targets().into_iter().collect();
    ensure!(
        up == want,
        "every target up: {} of {} ({} verdicts)",
        up.len(),
        want.len(),
        verdicts.len()
    );
    for host in hosts.hosts() {
        let stats = host.stats().await?;
        // Keep-alive: one handshake per target from Prometheus, plus ours.
        ensure!(
            stats.handshakes_ok >= 101 && stats.connections_open >= 100,
            "host {}: Prometheus' handshakes and kept-alive connections: {stats:?}",
            host.index()
        );
    }
    prom.stop().await?;

    // After drop: no namespace, no veth, no fleet process.
    drop(hosts);
    let left = left_of(&names)?;
    ensure!(left.is_empty(), "left after drop: {left:?}");
    let alive: Vec<u32> = pids.iter().copied().filter(|p| running(*p)).collect();
    ensure!(alive.is_empty(), "fleet processes left: {alive:?}");
    Ok(())
}

/// `bench hosts` running as a child: its pid, the hosts' namespaces and fleet pids.
struct RunningHosts {
    child: std::process::Child,
    pid: u32,
    names: Vec<String>,
    fleets: Vec<u32>,
}

/// Starts `scrape-harness bench hosts --count 2 --targets-per-host 20 --mode tls` and
/// returns once it printed its hosts and holds them (the file_sd file checked on the way).
fn start_bench_hosts(harness: &Harness) -> Result<RunningHosts> {
    let fake = fake_exporter_bin();
    let targets_file = harness.tmp().join("targets.json");
    let args = [
        "bench",
        "hosts",
        "--count",
        "2",
        "--targets-per-host",
        "20",
        "--mode",
        "tls",
        "--base-port",
        "24500",
        "--targets-file",
        targets_file.to_str().context("utf-8 path")?,
        "--fake-exporter",
        fake.to_str().context("utf-8 path")?,
    ];
    let mut child = harness.spawn(&args)?;
    let pid = child.id();
    let stdout = child.stdout.take().context("piped stdout")?;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut printed = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !printed
        .iter()
        .any(|l: &String| l.starts_with("holding until Ctrl-C"))
    {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => printed.push(line),
            Err(_) => {
                let ran = finish(child, "bench hosts", Duration::from_secs(30))?;
                anyhow::bail!("no `holding` line within 60 s; printed {printed:?}{ran}");
            }
        }
    }
    // `host K: namespace NAME, address A, fleet pid P, control URL, targets ...`
    let mut names = Vec::new();
    let mut fleets = Vec::new();
    for line in printed.iter().filter(|l| l.starts_with("host ")) {
        let word_after = |key: &str| {
            line.split(", ")
                .find_map(|part| part.split_once(key).map(|(_, v)| v.trim().to_owned()))
        };
        names.push(word_after("namespace ").context("namespace")?);
        fleets.push(word_after("fleet pid ").context("pid")?.parse::<u32>()?);
    }
    ensure!(names.len() == 2, "two hosts printed: {printed:?}");
    let sd: serde_json::Value = serde_json::from_slice(&std::fs::read(&targets_file)?)?;
    let listed = sd.as_array().map(|e| {
        e.iter()
            .filter_map(|x| x["targets"].as_array())
            .map(Vec::len)
            .sum::<usize>()
    });
    ensure!(listed == Some(40), "40 targets in the file_sd file: {sd}");
    ensure!(
        left_of(&names)?.len() == 2 && fleets.iter().all(|p| running(*p)),
        "namespaces {names:?} and fleets {fleets:?} exist"
    );
    Ok(RunningHosts {
        child,
        pid,
        names,
        fleets,
    })
}

#[test]
fn ctrl_c_removes_every_host() -> Result<()> {
    // Arrange
    let harness = Harness::new()?;
    let hosts = start_bench_hosts(&harness)?;
    let pid = hosts.pid;

    // Act: one SIGINT, as a terminal's Ctrl-C.
    signal(pid, "INT")?;
    let ran = finish(hosts.child, "bench hosts", Duration::from_secs(30))?;

    // Assert: exit 130 within the deadline and nothing left.
    ensure!(ran.code() == Some(130), "exit 130 on Ctrl-C:{ran}");
    let left = left_of(&hosts.names)?;
    ensure!(left.is_empty(), "left after Ctrl-C: {left:?}{ran}");
    let alive: Vec<u32> = hosts
        .fleets
        .iter()
        .copied()
        .filter(|p| running(*p))
        .collect();
    ensure!(alive.is_empty(), "fleet processes left: {alive:?}{ran}");
    harness.assert_clean(pid)?;
    Ok(())
}

#[test]
fn after_sigkill_the_next_sweep_removes_the_hosts() -> Result<()> {
    // Arrange
    let harness = Harness::new()?;
    let hosts = start_bench_hosts(&harness)?;
    let pid = hosts.pid;

    // Act: SIGKILL (nothing unwinds), then the sweep every run starts with.
    signal(pid, "KILL")?;
    let ran = finish(hosts.child, "bench hosts", Duration::from_secs(30))?;
    ensure!(
        left_of(&hosts.names)?.len() == 2 && hosts.fleets.iter().all(|p| running(*p)),
        "SIGKILL leaves the hosts behind until a sweep:{ran}"
    );
    let report = sweep_leftovers();

    // Assert: fleets killed, namespaces and veths gone (another test's sweep may have
    // been first: then this report does not name them, but they are gone all the same).
    let left = left_of(&hosts.names)?;
    ensure!(
        left.is_empty(),
        "left after the sweep: {left:?}; {report:?}"
    );
    let alive: Vec<u32> = hosts
        .fleets
        .iter()
        .copied()
        .filter(|p| running(*p))
        .collect();
    ensure!(
        alive.is_empty(),
        "fleet processes left: {alive:?}; {report:?}"
    );
    ensure!(report.problems.is_empty(), "sweep problems: {report:?}");
    Ok(())
}

#[test]
fn the_sweep_removes_a_dead_owners_namespace_and_keeps_a_live_ones() -> Result<()> {
    // Arrange: a leftover of a dead harness (namespace + veth pair) and one of this
    // process, in slots the allocator skips while they exist.
    let dead = format!("shb-{DEAD_PID}-251");
    let live = format!("shb-{}-252", std::process::id());
    for name in [&dead, &live] {
        ip(&["netns", "add", name])?;
        ip(&[
            "link", "add", name, "type", "veth", "peer", "name", "veth0", "netns", name,
        ])?;
    }
    ensure!(left_of(&[dead.clone(), live.clone()])?.len() == 2);

    // Act
    let report = sweep_leftovers();

    // Assert: the dead owner's namespace and veth are gone (another test's sweep may have
    // been first: then this report does not name it, but it is gone all the same).
    let gone = poll(
        Duration::from_secs(5),
        "the dead owner's namespace to go",
        || {
            Ok(left_of(std::slice::from_ref(&dead))?
                .is_empty()
                .then_some(()))
        },
    );
    let live_left = left_of(std::slice::from_ref(&live))?;
    let _ = ip(&["link", "del", &live]);
    let _ = ip(&["netns", "del", &live]);
    gone.with_context(|| format!("sweep report: {report:?}"))?;
    ensure!(
        live_left == [live.clone()],
        "a live owner's namespace stays: {live_left:?}; report {report:?}"
    );
    ensure!(
        !report.namespaces_removed.contains(&live),
        "report: {report:?}"
    );
    Ok(())
}

#[test]
fn without_root_the_refusal_names_what_is_needed_and_nothing_is_created() -> Result<()> {
    // Arrange: `bench hosts` as user nobody (no capabilities), temp files in /tmp.
    let harness = env!("CARGO_BIN_EXE_scrape-harness");
    let fake = fake_exporter_bin();
    let child = Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=-all",
            harness,
            "bench",
            "hosts",
            "--count",
            "1",
            "--targets-per-host",
            "10",
            "--for",
            "1s",
            "--fake-exporter",
            fake.to_str().context("utf-8 path")?,
        ])
        .env("TMPDIR", "/tmp")
        .env_remove("HARNESS_KEEP")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .context("running setpriv (util-linux)")?;
    // setpriv execs the harness: the same pid.
    let pid = child.id();
    let ran = finish(
        child,
        "setpriv ... scrape-harness bench hosts",
        Duration::from_secs(60),
    )?;

    // Assert: a harness error that says what is needed, and no namespace of that pid.
    ensure!(
        ran.code() == Some(2)
            && ran.stderr.contains("CAP_NET_ADMIN")
            && ran.stderr.contains("run as root"),
        "exit 2 with what is needed:{ran}"
    );
    let (namespaces, links) = netns_and_links()?;
    let prefix = format!("shb-{pid}-");
    let made: Vec<&String> = namespaces
        .iter()
        .chain(&links)
        .filter(|n| n.starts_with(&prefix))
        .collect();
    ensure!(made.is_empty(), "nothing created, found {made:?}{ran}");
    Ok(())
}

#[test]
fn bench_on_two_hosts_and_two_shards_scrapes_every_target_once_and_leaves_nothing() -> Result<()> {
    let _lock = heavy();
    // Arrange: the fleets run the fake-exporter next to the harness binary.
    fake_exporter_bin();
    let harness = Harness::new()?;
    let json = harness.tmp().join("hosts-bench.json");

    // Act: 200 TLS keep-alive targets on 2 namespaced fleet hosts, 2 Prometheus shards.
    let child = harness.spawn(&[
        "bench",
        "--targets",
        "200",
        "--modes",
        "tls",
        "--keep-alive",
        "on",
        "--hosts",
        "2",
        "--shards",
        "2",
        "--interval",
        "1s",
        "--duration",
        "4s",
        "--backend",
        "process",
        "--no-progress",
        "--json",
        &json.display().to_string(),
    ])?;
    let bench_pid = child.id();
    let ran = finish(
        child,
        "scrape-harness bench --hosts 2",
        Duration::from_secs(240),
    )?;

    // Assert
    ensure!(ran.code() == Some(0), "the bench passes:{ran}");
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json)?)?;
    let row = &report["rows"][0];
    ensure!(row["pass"] == true, "the row passes: {row:#}");
    ensure!(row["targets"] == 200, "200 targets: {row:#}");
    // One handshake per target: every connection kept, none in the window.
    ensure!(
        row["handshakes"] == 0
            && row["handshakes_total"]
                .as_u64()
                .is_some_and(|h| (200..=210).contains(&h)),
        "one handshake per target, none in the window: {row:#}"
    );
    ensure!(
        row["exporter_cpu_seconds"]
            .as_f64()
            .is_some_and(|c| c > 0.0),
        "the fleet hosts' CPU is measured: {row:#}"
    );
    let shards = row["shards"].as_array().context("per-shard rows")?;
    ensure!(shards.len() == 2, "two shards: {row:#}");
    let scraped: u64 = shards
        .iter()
        .map(|s| s["targets_scraped"].as_u64().unwrap_or(0))
        .sum();
    ensure!(
        scraped == 200
            && shards
                .iter()
                .all(|s| s["targets_scraped"].as_u64() > Some(0)),
        "both shards scraped a share, 200 in all: {row:#}"
    );
    ensure!(
        ran.stdout
            .contains("every target scraped by exactly one shard"),
        "the exactly-once check:{ran}"
    );
    // Nothing of the run is left: its namespaces and veths are named after its pid.
    let prefix = format!("shb-{bench_pid}-");
    let (namespaces, links) = netns_and_links()?;
    let left: Vec<&String> = namespaces
        .iter()
        .chain(links.iter())
        .filter(|n| n.starts_with(&prefix))
        .collect();
    ensure!(left.is_empty(), "left behind: {left:?}");
    Ok(())
}

/// Pids of the processes in namespace `name` (`ip netns pids`); empty when it is gone.
fn pids_in(name: &str) -> Vec<u32> {
    ip(&["netns", "pids", name])
        .map(|out| out.lines().filter_map(|l| l.trim().parse().ok()).collect())
        .unwrap_or_default()
}

/// Children of `parent` whose command name is `comm`.
fn children_named(parent: u32, comm: &str) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
                let Some((head, rest)) = stat.rsplit_once(") ") else {
                    return false;
                };
                let name = head.split_once(" (").map_or("", |(_, n)| n);
                let ppid = rest.split_whitespace().nth(1).and_then(|p| p.parse().ok());
                name == comm && ppid == Some(parent)
            })
        })
        .collect()
}

#[test]
fn ctrl_c_during_a_bench_on_hosts_removes_hosts_and_shards() -> Result<()> {
    let _lock = heavy();
    // Arrange: a bench on 2 hosts and 2 shards, interrupted once its fleet hosts and both
    // Prometheus shards run.
    fake_exporter_bin();
    let harness = Harness::new()?;
    let child = harness.spawn(&[
        "bench",
        "--targets",
        "100",
        "--modes",
        "tls",
        "--keep-alive",
        "on",
        "--hosts",
        "2",
        "--shards",
        "2",
        "--interval",
        "1s",
        "--duration",
        "5m",
        "--backend",
        "process",
        "--no-progress",
    ])?;
    let pid = child.id();
    // `shb-<pid>-<slot>`: the slots are the first free ones, not necessarily 0 and 1.
    let prefix = format!("shb-{pid}-");
    let running_parts = poll(Duration::from_secs(120), "hosts and shards running", || {
        let (namespaces, _) = netns_and_links()?;
        let names: Vec<String> = namespaces
            .into_iter()
            .filter(|n| n.starts_with(&prefix))
            .collect();
        let fleets: Vec<u32> = names.iter().flat_map(|n| pids_in(n)).collect();
        let shards = children_named(pid, "prometheus");
        Ok((names.len() == 2 && fleets.len() >= 2 && shards.len() == 2)
            .then_some((names, fleets, shards)))
    });
    let (names, fleets, shards) = match running_parts {
        Ok(parts) => parts,
        Err(e) => {
            let ran = finish(child, "bench --hosts 2", Duration::from_secs(30))?;
            anyhow::bail!("{e}{ran}");
        }
    };

    // Act: one SIGINT, as a terminal's Ctrl-C.
    signal(pid, "INT")?;
    let ran = finish(child, "bench --hosts 2", Duration::from_secs(30))?;

    // Assert: exit 130, no namespace, veth, fleet or Prometheus left.
    ensure!(ran.code() == Some(130), "exit 130 on Ctrl-C:{ran}");
    let left = left_of(&names)?;
    ensure!(left.is_empty(), "left after Ctrl-C: {left:?}{ran}");
    let alive: Vec<u32> = fleets
        .iter()
        .chain(&shards)
        .copied()
        .filter(|p| running(*p))
        .collect();
    ensure!(alive.is_empty(), "processes left: {alive:?}{ran}");
    harness.assert_clean(pid)?;
    Ok(())
}

//! `scrape-harness bench` through the library: a tiny real run (Prometheus + fleet) whose
//! keep-alive accounting, JSON and HTML are checked.

use std::time::Duration;

use anyhow::{ensure, Result};
use scrape_harness::bench::{self, BenchOptions, Mode};

use crate::support::heavy;

#[test]
fn tiny_bench_counts_handshakes_per_scrape_and_renders_reports() -> Result<()> {
    // A sync test: the heavy lock is a std Mutex and must not be held across an `.await`.
    let _lock = heavy();
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?
        .block_on(tiny_bench())
}

async fn tiny_bench() -> Result<()> {
    // Arrange: 20 targets, plain and TLS, keep-alive on and off, 3 s windows.
    let n = 20;
    let opts = BenchOptions {
        targets: vec![n],
        modes: vec![Mode::Plain, Mode::Tls],
        keep_alive: vec![true, false],
        interval: Duration::from_millis(200),
        duration: Duration::from_secs(3),
        // The soak's timeline, small: docs/reliability.md runs it for 10 minutes.
        checkpoints: 3,
        base_port: 24_100,
        warmup_timeout: Duration::from_secs(30),
        progress: false,
        ..BenchOptions::default()
    };

    // Act
    let report = bench::run(&opts).await?;
    let table = bench::table(&report);

    // Assert
    ensure!(report.rows.len() == 4, "4 rows expected:\n{table}");
    ensure!(report.all_passed(), "every row valid:\n{table}");
    let row = |mode, ka| {
        report
            .rows
            .iter()
            .find(|r| r.mode == mode && r.keep_alive == ka)
            .expect("every combination ran")
    };
    let off = row(Mode::Tls, false);
    let ratio = off.handshakes as f64 / off.scrapes.max(1) as f64;
    ensure!(
        off.scrapes >= 100 && (0.9..=1.1).contains(&ratio),
        "TLS keep-alive off: {} handshakes for {} scrapes (Prometheus) / {} requests (exporters):\n{table}",
        off.handshakes,
        off.scrapes,
        off.requests
    );
    let on = row(Mode::Tls, true);
    ensure!(
        on.handshakes_total == u64::from(n) && on.handshakes == 0,
        "TLS keep-alive on: {} handshakes in total, {} in the window; want {n} and 0:\n{table}",
        on.handshakes_total,
        on.handshakes
    );
    ensure!(on.timeline.len() == 3, "3 checkpoints:\n{table}");
    let fds: Vec<u64> = on.timeline.iter().map(|c| c.fleet_fds).collect();
    for c in &on.timeline {
        ensure!(
            c.reconnects == 0
                && c.reconnects_per_target == 1.0
                && c.scrapes >= u64::from(n)
                && c.fleet_rss_bytes > 0
                && c.prometheus_rss_bytes > 0.0
                && c.prometheus_fds >= f64::from(n),
            "TLS keep-alive on, checkpoint {c:?}: no new handshake, one per target in all, \
             memory and descriptors read (Prometheus holds one connection per target):\n{table}"
        );
    }
    // This process also runs other tests, which open and close descriptors of their own:
    // flat means fewer new descriptors than one per target.
    let grew = fds
        .iter()
        .max()
        .zip(fds.iter().min())
        .map_or(0, |(a, b)| a - b);
    ensure!(
        grew < u64::from(n),
        "the fleet's descriptors stay flat under keep-alive: {fds:?}\n{table}"
    );
    ensure!(
        on.negotiated.tls_version.starts_with("TLSv1_") && !on.negotiated.kx_group.is_empty(),
        "negotiated parameters recorded: {:?}",
        on.negotiated
    );
    ensure!(
        report.prometheus_go_version.starts_with("go"),
        "Go version: {}",
        report.prometheus_go_version
    );
    ensure!(
        row(Mode::Plain, true).prometheus_cpu_seconds > 0.0,
        "Prometheus CPU measured:\n{table}"
    );

    let json: serde_json::Value = serde_json::from_str(&report.to_json())?;
    for field in [
        "prometheus_cpu_seconds",
        "prometheus_rss_bytes",
        "scrape_duration_p50",
        "scrape_duration_p99",
        "failed_scrapes",
        "handshakes",
        "requests",
        "exporter_cpu_seconds",
        "negotiated",
        "warmup_handshakes_failed",
        "warmup_handshakes_ok",
        "pass",
    ] {
        ensure!(
            json["rows"][0].get(field).is_some(),
            "JSON row lacks `{field}`: {}",
            json["rows"][0]
        );
    }
    ensure!(json["prometheus_go_version"].is_string(), "{json}");

    let html = bench::html::render(&report);
    ensure!(
        html.contains("<svg") && html.contains("<rect") && !html.contains("<script"),
        "HTML has inline SVG bars and no script:\n{html}"
    );
    Ok(())
}

/// A child process killed (and reaped) on drop: the fleet the remote test starts.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A loopback port free a moment ago.
fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// `fake-exporter fleet` as a separate process: `n` TLS listeners from `base`, its
/// control endpoint answering `/stats` when this returns. Returns it, the control
/// endpoint's URL and the CA of the listeners' certificate.
async fn start_remote_fleet(
    dir: &std::path::Path,
    base: u16,
    n: u16,
) -> Result<(KillOnDrop, String, std::path::PathBuf)> {
    use fake_exporter::pki::{KeyType, Pki, ServerCert};
    let pki = Pki::generate(KeyType::EcdsaP256)?.write_to(&dir.join("pki"))?;
    let web_config = serde_json::json!({ "tls_server_config": {
        "cert_file": pki.server_cert(ServerCert::Valid),
        "key_file": pki.server_key(ServerCert::Valid),
    }});
    std::fs::write(dir.join("web.yml"), serde_norway::to_string(&web_config)?)?;
    let fleet = serde_json::json!({ "groups": [{
        "name": "tls",
        "ports": format!("{base}-{}", base + n - 1),
        "web_config": "web.yml",
    }]});
    let fleet_file = dir.join("fleet.yaml");
    std::fs::write(&fleet_file, serde_norway::to_string(&fleet)?)?;
    let control = format!("127.0.0.1:{}", free_port()?);
    let child = std::process::Command::new(crate::support::fake_exporter_bin())
        .arg("fleet")
        .arg("--config")
        .arg(&fleet_file)
        .arg(format!("--control.listen-address={control}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()?;
    let child = KillOnDrop(child);
    let url = format!("http://{control}");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let client = reqwest::Client::builder().no_proxy().build()?;
    while !matches!(
        client.get(format!("{url}/stats")).send().await,
        Ok(r) if r.status().is_success()
    ) {
        ensure!(
            std::time::Instant::now() < deadline,
            "the fleet's control endpoint {url} did not answer within 30 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok((child, url, pki.ca()))
}

#[test]
fn remote_mode_measures_a_prometheus_and_a_fleet_it_did_not_start_like_local_mode() -> Result<()> {
    let _lock = heavy();
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?
        .block_on(remote_like_local())
}

async fn remote_like_local() -> Result<()> {
    use scrape_harness::bench::RemoteOptions;
    use scrape_harness::{PromDuration, PrometheusFixture, Scheme, ScrapeConfig};
    // Arrange: 40 TLS targets in a separate fleet process, a Prometheus started by this
    // test scraping them every second; the bench is given only their URLs.
    let (n, base) = (40u16, 24_300u16);
    let dir = tempfile::tempdir()?;
    let (fleet, control, ca) = start_remote_fleet(dir.path(), base, n).await?;
    let mut job =
        ScrapeConfig::new("bench", (base..base + n).map(|p| format!("127.0.0.1:{p}"))).ca_file(ca);
    job.scheme = Some(Scheme::Https);
    job.scrape_interval = Some(PromDuration::from_millis(1000));
    job.scrape_timeout = Some(PromDuration::from_millis(1000));
    let prometheus = PrometheusFixture::builder()
        .mount(dir.path())
        .job(job)
        .start()
        .await?;
    let common = BenchOptions {
        targets: vec![u32::from(n)],
        modes: vec![Mode::Tls],
        keep_alive: vec![true],
        interval: Duration::from_secs(1),
        duration: Duration::from_secs(6),
        warmup_timeout: Duration::from_secs(60),
        progress: false,
        ..BenchOptions::default()
    };
    let remote_opts = BenchOptions {
        remote: Some(RemoteOptions {
            prometheus: vec![scrape_harness::PromApi::new(prometheus.base_url())],
            fleets: vec![control.clone()],
            job: "bench".into(),
        }),
        ..common.clone()
    };

    // Act: the remote row, then (the remote parts stopped) a local row of the same N/mode.
    let remote = bench::run(&remote_opts).await?;
    prometheus.stop().await?;
    drop(fleet);
    let local = bench::run(&BenchOptions {
        base_port: 24_400,
        ..common
    })
    .await?;

    // Assert
    let (rt, lt) = (bench::table(&remote), bench::table(&local));
    let both = format!("remote:\n{rt}\nlocal:\n{lt}");
    eprintln!("{both}");
    ensure!(
        remote.rows.len() == 1 && local.rows.len() == 1,
        "one row each:\n{both}"
    );
    let (r, l) = (&remote.rows[0], &local.rows[0]);
    ensure!(r.pass && l.pass, "both rows valid:\n{both}");
    ensure!(
        r.targets == u32::from(n) && r.mode == Mode::Tls && r.keep_alive,
        "N and mode read from the remote Prometheus' targets and loaded job:\n{both}"
    );
    ensure!(
        r.failed_scrapes == 0 && l.failed_scrapes == 0,
        "no failed scrapes:\n{both}"
    );
    let diff = (r.scrapes as f64 - l.scrapes as f64).abs() / l.scrapes.max(1) as f64;
    ensure!(
        l.scrapes >= 4 * u64::from(n) && diff <= 0.10,
        "the same scrape count within 10 % ({} vs {}):\n{both}",
        r.scrapes,
        l.scrapes
    );
    ensure!(
        r.handshakes_total == u64::from(n) && r.handshakes == 0,
        "one handshake per target, none in the window, from the fleet's /stats:\n{both}"
    );
    ensure!(
        r.negotiated.tls_version.starts_with("TLSv1_") && r.requests >= r.scrapes * 9 / 10,
        "the fleet's counters read remotely: {:?}, {} requests:\n{both}",
        r.negotiated,
        r.requests
    );
    ensure!(
        r.exporter_cpu_seconds.is_none() && l.exporter_cpu_seconds.is_some(),
        "exporter CPU only where the fleet ran in-process:\n{both}"
    );
    // CPU within noise: at 40 targets Prometheus uses a few hundredths of a core, and
    // the remote one is also read by this test's own fixture.
    let (rc, lc) = (r.prometheus_cpu_cores, l.prometheus_cpu_cores);
    ensure!(
        rc > 0.0 && (rc - lc).abs() <= (0.5 * lc).max(0.05),
        "Prometheus CPU within noise ({rc:.3} vs {lc:.3} cores):\n{both}"
    );
    ensure!(
        remote.backend.starts_with("remote http://127.0.0.1:"),
        "the report says the Prometheus was remote: {}",
        remote.backend
    );
    Ok(())
}

#[test]
fn two_shards_scrape_every_target_exactly_once() -> Result<()> {
    let _lock = heavy();
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?
        .block_on(two_shards())
}

async fn two_shards() -> Result<()> {
    // Arrange: 40 plain targets over two Prometheus shards (hashmod of __address__).
    let n = 40;
    let opts = BenchOptions {
        targets: vec![n],
        modes: vec![Mode::Plain],
        keep_alive: vec![true],
        interval: Duration::from_secs(1),
        duration: Duration::from_secs(4),
        base_port: 24_500,
        warmup_timeout: Duration::from_secs(60),
        shards: 2,
        progress: false,
        ..BenchOptions::default()
    };

    // Act
    let report = bench::run(&opts).await?;

    // Assert
    let table = bench::table(&report);
    ensure!(report.rows.len() == 1, "one row:\n{table}");
    let row = &report.rows[0];
    ensure!(
        row.pass,
        "valid, every target scraped by exactly one shard:\n{table}"
    );
    ensure!(row.shards.len() == 2, "two shard rows:\n{table}");
    for s in &row.shards {
        ensure!(
            s.targets_kept > 0
                && s.targets_scraped == s.targets_kept
                && s.scrapes >= s.targets_kept
                && s.prometheus_cpu_seconds > 0.0
                && s.prometheus_rss_bytes > 0.0,
            "shard {} is not empty and measured: {s:?}\n{table}",
            s.shard
        );
    }
    let kept: u64 = row.shards.iter().map(|s| s.targets_kept).sum();
    let scraped: u64 = row.shards.iter().map(|s| s.targets_scraped).sum();
    ensure!(
        kept == u64::from(n) && scraped == u64::from(n),
        "the slices add up to the {n} targets (kept {kept}, scraped {scraped}):\n{table}"
    );
    let sum_cpu: f64 = row.shards.iter().map(|s| s.prometheus_cpu_seconds).sum();
    ensure!(
        (sum_cpu - row.prometheus_cpu_seconds).abs() < 1e-9,
        "the row's Prometheus CPU is the shards' total:\n{table}"
    );
    ensure!(
        table.contains("every target scraped by exactly one shard"),
        "the table says so:\n{table}"
    );
    let json: serde_json::Value = serde_json::from_str(&report.to_json())?;
    ensure!(
        json["rows"][0]["shards"].as_array().map(Vec::len) == Some(2),
        "the JSON row has its shards: {}",
        json["rows"][0]
    );
    let html = bench::html::render(&report);
    ensure!(
        html.contains("<h2>Shards: N=40"),
        "the HTML page has the shards:\n{html}"
    );
    Ok(())
}

#[test]
fn bad_remote_and_shard_input_is_refused_naming_the_flag() -> Result<()> {
    let harness = crate::support::Harness::new()?;
    let closed = free_port()?;
    let prometheus = format!("http://127.0.0.1:{closed}");
    for (args, want) in [
        (vec!["bench", "--shards", "0"], "--shards 0".to_owned()),
        (
            vec!["bench", "--fleet", "http://127.0.0.1:9"],
            "--fleet needs --prometheus URL".to_owned(),
        ),
        (
            vec!["bench", "--bearer-file", "/nonexistent"],
            "give it with --prometheus URL".to_owned(),
        ),
        (
            vec![
                "bench",
                "--prometheus",
                &prometheus,
                "--fleet",
                "http://127.0.0.1:9",
            ],
            format!("--prometheus {prometheus}: cannot be reached"),
        ),
    ] {
        let ran = harness.run(&args, Duration::from_secs(60))?;
        ensure!(
            ran.code() == Some(2) && ran.stderr.contains(&want),
            "exit 2 and `{want}` on stderr expected:{ran}"
        );
    }
    Ok(())
}

#[test]
fn remote_mode_reaches_a_prometheus_behind_its_own_web_config_and_a_wrong_password_is_exit_2(
) -> Result<()> {
    let _lock = heavy();
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?
        .block_on(remote_behind_web_config())
}

async fn remote_behind_web_config() -> Result<()> {
    use fake_exporter::pki::{KeyType, Pki, ServerCert};
    use scrape_harness::prometheus::{PrometheusTls, PrometheusWebConfig};
    use scrape_harness::{PromDuration, PrometheusFixture, Scheme, ScrapeConfig};
    // Arrange: 20 TLS targets in a separate fleet process; a Prometheus with TLS + Basic
    // auth on its own API scraping them; the bench gets only URLs, the CA and a password
    // file.
    let (n, base) = (20u16, 24_600u16);
    let dir = tempfile::tempdir()?;
    let (_fleet, control, fleet_ca) = start_remote_fleet(dir.path(), base, n).await?;
    let api_pki = Pki::generate(KeyType::EcdsaP256)?.write_to(&dir.path().join("api-pki"))?;
    let web = PrometheusWebConfig::tls_basic(
        PrometheusTls {
            cert_file: api_pki.server_cert(ServerCert::Valid),
            key_file: api_pki.server_key(ServerCert::Valid),
            ca_file: api_pki.ca(),
        },
        "admin",
        "pr0m-s3cret",
    );
    let mut job = ScrapeConfig::new("bench", (base..base + n).map(|p| format!("127.0.0.1:{p}")))
        .ca_file(fleet_ca);
    job.scheme = Some(Scheme::Https);
    job.scrape_interval = Some(PromDuration::from_millis(1000));
    job.scrape_timeout = Some(PromDuration::from_millis(1000));
    let prometheus = PrometheusFixture::builder()
        .mount(dir.path())
        .web_config(web)
        .job(job)
        .start()
        .await?;
    let (right, wrong) = (dir.path().join("right"), dir.path().join("wrong"));
    std::fs::write(&right, "pr0m-s3cret\n")?;
    std::fs::write(&wrong, "guess\n")?;
    let harness = crate::support::Harness::new()?;
    let ca = api_pki.ca().display().to_string();
    let json = harness.tmp().join("remote.json");
    let bench = |password: &std::path::Path| {
        let basic = format!("admin:{}", password.display());
        let args = [
            "bench",
            "--prometheus",
            prometheus.base_url(),
            "--ca",
            &ca,
            "--basic-auth",
            &basic,
            "--fleet",
            &control,
            "--interval",
            "1s",
            "--duration",
            "3s",
            "--no-progress",
            "--json",
            json.to_str().unwrap_or_default(),
        ];
        tokio::task::block_in_place(|| harness.run(&args, Duration::from_secs(120)))
    };

    // Act
    let with_right = bench(&right)?;
    let with_wrong = bench(&wrong)?;

    // Assert
    ensure!(
        prometheus.base_url().starts_with("https://"),
        "Prometheus' API is behind TLS: {}",
        prometheus.base_url()
    );
    ensure!(with_right.code() == Some(0), "the row passes:{with_right}");
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json)?)?;
    let row = &report["rows"][0];
    ensure!(
        row["pass"] == true && row["targets"] == u64::from(n) && row["mode"] == "tls",
        "N and mode read through the web config: {row:#}"
    );
    ensure!(
        with_wrong.code() == Some(2) && with_wrong.stderr.contains("401"),
        "a wrong password is exit 2 with the reason:{with_wrong}"
    );
    Ok(())
}

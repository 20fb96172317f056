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

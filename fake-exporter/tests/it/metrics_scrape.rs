//! A real Prometheus (`/usr/bin/prometheus`, 2.42) scrapes fake exporters: the sample count it
//! records (`scrape_samples_scraped`) equals the configured series count; and content
//! negotiation gives text 0.0.4 without `Accept` and OpenMetrics with Prometheus' `Accept`.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Context as _;
use fake_exporter::FakeExporter;
use fake_exporter::MetricsSpec;

use crate::support::{free_addr, get_body, poll, prometheus_bin, write_atomic, Proc};

/// What Prometheus 2.42 sends as `Accept` on scrapes.
const PROMETHEUS_ACCEPT: &str = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_counts_exactly_the_configured_series() -> anyhow::Result<()> {
    // Arrange: three exporters, one job each, scraped every 200 ms.
    let dir = tempfile::tempdir()?;
    let counts = [1usize, 57, 1000];
    let mut exporters = Vec::new();
    let mut jobs = String::new();
    for n in counts {
        let e = FakeExporter::builder()
            .metrics(MetricsSpec {
                series: n,
                ..MetricsSpec::default()
            })
            .start()
            .await?;
        jobs.push_str(&format!(
            "  - job_name: series-{n}\n    static_configs:\n      - targets: ['{}']\n",
            e.addr()
        ));
        exporters.push(e);
    }
    let config = dir.path().join("prometheus.yml");
    write_atomic(
        &config,
        &format!(
            "global:\n  scrape_interval: 200ms\n  scrape_timeout: 200ms\nscrape_configs:\n{jobs}"
        ),
    )?;
    let listen = free_addr();
    let mut prometheus = Proc::spawn(
        "prometheus",
        prometheus_bin()?,
        &[
            format!("--config.file={}", config.display()),
            format!("--storage.tsdb.path={}", dir.path().join("data").display()),
            format!("--web.listen-address={listen}"),
        ],
        dir.path(),
    )?;
    let http = reqwest::Client::new();
    let base = format!("http://{listen}");
    poll("Prometheus /-/ready", Duration::from_secs(20), || {
        let (http, url) = (http.clone(), format!("{base}/-/ready"));
        async move {
            match http.get(&url).send().await {
                Ok(r) if r.status() == 200 => Ok(()),
                Ok(r) => Err(format!("status {}", r.status())),
                Err(e) => Err(e.to_string()),
            }
        }
    })
    .await
    .with_context(|| prometheus.report())?;

    // Act: wait until every job has a sample of scrape_samples_scraped.
    let url = format!("{base}/api/v1/query");
    let want: BTreeMap<String, f64> = counts
        .iter()
        .map(|n| (format!("series-{n}"), *n as f64))
        .collect();
    let got = poll(
        "scrape_samples_scraped for every job",
        Duration::from_secs(20),
        || {
            let (http, url) = (http.clone(), url.clone());
            async move {
                let v: serde_json::Value = http
                    .get(&url)
                    .query(&[("query", "scrape_samples_scraped")])
                    .send()
                    .await
                    .map_err(|e| e.to_string())?
                    .json()
                    .await
                    .map_err(|e| e.to_string())?;
                let mut got = BTreeMap::new();
                for r in v["data"]["result"].as_array().into_iter().flatten() {
                    let job = r["metric"]["job"].as_str().unwrap_or_default().to_owned();
                    let value: f64 = r["value"][1]
                        .as_str()
                        .and_then(|s| s.parse().ok())
                        .unwrap_or(f64::NAN);
                    got.insert(job, value);
                }
                if got.len() == counts.len() {
                    Ok(got)
                } else {
                    Err(format!("{v}"))
                }
            }
        },
    )
    .await
    .with_context(|| prometheus.report())?;

    // Assert
    assert_eq!(got, want, "{}", prometheus.report());
    for e in &exporters {
        assert!(e.stats().requests_with_status(200) >= 1);
        assert_eq!(
            e.stats().requests_with_status(200),
            e.stats().requests_total()
        );
    }
    Ok(())
}

#[tokio::test]
async fn accept_header_selects_text_or_openmetrics() -> anyhow::Result<()> {
    let exporter = FakeExporter::builder()
        .metrics(MetricsSpec {
            series: 57,
            ..MetricsSpec::default()
        })
        .start()
        .await?;

    // curl sends no Accept header (or `*/*`): text 0.0.4.
    for headers in [&[][..], &[("accept", "*/*")][..]] {
        let (content_type, body) = get_body(exporter.addr(), None, "/metrics", headers).await?;
        assert_eq!(content_type, "text/plain; version=0.0.4; charset=utf-8");
        assert!(!body.contains("# EOF"), "{body}");
        assert!(body.ends_with('\n'));
    }

    let (content_type, body) = get_body(
        exporter.addr(),
        None,
        "/metrics",
        &[("accept", PROMETHEUS_ACCEPT)],
    )
    .await?;
    assert_eq!(
        content_type,
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    );
    assert!(body.ends_with("# EOF\n"), "{body}");
    Ok(())
}

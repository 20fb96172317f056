//! Cost of one `/metrics` body: `Metrics::render` by series count (100, 1k, 10k, 100k) ×
//! format (text 0.0.4, OpenMetrics) × encoding (identity, gzip at flate2's `fast` level as
//! the server compresses when the scrape sends `Accept-Encoding: gzip`, which Prometheus
//! always does).
//!
//! Values churn (the default spec) and the scrape number advances on every iteration, so
//! every body is different, as in a real scrape loop.
//!
//! ```text
//! cargo bench -p benches --bench render
//! cargo bench -p benches --bench render -- --test     # smoke: each case once
//! ```

use std::io::Write as _;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use fake_exporter::{Format, Metrics, MetricsSpec};

const SERIES: [usize; 4] = [100, 1_000, 10_000, 100_000];

fn render(c: &mut Criterion) {
    for (format_name, format) in [
        ("text", Format::Text004),
        ("openmetrics", Format::OpenMetrics),
    ] {
        for gzip in [false, true] {
            let encoding = if gzip { "gzip" } else { "identity" };
            let mut group = c.benchmark_group(format!("render/{format_name}/{encoding}"));
            group.throughput(Throughput::Elements(1));
            group.measurement_time(Duration::from_secs(3));
            for series in SERIES {
                let metrics = Metrics::new(MetricsSpec {
                    series,
                    ..MetricsSpec::default()
                });
                assert!(
                    body_len(&metrics, format, gzip, 0) > 0,
                    "{series} series render something"
                );
                if series == 100_000 {
                    // Fewer samples for the largest bodies: each takes tens of milliseconds.
                    group.sample_size(20);
                }
                let mut scrape_no = 0u64;
                group.bench_function(BenchmarkId::from_parameter(series), |b| {
                    b.iter(|| {
                        scrape_no += 1;
                        body_len(&metrics, format, gzip, scrape_no)
                    })
                });
            }
            group.finish();
        }
    }
}

/// Builds one body as the server does (render, then gzip at the fast level when asked) and
/// returns its length on the wire.
fn body_len(metrics: &Metrics, format: Format, gzip: bool, scrape_no: u64) -> usize {
    let rendered = metrics.render(format, scrape_no);
    if !gzip {
        return rendered.len();
    }
    let mut enc = flate2::write::GzEncoder::new(
        Vec::with_capacity(rendered.len() / 4 + 64),
        flate2::Compression::fast(),
    );
    enc.write_all(&rendered).expect("writing into a Vec");
    enc.finish().expect("finishing into a Vec").len()
}

criterion_group!(benches, render);
criterion_main!(benches);

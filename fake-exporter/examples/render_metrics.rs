//! Prints one scrape of 20 synthetic samples, in the format an `Accept` header asks for;
//! the content type goes to stderr.
//!
//! ```text
//! cargo run -p fake-exporter --example render_metrics
//! cargo run -p fake-exporter --example render_metrics -- 'application/openmetrics-text;version=1.0.0'
//! ```

use std::io::Write as _;

use fake_exporter::{Format, Metrics, MetricsSpec};

fn main() -> std::io::Result<()> {
    let accept = std::env::args().nth(1);
    let format = Format::negotiate(accept.as_deref());
    let metrics = Metrics::new(MetricsSpec {
        series: 20,
        ..MetricsSpec::default()
    });
    let body = metrics.render(format, 0);

    // The body alone goes to stdout, so it can be piped into `promtool check metrics`.
    let mut stderr = std::io::stderr().lock();
    writeln!(stderr, "Content-Type: {}", format.content_type())?;
    writeln!(stderr, "{} samples", metrics.sample_count())?;
    std::io::stdout().lock().write_all(&body)
}

//! One self-contained HTML page for a bench report: a table and inline SVG bar charts
//! (no JavaScript, no external resources).

use std::fmt::Write as _;

use super::{ka_str, BenchReport, BenchRow};
use crate::report::xml_escape as esc;

/// Renders the page.
pub fn render(report: &BenchReport) -> String {
    let mut out = String::new();
    let title = format!(
        "Scrape overhead: Prometheus {} ({})",
        esc(&report.prometheus_version),
        esc(&report.prometheus_go_version)
    );
    let _ = write!(
        out,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title>\n<style>body{{font-family:sans-serif;margin:2em;max-width:70em}}table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:2px 6px;text-align:right}}.fail{{background:#fdd}}</style></head><body>\n<h1>{title}</h1>\n<p>{} · {} CPU(s) · the exporters ran in-process, so exporter CPU includes the harness.</p>\n",
        esc(&report.backend),
        report.cpus
    );
    out.push_str("<h2>Prometheus CPU per window (seconds)</h2>\n");
    out.push_str(&bar_chart(report, "s", |r| r.prometheus_cpu_seconds));
    out.push_str("<h2>Scrape duration p99 (milliseconds)</h2>\n");
    out.push_str(&bar_chart(report, "ms", |r| r.scrape_duration_p99 * 1e3));
    out.push_str("<h2>All rows</h2>\n<table><tr><th>N</th><th>mode</th><th>keep-alive</th><th>Prometheus CPU s</th><th>RSS MiB</th><th>p50 ms</th><th>p99 ms</th><th>scrapes</th><th>failed</th><th>handshakes</th><th>per request</th><th>exporter CPU s</th><th>TLS</th><th>HTTP</th><th>verdict</th></tr>\n");
    for r in &report.rows {
        let _ = writeln!(
            out,
            "<tr{}><td>{}</td><td>{}</td><td>{}</td><td>{:.3}</td><td>{:.1}</td><td>{:.2}</td><td>{:.2}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.2}</td><td>{}</td><td>{} {} {}</td><td>{}</td><td>{}</td></tr>",
            if r.pass { "" } else { " class=\"fail\"" },
            r.targets,
            r.mode,
            ka_str(r.keep_alive),
            r.prometheus_cpu_seconds,
            r.prometheus_rss_bytes / 1_048_576.0,
            r.scrape_duration_p50 * 1e3,
            r.scrape_duration_p99 * 1e3,
            r.scrapes,
            r.failed_scrapes,
            r.handshakes,
            r.connections_per_request,
            r.exporter_cpu_seconds.map_or_else(|| "-".to_owned(), |c| format!("{c:.2}")),
            esc(&r.negotiated.tls_version),
            esc(&r.negotiated.kx_group),
            esc(&r.negotiated.cipher),
            esc(&r.negotiated.http_version),
            if r.pass { "ok".to_owned() } else { esc(&r.problems.join("; ")) }
        );
    }
    out.push_str("</table>\n");
    for r in report.rows.iter().filter(|r| !r.shards.is_empty()) {
        out.push_str(&shards_table(r));
    }
    out.push_str("</body></html>\n");
    out
}

/// The shards of one row: one line each, then the total.
fn shards_table(r: &BenchRow) -> String {
    let mut out = format!(
        "<h2>Shards: {}</h2>\n<table><tr><th>shard</th><th>URL</th><th>targets kept</th><th>targets scraped</th><th>Prometheus CPU s</th><th>cores</th><th>RSS MiB</th><th>fds</th><th>scrapes</th><th>failed</th></tr>\n",
        esc(&r.combination())
    );
    for s in &r.shards {
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.3}</td><td>{:.3}</td><td>{:.1}</td><td>{:.0}</td><td>{}</td><td>{}</td></tr>",
            s.shard,
            esc(&s.url),
            s.targets_kept,
            s.targets_scraped,
            s.prometheus_cpu_seconds,
            s.prometheus_cpu_cores,
            s.prometheus_rss_bytes / 1_048_576.0,
            s.prometheus_fds,
            s.scrapes,
            s.failed_scrapes
        );
    }
    let (kept, scraped, fds) = r.shard_totals();
    let _ = writeln!(
        out,
        "<tr><th>total</th><td></td><td>{}</td><td>{}</td><td>{:.3}</td><td>{:.3}</td><td>{:.1}</td><td>{:.0}</td><td>{}</td><td>{}</td></tr>\n</table>",
        kept,
        scraped,
        r.prometheus_cpu_seconds,
        r.prometheus_cpu_cores,
        r.prometheus_rss_bytes / 1_048_576.0,
        fds,
        r.scrapes,
        r.failed_scrapes
    );
    out
}

/// Horizontal bars, one per row (repeats averaged), labelled `N mode ka`.
fn bar_chart(report: &BenchReport, unit: &str, value: impl Fn(&BenchRow) -> f64) -> String {
    let mut bars: Vec<(String, f64, bool)> = Vec::new();
    for r in &report.rows {
        let label = format!("N={} {} ka {}", r.targets, r.mode, ka_str(r.keep_alive));
        match bars.iter_mut().find(|b| b.0 == label) {
            Some(b) => {
                // Running mean is not needed: show the maximum of repeats, stated below.
                b.1 = b.1.max(value(r));
                b.2 &= r.pass;
            }
            None => bars.push((label, value(r), r.pass)),
        }
    }
    let max = bars.iter().map(|b| b.1).fold(0.0_f64, f64::max).max(1e-9);
    let (label_w, bar_w, row_h) = (180.0, 480.0, 22.0);
    let height = row_h * bars.len() as f64 + 10.0;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{height}\" role=\"img\">\n",
        label_w + bar_w + 90.0
    );
    for (i, (label, v, pass)) in bars.iter().enumerate() {
        let y = 5.0 + row_h * i as f64;
        let w = (v / max * bar_w).max(1.0);
        let color = match (pass, label.ends_with("ka on")) {
            (false, _) => "#c0392b",
            (true, true) => "#2e86c1",
            (true, false) => "#e67e22",
        };
        let _ = writeln!(
            svg,
            "<text x=\"{}\" y=\"{}\" font-size=\"12\" text-anchor=\"end\">{}</text><rect x=\"{label_w}\" y=\"{y}\" width=\"{w:.1}\" height=\"{}\" fill=\"{color}\"/><text x=\"{}\" y=\"{}\" font-size=\"12\">{v:.3} {unit}</text>",
            label_w - 6.0,
            y + 14.0,
            esc(label),
            row_h - 6.0,
            label_w + w + 4.0,
            y + 14.0
        );
    }
    svg.push_str("</svg>\n<p>Blue: keep-alive on; orange: off; red: invalid row. With repeats, the largest value is shown.</p>\n");
    svg
}

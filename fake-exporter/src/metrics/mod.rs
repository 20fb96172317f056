//! Synthetic Prometheus metrics: realistic families, an exact sample count, value and series
//! churn, rendered as text 0.0.4 or OpenMetrics 1.0.0.
//!
//! The families look like node_exporter's and a typical service's, all prefixed `fake_`:
//! counters (`fake_cpu_seconds_total{cpu,mode}`, `fake_http_requests_total{code,handler,method}`,
//! network bytes), gauges (load, memory, filesystems with label values that need escaping,
//! `fake_build_info`), a histogram (`fake_http_request_duration_seconds{handler,method}`) and a
//! summary (`fake_rpc_duration_seconds{service}`). A filler gauge, `fake_synthetic_value
//! {series_id}`, brings the total to exactly [`MetricsSpec::series`] samples, because tests
//! compare it with Prometheus' `scrape_samples_scraped`.
//!
//! Values are pure functions of (seed, label set, scrape number): counters and histogram
//! buckets never decrease as the scrape number grows, buckets are cumulative with `+Inf` equal
//! to `_count`, and summary quantiles stay ordered. Series churn adds a `cycle_id` label to
//! every label set and walks through them, bumping it on a fraction of them every K scrapes.
//!
//! Construction escapes and joins every label string once; [`Metrics::render`] only formats
//! numbers into one buffer (100k samples in a few milliseconds in release builds).
//!
//! ```
//! use fake_exporter::{Format, Metrics, MetricsSpec};
//!
//! let metrics = Metrics::new(MetricsSpec { series: 20, ..MetricsSpec::default() });
//! let format = Format::negotiate(Some("application/openmetrics-text;version=1.0.0"));
//! let body = metrics.render(format, 0);
//! assert!(body.ends_with(b"# EOF\n"));
//! assert_eq!(metrics.sample_count(), 20);
//! ```

mod catalog;

pub(crate) use catalog::escape_label_value;
mod encode;
mod format;
mod spec;

use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;

pub use self::format::Format;
pub use self::spec::{MetricsError, MetricsSpec, SeriesChurn};

use self::catalog::Family;
use self::encode::{Rotation, Scrape};

/// A fixed set of synthetic metric families, rendered on demand.
///
/// `Send + Sync` and immutable apart from a buffer-size hint: build it once and share it
/// behind an `Arc` between listeners.
pub struct Metrics {
    spec: MetricsSpec,
    families: Vec<Family>,
    groups: u64,
    samples: usize,
    /// Size of the largest body rendered so far, so the next buffer is allocated once.
    size_hint: AtomicUsize,
}

impl Metrics {
    /// Builds the families for `spec`: every label string is prepared here.
    pub fn new(spec: MetricsSpec) -> Metrics {
        let families = catalog::build(&spec);
        let groups = families.iter().map(|f| f.groups.len() as u64).sum();
        let samples = families
            .iter()
            .map(|f| f.groups.len() * f.kind.samples_per_group())
            .sum();
        debug_assert_eq!(samples, spec.series, "catalog::build must be exact");
        Metrics {
            spec,
            families,
            groups,
            samples,
            size_hint: AtomicUsize::new(0),
        }
    }

    /// Renders one scrape. `scrape_no` drives value and series churn deterministically: the
    /// same spec and scrape number always give the same body.
    pub fn render(&self, format: Format, scrape_no: u64) -> Bytes {
        let mut out = Vec::with_capacity(self.size_hint.load(Ordering::Relaxed));
        self.render_into(format, scrape_no, &mut out);
        self.size_hint.fetch_max(out.len(), Ordering::Relaxed);
        Bytes::from(out)
    }

    /// Like [`render`](Self::render), appending to a buffer the caller reuses.
    pub fn render_into(&self, format: Format, scrape_no: u64, out: &mut Vec<u8>) {
        let scrape = Scrape {
            format,
            t: if self.spec.value_churn { scrape_no } else { 0 },
            churn: self.spec.series_churn.map(|churn| {
                let groups = u128::from(self.groups.max(1));
                let per_epoch = (churn.fraction() * groups as f64).ceil() as u128;
                let epoch = u128::from(scrape_no / churn.every_scrapes());
                Rotation {
                    rotated: epoch * per_epoch.min(groups),
                    groups,
                }
            }),
        };
        encode::write_all(&self.families, &scrape, out);
    }

    /// Samples in every body: equals [`MetricsSpec::series`].
    pub fn sample_count(&self) -> usize {
        self.samples
    }

    /// The spec these metrics were built from.
    pub fn spec(&self) -> &MetricsSpec {
        &self.spec
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics")
            .field("spec", &self.spec)
            .field("families", &self.families.len())
            .field("label_sets", &self.groups)
            .field("samples", &self.samples)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, HashMap, HashSet};
    use std::io::Write as _;
    use std::process::{Command, Stdio};

    use super::*;

    const PROMTOOL: &str = "/usr/bin/promtool";

    fn metrics(series: usize, value_churn: bool, series_churn: Option<SeriesChurn>) -> Metrics {
        Metrics::new(MetricsSpec {
            series,
            value_churn,
            series_churn,
            seed: 42,
        })
    }

    fn text(metrics: &Metrics, format: Format, scrape_no: u64) -> String {
        String::from_utf8(metrics.render(format, scrape_no).to_vec()).expect("bodies are UTF-8")
    }

    /// Sample lines as `series -> value`, failing on a duplicate series.
    fn samples(body: &str) -> BTreeMap<String, f64> {
        let mut out = BTreeMap::new();
        for line in body.lines().filter(|l| !l.starts_with('#')) {
            let (series, value) = line.rsplit_once(' ').expect("`series value`");
            let value: f64 = value.parse().expect("a float value");
            assert!(
                out.insert(series.to_owned(), value).is_none(),
                "duplicate series {series}"
            );
        }
        out
    }

    /// Runs `promtool check metrics` on a text-format body; returns its exit status and output.
    fn promtool_check(body: &[u8]) -> (bool, String) {
        let mut child = Command::new(PROMTOOL)
            .args(["check", "metrics"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot run {PROMTOOL} ({e}); install it with `apt-get install prometheus`")
            });
        child
            .stdin
            .take()
            .expect("stdin is piped")
            .write_all(body)
            .expect("promtool reads its stdin");
        let output = child.wait_with_output().expect("promtool exits");
        let report = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        (output.status.success(), report)
    }

    #[test]
    fn promtool_finds_nothing_to_lint() {
        let churns = [None, Some(SeriesChurn::new(2, 0.3).unwrap())];
        for series in [1, 10, 1_000] {
            for value_churn in [false, true] {
                for series_churn in churns {
                    let m = metrics(series, value_churn, series_churn);
                    for scrape_no in [0, 5] {
                        let body = m.render(Format::Text004, scrape_no);
                        let (ok, report) = promtool_check(&body);
                        assert!(
                            ok && report.trim().is_empty(),
                            "promtool on {series} samples (value churn {value_churn}, \
                             series churn {series_churn:?}, scrape {scrape_no}):\n{report}\n\
                             body:\n{}",
                            String::from_utf8_lossy(&body)
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn promtool_catches_a_broken_body() {
        // Guards the test above against a promtool that accepts anything.
        let (ok, report) = promtool_check(b"# TYPE fake_x counter\nfake_x 1\n");
        assert!(!ok, "promtool accepted a counter without _total: {report}");
    }

    #[test]
    fn sample_count_is_exact_in_both_formats() {
        for series in (0..=300).chain([1_000, 4_321, 100_000]) {
            let m = metrics(series, true, Some(SeriesChurn::new(1, 0.5).unwrap()));
            assert_eq!(m.sample_count(), series);
            for format in [Format::Text004, Format::OpenMetrics] {
                let body = text(&m, format, 3);
                assert_eq!(
                    samples(&body).len(),
                    series,
                    "{format:?} body with {series} samples"
                );
            }
        }
    }

    #[test]
    fn openmetrics_structure() {
        let m = metrics(1_000, true, None);
        let om = text(&m, Format::OpenMetrics, 7);
        assert!(om.ends_with("\n# EOF\n"), "EOF must be the last line");
        assert_eq!(om.matches("# EOF").count(), 1);
        assert!(!om.contains("_created"));
        assert!(om.contains("# TYPE fake_cpu_seconds counter\n"));
        assert!(om.contains("# HELP fake_cpu_seconds Seconds"));
        assert!(!om.contains("# TYPE fake_cpu_seconds_total"));
        assert!(om.contains("\nfake_cpu_seconds_total{cpu=\"0\",mode=\"idle\"} "));
        assert!(om.contains(",le=\"1.0\"} "));
        assert!(om.contains(",le=\"+Inf\"} "));

        // Every family: HELP, then TYPE, then its samples, all named after it.
        let mut family: Option<String> = None;
        let mut lines = om.lines().peekable();
        while let Some(line) = lines.next() {
            if line == "# EOF" {
                assert!(lines.peek().is_none());
                break;
            }
            if let Some(help) = line.strip_prefix("# HELP ") {
                let name = help.split(' ').next().expect("a name").to_owned();
                let typ = lines.next().expect("TYPE after HELP");
                assert!(typ.starts_with(&format!("# TYPE {name} ")), "{typ}");
                family = Some(name);
                continue;
            }
            let name = family.as_deref().expect("a sample after a TYPE line");
            let sample_name = line.split(['{', ' ']).next().expect("a name");
            let suffix = sample_name
                .strip_prefix(name)
                .unwrap_or_else(|| panic!("{sample_name} outside its family {name}"));
            assert!(
                ["", "_total", "_bucket", "_sum", "_count"].contains(&suffix),
                "{line}"
            );
        }

        // The same samples as text 0.0.4, apart from how `le` is spelt.
        let text_samples = samples(&text(&m, Format::Text004, 7));
        let om_samples: BTreeMap<String, f64> = samples(&om)
            .into_iter()
            .map(|(series, v)| {
                let series = series
                    .replace("le=\"1.0\"", "le=\"1\"")
                    .replace("le=\"5.0\"", "le=\"5\"")
                    .replace("le=\"10.0\"", "le=\"10\"");
                (series, v)
            })
            .collect();
        assert_eq!(text_samples, om_samples);
    }

    #[test]
    fn empty_spec_renders_valid_empty_bodies() {
        let m = metrics(0, true, None);
        assert_eq!(text(&m, Format::Text004, 0), "");
        assert_eq!(text(&m, Format::OpenMetrics, 0), "# EOF\n");
    }

    #[test]
    fn counters_and_histograms_never_decrease() {
        let m = metrics(2_000, true, None);
        let body0 = text(&m, Format::Text004, 0);
        let counters: HashSet<String> = body0
            .lines()
            .filter_map(|l| l.strip_prefix("# TYPE "))
            .filter(|l| l.ends_with(" counter") || l.ends_with(" histogram"))
            .map(|l| l.split(' ').next().expect("a name").to_owned())
            .collect();
        assert!(counters.len() >= 4, "{counters:?}");
        let is_monotonic = |series: &str| {
            counters.iter().any(|c| {
                series.starts_with(c.as_str())
                    && (series[c.len()..].starts_with('{')
                        || series[c.len()..].starts_with("_bucket")
                        || series[c.len()..].starts_with("_sum")
                        || series[c.len()..].starts_with("_count"))
            })
        };

        let mut previous = samples(&body0);
        for scrape_no in 1..40 {
            let current = samples(&text(&m, Format::Text004, scrape_no));
            let mut moved = 0;
            for (series, v) in &current {
                let before = previous[series];
                if is_monotonic(series) {
                    assert!(
                        *v >= before,
                        "{series} went from {before} to {v} at scrape {scrape_no}"
                    );
                }
                if *v != before {
                    moved += 1;
                }
            }
            assert!(moved > current.len() / 2, "only {moved} values moved");
            previous = current;
        }
    }

    #[test]
    fn histograms_and_summaries_are_consistent() {
        let m = metrics(5_000, true, None);
        for scrape_no in [0, 1, 99] {
            let body = text(&m, Format::Text004, scrape_no);
            // Buckets by label set, in body order (ascending `le`).
            let mut buckets: HashMap<String, Vec<f64>> = HashMap::new();
            let mut counts = HashMap::new();
            let mut quantiles: HashMap<String, Vec<f64>> = HashMap::new();
            for line in body.lines().filter(|l| !l.starts_with('#')) {
                let (series, value) = line.rsplit_once(' ').expect("`series value`");
                let value: f64 = value.parse().expect("a float");
                if let Some(rest) = series.strip_prefix("fake_http_request_duration_seconds_bucket")
                {
                    let key = rest.split(",le=").next().expect("labels").to_owned();
                    buckets.entry(key).or_default().push(value);
                } else if let Some(rest) =
                    series.strip_prefix("fake_http_request_duration_seconds_count")
                {
                    counts.insert(rest.trim_end_matches('}').to_owned(), value);
                } else if let Some(rest) = series.strip_prefix("fake_rpc_duration_seconds{") {
                    let key = rest.split(",quantile=").next().expect("labels").to_owned();
                    quantiles.entry(key).or_default().push(value);
                }
            }
            assert!(!buckets.is_empty() && !quantiles.is_empty());
            for (key, b) in &buckets {
                assert_eq!(b.len(), 12, "{key}");
                assert!(b.windows(2).all(|w| w[0] <= w[1]), "{key}: {b:?}");
                assert_eq!(Some(b.last().expect("+Inf")), counts.get(key), "{key}");
            }
            for (key, q) in &quantiles {
                assert_eq!(q.len(), 3, "{key}");
                assert!(q[0] > 0.0 && q[0] < q[1] && q[1] < q[2], "{key}: {q:?}");
            }
        }
    }

    #[test]
    fn values_stay_put_without_value_churn() {
        let still = metrics(500, false, None);
        assert_eq!(
            still.render(Format::Text004, 0),
            still.render(Format::Text004, 1234)
        );
        let moving = metrics(500, true, None);
        assert_ne!(
            moving.render(Format::Text004, 0),
            moving.render(Format::Text004, 1)
        );
        // Deterministic: the same scrape renders the same body.
        assert_eq!(
            moving.render(Format::OpenMetrics, 9),
            metrics(500, true, None).render(Format::OpenMetrics, 9)
        );
    }

    /// Removes `name="value"` (a label we write, so its value holds no quote) from a series;
    /// returns the rest and the value.
    fn cut_label(series: &str, name: &str) -> (String, Option<String>) {
        for sep in ['{', ','] {
            let needle = format!("{sep}{name}=\"");
            if let Some(start) = series.find(&needle) {
                let value_start = start + needle.len();
                let end = value_start + series[value_start..].find('"').expect("closing quote");
                let value = series[value_start..end].to_owned();
                // Keep the `{` of a first label; drop the `,` of a later one.
                let keep = if sep == '{' { start + 1 } else { start };
                let mut rest = series[end + 1..].to_owned();
                if sep == '{' {
                    rest = rest.strip_prefix(',').unwrap_or(&rest).to_owned();
                }
                return (format!("{}{rest}", &series[..keep]), Some(value));
            }
        }
        (series.to_owned(), None)
    }

    /// Label set (family name and labels, without `cycle_id`, `le` and `quantile`) -> cycle id.
    fn cycle_ids(body: &str) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        for series in samples(body).into_keys() {
            let (series, cycle) = cut_label(&series, "cycle_id");
            let (series, _) = cut_label(&series, "le");
            let (series, _) = cut_label(&series, "quantile");
            let (name, labels) = series.split_at(series.find('{').unwrap_or(series.len()));
            let name = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|suffix| name.strip_suffix(suffix))
                .unwrap_or(name);
            let cycle = cycle.expect("every series has a cycle_id under series churn");
            if let Some(other) = out.insert(format!("{name}{labels}"), cycle.clone()) {
                assert_eq!(other, cycle, "one label set, two cycle ids: {name}{labels}");
            }
        }
        out
    }

    #[test]
    fn cut_label_removes_one_label() {
        assert_eq!(
            cut_label("m{a=\"1\",cycle_id=\"4\",le=\"+Inf\"}", "cycle_id"),
            ("m{a=\"1\",le=\"+Inf\"}".to_owned(), Some("4".to_owned()))
        );
        assert_eq!(
            cut_label("m{cycle_id=\"4\",le=\"1\"}", "cycle_id"),
            ("m{le=\"1\"}".to_owned(), Some("4".to_owned()))
        );
        assert_eq!(
            cut_label("m{le=\"1\"}", "le"),
            ("m{}".to_owned(), Some("1".to_owned()))
        );
        assert_eq!(cut_label("m", "le"), ("m".to_owned(), None));
    }

    #[test]
    fn series_churn_rotates_the_configured_fraction() {
        let every = 3;
        let m = metrics(1_000, false, Some(SeriesChurn::new(every, 0.1).unwrap()));
        let label_sets = m.groups as usize;
        let per_rotation = label_sets.div_ceil(10);

        let mut previous = cycle_ids(&text(&m, Format::Text004, 0));
        assert_eq!(previous.len(), label_sets);
        assert!(previous.values().all(|c| c == "0"));
        for scrape_no in 1..=30 {
            let body = text(&m, Format::Text004, scrape_no);
            assert_eq!(
                samples(&body).len(),
                1_000,
                "sample count is stable under churn"
            );
            let current = cycle_ids(&body);
            assert_eq!(current.len(), label_sets);
            let rotated = current
                .iter()
                .filter(|(set, cycle)| previous[*set] != **cycle)
                .count();
            let want = if scrape_no % every == 0 {
                per_rotation
            } else {
                0
            };
            assert_eq!(rotated, want, "label sets rotated at scrape {scrape_no}");
            previous = current;
        }
        // 10 rotations of ceil(a tenth) walked the whole ring once, plus a few sets twice.
        let twice = previous.values().filter(|c| *c == "2").count();
        let once = previous.values().filter(|c| *c == "1").count();
        assert_eq!(twice, 10 * per_rotation - label_sets);
        assert_eq!(once + twice, label_sets);
    }

    #[test]
    fn full_series_churn_renews_every_series() {
        let m = metrics(300, true, Some(SeriesChurn::new(1, 1.0).unwrap()));
        let a = samples(&text(&m, Format::Text004, 4));
        let b = samples(&text(&m, Format::Text004, 5));
        assert!(a.keys().all(|s| !b.contains_key(s)));
        assert!(text(&m, Format::Text004, 5).contains("cycle_id=\"5\""));
    }

    #[test]
    fn label_values_are_escaped_in_the_body() {
        let body = text(&metrics(1_000, true, None), Format::Text004, 0);
        assert!(
            body.contains(r#"mountpoint="/media/usb \"backup\"""#),
            "{body}"
        );
        assert!(body.contains(r#"mountpoint="/mnt/nas\\share""#));
        assert!(body.contains(r#"mountpoint="/mnt/line\nbreak""#));
    }

    #[test]
    fn render_into_appends_and_matches_render() {
        let m = metrics(100, true, None);
        let mut buf = b"prefix\n".to_vec();
        m.render_into(Format::OpenMetrics, 2, &mut buf);
        assert_eq!(&buf[7..], &m.render(Format::OpenMetrics, 2)[..]);
    }

    #[test]
    fn metrics_can_be_shared_between_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Metrics>();
        let m = std::sync::Arc::new(metrics(100_000, true, None));
        let bodies: Vec<Bytes> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..2)
                .map(|_| s.spawn(|| m.render(Format::Text004, 1)))
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("render does not panic"))
                .collect()
        });
        assert_eq!(bodies[0], bodies[1]);
        assert!(format!("{m:?}").contains("samples: 100000"));
    }
}

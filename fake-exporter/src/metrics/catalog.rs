//! The synthetic metric families, modelled on node_exporter and a typical HTTP/gRPC service,
//! and how a sample budget is spread over them.
//!
//! Everything here runs once, at construction: label strings are escaped and joined, and
//! every value model is drawn from the seed, so rendering only formats numbers.

use super::MetricsSpec;

/// Upper bounds of the histogram buckets (client_golang's `DefBuckets`), `+Inf` excluded.
pub(crate) const BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// `le` label values in text format 0.0.4, as Go writes them.
pub(crate) const LE_TEXT: [&str; 12] = [
    "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf",
];
/// `le` label values in OpenMetrics, whose canonical floats keep a `.0`.
pub(crate) const LE_OPENMETRICS: [&str; 12] = [
    "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1.0", "2.5", "5.0", "10.0", "+Inf",
];
/// Summary quantiles and their `quantile` label values.
pub(crate) const QUANTILES: [&str; 3] = ["0.5", "0.9", "0.99"];

/// Budgets of at least this many samples also get the one-sample node families
/// (`fake_load1`, `fake_build_info`, ...).
const SINGLETONS_FROM: usize = 20;

/// A metric type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Counter,
    Gauge,
    Histogram,
    Summary,
}

impl Kind {
    /// Samples one label set of this type exposes.
    pub(crate) fn samples_per_group(self) -> usize {
        match self {
            Kind::Counter | Kind::Gauge => 1,
            // Every bucket, `+Inf` included, then `_sum` and `_count`.
            Kind::Histogram => LE_TEXT.len() + 2,
            Kind::Summary => QUANTILES.len() + 2,
        }
    }

    /// The `# TYPE` word.
    pub(crate) fn type_name(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
            Kind::Summary => "summary",
        }
    }
}

/// One metric family with its label sets.
pub(crate) struct Family {
    pub(crate) kind: Kind,
    /// The sample name; counters include `_total`, which OpenMetrics drops from the family name.
    pub(crate) name: &'static str,
    pub(crate) help: &'static str,
    pub(crate) groups: Vec<Group>,
}

/// One label set of a family and the model of its values.
pub(crate) struct Group {
    /// `name="value",...` with values escaped; empty for a family without labels.
    pub(crate) labels: Box<str>,
    /// Index of this label set over all families, in render order (drives series churn).
    pub(crate) id: u64,
    /// Per-group hash key for value jitter.
    pub(crate) key: u64,
    pub(crate) model: Model,
}

/// How values are rounded when written, so bodies look like real ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Precision {
    Whole,
    Hundredths,
    Micros,
}

impl Precision {
    /// Rounds `v`; rounding is monotonic, so monotonic values stay monotonic.
    pub(crate) fn round(self, v: f64) -> f64 {
        match self {
            Precision::Whole => v.floor(),
            Precision::Hundredths => (v * 100.0).round() / 100.0,
            Precision::Micros => (v * 1e6).round() / 1e6,
        }
    }
}

/// Value model of one label set. `t` is the scrape number (0 when values do not churn) and
/// `u` a hash of (key, t) in `[0, 1)`.
pub(crate) enum Model {
    /// `base + rate * (t + 0.9 u)`: grows by 0.1 to 1.9 `rate` per scrape, never decreases.
    Counter {
        base: f64,
        rate: f64,
        precision: Precision,
    },
    /// `base * (1 + spread * (u - 0.5))`.
    Gauge {
        base: f64,
        spread: f64,
        precision: Precision,
    },
    /// Observation count grows like a counter; bucket `i` holds `floor(count * cdf[i])`,
    /// cumulative because `cdf` is non-decreasing; `_sum` is `count * mean`.
    Histogram {
        base: f64,
        rate: f64,
        cdf: [f64; 11],
        mean: f64,
    },
    /// Count and sum like a histogram; quantiles jitter by ±5% around values 2-3x apart, so
    /// they stay ordered.
    Summary {
        base: f64,
        rate: f64,
        quantiles: [f64; 3],
        mean: f64,
    },
}

/// The families for `spec`, exposing exactly `spec.series` samples in total.
pub(crate) fn build(spec: &MetricsSpec) -> Vec<Family> {
    let mut families = Vec::new();
    let mut next_id = 0u64;
    for (blueprint, groups) in allocate(spec.series) {
        if groups == 0 {
            continue;
        }
        let family_key = splitmix64(spec.seed ^ fnv1a(blueprint.name));
        let groups = (0..groups)
            .map(|i| {
                let key = splitmix64(family_key ^ splitmix64(i as u64));
                let mut rng = SplitMix(key);
                let labels = join_labels(&(blueprint.labels)(i));
                let model = (blueprint.model)(i, &mut rng);
                let id = next_id;
                next_id += 1;
                Group {
                    labels,
                    id,
                    key,
                    model,
                }
            })
            .collect();
        families.push(Family {
            kind: blueprint.kind,
            name: blueprint.name,
            help: blueprint.help,
            groups,
        });
    }
    families
}

/// Spreads `series` samples over the blueprints: each proportional family takes its share
/// (rounded down to whole label sets) and the filler gauge takes the rest, so the total is
/// exact for every budget.
fn allocate(series: usize) -> Vec<(&'static Blueprint, usize)> {
    let mut left = series;
    let mut plan = Vec::with_capacity(BLUEPRINTS.len() + 1);
    for blueprint in &BLUEPRINTS {
        let per_group = blueprint.kind.samples_per_group();
        let wanted = match blueprint.share {
            Share::One if series >= SINGLETONS_FROM => 1,
            Share::One => 0,
            Share::Of(share) => (series as f64 * share) as usize / per_group,
        };
        let groups = wanted.min(left / per_group);
        left -= groups * per_group;
        plan.push((blueprint, groups));
    }
    // The filler is a gauge: one sample per label set.
    plan.push((&FILLER, left));
    plan
}

/// How much of the budget a blueprint takes.
#[derive(Clone, Copy)]
enum Share {
    /// Exactly one label set, when the budget allows it.
    One,
    /// This fraction of the samples.
    Of(f64),
}

/// The recipe for one family: its name, type, labels of label set `i`, and value model.
struct Blueprint {
    name: &'static str,
    help: &'static str,
    kind: Kind,
    share: Share,
    labels: fn(usize) -> Vec<(&'static str, String)>,
    model: fn(usize, &mut SplitMix) -> Model,
}

const CPU_MODES: [(&str, f64); 8] = [
    ("idle", 0.70),
    ("iowait", 0.02),
    ("irq", 0.005),
    ("nice", 0.01),
    ("softirq", 0.015),
    ("steal", 0.002),
    ("system", 0.08),
    ("user", 0.17),
];
const HANDLERS: [&str; 8] = [
    "/",
    "/metrics",
    "/api/v1/query",
    "/api/v1/query_range",
    "/api/v1/series",
    "/api/v1/labels",
    "/-/healthy",
    "/-/ready",
];
const METHODS: [&str; 2] = ["GET", "POST"];
const CODES: [(&str, f64); 3] = [("200", 1.0), ("404", 0.02), ("500", 0.002)];
const SERVICES: [&str; 6] = [
    "fake.v1.Catalog/List",
    "fake.v1.Catalog/Get",
    "fake.v1.Orders/Create",
    "fake.v1.Orders/Get",
    "fake.v1.Users/Login",
    "fake.v1.Users/Get",
];
/// Mount points include the three characters that need escaping in label values.
const FILESYSTEMS: [(&str, &str, &str); 7] = [
    ("/dev/sda1", "ext4", "/"),
    ("/dev/sda2", "ext4", "/home"),
    ("tmpfs", "tmpfs", "/run"),
    ("/dev/sdb1", "xfs", "/var/lib/docker"),
    ("/dev/sdc1", "vfat", "/media/usb \"backup\""),
    ("//nas/share", "cifs", "/mnt/nas\\share"),
    ("/dev/sdd1", "ext4", "/mnt/line\nbreak"),
];
/// Scrape interval the rates are scaled to, in seconds.
const INTERVAL: f64 = 15.0;
/// Pretend uptime, in seconds, so counters start at plausible values.
const UPTIME: f64 = 1_000_000.0;

fn handler(i: usize) -> String {
    match HANDLERS.get(i) {
        Some(h) => (*h).to_owned(),
        None => format!("/api/v1/items/{}", i - HANDLERS.len()),
    }
}

fn network_device(i: usize) -> String {
    match i {
        0 => "lo".to_owned(),
        _ => format!("eth{}", i - 1),
    }
}

fn latency_model(rng: &mut SplitMix) -> ([f64; 11], f64) {
    // A log-logistic latency distribution with a median between 5 ms and 500 ms.
    let median = 0.005 * 100f64.powf(rng.unit());
    let shape = 1.5 + 2.0 * rng.unit();
    let mut cdf = [0.0; 11];
    for (c, bound) in cdf.iter_mut().zip(BUCKETS) {
        *c = 1.0 / (1.0 + (median / bound).powf(shape));
    }
    // Mean from bucket midpoints; observations above the last bound count as 1.5x it.
    let mut mean = 0.0;
    let mut below = 0.0;
    let mut lower = 0.0;
    for (c, bound) in cdf.iter().zip(BUCKETS) {
        mean += (c - below) * (lower + bound) / 2.0;
        below = *c;
        lower = bound;
    }
    mean += (1.0 - below) * 1.5 * lower;
    (cdf, mean)
}

static BLUEPRINTS: [Blueprint; 12] = [
    Blueprint {
        name: "fake_load1",
        help: "1m load average.",
        kind: Kind::Gauge,
        share: Share::One,
        labels: |_| Vec::new(),
        model: |_, rng| Model::Gauge {
            base: 0.2 + 2.0 * rng.unit(),
            spread: 0.5,
            precision: Precision::Hundredths,
        },
    },
    Blueprint {
        name: "fake_memory_available_bytes",
        help: "Memory available for starting new applications, in bytes.",
        kind: Kind::Gauge,
        share: Share::One,
        labels: |_| Vec::new(),
        model: |_, rng| Model::Gauge {
            base: (2.0 + 14.0 * rng.unit()) * 1024.0 * 1024.0 * 1024.0,
            spread: 0.1,
            precision: Precision::Whole,
        },
    },
    Blueprint {
        name: "fake_boot_time_seconds",
        help: "Node boot time, in unixtime.",
        kind: Kind::Gauge,
        share: Share::One,
        labels: |_| Vec::new(),
        model: |_, _| Model::Gauge {
            base: 1_700_000_000.0,
            spread: 0.0,
            precision: Precision::Whole,
        },
    },
    Blueprint {
        name: "fake_build_info",
        help: "A metric with a constant '1' value labeled by version, revision, branch, and goversion from which fake-exporter was built.",
        kind: Kind::Gauge,
        share: Share::One,
        labels: |_| {
            vec![
                ("branch", "main".to_owned()),
                ("goversion", "none (rust)".to_owned()),
                ("revision", "0000000".to_owned()),
                ("version", env!("CARGO_PKG_VERSION").to_owned()),
            ]
        },
        model: |_, _| Model::Gauge {
            base: 1.0,
            spread: 0.0,
            precision: Precision::Whole,
        },
    },
    Blueprint {
        name: "fake_cpu_seconds_total",
        help: "Seconds the CPUs spent in each mode.",
        kind: Kind::Counter,
        share: Share::Of(0.20),
        labels: |i| {
            vec![
                ("cpu", (i / CPU_MODES.len()).to_string()),
                ("mode", CPU_MODES[i % CPU_MODES.len()].0.to_owned()),
            ]
        },
        model: |i, rng| {
            let share = CPU_MODES[i % CPU_MODES.len()].1 * (0.8 + 0.4 * rng.unit());
            Model::Counter {
                base: UPTIME * share,
                rate: INTERVAL * share,
                precision: Precision::Hundredths,
            }
        },
    },
    Blueprint {
        name: "fake_network_receive_bytes_total",
        help: "Network device statistic receive_bytes.",
        kind: Kind::Counter,
        share: Share::Of(0.04),
        labels: |i| vec![("device", network_device(i))],
        model: |_, rng| {
            let per_second = 1e3 * 1e4f64.powf(rng.unit());
            Model::Counter {
                base: UPTIME * per_second,
                rate: INTERVAL * per_second,
                precision: Precision::Whole,
            }
        },
    },
    Blueprint {
        name: "fake_network_transmit_bytes_total",
        help: "Network device statistic transmit_bytes.",
        kind: Kind::Counter,
        share: Share::Of(0.04),
        labels: |i| vec![("device", network_device(i))],
        model: |_, rng| {
            let per_second = 1e3 * 1e4f64.powf(rng.unit());
            Model::Counter {
                base: UPTIME * per_second,
                rate: INTERVAL * per_second,
                precision: Precision::Whole,
            }
        },
    },
    Blueprint {
        name: "fake_http_requests_total",
        help: "Total number of HTTP requests by handler, method and status code.",
        kind: Kind::Counter,
        share: Share::Of(0.12),
        labels: |i| {
            vec![
                ("code", CODES[i % CODES.len()].0.to_owned()),
                ("handler", handler(i / (CODES.len() * METHODS.len()))),
                ("method", METHODS[(i / CODES.len()) % METHODS.len()].to_owned()),
            ]
        },
        model: |i, rng| {
            let per_second = CODES[i % CODES.len()].1 * 50.0 * rng.unit();
            Model::Counter {
                base: (UPTIME * per_second).floor(),
                rate: INTERVAL * per_second,
                precision: Precision::Whole,
            }
        },
    },
    Blueprint {
        name: "fake_http_request_duration_seconds",
        help: "Latency of HTTP requests by handler and method.",
        kind: Kind::Histogram,
        share: Share::Of(0.30),
        labels: |i| {
            vec![
                ("handler", handler(i / METHODS.len())),
                ("method", METHODS[i % METHODS.len()].to_owned()),
            ]
        },
        model: |_, rng| {
            let per_second = 20.0 * rng.unit();
            let (cdf, mean) = latency_model(rng);
            Model::Histogram {
                base: (UPTIME * per_second).floor(),
                rate: INTERVAL * per_second,
                cdf,
                mean,
            }
        },
    },
    Blueprint {
        name: "fake_rpc_duration_seconds",
        help: "Latency of RPCs by service and method.",
        kind: Kind::Summary,
        share: Share::Of(0.10),
        labels: |i| {
            let service = match SERVICES.get(i) {
                Some(s) => (*s).to_owned(),
                None => format!("fake.v1.Shard{}/Get", i - SERVICES.len()),
            };
            vec![("service", service)]
        },
        model: |_, rng| {
            let per_second = 10.0 * rng.unit();
            let median = 0.002 * 50f64.powf(rng.unit());
            let p90 = median * (2.0 + rng.unit());
            let p99 = p90 * (2.0 + rng.unit());
            Model::Summary {
                base: (UPTIME * per_second).floor(),
                rate: INTERVAL * per_second,
                quantiles: [median, p90, p99],
                mean: median * 1.3,
            }
        },
    },
    Blueprint {
        name: "fake_filesystem_avail_bytes",
        help: "Filesystem space available to non-root users, in bytes.",
        kind: Kind::Gauge,
        share: Share::Of(0.05),
        labels: |i| {
            let (device, fstype, mountpoint) = match FILESYSTEMS.get(i) {
                Some(&(d, f, m)) => (d.to_owned(), f.to_owned(), m.to_owned()),
                None => {
                    let k = i - FILESYSTEMS.len();
                    (format!("/dev/vd{k}"), "ext4".to_owned(), format!("/data/{k}"))
                }
            };
            vec![
                ("device", device),
                ("fstype", fstype),
                ("mountpoint", mountpoint),
            ]
        },
        model: |_, rng| Model::Gauge {
            base: 1e9 * 1e3f64.powf(rng.unit()),
            spread: 0.02,
            precision: Precision::Whole,
        },
    },
    Blueprint {
        name: "fake_open_fds",
        help: "Number of open file descriptors.",
        kind: Kind::Gauge,
        share: Share::One,
        labels: |_| Vec::new(),
        model: |_, rng| Model::Gauge {
            base: 20.0 + 200.0 * rng.unit(),
            spread: 0.2,
            precision: Precision::Whole,
        },
    },
];

/// Takes whatever the other families leave, one sample per label set, like avalanche's
/// series.
static FILLER: Blueprint = Blueprint {
    name: "fake_synthetic_value",
    help: "Synthetic values that bring the sample count to the configured number.",
    kind: Kind::Gauge,
    share: Share::Of(0.0),
    labels: |i| vec![("series_id", i.to_string())],
    model: |_, rng| Model::Gauge {
        base: 100.0 * rng.unit(),
        spread: 0.4,
        precision: Precision::Hundredths,
    },
};

/// Joins label pairs into `a="x",b="y"`, escaping values as both text formats require.
fn join_labels(pairs: &[(&'static str, String)]) -> Box<str> {
    let mut out = String::new();
    for (i, (name, value)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(name);
        out.push_str("=\"");
        escape_label_value(value, &mut out);
        out.push('"');
    }
    out.into_boxed_str()
}

/// Escapes `\`, `"` and newline, the three characters a label value cannot hold as is.
pub(crate) fn escape_label_value(value: &str, out: &mut String) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// A small deterministic generator (SplitMix64); values only need to look random.
pub(crate) struct SplitMix(u64);

impl SplitMix {
    /// Uniform in `[0, 1)`.
    pub(crate) fn unit(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        to_unit(splitmix64(self.0))
    }
}

/// The SplitMix64 finaliser: a cheap, well-mixed 64-bit hash.
pub(crate) fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The top 53 bits of `x` as a float in `[0, 1)`.
pub(crate) fn to_unit(x: u64) -> f64 {
    (x >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// FNV-1a, to give each family its own key from its name.
fn fnv1a(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01B3)
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    fn spec(series: usize) -> MetricsSpec {
        MetricsSpec {
            series,
            ..MetricsSpec::default()
        }
    }

    fn total_samples(families: &[Family]) -> usize {
        families
            .iter()
            .map(|f| f.groups.len() * f.kind.samples_per_group())
            .sum()
    }

    #[test]
    fn allocation_is_exact_for_every_budget() {
        for series in (0..=2_000).chain([9_999, 100_000, 1_000_003]) {
            let families = build(&spec(series));
            assert_eq!(total_samples(&families), series, "series = {series}");
            assert!(families.iter().all(|f| !f.groups.is_empty()));
        }
    }

    #[test]
    fn large_budgets_use_every_kind_and_most_go_to_realistic_families() {
        let families = build(&spec(10_000));
        for kind in [Kind::Counter, Kind::Gauge, Kind::Histogram, Kind::Summary] {
            assert!(families.iter().any(|f| f.kind == kind), "{kind:?} missing");
        }
        let filler = families
            .iter()
            .find(|f| f.name == FILLER.name)
            .map_or(0, |f| f.groups.len());
        assert!(filler < 2_000, "filler takes {filler} of 10000 samples");
    }

    #[test]
    fn label_sets_are_unique_within_each_family_and_ids_are_dense() {
        let families = build(&spec(50_000));
        let mut next = 0;
        for family in &families {
            let mut seen = HashSet::new();
            for group in &family.groups {
                assert!(
                    seen.insert(&group.labels),
                    "{}{{{}}} twice",
                    family.name,
                    group.labels
                );
                assert_eq!(group.id, next);
                next += 1;
            }
        }
    }

    #[test]
    fn names_follow_prometheus_conventions() {
        for blueprint in BLUEPRINTS.iter().chain([&FILLER]) {
            assert!(blueprint.name.starts_with("fake_"), "{}", blueprint.name);
            assert_eq!(
                blueprint.name.ends_with("_total"),
                blueprint.kind == Kind::Counter,
                "{}",
                blueprint.name
            );
        }
    }

    #[test]
    fn label_values_are_escaped() {
        let mut out = String::new();
        escape_label_value("a\\b\"c\nd/é", &mut out);
        assert_eq!(out, r#"a\\b\"c\nd/é"#);
        assert_eq!(
            &*join_labels(&[("a", "x".into()), ("b", "say \"hi\"".into())]),
            r#"a="x",b="say \"hi\"""#
        );
    }

    #[test]
    fn latency_cdf_is_cumulative_and_mean_is_plausible() {
        let mut rng = SplitMix(7);
        for _ in 0..100 {
            let (cdf, mean) = latency_model(&mut rng);
            assert!(cdf.windows(2).all(|w| w[0] <= w[1]), "{cdf:?}");
            assert!(cdf.iter().all(|c| (0.0..=1.0).contains(c)));
            assert!(mean > 0.0 && mean < 15.0, "mean {mean}");
        }
    }

    #[test]
    fn same_seed_same_models_other_seed_other_models() {
        let key = |seed| {
            build(&MetricsSpec {
                seed,
                ..spec(1_000)
            })[4]
                .groups[0]
                .key
        };
        assert_eq!(key(1), key(1));
        assert_ne!(key(1), key(2));
    }
}

//! Writing the families as text 0.0.4 or OpenMetrics. Only numbers are formatted here;
//! names and label strings were prepared at construction, and nothing is allocated per
//! sample.

use std::io::Write as _;

use super::catalog::{
    splitmix64, to_unit, Family, Group, Kind, Model, Precision, LE_OPENMETRICS, LE_TEXT, QUANTILES,
};
use super::Format;

/// Name of the label whose value changes when a label set rotates.
pub(crate) const CHURN_LABEL: &str = "cycle_id";

/// Where one render stands in time.
pub(crate) struct Scrape {
    pub(crate) format: Format,
    /// Value time: the scrape number, or 0 when values do not churn.
    pub(crate) t: u64,
    pub(crate) churn: Option<Rotation>,
}

/// Series churn at one scrape: `rotated` rotations of single label sets have happened so far,
/// walking round the `groups` label sets in order.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Rotation {
    pub(crate) rotated: u128,
    pub(crate) groups: u128,
}

impl Rotation {
    /// How many times label set `id` has rotated: the number of `k < rotated` with
    /// `k % groups == id`.
    pub(crate) fn cycle(self, id: u64) -> u128 {
        let id = u128::from(id);
        // `id < groups`, so this never underflows; it is 0 while `rotated <= id`.
        (self.rotated + self.groups - 1 - id) / self.groups
    }
}

/// Appends every family to `out`, then `# EOF` for OpenMetrics.
pub(crate) fn write_all(families: &[Family], scrape: &Scrape, out: &mut Vec<u8>) {
    for family in families {
        write_header(family, scrape.format, out);
        for group in &family.groups {
            write_group(family, group, scrape, out);
        }
    }
    if scrape.format == Format::OpenMetrics {
        out.extend_from_slice(b"# EOF\n");
    }
}

fn write_header(family: &Family, format: Format, out: &mut Vec<u8>) {
    let name = match (format, family.kind) {
        // OpenMetrics names the counter family without the `_total` of its samples.
        (Format::OpenMetrics, Kind::Counter) => {
            family.name.strip_suffix("_total").unwrap_or(family.name)
        }
        _ => family.name,
    };
    out.extend_from_slice(b"# HELP ");
    out.extend_from_slice(name.as_bytes());
    out.push(b' ');
    for c in family.help.bytes() {
        match c {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'"' if format == Format::OpenMetrics => out.extend_from_slice(b"\\\""),
            c => out.push(c),
        }
    }
    out.extend_from_slice(b"\n# TYPE ");
    out.extend_from_slice(name.as_bytes());
    out.push(b' ');
    out.extend_from_slice(family.kind.type_name().as_bytes());
    out.push(b'\n');
}

fn write_group(family: &Family, group: &Group, scrape: &Scrape, out: &mut Vec<u8>) {
    let series = Series {
        name: family.name,
        labels: &group.labels,
        cycle: scrape.churn.map(|rotation| rotation.cycle(group.id)),
    };
    let t = scrape.t;
    let u = to_unit(splitmix64(group.key ^ splitmix64(t)));
    match group.model {
        Model::Counter {
            base,
            rate,
            precision,
        } => {
            let v = precision.round(base + rate * (t as f64 + 0.9 * u));
            series.write(out, "", None, Num::Float(v));
        }
        Model::Gauge {
            base,
            spread,
            precision,
        } => {
            let v = precision.round(base * (1.0 + spread * (u - 0.5)));
            series.write(out, "", None, Num::Float(v));
        }
        Model::Histogram {
            base,
            rate,
            ref cdf,
            mean,
        } => {
            let count = observations(base, rate, t, u);
            let les = match scrape.format {
                Format::Text004 => &LE_TEXT,
                Format::OpenMetrics => &LE_OPENMETRICS,
            };
            for (le, fraction) in les.iter().zip(cdf.iter().chain([&1.0])) {
                // floor(count * F) is cumulative in F and monotonic in count; `+Inf` is F = 1.
                let bucket = (count as f64 * fraction).floor() as u64;
                series.write(
                    out,
                    "_bucket",
                    Some(("le", le)),
                    Num::Int(bucket.min(count)),
                );
            }
            let sum = Precision::Micros.round(count as f64 * mean);
            series.write(out, "_sum", None, Num::Float(sum));
            series.write(out, "_count", None, Num::Int(count));
        }
        Model::Summary {
            base,
            rate,
            ref quantiles,
            mean,
        } => {
            let count = observations(base, rate, t, u);
            for (i, (label, value)) in QUANTILES.iter().zip(quantiles).enumerate() {
                let jitter = to_unit(splitmix64(
                    group.key ^ splitmix64(t ^ ((i as u64 + 1) << 56)),
                ));
                let v = Precision::Micros.round(value * (1.0 + 0.1 * (jitter - 0.5)));
                series.write(out, "", Some(("quantile", label)), Num::Float(v));
            }
            let sum = Precision::Micros.round(count as f64 * mean);
            series.write(out, "_sum", None, Num::Float(sum));
            series.write(out, "_count", None, Num::Int(count));
        }
    }
}

/// Observation count of a histogram or summary: grows like a counter.
fn observations(base: f64, rate: f64, t: u64, u: f64) -> u64 {
    (base + rate * (t as f64 + 0.9 * u)).floor() as u64
}

/// A sample value.
#[derive(Clone, Copy)]
enum Num {
    Int(u64),
    Float(f64),
}

/// The parts of a sample line shared by all samples of one label set.
struct Series<'a> {
    name: &'a str,
    labels: &'a str,
    cycle: Option<u128>,
}

impl Series<'_> {
    /// Writes `name<suffix>{labels,cycle_id="n",extra} value\n`, leaving out the braces when
    /// there is no label at all.
    fn write(&self, out: &mut Vec<u8>, suffix: &str, extra: Option<(&str, &str)>, value: Num) {
        out.extend_from_slice(self.name.as_bytes());
        out.extend_from_slice(suffix.as_bytes());
        let has_labels = !self.labels.is_empty() || self.cycle.is_some() || extra.is_some();
        if has_labels {
            out.push(b'{');
            out.extend_from_slice(self.labels.as_bytes());
            let mut first = self.labels.is_empty();
            if let Some(cycle) = self.cycle {
                if !first {
                    out.push(b',');
                }
                first = false;
                out.extend_from_slice(CHURN_LABEL.as_bytes());
                out.extend_from_slice(b"=\"");
                write_u128(out, cycle);
                out.push(b'"');
            }
            if let Some((name, value)) = extra {
                if !first {
                    out.push(b',');
                }
                out.extend_from_slice(name.as_bytes());
                out.extend_from_slice(b"=\"");
                out.extend_from_slice(value.as_bytes());
                out.push(b'"');
            }
            out.push(b'}');
        }
        out.push(b' ');
        match value {
            Num::Int(n) => write_u128(out, u128::from(n)),
            // Whole numbers below 2^53 are exact as integers and print faster that way.
            Num::Float(f) if f.fract() == 0.0 && (0.0..9.0e15).contains(&f) => {
                write_u128(out, f as u128)
            }
            Num::Float(f) => {
                // Writing into a Vec cannot fail.
                let _ = write!(out, "{f}");
            }
        }
        out.push(b'\n');
    }
}

/// Decimal digits of `n`, without going through `fmt`.
fn write_u128(out: &mut Vec<u8>, mut n: u128) {
    let mut buf = [0u8; 39];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_print_in_decimal() {
        for n in [0u128, 7, 10, 12_345, u128::from(u64::MAX), u128::MAX] {
            let mut out = Vec::new();
            write_u128(&mut out, n);
            assert_eq!(String::from_utf8(out).unwrap(), n.to_string());
        }
    }

    #[test]
    fn rotation_walks_round_the_label_sets() {
        // 10 label sets, 3 rotations per epoch: after 2 epochs, 0..6 rotated once.
        let at = |rotated| Rotation {
            rotated,
            groups: 10,
        };
        let cycles = |rotated| (0..10).map(|id| at(rotated).cycle(id)).collect::<Vec<_>>();
        assert_eq!(cycles(0), [0; 10]);
        assert_eq!(cycles(6), [1, 1, 1, 1, 1, 1, 0, 0, 0, 0]);
        assert_eq!(cycles(12), [2, 2, 1, 1, 1, 1, 1, 1, 1, 1]);
        assert_eq!(cycles(30), [3; 10]);
    }

    #[test]
    fn sample_lines_join_labels_correctly() {
        let line = |labels: &str, cycle, extra| {
            let mut out = Vec::new();
            Series {
                name: "m",
                labels,
                cycle,
            }
            .write(&mut out, "_x", extra, Num::Float(0.25));
            String::from_utf8(out).unwrap()
        };
        assert_eq!(line("", None, None), "m_x 0.25\n");
        assert_eq!(line("a=\"1\"", None, None), "m_x{a=\"1\"} 0.25\n");
        assert_eq!(line("", Some(3), None), "m_x{cycle_id=\"3\"} 0.25\n");
        assert_eq!(line("", None, Some(("le", "1"))), "m_x{le=\"1\"} 0.25\n");
        assert_eq!(
            line("a=\"1\"", Some(0), Some(("le", "+Inf"))),
            "m_x{a=\"1\",cycle_id=\"0\",le=\"+Inf\"} 0.25\n"
        );
    }
}

//! What the synthetic metrics look like: size, value churn, series churn, seed.
//!
//! The spec is parsed, not validated later: a [`SeriesChurn`] that deserialised is usable, so
//! [`Metrics::new`](super::Metrics::new) cannot fail.

use serde::{Deserialize, Serialize};

/// Errors in a metrics spec. Messages name the field (as a YAML path below the spec) and the
/// fix; callers that read the spec from a file add the file name.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum MetricsError {
    /// `series_churn.every_scrapes` was 0.
    #[error(
        "`series_churn.every_scrapes` is 0; set it to the number of scrapes between rotations \
         (1 or more), or remove `series_churn` to keep series stable"
    )]
    ZeroChurnInterval,
    /// `series_churn.fraction` was not a number in `0.0..=1.0`.
    #[error(
        "`series_churn.fraction` is {value}; it must be between 0.0 and 1.0 \
         (e.g. 0.1 rotates a tenth of the label sets at each rotation)"
    )]
    ChurnFractionOutOfRange {
        /// The rejected value.
        value: f64,
    },
}

/// The shape of the synthetic metrics an exporter serves.
///
/// In YAML every field is optional (missing ones take the [`Default`] values) and unknown
/// keys are an error:
///
/// ```yaml
/// series: 5000
/// value_churn: true
/// series_churn: { every_scrapes: 10, fraction: 0.1 }
/// seed: 42
/// ```
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsSpec {
    /// Total number of samples exposed per scrape, exactly: every histogram bucket, `_sum`,
    /// `_count` and summary quantile counts as one. Prometheus reports the same number as
    /// `scrape_samples_scraped`.
    pub series: usize,
    /// Whether values move from one scrape to the next (counters always only go up).
    pub value_churn: bool,
    /// Whether label sets rotate over time, like prometheus-community/avalanche.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub series_churn: Option<SeriesChurn>,
    /// Seed for every synthetic value; the same seed gives the same bodies.
    pub seed: u64,
}

impl Default for MetricsSpec {
    /// 100 samples with moving values and stable series.
    fn default() -> Self {
        Self {
            series: 100,
            value_churn: true,
            series_churn: None,
            seed: 0,
        }
    }
}

/// Series churn: every `every_scrapes` scrapes, `fraction` of the label sets get a new
/// `cycle_id` label value, so Prometheus sees that many series end and as many new ones
/// begin. The number of samples per scrape does not change.
///
/// Rotation walks over the label sets in order, so after `1 / fraction` rotations every
/// label set has rotated once.
#[derive(Clone, Copy, Debug, PartialEq, Deserialize, Serialize)]
#[serde(try_from = "RawSeriesChurn")]
pub struct SeriesChurn {
    every_scrapes: u64,
    fraction: f64,
}

impl SeriesChurn {
    /// Rotates `fraction` (`0.0..=1.0`) of the label sets every `every_scrapes` (>= 1) scrapes.
    pub fn new(every_scrapes: u64, fraction: f64) -> Result<Self, MetricsError> {
        if every_scrapes == 0 {
            return Err(MetricsError::ZeroChurnInterval);
        }
        // `contains` is false for NaN, which is what we want.
        if !(0.0..=1.0).contains(&fraction) {
            return Err(MetricsError::ChurnFractionOutOfRange { value: fraction });
        }
        Ok(Self {
            every_scrapes,
            fraction,
        })
    }

    /// Scrapes between two rotations (at least 1).
    pub fn every_scrapes(&self) -> u64 {
        self.every_scrapes
    }

    /// Fraction of the label sets rotated at each rotation, in `0.0..=1.0`.
    pub fn fraction(&self) -> f64 {
        self.fraction
    }
}

/// The YAML form of [`SeriesChurn`], before its checks.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSeriesChurn {
    every_scrapes: u64,
    fraction: f64,
}

impl TryFrom<RawSeriesChurn> for SeriesChurn {
    type Error = MetricsError;

    fn try_from(raw: RawSeriesChurn) -> Result<Self, Self::Error> {
        Self::new(raw.every_scrapes, raw.fraction)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_fields_take_the_defaults() {
        let spec: MetricsSpec = serde_norway::from_str("series: 5000").unwrap();
        assert_eq!(
            spec,
            MetricsSpec {
                series: 5000,
                ..MetricsSpec::default()
            }
        );
        assert_eq!(MetricsSpec::default().series, 100);
        assert!(MetricsSpec::default().value_churn);
    }

    #[test]
    fn full_spec_parses() {
        let yaml = "series: 7\nvalue_churn: false\nseries_churn: {every_scrapes: 3, fraction: 0.25}\nseed: 9\n";
        let spec: MetricsSpec = serde_norway::from_str(yaml).unwrap();
        assert_eq!(spec.series, 7);
        assert!(!spec.value_churn);
        assert_eq!(spec.seed, 9);
        let churn = spec.series_churn.unwrap();
        assert_eq!(churn.every_scrapes(), 3);
        assert_eq!(churn.fraction(), 0.25);
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let err = serde_norway::from_str::<MetricsSpec>("series: 5\nsamples: 5\n").unwrap_err();
        assert!(err.to_string().contains("unknown field `samples`"), "{err}");
        let err = serde_norway::from_str::<MetricsSpec>(
            "series_churn: {every_scrapes: 1, fraction: 0.5, jitter: 1}\n",
        )
        .unwrap_err();
        assert!(err.to_string().contains("unknown field `jitter`"), "{err}");
    }

    #[test]
    fn bad_churn_values_name_the_field_and_the_fix() {
        let err = serde_norway::from_str::<MetricsSpec>(
            "series_churn: {every_scrapes: 0, fraction: 0.5}\n",
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("`series_churn.every_scrapes` is 0"),
            "{err}"
        );

        let err = serde_norway::from_str::<MetricsSpec>(
            "series_churn: {every_scrapes: 2, fraction: 1.5}\n",
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("`series_churn.fraction` is 1.5; it must be between 0.0 and 1.0"),
            "{err}"
        );
    }

    #[test]
    fn constructor_checks_like_the_parser() {
        assert_eq!(
            SeriesChurn::new(0, 0.5),
            Err(MetricsError::ZeroChurnInterval)
        );
        assert!(matches!(
            SeriesChurn::new(1, f64::NAN),
            Err(MetricsError::ChurnFractionOutOfRange { .. })
        ));
        assert!(matches!(
            SeriesChurn::new(1, -0.1),
            Err(MetricsError::ChurnFractionOutOfRange { .. })
        ));
        assert!(SeriesChurn::new(1, 0.0).is_ok());
        assert!(SeriesChurn::new(1, 1.0).is_ok());
    }
}

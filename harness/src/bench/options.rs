//! What a bench runs: the security [`Mode`], the [`BenchOptions`] matrix, and parsing of
//! the comma-separated lists a command line gives.

use std::str::FromStr;
use std::time::Duration;

use serde::Serialize;

use crate::backend::PrometheusChoice;
use crate::targets::PromApi;

/// The security of an exporter and the matching scrape settings; used by the Prometheus
/// load run (every variant) and by `bench servers` (plain, basic, tls).
///
/// `benches/src/lib.rs` has a third enum of the same name for the criterion benches; it
/// is a separate crate that does not depend on the harness, so it stays there.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Plain HTTP, no auth.
    Plain,
    /// Plain HTTP, Basic auth (bcrypt cost 10 hash; the exporter caches outcomes).
    Basic,
    /// Plain HTTP, Bearer token (fake-exporter extension).
    Bearer,
    /// HTTPS, server certificate only.
    Tls,
    /// HTTPS with a client certificate (`RequireAndVerifyClientCert`).
    Mtls,
}

impl Mode {
    /// Every mode, in table order.
    pub const ALL: [Self; 5] = [
        Self::Plain,
        Self::Basic,
        Self::Bearer,
        Self::Tls,
        Self::Mtls,
    ];

    /// The lowercase name, as on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Plain => "plain",
            Self::Basic => "basic",
            Self::Bearer => "bearer",
            Self::Tls => "tls",
            Self::Mtls => "mtls",
        }
    }

    /// Whether the exporters speak TLS.
    pub fn is_tls(self) -> bool {
        matches!(self, Self::Tls | Self::Mtls)
    }
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not a [`Mode`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown mode `{given}`: use plain, basic, bearer, tls or mtls")]
pub struct ParseModeError {
    /// What was given.
    pub given: String,
}

impl FromStr for Mode {
    type Err = ParseModeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|m| m.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| ParseModeError {
                given: s.to_owned(),
            })
    }
}

/// What to run.
#[derive(Clone, Debug)]
pub struct BenchOptions {
    /// Target counts.
    pub targets: Vec<u32>,
    /// Modes.
    pub modes: Vec<Mode>,
    /// Keep-alive settings (`true` = on).
    pub keep_alive: Vec<bool>,
    /// Scrape interval (also the scrape timeout).
    pub interval: Duration,
    /// Length of the measured window.
    pub duration: Duration,
    /// Checkpoints in the window (0: none): each adds a line to the run's timeline.
    pub checkpoints: u32,
    /// Runs per combination.
    pub repeat: u32,
    /// First port of the fleet.
    pub base_port: u16,
    /// Deadline of the warm-up (every target scraped successfully once).
    pub warmup_timeout: Duration,
    /// Which Prometheus (backend, image, binary).
    pub prometheus: PrometheusChoice,
    /// Draw a progress bar on stderr (only on a terminal).
    pub progress: bool,
    /// Local mode: Prometheus servers to start, each keeping its slice of the targets by
    /// `hashmod` relabelling (1: one Prometheus, no relabelling).
    pub shards: u32,
    /// Local mode: put the targets on this many fleet hosts, each a `fake-exporter fleet`
    /// process in a network namespace of its own ([`super::FleetHosts`], root needed),
    /// N / hosts targets each; 0: one fleet inside this process.
    pub hosts: u32,
    /// Samples each target exposes (fake-exporter's `--metrics.series`; 100 by default).
    pub series: usize,
    /// Remote mode: a Prometheus (one or more shards) and fleets the bench did not start;
    /// `None`: local mode, the bench starts both.
    pub remote: Option<RemoteOptions>,
}

/// What remote mode drives: Prometheus servers (one per shard) and fleets the bench did
/// not start. The bench starts nothing; N and the mode come from the job Prometheus loaded,
/// keep-alive from [`BenchOptions::keep_alive`] when it holds one value (else on).
#[derive(Clone, Debug)]
pub struct RemoteOptions {
    /// One API client per shard (`--prometheus URL`, with its credentials and trust).
    pub prometheus: Vec<PromApi>,
    /// The fleets' control endpoints (`http://host:port`, `/stats` is read).
    pub fleets: Vec<String>,
    /// The scrape job to measure.
    pub job: String,
}

impl Default for BenchOptions {
    fn default() -> Self {
        Self {
            targets: vec![100, 1000, 5000],
            modes: Mode::ALL.to_vec(),
            keep_alive: vec![true, false],
            interval: Duration::from_secs(1),
            duration: Duration::from_secs(20),
            checkpoints: 0,
            repeat: 1,
            base_port: 20_000,
            warmup_timeout: Duration::from_secs(120),
            prometheus: PrometheusChoice::default(),
            progress: true,
            shards: 1,
            hosts: 0,
            series: fake_exporter::MetricsSpec::default().series,
            remote: None,
        }
    }
}

/// An item of a comma-separated list that did not parse.
#[derive(Debug, thiserror::Error)]
#[error("{list} `{item}`: {source}")]
pub struct ListError {
    /// The name of the list, as the caller gave it.
    pub list: String,
    /// The item.
    pub item: String,
    /// Why it did not parse.
    #[source]
    pub source: Box<dyn std::error::Error + Send + Sync>,
}

/// Parses a comma-separated list with `parse`; errors name the list as `list` (a caller
/// with a command line passes its flag).
pub fn parse_list<T, E>(
    list: &str,
    value: &str,
    parse: impl Fn(&str) -> Result<T, E>,
) -> Result<Vec<T>, ListError>
where
    E: std::error::Error + Send + Sync + 'static,
{
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            parse(s).map_err(|e| ListError {
                list: list.to_owned(),
                item: s.to_owned(),
                source: Box::new(e),
            })
        })
        .collect()
}

/// A word that is neither on nor off.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{given}` is not on or off")]
pub struct ParseOnOffError {
    /// What was given.
    pub given: String,
}

/// Parses `on`/`off` (also `true`/`false`, `yes`/`no`).
pub fn parse_on_off(s: &str) -> Result<bool, ParseOnOffError> {
    match s {
        "on" | "true" | "yes" => Ok(true),
        "off" | "false" | "no" => Ok(false),
        other => Err(ParseOnOffError {
            given: other.to_owned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_parse_and_name_the_list() {
        assert_eq!(
            parse_list("modes", "plain, tls,mtls", Mode::from_str).unwrap(),
            vec![Mode::Plain, Mode::Tls, Mode::Mtls]
        );
        let err = parse_list("modes", "plain,tsl", Mode::from_str).unwrap_err();
        assert_eq!(
            err.to_string(),
            "modes `tsl`: unknown mode `tsl`: use plain, basic, bearer, tls or mtls"
        );
        assert!(std::error::Error::source(&err).is_some());
        assert_eq!(
            parse_list("keep-alive", "on,off", parse_on_off).unwrap(),
            vec![true, false]
        );
        assert_eq!(
            parse_list("targets", "10,x", str::parse::<u32>)
                .unwrap_err()
                .item,
            "x"
        );
    }
}

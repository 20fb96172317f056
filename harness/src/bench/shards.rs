//! Shards: several Prometheus servers, each keeping its slice of the same target list by
//! `hashmod` relabelling as operators do, the fd budget of each checked before anything
//! starts, and the check that every target was scraped by exactly one shard (from each
//! shard's own `up` series over the window).

use std::collections::BTreeSet;
use std::time::Duration;

use serde::Serialize;

use super::run::{BenchError, MeasureError};
use crate::promconfig::{RelabelConfig, ScrapeConfig};
use crate::targets::PromApi;

/// The label `hashmod` writes (a `__tmp` label: Prometheus drops it after relabelling).
pub const HASH_LABEL: &str = "__tmp_hash";
/// Descriptors a Prometheus needs beside its scrape connections: TSDB blocks, WAL
/// segments, its own listeners and API clients, the runtime.
pub const PROMETHEUS_FD_MARGIN: u64 = 512;

/// `job` as shard `shard` of `of` runs it: every target listed, `hashmod` of
/// `__address__` into [`HASH_LABEL`], then `keep` of the targets whose hash is `shard`.
/// One shard (`of` = 1) keeps the job as it is.
pub(super) fn shard_job(job: ScrapeConfig, shard: u32, of: u32) -> ScrapeConfig {
    if of <= 1 {
        return job;
    }
    job.relabel(RelabelConfig::hashmod(
        &["__address__"],
        u64::from(of),
        HASH_LABEL,
    ))
    .relabel(RelabelConfig::keep(&[HASH_LABEL], shard.to_string()))
}

/// Refuses `n` targets over `shards` Prometheus servers when one shard's share (a quarter
/// more than an even split, hashing is not exact) plus [`PROMETHEUS_FD_MARGIN`] would not
/// fit in this process' hard `RLIMIT_NOFILE`, which the Prometheus processes it starts
/// inherit.
pub(super) fn check_fd_budget(n: u32, shards: u32) -> Result<(), BenchError> {
    let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile)
        .maximum
        .unwrap_or(u64::MAX);
    fd_budget(n, shards, limit)
}

/// [`check_fd_budget`] against `limit` descriptors.
fn fd_budget(n: u32, shards: u32, limit: u64) -> Result<(), BenchError> {
    let share = u64::from(n).div_ceil(u64::from(shards.max(1)));
    let needed = share + share / 4 + PROMETHEUS_FD_MARGIN;
    if needed > limit {
        return Err(BenchError::Options(format!(
            "{n} targets over {shards} Prometheus shard(s): each needs about {needed} file descriptors ({share} scrape connections + 25 % for uneven hashing + {PROMETHEUS_FD_MARGIN} margin) but RLIMIT_NOFILE allows {limit}; use more --shards or fewer --targets"
        )));
    }
    Ok(())
}

/// The instances of `job` that the Prometheus behind `api` scraped in the last `window`
/// (a sample of `up`, whatever its value).
pub(super) async fn scraped_instances(
    api: &PromApi,
    job: &str,
    window: Duration,
) -> Result<BTreeSet<String>, MeasureError> {
    let promql = format!(
        "count by (instance) (count_over_time(up{{job=\"{job}\"}}[{}ms]))",
        window.as_millis()
    );
    let samples = api.query(&promql).await?;
    Ok(samples
        .into_iter()
        .filter_map(|s| s.labels.get("instance").cloned())
        .collect())
}

/// Why the shards' `up` sets are not a partition of `expected`: targets no shard scraped,
/// targets two or more shards scraped, targets no one expected. Empty when every target
/// was scraped by exactly one shard.
pub fn exactly_once(expected: &BTreeSet<String>, per_shard: &[BTreeSet<String>]) -> Vec<String> {
    let mut problems = Vec::new();
    let union: BTreeSet<&String> = per_shard.iter().flatten().collect();
    let missing: Vec<&str> = expected
        .iter()
        .filter(|t| !union.contains(t))
        .map(String::as_str)
        .collect();
    if !missing.is_empty() {
        problems.push(format!(
            "{} target(s) scraped by no shard in the window: {}",
            missing.len(),
            names(&missing)
        ));
    }
    let twice: Vec<String> = union
        .iter()
        .filter_map(|t| {
            let shards: Vec<String> = per_shard
                .iter()
                .enumerate()
                .filter(|(_, s)| s.contains(*t))
                .map(|(i, _)| i.to_string())
                .collect();
            (shards.len() > 1).then(|| format!("{t} (shards {})", shards.join(", ")))
        })
        .collect();
    if !twice.is_empty() {
        let twice: Vec<&str> = twice.iter().map(String::as_str).collect();
        problems.push(format!(
            "{} target(s) scraped by more than one shard: {}",
            twice.len(),
            names(&twice)
        ));
    }
    let unknown: Vec<&str> = union
        .iter()
        .filter(|t| !expected.contains(**t))
        .map(|t| t.as_str())
        .collect();
    if !unknown.is_empty() {
        problems.push(format!(
            "{} target(s) scraped that are not in the job's target list: {}",
            unknown.len(),
            names(&unknown)
        ));
    }
    problems
}

/// At most 10 names, then how many more.
fn names(all: &[&str]) -> String {
    const SHOWN: usize = 10;
    let mut text = all[..all.len().min(SHOWN)].join(", ");
    if all.len() > SHOWN {
        text.push_str(&format!(" and {} more", all.len() - SHOWN));
    }
    text
}

/// One shard's part of a row.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ShardRow {
    /// Index of the shard, from 0 (its `keep` regex).
    pub shard: u32,
    /// Its Prometheus' URL.
    pub url: String,
    /// Targets of the job it kept (active after relabelling) at the window's end.
    pub targets_kept: u64,
    /// Distinct targets it scraped in the window.
    pub targets_scraped: u64,
    /// Its CPU seconds in the window.
    pub prometheus_cpu_seconds: f64,
    /// Its CPU as a share of one core.
    pub prometheus_cpu_cores: f64,
    /// Its resident memory at the window's end, bytes.
    pub prometheus_rss_bytes: f64,
    /// Its open descriptors at the window's end (0 when it does not say).
    pub prometheus_fds: f64,
    /// Its scrapes in the window (`count_over_time(up)`).
    pub scrapes: u64,
    /// Its failed scrapes in the window (`up == 0`).
    pub failed_scrapes: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(items: &[&str]) -> BTreeSet<String> {
        items.iter().map(|&s| s.to_owned()).collect()
    }

    #[test]
    fn a_partition_of_the_targets_passes() {
        let expected = set(&["a:1", "a:2", "a:3"]);
        let shards = [set(&["a:1", "a:3"]), set(&["a:2"])];
        assert_eq!(exactly_once(&expected, &shards), Vec::<String>::new());
    }

    #[test]
    fn a_duplicate_and_a_missing_target_are_each_reported() {
        // Recorded `up` sets of two shards: a:2 in both, a:4 in neither.
        let expected = set(&["a:1", "a:2", "a:3", "a:4"]);
        let shards = [set(&["a:1", "a:2"]), set(&["a:2", "a:3"])];
        let problems = exactly_once(&expected, &shards);
        assert_eq!(
            problems,
            [
                "1 target(s) scraped by no shard in the window: a:4",
                "1 target(s) scraped by more than one shard: a:2 (shards 0, 1)",
            ],
            "{problems:?}"
        );
    }

    #[test]
    fn a_target_outside_the_list_is_reported_and_long_lists_are_cut() {
        let expected: BTreeSet<String> = (0..12).map(|i| format!("h:{i:02}")).collect();
        let shards = [set(&["x:1"])];
        let problems = exactly_once(&expected, &shards);
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(
            problems[0].starts_with("12 target(s) scraped by no shard")
                && problems[0].ends_with("h:09 and 2 more"),
            "{problems:?}"
        );
        assert_eq!(
            problems[1],
            "1 target(s) scraped that are not in the job's target list: x:1"
        );
    }

    #[test]
    fn each_shard_keeps_its_hash_and_one_shard_keeps_the_job_as_is() {
        let job = ScrapeConfig::new("bench", ["127.0.0.1:20000"]);
        assert_eq!(shard_job(job.clone(), 0, 1), job);
        let config = crate::promconfig::PrometheusConfig::with_jobs([shard_job(job, 1, 3)]);
        let yaml = crate::promconfig::render(&config);
        let read = crate::promconfig::parse_loaded(&yaml).expect("reads back");
        let steps: Vec<RelabelConfig> =
            serde_norway::from_value(read.scrape_configs[0].other["relabel_configs"].clone())
                .expect("typed steps");
        assert_eq!(
            steps,
            [
                RelabelConfig::hashmod(&["__address__"], 3, "__tmp_hash"),
                RelabelConfig::keep(&["__tmp_hash"], "1"),
            ],
            "{yaml}"
        );
        assert!(
            yaml.contains("action: hashmod") && yaml.contains("regex: '1'"),
            "the regex is written as a string: {yaml}"
        );
    }

    #[test]
    fn the_fd_budget_of_one_prometheus_is_checked() {
        // This machine's hard limit: 20,000.
        assert!(fd_budget(10_000, 1, 20_000).is_ok());
        let err = fd_budget(20_000, 1, 20_000).unwrap_err().to_string();
        assert!(
            err.contains("each needs about 25512 file descriptors")
                && err.contains("RLIMIT_NOFILE allows 20000")
                && err.contains("--shards"),
            "{err}"
        );
        assert!(fd_budget(20_000, 2, 20_000).is_ok());
        assert!(check_fd_budget(100, 1).is_ok());
    }
}

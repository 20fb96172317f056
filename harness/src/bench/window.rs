//! One measured window and its row, for every kind of run (local or remote, one
//! Prometheus or shards): counters at the start, `duration` of scraping (with checkpoints
//! when asked), counters at the end, then each Prometheus' view of the scrapes over exactly
//! the elapsed window.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use fake_exporter::StatsSnapshot;

use super::options::BenchOptions;
use super::parts::{Fleets, Scraper, Scrapers};
use super::proc_stat;
use super::report::{BenchRow, Checkpoint, Negotiated};
use super::run::{BenchError, MeasureError, RunCtx, KEEPALIVE_OFF_TOLERANCE};
use super::shards::{self, ShardRow};
use crate::targets::PromApi;

/// How long a fresh snapshot of Prometheus' own counters may take (a poll reads every
/// target first: a large fleet makes it slower).
const READ_DEADLINE: Duration = Duration::from_secs(30);

/// What one measured window yielded.
pub(super) struct Window {
    /// Counters at the window's start.
    before: Snapshot,
    /// Counters at the window's end.
    after: Snapshot,
    /// The window's measured length.
    elapsed: Duration,
    /// Each shard's view of the scrapes in the window, in shard order.
    scrapes: Vec<ScrapeStats>,
    /// With more than one shard: the instances each one scraped in the window.
    scraped: Vec<BTreeSet<String>>,
    /// Each shard's URL.
    urls: Vec<String>,
    /// The checkpoints, when asked for.
    timeline: Vec<Checkpoint>,
}

/// Prometheus' view of the job's scrapes over a window.
#[derive(Clone, Copy, Debug, Default)]
struct ScrapeStats {
    /// Median scrape duration, seconds.
    p50: f64,
    /// 99th-percentile scrape duration, seconds.
    p99: f64,
    /// Scrapes (samples of `up`).
    scrapes: f64,
    /// Successful scrapes (sum of `up`).
    ok: f64,
}

impl ScrapeStats {
    /// The shards' figures as one: scrapes added up, p50 the scrape-weighted mean of the
    /// shards' medians, p99 the largest of their p99s. One shard: its own figures.
    fn total(all: &[Self]) -> Self {
        let scrapes: f64 = all.iter().map(|s| s.scrapes).sum();
        let p50 = if scrapes > 0.0 {
            all.iter().map(|s| s.p50 * s.scrapes).sum::<f64>() / scrapes
        } else {
            all.first().map_or(0.0, |s| s.p50)
        };
        Self {
            p50,
            p99: all.iter().map(|s| s.p99).fold(0.0, f64::max),
            scrapes,
            ok: all.iter().map(|s| s.ok).sum(),
        }
    }
}

/// The measured window: counters, `opts.duration` of scraping, counters, then each
/// Prometheus' scrape statistics over exactly the elapsed window.
pub(super) async fn measure_window(
    scrapers: &Scrapers,
    fleets: &Fleets,
    opts: &BenchOptions,
    ctx: &RunCtx<'_>,
) -> Result<Window, BenchError> {
    let before = Snapshot::take(scrapers, fleets, ctx)
        .await
        .map_err(ctx.measure("reading counters at window start"))?;
    let window_start = Instant::now();
    let steps = opts.checkpoints.max(1);
    let mut timeline = Vec::new();
    let mut last = (before.clone(), window_start);
    for step in 1..=steps {
        tokio::time::sleep_until((window_start + opts.duration * step / steps).into()).await;
        let now = Snapshot::take(scrapers, fleets, ctx)
            .await
            .map_err(ctx.measure("reading counters at a checkpoint"))?;
        if opts.checkpoints > 0 {
            let since = last.1.elapsed();
            let scrapes = ScrapeStats::total(&query_all(scrapers, since, ctx).await?);
            timeline.push(checkpoint(
                ctx,
                fleets,
                window_start,
                (&last.0, &now),
                since,
                &scrapes,
            ));
        }
        last = (now, Instant::now());
    }
    let (after, _) = last;
    let elapsed = window_start.elapsed();
    let scrapes = query_all(scrapers, elapsed, ctx).await?;
    let mut scraped = Vec::new();
    if scrapers.shards.len() > 1 {
        for shard in &scrapers.shards {
            let instances = shards::scraped_instances(shard.api(), ctx.job, elapsed)
                .await
                .map_err(ctx.measure("reading which targets each shard scraped"))?;
            scraped.push(instances);
        }
    }
    Ok(Window {
        before,
        after,
        elapsed,
        scrapes,
        scraped,
        urls: scrapers
            .shards
            .iter()
            .map(|s| s.api().base_url().to_owned())
            .collect(),
        timeline,
    })
}

/// Every shard's scrape statistics over the last `window`, in shard order.
async fn query_all(
    scrapers: &Scrapers,
    window: Duration,
    ctx: &RunCtx<'_>,
) -> Result<Vec<ScrapeStats>, BenchError> {
    let mut all = Vec::with_capacity(scrapers.shards.len());
    for shard in &scrapers.shards {
        all.push(query_scrapes(shard.api(), window, ctx).await?);
    }
    Ok(all)
}

/// A checkpoint from the snapshots at its start and end and Prometheus' scrape statistics
/// between them.
fn checkpoint(
    ctx: &RunCtx<'_>,
    fleets: &Fleets,
    window_start: Instant,
    (from, to): (&Snapshot, &Snapshot),
    since: Duration,
    scrapes: &ScrapeStats,
) -> Checkpoint {
    let reconnects_of = |s: &Snapshot| {
        if ctx.mode.is_tls() {
            s.stats.handshakes_ok
        } else {
            s.stats.connections_accepted
        }
    };
    let pids = fleets.pids();
    Checkpoint {
        at_seconds: window_start.elapsed().as_secs_f64(),
        fleet_rss_bytes: pids
            .iter()
            .map(|&p| crate::procfs::rss_bytes(p).unwrap_or(0))
            .sum(),
        fleet_fds: pids
            .iter()
            .map(|&p| crate::procfs::open_fds(p).unwrap_or(0))
            .sum(),
        prometheus_rss_bytes: to.prom_rss(),
        prometheus_fds: to.prom_fds(),
        prometheus_cpu_cores: (to.prom_cpu() - from.prom_cpu()) / since.as_secs_f64().max(1e-3),
        scrapes: scrapes.scrapes.round() as u64,
        failed_scrapes: (scrapes.scrapes - scrapes.ok).round().max(0.0) as u64,
        reconnects: reconnects_of(to) - reconnects_of(from),
        reconnects_per_target: reconnects_of(to) as f64 / f64::from(ctx.n.max(1)),
    }
}

/// Queries the job's scrape durations and counts over the last `window`.
async fn query_scrapes(
    api: &PromApi,
    window: Duration,
    ctx: &RunCtx<'_>,
) -> Result<ScrapeStats, BenchError> {
    let range = format!("{}ms", window.as_millis());
    let sel = format!("{{job=\"{}\"}}", ctx.job);
    let p50 = query_value(
        api,
        &format!("quantile(0.5, quantile_over_time(0.5, scrape_duration_seconds{sel}[{range}]))"),
    )
    .await
    .map_err(ctx.measure("querying scrape durations"))?;
    let p99 = query_value(
        api,
        &format!("quantile(0.99, quantile_over_time(0.99, scrape_duration_seconds{sel}[{range}]))"),
    )
    .await
    .map_err(ctx.measure("querying scrape durations"))?;
    let scrapes = query_value(api, &format!("sum(count_over_time(up{sel}[{range}]))"))
        .await
        .map_err(ctx.measure("counting scrapes"))?;
    // Failed scrapes in ONE query, so at one evaluation instant: counted as scrapes minus
    // successes from two queries, the window slides between them and scrapes that entered
    // it in between hide failed ones (a shard even showed more successes than scrapes).
    let failed = query_value(
        api,
        &format!("sum(count_over_time(up{sel}[{range}]) - sum_over_time(up{sel}[{range}]))"),
    )
    .await
    .map_err(ctx.measure("counting failed scrapes"))?;
    let ok = (scrapes - failed).max(0.0);
    Ok(ScrapeStats {
        p50,
        p99,
        scrapes,
        ok,
    })
}

/// The value of the first sample of `promql`, 0 when there is none.
async fn query_value(api: &PromApi, promql: &str) -> Result<f64, MeasureError> {
    api.query(promql)
        .await
        .map(|s| s.first().map_or(0.0, |s| s.value))
        .map_err(MeasureError::from)
}

/// The row of a run from its warm-up time and its window; `exporters_here`: the fleet ran
/// on this machine (in this process, or on fleet hosts), so its CPU was measured.
pub(super) fn bench_row(
    opts: &BenchOptions,
    ctx: &RunCtx<'_>,
    warmup: Duration,
    w: &Window,
    exporters_here: bool,
) -> BenchRow {
    let (before, after) = (&w.before, &w.after);
    let requests = after.stats.requests_total() - before.stats.requests_total();
    let connections = after.stats.connections_accepted - before.stats.connections_accepted;
    let handshakes = after.stats.handshakes_ok - before.stats.handshakes_ok;
    let reconnects = if ctx.mode.is_tls() {
        handshakes
    } else {
        connections
    };
    let total = ScrapeStats::total(&w.scrapes);
    let scrapes = total.scrapes.round() as u64;
    let failed = (scrapes as f64 - total.ok).round().max(0.0) as u64;
    let mut problems = row_problems(ctx, requests, reconnects, scrapes, failed);
    if !w.scraped.is_empty() {
        problems.extend(shards::exactly_once(&ctx.expected, &w.scraped));
    }
    let window_s = w.elapsed.as_secs_f64();
    let prom_cpu = after.prom_cpu() - before.prom_cpu();
    BenchRow {
        targets: ctx.n,
        mode: ctx.mode,
        keep_alive: ctx.keep_alive,
        repeat: ctx.repeat,
        window_seconds: window_s,
        interval_seconds: opts.interval.as_secs_f64(),
        warmup_seconds: warmup.as_secs_f64(),
        prometheus_cpu_seconds: prom_cpu,
        prometheus_cpu_cores: prom_cpu / window_s,
        prometheus_rss_bytes: after.prom_rss(),
        scrape_duration_p50: total.p50,
        scrape_duration_p99: total.p99,
        scrapes,
        failed_scrapes: failed,
        requests,
        connections,
        handshakes,
        handshakes_total: after.stats.handshakes_ok,
        connections_total: after.stats.connections_accepted,
        warmup_handshakes_failed: before.stats.handshakes_failed.clone(),
        warmup_handshakes_ok: before.stats.handshakes_ok,
        connections_per_request: reconnects as f64 / requests.max(1) as f64,
        exporter_cpu_seconds: exporters_here.then_some(after.exporter_cpu - before.exporter_cpu),
        negotiated: negotiated(&after.stats),
        pass: problems.is_empty(),
        problems,
        shards: shard_rows(w),
        timeline: w.timeline.clone(),
    }
}

/// One row per shard when there is more than one.
fn shard_rows(w: &Window) -> Vec<ShardRow> {
    if w.before.proms.len() < 2 {
        return Vec::new();
    }
    let window_s = w.elapsed.as_secs_f64();
    let mut rows = Vec::with_capacity(w.before.proms.len());
    for (i, (from, to)) in w.before.proms.iter().zip(&w.after.proms).enumerate() {
        let scrapes = w.scrapes.get(i).copied().unwrap_or_default();
        let cpu = to.cpu - from.cpu;
        rows.push(ShardRow {
            shard: u32::try_from(i).unwrap_or(u32::MAX),
            url: w.urls.get(i).cloned().unwrap_or_default(),
            targets_kept: to.targets,
            targets_scraped: w.scraped.get(i).map_or(0, |s| s.len() as u64),
            prometheus_cpu_seconds: cpu,
            prometheus_cpu_cores: cpu / window_s,
            prometheus_rss_bytes: to.rss,
            prometheus_fds: to.fds,
            scrapes: scrapes.scrapes.round() as u64,
            failed_scrapes: (scrapes.scrapes - scrapes.ok).round().max(0.0) as u64,
        });
    }
    rows
}

/// Why a row does not measure what it should: connections reused with keep-alive off, more
/// than 1% of scrapes failed, or no scrapes at all.
fn row_problems(
    ctx: &RunCtx<'_>,
    requests: u64,
    reconnects: u64,
    scrapes: u64,
    failed: u64,
) -> Vec<String> {
    let mut problems = Vec::new();
    if !ctx.keep_alive {
        let ratio = reconnects as f64 / requests.max(1) as f64;
        if (ratio - 1.0).abs() > KEEPALIVE_OFF_TOLERANCE || requests == 0 {
            problems.push(format!(
                "keep-alive off but {reconnects} {} for {requests} scrapes (ratio {ratio:.2}, allowed 1±{KEEPALIVE_OFF_TOLERANCE}): connections were reused, this row does not measure per-scrape handshakes",
                if ctx.mode.is_tls() { "handshakes" } else { "connections" }
            ));
        }
    }
    if failed * 100 > scrapes.max(1) {
        problems.push(format!(
            "{failed} of {scrapes} scrapes failed (up == 0): the machine is overloaded at this N and interval"
        ));
    }
    if scrapes == 0 {
        problems.push("no scrapes in the window".into());
    }
    problems
}

/// One Prometheus' own counters at one instant.
#[derive(Clone, Debug)]
struct PromCounters {
    cpu: f64,
    rss: f64,
    /// Open descriptors (0 when it does not say).
    fds: f64,
    /// Active targets of the job.
    targets: u64,
}

/// Counters read at one instant.
#[derive(Clone)]
struct Snapshot {
    /// Every shard's, in shard order.
    proms: Vec<PromCounters>,
    /// CPU seconds of the exporters' processes on this machine (this one for the
    /// in-process fleet, every fleet host's), 0 for remote fleets.
    exporter_cpu: f64,
    stats: StatsSnapshot,
}

impl Snapshot {
    /// Each Prometheus' counters through its poller (a snapshot read after this call: the
    /// poller stays the one reader of `/metrics`), the exporters' CPU time and the fleets'
    /// counters.
    async fn take(
        scrapers: &Scrapers,
        fleets: &Fleets,
        ctx: &RunCtx<'_>,
    ) -> Result<Self, MeasureError> {
        let mut proms = Vec::with_capacity(scrapers.shards.len());
        for shard in &scrapers.shards {
            proms.push(prom_counters(shard, ctx.job).await?);
        }
        let mut exporter_cpu = 0.0;
        for pid in fleets.pids() {
            exporter_cpu += proc_stat::cpu_seconds(pid).map_err(MeasureError::ProcStat)?;
        }
        Ok(Self {
            proms,
            exporter_cpu,
            stats: fleets.stats().await?,
        })
    }

    fn prom_cpu(&self) -> f64 {
        self.proms.iter().map(|p| p.cpu).sum()
    }

    fn prom_rss(&self) -> f64 {
        self.proms.iter().map(|p| p.rss).sum()
    }

    fn prom_fds(&self) -> f64 {
        self.proms.iter().map(|p| p.fds).sum()
    }
}

/// One Prometheus' own counters from a fresh snapshot of its poller.
async fn prom_counters(shard: &Scraper, job: &str) -> Result<PromCounters, MeasureError> {
    let observed = shard
        .observe_now(READ_DEADLINE)
        .await
        .map_err(MeasureError::Observe)?;
    let missing = |name| MeasureError::MissingSeries {
        url: format!("{}/metrics", shard.api().base_url()),
        name,
    };
    let counters = &observed.counters;
    Ok(PromCounters {
        cpu: counters
            .process_cpu_seconds
            .ok_or_else(|| missing("process_cpu_seconds_total"))?,
        rss: counters
            .resident_memory_bytes
            .ok_or_else(|| missing("process_resident_memory_bytes"))?,
        fds: counters.open_fds.unwrap_or(0.0),
        targets: observed.targets.iter().filter(|t| t.job == job).count() as u64,
    })
}

fn negotiated(stats: &StatsSnapshot) -> Negotiated {
    let mut out = Negotiated::default();
    if let Some(s) = stats.tls_sessions.iter().max_by_key(|s| s.count) {
        out.tls_version = s.info.version.clone();
        out.kx_group = s.info.kx_group.clone();
        out.cipher = s.info.cipher_suite.clone();
        out.alpn = s.info.alpn.clone();
    }
    if let Some(r) = stats.requests.iter().max_by_key(|r| r.count) {
        out.http_version = r.http_version.clone();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_add_up_scrapes_weigh_medians_and_keep_the_worst_p99() {
        let one = ScrapeStats {
            p50: 0.001,
            p99: 0.010,
            scrapes: 100.0,
            ok: 99.0,
        };
        let same = ScrapeStats::total(&[one]);
        assert_eq!(
            (same.p50, same.p99, same.scrapes, same.ok),
            (0.001, 0.010, 100.0, 99.0)
        );
        let other = ScrapeStats {
            p50: 0.004,
            p99: 0.020,
            scrapes: 300.0,
            ok: 300.0,
        };
        let total = ScrapeStats::total(&[one, other]);
        assert!((total.p50 - 0.00325).abs() < 1e-12, "{total:?}");
        assert_eq!((total.p99, total.scrapes, total.ok), (0.020, 400.0, 399.0));
        let idle = ScrapeStats::total(&[ScrapeStats::default(), ScrapeStats::default()]);
        assert_eq!((idle.p50, idle.scrapes), (0.0, 0.0));
    }
}

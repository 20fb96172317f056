//! How fast one machine can scrape a whole matrix: the harness serves every exporter while
//! Prometheus scrapes them, so both compete for the same cores. A scrape interval below
//! what the cores can sustain makes scrapes time out and reconnect, and the cases would be
//! blamed for the machine's load. [`interval_for`] picks an interval that leaves headroom;
//! `docs/benchmarks.md` ("Scale") has the measurements behind [`SCRAPES_PER_CORE_SECOND`].

use std::time::Duration;

/// Scrapes per second and per core the harness plus Prometheus sustain with headroom (the
/// steady state of a generated matrix: a third of the targets fail a TLS handshake on
/// every scrape, the rest answer over kept-alive connections).
pub(crate) const SCRAPES_PER_CORE_SECOND: u64 = 500;

/// The shortest interval [`interval_for`] picks (the default of scenario files).
pub(crate) const MIN_INTERVAL: Duration = Duration::from_millis(200);

/// Cores this process may use (1 when unknown).
pub(crate) fn cores() -> u64 {
    std::thread::available_parallelism().map_or(1, |n| n.get() as u64)
}

/// The scrape interval for `cases` targets on `cores` cores: `cases` scrapes per interval at
/// most [`SCRAPES_PER_CORE_SECOND`] × `cores` per second, rounded up to 100 ms, at least
/// [`MIN_INTERVAL`].
pub(crate) fn interval_for(cases: usize, cores: u64) -> Duration {
    let per_second = SCRAPES_PER_CORE_SECOND * cores.max(1);
    // Milliseconds for `cases` scrapes at `per_second`, rounded up to 100 ms.
    let ms = (cases as u64 * 1000).div_ceil(per_second).div_ceil(100) * 100;
    Duration::from_millis(ms).max(MIN_INTERVAL)
}

/// Scrapes per second a plan of `cases` targets at `interval` asks of the machine.
pub(crate) fn scrape_rate(cases: usize, interval: Duration) -> f64 {
    cases as f64 / interval.as_secs_f64().max(0.001)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_interval_grows_with_cases_and_shrinks_with_cores() {
        assert_eq!(interval_for(72, 2), MIN_INTERVAL);
        assert_eq!(interval_for(1_000, 2), Duration::from_secs(1));
        assert_eq!(interval_for(3_000, 2), Duration::from_secs(3));
        assert_eq!(interval_for(3_000, 8), Duration::from_millis(800));
        assert_eq!(interval_for(1_001, 2), Duration::from_millis(1_100));
        assert_eq!(interval_for(10, 0), MIN_INTERVAL);
    }
}

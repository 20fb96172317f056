//! `scrape-harness bench`: what TLS costs at scrape time, measured on a real Prometheus.
//!
//! For every combination of target count N, security [`Mode`] and keep-alive setting the
//! bench starts a fake-exporter fleet of N listeners (one group, ports from
//! [`BenchOptions::base_port`] up) and ONE Prometheus scraping all of them in one job at a
//! fixed interval. It waits until every target has been scraped successfully at least once
//! (the warm-up: discovery, first handshakes, cold bcrypt caches), then measures one window
//! of fixed length:
//!
//! * from Prometheus itself: CPU seconds (`process_cpu_seconds_total` in a fresh snapshot of
//!   the fixture's poller, the one reader of its `/metrics`, at window start and end),
//!   resident memory at the end, `scrape_duration_seconds`
//!   p50/p99 (per-target quantile over the window, then the quantile over targets), scrapes
//!   and failed scrapes (`up == 0`) in the window, its build and Go version;
//! * from the fleet: connections, TLS handshakes and requests (window deltas and totals), the
//!   negotiated TLS version, group, cipher and HTTP version, and the CPU of this process
//!   (`/proc/self/stat`): the fleet runs in-process, so that figure also contains the
//!   harness' own polling, which is small but not zero.
//!
//! A keep-alive-off row is only valid when every scrape opened a new connection (TLS: a new
//! handshake): handshakes must equal scrapes within ±10 %, otherwise the row fails. The
//! [`servers`] submodule compares fake-exporter with node_exporter and a bare rustls server.
//!
//! With `shards` > 1 the bench starts that many Prometheus servers, each with the whole
//! target list and `hashmod` relabelling keeping its slice, and checks that every target
//! was scraped by exactly one of them. Remote mode ([`RemoteOptions`]) starts nothing: it
//! measures Prometheus servers and fleets running elsewhere through the same window and
//! row code.
//!
//! Layout: [`options`] (what to run), `setup` (run directory, PKI, web-configs), `run`
//! (local orchestration, errors), `parts` (the Prometheus servers and fleets a window
//! reads, local or remote), `window` (one measured window and its row), `shards`
//! (`hashmod`, fd budget, exactly-once check), `remote` (remote mode), [`report`] (table,
//! ratios, JSON, HTML), [`hosts`] (fleets in network namespaces of their own, `netns` for
//! the namespaces and veth pairs).

pub mod hosts;
pub(crate) mod netns;
pub mod options;
mod parts;
pub mod proc_stat;
mod remote;
pub mod report;
mod run;
pub mod servers;
mod setup;
mod shards;
mod window;

pub use hosts::{FleetHost, FleetHosts, HostsError, HostsSpec};
pub use netns::NetnsError;
pub use options::{
    parse_list, parse_on_off, BenchOptions, ListError, Mode, ParseModeError, ParseOnOffError,
    RemoteOptions,
};
pub use remote::{mode_of, RemoteError, CONNECT_DEADLINE};
pub use report::{
    html, ratios, shards_table, table, timeline_table, write_html, write_json, BenchReport,
    BenchRow, Checkpoint, Negotiated,
};
pub use run::{
    run, BenchError, MeasureError, BASIC_PASSWORD, BASIC_USER, BEARER_TOKEN, JOB,
    KEEPALIVE_OFF_TOLERANCE,
};
pub use setup::{BenchFiles, SetupError};
pub use shards::{exactly_once, ShardRow, HASH_LABEL, PROMETHEUS_FD_MARGIN};

#[cfg(test)]
mod tests {
    use fake_exporter::Fleet;

    use super::*;

    #[test]
    fn too_many_targets_is_refused_by_the_fd_budget() {
        let group = run::fleet_group(1024, 31_000, Mode::Plain, true, None).unwrap();
        let err = Fleet::builder().group(group).plan().unwrap_err();
        assert!(err.to_string().contains("file descriptors"), "{err}");
    }

    #[test]
    fn fleets_past_port_65535_are_refused() {
        let err = run::fleet_group(65_000, 1_000, Mode::Plain, true, None).unwrap_err();
        assert_eq!(
            err.to_string(),
            "1000 targets from port 65000 go past port 65535"
        );
    }
}

//! A fleet: thousands of exporters in one process, on explicit port ranges.
//!
//! Binding port 0 ten thousand times is about 100× slower than binding a known range, so
//! fleets take explicit ranges, below the kernel's ephemeral range (which starts at 32768
//! by default) so that Prometheus' own outgoing connections never collide with them.
//! Before binding anything the fleet computes its file-descriptor budget (listeners plus
//! the keep-alive connections Prometheus will hold open plus a reserve) and refuses to
//! start if RLIMIT_NOFILE cannot cover it, instead of failing half-way.
//!
//! ```yaml
//! # fleet.yaml
//! host: 127.0.0.1
//! connections_per_listener: 1     # keep-alive connections expected per listener
//! groups:
//!   - name: tls-basic
//!     ports: 20000-24999
//!     web_config: web-config.yml   # relative to this file
//!     metrics: { series: 50 }
//!   - name: plain
//!     ports: 25000-25999
//! ```

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::config_source::ConfigSource;
use crate::defence::{ConnTable, Defences};
use crate::faults::FaultSpec;
use crate::metrics::{Metrics, MetricsSpec};
use crate::server::{accept_loop, bind, PreparedListener};
use crate::stats::{ListenerHandle, Stats, StatsSnapshot};
use crate::Error;

/// File descriptors kept free for everything that is not a listener or a scrape
/// connection: config and certificate files read per connection, stdio, the runtime.
pub(crate) const FD_RESERVE: u64 = 64;

/// Lowest port of the default Linux ephemeral range.
pub(crate) const EPHEMERAL_START: u16 = 32768;

/// A fleet definition that cannot start.
#[derive(Debug, thiserror::Error)]
pub enum FleetError {
    /// The fleet file could not be read.
    #[error("{}: cannot read fleet file: {source}", .path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The fleet file does not parse.
    #[error("{}: {message}", .path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// serde's message, with line and column.
        message: String,
    },
    /// A `ports` value is not `N` or `A-B`.
    #[error("{origin}: group `{group}`: `ports: {value}` is not a port or range; write e.g. `20000-24999`")]
    BadRange {
        /// File or "library".
        origin: String,
        /// The group.
        group: String,
        /// The value.
        value: String,
    },
    /// A range reaches into the ephemeral range.
    #[error("{origin}: group `{group}`: ports {start}-{end} overlap the ephemeral range (from {ephemeral}); use ports below {ephemeral}, e.g. 20000-29999")]
    Ephemeral {
        /// File or "library".
        origin: String,
        /// The group.
        group: String,
        /// Range start.
        start: u16,
        /// Range end.
        end: u16,
        /// First ephemeral port on this machine.
        ephemeral: u16,
    },
    /// Two groups share ports.
    #[error(
        "{origin}: groups `{a}` and `{b}` both use port {port}; give each group its own range"
    )]
    Overlap {
        /// File or "library".
        origin: String,
        /// One group.
        a: String,
        /// The other group.
        b: String,
        /// A shared port.
        port: u16,
    },
    /// Not enough file descriptors.
    #[error("fleet needs {needed} file descriptors ({listeners} listeners + {connections} keep-alive connections + {reserve} reserve) but RLIMIT_NOFILE allows {limit} (hard limit); serve fewer listeners per process (split the port ranges over several fleets) or lower `connections_per_listener`")]
    FdBudget {
        /// Total needed.
        needed: u64,
        /// Listeners.
        listeners: u64,
        /// Expected connections.
        connections: u64,
        /// Reserve.
        reserve: u64,
        /// The hard limit.
        limit: u64,
    },
    /// The fleet has no listeners.
    #[error("{origin}: the fleet has no groups; add at least one under `groups:`")]
    Empty {
        /// File or "library".
        origin: String,
    },
}

/// A fleet file, as written (and as [`FleetBuilder::to_yaml`] writes it).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FleetFile {
    /// Address every listener binds to (default 127.0.0.1).
    #[serde(default = "default_host")]
    pub host: IpAddr,
    /// Keep-alive connections expected per listener (default 1: one Prometheus).
    #[serde(default = "one")]
    pub connections_per_listener: u64,
    /// The groups.
    pub groups: Vec<FleetGroupFile>,
    /// Deadline of a TLS handshake (default 10s).
    #[serde(
        default,
        with = "humantime_serde",
        skip_serializing_if = "Option::is_none"
    )]
    pub handshake_timeout: Option<Duration>,
    /// Deadline of a request head (default 10s).
    #[serde(
        default,
        with = "humantime_serde",
        skip_serializing_if = "Option::is_none"
    )]
    pub head_timeout: Option<Duration>,
    /// Cap on the open connections of the whole fleet (default: from RLIMIT_NOFILE).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_connections: Option<u64>,
}

fn default_host() -> IpAddr {
    IpAddr::V4(Ipv4Addr::LOCALHOST)
}

fn one() -> u64 {
    1
}

/// One group of a fleet file.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FleetGroupFile {
    /// Name used in errors and stats.
    pub name: String,
    /// `N` or `A-B`.
    pub ports: String,
    /// A `web-config.yml`, relative to the fleet file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub web_config: Option<PathBuf>,
    /// Metrics served.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics: Option<MetricsSpec>,
    /// Faults.
    #[serde(default, skip_serializing_if = "FaultSpec::is_none")]
    pub faults: FaultSpec,
    /// Metrics path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub telemetry_path: Option<String>,
}

/// One group of listeners sharing a mode.
#[derive(Debug, Clone)]
pub struct FleetGroup {
    /// Name used in errors and stats.
    pub name: String,
    /// Ports to bind.
    pub ports: RangeInclusive<u16>,
    /// Web config source (file re-read per request/connection), or none (plain).
    pub web_config: Option<PathBuf>,
    /// Metrics served.
    pub metrics: MetricsSpec,
    /// Faults.
    pub faults: FaultSpec,
    /// Metrics path.
    pub telemetry_path: String,
}

impl FleetGroup {
    /// A plain group on `ports` with default metrics.
    pub fn new(name: impl Into<String>, ports: RangeInclusive<u16>) -> Self {
        Self {
            name: name.into(),
            ports,
            web_config: None,
            metrics: MetricsSpec::default(),
            faults: FaultSpec::default(),
            telemetry_path: "/metrics".to_owned(),
        }
    }

    /// Serves behind this `web-config.yml`.
    pub fn web_config(mut self, path: impl Into<PathBuf>) -> Self {
        self.web_config = Some(path.into());
        self
    }

    /// Serves these metrics.
    pub fn metrics(mut self, spec: MetricsSpec) -> Self {
        self.metrics = spec;
        self
    }

    /// Applies these faults.
    pub fn faults(mut self, faults: FaultSpec) -> Self {
        self.faults = faults;
        self
    }

    fn len(&self) -> u64 {
        u64::from(*self.ports.end()).saturating_sub(u64::from(*self.ports.start())) + 1
    }
}

/// Builds a fleet.
#[derive(Debug, Clone)]
#[must_use = "a FleetBuilder does nothing until `.start().await`"]
pub struct FleetBuilder {
    host: IpAddr,
    connections_per_listener: u64,
    groups: Vec<FleetGroup>,
    origin: String,
    defences: Defences,
}

impl Default for FleetBuilder {
    fn default() -> Self {
        Self {
            host: default_host(),
            connections_per_listener: 1,
            groups: Vec::new(),
            origin: "fleet".to_owned(),
            defences: Defences::default(),
        }
    }
}

/// Entry point: `Fleet::builder().group(..).start().await`.
#[derive(Debug)]
pub struct Fleet;

impl Fleet {
    /// An empty fleet on 127.0.0.1.
    pub fn builder() -> FleetBuilder {
        FleetBuilder::default()
    }

    /// Reads a fleet file; relative `web_config` paths resolve against its directory.
    pub fn from_file(path: &Path) -> Result<FleetBuilder, FleetError> {
        let text = std::fs::read_to_string(path).map_err(|source| FleetError::Read {
            path: path.to_owned(),
            source,
        })?;
        let file: FleetFile = serde_norway::from_str(&text).map_err(|e| FleetError::Parse {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        let origin = path.display().to_string();
        let base = path.parent().unwrap_or(Path::new("."));
        let defaults = Defences::default();
        let mut builder = FleetBuilder {
            host: file.host,
            connections_per_listener: file.connections_per_listener,
            groups: Vec::new(),
            origin: origin.clone(),
            defences: Defences {
                handshake_timeout: file.handshake_timeout.unwrap_or(defaults.handshake_timeout),
                head_timeout: file.head_timeout.unwrap_or(defaults.head_timeout),
                max_connections: file.max_connections,
            },
        };
        for g in file.groups {
            let ports = parse_range(&g.ports).ok_or_else(|| FleetError::BadRange {
                origin: origin.clone(),
                group: g.name.clone(),
                value: g.ports.clone(),
            })?;
            builder.groups.push(FleetGroup {
                name: g.name,
                ports,
                web_config: g.web_config.map(|p| base.join(p)),
                metrics: g.metrics.unwrap_or_default(),
                faults: g.faults,
                telemetry_path: g.telemetry_path.unwrap_or_else(|| "/metrics".to_owned()),
            });
        }
        Ok(builder)
    }
}

/// Parses `N` or `A-B` (inclusive).
pub(crate) fn parse_range(v: &str) -> Option<RangeInclusive<u16>> {
    let v = v.trim();
    let (a, b) = match v.split_once('-') {
        Some((a, b)) => (a.trim().parse().ok()?, b.trim().parse().ok()?),
        None => {
            let p = v.parse().ok()?;
            (p, p)
        }
    };
    (a <= b && a > 0).then_some(a..=b)
}

/// The fd budget of a fleet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FdBudget {
    /// Listening sockets.
    pub listeners: u64,
    /// Expected keep-alive connections.
    pub connections: u64,
    /// Reserve for files, stdio, runtime.
    pub reserve: u64,
    /// RLIMIT_NOFILE soft limit after raising it to the hard limit.
    pub limit: u64,
}

impl FdBudget {
    /// Total descriptors needed.
    pub fn needed(&self) -> u64 {
        self.listeners + self.connections + self.reserve
    }
}

impl FleetBuilder {
    /// Adds a group.
    pub fn group(mut self, group: FleetGroup) -> Self {
        self.groups.push(group);
        self
    }

    /// Address every listener binds to (default 127.0.0.1).
    pub fn host(mut self, host: IpAddr) -> Self {
        self.host = host;
        self
    }

    /// Keep-alive connections expected per listener (default 1).
    pub fn connections_per_listener(mut self, n: u64) -> Self {
        self.connections_per_listener = n;
        self
    }

    /// Deadline of a TLS handshake, from accept; default
    /// [`crate::DEFAULT_HANDSHAKE_TIMEOUT`] (see [`crate::ExporterBuilder::handshake_timeout`]).
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.defences.handshake_timeout = timeout;
        self
    }

    /// Deadline of a request head; default [`crate::DEFAULT_HEAD_TIMEOUT`] (see
    /// [`crate::ExporterBuilder::head_timeout`]).
    pub fn head_timeout(mut self, timeout: Duration) -> Self {
        self.defences.head_timeout = timeout;
        self
    }

    /// Caps the open connections of the whole fleet (every listener of every group shares
    /// the process' descriptors); default: the soft `RLIMIT_NOFILE` (after raising it to
    /// the hard limit) minus the listeners minus [`crate::CONNECTION_FD_RESERVE`]. At the
    /// cap a new connection gets in by shedding the oldest idle unauthenticated one (an
    /// authenticated one only when no other is idle).
    pub fn max_connections(mut self, cap: u64) -> Self {
        self.defences.max_connections = Some(cap);
        self
    }

    /// The fleet file of this builder, for `fake-exporter fleet --config` in another
    /// process (a fleet host in its own network namespace): written by serde from the
    /// typed file, so [`Fleet::from_file`] reads back the same fleet. `web_config` paths are
    /// written as given: absolute ones stay valid wherever the file goes, relative ones
    /// resolve against the file's directory when read.
    pub fn to_yaml(&self) -> String {
        let file = FleetFile {
            host: self.host,
            connections_per_listener: self.connections_per_listener,
            groups: self
                .groups
                .iter()
                .map(|g| FleetGroupFile {
                    name: g.name.clone(),
                    ports: format!("{}-{}", g.ports.start(), g.ports.end()),
                    web_config: g.web_config.clone(),
                    metrics: Some(g.metrics.clone()),
                    faults: g.faults.clone(),
                    telemetry_path: Some(g.telemetry_path.clone()),
                })
                .collect(),
            handshake_timeout: Some(self.defences.handshake_timeout),
            head_timeout: Some(self.defences.head_timeout),
            max_connections: self.defences.max_connections,
        };
        // Invariant: every field is a plain value serde_norway can write (no maps with
        // non-string keys, no untagged enums).
        serde_norway::to_string(&file).expect("a fleet file always serialises")
    }

    /// Checks ranges and computes the fd budget, raising the soft RLIMIT_NOFILE to the hard
    /// limit if needed. Nothing is bound.
    pub fn plan(&self) -> Result<FdBudget, FleetError> {
        if self.groups.is_empty() {
            return Err(FleetError::Empty {
                origin: self.origin.clone(),
            });
        }
        let ephemeral = ephemeral_start();
        for g in &self.groups {
            if *g.ports.end() >= ephemeral {
                return Err(FleetError::Ephemeral {
                    origin: self.origin.clone(),
                    group: g.name.clone(),
                    start: *g.ports.start(),
                    end: *g.ports.end(),
                    ephemeral,
                });
            }
        }
        for (i, a) in self.groups.iter().enumerate() {
            for b in &self.groups[i + 1..] {
                let lo = (*a.ports.start()).max(*b.ports.start());
                let hi = (*a.ports.end()).min(*b.ports.end());
                if lo <= hi {
                    return Err(FleetError::Overlap {
                        origin: self.origin.clone(),
                        a: a.name.clone(),
                        b: b.name.clone(),
                        port: lo,
                    });
                }
            }
        }
        let listeners: u64 = self.groups.iter().map(FleetGroup::len).sum();
        let budget = FdBudget {
            listeners,
            connections: listeners * self.connections_per_listener,
            reserve: FD_RESERVE,
            limit: raise_nofile_limit(),
        };
        if budget.needed() > budget.limit {
            return Err(FleetError::FdBudget {
                needed: budget.needed(),
                listeners: budget.listeners,
                connections: budget.connections,
                reserve: budget.reserve,
                limit: budget.limit,
            });
        }
        Ok(budget)
    }

    /// Plans, then binds every port and starts serving. Returns once all accept.
    pub async fn start(self) -> Result<RunningFleet, Error> {
        let started = Instant::now();
        let budget = self.plan()?;
        let conns = ConnTable::new(self.defences, budget.listeners);
        let (stop_tx, stop_rx) = watch::channel(());
        let mut tasks = JoinSet::new();
        let mut groups = Vec::with_capacity(self.groups.len());
        let mut warnings = Vec::new();
        for g in self.groups {
            let source = match &g.web_config {
                Some(p) => ConfigSource::file(p),
                None => ConfigSource::None,
            };
            let prepared = PreparedListener::prepare(
                Arc::new(source),
                Arc::new(Metrics::new(g.metrics.clone())),
                g.faults.clone(),
                Vec::new(),
                g.telemetry_path.clone(),
            )?;
            warnings.extend(prepared.warnings.iter().map(|w| format!("{}: {w}", g.name)));
            let mut listeners = Vec::with_capacity(g.len() as usize);
            for port in g.ports.clone() {
                let addr = SocketAddr::new(self.host, port);
                let listener = bind(addr)?;
                let stats = Arc::new(Stats::default());
                tasks.spawn(accept_loop(
                    listener,
                    prepared.listener_context(stats.clone(), conns.clone()),
                    stop_rx.clone(),
                ));
                listeners.push(ListenerHandle { addr, stats });
            }
            groups.push(RunningGroup {
                name: g.name,
                tls: prepared.is_tls(),
                listeners,
            });
        }
        Ok(RunningFleet {
            groups,
            budget,
            warnings,
            start_duration: started.elapsed(),
            max_connections: conns.cap(),
            stop: Some(stop_tx),
            tasks,
        })
    }
}

fn ephemeral_start() -> u16 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(EPHEMERAL_START)
}

/// Raises the soft RLIMIT_NOFILE to the hard limit and returns the new soft limit.
pub(crate) fn raise_nofile_limit() -> u64 {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(n) => n,
        Err(_) => rlimit::getrlimit(rlimit::Resource::NOFILE)
            .map(|(soft, _)| soft)
            .unwrap_or(1024),
    }
}

/// One running group.
#[derive(Debug)]
pub struct RunningGroup {
    /// Its name.
    pub name: String,
    /// Whether it speaks TLS.
    pub tls: bool,
    /// Its listeners, in port order.
    pub listeners: Vec<ListenerHandle>,
}

/// A running fleet; dropping it stops every listener.
#[derive(Debug)]
#[must_use = "dropping a RunningFleet shuts every listener down"]
pub struct RunningFleet {
    groups: Vec<RunningGroup>,
    budget: FdBudget,
    warnings: Vec<String>,
    start_duration: Duration,
    max_connections: u64,
    stop: Option<watch::Sender<()>>,
    tasks: JoinSet<()>,
}

impl RunningFleet {
    /// The groups.
    pub fn groups(&self) -> &[RunningGroup] {
        &self.groups
    }

    /// Every listener of every group.
    pub fn listeners(&self) -> impl Iterator<Item = &ListenerHandle> {
        self.groups.iter().flat_map(|g| g.listeners.iter())
    }

    /// The fd budget computed before binding.
    pub fn budget(&self) -> FdBudget {
        self.budget
    }

    /// Start-up warnings (configs that can never work).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// The cap on open connections of the whole fleet (configured or derived).
    pub fn max_connections(&self) -> u64 {
        self.max_connections
    }

    /// Time from `start()` to every listener bound and accepting.
    pub fn start_duration(&self) -> Duration {
        self.start_duration
    }

    /// Counters of a group, added up.
    pub fn group_stats(&self, name: &str) -> Option<StatsSnapshot> {
        let g = self.groups.iter().find(|g| g.name == name)?;
        let mut total = StatsSnapshot::default();
        for l in &g.listeners {
            total.merge(&l.stats.snapshot());
        }
        Some(total)
    }

    /// Stops every listener and waits for open connections to close.
    pub async fn shutdown(mut self) {
        self.stop.take();
        while self.tasks.join_next().await.is_some() {}
    }
}

impl Drop for RunningFleet {
    fn drop(&mut self) {
        self.stop.take();
        self.tasks.abort_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_parse() {
        assert_eq!(parse_range("20000-20009"), Some(20000..=20009));
        assert_eq!(parse_range(" 9100 "), Some(9100..=9100));
        assert_eq!(parse_range("9-1"), None);
        assert_eq!(parse_range("0"), None);
        assert_eq!(parse_range("a-b"), None);
    }

    #[test]
    fn fleet_file_sets_the_defences() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("fleet.yaml");
        std::fs::write(
            &path,
            "handshake_timeout: 3s\nhead_timeout: 500ms\nmax_connections: 900\ngroups:\n  - name: plain\n    ports: 20000-20009\n",
        )
        .expect("write");
        let builder = Fleet::from_file(&path).expect("parses");
        assert_eq!(
            builder.defences,
            Defences {
                handshake_timeout: Duration::from_secs(3),
                head_timeout: Duration::from_millis(500),
                max_connections: Some(900),
            }
        );
        std::fs::write(&path, "groups: []\n").expect("write");
        let builder = Fleet::from_file(&path).expect("parses");
        assert_eq!(builder.defences, Defences::default());
    }

    #[test]
    fn to_yaml_reads_back_as_the_same_fleet() {
        let dir = tempfile::tempdir().expect("temp dir");
        let builder = Fleet::builder()
            .host(IpAddr::V4(Ipv4Addr::new(127, 77, 0, 1)))
            .connections_per_listener(2)
            .handshake_timeout(Duration::from_secs(3))
            .max_connections(900)
            .group(
                FleetGroup::new("tls", 20000..=20099)
                    .web_config(dir.path().join("web-config.yml"))
                    .metrics(MetricsSpec {
                        series: 7,
                        ..MetricsSpec::default()
                    })
                    .faults(FaultSpec {
                        close_after_response: true,
                        delay: Some(Duration::from_millis(250)),
                        ..FaultSpec::default()
                    }),
            )
            .group(FleetGroup::new("plain", 20100..=20100));
        let path = dir.path().join("fleet.yaml");
        std::fs::write(&path, builder.to_yaml()).expect("write");
        let read = Fleet::from_file(&path).expect("parses");
        assert_eq!(read.host, builder.host);
        assert_eq!(read.connections_per_listener, 2);
        assert_eq!(read.defences, builder.defences);
        assert_eq!(read.groups.len(), 2);
        for (got, want) in read.groups.iter().zip(&builder.groups) {
            assert_eq!(got.name, want.name);
            assert_eq!(got.ports, want.ports);
            assert_eq!(got.web_config, want.web_config);
            assert_eq!(got.metrics, want.metrics);
            assert_eq!(got.faults, want.faults);
            assert_eq!(got.telemetry_path, want.telemetry_path);
        }
    }

    #[test]
    fn plan_refuses_ephemeral_overlap_and_budget() {
        let err = Fleet::builder()
            .group(FleetGroup::new("hi", 40000..=40010))
            .plan()
            .expect_err("ephemeral");
        assert!(
            err.to_string().contains("overlap the ephemeral range"),
            "{err}"
        );

        let err = Fleet::builder()
            .group(FleetGroup::new("a", 20000..=20010))
            .group(FleetGroup::new("b", 20010..=20020))
            .plan()
            .expect_err("overlap");
        assert!(err.to_string().contains("both use port 20010"), "{err}");

        let err = Fleet::builder()
            .group(FleetGroup::new("big", 1024..=32000))
            .plan()
            .expect_err("budget");
        assert!(err.to_string().contains("file descriptors"), "{err}");

        let ok = Fleet::builder()
            .group(FleetGroup::new("small", 20000..=20099))
            .plan()
            .expect("fits");
        assert_eq!(ok.listeners, 100);
        assert_eq!(ok.needed(), 100 + 100 + FD_RESERVE);
    }
}

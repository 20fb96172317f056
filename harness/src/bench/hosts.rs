//! Fleet hosts on this machine: K `fake-exporter fleet` processes, each in its own network
//! namespace with its own loopback-range address, so that one bench holds more targets than
//! one process (the file-descriptor limit) or one address allows.
//!
//! [`FleetHosts::create`] does, in this order:
//!
//! 1. checks the spec and the file-descriptor budget of one host BEFORE anything starts:
//!    its listeners plus one keep-alive connection each plus fake-exporter's reserve,
//!    against the hard `RLIMIT_NOFILE` a child inherits from this process (the fleet
//!    raises its own soft limit to that hard limit when it plans, as here). A host that
//!    cannot fit is refused with the numbers and the fix (fewer targets per host, more
//!    hosts);
//! 2. sweeps leftovers of dead runs (`backend::sweep_leftovers`: processes, directories,
//!    and the `shb-<deadpid>-*` namespaces and veths);
//! 3. creates the namespaces and veth pairs (`netns`: host slot `k` is `shb-<pid>-<k>`,
//!    127.77.k.1 inside, 127.77.k.2 on the root side);
//! 4. per host, in `<bench dir>/host-<k>/`: a server certificate for 127.77.k.1 (plus
//!    localhost, 127.0.0.1 and ::1) signed by the bench CA, so that a job with the bench's
//!    `ca_file` verifies it by IP; the mode's web-config with that certificate; a fleet
//!    file (one group like the local bench's, on 127.77.k.1, ports `base_port..`);
//! 5. starts `ip netns exec shb-<pid>-<k> fake-exporter fleet --config F
//!    --control.listen-address 127.77.k.1:<base_port + targets>` per host (`ip netns exec`
//!    execs, so the supervised pid is the fleet's), all at once;
//! 6. waits until every control endpoint's `/stats` answers with all the host's listeners
//!    (the fleet serves it only after every listener is bound), polled with a deadline.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use fake_exporter::pki::KeyType;
//! use scrape_harness::bench::{BenchFiles, FleetHosts, HostsSpec, Mode};
//!
//! let files = BenchFiles::create("bench", KeyType::EcdsaP256).await?;
//! let hosts = FleetHosts::create(&HostsSpec::new(4, 9_000, Mode::Tls), &files).await?;
//! for host in hosts.hosts() {
//!     println!("{} serves {} targets", host.control_url(), host.targets().len());
//! }
//! // Scrape hosts.targets() with `ca_file: files.pki().ca()`; read the fleets' counters
//! // from hosts.control_urls() (`/stats`).
//! hosts.remove()?; // or let it drop
//! # Ok(()) }
//! ```
//!
//! Dropping [`FleetHosts`] (or [`FleetHosts::remove`]) sends SIGTERM to every fleet at once,
//! SIGKILL to those still running 2 s later (a fleet whose keep-alive connections are held
//! open may not finish its graceful shutdown sooner), reaps them, then removes each veth
//! pair and namespace and waits until they are gone. It is synchronous, so it also runs when the
//! bench's runtime shuts down on Ctrl-C. If the harness dies without unwinding, the next
//! run's sweep kills the fleets (they carry the owner marker) and removes the namespaces.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use fake_exporter::{Fleet, FleetError, MetricsSpec, StatsSnapshot};

use super::netns::{self, Netns, NetnsError};
use super::options::Mode;
use super::remote::FleetControl;
use super::run::fleet_group;
use super::setup::BenchFiles;
use crate::promconfig::StaticConfig;
use crate::supervise::{
    poll_until_blocking, signal_process, NotReady, Output, Signal, Spec, Supervised,
};

/// How long the fleets get, together, between SIGTERM and SIGKILL.
const FLEET_GRACE: Duration = Duration::from_secs(2);

/// Most hosts at once on one machine (one /30 of 127.77.0.0/16 each).
pub const MAX_HOSTS: u32 = netns::SLOTS as u32;

/// What [`FleetHosts::create`] makes.
#[derive(Clone, Debug)]
pub struct HostsSpec {
    /// Number of hosts (1..=[`MAX_HOSTS`]).
    pub count: u32,
    /// Listeners (targets) of each host's fleet.
    pub targets_per_host: u32,
    /// Security of every target (its web-config comes from the bench's files).
    pub mode: Mode,
    /// Keep-alive on; off closes each connection after its response.
    pub keep_alive: bool,
    /// First port of each host's targets; the control endpoint listens on the port after
    /// the last target.
    pub base_port: u16,
    /// The `fake-exporter` binary.
    pub fake_exporter: PathBuf,
    /// How long every fleet may take to serve all its listeners.
    pub ready_timeout: Duration,
    /// Samples each target exposes (fake-exporter's `--metrics.series`).
    pub series: usize,
}

impl HostsSpec {
    /// `count` hosts of `targets_per_host` targets in `mode`, keep-alive on, ports from
    /// 20000, the fake-exporter next to the running binary (else on `PATH`), 60 s to start.
    pub fn new(count: u32, targets_per_host: u32, mode: Mode) -> Self {
        Self {
            count,
            targets_per_host,
            mode,
            keep_alive: true,
            base_port: 20_000,
            fake_exporter: default_fake_exporter(),
            ready_timeout: Duration::from_secs(60),
            series: MetricsSpec::default().series,
        }
    }

    /// Port of every host's control endpoint.
    fn control_port(&self) -> Result<u16, HostsError> {
        u16::try_from(u32::from(self.base_port) + self.targets_per_host).map_err(|_| {
            HostsError::Spec(format!(
                "{} targets from port {} and the control port after them go past port 65535; \
                 lower the base port or the targets per host",
                self.targets_per_host, self.base_port
            ))
        })
    }
}

/// `fake-exporter` next to the running binary, else the name (found on `PATH`).
fn default_fake_exporter() -> PathBuf {
    std::env::current_exe()
        .ok()
        .map(|exe| exe.with_file_name("fake-exporter"))
        .filter(|p| p.is_file())
        .unwrap_or_else(|| PathBuf::from("fake-exporter"))
}

/// Why fleet hosts could not be created, read or removed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HostsError {
    /// The spec asks for nothing or for something impossible.
    #[error("{0}")]
    Spec(String),
    /// One host's fleet would not fit in the descriptors a process may open.
    #[error(
        "a fleet host of {targets} targets needs {needed} file descriptors ({listeners} \
         listeners + {connections} keep-alive connections + {reserve} reserve), but a fleet \
         process may open {limit} (the hard RLIMIT_NOFILE it inherits from this process). \
         Use at most {max_per_host} targets per host and more hosts (e.g. --count \
         {suggested_count} --targets-per-host {suggested_per_host} for {total} targets), or \
         raise the hard limit before starting (`ulimit -Hn`, systemd `LimitNOFILE=`)"
    )]
    FdBudget {
        /// Targets per host asked for.
        targets: u32,
        /// Descriptors one host needs.
        needed: u64,
        /// Its listeners.
        listeners: u64,
        /// Its expected keep-alive connections.
        connections: u64,
        /// fake-exporter's reserve.
        reserve: u64,
        /// The hard limit.
        limit: u64,
        /// Most targets that fit in one host.
        max_per_host: u64,
        /// All targets asked for.
        total: u64,
        /// Hosts needed for `total` at `suggested_per_host`.
        suggested_count: u64,
        /// `total` spread evenly over `suggested_count` hosts.
        suggested_per_host: u64,
    },
    /// The fleet of a host cannot be planned (ports in the ephemeral range, ...).
    #[error("a fleet host of {targets} targets from port {base_port}: {source}")]
    Plan {
        /// Targets per host.
        targets: u32,
        /// First port.
        base_port: u16,
        /// The fleet's verdict.
        #[source]
        source: FleetError,
    },
    /// A namespace could not be created or removed.
    #[error(transparent)]
    Netns(#[from] NetnsError),
    /// A host's certificate could not be issued.
    #[error("host {index}: issuing its server certificate for {address}: {source}")]
    Certificate {
        /// The host.
        index: u32,
        /// Its address.
        address: Ipv4Addr,
        /// The PKI's error.
        #[source]
        source: fake_exporter::pki::PkiError,
    },
    /// A host's file could not be written.
    #[error("host {index}: writing {}: {source}", .path.display())]
    Write {
        /// The host.
        index: u32,
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A host's fleet could not be started.
    #[error("host {index} ({namespace}): {detail}")]
    Spawn {
        /// The host.
        index: u32,
        /// Its namespace.
        namespace: String,
        /// The supervisor's message.
        detail: String,
    },
    /// A host's fleet exited before it served its control endpoint.
    #[error("host {index} ({namespace}): the fleet exited ({status}) before {url} answered; its log:\n{log}")]
    Exited {
        /// The host.
        index: u32,
        /// Its namespace.
        namespace: String,
        /// The control URL.
        url: String,
        /// Its exit status.
        status: String,
        /// The end of its log.
        log: String,
    },
    /// A host's fleet did not serve all its listeners in time.
    #[error("host {index} ({namespace}): {url}/stats did not show {targets} listeners within {waited:?}; its log:\n{log}")]
    NotReady {
        /// The host.
        index: u32,
        /// Its namespace.
        namespace: String,
        /// The control URL.
        url: String,
        /// Listeners expected.
        targets: u32,
        /// How long was waited.
        waited: Duration,
        /// The end of its log.
        log: String,
    },
    /// A host's `/stats` could not be read.
    #[error("reading {url}/stats: {detail}")]
    Stats {
        /// The control URL.
        url: String,
        /// What went wrong.
        detail: String,
    },
    /// A host's fleet could not be stopped.
    #[error("host {index}: stopping its fleet: {detail}")]
    Stop {
        /// The host.
        index: u32,
        /// The supervisor's message.
        detail: String,
    },
    /// The `file_sd` file could not be written.
    #[error("writing {}: {source}", .path.display())]
    TargetsFile {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

/// One fleet host: a namespace, its address and the fleet serving there.
#[derive(Debug)]
pub struct FleetHost {
    index: u32,
    /// Declared before `netns`: a namespace is removed only after its fleet stopped.
    fleet: Option<Supervised>,
    netns: Option<Netns>,
    namespace: String,
    address: Ipv4Addr,
    control_port: u16,
    ports: RangeInclusive<u16>,
}

impl FleetHost {
    /// The host's index, 0.. in creation order.
    pub fn index(&self) -> u32 {
        self.index
    }

    /// The network namespace (`shb-<pid>-<slot>`), also the name of its root-side veth.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The address every listener of the host binds to (127.77.`slot`.1).
    pub fn address(&self) -> IpAddr {
        IpAddr::V4(self.address)
    }

    /// The fleet's control endpoint (`/stats`, `/metrics`), `http://ADDR:PORT`.
    pub fn control_url(&self) -> String {
        format!(
            "http://{}",
            SocketAddr::new(self.address(), self.control_port)
        )
    }

    /// Every target, `ADDR:PORT`, in port order.
    pub fn targets(&self) -> Vec<String> {
        self.ports
            .clone()
            .map(|port| SocketAddr::new(self.address(), port).to_string())
            .collect()
    }

    /// The ports of the targets.
    pub fn ports(&self) -> RangeInclusive<u16> {
        self.ports.clone()
    }

    /// The fleet's process id (0 once stopped).
    pub fn pid(&self) -> u32 {
        self.fleet.as_ref().map_or(0, Supervised::pid)
    }

    /// The fleet's counters, summed over its listeners, from its `/stats`.
    pub async fn stats(&self) -> Result<StatsSnapshot, HostsError> {
        read_stats(&FleetControl::new(&self.control_url()))
            .await
            .map(|(_, stats)| stats)
    }

    /// Sends `signal` to the fleet while it runs unreaped (its pid cannot have been
    /// recycled).
    fn signal(&self, signal: Signal) {
        if let Some(fleet) = &self.fleet {
            if fleet.try_exit().is_none() {
                let _ = signal_process(fleet.pid(), signal);
            }
        }
    }

    /// Whether the fleet has exited (or was never started); reaps it when it has.
    fn exited(&self) -> bool {
        self.fleet.as_ref().is_none_or(|f| f.try_exit().is_some())
    }

    /// Stops the fleet (SIGTERM, SIGKILL after the grace period, reaped), then removes the
    /// namespace and its veth pair.
    fn remove(&mut self) -> Result<(), HostsError> {
        let mut first = None;
        if let Some(fleet) = self.fleet.take() {
            if let Err(err) = fleet.stop() {
                first = Some(HostsError::Stop {
                    index: self.index,
                    detail: err.to_string(),
                });
            }
        }
        if let Some(netns) = self.netns.take() {
            if let Err(err) = netns.remove() {
                first.get_or_insert(err.into());
            }
        }
        first.map_or(Ok(()), Err)
    }
}

/// K fleet hosts, removed on drop (see the module docs).
#[derive(Debug)]
#[must_use = "dropping FleetHosts stops every fleet and removes every namespace"]
pub struct FleetHosts {
    hosts: Vec<FleetHost>,
    created_in: Duration,
}

impl FleetHosts {
    /// Creates the hosts of `spec` with the certificates, web-configs and directory of
    /// `files`; returns once every fleet serves all its listeners.
    pub async fn create(spec: &HostsSpec, files: &BenchFiles) -> Result<Self, HostsError> {
        let started = Instant::now();
        check(spec)?;
        let control_port = spec.control_port()?;
        // Nothing has started yet: sweep what dead runs left, then make the namespaces.
        let sweep = tokio::task::spawn_blocking(crate::backend::sweep_leftovers).await;
        if let Ok(report) = &sweep {
            for problem in &report.problems {
                tracing::warn!("leftover sweep: {problem}");
            }
        }
        let count = spec.count as usize;
        let made = tokio::task::spawn_blocking(move || netns::create(count))
            .await
            .map_err(|e| HostsError::Spec(format!("creating the namespaces: {e}")))??;
        let mut hosts = Self {
            hosts: Vec::with_capacity(count),
            created_in: Duration::ZERO,
        };
        for (index, netns) in (0u32..).zip(made) {
            let last = u32::from(spec.base_port) + spec.targets_per_host - 1;
            hosts.hosts.push(FleetHost {
                index,
                namespace: netns.name().to_owned(),
                address: netns.inside(),
                control_port,
                // Invariant: `check` planned this range (below the ephemeral range).
                ports: spec.base_port..=u16::try_from(last).unwrap_or(u16::MAX),
                fleet: None,
                netns: Some(netns),
            });
        }
        for host in &mut hosts.hosts {
            let config = write_host_files(spec, files, host)?;
            host.fleet = Some(spawn_fleet(spec, files, host, &config)?);
        }
        let waits = hosts.hosts.iter().map(|host| wait_ready(host, spec));
        futures_util::future::try_join_all(waits).await?;
        hosts.created_in = started.elapsed();
        Ok(hosts)
    }

    /// The hosts, in creation order.
    pub fn hosts(&self) -> &[FleetHost] {
        &self.hosts
    }

    /// Every host's control URL.
    pub fn control_urls(&self) -> Vec<String> {
        self.hosts.iter().map(FleetHost::control_url).collect()
    }

    /// Every target of every host.
    pub fn targets(&self) -> Vec<String> {
        self.hosts.iter().flat_map(FleetHost::targets).collect()
    }

    /// Time from `create` to every fleet serving.
    pub fn created_in(&self) -> Duration {
        self.created_in
    }

    /// A Prometheus `file_sd_configs` file of every target: one entry per host, labelled
    /// `fleet_host` (its index) and `netns` (its namespace).
    pub fn file_sd_json(&self) -> String {
        let entries: Vec<StaticConfig> = self
            .hosts
            .iter()
            .map(|host| StaticConfig {
                targets: host.targets(),
                labels: [
                    ("fleet_host".to_owned(), host.index.to_string()),
                    ("netns".to_owned(), host.namespace.clone()),
                ]
                .into(),
            })
            .collect();
        // Invariant: strings and string maps always serialise.
        serde_json::to_string_pretty(&entries).expect("file_sd entries serialise")
    }

    /// Writes [`Self::file_sd_json`] to `path` (replaced atomically: Prometheus re-reads it).
    pub fn write_file_sd(&self, path: &Path) -> Result<(), HostsError> {
        crate::supervise::atomic_write(path, self.file_sd_json()).map_err(|source| {
            HostsError::TargetsFile {
                path: path.to_owned(),
                source,
            }
        })
    }

    /// Stops every fleet and removes every namespace, like drop, but returns the first
    /// failure (after trying everything).
    pub fn remove(mut self) -> Result<(), HostsError> {
        self.remove_all()
    }

    fn remove_all(&mut self) -> Result<(), HostsError> {
        // Every fleet gets SIGTERM at once and one grace period in all (a fleet whose
        // keep-alive connections are held open may take all of it), then SIGKILL: the
        // stops overlap instead of adding up.
        for host in &self.hosts {
            host.signal(Signal::Term);
        }
        poll_until_blocking(FLEET_GRACE, Duration::from_millis(20), || {
            self.hosts.iter().all(FleetHost::exited)
        });
        for host in &self.hosts {
            host.signal(Signal::Kill);
        }
        let mut first = None;
        for mut host in self.hosts.drain(..) {
            if let Err(err) = host.remove() {
                first.get_or_insert(err);
            }
        }
        first.map_or(Ok(()), Err)
    }
}

impl Drop for FleetHosts {
    fn drop(&mut self) {
        if let Err(err) = self.remove_all() {
            tracing::warn!("removing fleet hosts: {err}");
        }
    }
}

/// The spec's limits and one host's fd budget, before anything is created.
fn check(spec: &HostsSpec) -> Result<(), HostsError> {
    if spec.count == 0 || spec.count > MAX_HOSTS {
        return Err(HostsError::Spec(format!(
            "{} hosts: use 1 to {MAX_HOSTS}",
            spec.count
        )));
    }
    if spec.targets_per_host == 0 {
        return Err(HostsError::Spec(
            "0 targets per host: every host needs at least one".into(),
        ));
    }
    let plan_error = |source| HostsError::Plan {
        targets: spec.targets_per_host,
        base_port: spec.base_port,
        source,
    };
    let group = fleet_group(
        spec.base_port,
        spec.targets_per_host,
        spec.mode,
        spec.keep_alive,
        None,
    )
    .map_err(|e| HostsError::Spec(e.to_string()))?;
    // The same check the fleet makes when it starts, with the limit it will inherit: this
    // process' hard limit (`plan` raises the soft limit to it, as the fleet does).
    let budget = Fleet::builder()
        .host(IpAddr::V4(Ipv4Addr::new(127, 77, 0, 1)))
        .group(group)
        .plan();
    match budget {
        Ok(_) => Ok(()),
        Err(FleetError::FdBudget {
            needed,
            listeners,
            connections,
            reserve,
            limit,
        }) => {
            let per_target = if listeners == 0 {
                2
            } else {
                (listeners + connections).div_ceil(listeners)
            };
            let max_per_host = limit.saturating_sub(reserve) / per_target;
            let total = u64::from(spec.count) * u64::from(spec.targets_per_host);
            let suggested_count = total.div_ceil(max_per_host.max(1));
            Err(HostsError::FdBudget {
                targets: spec.targets_per_host,
                needed,
                listeners,
                connections,
                reserve,
                limit,
                max_per_host,
                total,
                suggested_count,
                suggested_per_host: total.div_ceil(suggested_count.max(1)),
            })
        }
        Err(other) => Err(plan_error(other)),
    }
}

/// Writes `host-<k>/`: the server certificate and key for the host's address, the web-config
/// and the fleet file; returns the fleet file.
fn write_host_files(
    spec: &HostsSpec,
    files: &BenchFiles,
    host: &FleetHost,
) -> Result<PathBuf, HostsError> {
    let index = host.index;
    let dir = files.dir().join(format!("host-{index}"));
    let write = |path: &Path, text: &str| {
        std::fs::write(path, text).map_err(|source| HostsError::Write {
            index,
            path: path.to_owned(),
            source,
        })
    };
    std::fs::create_dir_all(&dir).map_err(|source| HostsError::Write {
        index,
        path: dir.clone(),
        source,
    })?;
    let web_config = match spec.mode {
        Mode::Plain => None,
        Mode::Basic | Mode::Bearer => Some(files.web_config(spec.mode).to_owned()),
        Mode::Tls | Mode::Mtls => {
            let identity = files
                .authority()
                .server_for_ips(&[host.address()])
                .map_err(|source| HostsError::Certificate {
                    index,
                    address: host.address,
                    source,
                })?;
            let (cert, key) = (dir.join("server.crt"), dir.join("server.key"));
            write(&cert, &identity.cert_chain_pem)?;
            write(&key, &identity.key_pem)?;
            let path = dir.join("web-config.yml");
            write(&path, &files.web_config_with_cert(spec.mode, &cert, &key))?;
            Some(path)
        }
    };
    let group = fleet_group(
        spec.base_port,
        spec.targets_per_host,
        spec.mode,
        spec.keep_alive,
        web_config.as_deref(),
    )
    .map_err(|e| HostsError::Spec(e.to_string()))?
    .metrics(MetricsSpec {
        series: spec.series,
        ..MetricsSpec::default()
    });
    let fleet = Fleet::builder().host(host.address()).group(group);
    let path = dir.join("fleet.yml");
    write(&path, &fleet.to_yaml())?;
    Ok(path)
}

/// `ip netns exec NS fake-exporter fleet --config F --control.listen-address ADDR:PORT`,
/// output to `host-<k>/fleet.log`.
fn spawn_fleet(
    spec: &HostsSpec,
    files: &BenchFiles,
    host: &FleetHost,
    config: &Path,
) -> Result<Supervised, HostsError> {
    let control = SocketAddr::new(host.address(), host.control_port);
    let log = files
        .dir()
        .join(format!("host-{}", host.index))
        .join("fleet.log");
    Spec::new("ip")
        .args(["netns", "exec", host.namespace.as_str()])
        .arg(&spec.fake_exporter)
        .arg("fleet")
        .arg("--config")
        .arg(config)
        .arg(format!("--control.listen-address={control}"))
        .output(Output::File(log))
        .spawn()
        .map_err(|err| HostsError::Spawn {
            index: host.index,
            namespace: host.namespace.clone(),
            detail: err.to_string(),
        })
}

/// Polls the host's `/stats` until it shows every listener, the fleet exits, or the
/// deadline passes.
async fn wait_ready(host: &FleetHost, spec: &HostsSpec) -> Result<(), HostsError> {
    // Invariant: `create` starts every fleet before waiting.
    let fleet = host.fleet.as_ref().expect("the fleet was started");
    let url = host.control_url();
    let want = spec.targets_per_host as usize;
    let control = FleetControl::new(&url);
    let control = &control;
    let ready = move || async move {
        control
            .read()
            .await
            .is_ok_and(|(listeners, _)| listeners == want)
    };
    match fleet.wait_until(spec.ready_timeout, ready).await {
        Ok(()) => Ok(()),
        Err(NotReady::Exited(status)) => Err(HostsError::Exited {
            index: host.index,
            namespace: host.namespace.clone(),
            url,
            status: status.to_string(),
            log: fleet.log_tail(20),
        }),
        Err(NotReady::TimedOut) => Err(HostsError::NotReady {
            index: host.index,
            namespace: host.namespace.clone(),
            url,
            targets: spec.targets_per_host,
            waited: spec.ready_timeout,
            log: fleet.log_tail(20),
        }),
    }
}

/// The listeners and summed counters of a fleet's `/stats` (the one reader:
/// [`FleetControl`]).
async fn read_stats(control: &FleetControl) -> Result<(usize, StatsSnapshot), HostsError> {
    control.read().await.map_err(|detail| HostsError::Stats {
        url: control.url().to_owned(),
        detail,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_host_past_the_fd_limit_is_refused_before_anything_is_created() {
        let files = BenchFiles::create("hosts-test", fake_exporter::pki::KeyType::EcdsaP256)
            .await
            .expect("bench files");
        // Below the ephemeral range, past the 20,000 descriptors of this machine.
        let mut spec = HostsSpec::new(2, 11_000, Mode::Tls);
        // Never started: the refusal comes first.
        spec.fake_exporter = PathBuf::from("/nonexistent/fake-exporter");
        let err = FleetHosts::create(&spec, &files)
            .await
            .expect_err("11,000 targets need 22,000+ descriptors");
        let HostsError::FdBudget {
            needed,
            limit,
            max_per_host,
            suggested_count,
            suggested_per_host,
            ..
        } = &err
        else {
            panic!("an fd-budget refusal, got {err}");
        };
        assert_eq!(*needed, 22_000 + 64, "{err}");
        assert!(*max_per_host * 2 + 64 <= *limit, "{err}");
        assert!(suggested_per_host <= max_per_host, "{err}");
        assert!(suggested_count * suggested_per_host >= 22_000, "{err}");
        // No other test of this binary makes namespaces.
        let mine: Vec<String> = netns::bench_names()
            .into_iter()
            .filter(|n| netns::parse_name(n).is_some_and(|(pid, _)| pid == std::process::id()))
            .collect();
        assert!(mine.is_empty(), "nothing created: {mine:?}");
        assert!(
            std::fs::read_dir(files.dir())
                .expect("the bench dir")
                .flatten()
                .all(|e| !e.file_name().to_string_lossy().starts_with("host-")),
            "no host directory written"
        );
        let text = err.to_string();
        for part in ["22064 file descriptors", "hard RLIMIT_NOFILE", "--count"] {
            assert!(text.contains(part), "{part:?} in {text}");
        }
    }

    #[test]
    fn nothing_and_too_many_hosts_are_refused() {
        for (count, per_host) in [(0, 10), (MAX_HOSTS + 1, 10), (1, 0)] {
            let spec = HostsSpec::new(count, per_host, Mode::Plain);
            assert!(
                matches!(check(&spec), Err(HostsError::Spec(_))),
                "{count} × {per_host}"
            );
        }
        let mut spec = HostsSpec::new(1, 100, Mode::Plain);
        spec.base_port = 65_500;
        assert!(spec.control_port().is_err());
    }
}

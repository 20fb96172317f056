//! The two sides a bench window reads, whoever started them: the Prometheus servers that
//! scrape ([`Scrapers`]: fixtures the bench started, or the one poller attached to servers
//! running elsewhere) and the exporters they scrape ([`Fleets`]: the in-process fleet, or
//! the control endpoints of fleets running elsewhere). One window and one row code path
//! (`window.rs`) serves every combination.

use std::sync::Arc;
use std::time::{Duration, Instant};

use fake_exporter::{RunningFleet, StatsSnapshot};

use super::hosts::FleetHosts;
use super::remote::FleetControl;
use super::run::MeasureError;
use crate::fixture::{FixtureError, Jobs, Pending, PrometheusFixture, PrometheusWatch, Until};
use crate::observations::Observations;
use crate::targets::PromApi;

/// One Prometheus a bench reads.
#[derive(Debug)]
pub(super) enum Scraper {
    /// Started by the bench (local mode); stopped at the end of its run.
    Started(PrometheusFixture),
    /// Running elsewhere (remote mode), read through the one poller attached to the
    /// configuration it loaded; left running.
    Attached {
        /// The poller.
        watch: PrometheusWatch,
        /// Its API (the watch does not lend its own).
        api: PromApi,
    },
}

impl Scraper {
    /// Its HTTP API.
    pub(super) fn api(&self) -> &PromApi {
        match self {
            Self::Started(fixture) => fixture.api(),
            Self::Attached { api, .. } => api,
        }
    }

    /// A snapshot taken after this call with every source read (its own `/metrics`
    /// included).
    pub(super) async fn observe_now(
        &self,
        deadline: Duration,
    ) -> Result<Arc<Observations>, FixtureError> {
        match self {
            Self::Started(fixture) => fixture.observe_now(deadline).await,
            Self::Attached { watch, .. } => watch.observe_now(deadline).await,
        }
    }

    /// Waits until `job` has targets and every one of them is up.
    async fn wait_up(&self, job: &str, deadline: Duration) -> Result<(), FixtureError> {
        let jobs = Jobs::Only([job.to_owned()].into());
        let check = |o: &Observations| -> Result<(), Pending> {
            if !o.targets.iter().any(|t| t.job == job) {
                return Err(format!("no target of job `{job}` yet").into());
            }
            match Until::Up.pending(o, &jobs) {
                None => Ok(()),
                Some(pending) => Err(pending.into()),
            }
        };
        let what = format!("every target of job `{job}` up");
        match self {
            Self::Started(fixture) => fixture.wait_for(deadline, &what, check).await,
            Self::Attached { watch, .. } => watch.wait_for(deadline, &what, check).await,
        }
        .map(drop)
    }

    /// What runs it, for the report.
    pub(super) fn description(&self) -> String {
        match self {
            Self::Started(fixture) => fixture.prometheus().description(),
            Self::Attached { api, .. } => format!("remote {}", api.base_url()),
        }
    }
}

/// The Prometheus servers of a run: one, or one per shard.
#[derive(Debug)]
pub(super) struct Scrapers {
    /// In shard order (shard `i` keeps the targets whose hash is `i`).
    pub(super) shards: Vec<Scraper>,
}

impl Scrapers {
    /// Waits until every shard has targets of `job` and all of them are up, within one
    /// `deadline` for all shards.
    pub(super) async fn wait_up(&self, job: &str, deadline: Duration) -> Result<(), FixtureError> {
        let end = Instant::now() + deadline;
        for shard in &self.shards {
            let left = end.saturating_duration_since(Instant::now());
            shard.wait_up(job, left).await?;
        }
        Ok(())
    }

    /// What runs them, for the report: the first one's backend, and how many.
    pub(super) fn description(&self) -> String {
        let first = self
            .shards
            .first()
            .map(Scraper::description)
            .unwrap_or_default();
        match self.shards.len() {
            0 | 1 => first,
            n => format!("{first} (+{} more), {n} shards", n - 1),
        }
    }

    /// Stops the ones the bench started, awaited (their kept-alive connections end with
    /// them, so the fleet's listeners close at once); attached ones keep running.
    pub(super) async fn stop(self) {
        for shard in self.shards {
            if let Scraper::Started(fixture) = shard {
                if let Err(e) = fixture.stop().await {
                    tracing::warn!(error = %e, "stopping the bench's Prometheus");
                }
            }
        }
    }
}

/// The exporters of a run.
#[derive(Debug)]
pub(super) enum Fleets {
    /// The in-process fleet (local mode): the counters of its group `group`.
    InProcess {
        /// The fleet.
        fleet: RunningFleet,
        /// The group measured (the mode's name).
        group: String,
    },
    /// Fleets running elsewhere: their `/stats`, summed over every group of every fleet.
    Remote(Vec<FleetControl>),
    /// Fleet hosts the bench started in network namespaces of their own: read as remote
    /// fleets, removed at the end of the run.
    Hosts {
        /// The hosts (removed on drop).
        hosts: FleetHosts,
        /// Their control endpoints.
        controls: Vec<FleetControl>,
    },
}

impl Fleets {
    /// The exporters' counters now, summed.
    pub(super) async fn stats(&self) -> Result<StatsSnapshot, MeasureError> {
        match self {
            Self::InProcess { fleet, group } => fleet
                .group_stats(group)
                .ok_or_else(|| MeasureError::MissingGroup(group.clone())),
            Self::Remote(controls) | Self::Hosts { controls, .. } => {
                let mut total = StatsSnapshot::default();
                for control in controls {
                    total.merge(&control.stats().await?);
                }
                Ok(total)
            }
        }
    }

    /// The processes the exporters run in, on this machine: this one (in-process), each
    /// host's fleet; none for remote fleets (their memory and descriptors are not read).
    pub(super) fn pids(&self) -> Vec<u32> {
        match self {
            Self::InProcess { .. } => vec![std::process::id()],
            Self::Hosts { hosts, .. } => hosts.hosts().iter().map(|h| h.pid()).collect(),
            Self::Remote(_) => Vec::new(),
        }
    }

    /// Whether the exporters run on this machine (in this process, or on fleet hosts):
    /// then their CPU is measured.
    pub(super) fn here(&self) -> bool {
        !self.pids().is_empty()
    }

    /// Stops an in-process fleet (within 10 s) and removes fleet hosts; remote fleets keep
    /// running.
    pub(super) async fn shutdown(self) {
        match self {
            Self::InProcess { fleet, .. } => {
                let _ = tokio::time::timeout(Duration::from_secs(10), fleet.shutdown()).await;
            }
            Self::Hosts { hosts, .. } => {
                let removed = tokio::task::spawn_blocking(move || hosts.remove()).await;
                if let Ok(Err(e)) = removed {
                    tracing::warn!(error = %e, "removing the bench's fleet hosts");
                }
            }
            Self::Remote(_) => {}
        }
    }
}

//! What the fixture's one poller saw of a Prometheus: the snapshot every command judges.
//!
//! [`Observations`] is published by [`crate::PrometheusFixture`] after every poll (see
//! [`crate::PrometheusFixture::subscribe`]); judges are pure functions of a case and these
//! values. They serialise to JSON, so that observations recorded from real runs (under
//! `harness/tests/fixtures/observations/`) test the judges without starting Prometheus.
//!
//! Per target: every scrape seen (health and class, each distinct `lastScrape` once),
//! Prometheus' own count of scrapes, the scrape URL and labels, and `lastError` parsed once
//! into a [`LastError`]. Per job that Prometheus dropped: the reason from its log. Beside
//! them: Prometheus' own counters (connection tracking per job, notifications per
//! Alertmanager, remote-write samples per queue), the configuration Prometheus says it
//! loaded, and its build.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::classify::{ErrorClass, LastError};
use crate::promconfig::PrometheusConfig;
use crate::targets::{conntrack_from, failed_dials_from, Health, TextSample};

/// One snapshot of everything the poller read.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Observations {
    /// Polls made before this one was published (the first published snapshot is poll 1).
    pub poll: u64,
    /// Which configuration the poll worked from: 0 at start, +1 at every reload. A wait
    /// after a reload only trusts snapshots of the new generation.
    pub generation: u64,
    /// Seconds since the fixture started when the poll ended.
    pub at_s: f64,
    /// One entry per target, in job order; a job Prometheus dropped has one entry with
    /// [`Health::Missing`] and the logged reason.
    pub targets: Vec<TargetObservation>,
    /// Jobs of the configuration that have no target yet (discovery has not synced) and
    /// that the log does not name as dropped.
    pub absent: Vec<String>,
    /// Prometheus' own counters.
    pub counters: SelfCounters,
    /// Notifications and remote write, one entry per receiver in the configuration.
    pub receivers: Vec<ReceiverObservation>,
    /// What `/api/v1/status/config` returned at the last read (after start and after every
    /// reload), parsed into the typed configuration.
    pub loaded_config: Option<PrometheusConfig>,
    /// Why part of the last poll could not be read (tried again at the next poll).
    pub read_error: Option<String>,
    /// How Prometheus ended (`signal: 9 (SIGKILL)`, `container exited with code 1`), once
    /// a read failed and its process or container was found gone: the last snapshot the
    /// poller publishes. `None` while it runs, and for a Prometheus the harness did not
    /// start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prometheus_exited: Option<String>,
}

impl Observations {
    /// The entries of `job`.
    pub fn job<'a>(&'a self, job: &'a str) -> impl Iterator<Item = &'a TargetObservation> + 'a {
        self.targets.iter().filter(move |t| t.job == job)
    }

    /// The first entry of `job` (a job of one target: its only one).
    pub fn target<'a>(&'a self, job: &'a str) -> Option<&'a TargetObservation> {
        self.job(job).next()
    }

    /// The receiver whose address is `host` (`127.0.0.1:port`).
    pub fn receiver(&self, host: &str) -> Option<&ReceiverObservation> {
        self.receivers.iter().find(|r| r.host == host)
    }
}

/// Prometheus' verdict on one target (one per target; a dropped job has one, without
/// instance).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TargetObservation {
    /// The job name.
    pub job: String,
    /// The `instance` label; empty for a dropped job.
    pub instance: String,
    /// The URL Prometheus scrapes (`scrapeUrl`: scheme, address and path after
    /// relabelling); empty for a dropped job.
    pub scrape_url: String,
    /// The target's labels after relabelling.
    pub labels: BTreeMap<String, String>,
    /// Health.
    pub health: Health,
    /// Raw `lastError` (for a dropped job: the reason from Prometheus' log, if found).
    pub last_error: String,
    /// The class of `last_error`.
    pub class: ErrorClass,
    /// How the scrape was refused, from `last_error` (see [`LastError::mechanism`]).
    pub mechanism: String,
    /// `last_error` without the URL and socket addresses.
    pub significant_error: String,
    /// Scrapes so far, failed ones included (Prometheus' own count).
    pub scrapes: u64,
    /// When the last scrape started (`lastScrape`); `None` before the first.
    #[serde(default)]
    pub last_scrape: Option<std::time::SystemTime>,
    /// How long the last scrape took, seconds.
    pub last_scrape_duration_s: f64,
    /// Scrapes the polls saw (each distinct `lastScrape` once); polls may miss some.
    pub scrapes_seen: u64,
    /// Outcomes of the scrapes the polls saw after the first one (the warm-up), with how
    /// often each was seen. Lets a judge tell a steady outcome from a passing one (a scrape
    /// that timed out once on a busy machine).
    pub steady_state: Vec<SeenOutcome>,
    /// Outcome of the first scrape the polls saw (left out of `steady_state`): when every
    /// later scrape timed out on a busy machine, it still shows what the target answers.
    pub first_seen: Option<SeenOutcome>,
}

impl TargetObservation {
    /// The entry of a job Prometheus dropped, with the reason it logged.
    pub(crate) fn missing(job: &str, reason: String) -> Self {
        let error = LastError::with_class(&reason, ErrorClass::JobMissing);
        Self {
            job: job.to_owned(),
            health: Health::Missing,
            ..Self::with_error(error)
        }
    }

    /// An entry whose error fields come from `error`.
    pub(crate) fn with_error(error: LastError) -> Self {
        Self {
            last_error: error.raw,
            class: error.class,
            mechanism: error.mechanism,
            significant_error: error.significant,
            ..Self::default()
        }
    }
}

/// One outcome of a target's scrapes and how many scrapes had it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeenOutcome {
    /// Health after the scrape.
    pub health: Health,
    /// Class of its `lastError`.
    pub class: ErrorClass,
    /// Scrapes seen with this outcome.
    pub scrapes: u64,
}

/// Prometheus' own counters, from its `/metrics`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SelfCounters {
    /// Whether these were read at all (they are read at most once a second, and at once
    /// when a command asks for a fresh snapshot).
    pub read: bool,
    /// Connections each job's dialer established
    /// (`net_conntrack_dialer_conn_established_total{dialer_name}`); with keep-alive one
    /// per target.
    pub conntrack_established: BTreeMap<String, f64>,
    /// Dials each job's dialer gave up on for another reason than a refused connection
    /// (`net_conntrack_dialer_conn_failed_total`, `reason="refused"` left out).
    pub conntrack_failed: BTreeMap<String, f64>,
    /// Scrape pools Prometheus failed to create since start
    /// (`prometheus_target_scrape_pools_failed_total`).
    pub scrape_pools_failed: f64,
    /// Whether the last configuration reload succeeded
    /// (`prometheus_config_last_reload_successful`).
    pub last_reload_successful: Option<bool>,
    /// CPU time Prometheus has used, seconds (`process_cpu_seconds_total`; the bench's
    /// CPU column is its difference over the measured window).
    #[serde(default)]
    pub process_cpu_seconds: Option<f64>,
    /// Prometheus' resident memory, bytes (`process_resident_memory_bytes`).
    #[serde(default)]
    pub resident_memory_bytes: Option<f64>,
    /// Prometheus' open file descriptors (`process_open_fds`).
    #[serde(default)]
    pub open_fds: Option<f64>,
    /// The poll that read these (see `Observations::poll`): a snapshot whose `poll` is
    /// larger carries counters read earlier.
    #[serde(default)]
    pub read_in_poll: u64,
}

impl SelfCounters {
    /// The counters in Prometheus' `/metrics` samples.
    pub(crate) fn from_samples(samples: &[TextSample]) -> Self {
        let mut out = Self {
            read: true,
            conntrack_established: conntrack_from(samples),
            conntrack_failed: failed_dials_from(samples),
            ..Self::default()
        };
        for s in samples {
            match s.name.as_str() {
                "prometheus_target_scrape_pools_failed_total" => out.scrape_pools_failed = s.value,
                "prometheus_config_last_reload_successful" => {
                    out.last_reload_successful = Some(s.value == 1.0);
                }
                "process_cpu_seconds_total" => out.process_cpu_seconds = Some(s.value),
                "process_resident_memory_bytes" => out.resident_memory_bytes = Some(s.value),
                "process_open_fds" => out.open_fds = Some(s.value),
                _ => {}
            }
        }
        out
    }
}

/// What Prometheus did for one notification or remote-write receiver of its
/// configuration.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ReceiverObservation {
    /// `host:port` of the receiver, as the configuration names it.
    pub host: String,
    /// Prometheus' counters for it.
    pub counts: PrometheusCounts,
    /// The last error Prometheus logged for it, parsed (`None`: none logged).
    pub last_error: Option<LastError>,
}

/// Prometheus' counters for one receiver.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PrometheusCounts {
    /// Nothing seen yet.
    #[default]
    None,
    /// `prometheus_notifications_{sent,errors}_total`, label `alertmanager` (the URL).
    Notifications {
        /// Alerts sent (attempted, in 2.x: successes and failures).
        sent: f64,
        /// Failed sends.
        errors: f64,
    },
    /// `prometheus_remote_storage_samples_{total,failed_total,retried_total}`, label
    /// `remote_name`.
    RemoteWrite {
        /// Samples sent (attempted).
        samples: f64,
        /// Samples dropped after a non-recoverable error (4xx).
        failed: f64,
        /// Samples whose send is retried (TLS, network, 5xx, 429).
        retried: f64,
    },
}

impl PrometheusCounts {
    /// Failed sends (Alertmanager) or failed plus retried samples (remote write).
    pub fn failures(&self) -> f64 {
        match *self {
            Self::None => 0.0,
            Self::Notifications { errors, .. } => errors,
            Self::RemoteWrite {
                failed, retried, ..
            } => failed + retried,
        }
    }

    /// Attempts that did not fail (Alertmanager: alerts sent minus errors; each request of
    /// a receivers run carries the one alert).
    pub fn successes(&self) -> f64 {
        match *self {
            Self::None => 0.0,
            Self::Notifications { sent, errors } => (sent - errors).max(0.0),
            Self::RemoteWrite {
                samples,
                failed,
                retried,
            } => (samples - failed - retried).max(0.0),
        }
    }

    /// The notification counters of the Alertmanager whose URL contains `host`.
    pub(crate) fn notifications(samples: &[TextSample], host: &str) -> Self {
        let by_url = |v: &str| v.contains(host);
        Self::Notifications {
            sent: sum(
                samples,
                "prometheus_notifications_sent_total",
                "alertmanager",
                by_url,
            ),
            errors: sum(
                samples,
                "prometheus_notifications_errors_total",
                "alertmanager",
                by_url,
            ),
        }
    }

    /// The sample counters of the remote-write queue named `name` (label `remote_name`),
    /// or, for a queue without a name, the one whose `url` label contains `host`.
    pub(crate) fn remote_write(samples: &[TextSample], name: Option<&str>, host: &str) -> Self {
        let total = |metric| match name {
            Some(name) => sum(samples, metric, "remote_name", |v| v == name),
            None => sum(samples, metric, "url", |v| v.contains(host)),
        };
        Self::RemoteWrite {
            samples: total("prometheus_remote_storage_samples_total"),
            failed: total("prometheus_remote_storage_samples_failed_total"),
            retried: total("prometheus_remote_storage_samples_retried_total"),
        }
    }
}

/// The sum of `name` over the samples whose `label` satisfies `matches`.
fn sum(samples: &[TextSample], name: &str, label: &str, matches: impl Fn(&str) -> bool) -> f64 {
    samples
        .iter()
        .filter(|s| s.name == name && s.labels.get(label).is_some_and(|v| matches(v)))
        .map(|s| s.value)
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(name: &str, labels: &[(&str, &str)], value: f64) -> TextSample {
        TextSample {
            name: name.into(),
            labels: labels
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            value,
        }
    }

    #[test]
    fn self_counters_are_read_per_job_and_refused_dials_left_out() {
        let samples = [
            sample(
                "net_conntrack_dialer_conn_established_total",
                &[("dialer_name", "a")],
                2.0,
            ),
            sample(
                "net_conntrack_dialer_conn_failed_total",
                &[("dialer_name", "a"), ("reason", "refused")],
                5.0,
            ),
            sample(
                "net_conntrack_dialer_conn_failed_total",
                &[("dialer_name", "a"), ("reason", "timeout")],
                1.0,
            ),
            sample("prometheus_target_scrape_pools_failed_total", &[], 3.0),
            sample("prometheus_config_last_reload_successful", &[], 1.0),
        ];
        let c = SelfCounters::from_samples(&samples);
        assert!(c.read);
        assert_eq!(c.conntrack_established["a"], 2.0);
        assert_eq!(c.conntrack_failed["a"], 1.0);
        assert_eq!(c.scrape_pools_failed, 3.0);
        assert_eq!(c.last_reload_successful, Some(true));
    }

    #[test]
    fn self_counters_of_a_captured_prometheus_2_42() {
        // Prometheus 2.42's own /metrics, captured after a run with keep-alive jobs and
        // three broken ones reloaded three times.
        let text = include_str!("../tests/fixtures/prom-2.42/prometheus_metrics.txt");
        let samples = crate::targets::parse_text_format(text).expect("parses");
        let c = SelfCounters::from_samples(&samples);
        assert_eq!(
            c.conntrack_established["tls_ok"], 1.0,
            "keep-alive: one connection"
        );
        assert!(c.conntrack_established["close_without_response"] > 10.0);
        assert_eq!(c.scrape_pools_failed, 12.0);
        assert!(c.last_reload_successful.is_some());
        assert!(c.process_cpu_seconds.is_some_and(|s| s > 0.0), "{c:?}");
        assert!(c.resident_memory_bytes.is_some_and(|b| b > 1e6), "{c:?}");
    }

    #[test]
    fn receiver_counts_per_kind() {
        let samples = [
            sample(
                "prometheus_notifications_sent_total",
                &[("alertmanager", "https://127.0.0.1:4000/api/v2/alerts")],
                5.0,
            ),
            sample(
                "prometheus_notifications_errors_total",
                &[("alertmanager", "https://127.0.0.1:4000/api/v2/alerts")],
                2.0,
            ),
            sample(
                "prometheus_remote_storage_samples_total",
                &[("remote_name", "rw")],
                10.0,
            ),
            sample(
                "prometheus_remote_storage_samples_retried_total",
                &[("remote_name", "rw")],
                4.0,
            ),
        ];
        let n = PrometheusCounts::notifications(&samples, "127.0.0.1:4000");
        assert_eq!((n.failures(), n.successes()), (2.0, 3.0));
        let r = PrometheusCounts::remote_write(&samples, Some("rw"), "127.0.0.1:4001");
        assert_eq!((r.failures(), r.successes()), (4.0, 6.0));
        assert_eq!(
            PrometheusCounts::remote_write(&samples, Some("other"), "127.0.0.1:4001").failures(),
            0.0
        );
    }
}

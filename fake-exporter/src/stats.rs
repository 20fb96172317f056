//! Self-statistics of one listener: connections, TLS handshakes (ok and failed by reason),
//! negotiated TLS parameters, and requests by status and auth outcome.
//!
//! These counters are how the harness counts handshakes per scrape, so every update is a
//! plain atomic or a short critical section that is never held across an `.await`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde::Serialize;

use crate::auth::AuthOutcome;
use crate::receiver::{Received, ReceivedCounters};

/// One bound listener: its address and its counters.
#[derive(Debug, Clone)]
pub struct ListenerHandle {
    /// The bound address (the real port when 0 was asked for).
    pub addr: SocketAddr,
    /// Its counters.
    pub stats: Arc<Stats>,
}

/// Parameters of one completed TLS handshake.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize)]
pub struct TlsSessionInfo {
    /// `TLSv1_2` or `TLSv1_3`.
    pub version: String,
    /// IANA cipher suite name.
    pub cipher_suite: String,
    /// Key exchange group (e.g. `X25519`), empty when unknown.
    pub kx_group: String,
    /// Negotiated ALPN protocol (`h2`, `http/1.1`), empty when none.
    pub alpn: String,
    /// Whether the client presented a certificate.
    pub client_cert: bool,
}

/// Live counters of one listener. Cheap to update from many tasks.
#[derive(Debug, Default)]
pub struct Stats {
    connections_accepted: AtomicU64,
    connections_open: AtomicU64,
    handshakes_ok: AtomicU64,
    handshakes_failed: Mutex<BTreeMap<&'static str, u64>>,
    tls_sessions: Mutex<BTreeMap<TlsSessionInfo, u64>>,
    requests: Mutex<BTreeMap<(u16, AuthOutcome, &'static str), u64>>,
    handshake_timeouts: AtomicU64,
    head_timeouts: AtomicU64,
    connections_shed: AtomicU64,
    connections_refused: AtomicU64,
    accept_errors: AtomicU64,
    slow_hashes_refused: AtomicU64,
    /// What a receiver listener accepted (alerts, remote-write series and samples).
    pub(crate) received: ReceivedCounters,
}

impl Stats {
    /// A TCP connection was accepted.
    pub fn connection_accepted(&self) {
        self.connections_accepted.fetch_add(1, Ordering::Relaxed);
        self.connections_open.fetch_add(1, Ordering::Relaxed);
    }

    /// A TCP connection was closed (after `connection_accepted`).
    pub fn connection_closed(&self) {
        self.connections_open.fetch_sub(1, Ordering::Relaxed);
    }

    /// A TLS handshake completed.
    pub fn handshake_ok(&self, info: TlsSessionInfo) {
        self.handshakes_ok.fetch_add(1, Ordering::Relaxed);
        *lock(&self.tls_sessions).entry(info).or_default() += 1;
    }

    /// A TLS handshake failed for `reason` (a stable snake_case label).
    pub fn handshake_failed(&self, reason: &'static str) {
        *lock(&self.handshakes_failed).entry(reason).or_default() += 1;
    }

    /// A request was answered with `status`; `http_version` is `HTTP/1.1` or `HTTP/2`.
    pub fn request(&self, status: u16, auth: AuthOutcome, http_version: &'static str) {
        *lock(&self.requests)
            .entry((status, auth, http_version))
            .or_default() += 1;
    }

    /// A TLS handshake missed its deadline (also a failed handshake, reason `timeout`).
    pub fn handshake_timed_out(&self) {
        self.handshake_timeouts.fetch_add(1, Ordering::Relaxed);
        self.handshake_failed("timeout");
    }

    /// A connection sent no complete request head within its deadline and was closed.
    pub fn head_timed_out(&self) {
        self.head_timeouts.fetch_add(1, Ordering::Relaxed);
    }

    /// An idle unauthenticated connection was closed to make room at the connection cap.
    pub fn connection_shed(&self) {
        self.connections_shed.fetch_add(1, Ordering::Relaxed);
    }

    /// A connection was closed at once: the cap was reached and nothing could be shed.
    pub fn connection_refused(&self) {
        self.connections_refused.fetch_add(1, Ordering::Relaxed);
    }

    /// `accept` failed (EMFILE and the like).
    pub fn accept_failed(&self) {
        self.accept_errors.fetch_add(1, Ordering::Relaxed);
    }

    /// A Basic-auth check was refused without bcrypt: the user's hash costs more than
    /// [`crate::MAX_VERIFIED_BCRYPT_COST`].
    pub fn slow_hash_refused(&self) {
        self.slow_hashes_refused.fetch_add(1, Ordering::Relaxed);
    }

    /// A consistent copy of every counter.
    pub fn snapshot(&self) -> StatsSnapshot {
        let requests: Vec<RequestCount> = lock(&self.requests)
            .iter()
            .map(|(&(status, auth, http_version), &count)| RequestCount {
                status,
                auth,
                http_version: http_version.to_owned(),
                count,
            })
            .collect();
        StatsSnapshot {
            connections_accepted: self.connections_accepted.load(Ordering::Relaxed),
            connections_open: self.connections_open.load(Ordering::Relaxed),
            handshakes_ok: self.handshakes_ok.load(Ordering::Relaxed),
            handshakes_failed: lock(&self.handshakes_failed)
                .iter()
                .map(|(k, v)| ((*k).to_owned(), *v))
                .collect(),
            tls_sessions: lock(&self.tls_sessions)
                .iter()
                .map(|(info, &count)| TlsSessionCount {
                    info: info.clone(),
                    count,
                })
                .collect(),
            requests,
            received: self.received.snapshot(),
            defences: DefenceCounts {
                handshake_timeouts: self.handshake_timeouts.load(Ordering::Relaxed),
                head_timeouts: self.head_timeouts.load(Ordering::Relaxed),
                connections_shed: self.connections_shed.load(Ordering::Relaxed),
                connections_refused: self.connections_refused.load(Ordering::Relaxed),
                accept_errors: self.accept_errors.load(Ordering::Relaxed),
                slow_hashes_refused: self.slow_hashes_refused.load(Ordering::Relaxed),
            },
        }
    }
}

/// Poisoning cannot leave these maps inconsistent (each update is one insert-or-add), so a
/// poisoned lock is simply taken over.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A copy of a listener's counters, serialisable as JSON for the control endpoint.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct StatsSnapshot {
    /// TCP connections accepted.
    pub connections_accepted: u64,
    /// TCP connections currently open.
    pub connections_open: u64,
    /// TLS handshakes completed.
    pub handshakes_ok: u64,
    /// TLS handshakes failed, by reason.
    pub handshakes_failed: BTreeMap<String, u64>,
    /// Completed handshakes by negotiated parameters.
    pub tls_sessions: Vec<TlsSessionCount>,
    /// Requests by status, auth outcome and HTTP version.
    pub requests: Vec<RequestCount>,
    /// What a receiver listener accepted (all zero for a plain exporter).
    pub received: Received,
    /// What the defences against hostile clients did (absent from older `/stats`: zero).
    #[serde(default)]
    pub defences: DefenceCounts,
}

/// What the defences against hostile clients did (see `docs/reliability.md`, "fake-exporter
/// under hostile clients").
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(default)]
pub struct DefenceCounts {
    /// TLS handshakes closed by the handshake deadline (also in `handshakes_failed` as
    /// `timeout`).
    pub handshake_timeouts: u64,
    /// Connections closed by the request-head deadline.
    pub head_timeouts: u64,
    /// Idle unauthenticated connections closed to make room at the connection cap.
    pub connections_shed: u64,
    /// Connections closed at once at the cap with nothing to shed.
    pub connections_refused: u64,
    /// Failed `accept` calls (EMFILE, ENFILE...), each followed by a backoff.
    pub accept_errors: u64,
    /// Basic-auth checks refused without bcrypt because the user's hash costs more than
    /// [`crate::MAX_VERIFIED_BCRYPT_COST`].
    pub slow_hashes_refused: u64,
}

impl DefenceCounts {
    fn merge(&mut self, other: &Self) {
        self.handshake_timeouts += other.handshake_timeouts;
        self.head_timeouts += other.head_timeouts;
        self.connections_shed += other.connections_shed;
        self.connections_refused += other.connections_refused;
        self.accept_errors += other.accept_errors;
        self.slow_hashes_refused += other.slow_hashes_refused;
    }

    fn labelled(&self) -> [(&'static str, u64); 6] {
        [
            ("handshake_timeout", self.handshake_timeouts),
            ("head_timeout", self.head_timeouts),
            ("connection_shed", self.connections_shed),
            ("connection_refused", self.connections_refused),
            ("accept_error", self.accept_errors),
            ("slow_hash_refused", self.slow_hashes_refused),
        ]
    }
}

/// Number of handshakes that negotiated the same parameters.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct TlsSessionCount {
    /// The negotiated parameters.
    #[serde(flatten)]
    pub info: TlsSessionInfo,
    /// How many handshakes negotiated them.
    pub count: u64,
}

/// Number of requests with the same status, auth outcome and HTTP version.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct RequestCount {
    /// HTTP status sent.
    pub status: u16,
    /// Authentication outcome.
    pub auth: AuthOutcome,
    /// `HTTP/1.1` or `HTTP/2`.
    pub http_version: String,
    /// Number of such requests.
    pub count: u64,
}

impl StatsSnapshot {
    /// Total number of failed handshakes, whatever the reason.
    pub fn handshakes_failed_total(&self) -> u64 {
        self.handshakes_failed.values().sum()
    }

    /// Failed handshakes for one reason.
    pub fn handshakes_failed_for(&self, reason: &str) -> u64 {
        self.handshakes_failed.get(reason).copied().unwrap_or(0)
    }

    /// Total number of requests answered.
    pub fn requests_total(&self) -> u64 {
        self.requests.iter().map(|r| r.count).sum()
    }

    /// Requests answered with `status`.
    pub fn requests_with_status(&self, status: u16) -> u64 {
        self.requests
            .iter()
            .filter(|r| r.status == status)
            .map(|r| r.count)
            .sum()
    }

    /// Requests with the given auth outcome.
    pub fn requests_with_auth(&self, auth: AuthOutcome) -> u64 {
        self.requests
            .iter()
            .filter(|r| r.auth == auth)
            .map(|r| r.count)
            .sum()
    }

    /// Adds another snapshot's counters to this one (fleet totals).
    pub fn merge(&mut self, other: &StatsSnapshot) {
        self.connections_accepted += other.connections_accepted;
        self.connections_open += other.connections_open;
        self.handshakes_ok += other.handshakes_ok;
        for (k, v) in &other.handshakes_failed {
            *self.handshakes_failed.entry(k.clone()).or_default() += v;
        }
        for s in &other.tls_sessions {
            match self.tls_sessions.iter_mut().find(|x| x.info == s.info) {
                Some(x) => x.count += s.count,
                None => self.tls_sessions.push(s.clone()),
            }
        }
        self.received.merge(&other.received);
        self.defences.merge(&other.defences);
        for r in &other.requests {
            match self.requests.iter_mut().find(|x| {
                x.status == r.status && x.auth == r.auth && x.http_version == r.http_version
            }) {
                Some(x) => x.count += r.count,
                None => self.requests.push(r.clone()),
            }
        }
    }

    /// Renders the counters as `fake_exporter_*` metrics in text format 0.0.4, each sample
    /// labelled with `listener`.
    pub fn render_prometheus(&self, listener: &str, out: &mut String) {
        let l = escape_label(listener);
        // `write!` into a String cannot fail.
        let _ = writeln!(out, "# HELP fake_exporter_connections_accepted_total TCP connections accepted.\n# TYPE fake_exporter_connections_accepted_total counter\nfake_exporter_connections_accepted_total{{listener=\"{l}\"}} {}", self.connections_accepted);
        let _ = writeln!(out, "# HELP fake_exporter_connections_open TCP connections currently open.\n# TYPE fake_exporter_connections_open gauge\nfake_exporter_connections_open{{listener=\"{l}\"}} {}", self.connections_open);
        let _ = writeln!(out, "# HELP fake_exporter_tls_handshakes_total TLS handshakes by result.\n# TYPE fake_exporter_tls_handshakes_total counter\nfake_exporter_tls_handshakes_total{{listener=\"{l}\",result=\"ok\",reason=\"\"}} {}", self.handshakes_ok);
        for (reason, n) in &self.handshakes_failed {
            let _ = writeln!(out, "fake_exporter_tls_handshakes_total{{listener=\"{l}\",result=\"failed\",reason=\"{}\"}} {n}", escape_label(reason));
        }
        let _ = writeln!(out, "# HELP fake_exporter_requests_total HTTP requests by status, auth outcome and HTTP version.\n# TYPE fake_exporter_requests_total counter");
        for r in &self.requests {
            let _ = writeln!(
                out,
                "fake_exporter_requests_total{{listener=\"{l}\",status=\"{}\",auth=\"{}\",http_version=\"{}\"}} {}",
                r.status,
                r.auth.as_str(),
                r.http_version,
                r.count
            );
        }
        // Like the failed-handshake reasons, only the actions that happened (a fleet's
        // control endpoint lists thousands of listeners).
        if self.defences != DefenceCounts::default() {
            let _ = writeln!(out, "# HELP fake_exporter_defence_actions_total What the defences against hostile clients did: deadlines expired, connections shed or refused at the cap, failed accepts, slow bcrypt hashes refused.\n# TYPE fake_exporter_defence_actions_total counter");
            for (action, n) in self.defences.labelled() {
                if n > 0 {
                    let _ = writeln!(
                        out,
                        "fake_exporter_defence_actions_total{{listener=\"{l}\",action=\"{action}\"}} {n}"
                    );
                }
            }
        }
        let rx = &self.received;
        if *rx != Received::default() {
            let _ = writeln!(out, "# HELP fake_exporter_received_total What a receiver listener accepted: requests, rejected bodies, alerts, remote-write series and samples.\n# TYPE fake_exporter_received_total counter");
            for (what, n) in [
                ("requests", rx.requests),
                ("rejected", rx.rejected),
                ("alerts", rx.alerts),
                ("series", rx.series),
                ("samples", rx.samples),
            ] {
                let _ = writeln!(
                    out,
                    "fake_exporter_received_total{{listener=\"{l}\",what=\"{what}\"}} {n}"
                );
            }
        }
    }
}

/// A label value escaped for the text format (the metrics module's escaper).
fn escape_label(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    crate::metrics::escape_label_value(v, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_counts_what_was_recorded() {
        let stats = Stats::default();
        stats.connection_accepted();
        stats.connection_accepted();
        stats.connection_closed();
        stats.handshake_failed("no_client_cert");
        stats.handshake_failed("no_client_cert");
        stats.handshake_ok(TlsSessionInfo {
            version: "TLSv1_3".into(),
            cipher_suite: "TLS13_AES_128_GCM_SHA256".into(),
            kx_group: "X25519".into(),
            alpn: "h2".into(),
            client_cert: false,
        });
        stats.request(401, AuthOutcome::Missing, "HTTP/2");
        stats.request(200, AuthOutcome::Ok, "HTTP/2");
        stats.request(200, AuthOutcome::Ok, "HTTP/2");

        let s = stats.snapshot();
        assert_eq!(s.connections_accepted, 2);
        assert_eq!(s.connections_open, 1);
        assert_eq!(s.handshakes_ok, 1);
        assert_eq!(s.handshakes_failed_for("no_client_cert"), 2);
        assert_eq!(s.requests_with_status(200), 2);
        assert_eq!(s.requests_with_auth(AuthOutcome::Missing), 1);
        assert_eq!(s.requests_total(), 3);

        let mut text = String::new();
        s.render_prometheus("127.0.0.1:9100", &mut text);
        assert!(text.contains("fake_exporter_tls_handshakes_total{listener=\"127.0.0.1:9100\",result=\"failed\",reason=\"no_client_cert\"} 2"), "{text}");
        assert!(text.contains("fake_exporter_requests_total{listener=\"127.0.0.1:9100\",status=\"401\",auth=\"missing\",http_version=\"HTTP/2\"} 1"), "{text}");
        assert!(
            !text.contains("fake_exporter_defence_actions_total"),
            "{text}"
        );

        stats.handshake_timed_out();
        stats.connection_shed();
        stats.connection_shed();
        let s = stats.snapshot();
        assert_eq!(s.defences.handshake_timeouts, 1);
        assert_eq!(s.defences.connections_shed, 2);
        assert_eq!(s.handshakes_failed_for("timeout"), 1);
        let mut text = String::new();
        s.render_prometheus("127.0.0.1:9100", &mut text);
        assert!(text.contains("fake_exporter_defence_actions_total{listener=\"127.0.0.1:9100\",action=\"connection_shed\"} 2"), "{text}");
        assert!(!text.contains("action=\"head_timeout\""), "{text}");
        let json = serde_json::to_value(&s).expect("serialises");
        assert_eq!(json["defences"]["connections_shed"], 2, "{json}");
        // `/stats` of an older fake-exporter, without `defences`, still reads.
        let mut old = json.clone();
        old.as_object_mut().expect("an object").remove("defences");
        let read: StatsSnapshot = serde_json::from_value(old).expect("reads");
        assert_eq!(read.defences, DefenceCounts::default());
    }

    #[test]
    fn merge_adds_counters() {
        let a = Stats::default();
        a.request(200, AuthOutcome::Ok, "HTTP/1.1");
        let b = Stats::default();
        b.request(200, AuthOutcome::Ok, "HTTP/1.1");
        b.handshake_failed("eof");
        a.slow_hash_refused();
        b.slow_hash_refused();
        b.accept_failed();
        let mut total = a.snapshot();
        total.merge(&b.snapshot());
        assert_eq!(total.requests_with_status(200), 2);
        assert_eq!(total.handshakes_failed_total(), 1);
        assert_eq!(total.defences.slow_hashes_refused, 2);
        assert_eq!(total.defences.accept_errors, 1);
    }
}

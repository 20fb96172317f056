//! The observation log: what the exporter saw on each request — the connection it came on
//! (id, and whether it was reused), the server certificate presented on that connection,
//! the client certificate, and a fingerprint of the credential (Basic user and password, or
//! Bearer token). This is how a rotation test tells which certificate serial or credential
//! each scrape used.
//!
//! Off by default ([`crate::ExporterBuilder::observe`] turns it on): a fleet of thousands
//! of exporters pays nothing. When on, it is a bounded ring buffer (the oldest entries are
//! dropped) behind one short critical section per request.
//!
//! Secrets are never stored: a credential is recorded as [`credential_fingerprint`], the
//! first 16 hex digits of its SHA-256, which a test compares with the fingerprint of the
//! values it wrote.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use serde::Serialize;
use sha2::{Digest, Sha256};

/// What the exporter saw on one answered request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Observation {
    /// When the request arrived (its head was read): a request in flight while files are
    /// replaced counts as before the change.
    #[serde(with = "humantime_serde")]
    pub at: SystemTime,
    /// The connection it came on: ids count up from 1 per exporter, in accept order.
    pub connection: u64,
    /// Requests answered on this connection before this one (0: the first request of a new
    /// connection; more: a reused, kept-alive connection).
    pub request_on_connection: u64,
    /// Serial (lowercase hex, no leading zero bytes) of the server certificate presented on
    /// this connection; `None` on plain HTTP.
    pub server_cert_serial: Option<String>,
    /// Serial of the client certificate presented on this connection, if any.
    pub client_cert_serial: Option<String>,
    /// The Basic-auth user, when the request carried Basic credentials.
    pub basic_user: Option<String>,
    /// [`credential_fingerprint`] of the Basic password or the Bearer token.
    pub credential: Option<String>,
    /// `basic` or `bearer` when an `Authorization` header of that scheme was sent.
    pub scheme: Option<&'static str>,
    /// The status answered.
    pub status: u16,
    /// The request path.
    pub path: String,
}

/// The first 16 hex digits of the SHA-256 of `secret`: enough to tell an old credential
/// from a new one, useless for recovering it.
pub fn credential_fingerprint(secret: &str) -> String {
    let digest = Sha256::digest(secret.as_bytes());
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// The serial of a DER certificate, as [`Observation::server_cert_serial`] writes it.
pub fn certificate_serial(der: &[u8]) -> Option<String> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    Some(
        cert.tbs_certificate
            .raw_serial()
            .iter()
            .skip_while(|&&b| b == 0)
            .map(|b| format!("{b:02x}"))
            .collect(),
    )
}

/// The end of a DER certificate's validity (`notAfter`), `None` when it does not parse.
pub fn certificate_not_after(der: &[u8]) -> Option<std::time::SystemTime> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let seconds = u64::try_from(cert.validity().not_after.timestamp()).ok()?;
    Some(std::time::UNIX_EPOCH + std::time::Duration::from_secs(seconds))
}

/// The bounded log of one exporter (shared by its listeners).
#[derive(Debug)]
pub(crate) struct ObservationLog {
    capacity: usize,
    entries: Mutex<VecDeque<Observation>>,
    /// Connection ids, handed out at accept time.
    next_connection: AtomicU64,
}

impl ObservationLog {
    pub(crate) fn new(capacity: usize) -> Arc<Self> {
        Arc::new(Self {
            capacity: capacity.max(1),
            entries: Mutex::new(VecDeque::with_capacity(capacity.min(4096))),
            next_connection: AtomicU64::new(1),
        })
    }

    pub(crate) fn next_connection_id(&self) -> u64 {
        self.next_connection.fetch_add(1, Ordering::Relaxed)
    }

    pub(crate) fn push(&self, observation: Observation) {
        let mut entries = lock(&self.entries);
        if entries.len() == self.capacity {
            entries.pop_front();
        }
        entries.push_back(observation);
    }

    pub(crate) fn snapshot(&self) -> Vec<Observation> {
        lock(&self.entries).iter().cloned().collect()
    }
}

/// Each update is one push or pop, so a poisoned lock leaves a consistent buffer.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// What a connection task knows about its connection, handed to each of its requests.
#[derive(Debug)]
pub(crate) struct ConnectionInfo {
    pub(crate) id: u64,
    pub(crate) server_cert_serial: Option<String>,
    pub(crate) client_cert_serial: Option<String>,
    pub(crate) requests: AtomicU64,
    pub(crate) log: Arc<ObservationLog>,
}

/// The request extension that carries [`ConnectionInfo`] to the request path.
#[derive(Clone, Debug)]
pub(crate) struct ConnectionTag(pub(crate) Arc<ConnectionInfo>);

impl ConnectionTag {
    /// Records one answered request that arrived `at`; `authorization` is the raw header,
    /// if any.
    pub(crate) fn record(
        &self,
        at: SystemTime,
        authorization: Option<&str>,
        status: u16,
        path: &str,
    ) {
        let info = &self.0;
        let (scheme, basic_user, credential) = match authorization {
            Some(value) => match crate::auth::parse_basic(value) {
                Some(creds) => (
                    Some("basic"),
                    Some(creds.user.clone()),
                    Some(credential_fingerprint(&creds.password)),
                ),
                None => match crate::auth::parse_bearer(value) {
                    Some(token) => (Some("bearer"), None, Some(credential_fingerprint(token))),
                    None => (None, None, None),
                },
            },
            None => (None, None, None),
        };
        info.log.push(Observation {
            at,
            connection: info.id,
            request_on_connection: info.requests.fetch_add(1, Ordering::Relaxed),
            server_cert_serial: info.server_cert_serial.clone(),
            client_cert_serial: info.client_cert_serial.clone(),
            basic_user,
            credential,
            scheme,
            status,
            path: path.to_owned(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_differ_per_secret_and_hide_it() {
        let a = credential_fingerprint("old-secret");
        assert_eq!(a.len(), 16);
        assert_eq!(a, credential_fingerprint("old-secret"));
        assert_ne!(a, credential_fingerprint("new-secret"));
        assert!(!a.contains("secret"));
    }

    #[test]
    fn the_log_keeps_the_newest_entries() {
        let log = ObservationLog::new(2);
        let info = Arc::new(ConnectionInfo {
            id: log.next_connection_id(),
            server_cert_serial: None,
            client_cert_serial: None,
            requests: AtomicU64::new(0),
            log: log.clone(),
        });
        let tag = ConnectionTag(info);
        for status in [200, 401, 500] {
            tag.record(SystemTime::now(), None, status, "/metrics");
        }
        let seen = log.snapshot();
        assert_eq!(
            seen.iter().map(|o| o.status).collect::<Vec<_>>(),
            [401, 500]
        );
        assert_eq!(
            seen.iter()
                .map(|o| o.request_on_connection)
                .collect::<Vec<_>>(),
            [1, 2]
        );
        assert_eq!(seen[0].connection, 1);
    }
}

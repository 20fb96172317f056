//! Receiver modes: the exporter's listener answers what Prometheus *sends* instead of what
//! it scrapes, behind the same web config (TLS, mTLS, Basic, Bearer, rate limit) and with
//! the same per-listener stats.
//!
//! - [`Receiver::Alertmanager`]: `POST /api/v2/alerts`, a JSON array of alerts (what
//!   Prometheus' notifier sends with `api_version: v2`); answers 200 and counts the alerts.
//! - [`Receiver::RemoteWrite`]: `POST /api/v1/write` (any path, in fact: Prometheus posts to
//!   the `url` it is given), a snappy (block format, not framed) protobuf `WriteRequest`
//!   (remote-write 1.0, `X-Prometheus-Remote-Write-Version: 0.1.0`); answers 204 and counts
//!   series and samples.
//!
//! A body that does not decode is answered 400 and counted as `rejected`: Prometheus drops
//! such a batch (a 4xx is not retried) and counts its samples as failed.
//!
//! The protobuf messages are written by hand with `prost`'s derive (no protoc): only the
//! fields remote-write 1.0 defines for series and samples; unknown fields (exemplars,
//! histograms, metadata) are skipped by the decoder, as protobuf requires.

use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use http::{header, HeaderValue, Method, StatusCode};
use serde::Serialize;

/// What a listener receives, besides serving metrics.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Receiver {
    /// An Alertmanager: `POST /api/v2/alerts`.
    Alertmanager,
    /// A remote-write receiver: `POST` of a snappy protobuf `WriteRequest`.
    RemoteWrite,
}

impl Receiver {
    /// Every receiver, in the order of [`Receiver::as_str`].
    pub const ALL: [Self; 2] = [Self::Alertmanager, Self::RemoteWrite];

    /// `alertmanager` or `remote-write` (the `--receiver` value).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Alertmanager => "alertmanager",
            Self::RemoteWrite => "remote-write",
        }
    }

    /// The path Prometheus posts to (remote write: the conventional one; any path is
    /// accepted, since the path is whatever `remote_write.url` names).
    pub fn path(self) -> &'static str {
        match self {
            Self::Alertmanager => "/api/v2/alerts",
            Self::RemoteWrite => "/api/v1/write",
        }
    }
}

impl fmt::Display for Receiver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A `--receiver` value that is not one of [`Receiver::ALL`].
#[derive(Debug, thiserror::Error)]
#[error("unknown receiver `{0}`; use `alertmanager` or `remote-write`")]
pub struct UnknownReceiver(String);

impl FromStr for Receiver {
    type Err = UnknownReceiver;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "alertmanager" => Ok(Self::Alertmanager),
            "remote-write" | "remote_write" => Ok(Self::RemoteWrite),
            other => Err(UnknownReceiver(other.to_owned())),
        }
    }
}

/// remote-write 1.0 `prometheus.WriteRequest` (only the fields the receiver counts).
#[derive(Clone, PartialEq, prost::Message)]
pub struct WriteRequest {
    /// The series of this batch.
    #[prost(message, repeated, tag = "1")]
    pub timeseries: Vec<TimeSeries>,
}

/// `prometheus.TimeSeries`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TimeSeries {
    /// Labels, `__name__` included, sorted by name.
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<Label>,
    /// Samples, oldest first.
    #[prost(message, repeated, tag = "2")]
    pub samples: Vec<Sample>,
}

/// `prometheus.Label`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Label {
    /// Label name.
    #[prost(string, tag = "1")]
    pub name: String,
    /// Label value.
    #[prost(string, tag = "2")]
    pub value: String,
}

/// `prometheus.Sample`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Sample {
    /// The value.
    #[prost(double, tag = "1")]
    pub value: f64,
    /// Milliseconds since the epoch.
    #[prost(int64, tag = "2")]
    pub timestamp: i64,
}

/// Why a remote-write body was refused.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// Not snappy block format.
    #[error("body is not snappy (block format): {0}")]
    Snappy(#[from] snap::Error),
    /// Not a `WriteRequest`.
    #[error("body is not a protobuf WriteRequest: {0}")]
    Protobuf(#[from] prost::DecodeError),
    /// Not a JSON array of alerts.
    #[error("body is not a JSON array of alerts: {0}")]
    Json(#[from] serde_json::Error),
}

impl WriteRequest {
    /// Decodes a remote-write body: snappy (block format), then protobuf.
    pub fn decode_snappy(body: &[u8]) -> Result<Self, DecodeError> {
        let raw = snap::raw::Decoder::new().decompress_vec(body)?;
        Ok(<Self as prost::Message>::decode(raw.as_slice())?)
    }

    /// Encodes like Prometheus does: protobuf, then snappy (block format).
    pub fn encode_snappy(&self) -> Vec<u8> {
        let raw = prost::Message::encode_to_vec(self);
        snap::raw::Encoder::new()
            .compress_vec(&raw)
            // Compressing an in-memory buffer fails only above 2^32 bytes, which a
            // WriteRequest built in memory never reaches.
            .expect("snappy compresses any in-memory buffer")
    }

    /// Number of samples over every series.
    pub fn samples(&self) -> usize {
        self.timeseries.iter().map(|s| s.samples.len()).sum()
    }
}

/// Counts the alerts of an Alertmanager v2 body (a JSON array of alert objects).
pub fn count_alerts(body: &[u8]) -> Result<usize, DecodeError> {
    let alerts: Vec<serde_json::Map<String, serde_json::Value>> = serde_json::from_slice(body)?;
    Ok(alerts.len())
}

/// What a receiver listener has accepted so far.
#[derive(Debug, Default)]
pub(crate) struct ReceivedCounters {
    requests: AtomicU64,
    rejected: AtomicU64,
    alerts: AtomicU64,
    series: AtomicU64,
    samples: AtomicU64,
}

impl ReceivedCounters {
    pub(crate) fn snapshot(&self) -> Received {
        Received {
            requests: self.requests.load(Ordering::Relaxed),
            rejected: self.rejected.load(Ordering::Relaxed),
            alerts: self.alerts.load(Ordering::Relaxed),
            series: self.series.load(Ordering::Relaxed),
            samples: self.samples.load(Ordering::Relaxed),
        }
    }
}

/// What a receiver listener has accepted (all zero for a plain exporter).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Received {
    /// Requests accepted (authenticated, decoded, answered 2xx).
    pub requests: u64,
    /// Authenticated requests whose body did not decode (answered 400).
    pub rejected: u64,
    /// Alerts received (Alertmanager).
    pub alerts: u64,
    /// Series received (remote write; a series sent in two batches counts twice).
    pub series: u64,
    /// Samples received (remote write).
    pub samples: u64,
}

impl Received {
    /// Adds another listener's counts.
    pub fn merge(&mut self, other: &Received) {
        self.requests += other.requests;
        self.rejected += other.rejected;
        self.alerts += other.alerts;
        self.series += other.series;
        self.samples += other.samples;
    }
}

/// Answers a request for `receiver` when it is one (method and path), else `None` so the
/// exporter routes go on. Runs after the auth gate.
pub(crate) fn handle(
    receiver: Receiver,
    counters: &ReceivedCounters,
    method: &Method,
    path: &str,
    body: Bytes,
) -> Option<Response> {
    let ours = match receiver {
        Receiver::Alertmanager => path == receiver.path(),
        // Prometheus posts to whatever path `url` names: any POST is a write.
        Receiver::RemoteWrite => *method == Method::POST,
    };
    if !ours {
        return None;
    }
    if *method != Method::POST {
        return Some(text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n"));
    }
    let decoded = match receiver {
        Receiver::Alertmanager => count_alerts(&body).map(|alerts| {
            counters.alerts.fetch_add(alerts as u64, Ordering::Relaxed);
        }),
        Receiver::RemoteWrite => WriteRequest::decode_snappy(&body).map(|req| {
            counters
                .series
                .fetch_add(req.timeseries.len() as u64, Ordering::Relaxed);
            counters
                .samples
                .fetch_add(req.samples() as u64, Ordering::Relaxed);
        }),
    };
    Some(match decoded {
        Ok(()) => {
            counters.requests.fetch_add(1, Ordering::Relaxed);
            match receiver {
                Receiver::Alertmanager => {
                    let mut r = Response::new(Body::empty());
                    *r.status_mut() = StatusCode::OK;
                    r
                }
                Receiver::RemoteWrite => {
                    let mut r = Response::new(Body::empty());
                    *r.status_mut() = StatusCode::NO_CONTENT;
                    r
                }
            }
        }
        Err(err) => {
            counters.rejected.fetch_add(1, Ordering::Relaxed);
            text(StatusCode::BAD_REQUEST, &format!("{err}\n"))
        }
    })
}

fn text(status: StatusCode, body: &str) -> Response {
    let mut r = Response::new(Body::from(body.to_owned()));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(name: &str, samples: &[(f64, i64)]) -> TimeSeries {
        TimeSeries {
            labels: vec![
                Label {
                    name: "__name__".into(),
                    value: name.into(),
                },
                Label {
                    name: "job".into(),
                    value: "rw".into(),
                },
            ],
            samples: samples
                .iter()
                .map(|&(value, timestamp)| Sample { value, timestamp })
                .collect(),
        }
    }

    #[test]
    fn a_write_request_round_trips_through_snappy_and_protobuf() {
        let sent = WriteRequest {
            timeseries: vec![
                series("up", &[(1.0, 1_700_000_000_000), (0.0, 1_700_000_001_000)]),
                series("scrape_duration_seconds", &[(0.25, 1_700_000_000_000)]),
                series("empty", &[]),
            ],
        };
        let body = sent.encode_snappy();
        let got = WriteRequest::decode_snappy(&body).expect("decodes");
        assert_eq!(got, sent);
        assert_eq!(got.timeseries.len(), 3);
        assert_eq!(got.samples(), 3);
    }

    #[test]
    fn the_handler_counts_series_and_samples_exactly_and_answers_204() {
        let counters = ReceivedCounters::default();
        let body = WriteRequest {
            timeseries: vec![series("a", &[(1.0, 1), (2.0, 2)]), series("b", &[(3.0, 3)])],
        }
        .encode_snappy();
        for _ in 0..2 {
            let r = handle(
                Receiver::RemoteWrite,
                &counters,
                &Method::POST,
                "/api/v1/write",
                Bytes::from(body.clone()),
            )
            .expect("a POST is a write");
            assert_eq!(r.status(), StatusCode::NO_CONTENT);
        }
        let r = handle(
            Receiver::RemoteWrite,
            &counters,
            &Method::POST,
            "/api/v1/write",
            Bytes::from_static(b"not snappy"),
        )
        .expect("a POST is a write");
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        assert_eq!(
            counters.snapshot(),
            Received {
                requests: 2,
                rejected: 1,
                alerts: 0,
                series: 4,
                samples: 6,
            }
        );
    }

    #[test]
    fn unknown_fields_such_as_metadata_are_skipped() {
        // A WriteRequest with field 3 (metadata: type 1, family "up") after one series.
        let mut raw = prost::Message::encode_to_vec(&WriteRequest {
            timeseries: vec![series("up", &[(1.0, 1)])],
        });
        let metadata = [0x08, 0x01, 0x12, 0x02, b'u', b'p'];
        raw.extend_from_slice(&[0x1a, metadata.len() as u8]);
        raw.extend_from_slice(&metadata);
        let body = snap::raw::Encoder::new().compress_vec(&raw).expect("small");
        let got = WriteRequest::decode_snappy(&body).expect("decodes");
        assert_eq!((got.timeseries.len(), got.samples()), (1, 1));
    }

    #[test]
    fn alerts_are_counted_and_other_paths_fall_through() {
        let counters = ReceivedCounters::default();
        let body = br#"[{"labels":{"alertname":"A"}},{"labels":{"alertname":"B"}}]"#;
        let r = handle(
            Receiver::Alertmanager,
            &counters,
            &Method::POST,
            "/api/v2/alerts",
            Bytes::from_static(body),
        )
        .expect("the alerts path");
        assert_eq!(r.status(), StatusCode::OK);
        assert!(handle(
            Receiver::Alertmanager,
            &counters,
            &Method::GET,
            "/metrics",
            Bytes::new()
        )
        .is_none());
        let r = handle(
            Receiver::Alertmanager,
            &counters,
            &Method::POST,
            "/api/v2/alerts",
            Bytes::from_static(b"{}"),
        )
        .expect("the alerts path");
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        let got = counters.snapshot();
        assert_eq!((got.requests, got.rejected, got.alerts), (1, 1, 2));
    }

    #[test]
    fn receiver_names_parse_and_print() {
        for r in Receiver::ALL {
            assert_eq!(r.as_str().parse::<Receiver>().expect("round trip"), r);
        }
        assert!("am".parse::<Receiver>().is_err());
    }
}

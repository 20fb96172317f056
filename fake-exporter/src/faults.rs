//! Deliberate misbehaviour of the metrics endpoint: delays, fixed statuses, connection
//! closes and resets, wrong content types, oversize and slow bodies.
//!
//! Faults apply to the telemetry path only, after authentication, so an auth failure is
//! still reported as such.
//!
//! Two kinds: response faults ([`FaultSpec`] minus reset and close) shape one response and
//! are applied by the metrics handler; connection faults ([`ConnectionFaults`]: reset and
//! close-after-response) act on the TCP connection. The latter are decided once, when a
//! listener is prepared: the listener sets up each accepted socket for them and gives each
//! connection a [`ConnectionSignal`], through which the metrics handler triggers them and
//! the connection task carries them out. Both halves live here.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Duration;

use http::{header, HeaderValue, Version};
use serde::{Deserialize, Serialize};
use tokio::net::TcpStream;
use tokio::sync::Notify;

/// What the `Content-Type` header of a metrics response looks like.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum ContentTypeFault {
    /// The negotiated type (text 0.0.4 or OpenMetrics).
    #[default]
    Correct,
    /// No `Content-Type` header at all.
    Missing,
    /// This value instead of the negotiated one (e.g. `application/json`).
    Wrong(String),
}

/// The faults of one listener. The default is a well-behaved exporter.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct FaultSpec {
    /// Wait this long before answering (Prometheus: `context deadline exceeded` when longer
    /// than `scrape_timeout`).
    #[serde(with = "humantime_serde", skip_serializing_if = "Option::is_none")]
    pub delay: Option<Duration>,
    /// Answer every metrics request with this status and a short body.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Close the connection after each response: HTTP/1.1 gets `Connection: close`, HTTP/2
    /// gets a GOAWAY. Forces a new TLS handshake on every scrape.
    pub close_after_response: bool,
    /// Content-Type misbehaviour.
    pub content_type: ContentTypeFault,
    /// Pad the body with comment lines up to at least this many bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oversize_body_bytes: Option<usize>,
    /// Send the body in 1 KiB chunks with this pause between chunks.
    #[serde(with = "humantime_serde", skip_serializing_if = "Option::is_none")]
    pub slow_body_chunk_delay: Option<Duration>,
    /// Reset the TCP connection (RST) instead of answering.
    pub reset: bool,
    /// Answer 200 with a body that is not in any exposition format.
    pub garbage_body: bool,
}

impl FaultSpec {
    /// True when no fault is configured.
    pub fn is_none(&self) -> bool {
        *self == Self::default()
    }

    /// Parses the `--fault` flag syntax: comma-separated `name[=value]` items, e.g.
    /// `delay=2s,close-after-response,content-type=missing`.
    pub fn parse_flag<'a>(spec: &'a str) -> Result<Self, FaultParseError> {
        let mut faults = Self::default();
        for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (name, value) = match item.split_once('=') {
                Some((n, v)) => (n.trim(), Some(v.trim())),
                None => (item, None),
            };
            let need = |v: Option<&'a str>| -> Result<&'a str, FaultParseError> {
                v.ok_or_else(|| FaultParseError::MissingValue {
                    fault: name.to_owned(),
                })
            };
            let bad = |v: &str, expected: &'static str| FaultParseError::BadValue {
                fault: name.to_owned(),
                value: v.to_owned(),
                expected,
            };
            match name {
                "delay" => {
                    let v = need(value)?;
                    faults.delay = Some(
                        humantime::parse_duration(v)
                            .map_err(|_| bad(v, "a duration like 2s or 500ms"))?,
                    );
                }
                "status" => {
                    let v = need(value)?;
                    let code: u16 = v
                        .parse()
                        .map_err(|_| bad(v, "an HTTP status code like 503"))?;
                    if !(100..=599).contains(&code) {
                        return Err(bad(v, "an HTTP status code between 100 and 599"));
                    }
                    faults.status = Some(code);
                }
                "close-after-response" => faults.close_after_response = true,
                "garbage-body" => faults.garbage_body = true,
                "reset" => faults.reset = true,
                "content-type" => {
                    let v = need(value)?;
                    faults.content_type = match v {
                        "missing" => ContentTypeFault::Missing,
                        "correct" => ContentTypeFault::Correct,
                        other => ContentTypeFault::Wrong(other.to_owned()),
                    };
                }
                "oversize-body" => {
                    let v = need(value)?;
                    faults.oversize_body_bytes =
                        Some(parse_size(v).ok_or_else(|| bad(v, "a size like 20MiB or 1000000"))?);
                }
                "slow-body" => {
                    let v = need(value)?;
                    faults.slow_body_chunk_delay = Some(
                        humantime::parse_duration(v)
                            .map_err(|_| bad(v, "a duration like 100ms"))?,
                    );
                }
                other => {
                    return Err(FaultParseError::Unknown {
                        fault: other.to_owned(),
                    })
                }
            }
        }
        Ok(faults)
    }
}

fn parse_size(v: &str) -> Option<usize> {
    let (num, mult) = if let Some(n) = v.strip_suffix("KiB") {
        (n, 1024)
    } else if let Some(n) = v.strip_suffix("MiB") {
        (n, 1024 * 1024)
    } else if let Some(n) = v.strip_suffix("GiB") {
        (n, 1024 * 1024 * 1024)
    } else {
        (v, 1)
    };
    num.trim().parse::<usize>().ok()?.checked_mul(mult)
}

/// Deliberately broken security behaviour, to check that a conformance suite notices it.
/// Each mutant weakens one check an exporter must make. Never use one outside tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mutant {
    /// Basic auth lets any user and password in.
    InsecureAcceptAnyPassword,
    /// Client certificates are not verified against the client CA (any certificate is
    /// accepted, even under `RequireAndVerifyClientCert`).
    InsecureSkipClientChainVerification,
    /// Client certificates are verified, but their validity dates are ignored.
    InsecureIgnoreClientCertExpiry,
    /// `client_allowed_sans` is ignored.
    InsecureIgnoreClientAllowedSans,
    /// A 401 carries no `WWW-Authenticate` header.
    NoWwwAuthenticate,
    /// A 401 body repeats the credentials that were sent.
    EchoCredentials,
}

impl Mutant {
    /// Every mutant.
    pub const ALL: [Self; 6] = [
        Self::InsecureAcceptAnyPassword,
        Self::InsecureSkipClientChainVerification,
        Self::InsecureIgnoreClientCertExpiry,
        Self::InsecureIgnoreClientAllowedSans,
        Self::NoWwwAuthenticate,
        Self::EchoCredentials,
    ];

    /// The kebab-case name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Self::InsecureAcceptAnyPassword => "insecure-accept-any-password",
            Self::InsecureSkipClientChainVerification => "insecure-skip-client-chain-verification",
            Self::InsecureIgnoreClientCertExpiry => "insecure-ignore-client-cert-expiry",
            Self::InsecureIgnoreClientAllowedSans => "insecure-ignore-client-allowed-sans",
            Self::NoWwwAuthenticate => "no-www-authenticate",
            Self::EchoCredentials => "echo-credentials",
        }
    }
}

impl std::fmt::Display for Mutant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Mutant {
    type Err = UnknownMutant;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or_else(|| UnknownMutant(s.to_owned()))
    }
}

/// A mutant name that is not one of [`Mutant::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown mutant `{0}`; known: {known}", known = Mutant::ALL.map(Mutant::name).join(", "))]
pub struct UnknownMutant(pub String);

/// The faults of a listener that act on its connections, decided when it is prepared.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct ConnectionFaults {
    /// Reset the connection instead of answering a metrics request.
    reset: bool,
    /// Close the connection after each metrics response.
    close_after_response: bool,
}

impl ConnectionFaults {
    /// The connection faults of `spec`.
    pub(crate) fn of(spec: &FaultSpec) -> Self {
        Self {
            reset: spec.reset,
            close_after_response: spec.close_after_response,
        }
    }

    /// Sets up a freshly accepted socket: with a reset fault, SO_LINGER 0, so that dropping
    /// the socket sends an RST.
    pub(crate) fn prepare_socket(self, stream: &TcpStream) {
        if self.reset {
            #[allow(deprecated)] // blocking close is not a concern with a zero linger
            let _ = stream.set_linger(Some(Duration::ZERO));
        }
    }

    /// The signal for one connection; `None` when no fault acts on connections.
    pub(crate) fn connection(self) -> Option<ConnectionSignal> {
        (self.reset || self.close_after_response).then(|| ConnectionSignal {
            faults: self,
            inner: Arc::default(),
        })
    }
}

/// Asks its connection to close when dropped (with the response body it travels in).
#[derive(Debug)]
struct CloseWhenDropped(ConnectionSignal);

impl Drop for CloseWhenDropped {
    fn drop(&mut self) {
        self.0.request(ConnAction::Close);
    }
}

/// What the connection task is asked to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ConnAction {
    /// Finish in-flight responses, then close (HTTP/1.1: no keep-alive; HTTP/2: GOAWAY).
    Close,
    /// Drop the socket at once without answering; with SO_LINGER 0 the peer sees an RST.
    Reset,
}

/// Shared by one connection task and the requests it serves (as a request extension).
#[derive(Clone, Debug)]
pub(crate) struct ConnectionSignal {
    faults: ConnectionFaults,
    inner: Arc<SignalInner>,
}

#[derive(Debug, Default)]
struct SignalInner {
    /// 0 = nothing, 1 = close, 2 = reset; only ever increases.
    action: AtomicU8,
    notify: Notify,
}

impl ConnectionSignal {
    /// Called by the metrics handler before it answers: with a reset fault, asks the
    /// connection task to reset and never returns (the task drops the request with the
    /// socket).
    pub(crate) async fn before_response(&self) {
        if self.faults.reset {
            self.request(ConnAction::Reset);
            std::future::pending::<()>().await;
        }
    }

    /// Called by the metrics handler with its response: with close-after-response, HTTP/1
    /// gets `Connection: close` and the connection task closes the connection. HTTP/2 (where
    /// a `Connection` header means nothing) gets a GOAWAY once the response was sent: the
    /// close is asked for when hyper drops the response body. Asked for earlier, the
    /// GOAWAY could overtake the response, and the client would lose its first request.
    pub(crate) fn after_response(
        &self,
        version: Version,
        response: &mut http::Response<axum::body::Body>,
    ) {
        if !self.faults.close_after_response {
            return;
        }
        if version < Version::HTTP_2 {
            self.request(ConnAction::Close);
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            return;
        }
        use futures_util::StreamExt as _;
        let sent = CloseWhenDropped(self.clone());
        let body = std::mem::take(response.body_mut()).into_data_stream();
        *response.body_mut() = axum::body::Body::from_stream(body.map(move |chunk| {
            let _ = &sent;
            chunk
        }));
    }

    /// Asks for `action`; a reset overrides a close.
    fn request(&self, action: ConnAction) {
        let code = match action {
            ConnAction::Close => 1,
            ConnAction::Reset => 2,
        };
        self.inner.action.fetch_max(code, Ordering::SeqCst);
        self.inner.notify.notify_one();
    }

    /// Waits until an action is requested and returns it.
    pub(crate) async fn requested(&self) -> ConnAction {
        loop {
            let notified = self.inner.notify.notified();
            match self.pending() {
                Some(action) => return action,
                None => notified.await,
            }
        }
    }

    /// The action requested so far, if any.
    pub(crate) fn pending(&self) -> Option<ConnAction> {
        match self.inner.action.load(Ordering::SeqCst) {
            1 => Some(ConnAction::Close),
            2 => Some(ConnAction::Reset),
            _ => None,
        }
    }
}

/// A `--fault` flag that could not be parsed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FaultParseError {
    /// Unknown fault name.
    #[error("--fault: unknown fault `{fault}`; known: delay=DURATION, status=CODE, close-after-response, reset, garbage-body, content-type=missing|VALUE, oversize-body=SIZE, slow-body=DURATION")]
    Unknown {
        /// The name given.
        fault: String,
    },
    /// A fault that needs a value got none.
    #[error("--fault: `{fault}` needs a value, e.g. `{fault}=...`")]
    MissingValue {
        /// The fault name.
        fault: String,
    },
    /// A value that does not parse.
    #[error("--fault: `{fault}={value}` is not valid; expected {expected}")]
    BadValue {
        /// The fault name.
        fault: String,
        /// The value given.
        value: String,
        /// What was expected.
        expected: &'static str,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_flag_syntax() {
        let f = FaultSpec::parse_flag(
            "delay=2s, close-after-response,content-type=missing,oversize-body=2MiB",
        )
        .expect("valid");
        assert_eq!(f.delay, Some(Duration::from_secs(2)));
        assert!(f.close_after_response);
        assert_eq!(f.content_type, ContentTypeFault::Missing);
        assert_eq!(f.oversize_body_bytes, Some(2 * 1024 * 1024));
        assert!(FaultSpec::parse_flag("").expect("empty").is_none());
    }

    #[test]
    fn bad_flags_say_what_is_expected() {
        let err = FaultSpec::parse_flag("status=999").expect_err("out of range");
        assert!(err.to_string().contains("between 100 and 599"), "{err}");
        let err = FaultSpec::parse_flag("explode").expect_err("unknown");
        assert!(err.to_string().contains("unknown fault `explode`"), "{err}");
        let err = FaultSpec::parse_flag("delay").expect_err("no value");
        assert!(err.to_string().contains("needs a value"), "{err}");
    }
}

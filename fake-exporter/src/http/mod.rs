//! The HTTP side of an exporter: exporter-toolkit's request gate (config re-read → 500,
//! rate limit → 429, extra headers, Basic/Bearer auth → 401), then the metrics endpoint
//! with its faults, a landing page, and Go's 404 for everything else.
//!
//! `app(state)` returns a plain axum `Router`, so tests can drive it without sockets.

mod control;
mod rate_limit;

use std::convert::Infallible;
use std::io::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::Router;
use bytes::Bytes;
use http::{header, HeaderValue, StatusCode, Version};

pub use control::{
    control_app, fleet_control_app, observation_app, GroupListenerStats, GroupStats, ListenerStats,
};
pub(crate) use rate_limit::RateLimiter;

use crate::auth::{check_bearer, parse_basic, parse_bearer, AuthOutcome, BasicAuthChecker};
use crate::config_source::ConfigSource;
use crate::faults::{ConnectionSignal, ContentTypeFault, FaultSpec, Mutant};
use crate::metrics::{Format, Metrics};
use crate::observe::ConnectionTag;
use crate::receiver::{self, Receiver};
use crate::stats::Stats;
use crate::web_config::WebConfig;

/// Everything the request path needs; cheap to clone.
#[derive(Clone, Debug)]
pub(crate) struct AppState {
    inner: Arc<AppInner>,
}

#[derive(Debug)]
struct AppInner {
    config: Arc<ConfigSource>,
    basic: Arc<BasicAuthChecker>,
    limiter: Option<RateLimiter>,
    metrics: Arc<Metrics>,
    faults: FaultSpec,
    mutants: Vec<Mutant>,
    telemetry_path: String,
    stats: Arc<Stats>,
    scrapes: AtomicU64,
    /// Receiver mode: what this listener accepts besides scrapes.
    receiver: Option<Receiver>,
    /// Tokens of a fake OAuth2 token endpoint, accepted as Bearer tokens (extension).
    oauth2_tokens: Option<crate::oauth2::TokenStore>,
    compat: crate::Compat,
}

impl AppState {
    /// Builds the state of one listener. `limiter` comes from the config read at start
    /// (exporter-toolkit creates its limiter once); `mutants` are the deliberate weaknesses
    /// (conformance tests only).
    pub(crate) fn new(
        config: Arc<ConfigSource>,
        metrics: Arc<Metrics>,
        faults: FaultSpec,
        mutants: Vec<Mutant>,
        telemetry_path: impl Into<String>,
        stats: Arc<Stats>,
        limiter: Option<RateLimiter>,
        oauth2_tokens: Option<crate::oauth2::TokenStore>,
    ) -> Self {
        Self {
            inner: Arc::new(AppInner {
                config,
                basic: BasicAuthChecker::new(),
                limiter,
                metrics,
                faults,
                mutants,
                telemetry_path: telemetry_path.into(),
                stats,
                scrapes: AtomicU64::new(0),
                receiver: None,
                oauth2_tokens,
                compat: crate::Compat::default(),
            }),
        }
    }

    /// Makes the listener a receiver too (alerts, remote write). Call right after
    /// [`Self::new`], before the state is shared.
    pub(crate) fn with_receiver(mut self, receiver: Option<Receiver>) -> Self {
        match Arc::get_mut(&mut self.inner) {
            Some(inner) => inner.receiver = receiver,
            None => unreachable!("with_receiver is called before the state is cloned"),
        }
        self
    }

    /// Imitates `compat` (the landing page on every path under `node_exporter-1.5`). Call
    /// right after [`AppState::new`], before the state is shared.
    pub(crate) fn with_compat(mut self, compat: crate::Compat) -> Self {
        match Arc::get_mut(&mut self.inner) {
            Some(inner) => inner.compat = compat,
            None => tracing::error!("AppState::with_compat on a shared state: ignored"),
        }
        self
    }

    /// A state for tests: a static config, default metrics, no faults.
    #[cfg(test)]
    pub(crate) fn for_test(config: Option<WebConfig>) -> Self {
        let source = match config {
            Some(c) => ConfigSource::Static(Arc::new(c)),
            None => ConfigSource::None,
        };
        Self::new(
            Arc::new(source),
            Arc::new(Metrics::new(Default::default())),
            FaultSpec::default(),
            Vec::new(),
            "/metrics",
            Arc::new(Stats::default()),
            None,
            None,
        )
    }

    fn mutant(&self, m: Mutant) -> bool {
        self.inner.mutants.contains(&m)
    }

    /// Runs the Basic-auth check once for these credentials against the current config, so
    /// that its outcome is cached as after a first real request. Nothing is counted in the
    /// stats. Returns the outcome (`NotRequired` when the config has no users).
    pub(crate) async fn warm_basic_auth(&self, user: &str, password: &str) -> AuthOutcome {
        let Ok(Some(config)) = self.inner.config.current() else {
            return AuthOutcome::NotChecked;
        };
        if config.basic_auth_users.is_empty() {
            return AuthOutcome::NotRequired;
        }
        let creds = crate::auth::BasicCredentials {
            user: user.to_owned(),
            password: password.to_owned(),
        };
        self.inner
            .basic
            .check(&config.basic_auth_users, &creds)
            .await
    }

    /// The listener's counters.
    #[cfg(test)]
    pub(crate) fn stats(&self) -> &Arc<Stats> {
        &self.inner.stats
    }
}

/// The router of one listener.
pub(crate) fn app(state: AppState) -> Router {
    Router::new()
        .fallback(serve)
        .layer(middleware::from_fn_with_state(state.clone(), gate))
        .layer(middleware::from_fn_with_state(state.clone(), record))
        .with_state(state)
}

/// Records every answered request in the listener's stats.
async fn record(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let version = match req.version() {
        Version::HTTP_2 => "HTTP/2",
        Version::HTTP_10 => "HTTP/1.0",
        _ => "HTTP/1.1",
    };
    let observed = req.extensions().get::<ConnectionTag>().cloned().map(|tag| {
        let authorization = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        (
            SystemTime::now(),
            tag,
            authorization,
            req.uri().path().to_owned(),
        )
    });
    let response = next.run(req).await;
    if let Some((arrived, tag, authorization, path)) = observed {
        tag.record(
            arrived,
            authorization.as_deref(),
            response.status().as_u16(),
            &path,
        );
    }
    let auth = response
        .extensions()
        .get::<AuthOutcome>()
        .copied()
        .unwrap_or(AuthOutcome::NotChecked);
    state
        .inner
        .stats
        .request(response.status().as_u16(), auth, version);
    response
}

/// exporter-toolkit's `webHandler.ServeHTTP`, in its order.
async fn gate(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let config = match state.inner.config.current() {
        Ok(c) => c,
        Err(err) => {
            tracing::error!(error = %err, "Unable to parse configuration");
            return go_error(StatusCode::INTERNAL_SERVER_ERROR, AuthOutcome::NotChecked);
        }
    };
    if let Some(limiter) = &state.inner.limiter {
        if !limiter.allow() {
            return go_error(StatusCode::TOO_MANY_REQUESTS, AuthOutcome::NotChecked);
        }
    }
    let Some(config) = config else {
        let mut response = next.run(req).await;
        response.extensions_mut().insert(AuthOutcome::NotRequired);
        return response;
    };
    let extra_headers: Vec<(header::HeaderName, HeaderValue)> = config
        .http_server_config
        .headers
        .iter()
        .filter_map(|(k, v)| {
            Some((
                header::HeaderName::from_bytes(k.as_bytes()).ok()?,
                HeaderValue::from_str(v).ok()?,
            ))
        })
        .collect();

    let outcome = authenticate(&state, &config, req.headers()).await;
    let mut response = match outcome {
        AuthOutcome::Ok | AuthOutcome::NotRequired => {
            req.extensions_mut().insert(outcome);
            next.run(req).await
        }
        refused => {
            let mut r = go_error(StatusCode::UNAUTHORIZED, refused);
            if state.mutant(Mutant::EchoCredentials) {
                let sent = req
                    .headers()
                    .get(header::AUTHORIZATION)
                    .and_then(|v| v.to_str().ok())
                    .map(|v| match parse_basic(v) {
                        Some(c) => format!("user={} password={}", c.user, c.password),
                        None => v.to_owned(),
                    })
                    .unwrap_or_default();
                *r.body_mut() = Body::from(format!("Unauthorized: {sent}\n"));
            }
            let challenge = if config.basic_auth_users.is_empty() {
                bearer_challenge(refused)
            } else {
                HeaderValue::from_static("Basic")
            };
            if !state.mutant(Mutant::NoWwwAuthenticate) {
                r.headers_mut().insert(header::WWW_AUTHENTICATE, challenge);
            }
            r
        }
    };
    // Go sets the extra headers before calling the handler, so the handler's own headers
    // win; `entry().or_insert` gives the same precedence.
    for (k, v) in extra_headers {
        response.headers_mut().entry(k).or_insert(v);
    }
    response.extensions_mut().insert(outcome);
    response
}

fn bearer_challenge(outcome: AuthOutcome) -> HeaderValue {
    match outcome {
        AuthOutcome::ExpiredToken => HeaderValue::from_static(
            "Bearer error=\"invalid_token\", error_description=\"The access token expired\"",
        ),
        AuthOutcome::InvalidToken => HeaderValue::from_static("Bearer error=\"invalid_token\""),
        _ => HeaderValue::from_static("Bearer"),
    }
}

/// Basic (exporter-toolkit) and Bearer (extension) authentication. With both configured,
/// either credential is accepted.
async fn authenticate(
    state: &AppState,
    config: &WebConfig,
    headers: &http::HeaderMap,
) -> AuthOutcome {
    let bearer = config.fake_exporter.bearer_auth.as_ref();
    let oauth2 = state.inner.oauth2_tokens.as_ref();
    let basic_configured = !config.basic_auth_users.is_empty();
    if !basic_configured && bearer.is_none() && oauth2.is_none() {
        return AuthOutcome::NotRequired;
    }
    let Some(header) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return AuthOutcome::Missing;
    };
    if basic_configured {
        if let Some(creds) = parse_basic(header) {
            if state.mutant(Mutant::InsecureAcceptAnyPassword) {
                return AuthOutcome::Ok;
            }
            if BasicAuthChecker::refuses_slow_hash(&config.basic_auth_users, &creds.user) {
                state.inner.stats.slow_hash_refused();
            }
            return state
                .inner
                .basic
                .check(&config.basic_auth_users, &creds)
                .await;
        }
    }
    if let Some(token) = parse_bearer(header) {
        let now = SystemTime::now();
        let from_config = bearer.map(|b| check_bearer(b, &config.path, token, now));
        let from_oauth2 = oauth2.map(|store| store.check(token, now));
        // Either source may accept; otherwise "expired" wins over "invalid".
        let outcomes = [from_config, from_oauth2];
        let outcomes = outcomes.iter().flatten();
        if outcomes.clone().any(|o| *o == AuthOutcome::Ok) {
            return AuthOutcome::Ok;
        }
        if outcomes.clone().any(|o| *o == AuthOutcome::ExpiredToken) {
            return AuthOutcome::ExpiredToken;
        }
        if from_config.is_some() || from_oauth2.is_some() {
            return AuthOutcome::InvalidToken;
        }
    }
    AuthOutcome::Missing
}

/// Go's `http.Error`: the status text and a newline, `text/plain; charset=utf-8`, nosniff.
fn go_error(status: StatusCode, outcome: AuthOutcome) -> Response {
    let body = format!("{}\n", status.canonical_reason().unwrap_or(""));
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    r.extensions_mut().insert(outcome);
    r
}

/// The largest alert or remote-write body a receiver reads (Prometheus sends at most
/// `max_samples_per_send` samples, 2,000 by default, a few hundred KiB uncompressed).
const RECEIVER_BODY_LIMIT: usize = 32 << 20;

/// Routes: the telemetry path, `/` (landing page), and Go's 404 for anything else.
async fn serve(State(state): State<AppState>, req: Request) -> Response {
    let (req, body) = req.into_parts();
    let path = req.uri.path();
    if let Some(kind) = state.inner.receiver {
        if req.method == http::Method::POST || path == kind.path() {
            let body = match axum::body::to_bytes(body, RECEIVER_BODY_LIMIT).await {
                Ok(body) => body,
                Err(err) => {
                    let mut r = Response::new(Body::from(format!("{err}\n")));
                    *r.status_mut() = StatusCode::PAYLOAD_TOO_LARGE;
                    return r;
                }
            };
            let counters = &state.inner.stats.received;
            if let Some(r) = receiver::handle(kind, counters, &req.method, path, body) {
                return r;
            }
        }
    }
    if path == state.inner.telemetry_path {
        return metrics(&state, &req).await;
    }
    // exporter-toolkit 0.8 (node_exporter 1.5) registers its landing page on "/", which
    // net/http's ServeMux matches for every path; newer toolkits answer 404 elsewhere.
    if path == "/" || state.inner.compat.landing_page_everywhere() {
        let body = format!(
            "<html>\n<head><title>Fake Exporter</title></head>\n<body>\n<h1>Fake Exporter</h1>\n<p><a href=\"{0}\">Metrics</a></p>\n</body>\n</html>\n",
            state.inner.telemetry_path
        );
        let mut r = Response::new(Body::from(body));
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=UTF-8"),
        );
        return r;
    }
    let mut r = Response::new(Body::from("404 page not found\n"));
    *r.status_mut() = StatusCode::NOT_FOUND;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r.headers_mut().insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    r
}

async fn metrics(state: &AppState, req: &http::request::Parts) -> Response {
    let faults = &state.inner.faults;
    // Connection faults (reset, close-after-response), when the listener has any.
    let connection = req.extensions.get::<ConnectionSignal>().cloned();
    if let Some(connection) = &connection {
        connection.before_response().await;
    }
    if let Some(delay) = faults.delay {
        tokio::time::sleep(delay).await;
    }
    let scrape_no = state.inner.scrapes.fetch_add(1, Ordering::Relaxed);
    let mut response = if let Some(status) = faults.status {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut r = Response::new(Body::from(format!(
            "fake-exporter: fault injected, status {}\n",
            status.as_u16()
        )));
        *r.status_mut() = status;
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        r
    } else {
        metrics_body(state, req, scrape_no)
    };
    if let Some(connection) = &connection {
        connection.after_response(req.version, &mut response);
    }
    response
}

fn metrics_body(state: &AppState, req: &http::request::Parts, scrape_no: u64) -> Response {
    let faults = &state.inner.faults;
    let accept = req
        .headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok());
    let format = Format::negotiate(accept);
    let mut body = if faults.garbage_body {
        Bytes::from_static(b"this is { not a metric\n<html>\n")
    } else {
        state.inner.metrics.render(format, scrape_no)
    };
    if let Some(min) = faults.oversize_body_bytes {
        body = pad_body(body, min, format);
    }
    let gzip = accepts_gzip(
        req.headers
            .get_all(header::ACCEPT_ENCODING)
            .iter()
            .filter_map(|v| v.to_str().ok()),
    );
    if gzip {
        body = gzip_body(&body);
    }
    let mut r = match faults.slow_body_chunk_delay {
        Some(pause) => Response::new(slow_body(body, pause)),
        None => Response::new(Body::from(body)),
    };
    let h = r.headers_mut();
    match &faults.content_type {
        ContentTypeFault::Correct => {
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(format.content_type()),
            );
        }
        ContentTypeFault::Missing => {}
        ContentTypeFault::Wrong(v) => {
            if let Ok(v) = HeaderValue::from_str(v) {
                h.insert(header::CONTENT_TYPE, v);
            }
        }
    }
    if gzip {
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    r
}

/// Whether a request whose `Accept-Encoding` header values are `accept_encoding` gets a
/// gzip body from the metrics endpoint: any `gzip` coding (any case) not refused with
/// `q=0`. Public so that a server imitating fake-exporter's answers (the same-body floor of
/// `scrape-harness bench servers`) decides the same way.
pub fn accepts_gzip<'a>(accept_encoding: impl IntoIterator<Item = &'a str>) -> bool {
    accept_encoding
        .into_iter()
        .flat_map(|v| v.split(','))
        .any(|part| {
            let mut it = part.split(';');
            let coding = it.next().unwrap_or("").trim();
            let q_zero = it.any(|p| {
                let p = p.trim();
                p == "q=0" || p == "q=0.0" || p == "q=0.00" || p == "q=0.000"
            });
            coding.eq_ignore_ascii_case("gzip") && !q_zero
        })
}

/// A body compressed as the metrics endpoint compresses it (gzip, fast level): the same
/// input gives the same bytes.
pub fn gzip_body(body: &[u8]) -> Bytes {
    let mut enc = flate2::write::GzEncoder::new(
        Vec::with_capacity(body.len() / 4 + 64),
        flate2::Compression::fast(),
    );
    // Writing into a Vec cannot fail.
    let _ = enc.write_all(body);
    Bytes::from(enc.finish().unwrap_or_default())
}

/// Pads a metrics body with comment lines until it is at least `min` bytes. Comments keep
/// the body valid, so Prometheus rejects it for its size alone.
fn pad_body(body: Bytes, min: usize, format: Format) -> Bytes {
    if body.len() >= min {
        return body;
    }
    let line = b"# padding: fake-exporter oversize-body fault ...............................\n";
    let mut out = Vec::with_capacity(min + line.len());
    let (head, eof) = match format {
        Format::OpenMetrics => {
            let cut = body.len().saturating_sub(b"# EOF\n".len());
            (&body[..cut], &body[cut..])
        }
        Format::Text004 => (&body[..], &[][..]),
    };
    out.extend_from_slice(head);
    while out.len() + eof.len() < min {
        out.extend_from_slice(line);
    }
    out.extend_from_slice(eof);
    Bytes::from(out)
}

fn slow_body(body: Bytes, pause: Duration) -> Body {
    let chunks: Vec<Bytes> = body.chunks(1024).map(Bytes::copy_from_slice).collect();
    let stream = futures_util::stream::unfold(
        (chunks.into_iter(), true),
        move |(mut it, first)| async move {
            let chunk = it.next()?;
            if !first {
                tokio::time::sleep(pause).await;
            }
            Some((Ok::<_, Infallible>(chunk), (it, false)))
        },
    );
    Body::from_stream(stream)
}

#[cfg(test)]
mod tests;

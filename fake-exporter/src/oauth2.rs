//! A fake OAuth2 token endpoint (RFC 6749 `client_credentials` grant) and the store of the
//! tokens it issued, which an exporter can accept as Bearer tokens
//! ([`crate::ExporterBuilder::oauth2_tokens`]). A fake-exporter extension: exporter-toolkit
//! has no OAuth2 at all.
//!
//! What it imitates is what Prometheus' client (`golang.org/x/oauth2/clientcredentials`)
//! talks to: `POST <token_url>` with a form `grant_type=client_credentials` (plus `scope`
//! and any `endpoint_params`), the client credentials either in an `Authorization: Basic`
//! header (id and secret URL-encoded first) or as `client_id`/`client_secret` form fields.
//! Go's client auto-detects the style: it tries the header first and, when that fails, the
//! form fields, so a refused client costs two requests. Answers:
//!
//! | request | answer |
//! |---|---|
//! | right client, allowed scopes | 200 `{access_token, token_type: "Bearer", expires_in}` |
//! | unknown client or wrong secret | 401 `{"error":"invalid_client"}` + `WWW-Authenticate: Basic` |
//! | a scope outside `scopes` | 400 `{"error":"invalid_scope"}` |
//! | `grant_type` other than `client_credentials` | 400 `{"error":"unsupported_grant_type"}` |
//! | a required form field (Prometheus' `endpoint_params`) missing or different | 400 `{"error":"invalid_request"}` |
//! | not `POST` to the token path | 405 / 404 |
//!
//! Go treats a token as expired 10 s before its `expires_in` runs out (`expiryDelta`), so a
//! lifetime of 11 s makes Prometheus fetch a new token about every second: that is how a
//! short run sees "the token expired and was refreshed". `expires_in` can also be made to
//! lie (advertise longer than the real lifetime): the client then keeps a dead token and
//! scrapes get 401.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), fake_exporter::Error> {
//! use fake_exporter::{AuthOutcome, FakeExporter, TokenEndpoint};
//! let endpoint = TokenEndpoint::builder()
//!     .client("prometheus", "s3cret")
//!     .scopes(["metrics.read"])
//!     .start()
//!     .await?;
//! // The exporter accepts the endpoint's unexpired tokens as `Authorization: Bearer`.
//! let exporter = FakeExporter::builder().oauth2_tokens(endpoint.store()).start().await?;
//! // Prometheus: `oauth2: { client_id: prometheus, client_secret: s3cret, token_url: <this> }`
//! assert!(endpoint.token_url().ends_with("/token"));
//! let token = endpoint.store().issue(std::time::Duration::from_secs(60));
//! assert_eq!(endpoint.store().check(&token, std::time::SystemTime::now()), AuthOutcome::Ok);
//! # drop(exporter);
//! # Ok(()) }
//! ```

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use base64::Engine;
use hyper_util::rt::TokioIo;
use serde::Serialize;
use subtle::ConstantTimeEq;
use tower::ServiceExt;

use crate::accept::AcceptLoop;
use crate::auth::AuthOutcome;
use crate::web_config::{PemSource, WebConfig};
use crate::Error;

/// The path the endpoint answers on.
pub const TOKEN_PATH: &str = "/token";

/// Tokens issued by a [`TokenEndpoint`], each with its expiry; shared (cheap clone) between
/// the endpoint that issues them and the exporters that accept them.
#[derive(Clone, Debug, Default)]
pub struct TokenStore {
    issued: Arc<Mutex<HashMap<String, SystemTime>>>,
}

impl TokenStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Issues a new random token valid for `lifetime` from now.
    pub fn issue(&self, lifetime: Duration) -> String {
        let bytes: [u8; 24] = rand::random();
        let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
        let mut issued = self.lock();
        // Keep the store small over long runs: drop tokens expired for an hour.
        let now = SystemTime::now();
        issued.retain(|_, exp| {
            now.duration_since(*exp)
                .map_or(true, |d| d < Duration::from_secs(3600))
        });
        issued.insert(token.clone(), now + lifetime);
        token
    }

    /// Whether `token` was issued here and is still valid at `now`: `Ok`, `ExpiredToken`
    /// or `InvalidToken`.
    pub fn check(&self, token: &str, now: SystemTime) -> AuthOutcome {
        match self.lock().get(token) {
            Some(exp) if now < *exp => AuthOutcome::Ok,
            Some(_) => AuthOutcome::ExpiredToken,
            None => AuthOutcome::InvalidToken,
        }
    }

    /// How many tokens are held (valid or recently expired).
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no token was issued (or all were dropped).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, SystemTime>> {
        // A panic while holding this lock leaves a consistent map (single inserts/reads).
        self.issued.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Counters of a token endpoint.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct TokenStats {
    /// Requests to the token path (every method).
    pub requests: u64,
    /// Tokens issued (200).
    pub issued: u64,
    /// Refused clients: unknown id or wrong secret (401).
    pub invalid_client: u64,
    /// Refused scopes (400 `invalid_scope`).
    pub invalid_scope: u64,
    /// Other refused requests (wrong grant type, malformed form, wrong method).
    pub invalid_request: u64,
}

#[derive(Debug, Default)]
struct Counters {
    requests: AtomicU64,
    issued: AtomicU64,
    invalid_client: AtomicU64,
    invalid_scope: AtomicU64,
    invalid_request: AtomicU64,
}

impl Counters {
    fn snapshot(&self) -> TokenStats {
        let r = |c: &AtomicU64| c.load(Ordering::Relaxed);
        TokenStats {
            requests: r(&self.requests),
            issued: r(&self.issued),
            invalid_client: r(&self.invalid_client),
            invalid_scope: r(&self.invalid_scope),
            invalid_request: r(&self.invalid_request),
        }
    }
}

/// Entry point: `TokenEndpoint::builder().client("id", "secret").start().await`.
#[derive(Debug)]
pub struct TokenEndpoint;

impl TokenEndpoint {
    /// A builder: plain HTTP on 127.0.0.1, an ephemeral port, tokens valid for an hour.
    pub fn builder() -> TokenEndpointBuilder {
        TokenEndpointBuilder {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            clients: Vec::new(),
            scopes: None,
            lifetime: Duration::from_secs(3600),
            expires_in: None,
            tls: None,
            store: TokenStore::new(),
            required_params: Vec::new(),
        }
    }
}

/// Configures a token endpoint; `start()` binds and returns once it accepts connections.
#[derive(Debug)]
#[must_use = "a TokenEndpointBuilder does nothing until `.start().await`"]
pub struct TokenEndpointBuilder {
    listen: SocketAddr,
    clients: Vec<(String, String)>,
    scopes: Option<Vec<String>>,
    lifetime: Duration,
    expires_in: Option<u64>,
    tls: Option<(PemSource, PemSource)>,
    store: TokenStore,
    required_params: Vec<(String, String)>,
}

impl TokenEndpointBuilder {
    /// Require this form field with this value in every token request (what Prometheus
    /// sends from `oauth2.endpoint_params`, e.g. an `audience`); repeatable.
    pub fn require_param(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.required_params.push((name.into(), value.into()));
        self
    }

    /// Where to listen (default `127.0.0.1:0`).
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.listen = addr;
        self
    }

    /// A client allowed to get tokens (repeatable).
    pub fn client(mut self, id: impl Into<String>, secret: impl Into<String>) -> Self {
        self.clients.push((id.into(), secret.into()));
        self
    }

    /// The scopes a client may ask for; a request with any other is refused with
    /// `invalid_scope`. Default: any scope.
    pub fn scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes = Some(scopes.into_iter().map(Into::into).collect());
        self
    }

    /// How long an issued token is accepted (default 1 h).
    pub fn lifetime(mut self, lifetime: Duration) -> Self {
        self.lifetime = lifetime;
        self
    }

    /// The `expires_in` advertised, in seconds, when it should differ from the real
    /// lifetime (a lying endpoint: the client keeps a dead token).
    pub fn advertise_expires_in(mut self, seconds: u64) -> Self {
        self.expires_in = Some(seconds);
        self
    }

    /// Serve HTTPS with this certificate (chain) and key.
    pub fn tls(mut self, cert: PemSource, key: PemSource) -> Self {
        self.tls = Some((cert, key));
        self
    }

    /// Issue into this store (default: a new one), e.g. to share it with exporters.
    pub fn store(mut self, store: TokenStore) -> Self {
        self.store = store;
        self
    }

    /// Binds and starts serving.
    pub async fn start(self) -> Result<RunningTokenEndpoint, Error> {
        let tls = match &self.tls {
            None => None,
            Some((cert, key)) => {
                // The exporter's own TLS stack (same checks as exporter-toolkit), HTTP/1.1
                // only: Go's oauth2 client has no use for h2 on one token request.
                let config = WebConfig::builder()
                    .cert(cert.clone())
                    .key(key.clone())
                    .http2(false)
                    .build()?;
                crate::tls::server_config(&config)?.map(tokio_rustls::TlsAcceptor::from)
            }
        };
        let listener = crate::server::bind(self.listen)?;
        let addr = listener.local_addr().map_err(|source| Error::Bind {
            addr: self.listen,
            source,
        })?;
        let counters = Arc::new(Counters::default());
        let state = Arc::new(EndpointState {
            clients: self.clients,
            scopes: self.scopes,
            lifetime: self.lifetime,
            expires_in: self.expires_in,
            store: self.store.clone(),
            counters: counters.clone(),
            required_params: self.required_params,
        });
        let router = token_app(state);
        let is_tls = tls.is_some();
        let accept = AcceptLoop::spawn(listener, move |stream| {
            serve(stream, tls.clone(), router.clone())
        });
        Ok(RunningTokenEndpoint {
            addr,
            tls: is_tls,
            store: self.store,
            counters,
            _accept: accept,
        })
    }
}

/// Serves one connection (HTTP/1.1, over TLS when `tls`) until it closes.
async fn serve(
    stream: tokio::net::TcpStream,
    tls: Option<tokio_rustls::TlsAcceptor>,
    router: Router,
) {
    let service = hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
        router.clone().oneshot(req.map(axum::body::Body::new))
    });
    let http = hyper::server::conn::http1::Builder::new();
    match tls {
        None => {
            let _ = http.serve_connection(TokioIo::new(stream), service).await;
        }
        Some(acceptor) => {
            // A client that does not trust the certificate aborts the handshake: nothing to
            // serve (Prometheus reports it; the endpoint has no counter for it).
            let Ok(tls_stream) = acceptor.accept(stream).await else {
                return;
            };
            let _ = http
                .serve_connection(TokioIo::new(tls_stream), service)
                .await;
        }
    }
}

/// A running token endpoint. Dropping it stops the listener and every connection.
#[derive(Debug)]
#[must_use = "dropping a RunningTokenEndpoint shuts it down"]
pub struct RunningTokenEndpoint {
    addr: SocketAddr,
    tls: bool,
    store: TokenStore,
    counters: Arc<Counters>,
    /// Dropping it stops the listener and every connection.
    _accept: AcceptLoop,
}

impl RunningTokenEndpoint {
    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The `token_url` to configure: `http(s)://ADDR/token`.
    pub fn token_url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}{TOKEN_PATH}", self.addr)
    }

    /// The tokens it issued (give it to exporters through
    /// [`crate::ExporterBuilder::oauth2_tokens`]).
    pub fn store(&self) -> TokenStore {
        self.store.clone()
    }

    /// Its counters now.
    pub fn stats(&self) -> TokenStats {
        self.counters.snapshot()
    }
}

#[derive(Debug)]
struct EndpointState {
    clients: Vec<(String, String)>,
    scopes: Option<Vec<String>>,
    lifetime: Duration,
    expires_in: Option<u64>,
    store: TokenStore,
    counters: Arc<Counters>,
    required_params: Vec<(String, String)>,
}

/// The token endpoint's router (testable without sockets).
fn token_app(state: Arc<EndpointState>) -> Router {
    Router::new().fallback(token).with_state(state)
}

#[derive(Serialize)]
struct TokenResponse {
    access_token: String,
    token_type: &'static str,
    expires_in: u64,
}

async fn token(
    State(state): State<Arc<EndpointState>>,
    method: Method,
    uri: http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let c = &state.counters;
    if uri.path() != TOKEN_PATH {
        return StatusCode::NOT_FOUND.into_response();
    }
    c.requests.fetch_add(1, Ordering::Relaxed);
    if method != Method::POST {
        c.invalid_request.fetch_add(1, Ordering::Relaxed);
        return StatusCode::METHOD_NOT_ALLOWED.into_response();
    }
    let form: HashMap<String, String> = form_urlencoded::parse(&body).into_owned().collect();
    let (id, secret) = match headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(basic_client)
    {
        Some(pair) => pair,
        None => (
            form.get("client_id").cloned().unwrap_or_default(),
            form.get("client_secret").cloned().unwrap_or_default(),
        ),
    };
    // Every client is compared (no early exit).
    let mut known = subtle::Choice::from(0);
    for (cid, csecret) in &state.clients {
        known |= cid.as_bytes().ct_eq(id.as_bytes()) & csecret.as_bytes().ct_eq(secret.as_bytes());
    }
    if !bool::from(known) {
        c.invalid_client.fetch_add(1, Ordering::Relaxed);
        let mut r = oauth_error(StatusCode::UNAUTHORIZED, "invalid_client");
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"token\""),
        );
        return r;
    }
    if form.get("grant_type").map(String::as_str) != Some("client_credentials") {
        c.invalid_request.fetch_add(1, Ordering::Relaxed);
        return oauth_error(StatusCode::BAD_REQUEST, "unsupported_grant_type");
    }
    let missing = state
        .required_params
        .iter()
        .any(|(k, v)| form.get(k) != Some(v));
    if missing {
        c.invalid_request.fetch_add(1, Ordering::Relaxed);
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_request");
    }
    if let Some(allowed) = &state.scopes {
        let asked = form.get("scope").map(String::as_str).unwrap_or_default();
        if asked
            .split(' ')
            .filter(|s| !s.is_empty())
            .any(|s| !allowed.iter().any(|a| a == s))
        {
            c.invalid_scope.fetch_add(1, Ordering::Relaxed);
            return oauth_error(StatusCode::BAD_REQUEST, "invalid_scope");
        }
    }
    c.issued.fetch_add(1, Ordering::Relaxed);
    let access_token = state.store.issue(state.lifetime);
    let expires_in = state
        .expires_in
        .unwrap_or_else(|| state.lifetime.as_secs().max(1));
    Json(TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in,
    })
    .into_response()
}

/// RFC 6749 §5.2 error body.
fn oauth_error(status: StatusCode, error: &'static str) -> Response {
    #[derive(Serialize)]
    struct Body {
        error: &'static str,
    }
    (status, Json(Body { error })).into_response()
}

/// Client id and secret from `Authorization: Basic`, each URL-decoded (RFC 6749 §2.3.1,
/// which Go's client follows: it `url.QueryEscape`s both before encoding).
fn basic_client(header: &str) -> Option<(String, String)> {
    let creds = crate::auth::parse_basic(header)?;
    let decode = |s: &str| -> String {
        // form_urlencoded decodes `%XX` and `+` as QueryEscape wrote them; `&` and `=` are
        // always escaped there, so the whole value is one key.
        form_urlencoded::parse(s.as_bytes())
            .next()
            .map(|(k, _)| k.into_owned())
            .unwrap_or_default()
    };
    Some((decode(&creds.user), decode(&creds.password)))
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use http_body_util::BodyExt;

    use super::*;

    fn endpoint(lifetime: Duration) -> (Arc<EndpointState>, Router) {
        let state = Arc::new(EndpointState {
            clients: vec![("prom etheus".into(), "s3cret&=".into())],
            scopes: Some(vec!["metrics.read".into()]),
            lifetime,
            expires_in: None,
            store: TokenStore::new(),
            counters: Arc::default(),
            required_params: vec![("audience".into(), "metrics".into())],
        });
        (state.clone(), token_app(state))
    }

    fn post(form: &str, auth: Option<&str>) -> http::Request<Body> {
        let mut r = http::Request::post(TOKEN_PATH)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        if let Some(a) = auth {
            r = r.header(header::AUTHORIZATION, a);
        }
        r.body(Body::from(form.to_owned())).expect("request")
    }

    /// What Go's client sends in the header style: id and secret QueryEscape'd, then Basic.
    fn go_basic(id: &str, secret: &str) -> String {
        let esc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        crate::auth::basic_header(&esc(id), &esc(secret))
    }

    async fn json(r: Response) -> (StatusCode, serde_json::Value) {
        let status = r.status();
        let body = r.into_body().collect().await.expect("body").to_bytes();
        (status, serde_json::from_slice(&body).expect("json"))
    }

    #[tokio::test]
    async fn header_style_client_gets_a_bearer_token_the_store_accepts_until_it_expires() {
        // Arrange
        let (state, app) = endpoint(Duration::from_secs(60));
        let auth = go_basic("prom etheus", "s3cret&=");
        // Act
        let r = app
            .oneshot(post(
                "grant_type=client_credentials&audience=metrics&scope=metrics.read",
                Some(&auth),
            ))
            .await
            .expect("response");
        // Assert
        let (status, body) = json(r).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["token_type"], "Bearer");
        assert_eq!(body["expires_in"], 60);
        let token = body["access_token"].as_str().expect("access_token");
        let now = SystemTime::now();
        assert_eq!(state.store.check(token, now), AuthOutcome::Ok);
        assert_eq!(
            state.store.check(token, now + Duration::from_secs(61)),
            AuthOutcome::ExpiredToken
        );
        assert_eq!(state.store.check("forged", now), AuthOutcome::InvalidToken);
        assert_eq!(state.counters.snapshot().issued, 1);
    }

    #[tokio::test]
    async fn params_style_client_is_accepted_too() {
        let (state, app) = endpoint(Duration::from_secs(60));
        let form = "grant_type=client_credentials&audience=metrics&client_id=prom+etheus&client_secret=s3cret%26%3D";
        let (status, body) = json(app.oneshot(post(form, None)).await.expect("response")).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(state.counters.snapshot().issued, 1);
    }

    #[tokio::test]
    async fn wrong_secret_is_401_invalid_client_with_a_basic_challenge() {
        let (state, app) = endpoint(Duration::from_secs(60));
        let auth = go_basic("prom etheus", "guess");
        let r = app
            .oneshot(post("grant_type=client_credentials", Some(&auth)))
            .await
            .expect("response");
        assert_eq!(
            r.headers()[header::WWW_AUTHENTICATE],
            "Basic realm=\"token\""
        );
        let (status, body) = json(r).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(body["error"], "invalid_client");
        let stats = state.counters.snapshot();
        assert_eq!(
            (stats.requests, stats.issued, stats.invalid_client),
            (1, 0, 1)
        );
        assert!(state.store.is_empty());
    }

    #[tokio::test]
    async fn a_scope_outside_the_allowed_ones_is_400_invalid_scope() {
        let (state, app) = endpoint(Duration::from_secs(60));
        let auth = go_basic("prom etheus", "s3cret&=");
        let form = "grant_type=client_credentials&audience=metrics&scope=metrics.read+admin";
        let (status, body) = json(
            app.oneshot(post(form, Some(&auth)))
                .await
                .expect("response"),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["error"], "invalid_scope");
        assert_eq!(state.counters.snapshot().invalid_scope, 1);
    }

    #[tokio::test]
    async fn another_grant_type_is_400_unsupported_grant_type() {
        let (_, app) = endpoint(Duration::from_secs(60));
        let auth = go_basic("prom etheus", "s3cret&=");
        let (status, body) = json(
            app.oneshot(post("grant_type=password&audience=metrics", Some(&auth)))
                .await
                .expect("response"),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["error"], "unsupported_grant_type");
    }

    #[tokio::test]
    async fn a_missing_or_different_endpoint_param_is_400_invalid_request() {
        let (state, app) = endpoint(Duration::from_secs(60));
        let auth = go_basic("prom etheus", "s3cret&=");
        for form in [
            "grant_type=client_credentials",
            "grant_type=client_credentials&audience=other",
        ] {
            let (status, body) = json(
                app.clone()
                    .oneshot(post(form, Some(&auth)))
                    .await
                    .expect("response"),
            )
            .await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{form}");
            assert_eq!(body["error"], "invalid_request", "{form}");
        }
        assert_eq!(state.counters.snapshot().invalid_request, 2);
    }

    #[tokio::test]
    async fn a_running_endpoint_issues_over_the_network_and_counts(
    ) -> Result<(), Box<dyn std::error::Error>> {
        let endpoint = TokenEndpoint::builder()
            .client("c", "s")
            .lifetime(Duration::from_secs(11))
            .start()
            .await?;
        assert!(endpoint.token_url().starts_with("http://127.0.0.1:"));
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()?;
        let r = client
            .post(endpoint.token_url())
            .basic_auth("c", Some("s"))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body("grant_type=client_credentials")
            .send()
            .await?;
        assert_eq!(r.status(), StatusCode::OK);
        let body: serde_json::Value = r.json().await?;
        assert_eq!(body["expires_in"], 11);
        let token = body["access_token"].as_str().unwrap_or_default();
        assert_eq!(
            endpoint.store().check(token, SystemTime::now()),
            AuthOutcome::Ok
        );
        assert_eq!(endpoint.stats().issued, 1);
        Ok(())
    }

    #[tokio::test]
    async fn an_exporter_accepts_only_unexpired_tokens_of_its_store(
    ) -> Result<(), Box<dyn std::error::Error>> {
        // Arrange
        let endpoint = TokenEndpoint::builder().client("c", "s").start().await?;
        let exporter = crate::FakeExporter::builder()
            .oauth2_tokens(endpoint.store())
            .start()
            .await?;
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()?;
        let body: serde_json::Value = client
            .post(endpoint.token_url())
            .body("grant_type=client_credentials&client_id=c&client_secret=s")
            .send()
            .await?
            .json()
            .await?;
        let token = body["access_token"].as_str().unwrap_or_default().to_owned();
        let expired = endpoint.store().issue(Duration::ZERO);
        let scrape = |bearer: Option<String>| {
            let mut r = client.get(exporter.url("/metrics"));
            if let Some(t) = bearer {
                r = r.bearer_auth(t);
            }
            r.send()
        };
        // Act
        let good = scrape(Some(token)).await?;
        let stale = scrape(Some(expired)).await?;
        let forged = scrape(Some("forged".into())).await?;
        let none = scrape(None).await?;
        // Assert
        assert_eq!(good.status(), StatusCode::OK);
        assert_eq!(stale.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            stale.headers()[header::WWW_AUTHENTICATE],
            "Bearer error=\"invalid_token\", error_description=\"The access token expired\""
        );
        assert_eq!(forged.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(none.status(), StatusCode::UNAUTHORIZED);
        Ok(())
    }
}

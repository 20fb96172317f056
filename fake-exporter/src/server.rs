//! Listeners: bind, accept, TLS (per-connection config, like exporter-toolkit), HTTP/1.1
//! and HTTP/2, faults that act on the connection, and the RAII handle that stops it all.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), fake_exporter::Error> {
//! use fake_exporter::FakeExporter;
//! let exporter = FakeExporter::builder().start().await?; // listening when this returns
//! assert_eq!(exporter.url("/metrics"), format!("http://{}/metrics", exporter.addr()));
//! let stats = exporter.shutdown().await;                 // or just drop it
//! assert_eq!(stats.requests_total(), 0);
//! # Ok(()) }
//! ```

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tower::ServiceExt;

use crate::auth::AuthOutcome;
use crate::compat::Compat;
use crate::config_source::ConfigSource;
use crate::defence::{self, ConnState, ConnTable, Defences, HeadWatch};
use crate::faults::{ConnAction, ConnectionFaults, ConnectionSignal, FaultSpec, Mutant};
use crate::http::{app, AppState, RateLimiter};
use crate::metrics::{Metrics, MetricsSpec};
use crate::observe::{
    certificate_serial, ConnectionInfo, ConnectionTag, Observation, ObservationLog,
};
use crate::receiver::Receiver;
use crate::stats::{ListenerHandle, Stats, StatsSnapshot, TlsSessionInfo};
use crate::tls::{self, HandshakePlan};
use crate::web_config::{ClientAuthType, PemSource, TlsServerConfig, WebConfig};
use crate::Error;

/// What Go's `net/http` answers when plain HTTP reaches a TLS listener.
pub(crate) const HTTP_TO_HTTPS_RESPONSE: &[u8] =
    b"HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n";

/// Entry point: `FakeExporter::builder()...start().await`.
#[derive(Debug)]
pub struct FakeExporter;

impl FakeExporter {
    /// A builder for one exporter (one or more listeners sharing a config).
    pub fn builder() -> ExporterBuilder {
        ExporterBuilder::default()
    }

    /// A plain exporter on 127.0.0.1 with an ephemeral port and default metrics.
    pub async fn start() -> Result<RunningExporter, Error> {
        Self::builder().start().await
    }
}

/// Configures an exporter; `start()` binds and returns once it accepts connections.
///
/// The web config comes from a file ([`ExporterBuilder::web_config_file`], re-read like
/// exporter-toolkit does), or is held in memory: a [`WebConfig`]
/// ([`ExporterBuilder::web_config`]) and/or the typed setters ([`ExporterBuilder::tls`],
/// [`ExporterBuilder::basic_auth`], ...), which apply on top of it. A file cannot be
/// combined with typed setters.
#[derive(Debug, Default)]
#[must_use = "an ExporterBuilder does nothing until `.start().await`"]
pub struct ExporterBuilder {
    listen: Vec<SocketAddr>,
    config: Option<ConfigChoice>,
    typed: TypedSettings,
    metrics: MetricsSpec,
    /// Built metrics shared with other exporters (wins over `metrics`).
    shared_metrics: Option<Arc<Metrics>>,
    faults: FaultSpec,
    mutants: Vec<Mutant>,
    telemetry_path: Option<String>,
    /// Capacity of the observation log; `None`: no log.
    observe: Option<usize>,
    receiver: Option<Receiver>,
    /// Tokens of a fake OAuth2 token endpoint, accepted as Bearer tokens.
    oauth2_tokens: Option<crate::oauth2::TokenStore>,
    compat: Compat,
    defences: Defences,
}

#[derive(Debug)]
enum ConfigChoice {
    File(PathBuf),
    Static(WebConfig),
}

/// The bcrypt cost [`ExporterBuilder::basic_auth`] hashes with unless told otherwise (the
/// cost of exporter-toolkit's dummy hash, so unknown users cannot be told apart by timing).
pub const DEFAULT_BCRYPT_COST: u32 = 10;

/// What the typed setters asked for, applied to the in-memory config at start.
#[derive(Debug, Default)]
struct TypedSettings {
    /// The first setter used, for the error when a config file is used too.
    first: Option<&'static str>,
    cert: Option<PemSource>,
    key: Option<PemSource>,
    client_ca: Option<PemSource>,
    client_auth: Option<ClientAuthType>,
    basic_auth: Vec<(String, Password)>,
    bcrypt_cost: Option<u32>,
    bearer_tokens: Vec<String>,
}

/// A plain-text password, kept out of `Debug` output.
struct Password(String);

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

impl TypedSettings {
    fn used(&mut self, setter: &'static str) -> &mut Self {
        self.first.get_or_insert(setter);
        self
    }

    /// Applies the settings to `config` (hashing passwords off the executor).
    async fn apply(self, mut config: WebConfig) -> Result<WebConfig, Error> {
        let tls_set = self.cert.is_some()
            || self.key.is_some()
            || self.client_ca.is_some()
            || self.client_auth.is_some();
        if tls_set {
            let tls = config
                .tls_server_config
                .get_or_insert_with(|| TlsServerConfig::new(config.path.clone()));
            tls.cert = self.cert.or(tls.cert.take());
            tls.key = self.key.or(tls.key.take());
            tls.client_ca = self.client_ca.or(tls.client_ca.take());
            if let Some(policy) = self.client_auth {
                tls.client_auth_type = policy.into();
            }
        }
        let cost = self.bcrypt_cost.unwrap_or(DEFAULT_BCRYPT_COST);
        for (user, Password(password)) in self.basic_auth {
            let hash = crate::auth::hash_password(&password, cost)
                .await
                .map_err(|source| Error::HashPassword {
                    user: user.clone(),
                    cost,
                    source,
                })?;
            config.basic_auth_users.insert(user, hash);
        }
        if !self.bearer_tokens.is_empty() {
            let bearer = config
                .fake_exporter
                .bearer_auth
                .get_or_insert_with(Default::default);
            bearer.tokens.extend(self.bearer_tokens);
        }
        Ok(config)
    }
}

impl ExporterBuilder {
    /// Adds a listen address (repeatable, like `--web.listen-address`). Default
    /// `127.0.0.1:0`.
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.listen.push(addr);
        self
    }

    /// Uses a `web-config.yml`, re-read on every request and connection.
    pub fn web_config_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.config = Some(ConfigChoice::File(path.into()));
        self
    }

    /// Uses an in-memory config (never re-read). The typed setters apply on top of it.
    pub fn web_config(mut self, config: WebConfig) -> Self {
        self.config = Some(ConfigChoice::Static(config));
        self
    }

    /// Serves TLS with this identity's certificate chain and key, held in memory (the
    /// `cert` and `key` keys).
    #[cfg(feature = "pki")]
    pub fn tls(mut self, identity: &crate::pki::Identity) -> Self {
        let typed = self.typed.used(".tls(..)");
        typed.cert = Some(PemSource::inline(identity.cert_chain_pem.clone()));
        typed.key = Some(PemSource::inline(identity.key_pem.clone()));
        self
    }

    /// Serves TLS with a certificate chain and key read from files on every new connection
    /// (the `cert_file` and `key_file` keys): replacing the files rotates the certificate
    /// without a restart.
    pub fn tls_files(mut self, cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Self {
        let typed = self.typed.used(".tls_files(..)");
        typed.cert = Some(PemSource::File(cert.into()));
        typed.key = Some(PemSource::File(key.into()));
        self
    }

    /// The CAs client certificates are verified against: a file (`client_ca_file`, e.g. a
    /// `PathBuf`) or PEM text ([`PemSource::inline`]). As in exporter-toolkit, a client CA
    /// needs a [`ExporterBuilder::client_auth`] policy other than `NoClientCert`.
    pub fn client_ca(mut self, ca: impl Into<PemSource>) -> Self {
        self.typed.used(".client_ca(..)").client_ca = Some(ca.into());
        self
    }

    /// The client-certificate policy (`client_auth_type`).
    pub fn client_auth(mut self, policy: ClientAuthType) -> Self {
        self.typed.used(".client_auth(..)").client_auth = Some(policy);
        self
    }

    /// Requires Basic auth and adds this user (repeatable). The password is hashed with
    /// bcrypt at [`ExporterBuilder::bcrypt_cost`] when the exporter starts, off the async
    /// executor.
    pub fn basic_auth(mut self, user: impl Into<String>, password: impl Into<String>) -> Self {
        let typed = self.typed.used(".basic_auth(..)");
        typed
            .basic_auth
            .push((user.into(), Password(password.into())));
        self
    }

    /// The bcrypt cost for [`ExporterBuilder::basic_auth`] passwords; default
    /// [`DEFAULT_BCRYPT_COST`]. A lower cost makes tests faster but lets unknown users be
    /// told apart by timing.
    pub fn bcrypt_cost(mut self, cost: u32) -> Self {
        self.typed.bcrypt_cost = Some(cost);
        self
    }

    /// Accepts this Bearer token (repeatable) — a fake-exporter extension
    /// (`fake_exporter.bearer_auth.tokens`), not exporter-toolkit.
    pub fn bearer(mut self, token: impl Into<String>) -> Self {
        self.typed
            .used(".bearer(..)")
            .bearer_tokens
            .push(token.into());
        self
    }

    /// What `/metrics` serves.
    pub fn metrics(mut self, spec: MetricsSpec) -> Self {
        self.metrics = spec;
        self
    }

    /// Serves these already built metrics, shared with other exporters: a matrix of a
    /// thousand exporters with the same spec builds its families once instead of a
    /// thousand times. Overrides [`ExporterBuilder::metrics`].
    pub fn shared_metrics(mut self, metrics: Arc<Metrics>) -> Self {
        self.shared_metrics = Some(metrics);
        self
    }

    /// Deliberate misbehaviour of the metrics endpoint.
    pub fn faults(mut self, faults: FaultSpec) -> Self {
        self.faults = faults;
        self
    }

    /// Deliberate security weaknesses, for testing conformance suites only.
    pub fn mutants(mut self, mutants: Vec<Mutant>) -> Self {
        self.mutants = mutants;
        self
    }

    /// Makes the exporter a receiver of what Prometheus sends too: alerts
    /// (`POST /api/v2/alerts`) or remote write (a `POST` of a snappy `WriteRequest`),
    /// behind the same TLS and auth; [`StatsSnapshot::received`] counts what arrived.
    pub fn receiver(mut self, receiver: Receiver) -> Self {
        self.receiver = Some(receiver);
        self
    }

    /// Which exporter to imitate where versions differ (`--compat`): TLS alerts for a
    /// refused client certificate, the landing page. Default [`Compat::Current`].
    pub fn compat(mut self, compat: Compat) -> Self {
        self.compat = compat;
        self
    }

    /// The metrics path (`--web.telemetry-path`), default `/metrics`.
    pub fn telemetry_path(mut self, path: impl Into<String>) -> Self {
        self.telemetry_path = Some(path.into());
        self
    }

    /// Records what each request showed (connection, certificate serials, credential
    /// fingerprint) in a ring buffer of the last `capacity` requests, read with
    /// [`RunningExporter::observations`]. Off by default: it costs a lock per request.
    pub fn observe(mut self, capacity: usize) -> Self {
        self.observe = Some(capacity);
        self
    }

    /// Also accept, as `Authorization: Bearer`, the unexpired tokens a fake OAuth2 token
    /// endpoint issued into `store` (fake-exporter extension; see [`crate::TokenEndpoint`]).
    /// Works with a web config file too: the store is not part of the file.
    pub fn oauth2_tokens(mut self, store: crate::oauth2::TokenStore) -> Self {
        self.oauth2_tokens = Some(store);
        self
    }

    /// Closes a TLS connection whose handshake (from accept: first bytes, ClientHello, the
    /// whole exchange) is not done after `timeout`; default
    /// [`crate::DEFAULT_HANDSHAKE_TIMEOUT`]. exporter-toolkit has no such deadline.
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.defences.handshake_timeout = timeout;
        self
    }

    /// Closes a connection whose request head is not complete `timeout` after it started:
    /// the first head from when the connection is ready for HTTP (accepted or handshaken;
    /// for HTTP/2 the preface and first HEADERS), a later HTTP/1 head from its first byte
    /// (an idle keep-alive connection is never closed). Default
    /// [`crate::DEFAULT_HEAD_TIMEOUT`]. exporter-toolkit has no such deadline.
    pub fn head_timeout(mut self, timeout: Duration) -> Self {
        self.defences.head_timeout = timeout;
        self
    }

    /// Caps the open connections of all this exporter's listeners together; default: the
    /// soft `RLIMIT_NOFILE` minus the listeners minus [`crate::CONNECTION_FD_RESERVE`]. At
    /// the cap a new connection gets in by shedding the oldest idle unauthenticated one (an
    /// authenticated one only when no other is idle).
    pub fn max_connections(mut self, cap: u64) -> Self {
        self.defences.max_connections = Some(cap);
        self
    }

    /// Checks the config like exporter-toolkit does at start, binds every address, and
    /// returns once they all accept connections.
    pub async fn start(self) -> Result<RunningExporter, Error> {
        let source = match (self.config, self.typed.first) {
            // OAuth2 tokens are checked where the web config's credentials are: an empty
            // config, so that the check runs.
            (None, None) if self.oauth2_tokens.is_some() => {
                ConfigSource::Static(Arc::new(WebConfig::builder().build()?))
            }
            (None, None) => ConfigSource::None,
            (Some(ConfigChoice::File(path)), None) => ConfigSource::file(path),
            (Some(ConfigChoice::File(path)), Some(setting)) => {
                return Err(Error::FileAndTypedConfig { path, setting });
            }
            (Some(ConfigChoice::Static(config)), _) => {
                ConfigSource::Static(Arc::new(self.typed.apply(config).await?))
            }
            (None, Some(_)) => {
                let config = self.typed.apply(WebConfig::builder().build()?).await?;
                ConfigSource::Static(Arc::new(config))
            }
        };
        let mut prepared = PreparedListener::prepare(
            Arc::new(source),
            self.shared_metrics
                .unwrap_or_else(|| Arc::new(Metrics::new(self.metrics))),
            self.faults,
            self.mutants,
            self.telemetry_path.unwrap_or_else(|| "/metrics".to_owned()),
        )?
        .with_compat(self.compat);
        prepared.receiver = self.receiver;
        prepared.oauth2_tokens = self.oauth2_tokens;
        let addrs = if self.listen.is_empty() {
            vec![SocketAddr::from(([127, 0, 0, 1], 0))]
        } else {
            self.listen
        };
        let (stop_tx, stop_rx) = watch::channel(());
        let (close_tx, close_rx) = watch::channel(0u64);
        let observations = self.observe.map(ObservationLog::new);
        let conns = ConnTable::new(self.defences, addrs.len() as u64);
        let mut tasks = JoinSet::new();
        let mut listeners = Vec::with_capacity(addrs.len());
        let mut states = Vec::with_capacity(addrs.len());
        for addr in addrs {
            let listener = bind(addr)?;
            let local = listener
                .local_addr()
                .map_err(|e| Error::Bind { addr, source: e })?;
            let stats = Arc::new(Stats::default());
            let ctx = prepared.listener_context_with(
                stats.clone(),
                conns.clone(),
                ConnectionExtras {
                    observations: observations.clone(),
                    close: Some(close_rx.clone()),
                },
            );
            states.push(ctx.state.clone());
            tasks.spawn(accept_loop(listener, ctx, stop_rx.clone()));
            listeners.push(ListenerHandle { addr: local, stats });
        }
        Ok(RunningExporter {
            listeners,
            states,
            tls: prepared.tls,
            warnings: prepared.warnings,
            max_connections: conns.cap(),
            stop: Some(stop_tx),
            control: ExporterControl {
                close: Arc::new(close_tx),
                observations,
            },
            tasks,
        })
    }
}

/// Binds with SO_REUSEADDR and a large backlog.
pub(crate) fn bind(addr: SocketAddr) -> Result<TcpListener, Error> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()
    } else {
        TcpSocket::new_v6()
    }
    .map_err(|e| Error::Bind { addr, source: e })?;
    socket
        .set_reuseaddr(true)
        .map_err(|e| Error::Bind { addr, source: e })?;
    socket
        .bind(addr)
        .map_err(|e| Error::Bind { addr, source: e })?;
    socket
        .listen(1024)
        .map_err(|e| Error::Bind { addr, source: e })
}

/// A checked config, ready to serve any number of listeners (the fleet shares one per mode).
#[derive(Debug, Clone)]
pub(crate) struct PreparedListener {
    source: Arc<ConfigSource>,
    metrics: Arc<Metrics>,
    /// Response faults, applied by the metrics handler.
    faults: FaultSpec,
    /// Connection faults, carried out by the connection tasks.
    connection_faults: ConnectionFaults,
    telemetry_path: String,
    tls: bool,
    http2: bool,
    rate_limit: Option<(Duration, u32)>,
    mutants: Vec<Mutant>,
    /// The client-certificate weaknesses the mutants ask for (and the alert profile).
    insecure: tls::InsecureTls,
    compat: Compat,
    pub(crate) warnings: Vec<String>,
    /// Receiver mode (alerts, remote write), none by default.
    pub(crate) receiver: Option<Receiver>,
    /// Tokens of a fake OAuth2 token endpoint, accepted as Bearer tokens.
    oauth2_tokens: Option<crate::oauth2::TokenStore>,
}

impl PreparedListener {
    /// exporter-toolkit's start-up checks: the config must parse, user hashes must be
    /// valid, and a TLS config must build. Returns loud warnings for configs that start but
    /// can never work.
    pub(crate) fn prepare(
        source: Arc<ConfigSource>,
        metrics: Arc<Metrics>,
        faults: FaultSpec,
        mutants: Vec<Mutant>,
        telemetry_path: String,
    ) -> Result<Self, Error> {
        for m in &mutants {
            tracing::warn!("mutant `{m}` is active: this exporter is deliberately insecure");
        }
        let config = source.current().map_err(Error::WebConfigReread)?;
        let mut warnings = Vec::new();
        let (mut tls, mut http2, mut rate_limit) = (false, true, None);
        if let Some(config) = &config {
            warnings = config.check_at_start()?;
            tls = config.tls_server_config.is_some();
            http2 = config.http_server_config.http2;
            rate_limit = config
                .rate_limit
                .as_ref()
                .filter(|r| !r.interval.is_zero())
                .map(|r| (r.interval, r.burst));
        }
        for w in &warnings {
            tracing::warn!("{w}");
        }
        let insecure = tls::InsecureTls {
            skip_client_chain_verification: mutants
                .contains(&Mutant::InsecureSkipClientChainVerification),
            ignore_client_cert_expiry: mutants.contains(&Mutant::InsecureIgnoreClientCertExpiry),
            ignore_client_allowed_sans: mutants.contains(&Mutant::InsecureIgnoreClientAllowedSans),
            alerts: Compat::default().alerts(),
        };
        Ok(Self {
            source,
            metrics,
            connection_faults: ConnectionFaults::of(&faults),
            faults,
            telemetry_path,
            tls,
            http2,
            rate_limit,
            mutants,
            insecure,
            compat: Compat::default(),
            warnings,
            receiver: None,
            oauth2_tokens: None,
        })
    }

    /// Imitates `compat` where exporter versions differ.
    pub(crate) fn with_compat(mut self, compat: Compat) -> Self {
        self.compat = compat;
        self.insecure.alerts = compat.alerts();
        self
    }

    pub(crate) fn listener_context(
        &self,
        stats: Arc<Stats>,
        conns: Arc<ConnTable>,
    ) -> Arc<ListenerContext> {
        self.listener_context_with(stats, conns, ConnectionExtras::default())
    }

    /// [`Self::listener_context`] with an observation log and a close-connections signal.
    pub(crate) fn listener_context_with(
        &self,
        stats: Arc<Stats>,
        conns: Arc<ConnTable>,
        extras: ConnectionExtras,
    ) -> Arc<ListenerContext> {
        let limiter = self
            .rate_limit
            .map(|(interval, burst)| RateLimiter::new(interval, burst));
        let state = AppState::new(
            self.source.clone(),
            self.metrics.clone(),
            self.faults.clone(),
            self.mutants.clone(),
            self.telemetry_path.clone(),
            stats.clone(),
            limiter,
            self.oauth2_tokens.clone(),
        )
        .with_receiver(self.receiver)
        .with_compat(self.compat);
        Arc::new(ListenerContext {
            router: app(state.clone()),
            state,
            source: self.source.clone(),
            stats,
            tls: self.tls,
            http2: self.http2,
            connection_faults: self.connection_faults,
            tls_plans: tls::PlanCache::default(),
            insecure: self.insecure,
            conns,
            extras,
        })
    }

    pub(crate) fn is_tls(&self) -> bool {
        self.tls
    }
}

/// What the accept loop of one listener needs.
#[derive(Debug)]
pub(crate) struct ListenerContext {
    router: axum::Router,
    state: AppState,
    source: Arc<ConfigSource>,
    stats: Arc<Stats>,
    tls: bool,
    http2: bool,
    connection_faults: ConnectionFaults,
    insecure: tls::InsecureTls,
    tls_plans: tls::PlanCache,
    /// The connection cap and deadlines, shared by every listener of the exporter or fleet.
    conns: Arc<ConnTable>,
    extras: ConnectionExtras,
}

/// Optional per-connection machinery of a single exporter (not used by fleets).
#[derive(Debug, Default, Clone)]
pub(crate) struct ConnectionExtras {
    /// Where requests are recorded, when observing.
    observations: Option<Arc<ObservationLog>>,
    /// Bumped by [`RunningExporter::close_connections`].
    close: Option<watch::Receiver<u64>>,
}

/// A running exporter. Dropping it stops every listener and open connection.
#[derive(Debug)]
#[must_use = "dropping a RunningExporter shuts its listeners down"]
pub struct RunningExporter {
    listeners: Vec<ListenerHandle>,
    states: Vec<AppState>,
    tls: bool,
    warnings: Vec<String>,
    max_connections: u64,
    stop: Option<watch::Sender<()>>,
    control: ExporterControl,
    tasks: JoinSet<()>,
}

/// A cheap, cloneable handle on a running exporter's connection controls and observation
/// log, e.g. for a control endpoint ([`crate::observation_app`]). It does not keep the
/// exporter running.
#[derive(Clone, Debug)]
pub struct ExporterControl {
    close: Arc<watch::Sender<u64>>,
    observations: Option<Arc<ObservationLog>>,
}

impl ExporterControl {
    /// See [`RunningExporter::close_connections`].
    pub fn close_connections(&self) {
        self.close.send_modify(|generation| *generation += 1);
    }

    /// See [`RunningExporter::observations`].
    pub fn observations(&self) -> Vec<Observation> {
        self.observations
            .as_ref()
            .map(|log| log.snapshot())
            .unwrap_or_default()
    }

    /// Whether the exporter records observations.
    pub fn observing(&self) -> bool {
        self.observations.is_some()
    }
}

impl RunningExporter {
    /// Closes every open connection gracefully, like a restart would but without one: an
    /// HTTP/1.1 connection closes once its request in flight (if any) is answered, an HTTP/2
    /// connection gets a GOAWAY. The client's next request needs a new connection (and a new
    /// TLS handshake, with the certificate files as they are now). Returns at once.
    pub fn close_connections(&self) {
        self.control.close_connections();
    }

    /// The observation log (oldest first), or an empty list unless
    /// [`ExporterBuilder::observe`] was asked for.
    pub fn observations(&self) -> Vec<Observation> {
        self.control.observations()
    }

    /// A cloneable handle on [`Self::close_connections`] and [`Self::observations`].
    pub fn control(&self) -> ExporterControl {
        self.control.clone()
    }

    /// The first listener's address.
    pub fn addr(&self) -> SocketAddr {
        self.listeners[0].addr
    }

    /// Every listener.
    pub fn listeners(&self) -> &[ListenerHandle] {
        &self.listeners
    }

    /// Whether the listeners speak TLS.
    pub fn is_tls(&self) -> bool {
        self.tls
    }

    /// The URL of the metrics endpoint of the first listener.
    pub fn url(&self, path: &str) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}{path}", self.addr())
    }

    /// Warnings printed at start (configs that exporter-toolkit accepts but that can never
    /// work, such as `min_version` above `max_version`).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// The cap on open connections of all listeners together (configured or derived).
    pub fn max_connections(&self) -> u64 {
        self.max_connections
    }

    /// Warms every listener's bcrypt cache for these credentials, as a first real request
    /// would: the next request then does not pay a cold bcrypt. Nothing is counted in the stats. Returns the first listener's outcome.
    pub async fn warm_basic_auth(&self, user: &str, password: &str) -> AuthOutcome {
        let mut first = AuthOutcome::NotChecked;
        for (i, s) in self.states.iter().enumerate() {
            let outcome = s.warm_basic_auth(user, password).await;
            if i == 0 {
                first = outcome;
            }
        }
        first
    }

    /// The counters of all listeners, added up.
    pub fn stats(&self) -> StatsSnapshot {
        let mut total = StatsSnapshot::default();
        for l in &self.listeners {
            total.merge(&l.stats.snapshot());
        }
        total
    }

    /// Stops accepting, closes open connections gracefully and returns the final counters.
    pub async fn shutdown(mut self) -> StatsSnapshot {
        self.stop.take();
        while self.tasks.join_next().await.is_some() {}
        self.stats()
    }
}

impl Drop for RunningExporter {
    fn drop(&mut self) {
        self.stop.take();
        self.tasks.abort_all();
    }
}

/// Accepts until `stop` is dropped; each connection runs in its own task and is shut down
/// gracefully when the listener stops.
pub(crate) async fn accept_loop(
    listener: TcpListener,
    ctx: Arc<ListenerContext>,
    mut stop: watch::Receiver<()>,
) {
    let mut conns = JoinSet::new();
    let mut backoff = defence::AcceptBackoff::new();
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            accepted = async {
                ctx.conns.wait_for_sheds().await;
                listener.accept().await
            } => {
                let (stream, _) = match accepted {
                    Ok(x) => x,
                    Err(e) => {
                        // EMFILE and friends: back off instead of spinning, log a line a
                        // second at most.
                        ctx.stats.accept_failed();
                        tokio::select! {
                            _ = stop.changed() => break,
                            _ = defence::accept_failed(&e, &mut backoff) => {}
                        }
                        continue;
                    }
                };
                backoff.succeeded();
                ctx.stats.connection_accepted();
                let Some(guard) = ctx.conns.admit(&ctx.stats) else {
                    ctx.stats.connection_refused();
                    ctx.stats.connection_closed();
                    drop(stream);
                    continue;
                };
                let ctx = ctx.clone();
                let stop = stop.clone();
                conns.spawn(async move {
                    let conn = guard.state().clone();
                    tokio::select! {
                        _ = handle_connection(stream, &ctx, stop, &conn) => {}
                        _ = conn.shed() => {}
                    }
                    ctx.stats.connection_closed();
                    drop(guard);
                });
            }
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
    drop(listener);
    while conns.join_next().await.is_some() {}
}

/// Serves one connection until it ends (the caller counts it closed).
async fn handle_connection(
    stream: TcpStream,
    ctx: &Arc<ListenerContext>,
    stop: watch::Receiver<()>,
    conn: &Arc<ConnState>,
) {
    let _ = stream.set_nodelay(true);
    ctx.connection_faults.prepare_socket(&stream);
    if ctx.tls {
        serve_tls(stream, ctx, stop, conn).await;
    } else {
        let tag = connection_tag(ctx, None, None);
        serve_http(stream, ctx, false, stop, tag, conn).await;
    }
}

/// Serves one connection of a TLS listener: answers what is not TLS, hands a config rustls
/// cannot serve to the legacy listener, handshakes with the config read for this
/// connection, counts the outcome and serves HTTP on the session. The whole handshake, from
/// accept, has the handshake deadline.
async fn serve_tls(
    mut stream: TcpStream,
    ctx: &Arc<ListenerContext>,
    stop: watch::Receiver<()>,
    conn: &Arc<ConnState>,
) {
    let deadline = tokio::time::Instant::now() + ctx.conns.defences().handshake_timeout;
    match tokio::time::timeout_at(deadline, refuse_non_tls(&mut stream, ctx)).await {
        Ok(false) => {}
        Ok(true) => return,
        Err(_) => {
            ctx.stats.handshake_timed_out();
            return;
        }
    }
    #[cfg(feature = "legacy-tls")]
    if let Ok(Some(config)) = ctx.source.current() {
        if let Some(legacy) = config
            .tls_server_config
            .as_ref()
            .filter(|t| tls::legacy::wanted(t))
        {
            let http2 = config.http_server_config.http2;
            serve_legacy_tls(stream, ctx, legacy, http2, stop, deadline, conn).await;
            return;
        }
    }
    let Ok(handshaken) = tokio::time::timeout_at(deadline, handshake(stream, ctx)).await else {
        ctx.stats.handshake_timed_out();
        return;
    };
    let Some((tls_stream, server_serial)) = handshaken else {
        return;
    };
    let (_, session) = tls_stream.get_ref();
    let h2 = session.alpn_protocol() == Some(b"h2") && ctx.http2;
    let client_serial = ctx.extras.observations.as_ref().and_then(|_| {
        let certs = session.peer_certificates()?;
        certificate_serial(certs.first()?.as_ref())
    });
    let tag = connection_tag(ctx, server_serial, client_serial);
    serve_http(tls_stream, ctx, h2, stop, tag, conn).await;
}

/// A rustls server session on a connection, once its handshake succeeded.
type TlsStream = tokio_rustls::server::TlsStream<tls::alerts::Tls12AlertFix<TcpStream>>;

/// The rustls handshake of one connection, counted in the stats: the session and the
/// serial of the certificate presented (when observing), or `None` once it failed.
async fn handshake(
    stream: TcpStream,
    ctx: &Arc<ListenerContext>,
) -> Option<(TlsStream, Option<String>)> {
    // certificate_required never goes out over TLS 1.2 (see `Tls12AlertFix`).
    let stream = tls::alerts::Tls12AlertFix::new(stream);
    let acceptor =
        tokio_rustls::LazyConfigAcceptor::new(rustls::server::Acceptor::default(), stream);
    let mut start = match acceptor.await {
        Ok(start) => start,
        Err(e) => {
            ctx.stats
                .handshake_failed(tls::handshake_failure_reason(&e));
            return None;
        }
    };
    let (config, close_if_no_client_cert) = connection_config(ctx, &mut start.io).await?;
    // The certificate this connection presents: the one the resolver picks for this hello.
    let server_serial = ctx.extras.observations.as_ref().and_then(|_| {
        let key = config.cert_resolver.resolve(start.client_hello())?;
        certificate_serial(key.cert.first()?.as_ref())
    });
    let tls_stream = match start.into_stream(config).await {
        Ok(s) => s,
        Err(e) => {
            ctx.stats
                .handshake_failed(tls::handshake_failure_reason(&e));
            return None;
        }
    };
    let (_, session) = tls_stream.get_ref();
    let info = session_info(session);
    if close_if_no_client_cert && !info.client_cert {
        // exporter-toolkit panics in its SAN check here; net/http closes the connection.
        ctx.stats
            .handshake_failed("client_cert_san_check_without_cert");
        return None;
    }
    ctx.stats.handshake_ok(info);
    Some((tls_stream, server_serial))
}

/// Looks at the first bytes of a connection to a TLS listener; when they are not a TLS
/// record, counts the failed handshake, answers plain HTTP with Go's 400 and returns true.
async fn refuse_non_tls(stream: &mut TcpStream, ctx: &ListenerContext) -> bool {
    match sniff(stream).await {
        Sniffed::Tls => false,
        Sniffed::Http => {
            ctx.stats.handshake_failed("not_tls");
            let _ = stream.write_all(HTTP_TO_HTTPS_RESPONSE).await;
            let _ = stream.shutdown().await;
            true
        }
        Sniffed::Other => {
            ctx.stats.handshake_failed("not_tls");
            true
        }
        Sniffed::Eof => {
            ctx.stats.handshake_failed("eof");
            true
        }
    }
}

/// The rustls config for this connection and whether to close it when the client sends no
/// certificate. exporter-toolkit's GetConfigForClient: re-read the config and the
/// certificate files for every connection; any failure aborts the handshake with an
/// internal_error alert. `None` once the handshake was aborted (alert sent on `io`).
async fn connection_config<W>(
    ctx: &ListenerContext,
    io: &mut W,
) -> Option<(Arc<rustls::ServerConfig>, bool)>
where
    W: tokio::io::AsyncWrite + Unpin,
{
    let plan = match ctx.source.current() {
        Ok(Some(config)) => ctx
            .tls_plans
            .plan(&config, ctx.insecure)
            .map_err(|e| e.to_string()),
        Ok(None) => Err("no web config".to_owned()),
        Err(e) => Err(e.to_string()),
    };
    match plan {
        Ok(HandshakePlan::Serve {
            config,
            close_if_no_client_cert,
        }) => Some((config, close_if_no_client_cert)),
        Ok(HandshakePlan::Reject { alert, reason }) => {
            ctx.stats.handshake_failed(reason);
            abort_handshake(io, alert).await;
            None
        }
        Err(e) => {
            config_failed(ctx, &e);
            abort_handshake(io, rustls::AlertDescription::InternalError).await;
            None
        }
    }
}

/// Logs and counts a TLS config that could not be built for a connection.
fn config_failed(ctx: &ListenerContext, error: &dyn std::fmt::Display) {
    tracing::error!(error = %error, "TLS config for this connection failed");
    ctx.stats.handshake_failed("config_error");
}

/// Ends a handshake with a plaintext fatal alert (after the ClientHello) and closes.
async fn abort_handshake<W>(io: &mut W, alert: rustls::AlertDescription)
where
    W: tokio::io::AsyncWrite + Unpin,
{
    let _ = io.write_all(&tls::fatal_alert_record(alert)).await;
    let _ = io.shutdown().await;
}

/// What a finished rustls handshake negotiated, for the stats.
fn session_info(conn: &rustls::ServerConnection) -> TlsSessionInfo {
    TlsSessionInfo {
        version: conn
            .protocol_version()
            .map(|v| format!("{v:?}"))
            .unwrap_or_default(),
        cipher_suite: conn
            .negotiated_cipher_suite()
            .map(|s| format!("{:?}", s.suite()))
            .unwrap_or_default(),
        kx_group: conn
            .negotiated_key_exchange_group()
            .map(|g| format!("{:?}", g.name()))
            .unwrap_or_default(),
        alpn: conn
            .alpn_protocol()
            .map(|p| String::from_utf8_lossy(p).into_owned())
            .unwrap_or_default(),
        client_cert: conn.peer_certificates().is_some_and(|c| !c.is_empty()),
    }
}

/// Resolves when [`RunningExporter::close_connections`] is called (never without a signal,
/// or once the exporter is gone).
async fn close_asked(close: Option<&mut watch::Receiver<u64>>) {
    if let Some(close) = close {
        if close.changed().await.is_ok() {
            return;
        }
    }
    std::future::pending().await
}

/// The observation tag of a new connection, when the exporter observes.
fn connection_tag(
    ctx: &ListenerContext,
    server_cert_serial: Option<String>,
    client_cert_serial: Option<String>,
) -> Option<ConnectionTag> {
    let log = ctx.extras.observations.as_ref()?;
    Some(ConnectionTag(Arc::new(ConnectionInfo {
        id: log.next_connection_id(),
        server_cert_serial,
        client_cert_serial,
        requests: std::sync::atomic::AtomicU64::new(0),
        log: log.clone(),
    })))
}

/// The legacy TLS listener (OpenSSL) for a config rustls cannot serve (TLS 1.0/1.1, CBC
/// suites); then the same HTTP serving as [`serve_tls`].
#[cfg(feature = "legacy-tls")]
async fn serve_legacy_tls(
    mut stream: TcpStream,
    ctx: &Arc<ListenerContext>,
    tls_config: &TlsServerConfig,
    http2: bool,
    stop: watch::Receiver<()>,
    deadline: tokio::time::Instant,
    conn: &Arc<ConnState>,
) {
    use tokio::io::AsyncReadExt;

    let plan = match tls::legacy::plan(tls_config, http2, ctx.insecure) {
        Ok(plan) => plan,
        Err(e) => {
            // As on the rustls path: read the ClientHello, answer internal_error, close.
            config_failed(ctx, &e);
            let mut hello = [0u8; 16 * 1024];
            let _ = tokio::time::timeout_at(deadline, stream.read(&mut hello)).await;
            abort_handshake(&mut stream, rustls::AlertDescription::InternalError).await;
            return;
        }
    };
    let accepted = match tokio::time::timeout_at(deadline, tls::legacy::accept(stream, plan)).await
    {
        Ok(Ok(accepted)) => accepted,
        Ok(Err(reason)) => {
            ctx.stats.handshake_failed(reason);
            return;
        }
        Err(_) => {
            ctx.stats.handshake_timed_out();
            return;
        }
    };
    if accepted.close_without_client_cert {
        // exporter-toolkit panics in its SAN check here; net/http closes the connection.
        ctx.stats
            .handshake_failed("client_cert_san_check_without_cert");
        return;
    }
    let h2 = accepted.info.alpn == "h2" && ctx.http2;
    ctx.stats.handshake_ok(accepted.info);
    if let Some(debug) = accepted.h2_refusal {
        tls::legacy::refuse_h2(accepted.stream, &debug).await;
        return;
    }
    let serial = |cert: Option<&openssl::x509::X509Ref>| certificate_serial(&cert?.to_der().ok()?);
    let (server_serial, client_serial) = match ctx.extras.observations {
        Some(_) => {
            let ssl = accepted.stream.ssl();
            (
                serial(ssl.certificate()),
                serial(ssl.peer_certificate().as_deref()),
            )
        }
        None => (None, None),
    };
    let tag = connection_tag(ctx, server_serial, client_serial);
    serve_http(accepted.stream, ctx, h2, stop, tag, conn).await;
}

enum Sniffed {
    Tls,
    Http,
    Other,
    Eof,
}

/// Looks at the first bytes without consuming them, like Go's TLS record-header check:
/// a TLS record starts with 0x16; a record header that reads like an HTTP method gets
/// Go's 400 answer.
async fn sniff(stream: &TcpStream) -> Sniffed {
    let mut buf = [0u8; 5];
    let n = match stream.peek(&mut buf).await {
        Ok(0) | Err(_) => return Sniffed::Eof,
        Ok(n) => n,
    };
    if buf[0] == 0x16 {
        return Sniffed::Tls;
    }
    const HTTP_STARTS: [&[u8]; 5] = [b"GET /", b"HEAD ", b"POST ", b"PUT /", b"OPTIO"];
    if n == 5 && HTTP_STARTS.contains(&&buf[..]) {
        Sniffed::Http
    } else {
        Sniffed::Other
    }
}

/// Serves HTTP/1.1 (or HTTP/2 when `h2`) on one connection until the peer closes, a fault
/// asks to close or reset, the listener stops, or a request head misses its deadline.
async fn serve_http<I>(
    io: I,
    ctx: &Arc<ListenerContext>,
    h2: bool,
    mut stop: watch::Receiver<()>,
    tag: Option<ConnectionTag>,
    conn: &Arc<ConnState>,
) where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let signal = ctx.connection_faults.connection();
    let close = ctx.extras.close.clone();
    let router = ctx.router.clone();
    let svc_signal = signal.clone();
    let svc_conn = conn.clone();
    let service =
        hyper::service::service_fn(move |mut req: http::Request<hyper::body::Incoming>| {
            let in_flight = svc_conn.request_started();
            let conn = svc_conn.clone();
            if let Some(signal) = &svc_signal {
                req.extensions_mut().insert(signal.clone());
            }
            if let Some(tag) = &tag {
                req.extensions_mut().insert(tag.clone());
            }
            let response = router.clone().oneshot(req.map(Body::new));
            async move {
                let response = response.await;
                if let Ok(r) = &response {
                    if matches!(
                        r.extensions().get::<AuthOutcome>(),
                        Some(AuthOutcome::Ok | AuthOutcome::NotRequired)
                    ) {
                        conn.authenticated();
                    }
                }
                drop(in_flight);
                response
            }
        });
    let head = HeadDeadline {
        conn,
        timeout: ctx.conns.defences().head_timeout,
        stats: &ctx.stats,
    };
    conn.await_first_head();
    if h2 {
        let conn = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
            .serve_connection(TokioIo::new(io), service);
        tokio::pin!(conn);
        drive(
            conn.as_mut(),
            signal.as_ref(),
            &mut stop,
            close.clone(),
            true,
            head,
            |c| c.graceful_shutdown(),
        )
        .await;
    } else {
        // Bytes arriving on an idle keep-alive connection start the next head's clock.
        let io = HeadWatch::new(io, conn.clone());
        let conn = hyper::server::conn::http1::Builder::new()
            .keep_alive(true)
            .serve_connection(TokioIo::new(io), service);
        tokio::pin!(conn);
        // HTTP/1.1: `Connection: close` ends the connection after the response itself.
        drive(
            conn.as_mut(),
            signal.as_ref(),
            &mut stop,
            close.clone(),
            false,
            head,
            |c| c.graceful_shutdown(),
        )
        .await;
    }
}

/// The request-head deadline of one connection, and where its expiry is counted.
struct HeadDeadline<'a> {
    conn: &'a ConnState,
    timeout: Duration,
    stats: &'a Stats,
}

/// How long a close-after-response over HTTP/2 waits after its response before the GOAWAY.
/// Shut down at once, the connection lost the response in 1 of 50 to 100 requests here (the
/// client saw the GOAWAY and the end of the connection, not the response); 20 ms later, in
/// none of 350, idle or with both cores busy. Far below any scrape interval (the default
/// matrix scrapes every 200 ms), so the next scrape still opens a new connection.
const GOAWAY_DELAY: Duration = Duration::from_millis(20);

/// Runs one connection until it ends, carrying out what its [`ConnectionSignal`] asks for.
async fn drive<C, F>(
    mut conn: std::pin::Pin<&mut C>,
    signal: Option<&ConnectionSignal>,
    stop: &mut watch::Receiver<()>,
    close: Option<watch::Receiver<u64>>,
    h2: bool,
    head: HeadDeadline<'_>,
    graceful: F,
) where
    C: std::future::Future,
    F: Fn(std::pin::Pin<&mut C>),
{
    let requested = || async {
        match signal {
            Some(signal) => signal.requested().await,
            None => std::future::pending().await,
        }
    };
    let mut close = close;
    if let Some(close) = &mut close {
        close.mark_unchanged(); // only closes asked for after this connection opened
    }
    let mut closing = false;
    let overdue = head.conn.head_overdue(head.timeout);
    tokio::pin!(overdue);
    loop {
        tokio::select! {
            _ = conn.as_mut() => return,
            _ = overdue.as_mut(), if !closing => {
                // No complete request head in time: close without a response, like a reset.
                head.stats.head_timed_out();
                return;
            }
            action = requested(), if !closing => match action {
                ConnAction::Reset => return, // dropping the connection drops the socket
                ConnAction::Close => {
                    closing = true;
                    // HTTP/2: the GOAWAY goes out once the response had time to leave
                    // (see GOAWAY_DELAY); HTTP/1.1 closes after the response itself.
                    if h2 {
                        tokio::select! {
                            _ = conn.as_mut() => return,
                            _ = tokio::time::sleep(GOAWAY_DELAY) => {}
                        }
                    }
                    graceful(conn.as_mut());
                }
            },
            _ = stop.changed(), if !closing => { closing = true; graceful(conn.as_mut()); }
            _ = close_asked(close.as_mut()), if !closing => { closing = true; graceful(conn.as_mut()); }
        }
        if signal.and_then(ConnectionSignal::pending) == Some(ConnAction::Reset) {
            return;
        }
    }
}

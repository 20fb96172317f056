//! Listeners: bind, accept, TLS (per-connection config, like exporter-toolkit), HTTP/1.1
//! and HTTP/2, faults that act on the connection, and the RAII handle that stops it all.
//!
//! ```no_run
//! # async fn demo() -> Result<(), fake_exporter::Error> {
//! use fake_exporter::server::FakeExporter;
//! let exporter = FakeExporter::builder().start().await?; // listening when this returns
//! println!("scrape http://{}/metrics", exporter.addr());
//! let stats = exporter.shutdown().await;                 // or just drop it
//! # let _ = stats; Ok(()) }
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

use crate::config_source::ConfigSource;
use crate::faults::{FaultSpec, Mutant};
use crate::http::{app, AppState, ConnAction, ConnControl, RateLimiter};
use crate::metrics::{Metrics, MetricsSpec};
use crate::stats::{Stats, StatsSnapshot, TlsSessionInfo};
use crate::tls::{self, HandshakePlan};
use crate::web_config::WebConfig;
use crate::Error;

/// What Go's `net/http` answers when plain HTTP reaches a TLS listener.
pub const HTTP_TO_HTTPS_RESPONSE: &[u8] =
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
#[derive(Debug, Default)]
#[must_use = "an ExporterBuilder does nothing until `.start().await`"]
pub struct ExporterBuilder {
    listen: Vec<SocketAddr>,
    config: Option<ConfigChoice>,
    metrics: MetricsSpec,
    faults: FaultSpec,
    mutants: Vec<Mutant>,
    telemetry_path: Option<String>,
}

#[derive(Debug)]
enum ConfigChoice {
    File(PathBuf),
    Static(WebConfig),
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

    /// Uses an in-memory config (never re-read).
    pub fn web_config(mut self, config: WebConfig) -> Self {
        self.config = Some(ConfigChoice::Static(config));
        self
    }

    /// What `/metrics` serves.
    pub fn metrics(mut self, spec: MetricsSpec) -> Self {
        self.metrics = spec;
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

    /// The metrics path (`--web.telemetry-path`), default `/metrics`.
    pub fn telemetry_path(mut self, path: impl Into<String>) -> Self {
        self.telemetry_path = Some(path.into());
        self
    }

    /// Checks the config like exporter-toolkit does at start, binds every address, and
    /// returns once they all accept connections.
    pub async fn start(self) -> Result<RunningExporter, Error> {
        let source = match self.config {
            None => ConfigSource::None,
            Some(ConfigChoice::File(p)) => ConfigSource::file(p),
            Some(ConfigChoice::Static(c)) => ConfigSource::Static(Arc::new(c)),
        };
        let prepared = PreparedListener::prepare(
            Arc::new(source),
            Arc::new(Metrics::new(self.metrics)),
            self.faults,
            self.mutants,
            self.telemetry_path.unwrap_or_else(|| "/metrics".to_owned()),
        )?;
        let addrs = if self.listen.is_empty() {
            vec![SocketAddr::from(([127, 0, 0, 1], 0))]
        } else {
            self.listen
        };
        let (stop_tx, stop_rx) = watch::channel(());
        let mut tasks = JoinSet::new();
        let mut listeners = Vec::with_capacity(addrs.len());
        let mut states = Vec::with_capacity(addrs.len());
        for addr in addrs {
            let listener = bind(addr)?;
            let local = listener
                .local_addr()
                .map_err(|e| Error::Bind { addr, source: e })?;
            let stats = Arc::new(Stats::default());
            let ctx = prepared.listener_context(stats.clone());
            states.push(ctx.state.clone());
            tasks.spawn(accept_loop(listener, ctx, stop_rx.clone()));
            listeners.push(ListenerHandle { addr: local, stats });
        }
        Ok(RunningExporter {
            listeners,
            states,
            tls: prepared.tls,
            warnings: prepared.warnings,
            stop: Some(stop_tx),
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
    faults: FaultSpec,
    telemetry_path: String,
    tls: bool,
    http2: bool,
    rate_limit: Option<(Duration, u32)>,
    mutants: Vec<Mutant>,
    pub(crate) warnings: Vec<String>,
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
            warnings = config.check_at_start().map_err(Error::WebConfig)?;
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
        Ok(Self {
            source,
            metrics,
            faults,
            telemetry_path,
            tls,
            http2,
            rate_limit,
            mutants,
            warnings,
        })
    }

    pub(crate) fn listener_context(&self, stats: Arc<Stats>) -> Arc<ListenerContext> {
        let limiter = self
            .rate_limit
            .map(|(interval, burst)| RateLimiter::new(interval, burst));
        let state = AppState::new(
            self.source.clone(),
            self.metrics.clone(),
            self.faults.clone(),
            self.telemetry_path.clone(),
            stats.clone(),
            limiter,
        )
        .with_mutants(self.mutants.clone());
        Arc::new(ListenerContext {
            router: app(state.clone()),
            state,
            source: self.source.clone(),
            stats,
            tls: self.tls,
            http2: self.http2,
            reset_fault: self.faults.reset,
            tls_plans: tls::PlanCache::default(),
            insecure: tls::InsecureTls {
                skip_client_chain_verification: self
                    .mutants
                    .contains(&Mutant::InsecureSkipClientChainVerification),
                ignore_client_cert_expiry: self
                    .mutants
                    .contains(&Mutant::InsecureIgnoreClientCertExpiry),
                ignore_client_allowed_sans: self
                    .mutants
                    .contains(&Mutant::InsecureIgnoreClientAllowedSans),
            },
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
    reset_fault: bool,
    insecure: tls::InsecureTls,
    tls_plans: tls::PlanCache,
}

/// One bound listener of a running exporter.
#[derive(Debug, Clone)]
pub struct ListenerHandle {
    /// The bound address (the real port when 0 was asked for).
    pub addr: SocketAddr,
    /// Its counters.
    pub stats: Arc<Stats>,
}

/// A running exporter. Dropping it stops every listener and open connection.
#[derive(Debug)]
#[must_use = "dropping a RunningExporter shuts its listeners down"]
pub struct RunningExporter {
    listeners: Vec<ListenerHandle>,
    states: Vec<AppState>,
    tls: bool,
    warnings: Vec<String>,
    stop: Option<watch::Sender<()>>,
    tasks: JoinSet<()>,
}

impl RunningExporter {
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

    /// Warms every listener's bcrypt cache for these credentials (see
    /// [`AppState::warm_basic_auth`]): the first real request then does not pay a cold
    /// bcrypt. Nothing is counted in the stats. Returns the first listener's outcome.
    pub async fn warm_basic_auth(&self, user: &str, password: &str) -> crate::stats::AuthOutcome {
        let mut first = crate::stats::AuthOutcome::NotChecked;
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
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            accepted = listener.accept() => {
                let (stream, _) = match accepted {
                    Ok(x) => x,
                    Err(e) => {
                        // EMFILE and friends: back off briefly instead of spinning.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    }
                };
                ctx.stats.connection_accepted();
                conns.spawn(handle_connection(stream, ctx.clone(), stop.clone()));
            }
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
    drop(listener);
    while conns.join_next().await.is_some() {}
}

async fn handle_connection(
    stream: TcpStream,
    ctx: Arc<ListenerContext>,
    stop: watch::Receiver<()>,
) {
    let _ = stream.set_nodelay(true);
    if ctx.reset_fault {
        // With SO_LINGER 0, dropping the socket sends an RST.
        #[allow(deprecated)]
        let _ = stream.set_linger(Some(Duration::ZERO));
    }
    if ctx.tls {
        serve_tls(stream, &ctx, stop).await;
    } else {
        serve_http(TokioIo::new(stream), &ctx, false, stop).await;
    }
    ctx.stats.connection_closed();
}

async fn serve_tls(stream: TcpStream, ctx: &Arc<ListenerContext>, stop: watch::Receiver<()>) {
    let mut stream = stream;
    match sniff(&stream).await {
        Sniffed::Tls => {}
        Sniffed::Http => {
            ctx.stats.handshake_failed("not_tls");
            let _ = stream.write_all(HTTP_TO_HTTPS_RESPONSE).await;
            let _ = stream.shutdown().await;
            return;
        }
        Sniffed::Other => {
            ctx.stats.handshake_failed("not_tls");
            return;
        }
        Sniffed::Eof => {
            ctx.stats.handshake_failed("eof");
            return;
        }
    }
    let acceptor =
        tokio_rustls::LazyConfigAcceptor::new(rustls::server::Acceptor::default(), stream);
    let mut start = match acceptor.await {
        Ok(start) => start,
        Err(e) => {
            ctx.stats
                .handshake_failed(tls::handshake_failure_reason(&e));
            return;
        }
    };
    // exporter-toolkit's GetConfigForClient: re-read the config and the certificate files
    // for every connection; any failure aborts the handshake with an internal_error alert.
    let plan = match ctx.source.current() {
        Ok(Some(config)) => ctx
            .tls_plans
            .plan(&config, ctx.insecure)
            .map_err(|e| e.to_string()),
        Ok(None) => Err("no web config".to_owned()),
        Err(e) => Err(e.to_string()),
    };
    let (config, close_if_no_client_cert) = match plan {
        Ok(HandshakePlan::Serve {
            config,
            close_if_no_client_cert,
        }) => (config, close_if_no_client_cert),
        Ok(HandshakePlan::Reject { alert, reason }) => {
            ctx.stats.handshake_failed(reason);
            let _ = start.io.write_all(&tls::fatal_alert_record(alert)).await;
            let _ = start.io.shutdown().await;
            return;
        }
        Err(e) => {
            tracing::error!(error = %e, "TLS config for this connection failed");
            ctx.stats.handshake_failed("config_error");
            let _ = start
                .io
                .write_all(&tls::fatal_alert_record(
                    rustls::AlertDescription::InternalError,
                ))
                .await;
            let _ = start.io.shutdown().await;
            return;
        }
    };
    let tls_stream = match start.into_stream(config).await {
        Ok(s) => s,
        Err(e) => {
            ctx.stats
                .handshake_failed(tls::handshake_failure_reason(&e));
            return;
        }
    };
    let (_, conn) = tls_stream.get_ref();
    let alpn = conn
        .alpn_protocol()
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .unwrap_or_default();
    let info = TlsSessionInfo {
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
        alpn: alpn.clone(),
        client_cert: conn.peer_certificates().is_some_and(|c| !c.is_empty()),
    };
    if close_if_no_client_cert && !info.client_cert {
        // exporter-toolkit panics in its SAN check here; net/http closes the connection.
        ctx.stats
            .handshake_failed("client_cert_san_check_without_cert");
        return;
    }
    ctx.stats.handshake_ok(info);
    let h2 = alpn == "h2" && ctx.http2;
    serve_http(TokioIo::new(tls_stream), ctx, h2, stop).await;
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
/// asks to close or reset, or the listener stops.
async fn serve_http<I>(
    io: TokioIo<I>,
    ctx: &Arc<ListenerContext>,
    h2: bool,
    mut stop: watch::Receiver<()>,
) where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let control = ConnControl::default();
    let router = ctx.router.clone();
    let svc_control = control.clone();
    let service =
        hyper::service::service_fn(move |mut req: http::Request<hyper::body::Incoming>| {
            req.extensions_mut().insert(svc_control.clone());
            router.clone().oneshot(req.map(Body::new))
        });
    if h2 {
        let conn = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
            .serve_connection(io, service);
        tokio::pin!(conn);
        drive(conn.as_mut(), &control, &mut stop, |c| {
            c.graceful_shutdown()
        })
        .await;
    } else {
        let conn = hyper::server::conn::http1::Builder::new()
            .keep_alive(true)
            .serve_connection(io, service);
        tokio::pin!(conn);
        drive(conn.as_mut(), &control, &mut stop, |c| {
            c.graceful_shutdown()
        })
        .await;
    }
}

async fn drive<C, F>(
    mut conn: std::pin::Pin<&mut C>,
    control: &ConnControl,
    stop: &mut watch::Receiver<()>,
    graceful: F,
) where
    C: std::future::Future,
    F: Fn(std::pin::Pin<&mut C>),
{
    let mut closing = false;
    loop {
        tokio::select! {
            _ = conn.as_mut() => return,
            action = control.requested(), if !closing => match action {
                ConnAction::Reset => return, // dropping the connection drops the socket
                ConnAction::Close => { closing = true; graceful(conn.as_mut()); }
            },
            _ = stop.changed(), if !closing => { closing = true; graceful(conn.as_mut()); }
        }
        if control.pending() == Some(ConnAction::Reset) {
            return;
        }
    }
}

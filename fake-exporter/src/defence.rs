//! Defences against hostile clients: deadlines for the TLS handshake and the request head, a
//! connection cap that sheds the oldest idle unauthenticated connections, backoff and a
//! rate-limited log line when `accept` fails (EMFILE), and the bcrypt cost bound.
//!
//! exporter-toolkit has none of these (Go's `net/http` server it configures sets no
//! `ReadHeaderTimeout`, no handshake timeout and no connection limit), so an exporter can be
//! starved of descriptors by idle connections. fake-exporter keeps serving the legitimate
//! scraper instead; `docs/reliability.md` ("fake-exporter under hostile clients") lists the
//! differences.
//!
//! - **Handshake deadline** ([`DEFAULT_HANDSHAKE_TIMEOUT`]): from accept to a finished TLS
//!   handshake (first bytes, ClientHello, the whole exchange); then the connection is closed.
//! - **Head deadline** ([`DEFAULT_HEAD_TIMEOUT`]): from the moment a connection is ready for
//!   HTTP (accepted, or handshaken) to its first request head (HTTP/1 headers fully read;
//!   HTTP/2 the preface and the first HEADERS). On an HTTP/1 keep-alive connection, the
//!   clock of each later head starts with its first byte, so an idle keep-alive connection
//!   (Prometheus keeps one per target) is never closed. hyper's own `header_read_timeout`
//!   is not used: its clock also runs while a keep-alive connection is idle.
//! - **Connection cap**, one [`ConnTable`] per exporter or fleet (that is, per process for
//!   the binary, whose listeners share one descriptor limit): by default the soft
//!   `RLIMIT_NOFILE` minus the listeners minus [`CONNECTION_FD_RESERVE`]. A connection
//!   accepted at the cap gets in by shedding the oldest idle (no request in flight)
//!   unauthenticated (no request passed auth yet) connection; an authenticated keep-alive
//!   scraper is kept as long as there is one. Only when every idle connection is
//!   authenticated (an exporter without auth, or a flood by a client with credentials) is
//!   the oldest idle one shed; with nothing idle the new connection is closed at once. The
//!   reserve keeps `accept` working while shed connections release their descriptors.

use std::collections::BTreeMap;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{watch, Notify};

use crate::stats::Stats;

/// Default deadline for a TLS handshake, from accept (Prometheus' own client gives up after
/// 10 s too).
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Default deadline for a request head (see the module docs for when its clock runs).
pub const DEFAULT_HEAD_TIMEOUT: Duration = Duration::from_secs(10);

/// Descriptors kept free below the soft `RLIMIT_NOFILE` (besides the listeners) when the
/// connection cap is derived: config and certificate files read per connection, stdio, the
/// runtime, a control endpoint, and connections being shed.
pub const CONNECTION_FD_RESERVE: u64 = 64;

/// The highest bcrypt cost fake-exporter verifies. A request for a user whose hash has a
/// higher cost is refused (401, counted as `slow_hashes_refused`) without running bcrypt:
/// cost 16 takes a few seconds here and each step doubles it, so cost 31 would pin a core
/// for days while every uncached check waits behind exporter-toolkit's one bcrypt lock.
/// exporter-toolkit verifies any cost up to 31.
pub const MAX_VERIFIED_BCRYPT_COST: u32 = 16;

/// The defences of one exporter or fleet, set on [`crate::ExporterBuilder`] and
/// [`crate::FleetBuilder`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Defences {
    pub(crate) handshake_timeout: Duration,
    pub(crate) head_timeout: Duration,
    /// `None`: derived from `RLIMIT_NOFILE` at start.
    pub(crate) max_connections: Option<u64>,
}

impl Default for Defences {
    fn default() -> Self {
        Self {
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
            head_timeout: DEFAULT_HEAD_TIMEOUT,
            max_connections: None,
        }
    }
}

impl Defences {
    /// The connection cap for a process serving `listeners` listeners: the configured one, or
    /// the soft `RLIMIT_NOFILE` minus the listeners minus [`CONNECTION_FD_RESERVE`]; at
    /// least 1.
    pub(crate) fn cap(&self, listeners: u64) -> u64 {
        let cap = self.max_connections.unwrap_or_else(|| {
            let soft = rlimit::getrlimit(rlimit::Resource::NOFILE)
                .map(|(soft, _)| soft)
                .unwrap_or(1024);
            soft.saturating_sub(listeners + CONNECTION_FD_RESERVE)
        });
        cap.max(1)
    }
}

/// The open connections of one exporter or fleet, oldest first, and its cap.
#[derive(Debug)]
pub(crate) struct ConnTable {
    defences: Defences,
    cap: u64,
    inner: Mutex<TableInner>,
    /// Signalled when a shed connection has closed.
    shed_closed: Notify,
}

/// How many shed connections may still hold their descriptors before the accept loops wait
/// for them to close: without this bound, accepting faster than shed connections close
/// overruns the reserve and `accept` fails with EMFILE.
const MAX_PENDING_SHEDS: u64 = CONNECTION_FD_RESERVE / 4;

#[derive(Debug, Default)]
struct TableInner {
    next_id: u64,
    open: BTreeMap<u64, Arc<ConnState>>,
    /// Entries told to close that have not closed yet (they do not count against the cap).
    shedding: u64,
}

impl ConnTable {
    /// The table of an exporter or fleet with these defences and this many listeners.
    pub(crate) fn new(defences: Defences, listeners: u64) -> Arc<Self> {
        Arc::new(Self {
            defences,
            cap: defences.cap(listeners),
            inner: Mutex::new(TableInner::default()),
            shed_closed: Notify::new(),
        })
    }

    /// The cap.
    pub(crate) fn cap(&self) -> u64 {
        self.cap
    }

    /// The deadlines.
    pub(crate) fn defences(&self) -> &Defences {
        &self.defences
    }

    /// Waits while too many shed connections still hold their descriptors (see
    /// [`MAX_PENDING_SHEDS`]); call before `accept`.
    pub(crate) async fn wait_for_sheds(&self) {
        loop {
            let closed = self.shed_closed.notified();
            tokio::pin!(closed);
            closed.as_mut().enable();
            if self.lock().shedding < MAX_PENDING_SHEDS {
                return;
            }
            closed.await;
        }
    }

    /// Admits a new connection; at the cap, sheds the oldest idle unauthenticated one (else
    /// the oldest idle one).
    /// `None`: the cap is reached and nothing can be shed; close the new connection.
    pub(crate) fn admit(self: &Arc<Self>, stats: &Arc<Stats>) -> Option<ConnGuard> {
        let mut t = self.lock();
        let live = t.open.len() as u64 - t.shedding;
        if live >= self.cap {
            let idle = |c: &&Arc<ConnState>| {
                !c.shed_sent.load(Ordering::Relaxed) && c.in_flight.load(Ordering::Relaxed) == 0
            };
            // Oldest first: an idle unauthenticated one, else (an exporter without auth, or
            // a flood by a client with credentials) any idle one.
            let victim = t
                .open
                .values()
                .filter(idle)
                .find(|c| !c.authenticated.load(Ordering::Relaxed))
                .or_else(|| t.open.values().find(idle))
                .cloned();
            let victim = victim?;
            victim.shed_sent.store(true, Ordering::Relaxed);
            victim.shed.notify_one();
            t.shedding += 1;
            victim.stats.connection_shed();
            SHED_LOG.log(|suppressed| {
                tracing::warn!(
                    "connection cap {} reached: shedding idle connections, oldest unauthenticated first ({suppressed} more shed since the last line)",
                    self.cap
                );
            });
        }
        let id = t.next_id;
        t.next_id += 1;
        let state = Arc::new(ConnState::new(stats.clone()));
        t.open.insert(id, state.clone());
        Some(ConnGuard {
            table: self.clone(),
            id,
            state,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, TableInner> {
        // Every update keeps the map and the counter consistent before it can panic.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A connection's place in its [`ConnTable`]; dropping it frees the place.
#[derive(Debug)]
pub(crate) struct ConnGuard {
    table: Arc<ConnTable>,
    id: u64,
    state: Arc<ConnState>,
}

impl ConnGuard {
    pub(crate) fn state(&self) -> &Arc<ConnState> {
        &self.state
    }
}

impl Drop for ConnGuard {
    fn drop(&mut self) {
        let mut t = self.table.lock();
        if let Some(state) = t.open.remove(&self.id) {
            if state.shed_sent.load(Ordering::Relaxed) {
                t.shedding -= 1;
                self.table.shed_closed.notify_waiters();
            }
        }
    }
}

/// What the cap and the head deadline need to know about one connection.
#[derive(Debug)]
pub(crate) struct ConnState {
    stats: Arc<Stats>,
    in_flight: AtomicU32,
    authenticated: AtomicBool,
    shed_sent: AtomicBool,
    shed: Notify,
    /// When the request head being awaited started (`None`: no head awaited).
    head: watch::Sender<Option<Instant>>,
    /// Mirror of `head.is_some()`, read on every read of an HTTP/1 connection.
    head_pending: AtomicBool,
}

impl ConnState {
    fn new(stats: Arc<Stats>) -> Self {
        Self {
            stats,
            in_flight: AtomicU32::new(0),
            authenticated: AtomicBool::new(false),
            shed_sent: AtomicBool::new(false),
            shed: Notify::new(),
            head: watch::Sender::new(None),
            head_pending: AtomicBool::new(false),
        }
    }

    /// Resolves when the cap sheds this connection.
    pub(crate) async fn shed(&self) {
        self.shed.notified().await
    }

    /// The connection is ready for HTTP: its first head is awaited from now.
    pub(crate) fn await_first_head(&self) {
        self.head_pending.store(true, Ordering::Relaxed);
        self.head.send_replace(Some(Instant::now()));
    }

    /// Bytes arrived on an HTTP/1 connection: when it was idle, a new head starts now.
    fn bytes_arrived(&self) {
        if self.in_flight.load(Ordering::Relaxed) == 0
            && !self.head_pending.swap(true, Ordering::Relaxed)
        {
            self.head.send_replace(Some(Instant::now()));
        }
    }

    /// A request head was read and the request dispatched. The returned guard marks the
    /// request finished when dropped.
    pub(crate) fn request_started(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        if self.head_pending.swap(false, Ordering::Relaxed) {
            self.head.send_replace(None);
        }
        InFlight(self.clone())
    }

    /// A request on this connection passed authentication (or needed none).
    pub(crate) fn authenticated(&self) {
        self.authenticated.store(true, Ordering::Relaxed);
    }

    /// Resolves when an awaited head is `timeout` late.
    pub(crate) async fn head_overdue(&self, timeout: Duration) {
        let mut rx = self.head.subscribe();
        loop {
            let started = *rx.borrow_and_update();
            match started {
                Some(t) => tokio::select! {
                    _ = tokio::time::sleep_until((t + timeout).into()) => return,
                    changed = rx.changed() => if changed.is_err() { std::future::pending::<()>().await },
                },
                None => {
                    if rx.changed().await.is_err() {
                        std::future::pending::<()>().await;
                    }
                }
            }
        }
    }
}

/// A request in flight on a connection (see [`ConnState::request_started`]).
#[derive(Debug)]
pub(crate) struct InFlight(Arc<ConnState>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// An HTTP/1 connection's I/O that starts the head clock when bytes arrive on an idle
/// connection.
pub(crate) struct HeadWatch<I> {
    io: I,
    state: Arc<ConnState>,
}

impl<I> HeadWatch<I> {
    pub(crate) fn new(io: I, state: Arc<ConnState>) -> Self {
        Self { io, state }
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for HeadWatch<I> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.io).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.state.bytes_arrived();
        }
        polled
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for HeadWatch<I> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

/// Backoff after a failed `accept` (EMFILE, ENFILE, ENOBUFS...): 10 ms, doubling to 1 s,
/// back to 10 ms after a success.
#[derive(Debug)]
pub(crate) struct AcceptBackoff {
    next: Duration,
}

impl AcceptBackoff {
    const FIRST: Duration = Duration::from_millis(10);
    const MAX: Duration = Duration::from_secs(1);

    pub(crate) fn new() -> Self {
        Self { next: Self::FIRST }
    }

    /// The delay before the next `accept`, doubling each time.
    pub(crate) fn failed(&mut self) -> Duration {
        let delay = self.next;
        self.next = (self.next * 2).min(Self::MAX);
        delay
    }

    pub(crate) fn succeeded(&mut self) {
        self.next = Self::FIRST;
    }
}

/// Backs off after a failed `accept`: logs it (one line a second at most per process) and
/// waits the next backoff delay.
pub(crate) async fn accept_failed(error: &std::io::Error, backoff: &mut AcceptBackoff) {
    log_accept_error(error);
    tokio::time::sleep(backoff.failed()).await;
}

/// Logs a failed `accept`, at most one line a second per process.
pub(crate) fn log_accept_error(error: &std::io::Error) {
    ACCEPT_LOG.log(|suppressed| {
        tracing::warn!(
            "accept failed: {error}; backing off ({suppressed} more failures since the last line)"
        );
    });
}

static ACCEPT_LOG: LogLimiter = LogLimiter::new();
static SHED_LOG: LogLimiter = LogLimiter::new();

/// At most one log line a second; the lines suppressed in between are counted into the next.
#[derive(Debug)]
pub(crate) struct LogLimiter {
    last: Mutex<Option<Instant>>,
    suppressed: AtomicU64,
}

impl LogLimiter {
    const INTERVAL: Duration = Duration::from_secs(1);

    pub(crate) const fn new() -> Self {
        Self {
            last: Mutex::new(None),
            suppressed: AtomicU64::new(0),
        }
    }

    /// Calls `line(suppressed)` unless a line went out less than a second ago. Returns
    /// whether it did.
    pub(crate) fn log(&self, line: impl FnOnce(u64)) -> bool {
        let now = Instant::now();
        {
            let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
            if last.is_some_and(|t| now.duration_since(t) < Self::INTERVAL) {
                self.suppressed.fetch_add(1, Ordering::Relaxed);
                return false;
            }
            *last = Some(now);
        }
        line(self.suppressed.swap(0, Ordering::Relaxed));
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_a_second_and_resets() {
        let mut b = AcceptBackoff::new();
        let delays: Vec<u64> = (0..9).map(|_| b.failed().as_millis() as u64).collect();
        assert_eq!(delays, [10, 20, 40, 80, 160, 320, 640, 1000, 1000]);
        b.succeeded();
        assert_eq!(b.failed(), Duration::from_millis(10));
    }

    #[test]
    fn log_limiter_lets_one_line_a_second_through_and_counts_the_rest() {
        let limiter = LogLimiter::new();
        let mut lines = Vec::new();
        for _ in 0..100 {
            limiter.log(|suppressed| lines.push(suppressed));
        }
        assert_eq!(lines, [0], "one line for a burst");
        assert_eq!(limiter.suppressed.load(Ordering::Relaxed), 99);
    }

    #[test]
    fn cap_sheds_oldest_idle_unauthenticated_first_and_keeps_the_scraper() {
        let stats = Arc::new(Stats::default());
        let defences = Defences {
            max_connections: Some(3),
            ..Defences::default()
        };
        let table = ConnTable::new(defences, 1);
        assert_eq!(table.cap(), 3);
        let scraper = table.admit(&stats).expect("below the cap");
        scraper.state().authenticated();
        let busy = table.admit(&stats).expect("below the cap");
        let _request = busy.state().request_started();
        let idle = table.admit(&stats).expect("below the cap");
        // At the cap: only `idle` may go.
        let newcomer = table.admit(&stats).expect("sheds `idle`");
        assert!(idle.state().shed_sent.load(Ordering::Relaxed));
        assert!(!scraper.state().shed_sent.load(Ordering::Relaxed));
        assert!(!busy.state().shed_sent.load(Ordering::Relaxed));
        assert_eq!(stats.snapshot().defences.connections_shed, 1);
        // `idle` has not closed yet but no longer counts; `newcomer` is the oldest idle one.
        let last = table.admit(&stats).expect("sheds `newcomer`");
        assert!(newcomer.state().shed_sent.load(Ordering::Relaxed));
        drop((idle, newcomer));
        // The other two busy: the idle scraper is the only one left to shed.
        let _request = last.state().request_started();
        let fourth = table.admit(&stats).expect("sheds the scraper");
        assert!(scraper.state().shed_sent.load(Ordering::Relaxed));
        drop(scraper);
        // All busy: nothing to shed, the new connection is refused.
        let _request = fourth.state().request_started();
        assert!(
            table.admit(&stats).is_none(),
            "nothing sheddable at the cap"
        );
        assert_eq!(table.lock().open.len(), 3);
        assert_eq!(table.lock().shedding, 0);
        assert_eq!(stats.snapshot().defences.connections_shed, 3);
    }
}

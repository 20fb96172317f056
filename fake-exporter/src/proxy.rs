//! A fake forward proxy for Prometheus' `proxy_url`: HTTP `CONNECT` tunnels (what Go's
//! transport uses for `https` targets) and absolute-form requests (`GET http://host/path`,
//! what it sends for plain `http` targets), each counted, with optional proxy
//! authentication (`Proxy-Authorization: Basic`, 407 otherwise). A target it cannot reach
//! gets 502. It only dials loopback targets (127.0.0.0/8, ::1, `localhost`): others get 403.
//!
//! Go sends `proxy_connect_header` (Transport.ProxyConnectHeader) on CONNECT requests only:
//! an absolute-form request to an authenticating proxy carries no credentials unless they
//! are in the `proxy_url` itself (`http://user:pass@host:port`, which Go turns into a
//! `Proxy-Authorization` header on both forms).
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), fake_exporter::Error> {
//! use fake_exporter::ForwardProxy;
//! let proxy = ForwardProxy::builder().user("p", "pw").start().await?;
//! // Prometheus: `proxy_url: <this>` and, for https targets,
//! // `proxy_connect_header: { Proxy-Authorization: [Basic cDpwdw==] }`.
//! assert!(proxy.url().starts_with("http://127.0.0.1:"));
//! assert_eq!(proxy.stats().tunnels, 0);
//! # Ok(()) }
//! ```

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use http::{header, HeaderValue, Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use serde::Serialize;
use subtle::ConstantTimeEq;
use tokio::net::TcpStream;
use tokio::task::JoinSet;

use crate::accept::AcceptLoop;
use crate::Error;

/// How long the proxy waits to connect to a target before answering 502.
const DIAL_TIMEOUT: Duration = Duration::from_secs(5);

/// Counters of a forward proxy.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ProxyStats {
    /// Client connections accepted.
    pub connections: u64,
    /// CONNECT tunnels established (200 answered, bytes relayed).
    pub tunnels: u64,
    /// Absolute-form requests forwarded to their target.
    pub forwarded: u64,
    /// Requests refused with 407 (missing or wrong proxy credentials).
    pub auth_refused: u64,
    /// Requests answered 502 (the target could not be reached).
    pub upstream_failed: u64,
    /// Requests refused otherwise (403 non-loopback target, 400 malformed).
    pub refused: u64,
}

#[derive(Debug, Default)]
struct Counters {
    connections: AtomicU64,
    tunnels: AtomicU64,
    forwarded: AtomicU64,
    auth_refused: AtomicU64,
    upstream_failed: AtomicU64,
    refused: AtomicU64,
}

impl Counters {
    fn snapshot(&self) -> ProxyStats {
        let r = |c: &AtomicU64| c.load(Ordering::Relaxed);
        ProxyStats {
            connections: r(&self.connections),
            tunnels: r(&self.tunnels),
            forwarded: r(&self.forwarded),
            auth_refused: r(&self.auth_refused),
            upstream_failed: r(&self.upstream_failed),
            refused: r(&self.refused),
        }
    }

    fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// Entry point: `ForwardProxy::builder().user("u", "p").start().await`.
#[derive(Debug)]
pub struct ForwardProxy;

impl ForwardProxy {
    /// A builder: 127.0.0.1, an ephemeral port, no authentication.
    pub fn builder() -> ForwardProxyBuilder {
        ForwardProxyBuilder {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            users: Vec::new(),
        }
    }
}

/// Configures a forward proxy; `start()` binds and returns once it accepts connections.
#[derive(Debug)]
#[must_use = "a ForwardProxyBuilder does nothing until `.start().await`"]
pub struct ForwardProxyBuilder {
    listen: SocketAddr,
    users: Vec<(String, String)>,
}

impl ForwardProxyBuilder {
    /// Where to listen (default `127.0.0.1:0`).
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.listen = addr;
        self
    }

    /// Require `Proxy-Authorization: Basic` with this user (repeatable).
    pub fn user(mut self, user: impl Into<String>, password: impl Into<String>) -> Self {
        self.users.push((user.into(), password.into()));
        self
    }

    /// Binds and starts serving.
    pub async fn start(self) -> Result<RunningForwardProxy, Error> {
        let listener = crate::server::bind(self.listen)?;
        let addr = listener.local_addr().map_err(|source| Error::Bind {
            addr: self.listen,
            source,
        })?;
        let counters = Arc::new(Counters::default());
        let users = Arc::new(self.users);
        let c = counters.clone();
        let accept = AcceptLoop::spawn(listener, move |stream| {
            Counters::bump(&c.connections);
            serve(stream, users.clone(), c.clone())
        });
        Ok(RunningForwardProxy {
            addr,
            counters,
            _accept: accept,
        })
    }
}

/// A running forward proxy. Dropping it stops the listener, every connection and tunnel.
#[derive(Debug)]
#[must_use = "dropping a RunningForwardProxy shuts it down"]
pub struct RunningForwardProxy {
    addr: SocketAddr,
    counters: Arc<Counters>,
    /// Dropping it stops the listener, every connection and tunnel.
    _accept: AcceptLoop,
}

impl RunningForwardProxy {
    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The `proxy_url` to configure: `http://ADDR`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Its counters now.
    pub fn stats(&self) -> ProxyStats {
        self.counters.snapshot()
    }
}

/// Serves one client connection (HTTP/1.1 with upgrades for CONNECT).
async fn serve(stream: TcpStream, users: Arc<Vec<(String, String)>>, counters: Arc<Counters>) {
    let _ = stream.set_nodelay(true);
    let mut tunnels = JoinSet::new();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    // The upstream connection of absolute-form requests, kept alive across the requests of
    // this client connection (as a real proxy pools them): an exporter behind the proxy
    // sees one connection for many scrapes, as it would without the proxy.
    let upstream: Upstream = Arc::default();
    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
        let (users, counters, tx, upstream) = (
            users.clone(),
            counters.clone(),
            tx.clone(),
            upstream.clone(),
        );
        async move {
            Ok::<_, std::convert::Infallible>(handle(req, &users, &counters, &tx, &upstream).await)
        }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .keep_alive(true)
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades();
    tokio::pin!(conn);
    // The relay tasks live as long as this connection task: aborting it ends them too.
    loop {
        tokio::select! {
            _ = conn.as_mut() => break,
            Some(tunnel) = rx.recv() => { tunnels.spawn(tunnel); }
        }
    }
    while let Ok(tunnel) = rx.try_recv() {
        tunnels.spawn(tunnel);
    }
    while tunnels.join_next().await.is_some() {}
}

type Tunnel = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;
/// The kept-alive upstream of a client connection: the target's authority and a sender.
type Upstream =
    Arc<tokio::sync::Mutex<Option<(String, hyper::client::conn::http1::SendRequest<Incoming>)>>>;

async fn dial(host: &str, port: u16) -> Option<TcpStream> {
    let dialed = tokio::time::timeout(DIAL_TIMEOUT, TcpStream::connect((host, port))).await;
    let stream = dialed.ok()?.ok()?;
    let _ = stream.set_nodelay(true);
    Some(stream)
}

async fn handle(
    req: Request<Incoming>,
    users: &[(String, String)],
    counters: &Counters,
    tunnels: &tokio::sync::mpsc::UnboundedSender<Tunnel>,
    upstream: &Upstream,
) -> Response<Body> {
    if !users.is_empty() && !authorized(&req, users) {
        Counters::bump(&counters.auth_refused);
        let mut r = status(StatusCode::PROXY_AUTHENTICATION_REQUIRED);
        r.headers_mut().insert(
            header::PROXY_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"proxy\""),
        );
        return r;
    }
    let Some(authority) = req.uri().authority().cloned() else {
        Counters::bump(&counters.refused);
        return status(StatusCode::BAD_REQUEST);
    };
    let port = authority.port_u16().unwrap_or(80);
    if !is_loopback(authority.host()) {
        Counters::bump(&counters.refused);
        return status(StatusCode::FORBIDDEN);
    }
    let host = authority
        .host()
        .trim_start_matches('[')
        .trim_end_matches(']');
    if req.method() == Method::CONNECT {
        let Some(mut upstream) = dial(host, port).await else {
            Counters::bump(&counters.upstream_failed);
            return status(StatusCode::BAD_GATEWAY);
        };
        Counters::bump(&counters.tunnels);
        let upgrade = hyper::upgrade::on(req);
        let relay: Tunnel = Box::pin(async move {
            if let Ok(upgraded) = upgrade.await {
                let mut client = TokioIo::new(upgraded);
                let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
            }
        });
        let _ = tunnels.send(relay);
        return status(StatusCode::OK);
    }
    // Absolute form: forward to the target in origin form, hop-by-hop proxy headers removed.
    let (mut parts, body) = req.into_parts();
    let origin = parts
        .uri
        .path_and_query()
        .map_or("/", http::uri::PathAndQuery::as_str)
        .to_owned();
    let Ok(uri) = origin.parse() else {
        Counters::bump(&counters.refused);
        return status(StatusCode::BAD_REQUEST);
    };
    parts.uri = uri;
    parts.headers.remove(header::PROXY_AUTHORIZATION);
    parts.headers.remove("proxy-connection");
    let key = authority.to_string();
    let mut cached = upstream.lock().await;
    let reusable = match cached.as_mut() {
        Some((k, sender)) if *k == key => sender.ready().await.is_ok(),
        _ => false,
    };
    if !reusable {
        let Some(stream) = dial(host, port).await else {
            Counters::bump(&counters.upstream_failed);
            return status(StatusCode::BAD_GATEWAY);
        };
        let Ok((sender, conn)) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await
        else {
            Counters::bump(&counters.upstream_failed);
            return status(StatusCode::BAD_GATEWAY);
        };
        tokio::spawn(conn);
        *cached = Some((key, sender));
    }
    // Invariant: set just above when it was not reusable.
    let (_, sender) = cached.as_mut().expect("an upstream connection is cached");
    match sender.send_request(Request::from_parts(parts, body)).await {
        Ok(response) => {
            Counters::bump(&counters.forwarded);
            response.map(Body::new)
        }
        Err(_) => {
            Counters::bump(&counters.upstream_failed);
            status(StatusCode::BAD_GATEWAY)
        }
    }
}

fn status(code: StatusCode) -> Response<Body> {
    let mut r = Response::new(Body::from(format!(
        "{}\n",
        code.canonical_reason().unwrap_or_default()
    )));
    *r.status_mut() = code;
    r
}

/// Whether the request's `Proxy-Authorization: Basic` names a configured user. Every user
/// is compared (no early exit).
fn authorized(req: &Request<Incoming>, users: &[(String, String)]) -> bool {
    let Some(creds) = req
        .headers()
        .get(header::PROXY_AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(crate::auth::parse_basic)
    else {
        return false;
    };
    let mut ok = subtle::Choice::from(0);
    for (user, password) in users {
        ok |= user.as_bytes().ct_eq(creds.user.as_bytes())
            & password.as_bytes().ct_eq(creds.password.as_bytes());
    }
    bool::from(ok)
}

/// `localhost`, 127.0.0.0/8 or ::1 (brackets allowed).
fn is_loopback(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.eq_ignore_ascii_case("localhost")
        || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    /// Sends `head` on a new connection and returns the response head (up to the blank
    /// line) and the open stream.
    async fn ask(proxy: SocketAddr, head: &str) -> (String, TcpStream) {
        let mut s = TcpStream::connect(proxy).await.expect("connect");
        s.write_all(head.as_bytes()).await.expect("write");
        let mut got = Vec::new();
        let mut byte = [0u8; 1];
        while !got.ends_with(b"\r\n\r\n") {
            let n = tokio::time::timeout(Duration::from_secs(10), s.read(&mut byte))
                .await
                .expect("answer within 10 s")
                .expect("read");
            assert_eq!(
                n,
                1,
                "closed early after {:?}",
                String::from_utf8_lossy(&got)
            );
            got.push(byte[0]);
        }
        (String::from_utf8_lossy(&got).into_owned(), s)
    }

    #[tokio::test]
    async fn connect_tunnels_to_the_target_and_counts_one_tunnel() {
        // Arrange: a target that answers `pong` to anything.
        let target = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let target_addr = target.local_addr().expect("addr");
        tokio::spawn(async move {
            let (mut s, _) = target.accept().await.expect("accept");
            let mut buf = [0u8; 4];
            s.read_exact(&mut buf).await.expect("read");
            s.write_all(b"pong").await.expect("write");
        });
        let proxy = ForwardProxy::builder().start().await.expect("proxy");
        // Act
        let (head, mut s) = ask(
            proxy.addr(),
            &format!("CONNECT {target_addr} HTTP/1.1\r\nHost: {target_addr}\r\n\r\n"),
        )
        .await;
        s.write_all(b"ping").await.expect("write");
        let mut pong = [0u8; 4];
        tokio::time::timeout(Duration::from_secs(10), s.read_exact(&mut pong))
            .await
            .expect("relayed within 10 s")
            .expect("read");
        // Assert
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        assert_eq!(&pong, b"pong");
        let stats = proxy.stats();
        assert_eq!(
            (stats.connections, stats.tunnels, stats.forwarded),
            (1, 1, 0)
        );
    }

    #[tokio::test]
    async fn missing_or_wrong_proxy_credentials_get_407_and_right_ones_pass() {
        let exporter = crate::FakeExporter::start().await.expect("exporter");
        let proxy = ForwardProxy::builder()
            .user("p", "pw")
            .start()
            .await
            .expect("proxy");
        let target = exporter.addr();
        let (head, _) = ask(proxy.addr(), &format!("CONNECT {target} HTTP/1.1\r\n\r\n")).await;
        assert!(head.starts_with("HTTP/1.1 407"), "{head}");
        assert!(
            head.contains("proxy-authenticate: Basic realm=\"proxy\""),
            "{head}"
        );
        let wrong = crate::auth::basic_header("p", "guess");
        let (head, _) = ask(
            proxy.addr(),
            &format!("CONNECT {target} HTTP/1.1\r\nProxy-Authorization: {wrong}\r\n\r\n"),
        )
        .await;
        assert!(head.starts_with("HTTP/1.1 407"), "{head}");
        let right = crate::auth::basic_header("p", "pw");
        let (head, _) = ask(
            proxy.addr(),
            &format!(
                "GET http://{target}/metrics HTTP/1.1\r\nHost: {target}\r\nProxy-Authorization: {right}\r\n\r\n"
            ),
        )
        .await;
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        let stats = proxy.stats();
        assert_eq!(
            (stats.auth_refused, stats.forwarded, stats.tunnels),
            (2, 1, 0)
        );
        assert_eq!(
            exporter.stats().requests_total(),
            1,
            "the exporter saw one GET"
        );
    }

    #[tokio::test]
    async fn an_unreachable_target_gets_502_and_a_remote_one_403() {
        // A port bound but never listening: connecting is refused, and no other test can
        // take the port while `_held` lives (a released port could be reused at once).
        let _held = tokio::net::TcpSocket::new_v4().expect("socket");
        _held
            .bind("127.0.0.1:0".parse().expect("addr"))
            .expect("bind");
        let closed = _held.local_addr().expect("addr");
        let proxy = ForwardProxy::builder().start().await.expect("proxy");
        let (head, _) = ask(proxy.addr(), &format!("CONNECT {closed} HTTP/1.1\r\n\r\n")).await;
        assert!(head.starts_with("HTTP/1.1 502"), "{head}");
        let (head, _) = ask(proxy.addr(), "CONNECT 192.0.2.1:443 HTTP/1.1\r\n\r\n").await;
        assert!(head.starts_with("HTTP/1.1 403"), "{head}");
        let stats = proxy.stats();
        assert_eq!(
            (stats.upstream_failed, stats.refused, stats.tunnels),
            (1, 1, 0)
        );
    }

    #[tokio::test]
    async fn absolute_form_requests_of_one_client_share_one_upstream_connection() {
        let exporter = crate::FakeExporter::start().await.expect("exporter");
        let proxy = ForwardProxy::builder().start().await.expect("proxy");
        let target = exporter.addr();
        let get = format!("GET http://{target}/metrics HTTP/1.1\r\nHost: {target}\r\n\r\n");
        let (head, mut s) = ask(proxy.addr(), &get).await;
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length: "))
            .and_then(|n| n.trim().parse().ok())
            .expect("content-length");
        let mut body = vec![0u8; length];
        s.read_exact(&mut body).await.expect("body");
        s.write_all(get.as_bytes()).await.expect("second request");
        let mut second = [0u8; 12];
        tokio::time::timeout(Duration::from_secs(10), s.read_exact(&mut second))
            .await
            .expect("answered within 10 s")
            .expect("read");
        assert_eq!(&second, b"HTTP/1.1 200");
        let stats = proxy.stats();
        assert_eq!(
            (stats.connections, stats.forwarded, stats.tunnels),
            (1, 2, 0)
        );
        let exporter = exporter.shutdown().await;
        assert_eq!(exporter.connections_accepted, 1, "one upstream connection");
        assert_eq!(exporter.requests_total(), 2);
    }
}

//! Self-stats equal what a scripted client did: handshakes ok and failed by reason, requests
//! by status, through the library (`RunningExporter::stats()`) and through the binary's
//! control endpoint (`/stats` JSON); close-after-response costs one handshake per request
//! over HTTP/1.1 and over HTTP/2, keep-alive costs one.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use bytes::Bytes;
use fake_exporter::pki::{ClientCert, KeyType, Pki, PkiFiles, ServerCert};
use fake_exporter::FakeExporter;
use fake_exporter::FaultSpec;
use fake_exporter::StatsSnapshot;
use http_body_util::{BodyExt as _, Empty};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::ServerName;
use rustls::ClientConfig;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::support::{
    basic_header, bcrypt_hash, fake_exporter_bin, free_addr, get, poll, raw_exchange, write_atomic,
    ClientSpec, Proc, DEADLINE,
};

/// The counters the script below must produce.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Counted {
    handshakes_ok: u64,
    handshakes_failed: BTreeMap<String, u64>,
    requests_by_status: BTreeMap<u16, u64>,
}

impl Counted {
    fn from_snapshot(s: &StatsSnapshot) -> Self {
        let mut requests_by_status = BTreeMap::new();
        for r in &s.requests {
            *requests_by_status.entry(r.status).or_default() += r.count;
        }
        Self {
            handshakes_ok: s.handshakes_ok,
            handshakes_failed: s.handshakes_failed.clone(),
            requests_by_status,
        }
    }

    /// From the control endpoint's `/stats` (a list of listeners, counters flattened in).
    fn from_json(v: &serde_json::Value) -> anyhow::Result<Self> {
        let listener = v.get(0).context("/stats lists one listener")?;
        let mut requests_by_status = BTreeMap::new();
        for r in listener["requests"]
            .as_array()
            .context("requests is a list")?
        {
            let status = r["status"].as_u64().context("status")? as u16;
            *requests_by_status.entry(status).or_default() +=
                r["count"].as_u64().context("count")?;
        }
        Ok(Self {
            handshakes_ok: listener["handshakes_ok"]
                .as_u64()
                .context("handshakes_ok")?,
            handshakes_failed: serde_json::from_value(listener["handshakes_failed"].clone())?,
            requests_by_status,
        })
    }
}

const SUCCESSES: u64 = 3;
const UNAUTHORIZED: u64 = 2;
const NO_CERT: u64 = 2;
const ROGUE_CERT: u64 = 1;
const PLAIN_HTTP: u64 = 1;

fn expected() -> Counted {
    Counted {
        // Every 200 and every 401 came over its own, successfully handshaken connection.
        handshakes_ok: SUCCESSES + UNAUTHORIZED,
        handshakes_failed: [
            ("no_client_cert".to_owned(), NO_CERT),
            ("client_cert_unknown_ca".to_owned(), ROGUE_CERT),
            ("not_tls".to_owned(), PLAIN_HTTP),
        ]
        .into(),
        requests_by_status: [(200, SUCCESSES), (401, UNAUTHORIZED)].into(),
    }
}

/// mTLS (RequireAndVerifyClientCert) plus Basic auth.
fn write_config(dir: &std::path::Path, files: &PkiFiles) -> anyhow::Result<std::path::PathBuf> {
    let path = dir.join("web-config.yml");
    write_atomic(
        &path,
        &format!(
            "tls_server_config:\n  cert_file: {}\n  key_file: {}\n  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: {}\nbasic_auth_users:\n  prometheus: {}\n",
            files.server_cert(ServerCert::Valid).display(),
            files.server_key(ServerCert::Valid).display(),
            files.ca().display(),
            bcrypt_hash("pw"),
        ),
    )?;
    Ok(path)
}

/// The scripted client; each request on a new connection.
async fn script(addr: SocketAddr, pki: &Pki) -> anyhow::Result<()> {
    let valid = ClientSpec::trusting(pki).with_client(pki, ClientCert::Valid);
    let auth = basic_header("prometheus", "pw");
    for _ in 0..SUCCESSES {
        let o = get(addr, Some(&valid), "/metrics", &[("authorization", &auth)]).await;
        anyhow::ensure!(o.answer().map(|a| a.status) == Some(200), "want 200: {o}");
    }
    for _ in 0..UNAUTHORIZED {
        let o = get(addr, Some(&valid), "/metrics", &[]).await;
        anyhow::ensure!(o.answer().map(|a| a.status) == Some(401), "want 401: {o}");
    }
    let no_cert = ClientSpec::trusting(pki);
    for _ in 0..NO_CERT {
        let o = get(
            addr,
            Some(&no_cert),
            "/metrics",
            &[("authorization", &auth)],
        )
        .await;
        anyhow::ensure!(o.failure().is_some(), "want a rejection: {o}");
    }
    let rogue = ClientSpec::trusting(pki).with_client(pki, ClientCert::RogueCa);
    for _ in 0..ROGUE_CERT {
        let o = get(addr, Some(&rogue), "/metrics", &[("authorization", &auth)]).await;
        anyhow::ensure!(o.failure().is_some(), "want a rejection: {o}");
    }
    for _ in 0..PLAIN_HTTP {
        let answer = raw_exchange(addr, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n").await?;
        anyhow::ensure!(answer.starts_with(b"HTTP/1.0 400"), "want Go's 400");
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn library_stats_count_exactly_what_the_client_did() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let pki = Pki::generate(KeyType::EcdsaP256)?;
    let files = pki.write_to(&dir.path().join("pki"))?;
    let config = write_config(dir.path(), &files)?;
    let exporter = FakeExporter::builder()
        .web_config_file(&config)
        .start()
        .await?;

    script(exporter.addr(), &pki).await?;

    // The server records a failure after the client saw it: poll until equal.
    let want = expected();
    poll("library stats", DEADLINE, || {
        let got = Counted::from_snapshot(&exporter.stats());
        let want = want.clone();
        async move {
            if got == want {
                Ok(())
            } else {
                Err(format!("{got:?}, want {want:?}"))
            }
        }
    })
    .await?;
    let final_stats = exporter.shutdown().await;
    assert_eq!(Counted::from_snapshot(&final_stats), expected());
    assert_eq!(final_stats.connections_open, 0);
    assert_eq!(
        final_stats.connections_accepted,
        SUCCESSES + UNAUTHORIZED + NO_CERT + ROGUE_CERT + PLAIN_HTTP
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_endpoint_counts_exactly_what_the_client_did() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let pki = Pki::generate(KeyType::EcdsaP256)?;
    let files = pki.write_to(&dir.path().join("pki"))?;
    let config = write_config(dir.path(), &files)?;
    let (addr, control) = (free_addr(), free_addr());
    let mut proc = Proc::spawn(
        "fake-exporter",
        fake_exporter_bin(),
        &[
            format!("--web.listen-address={addr}"),
            format!("--web.config.file={}", config.display()),
            format!("--control.listen-address={control}"),
        ],
        dir.path(),
    )?;
    // Only the control port is probed: a probe of the TLS port would itself be counted (as
    // an `eof` handshake failure). The control endpoint binds after the listeners.
    proc.wait_listening(control).await?;

    script(addr, &pki).await?;

    let http = reqwest::Client::new();
    let url = format!("http://{control}/stats");
    let want = expected();
    let result = poll("control endpoint /stats", DEADLINE, || {
        let (http, url, want) = (http.clone(), url.clone(), want.clone());
        async move {
            let json: serde_json::Value = http
                .get(&url)
                .send()
                .await
                .map_err(|e| e.to_string())?
                .json()
                .await
                .map_err(|e| e.to_string())?;
            let got = Counted::from_json(&json).map_err(|e| format!("{e:#}: {json}"))?;
            if got == want {
                Ok(json)
            } else {
                Err(format!("{got:?}, want {want:?}"))
            }
        }
    })
    .await;
    let json = result.with_context(|| proc.report())?;
    assert_eq!(json[0]["addr"], addr.to_string());
    Ok(())
}

/// A connection pool of size one, over hyper's connection API: a request reuses the pooled
/// connection while it is open and ready, and opens a new one (new TCP + TLS handshake)
/// otherwise.
///
/// hyper-util's legacy `Client` was tried first and is not deterministic enough to count
/// handshakes: its HTTP/1.1 pool puts a connection back from a background task, so a quick
/// next request may open a second connection; and over HTTP/2 a request sent before the
/// server's GOAWAY arrives is still served on the closing connection (4 handshakes for 5
/// requests were seen). Prometheus scrapes seconds apart, so neither race matters there.
struct OneConnPool {
    addr: SocketAddr,
    tls: Arc<ClientConfig>,
    conn: Option<(Sender, tokio::task::JoinHandle<()>)>,
}

enum Sender {
    H1(hyper::client::conn::http1::SendRequest<Empty<Bytes>>),
    H2(hyper::client::conn::http2::SendRequest<Empty<Bytes>>),
}

impl OneConnPool {
    async fn get(&mut self, path: &str) -> anyhow::Result<http::Response<hyper::body::Incoming>> {
        let reusable = match &mut self.conn {
            Some((Sender::H1(s), task)) => !task.is_finished() && s.ready().await.is_ok(),
            Some((Sender::H2(s), task)) => !task.is_finished() && s.ready().await.is_ok(),
            None => false,
        };
        if !reusable {
            self.conn = Some(self.connect().await?);
        }
        let (sender, _) = self.conn.as_mut().context("connected above")?;
        Ok(match sender {
            Sender::H1(s) => {
                let req = http::Request::get(path)
                    .header(http::header::HOST, self.addr.to_string())
                    .body(Empty::new())?;
                s.send_request(req).await?
            }
            Sender::H2(s) => {
                let req =
                    http::Request::get(format!("https://{}{path}", self.addr)).body(Empty::new())?;
                s.send_request(req).await?
            }
        })
    }

    async fn connect(&self) -> anyhow::Result<(Sender, tokio::task::JoinHandle<()>)> {
        let tcp = TcpStream::connect(self.addr).await?;
        let tls = TlsConnector::from(self.tls.clone())
            .connect(ServerName::IpAddress(self.addr.ip().into()), tcp)
            .await?;
        let h2 = tls.get_ref().1.alpn_protocol() == Some(b"h2");
        let io = TokioIo::new(tls);
        Ok(if h2 {
            let (s, conn) = hyper::client::conn::http2::handshake(TokioExecutor::new(), io).await?;
            (
                Sender::H2(s),
                tokio::spawn(async move {
                    let _ = conn.await;
                }),
            )
        } else {
            let (s, conn) = hyper::client::conn::http1::handshake(io).await?;
            (
                Sender::H1(s),
                tokio::spawn(async move {
                    let _ = conn.await;
                }),
            )
        })
    }

    /// Waits until the server has closed the pooled connection (HTTP/1.1 `Connection:
    /// close`, HTTP/2 GOAWAY then close).
    async fn wait_closed_by_server(&mut self) -> anyhow::Result<()> {
        let Some((_, task)) = &mut self.conn else {
            return Ok(());
        };
        tokio::time::timeout(DEADLINE, task)
            .await
            .context("the server did not close the connection after the response")??;
        Ok(())
    }
}

/// Five sequential requests through a one-connection pool; returns the exporter's counters.
async fn five_requests(
    files: &PkiFiles,
    pki: &Pki,
    alpn: &[&[u8]],
    close_after_response: bool,
) -> anyhow::Result<StatsSnapshot> {
    let config = files.dir().join("tls.yml");
    write_atomic(
        &config,
        &format!(
            "tls_server_config:\n  cert_file: {}\n  key_file: {}\n",
            files.server_cert(ServerCert::Valid).display(),
            files.server_key(ServerCert::Valid).display(),
        ),
    )?;
    let exporter = FakeExporter::builder()
        .web_config_file(&config)
        .faults(FaultSpec {
            close_after_response,
            ..FaultSpec::default()
        })
        .start()
        .await?;
    let mut pool = OneConnPool {
        addr: exporter.addr(),
        tls: ClientSpec::trusting(pki).with_alpn(alpn).config(),
        conn: None,
    };
    for i in 0..5 {
        let response = pool.get("/metrics").await.with_context(|| {
            format!("close_after_response={close_after_response}, ALPN {alpn:?}: request {i}")
        })?;
        anyhow::ensure!(
            response.status() == 200,
            "request {i}: {}",
            response.status()
        );
        response.into_body().collect().await?;
        if close_after_response {
            pool.wait_closed_by_server().await.with_context(|| {
                format!("close_after_response={close_after_response}, ALPN {alpn:?}: request {i}")
            })?;
        }
    }
    drop(pool);
    Ok(exporter.shutdown().await)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_after_response_costs_one_handshake_per_request() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let pki = Pki::generate(KeyType::EcdsaP256)?;
    let files = pki.write_to(&dir.path().join("pki"))?;
    let mut table = Vec::new();
    for (name, alpn, version) in [
        ("HTTP/1.1", &[b"http/1.1".as_slice()][..], "HTTP/1.1"),
        ("HTTP/2", &[b"h2".as_slice()][..], "HTTP/2"),
    ] {
        for (close, want_handshakes) in [(true, 5), (false, 1)] {
            let stats = five_requests(&files, &pki, alpn, close).await?;
            let versions: Vec<&str> = stats
                .requests
                .iter()
                .map(|r| r.http_version.as_str())
                .collect();
            table.push(format!(
                "{name} close_after_response={close}: {} handshakes (want {want_handshakes}), {} connections, versions {versions:?}",
                stats.handshakes_ok, stats.connections_accepted
            ));
            assert_eq!(
                (stats.handshakes_ok, stats.connections_accepted),
                (want_handshakes, want_handshakes),
                "{name}, close_after_response={close}: {stats:#?}"
            );
            assert_eq!(versions, vec![version], "{name}: {stats:#?}");
            assert_eq!(stats.handshakes_failed_total(), 0, "{stats:#?}");
        }
    }
    println!("{}", table.join("\n"));
    Ok(())
}

//! Defences against hostile clients: the legitimate scraper is served through a flood of
//! idle connections in a process limited to 1,024 descriptors, and its authenticated
//! keep-alive connection is kept; unterminated headers and silent TLS connections are
//! closed at their deadlines while an idle keep-alive connection is kept; a user whose
//! bcrypt hash has cost 31 does not hold up other users.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use bytes::Bytes;
use fake_exporter::pki::{KeyType, Pki, ServerCert};
use fake_exporter::{
    FakeExporter, Fleet, FleetGroup, StatsSnapshot, WebConfig, CONNECTION_FD_RESERVE,
};
use http_body_util::{BodyExt as _, Empty};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::support::{
    basic_header, bcrypt_hash, fake_exporter_bin, free_addr, get, poll, write_atomic, ClientSpec,
    Proc, DEADLINE,
};

/// The descriptor limit of the flooded exporter (soft and hard).
const NOFILE: u64 = 1024;
/// Idle connections of the flood: more than the exporter has descriptors.
const FLOOD: usize = 1100;

/// A TLS HTTP/1.1 keep-alive connection, as Prometheus holds one per target.
async fn keep_alive_connection(
    addr: SocketAddr,
    pki: &Pki,
) -> anyhow::Result<SendRequest<Empty<Bytes>>> {
    let config = ClientSpec::trusting(pki).with_alpn(&[b"http/1.1"]).config();
    let tcp = TcpStream::connect(addr).await?;
    let tls = TlsConnector::from(config)
        .connect(ServerName::IpAddress(addr.ip().into()), tcp)
        .await?;
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls)).await?;
    tokio::spawn(conn);
    Ok(sender)
}

/// One scrape on a kept-alive connection: its status.
async fn scrape_on(sender: &mut SendRequest<Empty<Bytes>>, auth: &str) -> anyhow::Result<u16> {
    let exchange = async {
        sender.ready().await?;
        let request = http::Request::get("/metrics")
            .header("host", "localhost")
            .header("authorization", auth)
            .body(Empty::new())?;
        let response = sender.send_request(request).await?;
        let status = response.status().as_u16();
        response.into_body().collect().await?;
        anyhow::Ok(status)
    };
    tokio::time::timeout(DEADLINE, exchange)
        .await
        .context("no answer on the keep-alive connection")?
}

/// Reads until the peer closes (EOF or reset); how long that took, or an error after
/// [`DEADLINE`].
async fn time_to_close(stream: &mut TcpStream) -> anyhow::Result<Duration> {
    let start = Instant::now();
    let mut buf = vec![0u8; 64 * 1024];
    let closed = async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    };
    tokio::time::timeout(DEADLINE, closed)
        .await
        .context("the exporter did not close the connection")?;
    Ok(start.elapsed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_flood_in_a_1024_descriptor_process_does_not_starve_the_scraper() -> anyhow::Result<()>
{
    // Arrange: the binary, TLS + Basic, limited to 1,024 descriptors.
    let dir = tempfile::tempdir()?;
    let pki = Pki::generate(KeyType::EcdsaP256)?;
    let files = pki.write_to(&dir.path().join("pki"))?;
    let config = dir.path().join("web-config.yml");
    write_atomic(
        &config,
        &format!(
            "tls_server_config:\n  cert_file: {}\n  key_file: {}\nbasic_auth_users:\n  prometheus: {}\n",
            files.server_cert(ServerCert::Valid).display(),
            files.server_key(ServerCert::Valid).display(),
            bcrypt_hash("pw"),
        ),
    )?;
    let (addr, control) = (free_addr(), free_addr());
    let mut proc = Proc::spawn(
        "fake-exporter",
        "prlimit",
        &[
            format!("--nofile={NOFILE}:{NOFILE}"),
            fake_exporter_bin().to_owned(),
            format!("--web.listen-address={addr}"),
            format!("--web.config.file={}", config.display()),
            format!("--control.listen-address={control}"),
        ],
        dir.path(),
    )?;
    proc.wait_listening(control).await?;
    let log_before = proc.stderr().lines().count();
    // The flood needs more descriptors than a test process gets by default.
    let limit = rlimit::increase_nofile_limit(u64::MAX)?;
    anyhow::ensure!(
        limit > FLOOD as u64 + 100,
        "the test needs {FLOOD}+ descriptors; RLIMIT_NOFILE allows {limit}"
    );

    // The scraper's keep-alive connection, authenticated by a first scrape.
    let auth = basic_header("prometheus", "pw");
    let mut kept = keep_alive_connection(addr, &pki).await?;
    let first = scrape_on(&mut kept, &auth).await?;

    // Act: 1,100 connections that each send one byte (a TLS record type) and go idle.
    let mut flood = Vec::with_capacity(FLOOD);
    for i in 0..FLOOD {
        let mut s = TcpStream::connect(addr)
            .await
            .with_context(|| format!("flood connection {i}\n{}", proc.report()))?;
        s.write_all(&[0x16]).await?;
        flood.push(s);
    }
    let started = Instant::now();
    let tls = ClientSpec::trusting(&pki);
    let scrape = get(addr, Some(&tls), "/metrics", &[("authorization", &auth)]).await;
    let took = started.elapsed();
    let on_kept = scrape_on(&mut kept, &auth).await;

    // Assert
    assert_eq!(first, 200);
    assert_eq!(
        on_kept.as_ref().ok(),
        Some(&200),
        "the authenticated keep-alive connection is kept: {on_kept:?}\n{}",
        proc.report()
    );
    assert_eq!(
        scrape.answer().map(|a| a.status),
        Some(200),
        "{scrape}\n{}",
        proc.report()
    );
    assert!(
        took < Duration::from_secs(15),
        "the scrape took {took:?}\n{}",
        proc.report()
    );
    let http = reqwest::Client::builder().no_proxy().build()?;
    let url = format!("http://{control}/stats");
    let stats: StatsSnapshot = poll("/stats of the flooded exporter", DEADLINE, || {
        let (http, url) = (http.clone(), url.clone());
        async move {
            let json: serde_json::Value = http
                .get(&url)
                .send()
                .await
                .map_err(|e| e.to_string())?
                .json()
                .await
                .map_err(|e| e.to_string())?;
            serde_json::from_value(json[0].clone()).map_err(|e| format!("{e}: {json}"))
        }
    })
    .await
    .with_context(|| proc.report())?;
    // The cap derived from the limit: 1,024 minus the listener minus the reserve.
    let cap = NOFILE - 1 - CONNECTION_FD_RESERVE;
    let over_cap = FLOOD as u64 + 1 - cap;
    let stderr = proc.stderr();
    let new_lines: Vec<&str> = stderr.lines().skip(log_before).collect();
    eprintln!(
        "flood of {FLOOD}: scrape answered in {took:?}; shed {}, refused {}, accept errors {}, handshake timeouts {}; {} new stderr lines: {new_lines:#?}",
        stats.defences.connections_shed,
        stats.defences.connections_refused,
        stats.defences.accept_errors,
        stats.defences.handshake_timeouts,
        new_lines.len(),
    );
    assert!(
        stats.defences.connections_shed >= over_cap,
        "at least {over_cap} connections over the cap of {cap} are shed: {:?}\n{}",
        stats.defences,
        proc.report()
    );
    assert_eq!(stats.requests_with_status(200), 3, "{stats:?}");
    assert_eq!(
        stats.handshakes_ok, 2,
        "the kept connection and the new scrape: {stats:?}"
    );
    assert!(
        new_lines.len() <= 3,
        "at most a few log lines about the flood, got {}:\n{}",
        new_lines.len(),
        new_lines.join("\n")
    );
    drop(flood);
    Ok(())
}

#[tokio::test]
async fn unterminated_headers_are_closed_at_the_head_deadline() -> anyhow::Result<()> {
    // Arrange
    let head_timeout = Duration::from_secs(1);
    let exporter = FakeExporter::builder()
        .head_timeout(head_timeout)
        .start()
        .await?;
    let mut stream = TcpStream::connect(exporter.addr()).await?;
    let mut head = b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Padding: ".to_vec();
    head.resize(head.len() + 300 * 1024, b'a');

    // Act
    let sent = Instant::now();
    stream.write_all(&head).await?;
    time_to_close(&mut stream).await?;
    let closed_after = sent.elapsed();

    // Assert: closed by the deadline, not by a size limit (300 KB is below hyper's).
    assert!(
        closed_after >= head_timeout - Duration::from_millis(100)
            && closed_after < head_timeout + Duration::from_secs(2),
        "closed after {closed_after:?}, the head deadline is {head_timeout:?}"
    );
    let stats = exporter.stats();
    assert_eq!(stats.defences.head_timeouts, 1, "{stats:?}");
    assert_eq!(stats.requests_total(), 0, "{stats:?}");
    Ok(())
}

#[tokio::test]
async fn an_idle_keep_alive_connection_outlives_the_head_deadline() -> anyhow::Result<()> {
    // Arrange
    let head_timeout = Duration::from_secs(1);
    let exporter = FakeExporter::builder()
        .head_timeout(head_timeout)
        .start()
        .await?;
    let mut stream = TcpStream::connect(exporter.addr()).await?;
    let request = b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
    stream.write_all(request).await?;
    read_response_head(&mut stream).await?;

    // Act: idle for twice the deadline (the time passing is what is under test), then a
    // second request on the same connection, then a head that never ends.
    tokio::time::sleep(head_timeout * 2).await;
    stream.write_all(request).await?;
    let second = read_response_head(&mut stream).await?;
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
        .await?;
    let closed_after = time_to_close(&mut stream).await?;

    // Assert
    assert!(second.starts_with("HTTP/1.1 200"), "{second}");
    assert!(
        closed_after < head_timeout + Duration::from_secs(2),
        "the unfinished third head was closed after {closed_after:?}"
    );
    let stats = exporter.stats();
    assert_eq!(stats.requests_with_status(200), 2, "{stats:?}");
    assert_eq!(stats.defences.head_timeouts, 1, "{stats:?}");
    assert_eq!(stats.connections_accepted, 1, "{stats:?}");
    Ok(())
}

/// Reads one response (head and body, whose length is in `content-length`; chunked bodies
/// end with `0\r\n\r\n`) and returns its head.
async fn read_response_head(stream: &mut TcpStream) -> anyhow::Result<String> {
    let mut data = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    let read = async {
        loop {
            let n = stream.read(&mut buf).await?;
            anyhow::ensure!(n > 0, "closed before a whole response");
            data.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&data);
            let Some(end) = text.find("\r\n\r\n") else {
                continue;
            };
            let head = text[..end].to_owned();
            let body = data.len() - end - 4;
            let length = head.lines().find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse::<usize>().ok())?
            });
            let complete = match length {
                Some(len) => body >= len,
                None => text.ends_with("0\r\n\r\n"),
            };
            if complete {
                return Ok(head);
            }
        }
    };
    tokio::time::timeout(DEADLINE, read)
        .await
        .context("no whole response")?
}

#[tokio::test]
async fn silent_and_stalled_tls_connections_are_closed_at_the_handshake_deadline(
) -> anyhow::Result<()> {
    // Arrange
    let pki = Pki::generate(KeyType::EcdsaP256)?;
    let handshake_timeout = Duration::from_secs(1);
    let exporter = FakeExporter::builder()
        .tls(pki.server(ServerCert::Valid))
        .handshake_timeout(handshake_timeout)
        .start()
        .await?;
    let connect = || TcpStream::connect(exporter.addr());
    let (mut silent, mut stalled) = (connect().await?, connect().await?);
    // The first bytes of a TLS record, then nothing.
    stalled.write_all(&[0x16, 0x03, 0x01]).await?;

    // Act
    let (silent_closed, stalled_closed) =
        tokio::join!(time_to_close(&mut silent), time_to_close(&mut stalled));

    // Assert
    for (what, closed) in [("silent", silent_closed?), ("stalled", stalled_closed?)] {
        assert!(
            closed < handshake_timeout + Duration::from_secs(2),
            "{what}: closed after {closed:?}"
        );
    }
    let stats = exporter.stats();
    assert_eq!(stats.defences.handshake_timeouts, 2, "{stats:?}");
    assert_eq!(stats.handshakes_failed_for("timeout"), 2, "{stats:?}");
    // A real client still gets through.
    let ok = get(
        exporter.addr(),
        Some(&ClientSpec::trusting(&pki)),
        "/metrics",
        &[],
    )
    .await;
    assert_eq!(ok.answer().map(|a| a.status), Some(200), "{ok}");
    Ok(())
}

#[tokio::test]
async fn a_stalled_handshake_on_the_legacy_listener_is_closed_at_the_deadline() -> anyhow::Result<()>
{
    // Arrange: TLS 1.0 allowed, so the OpenSSL listener serves.
    let dir = tempfile::tempdir()?;
    let pki = Pki::generate(KeyType::EcdsaP256)?;
    let files = pki.write_to(&dir.path().join("pki"))?;
    let config = dir.path().join("web-config.yml");
    write_atomic(
        &config,
        &format!(
            "tls_server_config:\n  cert_file: {}\n  key_file: {}\n  min_version: TLS10\n",
            files.server_cert(ServerCert::Valid).display(),
            files.server_key(ServerCert::Valid).display(),
        ),
    )?;
    let handshake_timeout = Duration::from_secs(1);
    let exporter = FakeExporter::builder()
        .web_config_file(&config)
        .handshake_timeout(handshake_timeout)
        .start()
        .await?;
    let mut stalled = TcpStream::connect(exporter.addr()).await?;

    // Act
    stalled.write_all(&[0x16, 0x03, 0x01]).await?;
    let closed = time_to_close(&mut stalled).await?;

    // Assert
    assert!(
        closed < handshake_timeout + Duration::from_secs(2),
        "closed after {closed:?}"
    );
    let stats = exporter.stats();
    assert_eq!(stats.defences.handshake_timeouts, 1, "{stats:?}");
    Ok(())
}

#[tokio::test]
async fn an_h2_connection_without_a_request_is_closed_at_the_head_deadline() -> anyhow::Result<()> {
    // Arrange
    let pki = Pki::generate(KeyType::EcdsaP256)?;
    let head_timeout = Duration::from_secs(1);
    let exporter = FakeExporter::builder()
        .tls(pki.server(ServerCert::Valid))
        .head_timeout(head_timeout)
        .start()
        .await?;
    let connector =
        tokio_rustls::TlsConnector::from(ClientSpec::trusting(&pki).with_alpn(&[b"h2"]).config());
    let tcp = TcpStream::connect(exporter.addr()).await?;
    let name = rustls::pki_types::ServerName::try_from("localhost")?;
    let mut tls = connector.connect(name, tcp).await?;
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));

    // Act: the handshake is done; no preface, no HEADERS.
    let start = Instant::now();
    let mut buf = vec![0u8; 16 * 1024];
    let closed = tokio::time::timeout(DEADLINE, async {
        loop {
            match tls.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {} // the server's SETTINGS
            }
        }
    })
    .await;
    let closed_after = start.elapsed();

    // Assert
    closed.context("the h2 connection was not closed")?;
    assert!(
        closed_after < head_timeout + Duration::from_secs(2),
        "closed after {closed_after:?}"
    );
    let stats = exporter.stats();
    assert_eq!(stats.defences.head_timeouts, 1, "{stats:?}");
    assert_eq!(stats.handshakes_ok, 1, "{stats:?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cost_31_user_does_not_hold_up_other_users_checks() -> anyhow::Result<()> {
    // Arrange: a cost-4 hash with its cost field rewritten to 31 (the same format, so the
    // start-up check accepts it like a real cost-31 hash, which would take days to make).
    let slow_hash = format!("$2b$31${}", &bcrypt_hash("slow")[7..]);
    let config = WebConfig::builder()
        .basic_auth_user("slow", slow_hash)
        .basic_auth_user("prometheus", bcrypt_hash("pw"))
        .build()?;
    let exporter = FakeExporter::builder().web_config(config).start().await?;
    let addr: SocketAddr = exporter.addr();
    let slow_auth = basic_header("slow", "slow");
    let auth = basic_header("prometheus", "pw");

    // Act: the cost-31 request and the legitimate one at the same time.
    let slow =
        tokio::spawn(
            async move { get(addr, None, "/metrics", &[("authorization", &slow_auth)]).await },
        );
    let started = Instant::now();
    let legit = get(addr, None, "/metrics", &[("authorization", &auth)]).await;
    let legit_took = started.elapsed();
    let slow = slow.await?;

    // Assert
    assert_eq!(legit.answer().map(|a| a.status), Some(200), "{legit}");
    assert!(
        legit_took < Duration::from_secs(2),
        "the legitimate check took {legit_took:?}"
    );
    assert_eq!(slow.answer().map(|a| a.status), Some(401), "{slow}");
    let stats = exporter.stats();
    assert_eq!(stats.defences.slow_hashes_refused, 1, "{stats:?}");
    assert!(
        exporter
            .warnings()
            .iter()
            .any(|w| w.contains("`slow` has a bcrypt hash of cost 31")),
        "the refusal is announced at start: {:?}",
        exporter.warnings()
    );
    Ok(())
}

/// Ports of the fleet test (below the ephemeral range; `fleet.rs` uses 23,400-23,469).
const FLEET_PORTS: std::ops::RangeInclusive<u16> = 23_480..=23_481;

#[tokio::test]
async fn a_fleet_shares_one_cap_across_its_listeners() -> anyhow::Result<()> {
    // Arrange: two plain listeners, a cap of 2 for both together.
    let fleet = Fleet::builder()
        .group(FleetGroup::new("plain", FLEET_PORTS))
        .max_connections(2)
        .start()
        .await?;
    assert_eq!(fleet.max_connections(), 2);
    let addr = |port| SocketAddr::from(([127, 0, 0, 1], port));
    let (first, second) = (*FLEET_PORTS.start(), *FLEET_PORTS.end());
    let mut oldest = TcpStream::connect(addr(first)).await?;
    let _idle = TcpStream::connect(addr(second)).await?;
    // Both are accepted (one is counted per listener) before the third arrives.
    poll("both connections accepted", DEADLINE, || {
        let open = fleet.group_stats("plain").map(|s| s.connections_open);
        async move {
            match open {
                Some(2) => Ok(()),
                other => Err(format!("open connections: {other:?}")),
            }
        }
    })
    .await?;

    // Act: a third connection, on the second listener.
    let _third = TcpStream::connect(addr(second)).await?;

    // Assert: the oldest connection, on the other listener, was shed.
    time_to_close(&mut oldest).await?;
    let stats = fleet.group_stats("plain").context("the group")?;
    assert_eq!(stats.defences.connections_shed, 1, "{stats:?}");
    assert_eq!(stats.defences.connections_refused, 0, "{stats:?}");
    Ok(())
}

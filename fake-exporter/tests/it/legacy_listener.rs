//! The OpenSSL legacy listener, driven by an OpenSSL client (rustls cannot speak TLS 1.0 or
//! CBC suites): what it negotiates, the exact GOAWAY Go's HTTP/2 server sends when HTTP/2
//! meets TLS < 1.2 or a prohibited suite, Go's alert for a missing client certificate over
//! TLS 1.2 in both compat profiles, and the self-stats.

use std::path::Path;
use std::pin::Pin;
use std::time::Duration;

use anyhow::{ensure, Context as _};
use fake_exporter::pki::ClientCert;
use fake_exporter::pki::{KeyType, Pki, PkiFiles, ServerCert};
use fake_exporter::{Compat, FakeExporter, Mutant, RunningExporter};
use openssl::ssl::{Ssl, SslConnector, SslMethod, SslVerifyMode, SslVersion};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_openssl::SslStream;

const DEADLINE: Duration = Duration::from_secs(10);

async fn exporter(
    dir: &Path,
    files: &PkiFiles,
    extra: &str,
    compat: Compat,
) -> anyhow::Result<RunningExporter> {
    exporter_with(dir, files, extra, compat, Vec::new()).await
}

/// [`exporter`] with conformance mutants.
async fn exporter_with(
    dir: &Path,
    files: &PkiFiles,
    extra: &str,
    compat: Compat,
    mutants: Vec<Mutant>,
) -> anyhow::Result<RunningExporter> {
    let config = dir.join("web-config.yml");
    std::fs::write(
        &config,
        format!(
            "tls_server_config:\n  cert_file: {}\n  key_file: {}\n{extra}",
            files.server_cert(ServerCert::Valid).display(),
            files.server_key(ServerCert::Valid).display()
        ),
    )?;
    Ok(FakeExporter::builder()
        .web_config_file(&config)
        .compat(compat)
        .mutants(mutants)
        .start()
        .await?)
}

/// A client limited to `version`, offering `ciphers` (OpenSSL names) and ALPN `alpn`.
async fn connect(
    exporter: &RunningExporter,
    version: SslVersion,
    ciphers: &str,
    alpn: &[u8],
) -> anyhow::Result<SslStream<TcpStream>> {
    connect_as(exporter, version, ciphers, alpn, None).await
}

/// [`connect`], presenting `client` (certificate and key files) when given.
async fn connect_as(
    exporter: &RunningExporter,
    version: SslVersion,
    ciphers: &str,
    alpn: &[u8],
    client: Option<(&Path, &Path)>,
) -> anyhow::Result<SslStream<TcpStream>> {
    let mut b = SslConnector::builder(SslMethod::tls_client())?;
    if let Some((cert, key)) = client {
        b.set_certificate_chain_file(cert)?;
        b.set_private_key_file(key, openssl::ssl::SslFiletype::PEM)?;
    }
    b.set_min_proto_version(Some(version))?;
    b.set_max_proto_version(Some(version))?;
    b.set_cipher_list(&format!("{ciphers}:@SECLEVEL=0"))?;
    b.set_verify(SslVerifyMode::NONE);
    if !alpn.is_empty() {
        b.set_alpn_protos(alpn)?;
    }
    let ssl = Ssl::new(b.build().context())?;
    let tcp = TcpStream::connect(exporter.addr()).await?;
    let mut stream = SslStream::new(ssl, tcp)?;
    tokio::time::timeout(DEADLINE, Pin::new(&mut stream).connect())
        .await
        .context("handshake timed out")?
        .context("handshake")?;
    Ok(stream)
}

async fn read_all(stream: &mut SslStream<TcpStream>) -> Vec<u8> {
    let mut out = Vec::new();
    let _ = tokio::time::timeout(DEADLINE, stream.read_to_end(&mut out)).await;
    out
}

/// Go's `rejectConn` frame: GOAWAY, last stream 0, INADEQUATE_SECURITY, `debug`.
fn goaway(debug: &str) -> Vec<u8> {
    let mut frame = vec![0, 0, (8 + debug.len()) as u8, 7, 0, 0, 0, 0, 0];
    frame.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0xc]);
    frame.extend_from_slice(debug.as_bytes());
    frame
}

#[tokio::test]
async fn tls10_serves_http11_and_refuses_h2_with_go_s_goaway() -> anyhow::Result<()> {
    // Arrange
    let dir = tempfile::tempdir()?;
    let files = Pki::generate(KeyType::EcdsaP256)?.write_to(&dir.path().join("pki"))?;
    let exporter = exporter(
        dir.path(),
        &files,
        "  min_version: TLS10\n  max_version: TLS11\n",
        Compat::Current,
    )
    .await?;
    ensure!(
        exporter
            .warnings()
            .iter()
            .any(|w| w.contains("legacy TLS listener")),
        "no start-up note: {:?}",
        exporter.warnings()
    );

    // Act: HTTP/1.1 over TLS 1.0, then h2 over TLS 1.0.
    let mut http11 = connect(
        &exporter,
        SslVersion::TLS1,
        "ECDHE-ECDSA-AES128-SHA",
        b"\x08http/1.1",
    )
    .await?;
    http11
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await?;
    let answer = String::from_utf8_lossy(&read_all(&mut http11).await).into_owned();
    let mut h2 = connect(
        &exporter,
        SslVersion::TLS1,
        "ECDHE-ECDSA-AES128-SHA",
        b"\x02h2\x08http/1.1",
    )
    .await?;
    let h2_alpn = h2.ssl().selected_alpn_protocol().map(<[u8]>::to_vec);
    let refused = read_all(&mut h2).await;

    // Assert
    ensure!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    assert_eq!(h2_alpn.as_deref(), Some(&b"h2"[..]));
    assert_eq!(refused, goaway("TLS version too low"));
    let stats = exporter.stats();
    assert_eq!(stats.handshakes_ok, 2);
    let sessions: Vec<(String, String, String)> = stats
        .tls_sessions
        .iter()
        .map(|s| {
            (
                s.info.version.clone(),
                s.info.cipher_suite.clone(),
                s.info.alpn.clone(),
            )
        })
        .collect();
    assert_eq!(
        sessions,
        [
            (
                "TLSv1_0".into(),
                "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA".into(),
                "h2".into()
            ),
            (
                "TLSv1_0".into(),
                "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA".into(),
                "http/1.1".into()
            ),
        ]
    );
    assert_eq!(stats.requests_with_status(200), 1);
    Ok(())
}

#[tokio::test]
async fn a_cbc_suite_under_tls12_refuses_h2_as_prohibited() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let files = Pki::generate(KeyType::EcdsaP256)?.write_to(&dir.path().join("pki"))?;
    let exporter = exporter(
        dir.path(),
        &files,
        "  max_version: TLS12\n  cipher_suites: [TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256]\n",
        Compat::Current,
    )
    .await?;

    // A client that offers only the CBC suite gets it, then Go's GOAWAY.
    let mut h2 = connect(
        &exporter,
        SslVersion::TLS1_2,
        "ECDHE-ECDSA-AES128-SHA",
        b"\x02h2",
    )
    .await?;
    let refused = read_all(&mut h2).await;
    // A client that also offers GCM gets GCM (Go's preference) and HTTP/2 works.
    let gcm = connect(
        &exporter,
        SslVersion::TLS1_2,
        "ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES128-GCM-SHA256",
        b"\x02h2",
    )
    .await?;

    assert_eq!(refused, goaway("Prohibited TLS 1.2 Cipher Suite: c009"));
    assert_eq!(
        gcm.ssl().current_cipher().and_then(|c| c.standard_name()),
        Some("TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256")
    );
    Ok(())
}

#[tokio::test]
async fn a_missing_client_cert_over_tls12_gets_bad_certificate_in_both_profiles(
) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let pki = Pki::generate(KeyType::EcdsaP256)?;
    let files = pki.write_to(&dir.path().join("pki"))?;
    let extra = format!(
        "  min_version: TLS10\n  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: {}\n",
        files.ca().display()
    );
    for compat in [Compat::Current, Compat::NodeExporter15] {
        let exporter = exporter(dir.path(), &files, &extra, compat).await?;
        for version in [SslVersion::TLS1, SslVersion::TLS1_2] {
            let err = match connect(&exporter, version, "ECDHE-ECDSA-AES128-SHA", b"").await {
                Ok(_) => {
                    anyhow::bail!("{compat} {version:?}: handshake succeeded without a client cert")
                }
                Err(e) => format!("{e:#}"),
            };
            // OpenSSL's client names the alert it received.
            ensure!(
                err.contains("alert bad certificate"),
                "{compat} {version:?}: {err}"
            );
        }
        assert_eq!(
            exporter.stats().handshakes_failed_for("no_client_cert"),
            2,
            "{compat}"
        );
    }
    Ok(())
}

#[tokio::test]
async fn client_cert_checks_and_the_expiry_mutant_apply_on_the_legacy_listener(
) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let files = Pki::generate(KeyType::EcdsaP256)?.write_to(&dir.path().join("pki"))?;
    let extra = format!(
        "  min_version: TLS10\n  max_version: TLS10\n  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: {}\n",
        files.ca().display()
    );
    let cert = |c| (files.client_cert(c), files.client_key(c));
    let (valid, expired, rogue) = (
        cert(ClientCert::Valid),
        cert(ClientCert::Expired),
        cert(ClientCert::RogueCa),
    );
    let as_client =
        |(c, k): &(std::path::PathBuf, std::path::PathBuf)| Some((c.clone(), k.clone()));
    let strict = exporter(dir.path(), &files, &extra, Compat::Current).await?;
    let weak = exporter_with(
        dir.path(),
        &files,
        &extra,
        Compat::Current,
        vec![Mutant::InsecureIgnoreClientCertExpiry],
    )
    .await?;

    let mut outcomes = Vec::new();
    for (who, exporter) in [("strict", &strict), ("expiry mutant", &weak)] {
        for (name, client) in [
            ("valid", as_client(&valid)),
            ("expired", as_client(&expired)),
            ("rogue", as_client(&rogue)),
        ] {
            let client = client.as_ref().map(|(c, k)| (c.as_path(), k.as_path()));
            let result = connect_as(
                exporter,
                SslVersion::TLS1,
                "ECDHE-ECDSA-AES128-SHA",
                b"",
                client,
            )
            .await;
            let outcome = match result {
                Ok(_) => "accepted".to_owned(),
                Err(e) => {
                    let e = format!("{e:#}");
                    ["unknown ca", "certificate expired", "bad certificate"]
                        .into_iter()
                        .find(|a| e.contains(&format!("alert {a}")))
                        .map_or(e.clone(), |a| format!("alert {a}"))
                }
            };
            outcomes.push(format!("{who} / {name}: {outcome}"));
        }
    }

    // Go >= 1.21's alerts (the current profile), and the mutant accepts only the expired one.
    assert_eq!(
        outcomes,
        [
            "strict / valid: accepted",
            "strict / expired: alert certificate expired",
            "strict / rogue: alert unknown ca",
            "expiry mutant / valid: accepted",
            "expiry mutant / expired: accepted",
            "expiry mutant / rogue: alert unknown ca",
        ]
    );
    assert_eq!(
        strict.stats().handshakes_failed_for("client_cert_expired"),
        1
    );
    assert_eq!(
        strict
            .stats()
            .handshakes_failed_for("client_cert_unknown_ca"),
        1
    );
    Ok(())
}

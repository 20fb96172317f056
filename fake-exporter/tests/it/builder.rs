//! The typed `ExporterBuilder` setters give the same exporter a `web-config.yml` would:
//! TLS from an in-memory identity or from files (rotation included), client certificates,
//! Basic (hashed for the caller) and Bearer auth; a config file cannot be mixed with them.

use fake_exporter::pki::{ClientCert, KeyType, Pki, ServerCert};
use fake_exporter::{ClientAuthType, Error, FakeExporter, PemSource};

use crate::support::{basic_header, get, ClientSpec};

#[tokio::test]
async fn tls_and_basic_from_typed_setters_enforce_both() -> anyhow::Result<()> {
    // Arrange
    let pki = Pki::generate(KeyType::EcdsaP256)?;
    let exporter = FakeExporter::builder()
        .tls(pki.server(ServerCert::Valid))
        .basic_auth("prom", "secret")
        .bcrypt_cost(4)
        .start()
        .await?;
    let tls = ClientSpec::trusting(&pki);
    let good = basic_header("prom", "secret");
    let bad = basic_header("prom", "wrong");

    // Act
    let ok = get(
        exporter.addr(),
        Some(&tls),
        "/metrics",
        &[("authorization", &good)],
    )
    .await;
    let wrong = get(
        exporter.addr(),
        Some(&tls),
        "/metrics",
        &[("authorization", &bad)],
    )
    .await;
    let none = get(exporter.addr(), Some(&tls), "/metrics", &[]).await;

    // Assert
    assert_eq!(ok.answer().map(|a| a.status), Some(200), "{ok:?}");
    assert_eq!(wrong.answer().map(|a| a.status), Some(401), "{wrong:?}");
    let none = none.answer().expect("an answer");
    assert_eq!(none.status, 401);
    assert_eq!(
        none.headers.get("www-authenticate").map(String::as_str),
        Some("Basic")
    );
    assert!(exporter.is_tls());
    assert_eq!(exporter.stats().handshakes_ok, 3);
    Ok(())
}

#[tokio::test]
async fn mtls_from_files_verifies_client_certificates_and_rotates() -> anyhow::Result<()> {
    // Arrange
    let dir = tempfile::tempdir()?;
    let pki = Pki::generate(KeyType::EcdsaP256)?;
    let files = pki.write_to(dir.path())?;
    let served = dir.path().join("served.crt");
    std::fs::copy(files.server_cert(ServerCert::Valid), &served)?;
    let exporter = FakeExporter::builder()
        .tls_files(&served, files.server_key(ServerCert::Valid))
        .client_ca(files.ca())
        .client_auth(ClientAuthType::RequireAndVerifyClientCert)
        .start()
        .await?;
    let with_cert = ClientSpec::trusting(&pki).with_client(&pki, ClientCert::Valid);
    let rogue = ClientSpec::trusting(&pki).with_client(&pki, ClientCert::RogueCa);

    // Act + Assert: the client CA decides.
    let ok = get(exporter.addr(), Some(&with_cert), "/metrics", &[]).await;
    assert_eq!(ok.answer().map(|a| a.status), Some(200), "{ok:?}");
    let refused = get(exporter.addr(), Some(&rogue), "/metrics", &[]).await;
    assert!(
        refused.answer().is_none(),
        "a rogue client certificate is refused: {refused:?}"
    );

    // Rotation: an expired certificate on disk is served to the next connection.
    std::fs::copy(files.server_cert(ServerCert::Expired), &served)?;
    let expired = get(exporter.addr(), Some(&with_cert), "/metrics", &[]).await;
    let failure = expired
        .failure()
        .expect("the client refuses the expired certificate");
    assert!(failure.to_lowercase().contains("expired"), "{expired:?}");
    Ok(())
}

#[tokio::test]
async fn inline_client_ca_and_bearer_extension() -> anyhow::Result<()> {
    let pki = Pki::generate(KeyType::Ed25519)?;
    let exporter = FakeExporter::builder()
        .tls(pki.server(ServerCert::Valid))
        .client_ca(PemSource::inline(pki.ca_pem()))
        .client_auth(ClientAuthType::VerifyClientCertIfGiven)
        .bearer("t0ken")
        .start()
        .await?;
    let tls = ClientSpec::trusting(&pki);
    let ok = get(
        exporter.addr(),
        Some(&tls),
        "/metrics",
        &[("authorization", "Bearer t0ken")],
    )
    .await;
    assert_eq!(ok.answer().map(|a| a.status), Some(200), "{ok:?}");
    let bad = get(
        exporter.addr(),
        Some(&tls),
        "/metrics",
        &[("authorization", "Bearer nope")],
    )
    .await;
    assert_eq!(bad.answer().map(|a| a.status), Some(401), "{bad:?}");
    Ok(())
}

#[tokio::test]
async fn client_ca_without_a_policy_is_refused_at_start_like_the_toolkit() -> anyhow::Result<()> {
    let pki = Pki::generate(KeyType::EcdsaP256)?;
    let err = FakeExporter::builder()
        .tls(pki.server(ServerCert::Valid))
        .client_ca(PemSource::inline(pki.ca_pem()))
        .start()
        .await
        .expect_err("client_ca with NoClientCert");
    assert!(matches!(err, Error::Tls(_)), "{err:?}");
    assert!(
        err.to_string().contains("client_auth_type is NoClientCert"),
        "{err}"
    );
    Ok(())
}

#[tokio::test]
async fn a_config_file_cannot_be_mixed_with_typed_setters() {
    let err = FakeExporter::builder()
        .web_config_file("/nonexistent/web-config.yml")
        .basic_auth("prom", "secret")
        .start()
        .await
        .expect_err("file + typed");
    assert!(
        matches!(
            err,
            Error::FileAndTypedConfig {
                setting: ".basic_auth(..)",
                ..
            }
        ),
        "{err:?}"
    );
}

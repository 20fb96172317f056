//! Receiver modes over real sockets: TLS + Basic in front of the remote-write and
//! Alertmanager endpoints, refusals counted as 401s, accepted bodies counted exactly.

use std::time::Duration;

use fake_exporter::pki::{KeyType, Pki, ServerCert};
use fake_exporter::{FakeExporter, Label, Receiver, TimeSeries, WriteRequest, WriteSample};

fn client(pki: &Pki) -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(pki.ca_pem().as_bytes())?)
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .build()?)
}

fn series(name: &str, samples: usize) -> TimeSeries {
    TimeSeries {
        labels: vec![Label {
            name: "__name__".into(),
            value: name.into(),
        }],
        samples: (0..samples)
            .map(|i| WriteSample {
                value: i as f64,
                timestamp: 1_700_000_000_000 + i as i64,
            })
            .collect(),
    }
}

#[tokio::test]
async fn remote_write_behind_tls_and_basic_counts_only_authenticated_writes() -> anyhow::Result<()>
{
    // Arrange
    let pki = Pki::generate(KeyType::EcdsaP256)?;
    let receiver = FakeExporter::builder()
        .tls(pki.server(ServerCert::Valid))
        .basic_auth("prom", "s3cret")
        .bcrypt_cost(4)
        .receiver(Receiver::RemoteWrite)
        .start()
        .await?;
    let body = WriteRequest {
        timeseries: vec![series("a", 2), series("b", 1)],
    }
    .encode_snappy();
    let http = client(&pki)?;
    let url = receiver.url("/api/v1/write");
    let post = |auth: Option<(&str, &str)>| {
        let mut request = http
            .post(&url)
            .header("content-encoding", "snappy")
            .header("content-type", "application/x-protobuf")
            .header("x-prometheus-remote-write-version", "0.1.0")
            .body(body.clone());
        if let Some((user, password)) = auth {
            request = request.basic_auth(user, Some(password));
        }
        request.send()
    };

    // Act
    let none = post(None).await?.status();
    let wrong = post(Some(("prom", "guess"))).await?.status();
    let right = post(Some(("prom", "s3cret"))).await?.status();
    let garbage = http
        .post(&url)
        .basic_auth("prom", Some("s3cret"))
        .body("not snappy")
        .send()
        .await?
        .status();
    let metrics = http
        .get(receiver.url("/metrics"))
        .basic_auth("prom", Some("s3cret"))
        .send()
        .await?
        .status();

    // Assert
    assert_eq!(
        [none, wrong, right, garbage, metrics].map(|s| s.as_u16()),
        [401, 401, 204, 400, 200]
    );
    let stats = receiver.shutdown().await;
    assert_eq!(stats.requests_with_status(401), 2);
    assert_eq!(
        (
            stats.received.requests,
            stats.received.rejected,
            stats.received.series,
            stats.received.samples
        ),
        (1, 1, 2, 3)
    );
    Ok(())
}

#[tokio::test]
async fn the_alertmanager_endpoint_counts_alerts_and_leaves_metrics_served() -> anyhow::Result<()> {
    // Arrange
    let receiver = FakeExporter::builder()
        .receiver(Receiver::Alertmanager)
        .start()
        .await?;
    let http = reqwest::Client::builder().no_proxy().build()?;
    let alerts = r#"[{"labels":{"alertname":"A"}},{"labels":{"alertname":"B"}},{"labels":{"alertname":"C"}}]"#;

    // Act
    let posted = http
        .post(receiver.url("/api/v2/alerts"))
        .header("content-type", "application/json")
        .body(alerts)
        .send()
        .await?
        .status();
    let other = http
        .post(receiver.url("/api/v1/alerts"))
        .body(alerts)
        .send()
        .await?
        .status();

    // Assert
    assert_eq!((posted.as_u16(), other.as_u16()), (200, 404));
    let stats = receiver.shutdown().await;
    assert_eq!((stats.received.requests, stats.received.alerts), (1, 3));
    Ok(())
}

//! The observation log and `close_connections()`, over real sockets: which connection
//! each request came on, whether it was reused, the Basic user and a fingerprint of the
//! password (never the password), and a forced reconnect.

use std::time::Duration;

use anyhow::{ensure, Result};
use fake_exporter::{credential_fingerprint, FakeExporter};

#[tokio::test]
async fn requests_are_observed_per_connection_and_close_connections_forces_a_new_one() -> Result<()>
{
    // Arrange: a Basic-auth exporter that observes, and one keep-alive client.
    let exporter = FakeExporter::builder()
        .basic_auth("prom", "old-secret")
        .bcrypt_cost(4)
        .observe(16)
        .start()
        .await?;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(1)
        .timeout(Duration::from_secs(30))
        .build()?;
    let get = |password: &'static str| {
        client
            .get(exporter.url("/metrics"))
            .basic_auth("prom", Some(password))
            .send()
    };

    // Act: two requests on one connection, a close, then a third with a wrong password.
    ensure!(get("old-secret").await?.status() == 200);
    ensure!(get("old-secret").await?.status() == 200);
    exporter.close_connections();
    // Wait (polling, bounded) until the exporter has closed it.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while exporter.stats().connections_open > 0 {
        ensure!(
            tokio::time::Instant::now() < deadline,
            "the connection was not closed within 30 s"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // The client may still try its pooled connection once (closed under it) and retry.
    let mut third = None;
    for _ in 0..3 {
        if let Ok(r) = get("new-secret").await {
            third = Some(r.status().as_u16());
            break;
        }
    }

    // Assert
    ensure!(third == Some(401), "third request: {third:?}");
    let seen = exporter.observations();
    ensure!(seen.len() == 3, "{seen:#?}");
    ensure!(seen[0].connection == seen[1].connection, "{seen:#?}");
    ensure!(
        seen[0].request_on_connection == 0 && seen[1].request_on_connection == 1,
        "{seen:#?}"
    );
    ensure!(seen[2].connection != seen[1].connection, "{seen:#?}");
    ensure!(seen[2].request_on_connection == 0, "{seen:#?}");
    let old = credential_fingerprint("old-secret");
    let new = credential_fingerprint("new-secret");
    ensure!(
        seen[0].credential.as_deref() == Some(old.as_str())
            && seen[2].credential.as_deref() == Some(new.as_str()),
        "{seen:#?}"
    );
    ensure!(
        seen.iter()
            .all(|o| o.basic_user.as_deref() == Some("prom") && o.scheme == Some("basic")),
        "{seen:#?}"
    );
    ensure!(
        seen.iter().map(|o| o.status).collect::<Vec<_>>() == [200, 200, 401],
        "{seen:#?}"
    );
    let debug = format!("{seen:?}");
    ensure!(!debug.contains("secret"), "a secret leaked: {debug}");
    Ok(())
}

#[tokio::test]
async fn nothing_is_observed_unless_asked() -> Result<()> {
    let exporter = FakeExporter::start().await?;
    let status = reqwest::get(exporter.url("/metrics")).await?.status();
    ensure!(status == 200);
    ensure!(exporter.observations().is_empty());
    Ok(())
}

#[tokio::test]
async fn the_binary_serves_observations_and_closes_connections_on_its_control_endpoint(
) -> Result<()> {
    use crate::support::{fake_exporter_bin, free_addr, Proc};

    // Arrange: the binary with a control endpoint that observes.
    let dir = tempfile::tempdir()?;
    let (addr, control) = (free_addr(), free_addr());
    let mut proc = Proc::spawn(
        "fake-exporter",
        fake_exporter_bin(),
        &[
            format!("--web.listen-address={addr}"),
            format!("--control.listen-address={control}"),
            "--control.observe=8".to_owned(),
        ],
        dir.path(),
    )?;
    proc.wait_listening(addr).await?;
    proc.wait_listening(control).await?;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?;

    // Act: one scrape, a forced close, the log.
    ensure!(
        client
            .get(format!("http://{addr}/metrics"))
            .send()
            .await?
            .status()
            == 200,
        "{}",
        proc.report()
    );
    let closed = client
        .post(format!("http://{control}/close-connections"))
        .send()
        .await?
        .status();
    let seen: serde_json::Value = client
        .get(format!("http://{control}/observations"))
        .send()
        .await?
        .json()
        .await?;

    // The kept-alive scrape connection goes away (polled, bounded).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let stats: serde_json::Value = client
            .get(format!("http://{control}/stats"))
            .send()
            .await?
            .json()
            .await?;
        if stats[0]["connections_open"] == 0 {
            break;
        }
        ensure!(
            tokio::time::Instant::now() < deadline,
            "still open after close-connections: {stats:#}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    // Assert
    ensure!(closed == 204, "{closed}");
    let first = &seen[0];
    ensure!(
        seen.as_array().map(Vec::len) == Some(1)
            // (ids count every accepted connection: the readiness probe had one)
            && first["connection"].as_u64().is_some_and(|id| id >= 1)
            && first["request_on_connection"] == 0
            && first["status"] == 200
            && first["path"] == "/metrics",
        "{seen:#}"
    );
    Ok(())
}

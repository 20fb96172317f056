//! `fake-exporter fleet --config`: groups on explicit port ranges come up, each listener
//! answers in its group's mode, the control endpoint counts per listener, and fleets that
//! cannot work are refused before anything is bound.

use std::net::SocketAddr;
use std::time::Duration;

use fake_exporter::pki::{KeyType, Pki, ServerCert};

use crate::support::{
    basic_header, bcrypt_hash, fake_exporter_bin, free_addr, get, poll, ClientSpec, Observation,
    Proc,
};

/// Ports for this test: inside the range the fleet may use, away from other tests' fleets.
const TLS_PORTS: (u16, u16) = (23_400, 23_419);
const PLAIN_PORTS: (u16, u16) = (23_420, 23_469);

#[tokio::test(flavor = "multi_thread")]
async fn a_fleet_serves_every_group_in_its_mode() -> anyhow::Result<()> {
    // Arrange: a TLS + Basic group and a plain group.
    let dir = tempfile::tempdir()?;
    let pki = Pki::generate(KeyType::EcdsaP256)?;
    let files = pki.write_to(&dir.path().join("pki"))?;
    std::fs::write(
        dir.path().join("tls-basic.yml"),
        format!(
            "tls_server_config:\n  cert_file: {}\n  key_file: {}\nbasic_auth_users:\n  prom: '{}'\n",
            files.server_cert(ServerCert::Valid).display(),
            files.server_key(ServerCert::Valid).display(),
            bcrypt_hash("s3cret"),
        ),
    )?;
    std::fs::write(
        dir.path().join("fleet.yaml"),
        format!(
            "groups:\n  - name: tls-basic\n    ports: {}-{}\n    web_config: tls-basic.yml\n    metrics: {{ series: 20 }}\n  - name: plain\n    ports: {}-{}\n",
            TLS_PORTS.0, TLS_PORTS.1, PLAIN_PORTS.0, PLAIN_PORTS.1
        ),
    )?;
    let control = free_addr();

    // Act
    let mut fleet = Proc::spawn(
        "fleet",
        fake_exporter_bin(),
        &[
            "fleet".into(),
            "--config".into(),
            dir.path().join("fleet.yaml").display().to_string(),
            format!("--control.listen-address={control}"),
        ],
        dir.path(),
    )?;
    let ready = poll(
        "fleet control endpoint",
        Duration::from_secs(20),
        || async {
            match get(control, None, "/stats", &[]).await {
                Observation::Response(a) if a.status == 200 => Ok(()),
                other => Err(format!("{other:?}")),
            }
        },
    )
    .await;
    if let Err(e) = ready {
        anyhow::bail!("{e}\n{}", fleet.report());
    }

    // Assert: every TLS listener needs the CA and the password; every plain one answers.
    let trusting = ClientSpec::trusting(&pki);
    let auth = basic_header("prom", "s3cret");
    for port in TLS_PORTS.0..=TLS_PORTS.1 {
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let ok = get(
            addr,
            Some(&trusting),
            "/metrics",
            &[("authorization", auth.as_str())],
        )
        .await;
        let Observation::Response(a) = &ok else {
            anyhow::bail!("{addr}: {ok:?}\n{}", fleet.report());
        };
        assert_eq!(a.status, 200, "{addr}: {ok:?}");
        assert_eq!(a.tls_version, "TLSv1_3", "{addr}");
        let no_auth = get(addr, Some(&trusting), "/metrics", &[]).await;
        assert!(
            matches!(&no_auth, Observation::Response(a) if a.status == 401),
            "{addr}: {no_auth:?}"
        );
    }
    for port in PLAIN_PORTS.0..=PLAIN_PORTS.1 {
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let ok = get(addr, None, "/metrics", &[]).await;
        assert!(
            matches!(&ok, Observation::Response(a) if a.status == 200 && a.tls_version == "plain"),
            "{addr}: {ok:?}"
        );
    }
    let stdout = fleet.stdout();
    assert!(
        stdout.contains("fleet: 70 listeners in 2 groups"),
        "{stdout}"
    );
    assert!(stdout.contains("fd budget"), "{stdout}");

    // The control endpoint counts per listener on request: two requests on each TLS
    // listener.
    let body = reqwest::get(format!("http://{control}/stats?per=listener"))
        .await?
        .text()
        .await?;
    let stats: serde_json::Value = serde_json::from_str(&body)?;
    let listeners = stats.as_array().expect("an array of listeners");
    assert_eq!(listeners.len(), 70);
    let first_tls = listeners
        .iter()
        .find(|l| l["addr"] == format!("127.0.0.1:{}", TLS_PORTS.0))
        .expect("first TLS listener listed");
    assert_eq!(first_tls["handshakes_ok"], 2, "{first_tls}");
    let tls_group = first_tls["group"].as_str().expect("its group").to_owned();

    // By default, per group: the sums of the listeners' counters.
    let body = reqwest::get(format!("http://{control}/stats"))
        .await?
        .text()
        .await?;
    let groups: serde_json::Value = serde_json::from_str(&body)?;
    let groups = groups.as_array().expect("an array of groups");
    assert_eq!(groups.len(), 2, "{body}");
    let tls = groups
        .iter()
        .find(|g| g["group"] == tls_group.as_str())
        .expect("the TLS group listed");
    let tls_listeners = tls["listeners"].as_u64().expect("a listener count");
    assert_eq!(
        tls["handshakes_ok"].as_u64(),
        Some(2 * tls_listeners),
        "{tls}"
    );
    assert_eq!(tls["first"], format!("127.0.0.1:{}", TLS_PORTS.0));
    Ok(())
}

#[test]
fn fleets_that_cannot_work_are_refused_before_binding() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    for (yaml, expected) in [
        (
            "groups:\n  - name: hi\n    ports: 40000-40010\n",
            "overlap the ephemeral range",
        ),
        (
            "groups:\n  - name: a\n    ports: 21000-21010\n  - name: b\n    ports: 21010-21020\n",
            "both use port 21010",
        ),
        (
            "connections_per_listener: 1000\ngroups:\n  - name: big\n    ports: 20000-29999\n",
            "file descriptors",
        ),
        (
            "groups:\n  - name: typo\n    portz: 20000\n",
            "unknown field `portz`",
        ),
    ] {
        let file = dir.path().join("fleet.yaml");
        std::fs::write(&file, yaml)?;
        let out = std::process::Command::new(fake_exporter_bin())
            .args(["fleet", "--config"])
            .arg(&file)
            .output()?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{yaml}: should be refused");
        assert!(
            stderr.contains(expected),
            "{yaml}: stderr lacks `{expected}`:\n{stderr}"
        );
        assert!(
            stderr.contains("fleet.yaml"),
            "{yaml}: the file is not named:\n{stderr}"
        );
    }
    Ok(())
}

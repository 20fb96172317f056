//! An mTLS fake exporter you can curl, from the library API.
//!
//! ```sh
//! cargo run -p fake-exporter --example mtls_listener
//! ```
//!
//! It writes a test PKI to a temp dir, starts a listener on 127.0.0.1 that requires and
//! verifies client certificates, prints the curl command, and stops on Ctrl-C with its
//! counters.

use fake_exporter::pki::{ClientCert, KeyType, Pki, ServerCert};
use fake_exporter::FakeExporter;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let files = Pki::generate(KeyType::EcdsaP256)?.write_to(dir.path())?;
    let web_config = dir.path().join("web-config.yml");
    std::fs::write(
        &web_config,
        format!(
            "tls_server_config:\n  cert_file: {}\n  key_file: {}\n  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: {}\n",
            files.server_cert(ServerCert::Valid).display(),
            files.server_key(ServerCert::Valid).display(),
            files.ca().display(),
        ),
    )?;
    let exporter = FakeExporter::builder()
        .web_config_file(&web_config)
        .start()
        .await?;
    println!(
        "curl --cacert {} --cert {} --key {} {}",
        files.ca().display(),
        files.client_cert(ClientCert::Valid).display(),
        files.client_key(ClientCert::Valid).display(),
        exporter.url("/metrics")
    );
    println!("Ctrl-C to stop");
    tokio::signal::ctrl_c().await?;
    let stats = exporter.shutdown().await;
    println!(
        "{} handshakes ok, {:?} failed, {} requests",
        stats.handshakes_ok,
        stats.handshakes_failed,
        stats.requests_total()
    );
    Ok(())
}

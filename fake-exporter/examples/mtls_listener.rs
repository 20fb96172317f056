//! An mTLS fake exporter you can curl, from the library API.
//!
//! ```sh
//! cargo run -p fake-exporter --example mtls_listener
//! ```
//!
//! It writes a test PKI to a temp dir (for curl), starts a listener on 127.0.0.1 that
//! requires and verifies client certificates, prints the curl command, and stops on Ctrl-C
//! with its counters.

use fake_exporter::{ClientAuthType, ClientCert, FakeExporter, KeyType, Pki, ServerCert};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let files = Pki::generate(KeyType::EcdsaP256)?.write_to(dir.path())?;
    let exporter = FakeExporter::builder()
        .tls_files(
            files.server_cert(ServerCert::Valid),
            files.server_key(ServerCert::Valid),
        )
        .client_ca(files.ca())
        .client_auth(ClientAuthType::RequireAndVerifyClientCert)
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

//! Where the memory of many in-process exporters goes, as the scenario runner starts them
//! (one exporter per case, each with its own `web-config.yml` naming shared PKI files):
//! resident memory after each stage, per exporter.
//!
//! ```text
//! cargo run --release -p fake-exporter --example exporter_memory -- 1000
//! ```
//!
//! Stages: plain exporters sharing one built set of metric families
//! (`ExporterBuilder::shared_metrics`), TLS exporters (sharing them too), one HTTPS scrape of
//! each TLS exporter (the first connection builds and caches its rustls config; the
//! connection is closed afterwards, so what stays is the server's), and last, for
//! comparison, plain exporters that each build their own families.

use std::sync::Arc;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use fake_exporter::pki::{KeyType, Pki, ServerCert};
use fake_exporter::{FakeExporter, Metrics, MetricsSpec, RunningExporter};

fn client_config(ca_pem: &str) -> anyhow::Result<Arc<rustls::ClientConfig>> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert?)?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(Arc::new(
        rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth(),
    ))
}

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn report(stage: &str, before: u64, n: usize) -> u64 {
    let now = rss_kib();
    println!(
        "{stage:<48} RSS {:>7.1} MiB  (+{:>6.1} KiB per exporter)",
        now as f64 / 1024.0,
        now.saturating_sub(before) as f64 / n as f64
    );
    now
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let n: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(1000);
    let dir = tempfile::tempdir()?;
    let pki = Pki::generate(KeyType::EcdsaP256)?.write_to(&dir.path().join("pki"))?;
    let web_config = |i: usize, tls: bool| -> anyhow::Result<std::path::PathBuf> {
        let path = dir.path().join(format!("web-{tls}-{i}.yml"));
        let text = if tls {
            format!(
                "tls_server_config:\n  cert_file: {}\n  key_file: {}\n",
                pki.server_cert(ServerCert::Valid).display(),
                pki.server_key(ServerCert::Valid).display()
            )
        } else {
            String::new()
        };
        std::fs::write(&path, text)?;
        Ok(path)
    };
    let start = report("start (PKI written)", rss_kib(), 1);

    let shared = Arc::new(Metrics::new(MetricsSpec::default()));
    let base = start;
    let mut plain: Vec<RunningExporter> = Vec::with_capacity(n);
    for i in 0..n {
        plain.push(
            FakeExporter::builder()
                .web_config_file(web_config(i, false)?)
                .shared_metrics(shared.clone())
                .start()
                .await?,
        );
    }
    report("plain, shared metric families", base, n);
    let base = rss_kib();
    let mut tls: Vec<RunningExporter> = Vec::with_capacity(n);
    for i in 0..n {
        tls.push(
            FakeExporter::builder()
                .web_config_file(web_config(i, true)?)
                .shared_metrics(shared.clone())
                .start()
                .await?,
        );
    }
    let after_tls = report("TLS, shared metric families", base, n);
    {
        let client = client_config(&std::fs::read_to_string(pki.ca())?)?;
        let connector = tokio_rustls::TlsConnector::from(client);
        for e in &tls {
            let tcp = tokio::net::TcpStream::connect(e.addr()).await?;
            let name = rustls_pki_types::ServerName::try_from("127.0.0.1")?.to_owned();
            let mut stream = connector.connect(name, tcp).await?;
            stream
                .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                .await?;
            let mut body = Vec::new();
            stream.read_to_end(&mut body).await.ok();
        }
    }
    report("TLS, after one scrape each (config cached)", after_tls, n);
    let before_own = rss_kib();
    let mut own = Vec::with_capacity(n);
    for i in 0..n {
        own.push(
            FakeExporter::builder()
                .web_config_file(web_config(i, false)?)
                .metrics(MetricsSpec::default())
                .start()
                .await?,
        );
    }
    report("plain, each with its own metric families", before_own, n);
    drop((plain, tls, own));
    Ok(())
}

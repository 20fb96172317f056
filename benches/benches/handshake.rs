//! Full TLS handshake cost, in memory (no sockets), by key type × TLS version.
//!
//! Every handshake is a new client and server connection; the client has resumption
//! disabled, as Prometheus never resumes. Client and server run on the same thread, so a
//! measurement is the CPU of BOTH sides (the client verifies the chain against the CA and
//! checks the name `localhost`). The client offers ALPN `h2, http/1.1` like Prometheus.
//!
//! Three server sides per key type and version:
//! * `fake-exporter`: what a fake-exporter TLS listener does per connection: read the
//!   ClientHello with `rustls::server::Acceptor`, build the server config from the
//!   `tls_server_config` (reading cert and key files again, for rotation, like
//!   exporter-toolkit's `GetConfigForClient`), then handshake;
//! * `fake-exporter-prebuilt`: the same config built once, to separate the per-connection
//!   rebuild from the handshake;
//! * `rustls-floor`: a plain `ServerConfig::with_single_cert` with the same certificate
//!   and `ServerConnection::new`, the least a rustls server can do.
//!
//! ```text
//! cargo bench -p benches --bench handshake
//! cargo bench -p benches --bench handshake -- --test     # smoke: each case once
//! ```

use std::sync::Arc;
use std::time::Duration;

use benches::{pump, server_name, Mode, PkiDir};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use fake_exporter::pki::{KeyType, ServerCert};
use fake_exporter::{server_config, WebConfig};
use rustls::server::Acceptor;
use rustls::{ClientConfig, ClientConnection, ServerConfig, ServerConnection};

const VERSIONS: [(&str, &rustls::SupportedProtocolVersion); 2] = [
    ("tls12", &rustls::version::TLS12),
    ("tls13", &rustls::version::TLS13),
];

const ALPN: [&[u8]; 2] = [b"h2", b"http/1.1"];

fn handshakes(c: &mut Criterion) {
    let fixtures: Vec<(KeyType, PkiDir, WebConfig)> = KeyType::ALL
        .iter()
        .map(|&kt| {
            let dir = PkiDir::generate(kt).expect("generate the test PKI");
            let tls = dir.web_config(Mode::Tls).expect("build the TLS web config");
            (kt, dir, tls)
        })
        .collect();

    for (version_name, version) in VERSIONS {
        for variant in ["fake-exporter", "fake-exporter-prebuilt", "rustls-floor"] {
            let mut group = c.benchmark_group(format!("handshake/{variant}/{version_name}"));
            group.throughput(Throughput::Elements(1));
            group.measurement_time(Duration::from_secs(4));
            for (kt, dir, tls) in &fixtures {
                let client = dir
                    .client_config(version, false, &ALPN)
                    .expect("client config");
                let prebuilt = fake_exporter_config(tls);
                let floor = floor_config(dir);
                // Prove the case works once before timing it.
                let server = ServerSide::new(variant, tls, &prebuilt, &floor);
                let got = server.handshake(&client);
                assert_eq!(
                    got.version,
                    Some(version.version),
                    "{variant} {kt} {version_name}: negotiated version"
                );
                assert_eq!(
                    got.alpn.as_deref(),
                    Some(&b"h2"[..]),
                    "{variant} {kt}: ALPN"
                );
                group.bench_function(BenchmarkId::from_parameter(kt), |b| {
                    b.iter(|| server.handshake(&client))
                });
            }
            group.finish();
        }
    }
}

/// What a finished handshake negotiated.
struct Negotiated {
    version: Option<rustls::ProtocolVersion>,
    alpn: Option<Vec<u8>>,
}

enum ServerSide<'a> {
    /// Config rebuilt from the `tls_server_config` for every connection.
    PerConnection(&'a WebConfig),
    /// fake-exporter's config, built once, through the Acceptor.
    Prebuilt(Arc<ServerConfig>),
    /// A minimal rustls config.
    Floor(Arc<ServerConfig>),
}

impl<'a> ServerSide<'a> {
    fn new(
        variant: &str,
        tls: &'a WebConfig,
        prebuilt: &Arc<ServerConfig>,
        floor: &Arc<ServerConfig>,
    ) -> Self {
        match variant {
            "fake-exporter" => ServerSide::PerConnection(tls),
            "fake-exporter-prebuilt" => ServerSide::Prebuilt(prebuilt.clone()),
            _ => ServerSide::Floor(floor.clone()),
        }
    }

    fn handshake(&self, client_config: &Arc<ClientConfig>) -> Negotiated {
        let mut client =
            ClientConnection::new(client_config.clone(), server_name()).expect("client connection");
        let mut server = match self {
            ServerSide::Floor(config) => {
                ServerConnection::new(config.clone()).expect("server connection")
            }
            ServerSide::Prebuilt(config) => accept(&mut client, || config.clone()),
            ServerSide::PerConnection(tls) => accept(&mut client, || fake_exporter_config(tls)),
        };
        pump(&mut client, &mut server).expect("handshake");
        Negotiated {
            version: client.protocol_version(),
            alpn: server.alpn_protocol().map(<[u8]>::to_vec),
        }
    }
}

/// The fake-exporter path: the Acceptor reads the ClientHello, then the config is chosen.
fn accept(
    client: &mut ClientConnection,
    config: impl FnOnce() -> Arc<ServerConfig>,
) -> ServerConnection {
    let mut hello = Vec::new();
    client.write_tls(&mut hello).expect("write ClientHello");
    let mut acceptor = Acceptor::default();
    acceptor
        .read_tls(&mut &hello[..])
        .expect("acceptor reads the ClientHello");
    let accepted = acceptor
        .accept()
        .map_err(|(e, _)| e)
        .expect("ClientHello parses")
        .expect("a whole ClientHello was given");
    accepted
        .into_connection(config())
        .map_err(|(e, _)| e)
        .expect("server connection from the accepted ClientHello")
}

fn fake_exporter_config(config: &WebConfig) -> Arc<ServerConfig> {
    server_config(config)
        .expect("fake-exporter builds the TLS config")
        .expect("the TLS web config has a tls_server_config")
}

fn floor_config(dir: &PkiDir) -> Arc<ServerConfig> {
    let id = dir.pki().server(ServerCert::Valid);
    let mut config =
        ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_protocol_versions(rustls::ALL_VERSIONS)
            .expect("ring supports TLS 1.2 and 1.3")
            .with_no_client_auth()
            .with_single_cert(id.cert_chain().to_vec(), id.private_key())
            .expect("valid server identity");
    config.alpn_protocols = ALPN.iter().map(|p| p.to_vec()).collect();
    Arc::new(config)
}

criterion_group!(benches, handshakes);
criterion_main!(benches);

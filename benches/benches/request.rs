//! Cost of one `/metrics` request against a real `FakeExporter` on 127.0.0.1, by security
//! mode, over a kept-alive connection and over a new connection per request.
//!
//! Modes: plain; Basic with the right password (bcrypt cost 10, outcome cached after the
//! first request, which is what a scraping Prometheus hits); Basic with a different wrong
//! password on every request, so every request misses the cache and runs bcrypt at cost 4
//! (the minimum, to keep the run bounded: cost 10 is 64× that); a static Bearer token; TLS;
//! mTLS (`RequireAndVerifyClientCert`). TLS modes run for every key type, TLS 1.3, and the
//! client offers ALPN `http/1.1` only (this client speaks HTTP/1.1; Prometheus would offer
//! h2). The client never resumes TLS sessions, like Prometheus.
//!
//! The exporter reads its `web-config.yml` from a file, as in production (re-read per
//! request and per TLS connection), and serves 100 samples. Client and server share the
//! machine: the exporter runs on a 2-worker tokio runtime, the client on the bench thread.
//!
//! ```text
//! cargo bench -p benches --bench request
//! cargo bench -p benches --bench request -- --test     # smoke: each case once
//! ```

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use benches::{Client, Mode, PkiDir, RequestAuth, PASSWORD, TOKEN, USER};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use fake_exporter::pki::KeyType;
use fake_exporter::MetricsSpec;
use fake_exporter::{FakeExporter, RunningExporter};
use rustls::ClientConfig;
use tokio::runtime::Runtime;

/// One started case: the exporter, and how to reach it.
struct Case {
    id: String,
    mode: Mode,
    exporter: RunningExporter,
    tls: Option<Arc<ClientConfig>>,
    // Keeps the PKI and web-config files alive while the exporter reads them.
    _dir: Arc<PkiDir>,
}

impl Case {
    fn expected_status(&self) -> u16 {
        match self.mode {
            Mode::BasicUncached => 401,
            _ => 200,
        }
    }

    async fn connect(&self) -> Client {
        let addr = self.exporter.addr();
        let client = match &self.tls {
            Some(config) => Client::connect_tls(addr, config.clone()).await,
            None => Client::connect_plain(addr).await,
        };
        client.unwrap_or_else(|e| panic!("{}: connecting to {addr}: {e}", self.id))
    }

    /// The credentials of the next request: the uncached Basic mode never repeats a password.
    fn auth(&self, n: u64) -> RequestAuth {
        match self.mode {
            Mode::BasicCached => RequestAuth::basic(USER, PASSWORD),
            Mode::BasicUncached => RequestAuth::basic(USER, &format!("wrong-{n}")),
            Mode::Bearer => RequestAuth::bearer(TOKEN),
            Mode::Plain | Mode::Tls | Mode::Mtls => RequestAuth::default(),
        }
    }

    async fn request(&self, client: &mut Client, n: u64) {
        let (status, len) = client
            .get("/metrics", &self.auth(n))
            .await
            .unwrap_or_else(|e| panic!("{}: GET /metrics: {e}", self.id));
        assert_eq!(status, self.expected_status(), "{}: status", self.id);
        assert!(len > 0, "{}: empty body", self.id);
    }
}

fn cases(rt: &Runtime) -> Vec<Case> {
    let ecdsa = Arc::new(PkiDir::generate(KeyType::EcdsaP256).expect("generate the test PKI"));
    let mut cases = Vec::new();
    for mode in [
        Mode::Plain,
        Mode::BasicCached,
        Mode::BasicUncached,
        Mode::Bearer,
    ] {
        cases.push(start(rt, mode, ecdsa.clone(), mode.name().to_owned()));
    }
    for &kt in KeyType::ALL {
        let dir = if kt == KeyType::EcdsaP256 {
            ecdsa.clone()
        } else {
            Arc::new(PkiDir::generate(kt).expect("generate the test PKI"))
        };
        for mode in [Mode::Tls, Mode::Mtls] {
            cases.push(start(
                rt,
                mode,
                dir.clone(),
                format!("{}/{kt}", mode.name()),
            ));
        }
    }
    cases
}

fn start(rt: &Runtime, mode: Mode, dir: Arc<PkiDir>, id: String) -> Case {
    let mut builder = FakeExporter::builder().metrics(MetricsSpec {
        series: 100,
        ..MetricsSpec::default()
    });
    if mode != Mode::Plain {
        let path = dir.write_web_config(mode).expect("write the web config");
        builder = builder.web_config_file(path);
    }
    let exporter = rt
        .block_on(builder.start())
        .unwrap_or_else(|e| panic!("{id}: starting the exporter: {e}"));
    let tls = mode.is_tls().then(|| {
        dir.client_config(&rustls::version::TLS13, mode == Mode::Mtls, &[b"http/1.1"])
            .expect("client config")
    });
    Case {
        id,
        mode,
        exporter,
        tls,
        _dir: dir,
    }
}

fn requests(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let cases = cases(&rt);
    let counter = AtomicU64::new(0);

    let mut group = c.benchmark_group("request/keep-alive");
    group.throughput(Throughput::Elements(1));
    group.measurement_time(Duration::from_secs(3));
    for case in &cases {
        let mut client = rt.block_on(case.connect());
        // Warm the connection (and the bcrypt cache of the cached Basic mode) once.
        rt.block_on(case.request(&mut client, counter.fetch_add(1, Ordering::Relaxed)));
        group.bench_function(BenchmarkId::from_parameter(&case.id), |b| {
            b.iter(|| {
                let n = counter.fetch_add(1, Ordering::Relaxed);
                rt.block_on(case.request(&mut client, n));
            })
        });
    }
    group.finish();

    let mut group = c.benchmark_group("request/new-connection");
    group.throughput(Throughput::Elements(1));
    group.measurement_time(Duration::from_secs(3));
    for case in &cases {
        group.bench_function(BenchmarkId::from_parameter(&case.id), |b| {
            b.iter(|| {
                let n = counter.fetch_add(1, Ordering::Relaxed);
                rt.block_on(async {
                    let mut client = case.connect().await;
                    case.request(&mut client, n).await;
                });
            })
        });
    }
    group.finish();

    // Each request was checked above; the exporter's own counters must agree that every
    // TLS connection completed a full handshake and none failed.
    for case in &cases {
        let stats = case.exporter.stats();
        assert!(
            stats.connections_accepted > 0,
            "{}: no connection seen",
            case.id
        );
        if case.mode.is_tls() {
            assert_eq!(
                stats.handshakes_failed_total(),
                0,
                "{}: failed handshakes: {:?}",
                case.id,
                stats.handshakes_failed
            );
            assert_eq!(
                stats.handshakes_ok, stats.connections_accepted,
                "{}: one full handshake per connection",
                case.id
            );
        }
    }
    drop(cases);
    rt.shutdown_timeout(Duration::from_secs(5));
}

criterion_group!(benches, requests);
criterion_main!(benches);

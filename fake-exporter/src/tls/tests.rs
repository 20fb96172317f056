//! Real handshakes (tokio-rustls over an in-memory duplex) against configs built from files
//! generated with rcgen, one test per Go client-auth behaviour.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use tokio_rustls::{TlsAcceptor, TlsConnector};

use super::*;
use crate::web_config::WebConfig;

struct Pki {
    dir: tempfile::TempDir,
    ca: Issuer<'static, KeyPair>,
    ca_pem: String,
}

struct Identity {
    cert_pem: String,
    key_pem: String,
}

impl Pki {
    fn new() -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let key = KeyPair::generate().unwrap();
        let ca_pem = params.self_signed(&key).unwrap().pem();
        let ca = Issuer::new(params, key);
        let pki = Self {
            dir: tempfile::tempdir().unwrap(),
            ca,
            ca_pem,
        };
        let server = pki.issue(&["localhost"], ExtendedKeyUsagePurpose::ServerAuth, false);
        pki.write("server.crt", &server.cert_pem);
        pki.write("server.key", &server.key_pem);
        pki.write("ca.pem", &pki.ca_pem.clone());
        pki
    }

    fn issue(&self, sans: &[&str], eku: ExtendedKeyUsagePurpose, expired: bool) -> Identity {
        let sans: Vec<String> = sans.iter().map(|s| s.to_string()).collect();
        let mut params = CertificateParams::new(sans).unwrap();
        params.extended_key_usages = vec![eku];
        if expired {
            params.not_before = rcgen::date_time_ymd(2000, 1, 1);
            params.not_after = rcgen::date_time_ymd(2001, 1, 1);
        }
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.ca).unwrap();
        Identity {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        }
    }

    fn rogue(&self) -> Identity {
        let params = CertificateParams::new(vec!["client.example".to_string()]).unwrap();
        let key = KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        Identity {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        }
    }

    fn client(&self) -> Identity {
        self.issue(
            &["client.example"],
            ExtendedKeyUsagePurpose::ClientAuth,
            false,
        )
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    fn tls(&self, yaml_tls_body: &str) -> TlsServerConfig {
        let yaml = format!(
            "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n{yaml_tls_body}"
        );
        let origin = self.dir.path().join("web-config.yml");
        WebConfig::from_yaml_str(&yaml, &origin)
            .unwrap()
            .tls_server_config
            .expect("TLS is enabled")
    }
}

fn client_config(ca_pem: &str, identity: Option<&Identity>) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let builder = ClientConfig::builder_with_provider(Arc::new(ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let mut config = match identity {
        Some(id) => {
            let chain = CertificateDer::pem_slice_iter(id.cert_pem.as_bytes())
                .collect::<Result<Vec<_>, _>>()
                .unwrap();
            let key = PrivateKeyDer::from_pem_slice(id.key_pem.as_bytes()).unwrap();
            builder.with_client_auth_cert(chain, key).unwrap()
        }
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Arc::new(config)
}

/// Outcome of one handshake: the server-side failure label (or `None`) and what the client saw.
struct Outcome {
    server: Result<tokio_rustls::server::TlsStream<tokio::io::DuplexStream>, std::io::Error>,
    client_ok: bool,
    /// The leaf certificate the client received, when its handshake completed.
    server_leaf: Option<Vec<u8>>,
}

impl Outcome {
    fn server_reason(&self) -> Option<&'static str> {
        self.server.as_ref().err().map(handshake_failure_reason)
    }
}

async fn handshake(plan: HandshakePlan, client: Arc<ClientConfig>) -> Outcome {
    let HandshakePlan::Serve { config, .. } = plan else {
        panic!("expected a Serve plan");
    };
    let (client_io, server_io) = tokio::io::duplex(64 * 1024);
    // TLS 1.3 clients finish before the server has read their certificate, so a client
    // can report success while the server fails; tests assert on the server side.
    let server = async move { TlsAcceptor::from(config).accept(server_io).await };
    let client = async move {
        let name = ServerName::try_from("localhost").unwrap();
        TlsConnector::from(client)
            .connect(name, client_io)
            .await
            .ok()
    };
    // Both sides run to completion before either stream is dropped, so the server can
    // finish writing its session tickets.
    let (server, client) = tokio::join!(server, client);
    let server_leaf = client.as_ref().map(|s| {
        let leaf = s.get_ref().1.peer_certificates().map(|c| c[0].to_vec());
        leaf.unwrap_or_default()
    });
    Outcome {
        server,
        client_ok: server_leaf.is_some(),
        server_leaf,
    }
}

async fn run(pki: &Pki, body: &str, identity: Option<&Identity>) -> Outcome {
    let tls = pki.tls(body);
    let plan = build_server_config(&tls, true).unwrap();
    handshake(plan, client_config(&pki.ca_pem, identity)).await
}

#[tokio::test]
async fn no_client_cert_policy_never_asks() {
    let pki = Pki::new();
    let outcome = run(&pki, "", Some(&pki.rogue())).await;
    let server = outcome.server.as_ref().expect("handshake succeeds");
    assert!(server.get_ref().1.peer_certificates().is_none());
    assert!(outcome.client_ok);
}

#[tokio::test]
async fn request_client_cert_accepts_anything_and_nothing() {
    let pki = Pki::new();
    let body = "  client_auth_type: RequestClientCert\n";
    let expired = pki.issue(&["x"], ExtendedKeyUsagePurpose::ServerAuth, true);
    for identity in [None, Some(&expired), Some(&pki.rogue())] {
        let outcome = run(&pki, body, identity).await;
        assert_eq!(outcome.server_reason(), None);
        let peer = outcome
            .server
            .as_ref()
            .unwrap()
            .get_ref()
            .1
            .peer_certificates();
        assert_eq!(peer.is_some(), identity.is_some());
    }
}

#[tokio::test]
async fn require_any_client_cert_requires_but_never_verifies() {
    let pki = Pki::new();
    for body in [
        "  client_auth_type: RequireAnyClientCert\n",
        "  client_auth_type: RequireClientCert\n",
    ] {
        let outcome = run(&pki, body, Some(&pki.rogue())).await;
        assert_eq!(outcome.server_reason(), None, "{body}");
        let outcome = run(&pki, body, None).await;
        assert_eq!(outcome.server_reason(), Some("no_client_cert"), "{body}");
    }
}

#[tokio::test]
async fn verify_client_cert_if_given_verifies_only_when_sent() {
    let pki = Pki::new();
    let body = "  client_auth_type: VerifyClientCertIfGiven\n  client_ca_file: ca.pem\n";
    assert_eq!(run(&pki, body, None).await.server_reason(), None);
    assert_eq!(
        run(&pki, body, Some(&pki.client())).await.server_reason(),
        None
    );
    let rogue = run(&pki, body, Some(&pki.rogue())).await;
    assert_eq!(rogue.server_reason(), Some("client_cert_unknown_ca"));
}

#[tokio::test]
async fn require_and_verify_rejects_each_broken_client_cert_with_its_reason() {
    let pki = Pki::new();
    let body = "  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.pem\n";
    let expired = pki.issue(&["c"], ExtendedKeyUsagePurpose::ClientAuth, true);
    let server_eku = pki.issue(&["c"], ExtendedKeyUsagePurpose::ServerAuth, false);
    let cases = [
        (Some(pki.client()), None),
        (None, Some("no_client_cert")),
        (Some(pki.rogue()), Some("client_cert_unknown_ca")),
        (Some(expired), Some("client_cert_expired")),
        (Some(server_eku), Some("client_cert_bad_eku")),
    ];
    for (identity, want) in cases {
        let outcome = run(&pki, body, identity.as_ref()).await;
        assert_eq!(outcome.server_reason(), want);
    }
}

#[tokio::test]
async fn empty_client_ca_pool_rejects_every_cert_as_unknown_ca() {
    let pki = Pki::new();
    pki.write("empty.pem", "not a certificate\n");
    let body = "  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: empty.pem\n";
    let outcome = run(&pki, body, Some(&pki.client())).await;
    assert_eq!(outcome.server_reason(), Some("client_cert_unknown_ca"));
}

#[tokio::test]
async fn client_allowed_sans_accepts_listed_and_rejects_others() {
    let pki = Pki::new();
    let base = "  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.pem\n";
    let allowed = format!("{base}  client_allowed_sans: [one, client.example]\n");
    assert_eq!(
        run(&pki, &allowed, Some(&pki.client()))
            .await
            .server_reason(),
        None
    );
    let denied = format!("{base}  client_allowed_sans: [bad]\n");
    let outcome = run(&pki, &denied, Some(&pki.client())).await;
    assert_eq!(outcome.server_reason(), Some("client_cert_san_not_allowed"));
    let ip = pki.issue(&["127.0.0.1"], ExtendedKeyUsagePurpose::ClientAuth, false);
    let by_ip = format!("{base}  client_allowed_sans: [\"127.0.0.1\"]\n");
    assert_eq!(run(&pki, &by_ip, Some(&ip)).await.server_reason(), None);
}

#[tokio::test]
async fn pinned_client_leaf_verifies_itself_with_go_date_eku_and_san_checks() {
    // Arrange: each `client_ca_file` holds one client leaf, no CA (Go's root pool then
    // "contains" the presented leaf and `x509.Certificate.Verify` trusts it as is).
    let pki = Pki::new();
    let pinned = pki.client();
    let sibling = pki.client();
    let expired = pki.issue(&["c"], ExtendedKeyUsagePurpose::ClientAuth, true);
    let server_eku = pki.issue(&["c"], ExtendedKeyUsagePurpose::ServerAuth, false);
    let no_eku = {
        let params = CertificateParams::new(vec!["c".to_string()]).unwrap();
        let key = KeyPair::generate().unwrap();
        Identity {
            cert_pem: params.signed_by(&key, &pki.ca).unwrap().pem(),
            key_pem: key.serialize_pem(),
        }
    };
    let not_yet_valid = {
        let mut params = CertificateParams::new(vec!["c".to_string()]).unwrap();
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        params.not_before = rcgen::date_time_ymd(2999, 1, 1);
        params.not_after = rcgen::date_time_ymd(3000, 1, 1);
        let key = KeyPair::generate().unwrap();
        Identity {
            cert_pem: params.signed_by(&key, &pki.ca).unwrap().pem(),
            key_pem: key.serialize_pem(),
        }
    };
    let base = "  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: pinned.pem\n";
    for (pool, presented, want) in [
        (&pinned, &pinned, None),
        (&no_eku, &no_eku, None),
        (&pinned, &sibling, Some("client_cert_unknown_ca")),
        (&expired, &expired, Some("client_cert_expired")),
        (
            &not_yet_valid,
            &not_yet_valid,
            Some("client_cert_not_yet_valid"),
        ),
        (&server_eku, &server_eku, Some("client_cert_bad_eku")),
    ] {
        pki.write("pinned.pem", &pool.cert_pem);
        // Act
        let outcome = run(&pki, base, Some(presented)).await;
        // Assert
        assert_eq!(outcome.server_reason(), want, "pool {}", pool.cert_pem);
    }
    // The pinned leaf beside the CA that issued it, and with client_allowed_sans.
    pki.write("pinned.pem", &format!("{}{}", pinned.cert_pem, pki.ca_pem));
    assert_eq!(run(&pki, base, Some(&pinned)).await.server_reason(), None);
    assert_eq!(run(&pki, base, Some(&sibling)).await.server_reason(), None);
    pki.write("pinned.pem", &pinned.cert_pem);
    let denied = format!("{base}  client_allowed_sans: [other.example]\n");
    let outcome = run(&pki, &denied, Some(&pinned)).await;
    assert_eq!(outcome.server_reason(), Some("client_cert_san_not_allowed"));
    let allowed = format!("{base}  client_allowed_sans: [client.example]\n");
    assert_eq!(
        run(&pki, &allowed, Some(&pinned)).await.server_reason(),
        None
    );
    // Optional verification trusts the pinned leaf too.
    let if_given = "  client_auth_type: VerifyClientCertIfGiven\n  client_ca_file: pinned.pem\n";
    assert_eq!(
        run(&pki, if_given, Some(&pinned)).await.server_reason(),
        None
    );
}

#[test]
fn sans_with_optional_client_cert_close_when_none_is_sent() {
    let pki = Pki::new();
    for (policy, want) in [
        ("VerifyClientCertIfGiven", true),
        ("RequestClientCert", true),
        ("RequireAndVerifyClientCert", false),
    ] {
        let body = format!(
            "  client_auth_type: {policy}\n  client_ca_file: ca.pem\n  client_allowed_sans: [x]\n"
        );
        let plan = build_server_config(&pki.tls(&body), true).unwrap();
        let HandshakePlan::Serve {
            close_if_no_client_cert,
            ..
        } = plan
        else {
            panic!("expected Serve");
        };
        assert_eq!(close_if_no_client_cert, want, "{policy}");
    }
}

#[test]
fn min_above_max_is_accepted_but_rejects_every_handshake() {
    let pki = Pki::new();
    let tls = pki.tls("  min_version: TLS13\n  max_version: TLS12\n");
    let plan = build_server_config(&tls, true).unwrap();
    assert!(matches!(
        plan,
        HandshakePlan::Reject {
            alert: AlertDescription::ProtocolVersion,
            ..
        }
    ));
    let tls = pki.tls("  max_version: TLS11\n");
    let plan = build_server_config(&tls, true).unwrap();
    assert!(matches!(
        plan,
        HandshakePlan::Reject {
            alert: AlertDescription::ProtocolVersion,
            ..
        }
    ));
}

#[tokio::test]
async fn rotated_certificate_is_served_by_the_next_build() {
    let pki = Pki::new();
    let tls = pki.tls("");
    let pem_leaf = |pem: &str| {
        CertificateDer::pem_slice_iter(pem.as_bytes())
            .next()
            .unwrap()
            .unwrap()
            .to_vec()
    };
    let original = std::fs::read_to_string(pki.dir.path().join("server.crt")).unwrap();
    let first = handshake(
        build_server_config(&tls, true).unwrap(),
        client_config(&pki.ca_pem, None),
    )
    .await;
    assert_eq!(first.server_leaf, Some(pem_leaf(&original)));

    let rotated = pki.issue(&["localhost"], ExtendedKeyUsagePurpose::ServerAuth, false);
    pki.write("server.crt", &rotated.cert_pem);
    pki.write("server.key", &rotated.key_pem);
    let second = handshake(
        build_server_config(&tls, true).unwrap(),
        client_config(&pki.ca_pem, None),
    )
    .await;
    assert_eq!(second.server_leaf, Some(pem_leaf(&rotated.cert_pem)));
}

#[test]
fn key_mismatch_names_both_files() {
    let pki = Pki::new();
    let other = pki.client();
    pki.write("other.key", &other.key_pem);
    let yaml = "tls_server_config:\n  cert_file: server.crt\n  key_file: other.key\n";
    let origin = pki.dir.path().join("web-config.yml");
    let tls = WebConfig::from_yaml_str(yaml, &origin)
        .unwrap()
        .tls_server_config
        .unwrap();
    let err = build_server_config(&tls, true).unwrap_err().to_string();
    assert!(
        err.contains("server.crt") && err.contains("other.key"),
        "{err}"
    );
    assert!(err.contains("web-config.yml"), "{err}");
}

#[test]
fn missing_file_names_key_and_path() {
    let pki = Pki::new();
    let yaml = "tls_server_config:\n  cert_file: nope.crt\n  key_file: server.key\n";
    let origin = pki.dir.path().join("web-config.yml");
    let tls = WebConfig::from_yaml_str(yaml, &origin)
        .unwrap()
        .tls_server_config
        .unwrap();
    let err = build_server_config(&tls, true).unwrap_err().to_string();
    assert!(
        err.contains("tls_server_config.cert_file") && err.contains("nope.crt"),
        "{err}"
    );
}

#[tokio::test]
async fn alpn_offers_h2_unless_http2_is_off() {
    let pki = Pki::new();
    let tls = pki.tls("");
    for (http2, want) in [(true, Some(b"h2".as_slice())), (false, None)] {
        let outcome = handshake(
            build_server_config(&tls, http2).unwrap(),
            client_config(&pki.ca_pem, None),
        )
        .await;
        let server = outcome.server.unwrap();
        assert_eq!(server.get_ref().1.alpn_protocol(), want);
    }
}

#[test]
fn fatal_alert_record_is_a_tls10_plaintext_alert() {
    assert_eq!(
        fatal_alert_record(AlertDescription::InternalError),
        [0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 80]
    );
}

#[test]
fn paths_are_relative_to_the_config_file() {
    let pki = Pki::new();
    let tls = pki.tls("");
    assert_eq!(
        tls.cert,
        Some(crate::web_config::PemSource::File(
            pki.dir.path().join("server.crt")
        ))
    );
    let _: &Path = pki.dir.path();
}

/// Each version, suite and curve setting: the versions, suites and groups offered, the
/// refusal, the warnings (in order) or the error, with the config path as `<web-config>`.
#[test]
fn negotiation_settles_versions_suites_groups_and_warnings() {
    let pki = Pki::new();
    let origin = pki.dir.path().join("web-config.yml").display().to_string();
    for (body, want) in NEGOTIATIONS {
        let got = match negotiation(&pki.tls(body)) {
            Ok(n) => format!(
                "versions {:?}; suites {:?}; groups {:?}; reject {:?}; warnings {:?}",
                n.versions.iter().map(|v| v.version).collect::<Vec<_>>(),
                n.provider
                    .cipher_suites
                    .iter()
                    .map(|s| s.suite())
                    .collect::<Vec<_>>(),
                n.provider
                    .kx_groups
                    .iter()
                    .map(|g| g.name())
                    .collect::<Vec<_>>(),
                n.reject,
                n.warnings,
            ),
            Err(e) => format!("error: {e}"),
        };
        assert_eq!(got.replace(&origin, "<web-config>"), want, "body: {body:?}");
    }
}

/// (`tls_server_config` lines, what [`negotiation`] settles), recorded before `negotiation`
/// was split into its parts.
const NEGOTIATIONS: [(&str, &str); 13] = [
    (
        "",
        "versions [TLSv1_2, TLSv1_3]; suites [TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256, TLS13_AES_128_GCM_SHA256, TLS13_AES_256_GCM_SHA384, TLS13_CHACHA20_POLY1305_SHA256]; groups [X25519, secp256r1, secp384r1]; reject None; warnings []",
    ),
    (
        "  min_version: TLS13\n  max_version: TLS12\n",
        "versions []; suites []; groups [X25519, secp256r1, secp384r1]; reject Some((ProtocolVersion, \"min_version is above max_version: no TLS version can be negotiated\")); warnings [\"<web-config>: tls_server_config.min_version TLS13 is above max_version TLS12; exporter-toolkit starts anyway and every handshake fails with protocol_version; lower min_version\"]",
    ),
    (
        "  max_version: TLS11\n",
        "versions []; suites []; groups [X25519, secp256r1, secp384r1]; reject Some((ProtocolVersion, \"min_version is above max_version: no TLS version can be negotiated\")); warnings [\"<web-config>: tls_server_config.min_version TLS12 is above max_version TLS11; exporter-toolkit starts anyway and every handshake fails with protocol_version; lower min_version\"]",
    ),
    (
        "  min_version: TLS10\n  max_version: TLS11\n",
        "versions []; suites []; groups [X25519, secp256r1, secp384r1]; reject Some((ProtocolVersion, \"max_version is below TLS12, which rustls cannot speak\")); warnings [\"<web-config>: tls_server_config.max_version TLS11 is below TLS12; rustls only speaks TLS12 and TLS13, so every handshake fails with protocol_version (a Go exporter would speak TLS11); set max_version to TLS12 or TLS13\"]",
    ),
    (
        "  min_version: TLS10\n",
        "versions [TLSv1_2, TLSv1_3]; suites [TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256, TLS13_AES_128_GCM_SHA256, TLS13_AES_256_GCM_SHA384, TLS13_CHACHA20_POLY1305_SHA256]; groups [X25519, secp256r1, secp384r1]; reject None; warnings [\"<web-config>: tls_server_config.min_version TLS10: rustls cannot offer TLS10/TLS11, so clients limited to them fail where a Go exporter would accept them; TLS12 is the real minimum here\"]",
    ),
    (
        "  min_version: TLS13\n",
        "versions [TLSv1_3]; suites [TLS13_AES_128_GCM_SHA256, TLS13_AES_256_GCM_SHA384, TLS13_CHACHA20_POLY1305_SHA256]; groups [X25519, secp256r1, secp384r1]; reject None; warnings []",
    ),
    (
        "  max_version: TLS12\n  cipher_suites: [TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA]\n",
        "error: <web-config>: tls_server_config.cipher_suites: TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA not supported by rustls (no CBC suites) and max_version is TLS12; add an AEAD suite such as TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 or allow TLS13",
    ),
    (
        "  cipher_suites: [TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA]\n",
        "versions [TLSv1_3]; suites [TLS13_AES_128_GCM_SHA256, TLS13_AES_256_GCM_SHA384, TLS13_CHACHA20_POLY1305_SHA256]; groups [X25519, secp256r1, secp384r1]; reject None; warnings [\"<web-config>: tls_server_config.cipher_suites: TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA not supported by rustls (no CBC suites); ignored, clients offering only those fail where a Go exporter would accept them\"]",
    ),
    (
        "  max_version: TLS12\n  cipher_suites: [TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, TLS_AES_128_GCM_SHA256]\n",
        "versions [TLSv1_2]; suites [TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384]; groups [X25519, secp256r1, secp384r1]; reject None; warnings [\"<web-config>: tls_server_config.cipher_suites: TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA not supported by rustls (no CBC suites); ignored, clients offering only those fail where a Go exporter would accept them\"]",
    ),
    (
        "  min_version: TLS10\n  max_version: TLS11\n  cipher_suites: [TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA]\n",
        "versions []; suites []; groups [X25519, secp256r1, secp384r1]; reject Some((ProtocolVersion, \"max_version is below TLS12, which rustls cannot speak\")); warnings [\"<web-config>: tls_server_config.max_version TLS11 is below TLS12; rustls only speaks TLS12 and TLS13, so every handshake fails with protocol_version (a Go exporter would speak TLS11); set max_version to TLS12 or TLS13\", \"<web-config>: tls_server_config.cipher_suites: TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA not supported by rustls (no CBC suites); ignored, clients offering only those fail where a Go exporter would accept them\"]",
    ),
    (
        "  curve_preferences: [CurveP521]\n",
        "versions [TLSv1_2, TLSv1_3]; suites [TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256, TLS13_AES_128_GCM_SHA256, TLS13_AES_256_GCM_SHA384, TLS13_CHACHA20_POLY1305_SHA256]; groups [X25519, secp256r1, secp384r1]; reject None; warnings [\"<web-config>: tls_server_config.curve_preferences: only CurveP521, which rustls does not support; served with X25519, CurveP256 and CurveP384 instead (Go clients such as Prometheus offer those too, so they connect as they would to a Go exporter)\"]",
    ),
    (
        "  curve_preferences: [CurveP521, X25519, CurveP256]\n",
        "versions [TLSv1_2, TLSv1_3]; suites [TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256, TLS13_AES_128_GCM_SHA256, TLS13_AES_256_GCM_SHA384, TLS13_CHACHA20_POLY1305_SHA256]; groups [X25519, secp256r1]; reject None; warnings [\"<web-config>: tls_server_config.curve_preferences: CurveP521 is not supported by rustls; ignored, clients offering only P-521 fail where a Go exporter would accept them\"]",
    ),
    (
        "  curve_preferences: [CurveP384, X25519]\n",
        "versions [TLSv1_2, TLSv1_3]; suites [TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256, TLS13_AES_128_GCM_SHA256, TLS13_AES_256_GCM_SHA384, TLS13_CHACHA20_POLY1305_SHA256]; groups [secp384r1, X25519]; reject None; warnings []",
    ),
];

//! Tests of the generated PKI: every file parses, validity windows, names and usages, chain
//! verification by webpki and by openssl, and the key files, for every key type.

use std::collections::HashSet;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::OnceLock;

use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use time::Duration;
use webpki::{EndEntityCert, KeyUsage};
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;
use x509_parser::pem::Pem;

use super::*;

/// One PKI per key type, generated once for the whole test binary (RSA takes a while).
fn pki(key_type: KeyType) -> &'static Pki {
    static CACHE: [OnceLock<Pki>; 3] = [const { OnceLock::new() }; 3];
    CACHE[key_type.index()].get_or_init(|| Pki::generate(key_type).expect("PKI generation"))
}

fn parse(der: &[u8]) -> X509Certificate<'_> {
    let (rest, cert) = x509_parser::parse_x509_certificate(der).expect("certificate parses");
    assert!(rest.is_empty(), "trailing bytes after the certificate");
    cert
}

/// DER of every `CERTIFICATE` block in a PEM string.
fn pem_certificates(pem: &str) -> Vec<Vec<u8>> {
    Pem::iter_from_buffer(pem.as_bytes())
        .map(|block| {
            let block = block.expect("valid PEM");
            assert_eq!(block.label, "CERTIFICATE");
            block.contents
        })
        .collect()
}

fn common_name(cert: &X509Certificate<'_>) -> String {
    cert.subject()
        .iter_common_name()
        .next()
        .expect("a CN")
        .as_str()
        .expect("a UTF-8 CN")
        .to_owned()
}

/// The SANs as `DNS:…`, `IP:…`, `URI:…`, `email:…`; `None` without a SAN extension.
fn sans(cert: &X509Certificate<'_>) -> Option<Vec<String>> {
    let ext = cert.subject_alternative_name().expect("valid SAN")?;
    let names = ext
        .value
        .general_names
        .iter()
        .map(|name| match name {
            GeneralName::DNSName(dns) => format!("DNS:{dns}"),
            GeneralName::URI(uri) => format!("URI:{uri}"),
            GeneralName::RFC822Name(mail) => format!("email:{mail}"),
            GeneralName::IPAddress(bytes) => match bytes.len() {
                4 => format!(
                    "IP:{}",
                    std::net::Ipv4Addr::from(<[u8; 4]>::try_from(*bytes).unwrap())
                ),
                16 => format!(
                    "IP:{}",
                    std::net::Ipv6Addr::from(<[u8; 16]>::try_from(*bytes).unwrap())
                ),
                n => panic!("IP SAN of {n} bytes"),
            },
            other => panic!("unexpected SAN {other:?}"),
        })
        .collect();
    Some(names)
}

/// (serverAuth, clientAuth) from the EKU extension, which every leaf must have.
fn ekus(cert: &X509Certificate<'_>) -> (bool, bool) {
    let eku = cert
        .extended_key_usage()
        .expect("valid EKU")
        .expect("an EKU extension");
    assert!(!eku.value.any, "anyExtendedKeyUsage must not be set");
    assert!(eku.value.other.is_empty(), "unexpected EKUs");
    (eku.value.server_auth, eku.value.client_auth)
}

fn assert_leaf_constraints(cert: &X509Certificate<'_>, key_type: KeyType) {
    let bc = cert
        .basic_constraints()
        .expect("valid basicConstraints")
        .expect("leaves carry basicConstraints");
    assert!(!bc.value.ca, "a leaf must not be a CA");
    let ku = cert
        .key_usage()
        .expect("valid keyUsage")
        .expect("leaves carry keyUsage");
    assert!(ku.value.digital_signature());
    assert_eq!(ku.value.key_encipherment(), key_type == KeyType::Rsa2048);
    assert!(!ku.value.key_cert_sign());
}

/// Asserts `not_before`/`not_after` equal `generated_at + offsets`, to the second.
fn assert_window(cert: &X509Certificate<'_>, pki: &Pki, from: Duration, to: Duration, what: &str) {
    let at = pki.generated_at().unix_timestamp();
    let not_before = cert.validity().not_before.timestamp();
    let not_after = cert.validity().not_after.timestamp();
    let want_before = at + from.whole_seconds();
    let want_after = at + to.whole_seconds();
    assert!(
        (not_before - want_before).abs() <= 1,
        "{what}: notBefore {not_before}, want {want_before}"
    );
    assert!(
        (not_after - want_after).abs() <= 1,
        "{what}: notAfter {not_after}, want {want_after}"
    );
}

/// Verifies a server identity as a TLS client trusting `anchor` would, for `name`.
fn webpki_server(
    pki: &Pki,
    which: ServerCert,
    anchor: &CertificateDer<'_>,
    name: &str,
) -> Result<(), webpki::Error> {
    let chain = pki.server(which).cert_chain();
    webpki_chain(chain, &chain[1..], anchor, KeyUsage::server_auth())?;
    let name = ServerName::try_from(name).expect("a valid server name");
    EndEntityCert::try_from(&chain[0])?.verify_is_valid_for_subject_name(&name)
}

fn webpki_chain(
    chain: &[CertificateDer<'static>],
    intermediates: &[CertificateDer<'static>],
    anchor: &CertificateDer<'_>,
    usage: KeyUsage,
) -> Result<(), webpki::Error> {
    let anchors = [webpki::anchor_from_trusted_cert(anchor)?];
    let ee = EndEntityCert::try_from(&chain[0])?;
    ee.verify_for_usage(
        webpki::ALL_VERIFICATION_ALGS,
        &anchors,
        intermediates,
        UnixTime::now(),
        usage,
        None,
        None,
    )
    .map(|_| ())
}

fn openssl(args: &[&str], dir: &Path) -> Output {
    Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("running `openssl` (install it: apt-get install openssl)")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn names_round_trip_through_display_and_from_str() {
    for (i, &v) in KeyType::ALL.iter().enumerate() {
        assert_eq!(v.index(), i);
        assert_eq!(v.to_string().parse::<KeyType>(), Ok(v));
    }
    for (i, &v) in ServerCert::ALL.iter().enumerate() {
        assert_eq!(v.index(), i);
        assert_eq!(v.to_string().parse::<ServerCert>(), Ok(v));
    }
    for (i, &v) in ClientCert::ALL.iter().enumerate() {
        assert_eq!(v.index(), i);
        assert_eq!(v.to_string().parse::<ClientCert>(), Ok(v));
    }
    assert_eq!(KeyType::default(), KeyType::EcdsaP256);
    assert_eq!("rsa2048".parse::<KeyType>(), Ok(KeyType::Rsa2048));
    assert_eq!(
        "not-yet-valid".parse::<ServerCert>(),
        Ok(ServerCert::NotYetValid)
    );
    assert_eq!(
        "server-auth-only".parse::<ClientCert>(),
        Ok(ClientCert::ServerAuthOnly)
    );

    let err = "rsa4096".parse::<KeyType>().unwrap_err();
    assert_eq!(
        err.to_string(),
        "unknown key type `rsa4096`; use one of: ecdsa-p256, ed25519, rsa2048"
    );
}

#[test]
fn file_names_are_stable_and_unique() {
    let names = PkiFiles::names();
    assert_eq!(
        names.len(),
        3 + 3 * ServerCert::ALL.len() + 3 * ClientCert::ALL.len()
    );
    assert_eq!(names.iter().collect::<HashSet<_>>().len(), names.len());
    for name in [
        "ca.crt",
        "intermediate.crt",
        "rogue-ca.crt",
        "server.crt",
        "server.key",
        "server.openssl.key",
        "server-chain.crt",
        "server-expired.key",
        "server-not-yet-valid.crt",
        "server-wrong-host.crt",
        "server-self-signed.crt",
        "server-rogue.crt",
        "server-cn-only.crt",
        "server-missing-intermediate.crt",
        "client.crt",
        "client.key",
        "client-expired.crt",
        "client-rogue.crt",
        "client-server-auth-only.openssl.key",
    ] {
        assert!(names.contains(&name), "{name} missing from names()");
    }

    let files = PkiFiles {
        dir: "/pki".into(),
        key_type: KeyType::EcdsaP256,
    };
    assert_eq!(
        files.by_name("server-expired.crt"),
        Some("/pki/server-expired.crt".into())
    );
    assert_eq!(
        files.server_cert(ServerCert::Expired),
        Path::new("/pki/server-expired.crt")
    );
    assert_eq!(
        files.client_key(ClientCert::RogueCa),
        Path::new("/pki/client-rogue.key")
    );
    assert_eq!(
        files.server_key_openssl(ServerCert::Valid),
        Some("/pki/server.openssl.key".into())
    );
    assert_eq!(files.by_name("../etc/passwd"), None);
    assert_eq!(files.by_name("README.txt"), None);

    let ed = PkiFiles {
        dir: "/pki".into(),
        key_type: KeyType::Ed25519,
    };
    assert_eq!(ed.by_name("server.openssl.key"), None);
    assert_eq!(ed.server_key_openssl(ServerCert::Valid), None);
    assert_eq!(ed.client_key_openssl(ClientCert::Valid), None);
    assert_eq!(ed.by_name("server.key"), Some("/pki/server.key".into()));
}

#[test]
fn every_written_file_parses() {
    for &key_type in KeyType::ALL {
        let pki = pki(key_type);
        let tmp = tempfile::tempdir().expect("temp dir");
        let dir = tmp.path().join("nested/pki");
        let files = pki.write_to(&dir).expect("write_to");
        assert!(files.dir().is_absolute());

        let mut expected = HashSet::from(["README.txt".to_owned()]);
        for name in PkiFiles::names() {
            let Some(path) = files.by_name(name) else {
                assert_eq!(key_type, KeyType::Ed25519, "{name} missing");
                assert!(name.ends_with(".openssl.key"));
                assert!(!dir.join(name).exists(), "{name} written for Ed25519");
                continue;
            };
            expected.insert(name.to_owned());
            let contents = std::fs::read_to_string(&path).expect("readable file");
            if name.ends_with(".crt") {
                let certs = pem_certificates(&contents);
                let want = if name == "server-chain.crt" { 2 } else { 1 };
                assert_eq!(certs.len(), want, "{key_type}: {name}");
                for der in &certs {
                    parse(der);
                }
            } else {
                let label = if !name.ends_with(".openssl.key") {
                    "PRIVATE KEY"
                } else if key_type == KeyType::Rsa2048 {
                    "RSA PRIVATE KEY"
                } else {
                    "EC PRIVATE KEY"
                };
                let begin = format!("-----BEGIN {label}-----\n");
                assert!(contents.starts_with(&begin), "{key_type}: {name}");
            }
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let mode = std::fs::metadata(&path)
                    .expect("metadata")
                    .permissions()
                    .mode();
                let want = if name.ends_with(".key") { 0o600 } else { 0o644 };
                assert_eq!(mode & 0o777, want, "{key_type}: mode of {name}");
            }
        }

        let written: HashSet<String> = std::fs::read_dir(&dir)
            .expect("read dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            written, expected,
            "{key_type}: exactly the named files, no leftovers"
        );

        let readme = std::fs::read_to_string(files.readme()).expect("README");
        for name in &expected {
            assert!(
                name == "README.txt" || readme.contains(name.as_str()),
                "README lacks {name}"
            );
        }
        assert!(readme.contains(&format!("key type {key_type}")));
    }
}

#[test]
fn rewriting_replaces_files_and_drops_stale_openssl_keys() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let ecdsa = pki(KeyType::EcdsaP256)
        .write_to(tmp.path())
        .expect("first write");
    assert!(ecdsa
        .server_key_openssl(ServerCert::Valid)
        .expect("ECDSA")
        .exists());

    let ed = pki(KeyType::Ed25519)
        .write_to(tmp.path())
        .expect("second write");
    assert!(!tmp.path().join("server.openssl.key").exists());
    assert!(!tmp.path().join("client-rogue.openssl.key").exists());
    let key = std::fs::read_to_string(ed.server_key(ServerCert::Valid)).expect("key");
    assert_eq!(key, pki(KeyType::Ed25519).server(ServerCert::Valid).key_pem);
}

#[test]
fn write_to_names_the_directory_it_cannot_create() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let blocker = tmp.path().join("a-file");
    std::fs::write(&blocker, "not a directory").expect("write");
    let target = blocker.join("pki");

    let err = pki(KeyType::EcdsaP256).write_to(&target).unwrap_err();

    assert!(matches!(err, PkiError::CreateDir { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.starts_with(&format!(
        "{}: cannot create the PKI directory",
        target.display()
    )));
    assert!(
        message.ends_with("choose a writable directory"),
        "{message}"
    );
}

#[test]
fn validity_windows_are_relative_to_generation_time() {
    let day = Duration::days(1);
    for &key_type in KeyType::ALL {
        let pki = pki(key_type);
        for (der, what) in [
            (pki.ca_der(), "CA"),
            (pki.intermediate_der(), "intermediate"),
            (pki.rogue_ca_der(), "rogue CA"),
        ] {
            assert_window(&parse(der), pki, -day, Duration::days(3652), what);
        }
        for &which in ServerCert::ALL {
            let cert = parse(pki.server(which).leaf());
            let (from, to) = match which {
                ServerCert::Expired => (Duration::days(-30), -day),
                ServerCert::NotYetValid => (day, Duration::days(30)),
                _ => (Duration::hours(-1), Duration::days(365)),
            };
            assert_window(&cert, pki, from, to, &format!("{key_type} server {which}"));
            let now = time::OffsetDateTime::now_utc().unix_timestamp();
            let valid_now = cert.validity().not_before.timestamp() <= now
                && now <= cert.validity().not_after.timestamp();
            let want = !matches!(which, ServerCert::Expired | ServerCert::NotYetValid);
            assert_eq!(valid_now, want, "{key_type} server {which} valid now");
        }
        for &which in ClientCert::ALL {
            let cert = parse(pki.client(which).leaf());
            let (from, to) = match which {
                ClientCert::Expired => (Duration::days(-30), -day),
                _ => (Duration::hours(-1), Duration::days(365)),
            };
            assert_window(&cert, pki, from, to, &format!("{key_type} client {which}"));
        }
    }
}

#[test]
fn ca_certificates_have_ca_constraints_and_distinct_keys() {
    for &key_type in KeyType::ALL {
        let pki = pki(key_type);
        let ca = parse(pki.ca_der());
        let intermediate = parse(pki.intermediate_der());
        let rogue = parse(pki.rogue_ca_der());
        for (cert, path_len) in [(&ca, None), (&intermediate, Some(0)), (&rogue, None)] {
            let bc = cert.basic_constraints().unwrap().expect("basicConstraints");
            assert!(bc.critical);
            assert!(bc.value.ca);
            assert_eq!(bc.value.path_len_constraint, path_len);
            let ku = cert.key_usage().unwrap().expect("keyUsage");
            assert!(ku.value.key_cert_sign() && ku.value.crl_sign());
            assert!(!ku.value.digital_signature());
        }
        assert_eq!(ca.issuer(), ca.subject());
        assert_eq!(rogue.issuer(), rogue.subject());
        assert_eq!(intermediate.issuer(), ca.subject());
        assert_ne!(rogue.subject(), ca.subject());
        let keys: HashSet<_> = [&ca, &intermediate, &rogue]
            .iter()
            .map(|c| c.public_key().raw.to_vec())
            .collect();
        assert_eq!(keys.len(), 3, "{key_type}: every CA has its own key");
        assert_eq!(pem_certificates(pki.ca_pem()), [pki.ca_der().to_vec()]);
        assert_eq!(
            pem_certificates(pki.rogue_ca_pem()),
            [pki.rogue_ca_der().to_vec()]
        );
        assert_eq!(
            pem_certificates(pki.intermediate_pem()),
            [pki.intermediate_der().to_vec()]
        );
    }
}

#[test]
fn server_certificates_carry_the_specified_names_and_usages() {
    let good = ["DNS:localhost", "IP:127.0.0.1", "IP:::1"]
        .map(String::from)
        .to_vec();
    for &key_type in KeyType::ALL {
        let pki = pki(key_type);
        let ca = parse(pki.ca_der());
        let intermediate = parse(pki.intermediate_der());
        let rogue = parse(pki.rogue_ca_der());
        for &which in ServerCert::ALL {
            let identity = pki.server(which);
            let cert = parse(identity.leaf());
            let ctx = format!("{key_type} server {which}");

            assert_leaf_constraints(&cert, key_type);
            assert_eq!(ekus(&cert), (true, false), "{ctx}: EKU serverAuth only");
            match which {
                ServerCert::WrongHost => assert_eq!(
                    sans(&cert),
                    Some(vec![
                        "DNS:wrong-host.invalid".into(),
                        "IP:192.0.2.10".into()
                    ]),
                    "{ctx}"
                ),
                ServerCert::CnOnly => assert_eq!(sans(&cert), None, "{ctx}: no SAN extension"),
                _ => assert_eq!(sans(&cert), Some(good.clone()), "{ctx}"),
            }
            let cn = if which == ServerCert::CnOnly {
                "localhost"
            } else {
                "fake-exporter"
            };
            assert_eq!(common_name(&cert), cn, "{ctx}");

            let issuer = match which {
                ServerCert::Chain | ServerCert::MissingIntermediate => intermediate.subject(),
                ServerCert::RogueCa => rogue.subject(),
                ServerCert::SelfSigned => cert.subject(),
                _ => ca.subject(),
            };
            assert_eq!(cert.issuer(), issuer, "{ctx}: issuer");

            let chain_len = if which == ServerCert::Chain { 2 } else { 1 };
            assert_eq!(identity.cert_chain().len(), chain_len, "{ctx}");
            let from_pem: Vec<Vec<u8>> = pem_certificates(&identity.cert_chain_pem);
            let from_der: Vec<Vec<u8>> = identity.cert_chain().iter().map(|c| c.to_vec()).collect();
            assert_eq!(from_pem, from_der, "{ctx}: PEM and DER chains agree");
            if which == ServerCert::Chain {
                assert_eq!(identity.cert_chain()[1], *pki.intermediate_der());
            }
            assert_eq!(
                identity.key_openssl_pem.is_some(),
                key_type != KeyType::Ed25519
            );
        }
    }
}

#[test]
fn client_certificates_carry_the_specified_names_and_usages() {
    let want_sans = [
        "DNS:prometheus.client",
        "URI:spiffe://fake-exporter/prometheus",
        "email:prometheus@client.invalid",
    ]
    .map(String::from)
    .to_vec();
    for &key_type in KeyType::ALL {
        let pki = pki(key_type);
        let ca = parse(pki.ca_der());
        let rogue = parse(pki.rogue_ca_der());
        for &which in ClientCert::ALL {
            let cert = parse(pki.client(which).leaf());
            let ctx = format!("{key_type} client {which}");
            assert_leaf_constraints(&cert, key_type);
            assert_eq!(common_name(&cert), "prometheus", "{ctx}");
            assert_eq!(sans(&cert), Some(want_sans.clone()), "{ctx}");
            let want_eku = if which == ClientCert::ServerAuthOnly {
                (true, false)
            } else {
                (false, true)
            };
            assert_eq!(ekus(&cert), want_eku, "{ctx}");
            let issuer = if which == ClientCert::RogueCa {
                rogue.subject()
            } else {
                ca.subject()
            };
            assert_eq!(cert.issuer(), issuer, "{ctx}");
            assert_eq!(pki.client(which).cert_chain().len(), 1);
        }
    }
}

#[test]
fn serial_numbers_are_unique_positive_and_random() {
    let mut serials = HashSet::new();
    for &key_type in KeyType::ALL {
        let pki = pki(key_type);
        let leaves = ServerCert::ALL
            .iter()
            .map(|&w| pki.server(w).leaf())
            .chain(ClientCert::ALL.iter().map(|&w| pki.client(w).leaf()));
        for der in [pki.ca_der(), pki.intermediate_der(), pki.rogue_ca_der()]
            .into_iter()
            .chain(leaves)
        {
            let cert = parse(der);
            let serial = cert.raw_serial();
            assert_eq!(serial.len(), 16, "16-byte serial");
            assert!(serial[0] < 0x80, "positive serial");
            assert!(serials.insert(serial.to_vec()), "duplicate serial");
        }
    }
}

#[test]
fn webpki_accepts_the_good_server_certificates() {
    for &key_type in KeyType::ALL {
        let pki = pki(key_type);
        for which in [ServerCert::Valid, ServerCert::Chain] {
            for name in ["localhost", "127.0.0.1", "::1"] {
                let result = webpki_server(pki, which, pki.ca_der(), name);
                assert_eq!(result, Ok(()), "{key_type} {which} as {name}");
            }
        }
    }
}

#[test]
fn server_for_ips_verifies_by_the_extra_ips_against_the_ca() {
    let extra: [std::net::IpAddr; 2] = [[127, 77, 0, 1].into(), [127, 77, 0, 5].into()];
    for &key_type in KeyType::ALL {
        let pki = pki(key_type);
        let identity = pki.server_for_ips(&extra).expect("issued");
        let chain = identity.cert_chain();
        assert_eq!(chain.len(), 1, "{key_type}: the leaf alone");
        webpki_chain(chain, &[], pki.ca_der(), KeyUsage::server_auth())
            .unwrap_or_else(|e| panic!("{key_type}: chains to the CA: {e:?}"));
        let leaf = EndEntityCert::try_from(&chain[0]).expect("parses");
        for name in ["127.77.0.1", "127.77.0.5", "127.0.0.1", "localhost"] {
            let server = ServerName::try_from(name).expect("a valid server name");
            assert_eq!(
                leaf.verify_is_valid_for_subject_name(&server),
                Ok(()),
                "{key_type}: valid for {name}"
            );
        }
        let other = ServerName::try_from("127.77.0.9").expect("a valid server name");
        assert!(
            leaf.verify_is_valid_for_subject_name(&other).is_err(),
            "{key_type}: not valid for an IP it was not issued for"
        );
        assert_ne!(
            identity.key_pem,
            pki.server(ServerCert::Valid).key_pem,
            "{key_type}: a key of its own"
        );
        assert!(
            !format!("{pki:?}").contains("PRIVATE KEY"),
            "the CA key is elided"
        );
    }
}

#[test]
fn webpki_rejects_each_broken_server_certificate_for_its_reason() {
    for &key_type in KeyType::ALL {
        let pki = pki(key_type);
        for name in ["localhost", "127.0.0.1"] {
            let check = |which| webpki_server(pki, which, pki.ca_der(), name);
            let ctx = format!("{key_type} as {name}");

            let err = check(ServerCert::Expired).unwrap_err();
            assert!(
                matches!(err, webpki::Error::CertExpired { .. }),
                "{ctx}: {err:?}"
            );
            let err = check(ServerCert::NotYetValid).unwrap_err();
            assert!(
                matches!(err, webpki::Error::CertNotValidYet { .. }),
                "{ctx}: {err:?}"
            );
            let err = check(ServerCert::WrongHost).unwrap_err();
            assert!(
                matches!(err, webpki::Error::CertNotValidForName(_)),
                "{ctx}: {err:?}"
            );
            let err = check(ServerCert::CnOnly).unwrap_err();
            assert!(
                matches!(err, webpki::Error::CertNotValidForName(_)),
                "{ctx}: {err:?}"
            );
            for which in [
                ServerCert::RogueCa,
                ServerCert::MissingIntermediate,
                ServerCert::SelfSigned,
            ] {
                assert_eq!(
                    check(which),
                    Err(webpki::Error::UnknownIssuer),
                    "{ctx}: {which}"
                );
            }
        }

        // Each broken certificate is broken for that one reason only.
        assert_eq!(
            webpki_server(pki, ServerCert::RogueCa, pki.rogue_ca_der(), "localhost"),
            Ok(()),
            "{key_type}: the rogue leaf verifies against the rogue CA"
        );
        let leaf = pki.server(ServerCert::MissingIntermediate).cert_chain();
        let with_intermediate = [pki.intermediate_der().clone()];
        assert_eq!(
            webpki_chain(
                leaf,
                &with_intermediate,
                pki.ca_der(),
                KeyUsage::server_auth()
            ),
            Ok(()),
            "{key_type}: the leaf verifies once the intermediate is supplied"
        );
        let self_signed = pki.server(ServerCert::SelfSigned).leaf();
        assert_eq!(
            webpki_chain(
                pki.server(ServerCert::SelfSigned).cert_chain(),
                &[],
                self_signed,
                KeyUsage::server_auth()
            ),
            Ok(()),
            "{key_type}: the self-signed leaf verifies when trusted directly"
        );
    }
}

#[test]
fn webpki_checks_client_certificates() {
    for &key_type in KeyType::ALL {
        let pki = pki(key_type);
        let check = |which| {
            webpki_chain(
                pki.client(which).cert_chain(),
                &[],
                pki.ca_der(),
                KeyUsage::client_auth(),
            )
        };
        assert_eq!(check(ClientCert::Valid), Ok(()), "{key_type}");
        let err = check(ClientCert::Expired).unwrap_err();
        assert!(
            matches!(err, webpki::Error::CertExpired { .. }),
            "{key_type}: {err:?}"
        );
        assert_eq!(
            check(ClientCert::RogueCa),
            Err(webpki::Error::UnknownIssuer)
        );
        let err = check(ClientCert::ServerAuthOnly).unwrap_err();
        assert!(
            matches!(err, webpki::Error::RequiredEkuNotFoundContext(_)),
            "{key_type}: {err:?}"
        );
    }
}

#[test]
fn rustls_loads_every_key_and_it_matches_its_certificate() {
    let provider = rustls::crypto::ring::default_provider();
    for &key_type in KeyType::ALL {
        let pki = pki(key_type);
        let identities = ServerCert::ALL
            .iter()
            .map(|&w| (format!("server {w}"), pki.server(w)))
            .chain(
                ClientCert::ALL
                    .iter()
                    .map(|&w| (format!("client {w}"), pki.client(w))),
            );
        for (what, identity) in identities {
            let key = provider
                .key_provider
                .load_private_key(identity.private_key())
                .unwrap_or_else(|e| panic!("{key_type} {what}: rustls cannot load the key: {e}"));
            let certified = rustls::sign::CertifiedKey::new(identity.cert_chain().to_vec(), key);
            assert_eq!(certified.keys_match(), Ok(()), "{key_type} {what}");
        }
    }
}

#[test]
fn openssl_agrees_on_chains_and_loads_every_key() {
    for &key_type in KeyType::ALL {
        let tmp = tempfile::tempdir().expect("temp dir");
        let files = pki(key_type).write_to(tmp.path()).expect("write_to");
        let dir = files.dir();

        let ok = openssl(&["verify", "-CAfile", "ca.crt", "server.crt"], dir);
        assert!(ok.status.success(), "{key_type}: {}", text(&ok));
        assert!(
            text(&ok).contains("server.crt: OK"),
            "{key_type}: {}",
            text(&ok)
        );

        let chain = openssl(
            &[
                "verify",
                "-CAfile",
                "ca.crt",
                "-untrusted",
                "intermediate.crt",
                "server-chain.crt",
            ],
            dir,
        );
        assert!(chain.status.success(), "{key_type}: {}", text(&chain));

        let expired = openssl(&["verify", "-CAfile", "ca.crt", "server-expired.crt"], dir);
        assert!(
            !expired.status.success(),
            "{key_type}: expired cert verified"
        );
        assert!(
            text(&expired).contains("certificate has expired"),
            "{}",
            text(&expired)
        );

        let rogue = openssl(&["verify", "-CAfile", "ca.crt", "client-rogue.crt"], dir);
        assert!(!rogue.status.success(), "{key_type}: rogue cert verified");
        assert!(
            text(&rogue).contains("unable to get local issuer certificate"),
            "{}",
            text(&rogue)
        );

        for name in PkiFiles::names()
            .into_iter()
            .filter(|n| n.ends_with(".key"))
        {
            let Some(path) = files.by_name(name) else {
                continue;
            };
            let path = path.to_str().expect("UTF-8 temp path");
            let load = openssl(&["pkey", "-in", path, "-noout"], dir);
            assert!(load.status.success(), "{key_type} {name}: {}", text(&load));
        }

        // The openssl-format key is the certificate's key.
        if let Some(key) = files.server_key_openssl(ServerCert::Valid) {
            let key = key.to_str().expect("UTF-8 temp path");
            let from_key = openssl(&["pkey", "-in", key, "-pubout"], dir);
            let from_cert = openssl(&["x509", "-in", "server.crt", "-pubkey", "-noout"], dir);
            assert!(from_key.status.success() && from_cert.status.success());
            assert_eq!(
                text(&from_key),
                text(&from_cert),
                "{key_type}: public keys differ"
            );
        }
        if key_type == KeyType::EcdsaP256 {
            let ec = openssl(&["ec", "-in", "client.openssl.key", "-noout", "-text"], dir);
            assert!(text(&ec).contains("ASN1 OID: prime256v1"), "{}", text(&ec));
        }
    }
}

//! Parsing tests: the toolkit's testdata cases (re-typed, with certificates generated here),
//! strictness, path resolution, extensions, and a property test over mutated configs.

use std::path::Path;

use proptest::prelude::*;

use super::*;

/// A directory with `server.crt`, `server.key` and `client_selfsigned.pem`, like the toolkit's
/// `web/testdata` (generated here, not copied).
fn testdata() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let params = rcgen::CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    let cert = params.self_signed(&key).unwrap();
    std::fs::write(dir.path().join("server.crt"), cert.pem()).unwrap();
    std::fs::write(dir.path().join("server.key"), key.serialize_pem()).unwrap();
    std::fs::write(dir.path().join("client_selfsigned.pem"), cert.pem()).unwrap();
    std::fs::write(dir.path().join("client2_selfsigned.pem"), cert.pem()).unwrap();
    dir
}

#[derive(Debug)]
enum Want {
    Ok,
    /// `from_yaml_str` fails and the message contains this.
    Parse(&'static str),
    /// `check_at_start` fails and the message contains this.
    Start(&'static str),
}

const TLS: &str = "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n";

/// The toolkit's `web/testdata` cases and what `TestYAMLFiles` / `TestServerBehaviour`
/// expect of them at start-up.
fn toolkit_cases() -> Vec<(&'static str, String, Want)> {
    let tls = |extra: &str| format!("{TLS}{extra}");
    vec![
        ("web_config_empty", String::new(), Want::Ok),
        ("web_config_junk", "hWkNKCp3fvIx3jKnsaBI\nTuEjdwNS8A2vYdFbiKqr\n".into(), Want::Parse("line")),
        ("web_config_junk_key", "tls_server_config:\n  cert_filse: \"server.crt\"\n".into(), Want::Parse("unknown field `cert_filse`")),
        ("certPath_empty", "tls_server_config:\n  cert_file: \"\"\n  key_file: server.key\n".into(), Want::Start("missing one of cert or cert_file")),
        ("cert_empty", "tls_server_config:\n  cert: \"\"\n  key_file: server.key\n".into(), Want::Start("missing one of cert or cert_file")),
        ("keyPath_empty", "tls_server_config:\n  cert_file: server.crt\n  key_file: \"\"\n".into(), Want::Start("missing one of key or key_file")),
        ("key_empty", "tls_server_config:\n  cert_file: server.crt\n  key: \"\"\n".into(), Want::Start("missing one of key or key_file")),
        ("certPath_keyPath_empty", "tls_server_config:\n  cert_file: \"\"\n  key_file: \"\"\n  client_auth_type: x\n".into(), Want::Start("missing one of cert or cert_file")),
        ("certPath_invalid", "tls_server_config:\n  cert_file: somefile\n  key_file: server.key\n".into(), Want::Start("somefile")),
        ("keyPath_invalid", "tls_server_config:\n  cert_file: server.cert\n  key_file: somefile\n".into(), Want::Start("server.cert")),
        ("noAuth.bad (CA without policy)", tls("  client_ca_file: client_selfsigned.pem\n"), Want::Start("client_ca_file is set but client_auth_type is NoClientCert")),
        ("clientCAs_invalid", tls("  client_ca_file: somefile\n"), Want::Start("somefile")),
        ("user_list_invalid", format!("{TLS}basic_auth_users:\n  john: doe\n"), Want::Start("hashedSecret too short")),
        ("inventedCiphers", tls("  cipher_suites:\n  - TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA2048\n"), Want::Parse("unknown cipher")),
        ("inventedCurves", tls("  curve_preferences:\n    - CurveP257\n"), Want::Parse("unknown curve")),
        ("wrongTLSVersion", tls("  min_version: TLS111\n"), Want::Parse("unknown TLS version")),
        ("invalid ClientAuth", tls("  client_auth_type: Nope\n"), Want::Start("invalid ClientAuth")),
        ("noAuth.good", tls("  client_auth_type: VerifyClientCertIfGiven\n"), Want::Ok),
        ("allCiphers.good", tls("  cipher_suites:\n  - TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256\n  - TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256\n  - TLS_AES_128_GCM_SHA256\n  - TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA\n"), Want::Ok),
        ("someCiphers.good", tls("  cipher_suites:\n  - TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256\n  min_version: TLS12\n  max_version: TLS12\n  prefer_server_cipher_suites: false\n"), Want::Ok),
        ("allCurves.good", tls("  curve_preferences: [CurveP256, CurveP384, CurveP521, X25519]\n"), Want::Ok),
        ("noHTTP2.good", format!("{TLS}  cipher_suites: [TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384]\n  max_version: TLS12\nhttp_server_config:\n  http2: false\n"), Want::Ok),
        ("noHTTP2Cipher.bad", tls("  cipher_suites: [TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384]\n  max_version: TLS12\n"), Want::Start("HTTP/2-required")),
        ("headers.good", "http_server_config:\n  headers:\n    X-Frame-Options: deny\n    Strict-Transport-Security: max-age=31536000; includeSubDomains\n    X-Content-Type-Options: nosniff\n    X-XSS-Protection: 1\n    Content-Security-Policy: \"default-src 'self'\"\n".into(), Want::Ok),
        ("headers_content_type_options.bad", "http_server_config:\n  headers:\n    X-Content-Type-Options: sniff\n".into(), Want::Parse("invalid value \"sniff\"")),
        ("headers_frame_options.bad", "http_server_config:\n  headers:\n    X-Frame-Options: foo\n".into(), Want::Parse("invalid value \"foo\"")),
        ("headers_extra_header.bad", "http_server_config:\n  headers:\n    Content-Type: foo\n".into(), Want::Parse("\"Content-Type\" can not be configured")),
        ("requireanyclientcert.good", tls("  client_auth_type: RequireAnyClientCert\n"), Want::Ok),
        ("requireandverifyclientcert.good", tls("  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: client_selfsigned.pem\n"), Want::Ok),
        ("client_san.good", tls("  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: client2_selfsigned.pem\n  client_allowed_sans: [one, test3, two]\n"), Want::Ok),
        ("users.good", format!("{TLS}basic_auth_users:\n  carol: $2y$10$qRTBuFoULoYNA7AQ/F3ck.trZBPyjV64.oA4ZsSBCIWvXuvQlQTuu\n"), Want::Ok),
        ("rate_limiter_nonblocking", "rate_limit:\n  interval: 0\n  burst: 0\n".into(), Want::Ok),
        ("rate_limiter_one_second", "rate_limit:\n  interval: \"1s\"\n  burst: 0\n".into(), Want::Ok),
        ("docs web-config.yml", format!("{TLS}basic_auth_users:\n  alice: $2y$10$mDwo.lAisC94iLAyP81MCesa29IzH37oigHC/42V2pdJlUprsJPze\nrate_limit:\n  interval: \"1s\"\n  burst: 20\n"), Want::Ok),
    ]
}

#[test]
fn toolkit_testdata_cases_are_accepted_and_rejected_like_the_toolkit() {
    let dir = testdata();
    let origin = dir.path().join("web-config.yml");
    for (name, yaml, want) in toolkit_cases() {
        let parsed = WebConfig::from_yaml_str(&yaml, &origin);
        match (&want, parsed) {
            (Want::Parse(needle), Err(e)) => {
                let msg = e.to_string();
                assert!(msg.contains(needle), "{name}: {msg}");
                assert!(msg.contains("web-config.yml"), "{name}: {msg}");
            }
            (Want::Parse(_), Ok(_)) => panic!("{name}: parsed but should not"),
            (_, Err(e)) => panic!("{name}: parse failed: {e}"),
            (Want::Ok, Ok(config)) => {
                if let Err(e) = config.check_at_start() {
                    panic!("{name}: start-up check failed: {e}");
                }
            }
            (Want::Start(needle), Ok(config)) => {
                let msg = config.check_at_start().expect_err(name).to_string();
                assert!(msg.contains(needle), "{name}: {msg}");
                assert!(msg.contains("web-config.yml"), "{name}: {msg}");
            }
        }
    }
}

#[test]
fn only_cert_or_auth_keys_enable_tls() {
    let origin = Path::new("/etc/x/web.yml");
    let config =
        WebConfig::from_yaml_str("tls_server_config:\n  min_version: TLS13\n", origin).unwrap();
    assert!(config.tls_server_config.is_none());
    let config =
        WebConfig::from_yaml_str("tls_server_config:\n  client_auth_type: x\n", origin).unwrap();
    assert!(config.tls_server_config.is_some());
}

#[test]
fn defaults_match_the_toolkit() {
    let origin = Path::new("/etc/x/web.yml");
    let config = WebConfig::from_yaml_str(TLS, origin).unwrap();
    let tls = config.tls_server_config.unwrap();
    assert_eq!(
        (tls.min_version, tls.max_version),
        (TlsVersion::Tls12, TlsVersion::Tls13)
    );
    assert!(tls.prefer_server_cipher_suites);
    assert_eq!(
        tls.client_auth_type.policy(),
        Ok(ClientAuthType::NoClientCert)
    );
    assert!(config.http_server_config.http2);
    assert!(config.rate_limit.is_none());
}

#[test]
fn relative_paths_resolve_against_the_config_directory() {
    let origin = Path::new("/etc/exporter/web.yml");
    let yaml = format!("{TLS}  client_ca_file: /abs/ca.pem\n  client_auth_type: RequireAndVerifyClientCert\nfake_exporter:\n  bearer_auth:\n    token_file: tokens/t\n");
    let config = WebConfig::from_yaml_str(&yaml, origin).unwrap();
    let tls = config.tls_server_config.unwrap();
    assert_eq!(
        tls.cert,
        Some(PemSource::File("/etc/exporter/server.crt".into()))
    );
    assert_eq!(tls.client_ca, Some(PemSource::File("/abs/ca.pem".into())));
    let bearer = config.fake_exporter.bearer_auth.unwrap();
    assert_eq!(bearer.token_file, Some("/etc/exporter/tokens/t".into()));
}

#[test]
fn cert_file_wins_over_inline_cert() {
    let yaml = "tls_server_config:\n  cert: inline\n  cert_file: a.crt\n  key: k\n";
    let config = WebConfig::from_yaml_str(yaml, Path::new("/d/w.yml")).unwrap();
    let tls = config.tls_server_config.unwrap();
    assert_eq!(tls.cert, Some(PemSource::File("/d/a.crt".into())));
    assert_eq!(tls.key, Some(PemSource::Inline("k".into())));
}

#[test]
fn unknown_and_duplicate_keys_are_named() {
    let origin = Path::new("/d/web.yml");
    for (yaml, needle) in [
        (
            "http_server_config:\n  http3: true\n",
            "unknown field `http3`",
        ),
        (
            "tls_server_config:\n  cert_file: a\n  cert_file: b\n",
            "duplicate field `cert_file`",
        ),
        (
            "basic_auth_users:\n  a: x\n  a: y\n",
            "key \"a\" already set in map",
        ),
        (
            "fake_exporter:\n  bearer_auth:\n    tokenz: [a]\n",
            "unknown field `tokenz`",
        ),
        ("fake_exporter:\n  basic: 1\n", "unknown field `basic`"),
        ("rate_limit:\n  interval: 1d\n", "unknown unit"),
    ] {
        let msg = WebConfig::from_yaml_str(yaml, origin)
            .unwrap_err()
            .to_string();
        assert!(msg.contains(needle), "{yaml}: {msg}");
        assert!(msg.starts_with("/d/web.yml: line "), "{yaml}: {msg}");
    }
}

#[test]
fn rate_limit_follows_x_time_rate() {
    let origin = Path::new("/d/web.yml");
    let config =
        WebConfig::from_yaml_str("rate_limit:\n  interval: 1m30s\n  burst: -3\n", origin).unwrap();
    assert_eq!(
        config.rate_limit,
        Some(RateLimitConfig {
            interval: Duration::from_secs(90),
            burst: 0
        })
    );
    let config =
        WebConfig::from_yaml_str("rate_limit:\n  interval: \"-1s\"\n  burst: 3\n", origin).unwrap();
    assert_eq!(config.rate_limit, None);
}

#[test]
fn bearer_extension_parses_and_reads_its_token_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("token"), "  s3cret\n").unwrap();
    let yaml = "fake_exporter:\n  bearer_auth:\n    tokens: [a, b]\n    token_file: token\n    expiring_tokens:\n      - token: old\n        expires_at: 2001-01-01T00:00:00Z\n";
    let origin = dir.path().join("web.yml");
    let config = WebConfig::from_yaml_str(yaml, &origin).unwrap();
    let bearer = config.fake_exporter.bearer_auth.clone().unwrap();
    assert_eq!(bearer.tokens, ["a", "b"]);
    assert_eq!(
        bearer.read_token_file(&origin).unwrap().as_deref(),
        Some("s3cret")
    );
    assert!(bearer.expiring_tokens[0].expires_at < SystemTime::now());
    assert!(config.check_at_start().unwrap().is_empty());
    std::fs::write(dir.path().join("token"), " \n").unwrap();
    let err = bearer.read_token_file(&origin).unwrap_err().to_string();
    assert!(err.contains("token_file") && err.contains("empty"), "{err}");
}

#[test]
fn start_warnings_cover_configs_rustls_cannot_honour() {
    let dir = testdata();
    let origin = dir.path().join("web-config.yml");
    for (extra, needle) in [
        (
            "  min_version: TLS13\n  max_version: TLS12\n",
            "every handshake fails",
        ),
        ("  min_version: TLS10\n", "TLS10"),
        ("  client_auth_type: RequireClientCert\n", "NOT verified"),
        (
            "  client_auth_type: RequireAndVerifyClientCert\n",
            "system roots",
        ),
    ] {
        let config = WebConfig::from_yaml_str(&format!("{TLS}{extra}"), &origin).unwrap();
        let warnings = config.check_at_start().unwrap();
        assert!(
            warnings.iter().any(|w| w.contains(needle)),
            "{extra}: {warnings:?}"
        );
    }
    // The toolkit starts with CurveP521 alone and Go clients connect (they offer X25519 and
    // P-256 too); rustls lacks P-521, so its own groups are served, with a warning.
    let only_p521 = format!("{TLS}  curve_preferences: [CurveP521]\n");
    let config = WebConfig::from_yaml_str(&only_p521, &origin).unwrap();
    let warnings = config.check_at_start().unwrap();
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("only CurveP521") && w.contains("curve_preferences")),
        "{warnings:?}"
    );
}

/// A valid structured config to mutate.
const VALID: &str = "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.pem\n  min_version: TLS12\n  cipher_suites: [TLS_AES_128_GCM_SHA256]\nhttp_server_config:\n  http2: true\n  headers:\n    X-Frame-Options: deny\nbasic_auth_users:\n  alice: $2y$10$qRTBuFoULoYNA7AQ/F3ck.trZBPyjV64.oA4ZsSBCIWvXuvQlQTuu\nrate_limit:\n  interval: 1s\n  burst: 3\nfake_exporter:\n  bearer_auth:\n    tokens: [t]\n";

fn mutation() -> impl Strategy<Value = (usize, u8, String)> {
    (0usize..40, 0u8..5, "[a-zA-Z_0-9:\\[\\]{}~ -]{0,12}")
}

fn mutate(yaml: &str, (line, op, text): &(usize, u8, String)) -> String {
    let mut lines: Vec<String> = yaml.lines().map(str::to_string).collect();
    let index = line % lines.len();
    let target = &mut lines[index];
    let indent = target.len() - target.trim_start().len();
    match op {
        // Rename the key.
        0 => {
            if let Some(colon) = target.find(':') {
                *target = format!("{}{}{}", " ".repeat(indent), text, &target[colon..]);
            }
        }
        // Remove the line.
        1 => {
            lines.remove(index);
        }
        // Add a key next to it.
        2 => lines.insert(index, format!("{}{text}: 1", " ".repeat(indent))),
        // Replace the value with a wrong type.
        3 => {
            if let Some(colon) = target.find(':') {
                *target = format!("{}: [{text}]", &target[..colon]);
            }
        }
        // Replace the value with arbitrary text.
        _ => {
            if let Some(colon) = target.find(':') {
                *target = format!("{}: {text}", &target[..colon]);
            }
        }
    }
    lines.join("\n")
}

proptest! {
    #[test]
    fn mutated_configs_never_panic_and_errors_name_the_file(
        mutations in proptest::collection::vec(mutation(), 1..4)
    ) {
        let origin = Path::new("/nonexistent/dir/web-config.yml");
        let mut yaml = VALID.to_string();
        for m in &mutations {
            yaml = mutate(&yaml, m);
        }
        match WebConfig::from_yaml_str(&yaml, origin) {
            Ok(config) => {
                if let Err(e) = config.check_at_start() {
                    prop_assert!(e.to_string().contains("/nonexistent/dir/web-config.yml"), "{}", e);
                }
            }
            Err(e) => prop_assert!(e.to_string().contains("/nonexistent/dir/web-config.yml"), "{}", e),
        }
    }
}

/// Representative configs for the round trip: parsed ones (paths resolved, defaults filled
/// in) and built ones (inline PEM, relative and absolute paths, every key).
fn round_trip_cases() -> Vec<WebConfig> {
    let origin = Path::new("/etc/exporter/web-config.yml");
    let pem = "-----BEGIN CERTIFICATE-----\nMIIB: not: a mapping\n  indented line\n-----END CERTIFICATE-----\n";
    let parsed = |yaml: &str| WebConfig::from_yaml_str(yaml, origin).expect("valid");
    let expires = std::time::UNIX_EPOCH + Duration::new(1_900_000_000, 123_456_789);
    vec![
        parsed(""),
        parsed(VALID),
        parsed("tls_server_config:\n  client_auth_type: x\n"),
        parsed("tls_server_config:\n  cert: inline\n  key_file: k.pem\n  client_auth_type: RequireClientCert\n  client_allowed_sans: []\n"),
        WebConfig::builder().build().expect("empty"),
        WebConfig::builder()
            .cert(PemSource::inline(pem))
            .key(PemSource::inline("-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----\n"))
            .client_ca(PemSource::inline(pem))
            .client_auth(ClientAuthType::RequireAndVerifyClientCert)
            .build()
            .expect("inline"),
        WebConfig::builder()
            .origin(origin)
            .cert(PemSource::file("certs/server.crt"))
            .key(PemSource::file("/abs/server.key"))
            .client_ca(PemSource::file("../ca.pem"))
            .client_auth(ClientAuthType::VerifyClientCertIfGiven)
            .client_allowed_sans(["a.example", "127.0.0.1"])
            .min_version(TlsVersion::Tls13)
            .max_version(TlsVersion::Tls12)
            .cipher_suites([CipherSuite::GO_SECURE[9], CipherSuite::GO_SECURE[0]])
            .curve_preferences([Curve::X25519, Curve::P521])
            .http2(false)
            .header("X-Frame-Options", "deny")
            .header("Content-Security-Policy", "default-src 'self'")
            .basic_auth_user("alice", "$2y$10$qRTBuFoULoYNA7AQ/F3ck.trZBPyjV64.oA4ZsSBCIWvXuvQlQTuu")
            .basic_auth_user("yes", "no")
            .rate_limit(Duration::from_millis(1500), 7)
            .bearer_token("t1")
            .bearer_token("true")
            .bearer_token_file("tokens/t")
            .bearer_expiring_token("old", expires)
            .build()
            .expect("every key"),
        WebConfig::builder()
            .cert(PemSource::file("relative/without/origin.crt"))
            .key(PemSource::file("relative/without/origin.key"))
            .build()
            .expect("relative to the working directory"),
    ]
}

#[test]
fn serialized_configs_parse_back_to_the_same_value() {
    for config in round_trip_cases() {
        let yaml = config.to_yaml();
        let parsed =
            WebConfig::from_yaml_str(&yaml, &config.path).unwrap_or_else(|e| panic!("{e}\n{yaml}"));
        assert_eq!(parsed, config, "YAML:\n{yaml}");
    }
}

#[test]
fn written_configs_read_back_from_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("web-config.yml");
    let config = WebConfig::builder()
        .origin(&path)
        .cert(PemSource::file("server.crt"))
        .key(PemSource::file("server.key"))
        .build()
        .unwrap();
    config.write_to(&path).unwrap();
    assert_eq!(WebConfig::from_file(&path).unwrap(), config);
    let tls = config.tls_server_config.unwrap();
    assert_eq!(
        tls.cert,
        Some(PemSource::File(dir.path().join("server.crt")))
    );
}

#[test]
fn serialized_keys_are_the_toolkit_keys() {
    let config = WebConfig::builder()
        .cert(PemSource::file("/c.crt"))
        .key(PemSource::inline("K"))
        .client_auth(ClientAuthType::RequireClientCert)
        .rate_limit(Duration::from_secs(1), 20)
        .bearer_token("t")
        .build()
        .unwrap();
    let yaml = config.to_yaml();
    for needle in [
        "tls_server_config:\n",
        "  cert_file: /c.crt\n",
        "  key: K\n",
        "  client_auth_type: RequireClientCert\n",
        "  min_version: TLS12\n",
        "rate_limit:\n  interval: 1s\n  burst: 20\n",
        "fake_exporter:\n  bearer_auth:\n    tokens:\n    - t\n",
    ] {
        assert!(yaml.contains(needle), "{needle:?} in\n{yaml}");
    }
    assert!(
        !yaml.contains("http_server_config"),
        "defaults are left out:\n{yaml}"
    );
}

#[test]
fn built_configs_get_the_parser_checks() {
    let err = WebConfig::builder()
        .header("Content-Type", "foo")
        .build()
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("\"Content-Type\" can not be configured"),
        "{err}"
    );
    let only_min = WebConfig::builder()
        .min_version(TlsVersion::Tls13)
        .build()
        .unwrap();
    assert!(
        only_min.tls_server_config.is_none(),
        "as the toolkit: no TLS without cert, key, CA or policy"
    );
}

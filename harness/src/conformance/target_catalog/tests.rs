use super::placeholders::{pieces, Piece};
use super::*;

const FILE: &str = "bad.yaml";

/// A catalog of one case whose lines after `name:` are `lines`.
fn one_case(lines: &str) -> String {
    format!("cases:\n  - name: target-x\n{lines}")
}

const GOOD: &str = "    level: MUST\n    rationale: why\n    reference: where\n";

fn error(text: &str) -> String {
    TargetCatalog::parse(FILE, text)
        .expect_err("a mistake")
        .to_string()
}

#[test]
fn the_embedded_catalog_loads_and_every_entry_has_level_rationale_reference() {
    let catalog = TargetCatalog::parse(TARGET_CATALOG_NAME, TARGET_CATALOG).expect("valid");
    assert_eq!(catalog.cases.len(), 21);
    assert_eq!(catalog.assumed.len(), 2);
    for e in &catalog.cases {
        for key in ["level", "rationale", "reference", "scrape", "expect"] {
            assert!(e.body.contains_key(key), "{}: no {key}", e.name);
        }
    }
}

#[test]
fn a_good_case_loads() {
    let text = one_case(&format!(
        "{GOOD}    when: {{ auth: basic }}\n    scrape: {{ basic_auth: {{ username: \"{{user}}\" }} }}\n    expect: {{ health: up }}\n"
    ));
    let catalog = TargetCatalog::parse(FILE, &text).expect("valid");
    assert_eq!(catalog.cases[0].when.auth, Some(Auth::Basic));
    assert!(!catalog.cases[0].body.contains_key("when"));
}

#[test]
fn every_mistake_names_file_case_and_key() {
    let expect = "    expect: { health: up }\n";
    for (lines, want) in [
        (
            format!("    rationale: why\n    reference: where\n{expect}"),
            "bad.yaml: case `target-x`: level: missing; a conformance case needs `level: MUST`",
        ),
        (
            format!("    level: OFTEN\n    rationale: why\n    reference: where\n{expect}"),
            "bad.yaml: case `target-x`: level: unknown variant `OFTEN`",
        ),
        (
            format!("    level: MAY\n    reference: where\n{expect}"),
            "bad.yaml: case `target-x`: rationale: missing",
        ),
        (
            format!("    level: MAY\n    rationale: why\n    reference: ''\n{expect}"),
            "bad.yaml: case `target-x`: reference: missing",
        ),
        (
            format!("{GOOD}    scrape: {{ metrics_path: \"{{path}}\" }}\n{expect}"),
            "bad.yaml: case `target-x`: scrape.metrics_path: unknown placeholder `{path}`; use one of: scheme,",
        ),
        (
            format!("{GOOD}    scrape: {{ metrics_path: \"/{{metrics_path\" }}\n{expect}"),
            "bad.yaml: case `target-x`: scrape.metrics_path: `/{metrics_path`: `{` without a closing `}`",
        ),
        (
            format!("{GOOD}    scrape: {{ tls_config: {{ ca_file: \"{{ca}}\" }} }}\n{expect}"),
            "bad.yaml: case `target-x`: scrape.tls_config.ca_file: `{ca}` has a value only with `when: { tls: true }`",
        ),
        (
            format!("{GOOD}    scrape: {{ basic_auth: {{ username: \"x-{{user?}}\" }} }}\n{expect}"),
            "bad.yaml: case `target-x`: scrape.basic_auth.username: `{user?}` must be the whole value",
        ),
        (
            format!("{GOOD}    when: {{ tsl: true }}\n{expect}"),
            "bad.yaml: case `target-x`: when: unknown field `tsl`",
        ),
        (
            format!("{GOOD}    when: {{ auth: oauth2 }}\n{expect}"),
            "bad.yaml: case `target-x`: when: unknown variant `oauth2`",
        ),
        (
            format!("{GOOD}    exporter: {{ server_cert: valid }}\n{expect}"),
            "bad.yaml: case `target-x`: exporter: a running target is not started",
        ),
    ] {
        let got = error(&one_case(&lines));
        assert!(got.starts_with(want), "want `{want}...`, got `{got}`");
    }
}

#[test]
fn two_cases_of_one_name_must_not_apply_together() {
    let case = |when: &str| {
        format!("  - name: target-x\n    when: {when}\n{GOOD}    expect: {{ health: up }}\n")
    };
    let apart = format!(
        "cases:\n{}{}",
        case("{ tls: true }"),
        case("{ tls: false }")
    );
    assert_eq!(
        TargetCatalog::parse(FILE, &apart)
            .expect("valid")
            .cases
            .len(),
        2
    );
    let together = format!(
        "cases:\n{}{}",
        case("{ tls: true }"),
        case("{ auth: basic }")
    );
    let got = error(&together);
    assert!(
        got.starts_with(
            "bad.yaml: case `target-x`: when: applies together with another case of this name"
        ),
        "{got}"
    );
}

#[test]
fn mistakes_outside_the_cases_name_file_and_key() {
    for (text, want) in [
        (
            "casse: []\n",
            "bad.yaml: casse: unknown key; use `defaults`, `assumed_exporter` or `cases`",
        ),
        ("cases: {}\n", "bad.yaml: cases: must be a list"),
        (
            "assumed_exporter:\n  - when: { tls: true }\ncases: []\n",
            "bad.yaml: assumed_exporter #1: needs `exporter:`",
        ),
        (
            "assumed_exporter:\n  - exporter: {}\n    if: {}\ncases: []\n",
            "bad.yaml: assumed_exporter #1.if: unknown key",
        ),
        (
            "cases:\n  - level: MUST\n",
            "bad.yaml: case `#1`: name: missing",
        ),
    ] {
        let got = error(text);
        assert!(got.starts_with(want), "want `{want}...`, got `{got}`");
    }
}

#[test]
fn pieces_split_text_and_placeholders() {
    assert_eq!(
        pieces("definitely-wrong-{nonce}").expect("valid"),
        [
            Piece::Text("definitely-wrong-"),
            Piece::Placeholder {
                name: "nonce",
                optional: false
            }
        ]
    );
    assert_eq!(
        pieces("{ca?}").expect("valid"),
        [Piece::Placeholder {
            name: "ca",
            optional: true
        }]
    );
    assert_eq!(pieces("plain").expect("valid"), [Piece::Text("plain")]);
}

// ---------------------------------------------------------------- the cases of a few runs

mod pinned {
    use std::path::{Path, PathBuf};

    use fake_exporter::ClientAuthType;

    use super::super::target_plan;
    use crate::classify::ErrorClass;
    use crate::conformance::posture::{ClientCertPolicy, HttpAuth, Posture};
    use crate::conformance::profile::Fingerprint;
    use crate::conformance::target::{ProbeCerts, TargetCases};
    use crate::promconfig::{Scheme, TlsVersion};
    use crate::scenario::{
        Case, FileRef, KeepAlive, Level, ScrapeAuth, ScrapeTls, Secret, TargetHost,
    };
    use crate::targets::Health;

    fn pair(name: &str) -> (PathBuf, PathBuf) {
        (
            PathBuf::from(format!("/run/c/{name}.crt")),
            PathBuf::from(format!("/run/c/{name}.key")),
        )
    }

    fn probes(client_ca: bool) -> ProbeCerts {
        ProbeCerts {
            unknown_ca: pair("pki/client"),
            expired_unknown_ca: pair("pki/client-expired"),
            self_signed: pair("probe-self-signed"),
            from_client_ca: client_ca.then(|| {
                [
                    pair("probe-valid"),
                    pair("probe-expired"),
                    pair("probe-server-auth-only"),
                ]
            }),
        }
    }

    fn posture(client_certs: ClientCertPolicy) -> Posture {
        Posture {
            tls: true,
            tls_versions: vec!["TLS 1.3"],
            plain_http_refused: Some(true),
            client_certs,
            http_auth: HttpAuth::None,
            answered: true,
            fingerprint: Fingerprint::default(),
        }
    }

    const CA: &str = "/etc/pki/ca.crt";
    const CERT: (&str, &str) = ("/etc/pki/client.crt", "/etc/pki/client.key");
    const PASSWORD: &str = "/etc/secrets/password";
    const TOKEN: &str = "/etc/secrets/token";

    /// The run's cases: a `--target` over https unless `plain`, with the CA; the rest as
    /// given.
    fn cases(
        plain: bool,
        client_cert: bool,
        basic: bool,
        bearer: bool,
        client_ca: bool,
        policy: ClientCertPolicy,
    ) -> Vec<Case> {
        let probes = probes(client_ca);
        let posture = posture(policy);
        target_plan(&TargetCases {
            https: !plain,
            target_host: TargetHost::Localhost,
            metrics_path: "/metrics",
            ca: Some(Path::new(CA)),
            client_cert: client_cert.then(|| (Path::new(CERT.0), Path::new(CERT.1))),
            basic: basic.then(|| ("prom", Path::new(PASSWORD))),
            bearer: bearer.then(|| Path::new(TOKEN)),
            probes: &probes,
            posture: &posture,
        })
        .expect("the catalog expands")
        .cases
    }

    fn names_and_levels(cases: &[Case]) -> Vec<(&str, Level)> {
        cases
            .iter()
            .map(|c| (c.name.as_str(), c.level.expect("every case has a level")))
            .collect()
    }

    fn file(p: &str) -> Option<FileRef> {
        Some(FileRef::Absolute(PathBuf::from(p)))
    }

    fn by_name<'a>(cases: &'a [Case], name: &str) -> &'a Case {
        cases.iter().find(|c| c.name == name).expect(name)
    }

    #[test]
    fn every_combination_of_inputs_expands_to_cases_the_scenario_parser_takes() {
        let policies = [
            ClientCertPolicy::NotTls,
            ClientCertPolicy::None,
            ClientCertPolicy::RequestedNotVerified,
            ClientCertPolicy::VerifiedIfGiven,
            ClientCertPolicy::RequiredNotVerified,
            ClientCertPolicy::Verified,
            ClientCertPolicy::Unknown,
        ];
        let (mut runs, mut total) = (0, 0);
        for bits in 0..32u8 {
            let bit = |i: u8| bits & (1 << i) != 0;
            for policy in policies {
                let cases = cases(bit(0), bit(1), bit(2), bit(3), bit(4), policy);
                for c in &cases {
                    assert!(c.rationale.is_some() && c.reference.is_some(), "{}", c.name);
                    let job = format!("{:?}", c.scrape);
                    for p in super::super::placeholders::PLACEHOLDERS {
                        let left = format!("{{{}", p.name);
                        assert!(!job.contains(&left), "{}: {left}}} left: {job}", c.name);
                    }
                }
                runs += 1;
                total += cases.len();
            }
        }
        assert_eq!((runs, total), (224, 1720));
    }

    #[test]
    fn a_plain_open_target_gets_the_configured_scrape_and_its_keep_alive() {
        let cases = cases(true, false, false, false, false, ClientCertPolicy::NotTls);
        assert_eq!(
            names_and_levels(&cases),
            [
                ("target-configured", Level::Must),
                ("target-keep-alive", Level::Should)
            ]
        );
        let c = &cases[0];
        assert_eq!(c.scrape.scheme, Some(Scheme::Http));
        assert_eq!(c.scrape.target_host, TargetHost::Localhost);
        assert_eq!(c.scrape.metrics_path.as_deref(), Some("/metrics"));
        // The CA is given, but a plain target is scraped without tls_config.
        assert_eq!((&c.scrape.tls_config, &c.scrape.auth), (&None, &None));
        assert!(c.exporter.tls.is_none());
        assert_eq!(c.expect.outcome.health, Health::Up);
        assert!(!c.expect.keep_alive_declared);
        let keep = &cases[1].expect;
        assert_eq!(
            (keep.keep_alive, keep.keep_alive_declared),
            (KeepAlive::One, true)
        );
        assert_eq!(c.file, "scenarios/conformance-target.yaml (embedded)");
    }

    /// The client-certificate cases present the harness' probe certificates (an expired one
    /// refused, one from the client CA accepted) or none.
    fn client_cert_probes_are_the_harness_own(cases: &[Case]) {
        let expired = by_name(cases, "target-client-cert-expired");
        let probe_tls = expired.scrape.tls_config.as_ref().expect("tls");
        assert_eq!(probe_tls.ca_file, file(CA));
        assert_eq!(probe_tls.cert_file, file("/run/c/probe-expired.crt"));
        assert_eq!(probe_tls.key_file, file("/run/c/probe-expired.key"));
        assert_eq!(
            expired.expect.outcome.classes,
            [ErrorClass::ClientCertRejected]
        );
        let valid = by_name(cases, "target-client-cert-from-client-ca");
        assert_eq!(valid.expect.outcome.health, Health::Up);
        let none = by_name(cases, "target-no-client-cert");
        assert_eq!(
            none.scrape.tls_config,
            Some(ScrapeTls {
                ca_file: file(CA),
                ..ScrapeTls::default()
            })
        );
        assert_eq!(
            none.expect.outcome.classes,
            [ErrorClass::ClientCertRequired]
        );
    }

    #[test]
    fn mtls_with_basic_auth_and_the_client_ca_gets_every_case() {
        use Level::{May, Must, Should};
        let cases = cases(false, true, true, false, true, ClientCertPolicy::Verified);
        assert_eq!(
            names_and_levels(&cases),
            [
                ("target-configured", Must),
                ("target-keep-alive", Should),
                ("target-no-credentials", Must),
                ("target-wrong-password", Must),
                ("target-unknown-user", Must),
                ("target-plain-http-to-tls-port", Must),
                ("target-tls12-only-client", May),
                ("target-tls13-only-client", May),
                ("target-client-cert-unknown-ca", Must),
                ("target-client-cert-self-signed", Must),
                ("target-client-cert-expired-unknown-ca", Must),
                ("target-client-cert-expired", Must),
                ("target-client-cert-from-client-ca", Must),
                ("target-client-cert-server-auth-only", Should),
                ("target-no-client-cert", Should),
            ]
        );
        let own_tls = ScrapeTls {
            ca_file: file(CA),
            cert_file: file(CERT.0),
            key_file: file(CERT.1),
            ..ScrapeTls::default()
        };
        let own_basic = ScrapeAuth::Basic {
            username: "prom".into(),
            password: Some(Secret::File(FileRef::Absolute(PASSWORD.into()))),
        };
        let configured = by_name(&cases, "target-configured");
        assert_eq!(configured.scrape.scheme, Some(Scheme::Https));
        assert_eq!(configured.scrape.tls_config.as_ref(), Some(&own_tls));
        assert_eq!(configured.scrape.auth.as_ref(), Some(&own_basic));
        let tls = configured.exporter.tls.as_ref().expect("assumed TLS");
        assert_eq!(
            tls.client_auth_type,
            Some(ClientAuthType::RequireAndVerifyClientCert)
        );
        assert!(cases.iter().all(|c| c.exporter == configured.exporter));

        let nonce = format!("{:x}", std::process::id());
        let wrong = by_name(&cases, "target-wrong-password");
        assert_eq!(
            wrong.scrape.auth,
            Some(ScrapeAuth::Basic {
                username: "prom".into(),
                password: Some(Secret::Inline(format!("definitely-wrong-{nonce}"))),
            })
        );
        assert_eq!(wrong.scrape.tls_config.as_ref(), Some(&own_tls));
        assert_eq!(wrong.expect.outcome.classes, [ErrorClass::Unauthorized]);
        let unknown = by_name(&cases, "target-unknown-user");
        let Some(ScrapeAuth::Basic { username, password }) = &unknown.scrape.auth else {
            panic!("{:?}", unknown.scrape.auth);
        };
        assert_eq!(username, &format!("nobody-{nonce}"));
        assert_eq!(
            password,
            &Some(Secret::File(FileRef::Absolute(PASSWORD.into())))
        );
        assert_eq!(by_name(&cases, "target-no-credentials").scrape.auth, None);

        let plain = by_name(&cases, "target-plain-http-to-tls-port");
        assert_eq!(plain.scrape.scheme, Some(Scheme::Http));
        assert_eq!(plain.scrape.tls_config, None);
        assert_eq!(plain.scrape.auth.as_ref(), Some(&own_basic));
        assert_eq!(plain.expect.outcome.classes, [ErrorClass::HttpToHttps]);
        let tls12 = by_name(&cases, "target-tls12-only-client");
        assert_eq!(
            tls12.scrape.tls_config,
            Some(ScrapeTls {
                max_version: Some(TlsVersion::Tls12),
                ..own_tls.clone()
            })
        );

        client_cert_probes_are_the_harness_own(&cases);
    }

    #[test]
    fn a_token_and_a_target_asking_for_certificates_get_should_refusals() {
        use Level::{May, Must, Should};
        let cases = cases(
            false,
            false,
            false,
            true,
            false,
            ClientCertPolicy::RequestedNotVerified,
        );
        assert_eq!(
            names_and_levels(&cases),
            [
                ("target-configured", Must),
                ("target-keep-alive", Should),
                ("target-no-token", Must),
                ("target-wrong-token", Must),
                ("target-plain-http-to-tls-port", Must),
                ("target-tls12-only-client", May),
                ("target-tls13-only-client", May),
                ("target-client-cert-unknown-ca", Should),
                ("target-client-cert-self-signed", Should),
                ("target-client-cert-expired-unknown-ca", Should),
            ]
        );
        assert_eq!(
            cases[0].scrape.auth,
            Some(ScrapeAuth::Authorization {
                auth_type: None,
                credentials: Some(Secret::File(FileRef::Absolute(TOKEN.into()))),
            })
        );
        assert_eq!(
            cases[0].scrape.tls_config,
            Some(ScrapeTls {
                ca_file: file(CA),
                ..ScrapeTls::default()
            })
        );
        let nonce = format!("{:x}", std::process::id());
        assert_eq!(
            by_name(&cases, "target-wrong-token").scrape.auth,
            Some(ScrapeAuth::Authorization {
                auth_type: None,
                credentials: Some(Secret::Inline(format!("definitely-wrong-{nonce}"))),
            })
        );
        let self_signed = by_name(&cases, "target-client-cert-self-signed");
        let tls = self_signed.scrape.tls_config.as_ref().expect("tls");
        assert_eq!(tls.cert_file, file("/run/c/probe-self-signed.crt"));
    }

    #[test]
    fn basic_auth_wins_over_a_token_and_a_target_without_client_certs_gets_no_probes() {
        let cases = cases(false, false, true, true, true, ClientCertPolicy::None);
        let names: Vec<_> = cases.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "target-configured",
                "target-keep-alive",
                "target-no-credentials",
                "target-wrong-password",
                "target-unknown-user",
                "target-plain-http-to-tls-port",
                "target-tls12-only-client",
                "target-tls13-only-client",
            ]
        );
        assert!(matches!(
            cases[0].scrape.auth,
            Some(ScrapeAuth::Basic { .. })
        ));
        let tls = cases[0].exporter.tls.as_ref().expect("assumed TLS");
        assert_eq!(tls.client_auth_type, None);
    }
}

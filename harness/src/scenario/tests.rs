//! Scenario parsing: the default matrix loads, and bad files give errors naming the file,
//! the case and the field.

use super::*;
use crate::classify::ErrorClass;
use crate::targets::Health;

fn load(yaml: &str) -> Result<Plan, ScenarioError> {
    Plan::from_sources(&[("bad.yaml".to_owned(), yaml.to_owned())])
}

#[test]
fn default_matrix_loads_with_its_72_cases() {
    let plan = Plan::load(&[]).expect("the embedded matrix is valid");
    // Exact, so that a case cannot disappear unnoticed.
    assert_eq!(plan.cases.len(), 72, "cases in the default matrix");
    assert_eq!(plan.defaults.scrapes, 10);
    let classes: std::collections::BTreeSet<String> = plan
        .cases
        .iter()
        .flat_map(|c| c.expect.outcome.classes.iter().map(ToString::to_string))
        .collect();
    for must in [
        "none",
        "unauthorized",
        "unknown_authority",
        "cert_expired",
        "cert_not_yet_valid",
        "hostname_mismatch",
        "no_ip_sans",
        "client_cert_rejected",
        "http_to_https",
        "https_to_http",
        "tls_version",
        "timeout",
        "refused",
        "connection_reset",
        "body_too_large",
        "job_missing",
    ] {
        assert!(classes.contains(must), "no case expects `{must}`");
    }
}

#[test]
fn unknown_key_names_file_case_and_key() {
    let err =
        load("cases:\n  - name: a\n    scrape: { shceme: https }\n    expect: { health: up }\n")
            .expect_err("unknown key");
    let msg = err.to_string();
    assert!(
        msg.starts_with("bad.yaml: case `a`: scrape.shceme:"),
        "{msg}"
    );
    assert!(msg.contains("shceme"), "{msg}");
}

#[test]
fn unknown_pki_name_is_named_with_the_choices() {
    let err = load("cases:\n  - name: a\n    exporter: { server_cert: valid }\n    scrape: { scheme: https, tls_config: { ca_file: my-ca.crt } }\n    expect: { health: up }\n")
        .expect_err("unknown pki name");
    let msg = err.to_string();
    assert!(
        msg.contains(
            "case `a`: scrape.tls_config.ca_file: `my-ca.crt` is not a file of the generated PKI"
        ),
        "{msg}"
    );
    assert!(msg.contains("ca.crt"), "{msg}");
}

#[test]
fn unknown_server_cert_is_named() {
    let err = load(
        "cases:\n  - name: a\n    exporter: { server_cert: bogus }\n    expect: { health: up }\n",
    )
    .expect_err("bad cert");
    assert!(err.to_string().contains("exporter.server_cert"), "{err}");
}

#[test]
fn duplicate_case_names_are_refused() {
    let err = load("cases:\n  - name: a\n    expect: { health: up }\n  - name: a\n    expect: { health: up }\n")
        .expect_err("duplicate");
    assert!(
        err.to_string().contains("case `a` is defined twice"),
        "{err}"
    );
}

#[test]
fn impossible_combinations_are_refused() {
    let both = load("cases:\n  - name: a\n    scrape: { basic_auth: { username: u, password: p }, authorization: { credentials: t } }\n    expect: { health: up }\n")
        .expect_err("both auths");
    assert!(
        both.to_string()
            .contains("case `a`: scrape: `basic_auth` and `authorization` are both set"),
        "{both}"
    );

    let mtls_without_tls = load("cases:\n  - name: b\n    exporter: { client_auth_type: RequireAndVerifyClientCert }\n    expect: { health: up }\n")
        .expect_err("client auth without TLS");
    assert!(
        mtls_without_tls
            .to_string()
            .contains("exporter.client_auth_type: needs TLS"),
        "{mtls_without_tls}"
    );

    let down_without_class =
        load("cases:\n  - name: c\n    expect: { health: down }\n").expect_err("down needs class");
    assert!(
        down_without_class.to_string().contains("expect.error"),
        "{down_without_class}"
    );

    let up_with_class =
        load("cases:\n  - name: d\n    expect: { health: up, error: unauthorized }\n")
            .expect_err("up has no error");
    assert!(
        up_with_class
            .to_string()
            .contains("an `up` target has no error"),
        "{up_with_class}"
    );

    let unknown_class =
        load("cases:\n  - name: e\n    expect: { health: down, error: frobnicated }\n")
            .expect_err("unknown class");
    assert!(
        unknown_class.to_string().contains("case `e`: expect.error"),
        "{unknown_class}"
    );

    let missing_file = load("cases:\n  - name: f\n    scrape: { basic_auth: { username: u, password_file: pw } }\n    expect: { health: up }\n").expect_err("file not declared");
    assert!(
        missing_file
            .to_string()
            .contains("`pw` is not in the case's `files:`"),
        "{missing_file}"
    );

    let remote = load(
        "cases:\n  - name: g\n    scrape: { target_host: 10.0.0.1 }\n    expect: { health: up }\n",
    )
    .expect_err("not loopback");
    assert!(remote.to_string().contains("loopback"), "{remote}");
}

#[test]
fn keep_alive_defaults_follow_health_and_faults() {
    let plan = load("cases:\n  - name: up\n    expect: { health: up }\n  - name: close\n    exporter: { faults: { close_after_response: true } }\n    expect: { health: up }\n  - name: down\n    exporter: { faults: { status: 500 } }\n    expect: { health: down, error: http_status_500 }\n")
        .expect("valid");
    let ka: Vec<KeepAlive> = plan.cases.iter().map(|c| c.expect.keep_alive).collect();
    assert_eq!(
        ka,
        vec![KeepAlive::One, KeepAlive::PerScrape, KeepAlive::Any]
    );
}

#[test]
fn prometheus_3_overrides_apply_from_major_version_3() {
    let plan = load("cases:\n  - name: ct\n    exporter: { faults: { content_type: missing } }\n    expect: { health: up, prometheus_3: { health: down, error: bad_content_type } }\n")
        .expect("valid");
    let case = &plan.cases[0];
    assert_eq!(
        case.expect.outcome_for(2),
        &Expected::one(Health::Up, ErrorClass::None)
    );
    assert_eq!(
        case.expect.outcome_for(3),
        &Expected::one(Health::Down, ErrorClass::BadContentType)
    );
    let bad =
        load("cases:\n  - name: ct\n    expect: { health: up, prometheus_3: { health: down } }\n")
            .expect_err("needs a class");
    assert!(
        bad.to_string().contains("expect.prometheus_3.error"),
        "{bad}"
    );
}

#[test]
fn values_are_typed_once_at_parse_time() {
    let plan = load("cases:\n  - name: m\n    exporter: { server_cert: expired, client_auth_type: RequireClientCert, client_ca: ca.crt }\n    scrape: { scheme: https, target_host: localhost, tls_config: { ca_file: ca.crt, cert_file: client.crt, key_file: /abs/client.key } }\n    expect: { health: down, error: cert_expired }\n")
        .expect("valid");
    let case = &plan.cases[0];
    let tls = case.exporter.tls.as_ref().expect("TLS");
    assert_eq!(tls.server_cert, ServerCert::Expired);
    // The toolkit's alias: requires a certificate, never verifies it.
    assert_eq!(tls.client_auth(), ClientAuthType::RequireClientCert);
    assert_eq!(
        tls.client_auth().canonical(),
        ClientAuthType::RequireAnyClientCert
    );
    assert_eq!(tls.client_ca.map(PkiFile::name), Some("ca.crt"));
    assert_eq!(case.scrape.scheme, Some(Scheme::Https));
    assert_eq!(case.scrape.target_host, TargetHost::Localhost);
    let scrape_tls = case.scrape.tls_config.as_ref().expect("tls_config");
    assert_eq!(
        scrape_tls.key_file,
        Some(FileRef::Absolute(PathBuf::from("/abs/client.key")))
    );
    assert_eq!(
        case.context(),
        CaseContext {
            scheme_https: true,
            target_tls: true,
            target_requires_client_cert: true,
            job_presents_client_cert: true,
            h2_refused_after_handshake: false,
        }
    );
}

#[test]
fn values_prometheus_or_the_toolkit_would_refuse_are_named() {
    for (yaml, want) in [
        (
            "cases:\n  - name: a\n    exporter: { server_cert: valid, client_auth_type: RequireSomeCert }\n    expect: { health: up }\n",
            "case `a`: exporter.client_auth_type: `RequireSomeCert` is not a client_auth_type",
        ),
        (
            "cases:\n  - name: b\n    scrape: { authorization: { type: Basic, credentials: dTpw } }\n    expect: { health: up }\n",
            "case `b`: scrape.authorization.type: Prometheus refuses `type: Basic`",
        ),
        (
            "cases:\n  - name: c\n    scrape: { scheme: htps }\n    expect: { health: up }\n",
            "case `c`: scrape.scheme:",
        ),
        (
            "cases:\n  - name: d\n    expect: { health: unknown }\n",
            "case `d`: expect.health:",
        ),
        (
            "cases:\n  - name: e\n    scrape: { basic_auth: { username: u, password: p, password_file: /x } }\n    expect: { health: up }\n",
            "case `e`: scrape.basic_auth.password_file: `password` and `password_file` are both set",
        ),
    ] {
        let err = load(yaml).expect_err(want);
        assert!(err.to_string().contains(want), "want {want:?} in: {err}");
    }
}

#[test]
fn every_mistake_of_a_file_is_reported_at_once() {
    let err = load("cases:\n  - name: a\n    scrape: { shceme: https }\n    expect: { health: up }\n  - name: b\n    expect: { health: down }\n  - name: c\n    exporter: { server_cert: revoked }\n    expect: { health: up }\n")
        .expect_err("three mistakes");
    let ScenarioError::Several { errors } = &err else {
        panic!("expected Several, got {err:?}");
    };
    assert_eq!(errors.len(), 3, "{err}");
    let text = err.to_string();
    for want in [
        "case `a`: scrape.shceme",
        "case `b`: expect.error",
        "case `c`: exporter.server_cert",
    ] {
        assert!(text.contains(want), "want {want:?} in: {text}");
    }
}

#[test]
fn a_file_without_cases_is_refused() {
    let err = load("cases: []\n").expect_err("no cases");
    assert!(matches!(err, ScenarioError::Empty { .. }), "{err:?}");
    assert!(err.to_string().contains("bad.yaml: no cases"), "{err}");
}

#[test]
fn a_racy_outcome_lists_the_classes_it_accepts() {
    let plan = load("cases:\n  - name: race\n    exporter: { server_cert: valid, client_auth_type: RequireAndVerifyClientCert, client_ca: ca.crt }\n    scrape: { scheme: https, tls_config: { ca_file: ca.crt } }\n    expect: { health: down, error: [client_cert_required, connection_reset] }\n")
        .expect("valid");
    let expected = &plan.cases[0].expect.outcome;
    assert_eq!(
        expected.classes,
        vec![ErrorClass::ClientCertRequired, ErrorClass::ConnectionReset]
    );
    for (class, accepted) in [
        (ErrorClass::ClientCertRequired, true),
        (ErrorClass::ConnectionReset, true),
        (ErrorClass::Timeout, false),
    ] {
        let outcome = Outcome {
            health: Health::Down,
            class,
        };
        assert_eq!(expected.accepts(&outcome), accepted, "{class}");
    }
    assert_eq!(
        expected.to_string(),
        "down (client_cert_required | connection_reset)"
    );
    for (yaml, want) in [
        (
            "cases:\n  - name: e\n    expect: { health: down, error: [] }\n",
            "an empty list",
        ),
        (
            "cases:\n  - name: u\n    expect: { health: up, error: [none, timeout] }\n",
            "an `up` target has no error",
        ),
        (
            "cases:\n  - name: n\n    expect: { health: down, error: [timeout, nonsense] }\n",
            "unknown error class `nonsense`",
        ),
    ] {
        let err = load(yaml).expect_err(want);
        assert!(err.to_string().contains(want), "want {want:?} in: {err}");
    }
}

#[test]
fn refuses_config_is_an_expectation_about_the_exporters_start() {
    let exporter =
        "exporter: { server_cert: valid, client_auth_type: NoClientCert, client_ca: ca.crt }";
    let plan = load(&format!(
        "cases:\n  - name: r\n    {exporter}\n    expect: {{ exporter: refuses_config, message_contains: without a Client Auth Policy }}\n  - name: bare\n    {exporter}\n    expect: {{ exporter: refuses_config }}\n"
    ))
    .expect("valid");
    assert_eq!(
        plan.cases[0].expect.exporter,
        ExporterStart::RefusesConfig {
            message_contains: Some("without a Client Auth Policy".into())
        }
    );
    assert!(plan.cases[0].expect.refuses_config_at_start());
    assert_eq!(
        plan.cases[1].expect.exporter,
        ExporterStart::RefusesConfig {
            message_contains: None
        }
    );
    // Every other case still expects a start and a scrape outcome.
    let plan = load("cases:\n  - name: u\n    expect: { health: up }\n").expect("valid");
    assert_eq!(plan.cases[0].expect.exporter, ExporterStart::Serves);
}

#[test]
fn refuses_config_mistakes_name_file_case_and_field() {
    for (expect, field) in [
        ("{ exporter: refuses_config, health: up }", "expect.health"),
        (
            "{ exporter: refuses_config, error: unauthorized }",
            "expect.error",
        ),
        (
            "{ exporter: refuses_config, health: down, error: refused }",
            "expect.health",
        ),
        (
            "{ exporter: refuses_config, last_error_contains: x }",
            "expect.last_error_contains",
        ),
        (
            "{ exporter: refuses_config, keep_alive: any }",
            "expect.keep_alive",
        ),
        (
            "{ exporter: refuses_config, prometheus_3: { health: up } }",
            "expect.prometheus_3",
        ),
        (
            "{ health: up, message_contains: x }",
            "expect.message_contains",
        ),
        ("{ error: unauthorized }", "expect.health"),
        ("{ exporter: refuses_it }", "expect.exporter"),
    ] {
        let err = load(&format!(
            "cases:\n  - name: c\n    exporter: {{ server_cert: valid }}\n    expect: {expect}\n"
        ))
        .expect_err(expect);
        let msg = err.to_string();
        assert!(
            msg.starts_with(&format!("bad.yaml: case `c`: {field}:")),
            "{expect}: {msg}"
        );
    }
    let err = load(
        "cases:\n  - name: c\n    exporter: { absent: true }\n    expect: { exporter: refuses_config }\n",
    )
    .expect_err("absent");
    assert!(
        err.to_string()
            .starts_with("bad.yaml: case `c`: exporter.absent:"),
        "{err}"
    );
}

#[test]
fn half_a_client_cert_and_a_timeout_above_the_interval_are_named() {
    let half = load("cases:\n  - name: h\n    scrape: { scheme: https, tls_config: { cert_file: client.crt } }\n    expect: { health: down, error: client_cert_required }\n")
        .expect_err("cert without key");
    assert!(
        half.to_string().starts_with(
            "bad.yaml: case `h`: scrape.tls_config.cert_file: is set without `key_file`"
        ),
        "{half}"
    );
    // Prometheus drops only that job: a case may expect exactly that.
    load("cases:\n  - name: h\n    scrape: { scheme: https, tls_config: { key_file: client.key } }\n    expect: { health: missing }\n")
        .expect("a dropped job on purpose");
    let slow = load("defaults: { scrape_interval: 1s, scrape_timeout: 1s }\ncases:\n  - name: t\n    scrape: { scrape_timeout: 2s }\n    expect: { health: up }\n")
        .expect_err("timeout above interval");
    assert!(
        slow.to_string().starts_with(
            "bad.yaml: case `t`: scrape.scrape_timeout: 2s is longer than the scrape interval (1s)"
        ),
        "{slow}"
    );
}

#[test]
fn compat_profiles_parse_and_an_unknown_one_names_the_fix() {
    let plan = load(
        "cases:\n  - name: old\n    exporter: { compat: node_exporter-1.5 }\n    expect: { health: up }\n  \
         - name: new\n    expect: { health: up }\n",
    )
    .expect("valid");
    assert_eq!(
        plan.cases[0].exporter.compat,
        fake_exporter::Compat::NodeExporter15
    );
    assert_eq!(
        plan.cases[1].exporter.compat,
        fake_exporter::Compat::Current
    );
    let err = load("cases:\n  - name: x\n    exporter: { compat: node_exporter-1.6 }\n    expect: { health: up }\n")
        .expect_err("unknown profile")
        .to_string();
    assert!(
        err.contains("bad.yaml: case `x`: exporter.compat: unknown compatibility profile `node_exporter-1.6`; use `current` (default) or `node_exporter-1.5`"),
        "{err}"
    );
}

#[test]
fn http2_refusal_context_follows_versions_and_http2_switches() {
    let ctx = |exporter: &str, scrape: &str| {
        let yaml = format!(
            "cases:\n  - name: x\n    exporter: {{ server_cert: valid, {exporter} }}\n    \
             scrape: {{ scheme: https, {scrape} }}\n    expect: {{ health: up }}\n"
        );
        load(&yaml).expect("valid").cases[0]
            .context()
            .h2_refused_after_handshake
    };
    let tls10 = "min_version: TLS10, max_version: TLS10";
    assert!(ctx(
        tls10,
        "tls_config: { ca_file: ca.crt, min_version: TLS10 }"
    ));
    assert!(!ctx(
        tls10,
        "enable_http2: false, tls_config: { ca_file: ca.crt, min_version: TLS10 }"
    ));
    assert!(!ctx(
        &format!("{tls10}, http2: false"),
        "tls_config: { ca_file: ca.crt, min_version: TLS10 }"
    ));
    // Go's client default (TLS12) meets no version: a version refusal, not an HTTP/2 one.
    assert!(!ctx(tls10, "tls_config: { ca_file: ca.crt }"));
    // min_version TLS10 with TLS 1.3 allowed: TLS 1.3 is negotiated.
    assert!(!ctx(
        "min_version: TLS10",
        "tls_config: { ca_file: ca.crt, min_version: TLS10 }"
    ));
    let cbc =
        "max_version: TLS12, http2: true, cipher_suites: [TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA]";
    assert!(ctx(cbc, "tls_config: { ca_file: ca.crt }"));
    let gcm = "max_version: TLS12, cipher_suites: [TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256]";
    assert!(!ctx(gcm, "tls_config: { ca_file: ca.crt }"));
}

#[test]
fn files_keys_are_plain_names_and_receiver_cases_are_held_to_it_too() {
    for bad in ["a/b", "..", ".", "sub/../x", "/etc/cron.d/x", ""] {
        let yaml = format!(
            "cases:\n  - name: a\n    files: {{ \"{bad}\": x }}\n    expect: {{ health: up }}\n"
        );
        let msg = load(&yaml).expect_err(bad).to_string();
        assert!(
            msg.starts_with(&format!("bad.yaml: case `a`: files.{bad}: ")),
            "{bad}: {msg}"
        );
        assert!(!msg.contains("files: { ../"), "{msg}");
    }
    let receiver = "receivers:\n  - name: r\n    kind: alertmanager\n    files: { ../../../x: t }\n    expect: { delivered: true }\n";
    let msg = load(receiver).expect_err("receiver").to_string();
    assert!(
        msg.starts_with("bad.yaml: case `r`: files.../../../x: climbs out"),
        "{msg}"
    );
    let ok = load("cases:\n  - name: a\n    files: { token.txt: x, .hidden: y }\n    expect: { health: up }\n")
        .expect("plain names");
    assert_eq!(ok.cases[0].files.len(), 2);
}

#[test]
fn case_files_are_written_as_new_files_never_through_a_symlink() {
    let run = tempfile::tempdir().expect("tempdir");
    let outside = tempfile::tempdir().expect("tempdir");
    let target = outside.path().join("target");
    let plan =
        load("cases:\n  - name: a\n    files: { password: s3cret }\n    expect: { health: up }\n")
            .expect("valid");
    let case = &plan.cases[0];
    let dir = run.path().join("files");
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::os::unix::fs::symlink(&target, dir.join("password")).expect("symlink");
    let (path, err) = case.write_files(&dir).expect_err("a symlink is in the way");
    assert_eq!(path, dir.join("password"));
    assert_eq!(err.kind(), std::io::ErrorKind::AlreadyExists, "{err}");
    assert!(!target.exists(), "written through the symlink");
    // Into a fresh directory it is written.
    let fresh = run.path().join("fresh");
    case.write_files(&fresh).expect("written");
    assert_eq!(
        std::fs::read_to_string(fresh.join("password")).expect("read"),
        "s3cret"
    );
}

#[test]
fn limits_apply_to_sources_given_as_text_too() {
    let small = limits::Limits {
        cases: 2,
        ..limits::Limits::default()
    };
    let three = "cases:\n  - { name: a, expect: { health: up } }\n  - { name: b, expect: { health: up } }\n  - { name: c, expect: { health: up } }\n";
    let err = Plan::from_sources_within(&[("m.yaml".into(), three.into())], &small)
        .expect_err("three cases")
        .to_string();
    assert!(
        err.starts_with("m.yaml: more than 2 cases in one run"),
        "{err}"
    );
    let deep = "cases:\n  - name: a\n    expect: { health: up }\n";
    let shallow = limits::Limits {
        depth: 3,
        ..limits::Limits::default()
    };
    let err = Plan::from_sources_within(&[("d.yaml".into(), deep.into())], &shallow)
        .expect_err("four levels")
        .to_string();
    assert!(
        err.starts_with("d.yaml: line 3: YAML nested more than 3 levels"),
        "{err}"
    );
    let big = limits::Limits {
        series: 10,
        body_bytes: 100,
        ..limits::Limits::default()
    };
    let sized = "cases:\n  - { name: s, exporter: { series: 11 }, expect: { health: up } }\n  - { name: b, exporter: { faults: { oversize_body_bytes: 101 } }, expect: { health: down, error: body_too_large } }\n";
    let err = Plan::from_sources_within(&[("s.yaml".into(), sized.into())], &big)
        .expect_err("above the limits")
        .to_string();
    assert!(
        err.contains("s.yaml: case `s`: exporter.series: 11 is above 10"),
        "{err}"
    );
    assert!(
        err.contains("s.yaml: case `b`: exporter.faults.oversize_body_bytes: 101 is above 100"),
        "{err}"
    );
}

#[test]
fn every_duration_of_defaults_must_be_a_millisecond_or_more() {
    for key in ["scrape_interval", "scrape_timeout", "deadline"] {
        let yaml = format!(
            "defaults: {{ {key}: 500us }}\ncases:\n  - {{ name: a, expect: {{ health: up }} }}\n"
        );
        let msg = load(&yaml).expect_err(key).to_string();
        assert!(
            msg.contains(&format!("bad.yaml: defaults.{key}: 500us cannot work")),
            "{key}: {msg}"
        );
    }
}

#[test]
fn durations_of_a_case_below_a_millisecond_are_named() {
    let msg =
        load("cases:\n  - { name: a, scrape: { scrape_timeout: 0s }, expect: { health: up } }\n")
            .expect_err("zero timeout")
            .to_string();
    assert!(
        msg.starts_with("bad.yaml: case `a`: scrape.scrape_timeout: 0s cannot work"),
        "{msg}"
    );
    let msg = load("receivers:\n  - { name: r, kind: alertmanager, send: { timeout: 0s }, expect: { delivered: true } }\n")
        .expect_err("zero send timeout")
        .to_string();
    assert!(
        msg.starts_with("bad.yaml: case `r`: send.timeout: 0s cannot work"),
        "{msg}"
    );
}

#[test]
fn the_largest_matrix_the_generator_writes_fits_every_limit() {
    // `generate --cases 10000` (the case limit) writes about 6.4 MB: the file-size limit
    // (16 MiB) and the value limit leave it room.
    let opts = crate::generate::GenerateOptions {
        cases: Some(limits::CASES.default as usize),
        interval: Some(std::time::Duration::from_secs(10)),
        ..Default::default()
    };
    let g = crate::generate::generate(&opts).expect("generated");
    assert!(
        g.yaml.len() as u64 * 2 < limits::FILE_BYTES.default,
        "{} bytes",
        g.yaml.len()
    );
    let plan = Plan::from_sources(&[("gen.yaml".into(), g.yaml)]).expect("within every limit");
    assert_eq!(plan.cases.len(), 10_000);
}

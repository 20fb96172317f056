//! Scenario parsing: the default matrix loads, and bad files give errors naming the file,
//! the case and the field.

use super::*;

fn load(yaml: &str) -> Result<Plan, ScenarioError> {
    Plan::from_sources(&[("bad.yaml".to_owned(), yaml.to_owned())])
}

#[test]
fn default_matrix_loads_with_at_least_40_cases() {
    let plan = Plan::load(&[]).expect("the embedded matrix is valid");
    assert!(plan.cases.len() >= 40, "{} cases", plan.cases.len());
    assert_eq!(plan.defaults.scrapes, 10);
    let classes: std::collections::BTreeSet<String> = plan
        .cases
        .iter()
        .map(|c| c.expected_class.to_string())
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
    let ka: Vec<KeepAlive> = plan.cases.iter().map(|c| c.keep_alive).collect();
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
    assert_eq!(case.expected_for(2), (ExpectHealth::Up, ErrorClass::None));
    assert_eq!(
        case.expected_for(3),
        (ExpectHealth::Down, ErrorClass::BadContentType)
    );
    let bad =
        load("cases:\n  - name: ct\n    expect: { health: up, prometheus_3: { health: down } }\n")
            .expect_err("needs a class");
    assert!(
        bad.to_string().contains("expect.prometheus_3.error"),
        "{bad}"
    );
}

use super::*;

const FILE: &str = "r.yaml";

fn parse(text: &str) -> Result<ReceiverPlan, ScenarioError> {
    ReceiverPlan::from_source(FILE, text)
}

#[test]
fn a_receiver_file_parses_into_typed_receivers() {
    let plan = parse(
        r#"
defaults: { evaluation_interval: 300ms, deadline: 45s }
receivers:
  - name: am-basic
    kind: alertmanager
    exporter: { server_cert: valid, basic_auth_users: { prom: s3cret } }
    send:
      scheme: https
      basic_auth: { username: prom, password: wrong }
      tls_config: { ca_file: ca.crt }
      timeout: 5s
      path_prefix: /
    expect: { delivered: false, error: unauthorized, receiver_status: 401 }
  - name: rw
    kind: remote_write
    expect: { delivered: true }
"#,
    )
    .expect("valid");
    assert_eq!(
        plan.defaults.evaluation_interval,
        Duration::from_millis(300)
    );
    assert_eq!(plan.defaults.deadline, Duration::from_secs(45));
    let am = &plan.receivers[0];
    assert_eq!(am.kind, ReceiverKind::Alertmanager);
    assert_eq!(am.timeout, Some(Duration::from_secs(5)));
    assert_eq!(am.path_prefix.as_deref(), Some("/"));
    assert!(am.case.scrape.is_https());
    assert_eq!(
        am.expect,
        ReceiverExpect {
            delivered: false,
            error: vec![ErrorClass::Unauthorized],
            receiver_status: Some(401),
        }
    );
    assert_eq!(plan.receivers[1].kind, ReceiverKind::RemoteWrite);
}

#[test]
fn mistakes_name_file_receiver_field_and_fix() {
    let err = parse(
        r#"
receivers:
  - name: a
    kind: alertmanager
    send: { metrics_path: /x }
    expect: { delivered: true }
  - name: b
    kind: remote_write
    send: { tls_config: { ca_file: nope.crt } }
    expect: { delivered: true }
  - name: c
    kind: alertmanager
    send: { tls_config: { ca_file: my.crt } }
    expect: { delivered: false }
  - name: d
    kind: real_alertmanager
    exporter: { bearer_tokens: [t] }
    expect: { delivered: true }
  - name: e
    kind: remote_write
    send: { path_prefix: /x }
    expect: { delivered: true }
  - name: f
    kind: pigeon
    expect: { delivered: true }
"#,
    )
    .expect_err("seven mistakes")
    .to_string();
    for needle in [
        "r.yaml: case `a`: send.metrics_path: unknown field `metrics_path`, expected one of `scheme`",
        "r.yaml: case `b`: send.tls_config.ca_file: `nope.crt` is not a file of the generated PKI",
        "r.yaml: case `c`: expect.error: required with `delivered: false`",
        "r.yaml: case `c`: send.tls_config.ca_file: `my.crt` is not a file",
        "r.yaml: case `d`: exporter: uses ",
        "r.yaml: case `e`: send.path_prefix: only Alertmanagers have a path_prefix",
        "r.yaml: case `f`: kind: `pigeon` is not a kind of case; use `alertmanager`",
    ] {
        assert!(err.contains(needle), "missing {needle:?} in:\n{err}");
    }
}

#[test]
fn combinations_prometheus_refuses_are_refused_for_send_too() {
    let err = parse(
        r#"
receivers:
  - name: both
    kind: alertmanager
    send:
      basic_auth: { username: u, password: p }
      authorization: { credentials: t }
    expect: { delivered: true }
"#,
    )
    .expect_err("basic_auth and authorization")
    .to_string();
    assert!(err.starts_with("r.yaml: case `both`: send"), "{err}");
}

#[test]
fn send_is_checked_by_the_scrape_jobs_client_checker_with_send_paths() {
    let err = parse(
        r#"
receivers:
  - name: half-cert
    kind: alertmanager
    exporter: { server_cert: valid }
    send: { scheme: https, tls_config: { ca_file: ca.crt, cert_file: client.crt } }
    expect: { delivered: true }
  - name: basic-type
    kind: remote_write
    send: { authorization: { type: Basic, credentials: x } }
    expect: { delivered: true }
  - name: both-secrets
    kind: remote_write
    files: { pw: "p\n" }
    send: { basic_auth: { username: u, password: p, password_file: pw } }
    expect: { delivered: true }
"#,
    )
    .expect_err("three refusals")
    .to_string();
    for needle in [
        "r.yaml: case `half-cert`: send.tls_config.cert_file: is set without `key_file`",
        "r.yaml: case `basic-type`: send.authorization.type: Prometheus refuses `type: Basic`",
        "r.yaml: case `both-secrets`: send.basic_auth.password_file: `password` and `password_file` are both set",
    ] {
        assert!(err.contains(needle), "missing {needle:?} in:\n{err}");
    }
}

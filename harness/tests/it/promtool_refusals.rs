//! Scrape-config combinations Prometheus 2.42's `promtool check config` refuses are refused
//! when the scenario is parsed, naming the case and the field. One table: every row's
//! `scrape:` section goes, as the same YAML, both to the parser and (as a job) to the real
//! promtool, so the two cannot drift apart. What the harness fills in itself (the OAuth2
//! `token_url` of the case's token endpoint, the `proxy_url` of its proxy) is filled in the
//! same way for promtool.

use std::process::{Command, Stdio};

use anyhow::{ensure, Context, Result};
use serde_norway::{Mapping, Value};

use fake_exporter::pki::{KeyType, Pki};
use scrape_harness::Plan;

use crate::real_targets::require_program;

/// Scenario defaults; the rendered config gets the same global interval and timeout.
const INTERVAL: &str = "1s";

/// A row: the case's `scrape:` (flow YAML; `@name` is an absolute path to a PKI file or,
/// for `@secret`, a written secret), its `expect:`, and the field our parser must name
/// (`None`: both accept it).
struct Row {
    scrape: &'static str,
    expect: &'static str,
    field: Option<&'static str>,
    /// Whether promtool refuses the job.
    promtool_refuses: bool,
    /// More keys of the case (flow YAML mapping), e.g. the token endpoint or the proxy.
    case: &'static str,
}

const fn refused(scrape: &'static str, field: &'static str) -> Row {
    Row {
        scrape,
        expect: "{ health: up }",
        field: Some(field),
        promtool_refuses: true,
        case: "{}",
    }
}

/// A case with a token endpoint the job's `oauth2` can point at.
const TOKEN_ENDPOINT: &str = "{ exporter: { oauth2: { client_id: a, client_secret: b } } }";

const fn refused_with(scrape: &'static str, field: &'static str, case: &'static str) -> Row {
    Row {
        case,
        ..refused(scrape, field)
    }
}

const fn accepted_with(scrape: &'static str, case: &'static str) -> Row {
    Row {
        scrape,
        expect: "{ health: up }",
        field: None,
        promtool_refuses: false,
        case,
    }
}

const ROWS: &[Row] = &[
    refused(
        "{ basic_auth: { username: u, password: p }, authorization: { credentials: t } }",
        "scrape",
    ),
    refused(
        "{ basic_auth: { username: u, password: p, password_file: '@secret' } }",
        "scrape.basic_auth.password_file",
    ),
    refused(
        "{ authorization: { credentials: t, credentials_file: '@secret' } }",
        "scrape.authorization.credentials_file",
    ),
    refused(
        "{ authorization: { type: Basic, credentials: t } }",
        "scrape.authorization.type",
    ),
    refused(
        "{ authorization: { type: basic, credentials: t } }",
        "scrape.authorization.type",
    ),
    refused(
        "{ scheme: https, tls_config: { ca_file: '@ca.crt', cert_file: '@client.crt' } }",
        "scrape.tls_config.cert_file",
    ),
    refused(
        "{ scheme: https, tls_config: { ca_file: '@ca.crt', key_file: '@client.key' } }",
        "scrape.tls_config.key_file",
    ),
    refused("{ scrape_timeout: 2s }", "scrape.scrape_timeout"),
    // Keys the scenario vocabulary does not have: refused as unknown, named all the same.
    refused(
        "{ bearer_token: t, bearer_token_file: '@secret' }",
        "scrape.bearer_token",
    ),
    refused(
        "{ scheme: https, tls_config: { ca: x, ca_file: '@ca.crt' } }",
        "scrape.tls_config.ca",
    ),
    // oauth2 (the scenario has it since issue 14; `token_url` is the harness').
    refused_with(
        "{ basic_auth: { username: u, password: p }, oauth2: { client_id: a, client_secret: b } }",
        "scrape.oauth2",
        TOKEN_ENDPOINT,
    ),
    refused_with(
        "{ authorization: { credentials: t }, oauth2: { client_id: a, client_secret: b } }",
        "scrape.oauth2",
        TOKEN_ENDPOINT,
    ),
    refused_with(
        "{ oauth2: { client_id: a, client_secret: b, client_secret_file: '@secret' } }",
        "scrape.oauth2.client_secret_file",
        TOKEN_ENDPOINT,
    ),
    // Proxies: proxy_connect_header needs proxy_url; no_proxy and proxy_from_environment
    // are Prometheus 2.43+ keys that 2.42 refuses.
    refused(
        "{ proxy_connect_header: { Proxy-Authorization: [Basic eDp5] } }",
        "scrape.proxy_connect_header",
    ),
    refused_with("{ no_proxy: 127.0.0.1 }", "scrape.no_proxy", "{ proxy: {} }"),
    refused_with(
        "{ proxy_from_environment: true }",
        "scrape.proxy_from_environment",
        "{}",
    ),
    // Controls: accepted by both.
    accepted_with(
        "{ oauth2: { client_id: a, client_secret_file: '@secret', scopes: [s], endpoint_params: { audience: x }, tls_config: { ca_file: '@ca.crt' } } }",
        TOKEN_ENDPOINT,
    ),
    accepted_with(
        "{ scheme: https, tls_config: { ca_file: '@ca.crt' }, proxy_connect_header: { Proxy-Authorization: [Basic eDp5] } }",
        "{ proxy: { users: { x: y } } }",
    ),
    Row {
        scrape: "{ scheme: https, tls_config: { ca_file: '@ca.crt', cert_file: '@client.crt', key_file: '@client.key' } }",
        expect: "{ health: up }",
        field: None,
        promtool_refuses: false,
        case: "{}",
    },
    Row {
        scrape: "{ basic_auth: { username: u, password_file: '@secret' }, scrape_timeout: 1s }",
        expect: "{ health: up }",
        field: None,
        promtool_refuses: false,
        case: "{}",
    },
    // promtool refuses it, Prometheus only drops the job: allowed when that is the point.
    Row {
        scrape: "{ scheme: https, tls_config: { ca_file: '@ca.crt', cert_file: '@client.crt' } }",
        expect: "{ health: missing }",
        field: None,
        promtool_refuses: true,
        case: "{}",
    },
];

/// `@name` → an absolute path, in every string of `value`.
fn resolve(value: &mut Value, path_of: &dyn Fn(&str) -> Result<String>) -> Result<()> {
    match value {
        Value::String(s) if s.starts_with('@') => *s = path_of(&s[1..])?,
        Value::Mapping(m) => {
            for (_, v) in m.iter_mut() {
                resolve(v, path_of)?;
            }
        }
        Value::Sequence(seq) => {
            for v in seq {
                resolve(v, path_of)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// promtool's verdict on a config with one job made of `scrape` (plus what the harness
/// fills in for the case's third parties): `Ok(())` or its output.
fn promtool(
    dir: &std::path::Path,
    scrape: &Value,
    case: &Mapping,
) -> Result<std::result::Result<(), String>> {
    let mut job = Mapping::new();
    job.insert("job_name".into(), "c".into());
    let mut target = Mapping::new();
    target.insert(
        "targets".into(),
        Value::Sequence(vec!["127.0.0.1:9".into()]),
    );
    job.insert(
        "static_configs".into(),
        Value::Sequence(vec![Value::Mapping(target)]),
    );
    for (k, v) in scrape.as_mapping().context("scrape is a mapping")? {
        job.insert(k.clone(), v.clone());
    }
    if let Some(Value::Mapping(oauth2)) = job.get_mut("oauth2") {
        oauth2.insert("token_url".into(), "http://127.0.0.1:1/token".into());
    }
    if case.contains_key("proxy") {
        job.insert("proxy_url".into(), "http://127.0.0.1:2".into());
    }
    let mut global = Mapping::new();
    global.insert("scrape_interval".into(), INTERVAL.into());
    global.insert("scrape_timeout".into(), INTERVAL.into());
    let mut config = Mapping::new();
    config.insert("global".into(), Value::Mapping(global));
    config.insert(
        "scrape_configs".into(),
        Value::Sequence(vec![Value::Mapping(job)]),
    );
    let path = dir.join("prometheus.yml");
    std::fs::write(&path, serde_norway::to_string(&config)?)?;
    let out = Command::new("promtool")
        .args(["check", "config"])
        .arg(&path)
        .stdin(Stdio::null())
        .output()
        .context("running promtool")?;
    Ok(if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    })
}

#[test]
fn every_combination_promtool_refuses_is_refused_at_parse_time() -> Result<()> {
    require_program("promtool")?;
    // Arrange: real files, so that promtool judges the combination and not a missing file.
    let dir = tempfile::Builder::new()
        .prefix("it-promtool-refusals-")
        .tempdir()?;
    let pki = Pki::generate(KeyType::EcdsaP256)?.write_to(&dir.path().join("pki"))?;
    let secret = dir.path().join("secret");
    std::fs::write(&secret, "s3cret\n")?;
    let path_of = |name: &str| -> Result<String> {
        let path = match name {
            "secret" => secret.clone(),
            pki_name => pki
                .by_name(pki_name)
                .with_context(|| format!("no PKI file {pki_name}"))?,
        };
        Ok(path.to_string_lossy().into_owned())
    };
    let mut problems = Vec::new();
    for row in ROWS {
        let mut scrape: Value = serde_norway::from_str(row.scrape)?;
        resolve(&mut scrape, &path_of)?;
        let mut case: Mapping = serde_norway::from_str(row.case)?;
        let extra = case.clone();
        case.insert("name".into(), "c".into());
        case.insert("scrape".into(), scrape.clone());
        case.insert("expect".into(), serde_norway::from_str(row.expect)?);
        let mut defaults = Mapping::new();
        defaults.insert("scrape_interval".into(), INTERVAL.into());
        defaults.insert("scrape_timeout".into(), INTERVAL.into());
        let mut file = Mapping::new();
        file.insert("defaults".into(), Value::Mapping(defaults));
        file.insert("cases".into(), Value::Sequence(vec![Value::Mapping(case)]));
        let yaml = serde_norway::to_string(&file)?;

        // Act
        let parsed = Plan::from_sources(&[("combo.yaml".into(), yaml)]);
        let checked = promtool(dir.path(), &scrape, &extra)?;

        // Assert
        match (row.field, &parsed) {
            (Some(field), Err(e)) => {
                let prefix = format!("combo.yaml: case `c`: {field}:");
                if !e.to_string().starts_with(&prefix) {
                    problems.push(format!("{}: want `{prefix} ...`, got: {e}", row.scrape));
                }
            }
            (Some(_), Ok(_)) => problems.push(format!("{}: the parser accepts it", row.scrape)),
            (None, Err(e)) => problems.push(format!("{}: the parser refuses it: {e}", row.scrape)),
            (None, Ok(_)) => {}
        }
        match (row.promtool_refuses, &checked) {
            (true, Ok(())) => problems.push(format!("{}: promtool accepts it", row.scrape)),
            (false, Err(out)) => {
                problems.push(format!("{}: promtool refuses it: {out}", row.scrape))
            }
            _ => {}
        }
    }
    ensure!(problems.is_empty(), "{}", problems.join("\n"));
    Ok(())
}

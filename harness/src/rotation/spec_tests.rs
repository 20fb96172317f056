//! Rotation cases: parsing, derived watches, and mistakes naming file, case and field.

use super::*;

const GOOD: &str = "
defaults: { scrape_interval: 1s }
cases:
  - name: pw
    exporter: { basic_auth_users: { prom: old } }
    scrape: { basic_auth: { username: prom, password: old } }
    rotate:
      - { exporter: { basic_auth_users: { prom: new } }, scrape: { basic_auth: { password: new } } }
    expect:
      health: up
      rotation: { new_seen_within_scrapes: 1, old_refused_after: true, failed_scrapes: 0 }
";

#[test]
fn a_password_rotation_parses_and_derives_what_is_watched() {
    let plan = parse("r.yaml", GOOD).expect("parses");
    let case = &plan.cases[0];
    assert_eq!(case.rotation.watch, Some(Watched::Password));
    assert_eq!(case.rotation.new_seen, Some(NewSeen::Within(1)));
    assert_eq!(case.rotation.failed_scrapes, Some(Count::Exactly(0)));
    assert_eq!(
        case.steps[0].scrape.basic_auth,
        Some(("prom".into(), "new".into()))
    );
}

#[test]
fn mistakes_name_file_case_and_field() {
    let bad = GOOD.replace(
        "username: prom, password: old",
        "username: prom, pasword: old",
    );
    let err = parse("r.yaml", &bad).unwrap_err().to_string();
    assert!(
        err.contains("r.yaml: case `pw`: scrape.basic_auth"),
        "{err}"
    );
    assert!(err.contains("pasword"), "{err}");

    let bad = GOOD.replace(
        "{ prom: new } }, scrape",
        "{ prom: new } }, scrape: { ca: old }, x",
    );
    let err = parse("r.yaml", &bad).unwrap_err().to_string();
    assert!(err.contains("case `pw`"), "{err}");

    let bad = GOOD.replace(
        "scrape: { basic_auth: { password: new } }",
        "scrape: { basic_auth: { username: other, password: new } }",
    );
    let err = parse("r.yaml", &bad).unwrap_err().to_string();
    assert!(
        err.contains(
            "rotate[0].scrape.basic_auth.username: Prometheus 2.42 has no `username_file`"
        ),
        "{err}"
    );

    let bad = GOOD.replace(
        "new_seen_within_scrapes: 1",
        "new_seen_within_scrapes: soon",
    );
    let err = parse("r.yaml", &bad).unwrap_err().to_string();
    assert!(
        err.contains("expect.rotation.new_seen_within_scrapes"),
        "{err}"
    );
}

#[test]
fn counts_and_never_and_step_defaults() {
    assert!(Count::Exactly(0).holds(0) && !Count::Exactly(0).holds(1));
    let at_least = Count::Range {
        min: Some(3),
        max: None,
    };
    assert!(at_least.holds(3) && !at_least.holds(2));
    assert_eq!(at_least.to_string(), ">= 3");
    let yaml = "
defaults: { warm_up_scrapes: 1, scrapes_after: 3 }
cases:
  - name: kept
    exporter: { server_cert: old }
    scrape: { ca: old }
    rotate: [ { exporter: { server_cert: reissued } }, { after_scrapes: 5, scrape: { ca: [old, new] }, reconnect: true } ]
    expect: { health: up, rotation: { new_seen_within_scrapes: never, failed_scrapes: { max: 1 } } }
";
    let plan = parse("r.yaml", yaml).expect("parses");
    assert_eq!((plan.warm_up_scrapes, plan.scrapes_after), (1, 3));
    let case = &plan.cases[0];
    assert_eq!(case.rotation.new_seen, Some(NewSeen::Never));
    assert_eq!(case.rotation.watch, Some(Watched::ServerCert));
    assert_eq!(
        case.rotation.failed_scrapes,
        Some(Count::Range {
            min: None,
            max: Some(1)
        })
    );
    let steps: Vec<_> = case
        .steps
        .iter()
        .map(|s| {
            (
                s.after_scrapes,
                s.reconnect,
                s.exporter.server_cert,
                s.scrape.ca,
            )
        })
        .collect();
    let both = Some(CaBundle {
        old: true,
        new: true,
    });
    let old = Some(CaBundle {
        old: true,
        new: false,
    });
    assert_eq!(
        steps,
        [
            (2, false, Some(Generation::Reissued), old),
            (5, true, Some(Generation::Reissued), both),
        ]
    );
}

#[test]
fn unknown_generations_and_bundles_list_the_choices() {
    let yaml = "
cases:
  - name: bad-names
    exporter: { server_cert: newest, client_ca: [old, newer] }
    scrape: { ca: old, client_cert: old }
    rotate: [ { scrape: { client_cert: reissued } } ]
    expect: { health: up }
";
    let err = parse("r.yaml", yaml).unwrap_err().to_string();
    assert!(
            err.contains("case `bad-names`: exporter.server_cert: unknown certificate generation `newest`; use one of: old, reissued, new-ca"),
            "{err}"
        );
    assert!(
        err.contains("exporter.client_ca: `newer`: a CA bundle holds `old`, `new` or both"),
        "{err}"
    );
}

#[test]
fn a_server_certificate_is_not_refused_and_ambiguity_needs_watch() {
    let yaml = "
cases:
  - name: both
    exporter: { server_cert: old, client_ca: old }
    scrape: { ca: old, client_cert: old }
    rotate: [ { exporter: { server_cert: reissued }, scrape: { client_cert: reissued } } ]
    expect: { health: up, rotation: { new_seen_within_scrapes: 1 } }
";
    let err = parse("r.yaml", yaml).unwrap_err().to_string();
    assert!(
        err.contains("expect.rotation.watch: the steps change server_cert and client_cert"),
        "{err}"
    );
    let yaml = yaml.replace(
        "new_seen_within_scrapes: 1",
        "watch: server_cert, old_refused_after: true",
    );
    let err = parse("r.yaml", &yaml).unwrap_err().to_string();
    assert!(
        err.contains("old_refused_after: applies to credentials"),
        "{err}"
    );
}

//! One file format for every kind of case: a mixed file parses into the three kinds, the
//! receiver and rotation layouts load through [`Plan`] to the values their own loaders gave,
//! and kind mistakes name file, case and key.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::*;
use crate::receivers::{ReceiverKind, ReceiverPlan};
use crate::rotation::{RotationPlan, Watched};

fn repo_file(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path)
}

/// `Plan::load` of a repository file, and the path it names the file by.
fn load_repo_file(path: &str) -> (Plan, String) {
    let file = repo_file(path);
    let plan =
        Plan::load(std::slice::from_ref(&file)).unwrap_or_else(|e| panic!("{path} loads: {e}"));
    (plan, file.display().to_string())
}

/// The Debug form of `value` with `loaded_as` named as `path` (as the snapshot has it).
fn debug_as(value: &impl std::fmt::Debug, loaded_as: &str, path: &str) -> String {
    format!("{value:#?}").replace(loaded_as, path)
}

// The snapshots are the Debug forms of what the receiver and rotation loaders gave before
// they became wrappers over `Plan` (taken from `ReceiverPlan::from_source` and
// `rotation::parse` at the commit before the one raw schema). When a file or a type changes
// on purpose, rewrite them and review the diff:
//   SCRAPE_HARNESS_UPDATE_SNAPSHOTS=1 cargo test -p scrape-harness --lib kinds_tests

/// Compares `actual` with the snapshot `name`; with `SCRAPE_HARNESS_UPDATE_SNAPSHOTS=1`,
/// rewrites the snapshot instead (for a deliberate change, reviewed in the diff).
fn assert_snapshot(actual: &str, snapshot: &str, name: &str, path: &str) {
    if std::env::var_os("SCRAPE_HARNESS_UPDATE_SNAPSHOTS").is_some() {
        let file = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("src/scenario/raw/snapshots")
            .join(name);
        std::fs::write(&file, actual).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        return;
    }
    assert_eq!(actual, snapshot, "{path} (snapshot {name})");
}
const RECEIVERS_SNAPSHOT: &str = include_str!("raw/snapshots/receivers.yaml.debug");
const WEB_CONFIG_SNAPSHOT: &str = include_str!("raw/snapshots/prometheus-web-config.yaml.debug");
const ROTATION_SNAPSHOT: &str = include_str!("raw/snapshots/rotation.yaml.debug");
const WRONG_ROTATION_SNAPSHOT: &str =
    include_str!("raw/snapshots/tests_rotation-wrong-expectation.yaml.debug");

#[test]
fn receiver_files_load_through_plan_to_the_values_of_the_old_loader() {
    for (path, snapshot, name) in [
        (
            "scenarios/receivers.yaml",
            RECEIVERS_SNAPSHOT,
            "receivers.yaml.debug",
        ),
        (
            "scenarios/prometheus-web-config.yaml",
            WEB_CONFIG_SNAPSHOT,
            "prometheus-web-config.yaml.debug",
        ),
    ] {
        let (plan, loaded_as) = load_repo_file(path);
        assert!(plan.cases.is_empty(), "{path}: no scrape cases");
        assert!(plan.rotation.is_none(), "{path}: no rotation cases");
        let receivers = plan.receivers.expect("receiver cases");
        assert_snapshot(
            &debug_as(&receivers, &loaded_as, path),
            snapshot,
            name,
            path,
        );
        // The wrapper the `receivers` command uses gives the same.
        let wrapped = ReceiverPlan::load(&repo_file(path)).expect("the wrapper loads it");
        assert_eq!(
            debug_as(&wrapped, &loaded_as, path),
            debug_as(&receivers, &loaded_as, path),
            "{path}"
        );
    }
}

#[test]
fn rotation_files_load_through_plan_to_the_values_of_the_old_loader() {
    for (path, snapshot, name) in [
        (
            "scenarios/rotation.yaml",
            ROTATION_SNAPSHOT,
            "rotation.yaml.debug",
        ),
        (
            "scenarios/tests/rotation-wrong-expectation.yaml",
            WRONG_ROTATION_SNAPSHOT,
            "tests_rotation-wrong-expectation.yaml.debug",
        ),
    ] {
        let (plan, loaded_as) = load_repo_file(path);
        assert!(plan.cases.is_empty(), "{path}: no scrape cases");
        assert!(plan.receivers.is_none(), "{path}: no receiver cases");
        let rotation = plan.rotation.expect("rotation cases");
        assert_snapshot(&debug_as(&rotation, &loaded_as, path), snapshot, name, path);
        let wrapped: RotationPlan =
            crate::rotation::load(&repo_file(path)).expect("the wrapper loads it");
        assert_eq!(wrapped, rotation, "{path}");
    }
}

/// The one YAML file of `scenarios/` that is not a scenario file: the `--target` catalog,
/// whose `{placeholders}` and `when:` conditions `conformance::target_catalog` fills in and
/// checks before the scenario parser reads it (its own tests load every entry).
const NOT_SCENARIO_FILES: [&str; 1] = ["conformance-target.yaml"];

#[test]
fn every_scenario_file_of_the_repository_loads() {
    let mut loaded = 0;
    for dir in ["scenarios", "scenarios/tests"] {
        let mut files: Vec<PathBuf> = std::fs::read_dir(repo_file(dir))
            .expect("the directory exists")
            .map(|e| e.expect("a directory entry").path())
            .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
            .filter(|p| {
                !p.file_name()
                    .is_some_and(|n| NOT_SCENARIO_FILES.iter().any(|x| n == *x))
            })
            .collect();
        files.sort();
        for file in files {
            let plan = Plan::load(std::slice::from_ref(&file))
                .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            let kinds = usize::from(!plan.cases.is_empty())
                + usize::from(plan.receivers.is_some())
                + usize::from(plan.rotation.is_some());
            assert!(kinds >= 1, "{}: no case", file.display());
            loaded += 1;
        }
    }
    assert!(loaded >= 15, "only {loaded} scenario files found");
}

const MIXED: &str = r#"
defaults:
  scrape_interval: 1s
  scrape_timeout: 500ms
  key_type: ed25519
  bcrypt_cost: 5
  evaluation_interval: 300ms
  deadline: 30s
  warm_up_scrapes: 1
  scrapes_after: 3
cases:
  - name: scrape-basic
    exporter: { basic_auth_users: { prom: pw } }
    scrape: { basic_auth: { username: prom, password: pw } }
    expect: { health: up }
  - name: am-tls
    kind: alertmanager
    exporter: { server_cert: valid }
    send: { scheme: https, tls_config: { ca_file: ca.crt }, timeout: 5s, path_prefix: / }
    expect: { delivered: true }
  - name: rw-unauthorized
    kind: remote_write
    exporter: { basic_auth_users: { prom: pw } }
    send: { basic_auth: { username: prom, password: guess } }
    expect: { delivered: false, error: unauthorized, receiver_status: 401 }
  - name: token-rotation
    exporter: { bearer_tokens: [old] }
    scrape: { token: old }
    rotate: [ { exporter: { bearer_tokens: [new] }, scrape: { token: new } } ]
    expect: { health: up, rotation: { new_seen_within_scrapes: 1 } }
  - name: cert-rotation
    kind: rotation
    exporter: { server_cert: old }
    scrape: { ca: old }
    rotate: [ { exporter: { server_cert: reissued }, reconnect: true } ]
    expect: { health: up }
"#;

#[test]
fn a_mixed_file_parses_into_the_three_kinds_with_one_set_of_defaults() {
    let plan = Plan::from_sources(&[("mixed.yaml".into(), MIXED.into())]).expect("valid");

    let names: Vec<&str> = plan.cases.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["scrape-basic"]);
    assert_eq!(plan.defaults.scrape_interval, Duration::from_secs(1));
    assert_eq!(plan.defaults.scrape_timeout, Duration::from_millis(500));
    assert_eq!(plan.defaults.key_type, KeyType::Ed25519);
    assert_eq!(plan.defaults.bcrypt_cost, 5);

    let receivers = plan.receivers.expect("receiver cases");
    let kinds: Vec<(&str, ReceiverKind)> = receivers
        .receivers
        .iter()
        .map(|r| (r.name.as_str(), r.kind))
        .collect();
    assert_eq!(
        kinds,
        [
            ("am-tls", ReceiverKind::Alertmanager),
            ("rw-unauthorized", ReceiverKind::RemoteWrite)
        ]
    );
    assert_eq!(
        receivers.defaults.evaluation_interval,
        Duration::from_millis(300)
    );
    assert_eq!(receivers.defaults.deadline, Duration::from_secs(30));
    assert_eq!(receivers.scenario_defaults, plan.defaults);
    let am = &receivers.receivers[0];
    assert!(am.case.scrape.is_https());
    assert_eq!(am.timeout, Some(Duration::from_secs(5)));
    assert_eq!(am.path_prefix.as_deref(), Some("/"));
    assert!(matches!(
        receivers.receivers[1].case.scrape.auth,
        Some(ScrapeAuth::Basic { .. })
    ));

    let rotation = plan.rotation.expect("rotation cases");
    let names: Vec<&str> = rotation.cases.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["token-rotation", "cert-rotation"]);
    assert_eq!(rotation.cases[0].rotation.watch, Some(Watched::Token));
    assert_eq!(
        (
            rotation.scrape_interval,
            rotation.warm_up_scrapes,
            rotation.scrapes_after
        ),
        (Duration::from_secs(1), 1, 3)
    );
    assert_eq!(
        (rotation.key_type, rotation.bcrypt_cost),
        (KeyType::Ed25519, 5)
    );
}

#[test]
fn the_kind_commands_refuse_a_mixed_file_and_name_the_other_cases() {
    let err = ReceiverPlan::from_source("mixed.yaml", MIXED)
        .expect_err("scrape and rotation cases")
        .to_string();
    assert!(
        err.starts_with("mixed.yaml: cases: 3 case(s) are not receiver cases"),
        "{err}"
    );
    let err = crate::rotation::parse("mixed.yaml", MIXED)
        .expect_err("scrape and receiver cases")
        .to_string();
    assert!(
        err.starts_with("mixed.yaml: cases: 3 case(s) are not rotation cases"),
        "{err}"
    );
}

#[test]
fn kind_mistakes_name_file_case_and_key_all_at_once() {
    let yaml = r#"
cases:
  - name: pigeon-post
    kind: pigeon
    expect: { health: up }
  - name: scrape-with-send
    send: { scheme: https }
    expect: { health: up }
  - name: scrape-expects-delivery
    expect: { delivered: true }
  - name: am-rotates
    kind: alertmanager
    rotate: [ { exporter: { server_cert: reissued } } ]
    expect: { delivered: true }
  - name: am-scrapes
    kind: remote_write
    scrape: { scheme: https }
    expect: { delivered: true }
  - name: rotation-sends
    kind: rotation
    send: { scheme: https }
    rotate: [ { scrape: { token: b } } ]
    expect: { health: up }
  - name: scrape-rotates
    kind: scrape
    rotate: [ { scrape: { token: b } } ]
    expect: { health: up }
receivers:
  - name: rotation-under-receivers
    kind: rotation
    rotate: [ { scrape: { token: b } } ]
    expect: { health: up }
  - name: no-kind
    expect: { delivered: true }
"#;
    let err = Plan::from_sources(&[("kinds.yaml".into(), yaml.into())])
        .expect_err("nine mistakes")
        .to_string();
    assert!(err.starts_with("9 mistakes:"), "{err}");
    for needle in [
        "kinds.yaml: case `pigeon-post`: kind: `pigeon` is not a kind of case; use \
         `alertmanager`, `remote_write`, `real_alertmanager` (receiver cases), `rotation`",
        "kinds.yaml: case `scrape-with-send`: send: is a key of receiver cases; say `kind: \
         alertmanager`",
        "kinds.yaml: case `scrape-expects-delivery`: expect.delivered: is a key of receiver cases",
        "kinds.yaml: case `am-rotates`: rotate: is a key of rotation cases, not of `kind: \
         alertmanager`",
        "kinds.yaml: case `am-scrapes`: scrape: a `kind: remote_write` case gives Prometheus' \
         client side under `send:`",
        "kinds.yaml: case `rotation-sends`: send: is a key of receiver cases",
        "kinds.yaml: case `scrape-rotates`: rotate: is a key of rotation cases; drop `kind: \
         scrape`",
        "kinds.yaml: case `rotation-under-receivers`: kind: `receivers:` holds receiver cases \
         only; move this case under `cases:`",
        "kinds.yaml: case `no-kind`: kind: missing: an entry of `receivers:` is a receiver case",
    ] {
        assert!(err.contains(needle), "missing {needle:?} in:\n{err}");
    }
}

#[test]
fn an_unknown_defaults_key_names_file_key_and_the_valid_keys() {
    let yaml =
        "defaults: { scrape_intervall: 1s }\ncases:\n  - { name: a, expect: { health: up } }\n";
    let err = Plan::from_sources(&[("d.yaml".into(), yaml.into())])
        .expect_err("unknown key")
        .to_string();
    assert!(
        err.starts_with(
            "d.yaml: defaults.scrape_intervall: unknown field `scrape_intervall`, expected one of"
        ),
        "{err}"
    );
    for key in [
        "scrape_interval",
        "scrape_timeout",
        "scrapes",
        "key_type",
        "bcrypt_cost",
        "evaluation_interval",
        "deadline",
        "warm_up_scrapes",
        "scrapes_after",
    ] {
        assert!(err.contains(&format!("`{key}`")), "{key} missing in {err}");
    }
}

#[test]
fn keys_of_a_kind_absent_from_the_file_are_accepted_and_settings_errors_name_their_key() {
    // Receiver and rotation keys in a file of scrape cases only.
    let yaml = "defaults: { deadline: 10s, warm_up_scrapes: 3 }\ncases:\n  - { name: a, expect: { health: up } }\n";
    let plan = Plan::from_sources(&[("d.yaml".into(), yaml.into())]).expect("valid");
    assert!(plan.receivers.is_none() && plan.rotation.is_none());

    let yaml = "defaults: { key_type: dsa, evaluation_interval: 0s }\ncases:\n  - { name: a, kind: remote_write, expect: { delivered: true } }\n";
    let err = Plan::from_sources(&[("d.yaml".into(), yaml.into())])
        .expect_err("two bad settings")
        .to_string();
    assert!(err.contains("d.yaml: defaults.key_type: "), "{err}");
    assert!(
        err.contains("d.yaml: defaults.evaluation_interval: Prometheus durations have millisecond resolution"),
        "{err}"
    );

    let yaml = "prometheus: { web_config: { server_cert: valid } }\ncases:\n  - { name: a, expect: { health: up } }\n";
    let err = Plan::from_sources(&[("w.yaml".into(), yaml.into())])
        .expect_err("a web config without receivers")
        .to_string();
    assert!(
        err.starts_with("w.yaml: prometheus.web_config: is audited after the receiver cases"),
        "{err}"
    );
}

#[test]
fn names_are_unique_across_kinds_and_files_and_the_first_defaults_win() {
    let first = "defaults: { bcrypt_cost: 4, deadline: 20s }\ncases:\n  - { name: same, expect: { health: up } }\n";
    let second = "defaults: { bcrypt_cost: 12, deadline: 50s }\nreceivers:\n  - { name: other, kind: alertmanager, expect: { delivered: true } }\n";
    let plan = Plan::from_sources(&[
        ("1.yaml".into(), first.into()),
        ("2.yaml".into(), second.into()),
    ])
    .expect("valid");
    assert_eq!(plan.defaults.bcrypt_cost, 4);
    let receivers = plan.receivers.expect("receiver cases");
    assert_eq!(receivers.defaults.deadline, Duration::from_secs(20));

    let clash = "receivers:\n  - { name: same, kind: alertmanager, expect: { delivered: true } }\n";
    let err = Plan::from_sources(&[
        ("1.yaml".into(), first.into()),
        ("2.yaml".into(), clash.into()),
    ])
    .expect_err("the same name twice")
    .to_string();
    assert!(
        err.starts_with("2.yaml: case `same` is defined twice (first in 1.yaml)"),
        "{err}"
    );
}

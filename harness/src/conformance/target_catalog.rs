//! The `--target` catalog, `scenarios/conformance-target.yaml` (embedded): the cases a
//! running exporter is audited with, in the scenario vocabulary of the `--exec` catalog
//! (level, rationale, reference, scrape, expect) plus `{placeholders}` for what the caller
//! gives and the harness makes (the caller's CA, client certificate, credentials; wrong
//! passwords, certificates from an unknown CA, ...) and `when:` conditions (only with Basic
//! auth, only over TLS, ...). This module only checks the file, keeps the cases whose
//! conditions hold, fills the placeholders and hands the result to the scenario parser.
//!
//! Every entry is checked at load, whether or not it applies to the run: its level,
//! rationale and reference, its conditions, every placeholder known and, without `?`,
//! guaranteed by its conditions, and no two entries of one name that can apply together.

use serde::Deserialize;
use serde_norway::{Mapping, Value};

use super::posture::ClientCertPolicy;
use super::target::TargetCases;
use super::ConformanceError;
use crate::scenario::{Level, Plan};

/// The embedded `--target` catalog.
pub(super) const TARGET_CATALOG: &str = include_str!("../../../scenarios/conformance-target.yaml");
/// Name of the embedded `--target` catalog in messages.
pub(super) const TARGET_CATALOG_NAME: &str = "scenarios/conformance-target.yaml (embedded)";

/// The credentials the caller gave (`--basic-auth` wins over `--bearer-file`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Auth {
    Basic,
    Bearer,
    None,
}

/// What decides the conditions of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Facts {
    /// Scraped over https.
    tls: bool,
    auth: Auth,
    /// The caller presents a client certificate.
    client_cert: bool,
    /// The caller presents one, or the posture probe saw the target ask for one (or could
    /// not tell).
    client_certs_checked: bool,
    /// Probe certificates were issued from the target's client CA.
    client_ca: bool,
}

impl Facts {
    fn of(t: &TargetCases<'_>) -> Self {
        Self {
            tls: t.https,
            auth: match (t.basic, t.bearer) {
                (Some(_), _) => Auth::Basic,
                (None, Some(_)) => Auth::Bearer,
                (None, None) => Auth::None,
            },
            client_cert: t.client_cert.is_some(),
            client_certs_checked: t.client_cert.is_some()
                || !matches!(
                    t.posture.client_certs,
                    ClientCertPolicy::None | ClientCertPolicy::NotTls
                ),
            client_ca: t.probes.from_client_ca.is_some(),
        }
    }

    /// Every combination.
    fn all() -> impl Iterator<Item = Self> {
        let bools = [false, true];
        bools.into_iter().flat_map(move |tls| {
            [Auth::Basic, Auth::Bearer, Auth::None]
                .into_iter()
                .flat_map(move |auth| {
                    bools.into_iter().flat_map(move |client_cert| {
                        bools.into_iter().flat_map(move |client_certs_checked| {
                            bools.into_iter().map(move |client_ca| Self {
                                tls,
                                auth,
                                client_cert,
                                client_certs_checked,
                                client_ca,
                            })
                        })
                    })
                })
        })
    }
}

/// `when:` of an entry: every condition given must hold.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct When {
    #[serde(default)]
    tls: Option<bool>,
    #[serde(default)]
    auth: Option<Auth>,
    #[serde(default)]
    client_cert: Option<bool>,
    #[serde(default)]
    client_certs_checked: Option<bool>,
    #[serde(default)]
    client_ca: Option<bool>,
}

impl When {
    fn holds(&self, f: &Facts) -> bool {
        self.tls.is_none_or(|v| v == f.tls)
            && self.auth.is_none_or(|v| v == f.auth)
            && self.client_cert.is_none_or(|v| v == f.client_cert)
            && self
                .client_certs_checked
                .is_none_or(|v| v == f.client_certs_checked)
            && self.client_ca.is_none_or(|v| v == f.client_ca)
    }
}

/// A placeholder: its name, the `when:` that guarantees it a value (for `{name}` without
/// `?`), and its value in a run.
struct Placeholder {
    name: &'static str,
    /// The conditions that guarantee a value, as written in `when:` (empty: always).
    needs: &'static str,
    guaranteed: fn(&When) -> bool,
    value: fn(&TargetCases<'_>) -> Option<String>,
}

fn always(_: &When) -> bool {
    true
}
fn over_tls(w: &When) -> bool {
    w.tls == Some(true)
}
fn own_client_cert(w: &When) -> bool {
    w.tls == Some(true) && w.client_cert == Some(true)
}
fn basic(w: &When) -> bool {
    w.auth == Some(Auth::Basic)
}
fn bearer(w: &When) -> bool {
    w.auth == Some(Auth::Bearer)
}
fn client_ca(w: &When) -> bool {
    w.client_ca == Some(true)
}

fn path(p: &std::path::Path) -> String {
    p.to_string_lossy().into_owned()
}

/// A probe certificate from the client CA: 0 valid, 1 expired, 2 serverAuth-only; `.0`
/// certificate, `.1` key.
fn from_client_ca(t: &TargetCases<'_>, which: usize, key: bool) -> Option<String> {
    let pair = &t.probes.from_client_ca.as_ref()?[which];
    Some(path(if key { &pair.1 } else { &pair.0 }))
}

/// Every placeholder of the catalog.
const PLACEHOLDERS: &[Placeholder] = &[
    Placeholder {
        name: "scheme",
        needs: "",
        guaranteed: always,
        value: |t| Some(if t.https { "https" } else { "http" }.to_owned()),
    },
    Placeholder {
        name: "target_host",
        needs: "",
        guaranteed: always,
        value: |t| Some(t.target_host.as_str().to_owned()),
    },
    Placeholder {
        name: "metrics_path",
        needs: "",
        guaranteed: always,
        value: |t| Some(t.metrics_path.to_owned()),
    },
    Placeholder {
        name: "nonce",
        needs: "",
        guaranteed: always,
        value: |_| Some(format!("{:x}", std::process::id())),
    },
    Placeholder {
        name: "ca",
        needs: "tls: true",
        guaranteed: over_tls,
        value: |t| t.https.then(|| t.ca.map(path)).flatten(),
    },
    Placeholder {
        name: "client_cert",
        needs: "tls: true, client_cert: true",
        guaranteed: own_client_cert,
        value: |t| t.https.then(|| t.client_cert.map(|c| path(c.0))).flatten(),
    },
    Placeholder {
        name: "client_key",
        needs: "tls: true, client_cert: true",
        guaranteed: own_client_cert,
        value: |t| t.https.then(|| t.client_cert.map(|c| path(c.1))).flatten(),
    },
    Placeholder {
        name: "user",
        needs: "auth: basic",
        guaranteed: basic,
        value: |t| t.basic.map(|b| b.0.to_owned()),
    },
    Placeholder {
        name: "password_file",
        needs: "auth: basic",
        guaranteed: basic,
        value: |t| t.basic.map(|b| path(b.1)),
    },
    Placeholder {
        name: "bearer_file",
        needs: "auth: bearer",
        guaranteed: bearer,
        value: |t| t.basic.is_none().then(|| t.bearer.map(path)).flatten(),
    },
    Placeholder {
        name: "unknown_ca_cert",
        needs: "",
        guaranteed: always,
        value: |t| Some(path(&t.probes.unknown_ca.0)),
    },
    Placeholder {
        name: "unknown_ca_key",
        needs: "",
        guaranteed: always,
        value: |t| Some(path(&t.probes.unknown_ca.1)),
    },
    Placeholder {
        name: "expired_unknown_ca_cert",
        needs: "",
        guaranteed: always,
        value: |t| Some(path(&t.probes.expired_unknown_ca.0)),
    },
    Placeholder {
        name: "expired_unknown_ca_key",
        needs: "",
        guaranteed: always,
        value: |t| Some(path(&t.probes.expired_unknown_ca.1)),
    },
    Placeholder {
        name: "self_signed_cert",
        needs: "",
        guaranteed: always,
        value: |t| Some(path(&t.probes.self_signed.0)),
    },
    Placeholder {
        name: "self_signed_key",
        needs: "",
        guaranteed: always,
        value: |t| Some(path(&t.probes.self_signed.1)),
    },
    Placeholder {
        name: "client_ca_valid_cert",
        needs: "client_ca: true",
        guaranteed: client_ca,
        value: |t| from_client_ca(t, 0, false),
    },
    Placeholder {
        name: "client_ca_valid_key",
        needs: "client_ca: true",
        guaranteed: client_ca,
        value: |t| from_client_ca(t, 0, true),
    },
    Placeholder {
        name: "client_ca_expired_cert",
        needs: "client_ca: true",
        guaranteed: client_ca,
        value: |t| from_client_ca(t, 1, false),
    },
    Placeholder {
        name: "client_ca_expired_key",
        needs: "client_ca: true",
        guaranteed: client_ca,
        value: |t| from_client_ca(t, 1, true),
    },
    Placeholder {
        name: "client_ca_server_auth_only_cert",
        needs: "client_ca: true",
        guaranteed: client_ca,
        value: |t| from_client_ca(t, 2, false),
    },
    Placeholder {
        name: "client_ca_server_auth_only_key",
        needs: "client_ca: true",
        guaranteed: client_ca,
        value: |t| from_client_ca(t, 2, true),
    },
];

fn placeholder(name: &str) -> Option<&'static Placeholder> {
    PLACEHOLDERS.iter().find(|p| p.name == name)
}

/// A piece of a string value: text, or a placeholder (`optional` when written `{name?}`).
#[derive(Debug, PartialEq, Eq)]
enum Piece<'a> {
    Text(&'a str),
    Placeholder { name: &'a str, optional: bool },
}

/// The pieces of `s`; an unclosed `{` or an unknown name is a mistake.
fn pieces(s: &str) -> Result<Vec<Piece<'_>>, String> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(open) = rest.find('{') {
        if open > 0 {
            out.push(Piece::Text(&rest[..open]));
        }
        let Some(len) = rest[open..].find('}') else {
            return Err(format!("`{s}`: `{{` without a closing `}}`"));
        };
        let inner = &rest[open + 1..open + len];
        let (name, optional) = match inner.strip_suffix('?') {
            Some(name) => (name, true),
            None => (inner, false),
        };
        if placeholder(name).is_none() {
            let known: Vec<_> = PLACEHOLDERS.iter().map(|p| p.name).collect();
            return Err(format!(
                "unknown placeholder `{{{inner}}}`; use one of: {}",
                known.join(", ")
            ));
        }
        out.push(Piece::Placeholder { name, optional });
        rest = &rest[open + len + 1..];
    }
    if !rest.is_empty() {
        out.push(Piece::Text(rest));
    }
    Ok(out)
}

/// A mistake of the catalog, at `key` of `case` (`None`: outside the cases).
fn mistake(file: &str, case: Option<&str>, key: &str, message: String) -> ConformanceError {
    ConformanceError::TargetCatalog {
        file: file.to_owned(),
        case: case.map(str::to_owned),
        key: key.to_owned(),
        message,
    }
}

/// One entry of `cases:`, checked; `body` is the case without `when:`.
#[derive(Debug)]
struct Entry {
    name: String,
    when: When,
    body: Mapping,
}

/// The `--target` catalog, checked.
#[derive(Debug)]
struct TargetCatalog {
    file: String,
    defaults: Option<Value>,
    /// `assumed_exporter:`: the first whose conditions hold applies to every case.
    assumed: Vec<(When, Value)>,
    cases: Vec<Entry>,
}

fn key_str(k: &Value) -> String {
    match k {
        Value::String(s) => s.clone(),
        other => format!("{other:?}"),
    }
}

fn when_of(file: &str, case: Option<&str>, m: &mut Mapping) -> Result<When, ConformanceError> {
    match m.shift_remove("when") {
        None => Ok(When::default()),
        Some(v) => serde_norway::from_value(v)
            .map_err(|e| mistake(file, case, "when", format!("{e}; see the catalog's header"))),
    }
}

impl TargetCatalog {
    /// Parses and checks every entry of `text` (named `file` in errors).
    fn parse(file: &str, text: &str) -> Result<Self, ConformanceError> {
        let top: Mapping = serde_norway::from_str(text)
            .map_err(|e| mistake(file, None, "(syntax)", e.to_string()))?;
        let mut catalog = Self {
            file: file.to_owned(),
            defaults: None,
            assumed: Vec::new(),
            cases: Vec::new(),
        };
        for (k, v) in top {
            match (key_str(&k).as_str(), v) {
                ("defaults", v) => catalog.defaults = Some(v),
                ("assumed_exporter", Value::Sequence(list)) => {
                    for (i, v) in list.into_iter().enumerate() {
                        catalog.assumed.push(assumed_entry(file, i, v)?);
                    }
                }
                ("cases", Value::Sequence(list)) => {
                    for (i, v) in list.into_iter().enumerate() {
                        catalog.cases.push(entry(file, i, v)?);
                    }
                }
                (key @ ("assumed_exporter" | "cases"), _) => {
                    return Err(mistake(file, None, key, "must be a list".into()))
                }
                (key, _) => {
                    return Err(mistake(
                        file,
                        None,
                        key,
                        "unknown key; use `defaults`, `assumed_exporter` or `cases`".into(),
                    ))
                }
            }
        }
        catalog.check_names_apart()?;
        Ok(catalog)
    }

    /// No two entries of one name apply together in any run.
    fn check_names_apart(&self) -> Result<(), ConformanceError> {
        for facts in Facts::all() {
            let mut seen = std::collections::BTreeSet::new();
            for e in self.cases.iter().filter(|e| e.when.holds(&facts)) {
                if !seen.insert(e.name.as_str()) {
                    return Err(mistake(
                        &self.file,
                        Some(&e.name),
                        "when",
                        format!("applies together with another case of this name ({facts:?}); make their conditions exclusive"),
                    ));
                }
            }
        }
        Ok(())
    }

    /// The scenario text of the cases whose conditions hold for `t`, placeholders filled.
    fn expand(&self, t: &TargetCases<'_>) -> Result<String, ConformanceError> {
        let facts = Facts::of(t);
        let exporter = self
            .assumed
            .iter()
            .find(|(w, _)| w.holds(&facts))
            .map(|(_, e)| e.clone());
        let mut cases = Vec::new();
        for e in self.cases.iter().filter(|e| e.when.holds(&facts)) {
            let missing = |key: &str, name: &str| {
                mistake(
                    &self.file,
                    Some(&e.name),
                    key,
                    format!("`{{{name}}}` has no value in this run"),
                )
            };
            let mut body = fill_mapping(&e.body, "", t, &missing)?.unwrap_or_default();
            if let Some(exporter) = &exporter {
                body.insert("exporter".into(), exporter.clone());
            }
            cases.push(Value::Mapping(body));
        }
        let mut out = Mapping::new();
        if let Some(d) = &self.defaults {
            out.insert("defaults".into(), d.clone());
        }
        out.insert("cases".into(), Value::Sequence(cases));
        serde_norway::to_string(&out)
            .map_err(|e| mistake(&self.file, None, "(expanded)", e.to_string()))
    }
}

fn assumed_entry(file: &str, i: usize, v: Value) -> Result<(When, Value), ConformanceError> {
    let place = format!("assumed_exporter #{}", i + 1);
    let Value::Mapping(mut m) = v else {
        return Err(mistake(
            file,
            None,
            &place,
            "must be a mapping with `when` and `exporter`".into(),
        ));
    };
    let when = when_of(file, None, &mut m)?;
    let Some(exporter) = m.shift_remove("exporter") else {
        return Err(mistake(file, None, &place, "needs `exporter:`".into()));
    };
    if let Some((k, _)) = m.iter().next() {
        return Err(mistake(
            file,
            None,
            &format!("{place}.{}", key_str(k)),
            "unknown key; use `when` and `exporter`".into(),
        ));
    }
    Ok((when, exporter))
}

/// Entry `i` of `cases:`, checked.
fn entry(file: &str, i: usize, v: Value) -> Result<Entry, ConformanceError> {
    let Value::Mapping(mut body) = v else {
        return Err(mistake(
            file,
            Some(&format!("#{}", i + 1)),
            "(case)",
            "must be a mapping".into(),
        ));
    };
    let name = match body.get("name") {
        Some(Value::String(s)) => s.clone(),
        _ => {
            return Err(mistake(
                file,
                Some(&format!("#{}", i + 1)),
                "name",
                "missing; every case needs a `name:`".into(),
            ))
        }
    };
    let at = |key: &str, message: String| mistake(file, Some(&name), key, message);
    let when = when_of(file, Some(&name), &mut body)?;
    match body.get("level") {
        None => {
            return Err(at(
                "level",
                "missing; a conformance case needs `level: MUST`, `SHOULD` or `MAY`".into(),
            ))
        }
        Some(v) => {
            serde_norway::from_value::<Level>(v.clone())
                .map_err(|e| at("level", format!("{e}; use MUST, SHOULD or MAY")))?;
        }
    }
    for key in ["rationale", "reference"] {
        match body.get(key) {
            Some(Value::String(s)) if !s.trim().is_empty() => {}
            _ => {
                return Err(at(
                    key,
                    format!("missing; a conformance case says its `{key}:`"),
                ))
            }
        }
    }
    if body.contains_key("exporter") {
        return Err(at("exporter", "a running target is not started: what the classifier assumes comes from `assumed_exporter:`; remove it".into()));
    }
    check_placeholders(&Value::Mapping(body.clone()), "", &when, &at)?;
    Ok(Entry { name, when, body })
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_owned()
    } else {
        format!("{prefix}.{key}")
    }
}

/// Every placeholder under `v` known, `{name?}` alone in its value, `{name}` guaranteed a
/// value by `when`.
fn check_placeholders(
    v: &Value,
    key: &str,
    when: &When,
    at: &dyn Fn(&str, String) -> ConformanceError,
) -> Result<(), ConformanceError> {
    match v {
        Value::String(s) => {
            let pieces = pieces(s).map_err(|m| at(key, m))?;
            for p in &pieces {
                let Piece::Placeholder { name, optional } = *p else {
                    continue;
                };
                if optional && pieces.len() > 1 {
                    return Err(at(key, format!("`{{{name}?}}` must be the whole value: it drops the key when the run has no value for it")));
                }
                let ph = placeholder(name).expect("pieces() returns known placeholders only");
                if !optional && !(ph.guaranteed)(when) {
                    return Err(at(key, format!("`{{{name}}}` has a value only with `when: {{ {} }}`; add that condition, or write `{{{name}?}}` to drop the key without a value", ph.needs)));
                }
            }
            Ok(())
        }
        Value::Mapping(m) => m
            .iter()
            .try_for_each(|(k, v)| check_placeholders(v, &join(key, &key_str(k)), when, at)),
        Value::Sequence(list) => list
            .iter()
            .enumerate()
            .try_for_each(|(i, v)| check_placeholders(v, &format!("{key}[{i}]"), when, at)),
        Value::Tagged(t) => check_placeholders(&t.value, key, when, at),
        _ => Ok(()),
    }
}

/// `v` with its placeholders filled; `None` when an optional placeholder without a value
/// drops it (and a mapping or list left empty that way).
fn fill(
    v: &Value,
    key: &str,
    t: &TargetCases<'_>,
    missing: &dyn Fn(&str, &str) -> ConformanceError,
) -> Result<Option<Value>, ConformanceError> {
    Ok(match v {
        Value::String(s) => {
            let mut out = String::new();
            // Invariant: `entry` checked every string of the catalog with `pieces`.
            for p in pieces(s).expect("checked at load") {
                match p {
                    Piece::Text(text) => out.push_str(text),
                    Piece::Placeholder { name, optional } => {
                        let ph = placeholder(name).expect("checked at load");
                        match ((ph.value)(t), optional) {
                            (Some(value), _) => out.push_str(&value),
                            (None, true) => return Ok(None),
                            (None, false) => return Err(missing(key, name)),
                        }
                    }
                }
            }
            Some(Value::String(out))
        }
        Value::Mapping(m) => fill_mapping(m, key, t, missing)?.map(Value::Mapping),
        Value::Sequence(list) => {
            let mut out = Vec::new();
            for (i, v) in list.iter().enumerate() {
                out.extend(fill(v, &format!("{key}[{i}]"), t, missing)?);
            }
            (list.is_empty() || !out.is_empty()).then_some(Value::Sequence(out))
        }
        other => Some(other.clone()),
    })
}

fn fill_mapping(
    m: &Mapping,
    key: &str,
    t: &TargetCases<'_>,
    missing: &dyn Fn(&str, &str) -> ConformanceError,
) -> Result<Option<Mapping>, ConformanceError> {
    let mut out = Mapping::new();
    for (k, v) in m {
        if let Some(v) = fill(v, &join(key, &key_str(k)), t, missing)? {
            out.insert(k.clone(), v);
        }
    }
    Ok((m.is_empty() || !out.is_empty()).then_some(out))
}

/// The Prometheus-judged cases of a `--target` run (and their defaults), from the embedded
/// catalog.
pub(super) fn target_plan(t: &TargetCases<'_>) -> Result<Plan, ConformanceError> {
    plan_from(TARGET_CATALOG_NAME, TARGET_CATALOG, t)
}

fn plan_from(file: &str, text: &str, t: &TargetCases<'_>) -> Result<Plan, ConformanceError> {
    let catalog = TargetCatalog::parse(file, text)?;
    let source = catalog.expand(t)?;
    Ok(Plan::from_sources(&[(file.to_owned(), source)])?)
}

#[cfg(test)]
mod tests {
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
}

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

mod placeholders;

use placeholders::{check_placeholders, fill_mapping, key_str};

use super::posture::ClientCertPolicy;
use super::target::TargetCases;
use super::ConformanceError;
use crate::scenario::{Level, Plan};

/// The embedded `--target` catalog.
pub(super) const TARGET_CATALOG: &str =
    include_str!("../../../../scenarios/conformance-target.yaml");
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

    /// Every combination a run can have (one presenting a client certificate checks them).
    fn all() -> impl Iterator<Item = Self> {
        let bools = [false, true];
        let every = bools.into_iter().flat_map(move |tls| {
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
        });
        every.filter(|f| !f.client_cert || f.client_certs_checked)
    }
}

impl std::fmt::Display for Facts {
    /// As a `when:` would say it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let auth = match self.auth {
            Auth::Basic => "basic",
            Auth::Bearer => "bearer",
            Auth::None => "none",
        };
        write!(
            f,
            "tls: {}, auth: {auth}, client_cert: {}, client_certs_checked: {}, client_ca: {}",
            self.tls, self.client_cert, self.client_certs_checked, self.client_ca
        )
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
                        format!(
                            "applies together with another case of this name (with {facts}); \
                             make their conditions exclusive"
                        ),
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
        return Err(at(
            "exporter",
            "a running target is not started: what the classifier assumes comes from \
             `assumed_exporter:`; remove it"
                .into(),
        ));
    }
    check_placeholders(&Value::Mapping(body.clone()), "", &when, &at)?;
    Ok(Entry { name, when, body })
}

/// The Prometheus-judged cases of a `--target` run (and their defaults), from the embedded
/// catalog.
pub(super) fn target_plan(t: &TargetCases<'_>) -> Result<Plan, ConformanceError> {
    let catalog = TargetCatalog::parse(TARGET_CATALOG_NAME, TARGET_CATALOG)?;
    let source = catalog.expand(t)?;
    Ok(Plan::from_sources(&[(
        TARGET_CATALOG_NAME.to_owned(),
        source,
    )])?)
}

#[cfg(test)]
mod tests;

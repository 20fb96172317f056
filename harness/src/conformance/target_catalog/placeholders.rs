//! The placeholders of the `--target` catalog: which exist, when each is guaranteed a
//! value, the value in a run; how a string splits into text and placeholders; the check of
//! an entry's placeholders at load and their filling in a run.

use serde_norway::{Mapping, Value};

use super::{Auth, When};
use crate::conformance::target::TargetCases;
use crate::conformance::ConformanceError;

/// A placeholder: its name, the `when:` that guarantees it a value (for `{name}` without
/// `?`), and its value in a run.
pub(super) struct Placeholder {
    pub(super) name: &'static str,
    /// The conditions that guarantee a value, as written in `when:` (empty: always).
    pub(super) needs: &'static str,
    pub(super) guaranteed: fn(&When) -> bool,
    pub(super) value: fn(&TargetCases<'_>) -> Option<String>,
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
pub(super) const PLACEHOLDERS: &[Placeholder] = &[
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

pub(super) fn placeholder(name: &str) -> Option<&'static Placeholder> {
    PLACEHOLDERS.iter().find(|p| p.name == name)
}

/// A piece of a string value: text, or a placeholder (`optional` when written `{name?}`).
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Piece<'a> {
    Text(&'a str),
    Placeholder { name: &'a str, optional: bool },
}

/// A string value whose placeholders cannot be read.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub(super) enum PieceError {
    /// `{` without `}`.
    #[error("`{0}`: `{{` without a closing `}}`")]
    Unclosed(String),
    /// A name no placeholder has.
    #[error("unknown placeholder `{{{name}}}`; use one of: {known}")]
    Unknown {
        /// What was written between the braces.
        name: String,
        /// The known names, comma-separated.
        known: String,
    },
}

/// The pieces of `s`; an unclosed `{` or an unknown name is a mistake.
pub(super) fn pieces(s: &str) -> Result<Vec<Piece<'_>>, PieceError> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(open) = rest.find('{') {
        if open > 0 {
            out.push(Piece::Text(&rest[..open]));
        }
        let Some(len) = rest[open..].find('}') else {
            return Err(PieceError::Unclosed(s.to_owned()));
        };
        let inner = &rest[open + 1..open + len];
        let (name, optional) = match inner.strip_suffix('?') {
            Some(name) => (name, true),
            None => (inner, false),
        };
        if placeholder(name).is_none() {
            let known: Vec<_> = PLACEHOLDERS.iter().map(|p| p.name).collect();
            return Err(PieceError::Unknown {
                name: inner.to_owned(),
                known: known.join(", "),
            });
        }
        out.push(Piece::Placeholder { name, optional });
        rest = &rest[open + len + 1..];
    }
    if !rest.is_empty() {
        out.push(Piece::Text(rest));
    }
    Ok(out)
}

pub(super) fn key_str(k: &Value) -> String {
    match k {
        Value::String(s) => s.clone(),
        other => format!("{other:?}"),
    }
}

pub(super) fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_owned()
    } else {
        format!("{prefix}.{key}")
    }
}

/// Every placeholder under `v` known, `{name?}` alone in its value, `{name}` guaranteed a
/// value by `when`.
pub(super) fn check_placeholders(
    v: &Value,
    key: &str,
    when: &When,
    at: &dyn Fn(&str, String) -> ConformanceError,
) -> Result<(), ConformanceError> {
    match v {
        Value::String(s) => {
            let pieces = pieces(s).map_err(|m| at(key, m.to_string()))?;
            for p in &pieces {
                let Piece::Placeholder { name, optional } = *p else {
                    continue;
                };
                if optional && pieces.len() > 1 {
                    return Err(at(
                        key,
                        format!(
                            "`{{{name}?}}` must be the whole value: it drops the key when the \
                             run has no value for it"
                        ),
                    ));
                }
                let ph = placeholder(name).expect("pieces() returns known placeholders only");
                if !optional && !(ph.guaranteed)(when) {
                    return Err(at(
                        key,
                        format!(
                            "`{{{name}}}` has a value only with `when: {{ {} }}`; add that \
                             condition, or write `{{{name}?}}` to drop the key without a value",
                            ph.needs
                        ),
                    ));
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
pub(super) fn fill(
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

pub(super) fn fill_mapping(
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

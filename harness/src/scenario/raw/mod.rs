//! Scenario files as written: the one raw schema of every kind of case. Serde structs that
//! mirror the YAML, unknown keys refused; nothing outside the checkers sees them.
//!
//! A file is `defaults:` (one set of keys for every kind), `cases:` (every kind of case:
//! scrape cases by default, receiver cases with `kind: alertmanager | remote_write |
//! real_alertmanager`, rotation cases with `kind: rotation` or `rotate:`), and, for receiver
//! files, `receivers:` (receiver cases) and `prometheus:` (Prometheus' own web config).
//! Each case is decoded on its own (so errors name it) into the struct of its kind:
//! [`scrape::RawCase`], [`receiver::RawReceiver`] or [`rotation::RawCase`].

pub(crate) mod receiver;
pub(crate) mod rotation;
pub(crate) mod scrape;
pub(crate) mod third_parties;

use std::time::Duration;

use serde::Deserialize;

/// A scenario file's top level.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFile {
    /// Run-wide settings, decoded on their own into [`RawDefaults`] (errors name `defaults`).
    #[serde(default)]
    pub(crate) defaults: Option<serde_norway::Value>,
    /// Prometheus' own set-up (receiver files).
    #[serde(default)]
    pub(crate) prometheus: Option<serde_norway::Value>,
    /// Cases of every kind, each decoded on its own.
    #[serde(default)]
    pub(crate) cases: Vec<serde_norway::Value>,
    /// Receiver cases (the layout of receiver files; `kind` required).
    #[serde(default)]
    pub(crate) receivers: Vec<serde_norway::Value>,
}

/// `defaults:` as written: one set of keys for every kind of case. A key of a kind the file
/// has no case of is accepted and unused.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDefaults {
    /// Every job's scrape interval (scrape and rotation cases).
    #[serde(default, with = "humantime_serde")]
    pub(crate) scrape_interval: Option<Duration>,
    /// Every scrape job's timeout.
    #[serde(default, with = "humantime_serde")]
    pub(crate) scrape_timeout: Option<Duration>,
    /// Scrapes every scrape target must have had before verdicts are taken.
    #[serde(default)]
    pub(crate) scrapes: Option<u32>,
    /// Key type of the generated PKI (every kind).
    #[serde(default)]
    pub(crate) key_type: Option<String>,
    /// bcrypt cost of the hashed passwords (every kind).
    #[serde(default)]
    pub(crate) bcrypt_cost: Option<u32>,
    /// Receivers: how often the always-firing rule is evaluated.
    #[serde(default, with = "humantime_serde")]
    pub(crate) evaluation_interval: Option<Duration>,
    /// Receivers: how long to wait for every receiver to settle.
    #[serde(default, with = "humantime_serde")]
    pub(crate) deadline: Option<Duration>,
    /// Rotation: scrapes after the target was first up before the first step's count.
    #[serde(default)]
    pub(crate) warm_up_scrapes: Option<u64>,
    /// Rotation: scrapes after the last step before the verdict.
    #[serde(default)]
    pub(crate) scrapes_after: Option<u64>,
}

/// `error: unauthorized` or `error: [client_cert_rejected, connection_reset]`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(untagged)]
pub(crate) enum OneOrMany {
    /// One value.
    One(String),
    /// A list.
    Many(Vec<String>),
}

impl OneOrMany {
    /// The values.
    pub(crate) fn as_slice(&self) -> &[String] {
        match self {
            Self::One(one) => std::slice::from_ref(one),
            Self::Many(many) => many,
        }
    }
}

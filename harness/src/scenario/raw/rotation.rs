//! Rotation cases as written (`kind: rotation`, or any case with `rotate:`): the state of
//! both sides, the steps that change it and what the run must show, in the rotation's own
//! vocabulary (generations and CA bundles, not PKI file names). `rotation::spec` checks them.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::OneOrMany;

/// One rotation case as written: the state before the first step, the steps, the verdict.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCase {
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) description: String,
    #[serde(default)]
    pub(crate) exporter: RawExporter,
    #[serde(default)]
    pub(crate) scrape: RawScrape,
    pub(crate) rotate: Vec<RawStep>,
    pub(crate) expect: RawExpect,
}

/// The exporter side of a state (a step names only what it changes).
#[derive(Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawExporter {
    pub(crate) server_cert: Option<String>,
    pub(crate) client_ca: Option<RawBundle>,
    pub(crate) basic_auth_users: Option<BTreeMap<String, String>>,
    pub(crate) bearer_tokens: Option<Vec<String>>,
}

/// The job side of a state: the content of the files the job reads.
#[derive(Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawScrape {
    pub(crate) ca: Option<RawBundle>,
    pub(crate) insecure_skip_verify: Option<bool>,
    pub(crate) client_cert: Option<String>,
    pub(crate) basic_auth: Option<RawBasic>,
    pub(crate) token: Option<String>,
}

/// `scrape.basic_auth`: the password goes to `password_file`.
#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawBasic {
    pub(crate) username: Option<String>,
    pub(crate) password: String,
}

/// A CA bundle: `old`, `new` or `[old, new]`.
#[derive(Deserialize, Clone)]
#[serde(untagged)]
pub(crate) enum RawBundle {
    One(String),
    Many(Vec<String>),
}

/// One step of `rotate:`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawStep {
    pub(crate) after_scrapes: Option<u64>,
    #[serde(default)]
    pub(crate) exporter: RawExporter,
    #[serde(default)]
    pub(crate) scrape: RawScrape,
    #[serde(default)]
    pub(crate) reconnect: bool,
}

/// A rotation case's `expect:`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawExpect {
    pub(crate) health: String,
    pub(crate) error: Option<OneOrMany>,
    pub(crate) rotation: Option<RawRotation>,
}

/// `expect.rotation:`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRotation {
    pub(crate) watch: Option<String>,
    pub(crate) new_seen_within_scrapes: Option<serde_norway::Value>,
    pub(crate) same_connection: Option<bool>,
    #[serde(default)]
    pub(crate) old_refused_after: bool,
    pub(crate) failed_scrapes: Option<RawCount>,
}

/// `failed_scrapes`: `N`, `{ min: N }` or `{ max: N }`.
#[derive(Deserialize)]
#[serde(untagged)]
pub(crate) enum RawCount {
    Exactly(u64),
    Range {
        #[serde(default)]
        min: Option<u64>,
        #[serde(default)]
        max: Option<u64>,
    },
}

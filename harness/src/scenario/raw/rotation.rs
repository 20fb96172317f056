//! Rotation cases as written (`kind: rotation`, or any case with `rotate:`): the state of
//! both sides, the steps that change it and what the run must show, in the rotation's own
//! vocabulary (generations and CA bundles, not PKI file names). `rotation::spec` checks them.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::OneOrMany;

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

#[derive(Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawExporter {
    pub(crate) server_cert: Option<String>,
    pub(crate) client_ca: Option<RawBundle>,
    pub(crate) basic_auth_users: Option<BTreeMap<String, String>>,
    pub(crate) bearer_tokens: Option<Vec<String>>,
}

#[derive(Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawScrape {
    pub(crate) ca: Option<RawBundle>,
    pub(crate) insecure_skip_verify: Option<bool>,
    pub(crate) client_cert: Option<String>,
    pub(crate) basic_auth: Option<RawBasic>,
    pub(crate) token: Option<String>,
}

#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawBasic {
    pub(crate) username: Option<String>,
    pub(crate) password: String,
}

#[derive(Deserialize, Clone)]
#[serde(untagged)]
pub(crate) enum RawBundle {
    One(String),
    Many(Vec<String>),
}

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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawExpect {
    pub(crate) health: String,
    pub(crate) error: Option<OneOrMany>,
    pub(crate) rotation: Option<RawRotation>,
}

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

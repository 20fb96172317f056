//! The parties of a scrape besides Prometheus and the exporter, as written: an OAuth2 token
//! endpoint (`exporter.oauth2`, `scrape.oauth2`), a forward proxy (`proxy:`) and the counts
//! a case expects of them. `scenario::third_parties` checks them.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use super::scrape::RawTlsConfig;
use crate::scenario::Count;

/// `exporter.oauth2:` as written: the case's fake token endpoint.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTokenEndpoint {
    pub(crate) client_id: String,
    pub(crate) client_secret: String,
    #[serde(default)]
    pub(crate) scopes: Option<Vec<String>>,
    #[serde(default, with = "humantime_serde")]
    pub(crate) token_lifetime: Option<Duration>,
    #[serde(default)]
    pub(crate) advertise_expires_in: Option<u64>,
    #[serde(default)]
    pub(crate) server_cert: Option<String>,
    #[serde(default)]
    pub(crate) required_params: BTreeMap<String, String>,
}

/// `scrape.oauth2:` as written (Prometheus' keys, `token_url` filled in by the harness).
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawOAuth2 {
    pub(crate) client_id: String,
    #[serde(default)]
    pub(crate) client_secret: Option<String>,
    #[serde(default)]
    pub(crate) client_secret_file: Option<String>,
    #[serde(default)]
    pub(crate) scopes: Vec<String>,
    #[serde(default)]
    pub(crate) endpoint_params: BTreeMap<String, String>,
    #[serde(default)]
    pub(crate) tls_config: Option<RawTlsConfig>,
    #[serde(default)]
    pub(crate) token_url: Option<serde_norway::Value>,
}

/// `proxy:` as written: the case's fake forward proxy.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawForwardProxy {
    #[serde(default)]
    pub(crate) users: BTreeMap<String, String>,
    #[serde(default)]
    pub(crate) absent: bool,
    #[serde(default)]
    pub(crate) url_credentials: Option<RawUrlCredentials>,
}

/// `proxy.url_credentials:` as written.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawUrlCredentials {
    pub(crate) username: String,
    pub(crate) password: String,
}

/// `expect.token_endpoint:` / `expect.proxy:` counts as written.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(transparent)]
pub(crate) struct RawCounts(pub(crate) BTreeMap<String, Count>);

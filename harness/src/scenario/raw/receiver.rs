//! Receiver cases as written (`kind: alertmanager | remote_write | real_alertmanager`):
//! Prometheus as a client of an Alertmanager or a remote-write receiver. The receiver's
//! `exporter:` is a scrape case's [`RawExporter`]; `send:` has the scrape job's client keys
//! (same raw types, same checker) plus the keys of an `alertmanagers[]` / `remote_write[]`
//! entry. `receivers::check_receiver` turns each into a typed `ReceiverCase`.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use super::scrape::{ClientKeys, RawAuthorization, RawBasicAuth, RawExporter, RawTlsConfig};
use super::OneOrMany;
use crate::receivers::ReceiverKind;

/// One receiver case as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawReceiver {
    /// Unique name: the remote-write queue's name, the directory of its files.
    pub(crate) name: String,
    /// Free text.
    #[serde(default)]
    pub(crate) description: String,
    /// What receives.
    pub(crate) kind: ReceiverKind,
    /// Files `send:` can name (password_file, credentials_file): name → content.
    #[serde(default)]
    pub(crate) files: BTreeMap<String, String>,
    /// The receiver side, as a scrape case's `exporter:`.
    #[serde(default)]
    pub(crate) exporter: RawExporter,
    /// Prometheus' client side.
    #[serde(default)]
    pub(crate) send: RawSend,
    /// What must happen.
    pub(crate) expect: RawReceiverExpect,
}

/// The `prometheus.yml` keys of an `alertmanagers[]` / `remote_write[]` entry the bench
/// drives. Scrape-only keys (`metrics_path`, `scrape_timeout`, ...) are unknown here.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSend {
    /// `scheme`.
    #[serde(default)]
    pub(crate) scheme: Option<crate::promconfig::Scheme>,
    /// `basic_auth`.
    #[serde(default)]
    pub(crate) basic_auth: Option<RawBasicAuth>,
    /// `authorization`.
    #[serde(default)]
    pub(crate) authorization: Option<RawAuthorization>,
    /// `tls_config`.
    #[serde(default)]
    pub(crate) tls_config: Option<RawTlsConfig>,
    /// `timeout` (Alertmanager) / `remote_timeout` (remote write).
    #[serde(default, with = "humantime_serde")]
    pub(crate) timeout: Option<Duration>,
    /// `path_prefix` (Alertmanager only).
    #[serde(default)]
    pub(crate) path_prefix: Option<String>,
}

impl RawSend {
    /// The client keys `send:` shares with a scrape case's `scrape:`.
    pub(crate) fn client(&self) -> ClientKeys<'_> {
        ClientKeys {
            scheme: self.scheme,
            basic_auth: self.basic_auth.as_ref(),
            authorization: self.authorization.as_ref(),
            tls_config: self.tls_config.as_ref(),
        }
    }
}

/// A receiver case's `expect:` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawReceiverExpect {
    /// Prometheus delivers.
    pub(crate) delivered: bool,
    /// The class (or racy classes) of Prometheus' error when it does not.
    #[serde(default)]
    pub(crate) error: Option<OneOrMany>,
    /// A status the receiver answered with.
    #[serde(default)]
    pub(crate) receiver_status: Option<u16>,
}

/// `prometheus:`: how the Prometheus of the run itself is set up.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPrometheus {
    /// `web_config:`: Prometheus' own `--web.config.file`.
    #[serde(default)]
    pub(crate) web_config: Option<RawOwnWebConfig>,
}

/// `prometheus.web_config:` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawOwnWebConfig {
    /// A PKI server certificate name.
    #[serde(default)]
    pub(crate) server_cert: Option<String>,
    /// One Basic user.
    #[serde(default)]
    pub(crate) basic_auth: Option<RawUser>,
}

/// A user and plain-text password.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawUser {
    /// The user.
    pub(crate) username: String,
    /// The password (hashed when written).
    pub(crate) password: String,
}

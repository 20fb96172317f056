//! The `alerting` and `remote_write` sections: where Prometheus sends alerts and samples.
//! Each carries the same client settings as a scrape job (auth, TLS), so the same
//! mistakes, and the same classes, apply to them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Authorization, BasicAuth, OtherKeys, PromDuration, Scheme, StaticConfig, TlsConfig};

/// `alerting:`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AlertingConfig {
    /// The Alertmanagers notified.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub alertmanagers: Vec<AlertmanagerConfig>,
    /// Keys not typed here (`alert_relabel_configs`, ...).
    #[serde(flatten, default, skip_serializing_if = "BTreeMap::is_empty")]
    pub other: OtherKeys,
}

/// One entry of `alerting.alertmanagers`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AlertmanagerConfig {
    /// `http` or `https`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheme: Option<Scheme>,
    /// Basic auth sent with every notification.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basic_auth: Option<BasicAuth>,
    /// `Authorization` header sent with every notification.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization: Option<Authorization>,
    /// TLS settings towards the Alertmanager.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_config: Option<TlsConfig>,
    /// Per-request timeout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<PromDuration>,
    /// Prefix of the API path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_prefix: Option<String>,
    /// `v2` (the only one 2.42 and 3.x speak).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// The Alertmanagers' `host:port`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub static_configs: Vec<StaticConfig>,
    /// Keys not typed here (`follow_redirects`, `enable_http2`, service discovery, ...).
    #[serde(flatten, default, skip_serializing_if = "BTreeMap::is_empty")]
    pub other: OtherKeys,
}

/// One entry of `remote_write`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RemoteWriteConfig {
    /// The receiver's URL.
    pub url: String,
    /// The `remote_name` label of Prometheus' remote-storage metrics.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Per-request timeout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote_timeout: Option<PromDuration>,
    /// Basic auth sent with every request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basic_auth: Option<BasicAuth>,
    /// `Authorization` header sent with every request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization: Option<Authorization>,
    /// TLS settings towards the receiver.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_config: Option<TlsConfig>,
    /// Batching and retries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_config: Option<QueueConfig>,
    /// Metadata sends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata_config: Option<MetadataConfig>,
    /// Keys not typed here (`write_relabel_configs`, `headers`, ...).
    #[serde(flatten, default, skip_serializing_if = "BTreeMap::is_empty")]
    pub other: OtherKeys,
}

/// `remote_write[].queue_config`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct QueueConfig {
    /// Longest a sample waits in a shard before its batch is sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_send_deadline: Option<PromDuration>,
    /// First retry delay.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_backoff: Option<PromDuration>,
    /// Longest retry delay.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_backoff: Option<PromDuration>,
    /// Keys not typed here (`capacity`, `max_shards`, ...).
    #[serde(flatten, default, skip_serializing_if = "BTreeMap::is_empty")]
    pub other: OtherKeys,
}

/// `remote_write[].metadata_config`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MetadataConfig {
    /// Whether metric metadata is sent.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "fake_exporter::go_yaml::option_bool"
    )]
    pub send: Option<bool>,
    /// Keys not typed here (`send_interval`, ...).
    #[serde(flatten, default, skip_serializing_if = "BTreeMap::is_empty")]
    pub other: OtherKeys,
}

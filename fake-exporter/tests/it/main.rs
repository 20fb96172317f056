//! Integration tests of fake-exporter: one module per theme, fixtures in `support`.
//!
//! They run the real thing: the `fake-exporter` binary, node_exporter 1.5 and Prometheus 2.42
//! from Debian (`apt-get install -y prometheus prometheus-node-exporter`), on 127.0.0.1 only.

mod builder;
mod cli_errors;
mod differential;
mod fleet;
mod hostile_clients;
mod legacy_listener;
mod metrics_scrape;
mod observe;
mod receiver;
mod stats;
mod support;
mod web_config_model;
mod web_config_oracle;

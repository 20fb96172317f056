//! Integration tests of scrape-harness, one module per theme. They need Docker and
//! Prometheus (`bash scripts/setup`); a missing one fails with the command that fixes it.

mod backend;
mod bad_scenarios;
mod bench;
mod bench_hosts;
mod ci_image;
mod cleanup;
mod conformance;
mod conformance_frontends;
mod conformance_real;
mod docs_examples;
mod explain;
mod fixture;
mod generator;
mod kubernetes;
mod lab;
mod lab_buildit;
mod lab_weakenings;
mod legacy_tls;
mod matrix;
mod mixed;
mod mutation;
mod oauth2;
mod own_web_config;
mod pinned_leaf;
mod promtool_gate;
mod promtool_refusals;
mod proxy;
mod real_targets;
mod receivers;
mod refused_config;
mod rotation;
mod support;
mod wrong_expectation;

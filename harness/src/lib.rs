//! Runs a real Prometheus against exporters and reports what Prometheus itself says:
//! target health, the class of `lastError`, and whether keep-alive holds.
//!
//! The pieces are usable on their own: [`backend`] starts Prometheus (container or
//! process), [`promconfig`] writes `prometheus.yml`, [`targets`] reads verdicts,
//! [`classify`] maps `lastError` to a stable class, [`scenario`] and [`runner`] run whole
//! matrices, [`report`] renders them, and [`fixture`] gives other tests a Prometheus in a
//! few lines. The command line lives in the binary target (feature `cli`, on by default).

pub mod backend;
pub mod bench;
pub mod classify;
pub mod conformance;
mod exporter_config;
pub mod fixture;
mod progress;
pub mod promconfig;
pub mod report;
pub mod runner;
pub mod scenario;
pub mod targets;

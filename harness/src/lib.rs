//! Runs a real Prometheus against exporters and reports what Prometheus itself says.

pub mod backend;
pub mod classify;
pub mod cli;
pub mod promconfig;
pub mod report;
pub mod scenario;
pub mod targets;

//! Runs a real Prometheus against exporters and reports what Prometheus itself says.

pub mod backend;
pub mod classify;
pub mod promconfig;
pub mod targets;
// LEAD-WIP, wired once classify/targets exist: pub mod cli; pub mod report; pub mod runner; pub mod scenario;

//! Request authentication: Basic (exporter-toolkit compatible) and Bearer (extension).

pub mod basic;
pub mod bearer;

pub use basic::{basic_header, parse_basic, BasicAuthChecker, BasicCredentials};
pub use bearer::{check_bearer, parse_bearer};

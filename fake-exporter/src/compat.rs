//! Compatibility profiles: which exporter fake-exporter imitates where versions differ.
//!
//! | | `current` (default) | `node_exporter-1.5` |
//! |---|---|---|
//! | Go (crypto/tls alerts for a refused client certificate) | ≥ 1.21: `unknown_ca`, `certificate_expired` (also "not yet valid"), `certificate_required` (TLS 1.3 only), else `bad_certificate` | 1.19: `bad_certificate` for every refusal |
//! | exporter-toolkit landing page | `/` only; any other path is 404 | 0.8: every path other than the telemetry path answers the HTML landing page (200) |
//!
//! In both profiles an alert is never sent over a TLS version that lacks it:
//! `certificate_required` exists only in TLS 1.3 (a missing certificate over TLS 1.2 gets
//! `bad_certificate`, as from every Go version).
//!
//! Known limit: over TLS 1.3, a missing client certificate still gets rustls'
//! `certificate_required` under `node_exporter-1.5` (the alert is encrypted and rustls
//! chooses it; Go 1.19 sends `bad_certificate`). Prometheus classifies both as a missing
//! client certificate.

use std::fmt;
use std::str::FromStr;

use crate::tls::alerts::AlertProfile;

/// Which exporter to imitate where versions differ (`--compat`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Compat {
    /// Current exporter-toolkit built with Go ≥ 1.21.
    #[default]
    Current,
    /// node_exporter 1.5 (exporter-toolkit 0.8, Go 1.19), as Debian 12 ships it.
    NodeExporter15,
}

impl Compat {
    /// Every profile, with its name.
    pub const ALL: [(Compat, &'static str); 2] = [
        (Compat::Current, "current"),
        (Compat::NodeExporter15, "node_exporter-1.5"),
    ];

    /// The name used by `--compat` and the scenario key `exporter.compat`.
    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(c, _)| *c == self)
            .map_or("current", |(_, n)| n)
    }

    /// The TLS alerts of this profile's Go version.
    pub(crate) fn alerts(self) -> AlertProfile {
        match self {
            Self::Current => AlertProfile::Current,
            Self::NodeExporter15 => AlertProfile::Go119,
        }
    }

    /// Whether every unknown path answers the landing page (200) instead of 404.
    pub(crate) fn landing_page_everywhere(self) -> bool {
        self == Self::NodeExporter15
    }
}

impl fmt::Display for Compat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A `--compat` value that names no profile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown compatibility profile `{0}`; use `current` (default) or `node_exporter-1.5`")]
pub struct UnknownCompat(pub String);

impl serde::Serialize for Compat {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

impl<'de> serde::Deserialize<'de> for Compat {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl FromStr for Compat {
    type Err = UnknownCompat;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .iter()
            .find(|(_, n)| *n == s)
            .map(|(c, _)| *c)
            .ok_or_else(|| UnknownCompat(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_are_explained() {
        for (compat, name) in Compat::ALL {
            assert_eq!(name.parse::<Compat>(), Ok(compat));
            assert_eq!(compat.to_string(), name);
        }
        let err = "node_exporter-1.6".parse::<Compat>().expect_err("unknown");
        assert!(err
            .to_string()
            .contains("`current` (default) or `node_exporter-1.5`"));
    }
}

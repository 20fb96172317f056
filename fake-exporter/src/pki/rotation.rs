//! Certificates for rotation tests: two generations of everything. An old and a new CA;
//! from the old CA an `old` server and client leaf and a `reissued` one (same CA, new key,
//! new serial); from the new CA a `new-ca` leaf of each kind. Each leaf has its own key, as
//! a real renewal would. CA bundles (old, new, both) are PEM concatenations of the CAs.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use rcgen::{BasicConstraints, ExtendedKeyUsagePurpose, SanType};
use time::OffsetDateTime;

use super::generate::{ca_cert, ia5, identity, issue_ca, leaf_params, sign, Window};
use super::keys::generate_key;
use super::{Identity, KeyType, ParseNameError, PkiError};

/// Which generation of a leaf certificate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Generation {
    /// The first certificate, from the old CA.
    Old,
    /// A renewal from the same (old) CA: new key, new serial.
    Reissued,
    /// Issued by the new CA.
    NewCa,
}

impl Generation {
    /// Every generation, in order.
    pub const ALL: &'static [Generation] = &[Self::Old, Self::Reissued, Self::NewCa];

    /// The name used in scenario files.
    pub fn name(self) -> &'static str {
        match self {
            Self::Old => "old",
            Self::Reissued => "reissued",
            Self::NewCa => "new-ca",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Generation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Generation {
    type Err = ParseNameError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .iter()
            .copied()
            .find(|g| g.name() == s)
            .ok_or_else(|| ParseNameError {
                what: "certificate generation",
                value: s.to_owned(),
                expected: Self::ALL.iter().map(|g| g.name()).collect(),
            })
    }
}

/// Two CAs and three generations of server and client leaves.
#[derive(Clone, Debug)]
pub struct RotationPki {
    old_ca_pem: String,
    new_ca_pem: String,
    servers: Vec<Identity>,
    clients: Vec<Identity>,
}

impl RotationPki {
    /// Generates both CAs and every leaf, valid from an hour ago for a year.
    pub fn generate(key_type: KeyType) -> Result<Self, PkiError> {
        let now = OffsetDateTime::now_utc();
        let old_key = generate_key(key_type, "the old CA")?;
        let new_key = generate_key(key_type, "the new CA")?;
        let old_ca = issue_ca(
            "fake-exporter rotation CA (old)",
            BasicConstraints::Unconstrained,
            now,
            &old_key.pair,
            None,
            "rotation-old-ca.crt",
        )?;
        let new_ca = issue_ca(
            "fake-exporter rotation CA (new)",
            BasicConstraints::Unconstrained,
            now,
            &new_key.pair,
            None,
            "rotation-new-ca.crt",
        )?;
        let mut servers = Vec::new();
        let mut clients = Vec::new();
        for &generation in Generation::ALL {
            let issuer = match generation {
                Generation::Old | Generation::Reissued => &old_ca,
                Generation::NewCa => &new_ca,
            };
            let server_key = generate_key(key_type, "a rotation server certificate")?;
            let params = leaf_params(
                key_type,
                "fake-exporter",
                vec![
                    SanType::DnsName(ia5("localhost")),
                    SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)),
                    SanType::IpAddress(IpAddr::V6(Ipv6Addr::LOCALHOST)),
                ],
                ExtendedKeyUsagePurpose::ServerAuth,
                Window::Current,
                now,
            );
            let leaf = sign(&params, &server_key.pair, issuer, "rotation-server.crt")?;
            servers.push(identity(leaf, Vec::new(), &server_key));

            let client_key = generate_key(key_type, "a rotation client certificate")?;
            let params = leaf_params(
                key_type,
                "prometheus",
                vec![SanType::DnsName(ia5("prometheus.client"))],
                ExtendedKeyUsagePurpose::ClientAuth,
                Window::Current,
                now,
            );
            let leaf = sign(&params, &client_key.pair, issuer, "rotation-client.crt")?;
            clients.push(identity(leaf, Vec::new(), &client_key));
        }
        Ok(Self {
            old_ca_pem: ca_cert(&old_ca).pem,
            new_ca_pem: ca_cert(&new_ca).pem,
            servers,
            clients,
        })
    }

    /// The old CA (PEM).
    pub fn old_ca_pem(&self) -> &str {
        &self.old_ca_pem
    }

    /// The new CA (PEM).
    pub fn new_ca_pem(&self) -> &str {
        &self.new_ca_pem
    }

    /// The server leaf of a generation.
    pub fn server(&self, generation: Generation) -> &Identity {
        // Invariant: `generate` pushes one per generation, in `Generation::ALL` order.
        &self.servers[generation.index()]
    }

    /// The client leaf of a generation.
    pub fn client(&self, generation: Generation) -> &Identity {
        // Invariant: as for `server`.
        &self.clients[generation.index()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observe::certificate_serial;

    #[test]
    fn every_generation_has_its_own_serial_and_issuer() {
        let pki = RotationPki::generate(KeyType::EcdsaP256).expect("generates");
        let serials: std::collections::BTreeSet<_> = Generation::ALL
            .iter()
            .flat_map(|&g| [pki.server(g), pki.client(g)])
            .map(|id| certificate_serial(id.leaf()).expect("parses"))
            .collect();
        assert_eq!(serials.len(), 6, "six leaves, six serials");
        assert_ne!(pki.old_ca_pem(), pki.new_ca_pem());
        let issuer = |id: &Identity| {
            let (_, cert) = x509_parser::parse_x509_certificate(id.leaf()).expect("parses");
            cert.issuer().to_string()
        };
        assert_eq!(
            issuer(pki.server(Generation::Old)),
            issuer(pki.server(Generation::Reissued))
        );
        assert_ne!(
            issuer(pki.server(Generation::Old)),
            issuer(pki.server(Generation::NewCa))
        );
        assert_eq!("new-ca".parse::<Generation>().ok(), Some(Generation::NewCa));
        assert!("newest".parse::<Generation>().is_err());
    }
}

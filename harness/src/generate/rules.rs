//! The rules table: what Prometheus should report for one generated combination.
//!
//! The first row that matches decides (a TLS handshake fails before any HTTP request, and
//! Prometheus checks the server's certificate before it sends its own). [`RULES`] is the
//! table as text: `scrape-harness generate --rules` prints it and `docs/generator.md`
//! holds the same rows (a test keeps them in step). The rows are checked against
//! node_exporter by the integration test `generator_rules_agree_with_node_exporter`.

use fake_exporter::pki::{ClientCert, ServerCert};
use fake_exporter::ClientAuthType;

use super::{Auth, Combination, TlsRange};
use crate::classify::ErrorClass;
use crate::scenario::HttpVersion;
use crate::targets::Health;

/// One row of the rules table: its id, when it applies, and what Prometheus reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    /// `R1`, `R2`, ...
    pub id: &'static str,
    /// When the row applies (the earlier rows did not).
    pub when: &'static str,
    /// Health and error class Prometheus reports.
    pub then: &'static str,
}

/// The rules, first match wins.
pub const RULES: [Rule; 8] = [
    Rule {
        id: "R1",
        when: "the exporter's and the job's TLS version ranges do not overlap (exporter TLS 1.2 only and job TLS 1.3 only, or the reverse)",
        then: "down (tls_version)",
    },
    Rule {
        id: "R2",
        when: "the server certificate does not verify against the job's ca_file (ca.crt): expired → cert_expired, not-yet-valid → cert_not_yet_valid, wrong-host → hostname_mismatch, cn-only scraped by IP → no_ip_sans, self-signed / rogue-ca / missing-intermediate → unknown_authority",
        then: "down (that class)",
    },
    Rule {
        id: "R3",
        when: "client_auth_type requires a certificate (RequireAnyClientCert, RequireAndVerifyClientCert) and the job sends none",
        then: "down (client_cert_required)",
    },
    Rule {
        id: "R4",
        when: "client_auth_type verifies certificates (VerifyClientCertIfGiven, RequireAndVerifyClientCert) and the job sends one the CA did not sign or that expired (rogue-ca, expired)",
        then: "down (client_cert_rejected)",
    },
    Rule {
        id: "R5",
        when: "the exporter wants Basic auth and the job sends a wrong password or no credentials",
        then: "down (unauthorized)",
    },
    Rule {
        id: "R6",
        when: "the exporter wants a Bearer token (fake-exporter extension) and the job sends a wrong one or none",
        then: "down (unauthorized)",
    },
    Rule {
        id: "R7",
        when: "anything else: the scrape succeeds, over one kept-alive connection",
        then: "up",
    },
    Rule {
        id: "R8",
        when: "(applies to R7 over TLS) HTTP/2 is used exactly when the exporter allows it (http2 not false) and the job enables it (enable_http2 not false); plain HTTP is HTTP/1.1",
        then: "http_version HTTP/2, else HTTP/1.1",
    },
];

/// What the rules say about one combination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prediction {
    /// The deciding row.
    pub rule: &'static str,
    /// Target health.
    pub health: Health,
    /// Error class (`none` when up).
    pub class: ErrorClass,
    /// HTTP version of the scrapes, for an `up` target.
    pub http_version: Option<HttpVersion>,
}

impl Prediction {
    fn down(rule: &'static str, class: ErrorClass) -> Self {
        Self {
            rule,
            health: Health::Down,
            class,
            http_version: None,
        }
    }
}

/// Applies [`RULES`] to a combination.
pub fn expect(c: &Combination) -> Prediction {
    if let Some(server) = c.server_cert {
        let disjoint = matches!(
            (c.server_tls, c.client_tls),
            (TlsRange::Tls12, TlsRange::Tls13) | (TlsRange::Tls13, TlsRange::Tls12)
        );
        if disjoint {
            return Prediction::down("R1", ErrorClass::TlsVersion);
        }
        if let Some(class) = server_cert_class(server) {
            return Prediction::down("R2", class);
        }
        let policy = c.client_auth.canonical();
        if policy.requires_cert() && c.client_cert.is_none() {
            return Prediction::down("R3", ErrorClass::ClientCertRequired);
        }
        let verifies = matches!(
            policy,
            ClientAuthType::VerifyClientCertIfGiven | ClientAuthType::RequireAndVerifyClientCert
        );
        if verifies
            && matches!(
                c.client_cert,
                Some(ClientCert::RogueCa | ClientCert::Expired)
            )
        {
            return Prediction::down("R4", ErrorClass::ClientCertRejected);
        }
    }
    match c.auth {
        Auth::BasicWrong | Auth::BasicMissing => {
            return Prediction::down("R5", ErrorClass::Unauthorized)
        }
        Auth::BearerWrong | Auth::BearerMissing => {
            return Prediction::down("R6", ErrorClass::Unauthorized)
        }
        Auth::None | Auth::BasicRight | Auth::BearerRight => {}
    }
    let h2 = c.server_cert.is_some() && c.exporter_http2 && c.scrape_http2;
    Prediction {
        rule: "R7",
        health: Health::Up,
        class: ErrorClass::None,
        http_version: Some(if h2 {
            HttpVersion::Http2
        } else {
            HttpVersion::Http11
        }),
    }
}

/// The class Prometheus (Go's verifier, target `127.0.0.1`, `ca_file: ca.crt`) reports for
/// a server certificate that does not verify; `None` when it verifies.
fn server_cert_class(cert: ServerCert) -> Option<ErrorClass> {
    match cert {
        ServerCert::Valid | ServerCert::Chain => None,
        ServerCert::Expired => Some(ErrorClass::CertExpired),
        ServerCert::NotYetValid => Some(ErrorClass::CertNotYetValid),
        ServerCert::WrongHost => Some(ErrorClass::HostnameMismatch),
        ServerCert::CnOnly => Some(ErrorClass::NoIpSans),
        ServerCert::SelfSigned | ServerCert::RogueCa | ServerCert::MissingIntermediate => {
            Some(ErrorClass::UnknownAuthority)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_is_in_the_docs() {
        let docs = include_str!("../../../docs/generator.md");
        for rule in RULES {
            let row = format!("| {} | {} | {} |", rule.id, rule.when, rule.then);
            assert!(
                docs.contains(&row),
                "docs/generator.md lacks the row:\n{row}"
            );
        }
    }

    #[test]
    fn the_first_matching_rule_decides() {
        let base = Combination::default();
        assert_eq!(expect(&base).rule, "R7");
        assert_eq!(expect(&base).http_version, Some(HttpVersion::Http2));
        let version_and_cert = Combination {
            server_cert: Some(ServerCert::Expired),
            server_tls: TlsRange::Tls13,
            client_tls: TlsRange::Tls12,
            ..base
        };
        assert_eq!(expect(&version_and_cert).class, ErrorClass::TlsVersion);
        let cert_and_client = Combination {
            server_cert: Some(ServerCert::RogueCa),
            client_auth: ClientAuthType::RequireAndVerifyClientCert,
            ..base
        };
        assert_eq!(expect(&cert_and_client).class, ErrorClass::UnknownAuthority);
        let client_and_auth = Combination {
            client_auth: ClientAuthType::VerifyClientCertIfGiven,
            client_cert: Some(ClientCert::Expired),
            auth: Auth::BasicWrong,
            ..base
        };
        assert_eq!(
            expect(&client_and_auth).class,
            ErrorClass::ClientCertRejected
        );
        let request_expired = Combination {
            client_auth: ClientAuthType::RequestClientCert,
            client_cert: Some(ClientCert::Expired),
            ..base
        };
        assert_eq!(expect(&request_expired).health, Health::Up);
        let plain = Combination {
            server_cert: None,
            auth: Auth::BearerMissing,
            ..base
        };
        assert_eq!(expect(&plain).rule, "R6");
    }
}

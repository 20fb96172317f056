//! Which TLS alert a Go server sends when it refuses a client certificate, by Go version.
//!
//! From crypto/tls `handshake_server.go` (`processCertsFromClient`):
//! - Go ≤ 1.20 (node_exporter 1.5 is built with go1.19): `bad_certificate` for every
//!   refusal, a missing certificate included, in every TLS version.
//! - Go ≥ 1.21: no certificate → `certificate_required` in TLS 1.3 (the alert exists only
//!   there), `bad_certificate` in TLS 1.0-1.2; an `x509.UnknownAuthorityError` →
//!   `unknown_ca`; an `x509.CertificateInvalidError` with reason `Expired` (which Go also
//!   uses for "not yet valid") → `certificate_expired`; anything else (wrong EKU, a
//!   `VerifyPeerCertificate` refusal such as `client_allowed_sans`) → `bad_certificate`.

/// Alert numbers (RFC 8446 §6).
pub(crate) const BAD_CERTIFICATE: u8 = 42;
pub(crate) const CERTIFICATE_EXPIRED: u8 = 45;
pub(crate) const UNKNOWN_CA: u8 = 48;
pub(crate) const CERTIFICATE_REQUIRED: u8 = 116;

/// Which Go's alerts to send.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub(crate) enum AlertProfile {
    /// Go ≥ 1.21 (current exporter-toolkit builds).
    #[default]
    Current,
    /// Go 1.19 (node_exporter 1.5): `bad_certificate` for everything.
    Go119,
}

/// Why a client certificate was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ClientCertFailure {
    /// None was sent, and the policy requires one.
    Missing,
    /// Its chain does not lead to a client CA.
    UnknownCa,
    /// Expired or not yet valid.
    Expired,
    /// Its SANs are not in `client_allowed_sans`.
    SanNotAllowed,
    /// Anything else (wrong EKU, bad signature, ...).
    Other,
}

impl ClientCertFailure {
    /// From an OpenSSL `X509_V_ERR_*` code.
    #[cfg_attr(not(feature = "legacy-tls"), allow(dead_code))]
    pub(crate) fn from_openssl(code: i32) -> Self {
        match code {
            // UNABLE_TO_GET_ISSUER_CERT, DEPTH_ZERO_SELF_SIGNED_CERT, SELF_SIGNED_CERT_IN_CHAIN,
            // UNABLE_TO_GET_ISSUER_CERT_LOCALLY, UNABLE_TO_VERIFY_LEAF_SIGNATURE
            2 | 18 | 19 | 20 | 21 => Self::UnknownCa,
            // CERT_NOT_YET_VALID, CERT_HAS_EXPIRED
            9 | 10 => Self::Expired,
            _ => Self::Other,
        }
    }

    /// The self-stats label (as the rustls path counts it).
    #[cfg_attr(not(feature = "legacy-tls"), allow(dead_code))]
    pub(crate) fn reason(self) -> &'static str {
        match self {
            Self::Missing => "no_client_cert",
            Self::UnknownCa => "client_cert_unknown_ca",
            Self::Expired => "client_cert_expired",
            Self::SanNotAllowed => "client_cert_san_not_allowed",
            Self::Other => "client_cert_invalid",
        }
    }
}

impl AlertProfile {
    /// The alert Go sends for `failure` (`tls13`: the connection is TLS 1.3).
    pub(crate) fn client_cert_alert(self, failure: ClientCertFailure, tls13: bool) -> u8 {
        match (self, failure) {
            (Self::Go119, _) => BAD_CERTIFICATE,
            (Self::Current, ClientCertFailure::Missing) if tls13 => CERTIFICATE_REQUIRED,
            (Self::Current, ClientCertFailure::UnknownCa) => UNKNOWN_CA,
            (Self::Current, ClientCertFailure::Expired) => CERTIFICATE_EXPIRED,
            (Self::Current, _) => BAD_CERTIFICATE,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificate_required_only_in_tls13_and_only_after_go_1_21() {
        use ClientCertFailure as F;
        let current = AlertProfile::Current;
        assert_eq!(current.client_cert_alert(F::Missing, true), CERTIFICATE_REQUIRED);
        assert_eq!(current.client_cert_alert(F::Missing, false), BAD_CERTIFICATE);
        assert_eq!(current.client_cert_alert(F::UnknownCa, false), UNKNOWN_CA);
        assert_eq!(current.client_cert_alert(F::Expired, true), CERTIFICATE_EXPIRED);
        assert_eq!(current.client_cert_alert(F::SanNotAllowed, true), BAD_CERTIFICATE);
        for f in [F::Missing, F::UnknownCa, F::Expired, F::SanNotAllowed, F::Other] {
            for tls13 in [false, true] {
                assert_eq!(AlertProfile::Go119.client_cert_alert(f, tls13), BAD_CERTIFICATE);
            }
        }
    }
}

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

// Without the legacy (OpenSSL) listener only the rustls parts are used: no warnings for the rest.
#![cfg_attr(not(feature = "legacy-tls"), allow(dead_code))]

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
        assert_eq!(
            current.client_cert_alert(F::Missing, true),
            CERTIFICATE_REQUIRED
        );
        assert_eq!(
            current.client_cert_alert(F::Missing, false),
            BAD_CERTIFICATE
        );
        assert_eq!(current.client_cert_alert(F::UnknownCa, false), UNKNOWN_CA);
        assert_eq!(
            current.client_cert_alert(F::Expired, true),
            CERTIFICATE_EXPIRED
        );
        assert_eq!(
            current.client_cert_alert(F::SanNotAllowed, true),
            BAD_CERTIFICATE
        );
        for f in [
            F::Missing,
            F::UnknownCa,
            F::Expired,
            F::SanNotAllowed,
            F::Other,
        ] {
            for tls13 in [false, true] {
                assert_eq!(
                    AlertProfile::Go119.client_cert_alert(f, tls13),
                    BAD_CERTIFICATE
                );
            }
        }
    }
}

/// The TCP stream under rustls. rustls answers a missing mandatory client certificate with
/// `certificate_required` in TLS 1.2 too, where that alert does not exist (no Go version
/// sends it there: Go sends `bad_certificate`). In TLS 1.2 that alert is a plaintext record
/// (the server has not sent ChangeCipherSpec yet), so it is rewritten here; in TLS 1.3
/// alerts are encrypted and never match.
pub(crate) struct Tls12AlertFix<S> {
    inner: S,
}

impl<S> Tls12AlertFix<S> {
    pub(crate) fn new(inner: S) -> Self {
        Self { inner }
    }
}

/// `Some(fixed record)` when `buf` is exactly a plaintext fatal `certificate_required` alert.
pub(crate) fn fix_plaintext_alert(buf: &[u8]) -> Option<[u8; 7]> {
    let record: [u8; 7] = buf.try_into().ok()?;
    // type alert, any version, length 2, level fatal, certificate_required
    if record[0] == 0x15
        && record[3] == 0
        && record[4] == 2
        && record[5] == 2
        && record[6] == CERTIFICATE_REQUIRED
    {
        let mut fixed = record;
        fixed[6] = BAD_CERTIFICATE;
        return Some(fixed);
    }
    None
}

impl<S: tokio::io::AsyncRead + Unpin> tokio::io::AsyncRead for Tls12AlertFix<S> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: tokio::io::AsyncWrite + Unpin> tokio::io::AsyncWrite for Tls12AlertFix<S> {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        match fix_plaintext_alert(buf) {
            Some(fixed) => std::pin::Pin::new(&mut self.inner).poll_write(cx, &fixed),
            None => std::pin::Pin::new(&mut self.inner).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> std::task::Poll<std::io::Result<usize>> {
        // Look at the first non-empty buffer only (an alert is written alone).
        let first = bufs
            .iter()
            .find(|b| !b.is_empty())
            .map_or(&[][..], |b| &b[..]);
        match fix_plaintext_alert(first) {
            Some(fixed) => std::pin::Pin::new(&mut self.inner).poll_write(cx, &fixed),
            None => std::pin::Pin::new(&mut self.inner).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod fix_tests {
    use super::*;

    #[test]
    fn only_a_plaintext_fatal_certificate_required_is_rewritten() {
        assert_eq!(
            fix_plaintext_alert(&[0x15, 3, 3, 0, 2, 2, 116]),
            Some([0x15, 3, 3, 0, 2, 2, 42])
        );
        assert_eq!(fix_plaintext_alert(&[0x15, 3, 3, 0, 2, 2, 48]), None);
        assert_eq!(fix_plaintext_alert(&[0x17, 3, 3, 0, 2, 2, 116]), None);
        assert_eq!(fix_plaintext_alert(&[0x15, 3, 3, 0, 2, 2, 116, 0]), None);
    }
}

//! Stable snake_case labels for failed server-side handshakes (self-stats).

use rustls::{AlertDescription, CertificateError, Error, PeerIncompatible};

use super::verify::{EKU_MARKER, GO119_MARKER, INVALID_MARKER, SAN_MARKER};

/// Stable snake_case label for a failed handshake, from what tokio-rustls returns (an
/// `io::Error` wrapping a `rustls::Error`, or a plain I/O error).
///
/// Labels: `no_client_cert`, `client_cert_unknown_ca`, `client_cert_expired`,
/// `client_cert_not_yet_valid`, `client_cert_bad_eku`, `client_cert_san_not_allowed`,
/// `client_cert_invalid`, `protocol_version`, `no_shared_cipher`, `no_shared_curve`,
/// `no_shared_signature_scheme`, `no_application_protocol`, `peer_sent_alert_<alert>`
/// (the client rejected OUR certificate or parameters), `not_tls`, `eof`, `io`, `other`.
pub(crate) fn handshake_failure_reason(err: &std::io::Error) -> &'static str {
    if let Some(tls) = err.get_ref().and_then(|e| e.downcast_ref::<Error>()) {
        return rustls_reason(tls);
    }
    match err.kind() {
        std::io::ErrorKind::UnexpectedEof => "eof",
        _ => "io",
    }
}

pub(super) fn rustls_reason(error: &Error) -> &'static str {
    match error {
        Error::NoCertificatesPresented => "no_client_cert",
        Error::InvalidCertificate(cert) => certificate_reason(cert),
        Error::AlertReceived(alert) => alert_reason(*alert),
        Error::PeerIncompatible(why) => match why {
            PeerIncompatible::NoCipherSuitesInCommon => "no_shared_cipher",
            PeerIncompatible::NoKxGroupsInCommon
            | PeerIncompatible::NamedGroupsExtensionRequired
            | PeerIncompatible::KeyShareExtensionRequired => "no_shared_curve",
            PeerIncompatible::NoSignatureSchemesInCommon
            | PeerIncompatible::SignatureAlgorithmsExtensionRequired => {
                "no_shared_signature_scheme"
            }
            PeerIncompatible::Tls12NotOffered
            | PeerIncompatible::Tls12NotOfferedOrEnabled
            | PeerIncompatible::SupportedVersionsExtensionRequired
            | PeerIncompatible::ServerDoesNotSupportTls12Or13 => "protocol_version",
            _ => "other",
        },
        Error::NoApplicationProtocol => "no_application_protocol",
        Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType)
        | Error::InvalidMessage(rustls::InvalidMessage::UnknownProtocolVersion) => "not_tls",
        _ => "other",
    }
}

fn certificate_reason(error: &CertificateError) -> &'static str {
    match error {
        CertificateError::UnknownIssuer => "client_cert_unknown_ca",
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
            "client_cert_expired"
        }
        CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
            "client_cert_not_yet_valid"
        }
        CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. } => {
            "client_cert_bad_eku"
        }
        CertificateError::NotValidForNameContext {
            expected,
            presented,
        } if expected.to_str().as_ref() == GO119_MARKER => {
            // The real reason, kept by the verifier (one of the labels above).
            const LABELS: [&str; 7] = [
                "client_cert_unknown_ca",
                "client_cert_expired",
                "client_cert_not_yet_valid",
                "client_cert_bad_eku",
                "client_cert_san_not_allowed",
                "client_cert_invalid",
                "no_client_cert",
            ];
            presented
                .first()
                .and_then(|p| LABELS.iter().find(|l| *l == p))
                .copied()
                .unwrap_or("client_cert_invalid")
        }
        CertificateError::NotValidForNameContext { expected, .. } => {
            match expected.to_str().as_ref() {
                SAN_MARKER => "client_cert_san_not_allowed",
                EKU_MARKER => "client_cert_bad_eku",
                INVALID_MARKER => "client_cert_invalid",
                _ => "client_cert_invalid",
            }
        }
        _ => "client_cert_invalid",
    }
}

fn alert_reason(alert: AlertDescription) -> &'static str {
    match alert {
        AlertDescription::BadCertificate => "peer_sent_alert_bad_certificate",
        AlertDescription::UnknownCA => "peer_sent_alert_unknown_ca",
        AlertDescription::CertificateExpired => "peer_sent_alert_certificate_expired",
        AlertDescription::CertificateUnknown => "peer_sent_alert_certificate_unknown",
        AlertDescription::CertificateRevoked => "peer_sent_alert_certificate_revoked",
        AlertDescription::UnsupportedCertificate => "peer_sent_alert_unsupported_certificate",
        AlertDescription::AccessDenied => "peer_sent_alert_access_denied",
        AlertDescription::HandshakeFailure => "peer_sent_alert_handshake_failure",
        AlertDescription::ProtocolVersion => "peer_sent_alert_protocol_version",
        AlertDescription::DecryptError => "peer_sent_alert_decrypt_error",
        AlertDescription::DecodeError => "peer_sent_alert_decode_error",
        AlertDescription::IllegalParameter => "peer_sent_alert_illegal_parameter",
        AlertDescription::InternalError => "peer_sent_alert_internal_error",
        AlertDescription::UserCanceled => "peer_sent_alert_user_canceled",
        AlertDescription::CloseNotify => "peer_sent_alert_close_notify",
        AlertDescription::NoApplicationProtocol => "peer_sent_alert_no_application_protocol",
        AlertDescription::UnrecognisedName => "peer_sent_alert_unrecognized_name",
        _ => "peer_sent_alert_other",
    }
}

//! A client-certificate verifier that behaves like Go's `crypto/tls` server for each
//! `ClientAuthType`, plus the toolkit's `client_allowed_sans` check.
//!
//! * `RequestClientCert` / `RequireAnyClientCert`: any certificate is accepted (rogue,
//!   expired, wrong EKU) without looking at the chain; only the handshake signature is
//!   checked, so the peer must hold the key.
//! * `VerifyClientCertIfGiven` / `RequireAndVerifyClientCert`: chain to the client CAs,
//!   validity dates and the clientAuth EKU (when present), like `x509.Certificate.Verify`.
//!
//! * A presented leaf that is byte for byte one of the client CAs (the client certificate
//!   pinned as `client_ca_file`) is trusted by itself, as `x509.Certificate.Verify` does
//!   when the root pool contains the leaf; Go still checks its validity dates and its EKU,
//!   and so do we (see [`verify_pinned_leaf`]).
//!
//! Alerts follow Go ≥ 1.21: unknown authority gives `unknown_ca`, expired / not yet valid
//! gives `certificate_expired`, everything else `bad_certificate`. A chain whose issuer
//! signature does not verify is "unknown authority" in Go, so it becomes `UnknownIssuer`.
//! rustls would send `unsupported_certificate` for a wrong EKU, so that one (and other
//! failures Go reports as `bad_certificate`) is re-expressed as `CertificateError::NotValidForNameContext` (which rustls turns
//! into `bad_certificate`) whose `expected` name is one of the markers below;
//! [`super::handshake_failure_reason`] reads the marker back.

use std::sync::Arc;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::WebPkiClientVerifier;
use rustls::{
    CertificateError, DigitallySignedStruct, DistinguishedName, Error, RootCertStore,
    SignatureScheme,
};

use crate::web_config::ClientAuthType;

/// Marker for "the leaf carries none of `client_allowed_sans`".
pub(super) const SAN_MARKER: &str = "client-allowed-sans.fake-exporter.invalid";
/// Marker for "the chain does not allow the clientAuth extended key usage".
pub(super) const EKU_MARKER: &str = "client-auth-eku.fake-exporter.invalid";
/// Marker for any other verification failure Go reports as bad_certificate.
pub(super) const INVALID_MARKER: &str = "client-cert-invalid.fake-exporter.invalid";
/// Marker for every refusal under Go 1.19 alerts (`bad_certificate`); the presented name
/// carries the real reason label for the self-stats.
pub(super) const GO119_MARKER: &str = "client-cert-refused.go119.fake-exporter.invalid";

/// See the module documentation.
#[derive(Debug)]
pub(super) struct GoClientVerifier {
    policy: ClientAuthType,
    /// webpki verification against the client CAs; `None` when the pool is empty or absent
    /// (every certificate is then from an unknown authority).
    chain: Option<Arc<dyn ClientCertVerifier>>,
    hints: Vec<DistinguishedName>,
    /// Every certificate of the client CA pool, DER: a leaf found here needs no chain.
    pool: Vec<CertificateDer<'static>>,
    allowed_sans: Option<Vec<String>>,
    algorithms: WebPkiSupportedAlgorithms,
    insecure: super::InsecureTls,
}

impl GoClientVerifier {
    pub(super) fn new(
        policy: ClientAuthType,
        cas: Option<super::pem::ClientCas>,
        allowed_sans: Option<Vec<String>>,
        provider: Arc<rustls::crypto::CryptoProvider>,
    ) -> Result<Self, Error> {
        let (roots, pool) = match cas {
            Some(cas) => (Some(cas.store), cas.certs),
            None => (None, Vec::new()),
        };
        let hints = roots
            .as_ref()
            .map(RootCertStore::subjects)
            .unwrap_or_default();
        let chain = match roots {
            Some(roots) if !roots.is_empty() && policy.verifies_cert() => Some(
                WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                    .allow_unauthenticated()
                    .build()
                    .map_err(|e| Error::General(format!("client CA verifier: {e}")))?,
            ),
            _ => None,
        };
        Ok(Self {
            policy,
            chain,
            hints,
            pool,
            allowed_sans,
            algorithms: provider.signature_verification_algorithms,
            insecure: super::InsecureTls::default(),
        })
    }
}

impl GoClientVerifier {
    /// Whether `leaf` is, byte for byte, one of the client CAs (Go's `CertPool.contains`).
    fn pins(&self, leaf: &CertificateDer<'_>) -> bool {
        self.pool.iter().any(|der| der.as_ref() == leaf.as_ref())
    }

    /// Weakens verification on purpose (conformance mutants).
    pub(super) fn insecure(mut self, insecure: super::InsecureTls) -> Self {
        self.insecure = insecure;
        self
    }
}

/// The middle of a certificate's validity window, as a verification time.
fn validity_midpoint(der: &CertificateDer<'_>) -> Option<UnixTime> {
    let (_, cert) = x509_parser::parse_x509_certificate(der.as_ref()).ok()?;
    let from = cert.validity().not_before.timestamp();
    let to = cert.validity().not_after.timestamp();
    let mid = u64::try_from(from + (to - from) / 2).ok()?;
    Some(UnixTime::since_unix_epoch(std::time::Duration::from_secs(
        mid,
    )))
}

/// Go's alert choice for a failed `x509.Certificate.Verify`.
fn go_alert(error: Error) -> Error {
    use CertificateError as E;
    let Error::InvalidCertificate(cert_error) = error else {
        return error;
    };
    match cert_error {
        E::UnknownIssuer
        | E::Expired
        | E::ExpiredContext { .. }
        | E::NotValidYet
        | E::NotValidYetContext { .. }
        | E::BadEncoding
        | E::UnhandledCriticalExtension => Error::InvalidCertificate(cert_error),
        // Go's chain builder reports a candidate issuer whose signature does not verify as
        // "signed by unknown authority".
        #[allow(deprecated)]
        E::BadSignature
        | E::UnsupportedSignatureAlgorithm
        | E::UnsupportedSignatureAlgorithmContext { .. }
        | E::UnsupportedSignatureAlgorithmForPublicKeyContext { .. } => {
            Error::InvalidCertificate(E::UnknownIssuer)
        }
        E::InvalidPurpose | E::InvalidPurposeContext { .. } => {
            marked(EKU_MARKER, vec![cert_error.to_string()])
        }
        other => marked(INVALID_MARKER, vec![other.to_string()]),
    }
}

/// Go's checks for a leaf that is itself in the root pool (a one-certificate chain):
/// `isValid` on the leaf (validity dates) first, then the chain's extended key usage for
/// `ExtKeyUsageClientAuth` (no EKU extension, `anyExtendedKeyUsage` or clientAuth pass).
/// Go does not look at basic constraints or key usage bits here.
fn verify_pinned_leaf(der: &CertificateDer<'_>, now: UnixTime) -> Result<(), Error> {
    use x509_parser::extensions::ParsedExtension;
    let (_, cert) = x509_parser::parse_x509_certificate(der.as_ref())
        .map_err(|_| Error::InvalidCertificate(CertificateError::BadEncoding))?;
    let at = |t: x509_parser::time::ASN1Time| {
        UnixTime::since_unix_epoch(std::time::Duration::from_secs(
            u64::try_from(t.timestamp()).unwrap_or(0),
        ))
    };
    let not_before = at(cert.validity().not_before);
    let not_after = at(cert.validity().not_after);
    if now.as_secs() < not_before.as_secs() {
        return Err(Error::InvalidCertificate(
            CertificateError::NotValidYetContext {
                time: now,
                not_before,
            },
        ));
    }
    if now.as_secs() > not_after.as_secs() {
        return Err(Error::InvalidCertificate(
            CertificateError::ExpiredContext {
                time: now,
                not_after,
            },
        ));
    }
    for extension in cert.extensions() {
        if let ParsedExtension::ExtendedKeyUsage(eku) = extension.parsed_extension() {
            if !(eku.any || eku.client_auth) {
                return Err(marked(
                    EKU_MARKER,
                    vec!["pinned client certificate without the clientAuth EKU".to_string()],
                ));
            }
        }
    }
    Ok(())
}

/// A `bad_certificate` error carrying a marker rustls passes through untouched.
fn marked(marker: &'static str, details: Vec<String>) -> Error {
    Error::InvalidCertificate(CertificateError::NotValidForNameContext {
        expected: ServerName::try_from(marker).expect("markers are valid DNS names"),
        presented: details,
    })
}

/// [`subject_alt_names`] of a DER certificate; empty when it does not parse.
#[cfg(feature = "legacy-tls")]
pub(super) fn subject_alt_names_der(der: &[u8]) -> Vec<String> {
    subject_alt_names(&CertificateDer::from(der)).unwrap_or_default()
}

/// Every SAN as the toolkit lists them: DNS names, e-mail addresses, IPs (Go's
/// `net.IP.String`), URIs.
fn subject_alt_names(der: &CertificateDer<'_>) -> Result<Vec<String>, Error> {
    use x509_parser::extensions::GeneralName;
    let (_, cert) = x509_parser::parse_x509_certificate(der.as_ref())
        .map_err(|_| Error::InvalidCertificate(CertificateError::BadEncoding))?;
    let Ok(Some(san)) = cert.subject_alternative_name() else {
        return Ok(Vec::new());
    };
    let mut names = Vec::new();
    for name in &san.value.general_names {
        match name {
            GeneralName::DNSName(dns) => names.push(dns.to_string()),
            GeneralName::RFC822Name(email) => names.push(email.to_string()),
            GeneralName::URI(uri) => names.push(uri.to_string()),
            GeneralName::IPAddress(bytes) => {
                if let Ok(v4) = <[u8; 4]>::try_from(*bytes) {
                    names.push(std::net::Ipv4Addr::from(v4).to_string());
                } else if let Ok(v6) = <[u8; 16]>::try_from(*bytes) {
                    let ip = std::net::Ipv6Addr::from(v6);
                    // Go prints IPv4-mapped addresses in dotted form.
                    match ip.to_ipv4_mapped() {
                        Some(v4) => names.push(v4.to_string()),
                        None => names.push(ip.to_string()),
                    }
                }
            }
            _ => {}
        }
    }
    Ok(names)
}

impl GoClientVerifier {
    /// Go's checks, with the current Go's alert choices.
    fn verify_client_cert_go(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, Error> {
        // Go parses every certificate first and answers bad_certificate when one does not parse.
        for der in std::iter::once(end_entity).chain(intermediates) {
            x509_parser::parse_x509_certificate(der.as_ref())
                .map_err(|_| Error::InvalidCertificate(CertificateError::BadEncoding))?;
        }
        if self.policy.verifies_cert() && !self.insecure.skip_client_chain_verification {
            // Mutant: verify as if "now" were in the middle of the leaf's validity.
            let now = if self.insecure.ignore_client_cert_expiry {
                validity_midpoint(end_entity).unwrap_or(now)
            } else {
                now
            };
            match &self.chain {
                Some(_) if self.pins(end_entity) => verify_pinned_leaf(end_entity, now)?,
                Some(chain) => {
                    chain
                        .verify_client_cert(end_entity, intermediates, now)
                        .map_err(go_alert)?;
                }
                None => return Err(Error::InvalidCertificate(CertificateError::UnknownIssuer)),
            }
        }
        if let (Some(allowed), false) =
            (&self.allowed_sans, self.insecure.ignore_client_allowed_sans)
        {
            let names = subject_alt_names(end_entity)?;
            if !names.iter().any(|name| allowed.contains(name)) {
                return Err(marked(SAN_MARKER, names));
            }
        }
        Ok(ClientCertVerified::assertion())
    }
}

impl ClientCertVerifier for GoClientVerifier {
    fn offer_client_auth(&self) -> bool {
        self.policy.requests_cert()
    }

    fn client_auth_mandatory(&self) -> bool {
        self.policy.requires_cert()
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &self.hints
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, Error> {
        let verified = self.verify_client_cert_go(end_entity, intermediates, now);
        match (verified, self.insecure.alerts) {
            // Go 1.19 sends bad_certificate whatever the reason: keep the reason for the
            // self-stats in a marked name error (which rustls answers with bad_certificate).
            (Err(e), super::alerts::AlertProfile::Go119) => {
                let reason = super::reason::rustls_reason(&e);
                Err(marked(GO119_MARKER, vec![reason.to_owned()]))
            }
            (verified, _) => verified,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

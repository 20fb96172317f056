//! Client certificates for auditing a running exporter from outside: a self-signed one,
//! and, given the CA (certificate and key) the exporter trusts for clients, a valid, an
//! expired and a serverAuth-only one issued by that CA. The unknown-CA certificates come
//! from a generated [`super::Pki`] (its CA is unknown to every real exporter).

use rcgen::{CertificateParams, ExtendedKeyUsagePurpose, Issuer, KeyPair, SanType};
use time::OffsetDateTime;

use super::generate::{leaf_params, Window};
use super::keys::generate_key;
use super::{Identity, KeyType, PkiError};

/// CN of every probe certificate.
const PROBE_CN: &str = "conformance-probe";

/// A client certificate made for a probe, and what it is.
#[derive(Debug, Clone)]
pub struct ProbeCert {
    /// Short name (`self-signed`, `ca-valid`, `ca-expired`, `ca-server-auth-only`).
    pub name: &'static str,
    /// The certificate and key.
    pub identity: Identity,
}

/// A self-signed client certificate (clientAuth EKU, valid now): no CA vouches for it.
pub fn self_signed_client() -> Result<ProbeCert, PkiError> {
    let now = OffsetDateTime::now_utc();
    let key = generate_key(KeyType::EcdsaP256, "the self-signed probe certificate")?;
    let params = probe_params(ExtendedKeyUsagePurpose::ClientAuth, Window::Current, now);
    let cert = params
        .self_signed(&key.pair)
        .map_err(|source| PkiError::Certificate {
            file: "probe-self-signed.crt",
            source,
        })?;
    Ok(ProbeCert {
        name: "self-signed",
        identity: super::generate::identity(cert, Vec::new(), &key),
    })
}

/// A valid, an expired and a serverAuth-only client certificate, each issued by the CA
/// whose PEM certificate and PEM private key (PKCS#8, or whatever rcgen reads) are given.
pub fn issued_by(ca_cert_pem: &str, ca_key_pem: &str) -> Result<Vec<ProbeCert>, PkiError> {
    let ca_key = KeyPair::from_pem(ca_key_pem).map_err(|source| PkiError::CaInput {
        what: "the CA private key (PEM, PKCS#8)",
        source,
    })?;
    let issuer =
        Issuer::from_ca_cert_pem(ca_cert_pem, &ca_key).map_err(|source| PkiError::CaInput {
            what: "the CA certificate (PEM)",
            source,
        })?;
    let now = OffsetDateTime::now_utc();
    let key = generate_key(KeyType::EcdsaP256, "the probe certificates")?;
    let mut out = Vec::new();
    for (name, file, eku, window) in [
        (
            "ca-valid",
            "probe-ca-valid.crt",
            ExtendedKeyUsagePurpose::ClientAuth,
            Window::Current,
        ),
        (
            "ca-expired",
            "probe-ca-expired.crt",
            ExtendedKeyUsagePurpose::ClientAuth,
            Window::Expired,
        ),
        (
            "ca-server-auth-only",
            "probe-ca-server-auth-only.crt",
            ExtendedKeyUsagePurpose::ServerAuth,
            Window::Current,
        ),
    ] {
        let cert = probe_params(eku, window, now)
            .signed_by(&key.pair, &issuer)
            .map_err(|source| PkiError::Certificate { file, source })?;
        out.push(ProbeCert {
            name,
            identity: super::generate::identity(cert, Vec::new(), &key),
        });
    }
    Ok(out)
}

fn probe_params(
    eku: ExtendedKeyUsagePurpose,
    window: Window,
    now: OffsetDateTime,
) -> CertificateParams {
    let san = rcgen::string::Ia5String::try_from("conformance.probe")
        .expect("invariant: a constant ASCII name");
    leaf_params(
        KeyType::EcdsaP256,
        PROBE_CN,
        vec![SanType::DnsName(san)],
        eku,
        window,
        now,
    )
}

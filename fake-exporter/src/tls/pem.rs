//! Loading PEM material the way Go's `tls.X509KeyPair` and `CertPool.AppendCertsFromPEM` do.

use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::sign::CertifiedKey;
use rustls::{InconsistentKeys, RootCertStore};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use super::TlsError;
use crate::web_config::{PemSource, TlsServerConfig};

/// Reads a PEM source now. `key` is the config key for messages (`cert_file` / `cert`).
fn read(tls: &TlsServerConfig, source: &PemSource, key: &'static str) -> Result<Vec<u8>, TlsError> {
    match source {
        PemSource::Inline(text) => Ok(text.as_bytes().to_vec()),
        PemSource::File(file) => std::fs::read(file).map_err(|source| TlsError::ReadFile {
            path: tls.origin.clone(),
            key,
            file: file.clone(),
            source,
        }),
    }
}

/// `cert_file /abs/path` or `cert (inline)`, for messages.
pub(super) fn describe(source: &PemSource, file_key: &str, inline_key: &str) -> String {
    match source {
        PemSource::File(file) => format!("{file_key} {}", file.display()),
        PemSource::Inline(_) => format!("{inline_key} (inline)"),
    }
}

/// The toolkit's `loadCert`: cert chain and key, read now, checked to match.
pub(super) fn load_certified_key(
    tls: &TlsServerConfig,
    provider: &CryptoProvider,
) -> Result<Arc<CertifiedKey>, TlsError> {
    let (Some(cert_source), Some(key_source)) = (&tls.cert, &tls.key) else {
        // build_server_config checks both before calling; report the first missing one.
        return Err(if tls.cert.is_none() {
            TlsError::MissingCert {
                path: tls.origin.clone(),
            }
        } else {
            TlsError::MissingKey {
                path: tls.origin.clone(),
            }
        });
    };
    let cert_key = if matches!(cert_source, PemSource::File(_)) {
        "cert_file"
    } else {
        "cert"
    };
    let key_key = if matches!(key_source, PemSource::File(_)) {
        "key_file"
    } else {
        "key"
    };
    let cert_pem = read(tls, cert_source, cert_key)?;
    let key_pem = read(tls, key_source, key_key)?;
    let cert_desc = describe(cert_source, "cert_file", "cert");
    let key_desc = describe(key_source, "key_file", "key");

    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert_pem)
        .filter_map(Result::ok)
        .collect();
    if chain.is_empty() {
        let switched = PrivateKeyDer::from_pem_slice(&cert_pem).is_ok();
        return Err(TlsError::NoCertificate {
            path: tls.origin.clone(),
            cert: cert_desc,
            switched,
        });
    }
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| TlsError::BadKey {
        path: tls.origin.clone(),
        key: key_desc.clone(),
        reason: format!("no usable PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY block ({e:?})"),
    })?;
    let certified = CertifiedKey::from_der(chain, key, provider).map_err(|e| match e {
        rustls::Error::InconsistentKeys(InconsistentKeys::KeyMismatch) => TlsError::KeyMismatch {
            path: tls.origin.clone(),
            cert: cert_desc.clone(),
            key: key_desc.clone(),
        },
        other => TlsError::BadKey {
            path: tls.origin.clone(),
            key: key_desc.clone(),
            reason: other.to_string(),
        },
    })?;
    Ok(Arc::new(certified))
}

/// The client CA pool as read now: the trust anchors, and the DER of every certificate
/// that made it into the pool (Go's pool also matches a presented leaf byte for byte).
#[derive(Debug)]
pub(super) struct ClientCas {
    pub(super) store: RootCertStore,
    pub(super) certs: Vec<CertificateDer<'static>>,
}

/// The client CA pool, read now. Like `AppendCertsFromPEM`, blocks that do not parse are
/// skipped, so a file without certificates gives an empty pool (every client cert then
/// fails with unknown_ca).
pub(super) fn load_client_cas(tls: &TlsServerConfig) -> Result<Option<ClientCas>, TlsError> {
    let Some(source) = &tls.client_ca else {
        return Ok(None);
    };
    let key = if matches!(source, PemSource::File(_)) {
        "client_ca_file"
    } else {
        "client_ca"
    };
    let pem = read(tls, source, key)?;
    let mut cas = ClientCas {
        store: RootCertStore::empty(),
        certs: Vec::new(),
    };
    for der in CertificateDer::pem_slice_iter(&pem).filter_map(Result::ok) {
        if cas.store.add(der.clone()).is_ok() {
            cas.certs.push(der);
        }
    }
    Ok(Some(cas))
}

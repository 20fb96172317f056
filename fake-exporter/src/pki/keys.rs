//! Key generation for every [`KeyType`], and the extra encodings `openssl` writes.
//!
//! ring (rcgen's backend here) cannot generate RSA keys, so RSA keys come from the `rsa` crate
//! and are handed to rcgen as PKCS#8. ECDSA and Ed25519 keys come from ring directly.
//!
//! The "openssl" encodings are what `openssl genrsa` (PKCS#1) and `openssl ecparam -genkey`
//! (SEC1) write. SEC1 keys must carry the named-curve parameters: Go's
//! `x509.ParseECPrivateKey` refuses a SEC1 key without them, and the `p256` crate's own SEC1
//! encoder leaves them out, so the SEC1 structure is written here.

use p256::elliptic_curve::sec1::ToEncodedPoint;
use p256::pkcs8::der::pem::{self, LineEnding};
use p256::pkcs8::DecodePrivateKey;
use rcgen::{KeyPair, PKCS_ECDSA_P256_SHA256, PKCS_ED25519, PKCS_RSA_SHA256};
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::pkcs8::EncodePrivateKey;
use rustls_pki_types::PrivatePkcs8KeyDer;

use super::{KeyEncodingError, KeyType, PkiError};

/// A freshly generated key in every encoding the PKI hands out.
pub(super) struct GeneratedKey {
    /// The key, for rcgen to sign with or to certify.
    pub(super) pair: KeyPair,
    /// PKCS#8 PEM.
    pub(super) pkcs8_pem: String,
    /// PKCS#8 DER.
    pub(super) pkcs8_der: Vec<u8>,
    /// PKCS#1 (RSA) or SEC1 (ECDSA) PEM; `None` for Ed25519.
    pub(super) openssl_pem: Option<String>,
}

/// Generates one key of `key_type`; `purpose` (e.g. "the CA") goes into error messages.
pub(super) fn generate_key(
    key_type: KeyType,
    purpose: &'static str,
) -> Result<GeneratedKey, PkiError> {
    let rcgen_error = |source| PkiError::Key {
        purpose,
        key_type,
        source,
    };
    let encoding_error = |format, source: KeyEncodingError| PkiError::KeyEncoding {
        purpose,
        key_type,
        format,
        source,
    };

    let (pair, openssl_pem) = match key_type {
        KeyType::EcdsaP256 => {
            let pair = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(rcgen_error)?;
            let sec1 =
                sec1_p256_pem(pair.serialized_der()).map_err(|e| encoding_error("SEC1", e))?;
            (pair, Some(sec1))
        }
        KeyType::Ed25519 => {
            let generated = KeyPair::generate_for(&PKCS_ED25519).map_err(rcgen_error)?;
            let v1 = ed25519_pkcs8_v1(generated.serialized_der())
                .map_err(|e| encoding_error("PKCS#8 v1", e))?;
            let pair = KeyPair::from_pkcs8_der_and_sign_algo(
                &PrivatePkcs8KeyDer::from(v1.as_slice()),
                &PKCS_ED25519,
            )
            .map_err(rcgen_error)?;
            (pair, None)
        }
        KeyType::Rsa2048 => {
            let key = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048)
                .map_err(|source| PkiError::RsaKey { purpose, source })?;
            let pkcs1 = key
                .to_pkcs1_pem(LineEnding::LF)
                .map_err(|e| encoding_error("PKCS#1", KeyEncodingError::Encoder(Box::new(e))))?;
            let pkcs8 = key
                .to_pkcs8_der()
                .map_err(|e| encoding_error("PKCS#8", KeyEncodingError::Encoder(Box::new(e))))?;
            let pair = KeyPair::from_pkcs8_der_and_sign_algo(
                &PrivatePkcs8KeyDer::from(pkcs8.as_bytes()),
                &PKCS_RSA_SHA256,
            )
            .map_err(rcgen_error)?;
            (pair, Some(pkcs1.to_string()))
        }
    };

    Ok(GeneratedKey {
        pkcs8_pem: pair.serialize_pem(),
        pkcs8_der: pair.serialize_der(),
        pair,
        openssl_pem,
    })
}

/// Start of ring's PKCS#8 v2 Ed25519 document: `SEQUENCE (81 bytes) { INTEGER 1, SEQUENCE {
/// OID 1.3.101.112 }, OCTET STRING { OCTET STRING (32 bytes) ...`, followed by the seed and
/// then `[1] publicKey`.
const ED25519_RING_V2_HEAD: [u8; 16] = [
    0x30, 0x51, 0x02, 0x01, 0x01, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];

/// The same structure as PKCS#8 v1 (`INTEGER 0`, no public key): 0x2e = 46 content bytes.
const ED25519_V1_HEAD: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];

/// Rewrites ring's PKCS#8 v2 Ed25519 key as the PKCS#8 v1 document `openssl genpkey` writes.
///
/// OpenSSL 3.0 cannot read ring's v2 form: `openssl pkey` fails with "unsupported" (checked
/// against OpenSSL 3.0.19). Go, rustls, ring and OpenSSL all read v1.
fn ed25519_pkcs8_v1(ring_v2: &[u8]) -> Result<Vec<u8>, KeyEncodingError> {
    let seed = ring_v2
        .strip_prefix(&ED25519_RING_V2_HEAD)
        .and_then(|rest| rest.get(..32))
        .ok_or(KeyEncodingError::Ed25519Layout { len: ring_v2.len() })?;
    let mut der = Vec::with_capacity(48);
    der.extend_from_slice(&ED25519_V1_HEAD);
    der.extend_from_slice(seed);
    Ok(der)
}

/// `ECPrivateKey ::= SEQUENCE {` (0x77 = 119 content bytes), `version INTEGER 1`, and the
/// header of `privateKey OCTET STRING` (32 bytes).
const SEC1_P256_HEAD: [u8; 7] = [0x30, 0x77, 0x02, 0x01, 0x01, 0x04, 0x20];

/// `parameters [0] { OID 1.2.840.10045.3.1.7 (prime256v1) }`, then the header of
/// `publicKey [1] { BIT STRING }` (65 bytes of uncompressed point after the unused-bits byte).
const SEC1_P256_MIDDLE: [u8; 17] = [
    0xa0, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0xa1, 0x44, 0x03, 0x42,
    0x00,
];

/// Re-encodes a PKCS#8 P-256 key as SEC1 PEM (RFC 5915) with the named curve and the public
/// key, byte for byte what `openssl ecparam -name prime256v1 -genkey -noout` writes.
fn sec1_p256_pem(pkcs8_der: &[u8]) -> Result<String, KeyEncodingError> {
    let secret = p256::SecretKey::from_pkcs8_der(pkcs8_der)
        .map_err(|e| KeyEncodingError::Encoder(Box::new(e)))?;
    let scalar = secret.to_bytes();
    let point = secret.public_key().to_encoded_point(false);

    let mut der = Vec::with_capacity(121);
    der.extend_from_slice(&SEC1_P256_HEAD);
    der.extend_from_slice(&scalar);
    der.extend_from_slice(&SEC1_P256_MIDDLE);
    der.extend_from_slice(point.as_bytes());
    if der.len() != 121 {
        return Err(KeyEncodingError::Sec1Length { len: der.len() });
    }
    pem::encode_string("EC PRIVATE KEY", LineEnding::LF, &der)
        .map_err(|e| KeyEncodingError::Encoder(Box::new(p256::pkcs8::der::Error::from(e))))
}

#[cfg(test)]
mod tests {
    use p256::pkcs8::DecodePrivateKey;
    use rsa::pkcs1::DecodeRsaPrivateKey;

    use super::*;

    #[test]
    fn sec1_key_round_trips_and_names_the_curve() {
        let key = generate_key(KeyType::EcdsaP256, "a test").expect("P-256 generation");
        let sec1 = key.openssl_pem.expect("P-256 keys have a SEC1 form");

        let (label, der) = pem::decode_vec(sec1.as_bytes()).expect("valid PEM");
        assert_eq!(label, "EC PRIVATE KEY");
        // OID prime256v1 inside [0]
        let oid = [0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
        assert!(der.windows(oid.len()).any(|w| w == oid), "no named curve");

        let from_sec1 = p256::SecretKey::from_sec1_der(&der).expect("p256 parses the SEC1 key");
        let from_pkcs8 = p256::SecretKey::from_pkcs8_der(&key.pkcs8_der).expect("PKCS#8");
        assert_eq!(from_sec1.to_bytes(), from_pkcs8.to_bytes());
    }

    #[test]
    fn pkcs1_key_round_trips() {
        let key = generate_key(KeyType::Rsa2048, "a test").expect("RSA generation");
        let pkcs1 = key.openssl_pem.expect("RSA keys have a PKCS#1 form");
        assert!(pkcs1.starts_with("-----BEGIN RSA PRIVATE KEY-----\n"));

        let from_pkcs1 = rsa::RsaPrivateKey::from_pkcs1_pem(&pkcs1).expect("PKCS#1 parses");
        let from_pkcs8 = rsa::RsaPrivateKey::from_pkcs8_der(&key.pkcs8_der).expect("PKCS#8 parses");
        assert_eq!(from_pkcs1, from_pkcs8);
        assert_eq!(rsa::traits::PublicKeyParts::size(&from_pkcs1), 256);
    }

    #[test]
    fn ed25519_has_no_openssl_form_and_pkcs8_pem() {
        let key = generate_key(KeyType::Ed25519, "a test").expect("Ed25519 generation");
        assert!(key.openssl_pem.is_none());
        assert!(key.pkcs8_pem.starts_with("-----BEGIN PRIVATE KEY-----"));
        assert_eq!(key.pair.algorithm(), &PKCS_ED25519);
        // PKCS#8 v1, 48 bytes, as `openssl genpkey -algorithm ed25519` writes it.
        assert_eq!(key.pkcs8_der.len(), 48);
        assert_eq!(key.pkcs8_der[..16], ED25519_V1_HEAD);
    }

    #[test]
    fn ed25519_v1_keeps_the_seed_and_rejects_unknown_layouts() {
        let ring = KeyPair::generate_for(&PKCS_ED25519).expect("Ed25519 generation");
        let v1 = ed25519_pkcs8_v1(ring.serialized_der()).expect("ring layout");
        let reloaded = KeyPair::from_pkcs8_der_and_sign_algo(
            &PrivatePkcs8KeyDer::from(v1.as_slice()),
            &PKCS_ED25519,
        )
        .expect("rcgen loads PKCS#8 v1");
        assert_eq!(reloaded.public_key_raw(), ring.public_key_raw());

        let err = ed25519_pkcs8_v1(&v1).unwrap_err().to_string();
        assert!(
            err.contains("unexpected Ed25519 PKCS#8 layout (48 bytes)"),
            "{err}"
        );
    }
}

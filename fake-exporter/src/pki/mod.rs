//! Test PKI generated at run time with rcgen: a CA, an intermediate CA, a rogue CA, server and
//! client identities, and the deliberately broken set Prometheus must reject.
//!
//! Nothing here is committed to the repository: "expired" and "not yet valid" certificates are
//! relative to the moment [`Pki::generate`] runs. [`Pki::write_to`] puts every certificate and
//! key into a directory under stable file names (see [`PkiFiles::names`]) so that a
//! `web-config.yml`, a `prometheus.yml` or a scenario file can refer to them.
//!
//! Every key of one [`Pki`] has the same [`KeyType`]. To keep generation fast (RSA-2048 keys
//! take 50-200 ms each) one key is shared by all server certificates and one by all client
//! certificates; each CA has its own key, so a certificate signed by the rogue CA can never
//! verify against the real one.
//!
//! ```
//! use fake_exporter::pki::{KeyType, Pki, ServerCert};
//!
//! let pki = Pki::generate(KeyType::EcdsaP256)?;
//! # let dir = tempfile::tempdir()?;
//! let files = pki.write_to(dir.path())?;
//! assert!(files.ca().is_file());
//! assert!(files.server_cert(ServerCert::Expired).is_file());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod files;
mod generate;
mod keys;
mod probe;
mod rotation;

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use time::OffsetDateTime;

pub use files::PkiFiles;
pub use probe::{issued_by, self_signed_client, ProbeCert};
pub use rotation::{Generation, RotationPki};

/// Defines a field-less enum with an `ALL` list, a kebab-case name per variant, and
/// `Display` / `FromStr` based on those names.
macro_rules! named_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident ($what:literal) {
            $( $(#[$vmeta:meta])* $variant:ident = $text:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
        }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [Self] = &[ $( Self::$variant, )+ ];

            /// The kebab-case name used by `Display`, `FromStr`, CLI flags and scenario files.
            pub const fn name(self) -> &'static str {
                match self {
                    $( Self::$variant => $text, )+
                }
            }

            /// Position of the variant in [`Self::ALL`].
            #[allow(dead_code)] // not every enum is used as an index
            const fn index(self) -> usize {
                self as usize
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.name())
            }
        }

        impl FromStr for $name {
            type Err = ParseNameError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::ALL
                    .iter()
                    .copied()
                    .find(|v| v.name() == s)
                    .ok_or_else(|| ParseNameError {
                        what: $what,
                        value: s.to_owned(),
                        expected: Self::ALL.iter().map(|v| v.name()).collect(),
                    })
            }
        }
    };
}

named_enum! {
    /// The key algorithm of every key in a [`Pki`].
    #[derive(Default)]
    pub enum KeyType ("key type") {
        /// ECDSA on NIST P-256 with SHA-256 signatures (the default).
        #[default]
        EcdsaP256 = "ecdsa-p256",
        /// Ed25519.
        Ed25519 = "ed25519",
        /// RSA with a 2048-bit modulus, PKCS#1 v1.5 SHA-256 signatures.
        Rsa2048 = "rsa2048",
    }
}

named_enum! {
    /// Which server identity to serve: the good ones and every broken variant.
    ///
    /// Unless stated otherwise a server certificate has CN `fake-exporter`, SANs DNS `localhost`,
    /// IP `127.0.0.1` and IP `::1`, the serverAuth EKU, and is signed directly by the CA.
    pub enum ServerCert ("server certificate") {
        /// Signed directly by the CA; valid now.
        Valid = "valid",
        /// Signed by the intermediate CA and served together with the intermediate.
        Chain = "chain",
        /// Signed by the CA; expired a day ago.
        Expired = "expired",
        /// Signed by the CA; valid from tomorrow.
        NotYetValid = "not-yet-valid",
        /// Signed by the CA, but for DNS `wrong-host.invalid` and IP `192.0.2.10` only.
        WrongHost = "wrong-host",
        /// Correct names, but self-signed rather than issued by the CA.
        SelfSigned = "self-signed",
        /// Correct names, but signed by the rogue CA.
        RogueCa = "rogue-ca",
        /// `CN=localhost` and no subjectAltName extension at all (Go ignores the CN).
        CnOnly = "cn-only",
        /// Signed by the intermediate CA but served without it.
        MissingIntermediate = "missing-intermediate",
    }
}

impl ServerCert {
    /// One line saying what the certificate is and how verification should end.
    pub const fn describe(self) -> &'static str {
        match self {
            Self::Valid => "leaf for localhost, 127.0.0.1 and ::1, signed by the CA: verifies",
            Self::Chain => {
                "leaf signed by the intermediate CA, served with the intermediate: verifies"
            }
            Self::Expired => "leaf signed by the CA, expired a day ago: certificate has expired",
            Self::NotYetValid => {
                "leaf signed by the CA, valid from tomorrow: certificate is not yet valid"
            }
            Self::WrongHost => {
                "leaf for wrong-host.invalid and 192.0.2.10 only: hostname/IP mismatch"
            }
            Self::SelfSigned => "self-signed leaf with the right names: unknown authority",
            Self::RogueCa => "leaf signed by the rogue CA: unknown authority",
            Self::CnOnly => "CN=localhost without any subjectAltName: relies on legacy CN",
            Self::MissingIntermediate => {
                "leaf signed by the intermediate CA, served without it: unknown authority"
            }
        }
    }
}

named_enum! {
    /// Which client identity Prometheus presents to an mTLS exporter.
    ///
    /// A client certificate has CN `prometheus`, SANs DNS `prometheus.client`, URI
    /// `spiffe://fake-exporter/prometheus` and email `prometheus@client.invalid`, and the
    /// clientAuth EKU.
    pub enum ClientCert ("client certificate") {
        /// Signed by the CA; valid now.
        Valid = "valid",
        /// Signed by the CA; expired a day ago.
        Expired = "expired",
        /// Signed by the rogue CA.
        RogueCa = "rogue-ca",
        /// Signed by the CA, but its only EKU is serverAuth.
        ServerAuthOnly = "server-auth-only",
    }
}

impl ClientCert {
    /// One line saying what the certificate is and how verification should end.
    pub const fn describe(self) -> &'static str {
        match self {
            Self::Valid => "client cert signed by the CA: accepted",
            Self::Expired => "client cert signed by the CA, expired a day ago: rejected",
            Self::RogueCa => "client cert signed by the rogue CA: rejected (unknown authority)",
            Self::ServerAuthOnly => {
                "client cert signed by the CA with only the serverAuth EKU: rejected"
            }
        }
    }
}

/// A name given to `FromStr` of [`KeyType`], [`ServerCert`] or [`ClientCert`] that is not one of
/// the kebab-case names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} `{value}`; use one of: {}", .expected.join(", "))]
pub struct ParseNameError {
    what: &'static str,
    value: String,
    expected: Vec<&'static str>,
}

/// A certificate chain and its private key, as a server or client presents them.
#[derive(Clone)]
#[non_exhaustive]
pub struct Identity {
    /// PEM certificates to present: the leaf first, then any intermediate.
    pub cert_chain_pem: String,
    /// The private key as PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`).
    pub key_pem: String,
    /// The private key as `openssl genrsa` / `openssl ecparam -genkey` write it: PKCS#1
    /// (`-----BEGIN RSA PRIVATE KEY-----`) for RSA, SEC1 with the named curve
    /// (`-----BEGIN EC PRIVATE KEY-----`) for ECDSA; `None` for Ed25519, which has no such form.
    pub key_openssl_pem: Option<String>,
    cert_chain: Vec<CertificateDer<'static>>,
    key_pkcs8_der: Vec<u8>,
}

impl Identity {
    /// The DER certificates to present, leaf first, ready for rustls.
    pub fn cert_chain(&self) -> &[CertificateDer<'static>] {
        &self.cert_chain
    }

    /// The leaf certificate.
    pub fn leaf(&self) -> &CertificateDer<'static> {
        // Invariant: `generate` builds every identity with its leaf first.
        &self.cert_chain[0]
    }

    /// The private key (PKCS#8 DER), ready for rustls.
    pub fn private_key(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key_pkcs8_der.clone()))
    }
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Identity")
            .field("certificates", &self.cert_chain.len())
            .field("key", &"[elided]")
            .finish()
    }
}

/// A complete test PKI: three CAs, every [`ServerCert`] and every [`ClientCert`].
#[derive(Clone, Debug)]
pub struct Pki {
    key_type: KeyType,
    generated_at: OffsetDateTime,
    ca: CaCert,
    ca_key: CaKey,
    intermediate: CaCert,
    rogue_ca: CaCert,
    servers: Vec<Identity>,
    clients: Vec<Identity>,
}

/// The root CA's private key (PKCS#8 PEM), kept to issue [`Pki::server_for_ips`]; never
/// written to a file and elided from `Debug`.
#[derive(Clone)]
struct CaKey(String);

impl fmt::Debug for CaKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[elided]")
    }
}

/// A CA certificate in both encodings.
#[derive(Clone, Debug)]
struct CaCert {
    pem: String,
    der: CertificateDer<'static>,
}

impl Pki {
    /// Generates every key and certificate; validity windows are relative to now.
    ///
    /// Fails only if the key type cannot be generated or encoded, which would be a bug in a
    /// dependency; the error names the key or certificate concerned.
    pub fn generate(key_type: KeyType) -> Result<Pki, PkiError> {
        generate::generate(key_type, OffsetDateTime::now_utc())
    }

    /// The key type of every key in this PKI.
    pub fn key_type(&self) -> KeyType {
        self.key_type
    }

    /// When the PKI was generated; the validity windows are relative to this instant.
    pub fn generated_at(&self) -> OffsetDateTime {
        self.generated_at
    }

    /// The root CA (PEM) that trusts every good certificate.
    pub fn ca_pem(&self) -> &str {
        &self.ca.pem
    }

    /// The root CA (DER), e.g. for a rustls `RootCertStore`.
    pub fn ca_der(&self) -> &CertificateDer<'static> {
        &self.ca.der
    }

    /// The rogue CA (PEM): trusted by nobody, it signs the `RogueCa` certificates.
    pub fn rogue_ca_pem(&self) -> &str {
        &self.rogue_ca.pem
    }

    /// The rogue CA (DER).
    pub fn rogue_ca_der(&self) -> &CertificateDer<'static> {
        &self.rogue_ca.der
    }

    /// The intermediate CA (PEM), signed by the CA with path length 0.
    pub fn intermediate_pem(&self) -> &str {
        &self.intermediate.pem
    }

    /// The intermediate CA (DER).
    pub fn intermediate_der(&self) -> &CertificateDer<'static> {
        &self.intermediate.der
    }

    /// The server identity of the given kind.
    pub fn server(&self, which: ServerCert) -> &Identity {
        // Invariant: `generate` fills `servers` in `ServerCert::ALL` order.
        &self.servers[which.index()]
    }

    /// The client identity of the given kind.
    pub fn client(&self, which: ClientCert) -> &Identity {
        // Invariant: `generate` fills `clients` in `ClientCert::ALL` order.
        &self.clients[which.index()]
    }

    /// Issues a server identity like [`ServerCert::Valid`] (DNS `localhost`, IP `127.0.0.1`
    /// and `::1`, signed by the CA, valid now) with `ips` added to its subjectAltNames,
    /// under a new key of this PKI's type: for a server that listens on another address
    /// (a fleet host in its own network namespace), so that a client trusting [`Self::ca_pem`]
    /// verifies it by IP. Each call issues a new certificate and key.
    pub fn server_for_ips(&self, ips: &[std::net::IpAddr]) -> Result<Identity, PkiError> {
        generate::server_for_ips(self, ips)
    }
}

/// Why a generated key could not be re-encoded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyEncodingError {
    /// ring's Ed25519 PKCS#8 document does not have the layout it always had.
    #[error("ring returned an unexpected Ed25519 PKCS#8 layout ({len} bytes)")]
    Ed25519Layout {
        /// Its length.
        len: usize,
    },
    /// The SEC1 structure came out with the wrong length.
    #[error("SEC1 structure is {len} bytes, expected 121 (32-byte scalar, 65-byte point)")]
    Sec1Length {
        /// Its length.
        len: usize,
    },
    /// An encoder (PKCS#1, PKCS#8, PEM) failed.
    #[error(transparent)]
    Encoder(Box<dyn std::error::Error + Send + Sync>),
}

/// Why generating or writing the test PKI failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PkiError {
    /// rcgen could not generate or load a key.
    #[error("generating the {key_type} key for {purpose}: {source}; try another key type")]
    Key {
        /// What the key is for, e.g. "the CA".
        purpose: &'static str,
        /// The key type requested.
        key_type: KeyType,
        /// The underlying error.
        #[source]
        source: rcgen::Error,
    },
    /// The RSA key could not be generated.
    #[error("generating the RSA-2048 key for {purpose}: {source}; check the OS random source")]
    RsaKey {
        /// What the key is for.
        purpose: &'static str,
        /// The underlying error.
        #[source]
        source: rsa::Error,
    },
    /// A key could not be re-encoded (PKCS#8, PKCS#1 or SEC1).
    #[error("encoding the {key_type} key for {purpose} as {format}: {source}")]
    KeyEncoding {
        /// What the key is for.
        purpose: &'static str,
        /// The key type.
        key_type: KeyType,
        /// The target format.
        format: &'static str,
        /// What went wrong.
        #[source]
        source: KeyEncodingError,
    },
    /// rcgen refused to issue a certificate.
    #[error("issuing certificate `{file}`: {source}")]
    Certificate {
        /// The stable file name of the certificate, e.g. `server-expired.crt`.
        file: &'static str,
        /// The underlying error.
        #[source]
        source: rcgen::Error,
    },
    /// A CA given by the user (to issue probe certificates) could not be read.
    #[error("reading {what}: {source}; give a PEM certificate and its PEM (PKCS#8) private key")]
    CaInput {
        /// Which input.
        what: &'static str,
        /// The underlying error.
        #[source]
        source: rcgen::Error,
    },
    /// The output directory could not be created or resolved.
    #[error("{}: cannot create the PKI directory: {source}; choose a writable directory", .path.display())]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A file could not be written.
    #[error("{}: cannot write the PKI file: {source}; check permissions and free space", .path.display())]
    WriteFile {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

#[cfg(test)]
mod tests;

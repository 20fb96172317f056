//! Issues every certificate of a [`Pki`] in dependency order: keys, CAs, then leaves.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose, SanType, SerialNumber,
};
use time::{Duration, OffsetDateTime};

use super::files::{client_files, server_files};
use super::keys::{generate_key, GeneratedKey};
use super::{CaCert, CaKey, ClientCert, Identity, KeyType, Pki, PkiError, ServerCert};

/// CN of every server leaf except [`ServerCert::CnOnly`].
const SERVER_CN: &str = "fake-exporter";
/// CN of every client leaf.
const CLIENT_CN: &str = "prometheus";
/// Organisation of every certificate, so they are easy to spot in a trust store.
const ORGANIZATION: &str = "fake-exporter test PKI";

/// Purposes of the five keys, in generation order (also used in error messages).
const KEY_PURPOSES: [&str; 5] = [
    "the CA",
    "the intermediate CA",
    "the rogue CA",
    "the server certificates",
    "the client certificates",
];

/// Validity windows relative to generation time.
#[derive(Clone, Copy)]
pub(super) enum Window {
    /// now-1d .. now+10y
    Ca,
    /// now-1h .. now+1y
    Current,
    /// now-30d .. now-1d
    Expired,
    /// now+1d .. now+30d
    NotYetValid,
}

impl Window {
    fn bounds(self, now: OffsetDateTime) -> (OffsetDateTime, OffsetDateTime) {
        match self {
            Self::Ca => (now - Duration::days(1), now + Duration::days(3652)),
            Self::Current => (now - Duration::hours(1), now + Duration::days(365)),
            Self::Expired => (now - Duration::days(30), now - Duration::days(1)),
            Self::NotYetValid => (now + Duration::days(1), now + Duration::days(30)),
        }
    }
}

/// Generates the whole PKI with validity windows relative to `now`.
pub(super) fn generate(key_type: KeyType, now: OffsetDateTime) -> Result<Pki, PkiError> {
    let [ca_key, intermediate_key, rogue_key, server_key, client_key] = generate_keys(key_type)?;
    let authorities = Authorities::issue(key_type, now, &ca_key, &intermediate_key, &rogue_key)?;
    let servers = ServerCert::ALL
        .iter()
        .map(|&which| authorities.server(which, &server_key))
        .collect::<Result<Vec<_>, _>>()?;
    let clients = ClientCert::ALL
        .iter()
        .map(|&which| authorities.client(which, &client_key))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Pki {
        key_type,
        generated_at: now,
        ca: ca_cert(&authorities.ca),
        ca_key: CaKey(ca_key.pair.serialize_pem()),
        intermediate: authorities.intermediate_cert,
        rogue_ca: ca_cert(&authorities.rogue),
        servers,
        clients,
    })
}

/// The three CAs every leaf of a [`Pki`] is issued by, and what all those leaves share.
struct Authorities<'k> {
    /// The key type of every leaf.
    key_type: KeyType,
    /// Generation time: every validity window is relative to it.
    now: OffsetDateTime,
    /// The trusted root.
    ca: CertifiedIssuer<'static, &'k KeyPair>,
    /// Signed by `ca`; issues [`ServerCert::Chain`] and [`ServerCert::MissingIntermediate`].
    intermediate: CertifiedIssuer<'static, &'k KeyPair>,
    /// `intermediate` as a [`CaCert`], appended to the chain of [`ServerCert::Chain`].
    intermediate_cert: CaCert,
    /// A root nobody trusts.
    rogue: CertifiedIssuer<'static, &'k KeyPair>,
}

impl<'k> Authorities<'k> {
    fn issue(
        key_type: KeyType,
        now: OffsetDateTime,
        ca_key: &'k GeneratedKey,
        intermediate_key: &'k GeneratedKey,
        rogue_key: &'k GeneratedKey,
    ) -> Result<Self, PkiError> {
        let ca = issue_ca(
            "fake-exporter test CA",
            BasicConstraints::Unconstrained,
            now,
            &ca_key.pair,
            None,
            "ca.crt",
        )?;
        let intermediate = issue_ca(
            "fake-exporter test intermediate CA",
            BasicConstraints::Constrained(0),
            now,
            &intermediate_key.pair,
            Some(&ca),
            "intermediate.crt",
        )?;
        let rogue = issue_ca(
            "fake-exporter rogue CA",
            BasicConstraints::Unconstrained,
            now,
            &rogue_key.pair,
            None,
            "rogue-ca.crt",
        )?;
        let intermediate_cert = ca_cert(&intermediate);
        Ok(Self {
            key_type,
            now,
            ca,
            intermediate,
            intermediate_cert,
            rogue,
        })
    }

    /// Issues one server leaf (with the intermediate after it for [`ServerCert::Chain`]).
    fn server(&self, which: ServerCert, key: &GeneratedKey) -> Result<Identity, PkiError> {
        let file = server_files(which).cert;
        let params = self.server_params(which);
        let (leaf, chain_tail) = match which {
            ServerCert::Chain => (
                sign(&params, &key.pair, &self.intermediate, file)?,
                vec![self.intermediate_cert.clone()],
            ),
            ServerCert::MissingIntermediate => (
                sign(&params, &key.pair, &self.intermediate, file)?,
                Vec::new(),
            ),
            ServerCert::RogueCa => (sign(&params, &key.pair, &self.rogue, file)?, Vec::new()),
            ServerCert::SelfSigned => {
                let cert = params
                    .self_signed(&key.pair)
                    .map_err(|source| PkiError::Certificate { file, source })?;
                (cert, Vec::new())
            }
            ServerCert::Valid
            | ServerCert::Expired
            | ServerCert::NotYetValid
            | ServerCert::WrongHost
            | ServerCert::CnOnly => (sign(&params, &key.pair, &self.ca, file)?, Vec::new()),
        };
        Ok(identity(leaf, chain_tail, key))
    }

    /// The fields of one server leaf: the good names and a current window, except where the
    /// variant's flaw is its dates or its names.
    fn server_params(&self, which: ServerCert) -> CertificateParams {
        let window = match which {
            ServerCert::Expired => Window::Expired,
            ServerCert::NotYetValid => Window::NotYetValid,
            _ => Window::Current,
        };
        let mut params = leaf_params(
            self.key_type,
            SERVER_CN,
            good_server_sans(),
            ExtendedKeyUsagePurpose::ServerAuth,
            window,
            self.now,
        );
        match which {
            ServerCert::WrongHost => {
                params.subject_alt_names = vec![
                    SanType::DnsName(ia5("wrong-host.invalid")),
                    // TEST-NET-1 (RFC 5737): only ever written into the certificate.
                    SanType::IpAddress(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10))),
                ];
            }
            ServerCert::CnOnly => {
                params.subject_alt_names.clear();
                params.distinguished_name = distinguished_name("localhost");
            }
            _ => {}
        }
        params
    }

    /// Issues one client leaf.
    fn client(&self, which: ClientCert, key: &GeneratedKey) -> Result<Identity, PkiError> {
        let file = client_files(which).cert;
        let params = leaf_params(
            self.key_type,
            CLIENT_CN,
            vec![
                SanType::DnsName(ia5("prometheus.client")),
                SanType::URI(ia5("spiffe://fake-exporter/prometheus")),
                SanType::Rfc822Name(ia5("prometheus@client.invalid")),
            ],
            match which {
                ClientCert::ServerAuthOnly => ExtendedKeyUsagePurpose::ServerAuth,
                _ => ExtendedKeyUsagePurpose::ClientAuth,
            },
            match which {
                ClientCert::Expired => Window::Expired,
                _ => Window::Current,
            },
            self.now,
        );
        let issuer = match which {
            ClientCert::RogueCa => &self.rogue,
            ClientCert::Valid | ClientCert::Expired | ClientCert::ServerAuthOnly => &self.ca,
        };
        let leaf = sign(&params, &key.pair, issuer, file)?;
        Ok(identity(leaf, Vec::new(), key))
    }
}

/// The names of every good server leaf: DNS `localhost`, IP `127.0.0.1` and IP `::1`.
fn good_server_sans() -> Vec<SanType> {
    vec![
        SanType::DnsName(ia5("localhost")),
        SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)),
        SanType::IpAddress(IpAddr::V6(Ipv6Addr::LOCALHOST)),
    ]
}

/// A leaf like [`ServerCert::Valid`] with `ips` added to its names, signed by `pki`'s CA
/// (reloaded from its PEM certificate and key), under a new key of the PKI's key type.
pub(super) fn server_for_ips(pki: &Pki, ips: &[IpAddr]) -> Result<Identity, PkiError> {
    const FILE: &str = "server for extra IPs";
    let ca_key = KeyPair::from_pem(&pki.ca_key.0).map_err(|source| PkiError::CaInput {
        what: "the CA private key kept by the PKI",
        source,
    })?;
    let issuer =
        Issuer::from_ca_cert_pem(&pki.ca.pem, &ca_key).map_err(|source| PkiError::CaInput {
            what: "the CA certificate kept by the PKI",
            source,
        })?;
    let key = generate_key(pki.key_type, "a server certificate for extra IPs")?;
    let mut sans = good_server_sans();
    sans.extend(ips.iter().map(|ip| SanType::IpAddress(*ip)));
    let params = leaf_params(
        pki.key_type,
        SERVER_CN,
        sans,
        ExtendedKeyUsagePurpose::ServerAuth,
        Window::Current,
        OffsetDateTime::now_utc(),
    );
    let leaf = sign(&params, &key.pair, &issuer, FILE)?;
    Ok(identity(leaf, Vec::new(), &key))
}

/// Generates the five keys. RSA keys are generated on parallel threads: each takes tens to
/// hundreds of milliseconds, the others microseconds.
fn generate_keys(key_type: KeyType) -> Result<[GeneratedKey; 5], PkiError> {
    let results: Vec<Result<GeneratedKey, PkiError>> = match key_type {
        KeyType::Rsa2048 => std::thread::scope(|scope| {
            let handles: Vec<_> = KEY_PURPOSES
                .iter()
                .map(|&purpose| scope.spawn(move || generate_key(key_type, purpose)))
                .collect();
            handles
                .into_iter()
                .map(|handle| {
                    handle
                        .join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
                })
                .collect()
        }),
        KeyType::EcdsaP256 | KeyType::Ed25519 => KEY_PURPOSES
            .iter()
            .map(|&purpose| generate_key(key_type, purpose))
            .collect(),
    };
    let keys = results.into_iter().collect::<Result<Vec<_>, _>>()?;
    let Ok(keys) = <[GeneratedKey; 5]>::try_from(keys) else {
        unreachable!("one key is generated per entry of KEY_PURPOSES, which has 5");
    };
    Ok(keys)
}

/// Issues a CA certificate, self-signed when `parent` is `None`.
pub(super) fn issue_ca<'k>(
    common_name: &str,
    constraints: BasicConstraints,
    now: OffsetDateTime,
    key: &'k KeyPair,
    parent: Option<&CertifiedIssuer<'_, &KeyPair>>,
    file: &'static str,
) -> Result<CertifiedIssuer<'static, &'k KeyPair>, PkiError> {
    let mut params = CertificateParams::default();
    params.distinguished_name = distinguished_name(common_name);
    params.is_ca = IsCa::Ca(constraints);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.serial_number = Some(random_serial());
    (params.not_before, params.not_after) = Window::Ca.bounds(now);
    params.use_authority_key_identifier_extension = parent.is_some();

    let issued = match parent {
        None => CertifiedIssuer::self_signed(params, key),
        Some(parent) => CertifiedIssuer::signed_by(params, key, parent),
    };
    issued.map_err(|source| PkiError::Certificate { file, source })
}

/// Parameters shared by every leaf certificate.
pub(super) fn leaf_params(
    key_type: KeyType,
    common_name: &str,
    sans: Vec<SanType>,
    eku: ExtendedKeyUsagePurpose,
    window: Window,
    now: OffsetDateTime,
) -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name = distinguished_name(common_name);
    params.subject_alt_names = sans;
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = match key_type {
        KeyType::Rsa2048 => vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ],
        KeyType::EcdsaP256 | KeyType::Ed25519 => vec![KeyUsagePurpose::DigitalSignature],
    };
    params.extended_key_usages = vec![eku];
    params.serial_number = Some(random_serial());
    (params.not_before, params.not_after) = window.bounds(now);
    params.use_authority_key_identifier_extension = true;
    params
}

pub(super) fn sign(
    params: &CertificateParams,
    key: &KeyPair,
    issuer: &Issuer<'_, &KeyPair>,
    file: &'static str,
) -> Result<rcgen::Certificate, PkiError> {
    params
        .signed_by(key, issuer)
        .map_err(|source| PkiError::Certificate { file, source })
}

pub(super) fn identity(
    leaf: rcgen::Certificate,
    chain_tail: Vec<CaCert>,
    key: &GeneratedKey,
) -> Identity {
    let mut cert_chain_pem = leaf.pem();
    let mut cert_chain = vec![leaf.der().clone()];
    for ca in chain_tail {
        cert_chain_pem.push_str(&ca.pem);
        cert_chain.push(ca.der);
    }
    Identity {
        cert_chain_pem,
        key_pem: key.pkcs8_pem.clone(),
        key_openssl_pem: key.openssl_pem.clone(),
        cert_chain,
        key_pkcs8_der: key.pkcs8_der.clone(),
    }
}

pub(super) fn ca_cert(issuer: &CertifiedIssuer<'_, &KeyPair>) -> CaCert {
    CaCert {
        pem: issuer.pem(),
        der: issuer.der().clone(),
    }
}

fn distinguished_name(common_name: &str) -> DistinguishedName {
    let mut name = DistinguishedName::new();
    name.push(DnType::OrganizationName, ORGANIZATION);
    name.push(DnType::CommonName, common_name);
    name
}

/// A positive 128-bit serial number with the top bits set so it always encodes as 16 bytes.
fn random_serial() -> SerialNumber {
    let mut bytes: [u8; 16] = rand::random();
    bytes[0] = (bytes[0] & 0x7f) | 0x40;
    SerialNumber::from_slice(&bytes)
}

/// Converts one of this module's constant names into an IA5 string.
pub(super) fn ia5(name: &'static str) -> rcgen::string::Ia5String {
    rcgen::string::Ia5String::try_from(name)
        .expect("invariant: every name passed here is a constant ASCII string")
}

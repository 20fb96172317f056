//! rustls server configuration from a [`TlsServerConfig`], built per connection the way the
//! toolkit's `GetConfigForClient` rebuilds its `tls.Config` (so certificate rotation works
//! without a restart), with Go `crypto/tls` semantics where rustls allows them.
//!
//! Configs rustls cannot serve (TLS 1.0/1.1, CBC suites) go to the OpenSSL listener in
//! [`legacy`] (feature `legacy-tls`, on by default); without that feature they get start-up
//! warnings. rustls has no P-521. Client-certificate alerts follow Go's choice for the
//! `--compat` profile ([`alerts`]); `certificate_required` is never sent over TLS 1.2.

pub(crate) mod alerts;
mod cache;
#[cfg(feature = "legacy-tls")]
pub(crate) mod legacy;
mod pem;
mod reason;
mod verify;

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use rustls::crypto::{ring, CryptoProvider, SupportedKxGroup};
use rustls::server::{ProducesTickets, ServerSessionMemoryCache, StoresServerSessions};
use rustls::{AlertDescription, ServerConfig, SupportedCipherSuite};

pub(crate) use cache::PlanCache;
pub(crate) use reason::handshake_failure_reason;

use crate::web_config::{
    ClientAuth, ClientAuthType, Curve, InvalidClientAuthType, TlsServerConfig, TlsVersion,
    WebConfig,
};

/// Why a TLS configuration could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// The web config has no `tls_server_config` (any more) but the listener serves TLS.
    #[error("tls_server_config is missing from the web config, but this listener was started with TLS; restore it (the protocol of a listener is fixed at start)")]
    NotConfigured,
    /// Neither `cert_file` nor `cert` is set.
    #[error("{}: tls_server_config: missing one of cert or cert_file; set cert_file to the server certificate (PEM)", .path.display())]
    MissingCert {
        /// The config file.
        path: PathBuf,
    },
    /// Neither `key_file` nor `key` is set.
    #[error("{}: tls_server_config: missing one of key or key_file; set key_file to the server's private key (PEM)", .path.display())]
    MissingKey {
        /// The config file.
        path: PathBuf,
    },
    /// A file named by the config could not be read.
    #[error("{}: tls_server_config.{key}: failed to read {}: {source}; fix the path (relative paths are resolved against the config file's directory)", .path.display(), .file.display())]
    ReadFile {
        /// The config file.
        path: PathBuf,
        /// The key that names the file.
        key: &'static str,
        /// The file.
        file: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The certificate input holds no CERTIFICATE block.
    #[error("{}: tls_server_config: {cert} holds no CERTIFICATE PEM block{}", .path.display(), if *.switched { " but does hold a private key; cert and key may have been switched" } else { "; point it at a PEM certificate" })]
    NoCertificate {
        /// The config file.
        path: PathBuf,
        /// `cert_file <path>` or `cert (inline)`.
        cert: String,
        /// A private key was found where the certificate should be.
        switched: bool,
    },
    /// The key input holds no usable private key.
    #[error("{}: tls_server_config: {key}: {reason}; use a PKCS#8, PKCS#1 (RSA) or SEC1 (EC) PEM key", .path.display())]
    BadKey {
        /// The config file.
        path: PathBuf,
        /// `key_file <path>` or `key (inline)`.
        key: String,
        /// What went wrong.
        reason: String,
    },
    /// Certificate and key do not belong together.
    #[error("{}: tls_server_config: private key does not match public key: {key} is not the key of the certificate in {cert}; use the key the certificate was issued for", .path.display())]
    KeyMismatch {
        /// The config file.
        path: PathBuf,
        /// `cert_file <path>` or `cert (inline)`.
        cert: String,
        /// `key_file <path>` or `key (inline)`.
        key: String,
    },
    /// TLS 1.2 only, and none of the configured suites exists in rustls.
    #[error("{}: tls_server_config.cipher_suites: {names} not supported by rustls (no CBC suites) and max_version is TLS12; add an AEAD suite such as TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 or allow TLS13", .path.display())]
    UnsupportedCipherSuites {
        /// The config file.
        path: PathBuf,
        /// The configured names.
        names: String,
    },
    /// `client_auth_type` is not one of the toolkit's names.
    #[error("{}: tls_server_config.client_auth_type: {source}", .path.display())]
    InvalidClientAuthType {
        /// The config file.
        path: PathBuf,
        /// The rejected name.
        source: InvalidClientAuthType,
    },
    /// `client_ca_file` / `client_ca` set while no client certificate is ever requested.
    #[error("{}: tls_server_config.{key} is set but client_auth_type is NoClientCert (client CA's have been configured without a Client Auth Policy); set client_auth_type to RequireAndVerifyClientCert (or remove {key})", .path.display())]
    ClientCaWithoutClientAuth {
        /// The config file.
        path: PathBuf,
        /// `client_ca_file` or `client_ca`.
        key: &'static str,
    },
    /// The config is accepted but no handshake can ever succeed (e.g. `min_version` above
    /// `max_version`); an exporter starts anyway and fails every handshake, as the toolkit does.
    #[error("{}: tls_server_config: {reason}; no TLS handshake can succeed", .path.display())]
    NeverHandshakes {
        /// The config file.
        path: PathBuf,
        /// Why.
        reason: &'static str,
    },
    /// OpenSSL (the legacy TLS listener) refused part of the configuration.
    #[cfg(feature = "legacy-tls")]
    #[error("{}: tls_server_config: OpenSSL (legacy TLS listener, used for TLS10/TLS11 and CBC suites) rejected the {what}: {source}", .path.display())]
    OpenSsl {
        /// The config file.
        path: PathBuf,
        /// Which part (`cert`, `key`, `cipher_suites`, ...).
        what: String,
        /// The OpenSSL errors.
        source: openssl::error::ErrorStack,
    },
    /// rustls refused the configuration.
    #[error("{}: tls_server_config: rustls rejected the configuration: {source}", .path.display())]
    Rustls {
        /// The config file.
        path: PathBuf,
        /// The rustls error.
        source: rustls::Error,
    },
}

/// What to do with the next connection.
#[derive(Debug, Clone)]
pub(crate) enum HandshakePlan {
    /// Handshake with this configuration.
    Serve {
        /// The rustls configuration (ALPN, versions, suites, client auth already set).
        config: Arc<ServerConfig>,
        /// Close the connection right after the handshake when the client sent no
        /// certificate. Set when `client_allowed_sans` is configured with
        /// `RequestClientCert` or `VerifyClientCertIfGiven`: the toolkit's SAN callback then
        /// indexes `rawCerts[0]` of an empty list and panics inside the handshake; net/http
        /// recovers and closes the connection without an alert. The observable result is a
        /// connection closed right after (TLS 1.3) or during (TLS 1.2) the handshake.
        close_if_no_client_cert: bool,
    },
    /// The config is accepted but can never handshake (e.g. `min_version` > `max_version`):
    /// read the ClientHello, answer with this alert ([`fatal_alert_record`]) and close, as Go does.
    Reject {
        /// The alert to send.
        alert: AlertDescription,
        /// Why, for logs.
        reason: &'static str,
    },
}

/// The 7 bytes of a plaintext fatal TLS alert record, to write on the raw TCP stream after
/// reading a ClientHello. Go uses record version TLS 1.0 (0x0301) before a version is agreed.
pub(crate) fn fatal_alert_record(alert: AlertDescription) -> [u8; 7] {
    [0x15, 0x03, 0x01, 0x00, 0x02, 0x02, u8::from(alert)]
}

/// Go's server preference order for TLS 1.2 suites (with AES hardware), restricted to the
/// suites rustls implements. Go ignores the order of `cipher_suites` and of the client.
fn tls12_preference() -> [(u16, SupportedCipherSuite); 6] {
    use ring::cipher_suite as cs;
    [
        (0xc02b, cs::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256),
        (0xc02f, cs::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256),
        (0xc02c, cs::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384),
        (0xc030, cs::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384),
        (0xcca9, cs::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256),
        (0xcca8, cs::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256),
    ]
}

fn tls13_suites() -> [SupportedCipherSuite; 3] {
    use ring::cipher_suite as cs;
    [
        cs::TLS13_AES_128_GCM_SHA256,
        cs::TLS13_AES_256_GCM_SHA384,
        cs::TLS13_CHACHA20_POLY1305_SHA256,
    ]
}

fn kx_group(curve: Curve) -> Option<&'static dyn SupportedKxGroup> {
    match curve {
        Curve::X25519 => Some(ring::kx_group::X25519),
        Curve::P256 => Some(ring::kx_group::SECP256R1),
        Curve::P384 => Some(ring::kx_group::SECP384R1),
        Curve::P521 => None,
    }
}

/// The parts of a TLS config that do not depend on files.
struct Negotiation {
    provider: CryptoProvider,
    versions: Vec<&'static rustls::SupportedProtocolVersion>,
    reject: Option<(AlertDescription, &'static str)>,
    warnings: Vec<String>,
}

/// Versions, suites and groups for `tls`, with the warnings for what rustls cannot serve
/// (in that order: versions, suites, curves).
fn negotiation(tls: &TlsServerConfig) -> Result<Negotiation, TlsError> {
    let mut warnings = Vec::new();
    let reject = version_reject(tls, &mut warnings);
    let (versions, cipher_suites) = versions_and_suites(tls, reject.is_some(), &mut warnings)?;
    let kx_groups = kx_groups(tls, &mut warnings);
    let provider = CryptoProvider {
        cipher_suites,
        kx_groups,
        ..ring::default_provider()
    };
    Ok(Negotiation {
        provider,
        versions,
        reject,
        warnings,
    })
}

/// The alert every handshake gets when no version in `min_version..=max_version` is one
/// rustls speaks; warns about that and about TLS10/TLS11 it cannot offer.
fn version_reject(
    tls: &TlsServerConfig,
    warnings: &mut Vec<String>,
) -> Option<(AlertDescription, &'static str)> {
    let origin = tls.origin.display();
    let (min, max) = (tls.min_version, tls.max_version);
    if min > max {
        warnings.push(format!(
            "{origin}: tls_server_config.min_version {min} is above max_version {max}; exporter-toolkit \
             starts anyway and every handshake fails with protocol_version; lower min_version"
        ));
        return Some((
            AlertDescription::ProtocolVersion,
            "min_version is above max_version: no TLS version can be negotiated",
        ));
    }
    if max < TlsVersion::Tls12 {
        warnings.push(format!(
            "{origin}: tls_server_config.max_version {max} is below TLS12; rustls only speaks TLS12 \
             and TLS13, so every handshake fails with protocol_version (a Go exporter would speak {max}); \
             set max_version to TLS12 or TLS13"
        ));
        return Some((
            AlertDescription::ProtocolVersion,
            "max_version is below TLS12, which rustls cannot speak",
        ));
    }
    if min < TlsVersion::Tls12 {
        warnings.push(format!(
            "{origin}: tls_server_config.min_version {min}: rustls cannot offer TLS10/TLS11, so clients \
             limited to them fail where a Go exporter would accept them; TLS12 is the real minimum here"
        ));
    }
    None
}

/// The protocol versions and the suites (TLS 1.2 in Go's order, then TLS 1.3) within
/// `min_version..=max_version`. TLS 1.2 alone with none of its configured suites in rustls
/// is an error, unless every handshake is `rejected` anyway.
fn versions_and_suites(
    tls: &TlsServerConfig,
    rejected: bool,
    warnings: &mut Vec<String>,
) -> Result<
    (
        Vec<&'static rustls::SupportedProtocolVersion>,
        Vec<SupportedCipherSuite>,
    ),
    TlsError,
> {
    let (min, max) = (tls.min_version, tls.max_version);
    let wants = |v: TlsVersion| min <= v && v <= max;
    let (mut tls12, unsupported) = tls12_suites(tls, warnings);
    let mut versions = Vec::new();
    if wants(TlsVersion::Tls12) {
        if tls12.is_empty() {
            if !wants(TlsVersion::Tls13) && !rejected {
                return Err(TlsError::UnsupportedCipherSuites {
                    path: tls.origin.clone(),
                    names: unsupported.join(", "),
                });
            }
        } else {
            versions.push(&rustls::version::TLS12);
        }
    } else {
        tls12.clear();
    }
    let mut cipher_suites = tls12;
    if wants(TlsVersion::Tls13) {
        versions.push(&rustls::version::TLS13);
        cipher_suites.extend(tls13_suites());
    }
    Ok((versions, cipher_suites))
}

/// The configured TLS 1.2 suites rustls has (all of them when none is configured), in Go's
/// order, and the names of those it lacks (warned about).
fn tls12_suites(
    tls: &TlsServerConfig,
    warnings: &mut Vec<String>,
) -> (Vec<SupportedCipherSuite>, Vec<&'static str>) {
    let configured12: Vec<_> = tls.cipher_suites.iter().filter(|c| !c.is_tls13()).collect();
    let tls12: Vec<SupportedCipherSuite> = tls12_preference()
        .into_iter()
        .filter(|(id, _)| configured12.is_empty() || configured12.iter().any(|c| c.id == *id))
        .map(|(_, suite)| suite)
        .collect();
    let unsupported: Vec<_> = configured12
        .iter()
        .filter(|c| !tls12_preference().iter().any(|(id, _)| *id == c.id))
        .map(|c| c.name)
        .collect();
    if !unsupported.is_empty() {
        warnings.push(format!(
            "{}: tls_server_config.cipher_suites: {} not supported by rustls (no CBC suites); \
             ignored, clients offering only those fail where a Go exporter would accept them",
            tls.origin.display(),
            unsupported.join(", ")
        ));
    }
    (tls12, unsupported)
}

/// The key-exchange groups of `curve_preferences` that ring has (rustls' defaults when none
/// is configured), warning about P-521.
fn kx_groups(
    tls: &TlsServerConfig,
    warnings: &mut Vec<String>,
) -> Vec<&'static dyn SupportedKxGroup> {
    if tls.curve_preferences.is_empty() {
        return ring::default_provider().kx_groups;
    }
    let origin = tls.origin.display();
    let groups: Vec<_> = tls
        .curve_preferences
        .iter()
        .filter_map(|c| kx_group(*c))
        .collect();
    if groups.is_empty() {
        // Only CurveP521, which ring lacks. Go clients (Prometheus) offer X25519, P-256
        // and P-384 as well, so they connect to a Go exporter configured like this; serving
        // rustls' default groups gives them the same outcome. Only a client limited to
        // P-521 sees the difference.
        warnings.push(format!(
            "{origin}: tls_server_config.curve_preferences: only CurveP521, which rustls does not \
             support; served with X25519, CurveP256 and CurveP384 instead (Go clients such as \
             Prometheus offer those too, so they connect as they would to a Go exporter)"
        ));
        return ring::default_provider().kx_groups;
    }
    if tls.curve_preferences.contains(&Curve::P521) {
        warnings.push(format!(
            "{origin}: tls_server_config.curve_preferences: CurveP521 is not supported by rustls; \
             ignored, clients offering only P-521 fail where a Go exporter would accept them"
        ));
    }
    groups
}

/// A ticket producer and a session cache.
type SessionState = (Arc<dyn ProducesTickets>, Arc<dyn StoresServerSessions>);

/// Session resumption state shared by every config built in this process, like Go's
/// per-server ticket keys (a config per connection would otherwise never resume).
fn session_state() -> Option<SessionState> {
    static STATE: OnceLock<Option<SessionState>> = OnceLock::new();
    STATE
        .get_or_init(|| {
            let ticketer = ring::Ticketer::new().ok()?;
            let cache: Arc<dyn StoresServerSessions> = ServerSessionMemoryCache::new(1024);
            Some((ticketer, cache))
        })
        .clone()
}

/// The rustls configuration a listener serving `config` would use for its next connection,
/// built as exporter-toolkit builds its `tls.Config` (same checks, same order), with the
/// files read now. `Ok(None)` when the config does not turn TLS on. For benches and tools
/// that run their own accept loop; an exporter rebuilds it when a file changes.
pub fn server_config(config: &WebConfig) -> Result<Option<Arc<ServerConfig>>, TlsError> {
    let Some(tls) = &config.tls_server_config else {
        return Ok(None);
    };
    match build_server_config(tls, config.http_server_config.http2)? {
        HandshakePlan::Serve { config, .. } => Ok(Some(config)),
        HandshakePlan::Reject { reason, .. } => Err(TlsError::NeverHandshakes {
            path: tls.origin.clone(),
            reason,
        }),
    }
}

/// Builds the rustls configuration for the next connection. Reads cert, key and CA files
/// NOW (called for every new connection, so rotation works without restart). Checks run in
/// the toolkit's order: cert/key presence, cert/key load, curves/suites, CA file,
/// `client_auth_type`, CA without policy.
pub(crate) fn build_server_config(
    tls: &TlsServerConfig,
    http2: bool,
) -> Result<HandshakePlan, TlsError> {
    build_server_config_insecure(tls, http2, InsecureTls::default())
}

/// Deliberate weaknesses of client-certificate checking, for conformance mutants only.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct InsecureTls {
    /// Accept any client certificate, verified or not.
    pub(crate) skip_client_chain_verification: bool,
    /// Verify the chain but ignore the validity dates.
    pub(crate) ignore_client_cert_expiry: bool,
    /// Ignore `client_allowed_sans`.
    pub(crate) ignore_client_allowed_sans: bool,
    /// Not a weakness: which Go version's alerts a refused client certificate gets
    /// (`--compat`); carried here because it is decided per listener like the mutants.
    pub(crate) alerts: alerts::AlertProfile,
}

/// [`build_server_config`] with deliberate weaknesses (conformance mutants).
pub(crate) fn build_server_config_insecure(
    tls: &TlsServerConfig,
    http2: bool,
    insecure: InsecureTls,
) -> Result<HandshakePlan, TlsError> {
    if tls.cert.is_none() {
        return Err(TlsError::MissingCert {
            path: tls.origin.clone(),
        });
    }
    if tls.key.is_none() {
        return Err(TlsError::MissingKey {
            path: tls.origin.clone(),
        });
    }
    let negotiation = negotiation(tls)?;
    let provider = Arc::new(negotiation.provider);
    let certified_key = pem::load_certified_key(tls, &provider)?;
    let roots = pem::load_client_cas(tls)?;
    let policy = tls
        .client_auth_type
        .policy()
        .map_err(|invalid| TlsError::InvalidClientAuthType {
            path: tls.origin.clone(),
            source: invalid.clone(),
        })?
        .canonical();
    if let (Some(key), ClientAuthType::NoClientCert) = (tls.client_ca_key(), policy) {
        return Err(TlsError::ClientCaWithoutClientAuth {
            path: tls.origin.clone(),
            key,
        });
    }
    if let Some((alert, reason)) = negotiation.reject {
        return Ok(HandshakePlan::Reject { alert, reason });
    }
    let rustls_error = |source| TlsError::Rustls {
        path: tls.origin.clone(),
        source,
    };
    let verifier = verify::GoClientVerifier::new(
        policy,
        roots,
        tls.client_allowed_sans.clone(),
        provider.clone(),
    )
    .map_err(rustls_error)?
    .insecure(insecure);
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&negotiation.versions)
        .map_err(rustls_error)?
        .with_client_cert_verifier(Arc::new(verifier))
        .with_cert_resolver(Arc::new(rustls::sign::SingleCertAndKey::from(
            certified_key,
        )));
    // With `http2: false` exporter-toolkit's per-connection config has no NextProtos at
    // all (node_exporter 1.5 negotiates no ALPN, even with an h2-only client): same here.
    config.alpn_protocols = if http2 {
        vec![b"h2".to_vec(), b"http/1.1".to_vec()]
    } else {
        Vec::new()
    };
    config.ignore_client_order = true;
    if let Some((ticketer, cache)) = session_state() {
        config.ticketer = ticketer;
        config.session_storage = cache;
    }
    Ok(HandshakePlan::Serve {
        config: Arc::new(config),
        close_if_no_client_cert: closes_without_client_cert(tls, policy, insecure),
    })
}

/// Whether a connection whose client sent no certificate is closed right after the
/// handshake: `client_allowed_sans` with a policy that lets a client send none (see
/// [`HandshakePlan::Serve`]). On both listeners, rustls and legacy.
pub(crate) fn closes_without_client_cert(
    tls: &TlsServerConfig,
    policy: ClientAuthType,
    insecure: InsecureTls,
) -> bool {
    tls.client_allowed_sans.is_some()
        && !insecure.ignore_client_allowed_sans
        && matches!(
            policy,
            ClientAuthType::RequestClientCert | ClientAuthType::VerifyClientCertIfGiven
        )
}

/// Start-up checks for the TLS section: everything [`build_server_config`] checks, then
/// the warnings for what starts but behaves differently or can never work.
pub(crate) fn check_tls(tls: &TlsServerConfig, http2: bool) -> Result<Vec<String>, TlsError> {
    let mut warnings = match legacy_check(tls, http2) {
        Some(checked) => checked?,
        None => {
            build_server_config(tls, http2)?;
            negotiation(tls)?.warnings
        }
    };
    let origin = tls.origin.display();
    let policy = tls.client_auth_type.policy().unwrap_or_default();
    if tls.client_auth_type == ClientAuth::Set(ClientAuthType::RequireClientCert) {
        warnings.push(format!(
            "{origin}: tls_server_config.client_auth_type RequireClientCert is an alias of \
             RequireAnyClientCert: client certificates are required but NOT verified; use \
             RequireAndVerifyClientCert to verify them"
        ));
    }
    if policy.verifies_cert() && tls.client_ca.is_none() {
        warnings.push(format!(
            "{origin}: tls_server_config.client_auth_type {policy} verifies client certificates but \
             neither client_ca_file nor client_ca is set; Go would use the system roots, \
             fake-exporter rejects every client certificate (unknown_ca); set client_ca_file"
        ));
    }
    if !tls.prefer_server_cipher_suites {
        warnings.push(format!(
            "{origin}: tls_server_config.prefer_server_cipher_suites: false has no effect (Go >= 1.18 \
             always uses the server's order, and so does fake-exporter)"
        ));
    }
    Ok(warnings)
}

/// The legacy listener's start-up check, when `tls` needs it (TLS 1.0/1.1, CBC suites).
#[cfg(feature = "legacy-tls")]
fn legacy_check(tls: &TlsServerConfig, http2: bool) -> Option<Result<Vec<String>, TlsError>> {
    legacy::wanted(tls).then(|| legacy::check(tls, http2))
}

/// Without the `legacy-tls` feature every config goes to rustls (which warns about what it
/// cannot speak).
#[cfg(not(feature = "legacy-tls"))]
fn legacy_check(_: &TlsServerConfig, _: bool) -> Option<Result<Vec<String>, TlsError>> {
    None
}

/// The checks [`build_server_config`] makes on files and policy (cert/key presence and
/// loading, CA file, `client_auth_type`, a CA without a policy), in the same order and with
/// the same errors, for a config the legacy listener serves.
#[cfg(feature = "legacy-tls")]
pub(crate) fn check_files_and_policy(tls: &TlsServerConfig) -> Result<(), TlsError> {
    let mut modern = tls.clone();
    modern.min_version = TlsVersion::Tls12;
    modern.max_version = TlsVersion::Tls13;
    modern.cipher_suites.clear();
    modern.curve_preferences.clear();
    build_server_config(&modern, true).map(drop)
}

#[cfg(test)]
mod tests;

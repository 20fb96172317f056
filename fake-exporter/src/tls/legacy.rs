//! The legacy TLS listener: OpenSSL (Debian's OpenSSL 3 through the `openssl` and
//! `tokio-openssl` crates) for the web-configs rustls cannot serve — `min_version: TLS10` /
//! `TLS11`, or `cipher_suites` naming CBC suites. Every other config stays on rustls.
//!
//! Only the TLS acceptor differs: the connection is then served by the same HTTP and auth
//! layers. The same web-config semantics hold: the config and the certificate, key and CA
//! files are re-read for every connection (a broken config aborts the handshake with
//! `internal_error`), the client-auth policies, `client_ca` (a pinned leaf is trusted, as
//! Go's `x509.Verify` does), `client_allowed_sans`, ALPN `h2,http/1.1` unless `http2: false`
//! (then no ALPN at all), the curve list, Go's server-side suite preference.
//!
//! The conformance mutants (`insecure.*`) weaken client-certificate checks here as on rustls.
//!
//! Go details reproduced here:
//! - OpenSSL 3 refuses TLS 1.0/1.1 and SHA-1 signatures at its default security level;
//!   Go allows them when asked: `@SECLEVEL=0`.
//! - Go's HTTP/2 server refuses HTTP/2 after a successful handshake when the version is
//!   below TLS 1.2 or the suite is on RFC 7540's prohibited list (`http2.isBadCipher`): it
//!   writes one GOAWAY frame (last stream 0, `INADEQUATE_SECURITY`, debug text `TLS version
//!   too low` / `Prohibited TLS 1.2 Cipher Suite: c013`), sends close_notify and closes. Same
//!   here (see [`h2_refusal`]).
//! - Alerts for a refused client certificate: Go picks its own alert (see
//!   [`super::alerts`]); OpenSSL picks others. Over TLS 1.0-1.2 a handshake alert is a
//!   plaintext record, so [`AlertRewrite`] replaces its description with Go's. Over TLS 1.3
//!   the alert is encrypted and OpenSSL's own is sent (`unknown_ca`, `certificate_expired`,
//!   `certificate_required`, `bad_certificate`, `certificate_unknown` for a SAN refusal).

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use openssl::error::ErrorStack;
use openssl::pkey::{PKey, Private};
use openssl::ssl::{
    select_next_proto, AlpnError, Ssl, SslContext, SslContextBuilder, SslMethod, SslOptions,
    SslVerifyMode, SslVersion,
};
use openssl::x509::store::X509StoreBuilder;
use openssl::x509::verify::X509VerifyFlags;
use openssl::x509::{X509StoreContextRef, X509};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio_openssl::SslStream;

use super::alerts::{AlertProfile, ClientCertFailure};
use super::TlsError;
use crate::stats::TlsSessionInfo;
use crate::web_config::{ClientAuthType, Curve, PemSource, TlsServerConfig, TlsVersion};

/// Whether `tls` needs the legacy listener: it allows TLS 1.0/1.1, or it names a TLS 1.2
/// suite rustls does not have (CBC).
pub(crate) fn wanted(tls: &TlsServerConfig) -> bool {
    let legacy_version = tls.min_version < TlsVersion::Tls12 && tls.min_version <= tls.max_version;
    let legacy_suite = tls
        .cipher_suites
        .iter()
        .any(|c| !c.is_tls13() && openssl_suite(c.id).is_some_and(|s| !s.aead));
    legacy_version || legacy_suite
}

/// A TLS 1.0-1.2 suite of Go's, as OpenSSL names it.
struct Suite {
    id: u16,
    openssl: &'static str,
    /// AEAD with ECDHE: allowed by HTTP/2 (RFC 7540 appendix A lists every other suite).
    aead: bool,
}

/// Go's server preference order (crypto/tls `cipherSuitesPreferenceOrder`, with AES
/// hardware), restricted to the suites exporter-toolkit accepts, then the `TLS_RSA_*` suites
/// Go 1.19 enables by default.
const GO_ORDER: [Suite; 14] = [
    Suite::new(0xc02b, "ECDHE-ECDSA-AES128-GCM-SHA256", true),
    Suite::new(0xc02f, "ECDHE-RSA-AES128-GCM-SHA256", true),
    Suite::new(0xc02c, "ECDHE-ECDSA-AES256-GCM-SHA384", true),
    Suite::new(0xc030, "ECDHE-RSA-AES256-GCM-SHA384", true),
    Suite::new(0xcca9, "ECDHE-ECDSA-CHACHA20-POLY1305", true),
    Suite::new(0xcca8, "ECDHE-RSA-CHACHA20-POLY1305", true),
    Suite::new(0xc009, "ECDHE-ECDSA-AES128-SHA", false),
    Suite::new(0xc013, "ECDHE-RSA-AES128-SHA", false),
    Suite::new(0xc00a, "ECDHE-ECDSA-AES256-SHA", false),
    Suite::new(0xc014, "ECDHE-RSA-AES256-SHA", false),
    Suite::new(0x009c, "AES128-GCM-SHA256", false),
    Suite::new(0x009d, "AES256-GCM-SHA384", false),
    Suite::new(0x002f, "AES128-SHA", false),
    Suite::new(0x0035, "AES256-SHA", false),
];

impl Suite {
    const fn new(id: u16, openssl: &'static str, aead: bool) -> Self {
        Self { id, openssl, aead }
    }
}

fn openssl_suite(id: u16) -> Option<&'static Suite> {
    GO_ORDER.iter().find(|s| s.id == id)
}

/// The OpenSSL cipher list for `tls`: the configured TLS 1.2 suites (Go's default set when
/// none), in Go's preference order (Go ignores the order of the list), at security level 0.
fn cipher_list(tls: &TlsServerConfig) -> String {
    let configured: Vec<u16> = tls
        .cipher_suites
        .iter()
        .filter(|c| !c.is_tls13())
        .map(|c| c.id)
        .collect();
    let names: Vec<&str> = GO_ORDER
        .iter()
        .filter(|s| configured.is_empty() || configured.contains(&s.id))
        .map(|s| s.openssl)
        .collect();
    format!("{}:@SECLEVEL=0", names.join(":"))
}

fn openssl_version(v: TlsVersion) -> SslVersion {
    match v {
        TlsVersion::Tls10 => SslVersion::TLS1,
        TlsVersion::Tls11 => SslVersion::TLS1_1,
        TlsVersion::Tls12 => SslVersion::TLS1_2,
        TlsVersion::Tls13 => SslVersion::TLS1_3,
    }
}

fn group_name(curve: Curve) -> &'static str {
    match curve {
        Curve::X25519 => "X25519",
        Curve::P256 => "P-256",
        Curve::P384 => "P-384",
        Curve::P521 => "P-521",
    }
}

fn openssl_error(tls: &TlsServerConfig, what: &str, e: openssl::error::ErrorStack) -> TlsError {
    TlsError::OpenSsl {
        path: tls.origin.clone(),
        what: what.to_owned(),
        source: e,
    }
}

fn read_pem(
    tls: &TlsServerConfig,
    source: &PemSource,
    key: &'static str,
) -> Result<Vec<u8>, TlsError> {
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

/// What one connection's handshake needs, built from the config read for it.
pub(crate) struct LegacyPlan {
    context: SslContext,
    policy: ClientAuthType,
    requires_cert: bool,
    close_if_no_client_cert: bool,
    http2: bool,
    alerts: AlertProfile,
    /// Set by the verify callback: how the client's certificate failed.
    failure: Arc<Mutex<Option<ClientCertFailure>>>,
}

/// Builds the OpenSSL context for the next connection, after the same checks, in the same
/// order, as the rustls path (`check` runs them: cert/key presence and loading, CA file,
/// `client_auth_type`, a CA without a policy). Reads every file now.
pub(crate) fn plan(
    tls: &TlsServerConfig,
    http2: bool,
    insecure: super::InsecureTls,
) -> Result<LegacyPlan, TlsError> {
    super::check_files_and_policy(tls)?;
    let policy = tls
        .client_auth_type
        .policy()
        .unwrap_or_default()
        .canonical();
    let (chain, key) = load_identity(tls)?;
    let mut b = SslContextBuilder::new(SslMethod::tls_server())
        .map_err(|e| openssl_error(tls, "context", e))?;
    set_protocol(&mut b, tls)?;
    set_identity(&mut b, tls, chain, &key)?;
    if http2 {
        b.set_alpn_select_callback(|_, client| {
            select_next_proto(b"\x02h2\x08http/1.1", client).ok_or(AlpnError::NOACK)
        });
    }
    let failure = Arc::new(Mutex::new(None));
    if policy != ClientAuthType::NoClientCert {
        verify_client_certs(&mut b, tls, policy, insecure, failure.clone())?;
    }
    Ok(LegacyPlan {
        context: b.build(),
        policy,
        requires_cert: policy.requires_cert(),
        close_if_no_client_cert: super::closes_without_client_cert(tls, policy, insecure),
        http2,
        alerts: insecure.alerts,
        failure,
    })
}

/// `map_err` for an OpenSSL call that sets `what`.
fn rejected<'a>(
    tls: &'a TlsServerConfig,
    what: &'static str,
) -> impl Fn(ErrorStack) -> TlsError + 'a {
    move |e| openssl_error(tls, what, e)
}

/// Reads and parses the certificate chain and the private key.
fn load_identity(tls: &TlsServerConfig) -> Result<(Vec<X509>, PKey<Private>), TlsError> {
    let (Some(cert), Some(key)) = (&tls.cert, &tls.key) else {
        return Err(TlsError::MissingCert {
            path: tls.origin.clone(),
        });
    };
    let cert_pem = read_pem(tls, cert, "cert_file")?;
    let key_pem = read_pem(tls, key, "key_file")?;
    let chain = X509::stack_from_pem(&cert_pem).map_err(rejected(tls, "cert"))?;
    let key = PKey::private_key_from_pem(&key_pem).map_err(rejected(tls, "key"))?;
    Ok((chain, key))
}

/// Versions, suites (Go's order, security level 0), options and groups.
fn set_protocol(b: &mut SslContextBuilder, tls: &TlsServerConfig) -> Result<(), TlsError> {
    b.set_security_level(0);
    b.set_min_proto_version(Some(openssl_version(tls.min_version)))
        .map_err(rejected(tls, "min_version"))?;
    b.set_max_proto_version(Some(openssl_version(tls.max_version)))
        .map_err(rejected(tls, "max_version"))?;
    b.set_cipher_list(&cipher_list(tls))
        .map_err(rejected(tls, "cipher_suites"))?;
    b.set_options(
        SslOptions::CIPHER_SERVER_PREFERENCE
            | SslOptions::NO_RENEGOTIATION
            | SslOptions::NO_COMPRESSION,
    );
    let mut curves: Vec<&str> = if tls.curve_preferences.is_empty() {
        vec!["X25519", "P-256", "P-384", "P-521"]
    } else {
        tls.curve_preferences
            .iter()
            .map(|c| group_name(*c))
            .collect()
    };
    // Go takes a curve named twice; OpenSSL refuses a groups list with a duplicate.
    let mut seen = std::collections::HashSet::new();
    curves.retain(|c| seen.insert(*c));
    b.set_groups_list(&curves.join(":"))
        .map_err(rejected(tls, "curve_preferences"))?;
    Ok(())
}

/// The leaf, the rest of the chain after it, and the key (checked against the leaf).
fn set_identity(
    b: &mut SslContextBuilder,
    tls: &TlsServerConfig,
    chain: Vec<X509>,
    key: &PKey<Private>,
) -> Result<(), TlsError> {
    let mut certs = chain.into_iter();
    let leaf = certs.next().ok_or_else(|| TlsError::NoCertificate {
        path: tls.origin.clone(),
        cert: "cert".to_owned(),
        switched: false,
    })?;
    b.set_certificate(&leaf).map_err(rejected(tls, "cert"))?;
    for extra in certs {
        b.add_extra_chain_cert(extra)
            .map_err(rejected(tls, "cert"))?;
    }
    b.set_private_key(key).map_err(rejected(tls, "key"))?;
    b.check_private_key().map_err(rejected(tls, "key"))?;
    Ok(())
}

/// Asks for client certificates under `policy` and checks them as Go does (see [`verify`]):
/// the client CAs (a pinned leaf is trusted), the mode, the mutants' weaknesses. The verify
/// callback records why a certificate failed in `failure`.
fn verify_client_certs(
    b: &mut SslContextBuilder,
    tls: &TlsServerConfig,
    policy: ClientAuthType,
    insecure: super::InsecureTls,
    failure: Arc<Mutex<Option<ClientCertFailure>>>,
) -> Result<(), TlsError> {
    let err = || rejected(tls, "client_ca");
    let mut store = X509StoreBuilder::new().map_err(err())?;
    if let Some(ca) = &tls.client_ca {
        let pem = read_pem(tls, ca, "client_ca_file")?;
        for cert in X509::stack_from_pem(&pem).map_err(err())? {
            store.add_cert(cert).map_err(err())?;
        }
    }
    // Go's x509.Verify trusts a certificate found in the root pool itself.
    store
        .set_flags(X509VerifyFlags::PARTIAL_CHAIN)
        .map_err(err())?;
    b.set_verify_cert_store(store.build()).map_err(err())?;
    let mut mode = SslVerifyMode::PEER;
    if policy.requires_cert() {
        mode |= SslVerifyMode::FAIL_IF_NO_PEER_CERT;
    }
    let verifies = policy.verifies_cert() && !insecure.skip_client_chain_verification;
    let ignore_expiry = insecure.ignore_client_cert_expiry;
    let allowed = tls
        .client_allowed_sans
        .clone()
        .filter(|_| !insecure.ignore_client_allowed_sans);
    b.set_verify_callback(mode, move |preverify_ok, ctx| {
        verify(
            preverify_ok,
            ctx,
            verifies,
            ignore_expiry,
            allowed.as_deref(),
            &failure,
        )
    });
    Ok(())
}

/// The verify callback: Go's checks (chain only for the verifying policies, then
/// `client_allowed_sans` on the leaf), recording why a certificate failed.
fn verify(
    preverify_ok: bool,
    ctx: &mut X509StoreContextRef,
    verifies: bool,
    ignore_expiry: bool,
    allowed: Option<&[String]>,
    slot: &Mutex<Option<ClientCertFailure>>,
) -> bool {
    let record = |f: ClientCertFailure| {
        if let Ok(mut s) = slot.lock() {
            s.get_or_insert(f);
        }
    };
    if verifies && !preverify_ok {
        let failure = ClientCertFailure::from_openssl(ctx.error().as_raw());
        // Mutant `insecure-ignore-client-cert-expiry`: dates are not checked.
        if !(ignore_expiry && failure == ClientCertFailure::Expired) {
            record(failure);
            return false;
        }
    }
    if ctx.error_depth() != 0 {
        return true;
    }
    let Some(allowed) = allowed else {
        return true;
    };
    let names = ctx
        .current_cert()
        .and_then(|c| c.to_der().ok())
        .map(|der| super::verify::subject_alt_names_der(&der))
        .unwrap_or_default();
    if names.iter().any(|n| allowed.contains(n)) {
        true
    } else {
        record(ClientCertFailure::SanNotAllowed);
        false
    }
}

/// Start-up check of a legacy config: builds it once.
pub(crate) fn check(tls: &TlsServerConfig, http2: bool) -> Result<Vec<String>, TlsError> {
    plan(tls, http2, super::InsecureTls::default())?;
    let mut warnings = vec![format!(
        "{}: tls_server_config (min_version {}, {} cipher suite(s)) needs TLS 1.0/1.1 or CBC \
         suites, which rustls lacks: served by fake-exporter's legacy TLS listener (OpenSSL \
         at security level 0, as Go allows them)",
        tls.origin.display(),
        tls.min_version,
        tls.cipher_suites.len()
    )];
    if tls.min_version > tls.max_version {
        warnings.push(format!(
            "{}: tls_server_config.min_version {} is above max_version {}; exporter-toolkit \
             starts anyway and every handshake fails with protocol_version; lower min_version",
            tls.origin.display(),
            tls.min_version,
            tls.max_version
        ));
    }
    Ok(warnings)
}

/// A finished legacy handshake.
pub(crate) struct Accepted {
    /// The TLS stream, ready for HTTP.
    pub(crate) stream: SslStream<AlertRewrite<TcpStream>>,
    /// What was negotiated.
    pub(crate) info: TlsSessionInfo,
    /// Go's HTTP/2 server would refuse this connection (h2 over TLS < 1.2 or a prohibited
    /// suite): the GOAWAY debug text.
    pub(crate) h2_refusal: Option<String>,
    /// Close now (exporter-toolkit's SAN check panics without a client certificate).
    pub(crate) close_without_client_cert: bool,
}

/// Runs the handshake on `tcp` with `plan`. On failure, the stable reason label.
pub(crate) async fn accept(tcp: TcpStream, plan: LegacyPlan) -> Result<Accepted, &'static str> {
    let ssl = Ssl::new(&plan.context).map_err(|_| "other")?;
    let rewrite = AlertRewrite::new(tcp, plan.clone_rules());
    let mut stream = SslStream::new(ssl, rewrite).map_err(|_| "other")?;
    let result = Pin::new(&mut stream).accept().await;
    let failure = plan.failure.lock().ok().and_then(|f| *f);
    if let Err(e) = result {
        return Err(failure_reason(&e, failure));
    }
    let ssl = stream.ssl();
    let version = match ssl.version_str() {
        "TLSv1" => "TLSv1_0",
        "TLSv1.1" => "TLSv1_1",
        "TLSv1.2" => "TLSv1_2",
        "TLSv1.3" => "TLSv1_3",
        other => other,
    };
    let cipher = ssl.current_cipher();
    let suite_id = cipher.map(|c| (c.protocol_id()[0] as u16) << 8 | c.protocol_id()[1] as u16);
    let alpn = ssl
        .selected_alpn_protocol()
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .unwrap_or_default();
    let info = TlsSessionInfo {
        version: version.to_owned(),
        cipher_suite: cipher
            .and_then(|c| c.standard_name())
            .unwrap_or_default()
            .to_owned(),
        kx_group: String::new(),
        alpn: alpn.clone(),
        client_cert: ssl.peer_certificate().is_some(),
    };
    let h2_refusal = (plan.http2 && alpn == "h2")
        .then(|| h2_refusal(version, suite_id))
        .flatten();
    Ok(Accepted {
        close_without_client_cert: plan.close_if_no_client_cert && !info.client_cert,
        stream,
        info,
        h2_refusal,
    })
}

/// Go's `http2.serverConn` check after the handshake: the GOAWAY debug text when HTTP/2
/// must be refused on this connection.
fn h2_refusal(version: &str, suite: Option<u16>) -> Option<String> {
    if matches!(version, "TLSv1_0" | "TLSv1_1") {
        return Some("TLS version too low".to_owned());
    }
    if version == "TLSv1_2" {
        let suite = suite?;
        if !openssl_suite(suite).is_some_and(|s| s.aead) {
            return Some(format!("Prohibited TLS 1.2 Cipher Suite: {suite:x}"));
        }
    }
    None
}

/// Writes Go's GOAWAY (last stream 0, `INADEQUATE_SECURITY`, `debug`), sends close_notify
/// and closes, as Go's `serverConn.rejectConn` does.
pub(crate) async fn refuse_h2(mut stream: SslStream<AlertRewrite<TcpStream>>, debug: &str) {
    let frame = goaway_frame(debug);
    let _ = stream.write_all(&frame).await;
    let _ = stream.flush().await;
    let _ = stream.shutdown().await;
}

/// An HTTP/2 GOAWAY frame on stream 0: last stream id 0, error code 0xc
/// (`INADEQUATE_SECURITY`), `debug` as debug data.
fn goaway_frame(debug: &str) -> Vec<u8> {
    let len = 8 + debug.len();
    let mut frame = Vec::with_capacity(9 + len);
    frame.extend_from_slice(&(len as u32).to_be_bytes()[1..]);
    frame.push(0x7); // GOAWAY
    frame.push(0); // flags
    frame.extend_from_slice(&0u32.to_be_bytes()); // stream 0
    frame.extend_from_slice(&0u32.to_be_bytes()); // last stream id
    frame.extend_from_slice(&0xcu32.to_be_bytes()); // INADEQUATE_SECURITY
    frame.extend_from_slice(debug.as_bytes());
    frame
}

/// The self-stats label of a failed handshake, in the rustls path's vocabulary where one
/// exists (`peer_sent_alert` without the alert's name: OpenSSL's text does not carry it
/// reliably).
fn failure_reason(e: &openssl::ssl::Error, failure: Option<ClientCertFailure>) -> &'static str {
    if let Some(f) = failure {
        return f.reason();
    }
    let text = e.to_string();
    if text.contains("peer did not return a certificate") {
        return "no_client_cert";
    }
    if text.contains("unsupported protocol") || text.contains("version too low") {
        return "protocol_version";
    }
    if text.contains("no shared cipher") {
        return "no_shared_cipher";
    }
    if text.contains("no suitable key share") || text.contains("no shared group") {
        return "no_shared_curve";
    }
    if text.contains("wrong version number") || text.contains("http request") {
        return "not_tls";
    }
    if text.contains("alert") {
        return "peer_sent_alert";
    }
    match e.io_error().map(io::Error::kind) {
        Some(io::ErrorKind::UnexpectedEof) => "eof",
        Some(_) => "io",
        None if e.code() == openssl::ssl::ErrorCode::SYSCALL => "eof",
        None => "other",
    }
}

impl LegacyPlan {
    fn clone_rules(&self) -> RewriteRules {
        RewriteRules {
            failure: self.failure.clone(),
            requires_cert: self.requires_cert,
            policy: self.policy,
            alerts: self.alerts,
        }
    }
}

/// What [`AlertRewrite`] needs to pick Go's alert.
#[derive(Clone)]
pub(crate) struct RewriteRules {
    failure: Arc<Mutex<Option<ClientCertFailure>>>,
    requires_cert: bool,
    policy: ClientAuthType,
    alerts: AlertProfile,
}

/// The TCP stream under OpenSSL. Watches what the server writes: when OpenSSL sends a
/// plaintext fatal alert (TLS 1.0-1.2 handshake) after refusing the client's certificate,
/// its description is replaced by the alert Go would send. Everything else passes as is.
pub(crate) struct AlertRewrite<S> {
    inner: S,
    rules: RewriteRules,
    /// The server has sent its first flight (so a certificate was requested, if ever).
    flight_sent: bool,
}

impl<S> AlertRewrite<S> {
    fn new(inner: S, rules: RewriteRules) -> Self {
        Self {
            inner,
            rules,
            flight_sent: false,
        }
    }

    /// The alert to send instead of `alert`, if any.
    fn replacement(&self, alert: u8) -> Option<u8> {
        let failure = self.rules.failure.lock().ok().and_then(|f| *f);
        match failure {
            Some(f) => Some(self.rules.alerts.client_cert_alert(f, false)),
            // OpenSSL's "peer did not return a certificate": certificate_required (116) or
            // handshake_failure (40), after our first flight.
            None if self.rules.requires_cert
                && self.flight_sent
                && self.rules.policy != ClientAuthType::NoClientCert
                && matches!(alert, 40 | 116) =>
            {
                Some(
                    self.rules
                        .alerts
                        .client_cert_alert(ClientCertFailure::Missing, false),
                )
            }
            None => None,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for AlertRewrite<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for AlertRewrite<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        // A record: type, version (2), length (2). A plaintext alert has length 2
        // (level, description); an encrypted one is longer (or type 0x17 in TLS 1.3).
        if buf.len() == 7 && buf[0] == 0x15 && buf[3] == 0 && buf[4] == 2 && buf[5] == 2 {
            if let Some(alert) = self.replacement(buf[6]) {
                let mut copy = [0u8; 7];
                copy.copy_from_slice(buf);
                copy[6] = alert;
                return Pin::new(&mut self.inner).poll_write(cx, &copy);
            }
        }
        if buf.first() == Some(&0x16) {
            self.flight_sent = true;
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn goaway_frame_is_go_bytes() {
        let frame = goaway_frame("TLS version too low");
        assert_eq!(&frame[..9], &[0, 0, 27, 7, 0, 0, 0, 0, 0]);
        assert_eq!(&frame[9..17], &[0, 0, 0, 0, 0, 0, 0, 0xc]);
        assert_eq!(&frame[17..], b"TLS version too low");
    }

    #[test]
    fn h2_is_refused_below_tls12_and_for_prohibited_suites() {
        assert_eq!(
            h2_refusal("TLSv1_0", Some(0xc009)).as_deref(),
            Some("TLS version too low")
        );
        assert_eq!(
            h2_refusal("TLSv1_1", Some(0xc013)).as_deref(),
            Some("TLS version too low")
        );
        assert_eq!(
            h2_refusal("TLSv1_2", Some(0xc013)).as_deref(),
            Some("Prohibited TLS 1.2 Cipher Suite: c013")
        );
        assert_eq!(h2_refusal("TLSv1_2", Some(0xc02b)), None);
        assert_eq!(h2_refusal("TLSv1_3", Some(0x1301)), None);
    }

    #[test]
    fn cipher_list_keeps_go_order_and_lowers_the_security_level() {
        let mut tls = TlsServerConfig::new("web-config.yml");
        tls.cipher_suites = vec![
            crate::web_config::CipherSuite::GO_SECURE[5], // ECDHE_RSA_AES_128_CBC_SHA
            crate::web_config::CipherSuite::GO_SECURE[3], // ECDHE_ECDSA_AES_128_CBC_SHA
        ];
        assert_eq!(
            cipher_list(&tls),
            "ECDHE-ECDSA-AES128-SHA:ECDHE-RSA-AES128-SHA:@SECLEVEL=0"
        );
        assert!(wanted(&tls));
        tls.cipher_suites = vec![crate::web_config::CipherSuite::GO_SECURE[7]];
        assert!(!wanted(&tls), "a GCM-only list stays on rustls");
        tls.min_version = TlsVersion::Tls11;
        assert!(wanted(&tls));
    }
}

//! `lastError` → stable error class.
//!
//! Prometheus reports a failed scrape as one line of Go error text. Its wording depends on the
//! Go version Prometheus was built with (Go ≥ 1.20 prefixes certificate errors with
//! `tls: failed to verify certificate: `), on the exporter's TLS stack (Go, rustls and OpenSSL
//! send different alerts) and on timing: when a Go TLS 1.3 server rejects a client certificate,
//! the client has usually finished its side of the handshake already and reports whichever
//! comes first of `remote error: tls: bad certificate`, `write: broken pipe` or
//! `write: connection reset by peer` (all three were captured from one job within a minute).
//!
//! [`classify`] maps that text to an [`ErrorClass`] using the text first and the
//! [`CaseContext`] (what the case set up) only to settle what the text alone cannot: a reset
//! against an mTLS target is a client-certificate rejection, a reset or `EOF` from a TLS port
//! scraped over `http` is a scheme mismatch. Callers keep the raw string beside the class.
//!
//! The wording tables live in the tests below: strings captured from Prometheus 2.42.0 (go1.19)
//! and strings derived from Go ≥ 1.20 and Prometheus 3.x sources, marked as such.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

mod last_error;

pub use last_error::LastError;

/// A stable class of scrape outcome. `Display` and [`FromStr`] use the snake_case label
/// (`unknown_authority`, `http_status_500`) that reports and scenario files carry.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum ErrorClass {
    /// The target is up: no error.
    #[default]
    None,
    /// HTTP 401: missing or wrong credentials.
    Unauthorized,
    /// HTTP 403.
    Forbidden,
    /// The target's certificate does not chain to the job's CA (or the system roots).
    UnknownAuthority,
    /// The target's certificate has expired.
    CertExpired,
    /// The target's certificate is not valid yet.
    CertNotYetValid,
    /// The certificate is valid for other names or addresses than the one scraped.
    HostnameMismatch,
    /// Scraped by IP address, but the certificate carries no IP SANs.
    NoIpSans,
    /// The certificate has only a Common Name, which Go no longer checks.
    LegacyCommonName,
    /// The target's certificate has no usage allowing server authentication.
    IncompatibleKeyUsage,
    /// The job presented a client certificate and the target refused it.
    ClientCertRejected,
    /// The target demands a client certificate and the job presented none.
    ClientCertRequired,
    /// The connection was reset or closed before a response, for no reason the context explains.
    ConnectionReset,
    /// Plain HTTP sent to a TLS port (the job's scheme is `http`, the target speaks TLS).
    HttpToHttps,
    /// TLS sent to a plain HTTP port (the job's scheme is `https`, the target speaks plain HTTP).
    HttpsToHttp,
    /// No TLS version acceptable to both sides.
    TlsVersion,
    /// The handshake failed for another negotiated reason (no common cipher, curve or ALPN).
    TlsHandshakeFailure,
    /// The server aborted the handshake with `internal_error` (e.g. its TLS config is broken).
    TlsInternalError,
    /// The handshake succeeded, then the server refused HTTP/2 on the connection: Go's
    /// HTTP/2 server sends GOAWAY `INADEQUATE_SECURITY` and closes when the version is below
    /// TLS 1.2 or the suite is prohibited by RFC 7540 (CBC). Prometheus reports it, run to
    /// run, as `connection error: PROTOCOL_ERROR`, `write: broken pipe` or `write:
    /// connection reset by peer`.
    Http2Refused,
    /// The scrape did not finish within `scrape_timeout`.
    Timeout,
    /// Nothing listens on the target's port.
    Refused,
    /// The host name did not resolve.
    Unresolvable,
    /// Missing or unsupported Content-Type (Prometheus 3.x without `fallback_scrape_protocol`).
    BadContentType,
    /// The body exceeded `body_size_limit`.
    BodyTooLarge,
    /// `sample_limit`, `label_limit` or another per-scrape limit was exceeded.
    LimitExceeded,
    /// The body is not in a format Prometheus can parse.
    BadExposition,
    /// A `password_file` or `credentials_file` could not be read by Prometheus.
    CredentialsFile,
    /// The OAuth2 token endpoint refused the token request (wrong client id or secret:
    /// 401 `invalid_client`; a scope it does not grant: 400 `invalid_scope`; ...).
    Oauth2TokenRefused,
    /// The OAuth2 token endpoint's certificate failed verification (`oauth2.tls_config`).
    Oauth2TokenUntrusted,
    /// The OAuth2 token endpoint could not be reached (refused, timed out, TLS failure
    /// other than verification).
    Oauth2TokenUnreachable,
    /// The forward proxy refused the job's proxy credentials (407).
    ProxyAuthRequired,
    /// The forward proxy could not reach the target (502 / 504 to CONNECT).
    ProxyTargetUnreachable,
    /// The forward proxy itself could not be reached (`proxyconnect tcp: ...`).
    ProxyUnreachable,
    /// Another non-2xx HTTP status.
    HttpStatus(u16),
    /// The job is absent from `/api/v1/targets`: Prometheus dropped its scrape pool.
    /// [`classify`] never returns it; the verdict code does when the job is missing.
    JobMissing,
    /// Anything else; look at the raw string.
    Other,
}

/// Every class without a payload, with its label and a plain-words cause with where to look;
/// the single source for `Display`, `FromStr` and [`ErrorClass::explanation`].
const LABELS: [(ErrorClass, &str, &str); 35] = [
    (
        ErrorClass::None,
        "none",
        "the scrape succeeded",
    ),
    (
        ErrorClass::Unauthorized,
        "unauthorized",
        "the exporter wants credentials: check the job's basic_auth / authorization against the exporter's basic_auth_users (bcrypt hashes) or tokens",
    ),
    (
        ErrorClass::Forbidden,
        "forbidden",
        "the exporter (or a proxy) refuses this client even with credentials: check its access rules",
    ),
    (
        ErrorClass::UnknownAuthority,
        "unknown_authority",
        "the exporter's certificate is not signed by the job's tls_config.ca_file: point ca_file at the CA that signed it",
    ),
    (
        ErrorClass::CertExpired,
        "cert_expired",
        "the exporter's certificate has expired: renew it (cert_file is re-read at each new connection)",
    ),
    (
        ErrorClass::CertNotYetValid,
        "cert_not_yet_valid",
        "the exporter's certificate is not valid yet: check its notBefore and both clocks",
    ),
    (
        ErrorClass::HostnameMismatch,
        "hostname_mismatch",
        "the certificate does not name the host scraped: add a SAN for it, or set tls_config.server_name",
    ),
    (
        ErrorClass::NoIpSans,
        "no_ip_sans",
        "scraped by IP address but the certificate has no IP SAN: add IP:127.0.0.1 to it, or scrape a DNS name / set server_name",
    ),
    (
        ErrorClass::LegacyCommonName,
        "legacy_common_name",
        "the certificate has only a Common Name, which Go ignores: put the name in a subjectAltName",
    ),
    (
        ErrorClass::IncompatibleKeyUsage,
        "incompatible_key_usage",
        "the certificate is not for server authentication (extendedKeyUsage): issue one with serverAuth",
    ),
    (
        ErrorClass::ClientCertRejected,
        "client_cert_rejected",
        "the exporter refused the job's client certificate: check tls_config.cert_file against the exporter's client_ca_file and client_allowed_sans",
    ),
    (
        ErrorClass::ClientCertRequired,
        "client_cert_required",
        "the exporter requires a client certificate and the job sent none: add tls_config.cert_file and key_file",
    ),
    (
        ErrorClass::ConnectionReset,
        "connection_reset",
        "the exporter closed the connection before answering: look at its log",
    ),
    (
        ErrorClass::HttpToHttps,
        "http_to_https",
        "plain HTTP sent to a TLS port: set `scheme: https` on the job",
    ),
    (
        ErrorClass::HttpsToHttp,
        "https_to_http",
        "TLS sent to a plain HTTP port: use `scheme: http`, or enable TLS on the exporter",
    ),
    (
        ErrorClass::TlsVersion,
        "tls_version",
        "no TLS version both sides accept: compare tls_config min_version/max_version with the exporter's",
    ),
    (
        ErrorClass::TlsHandshakeFailure,
        "tls_handshake_failure",
        "the TLS handshake failed (no common cipher suite, curve or protocol): compare both TLS configs",
    ),
    (
        ErrorClass::TlsInternalError,
        "tls_internal_error",
        "the exporter aborted the handshake: its TLS config or certificate files are broken (it re-reads them per connection)",
    ),
    (
        ErrorClass::Http2Refused,
        "http2_refused",
        "the exporter refused HTTP/2 after the handshake (TLS below 1.2, or a CBC suite): set `enable_http2: false` on the job, `http_server_config.http2: false` on the exporter, or allow TLS 1.2 with an AEAD suite",
    ),
    (
        ErrorClass::Timeout,
        "timeout",
        "no answer within scrape_timeout: the exporter is slow, or something holds the connection",
    ),
    (
        ErrorClass::Refused,
        "refused",
        "nothing listens on the target's port: is the exporter running, on that address?",
    ),
    (
        ErrorClass::Unresolvable,
        "unresolvable",
        "the target's host name does not resolve",
    ),
    (
        ErrorClass::BadContentType,
        "bad_content_type",
        "the exporter sends no or an unknown Content-Type (Prometheus 3.x fails it unless fallback_scrape_protocol is set)",
    ),
    (
        ErrorClass::BodyTooLarge,
        "body_too_large",
        "the body exceeded the job's body_size_limit",
    ),
    (
        ErrorClass::LimitExceeded,
        "limit_exceeded",
        "a per-scrape limit (sample_limit, label_limit, ...) was exceeded",
    ),
    (
        ErrorClass::BadExposition,
        "bad_exposition",
        "the body is not in a format Prometheus can parse",
    ),
    (
        ErrorClass::CredentialsFile,
        "credentials_file",
        "Prometheus cannot read the job's password_file or credentials_file: check the path and its permissions",
    ),
    (
        ErrorClass::Oauth2TokenRefused,
        "oauth2_token_refused",
        "the OAuth2 token endpoint refused the token request: check oauth2.client_id / client_secret and scopes against what the endpoint grants (the raw error quotes its answer)",
    ),
    (
        ErrorClass::Oauth2TokenUntrusted,
        "oauth2_token_untrusted",
        "the OAuth2 token endpoint's certificate is not trusted: set oauth2.tls_config.ca_file (the job's own tls_config does not apply to the token request)",
    ),
    (
        ErrorClass::Oauth2TokenUnreachable,
        "oauth2_token_unreachable",
        "the OAuth2 token endpoint could not be reached: check oauth2.token_url and that the endpoint runs",
    ),
    (
        ErrorClass::ProxyAuthRequired,
        "proxy_auth_required",
        "the forward proxy wants credentials: send them with proxy_connect_header (CONNECT, https targets only) or as user:password in proxy_url (both forms)",
    ),
    (
        ErrorClass::ProxyTargetUnreachable,
        "proxy_target_unreachable",
        "the forward proxy could not reach the target (502/504): is the exporter running, and reachable from the proxy?",
    ),
    (
        ErrorClass::ProxyUnreachable,
        "proxy_unreachable",
        "the forward proxy in proxy_url could not be reached: check its address and that it runs",
    ),
    (
        ErrorClass::JobMissing,
        "job_missing",
        "Prometheus dropped the job (error creating the scrape pool): a file the job names is missing or unusable; see the reason",
    ),
    (
        ErrorClass::Other,
        "other",
        "an error this classifier does not know: read the raw lastError",
    ),
];

impl fmt::Display for ErrorClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Self::HttpStatus(code) = self {
            return write!(f, "http_status_{code}");
        }
        let label = LABELS
            .iter()
            .find(|(class, ..)| class == self)
            .map_or("other", |(_, label, _)| label);
        f.write_str(label)
    }
}

/// A label that names no [`ErrorClass`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown error class `{label}`; expected one of {}, or http_status_<code>", LABELS.map(|(_, l, _)| l).join(", "))]
pub struct UnknownClass {
    /// The label as given.
    pub label: String,
}

impl FromStr for ErrorClass {
    type Err = UnknownClass;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some(code) = s.strip_prefix("http_status_") {
            if let Ok(code @ 100..=599) = code.parse::<u16>() {
                return Ok(Self::HttpStatus(code));
            }
        }
        LABELS
            .iter()
            .find(|(_, label, _)| *label == s)
            .map(|(class, ..)| *class)
            .ok_or_else(|| UnknownClass {
                label: s.to_owned(),
            })
    }
}

impl ErrorClass {
    /// The likely cause in plain words, and where to look.
    pub fn explanation(&self) -> &'static str {
        if let Self::HttpStatus(_) = self {
            return "the exporter answered with this HTTP status instead of metrics";
        }
        LABELS
            .iter()
            .find(|(class, ..)| class == self)
            .map_or("read the raw lastError", |(.., why)| why)
    }
}

impl Serialize for ErrorClass {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ErrorClass {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// What a case set up, used to settle strings that mean different things in different setups.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct CaseContext {
    /// The job scrapes with `scheme: https`.
    pub scheme_https: bool,
    /// The target's port speaks TLS.
    pub target_tls: bool,
    /// The target demands a client certificate (`RequireAnyClientCert` or
    /// `RequireAndVerifyClientCert`).
    pub target_requires_client_cert: bool,
    /// The job's `tls_config` has `cert_file`/`key_file`.
    pub job_presents_client_cert: bool,
    /// Both sides allow HTTP/2 (the job's `enable_http2`, the exporter's
    /// `http_server_config.http2`) but the only TLS versions both allow are below 1.2, or the
    /// exporter offers only CBC suites in TLS 1.2: a Go exporter completes the handshake,
    /// then refuses HTTP/2 ([`ErrorClass::Http2Refused`]).
    pub h2_refused_after_handshake: bool,
}

impl CaseContext {
    /// Plain HTTP on both sides.
    pub const fn plain() -> Self {
        Self {
            scheme_https: false,
            target_tls: false,
            target_requires_client_cert: false,
            job_presents_client_cert: false,
            h2_refused_after_handshake: false,
        }
    }

    /// HTTPS on both sides, no client certificates.
    pub const fn tls() -> Self {
        Self {
            scheme_https: true,
            target_tls: true,
            ..Self::plain()
        }
    }

    /// HTTPS to a target that demands a client certificate; `job_presents_client_cert` says
    /// whether the job sends one.
    pub const fn mtls(job_presents_client_cert: bool) -> Self {
        Self {
            target_requires_client_cert: true,
            job_presents_client_cert,
            ..Self::tls()
        }
    }

    /// The class of a TLS alert that concerns the client's certificate.
    fn client_cert_class(&self) -> ErrorClass {
        if self.job_presents_client_cert {
            ErrorClass::ClientCertRejected
        } else {
            ErrorClass::ClientCertRequired
        }
    }
}

/// Classifies Prometheus' `lastError` text for a target. An empty string is [`ErrorClass::None`].
pub fn classify(raw_last_error: &str, ctx: &CaseContext) -> ErrorClass {
    let raw = raw_last_error.trim();
    if raw.is_empty() {
        return ErrorClass::None;
    }
    // In this order: who answered decides before how the connection ended.
    third_party(raw)
        .or_else(|| http_answer(raw, ctx))
        .or_else(|| first_rule(raw, BEFORE_TLS_ALERTS))
        .or_else(|| tls_alert(raw, ctx))
        .or_else(|| first_rule(raw, LOCAL_TLS_REFUSALS))
        .or_else(|| http2_refused(raw, ctx))
        .or_else(|| network(raw, ctx))
        .or_else(|| first_rule(raw, BODY))
        .unwrap_or(ErrorClass::Other)
}

/// A class and the texts that each mean it (any one of them).
type Rule = (&'static [&'static str], ErrorClass);

/// Prometheus-side failures before any network I/O, scheme mismatches Go detects by
/// itself, and certificate verification by Prometheus (Go < 1.20 bare `x509:`, ≥ 1.20
/// prefixed `tls: failed to verify certificate: x509:`).
const BEFORE_TLS_ALERTS: &[Rule] = &[
    (
        &[
            "unable to read basic auth password file",
            "unable to read authorization credentials file",
            "unable to read bearer token file",
        ],
        ErrorClass::CredentialsFile,
    ),
    (
        &[
            "server gave HTTP response to HTTPS client",
            "first record does not look like a TLS handshake",
        ],
        ErrorClass::HttpsToHttp,
    ),
    // A TLS record (alert 0x15 or handshake 0x16) read as an HTTP status line.
    (
        &[
            "malformed HTTP response \"\\x15\\x03",
            "malformed HTTP response \"\\x16\\x03",
        ],
        ErrorClass::HttpToHttps,
    ),
    // Go ≥ 1.15 says " is before " for a certificate not valid yet, " is after " for an
    // expired one; older Go gave no detail and expiry is the common case.
    (
        &["certificate has expired or is not yet valid"],
        ErrorClass::CertExpired,
    ),
    (
        &["certificate signed by unknown authority"],
        ErrorClass::UnknownAuthority,
    ),
    (&["doesn't contain any IP SANs"], ErrorClass::NoIpSans),
    (
        &["relies on legacy Common Name field"],
        ErrorClass::LegacyCommonName,
    ),
    (
        &[
            "x509: certificate is valid for",
            "x509: certificate is not valid for any names",
        ],
        ErrorClass::HostnameMismatch,
    ),
    (
        &["x509: certificate specifies an incompatible key usage"],
        ErrorClass::IncompatibleKeyUsage,
    ),
];

/// Local TLS refusals by Go's client.
const LOCAL_TLS_REFUSALS: &[Rule] = &[
    (
        &[
            "tls: server selected unsupported protocol version",
            "tls: no supported versions satisfy MinVersion and MaxVersion",
            "tls: protocol version not supported",
        ],
        ErrorClass::TlsVersion,
    ),
    (
        &[
            "tls: server chose an unconfigured cipher suite",
            "tls: no cipher suite supported by both client and server",
        ],
        ErrorClass::TlsHandshakeFailure,
    ),
];

/// What the body broke.
const BODY: &[Rule] = &[
    (&["body size limit exceeded"], ErrorClass::BodyTooLarge),
    (
        &[
            "received unsupported Content-Type",
            "sending blank Content-Type",
        ],
        ErrorClass::BadContentType,
    ),
    (
        &[
            "sample limit exceeded",
            "label_limit exceeded",
            "label_name_length_limit exceeded",
            "label_value_length_limit exceeded",
            "exceeds the limit",
        ],
        ErrorClass::LimitExceeded,
    ),
    (
        &[
            "is not a valid start token",
            "strconv.Parse",
            "expected ",
            "invalid metric",
            "unexpected end of input",
            "invalid UTF-8",
            "data does not end with # EOF",
        ],
        ErrorClass::BadExposition,
    ),
];

/// The class of the first rule one of whose texts `raw` contains.
fn first_rule(raw: &str, rules: &[Rule]) -> Option<ErrorClass> {
    let (_, class) = rules
        .iter()
        .find(|(texts, _)| texts.iter().any(|t| raw.contains(t)))?;
    Some(match class {
        ErrorClass::CertExpired if raw.contains(" is before ") => ErrorClass::CertNotYetValid,
        class => *class,
    })
}

/// The OAuth2 token endpoint and the forward proxy.
fn third_party(raw: &str) -> Option<ErrorClass> {
    if let Some((_, after)) = raw.split_once("oauth2: ") {
        return Some(classify_oauth2(after));
    }
    // Scrapes are GETs: a POST inside the error is the token request, which x/oauth2 does
    // not wrap when the transport failed (`Get "..": Post "../token": x509: ...`).
    if let Some((_, after)) = raw.split_once(": Post \"") {
        return Some(classify_oauth2(after));
    }
    if raw.contains("proxyconnect ") {
        return Some(ErrorClass::ProxyUnreachable);
    }
    // Go's transport turns a non-200 answer to CONNECT into an error holding only the
    // status text: `Get "https://...": Bad Gateway`.
    if raw.ends_with("\": Proxy Authentication Required") {
        return Some(ErrorClass::ProxyAuthRequired);
    }
    if raw.ends_with("\": Bad Gateway") || raw.ends_with("\": Gateway Timeout") {
        return Some(ErrorClass::ProxyTargetUnreachable);
    }
    None
}

/// The server answered with an HTTP status.
fn http_answer(raw: &str, ctx: &CaseContext) -> Option<ErrorClass> {
    Some(match http_status(raw)? {
        401 => ErrorClass::Unauthorized,
        // Only a proxy answers 407 (to a plain-HTTP scrape sent through it).
        407 => ErrorClass::ProxyAuthRequired,
        403 => ErrorClass::Forbidden,
        // Go's net/http (exporter-toolkit) and our fake exporter answer plain HTTP on a TLS
        // port with "400 Bad Request".
        400 if ctx.target_tls && !ctx.scheme_https => ErrorClass::HttpToHttps,
        code => ErrorClass::HttpStatus(code),
    })
}

/// Alerts sent by the server (`remote error: tls: <alert>`).
fn tls_alert(raw: &str, ctx: &CaseContext) -> Option<ErrorClass> {
    let (_, alert) = raw.rsplit_once("remote error: tls: ")?;
    Some(match alert {
        // These alerts are about the client's certificate: a server has no other
        // certificate to complain about. Go spells alert 45 "expired certificate" and 44
        // "revoked certificate" (crypto/tls/alert.go); rustls servers send those where Go
        // sends bad_certificate.
        "bad certificate"
        | "unknown certificate authority"
        | "expired certificate"
        | "revoked certificate"
        | "unsupported certificate"
        | "unknown certificate"
        | "access denied" => ctx.client_cert_class(),
        "certificate required" => ErrorClass::ClientCertRequired,
        "protocol version not supported" => ErrorClass::TlsVersion,
        "handshake failure"
        | "insufficient security"
        | "no application protocol"
        | "illegal parameter"
        | "unsupported extension"
        | "unrecognized name" => ErrorClass::TlsHandshakeFailure,
        "internal error" => ErrorClass::TlsInternalError,
        _ => ErrorClass::Other,
    })
}

/// HTTP/2 refused by the server after the handshake (GOAWAY INADEQUATE_SECURITY). The Go
/// client reads the GOAWAY as its first frame (`PROTOCOL_ERROR`), or loses the race and
/// fails writing its preface into the closed connection.
fn http2_refused(raw: &str, ctx: &CaseContext) -> Option<ErrorClass> {
    let has = |needle: &str| raw.contains(needle);
    let said = has("INADEQUATE_SECURITY")
        || has("TLS version too low")
        || has("Prohibited TLS 1.2 Cipher Suite");
    let raced = ctx.h2_refused_after_handshake
        && (has("connection error: PROTOCOL_ERROR")
            || has("broken pipe")
            || has("connection reset by peer")
            || raw.ends_with(": EOF"));
    (said || raced).then_some(ErrorClass::Http2Refused)
}

/// Network-level outcomes; a connection that died is read in the light of the context.
fn network(raw: &str, ctx: &CaseContext) -> Option<ErrorClass> {
    let has = |needle: &str| raw.contains(needle);
    if has("connection refused") {
        return Some(ErrorClass::Refused);
    }
    if has("context deadline exceeded") || has("Client.Timeout exceeded") || has("i/o timeout") {
        return Some(ErrorClass::Timeout);
    }
    if has("no such host") || has("server misbehaving") {
        return Some(ErrorClass::Unresolvable);
    }
    let died = has("connection reset by peer")
        || has("broken pipe")
        || raw.ends_with(": EOF")
        || raw == "EOF"
        || has("unexpected EOF")
        || has("server closed idle connection")
        || has("http2: client connection force closed")
        || has("http2: client connection lost");
    if !died {
        return None;
    }
    // Go TLS 1.3 servers reject client certificates after the client has finished: the
    // client then sees the connection die instead of the alert.
    Some(
        if ctx.scheme_https && ctx.target_tls && ctx.target_requires_client_cert {
            ctx.client_cert_class()
        } else if ctx.target_tls && !ctx.scheme_https {
            ErrorClass::HttpToHttps
        } else if ctx.scheme_https && !ctx.target_tls {
            ErrorClass::HttpsToHttp
        } else {
            ErrorClass::ConnectionReset
        },
    )
}

/// What follows `oauth2: ` (or the token request's `Post "`) in a failed token fetch.
/// x/oauth2 before 0.10 (Prometheus 2.x) writes `cannot fetch token: 401 Unauthorized\n
/// Response: {...}` for an answer that is not a token (captured from 2.42); a transport
/// failure reaches `lastError` unwrapped, as `Post "https://.../token": <error>` (captured);
/// later versions write `"invalid_client" "description"` for an RFC 6749 error (from the
/// x/oauth2 sources).
fn classify_oauth2(after: &str) -> ErrorClass {
    let verification = [
        "certificate signed by unknown authority",
        "failed to verify certificate",
        "certificate is valid for",
        "certificate has expired or is not yet valid",
        "doesn't contain any IP SANs",
        "certificate is not valid for any names",
    ];
    if verification.iter().any(|v| after.contains(v)) {
        return ErrorClass::Oauth2TokenUntrusted;
    }
    let answered = after
        .strip_prefix("cannot fetch token: ")
        .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit()))
        || after.starts_with('"');
    if answered {
        ErrorClass::Oauth2TokenRefused
    } else {
        ErrorClass::Oauth2TokenUnreachable
    }
}

/// The status code of `server returned HTTP status 404 Not Found` (scrapes, remote write);
/// Alertmanager notifications say `bad response status 401 Unauthorized` for the same answer.
fn http_status(raw: &str) -> Option<u16> {
    let (_, rest) = raw
        .split_once("server returned HTTP status ")
        .or_else(|| raw.split_once("bad response status "))?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    use ErrorClass as C;

    const PLAIN: CaseContext = CaseContext::plain();
    const TLS: CaseContext = CaseContext::tls();
    const MTLS_NO_CERT: CaseContext = CaseContext::mtls(false);
    const MTLS_CERT: CaseContext = CaseContext::mtls(true);
    const HTTP_TO_TLS: CaseContext = CaseContext {
        scheme_https: false,
        target_tls: true,
        target_requires_client_cert: false,
        job_presents_client_cert: false,
        h2_refused_after_handshake: false,
    };
    const LEGACY_H2: CaseContext = CaseContext {
        h2_refused_after_handshake: true,
        ..CaseContext::tls()
    };
    const HTTPS_TO_PLAIN: CaseContext = CaseContext {
        scheme_https: true,
        target_tls: false,
        target_requires_client_cert: false,
        job_presents_client_cert: false,
        h2_refused_after_handshake: false,
    };

    fn check(table: &[(&str, CaseContext, ErrorClass)]) {
        let mut failures = Vec::new();
        for (raw, ctx, want) in table {
            let got = classify(raw, ctx);
            if got != *want {
                failures.push(format!("  {raw:?} ({ctx:?}): want {want}, got {got}"));
            }
        }
        assert!(
            failures.is_empty(),
            "misclassified:\n{}",
            failures.join("\n")
        );
    }

    #[test]
    fn auth_and_http_status() {
        // captured from Prometheus 2.42.0 (go1.19.8) on 2026-11-24 against node_exporter 1.5.0
        // and plain Python servers.
        check(&[
            ("server returned HTTP status 401 Unauthorized", PLAIN, C::Unauthorized),
            ("server returned HTTP status 401 Unauthorized", TLS, C::Unauthorized),
            ("server returned HTTP status 403 Forbidden", PLAIN, C::Forbidden),
            ("server returned HTTP status 404 Not Found", PLAIN, C::HttpStatus(404)),
            ("server returned HTTP status 500 Internal Server Error", PLAIN, C::HttpStatus(500)),
            ("server returned HTTP status 503 Service Unavailable", PLAIN, C::HttpStatus(503)),
            (
                "Get \"http://127.0.0.1:19102/metrics\": unable to read basic auth password file /tmp/capE/pw_nonexistent: open /tmp/capE/pw_nonexistent: no such file or directory",
                PLAIN,
                C::CredentialsFile,
            ),
            ("", PLAIN, C::None),
        ]);
    }

    #[test]
    fn server_certificate_go_1_19() {
        // captured from Prometheus 2.42.0 (go1.19.8) on 2026-11-24 against node_exporter 1.5.0.
        check(&[
            ("Get \"https://127.0.0.1:19103/metrics\": x509: certificate signed by unknown authority", TLS, C::UnknownAuthority),
            ("Get \"https://127.0.0.1:19104/metrics\": x509: certificate has expired or is not yet valid: current time 2026-11-24T06:44:32Z is after 2021-01-01T00:00:00Z", TLS, C::CertExpired),
            ("Get \"https://127.0.0.1:19105/metrics\": x509: certificate has expired or is not yet valid: current time 2026-11-24T06:44:32Z is before 2040-01-01T00:00:00Z", TLS, C::CertNotYetValid),
            ("Get \"https://127.0.0.1:19106/metrics\": x509: cannot validate certificate for 127.0.0.1 because it doesn't contain any IP SANs", TLS, C::NoIpSans),
            ("Get \"https://127.0.0.1:19107/metrics\": x509: certificate is valid for 127.0.0.2, not 127.0.0.1", TLS, C::HostnameMismatch),
            ("Get \"https://localhost:19107/metrics\": x509: certificate is valid for wrong.example, not localhost", TLS, C::HostnameMismatch),
            ("Get \"https://127.0.0.1:19103/metrics\": x509: certificate is valid for localhost, not wrong.example", TLS, C::HostnameMismatch),
            ("Get \"https://127.0.0.1:19108/metrics\": x509: certificate relies on legacy Common Name field, use SANs instead", TLS, C::LegacyCommonName),
        ]);
    }

    #[test]
    fn server_certificate_go_1_20_and_later() {
        // derived from Go ≥ 1.20 sources (crypto/tls wraps verification errors with
        // "tls: failed to verify certificate: %w"); what Prometheus ≥ 2.43 and 3.x report.
        check(&[
            ("Get \"https://127.0.0.1:9100/metrics\": tls: failed to verify certificate: x509: certificate signed by unknown authority", TLS, C::UnknownAuthority),
            ("Get \"https://127.0.0.1:9100/metrics\": tls: failed to verify certificate: x509: certificate signed by unknown authority (possibly because of \"x509: ECDSA verification failure\" while trying to verify candidate authority certificate \"test root\")", TLS, C::UnknownAuthority),
            ("Get \"https://127.0.0.1:9100/metrics\": tls: failed to verify certificate: x509: certificate has expired or is not yet valid: current time 2026-11-24T06:44:32Z is after 2021-01-01T00:00:00Z", TLS, C::CertExpired),
            ("Get \"https://127.0.0.1:9100/metrics\": tls: failed to verify certificate: x509: certificate has expired or is not yet valid: current time 2026-11-24T06:44:32Z is before 2040-01-01T00:00:00Z", TLS, C::CertNotYetValid),
            ("Get \"https://127.0.0.1:9100/metrics\": tls: failed to verify certificate: x509: cannot validate certificate for 127.0.0.1 because it doesn't contain any IP SANs", TLS, C::NoIpSans),
            ("Get \"https://127.0.0.1:9100/metrics\": tls: failed to verify certificate: x509: certificate is valid for localhost, not wrong.example", TLS, C::HostnameMismatch),
            ("Get \"https://127.0.0.1:9100/metrics\": tls: failed to verify certificate: x509: certificate relies on legacy Common Name field, use SANs instead", TLS, C::LegacyCommonName),
            ("Get \"https://127.0.0.1:9100/metrics\": tls: failed to verify certificate: x509: certificate specifies an incompatible key usage", TLS, C::IncompatibleKeyUsage),
        ]);
    }

    #[test]
    fn client_certificates_race_between_alert_and_reset() {
        // captured from Prometheus 2.42.0 (go1.19.8) on 2026-11-24 against node_exporter 1.5.0
        // (Go TLS server, RequireAndVerifyClientCert / RequireAnyClientCert): one job produced
        // all three strings within a minute.
        for raw in [
            "Get \"https://127.0.0.1:19111/metrics\": remote error: tls: bad certificate",
            "Get \"https://127.0.0.1:19111/metrics\": write tcp 127.0.0.1:59148->127.0.0.1:19111: write: broken pipe",
            "Get \"https://127.0.0.1:19111/metrics\": write tcp 127.0.0.1:59164->127.0.0.1:19111: write: connection reset by peer",
        ] {
            check(&[
                (raw, MTLS_NO_CERT, C::ClientCertRequired),
                (raw, MTLS_CERT, C::ClientCertRejected),
            ]);
        }
        // Over HTTP/2 the dying connection can read as a closed client connection
        // (captured from Prometheus 2.42.0 on 2026-11-30, a fake exporter rejecting an
        // expired client certificate over TLS 1.3 on a busy machine).
        check(&[(
            "Get \"https://127.0.0.1:43409/metrics\": http2: client connection force closed via ClientConn.Close",
            MTLS_CERT,
            C::ClientCertRejected,
        )]);
        // The same reset against a target that wants no client certificate is a plain reset.
        check(&[(
            "Get \"https://127.0.0.1:19111/metrics\": write tcp 127.0.0.1:59164->127.0.0.1:19111: write: connection reset by peer",
            TLS,
            C::ConnectionReset,
        )]);
    }

    #[test]
    fn tls_alerts_from_other_servers() {
        // captured from Prometheus 2.42.0 (go1.19.8) on 2026-11-24 against openssl s_server 3.0
        // and node_exporter 1.5.0.
        check(&[
            ("Get \"https://127.0.0.1:19130/metrics\": remote error: tls: certificate required", MTLS_NO_CERT, C::ClientCertRequired),
            ("Get \"https://127.0.0.1:19131/metrics\": remote error: tls: handshake failure", TLS, C::TlsHandshakeFailure),
            ("Get \"https://127.0.0.1:19133/metrics\": remote error: tls: protocol version not supported", TLS, C::TlsVersion),
            ("Get \"https://127.0.0.1:19112/metrics\": remote error: tls: protocol version not supported", TLS, C::TlsVersion),
            ("Get \"https://127.0.0.1:19116/metrics\": remote error: tls: internal error", TLS, C::TlsInternalError),
        ]);
        // derived from Go sources (crypto/tls alert.go texts) and rustls' alert choices: rustls
        // answers an untrusted client certificate with unknown_ca, a missing one with
        // certificate_required (TLS 1.3); Go ≥ 1.21 servers also send certificate_required.
        check(&[
            ("Get \"https://127.0.0.1:9100/metrics\": remote error: tls: unknown certificate authority", MTLS_CERT, C::ClientCertRejected),
            ("Get \"https://127.0.0.1:9100/metrics\": remote error: tls: expired certificate", MTLS_CERT, C::ClientCertRejected),
            // captured from our scenario run against fake-exporter (rustls sends certificate_expired), Prometheus 2.42.0 go1.19.8
            ("Get \"https://127.0.0.1:33591/metrics\": remote error: tls: expired certificate", MTLS_CERT, C::ClientCertRejected),
            ("Get \"https://127.0.0.1:9100/metrics\": remote error: tls: certificate required", MTLS_NO_CERT, C::ClientCertRequired),
            ("Get \"https://127.0.0.1:9100/metrics\": remote error: tls: no application protocol", TLS, C::TlsHandshakeFailure),
            ("Get \"https://127.0.0.1:9100/metrics\": tls: server selected unsupported protocol version 301", TLS, C::TlsVersion),
        ]);
    }

    #[test]
    fn oauth2_token_endpoint_and_forward_proxy_failures() {
        // captured from Prometheus 2.42.0 (go1.19.8) on 2026-11-30, scenarios/oauth2.yaml and
        // scenarios/proxy.yaml against fake-exporter's token endpoint and forward proxy.
        check(&[
            ("Get \"http://127.0.0.1:11012/metrics\": oauth2: cannot fetch token: 401 Unauthorized\nResponse: {\"error\":\"invalid_client\"}", PLAIN, C::Oauth2TokenRefused),
            ("Get \"http://127.0.0.1:11013/metrics\": oauth2: cannot fetch token: 400 Bad Request\nResponse: {\"error\":\"invalid_scope\"}", PLAIN, C::Oauth2TokenRefused),
            ("Get \"http://127.0.0.1:11014/metrics\": Post \"https://127.0.0.1:36255/token\": x509: certificate signed by unknown authority", PLAIN, C::Oauth2TokenUntrusted),
            // An exporter that refuses the token it was given: a plain 401.
            ("server returned HTTP status 401 Unauthorized", PLAIN, C::Unauthorized),
            ("Get \"https://127.0.0.1:13620/metrics\": proxyconnect tcp: dial tcp 127.0.0.1:42529: connect: connection refused", TLS, C::ProxyUnreachable),
            ("Get \"https://127.0.0.1:13621/metrics\": Bad Gateway", TLS, C::ProxyTargetUnreachable),
            ("Get \"https://127.0.0.1:13623/metrics\": Proxy Authentication Required", TLS, C::ProxyAuthRequired),
            ("server returned HTTP status 407 Proxy Authentication Required", PLAIN, C::ProxyAuthRequired),
        ]);
        // captured from Prometheus 2.42.0 (go1.19.8) on 2026-11-30: a token endpoint that is
        // down, and one behind an `oauth2.proxy_url` that is down.
        check(&[
            ("Get \"http://127.0.0.1:2/metrics\": Post \"http://127.0.0.1:1/token\": dial tcp 127.0.0.1:1: connect: connection refused", PLAIN, C::Oauth2TokenUnreachable),
            ("Get \"http://127.0.0.1:2/metrics\": Post \"http://127.0.0.1:1/token\": proxyconnect tcp: dial tcp 127.0.0.1:3: connect: connection refused", PLAIN, C::Oauth2TokenUnreachable),
        ]);
        // derived from x/oauth2 sources: the RFC 6749 error format of x/oauth2 >= 0.10
        // (Prometheus 3.x); from Go >= 1.20: the verification prefix.
        check(&[
            ("Get \"http://127.0.0.1:1/metrics\": oauth2: \"invalid_client\"", PLAIN, C::Oauth2TokenRefused),
            ("Get \"http://127.0.0.1:1/metrics\": Post \"https://127.0.0.1:2/token\": tls: failed to verify certificate: x509: certificate signed by unknown authority", PLAIN, C::Oauth2TokenUntrusted),
            ("Get \"https://127.0.0.1:1/metrics\": Gateway Timeout", TLS, C::ProxyTargetUnreachable),
        ]);
    }

    #[test]
    fn scheme_mismatches() {
        // captured from Prometheus 2.42.0 (go1.19.8) on 2026-11-24.
        check(&[
            ("Get \"https://127.0.0.1:19101/metrics\": http: server gave HTTP response to HTTPS client", HTTPS_TO_PLAIN, C::HttpsToHttp),
            // Go exporter-toolkit TLS port answering plain HTTP.
            ("server returned HTTP status 400 Bad Request", HTTP_TO_TLS, C::HttpToHttps),
            // openssl s_server closes without a word.
            ("Get \"http://127.0.0.1:19133/metrics\": EOF", HTTP_TO_TLS, C::HttpToHttps),
        ]);
        // derived from Go sources (net/http transport, crypto/tls RecordHeaderError).
        check(&[
            ("Get \"https://127.0.0.1:9100/metrics\": tls: first record does not look like a TLS handshake", HTTPS_TO_PLAIN, C::HttpsToHttp),
            ("Get \"http://127.0.0.1:9100/metrics\": net/http: HTTP/1.x transport connection broken: malformed HTTP response \"\\x15\\x03\\x03\\x00\\x02\\x02\\x16\"", HTTP_TO_TLS, C::HttpToHttps),
            // A 400 from a plain target is just a 400.
            ("server returned HTTP status 400 Bad Request", PLAIN, C::HttpStatus(400)),
        ]);
    }

    #[test]
    fn network_outcomes() {
        // captured from Prometheus 2.42.0 (go1.19.8) on 2026-11-24 against closed ports and
        // Python servers that hang, reset or close.
        check(&[
            ("Get \"http://127.0.0.1:19199/metrics\": dial tcp 127.0.0.1:19199: connect: connection refused", PLAIN, C::Refused),
            ("Get \"https://127.0.0.1:19199/metrics\": dial tcp 127.0.0.1:19199: connect: connection refused", TLS, C::Refused),
            ("Get \"https://[::1]:19103/metrics\": dial tcp [::1]:19103: connect: connection refused", TLS, C::Refused),
            ("Get \"http://127.0.0.1:19123/metrics\": context deadline exceeded", PLAIN, C::Timeout),
            ("Get \"http://127.0.0.1:19124/metrics\": read tcp 127.0.0.1:52432->127.0.0.1:19124: read: connection reset by peer", PLAIN, C::ConnectionReset),
            ("Get \"http://127.0.0.1:19125/metrics\": EOF", PLAIN, C::ConnectionReset),
        ]);
        // derived from Go sources (net, net/http).
        check(&[
            ("Get \"http://no-such-host.invalid:9100/metrics\": dial tcp: lookup no-such-host.invalid on 127.0.0.53:53: no such host", PLAIN, C::Unresolvable),
            ("Get \"http://127.0.0.1:9100/metrics\": dial tcp 127.0.0.1:9100: i/o timeout", PLAIN, C::Timeout),
        ]);
    }

    #[test]
    fn body_outcomes() {
        // captured from Prometheus 2.42.0 (go1.19.8) on 2026-11-24.
        check(&[
            ("body size limit exceeded", PLAIN, C::BodyTooLarge),
            ("sample limit exceeded", PLAIN, C::LimitExceeded),
            ("label_limit exceeded (metric: go_gc_duration_seconds, number of labels: 4, limit: 1)", PLAIN, C::LimitExceeded),
            ("strconv.ParseFloat: parsing \"is\": invalid syntax", PLAIN, C::BadExposition),
            ("\"INVALID\" is not a valid start token", TLS, C::BadExposition),
        ]);
        // derived from Prometheus 3.x sources (model/textparse: extractMediaType).
        check(&[
            ("received unsupported Content-Type \"application/json\" and no fallback_scrape_protocol specified for target", PLAIN, C::BadContentType),
            ("non-compliant scrape target sending blank Content-Type and no fallback_scrape_protocol specified for target", PLAIN, C::BadContentType),
        ]);
    }

    /// Context and expected class for every job of the 2.42 capture run.
    fn capture_expectation(job: &str) -> Option<(CaseContext, ErrorClass)> {
        let ctx = |https: bool, tls: bool| CaseContext {
            scheme_https: https,
            target_tls: tls,
            ..CaseContext::plain()
        };
        Some(match job {
            j if j.ends_with("_ok")
                || j.starts_with("content_type_")
                || matches!(
                    j,
                    "tls_ok_localhost"
                        | "tls_insecure"
                        | "tls_http2_off"
                        | "tls_self_signed_as_ca"
                        | "tls_dns_only_server_name"
                        | "not_scraped_yet"
                ) =>
            {
                (TLS, C::None)
            }
            "basic_missing"
            | "basic_wrong"
            | "basic_unknown_user"
            | "bearer_against_basic"
            | "tls_basic_missing" => (PLAIN, C::Unauthorized),
            "basic_password_file_missing" => (PLAIN, C::CredentialsFile),
            "body_size_limit" => (PLAIN, C::BodyTooLarge),
            "sample_limit" | "label_limit" => (PLAIN, C::LimitExceeded),
            "garbage_body" | "ossl_rogue_client_cert" => (PLAIN, C::BadExposition),
            "close_without_response" | "reset_after_request" => (PLAIN, C::ConnectionReset),
            "http_to_https_port" | "http_to_mtls_port" | "http_to_openssl_tls13_port" => {
                (ctx(false, true), C::HttpToHttps)
            }
            "https_to_http_port" => (ctx(true, false), C::HttpsToHttp),
            "mtls_any_no_client_cert"
            | "mtls_no_client_cert"
            | "mtls_tls12_no_client_cert"
            | "ossl_cert_required_tls13" => (MTLS_NO_CERT, C::ClientCertRequired),
            "mtls_expired_client_cert"
            | "mtls_rogue_client_cert"
            | "mtls_serverauth_eku_client_cert"
            | "mtls_tls12_rogue_client_cert" => (MTLS_CERT, C::ClientCertRejected),
            "ossl_handshake_failure" => (TLS, C::TlsHandshakeFailure),
            "ossl_tls13_only" | "tls_version_server_min13" => (TLS, C::TlsVersion),
            "refused" | "refused_https" | "tls_ok_ipv6" => (TLS, C::Refused),
            "status_403" => (PLAIN, C::Forbidden),
            "status_404" => (PLAIN, C::HttpStatus(404)),
            "status_500" => (PLAIN, C::HttpStatus(500)),
            "status_503" => (PLAIN, C::HttpStatus(503)),
            "timeout_no_response" => (PLAIN, C::Timeout),
            "tls_broken_server_config" => (TLS, C::TlsInternalError),
            "tls_cn_only_ip" | "tls_no_ip_sans" => (TLS, C::NoIpSans),
            "tls_cn_only_server_name" => (TLS, C::LegacyCommonName),
            "tls_expired" => (TLS, C::CertExpired),
            "tls_not_yet_valid" => (TLS, C::CertNotYetValid),
            "tls_missing_intermediate"
            | "tls_rogue_ca"
            | "tls_self_signed"
            | "tls_system_roots" => (TLS, C::UnknownAuthority),
            "tls_wrong_dns_name" | "tls_wrong_ip" | "tls_wrong_server_name" => {
                (TLS, C::HostnameMismatch)
            }
            "legacy_tls10_h2" | "legacy_tls11_h2" => (LEGACY_H2, C::Http2Refused),
            "legacy_tls10_http11" | "legacy_cbc_no_h2" => (TLS, C::None),
            "legacy_tls10_job_default" => (TLS, C::TlsVersion),
            _ => return None,
        })
    }

    #[test]
    fn every_captured_2_42_string_gets_its_expected_class() {
        let fixture = include_str!("../../tests/fixtures/last_errors_2.42.txt");
        let mut failures = Vec::new();
        let mut checked = 0;
        for line in fixture
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
        {
            let fields: Vec<&str> = line.split('\t').collect();
            let [job, _description, health, raw] = fields[..] else {
                panic!("fixture line without 4 tab-separated fields: {line:?}");
            };
            if health == "missing" {
                continue; // dropped scrape pools have no lastError: the verdict says JobMissing
            }
            let Some((ctx, want)) = capture_expectation(job) else {
                panic!("no expectation for captured job {job}");
            };
            assert_eq!(health == "up", want == C::None, "health of {job}");
            let got = classify(raw, &ctx);
            if got != want {
                failures.push(format!("  {job}: {raw:?}: want {want}, got {got}"));
            }
            checked += 1;
        }
        assert!(
            failures.is_empty(),
            "misclassified:\n{}",
            failures.join("\n")
        );
        // Every line of the fixture but the 3 dropped jobs; exact, so none is lost.
        assert_eq!(checked, 78, "captured lines checked");
    }

    #[test]
    fn http2_refusal_needs_the_context_unless_the_text_names_it() {
        let broken = "Get \"https://127.0.0.1:9100/metrics\": write tcp 127.0.0.1:1->127.0.0.1:9100: write: broken pipe";
        assert_eq!(classify(broken, &LEGACY_H2), C::Http2Refused);
        assert_eq!(classify(broken, &TLS), C::ConnectionReset);
        let protocol = "Get \"https://127.0.0.1:9100/metrics\": connection error: PROTOCOL_ERROR";
        assert_eq!(classify(protocol, &LEGACY_H2), C::Http2Refused);
        assert_eq!(classify(protocol, &TLS), C::Other);
        // Go clients that surface the GOAWAY itself (derived from x/net/http2's GoAwayError).
        let goaway = "Get \"https://127.0.0.1:9100/metrics\": http2: server sent GOAWAY and closed the connection; LastStreamID=0, ErrCode=INADEQUATE_SECURITY, debug=\"TLS version too low\"";
        assert_eq!(classify(goaway, &TLS), C::Http2Refused);
        // The alert still wins: a version refusal is not an HTTP/2 refusal.
        let version = "Get \"https://127.0.0.1:9100/metrics\": remote error: tls: protocol version not supported";
        assert_eq!(classify(version, &LEGACY_H2), C::TlsVersion);
    }

    #[test]
    fn labels_round_trip() {
        for (class, label, why) in LABELS {
            assert_eq!(class.to_string(), label);
            assert_eq!(label.parse::<ErrorClass>(), Ok(class));
            assert!(!why.is_empty() && class.explanation() == why, "{label}");
        }
        assert_eq!(C::HttpStatus(500).to_string(), "http_status_500");
        assert_eq!(
            "http_status_418".parse::<ErrorClass>(),
            Ok(C::HttpStatus(418))
        );
        let err = "http_status_42"
            .parse::<ErrorClass>()
            .expect_err("not a status");
        assert!(err.to_string().contains("unknown_authority"), "{err}");
        let yaml: ErrorClass = serde_norway::from_str("client_cert_rejected").expect("yaml");
        assert_eq!(yaml, C::ClientCertRejected);
        assert_eq!(
            serde_json::to_string(&C::HttpStatus(502)).expect("json"),
            "\"http_status_502\""
        );
    }
}

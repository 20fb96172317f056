//! Kinds of targets. The security verdicts (served or refused) are the same for all; what
//! differs is how a refusal is expected to look and which transport habits are fair to ask:
//!
//! - `toolkit`: an exporter-toolkit exporter (Go `net/http` + `crypto/tls`): client
//!   certificates are refused in the TLS handshake, plain HTTP to its TLS port gets Go's 400,
//!   bad credentials get 401 with a Basic challenge. The refusal mechanism is checked at
//!   the case's own level.
//! - `generic`: any HTTP stack (Python `prometheus_client`, Java, ...): HTTP/1.0 and no
//!   keep-alive are fair; the mechanism is reported at MAY.
//! - `proxy`: nginx / Apache / Envoy in front of an exporter: refusals may be HTTP 400/403,
//!   bcrypt may be checked on every request; the mechanism is reported at MAY.

use serde::Serialize;

/// The kind of target the verdicts assume.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Profile {
    /// exporter-toolkit semantics, exactly.
    Toolkit,
    /// Any HTTP stack.
    Generic,
    /// A reverse proxy terminating TLS and auth.
    Proxy,
}

impl Profile {
    /// The name used on the command line and in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Toolkit => "toolkit",
            Self::Generic => "generic",
            Self::Proxy => "proxy",
        }
    }
}

impl std::str::FromStr for Profile {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "toolkit" => Ok(Self::Toolkit),
            "generic" => Ok(Self::Generic),
            "proxy" => Ok(Self::Proxy),
            other => Err(format!("`{other}`: use toolkit, generic or proxy")),
        }
    }
}

/// What a direct look at a target showed, for [`detect`]. The TLS port's own answers
/// (to plain HTTP, its refusals, its `Server` header) say what terminates TLS; an answer
/// that went through it (an unknown path's 404) may come from a server behind it.
#[derive(Debug, Clone, Default)]
pub struct Fingerprint {
    /// Whether the target was probed over TLS.
    pub tls: bool,
    /// The `Server` header of any answer.
    pub server_header: Option<String>,
    /// The body of the answer to plain HTTP sent to its TLS port (if it answered).
    pub plain_to_tls_body: Option<String>,
    /// Plain HTTP sent to its TLS port got no HTTP answer (closed or reset): Go's TLS
    /// server answers it with a 400, so the TLS port is not Go's.
    pub plain_to_tls_closed: bool,
    /// The HTTP version of its answers (`HTTP/1.0`, `HTTP/1.1`).
    pub http_version: Option<String>,
    /// The body of a 404 (an unknown path), if it answered one.
    pub not_found_body: Option<String>,
}

/// Go's answer to plain HTTP on a TLS port.
const GO_PLAIN_TO_TLS: &str = "Client sent an HTTP request to an HTTPS server";
/// Go `net/http`'s 404 body.
const GO_NOT_FOUND: &str = "404 page not found\n";

/// The profile a target's answers point to, and why. The TLS port's own signals decide
/// what terminates TLS, and weigh more than what a server behind it says:
///
/// 1. a `Server` header naming a reverse proxy → `proxy`; any other (Go sends none) →
///    `generic`;
/// 2. over TLS, the TLS port's answer to plain HTTP: Go's `Client sent an HTTP request to
///    an HTTPS server` → `toolkit`; anything else (no HTTP answer, another answer)
///    means the TLS port is not a Go server: with Go's 404 page behind it → `proxy` (a TLS
///    terminator in front of a Go server), else `generic`;
/// 3. HTTP/1.0 answers → `generic`;
/// 4. Go's `404 page not found` (plain HTTP, nothing contradicting) → `toolkit`;
/// 5. otherwise `generic`.
pub fn detect(f: &Fingerprint) -> (Profile, String) {
    if let Some(server) = &f.server_header {
        let lower = server.to_ascii_lowercase();
        for proxy in ["nginx", "apache", "envoy", "haproxy", "caddy", "traefik"] {
            if lower.contains(proxy) {
                return (
                    Profile::Proxy,
                    format!("detected: `Server: {server}` is a reverse proxy"),
                );
            }
        }
        return (
            Profile::Generic,
            format!(
                "detected: `Server: {server}` is not exporter-toolkit (Go sends no Server header)"
            ),
        );
    }
    let go_404 = f.not_found_body.as_deref() == Some(GO_NOT_FOUND);
    if f.tls {
        let plain = match (&f.plain_to_tls_body, f.plain_to_tls_closed) {
            (Some(body), _) if body.contains(GO_PLAIN_TO_TLS) => {
                return (
                    Profile::Toolkit,
                    "detected: Go's answer to plain HTTP on its TLS port".into(),
                )
            }
            (Some(_), _) => Some("answered plain HTTP with something else than Go's 400"),
            (None, true) => Some("gave no HTTP answer to plain HTTP, where Go answers 400"),
            (None, false) => None,
        };
        if let Some(plain) = plain {
            if go_404 {
                return (
                    Profile::Proxy,
                    format!("detected: the TLS port is not a Go server (it {plain}), but the 404 page behind it is Go net/http's: a TLS terminator in front of a Go server"),
                );
            }
            if f.http_version.as_deref() == Some("HTTP/1.0") {
                return (
                    Profile::Generic,
                    format!("detected: it answers HTTP/1.0, and its TLS port {plain}"),
                );
            }
            return (
                Profile::Generic,
                format!(
                    "detected: the TLS port is not a Go server (it {plain}); choose with --profile"
                ),
            );
        }
    }
    if f.http_version.as_deref() == Some("HTTP/1.0") {
        return (Profile::Generic, "detected: it answers HTTP/1.0".into());
    }
    if go_404 {
        return (Profile::Toolkit, "detected: Go net/http's 404 page".into());
    }
    (
        Profile::Generic,
        "nothing pointed to exporter-toolkit or a proxy: generic; choose with --profile".into(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detection_follows_what_the_target_showed() {
        let nginx = Fingerprint {
            server_header: Some("nginx/1.22.1".into()),
            ..Fingerprint::default()
        };
        assert_eq!(detect(&nginx).0, Profile::Proxy);
        let python = Fingerprint {
            server_header: Some("BaseHTTP/0.6 Python/3.11.2".into()),
            http_version: Some("HTTP/1.0".into()),
            ..Fingerprint::default()
        };
        assert_eq!(detect(&python).0, Profile::Generic);
        let go = Fingerprint {
            tls: true,
            plain_to_tls_body: Some("Client sent an HTTP request to an HTTPS server.\n".into()),
            http_version: Some("HTTP/1.1".into()),
            ..Fingerprint::default()
        };
        assert_eq!(detect(&go).0, Profile::Toolkit);
        assert_eq!(detect(&Fingerprint::default()).0, Profile::Generic);
        // Issue 23: a TLS terminator without a Server header in front of Prometheus: the
        // TLS port closes on plain HTTP (not Go's), the 404 behind it is Go's.
        let terminator = Fingerprint {
            tls: true,
            plain_to_tls_closed: true,
            http_version: Some("HTTP/1.1".into()),
            not_found_body: Some("404 page not found\n".into()),
            ..Fingerprint::default()
        };
        let (profile, why) = detect(&terminator);
        assert_eq!(profile, Profile::Proxy, "{why}");
        assert!(why.contains("no HTTP answer to plain HTTP"), "{why}");
        // The same without the Go 404 behind it: not Go, nothing more known.
        let unknown = Fingerprint {
            not_found_body: None,
            ..terminator.clone()
        };
        assert_eq!(detect(&unknown).0, Profile::Generic);
        // A Go exporter over TLS: Go's 400 on its TLS port and its 404.
        let go_tls = Fingerprint {
            plain_to_tls_body: Some("Client sent an HTTP request to an HTTPS server.\n".into()),
            plain_to_tls_closed: false,
            ..terminator
        };
        assert_eq!(detect(&go_tls).0, Profile::Toolkit);
        assert_eq!("Proxy".parse::<Profile>(), Ok(Profile::Proxy));
        assert!("nginx".parse::<Profile>().is_err());
    }
}

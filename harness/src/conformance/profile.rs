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

/// What a direct look at a target showed, for [`detect`].
#[derive(Debug, Clone, Default)]
pub struct Fingerprint {
    /// The `Server` header of any answer.
    pub server_header: Option<String>,
    /// The body of the answer to plain HTTP sent to its TLS port (if it answered).
    pub plain_to_tls_body: Option<String>,
    /// The HTTP version of its answers (`HTTP/1.0`, `HTTP/1.1`).
    pub http_version: Option<String>,
    /// The body of a 404 (an unknown path), if it answered one.
    pub not_found_body: Option<String>,
}

/// The profile a target's answers point to, and why.
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
    if let Some(body) = &f.plain_to_tls_body {
        if body.contains("Client sent an HTTP request to an HTTPS server") {
            return (
                Profile::Toolkit,
                "detected: Go's answer to plain HTTP on its TLS port".into(),
            );
        }
    }
    if f.http_version.as_deref() == Some("HTTP/1.0") {
        return (Profile::Generic, "detected: it answers HTTP/1.0".into());
    }
    if f.not_found_body.as_deref() == Some("404 page not found\n") {
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
            plain_to_tls_body: Some("Client sent an HTTP request to an HTTPS server.\n".into()),
            http_version: Some("HTTP/1.1".into()),
            ..Fingerprint::default()
        };
        assert_eq!(detect(&go).0, Profile::Toolkit);
        assert_eq!(detect(&Fingerprint::default()).0, Profile::Generic);
        assert_eq!("Proxy".parse::<Profile>(), Ok(Profile::Proxy));
        assert!("nginx".parse::<Profile>().is_err());
    }
}

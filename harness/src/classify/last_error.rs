//! `lastError` parsed once: its class, the mechanism that refused the request, and the
//! significant part of the text (the URL and socket addresses left out).
//!
//! Every reader of a Prometheus error string (a target's `lastError`, the `err=` of a
//! notifier or remote-write log line, a dropped job's logged reason) goes through
//! [`LastError::parse`]; reports, conformance rows and judges read its fields and never
//! split the text again.

use serde::{Deserialize, Serialize};

use super::{classify, http_status, CaseContext, ErrorClass};

/// One Prometheus error string, parsed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastError {
    /// The text as Prometheus wrote it (empty when the last request succeeded).
    pub raw: String,
    /// Its stable class.
    pub class: ErrorClass,
    /// How the request was refused, in words: `HTTP 401 Unauthorized`,
    /// `TLS alert "bad certificate"`, `certificate verification: ...`, `connection reset`,
    /// or the class label when the text says no more.
    pub mechanism: String,
    /// The text without the request URL and socket addresses, which change from run to
    /// run (`remote error: tls: bad certificate`).
    pub significant: String,
}

impl LastError {
    /// Parses `raw` for a request whose set-up is described by `ctx`.
    pub fn parse(raw: &str, ctx: &CaseContext) -> Self {
        let class = classify(raw, ctx);
        Self {
            raw: raw.to_owned(),
            class,
            mechanism: mechanism(class, raw),
            significant: significant_part(raw).to_owned(),
        }
    }

    /// A reason that is not a request error (a job Prometheus dropped, with what it
    /// logged): `class` is given, the text is kept as it is.
    pub fn with_class(raw: &str, class: ErrorClass) -> Self {
        Self {
            raw: raw.to_owned(),
            class,
            mechanism: class.to_string(),
            significant: significant_part(raw).to_owned(),
        }
    }

    /// Whether the request succeeded (no error text).
    pub fn is_none(&self) -> bool {
        self.class == ErrorClass::None
    }
}

/// How a request was refused, read from the error text: the HTTP status, the TLS alert,
/// the certificate check that failed, or how the connection ended.
pub(crate) fn mechanism(class: ErrorClass, raw: &str) -> String {
    if http_status(raw).is_some() {
        let status = ["HTTP status ", "bad response status "]
            .iter()
            .find_map(|prefix| raw.split_once(prefix))
            .map_or("", |(_, rest)| rest);
        let status: String = status.chars().take_while(|c| *c != '"').collect();
        return format!("HTTP {}", status.trim());
    }
    if let Some(rest) = raw.split("remote error: tls: ").nth(1) {
        let alert: String = rest.chars().take_while(|c| *c != '"').collect();
        return format!("TLS alert \"{}\"", alert.trim());
    }
    if let Some(rest) = raw.split("x509: ").nth(1) {
        let why: String = rest.chars().take_while(|c| *c != '"').collect();
        return format!("certificate verification: {}", why.trim());
    }
    let lower = raw.to_ascii_lowercase();
    if lower.contains("connection reset") {
        return "connection reset".into();
    }
    if lower.contains("broken pipe") {
        return "connection closed (broken pipe)".into();
    }
    if lower.ends_with("eof") || lower.contains("eof\"") || lower.contains("unexpected eof") {
        return "connection closed (EOF)".into();
    }
    class.to_string()
}

/// The part of an error text worth showing: without the request (`Get "<url>": `, also
/// `Post`) and the socket addresses of `read tcp a->b: `.
pub(crate) fn significant_part(raw: &str) -> &str {
    let mut rest = raw.trim();
    for verb in ["Get \"", "Post \""] {
        if let Some(after) = rest.strip_prefix(verb) {
            if let Some((_, tail)) = after.split_once("\": ") {
                rest = tail;
            }
        }
    }
    for op in [
        "read tcp ",
        "write tcp ",
        "dial tcp ",
        "read udp ",
        "write udp ",
    ] {
        if let Some(after) = rest.strip_prefix(op) {
            if let Some((_, tail)) = after.split_once(": ") {
                rest = tail;
            }
        }
    }
    rest
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mechanisms_read_from_last_error() {
        let cases = [
            (
                "server returned HTTP status 400 Bad Request",
                ErrorClass::HttpStatus(400),
                "HTTP 400 Bad Request",
            ),
            (
                "bad response status 401 Unauthorized",
                ErrorClass::Unauthorized,
                "HTTP 401 Unauthorized",
            ),
            (
                "Get \"https://127.0.0.1:1/metrics\": remote error: tls: bad certificate",
                ErrorClass::ClientCertRejected,
                "TLS alert \"bad certificate\"",
            ),
            (
                "Get \"https://127.0.0.1:1/metrics\": read tcp 127.0.0.1:2->127.0.0.1:1: read: connection reset by peer",
                ErrorClass::ConnectionReset,
                "connection reset",
            ),
            (
                "Get \"https://127.0.0.1:1/metrics\": EOF",
                ErrorClass::ClientCertRequired,
                "connection closed (EOF)",
            ),
            ("context deadline exceeded", ErrorClass::Timeout, "timeout"),
        ];
        for (raw, class, want) in cases {
            assert_eq!(mechanism(class, raw), want, "{raw}");
        }
    }

    #[test]
    fn significant_part_drops_the_request_and_socket_addresses() {
        for (raw, want) in [
            (
                "Get \"https://127.0.0.1:44621/metrics\": remote error: tls: certificate required",
                "remote error: tls: certificate required",
            ),
            (
                "Get \"https://127.0.0.1:1/metrics\": write tcp 127.0.0.1:49344->127.0.0.1:46139: write: broken pipe",
                "write: broken pipe",
            ),
            (
                "Post \"https://127.0.0.1:4001/api/v1/write\": x509: certificate signed by unknown authority",
                "x509: certificate signed by unknown authority",
            ),
            (
                "server returned HTTP status 401 Unauthorized",
                "server returned HTTP status 401 Unauthorized",
            ),
            ("", ""),
        ] {
            assert_eq!(significant_part(raw), want, "{raw}");
        }
    }

    #[test]
    fn a_parsed_error_carries_every_reading_of_the_text() {
        let raw =
            "Get \"https://127.0.0.1:9/metrics\": x509: certificate signed by unknown authority";
        let parsed = LastError::parse(raw, &CaseContext::tls());
        assert_eq!(parsed.raw, raw);
        assert_eq!(parsed.class, ErrorClass::UnknownAuthority);
        assert_eq!(
            parsed.mechanism,
            "certificate verification: certificate signed by unknown authority"
        );
        assert_eq!(
            parsed.significant,
            "x509: certificate signed by unknown authority"
        );
        assert!(LastError::parse("", &CaseContext::plain()).is_none());
        // The notifier's wording of a status is classified like the scraper's.
        assert_eq!(
            LastError::parse("bad response status 401 Unauthorized", &CaseContext::tls()).class,
            ErrorClass::Unauthorized
        );
    }
}

//! Bearer tokens — a fake-exporter extension, not part of exporter-toolkit.
//!
//! Tokens come from three places, all optional: a static list, a token file re-read on
//! every request (like a rotated Kubernetes service-account token), and tokens with an
//! expiry time. Comparison is constant-time.

use std::path::Path;
use std::time::SystemTime;

use subtle::ConstantTimeEq;

use crate::stats::AuthOutcome;

/// Extracts the token of an `Authorization: Bearer <token>` header (scheme case-insensitive).
pub fn parse_bearer(header: &str) -> Option<&str> {
    const PREFIX: &str = "bearer ";
    if header.len() < PREFIX.len() || !header[..PREFIX.len()].eq_ignore_ascii_case(PREFIX) {
        return None;
    }
    let token = header[PREFIX.len()..].trim();
    (!token.is_empty()).then_some(token)
}

/// A token that stops being accepted at `expires_at`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExpiringToken {
    /// The token.
    pub token: String,
    /// When it stops being accepted.
    pub expires_at: SystemTime,
}

/// The accepted tokens of one request's view of the configuration.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BearerTokens<'a> {
    /// Tokens accepted forever.
    pub tokens: &'a [String],
    /// A file holding one token (surrounding whitespace trimmed), read at check time.
    pub token_file: Option<&'a Path>,
    /// Tokens with an expiry.
    pub expiring: &'a [ExpiringToken],
}

impl BearerTokens<'_> {
    /// Checks `presented` against every source. Returns `Ok`, `ExpiredToken` or `InvalidToken`.
    ///
    /// Every configured token is compared (no early exit), so the time taken does not tell
    /// which source, if any, matched.
    pub fn check(&self, presented: &str, now: SystemTime) -> AuthOutcome {
        let presented = presented.as_bytes();
        let mut ok = subtle::Choice::from(0);
        for token in self.tokens {
            ok |= token.as_bytes().ct_eq(presented);
        }
        if let Some(path) = self.token_file {
            // An unreadable token file accepts nothing, like a missing secret would.
            if let Ok(content) = std::fs::read_to_string(path) {
                let token = content.trim();
                if !token.is_empty() {
                    ok |= token.as_bytes().ct_eq(presented);
                }
            }
        }
        let mut expired = subtle::Choice::from(0);
        for t in self.expiring {
            let matches = t.token.as_bytes().ct_eq(presented);
            if now < t.expires_at {
                ok |= matches;
            } else {
                expired |= matches;
            }
        }
        if bool::from(ok) {
            AuthOutcome::Ok
        } else if bool::from(expired) {
            AuthOutcome::ExpiredToken
        } else {
            AuthOutcome::InvalidToken
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn header_parsing() {
        assert_eq!(parse_bearer("Bearer abc"), Some("abc"));
        assert_eq!(parse_bearer("bearer  abc "), Some("abc"));
        assert_eq!(parse_bearer("Basic abc"), None);
        assert_eq!(parse_bearer("Bearer "), None);
    }

    #[test]
    fn static_file_and_expiring_tokens() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("token");
        std::fs::write(&file, "from-file\n").expect("write");
        let now = SystemTime::now();
        let statics = vec!["static".to_owned()];
        let expiring = vec![
            ExpiringToken {
                token: "fresh".into(),
                expires_at: now + Duration::from_secs(60),
            },
            ExpiringToken {
                token: "stale".into(),
                expires_at: now - Duration::from_secs(60),
            },
        ];
        let tokens = BearerTokens {
            tokens: &statics,
            token_file: Some(&file),
            expiring: &expiring,
        };
        assert_eq!(tokens.check("static", now), AuthOutcome::Ok);
        assert_eq!(tokens.check("from-file", now), AuthOutcome::Ok);
        assert_eq!(tokens.check("fresh", now), AuthOutcome::Ok);
        assert_eq!(tokens.check("stale", now), AuthOutcome::ExpiredToken);
        assert_eq!(tokens.check("nope", now), AuthOutcome::InvalidToken);

        // rotation: the file is re-read on every check
        std::fs::write(&file, "rotated").expect("write");
        assert_eq!(tokens.check("from-file", now), AuthOutcome::InvalidToken);
        assert_eq!(tokens.check("rotated", now), AuthOutcome::Ok);
    }
}

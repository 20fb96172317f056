//! Bearer tokens — a fake-exporter extension, not part of exporter-toolkit.
//!
//! Tokens come from three places of `fake_exporter.bearer_auth`, all optional: a static
//! list, a token file re-read on every request (like a rotated Kubernetes service-account
//! token), and tokens with an expiry time. Comparison is constant-time.

use std::path::Path;
use std::time::SystemTime;

use subtle::ConstantTimeEq;

use super::AuthOutcome;
use crate::web_config::BearerAuthConfig;

/// Extracts the token of an `Authorization: Bearer <token>` header (scheme case-insensitive).
pub(crate) fn parse_bearer(header: &str) -> Option<&str> {
    const PREFIX: &str = "bearer ";
    if header.len() < PREFIX.len() || !header[..PREFIX.len()].eq_ignore_ascii_case(PREFIX) {
        return None;
    }
    let token = header[PREFIX.len()..].trim();
    (!token.is_empty()).then_some(token)
}

/// Checks `presented` against every token source of `config` (`origin` is the web config
/// file, for the token file's error). Returns `Ok`, `ExpiredToken` or `InvalidToken`.
///
/// Every configured token is compared (no early exit), so the time taken does not tell
/// which source, if any, matched. An unreadable or empty token file accepts nothing, like a
/// missing secret would.
pub(crate) fn check_bearer(
    config: &BearerAuthConfig,
    origin: &Path,
    presented: &str,
    now: SystemTime,
) -> AuthOutcome {
    let presented = presented.as_bytes();
    let mut ok = subtle::Choice::from(0);
    for token in &config.tokens {
        ok |= token.as_bytes().ct_eq(presented);
    }
    if let Ok(Some(token)) = config.read_token_file(origin) {
        ok |= token.as_bytes().ct_eq(presented);
    }
    let mut expired = subtle::Choice::from(0);
    for t in &config.expiring_tokens {
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::web_config::ExpiringToken;

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
        let origin = dir.path().join("web-config.yml");
        let file = dir.path().join("token");
        std::fs::write(&file, "from-file\n").expect("write");
        let now = SystemTime::now();
        let config = BearerAuthConfig {
            tokens: vec!["static".to_owned()],
            token_file: Some(file.clone()),
            expiring_tokens: vec![
                ExpiringToken {
                    token: "fresh".into(),
                    expires_at: now + Duration::from_secs(60),
                },
                ExpiringToken {
                    token: "stale".into(),
                    expires_at: now - Duration::from_secs(60),
                },
            ],
        };
        let check = |t: &str| check_bearer(&config, &origin, t, now);
        assert_eq!(check("static"), AuthOutcome::Ok);
        assert_eq!(check("from-file"), AuthOutcome::Ok);
        assert_eq!(check("fresh"), AuthOutcome::Ok);
        assert_eq!(check("stale"), AuthOutcome::ExpiredToken);
        assert_eq!(check("nope"), AuthOutcome::InvalidToken);

        // rotation: the file is re-read on every check
        std::fs::write(&file, "rotated").expect("write");
        assert_eq!(check("from-file"), AuthOutcome::InvalidToken);
        assert_eq!(check("rotated"), AuthOutcome::Ok);

        // an empty token file accepts nothing (not even an empty-looking token)
        std::fs::write(&file, "\n").expect("write");
        assert_eq!(check("rotated"), AuthOutcome::InvalidToken);
    }
}

//! HTTP Basic authentication with bcrypt hashes, as exporter-toolkit does it.
//!
//! Faithful to `web/handler.go` of exporter-toolkit:
//! - an unknown user is checked against a fixed dummy hash of cost 10 (so that, as long as
//!   the configured hashes are also cost 10, unknown users cannot be told apart by timing);
//! - outcomes, successes and failures alike, are cached in a bounded cache (100 entries,
//!   random eviction) keyed by hash, user and password;
//! - uncached bcrypt comparisons are serialised by one lock.
//!
//! bcrypt runs on tokio's blocking pool, never on the async executor.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rand::seq::IteratorRandom;

use crate::stats::AuthOutcome;

/// bcrypt hash (cost 10) of the string "fakepassword", the hash exporter-toolkit compares
/// unknown users against.
pub const DUMMY_HASH: &str = "$2y$10$QOauhQNbBCuQDKes6eFzPeMqBSjb7Mr5DUmpZ/VcEd00UAV/LDeSi";

/// Capacity of the outcome cache (exporter-toolkit: 100).
pub const CACHE_CAPACITY: usize = 100;

/// Decoded `Authorization: Basic` credentials.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BasicCredentials {
    /// The user name.
    pub user: String,
    /// The password, possibly empty.
    pub password: String,
}

/// Parses an `Authorization` header value the way Go's `Request.BasicAuth` does: the
/// scheme is matched case-insensitively, the rest is standard base64 of `user:password`,
/// split at the first colon.
pub fn parse_basic(header: &str) -> Option<BasicCredentials> {
    const PREFIX: &str = "basic ";
    if header.len() < PREFIX.len() || !header[..PREFIX.len()].eq_ignore_ascii_case(PREFIX) {
        return None;
    }
    let decoded = base64_decode(&header[PREFIX.len()..])?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some(BasicCredentials {
        user: user.to_owned(),
        password: password.to_owned(),
    })
}

/// The `Authorization` header value for Basic credentials (standard padded base64 of
/// `user:password`), as clients send it.
pub fn basic_header(user: &str, password: &str) -> String {
    format!(
        "Basic {}",
        base64_encode(format!("{user}:{password}").as_bytes())
    )
}

/// Standard (padded) base64 encoding, as Go's `base64.StdEncoding` writes it.
pub fn base64_encode(input: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Standard (padded) base64 decoding, strict like Go's `base64.StdEncoding`.
fn base64_decode(input: &str) -> Option<Vec<u8>> {
    fn value(c: u8) -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => (c - b'A') as u32,
            b'a'..=b'z' => (c - b'a' + 26) as u32,
            b'0'..=b'9' => (c - b'0' + 52) as u32,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        })
    }
    let bytes = input.as_bytes();
    if bytes.len() % 4 != 0 {
        return None;
    }
    let mut out = Vec::with_capacity(bytes.len() / 4 * 3);
    for (i, chunk) in bytes.chunks(4).enumerate() {
        let last = i == bytes.len() / 4 - 1;
        let pad = chunk.iter().rev().take_while(|&&c| c == b'=').count();
        if pad > 2 || (pad > 0 && !last) {
            return None;
        }
        let mut n = 0u32;
        for &c in &chunk[..4 - pad] {
            n = (n << 6) | value(c)?;
        }
        n <<= 6 * pad as u32;
        let b = n.to_be_bytes();
        out.extend_from_slice(&b[1..4 - pad]);
    }
    Some(out)
}

/// Checks Basic credentials against a user → bcrypt-hash table, with exporter-toolkit's
/// cache and lock. One per listener (the cache outlives config re-reads).
#[derive(Debug, Default)]
pub struct BasicAuthChecker {
    cache: Mutex<HashMap<CacheKey, bool>>,
    bcrypt_lock: tokio::sync::Mutex<()>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct CacheKey {
    hash: String,
    user: String,
    password: String,
}

impl BasicAuthChecker {
    /// A checker with an empty cache.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Number of cached outcomes (at most [`CACHE_CAPACITY`]).
    pub fn cached(&self) -> usize {
        self.lock_cache().len()
    }

    /// Checks `creds` against `users`. Returns `Ok`, `UnknownUser` or `WrongPassword`.
    pub async fn check(
        self: &Arc<Self>,
        users: &std::collections::BTreeMap<String, String>,
        creds: &BasicCredentials,
    ) -> AuthOutcome {
        let (hash, known) = match users.get(&creds.user) {
            Some(hash) => (hash.clone(), true),
            None => (DUMMY_HASH.to_owned(), false),
        };
        let key = CacheKey {
            hash,
            user: creds.user.clone(),
            password: creds.password.clone(),
        };
        let cached = self.lock_cache().get(&key).copied();
        let ok = match cached {
            Some(ok) => ok,
            None => {
                // Like Go's handler goroutine, the check runs to completion and is cached
                // even when the client gives up (a scrape timeout cancels our request
                // future); otherwise a slow bcrypt would never get cached.
                let this = Arc::clone(self);
                let check = tokio::spawn(async move {
                    let _serialised = this.bcrypt_lock.lock().await;
                    if let Some(ok) = this.lock_cache().get(&key).copied() {
                        return ok;
                    }
                    let password = key.password.clone();
                    let hash = key.hash.clone();
                    let matches = tokio::task::spawn_blocking(move || {
                        bcrypt::verify(password.as_bytes(), &hash).unwrap_or(false)
                    })
                    .await
                    .unwrap_or(false);
                    let ok = known && matches;
                    this.insert(key, ok);
                    ok
                });
                check.await.unwrap_or(false)
            }
        };
        match (known, ok) {
            (true, true) => AuthOutcome::Ok,
            (false, _) => AuthOutcome::UnknownUser,
            (true, false) => AuthOutcome::WrongPassword,
        }
    }

    fn insert(&self, key: CacheKey, ok: bool) {
        let mut cache = self.lock_cache();
        if cache.len() >= CACHE_CAPACITY && !cache.contains_key(&key) {
            let victim = cache.keys().choose(&mut rand::rng()).cloned();
            if let Some(victim) = victim {
                cache.remove(&victim);
            }
        }
        cache.insert(key, ok);
    }

    fn lock_cache(&self) -> std::sync::MutexGuard<'_, HashMap<CacheKey, bool>> {
        // Every update is a single insert/remove: a poisoned map is still consistent.
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Validates a bcrypt hash the way exporter-toolkit does at start (`bcrypt.Cost`): the
/// hash must parse; its cost is returned.
pub fn hash_cost(hash: &str) -> Option<u32> {
    let parts: bcrypt::HashParts = hash.parse().ok()?;
    Some(parts.get_cost())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn parses_like_go() {
        // "prom:s3cret"
        let c = parse_basic("Basic cHJvbTpzM2NyZXQ=").expect("valid header");
        assert_eq!(c.user, "prom");
        assert_eq!(c.password, "s3cret");
        assert_eq!(
            parse_basic("bAsIc cHJvbTpzM2NyZXQ=").map(|c| c.user),
            Some("prom".into())
        );
        // "prom:" -> empty password; "a:b:c" splits at first colon
        assert_eq!(
            parse_basic("Basic cHJvbTo=").map(|c| c.password),
            Some(String::new())
        );
        assert_eq!(
            parse_basic("Basic YTpiOmM=").map(|c| c.password),
            Some("b:c".into())
        );
        assert_eq!(parse_basic("Bearer abc"), None);
        assert_eq!(parse_basic("Basic !!!"), None);
        assert_eq!(parse_basic("Basic cHJvbQ=="), None, "no colon");
    }

    #[test]
    fn base64_matches_rfc4648_vectors() {
        for (input, want) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("prometheus:s3cret", "cHJvbWV0aGV1czpzM2NyZXQ="),
        ] {
            assert_eq!(base64_encode(input.as_bytes()), want, "input: {input:?}");
            assert_eq!(
                base64_decode(&base64_encode(input.as_bytes())),
                Some(input.as_bytes().to_vec())
            );
        }
    }

    #[test]
    fn header_round_trips() {
        for (u, p) in [
            ("prom", "s3cret"),
            ("a", ""),
            ("user", "p:ss:w0rd"),
            ("ü", "ß"),
        ] {
            let parsed = parse_basic(&basic_header(u, p)).expect("valid header");
            assert_eq!((parsed.user.as_str(), parsed.password.as_str()), (u, p));
        }
        assert_eq!(basic_header("prom", "s3cret"), "Basic cHJvbTpzM2NyZXQ=");
    }

    #[test]
    fn dummy_hash_is_cost_10_of_fakepassword() {
        assert_eq!(hash_cost(DUMMY_HASH), Some(10));
        assert!(bcrypt::verify("fakepassword", DUMMY_HASH).expect("valid hash"));
    }

    #[tokio::test]
    async fn outcomes_and_cache() {
        let hash = bcrypt::hash("s3cret", 4).expect("hash");
        let users = BTreeMap::from([("prom".to_owned(), hash)]);
        let checker = BasicAuthChecker::new();
        let creds = |u: &str, p: &str| BasicCredentials {
            user: u.into(),
            password: p.into(),
        };
        assert_eq!(
            checker.check(&users, &creds("prom", "s3cret")).await,
            AuthOutcome::Ok
        );
        assert_eq!(
            checker.check(&users, &creds("prom", "nope")).await,
            AuthOutcome::WrongPassword
        );
        assert_eq!(
            checker.check(&users, &creds("eve", "fakepassword")).await,
            AuthOutcome::UnknownUser,
            "the dummy hash's password must not let an unknown user in"
        );
        assert_eq!(checker.cached(), 3);
        // cached answers are the same
        assert_eq!(
            checker.check(&users, &creds("prom", "s3cret")).await,
            AuthOutcome::Ok
        );
        assert_eq!(checker.cached(), 3);
    }

    #[tokio::test]
    async fn cache_is_bounded() {
        let users = BTreeMap::from([("prom".to_owned(), bcrypt::hash("x", 4).expect("hash"))]);
        let checker = BasicAuthChecker::new();
        for i in 0..(CACHE_CAPACITY + 20) {
            let creds = BasicCredentials {
                user: "prom".into(),
                password: format!("wrong-{i}"),
            };
            assert_eq!(
                checker.check(&users, &creds).await,
                AuthOutcome::WrongPassword
            );
        }
        assert_eq!(checker.cached(), CACHE_CAPACITY);
    }
}

//! HTTP Basic authentication with bcrypt hashes, as exporter-toolkit does it.
//!
//! Faithful to `web/handler.go` of exporter-toolkit:
//! - an unknown user is checked against a fixed dummy hash of cost 10 (so that, as long as
//!   the configured hashes are also cost 10, unknown users cannot be told apart by timing);
//! - outcomes, successes and failures alike, are cached in a bounded cache (100 entries,
//!   random eviction) keyed by hash, user and password;
//! - uncached bcrypt comparisons are serialised by one lock.
//!
//! One difference: a hash whose cost is above [`crate::MAX_VERIFIED_BCRYPT_COST`] is never
//! verified (the request is refused as a wrong password), so that one request for such a
//! user cannot hold the lock, and every other user's uncached check, for hours.
//!
//! bcrypt runs on tokio's blocking pool, never on the async executor.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rand::seq::IteratorRandom;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use super::AuthOutcome;
use crate::web_config::go_bcrypt_cost;

/// bcrypt hash (cost 10) of the string "fakepassword", the hash exporter-toolkit compares
/// unknown users against.
pub(super) const DUMMY_HASH: &str = "$2y$10$QOauhQNbBCuQDKes6eFzPeMqBSjb7Mr5DUmpZ/VcEd00UAV/LDeSi";

/// Capacity of the outcome cache (exporter-toolkit: 100).
pub(super) const CACHE_CAPACITY: usize = 100;

/// Decoded `Authorization: Basic` credentials.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct BasicCredentials {
    /// The user name.
    pub(crate) user: String,
    /// The password, possibly empty.
    pub(crate) password: String,
}

/// Parses an `Authorization` header value the way Go's `Request.BasicAuth` does: the
/// scheme is matched case-insensitively, the rest is standard base64 of `user:password`,
/// split at the first colon.
pub(crate) fn parse_basic(header: &str) -> Option<BasicCredentials> {
    const PREFIX: &str = "basic ";
    if header.len() < PREFIX.len() || !header[..PREFIX.len()].eq_ignore_ascii_case(PREFIX) {
        return None;
    }
    // Strict like Go's `base64.StdEncoding`: padding required, no trailing bits.
    let decoded = STANDARD.decode(&header[PREFIX.len()..]).ok()?;
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
    format!("Basic {}", STANDARD.encode(format!("{user}:{password}")))
}

/// Checks Basic credentials against a user → bcrypt-hash table, with exporter-toolkit's
/// cache and lock. One per listener (the cache outlives config re-reads).
#[derive(Debug, Default)]
pub(crate) struct BasicAuthChecker {
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
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Number of cached outcomes (at most [`CACHE_CAPACITY`]).
    #[cfg(test)]
    pub(crate) fn cached(&self) -> usize {
        self.lock_cache().len()
    }

    /// Whether a check for `user` is refused without bcrypt: a known user whose hash costs
    /// more than [`crate::MAX_VERIFIED_BCRYPT_COST`].
    pub(crate) fn refuses_slow_hash(
        users: &std::collections::BTreeMap<String, String>,
        user: &str,
    ) -> bool {
        users.get(user).is_some_and(|hash| {
            go_bcrypt_cost(hash).is_ok_and(|cost| cost > crate::MAX_VERIFIED_BCRYPT_COST)
        })
    }

    /// Checks `creds` against `users`. Returns `Ok`, `UnknownUser` or `WrongPassword` (also
    /// for a hash too slow to verify, see [`Self::refuses_slow_hash`]).
    pub(crate) async fn check(
        self: &Arc<Self>,
        users: &std::collections::BTreeMap<String, String>,
        creds: &BasicCredentials,
    ) -> AuthOutcome {
        if Self::refuses_slow_hash(users, &creds.user) {
            return AuthOutcome::WrongPassword;
        }
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
                    // An unparsable hash (checked at start) or a cancelled check is a refusal.
                    let matches = super::blocking(move || bcrypt::verify(password, &hash))
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
            ("", "Basic Og=="),
            ("f", "Basic Zjo="),
            ("prometheus", "Basic cHJvbWV0aGV1czo="),
        ] {
            assert_eq!(basic_header(input, ""), want, "input: {input:?}");
        }
        assert_eq!(
            basic_header("prometheus", "s3cret"),
            "Basic cHJvbWV0aGV1czpzM2NyZXQ="
        );
        // Go's StdEncoding is strict: missing padding is not Basic credentials.
        assert_eq!(parse_basic("Basic cHJvbTpzM2NyZXQ"), None);
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
        assert_eq!(crate::web_config::go_bcrypt_cost(DUMMY_HASH), Ok(10));
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

    /// A hash of cost 31 that would take days to verify: a cost-4 hash with its cost field
    /// rewritten (same format, so it passes the start-up check like a real one).
    fn cost_31_hash() -> String {
        let hash = bcrypt::hash("slow", 4).expect("hash");
        format!("$2b$31${}", &hash[7..])
    }

    #[tokio::test]
    async fn a_cost_31_hash_does_not_hold_up_other_users() {
        let slow = cost_31_hash();
        assert_eq!(crate::web_config::go_bcrypt_cost(&slow), Ok(31));
        let users = BTreeMap::from([
            ("slow".to_owned(), slow),
            ("prom".to_owned(), bcrypt::hash("s3cret", 4).expect("hash")),
        ]);
        assert!(BasicAuthChecker::refuses_slow_hash(&users, "slow"));
        assert!(!BasicAuthChecker::refuses_slow_hash(&users, "prom"));
        assert!(!BasicAuthChecker::refuses_slow_hash(&users, "nobody"));
        let checker = BasicAuthChecker::new();
        let creds = |u: &str, p: &str| BasicCredentials {
            user: u.into(),
            password: p.into(),
        };
        let slow_request = {
            let (checker, users) = (checker.clone(), users.clone());
            tokio::spawn(async move { checker.check(&users, &creds("slow", "slow")).await })
        };
        let legit = tokio::time::timeout(
            std::time::Duration::from_secs(5),
            checker.check(&users, &creds("prom", "s3cret")),
        )
        .await
        .expect("the legitimate check answers while the cost-31 request is in progress");
        assert_eq!(legit, AuthOutcome::Ok);
        let slow = tokio::time::timeout(std::time::Duration::from_secs(5), slow_request)
            .await
            .expect("the cost-31 request is refused without bcrypt")
            .expect("no panic");
        assert_eq!(slow, AuthOutcome::WrongPassword);
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

//! exporter-toolkit's start-up checks of a web config. They sit above [`crate::web_config`]
//! (parsing) and [`crate::tls`] (building the TLS config), which know nothing of each other's
//! errors; a failure is a [`crate::Error`] of either area.

use crate::tls;
use crate::web_config::{go_bcrypt_cost, TlsVersion, WebConfig, WebConfigError};
use crate::Error;
use crate::MAX_VERIFIED_BCRYPT_COST;

impl WebConfig {
    /// The checks the toolkit makes once at start-up: bcrypt hashes, then the TLS config
    /// (cert and key readable and matching, `client_auth_type` valid, client CA only with a
    /// client-auth policy, CA file readable), then the HTTP/2 cipher requirement.
    ///
    /// Returns warnings for configs the toolkit accepts but that behave differently here or
    /// can never work (e.g. `min_version` > `max_version`, TLS 1.0/1.1 which rustls cannot
    /// speak, the `RequireClientCert` alias that does not verify); print them loudly.
    pub fn check_at_start(&self) -> Result<Vec<String>, Error> {
        let mut warnings = Vec::new();
        for (user, hash) in &self.basic_auth_users {
            let cost =
                go_bcrypt_cost(hash).map_err(|reason| WebConfigError::InvalidBcryptHash {
                    path: self.path.clone(),
                    user: user.clone(),
                    reason,
                })?;
            if cost > MAX_VERIFIED_BCRYPT_COST {
                warnings.push(format!(
                    "{}: basic_auth_users: `{user}` has a bcrypt hash of cost {cost}, above {MAX_VERIFIED_BCRYPT_COST}, the highest fake-exporter verifies: every request as `{user}` is refused (401, counted as slow_hashes_refused) without checking the password; exporter-toolkit would spend minutes to days on each uncached check while other users' checks wait. Rehash with a cost of at most {MAX_VERIFIED_BCRYPT_COST}",
                    self.path.display()
                ));
            }
        }
        if let Some(tls) = &self.tls_server_config {
            let http2 = self.http_server_config.http2;
            warnings.extend(tls::check_tls(tls, http2)?);
            let has_http2_cipher = tls
                .cipher_suites
                .iter()
                .any(|c| matches!(c.id, 0xc02b | 0xc02f));
            if http2
                && !tls.cipher_suites.is_empty()
                && tls.min_version < TlsVersion::Tls13
                && !has_http2_cipher
            {
                return Err(WebConfigError::MissingHttp2Cipher {
                    path: tls.origin.clone(),
                }
                .into());
            }
        }
        if let Some(bearer) = &self.fake_exporter.bearer_auth {
            if let Err(e) = bearer.read_token_file(&self.path) {
                warnings.push(format!("{e} (checked again on every request)"));
            }
        }
        Ok(warnings)
    }
}
